"""Weighted performance metrics, vectorised over bootstrap replicates.

Every metric takes a weight matrix ``W`` of shape ``(replicates, n)``: row
``b`` holds how many times each person was drawn in bootstrap replicate ``b``
(a row of ones is the original sample; the replicates come from
:func:`healthgap.stats.bootstrap.bootstrap_weights`). One sort of the scores serves every
replicate, so a 200-replicate bootstrap of AUROC on 300,000 people is a few
matrix passes rather than 200 calls to scikit-learn.

The weighted definitions equal scikit-learn's with ``sample_weight``
(checked in ``tests/test_models.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit, logit

from healthgap.stats.bootstrap import replicate_sums

__all__ = [
    "Ranking",
    "rank",
    "weighted_auc",
    "weighted_average_precision",
    "weighted_brier",
    "weighted_calibration",
]

_EPS = 1e-12
#: :func:`weighted_calibration` computes the logistic function once per distinct linear
#: predictor when there are at most this share as many distinct values as people.
SHARED_VALUES = 0.75


@dataclass(frozen=True)
class Ranking:
    """Scores sorted once by (group, score), with tie runs marked."""

    order: np.ndarray
    y: np.ndarray  # outcome in sorted order (bool)
    run_starts: np.ndarray  # first position of each (group, score) tie run
    group_run_starts: np.ndarray  # first run of each present group
    run_group: np.ndarray  # index into ``present`` for each run
    present: np.ndarray  # group codes present, ascending
    k: int  # number of group codes
    positives: sparse.csc_matrix  # people x runs: 1 where a person with the outcome is in the run
    negatives: sparse.csc_matrix  # people x runs: 1 where a person without the outcome is in the run

    def run_sums(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted people with and without the outcome in each tie run, shape ``(replicates, runs)``."""
        return replicate_sums(W, self.positives), replicate_sums(W, self.negatives)


def rank(score: np.ndarray, y: np.ndarray, codes: np.ndarray | None = None, k: int = 1) -> Ranking:
    """Prepare a :class:`Ranking` for :func:`weighted_auc`.

    ``codes`` are integer group codes ``0..k-1`` (default: one group).

    References
    ----------
    .. [1] Hanley JA, McNeil BJ. The meaning and use of the area under a receiver
       operating characteristic (ROC) curve. Radiology 1982;143:29-36.
    """
    score = np.asarray(score, dtype=np.float64)
    codes = np.zeros(score.shape[0], dtype=np.int64) if codes is None else np.asarray(codes, np.int64)
    order = np.lexsort((score, codes))
    s, c = score[order], codes[order]
    new_run = np.ones(s.shape[0], dtype=bool)
    new_run[1:] = (s[1:] != s[:-1]) | (c[1:] != c[:-1])
    run_starts = np.flatnonzero(new_run)
    rc = c[run_starts]
    new_group = np.ones(rc.shape[0], dtype=bool)
    new_group[1:] = rc[1:] != rc[:-1]
    group_run_starts = np.flatnonzero(new_group)
    n, runs = s.shape[0], run_starts.shape[0]
    run_of = np.empty(n, dtype=np.int64)
    run_of[order] = np.cumsum(new_run) - 1
    yb = np.asarray(y, dtype=bool)
    people = np.arange(n)
    return Ranking(
        order=order,
        y=yb[order],
        run_starts=run_starts,
        group_run_starts=group_run_starts,
        run_group=np.cumsum(new_group) - 1,
        present=rc[group_run_starts],
        k=k,
        positives=sparse.csc_matrix((np.ones(int(yb.sum())), (people[yb], run_of[yb])), shape=(n, runs)),
        negatives=sparse.csc_matrix((np.ones(int((~yb).sum())), (people[~yb], run_of[~yb])), shape=(n, runs)),
    )


def weighted_auc(W: np.ndarray, r: Ranking) -> np.ndarray:
    """AUROC per replicate and group, shape ``(replicates, k)``; NaN without both classes.

    The weighted Mann-Whitney statistic: each positive scores the weight of
    negatives ranked below it plus half the tied weight.

    References
    ----------
    .. [1] Hanley JA, McNeil BJ. Radiology 1982;143:29-36.
    .. [2] scikit-learn ``roc_auc_score`` with ``sample_weight``.
    """
    pos, neg = r.run_sums(W)
    below = np.cumsum(neg, axis=1) - neg
    if r.group_run_starts.shape[0] > 1:
        below -= below[:, r.group_run_starts][:, r.run_group]
    num = np.add.reduceat(pos * (below + 0.5 * neg), r.group_run_starts, axis=1)
    P = np.add.reduceat(pos, r.group_run_starts, axis=1)
    N = np.add.reduceat(neg, r.group_run_starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where((P > 0) & (N > 0), num / (P * N), np.nan)
    out = np.full((W.shape[0], r.k), np.nan)
    out[:, r.present] = auc
    return out


def weighted_average_precision(
    W: np.ndarray, y: np.ndarray, score: np.ndarray, *, descending: Ranking | None = None
) -> np.ndarray:
    """Average precision per replicate: sum over thresholds of recall gain x precision.

    ``descending`` is ``rank(-score, y)``, computed if not given (pass it to reuse one sort).

    References
    ----------
    .. [1] scikit-learn ``average_precision_score`` (step-wise, no interpolation).
    .. [2] Zhu M. Recall, precision and average precision. University of Waterloo, 2004.
    """
    r = descending if descending is not None else rank(-np.asarray(score, np.float64), y)
    pos, neg = r.run_sums(W)
    tp = np.cumsum(pos, axis=1)
    all_ = tp + np.cumsum(neg, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(all_ > 0, tp / all_, 0.0)
        P = tp[:, -1]
        return np.where(P > 0, (pos * precision).sum(axis=1) / P, np.nan)


def weighted_brier(W: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Brier score (mean squared error of the predicted probability) per replicate.

    References
    ----------
    .. [1] Brier GW. Verification of forecasts expressed in terms of probability.
       Monthly Weather Review 1950;78:1-3.
    """
    err = (np.asarray(p, np.float64) - np.asarray(y, np.float64)) ** 2
    return (W @ err) / W.sum(axis=1)


def weighted_calibration(
    W: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    *,
    iterations: int = 25,
    start: tuple[float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Calibration-in-the-large and calibration slope per replicate (logistic recalibration).

    Calibration-in-the-large is ``a`` in ``logit P(y) = a + logit(p)`` (the
    linear predictor as an offset; 0 is perfect, positive means the model
    under-predicts); the slope is ``b`` in ``logit P(y) = a' + b logit(p)``
    (1 is perfect, below 1 means predictions are too extreme). Both are
    maximum-likelihood fits by Newton-Raphson, vectorised over replicates;
    ``start`` = ``(a, a', b)`` warm-starts bootstrap replicates from the
    full-sample estimates (fewer iterations, same optimum).

    References
    ----------
    .. [1] Cox DR. Two further applications of a model for binary regression.
       Biometrika 1958;45:562-5.
    .. [2] Van Calster B, et al. Calibration: the Achilles heel of predictive
       analytics. BMC Medicine 2019;17:230.
    """
    yv = np.asarray(y, np.float64)
    lp = logit(np.clip(np.asarray(p, np.float64), 1e-10, 1 - 1e-10))
    lp2 = lp * lp
    c = W.shape[0]
    a0, b0, b1 = start if start is not None else (0.0, 0.0, 1.0)
    wy, wylp = W @ yv, W @ (yv * lp)
    buf = np.empty_like(W)
    t = np.empty_like(W)
    # the fitted mean depends on a person only through lp: when many share a value (a model
    # with few distinct risks), the logistic function is computed once per value and spread
    # out (the same numbers, bit for bit: the same operations on the same values)
    distinct, where = np.unique(lp, return_inverse=True)
    shared = distinct.shape[0] <= SHARED_VALUES * lp.shape[0]

    def _mean(intercept: np.ndarray, slope: np.ndarray | None) -> None:
        """``buf`` = expit(intercept + slope lp) per replicate and person (slope None: 1)."""
        x = distinct if shared else lp
        eta = np.empty((c, x.shape[0])) if shared else buf
        if slope is None:
            np.add(x, intercept[:, None], out=eta)
        else:
            np.multiply(slope[:, None], x, out=eta)
            np.add(eta, intercept[:, None], out=eta)
        expit(eta, out=eta)
        if shared:
            np.take(eta, where, axis=1, out=buf, mode="clip")

    def _moments(intercept: np.ndarray, slope: np.ndarray) -> tuple[np.ndarray, ...]:
        _mean(intercept, slope)  # mu
        np.multiply(W, buf, out=t)  # W mu
        s1, s1lp = t.sum(axis=1), t @ lp
        np.multiply(t, buf, out=buf)  # W mu^2
        return s1, s1lp, buf.sum(axis=1), buf @ lp, t @ lp2 - buf @ lp2

    def _offset_moments(intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # _moments at slope 1 (1 * lp is lp), only the two sums the intercept's Newton step uses
        _mean(intercept, None)  # mu
        np.multiply(W, buf, out=t)  # W mu
        s1 = t.sum(axis=1)
        np.multiply(t, buf, out=buf)  # W mu^2
        return s1, buf.sum(axis=1)

    a = np.full(c, a0, dtype=np.float64)
    for _ in range(iterations):
        s1, s2 = _offset_moments(a)
        step = (wy - s1) / np.maximum(s1 - s2, _EPS)
        a = a + step
        if np.nanmax(np.abs(step)) < 1e-10:
            break
    beta0, beta1 = np.full(c, b0, dtype=np.float64), np.full(c, b1, dtype=np.float64)
    for _ in range(iterations):
        s1, s1lp, s2, s2lp, h11 = _moments(beta0, beta1)
        g0, g1 = wy - s1, wylp - s1lp
        h00, h01 = s1 - s2, s1lp - s2lp
        det = h00 * h11 - h01 * h01
        det = np.where(np.abs(det) < _EPS, _EPS, det)
        step0 = (h11 * g0 - h01 * g1) / det
        step1 = (h00 * g1 - h01 * g0) / det
        beta0, beta1 = beta0 + step0, beta1 + step1
        if np.nanmax(np.abs(np.stack([step0, step1]))) < 1e-10:
            break
    return a, beta1
