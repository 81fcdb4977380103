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
from ._levels import MIN_LEVELS, NOTE_FEW_LEVELS, RANK, Disadvantaged, rank_levels

__all__ = [
    "sii",
    "BAD_VALUE_TYPE",
    "BAD_REPETITIONS",
    "BAD_POPULATION",
    "BAD_QUANTILE_COUNT",
    "NOTE_MISSING_QUANTILES",
    "NOTE_BAD_TRANSFORM",
    "NOTE_FEW_LEVELS",
    "NOTE_RII_UNDEFINED",
    "BAD_TRANSFORM",
]

ValueType = Literal["rate", "proportion", "indicator"]
BAD_VALUE_TYPE = "sii(): value_type must be 'rate', 'proportion' or 'indicator', got {value!r}."
BAD_REPETITIONS = "sii(): repetitions must be a whole number of at least 1,000, got {value!r}."
BAD_POPULATION = (
    "sii(): column {column!r} has {n} zero, negative or missing population(s). Every "
    "quantile needs a positive population; drop empty quantiles or fix the counts."
)
BAD_QUANTILE_COUNT = (
    "sii(): column {column!r} has {n} distinct levels; the SII takes at most 100 (e.g. IMD "
    "quintiles 1-5, deciles 1-10, or education levels)."
)
BAD_TRANSFORM = (
    "sii(): transform must be True or False, and True only for value_type 'rate' (log) or "
    "'proportion' (logit); got transform={value!r} with value_type={value_type!r}."
)
NOTE_RII_UNDEFINED = (
    "the modelled value at one end is, or could well be, zero or below, so the relative index "
    "has no value or no interval"
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


def _transformed_sii(
    icpt: np.ndarray, slope: np.ndarray, kind: str, s: float
) -> tuple[np.ndarray, np.ndarray]:
    """SII and RII of a fit on the transformed scale, back-transformed (PHEindicatormethods).

    ``icpt`` and ``slope`` are the fitted transformed values at x = 0 and the change to
    x = 1; SII = (g(icpt + slope) - g(icpt)) x scale and RII = g(icpt + slope) / g(icpt),
    g the back-transformation (exp for rates, so RII = exp(slope)).
    """
    with np.errstate(all="ignore"):
        low, high = _backward(icpt, kind), _backward(icpt + slope, kind)
        return (high - low) * s, high / low


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
    transform: bool = False,
    order: Sequence[object] | None = None,
    disadvantaged: Disadvantaged = "first",
) -> pl.DataFrame:
    """Slope (SII) and relative (RII) index of inequality with simulated CIs.

    Any ordered dimension with 3 or more levels (deprivation fifths or tenths, education
    levels, income bands, ...). Sign convention (Fingertips): the levels are ranked from
    the most disadvantaged to the least; each gets the relative rank x (ridit) at the
    midpoint of its share of the group's cumulative population (0 = most, 1 = least
    disadvantaged). SII is the modelled value at the least disadvantaged end minus the
    value at the most disadvantaged end (x = 1 minus x = 0); RII is their ratio (least /
    most disadvantaged). So a **negative SII (RII below 1) means higher values in the more
    disadvantaged groups**, whichever the dimension and whichever end of it is
    disadvantaged.

    Parameters
    ----------
    df : one row per group x level.
    quantile : the ordered dimension: numeric, boolean or ``Enum`` in its own order, or
        any column with ``order`` given. Rows with a null level are left out.
    population : level population (weights); must be positive.
    value, lower_ci, upper_ci : the indicator and its confidence limits per level.
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
    transform : fit the regression on the transformed values, as ``phe_sii(transform =
        TRUE)``: the log of rates, the logit of proportions (not for "indicator"). The
        SII and RII are then back-transformed: SII = g(b0 + b1) - g(b0), RII = g(b0 +
        b1) / g(b0) (= exp(b1) for rates, the ratio of the modelled rates at the two ends,
        which is what a rate ratio measures; always positive). ``False`` (default) fits
        the values themselves (the behaviour before this option).
    order : the levels from first to last when the column's own order is not the right
        one (e.g. education as text); every non-null level must be listed.
    disadvantaged : "first" (default; the first level in order is the most
        disadvantaged, e.g. IMD quintile 1 = most deprived) or "last" (e.g. education
        ordered from none to degree: list it that way and say "first"; or income bands from
        lowest to highest: "first").

    Returns
    -------
    pl.DataFrame
        One row per group: ``by``, ``quantiles`` (count of levels) and total
        ``population``, ``value``/``lower_ci``/``upper_ci`` (= ``sii``, ``sii_lower``,
        ``sii_upper``), ``sii``, ``sii_lower``, ``sii_upper``, ``rii``, ``rii_lower``,
        ``rii_upper``, ``rii_note`` (why the RII or its limits are missing, else null),
        ``most_disadvantaged`` and ``least_disadvantaged`` (the levels at the two ends, as
        text), ``confidence``, ``statistic``, ``method``, ``note``.
        Fewer than 3 levels in the data: every group gets the note
        :data:`~healthgap.stats._levels.NOTE_FEW_LEVELS` and no value.

    Notes
    -----
    The regression is y√a = β0 √a + β1 b√a (weighted least squares with weights a, the
    population share; b the relative rank), solved in closed form per group. SII = β1,
    RII = (β0 + β1)/β0. CIs: each level's value is drawn from a normal distribution on
    the transformed scale with standard error (U - L)/(2 z), back-transformed (not with
    ``transform``), and the regression refitted; limits are the simulated percentiles.
    With ``transform`` the limits are those of PHEindicatormethods: the simulated
    percentiles s_L, s_U of the transformed slope, placed around the fitted midpoint
    m = b0 + b1/2: SII limits g(m + s/2) - g(m - s/2), RII limits g(m + s/2) / g(m - s/2).

    Which transform: rates (value_type "rate") use the log, proportions ("proportion")
    the logit, other indicators ("indicator", e.g. life expectancy) none, both for the
    standard errors and, with ``transform``, for the fit.

    Without ``transform`` the RII of a fit whose modelled value at an end is zero or below
    has no meaning as a ratio, nor has an interval whose simulated lower limit is: the RII
    (or only its limits) are then null, with ``rii_note`` :data:`NOTE_RII_UNDEFINED` (the
    SII and ``note`` are not affected). After a transform both ends are always positive.

    References
    ----------
    .. [1] Low A, Low A. J Public Health 2004;26:388-395.
    .. [2] PHEindicatormethods ``phe_sii`` (v2.0.0, ``transform`` argument).
    """
    func = "sii"
    if value_type not in ("rate", "proportion", "indicator"):
        raise ValueError(BAD_VALUE_TYPE.format(value=value_type))
    if isinstance(repetitions, bool) or not isinstance(repetitions, int) or repetitions < 1000:
        raise ValueError(BAD_REPETITIONS.format(value=repetitions))
    if not isinstance(transform, bool) or (transform and value_type == "indicator"):
        raise ValueError(BAD_TRANSFORM.format(value=transform, value_type=value_type))
    confidence = check_confidence(confidence, func)
    ci_confidence = check_confidence(ci_confidence, func)
    groups = by_list(by)
    lf = as_lazy(df, func)
    numeric = [population, value, lower_ci, upper_ci]
    check_columns(lf.collect_schema(), [*groups, quantile, *numeric], func, numeric=numeric)
    data = lf.select(*groups, quantile, *numeric).collect()
    data, k, most, least = rank_levels(
        data, column=quantile, order=order, disadvantaged=disadvantaged, func=func
    )

    bad_pop = data.filter(~(pl.col(population) > 0) | pl.col(population).is_null()).height
    if bad_pop:
        raise ValueError(BAD_POPULATION.format(column=population, n=bad_pop))
    if k > 100:
        raise ValueError(BAD_QUANTILE_COUNT.format(column=quantile, n=k))

    # Per-level transformed value and standard error (vectorised over all rows).
    s = float(scale)
    fwd = {c: _forward(data[c].cast(pl.Float64).to_numpy() / s, value_type) for c in numeric[1:]}
    se = (fwd[upper_ci] - fwd[lower_ci]) / (2 * z_value(ci_confidence))
    data = data.with_columns(pl.Series("__t", fwd[value]), pl.Series("__se", se)).with_columns(
        (pl.col("__t").is_finite() & pl.col("__se").is_finite() & (pl.col("__se") >= 0))
        .fill_null(False)
        .alias("__valid")
    )

    # Closed-form weighted least squares per group (polars group_by), on the values or,
    # with ``transform``, on the transformed values.
    pop = pl.col(population).cast(pl.Float64)
    a = pop / over(pop.sum(), groups)
    ranked = (
        data.sort([*groups, RANK])
        .with_columns(a.alias("__a"))
        .with_columns((over(pl.col("__a").cum_sum(), groups) - pl.col("__a") / 2).alias("__b"))
    )
    y = pl.col("__t") if transform else pl.col(value).cast(pl.Float64)
    aggs = [
        pl.len().alias("quantiles"),
        pl.col(population).sum().alias(population),
        pl.col("__valid").all().alias("__ok"),
        pl.col(RANK).n_unique().alias("__nq"),
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
    enough = k >= MIN_LEVELS
    complete = (fit["__ok"] & (fit["__nq"] == k) & (fit["quantiles"] == k)).to_numpy() & enough

    icpt, slope = fit["__icpt"].to_numpy(), fit["__slope"].to_numpy()
    if transform:
        sii_hat, rii_hat = _transformed_sii(icpt, slope, value_type, s)
    else:
        with np.errstate(all="ignore"):
            sii_hat, rii_hat = slope, (icpt + slope) / icpt
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
            yv = draws if transform else _backward(draws, value_type) * s
            slopes[:, start : start + m] = np.einsum("gmk,gk->gm", yv, c_slope)
            icpts[:, start : start + m] = np.einsum("gmk,gk->gm", yv, c_icpt)
        p_hi = confidence + (1 - confidence) / 2
        pos = [_quantile_pos(repetitions, 1 - p_hi), _quantile_pos(repetitions, p_hi)]
        qs = np.partition(slopes, pos, axis=1)[:, pos]
        if transform:
            mid = (icpt[idx] + slope[idx] / 2)[:, None]
            ends = [_transformed_sii(mid - qs[:, [j]] / 2, qs[:, [j]], value_type, s) for j in (0, 1)]
            lo_sii[idx], hi_sii[idx] = ends[0][0][:, 0], ends[1][0][:, 0]
            lo_rii[idx], hi_rii[idx] = ends[0][1][:, 0], ends[1][1][:, 0]
        else:
            riis = (icpts + slopes) / icpts
            qr = np.partition(riis, pos, axis=1)[:, pos]
            lo_sii[idx], hi_sii[idx] = qs[:, 0], qs[:, 1]
            lo_rii[idx], hi_rii[idx] = qr[:, 0], qr[:, 1]

    ok = pl.Series(complete)
    # a ratio of modelled values needs both ends above zero (always so after a transform),
    # and its interval needs the simulated ends to stay above zero too
    with np.errstate(invalid="ignore"):
        point_ok = complete & ((icpt > 0) & (icpt + slope > 0) | transform)
        limits_ok = point_ok & (lo_rii > 0)
    scale_name = {"rate": "log", "proportion": "logit", "indicator": "identity"}[value_type]
    note = (
        pl.when(pl.lit(not enough))
        .then(pl.lit(NOTE_FEW_LEVELS))
        .when(pl.col("__nq") != k)
        .then(pl.lit(NOTE_MISSING_QUANTILES))
        .when(~pl.col("__ok"))
        .then(pl.lit(NOTE_BAD_TRANSFORM.format(scale=scale_name)))
    )
    nan_null = lambda arr: pl.Series(arr, dtype=pl.Float64).fill_nan(None)  # noqa: E731
    pok, lok = pl.Series(point_ok), pl.Series(limits_ok)
    fitted = "fit on the " + scale_name + " scale, back-transformed" if transform else "fit on the values"
    out = fit.with_columns(
        pl.when(ok).then(nan_null(sii_hat)).alias("sii"),
        nan_null(lo_sii).alias("sii_lower"),
        nan_null(hi_sii).alias("sii_upper"),
        pl.when(pok).then(nan_null(rii_hat)).alias("rii"),
        pl.when(lok).then(nan_null(lo_rii)).alias("rii_lower"),
        pl.when(lok).then(nan_null(hi_rii)).alias("rii_upper"),
        pl.when(ok & ~lok).then(pl.lit(NOTE_RII_UNDEFINED)).alias("rii_note"),
        pl.lit(most, dtype=pl.String).alias("most_disadvantaged"),
        pl.lit(least, dtype=pl.String).alias("least_disadvantaged"),
        note.alias("note"),
    ).with_columns(
        pl.col("sii").alias("value"),
        pl.col("sii_lower").alias("lower_ci"),
        pl.col("sii_upper").alias("upper_ci"),
        pl.lit(confidence).alias("confidence"),
        pl.lit("Slope index of inequality").alias("statistic"),
        pl.lit(
            f"Low & Low weighted regression; CI simulated ({repetitions:,} repetitions, {scale_name} scale)"
            if not transform
            else f"Low & Low weighted regression, {fitted}; CI simulated ({repetitions:,} repetitions)"
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
        "rii_note",
        "most_disadvantaged",
        "least_disadvantaged",
        "confidence",
        "statistic",
        "method",
        "note",
    )
