"""Statistics for quality measurement (shared/docs/DOMAIN.md §7, §10): intervals for a proportion,
funnel-plot limits for comparing units, the sample size of an audit, agreement between two
auditors (Cohen's kappa), and comparing two proportions (Newcombe's interval for the difference,
Fisher's exact test). Pure Python (the standard library's NormalDist, fractions and lgamma;
binomial, Poisson and hypergeometric tails computed in log space)."""

from .agreement import LANDIS_KOCH, Agreement, cohen_kappa, kappa_reading
from .compare import FisherExact, ProportionDifference, fisher_exact, proportion_difference
from .funnel import FunnelLimits, overdispersion, proportion_limits, proportion_limits_exact, ratio_limits_exact
from .intervals import poisson_interval, sample_size, wilson

__all__ = ["LANDIS_KOCH", "Agreement", "cohen_kappa", "kappa_reading",
           "FisherExact", "ProportionDifference", "fisher_exact", "proportion_difference",
           "FunnelLimits", "overdispersion", "proportion_limits", "proportion_limits_exact", "ratio_limits_exact",
           "poisson_interval", "sample_size", "wilson"]
