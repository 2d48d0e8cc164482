"""Pages of committees: the committees one sits on, every committee one may read, a committee's
page (terms of reference, members and their terms, reporting line, standing items, meetings) and
the managers' forms (the committee, its members, its standing items)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, permissions
from andon.platform.forms import PersonField, add_errors, people_search
from andon.platform.models import Organisation, User
from andon.platform.permissions import requires

from .. import committees as services
from .. import meetings
from ..models import Committee, MemberRole, Membership, StandingItem


class CommitteeForm(forms.Form):
    version = concurrency.VersionField()
    name = forms.CharField(max_length=200)
    key = forms.SlugField(max_length=60, required=False, help_text="Starts its meetings' references (QPSC-2026-03); "
                                                                   "made from the name when left empty")
    terms_of_reference = forms.CharField(max_length=20000, required=False, widget=forms.Textarea(attrs={"rows": 6}))
    quorum = forms.IntegerField(min_value=1, max_value=100, help_text="Voting members present for its decisions "
                                                                      "to stand")
    reports_to = forms.ModelChoiceField(queryset=Committee.objects.none(), required=False)
    meets_every = forms.CharField(max_length=60, required=False)
    confidential = forms.BooleanField(required=False, help_text="Only its members read it (peer review)")
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, committee=None, **kwargs):
        super().__init__(*args, **kwargs)
        others = Committee.objects.filter(active=True)
        self.fields["reports_to"].queryset = others.exclude(pk=committee.pk) if committee else others


class MemberForm(forms.Form):
    user = PersonField(queryset=User.objects.none(), label="Person", empty_label=None)
    role = forms.ChoiceField(choices=MemberRole.choices)
    started_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Term starts")
    ended_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Term ends", required=False)

    def __init__(self, *args, committee, **kwargs):
        super().__init__(*args, **kwargs)
        # Anyone of the organisation may sit on a committee: found by searching, as every people
        # picker (a hospital's thousands of staff are never a select's options).
        self.fields["user"].queryset = User.objects.filter(
            is_active=True, role_grants__organisation_id=committee.organisation_id,
        ).distinct().order_by("last_name", "first_name", "username")
        self.fields["user"].widget.search_url = reverse("governance:member_people", args=[committee.pk])


class StandingItemForm(forms.Form):
    title = forms.CharField(max_length=200, label="Standing item")


@requires("governance.view_own_committees")
def my_committees(request):
    return render(request, "governance/committees_mine.html",
                  {"memberships": services.my_committees(request.user)})


@requires("governance.use_committees")
def committee_list(request):
    return render(request, "governance/committees.html", {
        "committees": services.visible_committees(request.user),
        "may_manage": permissions.can(request.user, "governance.manage_committees")})


def _page(request, committee, member_form=None, item_form=None, status=200):
    user = request.user
    may_manage = permissions.can(user, "governance.manage_committees", committee.organisation)
    return render(request, "governance/committee.html", {
        "committee": committee, "may_manage": may_manage,
        "may_run": permissions.can(user, "governance.run_meeting", committee),
        "members": services.current_members(committee),
        "past_members": committee.memberships.filter(ended_on__isnull=False).select_related("user")
        .order_by("-ended_on")[:20],
        "reporting": committee.reporting.filter(active=True),
        "meetings": meetings.meetings_of(committee)[:24],
        "member_form": member_form or (MemberForm(committee=committee) if may_manage else None),
        "item_form": item_form or (StandingItemForm() if may_manage else None),
        "history": history.history_of(committee, limit=20) if may_manage else [],
    }, status=status)


@requires("governance.view_own_committees")
def committee(request, pk):
    return _page(request, services.access_committee(request.user, pk))


def _committee_form_page(request, form, found, status=200):
    return render(request, "governance/committee_form.html", {"form": form, "committee": found}, status=status)


@requires("governance.manage_committees")
def committee_new(request):
    organisation = next((o for o in Organisation.objects.order_by("pk")
                         if permissions.can(request.user, "governance.manage_committees", o)), None)
    if organisation is None:
        raise permissions.Refused("governance.manage_committees")
    form = CommitteeForm(request.POST or None, initial={"quorum": 3, "active": True})
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            created = services.save_committee(request.user, organisation=organisation, **data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{created.name} is created.")
            return redirect("governance:committee", pk=created.pk)
    return _committee_form_page(request, form, None, 400 if request.method == "POST" else 200)


@requires("governance.manage_committees")
def committee_edit(request, pk):
    found = services.access_committee(request.user, pk, "governance.manage_committees")
    if request.method != "POST":
        initial = {f: getattr(found, f) for f in ("name", "key", "terms_of_reference", "quorum", "meets_every",
                                                   "confidential", "active", "version")}
        return _committee_form_page(request, CommitteeForm(initial={**initial, "reports_to": found.reports_to_id},
                                                           committee=found), found)
    form = CommitteeForm(request.POST, committee=found)
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            services.save_committee(request.user, found, version=version, **data)
        except ValidationError as error:
            return _committee_form_page(request, form, found,
                                        concurrency.refused_on_page(request, form, error, found, add_errors))
        messages.success(request, f"{found.name} is saved.")
        return redirect("governance:committee", pk=pk)
    return _committee_form_page(request, form, found, 400)


@requires("governance.manage_committees")
@require_POST
def member_add(request, pk):
    found = services.access_committee(request.user, pk, "governance.manage_committees")
    form = MemberForm(request.POST, committee=found)
    if form.is_valid():
        try:
            services.add_member(request.user, found, form.cleaned_data["user"], form.cleaned_data["role"],
                                form.cleaned_data["started_on"], form.cleaned_data["ended_on"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['user']} is on the committee.")
            return redirect("governance:committee", pk=pk)
    return _page(request, found, member_form=form, status=400)


@requires("governance.manage_committees")
def member_people(request, pk):
    """The member picker's matches: the organisation's active staff."""
    found = services.access_committee(request.user, pk, "governance.manage_committees")
    return people_search(request, MemberForm(committee=found)["user"])


@requires("governance.manage_committees")
@require_POST
def member_end(request, pk):
    membership = get_object_or_404(Membership.objects.select_related("committee", "user"), pk=pk)
    permissions.check(request.user, "governance.manage_committees", membership.committee.organisation)
    try:
        services.end_membership(request.user, membership)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(request, f"{membership.user}'s term has ended.")
    return redirect("governance:committee", pk=membership.committee_id)


@requires("governance.manage_committees")
@require_POST
def standing_item_add(request, pk):
    found = services.access_committee(request.user, pk, "governance.manage_committees")
    form = StandingItemForm(request.POST)
    if form.is_valid():
        try:
            services.add_standing_item(request.user, found, form.cleaned_data["title"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            return redirect("governance:committee", pk=pk)
    return _page(request, found, item_form=form, status=400)


@requires("governance.manage_committees")
@require_POST
def standing_item_remove(request, pk):
    item = get_object_or_404(StandingItem.objects.select_related("committee"), pk=pk)
    services.remove_standing_item(request.user, item)
    return redirect("governance:committee", pk=item.committee_id)


urlpatterns = [
    path("governance/committees/mine/", my_committees, name="my_committees"),
    path("governance/committees/", committee_list, name="committees"),
    path("governance/committees/new/", committee_new, name="committee_new"),
    path("governance/committees/<int:pk>/", committee, name="committee"),
    path("governance/committees/<int:pk>/edit/", committee_edit, name="committee_edit"),
    path("governance/committees/<int:pk>/members/", member_add, name="member_add"),
    path("governance/committees/<int:pk>/members/people/", member_people, name="member_people"),
    path("governance/committees/<int:pk>/standing-items/", standing_item_add, name="standing_item_add"),
    path("governance/memberships/<int:pk>/end/", member_end, name="member_end"),
    path("governance/standing-items/<int:pk>/remove/", standing_item_remove, name="standing_item_remove"),
]
