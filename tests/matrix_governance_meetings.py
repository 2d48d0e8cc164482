"""The permission matrix's rows of committees and meetings (andon/governance/committees.py,
meetings.py): everyone has "My committees"; committee viewers (CQO, CMO, board members, quality
analysts, administrators) read every committee that is not confidential; managers (CQO,
administrators) change committees; the CQO runs any open committee's meetings. Object cases: a
member reads a confidential committee whatever their role, a non-member never does, and a
committee's secretary runs its meetings whatever their role."""

from datetime import date, timedelta

from django.utils import timezone

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case

ALL = frozenset(Role)
NOBODY = frozenset()
VIEWERS = frozenset({Role.CQO, Role.CMO, Role.BOARD_MEMBER, Role.QUALITY_ANALYST, Role.ADMINISTRATOR})
MANAGERS = frozenset({Role.CQO, Role.ADMINISTRATOR})
RUNNERS = frozenset({Role.CQO})
BASE = "/api/v1/governance"
# Meetings that review this period are offered one proposal by the matrix's own attention source
# (registered when a cell needs it; it offers nothing for any other period).
MATRIX_PERIOD = date(2001, 1, 1)
PROPOSAL_KEY = "matrix.proposals|Matrix proposal"


def _matrix_source(context):
    from andon.platform.reporting import AttentionItem

    return [AttentionItem("matrix.proposals", "Matrix proposal", 1)] if context.first == MATRIX_PERIOD else []


def _with_proposal():
    from andon.platform import reporting

    reporting.register_attention_source("matrix.proposals", "Matrix proposals", _matrix_source)


def _committee(other, confidential=False, member=None, role="member"):
    from andon.governance.models import Committee, Membership, StandingItem
    from andon.platform.models import Organisation

    committee = Committee.objects.create(organisation=Organisation.objects.order_by("pk").first(),
                                         key=f"matrix-{Committee.objects.count() + 1}", name="Matrix committee",
                                         quorum=1, confidential=confidential)
    Membership.objects.create(committee=committee, user=other, role="chair",
                              started_on=timezone.localdate() - timedelta(days=10))
    if member is not None:
        Membership.objects.create(committee=committee, user=member, role=role,
                                  started_on=timezone.localdate() - timedelta(days=10))
    StandingItem.objects.create(committee=committee, title="Safety report", position=1)
    return committee


def _meeting(other, status="planned", last=False, **committee_options):
    from andon.governance.models import AgendaItem, Attendance, Decision, Meeting

    committee = _committee(other, **committee_options)
    now = timezone.now() - timedelta(hours=1)
    if last:  # an earlier meeting whose minutes await approval
        Meeting.objects.create(committee=committee, reference=f"MATRIX-{committee.pk}-0", status="held",
                               starts_at=now - timedelta(days=30), period_first=MATRIX_PERIOD,
                               period_last=MATRIX_PERIOD, created_by=other)
    meeting = Meeting.objects.create(committee=committee, reference=f"MATRIX-{committee.pk}", starts_at=now,
                                     period_first=MATRIX_PERIOD, period_last=now.date(),
                                     status=status, created_by=other)
    AgendaItem.objects.create(meeting=meeting, title="Safety report", kind="standing", position=1)
    Attendance.objects.create(meeting=meeting, user=other, presence="present", voting=True)
    if status == "held":
        Decision.objects.create(meeting=meeting, reference=f"{meeting.reference}/D1", text="Decided",
                                recorded_by=other)
    return meeting


def a_committee(user, other):
    return [_committee(other).pk], {}


def committee_fields(user, other):
    committee = _committee(other)
    return [committee.pk], {"name": "Renamed committee", "quorum": 2, "active": "on", "version": committee.version}


def a_new_member(user, other):
    return [_committee(other).pk], {"user": user.pk, "role": "member",
                                    "started_on": timezone.localdate().isoformat()}


def a_membership(user, other):
    return [_committee(other).memberships.get().pk], {}


def a_standing_item(user, other):
    return [_committee(other).standing_items.get().pk], {}


def a_meeting(user, other):
    return [_meeting(other).pk], {}


def a_held_meeting(user, other):
    return [_meeting(other, "held", last=True).pk], {}


def a_meeting_with_proposals(user, other):
    _with_proposal()
    return [_meeting(other).pk], {"keys": PROPOSAL_KEY}


def an_item(user, other):
    return [_meeting(other).agenda.get().pk], {"notes": "Discussed.", "direction": "up"}


def a_decision(user, other):
    decision = _meeting(other, "held").decisions.get()
    fields = {"title": "Falls bundle", "unit": _unit().pk, "owner": user.pk, "strength": "intermediate",
              "due_date": (timezone.localdate() + timedelta(days=30)).isoformat(), "measure": "Rate"}
    return [decision.pk], {f"action-{name}": value for name, value in fields.items()}


def _unit():
    from andon.platform.models import Unit

    return Unit.objects.get(facility__code="rgh", code="4w")


def new_meeting_fields(user, other):
    today = timezone.localdate()
    return [_committee(other).pk], {"starts_at": f"{today.isoformat()}T14:00", "period_first":
                                    (today - timedelta(days=30)).isoformat(), "period_last": today.isoformat()}


def confidential_as_member(user, other):
    return [_meeting(other, confidential=True, member=user, role="attendee").pk], {}


def confidential_not_member(user, other):
    return [_committee(other, confidential=True).pk], {}


def as_secretary(user, other):
    return [_meeting(other, member=user, role="secretary").pk], {}


def _post(setup):
    return Case(RUNNERS, method="post", setup=setup)


PAGES = {
    "governance:my_committees": Case(ALL),
    "governance:committees": Case(VIEWERS),
    "governance:committee": Case(VIEWERS, setup=a_committee),
    "governance:committee_new": Case(MANAGERS),
    "governance:committee_edit": Case(MANAGERS, method="post", setup=committee_fields),
    "governance:member_add": Case(MANAGERS, method="post", setup=a_new_member),
    "governance:member_people": Case(MANAGERS, setup=lambda user, other: ([_committee(other).pk], {"q": "matrix"})),
    "governance:member_end": Case(MANAGERS, method="post", setup=a_membership),
    "governance:standing_item_add": Case(MANAGERS, method="post", setup=lambda u, o: (
        [_committee(o).pk], {"title": "Measures"})),
    "governance:standing_item_remove": Case(MANAGERS, method="post", setup=a_standing_item),
    "governance:meeting_new": Case(RUNNERS, method="post", setup=new_meeting_fields),
    "governance:meeting": Case(VIEWERS, setup=a_meeting),
    "governance:agenda_build": _post(a_meeting),
    "governance:proposals_add": _post(a_meeting_with_proposals),
    "governance:item_add": Case(RUNNERS, method="post", setup=lambda u, o: ([_meeting(o).pk], {"title": "AOB"})),
    "governance:item_remove": _post(an_item),
    "governance:item_move": _post(an_item),
    "governance:item_notes": _post(an_item),
    "governance:attendance": _post(a_meeting),
    "governance:meeting_held": _post(a_meeting),
    "governance:meeting_cancel": _post(a_meeting),
    "governance:minutes": Case(RUNNERS, method="post", setup=lambda u, o: ([_meeting(o, "held").pk],
                                                                            {"minutes": "Minuted."})),
    "governance:approve_last_minutes": _post(a_held_meeting),
    "governance:decision_add": Case(RUNNERS, method="post", setup=lambda u, o: ([_meeting(o, "held").pk],
                                                                                 {"text": "Decided again"})),
    "governance:decision_action": _post(a_decision),
    "governance:minutes_pdf": Case(VIEWERS, setup=a_meeting),
}

OBJECT_CASES = {
    "governance:meeting (confidential, as a member)": ("governance:meeting", Case(ALL, setup=confidential_as_member)),
    "governance:minutes_pdf (confidential, as a member)": ("governance:minutes_pdf",
                                                          Case(ALL, setup=confidential_as_member)),
    "governance:committee (confidential, not a member)": ("governance:committee",
                                                         Case(NOBODY, setup=confidential_not_member)),
    "governance:agenda_build (as its secretary)": ("governance:agenda_build",
                                                   Case(ALL, method="post", setup=as_secretary)),
}


def committee_id(user, other, hospital):
    return {"committee_id": _committee(other).pk}


def meeting_id(user, other, hospital):
    return {"meeting_id": _meeting(other).pk}


def held_meeting_id(user, other, hospital):
    return {"meeting_id": _meeting(other, "held").pk}


def meeting_with_last_id(user, other, hospital):
    return {"meeting_id": _meeting(other, "held", last=True).pk}


def meeting_with_proposals_id(user, other, hospital):
    _with_proposal()
    return {"meeting_id": _meeting(other).pk}


def decision_id(user, other, hospital):
    return {"decision_id": _meeting(other, "held").decisions.get().pk}


def action_body(hospital):
    from andon.platform.models import User

    return {"title": "Bundle", "unit_id": hospital.unit("rgh/4w").pk,
            "owner_id": User.objects.get(username=f"matrix-{Role.CQO.value}").pk, "measure": "Rate",
            "due_date": (timezone.localdate() + timedelta(days=30)).isoformat()}


def meeting_body(hospital):
    today = timezone.localdate()
    return {"starts_at": timezone.now().isoformat(), "period_first": (today - timedelta(days=30)).isoformat(),
            "period_last": today.isoformat()}


def attendance_body(hospital):
    from andon.platform.models import User

    return {"attendance": [{"user_id": User.objects.get(username="matrix-other").pk, "presence": "present"}]}


API = {
    ("GET", BASE + "/committees"): ApiCase(ALL),
    ("GET", BASE + "/committees/{committee_id}"): ApiCase(VIEWERS, setup=committee_id),
    ("GET", BASE + "/committees/{committee_id}/meetings"): ApiCase(VIEWERS, setup=committee_id),
    ("POST", BASE + "/committees/{committee_id}/meetings"): ApiCase(RUNNERS, setup=committee_id, body=meeting_body),
    ("GET", BASE + "/meetings/{meeting_id}"): ApiCase(VIEWERS, setup=meeting_id),
    ("POST", BASE + "/meetings/{meeting_id}/agenda"): ApiCase(RUNNERS, setup=meeting_id),
    ("POST", BASE + "/meetings/{meeting_id}/agenda/proposals"): ApiCase(RUNNERS, setup=meeting_with_proposals_id,
                                                                        body={"keys": [PROPOSAL_KEY]}),
    ("PUT", BASE + "/meetings/{meeting_id}/attendance"): ApiCase(RUNNERS, setup=meeting_id, body=attendance_body),
    ("POST", BASE + "/meetings/{meeting_id}/held"): ApiCase(RUNNERS, setup=meeting_id),
    ("POST", BASE + "/meetings/{meeting_id}/approve-last-minutes"): ApiCase(RUNNERS, setup=meeting_with_last_id),
    ("GET", BASE + "/meetings/{meeting_id}/decisions"): ApiCase(VIEWERS, setup=meeting_id),
    ("POST", BASE + "/meetings/{meeting_id}/decisions"): ApiCase(RUNNERS, setup=held_meeting_id,
                                                                 body={"text": "Decided"}),
    ("POST", BASE + "/decisions/{decision_id}/actions"): ApiCase(RUNNERS, setup=decision_id, body=action_body),
}
