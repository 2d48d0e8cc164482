"""What a ward knows on a report (issue 15, item 10): the person affected, the patient's MRN or
encounter (looked up in the FHIR store: the event links to the clinical record when found, keeps
the typed value and says so when not), witnesses and the exact location; in the form, the API,
the export, the event page, and never a patient's identity on the anonymous reporter's pages."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from andon.analytics.fhir import store as fhir_store
from andon.platform.roles import Role
from andon.safety import services
from andon.safety.models import SafetyEvent

LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture
def clinical_record(settings, tmp_path):
    """A FHIR store with one patient (MRN RGH-0042) and one of her encounters."""
    path = tmp_path / "fhir.duckdb"
    connection = fhir_store.connect(path)
    patient = {"resourceType": "Patient", "id": "pat-7", "birthDate": "1950-03-04",
               "identifier": [{"system": "urn:oid:1.2.3", "value": "NHS-999"},
                              {"type": {"coding": [{"code": "MR"}]}, "value": "RGH-0042"}],
               "name": [{"use": "official", "given": ["Maria"], "family": "Lopez"}]}
    encounter = {"resourceType": "Encounter", "id": "enc-55", "subject": {"reference": "Patient/pat-7"},
                 "identifier": [{"value": "VISIT-8812"}]}
    for resource in (patient, encounter):
        connection.execute("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)",
                           [resource["resourceType"], resource["id"], json.dumps(resource)])
    connection.close()
    settings.ANDON_FHIR_STORE = path
    return path


@pytest.fixture
def nurse(make_user):
    return make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.ana")


@pytest.fixture
def officer(make_user):
    return make_user(Role.PATIENT_SAFETY_OFFICER, "")


def _post(hospital, **overrides):
    data = {
        "kind": "incident", "unit": str(hospital.unit("rgh/4w").pk), "category": "fall", "harm": "mild",
        "occurred_at": timezone.localtime(timezone.now() - timedelta(hours=2)).strftime(LOCAL),
        "narrative": "Found on the floor beside the bed.", "details.injury_level": "minor",
        "person_affected": "patient", "patient_identifier": "RGH-0042", "location_detail": "Bed 12, by the window",
        "witnesses": "The night nurse on bay B",
    }
    data.update(overrides)
    return data


def _report(hospital, **fields):
    base = dict(kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
                occurred_at=timezone.now() - timedelta(hours=1), narrative="Wrong wristband printed.")
    base.update(fields)
    return services.Report(**base)


def test_the_form_asks_who_and_where_with_labels(client, nurse, safety_taxonomy):
    client.force_login(nurse)
    page = client.get(reverse("safety:report")).content.decode()
    for name, label in (("person_affected", "Who was affected?"), ("patient_identifier", "MRN or encounter"),
                        ("location_detail", "Where exactly?"), ("witnesses", "Witnesses")):
        field_id = f"id_{name}"
        assert f'name="{name}"' in page and re.search(rf'<label[^>]*for="{field_id}"[^>]*>[^<]*{re.escape(label)}', page), name
    public = client.get(reverse("safety:public_report")).content.decode()
    assert 'name="patient_identifier"' in public and 'name="person_affected"' in public


def test_a_report_naming_a_known_mrn_links_to_the_patient_and_the_event_page_shows_who(
        client, hospital, nurse, officer, safety_taxonomy, clinical_record):
    client.force_login(nurse)
    assert client.post(reverse("safety:report"), _post(hospital)).status_code == 200
    event = SafetyEvent.objects.get()
    assert (event.person_affected, event.patient_identifier, event.patient_fhir_id, event.encounter_fhir_id) == (
        "patient", "RGH-0042", "pat-7", "")
    assert (event.location_detail, event.witnesses) == ("Bed 12, by the window", "The night nurse on bay B")
    client.force_login(officer)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Maria Lopez" in page and "MRN RGH-0042" in page and "born 1950-03-04" in page
    assert "Bed 12, by the window" in page and "The night nurse on bay B" in page and "A patient" in page
    # The reporter's own page shows what they typed, not the record's identity.
    client.force_login(nurse)
    own = client.get(reverse("safety:my_report", args=[event.pk])).content.decode()
    assert "RGH-0042" in own and "Maria Lopez" not in own


def test_an_encounter_number_finds_its_patient(hospital, nurse, safety_taxonomy, clinical_record):
    event, _ = services.submit_report(nurse, _report(hospital, patient_identifier="VISIT-8812"))
    assert (event.person_affected, event.patient_fhir_id, event.encounter_fhir_id) == ("patient", "pat-7", "enc-55")


def test_an_unknown_mrn_is_kept_as_typed_and_said_not_found(client, hospital, nurse, officer, safety_taxonomy,
                                                           clinical_record):
    event, _ = services.submit_report(nurse, _report(hospital, patient_identifier="RGH-9999"))
    assert (event.patient_identifier, event.patient_fhir_id) == ("RGH-9999", "")
    client.force_login(officer)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "RGH-9999" in page and "Not found in the clinical record" in page


def test_no_clinical_record_loaded_keeps_the_value(hospital, nurse, safety_taxonomy, settings, tmp_path):
    settings.ANDON_FHIR_STORE = tmp_path / "none.duckdb"
    event, _ = services.submit_report(nurse, _report(hospital, patient_identifier="RGH-0042"))
    assert (event.patient_identifier, event.patient_fhir_id) == ("RGH-0042", "")


def test_bad_values_are_refused_field_by_field_and_nothing_is_stored(client, hospital, nurse, safety_taxonomy):
    client.force_login(nurse)
    response = client.post(reverse("safety:report"), _post(
        hospital, person_affected="visitor", location_detail="x" * 201, witnesses="w" * 1001))
    page = response.content.decode()
    assert response.status_code == 400 and not SafetyEvent.objects.exists()
    assert "An MRN or encounter is given only when the person affected is a patient." in page
    assert "Ensure this value has at most 200 characters" in page or "At most 200 characters" in page
    assert "at most 1000 characters" in page or "At most 1,000 characters" in page


def test_the_anonymous_reporter_never_sees_the_patient_identity(client, hospital, safety_taxonomy, clinical_record):
    response = client.post(reverse("safety:public_report"), _post(hospital))
    code = re.search(r"\b([0-9A-F]{4}(?:-[0-9A-F]{4}){3})\b", response.content.decode()).group(1)
    event = SafetyEvent.objects.get()
    assert event.is_anonymous and event.patient_fhir_id == "pat-7"
    page = client.post(reverse("safety:receipt"), {"code": code}).content.decode()
    assert "Bed 12, by the window" in page
    assert "RGH-0042" not in page and "Maria" not in page and "Lopez" not in page and "pat-7" not in page


def test_the_api_takes_and_gives_the_fields_and_the_export_has_no_patient(client, hospital, nurse, officer,
                                                                         safety_taxonomy, clinical_record):
    from andon.platform.models import AccessToken

    _, raw = AccessToken.issue(officer, "t")
    headers = {"Authorization": f"Bearer {raw}"}
    body = {"kind": "near_miss", "category": "other", "unit_id": hospital.unit("rgh/4w").pk,
            "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(), "narrative": "Wrong wristband.",
            "person_affected": "patient", "patient_identifier": "VISIT-8812", "witnesses": "Porter",
            "location_detail": "Bay C"}
    response = client.post("/api/v1/safety/events", body, content_type="application/json", headers=headers)
    assert response.status_code == 201, response.content
    out = response.json()
    assert out["person_affected"] == "patient" and out["witnesses"] == "Porter" and out["location_detail"] == "Bay C"
    assert out["patient"] == {"identifier": "VISIT-8812", "found": True, "fhir_patient_id": "pat-7",
                              "fhir_encounter_id": "enc-55", "name": "Maria Lopez", "mrn": "RGH-0042",
                              "birth_date": "1950-03-04"}
    bad = client.post("/api/v1/safety/events", {**body, "person_affected": "staff"}, content_type="application/json",
                      headers=headers)
    assert bad.status_code == 422 and "patient_identifier" in bad.content.decode()
    export = client.get("/api/v1/safety/export", headers=headers)
    text = b"".join(export.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["person_affected"], r["location_detail"]) for r in rows] == [("patient", "Bay C")]
    assert "VISIT-8812" not in text and "Maria" not in text and "Porter" not in text
