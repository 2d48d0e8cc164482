"""The reporter's pages: the report form (with its category's fields and drafts), the reporter's
own reports and their feedback, the anonymous reporter's receipt page, and the separate route
for conduct concerns. Thin: parse, ask the services, render.

An anonymous report leaves nothing in the session: its receipt is rendered in the response to
the submission (no redirect, no message), and the response is not cached. A named report is
answered the same way, with the same page and status, so that nothing outside Andon (a proxy's
log, the requests that follow) tells one from the other. The reporting pages are kept out of
the server's access log (platform.access_log).
"""

from auditlog.models import LogEntry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from andon.platform import audit
from andon.platform.access_log import unlogged
from andon.platform.permissions import public, requires

from .. import services, taxonomy
from ..forms import (
    DRAFT_FIELDS,
    MAX_ATTACHMENTS,
    ConductConcernForm,
    ReceiptForm,
    ReportForm,
    add_service_errors,
    attachment_accept,
    default_unit,
    detail_fields,
    local_now,
    posted_details,
)
from ..models import KINDS_WITH_HARM, ReportDraft

PAGE_SIZE = 20
MAX_DRAFTS_LISTED = 10
FORM = "safety/report/form.html"


def _no_store(response):
    add_never_cache_headers(response)
    return response


def _taxonomy_missing(request):
    return render(request, "safety/report/taxonomy_missing.html", status=503)


def _drafts(user) -> list[ReportDraft]:
    """The person's drafts, latest first (the form lists those it is not working on)."""
    return list(ReportDraft.objects.filter(author=user).order_by("-updated_at", "-pk")[:MAX_DRAFTS_LISTED + 1])


def _latest_draft(user) -> ReportDraft | None:
    return ReportDraft.objects.filter(author=user).order_by("-updated_at", "-pk").first()


def _own_draft(user, value) -> ReportDraft | None:
    value = str(value or "")
    if not value.isdigit() or len(value) > 18:
        return None
    return ReportDraft.objects.filter(pk=int(value), author=user).first()


def _posted_draft(request) -> ReportDraft | None:
    """The draft the posted form works on. The form says which (its hidden `draft`): empty for
    a report not started from a draft and not saved yet, so sending or saving it leaves the
    person's other drafts alone. A form without the field (sent by a page from before drafts
    were told apart) works on the latest draft, as such pages did."""
    if "draft" not in request.POST:
        return _latest_draft(request.user)
    return _own_draft(request.user, request.POST["draft"])


def _draft_data(post) -> dict:
    data = {name: post.get(name, "") for name in DRAFT_FIELDS}
    data["anonymous"] = bool(post.get("anonymous"))
    data["share_identity"] = bool(post.get("share_identity")) and not data["anonymous"]
    data["details"] = {key.removeprefix("details."): value for key, value in post.items()
                       if key.startswith("details.") and value != ""}
    return data


def _initial_from_draft(data: dict) -> dict:
    initial = {name: data.get(name, "") for name in DRAFT_FIELDS}
    initial["anonymous"] = bool(data.get("anonymous"))
    initial["share_identity"] = bool(data.get("share_identity"))
    return initial


def _render_form(request, form, tax, details=None, *, draft=None, drafts=None, draft_saved_at=None, restored_at=None,
                 status=200):
    """The report form, written in `draft` (None: not saved yet); `drafts` are the person's
    drafts when the caller has read them already."""
    category = tax.category(form.category_code())
    others = [other for other in (_drafts(request.user) if drafts is None else drafts) if other != draft]
    context = {
        "form": form, "kinds_with_harm": [str(k) for k in KINDS_WITH_HARM],
        "draft": draft, "other_drafts": others[:MAX_DRAFTS_LISTED],
        "detail_rows": detail_fields(category, details, getattr(form, "detail_errors", {})),
        "category": category, "draft_saved_at": draft_saved_at, "restored_at": restored_at,
        "accept": attachment_accept(), "max_attachments": MAX_ATTACHMENTS,
        "max_megabytes": settings.ANDON_ATTACHMENT_MAX_BYTES // (1024 * 1024) or 1,
        "attachment_types": settings.ANDON_ATTACHMENT_TYPES,
    }
    return render(request, FORM, context, status=status)


@unlogged
@requires("safety.report")
@require_http_methods(["GET", "POST"])
def report(request):
    try:
        tax = taxonomy.current()
    except taxonomy.TaxonomyMissing:
        return _taxonomy_missing(request)
    user = request.user
    if request.method == "GET":
        drafts = _drafts(user)
        draft = None if request.GET.get("new") else (
            _own_draft(user, request.GET["draft"]) if request.GET.get("draft") else next(iter(drafts), None))
        if draft is not None:
            form = ReportForm(initial=_initial_from_draft(draft.data), user=user, taxonomy=tax)
            return _render_form(request, form, tax, draft.data.get("details") or {}, draft=draft, drafts=drafts,
                                restored_at=draft.updated_at)
        form = ReportForm(initial={"unit": default_unit(user), "occurred_at": local_now()}, user=user, taxonomy=tax)
        return _render_form(request, form, tax, drafts=drafts)

    draft = _posted_draft(request)
    if "save_draft" in request.POST:
        data = _draft_data(request.POST)
        try:
            draft = services.save_draft(user, data, draft)
        except ValidationError as problem:
            form = ReportForm(request.POST, user=user, taxonomy=tax)
            form.is_valid()
            add_service_errors(form, problem)
            return _render_form(request, form, tax, data["details"], draft=draft, status=400)
        form = ReportForm(initial=_initial_from_draft(draft.data), user=user, taxonomy=tax)
        return _render_form(request, form, tax, draft.data.get("details") or {}, draft=draft,
                            draft_saved_at=draft.updated_at)

    form = ReportForm(request.POST, user=user, taxonomy=tax)
    parsed = form.is_valid()
    clean = form.cleaned_data
    category = tax.category(form.category_code())
    details = posted_details(request.POST, category)
    anonymous = bool(clean.get("anonymous"))
    the_report = services.Report(
        kind=clean.get("kind") or "", category=clean.get("category") or "",
        unit_id=int(clean["unit"]) if clean.get("unit") else None, occurred_at=clean.get("occurred_at"),
        narrative=clean.get("narrative") or "", harm=clean.get("harm") or "", details=details,
        immediate_action=clean.get("immediate_action") or "", anonymous=anonymous,
        share_identity=bool(clean.get("share_identity")) and not anonymous,  # ignored when anonymous
    )
    uploads = [services.Upload(f.name, f.content_type, f.size, f) for f in request.FILES.getlist("attachments")]
    try:
        if not parsed:  # the parsing's messages, and every other problem the service sees
            errors, _ = services.check_report(the_report, uploads)
            raise ValidationError(errors or {})
        event, receipt = services.submit_report(user, the_report, uploads, draft, tax=tax)
    except ValidationError as problem:
        if getattr(problem, "error_dict", None):
            add_service_errors(form, problem)
        return _render_form(request, form, tax, details, draft=draft, status=400)
    return _no_store(render(request, "safety/report/sent.html",
                            {"event": event, "reference": event.reference, "receipt": receipt}))


@unlogged
@requires("safety.report")
@require_GET
def category_fields(request):
    try:
        tax = taxonomy.current()
    except taxonomy.TaxonomyMissing:
        return _taxonomy_missing(request)
    category = tax.category(request.GET.get("category", ""))
    return render(request, "safety/report/_category_fields.html",
                  {"category": category, "detail_rows": detail_fields(category)})


@unlogged
@requires("safety.report")
@require_POST
def save_draft(request):
    """Autosave (htmx, every 30 s while the reporter types): a small status fragment, which also
    gives the form the id of the draft it now works on (a new report's first autosave makes it)."""
    try:
        draft = services.save_draft(request.user, _draft_data(request.POST), _posted_draft(request))
    except ValidationError as problem:
        return render(request, "safety/report/_draft_status.html", {"problem": " ".join(problem.messages)})
    return render(request, "safety/report/_draft_status.html", {"draft_saved_at": draft.updated_at, "draft": draft})


# --- the reporter's own reports -----------------------------------------------------------------

def _last_read(user, event):
    """When the reporter last opened the report (open_event audits every read)."""
    return (audit.entries_for(event).filter(action=LogEntry.Action.ACCESS, actor=user)
            .order_by("-timestamp").values_list("timestamp", flat=True).first())


@requires("safety.report")
@require_GET
def my_reports(request):
    user = request.user
    events = (services.events_visible_to(user, own=True).filter(reporter=user)
              .annotate(last_feedback=Max("reporter_messages__created_at"), feedback_count=Count("reporter_messages"))
              .order_by("-reported_at", "-pk"))
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    try:
        tax = taxonomy.current()
    except taxonomy.TaxonomyMissing:
        tax = None
    rows = []
    for event in page:
        read = _last_read(user, event) if event.last_feedback else None
        rows.append({
            "event": event,
            "category_label": tax.category_label(event.category) if tax else event.category,
            "status_label": services.REPORTER_STATUS.get(event.status, event.get_status_display()),
            "new_feedback": bool(event.last_feedback and (read is None or event.last_feedback > read)),
        })
    return render(request, "safety/report/my_reports.html", {"page": page, "rows": rows})


@requires("safety.report")
@require_GET
def my_report(request, pk):
    event = services.access_own_report(request.user, pk)
    services.open_event(request.user, event, reason="reporter read own report")
    services.notifications_read(request.user, event, escalations=())
    return render(request, "safety/report/my_report.html", services.reporter_view(event))


# --- the anonymous reporter's way back ----------------------------------------------------------

@unlogged
@public
@require_http_methods(["GET", "POST"])
def receipt(request):
    context = {"form": ReceiptForm(), "looked_up": False}
    if request.method == "POST":
        form = ReceiptForm(request.POST)
        # Always one lookup, whatever was typed: a malformed code costs the same as a wrong one.
        event = services.event_for_receipt(form.cleaned_data["code"] if form.is_valid() else "")
        context["looked_up"] = True
        if event is not None:
            context.update(services.reporter_view(event))
        else:
            context["event"] = None
    return _no_store(render(request, "safety/report/receipt.html", context))


# --- just culture: conduct concerns go elsewhere ------------------------------------------------

@requires("safety.report")
@require_http_methods(["GET", "POST"])
def conduct_concern(request):
    user = request.user
    if request.method == "POST":
        form = ConductConcernForm(request.POST, user=user)
        form.is_valid()
        clean = form.cleaned_data
        try:
            services.raise_conduct_concern(
                user, unit_id=int(clean["unit"]) if clean.get("unit") else None,
                about=clean.get("about") or "", narrative=clean.get("narrative") or "")
        except ValidationError as problem:
            add_service_errors(form, problem)
        else:
            if not form.errors:
                return redirect(f"{request.path}?sent=1")
        return render(request, "safety/report/conduct.html", {"form": form}, status=400)
    form = ConductConcernForm(initial={"unit": default_unit(user)}, user=user)
    return render(request, "safety/report/conduct.html", {"form": form, "sent": bool(request.GET.get("sent"))})
