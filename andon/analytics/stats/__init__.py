"""Statistics for quality measurement (shared/docs/DOMAIN.md §7): intervals for a proportion,
funnel-plot limits for comparing units, and the sample size of an audit. Pure Python (the
standard library's NormalDist; binomial and Poisson tails computed in log space)."""

from .funnel import FunnelLimits, overdispersion, proportion_limits, proportion_limits_exact, ratio_limits_exact
from .intervals import poisson_interval, sample_size, wilson

__all__ = ["FunnelLimits", "overdispersion", "proportion_limits", "proportion_limits_exact", "ratio_limits_exact",
           "poisson_interval", "sample_size", "wilson"]
