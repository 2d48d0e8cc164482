"""(Being written.) API: committee"""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_voice_api_committee_")
