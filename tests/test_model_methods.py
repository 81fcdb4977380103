"""Method tests of the model fit and its explanation: leakage, the split, SHAP attachment.

Each test checks the fitted objects against an independent calculation, so that a fit
trained on test rows, an unseeded or overlapping split, or SHAP values attached to the
wrong feature fails.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone

from healthgap.models import design, fit
from healthgap.models._features import target_vector


@pytest.fixture(scope="module")
def small(default_config):
    """The first 8,000 people of the 20,000 fixture (the model settings of the default book)."""
    from healthgap import data

    return data.load(default_config).head(8000).collect(), default_config.model


@pytest.fixture(scope="module")
def fitted(small):
    people, settings = small
    return fit(people, settings=settings, n_boot=10)


def _rows(X: np.ndarray) -> np.ndarray:
    """Rows of X sorted lexicographically (NaN as a sentinel), for multiset comparisons."""
    Z = np.nan_to_num(X, nan=-9e9)
    return Z[np.lexsort(Z.T[::-1])]


def test_models_were_trained_on_training_rows_only(fitted):
    """Refitting each model's unfitted copy on X_train alone reproduces its test predictions exactly:
    a model that saw the test rows (or any other rows) does not."""
    for name, model in fitted.models.items():
        refit = clone(model).fit(fitted.X_train, fitted.y_train)
        assert np.array_equal(refit.predict_proba(fitted.X_test)[:, 1], fitted.risk_test[name]), name
        assert np.array_equal(refit.predict_proba(fitted.X_train)[:, 1], fitted.risk_train[name]), name


def test_split_is_disjoint_complete_and_stratified(small, fitted):
    people, settings = small
    X, _, _ = design(people, fitted.features)
    y = target_vector(people, fitted.target)
    n = people.height
    assert fitted.X_train.shape[0] + fitted.X_test.shape[0] == n
    assert fitted.X_test.shape[0] == int(np.ceil(settings.test_size * n))
    # together, the two parts are every person exactly once (as a multiset of rows with their label)
    both = np.vstack(
        [np.column_stack([fitted.X_train, fitted.y_train]), np.column_stack([fitted.X_test, fitted.y_test])]
    )
    assert np.array_equal(_rows(both), _rows(np.column_stack([X, y])))
    # stratified: the test set's prevalence is the whole sample's to within one person
    assert abs(fitted.y_test.sum() - settings.test_size * y.sum()) <= 1


def test_split_is_seeded(small, fitted):
    from dataclasses import replace

    people, settings = small
    again = fit(people, settings=settings, n_boot=10)
    assert np.array_equal(_rows(again.X_test), _rows(fitted.X_test))
    assert np.array_equal(again.X_test, fitted.X_test)
    other = fit(people, settings=replace(settings, seed=settings.seed + 1), n_boot=10)
    assert not np.array_equal(_rows(other.X_test), _rows(fitted.X_test))


def test_shap_values_are_attached_to_their_features(fitted):
    """Per feature, the explanation's mean |SHAP| equals the TreeExplainer's own column for it,
    and each important feature's SHAP values are a function of that feature's values."""
    import shap

    from healthgap.explain import explain, sample_rows

    exp = explain(fitted, dimensions=(), sample=1500, n_boot=10)
    rows = sample_rows(fitted.X_test.shape[0], size=1500, seed=fitted.settings.seed)
    X = fitted.X_test[rows]
    S = np.asarray(shap.TreeExplainer(fitted.models["boosted"]).shap_values(X))
    by_name = dict(zip(exp.importance["feature"], exp.importance["value"], strict=True))
    for j, name in enumerate(fitted.features):
        assert by_name[name] == pytest.approx(np.abs(S[:, j]).mean(), rel=1e-9, abs=1e-15), name
    # semantic check, independent of the explainer's column order: the SHAP column said to be a
    # feature's varies with that feature (correlation ratio over its tenths above 0.5)
    frame = pl.DataFrame({"feature": list(fitted.features), "value": [by_name[f] for f in fitted.features]})
    top = frame.sort("value", descending=True).head(4)["feature"].to_list()
    for name in top:
        j = fitted.features.index(name)
        x = X[:, j]
        ok = np.isfinite(x)
        bins = np.unique(np.quantile(x[ok], np.linspace(0, 1, 11)))
        codes = np.digitize(x[ok], bins[1:-1])
        s = S[ok, j]
        means = np.bincount(codes, weights=s) / np.maximum(np.bincount(codes), 1)
        eta2 = 1 - np.sum((s - means[codes]) ** 2) / np.sum((s - s.mean()) ** 2)
        assert eta2 > 0.5, (name, eta2)
