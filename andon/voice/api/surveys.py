"""(Being written.) API: surveys"""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_voice_api_surveys_")
