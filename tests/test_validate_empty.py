"""An entirely empty column: a problem when the book needs it, a warning when it can do without.

Found by the final CI run of round 3: a 100-person sample of the default population in which nobody
was referred (waits are recorded for referred people only) was stopped by ``validate`` although an
absent waits column only gives the pages a skip note.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from healthgap._validation import ALL_NULL, EMPTY_OPTIONAL, needed_columns
from healthgap.config import load_config
from healthgap.data import validate

FEATURES = ["age", "bmi", "hypertension"]


def config_of(tmp_path: Path, people: pl.DataFrame) -> object:
    people.write_parquet(tmp_path / "people.parquet")
    doc = {
        "data": {"path": "people.parquet"},
        "equity": {"dimensions": ["imd_quintile", "sex", "locality"]},
        "model": {"target": "cvd_admissions", "features": FEATURES},
    }
    (tmp_path / "c.yml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(tmp_path / "c.yml")


def nobody_referred(people: pl.DataFrame) -> pl.DataFrame:
    return people.with_columns(
        pl.lit(False).alias("cardiology_referral"),
        pl.lit(None, dtype=pl.Int64).alias("days_to_first_outpatient"),
    )


def test_waits_empty_because_nobody_was_referred_only_warn(tmp_path, make_people):
    report = validate(config_of(tmp_path, nobody_referred(make_people())), raise_errors=False)
    assert report.ok, report.problems
    assert EMPTY_OPTIONAL.format(name="days_to_first_outpatient") in report.warnings
    assert not any(p.startswith("days_to_first_outpatient") for p in report.problems)


@pytest.mark.parametrize(
    ("column", "dtype"),
    [("bmi", pl.Float64), ("cvd_admissions", pl.Int64), ("locality", pl.String), ("age", pl.Int64)],
)
def test_an_empty_column_the_book_needs_still_stops(tmp_path, make_people, column, dtype):
    """A listed feature, the target, a dimension, a required column: a mapping mistake."""
    people = nobody_referred(make_people()).with_columns(pl.lit(None, dtype=dtype).alias(column))
    report = validate(config_of(tmp_path, people), raise_errors=False)
    assert ALL_NULL.format(name=column) in report.problems
    assert not any(p.startswith("days_to_first_outpatient") for p in report.problems)


def test_needed_columns_names_exactly_the_columns_the_book_cannot_do_without(tmp_path, make_people):
    needed = needed_columns(config_of(tmp_path, make_people()))
    assert {"person_id", "age", "imd_quintile", "sex", "locality", "cvd_admissions", *FEATURES} <= needed
    assert not {"days_to_first_outpatient", "days_to_treatment", "gp_experience_good", "ethnicity"} & needed
