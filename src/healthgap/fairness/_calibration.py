"""Calibration by group: observed over expected cases, against the truth where it exists.

A model calibrated overall can under-predict one group and over-predict another: the
group's observed cases (O) over the sum of its predicted risks (E) says by how much.
O is a Poisson count given the predictions, so its exact (Garwood) interval over E is
the interval of O/E. Where the data carries each person's true risk
(:func:`~healthgap.fairness.true_risk`), ``true_ratio`` (the sum of true risks over E)
is the group's miscalibration free of outcome chance: the O/E interval should hold it.
Many groups are compared, so each interval is also given at the Bonferroni level
(``simultaneous_*``), and :func:`largest_miscalibration` reports the largest
miscalibration that those intervals separate from 1, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import chi2

from healthgap.config import Dimension
from healthgap.fairness._audit import MEAN_RISK_FIGURES
from healthgap.fairness._groups import groupings
from healthgap.fairness._multiplicity import group_sums
from healthgap.models import ModelResult

__all__ = [
    "calibration_by_group",
    "recompute_calibration",
    "exact_ratio_interval",
    "largest_miscalibration",
    "CALIBRATION_COUNTS",
    "CALIBRATION_METHOD",
]

#: Count columns of :func:`calibration_by_group` (the page publishes them).
CALIBRATION_COUNTS: tuple[str, ...] = ("n", "observed")
CALIBRATION_METHOD = "Exact Poisson (Garwood) interval of observed cases over the sum of predicted risks"
#: The columns of :func:`calibration_by_group` before its ratios.
COLUMN_ORDER = (
    "dimension",
    "dimension_label",
    "group",
    "group_label",
    "order",
    "n",
    "observed",
    "mean_predicted",
    "expected",
    "true_expected",
)


def exact_ratio_interval(
    observed: np.ndarray, expected: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson interval of ``observed / expected`` (expected taken as fixed).

    Lower ``chi2(α/2; 2O)/2E`` (0 when O = 0), upper ``chi2(1-α/2; 2O+2)/2E``.

    References
    ----------
    .. [1] Garwood F. Fiducial limits for the Poisson distribution. Biometrika 1936;28:437-42.
    .. [2] Breslow NE, Day NE. Statistical methods in cancer research II. IARC 1987 (SMR).
    """
    o = np.asarray(observed, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    alpha = 1 - confidence
    with np.errstate(all="ignore"):
        lower = np.where(o > 0, chi2.ppf(alpha / 2, 2 * o) / 2, 0.0) / e
        upper = chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2 / e
    bad = ~(e > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def recompute_calibration(frame: pl.DataFrame, *, confidence: float) -> pl.DataFrame:
    """``value`` (O/E) and its intervals from ``observed`` and ``expected`` as the frame gives them.

    A page passes it to :func:`healthgap.disclosure.publish` as ``recompute`` (the counts
    rounded as published). With a ``mean_predicted`` column (:func:`calibration_by_group`:
    the mean predicted risk to :data:`~healthgap.fairness.MEAN_RISK_FIGURES` significant
    figures), ``expected`` is first recomputed as ``mean_predicted x n`` from the group size
    as published: the exact sum of predicted risks over the published mean predicted risk
    would give the group's exact size. The simultaneous level is Bonferroni over the groups of
    each dimension.
    """
    if "mean_predicted" in frame.columns:
        frame = frame.with_columns(expected=pl.col("mean_predicted") * pl.col("n").cast(pl.Float64))
    return _ratios(frame, confidence=confidence)


def _ratios(frame: pl.DataFrame, *, confidence: float) -> pl.DataFrame:
    """``value`` (O/E) and its exact and simultaneous intervals from ``observed`` and ``expected``."""
    k = frame.group_by("dimension").agg(pl.len().alias("_k"))
    frame = frame.join(k, on="dimension", how="left", maintain_order="left")
    o = frame["observed"].cast(pl.Float64).to_numpy()
    e = frame["expected"].cast(pl.Float64).to_numpy()
    lo, hi = exact_ratio_interval(o, e, confidence)
    family = 1 - (1 - confidence) / frame["_k"].to_numpy()
    s_lo, s_hi = exact_ratio_interval(o, e, family)  # type: ignore[arg-type]
    column = lambda x: pl.Series(x, dtype=pl.Float64).fill_nan(None)  # noqa: E731
    with np.errstate(all="ignore"):
        value = np.where(e > 0, o / e, np.nan)
    return frame.drop("_k").with_columns(
        value=column(value),
        lower_ci=column(lo),
        upper_ci=column(hi),
        simultaneous_lower=column(s_lo),
        simultaneous_upper=column(s_hi),
    )


def calibration_by_group(
    result: ModelResult,
    *,
    dimensions: Sequence[Dimension],
    model: str = "boosted",
    risk_true: np.ndarray | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Observed over expected cases by group on the test set, with exact intervals.

    Parameters
    ----------
    result : the fitted model.
    dimensions : the equity dimensions (single dimensions, no intersections).
    model : ``"boosted"`` or ``"logistic"``.
    risk_true : each test-set person's true risk (:func:`~healthgap.fairness.true_risk`),
        or None when the data has no truth.
    confidence : level of the intervals (the simultaneous ones hold together over each
        dimension's groups).

    Returns
    -------
    pl.DataFrame
        One row per dimension and group: ``dimension``, ``dimension_label``, ``group``,
        ``group_label``, ``order``, ``n``, ``observed`` (cases, exact), ``mean_predicted``
        (the mean predicted risk, to :data:`~healthgap.fairness.MEAN_RISK_FIGURES` significant
        figures), ``expected`` (sum of predicted risks, exact; published as ``mean_predicted``
        x the published ``n``: :func:`recompute_calibration`), ``value`` (O/E: above 1 the
        model under-predicts),
        ``lower_ci``, ``upper_ci``, ``simultaneous_lower``, ``simultaneous_upper``,
        ``true_expected`` (sum of true risks) and ``true_ratio`` (true / predicted: the
        miscalibration against the truth; null without truth), ``confidence``, ``method``.
    """
    p = np.asarray(result.risk_test[model], dtype=np.float64)
    y = np.asarray(result.y_test, bool).astype(np.float64)
    truth = np.full_like(p, np.nan) if risk_true is None else np.asarray(risk_true, dtype=np.float64)
    found, _ = groupings(result.groups_test, dimensions, intersections=())
    parts = []
    for g in found:
        exact, _ = group_sums(g.codes, g.k, np.column_stack([np.ones_like(y), y, p, truth]), n_boot=0, seed=0)
        parts.append(
            pl.DataFrame(
                {
                    "dimension": g.name,
                    "dimension_label": g.label,
                    "group": list(g.levels),
                    "group_label": list(g.labels),
                    "order": np.arange(g.k),
                    "n": exact[:, 0].round().astype(np.int64),
                    "observed": exact[:, 1].round().astype(np.int64),
                    "expected": exact[:, 2],
                    "true_expected": exact[:, 3],
                }
            )
        )
    if not parts:
        return pl.DataFrame()
    frame = pl.concat(parts).with_columns(
        mean_predicted=(pl.col("expected") / pl.col("n")).round_sig_figs(MEAN_RISK_FIGURES)
    )
    frame = _ratios(frame.select(*COLUMN_ORDER), confidence=confidence)
    return frame.with_columns(
        true_expected=pl.col("true_expected").fill_nan(None),
        true_ratio=(pl.col("true_expected") / pl.col("expected")).fill_nan(None),
        confidence=pl.lit(confidence),
        method=pl.lit(CALIBRATION_METHOD),
    )


def largest_miscalibration(frame: pl.DataFrame) -> dict[str, Any] | None:
    """The group whose O/E is furthest from 1 (on the log scale) among those whose
    simultaneous interval excludes 1; None when every group is within chance.

    Parameters
    ----------
    frame : :func:`calibration_by_group` (or its published version).
    """
    hits = frame.filter((pl.col("simultaneous_lower") > 1) | (pl.col("simultaneous_upper") < 1))
    if hits.is_empty():
        return None
    return hits.sort(pl.col("value").log().abs(), descending=True).row(0, named=True)
