"""The questions from the patient safety team to an anonymous reporter, answered with the receipt code."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('safety', '0006_review_waiver_signoff_worksheet'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ReporterQuestion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('text', models.TextField(max_length=2000)),
                ('asked_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('answer', models.TextField(blank=True, max_length=4000)),
                ('answered_on', models.DateTimeField(blank=True, help_text='The day only (anonymous act)', null=True)),
                ('asked_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('event', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='questions', to='safety.safetyevent')),
            ],
            options={
                'ordering': ['asked_at', 'pk'],
            },
        ),
    ]
