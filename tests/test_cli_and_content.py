"""The `andon` command line and content loading."""

import io
import subprocess
import sys

import pytest
import yaml
from auditlog.models import LogEntry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import examples
from andon import cli
from andon.measures.models import Annotation
from andon.platform import content
from andon.platform.demo import DEMO_PASSWORD, PEOPLE, load_demo_hospital
from andon.platform.models import Facility, Organisation, RoleGrant, Unit, User
from andon.platform.roles import Role


def test_help_lists_the_platform_commands():
    result = subprocess.run([sys.executable, "-m", "andon.cli", "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "worker", "migrate", "createuser", "demo", "load-content"):
        assert command in result.stdout


def test_createuser_grants_roles_over_scopes(hospital, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough passphrase 9\n"))
    code = cli.main(["createuser", "nurse.zoe", "--email", "zoe@example.org", "--password-stdin",
                     "--role", "staff_reporter@rgh/4w", "--role", "unit_manager@lch"])
    assert code == 0
    user = User.objects.get(username="nurse.zoe")
    assert user.check_password("a long enough passphrase 9") and not user.is_staff
    grants = {(g.role, g.facility.code if g.facility else None, g.unit.code if g.unit else None)
              for g in RoleGrant.objects.filter(user=user)}
    assert grants == {("staff_reporter", "rgh", "4w"), ("unit_manager", "lch", None)}


def test_createuser_admin_gets_the_admin_site_and_organisation_scope(hospital, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough passphrase 9\n"))
    assert cli.main(["createuser", "it.admin", "--admin", "--password-stdin"]) == 0
    user = User.objects.get(username="it.admin")
    assert user.is_staff and user.role_grants.get().role == Role.ADMINISTRATOR
    assert user.role_grants.get().facility is None


@pytest.mark.parametrize(("arguments", "message"), [
    (["--role", "wizard"], "unknown role 'wizard'"),
    (["--role", "staff_reporter@xyz"], "no facility with code 'xyz'"),
    (["--role", "staff_reporter@rgh/nowhere"], "no unit with code 'nowhere' in rgh"),
])
def test_createuser_explains_bad_arguments_and_creates_nothing(hospital, monkeypatch, capsys, arguments, message):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough passphrase 9\n"))
    assert cli.main(["createuser", "someone", "--password-stdin", *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not User.objects.filter(username="someone").exists()


def test_createuser_refuses_weak_passwords(hospital, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("password\n"))
    assert cli.main(["createuser", "weak", "--password-stdin"]) == 2
    assert "too short" in capsys.readouterr().err
    assert not User.objects.filter(username="weak").exists()


def test_demo_is_refused_outside_demo_mode(db, settings, capsys):
    settings.DEMO = False
    assert cli.main(["demo"]) == 2
    assert "ANDON_DEMO=1" in capsys.readouterr().err
    assert not User.objects.exists()


def test_demo_hospital_has_every_role_and_reloads_without_changes(demo_hospital):
    # demo_hospital is what the loader wrote (its worker's first load, restored whole); the
    # loader then runs again over it, as `andon demo` run twice does.
    assert set(RoleGrant.objects.values_list("role", flat=True)) == set(Role.values)
    assert Facility.objects.count() == 2 and 15 <= Unit.objects.count() <= 20
    assert all(user.is_demo and user.check_password(DEMO_PASSWORD) for user in User.objects.all()[:3])
    entries = LogEntry.objects.count()
    logins = load_demo_hospital()
    assert len(logins) == len(PEOPLE) >= 20
    assert LogEntry.objects.count() == entries  # nothing changed, nothing recorded
    # the measures' two chart annotations (hand hygiene, falls) and the demo QI project's PDSA
    # start on the falls chart are not added again
    assert Annotation.objects.count() == 3


def test_load_content_loads_an_organisation_file_idempotently(db, tmp_path, capsys):
    folder = tmp_path / "content" / "organisation"
    folder.mkdir(parents=True)
    (folder / "st-mary.yaml").write_text(
        "organisation: {name: St Mary's Health}\n"
        "facilities:\n"
        "  - code: smh\n    name: St Mary's Hospital\n    units:\n"
        "      - {code: surg, name: Surgery, kind: service_line, units: [{code: w1, name: Ward 1}]}\n"
    )
    assert cli.main(["load-content", str(tmp_path / "content")]) == 0
    assert "organisation: 1 file loaded" in capsys.readouterr().out
    ward = Unit.objects.get(code="w1")
    assert ward.parent.code == "surg" and ward.facility.organisation.name == "St Mary's Health"
    entries = LogEntry.objects.count()
    assert cli.main(["load-content", str(tmp_path / "content")]) == 0
    assert LogEntry.objects.count() == entries and Unit.objects.count() == 2


@pytest.mark.parametrize(("text", "message"), [
    ("organisation: {name: X}\nfacilities: [{name: No code}]\n", "facilities[0].code: required"),
    ("organisation: {name: X}\nfacilities: [{code: x, name: X, units: [{code: a, name: A, kind: castle}]}]\n",
     "facilities[0].units[0].kind: 'castle' is not one of"),
    ("organisation: {name: X\n", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
])
def test_load_content_names_the_file_and_field_of_an_error_and_stores_nothing(db, tmp_path, capsys, text, message):
    path = tmp_path / "organisation" / "bad.yaml"
    path.parent.mkdir()
    path.write_text(text)
    assert cli.main(["load-content", str(path.parent)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and message in error
    assert not Organisation.objects.exists() and not Unit.objects.exists()


def test_load_content_rejects_files_that_are_not_utf8(db, tmp_path, capsys):
    path = tmp_path / "organisation" / "latin1.yaml"
    path.parent.mkdir()
    path.write_bytes("organisation: {name: Hôpital}\n".encode("latin-1"))
    assert cli.main(["load-content", str(path)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_unknown_content_folders_and_missing_paths_are_reported(db, tmp_path):
    with pytest.raises(content.ContentError, match="no such file"):
        content.load_content([tmp_path / "missing"])
    stray = tmp_path / "elsewhere" / "x.yaml"
    stray.parent.mkdir()
    stray.write_text("a: 1\n")
    with pytest.raises(content.ContentError, match="not under a folder named for a kind"):
        content.load_content([stray])


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                     ["organisation", "facilities", "units", "name", "code", "kind"]), inner, max_size=4),
                 max_leaves=12).map(lambda value: yaml.safe_dump(value).encode()),
))
def test_any_malformed_organisation_file_is_refused_cleanly_and_stores_nothing(db, tmp_path, junk):
    path = tmp_path / "organisation" / "junk.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(junk)
    before = (Organisation.objects.count(), Facility.objects.count(), Unit.objects.count())
    try:
        content.load_content([path])
    except content.ContentError as error:
        assert str(path) in str(error)
        assert (Organisation.objects.count(), Facility.objects.count(), Unit.objects.count()) == before
