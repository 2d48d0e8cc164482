"""The VA NCPS Safety Assessment Code (DOMAIN.md §2).

SAC 3 is the highest risk. The Australian/NZ "Severity Assessment Code" runs the other way
(SAC 1 most serious), so every score is stored with its scheme and never compared across
schemes. For a close call, severity is the most likely worst-case outcome.
"""

SCHEME = "va-ncps"
# What a page shows for each stored scheme (a code is never shown bare).
SCHEME_NAMES = {"va-ncps": "VA NCPS Safety Assessment Code"}

SEVERITIES = {
    "catastrophic": "Catastrophic: death or major permanent loss of function not related to the natural "
                    "course of illness; includes Joint Commission reviewable sentinel events",
    "major": "Major: permanent lessening of function, disfigurement, or surgical intervention required; "
             "or increased length of stay or level of care for 3 or more patients",
    "moderate": "Moderate: increased length of stay or level of care for 1 or 2 patients",
    "minor": "Minor: no injury, and no added length of stay or level of care",
}
PROBABILITIES = {
    "frequent": "Frequent: several times in 1 year",
    "occasional": "Occasional: several times in 1 to 2 years",
    "uncommon": "Uncommon: sometime in 2 to 5 years",
    "remote": "Remote: sometime in 5 to 30 years",
}

# probability -> severity -> score
MATRIX = {
    "frequent": {"catastrophic": 3, "major": 3, "moderate": 2, "minor": 1},
    "occasional": {"catastrophic": 3, "major": 2, "moderate": 1, "minor": 1},
    "uncommon": {"catastrophic": 3, "major": 2, "moderate": 1, "minor": 1},
    "remote": {"catastrophic": 3, "major": 2, "moderate": 1, "minor": 1},
}


def score(severity: str, probability: str) -> int:
    """The SAC for a severity and probability; unknown terms are an error, never a guess."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown SAC severity {severity!r}; one of {', '.join(SEVERITIES)}")
    if probability not in PROBABILITIES:
        raise ValueError(f"unknown SAC probability {probability!r}; one of {', '.join(PROBABILITIES)}")
    return MATRIX[probability][severity]


def requires_rca(sac: int | None, sentinel: bool) -> bool:
    """An actual or potential SAC 3, or a sentinel event, requires an individual RCA."""
    return sentinel or sac == 3
