"""The perfect-risk reference: what equal capacity gives when the risk is known exactly.

At a fixed capacity (the top ``top_fraction`` flagged), groups with more cases per person
have more of their cases among the highest risks, so even a model that knew everyone's
true risk would find different shares of each group's cases. :func:`capacity_reference`
flags the same capacity by the *true* risk (synthetic or linked data only) and splits the
model's gap in the true positive rate between two groups into the part the perfect-risk
model also shows (base rates) and the part the model adds, each with a paired bootstrap
interval. :func:`true_risk` computes each test-set person's true risk of the target from
the generator's parameters (``truth.json``'s ``outcomes``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from healthgap.config import Dimension
from healthgap.contract import TRUTH_PREFIX
from healthgap.fairness._groups import groupings
from healthgap.fairness._multiplicity import group_sums_batch
from healthgap.models import ModelResult
from healthgap.stats import percentile_interval

__all__ = ["true_risk", "CapacityReference", "capacity_reference", "NO_TRUE_RISK"]

NO_TRUE_RISK = (
    "The data carries no true risk of {target} (a synthetic population's truth.json with the "
    "outcome's parameters and each person's true conditions and treatments), so the part of a "
    "gap that base rates explain cannot be separated from the part the model adds."
)

#: Deprivation steps of the generator: quintile 1 (most deprived) is 4 steps above quintile 5.
_TOP_QUINTILE = 5
#: Deaths under this age are premature (the generator's default when the truth does not say).
_PREMATURE_AGE = 75


def _column(result: ModelResult, part: Literal["train", "test"], name: str) -> np.ndarray | None:
    groups = result.groups_train if part == "train" else result.groups_test
    if name in groups.columns:
        return groups.get_column(name).to_numpy()
    if name in result.features:
        X = result.X_train if part == "train" else result.X_test
        return X[:, result.features.index(name)]
    return None


def true_risk(
    result: ModelResult, truth: Mapping[str, Any] | None, *, part: Literal["train", "test"] = "test"
) -> np.ndarray | None:
    """Each person's true probability of the target in the follow-up year, or None.

    The synthetic generator draws an outcome count as Poisson with a log-linear rate in
    age, sex, deprivation step, the *true* conditions and the treatments
    (``truth["outcomes"][target]``); the target is binarised as > 0, so the true risk is
    ``1 - exp(-rate)``. None when the truth has no parameters for the target, or a
    column it needs is neither kept aside nor a feature.

    Parameters
    ----------
    result : the fitted model (its test or training rows).
    truth : the parsed ``truth.json`` (None: no truth).
    part : ``"test"`` or ``"train"``.
    """
    spec = ((truth or {}).get("outcomes") or {}).get(result.target)
    if not isinstance(spec, Mapping) or "rate_at_60" not in spec:
        return None
    age = _column(result, part, "age")
    if age is None:
        return None
    log_rate = np.log(spec["rate_at_60"]) + spec["age_log_rr_per_year"] * (age.astype(np.float64) - 60.0)
    for key, ratio in spec.get("rate_ratios", {}).items():
        if key == "male":
            sex = _column(result, part, "sex")
            x = None if sex is None else (sex == "male").astype(np.float64)
        elif key == "imd_quintile_step":
            q = _column(result, part, "imd_quintile")
            x = None if q is None else _TOP_QUINTILE - q.astype(np.float64)
        else:
            x = _column(result, part, f"{TRUTH_PREFIX}{key}")
            if x is None:
                x = _column(result, part, key)
            x = None if x is None else np.nan_to_num(x.astype(np.float64))
        if x is None:
            return None
        log_rate = log_rate + np.log(ratio) * x
    added = _added_log_rate(result, part, spec, age)
    if added is None:
        return None
    return -np.expm1(-np.exp(log_rate + added))


def _added_log_rate(
    result: ModelResult, part: Literal["train", "test"], spec: Mapping[str, Any], age: np.ndarray
) -> np.ndarray | float | None:
    """The rate ratios the generator adds on top of the log-linear rate, or None.

    By *recorded* ethnic group (``ethnicity_rate_ratios``) and per deprivation step under the
    premature age (``premature_rr_per_quintile_step``, under ``premature_age``, default 75); 0
    when the outcome has neither; None when a column it needs is neither kept aside nor a feature.
    """
    added: np.ndarray | float = 0.0
    ratios = spec.get("ethnicity_rate_ratios") or {}
    if ratios:
        eth = _column(result, part, "ethnicity")
        if eth is None:
            return None
        logs = {str(k): float(np.log(v)) for k, v in ratios.items()}
        added = added + (
            pl.Series(eth.astype(str)).replace_strict(logs, default=0.0, return_dtype=pl.Float64).to_numpy()
        )
    step = spec.get("premature_rr_per_quintile_step")
    if step is not None:
        q = _column(result, part, "imd_quintile")
        if q is None:
            return None
        under = age.astype(np.float64) < float(spec.get("premature_age", _PREMATURE_AGE))
        added = added + np.log(step) * (_TOP_QUINTILE - q.astype(np.float64)) * under
    return added


@dataclass(frozen=True, eq=False)
class CapacityReference:
    """Result of :func:`capacity_reference`: exact counts and paired bootstrap intervals.

    Attributes
    ----------
    groups : per ``dimension`` and group: ``n``, ``cases`` (test-set people with the
        outcome), ``found_model`` / ``found_reference`` (cases flagged by the model / by
        the true risk at the same capacity), ``tpr_model``, ``tpr_reference`` (their
        shares of cases) with percentile intervals (``*_lower``, ``*_upper``), and
        ``tpr_reference_expected``: the perfect-risk rate free of outcome chance (the
        true risk of those flagged over the true risk of all).
    gaps : per ``dimension`` and group other than the dimension's reference level:
        ``gap_model`` (group minus reference, model), ``gap_reference`` (the same for
        the perfect-risk model: what base rates give), ``added`` (their difference:
        the part the model adds), each with its interval (``*_lower``, ``*_upper``).
    pairs : the same for every pair of groups of a dimension (``group`` before ``versus`` in
        the dimension's order; the gaps are ``group`` minus ``versus``), so that the largest
        gap of any two groups can be set against the perfect-risk model's.
    top_fraction : the capacity.
    threshold_reference : the true-risk cut-off (training set).
    """

    groups: pl.DataFrame = field(repr=False)
    gaps: pl.DataFrame = field(repr=False)
    top_fraction: float
    threshold_reference: float
    confidence: float = 0.95
    pairs: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)


def _reference_level(d: Dimension | None, levels: Sequence[str], sizes: np.ndarray) -> int:
    if d is not None and d.reference in levels:
        return list(levels).index(d.reference)
    return int(np.argmax(sizes))


def capacity_reference(
    result: ModelResult,
    *,
    truth: Mapping[str, Any] | None,
    dimensions: Sequence[Dimension],
    model: str = "boosted",
    top_fraction: float | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int | None = None,
) -> CapacityReference | None:
    """The model's true positive rate at capacity by group, beside a perfect-risk model's.

    Both flag the same share of people (``top_fraction``, default the configured
    capacity): the model by predicted risk, the reference by true risk, each with its
    cut-off from the training set. Gaps compare each group with the dimension's
    reference level (else the largest group). Intervals: percentile bootstrap over
    test-set people, the same replicates for the model, the reference and their
    difference (paired).

    Returns
    -------
    CapacityReference or None
        None when the data has no true risk of the target (:data:`NO_TRUE_RISK`).

    References
    ----------
    .. [1] Kleinberg J, Mullainathan S, Raghavan M. Inherent trade-offs in the fair
       determination of risk scores. ITCS 2017.
    .. [2] Chouldechova A. Fair prediction with disparate impact. Big Data 2017;5:153-63.
    """
    p_test = true_risk(result, truth, part="test")
    p_train = true_risk(result, truth, part="train")
    if p_test is None or p_train is None:
        return None
    fraction = result.settings.top_fraction if top_fraction is None else top_fraction
    cut = float(np.quantile(p_train, 1 - fraction, method="higher"))
    ref_flag = p_test >= cut
    flag = result.flagged(model, top_fraction=fraction)
    y = np.asarray(result.y_test, bool).astype(np.float64)
    values = np.column_stack([np.ones_like(y), y, y * flag, y * ref_flag, p_test * ref_flag, p_test])
    found, _ = groupings(result.groups_test, dimensions, intersections=())
    by_name = {d.name: d for d in dimensions}
    seed = result.settings.seed if seed is None else seed
    rows, gap_rows, pair_rows = [], [], []
    # every grouping's sums from one stream of replicates (each as group_sums would compute it)
    sums = group_sums_batch([(g.codes, g.k, values) for g in found], n_boot=n_boot, seed=seed)
    for g, (exact, reps) in zip(found, sums, strict=True):
        with np.errstate(all="ignore"):
            tpr = exact[:, [2, 3]] / exact[:, [1]]
            rep_tpr = reps[:, :, [2, 3]] / reps[:, :, [1]]
            expected = exact[:, 4] / exact[:, 5]
        lo, hi = percentile_interval(rep_tpr, confidence)
        rows.append(
            pl.DataFrame(
                {
                    "dimension": g.name,
                    "dimension_label": g.label,
                    "group": list(g.levels),
                    "group_label": list(g.labels),
                    "order": np.arange(g.k),
                    "n": exact[:, 0].round().astype(np.int64),
                    "cases": exact[:, 1].round().astype(np.int64),
                    "found_model": exact[:, 2].round().astype(np.int64),
                    "found_reference": exact[:, 3].round().astype(np.int64),
                    "tpr_model": tpr[:, 0],
                    "tpr_model_lower": lo[:, 0],
                    "tpr_model_upper": hi[:, 0],
                    "tpr_reference": tpr[:, 1],
                    "tpr_reference_lower": lo[:, 1],
                    "tpr_reference_upper": hi[:, 1],
                    "tpr_reference_expected": expected,
                }
            )
        )
        ref = _reference_level(by_name.get(g.name), g.levels, exact[:, 0])
        others = np.array([i for i in range(g.k) if i != ref], dtype=np.int64)
        gaps = _paired_gaps(tpr[others] - tpr[ref], rep_tpr[:, others] - rep_tpr[:, [ref]], confidence)
        gap_rows.append(
            pl.DataFrame(
                {
                    "dimension": g.name,
                    "dimension_label": g.label,
                    "group": [g.levels[i] for i in others],
                    "group_label": [g.labels[i] for i in others],
                    "reference": g.levels[ref],
                    "reference_label": g.labels[ref],
                    **gaps,
                }
            )
        )
        pair_rows.append(_pairs(g.name, g.levels, tpr, rep_tpr, confidence))
    nan_to_null = pl.selectors.float().fill_nan(None)
    return CapacityReference(
        groups=pl.concat(rows).with_columns(nan_to_null) if rows else pl.DataFrame(),
        gaps=pl.concat(gap_rows).with_columns(nan_to_null) if gap_rows else pl.DataFrame(),
        top_fraction=fraction,
        threshold_reference=cut,
        confidence=confidence,
        pairs=pl.concat(pair_rows).with_columns(nan_to_null) if pair_rows else pl.DataFrame(),
    )


def _pairs(
    name: str, levels: Sequence[str], tpr: np.ndarray, rep_tpr: np.ndarray, confidence: float
) -> pl.DataFrame:
    """Every pair ``i < j`` of a dimension's groups: the model's and the perfect-risk model's gap
    (``tpr[i] - tpr[j]``) and their difference, with paired percentile intervals.

    ``tpr``: (groups, 2) exact rates (model, reference); ``rep_tpr``: (replicates, groups, 2).
    """
    i, j = np.triu_indices(len(levels), k=1)
    names = np.asarray(levels, dtype=object)
    return pl.DataFrame(
        {
            "dimension": [name] * len(i),
            "group": names[i].tolist(),
            "versus": names[j].tolist(),
            **_paired_gaps(tpr[i] - tpr[j], rep_tpr[:, i] - rep_tpr[:, j], confidence),
        },
        schema_overrides={"group": pl.String, "versus": pl.String},
    )


def _paired_gaps(gap: np.ndarray, rep_gap: np.ndarray, confidence: float) -> dict[str, np.ndarray]:
    """The model's and the perfect-risk model's gaps and the part the model adds, with paired
    percentile intervals (the same bootstrap replicates for both gaps and their difference).

    ``gap``: (pairs, 2) exact gaps (model, reference); ``rep_gap``: (replicates, pairs, 2).
    Returns the ``gap_model``, ``gap_reference`` and ``added`` columns with their ``_lower`` and
    ``_upper`` limits.
    """
    g_lo, g_hi = percentile_interval(rep_gap, confidence)
    a_lo, a_hi = percentile_interval(rep_gap[:, :, 0] - rep_gap[:, :, 1], confidence)
    return {
        "gap_model": gap[:, 0],
        "gap_model_lower": g_lo[:, 0],
        "gap_model_upper": g_hi[:, 0],
        "gap_reference": gap[:, 1],
        "gap_reference_lower": g_lo[:, 1],
        "gap_reference_upper": g_hi[:, 1],
        "added": gap[:, 0] - gap[:, 1],
        "added_lower": a_lo,
        "added_upper": a_hi,
    }
