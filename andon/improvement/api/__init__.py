"""Improvement over the REST API (/api/v1/improvement/), under the same policy and services as the
pages; one router per subject, assembled here."""

from ninja import Router

from . import audits, projects

router = Router(tags=["improvement"])
for subject in (projects, audits):
    router.add_router("", subject.router)
