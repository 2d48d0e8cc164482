"""The demo hospital's committees: the Quality and Patient Safety Committee (chair cqo.olivia,
secretary analyst.jo) reporting to the Board Quality Committee (chair board.rosa), the QAPI
committee, the Medical Executive Committee (chair cmo.peter) and the confidential Peer Review
Committee (chair prc.zara). The QPSC met last month (minutes in draft) and meets this month
(planned). Nothing without the demo's people, and nothing twice."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from andon.platform.models import Organisation, User

from . import committees, meetings
from .models import Committee

QPSC_ITEMS = ["Apologies and declarations of interest", "Patient safety report", "Quality measures dashboard",
              "Risks above tolerance", "Any other business"]


def _person(username: str):
    return User.objects.filter(username=username, is_active=True).first()


def _committee(olivia, organisation, key, name, quorum, terms, members, reports_to=None, confidential=False,
               items=()):
    committee = committees.save_committee(olivia, organisation=organisation, key=key, name=name, quorum=quorum,
                                          terms_of_reference=terms, reports_to=reports_to, meets_every="Monthly",
                                          confidential=confidential)
    start = timezone.localdate() - timedelta(days=365)
    for username, role in members:
        person = _person(username)
        if person is not None:
            committees.add_member(olivia, committee, person, role, started_on=start)
    for title in items:
        committees.add_standing_item(olivia, committee, title)
    return committee


def load() -> None:
    olivia, organisation = _person("cqo.olivia"), Organisation.objects.order_by("pk").first()
    if olivia is None or organisation is None or Committee.objects.exists():
        return
    board = _committee(olivia, organisation, "bqc", "Board Quality Committee", 2,
                       "Assures the board that care is safe and of good quality (42 CFR 482.21(e)).",
                       [("board.rosa", "chair"), ("board.sam", "member"), ("cqo.olivia", "member")],
                       items=["Quality and safety report", "Board quality pack"])
    qpsc = _committee(olivia, organisation, "qpsc", "Quality and Patient Safety Committee", 4,
                      "Oversees the quality and patient safety programme; reports monthly to the Board Quality "
                      "Committee.",
                      [("cqo.olivia", "chair"), ("analyst.jo", "secretary"), ("pso.hana", "member"),
                       ("cmo.peter", "member"), ("mgr.fatima", "member"), ("risk.noah", "member")],
                      reports_to=board, items=QPSC_ITEMS)
    _committee(olivia, organisation, "qapi", "QAPI Committee", 3,
               "Runs the quality assessment and performance improvement programme (42 CFR 482.21).",
               [("cqo.olivia", "chair"), ("qi.uma", "member"), ("analyst.kai", "member"), ("pso.hana", "member")],
               reports_to=qpsc, items=["Performance improvement projects", "Data collection priorities"])
    _committee(olivia, organisation, "mec", "Medical Executive Committee", 4,
               "Acts for the medical staff between its meetings (bylaws).",
               [("cmo.peter", "chair"), ("mso.quinn", "secretary"), ("chair.victor", "member"),
                ("cred.wanda", "member")], reports_to=board)
    _committee(olivia, organisation, "prc", "Peer Review Committee", 3,
               "Reviews the care of practitioners; privileged under state peer-review statutes.",
               [("prc.zara", "chair"), ("dr.yusuf", "member"), ("cmo.peter", "member")], confidential=True)
    _meetings(olivia, qpsc)


def _meetings(olivia, qpsc) -> None:
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month_end = this_month - timedelta(days=1)
    last_month = last_month_end.replace(day=1)
    zone = timezone.get_current_timezone()
    held = meetings.plan_meeting(olivia, qpsc, starts_at=datetime.combine(last_month + timedelta(days=14), time(14),
                                                                          zone),
                                 period_first=(last_month - timedelta(days=1)).replace(day=1),
                                 period_last=last_month - timedelta(days=1), location="Board room")
    meetings.build_agenda(olivia, held)
    members = {m.user: "present" for m in committees.current_members(qpsc)}
    for username in ("risk.noah",):
        person = _person(username)
        if person in members:
            members[person] = "apologies"
    meetings.record_attendance(olivia, held, members)
    meetings.mark_held(olivia, held)
    meetings.write_minutes(olivia, held, "The committee reviewed the month's safety report and measures.")
    meetings.record_decision(olivia, held, "Falls on Medicine to be reviewed at the next meeting with the "
                                           "ward's action plan.", held.agenda.filter(title="Patient safety report")
                             .first())
    # This month's is planned, its agenda left for the secretary to build (her "my work").
    meetings.plan_meeting(olivia, qpsc, starts_at=datetime.combine(
        max(today + timedelta(days=3), this_month + timedelta(days=14)), time(14), zone),
        period_first=last_month, period_last=last_month_end, location="Board room")
