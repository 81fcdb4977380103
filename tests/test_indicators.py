"""Indicators and derived columns in SQL (healthgap.sql): compiled, evaluated and checked."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthgap import sql
from healthgap.config import Indicator, compile_sql, load_config, replace_columns, sql_columns
from healthgap.config._sql import BAD_SQL, EMPTY_SQL, SqlError
from healthgap.data import load, validate

TREATMENTS = ("statin", "anticoagulant", "bp_control")
#: Conditions that make a person eligible for a statin: always / from age 40 (NICE CG181).
STATIN_ALWAYS = ("chd", "stroke_tia", "pad")
STATIN_FROM_40 = ("diabetes", "ckd")


def cha2ds2_vasc() -> pl.Expr:
    """CHA2DS2-VASc (Lip et al. 2010): heart failure 1, hypertension 1, age 75+ 2, diabetes 1,
    stroke/TIA 2, vascular disease (CHD or PAD) 1, age 65-74 1, female 1."""
    age = pl.col("age")
    return (
        pl.col("heart_failure").cast(pl.Int64)
        + pl.col("hypertension").cast(pl.Int64)
        + 2 * (age >= 75).cast(pl.Int64)
        + ((age >= 65) & (age < 75)).cast(pl.Int64)
        + pl.col("diabetes").cast(pl.Int64)
        + 2 * pl.col("stroke_tia").cast(pl.Int64)
        + (pl.col("chd") | pl.col("pad")).cast(pl.Int64)
        + (pl.col("sex") == "female").cast(pl.Int64)
    )


def eligible_expr(measure: str, *, available: list[str] | None = None) -> tuple[pl.Expr, pl.Expr]:
    """(eligible, achieved): the Python treatment measures the book used before the SQL indicators
    (NICE CG181, NG196, NG136), kept here as an independent reference."""
    if measure == "statin":
        have = set(available) if available is not None else set(STATIN_ALWAYS + STATIN_FROM_40)
        always = [pl.col(c) for c in STATIN_ALWAYS if c in have]
        later = [pl.col(c) for c in STATIN_FROM_40 if c in have]
        parts = always + ([pl.any_horizontal(later) & (pl.col("age") >= 40)] if later else [])
        return pl.any_horizontal(parts), pl.col("statin")
    if measure == "anticoagulant":
        female = (pl.col("sex") == "female").cast(pl.Int64)
        return pl.col("af") & ((cha2ds2_vasc() - female) >= 2), pl.col("anticoagulant")
    eligible = pl.col("hypertension") & pl.col("antihypertensive") & pl.col("systolic_bp").is_not_null()
    return eligible, pl.col("systolic_bp") < 140


def python_counts(people: pl.DataFrame, measure: str, *, available: list[str] | None = None) -> pl.DataFrame:
    """The Python treatment measures (:func:`eligible_expr`): denominators and numerators by deprivation fifth."""
    elig, done = eligible_expr(measure, available=available)
    return (
        people.group_by("imd_quintile")
        .agg(
            (elig & done.fill_null(False)).cast(pl.Int64).sum().alias("numerator"),
            elig.cast(pl.Int64).sum().alias("denominator"),
        )
        .sort("imd_quintile")
    )


@pytest.fixture(scope="module")
def synthetic(default_config):
    return default_config, load(default_config).collect()


@pytest.mark.parametrize("name", TREATMENTS)
def test_sql_indicators_give_todays_numbers_on_the_synthetic_population(synthetic, name):
    config, people = synthetic
    got = sql.indicator_counts(people, config.indicator(name), by=["imd_quintile"])
    assert isinstance(got, pl.DataFrame)
    want = python_counts(people, name)
    assert got.select("imd_quintile", "numerator", "denominator").equals(want)
    assert got["denominator"].sum() > 100  # a real test: many people eligible
    excluded = got["excluded"].sum()
    assert (
        excluded == 0
        if name != "bp_control"
        else excluded
        == people.filter(
            pl.col("hypertension") & pl.col("antihypertensive") & pl.col("systolic_bp").is_null()
        ).height
    )


@pytest.mark.parametrize(
    "dropped", [("pad",), ("pad", "ckd"), ("diabetes", "ckd"), ("chd", "stroke_tia", "pad")]
)
def test_statin_with_optional_conditions_absent_matches_today(synthetic, dropped):
    config, people = synthetic
    fewer = people.drop(dropped)
    got = sql.indicator_counts(fewer, config.indicator("statin"), by=["imd_quintile"])
    assert isinstance(got, pl.DataFrame)
    want = python_counts(fewer, "statin", available=fewer.columns)
    assert got.select("imd_quintile", "numerator", "denominator").equals(want)
    compiled = sql.indicator_columns(config.indicator("statin"), fewer.schema)
    assert isinstance(compiled, sql.IndicatorColumns) and compiled.absent == dropped


def test_reasons_an_indicator_cannot_be_computed(synthetic):
    config, people = synthetic
    statin = config.indicator("statin")
    assert sql.indicator_columns(statin, people.drop(*STATIN_ALWAYS, *STATIN_FROM_40).schema) == (
        sql.NEEDS_ONE_OF.format(names="chd, stroke_tia, pad, diabetes and ckd")
    )
    assert sql.indicator_columns(config.indicator("bp_control"), people.drop("antihypertensive").schema) == (
        "needs the antihypertensive column, which this dataset does not have"
    )
    two = sql.indicator_columns(config.indicator("anticoagulant"), people.drop("af", "anticoagulant").schema)
    assert two == "needs the af and anticoagulant columns, which this dataset does not have"
    odd = Indicator("x", "X", "proportion", numerator="age + 1", denominator="chd")
    assert sql.indicator_columns(odd, people.schema) == sql.NOT_BOOLEAN.format(
        part="numerator", text="age + 1", dtype=pl.Int64, example="statin"
    )
    odd = Indicator("x", "X", "proportion", numerator="statin", denominator="age")
    assert sql.indicator_columns(odd, people.schema) == sql.NOT_BOOLEAN.format(
        part="denominator", text="age", dtype=pl.Int64, example="age >= 40"
    )
    rate = Indicator("x", "X", "crude rate", numerator="sex", denominator="chd")
    assert sql.indicator_columns(rate, people.schema) == sql.NOT_NUMERIC.format(text="sex", dtype=pl.String)


def test_a_crude_rate_sums_its_count_over_the_population():
    people = pl.DataFrame({"chd": [True, True, False, None, True], "cvd_admissions": [2, None, 5, 1, 0]})
    rate = Indicator("adm", "Admissions", "crude rate", numerator="cvd_admissions", denominator="chd")
    got = sql.indicator_counts(people, rate)
    assert isinstance(got, pl.DataFrame)
    assert got.row(0, named=True) == {"numerator": 2, "denominator": 2, "excluded": 1}


def _kleene_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


FLAGS = st.lists(
    st.tuples(
        st.sampled_from([True, False, None]),
        st.sampled_from([True, False, None]),
        st.sampled_from([True, False, None]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(FLAGS)
def test_missing_values_rule_against_a_python_reference(rows):
    """Denominator: TRUE and the numerator has a value; numerator: both TRUE; excluded: TRUE, numerator NULL."""
    a, b, c = (list(x) for x in zip(*rows, strict=True))
    people = pl.DataFrame(
        {"a": a, "b": b, "c": c}, schema={"a": pl.Boolean, "b": pl.Boolean, "c": pl.Boolean}
    )
    indicator = Indicator("x", "X", "proportion", numerator="c", denominator="a AND b")
    got = sql.indicator_counts(people, indicator)
    assert isinstance(got, pl.DataFrame)
    den = [_kleene_and(x, y) for x, y in zip(a, b, strict=True)]
    want = {
        "numerator": sum(d is True and z is True for d, z in zip(den, c, strict=True)),
        "denominator": sum(d is True and z is not None for d, z in zip(den, c, strict=True)),
        "excluded": sum(d is True and z is None for d, z in zip(den, c, strict=True)),
    }
    assert got.row(0, named=True) == want


def test_sql_helpers():
    assert sql_columns("chd OR (diabetes AND age >= 40) OR chd") == ("chd", "diabetes", "age")
    assert (
        replace_columns("pad OR x = 'pad' OR \"pad\" OR padding", {"pad"})
        == "FALSE OR x = 'pad' OR FALSE OR padding"
    )
    with pytest.raises(SqlError) as info:
        compile_sql("age >=")
    assert str(info.value) == BAD_SQL.format(text="age >=", detail="unable to parse 'age >=' as Expr")
    with pytest.raises(SqlError, match=EMPTY_SQL.split(".")[0]):
        compile_sql(" ")


# -- derived columns ---------------------------------------------------------------------------------


def write_case(tmp_path: Path, frame: pl.DataFrame, yaml_text: str, *, fmt: str = "csv") -> object:
    path = tmp_path / f"f.{fmt}"
    frame.write_csv(path, null_value="NA") if fmt == "csv" else frame.write_parquet(path)
    (tmp_path / "c.yml").write_text(f"data:\n  path: {path.name}\n" + yaml_text, encoding="utf-8")
    return load_config(tmp_path / "c.yml")


def test_derive_reads_numbers_from_text_recodes_and_feeds_measures_and_dimensions(tmp_path):
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "age": [40, 50, 60, 70],
            "totChol": [200, None, 250, 180],
            "educ": [1, 2, 3, 4],
        }
    )
    config = write_case(
        tmp_path,
        frame,
        """  columns: {person_id: id}
  derive:
    cholesterol: "totChol / 38.67"
    edu_group: "CASE WHEN educ <= 2 THEN 'low' ELSE 'high' END"
    older: "age >= 60"
equity:
  dimensions:
    - {name: education, column: edu_group, label: Education, order: [low, high], reference: high, ordered: true, disadvantaged: first}
measures:
  - {name: older, label: Aged 60 or over, kind: risk factor, type: flag}
""",
    )
    out = load(config).collect()
    chol = out["cholesterol"].to_list()
    expected = [200 / 38.67, 250 / 38.67, 180 / 38.67]
    assert chol[1] is None and [chol[0], chol[2], chol[3]] == pytest.approx(expected, rel=1e-12)
    assert (
        out["education"].to_list() == ["low", "low", "high", "high"] and out.schema["education"] == pl.String
    )
    assert out["older"].to_list() == [False, False, True, True]
    assert out.columns == ["person_id", "age", "education", "cholesterol", "older"]


def test_a_derived_column_is_range_checked_and_code_mapped_like_a_file_column(tmp_path):
    frame = pl.DataFrame({"person_id": ["a", "b", "c"], "age": [40, 50, 60], "chol": [2000.0, 5.0, 9.0]})
    config = write_case(
        tmp_path,
        frame,
        """  derive: {cholesterol: "chol / 1", flag: "CASE WHEN chol > 6 THEN 'Y' WHEN chol > 1000 THEN 'U' ELSE 'N' END"}
  codes: {diabetes: {"U": null}}
  columns: {diabetes: flag}
""",
    )
    report = validate(config, raise_errors=False)
    assert any(
        w.startswith("cholesterol: 1 value(s) outside 1-20 (found 5 to 2000)") for w in report.warnings
    )
    assert load(config, validate=False).collect()["diabetes"].to_list() == [True, False, True]


def test_derive_problems_name_the_key(tmp_path):
    frame = pl.DataFrame({"person_id": ["a"], "age": [40], "totChol": ["high"]})
    config = write_case(
        tmp_path, frame, '  derive: {cholesterol: "totchol / 38.67", chol2: "totChol / 38.67"}\n'
    )
    problems = validate(config, raise_errors=False).problems
    assert (
        sql.DERIVE_UNKNOWN.format(
            name="cholesterol", column="totchol", close=" (close columns in the file: 'totChol')"
        )
        in problems
    )
    failed = [
        p
        for p in problems
        if p.startswith("data.derive.chol2: cannot compute 'totChol / 38.67' on this file")
    ]
    assert len(failed) == 1 and "The column(s) 'totChol' hold text that is not all numbers." in failed[0]


NUMBER_TEXT = st.lists(
    st.one_of(
        st.integers(-1000, 1000).map(str),
        st.floats(-1e6, 1e6, allow_nan=False).map(repr),
        st.sampled_from(["", " ", "NA", ".", "x", " 7 "]),
    ),
    min_size=1,
    max_size=20,
)


def _reference(values: list[str]) -> tuple[str, list[float | None]]:
    """Plain-Python reading of a text column: empty and NA-like values missing; all numbers -> numbers."""
    cleaned = [
        None if v.strip().lower() in ("", "na", "n/a", "nan", "null", "none", ".") else v.strip()
        for v in values
    ]
    numbers = []
    for v in cleaned:
        try:
            numbers.append(None if v is None else float(v))
        except ValueError:
            return "text", []
    whole = all(v is None or v.lstrip("-").isdigit() for v in cleaned)
    return ("int" if whole else "float"), numbers


@settings(max_examples=60, deadline=None)
@given(NUMBER_TEXT, st.floats(0.5, 50, allow_nan=False))
def test_numbers_from_text_and_a_derived_ratio_match_a_python_reference(values, divisor):
    lf = pl.LazyFrame({"v": values}, schema={"v": pl.String})
    kind, numbers = _reference(values)
    out, problems = sql.derive(lf, {"ratio": f"v / {divisor!r}"})
    if kind == "text":
        assert problems and problems[0].startswith("data.derive.ratio: cannot compute")
        return
    assert problems == []
    frame = out.collect()
    assert frame.schema["v"] == (pl.Int64 if kind == "int" else pl.Float64)
    assert frame.schema["ratio"] == pl.Float64
    got = frame["ratio"].to_list()
    assert [g is None for g in got] == [n is None for n in numbers]
    assert [g for g in got if g is not None] == pytest.approx([n / divisor for n in numbers if n is not None])


def test_a_users_indicator_in_the_config_needs_no_code(tmp_path, make_people):
    people = make_people()
    people.write_parquet(tmp_path / "people.parquet")
    (tmp_path / "c.yml").write_text(
        "data:\n  path: people.parquet\nindicators:\n"
        "  - {name: statin_chd, label: Statin in CHD, kind: proportion, section: treatment, numerator: statin, denominator: chd}\n"
        "  - {name: bad, label: Bad, kind: proportion, numerator: age, denominator: chd}\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "c.yml")
    frame = load(config, validate=False).collect()
    got = sql.indicator_counts(frame, config.indicator("statin_chd"))
    assert isinstance(got, pl.DataFrame)
    assert got["numerator"][0] == (people["chd"] & people["statin"]).sum()
    assert got["denominator"][0] == people["chd"].sum()
    problems = validate(config, raise_errors=False).problems
    assert problems == [
        "indicators: 'bad' cannot be computed: "
        + sql.NOT_BOOLEAN.format(part="numerator", text="age", dtype=pl.Int64, example="statin")
        + "."
    ]


def test_validate_is_quiet_about_indicators_a_dataset_cannot_have(other_trust_config):
    report = validate(other_trust_config)
    assert report.ok and not any("indicators" in w for w in report.warnings + report.problems)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["1", "0", "2", "NA", ""]), min_size=1, max_size=25))
def test_flags_keep_missing_values_missing(tmp_path_factory, codes):
    tmp_path = tmp_path_factory.mktemp("flags")
    n = len(codes)
    frame = pl.DataFrame({"person_id": [f"p{i}" for i in range(n)], "age": [50] * n, "diabetes": codes})
    config = write_case(tmp_path, frame, '  codes: {diabetes: {"1": true, "0": false, "2": null}}\n')
    out = load(config, validate=False).collect()["diabetes"].to_list()
    assert out == [{"1": True, "0": False}.get(c) for c in codes]
    report = validate(config, raise_errors=False)
    assert report.missing["diabetes"] == sum(c not in ("1", "0") for c in codes)
    assert [p for p in report.problems if not p.startswith("diabetes: every value is empty")] == []
