"""Rate ratios and rate differences between each group and a reference group.

Crude rates use the exact conditional (binomial) method for the ratio and a normal
approximation with Poisson variances for the difference; DSRs use the APHO/Fingertips
log-normal approximation for the ratio and a normal approximation for the difference,
both with Dobson's variance of each DSR.

References
----------
.. [1] Breslow NE, Day NE. Statistical methods in cancer research, volume II. IARC; 1987
   (section 2.3: the conditional binomial method for a ratio of Poisson rates; section
   2.3 also the variance of a ratio of standardised rates on the log scale).
.. [2] Armitage P, Berry G, Matthews JNS. Statistical methods in medical research (4th
   edn). Oxford: Blackwell; 2002 (comparison of two Poisson counts).
.. [3] APHO Technical Briefing 3: Commonly used public health statistics and their
   confidence intervals. 2008; Public Health England. Technical Guide: Confidence
   Intervals. 2018 (Dobson variance of a DSR).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy.special import betaincinv

from ._bands import Bands
from ._common import Frame, by_list, check_confidence, check_multiplier, per_label, z_value
from .dsr import dsr_table
from .rates import aggregate

__all__ = [
    "rate_ratio",
    "rate_difference",
    "difference_from_intervals",
    "BAD_INTERVAL",
    "UNKNOWN_REFERENCE",
    "NOTE_REFERENCE",
    "NOTE_NO_REFERENCE",
    "NOTE_ZERO_REFERENCE_EVENTS",
]

UNKNOWN_REFERENCE = (
    "{func}(): reference {reference!r} is not a value of column {group!r}. Values present: "
    "{levels}. Pass one of them as reference=."
)
NOTE_REFERENCE = "reference group"
BAD_INTERVAL = (
    "difference_from_intervals(): each interval must hold its estimate (lower <= estimate <= upper), "
    "with positive limits on the ratio scale; got {estimate} in ({lower}, {upper})."
)
NOTE_NO_REFERENCE = "reference group has no value in this stratum"
NOTE_ZERO_REFERENCE_EVENTS = "reference group has zero events"
NOTE_NOT_COMPUTED = "rate not computed for this group"


def _table(
    df, *, events, population, group, by, age_band, standard, multiplier, confidence, func, bands=None
):
    keys = [*by, group]
    if age_band is None:
        t = aggregate(df, counts=[events, population], by=keys, func=func)
        n = pl.col(population).cast(pl.Float64)
        t = t.with_columns(
            pl.when(n > 0).then(pl.col(events) / n * multiplier).alias("__rate"),
            pl.lit(None, dtype=pl.Float64).alias("__var"),
        )
    else:
        t = dsr_table(
            df,
            events=events,
            population=population,
            age_band=age_band,
            by=keys,
            standard=standard,
            multiplier=multiplier,
            confidence=confidence,
            bands=bands,
        ).select(
            *keys, events, population, pl.col("value").alias("__rate"), pl.col("variance").alias("__var")
        )
    return t


def _with_reference(t, *, group, reference, by, events, population, func):
    levels = t[group].unique().sort(nulls_last=True).to_list()
    ref_mask = t[group].cast(pl.String) == str(reference)
    if not ref_mask.any():
        raise ValueError(
            UNKNOWN_REFERENCE.format(
                func=func,
                reference=reference,
                group=group,
                levels=", ".join(repr(x) for x in levels),
            )
        )
    ref = t.filter(ref_mask).select(
        *by,
        pl.col(events).alias("__o2"),
        pl.col(population).alias("__n2"),
        pl.col("__rate").alias("__rate2"),
        pl.col("__var").alias("__var2"),
    )
    joined = t.join(ref, on=by, how="left", nulls_equal=True) if by else t.join(ref, how="cross")
    return joined.with_columns(
        (pl.col(group).cast(pl.String) == str(reference)).fill_null(False).alias("__is_ref")
    )


def _note(extra: pl.Expr) -> pl.Expr:
    return (
        pl.when(pl.col("__is_ref"))
        .then(pl.lit(NOTE_REFERENCE))
        .when(pl.col("__o2").is_null())
        .then(pl.lit(NOTE_NO_REFERENCE))
        .when(pl.col("__rate").is_null() | pl.col("__rate2").is_null())
        .then(pl.lit(NOTE_NOT_COMPUTED))
        .otherwise(extra)
    )


def _against_reference(
    df,
    *,
    events,
    population,
    group,
    reference,
    by,
    age_band,
    standard,
    multiplier,
    confidence,
    func,
    bands=None,
):
    """Each group's rate (crude or DSR) with the reference group's rate, variance and counts alongside."""
    groups = by_list(by)
    t = _table(
        df,
        events=events,
        population=population,
        group=group,
        by=groups,
        age_band=age_band,
        standard=standard,
        multiplier=multiplier,
        confidence=confidence,
        func=func,
        bands=bands,
    )
    return groups, _with_reference(
        t, group=group, reference=reference, by=groups, events=events, population=population, func=func
    )


def _finish(out, *, by, group, events, population, confidence, statistic, method):
    cols = [*by, group, events, population, "value", "lower_ci", "upper_ci"]
    return (
        out.with_columns(
            pl.lit(confidence).alias("confidence"),
            pl.lit(statistic).alias("statistic"),
            pl.lit(method).alias("method"),
        )
        .select(*cols, "confidence", "statistic", "method", "note")
        .sort([*by, group], nulls_last=True)
    )


def rate_ratio(
    df: Frame,
    *,
    events: str,
    population: str,
    group: str,
    reference: object,
    by: str | Sequence[str] | None = None,
    age_band: str | None = None,
    standard: str = "esp2013",
    confidence: float = 0.95,
    bands: Bands = None,
) -> pl.DataFrame:
    """Ratio of each group's rate to the reference group's rate, with a CI.

    Parameters
    ----------
    df : counts (person-level rows summed per group, or group x age-band rows for DSRs).
    events, population : count columns.
    group : column whose values are compared (e.g. ``"imd_quintile"``).
    reference : the value of ``group`` used as the reference (compared as text).
    by : optional strata (e.g. ``"sex"``): the comparison is made within each.
    age_band : if given, compare directly standardised rates (see :func:`dsr`); otherwise
        crude rates.
    standard : standard population for DSRs (``"esp2013"`` or a column name).
    confidence : two-sided confidence level.
    bands : age bands of the standard for DSRs, as for :func:`dsr` (``None``: all;
        ``"covered"``: those with people in ``df``; or a list). A group with no people in
        a band used has no DSR, so its ratio gets the note "rate not computed".

    Returns
    -------
    pl.DataFrame
        One row per stratum x group: ``by``, ``group``, the group's ``events`` and
        ``population``, ``value`` (ratio), ``lower_ci``, ``upper_ci``, ``confidence``,
        ``statistic``, ``method``, ``note``. The reference row has ratio 1, no CI and the
        note "reference group".

    Notes
    -----
    Crude rates, "exact conditional binomial": given O1 + O2 events, O1 is binomial with
    p = n1 RR / (n1 RR + n2); Clopper-Pearson limits p_L, p_U give RR limits
    p/(1-p) x n2/n1. DSRs, "log-normal (APHO) with Dobson variances":
    exp(ln R ± z √(var1/DSR1² + var2/DSR2²)).

    References
    ----------
    .. [1] Breslow NE, Day NE. Statistical methods in cancer research, vol II. 1987.
    .. [2] Armitage P, Berry G, Matthews JNS. Statistical methods in medical research. 2002.
    .. [3] APHO Technical Briefing 3. 2008.
    """
    func = "rate_ratio"
    confidence = check_confidence(confidence, func)
    groups, j = _against_reference(
        df,
        events=events,
        population=population,
        group=group,
        reference=reference,
        by=by,
        age_band=age_band,
        standard=standard,
        multiplier=1.0,
        confidence=confidence,
        func=func,
        bands=bands,
    )
    alpha = 1 - confidence
    ratio = pl.col("__rate") / pl.col("__rate2")
    if age_band is None:
        o1 = j[events].cast(pl.Float64).to_numpy()
        o2 = j["__o2"].cast(pl.Float64).to_numpy()
        with np.errstate(all="ignore"):
            p_lo = np.where(o1 > 0, betaincinv(o1, o2 + 1, alpha / 2), 0.0)
            p_hi = np.where(o2 > 0, betaincinv(o1 + 1, o2, 1 - alpha / 2), np.nan)
        j = j.with_columns(pl.Series("__pl", p_lo), pl.Series("__pu", p_hi))
        scale = pl.col("__n2").cast(pl.Float64) / pl.col(population).cast(pl.Float64)
        lo = pl.col("__pl") / (1 - pl.col("__pl")) * scale
        hi = pl.col("__pu") / (1 - pl.col("__pu")) * scale
        note = _note(pl.when(pl.col("__o2") == 0).then(pl.lit(NOTE_ZERO_REFERENCE_EVENTS)))
        statistic, method = "Rate ratio (crude rates)", "Exact conditional binomial"
    else:
        rel1 = pl.col("__var") / pl.col("__rate") ** 2
        se = (rel1 + pl.col("__var2") / pl.col("__rate2") ** 2).sqrt()
        z = z_value(confidence)
        lo, hi = ratio * (-z * se).exp(), ratio * (z * se).exp()
        note = _note(pl.lit(None, dtype=pl.String))
        statistic = "Rate ratio (DSRs)"
        method = "Log-normal approximation with Dobson variances (APHO)"
    out = j.with_columns(note.alias("note")).with_columns(
        pl.when(pl.col("__is_ref"))
        .then(pl.lit(1.0))
        .when(pl.col("note").is_null())
        .then(ratio)
        .alias("value"),
        pl.when(pl.col("note").is_null()).then(lo).alias("lower_ci"),
        pl.when(pl.col("note").is_null()).then(hi).alias("upper_ci"),
    )
    return _finish(
        out,
        by=groups,
        group=group,
        events=events,
        population=population,
        confidence=confidence,
        statistic=statistic,
        method=method,
    )


def rate_difference(
    df: Frame,
    *,
    events: str,
    population: str,
    group: str,
    reference: object,
    by: str | Sequence[str] | None = None,
    age_band: str | None = None,
    standard: str = "esp2013",
    multiplier: float = 100_000,
    confidence: float = 0.95,
    bands: Bands = None,
) -> pl.DataFrame:
    """Difference between each group's rate and the reference group's rate, with a CI.

    Parameters are as for :func:`rate_ratio` (``bands`` too), plus ``multiplier`` (the difference is per
    this many people).

    Returns
    -------
    pl.DataFrame
        As :func:`rate_ratio`; ``value`` is rate minus reference rate; the reference row
        has difference 0 and no CI.

    Notes
    -----
    Normal approximation D ± z √(var1 + var2): for crude rates var = O/n² (Poisson), for
    DSRs the Dobson variance of each DSR.

    References
    ----------
    .. [1] Armitage P, Berry G, Matthews JNS. Statistical methods in medical research. 2002.
    .. [2] APHO Technical Briefing 3. 2008.
    """
    func = "rate_difference"
    confidence = check_confidence(confidence, func)
    multiplier = check_multiplier(multiplier, func)
    groups, j = _against_reference(
        df,
        events=events,
        population=population,
        group=group,
        reference=reference,
        by=by,
        age_band=age_band,
        standard=standard,
        multiplier=multiplier,
        confidence=confidence,
        func=func,
        bands=bands,
    )
    if age_band is None:
        n1 = pl.col(population).cast(pl.Float64)
        n2 = pl.col("__n2").cast(pl.Float64)
        var = (pl.col(events) / n1**2 + pl.col("__o2") / n2**2) * multiplier**2
        kind, method = "crude rates", "Normal approximation with Poisson variances"
    else:
        var = pl.col("__var") + pl.col("__var2")
        kind, method = "DSRs", "Normal approximation with Dobson variances"
    z = z_value(confidence)
    diff = pl.col("__rate") - pl.col("__rate2")
    out = j.with_columns(_note(pl.lit(None, dtype=pl.String)).alias("note")).with_columns(
        pl.when(pl.col("__is_ref"))
        .then(pl.lit(0.0))
        .when(pl.col("note").is_null())
        .then(diff)
        .alias("value"),
        pl.when(pl.col("note").is_null()).then(diff - z * var.sqrt()).alias("lower_ci"),
        pl.when(pl.col("note").is_null()).then(diff + z * var.sqrt()).alias("upper_ci"),
    )
    statistic = f"Rate difference per {per_label(multiplier)} ({kind})"
    return _finish(
        out,
        by=groups,
        group=group,
        events=events,
        population=population,
        confidence=confidence,
        statistic=statistic,
        method=method,
    )


def difference_from_intervals(
    a: float,
    a_lower: float,
    a_upper: float,
    b: float,
    b_lower: float,
    b_upper: float,
    *,
    scale: str = "difference",
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """The difference ``a - b`` of two independent estimates and its interval, from their own
    intervals (normal approximation).

    Each estimate's standard error is read back from its interval: ``(upper - lower) / 2z``
    on the difference scale; on the ratio scale (rates, ratios, standardised values, whose
    intervals are symmetric on the log scale) ``estimate x (ln upper - ln lower) / 2z`` (the
    delta method). The difference's interval is ``a - b +/- z sqrt(se_a^2 + se_b^2)``. Two
    intervals may overlap while this interval excludes 0: overlap is a test at a much
    stricter level than 5% (Schenker and Gentleman 2001), so it must not decide whether two
    groups differ.

    Parameters
    ----------
    a, a_lower, a_upper : the first estimate and its interval (at ``confidence``).
    b, b_lower, b_upper : the second.
    scale : "difference" or "ratio": how the intervals were built.
    confidence : the level of the given intervals and of the one returned.

    Returns
    -------
    (difference, lower, upper)

    References
    ----------
    .. [1] Schenker N, Gentleman JF. On judging the significance of differences by examining
       the overlap between confidence intervals. The American Statistician 2001;55:182-6.
    """
    z = z_value(check_confidence(confidence, "difference_from_intervals"))
    ses = []
    for est, lo, hi in ((a, a_lower, a_upper), (b, b_lower, b_upper)):
        if not lo <= est <= hi or (scale == "ratio" and lo <= 0):
            raise ValueError(BAD_INTERVAL.format(estimate=est, lower=lo, upper=hi))
        ses.append(est * (np.log(hi) - np.log(lo)) / (2 * z) if scale == "ratio" else (hi - lo) / (2 * z))
    d = a - b
    half = z * float(np.hypot(ses[0], ses[1]))
    return d, d - half, d + half
