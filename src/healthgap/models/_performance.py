"""Test-set performance with bootstrap confidence intervals, in the stats contract shape."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from healthgap.models._metrics import (
    rank,
    weighted_auc,
    weighted_average_precision,
    weighted_brier,
    weighted_calibration,
)
from healthgap.stats import bootstrap_weights, percentile_interval, wilson_interval

__all__ = ["performance", "performances", "reliability", "METRIC_LABELS"]

METRIC_LABELS: dict[str, str] = {
    "auroc": "AUROC",
    "average_precision": "Average precision",
    "brier": "Brier score",
    "calibration_in_the_large": "Calibration-in-the-large",
    "calibration_slope": "Calibration slope",
}
BOOT_METHOD = "percentile bootstrap, {n} replicates (seed {seed})"
#: BLAS threads of the metric bootstraps' matrix-vector products (:func:`performances`).
METRIC_BLAS_THREADS = 1
LENGTH_MISMATCH = "y has {ny} values but p has {np_}; they must be the same people."


def _all(W: np.ndarray, y: np.ndarray, p: np.ndarray, r, start=None) -> np.ndarray:
    up, down = r
    a, b = weighted_calibration(W, y, p, start=start)
    # the rankings' sparse products multiply W transposed: column-major, it is not copied at
    # each of them (the same numbers; the other metrics sum W's rows and keep its layout)
    Wt = np.asfortranarray(W)
    return np.stack(
        [
            weighted_auc(Wt, up)[:, 0],
            weighted_average_precision(Wt, y, p, descending=down),
            weighted_brier(W, y, p),
            a,
            b,
        ],
        axis=1,
    )


def _recalibration_intercept(W: np.ndarray, y: np.ndarray, p: np.ndarray, slope: float):
    """Intercept a' of the recalibration model at a given slope (one Newton solve), for warm starts."""
    from scipy.special import expit, logit

    lp = slope * logit(np.clip(p, 1e-10, 1 - 1e-10))
    a = np.zeros(1)
    for _ in range(50):
        mu = expit(a[:, None] + lp)
        step = (W @ y - (W * mu).sum(1)) / np.maximum((W * mu * (1 - mu)).sum(1), 1e-12)
        a = a + step
        if np.abs(step).max() < 1e-12:
            break
    return slope, a


def performance(
    y: np.ndarray,
    p: np.ndarray,
    *,
    model: str,
    n_boot: int = 200,
    seed: int = 2024,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """AUROC, average precision, Brier score, calibration-in-the-large and slope with CIs.

    Parameters
    ----------
    y : observed outcome (bool), one per person.
    p : predicted probability, one per person.
    model : model label stored in the ``model`` column.
    n_boot : bootstrap replicates (people resampled with replacement; seeded).
    seed, confidence : bootstrap seed and confidence level.

    Returns
    -------
    pl.DataFrame
        One row per metric: ``metric``, ``model``, ``n``, ``events``, ``value``,
        ``lower_ci``, ``upper_ci``, ``confidence``, ``statistic``, ``method``, ``note``.

    References
    ----------
    .. [1] Steyerberg EW, Vergouwe Y. Towards better clinical prediction models: seven steps
       for development and an ABCD for validation. Eur Heart J 2014;35:1925-31.
    .. [2] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. 1993.
    """
    return performances(y, {model: p}, n_boot=n_boot, seed=seed, confidence=confidence)[model]


def performances(
    y: np.ndarray,
    risks: Mapping[str, np.ndarray],
    *,
    n_boot: int = 200,
    seed: int = 2024,
    confidence: float = 0.95,
) -> dict[str, pl.DataFrame]:
    """:func:`performance` of several models' predictions ``risks`` (model label -> predicted
    probability) of the same people ``y``, from one stream of bootstrap replicates.

    Each frame equals ``performance(y, risks[model], model=model, ...)`` exactly: the replicates
    depend only on the number of people, ``n_boot`` and ``seed``, so they are drawn once for
    every model instead of once per model.

    The matrix-vector products run on one BLAS thread (:data:`METRIC_BLAS_THREADS`): each
    takes a few milliseconds, and two threads waiting for each other between them took 7.6
    processor-seconds instead of 4.6 for the default book's two models on two busy cores;
    the last bits of a sum also depended on the machine's number of cores.
    """
    with threadpool_limits(limits=METRIC_BLAS_THREADS, user_api="blas"):
        return _performances(y, risks, n_boot=n_boot, seed=seed, confidence=confidence)


def _performances(
    y: np.ndarray, risks: Mapping[str, np.ndarray], *, n_boot: int, seed: int, confidence: float
) -> dict[str, pl.DataFrame]:
    y = np.asarray(y, bool)
    prepared = {}
    for model, p in risks.items():
        p = np.asarray(p, np.float64)
        if y.shape != p.shape:
            raise ValueError(LENGTH_MISMATCH.format(ny=y.shape[0], np_=p.shape[0]))
        r = (rank(p, y), rank(-p, y))
        one = np.ones((1, y.shape[0]))
        point = _all(one, y, p, r)[0]
        _, (intercept,) = _recalibration_intercept(one, y, p, point[4])
        start = (float(point[3]), float(intercept), float(point[4]))
        prepared[model] = (p, r, point, start)
    reps: dict[str, list[np.ndarray]] = {model: [] for model in prepared}
    for W in bootstrap_weights(y.shape[0], n_boot=n_boot, seed=seed):
        for model, (p, r, _, start) in prepared.items():
            reps[model].append(_all(W, y, p, r, start))
    names = list(METRIC_LABELS)
    out = {}
    for model, (_, _, point, _) in prepared.items():
        lo, hi = percentile_interval(np.concatenate(reps[model]), confidence)
        out[model] = pl.DataFrame(
            {
                "metric": names,
                "model": [model] * len(names),
                "n": [int(y.shape[0])] * len(names),
                "events": [int(y.sum())] * len(names),
                "value": point,
                "lower_ci": lo,
                "upper_ci": hi,
                "confidence": [confidence] * len(names),
                "statistic": [METRIC_LABELS[m] for m in names],
                "method": [BOOT_METHOD.format(n=n_boot, seed=seed)] * len(names),
                "note": pl.Series(
                    [None if np.isfinite(v) else "not estimable" for v in point], dtype=pl.String
                ),
            }
        )
    return out


def reliability(
    y: np.ndarray, p: np.ndarray, *, model: str, bins: int = 10, confidence: float = 0.95
) -> pl.DataFrame:
    """Reliability curve: observed proportion against mean predicted risk in equal-size bins.

    People are ranked by predicted risk and cut into ``bins`` groups of
    (nearly) equal size. The observed proportion has a Wilson interval.

    Returns
    -------
    pl.DataFrame
        ``model``, ``bin`` (1 = lowest risk), ``n``, ``events``, ``mean_predicted``,
        ``value`` (observed proportion), ``lower_ci``, ``upper_ci``, ``confidence``,
        ``statistic``, ``method``, ``note``.

    References
    ----------
    .. [1] Van Calster B, et al. Calibration: the Achilles heel of predictive analytics.
       BMC Medicine 2019;17:230.
    .. [2] scikit-learn ``calibration_curve(strategy="quantile")``.
    """
    frame = (
        pl.DataFrame({"y": np.asarray(y, bool), "p": np.asarray(p, np.float64)})
        .with_columns(bin=(pl.col("p").rank("ordinal") - 1) * bins // pl.len() + 1)
        .group_by("bin")
        .agg(n=pl.len(), events=pl.col("y").sum(), mean_predicted=pl.col("p").mean())
        .sort("bin")
    )
    n, events = frame["n"].to_numpy(), frame["events"].to_numpy()
    lo, hi = wilson_interval(events, n, confidence)
    return frame.with_columns(
        model=pl.lit(model),
        value=pl.Series(events / n),
        lower_ci=pl.Series(lo),
        upper_ci=pl.Series(hi),
        confidence=pl.lit(confidence),
        statistic=pl.lit("Observed proportion"),
        method=pl.lit("Wilson score interval; bins are equal-size groups of predicted risk"),
        note=pl.lit(None, dtype=pl.String),
        bin=pl.col("bin").cast(pl.Int64),
    ).select(
        "model",
        "bin",
        "n",
        "events",
        "mean_predicted",
        "value",
        "lower_ci",
        "upper_ci",
        "confidence",
        "statistic",
        "method",
        "note",
    )
