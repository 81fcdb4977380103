"""rate_ratio and rate_difference against independent scipy/numpy calculations."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import binomtest, norm

from healthgap.stats import dsr, rate_difference, rate_ratio
from healthgap.stats.compare import NOTE_REFERENCE, NOTE_ZERO_REFERENCE_EVENTS
from healthgap.stats.esp2013 import AGE_BAND_LABELS

CRUDE = pl.DataFrame(
    {
        "sex": ["f"] * 3 + ["m"] * 3,
        "q": [1, 2, 3] * 2,
        "o": [30, 20, 12, 0, 5, 8],
        "n": [1000, 1500, 1200, 900, 800, 700],
    }
)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_crude_rate_ratio_exact_conditional(confidence):
    out = rate_ratio(
        CRUDE, events="o", population="n", group="q", reference=3, by="sex", confidence=confidence
    )
    for row in out.iter_rows(named=True):
        ref = CRUDE.filter((pl.col("sex") == row["sex"]) & (pl.col("q") == 3)).row(0, named=True)
        if row["q"] == 3:
            assert row["value"] == 1.0 and row["lower_ci"] is None and row["note"] == NOTE_REFERENCE
            continue
        o1, n1, o2, n2 = row["o"], row["n"], ref["o"], ref["n"]
        ci = binomtest(o1, o1 + o2).proportion_ci(confidence, method="exact")
        to_rr = lambda p, n1=n1, n2=n2: p / (1 - p) * n2 / n1  # noqa: E731
        assert row["value"] == pytest.approx((o1 / n1) / (o2 / n2), rel=1e-12)
        assert row["lower_ci"] == pytest.approx(to_rr(ci.low), rel=1e-9, abs=1e-12)
        assert row["upper_ci"] == pytest.approx(to_rr(ci.high), rel=1e-9)
    assert out["method"][0] == "Exact conditional binomial"


def test_crude_rate_difference_normal():
    out = rate_difference(
        CRUDE, events="o", population="n", group="q", reference="3", by="sex", multiplier=1000
    )
    row = out.filter((pl.col("sex") == "f") & (pl.col("q") == 1)).row(0, named=True)
    d = (30 / 1000 - 12 / 1200) * 1000
    se = np.sqrt(30 / 1000**2 + 12 / 1200**2) * 1000
    z = norm.ppf(0.975)
    assert (row["value"], row["lower_ci"], row["upper_ci"]) == pytest.approx((d, d - z * se, d + z * se))
    assert out.filter(pl.col("q") == 3)["value"].to_list() == [0.0, 0.0]


def test_zero_reference_events_note():
    df = pl.DataFrame({"q": [1, 2], "o": [4, 0], "n": [100, 100]})
    out = rate_ratio(df, events="o", population="n", group="q", reference=2)
    assert out["note"].to_list() == [NOTE_ZERO_REFERENCE_EVENTS, NOTE_REFERENCE]
    assert out["value"][0] is None


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_dsr_ratio_and_difference_lognormal_dobson(confidence):
    rng = np.random.default_rng(7)
    frames = []
    for q in (1, 2, 3):
        n = rng.integers(1000, 4000, 19)
        frames.append(pl.DataFrame({"q": q, "band": AGE_BAND_LABELS, "n": n, "o": rng.binomial(n, 0.02 * q)}))
    data = pl.concat(frames)
    rr = rate_ratio(
        data, events="o", population="n", group="q", reference=1, age_band="band", confidence=confidence
    )
    rd = rate_difference(
        data, events="o", population="n", group="q", reference=1, age_band="band", confidence=confidence
    )
    w = np.array(
        [
            5000,
            5500,
            5500,
            5500,
            6000,
            6000,
            6500,
            7000,
            7000,
            7000,
            7000,
            6500,
            6000,
            5500,
            5000,
            4000,
            2500,
            1500,
            1000,
        ],
        dtype=float,
    )

    def value_var(q):
        part = data.filter(pl.col("q") == q)
        o, n = part["o"].to_numpy(), part["n"].to_numpy()
        return (np.sum(w * o / n) / w.sum() * 1e5, np.sum((w / n) ** 2 * o) / w.sum() ** 2 * 1e10)

    z = norm.ppf(1 - (1 - confidence) / 2)
    v1, var1 = value_var(1)
    for q in (2, 3):
        v, var = value_var(q)
        ratio, se = v / v1, np.sqrt(var / v**2 + var1 / v1**2)
        row = rr.filter(pl.col("q") == q).row(0, named=True)
        assert (row["value"], row["lower_ci"], row["upper_ci"]) == pytest.approx(
            (ratio, ratio * np.exp(-z * se), ratio * np.exp(z * se)), rel=1e-10
        )
        drow = rd.filter(pl.col("q") == q).row(0, named=True)
        d, dse = v - v1, np.sqrt(var + var1)
        assert (drow["value"], drow["lower_ci"], drow["upper_ci"]) == pytest.approx(
            (d, d - z * dse, d + z * dse), rel=1e-10
        )
    dsrs = dsr(data, events="o", population="n", age_band="band", by="q")
    assert rr["value"][1] == pytest.approx(dsrs["value"][1] / dsrs["value"][0], rel=1e-12)
    assert "Dobson" in rr["method"][0] and rr["statistic"][0] == "Rate ratio (DSRs)"


# -- difference_from_intervals: the difference of two independent estimates from their intervals ---


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_difference_from_wald_intervals_is_the_wald_interval_of_the_difference(confidence):
    """Two proportions with Wald intervals give back the textbook Wald interval of p1 - p2."""
    from healthgap.stats import difference_from_intervals

    z = norm.ppf(0.5 + confidence / 2)
    (x1, n1), (x2, n2) = (60, 200), (40, 210)
    p1, p2 = x1 / n1, x2 / n2
    s1, s2 = np.sqrt(p1 * (1 - p1) / n1), np.sqrt(p2 * (1 - p2) / n2)
    d, lo, hi = difference_from_intervals(
        p1, p1 - z * s1, p1 + z * s1, p2, p2 - z * s2, p2 + z * s2, confidence=confidence
    )
    wald = z * np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    assert (d, lo, hi) == pytest.approx((p1 - p2, p1 - p2 - wald, p1 - p2 + wald), rel=1e-12)


def test_difference_from_log_intervals_is_the_poisson_rate_difference():
    """Two Poisson rates with log-scale intervals exp(ln r +/- z / sqrt(O)) give back the normal
    interval of the rate difference with Poisson variances O / n^2 (Armitage, Berry and Matthews)."""
    from healthgap.stats import difference_from_intervals

    z = norm.ppf(0.975)
    (o1, n1), (o2, n2) = (45, 1000.0), (30, 1200.0)
    r1, r2 = o1 / n1, o2 / n2
    d, lo, hi = difference_from_intervals(
        r1,
        r1 * np.exp(-z / np.sqrt(o1)),
        r1 * np.exp(z / np.sqrt(o1)),
        r2,
        r2 * np.exp(-z / np.sqrt(o2)),
        r2 * np.exp(z / np.sqrt(o2)),
        scale="ratio",
    )
    half = z * np.sqrt(o1 / n1**2 + o2 / n2**2)
    assert (d, lo, hi) == pytest.approx((r1 - r2, r1 - r2 - half, r1 - r2 + half), rel=1e-12)


def test_overlapping_intervals_can_hold_a_difference_that_excludes_zero():
    from healthgap.stats import difference_from_intervals

    # 35 (32.1 to 37.9) and 30 (27.1 to 32.9) overlap; their difference is 5 +/- 4.2
    z = norm.ppf(0.975)
    d, lo, hi = difference_from_intervals(35, 35 - 1.5 * z, 35 + 1.5 * z, 30, 30 - 1.5 * z, 30 + 1.5 * z)
    assert 35 - 1.5 * z < 30 + 1.5 * z  # the intervals overlap
    assert d == 5 and lo > 0 and hi == pytest.approx(5 + z * 1.5 * np.sqrt(2))


def test_difference_from_intervals_refuses_an_interval_without_its_estimate():
    from healthgap.stats import difference_from_intervals
    from healthgap.stats.compare import BAD_INTERVAL

    with pytest.raises(ValueError, match="each interval must hold its estimate"):
        difference_from_intervals(5, 6, 7, 1, 0, 2)
    with pytest.raises(ValueError, match="positive limits"):
        difference_from_intervals(1, 0, 2, 1, 0.5, 2, scale="ratio")
    assert "{estimate}" in BAD_INTERVAL
