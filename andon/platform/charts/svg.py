"""SVG primitives that escape every text and attribute, and the chart document around them.

Only presentation attributes are written (fill="…", never style="…"): the pages' content
security policy allows no inline style, and the same markup must draw alike in WeasyPrint.
Attribute names are written the Python way: `stroke_width` becomes stroke-width, `class_` class.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html import escape

from . import theme


class Markup(str):
    """Markup the kit wrote and escaped itself. Templates (Django's and Jinja's) print an
    object with `__html__` as it is, so views need no mark_safe and the kit needs no Django."""

    def __html__(self) -> str:
        return str(self)


def _value(value) -> str:
    """An attribute value, escaped (quotes too); numbers need no escaping, which is most of them."""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value) if isinstance(value, int) else escape(value)


def attributes(attrs: dict) -> str:
    """ name="value" pairs in the order given; None and False leave an attribute out."""
    return "".join(f' {name.rstrip("_").replace("_", "-")}="{_value(value)}"'
                   for name, value in attrs.items() if value is not None and value is not False)


def element(tag: str, text: str | None = None, *, tip: str | None = None, children=(), **attrs) -> str:
    """One element. `text` is its escaped text content; `tip` becomes a <title> child, which
    browsers show on hover and screen readers read; `children` are markup already written."""
    inner = (f"<title>{escape(tip, quote=False)}</title>" if tip else "") + "".join(children)
    inner += escape(text, quote=False) if text is not None else ""
    return f"<{tag}{attributes(attrs)}>{inner}</{tag}>" if inner else f"<{tag}{attributes(attrs)}/>"


def line(x1: float, y1: float, x2: float, y2: float, *, stroke: str, **attrs) -> str:
    return element("line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, **attrs)


def text(x: float, y: float, content: str, *, fill: str = theme.INK, **attrs) -> str:
    return element("text", content, x=x, y=y, fill=fill, **attrs)


def rotated_text(x: float, y: float, content: str, degrees: float, **attrs) -> str:
    return text(x, y, content, transform=f"rotate({degrees:g} {x:.1f} {y:.1f})", **attrs)


def points(pairs) -> str:
    """The `points` of a polyline: "x,y x,y …"."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pairs)


def polyline(pairs, *, stroke: str, **attrs) -> str:
    return element("polyline", points=points(pairs), fill="none", stroke=stroke, **attrs)


def chart_id(kind: str, title: str) -> str:
    """An id for the title and description that stays the same between renderings (pages
    compare and cache them) and differs between two charts of one page."""
    return f"{kind}-{hashlib.sha256(title.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Canvas:
    """The drawing's size and the margins around its plot area, where the axes go."""

    width: int
    height: int
    left: int = 64
    right: int = 24
    top: int = 36
    bottom: int = 56

    @property
    def plot_left(self) -> int:
        return self.left

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_top(self) -> int:
        return self.top

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    @property
    def plot_width(self) -> int:
        return self.plot_right - self.plot_left

    @property
    def plot_height(self) -> int:
        return self.plot_bottom - self.plot_top

    @property
    def middle(self) -> float:
        return self.plot_top + self.plot_height / 2


def document(canvas: Canvas, kind: str, title: str, desc: str, body, *, show_title: bool = False) -> Markup:
    """The chart's <svg>: role="img" named by its <title> and described by its <desc>, on a
    white ground, with the body drawn over it; `show_title` also writes the title above."""
    ident = chart_id(kind, title)
    root = attributes(dict(viewBox=f"0 0 {canvas.width} {canvas.height}", width=canvas.width, height=canvas.height,
                           role="img", aria_labelledby=f"{ident}-title {ident}-desc", font_family=theme.FONT_FAMILY,
                           font_size=theme.FONT_SIZE, class_=f"andon-chart {kind}"))
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg"{root}>',
        element("title", title, id=f"{ident}-title"),
        element("desc", desc, id=f"{ident}-desc"),
        element("rect", x=0, y=0, width=canvas.width, height=canvas.height, fill=theme.BACKGROUND),
    ]
    if show_title:
        head.append(text(canvas.width / 2, 20, title, text_anchor="middle", font_size=theme.TITLE_SIZE,
                         font_weight="bold"))
    return Markup("\n".join([*head, *body, "</svg>"]) + "\n")
