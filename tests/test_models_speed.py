"""The model code's speed-ups give the same numbers as the code they replaced, bit for bit.

Each test keeps the old computation as its reference and runs it on a small random problem.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_info

from healthgap.config import ModelSettings
from healthgap.models import build_boosted, build_logistic, decision_keys, fit, one_thread, tree_shap


def _openmp_threads() -> list[int]:
    return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "openmp"]


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 20_000
    X = rng.normal(size=(n, 6))
    X[rng.random(n) < 0.1, 2] = np.nan  # missing values go down the learned side
    X[:, 4] = rng.integers(0, 3, n)  # a categorical code
    eta = -3 + X[:, 0] + 0.5 * np.nan_to_num(X[:, 2]) - 0.7 * X[:, 4]
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    return X, y


def test_one_thread_limits_openmp_and_restores() -> None:
    before = _openmp_threads()
    with one_thread():
        inside = _openmp_threads()
    assert all(t == 1 for t in inside)
    assert _openmp_threads() == before


def test_one_thread_limits_blas_and_restores() -> None:
    from threadpoolctl import threadpool_info

    def blas() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas()
    assert before  # numpy's OpenBLAS is loaded
    with one_thread():
        inside = blas()
    assert all(t == 1 for t in inside)
    assert blas() == before


@pytest.mark.parametrize("model", ["boosted", "logistic"])
def test_models_in_one_thread_equal_the_default_threads(problem, model) -> None:
    """Fit and predictions under :func:`one_thread` equal those with every core (the old code):
    the booster's bit for bit; the logistic regression's to the last bits of the BLAS sums."""
    X, y = problem
    train = np.arange(X.shape[0]) % 3 != 0
    base = (
        build_boosted(seed=3, n_train=int(train.sum()))
        if model == "boosted"
        else build_logistic([0, 1, 2, 3, 5], [4], seed=3)
    )
    old, new = clone(base), clone(base)
    old.fit(X[train], y[train])  # the reference: no thread limit
    expected = old.predict_proba(X)[:, 1]
    with one_thread():
        new.fit(X[train], y[train])
        got = new.predict_proba(X)[:, 1]
    if model == "logistic":
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)
        return
    assert np.array_equal(got, expected)
    if model == "boosted":
        assert np.array_equal(new.decision_function(X), old.decision_function(X))


def test_fit_equals_the_unlimited_fit() -> None:
    """:func:`fit` (models fitted in one thread) gives the risks of a fit with every core."""
    from healthgap.synth import generate

    df, _ = generate(6_000, seed=4)
    settings = ModelSettings(target="cvd_admissions", seed=9)
    result = fit(df, settings=settings, n_boot=20)
    for name, model in result.models.items():
        reference = clone(model).fit(result.X_train, result.y_train)
        assert np.array_equal(reference.predict_proba(result.X_test)[:, 1], result.risk_test[name])
        assert np.array_equal(reference.predict_proba(result.X_train)[:, 1], result.risk_train[name])
    assert isinstance(result.metrics, pl.DataFrame)


@pytest.mark.parametrize("folder", ["cache", None])
def test_cached_computes_in_one_thread(tmp_path, folder) -> None:
    """Every cached model result (audit, refits, mitigation, SHAP) is computed in one OpenMP thread."""
    from healthgap.models import cached

    seen: list[list[int]] = []

    def compute() -> int:
        seen.append(_openmp_threads())
        return 1

    cache_dir = tmp_path / "cache" if folder else None
    parts = ("x",) if folder else (None,)  # a None part: computed without the cache
    assert cached("speed", parts, compute, cache_dir=cache_dir) == 1
    assert seen and all(t == 1 for t in seen[0])


def _old_shap(model, X: np.ndarray) -> tuple[np.ndarray, float]:
    """The old :func:`healthgap.explain.shap_values`: every row through ``shap.TreeExplainer``."""
    import shap

    explainer = shap.TreeExplainer(model)
    return np.asarray(explainer.shap_values(X), dtype=np.float64), float(
        np.ravel(explainer.expected_value)[0]
    )


@pytest.fixture(scope="module")
def booster(problem):
    X, y = problem
    model = build_boosted(seed=3, n_train=X.shape[0])
    with one_thread():
        model.fit(X, y)
    return model


def _rows_on_thresholds(model, X: np.ndarray) -> np.ndarray:
    """``X`` with, besides, rows whose values sit exactly on thresholds, just off them, and missing."""
    nodes = np.concatenate([t.nodes for it in model._predictors for t in it])
    nodes = nodes[~nodes["is_leaf"].astype(bool)]
    rng = np.random.default_rng(8)
    extra = X[rng.integers(0, X.shape[0], 3 * nodes.shape[0])].copy()
    for i, node in enumerate(nodes):
        j, t = int(node["feature_idx"]), float(node["num_threshold"])
        extra[3 * i, j] = t
        extra[3 * i + 1, j] = np.nextafter(t, np.inf)
        extra[3 * i + 2, j] = np.nan
    return np.vstack([X, extra, extra[:50]])  # and exact duplicates


def test_tree_shap_equals_tree_explainer(problem, booster) -> None:
    """Explaining each distinct path once gives shap's values bit for bit (the old code as reference)."""
    X, _ = problem
    X = _rows_on_thresholds(booster, X[:3000])
    expected, base = _old_shap(booster, X)
    got, got_base = tree_shap(booster, X)
    assert got_base == base
    assert np.array_equal(got, expected)
    keys = decision_keys(booster, X)
    assert keys is not None and np.unique(keys, axis=0).shape[0] < X.shape[0]  # some rows share paths


def test_decision_keys_tell_apart_rows_that_go_different_ways(booster) -> None:
    """Rows with equal keys get the same raw prediction; a missing value is not a large one."""
    nodes = np.concatenate([t.nodes for it in booster._predictors for t in it])
    j = int(nodes[~nodes["is_leaf"].astype(bool)]["feature_idx"][0])
    X = np.zeros((3, 6))
    X[1, j], X[2, j] = np.nan, 1e9
    keys = decision_keys(booster, X)
    assert keys is not None
    assert not np.array_equal(keys[1], keys[2])
    big = np.random.default_rng(1).normal(size=(2000, 6))
    k = decision_keys(booster, big)
    _, first, inverse = np.unique(k, axis=0, return_index=True, return_inverse=True)
    raw = booster.decision_function(big)
    assert np.array_equal(raw[first][inverse.ravel()], raw)


def test_tree_shap_of_other_models_and_no_rows(problem, booster) -> None:
    X, y = problem
    from sklearn.ensemble import GradientBoostingClassifier

    other = GradientBoostingClassifier(n_estimators=5, random_state=0).fit(np.nan_to_num(X[:500]), y[:500])
    assert decision_keys(other, X[:10]) is None
    assert np.array_equal(
        tree_shap(other, np.nan_to_num(X[:40]))[0], _old_shap(other, np.nan_to_num(X[:40]))[0]
    )
    values, _ = tree_shap(booster, X[:0])
    assert values.shape == (0, 6)
