"""The medical staff module over the REST API (/api/v1/medstaff/), under the same policy and
services as the pages; one router per subject, assembled here."""

from ninja import Router

from . import oppe

router = Router(tags=["medstaff"])
for subject in (oppe,):
    router.add_router("", subject.router)
