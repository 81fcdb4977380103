"""crude_rate and proportion against independent scipy/numpy references and published examples."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import norm, poisson

from healthgap.stats import crude_rate, proportion
from healthgap.stats.proportions import NOTE_ZERO_DENOMINATOR
from healthgap.stats.rates import NOTE_ZERO_POPULATION

CONFIDENCES = [0.95, 0.998]


def exact_poisson_reference(o: int, confidence: float) -> tuple[float, float]:
    """Exact Poisson limits by root-finding on the Poisson tail probabilities."""
    a = (1 - confidence) / 2
    lower = 0.0 if o == 0 else brentq(lambda m: poisson.sf(o - 1, m) - a, 1e-12, 10 * o + 50)
    upper = brentq(lambda m: poisson.cdf(o, m) - a, 1e-12, 10 * o + 50)
    return lower, upper


def byars_reference(o: float, confidence: float) -> tuple[float, float]:
    z = norm.ppf(1 - (1 - confidence) / 2)
    lo = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    hi = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    return lo, hi


def wilson_reference(x: float, n: float, confidence: float) -> tuple[float, float]:
    """Roots of (p̂ - p)² = z² p (1 - p) / n, the definition of the Wilson interval."""
    z, ph = norm.ppf(1 - (1 - confidence) / 2), x / n
    roots = np.roots([1 + z**2 / n, -(2 * ph + z**2 / n), ph**2])
    return float(roots.real.min()), float(roots.real.max())


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_crude_rate_matches_exact_below_10_and_byars_from_10(confidence):
    events = [0, 1, 3, 9, 10, 11, 65, 1045]
    df = pl.DataFrame({"area": list("abcdefgh"), "o": events, "n": [2500] * 8})
    out = crude_rate(df, events="o", population="n", by="area", confidence=confidence)
    for o, row in zip(events, out.iter_rows(named=True), strict=True):
        ref = exact_poisson_reference(o, confidence) if o < 10 else byars_reference(o, confidence)
        assert row["value"] == pytest.approx(o / 2500 * 100_000, rel=1e-12)
        assert row["lower_ci"] == pytest.approx(ref[0] / 2500 * 100_000, rel=1e-8, abs=1e-9)
        assert row["upper_ci"] == pytest.approx(ref[1] / 2500 * 100_000, rel=1e-8)
        assert row["method"] == ("Exact (chi-squared)" if o < 10 else "Byars")
        assert row["confidence"] == confidence
    assert out["statistic"].unique().to_list() == ["Crude rate per 100,000"]


def test_byars_within_0_2_percent_of_exact_at_95():
    # PHE Technical Guide: Confidence Intervals (2018), Appendix 1: for 95% intervals Byar's
    # method is within 0.2% of the exact value for numerators of 10 or more.
    o = np.arange(10, 400)
    out = crude_rate(
        pl.DataFrame({"o": o, "n": np.full(o.size, 100_000), "i": o}), events="o", population="n", by="i"
    )
    exact = np.array([exact_poisson_reference(int(k), 0.95) for k in o])
    assert np.max(np.abs(out["lower_ci"].to_numpy() / exact[:, 0] - 1)) < 0.002
    assert np.max(np.abs(out["upper_ci"].to_numpy() / exact[:, 1] - 1)) < 0.002


def test_crude_rate_sums_rows_per_group_and_whole_frame():
    df = pl.LazyFrame({"g": ["x", "x", "y"], "o": [4, 8, 30], "n": [1000, 3000, 6000]})
    out = crude_rate(df, events="o", population="n", by=["g"], multiplier=1000)
    assert out["o"].to_list() == [12, 30] and out["n"].to_list() == [4000, 6000]
    assert out["value"].to_list() == pytest.approx([3.0, 5.0])
    assert out["statistic"][0] == "Crude rate per 1,000"
    total = crude_rate(df, events="o", population="n")
    assert total.height == 1 and total["o"][0] == 42


def test_crude_rate_zero_population_is_null_with_note():
    out = crude_rate(
        pl.DataFrame({"g": [1, 2], "o": [0, 5], "n": [0, 100]}), events="o", population="n", by="g"
    )
    assert out["value"][0] is None and out["lower_ci"][0] is None
    assert out["note"].to_list() == [NOTE_ZERO_POPULATION, None]


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_proportion_matches_wilson_definition(confidence):
    xs, ns = [0, 1, 65, 1045, 100, 7], [10, 100, 100, 5000, 100, 7]
    df = pl.DataFrame({"i": range(6), "x": xs, "n": ns})
    out = proportion(df, numerator="x", denominator="n", by="i", confidence=confidence)
    for x, n, row in zip(xs, ns, out.iter_rows(named=True), strict=True):
        lo, hi = wilson_reference(x, n, confidence)
        assert row["value"] == pytest.approx(100 * x / n)
        assert row["lower_ci"] == pytest.approx(100 * lo, abs=1e-9)
        assert row["upper_ci"] == pytest.approx(100 * hi, abs=1e-9)
    assert out["method"].unique().to_list() == ["Wilson"]
    assert out["statistic"][0] == "Percentage"


def test_proportion_published_example_newcombe_altman():
    # Newcombe RG, Altman DG. Statistics with confidence (2nd edn), 2000, p. 47: 81 of 263,
    # proportion 0.308, Wilson 95% CI 0.255 to 0.366.
    out = proportion(pl.DataFrame({"x": [81], "n": [263]}), numerator="x", denominator="n", multiplier=1)
    assert out["value"][0] == pytest.approx(0.308, abs=5e-4)
    assert out["lower_ci"][0] == pytest.approx(0.255, abs=5e-4)
    assert out["upper_ci"][0] == pytest.approx(0.366, abs=5e-4)
    assert out["statistic"][0] == "Proportion per 1"


def test_proportion_boolean_numerator_and_zero_denominator():
    df = pl.DataFrame({"g": ["a", "a", "b"], "flag": [True, False, True], "one": [1, 1, 1]})
    out = proportion(df, numerator="flag", denominator="one", by="g")
    assert out["value"].to_list() == pytest.approx([50.0, 100.0])
    empty = proportion(pl.DataFrame({"x": [0], "n": [0]}), numerator="x", denominator="n")
    assert empty["value"][0] is None and empty["note"][0] == NOTE_ZERO_DENOMINATOR


counts = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 400), st.integers(1, 5000)), min_size=1, max_size=12
)


@settings(max_examples=40, deadline=None)
@given(rows=counts, confidence=st.sampled_from(CONFIDENCES), seed=st.integers(0, 1000))
def test_rate_properties(rows, confidence, seed):
    df = pl.DataFrame(rows, schema=["g", "o", "n"], orient="row")
    out = crude_rate(df, events="o", population="n", by="g", confidence=confidence)
    assert (out["lower_ci"] >= 0).all()
    assert (out["lower_ci"] <= out["value"] + 1e-9).all()
    assert (out["value"] <= out["upper_ci"] + 1e-9).all()
    shuffled = crude_rate(
        df.sample(fraction=1.0, shuffle=True, seed=seed),
        events="o",
        population="n",
        by="g",
        confidence=confidence,
    )
    assert shuffled.equals(out)


@settings(max_examples=40, deadline=None)
@given(rows=counts, confidence=st.sampled_from(CONFIDENCES), seed=st.integers(0, 1000))
def test_proportion_properties(rows, confidence, seed):
    df = pl.DataFrame(rows, schema=["g", "x", "n"], orient="row").with_columns(
        pl.min_horizontal("x", "n").alias("x")
    )
    out = proportion(df, numerator="x", denominator="n", by="g", confidence=confidence, multiplier=1)
    assert ((out["lower_ci"] >= 0) & (out["upper_ci"] <= 1)).all()
    assert (out["lower_ci"] <= out["value"] + 1e-12).all()
    assert (out["value"] <= out["upper_ci"] + 1e-12).all()
    shuffled = proportion(
        df.sample(fraction=1.0, shuffle=True, seed=seed),
        numerator="x",
        denominator="n",
        by="g",
        confidence=confidence,
        multiplier=1,
    )
    assert shuffled.equals(out)
