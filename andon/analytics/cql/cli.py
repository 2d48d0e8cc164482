"""CMS eCQMs: evaluate published measure logic (ELM) and check it against test cases."""

from __future__ import annotations

from pathlib import Path


def register(parser) -> None:
    commands = parser.add_subparsers(dest="ecqm_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check", help="run the test cases of measure content folders (libraries, measures, valuesets, tests)")
    check.add_argument("folders", nargs="+", type=Path, help="content folders, merged")
    check.add_argument("--measure", default=None, help="only this measure's cases (its folder name under tests/)")
    check.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    check.set_defaults(run=_run_check)


def _run_check(args):
    from .check import cli_check

    return cli_check(args)
