"""The patient safety evaluation system (PSES) boundary (DOMAIN.md §9): every report enters the
PSES when it is reported or imported; a patient safety officer may take one out ("drop-out"),
with the reason kept and audited, after which it is no longer patient safety work product."""

import csv
import io
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.platform.roles import Role
from andon.safety import analysis, imports, services
from andon.safety.models import SafetyEvent


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.pses")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.pses", first_name="Pat",
                            last_name="Okafor")
        lakeside_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "lch", username="pso.lakeside")
        manager = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="um.pses")
        cqo = make_user(Role.CQO, "", username="cqo.pses")

    return People


def submit(hospital, user, **overrides):
    fields = dict(kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
                  occurred_at=timezone.now() - timedelta(hours=3), narrative="Patient found on the floor.",
                  harm="mild", details={"injury_level": "minor"})
    fields.update(overrides)
    return services.submit_report(user, services.Report(**fields))[0]


def test_a_named_report_enters_the_pses_when_it_is_reported(hospital, people):
    event = submit(hospital, people.nurse)
    event.refresh_from_db()
    assert event.pses_entered_at == event.reported_at
    assert event.is_work_product and event.pses_removed_at is None


def test_an_anonymous_report_enters_on_its_day_only(hospital, people):
    """An exact time could be matched against sign-ins; the PSES entry keeps the day, as the
    report's own time does."""
    event = submit(hospital, people.nurse, anonymous=True)
    event.refresh_from_db()
    assert event.pses_entered_at == event.reported_at
    entered = event.pses_entered_at
    assert (entered.hour, entered.minute, entered.second, entered.microsecond) == (0, 0, 0, 0)


def test_an_imported_event_enters_when_it_is_imported(hospital, people):
    before = timezone.now()
    outcome = imports.import_file(people.officer, (
        "kind,category,unit,occurred_at,narrative,harm,details\n"
        'incident,fall,rgh/4w,2023-06-01T10:00:00Z,Old fall,none,"{""injury_level"": ""none""}"\n').encode())
    [event] = outcome.stored
    event.refresh_from_db()
    assert before <= event.pses_entered_at <= timezone.now()
    assert event.is_work_product


def test_removal_keeps_who_when_and_why_and_is_audited(hospital, people):
    event = submit(hospital, people.nurse)
    removed = services.remove_from_pses(people.officer, event, "  Sent to the state as a mandated report.  ")
    event.refresh_from_db()
    assert not event.is_work_product
    assert event.pses_removed_by == people.officer
    assert event.pses_removal_reason == "Sent to the state as a mandated report."
    assert timezone.now() - event.pses_removed_at < timedelta(minutes=1)
    assert removed.pses_removed_at == event.pses_removed_at
    entry = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(SafetyEvent),
                                    object_pk=str(event.pk), action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.actor == people.officer
    assert "pses_removal_reason" in entry.changes_dict and "pses_removed_at" in entry.changes_dict


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_removal_needs_a_reason_and_stores_nothing_without_one(hospital, people, reason):
    event = submit(hospital, people.nurse)
    with pytest.raises(ValidationError) as refused:
        services.remove_from_pses(people.officer, event, reason)
    assert "reason" in refused.value.message_dict
    event.refresh_from_db()
    assert event.is_work_product and event.pses_removal_reason == "" and event.pses_removed_by is None


def test_removal_cannot_be_repeated_or_undone(hospital, people):
    event = submit(hospital, people.nurse)
    services.remove_from_pses(people.officer, event, "State report")
    first = SafetyEvent.objects.get(pk=event.pk).pses_removed_at
    with pytest.raises(ValidationError) as refused:
        services.remove_from_pses(people.officer, event, "Again")
    assert "already left" in refused.value.message_dict["pses"][0]
    event.refresh_from_db()
    assert event.pses_removed_at == first and event.pses_removal_reason == "State report"


def test_only_a_patient_safety_officer_of_the_unit_removes(hospital, people):
    event = submit(hospital, people.nurse)
    for someone in (people.nurse, people.manager, people.cqo, people.lakeside_officer):
        with pytest.raises(PermissionDenied):
            services.remove_from_pses(someone, event, "State report")
    assert SafetyEvent.objects.get(pk=event.pk).is_work_product


def test_the_event_page_offers_removal_and_then_shows_it(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Patient safety work product" in page
    assert f"in the patient safety evaluation system since {event.pses_entered_at:%Y-%m-%d}" in page
    assert reverse("safety:remove_from_pses", args=[event.pk]) in page
    assert page.count('id="id_reason"') <= 1  # the removal form's field has its own id
    refused = client.post(reverse("safety:remove_from_pses", args=[event.pk]), {"pses-reason": ""})
    assert refused.status_code == 400 and "This field is required." in refused.content.decode()
    assert SafetyEvent.objects.get(pk=event.pk).is_work_product
    reason = "<script>alert(1)</script> state report"
    done = client.post(reverse("safety:remove_from_pses", args=[event.pk]), {"pses-reason": reason})
    assert done.status_code == 302
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Removed from the patient safety evaluation system on" in page and "by Pat Okafor" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; state report" in page and "<script>alert(1)" not in page
    assert reverse("safety:remove_from_pses", args=[event.pk]) not in page  # nothing more to remove


def test_a_unit_manager_sees_the_status_but_cannot_remove(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.manager)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Patient safety work product" in page
    assert reverse("safety:remove_from_pses", args=[event.pk]) not in page
    response = client.post(reverse("safety:remove_from_pses", args=[event.pk]), {"pses-reason": "State report"})
    assert response.status_code == 403
    assert SafetyEvent.objects.get(pk=event.pk).is_work_product


def test_the_export_says_which_rows_are_work_product(hospital, people, client, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    kept, removed = submit(hospital, people.nurse), submit(hospital, people.nurse)
    services.remove_from_pses(people.officer, removed, "State report")
    client.force_login(people.officer)
    response = client.get(reverse("safety:export_csv"))
    rows = {row["reference"]: row for row in csv.DictReader(
        io.StringIO(b"".join(response.streaming_content).decode()))}
    assert list(next(iter(rows.values())))[-3:] == ["work_product", "pses_entered_at", "pses_removed_at"]
    kept.refresh_from_db()
    removed.refresh_from_db()
    assert rows[kept.reference]["work_product"] == "true" and rows[kept.reference]["pses_removed_at"] == ""
    assert rows[kept.reference]["pses_entered_at"] == kept.pses_entered_at.isoformat()
    assert rows[removed.reference]["work_product"] == "false"
    assert rows[removed.reference]["pses_removed_at"] == removed.pses_removed_at.isoformat()
    assert analysis.EXPORT_COLUMNS[-3:] == ["work_product", "pses_entered_at", "pses_removed_at"]
