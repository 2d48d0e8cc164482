"""Special-cause rules of the NHS "Making Data Count" method (as NHSRplotthedots applies them to
XmR charts; see shared/docs/DOMAIN.md §7). Each rule takes one segment's values and limits and
returns, per point, whether the rule flags it: +1 for a signal on the high side (or a rising
trend), -1 for the low side (a falling trend), 0 for none.

- `outside_limits`: a point above the upper or below the lower process limit.
- `shift`: a run of `length` (7) or more points on one side of the mean; a point on the mean
  breaks the run. Every point of the run is flagged.
- `trend`: `length` (7) or more points each higher (or each lower) than the one before, i.e.
  `length - 1` successive changes; an equal neighbour breaks it. Every point of the trend is
  flagged, by the trend's direction.
- `two_in_three`: two of three consecutive points beyond the same near limit (two thirds of
  the way to the process limit); the points beyond it in such a window are flagged.
"""

from __future__ import annotations


def _side(value: float, centre: float) -> int:
    return (value > centre) - (value < centre)


def outside_limits(values, lpl, upl) -> list[int]:
    return [1 if v > hi else -1 if v < lo else 0 for v, lo, hi in zip(values, lpl, upl, strict=True)]


def shift(values, mean, length: int = 7) -> list[int]:
    sides = [_side(v, m) for v, m in zip(values, mean, strict=True)]
    return _runs(sides, length)


def trend(values, length: int = 7) -> list[int]:
    # the direction of each change, given to the later point; a trend of n points is n-1 changes
    changes = [0] + [_side(b, a) for a, b in zip(values, values[1:], strict=False)]
    flags = [0] * len(values)
    start = 1
    while start < len(values):
        direction, end = changes[start], start
        while end + 1 < len(values) and direction != 0 and changes[end + 1] == direction:
            end += 1
        if direction != 0 and end - start + 2 >= length:  # changes start..end span points start-1..end
            for index in range(start - 1, end + 1):
                flags[index] = direction
        start = end + 1
    return flags


def two_in_three(values, near_lpl, near_upl) -> list[int]:
    beyond = [1 if v > hi else -1 if v < lo else 0 for v, lo, hi in zip(values, near_lpl, near_upl, strict=True)]
    flags = [0] * len(values)
    for first in range(len(values) - 2):
        window = range(first, first + 3)
        for side in (1, -1):
            hits = [i for i in window if beyond[i] == side]
            if len(hits) >= 2:
                for index in hits:
                    flags[index] = side
    return flags


def _runs(sides: list[int], length: int) -> list[int]:
    """Flag every point of a run of at least `length` equal non-zero sides."""
    flags = [0] * len(sides)
    start = 0
    while start < len(sides):
        end = start
        while end + 1 < len(sides) and sides[end + 1] == sides[start]:
            end += 1
        if sides[start] != 0 and end - start + 1 >= length:
            for index in range(start, end + 1):
                flags[index] = sides[start]
        start = end + 1
    return flags
