"""Pages of the board quality pack: the packs (versions the reader may see, "Draft the pack" for
its editors), one version (its sections, narratives, what changed since last month; narrative
boxes, approval and publication for those who may), and the PDF download (audited)."""

from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import concurrency, inputs, notifications, permissions
from andon.platform.permissions import requires

from .. import packs, packs_render
from ..models import PackStatus

VIEW, EDIT, APPROVE = packs.VIEW, packs.EDIT, packs.APPROVE


class DraftForm(forms.Form):
    month = forms.CharField(max_length=7, label="Month (YYYY-MM)",
                            widget=forms.TextInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}"}))

    def clean_month(self):
        try:
            return inputs.month(self.cleaned_data["month"])
        except inputs.InputError as problem:
            raise ValidationError(str(problem)) from None


class NarrativeForm(forms.Form):
    version = concurrency.VersionField()
    key = forms.CharField(max_length=200, widget=forms.HiddenInput)
    narrative = forms.CharField(max_length=packs.NARRATIVE_MAX, required=False,
                                widget=forms.Textarea(attrs={"rows": 4}))


class VersionForm(forms.Form):
    version = concurrency.VersionField()


@requires(VIEW)
def pack_list(request):
    organisation = packs.organisation_for(request.user, VIEW)
    may_edit = permissions.can(request.user, EDIT, organisation)
    last_month = packs.previous_month(timezone.localdate())
    return render(request, "governance/pack_list.html", {
        "versions": packs.visible_versions(request.user, organisation)[:120], "organisation": organisation,
        "may_edit": may_edit, "form": DraftForm(initial={"month": f"{last_month:%Y-%m}"}) if may_edit else None})


@require_POST
@requires(EDIT)
def pack_draft(request):
    organisation = packs.organisation_for(request.user, EDIT)
    form = DraftForm(request.POST)
    if form.is_valid():
        try:
            job = packs.start_draft(request.user, organisation, form.cleaned_data["month"])
        except ValidationError as error:
            form.add_error("month", error.message_dict.get("month", error.messages))
        else:
            return redirect("platform:job", pk=job.pk)
    return render(request, "governance/pack_list.html", {
        "versions": packs.visible_versions(request.user, organisation)[:120], "organisation": organisation,
        "may_edit": True, "form": form}, status=400)


def _version_page(request, version, *, forms_by_key=None, status=200, error=None):
    may_edit = version.status == PackStatus.DRAFT and permissions.can(request.user, EDIT, version)
    shown = packs_render.context(version, packs.previous_version(version))
    for section in shown["sections"]:
        section["form"] = (forms_by_key or {}).get(section["key"]) or (NarrativeForm(initial={
            "version": version.version, "key": section["key"], "narrative": section["narrative"]}) if may_edit else None)
    notifications.mark_read(request.user, request.path)
    return render(request, "governance/pack_version.html", {
        **shown, "may_edit": may_edit, "error": error,
        "may_approve": version.status == PackStatus.DRAFT and permissions.can(request.user, APPROVE, version),
        "may_publish": version.status == PackStatus.APPROVED and permissions.can(request.user, APPROVE, version),
        "version_form": VersionForm(initial={"version": version.version})}, status=status)


@requires(VIEW)
def pack_version(request, pk):
    return _version_page(request, packs.access_version(request.user, pk))


@require_POST
@requires(EDIT)
def pack_narrative(request, pk):
    version = packs.access_version(request.user, pk, EDIT)
    form = NarrativeForm(request.POST)
    if form.is_valid():
        try:
            packs.write_narrative(request.user, version, form.cleaned_data["key"], form.cleaned_data["narrative"],
                                  form.cleaned_data["version"])
        except concurrency.Stale as stale:
            version.refresh_from_db()
            return _version_page(request, version, status=409, error=stale.page_message)
        except ValidationError as error:
            return _version_page(request, version, status=400, error=" ".join(error.messages))
        messages.success(request, "Narrative saved.")
        return redirect(reverse("governance:pack_version", args=[version.pk]))
    return _version_page(request, version, forms_by_key={request.POST.get("key", ""): form}, status=400)


def _decide(request, pk, act, done: str):
    version = packs.access_version(request.user, pk, APPROVE)
    form = VersionForm(request.POST)
    if not form.is_valid():
        return _version_page(request, version, status=400, error="Reload the page and try again.")
    try:
        act(request.user, version, form.cleaned_data["version"])
    except concurrency.Stale as stale:
        version.refresh_from_db()
        return _version_page(request, version, status=409, error=stale.page_message)
    except ValidationError as error:
        return _version_page(request, version, status=400, error=" ".join(error.messages))
    messages.success(request, done)
    return redirect("governance:pack_version", pk=version.pk)


@require_POST
@requires(APPROVE)
def pack_approve(request, pk):
    return _decide(request, pk, packs.approve, "Pack approved; its PDF is stored.")


@require_POST
@requires(APPROVE)
def pack_publish(request, pk):
    return _decide(request, pk, packs.publish, "Pack published; the board has been told.")


@requires(VIEW)
def pack_pdf(request, pk):
    version = packs.access_version(request.user, pk)
    try:
        data = packs.pdf_for(request.user, version)
    except ValidationError as error:
        return _version_page(request, version, status=409, error=" ".join(error.messages))
    response = HttpResponse(data, content_type="application/pdf")
    month: date = version.pack.month
    response["Content-Disposition"] = f'attachment; filename="board-pack-{month:%Y-%m}-v{version.number}.pdf"'
    return response


urlpatterns = [
    path("governance/packs/", pack_list, name="packs"),
    path("governance/packs/draft/", pack_draft, name="pack_draft"),
    path("governance/packs/versions/<int:pk>/", pack_version, name="pack_version"),
    path("governance/packs/versions/<int:pk>/narrative/", pack_narrative, name="pack_narrative"),
    path("governance/packs/versions/<int:pk>/approve/", pack_approve, name="pack_approve"),
    path("governance/packs/versions/<int:pk>/publish/", pack_publish, name="pack_publish"),
    path("governance/packs/versions/<int:pk>/pdf/", pack_pdf, name="pack_pdf"),
]
