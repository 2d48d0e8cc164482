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

# Peer review (peer_review.py): a case's assigned reviewers read and review that case, and no
# other; the committee and the office read every case of their scope. A reviewer who declared a
# conflict of interest is no longer assigned. Asked without a case (a page's door), the rule asks
# whether the user is assigned any case.
@rules.predicate
def is_assigned_reviewer(user, case=None):
    from .models import PeerReviewAssignment

    assigned = PeerReviewAssignment.objects.filter(reviewer_id=user.pk, conflict_declared_at__isnull=True)
    if case is not None:
        assigned = assigned.filter(case_id=case.pk)
    return assigned.exists()


add_rule("medstaff.view_peer_case", holds("medstaff.view_peer_review") | is_assigned_reviewer)
add_rule("medstaff.review_peer_case", is_assigned_reviewer)


# The feedback letter of a decided case is the reviewed practitioner's too (their own account).
@rules.predicate
def is_the_reviewed_practitioner(user, case=None):
    from .models import PeerReviewCase, PeerReviewStatus

    decided = PeerReviewCase.objects.filter(practitioner__user_id=user.pk, status__in=[
        PeerReviewStatus.DECIDED, PeerReviewStatus.CLOSED])
    return decided.filter(pk=case.pk).exists() if case is not None else decided.exists()


add_rule("medstaff.read_peer_letter", holds("medstaff.view_peer_review") | is_the_reviewed_practitioner)


# The door of the list of cases and its menu entry: the readers, and the peer reviewers (who find
# there the cases assigned to them). Decided by the roles alone, so the menu costs no query.
add_rule("medstaff.use_peer_review", holds("medstaff.view_peer_review") | holds("medstaff.be_peer_reviewer"))


@rules.predicate
def is_the_oppe_subject(user, practitioner=None):
    """Being the practitioner; without one (a page's door), being any practitioner's own account:
    asked of the database only for accounts holding the Practitioner role, once per request, so
    everyone else's menu costs no query."""
    if practitioner is None:
        from andon.platform.permissions import remembered

        from .models import Practitioner

        return is_a_practitioner(user) and remembered(
            user, "is_a_practitioner_of_record", Practitioner.objects.filter(user_id=user.pk).exists)
    return practitioner.user_id is not None and practitioner.user_id == user.pk


# - medstaff.view_practitioner_oppe: medstaff.view_oppe over the practitioner's department, or being
#   that practitioner (their own OPPE); medstaff.view_own_oppe: having a practitioner's account.
add_rule("medstaff.view_practitioner_oppe", holds("medstaff.view_oppe") | is_the_oppe_subject)
add_rule("medstaff.view_own_oppe", is_the_oppe_subject)
