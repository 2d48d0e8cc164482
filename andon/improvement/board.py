"""Improvement's section of the board quality pack (governance, issue 21): the QI portfolio of the
QAPI year the period ends in, counted as the portfolio page counts it for that year (by status,
reason and domain; the year's projects against what the governing body asked for). No user: the
pack is read by the board under governance's rights. Each project by reference, title, status,
domain and unit; no problem statement or team (the page's rows without the charts)."""

from django.template.loader import render_to_string

from andon.platform import reporting

from .models import Project, ProjectsRequired, ProjectStatus
from .portfolio import REASONS, _counts

KEY, TITLE, ORDER = "improvement", "Quality improvement portfolio", 70


def year_projects(organisation_id: int, year: int) -> list[Project]:
    """The organisation's projects of the QAPI `year`, in the portfolio page's order (one query)."""
    return list(Project.objects.filter(organisation_id=organisation_id, year=year).select_related("unit")
                .order_by("-year", "reference"))


def section(context: reporting.ReportingContext) -> reporting.PackSection | None:
    year = context.last.year
    projects = year_projects(context.organisation_id, year)
    if not projects:
        return None
    required = ProjectsRequired.objects.filter(organisation_id=context.organisation_id, year=year).first()
    counted = sum(project.status != ProjectStatus.STOPPED for project in projects)
    by_status = _counts(projects, lambda p: [p.get_status_display()])
    by_reason = _counts(projects, lambda p: [words for name, words in REASONS.items() if getattr(p, name)])
    by_domain = _counts(projects, lambda p: [p.get_domain_display()])
    figures = {"Projects": len(projects), "Projects counting for the year": counted,
               "Projects asked for": required.count if required else None}
    figures |= {f"Status: {label}": n for label, n in by_status}
    figures |= {f"Reason: {label}": n for label, n in by_reason}
    figures |= {f"Domain: {label}": n for label, n in by_domain}
    html = render_to_string("improvement/board_section.html", {
        "year": year, "projects": projects, "required": required, "counted": counted, "by_status": by_status,
        "by_reason": by_reason, "by_domain": by_domain})
    return reporting.PackSection(KEY, TITLE, html, figures, ORDER)


def connect() -> None:
    reporting.register_pack_section(KEY, TITLE, ORDER, section)
