"""The permission matrix: every role against every page and API endpoint.

The expectations are written out here, apart from the code under test (andon/platform/roles.py),
so a mistake in the policy shows as a failed cell. A page or endpoint that exists but is missing
from these tables fails `test_every_page_is_in_the_matrix`: new pages join the matrix by adding
a row here.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from andon.api.api import api
from andon.platform import services
from andon.platform.exports import exports_dir
from andon.platform.models import Job
from andon.platform.roles import Role

ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMINISTRATOR})
TOKEN_HOLDERS = ALL - {Role.STAFF_REPORTER, Role.BOARD_MEMBER}
PUBLIC = None  # open to anyone, signed in or not


@dataclass
class Case:
    allowed: frozenset | None
    method: str = "get"
    # fixture(user, other) -> (args for reverse, data); `other` is a second person.
    setup: object = None
    data: dict = field(default_factory=dict)


def own_job(user, other):
    return [Job.objects.create(task_name="t", title="Own job", requested_by=user).pk], {}


def others_job(user, other):
    return [Job.objects.create(task_name="t", title="Someone else's", requested_by=other).pk], {}


def own_export(user, other):
    job = Job.objects.create(task_name="t", title="Export", requested_by=user, status=Job.Status.SUCCEEDED,
                             result={"file": f"matrix-{user.pk}.csv", "rows": 0})
    (exports_dir() / f"matrix-{user.pk}.csv").write_text("id\n")
    return [job.pk], {}


def own_token(user, other):
    from andon.platform.models import AccessToken

    token, _ = AccessToken.issue(user, "matrix")
    return [token.pk], {}


# url name -> expectation. Pages guarded against one object are listed once per kind of object.
PAGES = {
    "home": Case(ALL),
    "health": Case(PUBLIC),
    "favicon": Case(PUBLIC),
    "platform:organisation": Case(ALL),
    "platform:jobs": Case(ALL),
    "platform:job": Case(ALL, setup=own_job),
    "platform:job_download": Case(ALL, setup=own_export),
    "platform:audit": Case(ADMIN),
    "platform:audit_export": Case(ADMIN, method="post"),
    "platform:tokens": Case(TOKEN_HOLDERS),
    "platform:token_revoke": Case(TOKEN_HOLDERS, method="post", setup=own_token),
}
# The same pages against someone else's object.
OBJECT_CASES = {
    "platform:job (someone else's)": ("platform:job", Case(ADMIN, setup=others_job)),
}

# (method, path) -> allowed roles; paths as in the OpenAPI document.
API = {
    ("GET", "/api/v1/me"): ALL,
    ("GET", "/api/v1/units"): ALL,
    ("GET", "/api/v1/jobs"): ALL,
    ("GET", "/api/v1/jobs/{job_id}"): ALL,
    ("GET", "/api/v1/audit"): ADMIN,
    ("POST", "/api/v1/audit/exports"): ADMIN,
}
# Namespaces and pages owned by maintained libraries, covered by their own tests
# (test_signin.py for allauth, test_admin.py for the admin site).
LIBRARY_NAMESPACES = {"admin", "api-v1"}


def _named_patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in LIBRARY_NAMESPACES or "allauth" in str(pattern.urlconf_name):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_patterns(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}", pattern.callback


def _api_operations():
    schema = api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method in methods:
            yield method.upper(), path


def test_every_page_is_in_the_matrix_and_declares_its_permission():
    found = dict(_named_patterns())
    assert set(found) == set(PAGES), "add new pages to PAGES; remove pages that are gone"
    undeclared = [name for name, view in found.items() if not hasattr(view, "andon_permission")]
    assert undeclared == [], "every page is decorated with permissions.requires or permissions.public"


def test_every_api_operation_is_in_the_matrix_and_declares_its_permission():
    assert set(_api_operations()) == set(API)
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                assert hasattr(operation.view_func, "andon_permission"), operation.view_func


def _request(client, name, case, user, other):
    args, data = case.setup(user, other) if case.setup else ([], {})
    url = reverse(name, args=args)
    return getattr(client, case.method)(url, case.data or data)


def _assert_allowed(response, allowed: bool, label: str):
    if allowed:
        assert response.status_code in (200, 301, 302), f"{label}: expected allowed, got {response.status_code}"
        if response.status_code in (301, 302):
            assert "/accounts/login" not in response["Location"], f"{label}: sent to sign-in"
    else:
        assert response.status_code == 403, f"{label}: expected 403, got {response.status_code}"


PAGE_CELLS = [(name, case, role) for name, case in PAGES.items() for role in Role] + [
    (label, case, role) for label, (name, case) in OBJECT_CASES.items() for role in Role
]


@pytest.mark.parametrize(("label", "case", "role"), PAGE_CELLS, ids=[f"{c[0]}-{c[2].value}" for c in PAGE_CELLS])
def test_page_matrix(client, make_user, label, case, role, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    name = OBJECT_CASES[label][0] if label in OBJECT_CASES else label
    user, other = make_user(role, ""), make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(user)
    response = _request(client, name, case, user, other)
    _assert_allowed(response, case.allowed is PUBLIC or role in case.allowed, f"{label} as {role.value}")


@pytest.mark.parametrize("name", list(PAGES))
def test_signed_out_visitors_are_sent_to_sign_in(client, make_user, name, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    case = PAGES[name]
    someone = make_user(Role.STAFF_REPORTER, "rgh/4w")
    response = _request(client, name, case, someone, someone)
    if case.allowed is PUBLIC:
        assert response.status_code in (200, 301)
    else:
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


API_CELLS = [(method, path, role) for (method, path), _ in API.items() for role in Role]


@pytest.mark.parametrize(("method", "path", "role"), API_CELLS, ids=[f"{m} {p}-{r.value}" for m, p, r in API_CELLS])
def test_api_matrix_with_a_personal_token(client, make_user, method, path, role):
    user = make_user(role, "")
    # Tokens are for TOKEN_HOLDERS; the API's rules are tested for every role, so the token is
    # issued directly (the page that issues them has its own row above).
    from andon.platform.models import AccessToken

    _, raw = AccessToken.issue(user, "matrix")
    job = Job.objects.create(task_name="t", title="Own job", requested_by=user)
    url = path.replace("{job_id}", str(job.pk))
    headers = {"Authorization": f"Bearer {raw}"}
    if method == "GET":
        response = client.get(url, headers=headers)
    else:
        response = client.post(url, {}, content_type="application/json", headers=headers)
    allowed = role in API[(method, path)]
    expected = (200, 202) if allowed else (403,)
    assert response.status_code in expected, f"{method} {path} as {role.value}: {response.status_code} {response.content[:200]}"


@pytest.mark.parametrize(("method", "path"), list(API))
def test_api_refuses_callers_without_credentials(client, method, path):
    url = path.replace("{job_id}", "1")
    response = client.get(url) if method == "GET" else client.post(url, {}, content_type="application/json")
    assert response.status_code == 401


def test_job_of_someone_else_is_refused_through_the_api(client, make_user):
    owner, nosy = make_user(Role.QUALITY_ANALYST, ""), make_user(Role.QUALITY_ANALYST, "")
    job = Job.objects.create(task_name="t", title="Private", requested_by=owner)
    _, raw = services.issue_token(nosy, "nosy")
    response = client.get(f"/api/v1/jobs/{job.pk}", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403


@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
def test_admin_site_matrix(make_user, sign_in_with_mfa, role):
    """The admin site is for the administrator role only, even for accounts flagged as staff
    and signed in with a second factor (the flag alone does not make an administrator)."""
    user = make_user(role, "", is_admin_site_staff=True)
    response = sign_in_with_mfa(user).get("/admin/", follow=True)
    if role in ADMIN:
        assert response.status_code == 200 and b"Andon administration" in response.content
    else:
        assert response.status_code == 403 and b"for administrators" in response.content
