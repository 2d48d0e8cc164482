"""Risk over the REST API (/api/v1/risk/), under the same policy and services as the pages; one
router per subject, assembled here."""

from ninja import Router

from . import exchange, fmea, register, risks

router = Router(tags=["risk"])
for subject in (register, risks, fmea, exchange):
    router.add_router("", subject.router)
