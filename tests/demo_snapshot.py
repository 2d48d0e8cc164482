"""The demo hospital, loaded once per test process and database, then restored per test.

Loading the demo (`load_demo_hospital`) computes two years of measures and takes 10-12 seconds
of CPU; the browser tests need it in every test, and the database is flushed after each of them.
The first test of a worker process loads it for real and a `DemoSnapshot` keeps every table's
rows, the sequences and the measure-case files it wrote; each later test gets exactly that
state back in well under a second:

- SQLite: the rows are read with `SELECT +"column"` (the unary plus is a no-op that hides the
  declared type, so Django's converters leave the stored values alone) and written back with
  `executemany`; `sqlite_sequence` is restored too, so new rows get the ids they would have got.
- PostgreSQL: `COPY ... TO STDOUT` / `COPY ... FROM STDIN` (binary) through psycopg, after the
  tables are emptied: by `DELETE` as a replica (`session_replication_role`, a superuser's: no
  foreign-key triggers, no append-only trigger) or else by one `TRUNCATE` (a statement, not a
  row operation: the audit trail's append-only trigger, migration platform 0002, lets it
  through, as for pytest-django's flush); then each sequence is set back to where the first
  load left it.

A module whose every test reads the demo restores it once, in a transaction of the module's, and
each test rolls back to it (conftest's `demo_for_the_module`); what a rollback does not undo
(the case files, the caches, PostgreSQL's sequences) is put back before each test.

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
        self.restore_outside_the_rows(cases_dir)

    def restore_outside_the_rows(self, cases_dir: Path) -> None:
        """What rolling back to the restored rows does not undo: the case files, the caches and
        (PostgreSQL's sequences are not transactional) the sequences."""
        # Content types are rows like any other; Django keeps them in a process-wide cache by id.
        ContentType.objects.clear_cache()
        cache.clear()
        if cases_dir.exists():
            shutil.rmtree(cases_dir)
        if self.cases is not None:
            _copy_cases(self.cases, cases_dir)
        if self.vendor == "postgresql":
            self._restore_sequences()

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
            raw = cursor.cursor
            # The rows are those of a database whose keys held: as a replica, PostgreSQL skips
            # the foreign keys' triggers (half of a restore's time) and queues no checks, and
            # the tables, nearly always empty here, are emptied by DELETE, which costs nothing
            # on an empty table where TRUNCATE makes every table's files anew (0.65 s for the
            # demo's 152). Triggers are off as a replica: the audit trail's append-only one too.
            replica = _may_set_replication_role(cursor)
            if replica:
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute("; ".join(f"DELETE FROM {_quote(t)}" for t in self.tables))
            else:
                cursor.execute("TRUNCATE " + ", ".join(_quote(t) for t in self.tables))
            for table, (_, data) in self.rows.items():
                with raw.copy(f"COPY {_quote(table)} FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(data)
            if replica:
                cursor.execute("SET LOCAL session_replication_role = origin")

    def _restore_sequences(self) -> None:
        """Every sequence where the first load left it, in one statement (a never-used one:
        its next value is its start)."""
        names = [sequence for sequence, _ in self.sequences]
        values = [last_value or 1 for _, last_value in self.sequences]
        used = [last_value is not None for _, last_value in self.sequences]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(setval(name::regclass, value, used)) "
                           "FROM unnest(%s::text[], %s::bigint[], %s::boolean[]) AS s(name, value, used)",
                           [names, values, used])


def _may_set_replication_role(cursor) -> bool:
    """Whether this connection's role may set session_replication_role (a superuser's, as CI's
    is; else the restore checks every key, only slower)."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = cursor.fetchone()
    return bool(row and row[0])


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _copy_cases(source: Path, target: Path) -> Path:
    if source.exists():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
    return target


def demo_state(snapshots: dict) -> DemoSnapshot:
    """Put the demo hospital in the test database: the first time in this process and database
    by loading it (and keeping a snapshot), every later time by restoring that snapshot."""
    from andon.platform.demo import load_demo_hospital

    from tests.written_rows import database_key

    key = database_key()
    cases_dir = Path(settings.ANDON_CASES_DIR)
    snapshot = snapshots.get(key)
    if snapshot is None:
        load_demo_hospital()
        snapshots[key] = snapshot = DemoSnapshot.take(cases_dir)
    else:
        snapshot.restore(cases_dir)
    return snapshot


# --- a module's tests on one restore --------------------------------------------------------------

def check_every_test_reads_the_demo(module, items) -> None:
    """A module whose demo is restored once (conftest's `demo_for_the_module`) must hold only tests
    that ask for the demo in a transaction of their own, or that use no database: any other test
    would find the demo's rows, or empty the tables under the module's transaction."""
    database = {"db", "transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}
    for item in items:
        if item.module is not module:
            continue
        names = set(item.fixturenames)
        asks = "demo_hospital" in names and not names & (database - {"db"})
        uses_no_database = not names & (database | {"demo_hospital"}) and item.get_closest_marker("django_db") is None
        if not (asks or uses_no_database):
            raise RuntimeError(f"{item.nodeid}: a module whose demo is restored once may hold only tests that ask "
                               f"for demo_hospital in a transaction of their own (not transactional_db) or use no "
                               f"database")
