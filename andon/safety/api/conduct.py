"""Conduct concerns over the API: raising one (a concern about a person, not a safety event) and
reading those of one's units, each listed concern recorded as read as on the page."""

from datetime import datetime
from typing import Annotated

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import audit, permissions
from andon.platform.api_kit import Body, Id, MappedQuery, NamedRouter, Pages, documented, refused
from andon.platform.permissions import requires

from .. import services
from ..models import ConductConcern


router = NamedRouter("andon_safety_api_")


class ConcernIn(Body):
    unit_id: Id
    about: Annotated[str, PydanticField(min_length=1, max_length=200)]
    narrative: Annotated[str, PydanticField(min_length=1, max_length=10_000)]


class ConcernOut(Schema):
    id: int
    unit_id: int
    about: str
    raised_at: datetime


class ConcernListOut(Schema):
    id: int
    unit_id: int
    unit: str
    facility: str
    about: str
    narrative: str
    state: str
    raised_by: str
    raised_at: datetime


@router.post("/conduct-concerns", response=documented(ConcernOut, 201),
             summary="Raise a concern about an individual's conduct (not a safety event)")
@requires("safety.raise_conduct_concern")
def conduct_concern(request, payload: ConcernIn):
    try:
        concern = services.raise_conduct_concern(request.user, **payload.model_dump())
    except ValidationError as error:
        return refused(error)
    return Status(201, concern)


@router.get("/conduct-concerns", response=documented(list[ConcernListOut]),
            summary="Conduct concerns in the caller's units, newest first (each one listed is recorded as read)")
@requires("safety.review_conduct_concerns")
@paginate(Pages)
def conduct_concerns(request):
    user = request.user
    units = permissions.units_where(user, "safety.review_conduct_concerns")
    concerns = (ConductConcern.objects.filter(unit__in=units).select_related("raised_by", "unit", "unit__facility")
                .order_by("-raised_at", "-pk"))

    def row(concern):
        # As the page: every concern shown is recorded as read, and only those shown.
        audit.record_read(concern, actor=user, reason="conduct concern list")
        return {"id": concern.pk, "unit_id": concern.unit_id, "unit": concern.unit.name,
                "facility": concern.unit.facility.name, "about": concern.about, "narrative": concern.narrative,
                "state": concern.state, "raised_by": concern.raised_by.get_full_name() or concern.raised_by.username,
                "raised_at": concern.raised_at}

    return MappedQuery(concerns, row)
