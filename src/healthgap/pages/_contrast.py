"""Two ends of an ordered dimension compared by the interval of their difference, not by whether
their intervals overlap.

:func:`healthgap.pages._groups.compare` words the two ends of an ordered dimension (the most
and least deprived fifths) and decides "could be chance" from whether their two 95% intervals
overlap. Overlap is a much stricter test than 5% (two intervals can overlap while the
difference between the groups is clearly not 0), so a real gap reads as chance. :func:`compare`
here keeps that sentence and replaces its verdict by the 95% interval of the difference
(:func:`healthgap.stats.difference_from_intervals`): "a difference of 12.6 percentage points
(95% CI 2.7 to 22.5 percentage points), larger than chance would readily explain". The two ends
are chosen before looking at the data, so one comparison, no multiplicity; sentences that name
the highest or lowest of several groups keep ``_groups.compare``'s simultaneous intervals.

Kept apart from :mod:`healthgap.pages._groups` (owned by another page) until it can move there.
"""

from __future__ import annotations

import math
from typing import Literal

import polars as pl

from healthgap.config import Dimension
from healthgap.descriptive import LEVEL
from healthgap.disclosure import Published
from healthgap.pages import _groups
from healthgap.pages._groups import ends
from healthgap.stats import difference_from_intervals
from healthgap.text import format_number, limits_dp

__all__ = ["compare", "OVERLAP_CLAUSES", "CHANCE", "NOT_CHANCE", "difference_clause"]

#: The verdicts :func:`healthgap.pages._groups.compare` gives the two ends (replaced here).
OVERLAP_CLAUSES = (
    " (the two intervals overlap, so it could be chance).",
    " (the two intervals do not overlap).",
)
#: The verdicts given here, from the interval of the difference.
CHANCE = "which could be chance"
NOT_CHANCE = "larger than chance would readily explain"


def _number(x: float, dp: int) -> str:
    text = format_number(x, dp=dp)
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "") or 0) == 0 else text


def difference_clause(
    a: float,
    a_limits: tuple[float, float],
    b: float,
    b_limits: tuple[float, float],
    *,
    scale: Literal["difference", "ratio"],
    dp: int,
    unit: str,
) -> str:
    """' (95% CI x to y{unit}), {verdict}' for the difference between ``a`` and ``b`` taken in the
    direction the sentence states it (the larger minus the smaller), or "" when it cannot be
    computed (an interval missing, not finite, or not positive on the ratio scale)."""
    limits = (*a_limits, *b_limits)
    if any(v is None or not math.isfinite(v) for v in (a, b, *limits)):
        return ""
    if scale == "ratio" and min(limits) <= 0:
        return ""
    if not (a_limits[0] <= a <= a_limits[1] and b_limits[0] <= b <= b_limits[1]):
        return ""
    _, low, high = difference_from_intervals(a, *a_limits, b, *b_limits, scale=scale)
    if a < b:
        low, high = -high, -low
    verdict = CHANCE if low <= 0 <= high else NOT_CHANCE
    dp = limits_dp(abs(a - b), low, high, dp=dp)  # not "0.0 to 0.3" beside "larger than chance"
    return f" (95% CI {_number(low, dp)} to {_number(high, dp)}{unit}), {verdict}"


def compare(
    table: pl.DataFrame | Published,
    dim: Dimension,
    *,
    subject: str,
    column: str = "value",
    lower: str = "lower_ci",
    upper: str = "upper_ci",
    dp: int = 1,
    suffix: str = "%",
    unit: str | None = None,
    scale: Literal["difference", "ratio"] = "difference",
    standardised: tuple[str, str, str] | None = None,
) -> str:
    """:func:`healthgap.pages._groups.compare`, with the two ends of an ordered dimension judged by
    the 95% interval of their difference.

    Parameters
    ----------
    table, dim, subject, column, lower, upper, dp, suffix, unit, scale :
        as :func:`healthgap.pages._groups.compare`; ``scale`` also says how each end's interval
        was built ("ratio": symmetric on the log scale), from which its standard error is read.
    standardised : the columns (ratio, ratio lower, ratio upper) of an indirectly standardised
        ratio of which ``column`` is a multiple: the standard errors are read from the ratio's
        own interval on the log scale (the shown interval may be capped, e.g. at 100%).
    """
    text = _groups.compare(
        table,
        dim,
        subject=subject,
        column=column,
        lower=lower,
        upper=upper,
        dp=dp,
        suffix=suffix,
        unit=unit,
        scale=scale,
    )
    pair = ends(dim)
    clause = next((c for c in OVERLAP_CLAUSES if text.endswith(c)), None)
    if pair is None or clause is None:
        return text
    lead = text[: -len(clause)]
    frame = (table.frame if isinstance(table, Published) else table).filter(pl.col("dimension") == dim.name)
    rows = [frame.filter(pl.col(LEVEL) == level) for level in pair]
    if any(r.height == 0 for r in rows):
        return lead + "."
    a, b = (r.row(0, named=True) for r in rows)
    if unit is None:
        unit = " percentage points" if suffix == "%" else suffix
    how: Literal["difference", "ratio"] = scale
    if standardised is not None:
        ratio, low, high = standardised
        if any(r.get(c) in (None, 0) for r in (a, b) for c in (ratio, low, high)):
            return lead + "."
        limits = [(r[column] * r[low] / r[ratio], r[column] * r[high] / r[ratio]) for r in (a, b)]
        how = "ratio"
    else:
        limits = [(r.get(lower), r.get(upper)) for r in (a, b)]
    tail = difference_clause(a[column], limits[0], b[column], limits[1], scale=how, dp=dp, unit=unit)
    return f"{lead}{tail}."
