"""Risk: reviews and the home page. Every risk has a next review date. The daily sweep (`andon
risk sweep`) e-mails a risk's owner when the review falls within ANDON_RISK_REVIEW_NOTICE_DAYS or
has passed, at most once in ANDON_RISK_REMINDER_DAYS; a review (`rescore`) clears the mark, so
the next period starts afresh. E-mail only: the owner's home page already has the line, and an
in-app notification would say it twice.

The home page's lines are worked out from the risks as they are now, so each leaves the list when
it is done: an owner's risks due for review or overdue, flagged by a key risk indicator, or asking
escalation; and to a risk manager, the risks of others in their scope that ask escalation (one
line each while there are only a few, then one counted line to the register). docs/risk.md."""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from andon.platform import notifications, permissions

from .models import Risk, RiskMatrix, RiskStatus
from .overview import above_tolerance
from .rules import owns_risks
from .scoring import LEVEL_LABELS, Matrix

__all__ = ["asking_escalation", "remind_reviews", "review_notice_days", "reviews_due", "risk_work"]

WORK_LIMIT = 20
# A risk manager sees this many risks asking escalation one per line; more are one counted line.
FEW = 3
_REMINDER_BATCH = 500


def reminder_days() -> int:
    return settings.ANDON_RISK_REMINDER_DAYS


def review_notice_days() -> int:
    return settings.ANDON_RISK_REVIEW_NOTICE_DAYS


def reviews_due(risks, today: date, within_days: int = 0):
    """Open risks whose review date has passed or falls within the days."""
    return risks.filter(status=RiskStatus.OPEN, review_on__lte=today + timedelta(days=within_days))


# --- escalation asked, for many risks at once ------------------------------------------------------

class Matrices:
    """Every organisation's matrix, read in one query; an organisation that never saved one has
    the default (matrix_row would give it the same on first use)."""

    def __init__(self):
        self.by_organisation = {row.organisation_id: Matrix.from_config(row.config)
                                for row in RiskMatrix.objects.only("organisation_id", "config")}
        self.default = Matrix()

    def of(self, organisation_id) -> Matrix:
        return self.by_organisation.get(organisation_id, self.default)

    def above_tolerance(self) -> Q:
        """Risks whose current score is above their level's tolerance on their organisation's matrix."""
        found = ~Q(organisation_id__in=list(self.by_organisation)) & above_tolerance(self.default)
        for organisation_id, matrix in self.by_organisation.items():
            found |= Q(organisation_id=organisation_id) & above_tolerance(matrix)
        return found


def asking_escalation(risks):
    """The open risks of `risks` that ask to be escalated (the register's "asks escalation"
    filter, `asking=on`), in one query and one read of the matrices."""
    return risks.filter(Matrices().above_tolerance(), status=RiskStatus.OPEN)


# --- the daily reminder ------------------------------------------------------------------------------

def remind_reviews(today: date) -> int:
    """E-mail the owners of open risks whose review is due within the notice days or overdue,
    once per period of reminder days; returns how many risks were reminded."""
    due_again = today - timedelta(days=reminder_days())
    risks = (reviews_due(Risk.objects.filter(owner__is_active=True), today, review_notice_days())
             .filter(Q(review_reminded_on__isnull=True) | Q(review_reminded_on__lte=due_again))
             .select_related("owner").order_by("pk"))
    reminded = []
    with transaction.atomic():
        for risk in risks:
            title, body = _reminder_words(risk, today)
            notifications.send_email(risk.owner, title, body=body, url=reverse("risk:risk", args=[risk.pk]))
            reminded.append(risk.pk)
        for start in range(0, len(reminded), _REMINDER_BATCH):
            Risk.objects.filter(pk__in=reminded[start:start + _REMINDER_BATCH]).update(review_reminded_on=today)
    return len(reminded)


def _reminder_words(risk: Risk, today: date) -> tuple[str, str]:
    if risk.review_on < today:
        return (f"Risk review overdue: {risk.reference} {risk.title}",
                f"The review of {risk.reference} was due {risk.review_on:%Y-%m-%d}. Open the risk to re-score it "
                "or confirm its scores, and set the next review date.")
    return (f"Risk review due {risk.review_on:%Y-%m-%d}: {risk.reference} {risk.title}",
            f"The review of {risk.reference} is due {risk.review_on:%Y-%m-%d}. Open the risk to re-score it or "
            "confirm its scores, and set the next review date.")


# --- the home page ---------------------------------------------------------------------------------

def risk_work(user) -> list:
    """The person's lines on the home page. Asked only of people who hold risk.view somewhere
    (an owner must, where the risk sits: raise_risk checks it) or risk.manage, so that everyone
    else's home page pays no query for the risk module."""
    from andon.platform.services import WorkItem

    if not permissions.can(user, "risk.view"):
        return []
    owner = owns_risks(user)
    manager = permissions.can(user, "risk.manage")
    if not (owner or manager):
        return []
    matrices, today = Matrices(), timezone.localdate()
    items = [WorkItem(*line) for line in _owner_lines(user, matrices, today)] if owner else []
    if manager:
        items += [WorkItem(*line) for line in _manager_lines(user, matrices)]
    return items


def _owner_lines(user, matrices: Matrices, today: date) -> list[tuple]:
    due = Q(review_on__lte=today + timedelta(days=review_notice_days()))
    risks = (Risk.objects.filter(owner=user, status=RiskStatus.OPEN)
             .filter(due | ~Q(flagged_reason="") | matrices.above_tolerance())
             .order_by("review_on", "reference")[:WORK_LIMIT])
    return [_owner_line(risk, matrices.of(risk.organisation_id), today) for risk in risks]


def _owner_line(risk: Risk, matrix: Matrix, today: date) -> tuple:
    overdue = risk.review_on < today
    due = risk.review_on <= today + timedelta(days=review_notice_days())
    asks = matrix.asks_escalation(risk.level, risk.current_score)
    reasons = []
    if overdue:
        late = (today - risk.review_on).days
        reasons.append(f"Review overdue: was due {risk.review_on:%Y-%m-%d} ({late} day{'s' if late != 1 else ''} ago)")
    elif due:
        reasons.append(f"Review due {risk.review_on:%Y-%m-%d}")
    if risk.flagged_reason:
        reasons.append(f"Flagged for review: {risk.flagged_reason}")
    if asks:
        reasons.append(_escalation_words(risk, matrix))
    headline = ("Risk review overdue" if overdue else "Risk flagged for review" if risk.flagged_reason
                else "Risk review due" if due else "Risk asks escalation")
    kind = "alert" if overdue or risk.flagged_reason else "due" if due else "review"
    return (f"{headline}: {risk.reference} {risk.title}", reverse("risk:risk", args=[risk.pk]), kind,
            "; ".join(reasons))


def _escalation_words(risk: Risk, matrix: Matrix) -> str:
    return (f"Current score {risk.current_score} is above what the {LEVEL_LABELS[risk.level].lower()} level "
            f"tolerates ({matrix.tolerance(risk.level)}): it asks to be escalated")


def _manager_lines(user, matrices: Matrices) -> list[tuple]:
    # The manager's own risks are on their owner lines already.
    asking = (Risk.objects.filter(permissions.placed_where(user, "risk.manage"), matrices.above_tolerance(),
                                  status=RiskStatus.OPEN).exclude(owner=user))
    risks = asking.select_related("owner").order_by("-current_score", "reference")
    first = list(risks[:FEW + 1])
    if len(first) > FEW:
        count = asking.count()
        return [(f"{count} risks in your scope ask escalation", f"{reverse('risk:register')}?asking=on", "review",
                 "Their current scores are above what their levels tolerate: escalate each, or lower its score "
                 "with the controls that work.")]
    return [(f"Risk asks escalation: {risk.reference} {risk.title}", reverse("risk:risk", args=[risk.pk]), "review",
             f"{_escalation_words(risk, matrices.of(risk.organisation_id))}. Owner: "
             f"{risk.owner.get_full_name() or risk.owner.username}") for risk in first]


def connect() -> None:
    """Registries of reviews (home page, daily sweep, the demo's risks), from ready()."""
    from andon.platform import services as platform_services
    from andon.platform.demo import register_demo_loader

    from . import demo_risks
    from .sweep import register_sweep

    platform_services.register_work_provider(risk_work)
    register_sweep("risk reviews", remind_reviews)
    register_demo_loader(demo_risks.load)
