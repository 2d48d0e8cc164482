"""The platform's shared input checks (andon/platform/inputs.py): what each refuses, with what
words, and that nothing but an InputError comes out of them whatever they are given."""

import io
import json
import math
import re
import zipfile
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.platform import inputs
from tests.fuzz import examples, hostile_text


@pytest.mark.parametrize(("text", "reason"), [
    ("NaN", "NaN is not a number JSON allows"),
    ('{"count": Infinity}', "Infinity is not a number JSON allows"),
    ('{"count": -Infinity}', "-Infinity is not a number JSON allows"),
    ('{"count": 1e999}', "'1e999' is too large a number"),
    ("9" * 5000, "a whole number of 5,000 digits (at most 100)"),
    ('{"a": 1, "a": 2}', "the key 'a' appears more than once in an object"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 8 levels deep"),
    ("[" * 9 + "]" * 9, "nested more than 8 levels deep"),
    ('{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}', "nested more than 8 levels deep"),
    ('["a\\u0000b"]', "a text contains a NUL character"),
    ('{"a\\u0000": 1}', "a text contains a NUL character"),
    ("{", "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
    (b'{"a": "\xe9"}', "not UTF-8 text"),
    ("[" + "1," * 600_000 + "1]", "longer than 1,000,000 characters"),
])
def test_json_that_python_would_take_or_crash_on_is_refused_with_the_reason(text, reason):
    with pytest.raises(inputs.InputError) as refused:
        inputs.load_json(text, max_bytes=1_000_000, max_depth=8)
    assert str(refused.value) == reason


def test_json_within_the_limits_is_read_as_json():
    text = json.dumps({"a": [1, 2.5, -3e10, None, True, "x"], "b": {"c": [[]]}, "n": 10**19})
    assert inputs.load_json(text, max_bytes=1000, max_depth=4) == json.loads(text)
    assert inputs.load_json(b"[1e-999]", max_bytes=10, max_depth=1) == [0.0]


@given(st.one_of(hostile_text(200), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                              lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                         max_size=3),
                              max_leaves=20).map(lambda v: json.dumps(v, allow_nan=True))))
@settings(max_examples=examples(200), deadline=None)
def test_the_json_loader_answers_json_or_an_input_error_and_nothing_else(text):
    try:
        data = inputs.load_json(text, max_bytes=10_000, max_depth=4)
    except inputs.InputError:
        return
    # What it accepts is plain, finite JSON that Python's strict dump writes back.
    assert json.loads(json.dumps(data, allow_nan=False)) == data


@pytest.mark.parametrize(("text", "reason"), [
    ("nan", "'nan' is not a number (write it like 12 or 12.5)"),
    ("inf", "'inf' is not a number (write it like 12 or 12.5)"),
    ("1_000", "'1_000' is not a number (write it like 12 or 12.5)"),
    ("\u0661\u0662", "'\u0661\u0662' is not a number (write it like 12 or 12.5)"),
    ("0x10", "'0x10' is not a number (write it like 12 or 12.5)"),
    ("1e308", "1e+308 is not between 0 and 1e+15"),
    ("9" * 400, "'" + "9" * 36 + "... is too large a number"),
    ("-1", "-1.0 is not between 0 and 1e+15"),
])
def test_numbers_written_as_text_are_plain_finite_and_in_range(text, reason):
    with pytest.raises(inputs.InputError) as refused:
        inputs.number(text, low=0)
    assert str(refused.value) == reason


def test_numbers_in_range_are_read():
    assert [inputs.number(t) for t in ("12", " 12.5 ", "-3", "1e3", ".5", "1E+2")] == [12, 12.5, -3, 1000, 0.5, 100]
    assert inputs.finite(10**15) == 1e15
    for value in (math.nan, math.inf, 10**16, True, "1", None):
        with pytest.raises(inputs.InputError):
            inputs.finite(value)


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), (" 7 ", 7), ("0", None), ("-3", None), ("\u00b2", None), ("\u0661", None), ("1e5", None),
    ("9" * 25, None), (str(2**63 - 1), 2**63 - 1), (str(2**63), None), ("", None), (None, None),
])
def test_record_ids_are_ascii_digits_within_the_databases_keys(text, expected):
    assert inputs.record_id(text) == expected


def test_moments_are_moved_to_utc_and_refused_beyond_the_calendar(settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14, where a naive year-1 midnight is year 0 in UTC
    plus_14 = datetime.fromisoformat("0001-01-01T00:00+14:00")
    for value in (plus_14, datetime.fromisoformat("9999-12-31T23:59-14:00"), datetime(1, 1, 1),
                  datetime(1899, 12, 31, 12, tzinfo=UTC)):
        with pytest.raises(inputs.InputError, match="is not a time from 1900-01-01 to 2199-12-31"):
            inputs.moment(value)
    assert inputs.moment(datetime(2024, 3, 1, 12)) == datetime(2024, 2, 29, 22, tzinfo=UTC)


def test_dates_and_months_stay_inside_the_range():
    assert inputs.day(date(2024, 2, 29)) == date(2024, 2, 29)
    assert inputs.month("2024-02") == date(2024, 2, 1)
    with pytest.raises(inputs.InputError, match="9999-12-31 is not a date from 1900-01-01 to 2199-12-31"):
        inputs.day(date(9999, 12, 31))
    for text in ("0000-01", "2024-13", "2024-1", "\u0662\u0660\u0662\u0664-01", "1899-12"):
        with pytest.raises(inputs.InputError):
            inputs.month(text)


@pytest.mark.parametrize(("data", "reason"), [
    ("Tomb\u00e9\n".encode("latin-1"), "not UTF-8 text: byte 0xe9 on line 1 (position 4) cannot be read"),
    (b"a,b\n1,\x002\n", "not text: a NUL character on line 2 (position 6)"),
])
def test_text_files_are_utf8_without_nul(data, reason):
    with pytest.raises(inputs.InputError) as refused:
        inputs.utf8_text(data)
    assert str(refused.value) == reason
    assert inputs.utf8_text("\ufeffunit,month\n".encode()) == "unit,month\n"


def zipped(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


NOT_A_ZIP = re.escape("not a valid ZIP archive, as an XLSX or DOCX file is (File is not a zip file)")


@pytest.mark.parametrize(("data", "reason"), [
    (b"PK\x03\x04" + b"\x00" * 40, NOT_A_ZIP),
    (zipped({"a.xml": b"<a/>"})[:-10], NOT_A_ZIP),
    (zipped({f"part{n}.xml": b"<a/>" for n in range(11)}), "the archive holds 11 parts; at most 10"),
    (zipped({"a.xml": bytes(range(256)) * 4000, "b.xml": bytes(range(256)) * 4000}),
     "the archive unpacks to 2,048,000 bytes; at most 1,572,864"),
    # 1 MB of zeros packs into 1 KB (how tight depends on zlib's version): a zip bomb's part,
    # within the size allowed.
    (zipped({"xl/worksheets/sheet1.xml": b"\x00" * 2**20}),
     r"the part 'xl/worksheets/sheet1\.xml' unpacks to 1,0\d\d times its packed size \(at most 100\): it looks "
     r"like a zip bomb"),
])
def test_zip_archives_are_bounded_before_anything_unpacks_them(data, reason):
    with pytest.raises(inputs.InputError) as refused:
        inputs.check_zip(data, max_unpacked=int(1.5 * 2**20), max_members=10)
    assert re.fullmatch(reason, str(refused.value)), str(refused.value)


def test_zip_archives_within_the_bounds_pass():
    # A small part may pack tighter than the ratio: only parts past 100 KB are held to it.
    inputs.check_zip(zipped({"a.xml": b"\x00" * 50_000, "b.xml": bytes(range(256)) * 400}), max_unpacked=2**20)


@pytest.mark.parametrize(("name", "text", "reason"), [
    ("deep.json", "[" * 100_000 + "]" * 100_000, "not valid JSON: nested more than 64 levels deep"),
    ("nan.json", '{"target": NaN}', "not valid JSON: NaN is not a number JSON allows"),
    ("nan.yaml", "target: .nan\n", "not valid YAML: nan is not a finite number"),
    ("deep.yaml", "a: " + "[" * 70 + "]" * 70 + "\n", "not valid YAML: nested more than 64 levels deep"),
    ("laughs.yaml", "a: &a [x, x]\nb: [*a, *a]\n", "not valid YAML: aliases (*name) are not accepted"),
])
def test_content_files_are_read_within_the_same_limits(tmp_path, name, text, reason):
    from andon.platform import content

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(content.ContentError) as refused:
        content.read_file(path)
    assert str(refused.value).startswith(f"{path}: {reason}")
