"""The patient voice module over the REST API (/api/v1/voice/), under the same policy and
services as the pages; one router per subject, assembled here."""

from ninja import Router

from . import comments, committee, grievances, letters, surveys

router = Router(tags=["voice"])
for subject in (surveys, comments, grievances, letters, committee):
    router.add_router("", subject.router)
