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
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from andon.platform import audit, inputs, ratelimit
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
    pk = inputs.record_id(value)
    return ReportDraft.objects.filter(pk=pk, author=user).first() if pk else None


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
                 status=200, public=False):
    """The report form, written in `draft` (None: not saved yet); `drafts` are the person's
    drafts when the caller has read them already. `public`: the anonymous report sent without
    signing in (no drafts: nobody to keep them for)."""
    category = tax.category(form.category_code())
    others = [] if public else [other for other in (_drafts(request.user) if drafts is None else drafts)
                                if other != draft]
    context = {
        "form": form, "kinds_with_harm": [str(k) for k in KINDS_WITH_HARM], "public": public,
        "draft": draft, "other_drafts": others[:MAX_DRAFTS_LISTED],
        "detail_rows": detail_fields(category, details, getattr(form, "detail_errors", {})),
        "category": category, "draft_saved_at": draft_saved_at, "restored_at": restored_at,
        "accept": attachment_accept(), "max_attachments": MAX_ATTACHMENTS,
        "max_megabytes": settings.ANDON_ATTACHMENT_MAX_BYTES // (1024 * 1024) or 1,
        "attachment_types": settings.ANDON_ATTACHMENT_TYPES,
    }
    response = render(request, FORM, context, status=status)
    return _no_store(response) if public else response


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
    the_report, details, uploads = _posted_report(request, form, tax)
    try:
        if form.errors:  # the parsing's messages, and every other problem the service sees
            errors, _ = services.check_report(the_report, uploads, tax)
            raise ValidationError(errors or {})
        event, receipt = services.submit_report(user, the_report, uploads, draft, tax=tax)
    except ValidationError as problem:
        if getattr(problem, "error_dict", None):
            add_service_errors(form, problem)
        return _render_form(request, form, tax, details, draft=draft, status=400)
    return _sent(request, event, receipt)


def _posted_report(request, form, tax):
    """(the report, the category's answers, the uploads) posted to a report form, parsed by `form`."""
    form.is_valid()
    clean = form.cleaned_data
    details = posted_details(request.POST, tax.category(form.category_code()))
    anonymous = bool(clean.get("anonymous"))
    the_report = services.Report(
        kind=clean.get("kind") or "", category=clean.get("category") or "",
        unit_id=int(clean["unit"]) if clean.get("unit") else None, occurred_at=clean.get("occurred_at"),
        narrative=clean.get("narrative") or "", harm=clean.get("harm") or "", details=details,
        immediate_action=clean.get("immediate_action") or "", anonymous=anonymous,
        share_identity=bool(clean.get("share_identity")) and not anonymous,  # ignored when anonymous
        person_affected=clean.get("person_affected") or "", patient_identifier=clean.get("patient_identifier") or "",
        witnesses=clean.get("witnesses") or "", location_detail=clean.get("location_detail") or "",
    )
    uploads = [services.Upload(f.name, f.content_type, f.size, f) for f in request.FILES.getlist("attachments")]
    return the_report, details, uploads


def _sent(request, event, receipt, public=False):
    return _no_store(render(request, "safety/report/sent.html",
                            {"event": event, "reference": event.reference, "receipt": receipt, "public": public}))


# --- the anonymous report without signing in --------------------------------------------------------

def _limit(kind: str) -> ratelimit.Limit:
    if kind == "report":
        return ratelimit.Limit("public-report", settings.ANDON_PUBLIC_REPORTS_PER_ADDRESS,
                               settings.ANDON_PUBLIC_REPORTS_OVERALL, settings.ANDON_RATE_WINDOW_SECONDS)
    return ratelimit.Limit("receipt", settings.ANDON_RECEIPT_LOOKUPS_PER_ADDRESS,
                           settings.ANDON_RECEIPT_LOOKUPS_OVERALL, settings.ANDON_RATE_WINDOW_SECONDS)


def _refused_by_limit(request, kind: str) -> int | None:
    """None when the request is within its limits; else the minutes until it may try again."""
    return ratelimit.minutes_refused(_limit(kind), request)


@unlogged
@public
@require_http_methods(["GET", "POST"])
def public_report(request):
    """The anonymous report for people who do not sign in (a shared workstation, staff without an
    account): the signed-in form's fields and checks, always anonymous, rate-limited per address
    and overall; answered with the receipt code, as the signed-in anonymous report is."""
    try:
        tax = taxonomy.current()
    except taxonomy.TaxonomyMissing:
        return _taxonomy_missing(request)
    if request.method == "GET":
        form = ReportForm(initial={"occurred_at": local_now()}, user=None, taxonomy=tax)
        return _render_form(request, form, tax, public=True)
    form = ReportForm(request.POST, user=None, taxonomy=tax)
    the_report, details, uploads = _posted_report(request, form, tax)
    refused = _refused_by_limit(request, "report")
    if refused is not None:  # the form again with what was typed, and why nothing was stored
        form.add_error(None, f"Too many anonymous reports were sent from here (or from everyone) in the last hour: "
                             f"this report was not stored. Try again in about {refused} minutes, or sign in to report.")
        response = _render_form(request, form, tax, details, status=429, public=True)
        response["Retry-After"] = str(refused * 60)
        return response
    try:
        if form.errors:
            errors, _ = services.check_report(the_report, uploads, tax)
            raise ValidationError(errors or {})
        event, receipt = services.submit_public_report(the_report, uploads, tax=tax)
    except ValidationError as problem:
        if getattr(problem, "error_dict", None):
            add_service_errors(form, problem)
        return _render_form(request, form, tax, details, status=400, public=True)
    return _sent(request, event, receipt, public=True)


@unlogged
@public
@require_GET
def public_category_fields(request):
    return _category_fields(request)


@unlogged
@requires("safety.report")
@require_GET
def category_fields(request):
    return _category_fields(request)


def _category_fields(request):
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
    drafts = [{"draft": draft, "summary": _draft_summary(draft.data, tax)} for draft in _drafts(user)]
    return render(request, "safety/report/my_reports.html", {
        "page": page, "rows": rows, "drafts": drafts[:MAX_DRAFTS_LISTED], "more_drafts": len(drafts) > MAX_DRAFTS_LISTED})


def _draft_summary(data: dict, tax) -> str:
    """A draft in a few words: its category and the start of what happened."""
    category = tax.category_label(data.get("category")) if (tax and data.get("category")) else ""
    words = " ".join(str(data.get("narrative") or "").split())
    words = words if len(words) <= 80 else words[:79] + "…"
    return " · ".join(part for part in (category, words) if part) or "Nothing written yet"


@unlogged
@requires("safety.report")
@require_POST
def delete_draft(request, pk):
    if services.delete_draft(request.user, pk):
        messages.success(request, "The draft is deleted.")
    return redirect("safety:my_reports")


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
    """The anonymous reporter's way back: the report's status, the feedback, and the team's
    questions, which they answer here with the code (rate-limited: the code is not guessed)."""
    context = {"form": ReceiptForm(), "looked_up": False}
    status = 200
    if request.method == "POST":
        refused = _refused_by_limit(request, "receipt")
        if refused is not None:  # nothing looked up, nothing stored
            response = render(request, "safety/report/too_many.html",
                              {"minutes": refused, "answer": request.POST.get("answer", "")}, status=429)
            response["Retry-After"] = str(refused * 60)
            return _no_store(response)
        form = ReceiptForm(request.POST)
        code = form.cleaned_data["code"] if form.is_valid() else ""
        # Always one lookup, whatever was typed: a malformed code costs the same as a wrong one.
        event = services.event_for_receipt(code)
        context.update(looked_up=True, form=form, event=None)
        if event is not None:
            if "question" in request.POST:
                try:
                    services.answer_question(event, request.POST.get("question"), request.POST.get("answer", ""))
                except ValidationError as problem:
                    context["answer_error"] = (str(request.POST.get("question")), " ".join(problem.messages))
                    context["answer_text"] = request.POST.get("answer", "")
                    status = 400
                else:
                    context["answered"] = True
            context.update(services.reporter_view(event))
            context["code"] = code
    return _no_store(render(request, "safety/report/receipt.html", context, status=status))


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
