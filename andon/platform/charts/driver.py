"""The driver diagram (IHI): the aim on the left, then columns of primary drivers, secondary
drivers and change ideas, each joined to the node it hangs under by an elbow line. Every node
takes as many rows as it has leaves below it and sits in the middle of them, so the tree reads
left to right; a change idea straight under a primary driver leaves the secondary column empty."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from . import theme
from .figure import Chart, Table
from .svg import Canvas, document, element, polyline, text

COLUMNS = ("Aim", "Primary drivers", "Secondary drivers", "Change ideas")
KIND_COLUMN = {"primary": 1, "secondary": 2, "change": 3}
BOX_WIDTH, GAP, MARGIN, HEADER = 200, 36, 16, 28
LINE, WRAP, MAX_LINES, PAD = 15, 28, 4, 8
ROW = MAX_LINES * LINE + 2 * PAD + 10
FILLS = {0: ("#cfe2ff", "#084298"), 1: ("#d1e7dd", "#0f5132"), 2: ("#fff3cd", "#664d03"), 3: ("#f8f9fa", "#495057")}


@dataclass(frozen=True)
class DriverNode:
    """A node: its kind ("primary", "secondary" or "change"), text and the nodes under it."""

    kind: str
    text: str
    children: tuple[DriverNode, ...] = field(default_factory=tuple)


def _lines(words: str) -> list[str]:
    lines = textwrap.wrap(words, WRAP) or [""]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: WRAP - 1].rstrip() + "…"
    return lines


def _leaves(node: DriverNode) -> int:
    return sum(_leaves(child) for child in node.children) or 1


def _x(column: int) -> int:
    return MARGIN + column * (BOX_WIDTH + GAP)


def _box(column: int, middle: float, words: str, kind: str) -> list[str]:
    lines = _lines(words)
    height = len(lines) * LINE + 2 * PAD
    top = middle - height / 2
    fill, stroke = FILLS[column]
    shapes = [element("rect", x=_x(column), y=top, width=BOX_WIDTH, height=height, rx=4, fill=fill, stroke=stroke,
                      class_=f"driver-node {kind}", tip=words)]
    shapes += [text(_x(column) + PAD, top + PAD + LINE * (i + 1) - 4, part) for i, part in enumerate(lines)]
    return shapes


def _join(parent_column: int, parent_middle: float, child_column: int, child_middle: float) -> str:
    start = _x(parent_column) + BOX_WIDTH
    bend = start + GAP / 2
    return polyline([(start, parent_middle), (bend, parent_middle), (bend, child_middle), (_x(child_column), child_middle)],
                    stroke=theme.MUTED, stroke_width=1.5, class_="driver-link")


def _draw(node: DriverNode, first_row: int, parent: tuple[int, float], body: list[str]) -> None:
    rows = _leaves(node)
    column = KIND_COLUMN[node.kind]
    middle = HEADER + MARGIN + (first_row + rows / 2) * ROW
    body.append(_join(parent[0], parent[1], column, middle))
    body.extend(_box(column, middle, node.text, node.kind))
    row = first_row
    for child in node.children:
        _draw(child, row, (column, middle), body)
        row += _leaves(child)


def _table_rows(node: DriverNode, path: tuple[str, str]) -> list[tuple[str, str, str]]:
    if node.kind == "change":
        return [(path[0], path[1] or "—", node.text)]
    here = (node.text, "") if node.kind == "primary" else (path[0], node.text)
    below = [row for child in node.children for row in _table_rows(child, here)]
    return below or [(here[0], here[1] or "—", "—")]


def _counted(nodes, kind: str) -> int:
    return sum((node.kind == kind) + _counted(node.children, kind) for node in nodes)


def driver_diagram(aim: str, primaries: list[DriverNode], *, title: str = "Driver diagram") -> Chart:
    """`primaries`: the primary drivers in order, each with its secondary drivers and change ideas."""
    rows = sum(_leaves(node) for node in primaries) or 1
    canvas = Canvas(MARGIN * 2 + 4 * BOX_WIDTH + 3 * GAP, HEADER + MARGIN * 2 + rows * ROW)
    body = [text(_x(column) + BOX_WIDTH / 2, MARGIN + 10, name, text_anchor="middle", font_weight="bold")
            for column, name in enumerate(COLUMNS)]
    aim_middle = HEADER + MARGIN + rows * ROW / 2
    body.extend(_box(0, aim_middle, aim, "aim"))
    row = 0
    for node in primaries:
        _draw(node, row, (0, aim_middle), body)
        row += _leaves(node)
    if not primaries:
        body.append(text(_x(1), aim_middle, "No drivers yet.", fill=theme.MUTED))
    counts = [(_counted(primaries, kind), words) for kind, words in (
        ("primary", "primary drivers"), ("secondary", "secondary drivers"), ("change", "change ideas"))]
    desc = f"Aim: {aim}. " + ", ".join(f"{count} {words}" for count, words in counts) + "."
    table = Table(f"{title}. Aim: {aim}", ("Primary driver", "Secondary driver", "Change idea"),
                  tuple(row for node in primaries for row in _table_rows(node, ("", ""))))
    return Chart("driver-diagram", title, desc, document(canvas, "driver-diagram", title, desc, body), table)
