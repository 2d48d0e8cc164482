"""QI projects: progress read from the measure's control chart (the SPC verdict since the last
adopted change, the current level against the aim, days to the aim's date), the cost of poor
quality each project avoids, and the organisation's portfolio (by status, reason, unit and domain;
the year's count against what the governing body asked for). docs/improvement.md, "QI projects"."""

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from andon.measures import services as measures
from andon.platform import audit, charts, inputs, permissions
from andon.platform.concurrency import lock
from andon.platform.models import Organisation

from .models import (
    Benefit, PdsaCycle, PdsaDecision, PdsaStage, PortfolioSettings, Project, ProjectsRequired, ProjectStatus,
)

__all__ = [
    "REASONS", "Progress", "cost_avoided", "organisation_for", "portfolio", "portfolio_settings", "progress",
    "project_work", "set_portfolio_settings", "set_projects_required",
]

REASONS = {"high_risk": "High-risk", "high_volume": "High-volume", "problem_prone": "Problem-prone"}
IMPROVEMENT = "special_cause_improvement"
CONCERN = "special_cause_concern"
OPEN = (ProjectStatus.PROPOSED, ProjectStatus.ACTIVE, ProjectStatus.SUSTAINING)


@dataclass
class Cost:
    """The cost of poor quality a project avoided since its change (None: not yet measurable)."""

    avoided: float | None  # harm events or excess days avoided (negative: more than at baseline)
    amount: Decimal | None
    currency: str
    unit_cost: Decimal
    counted_in: str  # "harm events" / "excess bed days"
    volume: float | None  # the denominator's volume (or periods, for a count) since the change
    reason: str  # why it is not measurable yet, or how it was counted


@dataclass
class Progress:
    chart: object  # the measure's control chart with the aim line (kit Chart)
    place: str
    change: PdsaCycle | None  # the last adopted change
    since: date | None
    verdict: str  # the measures module's words for the verdict since the change
    verdict_code: str | None
    current: float | None  # the level since the change (before any: the chart's current centre line)
    met: bool | None
    days_left: int
    periods_since: int
    cost: Cost


def _last_adopted(project: Project) -> PdsaCycle | None:
    return (PdsaCycle.objects.filter(change__project=project, decision=PdsaDecision.ADOPT)
            .exclude(decided_on=None).order_by("-decided_on", "-pk").first())


def _level(points, scoring: str, multiplier: float) -> float | None:
    """The level over `points` (start, numerator, denominator, value, …): a proportion, rate or
    ratio pooled (Σ numerators ÷ Σ denominators × multiplier), a count or continuous value the mean
    of the periods' values: the centre line the measure's SPC chart draws for those periods."""
    counted = [p for p in points if p[3] is not None]
    if not counted:
        return None
    if scoring in ("proportion", "rate", "ratio"):
        denominator = sum(p[2] or 0 for p in counted)
        return sum(p[1] or 0 for p in counted) / denominator * multiplier if denominator else None
    return sum(p[3] for p in counted) / len(counted)


def _verdict(points) -> str | None:
    """Since the change: a special cause in the better direction if any point shows one, else one
    of concern if any does, else common cause."""
    codes = {p[5] for p in points if p[3] is not None}
    if not codes:
        return None
    for code in (IMPROVEMENT, CONCERN):
        if code in codes:
            return code
    return next(iter(sorted(codes - {"common_cause"})), "common_cause")


def _met(project: Project, current: float | None, improvement: str) -> bool | None:
    if current is None:
        return None
    return current <= project.target if improvement == "decrease" else current >= project.target


def progress(project: Project, today: date | None = None) -> Progress:
    """The project's progress from its measure's chart (the project's unit, or the organisation's)."""
    today = today or timezone.localdate()
    aim = charts.Reference("aim", project.target, f"Aim {charts.format_number(project.target)}", colour="#0a58ca")
    drawn = measures.chart_for(project.measure, unit=project.unit, references=[aim])
    change = _last_adopted(project)
    since = change.decided_on if change else None
    after = [p for p in drawn.points if since is None or p[0] >= since]
    counted = [p for p in after if p[3] is not None]
    if change is None:
        last = next((p for p in reversed(drawn.points) if p[3] is not None), None)
        code, current = (last[5], last[4]) if last else (None, None)
    else:
        code, current = _verdict(after), _level(after, drawn.scoring, drawn.multiplier)
    return Progress(drawn.chart, drawn.place, change, since, measures.verdict_words(code) if code else "No data yet",
                    code, current, _met(project, current, drawn.improvement), (project.aim_date - today).days,
                    len(counted), cost_avoided(project, drawn, change, counted))


# --- the cost of poor quality -------------------------------------------------------------------

def _unit_cost(project: Project, settings: PortfolioSettings | None) -> tuple[Decimal, str]:
    currency = settings.currency if settings else "USD"
    if project.unit_cost is not None:
        return Decimal(project.unit_cost), currency
    if settings is None:
        return Decimal(0), currency
    return (settings.cost_per_harm_event if project.benefit == Benefit.HARM_EVENTS
            else settings.cost_per_excess_day), currency


def cost_avoided(project: Project, drawn, change, counted, settings=None) -> Cost:
    """(baseline − level since the change) × volume ÷ multiplier events (or days) avoided, turned
    lower-is-better; volume: the denominators since the change (for a count, the periods), each at
    the project's unit cost or the organisation's. docs/improvement.md gives the formula."""
    settings = settings or PortfolioSettings.objects.filter(organisation_id=project.organisation_id).first()
    unit_cost, currency = _unit_cost(project, settings)
    counted_in = "harm events" if project.benefit == Benefit.HARM_EVENTS else "excess bed days"
    if change is None:
        return Cost(None, None, currency, unit_cost, counted_in, None, "Not yet measurable: no change adopted yet.")
    if not counted:
        return Cost(None, None, currency, unit_cost, counted_in, None,
                    f"Not yet measurable: no results since the change ({change.decided_on:%Y-%m-%d}).")
    level = _level(counted, drawn.scoring, drawn.multiplier)
    if drawn.scoring == "count":
        volume, per = float(len(counted)), 1.0
    else:
        volume = float(sum(p[2] or 0 for p in counted))
        per = drawn.multiplier if drawn.scoring in ("proportion", "rate", "ratio") else 1.0
    gain = project.baseline - level if drawn.improvement != "increase" else level - project.baseline
    avoided = gain * volume / per
    amount = (Decimal(str(round(avoided, 6))) * unit_cost).quantize(Decimal("0.01"))
    return Cost(avoided, amount, currency, unit_cost, counted_in, volume,
                f"({charts.format_number(project.baseline)} − {charts.format_number(level)}) × "
                f"{charts.format_number(volume)} ÷ {charts.format_number(per)}")


# --- the portfolio ------------------------------------------------------------------------------

def organisation_for(user) -> Organisation:
    """The organisation whose portfolio the user reads: that of their first grant."""
    for grant in permissions.active_grants(user):
        return grant.organisation
    organisation = Organisation.objects.filter(pk__in=Project.objects.filter(
        lead=user).values("organisation_id")).first() or Organisation.objects.order_by("pk").first()
    if organisation is None:
        raise permissions.Refused("improvement.use_projects")
    return organisation


def _filtered(projects, filters: dict):
    if filters.get("status"):
        projects = projects.filter(status=filters["status"])
    if filters.get("domain"):
        projects = projects.filter(domain=filters["domain"])
    if filters.get("reason") in REASONS:
        projects = projects.filter(**{filters["reason"]: True})
    if filters.get("unit"):
        projects = projects.filter(unit_id=filters["unit"])
    if filters.get("year"):
        projects = projects.filter(year=filters["year"])
    return projects


def portfolio(user, filters: dict | None = None, *, with_costs: bool = True) -> dict:
    """The organisation's projects the user may see, filtered (status, reason, unit, domain, year),
    with counts by status, reason, unit and domain; the year's count against the number the
    governing body asked for; each project's cost of poor quality avoided and a bar chart of them."""
    from .projects import visible_projects

    permissions.check(user, "improvement.use_projects")
    filters = filters or {}
    organisation = organisation_for(user)
    year = filters.get("year") or timezone.localdate().year
    everyone = visible_projects(user).filter(organisation=organisation).select_related("measure", "unit", "lead")
    projects = list(_filtered(everyone, filters).order_by("-year", "reference"))
    settings = PortfolioSettings.objects.filter(organisation=organisation).first()
    rows = [{"project": p, "progress": progress(p) if with_costs else None} for p in projects]
    required = ProjectsRequired.objects.filter(organisation=organisation, year=year).first()
    return {
        "organisation": organisation, "year": year, "rows": rows, "settings": settings, "required": required,
        "year_count": everyone.filter(year=year).exclude(status=ProjectStatus.STOPPED).count(),
        "by_status": _counts(projects, lambda p: [p.get_status_display()]),
        "by_reason": _counts(projects, lambda p: [words for name, words in REASONS.items() if getattr(p, name)]),
        "by_unit": _counts(projects, lambda p: [p.unit.name if p.unit else "Whole facility or organisation"]),
        "by_domain": _counts(projects, lambda p: [p.get_domain_display()]),
        "chart": _cost_chart(rows, settings) if with_costs else None,
    }


def _counts(projects, keys) -> list[tuple[str, int]]:
    found = Counter(key for project in projects for key in keys(project))
    return sorted(found.items(), key=lambda item: (-item[1], item[0]))


def _cost_chart(rows, settings):
    measured = [(row["project"].reference, float(row["progress"].cost.amount)) for row in rows
                if row["progress"].cost.amount is not None]
    if not measured:
        return None
    currency = settings.currency if settings else "USD"
    desc = "; ".join(f"{ref} {amount:,.2f} {currency}" for ref, amount in measured) + "."
    return charts.bar_chart(measured, title="Cost of poor quality avoided, by project", desc=desc,
                            y_label=f"Avoided ({currency})")


@audit.changes_by_user
@transaction.atomic
def set_projects_required(user, organisation: Organisation, *, year: int, count: int,
                          decided_by: str) -> ProjectsRequired:
    """How many projects a year the governing body asked for (CoP 482.21(d)(2)), and who decided."""
    permissions.check(user, "improvement.configure", organisation)
    errors = {}
    if not isinstance(year, int) or not 2000 <= year <= 2199:
        errors["year"] = "Give the year (2000 to 2199)."
    if not isinstance(count, int) or not 0 <= count <= 1000:
        errors["count"] = "Give the number of projects asked for (0 to 1,000)."
    decided_by = (decided_by or "").strip()
    if not decided_by:
        errors["decided_by"] = "Name the body and meeting that set it (the board, 12 March)."
    elif len(decided_by) > 200:
        errors["decided_by"] = "Keep it to 200 characters."
    if errors:
        raise ValidationError(errors)
    found, _ = ProjectsRequired.objects.update_or_create(
        organisation=organisation, year=year,
        defaults={"count": count, "decided_by": decided_by, "recorded_by": user, "recorded_at": timezone.now()})
    return found


def portfolio_settings(organisation: Organisation) -> PortfolioSettings:
    """The organisation's unit costs (unsaved, all zero, until someone sets them)."""
    return (PortfolioSettings.objects.filter(organisation=organisation).first()
            or PortfolioSettings(organisation=organisation))


@audit.changes_by_user
@transaction.atomic
def set_portfolio_settings(user, organisation: Organisation, *, cost_per_harm_event, cost_per_excess_day,
                           currency: str, ver: int | None = None) -> PortfolioSettings:
    """The unit costs of one harm event and one excess bed day (⚠︎ the organisation's own figures)."""
    permissions.check(user, "improvement.configure", organisation)
    errors = {}
    costs = {}
    for name, value in (("cost_per_harm_event", cost_per_harm_event), ("cost_per_excess_day", cost_per_excess_day)):
        try:
            inputs.finite(float(value) if isinstance(value, Decimal) else value, low=0)
            costs[name] = Decimal(str(value)).quantize(Decimal("0.01"))
            if costs[name] >= Decimal(10) ** 10:
                errors[name] = "At most 9,999,999,999.99."
        except (inputs.InputError, TypeError, ValueError) as problem:
            errors[name] = str(problem)
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        errors["currency"] = "Give the currency's three-letter ISO 4217 code (USD, EUR, GBP)."
    if errors:
        raise ValidationError(errors)
    found = PortfolioSettings.objects.filter(organisation=organisation).first()
    if found is None:
        found = PortfolioSettings(organisation=organisation)
    else:
        found = lock(found, ver)
    for name, value in costs.items():
        setattr(found, name, value)
    found.currency, found.updated_by, found.updated_at = currency, user, timezone.now()
    found.save()
    return found


# --- the home page ------------------------------------------------------------------------------

def project_work(user):
    """A project's lead: each project of theirs still open, and each PDSA cycle of theirs past its
    planned end without a study (overdue first)."""
    from andon.platform.services import WorkItem

    from .rules import on_a_project

    if not on_a_project(user):  # asked once a request for the menu too: no query for most people
        return []
    today = timezone.localdate()
    late = (PdsaCycle.objects.filter(change__project__lead=user, change__project__status__in=OPEN,
                                     stage__in=(PdsaStage.PLAN, PdsaStage.DO), planned_end__lt=today)
            .select_related("change__project").order_by("planned_end"))
    items = [WorkItem(f"{c.change.project.reference} PDSA {c.number} “{c.title}”: ended {c.planned_end:%Y-%m-%d}, "
                      "not studied yet", reverse("improvement:project", args=[c.change.project_id]), "due",
                      "Record what happened against the prediction.") for c in late]
    for project in Project.objects.filter(lead=user, status__in=OPEN).order_by("aim_date"):
        items.append(WorkItem(f"{project.reference} {project.title}", reverse("improvement:project", args=[project.pk]),
                              "review", f"{project.get_status_display()}; aim by {project.aim_date:%Y-%m-%d}"))
    return items
