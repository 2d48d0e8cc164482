"""The demo hospital opens like a real one (issue 15, friction 16). The plan of its safety events
is checked here without a database (cheap); the loaded demo (events, states by age, measures,
eCQMs, dashboard) is checked once, in test_measures_pages.py's demo test, which loads it anyway."""

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from andon.safety import demo

NOW = timezone.make_aware(datetime(2026, 12, 2, 21, 0))
WARD_MIXES = {"medical", "surgical", "icu", "maternity", "rehab"}


def _month(moment) -> tuple[int, int]:
    local = timezone.localtime(moment)
    return local.year, local.month


def test_the_demo_plans_24_months_of_reports_ending_today_the_same_every_time():
    planned = demo.plan(NOW)
    assert planned == demo.plan(NOW)  # deterministic for the seed
    months = sorted({_month(p.occurred_at) for p in planned})
    # the measures' 24 months (December 2024 to November 2026) and the current month so far
    assert (months[0], months[-1], len(months)) == ((2024, 12), (2026, 12), 25)
    assert all(p.occurred_at <= NOW for p in planned)
    assert 500 < len(planned) < 1200  # about 30 a month for two small hospitals
    # a month later, the same demo a month on
    later = demo.plan(NOW + timedelta(days=31))
    assert sorted({_month(p.occurred_at) for p in later})[0] == (2025, 1)


def test_every_ward_reports_every_month_with_a_plausible_mix_of_harm():
    planned = demo.plan(NOW)
    wards = [path for path, (_, mix) in demo.UNITS.items() if mix in WARD_MIXES]
    by_ward_month = Counter((p.unit, _month(p.occurred_at)) for p in planned)
    months = sorted({_month(p.occurred_at) for p in planned})
    assert [(w, m) for w in wards for m in months if not by_ward_month[(w, m)]] == []
    harms = Counter(p.harm for p in planned if p.kind == "incident")
    incidents = sum(harms.values())
    assert (harms["none"] + harms["mild"]) / incidents > 0.7  # most no or low harm
    assert 0.01 < harms["severe"] / incidents < 0.08  # few severe
    assert set(harms) <= {"none", "mild", "moderate", "severe"}
    categories = Counter(p.category for p in planned)
    assert categories.most_common(3)[0][0] in {"medication", "fall"} and len(categories) >= 9
    # the details agree with the harm: a fall without harm had no injury, a severe one a major one
    falls = [(p.harm, p.details["injury_level"]) for p in planned if p.category == "fall"]
    assert {injury for harm, injury in falls if harm == "none"} == {"none"}
    assert {injury for harm, injury in falls if harm == "severe"} <= {"major"}


def test_more_falls_in_winter_and_fewer_on_4_west_after_its_rca_actions():
    planned = demo.plan(NOW)
    falls = Counter(timezone.localtime(p.occurred_at).month for p in planned if p.category == "fall")
    winter, summer = falls[12] + falls[1] + falls[2], falls[6] + falls[7] + falls[8]
    assert winter > 1.3 * summer
    west = [p for p in planned if p.unit == "rgh/4w" and p.category == "fall"]
    actions = demo.month_start(NOW.date(), demo.FALL_ACTIONS_MONTHS_AGO)
    first = demo.month_start(NOW.date(), demo.MONTHS)
    before = sum(p.occurred_at.date() < actions for p in west) / ((actions - first).days / 30.4)
    after = sum(p.occurred_at.date() >= actions for p in west) / ((NOW.date() - actions).days / 30.4)
    assert after < 0.6 * before


def test_the_shipped_ecqm_content_is_the_default_and_says_its_licence():
    shipped = Path(settings.BASE_DIR).parent / "content" / "ecqm"
    assert settings.SHIPPED_ECQM_CONTENT == shipped and shipped.resolve() in settings.ANDON_ECQM_CONTENT
    readme = (shipped / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "Public Domain" in readme


def test_the_shipped_ecqm_content_runs_and_its_test_cases_pass():
    from andon.analytics.cql.check import check

    outcomes = check([settings.SHIPPED_ECQM_CONTENT])
    measures = Counter(o.measure for o in outcomes)
    assert set(measures) == {"CMS108VTEProphylaxisFHIR", "CMS334FHIRPCCesareanBirth", "CMS71FHIRSTKAnticoagAFFlutter",
                             "CMS816HHHypoFHIR", "CMS871HHHyperFHIR", "CMSFHIR529HybridHospitalWideReadmission"}
    assert [f"{o.measure}/{o.case}" for o in outcomes if not o.passed] == []
