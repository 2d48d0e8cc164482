"""One risk's pages and API: raising it (errors beside each field, the matrix's words, the owner
picker), its page (the trend and its records, re-scoring, escalation, controls, actions, closing)
and the same through the API (the field at fault named, a stale version refused)."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.actions.models import Action
from andon.platform import services as platform
from andon.platform.models import AccessToken
from andon.platform.roles import Role
from andon.risk import services
from andon.risk.models import Control, Escalation, Level, Risk, RiskStatus, ScoreReason, ScoreRecord

NEXT_MONTH = timezone.localdate() + timedelta(days=30)
SCORES = {"inherent": (4, 4), "current": (4, 2), "target": (4, 1)}


@pytest.fixture
def world(hospital, make_user):
    class World:
        manager = make_user(Role.RISK_MANAGER, "", username="rita", first_name="Rita", last_name="Reyes")
        ward_manager = make_user(Role.UNIT_MANAGER, "rgh/4w", username="wanda", first_name="Wanda", last_name="West")
        other_manager = make_user(Role.UNIT_MANAGER, "rgh/5e", username="eve", first_name="Eve", last_name="East")
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="wendy", first_name="Wendy", last_name="Walker")
        w4, e5 = hospital.unit("rgh/4w"), hospital.unit("rgh/5e")
    return World


def a_risk(world, **overrides):
    fields = {"title": "Falls on 4 West at night", "cause": "one nurse for 14 beds at night",
              "event": "confused patients get up unaided", "effect": "a fall with harm", "category": "clinical",
              "owner": world.ward_manager, "unit": world.w4, "review_on": NEXT_MONTH, "scores": SCORES}
    return services.raise_risk(world.manager, **(fields | overrides))


def raise_data(world, **overrides):
    data = {"title": "Falls on 4 West at night", "cause": "one nurse for 14 beds", "event": "patients get up unaided",
            "effect": "a fall with harm", "category": "clinical", "place": f"u{world.w4.pk}",
            "owner": world.ward_manager.pk, "review_on": NEXT_MONTH.isoformat(),
            "inherent_consequence": 4, "inherent_likelihood": 4, "current_consequence": 4, "current_likelihood": 2,
            "target_consequence": 4, "target_likelihood": 1}
    return data | overrides


def field_block(html: str, name: str) -> str:
    """The markup from a field's input to the next field: where its errors are shown."""
    start = html.index(f'name="{name}"')
    following = re.search(r'name="(?!' + re.escape(name) + r'")[a-z_-]+"', html[start + 1:])
    return html[start:start + 1 + following.start()] if following else html[start:]


# --- raising ------------------------------------------------------------------------------------

def test_raising_shows_each_error_beside_its_field_and_stores_nothing(client, world):
    client.force_login(world.ward_manager)
    response = client.post(reverse("risk:raise"), raise_data(
        world, title=" ", current_likelihood=5, review_on=(timezone.localdate() - timedelta(days=1)).isoformat(),
        owner=world.nurse.pk))
    html = response.content.decode()
    assert response.status_code == 400 and not Risk.objects.exists()
    assert "The title is needed" in field_block(html, "title")
    assert "controls do not raise a risk" in field_block(html, "current_consequence")
    assert "is in the past" in field_block(html, "review_on")
    assert "holds no role that reads risks" in html  # the owner's picker, under the search
    assert 'value="one nurse for 14 beds"' not in html and "one nurse for 14 beds</textarea>" in html  # kept

    response = client.post(reverse("risk:raise"), raise_data(world))
    risk = Risk.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("risk:risk", args=[risk.pk])
    assert (risk.unit, risk.owner, risk.current_score, risk.current_band, risk.level) == (
        world.w4, world.ward_manager, 8, "High", Level.UNIT)


def test_the_raise_form_speaks_the_matrixs_words_and_offers_the_raisers_places(client, world):
    client.force_login(world.ward_manager)
    html = client.get(reverse("risk:raise")).content.decode()
    assert '<option value="4">4 Major</option>' in html and '<option value="5">5 Almost certain</option>' in html
    assert "Major injury leading to long-term incapacity" in html  # the descriptor, as help
    assert f'value="u{world.w4.pk}"' in html and f'value="u{world.e5.pk}"' not in html
    assert world.nurse.username not in html  # no list of staff: the owner is searched


def test_the_owner_picker_finds_only_people_who_read_risks_at_the_place(client, world):
    client.force_login(world.ward_manager)
    html = client.get(reverse("risk:raise")).content.decode()
    # The shared picker: its search sends the place chosen in the form with the words.
    assert f'hx-get="{reverse("risk:raise_owners")}"' in html
    assert 'hx-params="q,place" hx-include="closest form"' in html
    url = reverse("risk:raise_owners")
    found = client.get(url, {"q": "w", "place": f"u{world.w4.pk}"}).content.decode()
    assert "Wanda West" in found and "Rita Reyes" not in found  # the risk manager's name has no w
    assert "Wendy Walker" not in found  # a nurse reads no risks
    assert f'type="radio" name="owner" id="id_owner-match-{world.ward_manager.pk}"' in found  # the form's field
    assert "Choose where the risk sits first" in client.get(url, {"q": "w"}).content.decode()
    assert client.get(url, {"q": "e", "place": f"u{world.e5.pk}"}).status_code == 403


def test_the_control_and_action_pickers_offer_the_organisations_staff_and_keep_a_controls_owner(client, world):
    risk = a_risk(world)
    control = services.add_control(world.manager, risk, description="Hourly rounding", owner=world.other_manager)
    client.force_login(world.manager)
    html = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    assert "Wendy Walker" not in html  # no list of the staff: the owners are searched
    assert f'name="control-{control.pk}-owner"' not in html  # a control's form comes when asked for
    html += client.get(reverse("risk:control_row", args=[control.pk]), headers={"HX-Request": "true"}).content.decode()
    for name, url in (("control-owner", reverse("risk:new_control_owners", args=[risk.pk])),
                      (f"control-{control.pk}-owner", reverse("risk:control_owners", args=[control.pk])),
                      ("action-owner", reverse("risk:action_owners", args=[risk.pk]))):
        assert f'hx-get="{url}"' in html
        found = client.get(url, {"q": "walker"}).content.decode()  # a nurse may own a control or an action
        assert f'name="{name}" id="id_{name}-match-{world.nurse.pk}"' in found
    prefix = f"control-{control.pk}"
    assert f'name="{prefix}-owner" id="id_{prefix}-owner-chosen-{world.other_manager.pk}"' in html
    outsider = platform.create_user("oscar", first_name="Oscar", last_name="Outsider")  # no one's staff
    offered = client.get(reverse("risk:action_owners", args=[risk.pk]), {"q": "outsider"}).content.decode()
    assert "Outsider" not in offered and "No one matches" in offered
    response = client.post(reverse("risk:open_action", args=[risk.pk]), {
        "action-title": "Bed alarms", "action-owner": outsider.pk, "action-due_date": NEXT_MONTH.isoformat(),
        "action-strength": "stronger", "action-measure": "Falls per 1,000"})
    assert response.status_code == 400 and not Action.objects.exists()
    html = response.content.decode()
    assert "Select a valid choice" in html[html.index('id="id_action-owner"'):html.index('id="id_action-due_date"')]
    # An edit that leaves the owner as it is keeps them, even one no longer on the staff.
    world.other_manager.role_grants.all().delete()
    edit = {f"{prefix}-description": "Hourly rounding, day and night", f"{prefix}-effect": "partly",
            f"{prefix}-assurance_level": "first", f"{prefix}-owner": world.other_manager.pk,
            f"{prefix}-version": control.version}
    assert client.post(reverse("risk:edit_control", args=[control.pk]), edit).status_code == 302
    control.refresh_from_db()
    assert (control.description, control.owner) == ("Hourly rounding, day and night", world.other_manager)


# --- the risk's page ----------------------------------------------------------------------------

def test_a_controls_edit_form_comes_when_asked_for_with_or_without_javascript(client, world):
    risk = a_risk(world)
    first = services.add_control(world.manager, risk, description="Hourly rounding")
    second = services.add_control(world.manager, risk, description="Bed-exit alarms")
    client.force_login(world.manager)
    page = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    row = reverse("risk:control_row", args=[first.pk])
    assert f'hx-get="{row}"' in page and f'href="{reverse("risk:risk", args=[risk.pk])}?control={first.pk}#control-{first.pk}"' in page
    assert "Save the control" not in page  # no control's form with the page
    # htmx: the row with its form, the description focused
    answer = client.get(row, headers={"HX-Request": "true"}).content.decode()
    assert answer.count("Save the control") == 1 and f'id="control-{first.pk}"' in answer
    assert re.search(r'<textarea[^>]*name="control-%d-description"[^>]*autofocus' % first.pk, answer)
    # no JavaScript: the link opens the page with that control's form alone
    assert client.get(row).url == f"{reverse('risk:risk', args=[risk.pk])}?control={first.pk}#control-{first.pk}"
    page = client.get(reverse("risk:risk", args=[risk.pk]), {"control": first.pk}).content.decode()
    assert page.count("Save the control") == 1 and f'name="control-{first.pk}-description"' in page
    assert f'name="control-{second.pk}-description"' not in page
    for junk in ("x", "0", "99999999999999999999"):  # not a control: the page as usual
        assert "Save the control" not in client.get(reverse("risk:risk", args=[risk.pk]), {"control": junk}).content.decode()
    client.force_login(world.nurse)  # reads no risks: no control's form either
    assert client.get(row, headers={"HX-Request": "true"}).status_code == 403



def test_a_rescore_adds_a_point_to_the_trend_and_a_row_to_its_table(client, world):
    risk = a_risk(world)
    client.force_login(world.ward_manager)
    response = client.post(reverse("risk:rescore", args=[risk.pk]), {
        "score-inherent_consequence": 4, "score-inherent_likelihood": 4, "score-current_consequence": 4,
        "score-current_likelihood": 3, "score-target_consequence": 4, "score-target_likelihood": 1,
        "score-review_on": NEXT_MONTH.isoformat(), "score-note": "Two falls last month", "score-version": risk.version})
    assert response.status_code == 302 and response["Location"].endswith("#trend-heading")
    assert list(ScoreRecord.objects.filter(risk=risk).values_list("reason", "current_score")) == [
        (ScoreReason.RAISED, 8), (ScoreReason.RESCORED, 12)]
    html = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    trend = html[html.index('data-chart="risk-trend"'):html.index("data-score-records")]
    assert trend.count('class="point') == 2 and "Current score of R-00001 over time" in trend
    assert "High from 8" in trend and "Extreme from 15" in trend  # the bands as reference lines
    assert re.search(r"<td>\d{4}-\d\d-\d\d</td><td>12</td>", trend)  # the chart's table has the new point
    records = html[html.index("data-score-records"):]
    assert "Re-scored" in records and "12 High" in records and "Two falls last month" in records


def test_a_stale_form_is_refused_with_409_keeping_what_was_typed(client, world):
    risk = a_risk(world)
    services.rescore(world.manager, risk, {"inherent": (4, 4), "current": (4, 3), "target": (4, 1)},
                     review_on=NEXT_MONTH)
    client.force_login(world.ward_manager)
    response = client.post(reverse("risk:close", args=[risk.pk]), {"close-reason": "x"})
    assert response.status_code == 403  # closing is the risk manager's
    response = client.post(reverse("risk:rescore", args=[risk.pk]), {
        "score-inherent_consequence": 4, "score-inherent_likelihood": 4, "score-current_consequence": 2,
        "score-current_likelihood": 2, "score-target_consequence": 1, "score-target_likelihood": 1,
        "score-review_on": NEXT_MONTH.isoformat(), "score-note": "my note", "score-version": risk.version - 1})
    html = response.content.decode()
    assert response.status_code == 409 and "since you opened it" in html and "my note</textarea>" in html
    assert f'name="score-version" value="{risk.version}"' in html
    assert Risk.objects.get().current_score == 12


def test_escalation_moves_the_risk_and_its_history_says_who_when_and_why(client, world, sign_in_with_mfa):
    risk = a_risk(world)
    client.force_login(world.ward_manager)
    assert 'action="' + reverse("risk:escalate", args=[risk.pk]) not in client.get(
        reverse("risk:risk", args=[risk.pk])).content.decode()
    client.force_login(world.manager)
    page = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    assert "asks to be escalated" in page and '<option value="unit"' not in page  # not to where it is
    response = client.post(reverse("risk:escalate", args=[risk.pk]), {
        "move-to_level": "department", "move-reason": " ", "move-version": risk.version})
    assert response.status_code == 400 and "required" in field_block(response.content.decode(), "move-reason")
    client.post(reverse("risk:escalate", args=[risk.pk]), {"move-to_level": "department",
                                                           "move-reason": "Staffing is beyond the ward",
                                                           "move-version": risk.version})
    move = Escalation.objects.get(risk=risk)
    assert (move.from_level, move.to_level, move.by, move.score_then) == ("unit", "department", world.manager, 8)
    html = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    history = html[html.index('id="escalate-heading"'):html.index('id="controls-heading"')]
    when = timezone.localtime(move.at).strftime("%Y-%m-%d %H:%M")
    assert f"{when} " in history and "Rita Reyes" in history and "Unit → Department" in history
    assert "Staffing is beyond the ward" in history and "<td>8</td>" in history


def test_controls_are_added_edited_with_errors_beside_the_field_and_retired(client, world):
    risk = a_risk(world)
    client.force_login(world.ward_manager)
    client.post(reverse("risk:add_control", args=[risk.pk]), {
        "control-description": "Hourly rounding at night", "control-effect": "partly",
        "control-assurance_level": "first", "control-assurance_source": "Ward audit",
        "control-control_gap": "Not at weekends", "control-owner": world.ward_manager.pk})
    control = Control.objects.get()
    assert (control.effect, control.assurance_level, control.owner, control.control_gap) == (
        "partly", "first", world.ward_manager, "Not at weekends")
    prefix = f"control-{control.pk}"
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    edit = {f"{prefix}-description": "Hourly rounding, day and night", f"{prefix}-effect": "effective",
            f"{prefix}-assurance_level": "second", f"{prefix}-last_tested_on": tomorrow, f"{prefix}-version": control.version}
    response = client.post(reverse("risk:edit_control", args=[control.pk]), edit)
    assert response.status_code == 400
    assert "cannot be in the future" in field_block(response.content.decode(), f"{prefix}-last_tested_on")
    edit[f"{prefix}-last_tested_on"] = timezone.localdate().isoformat()
    assert client.post(reverse("risk:edit_control", args=[control.pk]), edit).status_code == 302
    control.refresh_from_db()
    assert (control.description, control.effect, control.last_tested_on) == (
        "Hourly rounding, day and night", "effective", timezone.localdate())
    html = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    assert "Second line (oversight" in html and "Hourly rounding, day and night" in html
    assert "risk.Control" not in html  # the history names what changed, not the risk's other records
    client.post(reverse("risk:retire_control", args=[control.pk]), {"version": control.version})
    control.refresh_from_db()
    assert control.retired_at is not None
    assert "Hourly rounding" not in client.get(reverse("risk:risk", args=[risk.pk])).content.decode().split(
        'id="controls-heading"')[1].split('id="actions-heading"')[0]


def test_an_action_goes_to_the_tracker_and_closing_needs_a_reason(client, world):
    risk = a_risk(world)
    client.force_login(world.manager)
    response = client.post(reverse("risk:open_action", args=[risk.pk]), {
        "action-title": "Bed alarms on every bed", "action-owner": world.ward_manager.pk,
        "action-due_date": NEXT_MONTH.isoformat(), "action-strength": "stronger", "action-measure": "Falls per 1,000"})
    assert response.status_code == 302
    action = Action.objects.get()
    assert (action.unit, action.owner, action.source_label) == (world.w4, world.ward_manager,
                                                                 "Risk R-00001: Falls on 4 West at night")
    assert "Bed alarms on every bed" in client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    response = client.post(reverse("risk:close", args=[risk.pk]), {"close-reason": "", "close-version": risk.version})
    assert response.status_code == 400 and Risk.objects.get().status == RiskStatus.OPEN
    client.post(reverse("risk:close", args=[risk.pk]), {"close-reason": "New staffing model",
                                                        "close-version": risk.version})
    risk.refresh_from_db()
    assert (risk.status, risk.closed_reason) == (RiskStatus.CLOSED, "New staffing model")
    html = client.get(reverse("risk:risk", args=[risk.pk])).content.decode()
    assert "Closed " in html and "Record the review" not in html


def test_an_action_of_a_facilitys_risk_names_a_unit_of_that_facility(world, hospital):
    risk = a_risk(world, unit=None, facility=world.w4.facility, owner=world.manager)
    action = {"owner": world.ward_manager, "title": "Night staffing review", "due_date": NEXT_MONTH,
              "strength": "intermediate", "measure": "Nurse to bed ratio"}
    with pytest.raises(ValidationError, match="choose the unit that will act"):
        services.open_action_for_risk(world.manager, risk, **action)
    with pytest.raises(ValidationError, match="is outside Riverside General Hospital"):
        services.open_action_for_risk(world.manager, risk, unit=hospital.unit("lch/2a"), **action)
    assert services.open_action_for_risk(world.manager, risk, unit=world.e5, **action).unit == world.e5


# --- the API ------------------------------------------------------------------------------------

def token(user):
    return {"Authorization": f"Bearer {AccessToken.issue(user, 'test')[1]}"}


def api_body(world, **overrides):
    body = {"title": "Falls at night", "cause": "one nurse for 14 beds", "event": "patients get up unaided",
            "effect": "a fall with harm", "category": "clinical", "unit_id": world.w4.pk,
            "owner_id": world.ward_manager.pk, "review_on": NEXT_MONTH.isoformat(),
            "inherent": {"consequence": 4, "likelihood": 4}, "current": {"consequence": 4, "likelihood": 2},
            "target": {"consequence": 4, "likelihood": 1}}
    return body | overrides


def test_the_api_raises_rescores_and_names_the_field_at_fault(client, world):
    headers = token(world.ward_manager)
    bad = client.post("/api/v1/risk/risks", api_body(world, current={"consequence": 5, "likelihood": 5}),
                      content_type="application/json", headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "current_consequence"]
    made = client.post("/api/v1/risk/risks", api_body(world), content_type="application/json", headers=headers)
    assert made.status_code == 201
    risk = made.json()
    assert (risk["reference"], risk["current"]["score"], risk["current"]["band"]) == ("R-00001", 8, "High")
    url = f"/api/v1/risk/risks/{risk['id']}/scores"
    scores = {"inherent": {"consequence": 4, "likelihood": 4}, "current": {"consequence": 4, "likelihood": 3},
              "target": {"consequence": 4, "likelihood": 1}, "review_on": NEXT_MONTH.isoformat()}
    stale = client.post(url, scores | {"version": risk["version"] + 5}, content_type="application/json",
                        headers=headers)
    assert stale.status_code == 409
    done = client.post(url, scores | {"version": risk["version"], "note": "Two falls"},
                       content_type="application/json", headers=headers)
    assert done.status_code == 200 and done.json()["current"]["score"] == 12
    trend = client.get(url, headers=headers).json()
    assert [(r["reason"], r["current"]["score"], r["note"]) for r in trend] == [
        ("raised", 8, ""), ("rescored", 12, "Two falls")]


def test_the_api_keeps_controls_and_escalations(client, world, make_user):
    risk = a_risk(world)
    manager = token(world.manager)
    made = client.post(f"/api/v1/risk/risks/{risk.pk}/controls", {"description": "Hourly rounding",
                                                                  "effect": "sometimes"},
                       content_type="application/json", headers=manager)
    assert made.status_code == 422 and made.json()["detail"][0]["loc"][-1] == "effect"
    made = client.post(f"/api/v1/risk/risks/{risk.pk}/controls", {"description": "Hourly rounding"},
                       content_type="application/json", headers=manager)
    control = made.json()
    assert made.status_code == 201 and control["effect"] == "not_tested"
    changed = client.post(f"/api/v1/risk/controls/{control['id']}", {"effect": "effective", "version": control["version"]},
                          content_type="application/json", headers=manager)
    assert changed.status_code == 200 and changed.json()["effect"] == "effective"
    moved = client.post(f"/api/v1/risk/risks/{risk.pk}/escalations", {"to_level": "department", "reason": "Staffing"},
                        content_type="application/json", headers=manager)
    assert moved.status_code == 201 and moved.json()["from_level"] == "unit"
    seen = client.get(f"/api/v1/risk/risks/{risk.pk}", headers=token(world.ward_manager)).json()
    assert seen["level"] == "department" and [e["reason"] for e in seen["escalations"]] == ["Staffing"]
    assert client.get(f"/api/v1/risk/risks/{risk.pk}", headers=token(world.other_manager)).status_code == 403
