"""The officers' pages: the triage queue, the event list, one event (triage and workflow),
attachments, feedback statistics and conduct concerns. Thin: parse, ask the services, render.

Every read of an event goes through `services.open_event` (the policy, then the audit record);
lists are not audited per row, except conduct concerns, which are sensitive in themselves.
"""

from datetime import datetime

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.medstaff import services as medstaff
from andon.platform import audit, concurrency, history, notifications, permissions
from andon.platform.permissions import can, requires

from .. import sac, services, taxonomy
from ..models import ConductConcern, SafetyEvent, Status
from ..officer_forms import (
    OFFICER_MOVES,
    AskReporterForm,
    DeescalationForm,
    EventFilterForm,
    MoveForm,
    PsesRemovalForm,
    ReviewFindingsForm,
    ReviewWaiverForm,
    TriageFilterForm,
    TriageForm,
    add_service_errors,
)

PAGE_SIZE = 50
WAITING_DAYS = 3  # a report waiting longer than this for triage stands out in the queue
ANONYMOUS, HIDDEN = "Anonymous", "Hidden (confidential)"


def _choice_labels(field: str) -> dict:
    # What get_<field>_display answers, built once: that method rebuilds the mapping on every
    # call, and the queue would call it a hundred times a page.
    return {value: str(label) for value, label in SafetyEvent._meta.get_field(field).flatchoices}


_KIND_LABELS, _STATUS_LABELS = _choice_labels("kind"), _choice_labels("status")


def _page(request, items, per_page=PAGE_SIZE):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


class Window:
    """One page of a long list without counting the list: the page's rows and one more, read
    with an offset along an indexed order (the event list at 200,000 events: counting every
    matching row on every page costs more than the page itself; docs/benchmarks.md)."""

    MAX_PAGE = 10_000

    def __init__(self, request, items, per_page=PAGE_SIZE):
        raw = request.GET.get("page") or "1"
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 1
        self.number = min(max(number, 1), self.MAX_PAGE)
        start = (self.number - 1) * per_page
        rows = list(items[start:start + per_page + 1])
        self.object_list = rows[:per_page]
        self.has_next = len(rows) > per_page and self.number < self.MAX_PAGE
        self.has_previous = self.number > 1
        self.start_index = start + 1 if self.object_list else 0
        self.end_index = start + len(self.object_list)

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)


def _taxonomy_of(event):
    """The taxonomy the event was reported with (so an old report keeps its meaning)."""
    return taxonomy.version_or_current(event.taxonomy_version) or taxonomy.current()


def _taxonomies(current=None):
    """`_taxonomy_of` for the rows of one page, reading each version once (`current`, already
    read by the page, serves the rows reported with it)."""
    seen = {current.version: current} if current is not None else {}

    def taxonomy_of(event):
        if event.taxonomy_version not in seen:
            seen[event.taxonomy_version] = _taxonomy_of(event)
        return seen[event.taxonomy_version]

    return taxonomy_of


def reporter_label(user, event) -> str:
    if can(user, "safety.see_reporter", event):
        person = event.reporter
        return (person.get_full_name() or person.username) if person else ANONYMOUS
    return ANONYMOUS if event.is_anonymous else HIDDEN


def _labels(event, tax, current):
    """Category, harm and detail labels: from the event's own taxonomy version, then the current
    one (triage may choose a category that is newer than the report)."""
    def category_label(code):
        label = tax.category_label(code)
        return current.category_label(code) if label == code else label

    specs = {}
    for category in [tax.category(event.category), *tax.categories]:
        for spec in (category or {}).get("fields", []):
            specs.setdefault(spec["code"], spec)
    details = []
    for code, value in (event.details or {}).items():
        spec = specs.get(code, {"label": code, "type": "text"})
        if spec["type"] == "choice":
            shown = next((c["label"] for c in spec["choices"] if c["code"] == value), str(value))
        elif spec["type"] == "boolean":
            shown = "Yes" if value else "No"
        else:
            shown = str(value)
        details.append((spec.get("label", code), shown))
    return category_label(event.category), tax.harm_label(event.harm) if event.harm else "", details


def _overdue(event, now):
    """Which RCA deadlines are past (the same test as services.overdue_rcas, for one event)."""
    running = event.status == Status.INVESTIGATION
    return {
        "start": bool(running and event.rca_start_due and event.rca_start_due < now and event.rca_started_at is None),
        "complete": bool(running and event.rca_complete_due and event.rca_complete_due < now),
    }


def _moves(event, outstanding: str):
    """The steps to offer: those valid from the status, without the steps that end the review
    while the review the triage required is not done (the page says why instead)."""
    available = {t.name for t in event.get_available_status_transitions()}
    if outstanding:
        available -= set(services.AFTER_REVIEW)
    return [name for name in OFFICER_MOVES if name in available]


def _event_context(request, event, *, triage_form=None, move_form=None, pses_form=None, deescalation_form=None,
                   findings_form=None, waiver_form=None, ask_form=None):
    user = request.user
    current = taxonomy.current()
    # Most events were reported with the current version: one look-up then serves both.
    tax = current if event.taxonomy_version == current.version else _taxonomy_of(event)
    category_label, harm_label, details = _labels(event, tax, current)
    # Each form carries the version of the event it was shown with (a stale decision is refused).
    version = {"version": event.version}
    may_triage = can(user, "safety.triage", event) and event.status in services.TRIAGE_STATUSES
    may_move = can(user, "safety.manage_workflow", event)
    may_lower = can(user, "safety.deescalate", event) and services.may_be_lowered(event)
    outstanding = services.review_outstanding(event) if event.status in services.REVIEW_STATUSES else ""
    moves = _moves(event, outstanding) if may_move else []
    may_record = (can(user, "safety.record_review", event) and event.status == Status.REVIEW
                  and event.review in services.REVIEWS_WITH_FINDINGS)
    may_waive = can(user, "safety.waive_review", event) and bool(outstanding)
    if may_record and findings_form is None:
        findings_form = ReviewFindingsForm(initial={"findings": event.review_findings, **version})
    if may_waive and waiver_form is None:
        waiver_form = ReviewWaiverForm(initial=version)
    if may_triage and triage_form is None:
        triage_form = TriageForm(initial=TriageForm.initial_for(event), taxonomy=current, kind=event.kind)
    if moves and move_form is None:
        move_form = MoveForm(initial=version)
    if move_form is not None:
        move_form.offer(moves)
        if "close" in moves:
            move_form.open_actions = services.open_actions_of(event)
    may_ask = event.is_anonymous and can(user, "safety.ask_reporter", event)
    if may_ask and ask_form is None:
        ask_form = AskReporterForm()
    if may_lower and deescalation_form is None:
        deescalation_form = DeescalationForm(initial=DeescalationForm.initial_for(event))
    return {
        "event": event,
        "category_label": category_label,
        "harm_label": harm_label,
        "details": details,
        "reporter": reporter_label(user, event),
        "patient": services.patient_of(event),
        "attachments": event.attachments.order_by("uploaded_at", "pk"),
        "transitions": event.transitions.select_related("by"),
        # Changes of the record itself in words; its moves are in the workflow history above.
        # A record still at its first version was never changed: no need to read the trail.
        "changes": history.history_of(event, actions=[LogEntry.Action.UPDATE], leave_out=("status",))
                   if event.version > 1 else [],
        "deescalations": event.deescalations.select_related("by"),
        "escalations": list(event.escalations.select_related("person")),
        "reporter_messages": event.reporter_messages.all(),
        "questions": event.questions.select_related("asked_by") if event.is_anonymous else [],
        "ask_form": ask_form if may_ask else None,
        "overdue": _overdue(event, timezone.now()),
        "triage_form": triage_form if may_triage else None,
        # A refused step is shown with its errors even when no step is possible any more.
        "move_form": move_form if may_move else None,
        "pses_form": (pses_form or PsesRemovalForm(initial=version)) if may_move and event.is_work_product else pses_form,
        "deescalation_form": deescalation_form if may_lower else None,
        "review_outstanding": outstanding,
        # Only a triaged event has a review to waive (a report waiting for triage costs no query).
        "waivers": event.review_waivers.select_related("by") if event.review else [],
        "findings_form": findings_form if may_record else None,
        "waiver_form": waiver_form if may_waive else None,
        "sac_matrix": _sac_matrix(),
        "sac_scheme_name": sac.SCHEME_NAMES.get(event.sac_scheme, event.sac_scheme),
        "sac_severity": sac.SEVERITIES.get(event.sac_severity, event.sac_severity),
        "sac_probability": sac.PROBABILITIES.get(event.sac_probability, event.sac_probability),
        # Peer review is confidential and kept apart (docs/medstaff.md): the event
        # shows only that a case was referred, its reference and the day.
        "peer_review_referrals": medstaff.peer_review_referrals(event),
        "may_refer_to_peer_review": can(user, "medstaff.refer_peer_review", event),
    }


def _sac_matrix():
    """The matrix with its codes, so a page can mark the cell chosen (the triage form as the
    officer picks, the event page once triaged)."""
    severities = list(sac.SEVERITIES)
    return {
        "severities": [s.capitalize() for s in severities],
        "rows": [(p, p.capitalize(), [(s, sac.MATRIX[p][s]) for s in severities]) for p in sac.PROBABILITIES],
    }


# --- the queue and the list ---------------------------------------------------------------------

def _event_url_maker():
    """pk -> the event page's address, reversing the route once for the whole list."""
    marker = 999_999_999
    pattern = reverse("safety:event", args=[marker])
    before, after = pattern.split(str(marker))
    return lambda pk: f"{before}{int(pk)}{after}"


# The queue's columns only: an event row has some forty (texts, answers as JSON, ten times),
# and the queue reads a page of fifty.
_QUEUE_COLUMNS = ("reference", "is_anonymous", "is_sentinel", "reported_at", "kind", "category", "harm", "status",
                  "taxonomy_version", "unit__name", "unit__facility__code")


@requires("safety.triage")
def triage_queue(request):
    units = permissions.units_where(request.user, "safety.triage").select_related("facility").order_by(
        "facility__code", "path")
    current = taxonomy.current()
    form = TriageFilterForm(request.GET or None, taxonomy=current, units=units)
    page = _page(request, form.apply(services.triage_queue(request.user).only(*_QUEUE_COLUMNS)))
    now = timezone.now()
    taxonomy_of = _taxonomies(current)
    rows = []
    # The rows' words are made here rather than by template tags: the queue is the officers'
    # busiest page, and tags cost several times more per row.
    event_url = _event_url_maker()
    for event in page:
        tax = taxonomy_of(event)
        waiting = (now - event.reported_at).days
        rows.append({"event": event, "url": event_url(event.pk), "category": tax.category_label(event.category),
                     "harm": tax.harm_label(event.harm) if event.harm else "",
                     "reported": f"{timezone.localtime(event.reported_at):%Y-%m-%d}",
                     "unit": event.unit.name, "facility": event.unit.facility.code.upper(),
                     "kind": _KIND_LABELS.get(event.kind, event.kind),
                     "status": _STATUS_LABELS.get(event.status, event.status),
                     "waiting": waiting, "late": waiting > WAITING_DAYS, "severity": event.severity_label})
    return render(request, "safety/officer/queue.html",
                  {"page": page, "rows": rows, "waiting_days": WAITING_DAYS, "form": form,
                   "filtered": form.is_bound and form.is_valid() and any(form.cleaned_data.values())})


@requires("safety.view_events")
def event_list(request):
    user = request.user
    units = permissions.units_where(user, "safety.view_events").select_related("facility").order_by(
        "facility__code", "path")
    current = taxonomy.current()
    form = EventFilterForm(request.GET or None, taxonomy=current, units=units)
    events = form.apply(services.events_visible_to(user).defer("narrative", "immediate_action", "details"))
    if form.is_valid() and form.cleaned_data["overdue"]:
        events = services.overdue_rcas(events)
    page = Window(request, events)
    now = timezone.now()
    taxonomy_of = _taxonomies(current)
    rows = []
    event_url = _event_url_maker()
    for event in page:
        tax = taxonomy_of(event)
        overdue = _overdue(event, now)  # the same test as services.overdue_rcas, on the row in hand
        rows.append({"event": event, "url": event_url(event.pk), "category": tax.category_label(event.category),
                     "harm": tax.harm_label(event.harm) if event.harm else "",
                     "kind": _KIND_LABELS.get(event.kind, event.kind),
                     "status": _STATUS_LABELS.get(event.status, event.status),
                     "severity": event.severity_label,
                     "overdue": overdue if any(overdue.values()) else None})
    return render(request, "safety/officer/events.html", {"form": form, "page": page, "rows": rows})


# --- one event ------------------------------------------------------------------------------------

@requires("safety.report")
def event(request, pk):
    event = services.access_event(request.user, pk)
    if not can(request.user, "safety.view_events", event) and event.reporter_id == request.user.pk:
        # A reporter reads their own report on the reporter's page: feedback without the analysis.
        return redirect("safety:my_report", pk=event.pk)
    services.open_event(request.user, event)
    context = _event_context(request, event)
    services.notifications_read(request.user, event, context["escalations"])
    return render(request, "safety/officer/event.html", context)


def _decide(request, pk, capability: str, form_key: str, reason: str, make_form, decide, done):
    """One decision from the event page: the event opened with `capability`, its form made by
    `make_form(event)` from the posted data, `decide(event, form.cleaned_data)` calls the service.
    Taken: back to the event, saying `done(event)`. Refused: the page again with the form and its
    errors, the read audited as `reason`; 409 when the event changed since the page was read."""
    event = services.access_event(request.user, pk, capability)
    form = make_form(event)
    status = 400
    if form.is_valid():
        try:
            decide(event, form.cleaned_data)
        except ValidationError as error:
            status = concurrency.refused_on_page(request, form, error, event, add_service_errors)
        else:
            messages.success(request, done(event))
            return redirect("safety:event", pk=event.pk)
    services.open_event(request.user, event, reason=reason)
    context = _event_context(request, event, **{form_key: form})
    return render(request, "safety/officer/event.html", context, status=status)


@require_POST
@requires("safety.triage")
def triage_event(request, pk):
    return _decide(request, pk, "safety.triage", "triage_form", "triage",
                   lambda event: TriageForm(request.POST, taxonomy=taxonomy.current(), kind=event.kind),
                   lambda event, data: services.triage(request.user, event, TriageForm.decision_of(data),
                                                       data["version"]),
                   lambda event: "The triage is recorded.")


@require_POST
@requires("safety.manage_workflow")
def move_event(request, pk):
    return _decide(request, pk, "safety.manage_workflow", "move_form", "workflow", lambda event: MoveForm(request.POST),
                   lambda event, data: services.move(request.user, event, data["action"], data["reason"],
                                                     data["closing_summary"], data["version"],
                                                     open_actions_reason=data["open_actions_reason"]),
                   lambda event: f"The event is now {event.get_status_display().lower()}.")


@require_POST
@requires("safety.record_review")
def record_review_findings(request, pk):
    return _decide(request, pk, "safety.record_review", "findings_form", "recording the review's findings",
                   lambda event: ReviewFindingsForm(request.POST),
                   lambda event, data: services.record_review_findings(request.user, event, data["findings"],
                                                                       data["version"]),
                   lambda event: "The review's findings are recorded.")


@require_POST
@requires("safety.waive_review")
def waive_review(request, pk):
    return _decide(request, pk, "safety.waive_review", "waiver_form", "waiving the review",
                   lambda event: ReviewWaiverForm(request.POST),
                   lambda event, data: services.waive_review(request.user, event, data["reason"], data["version"]),
                   lambda event: "The review is waived; the reason is kept with the event.")


@require_POST
@requires("safety.manage_workflow")
def remove_from_pses(request, pk):
    return _decide(request, pk, "safety.manage_workflow", "pses_form", "PSES removal",
                   lambda event: PsesRemovalForm(request.POST),
                   lambda event, data: services.remove_from_pses(request.user, event, data["reason"], data["version"]),
                   lambda event: "The report has left the patient safety evaluation system.")


@require_POST
@requires("safety.deescalate")
def deescalate_event(request, pk):
    return _decide(request, pk, "safety.deescalate", "deescalation_form", "lowering the SAC",
                   lambda event: DeescalationForm(request.POST),
                   lambda event, data: services.deescalate(
                       request.user, event, sac_severity=data["sac_severity"], sac_probability=data["sac_probability"],
                       sentinel=data["sentinel"], reason=data["reason"], version=data["version"]),
                   lambda event: f"The event is now SAC {event.sac_score}"
                                 + ("" if event.is_sentinel else ", not sentinel") + ".")


@require_POST
@requires("safety.ask_reporter")
def ask_reporter(request, pk):
    return _decide(request, pk, "safety.ask_reporter", "ask_form", "question to the reporter",
                   lambda event: AskReporterForm(request.POST),
                   lambda event, data: services.ask_reporter(request.user, event, data["text"]),
                   lambda event: "The question is sent: the reporter reads it with their receipt code.")


@requires("safety.report")
def attachment(request, pk, attachment_pk):
    item = services.access_attachment(request.user, pk, attachment_pk)
    content = services.open_attachment(item)
    audit.record_read(item, actor=request.user, reason="downloaded attachment")
    return FileResponse(content, as_attachment=True, filename=item.name, content_type=item.content_type)


# --- statistics and conduct concerns ------------------------------------------------------------

def _month_starts(now, count=12):
    """The first instant of this month and the `count - 1` before it, oldest first."""
    local = timezone.localtime(now)
    year, month = local.year, local.month
    starts = []
    for _ in range(count):
        starts.append(timezone.make_aware(datetime(year, month, 1)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(starts))


def _share(events, now):
    met, judged = services.feedback_share(events, now=now)
    return {"met": met, "judged": judged, "percent": round(100 * met / judged) if judged else None}


@requires("safety.view_feedback_stats")
def feedback_stats(request):
    now = timezone.now()
    units = permissions.units_where(request.user, "safety.view_feedback_stats")
    starts = _month_starts(now)
    events = SafetyEvent.objects.filter(unit__in=units, reported_at__gte=starts[0])
    months = []
    for start, end in zip(starts, [*starts[1:], None], strict=True):
        in_month = events.filter(reported_at__gte=start)
        if end is not None:
            in_month = in_month.filter(reported_at__lt=end)
        months.append({"month": start, **_share(in_month, now)})
    by_unit = []
    unit_ids = set(events.values_list("unit_id", flat=True))
    for unit in units.filter(pk__in=unit_ids).select_related("facility").order_by("facility__code", "path"):
        by_unit.append({"unit": unit, **_share(events.filter(unit=unit), now)})
    return render(request, "safety/officer/feedback.html", {
        "overall": _share(events, now), "months": months, "by_unit": by_unit,
        "days": settings.ANDON_FEEDBACK_DAYS, "since": starts[0],
    })


@requires("safety.review_conduct_concerns")
def conduct_concerns(request):
    units = permissions.units_where(request.user, "safety.review_conduct_concerns")
    concerns = (ConductConcern.objects.filter(unit__in=units).select_related("raised_by", "unit", "unit__facility")
                .order_by("-raised_at", "-pk"))
    page = _page(request, concerns)
    notifications.mark_read(request.user, request.path)
    for concern in page:
        audit.record_read(concern, actor=request.user, reason="conduct concern list")
    return render(request, "safety/officer/conduct_concerns.html", {"page": page})
