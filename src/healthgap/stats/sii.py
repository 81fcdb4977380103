"""Slope and relative index of inequality (SII, RII) by the Low & Low method.

References
----------
.. [1] Low A, Low A. Measuring the gap: quantifying and comparing local health
   inequalities. J Public Health 2004;26:388-395.
.. [2] PHEindicatormethods R package, ``phe_sii`` (Public Health England / OHID).
.. [3] Public Health England. Technical Guide: Confidence Intervals. 2018.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

from ._common import (
    Frame,
    as_lazy,
    by_list,
    check_columns,
    check_confidence,
    over,
    z_value,
)

__all__ = [
    "sii",
    "BAD_VALUE_TYPE",
    "BAD_REPETITIONS",
    "BAD_POPULATION",
    "BAD_QUANTILE_COUNT",
    "NOTE_MISSING_QUANTILES",
    "NOTE_BAD_TRANSFORM",
]

ValueType = Literal["rate", "proportion", "indicator"]
BAD_VALUE_TYPE = "sii(): value_type must be 'rate', 'proportion' or 'indicator', got {value!r}."
BAD_REPETITIONS = "sii(): repetitions must be a whole number of at least 1,000, got {value!r}."
BAD_POPULATION = (
    "sii(): column {column!r} has {n} zero, negative or missing population(s). Every "
    "quantile needs a positive population; drop empty quantiles or fix the counts."
)
BAD_QUANTILE_COUNT = (
    "sii(): column {column!r} has {n} distinct quantiles; the SII needs between 5 and 100 "
    "(e.g. IMD quintiles 1-5 or deciles 1-10)."
)
NOTE_MISSING_QUANTILES = "not every quantile has a value and confidence interval"
NOTE_BAD_TRANSFORM = "a value or limit is outside the range of the {scale} transformation"

#: Largest block of random numbers drawn at once (memory bound of the simulation).
_BLOCK = 4_000_000


def _forward(x: np.ndarray, kind: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        if kind == "rate":
            return np.log(x)
        if kind == "proportion":
            return np.log(x / (1 - x))
        return x


def _backward(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "rate":
        return np.exp(x)
    if kind == "proportion":
        return 1 / (1 + np.exp(-x))
    return x


def _quantile_pos(reps: int, p: float) -> int:
    # PHEindicatormethods: sorted simulations at 1-based position round(reps * p)
    return min(max(round(reps * p), 1), reps) - 1


def sii(
    df: Frame,
    *,
    quantile: str,
    population: str,
    value: str,
    lower_ci: str,
    upper_ci: str,
    value_type: ValueType = "rate",
    confidence: float = 0.95,
    repetitions: int = 100_000,
    seed: int = 2024,
    by: str | Sequence[str] | None = None,
    ci_confidence: float = 0.95,
    scale: float = 1.0,
) -> pl.DataFrame:
    """Slope (SII) and relative (RII) index of inequality with simulated CIs.

    Sign convention (Fingertips): quantiles are ordered from most deprived (quantile 1)
    to least deprived; each gets the relative rank x at the midpoint of its share of the
    cumulative population (0 = most, 1 = least deprived). SII is the modelled value at the
    least deprived end minus the modelled value at the most deprived end (x = 1 minus
    x = 0); RII is their ratio (least / most deprived). A positive SII means higher values
    in less deprived areas.

    Parameters
    ----------
    df : one row per group x quantile.
    quantile : quantile number, 1 = most deprived (between 5 and 100 distinct values).
    population : quantile population (weights); must be positive.
    value, lower_ci, upper_ci : the indicator and its confidence limits per quantile.
    value_type : "rate" (standard errors from the CI on the log scale), "proportion"
        (logit scale; values on the 0-1 scale after dividing by ``scale``) or "indicator"
        (natural scale), as in PHEindicatormethods ``phe_sii``.
    confidence : confidence level of the SII/RII intervals.
    repetitions : number of simulations (at least 1,000).
    seed : seed of the numpy random generators (results are reproducible). Each group
        draws from its own stream, keyed by ``seed`` and the group's ``by`` values, so a
        group's interval is the same whichever other groups are computed with it.
    by : group column(s); an SII is computed per group.
    ci_confidence : confidence level of the input limits (0.95 as in ``phe_sii``).
    scale : divide values by this before the logit (100 for percentages); SII is
        returned on the input scale.

    Returns
    -------
    pl.DataFrame
        One row per group: ``by``, ``quantiles`` (count) and total ``population``,
        ``value``/``lower_ci``/``upper_ci`` (= ``sii``, ``sii_lower``, ``sii_upper``),
        ``sii``, ``sii_lower``, ``sii_upper``, ``rii``, ``rii_lower``, ``rii_upper``,
        ``confidence``, ``statistic``, ``method``, ``note``.

    Notes
    -----
    The regression is y√a = β0 √a + β1 b√a (weighted least squares with weights a, the
    population share; b the relative rank), solved in closed form per group. SII = β1,
    RII = (β0 + β1)/β0. CIs: each quantile's value is drawn from a normal distribution on
    the transformed scale with standard error (U - L)/(2 z), back-transformed, and the
    regression refitted; limits are the simulated percentiles.

    References
    ----------
    .. [1] Low A, Low A. J Public Health 2004;26:388-395.
    .. [2] PHEindicatormethods ``phe_sii``.
    """
    func = "sii"
    if value_type not in ("rate", "proportion", "indicator"):
        raise ValueError(BAD_VALUE_TYPE.format(value=value_type))
    if isinstance(repetitions, bool) or not isinstance(repetitions, int) or repetitions < 1000:
        raise ValueError(BAD_REPETITIONS.format(value=repetitions))
    confidence = check_confidence(confidence, func)
    ci_confidence = check_confidence(ci_confidence, func)
    groups = by_list(by)
    lf = as_lazy(df, func)
    numeric = [quantile, population, value, lower_ci, upper_ci]
    check_columns(lf.collect_schema(), [*groups, *numeric], func, numeric=numeric)
    data = lf.select(*groups, *numeric).collect()

    bad_pop = data.filter(~(pl.col(population) > 0) | pl.col(population).is_null()).height
    if bad_pop:
        raise ValueError(BAD_POPULATION.format(column=population, n=bad_pop))
    levels = data[quantile].unique().sort()
    k = levels.len()
    if not 5 <= k <= 100:
        raise ValueError(BAD_QUANTILE_COUNT.format(column=quantile, n=k))

    # Per-quantile transformed value and standard error (vectorised over all rows).
    s = float(scale)
    fwd = {c: _forward(data[c].cast(pl.Float64).to_numpy() / s, value_type) for c in numeric[2:]}
    se = (fwd[upper_ci] - fwd[lower_ci]) / (2 * z_value(ci_confidence))
    data = data.with_columns(
        pl.Series("__t", fwd[value]),
        pl.Series("__se", se),
        pl.col(quantile).rank("dense").alias("__q"),
    ).with_columns(
        (pl.col("__t").is_finite() & pl.col("__se").is_finite() & (pl.col("__se") >= 0))
        .fill_null(False)
        .alias("__valid")
    )

    # Closed-form weighted least squares per group (polars group_by).
    pop = pl.col(population).cast(pl.Float64)
    a = pop / over(pop.sum(), groups)
    ranked = (
        data.sort([*groups, "__q"])
        .with_columns(a.alias("__a"))
        .with_columns((over(pl.col("__a").cum_sum(), groups) - pl.col("__a") / 2).alias("__b"))
    )
    y = pl.col(value).cast(pl.Float64)
    aggs = [
        pl.len().alias("quantiles"),
        pl.col(population).sum().alias(population),
        pl.col("__valid").all().alias("__ok"),
        pl.col("__q").n_unique().alias("__nq"),
        (pl.col("__a") * pl.col("__b")).sum().alias("__xbar"),
        (pl.col("__a") * y).sum().alias("__ybar"),
        (pl.col("__a") * pl.col("__b") ** 2).sum().alias("__sxx"),
        (pl.col("__a") * pl.col("__b") * y).sum().alias("__sxy"),
        *[pl.col(c) if groups else pl.col(c).implode() for c in ("__a", "__b", "__t", "__se")],
    ]
    fit = (ranked.group_by(groups).agg(aggs) if groups else ranked.select(aggs)).with_columns(
        (pl.col("__sxx") - pl.col("__xbar") ** 2).alias("__sxx"),
        (pl.col("__sxy") - pl.col("__xbar") * pl.col("__ybar")).alias("__sxy"),
    )
    fit = fit.with_columns((pl.col("__sxy") / pl.col("__sxx")).alias("__slope")).with_columns(
        (pl.col("__ybar") - pl.col("__slope") * pl.col("__xbar")).alias("__icpt")
    )
    if groups:
        fit = fit.sort(groups, nulls_last=True)
    complete = (fit["__ok"] & (fit["__nq"] == k) & (fit["quantiles"] == k)).to_numpy()

    lo_sii = np.full(fit.height, np.nan)
    hi_sii, lo_rii, hi_rii = lo_sii.copy(), lo_sii.copy(), lo_sii.copy()
    idx = np.flatnonzero(complete)
    if idx.size:
        sub = fit[idx]
        stack = lambda c: np.vstack(sub[c].to_list()).astype(float)  # noqa: E731
        a_m, b_m, t_m, se_m = stack("__a"), stack("__b"), stack("__t"), stack("__se")
        xbar = sub["__xbar"].to_numpy()[:, None]
        sxx = sub["__sxx"].to_numpy()[:, None]
        c_slope = a_m * (b_m - xbar) / sxx  # slope = Σ c_i y_i
        c_icpt = a_m - xbar * c_slope  # intercept = Σ d_i y_i
        g = idx.size
        slopes = np.empty((g, repetitions))
        icpts = np.empty((g, repetitions))
        # one random stream per group, keyed by the seed and the group's own values, so
        # that a group's interval does not depend on which other groups are in the call
        keys = sub.select(groups).rows() if groups else [()] * g
        streams = [np.random.default_rng([seed, zlib.crc32(repr(key).encode())]) for key in keys]
        step = max(1, _BLOCK // (g * k))
        for start in range(0, repetitions, step):  # blocks of repetitions
            m = min(step, repetitions - start)
            normal = np.stack([r.standard_normal((m, k)) for r in streams])
            draws = t_m[:, None, :] + se_m[:, None, :] * normal
            yv = _backward(draws, value_type) * s
            slopes[:, start : start + m] = np.einsum("gmk,gk->gm", yv, c_slope)
            icpts[:, start : start + m] = np.einsum("gmk,gk->gm", yv, c_icpt)
        riis = (icpts + slopes) / icpts
        p_hi = confidence + (1 - confidence) / 2
        pos = [_quantile_pos(repetitions, 1 - p_hi), _quantile_pos(repetitions, p_hi)]
        qs = np.partition(slopes, pos, axis=1)[:, pos]
        qr = np.partition(riis, pos, axis=1)[:, pos]
        lo_sii[idx], hi_sii[idx] = qs[:, 0], qs[:, 1]
        lo_rii[idx], hi_rii[idx] = qr[:, 0], qr[:, 1]

    ok = pl.Series(complete)
    scale_name = {"rate": "log", "proportion": "logit", "indicator": "identity"}[value_type]
    note = (
        pl.when(pl.col("__nq") != k)
        .then(pl.lit(NOTE_MISSING_QUANTILES))
        .when(~pl.col("__ok"))
        .then(pl.lit(NOTE_BAD_TRANSFORM.format(scale=scale_name)))
    )
    nan_null = lambda arr: pl.Series(arr).fill_nan(None)  # noqa: E731
    out = fit.with_columns(
        pl.when(ok).then(pl.col("__slope")).alias("sii"),
        nan_null(lo_sii).alias("sii_lower"),
        nan_null(hi_sii).alias("sii_upper"),
        pl.when(ok).then((pl.col("__icpt") + pl.col("__slope")) / pl.col("__icpt")).alias("rii"),
        nan_null(lo_rii).alias("rii_lower"),
        nan_null(hi_rii).alias("rii_upper"),
        note.alias("note"),
    ).with_columns(
        pl.col("sii").alias("value"),
        pl.col("sii_lower").alias("lower_ci"),
        pl.col("sii_upper").alias("upper_ci"),
        pl.lit(confidence).alias("confidence"),
        pl.lit("Slope index of inequality").alias("statistic"),
        pl.lit(
            f"Low & Low weighted regression; CI simulated ({repetitions:,} repetitions, {scale_name} scale)"
        ).alias("method"),
    )
    return out.select(
        *groups,
        "quantiles",
        population,
        "value",
        "lower_ci",
        "upper_ci",
        "sii",
        "sii_lower",
        "sii_upper",
        "rii",
        "rii_lower",
        "rii_upper",
        "confidence",
        "statistic",
        "method",
        "note",
    )
