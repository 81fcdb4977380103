"""standardised_indicators on data without a sex column, by age band.

The age bands are standardised for sex only (a group is never standardised for what defines
it), so without sex they have no cells to be standardised over: one stratum, everybody. Until
round 9 that failed (``protected_rate`` over no columns: polars' struct of no keys).
"""

from __future__ import annotations

import importlib

import polars as pl
import pytest
from polars.testing import assert_series_equal

from healthgap.stats.indirect import protected_rate, random_round

acc = importlib.import_module("healthgap.descriptive.access")

# statin among people with CHD; no sex column; 5 people on a statin of 7 with a value (a multiple
# of 5: the reference rounding leaves the total as it is), one without a value
PEOPLE = pl.DataFrame(
    {
        "age": [40, 42, 61, 63, 66, 44, 70, 71],
        "chd": [True] * 8,
        "statin": [True, False, True, True, False, True, True, None],
    }
)


def test_age_bands_without_sex_are_their_crude_rates(default_config):
    """What the book shows in that case: each age band's standardised value is its crude
    percentage (expected = the band's people x the rate over every band, so the ratio is the
    band's rate over everybody's, times everybody's rate), with the ratio and its interval; the
    sex groups, which the data lack, are simply not there."""
    run = acc.standardised_indicators.__wrapped__  # type: ignore[attr-defined]
    got = run(PEOPLE.lazy(), default_config, dimensions=["age_band"]).sort("order")
    assert got.get_column("measure").unique().to_list() == ["statin"]
    assert got.get_column("level").to_list() == ["40-44", "60-64", "65-69", "70-74"]
    assert got.get_column("numerator").to_list() == [2, 2, 0, 1]
    assert got.get_column("denominator").to_list() == [3, 2, 1, 1]
    assert got.get_column("excluded").to_list() == [0, 0, 0, 1]
    overall = 5 / 7
    assert_series_equal(got.get_column("overall"), pl.Series("overall", [100 * overall] * 4))
    assert_series_equal(
        got.get_column("expected"), pl.Series("expected", [3 * overall, 2 * overall, overall, overall])
    )
    assert_series_equal(got.get_column("value"), got.get_column("crude").alias("value"))
    assert got.get_column("crude").to_list() == pytest.approx([200 / 3, 100, 0, 100])
    assert got.get_column("lower_ci").is_not_null().all()


def test_other_dimensions_without_sex_are_standardised_for_age(default_config):
    run = acc.standardised_indicators.__wrapped__  # type: ignore[attr-defined]
    people = PEOPLE.with_columns(pl.Series("imd_quintile", ["1", "1", "2", "2", "1", "2", "1", "2"]))
    got = run(people.lazy(), default_config, dimensions=["imd_quintile", "age_band"])
    assert set(got.get_column("dimension")) == {"imd_quintile", "age_band"}


def test_a_reference_rate_over_no_columns_is_the_overall_rate():
    frame = pl.DataFrame({"o": [3, 4, 5], "n": [10, 10, 20]})
    exact = frame.with_columns(protected_rate("o", "n", over=[], base=1).alias("r")).get_column("r")
    assert exact.to_list() == [12 / 40] * 3
    # rounded to a multiple of 5: 10 or 15 events, the same draw for every row
    rounded = frame.with_columns(protected_rate("o", "n", over=[], base=5).alias("r")).get_column("r")
    assert rounded.n_unique() == 1 and rounded.item(0) in (10 / 40, 15 / 40)
    # the same draw every time
    again = frame.select(random_round(pl.col("o").sum(), keys=(), base=5)).item()
    assert again == frame.select(random_round(pl.col("o").sum(), keys=(), base=5)).item()
    assert again in (10.0, 15.0)
