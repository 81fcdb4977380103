"""The shared bootstrap helpers and the one Wilson interval (frame and array entry points)."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest
from scipy import sparse
from scipy.stats import norm

from healthgap.stats import (
    bootstrap_weights,
    percentile_interval,
    replicate_sums,
    wilson_interval,
    wilson_limits,
    wilson_lower,
    wilson_upper,
)
from healthgap.stats.bootstrap import CHUNK_CELLS

#: Fingerprint of ``bootstrap_weights(1000, n_boot=57, seed=7)``: the random stream every
#: bootstrap interval in the book is drawn from. A change here changes published intervals.
STREAM_SHA256 = "1ed074578847e391b626d738c98df6cec87e449a9191612947fde4d21a453fef"


def test_bootstrap_stream_is_unchanged():
    W = np.concatenate(list(bootstrap_weights(1000, n_boot=57, seed=7)))
    assert hashlib.sha256(W.tobytes()).hexdigest() == STREAM_SHA256


def test_bootstrap_weights_are_resamples_in_chunks():
    n = CHUNK_CELLS // 24  # 24 replicates per chunk
    chunks = list(bootstrap_weights(n, n_boot=61, seed=3))
    assert [c.shape[0] for c in chunks] == [24, 24, 13]
    assert all(c.shape[1] == n and c.dtype == np.float64 for c in chunks)
    assert all((c.sum(axis=1) == n).all() for c in chunks)  # every replicate draws n people


def test_bootstrap_weights_are_seeded():
    a = np.concatenate(list(bootstrap_weights(50, n_boot=10, seed=1)))
    b = np.concatenate(list(bootstrap_weights(50, n_boot=10, seed=1)))
    c = np.concatenate(list(bootstrap_weights(50, n_boot=10, seed=2)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_replicate_sums_equal_dense_products():
    rng = np.random.default_rng(0)
    Q = sparse.random(40, 6, density=0.3, format="csc", random_state=1)
    W = next(bootstrap_weights(40, n_boot=5, seed=4))
    assert replicate_sums(W, Q) == pytest.approx(W @ Q.toarray())
    assert replicate_sums(rng.random((2, 40)), Q).shape == (2, 6)


def test_percentile_interval_ignores_nan_replicates():
    R = np.column_stack([np.arange(101.0), np.full(101, np.nan)])
    R[0, 0] = np.nan
    lo, hi = percentile_interval(R, 0.9)
    assert lo[0] == pytest.approx(np.quantile(np.arange(1.0, 101), 0.05))
    assert hi[0] == pytest.approx(np.quantile(np.arange(1.0, 101), 0.95))
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_wilson_interval_is_the_frame_formula_bit_for_bit():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 500, 300)
    n = x + rng.integers(0, 5000, 300)
    lo, hi = wilson_interval(x, n, 0.998)
    frame = pl.DataFrame({"x": x, "n": n}).select(
        wilson_lower("x", "n", 0.998).alias("lo"), wilson_upper("x", "n", 0.998).alias("hi")
    )
    assert np.array_equal(lo, frame["lo"].to_numpy()) and np.array_equal(hi, frame["hi"].to_numpy())
    lower, upper = wilson_limits("x", "n", 0.998)
    both = pl.DataFrame({"x": x, "n": n}).select(lower.alias("lo"), upper.alias("hi"))
    assert both.equals(frame)


def test_wilson_interval_values_and_edges():
    # Newcombe (1998), Stat Med 17:857, example 81/263: Wilson 0.2553 to 0.3662.
    lo, hi = wilson_interval(np.array([81, 0, 5]), np.array([263, 20, 5]), 0.95)
    assert (lo[0], hi[0]) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    z = norm.ppf(0.975)
    assert lo[1] == 0.0 and hi[1] == pytest.approx(z**2 / (20 + z**2))  # none of 20: from exactly 0
    assert hi[2] == 1.0  # all of 5: up to exactly 1
    lo, hi = wilson_interval(np.array([np.nan, 0.0]), np.array([10.0, 0.0]), 0.95)
    assert np.isnan(lo).all() and np.isnan(hi).all()  # missing counts, empty denominators


def test_wilson_interval_broadcasts():
    lo, hi = wilson_interval(np.array([[1, 2], [3, 4]]), 10, 0.95)
    assert lo.shape == hi.shape == (2, 2)
    assert (lo < np.array([[1, 2], [3, 4]]) / 10).all()
