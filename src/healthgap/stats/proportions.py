"""Proportions with Wilson score confidence intervals.

References
----------
.. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
   J Am Stat Assoc 1927;22:209-212.
.. [2] Newcombe RG, Altman DG. Proportions and their differences. In: Altman DG et al.
   (eds). Statistics with confidence (2nd edn). London: BMJ Books; 2000:46-48.
.. [3] Public Health England. Technical Guide: Confidence Intervals. 2018.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ._ci import wilson_lower, wilson_upper
from ._common import (
    NUMERATOR_EXCEEDS_DENOMINATOR,
    Frame,
    by_list,
    check_confidence,
    check_multiplier,
    finish,
    per_label,
)
from .rates import aggregate

__all__ = ["proportion", "NOTE_ZERO_DENOMINATOR"]

NOTE_ZERO_DENOMINATOR = "denominator is zero"


def proportion(
    df: Frame,
    *,
    numerator: str,
    denominator: str,
    by: str | Sequence[str] | None = None,
    multiplier: float = 100,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Proportion (percentage by default) with the Wilson score interval.

    Parameters
    ----------
    df : rows holding counts (summed within each group); numerator must not exceed
        denominator in any row.
    numerator, denominator : count columns (booleans are counted as 0/1).
    by : group column(s); ``None`` gives one row for the whole frame.
    multiplier : 100 for a percentage, 1 for a proportion.
    confidence : two-sided confidence level, e.g. 0.95 or 0.998.

    Returns
    -------
    pl.DataFrame
        One row per group with ``by``, the summed ``numerator`` and ``denominator``,
        ``value``, ``lower_ci``, ``upper_ci``, ``confidence``, ``statistic``
        ("Percentage" or "Proportion per <multiplier>"), ``method`` ("Wilson"), ``note``.

    Notes
    -----
    Wilson limits: (2x + z² ∓ z√(z² + 4x(1 - x/n))) / (2(n + z²)), as in Fingertips and
    PHEindicatormethods ``phe_proportion``.

    References
    ----------
    .. [1] Wilson EB. J Am Stat Assoc 1927;22:209-212.
    .. [2] Newcombe RG, Altman DG. Statistics with confidence (2nd edn). 2000:46-48.
    """
    func = "proportion"
    confidence = check_confidence(confidence, func)
    multiplier = check_multiplier(multiplier, func)
    groups = by_list(by)
    excess = (pl.col(numerator).cast(pl.Float64) > pl.col(denominator).cast(pl.Float64)).sum()
    agg = aggregate(
        df,
        counts=[numerator, denominator],
        by=groups,
        func=func,
        extra=[excess.alias("__excess")],
    )
    n_excess = int(agg["__excess"].sum())
    if n_excess:
        raise ValueError(
            NUMERATOR_EXCEEDS_DENOMINATOR.format(
                func=func, n=n_excess, numerator=numerator, denominator=denominator
            )
        )
    x, n = pl.col(numerator).cast(pl.Float64), pl.col(denominator).cast(pl.Float64)
    ok = n > 0
    out = agg.drop("__excess").with_columns(
        pl.when(ok).then(x / n * multiplier).alias("value"),
        pl.when(ok).then(wilson_lower(x, n, confidence) * multiplier).alias("lower_ci"),
        pl.when(ok).then(wilson_upper(x, n, confidence) * multiplier).alias("upper_ci"),
        pl.when(~ok).then(pl.lit(NOTE_ZERO_DENOMINATOR)).alias("note"),
    )
    statistic = "Percentage" if multiplier == 100 else f"Proportion per {per_label(multiplier)}"
    return finish(
        out,
        by=groups,
        counts=[numerator, denominator],
        confidence=confidence,
        statistic=statistic,
        method="Wilson",
    )
