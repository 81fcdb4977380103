"""No interval of a rate, proportion, count or ratio goes below 0, whatever the data.

The source of the negative limits seen before: Dobson's lower limit of a DSR,
DSR + √(var/O)(O_L - O), is below 0 when the events sit in bands of very different weight
per person (√(var/O) ≫ DSR/O), and Byar's cube is negative for one event at 99.8%.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from healthgap.stats import (
    AGE_BAND_LABELS,
    byars_lower,
    crude_rate,
    dsr,
    dsr_by,
    funnel_flag,
    funnel_limits,
    proportion,
    rate_ratio,
    sii,
)
from healthgap.stats.dsr import dobson_limits


def unclipped_dobson_lower(o, n, w, confidence):
    o, n, w = (np.asarray(v, float) for v in (o, n, w))
    value = np.sum(np.where(n > 0, w * o / np.where(n > 0, n, 1), 0)) / w.sum()
    var = np.sum(np.where(n > 0, (w / np.where(n > 0, n, 1)) ** 2 * o, 0)) / w.sum() ** 2
    total, z = o.sum(), norm.ppf(1 - (1 - confidence) / 2)
    lo = total * (1 - 1 / (9 * total) - z / (3 * np.sqrt(total))) ** 3
    return value, value + np.sqrt(var / total) * (lo - total)


def skewed_bands():
    """14 events in one big young band, 1 event in a tiny heavily weighted band."""
    o = np.zeros(19, int)
    n = np.full(19, 1000)
    o[10], n[10] = 14, 100_000  # 50-54: many people, little weight per person
    o[18], n[18] = 1, 2  # 90+: two people, one event
    return pl.DataFrame({"band": AGE_BAND_LABELS, "o": o, "n": n})


def test_the_dobson_lower_limit_that_went_negative_is_zero():
    data = skewed_bands()
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
        ]
    )
    value, raw = unclipped_dobson_lower(data["o"], data["n"], w, 0.95)
    assert raw < 0 < value  # the formula itself gives a negative limit here
    out = dsr(data, events="o", population="n", age_band="band")
    assert out["value"][0] == pytest.approx(value * 1e5, rel=1e-12)
    assert out["lower_ci"][0] == 0.0 and out["upper_ci"][0] > out["value"][0]
    people = pl.DataFrame(
        {"age": [52] * 100_000 + [92, 92], "x": [True] * 14 + [False] * 99_986 + [True, False]}
    )
    people = people.with_columns(pl.lit("all").alias("g"))
    by = dsr_by(people, events=["x"], dimensions=["g"])
    assert by["lower_ci"][0] == 0.0


def test_byars_lower_is_never_negative_nor_undefined():
    counts = pl.DataFrame({"o": np.arange(0, 30, dtype=float)})
    for confidence in (0.95, 0.998, 0.99999):
        got = counts.select(byars_lower("o", confidence)).to_series().to_numpy()
        assert np.all(got >= 0) and not np.any(np.isnan(got))
        z = norm.ppf(1 - (1 - confidence) / 2)
        o = counts["o"].to_numpy()[1:]
        cube = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
        assert np.allclose(got[1:], np.maximum(cube, 0.0), rtol=1e-14)
    assert counts.select(byars_lower(pl.lit(None, dtype=pl.Float64), 0.95)).item() is None


def test_dobson_limits_keep_nulls_and_positive_limits():
    frame = pl.DataFrame({"v": [10.0, None, 5.0], "var": [4.0, 1.0, None], "o": [20.0, 15.0, 12.0]})
    lo, hi = dobson_limits(pl.col("v"), pl.col("var"), pl.col("o"), 0.95)
    out = frame.select(lo.alias("lo"), hi.alias("hi"))
    assert out["lo"][1] is None and out["lo"][2] is None
    assert 0 < out["lo"][0] < 10 < out["hi"][0]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    confidence=st.sampled_from([0.9, 0.95, 0.998]),
    scale=st.sampled_from([1, 3, 30]),
)
def test_every_interval_is_nonnegative(seed, confidence, scale):
    rng = np.random.default_rng(seed)
    k = 6
    n = rng.integers(0, 40 * scale, k)
    x = rng.binomial(n, rng.uniform(0, 0.6, k))
    counts = pl.DataFrame({"g": list("abcdef"), "q": np.arange(1, k + 1), "x": x, "n": n})
    pos = counts.filter(pl.col("n") > 0)
    frames = [
        crude_rate(counts, events="x", population="n", by="g", confidence=confidence),
        proportion(counts, numerator="x", denominator="n", by="g", confidence=confidence),
        funnel_flag(
            counts, numerator="x", denominator="n", unit="g", kind="rate", target=0.2, confidence=confidence
        ),
        funnel_flag(counts, numerator="x", denominator="n", unit="g", kind="proportion", target=0.2),
    ]
    if pos.height and pos["x"].sum() > 0:
        frames.append(
            rate_ratio(
                pos, events="x", population="n", group="g", reference=pos["g"][0], confidence=confidence
            )
        )
    limits = funnel_limits(
        counts, numerator="x", denominator="n", kind="rate", target=0.2, denominators=[1, 5, 50, 500]
    )
    assert (limits["lower_limit"] >= 0).all()
    for f in frames:
        for c in ("lower_ci", "upper_ci"):
            assert (f[c].drop_nulls() >= 0).all(), f
    band_n = rng.integers(1, 20 * scale, 38)
    band_o = np.minimum(rng.binomial(rng.integers(1, 20 * scale, 38), 0.05), band_n)
    bands = pl.DataFrame(
        {"band": AGE_BAND_LABELS * 2, "g": ["a"] * 19 + ["b"] * 19, "n": band_n, "o": band_o}
    )
    d = dsr(bands, events="o", population="n", age_band="band", by="g", confidence=confidence)
    assert (d["lower_ci"].drop_nulls() >= 0).all()


def test_rii_limits_of_rates_on_the_log_scale_are_positive():
    frame = pl.DataFrame(
        {
            "q": [1, 2, 3, 4, 5],
            "n": [100, 100, 100, 100, 100],
            "v": [2.0, 1.0, 0.5, 0.3, 0.2],
            "l": [0.5, 0.2, 0.05, 0.01, 0.01],
            "u": [5.0, 3.0, 2.0, 2.0, 2.0],
        }
    )
    out = sii(
        frame,
        quantile="q",
        population="n",
        value="v",
        lower_ci="l",
        upper_ci="u",
        transform=True,
        repetitions=2000,
    )
    assert out["rii_lower"][0] > 0 and out["rii"][0] > 0
