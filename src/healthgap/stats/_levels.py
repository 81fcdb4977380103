"""Ordered levels of any dimension for the inequality indices: rank 1 = most disadvantaged.

:func:`~healthgap.stats.sii` and :func:`~healthgap.stats.concentration_index` rank the
levels of a dimension (deprivation fifths, education levels, income bands ...) from the
most disadvantaged (rank 1) to the least (rank k), whatever their type and whichever end
is disadvantaged, so that a negative index means "higher in the more disadvantaged groups"
for every dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

__all__ = [
    "Disadvantaged",
    "MIN_LEVELS",
    "RANK",
    "BAD_DISADVANTAGED",
    "UNORDERED_LEVELS",
    "UNKNOWN_LEVELS",
    "NOTE_FEW_LEVELS",
    "rank_levels",
]

Disadvantaged = Literal["first", "last"]
#: An index of inequality needs at least this many ordered levels (a slope through two
#: points is just their difference, and has no within-dimension gradient to speak of).
MIN_LEVELS = 3
#: Name of the rank column added by :func:`rank_levels`.
RANK = "__q"

BAD_DISADVANTAGED = (
    "{func}(): disadvantaged must be 'first' (the first level in order is the most "
    "disadvantaged, e.g. IMD quintile 1) or 'last' (e.g. education from none to degree), got {value!r}."
)
UNORDERED_LEVELS = (
    "{func}(): column {column!r} holds text ({dtype}), whose order cannot be guessed. Pass "
    "order=[...] listing its levels from first to last, e.g. order=['No qualifications', "
    "'GCSE', 'A level', 'Degree'], and disadvantaged='first' or 'last'."
)
UNKNOWN_LEVELS = (
    "{func}(): level(s) {levels} of column {column!r} are not in order={order}. List every "
    "level, or drop the rows of levels that have no place in the order (e.g. 'Unknown')."
)
NOTE_FEW_LEVELS = "fewer than 3 ordered levels, so no index of inequality"


def rank_levels(
    data: pl.DataFrame,
    *,
    column: str,
    order: Sequence[object] | None,
    disadvantaged: Disadvantaged,
    func: str,
) -> tuple[pl.DataFrame, int, str | None, str | None]:
    """Rows with a level, with :data:`RANK` (1 = most disadvantaged) over the levels present.

    Parameters
    ----------
    data : rows with the level column ``column`` (rows whose level is null are dropped).
    column : the ordered dimension.
    order : its levels from first to last (any type; compared with the column's values),
        or ``None`` for a numeric, boolean or ``Enum`` column (in its own order).
    disadvantaged : which end of the order is the most disadvantaged.
    func : calling function, for messages.

    Returns
    -------
    tuple
        The rows (with the rank, UInt32), the number of levels present ``k``, and the
        labels (String) of the most and least disadvantaged levels present.
    """
    if disadvantaged not in ("first", "last"):
        raise ValueError(BAD_DISADVANTAGED.format(func=func, value=disadvantaged))
    data = data.filter(pl.col(column).is_not_null())
    dtype = data.schema[column]
    if order is not None:
        wanted = pl.Series("__order", list(order))
        present = data.get_column(column).unique()
        stray = present.filter(~present.cast(pl.String).is_in(wanted.cast(pl.String).implode()))
        if stray.len():
            raise ValueError(
                UNKNOWN_LEVELS.format(
                    func=func,
                    levels=", ".join(repr(v) for v in stray.sort().to_list()),
                    column=column,
                    order=list(order),
                )
            )
        position = (
            pl.col(column)
            .cast(pl.String)
            .replace_strict(
                wanted.cast(pl.String), pl.int_range(wanted.len(), eager=True), return_dtype=pl.Int64
            )
        )
    elif dtype.is_numeric() or dtype == pl.Boolean:
        position = pl.col(column)
    elif isinstance(dtype, pl.Enum):
        position = pl.col(column).to_physical()
    else:
        raise ValueError(UNORDERED_LEVELS.format(func=func, column=column, dtype=dtype))
    ranked = data.with_columns(position.rank("dense").cast(pl.UInt32).alias(RANK))
    k = int(ranked.select(pl.col(RANK).max().fill_null(0)).item())
    if disadvantaged == "last":
        ranked = ranked.with_columns((k + 1 - pl.col(RANK)).cast(pl.UInt32).alias(RANK))
    ends = ranked.filter(pl.col(RANK).is_in([1, k])).select(RANK, pl.col(column).cast(pl.String)).unique(RANK)
    label = dict(ends.iter_rows())
    return ranked, k, label.get(1), label.get(k)
