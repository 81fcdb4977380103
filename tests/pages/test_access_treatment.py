"""The access and treatment page: its sentences, notes, sections and publication, on small frames.

Every sentence rule on present, absent and suppressed data; dimensions by their own words
(deprivation, an education level, ethnic groups only); indicators from the config; access
measures by their type.
"""

from __future__ import annotations

import re
from functools import partial

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.data import load
from healthgap.descriptive import detection, observed_expected
from healthgap.descriptive.access import (
    against_need,
    recompute_ratios,
    recompute_shares,
    recompute_standardised,
    standardised_indicators,
)
from healthgap.disclosure import publish, published_counts
from healthgap.pages._blocks import markup_of
from healthgap.pages.access_treatment import (
    ALL_SUPPRESSED,
    NO_TRUTH,
    NO_TRUTH_RATIO,
    NOT_NEED,
    STANDARDISED_DERIVED,
    TRUTH_TEXT,
    AccessTreatmentPage,
    describe_indicators,
    excluded_sentence,
    missing_sentence,
)
from healthgap.pages.experience import ExperiencePage
from healthgap.text import format_number
from tests.conftest import build_people
from tests.pages.test_blocks import check_chance, check_sentence, stated_numbers

OFF = {"enabled": False, "reason": "unit tests on tiny frames"}
SKIP = "This section is skipped because the dataset has no"

EDUCATION = {
    "name": "education",
    "column": "education",
    "label": "Education level",
    "noun": "education level",
    "order": ["1", "2", "3", "4"],
    "labels": {
        "1": "Some high school",
        "2": "High school diploma",
        "3": "Some college",
        "4": "College degree",
    },
    "reference": "4",
    "ordered": True,
    "disadvantaged": "first",
}

RULES = (
    "Each indicator counts only the people it applies to and, among them, those who meet it: share of "
    "people eligible for a statin (NICE CG181) who were prescribed one; share of people with atrial "
    "fibrillation and a CHA2DS2-VASc score of 2 or more, not counting the point for female sex (NICE "
    "NG196), who were prescribed an oral anticoagulant; share of people with treated hypertension "
    "whose latest systolic blood pressure is below 140 mmHg (NICE NG136); and share of people with recorded "
    "hypertension or heart failure (NICE NG136, NG106) who were prescribed an antihypertensive."
)


def text_of(obj: object) -> str:
    """The Markdown or HTML of a section, with the raw HTML of figures and tables left out (notes kept)."""

    def raw(m: re.Match[str]) -> str:
        return m.group(1).strip() if "hg-skip" in m.group(1) else "[HTML]"

    return re.sub(r"```+\{=html\}(.*?)```+", raw, markup_of(obj), flags=re.S)


def with_truth(people: pl.DataFrame, seed: int = 5) -> pl.DataFrame:
    """People with a true hypertension status: every recorded case, and some unrecorded."""
    rng = np.random.default_rng(seed)
    hidden = pl.Series(rng.random(people.height) < 0.15)
    return people.with_columns((pl.col("hypertension") | hidden).alias("true_hypertension"))


def referred(n: int = 4000, seed: int = 2, *, missed_outside: bool = False) -> pl.DataFrame:
    """A third referred to cardiology, with waits; missed appointments only among them (unless asked)."""
    people = build_people(n, seed=seed)
    rng = np.random.default_rng(seed)
    ref = rng.random(n) < 0.35
    missed = rng.poisson(0.3, n)
    return people.with_columns(
        pl.Series("cardiology_referral", ref),
        pl.when(pl.Series(ref)).then(pl.Series(rng.integers(5, 250, n))).alias("days_to_first_outpatient"),
        pl.Series("missed_appointments", missed if missed_outside else np.where(ref, missed, 0)).cast(
            pl.Int64
        ),
    )


def educated(n: int = 3000, seed: int = 4) -> pl.DataFrame:
    """A cohort: an education level 1-4, sex and age, no deprivation, ethnicity or geography."""
    people = build_people(n, seed=seed)
    rng = np.random.default_rng(seed)
    return people.drop("imd_decile", "ethnicity", "lsoa", "locality", "gp_practice").with_columns(
        pl.Series("education", rng.integers(1, 5, n)).cast(pl.String)
    )


def with_truth_page(page_of, people: pl.DataFrame):
    return page_of(AccessTreatmentPage, with_truth(people), disclosure=OFF)


def cohort_page(page_of, people: pl.DataFrame | None = None, **sections):
    return page_of(
        AccessTreatmentPage,
        educated() if people is None else people,
        target=False,
        equity={"dimensions": [EDUCATION, {"name": "sex", "reference": "female"}, "age_band"]},
        **sections,
    )


# -- publication ---------------------------------------------------------------------------------


def test_published_frames_are_those_the_analyses_give_with_published_counts(page_of):
    page = page_of(AccessTreatmentPage, with_truth(build_people(3000)))
    people, config, settings = page.book.frame, page.config, page.config.disclosure
    dims = ["imd_quintile"]
    every = list(page.caps.dimension_names)
    assert page.detection is not None and set(page.detection.frame["dimension"]) == set(every)
    for published, exact, counts, recompute, derived in (
        (
            page.observed_expected,
            observed_expected(people, config, dimensions=dims),
            ["observed", "population"],
            partial(recompute_ratios, events="observed", population="expected", multiplier=1),
            None,
        ),
        (
            page.detection,
            detection(people, config, dimensions=every),
            ["recorded", "affected"],
            partial(recompute_shares, numerator="recorded", denominator="affected"),
            None,
        ),
        (
            page.indicators,
            standardised_indicators(
                people, config, names=[i.name for i in page.shown_indicators], dimensions=every
            ).filter(pl.col("denominator") > 0),
            ["numerator", "denominator", "excluded"],
            recompute_standardised,
            STANDARDISED_DERIVED,  # a small count left out does not hide the value
        ),
        (
            page.need_tables["cardiology_referral"],
            against_need(
                people,
                config,
                measure="cardiology_referral",
                need=[c for c in config.conditions if c not in NOT_NEED],
                dimensions=every,
            ),
            ["observed", "population"],
            partial(recompute_ratios, events="observed", population="expected", multiplier=1),
            {"observed": ["value", "lower_ci", "upper_ci"], "population": ["expected"]},
        ),
    ):
        assert published is not None
        # the statistics from the rounded counts, then protected: the legacy two-step route
        before = recompute(published_counts(exact, counts, settings=settings))
        if "measure_label" not in before.columns and "measure_label" in published.frame.columns:
            before = before.with_columns(published.frame["measure_label"])
        legacy = publish(
            before.select(published.frame.columns[: before.width]),
            counts=counts,
            derived=derived,
            settings=settings,
        )
        assert_frame_equal(published.frame.select(legacy.frame.columns), legacy.frame, rel_tol=1e-12)
    oe = page.observed_expected
    assert oe is not None
    rows = oe.frame.filter(pl.col("observed").is_not_null() & (pl.col("observed") > 0))
    assert (rows["observed"] % 5 == 0).all()  # the ratio comes from the published count
    assert rows["value"].to_list() == pytest.approx((rows["observed"] / rows["expected"]).to_list())


def test_the_indicators_count_the_nice_rules_by_every_dimension(page_of):
    people = build_people(3000, seed=3)
    page = page_of(AccessTreatmentPage, people, disclosure=OFF)
    table = page.indicators
    assert table is not None
    assert set(table.frame["dimension"]) == set(page.caps.dimension_names)
    women = people.filter(pl.col("sex") == "female")
    eligible = (
        women["chd"]
        | women["stroke_tia"]
        | women["pad"]
        | ((women["diabetes"] | women["ckd"]) & (women["age"] >= 40))
    )
    row = table.row(dimension="sex", level="female", measure="statin")
    assert row is not None
    assert (row["denominator"], row["numerator"]) == (eligible.sum(), (eligible & women["statin"]).sum())
    assert row["crude"] == pytest.approx(100 * row["numerator"] / row["denominator"])


# -- missing values ------------------------------------------------------------------------------


def test_missing_sentence_present_absent_and_suppressed():
    frame = pl.DataFrame(
        {"label": ["Systolic blood pressure", "Statin", "Days to first outpatient appointment"],
         "people": [3000, 3000, 3000], "missing": [35, 0, None]},
        schema_overrides={"missing": pl.Int64},
    )  # fmt: skip
    assert missing_sentence(frame, most=7) == (
        "Not every value is recorded: of the 3,000 people, 35 have no value of systolic blood pressure and "
        "some (a number withheld to protect confidentiality) of days to first outpatient appointment. Each share and rate on this page is of "
        "the people with a value."
    )
    none = frame.with_columns(pl.lit(0, dtype=pl.Int64).alias("missing"))
    assert (
        missing_sentence(none, most=7)
        == "Every measure this page uses is recorded for everyone in the dataset."
    )
    one = frame.head(1).with_columns(pl.lit(1, dtype=pl.Int64).alias("missing"))
    assert "of the 3,000 people, 1 has no value of systolic blood pressure." in missing_sentence(one, most=7)


def test_missing_text_counts_each_measure_the_page_uses_rounded(page_of):
    people = build_people(2000).with_columns(
        pl.when(pl.int_range(pl.len()) < 33).then(None).otherwise(pl.col("systolic_bp")).alias("systolic_bp"),
        pl.when(pl.int_range(pl.len()) < 3).then(None).otherwise(pl.col("chd")).alias("chd"),
    )
    text = page_of(AccessTreatmentPage, people).missing_text
    assert text.startswith("Not every value is recorded: of the 2,000 people, ")
    assert (
        "some (a number withheld to protect confidentiality) have no value of coronary heart disease" in text
    )  # suppressed
    assert "35 of systolic blood pressure" in text  # 33 rounded to 5, as in the tables
    assert "days to first outpatient appointment" not in text  # an experience measure now
    full = build_people(2000).drop("days_to_first_outpatient")
    assert page_of(AccessTreatmentPage, full).missing_text.startswith(
        "Every measure this page uses is recorded"
    )


# -- recorded against expected -------------------------------------------------------------------


def test_oe_text_by_deprivation_education_and_ethnic_group(page_of):
    page = page_of(AccessTreatmentPage, build_people(2000), disclosure=OFF)
    text = page.oe_text
    assert text.startswith("For hypertension, the most deprived fifth has ")
    assert "times the recorded cases expected from its age and sex, and the least deprived fifth " in text
    assert text.endswith(" times.")
    assert page.oe_context == NO_TRUTH_RATIO  # no true status: no reading of the ratio as diagnosis
    assert with_truth_page(page_of, build_people(2000)).oe_context.startswith(
        "A ratio above 1 in deprived areas is expected"
    )
    education = cohort_page(page_of, with_truth(educated()), disclosure=OFF)
    assert education.oe_text.startswith("For hypertension, education level 1 (some high school) has ")
    assert ", and education level 4 (college degree) " in education.oe_text
    assert "deprived" not in education.oe_context + education.oe_text
    assert education.oe_context.startswith("A ratio above 1 in the most disadvantaged education level")
    ethnic = page_of(
        AccessTreatmentPage,
        with_truth(build_people(2000)),
        disclosure=OFF,
        equity={"dimensions": ["ethnicity", "sex"]},
    )
    assert ethnic.oe_text.startswith(
        "For hypertension, recorded cases as a multiple of those expected are highest in the "
    )
    assert (
        ethnic.oe_context
        == "In any group, a ratio close to 1 where the true burden is higher suggests missed diagnoses."
    )


def test_oe_text_suppressed_and_absent(page_of):
    tiny = page_of(AccessTreatmentPage, build_people(40))
    assert tiny.oe_text == (
        "For hypertension, the ratio cannot be compared between the most deprived fifth and the least "
        "deprived fifth because a group is too small to publish."
    )
    conditions = ["hypertension", "chd", "af", "heart_failure", "stroke_tia", "pad", "diabetes", "ckd"]
    none = page_of(AccessTreatmentPage, build_people(300).drop(*conditions), model={"target": "cvd_death"})
    assert none.oe_text == "" and none.observed_expected is None
    assert f"{SKIP} condition columns." in text_of(none.expected_section())
    no_sex = page_of(
        AccessTreatmentPage,
        build_people(2000).drop("sex"),
        disclosure=OFF,
        equity={"dimensions": ["imd_quintile"]},
    )
    assert no_sex.standard == "age" and "expected from its age, and" in no_sex.oe_text


def test_expected_section_refers_to_its_figure_and_captions_it_by_the_dimension(page_of):
    section = text_of(cohort_page(page_of).expected_section())
    assert "is shown in @fig-observed-expected: above 1" in section
    assert "::: {#fig-observed-expected}" in section
    assert "Recorded cases as a ratio of the cases expected from age and sex, by education level" in section


def test_a_section_whose_groups_are_all_suppressed_says_so_once(page_of):
    page = page_of(AccessTreatmentPage, build_people(60), disclosure={"suppress_below": 200, "rounding": 5})
    assert text_of(page.expected_section()) == ALL_SUPPRESSED.format(
        subject="The ratio of observed to expected recorded cases", noun="deprivation fifth"
    )


# -- under-diagnosis -------------------------------------------------------------------------------


def test_detection_with_and_without_true_status(page_of):
    page = page_of(AccessTreatmentPage, with_truth(build_people(3000)), disclosure=OFF)
    assert page.truth_text == TRUTH_TEXT
    assert page.detection_text.startswith("The share of people with hypertension who are recorded was ")
    assert " percentage points (95% CI " in page.detection_text
    # one comparison per dimension present
    assert page.detection_text.count("The share of people with hypertension who are recorded") == len(
        page.dimensions
    )
    section = text_of(page.detection_section())
    assert (
        section.startswith(TRUTH_TEXT + " The share of people with hypertension")
        and "::: {#fig-detection}" in section
    )
    none = page_of(AccessTreatmentPage, build_people(300))
    assert none.truth_text == "" and none.detection_text == "" and none.detection is None
    assert f"{SKIP} {NO_TRUTH}." in text_of(none.detection_section())
    no_oe = page_of(
        AccessTreatmentPage,
        build_people(300).drop(
            "hypertension", "chd", "af", "heart_failure", "stroke_tia", "pad", "diabetes", "ckd"
        ),
        model={"target": "cvd_death"},
    )
    assert text_of(no_oe.detection_section()).endswith(
        f"{NO_TRUTH}.</p></div>"
    )  # no ratios above to point to


# -- indicators -------------------------------------------------------------------------------------


def test_rules_come_from_the_indicators_descriptions(page_of):
    assert page_of(AccessTreatmentPage, build_people(300)).rules_text == RULES
    page = cohort_page(page_of, indicators=[{"name": "bp_treated", "label": "Treated hypertension", "kind": "proportion",
        "numerator": "antihypertensive", "denominator": "hypertension"}])  # fmt: skip
    assert "and treated hypertension." in page.rules_text  # no description: its label
    assert describe_indicators([]) == ""


def test_indicator_text_compares_each_indicator_along_the_dimension(page_of):
    text = page_of(AccessTreatmentPage, build_people(3000), disclosure=OFF).indicator_text
    assert text.startswith(
        "Statin prescribed (CHD, stroke/TIA or PAD; or diabetes or CKD aged 40+), standardised for age and "
        "sex, was "
    )
    # anticoagulant: too few eligible people in a fifth of 3,000 (said so below)
    assert text.count(" in the most deprived fifth against ") == 3
    assert "Blood pressure below 140 mmHg (treated hypertension), standardised for age, was" in text  # sex
    small = page_of(AccessTreatmentPage, build_people(150)).indicator_text
    assert (
        "Anticoagulant prescribed (AF with CHA2DS2-VASc of 2+, 3+ for women), standardised for age and sex, "
        "cannot be compared between the "
        "most deprived fifth and the least deprived fifth because a group is too small to publish." in small
    )
    education = cohort_page(page_of, disclosure=OFF).indicator_text
    assert (
        "education level 1 (some high school)" in education
        and "education level 4 (college degree)" in education
    )
    assert "deprived" not in education


def test_a_users_indicator_is_shown_with_its_own_scale(page_of):
    rate = {"name": "adm_chd", "label": "Admissions among people with CHD", "kind": "crude rate",
            "numerator": "cvd_admissions", "denominator": "chd", "multiplier": 1000, "section": "outcome"}  # fmt: skip
    page = page_of(AccessTreatmentPage, build_people(3000), disclosure=OFF, indicators=[rate])
    assert [i.name for i in page.shown_indicators][-1] == "adm_chd" and not page.treatment_only
    assert "Admissions among people with CHD, standardised for age and sex, was " in page.indicator_text
    assert re.search(
        r"Admissions among people with CHD, standardised for age and sex, was [\d,.]+ per 1,000 \(95% CI "
        r"[\d,.]+ per 1,000 to [\d,.]+ per 1,000\) in the most deprived fifth",
        page.indicator_text,
    )
    chd = page.book.frame.filter(pl.col("chd") & (pl.col("imd_quintile") == 1))
    row = page.indicators.row(dimension="imd_quintile", level="1", measure="adm_chd")
    assert row["crude"] == pytest.approx(1000 * chd["cvd_admissions"].sum() / chd.height)
    section = text_of(page.indicator_section())
    assert section.startswith("## Indicators {#sec-access-treatment}")
    assert (
        "Each indicator among the people it applies to, standardised for age and sex, by deprivation fifth"
        in (section)
    )


def test_notes_name_absent_optional_columns_and_indicators_the_data_cannot_give(page_of):
    page = page_of(AccessTreatmentPage, build_people(600).drop("pad", "ckd", "anticoagulant"))
    note = page.indicator_note_text
    assert note.startswith(
        "This dataset has no peripheral arterial disease column and no chronic kidney disease (stages 3-5) "
        "column. The profile's indicator statin prescribed (CHD, stroke/TIA or PAD; or diabetes or CKD aged 40+) "
        "counts nobody as having them, so its eligibility rests on the columns it does have: it is labelled "
        "statin prescribed (eligibility from coronary heart disease, stroke or TIA and diabetes only) here."
    )
    # the label the page uses names only the columns the data has (reader, round 4)
    label = "Statin prescribed (eligibility from coronary heart disease, stroke or TIA and diabetes only)"
    assert page.indicator_label(page.shown_indicators[0]) == label
    assert (
        "CKD" not in page.indicator_text and f"{label}, standardised for age and sex," in page.indicator_text
    )
    labels = page.indicators.frame.filter(pl.col("measure") == "statin")["measure_label"].unique().to_list()
    assert labels == [label]
    assert (  # then the profile's pathway and survey indicators, whose columns these people lack
        "Not shown, because this dataset cannot give them: anticoagulant prescribed (AF with CHA2DS2-VASc of "
        "2+, 3+ for women) (needs the peripheral arterial disease and anticoagulant columns, which this dataset does not have)."
    ) in note
    # the survey and referral-to-treatment indicators (section experience) are the experience
    # chapter's, not named here
    assert note.endswith(
        "(needs the peripheral arterial disease and anticoagulant columns, which this dataset does not have)."
    )
    assert "gp_experience" not in note and "days_to_treatment" not in note
    section = markup_of(page.indicator_section())
    assert (
        '<div class="hg-skip callout callout-note" role="note"><p>This dataset has no peripheral' in section
    )
    full = page_of(AccessTreatmentPage, build_people(300)).indicator_note_text  # has every CVD column
    assert "anticoagulant" not in full and "This dataset has no" not in full


def test_people_left_out_for_a_missing_numerator_are_counted(page_of):
    people = build_people(3000, seed=3).with_columns(
        pl.when(pl.col("hypertension") & pl.col("antihypertensive") & (pl.int_range(pl.len()) % 3 == 0))
        .then(None)
        .otherwise(pl.col("systolic_bp"))
        .alias("systolic_bp")
    )
    page = page_of(AccessTreatmentPage, people)
    left = people.filter(
        pl.col("hypertension") & pl.col("antihypertensive") & pl.col("systolic_bp").is_null()
    ).height
    assert left >= 8
    rounded = 5 * round(left / 5)
    assert page.excluded_text == (
        f"For blood pressure below 140 mmHg (treated hypertension), {rounded} people it applies to have no "
        "recorded systolic blood pressure and are left out."
    )
    assert page_of(AccessTreatmentPage, build_people(300)).excluded_text == ""
    assert excluded_sentence("Statin", "statin", None, most=7) == (
        "For statin, some people (a number withheld to protect confidentiality) it applies to have no recorded statin and are left out."
    )
    assert excluded_sentence("Statin", "statin", 1, most=7).endswith(
        "1 person it applies to has no recorded statin and is left out."
    )


def test_a_small_count_left_out_is_suppressed_without_hiding_the_indicator(page_of, exact_reference):
    """A group with 1-7 people left out still shows its value: it comes from the numerator and the
    denominator, which are published (the cohort's treated-hypertension indicator was all [c])."""
    treated = pl.col("hypertension") & pl.col("antihypertensive")
    people = build_people(3000, seed=3).with_columns(
        pl.when(treated & (treated.cast(pl.Int64).cum_sum().over("sex") <= 3))  # 3 women, 3 men
        .then(None)
        .otherwise(pl.col("systolic_bp"))
        .alias("systolic_bp")
    )
    page = page_of(AccessTreatmentPage, people, disclosure={"min_group": 1})  # groups of 30-35 people
    rows = page.indicators.frame.filter(pl.col("measure") == "bp_control", pl.col("dimension") == "sex")
    left = people.filter(treated & pl.col("systolic_bp").is_null())
    assert left.group_by("sex").len()["len"].to_list() == [3, 3]
    assert rows["excluded"].is_null().any()  # suppressed: a small count
    assert rows["value"].is_not_null().all()
    for r in rows.iter_rows(named=True):
        assert r["crude"] == pytest.approx(100 * r["numerator"] / r["denominator"])
    shown = page.indicators.frame.filter(
        pl.col("numerator").is_not_null() & pl.col("denominator").is_not_null()
    )
    assert shown["value"].is_not_null().all()  # anywhere: only a suppressed numerator or denominator hides it


def test_indicator_section_figure_and_table_by_the_other_dimensions(page_of):
    page = page_of(AccessTreatmentPage, build_people(3000))
    section = text_of(page.indicator_section())
    assert section.startswith("## Treatment among the eligible {#sec-access-treatment}\n\n" + RULES)
    assert "Treatment among eligible people, standardised for age and sex, by deprivation fifth" in section
    assert (
        "Treatment among eligible people, crude and standardised, by ethnic group, sex, age band and locality"
        in section
    )
    assert section.endswith(
        "@tbl-treatment-groups gives the same indicators, crude and standardised, by ethnic group, sex, age "
        "band and locality."
    )
    table = pl.read_csv(page.book.downloads / "access-treatment" / "treatment-groups.csv")
    assert table["dimension"].unique(maintain_order=True).to_list() == [
        "ethnicity",
        "sex",
        "age_band",
        "locality",
    ]
    assert (table["denominator"].drop_nulls() > 0).all()


def test_indicator_section_without_indicators_or_dimensions(page_of):
    drugs = page_of(
        AccessTreatmentPage, build_people(300).drop("statin", "anticoagulant", "antihypertensive")
    )
    section = text_of(drugs.indicator_section())
    assert "## Indicators {#sec-access-treatment}" in section
    assert (
        f"{SKIP} indicators it can compute (each needs the columns its SQL names). Not shown, because"
        in section
    )
    assert drugs.rules_text == "" and drugs.indicator_text == ""
    only = page_of(AccessTreatmentPage, build_people(3000), equity={"dimensions": ["imd_quintile"]})
    assert only.indicator_table() is None and "@tbl-treatment-groups" not in text_of(only.indicator_section())


# -- access measures ----------------------------------------------------------------------------------


def test_access_sections_show_referral_by_every_group_and_against_need(page_of):
    page = page_of(AccessTreatmentPage, referred(), disclosure=OFF)
    # waits and missed appointments are experience measures now: only the referral is access
    assert [(a.measure.name, a.among) for a in page.access_measures] == [("cardiology_referral", None)]
    text = text_of(page.access_sections())
    assert "## Cardiology referral {#sec-access-cardiology-referral}" in text
    assert "### Cardiology referral against need {#sec-access-cardiology-referral-need}" in text
    assert text.count("The share of people with cardiology referral was ") == len(page.dimensions)
    assert text.count(
        "Cardiology referral among people with a recorded condition, as a ratio of that expected"
    ) == len(page.dimensions)
    assert "expected from their age and recorded conditions, was" in text  # the sexes: not for sex
    assert "expected from their sex and recorded conditions, was" in text  # the age bands: not for age
    assert text.count(":::") == 8  # two figures and two tables
    assert "18 weeks" not in text and "per 100 " not in text


def test_counts_are_per_1000_people_when_events_happen_outside_the_flag(page_of):
    page = page_of(ExperiencePage, referred(missed_outside=True), disclosure=OFF)
    missed = next(e for e in page.measures if e.measure.name == "missed_appointments")
    assert missed.among is None
    assert "The number of missed appointments per 1,000 people was " in page.measure_text(missed)
    rows = page.tables["missed_appointments"].frame.filter(pl.col("dimension") == "sex")
    assert rows["population"].sum() == page.book.frame.height  # everyone, not only the referred


def test_access_sections_absent_and_suppressed(page_of):
    measures = ("cardiology_referral",)
    none = text_of(page_of(AccessTreatmentPage, build_people(300).drop(*measures)).access_sections())
    assert none.startswith("## Access to services {#sec-access-services}")
    assert f"{SKIP} access measures" in none
    few = page_of(AccessTreatmentPage, referred(400), disclosure={"suppress_below": 40, "rounding": 5})
    text = text_of(few.access_sections())
    assert (
        "The share of people with cardiology referral cannot be compared between the most deprived fifth and "
        "the least deprived fifth because a group is too small to publish." in text
    )
    assert (
        "Cardiology referral against need is not published for any deprivation fifth: every group is too small."
        in (text)
    )
    education = cohort_page(
        page_of, educated().with_columns(pl.Series("cardiology_referral", np.arange(3000) % 9 == 0))
    )
    text = text_of(education.access_sections())
    assert "The share of people with cardiology referral was " in text
    assert re.search(r"\) in education level 1 \(some high school\) against", text)


# -- what is inline is never empty ----------------------------------------------------------------------


def test_inline_values_are_never_empty(page_of):
    bare = page_of(
        AccessTreatmentPage,
        build_people(200).select("person_id", "age", "sex", "imd_decile"),
        target=False,
        equity={"dimensions": ["imd_quintile", "sex"]},
    )
    assert bare.missing_text and bare.standard == "age and sex"
    for section in (
        bare.expected_section(),
        bare.detection_section(),
        bare.indicator_section(),
        bare.access_sections(),
    ):
        assert SKIP in markup_of(section)


def test_any_access_measure_the_config_declares_is_shown_and_experience_is_pointed_to(page_of):
    """Access measures come from config.measures_of("access"), by type: a user's days measure
    appears as the profile's do; experience measures (hospital cancellations, a GP survey answer)
    are left to the experience chapter, which the page points to."""
    base = referred()
    rng = np.random.default_rng(9)
    n = base.height
    people = base.with_columns(
        pl.when(pl.col("cardiology_referral"))
        .then(pl.Series(rng.integers(10, 300, n)))
        .alias("days_to_treatment"),
        pl.when(pl.col("cardiology_referral"))
        .then(pl.Series(rng.poisson(0.2, n)))
        .otherwise(0)
        .cast(pl.Int64)
        .alias("provider_cancellations"),
        pl.when(pl.col("age") >= 16).then(pl.Series(rng.random(n) < 0.7)).alias("gp_experience_good"),
    )
    declared = [
        {
            "name": "days_to_treatment",
            "label": "Days from referral to treatment",
            "kind": "access",
            "type": "days",
            "standard_days": 126,
        },
        {
            "name": "provider_cancellations",
            "label": "Appointments cancelled by the hospital",
            "kind": "experience",
            "type": "count",
        },
        {
            "name": "gp_experience_good",
            "label": "Good experience of the GP practice",
            "kind": "experience",
            "type": "flag",
        },
    ]
    page = page_of(AccessTreatmentPage, people, measures=declared, disclosure=OFF)
    shown = {a.measure.name: a.among and a.among.name for a in page.access_measures}
    assert shown["days_to_treatment"] is None
    assert "provider_cancellations" not in shown and "gp_experience_good" not in shown
    assert all(i.section != "experience" for i in page.shown_indicators)
    assert set(page.indicators.frame["measure"].unique()) == {i.name for i in page.shown_indicators}
    text = text_of(page.access_sections())
    assert "## Days from referral to treatment {#sec-access-days-to-treatment}" in text
    assert (
        "The share of people whose days from referral to treatment exceeded 18 weeks (126 days) was " in text
    )
    assert "The median days from referral to treatment was " in text
    assert (
        "cancelled by the hospital per 1,000" not in text and "experience of the GP practice was" not in text
    )
    assert text.endswith(
        "How people experience their care (days to first outpatient appointment, missed appointments, "
        "appointments cancelled by the hospital and good experience of the GP practice) is in @sec-experience."
    )
    assert "good experience of the GP practice" not in page.missing_text
    waits = ["days_to_first_outpatient", "missed_appointments"]
    none = page_of(AccessTreatmentPage, referred().drop(waits), disclosure=OFF)  # no experience column
    assert "@sec-experience" not in text_of(none.access_sections())


# -- standardisation and need, against independent calculations -------------------------------------


def test_indicators_are_indirectly_standardised_for_age_and_sex(page_of, exact_reference):
    """Blood pressure control by sex, standardised for age only, and by deprivation for age and
    sex: observed / sum over cells of (eligible x the cell's rate over everyone) x the overall rate,
    computed here with numpy from the person table."""
    people = build_people(3000, seed=3)
    page = page_of(AccessTreatmentPage, people, disclosure=OFF)
    frame = page.book.frame.with_columns(
        (pl.col("age").clip(0, 90) // 5).alias("band"), (pl.col("systolic_bp") < 140).alias("ok")
    ).filter(pl.col("hypertension") & pl.col("antihypertensive") & pl.col("ok").is_not_null())
    overall = 100 * frame["ok"].mean()

    def standardised(groups: str, cells: list[str]) -> dict[str, float]:
        rates = frame.group_by(cells).agg(pl.col("ok").mean().alias("rate"))
        with_rate = frame.join(rates, on=cells)
        out = {}
        for level in with_rate[groups].unique().to_list():
            g = with_rate.filter(pl.col(groups) == level)
            out[str(level)] = (
                overall * float(np.sum(g["ok"].to_numpy())) / float(np.sum(g["rate"].to_numpy()))
            )
        return out

    rows = page.indicators.frame.filter(pl.col("measure") == "bp_control")
    by_sex = standardised("sex", ["band"])
    by_fifth = standardised("imd_quintile", ["band", "sex"])
    for r in rows.filter(pl.col("dimension") == "sex").iter_rows(named=True):
        assert r["value"] == pytest.approx(by_sex[r["level"]], rel=1e-9)
        assert r["overall"] == pytest.approx(overall)
    for r in rows.filter(pl.col("dimension") == "imd_quintile").iter_rows(named=True):
        assert r["value"] == pytest.approx(min(100.0, by_fifth[r["level"]]), rel=1e-9)
    crude = rows.filter(pl.col("dimension") == "sex")
    assert crude["crude"].to_list() != pytest.approx(crude["value"].to_list())  # standardising changes it


def test_referral_against_need_is_the_need_model_and_states_the_ends_ratio(page_of, exact_reference):
    """The page publishes :func:`against_need` (its need model is checked against sklearn in
    tests/test_against_need.py) and states the most against the least deprived fifth's ratio of
    observed / expected, recomputed here by hand (exact conditional binomial: O1 out of O1 + O5,
    Clopper-Pearson by scipy's binomtest)."""
    from scipy.stats import binomtest

    people = referred(4000, seed=6)
    page = page_of(AccessTreatmentPage, people, disclosure=OFF)
    need = [c for c in page.caps.conditions if c not in NOT_NEED]
    assert need == ["hypertension", "chd", "af", "heart_failure", "stroke_tia", "pad"]
    table = page.need_tables["cardiology_referral"].frame
    direct = against_need(
        page.book.frame, page.config, measure="cardiology_referral", need=need, dimensions=["imd_quintile"]
    )
    mine = table.filter(pl.col("dimension") == "imd_quintile").sort("level")
    assert mine["expected"].to_list() == pytest.approx(direct.sort("level")["expected"].to_list(), rel=1e-12)
    a, b = (mine.filter(pl.col("level") == q).row(0, named=True) for q in ("1", "5"))
    rr = (a["observed"] / a["expected"]) / (b["observed"] / b["expected"])
    ci = binomtest(a["observed"], a["observed"] + b["observed"]).proportion_ci(method="exact")
    lo, hi = (q / (1 - q) * b["expected"] / a["expected"] for q in (ci.low, ci.high))
    text = page.need_ends_sentence(page.access_measures[0])
    assert text.startswith("Against their need, people in the most deprived fifth had ")
    assert f"had {rr:.2f} times" in text
    assert f"95% CI {lo:.2f} to {hi:.2f}" in text
    assert text in markup_of(page.need_blocks(page.access_measures[0]))


# -- every sentence against the numbers it states ---------------------------------------------------


def check_every_sentence(page: AccessTreatmentPage) -> int:
    """Each comparison sentence of the chapter, read number by number against its published frame."""
    checked = 0
    for dim in page.dimensions:
        if page.detection is not None:
            text = page.detection_sentences(dim)
            assert text in page.detection_text
            frame = page.detection.where(pl.col("measure") == page.detection_focus).frame
            checked += check_sentence(text, frame, dim)
            check_chance(text, frame, dim)
        for ind in page.shown_indicators:
            text = page.indicator_sentences(ind, dim)
            assert text in page.indicator_text
            frame = page.indicators.where(pl.col("measure") == ind.name).frame
            checked += check_sentence(
                text, frame, dim, fixed=[ind.label], standardised=("ratio", "ratio_lower", "ratio_upper")
            )
            check_chance(text, frame, dim)
        if page.treated_true is not None:
            text = page.treated_true_sentences(dim)
            assert text in page.treated_true_text
            checked += check_sentence(text, page.treated_true.frame, dim)
            check_chance(text, page.treated_true.frame, dim)
        for a in page.access_measures:
            text = page.measure_sentences(a, dim)
            assert text in page.access_text(a)
            frame = page.tables[a.measure.name].frame
            checked += check_sentence(text, frame, dim)
            check_chance(text, frame, dim)
            if a.measure.name in page.need_tables:
                text = page.need_sentences(a, dim)
                frame = page.need_tables[a.measure.name].frame
                checked += check_sentence(text, frame, dim, dp=2, scale="ratio")
    # the observed / expected ratios of the focus condition, and the counts of missing values
    if page.observed_expected is not None and page.oe_dimension is not None:
        frame = page.observed_expected.where(pl.col("measure") == page.oe_focus).frame
        checked += check_sentence(page.oe_text, frame, page.oe_dimension, dp=2)
    if page.missing is not None:
        counts = {format_number(v, style="integer") for v in page.missing.frame["missing"].drop_nulls()}
        counts |= {format_number(v, style="integer") for v in page.missing.frame["people"].drop_nulls()}
        for n in stated_numbers(page.missing_text, page.missing.frame["label"].to_list()):
            assert n in counts, (n, page.missing_text)
            checked += 1
    return checked


def test_every_sentence_states_published_numbers_on_a_small_frame(page_of):
    page = page_of(AccessTreatmentPage, with_truth(referred(4000)), disclosure={"suppress_below": 8})
    assert check_every_sentence(page) > 100


def test_every_sentence_states_published_numbers_on_the_default_data(default_config, tmp_path):
    page = AccessTreatmentPage.for_frame(default_config, load(default_config).collect(), downloads=tmp_path)
    assert [i.name for i in page.shown_indicators] == [
        "statin",
        "anticoagulant",
        "bp_control",
        "antihypertensive",
    ]
    assert page.treatment_only and list(page.need_tables) == ["cardiology_referral"]
    assert check_every_sentence(page) > 200


def test_treatment_among_everyone_truly_hypertensive_against_numpy(default_config, tmp_path):
    """Of everyone who truly has hypertension (recorded or not), the share prescribed an
    antihypertensive by deprivation fifth, recomputed with numpy (Wilson by hand from the published
    counts), and the sentence's difference and verdict; absent without true status."""
    people = load(default_config).collect()
    page = AccessTreatmentPage.for_frame(default_config, people, downloads=tmp_path)
    frame = page.treated_true.frame.filter(pl.col("dimension") == "imd_quintile")
    truly = (
        people["true_hypertension"].fill_null(False).to_numpy()
        & people["antihypertensive"].is_not_null().to_numpy()
    )
    treated = truly & people["antihypertensive"].fill_null(False).to_numpy()
    q = people["imd_quintile"].cast(pl.String).to_numpy()
    z = 1.959963984540054
    for row in frame.iter_rows(named=True):
        mask = q == row["level"]
        assert (
            abs(row["treated"] - treated[mask].sum()) <= 2.5
            and abs(row["affected"] - truly[mask].sum()) <= 2.5
        )
        n, p = row["affected"], row["treated"] / row["affected"]
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        assert (row["value"], row["lower_ci"], row["upper_ci"]) == pytest.approx(
            (100 * p, 100 * (centre - half), 100 * (centre + half)), rel=1e-9
        )
    text = page.treated_true_sentences(next(d for d in page.dimensions if d.name == "imd_quintile"))
    assert text.startswith(
        "The share of people who truly have hypertension who are prescribed an antihypertensive was "
    )
    assert text.endswith(
        "larger than chance would readily explain."
    )  # the injected gap (42.7% against 66.1%)
    assert (
        "@tbl-treated-true" in page.treated_true_text
        and "crude (not standardised for age)" in page.treated_true_text
    )
    assert page_of_no_truth(default_config, people, tmp_path).treated_true_section() is None


def page_of_no_truth(config, people: pl.DataFrame, tmp_path) -> AccessTreatmentPage:
    return AccessTreatmentPage.for_frame(
        config, people.drop([c for c in people.columns if c.startswith("true_")]), downloads=tmp_path / "x"
    )
