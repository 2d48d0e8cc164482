"""Severity first (issue 15, friction 8): a report of severe harm, death or a sentinel event tops
the triage queue, marked in words, and alerts at once every patient safety officer covering its
unit and the CQO and CMO (in the app and by e-mail), with each alert recorded."""

import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from andon.platform.models import HeldAuditEntry, Notification
from andon.platform.roles import Role
from andon.safety import services
from andon.safety.models import Escalation

NARRATIVE = "Patient found on the floor by the bed, unresponsive."


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.sev", first_name="Ana", last_name="Alvarez")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.rgh", first_name="Hana", last_name="Kim")
        ward_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh/medicine", username="pso.medicine")
        system_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso.system")
        lakeside_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "lch", username="pso.lch")
        surgery_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh/surgery", username="pso.surgery")
        cqo = make_user(Role.CQO, "", username="cqo")
        cmo = make_user(Role.CMO, "rgh", username="cmo.rgh")
        lakeside_cmo = make_user(Role.CMO, "lch", username="cmo.lch")
        manager = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="um.medicine")

    return People


ALERTED = {"pso.rgh", "pso.medicine", "pso.system", "cqo", "cmo.rgh"}


def report(hospital, user, harm="severe", anonymous=False, **overrides):
    fields = dict(kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
                  occurred_at=timezone.now() - timedelta(hours=2), narrative=NARRATIVE, harm=harm,
                  details={"injury_level": "major", "assisted": "no"}, anonymous=anonymous)
    fields.update(overrides)
    return services.submit_report(user, services.Report(**fields), ())[0]


def test_a_severe_harm_report_alerts_every_officer_of_the_unit_and_the_cqo_and_cmo_at_once(
        hospital, people, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event = report(hospital, people.nurse)
    rows = Escalation.objects.filter(event=event)
    assert {(r.person.username, r.channel) for r in rows} == (
        {(name, "in_app") for name in ALERTED} | {(name, "email") for name in ALERTED})
    assert {r.reason for r in rows} == {"Severe harm"}
    # One e-mail per person alerted, saying what to open and nothing of the report.
    assert sorted(m.to[0] for m in mailoutbox) == sorted(f"{name}@example.org" for name in ALERTED)
    for message in mailoutbox:
        assert message.subject == f"[Andon] Urgent safety report {event.reference}: triage at once"
        assert reverse("safety:event", args=[event.pk]) in message.body
        assert "floor" not in message.body and "Alvarez" not in message.body and "4 West" not in message.body
    # Not also the routine "to triage" notification.
    assert not Notification.objects.filter(title__contains=event.reference).exists()


def test_a_mild_report_is_not_escalated(hospital, people, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event = report(hospital, people.nurse, harm="mild")
    assert not Escalation.objects.exists()
    assert {n.recipient.username for n in Notification.objects.filter(title__contains=event.reference)} == {
        "pso.rgh", "pso.medicine", "pso.system"}
    assert all("Urgent" not in m.subject for m in mailoutbox)


def test_the_alert_is_on_the_home_page_until_the_event_is_opened_and_the_event_page_lists_it(client, hospital, people):
    event = report(hospital, people.nurse, harm="death")
    title = f"Urgent safety report {event.reference}: triage at once"
    for person in (people.officer, people.cqo):
        client.force_login(person)
        home = client.get(reverse("home")).content.decode()
        attention = home.split('id="alerts-heading"')[1].split("</section>")[0]
        assert attention.count(title) == 1 and "Death." in attention
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()  # the CQO opens it
    assert "Who was alerted" in page and "Hana Kim" in page and "E-mail" in page and "In-app alert" in page
    assert title not in client.get(reverse("home")).content.decode()
    client.force_login(people.officer)
    assert title in client.get(reverse("home")).content.decode()  # the officer has not opened it yet
    assert Escalation.objects.get(event=event, person=people.cqo, channel="in_app").read_at is not None


def test_severe_death_and_sentinel_reports_top_the_queue_marked_in_words(client, hospital, people):
    mild = report(hospital, people.nurse, harm="mild", occurred_at=timezone.now() - timedelta(days=2))
    death = report(hospital, people.nurse, harm="death")
    client.force_login(people.officer)
    queue = list(services.triage_queue(people.officer))
    assert queue == [death, mild]
    page = client.get(reverse("safety:triage_queue")).content.decode()
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page.split("<tbody>")[1], re.S)
    assert death.reference in rows[0] and "Death</span>" in rows[0]
    assert mild.reference in rows[1] and "severity-badge" not in rows[1]
    # The API's queue is the same, in the same order.
    answer = client.get("/api/v1/safety/triage-queue").json()
    assert [item["reference"] for item in answer["items"]] == [death.reference, mild.reference]


def test_a_sentinel_event_found_in_triage_is_escalated_then_and_only_once(hospital, people):
    event = report(hospital, people.nurse, harm="moderate")
    assert not Escalation.objects.exists()
    decision = services.Triage(category="fall", harm="moderate", sac_severity="major", sac_probability="remote",
                               sentinel=True, review="rca", reason="Fall with fracture: sentinel")
    event = services.triage(people.officer, event, decision)
    rows = Escalation.objects.filter(event=event)
    assert {r.reason for r in rows} == {"Sentinel event"}
    assert {r.person.username for r in rows} == ALERTED
    count = rows.count()
    services.escalate(event)
    assert Escalation.objects.filter(event=event).count() == count


def test_an_anonymous_severe_report_is_alerted_with_its_reference_only_and_nothing_that_links(
        hospital, people, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event = report(hospital, people.nurse, harm="severe", anonymous=True)
    rows = list(Escalation.objects.filter(event=event))
    assert {r.person.username for r in rows} == ALERTED
    for row in rows:  # the day only, as every time of an anonymous report
        assert (row.at.hour, row.at.minute, row.at.second, row.at.microsecond) == (0, 0, 0, 0)
        assert row.at == event.reported_at
    ids = sorted(r.pk for r in rows)
    assert ids[0] >= 2**32  # random ids, not a sequence
    # No notification row (its id and time would place the report among the named ones); the
    # home page's alert is read from the escalation rows.
    assert not Notification.objects.exists()
    assert len(mailoutbox) == len(ALERTED)
    for message in mailoutbox:
        assert event.reference in message.subject
        for identifier in ("nurse.sev", "Alvarez", "floor", "4 West"):
            assert identifier not in message.subject + message.body
    # Their audit entries are held with the report's, without an actor.
    escalation_type = ContentType.objects.get_for_model(Escalation).pk
    held = [entry.fields for entry in HeldAuditEntry.objects.all() if entry.fields["content_type_id"] == escalation_type]
    assert sorted(int(fields["object_pk"]) for fields in held) == ids
    assert not LogEntry.objects.filter(content_type_id=escalation_type).exists()
