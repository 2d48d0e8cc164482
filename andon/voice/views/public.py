"""The public complaint form and its follow page: no account, rate-limited per address and
overall (platform/ratelimit.py keeps no address), kept out of the access log, never cached. The
answer to a complaint is its receipt code, shown once in the response (no redirect, no session)."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from andon.platform import inputs, ratelimit
from andon.platform.access_log import unlogged
from andon.platform.forms import BoundedDateField, add_errors
from andon.platform.permissions import public

from .. import grievances as service


class PublicComplaintForm(forms.Form):
    description = forms.CharField(label="What happened?", widget=forms.Textarea(attrs={"rows": 6}),
                                  max_length=service.DESCRIPTION_MAX)
    occurred_on = BoundedDateField(required=False, label="When did it happen?",
                                   widget=forms.DateInput(attrs={"type": "date"}))
    unit = forms.ChoiceField(required=False, label="Where did it happen?")
    categories = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                           label="What is it about? (optional)")
    patient_name = forms.CharField(required=False, max_length=200, label="The patient's name")
    patient_birth_date = BoundedDateField(required=False, label="The patient's date of birth",
                                          widget=forms.DateInput(attrs={"type": "date"}))
    contact_name = forms.CharField(required=False, max_length=200, label="Your name")
    relationship = forms.CharField(required=False, max_length=60, label="You are the patient's…",
                                   help_text="For example: the patient, daughter, husband, carer")
    contact_details = forms.CharField(required=False, max_length=400, label="How should we answer you?",
                                      help_text="A postal address, an e-mail address or a phone number")
    anonymous = forms.BooleanField(required=False, label="I want to stay anonymous (you will not get an answer, "
                                                         "but you can follow the complaint with its code)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "Not sure")] + [
            (u.pk, f"{u.facility.name} · {u.name}") for u in service.public_units()]
        self.fields["categories"].choices = [(c.pk, c.label) for c in service.category_choices()]


class FollowForm(forms.Form):
    code = forms.CharField(max_length=40, label="Your receipt code")


def _no_store(response):
    add_never_cache_headers(response)
    return response


def _limit(kind: str) -> ratelimit.Limit:
    if kind == "complaint":
        return ratelimit.Limit("public-complaint", settings.ANDON_PUBLIC_COMPLAINTS_PER_ADDRESS,
                               settings.ANDON_PUBLIC_COMPLAINTS_OVERALL, settings.ANDON_RATE_WINDOW_SECONDS)
    return ratelimit.Limit("complaint-receipt", settings.ANDON_RECEIPT_LOOKUPS_PER_ADDRESS,
                           settings.ANDON_RECEIPT_LOOKUPS_OVERALL, settings.ANDON_RATE_WINDOW_SECONDS)


def _minutes_refused(request, kind: str) -> int | None:
    """None within the limits, else the minutes until the next try."""
    return ratelimit.minutes_refused(_limit(kind), request)


def _too_many(response, minutes: int):
    response["Retry-After"] = str(minutes * 60)
    return _no_store(response)


@unlogged
@public
@require_http_methods(["GET", "POST"])
def public_complaint(request):
    if request.method == "GET":
        return _no_store(render(request, "voice/public_complaint.html", {"form": PublicComplaintForm()}))
    form = PublicComplaintForm(request.POST)
    minutes = _minutes_refused(request, "complaint")
    if minutes is not None:  # the form again with what was typed; nothing stored
        form.is_valid()
        form.add_error(None, f"Too many complaints were sent from here (or from everyone) in the last hour, so this "
                             f"one was not stored. Please try again in about {minutes} minutes, or call patient "
                             f"relations.")
        return _too_many(render(request, "voice/public_complaint.html", {"form": form}, status=429), minutes)
    if form.is_valid():
        clean = form.cleaned_data
        complaint = service.PublicComplaint(
            description=clean["description"], occurred_on=clean.get("occurred_on"),
            unit_id=inputs.record_id(clean.get("unit")),
            category_ids=[pk for pk in (inputs.record_id(v) for v in clean.get("categories") or ()) if pk],
            patient_name=clean.get("patient_name", ""), patient_birth_date=clean.get("patient_birth_date"),
            contact_name=clean.get("contact_name", ""), relationship=clean.get("relationship", ""),
            contact_details=clean.get("contact_details", ""), anonymous=bool(clean.get("anonymous")))
        try:
            grievance, receipt = service.submit_public_complaint(complaint)
        except ValidationError as problem:
            add_errors(form, problem)
        else:
            return _no_store(render(request, "voice/public_complaint_sent.html",
                                    {"receipt": receipt, "received_on": grievance.received_on}))
    return _no_store(render(request, "voice/public_complaint.html", {"form": form}, status=400))


@unlogged
@public
@require_http_methods(["GET", "POST"])
def public_follow(request):
    """The status, the day received and the dates of letters: nothing else of the record."""
    context = {"form": FollowForm(), "looked_up": False}
    if request.method == "POST":
        minutes = _minutes_refused(request, "receipt")
        if minutes is not None:
            return _too_many(render(request, "voice/public_follow.html",
                                    {"form": FollowForm(), "minutes": minutes}, status=429), minutes)
        form = FollowForm(request.POST)
        code = form.cleaned_data["code"] if form.is_valid() else ""
        found = service.grievance_for_receipt(code)  # one lookup whatever was typed
        context.update(form=FollowForm(), looked_up=True, found=service.follow_view(found) if found else None)
    return _no_store(render(request, "voice/public_follow.html", context))


urlpatterns = [
    path("complaints/new", public_complaint, name="public_complaint"),
    path("complaints/follow", public_follow, name="public_follow"),
]
