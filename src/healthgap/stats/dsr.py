"""Directly standardised rates (DSRs) with Dobson's confidence interval.

References
----------
.. [1] Dobson AJ, Kuulasmaa K, Eberle E, Scherer J. Confidence intervals for weighted
   sums of Poisson parameters. Stat Med 1991;10:457-462.
.. [2] Breslow NE, Day NE. Statistical methods in cancer research, volume II. IARC; 1987.
.. [3] Public Health England. Technical Guide: Confidence Intervals. 2018; APHO Technical
   Briefing 3: Commonly used public health statistics and their confidence intervals. 2008.
.. [4] Eurostat. Revision of the European Standard Population. 2013.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ._ci import byars_lower, byars_upper
from ._common import (
    NEGATIVE_COUNTS,
    NULL_COUNTS,
    Frame,
    as_lazy,
    by_list,
    check_columns,
    check_confidence,
    check_multiplier,
    count_checks,
    engine_for,
    finish,
    is_negative,
    per_label,
    raise_count_problems,
)
from .esp2013 import AGE_BAND_LABELS, ESP2013

__all__ = [
    "dsr",
    "dsr_table",
    "dobson_columns",
    "MIN_EVENTS",
    "NOTE_FEW_EVENTS",
    "UNKNOWN_AGE_BANDS",
    "MISSING_AGE_BANDS",
    "STANDARD_VARIES",
    "EVENTS_WITHOUT_POPULATION",
]

#: Fingertips does not publish a DSR from fewer than 10 events.
MIN_EVENTS = 10
NOTE_FEW_EVENTS = "total events < 10"
UNKNOWN_AGE_BANDS = (
    "dsr(): age band label(s) {labels} in column {column!r} are not ESP2013 bands. Expected "
    "labels: {expected}. Derive bands with healthgap.stats.age_bands(), or pass "
    "standard='<column>' holding your own standard population."
)
MISSING_AGE_BANDS = (
    "dsr(): {n} group(s) do not have a row for each of the {k} ESP2013 age bands (first: "
    "{example}). Add rows with zero events and population for empty bands, e.g. by using "
    "healthgap.stats.counts_by_age_band()."
)
STANDARD_VARIES = (
    "dsr(): standard population column {column!r} takes different values within the same "
    "age band in {n} group(s) (first: {example}). Give each age band one standard population."
)
EVENTS_WITHOUT_POPULATION = (
    "dsr(): {n} row(s) have events but zero {population!r}. Every band with events needs a "
    "population; check the events and population columns."
)


def _first_group(agg: pl.DataFrame, by: list[str], mask: pl.Series) -> str:
    if not by:
        return "the whole data"
    row = agg.filter(mask).row(0, named=True)
    return ", ".join(f"{k}={row[k]!r}" for k in by)


def dobson_columns(
    *,
    events: pl.Expr,
    wt_rate: pl.Expr,
    sq_rate: pl.Expr,
    w_total: pl.Expr,
    multiplier: float,
    confidence: float,
) -> list[pl.Expr]:
    """``value``, ``lower_ci``, ``upper_ci``, ``variance`` and ``note`` of a DSR from sums.

    ``events`` is O = Σ O_i (Float64), ``wt_rate`` Σ w_i O_i/n_i, ``sq_rate``
    Σ (w_i/n_i)² O_i and ``w_total`` Σ w_i (see :func:`dsr`, Notes). Shared by
    :func:`dsr_table` and :func:`healthgap.stats.dsr_by` so both compute the same thing.
    """
    value = wt_rate / w_total * multiplier
    variance = sq_rate / w_total**2 * multiplier**2  # Dobson variance, on the output scale
    ok = events >= MIN_EVENTS
    lower, upper = dobson_limits(value, variance, events, confidence)
    return [
        pl.when(ok).then(value).alias("value"),
        pl.when(ok).then(lower).alias("lower_ci"),
        pl.when(ok).then(upper).alias("upper_ci"),
        pl.when(ok).then(variance).alias("variance"),
        pl.when(~ok).then(pl.lit(NOTE_FEW_EVENTS)).alias("note"),
    ]


def dobson_limits(
    value: pl.Expr, variance: pl.Expr, events: pl.Expr, confidence: float
) -> tuple[pl.Expr, pl.Expr]:
    """Dobson's limits DSR + sqrt(var / O) (O_L - O) and DSR + sqrt(var / O) (O_U - O).

    ``variance`` is on the scale of ``value``; ``events`` is O (Float64). Only groups with
    10+ events get a DSR, so O_L and O_U are Byar's limits (Fingertips).

    References
    ----------
    .. [1] Dobson AJ et al. Stat Med 1991;10:457-462.
    """
    spread = (variance / events).sqrt()
    return (
        value + spread * (byars_lower(events, confidence) - events),
        value + spread * (byars_upper(events, confidence) - events),
    )


def dsr_table(
    df: Frame,
    *,
    events: str,
    population: str,
    age_band: str,
    by: str | Sequence[str] | None = None,
    standard: str = "esp2013",
    multiplier: float = 100_000,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """:func:`dsr` plus ``variance``, the Dobson variance of the DSR on the output scale."""
    func = "dsr"
    confidence = check_confidence(confidence, func)
    multiplier = check_multiplier(multiplier, func)
    groups = by_list(by)
    lf = as_lazy(df, func)
    schema = lf.collect_schema()
    use_esp = standard == "esp2013"
    cols = [*groups, events, population, age_band, *([] if use_esp else [standard])]
    check_columns(schema, cols, func, numeric=[events, population])

    if use_esp:
        esp = ESP2013.lazy().select(
            pl.col("age_band").cast(pl.String).alias("__band"),
            pl.col("standard_population").cast(pl.Float64).alias("__w"),
        )
        lf = lf.with_columns(pl.col(age_band).cast(pl.String).str.strip_chars().alias("__band")).join(
            esp, on="__band", how="left"
        )
        n_bands = len(AGE_BAND_LABELS)
    else:
        lf = lf.with_columns(pl.col(age_band).alias("__band"), pl.col(standard).cast(pl.Float64).alias("__w"))
        n_bands = None

    # Stage 1: one row per group x band (rows sharing a group and band are summed).
    cells = lf.group_by([*groups, "__band"]).agg(
        pl.col(events).sum(),
        pl.col(population).sum(),
        pl.col("__w").first(),
        pl.col("__w").n_unique().alias("__w_values"),
        pl.col("__w").null_count().alias("__w_nulls"),
        pl.col("__w").min().alias("__w_min"),
        *count_checks([events, population]),
    )
    # Stage 2: Fingertips DSR and Dobson variance per group, in the same lazy query.
    o = pl.col(events).cast(pl.Float64)
    n = pl.col(population).cast(pl.Float64)
    w = pl.col("__w")
    ratio = pl.when(n > 0).then(w / n).otherwise(0.0)
    checks = [f"__min_{c}" for c in (events, population)] + [f"__nulls_{c}" for c in (events, population)]
    aggs = [
        pl.col(events).sum().alias(events),
        pl.col(population).sum().alias(population),
        (o * ratio).sum().alias("__wt_rate"),
        (o * ratio**2).sum().alias("__sq_rate"),
        w.sum().alias("__w_total"),
        pl.len().alias("__bands"),
        pl.col("__w_nulls").sum(),
        pl.col("__w_values").max(),
        pl.col("__w_min").min(),
        ((o > 0) & (n == 0)).sum().alias("__orphans"),
        *[pl.col(c).min() if c.startswith("__min_") else pl.col(c).sum() for c in checks],
    ]
    q = cells.group_by(groups).agg(aggs) if groups else cells.select(aggs)
    q = q.with_columns(
        dobson_columns(
            events=pl.col(events).cast(pl.Float64),
            wt_rate=pl.col("__wt_rate"),
            sq_rate=pl.col("__sq_rate"),
            w_total=pl.col("__w_total"),
            multiplier=multiplier,
            confidence=confidence,
        )
    )
    helpers = ["__w_nulls", "__w_values", "__w_min", "__bands", "__orphans", *checks]
    q = finish(
        q,
        by=groups,
        counts=[events, population],
        confidence=confidence,
        statistic=f"DSR per {per_label(multiplier)}",
        method="Dobson",
        extra=["variance"],
        keep=helpers,
    )
    agg = raise_count_problems(q.collect(engine=engine_for(df)), [events, population], func)

    if agg["__w_nulls"].sum():
        if use_esp:
            labels = (
                lf.filter(pl.col("__w").is_null())
                .select(pl.col(age_band).cast(pl.String).unique().sort())
                .collect()
                .to_series()
                .to_list()
            )
            raise ValueError(
                UNKNOWN_AGE_BANDS.format(
                    labels=", ".join(repr(x) for x in labels[:10]),
                    column=age_band,
                    expected=", ".join(AGE_BAND_LABELS),
                )
            )
        n_null = int(agg["__w_nulls"].sum())
        raise ValueError(NULL_COUNTS.format(func=func, column=standard, n=n_null))
    if not use_esp:
        if is_negative(agg["__w_min"].min()):
            raise ValueError(NEGATIVE_COUNTS.format(func=func, column=standard, minimum=agg["__w_min"].min()))
        varying = agg["__w_values"] > 1
        if varying.any():
            raise ValueError(
                STANDARD_VARIES.format(
                    column=standard,
                    n=int(varying.sum()),
                    example=_first_group(agg, groups, varying),
                )
            )
    if n_bands is not None:
        short = agg["__bands"] != n_bands
        if short.any():
            raise ValueError(
                MISSING_AGE_BANDS.format(
                    n=int(short.sum()), k=n_bands, example=_first_group(agg, groups, short)
                )
            )
    if agg["__orphans"].sum():
        raise ValueError(
            EVENTS_WITHOUT_POPULATION.format(n=int(agg["__orphans"].sum()), population=population)
        )
    return agg.drop([c for c in helpers if c in agg.columns])


def dsr(
    df: Frame,
    *,
    events: str,
    population: str,
    age_band: str,
    by: str | Sequence[str] | None = None,
    standard: str = "esp2013",
    multiplier: float = 100_000,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Directly standardised rate per group with Dobson's confidence interval.

    Parameters
    ----------
    df : event and population counts by group x age band (rows with zero events and zero
        population are fine; rows sharing a group and band are summed, so a finer table,
        e.g. from :func:`counts_by_age_band` over several columns, can be rolled up).
    events, population : count columns.
    age_band : column of age-band labels. With ``standard="esp2013"`` the labels must be
        the ESP2013 labels ("0-4", "5-9", ..., "85-89", "90+"; String or Enum); they are
        joined to the standard by label, never by position, and every group must have
        each of the 19 bands.
    by : group column(s); ``None`` standardises the whole frame as one group.
    standard : ``"esp2013"`` or the name of a column holding the standard population of
        each row's band (then the bands present in each group are used).
    multiplier : rate per this many people (default 100,000).
    confidence : two-sided confidence level, e.g. 0.95 or 0.998.

    Returns
    -------
    pl.DataFrame
        One row per group: ``by``, total ``events`` and ``population``, ``value``,
        ``lower_ci``, ``upper_ci``, ``confidence``, ``statistic`` ("DSR per 100,000"),
        ``method`` ("Dobson") and ``note``. Groups with fewer than 10 events in total
        have null value and CI and the note "total events < 10".

    Notes
    -----
    With O_i events, n_i population and w_i standard population in band i, O = Σ O_i,
    DSR = Σ w_i O_i/n_i / Σ w_i and var(DSR) = Σ (w_i/n_i)² O_i / (Σ w_i)². Dobson's
    limits are DSR + √(var/O) (O_L - O) and DSR + √(var/O) (O_U - O), where O_L, O_U are
    Byar's limits of O (Fingertips; exact Poisson limits would apply below 10 events,
    where no DSR is published). A band with zero population and zero events contributes
    nothing (its rate is taken as zero); a band with events but no population is an error.

    References
    ----------
    .. [1] Dobson AJ et al. Stat Med 1991;10:457-462.
    .. [2] Public Health England. Technical Guide: Confidence Intervals. 2018.
    .. [3] Eurostat. Revision of the European Standard Population. 2013.
    """
    return dsr_table(
        df,
        events=events,
        population=population,
        age_band=age_band,
        by=by,
        standard=standard,
        multiplier=multiplier,
        confidence=confidence,
    ).drop("variance")
