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
