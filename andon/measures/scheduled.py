"""The measures' scheduled task: recompute every active measure nightly and after each FHIR
load (platform.schedules), so that the dashboards show what the newest data says."""

from datetime import date, datetime

from django.utils import timezone

from andon.platform import schedules
from andon.platform.jobs import JobFailed

from . import services

KEY = "measures.recompute"
# The months recomputed: the current one and the twelve before it (a year's run chart and its
# comparison month). A FHIR load that corrects older data is recomputed by hand
# (`andon compute-measures` or the measures page).
MONTHS_BACK = 12


def recompute(slot: datetime) -> dict:
    """Compute every active measure by month over the window ending on the slot's day."""
    today = timezone.localtime(slot).date()
    first = _months_before(today.replace(day=1), MONTHS_BACK)
    done = services.compute_measures(None, kind="month", first=first, last=today)
    problems = [f"{d.measure}: {d.error}" for d in done if d.error]
    if problems and len(problems) == len(done):
        raise JobFailed(f"Nothing was computed. {'; '.join(problems)}")
    return {"from": first.isoformat(), "to": today.isoformat(), "computed": len(done) - len(problems),
            "problems": problems}


def _months_before(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def connect() -> None:
    schedules.register_scheduled_task(KEY, "Recompute the measures", recompute, default_spec="0 2 * * *", retries=1)
    schedules.listen("fhir_load", KEY)
