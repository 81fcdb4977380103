"""Simultaneous intervals for the gaps between many groups, and whether an extreme is chance.

A sentence naming the highest of k groups compares that group with every other one: with k
groups there are k(k-1)/2 gaps, and the largest of them is the largest of many chances to
look different. Intervals that hold for all the gaps at once (here at 95% together) answer
"could the highest group's lead be chance?" honestly. Two methods:

- Bonferroni: each gap's normal interval at level 1 - α/m for m gaps (never below the
  stated joint coverage, conservative when the gaps are correlated, as gaps sharing a
  group are);
- the max statistic: the critical value is the quantile of max_j |d*_j - d_j| / se_j over
  the joint distribution of all the gaps, from bootstrap replicates of the group estimates
  (the max-t bootstrap band) or, given only standard errors, from simulated independent
  normal estimates (the Tukey-Kramer / Dunnett critical values for normal estimates). It
  has the stated joint coverage and is narrower than Bonferroni.

References
----------
.. [1] Dunn OJ. Multiple comparisons among means. J Am Stat Assoc 1961;56:52-64 (Bonferroni).
.. [2] Westfall PH, Young SS. Resampling-based multiple testing. Wiley; 1993 (max-t, single step).
.. [3] Hothorn T, Bretz F, Westfall P. Simultaneous inference in general parametric models.
   Biom J 2008;50:346-363.
.. [4] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall; 1993.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.special import ndtri

from ._common import Frame, as_lazy, check_columns, check_confidence

__all__ = [
    "simultaneous_intervals",
    "bonferroni_bounds",
    "bonferroni_ratio",
    "extremes",
    "Comparisons",
    "Scale",
    "BAD_COMPARISONS",
    "BAD_SCALE",
    "NEED_SPREAD",
    "BAD_REPLICATES",
    "UNKNOWN_REFERENCE",
    "DUPLICATE_GROUPS",
    "BAD_SIMULATIONS",
    "NOTE_NO_ESTIMATE",
    "NOTE_NOT_POSITIVE",
]

Comparisons = Literal["pairwise", "reference"]
Scale = Literal["difference", "ratio"]

BAD_COMPARISONS = (
    "simultaneous_intervals(): comparisons must be 'pairwise' (every pair of groups) or "
    "'reference' (every group against reference=...), got {value!r}."
)
BAD_SCALE = "simultaneous_intervals(): scale must be 'difference' or 'ratio', got {value!r}."
NEED_SPREAD = (
    "simultaneous_intervals(): give std_error= (a column of standard errors) or replicates= "
    "(a bootstrap matrix, one row per replicate and one column per group), or both."
)
BAD_REPLICATES = (
    "simultaneous_intervals(): replicates must be a 2-D array with one column per row of the "
    "data ({k} groups) and at least 100 replicate rows; got shape {shape}."
)
UNKNOWN_REFERENCE = (
    "simultaneous_intervals(): reference {reference!r} is not a value of column {group!r} (values: {levels})."
)
DUPLICATE_GROUPS = (
    "simultaneous_intervals(): column {group!r} must name each group once; {levels} appear more than once."
)
BAD_SIMULATIONS = (
    "simultaneous_intervals(): simulations must be a whole number of at least 1,000, got {value!r}."
)
NOTE_NO_ESTIMATE = "a group has no estimate or standard error"
NOTE_NOT_POSITIVE = "a ratio needs both estimates above zero"

#: Smallest number of bootstrap replicates accepted.
MIN_REPLICATES = 100
#: Largest block of simulated draws held at once (memory bound).
_BLOCK = 4_000_000


def _pairs(k: int, comparisons: str, ref: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (group, versus) of the comparisons, in a fixed order."""
    if comparisons == "reference":
        assert ref is not None
        others = np.array([i for i in range(k) if i != ref], dtype=np.int64)
        return others, np.full(others.size, ref, dtype=np.int64)
    i, j = np.triu_indices(k, 1)
    return i.astype(np.int64), j.astype(np.int64)


def _max_quantile(t: np.ndarray, confidence: float) -> float:
    """Quantile of the row maxima of |t| over replicates with no missing value."""
    keep = np.all(np.isfinite(t), axis=1)
    if not keep.any() or t.shape[1] == 0:
        return float("nan")
    return float(np.quantile(np.max(np.abs(t[keep]), axis=1), confidence))


def _simulated_maxima(
    se: np.ndarray, gi: np.ndarray, gj: np.ndarray, se_d: np.ndarray, simulations: int, seed: int
) -> np.ndarray:
    """Max |t| over the gaps ``gi`` - ``gj`` in each of ``simulations`` draws of normal estimates
    with standard errors ``se``, t = gap / ``se_d`` (at least one gap).

    Each block of draws is turned around (one row per group) and the maximum kept gap by gap, in
    place: the same draws and the same operations on each number as taking every gap of the block
    at once and then its rows' maxima (``tests/test_stats_simultaneous.py`` checks that the two
    agree bit for bit), without the block of all gaps in memory (about 2.5 times faster).
    """
    rng = np.random.default_rng(seed)
    k = se.shape[0]
    tops = []
    step = max(1, _BLOCK // max(k, 1))
    for start in range(0, simulations, step):  # blocks of simulated draws
        draws = np.ascontiguousarray((rng.standard_normal((min(step, simulations - start), k)) * se).T)
        top, gap = np.zeros(draws.shape[1]), np.empty(draws.shape[1])
        with np.errstate(all="ignore"):
            for i, j, s in zip(gi, gj, se_d):  # the gaps compared (a few dozen)
                np.subtract(draws[i], draws[j], out=gap)
                np.divide(gap, s, out=gap)
                np.maximum(top, np.abs(gap, out=gap), out=top)  # NaN stays NaN, as in np.max
        tops.append(top)
    return np.concatenate(tops)


def simultaneous_intervals(
    df: Frame,
    *,
    group: str,
    estimate: str,
    std_error: str | None = None,
    replicates: npt.ArrayLike | None = None,
    comparisons: Comparisons = "pairwise",
    reference: object = None,
    scale: Scale = "difference",
    confidence: float = 0.95,
    simulations: int = 100_000,
    seed: int = 2024,
) -> pl.DataFrame:
    """Intervals for every pairwise gap (or every group-vs-reference gap) that hold together.

    Parameters
    ----------
    df : one row per group: ``group``, ``estimate`` and (optionally) ``std_error``.
    group : the group labels (each once).
    estimate : each group's estimate (a rate, proportion, mean, ...).
    std_error : each group's standard error (groups independent). Used for Bonferroni,
        and for the max statistic when no ``replicates`` are given.
    replicates : bootstrap replicates of the estimates, shape (replicates, groups), the
        columns in the row order of ``df`` (e.g. from
        :func:`~healthgap.stats.bootstrap_weights`). The gaps' standard errors and the max
        statistic come from them (replicates with a missing value are left out of the
        max). ``std_error`` is then not needed.
    comparisons : "pairwise" (each pair once: the group of the earlier row minus that of
        the later one) or "reference" (each other group minus the ``reference`` group).
    reference : the reference group's label, for ``comparisons="reference"``.
    scale : "difference" (estimate minus estimate) or "ratio" (estimate over estimate,
        computed on the log scale; a standard error s of an estimate θ is s/θ there).
    confidence : joint confidence level of all the intervals together.
    simulations : draws for the max statistic when only standard errors are given.
    seed : seed of those draws.

    Returns
    -------
    pl.DataFrame
        One row per comparison: ``group``, ``versus``, ``estimate``, ``versus_estimate``,
        ``value`` (difference or ratio), ``lower_ci``, ``upper_ci`` (the max-statistic
        simultaneous interval), ``bonferroni_lower``, ``bonferroni_upper``,
        ``unadjusted_lower``, ``unadjusted_upper`` (the usual one-at-a-time interval),
        ``std_error`` (of the gap; on the log scale for ratios), ``critical_max``,
        ``critical_bonferroni``, ``comparisons`` (the number m of gaps in the family),
        ``excludes_null`` (the simultaneous interval excludes 0, or 1 for ratios),
        ``confidence``, ``statistic``, ``method``, ``note``. A comparison involving a
        group without an estimate (or, for ratios, with one of 0 or below) has no values,
        a note, and does not count in m.

    Notes
    -----
    For gap j with estimate d_j and standard error s_j (√(s_a² + s_b²) from independent
    standard errors, or the standard deviation of the replicate gaps), the Bonferroni
    interval is d_j ± z_{1-α/(2m)} s_j and the max-statistic one d_j ± c s_j, c the
    ``confidence`` quantile of max_j |d*_j - d_j| / s_j over the replicates (or over
    simulated estimates θ* ~ N(θ, diag(s²))). With equal standard errors, c is Tukey's
    studentized-range critical value / √2 for all pairs and Dunnett's for comparisons
    with a reference (normal case).

    References
    ----------
    .. [1] Dunn OJ. J Am Stat Assoc 1961;56:52-64.
    .. [2] Westfall PH, Young SS. Resampling-based multiple testing. Wiley; 1993.
    .. [3] Hothorn T, Bretz F, Westfall P. Biom J 2008;50:346-363.
    """
    func = "simultaneous_intervals"
    if comparisons not in ("pairwise", "reference"):
        raise ValueError(BAD_COMPARISONS.format(value=comparisons))
    if scale not in ("difference", "ratio"):
        raise ValueError(BAD_SCALE.format(value=scale))
    if std_error is None and replicates is None:
        raise ValueError(NEED_SPREAD)
    if isinstance(simulations, bool) or not isinstance(simulations, int) or simulations < 1000:
        raise ValueError(BAD_SIMULATIONS.format(value=simulations))
    confidence = check_confidence(confidence, func)
    lf = as_lazy(df, func)
    numeric = [estimate, *([] if std_error is None else [std_error])]
    check_columns(lf.collect_schema(), [group, *numeric], func, numeric=numeric)
    data = lf.select(group, *numeric).collect()
    repeated = data.filter(pl.col(group).is_duplicated()).get_column(group).unique()
    if repeated.len():
        raise ValueError(DUPLICATE_GROUPS.format(group=group, levels=repeated.to_list()))
    k = data.height
    labels = data.get_column(group)
    ref = None
    if comparisons == "reference":
        hits = np.flatnonzero((labels.cast(pl.String) == str(reference)).fill_null(False).to_numpy())
        if hits.size != 1:
            raise ValueError(
                UNKNOWN_REFERENCE.format(reference=reference, group=group, levels=labels.to_list())
            )
        ref = int(hits[0])

    theta = data.get_column(estimate).cast(pl.Float64).fill_null(np.nan).to_numpy()
    ratio = scale == "ratio"
    with np.errstate(all="ignore"):
        f = np.log(theta) if ratio else theta
    valid = np.isfinite(f)
    if std_error is not None:
        se_g = data.get_column(std_error).cast(pl.Float64).fill_null(np.nan).to_numpy()
        with np.errstate(all="ignore"):
            se_f = se_g / theta if ratio else se_g
        valid &= np.isfinite(se_f) & (se_f >= 0)
    reps = None
    if replicates is not None:
        reps = np.asarray(replicates, dtype=np.float64)
        if reps.ndim != 2 or reps.shape[1] != k or reps.shape[0] < MIN_REPLICATES:
            raise ValueError(BAD_REPLICATES.format(k=k, shape=reps.shape))
        with np.errstate(all="ignore"):
            reps = np.log(reps) if ratio else reps

    gi, gj = _pairs(k, comparisons, ref)
    ok = valid[gi] & valid[gj]
    m = int(ok.sum())
    d = f[gi] - f[gj]
    alpha = 1 - confidence
    z = float(ndtri(1 - alpha / 2))
    crit_bonf = float(ndtri(1 - alpha / (2 * m))) if m else float("nan")
    if reps is not None:
        gaps = reps[:, gi[ok]] - reps[:, gj[ok]]
        with np.errstate(all="ignore"):
            finite = np.where(np.isfinite(gaps), gaps, np.nan)
            se_d = np.full(d.size, np.nan)
            se_d[ok] = np.nanstd(finite, axis=0, ddof=1)
            crit_max = _max_quantile((gaps - d[ok]) / se_d[ok], confidence)
        method = "Max-t bootstrap (single step) and Bonferroni"
    else:
        se_d = np.sqrt(se_f[gi] ** 2 + se_f[gj] ** 2)
        tops = _simulated_maxima(np.where(valid, se_f, 0.0), gi[ok], gj[ok], se_d[ok], simulations, seed)
        crit_max = float(np.quantile(tops, confidence)) if m else float("nan")
        method = "Max statistic (simulated normal estimates) and Bonferroni"

    back = np.exp if ratio else (lambda x: x)
    nan = np.full(d.size, np.nan)

    def interval(c: float) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            return np.where(ok, back(d - c * se_d), nan), np.where(ok, back(d + c * se_d), nan)

    lo, hi = interval(crit_max)
    b_lo, b_hi = interval(crit_bonf)
    u_lo, u_hi = interval(z)
    null = 1.0 if ratio else 0.0
    positive = theta > 0
    not_positive = ratio & ~(positive[gi] & positive[gj]) & np.isfinite(theta[gi]) & np.isfinite(theta[gj])
    why = pl.Series("note", np.where(not_positive, NOTE_NOT_POSITIVE, NOTE_NO_ESTIMATE), dtype=pl.String)
    column = lambda x: pl.Series(x, dtype=pl.Float64).fill_nan(None)  # noqa: E731
    out = pl.DataFrame(
        {
            "group": labels.gather(gi),
            "versus": labels.gather(gj),
            "estimate": column(theta[gi]),
            "versus_estimate": column(theta[gj]),
            "value": column(np.where(ok, back(d) if ratio else d, np.nan)),
            "lower_ci": column(lo),
            "upper_ci": column(hi),
            "bonferroni_lower": column(b_lo),
            "bonferroni_upper": column(b_hi),
            "unadjusted_lower": column(u_lo),
            "unadjusted_upper": column(u_hi),
            "std_error": column(np.where(ok, se_d, np.nan)),
        }
    )
    return out.with_columns(
        pl.lit(crit_max, dtype=pl.Float64).fill_nan(None).alias("critical_max"),
        pl.lit(crit_bonf, dtype=pl.Float64).fill_nan(None).alias("critical_bonferroni"),
        pl.lit(m, dtype=pl.Int64).alias("comparisons"),
        ((pl.col("lower_ci") > null) | (pl.col("upper_ci") < null)).alias("excludes_null"),
        pl.lit(confidence).alias("confidence"),
        pl.lit(
            ("Ratio" if ratio else "Difference")
            + (" between every pair of groups" if comparisons == "pairwise" else " from the reference group")
        ).alias("statistic"),
        pl.lit(method).alias("method"),
        pl.when(pl.Series(ok)).then(pl.lit(None, dtype=pl.String)).otherwise(why).alias("note"),
    )


def extremes(
    df: Frame,
    *,
    group: str,
    estimate: str,
    std_error: str | None = None,
    replicates: npt.ArrayLike | None = None,
    scale: Scale = "difference",
    confidence: float = 0.95,
    simulations: int = 100_000,
    seed: int = 2024,
) -> pl.DataFrame:
    """The highest and lowest of k groups, and whether each stands apart from all the others.

    The pairwise simultaneous intervals of :func:`simultaneous_intervals` (max statistic)
    say, for every other group, whether the gap to the extreme could be chance; the
    extreme "stands apart" when none of its gaps could be. Since which group is highest
    is itself read from the data, the family is every pair of groups.

    Parameters
    ----------
    As :func:`simultaneous_intervals` (pairwise comparisons).

    Returns
    -------
    pl.DataFrame
        Two rows, ``end`` "highest" then "lowest": ``group``, ``estimate``, ``others`` (the
        other groups with an estimate), ``distinct_from`` (how many of them the
        simultaneous interval separates from this group), ``stands_apart`` (all of them),
        ``nearest`` (the other group closest to it) and ``nearest_lower_ci`` /
        ``nearest_upper_ci`` (the simultaneous interval of the gap to the nearest, as
        extreme minus nearest, or their ratio), ``confidence``, ``method``. Null group
        when fewer than two groups have an estimate.

    References
    ----------
    .. [1] Hothorn T, Bretz F, Westfall P. Biom J 2008;50:346-363.
    """
    pairs = simultaneous_intervals(
        df,
        group=group,
        estimate=estimate,
        std_error=std_error,
        replicates=replicates,
        comparisons="pairwise",
        scale=scale,
        confidence=confidence,
        simulations=simulations,
        seed=seed,
    ).filter(pl.col("note").is_null())
    # each pair in both directions, so every group's gaps are read from its own side
    flipped = pairs.select(
        pl.col("versus").alias("group"),
        pl.col("group").alias("versus"),
        pl.col("versus_estimate").alias("estimate"),
        pl.col("estimate").alias("versus_estimate"),
        *(
            [(1 / pl.col("upper_ci")).alias("lower_ci"), (1 / pl.col("lower_ci")).alias("upper_ci")]
            if scale == "ratio"
            else [(-pl.col("upper_ci")).alias("lower_ci"), (-pl.col("lower_ci")).alias("upper_ci")]
        ),
        "excludes_null",
    )
    both = pl.concat(
        [
            pairs.select(
                "group", "versus", "estimate", "versus_estimate", "lower_ci", "upper_ci", "excludes_null"
            ),
            flipped,
        ]
    )
    ends = []
    for end, top in (("highest", True), ("lowest", False)):  # the two ends (not data rows)
        best = both.sort("estimate", descending=top).head(1).select("group")
        rows = both.join(best, on="group", how="semi").sort(
            (pl.col("estimate") - pl.col("versus_estimate")).abs()
        )
        ends.append(
            rows.select(
                pl.lit(end).alias("end"),
                pl.col("group").first(),
                pl.col("estimate").first(),
                pl.len().cast(pl.Int64).alias("others"),
                pl.col("excludes_null").sum().cast(pl.Int64).alias("distinct_from"),
                (pl.col("excludes_null").all() & (pl.len() > 0)).alias("stands_apart"),
                pl.col("versus").first().alias("nearest"),
                pl.col("lower_ci").first().alias("nearest_lower_ci"),
                pl.col("upper_ci").first().alias("nearest_upper_ci"),
            )
        )
    method = pairs.get_column("method").first() if pairs.height else None
    return pl.concat(ends, how="vertical_relaxed").with_columns(
        pl.lit(confidence).alias("confidence"), pl.lit(method, dtype=pl.String).alias("method")
    )


def bonferroni_bounds(
    value: str | pl.Expr,
    lower: str | pl.Expr,
    upper: str | pl.Expr,
    *,
    comparisons: int,
    confidence: float = 0.95,
) -> tuple[pl.Expr, pl.Expr]:
    """Ratios' intervals widened for ``comparisons`` comparisons (Bonferroni, on the log scale).

    Each ratio's standard error on the log scale is read back from its interval at
    ``confidence``, se = ln(U / L) / 2z; the widened interval is exp(ln R ± z' x se) with z' the
    1 - (1 - confidence) / (2 x comparisons) normal quantile. Naming the group furthest from the
    reference among m picks one of m comparisons after seeing the data (m = the number of groups
    compared); naming the highest against the lowest of k groups one of k(k-1)/2 pairs.

    Parameters
    ----------
    value, lower, upper : the ratio and its interval at ``confidence`` (columns or expressions).
    comparisons : how many comparisons the interval must hold for together (at least 1).
    confidence : the level of the given interval and of the joint one.

    Returns
    -------
    (pl.Expr, pl.Expr)
        The lower and upper bounds, named ``bonferroni_lower`` and ``bonferroni_upper`` (null
        where the ratio or its interval is not positive).

    References
    ----------
    .. [1] Dunn OJ. Multiple comparisons among means. J Am Stat Assoc 1961;56:52-64.
    """
    confidence = check_confidence(confidence, "bonferroni_bounds()")
    v, lo, hi = (pl.col(c) if isinstance(c, str) else c for c in (value, lower, upper))
    alpha = 1 - confidence
    z = float(ndtri(1 - alpha / 2))
    wide = float(ndtri(1 - alpha / (2 * max(comparisons, 1))))
    ok = (v > 0) & (lo > 0) & (hi > 0)
    se = (hi.log() - lo.log()) / (2 * z)
    return (
        pl.when(ok).then((v.log() - wide * se).exp()).alias("bonferroni_lower"),
        pl.when(ok).then((v.log() + wide * se).exp()).alias("bonferroni_upper"),
    )


def bonferroni_ratio(value: float, lower: float, upper: float, *, pairs: int) -> tuple[float, float]:
    """One ratio's 95% interval widened for ``pairs`` comparisons: :func:`bonferroni_bounds` of one row."""
    low, high = pl.select(
        *bonferroni_bounds(
            pl.lit(float(value)), pl.lit(float(lower)), pl.lit(float(upper)), comparisons=pairs
        )
    ).row(0)
    return float(low), float(high)
