"""Round 7: the model work made cheaper gives the same numbers as the code it replaced.

Each rewritten computation is compared with the old code, kept here as the reference, on a
small random problem.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.config import ModelSettings
from healthgap.models import fit


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    from healthgap.synth import generate

    df, _ = generate(4_000, seed=5)
    return df


# --- the label-bias refit fits the booster only ---------------------------------------------


def test_boosted_only_fit_equals_the_booster_of_the_full_fit(people):
    settings = ModelSettings(target="hypertension")
    full = fit(people, settings=settings, n_boot=20)
    alone = fit(people, settings=settings, n_boot=20, learners=("boosted",), evaluate=False)
    assert list(alone.models) == ["boosted"]
    assert alone.metrics.is_empty() and alone.calibration.is_empty()
    for split in ("risk_train", "risk_test"):
        assert np.array_equal(getattr(alone, split)["boosted"], getattr(full, split)["boosted"])
    assert alone.threshold("boosted", top_fraction=0.05) == full.threshold("boosted", top_fraction=0.05)
    assert alone.groups_test.equals(full.groups_test)
    assert np.array_equal(alone.X_train, full.X_train)


def test_fit_refuses_an_unknown_learner(people):
    with pytest.raises(KeyError, match="forest"):
        fit(people, settings=ModelSettings(), learners=("forest",))  # type: ignore[arg-type]


# --- weighted_calibration: the logistic function once per distinct linear predictor --------


def round6_weighted_calibration(W, y, p, *, iterations=25, start=None):
    """``healthgap.models._metrics.weighted_calibration`` as it was in round 6 (the reference)."""
    from scipy.special import expit, logit

    eps = 1e-12
    yv = np.asarray(y, np.float64)
    lp = logit(np.clip(np.asarray(p, np.float64), 1e-10, 1 - 1e-10))
    lp2 = lp * lp
    c = W.shape[0]
    a0, b0, b1 = start if start is not None else (0.0, 0.0, 1.0)
    wy, wylp = W @ yv, W @ (yv * lp)
    buf = np.empty_like(W)
    t = np.empty_like(W)

    def _moments(intercept, slope):
        np.multiply(slope[:, None], lp, out=buf)
        np.add(buf, intercept[:, None], out=buf)
        expit(buf, out=buf)
        np.multiply(W, buf, out=t)
        s1, s1lp = t.sum(axis=1), t @ lp
        np.multiply(t, buf, out=buf)
        return s1, s1lp, buf.sum(axis=1), buf @ lp, t @ lp2 - buf @ lp2

    def _offset_moments(intercept):
        np.add(lp, intercept[:, None], out=buf)
        expit(buf, out=buf)
        np.multiply(W, buf, out=t)
        s1 = t.sum(axis=1)
        np.multiply(t, buf, out=buf)
        return s1, buf.sum(axis=1)

    a = np.full(c, a0, dtype=np.float64)
    for _ in range(iterations):
        s1, s2 = _offset_moments(a)
        step = (wy - s1) / np.maximum(s1 - s2, eps)
        a = a + step
        if np.nanmax(np.abs(step)) < 1e-10:
            break
    beta0, beta1 = np.full(c, b0, dtype=np.float64), np.full(c, b1, dtype=np.float64)
    for _ in range(iterations):
        s1, s1lp, s2, s2lp, h11 = _moments(beta0, beta1)
        g0, g1 = wy - s1, wylp - s1lp
        h00, h01 = s1 - s2, s1lp - s2lp
        det = h00 * h11 - h01 * h01
        det = np.where(np.abs(det) < eps, eps, det)
        step0 = (h11 * g0 - h01 * g1) / det
        step1 = (h00 * g1 - h01 * g0) / det
        beta0, beta1 = beta0 + step0, beta1 + step1
        if np.nanmax(np.abs(np.stack([step0, step1]))) < 1e-10:
            break
    return a, beta1


@pytest.mark.parametrize("decimals", [3, 2, None])  # many ties (shared values), a few, none
@pytest.mark.parametrize("start", [None, (0.2, -0.1, 0.9)])
def test_weighted_calibration_equals_round6_bit_for_bit(decimals, start):
    from healthgap.models._metrics import SHARED_VALUES, weighted_calibration
    from healthgap.stats import bootstrap_weights

    rng = np.random.default_rng(31)
    n = 4_000
    p = np.clip(rng.beta(1, 12, n), 0, 1)
    if decimals is not None:
        p = np.round(p, decimals)
    p[:3] = (0.0, 1.0, 0.5)  # clipped ends
    y = rng.random(n) < np.clip(1.3 * p, 0, 1)
    shared = np.unique(p).shape[0] <= SHARED_VALUES * n
    assert shared == (decimals is not None)  # both paths are exercised
    W = np.concatenate([np.ones((1, n)), next(bootstrap_weights(n, n_boot=40, seed=3))])
    a, b = weighted_calibration(W, y, p, start=start)
    old_a, old_b = round6_weighted_calibration(W, y, p, start=start)
    assert np.array_equal(a, old_a) and np.array_equal(b, old_b)
    assert np.isfinite(a).all() and np.isfinite(b).all()


def test_performance_equals_round6(monkeypatch):
    """The whole metric table (AUROC and average precision on column-major weights too)."""
    from healthgap.models import _performance

    rng = np.random.default_rng(8)
    n = 3_000
    p = np.round(rng.beta(1, 9, n), 3)
    y = rng.random(n) < p
    new = _performance.performance(y, p, model="m", n_boot=60, seed=4)
    monkeypatch.setattr(_performance, "weighted_calibration", round6_weighted_calibration)
    monkeypatch.setattr(_performance.np, "asfortranarray", np.ascontiguousarray)
    old = _performance.performance(y, p, model="m", n_boot=60, seed=4)
    assert new.equals(old)
