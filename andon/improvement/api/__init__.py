"""Improvement over the REST API (/api/v1/improvement/), under the same policy and services as the
pages; one router per subject, assembled here."""

from ninja import Router

from . import audit_results, audits, projects

router = Router(tags=["improvement"])
for subject in (projects, audits, audit_results):
    router.add_router("", subject.router)
