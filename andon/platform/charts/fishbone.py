"""The fishbone (Ishikawa) diagram: a spine ending in the problem, one bone per category,
alternating above and below, each listing its factors to the left of the bone."""

from __future__ import annotations

import textwrap

from . import theme
from .figure import Chart, Table
from .svg import Canvas, document, element, line, text

BONE_SPACING = 260
MARGIN = 20
TEXT_ROOM = 190  # left of the first bone, for its factors
HEAD_WIDTH = 220
FACTOR_LINE = 15
WRAP = 30
MAX_LINES_PER_FACTOR = 3
HEAD_FILL, HEAD_STROKE, BONE = "#f8d7da", "#842029", "#495057"
NONE_FOUND = "(none found)"


def _lines(factor: str) -> list[str]:
    lines = textwrap.wrap(factor, WRAP) or [""]
    if len(lines) > MAX_LINES_PER_FACTOR:
        lines = lines[:MAX_LINES_PER_FACTOR]
        lines[-1] = lines[-1][: WRAP - 1] + "…"
    return lines


def fishbone_diagram(problem: str, bones: list[tuple[str, list[str]]], *,
                     title: str = "Fishbone diagram of contributing factors") -> Chart:
    """bones: (category label, [factor, …]) in order."""
    pairs = max(1, (len(bones) + 1) // 2)
    factor_rows = max([sum(len(_lines(f)) for f in factors) for _, factors in bones] + [1])
    half = max(120, 60 + factor_rows * FACTOR_LINE)
    canvas = Canvas(MARGIN * 2 + TEXT_ROOM + pairs * BONE_SPACING + HEAD_WIDTH, MARGIN * 2 + half * 2)
    spine_y = MARGIN + half
    spine_end = MARGIN + TEXT_ROOM + pairs * BONE_SPACING
    body = [line(MARGIN, spine_y, spine_end, spine_y, stroke=theme.INK, stroke_width=3),
            element("rect", x=spine_end, y=spine_y - 40, width=HEAD_WIDTH - 10, height=80, rx=6, fill=HEAD_FILL,
                    stroke=HEAD_STROKE)]
    body += [text(spine_end + 10, spine_y - 18 + i * 15, part) for i, part in enumerate(textwrap.wrap(problem, 26)[:4])]
    for index, bone in enumerate(bones):
        body.extend(_bone(index, bone, spine_y, half))
    found = [f"{label}: {'; '.join(factors)}" for label, factors in bones if factors]
    desc = f"Problem: {problem}. " + (" ".join(found) if found else "No contributing factors recorded yet.")
    table = Table(title, ("Category", "Contributing factor"),
                  tuple((label, factor) for label, factors in bones for factor in factors))
    return Chart("fishbone", title, desc, document(canvas, "fishbone", title, desc, body), table)


def _bone(index: int, bone: tuple[str, list[str]], spine_y: int, half: int) -> list[str]:
    label, factors = bone
    above = index % 2 == 0
    x_spine = MARGIN + TEXT_ROOM + (index // 2) * BONE_SPACING + BONE_SPACING - 30
    x_tip = x_spine - 90
    y_tip = spine_y - half + 30 if above else spine_y + half - 30
    out = [line(x_tip, y_tip, x_spine, spine_y, stroke=BONE, stroke_width=2)]
    label_lines = textwrap.wrap(label, 28)[:2]
    label_y = y_tip - 8 - 14 * (len(label_lines) - 1) if above else y_tip + 18
    out += [text(x_tip, label_y + 14 * i, part, text_anchor="middle", font_weight="bold")
            for i, part in enumerate(label_lines)]
    # Factors are written to the left of the bone, each line ending just short of it.
    y = y_tip + 16 if above else y_tip - 12
    step = FACTOR_LINE if above else -FACTOR_LINE
    texts = [part for factor in factors for part in _lines("• " + factor)] or [NONE_FOUND]
    if not above:
        texts.reverse()
    for part in texts:
        x_bone = x_tip + 90 * (y - y_tip) / (spine_y - y_tip)
        out.append(text(round(x_bone - 8), y, part, text_anchor="end",
                        fill=theme.MUTED if part == NONE_FOUND else theme.INK))
        y += step
    return out
