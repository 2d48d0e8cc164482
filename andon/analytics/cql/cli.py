"""CMS eCQMs: evaluate published measure logic (ELM) and check it against test cases."""

from __future__ import annotations

import os
from pathlib import Path


def register(parser) -> None:
    commands = parser.add_subparsers(dest="ecqm_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check", help="run the test cases of measure content folders (libraries, measures, valuesets, tests)")
    check.add_argument("folders", nargs="+", type=Path, help="content folders, merged")
    check.add_argument("--measure", default=None, help="only this measure's cases (its folder name under tests/)")
    check.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    check.set_defaults(run=_run_check)

    run = commands.add_parser("run", help="evaluate a measure over the FHIR store into a summary MeasureReport")
    run.add_argument("measure", help="the Measure's name (as in its content's measures/)")
    run.add_argument("--period", required=True, help="the measurement period, YYYY-MM-DD..YYYY-MM-DD")
    run.add_argument("--out", required=True, type=Path, help="where to write the MeasureReport (JSON)")
    run.add_argument("--content", nargs="+", type=Path, default=[Path(os.environ.get("ANDON_ECQM_CONTENT", "content/ecqm"))],
                     help="measure content folders (libraries, measures, valuesets; default $ANDON_ECQM_CONTENT or content/ecqm)")
    run.add_argument("--store", type=Path, default=None, help="the FHIR store (default: $ANDON_DATA_DIR/fhir.duckdb)")
    run.add_argument("--patients", nargs="+", type=Path, default=None, metavar="PATH",
                     help="evaluate these files or folders (NDJSON, Bundles, JSON resources, test-case folders) "
                          "instead of the store: loaded into a temporary store first")
    run.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--accept-ucum-misspellings", action="store_true",
                     help="read a Quantity whose system is http://ucum.org or https://ucum.org as UCUM, counted as a "
                          "warning in the report, where published FHIRHelpers makes it the patient's error (the default)")
    run.set_defaults(run=_run_measure)


def _run_measure(args):
    from ..fhir.cli import default_store
    from .run import cli_run

    args.store = args.store or default_store()
    return cli_run(args)


def _run_check(args):
    from .check import cli_check

    return cli_check(args)
