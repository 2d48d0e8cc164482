"""Attribution of cases to practitioners (andon/analytics/kpi/attribution.py) on the shared
Synthea and eCQM patients, against what plain Python reads from the raw JSON files (not the
views, not the engine), and on made-up encounters for the rule's edge cases."""

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from andon.analytics import kpi
from andon.analytics.fhir import ingest, store
from andon.analytics.kpi.attribution import UNATTRIBUTED

REPO = Path(__file__).resolve().parents[2]
VIEWS = kpi.load_view_definitions(REPO / "content" / "views")
SHARED = REPO.parent / "shared"
SYNTHEA = SHARED / "data" / "synthea-10-patients"
ECQM_CASES = SHARED / "conformance" / "ecqm-qicore-2024" / "tests"
NPI = "http://hl7.org/fhir/sid/us-npi"
ENCOUNTERS = """SELECT id AS case_id, patient_id, id AS encounter_id, period_end AS "at", class_code = 'IMP' AS numerator
                FROM encounter WHERE class_code = $klass"""


def ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expected_practitioner(encounter: dict, npi_to_id: dict[str, str]) -> str | None:
    """Plain Python: ATND else PPRF (one each in these files), its NPI from the conditional
    reference, the Practitioner resource's id by that NPI, else npi:<value>."""
    for role in ("ATND", "PPRF"):
        for participant in encounter.get("participant", []):
            codes = [c.get("code") for t in participant.get("type", []) for c in t.get("coding", [])]
            if role not in codes:
                continue
            reference = participant["individual"]["reference"]
            if reference.startswith("Practitioner/"):
                return reference.split("/", 1)[1]
            system, value = reference.split("?identifier=", 1)[1].split("|", 1)
            assert system == NPI
            return npi_to_id.get(value, f"npi:{value}")
    return None


@pytest.fixture(scope="module")
def synthea():
    if not SYNTHEA.is_dir():
        pytest.skip(f"the shared Synthea patients are not at {SYNTHEA}: attribution is checked against them")
    connection = store.connect()
    ingest.load_paths(connection, [SYNTHEA], progress=False)
    npi_to_id = {i["value"]: p["id"] for p in ndjson(SYNTHEA / "Practitioner.000.ndjson")
                 for i in p.get("identifier", []) if i.get("system") == NPI}
    encounters = ndjson(SYNTHEA / "Encounter.000.ndjson")
    workspace = kpi.Workspace.for_sql(connection, VIEWS, ["SELECT * FROM encounter"], attribution=True)
    yield workspace, encounters, npi_to_id
    workspace.close()
    connection.close()


def test_each_synthea_encounter_is_attributed_to_its_primary_performers_practitioner(synthea):
    workspace, encounters, npi_to_id = synthea
    expected = {f"Encounter/{e['id']}": expected_practitioner(e, npi_to_id) for e in encounters}
    found = dict(workspace.connection.execute("SELECT encounter_id, practitioner_key FROM encounter_attribution").fetchall())
    assert len(expected) == 1215 and all(expected.values())  # Synthea writes a PPRF on every encounter
    assert found == expected
    roles = Counter(row[0] for row in workspace.connection.execute("SELECT role_code FROM encounter_attribution").fetchall())
    assert roles == {"PPRF": 1215}
    # the references are conditional, by NPI; each resolves to a Practitioner resource here
    assert not any(key.startswith("npi:") for key in found.values())
    assert len(set(found.values())) == len({v for v in expected.values()})


@pytest.mark.parametrize("klass", ["AMB", "IMP", "EMER"])
def test_counts_per_practitioner_of_encounters_of_a_class(synthea, klass):
    workspace, encounters, npi_to_id = synthea
    of_class = [e for e in encounters if e["class"]["code"] == klass]
    expected = Counter(expected_practitioner(e, npi_to_id) for e in of_class)
    ends = sorted(e["period"]["end"][:10] for e in of_class)
    sql = ENCOUNTERS.replace("$klass", f"'{klass}'")
    result = kpi.aggregate(workspace, sql, kind="quarter", first=date.fromisoformat(ends[0]),
                           last=date.fromisoformat(ends[-1]), dimensions=(), by_practitioner=True)
    counted = Counter()
    for cell in result.cells:
        if cell.stratum == kpi.PRACTITIONER:
            assert cell.unit_key is None  # the organisation's cells only
            counted[cell.stratum_value] += cell.cases
    assert counted == expected
    whole = sum(c.cases for c in result.cells if c.stratum == "" and c.unit_key is None)
    assert whole == sum(counted.values()) == len(of_class)


def test_the_kept_cases_carry_the_practitioner_and_open_down_to_the_encounters(synthea):
    workspace, encounters, npi_to_id = synthea
    sql = ENCOUNTERS.replace("$klass", "'IMP'")
    table = kpi.framed_table(workspace, sql, kind="quarter", first=date(1900, 1, 1), last=date(2030, 12, 31))
    assert table.column_names[-1] == kpi.PRACTITIONER
    one = next(e for e in encounters if e["class"]["code"] == "IMP")
    key = expected_practitioner(one, npi_to_id)
    listed = kpi.cases_in(table, stratum=kpi.PRACTITIONER, stratum_value=key)
    expected = {f"Encounter/{e['id']}" for e in encounters
                if e["class"]["code"] == "IMP" and expected_practitioner(e, npi_to_id) == key}
    assert {row["encounter_id"] for row in listed} == expected and f"Encounter/{one['id']}" in expected


def test_without_attribution_nothing_changes(synthea):
    """The existing cells stay the same whether or not the practitioners' are added after them."""
    workspace, _encounters, _ids = synthea
    sql = ENCOUNTERS.replace("$klass", "'AMB'")
    with_them = kpi.aggregate(workspace, sql, kind="quarter", first=date(1950, 1, 1), last=date(2030, 12, 31),
                              by_practitioner=True)
    without = kpi.aggregate(workspace, sql, kind="quarter", first=date(1950, 1, 1), last=date(2030, 12, 31))
    assert with_them.cells[:len(without.cells)] == without.cells
    assert {c.stratum for c in with_them.cells[len(without.cells):]} == {kpi.PRACTITIONER}
    with pytest.raises(kpi.KpiError, match="attribution"):
        bare = kpi.Workspace(None, VIEWS, ["encounter"])
        try:
            kpi.aggregate(bare, sql, first=date(2020, 1, 1), last=date(2020, 1, 31), by_practitioner=True)
        finally:
            bare.close()


def test_ecqm_test_patients_carry_no_participant_so_every_case_is_unattributed():
    if not ECQM_CASES.is_dir():
        pytest.skip(f"the shared eCQM test patients are not at {ECQM_CASES}")
    # one test patient of every fourth measure: loading them is what costs (a second each)
    folders = [sorted(measure.iterdir())[0] for measure in sorted(ECQM_CASES.iterdir())[::4] if measure.is_dir()]
    raw = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            document = json.loads(path.read_text())
            entries = [e.get("resource", {}) for e in document.get("entry", [])] if document.get("resourceType") == "Bundle" \
                else [document]
            raw += [r for r in entries if r.get("resourceType") == "Encounter"]
    assert raw and not any(r.get("participant") for r in raw)
    connection = store.connect()
    ingest.load_paths(connection, folders, progress=False)
    sql = 'SELECT id AS case_id, patient_id, id AS encounter_id, period_end AS "at" FROM encounter'
    workspace = kpi.Workspace.for_sql(connection, VIEWS, [sql], attribution=True)
    try:
        result = kpi.aggregate(workspace, sql, kind="quarter", first=date(1990, 1, 1), last=date(2030, 12, 31),
                               dimensions=(), by_practitioner=True)
    finally:
        workspace.close()
        connection.close()
    by_practitioner = Counter()
    for cell in result.cells:
        if cell.stratum == kpi.PRACTITIONER:
            by_practitioner[cell.stratum_value] += cell.cases
    dated = result.cases - result.undated - result.outside
    assert dated > 0 and by_practitioner == {UNATTRIBUTED: dated}  # counted, never dropped
    assert dated == len({r["id"] for r in raw if (r.get("period") or {}).get("end", "")[:4] >= "1990"})


# --- the rule's edge cases, on made-up encounters -------------------------------------------------

def _participant(role, reference=None, start=None, end=None, identifier=None):
    individual = {"reference": reference} if reference else {"identifier": identifier}
    found = {"type": [{"coding": [{"code": role}]}], "individual": individual}
    if start:
        found["period"] = {"start": start, **({"end": end} if end else {})}
    return found


@pytest.fixture
def made_up(tmp_path):
    resources = [
        {"resourceType": "Practitioner", "id": "dr-a", "identifier": [{"system": NPI, "value": "1234567893"}]},
        {"resourceType": "Practitioner", "id": "dr-b", "identifier": [{"system": NPI, "value": "1245319599"}]},
        {"resourceType": "Patient", "id": "p1"},
        # two attendings: the one covering the discharge is attributed, though listed first
        {"resourceType": "Encounter", "id": "e1", "class": {"code": "IMP"}, "subject": {"reference": "Patient/p1"},
         "period": {"start": "2025-01-01T08:00:00Z", "end": "2025-01-05T10:00:00Z"},
         "participant": [_participant("ATND", "Practitioner/dr-b", "2025-01-03T00:00:00Z"),
                         _participant("ATND", "Practitioner/dr-a", "2025-01-01T08:00:00Z", "2025-01-03T00:00:00Z"),
                         _participant("PPRF", "Practitioner/dr-c")]},
        # two attendings without periods: the later listed; a primary performer is not looked at
        {"resourceType": "Encounter", "id": "e2", "class": {"code": "IMP"}, "subject": {"reference": "Patient/p1"},
         "period": {"start": "2025-02-01T08:00:00Z", "end": "2025-02-03T10:00:00Z"},
         "participant": [_participant("PPRF", "Practitioner/dr-c"), _participant("ATND", "Practitioner/dr-a"),
                         _participant("ATND", "Practitioner/dr-b")]},
        # no attending: the primary performer, by a logical reference (identifier) resolved to dr-a
        {"resourceType": "Encounter", "id": "e3", "class": {"code": "IMP"}, "subject": {"reference": "Patient/p1"},
         "period": {"start": "2025-03-01T08:00:00Z", "end": "2025-03-02T10:00:00Z"},
         "participant": [_participant("CON", "Practitioner/dr-b"),
                         _participant("PPRF", identifier={"system": NPI, "value": "1234567893"})]},
        # a conditional reference to an NPI no resource has: kept as npi:<value>
        {"resourceType": "Encounter", "id": "e4", "class": {"code": "IMP"}, "subject": {"reference": "Patient/p1"},
         "period": {"start": "2025-04-01T08:00:00Z", "end": "2025-04-02T10:00:00Z"},
         "participant": [_participant("ATND", f"Practitioner?identifier={NPI}|1999999984")]},
        # nobody
        {"resourceType": "Encounter", "id": "e5", "class": {"code": "IMP"}, "subject": {"reference": "Patient/p1"},
         "period": {"start": "2025-05-01T08:00:00Z", "end": "2025-05-02T10:00:00Z"}},
        {"resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": {"reference": "Patient/p1"},
         "encounter": {"reference": "Encounter/e1"}, "performedDateTime": "2025-01-02T09:00:00Z",
         "code": {"coding": [{"code": "80146002"}]},
         "performer": [{"function": {"coding": [{"code": "PPRF"}]},
                        "actor": {"reference": f"Practitioner?identifier={NPI}|1245319599"}},
                       {"actor": {"reference": "Practitioner/dr-a"}}]},
    ]
    (tmp_path / "made-up.ndjson").write_text("\n".join(json.dumps(r) for r in resources))
    connection = store.connect()
    ingest.load_paths(connection, [tmp_path / "made-up.ndjson"], progress=False)
    workspace = kpi.Workspace.for_sql(connection, VIEWS, ["SELECT * FROM procedure"], attribution=True)
    yield workspace
    workspace.close()
    connection.close()


def test_the_discharging_attending_else_the_last_else_the_primary_performer(made_up):
    found = dict(made_up.connection.execute("SELECT encounter_id, practitioner_key FROM encounter_attribution").fetchall())
    assert found == {"Encounter/e1": "dr-b", "Encounter/e2": "dr-b", "Encounter/e3": "dr-a",
                     "Encounter/e4": "npi:1999999984"}
    sql = """SELECT id AS case_id, patient_id, id AS encounter_id, period_end AS "at" FROM encounter"""
    result = kpi.aggregate(made_up, sql, first=date(2025, 1, 1), last=date(2025, 5, 31), dimensions=(),
                           by_practitioner=True)
    by_whom = Counter()
    for cell in result.cells:
        if cell.stratum == kpi.PRACTITIONER:
            by_whom[cell.stratum_value] += cell.cases
    assert by_whom == {"dr-b": 2, "dr-a": 1, "npi:1999999984": 1, UNATTRIBUTED: 1}


def test_a_procedure_measure_names_its_own_practitioner(made_up):
    """The procedure view's primary performer (the first listed), resolved by its NPI, wins
    over the encounter's attending."""
    rows = made_up.connection.execute("SELECT performer_reference, performer_function FROM procedure").fetchall()
    assert rows[0] == (f"Practitioner?identifier={NPI}|1245319599", "PPRF")
    sql = """SELECT id AS case_id, patient_id, encounter_id, performed_at AS "at", performer_reference AS practitioner_id
             FROM procedure"""
    table = kpi.framed_table(made_up, sql, first=date(2025, 1, 1), last=date(2025, 1, 31))
    assert table.column(kpi.PRACTITIONER).to_pylist() == ["dr-b"]
    literal = sql.replace("performer_reference", "'Practitioner/dr-a'")
    assert kpi.framed_table(made_up, literal, first=date(2025, 1, 1), last=date(2025, 1, 31)).column(
        kpi.PRACTITIONER).to_pylist() == ["dr-a"]
