"""The roles people hold in Andon, and which capabilities each role grants.

This table is the one place that says what a role may do. A capability is a string such as
"platform.view_audit"; modules add their own rows when they arrive. `permissions.py` turns
these into decisions, taking the scope of each grant into account.
"""

from django.db import models


class Role(models.TextChoices):
    STAFF_REPORTER = "staff_reporter", "Staff reporter"
    UNIT_MANAGER = "unit_manager", "Unit manager"
    PATIENT_SAFETY_OFFICER = "patient_safety_officer", "Patient safety officer"
    QUALITY_ANALYST = "quality_analyst", "Quality analyst"
    COMPLIANCE_SPECIALIST = "compliance_specialist", "Compliance specialist"
    CLINICAL_AUDITOR = "clinical_auditor", "Clinical auditor"
    RISK_MANAGER = "risk_manager", "Risk manager"
    CQO = "cqo", "Chief Quality Officer"
    CMO = "cmo", "Chief Medical Officer"
    MEDICAL_STAFF_OFFICE = "medical_staff_office", "Medical staff office"
    BOARD_MEMBER = "board_member", "Board member"
    ADMINISTRATOR = "administrator", "Administrator"


ALL_ROLES = frozenset(Role)
# Roles whose work is integration or analysis may hold personal API tokens. Board members see
# aggregates only and staff reporters report through the pages, so neither needs a token.
API_TOKEN_ROLES = ALL_ROLES - {Role.STAFF_REPORTER, Role.BOARD_MEMBER}

# capability -> roles that hold it. Scope (organisation, facility, unit subtree) is applied
# by the policy, not here.
CAPABILITIES: dict[str, frozenset[Role]] = {
    # Every signed-in member of staff has a home page and sees the organisation's units
    # (they must pick one when they report an event).
    "platform.view_home": ALL_ROLES,
    "platform.view_organisation": ALL_ROLES,
    "platform.view_own_jobs": ALL_ROLES,
    "platform.manage_own_tokens": API_TOKEN_ROLES,
    # Administration.
    "platform.use_admin_site": frozenset({Role.ADMINISTRATOR}),
    "platform.manage_people": frozenset({Role.ADMINISTRATOR}),
    "platform.manage_organisation": frozenset({Role.ADMINISTRATOR}),
    "platform.view_audit": frozenset({Role.ADMINISTRATOR}),
    "platform.export_audit": frozenset({Role.ADMINISTRATOR}),
    "platform.view_all_jobs": frozenset({Role.ADMINISTRATOR}),
    "platform.manage_role_settings": frozenset({Role.ADMINISTRATOR}),
}


def roles_with(capability: str) -> frozenset[Role]:
    """The roles that hold a capability; an unknown capability is an error, not a silent deny."""
    try:
        return CAPABILITIES[capability]
    except KeyError:
        raise KeyError(f"unknown capability {capability!r}; add it to andon/platform/roles.py") from None
