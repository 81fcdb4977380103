"""The fairness audit's gaps across many groups: max-statistic simultaneous intervals.

The share of cases found (true positive rate at capacity) is compared between every pair of
a dimension's groups (:func:`healthgap.fairness._multiplicity.gap_family`). The checks are
by simulation, independent of how the intervals are computed: when every group has the same
true rate, all the intervals of a family must hold 0 together in about 95% of data sets. One-
at-a-time (per-pair) intervals put in their place hold together far less often and fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from healthgap.fairness._groups import Grouping
from healthgap.fairness._multiplicity import gap_family, largest_surviving

#: Groups in a family (15 pairs), people per group, share of people who are cases, true rate.
K, PER_GROUP, CASE_SHARE, RATE = 6, 400, 0.5, 0.4
#: Simulated data sets and bootstrap replicates per data set.
SIMULATIONS, N_BOOT = 150, 200


def _grouping(codes: np.ndarray) -> Grouping:
    levels = tuple(f"g{i}" for i in range(K))
    return Grouping(
        name="dim", label="Dimension", columns=("dim",), levels=levels, labels=levels, codes=codes
    )


def _family(rng: np.random.Generator, rates: np.ndarray, seed: int):
    codes = np.repeat(np.arange(K), PER_GROUP)
    case = rng.random(codes.size) < CASE_SHARE
    found = case & (rng.random(codes.size) < rates[codes])
    return gap_family(_grouping(codes), numerator=found, denominator=case, n_boot=N_BOOT, seed=seed)


@pytest.fixture(scope="module")
def null_families():
    rng = np.random.default_rng(12)
    return [_family(rng, np.full(K, RATE), seed=s) for s in range(SIMULATIONS)]


def test_intervals_hold_together_under_the_null(null_families):
    """Equal true rates: every gap is 0. The simultaneous intervals all hold 0 in about 95% of
    data sets (Monte Carlo standard error about 1.8 points at 150); the one-at-a-time ones, over
    15 pairs, in well under 85%."""
    joint = np.mean(
        [bool(((f.pairs["lower_ci"] <= 0) & (f.pairs["upper_ci"] >= 0)).all()) for f in null_families]
    )
    single = np.mean(
        [
            bool(((f.pairs["unadjusted_lower"] <= 0) & (f.pairs["unadjusted_upper"] >= 0)).all())
            for f in null_families
        ]
    )
    assert 0.89 <= joint <= 0.99, joint
    assert single < 0.85, single
    # and so the headline "largest gap" is chance-free as often: None in those data sets
    assert np.mean([f.largest is None for f in null_families]) == pytest.approx(joint)


def test_each_family_is_every_pair_with_a_max_statistic_critical_value(null_families):
    f = null_families[0]
    assert f.pairs.height == K * (K - 1) // 2
    assert (f.pairs["comparisons"] == K * (K - 1) // 2).all()
    # the max over 15 correlated gaps needs a critical value above the one-at-a-time 1.96 and at
    # most Bonferroni's (z at 1 - 0.025 / 15 = 2.94), by hand from the interval and its standard error
    half = (f.pairs["upper_ci"] - f.pairs["lower_ci"]).to_numpy() / 2
    c = half / f.pairs["std_error"].to_numpy()
    z, bonferroni = norm.ppf(0.975), norm.ppf(1 - 0.025 / 15)
    assert np.allclose(c, c[0])
    assert z + 0.3 < c[0] <= bonferroni + 0.05, c[0]
    # a gap survives exactly when its simultaneous interval excludes 0
    excl = ((f.pairs["lower_ci"] > 0) | (f.pairs["upper_ci"] < 0)).to_list()
    assert f.pairs["excludes_null"].to_list() == excl


def test_a_real_gap_survives_and_is_the_headline():
    """One group's rate 0.25 against 0.45 for the rest: the largest surviving gap names it."""
    rng = np.random.default_rng(5)
    rates = np.full(K, 0.45)
    rates[2] = 0.25
    f = _family(rng, rates, seed=1)
    top = largest_surviving(f.pairs)
    assert top is not None and top["versus"] == "g2" and top["value"] > 0
    assert top["lower_ci"] > 0
