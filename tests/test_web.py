"""The web shell: home page ("my work") per role, navigation by permission, organisation tree."""

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from andon.platform import services
from andon.platform.models import Job
from andon.platform.roles import Role


def test_home_shows_roles_and_the_persons_own_work(client, make_user):
    analyst = make_user((Role.QUALITY_ANALYST, "rgh"), (Role.STAFF_REPORTER, "rgh/4w"))
    Job.objects.create(task_name="t", title="Import of March counts", requested_by=analyst,
                       status=Job.Status.FAILED, error="Row 3: unit 'X' unknown")
    Job.objects.create(task_name="t", title="Someone else's import", requested_by=make_user(Role.QUALITY_ANALYST, ""),
                       status=Job.Status.FAILED, error="boom")
    services.issue_token(analyst, "EHR feed", timezone.now() + timedelta(days=3))
    client.force_login(analyst)
    page = client.get(reverse("home")).content.decode()
    assert "Quality analyst · Riverside General Hospital" in page
    assert "Staff reporter · 4 West Medical and its children" in page
    assert "Job failed: Import of March counts" in page and "Row 3: unit &#x27;X&#x27; unknown" in page
    assert "Someone else&#x27;s import" not in page
    assert "API token “EHR feed” expires" in page


def test_administrators_home_lists_people_missing_required_two_factor(client, make_user):
    admin = make_user(Role.ADMINISTRATOR, "")
    services.set_mfa_required(Role.PATIENT_SAFETY_OFFICER, True)
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "", first_name="Hana", last_name="Kim", enrol_mfa=False)
    make_user(Role.STAFF_REPORTER, "rgh/4w", first_name="Ana", last_name="Alvarez")
    client.force_login(admin)
    page = client.get(reverse("home")).content.decode()
    assert "Hana Kim has not set up two-factor sign-in" in page
    assert "Ana Alvarez has not set up" not in page
    assert reverse("admin:platform_user_change", args=[officer.pk]) in page


def test_navigation_follows_the_policy(client, make_user):
    client.force_login(make_user(Role.BOARD_MEMBER, ""))
    page = client.get(reverse("home")).content.decode()
    assert reverse("platform:organisation") in page
    assert reverse("platform:audit") not in page and reverse("platform:tokens") not in page
    client.force_login(make_user(Role.ADMINISTRATOR, ""))
    page = client.get(reverse("home")).content.decode()
    assert reverse("platform:audit") in page and reverse("platform:tokens") in page
    assert 'aria-current="page"' in page


def test_organisation_page_shows_the_unit_tree(client, make_user):
    client.force_login(make_user(Role.STAFF_REPORTER, "lch/2a"))
    response = client.get(reverse("platform:organisation"))
    trees = response.context["organisations"]
    assert [t["organisation"].name for t in trees] == ["Riverside Health System"]
    facilities = {f["facility"].code: f["units"] for f in trees[0]["facilities"]}
    medicine = next(node for node in facilities["rgh"] if node["unit"].code == "medicine")
    assert [child["unit"].code for child in medicine["children"]] == ["4w", "5e"]
    assert sorted(node["unit"].code for node in facilities["lch"]) == ["day-surgery", "ed", "medicine"]
    assert "Labour and Delivery" in response.content.decode()


def test_health_check_answers_without_sign_in(client, db):
    response = client.get(reverse("health"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_static_assets_are_served_locally(client, make_user):
    client.force_login(make_user(Role.STAFF_REPORTER, "rgh/4w"))
    page = client.get(reverse("home")).content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in page and "/static/vendor/htmx/htmx.min.js" in page
    # every address the page loads or links is on this server (the page's random tokens, such
    # as the CSRF token, may spell "cdn" by chance: the addresses are what must not)
    addresses = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']""", page)
    assert addresses and all(a.startswith(("/", "#", "?")) or a == "" for a in addresses), addresses
    assert not [a for a in addresses if "cdn" in a.lower()]
    assert "https://" not in page


def test_refusals_and_missing_pages_use_the_shell_and_say_what_to_do(client, make_user):
    client.force_login(make_user(Role.STAFF_REPORTER, "rgh/4w"))
    refused = client.get(reverse("platform:audit"))
    assert refused.status_code == 403 and "You do not have access to this page" in refused.content.decode()
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and "Page not found" in missing.content.decode()
