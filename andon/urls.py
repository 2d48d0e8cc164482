from django.contrib import admin
from django.urls import include, path
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern, URLPattern, URLResolver
from django.utils.functional import cached_property

from andon.api.api import api
from andon.web import views as web_views

handler403 = web_views.refused


class ModuleResolver(URLResolver):
    """A module's pages, included at the site's root. Django tries each route of each module
    included there in turn for every request, and lists every route it tried (for its debug 404
    page): a third of Django's handling of an API request, its view's work included. A module's routes begin with a few
    literal words ("safety/", "jobs/"), so a path that begins with none of them cannot be the
    module's and is passed over at once; any other is resolved by Django as always."""

    @cached_property
    def _beginnings(self) -> tuple[str, ...] | None:
        """The literal beginnings of the module's routes; None when one begins with a converter
        (or is a regular expression): then every path is tried."""
        beginnings = []
        for pattern in self.url_patterns:
            route = pattern.pattern._route if isinstance(pattern.pattern, RoutePattern) else ""
            beginning = route.split("<", 1)[0]
            if not beginning:
                return None
            beginnings.append(beginning)
        return tuple(beginnings)

    def resolve(self, path):
        beginnings = self._beginnings
        if beginnings is not None and not str(path).startswith(beginnings):
            raise Resolver404({"tried": [], "path": str(path)})
        return super().resolve(path)


def module(urlconf: str) -> ModuleResolver:
    """`path("", include(urlconf))`, passing over the paths that are not the module's."""
    urlconf_module, app_name, namespace = include(urlconf)
    return ModuleResolver(RoutePattern("", is_endpoint=False), urlconf_module, app_name=app_name, namespace=namespace)


def by_first_word(included):
    """An include's routes (`(patterns, app_name, namespace)`, as the API gives them) gathered by
    the literal first word of their paths ("compliance/", "risk/"), each word's in a
    ModuleResolver of its own: a path is then tried against its word's routes only, not the
    API's three hundred. Routes of two words never match the same path, so the order between
    words does not matter (within a word it is kept). Left as it is when a route could match a
    path of any word (one beginning with a converter)."""
    patterns, app_name, namespace = included
    groups: dict[str, list] = {}
    for pattern in patterns:
        route = pattern.pattern._route if isinstance(pattern.pattern, RoutePattern) else None
        literal = (route or "").split("<", 1)[0]
        if "/" in literal:
            key = literal.split("/", 1)[0] + "/"
        elif route is not None and "<" not in route and isinstance(pattern, URLPattern):
            key = route  # an exact path of one word ("me", "docs"): no other route's path
        else:
            return included
        groups.setdefault(key, []).append(pattern)
    gathered = [group[0] if len(group) == 1 else ModuleResolver(RoutePattern("", is_endpoint=False), group)
                for group in groups.values()]
    return gathered, app_name, namespace


urlpatterns = [
    path("", web_views.home, name="home"),
    path("health", web_views.health, name="health"),
    path("favicon.ico", web_views.favicon, name="favicon"),
    module("andon.platform.urls"),
    module("andon.safety.urls"),
    module("andon.actions.urls"),
    module("andon.measures.urls"),
    module("andon.compliance.urls"),
    module("andon.risk.urls"),
    module("andon.improvement.urls"),
    module("andon.medstaff.urls"),
    module("andon.voice.urls"),
    module("andon.governance.urls"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", by_first_word(api.urls)),
]
