"""Attack: undo secondary suppression by reading one group count off two pages (issue 15, round 4).

A group's count of an outcome (CVD deaths in a deprivation fifth) is published on the outcomes
page (its table of rates: ``events``) and in every table of gaps (the outcomes page's gaps in
numbers and Where to act: ``numerator``, and the reference group's as ``reference_numerator``).
Each table withholds a small count and one more (secondary suppression), so that the small one
cannot be found by subtracting the others from the total. On the "other trust" example the two
tables withheld different second cells (the outcomes table the least deprived fifth, the gap
tables the middle one): together they showed every count of the dimension but the small one
(fifth 4, true 4), which the total then gives away, to within the rounding.

The attack: for each outcome and dimension, take every count any table shows; a level no table
shows must never be alone. And the same count must read the same wherever it is shown. The row
of a group under the minimum group size shows only the group's size: the reference group's
counts are not repeated there (they are shown in the other rows), so such a row shows no
reference count to compare.

The data are the "other trust" example as ``make example`` writes it (the session fixture
``other_trust_config``: ``healthgap.examples.write_other_trust(n=20_000, seed=11)``, generated
into a temporary folder), so the test runs, and can fail, on a clean clone.
"""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.pages.outcomes import OutcomesPage
from healthgap.pages.where_to_act import WhereToActPage


def _shown(frame: pl.DataFrame, table: str, *, min_group: int) -> pl.DataFrame:
    """Every group count ``frame`` (a published gaps frame) shows: measure, dimension, level, value
    (the reference group's from the rows of groups of at least ``min_group`` people: the others
    do not repeat it)."""
    own = frame.select(
        "measure", "dimension", pl.col("level").cast(pl.String), pl.col("numerator").alias("value")
    )
    ref = frame.filter(~pl.col("denominator").is_between(1, min_group - 1)).select(
        "measure",
        "dimension",
        pl.col("reference").cast(pl.String).alias("level"),
        pl.col("reference_numerator").alias("value"),
    )
    return pl.concat([own, ref]).unique().with_columns(pl.lit(table).alias("table"))


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory, other_trust_config) -> pl.DataFrame:
    from healthgap.data import load

    config = other_trust_config
    people = load(config).collect()
    min_group = config.disclosure.min_group
    folder = tmp_path_factory.mktemp("cross")
    outcomes = OutcomesPage.for_frame(config, people, downloads=folder / "o")
    where = WhereToActPage.for_frame(config, people, downloads=folder / "w")
    assert outcomes.rates is not None and outcomes.excess is not None
    rates = outcomes.rates.frame.select(
        "measure", "dimension", pl.col("level").cast(pl.String), pl.col("events").alias("value")
    ).with_columns(pl.lit("outcomes rates").alias("table"))
    names = rates.get_column("measure").unique().to_list()
    gaps = where.gaps.frame.filter(pl.col("measure").is_in(names))
    return pl.concat(
        [
            rates,
            _shown(outcomes.excess.frame, "outcomes gaps", min_group=min_group),
            _shown(gaps, "where to act", min_group=min_group),
        ],
        how="vertical_relaxed",
    )


def test_a_count_reads_the_same_on_every_page(tables: pl.DataFrame) -> None:
    """Shown in one table and withheld (or different) in another: the tables disagree."""
    spread = tables.group_by("measure", "dimension", "level").agg(
        pl.col("value").is_null().any().alias("withheld"),
        pl.col("value").is_not_null().any().alias("shown"),
        pl.col("value").drop_nulls().n_unique().alias("values"),
    )
    bad = spread.filter((pl.col("withheld") & pl.col("shown")) | (pl.col("values") > 1))
    assert bad.is_empty(), bad


def test_no_withheld_count_is_alone_across_pages(tables: pl.DataFrame) -> None:
    """A count withheld everywhere must have a companion withheld everywhere in its dimension:
    alone, the dimension's total less what the tables show gives it away."""
    hidden = (
        tables.group_by("measure", "dimension", "level")
        .agg(pl.col("value").is_null().all().alias("hidden"))
        .group_by("measure", "dimension")
        .agg(pl.col("hidden").sum().alias("hidden"))
    )
    alone = hidden.filter(pl.col("hidden") == 1)
    assert alone.is_empty(), alone
