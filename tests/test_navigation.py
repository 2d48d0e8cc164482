"""Every role reaches its work from its menu (issue 15, friction 15), and a refused page says
what was refused, why and whom to ask.

For each role, a person holding it over the whole organisation signs in; the test reads the
menu, opens every page it links, and checks that each page the role may use (the permission
matrix's pages without an object) is in the menu itself when it is where that work starts, or
one click from a page of the menu otherwise.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from andon.platform import content
from andon.platform.roles import Role
from tests.test_permission_matrix import PAGES, PUBLIC

CONTENT = Path(__file__).resolve().parent.parent / "content"

# Where each kind of work starts: these must be in the menu itself, for every role that may use them.
IN_THE_MENU = {
    "home", "safety:report", "safety:triage_queue", "safety:event_list", "safety:analysis",
    "safety:feedback_stats", "safety:conduct_concerns", "actions:list", "measures:dashboard", "platform:audit",
    "platform:tokens", "platform:jobs", "platform:organisation",
}
# Pages of the matrix that are no one's starting point: parts of another page (htmx fragments,
# downloads of a page's data) or pages reached from a message (the anonymous receipt).
NOT_STARTING_POINTS = {"safety:category_fields", "health", "favicon", "safety:receipt"}
# Administrators manage people, their role grants and the roles' settings on the admin site.
ADMIN_PAGES = ["admin:platform_user_changelist", "admin:platform_rolesetting_changelist"]


def starting_points(role):
    names = [name for name, case in PAGES.items()
             if case.method == "get" and case.setup is None and case.allowed is not PUBLIC
             and role in case.allowed and name not in NOT_STARTING_POINTS]
    return names + (ADMIN_PAGES if role == Role.ADMINISTRATOR else [])


def links(html: str) -> set[str]:
    return {urlsplit(href).path for href in re.findall(r'href="([^"#]+)', html)}


def menu_links(html: str) -> set[str]:
    menu = html[html.index('<nav class="navbar'):html.index("</nav>")]
    return links(menu)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reaches_its_work_from_its_menu(client, hospital, make_user, safety_taxonomy,
                                                   sign_in_with_mfa, role):
    content.load_content([CONTENT / "measures"])
    person = make_user(role, "", is_admin_site_staff=role == Role.ADMINISTRATOR)
    sign_in_with_mfa(person)
    menu = menu_links(client.get(reverse("home")).content.decode())
    one_click = set(menu)
    for path in sorted(menu):
        if path.startswith(("/accounts/", "/api/")):
            continue
        response = client.get(path)
        assert response.status_code == 200, f"{role.label}: the menu links {path}, which answers {response.status_code}"
        one_click |= links(response.content.decode())
    missing_from_menu, unreachable = [], []
    for name in starting_points(role):
        path = reverse(name)
        if name in IN_THE_MENU or name.startswith("admin:"):
            if path not in menu:
                missing_from_menu.append(name)
        elif path not in one_click:
            unreachable.append(name)
    assert (missing_from_menu, unreachable) == ([], []), role.label


def test_the_risk_manager_is_told_why_an_event_is_not_open_to_them(client, hospital, make_user, safety_taxonomy):
    """A documented choice (docs/safety.md): events are patient safety work product; the risk
    manager sees them in aggregate. The refusal keeps its 403 and says why and whom to ask."""
    from andon.safety import services as safety

    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    event, _ = safety.submit_report(nurse, safety.Report(
        kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=2), narrative="Spill on the corridor floor."))
    client.force_login(make_user(Role.RISK_MANAGER, ""))
    response = client.get(reverse("safety:event", args=[event.pk]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "You do not have access to this page" in page and "it shows safety events one by one" in page
    assert "Risk managers, analysts, auditors and the board see events in aggregate on the Analysis page" in page
    assert "ask the patient safety officer of its unit" in page
    assert "Your roles: Risk manager." in page


def test_every_refused_page_says_what_and_whom_to_ask(client, hospital, make_user):
    client.force_login(make_user(Role.STAFF_REPORTER, "rgh/4w"))
    response = client.get(reverse("platform:audit"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "it shows the audit trail" in page
    assert "The audit trail is read by administrators." in page and "Ask an administrator." in page
    # A page without a written reason names the roles it is for.
    response = client.get(reverse("measures:dashboard"))
    assert response.status_code == 403
    assert "This page is for: " in response.content.decode() and "Quality analyst" in response.content.decode()


def test_the_analysis_page_tells_the_risk_manager_events_are_in_aggregate_only(client, make_user, safety_taxonomy):
    client.force_login(make_user(Role.RISK_MANAGER, ""))
    page = client.get(reverse("safety:analysis")).content.decode()
    assert "Your role sees safety events in aggregate only." in page
    assert "ask the patient safety officer of its unit" in page
    client.force_login(make_user(Role.PATIENT_SAFETY_OFFICER, ""))
    assert "Your role sees safety events in aggregate only." not in client.get(reverse("safety:analysis")).content.decode()
