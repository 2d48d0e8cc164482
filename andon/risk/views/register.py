"""Risk pages: the register's list, the heat map (page and PDF), the board assurance framework and
the matrix settings. Thin: parse the filters, call the register's services, render."""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone

from andon.platform import concurrency, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import add_errors
from andon.platform.models import Unit
from andon.platform.pdf import render_template_pdf
from andon.platform.permissions import requires

from .. import overview
from .. import services as service
from ..models import Category, Level
from ..scoring import LEVEL_LABELS, LEVELS, Matrix

PAGE_SIZE = 25
STATUSES = [("open", "Open"), ("closed", "Closed"), ("any", "Open and closed")]


# --- forms --------------------------------------------------------------------------------------

class HeatMapFilterForm(forms.Form):
    """Where and what: the heat map's filters, and the first of the register's."""

    unit = forms.ModelChoiceField(
        queryset=Unit.objects.select_related("facility"), required=False,
        help_text="The unit and the units below it (a department shows its wards).",
        error_messages={"invalid_choice": "There is no unit %(value)s: choose one from the list."})
    category = forms.ChoiceField(required=False, choices=[("", "Any")] + Category.choices,
                                 error_messages={"invalid_choice": "%(value)s is not a category."})
    level = forms.ChoiceField(required=False, choices=[("", "Any")] + Level.choices, label="Managed at",
                              error_messages={"invalid_choice": "%(value)s is not an escalation level."})

    def __init__(self, *args, user, matrix: Matrix, **kwargs):
        super().__init__(*args, **kwargs)
        self.matrix = matrix
        # Any unit parses (one outside the grants is refused by scope_for: 403); only the user's are offered.
        mine = permissions.units_where(user, overview.scope_capability(user)).select_related("facility")
        self.fields["unit"].widget.choices = [("", "Anywhere")] + [
            (unit.pk, f"{unit.facility.name} · {unit.name}") for unit in mine.order_by("facility__name", "path")]

    def filters(self) -> dict:
        data = self.cleaned_data
        return {"unit": data.get("unit"), "category": data.get("category") or "", "level": data.get("level") or ""}

    def words(self) -> list[tuple[str, str]]:
        """The filters in words, for the PDF and the page's heading."""
        data = self.cleaned_data
        return [("Unit", f"{data['unit']} and the units below it" if data.get("unit") else "Anywhere you may see"),
                ("Category", Category(data["category"]).label if data.get("category") else "Any"),
                ("Managed at", LEVEL_LABELS[data["level"]] if data.get("level") else "Any level")]


class RegisterFilterForm(HeatMapFilterForm):
    which = forms.ChoiceField(required=False, choices=list(overview.WHICH.items()), label="Score",
                              help_text="The score the band and the cell are read from.",
                              error_messages={"invalid_choice": "%(value)s is not a score: current, target or "
                                                                "inherent."})
    band = forms.ChoiceField(required=False,
                             error_messages={"invalid_choice": "%(value)s is not a band of the matrix."})
    consequence = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, error_messages={
        "invalid_choice": "Consequence %(value)s is not on the matrix's scale."})
    likelihood = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, error_messages={
        "invalid_choice": "Likelihood %(value)s is not on the matrix's scale."})
    status = forms.ChoiceField(required=False, choices=STATUSES,
                               error_messages={"invalid_choice": "%(value)s is not a status: open, closed or any."})
    asking = forms.BooleanField(required=False, label="Asks escalation only")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        matrix = self.matrix
        self.fields["band"].choices = [("", "Any")] + [(band.name, band.name) for band in matrix.bands]
        self.fields["consequence"].choices = [("", "Any")] + [
            (c, f"{c} {matrix.consequence_label(c)}") for c in range(1, matrix.size[0] + 1)]
        self.fields["likelihood"].choices = [("", "Any")] + [
            (lk, f"{lk} {matrix.likelihood_label(lk)}") for lk in range(1, matrix.size[1] + 1)]

    def filters(self) -> dict:
        data = self.cleaned_data
        status = data.get("status") or "open"
        return {**super().filters(), "which": data.get("which") or "current", "band": data.get("band") or "",
                "status": "" if status == "any" else status, "consequence": data.get("consequence"),
                "likelihood": data.get("likelihood"), "asking": bool(data.get("asking"))}


def _organisation_and_matrix(user):
    organisation = overview.organisation_for(user)
    return organisation, service.matrix_of(organisation) if organisation else Matrix()


def _query(form) -> dict:
    """The valid filters as the query string gives them (for links that keep them)."""
    return {name: value.pk if isinstance(value, Unit) else value for name, value in form.cleaned_data.items()
            if value not in (None, "", False)}


# --- the register ---------------------------------------------------------------------------------

@requires("risk.use_register")
def register_page(request):
    user = request.user
    organisation, matrix = _organisation_and_matrix(user)
    # Bound even when empty: no filter is a valid filter (open risks, anywhere, by current score).
    form = RegisterFilterForm(request.GET, user=user, matrix=matrix)
    page = None
    if form.is_valid():
        try:
            risks = overview.register(user, organisation, matrix, **form.filters())
        except ValidationError as error:
            add_errors(form, error)
        else:
            page = Paginator(risks, PAGE_SIZE).get_page(request.GET.get("page"))
    found = page is not None  # an empty page is falsy, and still an answer
    today = timezone.localdate()
    return render(request, "risk/register.html", {
        "form": form, "page": page, "rows": overview.rows(page, matrix, today) if found else [], "today": today,
        "matrix": matrix, "tab": "register", "organisation": organisation,
        "heat_map_query": urlencode(_heat_map_query(form)) if found else "",
    }, status=200 if found else 400)


def _heat_map_query(form) -> dict:
    return {name: value for name, value in _query(form).items() if name in HeatMapFilterForm.base_fields}


# --- the heat map ---------------------------------------------------------------------------------

def _heat_map(request, *, links: bool):
    """The heat map's form and what it draws, or the form with its errors (and None)."""
    user = request.user
    organisation, matrix = _organisation_and_matrix(user)
    form = HeatMapFilterForm(request.GET, user=user, matrix=matrix)
    if not form.is_valid():
        return form, None
    risks = overview.register(user, organisation, matrix, **form.filters())
    query = _query(form)
    maps = []
    for which, cells in overview.heat_maps(risks, matrix).items():
        link = _cell_link(query, which) if links else None
        maps.append({"which": which, "chart": overview.heat_map_chart(matrix, cells, which, link),
                     "bands": overview.band_totals(matrix, cells), "total": sum(cell.count for cell in cells)})
    return form, {"maps": maps, "matrix": matrix, "organisation": organisation, "query": urlencode(query),
                  "words": form.words()}


def _cell_link(query: dict, which: str):
    register_url = reverse("risk:register")

    def link(consequence: int, likelihood: int) -> str:
        cell = {"which": which, "consequence": consequence, "likelihood": likelihood}
        return f"{register_url}?{urlencode(query | cell)}"

    return link


@requires("risk.use_register")
def heat_map_page(request):
    form, drawn = _heat_map(request, links=True)
    return render(request, "risk/heat_map.html", {"form": form, "tab": "heat_map", **(drawn or {})},
                  status=200 if drawn else 400)


@requires("risk.use_register")
def heat_map_pdf(request):
    form, drawn = _heat_map(request, links=False)
    if drawn is None:
        return render(request, "risk/heat_map.html", {"form": form, "tab": "heat_map"}, status=400)
    pdf = render_template_pdf("risk/heat_map_pdf.html", {**drawn, "drawn_at": timezone.now()})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="risk-heat-map-{timezone.localdate():%Y-%m-%d}.pdf"'
    return response


# --- the board assurance framework -----------------------------------------------------------------

@requires("risk.use_register")
def board_page(request):
    organisation, matrix = _organisation_and_matrix(request.user)
    risks, summary = overview.framework(service.board_framework(request.user).filter(organisation=organisation))
    return render(request, "risk/board.html", {
        "risks": [(risk, controls, matrix.band(risk.current_score), matrix.band(risk.target_score))
                  for risk, controls in risks],
        "summary": summary, "tab": "board", "organisation": organisation,
    })


# --- the matrix -----------------------------------------------------------------------------------

EXTRA_BANDS = 2  # empty rows to add a band; emptying a row's name, low and high removes its band


class MatrixForm(forms.Form):
    """The matrix's labels and descriptors, its bands and the levels' tolerances, with a reason.
    The scales keep their size here (a smaller scale must first fit every score: the API takes it)."""

    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Why the matrix changes: kept with the revision; every risk is re-banded.")
    version = VersionField()

    def __init__(self, *args, matrix: Matrix, **kwargs):
        super().__init__(*args, **kwargs)
        for scale, levels in (("consequence", matrix.consequences), ("likelihood", matrix.likelihoods)):
            for level in levels:
                self.fields[f"{scale}_{level['value']}_label"] = forms.CharField(max_length=40, label="Label")
                self.fields[f"{scale}_{level['value']}_descriptor"] = forms.CharField(
                    max_length=500, required=False, label="Descriptor", widget=forms.Textarea(attrs={"rows": 2}))
        self.band_rows = len(matrix.bands) + EXTRA_BANDS
        for i in range(1, self.band_rows + 1):
            self.fields[f"band_{i}_name"] = forms.CharField(max_length=30, required=False, label="Name")
            self.fields[f"band_{i}_low"] = forms.IntegerField(min_value=1, max_value=100, required=False, label="From")
            self.fields[f"band_{i}_high"] = forms.IntegerField(min_value=1, max_value=100, required=False, label="To")
            self.fields[f"band_{i}_colour"] = forms.CharField(
                max_length=7, required=False, label="Colour",
                widget=forms.TextInput(attrs={"type": "color", "class": "form-control-color"}))
        for level in LEVELS[:-1]:
            self.fields[f"tolerance_{level}"] = forms.IntegerField(
                min_value=1, max_value=100, required=False, label=LEVEL_LABELS[level],
                help_text="The highest current score kept at this level; empty: no ceiling.")
        self.matrix = matrix
        self.band_places: dict[str, str] = {}  # "bands[2]" -> the form row it came from

    @classmethod
    def initial_of(cls, matrix: Matrix, version: int) -> dict:
        initial = {"version": version}
        for scale, levels in (("consequence", matrix.consequences), ("likelihood", matrix.likelihoods)):
            for level in levels:
                initial[f"{scale}_{level['value']}_label"] = level["label"]
                initial[f"{scale}_{level['value']}_descriptor"] = level["descriptor"]
        for i, band in enumerate(matrix.bands, start=1):
            initial.update({f"band_{i}_name": band.name, f"band_{i}_low": band.low, f"band_{i}_high": band.high,
                            f"band_{i}_colour": band.colour})
        for level in LEVELS[:-1]:
            initial[f"tolerance_{level}"] = matrix.tolerance(level)
        return initial

    def scale_rows(self, scale: str) -> list[tuple]:
        levels = self.matrix.consequences if scale == "consequence" else self.matrix.likelihoods
        return [(level["value"], self[f"{scale}_{level['value']}_label"], self[f"{scale}_{level['value']}_descriptor"])
                for level in levels]

    def band_fields(self) -> list[tuple]:
        return [(i, *(self[f"band_{i}_{part}"] for part in ("name", "low", "high", "colour")))
                for i in range(1, self.band_rows + 1)]

    def tolerance_fields(self) -> list:
        return [self[f"tolerance_{level}"] for level in LEVELS[:-1]]

    def config(self) -> dict:
        """The matrix as scoring.Matrix reads it; an empty band row is left out."""
        data = self.cleaned_data
        config = {f"{scale}s": [{"label": data[label.name], "descriptor": data[descriptor.name]}
                                for _, label, descriptor in self.scale_rows(scale)]
                  for scale in ("consequence", "likelihood")}
        config["bands"] = []
        for i in range(1, self.band_rows + 1):
            name, low, high = (data.get(f"band_{i}_{part}") for part in ("name", "low", "high"))
            if not name and low is None and high is None:
                continue
            config["bands"].append({"name": name, "low": low, "high": high,
                                    "colour": data.get(f"band_{i}_colour") or "#757575"})
            self.band_places[f"bands[{len(config['bands'])}]"] = f"band_{i}_name"
        config["tolerances"] = {level: data[f"tolerance_{level}"] for level in LEVELS[:-1]}
        return config

    def field_for(self, entry: str) -> str | None:
        """The form field an error's entry names (scoring.ScoringError's `consequences[2]`,
        `bands[3]`, …), or None when it names no one field (`bands`, `tolerances`)."""
        if entry in self.fields:
            return entry
        if entry in self.band_places:
            return self.band_places[entry]
        for scale in ("consequence", "likelihood"):
            if entry.startswith(f"{scale}s[") and f"{scale}_{entry[len(scale) + 2:-1]}_label" in self.fields:
                return f"{scale}_{entry[len(scale) + 2:-1]}_label"
        return None


def add_matrix_errors(form: MatrixForm, error: ValidationError) -> None:
    """Each error beside the field it names; one that names no field above the form, with its entry."""
    for entry, found in (error.message_dict if hasattr(error, "error_dict") else {None: error.messages}).items():
        field = form.field_for(entry) if entry else None
        if field:
            form.add_error(field, found)
        else:
            form.add_error(None, [message if not entry or message.casefold().startswith(entry.casefold()) else
                                  f"{entry.capitalize()}: {message}" for message in found])


def _matrix_context(form, organisation, matrix) -> dict:
    return {"form": form, "organisation": organisation, "tab": "matrix", "grid": overview.matrix_chart(matrix),
            "bands": [(band, None) for band in matrix.bands], "revisions": overview.matrix_revisions(organisation),
            "scales": [(form.scale_rows("consequence"), "Consequence"), (form.scale_rows("likelihood"), "Likelihood")],
            "tolerances": [(LEVEL_LABELS[level], matrix.tolerance(level)) for level in LEVELS]}


@requires("risk.configure")
def matrix_page(request):
    user = request.user
    organisation = overview.organisation_for(user, "risk.configure") or overview.organisation_for(user)
    permissions.check(user, "risk.configure", organisation)
    row = service.matrix_row(organisation)
    matrix = Matrix.from_config(row.config)
    if request.method != "POST":
        form = MatrixForm(initial=MatrixForm.initial_of(matrix, row.version), matrix=matrix)
        return render(request, "risk/matrix.html", _matrix_context(form, organisation, matrix))
    form = MatrixForm(request.POST, matrix=matrix)
    status = 400
    if form.is_valid():
        try:
            revision = service.change_matrix(user, organisation, form.config(), form.cleaned_data["reason"],
                                             form.cleaned_data["version"])
        except ValidationError as error:
            row = service.matrix_row(organisation)
            status = concurrency.refused_on_page(request, form, error, row, add_matrix_errors)
            matrix = Matrix.from_config(row.config)
        else:
            messages.success(request, f"The matrix is now revision {revision.number}: {revision.rebanded} "
                                      f"risk{'s' if revision.rebanded != 1 else ''} moved band.")
            return redirect("risk:matrix")
    return render(request, "risk/matrix.html", _matrix_context(form, organisation, matrix), status=status)


urlpatterns = [
    path("risk/register/", register_page, name="register"),
    path("risk/register/heat-map/", heat_map_page, name="heat_map"),
    path("risk/register/heat-map.pdf", heat_map_pdf, name="heat_map_pdf"),
    path("risk/register/board/", board_page, name="board"),
    path("risk/register/matrix/", matrix_page, name="matrix"),
]
