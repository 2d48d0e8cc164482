"""Layering: andon/analytics is pure Python and never imports Django."""

import ast
import subprocess
import sys
from pathlib import Path

ANALYTICS = Path(__file__).resolve().parent.parent / "andon" / "analytics"


def _imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_no_module_under_analytics_imports_django_or_the_app():
    offenders = []
    for path in sorted(ANALYTICS.rglob("*.py")):
        for module in _imported_modules(path):
            root = module.split(".")[0]
            if root == "django" or module.startswith(("andon.platform", "andon.web", "andon.api", "andon.settings")):
                offenders.append(f"{path.relative_to(ANALYTICS.parent.parent)} imports {module}")
    assert offenders == []


def test_importing_analytics_loads_no_django():
    code = (
        "import sys, pkgutil, importlib, andon.analytics as a\n"
        "for m in pkgutil.walk_packages(a.__path__, 'andon.analytics.'): importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
