"""SQL-on-FHIR v2 view engine: ViewDefinitions compiled to DuckDB SQL over the FHIR store.

    from andon.analytics.fhir import store, sof
    table = sof.run(store.connect("fhir.duckdb"), view)   # a pyarrow.Table
    print(sof.sql_for(view))                                # the SQL that ran

Pieces, each testable alone: `fhirpath` (tokenizer, parser, expression tree),
`expressions` (tree → SQL over JSON lists), `compile` (ViewDefinition → one query),
`engine` (run, write, the command line).
"""

from .compile import Limits, ViewError, compile_view
from .engine import cli_view, run, sql_for, write
from .fhirpath import FHIRPathError, parse

__all__ = ["FHIRPathError", "Limits", "ViewError", "cli_view", "compile_view", "parse", "run", "sql_for", "write"]
