"""Pages of meetings: planning one, its page (agenda with the modules' proposals, attendance and
quorum, minutes, decisions and their actions, history), the forms each part posts, and the
minutes PDF. Each form posts to its own address and comes back to the meeting's page."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.actions import services as actions
from andon.platform import concurrency, history, permissions
from andon.platform.forms import add_errors
from andon.platform.permissions import requires

from .. import committees, meetings as services
from ..models import AgendaItem, Attendance, Decision, MeetingStatus


# The action form shares the page with the agenda's forms: its fields' ids must not meet theirs.
ACTION_PREFIX = "action"


class MeetingForm(forms.Form):
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Starts at")
    location = forms.CharField(max_length=200, required=False)
    period_first = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Reviews the period from")
    period_last = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="to")


class ItemForm(forms.Form):
    title = forms.CharField(max_length=300, label="Add an item")


class MinutesForm(forms.Form):
    version = concurrency.VersionField()
    minutes = forms.CharField(max_length=50000, required=False, widget=forms.Textarea(attrs={"rows": 6}))


class NotesForm(forms.Form):
    notes = forms.CharField(max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DecisionForm(forms.Form):
    text = forms.CharField(max_length=4000, label="Decision", widget=forms.Textarea(attrs={"rows": 3}))
    agenda_item = forms.ModelChoiceField(queryset=AgendaItem.objects.none(), required=False, label="On the item")

    def __init__(self, *args, meeting, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agenda_item"].queryset = meeting.agenda.all()


def _attendance_rows(meeting):
    """(person, role label, presence) for each current member and each guest recorded."""
    recorded = {a.user_id: a for a in meeting.attendance.select_related("user")}
    rows = [(m.user, m.get_role_display(), recorded.pop(m.user_id, None))
            for m in committees.current_members(meeting.committee, meeting.starts_at.date())]
    rows += [(a.user, "Guest", a) for a in recorded.values()]
    return [(person, role, a.presence if a else "") for person, role, a in rows]


def _page(request, meeting, status=200, **forms_given):
    user = request.user
    may_run = permissions.can(user, "governance.run_meeting", meeting)
    changeable = meeting.status in services.CHANGEABLE
    proposals, problems = services.proposals(user, meeting) if may_run and changeable else ([], [])
    last = services.previous_meeting(meeting)
    return render(request, "governance/meeting.html", {
        "meeting": meeting, "committee": meeting.committee, "may_run": may_run and changeable,
        "agenda": list(meeting.agenda.select_related("presenter")), "proposals": proposals, "problems": problems,
        "attendance": _attendance_rows(meeting), "presences": Attendance.Presence.choices,
        "quorum": services.quorum(meeting), "decisions": services.decisions_with_actions(meeting, user),
        "last": last, "may_approve_last": may_run and meeting.status == MeetingStatus.HELD and last is not None
        and last.status == MeetingStatus.HELD,
        "item_form": forms_given.get("item_form") or ItemForm(),
        "minutes_form": forms_given.get("minutes_form") or MinutesForm(initial={"minutes": meeting.minutes,
                                                                                "version": meeting.version}),
        "decision_form": forms_given.get("decision_form") or DecisionForm(meeting=meeting),
        "action_form": forms_given.get("action_form") or actions.action_form(
            user=user, prefix=ACTION_PREFIX, initial={"due_date": timezone.localdate() + timedelta(days=30), "strength": "intermediate"}),
        "action_for": forms_given.get("action_for") or _number(request.GET.get("action_for")),
        "history": history.history_of(meeting, limit=30),
    }, status=status)


def _refusal(request, error: ValidationError) -> None:
    for text in error.messages:
        messages.error(request, text)


@requires("governance.view_own_committees")
def meeting_new(request, pk):
    committee = committees.access_committee(request.user, pk, "governance.run_meeting")
    form = MeetingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.plan_meeting(request.user, committee, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{meeting.reference} is planned.")
            return redirect("governance:meeting", pk=meeting.pk)
    return render(request, "governance/meeting_form.html", {"form": form, "committee": committee},
                  status=400 if request.method == "POST" else 200)


@requires("governance.view_own_committees")
def meeting(request, pk):
    return _page(request, services.access_meeting(request.user, pk))


def _run(request, pk):
    return services.access_meeting(request.user, pk, "governance.run_meeting")


def _act(request, pk, service, success: str, *args, **kwargs):
    """Runs a one-click service on the meeting and comes back to its page, saying how it went."""
    found = _run(request, pk)
    try:
        service(request.user, found, *args, **kwargs)
    except ValidationError as error:
        _refusal(request, error)
    else:
        messages.success(request, success)
    return redirect("governance:meeting", pk=pk)


def _number(value) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


def _version(request):
    return _number(request.POST.get("version"))


@requires("governance.view_own_committees")
@require_POST
def agenda_build(request, pk):
    return _act(request, pk, services.build_agenda, "The standing items are on the agenda.", _version(request))


@requires("governance.view_own_committees")
@require_POST
def proposals_add(request, pk):
    keys = request.POST.getlist("keys")
    return _act(request, pk, services.add_proposals, f"{len(keys)} proposed item{'s' if len(keys) != 1 else ''} "
                "added to the agenda.", keys)


@requires("governance.view_own_committees")
@require_POST
def item_add(request, pk):
    found = _run(request, pk)
    form = ItemForm(request.POST)
    if form.is_valid():
        try:
            services.add_item(request.user, found, form.cleaned_data["title"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect("governance:meeting", pk=pk)
    return _page(request, found, 400, item_form=form)


def _item(request, pk) -> AgendaItem:
    item = get_object_or_404(AgendaItem.objects.select_related("meeting__committee"), pk=pk)
    permissions.check(request.user, "governance.run_meeting", item.meeting)
    return item


def _on_item(request, pk, service, *args):
    item = _item(request, pk)
    try:
        service(request.user, item, *args)
    except ValidationError as error:
        _refusal(request, error)
    return redirect("governance:meeting", pk=item.meeting_id)


@requires("governance.view_own_committees")
@require_POST
def item_remove(request, pk):
    return _on_item(request, pk, services.remove_item)


@requires("governance.view_own_committees")
@require_POST
def item_move(request, pk):
    return _on_item(request, pk, services.move_item, request.POST.get("direction") == "up")


@requires("governance.view_own_committees")
@require_POST
def item_notes(request, pk):
    form = NotesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The notes are at most 20,000 characters.")
        return redirect("governance:meeting", pk=_item(request, pk).meeting_id)
    return _on_item(request, pk, services.write_item_notes, form.cleaned_data["notes"])


@requires("governance.view_own_committees")
@require_POST
def attendance(request, pk):
    found = _run(request, pk)
    people = {person.pk: person for person, _, _ in _attendance_rows(found)}
    presences = {person: request.POST.get(f"presence-{person_id}") for person_id, person in people.items()
                 if request.POST.get(f"presence-{person_id}")}
    return _act(request, pk, services.record_attendance, "The attendance is recorded.", presences,
                _version(request))


@requires("governance.view_own_committees")
@require_POST
def held(request, pk):
    return _act(request, pk, services.mark_held, "The meeting is held: its minutes are in draft.", _version(request))


@requires("governance.view_own_committees")
@require_POST
def cancel(request, pk):
    return _act(request, pk, services.cancel_meeting, "The meeting is cancelled.", _version(request))


@requires("governance.view_own_committees")
@require_POST
def approve_last(request, pk):
    return _act(request, pk, services.approve_previous_minutes, "The last meeting's minutes are approved.",
                _version(request))


@requires("governance.view_own_committees")
@require_POST
def minutes(request, pk):
    found = _run(request, pk)
    form = MinutesForm(request.POST)
    if form.is_valid():
        try:
            services.write_minutes(request.user, found, form.cleaned_data["minutes"], form.cleaned_data["version"])
        except ValidationError as error:
            return _page(request, found, concurrency.refused_on_page(request, form, error, found, add_errors),
                         minutes_form=form)
        messages.success(request, "The minutes are saved.")
        return redirect("governance:meeting", pk=pk)
    return _page(request, found, 400, minutes_form=form)


@requires("governance.view_own_committees")
@require_POST
def decision_add(request, pk):
    found = _run(request, pk)
    form = DecisionForm(request.POST, meeting=found)
    if form.is_valid():
        try:
            services.record_decision(request.user, found, form.cleaned_data["text"], form.cleaned_data["agenda_item"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The decision is recorded.")
            return redirect("governance:meeting", pk=pk)
    return _page(request, found, 400, decision_form=form)


@requires("governance.view_own_committees")
@require_POST
def decision_action(request, pk):
    decision = get_object_or_404(Decision.objects.select_related("meeting__committee"), pk=pk)
    permissions.check(request.user, "governance.run_meeting", decision.meeting)
    form = actions.action_form(request.POST, user=request.user, prefix=ACTION_PREFIX)
    if form.is_valid():
        try:
            services.open_decision_action(request.user, decision, **form.service_fields())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"The action is in the tracker for {form.cleaned_data['owner']}.")
            return redirect("governance:meeting", pk=decision.meeting_id)
    return _page(request, decision.meeting, 400, action_form=form, action_for=decision.pk)


@requires("governance.view_own_committees")
def minutes_pdf(request, pk):
    found = services.access_meeting(request.user, pk)
    response = HttpResponse(services.minutes_pdf(request.user, found), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{found.reference}-minutes.pdf"'
    return response


urlpatterns = [
    path("governance/committees/<int:pk>/meetings/new/", meeting_new, name="meeting_new"),
    path("governance/meetings/<int:pk>/", meeting, name="meeting"),
    path("governance/meetings/<int:pk>/agenda/build/", agenda_build, name="agenda_build"),
    path("governance/meetings/<int:pk>/agenda/proposals/", proposals_add, name="proposals_add"),
    path("governance/meetings/<int:pk>/agenda/items/", item_add, name="item_add"),
    path("governance/agenda-items/<int:pk>/remove/", item_remove, name="item_remove"),
    path("governance/agenda-items/<int:pk>/move/", item_move, name="item_move"),
    path("governance/agenda-items/<int:pk>/notes/", item_notes, name="item_notes"),
    path("governance/meetings/<int:pk>/attendance/", attendance, name="attendance"),
    path("governance/meetings/<int:pk>/held/", held, name="meeting_held"),
    path("governance/meetings/<int:pk>/cancel/", cancel, name="meeting_cancel"),
    path("governance/meetings/<int:pk>/minutes/", minutes, name="minutes"),
    path("governance/meetings/<int:pk>/approve-last-minutes/", approve_last, name="approve_last_minutes"),
    path("governance/meetings/<int:pk>/decisions/", decision_add, name="decision_add"),
    path("governance/decisions/<int:pk>/actions/", decision_action, name="decision_action"),
    path("governance/meetings/<int:pk>/minutes.pdf", minutes_pdf, name="minutes_pdf"),
]
