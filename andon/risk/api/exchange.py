"""The risk API: the register's export to CSV/XLSX and its import back, with a report by row, field and reason."""

from andon.platform.api_kit import NamedRouter

router = NamedRouter("andon_risk_api_")
