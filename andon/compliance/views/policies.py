"""Pages of compliance: policies (library and search, document control, approval, publishing with
read-and-sign rules, the PDF, the read page staff sign on, completion and overdue lists). Thin:
parse, call a service, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, inputs, notifications, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, PeopleField, PersonField, add_errors, people_search
from andon.platform.models import Unit, User
from andon.platform.permissions import requires
from andon.platform.roles import Role

from .. import policies as services
from .. import uploads
from ..models import Attestation, PolicyStatus, PolicyVersion

PAGE_SIZE = 50


# --- forms --------------------------------------------------------------------------------------

class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, unit):
        return f"{unit.facility.name} · {unit.name}"


class LibraryFilter(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search titles, codes and text")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PolicyStatus.choices])
    owner = PersonField(queryset=None, required=False, empty_label="Any owner")
    unit = UnitChoiceField(queryset=None, required=False, empty_label="Any unit")
    review_overdue = forms.BooleanField(required=False, label="Review overdue only")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        visible = services.visible_policies(user)
        self.fields["owner"].queryset = User.objects.filter(pk__in=visible.values("owner_id"))
        self.fields["owner"].widget.search_url = reverse("compliance:policy_owners")
        self.fields["unit"].queryset = Unit.objects.filter(pk__in=visible.values("unit_id")).select_related("facility")


class PolicyForm(forms.Form):
    code = forms.CharField(max_length=40, help_text="The document number, e.g. PC-104.")
    title = forms.CharField(max_length=200)
    unit = UnitChoiceField(queryset=None, required=False, empty_label="The whole organisation",
                           help_text="Where the policy applies, with the units below it.")
    owner = PersonField(queryset=None, help_text="Who keeps it up to date and is told when its review is due.")
    review_every_months = forms.IntegerField(min_value=1, max_value=120, initial=36, label="Review every (months)")
    text = forms.CharField(required=False, max_length=services.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 12}),
                           help_text="The policy's text in plain paragraphs; it is printed on the PDF and read by staff.")
    requirement_urns = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                       label="Requirements it answers",
                                       help_text="Requirement URNs from the loaded frameworks, one a line.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        units = permissions.units_where(user, "compliance.author_policies").filter(active=True)
        self.fields["unit"].queryset = units.select_related("facility").order_by("facility__name", "path")
        self.organisations = {grant.organisation for grant in permissions.active_grants(user)
                              if permissions.can(user, "compliance.author_policies", grant.organisation)}
        organisation_ids = {grant.organisation_id for grant in permissions.active_grants(user)}
        self.fields["owner"].queryset = User.objects.filter(
            is_active=True, role_grants__organisation_id__in=organisation_ids).distinct().order_by("last_name", "username")
        self.fields["owner"].widget.search_url = reverse("compliance:policy_new_owners")


class DraftForm(forms.Form):
    text = forms.CharField(required=False, max_length=services.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 16}))
    change_summary = forms.CharField(required=False, max_length=services.COMMENT_MAX,
                                     widget=forms.Textarea(attrs={"rows": 2}), label="What changed")
    file = forms.FileField(required=False, label="Original document (optional)",
                           help_text="PDF, Word, spreadsheet, picture or text; kept beside the text.")
    version = VersionField()


class SubmitForm(forms.Form):
    approvers = PeopleField(queryset=None, help_text="People who may approve policies here: search by name, role "
                                                     "or unit and tick each approver.")
    version = VersionField()

    def __init__(self, *args, policy_version, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approvers"].queryset = services.approver_choices(policy_version.policy, policy_version.created_by)
        self.fields["approvers"].widget.search_url = reverse("compliance:policy_approvers", args=[policy_version.pk])


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("return", "Return for changes")],
                                 widget=forms.RadioSelect)
    comment = forms.CharField(required=False, max_length=services.COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Required when returning: say what must change.")
    version = VersionField()


ROLE_CHOICES = [("", "Everyone (any role)"), *Role.choices]


class PublishForm(forms.Form):
    effective_on = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), label="Effective from")
    version = VersionField()
    RULES = 3

    def __init__(self, *args, policy, **kwargs):
        super().__init__(*args, **kwargs)
        units = Unit.objects.filter(facility__organisation=policy.organisation, active=True).select_related("facility")
        if policy.unit is not None:
            units = units.filter(path__startswith=policy.unit.path)
        for index in range(self.RULES):
            self.fields[f"rule{index}_ask"] = forms.BooleanField(required=False, label=f"Ask to read and sign ({index + 1})")
            self.fields[f"rule{index}_role"] = forms.ChoiceField(required=False, choices=ROLE_CHOICES, label="Role")
            self.fields[f"rule{index}_unit"] = UnitChoiceField(
                queryset=units.order_by("facility__name", "path"), required=False, label="Unit (with the units below)",
                empty_label="The whole organisation" if policy.unit is None else "Choose a unit")
            self.fields[f"rule{index}_days"] = forms.IntegerField(min_value=1, max_value=365, initial=30, required=False,
                                                                  label="Days to sign")

    def rule_rows(self):
        return [[self[f"rule{i}_{part}"] for part in ("ask", "role", "unit", "days")] for i in range(self.RULES)]

    def rules(self) -> list:
        data = self.cleaned_data
        return [services.RuleSpec(role=data[f"rule{i}_role"], unit=data[f"rule{i}_unit"],
                                  due_in_days=data[f"rule{i}_days"] or 30)
                for i in range(self.RULES) if data.get(f"rule{i}_ask")]


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=services.COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    version = VersionField()


def _refused(request, form, error, record) -> int:
    record.refresh_from_db()
    return concurrency.refused_on_page(request, form, error, record, add_errors)


# --- the library --------------------------------------------------------------------------------

@requires("compliance.view_policies")
def policy_library(request):
    form = LibraryFilter(request.GET or None, user=request.user)
    policies = services.visible_policies(request.user).select_related("unit", "owner")
    hits, query = None, ""
    today = timezone.localdate()
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            policies = policies.filter(versions__status=data["status"]).distinct()
        if data["owner"]:
            policies = policies.filter(owner=data["owner"])
        if data["unit"]:
            policies = policies.filter(unit=data["unit"])
        if data["review_overdue"]:
            policies = services.reviews_due(policies, today)
        query = data["q"].strip()
        if query:
            hits = services.search_policies(request.user, query, 50, policies=policies)
    page = Paginator(policies.order_by("code"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "compliance/policy_library.html", {
        "form": form, "page": page, "hits": hits, "query": query, "today": today,
        "rows": _with_statuses(page.object_list),
        "may_author": permissions.can(request.user, "compliance.author_policies"),
        "may_see_completion": permissions.can(request.user, "compliance.view_attestations"),
    })


def _with_statuses(policies) -> list:
    """(policy, the words for where it stands: published vN, draft, in review…) for each, in one
    query; paired here, not looked up by the template row by row (a loop of 50 × 50 on a page)."""
    policies = list(policies)
    states = {}
    for policy_id, number, status in PolicyVersion.objects.filter(policy__in=policies).exclude(
            status=PolicyStatus.RETIRED).values_list("policy_id", "number", "status").order_by("policy_id", "-number"):
        states.setdefault(policy_id, []).append(f"{PolicyStatus(status).label} v{number}")
    return [(policy, ", ".join(states.get(policy.pk, ()))) for policy in policies]


@requires("compliance.view_policies")
def policy_owners(request):
    """The library filter's owner picker (htmx): owners of the policies the user sees."""
    return people_search(request, LibraryFilter(user=request.user)["owner"])


@requires("compliance.author_policies")
def policy_new_owners(request):
    """The new policy's owner picker (htmx): staff of the user's organisations."""
    return people_search(request, PolicyForm(user=request.user)["owner"])


@requires("compliance.author_policies")
def policy_new(request):
    form = PolicyForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        unit = data["unit"]
        organisation = unit.facility.organisation if unit else next(iter(form.organisations), None)
        urns = [line.strip() for line in data["requirement_urns"].splitlines() if line.strip()]
        try:
            policy = services.create_policy(request.user, organisation=organisation, unit=unit, code=data["code"],
                                            title=data["title"], owner=data["owner"],
                                            review_every_months=data["review_every_months"], text=data["text"],
                                            requirement_urns=urns)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{policy.code} is saved as a draft.")
            return redirect("compliance:policy", pk=policy.pk)
    return render(request, "compliance/policy_form.html", {"form": form}, status=400 if form.errors else 200)


@requires("compliance.view_policies")
def policy_detail(request, pk):
    policy = services.access_policy(request.user, pk)
    notifications.mark_read(request.user, request.path)
    return render(request, "compliance/policy_detail.html", _detail_context(request, policy))


def _detail_context(request, policy, **forms_given):
    user = request.user
    versions = list(policy.versions.select_related("created_by", "published_by").prefetch_related("approvals__approver"))
    published = next((v for v in versions if v.status == PolicyStatus.PUBLISHED), None)
    may_see_completion = published is not None and permissions.can(user, "compliance.view_attestations")
    attestations = _scoped_attestations(user, published) if may_see_completion else None
    return {
        "policy": policy, "versions": versions, "published": published,
        "in_progress": next((v for v in versions if v.status in (PolicyStatus.DRAFT, PolicyStatus.IN_REVIEW,
                                                                   PolicyStatus.APPROVED)), None),
        "requirements": list(policy.requirement_links.values_list("requirement_urn", flat=True)),
        "may_edit": permissions.can(user, "compliance.edit_policy", policy),
        "may_publish": permissions.can(user, "compliance.publish_policies", policy),
        "completion": services.completion_by_unit(attestations) if attestations is not None else None,
        "my_attestation": services.attestation_of(user, published) if published else None,
        "retire_form": forms_given.get("retire_form") or ReasonForm(initial={"version": policy.version}),
        "history": history.history_of(policy),
        "today": timezone.localdate(),
    }


def _scoped_attestations(user, version):
    """The version's attestations within the units the user may see completion of; those asked
    through no unit only with an organisation-wide grant."""
    scope = permissions.scope_for(user, "compliance.view_attestations")
    attestations = version.attestations.all()
    if not scope.everything:
        attestations = attestations.filter(unit__in=scope.units)
    return attestations


@requires("compliance.view_policies")
def version_edit(request, pk):
    version = services.access_version(request.user, pk, "compliance.edit_policy")
    form = DraftForm(request.POST or None, request.FILES or None, initial={
        "text": version.text, "change_summary": version.change_summary, "version": version.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.edit_draft(request.user, version, data["version"], text=data["text"],
                                change_summary=data["change_summary"], file=data["file"])
        except ValidationError as error:
            status = _refused(request, form, error, version)
        else:
            messages.success(request, f"Draft v{version.number} is saved.")
            return redirect("compliance:policy", pk=version.policy_id)
    return render(request, "compliance/policy_edit.html", {"form": form, "version": version}, status=status)


@require_POST
@requires("compliance.view_policies")
def policy_new_version(request, pk):
    policy = services.access_policy(request.user, pk, "compliance.edit_policy")
    try:
        version = services.new_version(request.user, policy)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("compliance:policy", pk=policy.pk)
    messages.success(request, f"Draft v{version.number} is started from the published text.")
    return redirect("compliance:policy_edit", pk=version.pk)


@requires("compliance.view_policies")
def version_submit(request, pk):
    version = services.access_version(request.user, pk, "compliance.edit_policy")
    form = SubmitForm(request.POST or None, policy_version=version, initial={"version": version.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.submit_for_review(request.user, version, form.cleaned_data["approvers"],
                                       form.cleaned_data["version"])
        except ValidationError as error:
            status = _refused(request, form, error, version)
        else:
            messages.success(request, f"v{version.number} is sent for review; the approvers are told.")
            return redirect("compliance:policy", pk=version.policy_id)
    elif request.method == "POST":
        status = 400
    return render(request, "compliance/policy_submit.html", {"form": form, "version": version}, status=status)


@requires("compliance.view_policies")
def version_approvers(request, pk):
    """The approver picker (htmx): people who may approve the policy, not the version's author."""
    version = services.access_version(request.user, pk, "compliance.edit_policy")
    return people_search(request, SubmitForm(policy_version=version)["approvers"])


@requires("compliance.view_policies")
def version_decide(request, pk):
    version = services.access_version(request.user, pk)
    notifications.mark_read(request.user, request.path)
    if version.status != PolicyStatus.IN_REVIEW or not permissions.can(request.user, "compliance.decide_policy", version):
        if not version.approvals.filter(approver=request.user).exists():
            permissions.check(request.user, "compliance.decide_policy", version)  # not an approver: 403
        messages.info(request, "No decision of yours is pending on this version.")
        return redirect("compliance:policy", pk=version.policy_id)
    form = DecisionForm(request.POST or None, initial={"version": version.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.decide(request.user, version, approve, form.cleaned_data["comment"], form.cleaned_data["version"])
        except ValidationError as error:
            status = _refused(request, form, error, version)
        else:
            messages.success(request, "Your approval is recorded." if approve else "The version is returned to its author.")
            return redirect("compliance:policy", pk=version.policy_id)
    elif request.method == "POST":
        status = 400
    return render(request, "compliance/policy_decide.html", {
        "form": form, "version": version, "approvals": version.approvals.select_related("approver")}, status=status)


@requires("compliance.publish_policies")
def version_publish(request, pk):
    version = services.access_version(request.user, pk, "compliance.publish_policies")
    form = PublishForm(request.POST or None, policy=version.policy,
                       initial={"effective_on": timezone.localdate(), "version": version.version})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.publish(request.user, version, form.cleaned_data["effective_on"], form.rules(),
                             form.cleaned_data["version"])
        except ValidationError as error:
            status = _refused(request, form, error, version)
        else:
            asked = version.attestations.count()
            messages.success(request, f"v{version.number} is published; {asked} "
                                      f"{'person is' if asked == 1 else 'people are'} asked to read and sign it.")
            return redirect("compliance:policy", pk=version.policy_id)
    elif request.method == "POST":
        status = 400
    return render(request, "compliance/policy_publish.html", {"form": form, "version": version}, status=status)


@require_POST
@requires("compliance.publish_policies")
def policy_retire(request, pk):
    policy = services.access_policy(request.user, pk, "compliance.publish_policies")
    form = ReasonForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.retire(request.user, policy, form.cleaned_data["reason"], form.cleaned_data["version"])
        except ValidationError as error:
            status = _refused(request, form, error, policy)
        else:
            messages.success(request, f"{policy.code} is retired.")
            return redirect("compliance:policy", pk=policy.pk)
    return render(request, "compliance/policy_detail.html", _detail_context(request, policy, retire_form=form),
                  status=status)


@require_POST
@requires("compliance.view_policies")
def policy_requirements(request, pk):
    policy = services.access_policy(request.user, pk, "compliance.edit_policy")
    urns = [line.strip() for line in request.POST.get("requirement_urns", "").splitlines() if line.strip()]
    try:
        services.link_requirements(request.user, policy, urns)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The requirements it answers are saved.")
    return redirect("compliance:policy", pk=policy.pk)


@requires("compliance.view_policies")
def version_pdf(request, pk):
    version = services.access_version(request.user, pk)
    if version.status not in (PolicyStatus.PUBLISHED, PolicyStatus.RETIRED):
        messages.info(request, "Only a published (or retired) version has a PDF.")
        return redirect("compliance:policy", pk=version.policy_id)
    response = HttpResponse(services.policy_pdf(version), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_file_stem(version)}.pdf"'
    return response


def _file_stem(version) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in version.policy.code)
    return f"{safe}-v{version.number}"


@requires("compliance.view_policies")
def version_original(request, pk):
    version = services.access_version(request.user, pk)
    if not version.file:
        return render(request, "404.html", status=404)
    kind = uploads.EXTENSIONS.get(version.file_name.rsplit(".", 1)[-1].lower(), "text")
    return uploads.serve(version.file, version.file_name, uploads.KINDS[kind][0])


# --- read and sign ------------------------------------------------------------------------------

@requires("compliance.attest")
def my_attestations(request):
    pending = list(services.my_pending_attestations(request.user))
    signed = (Attestation.objects.filter(person=request.user, signed_at__isnull=False)
              .select_related("version__policy").order_by("-signed_at")[:20])
    return render(request, "compliance/attest_list.html", {"pending": pending, "signed": signed,
                                                           "today": timezone.localdate()})


@requires("compliance.attest")
def attest(request, pk):
    """The read page: the text, and one large button. Signing returns home."""
    version = services.access_version(request.user, pk)
    attestation = services.attestation_of(request.user, version)
    notifications.mark_read(request.user, request.path)
    if request.method == "POST":
        try:
            services.sign(request.user, version)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("compliance:attest", pk=version.pk)
        messages.success(request, f"Thank you: you have signed {version.policy.code} {version.policy.title}.")
        return redirect("home")
    return render(request, "compliance/attest_read.html", {
        "version": version, "policy": version.policy, "attestation": attestation,
        "paragraphs": [p.strip() for p in version.text.split("\n\n") if p.strip()],
        "today": timezone.localdate(),
    })


# --- completion, overdue lists ------------------------------------------------------------------

@requires("compliance.view_attestations")
def version_completion(request, pk):
    version = services.access_version(request.user, pk)
    attestations = _scoped_attestations(request.user, version)
    unit_id = inputs.record_id(request.GET.get("unit", "")) if request.GET.get("unit") else None
    people = None
    if unit_id is not None:
        people = list(attestations.filter(unit_id=unit_id).select_related("person", "unit")
                      .order_by("signed_at", "due_on", "person__last_name"))
    return render(request, "compliance/policy_completion.html", {
        "version": version, "policy": version.policy, "by_unit": services.completion_by_unit(attestations),
        "by_person": services.completion_by_person(attestations) if unit_id is None else None,
        "people": people, "unit": Unit.objects.filter(pk=unit_id).first() if unit_id else None,
        "today": timezone.localdate(),
    })


@requires("compliance.view_attestations")
def overdue_attestation_list(request):
    scope = permissions.scope_for(request.user, "compliance.view_attestations")
    overdue = services.overdue_attestations(PolicyVersion.objects.filter(status=PolicyStatus.PUBLISHED))
    if not scope.everything:
        overdue = overdue.filter(unit__in=scope.units)
    page = Paginator(overdue, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "compliance/attest_overdue.html", {"page": page, "scope": scope,
                                                              "today": timezone.localdate()})


@requires("compliance.author_policies")
def review_list(request):
    today = timezone.localdate()
    policies = services.reviews_due(services.visible_policies(request.user), today,
                                    services.review_notice_days()).select_related("owner", "unit")
    return render(request, "compliance/policy_reviews.html", {
        "policies": policies.order_by("next_review_on", "code"), "today": today})


urlpatterns = [
    path("compliance/policies/", policy_library, name="policies"),
    path("compliance/policies/owners/", policy_owners, name="policy_owners"),
    path("compliance/policies/new/", policy_new, name="policy_new"),
    path("compliance/policies/new/owners/", policy_new_owners, name="policy_new_owners"),
    path("compliance/policies/to-read/", my_attestations, name="my_attestations"),
    path("compliance/policies/reviews/", review_list, name="policy_reviews"),
    path("compliance/policies/overdue-signatures/", overdue_attestation_list, name="attestations_overdue"),
    path("compliance/policies/<int:pk>/", policy_detail, name="policy"),
    path("compliance/policies/<int:pk>/new-version/", policy_new_version, name="policy_new_version"),
    path("compliance/policies/<int:pk>/retire/", policy_retire, name="policy_retire"),
    path("compliance/policies/<int:pk>/requirements/", policy_requirements, name="policy_requirements"),
    path("compliance/policies/versions/<int:pk>/edit/", version_edit, name="policy_edit"),
    path("compliance/policies/versions/<int:pk>/submit/", version_submit, name="policy_submit"),
    path("compliance/policies/versions/<int:pk>/approvers/", version_approvers, name="policy_approvers"),
    path("compliance/policies/versions/<int:pk>/decide/", version_decide, name="policy_decide"),
    path("compliance/policies/versions/<int:pk>/publish/", version_publish, name="policy_publish"),
    path("compliance/policies/versions/<int:pk>/pdf/", version_pdf, name="policy_pdf"),
    path("compliance/policies/versions/<int:pk>/original/", version_original, name="policy_original"),
    path("compliance/policies/versions/<int:pk>/read/", attest, name="attest"),
    path("compliance/policies/versions/<int:pk>/completion/", version_completion, name="policy_completion"),
]
