"""Confidence-interval building blocks as polars expressions.

These are the methods of the PHE/OHID *Technical Guide: Confidence Intervals*
(Fingertips): Byar's approximation and the exact (chi-squared) method for Poisson
counts, and the Wilson score interval for proportions. Helpers take ``str | pl.Expr``.

References
----------
.. [1] Breslow NE, Day NE. Statistical methods in cancer research, volume II: the design
   and analysis of cohort studies. Lyon: IARC; 1987 (Byar's method).
.. [2] Armitage P, Berry G. Statistical methods in medical research (4th edn). Oxford:
   Blackwell; 2002 (exact Poisson limits from the chi-squared distribution).
.. [3] Wilson EB. Probable inference, the law of succession, and statistical inference.
   J Am Stat Assoc 1927;22:209-212; Newcombe RG, Altman DG. Proportions and their
   differences. In: Statistics with confidence (2nd edn). BMJ Books; 2000:46-48.
.. [4] Public Health England. Technical Guide: Confidence Intervals. 2018.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.special import gammaincinv

from ._common import z_value

__all__ = [
    "byars_lower",
    "byars_upper",
    "exact_lower",
    "exact_upper",
    "poisson_lower",
    "poisson_upper",
    "poisson_method",
    "wilson_lower",
    "wilson_upper",
    "wilson_limits",
    "wilson_interval",
    "BYARS_THRESHOLD",
]

#: Fingertips uses the exact method below this many events and Byar's method from it up.
BYARS_THRESHOLD = 10


def _e(x: str | pl.Expr) -> pl.Expr:
    return pl.col(x) if isinstance(x, str) else x


def byars_lower(o: str | pl.Expr, confidence: float) -> pl.Expr:
    """Byar's lower limit for an observed Poisson count ``o``: O(1 - 1/9O - z/3√O)³, never below 0.

    The cube goes negative for very few events at a high confidence level (e.g. one event
    at 99.8%), and is undefined for none: a count's lower limit is then 0, the smallest
    possible count. (Fingertips uses the exact method below 10 events, see
    :func:`poisson_lower`, where this never arises.)
    """
    o, z = _e(o).cast(pl.Float64), z_value(confidence)
    cube = o * (1 - 1 / (9 * o) - z / (3 * o.sqrt())) ** 3
    return pl.when(o > 0).then(cube.clip(lower_bound=0.0)).when(o <= 0).then(pl.lit(0.0))


def byars_upper(o: str | pl.Expr, confidence: float) -> pl.Expr:
    """Byar's upper limit: (O+1)(1 - 1/9(O+1) + z/3√(O+1))³."""
    o1, z = _e(o).cast(pl.Float64) + 1, z_value(confidence)
    return o1 * (1 - 1 / (9 * o1) + z / (3 * o1.sqrt())) ** 3


def _chi2_half(o: pl.Expr, q: float, shift: float) -> pl.Expr:
    def f(s: pl.Series) -> pl.Series:
        x = s.cast(pl.Float64).to_numpy()
        with np.errstate(invalid="ignore"):
            out = gammaincinv(x + shift / 2, q)  # chi2.ppf(q, 2x + shift) / 2, without importing scipy.stats
        return pl.Series(s.name, out, dtype=pl.Float64)

    return o.map_batches(f, return_dtype=pl.Float64)


def exact_lower(o: str | pl.Expr, confidence: float) -> pl.Expr:
    """Exact lower limit: χ²(α/2; 2O)/2, and 0 when O = 0."""
    o = _e(o).cast(pl.Float64)
    alpha = 1 - confidence
    return pl.when(o == 0).then(pl.lit(0.0)).otherwise(_chi2_half(o, alpha / 2, 0.0))


def exact_upper(o: str | pl.Expr, confidence: float) -> pl.Expr:
    """Exact upper limit: χ²(1-α/2; 2O+2)/2."""
    alpha = 1 - confidence
    return _chi2_half(_e(o).cast(pl.Float64), 1 - alpha / 2, 2.0)


def poisson_lower(o: str | pl.Expr, confidence: float) -> pl.Expr:
    """Fingertips rule: exact below 10 events, Byar's from 10."""
    o = _e(o)
    return pl.when(o < BYARS_THRESHOLD).then(exact_lower(o, confidence)).otherwise(byars_lower(o, confidence))


def poisson_upper(o: str | pl.Expr, confidence: float) -> pl.Expr:
    """Fingertips rule: exact below 10 events, Byar's from 10."""
    o = _e(o)
    return pl.when(o < BYARS_THRESHOLD).then(exact_upper(o, confidence)).otherwise(byars_upper(o, confidence))


def poisson_method(o: str | pl.Expr) -> pl.Expr:
    """Name of the interval method used for each count."""
    return pl.when(_e(o) < BYARS_THRESHOLD).then(pl.lit("Exact (chi-squared)")).otherwise(pl.lit("Byars"))


def _wilson(x: str | pl.Expr, n: str | pl.Expr, confidence: float, sign: float) -> pl.Expr:
    x, n, z = _e(x).cast(pl.Float64), _e(n).cast(pl.Float64), z_value(confidence)
    root = (z**2 + 4 * x * (1 - x / n)).sqrt()
    return (2 * x + z**2 + sign * z * root) / (2 * (n + z**2))


def wilson_lower(x: str | pl.Expr, n: str | pl.Expr, confidence: float) -> pl.Expr:
    """Wilson score lower limit of a proportion x/n (on the 0-1 scale)."""
    return _wilson(x, n, confidence, -1.0).clip(lower_bound=0.0)


def wilson_upper(x: str | pl.Expr, n: str | pl.Expr, confidence: float) -> pl.Expr:
    """Wilson score upper limit of a proportion x/n (on the 0-1 scale)."""
    return _wilson(x, n, confidence, 1.0).clip(upper_bound=1.0)


def wilson_limits(x: str | pl.Expr, n: str | pl.Expr, confidence: float) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score lower and upper limits of a proportion x/n (on the 0-1 scale)."""
    return wilson_lower(x, n, confidence), wilson_upper(x, n, confidence)


def wilson_interval(
    events: npt.ArrayLike, n: npt.ArrayLike, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of proportions given as arrays (the numpy entry point).

    The same formula as :func:`wilson_lower` and :func:`wilson_upper` (evaluated by them),
    so a proportion gets the same limits whether it comes from a frame or from arrays.

    Parameters
    ----------
    events, n : numerators and denominators (broadcast together); NaN gives NaN limits.
    confidence : confidence level, e.g. 0.95.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits (0-1 scale), of the broadcast shape of ``events`` and ``n``.

    References
    ----------
    .. [1] Wilson EB. J Am Stat Assoc 1927;22:209-212.
    .. [2] Newcombe RG. Two-sided confidence intervals for the single proportion:
       comparison of seven methods. Stat Med 1998;17:857-72.
    """
    x, total = np.broadcast_arrays(np.asarray(events, np.float64), np.asarray(n, np.float64))
    frame = pl.DataFrame({"x": x.ravel(), "n": total.ravel()})
    lower, upper = wilson_limits("x", "n", confidence)
    limits = frame.select(lower.alias("lower"), upper.alias("upper"))
    return limits["lower"].to_numpy().reshape(x.shape), limits["upper"].to_numpy().reshape(x.shape)
