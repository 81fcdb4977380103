"""Explanations at full size, and the decomposition of the *observed* outcome gap.

:func:`explain_gap` explains the gradient-boosted model on the whole test set (or at
least :data:`MIN_SAMPLE` people): each group's mean SHAP value per feature with a
percentile bootstrap interval, and splits the gap in the outcome between the first and
last groups of a dimension (most and least deprived) into

* **observed**: the gap in the outcome, on the log-odds scale
  (``logit(ȳ_first) - logit(ȳ_last)``) and as a difference in risk;
* **inputs**: the gap the model predicts from the inputs alone (group membership is not
  an input): ``logit(p̄_first) - logit(p̄_last)``, and ``p̄_first - p̄_last``;
* **left**: observed minus inputs, what the inputs do not account for (differences
  the model does not see, and its miscalibration between the groups).

The predicted gap is further split by feature: each feature's mean SHAP value in the
first group minus the last (these add up to the gap in mean predicted log-odds).
All intervals come from the same bootstrap replicates (paired).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from healthgap.config import Dimension
from healthgap.fairness._groups import groupings
from healthgap.fairness._multiplicity import group_sums
from healthgap.models import ModelResult, label_of, tree_shap
from healthgap.stats import percentile_interval

__all__ = ["GapDecomposition", "explain_gap", "MIN_SAMPLE", "COMPONENTS"]

#: Fewest people explained (the whole test set when it is smaller).
MIN_SAMPLE = 20_000
#: The parts of the observed gap, in display order.
COMPONENTS: dict[str, str] = {
    "observed": "Observed gap in the outcome",
    "inputs": "Accounted for by the model's inputs",
    "left": "Not accounted for by the inputs",
}
NO_DIMENSION = "explain_gap: dimension {name!r} is not in the data or has fewer than two groups."


def _shap(result: ModelResult, X: np.ndarray) -> np.ndarray:
    """SHAP values (log-odds) of the gradient-boosted model, as :func:`healthgap.explain.shap_values`
    gives them (not imported: ``explain`` imports ``fairness``): ``shap.TreeExplainer``'s values,
    each distinct path through the trees explained once (:func:`healthgap.models.tree_shap`)."""
    return tree_shap(result.models["boosted"], X)[0]


def _logit(p: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.log(p) - np.log1p(-p)


@dataclass(frozen=True, eq=False)
class GapDecomposition:
    """Result of :func:`explain_gap` (exact aggregates; counts are of people explained).

    Attributes
    ----------
    sample : people explained (the whole test set, or a seeded sample of at least
        :data:`MIN_SAMPLE`).
    dimension, first, last : the dimension and the labels of the groups compared.
    gap : one row per component of :data:`COMPONENTS`: ``log_odds`` and ``risk`` (risk
        difference) with intervals (``*_lower``, ``*_upper``), and ``n_first``,
        ``n_last``, ``cases_first``, ``cases_last``.
    contributions : per feature, ``value`` = mean SHAP (log-odds) in the first group minus
        the last, with interval, and a ``(total)`` row (the gap in mean predicted log-odds).
    group_means : per dimension, group and feature, the mean SHAP value with interval,
        and ``n``.
    """

    sample: int
    dimension: str
    first: str
    last: str
    gap: pl.DataFrame = field(repr=False)
    contributions: pl.DataFrame = field(repr=False)
    group_means: pl.DataFrame = field(repr=False)
    confidence: float = 0.95


def explain_gap(
    result: ModelResult,
    *,
    dimensions: Sequence[Dimension],
    gap_dimension: str = "imd_quintile",
    sample: int | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int | None = None,
    shap: np.ndarray | None = None,
) -> GapDecomposition:
    """SHAP group means at full size and the decomposition of the observed outcome gap.

    Parameters
    ----------
    result : the fitted model.
    dimensions : the equity dimensions (group means for each).
    gap_dimension : the dimension whose first and last levels are compared.
    sample : people explained (default: the whole test set); at least :data:`MIN_SAMPLE`
        unless the test set is smaller.
    n_boot, confidence, seed : the percentile bootstrap (paired across components).
    shap : precomputed SHAP values of the explained rows (tests; default computed with
        :func:`healthgap.explain.shap_values`).

    Raises
    ------
    ValueError
        ``gap_dimension`` is not usable (:data:`NO_DIMENSION`).

    References
    ----------
    .. [1] Blinder AS. Wage discrimination: reduced form and structural estimates. J Hum
       Resour 1973;8:436-55; Oaxaca R. Int Econ Rev 1973;14:693-709 (explained and unexplained parts).
    .. [2] Lundberg SM, et al. Nature Machine Intelligence 2020;2:56-67 (TreeExplainer).
    """
    seed = result.settings.seed if seed is None else seed
    n_test = result.X_test.shape[0]
    size = n_test if sample is None else min(n_test, max(sample, MIN_SAMPLE))
    rows = (
        np.arange(n_test)
        if size == n_test
        else np.sort(np.random.default_rng(seed).choice(n_test, size=size, replace=False))
    )
    X = result.X_test[rows]
    S = _shap(result, X) if shap is None else np.asarray(shap, dtype=np.float64)
    p = result.risk_test["boosted"][rows]
    y = np.asarray(result.y_test, bool)[rows].astype(np.float64)
    frame = result.groups_test[rows]
    found, _ = groupings(frame, dimensions, intersections=())
    target = next((g for g in found if g.name == gap_dimension), None)
    if target is None:
        found_all, _ = groupings(frame, [d for d in dimensions if d.name == gap_dimension], intersections=())
        target = next(iter(found_all), None)
    if target is None:
        raise ValueError(NO_DIMENSION.format(name=gap_dimension))
    features = list(result.features)
    f = len(features)
    ones = np.ones(rows.size)
    # group means of SHAP: every grouping from the same replicates
    values = np.column_stack([ones, S, S.sum(axis=1)])
    exact, reps = group_sums([g.codes for g in found], [g.k for g in found], values, n_boot=n_boot, seed=seed)
    with np.errstate(all="ignore"):
        means = exact[:, 1:] / exact[:, [0]]
        rep_means = reps[:, :, 1:] / reps[:, :, [0]]
    lo, hi = percentile_interval(rep_means, confidence)
    names = [*features, "(total)"]
    labels = [*(label_of(x) for x in features), "All features (mean log-odds minus base)"]
    group_means = pl.DataFrame(
        {
            "dimension": [g.name for g in found for _ in g.levels for _ in names],
            "dimension_label": [g.label for g in found for _ in g.levels for _ in names],
            "group": [lv for g in found for lv in g.levels for _ in names],
            "group_label": [lb for g in found for lb in g.labels for _ in names],
            "n": np.repeat(exact[:, 0].round().astype(np.int64), f + 1),
            "feature": names * int(exact.shape[0]),
            "label": labels * int(exact.shape[0]),
            "value": means.ravel(),
            "lower_ci": lo.ravel(),
            "upper_ci": hi.ravel(),
        }
    )
    # the observed gap between the first and last groups, and its parts
    two = np.where(target.codes == 0, 0, np.where(target.codes == target.k - 1, 1, -1))
    ex2, rep2 = group_sums(two, 2, np.column_stack([ones, y, p, S, S.sum(axis=1)]), n_boot=n_boot, seed=seed)

    def parts(sums: np.ndarray) -> np.ndarray:
        """(..., 2, q) sums -> (..., 2 + 2 + f + 1): log-odds and risk gaps, then SHAP gaps."""
        with np.errstate(all="ignore"):
            mean = sums[..., 1:] / sums[..., [0]]
        ybar, pbar, shap_mean = mean[..., 0], mean[..., 1], mean[..., 2:]
        obs_lo = _logit(ybar[..., 0]) - _logit(ybar[..., 1])
        inp_lo = _logit(pbar[..., 0]) - _logit(pbar[..., 1])
        obs_r = ybar[..., 0] - ybar[..., 1]
        inp_r = pbar[..., 0] - pbar[..., 1]
        head = np.stack([obs_lo, inp_lo, obs_lo - inp_lo, obs_r, inp_r, obs_r - inp_r], axis=-1)
        return np.concatenate([head, shap_mean[..., 0, :] - shap_mean[..., 1, :]], axis=-1)

    point = parts(ex2)
    rep = parts(rep2)
    rep[~np.isfinite(rep)] = np.nan
    p_lo, p_hi = percentile_interval(rep, confidence)
    column = lambda x: pl.Series(x, dtype=pl.Float64).fill_nan(None)  # noqa: E731
    counts = ex2.round().astype(np.int64)
    gap = pl.DataFrame(
        {
            "component": list(COMPONENTS),
            "label": list(COMPONENTS.values()),
            "log_odds": column(point[:3]),
            "log_odds_lower": column(p_lo[:3]),
            "log_odds_upper": column(p_hi[:3]),
            "risk": column(point[3:6]),
            "risk_lower": column(p_lo[3:6]),
            "risk_upper": column(p_hi[3:6]),
        }
    ).with_columns(
        n_first=pl.lit(int(counts[0, 0]), dtype=pl.Int64),
        n_last=pl.lit(int(counts[1, 0]), dtype=pl.Int64),
        cases_first=pl.lit(int(counts[0, 1]), dtype=pl.Int64),
        cases_last=pl.lit(int(counts[1, 1]), dtype=pl.Int64),
    )
    contributions = pl.DataFrame(
        {
            "feature": names,
            "label": [*(label_of(x) for x in features), "Total gap in mean predicted log-odds"],
            "value": column(point[6:]),
            "lower_ci": column(p_lo[6:]),
            "upper_ci": column(p_hi[6:]),
        }
    )
    return GapDecomposition(
        sample=int(rows.size),
        dimension=target.name,
        first=target.labels[0],
        last=target.labels[-1],
        gap=gap,
        contributions=contributions,
        group_means=group_means.with_columns(pl.selectors.float().fill_nan(None)),
        confidence=confidence,
    )
