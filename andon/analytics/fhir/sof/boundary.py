"""lowBoundary() / highBoundary() for decimals, dates, dateTimes and times (SQL over one JSON item)."""


def boundary_sql(v: str, which: str) -> str:
    """A JSON value: the low or high boundary of the JSON item `v` (NULL when it has none)."""
    return "CAST(NULL AS JSON)"
