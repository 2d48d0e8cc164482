"""The permission matrix's rows of patients' comments (andon/voice/comments.py): read and tagged by
the patient experience lead, patient relations, unit managers (their units) and the CQO; themes
are the patient experience lead's; raising a safety event needs the comment and safety.report."""

from datetime import date
from itertools import count

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case, ScopeCase

READERS = frozenset({Role.PATIENT_EXPERIENCE_LEAD, Role.PATIENT_RELATIONS, Role.UNIT_MANAGER, Role.CQO})
LEAD = frozenset({Role.PATIENT_EXPERIENCE_LEAD})
BASE = "/api/v1/voice"
_numbers = count(1)


def _comment(other, text="The call bell was not answered and my father fell."):
    from andon.platform.models import Unit
    from andon.voice.models import SurveyComment, SurveyImport, SurveyResponse

    ward = Unit.objects.get(facility__code="rgh", code="4w")
    n = next(_numbers)
    survey_import = SurveyImport.objects.create(question_set="hcahps", question_set_version="1",
                                                filename="matrix.csv", sha256=f"{n:064d}", imported_by=other)
    response = SurveyResponse.objects.create(survey_import=survey_import, question_set="hcahps",
                                             survey_id=f"MATRIX-{n}", discharge_date=date(2026, 1, 5),
                                             month=date(2026, 1, 1), unit=ward)
    return SurveyComment.objects.create(response=response, unit=ward, month=date(2026, 1, 1), text=text)


def _theme():
    from andon.voice.models import CommentTheme

    n = next(_numbers)
    return CommentTheme.objects.create(key=f"matrix-{n}", label=f"Matrix theme {n}")


def a_comment(user, other):
    return [_comment(other).pk], {}


def a_theme(user, other):
    return [_theme().pk], {"label": "Renamed in the matrix", "description": "", "active": "on"}


def comments_ticked(user, other):
    return [], {"comments": [_comment(other).pk], "add": _theme().pk}


def a_comment_tagged(user, other):
    return [_comment(other).pk], {"themes": [_theme().pk]}


def a_comment_raised(user, other):
    return [_comment(other).pk], {"kind": "incident", "category": "other", "harm": "unknown",
                                  "occurred_on": "2026-01-05", "narrative": "A fall told in a survey comment."}


def comment_id(user, other, hospital):
    return {"comment_id": _comment(other).pk}


def theme_id(user, other, hospital):
    return {"theme_id": _theme().pk}


def new_theme(hospital):
    return {"label": f"Matrix new theme {next(_numbers)}"}


PAGES = {
    "voice:comments": Case(READERS),
    "voice:comments_tag": Case(READERS, method="post", setup=comments_ticked),
    "voice:comment": Case(READERS, setup=a_comment),
    "voice:comment_row": Case(READERS, setup=a_comment),
    "voice:comment_raise": Case(READERS, setup=a_comment),
    "voice:comment_units": Case(READERS),
    "voice:comment_themes": Case(LEAD),
    "voice:comment_theme": Case(LEAD, setup=a_theme),
}

OBJECT_CASES = {
    "voice:comment (tag)": ("voice:comment", Case(READERS, method="post", setup=a_comment_tagged)),
    "voice:comment_row (save)": ("voice:comment_row", Case(READERS, method="post", setup=a_comment_tagged)),
    "voice:comment_raise (send)": ("voice:comment_raise", Case(READERS, method="post", setup=a_comment_raised)),
    "voice:comment_theme (save)": ("voice:comment_theme", Case(LEAD, method="post", setup=a_theme)),
}

API = {
    ("GET", BASE + "/comments"): ApiCase(READERS, query={"q": "fell"}),
    ("GET", BASE + "/comments/{comment_id}"): ApiCase(READERS, setup=comment_id),
    ("PUT", BASE + "/comments/{comment_id}/themes"): ApiCase(READERS, setup=comment_id, body={"theme_ids": []}),
    ("POST", BASE + "/comments/{comment_id}/safety-event"): ApiCase(READERS, setup=comment_id, body={}),
    ("GET", BASE + "/comment-themes"): ApiCase(READERS),
    ("POST", BASE + "/comment-themes"): ApiCase(LEAD, body=new_theme),
    ("PUT", BASE + "/comment-themes/{theme_id}"): ApiCase(LEAD, setup=theme_id, body={"label": "Renamed theme"}),
}

SCOPE_CELLS = {
    "voice:comments, unit left out": ScopeCase("manager@lch", "/voice/comments/", shows=("name",)),
    "voice:comments, unit outside": ScopeCase("manager@lch", "/voice/comments/?unit={rgh/4w}", (403,)),
    "voice:comment_units, unit left out": ScopeCase("manager@lch", "/voice/comments/units/", shows=("name",)),
    "voice:comment_units, unit outside": ScopeCase("manager@lch", "/voice/comments/units/?unit={rgh/4w}", (403,)),
    "GET /voice/comments, left out": ScopeCase("manager@lch", BASE + "/comments", api=True),
    "GET /voice/comments, unit_id outside": ScopeCase("manager@lch", BASE + "/comments?unit_id={rgh/4w}", (403,),
                                                      api=True),
}
