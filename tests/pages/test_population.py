"""The population page: its facts, the published tables (shares from the published counts) and sentences."""

from __future__ import annotations

import math

import polars as pl
import pytest

from healthgap.pages.population import (
    PopulationPage,
    holds,
    not_stated_groups,
    registered,
    rounded,
    size,
    worst_columns,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of


def r5(x: int) -> int | None:
    """A count as published by hand: 1-7 suppressed, others to the nearest 5 (halves up)."""
    return None if 0 < x < 8 else 5 * math.floor(x / 5 + 0.5)


def test_size_and_practices():
    assert size({"people": 250_004}) == "250,000"
    assert registered({"practices": 100}) == "registered with 100 GP practices"
    assert registered({"practices": 1}) == "registered with 1 GP practice"
    assert registered({"people": 10}) == ""  # no practice codes: nothing is said about practices
    assert holds({"people": 4236}) == "4,240 people"
    assert holds({"people": 4236, "practices": 12}) == "4,240 people registered with 12 GP practices"


def test_counts_in_sentences_are_rounded_like_the_tables():
    assert rounded(3, base=5, smallest=8) == "fewer than 8"
    assert rounded(0, base=5, smallest=8) == "0"
    assert rounded(1234, base=5, smallest=8) == "1,235"
    assert rounded(1234, base=1, smallest=8) == "1,234"


def test_facts_of_the_population(page_of):
    people = build_people(400)
    page = page_of(PopulationPage, people)
    assert page.size == "400" and page.registered == "registered with 3 GP practices"
    assert page.median_age == f"{people['age'].median():.0f}"
    assert page.female == f"{100 * (people['sex'] == 'female').mean():.1f}"
    assert page.aged_65_plus == f"{100 * (people['age'] >= 65).mean():.1f}"
    assert page.not_stated_share == f"{100 * (people['ethnicity'] == 'Not stated').mean():.1f}"
    assert page.small_counts == "; counts from 1 to 7 are never shown"
    assert html_of(page.small_groups()) == (
        "Groups with few people give wide confidence intervals in later chapters; counts from 1 to 7 are never "
        "shown (see @sec-methods)."
    )
    assert html_of(page.ages()) == (
        f"Their median age is {page.median_age} years, {page.aged_65_plus}% are aged 65 or over and "
        f"{page.female}% are female. @fig-pyramid shows the age and sex structure."
    )
    off = page_of(PopulationPage, people, disclosure={"enabled": False, "reason": "a test"})
    assert off.small_counts == ""
    assert html_of(off.small_groups()) == (
        "Groups with few people give wide confidence intervals in later chapters (see @sec-methods)."
    )


def test_without_sex_or_ethnicity(page_of):
    """No sex: no pyramid and no share female; no ethnicity: the section is one skip note and nothing else."""
    people = build_people(400).drop("sex", "ethnicity")
    page = page_of(PopulationPage, people, equity={"dimensions": ["imd_quintile", "age_band"]}, target=False)
    assert html_of(page.ages()) == (
        f"Their median age is {page.median_age} years and {page.aged_65_plus}% are aged 65 or over."
    )
    assert "hg-skip" in html_of(page.pyramid()) and "no sex column" in html_of(page.pyramid())
    assert page.not_stated_text() is None
    assert "hg-skip" in html_of(page.not_stated()) and "ethnic group column" in html_of(page.not_stated())
    assert page.holds and page.worst_columns()


def test_people_with_no_sex_recorded_are_counted_under_the_pyramid(page_of):
    people = build_people(400).with_columns(
        pl.when(pl.int_range(pl.len()) < 23).then(None).otherwise(pl.col("sex")).alias("sex")
    )
    page = page_of(PopulationPage, people)
    assert "The 25 people with no sex recorded are not shown." in html_of(page.pyramid())
    assert page.female == f"{100 * (people['sex'].drop_nulls() == 'female').mean():.1f}"


def test_nobody_with_an_ethnic_group_recorded(page_of):
    people = build_people(400).with_columns(pl.lit("Not stated").alias("ethnicity"))
    page = page_of(PopulationPage, people)
    assert html_of(page.not_stated_text()) == (
        "When a person's ethnic group is not recorded, any inequality they experience is invisible. No one in "
        "the data has an ethnic group recorded."
    )
    assert "hg-skip" in html_of(page.not_stated())


def test_missing_ethnicity_by_a_dimension_of_the_datasets_own(page_of):
    people = build_people(4000).with_columns(
        ((pl.col("imd_decile") + 2) // 3).clip(1, 3).cast(pl.String).alias("education")
    )
    page = page_of(
        PopulationPage,
        people,
        equity={
            "dimensions": [
                {
                    "name": "education",
                    "label": "Education level",
                    "order": ["1", "2", "3"],
                    "reference": "3",
                    "ordered": True,
                    "disadvantaged": "first",
                    "labels": {"1": "None", "3": "Degree"},
                },
                "ethnicity",
                "sex",
            ]
        },
    )
    text = html_of(page.not_stated_text())
    assert "The share with no ethnic group recorded was " in text and "in education level 3 (degree)" in text
    assert "deprivation" not in text and "fifth" not in text
    assert "@fig-not-stated shows it by every group." in text
    assert "for each education level and sex." in page.not_stated_description()


def test_completeness_lists_the_datasets_own_measures(page_of):
    people = build_people(400).with_columns(
        pl.when(pl.col("age") > 90).then(None).otherwise(pl.col("age") > 50).alias("depression")
    )
    page = page_of(
        PopulationPage,
        people,
        measures=[{"name": "depression", "label": "Depression", "kind": "condition", "type": "flag"}],
    )
    row = page.completeness_data.row(column="depression")
    assert (
        row is not None
        and row["label"] == "Depression"
        and row["missing"] == r5(int((people["age"] > 90).sum()))
    )


def completeness(**complete: float | None) -> pl.DataFrame:
    labels = {
        "bmi": "BMI",
        "smoking": "Smoking status",
        "days_to_first_outpatient": "Days to first outpatient",
    }
    return pl.DataFrame(
        {
            "column": list(complete),
            "label": [labels[c] for c in complete],
            "complete": list(complete.values()),
        },
        schema={"column": pl.String, "label": pl.String, "complete": pl.Float64},
    )


def test_worst_columns_names_the_two_least_complete():
    assert worst_columns(completeness(bmi=100.0, smoking=100.0)) == "Every column is complete."
    assert worst_columns(completeness(bmi=91.23, smoking=100.0)) == (
        "The only column with missing values is BMI (91.2% recorded)."
    )
    assert worst_columns(completeness(bmi=91.2, smoking=80.0, days_to_first_outpatient=99.0)) == (
        "The least complete columns are smoking status (80.0% recorded) and BMI (91.2% recorded). Days to "
        "first outpatient is only recorded for people who were referred and seen, so a low completeness "
        "there is expected."
    )


def test_worst_columns_explains_expected_gaps_and_skips_suppressed_shares():
    text = worst_columns(completeness(bmi=None, days_to_first_outpatient=3.0))
    assert text == (
        "The only column with missing values is days to first outpatient (3.0% recorded). Days to first "
        "outpatient is only recorded for people who were referred and seen, so a low completeness there is "
        "expected."
    )


def test_not_stated_groups_names_each_dimension_once():
    table = pl.DataFrame(
        {
            "dimension": ["imd_quintile", "imd_quintile", "age_band", "region"],
            "dimension_label": ["Deprivation (IMD quintile)"] * 2 + ["Age band", "NHS Region"],
        }
    )
    assert not_stated_groups(table) == "deprivation fifth, age band and NHS Region"


def test_published_tables_take_their_shares_from_the_published_counts(page_of):
    people = build_people(400)
    page = page_of(PopulationPage, people)
    pyramid = page.pyramid_data.frame
    assert pyramid.columns[:4] == ["age_band", "sex", "people", "share"]
    # the share is of every published count, the small ones (suppressed only afterwards) included
    cells = people.group_by((pl.col("age") // 5).clip(upper_bound=18), "sex").len().get_column("len")
    total = sum(n if n < 8 else r5(n) for n in cells.to_list())
    shown = pyramid.filter(pl.col("people").is_not_null())
    assert shown["people"].to_list() == [r5(x) for x in shown["people"].to_list()]
    assert shown["share"].to_list() == pytest.approx((100 * shown["people"] / total).to_list(), rel=1e-12)
    assert set(pyramid.get_column("sex").unique()) == {"Female", "Male"}

    composition = page.composition_data.frame.filter(pl.col("dimension") == "locality")
    exact = people.group_by("locality").len()
    assert sorted(composition["people"].to_list()) == sorted(r5(n) for n in exact["len"].to_list())
    assert composition["total"].to_list() == [400] * 3
    published = composition["people"].sum()
    assert composition["share"].to_list() == pytest.approx(
        (100 * composition["people"] / published).to_list()
    )

    complete = page.completeness_data.frame.filter(pl.col("column") == "days_to_first_outpatient").row(
        0, named=True
    )
    recorded = people["days_to_first_outpatient"].is_not_null().sum()
    assert complete["recorded"] == r5(recorded) and complete["people"] == 400
    assert complete["complete"] == pytest.approx(100 * r5(recorded) / 400)

    ns = page.not_stated_data.where(dimension="sex").frame
    for row in ns.iter_rows(named=True):
        group = people.filter(pl.col("sex") == row["level"])
        x = int((group["ethnicity"] == "Not stated").sum())
        assert (row["not_stated"], row["people"]) == (r5(x), r5(group.height))
        if row["value"] is not None:
            assert row["value"] == pytest.approx(100 * r5(x) / r5(group.height), rel=1e-12)


def test_not_stated_sentences_and_figure(page_of):
    page = page_of(PopulationPage, build_people(4000))
    text = page.not_stated_extremes("imd_quintile")
    assert text.startswith("highest in ") and " and lowest in " in text
    assert page.not_stated_description() == (
        "Dot charts with 95% confidence intervals of the percentage of people whose ethnic group is not "
        f"stated, for each deprivation fifth, age band, sex and locality. Across deprivation fifths the share is {text}."
    )
    paragraph = html_of(page.not_stated_text())
    assert paragraph.startswith(
        "When a person's ethnic group is not recorded, any inequality they experience is invisible. Of everyone "
        f"in the data, {page.not_stated_share}% have no ethnic group recorded. @fig-not-stated shows it by every "
        "group. The share with no ethnic group recorded was "
    )
    # the two ends of deprivation with intervals; the highest and lowest of the age bands with the
    # allowance for the groups compared at once (reader, round 4: 0-4 vs 90+ named with neither)
    deprivation, ages = (page.not_stated_sentences(d) for d in ("imd_quintile", "age_band"))
    assert paragraph.endswith(f"{deprivation} {ages}")
    assert "in the most deprived fifth against" in deprivation and "95% CI" in deprivation
    frame = page.not_stated_data.where(dimension="age_band").frame.drop_nulls("value")
    assert ages.startswith("The share with no ethnic group recorded was highest among people aged ")
    assert "95% CI" in ages and "groups compared at once (simultaneous 95% intervals)" in ages
    assert f"allowing for the {frame.height} groups compared at once" in ages
    markup = html_of(page.not_stated())
    assert 'id="ethnicity-not-stated"' in markup
    assert (page.book.downloads / "population" / "ethnicity-not-stated.csv").is_file()


def test_small_groups_are_not_described(page_of):
    page = page_of(PopulationPage, build_people(400), disclosure={"suppress_below": 1000})
    assert page.not_stated_extremes("imd_quintile") == "not published for any group (too few people)"


def test_figures_and_tables_write_their_downloads(page_of):
    page = page_of(PopulationPage, build_people(400))
    assert "The median age is" in html_of(page.pyramid())
    composition = html_of(page.composition())
    assert 'scope="rowgroup"' in composition and "Download" in composition
    assert 'id="completeness"' in html_of(page.completeness())
    folder = page.book.downloads / "population"
    assert {p.name for p in folder.iterdir()} == {"pyramid.csv", "composition.csv", "completeness.csv"}
    assert page.worst_columns().startswith(
        "The least complete columns are days to first outpatient appointment (2.5% recorded) and ethnic group"
    )


def test_inline_values_are_never_empty(page_of):
    """Every value the chapter shows inline is a phrase or sentence, whatever the data lack
    (Quarto prints an empty inline value as code)."""
    full = build_people(400)
    for people, dims in (
        (full.select("person_id", "age"), ["age_band"]),
        (full.head(30), None),
    ):
        equity = {"dimensions": dims} if dims else {}
        page = page_of(PopulationPage, people, target=False, equity=equity)
        for name, value in {
            "ages()": page.ages(),
            "holds": page.holds,
            "small_groups()": page.small_groups(),
            "worst_columns()": page.worst_columns(),
        }.items():
            assert str(html_of(value)).strip(), name
