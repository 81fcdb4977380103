"""The data dictionary page: counts of columns, the truth note and the table."""

from __future__ import annotations

import polars as pl

from healthgap.contract import CONTRACT
from healthgap.pages.data_dictionary import TRUTH_ABSENT, TRUTH_USED, DataDictionaryPage
from tests.conftest import build_people
from tests.pages.conftest import html_of


def test_counts_the_columns_this_dataset_has(page_of):
    people = build_people(60)
    page = page_of(DataDictionaryPage, people)
    present = set(page.book.frame.columns) & set(CONTRACT)
    assert page.total == len(CONTRACT)
    assert page.present == len(present)
    dropped = page_of(DataDictionaryPage, people.drop("smoking", "bmi"))
    assert dropped.present == page.present - 2


def test_truth_note_follows_the_data(page_of):
    people = build_people(60)
    assert html_of(page_of(DataDictionaryPage, people).truth_text()) == TRUTH_ABSENT
    with_truth = people.with_columns(pl.col("hypertension").alias("true_hypertension"))
    assert html_of(page_of(DataDictionaryPage, with_truth).truth_text()) == TRUTH_USED


def test_table_marks_each_column_and_writes_its_download(page_of):
    page = page_of(DataDictionaryPage, build_people(60).drop("smoking"))
    markup = html_of(page.table())
    assert 'id="dictionary"' in markup and "The columns of the person table" in markup
    rows = page.dictionary.filter(pl.col("column") == "smoking")
    assert rows.get_column("in this dataset").to_list() == ["no"]
    assert (page.book.downloads / "data-dictionary" / "dictionary.csv").is_file()


def test_a_cohorts_declared_measures_and_groups_are_listed(page_of):
    people = build_people(200).with_columns(
        (pl.col("age") > 60).alias("chd_10y"),
        ((pl.col("imd_decile") + 2) // 3).clip(1, 4).cast(pl.String).alias("education"),
    )
    page = page_of(
        DataDictionaryPage,
        people,
        measures=[
            {
                "name": "chd_10y",
                "label": "Coronary heart disease within ten years",
                "kind": "outcome",
                "type": "flag",
                "timing": "follow-up",
                "description": "CHD within ten years of the baseline.",
            },
            {"name": "stroke_tia", "label": "Stroke"},
        ],
        equity={
            "dimensions": [
                {
                    "name": "education",
                    "label": "Education level",
                    "order": ["1", "2", "3", "4"],
                    "reference": "4",
                },
                "sex",
            ]
        },
    )
    rows = {r["column"]: r for r in page.dictionary.iter_rows(named=True)}
    assert rows["chd_10y"]["label"] == "Coronary heart disease within ten years"
    assert rows["chd_10y"]["in this dataset"] == "yes" and rows["chd_10y"]["group"] == "outcome"
    assert rows["stroke_tia"]["label"] == "Stroke"  # the config's own label for a profile measure
    assert rows["education"]["valid values"] == "1, 2, 3, 4" and rows["education"]["in this dataset"] == "yes"
    assert rows["person_id"]["required"] == "yes" and rows["age"]["required"] == "yes"
    assert {r["column"] for r in rows.values() if r["required"] == "yes"} == {"person_id", "age"}
    assert page.total == len(rows) and page.present <= page.total


def test_inline_values_are_never_empty(page_of):
    """Every value the chapter shows inline is a phrase or sentence, whatever the data lack
    (Quarto prints an empty inline value as code)."""
    full = build_people(400)
    for people, dims in (
        (full.select("person_id", "age"), ["age_band"]),
        (full.head(30), None),
    ):
        equity = {"dimensions": dims} if dims else {}
        page = page_of(DataDictionaryPage, people, target=False, equity=equity)
        for name, value in {
            "present": page.present,
            "total": page.total,
            "truth_text()": page.truth_text(),
        }.items():
            assert str(html_of(value)).strip(), name
