"""healthgap.engine.dimension_cells: count the people once into the finest cells, then each dimension.

The helper behind prevalence's, risk factors', access's and priorities' "one pass, every
dimension" (tests/test_onepass.py and tests/test_priorities_cells.py pin those functions
against their older one-pass-per-dimension code). Here: tiny frames with numbers worked out by
hand (a dimension's missing level left out of its own roll-up only, strata kept, a dimension
named like a stratum, missing strata dropped on request, the table of everybody), one order
every run, the guard for high-cardinality dimensions (a pass of their own: the same tables,
floats to 1e-12 relative), and a hypothesis test against one group_by over the people per
dimension.
"""

from __future__ import annotations

import importlib

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from healthgap.engine import MAX_CELLS, cells_plan, dimension_cells

cells_module = importlib.import_module("healthgap.engine._cells")

# a dimension with a missing level (a), one without (b), a stratum with a missing value (s)
PEOPLE = pl.DataFrame(
    {
        "a": ["x", "x", "y", None, "y", "x"],
        "b": [1, 2, 2, 1, 1, 1],
        "s": ["F", "M", "F", "F", None, "F"],
        "v": [1, 0, 1, 1, 1, 1],
    }
)
COUNTS = [pl.len().cast(pl.Int64).alias("n"), pl.col("v").sum().cast(pl.Int64).alias("e")]
SUMS = [pl.col("n").sum(), pl.col("e").sum()]
KEYS = {"level": pl.String, "s": pl.String, "n": pl.Int64, "e": pl.Int64}


def _frame(rows: list[tuple], schema: dict = KEYS) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_each_dimension_sums_its_cells_within_the_strata():
    out = dimension_cells(PEOPLE.lazy(), ["a", "b"], cells=COUNTS, rollup=SUMS, strata=["s"], total="all")
    assert list(out) == ["a", "b", "all"]
    # a: the person without a level (row 4) is left out of a only; rows sorted, nulls last
    want_a = _frame([("x", "F", 2, 2), ("x", "M", 1, 0), ("y", "F", 1, 1), ("y", None, 1, 1)])
    assert_frame_equal(out["a"], want_a)
    # b: levels made text; that person is in b's counts
    want_b = _frame([("1", "F", 3, 3), ("1", None, 1, 1), ("2", "F", 1, 1), ("2", "M", 1, 0)])
    assert_frame_equal(out["b"], want_b)
    want_all = pl.DataFrame(
        [("F", 4, 4), ("M", 1, 0), (None, 1, 1)],
        schema={"s": pl.String, "n": pl.Int64, "e": pl.Int64},
        orient="row",
    )
    assert_frame_equal(out["all"], want_all)


def test_a_dimension_named_like_a_stratum_is_that_stratum():
    out = dimension_cells(
        PEOPLE.lazy(), {"a": "a", "s": "s"}, cells=COUNTS, rollup=SUMS, strata={"s": pl.col("s")}
    )
    # s: the stratum is the level (its missing value left out), a not a key of its roll-up
    assert_frame_equal(
        out["s"],
        pl.DataFrame(
            [("F", 4, 4), ("M", 1, 0)],
            schema={"level": pl.String, "n": pl.Int64, "e": pl.Int64},
            orient="row",
        ),
    )
    assert out["a"].columns == ["level", "s", "n", "e"]


def test_missing_strata_are_dropped_on_request_and_expressions_name_levels():
    out = dimension_cells(
        PEOPLE.lazy(),
        {"b_odd": pl.col("b") % 2 == 1},
        cells=COUNTS,
        rollup=SUMS,
        strata={"s": "s"},
        total="all",
        drop_null_strata=True,
        level="group",
    )
    schema = {"group": pl.String, "s": pl.String, "n": pl.Int64, "e": pl.Int64}
    assert_frame_equal(
        out["b_odd"], _frame([("false", "F", 1, 1), ("false", "M", 1, 0), ("true", "F", 3, 3)], schema)
    )
    assert out["all"].get_column("s").to_list() == ["F", "M"]


def test_no_strata_and_no_dimension_in_the_cells():
    # every dimension over the bound: each in a pass of its own, the table of everybody still made
    out = dimension_cells(PEOPLE.lazy(), ["a", "b"], cells=COUNTS, rollup=SUMS, total="all", max_cells=1)
    assert_frame_equal(out["a"], pl.DataFrame({"level": ["x", "y"], "n": [3, 2], "e": [2, 2]}))
    assert_frame_equal(out["all"], pl.DataFrame({"n": [6], "e": [5]}))


# ---------------------------------------------------------------------------------------------
# one order every run


def _many(n: int = 4000, *, wide: bool = True) -> pl.DataFrame:
    """People with two dimensions of many levels, a stratum, and a number: with a wide range
    (``wide``: sums that depend on their order), or whole numbers 0-40 (a measurement's range,
    whose means and variances the cells combine to 1e-12 relative)."""
    i = pl.int_range(n, eager=True)
    x = ((i * 2654435761) % 1000003).cast(pl.Float64) * 1e-3 + 1e6 * (i % 5 == 0)
    return pl.DataFrame(
        {
            "a": ((i * 7919) % 61).cast(pl.String),
            "b": (i * 104729) % 53,
            "s": ((i * 31) % 3).cast(pl.String),
            "x": x if wide else ((i * 2654435761) % 41).cast(pl.Float64),
        }
    ).with_columns(pl.when(i % 13 == 0).then(None).otherwise(pl.col("a")).alias("a"))


def test_rows_sorted_and_cells_combined_in_key_order():
    people = _many()
    # "first": which cell a roll-up meets first (so the order float sums are taken in)
    out = dimension_cells(
        people.lazy(),
        ["a", "b"],
        cells=[pl.col("x").sum().alias("x")],
        rollup=[pl.col("x").first().alias("first"), pl.col("x").sum().alias("x")],
        strata=["s"],
    )
    finest = (
        people.group_by("a", "b", "s")
        .agg(pl.col("x").sum())
        .with_columns(pl.col("a", "b", "s").cast(pl.String))
        .sort("a", "b", "s", nulls_last=True)
    )
    for name in ("a", "b"):
        got = out[name]
        assert got.height > 100
        assert got.equals(got.sort("level", "s", nulls_last=True)), name
        want = (
            finest.filter(pl.col(name).is_not_null())
            .group_by(pl.col(name).alias("level"), "s", maintain_order=True)
            .agg(pl.col("x").first().alias("first"), pl.col("x").sum())
            .sort("level", "s", nulls_last=True)
        )
        assert_frame_equal(got.drop("x"), want.drop("x"), check_exact=True)
        assert_frame_equal(got.select("x"), want.select("x"), check_exact=False, rel_tol=1e-12, abs_tol=0)


def test_the_same_tables_every_run_and_counts_whatever_the_order_of_the_people():
    people = _many()
    kwargs = {
        "cells": [pl.len().alias("n"), pl.col("x").mean().alias("m")],
        "rollup": [pl.col("n").sum(), ((pl.col("n") * pl.col("m")).sum() / pl.col("n").sum()).alias("m")],
        "strata": ["s"],
    }
    first = dimension_cells(people.lazy(), ["a", "b"], **kwargs)
    for _ in range(5):
        again = dimension_cells(people.lazy(), ["a", "b"], **kwargs)
        for name in first:
            assert first[name].equals(again[name]), name  # bit for bit
    # another order of the people: the same counts (a cell's mean may differ in its last bits)
    shuffled = dimension_cells(people.sample(fraction=1.0, shuffle=True, seed=3).lazy(), ["a", "b"], **kwargs)
    for name in first:
        assert first[name].drop("m").equals(shuffled[name].drop("m")), name
        assert_frame_equal(first[name], shuffled[name], check_exact=False, rel_tol=1e-12, abs_tol=0)


def test_float_roll_ups_of_many_cells_are_the_same_bits_every_run():
    # tens of thousands of cells: a lazy query would sum each group's cells in parallel pieces,
    # in the order the threads finish
    i = pl.int_range(60000, eager=True)
    people = pl.DataFrame(
        {
            "a": ((i * 7919) % 997).cast(pl.String),
            "b": (i * 104729) % 211,
            "s": ((i * 31) % 3).cast(pl.String),
            "x": ((i * 2654435761) % 1000003).cast(pl.Float64) * 1e-3 + 1e6 * (i % 5 == 0),
        }
    )
    kwargs = {
        "cells": [pl.len().alias("n"), pl.col("x").sum().alias("x")],
        "rollup": [pl.col("n").sum(), pl.col("x").sum()],
        "strata": ["s"],
        "max_cells": 10**9,
    }
    first = dimension_cells(people.lazy(), ["a", "b"], **kwargs)
    assert first["a"].height > 2000
    for _ in range(60):  # a plain group-by sum differs in some 4% of runs here
        again = dimension_cells(people.lazy(), ["a", "b"], **kwargs)
        for name in first:
            assert first[name].equals(again[name]), name


# ---------------------------------------------------------------------------------------------
# the guard: high-cardinality dimensions get a pass of their own


def test_the_plan_takes_out_the_largest_dimensions_first():
    assert cells_plan({"imd": 6, "eth": 7}, {"band": 20, "sex": 3}) == (["imd", "eth"], [])
    inside, alone = cells_plan({"imd": 6, "practice": 301, "eth": 7, "lsoa": 2001}, {"band": 20, "sex": 3})
    assert (inside, alone) == (["imd", "eth"], ["practice", "lsoa"])
    assert cells_plan({"p": 301, "q": 300}, {}, max_cells=1000) == (["q"], ["p"])
    assert cells_plan({"p": 10}, {"band": 20}, max_cells=1) == ([], ["p"])
    # the default books' finest cells are well inside the bound
    assert MAX_CELLS > 6 * 7 * 3 * 20 * 8


def _moments(people: pl.LazyFrame, dims, **kwargs) -> dict[str, pl.DataFrame]:
    x = pl.col("x")
    n = pl.len().cast(pl.Int64)
    mean = (pl.col("n") * pl.col("m")).sum() / pl.col("n").sum()
    return dimension_cells(
        people,
        dims,
        cells=[n.alias("n"), x.sum().alias("sum"), x.mean().alias("m"), (x.var(ddof=0) * n).alias("M2")],
        rollup=[
            pl.col("n").sum(),
            pl.col("sum").sum(),
            mean.alias("m"),
            (pl.col("M2").sum() + (pl.col("n") * (pl.col("m") - mean) ** 2).sum()).alias("M2"),
        ],
        strata={"s": "s", "band": pl.col("b") // 10},
        total="all",
        **kwargs,
    )


def _same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    floats = [c for c, t in want.schema.items() if t == pl.Float64]
    assert got.schema == want.schema
    assert_frame_equal(got.drop(floats), want.drop(floats), check_exact=True)
    assert_frame_equal(got.select(floats), want.select(floats), check_exact=False, rel_tol=1e-12, abs_tol=0)


def test_a_high_cardinality_dimension_gets_a_pass_of_its_own(monkeypatch):
    # a practice of 600 levels x an area of 500 x the strata: far over the bound
    i = pl.int_range(20000, eager=True)
    people = _many(20000, wide=False).with_columns(
        ((i * 7) % 600).cast(pl.String).alias("practice"),
        pl.when(i % 17 == 0).then(None).otherwise((i * 13) % 500).alias("area"),
    )
    plans = []
    real = cells_module.cells_plan

    def spy(*args, **kwargs):
        plans.append(real(*args, **kwargs))
        return plans[-1]

    monkeypatch.setattr(cells_module, "cells_plan", spy)
    dims = ["a", "practice", "area", "b", "band"]
    guarded = _moments(people.lazy(), dims)
    assert plans == [(["a", "b"], ["practice", "area"])]  # counted with n_unique: no levels given
    one_pass = _moments(people.lazy(), dims, max_cells=10**12)
    assert plans[-1] == (["a", "practice", "area", "b"], [])
    every = _moments(people.lazy(), dims, max_cells=1)  # every dimension a pass of its own
    assert plans[-1] == ([], ["a", "practice", "area", "b"])
    known = _moments(people.lazy(), dims, levels={"a": 62, "practice": 601, "area": 501, "b": 54})
    assert plans[-1] == (["a", "b"], ["practice", "area"])  # the strata counted, the rest known
    assert list(guarded) == [*dims, "all"]
    for name in guarded:
        assert guarded[name].height > 0
        _same(guarded[name], one_pass[name])
        _same(every[name], one_pass[name])
        _same(known[name], one_pass[name])


def test_known_levels_settle_it_without_counting(monkeypatch):
    def no_query(*args, **kwargs):
        raise AssertionError("counted the levels")

    monkeypatch.setattr(cells_module, "_level_counts", no_query)
    out = dimension_cells(
        PEOPLE.lazy(), ["a", "b"], cells=COUNTS, rollup=SUMS, strata=["s"], levels={"a": 3, "b": 3, "s": 3}
    )
    assert out["a"].height == 4


# ---------------------------------------------------------------------------------------------
# against one group_by over the people per dimension

LEVELS = st.one_of(st.none(), st.sampled_from(["p", "q", "r", "s"]))


@st.composite
def people_frames(draw):
    n = draw(st.integers(1, 60))
    col = lambda values: draw(st.lists(values, min_size=n, max_size=n))  # noqa: E731
    return pl.DataFrame(
        {
            "d1": col(LEVELS),
            "d2": col(st.one_of(st.none(), st.integers(0, 5))),
            "g": col(st.one_of(st.none(), st.sampled_from(["F", "M"]))),
            "x": col(st.floats(-1e3, 1e3, allow_nan=False)),
            "k": col(st.integers(0, 3)),
        },
        schema={"d1": pl.String, "d2": pl.Int64, "g": pl.String, "x": pl.Float64, "k": pl.Int64},
    )


@settings(max_examples=60, deadline=None)
@given(people=people_frames(), max_cells=st.sampled_from([1, 7, MAX_CELLS]), drop=st.booleans())
def test_the_same_as_one_group_by_per_dimension(people, max_cells, drop):
    out = dimension_cells(
        people.lazy(),
        ["d1", "d2", "g"],
        cells=[
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("k").sum().alias("k"),
            pl.col("x").sum().alias("x"),
        ],
        rollup=[pl.col("n").sum(), pl.col("k").sum(), pl.col("x").sum()],
        strata={"g": "g"},
        drop_null_strata=drop,
        max_cells=max_cells,
    )
    for name in ("d1", "d2", "g"):
        by = [] if name == "g" else ["g"]
        kept = people.filter(pl.col(name).is_not_null())
        if drop:
            kept = kept.filter(pl.col("g").is_not_null())
        want = (
            kept.group_by(pl.col(name).cast(pl.String).alias("level"), *by)
            .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("k").sum(), pl.col("x").sum())
            .sort("level", *by, nulls_last=True)
        )
        got = out[name]
        assert_frame_equal(got.drop("x"), want.drop("x"), check_exact=True)
        # float sums of the same numbers in another grouping: equal to rounding
        assert_frame_equal(got.select("x"), want.select("x"), check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
