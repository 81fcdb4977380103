"""The recorded disease page: its sentences, skip notes, publication and downloads, on small frames."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.descriptive import prevalence
from healthgap.descriptive.prevalence import recompute_rates
from healthgap.disclosure import publish, published_counts
from healthgap.pages.recorded_disease import NO_AREAS, NOT_AVAILABLE, RecordedDiseasePage
from tests.conftest import build_people
from tests.pages.conftest import html_of

OFF = {"enabled": False, "reason": "unit tests on tiny frames"}
#: The default dimensions without locality (a configured dimension must be in the data).
NO_LOCALITY = {"dimensions": ["imd_quintile", "ethnicity", "sex", "age_band"]}
CONDITIONS = ("hypertension", "chd", "af", "heart_failure", "stroke_tia", "pad", "diabetes", "ckd")


def graded(n: int = 4000, *, seed: int = 3, towards_deprived: bool = True) -> pl.DataFrame:
    """People whose diabetes is much more (or less) common in more deprived deciles."""
    people = build_people(n, seed=seed)
    rng = np.random.default_rng(seed)
    decile = people["imd_decile"].to_numpy()
    p = 0.02 + 0.02 * ((11 - decile) if towards_deprived else decile)
    return people.with_columns(pl.Series("diabetes", rng.random(n) < p))


def test_published_table_is_the_one_the_analysis_gives_with_published_counts(page_of):
    """Crude rates come from the rounded counts, DSRs from the exact ones: exactly as before the move."""
    page = page_of(RecordedDiseasePage, build_people(3000))
    people, config = page.book.frame, page.config
    counts = ["events", "population"]
    rounded = published_counts(prevalence(people, config), counts, settings=config.disclosure)
    legacy = recompute_rates(rounded, multiplier=100)  # what prevalence() returned before it was exact
    before = publish(legacy, counts=counts, settings=config.disclosure)
    assert_frame_equal(page.published.frame, before.frame, rel_tol=1e-12)  # the same up to summation order
    rows = page.published.frame.filter(pl.col("events").is_not_null() & (pl.col("events") > 0))
    assert rows.height > 0
    assert (rows["events"] % 5 == 0).all() and (rows["population"] % 5 == 0).all()
    assert rows["crude"].to_list() == pytest.approx((100 * rows["events"] / rows["population"]).to_list())
    exact = page.table.filter(pl.col("dimension") == "sex")
    shown = page.published.frame.filter(pl.col("dimension") == "sex")
    assert shown["value"].to_list() == pytest.approx(exact["value"].to_list(), rel=1e-12)  # DSR exact
    assert "variance" not in page.published.columns
    # age bands are not standardised: their rate ratios compare crude rates of the published counts
    ages = page.published.frame.filter(
        (pl.col("dimension") == "age_band") & (pl.col("measure") == "hypertension")
    )
    ref = ages.filter(pl.col("is_reference")).row(0, named=True)
    band = ages.filter(pl.col("level") == "70-74").row(0, named=True)
    assert band["rate_ratio"] == pytest.approx(band["crude"] / ref["crude"], rel=1e-12)
    exact = page.table.filter((pl.col("dimension") == "age_band") & (pl.col("measure") == "hypertension"))
    assert not np.allclose(
        exact["rate_ratio"].fill_null(1).to_numpy(), ages["rate_ratio"].fill_null(1).to_numpy()
    )


def test_references_name_every_dimension_present(page_of):
    page = page_of(RecordedDiseasePage, build_people(200))
    assert page.references_text.startswith(
        "the least deprived fifth, the White group, women, people aged 50-54 and "
    )
    assert page.references_text.endswith(" locality")
    two = page_of(
        RecordedDiseasePage,
        build_people(200),
        equity={
            "dimensions": [
                {"name": "imd_quintile", "order": ["1", "2", "3", "4", "5"], "reference": "5"},
                "sex",
            ]
        },
    )
    assert two.references_text == "the least deprived fifth and women"


def test_condition_prefers_then_falls_back(page_of):
    page = page_of(RecordedDiseasePage, build_people(200).drop("diabetes"))
    assert page.conditions[:2] == ("hypertension", "chd")
    assert page.condition("diabetes") == "hypertension"
    assert page.condition("diabetes", "chd") == "chd"
    assert page.condition(fallback=1) == "chd"
    assert page.condition(fallback=99) == page.conditions[-1]
    assert page.condition("diabetes", fallback=None) is None
    assert page.focus == "hypertension" and page.focus_name == "hypertension"


def test_ratio_sentence_present(page_of):
    page = page_of(RecordedDiseasePage, graded(), disclosure=OFF)
    text = page.ratio_sentence("imd_quintile", "diabetes")
    assert text.startswith("After allowing for age, people in the most deprived fifth were ")
    assert "to have diabetes recorded as people in the least deprived fifth (rate ratio " in text
    assert page.ratio_sentence("sex", "chd").startswith("After allowing for age, men were ")


def test_ratio_sentence_absent_dimension_or_condition(page_of):
    people = build_people(3000).drop("locality", "diabetes")
    page = page_of(RecordedDiseasePage, people, disclosure=OFF, equity=NO_LOCALITY)
    assert page.ratio_sentence("locality", optional=True) == ""
    assert page.ratio_sentence("locality") == NOT_AVAILABLE
    assert page.ratio_sentence("imd_quintile", "diabetes", fallback=None) == ""
    assert "to have hypertension recorded" in page.ratio_sentence("sex", "diabetes")
    assert "to have coronary heart disease recorded" in page.ratio_sentence("imd_quintile", fallback=1)


def test_ratio_sentence_suppressed(page_of):
    page = page_of(RecordedDiseasePage, build_people(300))
    assert page.ratio_sentence("ethnicity", "diabetes") == (
        "Rate ratios of diabetes by ethnic group could not be published because some groups are too small."
    )


def test_geography_text_follows_the_area_column_and_boundaries(page_of, tmp_path):
    tiles = page_of(RecordedDiseasePage, build_people(200))
    assert tiles.geography_text == (
        "shows recorded disease for each small area (LSOA) as a chart of equal-sized tiles "
        "(the dataset has no boundaries to draw a map)."
    )
    assert page_of(RecordedDiseasePage, build_people(200).drop("lsoa")).geography_text == NO_AREAS
    (tmp_path / "areas.geojson").write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    mapped = page_of(RecordedDiseasePage, build_people(200), data={"boundaries": "areas.geojson"})
    assert mapped.geography_text == "maps recorded disease for each small area (LSOA)."


def test_suppress_text_only_with_disclosure_control(page_of):
    assert (
        page_of(RecordedDiseasePage, build_people(100)).suppress_text
        == " Counts from 1 to 7 are not published."
    )
    assert page_of(RecordedDiseasePage, build_people(100), disclosure=OFF).suppress_text == ""


def test_steepest_gradient_sentence(page_of):
    page = page_of(RecordedDiseasePage, graded(), disclosure=OFF)
    text = page.steepest_sentence
    assert text.startswith("The steepest gradient towards deprived areas is for diabetes: an SII of -")
    r = page.indices.frame.filter(pl.col("condition") == "Diabetes").row(0, named=True)
    assert r["rii"] < 1  # the sentence states the RII as computed, then its reciprocal in words
    assert (
        f"percentage points (95% CI {r['sii_lower']:.2f} to {r['sii_upper']:.2f}) and an RII of {r['rii']:.2f} "
        f"(95% CI {r['rii_lower']:.2f} to {r['rii_upper']:.2f}): the modelled rate at the least deprived end is "
        f"{r['rii']:.2f} times that at the most deprived end, so the most deprived end has {1 / r['rii']:.1f} times "
        f"(95% CI {1 / r['rii_upper']:.1f} to {1 / r['rii_lower']:.1f}) the rate of the least deprived end."
    ) in text


def test_no_steepest_gradient_when_no_condition_is_higher_in_deprived_areas(page_of):
    people = graded(towards_deprived=False).drop([c for c in CONDITIONS if c != "diabetes"])
    page = page_of(RecordedDiseasePage, people, disclosure=OFF)
    assert page.indices is not None and page.indices.frame["sii"][0] > 0
    assert page.steepest_sentence == ""


def test_gradient_withheld_when_a_fifth_is_suppressed(page_of):
    page = page_of(RecordedDiseasePage, build_people(400))  # rare conditions: some fifths have 1-7 cases
    published = page.published.frame.filter(pl.col("dimension") == "imd_quintile")
    withheld = published.filter(pl.col("events").is_null())["measure_label"].unique().to_list()
    assert withheld and page.indices is not None
    shown = page.indices.frame["condition"].to_list()
    assert shown and not set(withheld) & set(shown)


def test_gradient_table_and_skip_without_deprivation(page_of):
    page = page_of(RecordedDiseasePage, graded(), disclosure=OFF)
    markup = html_of(page.gradient_table())
    assert 'id="sii"' in markup and "SII (percentage points)" in markup
    assert (page.book.downloads / "recorded-disease" / "sii.csv").is_file()
    no_imd = page_of(RecordedDiseasePage, build_people(200), equity={"dimensions": ["sex"]})
    assert "no deprivation (IMD) column" in html_of(no_imd.gradient_table())
    assert no_imd.steepest_sentence == ""


def test_figure_describes_the_published_extremes(page_of):
    page = page_of(RecordedDiseasePage, graded(), disclosure=OFF)
    markup = html_of(page.figure("imd_quintile"))
    assert 'id="prevalence-imd"' in markup
    assert "for each deprivation (IMD quintile) group. For hypertension, it is highest in" in markup
    csv = pl.read_csv(page.book.downloads / "recorded-disease" / "prevalence-imd.csv")
    assert csv["dimension"].unique().to_list() == ["imd_quintile"]
    assert "crude" not in csv.columns and "value" in csv.columns


def test_figure_skip_notes(page_of):
    page = page_of(RecordedDiseasePage, build_people(200).drop("locality"), equity=NO_LOCALITY)
    assert "no locality column" in html_of(page.figure("locality"))
    none = page_of(RecordedDiseasePage, build_people(200).drop(list(CONDITIONS)))
    assert none.conditions == ()
    assert "no recorded conditions" in html_of(none.figure("sex"))
    assert "no recorded conditions" in html_of(none.download())
    assert none.ratio_sentence("sex") == NOT_AVAILABLE


def test_intersection_skip_without_two_dimensions(page_of):
    page = page_of(RecordedDiseasePage, build_people(200), equity={"dimensions": ["sex"]})
    assert (
        "no ordered groups with a disadvantaged end, such as deprivation fifths, to combine with another "
        "dimension" in html_of(page.intersection_figure())
    )
    assert page.intersection_text() is None
    assert page.intersection_heading() == "Deprivation and ethnicity together"
    alone = page_of(
        RecordedDiseasePage, build_people(200), equity={"dimensions": ["imd_quintile", "age_band"]}
    )
    assert alone.pair is None
    assert "has no other dimension to combine with deprivation" in html_of(alone.intersection_figure())


#: A dimension of the dataset's own: education, four levels, the least education first.
EDUCATION = {
    "name": "education",
    "label": "Education level",
    "noun": "education level",
    "order": ["1", "2", "3", "4"],
    "labels": {"1": "Some high school", "4": "College degree"},
    "reference": "4",
    "ordered": True,
    "disadvantaged": "first",
}


def educated(n: int = 4000) -> pl.DataFrame:
    """People with an education level (from the IMD decile) and a condition outside the CVD profile."""
    people = build_people(n).drop("imd_decile", "ethnicity", "locality", "lsoa", "gp_practice")
    decile = build_people(n)["imd_decile"]
    return people.with_columns(
        ((decile + 1) // 3).clip(1, 4).cast(pl.String).alias("education"),
        (pl.col("age") % 7 == 0).alias("depression"),
    )


def test_a_dimension_of_the_datasets_own_has_the_first_section(page_of):
    page = page_of(
        RecordedDiseasePage,
        educated(),
        disclosure=OFF,
        target=False,
        equity={"dimensions": [EDUCATION, "sex", "age_band"]},
        measures=[{"name": "depression", "label": "Depression", "kind": "condition", "type": "flag"}],
        conditions=["hypertension", "diabetes", "depression"],
    )
    assert page.conditions == ("hypertension", "diabetes", "depression")
    assert page.disease == "hypertension, diabetes or depression"
    assert page.social_heading() == "Education level"
    text = html_of(page.social_text())
    assert text.startswith("@fig-prevalence-imd shows each condition across the four education levels.")
    assert "deprived" not in text and "fifth" not in text
    figure = html_of(page.social_figure())
    assert figure.startswith("::: {#fig-prevalence-imd}") and 'id="prevalence-education"' in figure
    assert figure.rstrip().endswith("Age-standardised recorded prevalence by education level\n\n:::")
    assert "Depression" in figure  # its own label on its own panel
    assert page.references_text.startswith("the least disadvantaged education level (college degree), women")
    assert page.intersection_heading() == "Education level and sex together"
    assert "for every combination of education level and sex." in html_of(page.intersection_text())
    assert html_of(page.intro()).startswith(
        "This chapter asks who has hypertension, diabetes or depression recorded. Recorded prevalence is the "
        "share of people with the condition recorded in the data."
    )
    assert page.ethnicity_text() is None and page.locality_text() is None and page.other_sections() is None
    heat = html_of(page.intersection_figure())
    assert "Heatmap of age-standardised diabetes prevalence (%) with education levels as rows" in heat
    assert not re.search(r"\b(maps?|deprived|deprivation|fifths?)\b", heat, re.I)  # no geography here


def test_other_dimensions_get_a_section_each(page_of):
    people = build_people(3000).with_columns(
        pl.when(pl.col("age") % 2 == 0).then(pl.lit("North")).otherwise(pl.lit("South")).alias("region")
    )
    page = page_of(
        RecordedDiseasePage,
        people,
        disclosure=OFF,
        equity={
            "dimensions": ["imd_quintile", "sex", {"name": "region", "label": "Region", "reference": "North"}]
        },
    )
    markdown = html_of(page.other_sections())
    assert markdown.startswith("### Region {#sec-disease-region}\n\n::: {#fig-prevalence-region}")
    assert "Age-standardised recorded prevalence by region" in markdown
    assert "people in the South group were" in markdown


def test_missing_values_are_counted_and_left_out_of_the_denominator(page_of):
    people = build_people(2000).with_columns(
        pl.when(pl.int_range(pl.len()) < 42).then(None).otherwise(pl.col("diabetes")).alias("diabetes")
    )
    page = page_of(RecordedDiseasePage, people, disclosure=OFF)
    assert page.missing == {"diabetes": 42}
    assert page.missing_text == (
        "Some values are missing: diabetes (42 people). Those people are left out of that condition's rates, "
        "whose denominators are the people with a value recorded."
    )
    sex = page.table.filter((pl.col("dimension") == "sex") & (pl.col("measure") == "diabetes"))
    assert sex["population"].sum() == 2000 - 42
    others = page.table.filter((pl.col("dimension") == "sex") & (pl.col("measure") == "chd"))
    assert others["population"].sum() == 2000
    rounded = page_of(RecordedDiseasePage, people)
    assert "diabetes (40 people)" in rounded.missing_text
    assert page_of(RecordedDiseasePage, build_people(200)).missing_text == (
        "Every person has a value recorded for every condition."
    )


def test_sentences_that_need_a_dimension_or_condition(page_of):
    no_chd = page_of(RecordedDiseasePage, build_people(2000).drop("chd"), disclosure=OFF)
    assert html_of(no_chd.sex_text()).endswith(
        "Differences between the sexes in recorded disease can reflect how symptoms are recognised as well as "
        "how common each condition is."
    )
    assert "coronary heart disease" not in html_of(no_chd.sex_text()).lower()
    bare = page_of(
        RecordedDiseasePage,
        build_people(300).select("person_id", "age"),
        target=False,
        equity={"dimensions": ["age_band"]},
    )
    for text in (bare.references_text, bare.missing_text, bare.social_heading(), bare.intersection_heading()):
        assert text.strip()
    assert html_of(bare.standard()) == "the 2013 European Standard Population (see @sec-methods)"
    assert bare.social_text() is None and bare.age_text() is None and bare.steepest() is None
    assert "hg-skip" in html_of(bare.social_figure()) and "hg-skip" in html_of(bare.gradient_table())
    assert html_of(bare.intro()).endswith("so a low recorded rate is not always good news.")


def test_age_text_says_how_many_conditions_rise_with_age(page_of):
    page = page_of(RecordedDiseasePage, build_people(3000), disclosure=OFF)
    rising, total = page.rising()
    assert total == len(page.conditions) and 0 <= rising <= total
    text = html_of(page.age_text())
    if rising == total:
        assert "Every condition becomes more common with age" in text
    assert text.startswith("@fig-prevalence-age shows crude (not standardised) rates by age band")
    assert text.endswith("which is why the other comparisons in this chapter are age-standardised.")


def test_download_has_every_published_number(page_of):
    page = page_of(RecordedDiseasePage, build_people(500))
    html_of(page.download())
    csv = pl.read_csv(page.book.downloads / "recorded-disease" / "prevalence-all.csv")
    assert not {"order", "is_reference", "statistic", "method", "variance"} & set(csv.columns)
    assert {"crude", "rate_ratio", "suppressed_events", "suppression_reason_population"} <= set(csv.columns)
    assert csv.height == page.published.height


def test_inline_values_are_never_empty(page_of):
    """Every value the chapter shows inline is a phrase or sentence, whatever the data lack
    (Quarto prints an empty inline value as code)."""
    full = build_people(400)
    for people, dims in (
        (full.select("person_id", "age"), ["age_band"]),
        (full.head(30), None),
    ):
        equity = {"dimensions": dims} if dims else {}
        page = page_of(RecordedDiseasePage, people, target=False, equity=equity)
        for name, value in {
            "intersection_heading()": page.intersection_heading(),
            "intro()": page.intro(),
            "missing_text": page.missing_text,
            "references_text": page.references_text,
            "social_heading()": page.social_heading(),
            "standard()": page.standard(),
        }.items():
            assert str(html_of(value)).strip(), name


def test_unrecorded_ethnicity_is_not_read_as_less_disease(page_of):
    """A group whose ethnicity is not recorded may have its diagnoses under-recorded too (the
    reader's finding on the default book): the text never offers its low rate as a sign of less
    disease, and points to the measured recording where the data has true status."""
    people = build_people(3000)
    plain = html_of(page_of(RecordedDiseasePage, people).ethnicity_text())
    assert "hides a difference" not in plain and "is not evidence of less disease" in plain
    assert "@sec-access-detection" not in plain
    truth = people.with_columns(pl.col("hypertension").alias("true_hypertension"))
    assert "@sec-access-detection measures how much" in html_of(
        page_of(RecordedDiseasePage, truth).ethnicity_text()
    )
