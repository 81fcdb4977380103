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
        "By deprivation (IMD quintile), the model finds a share of cases 13.9 percentage points higher in "
        "the most deprived fifth than in the least deprived fifth (95% CI 3.9 to 23.9 "
        "percentage points). A model that knew each person's true risk, flagging the same top 5%, would find a "
        "share 26.2 percentage points higher (95% CI 16.2 to 36.2 percentage points): that is what the groups' "
        "different risks give. Against that reference the model finds 12.3 percentage points fewer of the cases "
        "in the most deprived fifth, relative to the least deprived fifth (95% CI 5.0 to "
        "21.0 percentage points): the part the model itself adds. "
    )


def test_reference_within_chance_and_a_negative_gap():
    rows = pl.DataFrame([gap("4", -0.237, -0.238, (-0.085, 0.081))])
    text = reference_text(rows, IMD, top="5%")
    assert "23.7 percentage points lower in deprivation fifth 4 than" in text
    assert "(95% CI 13.7 to 33.7 percentage points)" in text  # turned round with the gap
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
