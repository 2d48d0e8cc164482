"""Practitioners and credentials (issue 19 item 1) through the services, pages and API: the NPI's
check digit, the appointment cycle, credentials and renewals, the daily sweep's alerts (each
threshold once, on expiry, the licence flag set and cleared, to the right people only), the import
from the shared Synthea practitioners checked against their raw JSON, and the demo's loader."""

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from andon import cli
from andon.analytics.fhir import ingest, store
from andon.medstaff import demo_practitioners
from andon.medstaff import services as medstaff
from andon.medstaff.models import Credential, CredentialKind, Practitioner
from andon.platform.concurrency import Stale
from andon.platform.models import Notification
from andon.platform.roles import Role
from tests.conftest import TODAY

SYNTHEA = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthea-10-patients"
# CMS's worked example of the NPI check digit: 123456789 -> 1234567893.
GOOD_NPI, OTHER_NPI = "1234567893", "1245319599"


@pytest.fixture
def people(hospital, make_user):
    return {
        "office": make_user(Role.MEDICAL_STAFF_OFFICE, ""),
        "office_lch": make_user(Role.MEDICAL_STAFF_OFFICE, "lch"),
        "chair": make_user(Role.DEPARTMENT_CHAIR, "rgh/medicine"),
        "doctor": make_user(Role.PRACTITIONER, "rgh/medicine"),
        "nurse": make_user(Role.STAFF_REPORTER, "rgh/4w"),
    }


def practitioner(people, hospital, path="rgh/medicine", **changes):
    values = dict(department=hospital.unit(path), family_name="Hart", given_name="Amelia", degree="MD",
                  npi=GOOD_NPI, specialty="Internal medicine", appointed_on=date(2025, 3, 1))
    values.update(changes)
    return medstaff.create_practitioner(people["office"], **values)


def licence(people, whom, expires_on, **changes):
    values = dict(kind=CredentialKind.LICENCE, title="Medical licence", number="TX-1", issuer="Texas Medical Board",
                  state="TX", issued_on=expires_on - timedelta(days=700), expires_on=expires_on,
                  verified_on=TODAY - timedelta(days=3), verification_source="Board look-up")
    values.update(changes)
    return medstaff.add_credential(people["office"], whom, **values)


# --- NPI, the appointment cycle, the file ------------------------------------------------------

def test_the_npi_check_digit_is_cms_luhn_with_the_80840_prefix():
    assert medstaff.npi_is_valid(GOOD_NPI) and medstaff.npi_is_valid(OTHER_NPI)
    assert not medstaff.npi_is_valid("1234567890") and not medstaff.npi_is_valid("123456789")
    assert not medstaff.npi_is_valid("12345678９3") and not medstaff.npi_is_valid("")
    from andon.medstaff.practitioners import with_check_digit

    assert with_check_digit("123456789") == GOOD_NPI


def test_a_file_gets_its_reappointment_two_years_on_and_bad_input_names_each_field(people, hospital):
    made = practitioner(people, hospital, appointed_on=date(2024, 2, 29))
    assert (made.reappointment_due, made.organisation, made.created_by) == (
        date(2026, 2, 28), hospital.organisation, people["office"])
    given = practitioner(people, hospital, npi=OTHER_NPI, appointed_on=date(2025, 1, 10),
                         reappointment_due=date(2026, 1, 10))
    assert given.reappointment_due == date(2026, 1, 10)
    before = Practitioner.objects.count()
    with pytest.raises(ValidationError) as refused:
        practitioner(people, hospital, family_name=" ", npi="1234567890", appointed_on=date(2025, 1, 1),
                     reappointment_due=date(2024, 1, 1), status="retired")
    errors = refused.value.message_dict
    assert set(errors) == {"family_name", "npi", "reappointment_due", "status"}
    assert "check digit" in errors["npi"][0]
    with pytest.raises(ValidationError, match="another practitioner has the NPI"):
        practitioner(people, hospital)
    with pytest.raises(PermissionDenied):
        medstaff.create_practitioner(people["chair"], department=hospital.unit("rgh/medicine"), family_name="X",
                                     given_name="Y")
    with pytest.raises(PermissionDenied):  # the office of Lakeside keeps Lakeside's files only
        practitioner(people | {"office": people["office_lch"]}, hospital, npi="")
    assert Practitioner.objects.count() == before


def test_editing_a_file_is_refused_when_it_moved_on_and_moves_need_both_departments(people, hospital):
    made = practitioner(people, hospital)
    seen = made.version
    fields = dict(department=made.department, family_name="Hart-Jones", given_name="Amelia", npi=GOOD_NPI,
                  appointed_on=made.appointed_on, reappointment_due=made.reappointment_due)
    medstaff.edit_practitioner(people["office"], made, ver=seen, **fields)
    with pytest.raises(Stale):
        medstaff.edit_practitioner(people["office"], Practitioner.objects.get(pk=made.pk), ver=seen,
                                   **{**fields, "family_name": "Late"})
    assert Practitioner.objects.get(pk=made.pk).family_name == "Hart-Jones"
    lakeside = practitioner(people | {"office": people["office_lch"]}, hospital, path="lch/medicine", npi="")
    with pytest.raises(PermissionDenied):
        medstaff.edit_practitioner(people["office_lch"], lakeside, **{**fields, "npi": "",
                                                                      "department": hospital.unit("rgh/medicine")})
    assert medstaff.appointment_words(made, made.reappointment_due - timedelta(days=40)).startswith(
        "Reappointment due in 40 days")
    assert medstaff.appointment_words(made, made.reappointment_due + timedelta(days=3)).startswith(
        "Reappointment overdue by 3 days")


# --- credentials --------------------------------------------------------------------------------

def test_credentials_are_checked_and_a_renewal_keeps_the_old_record(people, hospital):
    whom = practitioner(people, hospital)
    with pytest.raises(ValidationError) as refused:
        licence(people, whom, TODAY + timedelta(days=10), state="", number=" ", issued_on=TODAY + timedelta(days=20),
                verified_on=TODAY + timedelta(days=1))
    assert set(refused.value.message_dict) == {"state", "number", "issued_on", "expires_on", "verified_on"}
    assert not Credential.objects.exists()
    old = licence(people, whom, TODAY + timedelta(days=20))
    assert (old.verified_by, medstaff.credential_status(old).words) == (people["office"], "expires in 20 days")
    with pytest.raises(ValidationError, match="renew that record"):
        licence(people, whom, TODAY + timedelta(days=400))
    with pytest.raises(ValidationError, match="expires after the record it renews"):
        medstaff.renew_credential(people["office"], old, expires_on=TODAY + timedelta(days=5))
    new = medstaff.renew_credential(people["office"], old, ver=old.version, expires_on=TODAY + timedelta(days=730),
                                    issued_on=TODAY)
    old.refresh_from_db()
    assert (old.replaced_by, new.number, new.kind, new.state) == (new, "TX-1", "licence", "TX")
    assert medstaff.credential_status(old).code == "replaced"
    assert medstaff.credential_status(new).words == "unverified"
    with pytest.raises(ValidationError, match="was renewed"):
        medstaff.renew_credential(people["office"], old, expires_on=TODAY + timedelta(days=900))
    lapsed = medstaff.add_credential(people["office"], whom, kind="board_certification", title="Board certification",
                                     number="ABIM-1", issuer="ABIM", expires_on=TODAY, verified_on=TODAY)
    assert medstaff.credential_status(lapsed).words == f"expired on {TODAY:%Y-%m-%d}"
    assert [c.pk for c in medstaff.expiring_credentials(people["chair"])] == [lapsed.pk]
    assert list(medstaff.expiring_credentials(people["office_lch"])) == []


def _alerts(user):
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("title", flat=True))


def test_the_sweep_alerts_each_threshold_once_and_on_expiry_to_the_right_people(people, hospital):
    whom = practitioner(people, hospital, account=people["doctor"])
    expires = TODAY + timedelta(days=95)
    credential = licence(people, whom, expires)
    assert medstaff.sweep_credentials(expires - timedelta(days=91)) == 0
    assert medstaff.sweep_credentials(expires - timedelta(days=90)) == 1
    assert medstaff.sweep_credentials(expires - timedelta(days=90)) == 0  # the same day again: nothing
    assert medstaff.sweep_credentials(expires - timedelta(days=75)) == 0
    assert medstaff.sweep_credentials(expires - timedelta(days=58)) == 1  # a day missed: the 60 days' alert
    assert medstaff.sweep_credentials(expires - timedelta(days=30)) == 1
    assert medstaff.sweep_credentials(expires - timedelta(days=10)) == 0
    assert Practitioner.objects.get(pk=whom.pk).licence_expired_on is None
    assert medstaff.sweep_credentials(expires) == 1
    assert medstaff.sweep_credentials(expires + timedelta(days=1)) == 0
    titles = [f"Credential expires in {days} days: Medical licence of Amelia Hart, MD" for days in (90, 58, 30)]
    titles.append("Credential expired: Medical licence of Amelia Hart, MD")
    assert _alerts(people["office"]) == titles and _alerts(people["doctor"]) == titles
    assert _alerts(people["office_lch"]) == _alerts(people["chair"]) == _alerts(people["nurse"]) == []
    url = reverse("medstaff:practitioner", args=[whom.pk])
    assert set(Notification.objects.values_list("url", flat=True)) == {url}
    assert Practitioner.objects.get(pk=whom.pk).licence_expired_on == expires
    credential.refresh_from_db()
    assert credential.alerted_at_days == 0
    medstaff.renew_credential(people["office"], credential, expires_on=expires + timedelta(days=730))
    assert Practitioner.objects.get(pk=whom.pk).licence_expired_on is None
    assert medstaff.sweep_credentials(expires + timedelta(days=2)) == 0


def test_an_expired_certification_flags_nothing_and_the_thresholds_are_a_setting(people, hospital, settings):
    settings.ANDON_CREDENTIAL_ALERT_DAYS = [14]
    whom = practitioner(people, hospital)
    medstaff.add_credential(people["office"], whom, kind="board_certification", title="Board certification",
                            number="ABIM-1", issuer="ABIM", expires_on=TODAY + timedelta(days=20))
    assert medstaff.sweep_credentials(TODAY + timedelta(days=5)) == 0  # 15 days left: no 30 days' alert now
    assert medstaff.sweep_credentials(TODAY + timedelta(days=6)) == 1
    assert medstaff.sweep_credentials(TODAY + timedelta(days=25)) == 1
    assert Practitioner.objects.get(pk=whom.pk).licence_expired_on is None
    assert len(_alerts(people["office"])) == 2


def test_reappointments_due_alert_the_office_once_and_the_command_runs_the_sweeps(people, hospital, capsys):
    whom = practitioner(people, hospital, appointed_on=TODAY - timedelta(days=700), account=people["doctor"])
    assert whom.reappointment_due == TODAY + timedelta(days=30)
    assert medstaff.sweep_reappointments(TODAY - timedelta(days=61)) == 0
    assert medstaff.sweep_reappointments(TODAY - timedelta(days=60)) == 1
    assert medstaff.sweep_reappointments(TODAY) == 0
    assert _alerts(people["office"]) == [f"Reappointment due in 90 days: {whom}"]
    assert _alerts(people["doctor"]) == []
    licence(people, whom, TODAY + timedelta(days=30))
    assert cli.main(["medstaff", "sweep", "--date", TODAY.isoformat()]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["credential alerts: 1", "reappointments due: 0"]
    with pytest.raises(SystemExit):
        cli.main(["medstaff", "sweep", "--date", "2026-13-01"])
    assert "'2026-13-01' is not a date written YYYY-MM-DD" in capsys.readouterr().err


# --- the clinical data ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthea_store(tmp_path_factory):
    if not SYNTHEA.is_dir():
        pytest.skip(f"the shared Synthea practitioners are not at {SYNTHEA}")
    path = tmp_path_factory.mktemp("medstaff-store") / "fhir.duckdb"
    connection = store.connect(path)
    ingest.load_paths(connection, [SYNTHEA / "Practitioner.000.ndjson", SYNTHEA / "PractitionerRole.000.ndjson"],
                      progress=False)
    connection.close()
    return path


def _raw(name):
    return [json.loads(line) for line in (SYNTHEA / f"{name}.000.ndjson").read_text().splitlines() if line.strip()]


def _expected_from_raw_json():
    """id -> (given, family, NPI, specialty) read from the files, apart from the code under test."""
    roles = {role["practitioner"]["identifier"]["value"]: role for role in _raw("PractitionerRole")}
    expected = {}
    for resource in _raw("Practitioner"):
        npi = next(i["value"] for i in resource["identifier"] if i["system"] == "http://hl7.org/fhir/sid/us-npi")
        name = resource["name"][0]
        specialty = roles[npi]["specialty"][0]["coding"][0]["display"] if npi in roles else ""
        expected[resource["id"]] = (" ".join(name["given"]), name["family"], npi, specialty)
    return expected


def test_the_import_lists_the_stores_practitioners_as_the_raw_json_has_them(people, hospital, settings, synthea_store):
    settings.ANDON_FHIR_STORE = synthea_store
    expected = _expected_from_raw_json()
    offered = medstaff.unlinked_store_practitioners(people["office"])
    assert {p.id: (p.given, p.family, p.npi, p.specialty) for p in offered} == expected
    assert len(offered) == 43 and all(medstaff.npi_is_valid(p.npi) for p in offered)
    assert all(p.location.startswith("Location?identifier=https://github.com/synthetichealth/synthea|")
               for p in offered if p.specialty)
    one = offered[0]
    assert [p.id for p in medstaff.store_practitioners(f"{one.given} {one.family}")] == [one.id]
    assert [p.id for p in medstaff.store_practitioners(one.npi)] == [one.id]
    chosen = [p.id for p in offered[:3]]
    made = medstaff.import_from_store(people["office"], chosen, hospital.unit("rgh/medicine"))
    assert [(m.given_name, m.family_name, m.npi, m.specialty, m.fhir_id) for m in made] == [
        (*expected[fhir_id], fhir_id) for fhir_id in chosen]
    assert {p.id for p in medstaff.unlinked_store_practitioners(people["office"])} == set(expected) - set(chosen)
    before = Practitioner.objects.count()
    with pytest.raises(ValidationError, match="linked already"):
        medstaff.import_from_store(people["office"], [chosen[0], offered[3].id], hospital.unit("rgh/medicine"))
    with pytest.raises(PermissionDenied):
        medstaff.import_from_store(people["chair"], [offered[3].id], hospital.unit("rgh/medicine"))
    assert Practitioner.objects.count() == before


def test_the_import_page_lists_the_store_and_makes_the_chosen_files(client, people, hospital, settings,
                                                                   synthea_store):
    settings.ANDON_FHIR_STORE = synthea_store
    expected = _expected_from_raw_json()
    client.force_login(people["office"])
    page = client.get(reverse("medstaff:practitioner_import")).content.decode()
    assert "43 practitioners of the clinical data not linked yet" in page
    assert all(npi in page for _given, _family, npi, _specialty in expected.values())
    chosen = sorted(expected)[:2]
    medicine = hospital.unit("rgh/medicine")
    response = client.post(reverse("medstaff:practitioner_import"), {"chosen": chosen, "department": medicine.pk})
    assert response.status_code == 302
    assert sorted(Practitioner.objects.filter(department=medicine).values_list("fhir_id", flat=True)) == chosen
    given, family, npi, _specialty = expected[chosen[0]]
    found = client.get(reverse("medstaff:practitioner_new"), {"find": npi}).content.decode()
    assert f"{given} {family}" in found and f"use={chosen[0]}" in found
    filled = client.get(reverse("medstaff:practitioner_new"), {"use": chosen[0]}).content.decode()
    assert f'value="{npi}"' in filled and f'value="{family}"' in filled


def test_the_demo_loader_makes_practitioners_from_the_store_and_its_own(people, hospital, make_user, settings,
                                                                        synthea_store, tmp_path):
    office = make_user(Role.MEDICAL_STAFF_OFFICE, "", username="mso.quinn", is_demo=True)
    yusuf = make_user(Role.PRACTITIONER, "rgh/medicine", username="dr.yusuf", is_demo=True)
    settings.ANDON_FHIR_STORE = tmp_path / "none.duckdb"  # no clinical data: the made-up practitioners
    demo_practitioners.load()
    _check_demo(yusuf, office, len(demo_practitioners.MADE_UP))
    Credential.objects.all().delete()
    Practitioner.objects.all().delete()
    settings.ANDON_FHIR_STORE = synthea_store  # no ward mapped: everyone in Medicine
    demo_practitioners.load()
    _check_demo(yusuf, office, 44)
    assert Practitioner.objects.exclude(fhir_id="").count() == 43


def _check_demo(yusuf, office, count):
    medicine = Practitioner.objects.get(user=yusuf).department
    assert Practitioner.objects.count() == count
    assert Practitioner.objects.filter(user=yusuf, family_name="Demir", group="Riverside Hospitalists",
                                       department=medicine).count() == 1
    assert (medicine.facility.code, medicine.code) == ("rgh", "medicine")
    assert all(medstaff.npi_is_valid(p.npi) for p in Practitioner.objects.all())
    statuses = sorted((c.kind, medstaff.credential_status(c).words) for c in Credential.objects.all()
                      if medstaff.credential_status(c).code != "unverified" and medstaff.credential_status(c).code
                      != "current")
    assert statuses == [("board_certification", f"expired on {TODAY - timedelta(days=12):%Y-%m-%d}"),
                        ("licence", "expires in 45 days")]
    assert Credential.objects.filter(kind="licence").count() == count
    assert set(Credential.objects.values_list("verified_by", flat=True)) == {office.pk}
    flagged = Practitioner.objects.filter(credentials__expires_on__lt=TODAY + timedelta(days=90)).distinct()
    assert {p.department for p in flagged} == {medicine} and yusuf not in {p.user for p in flagged}


# --- pages ------------------------------------------------------------------------------------

def test_the_list_is_scoped_and_a_hostile_name_is_escaped(client, people, hospital):
    medicine = practitioner(people, hospital, family_name="<script>alert(1)</script>")
    surgery = practitioner(people, hospital, path="rgh/surgery", family_name="Okoro", npi=OTHER_NPI)
    client.force_login(people["chair"])
    page = client.get(reverse("medstaff:practitioners")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert reverse("medstaff:practitioner", args=[medicine.pk]) in page
    assert reverse("medstaff:practitioner", args=[surgery.pk]) not in page
    assert client.get(reverse("medstaff:practitioner", args=[surgery.pk])).status_code == 403
    client.force_login(people["office"])
    found = client.get(reverse("medstaff:practitioners"), {"q": "okoro", "status": "active"}).content.decode()
    assert reverse("medstaff:practitioner", args=[surgery.pk]) in found
    assert reverse("medstaff:practitioner", args=[medicine.pk]) not in found


def test_a_practitioner_reads_their_own_file_with_its_flag_and_no_one_elses(client, people, hospital):
    own = practitioner(people, hospital, account=people["doctor"])
    other = practitioner(people, hospital, family_name="Mensah", npi=OTHER_NPI)
    expired = licence(people, own, TODAY - timedelta(days=1))
    medstaff.sweep_credentials(TODAY)
    client.force_login(people["doctor"])
    response = client.get(reverse("medstaff:my_file"))
    assert response.status_code == 302 and response["Location"] == reverse("medstaff:practitioner", args=[own.pk])
    page = client.get(response["Location"]).content.decode()
    assert f"Licence expired on {expired.expires_on:%Y-%m-%d}: privileges flagged." in page
    assert f"expired on {expired.expires_on:%Y-%m-%d}" in page and "Edit the file" not in page
    assert client.get(reverse("medstaff:practitioner", args=[other.pk])).status_code == 403
    assert client.get(reverse("medstaff:practitioners")).status_code == 403
    assert Notification.objects.get(recipient=people["doctor"]).read_at is not None


def test_the_office_makes_a_file_and_records_credentials_through_the_pages(client, people, hospital):
    client.force_login(people["office"])
    medicine = hospital.unit("rgh/medicine")
    bad = client.post(reverse("medstaff:practitioner_new"), {"given_name": "Kwame", "family_name": "Mensah",
                                                             "npi": "1234567890", "department": medicine.pk,
                                                             "status": "active"})
    assert bad.status_code == 400 and "its check digit is wrong" in bad.content.decode()
    made = client.post(reverse("medstaff:practitioner_new"), {"given_name": "Kwame", "family_name": "Mensah",
                                                              "npi": GOOD_NPI, "department": medicine.pk,
                                                              "status": "active", "appointed_on": "2025-05-01"})
    whom = Practitioner.objects.get(npi=GOOD_NPI)
    assert made["Location"] == reverse("medstaff:practitioner", args=[whom.pk])
    assert whom.reappointment_due == date(2027, 5, 1)
    soon = (TODAY + timedelta(days=12)).isoformat()
    client.post(reverse("medstaff:credential_new", args=[whom.pk]), {
        "kind": "registration", "title": "DEA registration", "number": "BM1234563", "issuer": "DEA",
        "expires_on": soon})
    stale = client.post(reverse("medstaff:practitioner_edit", args=[whom.pk]), {
        "given_name": "Kwame", "family_name": "Late", "npi": GOOD_NPI, "department": medicine.pk, "status": "active",
        "version": whom.version + 5})
    assert stale.status_code == 409
    page = client.get(reverse("medstaff:expiring")).content.decode()
    assert "DEA registration" in page and "BM1234563" in page and ">12<" in page


# --- the API ----------------------------------------------------------------------------------

def test_the_api_lists_makes_and_scopes_files_and_credentials(client, people, hospital):
    client.force_login(people["office"])
    api = "/api/v1/medstaff"
    body = {"department_id": hospital.unit("rgh/medicine").pk, "given_name": "Sofia", "family_name": "Lindqvist",
            "degree": "DO", "npi": "1234567890", "appointed_on": "2025-06-30"}
    refused = client.post(f"{api}/practitioners", body, content_type="application/json")
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "npi"]
    made = client.post(f"{api}/practitioners", {**body, "npi": GOOD_NPI}, content_type="application/json").json()
    assert (made["reappointment_due"], made["name"]) == ("2027-06-30", "Sofia Lindqvist, DO")
    credential = client.post(f"{api}/practitioners/{made['id']}/credentials", {
        "kind": "licence", "title": "Medical licence", "number": "TX-9", "issuer": "Texas Medical Board",
        "state": "tx", "expires_on": (TODAY + timedelta(days=40)).isoformat()}, content_type="application/json")
    assert credential.status_code == 201
    assert (credential.json()["state"], credential.json()["status_words"]) == ("TX", "expires in 40 days")
    expiring = client.get(f"{api}/credentials/expiring").json()
    assert [row["number"] for row in expiring["items"]] == ["TX-9"]
    client.force_login(people["office_lch"])
    assert client.get(f"{api}/practitioners/{made['id']}").status_code == 403
    assert client.get(f"{api}/practitioners", {"unit_id": hospital.unit("rgh/medicine").pk}).status_code == 403
    assert client.get(f"{api}/practitioners").json()["count"] == 0
    Practitioner.objects.filter(pk=made["id"]).update(user=people["doctor"])
    client.force_login(people["doctor"])
    assert client.get(f"{api}/practitioners/{made['id']}").json()["npi"] == GOOD_NPI
    assert [c["number"] for c in client.get(f"{api}/practitioners/{made['id']}/credentials").json()] == ["TX-9"]
    assert client.get(f"{api}/practitioners").status_code == 403


def test_the_demo_office_sees_the_expiring_licence_and_dr_demir_reads_his_file(client, demo_hospital):
    from andon.platform.models import User

    client.force_login(User.objects.get(username="mso.quinn"))
    page = client.get(reverse("medstaff:expiring")).content.decode()
    expiring = Credential.objects.get(expires_on=TODAY + timedelta(days=45))
    assert expiring.number in page and ">45<" in page and expiring.practitioner.department.code == "medicine"
    assert "Board certification" in page
    # The other subjects' parts of the profile: the privileges held, flagged or not, and the OPPE.
    profile = client.get(reverse("medstaff:practitioner", args=[expiring.practitioner.pk])).content.decode()
    assert "Core privileges in internal medicine (active, until" in profile and "Licence expired" not in profile
    assert reverse("medstaff:oppe_practitioner", args=[expiring.practitioner.pk]) in profile
    client.force_login(User.objects.get(username="dr.yusuf"))
    own = client.get(reverse("medstaff:my_file"), follow=True).content.decode()
    assert "Yusuf Demir, MD" in own and "Riverside Hospitalists" in own
    # His own OPPE, but the privileges' pages are the office's and the chairs'.
    assert "medstaff/oppe/practitioner/" in own and "Privileges, requests and FPPE" not in own


def test_other_subjects_add_sections_to_the_profile_for_whom_they_choose(people, hospital):
    from andon.medstaff.practitioners import practitioner_sections

    whom = practitioner(people, hospital)

    def privileges(user, shown):
        return medstaff.Section("medstaff/privileges.html", {"who": shown.name}) if user == people["office"] else None

    registered = list(practitioner_sections)  # the subjects' own sections, set aside for the test
    practitioner_sections.clear()
    medstaff.add_practitioner_section(privileges)
    medstaff.add_practitioner_section(privileges)  # once, however often it is added
    try:
        assert medstaff.sections_for(people["office"], whom) == [
            medstaff.Section("medstaff/privileges.html", {"who": "Amelia Hart, MD"})]
        assert medstaff.sections_for(people["chair"], whom) == []
    finally:
        practitioner_sections[:] = registered
