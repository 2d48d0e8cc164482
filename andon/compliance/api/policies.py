"""The compliance API: policies (list and search, create, read, versions and their workflow,
publish with read-and-sign rules, retire, the PDF), the caller's attestations and signing, and
completion by unit and person. The same services and policy as the pages."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform.api_kit import Body, Flag, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.models import Organisation, Unit, User
from andon.platform.permissions import requires
from andon.platform.roles import Role

from .. import policies as services
from ..models import PolicyStatus, PolicyVersion

router = NamedRouter("andon_compliance_api_")

StatusName = Literal["draft", "in_review", "approved", "published", "retired"]
RoleName = Literal[tuple(Role.values)]


class PolicyOut(Schema):
    id: int
    code: str
    title: str
    organisation_id: int
    unit_id: int | None
    owner_id: int
    owner: str
    review_every_months: int
    next_review_on: date | None
    review_overdue: bool
    requirement_urns: list[str]
    version: int

    @staticmethod
    def resolve_owner(policy):
        return policy.owner.get_full_name() or policy.owner.username

    @staticmethod
    def resolve_review_overdue(policy):
        return policy.next_review_on is not None and policy.next_review_on < timezone.localdate()

    @staticmethod
    def resolve_requirement_urns(policy):
        return sorted(link.requirement_urn for link in policy.requirement_links.all())


class ApprovalOut(Schema):
    approver_id: int
    approver: str
    decision: str
    comment: str
    decided_at: datetime | None

    @staticmethod
    def resolve_approver(approval):
        return approval.approver.get_full_name() or approval.approver.username


class PolicyVersionOut(Schema):
    id: int
    policy_id: int
    number: int
    status: str
    text: str
    file_name: str
    change_summary: str
    created_by_id: int
    created_at: datetime
    submitted_at: datetime | None
    approved_at: datetime | None
    published_at: datetime | None
    effective_on: date | None
    retired_at: datetime | None
    approvals: list[ApprovalOut]
    version: int

    @staticmethod
    def resolve_approvals(version):
        return list(version.approvals.select_related("approver"))


class SearchHitOut(Schema):
    policy: PolicyOut
    rank: float
    snippet_html: str


class AttestationOut(Schema):
    id: int
    version_id: int
    policy_id: int
    policy_code: str
    policy_title: str
    unit_id: int | None
    due_on: date
    overdue: bool
    signed_at: datetime | None

    @staticmethod
    def resolve_policy_id(attestation):
        return attestation.version.policy_id

    @staticmethod
    def resolve_policy_code(attestation):
        return attestation.version.policy.code

    @staticmethod
    def resolve_policy_title(attestation):
        return attestation.version.policy.title

    @staticmethod
    def resolve_overdue(attestation):
        return attestation.signed_at is None and attestation.due_on < timezone.localdate()


class CompletionRow(Schema):
    id: int | None
    name: str
    asked: int
    signed: int
    overdue: int
    percent: float


class CompletionOut(Schema):
    version_id: int
    by_unit: list[CompletionRow]
    by_person: list[CompletionRow]


class PolicyIn(Body):
    organisation_id: Id | None = None
    unit_id: Id | None = None
    code: Annotated[str, PydanticField(min_length=1, max_length=40)]
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    owner_id: Id
    review_every_months: Annotated[int, PydanticField(ge=1, le=120)] = 36
    text: Annotated[str, PydanticField(max_length=services.TEXT_MAX)] = ""
    requirement_urns: Annotated[list[Annotated[str, PydanticField(max_length=300)]], PydanticField(max_length=200)] = []


class DraftIn(Body):
    text: Annotated[str, PydanticField(max_length=services.TEXT_MAX)]
    change_summary: Annotated[str, PydanticField(max_length=services.COMMENT_MAX)] = ""
    version: Version = None


class SubmitIn(Body):
    approver_ids: Annotated[list[Id], PydanticField(min_length=1, max_length=20)]
    version: Version = None


class PolicyDecisionIn(Body):
    approve: Flag
    comment: Annotated[str, PydanticField(max_length=services.COMMENT_MAX)] = ""
    version: Version = None


class RuleIn(Body):
    role: RoleName | Literal[""] = ""
    unit_id: Id | None = None
    due_in_days: Annotated[int, PydanticField(ge=1, le=365)] = 30


class PublishIn(Body):
    effective_on: IsoDate | None = None
    attestation_rules: Annotated[list[RuleIn], PydanticField(max_length=services.MAX_RULES)] = []
    version: Version = None


class PolicyRetireIn(Body):
    reason: Annotated[str, PydanticField(min_length=1, max_length=services.COMMENT_MAX)]
    version: Version = None


class RequirementsIn(Body):
    requirement_urns: Annotated[list[Annotated[str, PydanticField(max_length=300)]], PydanticField(max_length=200)]


def _policies(queryset):
    return queryset.select_related("owner").prefetch_related("requirement_links")


@router.get("/policies", response=documented(list[PolicyOut]), summary="Policies the caller may read, by code")
@requires("compliance.view_policies")
@paginate(Pages)
def list_policies(request, status: StatusName | None = None, owner_id: Id | None = None, review_overdue: bool = False):
    policies = services.visible_policies(request.user)
    if status:
        policies = policies.filter(versions__status=status).distinct()
    if owner_id:
        policies = policies.filter(owner_id=owner_id)
    if review_overdue:
        policies = services.reviews_due(policies, timezone.localdate())
    return _policies(policies).order_by("code")


@router.get("/policies/search", response=documented(list[SearchHitOut]),
            summary="Search titles, codes and text of the current versions, best match first")
@requires("compliance.view_policies")
def search_policies(request, q: Annotated[str, PydanticField(max_length=200)] = "",
                    limit: Annotated[int, PydanticField(ge=1, le=100)] = 20):
    return [{"policy": hit.policy, "rank": hit.rank, "snippet_html": hit.snippet_html}
            for hit in services.search_policies(request.user, q, limit)]


@router.post("/policies", response=documented(PolicyOut, 201), summary="Create a policy (its first version a draft)")
@requires("compliance.author_policies")
def create_policy(request, payload: PolicyIn):
    unit = Unit.objects.select_related("facility").filter(pk=payload.unit_id).first() if payload.unit_id else None
    if payload.unit_id and unit is None:
        return refused(ValidationError({"unit_id": "No such unit."}))
    organisation = unit.facility.organisation if unit else Organisation.objects.filter(pk=payload.organisation_id).first()
    if organisation is None:
        return refused(ValidationError({"organisation_id": "Give the organisation (or a unit) the policy belongs to."}))
    try:
        policy = services.create_policy(
            request.user, organisation=organisation, unit=unit, code=payload.code, title=payload.title,
            owner=User.objects.filter(pk=payload.owner_id).first(), review_every_months=payload.review_every_months,
            text=payload.text, requirement_urns=payload.requirement_urns)
    except ValidationError as error:
        return refused(error)
    return Status(201, policy)


@router.get("/policies/{policy_id}", response=documented(PolicyOut, not_found=True), summary="One policy")
@requires("compliance.view_policies")
def get_policy(request, policy_id: Id):
    return services.access_policy(request.user, policy_id)


@router.get("/policies/{policy_id}/versions", response=documented(list[PolicyVersionOut], not_found=True),
            summary="A policy's versions, newest first, with their approvals")
@requires("compliance.view_policies")
def list_versions(request, policy_id: Id):
    policy = services.access_policy(request.user, policy_id)
    return list(policy.versions.order_by("-number"))


@router.post("/policies/{policy_id}/versions", response=documented(PolicyVersionOut, 201, not_found=True),
             summary="Start a new draft from the published version")
@requires("compliance.view_policies")
def start_version(request, policy_id: Id):
    policy = services.access_policy(request.user, policy_id, "compliance.edit_policy")
    try:
        return Status(201, services.new_version(request.user, policy))
    except ValidationError as error:
        return refused(error)


@router.post("/policies/{policy_id}/requirements", response=documented(PolicyOut, not_found=True),
             summary="Set the requirements (URNs) the policy answers")
@requires("compliance.view_policies")
def set_requirements(request, policy_id: Id, payload: RequirementsIn):
    policy = services.access_policy(request.user, policy_id, "compliance.edit_policy")
    try:
        services.link_requirements(request.user, policy, payload.requirement_urns)
    except ValidationError as error:
        return refused(error)
    return services.access_policy(request.user, policy_id)


@router.post("/policies/{policy_id}/retire", response=documented(PolicyOut, not_found=True, versioned=True),
             summary="Retire a policy (document control), with the reason")
@requires("compliance.publish_policies")
def retire_policy(request, policy_id: Id, payload: PolicyRetireIn):
    policy = services.access_policy(request.user, policy_id, "compliance.publish_policies")
    try:
        services.retire(request.user, policy, payload.reason, payload.version)
    except ValidationError as error:
        return refused(error)
    return policy


@router.get("/policy-versions/{version_id}", response=documented(PolicyVersionOut, not_found=True), summary="One version")
@requires("compliance.view_policies")
def get_version(request, version_id: Id):
    return services.access_version(request.user, version_id)


@router.post("/policy-versions/{version_id}", response=documented(PolicyVersionOut, not_found=True, versioned=True),
             summary="Change a draft's text")
@requires("compliance.view_policies")
def edit_draft(request, version_id: Id, payload: DraftIn):
    version = services.access_version(request.user, version_id, "compliance.edit_policy")
    try:
        return services.edit_draft(request.user, version, payload.version, text=payload.text,
                                   change_summary=payload.change_summary)
    except ValidationError as error:
        return refused(error)


@router.post("/policy-versions/{version_id}/submit", response=documented(PolicyVersionOut, not_found=True, versioned=True),
             summary="Send a draft to named approvers")
@requires("compliance.view_policies")
def submit_version(request, version_id: Id, payload: SubmitIn):
    version = services.access_version(request.user, version_id, "compliance.edit_policy")
    approvers = list(User.objects.filter(pk__in=payload.approver_ids))
    if len(approvers) != len(set(payload.approver_ids)):
        return refused(ValidationError({"approver_ids": "One of the approvers does not exist."}))
    try:
        return services.submit_for_review(request.user, version, approvers, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/policy-versions/{version_id}/decision", response=documented(PolicyVersionOut, not_found=True, versioned=True),
             summary="A named approver approves or returns a version (a return needs a comment)")
@requires("compliance.view_policies")
def decide_version(request, version_id: Id, payload: PolicyDecisionIn):
    version = services.access_version(request.user, version_id)
    try:
        return services.decide(request.user, version, payload.approve, payload.comment, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/policy-versions/{version_id}/publish", response=documented(PolicyVersionOut, not_found=True, versioned=True),
             summary="Publish an approved version, asking the people its rules name to read and sign it")
@requires("compliance.publish_policies")
def publish_version(request, version_id: Id, payload: PublishIn):
    version = services.access_version(request.user, version_id, "compliance.publish_policies")
    rules = []
    for index, rule in enumerate(payload.attestation_rules):
        unit = Unit.objects.select_related("facility").filter(pk=rule.unit_id).first() if rule.unit_id else None
        if rule.unit_id and unit is None:
            return refused(ValidationError({"attestation_rules": f"Rule {index + 1}: no such unit."}))
        rules.append(services.RuleSpec(role=rule.role, unit=unit, due_in_days=rule.due_in_days))
    try:
        return services.publish(request.user, version, payload.effective_on, rules, payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/policy-versions/{version_id}/pdf", response=documented(bytes, not_found=True),
            summary="The published (or retired) version as a PDF, its code, version and approval on every page")
@requires("compliance.view_policies")
def version_pdf(request, version_id: Id):
    version = services.access_version(request.user, version_id)
    if version.status not in (PolicyStatus.PUBLISHED, PolicyStatus.RETIRED) or version.published_at is None:
        return refused(ValidationError({"status": "Only a published (or retired) version has a PDF."}))
    response = HttpResponse(services.policy_pdf(version), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="policy-{version.pk}-v{version.number}.pdf"'
    return response


@router.get("/policy-versions/{version_id}/completion", response=documented(CompletionOut, not_found=True),
            summary="Read-and-sign completion of a version by unit and by person, in the caller's units")
@requires("compliance.view_attestations")
def completion(request, version_id: Id):
    version = services.access_version(request.user, version_id)
    scope = permissions.scope_for(request.user, "compliance.view_attestations")
    attestations = version.attestations.all()
    if not scope.everything:
        attestations = attestations.filter(unit__in=scope.units)
    rows = lambda completions: [{"id": c.key, "name": c.label, "asked": c.asked, "signed": c.signed,  # noqa: E731
                                 "overdue": c.overdue, "percent": c.percent} for c in completions]
    return {"version_id": version.pk, "by_unit": rows(services.completion_by_unit(attestations)),
            "by_person": rows(services.completion_by_person(attestations))}


@router.get("/my-attestations", response=documented(list[AttestationOut]),
            summary="Policies the caller is asked to read and sign, oldest due first")
@requires("compliance.attest")
@paginate(Pages)
def my_attestations(request, signed: bool = False):
    if signed:
        from ..models import Attestation

        return (Attestation.objects.filter(person=request.user, signed_at__isnull=False)
                .select_related("version__policy").order_by("-signed_at"))
    return services.my_pending_attestations(request.user)


@router.post("/policy-versions/{version_id}/signature", response=documented(AttestationOut, not_found=True),
             summary="Sign a version as read and understood (the caller's own; a second signature changes nothing)")
@requires("compliance.attest")
def sign(request, version_id: Id):
    version = services.access_version(request.user, version_id)
    try:
        attestation = services.sign(request.user, version)
    except ValidationError as error:
        return refused(error)
    return _attestation(attestation)


def _attestation(attestation):
    attestation.version = PolicyVersion.objects.select_related("policy").get(pk=attestation.version_id)
    return attestation
