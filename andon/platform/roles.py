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
    IMPROVEMENT_LEAD = "improvement_lead", "Improvement lead"
    CQO = "cqo", "Chief Quality Officer"
    CMO = "cmo", "Chief Medical Officer"
    MEDICAL_STAFF_OFFICE = "medical_staff_office", "Medical staff office"
    DEPARTMENT_CHAIR = "department_chair", "Department chair"
    CREDENTIALS_COMMITTEE = "credentials_committee", "Credentials committee"
    PEER_REVIEWER = "peer_reviewer", "Peer reviewer"
    PEER_REVIEW_COMMITTEE = "peer_review_committee", "Peer review committee"
    PRACTITIONER = "practitioner", "Practitioner"
    PATIENT_RELATIONS = "patient_relations", "Patient relations"
    PATIENT_EXPERIENCE_LEAD = "patient_experience_lead", "Patient experience lead"
    GRIEVANCE_COMMITTEE = "grievance_committee", "Grievance committee"
    BOARD_MEMBER = "board_member", "Board member"
    ADMINISTRATOR = "administrator", "Administrator"


ALL_ROLES = frozenset(Role)
# Roles whose work is integration or analysis may hold personal API tokens. Board members see
# aggregates only and staff reporters report through the pages, so neither needs a token.
API_TOKEN_ROLES = ALL_ROLES - {Role.STAFF_REPORTER, Role.BOARD_MEMBER}
# Roles that read across the organisation (every event's narrative, the audit trail, peer
# review) must set up two-factor sign-in unless an administrator decides otherwise for the role
# (`RoleSetting`); a password alone must not open what they can see.
MFA_REQUIRED_BY_DEFAULT = frozenset({
    Role.ADMINISTRATOR, Role.CQO, Role.CMO, Role.PATIENT_SAFETY_OFFICER, Role.MEDICAL_STAFF_OFFICE,
    Role.PEER_REVIEW_COMMITTEE, Role.PATIENT_RELATIONS, Role.GRIEVANCE_COMMITTEE,
})
ACTION_ROLES = frozenset({
    Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
    Role.CLINICAL_AUDITOR, Role.RISK_MANAGER, Role.IMPROVEMENT_LEAD, Role.CQO, Role.CMO,
    # The patient's voice acts on what patients tell: the grievance committee's decisions and
    # patient experience's improvements are actions of the shared tracker.
    Role.PATIENT_RELATIONS, Role.PATIENT_EXPERIENCE_LEAD, Role.GRIEVANCE_COMMITTEE,
})

_MEDICAL_STAFF_READERS = frozenset({
    Role.MEDICAL_STAFF_OFFICE, Role.CMO, Role.DEPARTMENT_CHAIR, Role.CREDENTIALS_COMMITTEE,
})
# Peer review is protected by the state peer-review statutes, apart from patient safety work
# product and from HR (DOMAIN.md §9, §10): its content is read by the peer review committee and
# the medical staff office only (and a case's assigned reviewer: an object rule); not by patient
# safety officers, unit managers, the CMO as such, or the board, which sees aggregates.
_PEER_REVIEW_READERS = frozenset({Role.PEER_REVIEW_COMMITTEE, Role.MEDICAL_STAFF_OFFICE})
MEDSTAFF_CAPABILITIES: dict[str, frozenset[Role]] = {
    # Practitioners, credentials and the credentialing cycle.
    "medstaff.view_practitioners": _MEDICAL_STAFF_READERS,
    "medstaff.manage_practitioners": frozenset({Role.MEDICAL_STAFF_OFFICE}),
    "medstaff.receive_credential_alerts": frozenset({Role.MEDICAL_STAFF_OFFICE}),
    # A practitioner opens their own file from their menu (the file itself: medstaff.view_practitioner).
    "medstaff.view_own_file": frozenset({Role.PRACTITIONER}),
    # Privileges: delineation by department, then requested -> chair -> credentials committee ->
    # medical executive committee -> board; the office records the MEC's and the board's decisions.
    "medstaff.manage_privilege_catalogue": frozenset({Role.MEDICAL_STAFF_OFFICE}),
    "medstaff.request_privileges": frozenset({Role.MEDICAL_STAFF_OFFICE}),
    "medstaff.recommend_privileges": frozenset({Role.DEPARTMENT_CHAIR}),
    "medstaff.review_privileges": frozenset({Role.CREDENTIALS_COMMITTEE}),
    "medstaff.record_privilege_decisions": frozenset({Role.MEDICAL_STAFF_OFFICE}),
    # OPPE: profiles per department, evaluations and the reviewer's decision.
    "medstaff.view_oppe": _MEDICAL_STAFF_READERS,
    "medstaff.configure_oppe": frozenset({Role.MEDICAL_STAFF_OFFICE}),
    "medstaff.decide_oppe": frozenset({Role.DEPARTMENT_CHAIR, Role.CMO}),
    # FPPE: planned by the office or the chair, cases recorded by the proctor (object rule) or
    # them, concluded by the credentials committee.
    "medstaff.view_fppe": _MEDICAL_STAFF_READERS,
    "medstaff.manage_fppe": frozenset({Role.MEDICAL_STAFF_OFFICE, Role.DEPARTMENT_CHAIR}),
    "medstaff.decide_fppe": frozenset({Role.CREDENTIALS_COMMITTEE}),
    # Peer review: anyone who finds a concern in their work may refer a case (referring opens
    # nothing of the review); the office and the committee assign reviewers; the committee decides.
    "medstaff.refer_peer_review": frozenset({
        Role.PATIENT_SAFETY_OFFICER, Role.MEDICAL_STAFF_OFFICE, Role.DEPARTMENT_CHAIR, Role.CMO,
        Role.PEER_REVIEW_COMMITTEE,
    }),
    "medstaff.view_peer_review": _PEER_REVIEW_READERS,
    "medstaff.assign_peer_review": _PEER_REVIEW_READERS,
    "medstaff.be_peer_reviewer": frozenset({Role.PEER_REVIEWER, Role.PEER_REVIEW_COMMITTEE}),
    "medstaff.decide_peer_review": frozenset({Role.PEER_REVIEW_COMMITTEE}),
    "medstaff.configure_peer_review": frozenset({Role.MEDICAL_STAFF_OFFICE}),
    "medstaff.view_peer_review_aggregates": frozenset({
        Role.PEER_REVIEW_COMMITTEE, Role.MEDICAL_STAFF_OFFICE, Role.CMO, Role.CQO, Role.BOARD_MEMBER,
    }),
    # Training and competencies: required by job role and unit, completions imported from the
    # learning system; compliance per unit is a measure of the library.
    "medstaff.view_training": frozenset({
        Role.UNIT_MANAGER, Role.MEDICAL_STAFF_OFFICE, Role.QUALITY_ANALYST, Role.CQO, Role.CMO,
    }),
    "medstaff.manage_training": frozenset({Role.MEDICAL_STAFF_OFFICE}),
}
# The patient's voice (andon/voice, docs/voice.md). Survey scores are aggregates: the patient
# experience lead, the quality department, unit managers (their units) and the board read them.
# Comments are patients' own words, which may name staff: read and tagged by patient experience,
# patient relations and unit managers, not the board. Complaints and grievances name patients:
# patient relations runs them, the grievance committee decides what is escalated to it, unit
# managers see (and log complaints of) their units, leadership reads them.
_SURVEY_READERS = frozenset({
    Role.PATIENT_EXPERIENCE_LEAD, Role.PATIENT_RELATIONS, Role.UNIT_MANAGER, Role.QUALITY_ANALYST, Role.CQO,
    Role.CMO, Role.BOARD_MEMBER,
})
_COMMENT_READERS = frozenset({Role.PATIENT_EXPERIENCE_LEAD, Role.PATIENT_RELATIONS, Role.UNIT_MANAGER, Role.CQO})
_GRIEVANCE_READERS = frozenset({
    Role.PATIENT_RELATIONS, Role.GRIEVANCE_COMMITTEE, Role.UNIT_MANAGER, Role.CQO, Role.CMO,
})
VOICE_CAPABILITIES: dict[str, frozenset[Role]] = {
    # Surveys: the vendor's file imported through a saved column mapping; scores by month, unit,
    # service line and stratum; question sets and mappings are the patient experience lead's.
    "voice.view_surveys": _SURVEY_READERS,
    "voice.import_surveys": frozenset({Role.PATIENT_EXPERIENCE_LEAD}),
    "voice.configure_surveys": frozenset({Role.PATIENT_EXPERIENCE_LEAD}),
    # Comments: searched and tagged by theme; one that describes harm raises a safety event.
    "voice.view_comments": _COMMENT_READERS,
    "voice.tag_comments": _COMMENT_READERS,
    "voice.manage_themes": frozenset({Role.PATIENT_EXPERIENCE_LEAD}),
    # Complaints and grievances (42 CFR 482.13(a)(2)).
    "voice.view_grievances": _GRIEVANCE_READERS,
    "voice.log_complaints": frozenset({Role.PATIENT_RELATIONS, Role.UNIT_MANAGER}),
    "voice.manage_grievances": frozenset({Role.PATIENT_RELATIONS}),
    "voice.approve_letters": frozenset({Role.PATIENT_RELATIONS, Role.GRIEVANCE_COMMITTEE, Role.CQO}),
    "voice.decide_grievances": frozenset({Role.GRIEVANCE_COMMITTEE}),
    "voice.receive_grievance_alerts": frozenset({Role.PATIENT_RELATIONS}),
}
# Governance (andon/governance, docs/governance.md): committees and their meetings, the board's
# quality pack, schedules. Being a committee's chair, secretary or member is a fact about the
# committee (governance/rules.py), not a role: anyone may sit on a committee. The quality
# department's leaders and the board read the committees' work; the CQO and the administrator set
# committees up; the CQO and the quality analysts write the pack's narratives, the CQO approves it.
GOVERNANCE_CAPABILITIES: dict[str, frozenset[Role]] = {
    "governance.view_own_committees": ALL_ROLES,  # the committees one sits on (maybe none)
    "governance.view_committees": frozenset({Role.CQO, Role.CMO, Role.BOARD_MEMBER, Role.QUALITY_ANALYST,
                                             Role.ADMINISTRATOR}),
    "governance.manage_committees": frozenset({Role.CQO, Role.ADMINISTRATOR}),
    "governance.run_meetings": frozenset({Role.CQO}),  # any committee's; chairs and secretaries run their own
    "governance.view_packs": frozenset({Role.BOARD_MEMBER, Role.CQO, Role.CMO, Role.QUALITY_ANALYST}),
    "governance.edit_packs": frozenset({Role.CQO, Role.QUALITY_ANALYST}),
    "governance.approve_packs": frozenset({Role.CQO}),
    "platform.manage_schedules": frozenset({Role.ADMINISTRATOR}),
}
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
    # Safety events (patient safety work product: least privilege, DOMAIN.md §9).
    "safety.report": ALL_ROLES,
    "safety.raise_conduct_concern": ALL_ROLES,
    "safety.view_events": frozenset({Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.CQO, Role.CMO}),
    "safety.view_reporter": frozenset({Role.PATIENT_SAFETY_OFFICER, Role.CQO, Role.CMO}),
    "safety.triage": frozenset({Role.PATIENT_SAFETY_OFFICER}),
    "safety.manage_workflow": frozenset({Role.PATIENT_SAFETY_OFFICER}),
    "safety.investigate": frozenset({Role.PATIENT_SAFETY_OFFICER}),
    # Questions to an anonymous reporter, read and answered with the receipt code.
    "safety.ask_reporter": frozenset({Role.PATIENT_SAFETY_OFFICER}),
    # Lowering a SAC 3 or clearing the sentinel flag once its RCA is under way stops the RCA
    # clock: leadership's decision, not the investigating officer's (services.deescalate).
    "safety.deescalate": frozenset({Role.CQO, Role.CMO}),
    # The findings of a local or aggregated review are recorded by the unit's manager or the
    # officer; waiving a review the triage required is leadership's decision, with a reason
    # (services.waive_review). The RCA lead signs the findings; leadership approves them.
    "safety.record_review": frozenset({Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER}),
    "safety.waive_review": frozenset({Role.CQO, Role.CMO}),
    "safety.approve_investigation": frozenset({Role.CQO, Role.CMO}),
    # Alerted at once, in the app and by e-mail, when a report of severe harm, death or a
    # sentinel event arrives in their scope (services.escalate): the officers covering the unit,
    # and the CQO and CMO of the organisation or the facility.
    "safety.receive_escalations": frozenset({Role.PATIENT_SAFETY_OFFICER, Role.CQO, Role.CMO}),
    # Carries out the local review triage asks of a unit (its home page lists them).
    "safety.review_locally": frozenset({Role.UNIT_MANAGER}),
    "safety.view_aggregates": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.RISK_MANAGER,
        Role.IMPROVEMENT_LEAD, Role.CQO, Role.CMO, Role.BOARD_MEMBER,
    }),
    "safety.view_feedback_stats": frozenset({Role.PATIENT_SAFETY_OFFICER, Role.CQO, Role.CMO}),
    "safety.export_events": frozenset({Role.PATIENT_SAFETY_OFFICER, Role.CQO, Role.CMO}),
    "safety.import_events": frozenset({Role.PATIENT_SAFETY_OFFICER}),
    "safety.review_conduct_concerns": frozenset({Role.CMO, Role.MEDICAL_STAFF_OFFICE}),
    # Actions (CAPA), scoped by the action's unit; leadership decides (RCA²: the CEO approves or
    # rejects each action). Owners reach their own actions through object rules (actions/rules.py).
    "actions.view": ACTION_ROLES,
    "actions.manage": ACTION_ROLES,
    "actions.approve": frozenset({Role.CQO, Role.CMO}),
    # Measures: aggregates for the quality department, leadership and the board; drill-down to
    # patients (audited) for those who analyse care; counts entered by units and auditors.
    "measures.view": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
        Role.CLINICAL_AUDITOR, Role.RISK_MANAGER, Role.IMPROVEMENT_LEAD, Role.CQO, Role.CMO, Role.BOARD_MEMBER,
    }),
    "measures.view_patients": frozenset({Role.QUALITY_ANALYST, Role.CQO, Role.CMO}),
    "measures.annotate": frozenset({
        Role.QUALITY_ANALYST, Role.PATIENT_SAFETY_OFFICER, Role.IMPROVEMENT_LEAD, Role.CQO, Role.CMO,
    }),
    "measures.enter_counts": frozenset({Role.UNIT_MANAGER, Role.QUALITY_ANALYST, Role.CLINICAL_AUDITOR}),
    "measures.manage": frozenset({Role.QUALITY_ANALYST, Role.CQO}),
    # Compliance and accreditation (andon/compliance, docs/compliance.md). Frameworks and
    # readiness are read by the quality department, unit managers and the board; compliance
    # specialists run assessments, tracers and document control. Item owners, policy owners,
    # named approvers and a tracer's surveyor for the day act through object rules
    # (compliance/rules.py); every member of staff reads policies and signs what is asked of them.
    "compliance.view": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
        Role.CLINICAL_AUDITOR, Role.RISK_MANAGER, Role.CQO, Role.CMO, Role.BOARD_MEMBER,
    }),
    "compliance.manage_frameworks": frozenset({Role.COMPLIANCE_SPECIALIST}),
    "compliance.assess": frozenset({Role.COMPLIANCE_SPECIALIST}),
    "compliance.review_items": frozenset({Role.COMPLIANCE_SPECIALIST, Role.CQO}),
    "compliance.manage_evidence": frozenset({
        Role.UNIT_MANAGER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST, Role.CLINICAL_AUDITOR, Role.CQO, Role.CMO,
    }),
    "compliance.raise_findings": frozenset({Role.COMPLIANCE_SPECIALIST}),
    "compliance.plan_tracers": frozenset({Role.COMPLIANCE_SPECIALIST}),
    "compliance.view_policies": ALL_ROLES,
    "compliance.author_policies": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.COMPLIANCE_SPECIALIST, Role.CQO, Role.CMO,
    }),
    "compliance.approve_policies": frozenset({Role.UNIT_MANAGER, Role.COMPLIANCE_SPECIALIST, Role.CQO, Role.CMO}),
    "compliance.publish_policies": frozenset({Role.COMPLIANCE_SPECIALIST}),
    "compliance.attest": ALL_ROLES,
    "compliance.view_attestations": frozenset({Role.UNIT_MANAGER, Role.COMPLIANCE_SPECIALIST, Role.CQO, Role.CMO}),
    # Proactive risk (andon/risk, docs/risk.md). Managers and the quality department read the
    # register of their scope and raise risks in it; the risk manager keeps the register (scores,
    # escalation, the matrix); leadership escalates to and from the board assurance framework,
    # which board members read with the register's aggregates (never a risk's links to safety
    # records). A risk's owner and an FMEA's team act through object rules (risk/rules.py).
    "risk.view": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
        Role.CLINICAL_AUDITOR, Role.RISK_MANAGER, Role.CQO, Role.CMO,
    }),
    "risk.raise": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
        Role.RISK_MANAGER, Role.CQO, Role.CMO,
    }),
    "risk.manage": frozenset({Role.RISK_MANAGER}),
    "risk.escalate": frozenset({Role.RISK_MANAGER, Role.CQO, Role.CMO}),
    "risk.view_board": frozenset({Role.RISK_MANAGER, Role.CQO, Role.CMO, Role.BOARD_MEMBER}),
    "risk.configure": frozenset({Role.RISK_MANAGER}),
    "risk.view_fmea": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
        Role.RISK_MANAGER, Role.CQO, Role.CMO,
    }),
    "risk.lead_fmea": frozenset({Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.RISK_MANAGER}),
    # Improvement (andon/improvement, docs/improvement.md): QI projects and clinical audits. The
    # quality department, unit managers and the board read projects, the portfolio and audit
    # results; improvement leads (and the quality roles) charter projects in their scope, whose
    # lead and team then work on them through object rules (improvement/rules.py). Clinical
    # auditors and analysts design audit tools and run audits; the auditors named on an audit
    # enter its cases. An audit's cases name patients: only those who audit or analyse care read them.
    "improvement.view": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
        Role.CLINICAL_AUDITOR, Role.RISK_MANAGER, Role.IMPROVEMENT_LEAD, Role.CQO, Role.CMO, Role.BOARD_MEMBER,
    }),
    "improvement.charter": frozenset({
        Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.IMPROVEMENT_LEAD, Role.CQO,
        Role.CMO,
    }),
    "improvement.manage_projects": frozenset({Role.IMPROVEMENT_LEAD, Role.CQO}),
    "improvement.configure": frozenset({Role.IMPROVEMENT_LEAD, Role.CQO}),
    "improvement.manage_audits": frozenset({Role.CLINICAL_AUDITOR, Role.QUALITY_ANALYST, Role.CQO}),
    "improvement.audit": frozenset({Role.CLINICAL_AUDITOR, Role.QUALITY_ANALYST}),
    "improvement.view_audit_cases": frozenset({Role.CLINICAL_AUDITOR, Role.QUALITY_ANALYST, Role.CQO, Role.CMO}),
    # Medical staff quality (docs/medstaff.md). A practitioner's file (credentials, privileges,
    # OPPE, FPPE) is the medical staff office's and the practitioner's department chair's (a chair's
    # grant is over the department), read by the CMO and the credentials committee; a practitioner
    # reads their own (object rules, andon/medstaff/rules.py).
    **MEDSTAFF_CAPABILITIES,
    **VOICE_CAPABILITIES,
    **GOVERNANCE_CAPABILITIES,
}


def roles_with(capability: str) -> frozenset[Role]:
    """The roles that hold a capability; an unknown capability is an error, not a silent deny."""
    try:
        return CAPABILITIES[capability]
    except KeyError:
        raise KeyError(f"unknown capability {capability!r}; add it to andon/platform/roles.py") from None


# What a refused page says (the 403 page, `permissions.refusal`): permission or capability ->
# (what, why it is refused, whom to ask). An object rule is explained by its own words when it has
# them, else by the capability it rests on (whose roles also say whether the person holds it for
# other units). compliance.decide_policy rests on none: being named approver is not a role's.
_OBJECT_RULES = {
    "governance.view_committee": "governance.view_committees", "governance.run_meeting": "governance.run_meetings",
    "governance.use_committees": "governance.view_committees", "governance.read_pack_version": "governance.view_packs",
    "safety.view_event": "safety.view_events", "safety.view_investigation": "safety.view_events",
    "safety.edit_investigation": "safety.investigate", "actions.view_action": "actions.view",
    "actions.set_status": "actions.manage", "actions.use": "actions.view",
    "platform.view_job": "platform.view_own_jobs",
    "compliance.work_on_item": "compliance.assess", "compliance.view_item": "compliance.view",
    "compliance.assessment_work": "compliance.view", "compliance.edit_evidence": "compliance.manage_evidence",
    "compliance.edit_policy": "compliance.publish_policies", "compliance.read_policy": "compliance.view_policies",
    "compliance.fill_tracer": "compliance.plan_tracers", "compliance.view_tracer": "compliance.view",
    "compliance.use_tracers": "compliance.view",
    "medstaff.view_practitioner": "medstaff.view_practitioners",
    "medstaff.record_fppe_case": "medstaff.manage_fppe", "medstaff.view_fppe_record": "medstaff.view_fppe",
    "medstaff.use_fppe": "medstaff.view_fppe",
    "medstaff.view_peer_case": "medstaff.view_peer_review", "medstaff.review_peer_case": "medstaff.be_peer_reviewer",
    "medstaff.read_peer_letter": "medstaff.view_peer_review", "medstaff.use_peer_review": "medstaff.view_peer_review",
    "medstaff.view_practitioner_oppe": "medstaff.view_oppe",
    "medstaff.view_own_oppe": "medstaff.view_oppe",
}
_EVENTS_ARE_WORK_PRODUCT = (
    "Safety event records are patient safety work product (docs/safety.md, Confidentiality): each "
    "event is open to the patient safety officers and unit managers of its unit, the CQO and the CMO. "
    "Risk managers, analysts, auditors and the board see events in aggregate on the Analysis page, "
    "never one by one; claims and legal work are kept apart from the safety review.")
REFUSALS: dict[str, tuple[str, str, str]] = {  # capability -> (what, why, whom to ask)
    "safety.view_events": ("safety events one by one", _EVENTS_ARE_WORK_PRODUCT,
                           "For a specific event, ask the patient safety officer of its unit: they decide "
                           "what may be shared, and can take a report out of the safety evaluation system "
                           "with a recorded reason when it must serve another purpose."),
    "safety.view_reporter": ("who reported an event", "Who reported an event is seen only by the patient "
                             "safety officers, the CQO and the CMO, and never for an anonymous report.",
                             "Ask the patient safety officer."),
    "safety.triage": ("the triage of safety events", "Triage is the patient safety officers' work.",
                      "Ask the patient safety officer of the event's unit."),
    "safety.manage_workflow": ("the workflow of safety events", "Moving an event through its workflow is the "
                               "patient safety officers' work.", "Ask the patient safety officer of the event's unit."),
    "safety.investigate": ("root cause analyses", "Root cause analyses are run by the patient safety officers "
                           "and the RCA team.", "Ask the event's patient safety officer to add you to the RCA team."),
    "safety.review_conduct_concerns": (
        "conduct concerns", "Concerns about an individual's conduct are kept apart from safety events (just "
        "culture) and are read by the CMO and the medical staff office only.", "Ask the medical staff office."),
    "safety.view_feedback_stats": ("the feedback statistics", "The feedback statistics are for the patient safety "
                                   "officers, the CQO and the CMO.", "Ask the patient safety officer."),
    "measures.view_patients": ("patient-level data", "Patient-level data is open to quality analysts, the CQO "
                               "and the CMO, and every viewing is recorded.", "Ask the quality department."),
    "platform.use_admin_site": ("the administration site", "Administration is for administrators.",
                                "Ask an administrator."),
    "platform.manage_people": ("people and roles", "People and roles are managed by administrators.",
                               "Ask an administrator."),
    "platform.view_audit": ("the audit trail", "The audit trail is read by administrators.", "Ask an administrator."),
    # Compliance's object rules (andon/compliance/rules.py): the fact about the record each asks for.
    "compliance.work_on_item": (
        "the work on this assessment item", "Only the item's owner or a compliance specialist of the "
        "assessment's scope may record work on an assessment item.",
        "Ask the assessment's lead to assign the item to you."),
    "compliance.view_item": (
        "this assessment item", "An assessment item is open to its owner and to the people who read compliance "
        "records of the assessment's scope.", "Ask the assessment's lead or a compliance specialist."),
    "compliance.assessment_work": (
        "assessments", "Assessments are open to the people who read compliance records, and to anyone who owns "
        "an item of one.", "If you are to work on a requirement, ask a compliance specialist to assign it to you."),
    "compliance.edit_evidence": (
        "the editing of this evidence", "Only the evidence's owner, or someone who manages evidence for its unit, may "
        "change it.", "Ask its owner, or a compliance specialist to make you its owner."),
    "compliance.edit_policy": (
        "the editing of this policy", "Only the policy's owner or document control (the compliance specialists) may "
        "change a policy and its drafts.", "Ask the policy's owner or document control."),
    "compliance.decide_policy": (
        "the decision on this policy version", "Only an approver named on the version, whose decision is still "
        "pending, may approve or return it.",
        "Ask the policy's owner or document control to name you as an approver."),
    "compliance.read_policy": (
        "this policy", "Staff read the policies of their own units, of the units above theirs and of the whole "
        "organisation, and those they own: this one applies elsewhere.",
        "If you need it for your work, ask the policy's owner or document control."),
    "compliance.fill_tracer": (
        "the checklist of this tracer", "Only the tracer's surveyor or a compliance specialist of its unit may fill "
        "this tracer.", "Ask the compliance specialist who planned it to make you its surveyor."),
    "compliance.view_tracer": (
        "this tracer", "A tracer is open to its surveyor, the compliance specialists of its unit and the people "
        "who read compliance records of its unit.", "Ask a compliance specialist of the unit."),
    "medstaff.record_fppe_case": (
        "the recording of this FPPE's cases", "An FPPE's cases are recorded by its proctor, or by the medical staff "
        "office and the department chair of the practitioner's department.",
        "Ask the medical staff office to name you as the FPPE's proctor."),
    "medstaff.view_fppe_record": (
        "this FPPE", "An FPPE is read by the medical staff office, the CMO, the credentials committee, the "
        "practitioner's department chair and its proctor.", "Ask the medical staff office."),
    "medstaff.use_fppe": (
        "focused professional practice evaluations (FPPE)", "FPPEs are read by the medical staff office, the CMO, "
        "the credentials committee, department chairs and the proctor of one.", "Ask the medical staff office."),
    "compliance.use_tracers": (
        "mock-survey tracers", "Tracers are open to the people who read compliance records or plan tracers, and "
        "to anyone named as the surveyor of one.",
        "If you are to survey one, ask a compliance specialist to name you as its surveyor."),
    # Peer review (andon/medstaff/rules.py): protected by the state peer-review statutes.
    "medstaff.view_peer_review": (
        "peer review cases", "Peer review is confidential under the state peer-review statutes, apart from patient "
        "safety work and from HR: a case is read by the peer review committee, the medical staff office and its "
        "assigned reviewers only; others see counts by outcome.", "Ask the medical staff office."),
    "medstaff.view_peer_case": (
        "this peer review case", "A peer review case is read by the peer review committee, the medical staff office "
        "and the reviewers assigned to it only (state peer-review statutes).", "Ask the medical staff office."),
    "medstaff.review_peer_case": (
        "the review of this case", "Only a reviewer assigned to the case, without a declared conflict of interest, "
        "may review it.", "Ask the medical staff office or the peer review committee to assign you."),
    "medstaff.read_peer_letter": (
        "this feedback letter", "A peer review feedback letter is read by the practitioner it is addressed to, the "
        "peer review committee and the medical staff office only.", "Ask the medical staff office."),
}


def explained_capability(permission: str | None) -> str | None:
    """The capability a permission rests on (itself, or the capability of an object rule)."""
    if permission in CAPABILITIES:
        return permission
    return _OBJECT_RULES.get(permission or "")
