"""Who is in the data, and how complete the data are.

Counts of people by age band and sex (for the pyramid) and by each equity
dimension; completeness of every contract column; and the share of people
whose ethnicity is not recorded, by group - missing ethnicity is itself an
inequality, because it hides who is affected.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from healthgap.config import AGE_BANDS, Config, DisclosureSettings
from healthgap.contract import CONTRACT, TRUTH_PREFIX
from healthgap.descriptive._common import LEVEL, dimensions_in, frame_of, label_levels, level_expr
from healthgap.disclosure import published_counts

__all__ = ["pyramid", "composition", "completeness", "not_stated", "summary"]

NOT_STATED = "Not stated"


def pyramid(
    people: pl.LazyFrame | pl.DataFrame, *, disclosure: DisclosureSettings | None = None
) -> pl.DataFrame:
    """People by ESP2013 age band and sex, for an age-sex pyramid.

    ``share`` is computed from the counts as they will be published (``disclosure``,
    default: suppress 1-7, round to 5; see :func:`healthgap.disclosure.published_counts`).

    Returns
    -------
    pl.DataFrame
        ``age_band``, ``sex``, ``people``, ``share`` (of everyone, in %); every
        band x sex combination appears (zero when empty), bands youngest first.

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
    counts = published_counts(counts, ["people"], settings=disclosure)
    total = counts.get_column("people").sum()
    return (
        grid.join(counts, on=["age_band", "sex"], how="left")
        .with_columns(pl.col("people").fill_null(0))
        .with_columns((100 * pl.col("people") / max(total, 1)).alias("share"))
        .with_columns(
            pl.col("age_band")
            .replace_strict({b: i for i, b in enumerate(AGE_BANDS)}, return_dtype=pl.Int64)
            .alias("band_order")
        )
        .sort("band_order", "sex")
    )


def composition(
    people: pl.LazyFrame | pl.DataFrame, config: Config, *, dimensions: Sequence[str] | None = None
) -> pl.DataFrame:
    """Number and share of people in each level of each equity dimension.

    Shares are of the counts as they will be published (see
    :func:`healthgap.disclosure.published_counts`).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ``order``, ``is_reference``,
        ``people``, ``total``, ``share`` (% of the dimension's total), long
        over dimensions in config order.

    References
    ----------
    .. [1] Office for National Statistics (2021), Census 2021 ethnic group classification.
    """
    lf = frame_of(people)
    frames = []
    for dim in dimensions_in(config, lf, names=dimensions):
        counts = (
            published_counts(
                lf.group_by(level_expr(dim.name).alias(LEVEL))
                .agg(pl.len().cast(pl.Int64).alias("people"))
                .collect(),
                ["people"],
                settings=config.disclosure,
            )
            .with_columns(pl.col("people").sum().alias("total"))
            .with_columns((100 * pl.col("people") / pl.col("total")).alias("share"))
        )
        frames.append(label_levels(counts, dim))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def completeness(
    people: pl.LazyFrame | pl.DataFrame, *, disclosure: DisclosureSettings | None = None
) -> pl.DataFrame:
    """Completeness of every contract column present in the dataset.

    A value is *missing* when it is null; for ethnicity "Not stated" also
    counts as missing (the loader turns an empty ethnicity into it). The
    counts are as they will be published (``disclosure``, default: suppress
    1-7, round to 5) and ``complete`` is computed from them (see
    :func:`healthgap.disclosure.published_counts`).

    Returns
    -------
    pl.DataFrame
        ``column``, ``label``, ``group``, ``people``, ``missing``, ``recorded``,
        ``complete`` (% recorded), in contract order; truth columns excluded.

    References
    ----------
    .. [1] NHS Digital, Data Quality Maturity Index methodology (completeness = valid, non-missing).
    """
    lf = frame_of(people)
    names = [
        c
        for c in lf.collect_schema().names()
        if c in CONTRACT and not c.startswith(TRUTH_PREFIX) and c != "person_id"
    ]

    def missing(c: str) -> pl.Expr:
        expr = pl.col(c).is_null()
        if c == "ethnicity":
            expr = expr | (pl.col(c) == NOT_STATED)
        return expr.sum().cast(pl.Int64).alias(c)

    row = lf.select([pl.len().cast(pl.Int64).alias("__n"), *[missing(c) for c in names]]).collect()
    n = row.get_column("__n").item()
    return (
        pl.DataFrame(
            {
                "column": names,
                "label": [CONTRACT[c].label for c in names],
                "group": [CONTRACT[c].group for c in names],
                "missing": [row.get_column(c).item() for c in names],
            },
            schema={"column": pl.String, "label": pl.String, "group": pl.String, "missing": pl.Int64},
        )
        .with_columns(pl.lit(n, dtype=pl.Int64).alias("people"))
        .with_columns((pl.col("people") - pl.col("missing")).alias("recorded"))
        .pipe(published_counts, ["people", "missing", "recorded"], settings=disclosure)
        .with_columns((100 * pl.col("recorded") / pl.col("people")).alias("complete"))
        .select("column", "label", "group", "people", "missing", "recorded", "complete")
    )


def not_stated(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    dimensions: Sequence[str] = ("imd_quintile", "age_band", "sex", "locality"),
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share of people whose ethnicity is "Not stated", by level of each dimension.

    Returns
    -------
    pl.DataFrame
        The dimension columns, ``not_stated`` and ``people`` (counts), then
        the Wilson score interval of the proportion from
        :func:`healthgap.stats.proportion` (``value`` in %).

    References
    ----------
    .. [1] Wilson EB (1927). Probable inference, the law of succession, and statistical
       inference. J Am Stat Assoc 22:209-212.
    """
    from healthgap.stats import proportion

    lf = frame_of(people)
    wanted = [d for d in dimensions if d != "ethnicity"]
    present = [d.name for d in dimensions_in(config, lf)]
    frames = []
    for dim in dimensions_in(config, lf, names=[d for d in wanted if d in present]):
        counts = (
            lf.group_by(level_expr(dim.name).alias(LEVEL))
            .agg(
                (pl.col("ethnicity") == NOT_STATED).sum().cast(pl.Int64).alias("not_stated"),
                pl.len().cast(pl.Int64).alias("people"),
            )
            .collect()
        )
        counts = published_counts(counts, ["not_stated", "people"], settings=config.disclosure)
        stat = proportion(
            counts,
            numerator="not_stated",
            denominator="people",
            by=LEVEL,
            multiplier=100,
            confidence=confidence,
        )
        frames.append(label_levels(stat, dim))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def summary(people: pl.LazyFrame | pl.DataFrame) -> dict[str, float | int]:
    """Headline facts about the population: size, age, sex, ethnicity recording.

    Returns
    -------
    dict
        ``people``, ``median_age``, ``female_share`` (%), ``not_stated_share`` (%),
        ``practices`` and ``areas`` (number of distinct GP practices and small
        areas, when those columns exist), ``aged_65_plus_share`` (%).

    References
    ----------
    .. [1] Office for National Statistics, mid-year population estimates methodology.
    """
    lf = frame_of(people)
    names = lf.collect_schema().names()
    exprs = [
        pl.len().cast(pl.Int64).alias("people"),
        pl.col("age").median().alias("median_age"),
        (100 * (pl.col("sex") == "female").mean()).alias("female_share"),
        (100 * (pl.col("ethnicity") == NOT_STATED).mean()).alias("not_stated_share"),
        (100 * (pl.col("age") >= 65).mean()).alias("aged_65_plus_share"),
    ]
    for col, key in (("gp_practice", "practices"), ("lsoa", "areas"), ("locality", "localities")):
        if col in names:
            exprs.append(pl.col(col).drop_nulls().n_unique().cast(pl.Int64).alias(key))
    return lf.select(exprs).collect().row(0, named=True)
