"""Risk: links from a risk to the records of other modules. Safety events, their root cause
analyses and root causes; measures, as key risk indicators; proactive assessments (FMEA, HFMEA);
compliance findings.

The other module owns the record and is asked through its services: whether the user may see it
before it is linked, and, each time the risk is shown, what the reader may learn of it. Safety
records are patient safety work product (DOMAIN.md §9): a link keeps the event's reference only,
and its title is shown only to readers who may open the event. A measure linked as an indicator
shows its latest SPC verdict, and a special cause in the wrong direction flags the risk for review
(`flag_from_indicators`, once per signal: a review since the signal's period clears it for good).
A root cause of an RCA raises a risk in one step (`raise_from_root_cause`)."""

from datetime import date, datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from andon.compliance import services as compliance
from andon.measures import services as measures
from andon.platform import audit, inputs, permissions
from andon.safety import services as safety

from .fmea import access_assessment, visible_assessments
from .models import Risk, RiskLink, RiskStatus, ScoreReason
from .register import raise_risk

__all__ = [
    "KIND_WORDS", "flag_from_indicators", "link_record", "links_shown", "measures_to_link", "raise_from_root_cause",
    "root_cause_draft", "unlink_record",
]

KIND_WORDS = {
    "safety_event": "Safety event", "investigation": "Root cause analysis", "root_cause": "Root cause",
    "measure": "Measure", "fmea": "Proactive assessment (FMEA, HFMEA)", "compliance_finding": "Compliance finding",
}
SAFETY_KINDS = safety.LINKABLE_KINDS
CONCERN = "special_cause_concern"  # the measures' verdict of a special cause in the wrong direction
TITLE_LIMIT = 200


# --- linking ------------------------------------------------------------------------------------

def _target(user, kind: str, key) -> tuple[str, str]:
    """(the key kept, the label kept) of the record, asked of the module that owns it, which
    checks that the user may see it (Http404, PermissionDenied)."""
    if kind in SAFETY_KINDS:
        found = safety.linkable_record(user, kind, key)
        return str(found.key), found.reference  # every reader of the risk sees the label: the reference only
    if kind == "measure":
        measure = measures.access_measure(user, str(key or "").strip()[:100])
        return measure.key, measure.title
    pk = inputs.record_id(key)
    if pk is None:
        raise Http404
    if kind == "fmea":
        assessment = access_assessment(user, pk)
        return str(pk), f"{assessment.reference} {assessment.title}"
    return str(pk), compliance.access_finding(user, pk).title


def _check_link(risk: Risk, kind: str, indicator: bool) -> None:
    if risk.status != RiskStatus.OPEN:
        raise ValidationError({"status": f"{risk.reference} is closed: reopen it to change it."})
    if kind not in KIND_WORDS:
        raise ValidationError({"kind": f"{kind!r} is not something a risk links to; choose one of "
                                       f"{', '.join(KIND_WORDS.values())}."})
    if indicator and kind != "measure":
        raise ValidationError({"indicator": "Only a measure is a key risk indicator."})


@audit.changes_by_user
@transaction.atomic
def link_record(user, risk: Risk, kind: str, key, *, indicator: bool = False) -> RiskLink:
    """Link the risk (its owner or the risk manager) to a record the user may see; a record that
    is not there, or is linked already, is a ValidationError on `key`."""
    permissions.check(user, "risk.edit_risk", risk)
    _check_link(risk, kind, indicator)
    try:
        key, label = _target(user, kind, key)
    except Http404:
        raise ValidationError({"key": f"There is no {KIND_WORDS[kind].lower()} {inputs.shown(key)}."}) from None
    if risk.links.filter(kind=kind, key=key).exists():
        raise ValidationError({"key": f"{risk.reference} is already linked to {label}."})
    return RiskLink.objects.create(risk=risk, kind=kind, key=key, label=label[:200], indicator=indicator,
                                   linked_by=user)


def measures_to_link() -> list[tuple[str, str]]:
    """[(key, title)] of the library's measures, by domain and title: what a risk may take as an
    indicator (whether the user may see one is asked when it is linked)."""
    return [(measure.key, measure.title) for measure in measures.listed_measures()]


@audit.changes_by_user
@transaction.atomic
def unlink_record(user, link: RiskLink) -> None:
    permissions.check(user, "risk.edit_risk", link.risk)
    if link.risk.status != RiskStatus.OPEN:
        raise ValidationError({"status": f"{link.risk.reference} is closed: reopen it to change it."})
    link.delete()


# --- reading ------------------------------------------------------------------------------------

def links_shown(user, risk: Risk) -> list[dict]:
    """The risk's links as `user` may read them: {link, kind, text, url, verdict}. A record the
    user may not see is named by its reference (safety) or its kind and id, without its title or
    page; an indicator carries its measure's latest SPC verdict (measures.latest_verdict)."""
    links = list(risk.links.order_by("kind", "pk"))
    seen = _seen_elsewhere(user, links)
    rows = []
    for link in links:
        text, url = seen.get((link.kind, link.key), (f"{KIND_WORDS[link.kind]} {link.key}", ""))
        rows.append({"link": link, "kind": KIND_WORDS.get(link.kind, link.kind), "text": text, "url": url,
                     "verdict": measures.latest_verdict(link.key) if link.kind == "measure" else None})
    return rows


def _seen_elsewhere(user, links) -> dict:
    """{(kind, key): (text, url)} of what `user` may read of each linked record: one question per
    kind to the module that owns it, never one per link."""
    keys = {kind: [link.key for link in links if link.kind == kind] for kind in KIND_WORDS}
    found = {}
    safety_seen = safety.linked_records(user, [(link.kind, link.key) for link in links if link.kind in SAFETY_KINDS])
    for (kind, pk), record in safety_seen.items():
        found[(kind, str(pk))] = (" · ".join(filter(None, [record["reference"], record["title"]])), record["url"])
    if keys["measure"] and permissions.can(user, "measures.view"):
        found.update({("measure", m.key): (m.title, reverse("measures:measure", args=[m.key]))
                      for m in measures.listed_measures().filter(key__in=keys["measure"])})
    for assessment in visible_assessments(user).filter(pk__in=keys["fmea"]):
        found[("fmea", str(assessment.pk))] = (f"{assessment.reference} {assessment.title}", "")
    for finding in compliance.visible_findings(user).filter(pk__in=keys["compliance_finding"]):
        url = reverse("compliance:finding", args=[finding.pk])
        found[("compliance_finding", str(finding.pk))] = (finding.title, url)
    return found


# --- a risk from a root cause -------------------------------------------------------------------

def root_cause_draft(user, root_cause_id) -> dict:
    """What the raise form starts with for a risk raised from a root cause (the user may read its
    analysis): the statement as the cause, the event's unit as the place, a title from it."""
    cause = safety.root_cause_for(user, root_cause_id)
    return {"root_cause": cause, "title": _title_from(cause.statement), "cause": cause.statement, "unit": cause.unit}


def _title_from(statement: str) -> str:
    first = " ".join(statement.split()).split(". ")[0].rstrip(".")
    return first if len(first) <= TITLE_LIMIT else first[:TITLE_LIMIT - 1].rstrip() + "…"


@audit.changes_by_user
@transaction.atomic
def raise_from_root_cause(user, root_cause_id, **fields) -> Risk:
    """`raise_risk` with `fields`, linked in the same transaction to the root cause, its
    analysis and its event (the user may read the analysis)."""
    cause = safety.root_cause_for(user, root_cause_id)
    risk = raise_risk(user, **fields)
    for kind, key in (("root_cause", cause.id), ("investigation", cause.investigation_id),
                      ("safety_event", cause.event_id)):
        RiskLink.objects.create(risk=risk, kind=kind, key=str(key), label=cause.event_reference, linked_by=user)
    return risk


# --- key risk indicators ------------------------------------------------------------------------

def flag_from_indicators(today: date | None = None) -> int:
    """Flag for review each open risk one of whose key risk indicators shows a special cause in
    the wrong direction at its latest point, unless it is flagged already or was reviewed after
    that point's period ended (the review has seen it): once per signal. Each measure's verdict is
    worked out once. Returns how many risks were flagged."""
    today = today or timezone.localdate()
    moment = timezone.now() if today == timezone.localdate() else timezone.make_aware(datetime.combine(today, time()))
    verdicts, flagged = {}, set()
    indicators = RiskLink.objects.filter(kind="measure", indicator=True, risk__status=RiskStatus.OPEN,
                                         risk__flagged_at=None).select_related("risk").order_by("risk", "pk")
    for link in indicators:
        if link.key not in verdicts:
            verdicts[link.key] = measures.latest_verdict(link.key)
        verdict, risk = verdicts[link.key], link.risk
        if not verdict or verdict["code"] != CONCERN or risk.pk in flagged:
            continue
        if _reviewed_after(risk, verdict["period_start"]):
            continue
        risk.flagged_reason = (f"Key risk indicator “{verdict['title']}” shows a special cause of concern "
                               f"({verdict['period_start']:%Y-%m}).")[:300]
        risk.flagged_at = moment
        risk.save(update_fields=["flagged_reason", "flagged_at"])
        flagged.add(risk.pk)
    return len(flagged)


def _reviewed_after(risk: Risk, period_start: date) -> bool:
    # A month's result exists only once the month is over: a review from then on has seen it.
    end = date(period_start.year + period_start.month // 12, period_start.month % 12 + 1, 1)
    since = timezone.make_aware(datetime.combine(end, time()))
    return risk.scores.filter(reason__in=(ScoreReason.RESCORED, ScoreReason.REVIEWED), at__gte=since).exists()


def connect() -> None:
    """Registries of the links, from ready(): key risk indicators flag their risks each day."""
    from .sweep import register_sweep

    register_sweep("key risk indicators", flag_from_indicators)
