"""Fixtures shared by the suite: a hospital loaded through the real content loader, and people
holding roles over scopes."""

import gc
import itertools
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from andon.platform import content, security, services
from andon.platform.demo import ORGANISATION_FILE
from andon.platform.models import Facility, Organisation, Unit
from andon.platform.roles import Role
from tests import fuzz

fuzz.use_scaled_default()

CONTENT = Path(__file__).resolve().parent.parent / "content"  # what the product ships


# The garbage collector's thresholds while the tests run: a young generation of 10,000 objects
# instead of 700, so that fewer of a test's short-lived objects reach the older generations whose
# collections scan everything (see `_freeze_what_lives_now`).
GC_THRESHOLDS = (10_000, 10, 10)


def _freeze_what_lives_now() -> None:
    """Move every object alive now (modules, models, URL patterns, the collected tests, the
    migrated database's state) out of the garbage collector's reach. A suite holds about a
    million such objects and every full collection scanned them all: 28% of the API fuzzing's
    time and 17% of the permission matrix's went to the collector (docs/benchmarks.md). They
    live until the process ends anyway; what the tests make afterwards is collected as before."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def pytest_collection_finish(session):
    _freeze_what_lives_now()


# The fixtures and marker through which a test reaches the database (pytest-django refuses the
# database to any other test).
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                      "live_server"}


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL (.ci/run's second run), only the tests that reach the database run: a test
    without the database fixtures or marker runs the same code on either database, and ran in
    the SQLite run already. (A test starting a process that reads DATABASE_URL asks for `db`.)"""
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    kept, elsewhere = [], []
    for item in items:
        reaches = item.get_closest_marker("django_db") or _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        (kept if reaches else elsewhere).append(item)
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = kept


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's test databases, then what making them left alive is frozen too."""
    _freeze_what_lives_now()


class Hospital:
    """The demo organisation's structure, by code: hospital.unit("rgh/4w")."""

    def __init__(self, organisation: Organisation):
        self.organisation = organisation

    def facility(self, code: str) -> Facility:
        return Facility.objects.get(organisation=self.organisation, code=code)

    def unit(self, path: str) -> Unit:
        facility_code, unit_code = path.split("/")
        return Unit.objects.get(facility__organisation=self.organisation, facility__code=facility_code, code=unit_code)

    def scope(self, text: str):
        """"" -> organisation, "rgh" -> facility, "rgh/4w" -> unit."""
        if not text:
            return self.organisation
        return self.unit(text) if "/" in text else self.facility(text)


@pytest.fixture(scope="session")
def _organisation_loads() -> dict:
    """The first load of the demo organisation in each database of this process
    (tests/written_rows.py)."""
    return {}


def _load_organisation() -> Organisation:
    return content.load_organisation(content.read_file(ORGANISATION_FILE), str(ORGANISATION_FILE))


@pytest.fixture
def hospital(db, _organisation_loads) -> Hospital:
    """The demo organisation (two facilities, their units): loaded through the content loader by
    the first test of a process and database, its rows written again for every later one."""
    from auditlog.models import LogEntry

    from tests.written_rows import WrittenRows, database_key

    key = database_key()
    kept = _organisation_loads.get(key)
    if kept is None:
        organisation, _organisation_loads[key] = WrittenRows.record(
            [Organisation, Facility, Unit, LogEntry], [LogEntry], _load_organisation)
        return Hospital(organisation)
    if kept.restore(empty=Organisation):
        return Hospital(Organisation.objects.get(pk=kept.first_id(Organisation)))
    return Hospital(_load_organisation())  # an organisation is there already: the loader updates it


@pytest.fixture
def make_user(hospital):
    """make_user(Role.UNIT_MANAGER, "rgh/medicine") -> a user holding that role over that scope."""
    counter = iter(range(1, 10_000))

    def make(*roles_and_scopes, username=None, password=None, enrol_mfa=True, **fields):
        pairs = list(roles_and_scopes)
        if pairs and not isinstance(pairs[0], tuple):  # make_user(role, scope) or make_user(role)
            pairs = [(pairs[0], pairs[1] if len(pairs) > 1 else "")]
        name = username or f"user{next(counter)}"
        user = services.create_user(name, email=f"{name}@example.org", password=password,
                                    check_password=False, **fields)
        for role, scope in pairs:
            services.grant_role(user, Role(role), hospital.scope(scope))
        if enrol_mfa:
            enrol_if_required(user)
        return user

    return make


def enrol_if_required(user) -> None:
    """People whose role requires two-factor (by default the officers, executives and
    administrators) have set it up, as in a real hospital; a test of the set-up itself asks for
    `enrol_mfa=False`."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    if security.mfa_required(user) and not security.mfa_enabled(user):
        TOTP.activate(user, generate_totp_secret())


@pytest.fixture
def sign_in_with_mfa(client):
    """Sign a user in as if they had passed the TOTP step (enrolling them first)."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    def sign_in(user):
        if not security.mfa_enabled(user):
            TOTP.activate(user, generate_totp_secret())
        client.force_login(user)
        session = client.session
        session["account_authentication_methods"] = [{"method": "mfa", "type": "totp", "at": 0}]
        session["account_authentication_methods_user"] = str(user.pk)
        session.save()
        return client

    return sign_in


@pytest.fixture(scope="session")
def _test_folders(tmp_path_factory):
    return tmp_path_factory.mktemp("tests"), itertools.count(1)


@pytest.fixture
def tmp_path(request, _test_folders) -> Path:
    """A new empty folder for each test, as pytest's own `tmp_path` gives, numbered by a counter.
    pytest's numbers each one by listing every folder made so far in the session: with the
    suite's ~6,600 tests a process (every test has one, see `_fhir_store`) that listing grew to
    half a minute of CPU per process and run."""
    root, counter = _test_folders
    path = root / f"{next(counter)}-{re.sub(r'[^A-Za-z0-9_.-]', '_', request.node.name)[:40]}"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def _session_fhir_store(tmp_path_factory):
    return tmp_path_factory.mktemp("fhir-store") / "fhir.duckdb"


@pytest.fixture(autouse=True)
def _fhir_store(settings, _session_fhir_store, tmp_path):
    """One FHIR store per test session, never the data directory's: the demo loads its made-up
    EHR patients there once, and a test that needs other data points the setting elsewhere.
    The cases kept behind results are each test's own."""
    settings.ANDON_FHIR_STORE = _session_fhir_store
    settings.ANDON_CASES_DIR = tmp_path / "measure-cases"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """PostgreSQL test databases commit without waiting for the disk (`synchronous_commit=off`):
    a test database is thrown away, and the tests that commit for real (the browser's live server,
    the API's schema fuzzing, concurrency) and empty every table after them spent a quarter of
    their time waiting for WAL flushes. Each transaction is still atomic and isolated."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        options = database.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


@pytest.fixture(scope="session", autouse=True)
def _postgresql_empties_only_the_tables_with_rows():
    """After a test that commits for real, pytest-django empties the database with one TRUNCATE of
    every table: on PostgreSQL that makes new files for some 300 tables and indexes, 0.7 s, most of
    them empty (the API's schema fuzzing pays it 159 times a run). The same end state, faster: the
    tables holding rows are emptied with DELETE in one transaction (Django's foreign keys are
    checked at its end), those whose rows may not be deleted (the audit trail's append-only
    trigger) with TRUNCATE. Sequences are left as TRUNCATE leaves them; a flush that resets them
    takes Django's own way."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate_all = DatabaseOperations.sql_flush

    def sql_flush(ops, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate_all(ops, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        quote = ops.quote_name
        with ops.connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(table)})"
                                              for table in tables), list(tables))
            filled = [table for (table,) in cursor.fetchall()]
            cursor.execute("SELECT event_object_table FROM information_schema.triggers "
                           "WHERE event_manipulation = 'DELETE' AND action_timing = 'BEFORE'")
            guarded = {table for (table,) in cursor.fetchall()}
        statements = [f"DELETE FROM {quote(table)};" for table in filled if table not in guarded]
        kept = [quote(table) for table in filled if table in guarded]
        return statements + ([f"TRUNCATE {', '.join(kept)} CASCADE;"] if kept else [])

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = truncate_all


# Rows Django derives from the models themselves, the same in every test.
DERIVED_TABLES = frozenset({"django_content_type", "auth_permission"})


@pytest.fixture(scope="session", autouse=True)
def _flush_keeps_the_rows_derived_from_the_models():
    """After a test that commits for real, Django's flush emptied every table, content types and
    permissions included, and its post_migrate handlers then wrote them all again (some 1,300
    rows, 0.1-0.2 s a test: the API's schema fuzzing pays it 159 times a run). They are the same
    rows every time, derived from the models: the flush leaves them, and post_migrate still runs,
    finds them all and adds any a test removed. Every other table is emptied as before."""
    from django.core.management.commands import flush

    flush_all = flush.sql_flush

    def sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
        tables = [table for table in connection.introspection.django_table_names(only_existing=True,
                                                                                 include_views=False)
                  if table not in DERIVED_TABLES]
        return connection.ops.sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)

    flush.sql_flush = sql_flush
    yield
    flush.sql_flush = flush_all


@pytest.fixture(scope="session", autouse=True)
def _static_files_listed_once():
    """Django's test client builds the middleware afresh for every client, and WhiteNoise then
    lists and stats every static file of the finders (about 200 files, 80 ms: half of a
    permission-matrix case). A server builds it once per process; so do the tests: the list is
    made once per process and settings that shape it, and copied into each new middleware."""
    from whitenoise.middleware import WhiteNoiseMiddleware

    list_files = WhiteNoiseMiddleware.add_files_from_finders
    listed = {}

    def add_files_listed_once(middleware):
        key = (middleware.static_prefix, middleware.max_age, middleware.allow_all_origins,
               middleware.charset, middleware.index_file)
        if key not in listed:
            before = dict(middleware.files)
            list_files(middleware)
            listed[key] = {url: file for url, file in middleware.files.items() if before.get(url) is not file}
        middleware.files.update(listed[key])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_listed_once
    yield
    WhiteNoiseMiddleware.add_files_from_finders = list_files


# The day the suite started. Tests that write dates relative to "today" import it from here,
# and `_kept_on_the_suites_day` holds their clock on it should the run cross midnight.
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def _kept_on_the_suites_day(request):
    """A test module reading TODAY when it was collected, and the code under test reading the
    date again when the test runs, disagreed by a day in a run crossing midnight: a review due
    "today" was overdue, a training record a day older. For the modules that use TODAY, a test
    running on a later day runs with the clock moved back by whole days (the time of day kept,
    ticking), so that both read the same date. On the day the suite started, nothing changes."""
    days = (timezone.localdate() - TODAY).days
    if not days or getattr(request.module, "TODAY", None) is not TODAY:
        yield
        return
    import time_machine

    with time_machine.travel(timezone.now() - timedelta(days=days), tick=True):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttling counters and used one-time codes live in the cache: start each test clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def safety_taxonomy(db):
    """The shipped safety-event taxonomy, loaded through the content loader."""
    from andon.safety import taxonomy

    content.load_content([CONTENT / "taxonomies"])
    return taxonomy.current()


@pytest.fixture(scope="session")
def _demo_snapshots():
    """The demo as each database of this process first loaded it (tests/demo_snapshot.py)."""
    snapshots = {}
    yield snapshots
    for snapshot in snapshots.values():
        snapshot.discard()


@pytest.fixture
def demo_hospital(db, settings, _demo_snapshots):
    """The demo hospital in the test database, with its sign-in allowed (settings.DEMO).

    Loaded for real once per test process and database, then restored from a snapshot before
    each test that asks for it: every such test starts from exactly the same rows, ids, sequences,
    measure-case files and an empty cache, whatever the tests before it changed. Works inside a
    test's transaction (`db`) and with `transactional_db` (the browser tests). A test that needs
    the loader itself to run calls `load_demo_hospital()` instead.
    """
    from django.core.cache import cache

    from tests.demo_snapshot import demo_state

    settings.DEMO = True
    if _held_demo:  # the module's transaction holds it (demo_for_the_module)
        _held_demo[-1].restore_outside_the_rows(Path(settings.ANDON_CASES_DIR))
        return
    # The cache (a file cache in ANDON_DATA_DIR) outlives the test database: clear sign-in
    # rate limits and used one-time codes left by earlier runs.
    cache.clear()
    demo_state(_demo_snapshots)


_held_demo = []  # the snapshot a module's transaction holds (demo_for_the_module), while it does


@pytest.fixture(scope="module")
def demo_for_the_module(request, django_db_setup, django_db_blocker, _demo_snapshots, _session_fhir_store,
                        tmp_path_factory):
    """The demo hospital restored once for a module's tests, in a transaction of the module's,
    and each test's writes rolled back to it (the test's own transaction is a savepoint inside
    the module's), as Django's TestCase.setUpTestData does: a restore is a second or two, more
    than most tests that read the demo. `pytestmark = pytest.mark.usefixtures("demo_for_the_module")`
    in a module whose every test asks for demo_hospital, not transactional_db, or uses no database
    (checked). What a rollback does not undo, demo_hospital puts back before each test."""
    from django.db import transaction
    from django.test import override_settings

    from tests.demo_snapshot import check_every_test_reads_the_demo, demo_state

    check_every_test_reads_the_demo(request.module, request.session.items)
    with django_db_blocker.unblock(), override_settings(
            DEMO=True, ANDON_FHIR_STORE=_session_fhir_store, ANDON_CASES_DIR=tmp_path_factory.mktemp("demo-cases")):
        module_transaction = transaction.atomic()
        module_transaction.__enter__()
        try:
            _held_demo.append(demo_state(_demo_snapshots))
            yield
        finally:
            _held_demo.clear()
            transaction.set_rollback(True)
            module_transaction.__exit__(None, None, None)


# --- Spark (tests/analytics, and the measures computed on Spark) --------------------------------

# The tests' data is tiny: compiling each query to Java (Spark's code generation) costs more than
# running it interpreted, which gives the same results by Spark's design (a third off the
# conformance suite's time here).
TEST_SETTINGS = "spark.sql.codegen.wholeStage=false;spark.sql.codegen.factoryMode=NO_CODEGEN"


@pytest.fixture(scope="session")
def spark():
    """A Spark session in local mode, one per test process (made once, on first use); the test
    skips, saying why, without PySpark or Java."""
    pytest.importorskip("pyspark", reason="PySpark is not installed (the spark extra: pip install 'andon[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java on this machine: Spark needs Java 17")
    from andon.analytics.spark import session

    saved = os.environ.get("ANDON_SPARK_CONF")
    os.environ["ANDON_SPARK_CONF"] = TEST_SETTINGS
    try:
        return session.spark()
    finally:
        if saved is None:
            os.environ.pop("ANDON_SPARK_CONF")
        else:
            os.environ["ANDON_SPARK_CONF"] = saved
