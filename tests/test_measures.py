"""The measure registry and its computations: the shipped library loads; SQL measures on the
shared Synthea patients, one stratified, agree with counts computed here from the raw NDJSON in
plain Python; an eCQM's monthly results add up to the CMS test cases' expected populations;
event rates use the census of the same unit and month; counts entered by hand or CSV, with a
validation report; recomputing replaces results and records the version and data load."""

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError

from andon.analytics.cql import content as ecqm_content
from andon.analytics.fhir import ingest, store
from andon.measures import definitions, services
from andon.measures.models import Domain, ManualCount, Measure, MeasureResult
from andon.platform import content
from andon.platform.content import ContentError
from andon.platform.roles import Role
from andon.safety.models import SafetyEvent

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "content" / "measures"
SHARED = REPO.parent / "shared"
SYNTHEA = SHARED / "data" / "synthea-10-patients"
ECQM = SHARED / "conformance" / "ecqm-qicore-2024"
FIRST, LAST = date(1984, 1, 1), date(1990, 12, 31)


@pytest.fixture
def library(db):
    content.load_content([LIBRARY])
    return {m.key: m for m in Measure.objects.all()}


def test_the_library_covers_the_six_domains_with_at_least_15_measures(library):
    listed = [m for m in library.values() if m.listed]
    assert len(listed) >= 15
    assert {m.domain for m in listed} == set(Domain.values)
    for key in ("average-length-of-stay", "readmission-30-day", "in-hospital-mortality", "falls", "injurious-falls",
                "medication-events", "hand-hygiene", "clabsi", "cauti", "pressure-injuries", "vte-prophylaxis",
                "severe-hypoglycemia", "severe-hyperglycemia", "cesarean-birth", "stroke-anticoagulation",
                "hybrid-readmission-cohort"):
        assert key in library, key
    assert library["falls"].multiplier == 1000 and library["falls"].unit_label == "per 1,000 patient days"
    assert library["hand-hygiene"].target == 90


def test_reloading_the_library_changes_nothing_and_a_changed_version_is_refused(library, tmp_path):
    loaded = {m.key: m.loaded_at for m in Measure.objects.all()}
    content.load_content([LIBRARY])
    assert {m.key: m.loaded_at for m in Measure.objects.all()} == loaded
    changed = (LIBRARY / "falls.yaml").read_text().replace("Falls per 1,000 patient days", "Falls (changed)", 1)
    folder = tmp_path / "measures"
    folder.mkdir()
    (folder / "falls.yaml").write_text(changed)
    with pytest.raises(ContentError, match="already loaded with different content"):
        content.load_content([folder])
    (folder / "falls.yaml").write_text(changed.replace(f'version: "{library["falls"].version}"', 'version: "2099.1"'))
    content.load_content([folder])
    falls = Measure.objects.get(key="falls")
    assert (falls.version, falls.title) == ("2099.1", "Falls (changed)")


@pytest.mark.parametrize(("change", "message"), [
    (("domain: safe", "domain: speedy"), "domain: 'speedy' is not one of"),
    (("kind: events", "kind: magic"), "source.kind: 'magic' is not one of"),
    (("denominator: {measure: inpatient-days}", "denominator: 3"), "source.denominator: required"),
    (("multiplier: 1000", "multiplier: -5"), "multiplier: must be greater than 0"),
])
def test_a_wrong_definition_names_the_file_and_field(db, tmp_path, change, message):
    folder = tmp_path / "measures"
    folder.mkdir()
    (folder / "falls.yaml").write_text((LIBRARY / "falls.yaml").read_text().replace(*change))
    with pytest.raises(ContentError, match=message) as raised:
        content.load_content([folder])
    assert "falls.yaml" in str(raised.value)
    assert not Measure.objects.exists()


@pytest.mark.parametrize(("name", "change", "message"), [
    # a key the loader does not know is refused, not dropped: at the top, in each kind of source
    ("ed-length-of-stay", ("aggregate: median", "agregate: median"), r"yaml\.agregate: not a key"),
    ("falls", ("  kinds: [incident]", "  kinds: [incident]\n  unit_kind: [ward]"), r"source\.unit_kind: not a key"),
    ("falls", ("{measure: inpatient-days}", "{measure: inpatient-days, per: 1000}"), r"denominator\.per: not a key"),
    ("readmission-30-day", ("  kind: sql", "  kind: sql\n  window_days: 30"), r"source\.window_days: not a key"),
    ("vte-prophylaxis", ("kind: ecqm,", "kind: ecqm, version: 2024,"), r"source\.version: not a key"),
    ("hand-hygiene", ("kind: manual,", "kind: manual, sql: x,"), r"source\.sql: not a key"),
    # and every key it knows is checked
    ("ed-length-of-stay", ("aggregate: median", "aggregate: mode"), "aggregate: 'mode' is not one of mean, median"),
    ("falls", ("scoring: rate", "scoring: rate\naggregate: median"), "aggregate: only a continuous measure"),
    ("falls", ("scoring: rate", "scoring: continuous"), "scoring: a continuous measure needs the values"),
    ("falls", ("unit_kinds: [ward]", "unit_kinds: [ward, castle]"), "unit_kinds: castle given"),
    ("falls", ("confirmed_only: true", "confirmed_only: sometimes"), "confirmed_only: expected true or false"),
    ("falls", ("owner_role:", "listed: nope\nowner_role:"), "listed: expected true or false"),
    ("falls", ("owner_role:", "method: some words\nowner_role:"), "method: expected a list of sentences"),
])
def test_the_loader_refuses_keys_it_does_not_know_and_checks_those_it_does(name, change, message):
    text = (LIBRARY / f"{name}.yaml").read_text()
    assert change[0] in text
    with pytest.raises(ContentError, match=message) as raised:
        definitions.check(yaml.safe_load(text.replace(*change)), f"{name}.yaml")
    assert str(raised.value).startswith(f"{name}.yaml.")  # the file, then the field


@pytest.mark.parametrize(("sql", "message"), [
    ("DROP TABLE encounter", "exactly one SELECT"),
    ("SELECT * FROM resources", "not views"),
])
def test_measure_sql_must_be_one_select_over_the_views(db, tmp_path, sql, message):
    folder = tmp_path / "measures"
    folder.mkdir()
    text = (LIBRARY / "ed-length-of-stay.yaml").read_text()
    head = text[:text.index("  sql: |")]
    (folder / "ed.yaml").write_text(head + f"  sql: {json.dumps(sql)}\n")
    with pytest.raises(ContentError, match=message):
        content.load_content([folder])


# --- SQL measures on Synthea, against plain Python ----------------------------------------------

def ndjson(name):
    return [json.loads(line) for line in (SYNTHEA / f"{name}.000.ndjson").read_text().splitlines() if line.strip()]


def instant(text):
    return datetime.fromisoformat(text).astimezone(UTC)


def month_of(moment) -> date:
    return date(moment.year, moment.month, 1)


class Synthea:
    """The shared Synthea export read with plain Python: inpatient stays and patients."""

    def __init__(self):
        self.patients = {p["id"]: p for p in ndjson("Patient")}
        self.stays = [e for e in ndjson("Encounter") if e["class"]["code"] == "IMP" and e["status"] == "finished"
                      and e["period"].get("start") and e["period"].get("end")]

    @staticmethod
    def patient_id(encounter):
        return encounter["subject"]["reference"].split("/")[-1]

    def in_range(self, moment):
        return FIRST <= moment.date() <= LAST

    def died(self, stay):
        disposition = (((stay.get("hospitalization") or {}).get("dischargeDisposition") or {}).get("coding") or [{}])[0]
        deceased = self.patients[self.patient_id(stay)].get("deceasedDateTime")
        within = deceased and instant(stay["period"]["start"]) <= instant(deceased) <= instant(stay["period"]["end"])
        return disposition.get("code") == "exp" or bool(within)


@pytest.fixture(scope="module")
def synthea_store(tmp_path_factory):
    if not SYNTHEA.is_dir():
        pytest.skip(f"the shared Synthea patients are not at {SYNTHEA}")
    path = tmp_path_factory.mktemp("measures-store") / "fhir.duckdb"
    connection = store.connect(path)
    ingest.load_paths(connection, [SYNTHEA], progress=False)
    connection.close()
    return path


@pytest.fixture
def synthea(library, synthea_store, settings):
    settings.ANDON_FHIR_STORE = synthea_store
    return Synthea()


def stored(key, unit=None, stratum="", value=""):
    rows = MeasureResult.objects.filter(measure__key=key, period_kind="month", unit=unit, stratum=stratum,
                                        stratum_value=value)
    return {r.period_start: r for r in rows}


def test_length_of_stay_mortality_and_readmission_match_plain_python(synthea):
    done = services.compute_measures(["average-length-of-stay", "in-hospital-mortality", "readmission-30-day"],
                                     first=FIRST, last=LAST)
    assert [d.error for d in done] == ["", "", ""]
    los, deaths, discharges = defaultdict(list), Counter(), Counter()
    for stay in synthea.stays:
        end = instant(stay["period"]["end"])
        if synthea.in_range(end):
            days = (date.fromisoformat(stay["period"]["end"][:10]) - date.fromisoformat(stay["period"]["start"][:10])).days
            los[month_of(end)].append(max(1, days))
            discharges[month_of(end)] += 1
            deaths[month_of(end)] += synthea.died(stay)
    assert los, "the Synthea export has inpatient stays in the range"
    results = stored("average-length-of-stay")
    assert set(results) == set(los)
    for month, values in los.items():
        assert results[month].value == pytest.approx(sum(values) / len(values))
        assert (results[month].cases, results[month].numerator) == (len(values), sum(values))
    mortality = stored("in-hospital-mortality")
    assert {m: (r.numerator, r.denominator) for m, r in mortality.items()} == {
        m: (deaths[m], discharges[m]) for m in discharges}
    assert all(r.value == pytest.approx(100 * r.numerator / r.denominator) for r in mortality.values())
    # (No Synthea stay in the range ends in death; the numerator of a death is in the KPI tests.)


def test_drill_down_lists_the_kept_cases_of_a_cell_and_is_audited(synthea, make_user):
    from auditlog.models import LogEntry

    from andon.measures import results

    services.compute_measures(["average-length-of-stay"], first=FIRST, last=LAST)
    busiest = max(stored("average-length-of-stay").values(), key=lambda r: r.cases)
    analyst = make_user(Role.QUALITY_ANALYST)
    measure = Measure.objects.get(key="average-length-of-stay")
    found = results.cases_behind(analyst, measure, period_start=busiest.period_start)
    expected = sorted(f"Encounter/{s['id']}" for s in synthea.stays
                      if month_of(instant(s["period"]["end"])) == busiest.period_start)
    assert sorted(c["case_id"] for c in found) == expected and len(found) == busiest.cases
    assert sum(c["value"] for c in found) == busiest.numerator
    female = results.cases_behind(analyst, measure, period_start=busiest.period_start, stratum="sex", value="female")
    assert {c["patient_id"] for c in female} <= {f"Patient/{p}" for p, v in synthea.patients.items() if v["gender"] == "female"}
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.actor == analyst and "sex = female" in entry.additional_data["reason"]
    with pytest.raises(PermissionDenied):
        results.cases_behind(make_user(Role.BOARD_MEMBER), measure, period_start=busiest.period_start)


def readmissions(synthea):
    """(month, sex) -> [readmitted, index stays], by the definition in readmission-30-day.yaml."""
    counts = defaultdict(lambda: [0, 0])
    for index in synthea.stays:
        end = instant(index["period"]["end"])
        patient = synthea.patients[synthea.patient_id(index)]
        disposition = (((index.get("hospitalization") or {}).get("dischargeDisposition") or {}).get("coding") or [{}])[0]
        deceased = patient.get("deceasedDateTime")
        if not synthea.in_range(end) or disposition.get("code") in ("exp", "other-hcf", "aadvice"):
            continue
        if deceased and instant(deceased) <= end:
            continue
        # days since the discharge date, as CMS counts them (not 30 × 24 hours)
        discharged = date.fromisoformat(index["period"]["end"][:10])
        readmitted = any(
            other["id"] != index["id"] and synthea.patient_id(other) == patient["id"]
            and end < instant(other["period"]["start"])
            and date.fromisoformat(other["period"]["start"][:10]) <= discharged + timedelta(days=30)
            for other in synthea.stays)
        for sex in ("", patient["gender"]):
            counts[(month_of(end), sex)][0] += readmitted
            counts[(month_of(end), sex)][1] += 1
    return counts


def test_readmission_stratified_by_sex_matches_plain_python(synthea):
    services.compute_measures(["readmission-30-day"], first=FIRST, last=LAST)
    expected = readmissions(synthea)
    assert sum(n for n, _ in expected.values()) >= 1, "some index stays are followed by a readmission"
    for sex in ("", "female", "male"):
        rows = stored("readmission-30-day", stratum="sex" if sex else "", value=sex)
        assert {m: [r.numerator, r.denominator] for m, r in rows.items()} == {
            m: v for (m, s), v in expected.items() if s == sex}, sex


def patient_days(synthea, location=None):
    days = Counter()
    for stay in synthea.stays:
        if location and stay["location"][0]["location"]["reference"] != location:
            continue
        admitted = date.fromisoformat(stay["period"]["start"][:10])
        discharged = date.fromisoformat(stay["period"]["end"][:10])
        day = admitted
        while day <= max(discharged - timedelta(days=1), admitted):
            if FIRST <= day <= LAST:
                days[date(day.year, day.month, 1)] += 1
            day += timedelta(days=1)
    return days


def test_patient_days_by_unit_through_the_location_map(synthea, hospital, make_user):
    from andon.measures import results

    places = {s["location"][0]["location"]["reference"] for s in synthea.stays}
    location, other = sorted(places, key=lambda place: (-sum(patient_days(synthea, place).values()), place))[:2]
    assert patient_days(synthea, other), "two places have stays in the range"
    analyst = make_user(Role.QUALITY_ANALYST)
    ward = hospital.unit("rgh/4w")
    services.map_unit(analyst, "location", location, ward)
    services.map_unit(analyst, "location", other, hospital.unit("rgh/5e"))
    services.compute_measures(["inpatient-days"], first=FIRST, last=LAST)
    assert {m: r.numerator for m, r in stored("inpatient-days").items()} == patient_days(synthea)
    assert {m: r.numerator for m, r in stored("inpatient-days", unit=ward).items()} == patient_days(synthea, location)
    # Medicine, the service line above 4 West and 5 East, holds both wards' days
    medicine = hospital.unit("rgh/medicine")
    both = patient_days(synthea, location) + patient_days(synthea, other)
    assert {m: r.numerator for m, r in stored("inpatient-days", unit=medicine).items()} == both
    # its drill-down lists the days of each ward below it
    for place, unit in ((location, ward), (other, hospital.unit("rgh/5e"))):
        busiest = max(patient_days(synthea, place), key=patient_days(synthea, place).get)
        days = results.cases_behind(analyst, Measure.objects.get(key="inpatient-days"), period_start=busiest,
                                    unit=medicine)
        assert len(days) == both[busiest] and str(unit.pk) in {d["unit_key"] for d in days}


def test_recomputing_replaces_results_and_records_version_and_load(synthea):
    services.compute_measures(["in-hospital-mortality"], first=FIRST, last=LAST)
    before = list(MeasureResult.objects.order_by("pk").values_list("period_start", "unit", "stratum", "stratum_value",
                                                                   "numerator", "denominator"))
    services.compute_measures(["in-hospital-mortality"], first=FIRST, last=LAST)
    after = list(MeasureResult.objects.order_by("pk").values_list("period_start", "unit", "stratum", "stratum_value",
                                                                  "numerator", "denominator"))
    assert before == after and len(after) > 12
    row = MeasureResult.objects.first()
    assert row.definition_version == "2026.2"
    assert row.data_load.startswith(f"FHIR store: {len(list(SYNTHEA.glob('*.ndjson')))} files, last loaded ")
    assert {r.stratum for r in MeasureResult.objects.all()} == {"", "age_band", "sex", "race", "ethnicity", "payer"}


def test_without_clinical_data_a_measure_says_why_and_keeps_its_results(library, settings, tmp_path):
    settings.ANDON_FHIR_STORE = tmp_path / "none.duckdb"
    done = services.compute_measures(["average-length-of-stay"], first=FIRST, last=LAST)
    assert done[0].error == "average-length-of-stay: no clinical data is loaded (andon fhir load)"
    with pytest.raises(ValidationError, match="no active measure nonsense"):
        services.compute_measures(["nonsense"], first=FIRST, last=LAST)


# --- aggregates and windows on a hand-made store ------------------------------------------------

def encounter(eid, pid, klass, start, end):
    return {"resourceType": "Encounter", "id": eid, "status": "finished", "subject": {"reference": f"Patient/{pid}"},
            "class": {"code": klass}, "period": {"start": start, "end": end}}


ED_HOURS = {date(2025, 1, 1): [1, 2, 9], date(2025, 2, 1): [2, 3, 4, 11]}  # means 4 and 5, medians 2 and 3.5
HAND_MADE = [
    {"resourceType": "Patient", "id": "pa", "gender": "female", "birthDate": "1950-01-01"},
    {"resourceType": "Patient", "id": "pb", "gender": "male", "birthDate": "1950-01-01"},
    {"resourceType": "Patient", "id": "pc", "gender": "male", "birthDate": "1950-01-01", "deceasedDateTime": "2025-01-10"},
    {"resourceType": "Patient", "id": "pd", "gender": "female", "birthDate": "1990-01-01"},
    # discharged 5 January 10:00; readmitted 4 February 12:00, 30 days and 2 hours later: within 30 days
    encounter("a1", "pa", "IMP", "2025-01-01T08:00:00Z", "2025-01-05T10:00:00Z"),
    encounter("a2", "pa", "IMP", "2025-02-04T12:00:00Z", "2025-02-06T10:00:00Z"),
    # discharged 5 January 10:00; readmitted 5 February 09:00, 31 days after the discharge date: outside
    encounter("b1", "pb", "IMP", "2025-01-01T08:00:00Z", "2025-01-05T10:00:00Z"),
    encounter("b2", "pb", "IMP", "2025-02-05T09:00:00Z", "2025-02-07T10:00:00Z"),
    # died on the day of admission, recorded as a date without a time, no "expired" disposition
    encounter("c1", "pc", "IMP", "2025-01-10T15:00:00Z", "2025-01-12T10:00:00Z"),
    *[encounter(f"d{month:%m}{i}", "pd", "EMER", f"{month:%Y-%m}-0{i + 1}T08:00:00Z", f"{month:%Y-%m}-0{i + 1}T{8 + h:02d}:00:00Z")
      for month, hours in ED_HOURS.items() for i, h in enumerate(hours)],
]


@pytest.fixture(scope="module")
def hand_made_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("hand-made-store") / "fhir.duckdb"
    connection = store.connect(path)
    for resource in HAND_MADE:
        connection.execute("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)",
                           [resource["resourceType"], resource["id"], json.dumps(resource)])
    connection.close()
    return path


# --- the drill-down for chart review -------------------------------------------------------------

def person(pid, official, mrn, born, gender, old_name=None):
    """A patient as an EHR sends them: an older name listed first, the MRN among other identifiers."""
    names = ([{"use": "old", "family": old_name, "given": ["X"]}] if old_name else []) + [
        {"use": "official", "family": official[0], "given": official[1]}]
    identifiers = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]},
                    "value": f"999-00-{pid[-1]}"}]
    if mrn:
        identifiers.append({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                 "code": "MR"}]}, "system": "urn:riverside:mrn", "value": mrn})
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": born, "name": names,
            "identifier": identifiers}


def stay(eid, pid, start, end, place):
    return {**encounter(eid, pid, "IMP", start, end), "location": [{"location": {"reference": f"Location/{place}"}}]}


WARD = [
    person("r1", ("Ortiz", ["Dana", "Marie"]), "MRN-0001", "1950-03-15", "female", old_name="Lopez"),
    person("r2", ("Abbott", ["Lee"]), "MRN-0042", "1990-03-20", "male"),  # 35 the day after discharge: 34
    person("r3", ("Zhang", ["Wei"]), "MRN-0007", "2000-03-10", "female"),
    person("r4", ("brown", ["Sam"]), None, "1980-07-01", "male"),  # no MRN in the record; lower-case family
    person("r5", ("Nakamura", ["Aiko"]), "MRN-0100", "1940-12-31", "female"),
    stay("s1", "r1", "2025-03-01T08:00:00Z", "2025-03-05T10:00:00Z", "4w"),
    stay("s2", "r2", "2025-03-10T08:00:00Z", "2025-03-19T16:00:00Z", "4w"),
    stay("s3", "r3", "2025-03-12T08:00:00Z", "2025-03-14T12:00:00Z", "5e"),
    stay("s4", "r4", "2025-03-15T08:00:00Z", "2025-03-20T03:30:00Z", "5e"),  # 19 March, 22:30 in Chicago
    stay("s5", "r5", "2025-03-20T08:00:00Z", "2025-03-28T09:00:00Z", "4w"),
    stay("s6", "r1", "2025-03-06T08:00:00Z", "2025-03-09T10:00:00Z", "4w"),  # readmitted the day after
]
MARCH = date(2025, 3, 1)


def reviewed(resource_id):
    """A stay of WARD as a reviewer reads it, worked out here from the resources: the official name,
    the MR identifier, the age in whole years on the UTC date of discharge (as its age band)."""
    found = {r["id"]: r for r in WARD}
    visit = found[resource_id]
    patient = found[visit["subject"]["reference"].split("/")[1]]
    name = next(n for n in patient["name"] if n["use"] == "official")
    mrn = [i["value"] for i in patient["identifier"] if i["type"]["coding"][0]["code"] == "MR"]
    born, counted = date.fromisoformat(patient["birthDate"]), instant(visit["period"]["end"]).date()
    return {"name": f"{name['family']}, {' '.join(name['given'])}", "mrn": mrn[0] if mrn else None,
            "age": counted.year - born.year - ((counted.month, counted.day) < (born.month, born.day)),
            "sex": patient["gender"], "admitted": instant(visit["period"]["start"]),
            "discharged": instant(visit["period"]["end"]), "place": visit["location"][0]["location"]["reference"]}


@pytest.fixture
def ward(library, tmp_path, settings, hospital, make_user):
    path = tmp_path / "fhir.duckdb"
    connection = store.connect(path)
    for resource in WARD:
        connection.execute("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)",
                           [resource["resourceType"], resource["id"], json.dumps(resource)])
    connection.close()
    settings.ANDON_FHIR_STORE = path
    analyst = make_user(Role.QUALITY_ANALYST)
    services.map_unit(analyst, "location", "4w", hospital.unit("rgh/4w"))
    done = services.compute_measures(["average-length-of-stay", "readmission-30-day"], first=MARCH,
                                     last=date(2025, 3, 31))
    assert [d.error for d in done] == ["", ""]
    return analyst


def test_the_drill_down_shows_each_patient_as_the_fhir_data_gives_them(ward, hospital, make_user, monkeypatch):
    from auditlog.models import LogEntry

    from andon.measures import results

    measure = Measure.objects.get(key="average-length-of-stay")
    expected = {f"Encounter/{r['id']}": reviewed(r["id"]) for r in WARD if r["resourceType"] == "Encounter"}
    assert expected["Encounter/s2"]["age"] == 34 and expected["Encounter/s4"]["mrn"] is None

    def shown(review):
        return {r["case_id"]: {"name": f"{r['family']}, {r['given']}", "mrn": r["mrn"], "age": r["age"], "sex": r["sex"],
                               "admitted": r["admitted"], "discharged": r["discharged"],
                               "place": "Location/4w" if r["unit_name"] == "4 West Medical" else "Location/5e"}
                for r in review.rows}

    found = results.review_cases(ward, measure, period_start=MARCH, sort="age", descending=True)
    assert found.total == len(expected) == stored("average-length-of-stay")[MARCH].cases
    assert shown(found) == expected
    assert [r["age"] for r in found.rows] == sorted((f["age"] for f in expected.values()), reverse=True)
    for column, key in (("name", lambda f: f["name"].lower()), ("admitted", lambda f: f["admitted"]),
                        ("discharged", lambda f: f["discharged"])):
        ordered = results.review_cases(ward, measure, period_start=MARCH, sort=column)
        assert [r["case_id"] for r in ordered.rows] == sorted(expected, key=lambda c: (key(expected[c]), c)), column
    by_mrn = results.review_cases(ward, measure, period_start=MARCH, sort="mrn", descending=True)
    assert [r["mrn"] for r in by_mrn.rows] == ["MRN-0100", "MRN-0042", "MRN-0007", "MRN-0001", "MRN-0001", None]
    by_value = results.review_cases(ward, measure, period_start=MARCH, sort="value")
    assert [r["value"] for r in by_value.rows] == [2, 3, 4, 5, 8, 9]  # days between the dates
    # one page at a time, in the order asked for; a page past the last is the last
    monkeypatch.setattr(results, "REVIEW_PAGE", 4)
    second = results.review_cases(ward, measure, period_start=MARCH, sort="name", page=2)
    by_name = sorted(expected, key=lambda c: (expected[c]["name"].lower(), c))
    assert (second.page, second.pages, [r["case_id"] for r in second.rows]) == (2, 2, by_name[4:])
    viewings = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count()
    assert results.review_cases(ward, measure, period_start=MARCH, sort="name", page=9).page == 2
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count() == viewings + 1  # one viewing, one entry
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk").additional_data["reason"].endswith(
        "page 2 (6 cases)")
    monkeypatch.setattr(results, "REVIEW_PAGE", 50)
    # by name or MRN, whatever the case of the letters; by unit (the ward the place is mapped to)
    for text, cases in (("ORTIZ", {"Encounter/s1", "Encounter/s6"}), ("dana m", {"Encounter/s1", "Encounter/s6"}),
                        ("mrn-00", {"Encounter/s1", "Encounter/s6", "Encounter/s2", "Encounter/s3"}),
                        ("brown", {"Encounter/s4"}), ("Lopez", set())):
        hits = results.review_cases(ward, measure, period_start=MARCH, search=text)
        assert {r["case_id"] for r in hits.rows} == cases, text
    on_ward = results.review_cases(ward, measure, period_start=MARCH, unit=hospital.unit("rgh/4w"))
    assert {r["case_id"] for r in on_ward.rows} == {c for c, f in expected.items() if f["place"] == "Location/4w"}
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.actor == ward and "4 West Medical" in entry.additional_data["reason"]
    with pytest.raises(PermissionDenied):  # a unit outside the grant
        results.review_cases(make_user(Role.QUALITY_ANALYST, "rgh/5e"), measure, period_start=MARCH,
                             unit=hospital.unit("rgh/4w"))


def test_the_drill_down_filters_by_numerator_and_denominator(ward):
    from andon.measures import results

    cell = stored("readmission-30-day")[MARCH]
    assert cell.numerator == 1  # Dana Ortiz, readmitted the day after
    measure = Measure.objects.get(key="readmission-30-day")

    def cases(counted):
        found = results.review_cases(ward, measure, period_start=MARCH, counted=counted)
        assert len(found.rows) == found.total
        return {r["case_id"] for r in found.rows}

    assert cases("numerator") == {"Encounter/s1"}
    assert (len(cases("")), len(cases("denominator")), len(cases("not-numerator")), len(cases("excluded"))) == (
        cell.cases, cell.denominator, cell.denominator - cell.numerator, cell.cases - cell.denominator)
    assert cases("not-numerator") == cases("denominator") - {"Encounter/s1"}


def test_the_drill_down_page_sorts_and_its_csv_export_is_audited(ward, client, sign_in_with_mfa, settings):
    import csv
    import io
    from zoneinfo import ZoneInfo

    from auditlog.models import LogEntry
    from django.urls import reverse

    from andon.measures.views import CASES_CSV

    settings.TIME_ZONE = "America/Chicago"  # the organisation's: times are shown in it, not in UTC
    chicago = ZoneInfo("America/Chicago")
    expected = {f"Encounter/{r['id']}": reviewed(r["id"]) for r in WARD if r["resourceType"] == "Encounter"}
    sign_in_with_mfa(ward)
    query = {"period": "2025-03", "sort": "age", "dir": "desc"}
    page = client.get(reverse("measures:cases", args=["average-length-of-stay"]), query).content.decode()
    names = re.findall(r'<tr data-case="[^"]*">\s*<td>([^<]*)</td>', page)
    by_age = sorted(expected.values(), key=lambda f: -f["age"])
    assert [html_unescape(n) for n in names] == [f["name"] for f in by_age] and 'aria-sort="descending"' in page
    assert "2025-03-19 22:30" in page and "2025-03-20 03:30" not in page  # Sam Brown's discharge, in Chicago

    response = client.get(reverse("measures:cases_csv", args=["average-length-of-stay"]), {**query, "q": "mrn-00"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert list(rows[0]) == CASES_CSV
    wanted = sorted((c for c, f in expected.items() if "mrn-00" in (f["mrn"] or "").lower()),
                    key=lambda c: (-expected[c]["age"], c))
    assert [r["case"] for r in rows] == wanted
    for row in rows:
        fact = expected[row["case"]]
        assert (row["name"], row["mrn"], int(row["age"]), row["sex"], row["admitted"], row["discharged"]) == (
            fact["name"], fact["mrn"], fact["age"], fact["sex"], f"{fact['admitted'].astimezone(chicago):%Y-%m-%d %H:%M}",
            f"{fact['discharged'].astimezone(chicago):%Y-%m-%d %H:%M}")
    assert {r["unit"] for r in rows} == {"4 West Medical", ""}
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.actor == ward and entry.object_pk == str(Measure.objects.get(key="average-length-of-stay").pk)
    reason = entry.additional_data["reason"]
    assert reason.startswith("exported to CSV the patients behind 2025-03") and "search: 'mrn-00'" in reason
    assert "sorted by age descending" in reason and "(4 cases)" in reason
    # a filter that is not one is refused with what and where, and nothing is exported
    refused = client.get(reverse("measures:cases_csv", args=["average-length-of-stay"]), {**query, "sort": "shoe"})
    assert refused.status_code == 400 and "sort" in refused.content.decode()
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk") == entry


def html_unescape(text):
    import html

    return html.unescape(text)


def test_each_aggregate_is_the_statistic_of_the_cases_worked_here(library, hand_made_store, settings, tmp_path):
    import statistics

    from andon.measures import exchange, results

    settings.ANDON_FHIR_STORE = hand_made_store
    folder = tmp_path / "measures"
    folder.mkdir()  # the same measure with the mean: one definition per aggregate, on the same cases
    (folder / "ed-mean.yaml").write_text((LIBRARY / "ed-length-of-stay.yaml").read_text().replace(
        "key: ed-length-of-stay", "key: ed-mean").replace("aggregate: median", "aggregate: mean"))
    content.load_content([folder])
    done = services.compute_measures(["ed-length-of-stay", "ed-mean"], first=date(2025, 1, 1), last=date(2025, 2, 28))
    assert [d.error for d in done] == ["", ""]
    for key, statistic in (("ed-length-of-stay", statistics.median), ("ed-mean", statistics.mean)):
        assert {m: r.value for m, r in stored(key).items()} == {m: statistic(h) for m, h in ED_HOURS.items()}, key
    assert stored("ed-length-of-stay")[date(2025, 1, 1)].value == 2  # not the mean, 4
    ed = Measure.objects.get(key="ed-length-of-stay")
    report = exchange.report_bundle(ed, MeasureResult.objects.filter(measure=ed, unit=None, stratum=""), "Riverside")
    assert [e["resource"]["group"][0]["measureScore"]["value"] for e in report["entry"]] == [2, 3.5]
    # the equity comparison over the months: the median of every case, not of the monthly values
    rows, _ = results.compare(ed, stratum="sex")
    every = [h for hours in ED_HOURS.values() for h in hours]
    assert [(r.label, r.value) for r in rows] == [("female", statistics.median(every))]
    assert statistics.median(every) != statistics.mean(every)


def test_readmission_counts_days_since_discharge_and_a_dated_death_counts_within_the_stay(library, hand_made_store,
                                                                                        settings):
    settings.ANDON_FHIR_STORE = hand_made_store
    services.compute_measures(["readmission-30-day", "in-hospital-mortality"], first=date(2025, 1, 1),
                              last=date(2025, 2, 28))
    assert (date(2025, 2, 4) - date(2025, 1, 5)).days == 30 and (date(2025, 2, 5) - date(2025, 1, 5)).days == 31
    january, february = date(2025, 1, 1), date(2025, 2, 1)
    readmission = stored("readmission-30-day")
    # index stays of January: a1 (readmitted on day 30, two hours after the hour of discharge) and
    # b1 (readmitted on day 31); c1 ended in death
    assert (readmission[january].numerator, readmission[january].denominator) == (1, 2)
    assert (readmission[february].numerator, readmission[february].denominator) == (0, 2)
    mortality = stored("in-hospital-mortality")
    assert (mortality[january].numerator, mortality[january].denominator) == (1, 3)


# --- event-derived rates ------------------------------------------------------------------------

def fall(hospital, unit, when, injury, kind="incident", triaged=True):
    """A fall as reported and, unless `triaged` is False, confirmed in triage."""
    return SafetyEvent.objects.create(kind=kind, category="fall", taxonomy_version="2026.1", unit=hospital.unit(unit),
                                      occurred_at=when, reported_at=when, narrative="Found on the floor", harm="none",
                                      details={"injury_level": injury}, triaged_at=when if triaged else None)


def test_fall_rates_over_the_census_of_the_same_unit_and_month(synthea, hospital, make_user, safety_taxonomy):
    location = Counter(s["location"][0]["location"]["reference"] for s in synthea.stays).most_common(1)[0][0]
    ward = hospital.unit("rgh/4w")
    services.map_unit(make_user(Role.QUALITY_ANALYST), "location", location, ward)
    days = patient_days(synthea, location)
    busiest = max(days, key=days.get)
    when = datetime(busiest.year, busiest.month, 3, 10, tzinfo=UTC)
    fall(hospital, "rgh/4w", when, "none")
    fall(hospital, "rgh/4w", when + timedelta(days=1), "major")
    fall(hospital, "rgh/5e", when, "minor")  # a ward with no census: counted, no rate
    fall(hospital, "rgh/4w", when, "minor", kind="near_miss")  # not a fall that happened
    services.compute_measures(["inpatient-days", "falls", "injurious-falls"], first=FIRST, last=LAST)
    falls = stored("falls", unit=ward)[busiest]
    assert (falls.numerator, falls.denominator) == (2, days[busiest])
    assert falls.value == pytest.approx(2 / days[busiest] * 1000)
    injurious = stored("injurious-falls", unit=ward)[busiest]
    assert (injurious.numerator, injurious.value) == (1, pytest.approx(1000 / days[busiest]))
    elsewhere = stored("falls", unit=hospital.unit("rgh/5e"))[busiest]
    assert (elsewhere.numerator, elsewhere.denominator, elsewhere.value) == (1, 0, None)
    everywhere = stored("falls")[busiest]
    assert (everywhere.numerator, everywhere.denominator) == (3, patient_days(synthea)[busiest])
    # the service line above both wards: their falls over its census (only 4 West's days are mapped)
    medicine = stored("falls", unit=hospital.unit("rgh/medicine"))[busiest]
    assert (medicine.numerator, medicine.denominator) == (3, days[busiest])


def test_medication_events_by_ncc_merp_category(synthea, hospital, safety_taxonomy):
    when = datetime(1986, 5, 4, 9, tzinfo=UTC)
    for category in ("C", "C", "E"):
        SafetyEvent.objects.create(kind="incident", category="medication", taxonomy_version="2026.1",
                                   unit=hospital.unit("rgh/4w"), occurred_at=when, reported_at=when, narrative="x",
                                   harm="none", details={"ncc_merp": category, "process_stage": "administering"},
                                   triaged_at=when)
    services.compute_measures(["inpatient-days", "medication-events"], first=FIRST, last=LAST)
    may = date(1986, 5, 1)
    census = stored("inpatient-days")[may].numerator
    assert stored("medication-events", stratum="ncc_merp", value="C")[may].numerator == 2
    assert stored("medication-events", stratum="ncc_merp", value="E")[may].value == pytest.approx(1000 / census)
    assert stored("medication-events")[may].numerator == 3


def test_event_rates_count_confirmed_events_of_wards_by_default_and_the_page_says_so(
        library, hospital, safety_taxonomy, make_user, client, sign_in_with_mfa, tmp_path, settings):
    from zoneinfo import ZoneInfo

    from andon.measures import compute

    settings.TIME_ZONE = "America/New_York"
    march = date(2025, 3, 1)
    census = library["inpatient-days"]
    ward, ed = hospital.unit("rgh/4w"), hospital.unit("rgh/ed")
    services.replace_results(census, "month", march, date(2025, 4, 1), [
        compute.Cell(march, None, "", "", 1000, 1000.0, 0.0, 1000.0),
        compute.Cell(march, ward.pk, "", "", 400, 400.0, 0.0, 400.0)], "test census")
    when = datetime(2025, 3, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))  # 1 April in UTC: March's, locally
    fall(hospital, "rgh/4w", when, "none")  # confirmed, on a ward: counted
    fall(hospital, "rgh/ed", when, "none")  # the ED has no inpatient days: not counted
    fall(hospital, "rgh/4w", when, "minor", triaged=False)  # the reporter's category, not yet confirmed
    folder = tmp_path / "measures"
    folder.mkdir()  # the same rate with the other choices, written in its definition
    (folder / "falls-all.yaml").write_text((LIBRARY / "falls.yaml").read_text().replace("key: falls", "key: falls-all")
                                           .replace("unit_kinds: [ward]", "unit_kinds: [ward, department]")
                                           .replace("confirmed_only: true", "confirmed_only: false"))
    content.load_content([folder])
    done = services.compute_measures(["falls", "falls-all"], first=march, last=date(2025, 3, 31))
    assert [d.error for d in done] == ["", ""]
    falls = stored("falls")[march]
    assert (falls.numerator, falls.denominator, falls.value) == (1, 1000, 1.0)
    assert stored("falls", unit=ward)[march].numerator == 1 and march not in stored("falls", unit=ed)
    assert stored("falls-all")[march].numerator == 3 and stored("falls-all", unit=ed)[march].numerator == 1
    sign_in_with_mfa(make_user(Role.QUALITY_ANALYST))
    from django.urls import reverse

    page = client.get(reverse("measures:measure", args=["falls"])).content.decode()
    assert "Units counted: events on wards only, over the inpatient-days census of the same units and period." in page
    assert "Confirmed only: events whose category a safety officer confirmed in triage" in page
    described = client.get("/api/v1/measures/falls").json()  # the API says the same
    assert described["method"][0].startswith("Units counted: events on wards only") and described["compute_error"] == ""
    other = client.get(reverse("measures:measure", args=["falls-all"])).content.decode()
    assert "events on departments, wards only" not in other and "events on wards, departments only" in other
    assert "Reports not yet triaged count" in other
    readmission = client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()
    assert "at most 30 days after the discharge date (days since discharge, as CMS counts them)" in readmission


def test_an_event_rate_without_its_census_or_with_an_unknown_category_says_why(library, safety_taxonomy, tmp_path):
    from andon.measures import compute

    march, april = date(2025, 3, 1), date(2025, 4, 1)
    done = services.compute_measures(["falls"], first=march, last=date(2025, 3, 31))
    assert done[0].error == ("falls: its denominator inpatient-days has no results for these periods; "
                             "compute inpatient-days first (it needs clinical data)")
    assert Measure.objects.get(key="falls").compute_error == done[0].error
    services.replace_results(library["inpatient-days"], "month", march, april,
                             [compute.Cell(march, None, "", "", 9, 9.0, 0.0, 9.0)], "test census")
    folder = tmp_path / "measures"
    folder.mkdir()  # a misspelt category would count nothing, and read as a perfect record
    (folder / "slips.yaml").write_text((LIBRARY / "falls.yaml").read_text().replace("key: falls", "key: slips")
                                       .replace("category: fall", "category: slip"))
    content.load_content([folder])
    done = services.compute_measures(["falls", "slips"], first=march, last=date(2025, 3, 31))
    assert [d.error for d in done] == ["", "slips: the event taxonomy has no category 'slip'"]
    assert Measure.objects.get(key="falls").compute_error == ""  # cleared by the computation that succeeded

# --- counts entered by hand or CSV --------------------------------------------------------------

def test_counts_entered_by_hand_and_summed_by_quarter(library, hospital, make_user):
    manager = make_user(Role.UNIT_MANAGER, "rgh/4w")
    hygiene = library["hand-hygiene"]
    services.enter_count(manager, hygiene, hospital.unit("rgh/4w"), date(2025, 1, 1), 18, 20)
    services.enter_count(manager, hygiene, hospital.unit("rgh/4w"), date(2025, 2, 1), 9, 10)
    services.enter_count(manager, hygiene, hospital.unit("rgh/4w"), date(2025, 2, 1), 8, 10)  # a correction
    with pytest.raises(PermissionDenied):
        services.enter_count(manager, hygiene, hospital.unit("rgh/5e"), date(2025, 1, 1), 1, 2)
    with pytest.raises(ValidationError, match="larger than the denominator"):
        services.enter_count(manager, hygiene, hospital.unit("rgh/4w"), date(2025, 3, 1), 21, 20)
    services.compute_measures(["hand-hygiene"], kind="quarter", first=date(2025, 1, 1), last=date(2025, 3, 31))
    row = MeasureResult.objects.get(measure=hygiene, period_kind="quarter", unit=None)
    assert (row.numerator, row.denominator, row.value) == (26, 30, pytest.approx(26 / 30 * 100))
    assert row.data_load.startswith("counts entered as of ")
    done = services.compute_measures(["hand-hygiene"], kind="week", first=date(2025, 1, 1), last=date(2025, 3, 31))
    assert "entered by month" in done[0].error


def test_counts_from_another_module_in_one_call_replace_their_own_and_compute_once(library, hospital, make_user):
    """enter_counts_from (a survey file's counts for every unit and month): stored, results for
    each month and unit, a re-send replaces the source's own, a count entered by hand is kept and
    the whole call refused by name (nothing of it stored)."""
    lead, manager = make_user(Role.QUALITY_ANALYST), make_user(Role.UNIT_MANAGER, "rgh/4w")
    hygiene = library["hand-hygiene"]
    ward, icu = hospital.unit("rgh/4w"), hospital.unit("rgh/icu")
    jan, feb = date(2025, 1, 1), date(2025, 2, 1)
    stored = services.enter_counts_from(lead, hygiene, [(ward, jan, 18, 20), (icu, jan, 5, 10), (ward, feb, 7, 10)],
                                        source="Survey file A")
    assert stored == 3
    cell = {(r.unit_id, r.period_start): (r.numerator, r.denominator)
            for r in MeasureResult.objects.filter(measure=hygiene, period_kind="month", stratum="")}
    assert cell[(ward.pk, jan)] == (18, 20) and cell[(icu.pk, jan)] == (5, 10) and cell[(ward.pk, feb)] == (7, 10)
    services.enter_counts_from(lead, hygiene, [(ward, jan, 19, 20)], source="Survey file A")  # a re-send
    assert ManualCount.objects.get(measure=hygiene, unit=ward, month=jan).numerator == 19
    services.enter_count(manager, hygiene, ward, feb, 1, 10)  # entered by hand: never replaced by a module
    with pytest.raises(ValidationError, match="4 West Medical already has a count for 2025-02"):
        services.enter_counts_from(lead, hygiene, [(icu, feb, 3, 4), (ward, feb, 2, 2)], source="Survey file A")
    assert not ManualCount.objects.filter(measure=hygiene, unit=icu, month=feb).exists()
    with pytest.raises(ValidationError, match="larger than the denominator"):
        services.enter_counts_from(lead, hygiene, [(icu, feb, 5, 4)], source="Survey file A")


def test_a_csv_with_any_wrong_row_stores_nothing_and_says_where(library, hospital, make_user):
    analyst = make_user(Role.QUALITY_ANALYST)
    clabsi = library["clabsi"]
    text = ("unit,month,numerator,denominator\n"
            "rgh/4w,2025-01,1,310\n"
            "rgh/nowhere,2025-01,0,100\n"
            "rgh/5e,January,0,100\n"
            "rgh/icu,2025-01,x,100\n"
            "rgh/4w,2025-01,2,300\n"
            "rgh/5e,2025-02,1,200,7\n")  # a cell too many: a comma in a value shifted the row
    report = services.import_counts_csv(analyst, clabsi, text, "clabsi.csv")
    assert report.errors == [
        (3, "unit 'rgh/nowhere' is not a unit (write facility/unit codes, e.g. rgh/4w)"),
        (4, "month: 'January' is not a month as YYYY-MM"),
        (5, "numerator: 'x' is not a number (write it like 12 or 12.5)"),
        (6, "the same unit and month as line 2"),
        (7, "5 cells where the header names 4 columns; the row's cells may have shifted"),
    ]
    assert report.rows == 6 and report.stored == 0 and not ManualCount.objects.exists()
    good = "unit,month,numerator,denominator\nrgh/4w,2025-01,1,310\nrgh/icu,2025-01,2,150\n"
    report = services.import_counts_csv(analyst, clabsi, good, "clabsi.csv")
    assert report.ok and report.stored == 2
    assert ManualCount.objects.get(unit=hospital.unit("rgh/icu")).source == "Imported from clabsi.csv"
    missing = services.import_counts_csv(analyst, clabsi, "unit,month\nrgh/4w,2025-01\n", "short.csv")
    assert missing.errors == [(1, "the header must name the columns unit, month, numerator, denominator; "
                                  "missing numerator, denominator")]


# --- small-cell suppression of exports -----------------------------------------------------------

def _cell(pk, cases, numerator=None, denominator=None, unit=None, stratum="", value="", parent=None):
    from types import SimpleNamespace

    return SimpleNamespace(pk=pk, period_kind="month", period_start=date(2025, 1, 1), unit_id=unit,
                           unit=SimpleNamespace(parent_id=parent) if unit else None, stratum=stratum,
                           stratum_value=value, cases=cases, numerator=cases if numerator is None else numerator,
                           denominator=cases if denominator is None else denominator)


def test_small_cells_and_their_complements_are_withheld():
    from andon.measures.exchange import small_cells

    proportion = Measure(key="p", scoring="proportion")
    cells = [_cell(1, 100, 30, 100),
             _cell(2, 95, 29, 95, stratum="sex", value="female"), _cell(3, 5, 1, 5, stratum="sex", value="male"),
             _cell(4, 80, 25, 80, stratum="race", value="white"), _cell(5, 12, 3, 12, stratum="race", value="black"),
             _cell(6, 8, 2, 8, stratum="race", value="asian"),
             _cell(7, 60, 18, 60, unit=1), _cell(8, 25, 12, 25, unit=2), _cell(9, 15, 0, 15, unit=3)]
    # male (5) is small, and female, its only sibling, would give it away; asian (8) and black (3 in
    # the numerator) are small: two hidden, only their sum can be worked out, so white stays;
    # unit 3 (15 cases, none in the numerator) is not small
    assert small_cells(proportion, cells, 11) == {2, 3, 5, 6}
    assert small_cells(proportion, cells, 0) == set() and small_cells(proportion, cells, 1) == set()
    units = [_cell(1, 100, 40, 100), _cell(7, 60, 20, 60, unit=1), _cell(8, 30, 15, 30, unit=2), _cell(9, 10, 5, 10, unit=3)]
    assert small_cells(proportion, units, 11) == {9, 8}  # the smallest other ward hides it from subtraction
    # wards add up to their department, departments to the organisation: siblings are those of one parent
    tree = [_cell(1, 100, 40, 100), _cell(10, 70, 28, 70, unit=10), _cell(20, 30, 12, 30, unit=20),
            _cell(11, 40, 20, 40, unit=11, parent=10), _cell(12, 25, 8, 25, unit=12, parent=10),
            _cell(13, 5, 2, 5, unit=13, parent=10), _cell(21, 30, 12, 30, unit=21, parent=20)]
    assert small_cells(proportion, tree, 11) == {13, 12}
    # a continuous measure's numerator is a sum of values (days), not people
    los = Measure(key="los", scoring="continuous")
    assert small_cells(los, [_cell(1, 50, 5, 50), _cell(2, 3, 400, 3, unit=1)], 11) == {2}
    # a rate's denominator is an exposure (patient days): only its events count
    falls = Measure(key="falls", scoring="rate")
    assert small_cells(falls, [_cell(1, 12, 12, 4), _cell(2, 11, 11, 9000, unit=1)], 11) == set()


# --- an eCQM, against the CMS test cases' expected populations ----------------------------------

def ecqm_test_cases_store(folder: Path, measure: str):
    """A FHIR store (folder/fhir.duckdb) of a CMS measure's test patients, case number N's ids
    prefixed `cN-`: (its path, the test cases)."""
    if not ECQM.is_dir():
        pytest.skip(f"the shared eCQM content is not at {ECQM}")
    cases = ecqm_content.load_cases([ECQM], measure)
    (folder / "ndjson").mkdir()
    lines = []
    for number, case in enumerate(cases):
        resources = [r for r in case.resources if r.get("resourceType") != "MeasureReport" and r.get("id")]
        ids = {f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}/c{number}-{r['id']}" for r in resources}
        for resource in resources:
            copy = ecqm_content.rename_references(resource, ids)
            copy["id"] = f"c{number}-{resource['id']}"
            lines.append(json.dumps(copy))
    (folder / "ndjson" / "cases.ndjson").write_text("\n".join(lines) + "\n")
    path = folder / "fhir.duckdb"
    connection = store.connect(path)
    ingest.load_paths(connection, [folder / "ndjson"], progress=False)
    connection.close()
    return path, cases


@pytest.fixture
def vte_store(tmp_path, settings, library):
    settings.ANDON_FHIR_STORE, cases = ecqm_test_cases_store(tmp_path, "CMS108VTEProphylaxisFHIR")
    settings.ANDON_ECQM_CONTENT = [ECQM]
    return cases


def test_an_ecqm_by_month_adds_up_to_the_test_cases_expected_populations(vte_store, make_user):
    period = {case.period for case in vte_store}
    assert len(period) == 1
    start, end = (date.fromisoformat(p[:10]) for p in period.pop())
    done = services.compute_measures(["vte-prophylaxis"], first=start, last=end, jobs=1)
    assert done[0].error == "" and done[0].counts["errors"] == 0
    expected_numerator = sum(c.expected()[0].get("numerator", 0) for c in vte_store)
    expected_denominator = sum(c.expected()[0].get("denominator", 0) - c.expected()[0].get("denominator-exclusion", 0)
                               for c in vte_store)
    months = stored("vte-prophylaxis")
    assert len(months) >= 2, "the test episodes end in several months"
    assert sum(r.numerator for r in months.values()) == expected_numerator
    assert sum(r.denominator for r in months.values()) == expected_denominator
    assert sum(r.cases for r in months.values()) == sum(c.expected()[0].get("initial-population", 0) for c in vte_store)
    from andon.measures import results

    busiest = max(months.values(), key=lambda r: r.cases)
    episodes = results.cases_behind(make_user(Role.CMO), Measure.objects.get(key="vte-prophylaxis"),
                                    period_start=busiest.period_start)
    assert len(episodes) == busiest.cases and all(e["encounter_id"].startswith("Encounter/c") for e in episodes)
    assert sum(e["numerator"] for e in episodes) == busiest.numerator


def test_a_computation_evaluates_its_ecqms_in_one_pass_each_as_computed_alone(vte_store, monkeypatch):
    from andon.analytics.cql import run

    start, end = (date.fromisoformat(p[:10]) for p in vte_store[0].period)

    def results():
        rows = MeasureResult.objects.filter(measure__key="vte-prophylaxis")
        return sorted((r.period_start, r.unit_id, r.stratum, r.stratum_value, r.cases, r.numerator, r.denominator, r.value)
                      for r in rows)

    services.compute_measures(["vte-prophylaxis"], first=start, last=end, jobs=1)
    alone = results()
    passes = []
    one_pass = run.run_cases_together

    def counted(store, folders, runs, **options):
        passes.append(runs)
        return one_pass(store, folders, runs, **options)

    monkeypatch.setattr(run, "run_cases_together", counted)
    done = services.compute_measures(["vte-prophylaxis", "severe-hypoglycemia"], first=start, last=end, jobs=1)
    assert len(passes) == 1 and {measure for measure, _ in passes[0]} == {"CMS108VTEProphylaxisFHIR", "CMS816HHHypoFHIR"}
    assert next(d for d in done if d.measure == "vte-prophylaxis").error == ""
    assert results() == alone and alone


def test_why_an_ecqm_case_is_in_or_out_agrees_with_its_test_case(vte_store, make_user, settings, tmp_path):
    from auditlog.models import LogEntry

    from andon.measures import results, why

    start, end = (date.fromisoformat(p[:10]) for p in vte_store[0].period)
    services.compute_measures(["vte-prophylaxis"], first=start, last=end, jobs=1)
    measure = Measure.objects.get(key="vte-prophylaxis")
    cmo = make_user(Role.CMO)
    busiest = max(stored("vte-prophylaxis").values(), key=lambda r: r.cases)
    kept = results.cases_behind(cmo, measure, period_start=busiest.period_start)
    # a test patient with one episode: the case's populations are the test case's expected counts
    single = [c for c in kept if vte_store[int(c["patient_id"][1:].partition("-")[0])].expected()[0]["initial-population"] == 1]
    assert any(c["numerator"] for c in single) and any(not c["numerator"] for c in single)
    for case in single[:6]:
        explained = why.explain_case(cmo, measure, period_start=busiest.period_start, case_id=case["case_id"])
        expected = vte_store[int(case["patient_id"][1:].partition("-")[0])].expected()[0]
        holds = {p.code: p.holds for p in explained.populations}
        assert holds == {code: expected.get(code, 0) == 1 for code in holds} and holds["initial-population"]
        assert explained.measurement_period == (start.isoformat(), end.isoformat())  # as the computation evaluated it
        assert explained.episode == case["case_id"].partition("|")[2] and explained.disagreement == ""
        root = next(s for s in explained.steps if s.depth == 0 and s.name.endswith(".Initial Population"))
        assert explained.episode in root.resources
    reasons = [e.additional_data["reason"] for e in LogEntry.objects.filter(action=LogEntry.Action.ACCESS)]
    assert sum(r.startswith("why case ") for r in reasons) == 6
    with pytest.raises(LookupError):
        why.explain_case(cmo, measure, period_start=busiest.period_start, case_id="c0-nobody|Encounter/x")
    with pytest.raises(PermissionDenied):
        why.explain_case(make_user(Role.PATIENT_SAFETY_OFFICER), measure, period_start=busiest.period_start,
                         case_id=single[0]["case_id"])
    # the store reloaded without the patient: said, not explained from nothing
    empty = tmp_path / "empty.duckdb"
    store.connect(empty).close()
    settings.ANDON_FHIR_STORE = empty
    with pytest.raises(why.Unexplained, match="no longer in the FHIR store"):
        why.explain_case(cmo, measure, period_start=busiest.period_start, case_id=single[0]["case_id"])


def test_the_drill_down_links_each_ecqm_case_to_why(vte_store, make_user, client, sign_in_with_mfa):
    import html
    import re

    from django.urls import reverse

    start, end = (date.fromisoformat(p[:10]) for p in vte_store[0].period)
    services.compute_measures(["vte-prophylaxis"], first=start, last=end, jobs=1)
    busiest = max(stored("vte-prophylaxis").values(), key=lambda r: r.cases)
    sign_in_with_mfa(make_user(Role.QUALITY_ANALYST))
    links, number = [], 1
    while True:  # every page of the drill-down (50 cases a page)
        listing = client.get(reverse("measures:cases", args=["vte-prophylaxis"]),
                             {"period": f"{busiest.period_start:%Y-%m}", "page": number}).content.decode()
        links += re.findall(r'href="([^"]*/cases/why/[^"]*)"', listing)
        if 'rel="next"' not in listing:
            break
        number += 1
    assert number == -(-busiest.cases // 50) and len(links) == len(set(links)) == busiest.cases
    page = client.get(html.unescape(links[0]))
    assert page.status_code == 200
    text = page.content.decode()
    case_id = re.search(r"case=([^&]*)", html.unescape(links[0])).group(1)
    patient, _, episode = case_id.replace("%7C", "|").replace("%2F", "/").partition("|")
    assert f"Patient/{patient}" in text and f"<mark>{episode}</mark>" in text
    assert "Initial population" in text and "Measurement period" in text
    hostile = client.get(reverse("measures:case_why", args=["vte-prophylaxis"]),
                         {"period": f"{busiest.period_start:%Y-%m}", "case": "<script>alert(1)</script>"})
    assert hostile.status_code == 404 and b"<script>alert(1)" not in hostile.content


def test_the_command_line_computes_measures_and_says_which_failed(library, settings, tmp_path, capsys):
    from andon.cli import main

    settings.ANDON_FHIR_STORE = tmp_path / "none.duckdb"
    manager = library["hand-hygiene"]
    assert main(["compute-measures", "--from", "2025-01-01", "--to", "2025-03-31", "--measure", manager.key,
                 "--measure", "average-length-of-stay", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "hand-hygiene: hand-hygiene: no counts are entered for these periods" in out
    assert "average-length-of-stay: average-length-of-stay: no clinical data is loaded" in out
    assert main(["compute-measures", "--from", "2025-13-01", "--to", "2025-03-31"]) == 2


def test_the_places_page_lists_the_ehr_places_and_maps_one(synthea, client, hospital, make_user, sign_in_with_mfa):
    from django.urls import reverse

    location = Counter(s["location"][0]["location"]["reference"] for s in synthea.stays).most_common(1)[0][0]
    sign_in_with_mfa(make_user(Role.QUALITY_ANALYST))
    page = client.get(reverse("measures:mappings")).content.decode()
    assert location in page and "not mapped" in page
    ward = hospital.unit("rgh/4w")
    response = client.post(reverse("measures:mappings"), {"kind": "location", "external_id": location, "unit": ward.pk})
    assert response.status_code == 302
    places = {(p["kind"], p["place"]): p for p in services.places_in_store()}
    assert places[("location", location)]["unit"] == ward
    encounters = Counter(e["location"][0]["location"]["reference"] for e in ndjson("Encounter") if e.get("location"))
    assert places[("location", location)]["encounters"] == encounters[location]


def test_an_analyst_of_one_hospital_maps_ehr_places_only_to_its_units(hospital, make_user, client, sign_in_with_mfa):
    """Mapping a place decides whose patients a unit's drill-down lists: an analyst of Lakeside may
    not map a place into Riverside, nor take Riverside's place into Lakeside (its patients would
    then be theirs to list)."""
    from django.urls import reverse

    from andon.measures.models import UnitMapping

    services.map_unit(make_user(Role.QUALITY_ANALYST), "location", "Location/rgh-4w", hospital.unit("rgh/4w"))
    lakeside = make_user(Role.QUALITY_ANALYST, "lch")
    with pytest.raises(PermissionDenied):
        services.map_unit(lakeside, "location", "Location/new", hospital.unit("rgh/5e"))
    with pytest.raises(PermissionDenied):
        services.map_unit(lakeside, "location", "Location/rgh-4w", hospital.unit("lch/2a"))
    assert UnitMapping.objects.get(external_id="Location/rgh-4w").unit == hospital.unit("rgh/4w")
    assert services.map_unit(lakeside, "location", "Location/lch-2a", hospital.unit("lch/2a")).unit.code == "2a"
    sign_in_with_mfa(lakeside)
    page = client.get(reverse("measures:mappings")).content.decode()
    # The form offers their units only (the table of places above it lists what the shared FHIR
    # store holds, which other tests may have filled).
    offered = re.search(r'<select name="unit".*?</select>', page, re.S).group(0)
    assert "2A Medical" in offered and "4 West Medical" not in offered
    refused = client.post(reverse("measures:mappings"), {"kind": "location", "external_id": "Location/x",
                                                         "unit": hospital.unit("rgh/4w").pk})
    assert refused.status_code == 200 and not UnitMapping.objects.filter(external_id="Location/x").exists()
