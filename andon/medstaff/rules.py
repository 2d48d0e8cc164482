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


def is_a_practitioner(user) -> bool:
    """Whether the account holds the Practitioner role: read from the grants the request has
    already, so that the menu of everyone else asks the database nothing about proctoring."""
    from andon.platform.permissions import active_grants
    from andon.platform.roles import Role

    return any(grant.role == Role.PRACTITIONER for grant in active_grants(user))


def proctors_fppes(user) -> bool:
    """Whether the user proctors an FPPE (a proctor's account holds the Practitioner role), read
    once per request (the menu and the home page ask)."""
    from andon.platform.permissions import remembered

    from .models import Fppe

    return is_a_practitioner(user) and remembered(user, "proctors_an_fppe",
                                                  Fppe.objects.filter(proctor__user=user).exists)


@rules.predicate
def proctors_an_fppe(user):
    return proctors_fppes(user)


# - medstaff.record_fppe_case: the FPPE's proctor, or medstaff.manage_fppe over the department.
# - medstaff.view_fppe_record: the proctor, or medstaff.view_fppe over the department.
# - medstaff.use_fppe (no object: pages and navigation): medstaff.view_fppe anywhere, or proctoring one.
add_rule("medstaff.record_fppe_case", proctors_fppe | holds("medstaff.manage_fppe"))
add_rule("medstaff.view_fppe_record", proctors_fppe | holds("medstaff.view_fppe"))
add_rule("medstaff.use_fppe", holds("medstaff.view_fppe") | proctors_an_fppe)
