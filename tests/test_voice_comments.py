"""Patients' survey comments (issue 20 item 3): the search (every word, case, accents, unit scope,
months, theme, untagged, question; through the services, the page and the API), tagging one and
many (with the history of the comment's themes), themes from content and the lead's page (retired
themes kept, not offered), raising a safety event (text carried over, the link shown only to those
who may see the event, refused twice, permissions) and hostile input (script, NUL, 10 MB).

The survey import is another subject's: the comments here are made with the ORM (`make_comment`)."""

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from andon.platform import content, history
from andon.platform.roles import Role
from andon.safety.models import SafetyEvent
from andon.voice import comments, demo_comments
from andon.voice.models import CommentTheme, SurveyComment, SurveyImport, SurveyResponse

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture
def themes(db):
    content.load_content([CONTENT / "comment-themes"])
    return {theme.key: theme for theme in CommentTheme.objects.all()}


@pytest.fixture
def people(make_user):
    return {
        "priya": make_user(Role.PATIENT_EXPERIENCE_LEAD, "", username="priya"),
        "fatima": make_user(Role.UNIT_MANAGER, "rgh/medicine", username="fatima"),  # 4W and 5E below it
        "lena": make_user(Role.UNIT_MANAGER, "lch/2a", username="lena"),
        "rosa": make_user(Role.BOARD_MEMBER, "", username="rosa"),
        "hana": make_user(Role.PATIENT_SAFETY_OFFICER, "", username="hana"),
    }


class Comments:
    """Makes survey responses and their comments with the ORM (the import is subject A's)."""

    def __init__(self, hospital, user):
        self.hospital, self.n = hospital, 0
        self.survey_import = SurveyImport.objects.create(question_set="hcahps", question_set_version="1",
                                                         filename="test.csv", sha256="0" * 64, imported_by=user)

    def __call__(self, unit: str, month: date, text: str, question: str = "") -> SurveyComment:
        self.n += 1
        unit = self.hospital.unit(unit)
        response = SurveyResponse.objects.create(survey_import=self.survey_import, question_set="hcahps",
                                                 survey_id=f"S{self.n}", discharge_date=month.replace(day=10),
                                                 month=month, unit=unit)
        return SurveyComment.objects.create(response=response, unit=unit, month=month, question=question, text=text)


@pytest.fixture
def make_comment(hospital, people):
    return Comments(hospital, people["priya"])


@pytest.fixture
def ward_comments(make_comment):
    jan, feb, mar = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
    return {
        "noise": make_comment("rgh/4w", jan, "The ward was so NOISY at night, nobody could sleep."),
        "fall": make_comment("rgh/4w", feb, "My mother fell in the bathroom and nobody came for an hour."),
        "nurses": make_comment("rgh/5e", feb, "The nurses were kind and explained everything.", question="comments_staff"),
        "cafe": make_comment("rgh/5e", mar, "Le café était froid."),
        "lakeside": make_comment("lch/2a", feb, "Noisy at night and the nurses were rude."),
        "icu": make_comment("rgh/icu", mar, "Night noise from the alarms."),
    }


def ids(found):
    return {c.pk for c in found}


def search(user, **filters):
    return ids(comments.search_comments(user, comments.CommentFilters(**filters)))


# --- search ---------------------------------------------------------------------------------------

def test_every_word_must_match_in_any_case(people, ward_comments):
    c, priya = ward_comments, people["priya"]
    assert search(priya, words="noisy night") == {c["noise"].pk, c["lakeside"].pk}
    assert search(priya, words="NIGHT noisy") == {c["noise"].pk, c["lakeside"].pk}
    assert search(priya, words="noisy rude") == {c["lakeside"].pk}
    assert search(priya, words="noisy kitten") == set()
    assert search(priya, words="nurse") == {c["nurses"].pk, c["lakeside"].pk}  # a word's start finds it
    assert search(priya, words="") == {x.pk for x in c.values()}


def test_accents_are_matched_as_written_and_syntax_is_plain_words(people, ward_comments):
    priya = people["priya"]
    assert search(priya, words="café") == {ward_comments["cafe"].pk}
    assert search(priya, words='"night" & | ! :* (noisy') == {ward_comments["noise"].pk, ward_comments["lakeside"].pk}
    assert search(priya, words="%") == {x.pk for x in ward_comments.values()}  # no word: no word filter


def test_a_unit_manager_sees_only_the_comments_of_their_units(people, ward_comments):
    c, fatima = ward_comments, people["fatima"]
    assert search(fatima) == {c["noise"].pk, c["fall"].pk, c["nurses"].pk, c["cafe"].pk}
    assert search(fatima, words="noisy night") == {c["noise"].pk}
    assert search(fatima, unit=c["noise"].unit) == {c["noise"].pk, c["fall"].pk}
    with pytest.raises(PermissionDenied):
        search(fatima, unit=c["lakeside"].unit)
    with pytest.raises(PermissionDenied):
        search(people["rosa"])  # the board reads scores, not patients' words
    with pytest.raises(PermissionDenied):
        comments.access_comment(fatima, c["lakeside"].pk)


def test_months_theme_untagged_and_question(people, ward_comments, themes):
    c, priya = ward_comments, people["priya"]
    assert search(priya, month_from=date(2026, 2, 1), month_to=date(2026, 2, 28)) == {
        c["fall"].pk, c["nurses"].pk, c["lakeside"].pk}
    comments.set_comment_themes(priya, c["noise"], [themes["noise"].pk])
    comments.set_comment_themes(priya, c["lakeside"], [themes["noise"].pk, themes["staff-attitude"].pk])
    assert search(priya, theme=themes["noise"]) == {c["noise"].pk, c["lakeside"].pk}
    assert search(priya, untagged=True) == {c["fall"].pk, c["nurses"].pk, c["cafe"].pk, c["icu"].pk}
    assert search(priya, question="comments_staff") == {c["nurses"].pk}


def test_the_words_are_marked_in_escaped_text():
    shown = comments.highlighted("<script>alert(1)</script> the Noise & noise", ["noise"])
    assert shown == ("&lt;script&gt;alert(1)&lt;/script&gt; the <mark>Noise</mark> &amp; <mark>noise</mark>")
    long = "a " * 1000 + "noise" + " b" * 1000
    cut = comments.highlighted(long, ["noise"])
    assert cut.startswith("…") and cut.endswith("…") and "<mark>noise</mark>" in cut
    assert len(cut) < comments.SNIPPET + 40


def test_search_page_and_api_keep_the_unit_scope(client, people, ward_comments):
    c = ward_comments
    client.force_login(people["fatima"])
    page = client.get(reverse("voice:comments"), {"q": "noisy night"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "<mark>NOISY</mark>" in text and "rude" not in text and "2A Medical" not in text
    assert client.get(reverse("voice:comments"), {"unit": c["lakeside"].unit_id}).status_code == 403
    assert "2A Medical" not in client.get(reverse("voice:comments")).content.decode()  # not offered
    found = client.get("/api/v1/voice/comments", {"q": "noisy"}).json()
    assert [item["id"] for item in found["items"]] == [c["noise"].pk]
    assert client.get("/api/v1/voice/comments", {"unit_id": c["lakeside"].unit_id}).status_code == 403
    assert client.get(f"/api/v1/voice/comments/{c['lakeside'].pk}").status_code == 403
    assert client.get(reverse("voice:comment", args=[c["lakeside"].pk])).status_code == 403
    assert client.get("/api/v1/voice/comments", {"month_from": "2026-13"}).status_code in (400, 422)


# --- themes ---------------------------------------------------------------------------------------

def test_themes_load_from_content_and_keep_the_leads_changes(people, themes):
    assert {"communication", "pain", "noise", "cleanliness", "food", "waiting", "discharge", "staff-attitude",
            "medication", "safety-harm", "praise"} == set(themes)
    comments.update_theme(people["priya"], themes["noise"], label="Noise and sleep", description="")
    content.load_content([CONTENT / "comment-themes"])
    assert CommentTheme.objects.get(key="noise").label == "Noise and sleep"
    with pytest.raises(content.ContentError, match=r"themes\[0\]\.key"):
        comments.load_comment_themes({"themes": [{"key": "Not A Slug", "label": "x"}]}, "bad.yaml")


def test_lead_adds_renames_and_retires_themes(people, themes, ward_comments):
    priya = people["priya"]
    theme = comments.create_theme(priya, "Parking", "Finding a space")
    assert (theme.key, theme.active) == ("parking", True)
    with pytest.raises(ValidationError, match="exists already"):
        comments.create_theme(priya, "parking")
    with pytest.raises(PermissionDenied):
        comments.create_theme(people["fatima"], "Visiting hours")
    comments.set_comment_themes(priya, ward_comments["noise"], [theme.pk])
    comments.update_theme(priya, theme, label="Parking", active=False)
    assert theme not in comments.offered_themes()
    comment = ward_comments["noise"]
    assert list(comment.themes.all()) == [theme]  # stays where it was put
    comments.set_comment_themes(priya, comment, [theme.pk, themes["noise"].pk])  # kept, and another added
    with pytest.raises(ValidationError, match="Retired"):
        comments.set_comment_themes(priya, ward_comments["fall"], [theme.pk])
    with pytest.raises(ValidationError, match="Retired"):
        comments.add_themes_to(priya, [ward_comments["fall"].pk], add=[theme.pk])


def test_theme_names_are_checked(people, themes):
    priya = people["priya"]
    for label, problem in (("", "Name the theme"), ("x" * 121, "At most 120"), ("bad\x00name", "NUL")):
        with pytest.raises(ValidationError, match=problem):
            comments.create_theme(priya, label)
    assert CommentTheme.objects.count() == len(themes)


# --- tagging --------------------------------------------------------------------------------------

def test_tagging_one_comment_is_in_its_history(people, themes, ward_comments):
    fatima, comment = people["fatima"], ward_comments["fall"]
    comments.set_comment_themes(fatima, comment, [themes["safety-harm"].pk, themes["waiting"].pk])
    comments.set_comment_themes(fatima, comment, [themes["safety-harm"].pk])
    assert set(comment.themes.values_list("key", flat=True)) == {"safety-harm"}
    entries = LogEntry.objects.get_for_object(comment).order_by("pk")
    assert [e.actor for e in entries] == [fatima, fatima]
    changes = [json.loads(e.changes) if isinstance(e.changes, str) else e.changes for e in entries]
    assert changes[0]["themes"]["objects"] == sorted(["Safety and harm", "Waiting"]) or \
        set(changes[0]["themes"]["objects"]) == {"Safety and harm", "Waiting"}
    assert changes[1]["themes"]["operation"] == "delete" and changes[1]["themes"]["objects"] == ["Waiting"]
    assert history.history_of(comment)  # the page shows it in words
    with pytest.raises(PermissionDenied):
        comments.set_comment_themes(people["lena"], comment, [themes["pain"].pk])
    with pytest.raises(ValidationError, match="No theme with id"):
        comments.set_comment_themes(fatima, comment, [999999])


def test_tagging_many_is_all_or_nothing(people, themes, ward_comments):
    c, fatima = ward_comments, people["fatima"]
    assert comments.add_themes_to(fatima, [c["noise"].pk, c["fall"].pk], add=[themes["noise"].pk]) == 2
    assert set(themes["noise"].comments.all()) == {c["noise"], c["fall"]}
    with pytest.raises(PermissionDenied):
        comments.add_themes_to(fatima, [c["nurses"].pk, c["lakeside"].pk], add=[themes["praise"].pk])
    assert not themes["praise"].comments.exists()
    comments.add_themes_to(fatima, [c["fall"].pk], remove=[themes["noise"].pk])
    assert set(themes["noise"].comments.all()) == {c["noise"]}
    with pytest.raises(ValidationError, match="Tick"):
        comments.add_themes_to(fatima, [], add=[themes["noise"].pk])


def test_tagging_pages_row_and_many(client, people, themes, ward_comments):
    c = ward_comments
    client.force_login(people["fatima"])
    row = client.get(reverse("voice:comment_row", args=[c["noise"].pk]), HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and b"Save themes" in row.content
    saved = client.post(reverse("voice:comment_row", args=[c["noise"].pk]), {"themes": [themes["noise"].pk]})
    assert saved.status_code == 200 and b"Noise at night" in saved.content and b"Save themes" not in saved.content
    page = client.post(reverse("voice:comment", args=[c["fall"].pk]), {"themes": [themes["safety-harm"].pk]})
    assert page.status_code == 302
    many = client.post(reverse("voice:comments_tag"), {"comments": [c["noise"].pk, c["cafe"].pk],
                                                       "add": themes["food"].pk, "back": "q=x"})
    assert many.status_code == 302 and many["Location"].endswith("?q=x")
    assert set(themes["food"].comments.all()) == {c["noise"], c["cafe"]}
    assert client.post(reverse("voice:comment_row", args=[c["lakeside"].pk]), {"themes": []}).status_code == 403


def test_the_unit_page_counts_themes(client, people, themes, ward_comments):
    c, priya = ward_comments, people["priya"]
    comments.set_comment_themes(priya, c["noise"], [themes["noise"].pk])
    comments.set_comment_themes(priya, c["fall"], [themes["noise"].pk, themes["safety-harm"].pk])
    comments.set_comment_themes(priya, c["lakeside"], [themes["noise"].pk])
    counts, total = comments.theme_counts(people["fatima"], None)
    assert [(t.key, n) for t, n in counts] == [("noise", 2), ("safety-harm", 1)] and total == 4
    counts, total = comments.theme_counts(priya, c["noise"].unit, date(2026, 2, 1), date(2026, 2, 1))
    assert [(t.key, n) for t, n in counts] == [("noise", 1), ("safety-harm", 1)] and total == 1
    client.force_login(people["fatima"])
    page = client.get(reverse("voice:comment_units"), {"unit": c["noise"].unit_id})
    assert page.status_code == 200 and b"<svg" in page.content and b"Noise at night 2" in page.content


# --- raising a safety event -----------------------------------------------------------------------

def report(**fields):
    from andon.safety import services as safety
    from django.utils import timezone
    from datetime import datetime, time

    values = {"kind": "incident", "category": "other", "unit_id": None, "harm": "unknown",
              "occurred_at": timezone.make_aware(datetime.combine(date(2026, 2, 10), time(12))), "narrative": ""}
    values.update(fields)
    return safety.Report(**values)


def test_raising_an_event_carries_the_text_and_links_once(people, ward_comments, safety_taxonomy):
    fatima, comment = people["fatima"], ward_comments["fall"]
    event = comments.raise_safety_event(fatima, comment, report(unit_id=comment.unit_id, narrative=comment.text))
    comment.refresh_from_db()
    assert comment.safety_event == event
    assert (event.narrative, event.unit_id, event.reporter, event.status) == (
        comment.text, comment.unit_id, fatima, SafetyEvent.objects.get(pk=event.pk).status)
    assert event.status in ("triage", "submitted")  # a normal event, on its way to triage
    with pytest.raises(ValidationError, match="already"):
        comments.raise_safety_event(fatima, comment, report(unit_id=comment.unit_id, narrative="again"))
    assert SafetyEvent.objects.count() == 1
    assert comments.event_link_visible(fatima, comment)  # a unit manager sees events of the unit
    assert not comments.event_link_visible(people["priya"], comment)  # told only that one was raised


def test_raising_is_refused_without_the_comment_or_with_a_bad_report(people, ward_comments, safety_taxonomy):
    lakeside = ward_comments["lakeside"]
    with pytest.raises(PermissionDenied):
        comments.raise_safety_event(people["fatima"], lakeside, report(unit_id=lakeside.unit_id, narrative="x"))
    with pytest.raises(ValidationError):
        comments.raise_safety_event(people["lena"], lakeside, report(unit_id=lakeside.unit_id, narrative=""))
    lakeside.refresh_from_db()
    assert lakeside.safety_event is None and SafetyEvent.objects.count() == 0


def test_the_raise_page_is_prefilled_and_lands_on_the_event(client, people, ward_comments, safety_taxonomy):
    comment = ward_comments["fall"]
    client.force_login(people["fatima"])
    form = client.get(reverse("voice:comment_raise", args=[comment.pk]))
    assert form.status_code == 200 and b"My mother fell in the bathroom" in form.content
    assert b'value="2026-02-01"' in form.content
    sent = client.post(reverse("voice:comment_raise", args=[comment.pk]), {
        "kind": "incident", "category": "fall", "harm": "moderate", "occurred_on": "2026-02-05",
        "narrative": comment.text})
    assert sent.status_code == 400 and b"injury_level" in sent.content  # the category's own question
    sent = client.post(reverse("voice:comment_raise", args=[comment.pk]), {
        "kind": "incident", "category": "other", "harm": "moderate", "occurred_on": "2026-02-05",
        "narrative": comment.text + " (from the survey)"})
    event = SafetyEvent.objects.get()
    assert sent.status_code == 302 and sent["Location"] == reverse("safety:event", args=[event.pk])
    assert event.narrative.endswith("(from the survey)") and event.harm == "moderate"
    again = client.get(reverse("voice:comment_raise", args=[comment.pk]))
    assert again.status_code == 302 and SafetyEvent.objects.count() == 1


def test_the_api_raises_once_and_hides_the_event_from_those_who_may_not_see_it(client, people, ward_comments,
                                                                                safety_taxonomy):
    comment = ward_comments["fall"]
    client.force_login(people["fatima"])
    url = f"/api/v1/voice/comments/{comment.pk}/safety-event"
    made = client.post(url, {}, content_type="application/json")
    assert made.status_code == 201
    event = SafetyEvent.objects.get(pk=made.json()["event_id"])
    assert event.narrative == comment.text
    assert client.post(url, {}, content_type="application/json").status_code == 422
    client.force_login(people["priya"])
    seen = client.get(f"/api/v1/voice/comments/{comment.pk}").json()
    assert seen["safety_event_raised"] is True and seen["safety_event_id"] is None
    page = client.get(reverse("voice:comment", args=[comment.pk])).content.decode()
    assert "A safety event was raised" in page and event.reference not in page


# --- hostile input --------------------------------------------------------------------------------

def test_hostile_strings_are_refused_or_escaped(client, people, ward_comments, themes, make_comment):
    priya = people["priya"]
    script = make_comment("rgh/4w", date(2026, 1, 1), '<script>alert("x")</script> noisy <img src=x onerror=1>')
    client.force_login(priya)
    page = client.get(reverse("voice:comments"), {"q": "<script> noisy"}).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<img src=x" not in page
    assert client.get(reverse("voice:comments"), {"q": "a\x00b"}).status_code in (200, 400)
    assert client.get(reverse("voice:comments"), {"q": "x" * 10_000_000}).status_code == 400
    assert client.get("/api/v1/voice/comments", {"q": "x" * 10_000}).status_code == 422
    before = LogEntry.objects.count()
    assert client.post("/api/v1/voice/comment-themes", {"label": "a\x00b"},
                       content_type="application/json").status_code in (400, 422)
    assert client.post("/api/v1/voice/comment-themes", {"label": "x" * 10_000_000},
                       content_type="application/json").status_code in (400, 413, 422)
    assert LogEntry.objects.count() == before and CommentTheme.objects.count() == len(themes)
    made = client.post("/api/v1/voice/comment-themes", {"label": "<b>Bold</b>"}, content_type="application/json")
    assert made.status_code == 201
    listing = client.get(reverse("voice:comment_themes")).content.decode()
    assert "<b>Bold</b>" not in listing and "&lt;b&gt;Bold&lt;/b&gt;" in listing
    assert script.pk in {item["id"] for item in client.get("/api/v1/voice/comments", {"q": "noisy"}).json()["items"]}


# --- the demo -------------------------------------------------------------------------------------

def test_the_demo_loader_tags_by_keywords_and_does_nothing_without_comments(db, make_comment):
    demo_comments.load()  # themes only: no comments
    assert CommentTheme.objects.count() == 11
    fall = make_comment("rgh/4w", date(2026, 1, 1), "She fell and the nurses were wonderful, thank you.")
    quiet = make_comment("rgh/4w", date(2026, 1, 1), "Nothing to say.")
    demo_comments.load()
    demo_comments.load()  # again: nothing twice
    assert set(fall.themes.values_list("key", flat=True)) == {"safety-harm", "praise"}
    assert not quiet.themes.exists()
    assert yaml.safe_load((CONTENT / "comment-themes" / "default.yaml").read_text())["themes"]


def test_postgresql_matches_the_words_through_their_index(people, ward_comments):
    """The search's expression is the GIN index's (migration 0002_comment_words_index), so the planner can use it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the words' index is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'voice_comment_words'")
        assert "to_tsvector('simple'::regconfig, text)" in cursor.fetchone()[0]
        cursor.execute("SET LOCAL enable_seqscan = off")
        found = comments.search_comments(people["priya"], comments.CommentFilters(words="noisy night"))
        sql, params = found.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "voice_comment_words" in plan


def test_the_search_page_costs_the_same_queries_for_5_or_25_comments(client, people, themes, make_comment):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(people["fatima"])

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("voice:comments"), {"q": "noisy"}).status_code == 200
        return len(captured)

    for n in range(5):
        comment = make_comment("rgh/4w", date(2026, 1, 1), f"Noisy night {n}")
        comment.themes.add(themes["noise"])
    queries()  # the first page of the session reads what later pages find in the cache
    few = queries()
    for n in range(20):
        comment = make_comment("rgh/5e", date(2026, 2, 1), f"Noisy ward {n}")
        comment.themes.add(themes["noise"], themes["pain"])
    assert queries() == few
