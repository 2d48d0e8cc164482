"""A fishbone (Ishikawa) diagram of an RCA's contributing factors, drawn as SVG.

Drawn by hand because it is a fixed shape: a spine ending in the problem, one bone per
category, alternating above and below, each listing its factors. Every text is escaped; the
SVG uses presentation attributes only (the content security policy forbids style attributes).
"""

import textwrap
from xml.sax.saxutils import escape

BONE_SPACING = 260
MARGIN = 20
TEXT_ROOM = 190  # left of the first bone, for its factors
HEAD_WIDTH = 220
FACTOR_LINE = 15
WRAP = 30
MAX_LINES_PER_FACTOR = 3


def _lines(text: str) -> list[str]:
    lines = textwrap.wrap(text, WRAP) or [""]
    if len(lines) > MAX_LINES_PER_FACTOR:
        lines = lines[:MAX_LINES_PER_FACTOR]
        lines[-1] = lines[-1][: WRAP - 1] + "…"
    return lines


def render(problem: str, bones: list[dict]) -> str:
    """bones: [{"label": str, "factors": [str, …]}] in order. Returns an SVG document."""
    pairs = max(1, (len(bones) + 1) // 2)
    factor_rows = max([sum(len(_lines(f)) for f in bone["factors"]) for bone in bones] + [1])
    half = max(120, 60 + factor_rows * FACTOR_LINE)
    width = MARGIN * 2 + TEXT_ROOM + pairs * BONE_SPACING + HEAD_WIDTH
    height = MARGIN * 2 + half * 2
    spine_y = MARGIN + half
    spine_end = MARGIN + TEXT_ROOM + pairs * BONE_SPACING
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="fishbone-title fishbone-desc" font-family="DejaVu Sans, sans-serif" font-size="12">',
        '<title id="fishbone-title">Fishbone diagram of contributing factors</title>',
        f'<desc id="fishbone-desc">{escape(_description(problem, bones))}</desc>',
        f'<line x1="{MARGIN}" y1="{spine_y}" x2="{spine_end}" y2="{spine_y}" stroke="#212529" stroke-width="3"/>',
        f'<rect x="{spine_end}" y="{spine_y - 40}" width="{HEAD_WIDTH - 10}" height="80" rx="6" fill="#f8d7da" '
        f'stroke="#842029"/>',
    ]
    for i, line in enumerate(textwrap.wrap(problem, 26)[:4]):
        parts.append(f'<text x="{spine_end + 10}" y="{spine_y - 18 + i * 15}" fill="#212529">{escape(line)}</text>')
    for index, bone in enumerate(bones):
        parts.extend(_bone(index, bone, spine_y, half))
    parts.append("</svg>")
    return "\n".join(parts)


def _bone(index: int, bone: dict, spine_y: int, half: int) -> list[str]:
    above = index % 2 == 0
    x_spine = MARGIN + TEXT_ROOM + (index // 2) * BONE_SPACING + BONE_SPACING - 30
    x_tip = x_spine - 90
    y_tip = spine_y - half + 30 if above else spine_y + half - 30
    parts = [f'<line x1="{x_tip}" y1="{y_tip}" x2="{x_spine}" y2="{spine_y}" stroke="#495057" stroke-width="2"/>']
    label_lines = textwrap.wrap(bone["label"], 28)[:2]
    label_y = y_tip - 8 - 14 * (len(label_lines) - 1) if above else y_tip + 18
    for i, line in enumerate(label_lines):
        parts.append(f'<text x="{x_tip}" y="{label_y + 14 * i}" text-anchor="middle" font-weight="bold" '
                     f'fill="#212529">{escape(line)}</text>')
    # Factors are written to the left of the bone, each line ending just short of it.
    y = y_tip + 16 if above else y_tip - 12
    step = FACTOR_LINE if above else -FACTOR_LINE
    texts = [line for factor in bone["factors"] for line in _lines("• " + factor)] or ["(none found)"]
    if not above:
        texts.reverse()
    for line in texts:
        x_bone = x_tip + 90 * (y - y_tip) / (spine_y - y_tip)
        colour = "#6c757d" if line == "(none found)" else "#343a40"
        parts.append(f'<text x="{x_bone - 8:.0f}" y="{y}" text-anchor="end" fill="{colour}">{escape(line)}</text>')
        y += step
    return parts


def _description(problem: str, bones: list[dict]) -> str:
    found = [f"{b['label']}: {'; '.join(b['factors'])}" for b in bones if b["factors"]]
    return f"Problem: {problem}. " + (" ".join(found) if found else "No contributing factors recorded yet.")
