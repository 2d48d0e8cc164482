"""The governance module's object rules (committee membership, pack status).

Committees and meetings (an object is a Committee, or a Meeting, whose committee is asked):
- governance.view_committee: a current member of the committee (any role, attendees included),
  or governance.view_committees over its organisation when the committee is not confidential.
  A confidential committee (peer review) is read by its members only, whatever their roles.
- governance.run_meeting: the committee's current chair or secretary, or governance.run_meetings
  (the CQO) for a committee that is not confidential. Running is planning a meeting, building its
  agenda, recording attendance, minutes and decisions, and approving the last meeting's minutes.
- governance.use_committees (no object: the committees list and its menu entry):
  governance.view_committees anywhere.

Packs: governance.read_pack_version: a board member (governance.view_packs alone) reads the
versions the CQO published; those who write the pack (governance.edit_packs) also read its drafts
and approved versions.
"""

import rules
from django.utils import timezone

from andon.platform.permissions import add_rule, holds, remembered


def _committee(obj):
    return getattr(obj, "committee", obj)


def current_roles(user, committee) -> frozenset[str]:
    """The roles the user holds on the committee today (read once per user object and committee)."""
    from .models import Membership

    def read():
        today = timezone.localdate()
        return frozenset(Membership.objects.filter(committee=committee, user_id=user.pk, started_on__lte=today)
                         .exclude(ended_on__lt=today).values_list("role", flat=True))

    return remembered(user, f"governance.roles.{committee.pk}", read)


@rules.predicate
def is_member(user, obj):
    committee = _committee(obj)
    return getattr(committee, "pk", None) is not None and bool(current_roles(user, committee))


@rules.predicate
def chairs_or_minutes(user, obj):
    committee = _committee(obj)
    return getattr(committee, "pk", None) is not None and bool(current_roles(user, committee) & {"chair", "secretary"})


@rules.predicate
def open_committee(user, obj):
    committee = _committee(obj)
    return committee is not None and not getattr(committee, "confidential", True)


add_rule("governance.view_committee", is_member | (open_committee & holds("governance.view_committees")))
add_rule("governance.run_meeting", chairs_or_minutes | (open_committee & holds("governance.run_meetings")))
add_rule("governance.use_committees", holds("governance.view_committees"))


@rules.predicate
def pack_version_published(user, version) -> bool:
    return version is not None and getattr(version, "status", "") == "published"


add_rule("governance.read_pack_version",
         holds("governance.edit_packs") | (holds("governance.view_packs") & pack_version_published))
