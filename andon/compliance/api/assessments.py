"""The compliance API: assessments."""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_compliance_api_")
