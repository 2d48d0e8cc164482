"""Made-up safety events for the demo hospital, as a real hospital's would look on the day the
demo is loaded: 24 months of reports and the current month's so far, from every unit of both
facilities, with a plausible mix of categories and harm (most no or low harm, few severe, two
sentinel events), more falls and more reports in the winter months, and states that follow from
their age: old reports closed (with actions where a review found some), last weeks' under review
or in action planning, the last days' waiting for triage. Two root cause analyses tell the
loop's story: one completed a year ago after a fall with a hip fracture, whose actions (done,
checked) show on the falls chart as fewer falls on 4 West afterwards; one under way after a
retained swab.

The history of the reports is written in bulk, each moved by the workflow's steps as far as its
age allows (none of them needs an RCA); the two RCA stories are made through the module's
services (so they obey its rules: an event whose triage requires an RCA has a completed
investigation with a root cause before it is in action planning or closed), then dated back to
when they would have happened. Deterministic for the seed: the same demo every time, its dates
relative to today. Loaded once."""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.http import Http404
from django.utils import timezone

from andon.platform import audit
from andon.platform.models import Notification, Unit, User

from . import rca, sac, services, taxonomy
from .models import (Investigation, Kind, ReferenceCounter, ReporterMessage, Review, SafetyEvent, Status,
                     Transition, hash_receipt)

SEED = 2026
# Months of reports before the current one: the measures' 24 months (andon/measures/demo.py,
# ending last month) and the current month so far.
MONTHS = 24

# unit (facility/code) -> (reports a month on average, the mix it reports)
UNITS = {
    "rgh/4w": (5.0, "medical"), "rgh/5e": (3.5, "medical"), "rgh/6n": (3.5, "surgical"), "rgh/icu": (3.0, "icu"),
    "rgh/labour": (1.6, "maternity"), "rgh/maternity": (1.6, "maternity"), "rgh/ed": (4.0, "ed"),
    "rgh/theatres": (2.0, "theatre"), "rgh/pharmacy": (1.5, "pharmacy"),
    "lch/2a": (3.0, "medical"), "lch/rehab": (2.0, "rehab"), "lch/ed": (1.5, "ed"), "lch/day-surgery": (0.8, "theatre"),
}
# mix -> category -> weight
MIXES = {
    "medical": {"fall": 30, "medication": 26, "pressure_injury": 14, "device": 7, "hai": 5, "vte": 4, "blood": 2,
                "other": 12},
    "surgical": {"fall": 18, "medication": 24, "pressure_injury": 10, "device": 8, "hai": 12, "vte": 8, "blood": 4,
                 "other": 16},
    "icu": {"medication": 28, "device": 22, "pressure_injury": 18, "hai": 12, "fall": 4, "blood": 6, "vte": 4,
            "other": 6},
    "maternity": {"perinatal": 45, "medication": 20, "blood": 10, "fall": 5, "other": 20},
    "ed": {"medication": 30, "fall": 15, "device": 10, "blood": 5, "other": 40},
    "theatre": {"surgery_anaesthesia": 45, "device": 20, "medication": 15, "other": 20},
    "pharmacy": {"medication": 90, "other": 10},
    "rehab": {"fall": 45, "pressure_injury": 20, "medication": 20, "other": 15},
}
# categories that always reached the patient (an infection, an injury) are incidents
ALWAYS_INCIDENT = {"fall", "pressure_injury", "hai", "vte", "perinatal"}
# harm of an incident: most none or mild, few severe (AHRQ harm scale)
HARMS = [("none", 42), ("mild", 38), ("moderate", 16), ("severe", 4)]

NARRATIVES = {
    "fall": ["Patient found on the floor beside the bed at night; call bell out of reach.",
             "Patient slipped walking to the bathroom without the walking frame.",
             "Patient climbed over the bed rails and fell; bed alarm was not switched on.",
             "Patient lowered to the floor by staff during a transfer from chair to bed."],
    "medication": ["Wrong dose of enoxaparin drawn up; noticed at the bedside check.",
                   "Antibiotic dose given two hours late after the pharmacy supply ran out.",
                   "Insulin prescribed in units read as millilitres on the handwritten chart.",
                   "Patient given paracetamol twice within two hours by two nurses.",
                   "Known penicillin allergy not recorded on the chart; amoxicillin prescribed."],
    "pressure_injury": ["Pressure injury on the sacrum found at the morning skin check.",
                        "Heel pressure injury found under a plaster back-slab.",
                        "Pressure injury on the ear from the oxygen tubing."],
    "device": ["Infusion pump alarm silenced and not reset; occlusion missed for an hour.",
               "Suction unit at the bedside not working at the start of the shift.",
               "Glucometer gave an error; no spare on the ward for twenty minutes."],
    "hai": ["Positive blood culture from a central line in place for nine days.",
            "Urinary tract infection with a catheter in place since admission.",
            "Wound infection at the surgical site on the fifth day after surgery."],
    "vte": ["Deep vein thrombosis found on day six; prophylaxis not prescribed on admission.",
            "Pulmonary embolism after a hip operation; prophylaxis held for bleeding risk."],
    "blood": ["Blood sample labelled away from the bedside; wrong patient's label found by the lab.",
              "Red cells started without the second checker present."],
    "perinatal": ["Delay in calling the obstetrician for a prolonged fetal bradycardia.",
                  "Postpartum haemorrhage; blood loss estimated late."],
    "surgery_anaesthesia": ["Swab count discrepancy at closure; resolved by an X-ray.",
                            "Consent form for the wrong side found at the sign-in check.",
                            "Anaesthetic machine check not recorded before the first case."],
    "other": ["Wet floor in the corridor outside the ward without a sign.",
              "Patient waited four hours on a trolley for a bed.",
              "Handover sheet with patient details found in the public lift.",
              "Aggressive visitor shouted at staff at the nursing station."],
}

REPORTERS = {"rgh": ["nurse.ana", "nurse.ben", "pharm.dev", "dr.evans", "mgr.fatima"],
             "lch": ["nurse.chloe", "mgr.george"]}
OFFICERS = {"rgh": "pso.hana", "lch": "pso.ivan"}
CLOSING = "Thank you for reporting. The team reviewed what happened and shared the learning at the ward huddle."

# The completed RCA: a fall with a hip fracture on 4 West, this many months before the current
# month; its actions are done two months later and cut falls on 4 West by about half.
FALL_RCA_MONTHS_AGO = 13
FALL_ACTIONS_MONTHS_AGO = 11
FALL_TITLES = ("Bed and chair exit alarms on every bed of 4 West", "Hourly purposeful rounding on 4 West")
RETAINED_SWAB_DAYS_AGO = 9


def month_start(today: date, offset: int) -> date:
    """The first day of the month `offset` months before today's (0: this month)."""
    month = today.year * 12 + today.month - 1 - offset
    return date(month // 12, month % 12 + 1, 1)


def season(month: int) -> float:
    """More reports in winter (January the most), fewer in summer."""
    return 1 + 0.18 * math.cos(2 * math.pi * (month - 1) / 12)


def _poisson(chance: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= chance.random()
        if p <= limit:
            return k
        k += 1


def _weighted(chance: random.Random, weights: dict | list):
    items = list(weights.items()) if isinstance(weights, dict) else weights
    return chance.choices([k for k, _ in items], weights=[w for _, w in items])[0]


@dataclass
class Planned:
    """One event to make: what was reported, and when."""

    unit: str
    occurred_at: datetime
    category: str
    kind: str
    harm: str
    details: dict
    narrative: str
    times: list = field(default_factory=list)


def plan(now: datetime, seed: int = SEED) -> list[Planned]:
    """The demo's reports over the 24 months ending today, oldest first (no records made)."""
    chance = random.Random(seed)
    today = timezone.localtime(now).date()
    planned = []
    for offset in range(MONTHS, -1, -1):
        first = month_start(today, offset)
        last = min(month_start(today, offset - 1) - timedelta(days=1), today) if offset else today
        days = (last - first).days + 1
        busy = season(first.month) * days / 30.4
        for path, (rate, mix) in UNITS.items():
            weights = dict(MIXES[mix])
            if "fall" in weights:  # falls rise in winter (dark evenings, flu, delirium)
                weights["fall"] *= season(first.month) ** 2
                if path == "rgh/4w":  # 4 West's falls, until the RCA's actions halved them
                    weights["fall"] *= 0.6 if offset <= FALL_ACTIONS_MONTHS_AGO else 1.8
            count = _poisson(chance, rate * busy)
            if UNITS[path][1] in ("medical", "surgical", "icu", "maternity", "rehab"):
                count = max(count, 1)  # a ward reports something every month
            for _ in range(count):
                at = datetime.combine(first + timedelta(days=chance.randrange(days)), datetime.min.time())
                at = timezone.make_aware(at + timedelta(hours=chance.randint(0, 23), minutes=chance.randint(0, 59)))
                if at > now - timedelta(hours=2):  # later today: a few hours ago, in this month still
                    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
                    at = max(now - timedelta(hours=chance.randint(2, 30)), start + (now - start) / 2)
                planned.append(_event(chance, path, mix, at, weights))
    planned.sort(key=lambda p: p.occurred_at)
    return planned


def _event(chance, path, mix, at, weights) -> Planned:
    category = _weighted(chance, weights)
    if category in ALWAYS_INCIDENT:
        kind = Kind.INCIDENT
    elif category == "other":
        kind = _weighted(chance, [(Kind.UNSAFE_CONDITION, 45), (Kind.INCIDENT, 35), (Kind.NEAR_MISS, 20)])
    else:
        kind = _weighted(chance, [(Kind.INCIDENT, 55), (Kind.NEAR_MISS, 35), (Kind.GOOD_CATCH, 10)])
    harm = _weighted(chance, HARMS) if kind == Kind.INCIDENT else ""
    return Planned(path, at, category, kind, harm, _details(chance, category, kind, harm),
                   chance.choice(NARRATIVES[category]))


def _details(chance, category: str, kind: str, harm: str) -> dict:
    if category == "fall":
        injury = {"none": "none", "mild": "minor", "moderate": "moderate", "severe": "major"}[harm]
        return {"injury_level": injury, "assisted": chance.random() < 0.15, "risk_assessed": chance.random() < 0.7}
    if category == "medication":
        merp = {"": chance.choice("AB"), "none": chance.choice("CD"), "mild": "E", "moderate": "F", "severe": "G"}[harm]
        return {"ncc_merp": merp, "process_stage": chance.choice(["prescribing", "dispensing", "administering",
                                                                  "administering", "monitoring"])}
    if category == "pressure_injury":
        stage = {"none": "1", "mild": "2", "moderate": "3", "severe": "4"}[harm]
        return {"stage": stage, "present_on_admission": False}
    if category == "hai":
        return {"infection_type": chance.choice(["clabsi", "cauti", "ssi", "cdiff", "other"])}
    if category == "vte":
        return {"type": chance.choice(["dvt", "dvt", "pe"]), "prophylaxis_given": chance.random() < 0.5}
    if category == "perinatal":
        return {"affected": chance.choice(["mother", "neonate", "both"])}
    if category == "surgery_anaesthesia":
        return {"type": chance.choice(["anaesthesia", "other", "other", "wrong_site"]) if kind != Kind.INCIDENT
                else chance.choice(["anaesthesia", "other"])}
    if category == "device":
        return {"device": chance.choice(["Volumetric infusion pump", "Suction unit", "Glucometer"]),
                "health_it": False, "problem": chance.choice(["malfunction", "use_error"])}
    if category == "blood":
        return {"product": "red_cells", "stage": chance.choice(["sample", "administering"]), "incompatibility": False}
    return {}


# --- making the records -------------------------------------------------------------------------

def load_demo_events() -> None:
    if SafetyEvent.objects.exists():
        return
    people = {u.username: u for u in User.objects.filter(is_demo=True)}
    if not {"pso.hana", "pso.ivan", "mgr.fatima", "cqo.olivia"} <= set(people):
        return
    units = {f"{u.facility.code}/{u.code}": u for u in Unit.objects.select_related("facility")}
    now = timezone.now()
    chance = random.Random(SEED + 1)
    since = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    _history(chance, plan(now), units, people, now)
    fall_actions, done = _fall_rca(units, people, now)
    _retained_swab_rca(units, people, now)
    renamed = _renumber(since)
    _date_back_actions(people["pso.hana"], fall_actions, done, renamed)


def _history(chance, plans: list[Planned], units, people, now) -> None:
    """The reports, made as they would stand today: each triaged and moved as far as its age
    allows, by the rules of the workflow (none of these needs an RCA: a report with severe harm is
    scored SAC 2 and reviewed by its unit), with its transitions and the reporter's feedback.
    Written in bulk: made one by one through the services, the demo's 700 reports took half a
    minute to load, and every browser test loads the demo."""
    tax = taxonomy.current()
    events, transitions, messages = [], [], []
    for number, planned in enumerate(plans):
        event, moves = _plan_moves(chance, planned, units, people, now, tax)
        event.reference = f"EV-DEMO-{number}"  # numbered by the year of the report at the end
        events.append(event)
        for (source, target, at, by, reason) in moves:
            transitions.append(Transition(event=event, source=source, target=target, by=by, at=at, reason=reason))
            text = event.closing_summary if target == Status.CLOSED else services.REPORTER_STATUS_TEXT[target]
            messages.append(ReporterMessage(event=event, text=text, is_closing_summary=target == Status.CLOSED,
                                            created_at=at))
    SafetyEvent.objects.bulk_create(events, batch_size=500)
    Transition.objects.bulk_create(transitions, batch_size=1000)
    ReporterMessage.objects.bulk_create(messages, batch_size=1000)


def _plan_moves(chance, planned: Planned, units, people, now, tax):
    facility = planned.unit.split("/")[0]
    officer = people[OFFICERS[facility]]
    anonymous = chance.random() < 0.08
    report = services.Report(kind=planned.kind, category=planned.category, unit_id=units[planned.unit].pk,
                             occurred_at=planned.occurred_at, narrative=planned.narrative, harm=planned.harm,
                             details=planned.details, anonymous=anonymous,
                             share_identity=not anonymous and chance.random() < 0.3)
    errors, details = services.check_report(report, tax=tax)  # what the report page would accept
    if errors:
        raise ValueError(f"demo report {planned}: {errors}")
    reported = max(planned.occurred_at, min(planned.occurred_at + timedelta(hours=chance.uniform(0.5, 30)),
                                            now - timedelta(minutes=30)))
    event = _Fields(
        kind=report.kind, category=report.category, reported_category=report.category, taxonomy_version=tax.version,
        unit_id=report.unit_id, occurred_at=report.occurred_at, narrative=report.narrative, details=details,
        harm=report.harm, is_anonymous=anonymous, reporter_shares_identity=report.share_identity,
        reporter=None if anonymous else people[chance.choice(REPORTERS[facility])],
        reported_at=audit.start_of_day(reported) if anonymous else reported, status=Status.SUBMITTED)
    event.pses_entered_at = event.reported_at
    if anonymous:  # the code is not kept: nobody follows these made-up reports
        event.receipt_hash = hash_receipt(secrets.token_hex(8))
    moves = []

    def move(target, at, reason):
        moves.append((event.status, target, at, officer, reason))
        event.status = target
        if event.first_feedback_at is None:
            event.first_feedback_at = at

    age = (now - planned.occurred_at).days
    if age < 3 or (age < 6 and chance.random() < 0.5):  # waits for triage
        if chance.random() < 0.4:
            move(Status.TRIAGE, max(reported, min(reported + timedelta(hours=chance.uniform(2, 20)),
                                                  now - timedelta(minutes=10))),
                 "Reading the report")
        return event.made(), moves
    severe = planned.harm == "severe"
    needs_review = planned.harm in ("mild", "moderate", "severe") or planned.category in ("hai", "vte")
    review = Review.LOCAL if needs_review or chance.random() < 0.15 else Review.NONE
    severity = {"severe": "major", "moderate": "moderate", "mild": "minor"}.get(planned.harm, "minor")
    if planned.kind != Kind.INCIDENT:  # a close call is scored by its likely worst outcome
        severity = chance.choice(["minor", "minor", "moderate"])
    probability = chance.choice(["occasional", "uncommon"]) if severe else chance.choice(["frequent", "occasional"])
    score = sac.score(severity, probability)
    if sac.requires_rca(score, False):  # the RCAs are the two stories below, made through the services
        raise ValueError(f"demo report {planned} would need an RCA")
    triaged = min(reported + timedelta(hours=chance.uniform(4, 60)), now - timedelta(minutes=20))
    reason = ("Severe harm: unit review with the safety team" if severe else
              "Local review by the unit" if review == Review.LOCAL else "Learning shared; no further review")
    event.sac_scheme, event.sac_severity, event.sac_probability, event.sac_score = sac.SCHEME, severity, probability, score
    event.review, event.triaged_by, event.triaged_at, event.triage_reason = review, officer, triaged, reason
    move(Status.TRIAGE, triaged, "Triage started.")
    if review == Review.NONE:
        if age > 10 or chance.random() < 0.5:
            _close(event, move, min(triaged + timedelta(days=chance.uniform(1, 8)), now - timedelta(minutes=5)),
                   "No further review needed")
        return event.made(), moves
    move(Status.REVIEW, triaged, reason)
    # a local review takes two to six weeks; then the unit plans actions (or has none) and closes
    reviewed = triaged + timedelta(days=chance.uniform(12, 42))
    if reviewed > now:
        return event.made(), moves
    closed = reviewed
    # the review's findings are recorded before the event moves on (services.record_review_findings)
    event.review_findings = REVIEW_FINDINGS.get(planned.category, REVIEW_FINDINGS[""])
    event.review_findings_by, event.review_findings_at = officer, reviewed
    if planned.harm in ("moderate", "severe") or chance.random() < 0.25:
        move(Status.ACTION_PLANNING, reviewed, "Local review done: actions agreed with the unit")
        closed = reviewed + timedelta(days=chance.uniform(7, 30))
        if closed > now:
            return event.made(), moves
    _close(event, move, closed, "Review complete")
    return event.made(), moves


# What a unit's local review found, by category (what the demo records as its findings).
REVIEW_FINDINGS = {
    "fall": "Reviewed with the ward at the safety huddle: the falls risk assessment was not repeated "
            "after the patient's medication changed.",
    "medication": "Reviewed with pharmacy and the ward: the second check was skipped at a busy handover.",
    "pressure_injury": "Reviewed with the tissue viability nurse: repositioning was not recorded overnight.",
    "": "Reviewed with the unit at the weekly huddle: the agreed checks were not done at handover.",
}


class _Fields(dict):
    """A report's fields while its moves are worked out (the model refuses a status set other
    than by its transitions, once made)."""

    def __getattr__(self, name):
        return self.get(name)

    def __setattr__(self, name, value):
        self[name] = value

    def made(self) -> SafetyEvent:
        return SafetyEvent(**self)


def _close(event, move, at, reason) -> None:
    event.closing_summary, event.closed_at = CLOSING, at
    move(Status.CLOSED, at, reason)


def _date_back(event: SafetyEvent, steps: list[datetime], since: int, now: datetime) -> None:
    """Give the event, its transitions and its reporter's feedback the times they would have had
    (the services stamp them with the time the demo is loaded). `steps`: when it was reported,
    then when each of its transitions happened, in order."""
    reported, rest = steps[0], steps[1:]
    event.refresh_from_db()
    if event.is_anonymous:  # as services keep it: only the day of an anonymous report
        reported = audit.start_of_day(reported)
    transitions = list(Transition.objects.filter(event=event).order_by("at", "pk"))
    for transition, at in zip(transitions, rest, strict=True):
        Transition.objects.filter(pk=transition.pk).update(at=at)
    messages = list(ReporterMessage.objects.filter(event=event).order_by("created_at", "pk"))
    for message, at in zip(messages, rest, strict=True):  # one message to the reporter per transition
        ReporterMessage.objects.filter(pk=message.pk).update(created_at=at)
    fields = {"reported_at": reported, "pses_entered_at": reported, "first_feedback_at": rest[0] if rest else None}
    triage_started = [at for t, at in zip(transitions, rest, strict=True) if t.source == Status.SUBMITTED]
    if event.triaged_at and triage_started:
        fields["triaged_at"] = triage_started[0]
    if event.closed_at:
        fields["closed_at"] = rest[-1]
    SafetyEvent.objects.filter(pk=event.pk).update(**fields)
    # Notifications sent meanwhile: the officers' "new report" when it was reported, the
    # reporter's updates with each transition; read once a few days old.
    updates = iter(rest)
    for note in Notification.objects.filter(pk__gt=since).order_by("pk"):
        at = next(updates, rest[-1] if rest else reported) if note.title.startswith("Update on") else reported
        read = at + timedelta(days=1) if now - at > timedelta(days=7) else None
        Notification.objects.filter(pk=note.pk).update(created_at=at, read_at=read)


def _renumber(since: int) -> dict[str, str]:
    """References by the year each report was made, numbered in order (as they would have been
    given on the day): the services number them in the year the demo is loaded."""
    events = list(SafetyEvent.objects.order_by("reported_at", "pk").only("pk", "reference", "reported_at",
                                                                         "is_anonymous"))
    SafetyEvent.objects.update(reference=None)
    numbers, renamed = {}, {}
    chance = random.Random(SEED + 2)
    for event in events:
        year = event.reported_at.year
        if event.is_anonymous:  # in no numbered series, as services.assign_reference gives them
            new = f"EV-{year}-A-" + "".join(chance.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(6))
        else:
            numbers[year] = numbers.get(year, 0) + 1
            new = f"EV-{year}-{numbers[year]:06d}"
        renamed[event.reference] = new
        SafetyEvent.objects.filter(pk=event.pk).update(reference=new)
    ReferenceCounter.objects.all().delete()
    ReferenceCounter.objects.bulk_create([ReferenceCounter(year=y, last=n) for y, n in numbers.items()])
    for note in Notification.objects.filter(pk__gt=since):
        words = note.title.split()
        title = " ".join(renamed.get(w, w) for w in words)
        if title != note.title:
            Notification.objects.filter(pk=note.pk).update(title=title)
    return renamed


# --- the two root cause analyses ---------------------------------------------------------------

def _fall_rca(units, people, now) -> tuple[list, date]:
    """A sentinel fall with a hip fracture on 4 West: RCA completed, two actions done and checked
    as effective (falls on 4 West halved: see the falls chart), the event closed."""
    officer, manager = people["pso.hana"], people["mgr.fatima"]
    today = timezone.localtime(now).date()
    occurred = timezone.make_aware(datetime.combine(month_start(today, FALL_RCA_MONTHS_AGO) + timedelta(days=9),
                                                    datetime.min.time()) + timedelta(hours=3, minutes=40))
    since = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    event = services.submit_report(people["nurse.ana"], services.Report(
        kind=Kind.INCIDENT, category="fall", unit_id=units["rgh/4w"].pk, occurred_at=occurred,
        narrative="Patient, 84, with delirium found on the floor at 03:40 beside the bed; bed rails up, bed "
                  "alarm off. Unable to stand; X-ray showed a fractured neck of femur. Surgery the next day.",
        harm="severe", details={"injury_level": "major", "assisted": False, "risk_assessed": True},
        immediate_action="Doctor called, analgesia, X-ray; family informed.", share_identity=True))[0]
    event = services.triage(officer, event, services.Triage(
        category="fall", harm="severe", sac_severity="major", sac_probability="frequent", sentinel=True,
        review=Review.RCA, reason="Fall with a hip fracture: sentinel event, RCA required (SAC 3)"))
    investigation = _analyse(officer, event, people, [
        (occurred - timedelta(hours=5), "Evening fall-risk assessment: high risk (Morse 65); bed alarm planned."),
        (occurred - timedelta(hours=1), "Last check at 02:40: asleep; bed alarm found switched off after the fall."),
        (occurred, "Patient found on the floor beside the bed."),
    ], "Why did the patient get up alone at night?",
        ["The bed alarm was off", "Alarms are switched off for false alarms and not switched on again",
         "No check that high-risk patients' alarms are on"],
        [("environment", "Bed alarms on 4 West switched off at the bedside without a record"),
         ("fatigue", "Two nurses for 28 beds on nights"),
         ("communication", "Fall risk not passed on at the evening handover")],
        "Bed alarms of high-risk patients could be switched off with no check that they were on again, so a "
        "patient at high risk of falling got up unobserved at night.")
    rca.complete_investigation(officer, investigation, "RCA complete: root cause and actions agreed")
    rca.sign_findings(officer, investigation)  # the lead signs; the CQO approves
    rca.approve_investigation(people["cqo.olivia"], investigation)
    done = month_start(today, FALL_ACTIONS_MONTHS_AGO) + timedelta(days=14)
    actions = []
    for title, strength in zip(FALL_TITLES, ["stronger", "intermediate"], strict=True):
        action = services.add_rca_action(officer, investigation, title=title, owner=manager,
                                         due_date=today + timedelta(days=30), strength=strength,
                                         measure="Falls per 1,000 patient days on 4 West, monthly (falls chart)")
        _finish_action(officer, people["cqo.olivia"], manager, action, done, today)
        actions.append(action)
    _mark_on_the_falls_chart(people["cqo.olivia"], actions[0], done)
    services.move(officer, event, "close", "Actions done and checked as effective",
                  closing_summary="Thank you for reporting. Bed alarms now stay on for every high-risk patient, "
                                  "checked every hour; falls on 4 West have halved since.")
    reported = occurred + timedelta(hours=2)
    triaged = reported + timedelta(hours=6)
    completed = occurred + timedelta(days=38)
    closed = timezone.make_aware(datetime.combine(done + timedelta(days=75), datetime.min.time()))
    _date_back(event, [reported, triaged, triaged, completed, closed], since, now)
    _date_investigation(investigation, triaged + timedelta(hours=20), completed)
    return actions, done


def _finish_action(officer, cqo, manager, action, done: date, today: date) -> None:
    from andon.actions import services as actions

    actions.decide(cqo, action, True, "Approved at the quality committee")
    actions.set_status(manager, action, "in_progress")
    actions.set_status(manager, action, "done", note="In place on every bed")
    checked = min(done + timedelta(days=90), today)
    actions.record_effectiveness(officer, action, "effective", "Falls on 4 West fell by about half in the three "
                                 "months after (falls chart, 4 West).", checked_on=checked)


def _date_back_actions(officer, fall_actions, done: date, renamed: dict) -> None:
    """The fall RCA's actions: made, approved and done when they were, labelled with the
    event's reference as renumbered."""
    from andon.actions import services as actions

    created = timezone.make_aware(datetime.combine(done - timedelta(days=40), datetime.min.time()))
    for action in fall_actions:
        old = action.source_label.rsplit(" ", 1)[-1]
        actions.date_back(officer, action, created_at=created, approved_at=created + timedelta(days=5),
                          completed_at=timezone.make_aware(datetime.combine(done, datetime.min.time())),
                          due_date=done + timedelta(days=7), source_label=f"RCA for {renamed.get(old, old)}")


def _mark_on_the_falls_chart(cqo, action, done: date) -> None:
    """The loop's proof: the actions marked on the falls chart, its limits recomputed from then."""
    from andon.measures import services as measures

    try:
        falls = measures.access_measure(cqo, "falls")
    except Http404:  # a hospital without the falls measure: nothing to mark
        return
    measures.annotate(cqo, falls, on=done.replace(day=1), text="Bed-exit alarms and hourly rounding on 4 West",
                      kind="action", rebase=True, action=action)


def _retained_swab_rca(units, people, now) -> None:
    """A retained swab found after surgery: sentinel, its RCA under way (a team, a timeline and
    factors; no root cause yet)."""
    officer = people["pso.hana"]
    occurred = now - timedelta(days=RETAINED_SWAB_DAYS_AGO, hours=5)
    since = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    event = services.submit_report(people["dr.evans"], services.Report(
        kind=Kind.INCIDENT, category="surgery_anaesthesia", unit_id=units["rgh/theatres"].pk, occurred_at=occurred,
        narrative="Abdominal pain after a laparotomy; CT on day 6 showed a retained swab. Return to theatre.",
        harm="severe", details={"type": "retained_object"}, immediate_action="Return to theatre; swab removed.")
    )[0]
    event = services.triage(officer, event, services.Triage(
        category="surgery_anaesthesia", harm="severe", sac_severity="major", sac_probability="uncommon",
        sentinel=True, review=Review.RCA, reason="Retained foreign object: sentinel event, RCA required"))
    investigation = rca.start_investigation(officer, event)
    rca.add_team_member(officer, investigation, people["cmo.peter"], "expert")
    rca.add_fact(officer, investigation, occurred - timedelta(days=6), "Laparotomy; swab count recorded as correct.")
    rca.add_fact(officer, investigation, occurred, "CT shows a retained swab.")
    rca.add_factor(officer, investigation, "rules", "Count not repeated after the change of scrub nurse")
    reported = occurred + timedelta(hours=3)
    triaged = reported + timedelta(hours=4)
    _date_back(event, [reported, triaged, triaged], since, now)
    _date_investigation(investigation, triaged + timedelta(hours=20), None)


def _analyse(officer, event, people, facts, problem, whys, factors, root_cause) -> Investigation:
    investigation = rca.start_investigation(officer, event)
    rca.add_team_member(officer, investigation, people["mgr.fatima"], "expert")
    rca.add_team_member(officer, investigation, people["cmo.peter"], "safety")
    for at, fact in facts:
        rca.add_fact(officer, investigation, at, fact)
    rca.add_why_chain(officer, investigation, problem, whys)
    for category, description in factors:
        rca.add_factor(officer, investigation, category, description)
    rca.add_root_cause(officer, investigation, root_cause)
    return investigation


def _date_investigation(investigation: Investigation, started: datetime, completed: datetime | None) -> None:
    Investigation.objects.filter(pk=investigation.pk).update(started_at=started, completed_at=completed)
    if completed is not None:  # its sign-offs followed the completion
        Investigation.objects.filter(pk=investigation.pk, signed_at__isnull=False).update(
            signed_at=completed + timedelta(hours=2), approved_at=completed + timedelta(days=2))
    event = SafetyEvent.objects.get(pk=investigation.event_id)
    start_due, complete_due = services.rca_deadlines(event.triaged_at)
    SafetyEvent.objects.filter(pk=event.pk).update(rca_started_at=started, rca_start_due=start_due,
                                                   rca_complete_due=complete_due)
