"""The improvement module's tables, one file per subject; import them from here."""

from .audits import Answer, Audit, AuditCase, AuditRound, AuditStage, AuditTool, CaseAnswer, CohortKind, Criterion
from .projects import (
    Benefit, Driver, DriverKind, PdsaCycle, PdsaDecision, PdsaStage, PortfolioSettings, Project, ProjectsRequired,
    ProjectStatus,
)

__all__ = [
    "Answer", "Audit", "AuditCase", "AuditRound", "AuditStage", "AuditTool", "Benefit", "CaseAnswer", "CohortKind",
    "Criterion", "Driver", "DriverKind", "PdsaCycle", "PdsaDecision", "PdsaStage", "PortfolioSettings", "Project",
    "ProjectsRequired", "ProjectStatus",
]
