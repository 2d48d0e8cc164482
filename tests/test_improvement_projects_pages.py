"""QI project pages on the demo hospital: charter a project through the form (bad input answered
beside its field, nothing stored), its page with the chart's aim line and progress, the driver
diagram edited through the page (its node forms on demand), PDSA stages, and the portfolio."""

from datetime import timedelta

import pytest
from django.urls import reverse

from andon.improvement.models import Driver, PdsaCycle, PortfolioSettings, Project, ProjectsRequired
from andon.measures.models import Annotation
from andon.platform.models import Unit, User
from tests.conftest import TODAY



@pytest.fixture
def uma(client, demo_hospital):
    user = User.objects.get(username="qi.uma")
    client.force_login(user)
    return user


def _charter_data(**changes):
    ward = Unit.objects.get(facility__code="rgh", code="4w")
    data = {"title": "Night falls", "problem": "Falls at night", "high_risk": "on", "domain": "safe",
            "measure": "falls", "aim": "From 5 to 4", "baseline": "5", "target": "4",
            "aim_date": (TODAY + timedelta(days=90)).isoformat(), "place": f"u{ward.pk}", "scope_units": [ward.pk],
            "sponsor": User.objects.get(username="cqo.olivia").pk, "lead": User.objects.get(username="qi.uma").pk,
            "team": [User.objects.get(username="mgr.fatima").pk], "status": "active", "year": TODAY.year,
            "benefit": "harm_events"}
    data.update(changes)
    return data


def test_a_project_is_chartered_edited_and_shown_with_its_aim_line(client, uma):
    form = client.get(reverse("improvement:charter") + "?measure=falls")
    assert form.status_code == 200 and "Falls per 1,000 patient days now: mean" in form.content.decode()
    before = Project.objects.count()
    refused = client.post(reverse("improvement:charter"), _charter_data(target="6", high_risk=""))
    assert refused.status_code == 400 and Project.objects.count() == before
    page = refused.content.decode()
    assert "the target must be below the baseline" in page and "high-risk, high-volume or problem-prone" in page
    made = client.post(reverse("improvement:charter"), _charter_data())
    project = Project.objects.get(title="Night falls")
    assert made.status_code == 302 and made["Location"] == reverse("improvement:project", args=[project.pk])
    shown = client.get(made["Location"]).content.decode()
    assert "Aim 4" in shown and 'data-chart="project-measure"' in shown and "no change adopted yet" in shown
    assert "Not yet measurable: no change adopted yet." in shown
    edited = client.post(reverse("improvement:project_edit", args=[project.pk]),
                         _charter_data(title="Fewer night falls", version=project.version))
    assert edited.status_code == 302 and Project.objects.get(pk=project.pk).title == "Fewer night falls"
    stale = client.post(reverse("improvement:project_edit", args=[project.pk]),
                        _charter_data(title="Again", version=project.version))
    assert stale.status_code == 409 and Project.objects.get(pk=project.pk).title == "Fewer night falls"


def test_the_diagram_and_cycles_are_edited_through_the_page(client, uma):
    project = Project.objects.get(title="Fewer falls on 4 West at night")  # the demo's
    url = reverse("improvement:project", args=[project.pk])
    assert client.post(reverse("improvement:driver_add", args=[project.pk]), {"kind": "primary", "text": "Staff"}
                       ).status_code == 302
    primary = Driver.objects.get(project=project, text="Staff")
    fragment = client.get(reverse("improvement:driver_form", args=[primary.pk]), headers={"HX-Request": "true"})
    assert 'name="parent"' in fragment.content.decode() and "<html" not in fragment.content.decode()
    without_js = client.get(reverse("improvement:driver_form", args=[primary.pk]))
    assert without_js["Location"].endswith(f"?node={primary.pk}#node-{primary.pk}")
    assert f'id="rename-{primary.pk}"' in client.get(without_js["Location"]).content.decode()
    client.post(reverse("improvement:driver_add", args=[project.pk]), {"kind": "change", "text": "Huddle",
                                                                       "parent": primary.pk})
    change = Driver.objects.get(text="Huddle")
    bad = client.post(reverse("improvement:driver_add", args=[project.pk]), {"kind": "secondary", "text": "x",
                                                                             "parent": change.pk})
    assert bad.status_code == 400 and "sits under a primary driver" in bad.content.decode()
    assert "Huddle" in client.get(url).content.decode()
    client.post(reverse("improvement:cycle_new", args=[change.pk]), {
        "title": "Huddle at 7", "plan": "p", "prediction": "q", "planned_start": (TODAY - timedelta(days=9)).isoformat(),
        "planned_end": (TODAY - timedelta(days=2)).isoformat()})
    cycle = PdsaCycle.objects.get(change=change)
    act = client.post(reverse("improvement:cycle_act", args=[cycle.pk]), {
        "decision": "adopt", "decided_on": TODAY.isoformat(), "version": cycle.version})
    assert act.status_code == 400 and "Study the test" in act.content.decode()
    client.post(reverse("improvement:cycle_do", args=[cycle.pk]), {"started_on": (TODAY - timedelta(days=9)).isoformat(),
                                                                   "version": cycle.version})
    cycle.refresh_from_db()
    assert Annotation.objects.get(pk=cycle.start_annotation_id).date == TODAY - timedelta(days=9)
    assert f"{project.reference} PDSA 1: start of “Huddle at 7”" in client.get(url).content.decode()
    removed = client.post(reverse("improvement:cycle_remove", args=[cycle.pk]), {"version": cycle.version})
    assert removed.status_code == 302 and not Annotation.objects.filter(pk=cycle.start_annotation_id).exists()


def test_the_portfolio_lists_filters_and_records_what_the_board_asked(client, uma):
    page = client.get(reverse("improvement:portfolio")).content.decode()
    assert "Fewer falls on 4 West at night" in page and "Active: 1" in page
    assert "Not yet measurable: no change adopted yet." in page
    assert "No projects match the filters" in client.get(reverse("improvement:portfolio") + "?status=completed"
                                                         ).content.decode()
    refused = client.post(reverse("improvement:portfolio_required"), {"year": TODAY.year, "count": "-2",
                                                                      "decided_by": ""})
    assert refused.status_code == 400 and not ProjectsRequired.objects.exists()
    client.post(reverse("improvement:portfolio_required"), {"year": TODAY.year, "count": 5,
                                                            "decided_by": "Board, 12 March"})
    client.post(reverse("improvement:portfolio_settings"), {"cost_per_harm_event": "14000", "cost_per_excess_day": "2000",
                                                            "currency": "eur"})
    assert PortfolioSettings.objects.get().currency == "EUR"
    assert "of the <strong>5</strong> the governing body asked for (Board, 12 March)" in client.get(
        reverse("improvement:portfolio")).content.decode()
