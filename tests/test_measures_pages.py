"""The measure pages through the web client: the dashboard by domain with the Making Data Count
icons, a measure's chart (points with their numbers and rule), annotating and rebasing, the
exports (a FHIR MeasureReport Bundle and CSV), the equity and unit comparisons, the audited
drill-down, counts entry with its error report, peers' reports and the computation job."""

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from andon.measures import compute, services
from andon.measures import results as results_module
from andon.measures.models import Annotation, ManualCount, Measure, MeasureResult, PeerResult
from andon.platform import content
from andon.platform.charts import theme
from andon.platform.models import Job
from andon.platform.roles import Role

from .test_measures import LIBRARY

# 24 months of a proportion with a clear rise in the last 8 (a shift and points above the limit)
NUMERATORS = [40, 42, 38, 41, 39, 43, 40, 37, 42, 41, 39, 40, 38, 41, 40, 42, 60, 62, 61, 64, 63, 65, 62, 66]
DENOMINATORS = [200] * 24
SVG = "{http://www.w3.org/2000/svg}"


def months(count, first=date(2024, 1, 1)):
    found, current = [], first
    for _ in range(count):
        found.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return found


@pytest.fixture
def results(db, hospital):
    """The library, with readmission results stored as a computation would: the organisation,
    two wards and the sex strata."""
    content.load_content([LIBRARY])
    measure = Measure.objects.get(key="readmission-30-day")
    cells = []
    for start, numerator, denominator in zip(months(24), NUMERATORS, DENOMINATORS, strict=True):
        cells.append(compute.Cell(start, None, "", "", denominator, numerator, denominator,
                                  compute.score(measure, numerator, denominator)))
        for unit, share in ((hospital.unit("rgh/4w").pk, 0.6), (hospital.unit("rgh/5e").pk, 0.4)):
            n, d = round(numerator * share), round(denominator * share)
            cells.append(compute.Cell(start, unit, "", "", d, n, d, compute.score(measure, n, d)))
        for sex, share in (("female", 0.5), ("male", 0.5)):
            n, d = round(numerator * share), round(denominator * share)
            cells.append(compute.Cell(start, None, "sex", sex, d, n, d, compute.score(measure, n, d)))
    services.replace_results(measure, "month", date(2024, 1, 1), date(2026, 1, 1), cells, "test load")
    return measure


@pytest.fixture
def cqo(make_user, sign_in_with_mfa):
    user = make_user(Role.CQO)
    sign_in_with_mfa(user)
    return user


def test_dashboard_groups_measures_by_domain_with_variation_and_assurance(client, results, cqo):
    page = client.get(reverse("measures:dashboard")).content.decode()
    for label in ("Safe", "Timely", "Effective", "Efficient", "Equitable", "Patient-centred"):
        assert f">{label}</h2>" in page
    tile = page[page.index('data-measure="readmission-30-day"'):][:3000]
    assert 'data-variation="special_cause_concern"' in tile  # readmissions rose: lower is better
    assert "Special cause: concern" in tile and "No target" in tile
    assert "33 " in tile or "33<" in tile  # the latest month: 66 of 200


def _tile(page, key):
    return page[page.index(f'data-measure="{key}"'):][:6000]


def test_the_dashboard_filters_by_hospital_unit_and_months_with_a_sparkline_in_every_tile(
        client, results, cqo, hospital, make_user, sign_in_with_mfa):
    measure = results
    # Medicine holds 4 West's and 5 East's cells (as a computation rolls them up); Lakeside has its own
    cells = []
    for start, numerator, denominator in zip(months(24), NUMERATORS, DENOMINATORS, strict=True):
        n = round(numerator * 0.6) + round(numerator * 0.4)
        cells.append(compute.Cell(start, hospital.unit("rgh/medicine").pk, "", "", denominator, n, denominator,
                                  compute.score(measure, n, denominator)))
        cells.append(compute.Cell(start, hospital.unit("lch/medicine").pk, "", "", 50, 5, 50, compute.score(measure, 5, 50)))
    MeasureResult.objects.bulk_create([
        MeasureResult(measure=measure, definition_version="1", data_load="test", period_kind="month",
                      period_start=c.period_start, period_end=date(c.period_start.year + (c.period_start.month == 12),
                                                                   c.period_start.month % 12 + 1, 1),
                      unit_id=c.unit_id, stratum="", stratum_value="", cases=c.cases, numerator=c.numerator,
                      denominator=c.denominator, value=c.value) for c in cells])
    url = reverse("measures:dashboard")

    def latest(query):
        tile = _tile(client.get(url, query).content.decode(), "readmission-30-day")
        found = re.search(r"<div class=\"fs-4 text-body\">([^<]*) <span", tile)
        assert found, tile[:3000]
        return found.group(1), tile

    # the whole organisation (a CQO sees it all): 66 of 200 in December 2025, a line of 24 months
    value, tile = latest({})
    assert value == "33" and "Whole organisation" in client.get(url).content.decode()
    spark = re.search(r'<svg[^>]*class="andon-chart sparkline"[^>]*>.*?</svg>', tile, re.S).group(0)
    assert 'role="img"' in spark and "aria-labelledby" in spark
    assert "<desc" in spark and "from 20 % in Jan 2024 to 33 % in Dec 2025; lowest 18.5 % in Aug 2024" in spark
    assert len(re.search(r'<polyline points="([^"]*)"', spark).group(1).split()) == 24
    # Riverside as a whole (its top units added up: Medicine alone has results) and Lakeside
    assert latest({"facility": hospital.facility("rgh").pk})[0] == "33"
    assert latest({"facility": hospital.facility("lch").pk})[0] == "10"
    # one ward: 40 of 120
    value, tile = latest({"unit": hospital.unit("rgh/4w").pk})
    assert value == "33.33" and f'?unit={hospital.unit("rgh/4w").pk}' in tile
    # a range of months: December 2024 is the latest, and the line has 12 points
    value, tile = latest({"first": "2024-01", "last": "2024-12"})
    assert value == "20" and "December 2024" in tile
    assert len(re.search(r'<polyline points="([^"]*)"', tile).group(1).split()) == 12
    wrong = client.get(url, {"first": "2024-13"}).content.decode()
    assert "first: Give the month as YYYY-MM" in wrong
    assert "swap them" in client.get(url, {"first": "2025-01", "last": "2024-01"}).content.decode()
    # a ward manager: their ward by default; no whole organisation, and another hospital is refused
    sign_in_with_mfa(make_user(Role.UNIT_MANAGER, "rgh/5e"))
    page = client.get(url).content.decode()
    assert "Whole organisation" not in page and '<strong>5 East Cardiology</strong>' in page
    assert latest({})[0] == "32.5"  # 26 of 80
    assert client.get(url, {"facility": hospital.facility("lch").pk}).status_code == 403
    assert client.get(url, {"unit": hospital.unit("rgh/4w").pk}).status_code == 403
    assert "(your units)" in client.get(url, {"facility": hospital.facility("rgh").pk}).content.decode()
    # an analyst of one hospital: that whole hospital by default, not the organisation
    sign_in_with_mfa(make_user(Role.QUALITY_ANALYST, "lch"))
    page = client.get(url).content.decode()
    assert "<strong>Lakeside Community Hospital (whole hospital)</strong>" in page and "Whole organisation" not in page
    assert latest({})[0] == "10"


def test_measure_page_shows_the_chart_the_rule_and_the_table(client, results, cqo):
    page = client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()
    assert "<svg" in page and 'class="point special_cause_concern"' in page
    assert "Dec 2025: 33 %; numerator 66, denominator 200; Special cause: concern" in page
    assert page.count("<circle class=\"point") == 24
    assert 'id="results-table"' in page and "a point outside the process limits" in page


def test_the_measure_chart_is_the_kits_accessible_figure(client, results, cqo):
    """The chart kit's markup in a real page: an image named by its <title> and <desc>, and the
    same numbers as a table for screen readers, inside the chart's figure."""
    page = client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()
    figure = page[page.index('<figure class="chart-figure'):page.index("</figure>")]
    svg = ET.fromstring(figure[figure.index("<svg"):figure.index("</svg>") + len("</svg>")])
    assert svg.get("role") == "img" and "andon-chart" in svg.get("class")
    title_id, desc_id = svg.get("aria-labelledby").split()
    assert svg.find(f"{SVG}title").get("id") == title_id
    assert svg.find(f"{SVG}title").text == "30-day all-cause readmission (crude)"
    assert svg.find(f"{SVG}desc").get("id") == desc_id
    assert svg.find(f"{SVG}desc").text.startswith("24 periods; ") and "Special cause: concern" in svg.find(f"{SVG}desc").text
    table = figure[figure.index('<details class="chart-table">'):figure.index("</details>")]
    assert "the numbers as a table</summary>" in table and "<caption>" in table
    assert table.count("<tr>") == 25  # a header and the 24 months
    assert "<td>Dec 25</td><td>33</td>" in table and "a point outside the process limits" in table
    assert " style=" not in figure


def test_the_chart_draws_the_mean_solid_and_the_limits_dashed(client, results, cqo):
    svg = ET.fromstring(client.get(reverse("measures:chart_svg", args=["readmission-30-day"])).content)
    paths = {path.get("class"): path for path in svg.iter(f"{SVG}path")}
    assert paths["mean"].get("stroke") == theme.CENTRE and paths["mean"].get("stroke-dasharray") is None
    for limit in ("upl", "lpl"):
        assert paths[limit].get("stroke") == theme.LIMIT and paths[limit].get("stroke-dasharray") == theme.DASHED


def test_annotating_an_action_rebases_the_limits(client, results, cqo):
    response = client.post(reverse("measures:annotate", args=["readmission-30-day"]),
                           {"date": "2025-05-01", "kind": "action", "text": "Discharge phone calls started",
                            "rebase": "on"})
    assert response.status_code == 302
    note = Annotation.objects.get()
    assert (note.text, note.rebase, note.created_by) == ("Discharge phone calls started", True, cqo)
    assert LogEntry.objects.get_for_object(note).get().actor == cqo
    page = client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()
    assert "Discharge phone calls started" in page and "recomputed from May 2025" in page
    view, _ = results_module.chart(results)
    assert view.points[-1].mean == pytest.approx(100 * sum(NUMERATORS[16:]) / sum(DENOMINATORS[16:]))


def test_an_annotation_without_text_is_refused(client, results, cqo):
    client.post(reverse("measures:annotate", args=["readmission-30-day"]), {"date": "2025-05-01", "kind": "action", "text": ""})
    assert not Annotation.objects.exists()


def test_the_measure_report_export_is_a_bundle_of_summary_reports_by_unit(client, results, cqo):
    response = client.get(reverse("measures:report_json", args=["readmission-30-day"]))
    bundle = json.loads(response.content)
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) == 24
    last = bundle["entry"][-1]["resource"]
    assert (last["type"], last["period"], last["measure"]) == ("summary", {"start": "2025-12-01", "end": "2025-12-31"},
                                                               "urn:andon:measure:readmission-30-day")
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in last["group"][0]["population"]}
    assert counts == {"numerator": 66, "denominator": 200}
    assert last["group"][0]["measureScore"]["value"] == pytest.approx(33.0)
    strata = {s["code"][0]["text"]: {x["value"]["text"] for x in s["stratum"]} for s in last["group"][0]["stratifier"]}
    assert strata == {"ward": {"rgh/4w", "rgh/5e"}, "sex": {"female", "male"}}
    assert last["improvementNotation"]["coding"][0]["code"] == "decrease"


def test_the_csv_export_has_every_cell(client, results, cqo):
    response = client.get(reverse("measures:results_csv", args=["readmission-30-day"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 24 * 5
    december = [r for r in rows if r["period_start"] == "2025-12-01" and not r["unit"] and not r["stratum"]]
    assert [(r["numerator"], r["denominator"], r["value"]) for r in december] == [("66.0", "200.0", "33.0")]


def test_an_export_to_share_withholds_small_cells_and_those_that_give_them_away(client, results, cqo, settings):
    settings.ANDON_SMALL_CELL_THRESHOLD = 20
    bundle = json.loads(client.get(reverse("measures:report_json", args=["readmission-30-day"]), {"share": "1"}).content)
    first = bundle["entry"][0]["resource"]  # January 2024: 40 of 200; wards 24 and 16; sexes 20 and 20
    assert {p["code"]["coding"][0]["code"]: p["count"] for p in first["group"][0]["population"]} == {
        "numerator": 40, "denominator": 200}
    by_stratifier = {s["code"][0]["text"]: {x["value"]["text"]: x for x in s["stratum"]} for s in first["group"][0]["stratifier"]}
    masked = [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "masked"}]
    for ward in ("rgh/5e", "rgh/4w"):  # 16 readmissions is small; 4w would give it away by subtraction
        assert by_stratifier["ward"][ward]["extension"] == masked
        assert "population" not in by_stratifier["ward"][ward] and "measureScore" not in by_stratifier["ward"][ward]
    assert by_stratifier["sex"]["female"]["population"][0]["count"] == 20
    rows = list(csv.DictReader(io.StringIO(b"".join(client.get(
        reverse("measures:results_csv", args=["readmission-30-day"]), {"share": "1"}).streaming_content).decode())))
    january = {(r["unit"], r["stratum_value"]): r for r in rows if r["period_start"] == "2024-01-01"}
    assert (january[("rgh/5e", "")]["suppressed"], january[("rgh/5e", "")]["numerator"]) == ("yes", "")
    assert (january[("", "")]["suppressed"], january[("", "")]["numerator"]) == ("", "40.0")
    whole = list(csv.DictReader(io.StringIO(b"".join(client.get(
        reverse("measures:results_csv", args=["readmission-30-day"])).streaming_content).decode())))
    assert not any(r["suppressed"] for r in whole)  # inside the quality department: every count


def test_a_unit_manager_exports_only_their_units_cells(client, results, make_user, sign_in_with_mfa):
    sign_in_with_mfa(make_user(Role.UNIT_MANAGER, "rgh/4w"))
    rows = list(csv.DictReader(io.StringIO(b"".join(
        client.get(reverse("measures:results_csv", args=["readmission-30-day"])).streaming_content).decode())))
    assert {r["unit"] for r in rows} == {"", "rgh/4w"}


def test_equity_view_gives_rates_with_wilson_intervals_and_a_funnel(client, results, cqo):
    page = client.get(reverse("measures:equity", args=["readmission-30-day"]) + "?stratum=sex").content.decode()
    assert "Equity: sex" in page and 'data-chart="funnel"' in page
    rows, window = results_module.compare(results, stratum="sex")
    assert window == (date(2025, 1, 1), date(2025, 12, 1))
    female = next(r for r in rows if r.label == "female")
    numerator = sum(round(n * 0.5) for n in NUMERATORS[12:])
    assert (female.numerator, female.denominator) == (numerator, 1200)
    assert female.low < female.value < female.high


def test_funnel_points_are_labelled_on_hover_beside_them_and_in_the_table(client, results, cqo):
    page = client.get(reverse("measures:units", args=["readmission-30-day"])).content.decode()
    svg = ET.fromstring(re.search(r"<svg[^>]*class=\"andon-chart scatter\".*?</svg>", page, re.S).group(0))
    points = {c.get("data-label"): c.find(f"{SVG}title").text for c in svg.iter(f"{SVG}circle")}
    marks = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "point-mark"]
    assert set(points) == {"4 West Medical (rgh)", "5 East Cardiology (rgh)"} and sorted(marks) == ["1", "2"]
    table = page[page.index('id="compare-table"'):]
    for label, tip in points.items():
        number = tip.split(".")[0]
        assert tip.startswith(f"{number}. {label}: ")  # the hover text names the point
        row = re.search(rf'<tr data-label="{re.escape(label)}">\s*<td[^>]*>(\d+)</td>', table)
        assert row and row.group(1) == number  # and the table under the chart carries its number


def test_unit_funnel_lists_the_units_of_one_kind(client, results, cqo, hospital):
    page = client.get(reverse("measures:units", args=["readmission-30-day"])).content.decode()
    assert "4 West Medical" in page and "5 East Cardiology" in page and "<svg" in page
    # a service line's cell holds its wards' cases: service lines are compared with service lines
    medicine = hospital.unit("rgh/medicine")
    for start, numerator in zip(months(12, date(2025, 1, 1)), NUMERATORS[12:], strict=True):
        MeasureResult.objects.create(measure=results, period_kind="month", period_start=start, period_end=months(2, start)[1],
                                     unit=medicine, cases=200, numerator=numerator, denominator=200,
                                     value=numerator / 2, definition_version="t", data_load="t")
    lines = client.get(reverse("measures:units", args=["readmission-30-day"]), {"level": "service_line"}).content.decode()
    table = lines[lines.index('id="compare-table"'):]
    assert "Medicine" in table and "4 West Medical" not in table
    assert 'aria-current="page">Service lines</a>' in lines
    assert "Medicine" not in page[page.index('id="compare-table"'):]
    assert client.get(reverse("measures:units", args=["readmission-30-day"]), {"level": "wing"}).status_code == 404


def test_drill_down_is_for_permitted_roles_and_audited(client, results, cqo, make_user, sign_in_with_mfa):
    url = reverse("measures:cases", args=["readmission-30-day"]) + "?period=2025-12"
    page = client.get(url)
    assert page.status_code == 200 and "No cases are kept for this period" in page.content.decode()
    board = make_user(Role.BOARD_MEMBER)
    sign_in_with_mfa(board)
    assert client.get(url).status_code == 403


def test_counts_page_reports_a_wrong_csv(client, results, hospital, make_user, sign_in_with_mfa):
    sign_in_with_mfa(make_user(Role.UNIT_MANAGER, "rgh/4w"))
    url = reverse("measures:counts", args=["hand-hygiene"])
    upload = SimpleUploadedFile("hh.csv", b"unit,month,numerator,denominator\nrgh/4w,2025-01,19,20\nrgh/5e,2025-01,1,2\n")
    page = client.post(url, {"csv": upload}).content.decode()
    assert "Line 3: you may not enter counts for 5 East Cardiology" in page
    assert not ManualCount.objects.exists()
    response = client.post(url, {"unit": hospital.unit("rgh/4w").pk, "month": "2025-02", "numerator": "18",
                                 "denominator": "20"})
    assert response.status_code == 302
    count = ManualCount.objects.get()
    assert (count.month, count.numerator, count.denominator) == (date(2025, 2, 1), 18, 20)
    assert client.get(reverse("measures:counts", args=["falls"])).status_code == 404


def test_peer_reports_import_and_refusal(client, results, cqo):
    report = {"resourceType": "MeasureReport", "type": "summary", "status": "complete",
              "measure": "urn:andon:measure:readmission-30-day", "reporter": {"display": "St Elsewhere"},
              "period": {"start": "2025-01-01", "end": "2025-12-31"},
              "group": [{"population": [
                  {"code": {"coding": [{"code": "numerator"}]}, "count": 120},
                  {"code": {"coding": [{"code": "denominator"}]}, "count": 1000}]}]}
    url = reverse("measures:peers", args=["readmission-30-day"])
    bad = dict(report, measure="urn:andon:measure:falls")
    client.post(url, {"csv": SimpleUploadedFile("peer.json", json.dumps(bad).encode())})
    assert not PeerResult.objects.exists()
    client.post(url, {"csv": SimpleUploadedFile("peer.json", json.dumps(report).encode())})
    peer = PeerResult.objects.get()
    assert (peer.peer, peer.numerator, peer.denominator, peer.value) == ("St Elsewhere", 120, 1000, pytest.approx(12.0))
    assert "St Elsewhere" in client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()


def test_a_shared_export_imports_as_a_peers_report_without_its_withheld_periods(client, results, cqo, settings):
    settings.ANDON_SMALL_CELL_THRESHOLD = 41  # 9 of the 24 months count 37 to 40 readmissions
    shared = client.get(reverse("measures:report_json", args=["readmission-30-day"]), {"share": "1"}).content
    response = client.post(reverse("measures:peers", args=["readmission-30-day"]),
                           {"csv": SimpleUploadedFile("shared.json", shared)}, follow=True)
    small = sum(1 for n in NUMERATORS if n < 41)
    assert small == 9
    assert PeerResult.objects.count() == 24 - small
    assert sorted(PeerResult.objects.values_list("numerator", flat=True)) == sorted(n for n in NUMERATORS if n >= 41)
    assert f"{24 - small} peer results imported; {small} periods withheld by the peer as small cells" in \
        response.content.decode()


def test_compute_page_queues_a_job(client, results, make_user, sign_in_with_mfa):
    sign_in_with_mfa(make_user(Role.QUALITY_ANALYST))
    response = client.post(reverse("measures:compute"), {"measures": ["falls"], "kind": "month", "first": "2025-01-01",
                                                         "last": "2025-12-31"})
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == reverse("platform:job", args=[job.pk])
    assert job.title == "Compute falls (month, 2025-01-01 to 2025-12-31)"
    assert MeasureResult.objects.filter(measure__key="falls").count() == 0  # queued, not run


def test_times_on_job_measure_and_audit_pages_are_in_the_organisations_time_zone(client, results, make_user,
                                                                                 sign_in_with_mfa, settings):
    from datetime import UTC, datetime

    settings.TIME_ZONE = "America/Chicago"
    analyst = make_user(Role.QUALITY_ANALYST)
    sign_in_with_mfa(analyst)
    client.post(reverse("measures:compute"), {"measures": ["falls"], "kind": "month", "first": "2025-01-01",
                                              "last": "2025-12-31"})
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(created_at=datetime(2025, 7, 1, 3, 30, tzinfo=UTC),
                                         started_at=datetime(2025, 7, 1, 3, 31, 5, tzinfo=UTC))
    page = client.get(reverse("platform:job", args=[job.pk])).content.decode()
    assert "2025-06-30 22:30:00 CDT" in page and "started 22:31:05 CDT" in page  # not 03:30 (UTC)
    listed = client.get(reverse("platform:jobs")).content.decode()
    assert "2025-06-30 22:30 CDT" in listed
    MeasureResult.objects.filter(measure=results).update(computed_at=datetime(2026, 1, 15, 2, 0, tzinfo=UTC))
    library = client.get(reverse("measures:library")).content.decode()
    assert "2026-01-14 20:00 CST" in library


def test_only_those_who_manage_measures_everywhere_recompute_them(client, results, make_user, sign_in_with_mfa):
    """A computation replaces the stored cells of every unit of every hospital for its periods: an
    analyst of one hospital does not start one (the page and the API refuse it, nothing queued)."""
    from andon.platform.models import AccessToken

    lakeside = make_user(Role.QUALITY_ANALYST, "lch")
    sign_in_with_mfa(lakeside)
    page = client.post(reverse("measures:compute"), {"measures": ["falls"], "kind": "month", "first": "2025-01-01",
                                                     "last": "2025-12-31"})
    client.logout()
    _, raw = AccessToken.issue(lakeside, "compute")
    api = client.post("/api/v1/measures/computations", {"measures": ["falls"], "first": "2025-01-01",
                                                         "last": "2025-12-31"}, content_type="application/json",
                      headers={"Authorization": f"Bearer {raw}"})
    assert (page.status_code, api.status_code) == (403, 403) and not Job.objects.exists()


def test_the_api_gives_the_chart_as_data(client, results, make_user, settings):
    from andon.platform.models import AccessToken

    settings.ANDON_SMALL_CELL_THRESHOLD = 20
    _, raw = AccessToken.issue(make_user(Role.QUALITY_ANALYST), "api")
    headers = {"Authorization": f"Bearer {raw}"}
    chart = client.get("/api/v1/measures/readmission-30-day/chart", headers=headers).json()
    assert (chart["kind"], chart["variation"], len(chart["points"])) == ("p", "special_cause_concern", 24)
    last = chart["points"][-1]
    assert (last["period_start"], last["numerator"], last["denominator"], last["value"]) == ("2025-12-01", 66, 200, 33.0)
    assert last["special_cause"] == "special_cause_concern" and last["rule"] == "outside_limits"
    female = client.get("/api/v1/measures/readmission-30-day/chart?stratum=sex&value=female", headers=headers).json()
    assert female["points"][-1]["numerator"] == 33
    rows = client.get("/api/v1/measures/readmission-30-day/results?first=2025-12-01", headers=headers).json()
    assert rows["count"] == 5 and {r["data_load"] for r in rows["items"]} == {"test load"}
    posted = client.post("/api/v1/measures/readmission-30-day/annotations", {"date": "2025-06-01", "text": "Bundle"},
                         content_type="application/json", headers=headers)
    assert posted.status_code == 201 and Annotation.objects.get().text == "Bundle"
    refused = client.post("/api/v1/measures/computations", {"first": "2025-01-01", "last": "2099-01-01"},
                          content_type="application/json", headers=headers)
    assert refused.status_code == 422 and "at most 20 years" in refused.content.decode()
    shared = client.get("/api/v1/measures/readmission-30-day/measure-report?share=true", headers=headers).json()
    whole = client.get("/api/v1/measures/readmission-30-day/measure-report", headers=headers).json()
    # 37 of 200 in August 2024: the sexes' 18 and 18 are under the threshold of 20
    august = [e["resource"]["group"][0]["stratifier"] for e in (shared["entry"][7], whole["entry"][7])]
    sexes = [next(s["stratum"] for s in stratifiers if s["code"][0]["text"] == "sex") for stratifiers in august]
    assert [("extension" in s, "population" in s) for s in sexes[0]] == [(True, False)] * 2
    assert [s["population"][0]["count"] for s in sexes[1]] == [18, 18]


def test_the_demo_computes_its_measures_with_the_stories_put_in_its_data(demo_hospital):
    from andon.measures import results as reading

    readmission, _ = reading.chart(Measure.objects.get(key="readmission-30-day"))
    assert len(readmission.points) == 24 and readmission.variation == "special_cause_concern"
    hygiene, notes = reading.chart(Measure.objects.get(key="hand-hygiene"))
    assert [n.text for n in notes] == ["Hand-hygiene champions on every ward"] and hygiene.rebased_at
    assert MeasureResult.objects.filter(measure__key="falls").exists()
    assert MeasureResult.objects.filter(measure__key="average-length-of-stay", unit__code="4w").exists()
    # issue 15, friction 16: every tile of the dashboard has data to its latest month, the
    # eCQMs included (from the shipped content, ANDON_ECQM_CONTENT unset), and none opens with
    # months of nothing: the demo's safety events span the 24 months (tests/test_demo.py).
    from tests.test_demo import check_the_loaded_demo_events

    check_the_loaded_demo_events()
    cqo = get_user_model().objects.get(username="cqo.olivia")  # the whole organisation's dashboard
    tiles = [tile for _, _, found in reading.dashboard(reading.place_for(cqo)) for tile in found]
    assert len(tiles) == sum(m.listed for m in Measure.objects.filter(active=True)) >= 19
    for tile in tiles:
        points = tile.view.points if tile.view else []
        assert len(points) == 24 and all(p.value is not None for p in points[-3:]), tile.measure.key
        assert any(p.value for p in points[:22]), tile.measure.key  # never 22 months of nothing
    for key in ["vte-prophylaxis", "stroke-anticoagulation", "cesarean-birth", "severe-hypoglycemia",
                "severe-hyperglycemia", "hybrid-readmission-cohort"]:
        measure = Measure.objects.get(key=key)
        assert measure.compute_error == "", key
        assert MeasureResult.objects.filter(measure=measure, unit__code="4w").exists() or key == "cesarean-birth"
    # the eCQMs' drill-down has its cases in the demo (made from the store, as for any eCQM)
    from andon.measures import cases as kept_cases

    latest = max(r.period_start for r in MeasureResult.objects.filter(measure__key="vte-prophylaxis"))
    kept = kept_cases.kept("vte-prophylaxis", "month", latest)
    latest_cell = MeasureResult.objects.get(measure__key="vte-prophylaxis", period_start=latest, unit=None, stratum="")
    assert kept is not None and kept.num_rows == latest_cell.cases > 0
    vte = reading.chart(Measure.objects.get(key="vte-prophylaxis"))[0]
    assert 60 < sum(p.value for p in vte.points) / 24 < 95  # most inpatients get prophylaxis
    falls, notes = reading.chart(Measure.objects.get(key="falls"))
    # The falls action's rebase, then the start of the demo QI project's PDSA cycle (a mark, no rebase).
    qi_start = f"QI-{timezone.localdate().year}-001 PDSA 1: start of “Hourly rounding on nights, one bay”"
    assert [n.text for n in notes] == ["Bed-exit alarms and hourly rounding on 4 West", qi_start] and notes[0].action_id
    assert falls.rebased_at == [notes[0].date]
    # That a second load adds no annotation: test_cli_and_content.py, which loads the demo twice.


def test_hostile_text_is_escaped_in_the_page_and_the_chart(client, results, cqo):
    hostile = '<script>alert("x")</script> & "quotes"'
    client.post(reverse("measures:annotate", args=["readmission-30-day"]), {"date": "2025-03-01", "kind": "note",
                                                                           "text": hostile})
    page = client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page  # the list
    svg = client.get(reverse("measures:chart_svg", args=["readmission-30-day"])).content.decode()
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_an_annotation_links_the_action_it_marks(client, results, cqo, hospital):
    from datetime import timedelta

    from django.utils import timezone

    from andon.actions.models import Action

    action = Action.objects.create(title="Post-discharge phone calls", unit=hospital.unit("rgh/4w"), owner=cqo,
                                   created_by=cqo, due_date=timezone.localdate() + timedelta(days=30),
                                   strength="intermediate", measure="Readmission rate on the chart")
    client.post(reverse("measures:annotate", args=["readmission-30-day"]),
                {"date": "2025-06-01", "kind": "action", "text": "Phone calls started", "action": action.pk})
    assert Annotation.objects.get().action == action
    page = client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()
    assert reverse("actions:detail", args=[action.pk]) in page


def test_an_action_the_annotator_cannot_see_is_refused(results, hospital, make_user):
    from datetime import timedelta

    from django.core.exceptions import PermissionDenied
    from django.utils import timezone

    from andon.actions.models import Action

    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "lch")
    owner = make_user(Role.UNIT_MANAGER, "rgh/4w")
    hidden = Action.objects.create(title="Elsewhere", unit=hospital.unit("rgh/4w"), owner=owner, created_by=owner,
                                   due_date=timezone.localdate() + timedelta(days=30), strength="weaker", measure="m")
    with pytest.raises(PermissionDenied):
        services.annotate(officer, results, on=date(2025, 6, 1), text="x", action=hidden)
    assert not Annotation.objects.exists()


# The worker commits and checks its connection as in production (test_jobs.py): inside one
# rolled-back test transaction it would close the connection under the test on PostgreSQL.
@pytest.mark.django_db(transaction=True)
def test_the_computation_job_runs_and_reports_each_measure(results, hospital, make_user):
    from django.core.management import call_command

    analyst = make_user(Role.QUALITY_ANALYST)
    services.enter_count(analyst, Measure.objects.get(key="clabsi"), hospital.unit("rgh/icu"), date(2025, 2, 1), 1, 250)
    job = services.start_computation(analyst, ["clabsi", "average-length-of-stay"], first=date(2025, 1, 1),
                                     last=date(2025, 3, 31))
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    reported = {m["measure"]: m for m in job.result["measures"]}
    # the organisation, the ICU and Critical Care, the department above it
    assert reported["clabsi"]["cells"] == 3 and reported["clabsi"]["error"] == ""
    assert "average-length-of-stay" in reported
    row = MeasureResult.objects.get(measure__key="clabsi", unit=hospital.unit("rgh/icu"))
    assert (row.value, row.job_id) == (pytest.approx(4.0), job.pk)
    department = MeasureResult.objects.get(measure__key="clabsi", unit=hospital.unit("rgh/critical-care"))
    assert (department.numerator, department.denominator) == (1, 250)


@pytest.mark.django_db(transaction=True)
def test_a_large_counts_file_is_imported_by_a_job(client, results, make_user, sign_in_with_mfa, settings, tmp_path):
    from django.core.management import call_command

    settings.ANDON_IMPORT_JOB_ROWS, settings.DATA_DIR = 1, tmp_path  # two rows make a large file here
    sign_in_with_mfa(make_user(Role.UNIT_MANAGER, "rgh/4w"))
    url = reverse("measures:counts", args=["hand-hygiene"])
    jobs = []
    for content in (b"rgh/4w,2025-01,19,20\nrgh/5e,2025-01,1,2\n", b"rgh/4w,2025-01,19,20\nrgh/4w,2025-02,18,20\n"):
        upload = SimpleUploadedFile("hh.csv", b"unit,month,numerator,denominator\n" + content)
        response = client.post(url, {"csv": upload})
        jobs.append(Job.objects.latest("pk"))
        assert response["Location"] == reverse("platform:job", args=[jobs[-1].pk])
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    wrong, good = (Job.objects.get(pk=job.pk) for job in jobs)
    assert (wrong.status, wrong.result["stored"], wrong.progress_done, wrong.progress_total) == ("succeeded", 0, 2, 2)
    assert wrong.message == ("Nothing was imported: 1 of 2 rows have problems (the first on line 3: you may not "
                             "enter counts for 5 East Cardiology).")
    download = client.get(reverse("platform:job_download", args=[wrong.pk]))
    assert b"".join(download.streaming_content).decode().splitlines() == [
        "line,problem", "3,you may not enter counts for 5 East Cardiology"]
    assert (good.status, good.result, good.message) == ("succeeded", {"rows": 2, "stored": 2}, "2 counts imported.")
    assert sorted(ManualCount.objects.values_list("month", "numerator")) == [(date(2025, 1, 1), 19), (date(2025, 2, 1), 18)]


def test_peers_sit_on_the_unit_funnel_without_moving_its_centre(client, results, cqo):
    from andon.measures import charts

    PeerResult.objects.create(measure=results, peer="St Elsewhere", period_start=date(2025, 1, 1),
                              period_end=date(2025, 12, 31), numerator=120, denominator=1000, value=12.0,
                              source="peer.json", imported_by=cqo)
    PeerResult.objects.create(measure=results, peer="Too early", period_start=date(2023, 1, 1),
                              period_end=date(2023, 12, 31), numerator=1, denominator=10, value=10.0,
                              source="peer.json", imported_by=cqo)
    rows, window = results_module.compare(results, units=services.visible_units(cqo))
    peers = results_module.peers_in(results, window)
    assert [(p.label, p.numerator, p.denominator) for p in peers] == [("Peer: St Elsewhere", 120, 1000)]
    own = [(r.label, r.numerator, r.denominator) for r in rows]
    points, centre, _ = charts.funnel_points(results, own, [(p.label, p.numerator, p.denominator) for p in peers])
    assert centre == pytest.approx(100 * sum(n for _, n, _ in own) / sum(d for _, _, d in own))
    assert points[-1].label == "Peer: St Elsewhere" and points[-1].outside == "alarm"  # 12 % against ~25 %
    page = client.get(reverse("measures:units", args=["readmission-30-day"])).content.decode()
    assert "Peer: St Elsewhere" in page and "Too early" not in page


def test_annotations_at_the_chart_edges_are_drawn_whole_and_in_the_table(client, results, cqo):
    long = "Falls huddle at every shift change on all medical wards, led by the charge nurse"
    for day, text in ((date(2024, 1, 1), "Baseline audit"), (date(2025, 12, 15), long), (date(2026, 2, 1), "Later")):
        services.annotate(cqo, results, on=day, text=text)
    root = ET.fromstring(client.get(reverse("measures:chart_svg", args=["readmission-30-day"])).content)
    lines = [line for line in root.iter(f"{SVG}line") if line.get("class") == "annotation"]
    # the first at the left edge of the plot; the one in the last month (December 2025) at its right edge
    assert [(line.find(f"{SVG}title").text, float(line.get("x1"))) for line in lines] == [
        ("2024-01-01: Baseline audit", 64.0), (f"2025-12-15: {long}", 836.0)]
    label = [t for t in root.iter(f"{SVG}text") if t.get("class") == "annotation-label"][1]
    rows = [tspan.text for tspan in label.iter(f"{SVG}tspan")]
    assert " ".join(rows) == long and len(rows) > 1  # wrapped, not cut
    # drawn to the left of its line, inside the drawing
    assert label.get("text-anchor") == "end" and float(label.find(f"{SVG}tspan").get("x")) <= float(root.get("width"))
    page = client.get(reverse("measures:measure", args=["readmission-30-day"])).content.decode()
    assert f"<td>2025-12-15: {long}</td>" in page  # the chart's table holds the whole text
    later = page[page.index("Later"):][:200]
    assert "outside the periods on the chart" in later


def test_an_ecqm_without_its_content_fails_its_job_with_the_reason_on_the_job_and_measure_pages(
        client, results, hospital, make_user, sign_in_with_mfa, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}  # runs at once
    settings.ANDON_ECQM_CONTENT = []
    analyst = make_user(Role.QUALITY_ANALYST)
    sign_in_with_mfa(analyst)
    reason = "vte-prophylaxis: no eCQM content is configured (ANDON_ECQM_CONTENT)"
    form = {"measures": ["vte-prophylaxis"], "kind": "month", "first": "2025-01-01", "last": "2025-03-31"}
    job = Job.objects.get(pk=client.post(reverse("measures:compute"), form).url.rstrip("/").split("/")[-1])
    assert (job.status, job.error) == (Job.Status.FAILED, f"Nothing was computed. {reason}")
    job_page = client.get(reverse("platform:job", args=[job.pk])).content.decode()
    assert "The job failed." in job_page and reason in job_page
    measure_page = client.get(reverse("measures:measure", args=["vte-prophylaxis"])).content.decode()
    shown = measure_page[measure_page.index('id="compute-error"'):][:600]
    assert reason in shown and reverse("platform:job", args=[job.pk]) in shown
    # with another measure that can be computed, the job did part of its work and lists the rest
    services.enter_count(analyst, Measure.objects.get(key="clabsi"), hospital.unit("rgh/icu"), date(2025, 2, 1), 1, 250)
    partly = Job.objects.get(pk=client.post(reverse("measures:compute"), {**form, "measures": ["clabsi", "vte-prophylaxis"]})
                             .url.rstrip("/").split("/")[-1])
    assert partly.status == Job.Status.SUCCEEDED and partly.result["problems"] == [reason]
    assert "Done in part." in client.get(reverse("platform:job", args=[partly.pk])).content.decode()


def test_the_measure_page_tells_its_history_in_words(client, results, cqo):
    """Friction 12: a change of the measure in plain words, by the person's name."""
    from andon.platform import audit

    before = results.target
    cqo.first_name, cqo.last_name = "Dana", "Ortiz"
    cqo.save()
    with audit.acting_as(cqo):
        results.target, results.improvement = 9.5, "increase"
        results.save()
    response = client.get(reverse("measures:measure", args=[results.key]))
    latest = response.context["history"][0]
    assert latest.who == "Dana Ortiz"
    old = "Target set to 9.5" if before is None else f"Target changed from {before} to 9.5"
    assert old in latest.changes and "Improvement changed from Lower is better to Higher is better" in latest.changes
    shown = response.content.decode().split('id="history-heading"')[1]
    assert old in shown and "∅" not in shown and "compute_error" not in shown


def test_a_comparison_to_share_withholds_rows_below_the_threshold_and_keeps_those_at_it(
        client, results, cqo, hospital, settings):
    """ANDON_SMALL_CELL_THRESHOLD (default 11): 10 readmissions are withheld, 11 are shown; with
    one row withheld among the units, the smallest other is too (else subtraction gives it)."""
    assert settings.ANDON_SMALL_CELL_THRESHOLD == 11
    MeasureResult.objects.filter(measure=results).exclude(unit=None).delete()
    counts = {"rgh/4w": (10, 300), "rgh/5e": (11, 300), "rgh/6n": (40, 500), "rgh/icu": (60, 200)}
    for path, (numerator, denominator) in counts.items():
        MeasureResult.objects.create(measure=results, period_kind="month", period_start=date(2025, 12, 1),
                                     period_end=date(2026, 1, 1), unit=hospital.unit(path), cases=denominator,
                                     numerator=numerator, denominator=denominator, value=100 * numerator / denominator,
                                     definition_version="t", data_load="t")

    def export(**query):
        response = client.get(reverse("measures:compare_csv", args=["readmission-30-day"]), query)
        assert response.status_code == 200
        return {r["label"]: r for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))}

    whole = export()  # inside the quality department: every count
    assert {label: (r["numerator"], r["suppressed"]) for label, r in whole.items()} == {
        "4 West Medical (rgh)": ("10.0", ""), "5 East Cardiology (rgh)": ("11.0", ""),
        "6 North Surgical (rgh)": ("40.0", ""), "Intensive Care Unit (rgh)": ("60.0", "")}
    shared = export(share="1")
    assert (shared["4 West Medical (rgh)"]["numerator"], shared["4 West Medical (rgh)"]["value"],
            shared["4 West Medical (rgh)"]["suppressed"]) == ("", "", "yes")  # 10: below
    # 11 is at the threshold, not below it: shown
    assert (shared["5 East Cardiology (rgh)"]["numerator"], shared["5 East Cardiology (rgh)"]["suppressed"]) == (
        "11.0", "")
    # one row withheld of four adding up to a total: the smallest other (200 patients) goes too
    assert shared["Intensive Care Unit (rgh)"]["suppressed"] == "yes"
    assert (shared["6 North Surgical (rgh)"]["numerator"], shared["6 North Surgical (rgh)"]["suppressed"]) == ("40.0", "")
    settings.ANDON_SMALL_CELL_THRESHOLD = 10  # 10 is now at the threshold: nothing withheld
    assert {r["suppressed"] for r in export(share="1").values()} == {""}
    equity = export(stratum="sex", share="1")
    assert set(equity) == {"female", "male"} and {r["suppressed"] for r in equity.values()} == {""}
