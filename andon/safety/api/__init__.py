"""Safety events over the REST API, under the same policy and services as the pages.

Reporting through the API is always named (a token identifies its owner); anonymous reports
are made through the pages, and anonymous follow-up uses the receipt page. Drafts, attachments
and the SVG pictures (fishbone, Pareto) also stay page-only: the JSON carries the same findings
and counts, and an import with problems is accepted by sending the file again with
`accept_valid` rather than through the page's kept copy.

The reporter reads their own reports under /my-reports (feedback without the analysis, as on
the My reports page). Opening an event, its root cause analysis or one's own report, and each
conduct concern listed, are checked and audited as on the pages; /analysis returns aggregates
only (board members read it), and /export is the page's de-identified CSV.
"""

from ninja import Router

from . import analysis, conduct, events, exchange, investigation

# One router for /api/v1/safety, assembled here; each subject's handlers are on its own router,
# which imports only the shared pieces (never this file), so there is no import circle. Subject
# routers keep the operation ids published when the API was one file (api_kit.NamedRouter).
router = Router(tags=["safety"])
for subject in (events, conduct, analysis, exchange, investigation):
    router.add_router("", subject.router)
