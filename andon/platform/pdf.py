"""PDF reports: HTML (a rendered template, charts drawn by the chart kit inline) to PDF bytes
with WeasyPrint.

WeasyPrint fetches what a document links to (images, style sheets, fonts). A report is made
from records that users wrote, so a link in it must not make the server fetch from the network
or read its own files: the fetcher here serves `data:` URLs and the app's own static files, and
refuses everything else (WeasyPrint then leaves that resource out and logs a warning).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

# Relative links in a report resolve against this address, which never leaves the process.
BASE_URL = "https://andon.invalid/"


class FetchRefused(Exception):
    """A report linked to something outside `data:` and the app's static files."""


def _static_file(url: str) -> Path | None:
    parts = urlsplit(url)
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    if f"{parts.scheme}://{parts.netloc}/" != BASE_URL or not parts.path.startswith(prefix):
        return None
    name = unquote(parts.path[len(prefix):])
    if ".." in Path(name).parts:
        return None
    found = finders.find(name)
    return Path(found) if found else None


def _fetcher():
    from weasyprint import URLFetcher
    from weasyprint.urls import URLFetcherResponse

    class ReportFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = _static_file(url)
            if path is None:
                raise FetchRefused(f"a PDF report may only use data: URLs and static files, not {url}")
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})

    return ReportFetcher(allowed_protocols=("data",))


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """The PDF of an HTML document. `base_url` is for tests and callers with their own static
    address scheme; links still go through the same refusing fetcher."""
    # Imported here: WeasyPrint loads pango at import, which pages that make no PDF need not pay.
    from weasyprint import HTML

    return HTML(string=html, base_url=base_url or BASE_URL, url_fetcher=_fetcher()).write_pdf()


def render_template_pdf(template_name: str, context: dict | None = None) -> bytes:
    return render_pdf(render_to_string(template_name, context or {}))
