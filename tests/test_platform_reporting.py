"""The platform's reporting registry (andon/platform/reporting.py) on its own: sources keep the
order they were registered in and a key once; a source that fails is a problem naming it while the
others' items still come; a severity outside the three is refused; pack sections come in their
order, a list of sections flattened, nothing for a section without content; the period in words.
Plain Python: no database."""

from datetime import date

import pytest

from andon.platform import reporting
from andon.platform.reporting import AttentionItem, PackSection, ReportingContext

CONTEXT = ReportingContext(1, date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 10))


@pytest.fixture
def registry(monkeypatch):
    """Empty registries for the test (the modules' own sources are left as they were)."""
    monkeypatch.setattr(reporting, "_ATTENTION", {})
    monkeypatch.setattr(reporting, "_SECTIONS", {})


def test_sources_keep_their_order_and_a_key_is_registered_once(registry):
    reporting.register_attention_source("b.second", "Second", lambda c: [AttentionItem("b.second", "B", 2)])
    reporting.register_attention_source("a.first", "First", lambda c: [AttentionItem("a.first", "A", 1)])
    reporting.register_attention_source("b.second", "Again", lambda c: [AttentionItem("b.second", "C", 3)])
    assert reporting.attention_sources() == [("b.second", "Second"), ("a.first", "First")]
    items, problems = reporting.attention_items(CONTEXT)
    assert [(i.source, i.title, i.count) for i in items] == [("b.second", "B", 2), ("a.first", "A", 1)]
    assert problems == []


def test_a_failing_source_is_a_problem_naming_it_and_the_others_still_answer(registry):
    def broken(context):
        raise ZeroDivisionError("no months")

    reporting.register_attention_source("x.first", "Overdue things", lambda c: [AttentionItem("x.first", "1 thing", 1)])
    reporting.register_attention_source("x.broken", "Broken source", broken)
    reporting.register_attention_source("x.last", "Late things", lambda c: [AttentionItem("x.last", "2 things", 2)])
    items, problems = reporting.attention_items(CONTEXT)
    assert [i.title for i in items] == ["1 thing", "2 things"]
    assert problems == ["Broken source: could not be read (ZeroDivisionError)."]


def test_each_source_is_given_the_context(registry):
    seen = []
    reporting.register_attention_source("x.seen", "Seen", lambda c: seen.append(c) or [])
    assert reporting.attention_items(CONTEXT) == ([], [])
    assert seen == [CONTEXT]


def test_a_severity_outside_the_three_is_refused():
    for severity in reporting.SEVERITIES:
        assert AttentionItem("x", "t", 1, severity=severity).severity == severity
    assert AttentionItem("x", "t", 1).severity == "attention"
    with pytest.raises(ValueError, match="'urgent' is not one of information, attention, concern"):
        AttentionItem("x", "t", 1, severity="urgent")


def test_pack_sections_come_in_their_order_flattened_and_failures_named(registry):
    reporting.register_pack_section("voice", "Patient voice", 30, lambda c: PackSection("voice", "Voice", "<p>v</p>"))
    reporting.register_pack_section("measures", "Key measures", 10, lambda c: [
        PackSection("measure:falls", "Falls", "<p>f</p>", {"rate": 3.1}),
        PackSection("measure:clabsi", "CLABSI", "<p>c</p>")])
    reporting.register_pack_section("empty", "Nothing this month", 20, lambda c: None)
    reporting.register_pack_section("broken", "Broken section", 20, lambda c: 1 / 0)
    assert reporting.pack_section_keys() == [("measures", "Key measures", 10), ("broken", "Broken section", 20),
                                             ("empty", "Nothing this month", 20), ("voice", "Patient voice", 30)]
    sections, problems = reporting.pack_sections(CONTEXT)
    assert [s.key for s in sections] == ["measure:falls", "measure:clabsi", "voice"]
    assert sections[0].figures == {"rate": 3.1}
    assert problems == ["Broken section: could not be made (ZeroDivisionError)."]


@pytest.mark.parametrize(("first", "last", "said"), [
    (date(2026, 3, 1), date(2026, 3, 31), "March 2026"),
    (date(2026, 2, 1), date(2026, 2, 28), "February 2026"),
    (date(2026, 1, 1), date(2026, 3, 31), "1 Jan 2026 to 31 Mar 2026"),
    (date(2026, 3, 1), date(2026, 3, 30), "1 Mar 2026 to 30 Mar 2026"),
    (date(2025, 12, 15), date(2026, 1, 14), "15 Dec 2025 to 14 Jan 2026"),
])
def test_the_period_in_words(first, last, said):
    assert reporting.period_words(ReportingContext(1, first, last, last)) == said
