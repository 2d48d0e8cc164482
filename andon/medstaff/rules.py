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


@rules.predicate
def is_the_oppe_subject(user, practitioner=None):
    """Being the practitioner; without one (a page's door), being any practitioner's own account."""
    if practitioner is None:
        from .models import Practitioner

        return Practitioner.objects.filter(user_id=user.pk).exists()
    return practitioner.user_id is not None and practitioner.user_id == user.pk


# - medstaff.view_practitioner_oppe: medstaff.view_oppe over the practitioner's department, or being
#   that practitioner (their own OPPE); medstaff.view_own_oppe: having a practitioner's account.
add_rule("medstaff.view_practitioner_oppe", holds("medstaff.view_oppe") | is_the_oppe_subject)
add_rule("medstaff.view_own_oppe", is_the_oppe_subject)
