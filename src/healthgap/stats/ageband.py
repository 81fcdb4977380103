"""Person-level ages to ESP2013 age bands, and person-level data to counts by age band.

References
----------
.. [1] Eurostat. Revision of the European Standard Population. 2013 (the 19 bands).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ._common import Frame, as_lazy, by_list, check_columns
from .esp2013 import AGE_BAND, AGE_BAND_LABELS

__all__ = ["age_bands", "counts_by_age_band", "POPULATION", "BAD_EVENTS", "RESERVED_NAME"]

#: Name of the population column written by :func:`counts_by_age_band`.
POPULATION = "population"

BAD_EVENTS = (
    "counts_by_age_band(): events must be a column name, a polars expression or a list of them, got {kind}."
)
RESERVED_NAME = (
    "counts_by_age_band(): {name!r} is used for an output column ('age_band' or "
    "'population'); rename the events or group column."
)


def age_bands(age: str | pl.Expr) -> pl.Expr:
    """ESP2013 age band of each person, as an ordered ``Enum`` ("0-4", ..., "90+").

    Parameters
    ----------
    age : column name or expression holding age in whole years (fractional ages are
        floored). Negative or missing ages give null.

    Returns
    -------
    pl.Expr
        Expression named ``age_band`` with dtype :data:`~healthgap.stats.esp2013.AGE_BAND`.

    References
    ----------
    .. [1] Eurostat. Revision of the European Standard Population. 2013.
    """
    a = pl.col(age) if isinstance(age, str) else age
    index = pl.when(a >= 0).then((a // 5).clip(upper_bound=18)).cast(pl.UInt32)
    labels = pl.Series(list(AGE_BAND_LABELS), dtype=AGE_BAND)
    return pl.lit(labels).gather(index).alias("age_band")


def _events_exprs(events: str | pl.Expr | Sequence[str | pl.Expr]) -> list[pl.Expr]:
    if isinstance(events, (str, pl.Expr)):
        items: list = [events]
    elif isinstance(events, (list, tuple)):
        items = list(events)
    else:
        raise ValueError(BAD_EVENTS.format(kind=type(events).__name__))
    out = []
    for e in items:
        if isinstance(e, str):
            out.append(pl.col(e))
        elif isinstance(e, pl.Expr):
            out.append(e)
        else:
            raise ValueError(BAD_EVENTS.format(kind=type(e).__name__))
    if not out:
        raise ValueError(BAD_EVENTS.format(kind="an empty list"))
    return out


def counts_by_age_band(
    people: Frame,
    *,
    events: str | pl.Expr | Sequence[str | pl.Expr],
    by: str | Sequence[str] | None = None,
    age: str | pl.Expr = "age",
) -> Frame:
    """Aggregate person-level rows to events and population by group x ESP2013 age band.

    Every combination of an observed group (combination of ``by`` values among people
    with a valid age) and each of the 19 bands is present: bands with nobody in them have
    zero events and zero population, so the result feeds :func:`healthgap.stats.dsr`
    directly. People with a missing or negative age are left out.

    Parameters
    ----------
    people : one row per person (DataFrame or LazyFrame).
    events : column name(s) or expression(s) summed per cell (booleans count as 1);
        each gives one output column named after the expression's output name.
    by : group column(s); ``None`` for the whole population.
    age : age column or expression (years).

    Returns
    -------
    DataFrame or LazyFrame (same kind as ``people``) with ``by`` columns, ``age_band``
    (Enum), one Int64 column per events expression and ``population`` (Int64), sorted by
    group then band.

    References
    ----------
    .. [1] Eurostat. Revision of the European Standard Population. 2013.
    """
    func = "counts_by_age_band"
    lf = as_lazy(people, func)
    groups = by_list(by)
    exprs = _events_exprs(events)
    schema = lf.collect_schema()
    needed = [*groups, *([age] if isinstance(age, str) else [])]
    for e in exprs:
        needed.extend(e.meta.root_names())
    check_columns(schema, needed, func)
    names = [e.meta.output_name() for e in exprs]
    for name in [*names, *groups]:
        if name in ("age_band", POPULATION):
            raise ValueError(RESERVED_NAME.format(name=name))

    keys = [*groups, "age_band"]
    cells = (
        lf.group_by([*groups, age_bands(age)])
        .agg(
            *[e.sum().cast(pl.Int64).alias(n) for e, n in zip(exprs, names, strict=True)],
            pl.len().cast(pl.Int64).alias(POPULATION),
        )
        .filter(pl.col("age_band").is_not_null())  # missing or negative ages
    )
    bands = pl.LazyFrame({"age_band": list(AGE_BAND_LABELS)}, schema={"age_band": AGE_BAND})
    # groups come from the (small) aggregated cells, so the people are scanned once
    grid = cells.select(groups).unique().join(bands, how="cross") if groups else bands
    out = (
        grid.join(cells, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col([*names, POPULATION]).fill_null(0))
        .sort(keys, nulls_last=True)
    )
    return out.collect() if isinstance(people, pl.DataFrame) else out
