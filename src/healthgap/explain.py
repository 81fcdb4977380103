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

Means that are counts in disguise
---------------------------------
A model with few splits gives a feature (or the whole output) only a handful of distinct
SHAP values. The mean of such a column over a group is then a weighted count: with two
values ``a`` and ``b`` (published, e.g., as the means of two bins), a group mean ``m``
solves to the exact number of people at ``a`` (``(k a + (n - k) b) / n = m``), however
the group size is rounded. For every column with at most :data:`DISCRETE_VALUES`
distinct values, :func:`explain` therefore also returns, in :attr:`Explanation.levels`,
the exact number of people at each value in each group; the page publishes those counts
(rounded, small ones suppressed) and :meth:`Explanation.recompute` puts back, in place of
the exact means, the means of the published counts with a normal-approximation interval
(disclosure rule 8), or nothing when a count is suppressed.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse
from scipy.stats import norm

from healthgap.config import Dimension
from healthgap.models import ModelResult, one_thread, tree_shap
from healthgap.stats import bootstrap_weights, percentile_interval

__all__ = [
    "Explanation",
    "explain",
    "shap_values",
    "sample_rows",
    "level_means",
    "MIN_GROUP",
    "GAP_TOO_FEW",
    "GAP_NO_DIMENSION",
    "DISCRETE_VALUES",
    "LEVEL_KEYS",
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
#: A column of SHAP values with at most this many distinct values is published through the
#: counts of people at each value (see the module docstring).
DISCRETE_VALUES = 20
LEVEL_METHOD = (
    "mean of the published (rounded) numbers of people at each of the few values it takes; "
    "normal-approximation interval"
)
#: The columns that identify one mean in :attr:`Explanation.levels` ("" or -1 where they do not apply).
LEVEL_KEYS: tuple[str, ...] = ("table", "dimension", "group", "feature", "bin", "side")
_LEVEL_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(),
    "dimension": pl.String(),
    "group": pl.String(),
    "feature": pl.String(),
    "bin": pl.Int64(),
    "side": pl.String(),
    "level": pl.Float64(),
    "count": pl.Int64(),
}
BOOT_METHOD = "percentile bootstrap of the SHAP sample, {n} replicates (seed {seed})"


def sample_rows(n: int, *, size: int, seed: int) -> np.ndarray:
    """Sorted, seeded sample of ``min(size, n)`` row indices without replacement."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def shap_values(result: ModelResult, X: np.ndarray) -> tuple[np.ndarray, float]:
    """SHAP values (log-odds scale) of the gradient-boosted model and its base value.

    ``values.sum(axis=1) + base`` equals ``decision_function(X)`` (the raw
    log-odds) up to floating-point error. Computed by :func:`healthgap.models.tree_shap`
    (``shap.TreeExplainer``'s numbers, each distinct path through the trees explained once).

    References
    ----------
    .. [1] Lundberg SM, et al. From local explanations to global understanding with explainable
       AI for trees. Nature Machine Intelligence 2020;2:56-67.
    """
    return tree_shap(result.models["boosted"], X)


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
    levels : for the columns with few distinct values (:attr:`discrete`), the exact number of
        people (``count``) at each value (``level``) behind every mean of the four frames, keyed
        by :data:`LEVEL_KEYS`: publish it with ``counts=["count"], by=list(LEVEL_KEYS)`` and
        pass it to :meth:`recompute`.
    discrete : the features (and ``(total)``) whose SHAP values take at most
        :data:`DISCRETE_VALUES` values in the sample.
    leaf : the smallest leaf of the model's trees (people).
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
    levels: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_LEVEL_SCHEMA), repr=False)
    discrete: tuple[str, ...] = ()
    leaf: int = 0
    confidence: float = 0.95

    def recompute(self, frame: pl.DataFrame, *, table: str, levels: pl.DataFrame) -> pl.DataFrame:
        """``frame`` (one of the four, counts as they will be published) with the means of its
        discrete columns recomputed from the published ``levels`` (rule 8).

        Pass it to :func:`healthgap.disclosure.publish` as ``recompute`` (with ``table`` one of
        ``"importance"``, ``"by_group"``, ``"gap"``, ``"dependence"`` and ``levels`` the
        published :attr:`levels`). A mean whose counts are not all published is left empty;
        the means of the other columns are the exact ones.
        """
        if not self.discrete or not frame.height:
            return frame
        means = level_means(levels.filter(pl.col("table") == table), confidence=self.confidence)
        if table == "gap":
            return _gap_from_levels(frame, means, confidence=self.confidence)
        keys = {
            "importance": ["feature"],
            "by_group": ["dimension", "group", "feature"],
            "dependence": ["feature", "bin"],
        }[table]
        joined = frame.join(
            means.select(*keys, pl.lit(True).alias("_discrete"), "mean", "lower", "upper"),
            on=keys,
            how="left",
            maintain_order="left",
        )
        is_discrete = pl.col("_discrete").fill_null(False)
        hidden = is_discrete & pl.col("mean").is_null()
        out = joined.with_columns(
            pl.when(is_discrete).then(pl.col("mean")).otherwise(pl.col("value")).alias("value"),
            *(
                pl.when(is_discrete).then(pl.col(new)).otherwise(pl.col(old)).alias(old)
                for old, new in (("lower_ci", "lower"), ("upper_ci", "upper"))
                if old in frame.columns
            ),
            *(
                [pl.when(is_discrete).then(pl.lit(LEVEL_METHOD)).otherwise(pl.col("method")).alias("method")]
                if "method" in frame.columns
                else []
            ),
        )
        return _mark_hidden(out.select(*frame.columns, hidden.alias("_hidden")))


def _mark_hidden(frame: pl.DataFrame) -> pl.DataFrame:
    """Drop the ``_hidden`` helper column, marking those rows ``suppressed`` (when there are any),
    so that a mean left empty for a suppressed count reads as suppressed, not as missing."""
    hidden = frame.get_column("_hidden").fill_null(False)
    frame = frame.drop("_hidden")
    if not hidden.any():
        return frame
    before = frame.get_column("suppressed").fill_null(False) if "suppressed" in frame.columns else False
    return frame.with_columns(suppressed=hidden | before)


def level_means(levels: pl.DataFrame, *, confidence: float = 0.95) -> pl.DataFrame:
    """The mean of each key of ``levels`` (:data:`LEVEL_KEYS`) from its counts, with a normal interval.

    Returns the keys with ``people`` (the sum of the counts), ``mean``, ``se`` (standard error
    of the mean), ``lower`` and ``upper``; all null when any count of the key is suppressed
    (null) or there is nobody.

    References
    ----------
    .. [1] Hundepool A, et al. Statistical Disclosure Control. Wiley, 2012, ch. 5 (magnitude
       tables: statistics recomputed from the protected counts).
    """
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    keys = [k for k in LEVEL_KEYS if k in levels.columns]
    c, v = pl.col("count").cast(pl.Float64), pl.col("level")
    grouped = levels.group_by(keys, maintain_order=True).agg(
        complete=pl.col("count").is_not_null().all(),
        people=c.sum(),
        total=(c * v).sum(),
        squares=(c * v * v).sum(),
    )
    mean = pl.col("total") / pl.col("people")
    variance = ((pl.col("squares") - pl.col("people") * mean * mean) / (pl.col("people") - 1)).clip(
        lower_bound=0
    )
    ok = pl.col("complete") & (pl.col("people") > 0)
    return grouped.with_columns(
        mean=pl.when(ok).then(mean),
        se=pl.when(ok & (pl.col("people") > 1)).then((variance / pl.col("people")).sqrt()),
    ).select(
        *keys,
        "people",
        "mean",
        "se",
        lower=pl.col("mean") - z * pl.col("se"),
        upper=pl.col("mean") + z * pl.col("se"),
    )


def _gap_from_levels(frame: pl.DataFrame, means: pl.DataFrame, *, confidence: float) -> pl.DataFrame:
    """The gap frame with each discrete feature's difference from the published counts."""
    first = means.filter(pl.col("side") == "first").select("feature", m1="mean", s1="se")
    last = means.filter(pl.col("side") == "last").select("feature", m2="mean", s2="se")
    both = first.join(last, on="feature").with_columns(_discrete=pl.lit(True))
    q = float(norm.ppf(1 - (1 - confidence) / 2))
    diff = pl.col("m1") - pl.col("m2")
    half = q * (pl.col("s1") ** 2 + pl.col("s2") ** 2).sqrt()
    joined = frame.join(both, on="feature", how="left", maintain_order="left")
    is_discrete = pl.col("_discrete").fill_null(False)
    hidden = is_discrete & diff.is_null()
    out = joined.with_columns(
        pl.when(is_discrete).then(diff).otherwise(pl.col("value")).alias("value"),
        pl.when(is_discrete).then(diff - half).otherwise(pl.col("lower_ci")).alias("lower_ci"),
        pl.when(is_discrete).then(diff + half).otherwise(pl.col("upper_ci")).alias("upper_ci"),
        pl.when(is_discrete).then(pl.lit(LEVEL_METHOD)).otherwise(pl.col("method")).alias("method"),
    )
    total = out.filter(pl.col("feature") == "(total)")
    if total.height and total["value"][0] is not None and total["lower_ci"][0] is not None:
        t, lo, hi = total["value"][0], total["lower_ci"][0], total["upper_ci"][0]
        clear = t != 0 and (lo > 0 or hi < 0)
        out = out.with_columns(share=pl.col("value") / t if clear else pl.lit(None, dtype=pl.Float64))
    else:
        out = out.with_columns(share=pl.lit(None, dtype=pl.Float64))
    return _mark_hidden(out.select(*frame.columns, hidden.alias("_hidden")))


def _discrete_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct values of ``values`` and each one's index, when there are 2 to
    :data:`DISCRETE_VALUES` of them (else None)."""
    if values.size == 0:
        return None
    levels, codes = np.unique(np.round(values, 12), return_inverse=True)
    if not 2 <= levels.shape[0] <= DISCRETE_VALUES:  # one value: its mean is that value, whoever is in it
        return None
    return levels, codes.ravel()


def _level_rows(
    levels: np.ndarray, codes: np.ndarray, groups: np.ndarray, keys: Sequence[Mapping[str, object]]
) -> pl.DataFrame:
    """People at each level in each group (``groups``: index into ``keys``, -1 for none), every pair."""
    k, m = len(keys), levels.shape[0]
    keep = groups >= 0
    counts = np.bincount(groups[keep] * m + codes[keep], minlength=k * m).reshape(k, m)
    blank = {"table": "", "dimension": "", "group": "", "feature": "", "bin": -1, "side": ""}
    rows = [
        {**blank, **key, "level": float(levels[j]), "count": int(counts[i, j])}
        for i, key in enumerate(keys)
        for j in range(m)
    ]
    return pl.DataFrame(rows, schema=_LEVEL_SCHEMA) if rows else pl.DataFrame(schema=_LEVEL_SCHEMA)


def _importance(
    S: np.ndarray, features: Sequence[str], labels: Sequence[str], n_boot: int, seed: int, confidence: float
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
                "label": list(labels),
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


def _by_group(
    S: np.ndarray, rest: np.ndarray, found: Sequence, features: Sequence[str], feature_labels: Sequence[str]
) -> pl.DataFrame:
    names = [*features, "(total)"]
    labels = [*feature_labels, "All features (mean log-odds minus base)"]
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
    a: np.ndarray,
    b: np.ndarray,
    names: tuple[str, str],
    features: Sequence[str],
    feature_labels: Sequence[str],
    n_boot: int,
    seed: int,
    confidence: float,
    minimum: int,
) -> tuple[pl.DataFrame, str | None]:
    """Mean SHAP of the people in ``a`` minus that of the people in ``b``, per feature and in all."""
    first, last = names
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
    names_ = [*features, "(total)"]
    frame = pl.DataFrame(
        {
            "feature": names_,
            "label": [*feature_labels, "Total gap in mean log-odds"],
            "n_first": [int(a.sum())] * len(names_),
            "n_last": [int(b.sum())] * len(names_),
            "value": point,
            "lower_ci": lo,
            "upper_ci": hi,
            "share": point / total if total and clear else np.full(len(names_), np.nan),
            "confidence": [confidence] * len(names_),
            "statistic": [f"Mean SHAP, {first} minus {last} (log-odds)"] * len(names_),
            "method": [BOOT_METHOD.format(n=n_boot, seed=seed)] * len(names_),
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
    units: Mapping[str, str],
    discrete: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    from healthgap.contract import CONTRACT

    z = norm.ppf(1 - (1 - confidence) / 2)
    parts: list[pl.DataFrame] = []
    counted: list[pl.DataFrame] = []
    for feature in list(order)[:top]:
        j = result.features.index(feature)
        x, s = X[:, j], S[:, j]
        missing = np.isnan(x)
        if feature in result.categorical:
            labels = list(result.categories[feature])
            codes = np.where(missing, -1, np.nan_to_num(x, nan=-1)).astype(np.int64)
        elif np.all(np.isin(x[~missing], (0.0, 1.0))):
            codes = np.where(missing, -1, np.nan_to_num(x)).astype(np.int64)
            labels = ["No", "Yes"]
        else:
            qs = np.unique(np.quantile(x[~missing], np.linspace(0, 1, bins + 1)[1:-1]))
            codes = np.where(missing, -1, np.searchsorted(qs, x, side="right"))
            col = CONTRACT.get(feature)
            unit = units.get(feature) or (col.unit if col is not None and col.unit else "")
            labels = _bin_labels(qs, unit)
        codes = np.where(missing, len(labels), codes)
        labels = [*labels, "missing"]
        if feature in discrete:
            values, at = discrete[feature]
            present = np.unique(codes)
            keys = [{"table": "dependence", "feature": feature, "bin": int(b)} for b in present]
            position = np.searchsorted(present, codes)
            counted.append(_level_rows(values, at, position, keys))
        frame = (
            pl.DataFrame({"bin": codes, "s": s})
            .group_by("bin")
            .agg(n=pl.len(), value=pl.col("s").mean(), sd=pl.col("s").std())
            .sort("bin")
            .with_columns(
                feature=pl.lit(feature),
                label=pl.lit(result.label(feature)),
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
        return pl.DataFrame(), counted
    frame = (
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
    return frame, counted


def explain(
    result: ModelResult,
    *,
    dimensions: Sequence[Dimension],
    gap_dimension: str = "imd_quintile",
    disadvantaged: str = "first",
    sample: int | None = None,
    seed: int | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    bins: int = 10,
    top: int = 6,
    min_group: int = MIN_GROUP,
    units: Mapping[str, str] | None = None,
) -> Explanation:
    """SHAP explanations of the gradient-boosted model, aggregated over groups of people.

    Parameters
    ----------
    result : a fitted :class:`~healthgap.models.ModelResult`.
    dimensions : equity dimensions for the group means (``config.dimensions``).
    gap_dimension : the ordered dimension whose two ends are compared (most and least deprived
        fifths in the default book); ``""`` for none.
    disadvantaged : ``"first"`` or ``"last"``: which end of the dimension's order is worse off;
        the gap is that end minus the other.
    sample : people explained, drawn from the test set (default ``settings.shap_sample``).
    seed : seed of the sample and the bootstrap (default ``settings.seed``).
    n_boot, confidence : bootstrap settings for importance and gap intervals.
    bins, top : dependence bins (tenths of the feature) for the ``top`` most important features.
    min_group : the gap is split only when both groups have at least this many people in the
        sample (at least 2); the pages pass the disclosure threshold.
    units : feature -> unit for the dependence bins' labels (the config's measures).

    Returns
    -------
    Explanation
        Exact aggregates (``n``, ``n_first``, ``n_last`` and ``levels.count`` are exact counts of
        people): publish them with :func:`healthgap.disclosure.publish` before showing them,
        recomputing the means of the discrete columns with :meth:`Explanation.recompute`.

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
    with one_thread():
        raw = result.models["boosted"].decision_function(X)
    additivity = float(np.max(np.abs(S.sum(axis=1) + base - raw))) if rows.size else 0.0
    rest = raw - base
    features, labels = result.features, result.feature_labels
    columns = {**{f: S[:, j] for j, f in enumerate(features)}, "(total)": rest}
    discrete = {
        name: coded for name, values in columns.items() if (coded := _discrete_codes(values)) is not None
    }
    levels: list[pl.DataFrame] = []
    everyone = np.zeros(rows.size, dtype=np.int64)
    for name in features:
        found_abs = _discrete_codes(np.abs(columns[name])) if name in discrete else None
        if found_abs is not None:
            levels.append(_level_rows(*found_abs, everyone, [{"table": "importance", "feature": name}]))
    groups_frame = result.groups_test[rows]
    found, _ = groupings(groups_frame, dimensions, intersections=())
    importance = _importance(S, features, labels, n_boot, seed, confidence)
    by_group = _by_group(S, rest, found, features, labels)
    for g in found:
        keys = [{"table": "by_group", "dimension": g.name, "group": level} for level in g.levels]
        for name, (values, at) in discrete.items():
            levels.append(_level_rows(values, at, g.codes, [{**k, "feature": name} for k in keys]))
    gap_frame: pl.DataFrame = pl.DataFrame()
    gap_groups: tuple[str, str] | None = None
    problem: str | None = GAP_NO_DIMENSION
    target = next((g for g in found if g.name == gap_dimension), None)
    if target is not None:
        worse, better = (target.k - 1, 0) if disadvantaged == "last" else (0, target.k - 1)
        gap_groups = (target.labels[worse], target.labels[better])
        a, b = target.codes == worse, target.codes == better
        gap_frame, problem = _gap(
            S, rest, a, b, gap_groups, features, labels, n_boot, seed, confidence, min_group
        )
        if problem is None:
            sides = np.where(a, 0, np.where(b, 1, -1))
            for name, (values, at) in discrete.items():
                keys = [{"table": "gap", "feature": name, "side": side} for side in ("first", "last")]
                levels.append(_level_rows(values, at, sides, keys))
    dependence, dependence_levels = _dependence(
        result,
        X,
        S,
        importance["feature"].to_list(),
        top=top,
        bins=bins,
        confidence=confidence,
        units=units or {},
        discrete=discrete,
    )
    levels += dependence_levels
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
        levels=pl.concat(levels) if levels else pl.DataFrame(schema=_LEVEL_SCHEMA),
        discrete=tuple(discrete),
        leaf=result.leaf,
        confidence=confidence,
    )
