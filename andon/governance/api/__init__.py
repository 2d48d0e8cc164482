"""The governance module over the REST API (/api/v1/governance/), under the same policy and
services as the pages; one router per subject, assembled here."""

from ninja import Router

from . import committees, meetings, packs

router = Router(tags=["governance"])
for subject in (committees, meetings, packs):
    router.add_router("", subject.router)
