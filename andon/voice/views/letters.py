"""Pages of the grievance's clock and letters: the grievance's letters page (its clock, its letters,
a new draft, reopening), a letter's page (edit while a draft, approve, send, new draft, PDF) and
the approver's list of drafts."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import concurrency, permissions
from andon.platform.forms import BoundedDateField, add_errors
from andon.platform.permissions import requires

from .. import services
from ..models import Grievance, LetterKind, LetterStatus, SendingMethod


class DraftForm(forms.Form):
    kind = forms.ChoiceField(choices=LetterKind.choices)


class LetterForm(forms.Form):
    version = concurrency.VersionField()
    addressee = forms.CharField(max_length=200, required=False)
    address = forms.CharField(max_length=400, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    body = forms.CharField(max_length=8000, widget=forms.Textarea(attrs={"rows": 10}), label="Letter")
    promised_on = BoundedDateField(required=False, label="Date of the full response",
                                   widget=forms.DateInput(attrs={"type": "date"}))
    contact_person = forms.CharField(max_length=300, required=False, label="Hospital contact person")
    investigation_steps = forms.CharField(max_length=4000, required=False, label="Steps taken to investigate",
                                          widget=forms.Textarea(attrs={"rows": 4}))
    results = forms.CharField(max_length=4000, required=False, label="Results",
                              widget=forms.Textarea(attrs={"rows": 4}))
    completed_on = BoundedDateField(required=False, label="Date of completion",
                                    widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, kind, **kwargs):
        super().__init__(*args, **kwargs)
        unused = services.FOUR_ELEMENTS if kind == LetterKind.INTERIM else ("promised_on",)
        for name in unused:
            del self.fields[name]


class SendForm(forms.Form):
    version = concurrency.VersionField()
    via = forms.ChoiceField(choices=SendingMethod.choices, label="Sent by")
    sent_on = BoundedDateField(label="Sent on", widget=forms.DateInput(attrs={"type": "date"}))


class ReopenForm(forms.Form):
    version = concurrency.VersionField()
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


def _grievance(user, pk, capability="voice.view_grievances") -> Grievance:
    return permissions.fetch_checked(user, capability, Grievance.objects.select_related("unit", "owner"), pk=pk)


@requires("voice.view_grievances")
def grievance_letters(request, pk, reopen_form=None, draft_form=None, status=200):
    grievance = _grievance(request.user, pk)
    clock = services.clock_section(request.user, grievance) or {}
    committee = services.committee_section(request.user, grievance)
    context = {**clock, **services.letters_section(request.user, grievance), **committee,
               "clock_context": clock, "committee_context": committee,
               "draft_form": draft_form or DraftForm(),
               "reopen_form": reopen_form or ReopenForm(initial={"version": grievance.version})}
    return render(request, "voice/letters_grievance.html", context, status=status)


@requires("voice.manage_grievances")
@require_POST
def letter_new(request, pk):
    grievance = _grievance(request.user, pk, "voice.manage_grievances")
    form = DraftForm(request.POST)
    if form.is_valid():
        try:
            letter = services.draft_letter(request.user, grievance, form.cleaned_data["kind"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect("voice:letter", pk=letter.pk)
    return grievance_letters(request, pk, draft_form=form, status=400)


@requires("voice.manage_grievances")
@require_POST
def grievance_reopen(request, pk):
    grievance = _grievance(request.user, pk, "voice.manage_grievances")
    form = ReopenForm(request.POST)
    if form.is_valid():
        try:
            services.reopen_grievance(request.user, grievance, form.cleaned_data["reason"],
                                      form.cleaned_data["version"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{grievance.reference} is open again, due {grievance.due_on:%Y-%m-%d}.")
            return redirect("voice:grievance_letters", pk=pk)
    return grievance_letters(request, pk, reopen_form=form, status=400)


def _letter_page(request, letter, form=None, send_form=None, status=200):
    user = request.user
    may_manage = permissions.can(user, "voice.manage_grievances", letter.grievance)
    is_draft = letter.status == LetterStatus.DRAFT
    initial = {name: getattr(letter, name) for name in services.EDITABLE} | {"version": letter.version}
    context = {
        "letter": letter, "grievance": letter.grievance, "is_draft": is_draft,
        "form": form or (LetterForm(initial=initial, kind=letter.kind) if is_draft and may_manage else None),
        "send_form": send_form or SendForm(initial={"version": letter.version, "sent_on": timezone.localdate(),
                                                    "via": SendingMethod.POST}),
        "missing": services.missing_elements(letter) if is_draft else {},
        "may_approve": is_draft and permissions.can(user, "voice.approve_letters", letter.grievance),
        "may_send": letter.status == LetterStatus.APPROVED and may_manage,
        "may_redraft": letter.status == LetterStatus.APPROVED and may_manage,
    }
    return render(request, "voice/letter.html", context, status=status)


@requires("voice.view_grievances")
def letter(request, pk):
    found = services.access_letter(request.user, pk)
    if request.method != "POST":
        return _letter_page(request, found)
    permissions.check(request.user, "voice.manage_grievances", found.grievance)
    form = LetterForm(request.POST, kind=found.kind)
    if form.is_valid():
        fields = dict(form.cleaned_data)
        version = fields.pop("version")
        try:
            services.edit_letter(request.user, found, version, **fields)
        except ValidationError as error:
            status = concurrency.refused_on_page(request, form, error, found, add_errors)
            return _letter_page(request, found, form=form, status=status)
        messages.success(request, "The letter is saved.")
        return redirect("voice:letter", pk=pk)
    return _letter_page(request, found, form=form, status=400)


@requires("voice.approve_letters")
@require_POST
def letter_approve(request, pk):
    found = services.access_letter(request.user, pk, "voice.approve_letters")
    try:
        services.approve_letter(request.user, found, request.POST.get("version"))
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return redirect("voice:letter", pk=pk)
    messages.success(request, "The letter is approved: it can now be sent.")
    return redirect("voice:letter", pk=pk)


@requires("voice.manage_grievances")
@require_POST
def letter_send(request, pk):
    found = services.access_letter(request.user, pk, "voice.manage_grievances")
    form = SendForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.send_letter(request.user, found, data["via"], data["sent_on"], data["version"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"The letter is recorded as sent on {data['sent_on']:%Y-%m-%d}.")
            return redirect("voice:grievance_letters", pk=found.grievance_id)
    return _letter_page(request, found, send_form=form, status=400)


@requires("voice.manage_grievances")
@require_POST
def letter_redraft(request, pk):
    found = services.access_letter(request.user, pk, "voice.manage_grievances")
    try:
        copy = services.redraft_letter(request.user, found)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return redirect("voice:letter", pk=pk)
    return redirect("voice:letter", pk=copy.pk)


@requires("voice.view_grievances")
def letter_pdf(request, pk):
    found = services.access_letter(request.user, pk)
    response = HttpResponse(services.letter_pdf(request.user, found), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{found.grievance.reference}-{found.kind}.pdf"'
    return response


@requires("voice.approve_letters")
def letters_waiting(request):
    drafts = services.letters_to_approve(request.user).select_related("grievance", "created_by")
    page = Paginator(drafts.order_by("created_at", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "voice/letters_list.html", {"page": page})


urlpatterns = [
    path("voice/grievances/<int:pk>/letters/", grievance_letters, name="grievance_letters"),
    path("voice/grievances/<int:pk>/letters/new/", letter_new, name="letter_new"),
    path("voice/grievances/<int:pk>/reopen/", grievance_reopen, name="grievance_reopen"),
    path("voice/letters/", letters_waiting, name="letters"),
    path("voice/letters/<int:pk>/", letter, name="letter"),
    path("voice/letters/<int:pk>/approve/", letter_approve, name="letter_approve"),
    path("voice/letters/<int:pk>/send/", letter_send, name="letter_send"),
    path("voice/letters/<int:pk>/redraft/", letter_redraft, name="letter_redraft"),
    path("voice/letters/<int:pk>/pdf/", letter_pdf, name="letter_pdf"),
]
