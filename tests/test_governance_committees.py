"""Committees: who manages them, who reads them (members; viewers for committees that are not
confidential), members' roles and terms, reporting lines without loops, standing items."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from andon.governance import committees
from andon.platform import permissions
from andon.platform.roles import Role


@pytest.fixture
def people(make_user):
    return {"cqo": make_user(Role.CQO), "admin": make_user(Role.ADMINISTRATOR), "board": make_user(Role.BOARD_MEMBER),
            "nurse": make_user(Role.STAFF_REPORTER, "rgh/4w"), "analyst": make_user(Role.QUALITY_ANALYST),
            "peer": make_user(Role.PEER_REVIEW_COMMITTEE)}


def new_committee(hospital, user, name, **fields):
    return committees.save_committee(user, organisation=hospital.organisation, name=name,
                                     quorum=fields.pop("quorum", 2), **fields)


def test_managers_create_committees_and_bad_input_names_the_field(hospital, people):
    with pytest.raises(PermissionDenied):
        new_committee(hospital, people["nurse"], "Quality committee")
    with pytest.raises(ValidationError) as refused:
        committees.save_committee(people["cqo"], organisation=hospital.organisation, name=" ", quorum=0)
    assert set(refused.value.message_dict) == {"name", "quorum"}
    board = new_committee(hospital, people["admin"], "Board Quality Committee")
    qpsc = new_committee(hospital, people["cqo"], "Quality and Patient Safety Committee", key="qpsc",
                         reports_to=board, terms_of_reference="Oversees the programme.")
    assert (board.key, qpsc.key, qpsc.reports_to) == ("board-quality-committee", "qpsc", board)
    with pytest.raises(ValidationError) as loop:
        committees.save_committee(people["cqo"], board, name=board.name, quorum=2, reports_to=qpsc,
                                  version=board.version)
    assert "loop" in loop.value.message_dict["reports_to"][0]
    with pytest.raises(ValidationError) as taken:
        new_committee(hospital, people["cqo"], "Another", key="qpsc")
    assert "qpsc" in taken.value.message_dict["key"][0]


def test_members_roles_and_terms(hospital, people):
    committee = new_committee(hospital, people["cqo"], "QPSC")
    committees.add_member(people["cqo"], committee, people["cqo"], "chair")
    committees.add_member(people["cqo"], committee, people["nurse"], "secretary")
    with pytest.raises(ValidationError) as second_chair:
        committees.add_member(people["cqo"], committee, people["board"], "chair")
    assert "is the chair" in second_chair.value.message_dict["role"][0]
    with pytest.raises(ValidationError) as twice:
        committees.add_member(people["cqo"], committee, people["nurse"], "member")
    assert "already sits" in twice.value.message_dict["user"][0]
    with pytest.raises(PermissionDenied):
        committees.add_member(people["nurse"], committee, people["board"], "member")
    attendee = committees.add_member(people["cqo"], committee, people["board"], "attendee",
                                     started_on=timezone.localdate() - timedelta(days=7))
    assert [(m.user, m.role) for m in committees.current_members(committee)] == [
        (people["board"], "attendee"), (people["cqo"], "chair"), (people["nurse"], "secretary")]
    committees.end_membership(people["cqo"], attendee, timezone.localdate() - timedelta(days=1))
    assert [m.user for m in committees.current_members(committee)] == [people["cqo"], people["nurse"]]
    assert [m.committee for m in committees.my_committees(people["nurse"])] == [committee]


def test_who_reads_a_committee(hospital, people):
    open_one = new_committee(hospital, people["cqo"], "QPSC")
    peer = new_committee(hospital, people["cqo"], "Peer Review Committee", confidential=True)
    committees.add_member(people["cqo"], open_one, people["nurse"], "attendee")
    committees.add_member(people["cqo"], peer, people["peer"], "chair")
    assert list(committees.visible_committees(people["board"])) == [open_one]
    assert list(committees.visible_committees(people["nurse"])) == [open_one]
    assert list(committees.visible_committees(people["peer"])) == [peer]
    assert not permissions.can(people["cqo"], "governance.view_committee", peer)  # confidential: members only
    assert permissions.can(people["peer"], "governance.run_meeting", peer)  # its chair
    assert not permissions.can(people["cqo"], "governance.run_meeting", peer)
    assert permissions.can(people["cqo"], "governance.run_meeting", open_one)
    assert not permissions.can(people["nurse"], "governance.run_meeting", open_one)  # an attendee reads only
    with pytest.raises(PermissionDenied):
        committees.access_committee(people["analyst"], peer.pk)


def test_standing_items(hospital, people):
    committee = new_committee(hospital, people["cqo"], "QPSC")
    first = committees.add_standing_item(people["cqo"], committee, "Safety report")
    committees.add_standing_item(people["cqo"], committee, "Measures")
    with pytest.raises(ValidationError) as refused:
        committees.add_standing_item(people["cqo"], committee, "  ")
    assert "title" in refused.value.message_dict
    committees.remove_standing_item(people["cqo"], first)
    assert [s.title for s in committee.standing_items.all()] == ["Measures"]


def test_the_member_picker_searches_the_organisations_staff(client, hospital, people, make_user):
    """The committee page's member field is a search (no select of every member of staff); the
    search offers the organisation's active staff and the form accepts one of them."""
    cqo = people["cqo"]
    committee = new_committee(hospital, cqo, "Falls group", quorum=1)
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", first_name="Nadia", last_name="Quill")
    client.force_login(cqo)
    page = client.get(f"/governance/committees/{committee.pk}/").content.decode()
    assert f"/governance/committees/{committee.pk}/members/people/" in page and "Quill" not in page
    found = client.get(f"/governance/committees/{committee.pk}/members/people/", {"q": "quill"}).content.decode()
    assert "Nadia Quill" in found
    added = client.post(f"/governance/committees/{committee.pk}/members/",
                        {"user": nurse.pk, "role": "member", "started_on": "2026-01-01"})
    assert added.status_code == 302 and committee.memberships.get().user == nurse
