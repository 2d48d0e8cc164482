"""How many generated examples the property-based and schema fuzzing tests try.

Each test names its own count for the default run (bounded, so CI stays inside its time);
`make test-deep` sets ANDON_FUZZ_SCALE=10 for release checks, which multiplies every count.
"""

import os


def examples(count: int) -> int:
    return count * max(1, int(os.environ.get("ANDON_FUZZ_SCALE", "1")))


def use_scaled_default() -> None:
    """Tests that name no count get hypothesis's default (100) times the scale."""
    from hypothesis import settings

    settings.register_profile("andon", max_examples=examples(settings.default.max_examples))
    settings.load_profile("andon")


# Values that broke or nearly broke an input boundary (issue 14): non-finite and huge numbers,
# digits of other scripts, dates at the ends of the calendar with extreme offsets, deep JSON,
# long texts. Fuzzing tests mix them with generated text, so each run tries the known bad ones.
HOSTILE = (
    "", " ", "nan", "NaN", "inf", "-Infinity", "1e308", "-1e308", "1e999", "9" * 400, "1_000", "\u0661\u0662",
    "\u00b2", "0x10", "-1", "0", "99999999999999999999", "0001-01-01", "9999-12-31", "0001-01-01T00:00+14:00",
    "9999-12-31T23:59-14:00", "2024-02-30", "2024-13", "0000-01", "x" * 5000, "\u202e", "Tomb\u00e9", "null", "[]",
    "{}", '{"a":' * 40 + "1" + "}" * 40, "[" * 3000 + "]" * 3000, "<script>", "' OR 1=1 --",
)


def hostile_text(max_size: int = 40):
    """A strategy: one of HOSTILE half the time, else generated text, or an integer or float
    written as text."""
    from hypothesis import strategies as st

    return st.one_of(st.sampled_from(HOSTILE), st.one_of(st.text(max_size=max_size), st.integers().map(str),
                                                         st.floats().map(str)))


# What a spreadsheet cell may hold besides: formulas a spreadsheet program would run (the export's
# business to defuse, the import's to store as text or refuse) and a field past the csv module's
# limit of 131,072 characters.
SPREADSHEET_HOSTILE = (
    "=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example","Open")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1",
    "'=1", "x" * 200_000,
)


def hostile_cell(max_size: int = 40):
    """A strategy: hostile_text, or now and then one of SPREADSHEET_HOSTILE."""
    from hypothesis import strategies as st

    return st.one_of(hostile_text(max_size), st.sampled_from(SPREADSHEET_HOSTILE))
