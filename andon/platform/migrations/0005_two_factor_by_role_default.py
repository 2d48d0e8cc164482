"""Every role gets its settings row, so the admin site lists each role with whether it needs
two-factor: on for the roles that read across the organisation (roles.MFA_REQUIRED_BY_DEFAULT,
written out here as a migration must not follow later edits of the code), off for the others.
A row an administrator already saved is kept as it is."""

from django.db import migrations

REQUIRED_BY_DEFAULT = {"administrator", "cqo", "cmo", "patient_safety_officer", "medical_staff_office"}
ROLES = [
    "staff_reporter", "unit_manager", "patient_safety_officer", "quality_analyst", "compliance_specialist",
    "clinical_auditor", "risk_manager", "cqo", "cmo", "medical_staff_office", "board_member", "administrator",
]


def add_role_settings(apps, schema_editor):
    RoleSetting = apps.get_model("platform", "RoleSetting")
    for role in ROLES:
        RoleSetting.objects.get_or_create(role=role, defaults={"mfa_required": role in REQUIRED_BY_DEFAULT})


class Migration(migrations.Migration):
    dependencies = [("platform", "0004_content_documents_notifications")]
    operations = [migrations.RunPython(add_role_settings, migrations.RunPython.noop)]
