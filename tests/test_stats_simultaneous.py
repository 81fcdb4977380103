"""Simultaneous intervals for many gaps: Bonferroni against a hand calculation, the max
statistic against Tukey's and Dunnett's critical values (scipy), and joint coverage by
simulation under the null, from standard errors and from bootstrap replicates."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import brentq
from scipy.stats import multivariate_normal, norm, studentized_range

from healthgap.stats import extremes, simultaneous_intervals
from healthgap.stats.simultaneous import BAD_REPLICATES, NOTE_NO_ESTIMATE, NOTE_NOT_POSITIVE

THREE = pl.DataFrame({"g": ["a", "b", "c"], "est": [10.0, 12.5, 15.0], "se": [1.0, 1.5, 0.5]})


def test_bonferroni_by_hand():
    out = simultaneous_intervals(THREE, group="g", estimate="est", std_error="se")
    z = norm.ppf(1 - 0.05 / (2 * 3))  # three gaps, 2.394
    assert z == pytest.approx(2.3939797998185104, rel=1e-12)
    hand = {
        ("a", "b"): (-2.5, np.sqrt(1 + 2.25)),
        ("a", "c"): (-5.0, np.sqrt(1 + 0.25)),
        ("b", "c"): (-2.5, np.sqrt(2.25 + 0.25)),
    }
    assert out["comparisons"].to_list() == [3, 3, 3]
    for row in out.iter_rows(named=True):
        d, s = hand[(row["group"], row["versus"])]
        assert row["value"] == pytest.approx(d, rel=1e-12) and row["std_error"] == pytest.approx(s, rel=1e-12)
        assert row["bonferroni_lower"] == pytest.approx(d - z * s, rel=1e-12)
        assert row["bonferroni_upper"] == pytest.approx(d + z * s, rel=1e-12)
        assert row["unadjusted_lower"] == pytest.approx(d - norm.ppf(0.975) * s, rel=1e-12)
        # the max statistic lies between one-at-a-time and Bonferroni
        assert row["bonferroni_lower"] <= row["lower_ci"] <= row["unadjusted_lower"]
    assert out.filter(pl.col("versus") == "c")["excludes_null"].to_list() == [True, False]


def test_ratio_against_reference_by_hand():
    out = simultaneous_intervals(THREE, group="g", estimate="est", std_error="se", comparisons="reference",
                                 reference="a", scale="ratio", confidence=0.9)  # fmt: skip
    z = norm.ppf(1 - 0.1 / 4)
    for row in out.iter_rows(named=True):
        theta = dict(zip(THREE["g"], THREE["est"], strict=True))
        se = dict(zip(THREE["g"], THREE["se"], strict=True))
        g = row["group"]
        s = np.sqrt((se[g] / theta[g]) ** 2 + (se["a"] / theta["a"]) ** 2)
        assert row["versus"] == "a" and row["value"] == pytest.approx(theta[g] / 10, rel=1e-12)
        assert row["bonferroni_lower"] == pytest.approx(theta[g] / 10 * np.exp(-z * s), rel=1e-12)
        assert row["bonferroni_upper"] == pytest.approx(theta[g] / 10 * np.exp(z * s), rel=1e-12)
        assert row["lower_ci"] > 0


@pytest.mark.parametrize("k", [3, 5, 8])
def test_max_statistic_is_tukeys_critical_value(k):
    df = pl.DataFrame({"g": [f"g{i}" for i in range(k)], "est": np.arange(k, dtype=float), "se": [2.0] * k})
    out = simultaneous_intervals(df, group="g", estimate="est", std_error="se", simulations=200_000, seed=1)
    tukey = studentized_range.ppf(0.95, k, 1e4) / np.sqrt(2)
    assert out["critical_max"][0] == pytest.approx(tukey, abs=0.012)
    assert out["comparisons"][0] == k * (k - 1) // 2


def test_max_statistic_against_reference_is_dunnetts_critical_value():
    k = 5  # four gaps sharing the reference: correlation 1/2
    cov = np.full((k - 1, k - 1), 0.5) + 0.5 * np.eye(k - 1)
    mvn = multivariate_normal(np.zeros(k - 1), cov)
    dunnett = brentq(lambda c: mvn.cdf(np.full(k - 1, c), lower_limit=np.full(k - 1, -c)) - 0.95, 1.5, 4.0)
    df = pl.DataFrame({"g": list("abcde"), "est": [1.0, 2, 3, 4, 5], "se": [1.0] * 5})
    out = simultaneous_intervals(df, group="g", estimate="est", std_error="se", comparisons="reference",
                                 reference="c", simulations=200_000, seed=2)  # fmt: skip
    assert out["critical_max"][0] == pytest.approx(dunnett, abs=0.012)
    assert out["group"].to_list() == ["a", "b", "d", "e"]


def test_joint_coverage_under_the_null_from_standard_errors():
    rng = np.random.default_rng(7)
    sims = 600
    se = np.array([0.5, 1.0, 1.0, 1.5, 2.0, 0.8])
    hits = {"max": 0, "bonferroni": 0, "unadjusted": 0}
    for _ in range(sims):  # simulated data sets
        df = pl.DataFrame({"g": list("abcdef"), "est": 3.0 + rng.normal(0, se), "se": se})
        out = simultaneous_intervals(df, group="g", estimate="est", std_error="se", simulations=20_000)
        for name, (lo, hi) in {
            "max": ("lower_ci", "upper_ci"),
            "bonferroni": ("bonferroni_lower", "bonferroni_upper"),
            "unadjusted": ("unadjusted_lower", "unadjusted_upper"),
        }.items():
            hits[name] += bool(((out[lo] <= 0) & (out[hi] >= 0)).all())
    coverage = {name: h / sims for name, h in hits.items()}
    assert 0.93 <= coverage["max"] <= 0.97, coverage
    assert coverage["bonferroni"] >= coverage["max"] - 0.005 and coverage["bonferroni"] >= 0.94, coverage
    assert coverage["unadjusted"] < 0.85, coverage  # one-at-a-time intervals fail jointly


def test_joint_coverage_of_the_max_t_bootstrap():
    """Skewed data (exponential), k = 5 groups of 150, 500 bootstrap replicates of each mean."""
    rng = np.random.default_rng(8)
    k, n, boot, sims = 5, 150, 500, 200
    hits = {"max": 0, "bonferroni": 0}
    for _ in range(sims):  # simulated data sets
        x = rng.exponential(2.0, (k, n))
        draws = rng.integers(0, n, (boot, k, n))
        reps = np.take_along_axis(np.broadcast_to(x, (boot, k, n)), draws, axis=2).mean(axis=2)
        df = pl.DataFrame({"g": list("abcde"), "est": x.mean(axis=1)})
        out = simultaneous_intervals(df, group="g", estimate="est", replicates=reps, scale="ratio")
        hits["max"] += bool(((out["lower_ci"] <= 1) & (out["upper_ci"] >= 1)).all())
        hits["bonferroni"] += bool(((out["bonferroni_lower"] <= 1) & (out["bonferroni_upper"] >= 1)).all())
    assert 0.90 <= hits["max"] / sims <= 0.985, hits
    assert hits["bonferroni"] >= hits["max"], hits


def test_replicates_give_the_standard_errors():
    rng = np.random.default_rng(9)
    reps = rng.normal([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], (4000, 3))
    out = simultaneous_intervals(THREE, group="g", estimate="est", replicates=reps)
    sd = {
        ("a", "b"): np.std(reps[:, 0] - reps[:, 1], ddof=1),
        ("b", "c"): np.std(reps[:, 1] - reps[:, 2], ddof=1),
    }
    for row in out.filter(pl.col("versus") != "c").iter_rows(named=True):
        assert row["std_error"] == pytest.approx(sd[(row["group"], row["versus"])], rel=1e-12)
    assert "bootstrap" in out["method"][0]
    with pytest.raises(ValueError, match="one column per row") as err:
        simultaneous_intervals(THREE, group="g", estimate="est", replicates=reps[:, :2])
    assert str(err.value) == BAD_REPLICATES.format(k=3, shape=(4000, 2))


def test_groups_without_estimates_leave_the_family():
    df = pl.DataFrame({"g": list("abcd"), "est": [1.0, None, 3.0, -1.0], "se": [0.5, 0.5, 0.5, 0.5]})
    out = simultaneous_intervals(df, group="g", estimate="est", std_error="se")
    assert out["comparisons"][0] == 3  # a-c, a-d, c-d
    assert out.filter(pl.col("note") == NOTE_NO_ESTIMATE).height == 3
    assert out.filter(pl.col("note").is_not_null())["value"].null_count() == 3
    ratio = simultaneous_intervals(df, group="g", estimate="est", std_error="se", scale="ratio")
    assert ratio["comparisons"][0] == 1 and ratio.filter(pl.col("note") == NOTE_NOT_POSITIVE).height == 2


def test_extremes_stand_apart_only_when_every_gap_does():
    clear = pl.DataFrame({"g": list("abcde"), "est": [10.0, 11, 10.5, 20, 4], "se": [1.0] * 5})
    out = extremes(clear, group="g", estimate="est", std_error="se")
    high, low = out.row(0, named=True), out.row(1, named=True)
    assert (high["end"], high["group"], high["stands_apart"], high["distinct_from"]) == (
        "highest",
        "d",
        True,
        4,
    )
    assert (low["group"], low["stands_apart"], low["nearest"]) == ("e", True, "a")
    assert high["nearest"] == "b" and high["nearest_lower_ci"] > 0
    close = clear.with_columns(pl.Series("est", [10.0, 11, 10.5, 13, 4]))
    out = extremes(close, group="g", estimate="est", std_error="se")
    assert out["stands_apart"].to_list() == [False, True]
    pairs = simultaneous_intervals(close, group="g", estimate="est", std_error="se")
    d_vs = pairs.filter((pl.col("group") == "b") & (pl.col("versus") == "d"))
    assert out["nearest_lower_ci"][0] == pytest.approx(-d_vs["upper_ci"][0], rel=1e-12)
    ratio = extremes(close, group="g", estimate="est", std_error="se", scale="ratio")
    assert ratio["nearest_lower_ci"][0] < 1 < ratio["nearest_upper_ci"][0]


def test_bonferroni_bounds_of_ratios_by_hand():
    """Ratio intervals widened for m comparisons: se from the 95% interval, z at 1 - 0.05/2m (scipy by hand)."""
    from scipy.stats import norm

    from healthgap.stats import bonferroni_bounds, bonferroni_ratio

    rr = np.array([1.69, 1.45, 0.75])
    se = np.array([0.23, 0.08, 0.31])
    z95 = norm.ppf(0.975)
    frame = pl.DataFrame({"r": rr, "lo": rr * np.exp(-z95 * se), "hi": rr * np.exp(z95 * se)})
    for m in (1, 3, 10):
        out = frame.select(*bonferroni_bounds("r", "lo", "hi", comparisons=m))
        zm = norm.isf(0.05 / (2 * m))
        assert out["bonferroni_lower"].to_numpy() == pytest.approx(rr / np.exp(zm * se), rel=1e-12)
        assert out["bonferroni_upper"].to_numpy() == pytest.approx(rr * np.exp(zm * se), rel=1e-12)
        one = bonferroni_ratio(rr[0], frame["lo"][0], frame["hi"][0], pairs=m)
        assert one == pytest.approx((rr[0] / np.exp(zm * se[0]), rr[0] * np.exp(zm * se[0])), rel=1e-12)
    # at 90%: the given interval is read at 90% and the joint one is at 90%
    z90 = norm.ppf(0.95)
    f90 = pl.DataFrame({"r": rr, "lo": rr * np.exp(-z90 * se), "hi": rr * np.exp(z90 * se)})
    out = f90.select(*bonferroni_bounds("r", "lo", "hi", comparisons=4, confidence=0.9))
    assert out["bonferroni_upper"].to_numpy() == pytest.approx(rr * np.exp(norm.isf(0.1 / 8) * se), rel=1e-12)
    # a ratio or bound that is not positive has no interval
    bad = pl.DataFrame({"r": [0.0, 1.2, 1.1], "lo": [0.5, None, 0.0], "hi": [1.5, 1.4, 1.3]})
    assert (
        bad.select(*bonferroni_bounds("r", "lo", "hi", comparisons=2))["bonferroni_lower"].null_count() == 3
    )


def _maxima_all_gaps_at_once(se, gi, gj, se_d, simulations, seed, block):
    """The reference: round 7's simulation, every gap of a block of draws at once."""
    rng = np.random.default_rng(seed)
    k = se.shape[0]
    tops = []
    step = max(1, block // max(k, 1))
    for start in range(0, simulations, step):
        draws = rng.standard_normal((min(step, simulations - start), k)) * se
        with np.errstate(all="ignore"):
            t = (draws[:, gi] - draws[:, gj]) / se_d
        tops.append(np.max(np.abs(t), axis=1))
    return np.concatenate(tops)


@pytest.mark.parametrize(("k", "comparisons"), [(2, "pairwise"), (5, "pairwise"), (9, "reference")])
def test_simulated_critical_value_is_that_of_all_gaps_at_once(k, comparisons, monkeypatch):
    import healthgap.stats.simultaneous as sim

    rng = np.random.default_rng(k)
    se = rng.uniform(0.01, 0.2, k)
    gi, gj = sim._pairs(k, comparisons, 0 if comparisons == "reference" else None)
    ok = np.ones(gi.shape, dtype=bool)
    if k > 2:  # a group without a valid estimate is drawn with no spread and left out
        se[-1] = 0.0
        ok = (gi != k - 1) & (gj != k - 1)
    se_d = np.sqrt(se[gi] ** 2 + se[gj] ** 2)
    for block in (sim._BLOCK, 7_001):  # one block, and many (the last one short)
        monkeypatch.setattr(sim, "_BLOCK", block)
        got = sim._simulated_maxima(se, gi[ok], gj[ok], se_d[ok], 20_000, 11)
        want = _maxima_all_gaps_at_once(se, gi[ok], gj[ok], se_d[ok], 20_000, 11, block)
        assert got.shape == (20_000,) and np.array_equal(got, want)


def test_simulated_maxima_of_a_gap_without_spread_are_missing_as_before():
    import healthgap.stats.simultaneous as sim

    se = np.array([0.0, 0.0, 0.1])  # the first gap is 0 / 0 in every draw
    gi, gj = sim._pairs(3, "pairwise", None)
    se_d = np.sqrt(se[gi] ** 2 + se[gj] ** 2)
    got = sim._simulated_maxima(se, gi, gj, se_d, 5_000, 3)
    want = _maxima_all_gaps_at_once(se, gi, gj, se_d, 5_000, 3, sim._BLOCK)
    assert np.isnan(want).all() and np.array_equal(got, want, equal_nan=True)
