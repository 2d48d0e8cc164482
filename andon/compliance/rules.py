"""The compliance module's object rules, added to the one policy (andon/platform/permissions.py):
facts about a record that grant what no role does.

- compliance.work_on_item: the assessment item's owner, or compliance.assess over its scope.
- compliance.view_item: the assessment item's owner, or compliance.view over its scope.
- compliance.assessment_work (no object: pages): compliance.view anywhere, or owning an item.
- compliance.edit_evidence: the evidence's owner, or compliance.manage_evidence over its unit.
- compliance.edit_policy: the policy's owner, or compliance.publish_policies (document control).
- compliance.decide_policy: an approver named on the version with a decision still pending.
- compliance.read_policy: a policy of the user's units, of a unit above theirs or of their
  organisation (every member of staff reads the policies that apply to them), or one they own.
- compliance.fill_tracer: the tracer's surveyor for the day, or compliance.plan_tracers over its unit.
- compliance.view_tracer: the tracer's surveyor, or compliance.view or compliance.plan_tracers over its unit.
- compliance.use_tracers (no object: pages and navigation): compliance.view or compliance.plan_tracers
  anywhere, or being the surveyor of a tracer (a surveyor for the day may be any member of staff).
"""

import rules

from andon.platform.permissions import add_rule, holds, person_fact


def _owner_is_user(user, record) -> bool:
    return record is not None and getattr(record, "owner_id", None) == user.pk


@rules.predicate
def owns_item(user, item):
    return _owner_is_user(user, item)


def _items_owned(person):
    from .models import AssessmentItem

    return AssessmentItem.objects.filter(owner=person)


# Whether the user owns an item of an assessment (the menu asks).
owns_items = person_fact("owns_an_assessment_item", _items_owned)


@rules.predicate
def owns_an_item(user):
    return owns_items(user)


@rules.predicate
def owns_evidence(user, evidence):
    return _owner_is_user(user, evidence)


@rules.predicate
def owns_policy(user, policy):
    return _owner_is_user(user, policy)


@rules.predicate
def approves_version(user, version):
    from .models import Decision

    return version is not None and getattr(version, "pk", None) is not None and version.approvals.filter(
        approver=user, decision=Decision.PENDING).exists()


@rules.predicate
def reads_policy(user, policy):
    from .models import PolicyVersion
    from .policies import reads_policy as reads

    if isinstance(policy, PolicyVersion):  # a version is read as its policy
        policy = policy.policy
    return policy is not None and getattr(policy, "pk", None) is not None and reads(user, policy)


@rules.predicate
def surveys_tracer(user, tracer):
    return tracer is not None and getattr(tracer, "surveyor_id", None) == user.pk


def _tracers_surveyed(person):
    from .models import Tracer

    return Tracer.objects.filter(surveyor=person)


# Whether the user is the surveyor of any tracer (the menu asks).
surveys_tracers = person_fact("surveys_a_tracer", _tracers_surveyed)


@rules.predicate
def surveys_a_tracer(user):
    return surveys_tracers(user)


add_rule("compliance.work_on_item", owns_item | holds("compliance.assess"))
# An item's owner opens it (and their own items) without compliance.view over its scope.
add_rule("compliance.view_item", owns_item | holds("compliance.view"))
add_rule("compliance.assessment_work", owns_an_item | holds("compliance.view"))
add_rule("compliance.edit_evidence", owns_evidence | holds("compliance.manage_evidence"))
add_rule("compliance.edit_policy", owns_policy | holds("compliance.publish_policies"))
add_rule("compliance.decide_policy", approves_version)
add_rule("compliance.read_policy", reads_policy)
add_rule("compliance.fill_tracer", surveys_tracer | holds("compliance.plan_tracers"))
add_rule("compliance.view_tracer", surveys_tracer | holds("compliance.view") | holds("compliance.plan_tracers"))
add_rule("compliance.use_tracers", holds("compliance.view") | holds("compliance.plan_tracers") | surveys_a_tracer)
