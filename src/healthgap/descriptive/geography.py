"""Geography: rates by locality and by small area for maps.

:func:`area_rates` gives each small area's crude rate with its interval and
locality, keyed by the column the boundary file uses; :func:`area_statistics`
computes those rates from counts (the ``recompute`` of
:func:`healthgap.disclosure.publish`: from the counts as published, disclosure
rule 8). :func:`locality_rates` gives age-standardised rates by locality
(:func:`healthgap.descriptive.prevalence.rates`) and
two localities are compared with
:func:`healthgap.descriptive.prevalence.dsr_ratio_rows` (their ratio and its
interval from the published counts). :func:`area_isr` gives each area's (GP practice's)
observed and expected events after its age and sex mix (indirect standardisation) and the
dispersion of events per person; :func:`isr_statistics` and :func:`isr_lines` place the
areas on a funnel plot of ratios (exact Poisson limits of the effective counts events / D).
Every function returns exact aggregates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from healthgap.config import Config
from healthgap.contract import CONTRACT
from healthgap.descriptive._common import frame_of, require
from healthgap.descriptive.prevalence import measure_labels, rates
from healthgap.engine import shared

__all__ = [
    "area_rates",
    "area_statistics",
    "locality_rates",
    "boundary_keys",
    "area_isr",
    "published_dispersion",
    "isr_statistics",
    "isr_lines",
    "ISR_LIMITS",
    "ISR_STRATA",
    "LOCALITY_PER",
    "EVENT_PER",
]

#: Shares of people (flags: prevalence) are per this many people (percentages).
LOCALITY_PER = 100
#: Event rates (admissions, deaths: counts of events) are per this many people.
EVENT_PER = 1000
#: The strata of the expected events: age band (ESP2013 five-year bands) and sex when present.
ISR_STRATA = ("age_band", "sex")


def area_statistics(
    counts: pl.DataFrame,
    *,
    measure: str,
    area: str = "lsoa",
    multiplier: float | None = None,
    confidence: float = 0.95,
    flag: bool | None = None,
) -> pl.DataFrame:
    """Crude rate (counts) or percentage (true/false ``measure``) of each area from its counts.

    A simple statistic of the area's counts: pass the counts as published (rule 8),
    e.g. as the ``recompute`` of :func:`healthgap.disclosure.publish`.

    Parameters
    ----------
    counts : ``area``, ``events``, ``population`` and optionally ``locality``, one row per
        area (other columns are ignored).
    measure : the column counted (its type decides rate or percentage).
    area : the area column.
    multiplier : default 100 for percentages, 1,000 for rates.
    confidence : confidence level of the intervals.
    flag : whether ``measure`` is true/false (a percentage); None: from the contract.

    Returns
    -------
    pl.DataFrame
        ``area``, ``events``, ``population``, ``value``, ``lower_ci``, ``upper_ci``,
        ``note``, then ``locality`` when ``counts`` has it.

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    """
    from healthgap.stats import crude_rate, proportion

    is_bool = (
        flag if flag is not None else (CONTRACT[measure].kind == "boolean" if measure in CONTRACT else False)
    )
    if is_bool:
        stat = proportion(
            counts,
            numerator="events",
            denominator="population",
            by=area,
            multiplier=multiplier or 100,
            confidence=confidence,
        )
    else:
        stat = crude_rate(
            counts,
            events="events",
            population="population",
            by=area,
            multiplier=multiplier or 1000,
            confidence=confidence,
        )
    stat = stat.select(area, "events", "population", "value", "lower_ci", "upper_ci", "note")
    if "locality" in counts.columns:
        stat = stat.join(counts.select(area, "locality"), on=area, how="left")
    return stat


@shared
def area_rates(
    people: pl.LazyFrame | pl.DataFrame,
    *,
    measure: str,
    area: str = "lsoa",
    multiplier: float | None = None,
    confidence: float = 0.95,
    flag: bool | None = None,
) -> pl.DataFrame:
    """Crude rate (counts) or percentage (true/false columns) of ``measure`` per area, from exact counts.

    Small areas hold a few hundred to a few thousand people, too few to age
    standardise reliably; the map shows crude rates and the text says so. Publish
    the result with ``recompute=`` :func:`area_statistics` (same arguments), so the
    rates come from the counts as published.

    Returns
    -------
    pl.DataFrame
        ``area`` column, ``events``, ``population``, ``value``, ``lower_ci``,
        ``upper_ci``, ``note`` and ``locality`` (most common locality of the area's
        residents, when the column exists and is not the area column).

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    """
    lf = frame_of(people)
    require(lf, [area, measure], what="area_rates()")
    names = lf.collect_schema().names()
    aggs = [  # people with a missing value are in neither count
        pl.col(measure).cast(pl.Int64).fill_null(0).sum().alias("events"),
        pl.col(measure).is_not_null().sum().cast(pl.Int64).alias("population"),
    ]
    if "locality" in names and area != "locality":
        aggs.append(pl.col("locality").drop_nulls().mode().first().alias("locality"))
    counts = lf.filter(pl.col(area).is_not_null()).group_by(area).agg(aggs).sort(area).collect()
    return area_statistics(
        counts, measure=measure, area=area, multiplier=multiplier, confidence=confidence, flag=flag
    )


@shared
def locality_rates(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measures: Sequence[str],
    confidence: float = 0.95,
    multiplier: float = LOCALITY_PER,
) -> pl.DataFrame:
    """Age-standardised rates of each measure by locality, from exact counts.

    Per ``multiplier`` people: :data:`LOCALITY_PER` (percentages) for shares of people
    (recorded conditions), :data:`EVENT_PER` for event rates (admissions, deaths).

    :func:`~healthgap.descriptive.prevalence.rates` with ``dimensions=["locality"]``
    (exact aggregates, with each DSR's ``variance`` and ``design_effect``) plus
    ``measure_label`` (each measure's label in the config); publish it with ``recompute=partial(recompute_rates,
    multiplier=multiplier)`` (:func:`healthgap.descriptive.prevalence.recompute_rates`).
    """
    out = rates(
        people,
        config,
        measures=measures,
        dimensions=["locality"],
        multiplier=multiplier,
        confidence=confidence,
    )
    if out.is_empty():
        return out
    return out.with_columns(measure_labels(config))


def boundary_keys(path: str | Path, *, key: str = "lsoa") -> list[str]:
    """The area codes in a GeoJSON boundary file (``properties[key]`` of each feature).

    References
    ----------
    .. [1] Butler H et al. (2016). The GeoJSON Format. RFC 7946.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [str(f.get("properties", {}).get(key)) for f in data.get("features", [])]


@shared
def area_isr(
    people: pl.LazyFrame | pl.DataFrame,
    *,
    measure: str,
    area: str = "gp_practice",
) -> tuple[pl.DataFrame, float]:
    """Observed and expected events of ``measure`` in each area, after its age and sex mix.

    Expected events are the area's people in each stratum (:data:`ISR_STRATA`: five-year age
    band, and sex when the data has it) times the stratum's rate in the whole population
    (internal indirect standardisation, :func:`healthgap.stats.isr`): observed and expected
    add up to the same total. People with no area, no age or no value of ``measure`` are left
    out.

    Returns
    -------
    (pl.DataFrame, float)
        One row per area: ``area``, ``events`` (observed, Int64), ``population`` (Int64),
        ``expected`` (Float64), sorted by area (exact aggregates: publish with
        ``recompute=`` :func:`isr_statistics`); and D = Σ k² / Σ k of the events per person
        (:func:`healthgap.stats.event_dispersion`: 1 for a flag), rounded to 2 decimals
        (:func:`published_dispersion`: at full precision it gives the exact total of events).

    References
    ----------
    .. [1] Breslow NE, Day NE. Statistical methods in cancer research, vol II. IARC; 1987.
    .. [2] PHEindicatormethods ``calculate_ISRatio``.
    """
    from healthgap.stats import age_bands, event_dispersion, isr, random_round

    lf = frame_of(people)
    require(lf, [area, measure, "age"], what="area_isr()")
    names = lf.collect_schema().names()
    strata = [s for s in ISR_STRATA if s != "sex" or "sex" in names]
    extra = [pl.col("sex").cast(pl.String)] if "sex" in strata else []
    base = (
        lf.filter(pl.col(area).is_not_null() & pl.col(measure).is_not_null() & (pl.col("age") >= 0))
        .select(
            pl.col(area),
            age_bands("age").cast(pl.String).alias("age_band"),
            *extra,
            pl.col(measure).cast(pl.Int64).alias("events"),
        )
        .collect()
    )
    cells = base.group_by([area, *strata]).agg(
        pl.col("events").sum(), pl.len().cast(pl.Int64).alias("population")
    )
    # the reference: the whole population's stratum rates from randomly rounded stratum events,
    # so the areas' expected counts do not add up to the exact total (stats.protected_rate)
    reference = cells.group_by(strata).agg(pl.col("events").sum(), pl.col("population").sum())
    reference = reference.with_columns(random_round("events", keys=strata).alias("events"))
    ratios = isr(
        cells, events="events", population="population", unit=area, strata=strata, reference=reference
    )
    out = ratios.select(
        area, pl.col("events").cast(pl.Int64), pl.col("population").cast(pl.Int64), "expected"
    ).sort(area)
    return out, published_dispersion(event_dispersion(base, events="events"))


#: D is published to this many decimals (and used so rounded): at full precision it is Σk²/Σk
#: exactly, which any area's interval gives back, and with it the exact total of events.
DISPERSION_DECIMALS = 2


def published_dispersion(dispersion: float) -> float:
    """D rounded to :data:`DISPERSION_DECIMALS` decimals, as every interval and limit uses it.

    Σk²/Σk at full precision can be solved from any interval it widens, and as a ratio of two
    whole numbers it gives the exact total of events; rounded, many totals fit. 1 (independent
    events) stays 1; a D above 1 stays above 1 (at least 1.01), so the events still read as
    repeating.
    """
    if dispersion <= 1:
        return 1.0
    step = 10.0**-DISPERSION_DECIMALS
    return max(round(dispersion, DISPERSION_DECIMALS), 1.0 + step)


def isr_statistics(
    counts: pl.DataFrame, *, area: str = "gp_practice", dispersion: float = 1.0, confidence: float = 0.95
) -> pl.DataFrame:
    """Each area's ratio of observed to expected events, its interval and place on the funnel.

    A simple statistic of the observed count given the expected: pass the counts as
    published (the ``recompute`` of :func:`healthgap.disclosure.publish`).

    Parameters
    ----------
    counts : :func:`area_isr` (``area``, ``events``, ``population``, ``expected``).
    dispersion : D of :func:`area_isr` (1 for independent events).

    Returns
    -------
    pl.DataFrame
        ``area``, ``events``, ``population``, ``expected``, ``value`` (observed / expected),
        ``lower_ci``, ``upper_ci`` (exact below 10 effective events, Byar's from 10),
        ``flag_95``, ``flag_99_8`` ("above", "below", "within" the funnel), ``note``, and the
        funnel's control limits at the area's expected events as given (published: rounded),
        ``lower_95``, ``upper_95``, ``lower_998``, ``upper_998`` (:func:`isr_lines`), so that
        every limit the funnel plot draws is a number of its table and download.
    """
    from healthgap.stats import funnel_flag

    flags = funnel_flag(
        counts.select(area, "events", "expected"),
        numerator="events",
        denominator="expected",
        unit=area,
        kind="ratio",
        confidence=confidence,
        dispersion=dispersion,
    )
    expected = counts.get_column("expected").drop_nulls()
    expected = expected.filter(expected > 0).unique().sort()
    limits = (
        isr_lines(counts, area=area, dispersion=dispersion, at=expected)
        if expected.len()
        else pl.DataFrame(schema={c: pl.Float64 for c in ISR_LIMITS})
    )
    return (
        counts.select(area, "events", "population", "expected")
        .join(
            flags.select(area, "value", "lower_ci", "upper_ci", "flag_95", "flag_99_8", "note"),
            on=area,
            how="left",
        )
        .join(limits, on="expected", how="left", nulls_equal=False)
        .sort(area)
    )


#: The columns of the funnel's control limits (:func:`isr_lines`).
ISR_LIMITS = ("expected", "lower_95", "upper_95", "lower_998", "upper_998")


def isr_lines(
    counts: pl.DataFrame,
    *,
    area: str = "gp_practice",
    dispersion: float = 1.0,
    at: pl.Series | None = None,
) -> pl.DataFrame:
    """The 95% and 99.8% control limits of the ratio around 1, over the areas' expected events
    (Fingertips' grid over their range), or at the expected events ``at`` (e.g. each area's,
    as published).

    Returns
    -------
    pl.DataFrame
        Wide: ``expected``, ``lower_95``, ``upper_95``, ``lower_998``, ``upper_998`` (the
        shape :func:`healthgap.charts.funnel` takes with ``denominator="expected"``).
    """
    from healthgap.stats import funnel_limits

    long = funnel_limits(
        counts.select(area, "events", "expected"),
        numerator="events",
        denominator="expected",
        unit=area,
        kind="ratio",
        target=1.0,
        dispersion=dispersion,
        denominators=None if at is None else at.cast(pl.Float64).to_list(),
    )
    return (
        long.with_columns(
            pl.when(pl.col("confidence") > 0.99).then(pl.lit("998")).otherwise(pl.lit("95")).alias("__lv")
        )
        .pivot(on="__lv", index="denominator", values=["lower_limit", "upper_limit"])
        .rename(
            {
                "denominator": "expected",
                "lower_limit_95": "lower_95",
                "upper_limit_95": "upper_95",
                "lower_limit_998": "lower_998",
                "upper_limit_998": "upper_998",
            }
        )
        .filter(pl.col("expected") > 0)
        .sort("expected")
    )
