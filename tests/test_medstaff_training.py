"""Training and competencies (issue 19 item 7): requirements and their validation, the import of
completions from a learning system's CSV (a row/field/reason report and nothing stored, the same
rows never imported twice, hostile cells refused or defused, fuzzed), compliance per unit,
requirement and person against counts worked independently, the measure's monthly counts, the
pages and the API."""

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from andon.measures.models import ManualCount, Measure, MeasureResult
from andon.medstaff import training
from andon.medstaff.models import TrainingCompletion, TrainingImport, TrainingPerson, TrainingRequirement
from andon.platform import concurrency, content, services
from andon.platform.roles import Role
from tests.fuzz import examples, hostile_cell
from tests.conftest import TODAY

CONTENT = Path(__file__).resolve().parent.parent / "content"
HEADER = "employee_id,name,unit,job_role,course_code,completed_on,expires_on\n"


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


@pytest.fixture
def office(make_user):
    return make_user(Role.MEDICAL_STAFF_OFFICE, "", username="office")


@pytest.fixture
def library(db):
    content.load_content([CONTENT / "measures"])
    return Measure.objects.get(key=training.MEASURE_KEY)


@pytest.fixture
def required(office, hospital):
    """Hand hygiene for RN, HCA and Physician everywhere (yearly); BLS for RN and Physician (every
    24 months); sepsis for RN of Medicine (never renewed)."""
    org = hospital.organisation
    return {
        "HH": training.create_requirement(office, organisation=org, course_code="HH", title="Hand hygiene",
                                          kind="competency", job_roles=["RN", "HCA", "Physician"], renewal_months=12),
        "BLS": training.create_requirement(office, organisation=org, course_code="BLS", title="Basic life support",
                                           job_roles=["RN", "Physician"], renewal_months=24),
        "SEPSIS": training.create_requirement(office, organisation=org, course_code="SEPSIS", title="Sepsis",
                                              job_roles=["rn"], unit=hospital.unit("rgh/medicine")),
    }


# The file of the worked example. On TODAY:
# E1 RN 4 West: HH current (200 days ago, yearly), BLS current until its expires_on, SEPSIS done -> 3 of 3
# E2 RN 5 East: HH expired (400 days ago), BLS missing, SEPSIS done -> 1 of 3
# E3 HCA 4 West: HH current -> 1 of 1 (BLS and sepsis are not required of an HCA)
# E4 Physician ICU: HH current, expiring in 15 days (350 days ago); BLS expired (800 days ago) -> 1 of 2
# E5 RN 2A (Lakeside, not Medicine of Riverside): HH done 10 days ago -> 1 of 2 (BLS missing)
WORKED = HEADER + "".join(f"{row}\n" for row in [
    f"E1,Ana Alvarez,rgh/4w,RN,HH,{ago(200)},",
    f"E1,Ana Alvarez,rgh/4w,RN,BLS,{ago(100)},{(TODAY + timedelta(days=40)).isoformat()}",
    f"E1,Ana Alvarez,rgh/4w,RN,SEPSIS,{ago(900)},",
    f"E2,Ben Okafor,rgh/5e,RN,HH,{ago(400)},",
    f"E2,Ben Okafor,rgh/5e,RN,sepsis,{ago(30)},",
    f"E3,Cara Diaz,rgh/4w,HCA,HH,{ago(5)},",
    f"E4,Dev Patel,rgh/icu,Physician,HH,{ago(350)},",
    f"E4,Dev Patel,rgh/icu,Physician,BLS,{ago(800)},",
    f"E5,Eve Martin,lch/2a,RN,HH,{ago(10)},",
])


def upload(data: str | bytes, name: str = "export.csv"):
    return SimpleUploadedFile(name, data.encode() if isinstance(data, str) else data, content_type="text/csv")


def stored() -> tuple:
    return (TrainingCompletion.objects.count(), TrainingPerson.objects.count(), TrainingImport.objects.count(),
            ManualCount.objects.count())


# --- requirements ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "field", "words"), [
    ({"job_roles": []}, "job_roles", "at least one job role"),
    ({"job_roles": ["RN", "x" * 65]}, "job_roles", "at most 64 characters"),
    ({"renewal_months": 0}, "renewal_months", "from 1 to 240"),
    ({"renewal_months": 241}, "renewal_months", "from 1 to 240"),
    ({"course_code": "hh"}, "course_code", "already required"),
    ({"course_code": "B\x00LS"}, "course_code", "control character"),
    ({"title": "  "}, "title", "required"),
    ({"kind": "course"}, "kind", "not one of training, competency"),
])
def test_a_wrong_requirement_is_refused_by_field_and_nothing_is_stored(office, hospital, required, change, field,
                                                                      words):
    values = {"organisation": hospital.organisation, "course_code": "NEW", "title": "New", "job_roles": ["RN"],
              "renewal_months": 12} | change
    with pytest.raises(ValidationError) as refusal:
        training.create_requirement(office, **values)
    assert words in " ".join(refusal.value.message_dict[field])
    assert TrainingRequirement.objects.count() == 3


def test_requirements_are_the_office_s_and_change_by_version(office, hospital, required, make_user):
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    with pytest.raises(PermissionDenied):
        training.create_requirement(manager, organisation=hospital.organisation, course_code="X", title="X",
                                    job_roles=["RN"])
    sepsis = required["SEPSIS"]
    assert sepsis.job_roles == ["rn"] and sepsis.renewal_months is None
    training.edit_requirement(office, sepsis, sepsis.version, course_code="SEPSIS", title="Sepsis six",
                              kind="training", job_roles=["RN", "Physician", "physician"], unit=sepsis.unit,
                              renewal_months=36)
    sepsis.refresh_from_db()
    assert (sepsis.title, sepsis.job_roles, sepsis.renewal_months) == ("Sepsis six", ["RN", "Physician"], 36)
    with pytest.raises(concurrency.Stale):
        training.set_requirement_active(office, sepsis, sepsis.version - 1, False)
    training.set_requirement_active(office, sepsis, sepsis.version, False)
    assert not TrainingRequirement.objects.get(pk=sepsis.pk).active


# --- import ---------------------------------------------------------------------------------------

def test_a_file_with_bad_rows_reports_row_field_and_reason_and_stores_nothing(office, required, library):
    bad = WORKED + "".join(f"{row}\n" for row in [
        f"E6,Finn Ross,rgh/nowhere,RN,HH,{ago(1)},",
        f"E7,Gia Lam,rgh/4w,RN,FIRE,{ago(1)},",
        f"E8,Hal Ng,rgh/4w,RN,HH,2025-02-30,",
        f"E9,Ida Roy,rgh/4w,RN,HH,{(TODAY + timedelta(days=1)).isoformat()},",
        f"E10,Jo Kay,rgh/4w,RN,HH,{ago(20)},{ago(30)}",
        f",No Id,rgh/4w,RN,HH,{ago(1)},",
        f"E11,Bell\x07,rgh/4w,RN,HH,{ago(1)},",
    ])
    outcome = training.import_completions(office, bad.encode(), "bad.csv")
    assert [(p["row"], p["field"]) for p in outcome["problems"]] == [
        (11, "unit"), (12, "course_code"), (13, "completed_on"), (14, "completed_on"), (15, "expires_on"),
        (16, "employee_id"), (17, "name")]
    reasons = {p["row"]: p["reason"] for p in outcome["problems"]}
    assert reasons[11] == "'rgh/nowhere' is not a unit whose training you manage (facility/unit, e.g. rgh/4w)"
    assert reasons[12] == "'FIRE' is not the course of any requirement"
    assert reasons[15] == f"{ago(30)} is not after the completion ({ago(20)})"
    assert (outcome["rows"], outcome["stored"], outcome["invalid_rows"]) == (16, 0, 7)
    assert stored() == (0, 0, 0, 0)


@pytest.mark.parametrize(("data", "words"), [
    (b"", "The file is empty."),
    (HEADER.encode() + b"E1,A\x00,rgh/4w,RN,HH,2025-01-01,\n", "a NUL character on line 2"),
    (HEADER.encode() + b"E1,\xff,rgh/4w,RN,HH,2025-01-01,\n", "not UTF-8 text"),
    (b"employee_id,name,unit,role,course_code,completed_on\n", "missing columns: job_role; unknown columns: role"),
    (HEADER.encode() + b'E1,"' + b"x" * 200_000 + b'",rgh/4w,RN,HH,2025-01-01,\n', "not valid CSV"),
    (HEADER.encode() + b"E1,A,rgh/4w,RN,HH,2025-01-01,,extra\n", "more cells than the header"),
])
def test_an_unreadable_file_is_refused_whole(office, required, data, words):
    with pytest.raises(training.ImportFileError) as refusal:
        training.import_completions(office, data, "x.csv")
    assert words in str(refusal.value)
    assert stored() == (0, 0, 0, 0)


def test_the_same_file_twice_imports_nothing_twice_and_the_latest_import_places_people(office, required, library):
    first = training.import_completions(office, WORKED.encode(), "march.csv")
    assert (first["rows"], first["stored"], first["problem_count"]) == (9, 9, 0)
    counts = list(ManualCount.objects.order_by("unit", "month").values_list("unit", "month", "numerator",
                                                                             "denominator"))
    again = training.import_completions(office, WORKED.encode(), "march-again.csv")
    assert (again["rows"], again["stored"]) == (9, 0)
    assert TrainingCompletion.objects.count() == 9 and TrainingPerson.objects.count() == 5
    assert list(ManualCount.objects.order_by("unit", "month").values_list(
        "unit", "month", "numerator", "denominator")) == counts  # sent again: replaced, the same
    # A later export: E1 moved to the ICU as a Physician, and one new completion among old ones.
    later = HEADER + (f"E1,Ana Alvarez,rgh/icu,Physician,HH,{ago(200)},\n"
                      f"E1,Ana Alvarez,rgh/icu,Physician,BLS,{ago(2)},\n")
    outcome = training.import_completions(office, later.encode(), "april.csv")
    assert outcome["stored"] == 1 and TrainingCompletion.objects.count() == 10
    moved = TrainingPerson.objects.get(employee_id="E1")
    assert (moved.unit.code, moved.job_role, moved.name, moved.known_since) == ("icu", "Physician", "Ana Alvarez",
                                                                                TODAY - timedelta(days=900))
    # Hostile but well-formed text is kept as text, and defused in the CSV written back.
    hostile = HEADER + f'E9,"=HYPERLINK(""http://evil.example"",""x"")",rgh/4w,RN,HH,{ago(1)},\n'
    assert training.import_completions(office, hostile.encode(), "h.csv")["stored"] == 1


def test_a_unit_s_people_csv_defuses_formulas(client, office, required, hospital):
    training.import_completions(office, (HEADER + f"E9,=1+1,rgh/4w,RN,HH,{ago(1)},\n").encode(), "h.csv")
    client.force_login(office)
    response = client.get(reverse("medstaff:training_unit_csv", args=[hospital.unit("rgh/4w").pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == training.PEOPLE_COLUMNS
    assert rows[1] == ["E9", "'=1+1", "rgh/4w", "RN", "3", "BLS (missing); SEPSIS (missing)", ""]


# --- compliance: the worked example and an independent count ---------------------------------------

def test_compliance_by_unit_requirement_and_person_on_the_worked_example(office, required, hospital):
    training.import_completions(office, WORKED.encode(), "worked.csv")
    _scope, rows = training.compliance_by_unit(office, on=TODAY)
    by_code = {training.unit_code(row.unit): (row.compliant, row.required, row.expiring) for row in rows}
    assert by_code["rgh/4w"] == (4, 4, 1)  # E1 3 of 3 (BLS expiring in 40 days), E3 1 of 1
    assert by_code["rgh/5e"] == (1, 3, 0)
    assert by_code["rgh/medicine"] == (5, 7, 1)
    assert by_code["rgh/icu"] == (1, 2, 1) and by_code["rgh/critical-care"] == (1, 2, 1)
    assert by_code["lch/2a"] == (1, 2, 0) and by_code["rgh/ed"] == (0, 0, 0)
    by_requirement = {row.requirement.course_code: (row.compliant, row.required)
                      for row in training.compliance_by_requirement(office, on=TODAY)}
    assert by_requirement == {"HH": (4, 5), "BLS": (1, 4), "SEPSIS": (2, 2)}
    people = {row.person.employee_id: row for row in training.people_of_unit(office, hospital.unit("rgh/medicine"))}
    assert [(s.requirement.course_code, s.state) for s in people["E2"].missing] == [("BLS", "missing"),
                                                                                      ("HH", "expired")]
    assert people["E1"].missing == [] and [s.requirement.course_code for s in people["E1"].expiring(TODAY)] == ["BLS"]
    # 300 days ago only E1 was known (from their sepsis training, 900 days ago), with neither HH nor BLS yet.
    _scope, before = training.compliance_by_unit(office, on=TODAY - timedelta(days=300))
    assert {training.unit_code(r.unit): (r.compliant, r.required) for r in before}["rgh/4w"] == (1, 3)


def independent_counts(text: str, on: date, renewals: dict, roles: dict, medicine: set) -> dict:
    """(compliant, required) per ward, read from the file as written, with the rules of the
    docs worked apart from the module: each employee's ward and role from their latest row."""
    rows = list(csv.DictReader(io.StringIO(text)))
    placed = {}
    for row in sorted(rows, key=lambda r: r["completed_on"]):
        placed[row["employee_id"]] = (row["unit"], row["job_role"])
    first = {}
    for row in rows:
        first[row["employee_id"]] = min(first.get(row["employee_id"], row["completed_on"]), row["completed_on"])
    counts = {}
    for employee, (ward, role) in placed.items():
        if first[employee] > on.isoformat():
            continue
        for course, months in renewals.items():
            if role not in roles[course] or (course == "SEPSIS" and ward not in medicine):
                continue
            good = 0
            for row in rows:
                done = date.fromisoformat(row["completed_on"])
                if (row["employee_id"], row["course_code"]) != (employee, course) or done > on:
                    continue
                if months is None:
                    good = 1
                else:
                    year, month = divmod(done.month - 1 + months, 12)
                    ends = date(done.year + year, month + 1, min(done.day, 28))  # the file's days are 1 to 28
                    good |= on < ends
            compliant, required_ = counts.get(ward, (0, 0))
            counts[ward] = (compliant + good, required_ + 1)
    return counts


def test_compliance_and_the_measure_s_counts_match_an_independent_count(office, required, library):
    from andon.medstaff.demo_training import WARDS

    import random
    chance = random.Random(7)
    lines = [HEADER.strip()]
    for number in range(60):
        ward = chance.choice(sorted(WARDS))
        role = chance.choice(["RN", "HCA", "Physician"])
        for course in ("HH", "BLS", "SEPSIS"):
            for _ in range(chance.randint(0, 2)):
                done = TODAY.replace(day=1) - timedelta(days=chance.randint(0, 900))
                lines.append(f"E{number},Person {number},{ward},{role},{course},{done.replace(day=min(done.day, 28))},")
    text = "\n".join(lines) + "\n"
    outcome = training.import_completions(office, text.encode(), "random.csv")
    assert outcome["problem_count"] == 0 and outcome["measure_problems"] == []
    renewals = {"HH": 12, "BLS": 24, "SEPSIS": None}
    roles = {"HH": {"RN", "HCA", "Physician"}, "BLS": {"RN", "Physician"}, "SEPSIS": {"RN"}}
    medicine = {"rgh/4w", "rgh/5e"}
    expected = independent_counts(text, TODAY, renewals, roles, medicine)
    _scope, rows = training.compliance_by_unit(office, on=TODAY)
    found = {training.unit_code(row.unit): (row.compliant, row.required) for row in rows if row.unit.kind == "ward"
             and row.required}
    assert found == {ward: counts for ward, counts in expected.items() if counts[1]}
    # The measure: each ward's count of a month is the pairs on the month's last day.
    assert not ManualCount.objects.filter(measure=library, month=TODAY.replace(day=1)).exists()  # under way
    for months_back in (1, 5, 14, 24):
        month = training.add_months(TODAY.replace(day=1), -months_back)
        last = training.month_end(month)
        wanted = {ward: c for ward, c in independent_counts(text, last, renewals, roles, medicine).items() if c[1]}
        kept = {f"{c.unit.facility.code}/{c.unit.code}": (c.numerator, c.denominator)
                for c in ManualCount.objects.filter(measure=library, month=month).select_related("unit__facility")}
        assert kept == wanted, month
    assert not ManualCount.objects.filter(measure=library, month=training.add_months(month, -1)).exists()
    # And the library adds the wards up the tree: Medicine is 4 West and 5 East together.
    month = training.add_months(TODAY.replace(day=1), -1)
    medicine_cell = MeasureResult.objects.get(measure=library, period_kind="month", period_start=month,
                                              unit__code="medicine", unit__facility__code="rgh")
    wards = [c for ward, c in independent_counts(text, training.month_end(month), renewals, roles, medicine).items()
             if ward in medicine]
    assert (medicine_cell.numerator, medicine_cell.denominator) == (sum(c[0] for c in wards), sum(c[1] for c in wards))


def test_recording_a_month_keeps_a_count_entered_by_hand_and_says_so(office, required, library, hospital):
    training.import_completions(office, WORKED.encode(), "worked.csv")
    month = TODAY.replace(day=1)
    ManualCount.objects.filter(measure=library, month=month, unit=hospital.unit("rgh/icu")).delete()
    ManualCount.objects.create(measure=library, unit=hospital.unit("rgh/icu"), month=month, numerator=1,
                               denominator=1, source="Entered by hand", entered_by=office)
    sent = training.record_month(office, hospital.organisation)
    assert sent["counts"] == 3 and len(sent["problems"]) == 1 and "Intensive Care Unit" in sent["problems"][0]
    assert ManualCount.objects.get(measure=library, month=month, unit__code="icu").source == "Entered by hand"


# --- pages and API --------------------------------------------------------------------------------

def test_pages_add_a_requirement_import_a_file_and_show_compliance(client, office, hospital, library, make_user):
    client.force_login(office)
    response = client.post(reverse("medstaff:training_requirement_new"), {
        "course_code": "HH", "title": "Hand hygiene", "kind": "competency", "job_roles": "RN, HCA",
        "unit": "", "renewal_months": "12"})
    assert response.status_code == 302
    refused = client.post(reverse("medstaff:training_requirement_new"), {
        "course_code": "hh", "title": "Again", "kind": "training", "job_roles": " , ", "unit": ""})
    assert refused.status_code == 400
    assert "already required" in refused.content.decode() and "at least one job role" in refused.content.decode()
    bad = client.post(reverse("medstaff:training_import"), {
        "file": upload(HEADER + f"E1,A,rgh/4w,RN,HH,{ago(3)},\nE2,B,rgh/zz,RN,HH,{ago(3)},\n")})
    page = bad.content.decode()
    assert bad.status_code == 400 and "Nothing was imported:" in page and "&#x27;rgh/zz&#x27; is not a unit" in page
    assert stored() == (0, 0, 0, 0)
    good = client.post(reverse("medstaff:training_import"), {
        "file": upload(HEADER + f"E1,A,rgh/4w,RN,HH,{ago(3)},\nE2,<b>B</b>,rgh/4w,HCA,HH,{ago(800)},\n")})
    assert good.status_code == 302
    page = client.get(reverse("medstaff:training_compliance")).content.decode()
    assert "4 West Medical" in page and "50.0 %" in page and "Monthly chart" not in page  # no measures.view
    client.force_login(make_user(Role.QUALITY_ANALYST, "rgh"))
    page = client.get(reverse("medstaff:training_compliance")).content.decode()
    assert f'/measures/m/{training.MEASURE_KEY}/?unit={hospital.unit("rgh/4w").pk}">Monthly chart' in page
    unit = client.get(reverse("medstaff:training_unit", args=[hospital.unit("rgh/4w").pk])).content.decode()
    assert "&lt;b&gt;B&lt;/b&gt;" in unit and "expired" in unit
    client.force_login(make_user(Role.UNIT_MANAGER, "lch/2a"))
    outside = reverse("medstaff:training_compliance") + f"?unit={hospital.unit('rgh/4w').pk}"
    assert client.get(outside).status_code == 403
    page = client.get(reverse("medstaff:training_compliance")).content.decode()
    assert "2A Medical" in page and "4 West Medical" not in page
    assert client.get(reverse("medstaff:training_requirements")).status_code == 403


def test_the_api_creates_imports_and_reads_compliance(client, office, hospital, required, library):
    _, token = services.issue_token(office, "t")
    headers = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/medstaff/training/requirements", {
        "course_code": "FIRE", "title": "Fire safety", "job_roles": ["RN"], "renewal_months": 12,
        "unit_id": hospital.unit("rgh/4w").pk}, content_type="application/json", headers=headers)
    assert made.status_code == 201 and made.json()["job_roles"] == ["RN"]
    again = client.post("/api/v1/medstaff/training/requirements", {
        "course_code": "fire", "title": "Fire", "job_roles": ["RN"]}, content_type="application/json", headers=headers)
    assert again.status_code == 422 and again.json()["detail"][0]["loc"] == ["body", "course_code"]
    bad = client.post("/api/v1/medstaff/training/imports", {"file": upload(HEADER + "E1,A,rgh/4w,RN,HH,nope,\n")},
                      headers=headers)
    assert bad.status_code == 200 and bad.json()["problems"] == [
        {"row": 2, "field": "completed_on", "reason": "'nope' is not a date as YYYY-MM-DD"}]
    good = client.post("/api/v1/medstaff/training/imports", {"file": upload(WORKED)}, headers=headers)
    assert good.status_code == 200 and good.json()["stored"] == 9
    answer = client.get("/api/v1/medstaff/training/compliance", {"on": TODAY.isoformat()}, headers=headers).json()
    units = {u["code"]: (u["compliant"], u["required"], u["share"]) for u in answer["units"]}
    assert units["rgh/medicine"] == (5, 8, 5 / 8)  # FIRE is required of E1 in 4 West too, and not done
    assert units["lch/2a"] == (1, 2, 0.5)
    sent = client.post("/api/v1/medstaff/training/record-month", {"month": "2199-01"},
                       content_type="application/json", headers=headers).json()
    assert sent["counts"] == 0 and "has not begun" in sent["problems"][0]


# --- fuzzing (the pattern of test_input_boundaries.py, a small budget) --------------------------------

VALID = [["employee_id", "name", "unit", "job_role", "course_code", "completed_on", "expires_on"],
         ["E1", "Ana", "rgh/4w", "RN", "HH", "2025-01-03", ""],
         ["E2", "Ben", "lch/2a", "HCA", "HH", "2025-02-04", "2026-02-04"]]


@st.composite
def hostile_file(draw) -> bytes:
    table = [[draw(st.one_of(st.just(cell), st.just(cell), hostile_cell())) for cell in row] for row in VALID]
    out = io.StringIO()
    csv.writer(out).writerows(table)
    return out.getvalue().encode("utf-8" if draw(st.booleans()) else "latin-1", errors="replace")


@hypothesis_settings(max_examples=examples(15), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=hostile_file())
def test_fuzz_the_completions_import(client, office, required, data):
    client.force_login(office)
    before = stored()
    response = client.post(reverse("medstaff:training_import"), {"file": upload(data)})
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        assert stored() == before
    for person in TrainingPerson.objects.all():
        assert person.name.strip() and "\x00" not in person.name and len(person.name) <= training.NAME_MAX


@pytest.mark.django_db(transaction=True)  # the job runs in the worker, which commits (test_jobs.py)
def test_a_large_file_is_imported_by_a_job_and_a_bad_one_fails_it_with_the_reasons(client, hospital, make_user,
                                                                                   settings, tmp_path):
    from django.core.management import call_command

    from andon.platform.models import Job

    settings.DATA_DIR, settings.ANDON_IMPORT_JOB_ROWS = tmp_path, 4
    office = make_user(Role.MEDICAL_STAFF_OFFICE, "", username="office")
    training.create_requirement(office, organisation=hospital.organisation, course_code="HH", title="Hand hygiene",
                                job_roles=["RN", "HCA", "Physician"], renewal_months=12)
    client.force_login(office)
    bad = HEADER + "".join(f"E{n},P{n},rgh/4w,RN,HH,{ago(n)},\n" for n in range(1, 5))
    bad += f"E9,P9,rgh/4w,RN,XX,{ago(1)},\n"
    response = client.post(reverse("medstaff:training_import"), {"file": upload(bad, "big.csv")})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("platform:job", args=[job.pk])
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error.startswith("1 of 5 rows have problems; nothing was imported.")
    assert "Row 6, course_code: 'XX' is not the course of any requirement" in job.error
    assert stored() == (0, 0, 0, 0) and not list((tmp_path / "imports").glob("training-*"))
    client.post(reverse("medstaff:training_import"), {"file": upload(bad.replace(",XX,", ",HH,"), "big.csv")})
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    done = Job.objects.exclude(pk=job.pk).get()
    assert done.status == Job.Status.SUCCEEDED, done.traceback
    assert (done.result["rows"], done.result["stored"], done.progress_done, done.progress_total) == (5, 5, 5, 5)
    assert TrainingPerson.objects.count() == 5 and TrainingImport.objects.get().filename == "big.csv"
