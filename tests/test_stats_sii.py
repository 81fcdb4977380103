"""sii against a direct numpy weighted least squares and the normal-theory CI."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from healthgap.stats import sii
from healthgap.stats.sii import NOTE_MISSING_QUANTILES

# Example data of PHEindicatormethods phe_sii (R documentation, @examples): life
# expectancy by decile in two areas with 95% confidence limits.
EXAMPLE = pl.DataFrame(
    {
        "area": ["Area1"] * 10 + ["Area2"] * 10,
        "decile": list(range(1, 11)) * 2,
        "population": [
            7291,
            7997,
            6105,
            7666,
            5790,
            6934,
            5918,
            5974,
            7147,
            7534,
            21675,
            20065,
            19750,
            24713,
            20112,
            19618,
            22408,
            19752,
            18939,
            19312,
        ],
        "value": [
            75.9,
            78.3,
            83.8,
            83.6,
            80.5,
            81.1,
            81.7,
            84.2,
            80.6,
            86.3,
            70.5,
            71.6,
            72.5,
            73.5,
            73.1,
            76.2,
            78.7,
            80.6,
            80.9,
            80,
        ],
        "lower": [
            72.7,
            75.3,
            80.9,
            80.2,
            77.1,
            78,
            79,
            81.4,
            75.8,
            83.2,
            70.1,
            71.1,
            72,
            73.1,
            72.7,
            75.7,
            78.2,
            80.1,
            80.4,
            79.5,
        ],
        "upper": [
            79.1,
            81.4,
            86.8,
            87.1,
            83.8,
            84.2,
            84.4,
            86.9,
            85.4,
            89.4,
            71,
            72.1,
            73.2,
            73.7,
            75.8,
            78.8,
            79.8,
            81.2,
            81.3,
            80.9,
        ],
    }
)
ARGS = dict(quantile="decile", population="population", value="value", lower_ci="lower", upper_ci="upper")


def wls_reference(pop, y):
    """Low & Low regression y√a = β0 √a + β1 b√a solved with numpy least squares."""
    pop = np.asarray(pop, float)
    a = pop / pop.sum()
    b = np.cumsum(a) - a / 2
    X = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    beta, *_ = np.linalg.lstsq(X, np.asarray(y, float) * np.sqrt(a), rcond=None)
    return beta, a, b


def test_sii_point_estimates_match_numpy_wls():
    out = sii(EXAMPLE, **ARGS, value_type="indicator", by="area", repetitions=1000)
    for area, row in zip(["Area1", "Area2"], out.iter_rows(named=True), strict=True):
        part = EXAMPLE.filter(pl.col("area") == area)
        (b0, b1), _, _ = wls_reference(part["population"], part["value"])
        assert row["sii"] == pytest.approx(b1, rel=1e-10) and row["value"] == row["sii"]
        assert row["rii"] == pytest.approx((b0 + b1) / b0, rel=1e-10)
        assert row["quantiles"] == 10 and row["population"] == part["population"].sum()
    # Fingertips sign: life expectancy rises towards the least deprived end, so SII > 0.
    assert (out["sii"] > 0).all()


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_indicator_simulated_ci_matches_normal_theory(confidence):
    # For value_type="indicator" the SII is linear in the quantile values, so its sampling
    # distribution is normal with variance Σ c_i² se_i²: the simulation must reproduce it.
    out = sii(
        EXAMPLE,
        **ARGS,
        value_type="indicator",
        by="area",
        confidence=confidence,
        repetitions=100_000,
        seed=11,
    )
    z = norm.ppf(1 - (1 - confidence) / 2)
    for area, row in zip(["Area1", "Area2"], out.iter_rows(named=True), strict=True):
        part = EXAMPLE.filter(pl.col("area") == area)
        (_b0, b1), a, b = wls_reference(part["population"], part["value"])
        c = a * (b - np.sum(a * b)) / np.sum(a * (b - np.sum(a * b)) ** 2)
        se_i = (part["upper"].to_numpy() - part["lower"].to_numpy()) / (2 * norm.ppf(0.975))
        half = z * np.sqrt(np.sum(c**2 * se_i**2))
        tol = 0.02 if confidence == 0.95 else 0.04
        assert row["sii_lower"] == pytest.approx(b1 - half, abs=tol * half)
        assert row["sii_upper"] == pytest.approx(b1 + half, abs=tol * half)
        assert row["rii_lower"] < row["rii"] < row["rii_upper"]


def test_rate_and_proportion_scales_and_seed():
    df = pl.DataFrame(
        {
            "q": [1, 2, 3, 4, 5],
            "n": [100, 120, 90, 110, 100],
            "v": [50.0, 45, 40, 35, 30],
            "l": [45.0, 41, 36, 31, 26],
            "u": [55.0, 50, 44, 39, 34],
        }
    )
    args = dict(quantile="q", population="n", value="v", lower_ci="l", upper_ci="u", repetitions=5000)
    rate = sii(df, **args, value_type="rate", seed=1)
    assert rate.equals(sii(df, **args, value_type="rate", seed=1))
    assert not rate.equals(sii(df, **args, value_type="rate", seed=2))
    (_b0, b1), _, _ = wls_reference(df["n"], df["v"])
    assert rate["sii"][0] == pytest.approx(b1) and b1 < 0
    assert rate["sii_lower"][0] < b1 < rate["sii_upper"][0]
    pct = sii(df, **args, value_type="proportion", scale=100, seed=1)
    frac = sii(df.with_columns(pl.col("v", "l", "u") / 100), **args, value_type="proportion", seed=1)
    assert pct["sii_lower"][0] == pytest.approx(100 * frac["sii_lower"][0], rel=1e-10)
    assert pct["rii_upper"][0] == pytest.approx(frac["rii_upper"][0], rel=1e-10)


def test_group_missing_a_quantile_gets_note():
    df = EXAMPLE.filter(~((pl.col("area") == "Area2") & (pl.col("decile") == 4)))
    out = sii(df, **ARGS, value_type="indicator", by="area", repetitions=1000)
    assert out["note"].to_list() == [None, NOTE_MISSING_QUANTILES]
    assert out["sii"][1] is None and out["sii"][0] is not None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000))
def test_row_order_and_grouping_independent(seed):
    grouped = sii(EXAMPLE, **ARGS, value_type="rate", by="area", repetitions=2000, seed=5)
    shuffled = sii(
        EXAMPLE.sample(fraction=1.0, shuffle=True, seed=seed),
        **ARGS,
        value_type="rate",
        by="area",
        repetitions=2000,
        seed=5,
    )
    for c in ("sii", "sii_lower", "sii_upper", "rii", "rii_lower", "rii_upper"):
        assert np.allclose(shuffled[c].to_numpy(), grouped[c].to_numpy(), rtol=1e-9, atol=0)
    single = sii(EXAMPLE.filter(pl.col("area") == "Area2"), **ARGS, value_type="rate", repetitions=2000)
    assert single["sii"][0] == pytest.approx(grouped["sii"][1], rel=1e-12)


def test_a_groups_interval_does_not_depend_on_the_other_groups():
    """Each group simulates from its own stream (seed and group key): computed alone or with
    other groups, in any order, it gets the same interval (the book computes an SII for one
    condition on the welcome page and for all of them in a chapter)."""
    both = sii(EXAMPLE, **ARGS, value_type="rate", by="area", repetitions=2000, seed=9)
    for area in ("Area1", "Area2"):
        alone = sii(
            EXAMPLE.filter(pl.col("area") == area),
            **ARGS,
            value_type="rate",
            by="area",
            repetitions=2000,
            seed=9,
        )
        row = both.filter(pl.col("area") == area)
        for c in ("sii_lower", "sii_upper", "rii_lower", "rii_upper"):
            assert alone[c][0] == row[c][0], (area, c)
    other_seed = sii(EXAMPLE, **ARGS, value_type="rate", by="area", repetitions=2000, seed=10)
    assert other_seed["sii_lower"][0] != both["sii_lower"][0]
