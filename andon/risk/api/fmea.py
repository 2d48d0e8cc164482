"""The risk API: FMEA and HFMEA: the register of proactive assessments by year, an assessment with its process, failure modes, causes, scoring and actions, and the FMEA settings."""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_risk_api_")
