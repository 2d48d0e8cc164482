"""Pages of compliance: evidence. The library, adding evidence (the fields its kind needs), one
piece's page (revisions, the requirements it serves, history, edit, link), and the requirement
evidence panel that assessment and requirement pages include with hx-get."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, inputs, notifications, permissions
from andon.platform.forms import BoundedDateField, PersonField, add_errors, people_search
from andon.platform.models import Organisation, Unit, User
from andon.platform.permissions import requires

from .. import evidence as service
from ..models import EvidenceKind, FrameworkVersion, Policy, Requirement

KINDS_OFFERED = [(k, label) for k, label in EvidenceKind.choices if k != EvidenceKind.AUDIT]


def _people(user):
    """People who may own evidence the user manages: those seeing compliance where the user manages it."""
    return User.objects.filter(is_active=True).order_by("last_name", "first_name", "username")


def _owner_picker(form, user):
    """The owner field of the filter and of the evidence form: the same people, the same search."""
    form.fields["owner"].queryset = _people(user)
    form.fields["owner"].widget.search_url = reverse("compliance:evidence_owners")


class FilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Title contains")
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *EvidenceKind.choices])
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *service.STATE_WORDS.items()])
    owner = PersonField(required=False, queryset=User.objects.none(), empty_label="Anyone")
    unit = forms.ModelChoiceField(required=False, queryset=Unit.objects.none(), empty_label="Any unit")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        _owner_picker(self, user)
        self.fields["unit"].queryset = permissions.units_where(user, "compliance.view").select_related(
            "facility").order_by("facility__name", "path")


class EvidenceForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    owner = PersonField(queryset=User.objects.none(), help_text="Told when the evidence expires.")
    unit = forms.ModelChoiceField(required=False, queryset=Unit.objects.none(), empty_label="The whole organisation")
    review_on = BoundedDateField(label="Review or expiry date", widget=forms.DateInput(attrs={"type": "date"}))
    url = forms.CharField(required=False, max_length=1000, label="Address (https://…)")
    upload = forms.FileField(required=False, label="File", help_text="PDF, Word, Excel, PNG, JPEG or plain text.")
    note = forms.CharField(required=False, max_length=4000, label="Note on this revision")
    policy = forms.ModelChoiceField(required=False, queryset=Policy.objects.none())
    measure_key = forms.ChoiceField(required=False, label="Measure", choices=())
    version = concurrency.VersionField()

    def __init__(self, *args, user, kind, organisation, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        _owner_picker(self, user)
        self.fields["unit"].queryset = permissions.units_where(user, "compliance.manage_evidence").select_related(
            "facility").order_by("facility__name", "path")
        self.fields["policy"].queryset = Policy.objects.filter(organisation=organisation)
        keep = {"title", "description", "owner", "unit", "review_on", "version"}
        keep |= {EvidenceKind.LINK: {"url"}, EvidenceKind.POLICY: {"policy"}, EvidenceKind.MEASURE: {"measure_key"},
                 EvidenceKind.DOCUMENT: set() if editing else {"upload", "note"}}.get(kind, set())
        for name in set(self.fields) - keep:
            del self.fields[name]
        if "measure_key" in self.fields:
            from andon.measures import services as measures

            self.fields["measure_key"].choices = [("", "Choose a measure")] + [
                (m.key, m.title) for m in measures.listed_measures()]
        if "upload" in self.fields:
            self.fields["upload"].required = True

    def service_fields(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("version", "upload", "note")}
        return data


class RevisionForm(forms.Form):
    upload = forms.FileField(label="File of the new revision")
    note = forms.CharField(required=False, max_length=4000, label="What changed")
    review_on = BoundedDateField(required=False, label="New review date (if it moves)",
                                 widget=forms.DateInput(attrs={"type": "date"}))
    version = concurrency.VersionField()


class LinkForm(forms.Form):
    urns = forms.CharField(label="Requirement URNs", widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="One per line, e.g. urn:andon:framework:cms-cop-482:482.21(a)")

    def urn_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["urns"].splitlines() if line.strip()]


class RetireForm(forms.Form):
    version = concurrency.VersionField()


def _organisation_of(user):
    grant = permissions.active_grants(user)
    return Organisation.objects.filter(pk=grant[0].organisation_id).first() if grant else None


def _id(raw):
    try:
        return inputs.record_id(raw) if raw else None
    except inputs.InputError:
        raise Http404("not a record id") from None


# --- the library --------------------------------------------------------------------------------

@requires("compliance.view")
def evidence_list(request):
    form = FilterForm(request.GET or None, user=request.user)
    pieces = service.visible_evidence(request.user)
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            pieces = pieces.filter(title__icontains=data["q"])
        if data["kind"]:
            pieces = pieces.filter(kind=data["kind"])
        if data["state"]:
            pieces = pieces.filter(service.state_filter(data["state"]))
        if data["owner"]:
            pieces = pieces.filter(owner=data["owner"])
        if data["unit"]:
            pieces = pieces.filter(unit__path__startswith=data["unit"].path)
    page = Paginator(pieces.order_by("title", "pk"), 50).get_page(request.GET.get("page"))
    states = [service.evidence_state(piece) for piece in page]
    rows = [(piece, state, service.STATE_WORDS[state], service.STATE_COLOURS[state])
            for piece, state in zip(page, states, strict=True)]
    return render(request, "compliance/evidence_list.html", {
        "form": form, "page": page, "rows": rows,
        "may_add": permissions.units_where(request.user, "compliance.manage_evidence").exists()
        or bool(service._organisations_held(request.user, "compliance.manage_evidence"))})


@requires("compliance.view")
def evidence_owners(request):
    """The owner picker (htmx) of the library's filter and of the evidence form, which offer the
    same people under the same field name."""
    return people_search(request, FilterForm(user=request.user)["owner"])


@requires("compliance.manage_evidence")
def evidence_new(request):
    kind = request.GET.get("kind") or request.POST.get("kind") or EvidenceKind.DOCUMENT
    if kind not in dict(KINDS_OFFERED):
        kind = EvidenceKind.DOCUMENT
    requirement = _requirement_asked(request)
    organisation = _organisation_of(request.user)
    form = EvidenceForm(request.POST or None, request.FILES or None, user=request.user, kind=kind,
                        organisation=organisation, initial={"owner": request.user})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            piece = service.add_evidence(request.user, kind=kind, organisation=organisation,
                                         upload=form.cleaned_data.get("upload"), note=form.cleaned_data.get("note", ""),
                                         **form.service_fields())
            if requirement is not None:
                service.link(request.user, piece, [requirement.urn])
        except ValidationError as error:
            add_errors(form, error)
            status = 400
        else:
            messages.success(request, "The evidence is added." + (f" It serves {requirement.urn}." if requirement else ""))
            return redirect("compliance:evidence_detail", pk=piece.pk)
    elif request.method == "POST":
        status = 400
    return render(request, "compliance/evidence_form.html", {
        "form": form, "kind": kind, "kinds": KINDS_OFFERED, "piece": None, "requirement": requirement}, status=status)


def _requirement_asked(request):
    pk = _id(request.GET.get("requirement") or request.POST.get("requirement"))
    return get_object_or_404(Requirement.objects.select_related("version__framework"), pk=pk) if pk else None


# --- one piece ----------------------------------------------------------------------------------

@requires("compliance.view")
def evidence_detail(request, pk):
    piece = service.access_evidence(request.user, pk)
    notifications.mark_read(request.user, request.path)  # "Evidence expired" notified before it went by e-mail alone
    return render(request, "compliance/evidence_detail.html", _detail_context(request, piece))


def _detail_context(request, piece, **forms_given):
    user = request.user
    version = {"version": piece.version}
    links = list(piece.links.order_by("requirement_urn"))
    requirements = {r.urn: r for r in Requirement.objects.filter(
        urn__in=[row.requirement_urn for row in links], version__is_current=True).select_related("version__framework")}
    may_edit = permissions.can(user, "compliance.edit_evidence", piece) and piece.retired_at is None
    state = service.evidence_state(piece)
    from andon.measures import services as measures

    return {
        "piece": piece, "state": state, "state_words": service.STATE_WORDS[state],
        "state_colour": service.STATE_COLOURS[state], "may_edit": may_edit,
        "revisions": piece.revisions.select_related("uploaded_by"),
        "links": [(row, requirements.get(row.requirement_urn)) for row in links],
        "verdict": measures.latest_verdict(piece.measure_key) if piece.measure_key else None,
        "revision_form": forms_given.get("revision_form") or RevisionForm(initial=version),
        "link_form": forms_given.get("link_form") or LinkForm(),
        "retire_form": RetireForm(initial=version),
        "history": history.history_of(piece),
    }


@requires("compliance.view")
def evidence_edit(request, pk):
    piece = service.access_evidence(request.user, pk, "compliance.edit_evidence")
    initial = {name: getattr(piece, name) for name in ("title", "description", "owner", "unit", "review_on", "url",
                                                       "policy", "measure_key", "version")}
    form = EvidenceForm(request.POST or None, user=request.user, kind=piece.kind, organisation=piece.organisation,
                        editing=True, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                service.update_evidence(request.user, piece, form.cleaned_data["version"], **form.service_fields())
            except ValidationError as error:
                piece.refresh_from_db()
                status = concurrency.refused_on_page(request, form, error, piece, add_errors)
            else:
                messages.success(request, "The evidence is saved.")
                return redirect("compliance:evidence_detail", pk=piece.pk)
    return render(request, "compliance/evidence_form.html", {
        "form": form, "kind": piece.kind, "kinds": KINDS_OFFERED, "piece": piece}, status=status)


@require_POST
@requires("compliance.view")
def evidence_revision(request, pk):
    piece = service.access_evidence(request.user, pk, "compliance.edit_evidence")
    form = RevisionForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            revision = service.add_revision(request.user, piece, data["upload"], data["note"], data["version"],
                                            review_on=data["review_on"])
        except ValidationError as error:
            piece.refresh_from_db()
            status = concurrency.refused_on_page(request, form, error, piece, add_errors)
        else:
            messages.success(request, f"Revision {revision.number} is added.")
            return redirect("compliance:evidence_detail", pk=piece.pk)
    return render(request, "compliance/evidence_detail.html", _detail_context(request, piece, revision_form=form),
                  status=status)


@requires("compliance.view")
def evidence_download(request, pk, number):
    revision = service.access_revision(request.user, pk, number)
    return service.revision_download(request.user, revision)


@require_POST
@requires("compliance.view")
def evidence_link(request, pk):
    piece = service.access_evidence(request.user, pk, "compliance.edit_evidence")
    data = request.POST.copy()
    if request.POST.getlist("pick"):  # ticked on the picker page
        data["urns"] = "\n".join(request.POST.getlist("pick"))
    form = LinkForm(data)
    if form.is_valid():
        try:
            made = service.link(request.user, piece, form.urn_list())
        except ValidationError as error:
            add_errors(form, ValidationError({"urns": error.message_dict.get("requirement_urns", error.messages)}))
        else:
            messages.success(request, f"The evidence now serves {len(made)} more requirement{'s' if len(made) != 1 else ''}.")
            return redirect("compliance:evidence_detail", pk=piece.pk)
    return render(request, "compliance/evidence_detail.html", _detail_context(request, piece, link_form=form),
                  status=400)


@require_POST
@requires("compliance.view")
def evidence_unlink(request, pk):
    piece = service.access_evidence(request.user, pk, "compliance.edit_evidence")
    try:
        service.unlink(request.user, piece, request.POST.getlist("urn"))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The evidence no longer serves that requirement.")
    return redirect("compliance:evidence_detail", pk=piece.pk)


@require_POST
@requires("compliance.view")
def evidence_retire(request, pk):
    piece = service.access_evidence(request.user, pk, "compliance.edit_evidence")
    form = RetireForm(request.POST)
    form.is_valid()
    try:
        service.retire_evidence(request.user, piece, form.cleaned_data.get("version"))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The evidence is retired: it serves no requirement any more.")
    return redirect("compliance:evidence_detail", pk=piece.pk)


@requires("compliance.view")
def evidence_pick(request, pk):
    """Pick requirements of a framework version to link, with a search (a plain GET form)."""
    piece = service.access_evidence(request.user, pk, "compliance.edit_evidence")
    versions = FrameworkVersion.objects.select_related("framework").order_by("framework__name", "-loaded_at")
    chosen = _id(request.GET.get("framework_version"))
    version = versions.filter(pk=chosen).first() if chosen else versions.filter(is_current=True).first()
    search = (request.GET.get("q") or "").strip()[:200]
    found = Requirement.objects.none()
    if version is not None:
        found = version.requirements.filter(assessable=True)
        if search:
            found = found.filter(Q_search(search))
    linked = set(piece.links.values_list("requirement_urn", flat=True))
    return render(request, "compliance/evidence_pick.html", {
        "piece": piece, "versions": versions, "version": version, "search": search,
        "requirements": found.order_by("position")[:100], "linked": linked})


def Q_search(text):  # noqa: N802  (a filter, read like Q)
    from django.db.models import Q

    return Q(title__icontains=text) | Q(citation__icontains=text) | Q(urn__icontains=text) | Q(summary__icontains=text)


# --- the requirement evidence panel ---------------------------------------------------------------

@requires("compliance.view")
def requirement_evidence(request, pk):
    """The evidence for a requirement, direct and through mappings, as a partial the assessment
    item and requirement pages load with hx-get (a full page when opened alone)."""
    requirement = get_object_or_404(Requirement.objects.select_related("version__framework"), pk=pk)
    return render(request, "compliance/_evidence_panel.html" if request.headers.get("HX-Request")
                  else "compliance/evidence_requirement.html", _panel_context(request, requirement))


def _panel_context(request, requirement, link_error: str = ""):
    entries = service.evidence_for(requirement.urn, request.user)
    linked = {entry.evidence.pk for entry in entries if entry.direct}
    may_link = [piece for piece in service.visible_evidence(request.user).filter(retired_at__isnull=True)
                .exclude(pk__in=linked).order_by("title")[:200]
                if permissions.can(request.user, "compliance.edit_evidence", piece)]
    return {"requirement": requirement, "entries": entries,
            "status": service.requirement_status([requirement.urn])[requirement.urn],
            "may_link": may_link, "link_error": link_error,
            "may_add": permissions.can(request.user, "compliance.manage_evidence")}


@require_POST
@requires("compliance.view")
def requirement_evidence_link(request, pk):
    requirement = get_object_or_404(Requirement.objects.select_related("version__framework"), pk=pk)
    piece_id = _id(request.POST.get("evidence"))
    error = ""
    if piece_id is None:
        error = "Choose the evidence to link."
    else:
        piece = service.access_evidence(request.user, piece_id, "compliance.edit_evidence")
        try:
            service.link(request.user, piece, [requirement.urn])
        except ValidationError as refusal:
            error = " ".join(refusal.messages)
    template = "compliance/_evidence_panel.html" if request.headers.get("HX-Request") \
        else "compliance/evidence_requirement.html"
    return render(request, template, _panel_context(request, requirement, error), status=400 if error else 200)


urlpatterns: list = [
    path("compliance/evidence/", evidence_list, name="evidence_list"),
    path("compliance/evidence/owners/", evidence_owners, name="evidence_owners"),
    path("compliance/evidence/new/", evidence_new, name="evidence_new"),
    path("compliance/evidence/<int:pk>/", evidence_detail, name="evidence_detail"),
    path("compliance/evidence/<int:pk>/edit/", evidence_edit, name="evidence_edit"),
    path("compliance/evidence/<int:pk>/revisions/", evidence_revision, name="evidence_revision"),
    path("compliance/evidence/<int:pk>/revisions/<int:number>/file/", evidence_download, name="evidence_download"),
    path("compliance/evidence/<int:pk>/links/", evidence_link, name="evidence_link"),
    path("compliance/evidence/<int:pk>/unlink/", evidence_unlink, name="evidence_unlink"),
    path("compliance/evidence/<int:pk>/retire/", evidence_retire, name="evidence_retire"),
    path("compliance/evidence/<int:pk>/pick/", evidence_pick, name="evidence_pick"),
    path("compliance/requirements/<int:pk>/evidence/", requirement_evidence, name="requirement_evidence"),
    path("compliance/requirements/<int:pk>/evidence/link/", requirement_evidence_link,
         name="requirement_evidence_link"),
]
