"""Committees over the API: those one may read, and one committee with its current members and
standing items (governance.view_committee: members, or view_committees when not confidential)."""

from datetime import date

from ninja import Schema

from andon.platform.api_kit import Id, NamedRouter, documented
from andon.platform.permissions import requires

from .. import committees as services

router = NamedRouter("andon_governance_api_committees_")


class CommitteeOut(Schema):
    id: int
    key: str
    name: str
    quorum: int
    reports_to_id: int | None
    meets_every: str
    confidential: bool
    active: bool


class MemberOut(Schema):
    user_id: int
    name: str
    role: str
    started_on: date
    ended_on: date | None


class CommitteeDetailOut(CommitteeOut):
    terms_of_reference: str
    members: list[MemberOut]
    standing_items: list[str]


@router.get("/committees", response=documented(list[CommitteeOut]),
            summary="The committees one may read: those one sits on and, for committee viewers, every one that is "
                    "not confidential")
@requires("governance.view_own_committees")
def committee_list(request):
    return list(services.visible_committees(request.user)[:500])


@router.get("/committees/{committee_id}", response=documented(CommitteeDetailOut, not_found=True),
            summary="A committee: terms of reference, quorum, reporting line, current members, standing items")
@requires("governance.view_own_committees")
def committee_read(request, committee_id: Id):
    committee = services.access_committee(request.user, committee_id)
    fields = CommitteeOut.model_validate(committee, from_attributes=True).model_dump()
    return {**fields, "terms_of_reference": committee.terms_of_reference,
            "members": [{"user_id": m.user_id, "name": m.user.get_full_name() or m.user.username, "role": m.role,
                         "started_on": m.started_on, "ended_on": m.ended_on}
                        for m in services.current_members(committee)],
            "standing_items": [s.title for s in committee.standing_items.all()]}
