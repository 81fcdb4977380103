"""funnel_limits and funnel_flag against PHEindicatormethods' published test outputs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.stats import funnel_flag, funnel_limits
from healthgap.stats.funnel import funnel_axis

DUMMY = pl.DataFrame({"u": ["a", "b"], "x": [1, 1], "n": [2, 2]})

# Rows of PHEindicatormethods tests/testthat/testdata_funnel_prop_outputs.csv
# (ukhsa-collaboration/PHEindicatormethods): population, 95% lower/upper, 99.8% lower/upper
# limits (percent) around the baseline 80.642448%.
PROP_ROWS = [
    (1, 3.204264, 100, 0, 100),
    (3, 35.933491, 100, 10.150815, 100),
    (18, 62.390093, 98.894803, 51.864359, 100),
    (41, 68.548635, 92.73626, 61.574398, 99.710497),
    (1008, 78.203374, 83.081521, 76.796814, 84.488082),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]
# Rows of testdata_funnel_rate_outputs.csv (same repository): events, then for 95% and
# 99.8% the population (per year, 3 years of data) and the limit per 100,000; baseline
# 116.1720835 per 100,000.
RATE_ROWS = [
    (
        1,
        1598.675694,
        20.85059119,
        7.264481402,
        4588.535848,
        2649.348525,
        12.58170943,
        0.287087625,
        116108.569,
    ),
    (
        10,
        5276.757672,
        63.17010446,
        1375.943768,
        242.2579623,
        6924.776769,
        48.13632908,
        849.4639547,
        392.4043292,
    ),
    (
        99,
        34583.45945,
        95.42133877,
        23087.10848,
        142.9369123,
        38382.78582,
        85.97604186,
        20393.92315,
        161.8129075,
    ),
    (
        1360,
        411529.9259,
        110.158048,
        369759.5622,
        122.6021934,
        424043.2424,
        106.9073359,
        358342.3275,
        126.5084525,
    ),
]


def test_proportion_limits_match_published_outputs():
    pops = [r[0] for r in PROP_ROWS]
    out = funnel_limits(
        DUMMY, numerator="x", denominator="n", kind="proportion", target=0.80642448, denominators=pops
    )
    for level, (lo_i, hi_i) in ((0.95, (1, 2)), (0.998, (3, 4))):
        part = out.filter(pl.col("confidence") == level)
        assert part["lower_limit"].to_list() == pytest.approx([r[lo_i] for r in PROP_ROWS], abs=2e-6)
        assert part["upper_limit"].to_list() == pytest.approx([r[hi_i] for r in PROP_ROWS], abs=2e-6)
    assert out["baseline"][0] == pytest.approx(80.642448)


@pytest.mark.parametrize("level,cols", [(0.95, (1, 2, 3, 4)), (0.998, (5, 6, 7, 8))])
def test_rate_limits_match_published_outputs(level, cols):
    for side, (pop_i, lim_i) in (("lower_limit", cols[:2]), ("upper_limit", cols[2:])):
        pops = np.array([r[pop_i] for r in RATE_ROWS]) * 3  # 3 years of data
        out = funnel_limits(
            DUMMY,
            numerator="x",
            denominator="n",
            kind="rate",
            target=116.1720835e-5,
            denominators=pops,
            levels=[level],
        )
        # R bisects to 1e-7 on a transformed scale, hence the 1e-5 relative tolerance
        assert out[side].to_list() == pytest.approx([r[lim_i] for r in RATE_ROWS], rel=1e-5)


def test_axis_is_increasing_and_covers_data():
    grid = funnel_axis(1200, 2000)
    assert grid.size == 100 and np.all(np.diff(grid) > 0)
    assert grid[0] <= 1200 and grid[-1] >= 2000
    assert funnel_axis(10, 1000)[0] == 1


def test_flags_follow_limits_and_cis():
    df = pl.DataFrame(
        {"u": ["low", "mid", "high", "none"], "x": [40, 100, 170, 0], "n": [400, 1000, 1000, 0]}
    )
    prop = funnel_flag(df, numerator="x", denominator="n", unit="u", kind="proportion", target=0.1)
    by_u = {r["u"]: r for r in prop.iter_rows(named=True)}
    assert by_u["high"]["flag_95"] == "above" and by_u["high"]["flag_99_8"] == "above"
    assert by_u["mid"]["flag_95"] == "within" and by_u["none"]["flag_95"] is None
    for r in prop.filter(pl.col("n") > 0).iter_rows(named=True):
        for sfx in ("95", "99_8"):
            expected = (
                "above"
                if r["value"] > r[f"upper_limit_{sfx}"]
                else "below"
                if r["value"] < r[f"lower_limit_{sfx}"]
                else "within"
            )
            assert r[f"flag_{sfx}"] == expected
    rate = funnel_flag(df, numerator="x", denominator="n", unit="u", kind="rate", target=0.1)
    for r in rate.filter(pl.col("n") > 0).iter_rows(named=True):
        expected = (
            "above"
            if r["lower_ci"] > r["baseline"]
            else "below"
            if r["upper_ci"] < r["baseline"]
            else "within"
        )
        assert r["flag_95"] == expected
    assert rate.filter(pl.col("u") == "high")["flag_95"][0] == "above"


def test_default_target_is_overall_average_and_limits_bracket_it():
    df = pl.DataFrame({"u": list("abcd"), "x": [10, 20, 30, 40], "n": [100, 300, 500, 700]})
    out = funnel_limits(df, numerator="x", denominator="n", kind="proportion", unit="u")
    assert out["baseline"][0] == pytest.approx(100 / 1600 * 100)
    assert (out["lower_limit"] <= out["baseline"]).all() and (out["upper_limit"] >= out["baseline"]).all()
    wide = out.filter(pl.col("confidence") == 0.998)["upper_limit"].to_numpy()
    narrow = out.filter(pl.col("confidence") == 0.95)["upper_limit"].to_numpy()
    assert np.all(wide >= narrow)
