"""Risk under load: seed PostgreSQL with a large health system's risk register and proactive
assessments, serve Andon with gunicorn, and time the register, the heat map and a risk's page
from a second process with concurrent signed-in users.

    .venv/bin/python benchmarks/risk_load.py [--risks 20000] [--rescores 10] [--fmeas 500]
        [--users 20] [--seconds 20] [--profile]

The dataset is issue 17's: 20,000 risks with 10 score records each (raised, then re-scored or
reviewed over up to three years, so each has a trend), spread over the demo hospital's wards,
departments, service lines, facilities, the whole organisation and the board assurance framework,
across the five categories and their owners (two managers of each unit, two analysts of each
facility, three of the organisation); controls with their assurance on most risks; escalations of the risks
moved above the level they were raised at; and 500 FMEAs and HFMEAs with their steps, sub-steps,
failure modes and scored causes. Some risks link to an assessment.

Steps, each heavy one in its own process (the load benchmark's machinery, benchmarks/safety_load.py):
1. `seed`: drop and recreate the database (default `andon_bench_risk`), migrate, load the demo
   hospital, then bulk-insert the dataset from a deterministic generator.
2. `andon serve` (gunicorn) on a free localhost port.
3. `load`: 20 users per scenario, closed loop, no think time, all the risk manager (the whole
   organisation): `/health` as the baseline, the register as it opens (open risks, highest current
   score first, 25 a page), the register filtered by a unit (a random unit of the demo hospital:
   it and the units below it), the heat map (current and target side by side), and a random risk's
   page. Each answer must be 200 and hold what it should (the count of risks the seed made, the
   risk's reference and title), so an error page is never timed as a page.
4. The results go to stdout and to docs/benchmarks.md ("Risk under load").

`--profile` also counts the queries of one request of each page and times it in-process (Django's
test client, no load), and prints them.

Times are never asserted: read the ratio of each page's p95 to the baseline's in the same run.
"""

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safety_load  # noqa: E402  (the server, the load generator and the report's machinery)

REPO = safety_load.REPO
SECTION = "## Risk under load"
GOAL_MS = safety_load.GOAL_MS
MANAGER = "risk.noah"
OWNER_PREFIX = "bench.owner"

HAZARDS = ["Falls with harm", "Medication errors", "Pressure injuries", "Delayed escalation of deterioration",
           "Missed sepsis", "Wrong-site surgery", "Retained swabs", "Blood transfusion errors", "Hospital infections",
           "Staffing below safe levels", "Equipment failure", "Lost test results", "Delayed discharge",
           "Patient misidentification", "Ligature points", "Fire safety", "Data breach", "Budget overspend",
           "Failed inspection", "Poor complaint handling", "Violence against staff", "Unsafe handover",
           "Drug storage failures", "Agency spending"]
AREAS = ["at night", "at weekends", "during handover", "in winter", "after admission", "before discharge",
         "in the corridor", "on transfer", "during the ward round", "in theatres", "in the waiting area",
         "across sites"]
CAUSES = ["vacancies in registered nurse posts", "an ageing estate", "interruptions on the medicine round",
          "paper and electronic records side by side", "new staff unfamiliar with the ward",
          "rising demand from frail older patients", "look-alike products", "equipment past its service date"]
EVENTS = ["a patient is harmed", "care is delayed", "a check is missed", "the service cannot cope with demand",
          "a patient receives the wrong treatment", "the trust fails a regulatory standard"]
EFFECTS = ["avoidable harm and longer stays", "complaints and claims", "loss of public confidence",
           "regulatory action", "extra cost", "staff leaving"]
CATEGORIES = [("clinical", 55), ("operational", 20), ("financial", 10), ("compliance", 10), ("reputation", 5)]
PROCESSES = ["Dispensing high-alert medicines", "Bedside check before a transfusion", "Insulin prescribing",
             "Patient transfer between wards", "Surgical safety checklist", "Discharge medicines reconciliation",
             "Chemotherapy administration", "Sepsis screening in the emergency department",
             "Specimen labelling", "Restraint of an agitated patient", "Central line insertion",
             "Handover from theatre to recovery"]
STEP_WORDS = ["Receive the request", "Check the patient's identity", "Check the order", "Prepare",
              "Second check", "Give or perform", "Record", "Observe afterwards"]
FAILURES = ["Step left out", "Done on the wrong patient", "Done late", "Wrong product chosen",
            "Check done from memory", "Record not made"]
FAILURE_CAUSES = ["Interrupted part-way", "No second person free", "Look-alike labels", "Unclear written order",
                  "Equipment missing", "Training out of date"]


def forward(args) -> list[str]:
    return ["--risks", str(args.risks), "--rescores", str(args.rescores), "--fmeas", str(args.fmeas),
            *safety_load.common_forward(args)]


def run_phase(args, phase: str, extra=()) -> dict:
    return safety_load.run_phase_of(__file__, args, phase, forward(args), extra)


# --- 1. the dataset ----------------------------------------------------------------------------

def title_of(index: int) -> str:
    """The title of the index-th seeded risk (the load phase checks a risk's page holds it)."""
    return f"{HAZARDS[index % len(HAZARDS)]} {AREAS[(index // len(HAZARDS)) % len(AREAS)]} ({index + 1})"


def reference_of(number: int) -> str:
    return f"R-{number:05d}"


def seed_owners(units, facilities, organisation, password):
    """Two unit managers for each unit, two quality analysts for each facility and three for the
    whole organisation: the people who own the seeded risks (each holds risk.view where their
    risks sit, as raise_risk requires). {unit or facility pk, or None: [users]}."""
    from andon.platform.models import RoleGrant, User

    places = [("unit", unit) for unit in units] + [("facility", f) for f in facilities] + [("organisation", None)]
    people, grants, owners = [], [], {}
    for kind, place in places:
        for n in range(3 if place is None else 2):
            username = f"{OWNER_PREFIX}.{kind[0]}{place.pk if place else 0}.{n}"
            people.append(User(username=username, first_name="Owner", last_name=username[len(OWNER_PREFIX) + 1:],
                               password=password, email=f"{username}@riverside.example", is_demo=True))
    people = User.objects.bulk_create(people)
    chunks = iter(people)
    for kind, place in places:
        mine = [next(chunks) for _ in range(3 if place is None else 2)]
        owners[(kind, place.pk if place else None)] = mine
        for person in mine:
            grants.append(RoleGrant(
                user=person, organisation=organisation, role="unit_manager" if kind == "unit" else "quality_analyst",
                facility=place.facility if kind == "unit" else place, unit=place if kind == "unit" else None))
    RoleGrant.objects.bulk_create(grants)
    return owners


def _scores(chance: random.Random) -> dict:
    """Inherent ≥ current ≥ target, as consequence and likelihood pairs on the 5×5 matrix."""
    inherent = (chance.randint(2, 5), chance.randint(2, 5))
    target = (chance.randint(1, inherent[0]), chance.randint(1, max(1, inherent[1] - 1)))
    current = (chance.randint(target[0], inherent[0]), chance.randint(target[1], inherent[1]))
    return {"inherent": inherent, "current": current, "target": target}


def _place(chance, units, facilities, owners):
    """(unit, facility, level, owner) of a new risk: most in a unit, some in a facility or the whole
    organisation; a few of those escalated to the board assurance framework."""
    from andon.risk.register import level_for_place

    where = chance.random()
    if where < 0.75:
        unit = chance.choice(units)
        return unit, unit.facility, level_for_place(unit, None), chance.choice(owners[("unit", unit.pk)])
    if where < 0.9:
        facility = chance.choice(facilities)
        return None, facility, "facility", chance.choice(owners[("facility", facility.pk)])
    return None, None, "facility", chance.choice(owners[("organisation", None)])


def _escalated(chance, level: str, unit) -> str | None:
    """Where a risk was escalated to (a few: above their level's tolerance), or None."""
    if level in ("unit", "department") and chance.random() < 0.04:
        return "facility" if level == "department" or chance.random() < 0.3 else "department"
    if level == "facility" and unit is None and chance.random() < 0.02:  # a board watches a few dozen
        return "board"
    return None


def seed_risks(args, chance, places, owners, manager, now, today):
    """The risks with their trends, controls and escalations, in batches of bulk inserts."""
    from django.db import connection

    from andon.platform.models import Sequence
    from andon.risk.matrix import matrix_of, matrix_row, record_scores, scored
    from andon.risk.models import Control, Escalation, Risk, ScoreRecord

    units, facilities, organisation = places
    matrix, revision = matrix_of(organisation), matrix_row(organisation).revision
    start_pk = (Risk.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    first_number = (Sequence.objects.filter(name="risk").values_list("value", flat=True).first() or 0) + 1
    categories, weights = safety_load._weighted(CATEGORIES)
    counts = {"risks": 0, "records": 0, "controls": 0, "escalations": 0}
    batch = {"risks": [], "records": [], "controls": [], "escalations": []}

    def flush():
        Risk.objects.bulk_create(batch["risks"])
        ScoreRecord.objects.bulk_create(batch["records"], batch_size=5000)
        Control.objects.bulk_create(batch["controls"], batch_size=5000)
        Escalation.objects.bulk_create(batch["escalations"])
        for name, rows in batch.items():
            counts[name] += len(rows)
            rows.clear()

    for i in range(args.risks):
        unit, facility, level, owner = _place(chance, units, facilities, owners)
        raised = now - timedelta(days=chance.randint(60, 3 * 365))
        risk = Risk(pk=start_pk + i, reference=reference_of(first_number + i), title=title_of(i),
                    cause=chance.choice(CAUSES), event=chance.choice(EVENTS), effect=chance.choice(EFFECTS),
                    category=chance.choices(categories, weights)[0], owner=owner, organisation=organisation,
                    facility=facility, unit=unit, level=level, created_by=manager, created_at=raised,
                    review_on=today + timedelta(days=chance.randint(-45, 365)))
        _trend(args, chance, risk, matrix, revision, raised, now, batch["records"], scored, record_scores)
        _controls(chance, risk, owner, today, batch["controls"], Control)
        moved_to = _escalated(chance, level, unit)
        if moved_to:
            batch["escalations"].append(Escalation(
                risk=risk, from_level=level, to_level=moved_to, by=manager, score_then=risk.current_score,
                at=now - timedelta(days=chance.randint(1, 50)),
                reason=f"Current score {risk.current_score} is above what the {level} level tolerates."))
            risk.level = moved_to
        if chance.random() < 0.1:
            risk.status, risk.closed_at, risk.closed_reason = "closed", now - timedelta(days=3), "No longer applies."
        elif chance.random() < 0.01:
            risk.flagged_reason, risk.flagged_at = "Key risk indicator shows a special cause of concern.", now
        batch["risks"].append(risk)
        if len(batch["risks"]) == 2000:
            flush()
    flush()
    Sequence.objects.update_or_create(name="risk", defaults={"value": first_number + args.risks - 1})
    with connection.cursor() as cursor:
        table = Risk._meta.db_table
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    return start_pk, first_number, counts


def _trend(args, chance, risk, matrix, revision, raised, now, records, scored, record_scores):
    """`args.rescores` score records, the first when raised, the others spread up to today; the
    risk keeps the last scores. The inherent and target scores stay; the current one moves."""
    scores = _scores(chance)
    span = (now - raised) / max(1, args.rescores)
    for n in range(args.rescores):
        if n:
            inherent, target = scores["inherent"], scores["target"]
            scores = {**scores, "current": (chance.randint(target[0], inherent[0]),
                                            chance.randint(target[1], inherent[1]))}
        fields = scored(matrix, scores)
        reason = "raised" if n == 0 else "rescored" if any(getattr(risk, k) != v for k, v in fields.items()) \
            else "reviewed"
        for name, value in fields.items():
            setattr(risk, name, value)
        records.append(record_scores(risk, reason, revision, risk.owner, at=raised + span * n,
                                     note="" if n == 0 else "Reviewed at the risk meeting."))


def _controls(chance, risk, owner, today, controls, Control):
    for n in range(chance.choice([0, 1, 2, 2, 3, 4])):
        tested = chance.random() < 0.6
        controls.append(Control(
            risk=risk, description=f"Control {n + 1}: {chance.choice(['audit', 'checklist', 'training', 'alarm'])} "
                                   f"against {risk.title.lower()}", owner=owner,
            effect=chance.choice(["effective", "partly", "ineffective"]) if tested else "not_tested",
            assurance_level=chance.choice(["first", "second", "third"]) if tested else "none",
            assurance_source="Monthly audit report" if tested else "",
            last_tested_on=today - timedelta(days=chance.randint(5, 400)) if tested else None,
            control_gap="Not in place at night" if chance.random() < 0.15 else "",
            assurance_gap="No audit yet" if not tested and chance.random() < 0.5 else "",
            created_at=risk.created_at))


def seed_assessments(args, chance, places, leaders, now):
    """FMEAs and HFMEAs (one in four) over the last eight years: each five steps, two of them with
    two sub-steps; two failure modes on each sub-step and on steps 1 and 3, two causes each, scored
    once (and, in a completed FMEA, again after the actions of a row acted on)."""
    from andon.risk import scoring
    from andon.risk.models import Assessment, CauseScoring, FailureCause, FailureMode, ProcessStep

    units, _, organisation = places
    assessments = []
    for i in range(args.fmeas):
        hfmea = i % 4 == 3
        started = (now - timedelta(days=chance.randint(1, 8 * 365))).date()
        unit = chance.choice(units)
        assessments.append(Assessment(
            reference=f"{'HFMEA' if hfmea else 'FMEA'}-{started.year}-B{i + 1:04d}", title=f"{PROCESSES[i % len(PROCESSES)]} "
            f"({unit.name}, {i + 1})", method="hfmea" if hfmea else "fmea", rpn_threshold=100, severity_threshold=9,
            organisation=organisation, facility=unit.facility, unit=unit, leader=chance.choice(leaders),
            status="completed" if started.year < now.year else chance.choice(["analysing", "acting"]),
            year=started.year, started_on=started, completed_on=started + timedelta(days=90)
            if started.year < now.year else None, created_by=leaders[0], created_at=now))
    assessments = Assessment.objects.bulk_create(assessments, batch_size=1000)
    steps = ProcessStep.objects.bulk_create([
        ProcessStep(assessment=a, position=p + 1, text=STEP_WORDS[p]) for a in assessments for p in range(5)],
        batch_size=5000)
    substeps = ProcessStep.objects.bulk_create([
        ProcessStep(assessment=step.assessment, parent=step, position=s + 1, text=f"{step.text}: part {s + 1}")
        for step in steps if step.position in (2, 4) for s in range(2)], batch_size=5000)
    modes = FailureMode.objects.bulk_create([
        FailureMode(step=step, position=m + 1, description=chance.choice(FAILURES), effect="Harm to the patient")
        for step in [s for s in steps if s.position in (1, 3)] + substeps for m in range(2)], batch_size=5000)
    causes, scorings = [], []
    thresholds = scoring.Thresholds(100, 9)
    for mode in modes:
        for c in range(2):
            cause = FailureCause(mode=mode, position=c + 1, description=chance.choice(FAILURE_CAUSES))
            if mode.step.assessment.method == "hfmea":
                _hazard(chance, cause, scoring)
            else:
                s, o, d = chance.randint(2, 10), chance.randint(1, 8), chance.randint(1, 8)
                reasons = thresholds.reasons(s, o, d)
                cause.severity, cause.occurrence, cause.detection, cause.rpn = s, o, d, s * o * d
                cause.act, cause.act_reason = bool(reasons), "; ".join(reasons) or f"RPN {s * o * d} below the thresholds"
            causes.append(cause)
    causes = FailureCause.objects.bulk_create(causes, batch_size=5000)
    for cause in causes:
        assessment = cause.mode.step.assessment
        scorings.append(CauseScoring(
            cause=cause, stage="initial", severity=cause.severity, occurrence=cause.occurrence,
            detection=cause.detection, rpn=cause.rpn, hazard_severity=cause.hazard_severity,
            hazard_probability=cause.hazard_probability, hazard_score=cause.hazard_score, act=bool(cause.act),
            act_reason=cause.act_reason, by=assessment.leader, at=now))
        if cause.act and cause.rpn and assessment.status == "completed":
            after = max(1, cause.occurrence // 2)
            scorings.append(CauseScoring(
                cause=cause, stage="after", severity=cause.severity, occurrence=after, detection=cause.detection,
                rpn=cause.severity * after * cause.detection, act=False, act_reason="After the actions",
                by=assessment.leader, at=now))
    CauseScoring.objects.bulk_create(scorings, batch_size=5000)
    return assessments, {"steps": len(steps) + len(substeps), "modes": len(modes), "causes": len(causes),
                         "scorings": len(scorings)}


def _hazard(chance, cause, scoring):
    severity, probability = chance.randint(1, 4), chance.randint(1, 4)
    answers = {"single_point_weakness": chance.random() < 0.5, "effective_control": chance.random() < 0.4,
               "obvious": chance.random() < 0.2}
    tree = scoring.decision_tree(severity * probability, **answers)
    cause.hazard_severity, cause.hazard_probability, cause.hazard_score = severity, probability, severity * probability
    cause.single_point_weakness, cause.effective_control, cause.obvious = answers.values()
    cause.act, cause.act_reason = tree.proceed, f"{tree.outcome} ({len(tree.questions)} questions answered)"


def seed_links(chance, start_pk, risks, assessments, manager):
    """One risk in twenty links to an assessment of its register."""
    from andon.risk.models import RiskLink

    links = [RiskLink(risk_id=start_pk + i, kind="fmea", key=str(assessment.pk), label=str(assessment),
                      linked_by=manager)
             for i in range(risks) if chance.random() < 0.05 for assessment in [chance.choice(assessments)]]
    RiskLink.objects.bulk_create(links, batch_size=5000)
    return len(links)


def expected_counts(organisation, units) -> dict:
    """What the pages must show: the open risks of the register, and of each unit with those below it."""
    from andon.risk.models import Risk

    open_risks = Risk.objects.filter(organisation=organisation, status="open")
    return {"open": open_risks.count(),
            "by_unit": {str(unit.pk): open_risks.filter(unit__path__startswith=unit.path).count() for unit in units}}


def phase_seed(args) -> dict:
    safety_load.recreate_database(args)
    safety_load.django_setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from andon.platform import demo
    from andon.platform.models import Facility, Organisation, Unit, User
    from andon.risk.models import Risk, ScoreRecord

    chance = random.Random(args.seed)
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    demo.load_demo_hospital()
    loaded = time.perf_counter()
    now, today = timezone.now(), timezone.localdate()
    organisation = Organisation.objects.order_by("pk").first()
    manager = User.objects.get(username=MANAGER)
    units = list(Unit.objects.filter(active=True).select_related("facility").order_by("pk"))
    facilities = list(Facility.objects.filter(organisation=organisation).order_by("pk"))
    places = (units, facilities, organisation)

    owners = seed_owners(units, facilities, organisation, make_password(safety_load.DEMO_PASSWORD))
    start_pk, first_number, counts = seed_risks(args, chance, places, owners, manager, now, today)
    leaders = list(User.objects.filter(username__in=["analyst.jo", "pso.hana", MANAGER]).order_by("pk"))
    assessments, parts = seed_assessments(args, chance, places, leaders, now)
    links = seed_links(chance, start_pk, args.risks, assessments, manager) if assessments else 0
    seeded = time.perf_counter()
    with connection.cursor() as cursor:  # as autovacuum would, soon after a bulk load
        cursor.execute("VACUUM ANALYZE")
    analysed = time.perf_counter()
    return {
        **counts, "total_risks": Risk.objects.count(), "total_records": ScoreRecord.objects.count(),
        "owners": sum(len(people) for people in owners.values()), "assessments": len(assessments), **parts,
        "links": links, "rescores": args.rescores, "first_pk": start_pk, "last_pk": start_pk + args.risks - 1, "first_number": first_number,
        "expected": expected_counts(organisation, units), "demo_s": loaded - started, "seed_s": seeded - loaded,
        "vacuum_s": analysed - seeded, "postgres": connection.cursor().connection.info.server_version,
    }


# --- 3. the load ---------------------------------------------------------------------------------

def risks_line(count: int) -> str:
    """The register's line above its table (risk/register.html)."""
    return f"{count} risk{'s' if count != 1 else ''}, highest current score first"


def scenario_pages(seeded: dict) -> dict:
    """name -> make(chance) -> (path, what the answer must hold)."""
    expected, first, last = seeded["expected"], seeded["first_pk"], seeded["last_pk"]
    units = sorted(expected["by_unit"], key=int)

    def by_unit(chance):
        unit = chance.choice(units)
        return f"/risk/register/?unit={unit}", risks_line(expected["by_unit"][unit])

    def risk_page(chance):
        pk = chance.randint(first, last)
        index = pk - first
        return f"/risk/risks/{pk}/", f"{reference_of(seeded['first_number'] + index)} {title_of(index)}</h1>"

    return {
        "register (open risks, as it opens)": lambda chance: ("/risk/register/", risks_line(expected["open"])),
        "register filtered by a unit": by_unit,
        "heat map (current and target)": lambda chance: ("/risk/register/heat-map/", f"{expected['open']} risks</small>"),
        "risk page (random risk)": risk_page,
    }


def phase_load(args) -> dict:
    seeded = json.loads(args.seeded)
    port = args.port

    t0 = time.perf_counter()
    managers = [safety_load.Browser(port, f"127.0.1.{10 + i}") for i in range(args.users)]
    for browser in managers:
        browser.sign_in(MANAGER)
    sign_in_s = time.perf_counter() - t0

    get = safety_load.checked_get  # 200 and holding what it should, or an error

    health = get(lambda chance: ("/health", ""))
    scenarios = [("baseline: /health", health)]
    scenarios += [(name, get(page)) for name, page in scenario_pages(seeded).items()]
    scenarios += [("baseline again: /health", health)]
    scenarios = [(name, managers, make) for name, make in scenarios]
    return {"results": safety_load.run_scenarios(scenarios, args.seconds), "sign_in_s": sign_in_s}


# --- profiling (optional, in-process) ----------------------------------------------------------

def phase_profile(args) -> dict:
    """One request of each page as the risk manager (after a first one): status, whether it holds
    what it should, wall time, queries and the slowest of them."""
    safety_load.django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from andon.platform.models import User

    seeded = json.loads(args.seeded)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=MANAGER))
    chance = random.Random(args.seed)
    out = {}
    for name, page in scenario_pages(seeded).items():
        path, must_hold = page(chance)
        client.get(path)
        times = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - began) * 1000)
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
        out[name] = {"path": path, "status": response.status_code, "holds": must_hold.encode() in response.content,
                     "ms": sorted(round(t, 1) for t in times), "queries": len(captured),
                     "bytes": len(response.content), "slowest": [(q["time"], q["sql"][:300]) for q in slowest]}
    return out


# --- 4. the report -------------------------------------------------------------------------------

def report_markdown(args, seeded: dict, load: dict, facts: dict) -> str:
    results = load["results"]
    lines = [
        SECTION, "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/risk_load.py`. Machine: {facts['nproc']} "
        f"cores ({facts['cpu'] or 'unknown CPU'}), {facts['memory']} memory, PostgreSQL "
        f"{seeded['postgres'] // 10000}.{seeded['postgres'] % 10000} on the same machine, Python {facts['python']}.",
        "",
        f"- Dataset: {seeded['total_risks']:,} risks ({seeded['risks']:,} generated, {seeded['expected']['open']:,} "
        f"open) with {seeded['total_records']:,} score records ({seeded['rescores']} each: raised, then re-scored or "
        f"reviewed over up to three years); {seeded['controls']:,} controls; {seeded['escalations']:,} escalations; "
        f"{seeded['owners']:,} owners; {seeded['assessments']:,} FMEAs and HFMEAs with {seeded['steps']:,} steps, "
        f"{seeded['modes']:,} failure modes, {seeded['causes']:,} causes and {seeded['scorings']:,} scorings; "
        f"{seeded['links']:,} links from risks to assessments; the demo hospital (seed {args.seed}).",
        f"- Seeding: {seeded['seed_s']:.1f} s (bulk inserts); demo hospital and migrations {seeded['demo_s']:.1f} s; "
        f"VACUUM ANALYZE {seeded['vacuum_s']:.1f} s.",
        f"- Server: `andon serve`, gunicorn, {args.workers} sync workers, DEBUG off. Load: a second process, "
        f"{args.users} concurrent signed-in users, closed loop with no think time, {args.seconds:g} s per scenario "
        f"after a short warm-up, all as the risk manager ({MANAGER}, the whole organisation). The register filtered "
        "by a random unit of the demo hospital (the unit and those below it); a random seeded risk's page. Each "
        "answer must be 200 and hold the count of risks (or the risk's reference and title) the seed made.",
        "- Baseline: `/health`. Ratio = the page's p95 / the baseline's p95 in the same run.",
        f"- Load average of the machine before the run: {facts['load']}.",
        *_reduced(args, seeded),
        "",
    ]
    lines += safety_load.results_table(results, args.users, errors_label="status codes, missing content or exceptions")
    lines += [
        "", "How to run (PostgreSQL on 127.0.0.1:5432, user postgres, trust; the database "
        "`andon_bench_risk` is dropped and recreated):", "", "```sh",
        ".venv/bin/python benchmarks/risk_load.py                     # issue 17's sizes, 20 users",
        ".venv/bin/python benchmarks/risk_load.py --reuse --seconds 5 --no-doc   # again, same data",
        ".venv/bin/python benchmarks/risk_load.py --reuse --profile --no-doc     # + each page's queries, in-process",
        "```", ""]
    return "\n".join(lines)


def _reduced(args, seeded: dict) -> list[str]:
    """A line saying so when the run (or the database it reuses) is smaller than issue 17's benchmark."""
    smaller = [f"{name} {given:,g} (issue 17: {full:,g})" for name, given, full in (
        ("risks", seeded["risks"], 20_000), ("score records each", seeded["rescores"], 10),
        ("FMEAs", seeded["assessments"], 500),
        ("users", args.users, 20), ("seconds a scenario", args.seconds, 20)) if given < full]
    if not smaller:
        return []
    return [f"- **Reduced scale**: {', '.join(smaller)}. A check that the benchmark runs and what its pages cost "
            "at this size, not the figures of issue 17's goal."]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--risks", type=int, default=20_000)
    parser.add_argument("--rescores", type=int, default=10, help="score records of each risk, the first included")
    parser.add_argument("--fmeas", type=int, default=500)
    safety_load.add_common_arguments(parser, db_name="andon_bench_risk", data_dir="bench-risk", seed=20261204)
    parser.add_argument("--profile", action="store_true", help="also count each page's queries (in-process)")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)

    if args.phase:
        phase = {"seed": phase_seed, "load": phase_load, "profile": phase_profile}[args.phase]
        print(json.dumps(phase(args), default=str))
        return 0

    began = time.perf_counter()
    saved = args.data_dir / "seeded.json"
    if args.reuse and saved.exists():
        seeded = json.loads(saved.read_text())
        seeded.setdefault("rescores", args.rescores)  # a database seeded before the size was kept
        print(f"Reusing {seeded['total_risks']:,} risks in {args.db_name}.", file=sys.stderr)
    else:
        print(f"Seeding {args.risks:,} risks and {args.fmeas:,} assessments into {args.db_name} …", file=sys.stderr,
              flush=True)
        seeded = run_phase(args, "seed")
        saved.write_text(json.dumps(seeded))
        print(f"  seeded in {seeded['seed_s']:.1f} s", file=sys.stderr)
    return safety_load.profile_serve_report(args, seeded, began, run_phase, report_markdown, SECTION)


if __name__ == "__main__":
    sys.exit(main())
