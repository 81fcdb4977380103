"""Round 5: the model pages say only what their numbers show (which dimensions are features, what
sample the mitigation is judged on, label bias, the decomposition, withheld reasons)."""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.pages._fairness_labels import capacity_mitigation_text, mitigation_reasons
from healthgap.pages._models import features_sentence
from healthgap.pages.model_card import ModelCardPage
from healthgap.pages.predicting_risk import PredictingRiskPage, features_frame
from tests.conftest import build_people
from tests.pages.conftest import build_page, html_of
from tests.pages.test_models_runtime import model_cache  # noqa: F401


@pytest.fixture(scope="module")
def risk(tmp_path_factory):
    """The risk page on 1,000 people (age and the clinical measures are features; sex, ethnicity and
    deprivation are not), flagging the top 20%."""
    return build_page(
        PredictingRiskPage, build_people(1000), tmp_path_factory.mktemp("risk5"), model={"top_fraction": 0.2}
    )


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """The model card on the same 1,000 people."""
    return build_page(
        ModelCardPage, build_people(1000), tmp_path_factory.mktemp("card5"), model={"top_fraction": 0.2}
    )


# -- 2. protected characteristics and equity dimensions ------------------------------------------
def test_age_is_named_a_protected_characteristic_and_a_feature(risk):
    out, used, protected = risk.models.feature_use()
    assert "age" in risk.models.result.features
    assert protected == ["age"]
    assert "sex" in out and "deprivation (IMD quintile)" in out and "age band" in used
    text = html_of(risk.protected_paragraph())
    assert "Protected characteristics are not features" not in text
    assert "age is a protected characteristic under the Equality Act 2010 and a feature" in text
    assert "age band is compared on the fairness page but is a feature" in text


def test_deprivation_is_not_called_a_protected_characteristic(risk):
    frame = features_frame(risk.models.result, exclude_protected=True)
    use = dict(frame.select("column", "use").iter_rows())
    assert use["age"] == "feature (protected characteristic)"
    assert use["sex"] == "not used (protected characteristic)"
    assert use["imd_quintile"] == "not used (equity dimension)"
    assert "protected" not in use["imd_decile"]


def test_features_sentence_follows_the_config():
    # sex as a feature (model.exclude_protected: false): said to be one, and protected
    text = features_sentence(
        left_out=["deprivation (IMD quintile)"],
        used=["sex"],
        protected=["age", "sex"],
        exclude_protected=False,
    )
    assert text.startswith("Deprivation (IMD quintile) is not a feature, so the model cannot use it directly")
    assert "sex is compared on the fairness page but is a feature" in text
    assert text.endswith(
        "age and sex are protected characteristics under the Equality Act 2010 and features."
    )
    assert features_sentence(left_out=[], used=[], protected=[], exclude_protected=True) == ""


def test_model_card_details_and_data_name_the_features_from_the_config(card):
    details = dict(card.details().iter_rows())
    assert "Protected characteristics" not in details
    assert details["Equity dimensions"].startswith("Not features: deprivation (IMD quintile)")
    assert details["Equity dimensions"].endswith("among the features: age")
    assert "Protected characteristics are kept aside" not in card.protected_text()
    assert (
        "age is a protected characteristic under the Equality Act 2010 and a feature" in card.protected_text()
    )


# -- 1. the mitigation's sample ------------------------------------------------------------------
def _mitigation_gaps(gap: float | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    gaps = pl.DataFrame(
        {
            "strategy": ["unmitigated", "equal_opportunity"],
            "gap": [gap, None if gap is None else -0.118],
            "gap_lower": [-0.08, -0.3],
            "gap_upper": [0.3, 0.1],
            "change": [0.0, None if gap is None else -0.223],
            "change_lower": [0.0, -0.34],
            "change_upper": [0.0, -0.13],
        },
        schema_overrides={"gap": pl.Float64, "change": pl.Float64},
    )
    overall = pl.DataFrame(
        {
            "strategy": ["unmitigated", "equal_opportunity"],
            "tpr": [0.483, 0.44],
            "share_flagged": [0.05, 0.046],
        }
    )
    return gaps, overall


def test_mitigation_reasons_name_the_count_that_is_too_small():
    by_group = pl.DataFrame(
        {
            "strategy": ["unmitigated"] * 3 + ["equal_opportunity"] * 3,
            "group_label": ["1", "3", "5"] * 2,
            "n": [5000] * 6,
            "cases": [90, 60, 45] * 2,
            "flagged": [250] * 6,
            "found": [40, 30, 20, 42, 5, 22],
        }
    )
    reasons = mitigation_reasons(by_group, settings=DisclosureSettings())
    assert reasons == {
        "3": "fewer than 8 people with the outcome found by an approach",
        "5": "fewer than 50 people with the outcome",
    }


def test_unjudged_mitigation_says_which_half_and_which_count():
    gaps, overall = _mitigation_gaps(None)
    text = capacity_mitigation_text(
        gaps,
        overall,
        first="the most deprived fifth",
        last="the least deprived fifth",
        withheld=("the least deprived fifth",),
        reasons={"the least deprived fifth": "fewer than 50 people with the outcome"},
        across="deprivation fifths",
        top="5%",
        evaluation="about 37,500",
    )
    # the old note ("too few people with the outcome in the least deprived fifth to publish its rate")
    # was false of the whole test set, whose share for that fifth is published
    assert "judged on the other half (about 37,500 people)" in text
    assert (
        "in that evaluation half there are fewer than 50 people with the outcome in the least deprived fifth"
        in text
    )
    assert "differ by chance from those of the whole test set in @sec-fairness-groups" in text


def test_judged_mitigation_says_its_unmitigated_shares_are_of_the_evaluation_half():
    gaps, overall = _mitigation_gaps(0.105)
    text = capacity_mitigation_text(
        gaps, overall, first="a", last="b", across="groups", top="5%", evaluation="about 37,500"
    )
    assert "the unmitigated ones included, is of that evaluation half" in text
    assert "whole test set in @sec-fairness-groups" in text
