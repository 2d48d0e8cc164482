"""Run a ViewDefinition over the FHIR store; write its rows; the `andon fhir view` command."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from ... import strict_json
from .. import columnar
from .compile import Limits, ViewError, compile_view, typed_plan
from .expressions import Shape
from .typed import typed_select


def sql_for(view: dict, limits: Limits | None = None) -> str:
    """The DuckDB SQL a ViewDefinition compiles to (`ViewError` when the view is invalid or
    beyond `limits`)."""
    return compile_view(view, limits=limits)[0]


SHAPE_SAMPLE = 2000  # resources whose JSON structure guides the fast path (speed only)


def sample_shape(connection: duckdb.DuckDBPyConnection, resource_type) -> Shape | None:
    """How some stored resources of a type look (JSON structure, share having each top-level
    member), or None when there are none."""
    if not isinstance(resource_type, str):
        return None
    found = connection.execute(
        "SELECT json_group_structure(resource), count(*), flatten(list(json_keys(resource))) "
        f"FROM (SELECT resource FROM resources WHERE type = $type LIMIT {SHAPE_SAMPLE})",
        {"type": resource_type},
    ).fetchall()
    if not found or not found[0][1]:
        return None
    structure, count, keys = found[0]
    try:
        # the data's own nesting: a resource stored before the loader bounded depth may be deeper
        structure = strict_json.loads(structure)
    except strict_json.JSONError:
        return None  # no guidance: the general expressions (the shape changes speed only)
    present = {key: n / count for key, n in Counter(keys).items()}
    return Shape(structure, present) if isinstance(structure, dict) else None


def typed_sql(connection: duckdb.DuckDBPyConnection, view: dict) -> str | None:
    """The view's query over its type's typed table (`fhir.columnar`), or None when the view
    is not of the form that reads columns (`sof.typed`) or the type has no typed table in
    step with the stored resources. `view` is valid (compiled already)."""
    plan = typed_plan(view)
    if plan is None:
        return None
    typed = columnar.typed_table(connection, view["resource"])
    return None if typed is None else typed_select(plan, typed, view["resource"])


def run(connection: duckdb.DuckDBPyConnection, view: dict, limits: Limits | None = None) -> pa.Table:
    """The view's rows as an Arrow table, columns in the view's order.

    Raises `ViewError` for an invalid view or one beyond `limits`, and for data the view cannot
    flatten (a column that is not a collection meeting several values, a `where` that is not
    boolean)."""
    sql = _view_sql(connection, view, limits)
    with _view_errors():  # DuckDB makes the whole table on every core; a stream, batch by batch on one
        return connection.sql(sql).to_arrow_table()


STREAM_ROWS = 122_880  # rows a batch when streaming (one DuckDB row group)


def stream(connection: duckdb.DuckDBPyConnection, view: dict, limits: Limits | None = None,
           batch_rows: int | None = None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The view's rows as Arrow record batches, made as they are read: memory holds a batch or
    two, whatever the number of rows. `ViewError` as `run`, raised when the view is compiled or
    while the batches are read (a value met part-way)."""
    sql = _view_sql(connection, view, limits)
    with _view_errors():
        reader = connection.sql(sql).to_arrow_reader(batch_rows or STREAM_ROWS)

    def batches():
        while True:
            with _view_errors():
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
            yield batch

    return reader.schema, batches()


def _view_sql(connection: duckdb.DuckDBPyConnection, view: dict, limits: Limits | None) -> str:
    """The view's query: over its type's typed table when it can, else over the JSON text."""
    compile_view(view, limits=limits)  # an invalid view is refused before the store is read
    sql = typed_sql(connection, view)
    if sql is None:
        sql, _ = compile_view(view, sample_shape(connection, view.get("resource")), limits)
    return sql


@contextmanager
def _view_errors():
    try:
        yield
    except (duckdb.InvalidInputException, duckdb.ConversionException) as error:
        # error() in the query names the view's element (a column meeting several values, a
        # where path that is not boolean); a conversion error is a value not of the column's type
        message = str(error).replace("Invalid Input Error: ", "").strip()
        raise ViewError(message) from None


def write(table: pa.Table, path: str | Path) -> Path:
    """Write rows to `path`: Parquet for .parquet, CSV for .csv (anything else: ValueError)."""
    return write_stream(table.schema, table.to_batches(), path)


def write_stream(schema: pa.Schema, batches: Iterable[pa.RecordBatch], path: str | Path) -> Path:
    """Write batches to `path` (.parquet or .csv) as they come. They go to a hidden file beside
    it, renamed to `path` once the last is written: a view that fails part-way leaves no
    half-written file, and an older file of that name stays as it was."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{path}: the output must end in .parquet or .csv, not {suffix or 'nothing'!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            with pq.ParquetWriter(partial, schema) as writer:
                for batch in batches:
                    writer.write_batch(batch)
        else:
            import pyarrow.csv as pcsv

            with pcsv.CSVWriter(partial, _csv_schema(schema)) as writer:
                for batch in batches:
                    writer.write_batch(_csv_batch(batch))
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    """CSV has no lists: they are written as JSON arrays (text), compact and in UTF-8, as
    Spark's `to_json` writes them (the same file from either engine)."""
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_list(f.type) else f for f in schema])


def _csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = []
    for i, field in enumerate(batch.schema):
        column = batch.column(i)
        if pa.types.is_list(field.type):
            column = pa.array([None if v is None else json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                               for v in column.to_pylist()], pa.string())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=_csv_schema(batch.schema))


def cli_view(args) -> int:
    """`andon fhir view VIEW.json [--out FILE.parquet|FILE.csv]` over the store `args.store`."""
    from .. import store

    out = getattr(args, "out", None)
    if out is not None and Path(out).suffix.lower() not in (".parquet", ".csv"):
        print(f"error: --out {out}: write to a .parquet or .csv file", file=sys.stderr)
        return 2
    try:
        view = strict_json.loads(Path(args.view).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # JSONError too: NaN, duplicate keys, too deep
        print(f"error: {args.view}: cannot read the ViewDefinition: {error}", file=sys.stderr)
        return 2
    try:
        compile_view(view)
    except ViewError as error:
        print(f"error: {args.view}: invalid ViewDefinition: {error}", file=sys.stderr)
        return 2
    from ...spark import session

    chosen = session.engine_for_command()
    if chosen is None:
        return 2
    if chosen == "spark":
        from ...spark import views

        return views.cli_view(view, out, args.view)
    if not Path(args.store).exists():
        print(f"error: no FHIR store at {args.store} (load data with `andon fhir load`)", file=sys.stderr)
        return 2
    connection = store.connect(args.store, read_only=True, memory_limit=store.READ_MEMORY_LIMIT)
    rows = 0
    try:
        schema, batches = stream(connection, view)
        batches = _counted(batches)
        if out is None:
            print_rows(schema.names, (row for batch in batches for row in batch.to_pylist()))
        else:
            write_stream(schema, batches, out)
        rows = batches.rows
    except ViewError as error:
        print(f"error: {args.view}: {error}", file=sys.stderr)
        return 2
    finally:
        connection.close()
    print(f"({rows} rows)" if out is None else f"{rows} rows written to {out}", file=sys.stderr)
    return 0


def print_rows(names: list[str], rows) -> None:
    """Rows as tab-separated lines under a header (lists as JSON arrays, NULL as nothing)."""
    print("\t".join(names))
    for row in rows:
        print("\t".join("" if row[n] is None else json.dumps(row[n]) if isinstance(row[n], list) else str(row[n]) for n in names))


class _counted:
    """Batches passed on, their rows counted."""

    def __init__(self, batches):
        self.batches, self.rows = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.rows += batch.num_rows
            yield batch
