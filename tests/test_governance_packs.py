"""The board quality pack's lifecycle (andon/governance/packs.py): drafted from the sections,
narratives written (bounded, version-checked), approved by the CQO (PDF stored with its digest),
published to the board (notified), versions kept, what changed since last month, the schedule's
fifth working day, and the pages and API under the policy."""

import hashlib
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.governance import packs
from andon.governance.models import PackStatus, PackVersion
from andon.measures import services as measures
from andon.measures.models import Measure
from andon.platform import concurrency, content
from andon.platform.models import Notification
from andon.platform.roles import Role

LIBRARY = Path(__file__).resolve().parent.parent / "content" / "measures"
MAY, JUNE = date(2026, 5, 1), date(2026, 6, 1)


@pytest.fixture
def world(hospital, make_user, tmp_path, settings):
    """Hand hygiene counted on one ward for March to June; the CQO, an analyst and a board member."""
    folder = tmp_path / "measures"
    folder.mkdir()
    shutil.copy(LIBRARY / "hand-hygiene.yaml", folder)
    content.load_content([folder])
    settings.ANDON_BOARD_KEY_MEASURES = ["hand-hygiene"]
    lead = make_user(Role.QUALITY_ANALYST)
    ward = hospital.unit("rgh/4w")
    counts = [(ward, date(2026, 3, 1), 16, 20), (ward, date(2026, 4, 1), 17, 20), (ward, MAY, 15, 20),
              (ward, JUNE, 19, 20)]
    measures.enter_counts_from(lead, Measure.objects.get(key="hand-hygiene"), counts, source="Pack test")
    hospital.cqo, hospital.analyst = make_user(Role.CQO), lead
    hospital.board = make_user(Role.BOARD_MEMBER)
    return hospital


def _draft(world, month=JUNE, user=None):
    return packs.draft(user or world.cqo, world.organisation, month, today=date(2026, 7, 8))


def test_a_draft_holds_the_sections_in_order_with_their_figures(world):
    version = _draft(world)
    keys = [s["key"] for s in version.sections]
    assert keys[:3] == ["measures.glance", "measure:hand-hygiene", "measures.equity"]
    glance = version.sections[0]
    assert glance["figures"]["Hand-hygiene compliance"] == pytest.approx(95.0)
    assert "Assurance: " in glance["html"] and "Common cause variation" in glance["html"]
    assert (version.number, version.status, version.drafted_by) == (1, PackStatus.DRAFT, world.cqo)
    with pytest.raises(ValidationError, match="has not begun"):
        packs.draft(world.cqo, world.organisation, date(2026, 8, 1), today=date(2026, 7, 8))
    with pytest.raises(PermissionDenied):
        _draft(world, user=world.board)


def test_narratives_are_bounded_checked_and_kept_per_section(world):
    version = _draft(world)
    packs.write_narrative(world.analyst, version, "measure:hand-hygiene", "  Compliance rose to 95%.  ", 1)
    assert version.narratives == {"measure:hand-hygiene": "Compliance rose to 95%."} and version.version == 2
    with pytest.raises(concurrency.Stale):  # a second editor still holding version 1
        packs.write_narrative(world.cqo, version, "measures.glance", "Overview.", 1)
    with pytest.raises(ValidationError, match="At most 4000 characters"):
        packs.write_narrative(world.cqo, version, "measures.glance", "x" * 4001, 2)
    with pytest.raises(ValidationError, match="no section 'risk.top'"):
        packs.write_narrative(world.cqo, version, "risk.top", "Risks.", 2)
    with pytest.raises(PermissionDenied):
        packs.write_narrative(world.board, version, "measures.glance", "Board words.")
    packs.write_narrative(world.cqo, version, "measures.glance", "Overview.", 2)
    version.refresh_from_db()
    assert version.narratives == {"measure:hand-hygiene": "Compliance rose to 95%.", "measures.glance": "Overview."}


def test_approval_stores_the_pdf_publication_tells_the_board_and_downloads_are_audited(world):
    version = _draft(world)
    with pytest.raises(PermissionDenied):
        packs.approve(world.analyst, version)
    with pytest.raises(ValidationError, match="only an approved version is published"):
        packs.publish(world.cqo, version)
    # The board sees no draft.
    with pytest.raises(PermissionDenied):
        packs.access_version(world.board, version.pk)
    assert not packs.visible_versions(world.board, world.organisation).exists()
    packs.approve(world.cqo, version)
    stored = Path(django_settings.DATA_DIR) / "governance" / version.pdf_file
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == version.pdf_sha256
    assert stored.read_bytes().startswith(b"%PDF")
    with pytest.raises(ValidationError, match="only a draft's narratives are written"):
        packs.write_narrative(world.cqo, version, "measures.glance", "Too late.")
    packs.publish(world.cqo, version)
    told = Notification.objects.get(recipient=world.board)
    assert told.url == reverse("governance:pack_version", args=[version.pk]) and "June 2026" in told.title
    assert packs.access_version(world.board, version.pk) == version
    assert packs.pdf_for(world.board, version) == stored.read_bytes()
    read = LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk=str(version.pk), actor=world.board)
    assert read.additional_data == {"reason": "download board pack PDF"}
    stored.write_bytes(b"%PDF changed")  # a file changed after approval is refused, not served
    with pytest.raises(ValidationError, match="does not match its digest"):
        packs.pdf_for(world.board, version)


def test_redrafting_makes_the_next_version_and_keeps_the_published_one(world):
    first = _draft(world)
    packs.write_narrative(world.cqo, first, "measures.glance", "Overview.")
    packs.publish(world.cqo, packs.approve(world.cqo, first))
    second = _draft(world)
    third = _draft(world)
    states = dict(PackVersion.objects.values_list("number", "status"))
    assert states == {1: PackStatus.PUBLISHED, 2: PackStatus.REPLACED, 3: PackStatus.DRAFT}
    assert (second.number, third.number) == (2, 3)
    assert third.narratives == {"measures.glance": "Overview."}  # carried over for the same sections


def test_what_changed_since_last_month_is_shown_on_the_page_and_in_the_api(world, client, sign_in_with_mfa):
    may = _draft(world, MAY)
    packs.publish(world.cqo, packs.approve(world.cqo, may))
    june = _draft(world)
    assert packs.previous_version(june) == may
    glance = packs.packs_render.changes(june, may)["measures.glance"]
    assert [(c.label, c.direction, c.before, c.now) for c in glance] == [
        ("Hand-hygiene compliance", "up", pytest.approx(75.0), pytest.approx(95.0))]
    key_changes = packs.packs_render.changes(june, may)["measure:hand-hygiene"]
    mean = next(c for c in key_changes if c.label == "Hand-hygiene compliance mean")
    assert mean.direction == "up" and mean.now > mean.before
    sign_in_with_mfa(world.cqo)
    page = client.get(reverse("governance:pack_version", args=[june.pk])).content.decode()
    assert "Changed since May 2026" in page and "Hand-hygiene compliance mean</strong>: up" in page
    assert 'name="narrative"' in page and "Approve the pack" in page
    body = client.get(f"/api/v1/governance/packs/{june.pk}").json()
    assert body["compared_with_id"] == may.pk
    assert {"label": "Hand-hygiene compliance mean", "direction": "up"}.items() <= next(
        c for s in body["sections"] for c in s["changes"] if c["label"] == "Hand-hygiene compliance mean").items()


def test_pages_and_api_write_narratives_approve_and_refuse_a_stale_version(world, client, sign_in_with_mfa):
    version = _draft(world)
    sign_in_with_mfa(world.cqo)
    url = reverse("governance:pack_narrative", args=[version.pk])
    answer = client.post(url, {"version": 1, "key": "measures.glance", "narrative": "Hand hygiene improved."})
    assert answer.status_code == 302
    stale = client.post(url, {"version": 1, "key": "measures.glance", "narrative": "Overwrite."})
    assert stale.status_code == 409 and "since you opened it" in stale.content.decode()
    api = client.post(f"/api/v1/governance/packs/{version.pk}/narratives", {"key": "measures.glance",
                      "narrative": "Again.", "version": 1}, content_type="application/json")
    assert api.status_code == 409
    assert client.post(reverse("governance:pack_approve", args=[version.pk]), {"version": 2}).status_code == 302
    version.refresh_from_db()
    assert version.status == PackStatus.APPROVED and version.narratives["measures.glance"] == "Hand hygiene improved."
    client.force_login(world.board)
    assert client.get(reverse("governance:pack_version", args=[version.pk])).status_code == 403
    assert f'data-pack-version="{version.pk}"' not in client.get(reverse("governance:packs")).content.decode()


def test_a_section_that_could_not_be_made_is_named_on_the_page(world, client, sign_in_with_mfa):
    version = _draft(world)
    PackVersion.objects.filter(pk=version.pk).update(problems=["Top risks: could not be made (KeyError)."])
    sign_in_with_mfa(world.cqo)
    page = client.get(reverse("governance:pack_version", args=[version.pk])).content.decode()
    assert "Sections that could not be made" in page and "Top risks: could not be made (KeyError)." in page


def test_the_schedule_drafts_last_month_on_the_fifth_working_day_only_once(world, settings):
    settings.ANDON_HOLIDAYS = ["2026-07-03"]  # a Friday off: the fifth working day moves to Wednesday 8th
    assert packs.fifth_working_day(date(2026, 7, 1)) == date(2026, 7, 8)
    zone = timezone.get_current_timezone()
    assert packs.scheduled_draft(datetime(2026, 7, 7, 6, tzinfo=zone))["drafted"] == []
    done = packs.scheduled_draft(datetime(2026, 7, 8, 6, tzinfo=zone))
    assert done["month"] == "2026-06-01" and len(done["drafted"]) == 1
    version = PackVersion.objects.get(pk=done["drafted"][0])
    assert version.drafted_by is None and version.pack.month == JUNE
    assert packs.scheduled_draft(datetime(2026, 7, 8, 6, tzinfo=zone))["drafted"] == []  # a second run


def test_the_draft_button_runs_the_job_that_drafts_the_month(world, client, sign_in_with_mfa, settings):
    from andon.platform.models import Job

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}  # runs at once
    sign_in_with_mfa(world.analyst)
    answer = client.post(reverse("governance:pack_draft"), {"month": "2026-06"})
    job = Job.objects.get(pk=answer.url.rstrip("/").split("/")[-1])
    version = PackVersion.objects.get(pk=job.result["pack_version_id"])
    assert (job.status, version.pack.month, version.drafted_by, version.number) == (
        Job.Status.SUCCEEDED, JUNE, world.analyst, 1)
    refused = client.post(reverse("governance:pack_draft"), {"month": "June"})
    assert refused.status_code == 400 and "is not a month as YYYY-MM" in refused.content.decode()


def test_the_equity_section_shows_the_largest_gap_from_the_equity_views_cells(world):
    """Cells by race for June (as a computation stores them): the gap between the highest and the
    lowest group with enough cases; a group under ANDON_SMALL_CELL_THRESHOLD is left out."""
    from andon.measures import results
    from andon.measures.models import MeasureResult

    hygiene = Measure.objects.get(key="hand-hygiene")
    for value, numerator, denominator in (("White", 45, 50), ("Black", 30, 40), ("Asian", 2, 5)):
        MeasureResult.objects.create(measure=hygiene, definition_version=hygiene.version, data_load="test",
                                     period_kind="month", period_start=JUNE, period_end=date(2026, 7, 1),
                                     stratum="race", stratum_value=value, numerator=numerator,
                                     denominator=denominator, value=numerator / denominator * 100)
    version = _draft(world)
    equity = next(s for s in version.sections if s["key"] == "measures.equity")
    assert equity["figures"] == {"Hand-hygiene compliance gap by race": pytest.approx(90 - 75)}
    assert "White: 90" in equity["html"] and "Black: 75" in equity["html"] and "Asian" not in equity["html"]
    rows, _window = results.compare(hygiene, stratum="race", window=(JUNE, JUNE))  # the equity page's reading
    assert {r.label: r.value for r in rows} == {"Asian": pytest.approx(40), "Black": pytest.approx(75),
                                                "White": pytest.approx(90)}
