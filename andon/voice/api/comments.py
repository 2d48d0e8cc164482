"""(Being written.) API: comments"""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_voice_api_comments_")
