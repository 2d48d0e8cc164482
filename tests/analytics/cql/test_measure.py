"""Population membership (measure.populations): each population within the one containing it,
by the CQF measure semantics, for proportion and ratio scoring."""

from andon.analytics.cql.measure import memberships, populations


def proportion(**values):
    return populations({code.replace("_", "-"): set(keys) for code, keys in values.items()}, "proportion")


def ratio(**values):
    return populations({code.replace("_", "-"): set(keys) for code, keys in values.items()}, "ratio")


def test_proportion_numerator_is_within_the_denominator_less_its_exclusions():
    got = proportion(initial_population="abcd", denominator="abc", denominator_exclusion="a", numerator="abd")
    assert got["denominator"] == {"a", "b", "c"}
    assert got["denominator-exclusion"] == {"a"}
    assert got["numerator"] == {"b"}  # a is excluded, d is not in the denominator


def test_proportion_exception_only_when_the_numerator_is_not_met():
    got = proportion(initial_population="abc", denominator="abc", numerator="a", denominator_exception="abx")
    assert got["denominator-exception"] == {"b"}


def test_proportion_numerator_exclusion_is_within_the_numerator():
    got = proportion(initial_population="abc", denominator="abc", numerator="a", numerator_exclusion="ab")
    assert got["numerator-exclusion"] == {"a"}


def test_nothing_counts_outside_the_initial_population():
    got = proportion(initial_population="", denominator="a", numerator="a", denominator_exclusion="a")
    assert all(not keys for keys in got.values())


def test_ratio_numerator_is_drawn_from_the_initial_population_beside_the_denominator():
    # an encounter the denominator excludes still counts in a ratio's numerator (cqfmeasures IG, Table 3-4)
    got = ratio(initial_population="abc", denominator="ab", denominator_exclusion="a", numerator="ac", numerator_exclusion="")
    assert got["denominator"] == {"a", "b"}
    assert got["denominator-exclusion"] == {"a"}
    assert got["numerator"] == {"a", "c"}


def test_ratio_numerator_exclusion_does_not_need_the_numerator_criteria():
    # exclusions are removed "before determining if Numerator criteria are met"
    got = ratio(initial_population="ab", denominator="ab", numerator="", numerator_exclusion="bz")
    assert got["numerator"] == set()
    assert got["numerator-exclusion"] == {"b"}


def test_memberships_are_what_the_score_counts():
    got = proportion(initial_population="abcde", denominator="abcde", denominator_exclusion="a", numerator="bc",
                     numerator_exclusion="c", denominator_exception="bd")
    # numerator b (c excluded); denominator b c e (a excluded, d an exception not in the numerator)
    assert memberships(got) == {"numerator-membership": 1, "denominator-membership": 3}
    got = ratio(initial_population="ab", denominator="ab", denominator_exclusion="a", numerator="", numerator_exclusion="b")
    assert memberships(got) == {"numerator-membership": 0, "denominator-membership": 1}
