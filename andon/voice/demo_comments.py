"""The demo hospital's comment themes, and tags on the demo's survey comments by simple keyword
rules (the survey demo, which runs before this loader, made the comments). With no comments, only
the themes are loaded."""

from pathlib import Path

import yaml
from django.conf import settings

from .comments import load_comment_themes
from .models import CommentTheme, SurveyComment

THEMES_FILE = Path(settings.ANDON_CONTENT_DIR) / "comment-themes" / "default.yaml"
# A theme's words: a comment holding one of them (lowercased) is tagged with the theme.
KEYWORDS = {
    "communication": ("explain", "told", "listen", "inform"),
    "pain": ("pain", "hurt", "sore"),
    "noise": ("noise", "noisy", "loud", "night"),
    "cleanliness": ("clean", "dirty", "bathroom"),
    "food": ("food", "meal", "breakfast", "cold tea"),
    "waiting": ("wait", "call bell", "hours", "slow"),
    "discharge": ("discharge", "home", "went home"),
    "staff-attitude": ("rude", "kind", "respect", "attitude"),
    "medication": ("medication", "medicine", "tablet", "dose"),
    "safety-harm": ("fell", "fall", "injur", "wrong", "burn", "missed dose", "bruise"),
    "praise": ("thank", "wonderful", "excellent", "amazing", "great"),
}
CHUNK = 2000


def themes_for(text: str) -> list[str]:
    lowered = text.lower()
    return [key for key, words in KEYWORDS.items() if any(word in lowered for word in words)]


def load() -> None:
    if not CommentTheme.objects.exists():
        load_comment_themes(yaml.safe_load(THEMES_FILE.read_text()), str(THEMES_FILE))
    themes = dict(CommentTheme.objects.values_list("key", "pk"))
    through = SurveyComment.themes.through
    untagged = SurveyComment.objects.filter(themes__isnull=True).order_by("pk").values_list("pk", "text")
    rows = []
    for pk, text in untagged.iterator(chunk_size=CHUNK):
        rows += [through(surveycomment_id=pk, commenttheme_id=themes[key]) for key in themes_for(text) if key in themes]
        if len(rows) >= CHUNK:
            through.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    through.objects.bulk_create(rows, ignore_conflicts=True)
