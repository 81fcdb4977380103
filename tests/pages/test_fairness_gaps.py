"""Gaps beyond chance and beyond base rates on the fairness page, on hand-made frames."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from healthgap.config import DEFAULT_DIMENSIONS, DisclosureSettings
from healthgap.disclosure import Published
from healthgap.pages._fairness_gaps import chance_text, orient, reference_text
from healthgap.pages.fairness import NO_REFERENCE, FairnessPage
from tests.conftest import build_people
from tests.pages.conftest import html_of

IMD = DEFAULT_DIMENSIONS["imd_quintile"]


def pair(group: str, versus: str, value: float, lo: float, hi: float, survives: bool, **over: Any) -> dict:
    row = {
        "dimension": "imd_quintile",
        "dimension_label": IMD.label,
        "group": group,
        "group_label": IMD.label_of(group),
        "versus": versus,
        "versus_label": IMD.label_of(versus),
        "value": value,
        "lower_ci": lo,
        "upper_ci": hi,
        "excludes_null": survives,
        "comparisons": 10,
    }
    return {**row, **over}


def test_orient_turns_a_negative_gap_and_its_interval():
    row = orient(pair("4", "1", -0.178, -0.35, -0.005, True))
    assert (row["group"], row["versus"], row["value"], row["lower_ci"], row["upper_ci"]) == (
        "1",
        "4",
        0.178,
        0.005,
        0.35,
    )


def test_chance_headlines_the_largest_surviving_gap_not_the_largest_observed():
    rows = pl.DataFrame(
        [
            pair("1", "5", 0.25, -0.02, 0.52, False),  # largest, but chance
            pair("4", "1", -0.178, -0.35, -0.005, True),  # survives
            pair("2", "5", 0.05, 0.01, 0.09, True),  # survives, smaller
        ]
    )
    assert chance_text(rows, IMD) == (
        "By deprivation (IMD quintile), the largest gap that chance alone does not explain is 17.8 percentage "
        "points (simultaneous 95% CI 0.5 to 35.0 percentage points, over the 10 pairs compared): higher in the "
        "most deprived fifth than in deprivation fifth 4. "
    )


def test_chance_says_when_no_gap_survives():
    rows = pl.DataFrame([pair("1", "5", 0.25, -0.02, 0.52, False), pair("2", "5", 0.05, -0.01, 0.09, False)])
    assert chance_text(rows, IMD) == (
        "By deprivation (IMD quintile), no gap is beyond what chance alone gives: the largest, 25.0 percentage "
        "points higher in the most deprived fifth than in the least deprived fifth, has a simultaneous 95% CI -2.0 to 52.0 percentage points over the 10 pairs compared. "
    )


def test_chance_is_silent_without_published_gaps():
    rows = pl.DataFrame([pair("1", "5", 0.25, -0.02, 0.52, False)]).with_columns(
        value=pl.lit(None, pl.Float64)
    )
    assert chance_text(rows, IMD) == ""


def gap(group: str, model: float, ref: float, added_ci: tuple[float, float], **over: Any) -> dict:
    row = {
        "dimension": "imd_quintile",
        "dimension_label": IMD.label,
        "group": group,
        "group_label": IMD.label_of(group),
        "reference": "5",
        "reference_label": IMD.label_of("5"),
        "gap_model": model,
        "gap_model_lower": model - 0.1,
        "gap_model_upper": model + 0.1,
        "gap_reference": ref,
        "gap_reference_lower": ref - 0.1,
        "gap_reference_upper": ref + 0.1,
        "added": model - ref,
        "added_lower": added_ci[0],
        "added_upper": added_ci[1],
    }
    return {**row, **over}


def test_reference_separates_base_rates_from_what_the_model_adds():
    rows = pl.DataFrame([gap("1", 0.139, 0.262, (-0.21, -0.05)), gap("3", 0.001, 0.127, (-0.2, -0.05))])
    assert reference_text(rows, IMD, top="5%") == (
        "By deprivation (IMD quintile), against the reference group (the least deprived fifth), the model finds "
        "a share of cases 13.9 percentage points higher in the most deprived fifth than in the least deprived "
        "fifth (95% CI 3.9 to 23.9 percentage points, for this pair alone). A model that knew each person's true risk, flagging the same top 5%, would find a "
        "share 26.2 percentage points higher (95% CI 16.2 to 36.2 percentage points): that is what the groups' "
        "different risks give. Against that reference the model finds 12.3 percentage points fewer of the cases "
        "in the most deprived fifth, relative to the least deprived fifth (95% CI 5.0 to "
        "21.0 percentage points): the part the model itself adds. "
    )
    # the same two groups as "Gaps beyond chance" (either way round): pointed at, not given again
    said = {"group": "5", "versus": "1"}
    assert reference_text(rows, IMD, top="5%", said=said) == (
        "By deprivation (IMD quintile), the largest gap against the reference group (the least deprived fifth) "
        "is the pair already set against the perfect-risk model in @sec-fairness-chance. "
    )
    assert reference_text(rows, IMD, top="5%", said={"group": "4", "versus": "1"}).startswith(
        "By deprivation (IMD quintile), against the reference group"
    )


def test_reference_within_chance_and_a_negative_gap():
    rows = pl.DataFrame([gap("4", -0.237, -0.238, (-0.085, 0.081))])
    text = reference_text(rows, IMD, top="5%")
    assert "23.7 percentage points lower in deprivation fifth 4 than" in text
    assert "(95% CI 13.7 to 33.7 percentage points, for this pair alone)" in text  # turned round with the gap
    assert "0.1 percentage points more of the cases" in text
    # the added part is +0.1 (positive): its interval is not turned round
    assert text.endswith("(95% CI -8.5 to 8.1 percentage points); within what chance alone gives. ")


# -- the page --------------------------------------------------------------------------
@pytest.fixture
def page(page_of) -> FairnessPage:
    p = page_of(FairnessPage, build_people())
    p.problem = None
    p.models.dimensions = [IMD]
    p.groups = Published(  # the audit as published: every fifth's cases and cases found shown
        pl.DataFrame(
            {
                "dimension": "imd_quintile",
                "group": ["1", "2", "3", "4", "5"],
                "metric": "tpr",
                "numerator": [60, 20, 35, 40, 45],
                "denominator": [100, 60, 80, 90, 95],
            }
        ),
        ("numerator", "denominator"),
        DisclosureSettings(),
    )
    return p


def exact_pairs() -> pl.DataFrame:
    return pl.DataFrame(
        [
            pair("1", "4", 0.177777, 0.0051186, 0.350437, True, groups=5),
            pair("1", "5", 0.139216, -0.02, 0.3, False, groups=5),
            pair("2", "5", None, None, None, False, groups=5),  # e.g. a group with too few cases
        ]
    )


def test_published_gaps_are_rounded_and_carry_no_rates_or_counts(page):
    page.models.tpr_pairs = exact_pairs().with_columns(estimate=pl.lit(0.6), numerator=pl.lit(66))
    out = page.tpr_pairs.frame
    assert out["value"].to_list()[:2] == [0.178, 0.139]
    assert out["lower_ci"][0] == 0.005
    assert "estimate" not in out.columns and "numerator" not in out.columns
    assert "17.8 percentage points (simultaneous 95% CI" in html_of(page.chance_paragraph())


def test_no_gap_is_published_beside_a_group_whose_cases_found_are_suppressed(page):
    page.models.tpr_pairs = exact_pairs()
    page.groups = page.groups.pipe(
        lambda f: f.with_columns(
            numerator=pl.when(pl.col("group") == "4").then(None).otherwise(pl.col("numerator"))
        )
    )
    out = page.tpr_pairs.frame
    assert out.select("group", "versus").rows() == [("1", "5"), ("2", "5")]  # 1 vs 4 withheld
    page.__dict__.pop("tpr_pairs")
    page.groups = None
    assert page.tpr_pairs is None
    # nothing to compare: the section says so once instead of staying empty
    from healthgap.pages.fairness import NO_CHANCE

    assert html_of(page.chance_paragraph()) == NO_CHANCE


def test_reference_keeps_only_groups_with_compared_pairs_and_says_when_there_is_no_truth(page):
    page.models.tpr_pairs = exact_pairs()
    page.models.reference = None
    assert html_of(page.reference_paragraph()) == NO_REFERENCE
    ref_gaps = pl.DataFrame([gap("1", 0.139, 0.262, (-0.21, -0.05)), gap("2", 0.5, 0.1, (0.3, 0.5))])
    page.models.reference = SimpleNamespace(gaps=ref_gaps)
    page.__dict__.pop("reference_gaps")  # published again from the new reference
    text = html_of(page.reference_paragraph())
    assert "13.9 percentage points higher in the most deprived fifth" in text
    assert "deprivation fifth 2" not in text  # its pairs have no published gap


def test_no_paragraphs_without_a_model(page):
    page.problem = "no outcome column"
    assert page.reference_paragraph() is None


# -- the largest gap against the perfect-risk model (round 3: an age-band gap read as unfairness) --
AGE = DEFAULT_DIMENSIONS["age_band"]


def age_pair(group: str, versus: str, value: float, survives: bool = True) -> dict:
    return pair(
        group, versus, value, value - 0.15, value + 0.15, survives,
        dimension="age_band", dimension_label=AGE.label, group_label=group, versus_label=versus,
    )  # fmt: skip


def ref_pair(group: str, versus: str, model: float, ref: float, added_ci: tuple[float, float]) -> dict:
    return {
        "dimension": "age_band", "group": group, "versus": versus,
        "gap_model": model, "gap_model_lower": model - 0.1, "gap_model_upper": model + 0.1,
        "gap_reference": ref, "gap_reference_lower": ref - 0.08, "gap_reference_upper": ref + 0.08,
        "added": model - ref, "added_lower": added_ci[0], "added_upper": added_ci[1],
    }  # fmt: skip


def test_the_largest_age_gap_is_set_against_the_perfect_risk_model():
    from healthgap.pages._fairness_gaps import base_rate_text, chosen_pair

    rows = pl.DataFrame([age_pair("70-74", "90+", -0.533), age_pair("20-24", "25-29", 0.02, False)])
    chosen = chosen_pair(rows)
    assert chosen is not None and (chosen["group"], chosen["versus"]) == ("90+", "70-74")
    # stored the other way round (70-74 minus 90+): turned with its intervals
    refs = pl.DataFrame([ref_pair("70-74", "90+", -0.533, -0.5, (-0.12, 0.06))])
    text = base_rate_text(chosen, refs, AGE, top="5%")
    assert text == (
        "A model that knew each person's true risk, flagging the same top 5%, would find a share 50.0 percentage "
        "points higher among people aged 90+ than among people aged 70-74 (95% CI 42.0 to 58.0 percentage "
        "points): that much is what the groups' different risks give. Against it, the model's gap is 3.3 "
        "percentage points wider (95% CI -6.0 to 12.0 percentage points), within what chance alone gives: the "
        "gap is what the groups' different risks give at this capacity, not by itself unfairness. "
    )
    beyond = base_rate_text(
        chosen, pl.DataFrame([ref_pair("90+", "70-74", 0.533, 0.3, (0.1, 0.35))]), AGE, top="5%"
    )
    assert (
        "23.3 percentage points wider (95% CI 10.0 to 35.0 percentage points), beyond what chance" in beyond
    )
    assert beyond.endswith("the part the model itself adds. ")


def test_without_truth_an_age_gap_is_said_to_be_expected_and_other_gaps_get_nothing():
    from healthgap.pages._fairness_gaps import AGE_EXPECTED, AGE_NO_TRUTH, base_rate_text, chosen_pair

    chosen = chosen_pair(pl.DataFrame([age_pair("90+", "70-74", 0.533)]))
    assert base_rate_text(chosen, None, AGE, top="5%") == AGE_EXPECTED.format(top="5%") + AGE_NO_TRUTH
    assert "is not by itself unfairness" in AGE_EXPECTED
    # truth, but this pair's reference is not published: expected, without claiming there is no truth
    assert base_rate_text(chosen, pl.DataFrame(), AGE, top="5%") == AGE_EXPECTED.format(top="5%")
    imd = chosen_pair(pl.DataFrame([pair("1", "5", 0.2, 0.05, 0.35, True)]))
    assert base_rate_text(imd, None, IMD, top="5%") == ""
    assert base_rate_text(None, None, AGE, top="5%") == ""


def test_reference_pairs_are_the_differences_of_the_groups_rates_with_paired_intervals():
    """Independent check of :func:`healthgap.fairness._reference._pairs`: numpy by hand."""
    import numpy as np

    from healthgap.fairness._reference import _pairs

    rng = np.random.default_rng(7)
    tpr = rng.random((4, 2))
    reps = tpr + rng.normal(0, 0.05, (300, 4, 2))
    out = _pairs("age_band", ["a", "b", "c", "d"], tpr, reps, 0.9)
    assert out.height == 6
    r = out.filter(group="b", versus="d").row(0, named=True)
    assert r["gap_model"] == pytest.approx(tpr[1, 0] - tpr[3, 0])
    assert r["gap_reference"] == pytest.approx(tpr[1, 1] - tpr[3, 1])
    diff = (reps[:, 1, 0] - reps[:, 3, 0]) - (reps[:, 1, 1] - reps[:, 3, 1])
    assert r["added"] == pytest.approx((tpr[1, 0] - tpr[3, 0]) - (tpr[1, 1] - tpr[3, 1]))
    assert (r["added_lower"], r["added_upper"]) == pytest.approx(tuple(np.quantile(diff, [0.05, 0.95])))
