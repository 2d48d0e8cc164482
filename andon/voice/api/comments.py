"""Patients' comments over the API: the search, one comment, its themes, the themes themselves and
raising a safety event from a comment; under the same policy and services as the pages."""

from datetime import datetime, time
from typing import Annotated

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import AfterValidator
from pydantic import Field as PydanticField

from andon.platform import inputs
from andon.platform.api_kit import Body, Flag, Id, IsoDate, NamedRouter, Pages, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import comments
from ..models import CommentTheme

router = NamedRouter("andon_voice_api_comments_")


def _month(text: str):
    try:
        return inputs.month(text)
    except inputs.InputError as problem:
        raise ValueError(str(problem)) from problem


Month = Annotated[str, PydanticField(max_length=7, description="YYYY-MM"), AfterValidator(_month)]


class CommentThemeOut(Schema):
    id: int
    key: str
    label: str
    description: str
    active: bool = PydanticField(description="Offered for new tags; a retired theme stays where it was put")


class SurveyCommentOut(Schema):
    id: int
    unit_id: int
    month: str = PydanticField(description="The discharge month, YYYY-MM")
    question: str
    text: str
    themes: list[CommentThemeOut]
    safety_event_raised: bool
    safety_event_id: int | None = PydanticField(description="Only for callers who may see the event")


class CommentThemesIn(Body):
    theme_ids: list[Id] = PydanticField(max_length=50, description="The comment's themes from now on")


class CommentThemeIn(Body):
    label: Annotated[str, PydanticField(min_length=1, max_length=comments.THEME_LABEL_MAX)]
    description: Annotated[str, PydanticField(max_length=comments.THEME_DESCRIPTION_MAX)] = ""
    active: Flag = True


class CommentEventIn(Body):
    kind: Annotated[str, PydanticField(max_length=40)] = "incident"
    category: Annotated[str, PydanticField(max_length=60)] = "other"
    harm: Annotated[str, PydanticField(max_length=40)] = "unknown"
    occurred_on: IsoDate | None = PydanticField(None, description="Left out: the first day of the discharge month")
    narrative: Annotated[str, PydanticField(max_length=8000)] | None = PydanticField(
        None, description="Left out: the comment's text")


class CommentEventOut(Schema):
    comment_id: int
    event_id: int
    reference: str


def _out(user, comment) -> dict:
    visible = comments.event_link_visible(user, comment)
    return {"id": comment.pk, "unit_id": comment.unit_id, "month": comment.month.strftime("%Y-%m"),
            "question": comment.question, "text": comment.text, "themes": list(comment.themes.all()),
            "safety_event_raised": comment.safety_event_id is not None,
            "safety_event_id": comment.safety_event_id if visible else None}


@router.get("/comments", response=documented(list[SurveyCommentOut], not_found=True),
            summary="Search comments: every word of q in the text; of unit_id and below it (else the caller's "
                    "units), months, theme, untagged only, question; newest month first")
@requires("voice.view_comments")
@paginate(Pages)
def search_comments(request, q: Annotated[str, PydanticField(max_length=comments.SEARCH_MAX)] = "",
                    unit_id: Id | None = None, month_from: Month | None = None, month_to: Month | None = None,
                    theme_id: Id | None = None, untagged: bool = False,
                    question: Annotated[str, PydanticField(max_length=60)] = ""):
    unit = Unit.objects.filter(pk=unit_id).first() if unit_id else None
    theme = CommentTheme.objects.filter(pk=theme_id).first() if theme_id else None
    if (unit_id and unit is None) or (theme_id and theme is None):
        raise Http404("no such unit or theme")
    filters = comments.CommentFilters(words=q, unit=unit, month_from=month_from,
                                      month_to=month_to, theme=theme, untagged=untagged,
                                      question=question)
    found = comments.search_comments(request.user, filters).prefetch_related("themes", "safety_event__unit")
    return _Outs(request.user, found)


class _Outs:
    """A page of comments turned into answers as ninja's pagination slices it (one page only)."""

    def __init__(self, user, found):
        self.user, self.found = user, found

    def __len__(self):
        return self.found.count()

    def count(self):
        return self.found.count()

    def __getitem__(self, window):
        return [_out(self.user, comment) for comment in self.found[window]]


@router.get("/comments/{comment_id}", response=documented(SurveyCommentOut, not_found=True), summary="One comment")
@requires("voice.view_comments")
def get_comment(request, comment_id: Id):
    return _out(request.user, comments.access_comment(request.user, comment_id))


@router.put("/comments/{comment_id}/themes", response=documented(SurveyCommentOut, not_found=True),
            summary="Set a comment's themes (a retired theme may stay, not be added)")
@requires("voice.tag_comments")
def set_comment_themes(request, comment_id: Id, body: CommentThemesIn):
    comment = comments.access_comment(request.user, comment_id, "voice.tag_comments")
    try:
        return _out(request.user, comments.set_comment_themes(request.user, comment, body.theme_ids))
    except ValidationError as error:
        return refused(error)


@router.post("/comments/{comment_id}/safety-event", response=documented(CommentEventOut, 201, not_found=True),
             summary="Raise a safety event from a comment that describes harm (its text carried over unless a "
                     "narrative is given); refused when one was raised already")
@requires("safety.report")
def raise_event(request, comment_id: Id, body: CommentEventIn):
    from andon.safety import services as safety

    comment = comments.access_comment(request.user, comment_id)
    occurred_on = body.occurred_on or comment.month
    report = safety.Report(kind=body.kind, category=body.category, unit_id=comment.unit_id,
                           occurred_at=timezone.make_aware(datetime.combine(occurred_on, time(12))),
                           narrative=comment.text if body.narrative is None else body.narrative,
                           harm=body.harm if body.kind in safety.KINDS_WITH_HARM else "", person_affected="patient",
                           share_identity=True, location_detail="Told in a patient survey comment")
    try:
        event = comments.raise_safety_event(request.user, comment, report)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"comment_id": comment.pk, "event_id": event.pk, "reference": event.reference})


@router.get("/comment-themes", response=documented(list[CommentThemeOut]), summary="Every comment theme, retired too")
@requires("voice.view_comments")
def list_themes(request):
    return list(CommentTheme.objects.order_by("-active", "label"))


@router.post("/comment-themes", response=documented(CommentThemeOut, 201), summary="Add a theme")
@requires("voice.manage_themes")
def create_theme(request, body: CommentThemeIn):
    try:
        return Status(201, comments.create_theme(request.user, body.label, body.description))
    except ValidationError as error:
        return refused(error)


@router.put("/comment-themes/{theme_id}", response=documented(CommentThemeOut, not_found=True),
            summary="Rename a theme or retire it (active false)")
@requires("voice.manage_themes")
def update_theme(request, theme_id: Id, body: CommentThemeIn):
    theme = comments.access_theme(request.user, theme_id)
    try:
        return comments.update_theme(request.user, theme, label=body.label, description=body.description,
                                     active=body.active)
    except ValidationError as error:
        return refused(error)
