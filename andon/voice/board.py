"""Patient voice's section of the board quality pack (governance, issue 21): the HCAHPS top-box
scores of the period's discharge months (the scores page's cells and arithmetic, each with the
page's warning below ANDON_SURVEY_MIN_COUNT), grievances received, resolved within the time frame
(the grievance measure's counts) and open past it (the grievance dashboard's), and the top five
complaint themes. No user: the pack is read by the board under governance's rights.

Counts and labels only: no patient, no complainant, no comment or description text."""

from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.template.loader import render_to_string

from andon.platform import reporting
from andon.platform.models import Unit

from . import scores
from .clock import grievance_counts
from .models import Grievance, GrievanceStatus, SurveyScoreCell

KEY, TITLE, ORDER = "voice", "Patient voice", 80
THEMES = 5


def organisation_units(organisation_id: int) -> list[int]:
    return sorted(Unit.objects.filter(facility__organisation_id=organisation_id).values_list("pk", flat=True))


def score_table(units: list[int], first, last) -> scores.ScoreTable | None:
    """The HCAHPS table of the discharge months `first` to `last` over `units`, as the scores page
    sums its cells for a viewer of the whole organisation; None when no HCAHPS set is loaded."""
    from .surveys import question_set

    try:
        questions = question_set("hcahps")
    except ValidationError:
        return None
    first, last = scores._months(first, last)
    cells = SurveyScoreCell.objects.filter(question_set=questions.key, dimension="", month__gte=first,
                                           month__lte=last, unit__in=units)
    sums = {row["question"]: (row["top"] or 0, row["valid"] or 0)
            for row in cells.values("question").annotate(top=Sum("top"), valid=Sum("valid"))}
    return scores._table(questions, sums, first, last, "Whole organisation", "", "")


def headline_rows(table: scores.ScoreTable | None) -> list[scores.ScoreRow]:
    """The composites and the questions outside them (the overall rating, recommending), answered."""
    if table is None:
        return []
    return [row for row in [*table.composites, *table.questions] if row.share is not None]


def grievance_figures(organisation_id: int, units: list[int], first, last, today) -> dict[str, int]:
    """Received and resolved within the time frame: the grievance measures' counts for the period
    (grievances placed in a unit); open past the time frame: the dashboard's, on `today`."""
    counts = grievance_counts(first, last, units)
    received = sum(n for n, _ in counts["grievance-rate"].values())
    in_time = sum(n for n, _ in counts["grievance-resolved-in-time"].values())
    due = sum(d for _, d in counts["grievance-resolved-in-time"].values())
    overdue = Grievance.objects.filter(organisation_id=organisation_id, status=GrievanceStatus.OPEN,
                                       due_on__lt=today).count()
    return {"received": received, "due": due, "in_time": in_time, "overdue": overdue}


def themes(organisation_id: int, first, last) -> list[tuple[str, int]]:
    """The top categories of the complaints and grievances received in the period."""
    rows = (Grievance.objects.filter(organisation_id=organisation_id, received_on__gte=first, received_on__lte=last)
            .order_by().values_list("categories__label").annotate(n=Count("pk")).order_by("-n", "categories__label"))
    return [(label or "Not classified", n) for label, n in rows[:THEMES]]


def section(context: reporting.ReportingContext) -> reporting.PackSection | None:
    units = organisation_units(context.organisation_id)
    table = score_table(units, context.first, context.last)
    headline = headline_rows(table)
    grievances = grievance_figures(context.organisation_id, units, context.first, context.last, context.today)
    top_themes = themes(context.organisation_id, context.first, context.last)
    if not headline and not any(grievances.values()) and not top_themes:
        return None
    figures = {"Surveys returned": table.surveys if table else 0}
    figures |= {f"Top box: {row.title}": row.percent for row in headline}
    figures |= {"Grievances received": grievances["received"], "Grievances due": grievances["due"],
                "Grievances resolved within the time frame": grievances["in_time"],
                "Grievances open past the time frame": grievances["overdue"]}
    figures |= {f"Theme: {label}": n for label, n in top_themes}
    html = render_to_string("voice/board_section.html", {
        "table": table, "headline": headline, "grievances": grievances, "themes": top_themes, "context": context})
    return reporting.PackSection(KEY, TITLE, html, figures, ORDER)


def connect() -> None:
    reporting.register_pack_section(KEY, TITLE, ORDER, section)
