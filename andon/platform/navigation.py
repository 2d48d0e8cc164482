"""The navigation bar: one entry per module page, shown to those the policy lets in.

Modules add their entries with `add` from their AppConfig.ready, so the shell never needs to
know which modules exist. It lives in the platform, not in andon.web, because modules sit below
the web shell and must not import it; the shell only reads `entries_for`.
"""

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

from andon.platform.permissions import can


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    permission: str | None  # None: for signed-out visitors only (a page open to anyone)
    icon: str
    # "main" (the bar), "admin" (the administration menu), "account" (the person's menu),
    # "action" (the one prominent button of the bar and the home page) or "public" (the bar of
    # signed-out visitors; permission None).
    section: str = "main"


ENTRIES: list[NavEntry] = [
    NavEntry("Home", "home", "platform.view_home", "house"),
    NavEntry("Organisation", "platform:organisation", "platform.view_organisation", "diagram-3"),
    NavEntry("Jobs", "platform:jobs", "platform.view_own_jobs", "hourglass-split"),
    NavEntry("Audit trail", "platform:audit", "platform.view_audit", "journal-text", "admin"),
    NavEntry("Schedules", "platform:schedules", "platform.manage_schedules", "calendar-event", "admin"),
    # People and their role grants, and the roles' settings, are managed on the admin site.
    NavEntry("People and roles", "admin:platform_user_changelist", "platform.manage_people", "people", "admin"),
    NavEntry("Role settings", "admin:platform_rolesetting_changelist", "platform.manage_role_settings",
             "person-gear", "admin"),
    NavEntry("API tokens", "platform:tokens", "platform.manage_own_tokens", "key", "account"),
]


def add(entry: NavEntry) -> None:
    ENTRIES.append(entry)


def entries_for(user, current_path: str) -> dict[str, list[dict]]:
    """The entries `user` may follow, by section; `user` None: a signed-out visitor's."""
    sections: dict[str, list[dict]] = {}
    for entry in ENTRIES:
        if user is None or entry.permission is None:
            if user is not None or entry.permission is not None:
                continue
        elif not can(user, entry.permission):
            continue
        url = _url(entry.url_name, get_urlconf(settings.ROOT_URLCONF), get_script_prefix())
        active = current_path == url if url == "/" else current_path.startswith(url)
        sections.setdefault(entry.section, []).append(
            {"label": entry.label, "url": url, "icon": entry.icon, "active": active}
        )
    return sections


@lru_cache(maxsize=256)
def _url(url_name: str, urlconf, prefix: str) -> str:
    # Every page draws the bar: reverse each entry once per URL configuration and prefix
    # (both in the key, so a test's own URLconf or a deployment under a path still differs).
    return reverse(url_name, urlconf=urlconf)
