"""The demo hospital's evidence: a document with two revisions, a link, a measure and one piece
that has expired, linked to CMS Conditions of Participation requirements where that framework is
loaded (links only ever name requirements that exist)."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from andon.platform.models import Organisation, Unit, User

from .models import Evidence, Requirement

COP = "urn:andon:framework:cms-cop-482"
QAPI_SCOPE, QAPI_DATA, QAPI_ACTIVITIES = f"{COP}:482.21(a)", f"{COP}:482.21(b)", f"{COP}:482.21(c)"
INFECTION = f"{COP}:482.42(a)"  # a standard: a condition is no assessment item, so its evidence showed on none


def small_pdf(lines: list[str]) -> bytes:
    """A one-page PDF of a few lines of text, written by hand (fast: no layout engine needed for
    made-up records), with a correct cross-reference table."""
    text = " ".join(f"({_escaped(line)}) Tj 0 -18 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 740 Td {text} ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _escaped(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf(name: str, lines: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, small_pdf(lines), "application/pdf")


def load_demo_evidence() -> None:
    from . import evidence as service

    organisation = Organisation.objects.order_by("pk").first()
    specialist = User.objects.filter(username="compliance.lee").first()
    if organisation is None or specialist is None or Evidence.objects.filter(organisation=organisation).exists():
        return  # no demo hospital, or its evidence is there already
    analyst = User.objects.filter(username="analyst.jo").first() or specialist
    manager = User.objects.filter(username="mgr.fatima").first() or specialist
    medicine = Unit.objects.filter(facility__organisation=organisation, facility__code="rgh", code="medicine").first()
    today = timezone.localdate()

    plan = service.add_evidence(
        specialist, kind="document", title="QAPI programme plan 2026", owner=specialist, organisation=organisation,
        description="The governing body's approved plan: scope, priorities, indicators and projects for the year.",
        review_on=today + timedelta(days=300),
        upload=_pdf("qapi-plan-2026-draft.pdf", ["Riverside Health System", "QAPI programme plan 2026 (draft)"]),
        note="Draft for the quality committee")
    service.add_revision(specialist, plan, _pdf("qapi-plan-2026.pdf", [
        "Riverside Health System", "QAPI programme plan 2026", "Approved by the board on 2026-01-20"]),
        "Approved by the board")
    minutes = service.add_evidence(
        specialist, kind="link", title="Quality committee minutes (intranet)", owner=specialist,
        organisation=organisation, url="https://intranet.riverside.example/quality/committee/minutes",
        description="Where the committee's minutes are published each month.", review_on=today + timedelta(days=20))
    falls = service.add_evidence(
        analyst, kind="measure", title="Falls per 1,000 patient days", owner=analyst, organisation=organisation,
        measure_key="falls",
        description="Tracked monthly on an SPC chart as a quality indicator of adverse events.",
        review_on=today + timedelta(days=90)) if _has_measure("falls") else None
    audit = service.add_evidence(
        manager if medicine else specialist, kind="document", title="Hand hygiene audit, last quarter",
        owner=manager if medicine else specialist, organisation=organisation, unit=medicine,
        review_on=today - timedelta(days=10),
        upload=_pdf("hand-hygiene-audit.pdf", ["Hand hygiene observation audit", "Medicine service line"]))
    _link(specialist, plan, [QAPI_SCOPE, QAPI_ACTIVITIES])
    _link(specialist, minutes, [QAPI_DATA])
    if falls is not None:
        _link(specialist, falls, [QAPI_SCOPE, QAPI_DATA])
    _link(specialist, audit, [INFECTION])


def _has_measure(key: str) -> bool:
    from andon.measures import services as measures

    return measures.latest_verdict(key) is not None


def _link(user, evidence, urns: list[str]) -> None:
    from . import evidence as service

    present = list(Requirement.objects.filter(urn__in=urns).values_list("urn", flat=True).distinct())
    if present:
        service.link(user, evidence, present)
