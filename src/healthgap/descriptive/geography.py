"""Geography: rates by small area for maps.

:func:`area_rates` gives each small area's crude rate with its interval and
locality, keyed by the column the boundary file uses. Rates by locality, age
standardised, come from :func:`healthgap.descriptive.prevalence.rates` with
``dimensions=["locality"]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.contract import CONTRACT
from healthgap.descriptive._common import frame_of, require
from healthgap.disclosure import published_counts

__all__ = ["area_rates", "boundary_keys"]


def area_rates(
    people: pl.LazyFrame | pl.DataFrame,
    *,
    measure: str,
    area: str = "lsoa",
    multiplier: float | None = None,
    confidence: float = 0.95,
    disclosure: DisclosureSettings | None = None,
) -> pl.DataFrame:
    """Crude rate (counts) or percentage (true/false columns) of ``measure`` per area.

    Rates are computed from the counts as they will be published (``disclosure``, default:
    suppress 1-7, round to 5; see :func:`healthgap.disclosure.published_counts`).

    Small areas hold a few hundred to a few thousand people, too few to age
    standardise reliably; the map shows crude rates and the text says so.

    Returns
    -------
    pl.DataFrame
        ``area`` column, ``locality`` (most common locality of the area's
        residents, when the column exists), ``events``, ``population``,
        ``value``, ``lower_ci``, ``upper_ci``, ``note``.

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    """
    from healthgap.stats import crude_rate, proportion

    lf = frame_of(people)
    require(lf, [area, measure], what="area_rates()")
    names = lf.collect_schema().names()
    is_bool = CONTRACT[measure].kind == "boolean" if measure in CONTRACT else False
    aggs = [
        pl.col(measure).cast(pl.Int64).fill_null(0).sum().alias("events"),
        pl.len().cast(pl.Int64).alias("population"),
    ]
    if "locality" in names and area != "locality":
        aggs.append(pl.col("locality").drop_nulls().mode().first().alias("locality"))
    counts = lf.filter(pl.col(area).is_not_null()).group_by(area).agg(aggs).sort(area).collect()
    counts = published_counts(counts, ["events", "population"], settings=disclosure)
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


def boundary_keys(path: str | Path, *, key: str = "lsoa") -> list[str]:
    """The area codes in a GeoJSON boundary file (``properties[key]`` of each feature).

    References
    ----------
    .. [1] Butler H et al. (2016). The GeoJSON Format. RFC 7946.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [str(f.get("properties", {}).get(key)) for f in data.get("features", [])]
