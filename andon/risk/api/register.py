"""The risk API: the register's list, the heat map (page and PDF), the board assurance framework and the matrix settings."""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_risk_api_")
