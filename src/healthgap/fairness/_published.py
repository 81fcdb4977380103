"""Group proportions from their counts, and intervals for the gaps between groups.

A proportion published next to its rounded counts must be computed from those rounded
counts, or it gives the exact counts back (rule 8 of :mod:`healthgap.disclosure`). The
audit's proportions (prevalence, selection rate, true and false positive rates,
positive predictive value) are therefore computed by :func:`proportions` from a
numerator and denominator, with Wilson score intervals: the analysis calls it on the
exact counts, and the page passes it to :func:`healthgap.disclosure.publish` as
``recompute``, which calls it again on the counts as they will be published. The gap
between two published groups then gets an interval from the two groups' Wilson
intervals: Newcombe's hybrid score interval for the difference and the MOVER-R interval
for the ratio. Mean predicted risk and AUROC are not proportions of people and keep their
bootstrap intervals.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from healthgap.stats import wilson_lower, wilson_upper

__all__ = [
    "RATIO_METRICS",
    "WILSON_METHOD",
    "EXACT_METHOD",
    "proportions",
    "newcombe_difference",
    "mover_ratio",
]

#: Audit metrics that are proportions of people (numerator / denominator).
RATIO_METRICS: tuple[str, ...] = ("prevalence", "selection_rate", "tpr", "fpr", "ppv")
WILSON_METHOD = "proportion of the published (rounded) counts; Wilson score interval"
#: Method of the analysis' own (exact, unpublished) proportions.
EXACT_METHOD = "proportion of the exact counts; Wilson score interval"


def proportions(long: pl.DataFrame, *, confidence: float, method: str = WILSON_METHOD) -> pl.DataFrame:
    """The proportions of :data:`RATIO_METRICS` (value and Wilson interval) from ``numerator``
    and ``denominator``, as the frame gives them (exact, or rounded as they will be published).

    Rows of other metrics keep their value, interval and method.

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
       J Am Stat Assoc 1927;22:209-212.
    .. [2] NHS Digital. Hospital Episode Statistics: disclosure control method (2018).
    """
    ratio = pl.col("metric").is_in(RATIO_METRICS)
    x, n = pl.col("numerator").cast(pl.Float64), pl.col("denominator").cast(pl.Float64)
    ok = ratio & (n > 0)
    return long.with_columns(
        pl.when(ok).then(x / n).when(ratio).then(None).otherwise(pl.col("value")).alias("value"),
        pl.when(ok)
        .then(wilson_lower(x, n, confidence))
        .when(ratio)
        .then(None)
        .otherwise(pl.col("lower_ci"))
        .alias("lower_ci"),
        pl.when(ok)
        .then(wilson_upper(x, n, confidence))
        .when(ratio)
        .then(None)
        .otherwise(pl.col("upper_ci"))
        .alias("upper_ci"),
        pl.when(ratio).then(pl.lit(method)).otherwise(pl.col("method")).alias("method"),
    )


def newcombe_difference(
    p1: float, l1: float, u1: float, p2: float, l2: float, u2: float
) -> tuple[float, float]:
    """Interval for ``p1 - p2`` (independent groups) from each group's Wilson interval.

    References
    ----------
    .. [1] Newcombe RG. Interval estimation for the difference between independent
       proportions: comparison of eleven methods. Stat Med 1998;17:873-890 (method 10).
    """
    d = p1 - p2
    return d - float(np.hypot(p1 - l1, u2 - p2)), d + float(np.hypot(u1 - p1, p2 - l2))


def mover_ratio(p1: float, l1: float, u1: float, p2: float, l2: float, u2: float) -> tuple[float, float]:
    """Interval for ``p1 / p2`` (independent groups) from each group's Wilson interval.

    The upper limit is infinite (NaN here) when ``l2`` is 0.

    References
    ----------
    .. [1] Donner A, Zou GY. Closed-form confidence intervals for functions of the normal
       mean and standard deviation. Stat Methods Med Res 2012;21:347-359 (MOVER-R).
    .. [2] Newcombe RG. Confidence Intervals for Proportions and Related Measures of Effect
       Size. CRC Press, 2013, section 10.3.
    """
    if p2 <= 0:
        return float("nan"), float("nan")
    prod = p1 * p2
    low_den = u2 * (2 * p2 - u2)
    high_den = l2 * (2 * p2 - l2)
    low = (
        (prod - np.sqrt(max(prod**2 - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2), 0.0))) / low_den
        if low_den > 0
        else 0.0
    )
    high = (
        (prod + np.sqrt(max(prod**2 - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2), 0.0))) / high_den
        if high_den > 0
        else float("nan")
    )
    return float(max(low, 0.0)), float(high)
