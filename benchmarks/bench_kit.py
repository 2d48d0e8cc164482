"""What a benchmark over the generated FHIR data (fhir_views.py's files) does first and last:
its command line, its start, and its end (the report printed and written to docs/benchmarks.md).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import fhir_views as views


def parsed(parser: argparse.ArgumentParser, phases: dict, argv=None):
    """The command line with --no-doc and the hidden phase options; None when this process was a
    child started for one phase (`views.run_step`), which has then run it."""
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    views.add_phase_arguments(parser, phases)
    cli = parser.parse_args(argv)
    return None if views.ran_phase(cli, phases) else cli


def start(cli, work: Path):
    """A benchmark's start over the generated data: (say, the start time, the data's manifest)."""
    say = lambda text: print(text, file=sys.stderr, flush=True)
    began = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    manifest = views.generate(cli.scale, cli.seed)
    say(f"Data: {manifest['total_resources']:,} resources")
    return say, began, manifest


def publish(steps, report, section: str, no_doc: bool, say, began: float) -> int:
    """A benchmark's end, its exit status: 1 when a step failed (saying why), else its report
    (`report()`) printed and written to its section of docs/benchmarks.md unless `no_doc`."""
    failed = [step.get("error") for step in steps if step.get("error")]
    if failed:
        say("failed: " + "; ".join(failed))
        return 1
    text = report()
    print(text)
    if not no_doc:
        views.write_doc(text, section)
        say(f"Written to {views.DOC.relative_to(views.REPO)}")
    say(f"Total {time.perf_counter() - began:.0f} s")
    return 0


def remembered(runs: list[dict], results: Path | None, size) -> list[dict]:
    """`runs` appended to `results` (a JSON line each), and every run that file holds, by
    `size(run)`: sizes run apart (one a session: the largest take hours) reported in one table.
    Without `results`, `runs` alone."""
    if results is None:
        return runs
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as out:
        for run in runs:
            out.write(json.dumps(run) + "\n")
    return sorted((json.loads(line) for line in results.read_text().splitlines() if line.strip()), key=size)
