"""The polars backend: lazy queries over :func:`healthgap.data.load`, run with the streaming engine.

Each table is one ``group_by`` over the scanned file; the queries are collected together
(:func:`polars.collect_all`) so the person table is never held in memory whole (the
streaming engine reads it in batches), let alone twice.
"""

from __future__ import annotations

import polars as pl

from healthgap.config import AGE_BANDS, Config
from healthgap.data import _convert, _scan, load
from healthgap.engine._plan import AGE_BAND, MEASURE, PEOPLE, VALUE, Plan, Stat, plan_of
from healthgap.errors import DataError
from healthgap.sql import IndicatorColumns

__all__ = ["aggregate_polars", "age_band_expr", "stat_expr", "validation_polars"]


def age_band_expr(age: str = "age") -> pl.Expr:
    """ESP2013 age band label of ``age`` as text ("0-4", ..., "90+"); null for a missing or
    negative age (as :func:`healthgap.stats.age_bands`, which the data layer cannot import)."""
    a = pl.col(age)
    index = pl.when(a >= 0).then((a // 5).clip(upper_bound=len(AGE_BANDS) - 1)).cast(pl.UInt32)
    return pl.lit(pl.Series(list(AGE_BANDS), dtype=pl.String)).gather(index).alias(AGE_BAND)


def stat_expr(stat: Stat, indicators: dict[str, IndicatorColumns]) -> pl.Expr:
    """The polars aggregation of one :class:`~healthgap.engine._plan.Stat`."""
    col = pl.col(stat.column) if stat.column else pl.lit(None)
    if stat.op == "len":
        expr = pl.len()
    elif stat.op == "count":
        expr = col.is_not_null().sum()
    elif stat.op == "sum":
        expr = col.cast(stat.dtype).sum()
    elif stat.op == "sumsq":
        expr = (col.cast(pl.Float64) * col.cast(pl.Float64)).sum()
    elif stat.op == "eq":
        expr = (col == stat.other).cast(pl.Int64).sum()
    elif stat.op == "both":
        expr = (col & pl.col(stat.other)).cast(pl.Int64).sum()
    else:
        compiled = indicators[stat.column]
        part = {
            "numerator": compiled.numerator,
            "denominator": compiled.denominator,
            "excluded": compiled.excluded,
        }[stat.op]
        expr = part.cast(pl.Int64).sum()
    return expr.cast(stat.dtype).alias(stat.name)


def _keyed(lf: pl.LazyFrame, plan: Plan) -> pl.LazyFrame:
    """The table with every key column as text (levels as the analyses name them) and the age band."""
    keys = {*plan.cell_keys, *(k for keys in plan.geography.values() for k in keys)} - {AGE_BAND}
    return lf.with_columns(
        *[pl.col(k).cast(pl.String) for k in sorted(keys)],
        age_band_expr(),
    )


def queries(lf: pl.LazyFrame, plan: Plan) -> dict[str, pl.LazyFrame]:
    """One lazy query per table (not validation), over the loaded table ``lf``."""
    indicators = {i.indicator.name: i for i in plan.indicators}
    keyed = _keyed(lf, plan)
    aggs = [stat_expr(s, indicators) for s in plan.stats]
    out = {"cells": keyed.group_by(list(plan.cell_keys)).agg(aggs)}
    if plan.value_measures:
        out["values"] = (
            keyed.select(*plan.cell_keys, *[pl.col(m).cast(pl.Int64) for m in plan.value_measures])
            .unpivot(
                index=list(plan.cell_keys),
                on=list(plan.value_measures),
                variable_name=MEASURE,
                value_name=VALUE,
            )
            .filter(pl.col(VALUE).is_not_null())
            .group_by(*plan.cell_keys, MEASURE, VALUE)
            .agg(pl.len().cast(pl.Int64).alias(PEOPLE))
        )
    out["ages"] = (
        keyed.with_columns(pl.col("age").cast(pl.Int64))
        .group_by(list(plan.age_keys))
        .agg(pl.len().cast(pl.Int64).alias(PEOPLE))
    )
    for name, keys in plan.geography.items():
        out[name] = keyed.group_by(list(keys)).agg(aggs)
    return out


def validation_polars(config: Config) -> pl.LazyFrame:
    """One row per canonical column of the file: rows, nulls, invalid values, out of range, min, max.

    ``invalid`` counts values the file has that are not valid for the column (an unknown code,
    text in a number column); ``below``/``above`` values outside the column's range; ``nulls``
    the missing values after code mapping (as :func:`healthgap.data.validate` counts them).
    """
    lf, _, problems = _scan(config)
    if lf is None:
        raise DataError("\n".join(problems))
    schema = lf.collect_schema()
    exprs: list[pl.Expr] = [pl.len().cast(pl.Int64).alias(":rows")]
    for name in schema.names():
        column = config.contract[name]
        canon, raw = _convert(name, schema[name], config)
        exprs += [
            canon.null_count().cast(pl.Int64).alias(f"{name}:nulls"),
            (raw.is_not_null() & canon.is_null()).cast(pl.Int64).sum().alias(f"{name}:invalid"),
        ]
        if column.minimum is not None and column.maximum is not None:
            number = canon.cast(pl.Float64)
            exprs += [
                (number < column.minimum).cast(pl.Int64).sum().alias(f"{name}:below"),
                (number > column.maximum).cast(pl.Int64).sum().alias(f"{name}:above"),
                number.min().alias(f"{name}:minimum"),
                number.max().alias(f"{name}:maximum"),
            ]
    return lf.select(exprs)


def aggregate_polars(config: Config) -> tuple[Plan, dict[str, pl.DataFrame], pl.DataFrame]:
    """(plan, tables, the validation row) of ``config``'s file, with polars' streaming engine."""
    lf = load(config, validate=False)
    plan = plan_of(config, lf.collect_schema())
    named = queries(lf, plan)
    names = list(named)
    frames = pl.collect_all([*named.values(), validation_polars(config)], engine="streaming")
    return plan, dict(zip(names, frames[:-1], strict=True)), frames[-1]
