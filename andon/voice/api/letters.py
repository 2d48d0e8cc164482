"""(Being written.) API: letters"""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_voice_api_letters_")
