"""Platform pages: organisation, jobs, audit trail, API tokens. Thin: parse, ask, render."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import audit, history, permissions, services
from .exports import exports_dir
from .forms import AuditFilterForm, TokenForm
from .jobs import start_job
from .models import AccessToken
from .permissions import requires
from .tasks import export_audit_trail


def _page(request, items, per_page=50):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


@requires("platform.view_organisation")
def organisation(request):
    return render(request, "platform/organisation.html", {"organisations": services.organisation_trees(request.user)})


@requires("platform.view_own_jobs")
def jobs(request):
    return render(request, "platform/jobs.html", {"page": _page(request, services.visible_jobs(request.user))})


@requires("platform.view_own_jobs")
def job_detail(request, pk):
    job = services.access_job(request.user, pk)
    context = {"job": job, "show_traceback": permissions.can(request.user, "platform.view_all_jobs")}
    template = "platform/_job_status.html" if request.htmx else "platform/job_detail.html"
    return render(request, template, context)


@requires("platform.view_own_jobs")
def job_download(request, pk):
    job = services.access_job(request.user, pk, succeeded=True)
    name = (job.result or {}).get("file")
    path = exports_dir() / name if name else None
    # Only a bare file name written by a job is served; anything else is not a download.
    if not name or "/" in name or "\\" in name or not path.is_file():
        raise Http404("This job has no file to download.")
    audit.record_read(job, actor=request.user, reason=f"downloaded {name}")
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)


@requires("platform.view_audit")
def audit_trail(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_valid() else {}
    page = _page(request, audit.search(**filters))
    return render(request, "platform/audit.html", {"form": form, "page": page, "lines": history.describe(page),
                                                   "filters": filters})


@require_POST
@requires("platform.export_audit")
def audit_export(request):
    form = AuditFilterForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The filters are not valid; nothing was exported.")
        return redirect("platform:audit")
    job = start_job(export_audit_trail, "Export of the audit trail", request.user, form.filters())
    messages.success(request, "The export has started. This page shows its progress.")
    return redirect("platform:job", pk=job.pk)


@requires("platform.manage_own_tokens")
def tokens(request):
    new_token = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = services.issue_token(request.user, form.cleaned_data["name"], form.expires_at())
            form = TokenForm()
        except ValidationError as error:
            form.add_error(None, error)
    user_tokens = AccessToken.objects.filter(user=request.user)
    return render(request, "platform/tokens.html", {"form": form, "tokens": user_tokens, "new_token": new_token})


@require_POST
@requires("platform.manage_own_tokens")
def token_revoke(request, pk):
    token = get_object_or_404(AccessToken, pk=pk, user=request.user)
    services.revoke_token(request.user, token)
    messages.success(request, f"The token “{token.name}” is revoked.")
    return redirect("platform:tokens")
