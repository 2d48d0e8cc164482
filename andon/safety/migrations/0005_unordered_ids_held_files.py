"""Ids of safety events and attachments drawn at random, anonymous attachments kept in the
database, and the named references' own count per year (see SafetyEvent and unordered_id).
Existing records keep their ids; each year's count continues after the highest reference given
so far (EV-<year>-<number>, then taken from the id)."""

import re

import andon.safety.models
import django.db.models.deletion
from django.db import migrations, models


def continue_the_numbering(apps, schema_editor):
    highest = {}
    for reference in apps.get_model("safety", "SafetyEvent").objects.values_list("reference", flat=True):
        if match := re.fullmatch(r"EV-(\d{4})-(\d+)", reference or ""):
            year, number = int(match[1]), int(match[2])
            highest[year] = max(highest.get(year, 0), number)
    apps.get_model("safety", "ReferenceCounter").objects.bulk_create(
        apps.get_model("safety", "ReferenceCounter")(year=year, last=last) for year, last in highest.items())


class Migration(migrations.Migration):

    dependencies = [
        ('safety', '0004_event_version_triage_reason_deescalation'),
    ]

    operations = [
        migrations.CreateModel(
            name='HeldFile',
            fields=[
                ('attachment', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='held', serialize=False, to='safety.attachment')),
                ('content', models.BinaryField()),
            ],
        ),
        migrations.CreateModel(
            name='ReferenceCounter',
            fields=[
                ('year', models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
                ('last', models.PositiveIntegerField()),
            ],
        ),
        migrations.AlterField(
            model_name='attachment',
            name='file',
            field=models.FileField(blank=True, upload_to=andon.safety.models.attachment_path),
        ),
        migrations.AlterField(
            model_name='attachment',
            name='id',
            field=models.BigIntegerField(default=andon.safety.models.unordered_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='safetyevent',
            name='id',
            field=models.BigIntegerField(default=andon.safety.models.unordered_id, editable=False, primary_key=True, serialize=False),
        ),
        migrations.RunPython(continue_the_numbering, migrations.RunPython.noop),
    ]
