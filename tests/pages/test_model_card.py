"""The model card page: its findings and tables on small hand-made results (no model fitted)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import Published
from healthgap.pages._fairness_labels import WHOLE_IN_CHAPTER
from healthgap.pages.model_card import (
    NO_CALIBRATION,
    NO_GAP,
    NO_LABEL_GROUP,
    NO_MITIGATION,
    NO_PAIRS,
    NO_PERFORMANCE,
    NO_REFERENCE,
    NO_TRUTH,
    REFERENCE,
    ModelCardPage,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of

SETTINGS = DisclosureSettings()


def published(rows: list[dict[str, Any]]) -> Published:
    return Published(pl.DataFrame(rows), (), SETTINGS)


def tpr_pair(dimension: str, label: str, value: float | None, survives: bool, **over: Any) -> dict[str, Any]:
    """A published pairwise gap in the share of outcomes found (``value`` None: not published)."""
    v = value
    row = {
        "dimension": dimension,
        "dimension_label": label,
        "group": "4",
        "group_label": "4",
        "versus": "1",
        "versus_label": "1 (most deprived)",
        "value": v,
        "lower_ci": None if v is None else (min(v / 4, 2 * v) if survives else -abs(v)),
        "upper_ci": None if v is None else (max(v / 4, 2 * v) if survives else 2 * abs(v)),
        "excludes_null": survives,
        "comparisons": 10,
    }
    return {**row, **over}


@pytest.fixture
def card(page_of) -> ModelCardPage:
    """A card whose model exists; its fairness results are set by each test."""
    c = page_of(ModelCardPage, build_people())
    c.fairness.problem = None
    c.fairness.dimensions = list(c.config.dimensions)
    return c


def test_widest_gap_gives_the_fairness_pages_verdict(card):
    """Round-4 review: the card's headline gap carries the fairness page's verdict on the same pair
    (what a perfect-risk model gives and what the model adds), in the same words."""
    from healthgap.pages._fairness_gaps import base_rate_text, chosen_pair

    pairs = [tpr_pair("imd_quintile", "Deprivation (IMD quintile)", -0.2, True)]  # 1 above 4
    card.fairness.tpr_pairs = published(pairs)
    card.models.reference = object()  # the data records true risk
    card.fairness.reference_gaps = published([{"dimension": "imd_quintile"}])
    reference = {
        "dimension": "imd_quintile",
        "group": "4",
        "versus": "1",
        "gap_model": -0.2,
        "gap_model_lower": -0.4,
        "gap_model_upper": -0.05,
        "gap_reference": -0.15,
        "gap_reference_lower": -0.28,
        "gap_reference_upper": -0.03,
        "added": -0.05,
        "added_lower": -0.12,
        "added_upper": 0.02,
    }
    card.fairness.reference_pairs = published([reference])
    text = card.widest_text()
    assert text.startswith(
        "Among groups by deprivation (IMD quintile), the largest gap in the share of outcomes found at the top "
        "5% that chance alone does not explain is by deprivation (IMD quintile): 20.0 percentage points (higher "
        "in the most deprived fifth; lower in deprivation fifth 4; simultaneous 95% CI 5.0 to 40.0 percentage "
        "points; @sec-fairness-chance). A model that knew each person's true risk, flagging the same top 5%, "
        "would find a share 15.0 percentage points higher in the most deprived fifth than in deprivation fifth 4 "
        "(95% CI 3.0 to 28.0 percentage points): that much is what the groups' different risks give. Against "
        "it, the model's gap is 5.0 percentage points wider (95% CI -2.0 to 12.0 percentage points), within "
        "what chance alone gives: the gap is what the groups' different risks give at this capacity, not by "
        "itself unfairness."
    )
    # the same words as the fairness page's "Gaps beyond chance"
    dim = card.fairness.dimension("imd_quintile")
    page = base_rate_text(chosen_pair(published(pairs).frame), published([reference]).frame, dim, top="5%")
    assert page.strip() in text
    assert "@sec-fairness-reference" not in text  # the verdict is given: no pointer elsewhere for it


def test_calibration_finding(card):
    from healthgap.pages._fairness_calibration import NO_SURVIVOR

    card.fairness.calibration = None
    assert card.calibration_text() == NO_CALIBRATION
    rows = [
        {"dimension": "imd_quintile", "dimension_label": "Deprivation (IMD quintile)", "group": g,
         "group_label": {"1": "1 (most deprived)", "5": "5 (least deprived)"}[g], "order": i, "value": v, "lower_ci": v - 0.1, "upper_ci": v + 0.1,
         "simultaneous_lower": v - 0.3, "simultaneous_upper": v + 0.3, "true_ratio": t}
        for i, (g, v, t) in enumerate([("1", 1.2, 1.27), ("5", 0.9, 0.81)])
    ]  # fmt: skip
    card.fairness.calibration = published(rows)
    card.models.social = [card.config.dimensions[0]]
    assert card.calibration_text() == (
        NO_SURVIVOR.format(k=2)
        + " The truth shows what the outcomes cannot: the model's largest miscalibration "
        "is in the most deprived fifth, whose true risk is 27% above the model's predictions (true "
        "over predicted 1.27). See @sec-fairness-calibration."
    )
    rows[0] |= {"simultaneous_lower": 1.1}
    card.fairness.calibration = published(rows)
    assert card.calibration_text().startswith(
        "The largest miscalibration beyond what chance alone gives across the 2 groups compared: the most "
        "deprived fifth has 20% more cases"
    )
    # where the data records true risk, the headline group's true over predicted, as the fairness table has it
    rows[1] |= {"simultaneous_upper": 0.95}  # also beyond chance, but a smaller miscalibration
    card.fairness.calibration = published(rows)
    assert card.calibration_text().endswith(
        "the model under-predicts their risk (1 other group also beyond chance). Against each person's true risk, which this data records, that "
        "group's true risk is 27% above the model's predictions (true over predicted 1.27). "
        "See @sec-fairness-calibration."
    )
    rows[0] |= {"true_ratio": None}
    card.fairness.calibration = published(rows)
    assert "Against each person's true risk" not in card.calibration_text()


def test_widest_gap_is_the_largest_that_survives_simultaneous_intervals(card):
    card.fairness.tpr_pairs = published(
        [
            tpr_pair("sex", "Sex", 0.05, True, group="male", group_label="Male", versus_label="Female"),
            tpr_pair("imd_quintile", "Deprivation (IMD quintile)", -0.2, True),  # 1 above 4
            tpr_pair("imd_quintile", "Deprivation (IMD quintile)", 0.3, False),  # larger, but chance
            tpr_pair("age_band", "Age band", 0.5, True),  # not a protected dimension of the card
            tpr_pair("ethnicity", "Ethnic group", None, False),  # not published
        ]
    )
    card.fairness.reference_gaps = published([{"dimension": "sex"}])  # the data records true risk
    assert card.widest_text() == (
        "Among groups by deprivation (IMD quintile) and sex, the largest gap in the share of outcomes found at "
        "the top 5% that chance alone does not explain is by deprivation (IMD quintile): 20.0 percentage points "
        "(higher in the most deprived fifth; lower in deprivation fifth 4; simultaneous 95% CI 5.0 "
        "to 40.0 percentage points; @sec-fairness-chance). "
        + NO_PAIRS.format(groups="ethnic groups or localities")
        + " "
        + REFERENCE
    )
    card.fairness.reference_gaps = None
    assert card.widest_text().endswith("(@sec-fairness-groups). " + NO_REFERENCE)
    card.fairness.tpr_pairs = published([tpr_pair("sex", "Sex", 0.05, False)])
    assert card.widest_text() == (
        "Among groups by sex, no gap in the share of outcomes found at the top 5% is beyond what chance alone "
        "gives once every pair of groups is compared together (simultaneous intervals). "
        + NO_PAIRS.format(groups="deprivation fifths, ethnic groups or localities")
    )
    everything = NO_PAIRS.format(groups="deprivation fifths, ethnic groups, sexes or localities")
    card.fairness.tpr_pairs = published([tpr_pair("age_band", "Age band", 0.5, True)])
    assert card.widest_text() == everything
    card.fairness.tpr_pairs = None
    assert card.widest_text() == everything
    card.fairness.dimensions = [d for d in card.config.dimensions if d.name == "age_band"]
    assert card.widest_text() == NO_GAP
    card.fairness.problem = "no outcome"
    assert card.widest_text() == "No model was audited."
    assert card.label_text() == "No model was checked for label bias."
    assert card.mitigation_text() == NO_MITIGATION


def _shares(rows: dict[tuple[str, str], tuple[float | None, float, float]]) -> Published:
    """A published counterfactual-label frame: (variant, group) -> (label bias, lower, upper)."""
    return published(
        [
            {
                "variant": v,
                "dimension": "imd_quintile",
                "group": g,
                "label_bias": b,
                "label_bias_lower": None if b is None else lo,
                "label_bias_upper": None if b is None else hi,
            }
            for (v, g), (b, lo, hi) in rows.items()
        ]
    )


def test_label_bias_finding(card):
    card.fairness.label_bias = SimpleNamespace(condition_label="Hypertension")
    card.fairness.counterfactual = SimpleNamespace(
        treatments=("statin",)
    )  # the model has a treatment feature
    card.fairness.label_shares = _shares(
        {
            ("all", "1"): (0.017, 0.006, 0.031),
            ("all", "5"): (-0.013, -0.028, 0.003),
            ("without_treatments", "1"): (0.04, 0.019, 0.06),
            ("without_treatments", "5"): (0.013, -0.001, 0.03),
        }
    )
    assert card.label_text() == (
        "Label bias (the share of true cases of hypertension a model trained on the true condition finds, minus "
        "the share the same model trained on recorded diagnoses finds, at the top 5%) is 1.7 percentage points "
        "(95% CI 0.6 to 3.1 percentage points) in the most deprived fifth and "
        "-1.3 percentage points (95% CI -2.8 to 0.3 percentage points) in the least deprived fifth; without the treatment features, 4.0 percentage points (95% CI 1.9 to 6.0 "
        "percentage points) and 1.3 percentage points (95% CI -0.1 to 3.0 percentage points). "
        "See @sec-fairness-label-bias."
    )
    card.fairness.label_shares = _shares({("all", "1"): (0.017, 0.006, 0.031), ("all", "5"): (None, 0, 0)})
    assert card.label_text() == NO_LABEL_GROUP.format(
        most="the most deprived fifth",
        least="the least deprived fifth",
    )
    card.fairness.label_bias = None
    assert card.label_text() == NO_TRUTH


def test_mitigation_finding(card):
    card.fairness.capacity_mitigation = SimpleNamespace(
        dimension="imd_quintile", first="1 (most deprived)", last="5 (least deprived)"
    )
    card.fairness.mitigation_rates = published(
        [
            {"strategy": s, "group_label": g, "tpr": 0.5}
            for s in ("unmitigated", "equal_opportunity")
            for g in ("1 (most deprived)", "5 (least deprived)")
        ]
    )
    gaps = {
        "strategy": ["unmitigated", "equal_opportunity"],
        "gap": [0.105, -0.118],
        "change": [0.0, -0.223],
        "change_lower": [0.0, -0.343],
        "change_upper": [0.0, -0.128],
    }
    card.fairness.mitigation_gaps = Published(pl.DataFrame(gaps), (), DisclosureSettings())
    assert card.mitigation_text() == (
        "Equal opportunity at capacity (a cut-off per group fitted on a validation half of the test set, the "
        "top 5% still flagged) moves the gap in the share of outcomes found between the most deprived fifth "
        "and the least deprived fifth from 10.5 percentage points to -11.8 percentage points "
        "on the other half: a change of -22.3 percentage points (95% CI -34.3 to -12.8): beyond what chance "
        "alone gives."
    )
    gaps["change_upper"] = [0.0, 0.02]
    card.fairness.mitigation_gaps = Published(pl.DataFrame(gaps), (), DisclosureSettings())
    assert card.mitigation_text().endswith("within what chance alone gives.")
    # where the fairness page cannot judge the mitigation, the card says what that page says
    gaps["gap"] = [None, -0.118]
    card.fairness.mitigation_gaps = Published(pl.DataFrame(gaps), (), DisclosureSettings())
    card.fairness.mitigation_overall = published(
        [{"strategy": "unmitigated", "tpr": 0.5, "share_flagged": 0.05}]
    )
    card.fairness.evaluation_size = "about 10,000"
    assert (
        card.mitigation_text()
        == card.fairness.mitigation_text(whole=WHOLE_IN_CHAPTER)
        == (
            "The mitigation is fitted on one half of the test set (validation) and judged on the other half "
            "(about 10,000 people). In that evaluation half there are too few people with the outcome in the most "
            "deprived fifth and too few people with the outcome in the least deprived fifth, so their shares of "
            "outcomes found cannot be published: the mitigation cannot be judged for the most deprived fifth or "
            "the least deprived fifth, nor can the gap between the most deprived fifth and the least deprived "
            "fifth. Shares of that half differ by chance from those of the whole test set, given under "
            "\u201cPerformance by group\u201d in the fairness chapter."
        )
    )
    # on the fairness page itself the whole test set's shares are above (it does not point at itself)
    assert card.fairness.mitigation_text().endswith("given above, under \u201cPerformance by group\u201d.")
    # only the group whose rate is withheld is named (issue 12 review, item 3)
    card.fairness.mitigation_rates = published(
        [
            {"strategy": s, "group_label": g, "tpr": None if g.startswith("5") else 0.5}
            for s in ("unmitigated", "equal_opportunity")
            for g in ("1 (most deprived)", "5 (least deprived)")
        ]
    )
    assert (
        card.mitigation_text()
        == card.fairness.mitigation_text(whole=WHOLE_IN_CHAPTER)
        == (
            "The mitigation is fitted on one half of the test set (validation) and judged on the other half "
            "(about 10,000 people). In that evaluation half there are too few people with the outcome in the least "
            "deprived fifth, so its share of outcomes found cannot be published: the mitigation cannot be judged "
            "for the least deprived fifth, nor can the gap between the most deprived fifth and the least deprived "
            "fifth. Shares of that half differ by chance from those of the whole test set, given under "
            "\u201cPerformance by group\u201d in the fairness chapter."
        )
    )
    card.fairness.capacity_mitigation = None
    assert card.mitigation_text() == card.fairness.mitigation_text()
    assert card.mitigation_text().startswith("The mitigation cannot be applied to this dataset")


def details_of(card: Any) -> dict:
    return dict(card.details().iter_rows())


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
        sample_sizes=None,
        rounded=True,
        excluded=("ethnicity",),
        target_phrase="at least one CVD admission during the year",
        excluded_text=lambda: "ethnic group",
        feature_use=lambda: (["ethnic group"], [], ["age"]),
        feature_sources=lambda: {},
        feature_others=lambda: [],
        feature_words=lambda: {
            "left_out": ["ethnic group"],
            "used": [],
            "protected": ["age"],
            "exclude_protected": True,
        },
        skip=card.book.skip,
        explanation=SimpleNamespace(
            importance=pl.DataFrame({"label": ["Age", "Systolic blood pressure"], "value": [0.6, 0.1]})
        ),
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
    # a feature whose contribution is zero for everyone explained is said to change no prediction
    card.models.explanation = SimpleNamespace(
        importance=pl.DataFrame({"label": ["Age", "Systolic blood pressure"], "value": [0.6, 0.0]})
    )
    assert details_of(card)["Features"] == (
        "age, systolic blood pressure; systolic blood pressure never changes a prediction (see the explanations "
        "chapter)"
    )
    assert details["Equity dimensions"] == (
        "Compared on the fairness page, not features: ethnic group; protected characteristics (Equality Act 2010) "
        "among the features: age"
    )
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


def test_training_data_says_the_model_sample(page_of):
    """The card's "Training and test data" names the stratified sample and everyone, as published,
    when the data has more people than ``model.sample_size``; else the people fitted on."""
    everyone = page_of(ModelCardPage, build_people(1000))
    assert dict(everyone.details().iter_rows())["Training and test data"].startswith(
        "About 1,000 people from "
    )
    sampled = page_of(ModelCardPage, build_people(1000), model={"sample_size": 600})
    drawn = sampled.book.model_people.collect().height
    assert drawn < 1000
    assert dict(sampled.details().iter_rows())["Training and test data"].startswith(
        f"A stratified sample of about {5 * round(drawn / 5):,} of about 1,000 people from "
    )
