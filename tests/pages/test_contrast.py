"""The two ends of an ordered dimension are judged by the interval of their difference, not by
whether their own intervals overlap (pages._contrast)."""

from __future__ import annotations

import math

import polars as pl
import pytest
from scipy.stats import norm

from healthgap.pages._contrast import CHANCE, NOT_CHANCE, compare
from healthgap.pages._groups import compare as overlap_compare
from tests.pages.test_blocks import DEPRIVATION, PLACE, check_sentence

Z = norm.ppf(0.975)


def frame(values, se, *, dim=DEPRIVATION):
    levels = list(dim.order)[: len(values)]
    return pl.DataFrame(
        {
            "dimension": dim.name,
            "level": levels,
            "value": [float(v) for v in values],
            "lower_ci": [v - Z * s for v, s in zip(values, se, strict=True)],
            "upper_ci": [v + Z * s for v, s in zip(values, se, strict=True)],
        }
    )


def test_a_gap_whose_intervals_overlap_but_whose_difference_excludes_zero_is_a_gap():
    # 35% (32.1% to 37.9%) against 30% (27.1% to 32.9%): the intervals overlap, the difference
    # 5.0 (95% CI 0.8 to 9.2) does not hold 0
    data = frame([35, 33, 32, 31, 30], [1.5] * 5)
    old = overlap_compare(data, DEPRIVATION, subject="the share")
    assert old.endswith("(the two intervals overlap, so it could be chance).")  # the defect
    text = compare(data, DEPRIVATION, subject="the share")
    half = Z * 1.5 * math.sqrt(2)
    assert text == (
        "The share was 35.0% (95% CI 32.1% to 37.9%) in the most deprived fifth against 30.0% (95% CI 27.1% "
        f"to 32.9%) in the least deprived fifth, a difference of 5.0 percentage points (95% CI "
        f"{5 - half:.1f} to {5 + half:.1f} percentage points), {NOT_CHANCE}."
    )
    assert check_sentence(text, data, DEPRIVATION) > 5


@pytest.mark.parametrize(("a", "b"), [(31, 30), (30, 31.5)])
def test_a_difference_whose_interval_holds_zero_could_be_chance(a, b):
    data = frame([a, 33, 32, 31, b], [1.5] * 5)
    text = compare(data, DEPRIVATION, subject="the share")
    assert text.endswith(f", {CHANCE}.") and "overlap" not in text
    check_sentence(text, data, DEPRIVATION)


def test_ratios_read_their_standard_errors_on_the_log_scale():
    # rates 12 and 8 per 1,000 with log intervals (se of the log 0.15 and 0.2)
    values, se_log = [12.0, 10.0, 10.0, 10.0, 8.0], [0.15, 0.1, 0.1, 0.1, 0.2]
    data = pl.DataFrame(
        {
            "dimension": DEPRIVATION.name,
            "level": list(DEPRIVATION.order),
            "value": values,
            "lower_ci": [v * math.exp(-Z * s) for v, s in zip(values, se_log, strict=True)],
            "upper_ci": [v * math.exp(Z * s) for v, s in zip(values, se_log, strict=True)],
        }
    )
    text = compare(data, DEPRIVATION, subject="the rate", suffix="", unit=" per 1,000", scale="ratio")
    half = Z * math.hypot(12 * 0.15, 8 * 0.2)
    assert f"(95% CI {4 - half:.1f} to {4 + half:.1f} per 1,000), " in text
    check_sentence(text, data, DEPRIVATION, scale="ratio")


def test_standardised_values_use_the_uncapped_ratio_interval():
    # a standardised share capped at 100% reads its standard error from the ratio's own interval
    data = frame([95.0, 90, 90, 90, 80.0], [2.0] * 5).with_columns(
        pl.col("upper_ci").clip(upper_bound=100.0),
        ratio=pl.col("value") / 85,
        ratio_lower=pl.col("value") / 85 * math.exp(-Z * 0.06),
        ratio_upper=pl.col("value") / 85 * math.exp(Z * 0.06),
    )
    cols = ("ratio", "ratio_lower", "ratio_upper")
    text = compare(data, DEPRIVATION, subject="the share", standardised=cols)
    half = Z * math.hypot(95 * 0.06, 80 * 0.06)
    assert f"(95% CI {15 - half:.1f} to {15 + half:.1f} percentage points)" in text
    check_sentence(text, data, DEPRIVATION, standardised=cols)


def test_unordered_dimensions_and_missing_ends_are_unchanged():
    data = frame([35, 33, 32, 31], [1.5] * 4, dim=PLACE)
    assert compare(data, PLACE, subject="the share") == overlap_compare(data, PLACE, subject="the share")
    hidden = frame([35, 33, 32, 31, 30], [1.5] * 5).with_columns(
        pl.when(pl.col("level") == "5").then(None).otherwise(pl.col("value")).alias("value")
    )
    assert "cannot be compared" in compare(hidden, DEPRIVATION, subject="the share")
    no_ci = frame([35, 33, 32, 31, 30], [1.5] * 5).with_columns(lower_ci=pl.lit(None, pl.Float64))
    assert compare(no_ci, DEPRIVATION, subject="the share").endswith("a difference of 5.0 percentage points.")
