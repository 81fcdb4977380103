"""Crude rates with Fingertips confidence intervals (Byar's / exact Poisson).

References
----------
.. [1] Public Health England. Technical Guide: Confidence Intervals. 2018.
.. [2] Breslow NE, Day NE. Statistical methods in cancer research, volume II. IARC; 1987.
.. [3] Armitage P, Berry G. Statistical methods in medical research (4th edn). 2002.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from ._ci import poisson_lower, poisson_method, poisson_upper
from ._common import (
    Frame,
    as_lazy,
    by_list,
    check_columns,
    check_confidence,
    check_multiplier,
    count_checks,
    engine_for,
    finish,
    per_label,
    raise_count_problems,
)

__all__ = ["crude_rate", "NOTE_ZERO_POPULATION"]

NOTE_ZERO_POPULATION = "population is zero"


def aggregate(
    df: Frame, *, counts: Sequence[str], by: list[str], func: str, extra: Sequence[pl.Expr] = ()
) -> pl.DataFrame:
    """Sum count columns per group in one pass, checking for negative and null counts."""
    lf = as_lazy(df, func)
    check_columns(lf.collect_schema(), [*by, *counts], func, numeric=counts)
    aggs = [
        *[pl.col(c).sum().alias(c) for c in counts],
        *count_checks(counts),
        *extra,
    ]
    q = lf.group_by(by).agg(aggs) if by else lf.select(aggs)
    return raise_count_problems(q.collect(engine=engine_for(df)), counts, func)


#: Interval limits of numerator/denominator on the 0-1 scale: (numerator, denominator, confidence) -> (lower, upper).
Limits = Callable[[pl.Expr, pl.Expr, float], tuple[pl.Expr, pl.Expr]]


def count_ratio(
    df: Frame,
    *,
    numerator: str,
    denominator: str,
    by: str | Sequence[str] | None,
    multiplier: float,
    confidence: float,
    func: str,
    limits: Limits,
    zero_note: str,
    statistic: Callable[[float], str],
    method: str | pl.Expr,
    check: Callable[[pl.DataFrame], None] | None = None,
    extra: Sequence[pl.Expr] = (),
) -> pl.DataFrame:
    """Shared engine of :func:`crude_rate` and :func:`~healthgap.stats.proportion`.

    Validates the options, sums ``numerator`` and ``denominator`` per group in one
    pass (with ``extra`` aggregations for ``check``, dropped afterwards), and returns
    ``numerator / denominator x multiplier`` with ``limits`` scaled the same way;
    rows with a zero denominator get ``zero_note`` and no value.

    References
    ----------
    .. [1] Public Health England. Technical Guide: Confidence Intervals. 2018.
    """
    confidence = check_confidence(confidence, func)
    multiplier = check_multiplier(multiplier, func)
    groups = by_list(by)
    agg = aggregate(df, counts=[numerator, denominator], by=groups, func=func, extra=extra)
    if check is not None:
        check(agg)
    x, n = pl.col(numerator).cast(pl.Float64), pl.col(denominator).cast(pl.Float64)
    lower, upper = limits(x, n, confidence)
    ok = n > 0
    out = agg.drop([e.meta.output_name() for e in extra]).with_columns(
        pl.when(ok).then(x / n * multiplier).alias("value"),
        pl.when(ok).then(lower * multiplier).alias("lower_ci"),
        pl.when(ok).then(upper * multiplier).alias("upper_ci"),
        pl.when(~ok).then(pl.lit(zero_note)).alias("note"),
    )
    return finish(
        out,
        by=groups,
        counts=[numerator, denominator],
        confidence=confidence,
        statistic=statistic(multiplier),
        method=method,
    )


def _poisson_limits(o: pl.Expr, n: pl.Expr, confidence: float) -> tuple[pl.Expr, pl.Expr]:
    return poisson_lower(o, confidence) / n, poisson_upper(o, confidence) / n


def crude_rate(
    df: Frame,
    *,
    events: str,
    population: str,
    by: str | Sequence[str] | None = None,
    multiplier: float = 100_000,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Crude rate per ``multiplier`` with Byar's (10+ events) or exact Poisson CI.

    Parameters
    ----------
    df : rows holding counts of events and population (summed within each group).
    events, population : count columns.
    by : group column(s); ``None`` gives one row for the whole frame.
    multiplier : rate per this many people (default 100,000).
    confidence : two-sided confidence level, e.g. 0.95 or 0.998.

    Returns
    -------
    pl.DataFrame
        One row per group: ``by`` columns, ``events``, ``population`` (sums), ``value``,
        ``lower_ci``, ``upper_ci``, ``confidence``, ``statistic`` ("Crude rate per
        100,000"), ``method`` ("Byars" for 10 or more events, "Exact (chi-squared)"
        below) and ``note`` (why a row has no value, e.g. zero population).

    Notes
    -----
    Byar's limits: O(1 - 1/(9O) - z/(3√O))³ and (O+1)(1 - 1/(9(O+1)) + z/(3√(O+1)))³;
    exact limits: χ²(α/2; 2O)/2 and χ²(1-α/2; 2O+2)/2; each divided by the population
    and multiplied by ``multiplier``, as in Fingertips and PHEindicatormethods
    ``phe_rate``.

    References
    ----------
    .. [1] Public Health England. Technical Guide: Confidence Intervals. 2018.
    .. [2] Breslow NE, Day NE. Statistical methods in cancer research, volume II. 1987.
    .. [3] Armitage P, Berry G. Statistical methods in medical research. 2002.
    """
    return count_ratio(
        df,
        numerator=events,
        denominator=population,
        by=by,
        multiplier=multiplier,
        confidence=confidence,
        func="crude_rate",
        limits=_poisson_limits,
        zero_note=NOTE_ZERO_POPULATION,
        statistic=lambda m: f"Crude rate per {per_label(m)}",
        method=poisson_method(events),
    )
