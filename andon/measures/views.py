"""Measure pages: the dashboard by IOM domain, the library, a measure's chart with its
annotations and table, the equity and unit comparisons, the drill-down to patients, counts
entry, peers' reports and computation. Thin: parse, ask the services, render."""

from datetime import UTC, date

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.actions import services as actions_services
from andon.platform import history, inputs, permissions
from andon.platform import services as platform_services
from andon.platform.exports import streaming_csv
from andon.platform.models import Facility, Organisation, Unit
from andon.platform.permissions import requires

from . import charts, definitions, exchange, results, services, why
from .forms import AnnotationForm, CaseReviewForm, ComputeForm, DashboardForm, CountForm, MappingForm, UploadForm
from .models import PeerResult, SourceKind


def _unit(request, capability="measures.view") -> Unit | None:
    """The unit asked for (?unit=id), if the viewer may see it; None for the whole organisation."""
    raw = request.GET.get("unit") or ""
    if not raw:
        return None
    unit_id = inputs.record_id(raw)
    if unit_id is None:
        raise Http404("no such unit")
    return platform_services.access_unit(request.user, unit_id, capability)


def _actions(request):
    """Actions the viewer may link an annotation to (the actions module's door), newest first."""
    return actions_services.visible_actions(request.user).order_by("-created_at")


def _stratum(request) -> tuple[str, str]:
    stratum = request.GET.get("stratum") or ""
    if stratum and stratum not in results.STRATA_LABELS:
        raise Http404("no such stratum")
    return stratum, (request.GET.get("value") or "") if stratum else ""


def _facility(request) -> Facility | None:
    """The facility asked for (?facility=id); whether the viewer may see it is the scope's question."""
    raw = request.GET.get("facility") or ""
    if not raw:
        return None
    facility_id = inputs.record_id(raw)
    facility = Facility.objects.filter(pk=facility_id).first() if facility_id else None
    if facility is None:
        raise Http404("no such facility")
    return facility


@requires("measures.view")
def dashboard(request):
    """Every listed measure as a tile, for the organisation, a hospital or a unit, over a range
    of months (GET, so a view can be bookmarked and shared)."""
    form = DashboardForm(request.GET)
    unit, facility = _unit(request), _facility(request)
    months = form.cleaned_data if form.is_valid() else {}
    place = results.place_for(request.user, unit=unit, facility=facility, first=months.get("first"),
                              last=months.get("last"))
    units = list(services.visible_units(request.user).select_related("facility").order_by("facility__name", "path"))
    facilities = list({u.facility_id: u.facility for u in units}.values())
    return render(request, "measures/dashboard.html", {
        "domains": results.dashboard(place) if form.is_valid() else [], "place": place, "form": form,
        "units": units, "facilities": facilities, "unit": unit, "facility": facility or (unit.facility if unit else None),
        "organisation_wide": permissions.holds_everywhere(request.user, "measures.view"),
        "variation": charts.VARIATION, "assurance": charts.ASSURANCE,
        "may_manage": permissions.can(request.user, "measures.manage")})


@requires("measures.view")
def library(request):
    measures = [(m, results.last_computed(m)) for m in services.listed_measures()]
    return render(request, "measures/library.html", {"measures": measures})


def _chart(request, key):
    """The measure, unit, stratum and chart a chart page asks for (?unit=&stratum=&value=)."""
    measure = services.access_measure(request.user, key)
    unit = _unit(request)
    stratum, value = _stratum(request)
    view, notes = results.chart(measure, unit=unit, stratum=stratum, value=value)
    return measure, unit, stratum, value, view, notes


@requires("measures.view")
def measure_page(request, key):
    measure, unit, stratum, value, view, notes = _chart(request, key)
    title = measure.title + (f" · {unit.name}" if unit else "")
    if stratum:
        title += f" · {results.STRATA_LABELS[stratum]}: {value}"
    units = services.visible_units(request.user).select_related("facility")
    failed_job = measure.compute_error_job
    return render(request, "measures/measure.html", {
        "measure": measure, "view": view, "notes": notes, "unit": unit, "stratum": stratum, "value": value,
        "method": definitions.counting_method(measure.definition, measure.scoring),
        "failed_job": failed_job if failed_job and permissions.can(request.user, "platform.view_job", failed_job) else None,
        "off_chart": charts.off_chart(view, notes),
        "chart": charts.spc_chart(measure, view, notes, title=title) if view.points else None,
        "rows": list(zip(view.points, [charts.point_title(measure, p) if p.value is not None else "" for p in view.points],
                         strict=True)),
        "units": units, "strata": results.STRATA_LABELS, "variation": charts.VARIATION, "assurance": charts.ASSURANCE,
        "rule_names": charts.RULE_NAMES, "annotation_form": AnnotationForm(actions=_actions(request)),
        "may_annotate": permissions.can(request.user, "measures.annotate"),
        # Without a unit the drill-down lists the patients of the viewer's units (cases page).
        "may_drill": (measure.source_kind in (SourceKind.SQL, SourceKind.ECQM)
                      and (permissions.can(request.user, "measures.view_patients", unit) if unit
                           else permissions.can(request.user, "measures.view_patients"))),
        "may_enter": (measure.source_kind == SourceKind.MANUAL
                      and permissions.units_where(request.user, "measures.enter_counts").exists()),
        "may_manage": permissions.can(request.user, "measures.manage"),
        "peers": PeerResult.objects.filter(measure=measure).order_by("peer", "period_start")[:200],
        "upload_form": UploadForm(), "small_cell_threshold": settings.ANDON_SMALL_CELL_THRESHOLD,
        "history": history.history_of(measure, limit=20, actions=[LogEntry.Action.CREATE, LogEntry.Action.UPDATE]),
    })


@require_POST
@requires("measures.annotate")
def annotate(request, key):
    measure = services.access_measure(request.user, key, "measures.annotate")
    form = AnnotationForm(request.POST, actions=_actions(request))
    if form.is_valid():
        try:
            services.annotate(request.user, measure, on=form.cleaned_data["date"], text=form.cleaned_data["text"],
                              kind=form.cleaned_data["kind"], rebase=form.cleaned_data["rebase"],
                              action=form.cleaned_data["action"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The annotation is on the chart" + (" and the limits are rebased there." if
                                                                           form.cleaned_data["rebase"] else "."))
    else:
        messages.error(request, "The annotation needs a date and a description: " + form.errors.as_text())
    return redirect("measures:measure", key=measure.key)


def _export(request, measure):
    """(cells, cells to hide, file name suffix): `?share=1` asks for an export fit to leave the
    quality department, small cells hidden."""
    shared = request.GET.get("share") == "1"
    rows, hidden = services.export_cells(request.user, measure, for_sharing=shared)
    return rows, hidden, "-shared" if shared else ""


@requires("measures.view")
def report_json(request, key):
    measure = services.access_measure(request.user, key)
    organisation = Organisation.objects.order_by("pk").values_list("name", flat=True).first() or "Andon"
    rows, hidden, suffix = _export(request, measure)
    bundle = exchange.report_bundle(measure, rows, organisation, hidden)
    response = JsonResponse(bundle, json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="{measure.key}-measurereport{suffix}.json"'
    return response


@requires("measures.view")
def results_csv(request, key):
    measure = services.access_measure(request.user, key)
    rows, hidden, suffix = _export(request, measure)
    return streaming_csv(exchange.CSV_COLUMNS, exchange.csv_rows(measure, rows.iterator(), hidden),
                         f"{measure.key}-results{suffix}.csv")


@requires("measures.view")
def equity(request, key):
    measure = services.access_measure(request.user, key)
    stratum = request.GET.get("stratum") or "race"
    if stratum not in results.STRATA_LABELS:
        raise Http404("no such stratum")
    rows, window = results.compare(measure, stratum=stratum)
    points, centre, curves = charts.funnel_points(measure, [(r.label, r.numerator, r.denominator) for r in rows])
    chart = charts.funnel_chart(measure, points, centre, curves,
                                f"{measure.title} by {results.STRATA_LABELS[stratum].lower()}", "Denominator") if points else None
    return render(request, "measures/compare.html", {
        "measure": measure, "rows": rows, "window": window, "chart": chart, "stratum": stratum,
        "strata": results.STRATA_LABELS, "heading": f"Equity: {results.STRATA_LABELS[stratum].lower()}",
        "small_cell_threshold": settings.ANDON_SMALL_CELL_THRESHOLD,
        "points": {p.label: p for p in points}, "marks": {p.label: i for i, p in enumerate(points, start=1)}})


@requires("measures.view")
def units(request, key):
    measure = services.access_measure(request.user, key)
    level = request.GET.get("level") or Unit.Kind.WARD
    if level not in Unit.Kind.values:
        raise Http404("no such kind of unit")
    rows, window = results.compare(measure, units=services.visible_units(request.user), unit_kind=level)
    peers = results.peers_in(measure, window)
    points, centre, curves = charts.funnel_points(measure, [(r.label, r.numerator, r.denominator) for r in rows],
                                                  [(p.label, p.numerator, p.denominator) for p in peers])
    label = Unit.Kind(level).label.lower()
    chart = charts.funnel_chart(measure, points, centre, curves, f"{measure.title} by {label}",
                                "Denominator") if points else None
    return render(request, "measures/compare.html", {
        "measure": measure, "rows": rows + peers, "window": window, "chart": chart, "stratum": "",
        "strata": results.STRATA_LABELS, "heading": "Unit comparison", "points": {p.label: p for p in points},
        "small_cell_threshold": settings.ANDON_SMALL_CELL_THRESHOLD,
        "marks": {p.label: i for i, p in enumerate(points, start=1)},
        "levels": Unit.Kind.choices, "level": level})


def _review_request(request, key):
    """(measure, unit, stratum, value, period, form) of a drill-down or its export."""
    measure = services.access_measure(request.user, key)
    unit = _unit(request, "measures.view_patients")
    stratum, value = _stratum(request)
    return measure, unit, stratum, value, _period(request), CaseReviewForm(request.GET)


@requires("measures.view")
def compare_csv(request, key):
    """The equity (?stratum=) or unit (?level=) comparison as CSV; `?share=1` for one leaving the
    quality department: small rows withheld (ANDON_SMALL_CELL_THRESHOLD), as the results' export."""
    measure = services.access_measure(request.user, key)
    stratum, level = request.GET.get("stratum") or "", request.GET.get("level") or ""
    if stratum:
        if stratum not in results.STRATA_LABELS:
            raise Http404("no such stratum")
        rows, window = results.compare(measure, stratum=stratum)
        compared = stratum
    else:
        level = level or Unit.Kind.WARD
        if level not in Unit.Kind.values:
            raise Http404("no such kind of unit")
        rows, window = results.compare(measure, units=services.visible_units(request.user), unit_kind=level)
        compared = level
    shared = request.GET.get("share") == "1"
    threshold = settings.ANDON_SMALL_CELL_THRESHOLD if shared else 0
    return streaming_csv(exchange.COMPARE_COLUMNS, exchange.comparison_rows(measure, rows, window, compared, threshold),
                         f"{measure.key}-{compared}{'-shared' if shared else ''}.csv")


@requires("measures.view")
def cases(request, key):
    """The patients behind a cell, for chart review: sorted, filtered and paged (audited)."""
    measure, unit, stratum, value, period, form = _review_request(request, key)
    found, error = None, ""
    if form.is_valid():
        try:
            found = results.review_cases(request.user, measure, period_start=period, unit=unit, stratum=stratum,
                                         value=value, page=form.cleaned_data.get("page") or 1, **form.filters())
        except results.DrillDownUnavailable as unavailable:
            error = str(unavailable)
    query = request.GET.copy()
    query.pop("page", None)
    sorting = query.copy()
    for name in ("sort", "dir"):
        sorting.pop(name, None)
    return render(request, "measures/cases.html", {
        "measure": measure, "review": found, "error": error, "period": period, "unit": unit, "stratum": stratum,
        "value": value, "form": form, "scope": results.patients_scope(request.user, unit),
        "units": permissions.units_where(request.user, "measures.view_patients").select_related("facility")
                                                                                 .order_by("facility__name", "path"),
        "filters": form.filters() if form.is_valid() else {"sort": "at", "descending": False},
        "query": query.urlencode(), "sorting": sorting.urlencode(), "columns": CASE_COLUMNS,
        "explainable": measure.source_kind == SourceKind.ECQM})


# (sort key, heading, right-aligned) of the drill-down's table, each heading a link that sorts by it
CASE_COLUMNS = [("name", "Name", False), ("mrn", "MRN", False), ("age", "Age", True), ("sex", "Sex", False),
                ("unit", "Unit", False), ("admitted", "Admitted", False), ("discharged", "Discharged", False),
                ("numerator", "Numerator", True), ("denominator", "Denominator", True), ("value", "Value", True)]
CASES_CSV = ["name", "mrn", "birth_date", "age", "sex", "unit", "admitted", "discharged", "counted_at", "numerator",
             "denominator", "value", "patient", "encounter", "case"]


@requires("measures.view")
def cases_csv(request, key):
    """The drill-down as CSV: every patient the filters keep (identifiable, for the permitted
    analyst; the export is audited with its filters)."""
    measure, unit, stratum, value, period, form = _review_request(request, key)
    if not form.is_valid():
        return HttpResponse("; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()),
                            status=400, content_type="text/plain; charset=utf-8")
    try:
        rows = results.export_cases(request.user, measure, period_start=period, unit=unit, stratum=stratum, value=value,
                                    **form.filters())
    except results.DrillDownUnavailable as unavailable:
        return HttpResponse(str(unavailable), status=404, content_type="text/plain; charset=utf-8")
    def shown(moment):  # in the organisation's time zone, as the page shows it
        if not moment:
            return ""
        return timezone.localtime(moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)).strftime(
            "%Y-%m-%d %H:%M")

    lines = ({"name": ", ".join(part for part in (row["family"], row["given"]) if part), "mrn": row["mrn"],
              "birth_date": row["birth_date"], "age": row["age"], "sex": row["sex"], "unit": row["unit_name"],
              "admitted": shown(row["admitted"]), "discharged": shown(row["discharged"]), "counted_at": shown(row["at"]),
              "numerator": row["numerator"], "denominator": row["denominator"], "value": row["value"],
              "patient": row["patient_id"], "encounter": row["encounter_id"], "case": row["case_id"]} for row in rows)
    suffix = f"-{unit.facility.code}-{unit.code}" if unit else ""
    return streaming_csv(CASES_CSV, lines, f"{measure.key}-patients-{period:%Y-%m}{suffix}.csv", count=len(rows))


def _period(request) -> date:
    try:
        return inputs.month(request.GET.get("period") or "")
    except inputs.InputError:
        raise Http404("give the period as YYYY-MM") from None


@requires("measures.view")
def case_why(request, key):
    """Why one case of an eCQM result is in or out of each population (audited)."""
    measure = services.access_measure(request.user, key)
    unit = _unit(request, "measures.view_patients")
    period = _period(request)
    try:
        explained = why.explain_case(request.user, measure, period_start=period, case_id=request.GET.get("case") or "",
                                     unit=unit)
        error = ""
    except LookupError:
        raise Http404("no such case in this period") from None
    except why.Unexplained as unexplained:
        explained, error = None, str(unexplained)
    return render(request, "measures/why.html", {"measure": measure, "why": explained, "error": error, "period": period,
                                                 "unit": unit, "case_id": request.GET.get("case") or ""})


@requires("measures.view")
def counts(request, key):
    measure = services.access_measure(request.user, key)
    if measure.source_kind != SourceKind.MANUAL:
        raise Http404("counts are entered only for measures counted by hand")
    allowed = permissions.units_where(request.user, "measures.enter_counts").select_related("facility")
    if not allowed.exists():
        raise PermissionDenied("not permitted: measures.enter_counts")
    form = CountForm(request.POST or None, units=allowed)
    upload = UploadForm()
    report = None
    if request.method == "POST" and "csv" in request.FILES:
        upload = UploadForm(request.POST, request.FILES)
        if upload.is_valid():
            text, name = upload.text(), upload.cleaned_data["csv"].name
            if job := services.queue_counts_import(request.user, measure, text, name):
                return redirect("platform:job", pk=job.pk)
            report = services.import_counts_csv(request.user, measure, text, name)
            if report.ok:
                messages.success(request, f"{report.stored} counts imported.")
                return redirect("measures:counts", key=measure.key)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.enter_count(request.user, measure, data["unit"], data["month"], data["numerator"], data["denominator"])
        except ValidationError as error:
            form.add_error(None, " ".join(error.messages))
        else:
            messages.success(request, "The count is saved; it shows on the chart after the next computation.")
            return redirect("measures:counts", key=measure.key)
    entered = measure.manual_counts.filter(unit__in=allowed).select_related("unit", "entered_by").order_by("-month")[:100]
    return render(request, "measures/counts.html", {"measure": measure, "form": form, "upload": upload, "report": report,
                                                    "entered": entered})


@require_POST
@requires("measures.manage")
def peers(request, key):
    measure = services.access_measure(request.user, key, "measures.manage")
    upload = UploadForm(request.POST, request.FILES)
    if not upload.is_valid():
        problem = upload.errors["csv"][0] if "csv" in request.FILES else ""
        messages.error(request, f"Nothing was imported: {problem[:1].lower()}{problem[1:]}" if problem
                       else "Choose a MeasureReport file (JSON).")
    else:
        reading = services.import_peer_reports(request.user, measure, upload.text(), upload.cleaned_data["csv"].name)
        if reading.errors:
            messages.error(request, "Nothing was imported: " + "; ".join(reading.errors[:10]))
        else:
            withheld = f"; {reading.withheld} periods withheld by the peer as small cells" if reading.withheld else ""
            messages.success(request, f"{len(reading.rows)} peer results imported{withheld}.")
    return redirect("measures:measure", key=measure.key)


@requires("measures.manage")
def compute(request):
    permissions.check(request.user, "measures.manage", permissions.EVERYTHING)  # it recomputes every unit
    form = ComputeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = services.start_computation(request.user, data["measures"] or None, kind=data["kind"],
                                             first=data["first"], last=data["last"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The computation is queued; this page shows its progress.")
            return redirect("platform:job", pk=job.pk)
    return render(request, "measures/compute.html", {"form": form})


@requires("measures.view")
def chart_svg(request, key):
    """The chart alone as an SVG file (for reports and the board pack)."""
    measure, _unit_asked, _stratum_asked, _value, view, notes = _chart(request, key)
    return HttpResponse(charts.spc_svg(measure, view, notes), content_type="image/svg+xml; charset=utf-8")


@requires("measures.manage")
def mappings(request):
    """Which EHR locations and service providers count for which unit."""
    form = MappingForm(request.POST or None, units=services.mappable_units(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.map_unit(request.user, data["kind"], data["external_id"], data["unit"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        except PermissionDenied:
            messages.error(request, "This place counts for a unit outside your scope; it stays mapped there.")
        else:
            messages.success(request, "Mapped. Results show it after the next computation.")
            return redirect("measures:mappings")
    return render(request, "measures/mappings.html", {"form": form, "places": services.places_in_store(),
                                                      "units": form.fields["unit"].queryset})
