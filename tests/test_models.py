"""healthgap.models: metrics against scikit-learn, fitting, features, cache."""

from __future__ import annotations

import warnings
from dataclasses import FrozenInstanceError, replace

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from healthgap.config import ModelSettings
from healthgap.errors import ConfigError, DataError
from healthgap.models import cache_key, fit, fit_cached, performance, reliability, resolve
from healthgap.models._metrics import (
    rank,
    weighted_auc,
    weighted_average_precision,
    weighted_brier,
    weighted_calibration,
)
from healthgap.stats import bootstrap_weights, wilson_interval

N = 30_000


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    from healthgap.synth import generate

    df, _ = generate(N, seed=11)
    return df


@pytest.fixture(scope="module")
def result(people):
    return fit(people, settings=ModelSettings(), n_boot=50)


def _scores(n=2000, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 6, n)
    if ties:
        p = np.round(p, 2)
    y = rng.random(n) < np.clip(p * 1.4, 0, 1)
    return y, p


# --- metrics against scikit-learn ---------------------------------------------------------


def test_weighted_metrics_match_sklearn_on_bootstrap_replicates():
    y, p = _scores()
    W = next(bootstrap_weights(y.shape[0], n_boot=4, seed=3))
    r = rank(p, y)
    auc = weighted_auc(W, r)[:, 0]
    ap = weighted_average_precision(W, y, p)
    brier = weighted_brier(W, y, p)
    for b in range(4):
        assert auc[b] == pytest.approx(roc_auc_score(y, p, sample_weight=W[b]), abs=1e-12)
        assert ap[b] == pytest.approx(average_precision_score(y, p, sample_weight=W[b]), abs=1e-12)
        assert brier[b] == pytest.approx(brier_score_loss(y, p, sample_weight=W[b]), abs=1e-12)


def test_grouped_auc_matches_sklearn_per_group():
    y, p = _scores(3000, seed=1)
    codes = np.random.default_rng(2).integers(0, 4, y.shape[0])
    codes[codes == 3] = 2  # group 3 empty -> NaN
    W = next(bootstrap_weights(y.shape[0], n_boot=2, seed=5))
    auc = weighted_auc(W, rank(p, y, codes, 4))
    for b in range(2):
        for k in range(3):
            m = codes == k
            assert auc[b, k] == pytest.approx(roc_auc_score(y[m], p[m], sample_weight=W[b, m]), abs=1e-12)
        assert np.isnan(auc[b, 3])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=4, max_size=60))
def test_auc_with_heavy_ties_matches_sklearn(pairs):
    y = np.array([a for a, _ in pairs])
    p = np.array([b / 5 for _, b in pairs])
    got = weighted_auc(np.ones((1, y.shape[0])), rank(p, y))[0, 0]
    if y.all() or not y.any():
        assert np.isnan(got)
    else:
        assert got == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_calibration_slope_and_intercept_match_independent_fits():
    y, p = _scores(4000, seed=4, ties=False)
    W = next(bootstrap_weights(y.shape[0], n_boot=2, seed=1))
    citl, slope = weighted_calibration(W, y, p)
    lp = logit(p)
    for b in range(2):
        ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(lp[:, None], y, sample_weight=W[b])
        assert slope[b] == pytest.approx(ref.coef_[0, 0], abs=1e-6)
        score = lambda a, w=W[b]: np.sum(w * (y - expit(a + lp)))  # noqa: E731
        assert citl[b] == pytest.approx(brentq(score, -5, 5, xtol=1e-14), abs=1e-8)


def test_wilson_interval_matches_newcombe_worked_example():
    # Newcombe (1998), Stat Med 17:857, example 81/263: Wilson 0.2553 to 0.3662.
    lo, hi = wilson_interval(np.array([81]), np.array([263]), 0.95)
    assert lo[0] == pytest.approx(0.2553, abs=5e-5)
    assert hi[0] == pytest.approx(0.3662, abs=5e-5)


def test_reliability_matches_sklearn_calibration_curve():
    y, p = _scores(1000, seed=8, ties=False)
    frame = reliability(y, p, model="m", bins=10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    np.testing.assert_allclose(frame["value"].to_numpy(), prob_true, atol=1e-12)
    np.testing.assert_allclose(frame["mean_predicted"].to_numpy(), prob_pred, atol=1e-12)
    assert frame["n"].to_list() == [100] * 10


def test_performance_contract_shape_and_point_values():
    y, p = _scores(3000, seed=9, ties=False)
    frame = performance(y, p, model="m", n_boot=60, seed=1)
    assert {"metric", "model", "value", "lower_ci", "upper_ci", "confidence", "method"} <= set(frame.columns)
    values = dict(zip(frame["metric"], frame["value"], strict=True))
    assert values["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert values["average_precision"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert values["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert (frame["lower_ci"] <= frame["value"]).all() and (frame["value"] <= frame["upper_ci"]).all()
    again = performance(y, p, model="m", n_boot=60, seed=1)
    assert again.equals(frame)  # seeded


# --- fitting ------------------------------------------------------------------------------


def test_fit_metrics_equal_sklearn_on_the_test_set(result):
    m = result.metrics
    for name, label in (("boosted", "Gradient boosting"), ("logistic", "Logistic regression")):
        row = m.filter((pl.col("model") == label) & (pl.col("metric") == "auroc"))
        assert row["value"].item() == pytest.approx(roc_auc_score(result.y_test, result.risk_test[name]))
        assert row["lower_ci"].item() < row["value"].item() < row["upper_ci"].item()
        prob = result.model(name).predict_proba(result.X_test)[:, 1]
        np.testing.assert_allclose(prob, result.risk_test[name])
    assert m.filter(pl.col("metric") == "auroc")["value"].min() > 0.7


def test_fit_excludes_protected_and_keeps_groups_aside(result):
    assert not set(result.features) & {"sex", "ethnicity", "imd_decile", "imd_quintile"}
    assert set(result.excluded) == {"sex", "ethnicity", "imd_decile", "imd_quintile"}
    assert {"imd_quintile", "ethnicity", "sex", "age_band", "true_hypertension"} <= set(
        result.groups_test.columns
    )
    assert result.groups_test.height == result.y_test.shape[0] == result.X_test.shape[0]
    assert result.X_test.shape[1] == len(result.features)
    with pytest.raises(FrozenInstanceError):
        result.target = "x"  # type: ignore[misc]


def test_split_is_stratified_and_seeded(people, result):
    assert result.y_train.mean() == pytest.approx(result.y_test.mean(), rel=0.05)
    assert result.y_test.shape[0] == pytest.approx(0.3 * N, abs=1)
    prevalence = (people["cvd_admissions"] > 0).mean()
    assert result.y_test.mean() == pytest.approx(prevalence, rel=0.05)


def test_categoricals_are_ordinal_codes_not_native(result):
    assert "smoking" in result.categorical
    assert result.categories["smoking"] == ("never", "ex", "current")
    booster = result.models["boosted"]
    assert booster.is_categorical_ is None or not booster.is_categorical_.any()
    j = result.features.index("smoking")
    assert set(np.unique(result.X_test[:, j])) <= {0.0, 1.0, 2.0}


def test_threshold_flags_the_top_fraction(result):
    flagged = result.flagged("boosted")
    assert flagged.mean() == pytest.approx(0.05, abs=0.01)
    assert result.flagged("boosted", top_fraction=0.2).mean() == pytest.approx(0.2, abs=0.02)
    with pytest.raises(ValueError, match="top_fraction"):
        result.threshold(top_fraction=1.5)


def test_condition_target_and_missing_values(people):
    rng = np.random.default_rng(0)
    holes = people.head(8000).with_columns(
        bmi=pl.when(pl.Series(rng.random(8000) < 0.2)).then(None).otherwise(pl.col("bmi"))
    )
    r = fit(holes, settings=ModelSettings(target="hypertension"), n_boot=10)
    assert r.target == "hypertension" and "hypertension" not in r.features
    assert np.isnan(r.X_test[:, r.features.index("bmi")]).any()
    assert np.isfinite(r.risk_test["logistic"]).all()  # LR imputes


def test_resolve_errors_name_the_problem(people):
    schema = people.schema
    with pytest.raises(ConfigError, match=r"model.target: 'cvd_admision'.*did you mean 'cvd_admissions'"):
        resolve(schema, ModelSettings(target="cvd_admision"))
    with pytest.raises(ConfigError, match=r"'sex'.*protected"):
        resolve(schema, ModelSettings(features=("age", "sex")))
    with pytest.raises(ConfigError, match="'true_af'"):
        resolve(schema, ModelSettings(features=("age", "true_af")))
    with pytest.raises(ConfigError, match="'bmx'"):
        resolve(schema, ModelSettings(features=("age", "bmx")))
    with pytest.raises(ConfigError, match="lsoa"):
        resolve(schema, ModelSettings(target="lsoa"))
    _, feats, excluded = resolve(schema, ModelSettings(exclude_protected=False))
    assert {"sex", "ethnicity", "imd_quintile"} <= set(feats) and excluded == ("imd_decile",)


def test_one_class_target_is_a_clear_data_error(people):
    with pytest.raises(DataError, match=r"cvd_death.*positive"):
        fit(
            people.head(500).with_columns(cvd_death=pl.lit(False)), settings=ModelSettings(target="cvd_death")
        )


def test_cache_reuses_and_invalidates(people, tmp_path):
    small = people.head(6000)
    s = ModelSettings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_cached(small, settings=s, cache_dir=tmp_path, n_boot=10)
        files = list(tmp_path.glob("*.pkl"))
        assert len(files) == 1
        b = fit_cached(small, settings=s, cache_dir=tmp_path, n_boot=10)
    assert b.metrics.equals(a.metrics) and b is not a
    changed = small.with_columns(
        age=pl.when(pl.int_range(pl.len()) == 0).then(pl.col("age") + 1).otherwise(pl.col("age"))
    )
    assert cache_key(changed, s) != cache_key(small, s)
    assert cache_key(small, replace(s, seed=1)) != cache_key(small, s)
    assert cache_key(small, s, n_boot=10) != cache_key(small, s, n_boot=20)
    files[0].write_bytes(b"corrupt")
    c = fit_cached(small, settings=s, cache_dir=tmp_path, n_boot=10)
    assert c.metrics.equals(a.metrics)


def test_cache_computes_once_when_chapters_ask_at_the_same_time(tmp_path):
    """Parallel kernels wait for the first fit instead of repeating it."""
    import threading
    import time

    from healthgap.models import cached

    calls: list[int] = []

    def compute() -> dict:
        calls.append(1)
        time.sleep(0.3)
        return {"value": 1}

    results: list[dict] = []
    threads = [
        threading.Thread(target=lambda: results.append(cached("x", (1,), compute, cache_dir=tmp_path)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert results == [{"value": 1}] * 3


# --- models sized to the data; the cut-off never flags more than the share -------------------------


def test_leaf_size_scales_with_the_training_set():
    from healthgap.models import leaf_size, train_size

    assert leaf_size(None) == 500 and leaf_size(175_000) == 500  # the default book: unchanged
    assert leaf_size(14_000) == 500  # 700 would be larger: capped
    assert leaf_size(1_140) == 57  # a twentieth: a tree can split 1,140 people into 8 leaves
    assert leaf_size(60) == 5
    assert train_size(2003, 0.3) == 1402 and train_size(250_000, 0.3) == 175_000


def test_cut_off_never_flags_more_than_the_share():
    from healthgap.models import cut_off

    risk = np.array([0.9, 0.8, 0.7, 0.7, 0.7, 0.7, 0.2, 0.1, 0.1, 0.1])
    assert cut_off(risk, 0.2) == 0.8  # no tie at the boundary: the top 2
    # the top 30% would cut through four people tied at 0.7: flag the two above them instead
    assert cut_off(risk, 0.3) == 0.8 and (risk >= cut_off(risk, 0.3)).sum() == 2
    assert (risk >= cut_off(risk, 0.05)).sum() == 0  # a share below one person flags nobody
    tied = np.full(20, 0.3)
    assert (tied >= cut_off(tied, 0.05)).sum() == 0  # everyone tied: nobody rather than everyone
    rng = np.random.default_rng(3)
    p = rng.random(175_000)
    assert cut_off(p, 0.05) == np.quantile(p, 0.95, method="higher")  # no ties: the training quantile


def test_settings_for_takes_the_baseline_measures(tmp_path):
    import yaml

    from healthgap.config import load_config
    from healthgap.models import labels_of, settings_for
    from tests.conftest import DEFAULT_YML

    raw = yaml.safe_load(DEFAULT_YML.read_text(encoding="utf-8"))
    raw["data"] = {"path": "x.parquet", "truth": None, "boundaries": None}
    raw["model"].pop("features")
    (tmp_path / "c.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = load_config(tmp_path / "c.yml")
    s = settings_for(config)
    assert s.features[0] == "age" and "missed_appointments" not in s.features  # a follow-up measure
    assert "cvd_admissions" not in s.features and "cvd_death" not in s.features  # outcomes
    assert {"hypertension", "statin", "systolic_bp"} <= set(s.features)
    assert labels_of(config)["imd_quintile"] == "Deprivation (IMD quintile)"
    assert labels_of(config)["cvd_admissions"] == "CVD emergency admissions"


def test_a_small_population_gets_many_distinct_risks(people):
    # on 1,140-odd training people a fixed 500-person leaf left a handful of distinct risks, so the
    # "top 5%" flagged a fifth of the people; leaves sized to the data rank people apart
    small = people.head(1_630)
    r = fit(small, settings=ModelSettings(target="hypertension"), n_boot=5)
    assert r.leaf == len(r.y_train) // 20
    flagged = (r.risk_train["boosted"] >= r.threshold()).mean()
    assert flagged <= 0.05 and flagged > 0.04
    assert np.unique(r.risk_train["boosted"]).size > 100
