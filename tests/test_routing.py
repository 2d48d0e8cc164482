"""The site's routing (`andon/urls.py`) passes over a module's routes for paths that are not the
module's, and tries an API path against its first word's routes only: every path must resolve
to what Django's own resolution of the plain includes gives, in Django's order."""

import re

import pytest
from django.urls import get_resolver, include, path
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern, URLResolver

from andon.api.api import api
from andon.urls import ModuleResolver

SAMPLES = {"int": "7", "str": "x", "slug": "a-b", "path": "a/b", "uuid": "12345678-1234-5678-1234-567812345678"}


def _plain(patterns) -> list:
    """The root's routes as Django's `path("", include(...))` and `path("api/v1/", api.urls)`."""
    plain = []
    for pattern in patterns:
        if isinstance(pattern, ModuleResolver):
            plain.append(URLResolver(pattern.pattern, pattern.urlconf_name, pattern.default_kwargs,
                                     app_name=pattern.app_name, namespace=pattern.namespace))
        elif str(pattern.pattern) == "api/v1/":
            plain.append(path("api/v1/", api.urls))
        else:
            plain.append(pattern)
    return plain


def _routes(patterns, prefix=""):
    """Every endpoint's whole route, written as routes are (regular expressions left out)."""
    for pattern in patterns:
        if isinstance(pattern.pattern, RegexPattern):
            continue
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def _sample(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?\w+>", lambda found: SAMPLES[found.group(1) or "str"], route)


def _resolved(resolver, asked: str):
    try:
        found = resolver.resolve(asked)
    except Resolver404:
        return None
    return found.view_name, found.route, found.kwargs


@pytest.fixture(scope="module")
def paths():
    routes = sorted(set(_routes(_plain(get_resolver().url_patterns))))
    assert len(routes) > 500 and "api/v1/compliance/evidence" in routes and "safety/report/" in routes
    samples = [_sample(route) for route in routes]
    return [f"/{sample}" for sample in samples] + [f"/{sample}zz/" for sample in samples] + [
        "/zz", "/api/v1/zz", "/api/v1/", "/safety/", "/api/v1/compliance/", "//", "/health/"]


def test_every_path_resolves_as_djangos_plain_includes_resolve_it(paths):
    fast = get_resolver()
    plain = URLResolver(RegexPattern(r"^/"), _plain(fast.url_patterns))
    answers = {asked: _resolved(fast, asked) for asked in paths}
    assert answers == {asked: _resolved(plain, asked) for asked in paths}
    found = [answer for answer in answers.values() if answer]
    assert len(found) > 500  # each route's own sample, at least
    assert answers["/api/v1/compliance/evidence"][0] == "api-v1:list_evidence"


def test_a_module_whose_route_begins_with_a_converter_is_tried_for_every_path():
    resolver = ModuleResolver(RoutePattern("", is_endpoint=False), [path("<int:pk>/", lambda request: None)])
    assert resolver._beginnings is None
    assert resolver.resolve("7/").kwargs == {"pk": 7}
    module = ModuleResolver(RoutePattern("", is_endpoint=False), include("andon.safety.urls")[0])
    assert module._beginnings and all(beginning.startswith("safety/") for beginning in module._beginnings)
    with pytest.raises(Resolver404):
        module.resolve("measures/")
