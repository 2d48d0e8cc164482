"""The risk module's object rules, added to the one policy (andon/platform/permissions.py):
facts about a record that grant what no role does.

- risk.view_risk: risk.view over its place, its owner, or (a risk on the board assurance
  framework) risk.view_board over its organisation.
- risk.edit_risk: its owner, or risk.manage over its place (scores, controls, review).
- risk.use_register (no object: the register's pages): risk.view or risk.view_board anywhere,
  or owning a risk.
- risk.read_register (no object: the menu's entry): risk.view or risk.view_board anywhere. The
  menu asks on every page, so it does not ask whether someone owns a risk (a query for everyone
  without a risk role); an owner whose role has gone reaches their risks from their home page.
- risk.view_assessment: an FMEA/HFMEA's leader or team member, or risk.view_fmea over its place.
- risk.work_on_assessment: its leader or team member, or risk.lead_fmea over its place.
- risk.use_assessments (no object): risk.view_fmea anywhere, or being on an assessment's team.
"""

import rules

from andon.platform.permissions import add_rule, holds, person_fact


@rules.predicate
def owns_risk(user, risk):
    return risk is not None and getattr(risk, "owner_id", None) == user.pk


@rules.predicate
def on_board_framework(user, risk):
    from .models import Level

    return risk is not None and getattr(risk, "level", None) == Level.BOARD


def _risks_owned(person):
    from .models import Risk

    return Risk.objects.filter(owner=person)


owns_risks = person_fact("owns_a_risk", _risks_owned)


@rules.predicate
def owns_a_risk(user):
    return owns_risks(user)


@rules.predicate
def on_assessment_team(user, assessment):
    if assessment is None or getattr(assessment, "pk", None) is None:
        return False
    return assessment.leader_id == user.pk or assessment.team.filter(pk=user.pk).exists()


def _assessments_on(person):
    from django.db.models import Q

    from .models import Assessment

    return Assessment.objects.filter(Q(team=person) | Q(leader=person))


# The menu asks it of everyone without risk.view_fmea on every page.
on_a_team = person_fact("on_an_fmea_team", _assessments_on)


@rules.predicate
def on_an_assessment_team(user):
    return on_a_team(user)


add_rule("risk.view_risk", owns_risk | holds("risk.view") | (on_board_framework & holds("risk.view_board")))
add_rule("risk.edit_risk", owns_risk | holds("risk.manage"))
add_rule("risk.use_register", holds("risk.view") | holds("risk.view_board") | owns_a_risk)
add_rule("risk.read_register", holds("risk.view") | holds("risk.view_board"))
add_rule("risk.view_assessment", on_assessment_team | holds("risk.view_fmea"))
add_rule("risk.work_on_assessment", on_assessment_team | holds("risk.lead_fmea"))
add_rule("risk.use_assessments", holds("risk.view_fmea") | on_an_assessment_team)
