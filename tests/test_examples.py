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
