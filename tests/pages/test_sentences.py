"""The sentence helpers several pages share: wording on present, absent and suppressed values."""

from __future__ import annotations

import math

import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import Published, publish
from healthgap.pages.sentences import (
    SUPPRESSED_TEXT,
    compare,
    extremes,
    fmt,
    gap_sentence,
    group_name,
    ratio_phrase,
    ratio_sentence,
    row_of,
    simultaneous_clause,
    simultaneous_ratios,
    than,
    value_of,
)

SETTINGS = DisclosureSettings()


def _imd(values: list[float | None], events: list[int] | None = None) -> pl.DataFrame:
    levels = [str(i + 1) for i in range(len(values))]
    return pl.DataFrame(
        {
            "dimension": ["imd_quintile"] * len(values),
            "level": levels,
            "label": levels,
            "events": events or [100] * len(values),
            "population": [1000] * len(values),
            "value": values,
        }
    )


def _ratios(rr: list[float | None], lower: list[float | None], upper: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dimension": ["sex"] * 2,
            "dimension_label": ["Sex"] * 2,
            "level": ["female", "male"],
            "label": ["Female", "Male"],
            "measure": ["chd"] * 2,
            "is_reference": [True, False],
            "rate_ratio": rr,
            "rr_lower": lower,
            "rr_upper": upper,
        }
    )


def test_fmt_says_suppressed_for_a_missing_number():
    assert fmt(1234.56, 1) == "1,234.6"
    assert fmt(12.0, 0, suffix=" days") == "12 days"
    assert fmt(None) == SUPPRESSED_TEXT


def test_group_names_read_naturally():
    assert group_name({"dimension": "imd_quintile", "level": "1", "label": "1"}) == "the most deprived fifth"
    assert group_name({"dimension": "imd_quintile", "level": "3", "label": "3"}) == "deprivation fifth 3"
    assert group_name({"dimension": "sex", "level": "male", "label": "Male"}, people=True) == "men"
    assert group_name({"dimension": "age_band", "level": "50-54", "label": "50-54"}) == "people aged 50-54"
    assert group_name({"dimension": "ethnicity", "level": "Not stated", "label": "Not stated"}) == (
        "people with no ethnic group recorded"
    )
    assert group_name({"dimension": "locality", "level": "Ipswich", "label": "Ipswich"}, people=True) == (
        "people in Ipswich"
    )


def test_helpers_read_a_published_frame_like_its_polars_frame():
    table = _imd([12.34, 10.0, 8.0])
    published = publish(table, counts=["events", "population"], settings=SETTINGS)
    assert isinstance(published, Published)
    assert row_of(published, "2") == row_of(published.frame, "2")
    assert value_of(published, "1") == pytest.approx(12.34)
    assert value_of(published, "9") is None
    assert extremes(published) == extremes(table)


def test_extremes_over_many_one_and_no_published_groups():
    assert extremes(_imd([12.34, None, 8.0])) == (
        "highest in the most deprived fifth (12.3%) and lowest in deprivation fifth 3 (8.0%)"
    )
    assert extremes(_imd([None, 7.26, None])) == "published only in deprivation fifth 2 (7.3%)"
    assert extremes(_imd([None, None])) == "not published for any group (too few people)"


def test_extremes_says_when_the_groups_are_level():
    assert extremes(_imd([7.26, 7.26, 7.26])) == "the same in every group (7.3%)"
    assert extremes(_imd([7.26, 7.3, 7.31])) == "the same in every group (7.3%)"  # as the figures show them
    assert extremes(_imd([7.26, None, 7.26])) == "the same in every published group (7.3%)"
    assert extremes(_imd([7.26, 7.36])).startswith("highest in deprivation fifth 2 (7.4%) and lowest in")


def test_gap_sentence_present_suppressed_and_with_a_unit():
    table = _imd([16.0, None, 6.7])
    assert gap_sentence(table, subject="the share waiting", level="1", reference="3") == (
        "The share waiting was 16.0% in the most deprived fifth against 6.7% in deprivation fifth 3, "
        "a difference of 9.3 percentage points."
    )
    assert gap_sentence(table, subject="the share waiting", level="2", reference="3") == (
        "The share waiting cannot be compared between deprivation fifth 2 and deprivation fifth 3 because "
        "a group is too small to publish."
    )
    days = gap_sentence(table, subject="the median wait", level="1", reference="3", dp=0, suffix=" days")
    assert days.endswith("a difference of 9.")  # no unit unless asked: unchanged behaviour
    with_unit = gap_sentence(
        table, subject="the median wait", level="1", reference="3", dp=0, suffix=" days", unit=" days"
    )
    assert with_unit == (
        "The median wait was 16 days in the most deprived fifth against 7 days in deprivation fifth 3, "
        "a difference of 9 days."
    )


def test_compare_and_ratio_phrases():
    table = _imd([16.0, None, 6.7])
    assert (
        compare(table, level="1", reference="3")
        == "16.0% against 6.7% (a difference of 9.3 percentage points)"
    )
    assert compare(table, level="2", reference="3").startswith("not comparable")
    assert ratio_phrase(1.8) == "1.8 times as likely"
    assert ratio_phrase(0.8) == "20% less likely"
    assert ratio_phrase(1.01) == "about as likely"
    assert ratio_phrase(None).startswith("(not published")
    assert (than(0.8), than(1.2), than(None)) == ("than", "as", "as")


def test_ratio_sentence_clear_chance_and_unpublished():
    clear = _ratios([1.0, 1.5], [None, 1.2], [None, 1.9])
    assert ratio_sentence(
        clear, dimension="sex", measure="chd", reference="female", outcome="to have CHD"
    ) == (
        "After allowing for age, men were 1.5 times as likely to have CHD as women "
        "(rate ratio 1.50, 95% CI 1.20 to 1.90)."
    )
    chance = _ratios([1.0, 0.8], [None, 0.6], [None, 1.1])
    assert ratio_sentence(
        chance, dimension="sex", measure="chd", reference="female", outcome="to have CHD"
    ) == (
        "After allowing for age, men were 20% less likely to have CHD than women "
        "(rate ratio 0.80, 95% CI 0.60 to 1.10); the difference could be due to chance."
    )
    hidden = _ratios([1.0, None], [None, None], [None, None])
    published = publish(hidden.with_columns(n=pl.lit(100)), counts=["n"], settings=SETTINGS)
    assert ratio_sentence(published, dimension="sex", measure="chd", reference="female", outcome="x") == (
        "Rate ratios by sex could not be published because some groups are too small."
    )
    assert ratio_sentence(
        published, dimension="sex", measure="chd", reference="female", outcome="x", subject="CHD"
    ) == ("Rate ratios of CHD by sex could not be published because some groups are too small.")


def _five_ratios() -> pl.DataFrame:
    """Five groups against the White group; their 95% intervals symmetric on the log scale."""
    z = 1.959963984540054
    rr = [1.69, 1.45, 1.29, 1.05, 0.75]
    se = [0.23, 0.08, 0.09, 0.20, 0.31]
    return pl.DataFrame(
        {
            "level": ["Other", "Asian", "Black", "Mixed", "Not stated"],
            "rate_ratio": rr,
            "rr_lower": [r * math.exp(-z * s) for r, s in zip(rr, se, strict=True)],
            "rr_upper": [r * math.exp(z * s) for r, s in zip(rr, se, strict=True)],
        }
    )


def test_simultaneous_ratios_bonferroni_by_hand() -> None:
    from scipy.stats import norm

    rows = _five_ratios().head(4)
    out = simultaneous_ratios(rows)
    z4 = norm.ppf(1 - 0.05 / (2 * 4))
    se = [0.23, 0.08, 0.09, 0.20]
    for r, s in zip(out.iter_rows(named=True), se, strict=True):
        assert r["comparisons"] == 4
        assert r["simultaneous_lower"] == pytest.approx(r["rate_ratio"] * math.exp(-z4 * s))
        assert r["simultaneous_upper"] == pytest.approx(r["rate_ratio"] * math.exp(z4 * s))


def test_simultaneous_clause_says_when_the_extreme_could_be_chance() -> None:
    rows = simultaneous_ratios(_five_ratios().head(4))
    tail = simultaneous_clause(rows, "Other", name=lambda g: f"the {g} group", reference="the White group")
    # Other: 1.69 with log-se 0.23 is clear at 95% alone (1.08 to 2.65) but not for all 4 together
    assert tail.startswith(
        "; it is the largest of the differences of 4 groups from the White group, and allowing"
    )
    assert "it could be due to chance." in tail
    assert "the Asian group (rate ratio 1.45; " in tail and "the Black group (rate ratio 1.29; " in tail
    assert tail.endswith("also differ clearly from the White group.")
    one = simultaneous_ratios(_five_ratios().head(1))
    assert simultaneous_clause(one, "Other", name=str, reference="x") == "."
