"""Browser tests: Playwright driving Debian's chromium against pytest-django's live server.

Never `playwright install` here: the tests use the system chromium (ANDON_CHROMIUM or
/usr/bin/chromium). Every test in this folder is marked `browser`, is skipped when that chromium
is missing, and fails if the page logs a console error, throws, or violates the content
security policy.
"""

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made from the
# test (fixtures, assertions) would otherwise be refused as "async unsafe".
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("ANDON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
MISSING = f"Debian chromium not found at {CHROMIUM}; `make test` installs it"

# Reported as console errors by chromium, and by the listener below for the CSP.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " +
                (event.blockedURI || "inline") + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


def _chromium_present() -> bool:
    return os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


def pytest_collection_modifyitems(config, items):
    present = _chromium_present()
    for item in items:
        if HERE not in Path(str(item.path)).resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if not present:
            item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.fixture(scope="session")
def _django_connections_closed():
    from django.db import connections

    connections.close_all()


@pytest.fixture(scope="session")
def playwright(_django_connections_closed, playwright):
    """pytest-playwright's, with Django's connections closed before it starts and before it
    stops: its sync API gives the test thread's code a context of its own, where Django's
    per-context connections are other ones, and those of the context left were never closed
    (PostgreSQL then refused to drop the test database: "being accessed by other users")."""
    from django.db import connections

    yield playwright
    connections.close_all()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not _chromium_present():
        pytest.skip(MISSING)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def demo(live_server, transactional_db, demo_hospital):
    """The demo hospital in the live server's database, with its sign-in allowed: restored from
    the snapshot of the first load in this worker (tests/demo_snapshot.py), so every test starts
    from the same state and the database is flushed after it.

    Returns the live server's base URL.
    """
    return live_server.url


class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen by one page."""

    def __init__(self):
        self.problems: list[str] = []

    def on_console(self, message):
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        self.problems.append(f"console error: {message.text} ({url})")

    def on_pageerror(self, error):
        self.problems.append(f"uncaught exception: {error}")


def watch(page) -> PageProblems:
    """Start collecting the page's console errors, exceptions and CSP violations."""
    watcher = PageProblems()
    page.add_init_script(CSP_LISTENER)
    page.on("console", watcher.on_console)
    page.on("pageerror", watcher.on_pageerror)
    return watcher


@pytest.fixture
def page(context):
    """pytest-playwright's page, failing the test on console errors and CSP violations."""
    page = context.new_page()
    watcher = watch(page)
    page.set_default_timeout(10_000)
    yield page
    if watcher.problems:
        pytest.fail("The browser reported problems:\n" + "\n".join(watcher.problems), pytrace=False)
