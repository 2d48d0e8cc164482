"""Compliance: policies and procedures under document control, their approval, and read-and-sign.

A policy's text lives in numbered versions that move draft → in review → approved → published →
retired. Plain guarded services, not django-fsm: a transition here depends on other rows (every
named approver's decision, the previous published version, the attestations it creates), which a
single-model state machine does not hold; each service checks the state it starts from under the
version's row lock, so two people cannot move one version twice.

- The owner (or document control: compliance.publish_policies) edits drafts only.
- Submitting names approvers who hold compliance.approve_policies over the policy's scope and did
  not write the version; each decides once. A return needs a comment and sends the version back to
  draft; when every approver approved, the version is approved.
- Publishing (document control) retires the previous published version, sets the next review date
  and asks everyone the attestation rules name to read and sign (one Attestation per person).
- The daily sweep asks people who joined a unit since publication, reminds people whose
  attestation is overdue (at most once every ANDON_COMPLIANCE_REMINDER_DAYS) and tells owners of
  reviews due within ANDON_COMPLIANCE_REVIEW_NOTICE_DAYS or overdue.

Other modules reach these through andon.compliance.services.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, permissions
from andon.platform.concurrency import lock
from andon.platform.models import Organisation, RoleGrant, Unit, User
from andon.platform.notifications import email, notify
from andon.platform.pdf import render_template_pdf
from andon.platform.roles import Role, roles_with

from . import search
from .models import (
    Attestation, AttestationRule, Decision, Policy, PolicyApproval, PolicyRequirement, PolicyStatus, PolicyVersion,
    Requirement,
)
from .search import search_policies

__all__ = [
    "RuleSpec", "access_policy", "access_version", "approver_choices", "ask_new_people", "attestation_of",
    "completion_by_person", "completion_by_unit", "create_policy", "current_version", "decide", "edit_draft",
    "link_requirements", "my_pending_attestations", "new_version", "overdue_attestations", "pending_decisions",
    "policy_pdf", "policy_work",
    "publish", "remind_attestations", "remind_reviews", "retire", "reviews_due", "search_policies", "sign",
    "submit_for_review", "visible_policies",
]

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_/]{0,39}$")
TEXT_MAX = 200_000
COMMENT_MAX = 4000
MAX_RULES = 20


def reminder_days() -> int:
    return settings.ANDON_COMPLIANCE_REMINDER_DAYS


def review_notice_days() -> int:
    return settings.ANDON_COMPLIANCE_REVIEW_NOTICE_DAYS


# --- reading ------------------------------------------------------------------------------------

def visible_policies(user):
    """Policies the user may read: those of units where they hold compliance.view_policies (with
    the units below), those of the units above their own and of their organisation (a ward nurse
    reads the hospital's and the service line's policies), and those they own."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Policy.objects.none()
    roles = roles_with("compliance.view_policies")
    condition = Q(owner=user)
    for grant in permissions.active_grants(user):
        if grant.role not in roles:
            continue
        if grant.unit_id:
            above = [int(pk) for pk in grant.unit.path.strip("/").split("/") if pk]
            condition |= (Q(unit__path__startswith=grant.unit.path) | Q(unit_id__in=above)
                          | Q(unit__isnull=True, organisation_id=grant.organisation_id))
        elif grant.facility_id:
            condition |= Q(unit__facility_id=grant.facility_id) | Q(unit__isnull=True, organisation_id=grant.organisation_id)
        else:
            condition |= Q(organisation_id=grant.organisation_id)
    return Policy.objects.filter(condition).defer("search_text")  # the index's copy: only search.py reads it, in SQL


def reads_policy(user, policy) -> bool:
    """The object rule compliance.read_policy (rules.py)."""
    return visible_policies(user).filter(pk=policy.pk).exists()


def access_policy(user, policy_id, capability: str = "compliance.read_policy") -> Policy:
    """The policy if the user may read it and `capability` it: 404 when there is none, 403 else."""
    policy = permissions.fetch_checked(user, "compliance.read_policy", Policy.objects.select_related(
        "organisation", "unit", "owner"), pk=policy_id)
    if capability != "compliance.read_policy":
        permissions.check(user, capability, policy)
    return policy


def access_version(user, version_id, capability: str = "compliance.read_policy") -> PolicyVersion:
    version = permissions.fetch_checked(user, "compliance.read_policy", PolicyVersion.objects.select_related(
        "policy__organisation", "policy__unit", "policy__owner", "created_by", "published_by"), pk=version_id)
    if capability != "compliance.read_policy":
        permissions.check(user, capability, version if capability == "compliance.decide_policy" else version.policy)
    return version


def current_version(policy) -> PolicyVersion | None:
    """The published version, else None."""
    return policy.versions.filter(status=PolicyStatus.PUBLISHED).first()


def approver_choices(policy, author=None):
    """People who may be named to approve a version of the policy (not its author)."""
    people = permissions.people_who("compliance.approve_policies", policy).order_by("last_name", "first_name", "username")
    return people.exclude(pk=author.pk) if author is not None else people


def pending_decisions(user):
    """Versions in review awaiting the user's decision, oldest submission first."""
    return (PolicyApproval.objects.filter(approver=user, decision=Decision.PENDING,
                                          version__status=PolicyStatus.IN_REVIEW)
            .select_related("version__policy").order_by("version__submitted_at", "pk"))


def my_pending_attestations(user):
    """The person's unsigned attestations of published versions, oldest due first: one query on
    the (person, signed_at) index, with the policy joined (not the version's text nor the search
    text: the lists name the policy, and the two texts were nine tenths of every row read)."""
    return (Attestation.objects.filter(person=user, signed_at__isnull=True, version__status=PolicyStatus.PUBLISHED)
            .select_related("version__policy").defer("version__text", "version__policy__search_text")
            .order_by("due_on", "pk"))


def attestation_of(user, version) -> Attestation | None:
    return Attestation.objects.filter(person=user, version=version).first()


def reviews_due(policies, today: date | None = None, within_days: int = 0):
    """Policies with a published version whose review date has passed (or falls within the days)."""
    today = today or timezone.localdate()
    # DISTINCT compares whole rows: not the search text (2 KB a policy in issue 16's benchmark).
    return policies.filter(next_review_on__lte=today + timedelta(days=within_days),
                           versions__status=PolicyStatus.PUBLISHED).defer("search_text").distinct()


def overdue_attestations(versions_or_scope, today: date | None = None):
    """Unsigned attestations past their due date of published versions in `versions_or_scope`."""
    today = today or timezone.localdate()
    return (Attestation.objects.filter(version__in=versions_or_scope, signed_at__isnull=True, due_on__lt=today,
                                       version__status=PolicyStatus.PUBLISHED)
            .select_related("person", "unit", "version__policy").order_by("due_on", "person__last_name"))


@dataclass(frozen=True)
class Completion:
    label: str
    key: int | None
    asked: int
    signed: int
    overdue: int

    @property
    def percent(self) -> float:
        return round(100 * self.signed / self.asked, 1) if self.asked else 0.0


def _completion(attestations, by: str, today: date):
    rows = (attestations.order_by().values(by).annotate(
        asked=Count("pk"), signed=Count("pk", filter=Q(signed_at__isnull=False)),
        overdue=Count("pk", filter=Q(signed_at__isnull=True, due_on__lt=today))))
    return list(rows)


def completion_by_unit(attestations, today: date | None = None) -> list[Completion]:
    """Asked, signed and overdue per unit the people were asked through ("No unit" for
    facility- and organisation-wide roles), in the order of the unit tree."""
    today = today or timezone.localdate()
    rows = _completion(attestations, "unit", today)
    names = Unit.objects.in_bulk([row["unit"] for row in rows if row["unit"]])
    result = [Completion(names[row["unit"]].name if row["unit"] else "No unit (organisation-wide roles)", row["unit"],
                         row["asked"], row["signed"], row["overdue"]) for row in rows]
    return sorted(result, key=lambda c: (names[c.key].path if c.key else "~"))


def completion_by_person(attestations, today: date | None = None) -> list[Completion]:
    today = today or timezone.localdate()
    rows = _completion(attestations, "person", today)
    people = User.objects.in_bulk([row["person"] for row in rows])
    result = [Completion(people[row["person"]].get_full_name() or people[row["person"]].username, row["person"],
                         row["asked"], row["signed"], row["overdue"]) for row in rows]
    return sorted(result, key=lambda c: (-c.overdue, c.percent, c.label))


# --- validation ---------------------------------------------------------------------------------

def _clean_text(errors, name, value, *, limit, required_message=None) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        errors[name] = "The text holds a NUL character; remove it."
    elif required_message and not value:
        errors[name] = required_message
    elif len(value) > limit:
        errors[name] = f"{len(value):,} characters is too long; keep it to {limit:,}."
    return value


def _clean_urns(errors, urns) -> list[str]:
    urns = sorted({(urn or "").strip() for urn in (urns or []) if (urn or "").strip()})
    if not urns:
        return []
    known = set(Requirement.objects.filter(urn__in=urns).values_list("urn", flat=True))
    unknown = [urn for urn in urns if urn not in known]
    if unknown:
        errors["requirement_urns"] = f"No framework loaded has the requirement {', '.join(unknown[:5])}."
    return urns


def _clean_owner(errors, owner, organisation) -> None:
    if not isinstance(owner, User) or not owner.is_active:
        errors["owner"] = "Choose the person who owns the policy (an active member of staff)."
    elif not RoleGrant.objects.filter(user=owner, organisation=organisation).exists():
        errors["owner"] = "The owner must be a member of staff of the policy's organisation."


def _scope(organisation, unit):
    return unit if unit is not None else organisation


# --- document control ---------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def create_policy(user, *, organisation, unit=None, code: str, title: str, owner, review_every_months: int = 36,
                  text: str = "", requirement_urns=()) -> Policy:
    """A new policy with its first version as a draft (compliance.author_policies over its scope)."""
    if not isinstance(organisation, Organisation):
        raise ValidationError({"organisation": "Choose the organisation the policy belongs to."})
    if unit is not None and unit.facility.organisation_id != organisation.pk:
        raise ValidationError({"unit": "The unit is not part of the policy's organisation."})
    permissions.check(user, "compliance.author_policies", _scope(organisation, unit))
    errors = {}
    code = (code or "").strip()
    if not CODE_PATTERN.match(code):
        errors["code"] = "Give the document number: letters, digits and . - _ / only, up to 40 characters (e.g. PC-104)."
    elif Policy.objects.filter(organisation=organisation, code__iexact=code).exists():
        errors["code"] = f"The organisation already has a policy {code}."
    title = _clean_text(errors, "title", title, limit=200, required_message="Give the policy a title.")
    text = _clean_text(errors, "text", text, limit=TEXT_MAX)
    if not isinstance(review_every_months, int) or not 1 <= review_every_months <= 120:
        errors["review_every_months"] = "Review every 1 to 120 months."
    _clean_owner(errors, owner, organisation)
    urns = _clean_urns(errors, requirement_urns)
    if errors:
        raise ValidationError(errors)
    policy = Policy.objects.create(organisation=organisation, unit=unit, code=code, title=title, owner=owner,
                                   review_every_months=review_every_months)
    PolicyVersion.objects.create(policy=policy, number=1, text=text, change_summary="First version", created_by=user)
    for urn in urns:
        PolicyRequirement.objects.create(policy=policy, requirement_urn=urn)
    search.index_policy(policy)
    return policy


def _check_draft(version) -> None:
    if version.status != PolicyStatus.DRAFT:
        raise ValidationError({"status": f"Version {version.number} is {version.get_status_display().lower()}: only "
                                         "a draft can be changed. Start a new version to change a published policy."})


@audit.changes_by_user
@transaction.atomic
def edit_draft(user, version: PolicyVersion, ver: int | None = None, *, text: str, change_summary: str = "",
               file=None) -> PolicyVersion:
    """Change a draft's text, summary and uploaded original (owner or document control)."""
    permissions.check(user, "compliance.edit_policy", version.policy)
    version = lock(version, ver)
    _check_draft(version)
    errors = {}
    text = _clean_text(errors, "text", text, limit=TEXT_MAX)
    change_summary = _clean_text(errors, "change_summary", change_summary, limit=COMMENT_MAX)
    checked = None
    if file is not None:
        from .uploads import DOCUMENTS, check_upload

        try:
            checked = check_upload(file, DOCUMENTS)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    version.text, version.change_summary = text, change_summary
    if checked is not None:
        version.file.save("upload", checked.as_file(), save=False)
        version.file_name = checked.name
    version.save()
    search.index_policy(version.policy)
    return version


@audit.changes_by_user
@transaction.atomic
def new_version(user, policy: Policy) -> PolicyVersion:
    """A draft copied from the published version (the owner or document control)."""
    permissions.check(user, "compliance.edit_policy", policy)
    lock(policy)
    if policy.versions.filter(status__in=[PolicyStatus.DRAFT, PolicyStatus.IN_REVIEW, PolicyStatus.APPROVED]).exists():
        raise ValidationError({"status": "The policy already has a version in progress; finish or change that one."})
    published = current_version(policy)
    if published is None:
        raise ValidationError({"status": "The policy has no published version to start from."})
    number = (policy.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = PolicyVersion.objects.create(policy=policy, number=number, text=published.text, created_by=user,
                                           file_name=published.file_name, file=published.file.name or "")
    search.index_policy(policy)
    return version


@audit.changes_by_user
@transaction.atomic
def submit_for_review(user, version: PolicyVersion, approvers, ver: int | None = None) -> PolicyVersion:
    """Send a draft to named approvers (each holds compliance.approve_policies over the policy's
    scope and is not the author); they are e-mailed, and their home page lists the decision."""
    permissions.check(user, "compliance.edit_policy", version.policy)
    version = lock(version, ver)
    _check_draft(version)
    approvers = list({person.pk: person for person in approvers if person is not None}.values())
    errors = {}
    if not version.text.strip() and not version.file:
        errors["text"] = "The draft is empty: write its text or upload the original before review."
    if not approvers:
        errors["approvers"] = "Name at least one approver."
    eligible = set(approver_choices(version.policy).values_list("pk", flat=True))
    for person in approvers:
        if person.pk in (version.created_by_id, user.pk):
            errors["approvers"] = f"{person.get_full_name() or person.username} wrote this version and cannot approve it."
        elif person.pk not in eligible:
            errors["approvers"] = (f"{person.get_full_name() or person.username} may not approve policies of "
                                   f"{version.policy.unit or version.policy.organisation}.")
    if errors:
        raise ValidationError(errors)
    version.approvals.all().delete()  # a version returned earlier asks afresh
    for person in approvers:
        PolicyApproval.objects.create(version=version, approver=person)
    version.status = PolicyStatus.IN_REVIEW
    version.submitted_at = timezone.now()
    version.save()
    url = reverse("compliance:policy_decide", args=[version.pk])
    # E-mail only: each approver's home page lists "Policy awaiting your decision" (policy_work).
    email(approvers, f"Policy awaiting your approval: {version.policy.code} v{version.number}", url=url,
          body=f"{user.get_full_name() or user.username} asks you to approve {version.policy}.")
    return version


@audit.changes_by_user
@transaction.atomic
def decide(user, version: PolicyVersion, approve: bool, comment: str = "", ver: int | None = None) -> PolicyVersion:
    """A named approver's decision. Returning needs a comment and sends the version back to draft;
    when every approver has approved, the version is approved."""
    version = lock(version, ver)
    if version.status != PolicyStatus.IN_REVIEW:
        raise ValidationError({"status": f"Version {version.number} is {version.get_status_display().lower()}, "
                                         "not in review: there is nothing to decide."})
    permissions.check(user, "compliance.decide_policy", version)
    errors = {}
    comment = _clean_text(errors, "comment", comment, limit=COMMENT_MAX,
                          required_message=None if approve else "Say what must change before you can approve it.")
    if errors:
        raise ValidationError(errors)
    approval = version.approvals.select_for_update().get(approver=user, decision=Decision.PENDING)
    approval.decision = Decision.APPROVED if approve else Decision.RETURNED
    approval.comment, approval.decided_at = comment, timezone.now()
    approval.save()
    owner_url = reverse("compliance:policy", args=[version.policy_id])
    if not approve:
        version.status = PolicyStatus.DRAFT
        version.save()
        notify([version.policy.owner, version.created_by], f"Policy returned for changes: {version.policy.code} "
               f"v{version.number}", url=owner_url, body=comment)
    elif not version.approvals.exclude(decision=Decision.APPROVED).exists():
        version.status = PolicyStatus.APPROVED
        version.approved_at = timezone.now()
        version.save()
        notify([version.policy.owner, *permissions.people_who("compliance.publish_policies", version.policy)],
               f"Policy approved, ready to publish: {version.policy.code} v{version.number}", url=owner_url)
    return version


@dataclass(frozen=True)
class RuleSpec:
    """Who must read and sign: holders of `role` ("" for any role) in `unit` and the units below
    it (None: the whole organisation), within `due_in_days` of publication."""

    role: str = ""
    unit: Unit | None = None
    due_in_days: int = 30


def _clean_rules(errors, policy, rules) -> list[RuleSpec]:
    rules = list(rules or [])
    if len(rules) > MAX_RULES:
        errors["attestation_rules"] = f"At most {MAX_RULES} rules."
        return []
    for index, rule in enumerate(rules):
        where = f"Rule {index + 1}"
        if rule.role and rule.role not in Role.values:
            errors["attestation_rules"] = f"{where}: {rule.role!r} is not a role."
        elif not isinstance(rule.due_in_days, int) or not 1 <= rule.due_in_days <= 365:
            errors["attestation_rules"] = f"{where}: give 1 to 365 days to read and sign."
        elif rule.unit is not None and rule.unit.facility.organisation_id != policy.organisation_id:
            errors["attestation_rules"] = f"{where}: {rule.unit.name} is not part of the policy's organisation."
        elif rule.unit is not None and policy.unit is not None and not rule.unit.path.startswith(policy.unit.path):
            errors["attestation_rules"] = f"{where}: {rule.unit.name} is outside {policy.unit.name}, where the policy applies."
        elif rule.unit is None and policy.unit is not None:
            errors["attestation_rules"] = f"{where}: the policy applies to {policy.unit.name}; ask a unit within it."
    return rules


def _asked_grants(rule: AttestationRule, organisation_id: int):
    """The role grants that make a person asked by a rule: in the rule's unit, a unit below it or
    above it (a service line's manager reads the ward's procedure); a rule for the whole
    organisation asks every grant in it. Organisation- and facility-wide roles (officers,
    executives, the board) are asked only by a rule for the whole organisation."""
    grants = RoleGrant.objects.filter(organisation_id=organisation_id, user__is_active=True)
    if rule.role:
        grants = grants.filter(role=rule.role)
    if rule.unit_id is None:
        return grants
    above = [int(pk) for pk in rule.unit.path.strip("/").split("/") if pk]
    return grants.filter(Q(unit__path__startswith=rule.unit.path) | Q(unit_id__in=above))


def _ask(version: PolicyVersion, today: date) -> list[Attestation]:
    """Attestations for everyone the version's rules name who has none yet; the unit recorded is
    the one of the person's grant (their own ward), for completion by unit."""
    already = set(version.attestations.values_list("person_id", flat=True))
    wanted: dict[int, Attestation] = {}
    for rule in version.attestation_rules.select_related("unit"):
        due = today + timedelta(days=rule.due_in_days)
        for grant in _asked_grants(rule, version.policy.organisation_id).order_by("user_id", "unit_id"):
            if grant.user_id in already:
                continue
            known = wanted.get(grant.user_id)
            if known is None or due < known.due_on:
                wanted[grant.user_id] = Attestation(version=version, person_id=grant.user_id, due_on=due,
                                                    unit_id=grant.unit_id or rule.unit_id)
    created = Attestation.objects.bulk_create(list(wanted.values()), ignore_conflicts=True)
    return created


@audit.changes_by_user
@transaction.atomic
def publish(user, version: PolicyVersion, effective_on: date | None = None, attestation_rules=(),
            ver: int | None = None) -> PolicyVersion:
    """Publish an approved version (document control): the previous published one retires, the
    next review is due review_every_months later, and the rules' people are asked to read it."""
    permissions.check(user, "compliance.publish_policies", version.policy)
    version = lock(version, ver)
    if version.status != PolicyStatus.APPROVED:
        raise ValidationError({"status": f"Version {version.number} is {version.get_status_display().lower()}: only "
                                         "an approved version can be published."})
    today = timezone.localdate()
    effective_on = effective_on or today
    errors = {}
    if not isinstance(effective_on, date) or not today - timedelta(days=366) <= effective_on <= today + timedelta(days=366):
        errors["effective_on"] = "The effective date must be within a year of today."
    rules = _clean_rules(errors, version.policy, attestation_rules)
    if errors:
        raise ValidationError(errors)
    policy = lock(version.policy)
    for previous in policy.versions.select_for_update().filter(status=PolicyStatus.PUBLISHED):
        previous.status, previous.retired_at = PolicyStatus.RETIRED, timezone.now()
        previous.save()
    version.status, version.published_at, version.published_by = PolicyStatus.PUBLISHED, timezone.now(), user
    version.effective_on = effective_on
    version.save()
    for rule in rules:
        AttestationRule.objects.create(version=version, role=rule.role, unit=rule.unit, due_in_days=rule.due_in_days)
    policy.next_review_on = _add_months(effective_on, policy.review_every_months)
    policy.review_reminded_on = None
    policy.save()
    search.index_policy(policy)
    asked = _ask(version, today)
    if asked:
        people = User.objects.filter(pk__in=[a.person_id for a in asked])
        # E-mail only: each person's home page lists "Read and sign: …" until they sign (policy_work).
        email(people, f"Please read and sign: {policy.code} {policy.title}",
              url=reverse("compliance:attest", args=[version.pk]),
              body=f"Version {version.number} is published; read it and sign by {min(a.due_on for a in asked):%Y-%m-%d}.")
    return version


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


@audit.changes_by_user
@transaction.atomic
def retire(user, target, reason: str, ver: int | None = None) -> PolicyVersion | None:
    """Retire a policy (its published version, and any version in progress) or one version:
    document control, with a reason. Nobody is asked to sign a retired version any more."""
    policy = target if isinstance(target, Policy) else target.policy
    permissions.check(user, "compliance.publish_policies", policy)
    errors = {}
    reason = _clean_text(errors, "reason", reason, limit=COMMENT_MAX, required_message="Say why it is retired.")
    if errors:
        raise ValidationError(errors)
    if isinstance(target, Policy):
        lock(policy, ver)
        versions = list(policy.versions.select_for_update().exclude(status=PolicyStatus.RETIRED))
    else:
        versions = [lock(target, ver)]
    if not versions or any(v.status == PolicyStatus.RETIRED for v in versions):
        raise ValidationError({"status": "Already retired."})
    for version in versions:
        version.status, version.retired_at = PolicyStatus.RETIRED, timezone.now()
        version.change_summary = (version.change_summary + f"\nRetired: {reason}").strip()
        version.save()
    if isinstance(target, Policy) or not policy.versions.filter(status=PolicyStatus.PUBLISHED).exists():
        policy.next_review_on = None
        policy.save()
    search.index_policy(policy)
    return versions[0]


@audit.changes_by_user
@transaction.atomic
def link_requirements(user, policy: Policy, urns) -> list[str]:
    """Set the requirements the policy answers (the owner or document control)."""
    permissions.check(user, "compliance.edit_policy", policy)
    errors = {}
    urns = _clean_urns(errors, urns)
    if errors:
        raise ValidationError(errors)
    policy.requirement_links.exclude(requirement_urn__in=urns).delete()
    have = set(policy.requirement_links.values_list("requirement_urn", flat=True))
    for urn in urns:
        if urn not in have:
            PolicyRequirement.objects.create(policy=policy, requirement_urn=urn)
    return urns


# --- read and sign ------------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def sign(user, version: PolicyVersion) -> Attestation:
    """The person's own "I have read and understood": once (a second tap changes nothing)."""
    permissions.check(user, "compliance.attest")
    attestation = Attestation.objects.select_for_update().filter(person=user, version=version).first()
    if attestation is None:
        raise ValidationError({"version": "You are not asked to sign this version."})
    if version.status != PolicyStatus.PUBLISHED and attestation.signed_at is None:
        raise ValidationError({"version": "This version is no longer published; it needs no signature."})
    if attestation.signed_at is None:
        attestation.signed_at = timezone.now()
        attestation.save(update_fields=["signed_at"])
    return attestation


def policy_pdf(version) -> bytes:
    """The version as the PDF people print: code, version and approval on every page."""
    approvals = list(version.approvals.filter(decision=Decision.APPROVED).select_related("approver"))
    approved_by = ", ".join(a.approver.get_full_name() or a.approver.username for a in approvals)
    return render_template_pdf("compliance/policy_pdf.html", {
        "version": version, "policy": version.policy, "approvals": approvals, "approved_by": approved_by or "—",
        "paragraphs": [p.strip() for p in version.text.split("\n\n") if p.strip()],
        "printed_at": timezone.now(),
    })


# --- the daily sweep ----------------------------------------------------------------------------

def ask_new_people(today: date) -> int:
    """People who joined a unit (or took a role) after a version was published are asked too,
    with the rule's days counted from today."""
    count = 0
    for version in PolicyVersion.objects.filter(status=PolicyStatus.PUBLISHED, attestation_rules__isnull=False).distinct() \
            .select_related("policy"):
        with transaction.atomic():
            asked = _ask(version, today)
            if asked:  # e-mail only, as at publication: the home page lists it
                email(User.objects.filter(pk__in=[a.person_id for a in asked]),
                      f"Please read and sign: {version.policy.code} {version.policy.title}",
                      url=reverse("compliance:attest", args=[version.pk]))
            count += len(asked)
    return count


def remind_attestations(today: date) -> int:
    """One reminder per person with overdue attestations, at most once every reminder_days."""
    due_again = today - timedelta(days=reminder_days())
    overdue = Attestation.objects.filter(signed_at__isnull=True, due_on__lt=today, version__status=PolicyStatus.PUBLISHED)
    waiting = overdue.filter(Q(reminded_on__isnull=True) | Q(reminded_on__lte=due_again))
    people = list(waiting.order_by().values("person").annotate(n=Count("pk"), first=Min("due_on")))
    with transaction.atomic():
        for row in people:
            person = User.objects.get(pk=row["person"])
            # E-mail only: the home page already shows each overdue one as a red "Read and sign" line.
            email([person], f"{row['n']} polic{'y' if row['n'] == 1 else 'ies'} to read and sign, overdue",
                  url=reverse("compliance:my_attestations"),
                  body=f"The first was due {row['first']:%Y-%m-%d}. Open Andon to read and sign.")
        overdue.filter(person__in=[row["person"] for row in people]).update(reminded_on=today)
    return len(people)


def remind_reviews(today: date) -> int:
    """Tell owners of policies whose review is due within the notice days or overdue; once per
    period of reminder_days."""
    due_again = today - timedelta(days=reminder_days())
    policies = (reviews_due(Policy.objects.all(), today, review_notice_days())
                .filter(Q(review_reminded_on__isnull=True) | Q(review_reminded_on__lte=due_again))
                .select_related("owner"))
    count = 0
    with transaction.atomic():
        for policy in policies:
            late = policy.next_review_on < today
            # E-mail only: the owner's home page has the same "Policy review due/overdue" line.
            email([policy.owner], f"Policy review {'overdue' if late else 'due'}: {policy.code} {policy.title}",
                  url=reverse("compliance:policy", args=[policy.pk]),
                  body=f"The review was due {policy.next_review_on:%Y-%m-%d}." if late else
                  f"The review is due {policy.next_review_on:%Y-%m-%d}.")
            Policy.objects.filter(pk=policy.pk).update(review_reminded_on=today)
            count += 1
    return count


# --- the home page ------------------------------------------------------------------------------

WORK_LIMIT = 20


def policy_work(user) -> list:
    """The person's lines on the home page: each policy to read and sign (oldest due first, overdue
    in words), the versions awaiting their decision, and reviews of the policies they own."""
    from andon.platform.services import WorkItem

    today = timezone.localdate()
    items = []
    for attestation in my_pending_attestations(user)[:WORK_LIMIT]:
        policy = attestation.version.policy
        late = (today - attestation.due_on).days
        detail = (f"Overdue: was due {attestation.due_on:%Y-%m-%d} ({late} day{'s' if late != 1 else ''} ago)"
                  if late > 0 else f"Due {attestation.due_on:%Y-%m-%d}")
        items.append(WorkItem(f"Read and sign: {policy.code} {policy.title}",
                              reverse("compliance:attest", args=[attestation.version_id]),
                              "alert" if late > 0 else "due", detail))
    # Approvers are named among holders of compliance.approve_policies: nobody else is asked.
    decisions = pending_decisions(user)[:WORK_LIMIT] if permissions.can(user, "compliance.approve_policies") else []
    for approval in decisions:
        version = approval.version
        items.append(WorkItem(f"Policy awaiting your decision: {version.policy.code} v{version.number}",
                              reverse("compliance:policy_decide", args=[version.pk]), "review", version.policy.title))
    for policy in reviews_due(Policy.objects.filter(owner=user), today, review_notice_days())[:WORK_LIMIT]:
        late = policy.next_review_on < today
        items.append(WorkItem(f"Policy review {'overdue' if late else 'due'}: {policy.code} {policy.title}",
                              reverse("compliance:policy", args=[policy.pk]), "alert" if late else "due",
                              f"Review date {policy.next_review_on:%Y-%m-%d}"))
    return items


def connect() -> None:
    """Registries of this subject (audit, history, navigation, work, demo, sweeps), from ready()."""
    from andon.platform import history, navigation
    from andon.platform import services as platform_services
    from andon.platform.demo import register_demo_loader

    from . import demo_policies, models
    from .sweep import register_sweep

    for model in (models.Policy, models.PolicyVersion):
        audit.register(model, exclude_fields=["version", "search_text"])
    for model in (models.PolicyApproval, models.PolicyRequirement, models.AttestationRule, models.Attestation):
        audit.register(model)
    history.register(models.Policy, labels={"next_review_on": "Next review", "review_reminded_on": "Review reminder sent"},
                     hidden={"search_text"})
    history.register(models.PolicyVersion, labels={"file_name": "Original file"}, hidden={"file"})
    navigation.add(navigation.NavEntry("Policies", "compliance:policies", "compliance.view_policies",
                                       "journal-text", "main"))
    platform_services.register_work_provider(policy_work)
    register_sweep("policy attestations for new staff", ask_new_people)
    register_sweep("attestation reminders", remind_attestations)
    register_sweep("policy reviews", remind_reviews)
    register_demo_loader(demo_policies.load)
