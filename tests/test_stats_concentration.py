"""concentration_index against the person-level convenient covariance and simulation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from healthgap.stats import concentration_index
from healthgap.stats.concentration import NOTE_NO_EVENTS

DATA = pl.DataFrame(
    {"q": [1, 2, 3, 4, 5], "e": [300, 250, 200, 150, 100], "n": [2000, 2100, 2000, 1900, 2000]}
)


def person_level_ci(events, pops):
    """C = 2 cov(y, R) / mean(y) over people with tied fractional ranks (O'Donnell et al. 2008)."""
    y = np.concatenate([np.r_[np.ones(e), np.zeros(n - e)] for e, n in zip(events, pops)])
    f = np.asarray(pops, float) / np.sum(pops)
    rank = np.repeat(np.cumsum(f) - f / 2, pops)
    return 2 * np.cov(y, rank, bias=True)[0, 1] / y.mean()


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_value_matches_person_level_and_ci_is_normal(confidence):
    out = concentration_index(DATA, quantile="q", events="e", population="n", confidence=confidence)
    c = person_level_ci(DATA["e"].to_list(), DATA["n"].to_list())
    assert out["value"][0] == pytest.approx(c, rel=1e-10) and c < 0
    z = norm.ppf(1 - (1 - confidence) / 2)
    se = out["standard_error"][0]
    assert out["lower_ci"][0] == pytest.approx(c - z * se) and out["upper_ci"][0] == pytest.approx(c + z * se)


def test_standard_error_matches_simulation():
    # Kakwani et al. (1997) variance vs the spread of C over simulated binomial samples.
    out = concentration_index(DATA, quantile="q", events="e", population="n")
    rng = np.random.default_rng(3)
    n = DATA["n"].to_numpy()
    p = DATA["e"].to_numpy() / n
    f = n / n.sum()
    r = np.cumsum(f) - f / 2
    mu_t = rng.binomial(n, p, size=(4000, 5)) / n
    c = 2 / (mu_t @ f) * (mu_t * f * r).sum(axis=1) - 1
    assert out["standard_error"][0] == pytest.approx(c.std(), rel=0.08)


def test_grouped_and_order_independent_and_notes():
    df = pl.concat(
        [DATA.with_columns(g=pl.lit("a")), DATA.with_columns(g=pl.lit("b"), e=pl.lit(0, dtype=pl.Int64))]
    )
    out = concentration_index(
        df.sample(fraction=1.0, shuffle=True, seed=1),
        quantile="q",
        events="e",
        population="n",
        by="g",
        outcome="count",
    )
    single = concentration_index(DATA, quantile="q", events="e", population="n", outcome="count")
    assert out["value"][0] == pytest.approx(single["value"][0], rel=1e-12)
    assert out["standard_error"][0] == pytest.approx(single["standard_error"][0], rel=1e-12)
    assert out["note"].to_list() == [None, NOTE_NO_EVENTS] and out["value"][1] is None
