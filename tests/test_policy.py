"""The policy's scopes: a grant over a unit covers its children and nothing else; over a
facility, that facility; over the organisation, everything in it."""

import pytest

from andon.platform import permissions, services
from andon.platform.models import Unit
from andon.platform.roles import CAPABILITIES, Role

# (role, scope of the grant) -> objects inside and outside that scope ("" is the organisation,
# "rgh" a facility, "rgh/4w" a unit).
SCOPE_CASES = {
    "unit grant covers the unit and its children only": (
        Role.UNIT_MANAGER, "rgh/medicine",
        ["rgh/medicine", "rgh/4w", "rgh/5e"],
        ["rgh/icu", "lch/2a", "lch/medicine", "rgh", ""],
    ),
    "facility grant covers its units, not the other facility": (
        Role.PATIENT_SAFETY_OFFICER, "lch",
        ["lch/2a", "lch/rehab", "lch"],
        ["rgh", "rgh/4w", ""],
    ),
    "organisation grant covers everything in it": (
        Role.CQO, "",
        ["rgh/4w", "lch/2a", "rgh", "lch", ""],
        [],
    ),
}


@pytest.mark.parametrize(("role", "scope", "inside", "outside"), SCOPE_CASES.values(), ids=SCOPE_CASES.keys())
def test_a_grant_covers_exactly_its_scope(hospital, make_user, role, scope, inside, outside):
    user = make_user(role, scope)
    capability = "platform.view_organisation"  # held by every role, so only the scope decides
    assert [where for where in inside if not permissions.can(user, capability, hospital.scope(where))] == []
    assert [where for where in outside if permissions.can(user, capability, hospital.scope(where))] == []


def test_units_where_matches_can_for_every_unit(hospital, make_user):
    user = make_user(Role.UNIT_MANAGER, "rgh/surgery")
    services.grant_role(user, Role.UNIT_MANAGER, hospital.unit("lch/2a"))
    visible = set(permissions.units_where(user, "platform.view_organisation").values_list("code", "facility__code"))
    assert visible == {("surgery", "rgh"), ("theatres", "rgh"), ("6n", "rgh"), ("2a", "lch")}
    for unit in Unit.objects.all():
        assert permissions.can(user, "platform.view_organisation", unit) == ((unit.code, unit.facility.code) in visible)


def test_organisation_grant_covers_every_unit_in_the_organisation(hospital, make_user):
    cqo = make_user(Role.CQO, "")
    assert permissions.units_where(cqo, "platform.view_organisation").count() == Unit.objects.count()


def test_a_grant_without_the_capability_gives_nothing(hospital, make_user):
    reporter = make_user(Role.STAFF_REPORTER, "")
    assert not permissions.can(reporter, "platform.view_audit")
    assert permissions.units_where(reporter, "platform.view_audit").count() == 0


def test_inactive_and_signed_out_users_may_do_nothing(hospital, make_user):
    from django.contrib.auth.models import AnonymousUser

    admin = make_user(Role.ADMINISTRATOR, "")
    admin.is_active = False
    admin.save()
    assert not any(permissions.can(admin, capability) for capability in CAPABILITIES)
    assert not any(permissions.can(AnonymousUser(), capability) for capability in CAPABILITIES)


def test_unknown_permissions_are_errors_not_silent_denials(make_user):
    user = make_user(Role.ADMINISTRATOR, "")
    with pytest.raises(KeyError):
        permissions.can(user, "platform.view_everything")
    with pytest.raises(KeyError):
        permissions.requires("platform.view_everything")


def test_moving_a_unit_moves_its_subtree_and_the_scopes_follow(hospital, make_user):
    manager = make_user(Role.UNIT_MANAGER, "rgh/critical-care")
    ward = hospital.unit("rgh/6n")
    assert not permissions.can(manager, "platform.view_organisation", ward)
    surgery = hospital.unit("rgh/surgery")
    surgery.parent = hospital.unit("rgh/critical-care")
    surgery.save()
    ward.refresh_from_db()
    assert ward.path.startswith(hospital.unit("rgh/critical-care").path)
    permissions.forget_grants(manager)
    assert permissions.can(manager, "platform.view_organisation", ward)


def test_a_unit_cannot_be_moved_under_itself_or_into_another_facility(hospital):
    from django.core.exceptions import ValidationError

    medicine = hospital.unit("rgh/medicine")
    medicine.parent = hospital.unit("rgh/4w")
    with pytest.raises(ValidationError, match="under itself"):
        medicine.save()
    other = hospital.unit("rgh/ed")
    other.parent = hospital.unit("lch/medicine")
    with pytest.raises(ValidationError, match="same facility"):
        other.save()


def test_a_grant_fills_its_wider_scope_from_the_narrowest_and_refuses_contradictions(hospital, make_user):
    from django.core.exceptions import ValidationError

    from andon.platform.models import RoleGrant

    user = make_user()
    grant = RoleGrant(user=user, role=Role.UNIT_MANAGER, unit=hospital.unit("lch/2a"))
    grant.save()
    assert (grant.facility.code, grant.organisation) == ("lch", hospital.organisation)
    wrong = RoleGrant(user=user, role=Role.UNIT_MANAGER, unit=hospital.unit("lch/rehab"), facility=hospital.facility("rgh"))
    with pytest.raises(ValidationError, match="must belong to the grant's facility"):
        wrong.save()
    with pytest.raises(ValidationError, match="Choose the scope"):
        RoleGrant(user=user, role=Role.CQO).save()


def test_role_grants_are_made_in_the_admin_site_by_unit_alone(hospital, make_user, sign_in_with_mfa):
    from django.urls import reverse

    admin = make_user(Role.ADMINISTRATOR, "", is_admin_site_staff=True)
    client = sign_in_with_mfa(admin)
    person = make_user(username="nurse.new", first_name="New", last_name="Nurse")
    url = reverse("admin:platform_user_change", args=[person.pk])
    form = client.get(url).context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None and key not in ("groups", "user_permissions", "password", "last_login", "date_joined")}
    data.update({
        "date_joined_0": "2026-11-01", "date_joined_1": "08:00:00",
        "role_grants-TOTAL_FORMS": "1", "role_grants-INITIAL_FORMS": "0",
        "role_grants-MIN_NUM_FORMS": "0", "role_grants-MAX_NUM_FORMS": "1000",
        "role_grants-0-role": Role.STAFF_REPORTER, "role_grants-0-unit": hospital.unit("rgh/icu").pk,
        "role_grants-0-granted_at_0": "2026-11-01", "role_grants-0-granted_at_1": "08:00:00",
    })
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    grant = person.role_grants.get()
    assert (grant.role, grant.unit.code, grant.facility.code) == (Role.STAFF_REPORTER, "icu", "rgh")


# --- people_who: the reverse of can, for role grants ---------------------------------------------

def _another_organisation():
    from andon.platform.models import Facility, Organisation

    other = Organisation.objects.create(name="Elsewhere Health")
    clinic = Facility.objects.create(organisation=other, name="Elsewhere Clinic", code="ec")
    return other, clinic, Unit.objects.create(facility=clinic, name="Ward X", code="x", kind="ward")


def test_people_who_hold_a_capability_over_an_object_are_those_can_lets_in(hospital, make_user):
    from types import SimpleNamespace

    other, clinic, ward_x = _another_organisation()
    people = [
        make_user(Role.PATIENT_SAFETY_OFFICER, ""), make_user(Role.PATIENT_SAFETY_OFFICER, "lch"),
        make_user(Role.PATIENT_SAFETY_OFFICER, "rgh/medicine"), make_user(Role.PATIENT_SAFETY_OFFICER, "rgh/4w"),
        make_user(Role.UNIT_MANAGER, "rgh/medicine"), make_user(Role.UNIT_MANAGER, "rgh"),
        make_user(Role.CMO, ""), make_user(Role.MEDICAL_STAFF_OFFICE, "rgh/icu"), make_user(Role.CQO, "lch/2a"),
        make_user((Role.STAFF_REPORTER, "rgh/4w"), (Role.PATIENT_SAFETY_OFFICER, "lch/2a")), make_user(),
    ]
    people.append(make_user(Role.PATIENT_SAFETY_OFFICER, ""))
    people[-1].is_active = False
    people[-1].save()
    far = make_user()
    services.grant_role(far, Role.PATIENT_SAFETY_OFFICER, other)
    people.append(far)
    objects = [None, hospital.organisation, other, hospital.facility("rgh"), hospital.facility("lch"), clinic, ward_x,
               *(hospital.unit(path) for path in ("rgh/medicine", "rgh/4w", "rgh/icu", "lch/2a", "lch/rehab")),
               SimpleNamespace(unit=hospital.unit("rgh/5e"))]  # a record in a unit, as an event is
    capabilities = ["safety.triage", "safety.view_events", "safety.review_conduct_concerns",
                    "platform.view_organisation", "platform.view_audit"]
    for capability in capabilities:
        for obj in objects:
            expected = {person for person in people if permissions.can(person, capability, obj)}
            assert set(permissions.people_who(capability, obj)) == expected, (capability, obj)


def test_people_who_answers_for_capabilities_only(hospital):
    with pytest.raises(KeyError):
        permissions.people_who("safety.view_event")  # an object rule: the reporter is the caller's to add


def test_fetch_checked_returns_the_object_or_refuses_as_pages_and_the_api_do(hospital, make_user):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    ward = hospital.unit("rgh/4w")
    assert permissions.fetch_checked(manager, "platform.view_organisation", Unit, pk=ward.pk) == ward
    with pytest.raises(PermissionDenied):
        permissions.fetch_checked(manager, "platform.view_organisation", Unit, pk=hospital.unit("lch/2a").pk)
    with pytest.raises(Http404):
        permissions.fetch_checked(manager, "platform.view_organisation", Unit.objects.filter(active=True), pk=0)


# --- a missing scope is what the user may see, never everything ------------------------------------

def _codes(units):
    return set(units.values_list("facility__code", "code"))


def test_no_scope_asked_is_the_users_units_and_a_scope_outside_the_grant_is_refused(hospital, make_user):
    from django.core.exceptions import PermissionDenied

    capability = "measures.view_patients"
    analyst = make_user(Role.QUALITY_ANALYST, "lch")
    lakeside = {(u.facility.code, u.code) for u in Unit.objects.filter(facility__code="lch")}
    # None is not "anywhere": only a grant over the whole organisation covers everything.
    assert permissions.can(analyst, capability)  # without an object: held somewhere (a page's door)
    assert not permissions.can(analyst, capability, None)
    with pytest.raises(PermissionDenied):
        permissions.check(analyst, capability, None)
    assert permissions.can(make_user(Role.CQO, ""), capability, None)

    left_out = permissions.scope_for(analyst, capability)
    assert _codes(left_out.units) == lakeside and left_out.unit is None and not left_out.everything
    assert sorted(left_out.unit_keys()) == sorted(str(u.pk) for u in Unit.objects.filter(facility__code="lch"))
    narrowed = permissions.scope_for(analyst, capability, unit=hospital.unit("lch/medicine"))
    assert _codes(narrowed.units) == {("lch", "medicine"), ("lch", "2a"), ("lch", "rehab")}
    assert _codes(permissions.scope_for(analyst, capability, facility=hospital.facility("lch")).units) == lakeside
    for outside in ({"unit": hospital.unit("rgh/4w")}, {"facility": hospital.facility("rgh")}):
        with pytest.raises(PermissionDenied):
            permissions.scope_for(analyst, capability, **outside)
    with pytest.raises(PermissionDenied):  # the capability nowhere: refused, not an empty scope
        permissions.scope_for(make_user(Role.UNIT_MANAGER, "lch"), capability)

    ward_manager = make_user(Role.UNIT_MANAGER, "lch/2a")  # a unit grant narrows a facility to its units
    assert _codes(permissions.scope_for(ward_manager, "measures.view", facility=hospital.facility("lch")).units) == {
        ("lch", "2a")}
    everything = permissions.scope_for(make_user(Role.CQO, ""), capability)
    assert everything.everything and everything.unit_keys() is None  # records in no unit included
    assert _codes(everything.units) == _codes(Unit.objects.all())


def test_the_grants_read_at_once_are_those_the_orm_reads_with_their_scopes_and_two_factor_marks(
        hospital, make_user, django_assert_num_queries):
    from andon.platform.models import RoleSetting

    RoleSetting.objects.update_or_create(role=Role.QUALITY_ANALYST, defaults={"mfa_required": True})  # not by default
    RoleSetting.objects.update_or_create(role=Role.CQO, defaults={"mfa_required": False})  # by default (roles.py)
    RoleSetting.objects.filter(role=Role.PATIENT_SAFETY_OFFICER).delete()  # by default, without a setting
    person = make_user((Role.UNIT_MANAGER, "rgh/medicine"), (Role.QUALITY_ANALYST, "lch"), (Role.CQO, ""),
                       (Role.PATIENT_SAFETY_OFFICER, ""), enrol_mfa=False)
    other = make_user((Role.CMO, "rgh"), enrol_mfa=False)
    with django_assert_num_queries(1):
        grants = permissions.active_grants(person)
        scopes = [(g.role, g.unit and g.unit.path, g.facility and g.facility.code, g.organisation.name, g.mfa_marked)
                  for g in grants]
    expected = [(g.role, g.unit and g.unit.path, g.facility and g.facility.code, g.organisation.name, g.mfa_marked)
                for g in permissions._grants_of([person])]
    assert scopes == expected
    assert [(role, marked) for role, *_, marked in scopes] == [
        (Role.CQO, False), (Role.PATIENT_SAFETY_OFFICER, True), (Role.QUALITY_ANALYST, True), (Role.UNIT_MANAGER, False)]
    assert scopes[3][1] == hospital.unit("rgh/medicine").path and scopes[2][2] == "lch"
    assert [g.pk for g in grants] == [g.pk for g in person.role_grants.order_by("role")]
    assert all(g._state.db == "default" and not g._state.adding for g in grants)
    # Another person's grants come from the same compiled query with their own id.
    assert [(g.role, g.facility.code) for g in permissions.active_grants(other)] == [(Role.CMO, "rgh")]
    assert grants[3].covers(hospital.unit("rgh/4w")) and not grants[3].covers(hospital.unit("rgh/icu"))


def test_a_precompiled_query_runs_with_each_value_and_refuses_one_without_its_marker(hospital, make_user):
    from andon.platform.models import User
    from andon.platform.precompiled import Precompiled

    first, second = make_user(Role.CQO), make_user(Role.CMO)
    names = Precompiled(User, lambda person: User.objects.filter(pk=person).values_list("username", "is_active"))
    assert names.rows(first.pk) == [(first.username, True)] and names.rows(second.pk) == [(second.username, True)]
    assert names.rows(-1) == []
    unmarked = Precompiled(User, lambda person: User.objects.filter(pk=1).values_list("username"))
    with pytest.raises(ValueError, match="does not use its marker"):
        unmarked.rows(first.pk)


def test_the_signed_in_user_is_read_with_their_two_factor_fact_by_key_or_its_text(hospital, make_user):
    from andon.platform import security

    person = make_user(Role.CQO)  # enrolled in two-factor (the role requires it)
    plain = make_user(Role.STAFF_REPORTER, enrol_mfa=False)
    for key in (person.pk, str(person.pk)):
        found = security.signed_in_user(key)
        assert found.pk == person.pk and found.username == person.username and security.mfa_enabled(found)
    assert not security.mfa_enabled(security.signed_in_user(plain.pk))
    assert security.signed_in_user(plain.pk + 10_000) is None
