"""A fishbone (Ishikawa) diagram of an RCA's contributing factors, drawn by the platform's
chart kit (andon/platform/charts/fishbone.py): every text escaped, presentation attributes only
(the content security policy forbids style attributes), a <title>, <desc> and table."""

from andon.platform import charts


def chart(problem: str, bones: list[dict]) -> charts.Chart:
    """bones: [{"label": str, "factors": [str, …]}] in order (as `rca.fishbone` gives them)."""
    return charts.fishbone_diagram(problem, [(bone["label"], bone["factors"]) for bone in bones])


def render(problem: str, bones: list[dict]) -> str:
    """The diagram as an SVG document."""
    return chart(problem, bones).svg
