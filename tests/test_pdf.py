"""PDF reports: the SPC chart, the Pareto and the fishbone, drawn by the chart kit, printed by
WeasyPrint into one PDF whose text (read back with pypdf) holds what each chart draws; and the
fetcher that keeps a report from reaching the network or the server's files."""

import base64
import io
from datetime import date
from types import SimpleNamespace

import pypdf
import pytest

from andon.measures import charts as measure_charts
from andon.measures.models import Measure
from andon.platform import pdf
from andon.safety import analysis, fishbone

NUMERATORS = [40, 42, 38, 41, 39, 43, 40, 37, 42, 41, 39, 40, 38, 41, 40, 42, 60, 62, 61, 64, 63, 65, 62, 66]
STARTS = [date(2024 + i // 12, i % 12 + 1, 1) for i in range(24)]


def spc_chart():
    measure = Measure(key="readmissions", title="Readmissions within 30 days", improvement="decrease",
                      scoring="proportion", unit_label="% readmitted", multiplier=100, target=25, definition={})
    view = measure_charts.spc_view(measure, [(s, n, 200, n / 2) for s, n in zip(STARTS, NUMERATORS, strict=True)],
                                   [STARTS[16]])
    notes = [SimpleNamespace(date=STARTS[16], text="Discharge phone calls")]
    return measure_charts.spc_chart(measure, view, notes)


def report_html():
    pareto = analysis.pareto_chart(analysis.pareto([("Medication", 7), ("Fall", 5), ("Pressure injury", 2)]),
                                   "Safety events by category")
    bones = fishbone.chart("Patient fell at night", [{"label": "People", "factors": ["Night staffing short"]},
                                                     {"label": "Equipment", "factors": ["Bed alarm silenced"]}])
    # The charts alone, without their tables: what the PDF shows must come from the drawings.
    return f"<html><body>{spc_chart().svg}{pareto.svg}{bones.svg}</body></html>"


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_a_pdf_holds_the_spc_chart_the_pareto_and_the_fishbone(settings):
    data = pdf.render_pdf(report_html())
    assert data.startswith(b"%PDF-")
    pages, text = pdf_text(data)
    assert pages >= 1
    # SPC: the axis title, period labels (every other one of 24), the target and the annotation
    for drawn in ("% readmitted", "Jan 24", "Nov 25", "target 25", "Discharge phone calls"):
        assert drawn in text, drawn
    # Pareto: its title, both axis titles and the categories
    for drawn in ("Safety events by category", "Number of events", "Cumulative percent", "Medication",
                  "Pressure injury", "80%"):
        assert drawn in text, drawn
    # Fishbone: the problem, the bones and their factors
    for drawn in ("Patient fell at night", "People", "Equipment", "Night staffing short", "Bed alarm silenced"):
        assert drawn in text, drawn


def test_a_template_renders_to_pdf(tmp_path, settings):
    (tmp_path / "report.html").write_text("<h1>Board quality pack {{ month }}</h1>{{ chart }}")
    settings.TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [tmp_path]}]
    _, text = pdf_text(pdf.render_template_pdf("report.html", {"month": "March", "chart": spc_chart().svg}))
    assert "Board quality pack March" in text and "% readmitted" in text


@pytest.mark.parametrize("url", [
    "http://example.org/logo.png",
    "https://andon.invalid/media/secret.png",  # the app's address, but not its static files
    "https://andon.invalid/static/../settings.py",
    "file:///etc/passwd",
    "ftp://example.org/x.css",
])
def test_the_fetcher_refuses_the_network_and_local_files(url):
    with pytest.raises(pdf.FetchRefused):
        pdf._fetcher().fetch(url)


def test_the_fetcher_serves_data_urls_and_static_files():
    pixel = base64.b64encode(b"GIF89a").decode()
    assert pdf._fetcher().fetch(f"data:image/gif;base64,{pixel}").read() == b"GIF89a"
    css = pdf._fetcher().fetch(pdf.BASE_URL + "static/andon/andon.css")
    assert b".chart-tip" in css.read()


def test_a_refused_link_leaves_the_rest_of_the_report(caplog):
    _, text = pdf_text(pdf.render_pdf('<p>Before</p><img src="http://example.org/x.png" alt=""><p>After</p>'))
    assert "Before" in text and "After" in text
    assert "FetchRefused" in caplog.text
