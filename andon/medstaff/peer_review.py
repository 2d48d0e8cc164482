"""Peer review: cases referred from a safety event, from trigger rules over the clinical data or by
hand; reviewers without a conflict of interest; a structured review on a configurable scale; the
committee's decision and the feedback letter. Confidential: docs/medstaff.md, "Peer review"."""

from andon.platform import audit

from .models import PeerReviewCase

__all__ = []


def connect() -> None:
    """Registries of peer review (audit), from ready()."""
    # The summary is confidential: the trail records that it changed, not what it says.
    audit.register(PeerReviewCase, exclude_fields=["version"], mask_fields=["summary"])
