"""DSRs for several equity dimensions and conditions from one scan of person-level data.

References
----------
.. [1] Dobson AJ, Kuulasmaa K, Eberle E, Scherer J. Confidence intervals for weighted
   sums of Poisson parameters. Stat Med 1991;10:457-462.
.. [2] Public Health England. Technical Guide: Confidence Intervals. 2018.
.. [3] Eurostat. Revision of the European Standard Population. 2013.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ._bands import NOTE_EMPTY_BAND, Bands, empty_bands, resolve_bands
from ._cells import BAND_INDEX, N_BANDS, Coding, cell_counts
from ._common import (
    NEGATIVE_COUNTS,
    Frame,
    as_lazy,
    check_columns,
    check_confidence,
    check_multiplier,
    finish,
    is_negative,
    per_label,
)
from .dsr import METHOD_NONINDEPENDENT, dobson_columns
from .esp2013 import AGE_BAND_LABELS, ESP2013_WEIGHTS

__all__ = [
    "dsr_by",
    "LONG_KEYS",
    "BAD_NAMES",
    "NO_NAMES",
    "DUPLICATE_NAMES",
    "NULL_EVENTS",
    "NOT_AN_EVENT",
    "RESERVED",
    "RESERVED_NAMES",
]

#: Key columns of :func:`dsr_by` output, in order.
LONG_KEYS: tuple[str, ...] = ("dimension", "level", "condition")

BAD_NAMES = (
    "dsr_by(): {what} must be a list of column names{exprs}, got {kind}. For example "
    "dsr_by(people, events=['hypertension', 'chd'], dimensions=['imd_quintile', 'sex'])."
)
NO_NAMES = "dsr_by(): {what} is empty; give at least one column name."
DUPLICATE_NAMES = (
    "dsr_by(): column name(s) {names} are used more than once among the events, the "
    "dimensions and the age column. Each column can play one role; rename or drop the repeats."
)
#: Names that the events, dimensions and age column must not have (nor start with "__").
RESERVED: frozenset[str] = frozenset({*LONG_KEYS, "events", "population"})
RESERVED_NAMES = (
    "dsr_by(): column name(s) {names} clash with the output columns (dimension, level, "
    "condition, events, population, or names starting with '__'); rename them first, e.g. "
    "people.rename({{'events': 'events_flag'}})."
)
NOT_AN_EVENT = (
    "dsr_by(): repeated= names {names}, which are not among the events; list the events "
    "(by their names) that can happen more than once to a person."
)
NULL_EVENTS = (
    "dsr_by(): events column {column!r} has {n} missing (null) value(s). Use False/0 for "
    "people without the event, or drop those people, before standardising."
)


def _names(value, what: str, allow_exprs: bool) -> list:
    if isinstance(value, (str, pl.Expr)):
        value = [value]
    exprs = " or polars expressions" if allow_exprs else ""
    if not isinstance(value, (list, tuple)):
        raise ValueError(BAD_NAMES.format(what=what, exprs=exprs, kind=type(value).__name__))
    kinds = (str, pl.Expr) if allow_exprs else (str,)
    for v in value:
        if not isinstance(v, kinds):
            raise ValueError(BAD_NAMES.format(what=what, exprs=exprs, kind=type(v).__name__))
    if not value:
        raise ValueError(NO_NAMES.format(what=what))
    return list(value)


def _dsr_query(
    cells: pl.DataFrame,
    codings: Sequence[Coding],
    events: list[str],
    *,
    multiplier: float,
    confidence: float,
    repeated: Sequence[str] = (),
    used: Sequence[int] | None = None,
) -> pl.LazyFrame:
    """Roll the cells up to dimension x level x band, stack the conditions, and compute
    every DSR in one query (the sums of :func:`healthgap.stats.dsr`, Notes).

    ``repeated`` events have a ``__sq_<name>`` column in ``cells`` (the sum of squared
    events per person), used in the variance instead of the events; ``used`` are the band
    indices of the standard to use (``None``: all 19)."""
    squares = [f"__sq_{e}" for e in repeated]
    parts = []
    for i, coding in enumerate(codings):
        # native order of the levels (missing last), so that 10 sorts after 9
        rank = coding.levels.rank("dense").fill_null(coding.radix + 1).cast(pl.UInt32)
        parts.append(
            cells.lazy()
            .group_by(coding.name, BAND_INDEX)
            .agg(pl.col([*events, *squares, "population"]).sum())
            .select(
                pl.lit(i, dtype=pl.UInt32).alias("__d"),
                pl.lit(rank).gather(pl.col(coding.name)).alias("__l"),
                pl.lit(coding.name).alias("dimension"),
                pl.lit(coding.levels).gather(pl.col(coding.name)).cast(pl.String).alias("level"),
                BAND_INDEX,
                *events,
                *squares,
                "population",
            )
        )
    weights = pl.Series(ESP2013_WEIGHTS, dtype=pl.Float64)
    stacked = pl.concat(parts, how="vertical")
    index = ["__d", "__l", "dimension", "level", BAND_INDEX, "population"]
    long = stacked.unpivot(index=index, on=events, variable_name="condition", value_name="events")
    if squares:
        sq = stacked.unpivot(index=index, on=squares, variable_name="condition", value_name="__sq")
        sq = sq.with_columns(pl.col("condition").str.strip_prefix("__sq_"))
        long = long.join(sq, on=[*index, "condition"], how="left", nulls_equal=True)
        long = long.with_columns(pl.coalesce(pl.col("__sq"), pl.col("events").cast(pl.Float64)).alias("__sq"))
    else:
        long = long.with_columns(pl.col("events").cast(pl.Float64).alias("__sq"))
    w_total = float(sum(ESP2013_WEIGHTS))
    if used is not None:
        long = long.filter(pl.col(BAND_INDEX).is_in(list(used)))
        w_total = float(sum(ESP2013_WEIGHTS[b] for b in used))
    o = pl.col("events").cast(pl.Float64)
    n = pl.col("population").cast(pl.Float64)  # >= 1: every cell holds a person
    w_over_n = pl.lit(weights).gather(pl.col(BAND_INDEX)) / n
    keys = ["__d", "__l", "__c", *LONG_KEYS]
    order = {e: j for j, e in enumerate(events)}
    aggs = [
        pl.col("events").sum(),
        pl.col("population").sum(),
        (o * w_over_n).sum().alias("__wt_rate"),
        (pl.col("__sq") * w_over_n**2).sum().alias("__sq_rate"),
    ]
    if used is not None:
        position = pl.col(BAND_INDEX).replace_strict(list(used), list(range(len(used))), default=None)
        aggs.append(position.alias("__present"))
    q = (
        long.with_columns(pl.col("condition").replace_strict(order, return_dtype=pl.UInt32).alias("__c"))
        .group_by(keys)
        .agg(aggs)
        .with_columns(
            dobson_columns(
                events=pl.col("events").cast(pl.Float64),
                wt_rate=pl.col("__wt_rate"),
                sq_rate=pl.col("__sq_rate"),
                w_total=pl.lit(w_total),
                multiplier=multiplier,
                confidence=confidence,
            )
        )
    )
    if used is not None:
        labels = [AGE_BAND_LABELS[b] for b in used]
        empty = empty_bands(pl.col("__present"), labels)
        has_empty = empty.list.len() > 0
        q = q.with_columns(
            *[pl.when(~has_empty).then(pl.col(c)).alias(c) for c in ("value", "lower_ci", "upper_ci")],
            pl.when(has_empty).then(pl.lit(NOTE_EMPTY_BAND)).otherwise(pl.col("note")).alias("note"),
            pl.lit(pl.Series([labels], dtype=pl.List(pl.String))).first().alias("bands"),
            empty.alias("empty_bands"),
        )
    return q.sort("__d", "__l", "__c")


def dsr_by(
    people: Frame,
    *,
    events: Sequence[str | pl.Expr],
    dimensions: Sequence[str],
    age: str | pl.Expr = "age",
    multiplier: float = 100_000,
    confidence: float = 0.95,
    bands: Bands = None,
    repeated: Sequence[str] = (),
) -> pl.DataFrame:
    """Directly standardised rates for every dimension x condition, from one scan.

    The person rows are read once: each is placed in its finest cell (ESP2013 age band x
    the levels of all ``dimensions`` together) with the sums of every events column, in
    one aggregation keyed by a single integer (see :mod:`healthgap.stats._cells`). The
    small table of cells is then rolled up to each dimension x age band and all the DSRs
    are computed together with :func:`healthgap.stats.dsr`'s method. The result is the
    same as calling :func:`~healthgap.stats.counts_by_age_band` and
    :func:`~healthgap.stats.dsr` once per dimension and condition.

    Parameters
    ----------
    people : one row per person (DataFrame or LazyFrame; a LazyFrame is collected once,
        only the needed columns).
    events : the event columns (boolean or integer; e.g. ``["hypertension", "chd"]``),
        or expressions (named by their output name). Missing values are an error.
    dimensions : the grouping columns, e.g. ``["imd_quintile", "ethnicity", "sex"]``, each
        standardised separately. People with a missing value form a level of their own
        (``level`` null), as in :func:`~healthgap.stats.counts_by_age_band`.
    age : age column or expression (years; missing or negative ages are left out).
    multiplier : rate per this many people (default 100,000).
    confidence : two-sided confidence level, e.g. 0.95 or 0.998.
    bands : which ESP2013 bands to use, as for :func:`~healthgap.stats.dsr`: ``None``
        (default, all 19, a band without people counting as a zero rate), ``"covered"``
        (the bands where ``people`` has anyone, computed from all the people together)
        or a list of labels. With ``bands`` given, a level with nobody in a band used
        gets no DSR and the note :data:`~healthgap.stats.dsr.NOTE_EMPTY_BAND`.
    repeated : names of the ``events`` that can happen more than once to a person
        (integer counts per person, e.g. ``["admissions"]``): their variance sums the
        squared events per person (:func:`~healthgap.stats.dsr` with ``frequency``,
        Notes) instead of treating every event as a different person. Their DSR is the
        same either way.

    Returns
    -------
    pl.DataFrame
        Long form, one row per dimension x level x condition, ordered by dimension (as
        given), level (in the column's own order, missing last) and condition (as given):
        ``dimension``, ``level`` (String), ``condition``, ``events``, ``population``,
        ``value``, ``lower_ci``, ``upper_ci``, with ``bands`` given ``bands`` and
        ``empty_bands`` (as in :func:`~healthgap.stats.dsr`), then ``confidence``,
        ``statistic``, ``method`` and ``note`` (levels with under 10 events have no DSR).

    References
    ----------
    .. [1] Dobson AJ et al. Confidence intervals for weighted sums of Poisson parameters.
       Stat Med 1991;10:457-462.
    .. [2] Public Health England. Technical Guide: Confidence Intervals. 2018.
    .. [3] Eurostat. Revision of the European Standard Population. 2013.
    """
    func = "dsr_by"
    confidence = check_confidence(confidence, func)
    multiplier = check_multiplier(multiplier, func)
    event_exprs = [pl.col(e) if isinstance(e, str) else e for e in _names(events, "events", True)]
    dims = _names(dimensions, "dimensions", False)
    lf = as_lazy(people, func)
    age_expr = pl.col(age) if isinstance(age, str) else age
    needed = [*dims, *age_expr.meta.root_names()]
    for e in event_exprs:
        needed.extend(e.meta.root_names())
    check_columns(lf.collect_schema(), needed, func)
    names = [e.meta.output_name() for e in event_exprs]
    age_name = age_expr.meta.output_name()
    roles = [*names, *dims, age_name]
    repeats = sorted({n for n in roles if roles.count(n) > 1})
    if repeats:
        raise ValueError(DUPLICATE_NAMES.format(names=", ".join(repr(n) for n in repeats)))
    reserved = sorted({n for n in roles if n in RESERVED or n.startswith("__")})
    if reserved:
        raise ValueError(RESERVED_NAMES.format(names=", ".join(repr(n) for n in reserved)))
    # only the needed columns, materialised once (a LazyFrame source is read once)
    df = lf.select(age_expr, *dims, *event_exprs).collect(engine="in-memory")
    check_columns(df.schema, [age_name, *names], func, numeric=[age_name, *names])
    for n in names:
        col = df.get_column(n)
        if col.null_count():
            raise ValueError(NULL_EVENTS.format(column=n, n=col.null_count()))
        if col.dtype != pl.Boolean and is_negative(col.min()):
            raise ValueError(NEGATIVE_COUNTS.format(func=func, column=n, minimum=col.min()))

    repeats = _names(repeated, "repeated", False) if repeated else []
    strangers = [r for r in repeats if r not in names]
    if strangers:
        raise ValueError(NOT_AN_EVENT.format(names=", ".join(repr(r) for r in strangers)))
    squares = [(pl.col(r).cast(pl.Float64) ** 2).alias(f"__sq_{r}") for r in repeats]
    if squares:
        df = df.with_columns(squares)
    cells, codings = cell_counts(
        df, events=[*names, *[f"__sq_{r}" for r in repeats]], dims=dims, age=age_name
    )
    used = None
    if bands is not None:
        totals = (
            cells.group_by(BAND_INDEX)
            .agg(pl.col("population").sum())
            .select(
                pl.col(BAND_INDEX).replace_strict(list(range(N_BANDS)), list(AGE_BAND_LABELS)).alias("label"),
                "population",
            )
        )
        labels = resolve_bands(bands, totals=totals, func=func, order=AGE_BAND_LABELS)
        used = [AGE_BAND_LABELS.index(label) for label in labels or ()]
    q = _dsr_query(
        cells, codings, names, multiplier=multiplier, confidence=confidence, repeated=repeats, used=used
    )
    method = (
        "Dobson"
        if not repeats
        else pl.when(pl.col("condition").is_in(repeats))
        .then(pl.lit(METHOD_NONINDEPENDENT))
        .otherwise(pl.lit("Dobson"))
    )
    # the keys go first as "counts" with no ``by``: finish() would re-sort them as strings
    q = finish(
        q,
        by=[],
        counts=[*LONG_KEYS, "events", "population"],
        confidence=confidence,
        statistic=f"DSR per {per_label(multiplier)}",
        method=method,
        extra=["bands", "empty_bands"] if used is not None else (),
    )
    return q.collect(engine="in-memory")
