"""The REST API under /api/v1: django-ninja, OpenAPI document and docs page.

Callers authenticate with a personal access token (`Authorization: Bearer andon_…`) or, from
the pages, with their session (CSRF-checked). Every handler is guarded by the same policy as
the pages, through `permissions.requires`. Modules add their routers with `api.add_router`.
"""

from datetime import date, datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Router, Schema, Status
from ninja.pagination import paginate
from ninja.security import HttpBearer, django_auth

from andon.platform import audit, permissions, services
from andon.platform.jobs import start_job
from andon.platform.models import Job
from andon.platform.permissions import requires
from andon.platform.tasks import export_audit_trail


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = services.user_for_token(token)
        if user is not None:
            # Handlers and the policy read request.user, whichever way the caller signed in.
            request.user = user
        return user


api = NinjaAPI(
    title="Andon API",
    version="1",
    urls_namespace="api-v1",
    auth=[TokenAuth(), django_auth],
    docs_decorator=login_required,
    description="Quality and patient-safety management. Authenticate with a personal access token "
    "(`Authorization: Bearer …`), created on the API tokens page.",
)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc):
    return api.create_response(request, {"detail": "You are not permitted to do this."}, status=403)


class ErrorOut(Schema):
    detail: str


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


class JobOut(Schema):
    id: int
    title: str
    status: str
    progress_done: int
    progress_total: int | None
    message: str
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict | None


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


class AuditExportIn(Schema):
    action: int | None = None
    model: str | None = None
    actor: str | None = None
    object_pk: str | None = None
    since: date | None = None
    until: date | None = None


class MappedQuery:
    """A queryset whose rows are mapped lazily: the paginator counts and slices in SQL, and only
    the page's rows are turned into records."""

    def __init__(self, queryset, mapper):
        self.queryset, self.mapper = queryset, mapper

    def __len__(self):
        return self.queryset.count()

    def __getitem__(self, window: slice):
        return [self.mapper(row) for row in self.queryset[window]]


platform = Router(tags=["platform"])


@platform.get("/me", response=MeOut, summary="Who the caller is, and their role grants")
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


@platform.get("/units", response=list[UnitOut], summary="Units of the caller's organisations")
@requires("platform.view_organisation")
@paginate
def units(request):
    trees = services.organisation_trees(request.user)
    organisation_ids = [tree["organisation"].pk for tree in trees]
    return [
        UnitOut(id=u.pk, name=u.name, code=u.code, kind=u.kind, facility_id=u.facility_id,
                facility=u.facility.name, parent_id=u.parent_id)
        for u in services.units_of(organisation_ids)
    ]


@platform.get("/jobs", response=list[JobOut], summary="Background jobs the caller may see")
@requires("platform.view_own_jobs")
@paginate
def jobs(request):
    return services.visible_jobs(request.user)


@platform.get("/jobs/{job_id}", response={200: JobOut, 403: ErrorOut, 404: ErrorOut}, summary="One job's progress")
@requires("platform.view_own_jobs")
def job(request, job_id: int):
    found = get_object_or_404(Job, pk=job_id)
    permissions.check(request.user, "platform.view_job", found)
    return found


@platform.get("/audit", response=list[AuditEntryOut], summary="Audit trail entries, newest first")
@requires("platform.view_audit")
@paginate
def audit_entries(request, action: int | None = None, model: str | None = None, actor: str | None = None,
                  object_pk: str | None = None, since: date | None = None, until: date | None = None):
    entries = audit.search(action=action, model=model, actor=actor, object_pk=object_pk, since=since, until=until)
    return MappedQuery(entries, audit.as_row)


@platform.post("/audit/exports", response={202: JobOut}, summary="Start a CSV export of the audit trail")
@requires("platform.export_audit")
def audit_export(request, filters: AuditExportIn):
    data = {key: (value.isoformat() if hasattr(value, "isoformat") else value)
            for key, value in filters.dict().items() if value not in (None, "")}
    return Status(202, start_job(export_audit_trail, "Export of the audit trail", request.user, data))


api.add_router("/", platform)
