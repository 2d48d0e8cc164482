"""The REST API under /api/v1: django-ninja, OpenAPI document and docs page.

Callers authenticate with a personal access token (`Authorization: Bearer andon_…`) or, from
the pages, with their session (CSRF-checked). Every handler is guarded by the same policy as
the pages, through `permissions.requires`. Modules add their routers with `api.add_router`.
"""

from typing import Annotated, Literal

from auditlog.context import auditlog_value
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from ninja import NinjaAPI, Router, Schema, Status
from ninja.pagination import paginate
from ninja.security import HttpBearer, django_auth
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from andon.platform import audit, permissions, services
from andon.platform.api_kit import Id, IsoDate, JobOut, JsonParser, MappedQuery, Pages, documented
from andon.platform.jobs import start_job
from andon.platform.permissions import requires
from andon.platform.tasks import export_audit_trail


AuditAction = Literal["create", "update", "delete", "access"]


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = services.user_for_token(token)
        if user is not None:
            # Handlers and the policy read request.user, whichever way the caller signed in;
            # the audit trail's context was filled by its middleware before this ran.
            request.user = user
            context = auditlog_value.get(None)
            if context is not None:
                context["actor"] = user
        return user


api = NinjaAPI(
    title="Andon API",
    version="1",
    urls_namespace="api-v1",
    auth=[TokenAuth(), django_auth],
    docs_decorator=login_required,
    parser=JsonParser(),
    description="Quality and patient-safety management. Authenticate with a personal access token "
    "(`Authorization: Bearer …`), created on the API tokens page.",
)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc):
    return api.create_response(request, {"detail": "You are not permitted to do this."}, status=403)


@api.exception_handler(permissions.Missing)
def missing(request, exc):
    # Written for the caller ("This event has no root cause analysis yet."); a plain Http404
    # keeps ninja's "Not Found", as its message may name a model.
    return api.create_response(request, {"detail": str(exc)}, status=404)


class GrantOut(Schema):
    role: str
    role_label: str
    scope: str
    organisation_id: int
    facility_id: int | None
    unit_id: int | None


class MeOut(Schema):
    id: int
    username: str
    name: str
    email: str
    grants: list[GrantOut]


class UnitOut(Schema):
    id: int
    name: str
    code: str
    kind: str
    facility_id: int
    facility: str
    parent_id: int | None


class AuditEntryOut(Schema):
    id: int
    timestamp: str
    actor: str
    action: str
    record_type: str
    record_id: str
    record: str
    changes: dict | None
    additional_data: dict | None


class AuditExportIn(BaseModel):
    # A plain pydantic model: ninja's Schema would read attributes off any JSON value (a list,
    # a string) and take it as "no filters". Unknown fields are refused, not ignored.
    model_config = ConfigDict(extra="forbid")

    action: AuditAction | None = None
    model: Annotated[str, PydanticField(max_length=100)] | None = None
    actor: Annotated[str, PydanticField(max_length=150)] | None = None
    object_pk: Annotated[str, PydanticField(max_length=64)] | None = None
    since: IsoDate | None = None
    until: IsoDate | None = None


platform = Router(tags=["platform"])


@platform.get("/me", response=documented(MeOut), summary="Who the caller is, and their role grants")
@requires("platform.view_home")
def me(request):
    user = request.user
    grants = [
        GrantOut(
            role=g.role, role_label=g.get_role_display(), scope=g.scope_label,
            organisation_id=g.organisation_id, facility_id=g.facility_id, unit_id=g.unit_id,
        )
        for g in permissions.active_grants(user)
    ]
    return MeOut(id=user.pk, username=user.username, name=user.get_full_name(), email=user.email, grants=grants)


@platform.get("/units", response=documented(list[UnitOut]), summary="Units of the caller's organisations")
@requires("platform.view_organisation")
@paginate(Pages)
def units(request):
    trees = services.organisation_trees(request.user)
    organisation_ids = [tree["organisation"].pk for tree in trees]
    return [
        UnitOut(id=u.pk, name=u.name, code=u.code, kind=u.kind, facility_id=u.facility_id,
                facility=u.facility.name, parent_id=u.parent_id)
        for u in services.units_of(organisation_ids)
    ]


@platform.get("/jobs", response=documented(list[JobOut]), summary="Background jobs the caller may see")
@requires("platform.view_own_jobs")
@paginate(Pages)
def jobs(request):
    return services.visible_jobs(request.user)


@platform.get("/jobs/{job_id}", response=documented(JobOut, not_found=True), summary="One job's progress")
@requires("platform.view_own_jobs")
def job(request, job_id: Id):
    return services.access_job(request.user, job_id)


@platform.get("/audit", response=documented(list[AuditEntryOut]), summary="Audit trail entries, newest first")
@requires("platform.view_audit")
@paginate(Pages)
def audit_entries(request, action: AuditAction | None = None,
                  model: Annotated[str, PydanticField(max_length=100)] | None = None,
                  actor: Annotated[str, PydanticField(max_length=150)] | None = None,
                  object_pk: Annotated[str, PydanticField(max_length=64)] | None = None,
                  since: IsoDate | None = None, until: IsoDate | None = None):
    entries = audit.search(action=audit.action_code(action), model=model, actor=actor, object_pk=object_pk, since=since, until=until)
    return MappedQuery(entries, audit.as_row)


@platform.post("/audit/exports", response=documented(JobOut, 202), summary="Start a CSV export of the audit trail")
@requires("platform.export_audit")
def audit_export(request, filters: AuditExportIn):
    data = filters.model_dump(mode="json", exclude_none=True)
    if "action" in data:
        data["action"] = audit.action_code(data["action"])
    return Status(202, start_job(export_audit_trail, "Export of the audit trail", request.user, data))


api.add_router("/", platform)

from andon.platform.schedule_api import router as schedules_router  # noqa: E402

api.add_router("/", schedules_router)

# Module routers (imported last; they use andon.platform.api_kit, never this module).
from andon.actions.api import router as actions_router  # noqa: E402
from andon.safety.api import router as safety_router  # noqa: E402

api.add_router("/safety/", safety_router)
api.add_router("/", actions_router)
from andon.measures.api import router as measures_router  # noqa: E402

api.add_router("/", measures_router)
from andon.compliance.api import router as compliance_router  # noqa: E402

api.add_router("/compliance/", compliance_router)
from andon.risk.api import router as risk_router  # noqa: E402

api.add_router("/risk/", risk_router)
from andon.improvement.api import router as improvement_router  # noqa: E402

api.add_router("/improvement/", improvement_router)

from andon.medstaff.api import router as medstaff_router  # noqa: E402

api.add_router("/medstaff/", medstaff_router)

from andon.voice.api import router as voice_router  # noqa: E402

api.add_router("/voice/", voice_router)

from andon.governance.api import router as governance_router  # noqa: E402

api.add_router("/governance/", governance_router)
