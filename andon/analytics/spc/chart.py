"""What every chart returns: points with their centre, limits and special-cause verdict, and the
chart's assurance against a target (the "Making Data Count" variation and assurance icons).

A point's `special_cause` is `common_cause`, or, when a rule flags it, by the improvement
direction ("increase", "decrease" or "neutral") and the side the signal is on:
`special_cause_improvement`, `special_cause_concern`, `special_cause_neutral_high` or
`special_cause_neutral_low`. Its `rule` names the rule that decided it; when several flag a
point the first of RULE_ORDER wins (an astronomical point says more than a run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import rules

RULE_ORDER = ("outside_limits", "two_in_three", "shift", "trend")
DIRECTIONS = ("increase", "decrease", "neutral")


@dataclass
class Point:
    index: int
    value: float | None
    mean: float | None
    lpl: float | None
    upl: float | None
    near_lpl: float | None
    near_upl: float | None
    special_cause: str = "common_cause"
    rule: str | None = None
    numerator: float | None = None  # for attribute charts: what the value was computed from
    denominator: float | None = None


@dataclass
class ChartResult:
    kind: str  # "xmr", "p", "u", …
    points: list[Point]
    improvement: str
    target: float | None = None
    assurance: str | None = None  # pass_consistently, fail_consistently, hit_and_miss; None without target
    notes: list[str] = field(default_factory=list)  # what the reader should know (too few points, …)


def segments(count: int, rebase) -> list[range]:
    """The index ranges between rebasing points (a rebase at i starts a new segment at i)."""
    cuts = sorted({i for i in rebase if 0 < i < count})
    bounds = [0, *cuts, count]
    return [range(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def flag(points: list[Point], improvement: str, shift_length: int, trend_length: int) -> None:
    """Apply the rules to one segment's points (their limits set) and record each verdict."""
    values = [p.value for p in points]
    found = {
        "outside_limits": rules.outside_limits(values, [p.lpl for p in points], [p.upl for p in points]),
        "two_in_three": rules.two_in_three(values, [p.near_lpl for p in points], [p.near_upl for p in points]),
        "shift": rules.shift(values, [p.mean for p in points], shift_length),
        "trend": rules.trend(values, trend_length),
    }
    for position, point in enumerate(points):
        for rule in RULE_ORDER:
            side = found[rule][position]
            if side:
                point.rule, point.special_cause = rule, special_cause(side, improvement)
                break


def special_cause(side: int, improvement: str) -> str:
    if improvement == "neutral":
        return "special_cause_neutral_high" if side > 0 else "special_cause_neutral_low"
    good = 1 if improvement == "increase" else -1
    return "special_cause_improvement" if side == good else "special_cause_concern"


def assurance(last: Point, improvement: str, target: float | None) -> str | None:
    """Whether the process as it now runs (the last segment's limits) will meet the target."""
    if target is None or improvement == "neutral" or last.lpl is None or last.upl is None:
        return None
    if last.lpl <= target <= last.upl:
        return "hit_and_miss"
    above = last.lpl > target  # every value the process gives is above the target
    meets = above if improvement == "increase" else not above
    return "pass_consistently" if meets else "fail_consistently"


def check_direction(improvement: str) -> None:
    if improvement not in DIRECTIONS:
        raise ValueError(f"improvement must be one of {', '.join(DIRECTIONS)}, not {improvement!r}")
