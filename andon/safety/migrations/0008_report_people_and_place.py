"""What a ward knows on a report: the person affected, the patient (MRN or encounter, and the FHIR ids found for it), witnesses and the exact location."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('safety', '0007_reporter_questions'),
    ]

    operations = [
        migrations.AddField(
            model_name='safetyevent',
            name='encounter_fhir_id',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='safetyevent',
            name='location_detail',
            field=models.CharField(blank=True, help_text='Where exactly, within the unit', max_length=200),
        ),
        migrations.AddField(
            model_name='safetyevent',
            name='patient_fhir_id',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='safetyevent',
            name='patient_identifier',
            field=models.CharField(blank=True, help_text='MRN or encounter, as typed', max_length=64),
        ),
        migrations.AddField(
            model_name='safetyevent',
            name='person_affected',
            field=models.CharField(blank=True, choices=[('patient', 'A patient'), ('visitor', 'A visitor or family member'), ('staff', 'A member of staff'), ('other', 'Someone else'), ('nobody', 'Nobody (a condition or a near miss)')], max_length=20),
        ),
        migrations.AddField(
            model_name='safetyevent',
            name='witnesses',
            field=models.TextField(blank=True, max_length=1000),
        ),
    ]
