"""Every form field of every page has a label (issue 15, friction 17).

The permission matrix checks the labels of every page that answers GET, as each role that may use
it sees it (roles see different forms), with the records its row sets up
(`test_permission_matrix.test_page_matrix`). Here: the forms that show only in a later state of
their record (a done action's effectiveness check, an event in triage, an RCA under way), and the
sign-in and account pages. An input, select or textarea that a person fills in must be named by
a <label for>, a wrapping <label>, aria-label or aria-labelledby (pointing at an element that
exists).
"""

import pytest
from django.db import transaction
from django.urls import reverse

from andon.platform.roles import Role
from tests.form_fields import Fields, unlabelled_fields
from tests.test_permission_matrix import (  # noqa: F401  (fixtures of the matrix's world)
    Case, hospital, others_done_action, others_report_in_triage, others_report_under_rca, safety_taxonomy, world,
)

# Forms that show only in a later state of their record.
LATER_STATES = {
    "actions:detail (done)": ("actions:detail", Case(frozenset({Role.CQO, Role.PATIENT_SAFETY_OFFICER}),
                                                     setup=others_done_action)),
    "safety:event (in triage)": ("safety:event", Case(frozenset({Role.PATIENT_SAFETY_OFFICER, Role.CQO}),
                                                      setup=others_report_in_triage)),
    "safety:event (under RCA)": ("safety:event", Case(frozenset({Role.CQO, Role.CMO}), setup=others_report_under_rca)),
}


@pytest.mark.parametrize("label", list(LATER_STATES))
def test_every_form_field_of_a_later_state_has_a_label(client, world, db, label, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    name, case = LATER_STATES[label]
    missing = {}
    for role in sorted(case.allowed, key=lambda r: r.value):
        with transaction.atomic():  # each role's records are its own (setups make named people)
            user = world.people[role]
            args, data = case.setup(user, world.other)
            world.sign_in(client, user)
            response = client.get(reverse(name, args=args), data)
            assert response.status_code == 200, f"{label} as {role.value}: {response.status_code}"
            found = unlabelled_fields(response.content.decode())
            transaction.set_rollback(True)
        if found:
            missing[role.label] = found
    assert missing == {}, f"{label}: fields without a label"


@pytest.mark.parametrize("name", ["account_login", "account_reset_password"])
def test_the_sign_in_pages_label_every_field(client, db, name):
    fields = Fields()
    fields.feed(client.get(reverse(name)).content.decode())
    assert fields.fields and fields.unlabelled() == []


@pytest.mark.parametrize("name", ["account_set_password", "platform:tokens"])
def test_the_account_pages_label_every_field(client, world, db, name):
    user = world.people[Role.QUALITY_ANALYST]
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    fields = Fields()
    fields.feed(response.content.decode())
    assert fields.fields and fields.unlabelled() == []
