"""The welcome page: the wording of the five findings, what the report covers, the download."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
import yaml

from healthgap.descriptive.headlines import (
    FIFTH_SUPPRESSED,
    KEYS,
    NO_CONDITIONS,
    NO_DEPRIVATION,
    NO_OUTCOMES,
    NO_REFERENCE,
    NO_STATIN,
    OBSERVED_EXPECTED,
    TOO_FEW,
    Finding,
    HeadlineTables,
    headline_numbers,
)
from healthgap.pages.welcome import (
    WelcomePage,
    access_text,
    geography_text,
    headlines,
    outcome_ratio_text,
    outcomes_text,
    place_text,
    prevalence_gap_text,
    protection_text,
    slope_text,
    source_text,
    title_of,
    treatment_gap_text,
    unavailable_text,
    underdiagnosis_text,
    word,
)
from tests.conftest import DEFAULT_YML, build_people
from tests.pages.conftest import html_of

# -- the findings' sentences, on numbers typed in --------------------------------------------------


def gap(**values) -> Finding:
    base = {
        "condition": "hypertension",
        "most": 13.04,
        "least": 13.12,
        "gap": -0.08,
        "ratio": 0.99,
        "clear": False,
        "by_ratio": True,
        "rr_lower": 0.961,
        "rr_upper": 1.034,
    }
    return Finding("prevalence_gap", base | values)


def test_prevalence_gap_says_no_clear_difference_with_the_ratio_interval():
    assert prevalence_gap_text(gap()) == (
        "After allowing for differences in age, recorded hypertension was 13.0% in the most deprived "
        "fifth of the population and 13.1% in the least deprived fifth: no clear difference "
        "(rate ratio 0.99, 95% CI 0.96 to 1.03)."
    )
    without_ratio = prevalence_gap_text(gap(by_ratio=False))
    assert without_ratio.endswith(": no clear difference (their 95% confidence intervals overlap).")


def test_prevalence_gap_reports_a_clear_gap_either_way():
    higher = prevalence_gap_text(gap(most=20.0, least=10.0, gap=10.0, ratio=2.0, clear=True))
    assert higher.endswith(
        "10.0% in the least deprived fifth: 10.0 percentage points higher (2.00 times the rate)."
    )
    lower = prevalence_gap_text(gap(most=8.0, least=10.0, gap=-2.0, ratio=0.8, clear=True))
    assert ": 2.0 percentage points lower (0.80 times the rate)." in lower
    assert "no clear difference" not in higher + lower


def test_condition_names_are_lower_cased_by_the_one_rule():
    text = prevalence_gap_text(gap(condition="stroke_tia"))
    assert "recorded stroke or TIA was" in text


def slope(sii: float, lo: float, hi: float) -> Finding:
    return Finding("slope", {"condition": "chd", "sii": sii, "sii_lower": lo, "sii_upper": hi, "rii": 0.8})


def test_slope_names_the_direction_and_says_when_it_could_be_chance():
    assert slope_text(slope(-2.012, -2.22, -1.81)) == (
        "Across the whole deprivation gradient, age-standardised recorded coronary heart disease is 2.01 "
        "percentage points higher in more deprived areas (slope index of inequality -2.01, 95% CI -2.22 to "
        "-1.81; a negative value means higher in more deprived areas)."
    )
    unclear = slope_text(slope(1.43, -0.95, 3.83))
    assert "higher in less deprived areas" in unclear
    assert unclear.endswith("more deprived areas); the difference could be due to chance.")


def test_underdiagnosis_from_detection():
    f = Finding(
        "underdiagnosis",
        {"condition": "hypertension", "most": 55.2, "least": 74.9, "gap": -19.7, "measure": "detection"},
    )
    assert underdiagnosis_text(f) == (
        "Of the people who truly have hypertension, 55% in the most deprived fifth are on a GP register, "
        "against 75% in the least deprived fifth: the condition goes unrecorded more often in the most "
        "deprived areas."
    )
    even = replace(f, values=f.values | {"most": 80.0, "least": 75.0})
    assert underdiagnosis_text(even).endswith("against 75% in the least deprived fifth.")


def observed(**values) -> Finding:
    base = {
        "condition": "hypertension",
        "measure": OBSERVED_EXPECTED,
        "most": 0.96,
        "least": 0.98,
        "gap": -0.02,
        "most_lower": 0.87,
        "most_upper": 1.07,
        "least_lower": 0.90,
        "least_upper": 1.07,
    }
    return Finding("underdiagnosis", base | values)


def test_underdiagnosis_from_observed_over_expected():
    assert underdiagnosis_text(observed()) == (
        "The most deprived fifth has 0.96 times the number of recorded hypertension cases expected from its "
        "age and sex, 95% CI 0.87 to 1.07 (least deprived fifth: 0.98, 95% CI 0.90 to 1.07). Neither differs "
        "clearly from what age and sex would predict. Without data on true disease status this cannot "
        "separate more disease from better or worse diagnosis."
    )
    differs = underdiagnosis_text(observed(most=1.3, most_lower=1.1, most_upper=1.5))
    assert (
        "Neither differs" not in differs
        and "(least deprived fifth: 0.98, 95% CI 0.90 to 1.07). Without" in differs
    )
    no_ci = underdiagnosis_text(observed(most_lower=None, most_upper=None))
    assert "age and sex (least deprived fifth" in no_ci


def test_treatment_gap_and_how_eligibility_was_judged():
    f = Finding(
        "treatment_gap", {"most": 64.2, "least": 77.3, "gap": 13.1, "measure_label": "Statin prescribed"}
    )
    assert treatment_gap_text(f) == (
        "Among people who should be offered a statin, 64% in the most deprived fifth were prescribed one, "
        "against 77% in the least deprived fifth (a gap of 13.1 percentage points)."
    )
    partial = replace(
        f,
        values=f.values
        | {
            "measure_label": "Statin prescribed (eligible from recorded coronary heart disease and diabetes only)"
        },
    )
    assert treatment_gap_text(partial).endswith(
        " Eligibility was judged from recorded coronary heart disease and diabetes only, the conditions this "
        "dataset has."
    )


def test_outcome_ratio_names_the_outcome_and_says_when_it_could_be_chance():
    f = Finding("outcome_ratio", {"outcome": "cvd_admissions", "ratio": 2.294, "lower": 1.98, "upper": 2.65})
    assert title_of(f) == "Emergency CVD admissions"
    assert outcome_ratio_text(f) == (
        "After allowing for age, people in the most deprived fifth had 2.29 times the rate of an emergency "
        "admission for heart or circulatory disease of people in the least deprived fifth (95% CI 1.98 to 2.65)."
    )
    deaths = Finding("outcome_ratio", {"outcome": "cvd_death", "ratio": 0.96, "lower": 0.70, "upper": 1.31})
    assert title_of(deaths) == "CVD deaths"
    assert outcome_ratio_text(deaths).endswith(
        "the rate of death from heart or circulatory disease of people in the least deprived fifth "
        "(95% CI 0.70 to 1.31); the difference could be due to chance."
    )


@pytest.mark.parametrize(
    ("finding", "text"),
    [
        (
            Finding("slope", available=False, reason=NO_DEPRIVATION),
            "Slope index of inequality cannot be reported: the dataset has no deprivation (IMD) column.",
        ),
        (
            Finding("outcome_ratio", available=False, reason=NO_DEPRIVATION),
            "Outcomes cannot be reported: the dataset has no deprivation (IMD) column.",
        ),
        (
            Finding("prevalence_gap", available=False, reason=NO_CONDITIONS),
            "Recorded disease and deprivation cannot be reported: the dataset has no conditions.",
        ),
        (
            Finding("prevalence_gap", {"condition": "hypertension"}, available=False, reason=TOO_FEW),
            "The deprivation gap in hypertension cannot be reported: too few people in a group.",
        ),
        (
            Finding("slope", {"condition": "chd"}, available=False, reason=FIFTH_SUPPRESSED),
            "The slope index of inequality for coronary heart disease cannot be reported: a deprivation fifth "
            "has too few cases.",
        ),
        (
            Finding("underdiagnosis", {"condition": "hypertension"}, available=False, reason=TOO_FEW),
            "Under-diagnosis of hypertension cannot be reported: too few people in a group.",
        ),
        (
            Finding("treatment_gap", available=False, reason=NO_STATIN),
            "Treatment gap cannot be reported: the dataset has no statin prescribing.",
        ),
        (
            Finding("treatment_gap", available=False, reason=TOO_FEW),
            "The statin treatment gap cannot be reported: too few people in a group.",
        ),
        (
            Finding("outcome_ratio", available=False, reason=NO_OUTCOMES),
            "Outcomes cannot be reported: the dataset has no outcome columns.",
        ),
        (
            Finding("outcome_ratio", {"outcome": "cvd_death"}, available=False, reason=TOO_FEW),
            "The deprivation gap in CVD deaths cannot be reported: too few people in a group.",
        ),
        (
            Finding("outcome_ratio", {"outcome": "cvd_admissions"}, available=False, reason=NO_REFERENCE),
            "The deprivation gap in emergency CVD admissions cannot be reported: the least deprived fifth is "
            "not the reference group.",
        ),
    ],
)
def test_a_finding_that_cannot_be_reported_says_why(finding, text):
    assert unavailable_text(finding) == text
    assert word(finding).text == text and not word(finding).available


def test_without_deprivation_every_finding_says_so():
    worded = [word(f) for f in headline_numbers(HeadlineTables(), {})]
    assert [w.key for w in worded] == list(KEYS)
    assert all("no deprivation (IMD) column" in w.text and not w.available for w in worded)


# -- the findings on a small population ------------------------------------------------------------


def test_page_findings_come_from_its_published_tables(page_of):
    page = page_of(WelcomePage, build_people(5000))
    worded = page.headlines
    assert all(h.available for h in worded), [h.text for h in worded]
    # the same sentences as headlines() (tests/test_chapters.py compares these with the rendered page)
    assert [h.text for h in headlines(page.book.frame, page.config)] == [h.text for h in worded]
    markdown = worded.markdown().splitlines()
    assert len(markdown) == 5 and markdown[0].startswith("1. **Recorded disease and deprivation.** After")
    # rule 8: the statin shares are those of the counts as published (rounded to 5)
    published = page.book.publish(page_tables(page)["treatment"], counts=["treated", "eligible"]).frame
    row = published.filter(pl.col("level") == "1").row(0, named=True)
    assert row["treated"] % 5 == 0 and row["eligible"] % 5 == 0
    assert worded.treatment_gap.values["most"] == pytest.approx(100 * row["treated"] / row["eligible"])
    statin = worded.treatment_gap.values
    assert statin["gap"] == pytest.approx(statin["least"] - statin["most"])  # the gap is least minus most
    assert f"(a gap of {abs(statin['gap']):.1f} percentage points)" in worded.treatment_gap.text


def test_slope_is_the_recorded_disease_pages_index(page_of):
    """Both pages weight the slope index by the published (rounded) populations of the same table."""
    from healthgap.pages.recorded_disease import RecordedDiseasePage

    people = build_people(5000)
    slope = page_of(WelcomePage, people).headlines.slope.values
    indices = page_of(RecordedDiseasePage, people).indices
    assert indices is not None
    row = indices.row(condition="Coronary heart disease")
    assert slope["condition"] == "chd" and row is not None
    assert slope["sii"] == pytest.approx(row["sii"], rel=1e-12)
    assert slope["rii"] == pytest.approx(row["rii"], rel=1e-12)


def page_tables(page: WelcomePage) -> dict[str, pl.DataFrame]:
    from healthgap.descriptive.headlines import headline_tables

    return headline_tables(page.people, page.config).tables


def test_small_groups_give_no_numbers(page_of):
    page = page_of(WelcomePage, build_people(2000), disclosure={"suppress_below": 400, "rounding": 5})
    worded = page.headlines
    assert not any(h.available for h in worded)
    assert worded.prevalence_gap.text == (
        "The deprivation gap in hypertension cannot be reported: too few people in a group."
    )
    assert not any(ch.isdigit() for h in worded for ch in h.text)


def test_missing_columns_give_their_reasons(page_of):
    people = build_people(2000).drop("statin", "cvd_admissions", "cvd_death")
    worded = page_of(WelcomePage, people, model={"target": "chd"}).headlines
    assert (
        worded.treatment_gap.text
        == "Treatment gap cannot be reported: the dataset has no statin prescribing."
    )
    assert worded.outcome_ratio.text == "Outcomes cannot be reported: the dataset has no outcome columns."
    assert worded.prevalence_gap.available


def test_download_lists_the_five_findings(page_of):
    page = page_of(WelcomePage, build_people(2000))
    assert "Download the five headline findings" in html_of(page.download())
    csv = pl.read_csv(Path(page.book.downloads) / "index" / "headlines.csv")
    assert csv.columns == ["finding", "title", "sentence", "available"]
    assert csv.get_column("finding").to_list() == list(KEYS)
    assert csv.get_column("sentence").to_list() == [h.text for h in page.headlines]


#: The default equity dimensions without locality (for a dataset without the column).
NO_LOCALITY = [
    d
    for d in yaml.safe_load(DEFAULT_YML.read_text(encoding="utf-8"))["equity"]["dimensions"]
    if d["name"] != "locality"
]


# -- what the report covers --------------------------------------------------------------------------


def test_opening_paragraph(page_of):
    page = page_of(WelcomePage, build_people(400), report={"period": "2024/25"})
    assert page.organisation == f"{page.config.report.organisation} for 2024/25"
    assert page.size == "400" and page.registered == "registered with 3 GP practices"
    assert page.waits == "who waits longest " and page.place == " and place"
    bare = page_of(WelcomePage, build_people(400).drop("days_to_first_outpatient"), report={"period": None})
    assert bare.organisation == bare.config.report.organisation and bare.waits == ""


def test_chapter_list_follows_the_data(page_of):
    page = page_of(WelcomePage, build_people(400))
    caps = page.caps
    assert access_text(caps) == (
        "looks at diagnosis (how recorded cases compare with those expected), treatment of people who should "
        "be treated, waits and missed appointments."
    )
    assert (
        outcomes_text(caps, outcomes=page.config.outcomes)
        == "compares emergency admissions and deaths, and GP practices."
    )
    assert outcomes_text(caps, outcomes=["cvd_death"]) == "compares deaths, and GP practices."
    assert geography_text(caps) == (
        "compares localities and small areas, shown as equal-sized tiles in a chart (the dataset has no "
        "boundaries to draw a map)."
    )
    assert (
        geography_text(replace(caps, area_view="map")) == "compares localities and small areas, with a map."
    )
    assert page.model_target == "emergency admissions"
    thin = page_of(
        WelcomePage,
        build_people(400).drop(
            "statin",
            "antihypertensive",
            "anticoagulant",
            "days_to_first_outpatient",
            "missed_appointments",
            "lsoa",
            "locality",
            "gp_practice",
            "cvd_admissions",
            "cvd_death",
        ),
        equity={"dimensions": NO_LOCALITY},
        model={"target": "chd"},
    ).caps
    assert access_text(thin) == "looks at diagnosis (how recorded cases compare with those expected)."
    assert access_text(replace(thin, truth=("hypertension",))) == "looks at diagnosis."
    assert outcomes_text(thin, outcomes=["cvd_admissions"]) == "compares outcomes."
    assert geography_text(thin) == (
        "has nothing to show for this dataset, which has no locality, small-area or GP practice column."
    )
    assert place_text(thin) == ""
    practices = replace(
        thin, columns=thin.columns | {"gp_practice"}, area_column="gp_practice", area_view="tiles"
    )
    assert place_text(practices) == " and GP practice"
    assert geography_text(practices).startswith("compares GP practices, shown as equal-sized tiles")


def test_source_promises_a_known_answer_only_with_the_truth(page_of):
    config = page_of(WelcomePage, build_people(100)).config
    assert source_text(config) == (
        "a synthetic population: computer-generated people whose inequalities were built in on purpose"
    )
    with_truth = replace(config, data=replace(config.data, truth=Path("truth.json")))
    assert source_text(with_truth).endswith(
        ", so that every method in the report can be checked against a known answer"
    )
    real = replace(config, data=replace(config.data, synthetic=False, path=Path("/data/extract.csv")))
    assert source_text(real) == "the dataset extract.csv"


def test_protection_follows_the_disclosure_settings(page_of):
    config = page_of(WelcomePage, build_people(100), disclosure={"suppress_below": 11, "rounding": 10}).config
    assert protection_text(config) == (
        "To protect confidentiality, counts from 1 to 10 are never shown and all other counts are rounded to "
        "the nearest 10"
    )
    off = replace(config, disclosure=replace(config.disclosure, enabled=False))
    assert (
        protection_text(off)
        == "Disclosure control is switched off for this report, so it must not be published"
    )
