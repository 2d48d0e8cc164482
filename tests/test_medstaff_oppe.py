"""OPPE (issue 19 item 4): a Medicine profile over made-up stays whose attendings include one
outlier on readmission; the department's page shows them outside the 99.8% limits on the worse
side (and those with too few cases apart), the practitioner's page their chart, values and cases
(to those who may see them: their own, the chair), the reviewer's decision starting an FPPE;
configuration refuses bad input; the period warning at twelve months."""

from datetime import date
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.analytics.fhir import ingest, store, synthetic
from andon.analytics.kpi import periods as period_math
from andon.measures import services as measures
from andon.medstaff import services as medstaff
from andon.medstaff.models import Fppe, OppeDecision, Practitioner
from andon.platform import content
from andon.platform.roles import Role

REPO = Path(__file__).resolve().parent.parent
OUTLIER = "syn-9-prac-w4-0"


def window():
    """The 12 complete months before this one."""
    this_month = period_math.start_of(timezone.localdate(), "month")
    first = this_month
    for _ in range(12):
        first = period_math.start_of(date.fromordinal(first.toordinal() - 1), "month")
    return first, date.fromordinal(this_month.toordinal() - 1)


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    first, _last = window()
    options = synthetic.Options(900, first, 12, ["w4"], "ed", seed=9, readmission_rate=0.15, practitioners_per_ward=6,
                                outliers={OUTLIER: 40})
    folder = tmp_path_factory.mktemp("oppe")
    synthetic.write_ndjson(options, folder / "ndjson")
    connection = store.connect(folder / "fhir.duckdb")
    ingest.load_paths(connection, [folder / "ndjson"], progress=False)
    connection.close()
    return folder / "fhir.duckdb"


@pytest.fixture
def medicine(db, hospital, make_user, population, settings, tmp_path):
    settings.ANDON_FHIR_STORE = population
    settings.ANDON_CASES_DIR = tmp_path / "cases"
    content.load_content([REPO / "content" / "measures"])
    office = make_user(Role.MEDICAL_STAFF_OFFICE, "")
    department = hospital.unit("rgh/medicine")
    doctors = {}
    for n in range(6):
        account = make_user(Role.PRACTITIONER, "rgh/medicine") if n in (0, 1) else None
        # one of them filed under a ward of Medicine: the department's evaluation holds them too
        home = hospital.unit("rgh/4w") if n == 5 else department
        doctors[n] = Practitioner.objects.create(
            organisation=department.facility.organisation, department=home, family_name=f"Doctor{n}",
            given_name="Test", degree="MD", fhir_id=f"syn-9-prac-w4-{n}", user=account, created_by=office)
    medstaff.configure_oppe(office, department, indicators=[
        {"measure_key": "readmission-30-day", "minimum_cases": 10, "target": 12},
        {"measure_key": "average-length-of-stay"}])
    first, last = window()
    measures.compute_measures(["readmission-30-day", "average-length-of-stay"], first=first, last=last)
    return department, office, doctors


def test_the_department_shows_the_outlier_on_the_funnel_plot(medicine, make_user, client):
    department, _office, doctors = medicine
    chair = make_user(Role.DEPARTMENT_CHAIR, "rgh/medicine")
    profile = medstaff.access_oppe_profile(chair, department.pk)
    evaluation = medstaff.evaluate_department(chair, profile)
    readmission = next(i for i in evaluation.indicators if i.measure.key == "readmission-30-day")
    assert [row.practitioner for row in readmission.outliers] == [doctors[0]]
    assert readmission.funnel is not None and readmission.department.cases == sum(
        r.value.cases for r in [*readmission.rows, *readmission.too_few])
    assert not evaluation.periodic_warning
    client.force_login(chair)
    page = client.get(reverse("medstaff:oppe_department", args=[department.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "outlier: worse, outside 99.8% limits" in text and "Outlier (outside the 99.8% limits, worse): Test Doctor0" in text
    assert "<svg" in text


def test_too_few_cases_are_listed_apart_and_not_plotted(medicine, make_user):
    department, office, doctors = medicine
    medstaff.configure_oppe(office, department, period_months=12, indicators=[
        {"measure_key": "readmission-30-day", "minimum_cases": 10_000}])
    chair = make_user(Role.DEPARTMENT_CHAIR, "rgh/medicine")
    evaluation = medstaff.evaluate_department(chair, medstaff.access_oppe_profile(chair, department.pk))
    readmission = evaluation.indicators[0]
    assert readmission.rows == [] and readmission.funnel is None and len(readmission.too_few) == 6
    assert all(row.value.shown == f"too few cases ({row.value.cases})" for row in readmission.too_few)
    assert "periodic, not ongoing" in evaluation.periodic_warning


def test_the_practitioner_reads_their_own_oppe_and_no_one_elses(medicine, client):
    department, _office, doctors = medicine
    me, colleague = doctors[1], doctors[0]
    client.force_login(me.user)
    assert client.get(reverse("medstaff:oppe_mine")).url == reverse("medstaff:oppe_practitioner", args=[me.pk])
    page = client.get(reverse("medstaff:oppe_practitioner", args=[me.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "30-day all-cause readmission" in text and 'data-chart="spc"' in text
    oppe = medstaff.practitioner_oppe(me.user, me)
    readmission = oppe.indicators[0]
    assert readmission.cases is None  # a practitioner is no reader of patient-level data
    assert not oppe.may_decide and "oppe-decide" not in text
    assert client.get(reverse("medstaff:oppe_practitioner", args=[colleague.pk])).status_code == 403
    assert client.get(reverse("medstaff:oppe_department", args=[department.pk])).status_code == 403


def test_the_chair_sees_the_cases_and_decides_an_fppe(medicine, make_user, client):
    _department, _office, doctors = medicine
    chair = make_user(Role.DEPARTMENT_CHAIR, "rgh/medicine")
    outlier = doctors[0]
    oppe = medstaff.practitioner_oppe(chair, outlier)
    readmission = oppe.indicators[0]
    assert readmission.cases and len(readmission.cases) == readmission.own.cases
    assert all(case["encounter_id"].startswith("Encounter/") for case in readmission.cases)
    assert readmission.own.value > readmission.department.value
    client.force_login(chair)
    answer = client.post(reverse("medstaff:oppe_decide", args=[outlier.pk]),
                         {"decision": "fppe", "reason": "Readmissions outside the 99.8% limits"})
    assert answer.status_code == 302
    decision = OppeDecision.objects.get(practitioner=outlier)
    assert decision.decision == "fppe" and decision.fppe.trigger == "oppe"
    assert Fppe.objects.filter(practitioner=outlier).count() == 1
    with pytest.raises(ValidationError):
        medstaff.decide_oppe(chair, outlier, decision="continue", reason="  ")
    with pytest.raises(ValidationError):
        medstaff.decide_oppe(chair, outlier, decision="maybe", reason="why")
    assert OppeDecision.objects.count() == 1


def test_configuration_refuses_what_cannot_be_evaluated(medicine, make_user):
    department, office, _doctors = medicine
    for indicators, words in (
            ([{"measure_key": "no-such-measure"}], "no active measure"),
            ([{"measure_key": "falls"}], "name no practitioner"),
            ([{"measure_key": "readmission-30-day", "minimum_cases": 0}], "minimum count"),
            ([], "at least one")):
        with pytest.raises(ValidationError, match=words):
            medstaff.configure_oppe(office, department, indicators=indicators)
    with pytest.raises(ValidationError, match="period"):
        medstaff.configure_oppe(office, department, period_months=0, indicators=[{"measure_key": "readmission-30-day"}])
    assert [i.measure_key for i in medstaff.access_oppe_profile(office, department.pk).indicators.all()] == [
        "readmission-30-day", "average-length-of-stay"]
    with pytest.raises(PermissionDenied):
        medstaff.configure_oppe(make_user(Role.DEPARTMENT_CHAIR, "rgh/medicine"), department,
                                indicators=[{"measure_key": "readmission-30-day"}])


def test_the_demo_medicine_profile_shows_its_outlier(demo_hospital):
    """The demo's data: the Medicine profile's readmissions by practitioner over its period put
    the 4 West outlier beyond the 99.8% limits (read through the measures' services, so that it
    holds before the practitioners' records are made from the store)."""
    from andon.medstaff.models import OppeProfile

    profile = OppeProfile.objects.get(department__facility__code="rgh", department__code="medicine")
    assert [i.measure_key for i in profile.indicators.all()] == [
        "readmission-30-day", "average-length-of-stay", "in-hospital-mortality"]
    first, last = medstaff.oppe_period(profile)
    measure = measures.measures_by_keys(["readmission-30-day"])["readmission-30-day"]
    medicine = [f"syn-2026-prac-{ward}-{n}" for ward in ("rgh-4w", "rgh-5e") for n in range(10)]
    values = measures.practitioner_results(measure, first, last, medicine, minimum=10)
    assert len(values) == 20
    _chart, points, centre = measures.practitioner_funnel(measure, values, {}, "Readmissions")
    beyond = {key for key, point in points.items() if point.outside == "alarm" and point.value > centre}
    assert beyond == {"syn-2026-prac-rgh-4w-0"}
