"""The pack as people read it: its sections in order with their narratives and what changed
since last month, for the HTML page and, from the same markup, the PDF."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import mark_safe

from andon.platform import pdf as platform_pdf

from .models import PackVersion


@dataclass
class Change:
    label: str
    now: object
    before: object
    direction: str  # "up", "down", "changed", "new", "gone"

    @property
    def words(self) -> str:
        return {"up": "up", "down": "down", "changed": "changed", "new": "new this month",
                "gone": "not in this month's pack"}[self.direction]


def _direction(now, before) -> str | None:
    if now == before:
        return None
    if isinstance(now, int | float) and isinstance(before, int | float):
        return "up" if now > before else "down"
    if before is None:
        return "new"
    if now is None:
        return "gone"
    return "changed"


def changes(version: PackVersion, previous: PackVersion | None) -> dict[str, list[Change]]:
    """Per section key: each figure that differs from last month's pack (the same section and
    label), with its direction; none when there is no earlier pack to compare with."""
    if previous is None:
        return {}
    before = {s["key"]: s.get("figures", {}) for s in previous.sections}
    found = {}
    for section in version.sections:
        old = before.get(section["key"])
        if old is None:
            continue
        now = section.get("figures", {})
        listed = [Change(label, value, old.get(label), d) for label, value in now.items()
                  if (d := (_direction(value, old[label]) if label in old else "new"))]
        listed += [Change(label, None, value, "gone") for label, value in old.items() if label not in now]
        if listed:
            found[section["key"]] = listed
    return found


def shown_sections(version: PackVersion, previous: PackVersion | None) -> list[dict]:
    """The sections as drafted (their markup, safe: rendered and escaped by their module's template
    when the pack was drafted), each with its narrative and its changes."""
    changed = changes(version, previous)
    return [{"key": s["key"], "title": s["title"], "html": mark_safe(s["html"]),  # noqa: S308 (drafted markup)
             "narrative": version.narratives.get(s["key"], ""), "changes": changed.get(s["key"], []),
             "anchor": "section-" + "".join(c if c.isalnum() else "-" for c in s["key"])}
            for s in version.sections]


def context(version: PackVersion, previous: PackVersion | None) -> dict:
    return {"version": version, "pack": version.pack, "previous": previous,
            "sections": shown_sections(version, previous), "problems": version.problems}


def pdf(version: PackVersion, previous: PackVersion | None) -> bytes:
    return platform_pdf.render_template_pdf("governance/pack_pdf.html", context(version, previous))
