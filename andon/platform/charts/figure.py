"""What every chart kind returns: the SVG, and the same numbers as a table for people who
cannot see the drawing (screen readers) or want the figures (the PDF prints it under the chart)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from .svg import Markup


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def html(self, *, css_class: str = "table table-sm chart-data") -> Markup:
        head = "".join(f'<th scope="col">{escape(h)}</th>' for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in self.rows)
        return Markup(f'<table class="{escape(css_class)}"><caption>{escape(self.caption)}</caption>'
                      f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


@dataclass(frozen=True)
class Chart:
    """`svg` for a page (inline or as an image) and for a PDF; `table_html` the alternative
    in a page, folded away under a summary that a screen reader announces."""

    kind: str
    title: str
    desc: str
    svg: Markup
    table: Table

    @property
    def table_html(self) -> Markup:
        return Markup(f'<details class="chart-table"><summary>{escape(self.title)}: the numbers as a table</summary>'
                      f"{self.table.html()}</details>")

    def __html__(self) -> str:
        return self.svg + self.table_html
