"""The person -> aggregate engine (``healthgap.engine``) with polars: its tables are what the
descriptive analyses count, and they add up.

The Spark backend is checked against these tables in ``tests/test_engine_spark.py``.
"""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.data import load, validate
from healthgap.descriptive.access import detection, treatment, waits
from healthgap.descriptive.population import pyramid
from healthgap.descriptive.prevalence import rates
from healthgap.engine import PEOPLE, Aggregates, aggregate
from healthgap.sql import indicator_counts


@pytest.fixture(scope="module")
def aggs(default_config) -> Aggregates:
    return aggregate(default_config)


@pytest.fixture(scope="module")
def people(default_config) -> pl.DataFrame:
    return load(default_config).collect()


def test_tables_and_keys(aggs: Aggregates, people: pl.DataFrame) -> None:
    assert set(aggs.tables) == {"cells", "values", "ages", "lsoa", "locality", "gp_practice", "validation"}
    assert aggs.keys["cells"] == ("imd_quintile", "ethnicity", "sex", "locality", "age_band")
    assert aggs.keys["lsoa"] == ("lsoa", "locality", "age_band", "sex")
    for name in ("cells", "ages", "lsoa", "locality", "gp_practice"):
        assert aggs[name].get_column(PEOPLE).sum() == people.height, name
        keys = list(aggs.keys[name])
        assert aggs[name].select(keys).is_duplicated().sum() == 0, name
        assert aggs[name].equals(aggs[name].sort(keys, nulls_last=True)), name
    assert aggs.people == people.height


def test_roll_up_gives_the_rates_counts(aggs: Aggregates, people: pl.DataFrame, default_config) -> None:
    """Events and populations of every condition by deprivation, from the cells, are rates()' own."""
    exact = rates(people, default_config, measures=["chd", "diabetes"], dimensions=["imd_quintile"])
    rolled = aggs.by(["imd_quintile"]).filter(pl.col("imd_quintile").is_not_null())
    for measure in ("chd", "diabetes"):
        mine = rolled.select(
            pl.col("imd_quintile").alias("level"), pl.col(f"{measure}:sum").alias("events"), pl.col(PEOPLE)
        )
        theirs = exact.filter(pl.col("measure") == measure).select("level", "events", "population")
        assert mine.rows() == theirs.rows(), measure


def test_cells_by_age_band_and_sex_are_the_pyramid(aggs: Aggregates, people: pl.DataFrame) -> None:
    mine = aggs.by(["age_band", "sex"]).select("age_band", "sex", PEOPLE)
    theirs = pyramid(people).filter(pl.col("people") > 0).select("age_band", "sex", "people")
    assert sorted(mine.rows()) == sorted(theirs.rows())


def test_indicators_and_treatment(aggs: Aggregates, people: pl.DataFrame, default_config) -> None:
    by_sex = aggs.by(["sex"])
    for indicator in default_config.indicators:
        exact = indicator_counts(people, indicator, by=["sex"])
        assert not isinstance(exact, str)
        mine = by_sex.select(
            "sex",
            *[pl.col(f"{indicator.name}:{p}").alias(p) for p in ("numerator", "denominator", "excluded")],
        )
        assert mine.rows() == exact.rows(), indicator.name
    statin = treatment(people, default_config, measures=["statin"], dimensions=["sex"])
    assert statin.get_column("treated").to_list() == by_sex.get_column("statin:numerator").to_list()


def test_truth_counts_are_detection(aggs: Aggregates, people: pl.DataFrame, default_config) -> None:
    exact = detection(people, default_config, conditions=["hypertension"], dimensions=["ethnicity"])
    rolled = aggs.by(["ethnicity"]).filter(pl.col("ethnicity").is_in(exact.get_column("level").implode()))
    got = dict(zip(rolled.get_column("ethnicity"), rolled.get_column("true_hypertension:recorded")))
    want = dict(zip(exact.get_column("level"), exact.get_column("recorded")))
    assert got == want


def test_waits_from_the_values_table(aggs: Aggregates, people: pl.DataFrame, default_config) -> None:
    """The median wait and the people over 18 weeks of each deprivation fifth, from the histogram."""
    exact = waits(people, default_config, dimensions=["imd_quintile"])
    days = (
        aggs.by(["imd_quintile", "measure", "value"], table="values")
        .filter(pl.col("measure") == "days_to_first_outpatient")
        .group_by("imd_quintile")
        .agg(
            pl.col("value").repeat_by(pl.col(PEOPLE)).explode().median().round(0).alias("median_days"),
            pl.col(PEOPLE).filter(pl.col("value") > 126).sum().alias("over_18_weeks"),
            pl.col(PEOPLE).sum().alias("recorded"),
        )
        .sort("imd_quintile")
    )
    want = exact.select(pl.col("level").alias("imd_quintile"), "median_days", "over_18_weeks", "recorded")
    assert days.rows() == want.rows()


def test_values_table_adds_up_to_the_sums(aggs: Aggregates, default_config) -> None:
    totals = aggs.by([])
    values = aggs.by(["measure"], table="values")
    weighted = (
        aggs["values"]
        .group_by("measure")
        .agg((pl.col("value") * pl.col(PEOPLE)).sum().alias("sum"), pl.col(PEOPLE).sum().alias("n"))
    )
    # every count and days measure of the data (the synthetic population has five)
    counted = {
        m.name for m in default_config.measures if m.type in ("count", "days") and m.name in aggs.plan.schema
    }
    assert {"days_to_first_outpatient", "missed_appointments", "cvd_admissions"} <= counted
    assert set(values.get_column("measure")) == counted
    for measure, total, n in weighted.rows():
        assert total == totals.get_column(f"{measure}:sum").item()
        assert n == totals.get_column(f"{measure}:n").item()


def test_numbers_sums_and_squares(aggs: Aggregates, people: pl.DataFrame) -> None:
    totals = aggs.by([]).row(0, named=True)
    bmi = people.get_column("bmi").drop_nulls()
    assert totals["bmi:n"] == bmi.len()
    assert totals["bmi:sum"] == pytest.approx(bmi.sum(), rel=1e-12)
    assert totals["bmi:sumsq"] == pytest.approx((bmi * bmi).sum(), rel=1e-12)
    smoking = people.get_column("smoking").value_counts()
    for code, n in smoking.drop_nulls().rows():
        assert totals[f"smoking:={code}"] == n


def test_ages_table(aggs: Aggregates, people: pl.DataFrame) -> None:
    ages = aggs.by(["age"], table="ages")
    median = ages.select(pl.col("age").repeat_by(pl.col(PEOPLE)).explode().median()).item()
    assert median == people.get_column("age").median()


def test_validation_agrees_with_validate(aggs: Aggregates, default_config) -> None:
    report = validate(default_config, raise_errors=False)
    table = aggs["validation"]
    assert table.get_column("rows").unique().to_list() == [report.rows]
    assert dict(zip(table.get_column("column"), table.get_column("nulls"))) == report.missing
    age = table.row(by_predicate=pl.col("column") == "age", named=True)
    assert (age["minimum"], age["below"], age["above"]) == (0.0, 0, 0)


def test_validation_counts_invalid_codes(tmp_path, make_people) -> None:
    from healthgap.config import parse_mapping

    frame = make_people(200, 3).with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("X")).otherwise(pl.col("sex")).alias("sex"),
        pl.when(pl.int_range(pl.len()) < 3).then(pl.lit(130)).otherwise(pl.col("age")).alias("age"),
    )
    frame.write_parquet(tmp_path / "people.parquet")
    config = parse_mapping({"data": {"path": "people.parquet"}}, path=tmp_path / "c.yml")
    table = aggregate(config)["validation"]
    sex = table.row(by_predicate=pl.col("column") == "sex", named=True)
    age = table.row(by_predicate=pl.col("column") == "age", named=True)
    assert (sex["invalid"], sex["nulls"]) == (5, 5)
    assert (age["above"], age["maximum"]) == (3, 130.0)


def test_by_rejects_unknown_keys_and_tables(aggs: Aggregates) -> None:
    with pytest.raises(KeyError, match="not among the keys of the cells table"):
        aggs.by(["lsoa"])
    with pytest.raises(KeyError, match="No aggregate table 'people'"):
        aggs["people"]


def test_unknown_engine(default_config) -> None:
    with pytest.raises(ValueError, match="Unknown engine 'duckdb'"):
        aggregate(default_config, engine="duckdb")
