"""Sign-in security: Argon2, throttling, demo accounts, two-factor with recovery codes, session
lifetime, CSRF, secure headers and the content security policy."""

import logging
import re
import time
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client
from django.urls import reverse

from andon.platform import security, services
from andon.platform.roles import Role

PASSWORD = "correct horse battery staple 7"


def _sign_in(client, username, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": username, "password": password})


def test_passwords_are_hashed_with_argon2(make_user):
    user = make_user(Role.STAFF_REPORTER, "rgh/4w", password=PASSWORD)
    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)


def test_sign_in_with_password_reaches_home(client, make_user):
    make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse", password=PASSWORD)
    response = _sign_in(client, "nurse")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert "Staff reporter" in client.get(reverse("home")).content.decode()


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, make_user, settings):
    make_user(Role.STAFF_REPORTER, "rgh/4w", username="target", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _sign_in(client, "target", "wrong password")
        assert response.status_code in (200, 429)
    response = _sign_in(client, "target")
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_demo_accounts_sign_in_only_in_demo_mode(client, make_user, settings):
    make_user(Role.STAFF_REPORTER, "rgh/4w", username="demo.nurse", password=PASSWORD, is_demo=True)
    settings.DEMO = False
    assert _sign_in(client, "demo.nurse").status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
    settings.DEMO = True
    assert _sign_in(Client(), "demo.nurse").status_code == 302


def test_a_demo_session_stops_working_when_demo_mode_is_turned_off(client, make_user, settings):
    settings.DEMO = True
    make_user(Role.STAFF_REPORTER, "rgh/4w", username="demo.nurse", password=PASSWORD, is_demo=True)
    _sign_in(client, "demo.nurse")
    assert client.get(reverse("home")).status_code == 200
    settings.DEMO = False
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def _current_code(secret):
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_two_factor_sign_in_with_totp_then_with_a_recovery_code(make_user):
    user = make_user(Role.QUALITY_ANALYST, "", username="analyst", password=PASSWORD)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).get_unused_codes()

    client = Client()
    response = _sign_in(client, "analyst")
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("home")).status_code == 302  # not signed in yet
    response = client.post(reverse("mfa_authenticate"), {"code": "000000" if _current_code(secret) != "000000" else "111111"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": _current_code(secret)})
    assert response.status_code == 302 and client.get(reverse("home")).status_code == 200

    other = Client()
    _sign_in(other, "analyst")
    response = other.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == 302 and other.get(reverse("home")).status_code == 200
    assert codes[0] not in RecoveryCodes(Authenticator.objects.get(user=user, type="recovery_codes")).get_unused_codes()


def test_roles_marked_by_an_administrator_must_set_up_two_factor(client, make_user):
    user = make_user(Role.QUALITY_ANALYST, "")  # a role that does not need two-factor by default
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200
    services.set_mfa_required(Role.QUALITY_ANALYST, True)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    assert client.get(reverse("mfa_activate_totp")).status_code == 200  # the way out stays open
    TOTP.activate(user, generate_totp_secret())
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.CQO, Role.CMO, Role.PATIENT_SAFETY_OFFICER,
                                  Role.MEDICAL_STAFF_OFFICE])
def test_roles_that_read_across_the_organisation_need_two_factor_by_default(client, make_user, role):
    """An account holding only such a role, signed in with its password, is sent to set up
    two-factor from every page (the administrator's audit trail included) until it has."""
    user = make_user(role, "", username="reader", password=PASSWORD, enrol_mfa=False)
    _sign_in(client, "reader")
    for page in (reverse("home"), reverse("platform:audit")):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp"), page
    TOTP.activate(user, generate_totp_secret())
    assert client.get(reverse("home")).status_code == 200


def test_an_administrator_may_lift_a_roles_two_factor_default(client, make_user):
    assert Role.CQO in security.roles_requiring_mfa() and Role.QUALITY_ANALYST not in security.roles_requiring_mfa()
    make_user(Role.CQO, "", username="cqo", password=PASSWORD, enrol_mfa=False)
    services.set_mfa_required(Role.CQO, False)
    assert Role.CQO not in security.roles_requiring_mfa()
    _sign_in(client, "cqo")
    assert client.get(reverse("home")).status_code == 200
    services.set_mfa_required(Role.CQO, True)
    assert client.get(reverse("home"))["Location"] == reverse("mfa_activate_totp")


def test_a_password_holder_made_to_set_up_two_factor_confirms_the_password_first(client, make_user):
    """Adding a second factor to a session that signed in a while ago asks for the password again
    (allauth's reauthentication); the way there and back stays open under the forced set-up."""
    make_user(Role.QUALITY_ANALYST, "", username="officer", password=PASSWORD)
    services.set_mfa_required(Role.QUALITY_ANALYST, True)
    response = _sign_in(client, "officer")
    assert client.get(reverse("home"))["Location"] == reverse("mfa_activate_totp")
    session = client.session  # the sign-in, as if made an hour ago
    session["account_authentication_methods"] = [
        {**record, "at": record["at"] - 3600} for record in session["account_authentication_methods"]]
    session.save()
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))
    assert client.get(response["Location"]).status_code == 200
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("mfa_activate_totp")).status_code == 200


def test_admin_site_requires_a_two_factor_session(client, make_user, sign_in_with_mfa):
    admin = make_user(Role.ADMINISTRATOR, "", is_admin_site_staff=True, enrol_mfa=False)
    TOTP.activate(admin, generate_totp_secret())
    client.force_login(admin)  # a session without the second factor
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403 and "sign in again with your one-time code" in response.content.decode()
    anonymous = Client().get("/admin/", follow=True)
    assert anonymous.redirect_chain[-1][0].startswith(reverse("account_login"))
    other_admin = make_user(Role.ADMINISTRATOR, "", is_admin_site_staff=True)
    response = sign_in_with_mfa(other_admin).get("/admin/")
    assert response.status_code == 200 and "Andon administration" in response.content.decode()


def test_non_staff_never_reach_the_admin_site(make_user, sign_in_with_mfa):
    cqo = make_user(Role.CQO, "")
    response = sign_in_with_mfa(cqo).get("/admin/", follow=True)
    assert response.status_code == 403 and "for administrators" in response.content.decode()


def test_a_refused_page_is_logged_as_one_line_naming_the_permission(client, make_user, caplog):
    client.force_login(make_user(Role.STAFF_REPORTER, "rgh/4w"))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(reverse("platform:audit"))
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "Forbidden (Permission denied): /audit/ (refused: platform.view_audit)"
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_sessions_end_after_their_absolute_lifetime(client, make_user, settings):
    user = make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    session["andon_session_started"] = time.time() - settings.SESSION_ABSOLUTE_SECONDS - 1
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302  # signed out, not just redirected once


def _session_row(client):
    from django.contrib.sessions.models import Session

    return Session.objects.get(session_key=client.session.session_key)


def test_idle_sessions_expire(client, make_user, settings):
    """An idle session ends SESSION_COOKIE_AGE after its last save; an active one is saved again
    (its expiry moved on) once ANDON_SESSION_REFRESH_SECONDS have passed, not on every request."""
    assert settings.SESSION_COOKIE_AGE <= 3600
    assert 0 < settings.ANDON_SESSION_REFRESH_SECONDS <= settings.SESSION_COOKIE_AGE // 10
    client.force_login(make_user(Role.STAFF_REPORTER, "rgh/4w"))
    assert client.get(reverse("home")).status_code == 200
    first = _session_row(client).expire_date
    assert client.get(reverse("home")).status_code == 200
    assert _session_row(client).expire_date == first  # within the interval: no write
    session = client.session
    session["andon_session_refreshed"] = time.time() - settings.ANDON_SESSION_REFRESH_SECONDS - 1
    session.save()
    saved = _session_row(client).expire_date
    assert client.get(reverse("home")).status_code == 200
    assert _session_row(client).expire_date > saved  # an active session lives on
    # Idle beyond the age: the session has expired and the user must sign in again.
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_posts_without_a_csrf_token_are_refused(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(Role.QUALITY_ANALYST, ""))
    response = client.post(reverse("platform:tokens"), {"name": "x", "expires_in_days": 30})
    assert response.status_code == 403


def test_pages_send_secure_headers_and_a_strict_content_security_policy(client, make_user):
    client.force_login(make_user(Role.ADMINISTRATOR, ""))
    response = client.get(reverse("home"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("url_name", ["home", "platform:organisation", "platform:jobs", "platform:audit",
                                      "platform:tokens", "account_login", "mfa_index"])
def test_pages_have_no_inline_scripts_or_styles(client, make_user, url_name):
    if url_name != "account_login":
        client.force_login(make_user(Role.ADMINISTRATOR, ""))
    page = client.get(reverse(url_name)).content.decode()
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert re.search(r"<style\b", page) is None
    assert re.search(r"\sstyle=", page) is None
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handlers


def test_self_sign_up_is_closed(client, db):
    response = client.post(reverse("account_signup"), {"username": "intruder", "email": "i@example.org",
                                                       "password1": PASSWORD, "password2": PASSWORD})
    from andon.platform.models import User

    assert not User.objects.filter(username="intruder").exists()
    assert response.status_code in (200, 302)


def test_every_demo_account_signs_in_in_demo_mode(demo_hospital):
    """What `make demo` promises: each printed login works (the administrator with a code). The
    demo as its loader left it (the snapshot of this process's first load, tests/demo_snapshot.py)."""
    from andon.platform.demo import DEMO_ADMIN_TOTP_SECRET, DEMO_PASSWORD, PEOPLE

    for username, *_ in PEOPLE:
        client = Client()
        response = _sign_in(client, username, DEMO_PASSWORD)
        if response["Location"] == reverse("mfa_authenticate"):
            response = client.post(reverse("mfa_authenticate"), {"code": _current_code(DEMO_ADMIN_TOTP_SECRET)})
        assert response.status_code == 302 and response["Location"] == reverse("home"), username
        assert client.get(reverse("home")).status_code == 200, username


def test_requests_carrying_nul_characters_are_refused_not_crashed(client, make_user):
    """PostgreSQL cannot hold NUL in text: such input is a 400 saying where, before any query."""
    from andon.platform.models import AccessToken

    admin = make_user(Role.ADMINISTRATOR, "")
    _, raw = AccessToken.issue(admin, "nul")
    bearer = {"Authorization": f"Bearer {raw}"}
    response = client.get("/api/v1/audit", {"actor": "a\x00b", "action": "update"}, headers=bearer)
    assert response.status_code == 400
    assert response.json() == {"detail": "The request's query parameter 'actor' contains a NUL character, which is not accepted."}
    assert client.get("/api/v1/audit", {"actor": "ab"}, headers=bearer).status_code == 200
    response = client.post("/api/v1/audit/exports", data='{"model": "x\\u0000"}', content_type="application/json", headers=bearer)
    assert response.status_code == 400 and "body" in response.json()["detail"]
    client.force_login(admin)
    page = client.get("/", {"q": "\x00"})
    assert page.status_code == 400 and b"NUL character" in page.content
    form = client.post("/", {"note": "x\x00"})
    assert form.status_code == 400 and b"form field 'note'" in form.content
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post("/", {"note": "fine", "file": SimpleUploadedFile("a.bin", b"\x00\x01binary")})
    assert upload.status_code != 400  # a file may be binary: only the form's text fields are looked at


def test_people_sign_in_with_their_email_address_as_the_page_offers(client, make_user):
    make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.email", password=PASSWORD)
    assert _sign_in(client, "Nurse.Email@example.org", "wrong password").status_code == 200
    assert "_auth_user_id" not in client.session
    response = _sign_in(client, "nurse.email@example.org")
    assert response.status_code == 302 and client.get(reverse("home")).status_code == 200


def test_password_reset_links_are_built_on_the_configured_address(client, make_user, settings, mailoutbox):
    """Not on the Host header and port of the request that asked for the reset."""
    settings.ANDON_BASE_URL = "https://andon.riverside.example"
    make_user(Role.STAFF_REPORTER, "rgh/4w", username="forgetful", password=PASSWORD)
    response = client.post(reverse("account_reset_password"), {"email": "forgetful@example.org"},
                           HTTP_HOST="localhost:6666")
    assert response.status_code == 302 and len(mailoutbox) == 1
    message = mailoutbox[0]
    links = re.findall(r"https?://\S+", message.body)
    assert links and all(link.startswith("https://andon.riverside.example/accounts/password/reset/key/")
                         for link in links), links
    assert "6666" not in message.body and "localhost" not in message.body + message.subject
    assert client.get(links[0].removeprefix("https://andon.riverside.example")).status_code in (200, 302)
