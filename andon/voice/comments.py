"""Patients' free-text survey comments: searched by words, unit, month, theme and question; tagged
by theme (themes are data the patient experience lead keeps); a comment that describes harm raised
as a safety event in one step, the comment then linking to it.

Search: every word typed must be in the comment. On PostgreSQL the words are matched as prefixes
against `to_tsvector('simple', text)` under a GIN index (migration 0002_comment_words_index): the 'simple'
configuration lowercases and does not stem, so "nurse" finds "nurses" and "Nurse" but never a
different word, and the index answers a word among 300,000 comments without reading them. SQLite
(the default install) uses LIKE per word (case-insensitive for ASCII). Accents are matched as
written on both. What was typed is cut into words of letters and digits, so no query syntax
reaches the engine; each result's text is escaped before the words are marked.
"""

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Count
from django.shortcuts import get_object_or_404
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from andon.platform import audit, content, history, navigation, permissions
from andon.platform.models import Unit

from .models import CommentTheme, SurveyComment

__all__ = [
    "CommentFilters", "access_comment", "access_theme", "add_themes_to", "create_theme", "highlighted",
    "load_comment_themes", "offered_themes", "raise_safety_event", "search_comments", "set_comment_themes",
    "theme_counts", "update_theme", "comment_words", "event_link_visible",
]

MAX_WORDS = 8
SEARCH_MAX = 200  # characters of a search box
THEME_LABEL_MAX = 120
THEME_DESCRIPTION_MAX = 400
TAG_MANY_MAX = 200  # comments tagged by one form
SNIPPET = 600  # characters of a long comment shown in a list
_WORD = re.compile(r"\w+", re.UNICODE)


# --- themes ---------------------------------------------------------------------------------------

def load_comment_themes(data, source: str) -> None:
    """content/comment-themes/*.yaml: {themes: [{key, label, description}]}. A theme already there
    keeps the label the lead gave it; a new key is added. Nothing is stored when an entry is wrong."""
    themes = data.get("themes") if isinstance(data, dict) else None
    if not isinstance(themes, list) or not themes:
        raise content.ContentError(f"{source}: themes: a list of themes is needed")
    checked = []
    for i, entry in enumerate(themes):
        where = f"{source}: themes[{i}]"
        if not isinstance(entry, dict):
            raise content.ContentError(f"{where}: a mapping with key and label is needed")
        key, label = str(entry.get("key") or ""), str(entry.get("label") or "").strip()
        if not key or slugify(key) != key or len(key) > 60:
            raise content.ContentError(f"{where}.key: {key!r} is not a short slug (letters, digits, hyphens)")
        if not label or len(label) > THEME_LABEL_MAX:
            raise content.ContentError(f"{where}.label: 1 to {THEME_LABEL_MAX} characters are needed")
        description = str(entry.get("description") or "")
        if len(description) > THEME_DESCRIPTION_MAX:
            raise content.ContentError(f"{where}.description: at most {THEME_DESCRIPTION_MAX} characters")
        checked.append((key, label, description))
    for key, label, description in checked:
        CommentTheme.objects.get_or_create(key=key, defaults={"label": label, "description": description})


def offered_themes():
    """The themes offered for new tags: the active ones."""
    return CommentTheme.objects.filter(active=True).order_by("label")


def access_theme(user, theme_id, capability: str = "voice.manage_themes") -> CommentTheme:
    permissions.check(user, capability)  # themes belong to the whole organisation: no unit to check
    return get_object_or_404(CommentTheme, pk=theme_id)


def _checked_label(label: str, description: str, *, other_than=None) -> tuple[str, str]:
    label, description = (label or "").strip(), (description or "").strip()
    errors = {}
    if not label:
        errors["label"] = "Name the theme."
    elif len(label) > THEME_LABEL_MAX:
        errors["label"] = f"At most {THEME_LABEL_MAX} characters ({len(label)} given)."
    elif "\x00" in label:
        errors["label"] = "The name holds a NUL character."
    elif CommentTheme.objects.filter(label__iexact=label).exclude(pk=other_than).exists():
        errors["label"] = f"A theme named {label!r} exists already."
    if len(description) > THEME_DESCRIPTION_MAX:
        errors["description"] = f"At most {THEME_DESCRIPTION_MAX} characters ({len(description)} given)."
    elif "\x00" in description:
        errors["description"] = "The description holds a NUL character."
    if errors:
        raise ValidationError(errors)
    return label, description


@audit.changes_by_user
@transaction.atomic
def create_theme(user, label: str, description: str = "") -> CommentTheme:
    permissions.check(user, "voice.manage_themes")
    label, description = _checked_label(label, description)
    base = slugify(label)[:50] or "theme"
    key, n = base, 1
    while CommentTheme.objects.filter(key=key).exists():
        n += 1
        key = f"{base}-{n}"
    return CommentTheme.objects.create(key=key, label=label, description=description)


@audit.changes_by_user
@transaction.atomic
def update_theme(user, theme: CommentTheme, *, label: str, description: str = "", active: bool = True) -> CommentTheme:
    """Rename a theme or retire it: a retired theme stays on the comments tagged with it and is
    no longer offered for new tags. The key never changes (content and links name it)."""
    permissions.check(user, "voice.manage_themes")
    theme = CommentTheme.objects.select_for_update().get(pk=theme.pk)
    theme.label, theme.description = _checked_label(label, description, other_than=theme.pk)
    theme.active = bool(active)
    theme.save()
    return theme


# --- search ---------------------------------------------------------------------------------------

@dataclass
class CommentFilters:
    words: str = ""
    unit: Unit | None = None
    month_from: date | None = None
    month_to: date | None = None
    theme: CommentTheme | None = None
    untagged: bool = False
    question: str = ""


def comment_words(text: str) -> list[str]:
    """The words of what was typed (letters and digits), at most MAX_WORDS."""
    return _WORD.findall((text or "")[:SEARCH_MAX])[:MAX_WORDS]


def _matching(queryset, words):
    if not words:
        return queryset
    if connection.vendor == "postgresql":
        # Each word is letters and digits only (comment_words), so "w:*" joined by & is a valid
        # tsquery that holds nothing the person typed as syntax. The expression is the index's.
        query = " & ".join(f"{word.lower()}:*" for word in words)
        return queryset.filter(RawSQL("to_tsvector('simple'::regconfig, voice_surveycomment.text) @@ "
                                      "to_tsquery('simple'::regconfig, %s)", [query], output_field=BooleanField()))
    for word in words:
        queryset = queryset.filter(text__icontains=word)
    return queryset


def search_comments(user, filters: CommentFilters):
    """The comments the user may read that match every filter, newest month first: a queryset, so
    the page and the API take a page of it. A unit asked for outside the grants is refused."""
    scope = permissions.scope_for(user, "voice.view_comments", unit=filters.unit)
    found = SurveyComment.objects.all()
    if not scope.everything or scope.unit is not None:
        found = found.filter(unit__in=scope.units.order_by().values("pk"))
    if filters.month_from:
        found = found.filter(month__gte=filters.month_from.replace(day=1))
    if filters.month_to:
        found = found.filter(month__lte=filters.month_to.replace(day=1))
    if filters.theme is not None:
        found = found.filter(themes=filters.theme)
    if filters.untagged:
        found = found.filter(themes__isnull=True)
    if filters.question:
        found = found.filter(question=filters.question)
    found = _matching(found, comment_words(filters.words))
    return found.select_related("unit").order_by("-month", "-pk")


def highlighted(text: str, words) -> str:
    """The comment escaped, the words typed marked (<mark>); a long comment cut around the first
    match. The marks are added between escaped pieces, so the text can never put markup on the page."""
    text = text or ""
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
    first = pattern.search(text) if pattern else None
    start = max(0, (first.start() if first else 0) - 100) if len(text) > SNIPPET else 0
    shown = text[start:start + SNIPPET]
    pieces, at = [], 0
    for match in (pattern.finditer(shown) if pattern else ()):
        pieces += [escape(shown[at:match.start()]), f"<mark>{escape(match.group())}</mark>"]
        at = match.end()
    pieces.append(escape(shown[at:]))
    prefix, suffix = ("…" if start else ""), ("…" if start + SNIPPET < len(text) else "")
    return mark_safe(prefix + "".join(pieces) + suffix)


def theme_counts(user, unit: Unit | None, month_from: date | None = None, month_to: date | None = None):
    """[(theme, comments tagged with it)] of the unit (and below) for the months, most first, and
    the number of comments in all: two aggregate queries, whatever the number of comments."""
    found = search_comments(user, CommentFilters(unit=unit, month_from=month_from, month_to=month_to)).order_by()
    total = found.count()
    counts = (CommentTheme.objects.filter(comments__in=found.values("pk"))
              .annotate(tagged=Count("comments")).order_by("-tagged", "label"))
    return [(theme, theme.tagged) for theme in counts], total


# --- one comment: tags and the safety event -------------------------------------------------------

def access_comment(user, comment_id, capability: str = "voice.view_comments") -> SurveyComment:
    return permissions.fetch_checked(user, capability, SurveyComment.objects.select_related("unit"), pk=comment_id)


def _checked_themes(theme_ids, kept=()) -> list[CommentTheme]:
    """The themes named, each existing and offered (a retired theme may stay where it was)."""
    wanted = {int(pk) for pk in theme_ids}
    themes = list(CommentTheme.objects.filter(pk__in=wanted))
    unknown = wanted - {t.pk for t in themes}
    if unknown:
        raise ValidationError({"themes": f"No theme with id {', '.join(map(str, sorted(unknown)))}."})
    retired = [t.label for t in themes if not t.active and t.pk not in set(kept)]
    if retired:
        raise ValidationError({"themes": f"Retired, no longer used for new tags: {', '.join(retired)}."})
    return themes


@audit.changes_by_user
@transaction.atomic
def set_comment_themes(user, comment: SurveyComment, theme_ids) -> SurveyComment:
    """The comment's themes become `theme_ids` (the audit trail keeps what was added and removed)."""
    permissions.check(user, "voice.tag_comments", comment)
    comment = SurveyComment.objects.select_for_update().get(pk=comment.pk)
    kept = set(comment.themes.values_list("pk", flat=True))
    comment.themes.set(_checked_themes(theme_ids, kept))
    return comment


@audit.changes_by_user
@transaction.atomic
def add_themes_to(user, comment_ids, add=(), remove=()) -> int:
    """Tag many comments at once: `add` themes to each and `remove` others; every comment must be
    one the user may tag, or nothing changes. Returns how many comments were tagged."""
    ids = sorted({int(pk) for pk in comment_ids})
    if not ids:
        raise ValidationError({"comments": "Tick the comments to tag."})
    if len(ids) > TAG_MANY_MAX:
        raise ValidationError({"comments": f"At most {TAG_MANY_MAX} comments at once ({len(ids)} ticked)."})
    if not add and not remove:
        raise ValidationError({"themes": "Choose a theme to add or remove."})
    comments = list(SurveyComment.objects.select_related("unit").select_for_update().filter(pk__in=ids))
    if len(comments) != len(ids):
        raise ValidationError({"comments": "A ticked comment no longer exists."})
    for comment in comments:
        permissions.check(user, "voice.tag_comments", comment)
    adding, removing = _checked_themes(add), [int(pk) for pk in remove]
    for comment in comments:  # one by one, so each comment's history names its own change
        comment.themes.add(*adding)
        comment.themes.remove(*removing)
    return len(comments)


def event_link_visible(user, comment: SurveyComment) -> bool:
    """Whether the user may follow the comment's link to its safety event (others are told only
    that an event was raised)."""
    return comment.safety_event_id is not None and permissions.can(user, "safety.view_event", comment.safety_event)


@audit.changes_by_user
@transaction.atomic
def raise_safety_event(user, comment: SurveyComment, report):
    """Report the harm a comment describes as a safety event (`report`: a safety.services.Report,
    its narrative the comment's text as the reporter edited it) and link the comment to it. A
    comment raised already is refused, naming the event that was raised."""
    from andon.safety import services as safety

    permissions.check(user, "voice.view_comments", comment)
    permissions.check(user, "safety.report")
    comment = SurveyComment.objects.select_for_update().get(pk=comment.pk)
    if comment.safety_event_id:
        raise ValidationError({"__all__": "A safety event was raised from this comment already."})
    event, _ = safety.submit_report(user, report)
    comment.safety_event = event
    comment.save(update_fields=["safety_event"])
    return event


def connect() -> None:
    """Registries of this subject, from ready()."""
    from andon.platform import demo
    from andon.platform.navigation import NavEntry

    from . import demo_comments

    audit.register(SurveyComment, include_fields=["themes", "safety_event"], m2m_fields={"themes"})
    audit.register(CommentTheme)
    # The event's reference is shown only to those who may see the event (the page says "a safety
    # event was raised" to the others), so the history leaves the link out.
    history.register(SurveyComment, labels={"themes": "Themes"}, hidden={"safety_event"})
    history.register(CommentTheme, labels={"active": "In use"})
    content.register_loader("comment-themes", load_comment_themes)
    navigation.add(NavEntry("Patient comments", "voice:comments", "voice.view_comments", "chat-quote"))
    navigation.add(NavEntry("Comment themes", "voice:comment_themes", "voice.manage_themes", "tags"))
    demo.register_demo_loader(demo_comments.load)
