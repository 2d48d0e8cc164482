"""The demo snapshot (tests/demo_snapshot.py) gives back exactly the state it took: every table's
rows, the ids new rows get, the measure-case files, and an empty cache. Checked on a small world
(the organisation and a few people), not the demo itself, so that it stays cheap."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection

from andon.platform import services
from andon.platform.models import User
from tests.demo_snapshot import UNTOUCHED, DemoSnapshot, _fts_shadow_tables


def every_row() -> dict[str, list[tuple]]:
    with connection.cursor() as cursor:
        # A full-text index's shadow tables hold the same words in another binary layout once
        # rebuilt; the virtual table's own rows (compared here) are what it indexes.
        tables = [t for t in connection.introspection.table_names(cursor)
                  if t not in UNTOUCHED and t not in _fts_shadow_tables(cursor)]
        found = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            found[table] = sorted(cursor.fetchall(), key=repr)
    return found


def case_files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def small_world(make_user, settings, tmp_path):
    make_user("staff_reporter", "rgh/4w", username="nurse.one")
    cases = tmp_path / "cases"
    (cases / "readmissions" / "month").mkdir(parents=True)
    (cases / "readmissions" / "month" / "2026-01-01.parquet").write_bytes(b"PAR1 made-up cases")
    return cases


def change_everything(cases):
    """What a test might do to the demo: new rows (and audit entries), changed and deleted rows,
    files and cache entries."""
    services.create_user("nurse.two", email="two@example.org", password=None, check_password=False)
    User.objects.filter(username="nurse.one").update(first_name="Changed")
    ContentType.objects.filter(app_label="sessions").delete()
    (cases / "readmissions" / "month" / "2026-01-01.parquet").write_bytes(b"changed")
    (cases / "extra.parquet").write_bytes(b"left by a test")
    cache.set("andon:test:leftover", 1)
    return User.objects.get(username="nurse.two").pk


def check_restored(snapshot, cases, rows, files, changed_id):
    snapshot.restore(cases)
    assert every_row() == rows
    assert case_files(cases) == files
    assert cache.get("andon:test:leftover") is None
    # The sequences are back too: the next person gets the id the changed state's did.
    again = services.create_user("nurse.two", email="two@example.org", password=None, check_password=False)
    assert again.pk == changed_id
    # Django's content-type cache was forgotten with the rows it named.
    assert ContentType.objects.get_for_model(User).pk == ContentType.objects.get(app_label="platform", model="user").pk


@pytest.mark.django_db(transaction=True)
def test_a_restore_gives_back_every_row_sequence_file_and_an_empty_cache(small_world):
    rows, files = every_row(), case_files(small_world)
    assert rows["platform_user"] and files  # the world is not empty
    snapshot = DemoSnapshot.take(small_world)
    try:
        changed_id = change_everything(small_world)
        assert every_row() != rows
        check_restored(snapshot, small_world, rows, files, changed_id)
        # and again (check_restored added a person): a snapshot serves every later test
        (small_world / "extra.parquet").write_bytes(b"left by a test")
        check_restored(snapshot, small_world, rows, files, changed_id)
    finally:
        snapshot.discard()


def test_a_restore_inside_a_tests_transaction_after_its_own_writes(small_world):
    """`db` tests run inside a transaction: on PostgreSQL the TRUNCATE must not meet the pending
    foreign-key checks of the rows written before it."""
    rows, files = every_row(), case_files(small_world)
    snapshot = DemoSnapshot.take(small_world)
    try:
        changed_id = change_everything(small_world)
        check_restored(snapshot, small_world, rows, files, changed_id)
    finally:
        snapshot.discard()


@pytest.mark.django_db(transaction=True)
def test_the_audit_trail_is_restored_though_it_refuses_deletes(small_world):
    from auditlog.models import LogEntry

    entries = list(LogEntry.objects.order_by("pk").values_list("pk", "action", "object_repr"))
    snapshot = DemoSnapshot.take(small_world)
    try:
        change_everything(small_world)
        assert LogEntry.objects.count() > len(entries)
        snapshot.restore(small_world)
        assert list(LogEntry.objects.order_by("pk").values_list("pk", "action", "object_repr")) == entries
    finally:
        snapshot.discard()
