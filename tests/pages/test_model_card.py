"""The model card page: its findings and tables on small hand-made results (no model fitted)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import Published
from healthgap.pages.model_card import (
    NO_GAP,
    NO_LABEL_GROUP,
    NO_MITIGATION,
    NO_PERFORMANCE,
    NO_TRUTH,
    ModelCardPage,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of

SETTINGS = DisclosureSettings()


def published(rows: list[dict[str, Any]]) -> Published:
    return Published(pl.DataFrame(rows), (), SETTINGS)


def tpr_gap(dimension: str, label: str, difference: float | None, **over: Any) -> dict[str, Any]:
    """A published gap in the true positive rate (``difference`` None: not published)."""
    d = difference
    row = {
        "dimension": dimension,
        "dimension_label": label,
        "metric": "tpr",
        "highest_group": "1 (most deprived)",
        "highest": None if d is None else 0.4 + d,
        "lowest_group": "4",
        "lowest": 0.4,
        "difference": d,
        "difference_lower_ci": None if d is None else d / 4,
        "difference_upper_ci": None if d is None else 2 * d,
    }
    return {**row, **over}


@pytest.fixture
def card(page_of) -> ModelCardPage:
    """A card whose model exists; its fairness results are set by each test."""
    c = page_of(ModelCardPage, build_people())
    c.fairness.problem = None
    c.fairness.dimensions = list(c.config.dimensions)
    return c


def test_widest_gap_among_the_protected_dimensions(card):
    card.fairness.differences = published(
        [
            tpr_gap("sex", "Sex", 0.05, highest_group="Male", lowest_group="Female"),
            tpr_gap("imd_quintile", "Deprivation (IMD quintile)", 0.2),
            tpr_gap("age_band", "Age band", 0.5),  # not a protected dimension of the card
            tpr_gap("ethnicity", "Ethnic group", None),  # not published
        ]
    )
    assert card.widest_text() == (
        "Among groups by deprivation (IMD quintile) and sex, the largest gap in the share of outcomes found "
        "is by deprivation (IMD quintile): 40.0% (deprivation fifth 4) against 60.0% (deprivation fifth 1, "
        "most deprived), a difference of 20.0 percentage points (95% CI 5.0 to 40.0 percentage points)."
    )
    card.fairness.differences = published([tpr_gap("sex", "Sex", 0.05, difference_lower_ci=-0.01)])
    assert card.widest_text().endswith("; a gap this size could be due to chance.")
    card.fairness.differences = published([tpr_gap("age_band", "Age band", 0.5)])
    assert card.widest_text() == NO_GAP
    card.fairness.differences = None
    assert card.widest_text() == NO_GAP
    card.fairness.problem = "no outcome"
    assert card.widest_text() == "No model was audited."
    assert card.label_text() == "No model was checked for label bias."
    assert card.mitigation_text() == NO_MITIGATION


def _recall(values: list[float | None]) -> Published:
    return published(
        [
            {
                "dimension": "imd_quintile",
                "metric": "recall_true",
                "order": i,
                "group": str(i + 1),
                "group_label": str(i + 1),
                "value": v,
            }
            for i, v in enumerate(values)
        ]
    )


def test_label_bias_finding(card):
    card.fairness.label_bias = SimpleNamespace(condition_label="Hypertension")
    card.fairness.label_groups = _recall([0.187, 0.2, None, 0.25, 0.27])
    assert card.label_text() == (
        "A model of recorded hypertension trained the same way finds 18.7% of people who truly have it in "
        "the most disadvantaged deprivation fifth (1, most deprived) against 27.0% in the least "
        "disadvantaged deprivation fifth (5, least deprived), because it learns from diagnoses, which are "
        "less complete in more disadvantaged groups (label bias)."
    )
    card.fairness.label_groups = _recall([0.3, 0.2, 0.2, 0.2, 0.2])
    assert card.label_text().endswith(
        "; on this dataset the gaps in diagnosis did not carry through to the model's ranking."
    )
    card.fairness.label_groups = _recall([0.3, None, None, None, None])
    assert card.label_text() == NO_LABEL_GROUP.format(
        groups="the most disadvantaged deprivation fifth (1, most deprived) or the least disadvantaged "
        "deprivation fifth (5, least deprived)"
    )
    card.fairness.label_bias = None
    assert card.label_text() == NO_TRUTH


def _strategies(before: float | None, after: float | None, **to: Any) -> dict[str, dict[str, Any]]:
    row = {"found": 455, "gap_change_lower_ci": None, "gap_change_upper_ci": None}
    return {
        "balanced": {**row, "tpr_difference": before},
        "threshold_optimizer": {**row, "tpr_difference": after, **to},
    }


def test_mitigation_finding(card):
    card.fairness.mitigation = SimpleNamespace(
        dimension="imd_quintile", dimension_label="Deprivation (IMD quintile)"
    )
    card.fairness.strategies = _strategies(
        0.106, 0.072, found=445, gap_change_lower_ci=-0.1, gap_change_upper_ci=-0.01
    )
    assert card.mitigation_text() == (
        "Equalising the share of outcomes found across deprivation fifths with fairlearn's "
        "ThresholdOptimizer changes the largest gap from 10.6 percentage points to 7.2 percentage points and "
        "finds 10 fewer people with the outcome in the test set. The change in the gap has a 95% CI of -10.0 "
        "to -1.0 percentage points."
    )
    card.fairness.strategies = _strategies(0.106, 0.1061)
    text = card.mitigation_text()
    assert "leaves the largest gap at 10.6 percentage points and finds the same number" in text
    assert text.endswith("On the test set it did not clearly narrow the gap: it equalises rates on the training "
                         "set, and test-set rates in groups of this size vary by chance.")  # fmt: skip
    card.fairness.strategies = _strategies(None, 0.1)
    assert card.mitigation_text() == NO_MITIGATION
    card.fairness.mitigation = None
    assert card.mitigation_text() == NO_MITIGATION


def _performance(auc: float | None) -> Published:
    """The risk chapter's published performance table (``auc`` None: suppressed)."""
    rows = [
        ("Gradient boosting", "AUROC", auc, 0.75, 0.79),
        ("Logistic regression", "AUROC", 0.7501, 0.73, 0.77),
        ("Gradient boosting", "Calibration slope", 1.02, 0.9, 1.1),
    ]
    frame = [
        {"model": m, "statistic": st, "value": v, "lower_ci": None if v is None else lo,
         "upper_ci": None if v is None else hi}
        for m, st, v, lo, hi in rows
    ]  # fmt: skip
    return published(frame)


def test_performance_and_details(card):
    result = SimpleNamespace(
        y_train=np.zeros(700),
        y_test=np.zeros(300),
        feature_labels=["Age", "Systolic blood pressure"],
        excluded=["ethnicity"],
        threshold=lambda: 0.0812,
        leaf=35,
    )
    card.models = SimpleNamespace(
        result=result,
        settings=card.config.model,
        sizes={"people": 1000},
        rounded=True,
        excluded=("ethnicity",),
        target_phrase="at least one CVD admission during the year",
        excluded_text=lambda: "ethnic group",
        skip=card.book.skip,
    )
    card.risk = SimpleNamespace(performance=_performance(0.7712), calibration=published([{"value": 0.1}]))
    assert card.performance_text() == (
        "On the held-out test set the model's AUROC is 0.771 (95% CI 0.750 to 0.790), against 0.750 for the "
        "logistic-regression baseline; its calibration slope is 1.02 (95% CI 0.90 to 1.10)."
    )
    assert html_of(card.performance_paragraph()).endswith(
        "Full results are in @tbl-performance and @fig-calibration."
    )
    details = dict(card.details().iter_rows())
    assert "at least 35 people per leaf" in details["Model"]
    assert (
        details["Predicts"]
        == "Each person's risk of at least one CVD admission during the year (column cvd_admissions)"
    )
    assert details["Features"] == "age, systolic blood pressure"
    assert details["Protected characteristics"] == "Not used as features: ethnic group"
    assert details["Operating point"] == "Flag the top 5% of predicted risk (cut-off 8.12% risk)"
    assert details["Training and test data"].startswith("About 1,000 people from ")
    assert 'id="model-card-details"' in html_of(card.details_table())
    assert card.target_phrase == "at least one CVD admission during the year"
    card.fairness.problem = "no outcome"
    assert (
        card.performance_text().startswith("No model could be fitted") and card.target_phrase == "the outcome"
    )
    assert "usable model outcome" in html_of(card.details_table())


def test_performance_hidden_in_the_table_is_not_printed(card):
    # issue 11, item 1: the card printed the AUROCs that the performance table suppresses
    card.risk = SimpleNamespace(performance=_performance(None), calibration=published([{"value": None}]))
    assert card.performance_text() == NO_PERFORMANCE
    paragraph = html_of(card.performance_paragraph())
    assert "0.750" not in paragraph and paragraph.endswith("Full results are in @tbl-performance.")


def test_groups_table_marks_suppressed_measures(card):
    rows = [
        {"dimension": "sex", "dimension_label": "Sex", "order": o, "group": g, "group_label": g.title(), "n": n,
         "metric": m, "value": v, "suppressed": v is None}
        for o, g, n in ((0, "female", 1005), (1, "male", 480))
        for m, v in (("tpr", 0.4 if g == "female" else None), ("ppv", 0.2), ("selection_rate", 0.05), ("auroc", 0.71))
    ]  # fmt: skip
    card.fairness.groups = Published(pl.DataFrame(rows), ("n",), SETTINGS)
    markup = html_of(card.groups_table())
    assert 'id="model-card-groups"' in markup and "[c]" in markup
    csv = pl.read_csv(card.book.downloads / "model-card" / "model-card-groups.csv")
    assert csv.columns[:7] == ["dimension_label", "group_label", "n", "tpr", "ppv", "selection_rate", "auroc"]
    assert csv["suppressed"].to_list() == [False, True]
    card.fairness.groups = None
    assert "usable model outcome" in html_of(card.groups_table())
