"""Concentration index of a health outcome across ordered socioeconomic groups.

References
----------
.. [1] Kakwani N, Wagstaff A, van Doorslaer E. Socioeconomic inequalities in health:
   measurement, computation, and statistical inference. J Econometrics 1997;77:87-103.
.. [2] O'Donnell O, van Doorslaer E, Wagstaff A, Lindelow M. Analyzing health equity
   using household survey data. Washington DC: World Bank; 2008, chapter 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from ._common import Frame, by_list, check_confidence, over, z_value
from ._levels import MIN_LEVELS, NOTE_FEW_LEVELS, RANK, Disadvantaged, rank_levels
from .rates import aggregate

__all__ = ["concentration_index", "BAD_OUTCOME", "NOTE_NO_EVENTS", "NOTE_EXCESS", "NOTE_FEW_LEVELS"]

Outcome = Literal["binary", "count"]
BAD_OUTCOME = "concentration_index(): outcome must be 'binary' or 'count', got {value!r}."
NOTE_NO_EVENTS = "no events, or a quantile with zero population"
METHOD = "Grouped-data formula; Kakwani, Wagstaff & van Doorslaer (1997) standard error"
NOTE_EXCESS = "events exceed population in a quantile, impossible for a binary outcome"


def concentration_index(
    df: Frame,
    *,
    quantile: str,
    events: str,
    population: str,
    by: str | Sequence[str] | None = None,
    outcome: Outcome = "binary",
    confidence: float = 0.95,
    order: Sequence[object] | None = None,
    disadvantaged: Disadvantaged = "first",
) -> pl.DataFrame:
    """Concentration index from grouped data with the Kakwani et al. (1997) standard error.

    Any ordered dimension with 3 or more levels. The levels are ranked from the most
    disadvantaged to the least (by default in ascending order of ``quantile``, 1 = most
    deprived first), so a negative index means the outcome is concentrated among the more
    disadvantaged, for every dimension and whichever end of it is disadvantaged.

    Parameters
    ----------
    df : rows of counts per group x level (summed if a level appears twice).
    quantile : the ordered dimension: numeric, boolean or ``Enum`` in its own order, or
        any column with ``order`` given (e.g. 1 = most deprived). Rows with a null level
        are left out.
    events : number of people with the outcome (or number of events for ``"count"``).
    population : people in the quantile.
    by : group column(s): one index per group.
    outcome : "binary" (within-quantile variance μ(1-μ)) or "count" (Poisson, μ).
    confidence : two-sided confidence level of the normal-approximation CI.
    order : the levels from first to last when the column's own order is not the right
        one (e.g. education as text); every non-null level must be listed.
    disadvantaged : "first" (default; the first level in order is the most
        disadvantaged) or "last".

    Returns
    -------
    pl.DataFrame
        One row per group: ``by``, total ``events`` and ``population``, ``value``,
        ``lower_ci``, ``upper_ci``, ``standard_error``, ``most_disadvantaged``,
        ``least_disadvantaged`` (the levels at the two ends, as text), ``confidence``,
        ``statistic``, ``method``, ``note`` (fewer than 3 levels in the data: every group
        gets :data:`~healthgap.stats._levels.NOTE_FEW_LEVELS` and no value).

    Notes
    -----
    With population shares f_t, means μ_t, overall mean μ, fractional ranks
    R_t = Σ_{s<t} f_s + f_t/2 and Lorenz ordinates q_t = Σ_{s≤t} f_s μ_s / μ (q_0 = 0):
    C = (2/μ) Σ f_t μ_t R_t - 1 and

    var(C) = [Σ f_t a_t² - (1 + C)²] / n + Σ f_t σ_t² (2R_t - 1 - C)² / (n μ²),

    a_t = (μ_t/μ)(2R_t - 1 - C) + 2 - q_{t-1} - q_t, n the total population. C equals the
    "convenient covariance" 2 cov(y, R)/μ on person-level data with tied ranks.

    References
    ----------
    .. [1] Kakwani N, Wagstaff A, van Doorslaer E. J Econometrics 1997;77:87-103.
    .. [2] O'Donnell O et al. Analyzing health equity using household survey data. 2008.
    """
    func = "concentration_index"
    if outcome not in ("binary", "count"):
        raise ValueError(BAD_OUTCOME.format(value=outcome))
    confidence = check_confidence(confidence, func)
    groups = by_list(by)
    cells = aggregate(df, counts=[events, population], by=[*groups, quantile], func=func)
    cells, k, most, least = rank_levels(
        cells, column=quantile, order=order, disadvantaged=disadvantaged, func=func
    )
    n_t = pl.col(population).cast(pl.Float64)
    mu_t = pl.col(events).cast(pl.Float64) / n_t
    f = n_t / over(n_t.sum(), groups)
    cells = (
        cells.sort([*groups, RANK])
        .with_columns(f.alias("__f"), mu_t.alias("__mu_t"))
        .with_columns(
            over((pl.col("__f") * pl.col("__mu_t")).sum(), groups).alias("__mu"),
            (over(pl.col("__f").cum_sum(), groups) - pl.col("__f") / 2).alias("__R"),
        )
        .with_columns(
            (over((pl.col("__f") * pl.col("__mu_t")).cum_sum(), groups) / pl.col("__mu")).alias("__q")
        )
        .with_columns(over(pl.col("__q").shift(1, fill_value=0.0), groups).alias("__q0"))
    )
    sigma2 = pl.col("__mu_t") * (1 - pl.col("__mu_t")) if outcome == "binary" else pl.col("__mu_t")
    weighted = over((pl.col("__f") * pl.col("__mu_t") * pl.col("__R")).sum(), groups)
    c = 2 / pl.col("__mu") * weighted - 1
    cells = cells.with_columns(c.alias("__C")).with_columns(
        (
            pl.col("__mu_t") / pl.col("__mu") * (2 * pl.col("__R") - 1 - pl.col("__C"))
            + 2
            - pl.col("__q0")
            - pl.col("__q")
        ).alias("__a"),
        sigma2.alias("__s2"),
    )
    n = pl.col(population).sum()
    first = lambda name: pl.col(name).first()  # noqa: E731
    aggs = [
        pl.col(events).sum(),
        pl.col(population).sum(),
        first("__C").alias("value"),
        (
            ((pl.col("__f") * pl.col("__a") ** 2).sum() - (1 + first("__C")) ** 2) / n
            + (pl.col("__f") * pl.col("__s2") * (2 * pl.col("__R") - 1 - first("__C")) ** 2).sum()
            / (n * first("__mu") ** 2)
        ).alias("__var"),
        (pl.col(population) == 0).any().alias("__empty"),
        (pl.col(events) > pl.col(population)).any().alias("__excess"),
    ]
    out = cells.group_by(groups).agg(aggs) if groups else cells.select(aggs)
    bad = (pl.col(events) == 0) | pl.col("__empty")
    excess = pl.col("__excess") & pl.lit(outcome == "binary")
    se = pl.col("__var").clip(lower_bound=0).sqrt()
    z = z_value(confidence)
    out = out.with_columns(
        pl.when(pl.lit(k < MIN_LEVELS))
        .then(pl.lit(NOTE_FEW_LEVELS))
        .when(bad)
        .then(pl.lit(NOTE_NO_EVENTS))
        .when(excess)
        .then(pl.lit(NOTE_EXCESS))
        .alias("note")
    ).with_columns(
        pl.when(pl.col("note").is_null()).then(pl.col("value")).alias("value"),
        pl.when(pl.col("note").is_null()).then(pl.col("value") - z * se).alias("lower_ci"),
        pl.when(pl.col("note").is_null()).then(pl.col("value") + z * se).alias("upper_ci"),
        pl.when(pl.col("note").is_null()).then(se).alias("standard_error"),
        pl.lit(most, dtype=pl.String).alias("most_disadvantaged"),
        pl.lit(least, dtype=pl.String).alias("least_disadvantaged"),
        pl.lit(confidence).alias("confidence"),
        pl.lit("Concentration index").alias("statistic"),
        pl.lit(METHOD).alias("method"),
    )
    out = out.select(
        *groups,
        events,
        population,
        "value",
        "lower_ci",
        "upper_ci",
        "standard_error",
        "most_disadvantaged",
        "least_disadvantaged",
        "confidence",
        "statistic",
        "method",
        "note",
    )
    return out.sort(groups, nulls_last=True) if groups else out
