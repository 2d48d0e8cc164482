"""Compliance over the REST API (/api/v1/compliance/), under the same policy and services as the
pages; one router per subject, assembled here."""

from ninja import Router

from . import assessments, evidence, frameworks, policies, tracers

router = Router(tags=["compliance"])
for subject in (frameworks, assessments, evidence, policies, tracers):
    router.add_router("", subject.router)
