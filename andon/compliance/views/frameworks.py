"""Pages of compliance: frameworks. The library, a version's tree (filterable, chapters folding),
one requirement (its mappings and what changed), two versions compared, and the import."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path

from andon.platform import inputs, permissions
from andon.platform.forms import BoundedDateField
from andon.platform.permissions import requires

from .. import frameworks, uploads
from ..models import FrameworkKind


@requires("compliance.view")
def library(request):
    return render(request, "compliance/framework_library.html", {
        "library": frameworks.frameworks_with_counts(),
        "may_import": permissions.can(request.user, "compliance.manage_frameworks"),
    })


@requires("compliance.view")
def version_page(request, version_id: int):
    version = frameworks.access_framework_version(request.user, version_id)
    query = request.GET.get("q", "").strip()[:200]
    return render(request, "compliance/framework_version.html", {
        "version": version, "framework": version.framework, "query": query,
        "chapters": frameworks.version_tree(version, query),
        "versions": version.framework.versions.order_by("-loaded_at", "-pk"),
    })


@requires("compliance.view")
def requirement_page(request, requirement_id: int):
    requirement = frameworks.access_requirement(request.user, requirement_id)
    return render(request, "compliance/requirement_detail.html", {
        "requirement": requirement, "version": requirement.version,
        "ancestors": frameworks.ancestors_of(requirement),
        "children": requirement.children.order_by("position"),
        "mappings": frameworks.mappings_of(requirement.urn),
        "changes": frameworks.changes_of(requirement),
        "current": frameworks.requirement_by_urn(requirement.urn),
    })


@requires("compliance.view")
def compare_page(request, version_id: int):
    new = frameworks.access_framework_version(request.user, version_id)
    against = inputs.record_id(request.GET.get("against")) if request.GET.get("against") else new.previous_id
    if against is None:
        if request.GET.get("against"):
            raise Http404("No such version.")
        return render(request, "compliance/framework_compare.html", {"new": new, "changes": None})
    old = frameworks.access_framework_version(request.user, against)
    try:
        changes = frameworks.version_changes(old, new)
    except ValidationError:
        raise Http404("Only two versions of one framework can be compared.") from None
    return render(request, "compliance/framework_compare.html", {
        "new": new, "old": old, "changes": changes,
        "others": new.framework.versions.exclude(pk=new.pk).order_by("-loaded_at", "-pk"),
    })


class ImportForm(forms.Form):
    what = forms.ChoiceField(label="The file holds", choices=[
        ("framework", "A framework (a new framework, or a new version of one)"),
        ("mappings", "Mappings between two frameworks' requirements")], initial="framework")
    file = forms.FileField(label="File", help_text="YAML, CSV or XLSX (one row per requirement).")
    urn = forms.CharField(label="Framework URN", required=False, max_length=200,
                          help_text="For CSV and XLSX; e.g. urn:andon:framework:riverside-standards")
    name = forms.CharField(label="Framework name", required=False, max_length=200)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "—"), *FrameworkKind.choices])
    version = forms.CharField(label="Version", required=False, max_length=50)
    effective_on = BoundedDateField(label="Effective on", required=False,
                                    widget=forms.DateInput(attrs={"type": "date"}))
    publisher = forms.CharField(label="Publisher", required=False, max_length=200)
    source_url = forms.URLField(label="Source address", required=False, max_length=500, assume_scheme="https")
    description = forms.CharField(label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    METADATA = ("urn", "name", "kind", "version", "effective_on", "publisher", "source_url", "description")

    def metadata(self) -> dict:
        return {key: self.cleaned_data[key] for key in self.METADATA if self.cleaned_data.get(key) not in (None, "")}


@requires("compliance.manage_frameworks")
def import_page(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    problems = None
    if request.method == "POST" and form.is_valid():
        try:
            checked = uploads.check_upload(form.cleaned_data["file"], frameworks.FORMATS)
            return _imported(request, form, checked)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except frameworks.FrameworkFileError as error:
            problems = error.problems
    status = 422 if problems else 200
    return render(request, "compliance/framework_import.html", {"form": form, "problems": problems}, status=status)


def _imported(request, form, checked):
    if form.cleaned_data["what"] == "mappings":
        count = frameworks.import_mappings(request.user, checked.content, checked.kind, checked.name)
        messages.success(request, f"{count} mapping{'s' if count != 1 else ''} loaded from {checked.name}.")
        return redirect("compliance:frameworks")
    outcome = frameworks.import_framework(request.user, checked.content, checked.kind, checked.name, form.metadata())
    version = outcome.version
    if outcome.created:
        messages.success(request, f"{version.framework.name}, version {version.version}, loaded: "
                                  f"{version.requirements.count()} requirements.")
    else:
        messages.info(request, f"Version {version.version} of {version.framework.name} was already loaded with this "
                               "content; nothing changed.")
    return redirect("compliance:framework_version", version.pk)


urlpatterns: list = [
    path("compliance/frameworks/", library, name="frameworks"),
    path("compliance/frameworks/import/", import_page, name="framework_import"),
    path("compliance/frameworks/versions/<int:version_id>/", version_page, name="framework_version"),
    path("compliance/frameworks/versions/<int:version_id>/changes/", compare_page, name="framework_changes"),
    path("compliance/requirements/<int:requirement_id>/", requirement_page, name="requirement"),
]
