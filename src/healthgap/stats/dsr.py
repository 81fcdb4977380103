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

from ._bands import NOTE_EMPTY_BAND, Bands, empty_bands, resolve_bands
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
    "POPULATION_VARIES",
    "FREQUENCY_ROLE",
    "METHOD_NONINDEPENDENT",
    "NOTE_EMPTY_BAND",
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
POPULATION_VARIES = (
    "dsr(): with frequency= each group x age band needs one population, repeated on each of its "
    "frequency rows, but column {column!r} takes different values in {n} group(s) (first: "
    "{example}). Give each frequency row the band's whole population."
)
FREQUENCY_ROLE = (
    "dsr(): frequency column {column!r} is also used as the events, population, age band or a "
    "group column; pass the column holding the number of events per person."
)
#: ``method`` of a DSR whose interval allows for events repeating in one person.
METHOD_NONINDEPENDENT = "Dobson, with confidence adjusted for non-independent events"


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

    The lower limit is never below 0: it falls below when the events sit in bands of very
    different weight per person (√(var/O) much larger than DSR/O, e.g. one event in a
    small, heavily weighted band among many in a large one), and a rate cannot be
    negative, so it is then 0.

    References
    ----------
    .. [1] Dobson AJ et al. Stat Med 1991;10:457-462.
    """
    spread = (variance / events).sqrt()
    return (
        (value + spread * (byars_lower(events, confidence) - events)).clip(lower_bound=0.0),
        value + spread * (byars_upper(events, confidence) - events),
    )


def _frequency_rows(lf: pl.LazyFrame, *, events: str, frequency: str | None) -> pl.LazyFrame:
    """Per row: ``__o`` the events and ``__o2`` the sum of squared events per person.

    Independent events: both are the count. Events that can repeat (``frequency`` given):
    the row holds ``events`` people with ``frequency`` events each, so it has
    ``events * frequency`` events and ``events * frequency²`` squared.
    """
    if frequency is None:
        return lf.with_columns(pl.col(events).alias("__o"), pl.col(events).cast(pl.Float64).alias("__o2"))
    x, f = pl.col(events), pl.col(frequency)
    return lf.with_columns((x * f).alias("__o"), (x.cast(pl.Float64) * f.cast(pl.Float64) ** 2).alias("__o2"))


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
    bands: Bands = None,
    frequency: str | None = None,
) -> pl.DataFrame:
    """:func:`dsr` plus ``variance``, the variance of the DSR on the output scale."""
    func = "dsr"
    confidence = check_confidence(confidence, func)
    multiplier = check_multiplier(multiplier, func)
    groups = by_list(by)
    lf = as_lazy(df, func)
    schema = lf.collect_schema()
    use_esp = standard == "esp2013"
    freq_cols = [] if frequency is None else [frequency]
    cols = [*groups, events, population, age_band, *freq_cols, *([] if use_esp else [standard])]
    check_columns(schema, cols, func, numeric=[events, population, *freq_cols])
    if frequency is not None and (frequency in (events, population, age_band) or frequency in groups):
        raise ValueError(FREQUENCY_ROLE.format(column=frequency))

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
    lf = _frequency_rows(lf, events=events, frequency=frequency)

    # Stage 1: one row per group x band (rows sharing a group and band are summed; with a
    # frequency column the rows of a group x band are its frequencies, sharing one population).
    pop = pl.col(population)
    cells = lf.group_by([*groups, "__band"]).agg(
        pl.col("__o").sum().alias(events),
        pl.col("__o2").sum(),
        pop.sum() if frequency is None else pop.first(),
        pop.n_unique().alias("__n_values"),
        pl.col("__w").first(),
        pl.col("__w").n_unique().alias("__w_values"),
        pl.col("__w").null_count().alias("__w_nulls"),
        pl.col("__w").min().alias("__w_min"),
        *count_checks([events, population, *freq_cols]),
    )
    used: list[str] | None = None
    if bands is not None:
        cells_df = cells.collect(engine=engine_for(df))
        totals = cells_df.group_by("__band").agg(pl.col(population).sum().alias("population"))
        used = resolve_bands(
            bands,
            totals=totals.select(pl.col("__band").cast(pl.String).alias("label"), "population"),
            func=func,
            order=AGE_BAND_LABELS if use_esp else None,
        )
        cells = cells_df.lazy()

    # Stage 2: DSR and its variance per group, over the bands used.
    o = pl.col(events).cast(pl.Float64)
    n = pl.col(population).cast(pl.Float64)
    w = pl.col("__w")
    ratio = pl.when(n > 0).then(w / n).otherwise(0.0)
    if used is None:
        pick = lambda e: e  # noqa: E731
    else:
        inband = pl.col("__band").cast(pl.String).is_in(pl.lit(pl.Series(used, dtype=pl.String)).implode())
        pick = lambda e: e.filter(inband)  # noqa: E731
    checked = [events, population, *freq_cols]
    checks = [f"__min_{c}" for c in checked] + [f"__nulls_{c}" for c in checked]
    aggs = [
        pick(pl.col(events)).sum().alias(events),
        pick(pl.col(population)).sum().alias(population),
        pick(o * ratio).sum().alias("__wt_rate"),
        pick(pl.col("__o2") * ratio**2).sum().alias("__sq_rate"),
        pick(w).sum().alias("__w_total"),
        pl.len().alias("__bands"),
        pl.col("__w_nulls").sum(),
        pl.col("__w_values").max(),
        pl.col("__n_values").max(),
        pl.col("__w_min").min(),
        ((o > 0) & (n == 0)).sum().alias("__orphans"),
        *[pl.col(c).min() if c.startswith("__min_") else pl.col(c).sum() for c in checks],
    ]
    if used is not None:
        position = pl.col("__band").cast(pl.String).replace_strict(used, list(range(len(used))), default=None)
        aggs.append(position.filter(inband & (n > 0)).alias("__present"))
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
    extra = ["variance"]
    if used is not None:
        empty = empty_bands(pl.col("__present"), used)
        has_empty = empty.list.len() > 0
        q = q.with_columns(
            *[
                pl.when(~has_empty).then(pl.col(c)).alias(c)
                for c in ("value", "lower_ci", "upper_ci", "variance")
            ],
            # too few events is the first reason (a group with no events is "fewer than 10 events",
            # as its count of 0 shows), an empty age band the reason for the others
            pl.when(has_empty & pl.col("note").is_null())
            .then(pl.lit(NOTE_EMPTY_BAND))
            .otherwise(pl.col("note"))
            .alias("note"),
            pl.lit(pl.Series([used], dtype=pl.List(pl.String))).first().alias("bands"),
            empty.alias("empty_bands"),
        )
        extra += ["bands", "empty_bands"]
    helpers = ["__w_nulls", "__w_values", "__n_values", "__w_min", "__bands", "__orphans", *checks]
    method = "Dobson" if frequency is None else METHOD_NONINDEPENDENT
    q = finish(
        q,
        by=groups,
        counts=[events, population],
        confidence=confidence,
        statistic=f"DSR per {per_label(multiplier)}",
        method=method,
        extra=extra,
        keep=helpers,
    )
    agg = raise_count_problems(q.collect(engine=engine_for(df)), checked, func)

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
    if frequency is not None:
        varying = agg["__n_values"] > 1
        if varying.any():
            raise ValueError(
                POPULATION_VARIES.format(
                    column=population, n=int(varying.sum()), example=_first_group(agg, groups, varying)
                )
            )
    if n_bands is not None and used is None:
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
    bands: Bands = None,
    frequency: str | None = None,
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
        joined to the standard by label, never by position, and (with ``bands=None``)
        every group must have each of the 19 bands.
    by : group column(s); ``None`` standardises the whole frame as one group.
    standard : ``"esp2013"`` or the name of a column holding the standard population of
        each row's band (then the bands present in each group are used).
    multiplier : rate per this many people (default 100,000).
    confidence : two-sided confidence level, e.g. 0.95 or 0.998.
    bands : which bands of the standard to use. ``None`` (default): all of them, a band
        without people counting as a zero rate (the behaviour before this option).
        ``"covered"``: the bands with people anywhere in ``df`` (all groups together), e.g.
        ESP2013 from 40-44 up for data on people aged 40 and over. A list of labels: those
        bands (rows in other bands are left out, their events and population too). The
        standard's weights are restricted to the bands used and renormalised, and a group
        with no people in one of them gets no DSR, the note :data:`NOTE_EMPTY_BAND` (or
        :data:`NOTE_FEW_EVENTS` when it also has fewer than 10 events: the first reason) and
        the bands in ``empty_bands``.
    frequency : for events that can happen more than once to one person (admissions):
        the column giving the number of events each person of the row had; ``events``
        is then the number of people with that many events, and each group x band has
        one row per frequency, all with the band's ``population``. The DSR is that of the
        total events; its variance counts each person's events together
        (PHEindicatormethods ``calculate_dsr(independent_events = FALSE)``). ``None``
        (default): events are independent (each one a different person, or treated so).

    Returns
    -------
    pl.DataFrame
        One row per group: ``by``, total ``events`` and ``population`` (over the bands
        used), ``value``, ``lower_ci``, ``upper_ci``, then with ``bands`` given ``bands``
        (list of the labels used, in age order, the same on every row) and
        ``empty_bands`` (list of the used bands where the group has nobody), then
        ``confidence``, ``statistic`` ("DSR per 100,000"), ``method`` ("Dobson", or
        :data:`METHOD_NONINDEPENDENT`) and ``note``. Groups with fewer than 10 events in
        total have null value and CI and the note "total events < 10".

    Notes
    -----
    With O_i events, n_i population and w_i standard population in band i, O = Σ O_i,
    DSR = Σ w_i O_i/n_i / Σ w_i and var(DSR) = Σ (w_i/n_i)² O_i / (Σ w_i)². Dobson's
    limits are DSR + √(var/O) (O_L - O) and DSR + √(var/O) (O_U - O), where O_L, O_U are
    Byar's limits of O (Fingertips; exact Poisson limits would apply below 10 events,
    where no DSR is published); the lower limit is never below 0 (see
    :func:`dobson_limits`). With ``bands=None`` a band with zero population and zero
    events contributes nothing (its rate is taken as zero); a band with events but no
    population is an error.

    Events that repeat: with x_{i,f} people having f events in band i, O_i = Σ_f f x_{i,f}
    and var(DSR) = Σ_f f² Σ_i (w_i/n_i)² x_{i,f} / (Σ w_i)² = Σ_i (w_i/n_i)² Σ_p f_p² /
    (Σ w_i)² (f_p the events of person p), which reduces to the independent variance when
    nobody has more than one event. Dobson's limits then use this variance with O the
    total events, as PHEindicatormethods does.

    References
    ----------
    .. [1] Dobson AJ et al. Stat Med 1991;10:457-462.
    .. [2] Public Health England. Technical Guide: Confidence Intervals. 2018.
    .. [3] Eurostat. Revision of the European Standard Population. 2013.
    .. [4] PHEindicatormethods ``calculate_dsr`` (v2.0.0), non-independent events; Fingertips
       Public Health Data Science, "Directly standardised rates" (DSR chapter of the
       technical guidance on confidence intervals for non-independent events).
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
        bands=bands,
        frequency=frequency,
    ).drop("variance")
