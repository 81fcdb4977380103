"""Outcomes: emergency CVD admissions and CVD deaths, and variation between GP practices.

:func:`outcome_rates` gives age-standardised rates per 1,000 people by each
equity dimension (via :func:`healthgap.descriptive.prevalence.rates`);
:func:`practice_counts`, :func:`funnel_points` and :func:`funnel_lines` compare
GP practices with the overall rate on a funnel plot
(:func:`healthgap.stats.funnel_flag` and :func:`healthgap.stats.funnel_limits`).

Every function returns *exact* aggregates. The simple statistics computed from
counts (crude rates, a practice's rate and funnel position, the limits of a
DSR: disclosure rule 8) are recomputed from the counts as published by the
page that publishes the frame, with
:func:`healthgap.descriptive.prevalence.recompute_rates` and
:func:`funnel_points` as the ``recompute`` of
:func:`healthgap.disclosure.publish`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import polars as pl

from healthgap.config import Config
from healthgap.contract import CONDITION_LABELS, CONTRACT
from healthgap.descriptive._common import frame_of, require
from healthgap.descriptive.prevalence import rates

__all__ = [
    "outcome_rates",
    "covered_bands",
    "ages_of",
    "practice_counts",
    "funnel_kind",
    "funnel_points",
    "funnel_lines",
    "practice_funnel",
    "OUTCOME_LABELS",
    "PER",
    "FUNNEL_DROP",
]

#: Outcome rates are per this many people per year.
PER = 1000
OUTCOME_LABELS = {
    "cvd_admissions": "Emergency CVD admissions",
    "cvd_death": "CVD deaths",
}
#: Columns of :func:`healthgap.stats.funnel_flag` that a funnel's points do not carry.
FUNNEL_DROP = ("statistic", "method", "confidence")


def covered_bands(people: pl.LazyFrame | pl.DataFrame) -> list[str]:
    """The ESP2013 age bands with at least one person in ``people``, youngest first."""
    from healthgap.stats import AGE_BAND_LABELS, age_bands

    present = set(
        frame_of(people)
        .select(age_bands("age").cast(pl.String).alias("band"))
        .drop_nulls()
        .unique()
        .collect()
        .get_column("band")
        .to_list()
    )
    return [b for b in AGE_BAND_LABELS if b in present]


def ages_of(bands: Sequence[str]) -> str:
    """The ages a run of bands covers: ``["30-34", ..., "70-74"]`` -> ``"30-74"``; ``"85-89", "90+"`` -> ``"85 and over"``."""
    if not bands:
        return ""
    low = bands[0].split("-")[0].rstrip("+")
    last = bands[-1]
    if last.endswith("+"):
        return f"{low} and over"
    return f"{low}-{last.split('-')[1]}"


def outcome_rates(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    outcomes: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    multiplier: float = PER,
    bands: Literal["covered"] | None = "covered",
    confidence: float = 0.95,
    ages: Mapping[str, tuple[int, int]] | None = None,
) -> pl.DataFrame:
    """Age-standardised rates of each outcome by each dimension, from exact counts.

    Count outcomes (admissions) are counted as events (a person with two counts twice);
    flag outcomes once per person. Each outcome's rates are among the people with a
    recorded value of it. With ``bands="covered"`` (the default) the standard population is
    restricted to the age bands the data cover (:func:`covered_bands`), so a cohort of
    people aged 32-70 is not standardised over ages it does not have; ``None`` uses all 19
    bands. ``ages`` gives, for an outcome that applies only to some ages (a premature death
    is one under 75: false for everyone older), the ages it applies to (inclusive): its rates
    are per person of those ages, standardised over their bands. Returns the
    :func:`~healthgap.descriptive.prevalence.rates` table (exact
    aggregates, with each DSR's ``variance``) plus ``measure_label`` (the measure's label);
    publish it with ``recompute=partial(recompute_rates, multiplier=multiplier)``
    (:func:`healthgap.descriptive.prevalence.recompute_rates`).

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    .. [2] Dobson AJ et al. (1991). Stat Med 10:457-462.
    .. [3] Public Health England (2008). Technical Guide: Direct standardisation (the
       standard restricted to the ages of the indicator).
    """
    from healthgap.stats import AGE_BAND_LABELS

    lf = frame_of(people)
    present = lf.collect_schema().names()
    chosen = [o for o in (outcomes or config.outcomes) if o in present]
    if not chosen:
        return pl.DataFrame()
    frames = []
    for name in chosen:
        recorded = lf.filter(pl.col(name).is_not_null())
        if ages and name in ages:
            low, high = ages[name]
            recorded = recorded.filter(pl.col("age").is_between(low, high))
        used = covered_bands(recorded) if bands == "covered" else list(AGE_BAND_LABELS)
        if not used:
            continue
        out = rates(
            recorded,
            config,
            measures=[name],
            dimensions=dimensions,
            multiplier=multiplier,
            confidence=confidence,
            bands=used,
        )
        if not out.is_empty():
            frames.append(out)
    if not frames:
        return pl.DataFrame()
    out = pl.concat(frames, how="vertical_relaxed")
    dims = {d: i for i, d in enumerate(out.get_column("dimension").unique(maintain_order=True).to_list())}
    measures = {m: i for i, m in enumerate(chosen)}
    out = out.sort(
        pl.col("dimension").replace_strict(dims, return_dtype=pl.Int64),
        pl.col("measure").replace_strict(measures, return_dtype=pl.Int64),
        "order",
        maintain_order=True,
    )
    labels = {m.name: m.label for m in config.measures}
    return out.with_columns(
        pl.col("measure")
        .replace_strict({**OUTCOME_LABELS, **labels}, default=pl.col("measure"))
        .alias("measure_label")
    )


def practice_counts(
    people: pl.LazyFrame | pl.DataFrame, *, measure: str, unit: str = "gp_practice"
) -> pl.DataFrame:
    """Exact ``events`` (sum of ``measure``) and ``population`` (people) of each practice.

    Returns
    -------
    pl.DataFrame
        ``unit``, ``events``, ``population`` (Int64), one row per practice, sorted by
        ``unit``; people with no practice are left out.
    """
    lf = frame_of(people)
    require(lf, [unit, measure], what="practice_counts()")
    return (
        lf.filter(pl.col(unit).is_not_null())
        .group_by(unit)
        .agg(
            pl.col(measure).cast(pl.Int64).fill_null(0).sum().alias("events"),
            pl.len().cast(pl.Int64).alias("population"),
        )
        .sort(unit)
        .collect()
    )


def funnel_kind(measure: str, config: Config | None = None) -> tuple[Literal["rate", "proportion"], float]:
    """A funnel of ``measure``: ("proportion", 100) for a flag, else ("rate", :data:`PER`).

    The type comes from the config's measure when ``config`` declares it, else from the
    cardiovascular profile's contract.
    """
    declared = {m.name: m.type for m in config.measures} if config is not None else {}
    if measure in declared:
        return ("proportion", 100) if declared[measure] == "flag" else ("rate", PER)
    if CONTRACT[measure].kind == "boolean":
        return "proportion", 100
    return "rate", PER


def funnel_points(
    counts: pl.DataFrame,
    *,
    target: float,
    kind: Literal["rate", "proportion"],
    multiplier: float,
    unit: str = "gp_practice",
) -> pl.DataFrame:
    """Each practice's crude rate (or percentage), interval and position against the funnel.

    A simple statistic of the practice's counts: pass the counts as published
    (rule 8), e.g. as the ``recompute`` of :func:`healthgap.disclosure.publish`.

    Parameters
    ----------
    counts : :func:`practice_counts` (other columns are ignored).
    target : the overall rate per person (or proportion, 0-1), from the overall
        totals as published: from the exact totals it gives the exact number of
        events in the whole population back.
    kind, multiplier : see :func:`funnel_kind`.
    unit : the column identifying practices.

    Returns
    -------
    pl.DataFrame
        ``unit``, ``events``, ``population``, ``value``, ``lower_ci``, ``upper_ci``,
        ``baseline``, ``lower_limit_95``, ``upper_limit_95``, ``flag_95``,
        ``lower_limit_99_8``, ``upper_limit_99_8``, ``flag_99_8``, ``note``.

    References
    ----------
    .. [1] Spiegelhalter DJ (2005). Funnel plots for comparing institutional performance.
       Stat Med 24:1185-1202.
    .. [2] PHEindicatormethods ``assign_funnel_significance``.
    """
    from healthgap.stats import funnel_flag

    points = funnel_flag(
        counts.select(unit, "events", "population"),
        numerator="events",
        denominator="population",
        unit=unit,
        kind=kind,
        target=target,
        multiplier=multiplier,
    )
    return points.drop(FUNNEL_DROP)


def funnel_lines(
    counts: pl.DataFrame,
    *,
    target: float,
    kind: Literal["rate", "proportion"],
    multiplier: float,
    unit: str = "gp_practice",
) -> pl.DataFrame:
    """The 95% and 99.8% control limits over a grid of list sizes around ``target``.

    Returns
    -------
    pl.DataFrame
        Wide: ``registered``, ``baseline``, ``lower_95``, ``upper_95``, ``lower_998``,
        ``upper_998`` (the shape :func:`healthgap.charts.funnel` takes, with
        ``denominator="registered"``). The grid spans the practices' list sizes
        (rounded outwards by :func:`healthgap.stats.funnel.funnel_axis`).

    References
    ----------
    .. [1] PHEindicatormethods ``calculate_funnel_limits``.
    """
    from healthgap.stats import funnel_limits

    long = funnel_limits(
        counts.select(unit, "events", "population"),
        numerator="events",
        denominator="population",
        unit=unit,
        kind=kind,
        target=target,
        multiplier=multiplier,
    )
    return (
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


def practice_funnel(
    people: pl.LazyFrame | pl.DataFrame,
    *,
    measure: str,
    kind: Literal["rate", "proportion"] | None = None,
    multiplier: float | None = None,
    unit: str = "gp_practice",
    target: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each GP practice's crude rate or percentage against funnel-plot control limits, from exact counts.

    :func:`practice_counts`, :func:`funnel_points` and :func:`funnel_lines` in one call,
    for analysis outside the book. A page publishes :func:`practice_counts` instead, with
    :func:`funnel_points` as its ``recompute`` and the target from the published totals.

    Parameters
    ----------
    people : the canonical person table.
    measure : a count column (rate, e.g. ``cvd_admissions``) or a true/false
        column (percentage, e.g. ``hypertension``).
    kind : "rate" or "proportion"; default from the column's type.
    multiplier : default 1,000 for rates, 100 for proportions.
    unit : the column identifying practices.
    target : the overall rate per person (proportion 0-1); default the exact overall rate.

    Returns
    -------
    (points, limits)
        ``points``: :func:`funnel_points` plus ``measure_label``; ``limits``: :func:`funnel_lines`.

    References
    ----------
    .. [1] Spiegelhalter DJ (2005). Stat Med 24:1185-1202.
    .. [2] PHEindicatormethods ``calculate_funnel_limits``.
    """
    kind = kind or funnel_kind(measure)[0]
    mult = multiplier or (100 if kind == "proportion" else PER)
    counts = practice_counts(people, measure=measure, unit=unit)
    if target is None:
        events, population = counts.select(pl.col("events", "population").sum()).row(0)
        target = events / max(population, 1)
    points = funnel_points(counts, target=target, kind=kind, multiplier=mult, unit=unit)
    limits = funnel_lines(counts, target=target, kind=kind, multiplier=mult, unit=unit)
    label = CONDITION_LABELS.get(measure) or OUTCOME_LABELS.get(measure, measure)
    return points.with_columns(pl.lit(label).alias("measure_label")), limits
