"""The audit trail: create, update and delete recorded with who, when, before and after; reads
of sensitive records recorded explicitly; and the trail refuses edits."""

import pytest
from auditlog.models import LogEntry
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from andon.platform import audit
from andon.platform.audit import AuditTrailIsAppendOnly
from andon.platform.models import Unit
from andon.platform.roles import Role


def _entries(instance, action):
    return list(LogEntry.objects.get_for_object(instance).filter(action=action).order_by("pk"))


def test_create_update_delete_are_recorded_with_actor_before_and_after(client, hospital, make_user):
    admin = make_user(Role.ADMINISTRATOR, "")
    from auditlog.context import set_actor

    with set_actor(admin):
        unit = Unit.objects.create(facility=hospital.facility("rgh"), name="Discharge Lounge", code="lounge", kind="ward")
        unit.name = "Discharge Lounge (Level 1)"
        unit.save()
        unit_pk = unit.pk
        unit.delete()

    created = LogEntry.objects.get(content_type__model="unit", object_pk=str(unit_pk), action=LogEntry.Action.CREATE)
    assert created.actor == admin
    assert created.changes["name"] == [None, "Discharge Lounge"]
    assert created.changes["code"] == [None, "lounge"]
    assert "path" not in created.changes  # derived bookkeeping is not audited

    updated = LogEntry.objects.get(content_type__model="unit", object_pk=str(unit_pk), action=LogEntry.Action.UPDATE)
    assert updated.actor == admin
    assert updated.changes == {"name": ["Discharge Lounge", "Discharge Lounge (Level 1)"]}

    deleted = LogEntry.objects.get(content_type__model="unit", object_pk=str(unit_pk), action=LogEntry.Action.DELETE)
    assert deleted.actor == admin
    assert deleted.changes["name"] == ["Discharge Lounge (Level 1)", None]
    assert created.timestamp <= updated.timestamp <= deleted.timestamp


def test_a_new_record_is_audited_without_the_records_that_point_at_it(hospital, make_user):
    """auditlog diffs reverse relations as fields ("Children set to platform.Unit.None" on every
    create); they are other records, each with entries of its own, so the platform leaves them out."""
    from auditlog.context import set_actor

    with set_actor(make_user(Role.ADMINISTRATOR, "")):
        unit = Unit.objects.create(facility=hospital.facility("rgh"), name="Day Surgery", code="dsu", kind="ward")
    created = LogEntry.objects.get(content_type__model="unit", object_pk=str(unit.pk), action=LogEntry.Action.CREATE)
    pointing_here = {rel.name for rel in Unit._meta.related_objects}
    assert pointing_here  # units have children, grants, …: the check means something
    assert not pointing_here & set(created.changes)
    assert created.changes["name"] == [None, "Day Surgery"]


def test_people_are_audited_on_their_own_fields_only(make_user):
    user = make_user(Role.STAFF_REPORTER, "rgh/4w", first_name="Ana")
    created = _entries(user, LogEntry.Action.CREATE)[0]
    assert created.changes["first_name"] == [None, "Ana"]
    assert not {"access_tokens", "role_grants", "jobs", "last_login", "groups"} & set(created.changes)


def test_changes_made_through_a_request_record_the_signed_in_user(client, make_user):
    admin = make_user(Role.ADMINISTRATOR, "")
    client.force_login(admin)
    response = client.post(reverse("platform:tokens"), {"name": "EHR feed", "expires_in_days": 30})
    assert response.status_code == 200
    entry = LogEntry.objects.get(content_type__model="accesstoken", action=LogEntry.Action.CREATE)
    assert entry.actor == admin
    assert entry.changes["name"] == [None, "EHR feed"]
    assert "token_hash" not in entry.changes  # the secret's hash is not copied into the trail
    assert entry.remote_addr == "127.0.0.1"


def test_password_changes_are_recorded_but_masked(make_user):
    user = make_user(Role.STAFF_REPORTER, "rgh/4w")
    user.set_password("a new long passphrase 42")
    user.save()
    entry = _entries(user, LogEntry.Action.UPDATE)[-1]
    old, new = entry.changes["password"]
    assert old == new == "********"  # no part of either hash is copied into the trail
    assert set(entry.changes) == {"password"}


def test_sensitive_reads_are_recorded_with_reader_and_reason(hospital, make_user):
    reader = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    unit = hospital.unit("rgh/icu")
    entry = audit.record_read(unit, actor=reader, reason="triage of event 42")
    stored = LogEntry.objects.get(pk=entry.pk)
    assert stored.action == LogEntry.Action.ACCESS
    assert stored.actor == reader
    assert stored.object_pk == str(unit.pk)
    assert stored.additional_data == {"reason": "triage of event 42"}


def test_the_trail_refuses_changes_and_deletes_through_the_orm(hospital):
    entry = LogEntry.objects.filter(content_type__model="unit").first()
    assert entry is not None
    entry.object_repr = "tampered"
    for attempt in (entry.save, entry.delete, LogEntry.objects.filter(pk=entry.pk).delete):
        with pytest.raises(AuditTrailIsAppendOnly), transaction.atomic():
            attempt()
    assert LogEntry.objects.get(pk=entry.pk).object_repr != "tampered"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL only")
def test_postgresql_refuses_bulk_update_and_delete_of_the_trail(hospital):
    entry = LogEntry.objects.filter(content_type__model="unit").first()
    for attempt in (
        lambda: LogEntry.objects.filter(pk=entry.pk).update(object_repr="tampered"),
        lambda: connection.cursor().execute("DELETE FROM auditlog_logentry WHERE id = %s", [entry.pk]),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert LogEntry.objects.get(pk=entry.pk).object_repr == entry.object_repr


def test_audit_viewer_lists_and_filters_entries(client, hospital, make_user):
    admin = make_user(Role.ADMINISTRATOR, "", username="admin.viewer")
    client.force_login(admin)
    unit = hospital.unit("rgh/4w")
    unit.name = "4 West <script>alert(1)</script>"
    from auditlog.context import set_actor

    with set_actor(admin):
        unit.save()
    response = client.get(reverse("platform:audit"), {"model": "platform.unit", "action": LogEntry.Action.UPDATE})
    assert response.status_code == 200
    page = response.content.decode()
    assert "admin.viewer" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert list(response.context["page"]) == list(
        LogEntry.objects.filter(content_type__model="unit", action=LogEntry.Action.UPDATE).order_by("-timestamp", "-pk")
    )


def test_admin_site_offers_no_way_to_change_or_delete_audit_entries(hospital, make_user, sign_in_with_mfa):
    client = sign_in_with_mfa(make_user(Role.ADMINISTRATOR, "", is_admin_site_staff=True))
    entry = LogEntry.objects.first()
    change_url = reverse("admin:auditlog_logentry_change", args=[entry.pk])
    assert client.get(change_url).status_code == 200  # viewable
    response = client.post(change_url, {"object_repr": "tampered"})
    assert response.status_code == 403
    response = client.post(reverse("admin:auditlog_logentry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert LogEntry.objects.get(pk=entry.pk).object_repr == entry.object_repr


def test_audit_viewer_says_each_change_in_words(client, hospital, make_user):
    """Friction 12: the trail names fields by label, records by name, and never shows ∅."""
    admin = make_user(Role.ADMINISTRATOR, "", username="admin.words")
    client.force_login(admin)
    unit = hospital.unit("rgh/4w")
    old_name = unit.name
    from auditlog.context import set_actor

    with set_actor(admin):
        unit.name = "Ward 4B"
        unit.save()
    response = client.get(reverse("platform:audit"), {"model": "platform.unit", "action": LogEntry.Action.UPDATE})
    line = response.context["lines"][0]
    assert (line.who, line.what, line.changes) == (
        "admin.words", "Changed", [f"Name changed from {old_name} to Ward 4B"])
    page = response.content.decode()
    assert f"Name changed from {old_name} to Ward 4B" in page and "∅" not in page


@pytest.mark.django_db(transaction=True)
def test_emptying_a_test_database_leaves_no_row_in_any_table(make_user):
    """tests/conftest.py empties PostgreSQL test databases its own faster way: every table ends
    empty, the append-only audit trail included, but the content types and permissions derived
    from the models (kept on both databases), and the database takes new rows after it."""
    from django.core.management import call_command
    from django.db import connection

    make_user(Role.CQO, "")  # a user, a role grant, an authenticator and their audit entries
    call_command("flush", verbosity=0, interactive=False)
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    filled = []
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")
            if cursor.fetchone():
                filled.append(table)
    # The content types and permissions, derived from the models, are kept (tests/conftest.py).
    assert set(filled) == {"django_content_type", "auth_permission"} and len(tables) > 80
    assert not LogEntry.objects.exists()
    from andon.platform import services

    services.create_user("after.flush", email="after@example.org", check_password=False)  # writes again
    assert LogEntry.objects.exists()
