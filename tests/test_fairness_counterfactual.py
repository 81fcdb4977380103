"""The label-bias audit by counterfactual labels: a true-label model beside the recorded-label one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from healthgap.contract import TREATMENTS
from healthgap.fairness._counterfactual import counterfactual_labels, fit_variant


@pytest.fixture(scope="module")
def recorded(default_config):
    """The gradient-boosted model of *recorded* hypertension, as the label-bias audit fits it."""
    from healthgap import data
    from healthgap.models import fit

    settings = replace(
        default_config.model,
        target="hypertension",
        features=tuple(f for f in default_config.model.features if f != "hypertension"),
    )
    return fit(data.load(default_config), settings=settings, n_boot=10), default_config


@pytest.fixture(scope="module")
def audit(recorded):
    result, config = recorded
    return counterfactual_labels(result, dimensions=config.dimensions, n_boot=200)


def test_true_label_model_is_the_same_learner_on_training_rows_only(recorded):
    result, _ = recorded
    truth = result.groups_train["true_hypertension"].to_numpy().astype(bool)
    train, test = fit_variant(result, label=truth)
    params = result.models["boosted"].get_params()
    independent = HistGradientBoostingClassifier(**params).fit(result.X_train, truth)
    assert np.array_equal(test, independent.predict_proba(result.X_test)[:, 1])
    assert np.array_equal(train, independent.predict_proba(result.X_train)[:, 1])


def test_shares_found_match_an_independent_count(recorded, audit):
    result, config = recorded
    fraction = config.model.top_fraction
    truth_train = result.groups_train["true_hypertension"].to_numpy().astype(bool)
    true_model = HistGradientBoostingClassifier(**result.models["boosted"].get_params()).fit(
        result.X_train, truth_train
    )
    cut = np.quantile(true_model.predict_proba(result.X_train)[:, 1], 1 - fraction, method="higher")
    frame = result.groups_test.with_columns(
        t=pl.col("true_hypertension"),
        rec=pl.Series(result.risk_test["boosted"] >= result.threshold("boosted")),
        tru=pl.Series(true_model.predict_proba(result.X_test)[:, 1] >= cut),
    )
    mine = frame.group_by("imd_quintile").agg(
        cases=pl.col("t").sum(),
        share_rec=(pl.col("t") & pl.col("rec")).sum() / pl.col("t").sum(),
        share_true=(pl.col("t") & pl.col("tru")).sum() / pl.col("t").sum(),
    )
    got = audit.groups.filter((pl.col("variant") == "all") & (pl.col("dimension") == "imd_quintile")).join(
        mine, left_on="group", right_on="imd_quintile"
    )
    assert got.height == 5
    assert (got["true_cases"] == got["cases"]).all()
    assert np.allclose(got["share_recorded"], got["share_rec"])
    assert np.allclose(got["share_true"], got["share_true_right"])
    assert np.allclose(got["label_bias"], got["share_true_right"] - got["share_rec"])


def test_label_bias_shows_without_treatment_features(audit):
    """Under-diagnosis is injected: without prescriptions, the model of recorded hypertension finds
    fewer true cases than the same model trained on the truth. A recorded-label model put in
    place of the true-label one (no label bias by construction) gives 0 and fails this."""
    assert set(audit.treatments) == {
        t for t in TREATMENTS if t in ("statin", "antihypertensive", "anticoagulant")
    }
    row = audit.row("without_treatments")
    assert row is not None
    assert row["label_bias_lower"] > 0
    assert row["undiagnosed_true"] > row["undiagnosed_recorded"]
    # with the prescriptions, the recorded-label model flags almost no one undiagnosed
    with_all = audit.row("all")
    assert with_all["undiagnosed_recorded"] <= 0.05 * with_all["undiagnosed"]


def test_without_truth_says_what_cannot_be_checked(recorded):
    result, config = recorded
    bare = replace(
        result,
        groups_test=result.groups_test.drop("true_hypertension"),
        groups_train=result.groups_train.drop("true_hypertension"),
    )
    out = counterfactual_labels(bare, dimensions=config.dimensions, n_boot=0)
    assert not out.available
    assert out.groups.is_empty()
    assert "true status" in out.reason and "true_hypertension" in out.reason
