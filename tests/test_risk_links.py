"""A risk's links to other modules' records: linked only by someone who may see the record; a
safety event shown by its reference alone to readers who may not open it; a risk raised from an
RCA's root cause in one step, linked to the root cause, its analysis and event; a measure as a key
risk indicator, whose special cause of concern flags the risk once, until a review."""

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.measures import compute
from andon.measures import services as measures
from andon.platform import content
from andon.platform.roles import Role
from andon.risk import services
from andon.risk.models import Risk, RiskLink, ScoreReason
from andon.safety import rca
from andon.safety import services as safety
from andon.safety.models import Review

READMISSION = Path(__file__).resolve().parent.parent / "content" / "measures" / "readmission-30-day.yaml"
NEXT_MONTH = timezone.localdate() + timedelta(days=30)
SCORES = {"inherent": (4, 4), "current": (4, 2), "target": (4, 1)}
# 24 months of readmissions with a clear rise in the last 8: a special cause, and a rise is a concern.
NUMERATORS = [40, 42, 38, 41, 39, 43, 40, 37, 42, 41, 39, 40, 38, 41, 40, 42, 60, 62, 61, 64, 63, 65, 62, 66]


@pytest.fixture
def world(hospital, make_user, safety_taxonomy):
    class World:
        manager = make_user(Role.RISK_MANAGER, "", username="rita")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso")
        ward_manager = make_user(Role.UNIT_MANAGER, "rgh/4w", username="wanda")
        analyst = make_user(Role.QUALITY_ANALYST, "", username="quinn")
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nina")
        w4, e5 = hospital.unit("rgh/4w"), hospital.unit("rgh/5e")
    return World


def a_risk(world, owner=None):
    return services.raise_risk(world.manager, title="Falls at night", cause="one nurse for 14 beds",
                               event="patients get up unaided", effect="a fall with harm", category="clinical",
                               owner=owner or world.ward_manager, unit=world.w4, review_on=NEXT_MONTH, scores=SCORES)


def an_event(world, unit):
    event, _ = safety.submit_report(world.nurse, safety.Report(
        kind="incident", category="fall", unit_id=unit.pk, occurred_at=timezone.now() - timedelta(hours=3),
        narrative="Found on the floor by the bed.", harm="none", details={"injury_level": "none"}))
    return event


def a_root_cause(world):
    event = safety.triage(world.officer, an_event(world, world.w4), safety.Triage(
        category="fall", harm="none", sac_severity="catastrophic", sac_probability="remote", sentinel=False,
        review=Review.RCA, reason="Repeated falls"))
    investigation = rca.start_investigation(world.officer, event)
    cause = rca.add_root_cause(world.officer, investigation, "Bed alarms are off by default on night shifts. "
                                                               "Staff were never told to switch them on.")
    return event, investigation, cause


def test_only_someone_who_may_see_a_record_links_it(client, world):
    risk = a_risk(world)
    elsewhere = an_event(world, world.e5)
    with pytest.raises(PermissionDenied):  # the ward's manager sees 4 West's events only
        services.link_record(world.ward_manager, risk, "safety_event", elsewhere.pk)
    client.force_login(world.ward_manager)
    response = client.post(reverse("risk:link", args=[risk.pk]), {"link-kind": "safety_event",
                                                                  "link-key": elsewhere.reference})
    assert response.status_code == 400 and "You may not open that record" in response.content.decode()
    with pytest.raises(ValidationError, match="There is no safety event"):
        services.link_record(world.ward_manager, risk, "safety_event", "S-1999-99999")
    with pytest.raises(ValidationError, match="Only a measure is a key risk indicator"):
        services.link_record(world.ward_manager, risk, "safety_event", elsewhere.pk, indicator=True)
    with pytest.raises(PermissionDenied):  # linking is the risk's owner's or the risk manager's
        services.link_record(world.officer, risk, "safety_event", elsewhere.pk)
    assert not RiskLink.objects.exists()
    here = an_event(world, world.w4)
    services.link_record(world.ward_manager, risk, "safety_event", here.reference)
    with pytest.raises(ValidationError, match="already linked"):
        services.link_record(world.ward_manager, risk, "safety_event", here.pk)
    assert list(RiskLink.objects.values_list("kind", "key", "label")) == [("safety_event", str(here.pk), here.reference)]


def test_a_reader_who_may_not_open_the_event_sees_its_reference_and_not_what_happened(client, world):
    risk = a_risk(world)
    event = an_event(world, world.w4)
    services.link_record(world.ward_manager, risk, "safety_event", event.pk)
    title = f"Fall · {world.w4.name}"
    client.force_login(world.ward_manager)
    page = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    assert event.reference in page and title in page and reverse("safety:event", args=[event.pk]) in page
    client.force_login(world.analyst)  # reads risks, not safety events
    page = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    links = page[page.index('id="links-heading"'):page.index('id="history-heading"')]
    assert event.reference in links and title not in links and "/safety/" not in links
    assert "Found on the floor" not in page
    api = client.get(f"/api/v1/risk/risks/{risk.pk}/links").json()
    assert [(row["kind"], row["text"]) for row in api] == [("safety_event", event.reference)]


def test_a_root_cause_raises_a_risk_in_one_step_linked_to_it_its_analysis_and_event(client, world, sign_in_with_mfa):
    event, investigation, cause = a_root_cause(world)
    sign_in_with_mfa(world.officer)
    rca_page = client.get(reverse("safety:investigation", args=[event.pk])).content.decode()
    raise_url = f"{reverse('risk:raise')}?root_cause={cause.pk}"
    assert f'href="{raise_url}"' in rca_page
    form = client.get(raise_url).content.decode()
    assert "Bed alarms are off by default on night shifts" in form  # the cause
    assert 'value="Bed alarms are off by default on night shifts"' in form  # the title, its first sentence
    assert f'<option value="u{world.w4.pk}" selected>' in form and event.reference in form
    response = client.post(reverse("risk:raise"), {
        "root_cause": cause.pk, "title": "Bed alarms off at night", "cause": cause.statement,
        "event": "a fall goes unnoticed", "effect": "harm from a delayed response", "category": "clinical",
        "place": f"u{world.w4.pk}", "owner": world.ward_manager.pk, "review_on": NEXT_MONTH.isoformat(),
        "inherent_consequence": 4, "inherent_likelihood": 3, "current_consequence": 4, "current_likelihood": 3,
        "target_consequence": 4, "target_likelihood": 1})
    risk = Risk.objects.get()
    assert response.status_code == 302 and risk.cause == cause.statement
    assert sorted(risk.links.values_list("kind", "key")) == [
        ("investigation", str(investigation.pk)), ("root_cause", str(cause.pk)), ("safety_event", str(event.pk))]
    client.force_login(world.analyst)  # raises risks, but may not read the analysis
    assert client.get(raise_url).status_code == 403
    with pytest.raises(PermissionDenied):
        services.raise_from_root_cause(world.analyst, cause.pk, title="t", cause="c", event="e", effect="f",
                                       category="clinical", owner=world.ward_manager, unit=world.w4,
                                       review_on=NEXT_MONTH, scores=SCORES)
    assert Risk.objects.count() == 1


def readmissions_rising(hospital):
    measure = measures.load_measure_file(content.read_file(READMISSION), str(READMISSION))
    firsts = [date(2024 + (month // 12), month % 12 + 1, 1) for month in range(24)]
    cells = [compute.Cell(first, None, "", "", 200, n, 200, compute.score(measure, n, 200))
             for first, n in zip(firsts, NUMERATORS, strict=True)]
    measures.replace_results(measure, "month", date(2024, 1, 1), date(2026, 1, 1), cells, "test load")
    return measure


def test_an_indicator_in_special_cause_of_concern_flags_the_risk_once_until_a_review(client, world, hospital):
    measure = readmissions_rising(hospital)
    assert measures.latest_verdict(measure.key)["code"] == "special_cause_concern"
    risk, calm = a_risk(world), a_risk(world)
    services.link_record(world.manager, risk, "measure", measure.key, indicator=True)
    services.link_record(world.manager, calm, "measure", measure.key)  # linked, not as an indicator
    assert services.flag_from_indicators() == 1
    risk.refresh_from_db()
    assert "readmission" in risk.flagged_reason.lower() and "2025-12" in risk.flagged_reason
    flagged_at = risk.flagged_at
    assert Risk.objects.get(pk=calm.pk).flagged_at is None
    assert services.flag_from_indicators() == 0  # once
    client.force_login(world.ward_manager)
    page = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    assert "Flagged for review" in page and 'data-verdict="special_cause_concern"' in page
    assert "Key risk indicator" in page
    risk = services.rescore(world.ward_manager, risk, SCORES, review_on=NEXT_MONTH, note="Readmissions looked at")
    assert (risk.flagged_reason, risk.flagged_at) == ("", None)
    assert risk.scores.last().reason == ScoreReason.REVIEWED
    assert services.flag_from_indicators() == 0  # the review saw this signal
    assert flagged_at is not None


def test_a_link_is_removed_by_those_who_edit_the_risk(client, world, hospital):
    risk = a_risk(world)
    event = an_event(world, world.w4)
    link = services.link_record(world.ward_manager, risk, "safety_event", event.pk)
    client.force_login(world.analyst)
    assert client.post(reverse("risk:unlink", args=[link.pk])).status_code == 403
    client.force_login(world.ward_manager)
    response = client.post(reverse("risk:unlink", args=[link.pk]))
    assert response.status_code == 302 and not RiskLink.objects.exists()


def test_a_measure_is_linked_by_choosing_it_from_the_library_by_its_title(client, world, hospital):
    """The library's pages name a measure by its title, never its key: the link form offers the
    measures by title (a key typed in the record box still links, as before)."""
    measure = readmissions_rising(hospital)
    risk = a_risk(world)
    client.force_login(world.ward_manager)
    page = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    assert f'<option value="{measure.key}">{measure.title}</option>' in page
    url = reverse("risk:link", args=[risk.pk])
    response = client.post(url, {"link-kind": "measure", "link-key": "", "link-measure": ""})
    assert response.status_code == 400 and "Choose the measure." in response.content.decode()
    response = client.post(url, {"link-kind": "safety_event", "link-key": " ", "link-measure": measure.key})
    assert response.status_code == 400 and "Give the record&#x27;s reference or id." in response.content.decode()
    assert not RiskLink.objects.exists()
    response = client.post(url, {"link-kind": "measure", "link-measure": measure.key, "link-indicator": "on"})
    assert response.status_code == 302
    assert list(RiskLink.objects.values_list("kind", "key", "label", "indicator")) == [
        ("measure", measure.key, measure.title, True)]
    page = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    links = page[page.index('id="links-heading"'):page.index('id="history-heading"')]
    assert measure.title in links and 'data-verdict="special_cause_concern"' in links and "Key risk indicator" in links
