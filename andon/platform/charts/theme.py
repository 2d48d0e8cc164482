"""The one look of every chart: colours, type and sizes, shared by pages and PDF reports.

Colours are written as presentation attributes (fill="…"), never style attributes: the pages'
content security policy refuses inline styles, and WeasyPrint reads attributes as well.
"""

# The type: a system font in pages; DejaVu Sans (installed with WeasyPrint's fonts) in PDFs.
FONT_FAMILY = "system-ui, DejaVu Sans, sans-serif"
FONT_SIZE = 12
TITLE_SIZE = 14

BACKGROUND = "#ffffff"
INK = "#212529"  # titles, axis lines and labels
MUTED = "#6c757d"  # reference lines, "nothing to show"
GRID = "#dee2e6"
SERIES = "#4a5568"  # a line of values
BAR = "#0d6efd"
ACCENT = "#dc3545"  # a second series drawn over bars (the Pareto's cumulative line)
LIMIT = "#a0aec0"  # process and funnel limits
CENTRE = "#2d3748"  # mean, median, pooled value
TARGET = "#2f855a"
ANNOTATION = "#805ad5"

# Verdicts, one colour each wherever they appear (SPC points, funnel points, heat map cells).
STATUS = {
    "improvement": "#2b6cb0",
    "concern": "#dd6b20",
    "neutral": "#6b46c1",
    "common": "#718096",
    "within": "#2b6cb0",
    "alert": "#dd6b20",
    "alarm": "#c53030",
}

# From low to high, for heat maps: light to dark, readable in greyscale print.
RAMP = ("#f1f5f9", "#fde68a", "#fbbf24", "#f97316", "#dc2626", "#7f1d1d")

DASHED = "6 4"
DOTTED = "2 3"
