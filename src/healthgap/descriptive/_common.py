"""Shared pieces of the descriptive analyses: equity dimensions as group columns.

Every analysis returns a *long* frame with one row per (dimension, level):
``dimension`` (canonical name), ``level`` (string code), ``label`` (display
label), ``order`` (display position) and ``is_reference``, followed by the
counts and statistics of :mod:`healthgap.stats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from healthgap.config import AGE_BANDS, Config, Dimension
from healthgap.engine import shared

__all__ = [
    "LEVEL",
    "level_expr",
    "dimensions_in",
    "label_levels",
    "frame_of",
    "known_levels",
    "EVERYONE",
    "measure_names",
    "measure_label",
    "ERR_UNKNOWN_DIMENSION",
    "ERR_MISSING_COLUMNS",
]

#: Name of the column holding a dimension's level in every output.
LEVEL = "level"

ERR_UNKNOWN_DIMENSION = (
    "Equity dimension {name!r} is not in the config (dimensions: {known}). "
    "Fix: add it under equity.dimensions, or use one of those."
)
ERR_MISSING_COLUMNS = (
    "{what} needs the column(s) {missing}, which the dataset does not have "
    "(columns: {present}). Fix: map them in data.columns, or skip this analysis."
)


def measure_names(config: Config, kind: str) -> list[str]:
    """The names of the config's measures of ``kind`` ("condition", "outcome", ...), in its order.

    Conditions and outcomes are those the config selects (:meth:`Config.measures_of`); a config
    built without declared measures (tests) falls back on :attr:`Config.conditions` and
    :attr:`Config.outcomes`.
    """
    names = [m.name for m in config.measures_of(kind)]
    if names or not (config.conditions or config.outcomes):
        return names
    return list({"condition": config.conditions, "outcome": config.outcomes}.get(kind, ()))


def measure_label(config: Config, name: str) -> str:
    """The label of measure ``name``: the config's, else the contract's, else the name itself."""
    from healthgap.contract import CONTRACT

    found = next((m.label for m in config.measures if m.name == name), None)
    if found is not None:
        return found
    column = CONTRACT.get(name)
    return column.label if column is not None else name


def known_levels(dimensions: Sequence[Dimension]) -> dict[str, int]:
    """The numbers of distinct values (with null) the dimensions' levels can have, for the guard
    of :func:`healthgap.engine.dimension_cells`: each dimension's resolved levels plus a null
    (levels the config lists are the codes the data are mapped to; others are those found in the
    data), and ``age_band``'s 19 bands plus a null.
    """
    known = {d.name: len(d.order) + 1 for d in dimensions}
    known["age_band"] = len(AGE_BANDS) + 1
    return known


#: The name of the table of everybody that :func:`healthgap.engine.dimension_cells` adds
#: (``total=``): the cells over the strata only, e.g. the age bands covered.
EVERYONE = "__everyone"


def frame_of(people: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Accept eager or lazy input; return lazy."""
    return people.lazy()


def level_expr(dimension: str) -> pl.Expr:
    """Expression giving a person's level of ``dimension`` as a string.

    ``age_band`` is derived from ``age`` with the ESP2013 five-year bands;
    every other dimension is its column cast to text (so IMD quintile 1 is
    ``"1"``, matching the config's level codes).

    References
    ----------
    .. [1] Eurostat (2013), Revision of the European Standard Population (age bands).
    """
    if dimension == "age_band":
        from healthgap.stats import age_bands

        return age_bands("age").cast(pl.String)
    return pl.col(dimension).cast(pl.String)


def _source_column(dimension: str) -> str:
    return "age" if dimension == "age_band" else dimension


@shared
def _resolved(config: Config, people: pl.LazyFrame | pl.DataFrame) -> Config:
    """:func:`healthgap.data.resolve_dimensions`, shared by the pages (:func:`healthgap.engine.shared`)."""
    from healthgap.data import resolve_dimensions

    return resolve_dimensions(config, people)


def dimensions_in(
    config: Config,
    people: pl.LazyFrame | pl.DataFrame,
    *,
    names: Sequence[str] | None = None,
) -> list[Dimension]:
    """The config's equity dimensions whose columns the dataset has, with levels resolved.

    Parameters
    ----------
    config : the loaded config.
    people : the canonical person table.
    names : keep only these dimensions (in this order); unknown names raise.

    References
    ----------
    .. [1] Public Health England (2017), Technical Guide: Confidence Intervals.
    """
    present = set(frame_of(people).collect_schema().names())
    resolved = _resolved(config, people).dimensions
    by_name = {d.name: d for d in resolved}
    if names is not None:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise KeyError(ERR_UNKNOWN_DIMENSION.format(name=unknown[0], known=", ".join(by_name)))
        chosen = [by_name[n] for n in names]
    else:
        chosen = list(resolved)
    out = []
    for d in chosen:
        if _source_column(d.name) not in present:
            continue
        if d.name == "age_band" and not d.order:
            d = replace(d, order=AGE_BANDS, reference=d.reference or "50-54")
        out.append(d)
    return out


def label_levels(df: pl.DataFrame, dimension: Dimension) -> pl.DataFrame:
    """Add ``dimension``, ``dimension_label``, ``label``, ``order`` and ``is_reference``; sort.

    Levels not in the dimension's ``order`` (e.g. a null locality) are kept at
    the end with their own code as label, so nothing is silently lost.
    """
    order = {lvl: i for i, lvl in enumerate(dimension.order)}
    levels = df.get_column(LEVEL).cast(pl.String)
    return (
        df.with_columns(
            pl.lit(dimension.name).alias("dimension"),
            pl.lit(dimension.label).alias("dimension_label"),
            levels.alias(LEVEL),
        )
        .with_columns(
            pl.col(LEVEL)
            .replace_strict(
                {k: dimension.label_of(k) for k in order}, default=pl.col(LEVEL), return_dtype=pl.String
            )
            .fill_null("Unknown")
            .alias("label"),
            pl.col(LEVEL).replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("order"),
            (pl.col(LEVEL) == dimension.reference).fill_null(False).alias("is_reference"),
        )
        .sort("order", LEVEL, nulls_last=True)
        .select(
            "dimension",
            "dimension_label",
            LEVEL,
            "label",
            "order",
            "is_reference",
            pl.exclude("dimension", "dimension_label", LEVEL, "label", "order", "is_reference"),
        )
    )


def require(people: pl.LazyFrame | pl.DataFrame, columns: Sequence[str], *, what: str) -> None:
    """Raise a clear KeyError when ``people`` lacks any of ``columns``."""
    present = frame_of(people).collect_schema().names()
    missing = [c for c in columns if c not in present]
    if missing:
        raise KeyError(
            ERR_MISSING_COLUMNS.format(what=what, missing=", ".join(missing), present=", ".join(present))
        )
