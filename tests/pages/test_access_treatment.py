"""The access and treatment page: its sentences, skip notes and publication, on small frames."""

from __future__ import annotations

from functools import partial

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.descriptive import detection, observed_expected, treatment
from healthgap.descriptive.access import recompute_ratios, recompute_shares
from healthgap.disclosure import publish, published_counts
from healthgap.pages.access_treatment import MISSED_INTRO, NO_TRUTH, TRUTH_TEXT, AccessTreatmentPage
from tests.conftest import build_people
from tests.pages.conftest import html_of

OFF = {"enabled": False, "reason": "unit tests on tiny frames"}

RULES_ALL = (
    "For each treatment we count only the people who should be receiving it, following NICE guidance: "
    "statins for people with coronary heart disease, stroke or TIA, or peripheral arterial disease, and "
    "people aged 40 or over with diabetes or chronic kidney disease (stages 3-5); anticoagulation for "
    "people with atrial fibrillation and a CHA₂DS₂-VASc score of 2 or more (3 or more for women); and "
    "blood pressure control (a last systolic blood pressure below 140 mmHg) for people treated for "
    "hypertension."
)


def with_truth(people: pl.DataFrame, seed: int = 5) -> pl.DataFrame:
    """People with a true hypertension status: every recorded case, and as many again unrecorded."""
    rng = np.random.default_rng(seed)
    hidden = pl.Series(rng.random(people.height) < 0.15)
    return people.with_columns((pl.col("hypertension") | hidden).alias("true_hypertension"))


def referred(n: int = 4000, seed: int = 2) -> pl.DataFrame:
    """People of whom a third are referred to cardiology (so each fifth has waits to compare)."""
    people = build_people(n, seed=seed)
    rng = np.random.default_rng(seed)
    ref = rng.random(n) < 0.35
    return people.with_columns(
        pl.Series("cardiology_referral", ref),
        pl.when(pl.Series(ref)).then(pl.Series(rng.integers(5, 250, n))).alias("days_to_first_outpatient"),
    )


def test_published_frames_are_those_the_analyses_give_with_published_counts(page_of):
    page = page_of(AccessTreatmentPage, with_truth(build_people(3000)))
    people, config, settings = page.book.frame, page.config, page.config.disclosure
    dims = ["imd_quintile", "ethnicity"]
    for published, exact, counts, recompute in (
        (
            page.observed_expected,
            observed_expected(people, config, dimensions=dims),
            ["observed", "population"],
            partial(recompute_ratios, events="observed", population="expected", multiplier=1),
        ),
        (
            page.detection,
            detection(people, config, dimensions=dims),
            ["recorded", "affected"],
            partial(recompute_shares, numerator="recorded", denominator="affected"),
        ),
        (
            page.treatment,
            treatment(people, config, dimensions=dims),
            ["treated", "eligible"],
            partial(recompute_shares, numerator="treated", denominator="eligible"),
        ),
    ):
        assert published is not None
        # what the analyses returned before they were exact: statistics from the rounded counts
        before = recompute(published_counts(exact, counts, settings=settings))
        if "measure_label" not in before.columns:
            before = before.with_columns(published.frame["measure_label"])
        legacy = publish(before, counts=counts, settings=settings)
        assert_frame_equal(published.frame, legacy.frame, rel_tol=1e-12)
    oe = page.observed_expected
    assert oe is not None
    rows = oe.frame.filter(pl.col("observed").is_not_null() & (pl.col("observed") > 0))
    assert (rows["observed"] % 5 == 0).all()  # the ratio comes from the published count
    assert rows["value"].to_list() == pytest.approx((rows["observed"] / rows["expected"]).to_list())


def test_waits_and_missed_publish_nothing_finer_than_their_counts(page_of):
    page = page_of(AccessTreatmentPage, referred())
    assert page.waits is not None and page.missed is not None
    w = page.waits.frame.filter(pl.col("seen").is_not_null())
    assert (w["seen"] % 5 == 0).all() and (w["over_18_weeks"] % 5 == 0).all()
    assert w["value"].to_list() == pytest.approx((100 * w["over_18_weeks"] / w["seen"]).to_list())
    m = page.missed.frame.filter(pl.col("population").is_not_null())
    assert m["value"].to_list() == pytest.approx((100 * m["events"] / m["population"]).to_list())
    assert page.waits.frame["dimension"].unique().to_list() == ["imd_quintile"]


def test_oe_text_present_absent_and_suppressed(page_of):
    page = page_of(AccessTreatmentPage, build_people(2000), disclosure=OFF)
    text = page.oe_text
    assert text.startswith("For hypertension, the most deprived fifth has ")
    assert "times the recorded cases expected from its age and sex, and the least deprived fifth " in text
    assert text.endswith(" times.")
    no_focus = page_of(AccessTreatmentPage, build_people(300).drop("hypertension", "chd", "af", "pad"))
    assert no_focus.oe_focus is None and no_focus.oe_text == ""
    tiny = page_of(AccessTreatmentPage, build_people(40))
    assert "not published (too few people)" in tiny.oe_text


def test_detection_with_and_without_true_status(page_of):
    page = page_of(AccessTreatmentPage, with_truth(build_people(3000)), disclosure=OFF)
    assert page.truth_text == TRUTH_TEXT
    assert page.detection_text.startswith("The share of people with hypertension who are recorded was ")
    assert page.detection_text.endswith(" percentage points.")
    none = page_of(AccessTreatmentPage, build_people(300))
    assert none.truth_text == "" and none.detection_text == "" and none.detection is None
    assert NO_TRUTH in html_of(none.detection_figure())


def test_rules_name_each_measure_and_the_conditions_missing(page_of):
    assert page_of(AccessTreatmentPage, build_people(300)).rules_text == RULES_ALL
    partial = page_of(AccessTreatmentPage, build_people(300).drop("pad", "ckd")).rules_text
    assert (
        "statins for people with coronary heart disease or stroke or TIA, and people aged 40 or over with diabetes;"
        in partial
    )
    assert "anticoagulation" not in partial  # CHA2DS2-VASc needs PAD
    assert partial.endswith(
        "This dataset has no peripheral arterial disease or chronic kidney disease (stages 3-5) columns, so "
        "statin eligibility is judged from the other conditions only."
    )
    one = page_of(AccessTreatmentPage, build_people(300).drop("ckd")).rules_text
    assert "This dataset has no chronic kidney disease (stages 3-5) column, so" in one
    no_drugs = page_of(
        AccessTreatmentPage, build_people(300).drop("statin", "anticoagulant", "antihypertensive")
    )
    assert no_drugs.rules_text == "" and no_drugs.treatment_text == ""
    assert "no prescribing columns" in html_of(no_drugs.treatment_figure())
    assert "no prescribing or ethnicity columns" in html_of(no_drugs.treatment_table())
    assert no_drugs.treatment_table_text() == ""


def test_treatment_text_present_and_suppressed(page_of):
    text = page_of(AccessTreatmentPage, build_people(3000), disclosure=OFF).treatment_text
    assert text.startswith("Statin prescribing among eligible people was ")
    assert " Anticoagulation among eligible people with AF " in text
    assert " Blood pressure control in treated hypertension was " in text
    small = page_of(AccessTreatmentPage, build_people(150)).treatment_text
    assert (
        "Anticoagulation among eligible people with AF cannot be compared between the most deprived fifth and "
        in small
    )


def test_waits_and_missed_sentences_carry_their_units(page_of):
    page = page_of(AccessTreatmentPage, referred(), disclosure=OFF)
    assert page.waits_text.startswith("The share waiting more than 18 weeks was ")
    median = page.waits_text.split(" percentage points. ", 1)[1]
    assert median.startswith("The median wait was ") and median.endswith(" days.")
    assert " days in the most deprived fifth against " in median and ", a difference of " in median
    intro = html_of(page.waits_intro())
    assert "@fig-waits shows the share who waited more than 18 weeks (126 days)" in intro
    assert page.missed_intro == MISSED_INTRO
    assert page.missed_text.startswith("The number of missed appointments per 100 people referred was ")
    assert page.missed_text.endswith(" per 100 referred.")


def test_waits_and_missed_absent(page_of):
    page = page_of(
        AccessTreatmentPage, build_people(300).drop("days_to_first_outpatient", "missed_appointments")
    )
    assert page.waits_text == "" and page.waits_intro() == ""
    assert page.missed_text == "" and page.missed_intro == ""
    assert "no waiting time column (days_to_first_outpatient)" in html_of(page.waits_figure())
    assert "no missed appointments column" in html_of(page.missed_figure())


def test_no_deprivation_skips_the_figures(page_of):
    page = page_of(AccessTreatmentPage, build_people(300), equity={"dimensions": ["ethnicity", "sex"]})
    assert page.imd is None and page.oe_text == "" and page.treatment_text == "" and page.waits is None
    assert "no deprivation (IMD) column" in html_of(page.oe_figure())
    assert "Treated (%)" in html_of(page.treatment_table())  # by ethnic group, still shown


def test_waits_figure_and_treatment_table_downloads(page_of):
    page = page_of(AccessTreatmentPage, referred())
    markup = html_of(page.waits_figure())
    assert (
        'id="waits"' in markup and "waited over 18 weeks, by deprivation fifth. The share waiting" in markup
    )
    waits = pl.read_csv(page.book.downloads / "access-treatment" / "waits.csv")
    assert waits.columns[:10] == [
        "dimension", "level", "label", "seen", "over_18_weeks", "median_days", "mean_days", "value", "lower_ci",
        "upper_ci",
    ]  # fmt: skip
    assert {"suppressed_seen", "suppression_reason_over_18_weeks"} <= set(waits.columns)
    html_of(page.treatment_table())
    table = pl.read_csv(page.book.downloads / "access-treatment" / "treatment-ethnicity.csv")
    assert table["dimension"].unique().to_list() == ["ethnicity"]
    assert (
        html_of(page.treatment_table_text())
        == "@tbl-treatment-ethnicity gives the same measures by ethnic group."
    )
