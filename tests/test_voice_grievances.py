"""Complaints and grievances through the services: the rule, logging (the organisation's day, the
clock's due date over a month end and a DST change), scope (unit managers see their units only,
on pages and the API), classifying, the complaint that comes back, links to safety events."""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from andon.platform import content
from andon.platform.roles import Role
from andon.voice import services
from andon.voice.models.grievances import Channel, ComplaintKind, Grievance, GrievanceCategory, GrievanceStatus

CHICAGO = ZoneInfo("America/Chicago")
CATEGORIES = Path(__file__).resolve().parent.parent / "content" / "grievance-categories"


@pytest.fixture
def categories(db):
    content.load_content([CATEGORIES])
    return {c.key: c for c in GrievanceCategory.objects.all()}


@pytest.fixture
def chicago(settings):
    settings.TIME_ZONE = "America/Chicago"


@pytest.fixture
def relations(make_user):
    return make_user(Role.PATIENT_RELATIONS, "")


def _intake(unit, **fields):
    values = {"channel": Channel.PHONE, "received_at": datetime(2026, 3, 1, 10, 0, tzinfo=CHICAGO),
              "description": "The nurse did not answer the call bell.", "unit_id": unit.pk}
    return services.Intake(**{**values, **fields})


# --- the rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("channel", "resolved", "kind"), [
    (Channel.PHONE, True, ComplaintKind.COMPLAINT), (Channel.PHONE, False, ComplaintKind.GRIEVANCE),
    (Channel.IN_PERSON, True, ComplaintKind.COMPLAINT), (Channel.IN_PERSON, False, ComplaintKind.GRIEVANCE),
    (Channel.LETTER, True, ComplaintKind.GRIEVANCE), (Channel.LETTER, False, ComplaintKind.GRIEVANCE),
    (Channel.EMAIL, True, ComplaintKind.GRIEVANCE), (Channel.EMAIL, False, ComplaintKind.GRIEVANCE),
    (Channel.WEB_FORM, True, ComplaintKind.GRIEVANCE), (Channel.WEB_FORM, False, ComplaintKind.GRIEVANCE),
])
def test_the_rule_for_every_channel_and_resolved_flag(channel, resolved, kind):
    assert services.kind_for(channel, resolved) == kind
    words = services.rule_words(channel, resolved)
    if channel in (Channel.LETTER, Channel.EMAIL, Channel.WEB_FORM):
        assert words.startswith("A written complaint is always a grievance")
    elif resolved:
        assert "stays a complaint" in words
    else:
        assert "not resolved at the time is a grievance" in words


# --- logging ---------------------------------------------------------------------------------

def test_a_complaint_at_2330_local_on_the_1st_is_received_on_the_1st(chicago, hospital, relations):
    ward = hospital.unit("rgh/4w")
    received = datetime(2026, 3, 1, 23, 30, tzinfo=CHICAGO)  # 2026-03-02 05:30 UTC
    g = services.log_complaint(relations, _intake(ward, received_at=received))
    g.refresh_from_db()
    assert g.received_at.astimezone(ZoneInfo("UTC")).date() == date(2026, 3, 2)
    assert g.received_on == date(2026, 3, 1)
    assert g.due_on == date(2026, 3, 8)
    assert (g.kind, g.status) == (ComplaintKind.GRIEVANCE, GrievanceStatus.OPEN)
    assert g.reference == "G-2026-00001"
    assert services.log_complaint(relations, _intake(ward)).reference == "G-2026-00002"


def test_due_seven_calendar_days_later_across_a_month_end_and_a_dst_change(chicago, hospital, relations):
    ward = hospital.unit("rgh/4w")
    month_end = services.log_complaint(relations, _intake(
        ward, channel=Channel.LETTER, received_at=datetime(2026, 1, 28, 9, 0, tzinfo=CHICAGO)))
    assert (month_end.received_on, month_end.due_on) == (date(2026, 1, 28), date(2026, 2, 4))
    # Daylight saving time ends on 2026-11-01 in Chicago (a 25-hour day): still 7 calendar days.
    dst = services.log_complaint(relations, _intake(
        ward, channel=Channel.EMAIL, received_at=datetime(2026, 10, 28, 23, 45, tzinfo=CHICAGO)))
    assert (dst.received_on, dst.due_on) == (date(2026, 10, 28), date(2026, 11, 4))


def test_a_complaint_resolved_at_the_time_is_stored_resolved_without_a_clock(chicago, hospital, relations):
    g = services.log_complaint(relations, _intake(hospital.unit("rgh/4w"), resolved_at_time=True))
    assert (g.kind, g.status, g.resolved_on, g.due_on) == (
        ComplaintKind.COMPLAINT, GrievanceStatus.RESOLVED, date(2026, 3, 1), None)


def test_a_written_complaint_cannot_be_resolved_at_the_time(hospital, relations):
    with pytest.raises(ValidationError) as refused:
        services.log_complaint(relations, _intake(hospital.unit("rgh/4w"), channel=Channel.LETTER,
                                                  resolved_at_time=True))
    assert "always a grievance" in refused.value.message_dict["resolved_at_time"][0]
    assert not Grievance.objects.exists()


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"description": ""}, "description", "Say what"),
    ({"description": "x" * 8001}, "description", "At most 8,000"),
    ({"description": "bad\x00text"}, "description", "control characters"),
    ({"contact_name": "y" * 201}, "contact_name", "At most 200"),
    ({"channel": "pigeon"}, "channel", "Choose how"),
    ({"received_at": datetime(2099, 1, 1, tzinfo=CHICAGO)}, "received_at", "future"),
])
def test_bad_input_is_refused_by_field_and_stores_nothing(hospital, relations, fields, field, words):
    with pytest.raises(ValidationError) as refused:
        services.log_complaint(relations, _intake(hospital.unit("rgh/4w"), **fields))
    assert words in refused.value.message_dict[field][0]
    assert not Grievance.objects.exists()


def test_a_complaint_that_comes_back_becomes_a_grievance_and_says_by_whom(chicago, hospital, relations):
    g = services.log_complaint(relations, _intake(hospital.unit("rgh/4w"), resolved_at_time=True))
    services.mark_unresolved(relations, g, g.version)
    g.refresh_from_db()
    assert (g.kind, g.status, g.converted_by, g.resolved_on) == (
        ComplaintKind.GRIEVANCE, GrievanceStatus.OPEN, relations, None)
    assert g.converted_at is not None
    assert (g.due_on - g.converted_at.astimezone(CHICAGO).date()).days == 7
    with pytest.raises(ValidationError):
        services.mark_unresolved(relations, g, g.version)


# --- scope ------------------------------------------------------------------------------------

def test_a_unit_manager_logs_and_sees_only_their_units(hospital, relations, make_user, client):
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    ours = services.log_complaint(manager, _intake(hospital.unit("rgh/4w")))
    theirs = services.log_complaint(relations, _intake(hospital.unit("lch/2a")))
    with pytest.raises(PermissionDenied):
        services.log_complaint(manager, _intake(hospital.unit("lch/2a")))
    with pytest.raises(PermissionDenied):
        services.log_complaint(manager, _intake(hospital.unit("rgh/4w"), unit_id=None))
    assert list(services.find_grievances(manager)) == [ours]
    assert set(services.find_grievances(relations)) == {ours, theirs}
    with pytest.raises(PermissionDenied):
        services.access_grievance(manager, theirs.pk)
    with pytest.raises(PermissionDenied):
        services.find_grievances(manager, unit=hospital.unit("lch/2a"))
    client.force_login(manager)
    listed = client.get("/voice/grievances/").content.decode()
    assert ours.reference in listed and theirs.reference not in listed
    assert client.get(f"/voice/grievances/{theirs.pk}/").status_code == 403
    assert client.get(f"/voice/grievances/?unit={hospital.unit('lch/2a').pk}").status_code == 200  # not offered
    api = client.get("/api/v1/voice/grievances").json()
    assert [row["reference"] for row in api["items"]] == [ours.reference]
    assert client.get(f"/api/v1/voice/grievances/{theirs.pk}").status_code == 403
    assert client.get(f"/api/v1/voice/grievances?unit_id={hospital.unit('lch/2a').pk}").status_code == 403


def test_the_list_filters_and_sorts_by_due_date(chicago, hospital, relations, categories):
    ward, other = hospital.unit("rgh/4w"), hospital.unit("lch/2a")
    late = services.log_complaint(relations, _intake(ward, received_at=datetime(2026, 2, 1, 9, tzinfo=CHICAGO),
                                                     category_ids=[categories["billing"].pk]))
    soon = services.log_complaint(relations, _intake(other, received_at=datetime(2026, 11, 30, 9, tzinfo=CHICAGO),
                                                     description="Parking fees were wrong"))
    done = services.log_complaint(relations, _intake(ward, resolved_at_time=True))
    assert list(services.find_grievances(relations)) == [late, soon, done]
    assert list(services.find_grievances(relations, overdue=True)) == [late]
    assert list(services.find_grievances(relations, category=categories["billing"].pk)) == [late]
    assert list(services.find_grievances(relations, kind=ComplaintKind.COMPLAINT)) == [done]
    assert list(services.find_grievances(relations, words="parking")) == [soon]
    assert list(services.find_grievances(relations, words=late.reference)) == [late]
    assert list(services.find_grievances(relations, unit=other)) == [soon]
    assert list(services.find_grievances(relations, received_from=date(2026, 11, 1))) == [soon]


# --- classify and safety events ----------------------------------------------------------------

def _event(reporter, unit):
    from andon.safety import services as safety

    report = safety.Report(kind="near_miss", category="fall", unit_id=unit.pk,
                           occurred_at=datetime(2026, 3, 1, 8, tzinfo=CHICAGO), narrative="Nearly fell.",
                           details={"injury_level": "none"})
    return safety.submit_report(reporter, report)[0]


def test_classifying_opens_it_and_a_harm_category_needs_a_linked_event(
        hospital, relations, categories, make_user, safety_taxonomy):
    ward = hospital.unit("rgh/4w")
    g, _ = services.submit_public_complaint(services.PublicComplaint(
        description="My father fell and nobody came.", contact_details="a@example.org"))
    harm = services.Classification(category_ids=[categories["safety"].pk], unit_id=ward.pk,
                                   owner_id=relations.pk)
    with pytest.raises(ValidationError) as refused:
        services.classify(relations, g, harm, g.version)
    assert "alleges harm" in refused.value.message_dict["categories"][0]
    g.refresh_from_db()
    assert g.status == GrievanceStatus.RECEIVED
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    event = _event(officer, ward)
    hidden = _event(make_user(Role.STAFF_REPORTER, "lch/2a"), hospital.unit("lch/2a"))
    with pytest.raises(ValidationError):  # the user may not see events: same as "no such event"
        services.link_event(relations, g, hidden.reference)
    safety_officer_relations = make_user((Role.PATIENT_RELATIONS, ""), (Role.PATIENT_SAFETY_OFFICER, "rgh"))
    with pytest.raises(ValidationError) as outside:
        services.link_event(safety_officer_relations, g, hidden.reference)
    assert "that you may see or reported" in outside.value.message_dict["reference"][0]
    services.link_event(safety_officer_relations, g, event.reference)
    services.classify(relations, g, harm, g.version)
    g.refresh_from_db()
    assert (g.status, g.unit, g.owner, g.kind) == (GrievanceStatus.OPEN, ward, relations, ComplaintKind.GRIEVANCE)
    assert list(g.safety_events.all()) == [event]


def test_opening_an_event_from_a_grievance_carries_the_text_and_unit(
        hospital, make_user, categories, safety_taxonomy):
    pablo = make_user((Role.PATIENT_RELATIONS, ""), (Role.STAFF_REPORTER, "rgh/4w"))
    ward = hospital.unit("rgh/4w")
    g = services.log_complaint(pablo, _intake(ward, description="He slipped on a wet floor near the bed."))
    event = services.open_event_for(pablo, g, kind="incident", category="fall", harm="none",
                                   details={"injury_level": "minor"})
    assert event.unit == ward and event.reporter == pablo
    assert "He slipped on a wet floor" in event.narrative
    assert list(g.safety_events.all()) == [event]
    assert g.reference not in event.narrative  # the event's side shows nothing of the grievance


def test_sections_registered_by_other_subjects_show_on_the_record(hospital, relations, client):
    from andon.voice import grievances

    g = services.log_complaint(relations, _intake(hospital.unit("rgh/4w")))
    before = list(grievances._sections)
    try:
        services.add_grievance_section("A test section", "platform/_pager.html", lambda user, gr: {"n": gr.pk}, 5)
        services.add_grievance_section("Hidden", "platform/_pager.html", lambda user, gr: None, 6)
        shown = services.sections_for(relations, g)
        assert [s["title"] for s in shown][:1] == ["A test section"] and "Hidden" not in [s["title"] for s in shown]
        client.force_login(relations)
        page = client.get(f"/voice/grievances/{g.pk}/").content.decode()
        assert "A test section" in page and "Hidden" not in page
    finally:
        grievances._sections[:] = before
