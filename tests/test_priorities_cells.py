"""healthgap.descriptive.priorities counts the people once for every dimension.

``_cells`` counts each item's numerator and denominator into the finest cells (every dimension x
age band x sex) in one pass and sums them per dimension. The reference here is the way it was
counted before: one pass over the people per dimension (kept below as it was). The two must give
the same integer counts, row for row, and the same priorities, on the synthetic population (with
missing levels, a dimension from the data and the data's own sex) and on data without sex.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.config import Dimension
from healthgap.descriptive import priorities as prio
from healthgap.stats import age_bands

KEYS = ["dimension", "__item", "level", prio._AGE, prio._SEX]


def one_pass_per_dimension(
    people: pl.LazyFrame, items: Sequence, dimensions: Sequence[Dimension]
) -> pl.DataFrame:
    """The reference: round 7's ``_cells``, one group-by over the people per dimension."""
    has_sex = "sex" in people.collect_schema()
    out = []
    for dimension in dimensions:
        sex = pl.col("sex").cast(pl.String) if has_sex and dimension.name != "sex" else pl.lit("all")
        aggs = [
            e
            for i, item in enumerate(items)
            for e in (
                item.numerator.filter(item.denominator).sum().alias(f"n{i}"),
                item.denominator.cast(pl.Int64).sum().alias(f"d{i}"),
            )
        ]
        wide = (
            people.filter(pl.col(dimension.name).is_not_null())
            .group_by(
                pl.col(dimension.name).cast(pl.String).alias("level"),
                age_bands("age").cast(pl.String).alias(prio._AGE),
                sex.alias(prio._SEX),
            )
            .agg(aggs)
        )
        out += [
            wide.select(
                "level",
                prio._AGE,
                prio._SEX,
                pl.lit(i).alias("__item"),
                pl.col(f"n{i}").cast(pl.Int64).alias("numerator"),
                pl.col(f"d{i}").cast(pl.Int64).alias("denominator"),
                pl.lit(dimension.name).alias("dimension"),
            )
            for i in range(len(items))
        ]
    return pl.concat(out, how="vertical_relaxed").collect()


def _inputs(config):
    from healthgap.data import load

    lf = load(config)
    schema = lf.collect_schema()
    items = prio._among(lf, config, prio.priority_items(config, schema))
    dims = [d for d in prio.dimensions_in(config, lf) if prio.reference_of(d) and d.name in schema]
    return lf, items, dims


@pytest.fixture(scope="module")
def synthetic(default_config):
    return _inputs(default_config)


def test_the_finest_cells_sum_to_each_dimensions_counts(synthetic):
    lf, items, dims = synthetic
    assert len(dims) >= 4 and len(items) >= 10
    people = lf.collect().with_columns(  # a dimension with missing levels, and missing ages
        pl.when(pl.int_range(pl.len()) % 17 == 0)
        .then(None)
        .otherwise(pl.col(dims[0].name))
        .alias(dims[0].name),
        pl.when(pl.int_range(pl.len()) % 29 == 0).then(None).otherwise(pl.col("age")).alias("age"),
    )
    assert people.get_column(dims[0].name).null_count() > 0
    got = prio._cells(people.lazy(), items, dims).sort(KEYS)
    want = one_pass_per_dimension(people.lazy(), items, dims).sort(KEYS)
    assert got.height == want.height > 0
    assert_frame_equal(got.select(want.columns), want, check_exact=True, check_dtypes=False)
    assert got.schema["numerator"] == got.schema["denominator"] == pl.Int64


def test_without_sex_every_stratum_is_all(synthetic):
    lf, items, dims = synthetic
    people = lf.collect().drop("sex").lazy()
    dims = [d for d in dims if d.name != "sex"]
    got = prio._cells(people, items, dims).sort(KEYS)
    want = one_pass_per_dimension(people, items, dims).sort(KEYS)
    assert set(got.get_column(prio._SEX)) == {"all"}
    assert_frame_equal(got.select(want.columns), want, check_exact=True, check_dtypes=False)


def test_priorities_are_those_of_one_pass_per_dimension(default_config, monkeypatch):
    from healthgap.data import load

    lf = load(default_config)
    got = prio.priorities(lf, default_config, base=5, min_reference=50)
    monkeypatch.setattr(prio, "_cells", one_pass_per_dimension)
    want = prio.priorities(lf, default_config, base=5, min_reference=50)
    assert got.height > 20
    # gaps tied in rank come in no set order either way (polars' group-by order), and the
    # expected counts (float sums over strata) are summed in that order: equal to rounding
    key = ["section", "measure", "dimension", "level"]
    assert_frame_equal(got.sort(key), want.sort(key), check_exact=False, rtol=1e-12, atol=1e-12)
    assert got.get_column("rank").to_list() == want.get_column("rank").to_list()


def test_the_cells_come_in_one_order_every_run(synthetic):
    # the expected counts are float sums over these rows: in group-by order (which varies), gaps a
    # last bit apart could swap ranks from one render to the next
    lf, items, dims = synthetic
    cells = prio._cells(lf, items, dims)
    assert cells.equals(cells.sort("dimension", "__item", "level", prio._AGE, prio._SEX))
