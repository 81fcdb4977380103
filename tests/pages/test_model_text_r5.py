"""Round 5: the model pages say only what their numbers show (which dimensions are features, what
sample the mitigation is judged on, label bias, the decomposition, withheld reasons)."""

from __future__ import annotations

import pytest

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
