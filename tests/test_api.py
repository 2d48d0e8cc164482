"""The REST API: personal access tokens (stored hashed), OpenAPI document and docs page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from andon.platform import services
from andon.platform.models import AccessToken, hash_token
from andon.platform.roles import Role


def _bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def test_token_is_shown_once_and_only_its_hash_is_stored(client, make_user):
    analyst = make_user(Role.QUALITY_ANALYST, "")
    client.force_login(analyst)
    response = client.post(reverse("platform:tokens"), {"name": "Nightly EHR export", "expires_in_days": 90})
    raw = response.context["new_token"]
    assert raw.startswith("andon_") and len(raw) > 40
    token = AccessToken.objects.get(user=analyst)
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash
    assert token.hint == raw[:10]
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    assert raw not in client.get(reverse("platform:tokens")).content.decode()  # never shown again


def test_a_token_authenticates_as_its_owner(client, make_user):
    analyst = make_user(Role.QUALITY_ANALYST, "rgh", username="analyst.kai")
    _, raw = services.issue_token(analyst, "feed")
    response = client.get("/api/v1/me", headers=_bearer(raw))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "analyst.kai"
    assert body["grants"] == [{
        "role": "quality_analyst", "role_label": "Quality analyst", "scope": "Riverside General Hospital",
        "organisation_id": analyst.role_grants.get().organisation_id,
        "facility_id": analyst.role_grants.get().facility_id, "unit_id": None,
    }]
    assert AccessToken.objects.get(user=analyst).last_used_at is not None


def test_a_tokens_time_of_use_is_written_at_most_once_a_minute(client, make_user):
    from datetime import timedelta

    analyst = make_user(Role.QUALITY_ANALYST, "")
    token, raw = services.issue_token(analyst, "feed")
    client.get("/api/v1/me", headers=_bearer(raw))
    first = AccessToken.objects.get(pk=token.pk).last_used_at
    client.get("/api/v1/me", headers=_bearer(raw))
    assert AccessToken.objects.get(pk=token.pk).last_used_at == first  # the same minute: no write
    AccessToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(seconds=61))
    client.get("/api/v1/me", headers=_bearer(raw))
    assert AccessToken.objects.get(pk=token.pk).last_used_at > first


def test_revoked_expired_and_forged_tokens_are_refused(client, make_user):
    analyst = make_user(Role.QUALITY_ANALYST, "")
    token, raw = services.issue_token(analyst, "feed")
    assert client.get("/api/v1/me", headers=_bearer(raw + "x")).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer("not-a-token")).status_code == 401
    services.revoke_token(analyst, token)
    assert client.get("/api/v1/me", headers=_bearer(raw)).status_code == 401
    expiring, raw2 = services.issue_token(analyst, "short", timezone.now() + timedelta(days=1))
    assert client.get("/api/v1/me", headers=_bearer(raw2)).status_code == 200
    AccessToken.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me", headers=_bearer(raw2)).status_code == 401


def test_tokens_of_deactivated_people_stop_working(client, make_user):
    analyst = make_user(Role.QUALITY_ANALYST, "")
    _, raw = services.issue_token(analyst, "feed")
    analyst.is_active = False
    analyst.save()
    assert client.get("/api/v1/me", headers=_bearer(raw)).status_code == 401


def test_a_token_can_be_revoked_only_by_its_owner(client, make_user):
    owner, other = make_user(Role.QUALITY_ANALYST, ""), make_user(Role.QUALITY_ANALYST, "")
    token, raw = services.issue_token(owner, "feed")
    client.force_login(other)
    assert client.post(reverse("platform:token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_units_are_listed_with_pagination(client, hospital, make_user):
    reporter = make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(reporter)
    body = client.get("/api/v1/units", {"limit": 5}).json()
    assert body["count"] == 18 and len(body["items"]) == 5  # 13 units at rgh, 5 at lch
    names = {item["name"] for item in client.get("/api/v1/units", {"limit": 100}).json()["items"]}
    assert {"4 West Medical", "Intensive Care Unit", "2A Medical", "Day Surgery Unit"} <= names


def test_audit_entries_through_the_api(client, hospital, make_user):
    admin = make_user(Role.ADMINISTRATOR, "")
    _, raw = AccessToken.issue(admin, "audit reader")
    body = client.get("/api/v1/audit", {"model": "platform.unit", "limit": 100}, headers=_bearer(raw)).json()
    assert body["count"] == 18
    assert {item["action"] for item in body["items"]} == {"create"}
    assert {item["record_type"] for item in body["items"]} == {"platform.unit"}


def test_openapi_document_lists_the_endpoints_and_the_docs_page_needs_sign_in(client, make_user):
    """Decided (issue 14, item 15): the document and the docs page are for signed-in people, as
    docs/platform.md says; no method and no made-up token reads them anonymously."""
    docs = reverse("api-v1:openapi-view")
    for method in (client.get, client.head, client.options, client.post):
        for url in ("/api/v1/openapi.json", docs):
            response = method(url, HTTP_AUTHORIZATION="Bearer andon_made-up")
            assert response.status_code == 302 and response["Location"].startswith(reverse("account_login")), url
            assert b"paths" not in response.content
    client.force_login(make_user(Role.QUALITY_ANALYST, ""))
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "Andon API"
    assert "/api/v1/me" in schema["paths"] and "/api/v1/audit/exports" in schema["paths"]
    page = client.get(docs)
    assert page.status_code == 200 and b"swagger-ui" in page.content
    assert b"cdn." not in page.content  # assets served locally


def test_session_calls_from_pages_need_csrf_for_writes(make_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(Role.ADMINISTRATOR, ""))
    response = client.post("/api/v1/audit/exports", {}, content_type="application/json")
    assert response.status_code == 403


def test_schema_names_are_unique_across_the_api_modules():
    """OpenAPI names a schema by its class name: two modules' `CountOut` would share one
    component, and one module's responses would be checked against the other's."""
    import inspect
    import sys
    from collections import Counter

    import pydantic

    from andon.api.api import api

    modules = {sys.modules[operation.view_func.__module__] for _prefix, router in api._routers
               for path_view in router.path_operations.values() for operation in path_view.operations}
    names = Counter(name for module in modules for name, value in vars(module).items()
                    if inspect.isclass(value) and issubclass(value, pydantic.BaseModel)
                    and value.__module__ == module.__name__ and name.endswith(("Out", "In")))
    assert [name for name, count in names.items() if count > 1] == []


HUGE = 2**70  # beyond the database's 64-bit keys: SQLite cannot even bind it


@pytest.mark.parametrize(("method", "url", "body"), [
    ("get", f"/api/v1/safety/events?unit_id={HUGE}", None),
    ("get", f"/api/v1/safety/events/{HUGE}", None),
    ("get", f"/api/v1/safety/events/{HUGE}/investigation", None),
    ("get", f"/api/v1/actions/{HUGE}", None),
    ("get", f"/api/v1/jobs/{HUGE}", None),
    ("post", "/api/v1/safety/events", {"kind": "near_miss", "category": "other", "unit_id": HUGE,
                                       "occurred_at": "2026-01-05T10:00:00Z", "narrative": "Spill."}),
])
def test_an_id_beyond_the_database_keys_is_refused_as_bad_input(client, make_user, safety_taxonomy, method, url, body):
    """Found by schemathesis (a unit id of 21 digits gave a server error): every id the API takes
    is bounded, so it is a 422 naming the field, never a query that fails."""
    everyone = make_user(*[(role, "") for role in Role])
    _, raw = services.issue_token(everyone, "ids")
    if method == "get":
        response = client.get(url, headers=_bearer(raw))
    else:
        response = client.post(url, body, content_type="application/json", headers=_bearer(raw))
    assert response.status_code == 422, response.content[:300]
    assert "less than or equal to 9223372036854775807" in response.content.decode()
