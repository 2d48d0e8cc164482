"""Meetings: the lifecycle (planned, held, minutes approved at the next meeting, cancelled), the
agenda built from standing items, the last minutes and the modules' proposals (counts only for a
confidential committee), attendance and quorum, decisions refused without the quorum, actions
opened from decisions, the minutes PDF (its download audited), and the API."""

from datetime import datetime, time, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from andon.governance import committees, meetings
from andon.governance.models import AgendaKind, MeetingStatus
from andon.platform import reporting, services as platform_services
from andon.platform.roles import Role


@pytest.fixture
def attention():
    """A source of our own; the registry is restored afterwards."""
    saved = dict(reporting._ATTENTION)

    def falls(context):
        return [reporting.AttentionItem("test.falls", f"3 falls with harm from {context.first:%Y-%m-%d}", 3,
                                        detail="All on 4 West", url="/safety/events/"),
                reporting.AttentionItem("test.falls", "1 RCA overdue", 1, detail="Fall on 4 West")]

    reporting._ATTENTION.clear()
    reporting.register_attention_source("test.falls", "Falls", falls)
    yield
    reporting._ATTENTION.clear()
    reporting._ATTENTION.update(saved)


@pytest.fixture
def people(make_user):
    return {"cqo": make_user(Role.CQO), "secretary": make_user(Role.QUALITY_ANALYST),
            "a": make_user(Role.PATIENT_SAFETY_OFFICER), "b": make_user(Role.RISK_MANAGER),
            "guest": make_user(Role.UNIT_MANAGER, "rgh/medicine"), "nurse": make_user(Role.STAFF_REPORTER, "rgh/4w")}


def _committee(hospital, people, confidential=False):
    start = timezone.localdate() - timedelta(days=100)
    committee = committees.save_committee(people["cqo"], organisation=hospital.organisation, name="QPSC", key="qpsc",
                                          quorum=3, confidential=confidential)
    for who, role in (("cqo", "chair"), ("secretary", "secretary"), ("a", "member"), ("b", "member")):
        committees.add_member(people["cqo"], committee, people[who], role, started_on=start)
    committees.add_standing_item(people["cqo"], committee, "Safety report")
    return committee


def started_earlier_today():
    """An hour ago, or midnight when the day is younger than an hour: a meeting that has begun
    (one may be marked held from 12 hours before it starts) and that is still today's, whatever
    the time the suite runs."""
    midnight = datetime.combine(timezone.localdate(), time(0), timezone.get_current_timezone())
    return max(timezone.now() - timedelta(hours=1), midnight)


def _plan(user, committee, days_ago):
    when = timezone.localtime(started_earlier_today()) - timedelta(days=days_ago)
    first = (when.date().replace(day=1) - timedelta(days=1)).replace(day=1)
    return meetings.plan_meeting(user, committee, starts_at=when, period_first=first,
                                 period_last=when.date().replace(day=1) - timedelta(days=1))


def _hold(user, meeting, present):
    meetings.record_attendance(user, meeting, {p: "present" for p in present})
    return meetings.mark_held(user, meeting)


def test_planning_refusals_name_the_field(hospital, people):
    committee = _committee(hospital, people)
    with pytest.raises(PermissionDenied):
        _plan(people["a"], committee, 0)  # a member, not the chair or secretary
    with pytest.raises(ValidationError) as refused:
        meetings.plan_meeting(people["secretary"], committee, starts_at=None, period_first=timezone.localdate(),
                              period_last=timezone.localdate() - timedelta(days=1))
    assert set(refused.value.message_dict) == {"starts_at", "period_last"}
    one, two = _plan(people["secretary"], committee, 1), _plan(people["secretary"], committee, 0)
    assert one.reference != two.reference and one.reference.startswith("QPSC-")


def test_agenda_from_standing_items_and_picked_proposals(hospital, people, attention):
    meeting = _plan(people["secretary"], _committee(hospital, people), 0)
    meetings.build_agenda(people["secretary"], meeting)
    meetings.build_agenda(people["secretary"], meeting)  # twice adds nothing twice
    assert [(i.kind, i.title) for i in meeting.agenda.all()] == [("standing", "Safety report")]
    offered, problems = meetings.proposals(people["secretary"], meeting)
    assert problems == [] and [(p.title, p.count, p.detail) for p in offered] == [
        (f"3 falls with harm from {meeting.period_first:%Y-%m-%d}", 3, "All on 4 West"),
        ("1 RCA overdue", 1, "Fall on 4 West")]
    with pytest.raises(ValidationError) as refused:
        meetings.add_proposals(people["secretary"], meeting, ["test.falls|invented"])
    assert "keys" in refused.value.message_dict
    [added] = meetings.add_proposals(people["secretary"], meeting, [offered[1].key])
    assert (added.kind, added.source, added.count, added.detail) == ("proposed", "test.falls", 1, "Fall on 4 West")
    assert [p.title for p in meetings.proposals(people["secretary"], meeting)[0]] == [offered[0].title]
    extra = meetings.add_item(people["secretary"], meeting, "Visit of the surveyors")
    meetings.move_item(people["secretary"], extra, up=True)
    assert [i.title for i in meeting.agenda.all()] == ["Safety report", "Visit of the surveyors", "1 RCA overdue"]
    meetings.remove_item(people["secretary"], extra)
    assert meeting.agenda.count() == 2


def test_a_confidential_committee_keeps_title_and_count_only(hospital, people, attention):
    meeting = _plan(people["secretary"], _committee(hospital, people, confidential=True), 0)
    offered, _ = meetings.proposals(people["secretary"], meeting)
    [item] = meetings.add_proposals(people["secretary"], meeting, [offered[0].key])
    assert (item.count, item.detail, item.url) == (3, "", "")


def test_quorum_decisions_and_actions(hospital, people):
    meeting = _plan(people["secretary"], _committee(hospital, people), 0)
    meetings.build_agenda(people["secretary"], meeting)
    # Two voting members and a guest present: the quorum of three is not met.
    count = meetings.record_attendance(people["secretary"], meeting, {
        people["cqo"]: "present", people["secretary"]: "present", people["guest"]: "present",
        people["a"]: "apologies"})
    assert (count.present, count.required, count.met) == (2, 3, False)
    with pytest.raises(ValidationError) as early:
        meetings.record_decision(people["secretary"], meeting, "Adopt the falls bundle")
    assert "held" in early.value.message_dict["text"][0]
    meetings.mark_held(people["secretary"], meeting)
    with pytest.raises(ValidationError) as no_quorum:
        meetings.record_decision(people["secretary"], meeting, "Adopt the falls bundle")
    assert "quorum is not met (2 voting members present, 3 needed)" in no_quorum.value.message_dict["text"][0]
    assert meetings.record_attendance(people["secretary"], meeting, {people["a"]: "present"}).met
    decision = meetings.record_decision(people["secretary"], meeting, "Adopt the falls bundle",
                                        meeting.agenda.first())
    assert decision.reference == f"{meeting.reference}/D1"
    with pytest.raises(ValidationError) as empty:
        meetings.record_decision(people["secretary"], meeting, "  ")
    assert "text" in empty.value.message_dict

    action = meetings.open_decision_action(
        people["secretary"], decision, unit=hospital.unit("rgh/medicine"), owner=people["guest"],
        title="Falls bundle on Medicine", due_date=timezone.localdate() + timedelta(days=30),
        measure="Falls per 1,000 bed days")
    assert action.source == decision and decision.reference in action.source_label
    assert [a.title for _, opened in meetings.decisions_with_actions(meeting, people["secretary"]) for a in opened] \
        == ["Falls bundle on Medicine"]
    work = platform_services.work_for(people["guest"])
    assert any(item.title.endswith("Falls bundle on Medicine") for item in work)
    with pytest.raises(PermissionDenied):
        meetings.open_decision_action(people["a"], decision, unit=hospital.unit("rgh/medicine"),
                                      owner=people["guest"], title="x", due_date=action.due_date, measure="m")


def test_minutes_approved_at_the_next_meeting(hospital, people):
    committee = _committee(hospital, people)
    voting = [people[k] for k in ("cqo", "secretary", "a")]
    first = _plan(people["secretary"], committee, 35)
    _hold(people["secretary"], first, voting)
    meetings.write_minutes(people["secretary"], first, "Reviewed the safety report.")
    second = _plan(people["secretary"], committee, 0)
    work = [item.title for item in meetings.meetings_work(people["secretary"])]
    assert f"Minutes awaiting approval: {first.reference}" in work
    assert any(title.startswith("Agenda to build: QPSC") for title in work)
    meetings.build_agenda(people["secretary"], second)
    assert second.agenda.first().kind == AgendaKind.MINUTES
    with pytest.raises(ValidationError) as not_held:
        meetings.approve_previous_minutes(people["secretary"], second)
    assert "minutes_approved_at" in not_held.value.message_dict
    _hold(people["secretary"], second, voting)
    with pytest.raises(ValidationError) as no_earlier:
        meetings.approve_previous_minutes(people["secretary"], first)
    assert "no earlier meeting" in no_earlier.value.message_dict["minutes_approved_at"][0]
    meetings.approve_previous_minutes(people["secretary"], second)
    first.refresh_from_db()
    assert (first.status, first.minutes_approved_at, first.minutes_approved_on) == (
        MeetingStatus.MINUTES_APPROVED, second, second.starts_at.date())
    assert [d.text for d in second.decisions.all()] == [f"The minutes of {first.reference} are approved as a true "
                                                        "record."]
    with pytest.raises(ValidationError) as locked:
        meetings.write_minutes(people["secretary"], first, "Changed afterwards")
    assert "no longer changes" in locked.value.message_dict["minutes"][0]
    with pytest.raises(ValidationError):
        meetings.cancel_meeting(people["secretary"], second)  # held, not planned


def test_minutes_pdf_is_audited_and_read_by_members_only(hospital, people):
    meeting = _plan(people["secretary"], _committee(hospital, people, confidential=True), 0)
    with pytest.raises(PermissionDenied):
        meetings.minutes_pdf(people["nurse"], meeting)
    document = meetings.minutes_pdf(people["a"], meeting)
    assert document.startswith(b"%PDF")
    read = LogEntry.objects.filter(object_pk=str(meeting.pk), action=LogEntry.Action.ACCESS).get()
    assert read.actor == people["a"]


def test_api_meetings_and_decisions(hospital, people, client, attention):
    committee = _committee(hospital, people)
    client.force_login(people["secretary"])
    when = (timezone.now() - timedelta(hours=1)).isoformat()
    today = timezone.localdate()
    created = client.post(f"/api/v1/governance/committees/{committee.pk}/meetings", {
        "starts_at": when, "period_first": (today - timedelta(days=30)).isoformat(),
        "period_last": today.isoformat()}, content_type="application/json")
    assert created.status_code == 201, created.content
    meeting_id = created.json()["id"]
    built = client.post(f"/api/v1/governance/meetings/{meeting_id}/agenda", {}, content_type="application/json")
    assert [i["title"] for i in built.json()["agenda"]] == ["Safety report"]
    key = built.json()["proposals"][1]["key"]
    assert client.post(f"/api/v1/governance/meetings/{meeting_id}/agenda/proposals", {"keys": [key]},
                       content_type="application/json").status_code == 201
    quorum = client.put(f"/api/v1/governance/meetings/{meeting_id}/attendance", {"attendance": [
        {"user_id": people[k].pk, "presence": "present"} for k in ("cqo", "secretary", "a")]},
        content_type="application/json")
    assert quorum.json() == {"present": 3, "required": 3, "met": True}
    assert client.post(f"/api/v1/governance/meetings/{meeting_id}/held", {},
                       content_type="application/json").json()["status"] == "held"
    decided = client.post(f"/api/v1/governance/meetings/{meeting_id}/decisions", {"text": "Adopt the bundle"},
                          content_type="application/json")
    assert decided.status_code == 201
    action = client.post(f"/api/v1/governance/decisions/{decided.json()['id']}/actions", {
        "title": "Bundle", "unit_id": hospital.unit("rgh/medicine").pk, "owner_id": people["guest"].pk,
        "due_date": (today + timedelta(days=20)).isoformat(), "measure": "Falls rate"},
        content_type="application/json")
    assert action.status_code == 201, action.content
    detail = client.get(f"/api/v1/governance/meetings/{meeting_id}").json()
    assert [i["title"] for i in detail["agenda"]] == ["Safety report", "1 RCA overdue"]
    assert detail["quorum"]["met"] and [d["text"] for d in detail["decisions"]] == ["Adopt the bundle"]
    client.force_login(people["nurse"])
    assert client.get(f"/api/v1/governance/meetings/{meeting_id}").status_code == 403


def test_the_meeting_page(hospital, people, client, attention):
    committee = _committee(hospital, people)
    meeting = _plan(people["secretary"], committee, 0)
    _hold(people["secretary"], meeting, [people[k] for k in ("cqo", "secretary", "a")])
    decision = meetings.record_decision(people["secretary"], meeting, "Adopt the falls bundle")
    client.force_login(people["secretary"])
    page = client.get(f"/governance/meetings/{meeting.pk}/", {"action_for": decision.pk}).content.decode()
    assert 'id="action"' in page and "Open an action from " + decision.reference in page
    assert "3 falls with harm" in page and "3 voting members present; the quorum is 3: met." in page
    client.force_login(people["a"])  # a member reads, without the forms
    page = client.get(f"/governance/meetings/{meeting.pk}/").content.decode()
    assert "Adopt the falls bundle" in page and "Record the decision" not in page and "3 falls" not in page
