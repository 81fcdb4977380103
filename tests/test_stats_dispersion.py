"""Events that repeat for one person (admissions): the dispersion D = Σ k² / Σ k and the
intervals and funnel limits of ratios and rates that allow for it, checked against scipy by
hand (chi-squared quantiles, Byar's formula) and by simulation (a funnel's 95% limits flag
about 5% of units that share the reference rate only when D is allowed for)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from healthgap.stats import event_dispersion, funnel_flag, funnel_limits, isr
from healthgap.stats.funnel import BAD_DISPERSION


def _exact(o: float, conf: float) -> tuple[float, float]:
    a = 1 - conf
    lo = 0.0 if o == 0 else sps.chi2.ppf(a / 2, 2 * o) / 2
    return lo, sps.chi2.ppf(1 - a / 2, 2 * o + 2) / 2


def _byars(o: float, conf: float) -> tuple[float, float]:
    z = sps.norm.ppf(1 - (1 - conf) / 2)
    lo = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    o1 = o + 1
    hi = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
    return lo, hi


def test_dispersion_by_hand():
    k = np.array([0, 0, 1, 1, 1, 2, 5, 0, 3])
    assert event_dispersion(pl.DataFrame({"k": k}), events="k") == pytest.approx((k**2).sum() / k.sum())
    grouped = pl.DataFrame({"k": [0, 1, 2, 5], "m": [100, 40, 10, 2]})
    assert event_dispersion(grouped, events="k", people="m") == pytest.approx(
        (40 + 4 * 10 + 25 * 2) / (40 + 20 + 10)
    )
    assert event_dispersion(pl.DataFrame({"k": [0, 1, 1, 0]}), events="k") == 1.0  # a flag
    assert event_dispersion(pl.DataFrame({"k": [0, 0]}), events="k") == 1.0
    with pytest.raises(ValueError):
        event_dispersion(pl.DataFrame({"k": [1, -1]}), events="k")


@pytest.mark.parametrize("observed", [6, 40, 250])
def test_isr_interval_with_dispersion_is_that_of_the_effective_count(observed):
    d = 2.5
    cells = pl.DataFrame(
        {
            "unit": ["a", "a", "b", "b"],
            "band": ["young", "old", "young", "old"],
            "events": [observed // 2, observed - observed // 2, 30, 90],
            "population": [1000, 500, 2000, 900],
        }
    )
    ref = pl.DataFrame({"band": ["young", "old"], "events": [60, 200], "population": [3000, 1500]})
    row = (
        isr(
            cells,
            events="events",
            population="population",
            unit="unit",
            strata="band",
            reference=ref,
            dispersion=d,
        )
        .filter(pl.col("unit") == "a")
        .row(0, named=True)
    )
    expected = 1000 * 60 / 3000 + 500 * 200 / 1500
    assert row["expected"] == pytest.approx(expected)
    assert row["value"] == pytest.approx(observed / expected)
    eff = observed / d
    lo, hi = _exact(eff, 0.95) if eff < 10 else _byars(eff, 0.95)
    assert row["lower_ci"] == pytest.approx(lo / (expected / d), rel=1e-6)
    assert row["upper_ci"] == pytest.approx(hi / (expected / d), rel=1e-6)
    plain = isr(cells, events="events", population="population", unit="unit", strata="band", reference=ref)
    assert plain.filter(pl.col("unit") == "a")["upper_ci"].item() < row["upper_ci"]


@pytest.mark.parametrize("d", [1.0, 1.8, 4.0])
def test_ratio_funnel_limits_with_dispersion_solve_the_exact_interval(d):
    counts = pl.DataFrame({"unit": ["a", "b"], "o": [5, 300], "e": [4.0, 280.0]})
    limits = funnel_limits(
        counts, numerator="o", denominator="e", kind="ratio", unit="unit", dispersion=d, levels=(0.95, 0.998)
    )
    for row in limits.filter(pl.col("denominator") >= 3).iter_rows(named=True):
        e_eff = row["denominator"] / d
        conf = row["confidence"]
        upper_count = row["upper_limit"] * e_eff  # effective events at the upper limit
        lower_count = row["lower_limit"] * e_eff
        # the upper limit is the count whose exact lower confidence limit is the expected count
        assert _exact(upper_count, conf)[0] == pytest.approx(e_eff, rel=1e-4)
        if lower_count > 0:
            assert sps.chi2.ppf(1 - (1 - conf) / 2, 2 * lower_count + 2) / 2 == pytest.approx(e_eff, rel=1e-4)


def test_rate_funnel_with_dispersion_scales_the_effective_count():
    counts = pl.DataFrame({"unit": ["a", "b", "c"], "o": [30, 60, 12], "n": [1000, 2000, 500]})
    plain = funnel_limits(
        counts, numerator="o", denominator="n", kind="rate", unit="unit", denominators=[800]
    )
    wide = funnel_limits(
        counts, numerator="o", denominator="n", kind="rate", unit="unit", denominators=[800], dispersion=2.0
    )
    # D = 2 at 800 people is the plain funnel at 400 people (half the effective count)
    half = funnel_limits(counts, numerator="o", denominator="n", kind="rate", unit="unit", denominators=[400])
    assert wide["upper_limit"].to_list() == pytest.approx(half["upper_limit"].to_list(), rel=1e-6)
    assert wide["lower_limit"].to_list() == pytest.approx(half["lower_limit"].to_list(), rel=1e-6)
    assert (wide["upper_limit"] > plain["upper_limit"]).all()


def _simulated_units(rng: np.random.Generator, n_units: int, d_target: float) -> pl.DataFrame:
    """Units sharing one rate; each admitted person has 1 + Poisson(λ) admissions."""
    lam = d_target - 1  # E[k²]/E[k] of 1 + Poisson(λ) is (1 + 3λ + λ²)/(1 + λ); close enough
    sizes = rng.integers(200, 5000, n_units)
    admitted = rng.poisson(sizes * 0.02)
    events = np.array([(1 + rng.poisson(lam, a)).sum() for a in admitted])
    return pl.DataFrame({"unit": np.arange(n_units), "o": events, "e": sizes * 0.02 * (1 + lam)})


def test_dispersion_gives_funnel_limits_their_nominal_coverage():
    rng = np.random.default_rng(7)
    units = _simulated_units(rng, 3000, 2.0)
    person_counts = 1 + rng.poisson(1.0, 200_000)
    d = event_dispersion(pl.DataFrame({"k": person_counts}), events="k")
    assert d == pytest.approx(5 / 2, rel=0.02)  # (1 + 3 + 1) / 2
    flags = funnel_flag(units, numerator="o", denominator="e", unit="unit", kind="ratio", dispersion=d)
    outside = (flags["flag_95"] != "within").mean()
    naive = (
        funnel_flag(units, numerator="o", denominator="e", unit="unit", kind="ratio")["flag_95"] != "within"
    ).mean()
    assert 0.02 < outside < 0.08
    assert naive > 0.15


def test_dispersion_is_checked():
    counts = pl.DataFrame({"unit": ["a"], "o": [5], "n": [10]})
    with pytest.raises(ValueError, match="dispersion"):
        funnel_limits(counts, numerator="o", denominator="n", kind="rate", unit="unit", dispersion=0.5)
    with pytest.raises(ValueError, match="dispersion"):
        funnel_flag(counts, numerator="o", denominator="n", kind="proportion", unit="unit", dispersion=2.0)
    assert "dispersion" in BAD_DISPERSION
