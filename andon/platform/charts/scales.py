"""Scales: from data values to positions on the drawing, and the round ticks of an axis.

Pure arithmetic, no drawing; a chart kind builds one scale per axis and asks it for positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def nice_ticks(low: float, high: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values from at or below `low` to at or above `high`, about `count` steps of
    1, 2 or 5 × 10ⁿ. An empty range (high ≤ low) is widened by one so that it still has ticks.
    `integer`: whole-number steps only (an axis of counts never reads 0.5 events)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    if integer:
        raw = max(raw, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    tick = math.floor(low / step) * step
    ticks = [round(tick, 10)]
    while ticks[-1] < high:
        tick += step
        ticks.append(round(tick, 10))
    return ticks


def format_number(value: float) -> str:
    """A value as people read it on a chart: thousands separated, at most two decimals."""
    if not value:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class LinearScale:
    """Values from ticks[0] to ticks[-1] onto positions from `start` to `end` (for a vertical
    axis `start` is the bottom, so `end` < `start`)."""

    ticks: tuple[float, ...]
    start: float
    end: float

    @classmethod
    def covering(cls, values, start: float, end: float, *, zero: str = "near", count: int = 5,
                 integer: bool = False) -> LinearScale:
        """A scale whose round ticks cover every value that is not None.

        zero: "always" starts the axis at 0 (counts, percentages); "near" does so when 0 is
        close to the data (the lowest value is less than 0.6 × the data's range above 0), so a
        small change far from 0 is not flattened; "never" fits the data only. `integer`: the
        values are counts, so the ticks are whole numbers."""
        present = [v for v in values if v is not None]
        low, high = (min(present), max(present)) if present else (0.0, 1.0)
        if zero == "always" or (zero == "near" and 0 <= low < (high - low) * 0.6):
            low = min(low, 0.0)
        return cls(tuple(nice_ticks(low, high, count, integer=integer)), start, end)

    @property
    def low(self) -> float:
        return self.ticks[0]

    @property
    def high(self) -> float:
        return self.ticks[-1]

    def __call__(self, value: float) -> float:
        span = (self.high - self.low) or 1
        return self.start + (self.end - self.start) * (value - self.low) / span


@dataclass(frozen=True)
class BandScale:
    """`count` equal slots between `start` and `end`, for categories and periods."""

    count: int
    start: float
    end: float

    @property
    def step(self) -> float:
        return (self.end - self.start) / max(self.count, 1)

    def centre(self, index: float) -> float:
        return self.start + self.step * (index + 0.5)

    def left(self, index: float) -> float:
        return self.start + self.step * index

    def label_every(self, most: int = 12) -> int:
        """Label every n-th slot so that at most about `most` labels share the axis."""
        return max(1, self.count // most)
