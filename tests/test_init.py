"""``healthgap init`` on a Framingham-shaped and an NHEFS-shaped extract made here.

The frames copy the two public cohorts' column names and codings (not their data): the
heart-study extract has ``male`` 0/1, ``education`` 1-4, cholesterol and glucose in mg/dL,
``NA`` for missing and a ten-year outcome; the follow-up cohort has ``seqn``, ``sex`` 0/1,
``race`` in two groups, conditions coded 0/1/2 (2 = missing), all-cause ``death`` and
cholesterol in mg/dL, and neither has ethnicity, deprivation or geography.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from healthgap import cli
from healthgap.config import load_config
from healthgap.data import load, validate
from healthgap.scaffold import MIN_CASES, write_starter_config
from healthgap.scaffold import _guess as G
from healthgap.vocabulary import level_indicator, outcome_within


def framingham(n: int = 600, seed: int = 1, chd: float = 0.15) -> pl.DataFrame:
    rng = np.random.default_rng(seed)

    def some_missing(values: np.ndarray, p: float) -> list:
        return [None if rng.random() < p else v for v in values.tolist()]

    return pl.DataFrame(
        {
            "participant": [f"F{i:05d}" for i in range(n)],
            "male": rng.integers(0, 2, n),
            "age": rng.integers(32, 71, n),
            "education": some_missing(rng.integers(1, 5, n), 0.02),
            "currentSmoker": rng.integers(0, 2, n),
            "cigsPerDay": rng.integers(0, 40, n),
            "BPMeds": some_missing(rng.choice([0, 1], n, p=[0.97, 0.03]), 0.01),
            "prevalentStroke": rng.choice([0, 1], n, p=[0.99, 0.01]),
            "prevalentHyp": rng.choice([0, 1], n, p=[0.69, 0.31]),
            "diabetes": rng.choice([0, 1], n, p=[0.97, 0.03]),
            "totChol": some_missing(np.round(rng.normal(237, 44, n)).astype(int), 0.01),
            "sysBP": np.clip(np.round(rng.normal(132, 22, n), 1), 85, 250),
            "diaBP": np.round(rng.normal(83, 12, n), 1),
            "BMI": some_missing(np.round(rng.normal(25.8, 4, n), 2), 0.005),
            "heartRate": rng.integers(50, 110, n),
            "glucose": some_missing(np.clip(np.round(rng.normal(82, 24, n)), 40, 400).astype(int), 0.09),
            "TenYearCHD": rng.choice([0, 1], n, p=[1 - chd, chd]),
        }
    )


def nhefs(n: int = 400, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)

    def condition(p: float) -> np.ndarray:
        return rng.choice([0, 1, 2], n, p=[1 - p - 0.02, p, 0.02])

    return pl.DataFrame(
        {
            "seqn": rng.permutation(np.arange(200, 200 + 3 * n, 3))[:n],
            "qsmk": rng.integers(0, 2, n),
            "death": rng.choice([0, 1], n, p=[0.8, 0.2]),
            "sbp": [None if rng.random() < 0.05 else int(v) for v in rng.normal(129, 20, n)],
            "dbp": [None if rng.random() < 0.05 else int(v) for v in rng.normal(78, 10, n)],
            "sex": rng.integers(0, 2, n),
            "age": rng.integers(25, 75, n),
            "race": rng.choice([0, 1], n, p=[0.87, 0.13]),
            "income": rng.integers(11, 23, n),
            "education": rng.integers(1, 6, n),
            "hbp": condition(0.35),
            "diabetes": condition(0.05),
            "hf": condition(0.01),
            "cholesterol": [None if rng.random() < 0.01 else int(v) for v in rng.normal(220, 45, n)],
            "smokeyrs": rng.integers(1, 50, n),
        }
    )


def init(tmp_path: Path, frame: pl.DataFrame, name: str):
    frame.write_csv(tmp_path / f"{name}.csv", null_value="NA")
    return write_starter_config(tmp_path / f"{name}.csv", out=tmp_path / f"{name}.yml")


def resolved(path: Path) -> Path:
    """The starter config with every TODO accepted as guessed (the comments removed)."""
    text = re.sub(r"(;|  #) TODO.*", "", path.read_text(encoding="utf-8"))
    out = path.with_name(path.stem + "_checked.yml")
    out.write_text(text, encoding="utf-8")
    return out


def null_lines_without_todo(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if re.search(r":\s*null\b", line) and line.strip().startswith('"') and "TODO" not in line
    ]


def test_framingham_shaped_extract(tmp_path):
    result = init(tmp_path, framingham(), "framingham")
    assert result.columns == {
        "sex": "male",
        "person_id": "participant",
        "age": "age",
        "hypertension": "prevalentHyp",
        "stroke_tia": "prevalentStroke",
        "diabetes": "diabetes",
        "bmi": "BMI",
        "systolic_bp": "sysBP",
        "antihypertensive": "BPMeds",
    }
    assert result.codes["sex"] == {"1": "male", "0": "female"}  # named for one level: sure
    assert result.measures == ("glucose", "chd_10y", "current_smoker")
    assert result.derive == {"glucose": "glucose / 18.016", "cholesterol": "totChol / 38.67"}
    assert result.dimensions == ("sex", "age_band", "education")
    assert result.target == "chd_10y" and result.target_note.startswith("model target: chd_10y (")
    assert [w.split(":")[0] for w in result.warnings] == ["glucose", "totChol"]
    assert "looks like mg/dL" in result.warnings[1] and "totChol / 38.67" in result.warnings[1]
    assert len(result.todo) == 1 and result.todo[0].startswith("equity.dimensions: education: TODO")
    text = result.path.read_text(encoding="utf-8")
    assert 'period: "within ten years", timing: "follow-up"' in text
    assert 'ordered: true, disadvantaged: "first"' in text
    assert "# Not used (nothing matched): cigsPerDay, diaBP, heartRate" in text
    report = validate(load_config(resolved(result.path)))
    assert report.ok, report.render()
    frame = load(load_config(resolved(result.path))).collect()
    assert frame.schema["education"] == pl.String and frame["education"].null_count() > 0  # NA is missing
    assert frame["cholesterol"].median() == pytest.approx(237 / 38.67, rel=0.05)


def test_nhefs_shaped_extract(tmp_path):
    result = init(tmp_path, nhefs(), "nhefs")
    assert result.columns == {
        "person_id": "seqn",
        "age": "age",
        "sex": "sex",
        "hypertension": "hbp",
        "heart_failure": "hf",
        "diabetes": "diabetes",
        "systolic_bp": "sbp",
    }  # smokeyrs is not smoking status: a similar name whose values are no smoking codes
    assert result.codes["sex"] == {"1": "male", "0": "female"}
    assert any(t.startswith("data.codes.sex: TODO: check: 0/1 sex codes") for t in result.todo)
    for condition in ("hypertension", "heart_failure", "diabetes"):
        assert result.codes[condition] == {"2": None}
        assert any(t.startswith(f"data.codes.{condition}: TODO: '2' (") for t in result.todo)
    assert result.measures == ("death",) and result.target == "death"
    assert result.dimensions == ("sex", "age_band", "race", "education")
    assert result.derive == {"cholesterol": "cholesterol / 38.67"}
    text = result.path.read_text(encoding="utf-8")
    assert null_lines_without_todo(text) == []  # never a silent null
    checked = load_config(resolved(result.path))
    assert validate(checked).ok
    frame = load(checked).collect()
    people = nhefs()
    assert frame["hypertension"].null_count() == (people["hbp"] == 2).sum()  # missing, not "no"
    assert frame["hypertension"].sum() == (people["hbp"] == 1).sum()


def test_validate_fails_while_a_todo_is_left_and_names_the_lines(tmp_path, capsys):
    result = init(tmp_path, nhefs(), "nhefs")
    report = validate(load_config(result.path), raise_errors=False)
    todo = [p for p in report.problems if "a TODO is left" in p]
    lines = [i for i, line in enumerate(result.path.read_text().splitlines(), start=1) if "TODO" in line]
    assert [int(p.split(" line ")[1].split(":")[0]) for p in todo] == lines and len(lines) == 7
    assert todo[0].startswith("nhefs.yml line ") and todo[0].endswith(
        "Fix: resolve it, then delete the TODO marker."
    )
    assert cli.main(["validate", "--config", str(result.path)]) == 3
    assert "a TODO is left" in capsys.readouterr().err


def test_no_target_below_fifty_cases(tmp_path):
    frame = framingham(n=300, chd=0.02)
    result = init(tmp_path, frame, "few")
    cases = int(frame["TenYearCHD"].sum())
    assert cases < MIN_CASES and result.target == ""
    assert result.target_note == G.NO_TARGET.format(min=MIN_CASES, found=f" (chd_10y has {cases:,})")
    text = result.path.read_text(encoding="utf-8")
    assert "  # target: none proposed: no outcome has 50 or more cases" in text and "  target:" not in text


def test_init_prints_what_it_did(tmp_path, capsys):
    framingham().write_csv(tmp_path / "f.csv", null_value="NA")
    assert cli.main(["init", str(tmp_path / "f.csv"), "--out", str(tmp_path / "f.yml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        f"Wrote {tmp_path / 'f.yml'}: 9 columns mapped (male -> sex, participant -> person_id"
    )
    assert "New measures declared: glucose, chd_10y, current_smoker." in out
    assert "Model target: chd_10y (" in out and "Warnings:" in out and "Still to do" in out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("TenYearCHD", ("chd_10y", "Coronary heart disease within ten years", "within ten years")),
        ("CHD10yr", ("chd_10y", "Coronary heart disease within ten years", "within ten years")),
        ("stroke_5y", ("stroke_tia_5y", "Stroke or TIA within five years", "within five years")),
        ("ageyears", None),
        ("death", None),
    ],
)
def test_outcome_names(name, expected):
    assert outcome_within(name) == expected


def test_level_indicators():
    assert level_indicator("male") == ("sex", "male", "female")
    assert level_indicator("IsFemale") == ("sex", "female", "male")
    assert level_indicator("gender") is None
