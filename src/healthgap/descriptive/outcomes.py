"""Outcomes: emergency CVD admissions and CVD deaths by equity dimension.

:func:`outcome_rates` gives age-standardised rates per 1,000 people by each
equity dimension (via :func:`healthgap.descriptive.prevalence.rates`). GP practices
and areas are compared after their age and sex mix (indirectly standardised ratios)
by :func:`healthgap.descriptive.geography.area_isr`, not here.

Every function returns *exact* aggregates. The simple statistics computed from
counts (crude rates, the limits of a DSR: disclosure rule 8) are recomputed from
the counts as published by the page that publishes the frame, with
:func:`healthgap.descriptive.prevalence.recompute_rates` as the ``recompute`` of
:func:`healthgap.disclosure.publish`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import polars as pl

from healthgap.config import Config
from healthgap.descriptive._common import frame_of
from healthgap.descriptive.prevalence import rates
from healthgap.engine import shared

__all__ = [
    "outcome_rates",
    "covered_bands",
    "ages_of",
    "OUTCOME_LABELS",
    "PER",
]

#: Outcome rates are per this many people per year.
PER = 1000
OUTCOME_LABELS = {
    "cvd_admissions": "Emergency CVD admissions",
    "cvd_death": "CVD deaths",
}


@shared
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


@shared
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
