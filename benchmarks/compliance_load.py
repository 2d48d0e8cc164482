"""Compliance under load: seed PostgreSQL with a large health system's compliance library, serve
Andon with gunicorn, and time the readiness page, a policy search and the home page with pending
attestations from a second process with concurrent signed-in users.

    .venv/bin/python benchmarks/compliance_load.py [--frameworks 20] [--requirements 500]
        [--policies 5000] [--staff 3000] [--attestations 50] [--users 20] [--seconds 20]

The dataset is issue 16's: 20 frameworks of 500 requirements, 5,000 published policies, 3,000
staff with 50 attestations each (150,000), and an assessment of every requirement of one framework
with half a year of readiness snapshots. Staff are ordinary members of staff (the staff reporter
role) on the demo hospital's wards.

Steps, each heavy one in its own process (the load benchmark's machinery, benchmarks/safety_load.py):
1. `seed`: drop and recreate the database (default `andon_bench_compliance`), migrate, load the
   demo hospital, then bulk-insert the dataset from a deterministic generator.
2. `andon serve` (gunicorn) on a free localhost port.
3. `load`: 20 users per scenario, closed loop, no think time: `/health` as the baseline, the
   readiness page (the compliance specialist), a policy search (random words of the policies'
   vocabulary; the compliance specialist), and the home page of staff with pending attestations
   (20 different members of staff, each with about 30 unsigned).
4. The results go to stdout and to docs/benchmarks.md ("Compliance under load").

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
SECTION = "## Compliance under load"
GOAL_MS = safety_load.GOAL_MS
SPECIALIST = "compliance.lee"
STAFF_PREFIX = "bench.staff"

TOPICS = ["Falls prevention", "Hand hygiene", "Medication reconciliation", "Restraint and seclusion",
          "Consent to treatment", "Blood transfusion", "Pressure injury prevention", "Sepsis recognition",
          "Central line care", "Patient identification", "Discharge planning", "Pain management",
          "Safeguarding adults", "Infection control in theatres", "Controlled drugs", "Clinical handover",
          "Nutrition screening", "Deteriorating patient", "Medical gases", "Waste disposal"]
AREAS = ["adult inpatients", "the emergency department", "theatres", "critical care", "maternity",
         "outpatients", "paediatrics", "the pharmacy", "radiology", "the laboratory"]
WORDS = ("patient staff nurse physician pharmacist ward unit shift handover record document review audit "
         "assessment risk incident report escalate monitor observe chart dose prescription allergy consent "
         "identity wristband alarm bed rail mobility hygiene glove gown isolation culture line catheter "
         "wound dressing skin nutrition fluid balance pain sedation restraint discharge transfer referral "
         "training competence supervisor checklist procedure protocol guideline standard emergency").split()


def forward(args) -> list[str]:
    return ["--frameworks", str(args.frameworks), "--requirements", str(args.requirements),
            "--policies", str(args.policies), "--staff", str(args.staff), "--attestations", str(args.attestations),
            *safety_load.common_forward(args)]


def run_phase(args, phase: str, extra=()) -> dict:
    return safety_load.run_phase_of(__file__, args, phase, forward(args), extra)


# --- 1. the dataset ----------------------------------------------------------------------------

def _sentence(chance: random.Random) -> str:
    words = chance.sample(WORDS, chance.randint(8, 16))
    return " ".join(words).capitalize() + "."


def seed_frameworks(args, chance):
    from andon.compliance.models import Framework, FrameworkVersion, Requirement

    chapters_per = 20
    per_chapter = max(1, args.requirements // chapters_per - 1)
    versions = []
    for f in range(args.frameworks):
        framework = Framework.objects.create(urn=f"urn:bench:framework:{f}", name=f"Benchmark standards {f + 1}",
                                             kind="accreditation", publisher="Benchmark")
        version = FrameworkVersion.objects.create(framework=framework, version="2026", is_current=True)
        chapters = Requirement.objects.bulk_create([
            Requirement(version=version, urn=f"urn:bench:framework:{f}:{c + 1}", depth=0,
                        position=c * (per_chapter + 1), citation=f"BS{f + 1}.{c + 1}", assessable=False,
                        title=f"{TOPICS[c % len(TOPICS)]} ({c + 1})", summary=_sentence(chance))
            for c in range(chapters_per)])
        for chapter in chapters:
            chapter.chapter = chapter
        Requirement.objects.bulk_update(chapters, ["chapter"])
        Requirement.objects.bulk_create([
            Requirement(version=version, urn=f"{chapter.urn}.{s + 1}", parent=chapter, chapter=chapter, depth=1,
                        position=chapter.position + s + 1, citation=f"{chapter.citation}.{s + 1}",
                        title=_sentence(chance)[:120], summary=_sentence(chance) + " " + _sentence(chance))
            for chapter in chapters for s in range(per_chapter)], batch_size=5000)
        versions.append(version)
    return versions


def seed_assessment(version, organisation, specialist, chance, today):
    from andon.compliance.models import Assessment, AssessmentItem, ReadinessSnapshot

    assessment = Assessment.objects.create(title="Benchmark readiness", version_assessed=version,
                                           organisation=organisation, lead=specialist, created_by=specialist)
    results = ["met"] * 6 + ["partly_met"] * 2 + ["not_met", "not_applicable", ""]
    items = []
    for requirement in version.requirements.filter(assessable=True):
        result = chance.choice(results)
        items.append(AssessmentItem(
            assessment=assessment, requirement=requirement, owner=specialist, result=result,
            working_status="done" if result else "in_progress", rationale=_sentence(chance) if result else "",
            not_applicable_reason="Service not provided." if result == "not_applicable" else ""))
    AssessmentItem.objects.bulk_create(items, batch_size=5000)
    ReadinessSnapshot.objects.bulk_create([
        ReadinessSnapshot(assessment=assessment, taken_on=today - timedelta(weeks=w), score=0.5 + w / 100, detail={})
        for w in range(26)])
    return assessment


def seed_staff(args, units, password_hash):
    from andon.platform.models import RoleGrant, User

    users = User.objects.bulk_create([
        User(username=f"{STAFF_PREFIX}{i:05}", first_name="Staff", last_name=f"{i:05}", password=password_hash,
             email=f"{STAFF_PREFIX}{i:05}@riverside.example", is_demo=True)
        for i in range(args.staff)], batch_size=5000)
    RoleGrant.objects.bulk_create([
        RoleGrant(user=user, role="staff_reporter", organisation_id=units[i % len(units)].facility.organisation_id,
                  unit=units[i % len(units)]) for i, user in enumerate(users)], batch_size=5000)
    return users


def seed_policies(args, organisation, owner, chance, now):
    from andon.compliance.models import Policy, PolicyVersion

    texts = ["\n\n".join(" ".join(_sentence(chance) for _ in range(5)) for _ in range(4)) for _ in range(args.policies)]
    policies = []
    for i, text in enumerate(texts):
        code, title = f"BP-{i + 1:05}", f"{TOPICS[i % len(TOPICS)]} in {AREAS[(i // len(TOPICS)) % len(AREAS)]} ({i + 1})"
        # search_text as search.index_policy writes it (PostgreSQL's GIN index reads it)
        policies.append(Policy(organisation=organisation, code=code, owner=owner, review_every_months=36, title=title,
                               next_review_on=(now + timedelta(days=chance.randint(-60, 900))).date(),
                               search_text=f"{code}\n{title}\n{text}"))
    policies = Policy.objects.bulk_create(policies, batch_size=5000)
    return PolicyVersion.objects.bulk_create([
        PolicyVersion(policy=policy, number=1, status="published", created_by=owner, published_by=owner,
                      published_at=now - timedelta(days=chance.randint(1, 700)), text=text)
        for policy, text in zip(policies, texts, strict=True)], batch_size=5000)


def seed_attestations(args, staff, versions, chance, today):
    from andon.compliance.models import Attestation

    rows, count = [], 0
    for person in staff:
        for version in chance.sample(versions, min(args.attestations, len(versions))):
            signed = chance.random() < 0.4
            rows.append(Attestation(version=version, person=person, due_on=today + timedelta(days=chance.randint(-30, 60)),
                                    signed_at=datetime.now(UTC) - timedelta(days=1) if signed else None))
        if len(rows) >= 20000:
            Attestation.objects.bulk_create(rows)
            count += len(rows)
            rows = []
    Attestation.objects.bulk_create(rows)
    return count + len(rows)


def phase_seed(args) -> dict:
    safety_load.recreate_database(args)
    safety_load.django_setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from andon.compliance.models import Attestation, PolicyVersion, Requirement
    from andon.platform import demo
    from andon.platform.models import Organisation, Unit, User

    chance = random.Random(args.seed)
    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    demo.load_demo_hospital()
    loaded = time.perf_counter()
    now, today = timezone.now(), timezone.localdate()
    organisation = Organisation.objects.order_by("pk").first()
    specialist = User.objects.get(username=SPECIALIST)
    units = list(Unit.objects.filter(active=True, kind="ward").select_related("facility").order_by("pk")) or \
        list(Unit.objects.filter(active=True).select_related("facility").order_by("pk"))

    versions = seed_frameworks(args, chance)
    assessment = seed_assessment(versions[0], organisation, specialist, chance, today)
    staff = seed_staff(args, units, make_password(safety_load.DEMO_PASSWORD))
    policy_versions = seed_policies(args, organisation, specialist, chance, now)
    attestations = seed_attestations(args, staff, policy_versions, chance, today)
    seeded = time.perf_counter()
    with connection.cursor() as cursor:  # as autovacuum would, soon after a bulk load
        cursor.execute("VACUUM ANALYZE")
    analysed = time.perf_counter()
    return {
        "requirements": Requirement.objects.count(), "policies": PolicyVersion.objects.count(),
        "staff": len(staff), "attestations": attestations,
        "pending": Attestation.objects.filter(signed_at=None).count(),
        "assessment": assessment.pk, "demo_s": loaded - started, "seed_s": seeded - loaded,
        "vacuum_s": analysed - seeded, "postgres": connection.cursor().connection.info.server_version,
    }


# --- 3. the load ---------------------------------------------------------------------------------

def phase_load(args) -> dict:
    seeded = json.loads(args.seeded)
    port = args.port

    def browsers_for(usernames, network):
        browsers = [safety_load.Browser(port, f"127.0.{network}.{10 + i}") for i in range(len(usernames))]
        for browser, username in zip(browsers, usernames, strict=True):
            browser.sign_in(username)
        return browsers

    t0 = time.perf_counter()
    specialists = browsers_for([SPECIALIST] * args.users, 1)
    staff = browsers_for([f"{STAFF_PREFIX}{i * (args.staff // args.users):05}" for i in range(args.users)], 2)
    sign_in_s = time.perf_counter() - t0

    def get(path, expect=200, must_hold=None):
        def make(browser, chance):
            status, body = browser.request("GET", path(chance) if callable(path) else path)
            ok = status == expect and (must_hold is None or must_hold.encode() in body)
            return ok, f"{status}"
        return make

    def search_words(chance):
        return "/compliance/policies/?q=" + "+".join(chance.sample(WORDS, 2))

    scenarios = [
        ("baseline: /health", specialists, get("/health")),
        ("readiness page (assessment)", specialists, get(f"/compliance/assessments/{seeded['assessment']}/")),
        ("policy search (two words)", specialists, get(search_words)),
        ("home page with pending attestations", staff, get("/", must_hold="/compliance/")),
        ("baseline again: /health", specialists, get("/health")),
    ]
    return {"results": safety_load.run_scenarios(scenarios, args.seconds), "sign_in_s": sign_in_s}


# --- 4. the report -------------------------------------------------------------------------------

def report_markdown(args, seeded: dict, load: dict, facts: dict) -> str:
    results = load["results"]
    lines = [
        SECTION, "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/compliance_load.py`. Machine: {facts['nproc']} "
        f"cores ({facts['cpu'] or 'unknown CPU'}), {facts['memory']} memory, PostgreSQL "
        f"{seeded['postgres'] // 10000}.{seeded['postgres'] % 10000} on the same machine, Python {facts['python']}.",
        "",
        f"- Dataset: {args.frameworks} frameworks, {seeded['requirements']:,} requirements; {seeded['policies']:,} "
        f"published policies; {seeded['staff']:,} staff with {args.attestations} attestations each "
        f"({seeded['attestations']:,}, {seeded['pending']:,} unsigned); an assessment of every requirement of one "
        f"framework with 26 weekly readiness snapshots; the demo hospital (seed {args.seed}).",
        f"- Seeding: {seeded['seed_s']:.1f} s (bulk inserts); demo hospital and migrations {seeded['demo_s']:.1f} s; "
        f"VACUUM ANALYZE {seeded['vacuum_s']:.1f} s.",
        f"- Server: `andon serve`, gunicorn, {args.workers} sync workers, DEBUG off. Load: a second process, "
        f"{args.users} concurrent signed-in users, closed loop with no think time, {args.seconds:g} s per scenario "
        "after a short warm-up. Readiness and search as the compliance specialist (whole organisation); the home "
        f"page as {args.users} different members of staff, each with unsigned attestations.",
        "- Baseline: `/health`. Ratio = the page's p95 / the baseline's p95 in the same run.",
        "",
    ]
    lines += safety_load.results_table(results, args.users, errors_label="status codes or exceptions")
    lines += [
        "", "How to run (PostgreSQL on 127.0.0.1:5432, user postgres, trust; the database "
        "`andon_bench_compliance` is dropped and recreated):", "", "```sh",
        ".venv/bin/python benchmarks/compliance_load.py                     # issue 16's sizes, 20 users",
        ".venv/bin/python benchmarks/compliance_load.py --reuse --seconds 5 --no-doc   # again, same data",
        "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", type=int, default=20)
    parser.add_argument("--requirements", type=int, default=500)
    parser.add_argument("--policies", type=int, default=5000)
    parser.add_argument("--staff", type=int, default=3000)
    parser.add_argument("--attestations", type=int, default=50)
    safety_load.add_common_arguments(parser, db_name="andon_bench_compliance", data_dir="bench-compliance", seed=20261203)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)

    if args.phase:
        print(json.dumps({"seed": phase_seed, "load": phase_load}[args.phase](args), default=str))
        return 0

    began = time.perf_counter()
    saved = args.data_dir / "seeded.json"
    if args.reuse and saved.exists():
        seeded = json.loads(saved.read_text())
    else:
        print(f"Seeding into {args.db_name} …", file=sys.stderr, flush=True)
        seeded = run_phase(args, "seed")
        saved.write_text(json.dumps(seeded))
        print(f"  seeded in {seeded['seed_s']:.1f} s", file=sys.stderr)
    return safety_load.profile_serve_report(args, seeded, began, run_phase, report_markdown, SECTION)


if __name__ == "__main__":
    sys.exit(main())
