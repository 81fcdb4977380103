"""Loading onto the contract and validation: one test per kind of bad input."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthgap.config import load_config
from healthgap.contract import CONTRACT
from healthgap.data import DataError, load, resolve_dimensions, validate
from healthgap.errors import ConfigError


def setup_case(
    tmp_path: Path, frame: pl.DataFrame | None, *, fmt: str = "parquet", data: dict | None = None, **top
) -> object:
    path = tmp_path / f"people.{fmt}"
    if frame is not None:
        frame.write_parquet(path) if fmt == "parquet" else frame.write_csv(path)
    doc = {"data": {"path": path.name, **(data or {})}, **top}
    doc.setdefault("equity", {"dimensions": ["imd_quintile", "ethnicity", "sex", "age_band", "locality"]})
    (tmp_path / "c.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(tmp_path / "c.yml")


def problems(config) -> list[str]:
    return validate(config, raise_errors=False).problems


def test_valid_table_loads_with_contract_dtypes(tmp_path, make_people):
    people = make_people().with_columns(pl.lit("x").alias("not_in_contract"))
    config = setup_case(tmp_path, people)
    report = validate(config)
    assert report.ok and report.rows == 400
    frame = load(config).collect()
    assert "not_in_contract" not in frame.columns
    assert frame.columns == [c for c in CONTRACT if c in frame.columns]
    for name in frame.columns:
        assert frame.schema[name] == CONTRACT[name].dtype, name
    expected = (people["imd_decile"] + 1) // 2
    assert frame["imd_quintile"].to_list() == expected.to_list()
    assert frame.height == 400


def test_report_counts_completeness_and_codes(tmp_path, make_people):
    people = make_people().with_columns(
        pl.when(pl.int_range(pl.len()) < 100).then(None).otherwise(pl.col("bmi")).alias("bmi")
    )
    report = validate(setup_case(tmp_path, people))
    assert report.completeness["bmi"] == pytest.approx(0.75)
    assert report.completeness["age"] == 1.0
    sex = dict(report.distributions["sex"])
    assert sum(sex.values()) == 400 and sex["female"] == people["sex"].eq("female").sum()
    text = report.render()
    assert "Rows: 400" in text and "bmi" in text and "Result: OK" in text
    assert len(text.splitlines()) <= 40


def test_csv_with_renames_codes_and_flags(tmp_path, make_people):
    people = make_people(60)
    raw = people.select(
        pl.col("person_id").alias("PatientID"),
        pl.col("age").alias("AgeYears"),
        pl.col("sex").replace_strict({"female": "F", "male": "M"}).alias("Gender"),
        pl.col("ethnicity").str.to_uppercase().alias("Eth"),
        ((pl.col("imd_decile") + 1) // 2).alias("IMDQuintile"),
        pl.when(pl.col("hypertension")).then(pl.lit("Y")).otherwise(pl.lit("n")).alias("HTN"),
        pl.col("cvd_admissions"),
    )
    config = setup_case(
        tmp_path,
        raw,
        fmt="csv",
        data={
            "columns": {
                "person_id": "PatientID",
                "age": "AgeYears",
                "sex": "Gender",
                "ethnicity": "Eth",
                "imd_quintile": "IMDQuintile",
                "hypertension": "HTN",
            },
            "codes": {"sex": {"M": "male", "F": "female"}},
        },
        equity={"dimensions": ["imd_quintile", "ethnicity", "sex", "age_band"]},
        conditions=["hypertension"],
        outcomes=["cvd_admissions"],
        model={"features": ["age", "hypertension"]},
    )
    frame = load(config).collect()
    assert frame["sex"].to_list() == people["sex"].to_list()
    assert frame["ethnicity"].to_list() == people["ethnicity"].to_list()  # case-insensitive codes
    assert frame["hypertension"].to_list() == people["hypertension"].to_list()
    assert frame["imd_quintile"].to_list() == ((people["imd_decile"] + 1) // 2).to_list()
    assert "imd_decile" not in frame.columns


def test_empty_ethnicity_becomes_not_stated_and_codes_can_map_to_missing(tmp_path, make_people):
    people = make_people(200).with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("ethnicity")).alias("ethnicity"),
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("U")).otherwise(pl.col("sex")).alias("sex"),
    )
    config = setup_case(tmp_path, people, data={"codes": {"sex": {"U": None}}})
    frame = load(config).collect()
    assert frame["ethnicity"].head(3).to_list() == ["Not stated"] * 3
    assert frame["sex"][5] is None


def _canonical(value, codes: dict, valid: tuple[str, ...]):
    """Plain-Python reference for a category column: trim, map codes, match case-insensitively."""
    if value is None or not value.strip():
        return None
    value = codes.get(value.strip(), value.strip())
    if value is None:
        return None
    return {c.lower(): c for c in valid}.get(value.lower())


@pytest.mark.parametrize("dtype", [pl.String, pl.Categorical, "enum"])
@pytest.mark.parametrize("max_lookup", [50_000, 2])  # a lookup per distinct value, or per row
def test_parquet_text_columns_match_a_per_value_reference(
    tmp_path, make_people, monkeypatch, dtype, max_lookup
):
    import healthgap._lookup as lookup

    monkeypatch.setattr(lookup, "MAX_LOOKUP_VALUES", max_lookup)
    people = make_people(300)
    messy = {
        "sex": [" Male", "F", "female ", "MALE", "", None, "U", "x"],
        "ethnicity": ["white", " Asian ", "BLACK", "", None, "Other", "mixed", "Not Stated"],
        "locality": [" Ipswich", "Colchester", "", None, "Ipswich", "Tendring ", "a", "b"],
    }
    raw = people.with_columns(
        pl.Series(c, [v[i % len(v)] for i in range(300)], dtype=pl.String) for c, v in messy.items()
    )
    if dtype == "enum":
        raw = raw.with_columns(
            pl.col(c).cast(pl.Enum(sorted({x for x in v if x is not None}))) for c, v in messy.items()
        )
    else:
        raw = raw.with_columns(pl.col(list(messy)).cast(dtype))
    codes = {"sex": {"F": "female", "U": None}}
    config = setup_case(tmp_path, raw, data={"codes": codes})
    frame = load(config, validate=False).collect()
    sexes = [_canonical(v, codes["sex"], CONTRACT["sex"].codes) for v in messy["sex"]]
    groups = [_canonical(v, {}, CONTRACT["ethnicity"].codes) or "Not stated" for v in messy["ethnicity"]]
    places = [v.strip() or None if v is not None else None for v in messy["locality"]]
    for name, expected in (("sex", sexes), ("ethnicity", groups), ("locality", places)):
        assert frame[name].to_list() == [expected[i % 8] for i in range(300)], name
        assert frame.schema[name] == pl.String
    # a new version of the file is looked up afresh, not from the last one's values
    raw.with_columns(pl.lit("male").alias("sex")).write_parquet(config.data.path)
    assert load(config, validate=False).collect()["sex"].to_list() == ["male"] * 300


def test_csv_and_its_parquet_conversion_load_the_same(tmp_path, make_people):
    """The README's conversion (every value kept as text) loads exactly as the CSV does: the
    Parquet lookups and the CSV's per-row mapping agree."""
    people = make_people(250).with_columns(
        pl.col("sex").replace_strict({"female": " F", "male": "m "}),
        pl.col("ethnicity").str.to_uppercase(),
        pl.when(pl.int_range(pl.len()) % 9 == 0)
        .then(pl.lit(""))
        .otherwise(pl.col("locality"))
        .alias("locality"),
    )
    codes = {"sex": {"F": "female", "m": "male"}}
    csv = setup_case(tmp_path, people, fmt="csv", data={"codes": codes})
    pl.read_csv(csv.data.path, infer_schema=False).write_parquet(tmp_path / "people.parquet")
    parquet = setup_case(tmp_path, None, data={"codes": codes})
    from_csv, from_parquet = load(csv).collect(), load(parquet).collect()
    assert from_csv["sex"].null_count() == 0 and set(from_csv["sex"]) == {"female", "male"}
    assert from_parquet.equals(from_csv)


def test_missing_file(tmp_path):
    (message,) = problems(setup_case(tmp_path, None))
    assert message.startswith("data.path: file not found:") and "people.parquet" in message


def test_corrupt_file(tmp_path):
    config = setup_case(tmp_path, None)
    config.data.path.write_bytes(b"this is not parquet at all" * 10)
    (message,) = problems(config)
    assert "cannot read" in message and "as parquet" in message


def test_empty_table(tmp_path, make_people):
    assert any("has no rows" in p for p in problems(setup_case(tmp_path, make_people().head(0))))


def test_missing_required_column_suggests_close_source_names(tmp_path, make_people):
    people = make_people().rename({"age": "AgeYears"})
    found = problems(setup_case(tmp_path, people))
    assert any("Required column 'age' is missing (close columns in the file: 'AgeYears')" in p for p in found)


def test_mapped_column_absent_from_the_file(tmp_path, make_people):
    people = make_people().rename({"age": "AgeYears"})
    found = problems(setup_case(tmp_path, people, data={"columns": {"age": "AgeYrs"}}))
    assert found == [
        "data.columns.age: the file has no column 'AgeYrs' (close columns in the file: 'AgeYears')."
    ]


def test_deprivation_is_optional_unless_a_dimension_asks_for_it(tmp_path, make_people):
    people = make_people().drop("imd_decile")
    found = problems(setup_case(tmp_path, people))
    assert found == [
        "equity.dimensions[0].name: 'imd_decile or imd_quintile' is not in the data. "
        "Fix: map its column in data.columns, or remove it from equity.dimensions[0].name."
    ]
    (tmp_path / "c.yml").write_text("data:\n  path: people.parquet\n", encoding="utf-8")
    config = load_config(tmp_path / "c.yml")
    assert "imd_quintile" not in [d.name for d in config.dimensions]
    report = validate(config)
    assert report.ok and "imd_decile or imd_quintile" in report.missing_optional


def test_wrong_type(tmp_path, make_people):
    people = make_people().with_columns(pl.col("age").cast(pl.String))
    people = people.with_columns(
        pl.when(pl.int_range(pl.len()) < 4).then(pl.lit("forty")).otherwise(pl.col("age")).alias("age")
    )
    found = problems(setup_case(tmp_path, people))
    assert found == [
        (
            "age: 4 value(s) are not whole numbers, e.g. 'forty' (4 rows). "
            "Fix: clean the column or map the codes in data.codes.age (null for missing)."
        )
    ]


def test_unmapped_codes_listed_with_counts_and_fix(tmp_path, make_people):
    people = make_people().with_columns(
        pl.col("sex").replace({"female": "F"}),
    )
    n_f = int(make_people()["sex"].eq("female").sum())
    (message,) = problems(setup_case(tmp_path, people))
    assert message.startswith(f"sex: {n_f} value(s) are not valid codes: 'F' ({n_f} rows).")
    assert "data.codes: {sex: {'F': female}}" in message


def test_ages_outside_0_to_120(tmp_path, make_people):
    people = make_people().with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(130).otherwise(pl.col("age")).alias("age")
    )
    (message,) = problems(setup_case(tmp_path, people))
    assert message.startswith("age: 1 value(s) outside 0-120 (found ") and message.endswith(
        " to 130). Fix: correct or remove these rows."
    )


def test_duplicate_person_ids(tmp_path, make_people):
    people = make_people().with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit("dup"))
        .otherwise(pl.col("person_id"))
        .alias("person_id")
    )
    assert problems(setup_case(tmp_path, people)) == [
        "person_id: 3 rows share an identifier with another row, e.g. 'dup'. Fix: one row per person."
    ]


@pytest.mark.parametrize(
    ("column", "bad", "bounds"), [("imd_decile", 11, "1-10"), ("imd_quintile", 0, "1-5")]
)
def test_deprivation_out_of_range(tmp_path, make_people, column, bad, bounds):
    people = make_people()
    if column == "imd_quintile":
        people = people.with_columns(((pl.col("imd_decile") + 1) // 2).alias("imd_quintile")).drop(
            "imd_decile"
        )
    people = people.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(bad).otherwise(pl.col(column)).alias(column)
    )
    found = problems(setup_case(tmp_path, people))
    assert len(found) == 1 and found[0].startswith(f"{column}: 1 value(s) outside {bounds}")


def test_all_null_column(tmp_path, make_people):
    people = make_people().with_columns(pl.lit(None, dtype=pl.Float64).alias("bmi"))
    assert problems(setup_case(tmp_path, people)) == [
        "bmi: every value is empty. Fix: map the right source column, or remove the column."
    ]


def test_config_columns_absent_from_the_data(tmp_path, make_people):
    people = make_people().drop("stroke_tia", "locality")
    found = problems(
        setup_case(tmp_path, people, data={"truth": "truth.json"}, conditions=["hypertension", "stroke_tia"])
    )
    assert any(p.startswith("conditions: 'stroke_tia' is not in the data") for p in found)
    assert any(p.startswith("equity.dimensions[4].name: 'locality' is not in the data") for p in found)
    assert any(p.startswith("data.truth: file not found") for p in found)


def test_defaults_adapt_to_the_data(tmp_path, make_people):
    """Optional columns the config never named are simply not analysed when absent."""
    people = make_people().drop("stroke_tia", "locality", "cvd_admissions")
    (tmp_path / "people.parquet").parent.mkdir(exist_ok=True)
    people.write_parquet(tmp_path / "people.parquet")
    (tmp_path / "c.yml").write_text("data:\n  path: people.parquet\n", encoding="utf-8")
    config = load_config(tmp_path / "c.yml")
    assert "stroke_tia" not in config.conditions and "hypertension" in config.conditions
    assert "cvd_admissions" not in config.outcomes
    assert "locality" not in [d.name for d in config.dimensions]
    assert {"conditions", "outcomes", "equity.dimensions", "model.target"} <= config.defaulted
    assert problems(config) == []


def test_all_problems_together_and_load_raises(tmp_path, make_people):
    people = make_people().with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(-3).otherwise(pl.col("age")).alias("age"),
        pl.when(pl.int_range(pl.len()) < 2)
        .then(pl.lit("p00009"))
        .otherwise(pl.col("person_id"))
        .alias("person_id"),
        pl.col("smoking").replace({"ex": "former"}),
    )
    config = setup_case(tmp_path, people)
    with pytest.raises(DataError) as info:
        load(config)
    message = str(info.value)
    assert (
        "Problems (3):" in message and "age:" in message and "person_id:" in message and "'former'" in message
    )
    assert info.value.exit_code == 3 and not info.value.report.ok
    assert load(config, validate=False).collect().height == 400


def test_out_of_range_risk_factor_is_only_a_warning(tmp_path, make_people):
    people = make_people().with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(400.0).otherwise(pl.col("bmi")).alias("bmi")
    )
    report = validate(setup_case(tmp_path, people))
    assert report.ok and any(w.startswith("bmi: 1 value(s) outside 10-90") for w in report.warnings)


def test_resolve_dimensions_takes_levels_from_the_data(tmp_path, make_people):
    people = make_people()
    config = setup_case(tmp_path, people)
    resolved = resolve_dimensions(config, load(config))
    locality = resolved.dimension("locality")
    assert locality.order == ("Colchester", "Ipswich", "Tendring")
    assert locality.reference == people["locality"].value_counts(sort=True)["locality"][0]
    assert resolved.dimension("ethnicity") == config.dimension("ethnicity")


def test_default_config_on_the_synthetic_population(default_config):
    report = validate(default_config)
    assert report.ok, report.render()
    frame = load(default_config).collect()
    assert frame.height == report.rows == 20_000
    for name in frame.columns:
        assert frame.schema[name] == CONTRACT[name].dtype, name
    assert {"imd_decile", "imd_quintile", "locality"} <= set(frame.columns)


SEX_VALUES = ["female", "male", "Female", "MALE", "F", "x", "", None]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SEX_VALUES),
            st.one_of(st.none(), st.integers(-5, 130)),
            st.one_of(st.none(), st.integers(0, 12)),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_validation_counts_match_a_plain_python_reference(tmp_path_factory, rows):
    tmp_path = tmp_path_factory.mktemp("prop")
    sex, age, decile = (list(col) for col in zip(*rows, strict=True))
    n = len(rows)
    frame = pl.DataFrame(
        {
            "person_id": [f"id{i}" for i in range(n)],
            "age": age,
            "sex": sex,
            "ethnicity": ["White"] * n,
            "imd_decile": decile,
        },
        schema_overrides={"age": pl.Int64, "imd_decile": pl.Int64, "sex": pl.String},
    )
    config = setup_case(
        tmp_path,
        frame,
        equity={"dimensions": ["sex"]},
        conditions=["chd"],
        outcomes=[],
        model={"target": "chd", "features": []},
    )
    report = validate(config, raise_errors=False)
    valid = {"female", "male"}
    present = [s.strip() for s in sex if s is not None and s.strip()]
    canonical = [s.lower() for s in present if s.lower() in valid]
    assert report.completeness["sex"] == pytest.approx(len(canonical) / n)
    bad = len(present) - len(canonical)
    assert any(p.startswith(f"sex: {bad} value(s) are not valid codes") for p in report.problems) == (bad > 0)
    ages = [a for a in age if a is not None]
    outside = sum(a < 0 or a > 120 for a in ages)
    assert any(p.startswith(f"age: {outside} value(s) outside 0-120") for p in report.problems) == (
        outside > 0
    )
    assert report.completeness["age"] == pytest.approx(len(ages) / n)
    frame_out = load(config, validate=False).collect()
    expected_q = [None if d is None else (d + 1) // 2 for d in decile]
    assert frame_out["imd_quintile"].to_list() == expected_q
    assert frame_out["sex"].to_list() == [
        s.strip().lower() if s is not None and s.strip().lower() in valid else None for s in sex
    ]


def test_only_person_id_and_age_are_required(tmp_path, make_people):
    people = make_people().select("person_id", "age", "chd", "cvd_admissions")
    people.write_parquet(tmp_path / "people.parquet")
    (tmp_path / "c.yml").write_text("data:\n  path: people.parquet\n", encoding="utf-8")
    config = load_config(tmp_path / "c.yml")
    assert [d.name for d in config.dimensions] == ["age_band"]
    report = validate(config)
    assert report.ok and {"sex", "ethnicity", "imd_decile or imd_quintile"} <= set(report.missing_optional)
    assert load(config).collect().columns == ["person_id", "age", "chd", "cvd_admissions"]
    declared = setup_case(
        tmp_path,
        people,
        data={"columns": {"ethnicity": None, "sex": None}},
        equity={"dimensions": ["age_band"]},
    )
    assert validate(declared).ok


def test_a_file_column_read_twice_by_its_name_and_a_mapping(tmp_path, make_people):
    from healthgap.data import SHARED_SOURCE

    config = setup_case(tmp_path, make_people(), data={"columns": {"ethnicity": "sex"}})
    assert SHARED_SOURCE.format(
        name="sex", source="sex", other="ethnicity", where="data.columns.ethnicity"
    ) in problems(config)


def test_custom_dimension_is_text_with_codes_and_missing(tmp_path, make_people):
    people = make_people(200).with_columns((pl.int_range(pl.len()) % 5).cast(pl.Float64).alias("educ"))
    config = setup_case(
        tmp_path,
        people,
        data={"codes": {"education": {"0": None}}},
        equity={
            "dimensions": [
                {
                    "name": "education",
                    "column": "educ",
                    "label": "Education",
                    "order": ["1", "2", "3", "4"],
                    "reference": "4",
                }
            ]
        },
    )
    assert validate(config).ok
    frame = load(config).collect()
    assert frame.schema["education"] == pl.String
    assert frame["education"].to_list() == [None if i % 5 == 0 else str(i % 5) for i in range(200)]
    resolved = resolve_dimensions(config, frame)
    assert resolved.dimension("education").order == ("1", "2", "3", "4")


def test_custom_dimension_levels_from_the_data_sort_as_numbers(tmp_path, make_people):
    people = make_people(60).with_columns((pl.int_range(pl.len()) % 12).alias("band"))
    config = setup_case(tmp_path, people, equity={"dimensions": [{"name": "band", "label": "Band"}]})
    resolved = resolve_dimensions(config, load(config))
    assert resolved.dimension("band").order == tuple(str(i) for i in range(12))


def test_one_level_dimension_warns(tmp_path, make_people):
    from healthgap._validation import FEW_LEVELS

    people = make_people().with_columns(pl.lit("x").alias("site"))
    config = setup_case(tmp_path, people, equity={"dimensions": ["sex", {"name": "site", "label": "Site"}]})
    report = validate(config)
    assert FEW_LEVELS.format(where="equity.dimensions[1]", name="site", n=1) in report.warnings


def test_a_follow_up_feature_is_an_error_naming_it_and_the_fix(tmp_path, make_people):
    from healthgap.config._parse import FEATURE_FOLLOW_UP

    with pytest.raises(ConfigError) as err:
        setup_case(tmp_path, make_people(), model={"features": ["age", "missed_appointments"]})
    assert FEATURE_FOLLOW_UP.format(name="missed_appointments", target="cvd_admissions") in str(err.value)
    assert "Fix: remove it from model.features" in str(err.value)


def test_a_listed_measure_must_be_in_the_data_and_truth_of_any_flag(tmp_path, make_people):
    people = make_people().with_columns(pl.col("chd").alias("chd_10y"), pl.col("chd").alias("true_chd_10y"))
    measure = {"name": "chd_10y", "label": "CHD in ten years", "kind": "outcome", "type": "flag"}
    config = setup_case(tmp_path, people, measures=[measure, {"name": "ckd"}])
    assert validate(config).ok
    frame = load(config).collect()
    assert frame["true_chd_10y"].to_list() == people["chd"].to_list() and frame.columns[-1] == "true_chd_10y"
    absent = setup_case(tmp_path, people.drop("ckd"), measures=[{"name": "ckd"}])
    assert any(p.startswith("measures[0]: 'ckd' is not in the data") for p in problems(absent))
