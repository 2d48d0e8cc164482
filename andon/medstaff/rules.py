"""The medical staff module's object rules, added to the one policy (andon/platform/permissions.py):
facts about a record that grant what no role does.

- medstaff.view_practitioner: medstaff.view_practitioners over the practitioner's department, or
  being that practitioner (their own file).
"""

import rules

from andon.platform.permissions import add_rule, holds


@rules.predicate
def is_the_practitioner(user, practitioner):
    return practitioner is not None and practitioner.user_id is not None and practitioner.user_id == user.pk


add_rule("medstaff.view_practitioner", holds("medstaff.view_practitioners") | is_the_practitioner)


# --- FPPE (fppe.py): the proctor, another practitioner, records the cases from their own account.

@rules.predicate
def proctors_fppe(user, fppe):
    proctor = getattr(fppe, "proctor", None)
    return proctor is not None and proctor.user_id is not None and proctor.user_id == user.pk


@rules.predicate
def proctors_an_fppe(user):
    from andon.platform.permissions import remembered

    from .models import Fppe

    return remembered(user, "proctors_an_fppe", Fppe.objects.filter(proctor__user=user).exists)


# - medstaff.record_fppe_case: the FPPE's proctor, or medstaff.manage_fppe over the department.
# - medstaff.view_fppe_record: the proctor, or medstaff.view_fppe over the department.
# - medstaff.use_fppe (no object: pages and navigation): medstaff.view_fppe anywhere, or proctoring one.
add_rule("medstaff.record_fppe_case", proctors_fppe | holds("medstaff.manage_fppe"))
add_rule("medstaff.view_fppe_record", proctors_fppe | holds("medstaff.view_fppe"))
add_rule("medstaff.use_fppe", holds("medstaff.view_fppe") | proctors_an_fppe)
