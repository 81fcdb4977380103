"""Who is in the data, and how complete the data are.

Counts of people by age band and sex (for the pyramid) and by each equity
dimension; completeness of every contract column; and the share of people
whose ethnicity is not recorded, by group - missing ethnicity is itself an
inequality, because it hides who is affected.

Every function returns *exact* aggregates. The shares in them are simple
statistics of the counts, so a page publishes each frame with
:func:`healthgap.disclosure.publish` and passes the matching ``*_shares``
function as ``recompute``: the share is then computed again from the counts as
they will be published (disclosure rule 8), not from the exact ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from healthgap.config import AGE_BANDS, Config
from healthgap.contract import CONTRACT, TRUTH_PREFIX, Column
from healthgap.descriptive._common import LEVEL, dimensions_in, frame_of, label_levels, level_expr
from healthgap.engine import shared

__all__ = [
    "pyramid",
    "pyramid_shares",
    "composition",
    "composition_shares",
    "completeness",
    "completeness_shares",
    "not_stated",
    "not_stated_shares",
    "PROPORTION_COLUMNS",
    "summary",
    "NOT_STATED",
]

#: The ethnicity the loader gives a person with none recorded.
NOT_STATED = "Not stated"


def pyramid_shares(counts: pl.DataFrame) -> pl.DataFrame:
    """``share``: each row's ``people`` as a percentage of all the rows' (0 when there are none).

    Parameters
    ----------
    counts : a frame with a ``people`` count column (e.g. :func:`pyramid`).
    """
    total = max(counts.get_column("people").sum(), 1)
    return counts.with_columns((100 * pl.col("people") / total).alias("share"))


@shared
def pyramid(people: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """People by ESP2013 age band and sex, for an age-sex pyramid (exact counts).

    Returns
    -------
    pl.DataFrame
        ``age_band``, ``sex``, ``people``, ``share`` (of everyone, in %, from
        :func:`pyramid_shares`), ``band_order``; every band x sex combination
        appears (zero when empty), bands youngest first.

    References
    ----------
    .. [1] Office for National Statistics, population pyramids (age-sex structure).
    """
    lf = frame_of(people)
    counts = (
        lf.group_by(level_expr("age_band").alias("age_band"), pl.col("sex"))
        .agg(pl.len().cast(pl.Int64).alias("people"))
        .collect()
    )
    sexes = sorted(counts.get_column("sex").drop_nulls().unique().to_list())
    grid = pl.DataFrame({"age_band": list(AGE_BANDS)}).join(
        pl.DataFrame({"sex": sexes}, schema={"sex": pl.String}), how="cross"
    )
    return (
        grid.join(counts, on=["age_band", "sex"], how="left")
        .with_columns(pl.col("people").fill_null(0))
        .pipe(pyramid_shares)
        .with_columns(
            pl.col("age_band")
            .replace_strict({b: i for i, b in enumerate(AGE_BANDS)}, return_dtype=pl.Int64)
            .alias("band_order")
        )
        .sort("band_order", "sex")
    )


def composition_shares(counts: pl.DataFrame) -> pl.DataFrame:
    """``total`` (people in the dimension) and ``share`` (% of it) from each row's ``people``.

    Parameters
    ----------
    counts : a frame with ``dimension`` and ``people`` columns (e.g. :func:`composition`).
    """
    return counts.with_columns(pl.col("people").sum().over("dimension").alias("total")).with_columns(
        (100 * pl.col("people") / pl.col("total")).alias("share")
    )


@shared
def composition(
    people: pl.LazyFrame | pl.DataFrame, config: Config, *, dimensions: Sequence[str] | None = None
) -> pl.DataFrame:
    """Number and share of people in each level of each equity dimension (exact counts).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ``order``, ``is_reference``,
        ``people``, ``total``, ``share`` (% of the dimension's total, from
        :func:`composition_shares`), long over dimensions in config order.

    References
    ----------
    .. [1] Office for National Statistics (2021), Census 2021 ethnic group classification.
    """
    lf = frame_of(people)
    frames = [
        label_levels(
            lf.group_by(level_expr(dim.name).alias(LEVEL))
            .agg(pl.len().cast(pl.Int64).alias("people"))
            .collect(),
            dim,
        )
        for dim in dimensions_in(config, lf, names=dimensions)
    ]
    if not frames:
        return pl.DataFrame()
    return composition_shares(pl.concat(frames, how="vertical_relaxed"))


def completeness_shares(counts: pl.DataFrame) -> pl.DataFrame:
    """``complete``: ``recorded`` as a percentage of ``people``, row by row."""
    return counts.with_columns((100 * pl.col("recorded") / pl.col("people")).alias("complete"))


@shared
def completeness(
    people: pl.LazyFrame | pl.DataFrame, *, columns: Mapping[str, Column] | None = None
) -> pl.DataFrame:
    """Completeness of every contract column present in the dataset (exact counts).

    A value is *missing* when it is null; for ethnicity "Not stated" also
    counts as missing (the loader turns an empty ethnicity into it).

    Parameters
    ----------
    people : the canonical person table.
    columns : the columns to look at, in order (``config.contract``: the core columns, the
        config's dimensions and measures); default :data:`~healthgap.contract.CONTRACT`.

    Returns
    -------
    pl.DataFrame
        ``column``, ``label``, ``group``, ``people``, ``missing``, ``recorded``,
        ``complete`` (% recorded, from :func:`completeness_shares`), in contract
        order; truth columns excluded.

    References
    ----------
    .. [1] NHS Digital, Data Quality Maturity Index methodology (completeness = valid, non-missing).
    """
    lf = frame_of(people)
    contract = CONTRACT if columns is None else columns
    present = set(lf.collect_schema().names())
    names = [c for c in contract if c in present and not c.startswith(TRUTH_PREFIX) and c != "person_id"]
    missing = [
        (pl.col(c).is_null() | ((pl.col(c) == NOT_STATED) if c == "ethnicity" else pl.lit(False)))
        .sum()
        .cast(pl.Int64)
        .alias(c)
        for c in names
    ]
    row = lf.select(pl.len().cast(pl.Int64).alias("__n"), *missing).collect()
    n = row.get_column("__n").item()
    return (
        pl.DataFrame(
            {
                "column": names,
                "label": [contract[c].label for c in names],
                "group": [contract[c].group for c in names],
                "missing": [row.get_column(c).item() for c in names],
            },
            schema={"column": pl.String, "label": pl.String, "group": pl.String, "missing": pl.Int64},
        )
        .with_columns(pl.lit(n, dtype=pl.Int64).alias("people"))
        .with_columns((pl.col("people") - pl.col("missing")).alias("recorded"))
        .pipe(completeness_shares)
        .select("column", "label", "group", "people", "missing", "recorded", "complete")
    )


#: The columns of :func:`healthgap.stats.proportion` after the counts.
PROPORTION_COLUMNS = ("value", "lower_ci", "upper_ci", "confidence", "statistic", "method", "note")


def not_stated_shares(
    counts: pl.DataFrame,
    *,
    confidence: float = 0.95,
    columns: Sequence[str] = ("value", "lower_ci", "upper_ci"),
) -> pl.DataFrame:
    """``value`` (% not stated) and its Wilson interval from each row's ``not_stated`` and ``people``.

    Parameters
    ----------
    counts : a frame with ``not_stated`` and ``people`` count columns, one row per group.
    confidence : confidence level of the interval.
    columns : which of :data:`PROPORTION_COLUMNS` to write (replaced in place when
        ``counts`` has them, else added in this order); the rows and the other
        columns are kept.

    References
    ----------
    .. [1] Wilson EB (1927). Probable inference, the law of succession, and statistical
       inference. J Am Stat Assoc 22:209-212.
    """
    from healthgap.stats import proportion

    stat = proportion(
        counts.with_row_index("__row"),
        numerator="not_stated",
        denominator="people",
        by="__row",
        multiplier=100,
        confidence=confidence,
    )
    return counts.with_columns(stat.select(columns))


@shared
def not_stated(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    dimensions: Sequence[str] = ("imd_quintile", "age_band", "sex", "locality"),
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share of people whose ethnicity is "Not stated", by level of each dimension (exact counts).

    Returns
    -------
    pl.DataFrame
        The dimension columns, ``not_stated`` and ``people`` (counts), then the
        Wilson score interval of the proportion (``value`` in %) with the other
        :data:`PROPORTION_COLUMNS` of :func:`healthgap.stats.proportion`
        (:func:`not_stated_shares`).

    References
    ----------
    .. [1] Wilson EB (1927). Probable inference, the law of succession, and statistical
       inference. J Am Stat Assoc 22:209-212.
    """
    lf = frame_of(people)
    wanted = [d for d in dimensions if d != "ethnicity"]
    present = [d.name for d in dimensions_in(config, lf)]
    frames = [
        label_levels(
            lf.group_by(level_expr(dim.name).alias(LEVEL))
            .agg(
                (pl.col("ethnicity") == NOT_STATED).sum().cast(pl.Int64).alias("not_stated"),
                pl.len().cast(pl.Int64).alias("people"),
            )
            .collect(),
            dim,
        )
        for dim in dimensions_in(config, lf, names=[d for d in wanted if d in present])
    ]
    if not frames:
        return pl.DataFrame()
    return not_stated_shares(
        pl.concat(frames, how="vertical_relaxed"), confidence=confidence, columns=PROPORTION_COLUMNS
    )


@shared
def summary(people: pl.LazyFrame | pl.DataFrame) -> dict[str, float | int]:
    """Headline facts about the population: size, age, sex, ethnicity recording.

    Returns
    -------
    dict
        ``people``, ``median_age``, ``aged_65_plus_share`` (%); with a sex column
        ``female_share`` (% of those with sex recorded) and ``sex_missing``; with an
        ethnicity column ``not_stated_share`` (%); ``practices``, ``areas`` and
        ``localities`` (number of distinct GP practices, small areas and
        localities, when those columns exist).

    References
    ----------
    .. [1] Office for National Statistics, mid-year population estimates methodology.
    """
    lf = frame_of(people)
    names = lf.collect_schema().names()
    exprs = [
        pl.len().cast(pl.Int64).alias("people"),
        pl.col("age").median().alias("median_age"),
        (100 * (pl.col("age") >= 65).mean()).alias("aged_65_plus_share"),
    ]
    if "sex" in names:
        exprs += [
            (100 * (pl.col("sex") == "female").mean()).alias("female_share"),
            pl.col("sex").is_null().sum().cast(pl.Int64).alias("sex_missing"),
        ]
    if "ethnicity" in names:
        exprs.append((100 * (pl.col("ethnicity") == NOT_STATED).mean()).alias("not_stated_share"))
    for col, key in (("gp_practice", "practices"), ("lsoa", "areas"), ("locality", "localities")):
        if col in names:
            exprs.append(pl.col(col).drop_nulls().n_unique().cast(pl.Int64).alias(key))
    return lf.select(exprs).collect().row(0, named=True)
