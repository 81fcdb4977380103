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

from ._ci import wilson_limits
from ._common import NUMERATOR_EXCEEDS_DENOMINATOR, Frame, per_label
from .rates import count_ratio

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
    excess = (pl.col(numerator).cast(pl.Float64) > pl.col(denominator).cast(pl.Float64)).sum()

    def no_excess(agg: pl.DataFrame) -> None:
        n_excess = int(agg["__excess"].sum())
        if n_excess:
            raise ValueError(
                NUMERATOR_EXCEEDS_DENOMINATOR.format(
                    func="proportion", n=n_excess, numerator=numerator, denominator=denominator
                )
            )

    return count_ratio(
        df,
        numerator=numerator,
        denominator=denominator,
        by=by,
        multiplier=multiplier,
        confidence=confidence,
        func="proportion",
        limits=wilson_limits,
        zero_note=NOTE_ZERO_DENOMINATOR,
        statistic=lambda m: "Percentage" if m == 100 else f"Proportion per {per_label(m)}",
        method="Wilson",
        check=no_excess,
        extra=[excess.alias("__excess")],
    )
