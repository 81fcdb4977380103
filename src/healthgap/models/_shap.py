"""SHAP values of the gradient-boosted model, each distinct path through its trees explained once."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["tree_shap", "decision_keys"]


def decision_keys(model: Any, X: np.ndarray) -> np.ndarray | None:
    """For each row of ``X``, a key that is equal for two rows exactly when they go the same way
    at every split of ``model`` (a fitted ``HistGradientBoostingClassifier``); None for another
    model or one with native categorical splits.

    Per feature split on: the number of the feature's thresholds below the value and the number
    at or below it (so the key settles ``<`` and ``<=`` against every threshold alike), and
    whether it is missing (missing values follow each split's learned side).
    """
    predictors = getattr(model, "_predictors", None)
    if predictors is None:
        return None
    nodes = np.concatenate([tree.nodes for iteration in predictors for tree in iteration])
    if "is_categorical" in (nodes.dtype.names or ()) and bool(nodes["is_categorical"].any()):
        return None
    split = ~nodes["is_leaf"].astype(bool)
    features = nodes["feature_idx"][split].astype(np.int64)
    thresholds = nodes["num_threshold"][split].astype(np.float64)
    X = np.asarray(X, dtype=np.float64)
    columns = []
    for j in np.unique(features):  # the features split on (a few), each over every row at once
        t = np.unique(thresholds[features == j])
        x = X[:, j]
        below, at_or_below = np.searchsorted(t, x, "left"), np.searchsorted(t, x, "right")
        columns.append(np.where(np.isnan(x), 2 * t.size + 1, below + at_or_below))
    if not columns:
        return np.zeros((X.shape[0], 1), dtype=np.int64)
    return np.column_stack(columns)


def tree_shap(model: Any, X: np.ndarray) -> tuple[np.ndarray, float]:
    """SHAP values (log-odds) of ``model`` on the rows of ``X``, and its base value.

    The same numbers, bit for bit, as ``shap.TreeExplainer(model).shap_values(X)``: the tree
    SHAP algorithm uses a row's values only to choose a branch at each split, so rows that
    go the same way everywhere (:func:`decision_keys`) get the same values. Each distinct
    set of paths is explained once (about 4 in 5 of 50,000 people in the default book) and
    its values are copied to the rows that share it.

    References
    ----------
    .. [1] Lundberg SM, et al. From local explanations to global understanding with explainable
       AI for trees. Nature Machine Intelligence 2020;2:56-67 (algorithm 2).
    """
    import shap

    explainer = shap.TreeExplainer(model)
    base = float(np.ravel(explainer.expected_value)[0])
    X = np.asarray(X, dtype=np.float64)
    keys = decision_keys(model, X) if X.shape[0] else None
    if keys is None:
        return np.asarray(explainer.shap_values(X), dtype=np.float64), base
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    if first.shape[0] == X.shape[0]:
        return np.asarray(explainer.shap_values(X), dtype=np.float64), base
    values = np.asarray(explainer.shap_values(X[first]), dtype=np.float64)
    return values[inverse.ravel()], base
