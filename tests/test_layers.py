"""Layering: data and calls flow downward only (docs/platform.md, DESIGN.md "Layers").

    interfaces   andon/web, andon/api, andon/cli.py   (andon/urls.py and settings compose them)
    domain       andon/<module>/   (another module is reached only through its services.py)
    platform     andon/platform/
    analytics    andon/analytics/  (pure Python, no Django)

Each rule is a function of {file path: source text} that returns the offending imports, so the
same functions check the real tree and, in `test_each_rule_reports_a_deliberate_violation`, a
few lines written to break them.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_DOMAIN = {"platform", "analytics", "api", "web"}
INTERFACES = ("andon.api", "andon.web", "andon.cli")


def read_tree(root: Path = ROOT) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((root / "andon").rglob("*.py"))
    }


def _module_parts(path: str) -> list[str]:
    parts = path.removesuffix(".py").split("/")
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported_names(path: str, source: str):
    """Every dotted name the file imports, relative imports resolved: `from andon.actions import
    services` gives `andon.actions.services`, `from ..models import Event` in
    andon/safety/views/x.py gives `andon.safety.models.Event`. Imports inside functions count."""
    package = _module_parts(path) if path.endswith("__init__.py") else _module_parts(path)[:-1]
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            yield from (f"{module}.{alias.name}" for alias in node.names)


def _layer(path: str) -> str | None:
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "andon" else None


def domain_modules(sources: dict[str, str]) -> set[str]:
    """The packages under andon/ that are not a layer of their own: safety, actions, measures and
    whichever module comes next, without listing them here."""
    return {layer for path in sources if (layer := _layer(path)) and layer not in NOT_DOMAIN}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _offences(sources, applies, forbidden):
    return [
        f"{path} imports {name}"
        for path, source in sources.items() if applies(path)
        for name in imported_names(path, source) if forbidden(path, name)
    ]


def analytics_offences(sources: dict[str, str]) -> list[str]:
    """andon/analytics imports no Django and no other part of the application."""
    def forbidden(path, name):
        root = name.split(".")[0]
        return root == "django" or root.startswith("django_") or (
            root == "andon" and not _within(name, "andon.analytics"))
    return _offences(sources, lambda path: _layer(path) == "analytics", forbidden)


def platform_offences(sources: dict[str, str]) -> list[str]:
    """andon/platform imports no domain module: modules plug into it through its registries."""
    domains = domain_modules(sources)
    return _offences(sources, lambda path: _layer(path) == "platform",
                     lambda path, name: any(_within(name, f"andon.{d}") for d in domains))


def cross_module_offences(sources: dict[str, str]) -> list[str]:
    """A domain module reaches another only through its services module (`from andon.actions
    import services as actions`, `import andon.actions.services`, `from andon.actions.services
    import f`); its models, views and api are its own."""
    domains = domain_modules(sources)

    def forbidden(path, name):
        parts = name.split(".")
        other = parts[1] if len(parts) > 1 and parts[0] == "andon" else None
        if other not in domains or other == _layer(path):
            return False
        return len(parts) < 3 or parts[2] != "services"
    return _offences(sources, lambda path: _layer(path) in domains, forbidden)


def interface_offences(sources: dict[str, str]) -> list[str]:
    """Nothing below the interfaces imports andon.api, andon.web or andon.cli. The composition
    root (andon/urls.py, andon/settings.py, andon/wsgi.py) and the interfaces themselves may."""
    below = domain_modules(sources) | {"platform", "analytics"}
    return _offences(sources, lambda path: _layer(path) in below,
                     lambda path, name: any(_within(name, top) for top in INTERFACES))


RULES = {
    "analytics": analytics_offences,
    "platform": platform_offences,
    "cross_module": cross_module_offences,
    "interfaces": interface_offences,
}


@pytest.fixture(scope="module")
def tree():
    return read_tree()


def test_analytics_imports_no_django_and_no_app_module(tree):
    assert analytics_offences(tree) == []


def test_platform_imports_no_domain_module(tree):
    assert platform_offences(tree) == []


def test_domain_modules_reach_each_other_only_through_services(tree):
    assert cross_module_offences(tree) == []


def test_nothing_below_the_interfaces_imports_them(tree):
    assert interface_offences(tree) == []


def test_the_domain_modules_are_found_without_a_list(tree):
    assert {"safety", "actions", "measures"} <= domain_modules(tree)
    assert not domain_modules(tree) & NOT_DOMAIN


# A small tree that keeps every rule, and one violation of each rule added to it.
CLEAN = {
    "andon/analytics/spc/rules.py": "import math\nfrom . import points\nfrom ..stats import wilson\n",
    "andon/platform/permissions.py": "from django.core.exceptions import PermissionDenied\nfrom . import roles\n",
    "andon/safety/services.py": "from andon.platform import audit\nfrom andon.actions import services as actions\n",
    "andon/safety/views/events.py": "from .. import services\nfrom ..models import SafetyEvent\n",
    "andon/measures/compute.py": "def count():\n    import andon.safety.services\n"
                                 "    from andon.safety.services import events_between\n",
    "andon/actions/services.py": "from .models import Action\n",
    "andon/risk/__init__.py": "",
    "andon/api/api.py": "from andon.safety.api import router\n",
    "andon/urls.py": "from andon.api.api import api\nfrom andon.web import views\n",
}

VIOLATIONS = [
    ("analytics", "andon/analytics/kpi/periods.py", "from django.utils import timezone\n", "django.utils.timezone"),
    ("analytics", "andon/analytics/spc/chart.py", "from andon.platform import models\n", "andon.platform.models"),
    ("platform", "andon/platform/work.py", "def f():\n    from andon.safety.models import SafetyEvent\n",
     "andon.safety.models.SafetyEvent"),
    # A module that did not exist when these rules were written is a domain module all the same.
    ("platform", "andon/platform/services.py", "import andon.risk.services\n", "andon.risk.services"),
    ("cross_module", "andon/measures/views.py", "from andon.actions.models import Action\n", "andon.actions.models.Action"),
    ("cross_module", "andon/safety/rca.py", "from andon import actions\n", "andon.actions"),
    ("cross_module", "andon/actions/views.py", "from andon.safety import services, models\n", "andon.safety.models"),
    ("interfaces", "andon/safety/apps.py", "from andon.web import navigation\n", "andon.web.navigation"),
    ("interfaces", "andon/actions/api.py", "from andon.api.common import Pages\n", "andon.api.common.Pages"),
    ("interfaces", "andon/platform/jobs.py", "import andon.cli\n", "andon.cli"),
    ("interfaces", "andon/safety/views/x.py", "from ...api import api\n", "andon.api.api"),
]


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_passes_a_tree_that_keeps_it(rule):
    assert RULES[rule](CLEAN) == []


@pytest.mark.parametrize(("rule", "path", "source", "name"), VIOLATIONS, ids=[v[1] for v in VIOLATIONS])
def test_each_rule_reports_a_deliberate_violation(rule, path, source, name):
    assert RULES[rule]({**CLEAN, path: source}) == [f"{path} imports {name}"]


def test_importing_analytics_loads_no_django():
    code = (
        "import sys, pkgutil, importlib, andon.analytics as a\n"
        "for m in pkgutil.walk_packages(a.__path__, 'andon.analytics.'): importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
