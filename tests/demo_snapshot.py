"""The demo hospital, loaded once per test process and database, then restored per test.

Loading the demo (`load_demo_hospital`) computes two years of measures and takes 10-12 seconds
of CPU; the browser tests need it in every test, and the database is flushed after each of them.
The first test of a worker process loads it for real and a `DemoSnapshot` keeps every table's
rows, the sequences and the measure-case files it wrote; each later test gets exactly that
state back in well under a second:

- SQLite: the rows are read with `SELECT +"column"` (the unary plus is a no-op that hides the
  declared type, so Django's converters leave the stored values alone) and written back with
  `executemany`; `sqlite_sequence` is restored too, so new rows get the ids they would have got.
- PostgreSQL: `COPY ... TO STDOUT` / `COPY ... FROM STDIN` (binary) through psycopg, after one
  `TRUNCATE` of every table (a statement, not a row operation: the audit trail's append-only
  trigger, migration platform 0002, lets it through, as for pytest-django's flush); then each
  sequence is set back to where the first load left it.

Foreign keys are checked once, at the end (Django declares them deferrable on both databases),
so the tables can be filled in any order. Everything is done in one transaction (a savepoint in
a test already inside one): a failure leaves nothing half-restored.

What is outside the database is put back too: the measure-case files (ANDON_CASES_DIR, a folder
per test) are copied from the first load's, and the cache is cleared (its entries are derived:
restoring rows bypasses the signals that would forget them). The FHIR store is one per test
session already (tests/conftest.py) and the first load filled it.
"""

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection, transaction

# Django's own record of applied migrations is the same before and after: never touched.
UNTOUCHED = {"django_migrations"}


def _fts_shadow_tables(cursor) -> set[str]:
    """SQLite's FTS5 keeps a virtual table's index in shadow tables that only the virtual table
    may write (writing them directly corrupts the index): the snapshot copies the virtual
    table's rows, and FTS5 rebuilds its shadows from them."""
    if connection.vendor != "sqlite":
        return set()
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
    return {f"{name}_{suffix}" for (name,) in cursor.fetchall()
            for suffix in ("data", "idx", "content", "docsize", "config")}


@dataclass
class DemoSnapshot:
    """Every table's rows (and sequences, and case files) as the first demo load left them."""

    vendor: str
    tables: list[str]
    rows: dict[str, tuple[list[str], list[tuple] | bytes]] = field(default_factory=dict)
    sequences: list[tuple] = field(default_factory=list)
    cases: Path | None = None

    @classmethod
    def take(cls, cases_dir: Path) -> "DemoSnapshot":
        with connection.cursor() as cursor:
            tables = [t for t in connection.introspection.table_names(cursor)
                      if t not in UNTOUCHED and t not in _fts_shadow_tables(cursor)]
        snapshot = cls(connection.vendor, tables)
        with transaction.atomic():
            if snapshot.vendor == "postgresql":
                snapshot._take_postgresql()
            else:
                snapshot._take_sqlite()
        snapshot.cases = _copy_cases(cases_dir, Path(tempfile.mkdtemp(prefix="andon-demo-cases-")))
        return snapshot

    def restore(self, cases_dir: Path) -> None:
        if connection.vendor != self.vendor:
            raise RuntimeError(f"demo snapshot of {self.vendor} restored into {connection.vendor}")
        with transaction.atomic():
            if self.vendor == "postgresql":
                self._restore_postgresql()
            else:
                self._restore_sqlite()
            connection.check_constraints()
        # Content types are rows like any other; Django keeps them in a process-wide cache by id.
        ContentType.objects.clear_cache()
        cache.clear()
        if cases_dir.exists():
            shutil.rmtree(cases_dir)
        if self.cases is not None:
            _copy_cases(self.cases, cases_dir)

    def discard(self) -> None:
        if self.cases is not None:
            shutil.rmtree(self.cases, ignore_errors=True)

    # --- SQLite ---------------------------------------------------------------------------

    def _take_sqlite(self) -> None:
        raw = connection.connection  # the sqlite3 connection: "?" placeholders, no debug wrapper
        virtual = {name for (name,) in raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")}
        for table in self.tables:
            columns = [row[1] for row in raw.execute(f"PRAGMA table_info({_quote(table)})")]
            if table in virtual:  # a full-text index: its rowid is the indexed record's id
                columns = ["rowid", *columns]
            select = ", ".join(f"+{_quote(c)}" for c in columns)
            self.rows[table] = (columns, raw.execute(f"SELECT {select} FROM {_quote(table)}").fetchall())
        self.sequences = raw.execute("SELECT name, seq FROM sqlite_sequence").fetchall()

    def _restore_sqlite(self) -> None:
        raw = connection.connection
        for table in self.tables:
            raw.execute(f"DELETE FROM {_quote(table)}")
        for table, (columns, rows) in self.rows.items():
            if rows:
                names = ", ".join(_quote(c) for c in columns)
                marks = ", ".join("?" for _ in columns)
                raw.executemany(f"INSERT INTO {_quote(table)} ({names}) VALUES ({marks})", rows)
        # After the rows: inserting explicit ids moves sqlite_sequence on, and the first load's
        # counters (which may be past the largest id left) are what new rows must continue from.
        raw.execute("DELETE FROM sqlite_sequence")
        raw.executemany("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", self.sequences)

    # --- PostgreSQL -----------------------------------------------------------------------

    def _take_postgresql(self) -> None:
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor, for COPY
            for table in self.tables:
                with raw.copy(f"COPY {_quote(table)} TO STDOUT (FORMAT BINARY)") as copy:
                    self.rows[table] = ([], b"".join(bytes(chunk) for chunk in copy))
            cursor.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value "
                "FROM pg_sequences WHERE schemaname = current_schema()"
            )
            self.sequences = cursor.fetchall()

    def _restore_postgresql(self) -> None:
        # Pending deferred checks of the test's own earlier writes would make TRUNCATE refuse.
        connection.check_constraints()
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE " + ", ".join(_quote(t) for t in self.tables))
            raw = cursor.cursor
            for table, (_, data) in self.rows.items():
                with raw.copy(f"COPY {_quote(table)} FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(data)
            for sequence, last_value in self.sequences:
                if last_value is None:  # never used: the next value is its start
                    cursor.execute("SELECT setval(%s, 1, false)", [sequence])
                else:
                    cursor.execute("SELECT setval(%s, %s, true)", [sequence, last_value])


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _copy_cases(source: Path, target: Path) -> Path:
    if source.exists():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
    return target


def demo_state(snapshots: dict) -> None:
    """Put the demo hospital in the test database: the first time in this process and database
    by loading it (and keeping a snapshot), every later time by restoring that snapshot."""
    from andon.platform.demo import load_demo_hospital

    from tests.written_rows import database_key

    key = database_key()
    cases_dir = Path(settings.ANDON_CASES_DIR)
    snapshot = snapshots.get(key)
    if snapshot is None:
        load_demo_hospital()
        snapshots[key] = DemoSnapshot.take(cases_dir)
    else:
        snapshot.restore(cases_dir)
