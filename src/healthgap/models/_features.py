"""Choosing the target and the features, and turning polars columns into numbers.

This is the boundary where polars becomes numpy: :func:`design` converts the
features once into a float64 matrix. Text categories become ordinal codes
(contract order, else sorted), true/false becomes 0/1 and a missing value
becomes NaN. The booster's native categorical support is deliberately not
used: SHAP's tree explainer would then attribute silently wrong values.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import polars as pl

from healthgap.config import Config, ModelSettings
from healthgap.contract import (
    CONDITIONS,
    CONTRACT,
    OUTCOMES,
    PROTECTED,
    RISK_FACTORS,
    TREATMENTS,
    TRUTH_PREFIX,
)
from healthgap.errors import ConfigError, DataError

__all__ = ["resolve", "target_problem", "design", "target_vector", "label_of", "settings_for", "labels_of"]

TARGET_MISSING = (
    "model.target: {target!r} is not a column of the data{close}. Fix: set model.target to an outcome "
    "or condition the data has ({options})."
)
TARGET_NOT_BINARY = (
    "model.target: {target!r} has type {dtype}; it must be true/false or a count (binarised as > 0). "
    "Fix: choose a true/false or whole-number column."
)
TARGET_ONE_CLASS = (
    "model.target: {target!r} has {positives} positive and {negatives} negative people; a model needs both. "
    "Fix: choose a target with cases, or check the data."
)
FEATURE_MISSING = (
    "model.features: {names} not in the data{close}. Fix: remove them from model.features or map them "
    "in data.columns. Columns available: {options}."
)
FEATURE_PROTECTED = (
    "model.features: {names} are protected characteristics while model.exclude_protected is true. "
    "Fix: remove them from model.features, or set model.exclude_protected: false to use them knowingly."
)
FEATURE_LEAK = "model.features: {names} cannot be features ({why}). Fix: remove them from model.features."
NO_FEATURES = "model.features: no usable feature columns in the data. Fix: list features in model.features."

_NEVER = {"person_id", "lsoa", "gp_practice"}


def label_of(name: str) -> str:
    """Human label of a column (contract label, or the name itself)."""
    col = CONTRACT.get(name)
    return col.label if col is not None else name


def settings_for(config: Config) -> ModelSettings:
    """The model settings of ``config`` with the features resolved from its measures.

    ``model.features`` when the config lists them; otherwise ``age`` and every baseline
    measure of the dataset that is not an outcome (:attr:`Config.features`: a follow-up
    measure is never a feature), plus the equity dimensions' columns when
    ``model.exclude_protected`` is false.
    """
    settings = config.model
    if settings.features:
        return settings
    kinds = {m.name: m.kind for m in config.measures}
    features = [f for f in config.features if kinds.get(f) != "outcome" and f != settings.target]
    if not settings.exclude_protected:
        features += [d.name for d in config.dimensions if d.name != "age_band" and d.name not in features]
    return replace(settings, features=tuple(dict.fromkeys(features)))


def labels_of(config: Config) -> dict[str, str]:
    """Column -> label for the model's words: the config's measures and dimensions."""
    out = {d.name: d.label for d in config.dimensions}
    out.update((m.name, m.label) for m in config.measures)
    return out


def target_problem(schema: pl.Schema, settings: ModelSettings) -> str | None:
    """Why ``settings.target`` cannot be modelled on data with ``schema``, or None if it can."""
    target = settings.target
    if target not in schema:
        close = difflib.get_close_matches(target, list(schema), n=1)
        options = ", ".join(c for c in (*OUTCOMES, *CONDITIONS) if c in schema) or "none found"
        return TARGET_MISSING.format(
            target=target, close=f" (did you mean {close[0]!r}?)" if close else "", options=options
        )
    dtype = schema[target]
    if not (dtype == pl.Boolean or dtype.is_integer()):
        return TARGET_NOT_BINARY.format(target=target, dtype=dtype)
    return None


def resolve(schema: pl.Schema, settings: ModelSettings) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Target, features and excluded protected columns for data with ``schema``.

    An empty ``settings.features`` means: age, the recorded conditions, the
    risk factors and the treatments present in the data (minus the target).
    Protected characteristics (:data:`healthgap.contract.PROTECTED`) are left
    out when ``exclude_protected`` is true; otherwise sex, ethnicity and IMD
    quintile are added to the default features.

    Raises
    ------
    ConfigError
        Target or features missing, protected features listed while excluded,
        or leaking columns (truth, identifiers, outcomes, the target) listed.

    References
    ----------
    .. [1] Collins GS, et al. TRIPOD+AI statement. BMJ 2024;385:e078378 (reporting predictors).
    """
    problem = target_problem(schema, settings)
    if problem:
        raise ConfigError(problem)
    target = settings.target
    present = set(schema)
    if settings.features:
        wanted = list(dict.fromkeys(settings.features))
        missing = [f for f in wanted if f not in present]
        if missing:
            close = {c for m in missing for c in difflib.get_close_matches(m, list(schema), n=1)}
            raise ConfigError(
                FEATURE_MISSING.format(
                    names=", ".join(map(repr, missing)),
                    close=f" (close: {', '.join(map(repr, sorted(close)))})" if close else "",
                    options=", ".join(schema),
                )
            )
        leaks = [
            f for f in wanted if f == target or f in _NEVER or f.startswith(TRUTH_PREFIX) or f in OUTCOMES
        ]
        if leaks:
            raise ConfigError(
                FEATURE_LEAK.format(
                    names=", ".join(map(repr, leaks)),
                    why="the target, identifiers, small-area codes, outcomes or true-status columns",
                )
            )
        protected = [f for f in wanted if f in PROTECTED]
        if protected and settings.exclude_protected:
            raise ConfigError(FEATURE_PROTECTED.format(names=", ".join(map(repr, protected))))
        features = wanted
    else:
        default = ["age", *CONDITIONS, *RISK_FACTORS, *TREATMENTS]
        if not settings.exclude_protected:
            default += ["sex", "ethnicity", "imd_quintile"]
        features = [f for f in default if f in present and f != target]
    if not features:
        raise ConfigError(NO_FEATURES)
    excluded = tuple(p for p in PROTECTED if p in present and p not in features)
    return target, tuple(features), excluded


def target_vector(df: pl.DataFrame, target: str) -> np.ndarray:
    """The target as a bool array (counts binarised as > 0, missing as False)."""
    col = df.get_column(target)
    flags = (col > 0) if col.dtype != pl.Boolean else col
    y: np.ndarray = flags.fill_null(False).to_numpy().astype(bool)
    positives = int(y.sum())
    if positives == 0 or positives == y.shape[0]:
        raise DataError(
            TARGET_ONE_CLASS.format(target=target, positives=positives, negatives=y.shape[0] - positives)
        )
    return y


def _levels(df: pl.DataFrame, name: str) -> tuple[str, ...]:
    col = CONTRACT.get(name)
    found = df.get_column(name).drop_nulls().unique().sort().to_list()
    if col is not None and col.codes:
        return tuple(col.codes) + tuple(v for v in found if v not in col.codes)
    return tuple(found)


def design(
    df: pl.DataFrame, features: Sequence[str], *, categories: dict[str, tuple[str, ...]] | None = None
) -> tuple[np.ndarray, tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Convert ``features`` of ``df`` into one float64 matrix.

    Returns the matrix, the categorical feature names and their levels. Pass
    ``categories`` from an earlier call to encode new data the same way.

    References
    ----------
    .. [1] scikit-learn User Guide, "Categorical features support" in histogram-based
       gradient boosting, and shap issue #2662 on native categorical splits.
    """
    schema = df.schema
    categories = dict(categories or {})
    exprs: list[pl.Expr] = []
    categorical: list[str] = []
    for name in features:
        dtype = schema[name]
        if dtype == pl.String or dtype == pl.Categorical or dtype == pl.Enum:
            levels = categories.setdefault(name, _levels(df, name))
            exprs.append(
                pl.col(name)
                .cast(pl.String)
                .replace_strict(list(levels), list(range(len(levels))), default=None, return_dtype=pl.Float64)
                .alias(name)
            )
            categorical.append(name)
        elif dtype.is_numeric() or dtype == pl.Boolean:
            exprs.append(pl.col(name).cast(pl.Float64).alias(name))
        else:
            raise ConfigError(
                f"model.features: {name!r} has type {dtype}, which cannot be a feature. "
                "Fix: remove it from model.features."
            )
    X = df.select(exprs).to_numpy().astype(np.float64, copy=False)
    return X, tuple(categorical), {k: v for k, v in categories.items() if k in categorical}
