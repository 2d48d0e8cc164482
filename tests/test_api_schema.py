"""The API against its own OpenAPI document: schemathesis generates requests (valid and
invalid) for every operation and checks that no call fails with a server error, that every
status code and body is the documented one, and that invalid input is refused."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from andon.api.api import api
from andon.platform.models import AccessToken
from andon.platform.roles import Role
from tests.fuzz import examples

# Requests go through the real WSGI application (not Django's test client), which checks its
# database connection after each request as in production: so, real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = get_wsgi_application()


@pytest.fixture
def caller_token(make_user, safety_taxonomy):
    """One person holding every role over the whole organisation reaches every operation (the
    permission matrix covers who else may). Made once per operation, not once per generated
    request: the API offers no way to revoke one's own token or roles, so every request of the
    operation is made as that person either way."""
    everyone = make_user(*[(role, "") for role in Role])
    return AccessToken.issue(everyone, "schemathesis")[1]


@schema.parametrize()
# Derandomized: the same examples on every run, so CI is reproducible. 25 per operation in the
# default run (each a real transaction, twice in CI); `make test-deep` tries ten times as many
# (tests/fuzz.py). Ids beyond the database's keys, which the fuzzing found once, have their own
# test in test_api.py.
@settings(max_examples=examples(25), derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, caller_token):
    # A request can fit the schema and still be refused by the domain's rules (a unit that does
    # not exist, an incident without harm): that 422 is right, so "schema-valid data must be
    # accepted" is not checked. Every other check is.
    case.call_and_validate(headers={"Authorization": f"Bearer {caller_token}"},
                           excluded_checks=[positive_data_acceptance])
