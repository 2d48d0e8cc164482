"""The risk register's pages and API: the list each person may see (a ward manager their ward's,
a board member the board assurance framework's only), its filters and their refusals, the heat
map's counts against an independent count (page, PDF and API), the board assurance framework
with its summary line, and the matrix settings that re-band the register."""

import html
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from andon.platform.models import AccessToken
from andon.platform.roles import Role
from andon.risk import services
from andon.risk.models import Level, MatrixRevision, Risk, RiskStatus, ScoreReason, ScoreRecord
from andon.risk.scoring import Matrix
from tests.test_risk_register import world  # noqa: F401  (its people and units)

NEXT_MONTH = timezone.localdate() + timedelta(days=30)
SVG = "{http://www.w3.org/2000/svg}"
STATEMENT = {"cause": "Because of one nurse for 14 beds at night", "event": "confused patients get up unaided",
             "effect": "a fall with harm"}


def _raise(world, title, scores, *, by=None, unit=None, category="clinical"):
    by = by or world.manager
    return services.raise_risk(by, title=title, category=category, owner=by, unit=unit or world.w4,
                               review_on=NEXT_MONTH, scores=scores, **STATEMENT)


@pytest.fixture
def three(world):
    """Falls on 4 West (current 8, High: above a unit's tolerance of 6, review overdue), a flagged
    cardiology risk on 5 East (current 4), and the medicine department's staffing risk (20, Extreme)."""
    falls = _raise(world, "Falls at night", {"inherent": (4, 4), "current": (4, 2), "target": (4, 1)},
                   by=world.ward_manager)
    monitors = _raise(world, "Telemetry alarms missed", {"inherent": (3, 3), "current": (2, 2), "target": (1, 1)},
                      by=world.other_manager, unit=world.e5, category="operational")
    staffing = _raise(world, "Medical staffing gaps", {"inherent": (5, 5), "current": (5, 4), "target": (3, 2)},
                      unit=world.medicine)
    Risk.objects.filter(pk=falls.pk).update(review_on=timezone.localdate() - timedelta(days=12))
    Risk.objects.filter(pk=monitors.pk).update(flagged_reason="Alarm response time above its upper limit")
    return falls, monitors, staffing


def _page(client, user, name, expect=200, raw=False, **query):
    """The page's markup (`raw`) or its text with entities read (&#x27; is an apostrophe)."""
    client.force_login(user)
    response = client.get(reverse(f"risk:{name}"), query)
    assert response.status_code == expect, response.content.decode()[:2000]
    return response.content.decode() if raw else html.unescape(response.content.decode())


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def _rows(page: str) -> dict[str, str]:
    """reference -> the row's text, in the order shown."""
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    found = {}
    for row in body.split("<tr>")[1:]:
        reference = re.search(r"R-\d{5}", row)
        if reference:
            found[reference.group()] = _text(row)
    return found


# --- the register -----------------------------------------------------------------------------------

def test_each_person_sees_the_rows_they_may_with_bands_escalation_flags_and_overdue_reviews(client, world, three):
    falls, monitors, staffing = three
    rows = _rows(_page(client, world.manager, "register"))
    assert list(rows) == [staffing.reference, falls.reference, monitors.reference]  # highest current score first
    assert "Medical staffing gaps" in rows[staffing.reference] and " rita " in rows[staffing.reference]
    assert "20 Extreme" in rows[staffing.reference] and "6 Moderate" in rows[staffing.reference]  # current, target
    assert "Department" in rows[staffing.reference] and "Asks escalation" in rows[staffing.reference]
    assert "4 West Medical rgh" in rows[falls.reference] and "8 High" in rows[falls.reference]
    assert "Asks escalation" in rows[falls.reference] and "Overdue by 1 week, 5 days" in rows[falls.reference]
    assert "Asks escalation" not in rows[monitors.reference] and "Overdue" not in rows[monitors.reference]
    assert "Flagged: Alarm response time above its upper limit" in rows[monitors.reference]
    page = _page(client, world.manager, "register")
    assert reverse("risk:risk", args=[falls.pk]) in page
    # A ward manager reads their ward's register; a board member the board assurance framework's only.
    assert list(_rows(_page(client, world.ward_manager, "register"))) == [falls.reference]
    assert _rows(_page(client, world.board, "register")) == {}
    services.escalate(world.cqo, staffing, Level.BOARD, "Across the system")
    assert list(_rows(_page(client, world.board, "register"))) == [staffing.reference]


@pytest.mark.parametrize(("query", "expected"), [
    ({"unit": "medicine"}, ["staffing", "falls", "monitors"]),  # a department shows its wards
    ({"unit": "w4"}, ["falls"]),
    ({"category": "operational"}, ["monitors"]),
    ({"level": "department"}, ["staffing"]),
    ({"band": "High"}, ["falls"]),
    ({"band": "Moderate", "which": "target"}, ["staffing", "falls"]),
    ({"consequence": "4", "likelihood": "2"}, ["falls"]),
    ({"consequence": "1", "which": "target"}, ["monitors"]),
    ({"asking": "on"}, ["staffing", "falls"]),
    ({"status": "closed"}, ["closed"]),
    ({"status": "any"}, ["staffing", "falls", "monitors", "closed"]),
])
def test_the_register_filters(client, world, three, query, expected):
    falls, monitors, staffing = three
    closed = _raise(world, "Old risk", {"inherent": (1, 1), "current": (1, 1), "target": (1, 1)})
    services.close_risk(world.manager, closed, "Merged into another")
    named = {"falls": falls, "monitors": monitors, "staffing": staffing, "closed": closed}
    if "unit" in query:
        query["unit"] = getattr(world, query["unit"]).pk
    assert list(_rows(_page(client, world.manager, "register", **query))) == [named[n].reference for n in expected]


@pytest.mark.parametrize(("query", "message"), [
    ({"category": "weather"}, "weather is not a category."),
    ({"level": "ward"}, "ward is not an escalation level."),
    ({"band": "Severe"}, "Severe is not a band of the matrix."),
    ({"consequence": "9"}, "Consequence 9 is not on the matrix's scale."),
    ({"likelihood": "often"}, "Likelihood often is not on the matrix's scale."),
    ({"which": "residual"}, "residual is not a score: current, target or inherent."),
    ({"unit": "999999"}, "There is no unit 999999: choose one from the list."),
    ({"unit": "4w"}, "There is no unit 4w: choose one from the list."),
])
def test_a_bad_filter_value_is_named_on_the_page_not_a_server_error(client, world, three, query, message):
    page = _page(client, world.manager, "register", expect=400, **query)
    assert message in page and "Correct the filters above" in page and "R-0000" not in page


def test_a_unit_outside_the_persons_grants_is_refused(client, world, three):
    client.force_login(world.ward_manager)
    for name in ("register", "heat_map", "heat_map_pdf"):
        assert client.get(reverse(f"risk:{name}"), {"unit": world.e5.pk}).status_code == 403


def test_the_register_reads_its_rows_without_a_query_per_row(client, world, three):
    client.force_login(world.manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("risk:register")).status_code == 200
        return len(captured)

    queries()  # the first request of a session reads more than any later one
    few = queries()
    for n in range(12):
        _raise(world, f"Risk {n}", {"inherent": (3, 3), "current": (3, 2), "target": (2, 1)},
               unit=[world.w4, world.e5, world.medicine][n % 3])
    assert queries() == few


# --- the heat map ------------------------------------------------------------------------------------

SCORES = [((5, 5), (5, 4), (3, 2)), ((4, 4), (4, 2), (4, 1)), ((4, 4), (4, 2), (2, 2)), ((3, 3), (3, 3), (1, 2)),
          ((3, 3), (2, 2), (1, 1)), ((5, 3), (5, 3), (2, 2)), ((2, 5), (2, 5), (2, 1)), ((4, 4), (4, 2), (1, 1))]


@pytest.fixture
def spread(world):
    """Eight risks over 4 West, 5 East and the medicine department, two of them closed."""
    risks = []
    for n, (inherent, current, target) in enumerate(SCORES):
        risks.append(_raise(world, f"Risk {n}", {"inherent": inherent, "current": current, "target": target},
                            unit=[world.w4, world.e5, world.medicine][n % 3],
                            category="clinical" if n % 2 else "financial"))
    for risk in risks[-2:]:
        services.close_risk(world.manager, risk, "No longer applies")
    return risks


def _independent_counts(which: str, **filters) -> Counter:
    counted = Counter()
    for risk in Risk.objects.filter(status=RiskStatus.OPEN, **filters):
        counted[(getattr(risk, f"{which}_consequence"), getattr(risk, f"{which}_likelihood"))] += 1
    return counted


def _drawn_counts(page: str) -> dict[str, Counter]:
    """which -> {(consequence, likelihood): count} read back from each heat map's cell links."""
    drawn = {}
    for svg in re.findall(r"<svg xmlns.*?</svg>", page, flags=re.S):
        for link in ET.fromstring(svg).iter(f"{SVG}a"):
            query = parse_qs(urlsplit(link.get("href")).query)
            count = int(link.find(f"{SVG}text").text)
            cell = (int(query["consequence"][0]), int(query["likelihood"][0]))
            drawn.setdefault(query["which"][0], Counter())[cell] += count
    return drawn


def test_the_heat_maps_count_each_cell_as_an_independent_count_does_and_link_to_its_risks(client, world, spread):
    page = _page(client, world.manager, "heat_map", raw=True)
    drawn = _drawn_counts(page)
    assert set(drawn) == {"current", "target"}
    for which in ("current", "target"):
        assert +drawn[which] == _independent_counts(which)  # + drops the zero cells
        assert sum(drawn[which].values()) == 6 and len(drawn[which]) == 25  # every cell drawn, zeros included
    svg = ET.fromstring(re.findall(r"<svg xmlns.*?</svg>", page, flags=re.S)[0])
    fills = {link.find(f"{SVG}title").text: link.find(f"{SVG}rect").get("fill") for link in svg.iter(f"{SVG}a")}
    assert fills["4 Likely, 5 Catastrophic: 1"] == "#c62828" and fills["1 Rare, 1 Negligible: 0"] == "#2e7d32"
    assert "High (8–12): 3" in _text(html.unescape(page))  # the legend: 8, 8 and 9
    # Filtered, the counts follow; a cell's link lists exactly its risks.
    page = _page(client, world.manager, "heat_map", raw=True, unit=world.w4.pk, category="financial")
    drawn = _drawn_counts(page)
    assert +drawn["current"] == _independent_counts("current", unit=world.w4, category="financial") == {(5, 4): 1}
    cell = next(link.get("href") for svg in re.findall(r"<svg xmlns.*?</svg>", page, flags=re.S)
                for link in ET.fromstring(svg).iter(f"{SVG}a") if "consequence=5&likelihood=4" in link.get("href"))
    client.force_login(world.manager)
    listed = _rows(html.unescape(client.get(cell).content.decode()))
    assert list(listed) == [spread[0].reference]


def test_the_heat_map_pdf_writes_its_filters_and_the_cell_counts(client, world, spread):
    from pypdf import PdfReader

    client.force_login(world.manager)
    response = client.get(reverse("risk:heat_map_pdf"), {"unit": world.medicine.pk, "category": "clinical"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages))
    assert "Unit Medicine (rgh) and the units below it" in text and "Category Clinical" in text
    assert "Managed at Any level" in text
    expected = _independent_counts("current", unit__path__startswith=world.medicine.path, category="clinical")
    assert sum(expected.values()) == 3 and "Current score: 3 risks" in text
    # The table under the map: one line per likelihood, the counts by consequence 1 to 5.
    for likelihood, label in ((5, "5 Almost certain"), (3, "3 Possible"), (2, "2 Unlikely")):
        counts = " ".join(str(expected.get((c, likelihood), 0)) for c in range(1, 6))
        assert f"{label} {counts}" in text


# --- the board assurance framework --------------------------------------------------------------------

def test_the_board_assurance_framework_shows_board_risks_with_controls_gaps_and_a_summary(client, world, three):
    falls, monitors, staffing = three
    services.add_control(world.manager, staffing, description="Locum rota agreed weekly", effect="partly",
                         assurance_source="Monthly workforce report", assurance_level="second",
                         last_tested_on=timezone.localdate() - timedelta(days=20),
                         control_gap="No cover for night shifts", assurance_gap="")
    services.add_control(world.manager, staffing, description="Escalation to the medical director")
    retired = services.add_control(world.manager, staffing, description="Retired control")
    services.retire_control(world.manager, retired)
    services.escalate(world.cqo, staffing, Level.BOARD, "Across the system")
    page = _page(client, world.board, "board")
    assert "1 risk on the board assurance framework; 1 with a gap in control or assurance; 1 of 2 controls not yet " \
           "tested." in _text(page)
    assert staffing.reference in page and "20 Extreme" in page and ">rita</dd>" in page
    assert "Locum rota agreed weekly" in page and "Partly effective" in page and "Monthly workforce report" in page
    assert "Control gap: No cover for night shifts" in _text(page) and "Never" in page  # the untested control
    assert "Retired control" not in page
    assert falls.reference not in page and monitors.reference not in page  # nothing below board level
    assert "/safety/" not in page[page.index("<main"):]  # no link to a safety record (the menu has "Report an event")
    page = _page(client, world.manager, "board")  # the risk manager reads the same framework
    assert staffing.reference in page and falls.reference not in page


# --- the matrix -------------------------------------------------------------------------------------

def _matrix_post(matrix: Matrix, *, version, reason="Board's new appetite", bands=None, **changes) -> dict:
    data = {"reason": reason, "version": version}
    for scale, levels in (("consequence", matrix.consequences), ("likelihood", matrix.likelihoods)):
        for level in levels:
            data[f"{scale}_{level['value']}_label"] = level["label"]
            data[f"{scale}_{level['value']}_descriptor"] = level["descriptor"]
    for i, band in enumerate(bands or [(b.name, b.low, b.high, b.colour) for b in matrix.bands], start=1):
        data.update(dict(zip((f"band_{i}_name", f"band_{i}_low", f"band_{i}_high", f"band_{i}_colour"), band)))
    data.update({"tolerance_unit": 6, "tolerance_department": 12, "tolerance_facility": 20})
    return data | changes


WIDER = [("Low", 1, 4, "#2e7d32"), ("Moderate", 5, 9, "#f9a825"), ("High", 10, 15, "#ef6c00"),
         ("Extreme", 16, 25, "#c62828")]


def test_the_matrix_form_saves_a_revision_that_rebands_the_register(client, world, three):
    falls, monitors, staffing = three
    page = _page(client, world.manager, "matrix")
    assert "Almost certain" in page and "The NPSA 5×5 default" in page and "up to 6" in page
    response = client.post(reverse("risk:matrix"), _matrix_post(
        Matrix(), version=1, bands=WIDER, consequence_5_label="Severe", tolerance_unit=8))
    assert response.status_code == 302
    revision = MatrixRevision.objects.get(number=2)
    assert (revision.changed_by, revision.reason, revision.rebanded) == (world.manager, "Board's new appetite", 2)
    falls.refresh_from_db()
    assert (falls.current_band, falls.target_band) == ("Moderate", "Low")
    assert ScoreRecord.objects.filter(risk=falls, reason=ScoreReason.REBANDED).count() == 1
    matrix = services.matrix_of(world.organisation)
    assert matrix.consequence_label(5) == "Severe" and matrix.tolerance("unit") == 8
    page = html.unescape(client.get(reverse("risk:matrix")).content.decode())
    assert "The matrix is now revision 2: 2 risks moved band." in page  # the staffing risk's bands stay
    assert re.search(r"<th scope=\"row\">2</th>.*?rita</td><td>Board's new appetite</td><td>2</td>", page, re.S)


def test_matrix_errors_are_shown_beside_their_field_or_above_the_form_and_nothing_changes(client, world, three):
    client.force_login(world.manager)
    overlapping = WIDER[:1] + [("Moderate", 4, 9, "#f9a825")] + WIDER[2:]
    response = client.post(reverse("risk:matrix"), _matrix_post(Matrix(), version=1, bands=overlapping))
    page = html.unescape(response.content.decode())
    assert response.status_code == 400 and "The matrix was not changed:" in page
    start = page.index('class="alert alert-danger"')
    alert = page[start:page.index("</div>", start)]
    assert "Bands Low (1–4) and Moderate (4–9) overlap." in alert
    nameless = WIDER[:2] + [("", 10, 15, "#ef6c00")] + WIDER[3:]
    response = client.post(reverse("risk:matrix"), _matrix_post(Matrix(), version=1, bands=nameless))
    page = html.unescape(response.content.decode())
    row = page[page.index('name="band_3_name"') - 400:page.index('name="band_4_name"')]
    assert response.status_code == 400 and "bands[3] needs a name of 1 to 30 characters." in row
    response = client.post(reverse("risk:matrix"), _matrix_post(Matrix(), version=1, tolerance_unit=13))
    page = html.unescape(response.content.decode())  # names no one field: above the form, with its entry
    assert "Tolerances: A higher level must tolerate at least what the level below it does." in page
    response = client.post(reverse("risk:matrix"), _matrix_post(Matrix(), version=1, reason=" "))
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert MatrixRevision.objects.count() == 1 and Risk.objects.get(pk=three[0].pk).current_band == "High"


def test_a_matrix_changed_meanwhile_is_refused_with_the_house_409(client, world, three):
    services.change_matrix(world.manager, world.organisation,
                           Matrix().to_config() | {"tolerances": {"unit": 9}}, "Unit appetite", 1)
    client.force_login(world.manager)
    response = client.post(reverse("risk:matrix"), _matrix_post(Matrix(), version=1, bands=WIDER))
    page = html.unescape(response.content.decode())
    assert response.status_code == 409 and "changed by rita" in page
    assert 'name="version" value="2"' in page  # the form now carries the current version
    assert MatrixRevision.objects.count() == 2


# --- the API ----------------------------------------------------------------------------------------

def _api(client, user, method, path, body=None, **query):
    _, raw = AccessToken.issue(user, "test")
    headers = {"Authorization": f"Bearer {raw}"}
    if method == "get":
        return client.get(f"/api/v1/risk/{path}", query, headers=headers)
    return client.put(f"/api/v1/risk/{path}", body, content_type="application/json", headers=headers)


def test_the_api_reads_the_register_heat_map_and_board_framework(client, world, three, spread):
    falls, monitors, staffing = three
    response = _api(client, world.ward_manager, "get", "register")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["reference"] for item in items] == list(
        Risk.objects.filter(unit=world.w4, status="open").order_by("-current_score", "reference")
        .values_list("reference", flat=True))
    row = next(item for item in items if item["reference"] == falls.reference)
    assert row["current"] == {"consequence": 4, "likelihood": 2, "score": 8, "band": "High", "colour": "#ef6c00"}
    assert row["asks_escalation"] and row["review_overdue"] and row["place"] == "4 West Medical (rgh)"
    assert {item["unit_id"] for item in items} == {world.w4.pk}
    found = _api(client, world.manager, "get", "register", band="Extreme", unit_id=world.medicine.pk).json()
    assert found["count"] == len([r for r in Risk.objects.filter(status="open") if r.current_band == "Extreme"])
    assert _api(client, world.manager, "get", "register", band="Severe").status_code == 400
    assert _api(client, world.manager, "get", "register", consequence=6).status_code == 400
    assert _api(client, world.ward_manager, "get", "register", unit_id=world.e5.pk).status_code == 403
    heat = _api(client, world.manager, "get", "heat-map").json()
    for which in ("current", "target"):
        counted = {(cell["consequence"], cell["likelihood"]): cell["count"] for cell in heat[which] if cell["count"]}
        assert counted == _independent_counts(which)
    services.escalate(world.cqo, staffing, Level.BOARD, "Across the system")
    framework = _api(client, world.board, "get", "board-framework").json()
    assert framework["summary"] == {"risks": 1, "with_gaps": 1, "without_controls": 1, "controls": 0,
                                    "untested_controls": 0}
    assert [risk["reference"] for risk in framework["risks"]] == [staffing.reference]


def test_the_api_changes_the_matrix_or_names_the_entry_at_fault(client, world, three):
    matrix = _api(client, world.manager, "get", "matrix").json()
    assert matrix["revision"] == 1 and matrix["config"]["tolerances"] == {"unit": 6, "department": 12, "facility": 20}
    config = matrix["config"]
    bad = config | {"bands": [{"name": "Low", "low": 1, "high": 3}, {"name": "", "low": 4, "high": 25}]}
    response = _api(client, world.manager, "put", "matrix", {"config": bad, "reason": "r", "version": 1})
    assert response.status_code == 400 and response.json()["field"] == "bands[2]"
    assert "needs a name" in response.json()["detail"]
    assert _api(client, world.ward_manager, "put", "matrix", {"config": config, "reason": "r"}).status_code == 403
    wider = config | {"bands": [{"name": n, "low": lo, "high": hi, "colour": c} for n, lo, hi, c in WIDER]}
    response = _api(client, world.manager, "put", "matrix", {"config": wider, "reason": "Wider", "version": 1})
    assert response.status_code == 200 and response.json()["revision"] == 2
    assert response.json()["revisions"][0] | {"changed_at": None} == {
        "number": 2, "changed_at": None, "changed_by_id": world.manager.pk, "reason": "Wider", "rebanded": 2}
    assert _api(client, world.manager, "put", "matrix", {"config": wider, "reason": "Again", "version": 1}
                ).status_code == 409
