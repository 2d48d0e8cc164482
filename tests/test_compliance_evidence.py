"""Compliance evidence: each kind's rules, revisions, links through mappings, states on given
dates, requirement status in one query, the expiry sweep, downloads, permissions, pages and API."""

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from andon.compliance import evidence as service
from andon.compliance import services as compliance_services
from andon.compliance.demo_evidence import small_pdf
from andon.compliance.models import (
    Evidence, EvidenceLink, EvidenceRevision, Framework, FrameworkVersion, Policy, PolicyVersion, Requirement,
    RequirementMapping,
)
from andon.measures.models import Measure
from andon.platform.models import AccessToken, Notification
from andon.platform.roles import Role
from andon.platform.services import work_for

TODAY = date(2026, 6, 15)
COP = "urn:andon:framework:cms-cop-482"
OWN = "urn:andon:framework:riverside-standards"


def pdf(name="plan.pdf", text="QAPI plan"):
    return SimpleUploadedFile(name, small_pdf([text]), "application/pdf")


def framework(urn, requirements, name=None):
    """A framework version with requirements (urn suffix -> title), made with the ORM."""
    fw = Framework.objects.create(urn=urn, name=name or urn.rsplit(":", 1)[-1], kind="regulation")
    version = FrameworkVersion.objects.create(framework=fw, version="1", is_current=True)
    return {suffix: Requirement.objects.create(version=version, urn=f"{urn}:{suffix}", title=title, position=i,
                                               citation=suffix)
            for i, (suffix, title) in enumerate(requirements.items())}


@pytest.fixture
def world(hospital, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"

    class World:
        specialist = make_user(Role.COMPLIANCE_SPECIALIST, "", username="lee", first_name="Lee", last_name="Chen")
        manager = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="fatima")
        lakeside = make_user(Role.UNIT_MANAGER, "lch/medicine", username="george")
        risk = make_user(Role.RISK_MANAGER, "", username="noah")  # sees compliance, manages no evidence
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="ana")
        organisation = hospital.organisation
        medicine = hospital.unit("rgh/medicine")
        ward = hospital.unit("rgh/4w")
        lch = hospital.unit("lch/medicine")
        cop = framework(COP, {"482.21(a)": "QAPI scope", "482.21(b)": "QAPI data", "482.42": "Infection control"})
        own = framework(OWN, {"QS-1": "Quality standard 1", "QS-2": "Quality standard 2"}, "Riverside standards")

    return World


def add(world, user=None, **fields):
    values = dict(kind="link", title="Committee minutes", owner=world.specialist, organisation=world.organisation,
                  unit=None, review_on=TODAY + timedelta(days=200), url="https://intranet.example/minutes")
    values.update(fields)
    return service.add_evidence(user or world.specialist, **values)


# --- each kind's rules ----------------------------------------------------------------------------

def test_a_document_needs_a_file_and_keeps_it_as_revision_1(world):
    with pytest.raises(ValidationError) as refusal:
        add(world, kind="document", url=None)
    assert "upload" in refusal.value.message_dict
    assert Evidence.objects.count() == 0
    piece = add(world, kind="document", url=None, upload=pdf(), note="Draft")
    revision = piece.revisions.get()
    assert (revision.number, revision.name, revision.content_type, revision.note) == (1, "plan.pdf", "application/pdf",
                                                                                      "Draft")
    import hashlib

    content = small_pdf(["QAPI plan"])
    assert revision.size == len(content) and revision.sha256 == hashlib.sha256(content).hexdigest()
    assert revision.file.read() == content


@pytest.mark.parametrize("url", ["intranet/minutes", "javascript:alert(1)", "ftp://files.example/x", "https://",
                                 "https://exa mple.org"])
def test_a_link_needs_a_web_address(world, url):
    with pytest.raises(ValidationError) as refusal:
        add(world, url=url)
    assert "not a web address" in refusal.value.message_dict["url"][0] or "address" in refusal.value.message_dict["url"][0]
    assert Evidence.objects.count() == 0


def test_a_measure_must_be_in_the_library(world):
    with pytest.raises(ValidationError) as refusal:
        add(world, kind="measure", measure_key="no-such-measure", url=None)
    assert refusal.value.message_dict["measure_key"] == ["'no-such-measure' is not a measure of the library."]
    Measure.objects.create(key="falls", version="1", title="Falls per 1,000 patient days", domain="safe",
                           improvement="decrease", scoring="rate", unit_label="per 1,000 patient days", multiplier=1000,
                           source_kind="manual", definition={})
    piece = add(world, kind="measure", measure_key="falls", url=None)
    assert piece.measure_key == "falls" and piece.url == ""


def test_a_policy_needs_a_policy_and_takes_its_review_date(world):
    with pytest.raises(ValidationError) as refusal:
        add(world, kind="policy", url=None)
    assert "policy" in refusal.value.message_dict
    policy = Policy.objects.create(organisation=world.organisation, code="PC-104", title="Falls prevention",
                                   owner=world.specialist, next_review_on=TODAY + timedelta(days=400))
    piece = add(world, kind="policy", url=None, policy=policy, review_on=None)
    assert piece.policy == policy and piece.review_on == TODAY + timedelta(days=400)


def test_audit_results_are_refused_for_now(world):
    with pytest.raises(ValidationError) as refusal:
        add(world, kind="audit", url=None)
    assert "clinical audit module" in refusal.value.message_dict["kind"][0]


def test_a_fake_pdf_is_refused_by_its_first_bytes(world):
    fake = SimpleUploadedFile("plan.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    with pytest.raises(ValidationError) as refusal:
        add(world, kind="document", url=None, upload=fake)
    assert refusal.value.message_dict["upload"] == ["plan.pdf does not hold what its name says (PDF)."]
    assert (Evidence.objects.count(), EvidenceRevision.objects.count()) == (0, 0)


def test_an_oversized_file_is_refused(world, settings):
    settings.ANDON_ATTACHMENT_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 1), "application/pdf")
    with pytest.raises(ValidationError) as refusal:
        add(world, kind="document", url=None, upload=big)
    assert refusal.value.message_dict["upload"] == ["big.pdf is larger than 1 MB."]
    assert Evidence.objects.count() == 0


# --- revisions and links --------------------------------------------------------------------------

def test_revisions_are_numbered_on_and_renew_the_review_date(world):
    piece = add(world, kind="document", url=None, upload=pdf(), review_on=TODAY - timedelta(days=1))
    Evidence.objects.filter(pk=piece.pk).update(expiry_notified_on=TODAY)
    piece.refresh_from_db()
    second = service.add_revision(world.specialist, piece, pdf("plan-v2.pdf", "v2"), "Approved", piece.version,
                                  review_on=TODAY + timedelta(days=365))
    third = service.add_revision(world.specialist, piece, pdf("plan-v3.pdf", "v3"), "Typo")
    assert [r.number for r in piece.revisions.order_by("number")] == [1, 2, 3]
    assert (second.name, third.name) == ("plan-v2.pdf", "plan-v3.pdf")
    piece.refresh_from_db()
    assert piece.review_on == TODAY + timedelta(days=365) and piece.expiry_notified_on is None


def test_a_link_has_no_revisions(world):
    piece = add(world)
    with pytest.raises(ValidationError):
        service.add_revision(world.specialist, piece, pdf(), "")


def test_one_piece_serves_many_requirements_and_one_requirement_many_pieces(world):
    minutes, plan = add(world), add(world, title="QAPI plan", url="https://intranet.example/plan")
    made = service.link(world.specialist, minutes, [f"{COP}:482.21(a)", f"{COP}:482.21(b)"])
    assert len(made) == 2
    service.link(world.specialist, plan, [f"{COP}:482.21(a)"])
    assert service.link(world.specialist, minutes, [f"{COP}:482.21(a)"]) == []  # already linked
    assert [e.evidence.title for e in service.evidence_for(f"{COP}:482.21(a)")] == ["Committee minutes", "QAPI plan"]
    assert sorted(minutes.links.values_list("requirement_urn", flat=True)) == [f"{COP}:482.21(a)", f"{COP}:482.21(b)"]
    assert service.unlink(world.specialist, minutes, [f"{COP}:482.21(a)"]) == 1
    assert [e.evidence.title for e in service.evidence_for(f"{COP}:482.21(a)")] == ["QAPI plan"]
    assert LogEntry.objects.filter(content_type__model="evidencelink", action=LogEntry.Action.DELETE).count() == 1


def test_a_urn_must_exist_in_a_loaded_framework(world):
    piece = add(world)
    with pytest.raises(ValidationError) as refusal:
        service.link(world.specialist, piece, [f"{COP}:482.21(a)", f"{COP}:999.99"])
    assert refusal.value.message_dict["requirement_urns"] == [
        f"No loaded framework has the requirement '{COP}:999.99'."]
    assert EvidenceLink.objects.count() == 0  # nothing half-stored


def test_mapped_evidence_shows_against_the_target_and_not_back_for_subset(world):
    RequirementMapping.objects.create(source_urn=f"{OWN}:QS-1", target_urn=f"{COP}:482.21(a)", relation="subset")
    own = add(world, title="Our own standard's audit")
    service.link(world.specialist, own, [f"{OWN}:QS-1"])
    cop = add(world, title="CoP evidence", url="https://intranet.example/cop")
    service.link(world.specialist, cop, [f"{COP}:482.21(a)"])
    against_cop = service.evidence_for(f"{COP}:482.21(a)")
    assert [(e.evidence.title, e.through_urn, e.through_relation) for e in against_cop] == [
        ("CoP evidence", "", ""), ("Our own standard's audit", f"{OWN}:QS-1", "Covers part of")]
    assert [e.evidence.title for e in service.evidence_for(f"{OWN}:QS-1")] == ["Our own standard's audit"]
    assert service.requirement_status([f"{OWN}:QS-1", f"{COP}:482.21(a)"], TODAY) == {
        f"{OWN}:QS-1": "green", f"{COP}:482.21(a)": "green"}


def test_an_equal_mapping_works_both_ways(world):
    RequirementMapping.objects.create(source_urn=f"{OWN}:QS-2", target_urn=f"{COP}:482.21(b)", relation="equal")
    cop = add(world, title="CoP data evidence", review_on=TODAY - timedelta(days=1))
    service.link(world.specialist, cop, [f"{COP}:482.21(b)"])
    assert [e.through_urn for e in service.evidence_for(f"{OWN}:QS-2", today=TODAY)] == [f"{COP}:482.21(b)"]
    assert service.requirement_status([f"{OWN}:QS-2"], TODAY) == {f"{OWN}:QS-2": "amber"}


# --- states and status ----------------------------------------------------------------------------

def test_states_on_given_dates(world, settings):
    settings.ANDON_COMPLIANCE_EVIDENCE_DUE_SOON_DAYS = 30
    piece = add(world, review_on=date(2026, 7, 15))
    assert service.evidence_state(piece, date(2026, 6, 14)) == "current"  # 31 days ahead
    assert service.evidence_state(piece, date(2026, 6, 15)) == "due_soon"  # 30 days ahead
    assert service.evidence_state(piece, date(2026, 7, 15)) == "due_soon"  # the review day itself
    assert service.evidence_state(piece, date(2026, 7, 16)) == "expired"
    settings.ANDON_COMPLIANCE_EVIDENCE_DUE_SOON_DAYS = 10
    assert service.evidence_state(piece, date(2026, 6, 15)) == "current"
    for state, today in (("current", date(2026, 6, 1)), ("expired", date(2026, 8, 1))):
        assert list(Evidence.objects.filter(service.state_filter(state, today))) == [piece]
    service.retire_evidence(world.specialist, piece)
    assert service.evidence_state(piece, date(2026, 6, 1)) == "retired"
    assert list(Evidence.objects.filter(service.state_filter("retired"))) == [piece]


def test_requirement_status_for_many_urns_in_one_query(world, django_assert_num_queries):
    a, b, c, infection = (f"{COP}:482.21(a)", f"{COP}:482.21(b)", f"{OWN}:QS-1", f"{COP}:482.42")
    current = add(world, title="Current", review_on=TODAY + timedelta(days=100))
    expired = add(world, title="Expired", review_on=TODAY - timedelta(days=1))
    retired = add(world, title="Retired", review_on=TODAY - timedelta(days=1))
    service.link(world.specialist, current, [a, b])
    service.link(world.specialist, expired, [b])
    service.link(world.specialist, retired, [infection, a])
    service.retire_evidence(world.specialist, retired)
    RequirementMapping.objects.create(source_urn=b, target_urn=c, relation="subset")
    with django_assert_num_queries(1):
        status = service.requirement_status([a, b, c, infection], TODAY)
    # b has an expired piece beside a current one: amber; c sees b's through the mapping; the
    # retired piece counts for nothing.
    assert status == {a: "green", b: "amber", c: "amber", infection: "none"}


# --- expiry ---------------------------------------------------------------------------------------

def test_the_sweep_emails_the_owner_once_and_again_after_renewal(world, mailoutbox,
                                                                 django_capture_on_commit_callbacks):
    piece = add(world, review_on=TODAY - timedelta(days=1), owner=world.manager, unit=world.medicine,
                title="Ward audit")
    add(world, title="Still current", review_on=TODAY + timedelta(days=60))
    with django_capture_on_commit_callbacks(execute=True):
        assert compliance_services.run_sweeps(TODAY)["expired evidence"] == 1
        assert compliance_services.run_sweeps(TODAY)["expired evidence"] == 0
        assert compliance_services.run_sweeps(TODAY + timedelta(days=1))["expired evidence"] == 0
    told = [message for message in mailoutbox if message.to == [world.manager.email]]
    assert [message.subject for message in told] == ["[Andon] Evidence expired: Ward audit"]
    assert reverse("compliance:evidence_detail", args=[piece.pk]) in told[0].body
    # E-mail only: the owner's home page has its own "Evidence expired" line.
    assert not Notification.objects.filter(recipient=world.manager).exists()
    piece.refresh_from_db()
    service.update_evidence(world.specialist, piece, piece.version, review_on=TODAY + timedelta(days=10))
    assert piece.expiry_notified_on is None
    with django_capture_on_commit_callbacks(execute=True):
        assert compliance_services.run_sweeps(TODAY + timedelta(days=11))["expired evidence"] == 1
    assert [message.to for message in mailoutbox].count([world.manager.email]) == 2


def test_the_owner_of_expired_evidence_has_it_once_on_the_home_page(world):
    from django.utils import timezone

    today = timezone.localdate()
    add(world, title="Ward audit", owner=world.manager, unit=world.medicine, review_on=today - timedelta(days=1))
    assert service.notify_expired(today) == 1
    assert [item.title for item in work_for(world.manager) if "Ward audit" in item.title] == [
        "Evidence expired: Ward audit"]


def test_the_owners_home_lists_expired_and_soon_due_evidence(world, settings):
    settings.ANDON_COMPLIANCE_EVIDENCE_DUE_SOON_DAYS = 30
    from django.utils import timezone

    today = timezone.localdate()
    add(world, title="Old audit", owner=world.manager, unit=world.medicine, review_on=today - timedelta(days=3))
    add(world, title="Soon", owner=world.manager, unit=world.medicine, review_on=today + timedelta(days=5))
    add(world, title="Far", owner=world.manager, unit=world.medicine, review_on=today + timedelta(days=300))
    lines = [(item.title, item.kind) for item in work_for(world.manager) if "Evidence" in item.title]
    assert lines == [("Evidence expired: Old audit", "alert"),
                     (f"Evidence due for review {today + timedelta(days=5):%Y-%m-%d}: Soon", "review")]


# --- permissions ----------------------------------------------------------------------------------

def test_the_owner_may_edit_their_own_evidence(world):
    piece = add(world, owner=world.risk)  # a risk manager sees compliance but manages no evidence
    updated = service.update_evidence(world.risk, piece, piece.version, title="Minutes, renamed")
    assert updated.title == "Minutes, renamed"
    other = add(world, owner=world.specialist)
    with pytest.raises(PermissionDenied):
        service.update_evidence(world.risk, other, other.version, title="Not mine")


def test_a_unit_manager_cannot_touch_another_units_evidence(world):
    lakeside = add(world, owner=world.lakeside, unit=world.lch, user=world.specialist)
    with pytest.raises(PermissionDenied):
        service.update_evidence(world.manager, lakeside, lakeside.version, title="Hijacked")
    with pytest.raises(PermissionDenied):
        service.retire_evidence(world.manager, lakeside)
    with pytest.raises(PermissionDenied):
        service.link(world.manager, lakeside, [f"{COP}:482.42"])
    with pytest.raises(PermissionDenied):
        add(world, user=world.manager, owner=world.manager, unit=world.lch)
    with pytest.raises(PermissionDenied):
        service.access_evidence(world.manager, lakeside.pk)
    assert lakeside not in service.visible_evidence(world.manager)
    own = add(world, user=world.manager, owner=world.manager, unit=world.ward)
    assert list(service.visible_evidence(world.manager)) == [own]


def test_the_owner_must_see_the_evidence(world):
    with pytest.raises(ValidationError) as refusal:
        add(world, owner=world.nurse)
    assert "cannot see compliance records" in refusal.value.message_dict["owner"][0]


def test_a_stale_version_is_refused(world):
    piece = add(world)
    seen = piece.version
    service.update_evidence(world.specialist, piece, seen, title="First")
    with pytest.raises(ValidationError) as refusal:
        service.update_evidence(world.specialist, piece, seen, title="Second")
    assert refusal.value.code == "stale"


# --- pages ----------------------------------------------------------------------------------------

def test_download_is_audited_and_served_as_an_attachment(world, client):
    piece = add(world, kind="document", url=None, upload=pdf())
    client.force_login(world.manager)  # sees organisation-wide evidence? no: a unit grant
    url = reverse("compliance:evidence_download", args=[piece.pk, 1])
    assert client.get(url).status_code == 403
    client.force_login(world.specialist)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="plan.pdf"'
    assert b"".join(response.streaming_content) == small_pdf(["QAPI plan"])
    read = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, content_type__model="evidencerevision")
    assert [(e.actor, e.object_pk) for e in read] == [(world.specialist, str(piece.revisions.get().pk))]
    assert client.get(reverse("compliance:evidence_download", args=[piece.pk, 9])).status_code == 404


def test_library_filters_and_escapes(world, client):
    add(world, title="<script>alert(1)</script> minutes")
    add(world, title="Expired audit", review_on=TODAY - timedelta(days=400))
    client.force_login(world.specialist)
    page = client.get(reverse("compliance:evidence_list"))
    assert page.status_code == 200
    assert b"<script>alert(1)" not in page.content and b"&lt;script&gt;" in page.content
    expired = client.get(reverse("compliance:evidence_list"), {"state": "expired"}).content.decode()
    assert "Expired audit" in expired and "minutes" not in expired


def test_add_a_document_through_the_page_and_link_it_to_a_requirement(world, client):
    requirement = world.cop["482.21(a)"]
    client.force_login(world.specialist)
    form = client.get(reverse("compliance:evidence_new"), {"kind": "document", "requirement": requirement.pk})
    assert form.status_code == 200 and b'name="upload"' in form.content and b'name="url"' not in form.content
    response = client.post(reverse("compliance:evidence_new") + f"?requirement={requirement.pk}", {
        "kind": "document", "title": "QAPI plan", "owner": world.specialist.pk, "review_on": "2027-01-31",
        "upload": pdf(), "requirement": requirement.pk})
    piece = Evidence.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("compliance:evidence_detail", args=[piece.pk])
    assert list(piece.links.values_list("requirement_urn", flat=True)) == [requirement.urn]
    detail = client.get(response["Location"]).content.decode()
    assert "Revision 1: plan.pdf" in detail and "QAPI scope" in detail


def test_the_requirement_panel_shows_state_in_words_verdicts_and_mappings(world, client):
    RequirementMapping.objects.create(source_urn=f"{OWN}:QS-1", target_urn=f"{COP}:482.21(a)", relation="subset")
    expired = add(world, title="Old minutes", review_on=TODAY.replace(year=2020))
    service.link(world.specialist, expired, [f"{OWN}:QS-1"])
    spare = add(world, title="Spare link", url="https://intranet.example/spare")
    client.force_login(world.specialist)
    url = reverse("compliance:requirement_evidence", args=[world.cop["482.21(a)"].pk])
    panel = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Old minutes" in panel and "Expired" in panel and "Through a mapping (Covers part of)" in panel
    assert "Evidence expired or out of date" in panel and "<html" not in panel
    response = client.post(reverse("compliance:requirement_evidence_link", args=[world.cop["482.21(a)"].pk]),
                           {"evidence": spare.pk}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Linked directly" in response.content.decode()
    assert spare.links.get().requirement_urn == f"{COP}:482.21(a)"


# --- API ------------------------------------------------------------------------------------------

def token(user):
    _, raw = AccessToken.issue(user, "test")
    return {"Authorization": f"Bearer {raw}"}


def test_api_create_link_and_read_evidence_for_a_requirement(world, client):
    headers = token(world.specialist)
    response = client.post("/api/v1/compliance/evidence", {
        "kind": "link", "title": "Minutes", "owner_id": world.specialist.pk, "review_on": "2030-01-01",
        "url": "https://intranet.example/m"}, content_type="application/json", headers=headers)
    assert response.status_code == 201, response.content
    piece_id = response.json()["id"]
    bad = client.post("/api/v1/compliance/evidence", {
        "kind": "link", "title": "Minutes", "owner_id": world.specialist.pk, "review_on": "2030-01-01",
        "url": "not a url"}, content_type="application/json", headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "url"]
    linked = client.post(f"/api/v1/compliance/evidence/{piece_id}/links",
                         {"requirement_urns": [f"{COP}:482.21(a)"]}, content_type="application/json", headers=headers)
    assert linked.json() == {"changed": 1, "requirement_urns": [f"{COP}:482.21(a)"]}
    found = client.get("/api/v1/compliance/requirement-evidence", {"urn": f"{COP}:482.21(a)"}, headers=headers).json()
    assert found["status"] == "green"
    assert [(e["evidence"]["title"], e["state"]) for e in found["evidence"]] == [("Minutes", "current")]


def test_api_document_upload_and_revisions(world, client):
    headers = token(world.specialist)
    response = client.post("/api/v1/compliance/evidence/documents", {
        "title": "Plan", "owner_id": world.specialist.pk, "review_on": "2030-01-01", "file": pdf()}, headers=headers)
    assert response.status_code == 201, response.content
    piece_id = response.json()["id"]
    second = client.post(f"/api/v1/compliance/evidence/{piece_id}/revisions", {"file": pdf("v2.pdf"), "note": "v2"},
                         headers=headers)
    assert second.status_code == 201 and second.json()["number"] == 2
    listed = client.get(f"/api/v1/compliance/evidence/{piece_id}/revisions", headers=headers).json()
    assert [r["number"] for r in listed] == [2, 1]
    download = client.get(f"/api/v1/compliance/evidence/{piece_id}/revisions/2/file", headers=headers)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    fake = client.post(f"/api/v1/compliance/evidence/{piece_id}/revisions",
                       {"file": SimpleUploadedFile("x.pdf", b"nope")}, headers=headers)
    assert fake.status_code == 422 and EvidenceRevision.objects.count() == 2


def test_the_demo_loader_adds_its_evidence_once_and_links_only_existing_urns(hospital, make_user, settings, tmp_path):
    from andon.compliance.demo_evidence import load_demo_evidence

    settings.MEDIA_ROOT = tmp_path / "media"
    make_user(Role.COMPLIANCE_SPECIALIST, "", username="compliance.lee")
    make_user(Role.QUALITY_ANALYST, "", username="analyst.jo")
    make_user(Role.UNIT_MANAGER, "rgh/medicine", username="mgr.fatima")
    cop = framework(COP, {"482.21(a)": "QAPI scope"})
    load_demo_evidence()
    load_demo_evidence()  # a second run adds nothing
    titles = sorted(Evidence.objects.values_list("title", flat=True))
    assert titles == ["Hand hygiene audit, last quarter", "QAPI programme plan 2026",
                      "Quality committee minutes (intranet)"]  # no falls measure in this library
    plan = Evidence.objects.get(title="QAPI programme plan 2026")
    assert [r.number for r in plan.revisions.order_by("number")] == [1, 2]
    assert plan.revisions.get(number=2).file.read().startswith(b"%PDF-1.4")
    assert list(EvidenceLink.objects.values_list("requirement_urn", flat=True)) == [cop["482.21(a)"].urn]
    assert service.evidence_state(Evidence.objects.get(title__startswith="Hand hygiene")) == "expired"
