"""Why the model predicts what it does: SHAP values, aggregated over groups of people.

SHAP's ``TreeExplainer`` splits each person's predicted log-odds from the
gradient-boosted model exactly into a base value plus one contribution per
feature. Nothing here describes a person: every output is a mean over a group
(everyone explained, equity groups, bins of a feature) with the group's exact
size. Disclosure control is the page's: it publishes each frame once
(:func:`healthgap.disclosure.publish`) and leaves out groups too small to publish.

Outputs
-------
- global importance: mean |SHAP| per feature, with a bootstrap CI;
- mean SHAP contribution per feature in each equity group;
- the gap in mean log-odds between the first and last level of a dimension
  (most and least deprived quintiles), split exactly by feature;
- dependence as binned averages (mean SHAP value in bins of the feature).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse
from scipy.stats import norm

from healthgap.config import Dimension
from healthgap.models import ModelResult, label_of
from healthgap.stats import bootstrap_weights, percentile_interval

__all__ = [
    "Explanation",
    "explain",
    "shap_values",
    "sample_rows",
    "MIN_GROUP",
    "GAP_TOO_FEW",
    "GAP_NO_DIMENSION",
]

#: Default smallest group (people in the SHAP sample) whose gap is split: the default
#: disclosure threshold, so a gap between groups too small to publish is not estimated.
MIN_GROUP = 8

# Why the gap is not split (``Explanation.gap_problem``); the explanations page words them.
#: One of the two groups has fewer than ``min_group`` people in the SHAP sample.
GAP_TOO_FEW = "too few"
#: The gap dimension is not among the groupings of the test set.
GAP_NO_DIMENSION = "no dimension"
UNKNOWN_GAP_DIMENSION = "gap dimension {name!r} is not among the dimensions given ({options})."
MEAN_METHOD = "mean over the SHAP sample; normal-approximation interval"
BOOT_METHOD = "percentile bootstrap of the SHAP sample, {n} replicates (seed {seed})"


def sample_rows(n: int, *, size: int, seed: int) -> np.ndarray:
    """Sorted, seeded sample of ``min(size, n)`` row indices without replacement."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def shap_values(result: ModelResult, X: np.ndarray) -> tuple[np.ndarray, float]:
    """SHAP values (log-odds scale) of the gradient-boosted model and its base value.

    ``values.sum(axis=1) + base`` equals ``decision_function(X)`` (the raw
    log-odds) up to floating-point error.

    References
    ----------
    .. [1] Lundberg SM, et al. From local explanations to global understanding with explainable
       AI for trees. Nature Machine Intelligence 2020;2:56-67.
    """
    import shap

    explainer = shap.TreeExplainer(result.models["boosted"])
    values = np.asarray(explainer.shap_values(X), dtype=np.float64)
    base = float(np.ravel(explainer.expected_value)[0])
    return values, base


@dataclass(frozen=True, eq=False)
class Explanation:
    """Result of :func:`explain` (all frames aggregated, with exact group sizes).

    Attributes
    ----------
    importance : per feature, mean |SHAP| (log-odds) with CI, ranked.
    by_group : per dimension, group and feature, the mean SHAP value; plus a ``(total)`` feature row
        holding the group's mean log-odds minus the base value.
    gap : per feature, its contribution to the gap in mean log-odds between two groups, with
        CI, and its ``share`` of the gap (null when the total gap's interval includes zero).
    dependence : per top feature and bin, the mean SHAP value.
    gap_dimension : the dimension whose first and last groups the gap compares.
    gap_groups : the labels of those two groups (None without the dimension).
    gap_problem : why ``gap`` is empty (:data:`GAP_TOO_FEW`, :data:`GAP_NO_DIMENSION`), else None.
    additivity_error : largest |sum of SHAP + base - decision_function| over the sample.
    """

    sample: int
    seed: int
    base_value: float
    importance: pl.DataFrame = field(repr=False)
    by_group: pl.DataFrame = field(repr=False)
    gap: pl.DataFrame = field(repr=False)
    dependence: pl.DataFrame = field(repr=False)
    gap_dimension: str
    gap_groups: tuple[str, str] | None
    gap_problem: str | None
    additivity_error: float


def _importance(
    S: np.ndarray, features: Sequence[str], n_boot: int, seed: int, confidence: float
) -> pl.DataFrame:
    A = np.abs(S)
    point = A.mean(axis=0)
    reps = np.concatenate(
        [
            (W @ A) / W.sum(axis=1, keepdims=True)
            for W in bootstrap_weights(S.shape[0], n_boot=n_boot, seed=seed)
        ]
    )
    lo, hi = percentile_interval(reps, confidence)
    return (
        pl.DataFrame(
            {
                "feature": list(features),
                "label": [label_of(f) for f in features],
                "n": [S.shape[0]] * len(features),
                "value": point,
                "lower_ci": lo,
                "upper_ci": hi,
                "confidence": [confidence] * len(features),
                "statistic": ["Mean |SHAP| (log-odds)"] * len(features),
                "method": [BOOT_METHOD.format(n=n_boot, seed=seed)] * len(features),
            }
        )
        .sort("value", descending=True)
        .with_row_index("rank", offset=1)
    )


def _group_means(
    S: np.ndarray, raw_minus_base: np.ndarray, codes: np.ndarray, k: int, features: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    keep = codes >= 0
    G = sparse.csr_matrix(
        (np.ones(keep.sum()), (np.flatnonzero(keep), codes[keep])), shape=(codes.shape[0], k)
    )
    counts = np.asarray(G.sum(axis=0)).ravel()
    M = np.column_stack([S, raw_minus_base])
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (G.T @ M) / counts[:, None]
    return counts, means


def _by_group(S: np.ndarray, rest: np.ndarray, found: Sequence, features: Sequence[str]) -> pl.DataFrame:
    names = [*features, "(total)"]
    labels = [*(label_of(f) for f in features), "All features (mean log-odds minus base)"]
    parts = []
    for g in found:
        counts, means = _group_means(S, rest, g.codes, g.k, features)
        f = len(names)
        parts.append(
            pl.DataFrame(
                {
                    "dimension": [g.name] * (g.k * f),
                    "dimension_label": [g.label] * (g.k * f),
                    "group": np.repeat(np.asarray(g.levels, dtype=object), f).tolist(),
                    "group_label": np.repeat(np.asarray(g.labels, dtype=object), f).tolist(),
                    "order": np.repeat(np.arange(g.k), f),
                    "n": np.repeat(counts.astype(np.int64), f),
                    "feature": names * g.k,
                    "label": labels * g.k,
                    "value": means.ravel(),
                }
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def _gap(
    S: np.ndarray,
    rest: np.ndarray,
    g,
    features: Sequence[str],
    n_boot: int,
    seed: int,
    confidence: float,
    minimum: int,
) -> tuple[pl.DataFrame, str | None]:
    first, last = g.labels[0], g.labels[-1]
    a, b = g.codes == 0, g.codes == g.k - 1
    if min(a.sum(), b.sum()) < max(minimum, 2):
        return pl.DataFrame(), GAP_TOO_FEW
    M = np.column_stack([S, rest])
    point = M[a].mean(axis=0) - M[b].mean(axis=0)
    reps = []
    for W in bootstrap_weights(S.shape[0], n_boot=n_boot, seed=seed):
        Wa, Wb = W * a, W * b
        with np.errstate(invalid="ignore", divide="ignore"):
            reps.append((Wa @ M) / Wa.sum(1, keepdims=True) - (Wb @ M) / Wb.sum(1, keepdims=True))
    lo, hi = percentile_interval(np.concatenate(reps), confidence)
    total = point[-1]
    # shares of a gap that may be zero are meaningless (141% and -70% of nothing): only when the
    # total gap's interval excludes zero
    clear = np.isfinite(lo[-1]) and (lo[-1] > 0 or hi[-1] < 0)
    names = [*features, "(total)"]
    frame = pl.DataFrame(
        {
            "feature": names,
            "label": [*(label_of(f) for f in features), "Total gap in mean log-odds"],
            "n_first": [int(a.sum())] * len(names),
            "n_last": [int(b.sum())] * len(names),
            "value": point,
            "lower_ci": lo,
            "upper_ci": hi,
            "share": point / total if total and clear else np.full(len(names), np.nan),
            "confidence": [confidence] * len(names),
            "statistic": [f"Mean SHAP, {first} minus {last} (log-odds)"] * len(names),
            "method": [BOOT_METHOD.format(n=n_boot, seed=seed)] * len(names),
        }
    ).with_columns(pl.col("share").fill_nan(None))
    return frame, None


def _bin_labels(edges: np.ndarray, unit: str) -> list[str]:
    """Labels of the bins ``x < e0``, ``e0 <= x < e1``, ..., ``x >= e_last`` (no minimum or maximum shown)."""
    suffix = f" {unit}" if unit else ""
    if edges.size == 0:
        return ["all values"]
    whole = bool(np.all(np.abs(edges - np.round(edges)) < 1e-9))
    fmt = (lambda v: f"{v:.0f}") if whole else (lambda v: f"{v:.1f}")
    labels = [f"below {fmt(edges[0])}{suffix}"]
    if whole:
        labels += [
            f"{fmt(lo)}{suffix}" if hi - lo == 1 else f"{fmt(lo)} to {fmt(hi - 1)}{suffix}"
            for lo, hi in itertools.pairwise(edges)
        ]
    else:
        labels += [f"{fmt(lo)} to under {fmt(hi)}{suffix}" for lo, hi in itertools.pairwise(edges)]
    labels.append(f"{fmt(edges[-1])}{suffix} and above")
    return labels


def _dependence(
    result: ModelResult,
    X: np.ndarray,
    S: np.ndarray,
    order: Sequence[str],
    *,
    top: int,
    bins: int,
    confidence: float,
) -> pl.DataFrame:
    from healthgap.contract import CONTRACT

    z = norm.ppf(1 - (1 - confidence) / 2)
    parts = []
    for feature in list(order)[:top]:
        j = result.features.index(feature)
        x, s = X[:, j], S[:, j]
        missing = np.isnan(x)
        if feature in result.categorical:
            levels = list(result.categories[feature])
            codes = np.where(missing, -1, np.nan_to_num(x, nan=-1)).astype(np.int64)
            labels = levels
        elif np.all(np.isin(x[~missing], (0.0, 1.0))):
            codes = np.where(missing, -1, np.nan_to_num(x)).astype(np.int64)
            labels = ["No", "Yes"]
        else:
            qs = np.unique(np.quantile(x[~missing], np.linspace(0, 1, bins + 1)[1:-1]))
            codes = np.where(missing, -1, np.searchsorted(qs, x, side="right"))
            col = CONTRACT.get(feature)
            labels = _bin_labels(qs, col.unit if col is not None and col.unit else "")
        codes = np.where(missing, len(labels), codes)
        labels = [*labels, "missing"]
        frame = (
            pl.DataFrame({"bin": codes, "s": s})
            .group_by("bin")
            .agg(n=pl.len(), value=pl.col("s").mean(), sd=pl.col("s").std())
            .sort("bin")
            .with_columns(
                feature=pl.lit(feature),
                label=pl.lit(label_of(feature)),
                bin_label=pl.col("bin").replace_strict(list(range(len(labels))), labels),
                lower_ci=pl.col("value") - z * pl.col("sd") / pl.col("n").sqrt(),
                upper_ci=pl.col("value") + z * pl.col("sd") / pl.col("n").sqrt(),
                n=pl.col("n").cast(pl.Int64),
                bin=pl.col("bin").cast(pl.Int64),
            )
            .drop("sd")
        )
        parts.append(frame)
    if not parts:
        return pl.DataFrame()
    return (
        pl.concat(parts)
        .select(
            "feature",
            "label",
            "bin",
            "bin_label",
            "n",
            "value",
            "lower_ci",
            "upper_ci",
        )
        .with_columns(
            confidence=pl.lit(confidence),
            statistic=pl.lit("Mean SHAP value (log-odds)"),
            method=pl.lit(MEAN_METHOD),
        )
    )


def explain(
    result: ModelResult,
    *,
    dimensions: Sequence[Dimension],
    gap_dimension: str = "imd_quintile",
    sample: int | None = None,
    seed: int | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    bins: int = 10,
    top: int = 6,
    min_group: int = MIN_GROUP,
) -> Explanation:
    """SHAP explanations of the gradient-boosted model, aggregated over groups of people.

    Parameters
    ----------
    result : a fitted :class:`~healthgap.models.ModelResult`.
    dimensions : equity dimensions for the group means (``config.dimensions``).
    gap_dimension : the dimension whose first and last levels (most and least deprived) are compared.
    sample : people explained, drawn from the test set (default ``settings.shap_sample``).
    seed : seed of the sample and the bootstrap (default ``settings.seed``).
    n_boot, confidence : bootstrap settings for importance and gap intervals.
    bins, top : dependence bins (tenths of the feature) for the ``top`` most important features.
    min_group : the gap is split only when both groups have at least this many people in the
        sample (at least 2); the pages pass the disclosure threshold.

    Returns
    -------
    Explanation
        Exact aggregates (``n``, ``n_first``, ``n_last`` are exact counts of people):
        publish them with :func:`healthgap.disclosure.publish` before showing them.

    References
    ----------
    .. [1] Lundberg SM, Lee S-I. A unified approach to interpreting model predictions. NeurIPS 2017.
    .. [2] Lundberg SM, et al. Nature Machine Intelligence 2020;2:56-67 (TreeExplainer).
    """
    from healthgap.fairness import groupings

    seed = result.settings.seed if seed is None else seed
    size = result.settings.shap_sample if sample is None else sample
    rows = sample_rows(result.X_test.shape[0], size=size, seed=seed)
    X = result.X_test[rows]
    S, base = shap_values(result, X)
    raw = result.models["boosted"].decision_function(X)
    additivity = float(np.max(np.abs(S.sum(axis=1) + base - raw))) if rows.size else 0.0
    rest = raw - base
    groups_frame = result.groups_test[rows]
    found, _ = groupings(groups_frame, dimensions, intersections=())
    importance = _importance(S, result.features, n_boot, seed, confidence)
    by_group = _by_group(S, rest, found, result.features)
    gap_frame: pl.DataFrame = pl.DataFrame()
    gap_groups: tuple[str, str] | None = None
    problem: str | None = GAP_NO_DIMENSION
    target = next((g for g in found if g.name == gap_dimension), None)
    if target is not None:
        gap_groups = (target.labels[0], target.labels[-1])
        gap_frame, problem = _gap(S, rest, target, result.features, n_boot, seed, confidence, min_group)
    dependence = _dependence(
        result, X, S, importance["feature"].to_list(), top=top, bins=bins, confidence=confidence
    )
    return Explanation(
        sample=int(rows.size),
        seed=seed,
        base_value=base,
        importance=importance,
        by_group=by_group,
        gap=gap_frame,
        dependence=dependence,
        gap_dimension=gap_dimension,
        gap_groups=gap_groups,
        gap_problem=problem,
        additivity_error=additivity,
    )
