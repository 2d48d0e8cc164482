"""The survey import on PostgreSQL: rows per second and peak memory of the module's own import
(`andon.voice.services.import_survey_file`) of a vendor's CSV file of N returned HCAHPS surveys,
against floors measured in the same run on the same file.

    .venv/bin/python benchmarks/bench_survey_import.py [--rows 2000000] [--no-doc]

Steps, each in its own process (so each peak memory, `ru_maxrss`, is that step's alone):
1. `seed`: drop and recreate the database (default `andon_bench_voice_import`), migrate, load the
   demo hospital (the HCAHPS question set, the units, the patient experience lead px.priya) and
   save the vendor's column mapping (the demo's: survey id, discharge date, unit, service line, the
   five strata, a comment and one column per question).
2. `write`: the vendor's CSV file of N rows (seeded random; discharges over the 24 completed months
   before this one, on the demo's wards; ~14 % with a comment), in the benchmark's data directory.
3. Floors: `csv`, Python's csv.DictReader reading the file (what the import must do at least twice:
   it checks every row, then stores); `copy`, PostgreSQL COPY of the same file into a plain table of
   text columns (the database's own floor for writing those rows).
4. `import`: the module's import of the file as px.priya, one transaction (responses, comments,
   score cells, the measures fed); then `again`: the same file a second time, which must import
   nothing (every survey id already stored).
5. The figures go to stdout and to docs/benchmarks.md ("Survey import").

Times are never asserted: read the ratios to the floors measured in the same run.
"""

import argparse
import csv
import json
import random
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safety_load  # noqa: E402  (the environment, the database and the report's machinery)

REPO = safety_load.REPO
SECTION = "## Survey import"
LEAD = "px.priya"
WARDS = {"rgh/4w": ("Medicine", 0.00), "rgh/5e": ("Cardiology", 0.04), "rgh/6n": ("Surgery", -0.05),
         "rgh/icu": ("Critical care", 0.06), "lch/2a": ("Medicine", -0.02)}


def forward(args) -> list[str]:
    return ["--rows", str(args.rows), "--db-name", args.db_name, "--db-host", args.db_host, "--db-port",
            str(args.db_port), "--db-user", args.db_user, "--data-dir", str(args.data_dir), "--seed", str(args.seed)]


def run_phase(args, phase: str, extra=()) -> dict:
    return safety_load.run_phase_of(__file__, args, phase, forward(args), extra)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def csv_path(args) -> Path:
    return args.data_dir / f"vendor-hcahps-{args.rows}.csv"


# --- the phases ----------------------------------------------------------------------------------

def phase_seed(args) -> dict:
    safety_load.recreate_database(args)
    safety_load.django_setup()
    from django.core.management import call_command
    from django.db import connection

    from andon.platform import demo
    from andon.platform.models import User
    from andon.voice import services
    from andon.voice.demo_surveys import VENDOR_COLUMNS

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    demo.load_demo_hospital()
    questions = services.question_set("hcahps")
    columns = dict(VENDOR_COLUMNS) | {f"Q_{key.upper()}": f"q:{key}" for key in questions.questions}
    mapping = services.create_mapping(User.objects.get(username=LEAD), name="Vendor file (benchmark)", columns=columns)
    return {"mapping": mapping.pk, "columns": list(columns), "questions": {
        key: {"answers": list(q.answers), "top": sorted(q.top)} for key, q in questions.questions.items()},
        "seed_s": time.perf_counter() - started, "postgres": connection.cursor().connection.info.server_version}


def phase_write(args) -> dict:
    """The vendor's file, with the header the mapping reads (no Django needed)."""
    seeded = json.loads(args.seeded)
    chance = random.Random(args.seed)
    questions = seeded["questions"]
    comments = ["The nurses on nights were kind and explained everything.",
                "Waited a long time for help after pressing the call button.",
                "Room was noisy at night because of the alarms next door.",
                "Discharge was rushed and nobody explained my new tablets.", "Food was cold most days."]
    strata = [["18-44", "45-64", "65-74", "75+"], ["F", "M"], ["White", "Black", "Asian", "Other"],
              ["Not Hispanic", "Hispanic"], ["Medicare", "Medicaid", "Commercial", "Self-pay"]]
    this_month = date.today().replace(day=1)
    months = []
    for back in range(24, 0, -1):
        index = this_month.year * 12 + this_month.month - 1 - back
        months.append(date(index // 12, index % 12 + 1, 1))
    wards = list(WARDS.items())
    started = time.perf_counter()
    with open(csv_path(args), "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(seeded["columns"])
        for i in range(args.rows):
            month = months[i * len(months) // args.rows]
            ward, (line, lean) = chance.choice(wards)
            row = [f"BI{i:08d}", (month + timedelta(days=chance.randrange(28))).isoformat(), ward, line,
                   *(chance.choice(s) for s in strata), chance.choice(comments) if chance.random() < 0.14 else ""]
            for q in questions.values():
                roll = chance.random()
                row.append("" if roll < 0.04 else chance.choice(q["top"]) if roll < 0.72 + lean
                           else chance.choice([c for c in q["answers"] if c not in q["top"]][-3:]))
            writer.writerow(row)
    return {"bytes": csv_path(args).stat().st_size, "write_s": time.perf_counter() - started}


def phase_csv(args) -> dict:
    """Python's csv module reading the file as the import does (the whole text in memory, DictReader)."""
    import io

    started = time.perf_counter()
    text = csv_path(args).read_text()
    rows = sum(1 for _ in csv.DictReader(io.StringIO(text, newline="")))
    return {"rows": rows, "s": time.perf_counter() - started, "peak_mib": peak_mib()}


def phase_copy(args) -> dict:
    """PostgreSQL COPY of the same file into a plain (unlogged: no, logged as the import's) table of text columns."""
    import psycopg

    seeded = json.loads(args.seeded)
    columns = ", ".join(f"c{i} text" for i in range(len(seeded["columns"])))
    with psycopg.connect(host=args.db_host, port=args.db_port, user=args.db_user, dbname=args.db_name) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_copy_floor")
        connection.execute(f"CREATE TABLE bench_copy_floor (id bigserial primary key, {columns})")
        connection.commit()
        started = time.perf_counter()
        names = ", ".join(f"c{i}" for i in range(len(seeded["columns"])))
        with connection.cursor() as cursor, open(csv_path(args), "rb") as source:
            with cursor.copy(f"COPY bench_copy_floor ({names}) FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        connection.commit()
        elapsed = time.perf_counter() - started
        rows = connection.execute("SELECT count(*) FROM bench_copy_floor").fetchone()[0]
        connection.execute("DROP TABLE bench_copy_floor")
        connection.commit()
    return {"rows": rows, "s": elapsed, "peak_mib": peak_mib()}


def phase_import(args) -> dict:
    """The module's import (the same call the page and the background job make), as px.priya."""
    safety_load.django_setup()
    from andon.platform import audit
    from andon.platform.models import User
    from andon.voice import services
    from andon.voice.models import SurveyComment, SurveyResponse, SurveyScoreCell, SurveyMapping

    seeded = json.loads(args.seeded)
    lead = User.objects.get(username=LEAD)
    mapping = SurveyMapping.objects.get(pk=seeded["mapping"])
    before = SurveyResponse.objects.count()
    started = time.perf_counter()
    text = csv_path(args).read_text()
    read = time.perf_counter()
    read_peak = peak_mib()
    phases = {}
    last = {"message": None, "at": read}

    def progress(done, total, message):
        if message != last["message"]:
            now = time.perf_counter()
            if last["message"]:
                phases[last["message"]] = now - last["at"]
            last.update(message=message, at=now)

    with audit.acting_as(lead):
        report = services.import_survey_file(lead, mapping, text, csv_path(args).name, progress=progress)
    done = time.perf_counter()
    if last["message"]:
        phases[last["message"]] = done - last["at"]
    if not report.ok:
        raise SystemExit(f"the import reported problems: {report.problems[:5]}")
    return {"rows_read": report.rows_read, "rows_imported": report.rows_imported,
            "rows_already_imported": report.rows_already_imported, "comments": report.comments,
            "measures_fed": len(report.measures_fed), "read_s": read - started, "import_s": done - read,
            "phases": phases, "read_peak_mib": read_peak, "peak_mib": peak_mib(),
            "responses": SurveyResponse.objects.count() - before, "comments_stored": SurveyComment.objects.count(),
            "cells": SurveyScoreCell.objects.count()}


# --- the report ----------------------------------------------------------------------------------

def report_markdown(args, seeded, written, floor_csv, floor_copy, first, again, facts) -> str:
    rate = first["rows_read"] / first["import_s"]
    csv_rate = floor_csv["rows"] / floor_csv["s"]
    copy_rate = floor_copy["rows"] / floor_copy["s"]
    phases = ", ".join(f"{name.lower()} {s:.0f} s" for name, s in first["phases"].items())
    lines = [
        SECTION, "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/bench_survey_import.py`. Machine: "
        f"{facts['nproc']} cores ({facts['cpu'] or 'unknown CPU'}), {facts['memory']} memory, PostgreSQL "
        f"{seeded['postgres'] // 10000}.{seeded['postgres'] % 10000} on the same machine, Python {facts['python']}. "
        f"Load average before the run: {facts['load']}.",
        "",
        f"- The file: {args.rows:,} returned HCAHPS surveys, {len(seeded['columns'])} columns (survey id, discharge "
        f"date, unit, service line, 5 strata, a comment, {len(seeded['questions'])} questions), "
        f"{written['bytes'] / 2**20:,.0f} MiB, seed {args.seed}; 24 months on the demo's 5 wards.",
        "- The import: `andon.voice.services.import_survey_file` as the patient experience lead, in its own "
        "process (the whole file read as text, as the page and the job pass it; every row checked, then stored "
        "in one transaction with the comments, the score cells and the measures fed). Peak memory is the "
        "process's `ru_maxrss`.",
        "",
        "| Step | Rows | Time s | Rows/s | Peak memory MiB | Import's time / this |",
        "|---|---:|---:|---:|---:|---:|",
        f"| Floor: Python csv.DictReader over the file | {floor_csv['rows']:,} | {floor_csv['s']:.1f} | "
        f"{csv_rate:,.0f} | {floor_csv['peak_mib']:,.0f} | {first['import_s'] / floor_csv['s']:.1f}× |",
        f"| Floor: PostgreSQL COPY into a plain text table | {floor_copy['rows']:,} | {floor_copy['s']:.1f} | "
        f"{copy_rate:,.0f} | (server) | {first['import_s'] / floor_copy['s']:.1f}× |",
        f"| The import (first time) | {first['rows_imported']:,} | {first['import_s']:.1f} | {rate:,.0f} | "
        f"{first['peak_mib']:,.0f} | 1.0× |",
        f"| The same file again (nothing imported) | {again['rows_imported']:,} new, "
        f"{again['rows_already_imported']:,} already | {again['import_s']:.1f} | "
        f"{again['rows_read'] / again['import_s']:,.0f} | {again['peak_mib']:,.0f} | "
        f"{first['import_s'] / again['import_s']:.1f}× |",
        "",
        f"- The first import: {first['rows_imported']:,} responses, {first['comments']:,} comments, "
        f"{first['cells']:,} score cells in the database afterwards, {first['measures_fed']} measures fed; "
        f"by its progress messages: {phases}. Reading the file: {first['read_s']:.1f} s, "
        f"{first['read_peak_mib']:,.0f} MiB peak before the import began.",
        f"- The second import of the same file stored nothing new: {again['rows_imported']:,} imported, "
        f"{again['rows_already_imported']:,} counted as already imported.",
        "",
        "How to run (PostgreSQL on 127.0.0.1:5432, user postgres, trust; the database "
        "`andon_bench_voice_import` is dropped and recreated, the file written in `var/bench-voice-import/`):",
        "", "```sh",
        ".venv/bin/python benchmarks/bench_survey_import.py                 # 2 million rows",
        ".venv/bin/python benchmarks/bench_survey_import.py --rows 100000 --no-doc   # a quick look",
        "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--db-name", default="andon_bench_voice_import")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", type=int, default=5432)
    parser.add_argument("--db-user", default="postgres")
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench-voice-import")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--phase", choices=["seed", "write", "csv", "copy", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--seeded", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)

    if args.phase:
        phase = {"seed": phase_seed, "write": phase_write, "csv": phase_csv, "copy": phase_copy,
                 "import": phase_import}[args.phase]
        print(json.dumps(phase(args), default=str))
        return 0

    began = time.perf_counter()
    facts = {**safety_load.machine_facts(), "load": safety_load.load_average()}
    print(f"Seeding {args.db_name} (the demo hospital) …", file=sys.stderr, flush=True)
    seeded = run_phase(args, "seed")
    extra = ["--seeded", json.dumps(seeded)]
    written = run_phase(args, "write", extra)
    print(f"  file of {args.rows:,} rows, {written['bytes'] / 2**20:,.0f} MiB in {written['write_s']:.1f} s",
          file=sys.stderr, flush=True)
    floor_csv = run_phase(args, "csv", extra)
    print(f"  csv floor {floor_csv['s']:.1f} s", file=sys.stderr, flush=True)
    floor_copy = run_phase(args, "copy", extra)
    print(f"  COPY floor {floor_copy['s']:.1f} s", file=sys.stderr, flush=True)
    first = run_phase(args, "import", extra)
    print(f"  import {first['import_s']:.1f} s, {first['peak_mib']:,.0f} MiB", file=sys.stderr, flush=True)
    again = run_phase(args, "import", extra)
    print(f"  again {again['import_s']:.1f} s, {again['rows_imported']} imported", file=sys.stderr, flush=True)
    text = report_markdown(args, seeded, written, floor_csv, floor_copy, first, again, facts)
    print(text)
    if not args.no_doc:
        safety_load.write_doc(text, SECTION)
    csv_path(args).unlink(missing_ok=True)
    print(f"Total {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
