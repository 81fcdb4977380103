"""The data check on Spark gives the polars check's report and error, without polars reading rows.

For each kind of problem :func:`healthgap.data.validate` reports, a tiny bad file is checked by
both engines: the :class:`~healthgap.errors.DataError` text (the whole report: rows,
completeness, codes, warnings, problems) must be the same. Then the Spark prepare runs with
polars' readers of the person table made to fail, and must still write the polars engine's
prepared table. Spark is started by the ``spark`` fixture of ``test_engine_spark`` (fails in CI
without Java, skips elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import test_engine_spark  # tests/ is on sys.path (no package)
import yaml
from polars.testing import assert_frame_equal

from healthgap.config import load_config
from healthgap.data import validate
from healthgap.errors import DataError

spark = test_engine_spark.spark  # the Spark session fixture (fails in CI without Java)
BAD = "this is not parquet at all" * 10


def _case(
    folder: Path,
    frame: pl.DataFrame | None,
    *,
    fmt: str = "parquet",
    data: dict | None = None,
    raw: str | None = None,
    **top,
):
    path = folder / f"people.{fmt}"
    if raw is not None:
        path.write_text(raw, encoding="utf-8")
    elif frame is not None:
        frame.write_parquet(path) if fmt == "parquet" else frame.write_csv(path)
    doc = {"data": {"path": path.name, **(data or {})}, **top}
    doc.setdefault("equity", {"dimensions": ["imd_quintile", "ethnicity", "sex", "age_band", "locality"]})
    (folder / "c.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(folder / "c.yml")


def _first(n: int) -> pl.Expr:
    return pl.int_range(pl.len()) < n


def _set(column: str, n: int, value) -> Callable[[pl.DataFrame], pl.DataFrame]:
    return lambda p: p.with_columns(
        pl.when(_first(n)).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


# name -> (changes to the valid table, _case keywords); None: no file written
CASES: dict[str, tuple[Callable[[pl.DataFrame], pl.DataFrame | None], dict]] = {
    "valid": (lambda p: p, {}),
    "missing file": (lambda p: None, {}),
    "not parquet": (lambda p: None, {"raw": BAD}),
    "no rows": (lambda p: p.head(0), {}),
    "missing required column": (lambda p: p.rename({"age": "AgeYears"}), {}),
    "mapped column absent": (
        lambda p: p.rename({"age": "AgeYears"}),
        {"data": {"columns": {"age": "AgeYrs"}}},
    ),
    "dimension not in the data": (lambda p: p.drop("imd_decile"), {}),
    "wrong type": (lambda p: _set("age", 4, "forty")(p.with_columns(pl.col("age").cast(pl.String))), {}),
    "invalid codes": (lambda p: p.with_columns(pl.col("sex").replace({"female": "F"})), {}),
    "invalid codes, tied counts in order of first appearance": (
        lambda p: p.with_columns(
            pl.when(pl.int_range(pl.len()) % 7 == 3)
            .then(pl.lit("aa"))
            .when(pl.int_range(pl.len()) % 7 == 1)
            .then(pl.lit("zz"))
            .otherwise(pl.col("smoking"))
            .alias("smoking")
        ),
        {},
    ),
    "age out of range": (_set("age", 1, 130), {}),
    "deprivation out of range": (_set("imd_decile", 1, 11), {}),
    "risk factor out of range (a warning)": (_set("bmi", 1, 400.0), {}),
    "duplicate identifiers": (
        lambda p: p.with_columns(
            pl.when(_first(3))
            .then(pl.lit("dup"))
            .when(_first(6))
            .then(pl.lit("again"))
            .otherwise(pl.col("person_id"))
            .alias("person_id")
        ),
        {},
    ),
    "missing identifiers": (_set("person_id", 2, "  "), {}),
    "null codes": (lambda p: p.with_columns(pl.lit(None, dtype=pl.String).alias("sex")), {}),
    "empty required column": (lambda p: p.with_columns(pl.lit(None, dtype=pl.Int64).alias("age")), {}),
    "empty optional column (a warning)": (
        lambda p: p.with_columns(pl.lit(None, dtype=pl.Int64).alias("days_to_first_outpatient")),
        {},
    ),
    "all-null measure": (lambda p: p.with_columns(pl.lit(None, dtype=pl.Float64).alias("bmi")), {}),
    "config columns and truth file absent": (
        lambda p: p.drop("stroke_tia", "locality"),
        {"data": {"truth": "truth.json"}, "conditions": ["hypertension", "stroke_tia"]},
    ),
    "every problem together": (
        lambda p: _set("smoking", 5, "ex-smoker")(_set("person_id", 2, "p00009")(_set("age", 1, -3)(p))),
        {},
    ),
    "csv: renames, codes, text numbers and flags": (
        lambda p: p.rename({"age": "AgeYrs", "sex": "Gender"}).with_columns(
            pl.col("Gender").replace({"female": "F", "male": "M"}),
            pl.col("hypertension").cast(pl.String).replace({"true": "Y", "false": "N"}),
        ),
        {
            "fmt": "csv",
            "data": {
                "columns": {"age": "AgeYrs", "sex": "Gender"},
                "codes": {"sex": {"F": "female", "M": "male"}, "hypertension": {"Y": True, "N": False}},
            },
        },
    ),
    "csv: unmapped flags, text in numbers, NA": (
        lambda p: _set("hypertension", 3, "maybe")(_set("bmi", 2, "NA")(_set("cholesterol", 3, "high")(p))),
        {"fmt": "csv"},
    ),
    "derived column from text numbers, and an unknown column": (
        lambda p: p.with_columns(
            pl.col("cholesterol").cast(pl.Float64).mul(38.67).round(1).cast(pl.String).alias("chol_mgdl")
        ).drop("cholesterol"),
        {
            "fmt": "csv",
            "data": {
                "derive": {
                    "cholesterol": "chol_mgdl / 38.67",
                    "weird": "nothere + 1",
                    "twice": "ethnicity * 2",
                }
            },
        },
    ),
    "one-level dimension (a warning)": (
        lambda p: p.with_columns(pl.lit("x").alias("site")),
        {"equity": {"dimensions": ["sex", {"name": "site", "label": "Site"}]}},
    ),
    "custom dimensions stored as numbers, with a code mapped to missing": (
        lambda p: p.with_columns(
            (pl.int_range(pl.len()) % 5).cast(pl.Float64).alias("educ"),
            (pl.int_range(pl.len()) % 12).alias("band"),
        ),
        {
            "data": {"codes": {"education": {"0": None}}},
            "equity": {
                "dimensions": [
                    {
                        "name": "education",
                        "column": "educ",
                        "label": "Education",
                        "order": ["1", "2", "3", "4"],
                        "reference": "4",
                    },
                    {"name": "band", "label": "Band"},
                ]
            },
        },
    ),
}


def _stringly(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text (for the CSV cases: mixed values in one column)."""
    return frame.with_columns(pl.all().cast(pl.String))


@pytest.mark.parametrize("name", list(CASES))
def test_spark_check_gives_the_polars_error(name, tmp_path, make_people, spark) -> None:
    """The same report text (so the same DataError message) from both engines' checks."""
    from healthgap.engine import validate_spark

    change, kwargs = CASES[name]
    kwargs = dict(kwargs)
    people = make_people(n=120, seed=3)
    if kwargs.get("fmt") == "csv":
        people = _stringly(people)
    frame = change(people)
    config = _case(tmp_path, frame, **kwargs)
    mine = validate(config, raise_errors=False)
    if mine.problems:
        with pytest.raises(DataError) as polars_error:
            validate(config)
        with pytest.raises(DataError) as spark_error:
            validate_spark(config, spark=spark)
        assert str(spark_error.value) == str(polars_error.value)
        theirs = spark_error.value.report
    else:
        theirs = validate_spark(config, spark=spark)
        assert not mine.warnings or name.endswith("(a warning)")
    assert theirs.render() == mine.render()
    assert (theirs.problems, theirs.warnings) == (mine.problems, mine.warnings)
    assert (theirs.rows, theirs.missing, theirs.distributions) == (
        mine.rows,
        mine.missing,
        mine.distributions,
    )


def test_the_cases_cover_every_problem_the_check_words() -> None:
    """Every kind of problem the polars check words is among the cases above (by its message)."""
    import healthgap._validation as v
    import healthgap.data as d

    worded = {
        "MISSING_FILE": "missing file",
        "UNREADABLE": "not parquet",
        "MISSING_COLUMN": "missing required column",
        "MAPPED_ABSENT": "mapped column absent",
        "EMPTY": "no rows",
        "UNMAPPED": "invalid codes",
        "WRONG_TYPE": "wrong type",
        "OUT_OF_RANGE": "age out of range",
        "DUPLICATES": "duplicate identifiers",
        "NULL_IDS": "missing identifiers",
        "ALL_NULL": "empty required column",
        "EMPTY_OPTIONAL": "empty optional column (a warning)",
        "NOT_IN_DATA": "config columns and truth file absent",
        "AUX_MISSING": "config columns and truth file absent",
        "FEW_LEVELS": "one-level dimension (a warning)",
    }
    for constant, case in worded.items():
        assert hasattr(v, constant) or hasattr(d, constant), constant
        assert case in CASES, case


@pytest.mark.parametrize("which", ["default_config", "other_trust_config"])
def test_spark_prepare_never_reads_the_person_table_with_polars(
    which,
    request,
    spark,
    tmp_path,
    monkeypatch,
) -> None:
    """The Spark prepare (check and write) with polars' row readers of the person table made to
    fail: the same prepared table as the polars engine's (the default book's Parquet; the other
    trust's CSV with renames and code mappings). Polars may read the file's schema (footer or
    header) and the Spark parts it writes, never the person table's rows."""
    import healthgap.data as data
    from healthgap.engine import prepare

    config = request.getfixturevalue(which)
    expected = pl.read_parquet(prepare(config, engine="polars", cache_dir=tmp_path / "p"))
    data._CACHE.clear()
    source = config.data.path.resolve()
    real_parquet, real_csv = pl.scan_parquet, pl.scan_csv
    schema_only: list[str] = []

    def guarded(real):
        def scan(path, *args, **kwargs):
            lf = real(path, *args, **kwargs)
            if Path(str(path)).resolve() != source:
                return lf
            schema_only.append(str(path))
            return _SchemaOnly(lf)

        return scan

    monkeypatch.setattr(pl, "scan_parquet", guarded(real_parquet))
    monkeypatch.setattr(pl, "scan_csv", guarded(real_csv))
    monkeypatch.setattr(pl, "read_parquet", _refuse)
    monkeypatch.setattr(pl, "read_csv", _refuse)
    written = prepare(config, engine="spark", spark=spark, cache_dir=tmp_path / "s")
    assert schema_only, "the check read the file's columns some other way"
    monkeypatch.undo()
    assert_frame_equal(pl.read_parquet(written), expected, check_exact=True)


def _refuse(*args, **kwargs):
    raise AssertionError("polars read the person table on the driver")


class _SchemaOnly:
    """A scan of the person table that gives its schema and refuses to read rows."""

    def __init__(self, lf: pl.LazyFrame) -> None:
        self._lf = lf

    def collect_schema(self) -> pl.Schema:
        return self._lf.collect_schema()

    def __getattr__(self, name: str):
        raise AssertionError(f"polars read the person table on the driver (LazyFrame.{name})")


def test_healthgap_validate_with_a_spark_config_checks_on_spark(
    tmp_path, make_people, spark, monkeypatch
) -> None:
    """`healthgap validate` (and the check before `healthgap render`) with data.engine: spark run the
    Spark check and Spark's count of the model target, not polars'."""
    import healthgap.data as data
    from healthgap.cli import _check_dataset

    people = make_people(n=120, seed=3)
    config = _case(
        tmp_path, _set("age", 1, 130)(people), data={"engine": "spark", "spark": {"master": "local[2]"}}
    )
    mine = validate(config, raise_errors=False)
    monkeypatch.setattr(data, "validate", _refuse)
    monkeypatch.setattr(data, "load", _refuse)
    report = _check_dataset(config)
    assert report.render() == mine.render() and not report.ok
    monkeypatch.undo()
    (tmp_path / "good").mkdir()
    good = _case(tmp_path / "good", people, data={"engine": "spark", "spark": {"master": "local[2]"}})
    expected = _check_dataset(_case(tmp_path / "good", people))  # the polars engine
    monkeypatch.setattr(data, "validate", _refuse)
    monkeypatch.setattr(data, "load", _refuse)
    report = _check_dataset(good)
    assert report.render() == expected.render()
