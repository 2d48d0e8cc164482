"""The risk module's tables, one file per subject; import them from here."""

from .matrix import MatrixRevision, RiskMatrix
from .risks import (
    Assurance, Category, Control, ControlEffect, Escalation, Level, Risk, RiskLink, RiskStatus, ScoreRecord,
    ScoreReason,
)
from .fmea import (
    Assessment, AssessmentStatus, CauseScoring, FailureCause, FailureMode, FmeaSettings, Method, PriorityMethod,
    ProcessStep, ScoringStage,
)

__all__ = [
    "Assessment", "AssessmentStatus", "Assurance", "Category", "CauseScoring", "Control", "ControlEffect",
    "Escalation", "FailureCause", "FailureMode", "FmeaSettings", "Level", "MatrixRevision", "Method",
    "PriorityMethod", "ProcessStep", "Risk", "RiskLink", "RiskMatrix", "RiskStatus", "ScoreRecord", "ScoreReason",
    "ScoringStage",
]
