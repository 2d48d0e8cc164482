"""The compliance module's tables, one file per subject; import them from here."""

from .frameworks import Change, Framework, FrameworkKind, FrameworkVersion, MappingRelation, Requirement, RequirementMapping
from .assessments import (
    Assessment, AssessmentItem, AssessmentStatus, Finding, FindingRisk, FindingStatus, ReadinessSnapshot, Result,
    WorkingStatus,
)
from .evidence import Evidence, EvidenceKind, EvidenceLink, EvidenceRevision
from .policies import (
    Attestation, AttestationRule, Policy, PolicyApproval, PolicyRequirement, PolicyStatus, PolicyVersion, Decision,
)
from .tracers import Tracer, TracerItem, TracerKind, TracerPhoto, TracerStatus, Answer

__all__ = [
    "Answer", "Assessment", "Change", "AssessmentItem", "AssessmentStatus", "Attestation", "AttestationRule", "Decision",
    "Evidence", "EvidenceKind", "EvidenceLink", "EvidenceRevision", "Finding", "FindingRisk", "FindingStatus",
    "Framework", "FrameworkKind", "FrameworkVersion", "MappingRelation", "Policy", "PolicyApproval",
    "PolicyRequirement", "PolicyStatus", "PolicyVersion", "ReadinessSnapshot", "Requirement", "RequirementMapping",
    "Result", "Tracer", "TracerItem", "TracerKind", "TracerPhoto", "TracerStatus", "WorkingStatus",
]
