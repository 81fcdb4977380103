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
from healthgap.models import build_boosted, build_logistic, fit, one_thread


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


@pytest.mark.parametrize("model", ["boosted", "logistic"])
def test_models_in_one_thread_equal_the_default_threads(problem, model) -> None:
    """Fit and predictions under :func:`one_thread` equal those with every core (the old code)."""
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
