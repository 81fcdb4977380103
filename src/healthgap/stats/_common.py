"""Shared plumbing for :mod:`healthgap.stats`: argument checks, messages, output contract.

Every public statistic takes a polars ``DataFrame`` or ``LazyFrame`` plus column
names, aggregates with one ``group_by(...).agg(...)`` and returns one row per
group with the contract columns (see :data:`CONTRACT_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Literal, TypeVar

import polars as pl
from scipy.special import ndtri

__all__ = [
    "Frame",
    "CONTRACT_COLUMNS",
    "MISSING_COLUMNS",
    "BAD_CONFIDENCE",
    "BAD_MULTIPLIER",
    "NEGATIVE_COUNTS",
    "NULL_COUNTS",
    "NOT_NUMERIC",
    "NUMERATOR_EXCEEDS_DENOMINATOR",
    "BAD_FRAME",
    "as_lazy",
    "engine_for",
    "by_list",
    "check_columns",
    "check_confidence",
    "check_multiplier",
    "z_value",
    "count_checks",
    "is_negative",
    "raise_count_problems",
    "finish",
    "per_label",
]

Frame = pl.DataFrame | pl.LazyFrame
#: A DataFrame or a LazyFrame, the same on the way out as on the way in.
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

#: Columns every statistic returns (after the group columns and the input counts).
CONTRACT_COLUMNS: tuple[str, ...] = (
    "value",
    "lower_ci",
    "upper_ci",
    "confidence",
    "statistic",
    "method",
    "note",
)

BAD_FRAME = "{func}() needs a polars DataFrame or LazyFrame as its first argument, not {kind}."
MISSING_COLUMNS = (
    "{func}(): column(s) {missing} not found in the data. Available columns: {available}. "
    "Pass the names of existing columns (check spelling and case)."
)
BAD_CONFIDENCE = (
    "{func}(): confidence must be a number strictly between 0 and 1 (e.g. 0.95 or 0.998), got {value!r}."
)
BAD_MULTIPLIER = "{func}(): multiplier must be a positive number (e.g. 100 or 100_000), got {value!r}."
NEGATIVE_COUNTS = (
    "{func}(): column {column!r} has negative values (smallest {minimum}). Counts and "
    "populations must be zero or more; fix or remove those rows."
)
NULL_COUNTS = (
    "{func}(): column {column!r} has {n} missing (null) value(s). Counts and populations "
    "must be present in every row; use 0 for none or drop the rows."
)
NOT_NUMERIC = "{func}(): column {column!r} must be numeric, but its type is {dtype}."
NUMERATOR_EXCEEDS_DENOMINATOR = (
    "{func}(): {n} row(s) have {numerator!r} greater than {denominator!r}. A proportion's "
    "numerator must not exceed its denominator; check the two columns are the right way round."
)


def as_lazy(df: Frame, func: str) -> pl.LazyFrame:
    """Return ``df`` as a LazyFrame, or raise a plain-English ``ValueError``."""
    if isinstance(df, pl.LazyFrame):
        return df
    if isinstance(df, pl.DataFrame):
        return df.lazy()
    raise ValueError(BAD_FRAME.format(func=func, kind=type(df).__name__))


#: Eager inputs smaller than this are aggregated with polars' in-memory engine, which has
#: less start-up cost than the streaming engine on small count tables.
SMALL_FRAME = 250_000


def engine_for(df: Frame) -> Literal["in-memory", "auto"]:
    """Polars engine for aggregating ``df``: in-memory for small eager frames, else auto."""
    return "in-memory" if isinstance(df, pl.DataFrame) and df.height < SMALL_FRAME else "auto"


def by_list(by: str | Sequence[str] | None) -> list[str]:
    """Normalise ``by`` (``None``, one name or a list of names) to a list."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def check_columns(
    schema: pl.Schema, columns: Iterable[str], func: str, *, numeric: Iterable[str] = ()
) -> None:
    """Raise ``ValueError`` naming any missing column or non-numeric count column."""
    columns = list(dict.fromkeys(columns))
    missing = [c for c in columns if c not in schema]
    if missing:
        raise ValueError(
            MISSING_COLUMNS.format(
                func=func,
                missing=", ".join(repr(c) for c in missing),
                available=", ".join(repr(c) for c in schema.names()),
            )
        )
    for c in numeric:
        if not schema[c].is_numeric() and schema[c] != pl.Boolean:
            raise ValueError(NOT_NUMERIC.format(func=func, column=c, dtype=schema[c]))


def check_confidence(confidence: float, func: str) -> float:
    """Return ``confidence`` as a float in (0, 1) or raise ``ValueError``."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        raise ValueError(BAD_CONFIDENCE.format(func=func, value=confidence))
    if not 0 < float(confidence) < 1:
        raise ValueError(BAD_CONFIDENCE.format(func=func, value=confidence))
    return float(confidence)


def check_multiplier(multiplier: float, func: str) -> float:
    """Return ``multiplier`` if positive, else raise ``ValueError``."""
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or multiplier <= 0:
        raise ValueError(BAD_MULTIPLIER.format(func=func, value=multiplier))
    return multiplier


def z_value(confidence: float) -> float:
    """Two-sided standard normal critical value, e.g. 1.959964 for 0.95."""
    return float(ndtri(1 - (1 - confidence) / 2))


def is_negative(value: object) -> bool:
    """Whether a number read from the data (``Series.min()``, any numeric or boolean dtype) is below 0."""
    return isinstance(value, (int, float, Decimal)) and value < 0


def count_checks(columns: Iterable[str]) -> list[pl.Expr]:
    """Aggregation expressions recording the minimum and null count of count columns."""
    out: list[pl.Expr] = []
    for c in columns:
        out.append(pl.col(c).min().alias(f"__min_{c}"))
        out.append(pl.col(c).null_count().alias(f"__nulls_{c}"))
    return out


def raise_count_problems(agg: pl.DataFrame, columns: Iterable[str], func: str) -> pl.DataFrame:
    """Raise for negative or null counts recorded by :func:`count_checks`; drop helpers."""
    for c in columns:
        nulls = int(agg[f"__nulls_{c}"].sum())
        if nulls:
            raise ValueError(NULL_COUNTS.format(func=func, column=c, n=nulls))
        minimum = agg[f"__min_{c}"].min()
        if is_negative(minimum):
            raise ValueError(NEGATIVE_COUNTS.format(func=func, column=c, minimum=minimum))
    return agg.drop([x for x in agg.columns if x.startswith("__min_") or x.startswith("__nulls_")])


def per_label(multiplier: float) -> str:
    """``100000`` -> ``"100,000"`` (integers shown without decimals)."""
    if float(multiplier).is_integer():
        return f"{int(multiplier):,}"
    return f"{multiplier:,}"


def finish(
    out: FrameT,
    *,
    by: list[str],
    counts: Sequence[str],
    confidence: float,
    statistic: str | pl.Expr,
    method: str | pl.Expr,
    extra: Sequence[str] = (),
    keep: Sequence[str] = (),
) -> FrameT:
    """Add the metadata columns, order the columns and sort rows by the groups.

    Works on a DataFrame or inside a lazy query; ``keep`` columns (helpers needed for
    checks after collecting) are placed last.
    """
    stat = statistic if isinstance(statistic, pl.Expr) else pl.lit(statistic)
    meth = method if isinstance(method, pl.Expr) else pl.lit(method)
    out = out.with_columns(
        pl.lit(confidence, dtype=pl.Float64).alias("confidence"),
        stat.cast(pl.String).alias("statistic"),
        meth.cast(pl.String).alias("method"),
    )
    names = out.collect_schema().names() if isinstance(out, pl.LazyFrame) else out.columns
    if "note" not in names:
        out = out.with_columns(pl.lit(None, dtype=pl.String).alias("note"))
    cols = [*by, *counts, *CONTRACT_COLUMNS[:3], *extra, *CONTRACT_COLUMNS[3:], *keep]
    out = out.select(cols)
    if by:
        out = out.sort(by, nulls_last=True)
    return out


def over(expr: pl.Expr, groups: list[str]) -> pl.Expr:
    """``expr.over(groups)``, or ``expr`` itself when there are no groups."""
    return expr.over(groups) if groups else expr
