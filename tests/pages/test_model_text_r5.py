"""Round 5: the model pages say only what their numbers show (which dimensions are features, what
sample the mitigation is judged on, label bias, the decomposition, withheld reasons)."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.pages._fairness_gaps import withhold_small_groups
from healthgap.pages._fairness_labels import capacity_mitigation_text, mitigation_reasons
from healthgap.pages._models import features_sentence
from healthgap.pages.explanations import DECOMPOSITION_NOTE, SCALES_TABLE, gap_sentence
from healthgap.pages.model_card import ModelCardPage, _card_rows
from healthgap.pages.predicting_risk import PredictingRiskPage, features_frame
from healthgap.tables import reason_notes
from tests.conftest import build_people
from tests.pages.conftest import build_page, html_of
from tests.pages.test_explanations import ENDS, _gap
from tests.pages.test_model_card import _shares
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
    assert "Age is a protected characteristic under the Equality Act 2010 and a feature." in text
    assert "Age band is compared on the fairness page and is derived from age, a feature" in text


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
    assert text.startswith(
        "Deprivation (IMD quintile) is compared on the fairness page but is not a feature, so the model "
        "cannot use it directly."
    )
    assert "Sex is compared on the fairness page and is a feature" in text
    assert text.endswith(
        "Age and sex are protected characteristics under the Equality Act 2010 and features."
    )
    assert features_sentence(left_out=[], used=[], protected=[], exclude_protected=True) == ""


def test_model_card_details_and_data_name_the_features_from_the_config(card):
    details = dict(card.details().iter_rows())
    assert "Protected characteristics" not in details
    assert details["Equity dimensions"].startswith(
        "Compared on the fairness page, not features: deprivation (IMD quintile)"
    )
    assert details["Equity dimensions"].endswith("among the features: age")
    assert "Protected characteristics are kept aside" not in card.protected_text()
    assert (
        "Age is a protected characteristic under the Equality Act 2010 and a feature" in card.protected_text()
    )
    # inline text: no Markdown (it is not converted there)
    assert "*" not in card.protected_text() and "`" not in card.protected_text()


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
        "In that evaluation half there are fewer than 50 people with the outcome in the least deprived fifth"
        in text
    )
    assert (
        "differ by chance from those of the whole test set, given under \u201cPerformance by group\u201d"
        in text
    )


def test_judged_mitigation_says_its_unmitigated_shares_are_of_the_evaluation_half():
    gaps, overall = _mitigation_gaps(0.105)
    text = capacity_mitigation_text(
        gaps, overall, first="a", last="b", across="groups", top="5%", evaluation="about 37,500"
    )
    assert "the unmitigated ones included, is of that evaluation half" in text
    assert "whole test set, given under \u201cPerformance by group\u201d in the fairness chapter" in text


# -- 3. the label-bias caveat follows the audit -----------------------------------------------------
def test_label_caveat_follows_the_label_bias_estimate(page_of):
    card = page_of(ModelCardPage, build_people())
    card.fairness.problem = None
    card.fairness.dimensions = list(card.config.dimensions)
    card.fairness.label_bias = SimpleNamespace(condition_label="Atrial fibrillation")
    # the default book's audit: +1.0 (95% CI -2.0 to 3.9) and -1.0 points: no clear effect
    card.fairness.label_shares = _shares(
        {
            ("all", "1"): (0.010, -0.020, 0.039),
            ("all", "5"): (-0.010, -0.030, 0.008),
            ("without_treatments", "1"): (-0.006, -0.029, 0.013),
            ("without_treatments", "5"): (-0.004, -0.022, 0.013),
        }
    )
    text = card.label_limit_text()
    assert "look healthier to the model than they are" not in text
    assert "the label-bias audit found no clear effect of this in the most deprived fifth" in text
    # an estimate beyond chance: said as found, with its interval
    card.fairness.label_shares = _shares(
        {("all", "1"): (0.04, 0.019, 0.06), ("all", "5"): (0.0, -0.01, 0.01)}
    )
    text = card.label_limit_text()
    assert (
        "Groups that are less often diagnosed look healthier to the model than they are: in the most" in text
    )
    assert "finds 4.0 percentage points more of the true cases (95% CI 1.9 to 6.0 percentage points)" in text
    # no audit: said to be unchecked
    card.fairness.label_bias = None
    assert "cannot be checked" in card.label_limit_text()


# -- 4. the two log-odds differences of Explanations 10.2 -------------------------------------------
def test_gap_sentence_does_not_withhold_what_it_then_gives():
    # the default book: a gap of -0.005 (-0.032 to 0.022) and age's -0.059 beyond chance
    gap = _gap(
        (-0.005, -0.032, 0.022),
        ("Age", -0.059, -0.07, -0.05, None),
        ("Coronary heart disease", 0.02, 0.01, 0.03, None),
        ("BMI", 0.015, 0.01, 0.02, None),
    )
    text = gap_sentence(gap, sample=50_000, ends=ENDS)
    assert "no feature's share of it is given" not in text
    assert "no feature's contribution is given as a percentage of it" in text
    assert "comes from age (-0.059 log-odds)" in text and "of the gap" not in text
    assert text.endswith(
        "It is larger than the gap itself because other features' contributions go the other way and offset it."
    )
    # all contributions one way: no offsetting is claimed
    same = _gap((-0.05, -0.09, -0.01), ("Age", -0.03, -0.05, -0.01, 0.6), ("BMI", -0.02, -0.03, -0.01, 0.4))
    assert "offset" not in gap_sentence(same, sample=50_000, ends=ENDS)


def test_the_split_says_its_log_odds_are_not_the_tables():
    assert "not the table's difference in log-odds" in SCALES_TABLE
    assert "log-odds of each group's mean predicted risk" in SCALES_TABLE
    assert "or of their mean predicted risks (inputs)" in DECOMPOSITION_NOTE


# -- 5. withheld reasons name the count that is too small ------------------------------------------
def _audit_rows(cases: int, flagged: int, n: int = 1935) -> pl.DataFrame:
    """One group's exact audit rows: share flagged, TPR, PPV, FPR and AUROC."""
    return pl.DataFrame(
        {
            "dimension": ["ethnicity"] * 5,
            "group": ["Asian"] * 5,
            "metric": ["selection_rate", "tpr", "ppv", "fpr", "auroc"],
            "numerator": [flagged, 9, 9, flagged - 9, cases],
            "denominator": [n, cases, flagged, n - cases, n],
            "value": [flagged / n, 9 / cases, 9 / flagged, (flagged - 9) / (n - cases), 0.8],
        }
    )


def test_fairness_reasons_say_which_count_is_below_the_minimum():
    settings = DisclosureSettings()
    out = withhold_small_groups(_audit_rows(cases=20, flagged=55), settings=settings)
    reasons = dict(out.select("metric", "suppression_reason").iter_rows())
    # the group has 1,935 people: "fewer than 50 people in the group" alone was false
    assert (
        reasons["tpr"]
        == reasons["ppv"]
        == reasons["fpr"]
        == "fewer than 50 people in the group with the outcome, too few for a rate among them"
    )
    assert (
        reasons["auroc"]
        == "fewer than 50 people in the group with the outcome, too few for a rate among them"
    )
    assert reasons["selection_rate"] is None
    out = withhold_small_groups(_audit_rows(cases=60, flagged=30), settings=settings)
    assert dict(out.select("metric", "suppression_reason").iter_rows())["tpr"] == (
        "fewer than 50 people in the group flagged, too few for a rate among them"
    )
    out = withhold_small_groups(_audit_rows(cases=20, flagged=30), settings=settings)
    assert dict(out.select("metric", "suppression_reason").iter_rows())["ppv"] == (
        "fewer than 50 people in the group with the outcome, too few for a rate among them; "
        "fewer than 50 people in the group flagged, too few for a rate among them"
    )


def test_model_card_note_says_which_counts_were_withheld_and_why():
    published = withhold_small_groups(_audit_rows(cases=20, flagged=55), settings=DisclosureSettings())
    rows = published.with_columns(
        dimension_label=pl.lit("Ethnic group"),
        group_label=pl.col("group"),
        order=pl.lit(0),
        n=pl.lit(1935),
        suppressed=pl.col("numerator").is_null(),
        suppression_reason=pl.when(pl.col("numerator").is_null()).then(
            "numerator: "
            + pl.col("suppression_reason")
            + "; value, lower_ci, upper_ci: derived from a suppressed count"
        ),
    )
    card = _card_rows(rows)
    reason = card.get_column("suppression_reason").item()
    notes = reason_notes([reason], labels={"tpr": "TPR"}, columns=card.columns)
    assert notes == ["Rates not shown where there are fewer than 50 people in the group with the outcome."]
    assert not any("earlier step" in n for n in notes)
