"""The medical staff module over the REST API (/api/v1/medstaff/), under the same policy and
services as the pages; one router per subject, assembled here."""

from ninja import Router

from . import training

router = Router(tags=["medstaff"])
for subject in (training,):
    router.add_router("", subject.router)
