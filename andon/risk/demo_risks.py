"""The demo hospital's risks (made up): a register across wards, departments, a facility and the
board assurance framework, each risk with a few months of scores behind it; one asks escalation
(falls on 4 West: above what a ward tolerates), one is flagged by its key risk indicator, one sits
on the board assurance framework with its controls, assurance and gaps, one is overdue for review,
one is closed. Beside them the year's proactive assessments: an FMEA of dispensing high-alert
medicines (one cause over the threshold, its action done, re-scored lower) and an HFMEA of the
bedside check before a transfusion (the decision tree answered). Made through the services, as
people would; only the dates are moved back, so the trends span months."""

from datetime import timedelta

from django.utils import timezone

from andon.actions import services as actions
from andon.platform import content
from andon.platform.models import User

from . import fmea, register
from .models import Level, Method, Risk, RiskLink, ScoreRecord, ScoringStage

# Days back from today at which each score record of a demo risk stands, oldest first.
MONTHS_BACK = (150, 95, 40, 10)
# Each risk: who raises and owns it, where, its statement, and its scores (inherent, current,
# target) as raised and at each later review, with the review's note.
RISKS = {
    "falls": {
        "by": "mgr.fatima", "owner": "mgr.fatima", "place": "rgh/4w", "category": "clinical",
        "title": "Falls with harm on 4 West at night",
        "cause": "one registered nurse for fourteen beds at night and a rising share of confused older patients",
        "event": "patients at risk get up unaided and fall", "effect": "fractures, head injuries and longer stays",
        "scores": [((4, 4), (4, 2), (4, 1), ""), ((4, 4), (4, 2), (4, 1), "Falls steady; bed alarms on every bay."),
                   ((4, 4), (4, 3), (4, 1), "Three falls with harm in January, two at night: one nurse for 14 beds.")],
    },
    "medication": {
        "by": "mgr.fatima", "owner": "mgr.fatima", "place": "rgh/5e", "category": "clinical",
        "title": "Medication administration errors on 5 East",
        "cause": "interruptions during the morning medicine round",
        "event": "a patient is given the wrong dose or misses a dose",
        "effect": "harm from missed anticoagulants or doubled doses",
        "scores": [((3, 3), (3, 2), (3, 1), ""), ((3, 3), (3, 2), (3, 1), "Reviewed with the ward pharmacist.")],
    },
    "staffing": {
        "by": "risk.noah", "owner": "cqo.olivia", "place": "", "category": "operational",
        "title": "Nurse staffing below safe levels across Riverside",
        "cause": "registered nurse vacancies and winter demand",
        "event": "wards run below their planned staffing for several shifts in a row",
        "effect": "missed care, harm to patients and staff leaving",
        "scores": [((5, 4), (4, 4), (4, 2), ""), ((5, 4), (4, 4), (4, 2), "Vacancy rate 11 %; agency use in budget."),
                   ((5, 4), (4, 4), (4, 2), "Winter: three wards below their planned staffing most nights.")],
    },
    "dispensing": {
        "by": "risk.noah", "owner": "risk.noah", "place": "rgh/pharmacy", "category": "clinical",
        "title": "Look-alike high-alert medicines in the dispensary",
        "cause": "two concentrations of the same high-alert medicine in look-alike vials",
        "event": "the wrong concentration is dispensed", "effect": "a ten-fold overdose",
        "scores": [((5, 3), (5, 3), (5, 1), ""), ((5, 3), (5, 2), (5, 1), "Look-alike vials separated after the FMEA.")],
    },
    "pressure": {
        "by": "mgr.george", "owner": "mgr.george", "place": "lch/2a", "category": "clinical",
        "title": "Pressure injuries on 2A",
        "cause": "too few pressure-relieving mattresses for the ward's frail patients",
        "event": "patients develop pressure injuries during their stay", "effect": "pain, infection and longer stays",
        "scores": [((3, 3), (3, 2), (2, 2), ""), ((3, 3), (3, 2), (2, 2), "Mattress audit done; no change.")],
    },
    "ventilation": {
        "by": "risk.noah", "owner": "risk.noah", "place": "rgh/theatres", "category": "operational",
        "title": "Theatre ventilation fails during maintenance",
        "cause": "an ageing air handling unit serving two theatres", "event": "ventilation fails during surgery",
        "effect": "cancelled operations and a higher risk of surgical site infection",
        "scores": [((4, 2), (4, 2), (4, 1), ""), ((4, 2), (2, 1), (2, 1), "New air handling unit commissioned.")],
    },
}


def _person(username):
    return User.objects.get(username=username)


def _risk(spec: dict) -> Risk:
    """The risk of `spec` raised and reviewed as its scores say, its records then moved back over
    the months (MONTHS_BACK, the latest last)."""
    user, today = _person(spec["by"]), timezone.localdate()
    fields = {name: spec[name] for name in ("title", "cause", "event", "effect", "category")}
    place = spec["place"]
    kind = "unit" if "/" in place else "facility" if place else "organisation"
    trend = [({"inherent": i, "current": c, "target": t}, note) for i, c, t, note in spec["scores"]]
    found = register.raise_risk(user, owner=_person(spec["owner"]), scores=trend[0][0], **fields,
                                review_on=today + timedelta(days=30), **{kind: content.resolve_scope(place)})
    for scores, note in trend[1:]:
        found = register.rescore(user, found, scores, review_on=today + timedelta(days=30), note=note)
    records = list(ScoreRecord.objects.filter(risk=found).order_by("pk"))
    for record, days in zip(records, MONTHS_BACK[-len(records):], strict=True):
        ScoreRecord.objects.filter(pk=record.pk).update(at=timezone.now() - timedelta(days=days))
    Risk.objects.filter(pk=found.pk).update(created_at=timezone.now() - timedelta(days=MONTHS_BACK[-len(records)]))
    found.refresh_from_db()
    return found


def load() -> None:
    if Risk.objects.filter(title=RISKS["falls"]["title"]).exists():
        return  # the demo's risks are there already
    risks = {key: _risk(spec) for key, spec in RISKS.items()}
    noah, today = _person("risk.noah"), timezone.localdate()
    # Falls ask escalation (12, above a ward's 6) and are due for review within the notice days.
    Risk.objects.filter(pk=risks["falls"].pk).update(review_on=today + timedelta(days=9))
    RiskLink.objects.create(risk=risks["falls"], kind="measure", key="falls", indicator=True, linked_by=noah,
                            label="Inpatient falls per 1,000 bed days")
    # Medication errors: flagged by their key risk indicator.
    RiskLink.objects.create(risk=risks["medication"], kind="measure", key="medication-events", indicator=True,
                            label="Medication events", linked_by=noah)
    Risk.objects.filter(pk=risks["medication"].pk).update(
        flagged_reason="Medication events: special cause in the wrong direction (a run above the mean)",
        flagged_at=timezone.now() - timedelta(days=3))
    _on_the_board(noah, risks["staffing"])
    Risk.objects.filter(pk=risks["pressure"].pk).update(review_on=today - timedelta(days=5))  # overdue
    register.close_risk(noah, risks["ventilation"], "The air handling unit was replaced; the risk no longer applies.")
    _dispensing_fmea(risks["dispensing"])
    _transfusion_hfmea()


def _on_the_board(noah, staffing: Risk) -> None:
    """Escalated to the board assurance framework, with controls, their assurance and the gaps."""
    register.escalate(noah, staffing, Level.BOARD, "Extreme inherent score across both hospitals; the board "
                                                   "asked to watch it on the assurance framework.")
    today = timezone.localdate()
    register.add_control(noah, staffing, description="Twice-daily staffing huddle that moves nurses between wards",
                         owner=_person("cqo.olivia"), effect="partly", assurance_level="second",
                         assurance_source="Safe staffing report to the quality committee, monthly",
                         last_tested_on=today - timedelta(days=40),
                         control_gap="No cover for night shifts called in sick after 18:00")
    register.add_control(noah, staffing, description="Framework agreement with two nursing agencies",
                         effect="effective", assurance_level="third",
                         assurance_source="Internal audit of agency use, last year",
                         last_tested_on=today - timedelta(days=200),
                         assurance_gap="The audit covered Riverside General only, not Lakeside")


def _dispensing_fmea(risk: Risk) -> None:
    jo, dev, noah = _person("analyst.jo"), _person("pharm.dev"), _person("risk.noah")
    today = timezone.localdate()
    study = fmea.start_assessment(jo, title="Dispensing high-alert medicines", method=Method.FMEA, leader=jo,
                                  unit=content.resolve_scope("rgh/pharmacy"), team=[dev, noah],
                                  scope="From the verified order to the medicine leaving the pharmacy.",
                                  started_on=today - timedelta(days=60))
    fmea.add_step(jo, study, "Receive the order")
    verify = fmea.add_step(jo, study, "Verify the order")
    weight = fmea.add_step(jo, study, "Check the dose against the patient's weight", parent=verify)
    fmea.add_step(jo, study, "Check allergies and interactions", parent=verify)
    select = fmea.add_step(jo, study, "Select the product from the shelf")
    fmea.add_step(jo, study, "Label, check and send to the ward")
    wrong = fmea.add_failure_mode(jo, select, "Wrong concentration selected", "A ten-fold overdose")
    vials = fmea.add_cause(jo, wrong, "Look-alike vials stored side by side", "A second check by a technician")
    vials = fmea.score_cause(jo, vials, severity=9, occurrence=4, detection=4)
    busy = fmea.add_cause(jo, wrong, "Interrupted while picking", "A quiet zone in the dispensary")
    fmea.score_cause(jo, busy, severity=7, occurrence=3, detection=4)
    dose = fmea.add_failure_mode(jo, weight, "Dose not checked against the weight", "Overdose in a small adult")
    missing = fmea.add_cause(jo, dose, "Weight missing from the order")
    fmea.score_cause(jo, missing, severity=8, occurrence=3, detection=3)
    action = fmea.cause_action(jo, vials, title="Store the two concentrations apart, with tall-man labels",
                               owner=dev, due_date=today + timedelta(days=14), strength="intermediate",
                               measure="Selection errors caught at the final check, per month")
    actions.set_status(dev, action, "in_progress")
    actions.set_status(dev, action, "done", note="Shelves moved and relabelled.")
    vials.refresh_from_db()
    fmea.score_cause(jo, vials, severity=9, occurrence=2, detection=3, stage=ScoringStage.AFTER_ACTIONS,
                     note="Two months after the shelves were moved: no selection error reached the final check.")
    RiskLink.objects.create(risk=risk, kind="fmea", key=str(study.pk), label=str(study), linked_by=noah)


def _transfusion_hfmea() -> None:
    hana, ben = _person("pso.hana"), _person("nurse.ben")
    today = timezone.localdate()
    study = fmea.start_assessment(hana, title="Bedside check before a blood transfusion", method=Method.HFMEA,
                                  leader=hana, unit=content.resolve_scope("rgh/icu"), team=[ben],
                                  started_on=today - timedelta(days=20))
    fmea.add_step(hana, study, "Collect the unit from the blood bank")
    check = fmea.add_step(hana, study, "Check at the bedside")
    identify = fmea.add_step(hana, study, "Identify the patient with two identifiers", parent=check)
    match = fmea.add_step(hana, study, "Match the unit's label to the prescription", parent=check)
    fmea.add_step(hana, study, "Start the transfusion and observe")
    by_bed = fmea.add_failure_mode(hana, identify, "Patient identified by bed number only",
                                   "ABO-incompatible blood transfused")
    wristband = fmea.add_cause(hana, by_bed, "Wristband removed for a line change and not replaced")
    wristband = fmea.score_hazard(hana, wristband, severity=4, probability=2, single_point_weakness=True,
                                  effective_control=False, obvious=False)
    desk = fmea.add_cause(hana, by_bed, "Two nurses check at the desk, not at the bedside")
    fmea.score_hazard(hana, desk, severity=2, probability=1, single_point_weakness=False, effective_control=None,
                      obvious=None)
    unread = fmea.add_failure_mode(hana, match, "Label not read against the prescription")
    scanned = fmea.add_cause(hana, unread, "The scanner is out of reach of the bed", "Electronic bedside scanning")
    fmea.score_hazard(hana, scanned, severity=4, probability=1, single_point_weakness=True, effective_control=True,
                      obvious=None)
    fmea.cause_action(hana, wristband, title="Print a new wristband at the bedside after every line change",
                      owner=ben, due_date=today + timedelta(days=30), strength="stronger",
                      measure="Share of transfusions with a two-identifier check at the bedside, audited monthly")
