"""The risk module's reference counters move to the platform's one Sequence table (which the
improvement module's references use too): each counter is carried over with its value, then the
risk module's own table goes."""

from django.db import migrations


def carry_over(apps, schema_editor):
    RiskSequence = apps.get_model("risk", "Sequence")
    Sequence = apps.get_model("platform", "Sequence")
    for counter in RiskSequence.objects.all():
        kept, _ = Sequence.objects.get_or_create(name=counter.name)
        if kept.value < counter.value:
            kept.value = counter.value
            kept.save(update_fields=["value"])


def carry_back(apps, schema_editor):
    RiskSequence = apps.get_model("risk", "Sequence")
    Sequence = apps.get_model("platform", "Sequence")
    for counter in Sequence.objects.filter(name="risk") | Sequence.objects.filter(name__contains="FMEA-"):
        RiskSequence.objects.update_or_create(name=counter.name, defaults={"value": counter.value})


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0003_register_indexes"),
        ("platform", "0008_sequence_improvement_lead"),
    ]

    operations = [
        migrations.RunPython(carry_over, carry_back),
        migrations.DeleteModel(name="Sequence"),
    ]
