"""The risk API: one risk: its page, raising (also from an RCA's root cause), re-scoring, escalation, controls and links."""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_risk_api_")
