"""Outcomes: emergency CVD admissions and CVD deaths, and variation between GP practices.

:func:`outcome_rates` gives age-standardised rates per 1,000 people by each
equity dimension (via :func:`healthgap.descriptive.prevalence.rates`);
:func:`practice_funnel` compares GP practices with the overall rate on a
funnel plot (:func:`healthgap.stats.funnel_flag` and
:func:`healthgap.stats.funnel_limits`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from healthgap.config import Config, DisclosureSettings
from healthgap.contract import CONDITION_LABELS, CONTRACT
from healthgap.descriptive._common import frame_of, require
from healthgap.descriptive.prevalence import rates
from healthgap.disclosure import published_counts

__all__ = ["outcome_rates", "practice_funnel", "OUTCOME_LABELS", "PER"]

#: Outcome rates are per this many people per year.
PER = 1000
OUTCOME_LABELS = {
    "cvd_admissions": "Emergency CVD admissions",
    "cvd_death": "CVD deaths",
}


def outcome_rates(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    outcomes: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Age-standardised rates per 1,000 people of each outcome by each dimension.

    Admissions are counted as events (a person with two admissions counts
    twice); deaths once. Returns the :func:`~healthgap.descriptive.prevalence.rates`
    table plus ``measure_label``.

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    .. [2] Dobson AJ et al. (1991). Stat Med 10:457-462.
    """
    lf = frame_of(people)
    present = lf.collect_schema().names()
    chosen = [o for o in (outcomes or config.outcomes) if o in present]
    if not chosen:
        return pl.DataFrame()
    out = rates(lf, config, measures=chosen, dimensions=dimensions, multiplier=PER, confidence=confidence)
    return out.with_columns(
        pl.col("measure").replace_strict(OUTCOME_LABELS, default=pl.col("measure")).alias("measure_label")
    )


def practice_funnel(
    people: pl.LazyFrame | pl.DataFrame,
    *,
    measure: str,
    kind: Literal["rate", "proportion"] | None = None,
    multiplier: float | None = None,
    unit: str = "gp_practice",
    disclosure: DisclosureSettings | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each GP practice's crude rate or percentage against funnel-plot control limits.

    Each practice's rate and flag come from its counts as they will be published
    (``disclosure``, default: suppress 1-7, round to 5; see
    :func:`healthgap.disclosure.published_counts`), and the baseline (the overall rate) from the
    published overall totals.

    Parameters
    ----------
    people : the canonical person table.
    measure : a count column (rate, e.g. ``cvd_admissions``) or a true/false
        column (percentage, e.g. ``hypertension``).
    kind : "rate" or "proportion"; default from the column's type.
    multiplier : default 1,000 for rates, 100 for proportions.
    unit : the column identifying practices.

    Returns
    -------
    (points, limits)
        ``points``: one row per practice with ``unit``, ``events``, ``population``,
        ``value``, ``lower_ci``, ``upper_ci``, ``baseline``, ``lower_limit_95``,
        ``upper_limit_95``, ``flag_95``, ``lower_limit_99_8``, ``upper_limit_99_8``,
        ``flag_99_8``. ``limits``: the control limits over a grid of list sizes, wide:
        ``registered``, ``baseline``, ``lower_95``, ``upper_95``, ``lower_998``, ``upper_998``
        (the shape :func:`healthgap.charts.funnel` takes, with ``denominator="registered"``).

    References
    ----------
    .. [1] Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance.
       Stat Med 24:1185-1202.
    .. [2] PHEindicatormethods ``calculate_funnel_limits``.
    """
    from healthgap.stats import funnel_flag, funnel_limits

    lf = frame_of(people)
    require(lf, [unit, measure], what="practice_funnel()")
    if kind is None:
        kind = "proportion" if CONTRACT[measure].kind == "boolean" else "rate"
    mult = multiplier or (100 if kind == "proportion" else PER)
    counts = (
        lf.filter(pl.col(unit).is_not_null())
        .group_by(unit)
        .agg(
            pl.col(measure).cast(pl.Int64).fill_null(0).sum().alias("events"),
            pl.len().cast(pl.Int64).alias("population"),
        )
        .sort(unit)
        .collect()
    )
    # the baseline (overall rate) from the overall totals as published: from the exact totals it
    # would give the exact number of events in the whole population back
    totals = published_counts(
        counts.select(pl.col("events", "population").sum()), ["events", "population"], settings=disclosure
    ).row(0)
    target = totals[0] / max(totals[1], 1)
    published = published_counts(counts, ["events", "population"], settings=disclosure)
    points = funnel_flag(
        published,
        numerator="events",
        denominator="population",
        unit=unit,
        kind=kind,
        target=target,
        multiplier=mult,
    )
    long = funnel_limits(
        counts,
        numerator="events",
        denominator="population",
        unit=unit,
        kind=kind,
        target=target,
        multiplier=mult,
    )
    limits = (
        long.with_columns(
            pl.when(pl.col("confidence") > 0.99).then(pl.lit("998")).otherwise(pl.lit("95")).alias("__lv")
        )
        .pivot(on="__lv", index=["denominator", "baseline"], values=["lower_limit", "upper_limit"])
        .rename(
            {
                "denominator": "registered",
                "lower_limit_95": "lower_95",
                "upper_limit_95": "upper_95",
                "lower_limit_998": "lower_998",
                "upper_limit_998": "upper_998",
            }
        )
        .filter(pl.col("registered") > 0)
        .sort("registered")
    )
    label = CONDITION_LABELS.get(measure) or OUTCOME_LABELS.get(measure, measure)
    return points.with_columns(pl.lit(label).alias("measure_label")), limits
