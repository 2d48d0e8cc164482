"""The triage queue and the event list as lists a hospital works through (issue 15, item 8):
filters and orders in the address, search, harm and occurrence columns, pages without counting."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from andon.platform.roles import Role
from andon.safety import services
from andon.safety.models import SafetyEvent
from andon.safety.views import triage as views


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.list")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.list")

    return People


def submit(hospital, user, *, unit="rgh/4w", harm="mild", days=0, narrative="Patient found on the floor.", **more):
    fields = dict(kind="incident", category="fall", unit_id=hospital.unit(unit).pk,
                  occurred_at=timezone.now() - timedelta(hours=2), narrative=narrative, harm=harm,
                  details={"injury_level": "minor", "assisted": "no"})
    fields.update(more)
    event = services.submit_report(user, services.Report(**fields), ())[0]
    if days:  # reported some days ago (tests move times with update(): no audit entry)
        SafetyEvent.objects.filter(pk=event.pk).update(reported_at=event.reported_at - timedelta(days=days),
                                                       occurred_at=event.occurred_at - timedelta(days=days))
        event.refresh_from_db()
    return event


def references(page: str) -> list[str]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r"EV-\d{4}-\d{6}", body)


def test_the_queue_filters_and_sorts_from_the_address(client, hospital, people):
    old = submit(hospital, people.nurse, days=5)
    moderate = submit(hospital, people.nurse, harm="moderate", days=2)
    ed = submit(hospital, people.nurse, unit="rgh/ed", harm="none")
    severe = submit(hospital, people.nurse, harm="severe")
    near = submit(hospital, people.nurse, kind="near_miss", harm="", category="medication",
                  details={"ncc_merp": "B", "process_stage": "administering"})
    client.force_login(people.officer)
    url = reverse("safety:triage_queue")

    def listed(**query):
        response = client.get(url, query)
        assert response.status_code == 200
        return references(response.content.decode())

    assert listed() == [severe.reference, old.reference, moderate.reference, ed.reference, near.reference]
    assert listed(sort="newest") == [near.reference, severe.reference, ed.reference, moderate.reference, old.reference]
    assert listed(sort="harm")[:3] == [severe.reference, moderate.reference, old.reference]
    assert listed(harm="moderate") == [moderate.reference]
    assert listed(category="medication") == [near.reference]
    assert listed(unit=hospital.unit("rgh/ed").pk) == [ed.reference]
    assert listed(age="3") == [old.reference]
    assert listed(age="1", sort="newest") == [moderate.reference, old.reference]
    assert listed(sac="none", harm="severe") == [severe.reference]
    page = client.get(url, {"harm": "moderate"}).content.decode()
    # The filters are a GET form with labelled fields, kept as chosen.
    assert '<form method="get"' in page and '<label class="form-label small" for="id_harm">' in page
    assert '<option value="moderate" selected>' in page
    assert "No report waiting for triage matches" in client.get(url, {"harm": "death"}).content.decode()


def test_the_queue_refuses_a_unit_outside_the_officers_and_lists_only_theirs(client, hospital, people, make_user):
    lakeside = make_user(Role.PATIENT_SAFETY_OFFICER, "lch")
    event = submit(hospital, people.nurse)
    client.force_login(lakeside)
    page = client.get(reverse("safety:triage_queue"), {"unit": hospital.unit("rgh/4w").pk}).content.decode()
    assert event.reference not in page and "Select a valid choice" in page


def test_the_event_list_searches_sorts_and_shows_harm_and_occurrence(client, hospital, people):
    fall = submit(hospital, people.nurse, harm="death", narrative="Found on the bathroom floor at night.", days=3)
    pump = submit(hospital, people.nurse, harm="mild", narrative="Infusion pump alarm silenced.", days=1)
    other = submit(hospital, people.nurse, harm="moderate", narrative="Wrong diet tray.")
    client.force_login(people.officer)
    url = reverse("safety:event_list")

    def listed(**query):
        response = client.get(url, query)
        assert response.status_code == 200
        return references(response.content.decode())

    assert listed() == [other.reference, pump.reference, fall.reference]
    assert listed(q="bathroom") == [fall.reference]
    assert listed(q="PUMP ALARM") == [pump.reference]
    assert listed(q=other.reference) == [other.reference]
    assert listed(q=other.reference[-4:]) == [other.reference]
    assert listed(sort="reported") == [fall.reference, pump.reference, other.reference]
    assert listed(sort="occurred") == [fall.reference, pump.reference, other.reference]
    assert listed(sort="harm") == [fall.reference, other.reference, pump.reference]
    assert listed(harm="mild") == [pump.reference]
    page = client.get(url).content.decode()
    assert '<th scope="col">Harm</th>' in page and '<th scope="col">Occurred</th>' in page
    row = next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", page, re.S) if fall.reference in r)
    assert 'data-label="Harm">Death</td>' in row and "Death</span>" in row  # the badge, in words
    assert f'data-label="Occurred" class="text-nowrap">{timezone.localtime(fall.occurred_at):%Y-%m-%d %H:%M}' in row
    assert 'class="table table-sm align-middle table-stack"' in page and "page-wide" in page


def test_the_event_list_pages_without_counting_the_list(client, hospital, people, monkeypatch,
                                                       django_assert_max_num_queries):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    monkeypatch.setattr(views.Window.__init__, "__defaults__", (2,))
    events = [submit(hospital, people.nurse, days=n) for n in range(5)]  # newest first: events[0]
    client.force_login(people.officer)
    url = reverse("safety:event_list")
    first = client.get(url, {"harm": "mild"}).content.decode()
    assert references(first) == [events[0].reference, events[1].reference]
    assert 'rel="next"' in first and 'rel="prev"' not in first and "events 1–2" in first
    last = client.get(url, {"harm": "mild", "page": "3"}).content.decode()
    assert references(last) == [events[4].reference]
    assert 'rel="next"' not in last and "harm=mild&amp;page=2" in last
    assert references(client.get(url, {"page": "x"}).content.decode())[0] == events[0].reference
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    with CaptureQueriesContext(connection) as queries:
        client.get(url, {"page": "2"})
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
