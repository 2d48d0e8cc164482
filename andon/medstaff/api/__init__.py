"""The medical staff module over the REST API (/api/v1/medstaff/), under the same policy and
services as the pages; one router per subject, assembled here."""

from ninja import Router

from . import fppe, oppe, peer_review, practitioners, privileges, training

router = Router(tags=["medstaff"])
for subject in (practitioners, privileges, fppe, oppe, peer_review, training):
    router.add_router("", subject.router)
