"""FHIR data: load bulk exports into the FHIR store, list quarantined lines, run ViewDefinitions.

`andon fhir load PATH…`, `andon fhir quarantine`, `andon fhir view VIEW.json [--out FILE]`,
`andon fhir parquet FOLDER` (the typed tables as one Parquet file per resource type).
The store is `$ANDON_DATA_DIR/fhir.duckdb` unless `--store` names another file. No Django here.
"""

import os
from pathlib import Path

from . import store


def default_store() -> Path:
    return store.default_path(os.environ.get("ANDON_DATA_DIR", "./var"))


def register(parser) -> None:
    parser.add_argument("--store", type=Path, default=None, help="the FHIR store (default: $ANDON_DATA_DIR/fhir.duckdb)")
    commands = parser.add_subparsers(dest="fhir_command", required=True, metavar="COMMAND")

    load = commands.add_parser("load", help="load NDJSON (.ndjson, .ndjson.gz), Bundles and folders of JSON resources")
    load.add_argument("paths", nargs="+", type=Path, help="files or folders")
    load.add_argument("--no-progress", action="store_true", help="no progress bar")
    load.set_defaults(run=_run("ingest", "cli_load"))

    quarantine = commands.add_parser("quarantine", help="list the lines that could not be loaded, and why")
    quarantine.add_argument("--limit", type=int, default=100, help="at most this many (default 100; 0: all)")
    quarantine.set_defaults(run=_run("ingest", "cli_quarantine"))

    view = commands.add_parser("view", help="run a SQL-on-FHIR v2 ViewDefinition over the store")
    view.add_argument("view", type=Path, help="the ViewDefinition (JSON)")
    view.add_argument("--out", default=None, help="write the rows to FILE.parquet or FILE.csv (default: print); on "
                      "Spark, a folder of such files, one per task (a path or an object-store URL)")
    view.set_defaults(run=_run("sof", "cli_view"))

    parquet = commands.add_parser("parquet", help="write the store as Parquet, one file per resource type, in typed columns")
    parquet.add_argument("folder", type=Path, help="the folder to write <Type>.parquet into (made if missing)")
    parquet.set_defaults(run=_run("columnar", "cli_parquet"))


def _run(module: str, function: str):
    """The command's function, imported when it runs (so `andon --help` stays light)."""

    def run(args):
        from importlib import import_module

        args.store = args.store or default_store()
        return getattr(import_module(f"{__package__}.{module}"), function)(args)

    return run
