"""Risk models: a logistic-regression baseline and a gradient-boosted model.

:func:`fit` chooses the target and features from the config (protected
characteristics excluded by default), splits the people into stratified
training and test sets with a fixed seed, fits both models and evaluates them
on the test set: AUROC, average precision, Brier score and calibration
(reliability curve, calibration-in-the-large and slope), each with a seeded,
vectorised bootstrap confidence interval. :func:`fit_cached` reuses a fit
across chapters. :func:`capacity` and :func:`outcome_counts` give the exact
test-set counts behind the operating points (the pages publish them).
"""

from healthgap.models._cache import cache_key, cached, fit_cached
from healthgap.models._capacity import CAPACITY_FRACTIONS, capacity, outcome_counts
from healthgap.models._features import design, label_of, labels_of, resolve, settings_for, target_problem
from healthgap.models._fit import (
    MODEL_LABELS,
    ModelResult,
    build_boosted,
    build_logistic,
    cut_off,
    fit,
    leaf_size,
    one_thread,
    train_size,
)
from healthgap.models._performance import METRIC_LABELS, performance, reliability
from healthgap.models._shap import decision_keys, tree_shap

__all__ = [
    "fit",
    "fit_cached",
    "cache_key",
    "cached",
    "ModelResult",
    "MODEL_LABELS",
    "METRIC_LABELS",
    "performance",
    "reliability",
    "capacity",
    "outcome_counts",
    "CAPACITY_FRACTIONS",
    "resolve",
    "target_problem",
    "design",
    "label_of",
    "build_logistic",
    "build_boosted",
    "leaf_size",
    "train_size",
    "cut_off",
    "settings_for",
    "labels_of",
    "one_thread",
    "tree_shap",
    "decision_keys",
]
