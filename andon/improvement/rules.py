"""The improvement module's object rules, added to the one policy (andon/platform/permissions.py):
facts about a record that grant what no role does.

- improvement.view_project: its sponsor, lead or team member, or improvement.view over its place.
- improvement.work_on_project: its lead or team member, or improvement.manage_projects over its
  place (charter, driver diagram, PDSA cycles).
- improvement.use_projects (no object: the projects' pages): improvement.view anywhere, or being
  on a project.
- improvement.view_audit: its lead or one of its auditors, or improvement.view over its place
  (results: aggregates only).
- improvement.read_audit_cases: its lead or one of its auditors, or improvement.view_audit_cases
  over its place (the cases name patients).
- improvement.answer_audit: its lead or one of its auditors (a named auditor enters the cases).
- improvement.run_audit: its lead, or improvement.manage_audits over its place (sample, cycle,
  findings).
- improvement.use_audits (no object): improvement.view or improvement.audit anywhere, or being
  named on an audit.
"""

import rules

from andon.platform.permissions import add_rule, holds, person_fact


def _pk(record):
    return getattr(record, "pk", None)


@rules.predicate
def on_project(user, project):
    if project is None or _pk(project) is None:
        return False
    if user.pk in (project.lead_id, project.sponsor_id):
        return True
    return project.team.filter(pk=user.pk).exists()


@rules.predicate
def works_on_project(user, project):
    if project is None or _pk(project) is None:
        return False
    return project.lead_id == user.pk or project.team.filter(pk=user.pk).exists()


def _projects_named_on(person):
    from django.db.models import Q

    from .models import Project

    return Project.objects.filter(Q(lead=person) | Q(sponsor=person) | Q(team=person))


def _audits_named_on(person):
    from django.db.models import Q

    from .models import Audit

    return Audit.objects.filter(Q(lead=person) | Q(auditors=person))


# Whether the person is on a project (lead, sponsor, team) and named on an audit (lead, auditor):
# anyone may be, so the menu and the home page ask it of everyone.
on_a_project = person_fact("on_an_improvement_project", _projects_named_on)
named_on_an_audit = person_fact("named_on_an_audit", _audits_named_on)


@rules.predicate
def on_any_project(user):
    return on_a_project(user)


@rules.predicate
def leads_audit(user, audit):
    return audit is not None and _pk(audit) is not None and audit.lead_id == user.pk


@rules.predicate
def audits_it(user, audit):
    if audit is None or _pk(audit) is None:
        return False
    return audit.lead_id == user.pk or audit.auditors.filter(pk=user.pk).exists()


@rules.predicate
def on_any_audit(user):
    return named_on_an_audit(user)


add_rule("improvement.view_project", on_project | holds("improvement.view"))
add_rule("improvement.work_on_project", works_on_project | holds("improvement.manage_projects"))
add_rule("improvement.use_projects", holds("improvement.view") | on_any_project)
add_rule("improvement.view_audit", audits_it | holds("improvement.view"))
add_rule("improvement.read_audit_cases", audits_it | holds("improvement.view_audit_cases"))
add_rule("improvement.answer_audit", audits_it)
add_rule("improvement.run_audit", leads_audit | holds("improvement.manage_audits"))
add_rule("improvement.use_audits", holds("improvement.view") | holds("improvement.audit") | on_any_audit)
