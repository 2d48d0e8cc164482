"""Files that people download: CSV written safely for spreadsheets, kept under the data dir."""

import csv
import json
from pathlib import Path

from django.conf import settings
from django.http import StreamingHttpResponse

# A cell starting with one of these is run as a formula by spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def exports_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_csv(path: Path, header: list[str], rows) -> int:
    """Write rows (dicts) to a CSV file atomically; returns the number of rows written."""
    partial = path.with_suffix(path.suffix + ".partial")
    count = 0
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([spreadsheet_safe(row.get(column)) for column in header])
            count += 1
    partial.replace(path)
    return count


class _Echo:
    """A file that hands back what is written to it, so csv.writer yields lines to stream."""

    def write(self, value):
        return value


def streaming_csv(header: list[str], rows, filename: str, *, count: int | None = None) -> StreamingHttpResponse:
    """A CSV download streamed row by row (rows are dicts), every cell spreadsheet-safe, never cached."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(row.get(column)) for column in header])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    if count is not None:
        response["X-Andon-Rows"] = str(count)
    return response
