"""The second dataset ("other trust") and the init round trip on it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from healthgap.config import load_config
from healthgap.data import load, validate
from healthgap.examples import LETTERS_BY_GROUP, OTHER_TRUST_COLUMNS, other_trust_frame
from healthgap.scaffold import write_starter_config
from healthgap.vocabulary import NHS_ETHNIC_CATEGORY, guess_codes, guess_columns

REPO = Path(__file__).resolve().parents[1]


def test_letters_map_back_to_their_group():
    for group, letters in LETTERS_BY_GROUP.items():
        assert {NHS_ETHNIC_CATEGORY[letter] for letter in letters if letter} == {group}
    config = load_config(REPO / "data" / "examples" / "other_trust.yml")
    assert config.data.codes["ethnicity"] == {k: v for k, v in NHS_ETHNIC_CATEGORY.items()}
    assert {v: k for k, v in config.data.columns.items()} == {v: k for k, v in OTHER_TRUST_COLUMNS.items()}


def test_reshaped_frame_round_trips_through_the_config(tmp_path, make_people):
    people = make_people(500)
    other = other_trust_frame(people, seed=5)
    assert other.columns == list(OTHER_TRUST_COLUMNS.values())
    assert set(other["Gender"].unique()) <= {"M", "F"}
    assert set(other["HTN_Register"].unique()) <= {"Y", "N"}
    other.write_csv(tmp_path / "other_trust.csv")
    (tmp_path / "other_trust.yml").write_bytes((REPO / "data" / "examples" / "other_trust.yml").read_bytes())
    config = load_config(tmp_path / "other_trust.yml")
    assert validate(config).ok
    back = load(config).collect()
    for name in (
        "age",
        "sex",
        "ethnicity",
        "hypertension",
        "chd",
        "smoking",
        "statin",
        "cvd_admissions",
        "cvd_death",
    ):
        assert back[name].to_list() == people[name].to_list(), name
    assert back["imd_quintile"].to_list() == ((people["imd_decile"] + 1) // 2).to_list()
    assert back["systolic_bp"].to_list() == people["systolic_bp"].round(0).to_list()


def test_init_round_trip_validates_directly(tmp_path, make_people):
    other_trust_frame(make_people(300), seed=2).write_csv(tmp_path / "extract.csv")
    result = write_starter_config(tmp_path / "extract.csv", out=tmp_path / "configs" / "starter.yml")
    assert result.columns == {k: v for k, v in OTHER_TRUST_COLUMNS.items()}
    assert not result.todo
    config = load_config(result.path)
    assert config.data.path == (tmp_path / "extract.csv").resolve()
    assert config.conditions == ("hypertension", "chd", "af", "diabetes")
    report = validate(config)
    assert report.ok and report.rows == 300


def test_init_flags_what_it_cannot_guess(tmp_path):
    pl.DataFrame(
        {
            "pid": ["a", "b"],
            "Years": [40, 50],
            "Sex": ["1", "Q"],
            "Ethnic Group": ["White British", "Black African"],
            "IMD Decile": [1, 9],
            "Flag": ["x", "y"],
        }
    ).write_csv(tmp_path / "odd.csv")
    result = write_starter_config(tmp_path / "odd.csv", out=tmp_path / "odd.yml")
    assert result.columns["person_id"] == "pid" and result.columns["imd_decile"] == "IMD Decile"
    assert result.codes["sex"] == {"1": "male"}
    assert result.codes["ethnicity"] == {"White British": "White", "Black African": "Black"}
    assert any("data.codes.sex" in t and "'Q'" in t for t in result.todo)
    assert any(t.startswith("data.columns.age") for t in result.todo)
    text = result.path.read_text()
    assert "# age: TODO" in text and "TODO: map 'Q'" in text


@pytest.mark.parametrize(
    ("canon", "value", "expected"),
    [
        ("sex", "F", "female"),
        ("sex", "9", None),
        ("ethnicity", "R", "Asian"),
        ("ethnicity", "White and Asian", "Mixed"),
        ("ethnicity", "Any other White background", "White"),
        ("ethnicity", "Black British", "Black"),
        ("smoking", "Ex-smoker", "ex"),
        ("smoking", "Non-smoker", "never"),
        ("smoking", "Current smoker", "current"),
    ],
)
def test_code_guesses(canon, value, expected):
    assert guess_codes(canon, [value]) == ({value: expected}, [])


def test_column_guesses():
    assert guess_columns(["NHS_Number", "Age", "gender", "LSOA11CD", "HTN_Register", "LatestSBP", "Foo"]) == {
        "person_id": "NHS_Number",
        "age": "Age",
        "sex": "gender",
        "lsoa": "LSOA11CD",
        "hypertension": "HTN_Register",
        "systolic_bp": "LatestSBP",
    }


def test_other_trust_fixture_validates(other_trust_config):
    report = validate(other_trust_config)
    assert report.ok and report.rows == 20_000
    frame = load(other_trust_config).collect()
    assert "imd_decile" not in frame.columns and "locality" not in frame.columns
    assert other_trust_config.data.truth is None and other_trust_config.data.boundaries is None


def test_init_on_the_written_example_validates(other_trust_dir, tmp_path):
    result = write_starter_config(other_trust_dir / "other_trust.csv", out=tmp_path / "guessed.yml")
    assert not result.todo
    guessed = load_config(result.path)
    shipped = load_config(other_trust_dir / "other_trust.yml")
    assert guessed.data.columns == shipped.data.columns
    assert validate(guessed).ok
    assert load(guessed).collect().equals(load(shipped).collect())


# --- the cohort and no_deprivation examples (issue 10) -------------------------------------------


def _cohort(tmp_path: Path, n: int = 2_000, seed: int | None = None) -> pl.DataFrame:
    from healthgap.examples import write_example

    path = write_example("cohort", tmp_path, n=n, seed=seed)
    return pl.read_csv(path, null_values="NA")


def test_cohort_has_the_framingham_shape(tmp_path):
    from healthgap.examples import COHORT_COLUMNS, COHORT_MISSING

    frame = _cohort(tmp_path)
    assert tuple(frame.columns) == COHORT_COLUMNS and frame.height == 2_000
    assert frame["age"].min() >= 32 and frame["age"].max() <= 70
    for flag in ("male", "currentSmoker", "prevalentStroke", "prevalentHyp", "diabetes", "TenYearCHD"):
        assert set(frame[flag].unique()) == {0, 1}, flag
    assert set(frame["BPMeds"].unique()) == {0, 1, 9}  # 9 = not recorded
    assert set(frame["education"].drop_nulls().unique()) == {1, 2, 3, 4}
    missing = frame.select(pl.col(c).null_count() / pl.len() for c in COHORT_MISSING if c != "BPMeds").row(0)
    assert all(0 < m < 0.15 for m in missing), missing
    assert 0.10 < frame["TenYearCHD"].mean() < 0.20
    assert 150 < frame["totChol"].median() < 260  # mg/dL, not mmol/L
    text = (tmp_path / "cohort.csv").read_text().splitlines()
    assert text[0].startswith("participant,male,age,education") and any(",NA," in line for line in text[1:50])


def test_examples_are_deterministic_for_a_seed(tmp_path):
    from healthgap.examples import write_example

    for kind in ("cohort", "no_deprivation"):
        a = write_example(kind, tmp_path / "a", n=400).read_bytes()
        b = write_example(kind, tmp_path / "b", n=400).read_bytes()
        c = write_example(kind, tmp_path / "c", n=400, seed=99).read_bytes()
        assert a == b and a != c, kind


def test_cohort_config_validates_and_maps_every_column(tmp_path):
    frame = _cohort(tmp_path)
    text = (tmp_path / "cohort.yml").read_text(encoding="utf-8")
    assert "TODO" not in text
    config = load_config(tmp_path / "cohort.yml")
    report = validate(config)
    assert report.ok and report.rows == 2_000, report.render()
    loaded = load(config).collect()
    both = pl.DataFrame({"loaded": loaded["cholesterol"], "mg": frame["totChol"]})
    assert both["loaded"].is_null().to_list() == both["mg"].is_null().to_list()
    assert both.drop_nulls()["loaded"].to_list() == pytest.approx(
        (both.drop_nulls()["mg"] / 38.67).to_list(), rel=1e-12
    )
    assert loaded["antihypertensive"].null_count() == (frame["BPMeds"] == 9).sum()  # 9 is missing, not "no"
    assert loaded["sex"].to_list() == frame["male"].replace_strict({1: "male", 0: "female"}).to_list()
    assert loaded["education"].null_count() == frame["education"].null_count()
    education = config.dimension("education")
    assert education.ordered and education.disadvantaged == "first" and education.reference == "4"
    assert education.label_of("1") == "Some high school" and education.noun == "education level"
    assert [d.name for d in config.dimensions] == ["education", "sex", "age_band"]
    chd = config.measure("chd_10y")
    assert (chd.kind, chd.type, chd.timing, chd.period) == (
        "outcome",
        "flag",
        "follow-up",
        "within ten years",
    )
    depression = config.measure("depression")
    assert (depression.kind, depression.type, depression.label) == ("condition", "flag", "Depression")
    assert config.conditions == ("hypertension", "stroke_tia", "diabetes", "depression")
    assert config.outcomes == ("chd_10y",) and config.model.target == "chd_10y"
    assert config.indicator("bp_treated").denominator == "hypertension"
    assert "ethnicity" in config.data.absent and config.data.truth is None and config.data.boundaries is None
    assert not {"ethnicity", "imd_quintile", "imd_decile", "lsoa", "locality", "gp_practice"} & set(
        loaded.columns
    )


def test_cohort_has_inequalities_by_education(tmp_path):
    from healthgap.examples import write_example

    write_example("cohort", tmp_path)  # the default size, 5,000
    people = load(load_config(tmp_path / "cohort.yml")).collect()
    by = (
        people.drop_nulls("education")
        .group_by("education")
        .agg(pl.col("chd_10y", "depression", "current_smoker").mean())
        .sort("education")
    )
    least, most = by.row(0, named=True), by.row(-1, named=True)  # level 1 (least education), level 4
    assert (least["education"], most["education"]) == ("1", "4")
    for measure in ("chd_10y", "depression", "current_smoker"):
        assert least[measure] > 1.3 * most[measure], measure


def test_no_deprivation_has_the_gp_extract_shape(tmp_path):
    from healthgap.examples import ETHNIC_SHARES, NO_DEPRIVATION_COLUMNS, ONS_GROUP_NAMES, write_example

    path = write_example("no_deprivation", tmp_path, n=2_000)
    frame = pl.read_csv(path)
    assert frame.columns == list(NO_DEPRIVATION_COLUMNS.values())
    assert set(frame["SexCode"].unique()) == {1, 2, 9}
    shares = dict(frame["EthnicGroup"].value_counts(normalize=True).iter_rows())
    assert shares == pytest.approx({ONS_GROUP_NAMES[g]: s for g, s in ETHNIC_SHARES.items()}, abs=1e-3)
    for flag in ("HYP", "CHD", "AF", "HF", "DM", "CKD", "Statin", "AntiHypertensive", "Anticoagulant"):
        assert set(frame[flag].unique()) == {0, 1}, flag
    assert not any("imd" in c.lower() or "lsoa" in c.lower() for c in frame.columns)
    config = load_config(tmp_path / "no_deprivation.yml")
    assert "TODO" not in (tmp_path / "no_deprivation.yml").read_text(encoding="utf-8")
    report = validate(config)
    assert report.ok and report.rows == 2_000, report.render()
    loaded = load(config).collect()
    assert loaded["sex"].null_count() == (frame["SexCode"] == 9).sum()
    assert loaded["ethnicity"].value_counts(normalize=True).sort("ethnicity")[
        "proportion"
    ].to_list() == pytest.approx([ETHNIC_SHARES[g] for g in sorted(ETHNIC_SHARES)], abs=1e-3)
    assert [d.name for d in config.dimensions] == ["ethnicity", "sex", "age_band"]
    assert "imd_quintile" not in loaded.columns and "locality" not in loaded.columns


def test_no_deprivation_has_inequalities_by_ethnic_group(tmp_path):
    from healthgap.examples import write_example

    write_example("no_deprivation", tmp_path)  # the default size, 20,000
    people = load(load_config(tmp_path / "no_deprivation.yml")).collect()
    middle_aged = people.filter(pl.col("age").is_between(40, 69))
    diabetes = dict(middle_aged.group_by("ethnicity").agg(pl.col("diabetes").mean()).iter_rows())
    assert diabetes["Asian"] > 1.5 * diabetes["White"] and diabetes["Black"] > 1.2 * diabetes["White"]


def test_example_command_writes_each_kind(tmp_path, capsys):
    from healthgap import cli

    assert cli.main(["example", "--kind", "cohort", "--n", "300", "--out", str(tmp_path / "one")]) == 0
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["cohort.csv", "cohort.yml"]
    assert "Writing the 'cohort' example dataset (300 people)" in capsys.readouterr().out
    assert cli.main(["example", "--n", "600", "--out", str(tmp_path / "all")]) == 0
    names = sorted(p.name for p in (tmp_path / "all").iterdir())
    assert names == sorted(
        f"{k}.{e}" for k in ("cohort", "no_deprivation", "other_trust") for e in ("csv", "yml")
    )
    with pytest.raises(SystemExit):
        cli.main(["example", "--kind", "framingham"])


def test_make_example_writes_every_example():
    from healthgap.examples import KINDS

    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    line = next(x for x in makefile.splitlines() if x.startswith("EXAMPLE :="))
    assert line.split(":=")[1].split() == [f"data/examples/{k}.csv" for k in KINDS]
    assert "healthgap example --kind $*" in makefile
    for kind in KINDS:
        assert (REPO / "data" / "examples" / f"{kind}.yml").is_file()


def test_init_on_the_cohort_proposes_what_the_readme_says(tmp_path):
    """The README walks through `healthgap init` on the cohort: the two TODOs and the guesses."""
    from healthgap.examples import write_example

    write_example("cohort", tmp_path)
    result = write_starter_config(tmp_path / "cohort.csv", out=tmp_path / "my-cohort.yml")
    assert [t.split(":")[0] for t in result.todo] == ["equity.dimensions", "data.codes.antihypertensive"]
    assert result.measures == ("glucose", "chd_10y", "current_smoker") and result.target == "chd_10y"
    assert result.derive == {"glucose": "glucose / 18.016", "cholesterol": "totChol / 38.67"}
    assert result.columns["sex"] == "male" and result.columns["antihypertensive"] == "BPMeds"
    assert "prevalentDepression" in result.path.read_text(encoding="utf-8")  # listed as not used
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "healthgap init data/examples/cohort.csv" in readme


def test_readme_documents_profiles_measures_and_indicators():
    """The Configuration reference has a row for every top-level key and a table of the fields of
    a measure and of an indicator (tests/test_config.py checks the other sections' keys)."""
    from healthgap.config import _measures, _parse

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    reference = readme[readme.index("## Configuration reference") : readme.index("## Publishing")]
    for key in _parse.TOP_KEYS:
        assert f"| `{key}" in reference, key
    for title, keys in (
        ("Fields of a `measures` entry", _measures.MEASURE_KEYS),
        ("Fields of an `indicators` entry", _measures.INDICATOR_KEYS),
    ):
        table = reference[reference.index(title) :]
        table = table[: table.index("\n\n", table.index("| field |"))]
        assert [row.split("`")[1] for row in table.splitlines() if row.startswith("| `")] == list(keys), title
