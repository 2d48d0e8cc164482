"""Audit entries about anonymous acts, held until their day is over (audit.release_held_entries).

On PostgreSQL a held entry cannot be changed either (the trigger of 0002 refuses UPDATE); it
leaves the table only by being written to the trail.
"""

import uuid

from django.db import migrations, models

CREATE = """
CREATE TRIGGER andon_audit_held_unchanged
    BEFORE UPDATE ON platform_heldauditentry
    FOR EACH ROW EXECUTE FUNCTION andon_audit_append_only();
"""
DROP = "DROP TRIGGER IF EXISTS andon_audit_held_unchanged ON platform_heldauditentry;"


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('platform', '0006_job_lease'),
    ]

    operations = [
        migrations.CreateModel(
            name='HeldAuditEntry',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('day', models.DateField(db_index=True)),
                ('fields', models.JSONField()),
            ],
        ),
        migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP)),
    ]
