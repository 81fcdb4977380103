"""Calibration by group on the fairness page: sentences and publication on hand-made frames.

The exact frame has the columns of :func:`healthgap.fairness.calibration_by_group`; the
page publishes it (observed cases rounded) and words it. Checks use an independent
formula for the exact Poisson interval (gamma quantiles) and hand-written sentences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.stats import gamma

from healthgap.config import DEFAULT_DIMENSIONS
from healthgap.fairness import CALIBRATION_METHOD
from healthgap.pages._fairness_calibration import (
    NO_SURVIVOR,
    headline_text,
    held_words,
    range_text,
    truth_text,
)
from healthgap.pages._groups import label_name
from healthgap.pages.fairness import FairnessPage
from tests.conftest import build_people
from tests.pages.conftest import html_of

IMD = DEFAULT_DIMENSIONS["imd_quintile"]
SEX = DEFAULT_DIMENSIONS["sex"]


def row(
    group: str, order: int, value: float | None, lo: float | None, hi: float | None, **over: Any
) -> dict[str, Any]:
    """One published row of deprivation (simultaneous interval twice as wide as the 95% one)."""
    shown = value is not None and lo is not None and hi is not None
    base = {
        "dimension": "imd_quintile",
        "dimension_label": IMD.label,
        "group": group,
        "group_label": IMD.label_of(group),
        "order": order,
        "value": value,
        "lower_ci": lo,
        "upper_ci": hi,
        "simultaneous_lower": value - 2 * (value - lo) if shown else None,  # type: ignore[operator]
        "simultaneous_upper": value + 2 * (hi - value) if shown else None,  # type: ignore[operator]
        "true_ratio": None,
    }
    return {**base, **over}


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema_overrides={"true_ratio": pl.Float64})


def test_range_names_lowest_and_highest_group_with_intervals():
    rows = frame(
        row("1", 0, 1.23, 1.01, 1.49),
        row("3", 2, 1.0, 0.9, 1.1),
        row("5", 4, 0.9, 0.73, 1.09),
    )
    assert range_text(rows, IMD) == (
        "By deprivation (IMD quintile), observed cases range from 0.90 times the cases the model predicts "
        "in the least deprived fifth (95% CI 0.73 to 1.09) to 1.23 times the cases the model predicts "
        "in the most deprived fifth (95% CI 1.01 to 1.49). "
    )


def test_range_needs_two_published_groups():
    assert range_text(frame(row("1", 0, 1.2, 1.0, 1.4), row("5", 4, None, None, None)), IMD) == ""


def test_truth_sentence_states_both_ends_and_whether_the_intervals_hold_the_truth():
    rows = frame(
        row("1", 0, 1.23, 1.01, 1.49, true_ratio=1.27),  # held
        row("3", 2, 1.0, 0.9, 1.1, true_ratio=1.0),  # held
        row("5", 4, 0.9, 0.73, 1.09, true_ratio=0.7),  # not held
    )
    assert truth_text(rows, IMD) == (
        "Against each person's true risk, which this data records, true over predicted risk by deprivation "
        "(IMD quintile) ranges from 0.70 in the least deprived fifth (the true risk 30% below the "
        "prediction) to 1.27 in the most deprived fifth (27% above it). The observed/expected interval "
        "holds the true ratio in 2 of the 3 deprivation fifths shown. "
    )


def test_each_dimension_states_its_own_interval_coverage_once():
    """Two dimensions whose intervals each hold the truth in 2 of 2 groups made the same sentence
    twice on the default data ("... in 2 of the 2 groups shown."): each now names its groups."""
    imd = frame(row("1", 0, 1.2, 1.0, 1.4, true_ratio=1.3), row("5", 4, 0.9, 0.8, 1.0, true_ratio=0.85))
    sex = frame(
        row(
            "female",
            0,
            1.1,
            1.0,
            1.2,
            true_ratio=1.14,
            dimension="sex",
            dimension_label=SEX.label,
            group_label=SEX.label_of("female"),
        ),
        row(
            "male",
            1,
            0.9,
            0.8,
            1.0,
            true_ratio=0.89,
            dimension="sex",
            dimension_label=SEX.label,
            group_label=SEX.label_of("male"),
        ),
    )
    texts = [truth_text(imd, IMD), truth_text(sex, SEX)]
    last = [t.split(". ")[-2] for t in texts]  # the coverage sentence of each
    assert last[0] != last[1]
    assert "holds the true ratio in both deprivation fifths shown" in texts[0]
    assert "holds the true ratio in both sexes shown" in texts[1]


def test_held_words_counts_the_groups():
    assert held_words(5, 5, "deprivation fifths") == "all 5 deprivation fifths shown"
    assert held_words(2, 2, "sexes") == "both sexes shown"
    assert held_words(0, 2, "sexes") == "none of the 2 sexes shown"
    assert held_words(3, 5, "ethnic groups") == "3 of the 5 ethnic groups shown"


def test_no_truth_sentence_without_truth():
    rows = frame(row("1", 0, 1.23, 1.01, 1.49), row("5", 4, 0.9, 0.73, 1.09))
    assert truth_text(rows, IMD) == ""


def test_headline_says_none_survives_when_every_simultaneous_interval_holds_1():
    rows = frame(row("1", 0, 1.23, 1.01, 1.49), row("5", 4, 0.9, 0.73, 1.09))
    assert rows["simultaneous_lower"][0] < 1  # 1.23 - 2 * 0.22
    assert headline_text(rows, [IMD]) == NO_SURVIVOR.format(k=2)


def test_headline_without_survivor_names_the_truths_largest_miscalibration():
    rows = frame(
        row("1", 0, 1.23, 1.01, 1.49, true_ratio=1.27),
        row("5", 4, 0.9, 0.73, 1.09, true_ratio=0.75),  # |log 0.75| = 0.288 > log 1.27 = 0.239
    )
    assert headline_text(rows, [IMD]) == NO_SURVIVOR.format(k=2) + (
        " The truth shows what the outcomes cannot: the model's largest miscalibration is in deprivation "
        "fifth 5, least deprived, whose true risk is 25% below the model's predictions (true over predicted "
        "0.75)."
    )
    calibrated = rows.with_columns(true_ratio=pl.lit(1.004))
    assert headline_text(calibrated, [IMD]).endswith("within 1% of the model's predictions.")


def test_headline_names_the_largest_surviving_not_the_largest_observed():
    rows = frame(
        row("1", 0, 1.5, 1.2, 1.8),  # largest, simultaneous 0.9 to 2.1: chance
        row("2", 1, 1.3, 1.25, 1.35),  # survives: 1.2 to 1.4
        row("5", 4, 0.8, 0.78, 0.82),  # survives, smaller on the log scale than 1.3
        row("4", 3, None, None, None),  # suppressed
    )
    assert headline_text(rows, [IMD]) == (
        "The largest miscalibration beyond what chance alone gives across the 3 groups compared: "
        "deprivation fifth 2 has 30% more cases than the model predicts (observed/expected 1.30, "
        "simultaneous 95% CI 1.20 to 1.40); the model under-predicts their risk (1 other group also "
        "beyond chance). "
    )


def test_headline_over_prediction():
    rows = frame(row("5", 4, 0.8, 0.78, 0.82), row("1", 0, 1.0, 0.9, 1.1))
    assert "has 20% fewer cases than the model predicts" in headline_text(rows, [IMD])
    assert "the model over-predicts their risk. " in headline_text(rows, [IMD])


# -- the page: publication from exact counts -------------------------------------------
def exact_frame() -> pl.DataFrame:
    """An exact calibration frame: three deprivation fifths and sex."""
    rows = [
        ("imd_quintile", IMD.label, "1", 0, 5003, 212, 171.3, 1.27),
        ("imd_quintile", IMD.label, "5", 4, 4998, 103, 116.9, 0.81),
        ("imd_quintile", IMD.label, "3", 2, 5030, 144, 142.5, 1.0),
        ("sex", SEX.label, "female", 0, 5101, 141, 150.2, 0.88),
        ("sex", SEX.label, "male", 1, 4930, 178, 160.0, 1.12),
    ]
    from healthgap.fairness import recompute_calibration

    f = pl.DataFrame(
        rows,
        schema=["dimension", "dimension_label", "group", "order", "n", "observed", "expected", "true_ratio"],
        orient="row",
    ).with_columns(
        group_label=pl.struct("dimension", "group").map_elements(
            lambda r: DEFAULT_DIMENSIONS[r["dimension"]].label_of(r["group"]), return_dtype=pl.String
        ),
        true_expected=pl.col("true_ratio") * pl.col("expected"),
        confidence=pl.lit(0.95),
        method=pl.lit(CALIBRATION_METHOD),
    )
    return recompute_calibration(f, confidence=0.95)


@pytest.fixture
def page(page_of) -> FairnessPage:
    p = page_of(FairnessPage, build_people())
    p.problem = None
    p.models.social = [IMD, SEX]
    return p


def test_published_ratios_come_from_rounded_cases_with_exact_intervals(page):
    page.models.calibration = exact_frame()
    out = page.calibration.frame
    one = out.filter(pl.col("group") == "1").row(0, named=True)
    assert one["observed"] == 210  # 212 rounded to 5
    assert one["value"] == pytest.approx(210 / 171.3)
    # Garwood interval from gamma quantiles (independent of the chi-square form)
    assert one["lower_ci"] == pytest.approx(gamma.ppf(0.025, 210) / 171.3)
    assert one["upper_ci"] == pytest.approx(gamma.ppf(0.975, 211) / 171.3)
    # Bonferroni over the 3 deprivation groups of the exact frame
    assert one["simultaneous_lower"] == pytest.approx(gamma.ppf(0.025 / 3, 210) / 171.3)
    assert one["true_ratio"] == pytest.approx(1.27)
    assert "true_expected" not in out.columns


def test_a_suppressed_group_is_neither_shown_nor_worded(page):
    small = pl.DataFrame({"n": [30], "observed": [4], "expected": [2.5]})
    exact = exact_frame()
    exact = exact.with_columns(
        pl.when(pl.col("group") == "3").then(small[c][0]).otherwise(pl.col(c)).alias(c)
        for c in ("n", "observed", "expected")
    )
    page.models.calibration = exact
    out = page.calibration.frame.filter(pl.col("group") == "3").row(0, named=True)
    assert out["value"] is None and out["observed"] is None  # fewer than 50 people
    text = html_of(page.calibration_paragraph())
    assert "deprivation fifth 3" not in text


def test_paragraph_on_present_data(page):
    page.models.calibration = exact_frame()
    text = html_of(page.calibration_paragraph())
    f = page.calibration.frame.filter(pl.col("dimension") == "imd_quintile")
    assert range_text(f, IMD) in text and truth_text(f, IMD) in text
    assert "to 1.27 in the most deprived fifth (27% above it)" in text
    assert "to 1.12 among men (12% above it)" in text
    assert np.isclose(f.filter(pl.col("group") == "5")["value"][0], 105 / 116.9)
    assert headline_text(page.calibration.frame, [IMD, SEX], name=label_name) in text
    assert (
        "compared: the most deprived fifth has" in text
    )  # named mid-sentence, not "deprivation fifth 1, ..."
    assert "@tbl-fairness-calibration" in text


def test_table_drops_the_truth_column_without_truth(page):
    page.models.calibration = exact_frame().with_columns(
        true_ratio=pl.lit(None, pl.Float64), true_expected=pl.lit(None, pl.Float64)
    )
    html = html_of(page.calibration_table())
    assert "Observed / expected" in html and "True / predicted" not in html
    assert "Against each person's true risk" not in html_of(page.calibration_paragraph())


def test_skip_without_results(page):
    page.models.calibration = pl.DataFrame()
    assert page.calibration is None
    assert page.calibration_paragraph() is None
    assert "skipped" in html_of(page.calibration_table())


def test_group_names_read_mid_sentence_and_a_ratio_of_one_is_worded():
    """Round 3: '(Not stated: equal to)' and 'Male'/'Female' capitalised mid-sentence."""
    eth = DEFAULT_DIMENSIONS["ethnicity"]
    rows = frame(
        row("White", 0, 0.95, 0.9, 1.0, true_ratio=0.95, dimension="ethnicity", group_label="White"),
        row(
            "Not stated", 1, 1.0, 0.8, 1.2, true_ratio=1.001, dimension="ethnicity", group_label="Not stated"
        ),
    ).with_columns(dimension_label=pl.lit(eth.label))
    text = truth_text(rows, eth)
    assert "to 1.00 among people with no ethnic group recorded (within 1% of it)" in text
    assert "equal to" not in text and "(Not stated" not in text
    sex = frame(
        row("female", 0, 0.85, 0.75, 0.96, true_ratio=0.83, dimension="sex", group_label="Female"),
        row("male", 1, 1.17, 1.06, 1.29, true_ratio=1.1, dimension="sex", group_label="Male"),
    ).with_columns(dimension_label=pl.lit(SEX.label))
    said = range_text(sex, SEX) + truth_text(sex, SEX)
    assert "among women" in said and "among men" in said
    assert "Male" not in said and "Female" not in said
