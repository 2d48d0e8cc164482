"""On PostgreSQL, the database itself refuses UPDATE and DELETE on the audit trail.

The app's own guards (andon/platform/audit.py) hold on every database; this one also stops a
bulk `QuerySet.update()` or a stray SQL session. TRUNCATE (used only by test teardown and by a
database owner on purpose) is not a row operation and stays possible.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION andon_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS andon_audit_append_only ON auditlog_logentry;
CREATE TRIGGER andon_audit_append_only
    BEFORE UPDATE OR DELETE ON auditlog_logentry
    FOR EACH ROW EXECUTE FUNCTION andon_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS andon_audit_append_only ON auditlog_logentry;
DROP FUNCTION IF EXISTS andon_audit_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("platform", "0001_initial"),
        ("auditlog", "__latest__"),
    ]

    operations = [migrations.RunPython(create, drop)]
