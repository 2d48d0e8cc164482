"""The people picker (platform.forms.PersonField, PeopleField, PeoplePicker, people_search): a form
field that offers a search instead of a list of every member of staff, posts user ids as a
<select> did, and accepts only the people of its queryset."""

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from andon.platform.forms import PeopleField, PersonField, people_search
from andon.platform.models import User
from andon.platform.roles import Role
from andon.platform.services import people_matching

SEARCH = "/people-search/"


class OwnerForm(forms.Form):
    owner = PersonField(queryset=None)
    reviewer = PersonField(queryset=None, required=False, empty_label="Anyone", others=[("none", "Nobody")])
    approvers = PeopleField(queryset=None, required=False)

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.queryset = people
            field.widget.search_url = SEARCH


@pytest.fixture
def staff(make_user):
    return {
        "dev": make_user(Role.STAFF_REPORTER, "rgh/pharmacy", first_name="Dev", last_name="Patel",
                         job_title="Pharmacist"),
        "fatima": make_user(Role.UNIT_MANAGER, "rgh/medicine", first_name="Fatima", last_name="Hassan"),
        "ana": make_user(Role.STAFF_REPORTER, "rgh/4w", first_name="Ana", last_name="Alvarez"),
    }


def _eligible(staff):
    """Whom the test form offers: Dev and Fatima (not Ana)."""
    return User.objects.filter(pk__in=[staff["dev"].pk, staff["fatima"].pk])


def test_the_page_holds_the_chosen_person_checked_and_a_search_not_the_staff(staff):
    html = OwnerForm(initial={"owner": staff["dev"]}, people=_eligible(staff)).as_p()
    assert f'name="owner" id="id_owner-chosen-{staff["dev"].pk}" value="{staff["dev"].pk}" checked' in html
    assert "Dev Patel" in html and "Pharmacist" in html
    assert "Fatima" not in html and "<option" not in html
    # The search box (which the label names) asks for matches; it belongs to no form, so its words
    # are not posted with the page's form (a filter form has its own "q").
    assert '<input type="search" name="q" form="id_owner-no-form"' in html
    assert f'hx-get="{SEARCH}" hx-trigger="input changed delay:250ms, search"' in html
    # The optional field offers its empty label and its other choices, the empty one checked.
    assert 'name="reviewer" id="id_reviewer-other-1" value="" checked' in html
    assert 'name="reviewer" id="id_reviewer-other-2" value="none">' in html


def test_the_posted_ids_are_cleaned_to_people_and_a_person_not_offered_is_refused(staff):
    people = _eligible(staff)
    form = OwnerForm({"owner": staff["fatima"].pk, "reviewer": "none",
                      "approvers": [staff["dev"].pk, staff["fatima"].pk]}, people=people)
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["owner"], form.cleaned_data["reviewer"]) == (staff["fatima"], "none")
    assert set(form.cleaned_data["approvers"]) == {staff["dev"], staff["fatima"]}
    assert OwnerForm({"owner": staff["dev"].pk, "reviewer": ""}, people=people).is_valid()

    forged = OwnerForm({"owner": staff["ana"].pk, "approvers": [staff["ana"].pk]}, people=people)
    assert not forged.is_valid()
    assert forged.errors["owner"] == ["Select a valid choice. That choice is not one of the available choices."]
    assert forged.errors["approvers"] == [f"Select a valid choice. {staff['ana'].pk} is not one of the available "
                                          "choices."]
    assert "Ana" not in forged.as_p()  # shown as chosen only if the field accepts them
    for junk in ("abc", "99999999999999999999", ""):
        assert "owner" in OwnerForm({"owner": junk}, people=people).errors


def test_several_people_are_checkboxes_and_all_stay_chosen(staff):
    html = OwnerForm({"owner": staff["dev"].pk, "approvers": [staff["dev"].pk, staff["fatima"].pk]},
                     people=_eligible(staff))["approvers"].as_widget()
    for person in (staff["dev"], staff["fatima"]):
        assert (f'type="checkbox" name="approvers" id="id_approvers-chosen-{person.pk}" value="{person.pk}" '
                "checked") in html


def test_a_search_that_depends_on_another_field_sends_that_field_too(staff):
    form = OwnerForm(prefix="new", people=_eligible(staff))
    assert 'hx-params="q" hx-include="this"' in form["owner"].as_widget()  # the words alone
    form.fields["owner"].widget.search_with = (form.add_prefix("place"),)
    html = form["owner"].as_widget()
    # The form around the box, of which only the words and the place are sent.
    assert 'hx-params="q,new-place" hx-include="closest form"' in html
    assert 'hx-params="q" hx-include="this"' in form["reviewer"].as_widget()  # one field's, not the others'


def test_a_picker_without_its_search_is_an_error_of_the_form(staff):
    form = OwnerForm(people=_eligible(staff))
    form.fields["owner"].widget.search_url = ""
    with pytest.raises(ImproperlyConfigured, match="'owner' has no search_url"):
        form["owner"].as_widget()


def test_matching_takes_every_word_from_name_job_role_or_unit_among_the_people_offered(staff, make_user):
    everyone = User.objects.filter(is_active=True)

    def names(query, people=everyone):
        return [match["name"] for match in people_matching(people, query)]

    assert names("patel") == ["Dev Patel"]
    assert names("pharmacy reporter") == ["Dev Patel"]  # the unit and the role's words
    assert names("unit manager medicine") == ["Fatima Hassan"]
    assert names("pharmacist") == ["Dev Patel"]
    assert names("ana", User.objects.filter(pk=staff["dev"].pk)) == []  # only the people offered
    assert names("patel hassan") == []
    [dev] = people_matching(everyone, "Dev")
    assert dev["roles"] == "Staff reporter, Pharmacy"
    gone = make_user(Role.STAFF_REPORTER, "rgh/4w", first_name="Gus", last_name="Patel")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    assert names("patel") == ["Dev Patel"]  # someone no longer active is not offered


def test_the_search_answers_with_the_fields_own_name_and_people(staff):
    request = RequestFactory().get(SEARCH, {"q": " patel  "})
    request.user = staff["dev"]
    form = OwnerForm(prefix="assign", people=_eligible(staff))
    html = people_search(request, form["approvers"]).content.decode()
    assert (f'type="checkbox" name="assign-approvers" id="id_assign-approvers-match-{staff["dev"].pk}" '
            f'value="{staff["dev"].pk}">') in html
    request = RequestFactory().get(SEARCH, {"q": "Alvarez"})
    request.user = staff["dev"]
    assert "No one matches “Alvarez”." in people_search(request, form["owner"]).content.decode()
