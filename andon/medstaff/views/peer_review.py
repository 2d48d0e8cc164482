"""Pages of peer review: the cases (readers only), one case with its assignment, review and
decision, referral by hand and from a safety event, the feedback letter, the counts by outcome
(aggregates only), the scale and the trigger cases without a practitioner. Thin: the rules are in
peer_review.py."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from andon.platform import concurrency, notifications, permissions
from andon.platform.forms import BoundedDateField
from andon.platform.models import User
from andon.platform.permissions import can, requires
from andon.safety import services as safety

from .. import peer_review
from ..models import PeerReviewSource, Practitioner, ScaleKind, ScaleLevel, TriggerMiss


class ReferForm(forms.Form):
    practitioner = forms.ModelChoiceField(queryset=Practitioner.objects.none(),
                                          help_text="Whose care is to be reviewed")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=peer_review.SUMMARY_LIMIT,
                              help_text="Why the case is referred: the facts, not a judgement")

    def __init__(self, *args, organisations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].queryset = Practitioner.objects.filter(
            organisation__in=organisations).exclude(status="inactive").select_related("department")
        self.fields["practitioner"].label_from_instance = lambda p: f"{p.name} ({p.department})"


class ReferByHandForm(ReferForm):
    encounter_id = forms.CharField(max_length=64, required=False, label="Encounter (FHIR id)")
    patient_id = forms.CharField(max_length=64, required=False, label="Patient (FHIR id)")
    occurred_on = BoundedDateField(required=False, label="Date of the care",
                                   widget=forms.DateInput(attrs={"type": "date"}))


class AssignForm(forms.Form):
    version = concurrency.VersionField()
    reviewers = forms.ModelMultipleChoiceField(queryset=User.objects.filter(is_active=True),
                                               widget=forms.CheckboxSelectMultiple)


class ReviewForm(forms.Form):
    care_level = forms.ChoiceField(label="The practitioner's care", widget=forms.RadioSelect)
    system_level = forms.ChoiceField(label="The system's contribution", widget=forms.RadioSelect)
    documentation_issue = forms.BooleanField(required=False, label="A documentation issue")
    documentation_note = forms.CharField(required=False, max_length=peer_review.NOTE_LIMIT,
                                         widget=forms.Textarea(attrs={"rows": 2}))
    communication_issue = forms.BooleanField(required=False, label="A communication issue")
    communication_note = forms.CharField(required=False, max_length=peer_review.NOTE_LIMIT,
                                         widget=forms.Textarea(attrs={"rows": 2}))
    narrative = forms.CharField(max_length=peer_review.NARRATIVE_LIMIT, widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        for field, kind in (("care_level", ScaleKind.CARE), ("system_level", ScaleKind.SYSTEM)):
            self.fields[field].choices = [(lv.code, f"{lv.code}: {lv.label}")
                                          for lv in peer_review.levels_of(organisation, kind)]


class ConflictForm(forms.Form):
    note = forms.CharField(label="The conflict of interest", max_length=peer_review.NOTE_LIMIT,
                           widget=forms.Textarea(attrs={"rows": 2}))


class DecideForm(forms.Form):
    version = concurrency.VersionField()
    outcome = forms.ChoiceField(label="Final level of the practitioner's care", widget=forms.RadioSelect)
    system_level = forms.ChoiceField(label="The system's contribution", widget=forms.RadioSelect)
    committee_note = forms.CharField(label="The committee's words to the practitioner",
                                     max_length=peer_review.SUMMARY_LIMIT, widget=forms.Textarea(attrs={"rows": 4}))
    start_fppe = forms.BooleanField(required=False, label="Start a focused evaluation (FPPE)")
    action_title = forms.CharField(required=False, max_length=200, label="System issue: an action (title)")
    action_owner = forms.ModelChoiceField(required=False, queryset=User.objects.none(), label="Action owner")
    action_due = BoundedDateField(required=False, label="Action due", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        organisation = case.practitioner.organisation
        for field, kind in (("outcome", ScaleKind.CARE), ("system_level", ScaleKind.SYSTEM)):
            self.fields[field].choices = [(lv.code, f"{lv.code}: {lv.label}")
                                          for lv in peer_review.levels_of(organisation, kind)]
        self.fields["action_owner"].queryset = permissions.people_who("actions.manage", case.practitioner.department)

    def system_action(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("action_title"):
            return None
        if not data.get("action_owner") or not data.get("action_due"):
            raise ValidationError({"action_title": "an action needs its owner and its due date"})
        return {"title": data["action_title"], "owner": data["action_owner"], "due_date": data["action_due"]}


class LevelForm(forms.Form):
    kind = forms.ChoiceField(choices=ScaleKind.choices)
    code = forms.CharField(max_length=20)
    label = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    position = forms.IntegerField(min_value=0, max_value=999, initial=0)
    active = forms.BooleanField(required=False, initial=True)


def _organisations(user, capability):
    return {unit.facility.organisation_id for unit in permissions.units_where(user, capability).select_related(
        "facility")}


# --- the cases ------------------------------------------------------------------------------------

@requires("medstaff.use_peer_review")
def case_list(request):
    cases = peer_review.visible_cases(request.user).order_by("-referred_at", "-pk")[:500]
    return render(request, "medstaff/peer_review_list.html", {
        "cases": cases, "may_configure": can(request.user, "medstaff.configure_peer_review"),
        "may_read_all": can(request.user, "medstaff.view_peer_review"),
        "may_count": can(request.user, "medstaff.view_peer_review_aggregates")})


def _case_context(request, case, **forms_given):
    user = request.user
    reviews = peer_review.reviews_of(case)
    reads_all = can(user, "medstaff.view_peer_review", case)
    own = case.assignments.filter(reviewer=user, conflict_declared_at__isnull=True).first()
    context = {"case": case, "reads_all": reads_all, "own_assignment": own,
               # Reviews are blind to each other: a reviewer reads their own, the readers all.
               "reviews": reviews if reads_all else [r for r in reviews if r.assignment.reviewer_id == user.pk],
               "assignments": case.assignments.select_related("reviewer") if reads_all else [],
               "letter_ready": case.decided_on is not None, "outcome_label": "", "system_label": ""}
    if case.decided_on:
        letter = peer_review.letter_context(case)
        context.update(outcome_label=letter["outcome_label"], system_label=letter["system_label"])
    open_case = case.decided_on is None
    if open_case and can(user, "medstaff.assign_peer_review", case):
        context["assign_form"] = forms_given.get("assign_form") or AssignForm(initial={"version": case.version})
        offered = peer_review.reviewers_offered(case)
        context["assign_form"].fields["reviewers"].queryset = User.objects.filter(pk__in=[p.pk for p in offered])
        assigned = set(case.assignments.values_list("reviewer_id", flat=True))
        context["not_offered"] = [(person, why) for person in permissions.people_who(
            "medstaff.be_peer_reviewer", case.practitioner.department).exclude(pk__in=assigned)
            if (why := peer_review.conflict_of(case, person))]
    if open_case and own is not None:
        stored = reviews and next((r for r in reviews if r.assignment_id == own.pk), None)
        initial = {f: getattr(stored, f) for f in ReviewForm.base_fields} if stored else {}
        context["review_form"] = forms_given.get("review_form") or ReviewForm(
            initial=initial, organisation=case.practitioner.organisation)
        context["conflict_form"] = forms_given.get("conflict_form") or ConflictForm()
    if open_case and reviews and can(user, "medstaff.decide_peer_review", case):
        context["decide_form"] = forms_given.get("decide_form") or DecideForm(
            initial={"version": case.version}, case=case)
    return context


@requires("medstaff.view_peer_case")
def case_detail(request, pk):
    case = peer_review.access_case(request.user, pk)
    notifications.mark_read(request.user, request.path)
    return render(request, "medstaff/peer_review_case.html", _case_context(request, case))


def _act(request, pk, capability, form_key, make_form, act, done, reason):
    """One act on a case from its page: refused, the page again with the form's errors (400)."""
    case = peer_review.access_case(request.user, pk, capability, reason=reason)
    form = make_form(case)
    if form.is_valid():
        try:
            act(case, form)
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(request, done)
            return redirect("medstaff:peer_review_case", pk=case.pk)
    return render(request, "medstaff/peer_review_case.html", _case_context(request, case, **{form_key: form}),
                  status=400)


@require_POST
@requires("medstaff.assign_peer_review")
def case_assign(request, pk):
    def act(case, form):
        peer_review.assign_reviewers(request.user, case, form.cleaned_data["reviewers"], form.cleaned_data["version"])

    def make(case):
        form = AssignForm(request.POST)
        # Whom the policy may refuse is the service's to say: the field accepts any active person.
        return form
    return _act(request, pk, "medstaff.assign_peer_review", "assign_form", make, act, "The reviewers are assigned.",
                "assigning reviewers")


@require_POST
@requires("medstaff.review_peer_case")
def case_review(request, pk):
    def act(case, form):
        peer_review.submit_review(request.user, case, **form.cleaned_data)
    return _act(request, pk, "medstaff.review_peer_case", "review_form",
                lambda case: ReviewForm(request.POST, organisation=case.practitioner.organisation), act,
                "Your review is recorded.", "reviewing")


@require_POST
@requires("medstaff.review_peer_case")
def case_conflict(request, pk):
    def act(case, form):
        peer_review.declare_conflict(request.user, case, form.cleaned_data["note"])
    case = peer_review.access_case(request.user, pk, "medstaff.review_peer_case", reason="declaring a conflict")
    form = ConflictForm(request.POST)
    if form.is_valid():
        try:
            act(case, form)
        except ValidationError as error:
            form.add_error(None, "; ".join(m for ms in error.message_dict.values() for m in ms))
        else:
            messages.success(request, f"You are withdrawn from {case.reference}; the office is told.")
            return redirect("medstaff:peer_review_list")
    return render(request, "medstaff/peer_review_case.html",
                  _case_context(request, case, conflict_form=form), status=400)


@require_POST
@requires("medstaff.decide_peer_review")
def case_decide(request, pk):
    def act(case, form):
        data = form.cleaned_data
        peer_review.decide_case(request.user, case, outcome=data["outcome"], system_level=data["system_level"],
                                committee_note=data["committee_note"], system_action=form.system_action(),
                                start_fppe=data["start_fppe"], version=data["version"])
    return _act(request, pk, "medstaff.decide_peer_review", "decide_form",
                lambda case: DecideForm(request.POST, case=case), act,
                "The decision is recorded and the practitioner told.", "deciding")


@requires("medstaff.read_peer_letter")
def case_letter(request, pk):
    case = peer_review.access_case(request.user, pk, "medstaff.read_peer_letter", reason="the feedback letter")
    try:
        body = peer_review.feedback_letter_pdf(case)
    except ValidationError:
        return render(request, "medstaff/peer_review_case.html", _case_context(request, case), status=400)
    notifications.mark_read(request.user, request.path)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{case.reference}-feedback.pdf"'
    return response


# --- referral -------------------------------------------------------------------------------------

@requires("medstaff.refer_peer_review")
def refer(request):
    organisations = _organisations(request.user, "medstaff.refer_peer_review")
    form = ReferByHandForm(request.POST or None, organisations=organisations)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                case = peer_review.refer_by_hand(request.user, practitioner=data["practitioner"],
                                                 summary=data["summary"], encounter_id=data["encounter_id"],
                                                 patient_id=data["patient_id"], occurred_on=data["occurred_on"])
            except ValidationError as error:
                _errors_to(form, error)
            else:
                return _referred(request, case)
    return render(request, "medstaff/peer_review_refer.html", {"form": form}, status=status)


@requires("medstaff.refer_peer_review")
def refer_event(request, event_pk):
    event = safety.access_event(request.user, event_pk)
    permissions.check(request.user, "medstaff.refer_peer_review", event)
    form = ReferForm(request.POST or None, organisations={event.unit.facility.organisation_id})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                case = peer_review.refer_from_event(request.user, event, practitioner=form.cleaned_data["practitioner"],
                                                    summary=form.cleaned_data["summary"])
            except ValidationError as error:
                _errors_to(form, error)
            else:
                messages.success(request, f"Referred to peer review as {case.reference}.")
                return redirect("safety:event", pk=event.pk)
    return render(request, "medstaff/peer_review_refer.html", {"form": form, "event": event}, status=status)


def _errors_to(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


def _referred(request, case):
    messages.success(request, f"Referred to peer review as {case.reference}.")
    if can(request.user, "medstaff.view_peer_case", case):
        return redirect("medstaff:peer_review_case", pk=case.pk)
    return redirect("medstaff:peer_review_refer")


# --- counts, scale, trigger cases -----------------------------------------------------------------

@requires("medstaff.view_peer_review_aggregates")
def counts(request):
    return render(request, "medstaff/peer_review_counts.html", {"rows": peer_review.aggregates(request.user)})


@requires("medstaff.configure_peer_review")
def scale(request):
    organisations = list(permissions.units_where(request.user, "medstaff.configure_peer_review").values_list(
        "facility__organisation", flat=True).distinct())
    from andon.platform.models import Organisation

    organisation = Organisation.objects.filter(pk__in=organisations).order_by("pk").first()
    form = LevelForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                peer_review.save_level(request.user, organisation, **form.cleaned_data)
            except ValidationError as error:
                _errors_to(form, error)
            else:
                messages.success(request, "The scale is saved.")
                return redirect("medstaff:peer_review_scale")
    peer_review.ensure_scale(organisation)
    levels = ScaleLevel.objects.filter(organisation=organisation)
    return render(request, "medstaff/peer_review_scale.html", {"form": form, "levels": levels}, status=status)


@requires("medstaff.view_peer_review")
def trigger_misses(request):
    return render(request, "medstaff/peer_review_misses.html", {"misses": TriggerMiss.objects.all()[:500],
                                                                "source": PeerReviewSource})


urlpatterns = [
    path("medstaff/peer-review/", case_list, name="peer_review_list"),
    path("medstaff/peer-review/refer/", refer, name="peer_review_refer"),
    path("medstaff/peer-review/refer/event/<int:event_pk>/", refer_event, name="peer_review_refer_event"),
    path("medstaff/peer-review/counts/", counts, name="peer_review_counts"),
    path("medstaff/peer-review/scale/", scale, name="peer_review_scale"),
    path("medstaff/peer-review/trigger-cases/", trigger_misses, name="peer_review_misses"),
    path("medstaff/peer-review/<int:pk>/", case_detail, name="peer_review_case"),
    path("medstaff/peer-review/<int:pk>/assign/", case_assign, name="peer_review_assign"),
    path("medstaff/peer-review/<int:pk>/review/", case_review, name="peer_review_review"),
    path("medstaff/peer-review/<int:pk>/conflict/", case_conflict, name="peer_review_conflict"),
    path("medstaff/peer-review/<int:pk>/decide/", case_decide, name="peer_review_decide"),
    path("medstaff/peer-review/<int:pk>/letter/", case_letter, name="peer_review_letter"),
]
