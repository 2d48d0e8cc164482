"""Every form field of every page has a label (issue 15, friction 17).

Each page of the permission matrix that answers GET is rendered for every role that may use
it (roles see different forms), with the records its matrix row sets up, plus the pages whose
forms show only in a later state (a done action's effectiveness check, an event in triage, an
RCA under way). An input, select or textarea that a person fills in must be named by a
<label for>, a wrapping <label>, aria-label or aria-labelledby (pointing at an element that
exists).
"""

from collections import Counter
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.urls import reverse

from andon.platform.roles import Role
from tests.test_permission_matrix import (  # noqa: F401  (fixtures of the matrix's world)
    OBJECT_CASES, PAGES, PUBLIC, Case, hospital, others_done_action, others_report_in_triage,
    others_report_under_rca, safety_taxonomy, world,
)

UNLABELLED_TYPES = {"hidden", "submit", "button", "image", "reset"}
# Pages that are not HTML forms (downloads, drawings, fragments that a labelled page loads).
NOT_PAGES = {"platform:job_download", "safety:export_csv", "safety:fishbone_svg", "safety:pareto_svg",
             "measures:chart_svg", "measures:report_json", "measures:results_csv", "health", "favicon"}
# Forms that show only in a later state of their record.
LATER_STATES = {
    "actions:detail (done)": ("actions:detail", Case(frozenset({Role.CQO, Role.PATIENT_SAFETY_OFFICER}),
                                                     setup=others_done_action)),
    "safety:event (in triage)": ("safety:event", Case(frozenset({Role.PATIENT_SAFETY_OFFICER, Role.CQO}),
                                                      setup=others_report_in_triage)),
    "safety:event (under RCA)": ("safety:event", Case(frozenset({Role.CQO, Role.CMO}), setup=others_report_under_rca)),
}


class Fields(HTMLParser):
    """The fields of a page, the ids that labels point at, and every element id (an id used twice
    names only its first element: a label for it leaves the second field without one)."""

    def __init__(self):
        super().__init__()
        self.fields, self.label_for, self.ids, self.open_labels = [], set(), Counter(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids[attrs["id"]] += 1
        if tag == "label":
            self.open_labels += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in ("input", "select", "textarea") and (attrs.get("type") or "").lower() not in UNLABELLED_TYPES:
            self.fields.append((tag, attrs, self.open_labels > 0))

    def handle_endtag(self, tag):
        if tag == "label" and self.open_labels:
            self.open_labels -= 1

    def unlabelled(self) -> list[str]:
        missing = []
        for tag, attrs, wrapped in self.fields:
            by_label = attrs.get("id") in self.label_for and self.ids[attrs["id"]] == 1
            named = (wrapped or by_label or (attrs.get("aria-label") or "").strip()
                     or any(part in self.ids for part in (attrs.get("aria-labelledby") or "").split()))
            if not named:
                missing.append(f"<{tag} name={attrs.get('name')!r} id={attrs.get('id')!r}>")
        return missing


def _cases():
    cases = [(name, name, case) for name, case in PAGES.items()]
    cases += [(label, name, case) for label, (name, case) in {**OBJECT_CASES, **LATER_STATES}.items()]
    return [(label, name, case) for label, name, case in cases
            if case.method == "get" and case.allowed is not PUBLIC and name not in NOT_PAGES]


@pytest.mark.parametrize(("label", "name", "case"), _cases(), ids=[c[0] for c in _cases()])
def test_every_form_field_has_a_label(client, world, db, label, name, case, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    missing = {}
    for role in sorted(case.allowed, key=lambda r: r.value):
        with transaction.atomic():  # each role's records are its own (setups make named people)
            found = _unlabelled(client, world, name, case, role)
            transaction.set_rollback(True)
        if found:
            missing[role.label] = found
    assert missing == {}, f"{label}: fields without a label"


def _unlabelled(client, world, name, case, role):
    """The unlabelled fields of the page as `role` sees it."""
    user = world.people[role]
    args, data = case.setup(user, world.other) if case.setup else ([], dict(case.data))
    client.force_login(user)
    session = client.session  # the officers' and leaders' roles need a two-factor sign-in
    session["account_authentication_methods"] = [{"method": "mfa", "type": "totp", "at": 0}]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    response = client.get(reverse(name, args=args), data)
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return []
    fields = Fields()
    fields.feed(response.content.decode())
    return fields.unlabelled()


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
