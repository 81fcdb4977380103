"""Finest cells, then each dimension: count the people once and roll the cells up per dimension.

Several analyses need the same statistics (counts, sums, means) by each equity dimension's
level, within strata every dimension keeps (age band, sex). Grouping the people once per
dimension reads them once per dimension; :func:`dimension_cells` reads them once: it groups
them into the *finest cells* (every dimension x every stratum), a small table (thousands of
rows), and sums those cells up to each dimension. A dimension's missing level is left out of
its own roll-up only. Additive statistics (integer counts and sums) are the same numbers either
way; statistics combined from cell summaries (a mean from the cells' means) are equal to
floating-point rounding.

The finest-cell table has one row per combination of levels present. With a high-cardinality
dimension (a GP practice, a small area) at millions of people it can approach the person
table's size, so :func:`dimension_cells` bounds it: when the product of the keys' numbers of
distinct values (each with its null) exceeds :data:`MAX_CELLS`, the dimensions with the most
levels are taken out of the finest cells, largest first, until the rest fit, and each of them
is grouped from the people in a pass of its own (with the strata). The results are the same
either way (integers exactly, floats to rounding).

Order: each roll-up sorts the cells by its keys and then the cells' other keys and aggregates
them eagerly, group by group, so its float sums are taken in one order every run. (The cells'
own statistics come from a lazy group-by over the people: a float statistic of a cell, such as
a mean, can still differ in its last bits between runs on millions of people.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl

__all__ = ["dimension_cells", "MAX_CELLS", "cells_plan"]

#: The largest finest-cell table :func:`dimension_cells` builds: the product of the keys' numbers
#: of distinct values (each counted with its null, an upper bound on the cells present). 200,000
#: cells: the default books' finest cells are bounded by 20,160 (deprivation 6 x ethnic group 7
#: x sex 3 x age band 20 x locality 8), ten times smaller; at 200,000 cells a table of 50 Int64
#: statistics is 80 MB, and every dimension's roll-up reads at most that (no more than two
#: percent of a ten-million-person table), while a GP practice (hundreds in a trust) or a small
#: area (thousands) times the other dimensions and the strata exceeds it and is counted in a pass
#: of its own, so the finest cells stay small whatever the dimensions.
MAX_CELLS = 200_000

_KEY = "__cells_key{}"


def _expr(value: str | pl.Expr) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def _named(items: Sequence[str] | Mapping[str, str | pl.Expr]) -> dict[str, pl.Expr]:
    if isinstance(items, Mapping):
        return {name: _expr(e) for name, e in items.items()}
    return {name: pl.col(name) for name in items}


def cells_plan(
    dimensions: Mapping[str, int], strata: Mapping[str, int], *, max_cells: int = MAX_CELLS
) -> tuple[list[str], list[str]]:
    """Which dimensions go into the finest cells and which get a pass of their own.

    Parameters
    ----------
    dimensions : dimension name -> its number of distinct values (with null), for the
        dimensions that are not strata.
    strata : stratum name -> its number of distinct values (with null).
    max_cells : the largest product of those numbers the finest cells may have.

    Returns
    -------
    tuple[list[str], list[str]]
        The dimensions counted in the finest cells and those counted in passes of their own
        (the ones with the most levels, taken out largest first until the rest fit), each in
        the order given.
    """
    inside = dict(dimensions)
    alone: set[str] = set()
    bound = math.prod(strata.values()) * math.prod(inside.values())
    while inside and bound > max_cells:
        largest = max(inside, key=lambda name: inside[name])  # a few dimensions, not data rows
        alone.add(largest)
        bound //= max(inside.pop(largest), 1)
    return [d for d in dimensions if d not in alone], [d for d in dimensions if d in alone]


def _level_counts(
    people: pl.LazyFrame, exprs: Mapping[str, pl.Expr], known: Mapping[str, int]
) -> dict[str, int]:
    """Distinct values (with null) of each key: ``known`` or, for the rest, one query."""
    unknown = [name for name in exprs if name not in known]
    counted: dict[str, int] = {}
    if unknown:
        row = people.select(exprs[name].n_unique().alias(name) for name in unknown).collect().row(0)
        counted = {name: int(n) + 1 for name, n in zip(unknown, row)}  # + 1: a null (an upper bound)
    return {name: int(known[name]) if name in known else counted[name] for name in exprs}


def dimension_cells(
    people: pl.LazyFrame,
    dimensions: Sequence[str] | Mapping[str, str | pl.Expr],
    *,
    cells: Sequence[pl.Expr],
    rollup: Sequence[pl.Expr],
    strata: Sequence[str] | Mapping[str, str | pl.Expr] = (),
    total: str | None = None,
    levels: Mapping[str, int] | None = None,
    level: str = "level",
    drop_null_strata: bool = False,
    max_cells: int = MAX_CELLS,
) -> dict[str, pl.DataFrame]:
    """Statistics by each dimension's level x the strata, from one pass over the people.

    The people are grouped once into the finest cells (every dimension's value x every
    stratum's), each cell's ``cells`` aggregations; then, for each dimension, the cells with a
    level of it (not null) are grouped by level x the strata with the ``rollup`` aggregations
    of the cells' columns. A dimension named like a stratum *is* that stratum (``age_band``
    among the dimensions with an ``age_band`` stratum): its level is the stratum's value and
    its roll-up keeps the other strata only. Keys are grouped by their own values and made text
    in the cells (not person by person). Each roll-up sorts the cells by its keys, then the
    cells' other keys, and aggregates each group's (contiguous) cells eagerly in that order, so
    float sums over cells are taken in one order every run; the rows come sorted.

    When the product of the keys' numbers of distinct values exceeds ``max_cells``, the
    dimensions with the most levels are grouped from the people in passes of their own
    (:func:`cells_plan`); their cells are then the level x strata, rolled up the same way.

    Parameters
    ----------
    people : the person table.
    dimensions : the dimensions' names (columns), or name -> column or expression of the level.
    cells : the aggregations of each finest cell (named; e.g. ``pl.len().alias("n")``).
    rollup : the aggregations of the cells' columns per level x strata (e.g.
        ``pl.col("n").sum()``): sums for counts; any expression of the cells' columns (a mean
        from the cells' means).
    strata : keys kept in every roll-up (names, or name -> column or expression), e.g.
        ``{"age_band": age_bands("age")}``.
    total : a name for one more table, the cells rolled up over the strata only (everybody,
        whatever their levels), or None.
    levels : known numbers of distinct values (with null) of some keys (from the config's
        levels); the others are counted in one query when the guard needs them.
    level : the name of the level column.
    drop_null_strata : leave out the cells with a missing stratum (e.g. no age band).
    max_cells : the guard's bound on the finest cells (:data:`MAX_CELLS`).

    Returns
    -------
    dict[str, pl.DataFrame]
        Dimension name -> ``level`` (text), the strata (text, but a dimension's own stratum)
        and the ``rollup`` columns, one row per level x strata with a cell, sorted by them
        (nulls last); in the order of ``dimensions``, then ``total`` (the strata and the
        ``rollup`` columns).
    """
    dims = _named(dimensions)
    strat = _named(strata)
    own = {name: e for name, e in dims.items() if name not in strat}
    inside: list[str] = list(own)
    alone: list[str] = []
    if own:
        bound = math.prod(int((levels or {}).get(name, max_cells + 1)) for name in [*own, *strat])
        if bound > max_cells:  # known numbers of levels do not settle it: count the unknown ones
            counts = _level_counts(people, {**own, **strat}, levels or {})
            inside, alone = cells_plan(
                {name: counts[name] for name in own},
                {name: counts[name] for name in strat},
                max_cells=max_cells,
            )
    keys = {name: _KEY.format(j) for j, name in enumerate(own)}

    def grouped(frame: pl.LazyFrame, names: Sequence[str]) -> pl.LazyFrame:
        """The cells of ``frame`` by the dimensions ``names`` x the strata, keys as text."""
        text = [*(keys[name] for name in names), *strat]
        if not text:  # no dimension in the cells and no strata: one cell, everybody
            return frame.select(cells)
        out = frame.group_by(
            *(own[name].alias(keys[name]) for name in names),
            *(e.alias(name) for name, e in strat.items()),
        ).agg(cells)
        if drop_null_strata and strat:
            out = out.filter(pl.all_horizontal(pl.col(name).is_not_null() for name in strat))
        return out.with_columns(pl.col(text).cast(pl.String))

    # the people grouped: the finest cells (when a table needs them) and the cells of each
    # dimension with a pass of its own, in one collect
    needed = total is not None or any(name not in alone for name in dims)
    passes = [grouped(people, inside)] if needed else []
    passes += [grouped(people, [name]) for name in alone]
    collected = pl.collect_all(passes)
    finest = collected[0] if needed else pl.DataFrame()
    own_cells = dict(zip(alone, collected[1:] if needed else collected))

    def rolled(frame: pl.DataFrame, name: str, cell_keys: Sequence[str]) -> pl.DataFrame:
        # each group's cells contiguous and in key order before they are aggregated, eagerly: a
        # plain group-by sum (lazy, or eager over groups scattered through the frame) may add a
        # group's cells up in parallel pieces, in the order the threads finish: float sums that
        # vary in their last bits from run to run (seen with tens of thousands of cells)
        key = name if name in strat else keys[name]
        by = [s for s in strat if s != name]
        first = [key, *by]
        return (
            frame.filter(pl.col(key).is_not_null())
            .sort([*first, *(k for k in cell_keys if k not in first)], nulls_last=True, maintain_order=True)
            .group_by(pl.col(key).alias(level), *by, maintain_order=True)
            .agg(rollup)  # groups in their first cell's order: sorted by level and strata
        )

    finest_keys = [*(keys[name] for name in inside), *strat]
    out = {
        name: rolled(own_cells[name], name, [keys[name], *strat])
        if name in alone
        else rolled(finest, name, finest_keys)
        for name in dims
    }
    if total is not None:
        out[total] = (
            finest.sort([*strat, *finest_keys[: len(inside)]], nulls_last=True, maintain_order=True)
            .group_by(*strat, maintain_order=True)
            .agg(rollup)
            if strat
            else finest.select(rollup)
        )
    return out
