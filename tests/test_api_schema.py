"""The API against its own OpenAPI document: schemathesis generates requests (valid and
invalid) for every operation and checks that no call fails with a server error, that every
status code and body is the documented one, and that invalid input is refused."""

import secrets

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from andon.api.api import api
from andon.platform import content, services
from andon.platform.demo import ORGANISATION_FILE
from andon.platform.models import AccessToken, hash_token
from andon.platform.roles import Role
from tests.conftest import CONTENT, enrol_if_required
from tests.fuzz import examples

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
# Requests go through the real WSGI application (not Django's test client): its routing,
# middleware and error handling as a server runs them.
schema.app = get_wsgi_application()
# The token of the person every request is made as (`caller`): schemathesis sets it on its cases
# when it builds them, at collection, before any database exists; the record is made with it.
CALLER_TOKEN = AccessToken.PREFIX + secrets.token_urlsafe(32)


@schema.auth()
class CallerToken:
    """Every request carries the caller's token, as schemathesis's own authentication: it then
    generates no Authorization header of its own (one it counted as invalid but that the token
    replaced made a valid request look like accepted invalid data)."""

    def get(self, case, context):
        return CALLER_TOKEN

    def set(self, case, token, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def caller(django_db_setup, django_db_blocker):
    """One person holding every role over the whole organisation reaches every operation (the
    permission matrix covers who else may), with the hospital and its safety taxonomy. Made once
    for the module inside a transaction rolled back at its end; each operation's requests run in a
    savepoint of their own (pytest-django's `db`), so no operation sees what another wrote."""
    with django_db_blocker.unblock(), transaction.atomic():
        organisation = content.load_organisation(content.read_file(ORGANISATION_FILE), str(ORGANISATION_FILE))
        content.load_content([CONTENT / "taxonomies"])
        everyone = services.create_user("schemathesis", email="schemathesis@example.org")
        for role in Role:
            services.grant_role(everyone, role, organisation)
        enrol_if_required(everyone)
        AccessToken.objects.create(user=everyone, name="schemathesis", token_hash=hash_token(CALLER_TOKEN),
                                   hint=CALLER_TOKEN[:len(AccessToken.PREFIX) + 4])
        yield everyone
        transaction.set_rollback(True)


@pytest.fixture
def requests_in_the_tests_transaction(db):
    """A server closes or checks its database connection when a request starts and ends
    (`close_old_connections`); inside the test's transaction that would end it, so, as Django's
    own test client does, the application keeps the connection while the test runs."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
# Derandomized: the same examples on every run, so CI is reproducible. 25 per operation in the
# default run (in CI once, on PostgreSQL: .ci/run); `make test-deep` tries ten times as many
# (tests/fuzz.py). Ids beyond the database's keys, which the fuzzing found once, have their own
# test in test_api.py.
@settings(max_examples=examples(25), derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, caller, requests_in_the_tests_transaction):
    # A request can fit the schema and still be refused by the domain's rules (a unit that does
    # not exist, an incident without harm): that 422 is right, so "schema-valid data must be
    # accepted" is not checked. Every other check is.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
