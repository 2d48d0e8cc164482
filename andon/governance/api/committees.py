from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_governance_api_committees_")
