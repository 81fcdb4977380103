"""Funnel plot control limits and per-unit flags (PHE/Fingertips methods).

Proportions: limits are the proportions whose Wilson score interval just reaches the
target ("sigma adjustment" in PHEindicatormethods). Rates: limits are the rates whose
exact Poisson interval just reaches the expected count; units are flagged with Byar's
(10+ events) or exact (below 10) intervals, as in Fingertips. Ratios (indirectly
standardised, observed / expected, see :func:`healthgap.stats.isr`): the same exact
Poisson limits with the expected events as the denominator and 1 as the target.

Events that can repeat for one person (admissions) are not independent: their variance is
Σ k² over people with k events, not the count. ``dispersion`` (D = Σ k² / Σ k, from
:func:`healthgap.stats.event_dispersion`) scales rates and ratios onto effective counts
(events / D, expected / D), as PHEindicatormethods does for the DSR of non-independent
events: the limits widen by about √D.

References
----------
.. [1] Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
   2005;24:1185-1202.
.. [2] Public Health England. Technical Guide: Confidence Intervals. 2018; PHE Fingertips
   funnel plot guidance; PHEindicatormethods ``calculate_funnel_limits`` and
   ``assign_funnel_significance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl
from scipy.special import gammainc

from ._ci import poisson_lower, poisson_upper, wilson_lower, wilson_upper
from ._common import (
    NUMERATOR_EXCEEDS_DENOMINATOR,
    Frame,
    as_lazy,
    check_confidence,
    per_label,
    z_value,
)
from .rates import aggregate

__all__ = [
    "funnel_limits",
    "funnel_flag",
    "funnel_axis",
    "LEVELS",
    "BAD_KIND",
    "BAD_TARGET",
    "NO_DENOMINATOR",
    "BAD_DISPERSION",
]

Kind = Literal["proportion", "rate", "ratio"]
#: Control-limit levels: 95% (about 2 standard deviations) and 99.8% (about 3).
LEVELS: tuple[float, ...] = (0.95, 0.998)
BAD_KIND = "{func}(): kind must be 'proportion', 'rate' or 'ratio', got {value!r}."
BAD_TARGET = (
    "{func}(): target must be a positive number (a proportion between 0 and 1, a rate per "
    "person, or a ratio), or None for the overall average (1 for ratios); got {value!r}."
)
NO_DENOMINATOR = "{func}(): the total of {column!r} is zero, so there is no overall average."
BAD_DISPERSION = (
    "{func}(): dispersion must be a number of at least 1 (Σ k² / Σ k of the events per person), and 1 "
    "for proportions; got {value!r}."
)


def _suffix(level: float) -> str:
    return f"{level * 100:g}".replace(".", "_")


def funnel_axis(min_denominator: float, max_denominator: float, points: int = 100) -> np.ndarray:
    """Fingertips' geometric grid of denominators from (about) the smallest to the largest.

    The grid starts at 1 when the largest denominator is more than twice the smallest
    (else just below the smallest, rounded down) and ends just above the largest.

    References
    ----------
    .. [1] PHEindicatormethods ``calculate_funnel_limits`` (axis of the funnel plot).
    """

    def floor_sig(x: float) -> float:
        x = x * 0.95
        n = len(str(int(np.floor(x)))) - 1
        return 0.0 if x == 0 else np.floor(x / 10**n) * 10**n

    def ceil_sig(x: float) -> float:
        x = x * 1.05
        n = len(str(int(np.ceil(x)))) - 2
        return 0.0 if x == 0 else np.ceil(x / 10**n) * 10**n

    lo = 0.0 if max_denominator > 2 * min_denominator else floor_sig(min_denominator)
    hi = ceil_sig(max_denominator)
    grid = [max(1.0, lo)]
    for j in range(2, points + 1):  # a recurrence over grid points (not data rows)
        prev = grid[-1]
        grid.append(max(round((hi / prev) ** (1 / (points + 1 - j)) * prev), prev + 1))
    return np.asarray(grid, dtype=float)


def _statistic(kind: str, mult: float) -> str:
    if kind == "ratio":
        return "Ratio" if mult == 1 else f"Ratio x {per_label(mult)}"
    if kind == "proportion":
        return "Percentage" if mult == 100 else f"Proportion per {per_label(mult)}"
    return f"Rate per {per_label(mult)}"


def _prop_limit(n: pl.Expr, p: float, level: float, side: int) -> pl.Expr:
    z2 = z_value(level) ** 2
    first = p * (n / z2 + 1)
    disc = (-8 * p * (n / z2 + 1)) ** 2 - 64 * (1 / z2 + 1 / n) * p * (
        n * (p * (n / z2 + 2) - 1) + z2 * (p - 1)
    )
    return ((first + side * disc.sqrt() / 8) / (1 / z2 + 1 / n) / n).clip(0.0, 1.0)


def _solve_count(expected: np.ndarray, level: float, side: str) -> np.ndarray:
    """Continuous count x whose exact Poisson limit equals ``expected`` (vectorised)."""
    alpha = 1 - level
    # exact upper limit of x equals E  <=>  P(x + 1, E) = 1 - alpha/2 (regularised gamma)
    # exact lower limit of x equals E  <=>  P(x, E) = alpha/2
    shift, q = (1.0, 1 - alpha / 2) if side == "lower" else (0.0, alpha / 2)
    lo = np.zeros_like(expected)
    hi = expected + 20 * np.sqrt(expected) + 50
    for _ in range(200):  # bisection, all grid points at once
        mid = (lo + hi) / 2
        below = gammainc(mid + shift, expected) > q  # P decreases as the shape grows
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    x = (lo + hi) / 2
    if side == "lower":
        x = np.where(gammainc(shift, expected) <= q, 0.0, x)
    return x


def _target(agg: pl.DataFrame, numerator: str, denominator: str, target, func: str, kind: str) -> float:
    if target is None and kind == "ratio":
        return 1.0
    if target is None:
        total = float(agg[denominator].sum())
        if total <= 0:
            raise ValueError(NO_DENOMINATOR.format(func=func, column=denominator))
        return float(agg[numerator].sum()) / total
    if isinstance(target, bool) or not isinstance(target, (int, float)) or target <= 0:
        raise ValueError(BAD_TARGET.format(func=func, value=target))
    return float(target)


def _check_dispersion(dispersion: float, kind: str, func: str) -> float:
    bad = isinstance(dispersion, bool) or not isinstance(dispersion, (int, float)) or not dispersion >= 1
    if bad or (kind == "proportion" and dispersion != 1):
        raise ValueError(BAD_DISPERSION.format(func=func, value=dispersion))
    return float(dispersion)


def _limits(n: np.ndarray, p: float, kind: str, level: float, multiplier: float, dispersion: float = 1.0):
    if kind == "proportion":
        frame = pl.DataFrame({"n": n}).select(
            _prop_limit(pl.col("n"), p, level, -1).alias("lo"),
            _prop_limit(pl.col("n"), p, level, 1).alias("hi"),
        )
        return frame["lo"].to_numpy() * multiplier, frame["hi"].to_numpy() * multiplier
    e = p * n / dispersion  # effective expected count (the expected events themselves when D = 1)
    with np.errstate(all="ignore"):  # a ratio is a rate whose denominator is the expected events
        lo = _solve_count(e, level, "lower") * dispersion / n * multiplier
        hi = _solve_count(e, level, "upper") * dispersion / n * multiplier
    return lo, hi


def _multiplier(kind: str, multiplier: float | None) -> float:
    return multiplier or {"proportion": 100, "rate": 100_000, "ratio": 1}[kind]


def _prepare(df, numerator, denominator, unit, kind, func):
    if kind not in ("proportion", "rate", "ratio"):
        raise ValueError(BAD_KIND.format(func=func, value=kind))
    if unit is None:  # each row is a unit
        lf = as_lazy(df, func).with_row_index("__row")
        agg = aggregate(lf, counts=[numerator, denominator], by=["__row"], func=func).drop("__row")
        units: list[str] = []
    else:
        units = [unit] if isinstance(unit, str) else list(unit)
        agg = aggregate(df, counts=[numerator, denominator], by=units, func=func)
    if kind == "proportion":
        n_bad = int((agg[numerator] > agg[denominator]).sum())
        if n_bad:
            raise ValueError(
                NUMERATOR_EXCEEDS_DENOMINATOR.format(
                    func=func, n=n_bad, numerator=numerator, denominator=denominator
                )
            )
    return agg, units


def funnel_limits(
    df: Frame,
    *,
    numerator: str,
    denominator: str,
    kind: Kind,
    unit: str | Sequence[str] | None = None,
    target: float | None = None,
    multiplier: float | None = None,
    denominators: Sequence[float] | None = None,
    points: int = 100,
    levels: Sequence[float] = LEVELS,
    dispersion: float = 1.0,
) -> pl.DataFrame:
    """Funnel plot control limits over a grid of denominators.

    Parameters
    ----------
    df : counts per unit (e.g. practice); summed per ``unit`` to set the grid's range.
    numerator, denominator : count columns (events and population for rates; observed and
        expected events for ratios, e.g. from :func:`healthgap.stats.isr`).
    kind : "proportion" (Wilson-based limits), "rate" (exact Poisson limits) or "ratio"
        (an indirectly standardised ratio, observed / expected: exact Poisson limits of
        the observed count given the expected, the x axis being the expected events).
    unit : unit column(s) (only the range of unit denominators is used here); ``None``
        treats each row as a unit.
    target : proportion (0-1), rate per person or ratio; default the overall average (1
        for ratios: the reference rates).
    multiplier : scale of the output (default 100 for proportions, 100,000 for rates, 1
        for ratios).
    denominators : grid of denominators; default Fingertips' 100-point geometric grid.
    points : number of grid points when ``denominators`` is not given.
    levels : control-limit levels (default 95% and 99.8%).
    dispersion : D = Σ k² / Σ k of the events per person (:func:`healthgap.stats.event_dispersion`)
        for events that repeat (rates and ratios); 1 (default) for independent events.

    Returns
    -------
    pl.DataFrame
        Long format, one row per denominator x level: ``denominator``, ``confidence``,
        ``lower_limit``, ``upper_limit``, ``baseline``, ``statistic``, ``method``.

    References
    ----------
    .. [1] Spiegelhalter DJ. Stat Med 2005;24:1185-1202.
    .. [2] PHEindicatormethods ``calculate_funnel_limits``.
    """
    func = "funnel_limits"
    agg, _ = _prepare(df, numerator, denominator, unit, kind, func)
    p = _target(agg, numerator, denominator, target, func, kind)
    mult = _multiplier(kind, multiplier)
    dispersion = _check_dispersion(dispersion, kind, func)
    levels = [check_confidence(lv, func) for lv in levels]
    if denominators is None:
        d = agg[denominator].cast(pl.Float64)
        n = funnel_axis(float(d.min()), float(d.max()), points)
    else:
        n = np.asarray(denominators, dtype=float)
    frames = []
    for level in levels:  # one pass per control-limit level (two)
        lo, hi = _limits(n, p, kind, level, mult, dispersion)
        frames.append(
            pl.DataFrame({"denominator": n, "lower_limit": lo, "upper_limit": hi}).with_columns(
                pl.lit(level).alias("confidence")
            )
        )
    stat = _statistic(kind, mult)
    method = {
        "proportion": "Wilson score limits",
        "rate": "Exact Poisson limits",
        "ratio": "Exact Poisson limits of the observed events given the expected",
    }[kind] + (f", events / {dispersion:.3g} (non-independent events)" if dispersion != 1 else "")
    return (
        pl.concat(frames)
        .with_columns(
            pl.lit(p * mult).alias("baseline"),
            pl.lit(stat).alias("statistic"),
            pl.lit(method).alias("method"),
        )
        .select("denominator", "confidence", "lower_limit", "upper_limit", "baseline", "statistic", "method")
    )


def funnel_flag(
    df: Frame,
    *,
    numerator: str,
    denominator: str,
    unit: str | Sequence[str],
    kind: Kind,
    target: float | None = None,
    multiplier: float | None = None,
    confidence: float = 0.95,
    levels: Sequence[float] = LEVELS,
    dispersion: float = 1.0,
) -> pl.DataFrame:
    """Flag each unit as "above", "below" or "within" the funnel at each level.

    Parameters
    ----------
    df : counts per unit (summed per ``unit``).
    numerator, denominator : count columns.
    unit : unit column(s), e.g. ``"gp_practice"``.
    kind : "proportion", "rate" or "ratio" (``numerator`` the observed events,
        ``denominator`` the expected events, e.g. from :func:`healthgap.stats.isr`).
    target : proportion (0-1), rate per person or ratio; default the overall average (1
        for ratios).
    multiplier : output scale (default 100 for proportions, 100,000 for rates, 1 for ratios).
    confidence : level of each unit's own CI (``lower_ci``/``upper_ci``).
    levels : control-limit levels (default 95% and 99.8%).
    dispersion : D = Σ k² / Σ k of the events per person for events that repeat (rates and
        ratios): each unit's interval and flag use the effective count events / D (its
        interval widens by about √D); 1 (default) for independent events.

    Returns
    -------
    pl.DataFrame
        One row per unit: ``unit``, the counts, ``value``, ``lower_ci``, ``upper_ci``,
        ``baseline``, for each level L ("95", "99_8"): ``lower_limit_L``,
        ``upper_limit_L``, ``flag_L``; then ``confidence``, ``statistic``, ``method``,
        ``note``.

    Notes
    -----
    Proportions are flagged by comparing the unit's proportion with the Wilson-based
    limits at its denominator. Rates are flagged as in Fingertips: "above" when the
    unit's lower limit of events (Byar's from 10 events, exact below) exceeds the expected
    count, "below" when its upper limit is under it. Ratios the same way, the expected
    count being ``target`` x the expected events (PHEindicatormethods
    ``assign_funnel_significance(statistic = "ratio")``: "High (0.001)" is ``flag_99_8``
    "above", "High (0.025)" ``flag_95`` "above" only, and so on).

    References
    ----------
    .. [1] PHEindicatormethods ``assign_funnel_significance``.
    .. [2] Spiegelhalter DJ. Stat Med 2005;24:1185-1202.
    """
    func = "funnel_flag"
    agg, units = _prepare(df, numerator, denominator, unit, kind, func)
    p = _target(agg, numerator, denominator, target, func, kind)
    mult = _multiplier(kind, multiplier)
    dispersion = _check_dispersion(dispersion, kind, func)
    confidence = check_confidence(confidence, func)
    levels = [check_confidence(lv, func) for lv in levels]
    o = pl.col(numerator).cast(pl.Float64)
    od = o / dispersion  # the effective count (the count itself for independent events)
    n = pl.col(denominator).cast(pl.Float64)
    ok = n > 0
    if kind == "proportion":
        ci = (wilson_lower(o, n, confidence) * mult, wilson_upper(o, n, confidence) * mult)
    else:
        ci = (
            poisson_lower(od, confidence) * dispersion / n * mult,
            poisson_upper(od, confidence) * dispersion / n * mult,
        )
    out = agg.with_columns(
        pl.when(ok).then(o / n * mult).alias("value"),
        pl.when(ok).then(ci[0]).alias("lower_ci"),
        pl.when(ok).then(ci[1]).alias("upper_ci"),
        pl.lit(p * mult).alias("baseline"),
    )
    nn = out[denominator].cast(pl.Float64).to_numpy()
    extra = []
    for level in levels:
        sfx = _suffix(level)
        with np.errstate(all="ignore"):
            lo, hi = _limits(np.where(nn > 0, nn, np.nan), p, kind, level, mult, dispersion)
        if kind == "proportion":
            above = pl.col("value") > pl.col(f"upper_limit_{sfx}")
            below = pl.col("value") < pl.col(f"lower_limit_{sfx}")
        else:
            expected = p * n / dispersion
            above = poisson_lower(od, level) > expected
            below = poisson_upper(od, level) < expected
        out = out.with_columns(
            pl.Series(f"lower_limit_{sfx}", lo).fill_nan(None),
            pl.Series(f"upper_limit_{sfx}", hi).fill_nan(None),
        ).with_columns(
            pl.when(~ok)
            .then(None)
            .when(above)
            .then(pl.lit("above"))
            .when(below)
            .then(pl.lit("below"))
            .otherwise(pl.lit("within"))
            .alias(f"flag_{sfx}")
        )
        extra += [f"lower_limit_{sfx}", f"upper_limit_{sfx}", f"flag_{sfx}"]
    stat = _statistic(kind, mult)
    method = (
        "Funnel: Wilson score limits"
        if kind == "proportion"
        else "Funnel: exact Poisson limits; flags by Byars (10+ events) or exact CI"
        + (" of the observed events given the expected" if kind == "ratio" else "")
        + (f", events / {dispersion:.3g} (non-independent events)" if dispersion != 1 else "")
    )
    out = out.with_columns(
        pl.lit(confidence).alias("confidence"),
        pl.lit(stat).alias("statistic"),
        pl.lit(method).alias("method"),
        pl.when(~ok).then(pl.lit("denominator is zero")).alias("note"),
    )
    cols = [
        *units,
        numerator,
        denominator,
        "value",
        "lower_ci",
        "upper_ci",
        "baseline",
        *extra,
        "confidence",
        "statistic",
        "method",
        "note",
    ]
    out = out.select(cols)
    return out.sort(units, nulls_last=True) if units else out
