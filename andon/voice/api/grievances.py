"""(Being written.) API: grievances"""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_voice_api_grievances_")
