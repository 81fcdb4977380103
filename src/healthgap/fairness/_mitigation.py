"""Mitigation: equal opportunity by post-processing and by reductions, and what it costs."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import ErrorRate, ExponentiatedGradient, TruePositiveRateParity
from sklearn.linear_model import LogisticRegression

from healthgap.config import Dimension, DisclosureSettings
from healthgap.fairness._audit import publishable
from healthgap.fairness._groups import Grouping, groupings
from healthgap.models import ModelResult

__all__ = ["Mitigation", "mitigate", "STRATEGIES"]

#: Strategies compared, in display order.
STRATEGIES: dict[str, str] = {
    "capacity": "Unmitigated, top {pct} of risk",
    "balanced": "Unmitigated, balanced-accuracy threshold",
    "threshold_optimizer": "ThresholdOptimizer (equal opportunity)",
    "exponentiated_gradient": "ExponentiatedGradient (equal opportunity)",
}
NO_DIMENSION = ("mitigate: dimension {name!r} is not available for mitigation ({why}). Fix: choose one of "
                "{options}.")


@dataclass(frozen=True, eq=False)
class Mitigation:
    """Result of :func:`mitigate`.

    Attributes
    ----------
    dimension, dimension_label : the equity dimension whose true positive rates are equalised.
    summary : one row per strategy: selection rate, TPR, FPR, balanced accuracy, cases found and
        missed in the test set, the largest between-group TPR difference and the groups involved.
    by_group : per strategy and group, true positive rate and selection rate (disclosure-protected).
    sample : training people used by ExponentiatedGradient; ``seed`` its seed and random_state.
    """

    dimension: str
    dimension_label: str
    summary: pl.DataFrame = field(repr=False)
    by_group: pl.DataFrame = field(repr=False)
    sample: int
    seed: int
    cases: int
    test_size: int


def _balanced_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Single cut-off maximising balanced accuracy (Youden's J) on training predictions."""
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    tpr = np.cumsum(ys) / max(ys.sum(), 1)
    fpr = np.cumsum(~ys) / max((~ys).sum(), 1)
    last = np.r_[ps[1:] != ps[:-1], True]  # only cut between distinct scores
    j = np.where(last, tpr - fpr, -np.inf)
    return float(ps[int(np.argmax(j))])


def mitigate(
    result: ModelResult,
    *,
    dimension: Dimension,
    dimensions: Sequence[Dimension] = (),
    sample: int | None = None,
    seed: int | None = None,
    top_fraction: float | None = None,
    disclosure: DisclosureSettings | None = None,
) -> Mitigation:
    """Compare the unmitigated model with two equal-opportunity mitigations.

    * **Unmitigated** at the capacity threshold (top ``top_fraction``) and at
      the single threshold maximising balanced accuracy on the training set.
    * **ThresholdOptimizer** (post-processing): group-specific, randomised
      thresholds on the gradient-boosted model's risk, fitted on the whole
      training set to maximise balanced accuracy subject to equal true
      positive rates across the groups of ``dimension``.
    * **ExponentiatedGradient** (reductions): a randomised mixture of
      logistic regressions (on the logistic baseline's imputed, scaled
      features), refitted with reweighted data until true positive rates are
      equal. Fitting repeats the logistic regression many times, so it uses a
      seeded training sample of ``sample`` people (default
      ``settings.mitigation_sample``); its error costs are weighted by
      prevalence so it too maximises balanced accuracy.

    Randomised predictions use ``random_state=seed``. All metrics are on the test set.

    References
    ----------
    .. [1] Hardt M, Price E, Srebro N. Equality of opportunity in supervised learning. NeurIPS 2016.
    .. [2] Agarwal A, et al. A reductions approach to fair classification. ICML 2018.
    .. [3] Weerts H, et al. Fairlearn: assessing and improving fairness of AI systems. JMLR 2023.
    """
    settings = result.settings
    seed = settings.seed if seed is None else seed
    sample = settings.mitigation_sample if sample is None else sample
    fraction = settings.top_fraction if top_fraction is None else top_fraction
    found, skipped = groupings(result.groups_test, [dimension, *dimensions], intersections=())
    test_groups = next((g for g in found if g.name == dimension.name), None)
    if test_groups is None:
        why = next((w for d, w in skipped if d == dimension.label), "not usable")
        raise ValueError(NO_DIMENSION.format(name=dimension.name, why=why,
                                             options=", ".join(g.name for g in found) or "none"))
    train_groups = result.groups_train.get_column(dimension.name).cast(pl.String).fill_null("missing").to_numpy()
    test_keys = result.groups_test.get_column(dimension.name).cast(pl.String).fill_null("missing").to_numpy()
    boosted = result.models["boosted"]
    y_tr, y_te = result.y_train, result.y_test
    p_tr, p_te = result.risk_train["boosted"], result.risk_test["boosted"]
    decisions: dict[str, np.ndarray] = {
        "capacity": p_te >= result.threshold("boosted", top_fraction=fraction),
        "balanced": p_te >= _balanced_threshold(y_tr, p_tr),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimizer = ThresholdOptimizer(
            estimator=boosted, constraints="true_positive_rate_parity",
            objective="balanced_accuracy_score", prefit=True, predict_method="predict_proba",
        )
        optimizer.fit(result.X_train, y_tr, sensitive_features=train_groups)
        decisions["threshold_optimizer"] = optimizer.predict(
            result.X_test, sensitive_features=test_keys, random_state=seed).astype(bool)
        prepare = result.models["logistic"].named_steps["prepare"]
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(y_tr.shape[0], size=min(sample, y_tr.shape[0]), replace=False))
        prevalence = float(y_tr[rows].mean())
        reduction = ExponentiatedGradient(
            LogisticRegression(max_iter=500), constraints=TruePositiveRateParity(),
            objective=ErrorRate(costs={"fp": prevalence, "fn": 1 - prevalence}),
        )
        reduction.fit(prepare.transform(result.X_train[rows]), y_tr[rows].astype(int),
                      sensitive_features=train_groups[rows])
        decisions["exponentiated_gradient"] = reduction.predict(
            prepare.transform(result.X_test), random_state=seed).astype(bool)
    overall, by_group = _compare(decisions, y_te, test_groups.codes, test_groups, fraction)
    by_group = by_group.with_columns(dimension=pl.lit(dimension.name))
    derived = {"cases": ["tpr"], "n": ["selection_rate"], "found": ["tpr"]}
    published = publishable(by_group, counts=["n", "cases", "found"], derived=derived,
                            by=["strategy"], settings=disclosure)
    spread = (
        published.filter(pl.col("tpr").is_not_null())
        .group_by("strategy")
        .agg(tpr_difference=pl.col("tpr").max() - pl.col("tpr").min(),
             highest_group=pl.col("group_label").sort_by("tpr").last(),
             lowest_group=pl.col("group_label").sort_by("tpr").first(),
             groups_compared=pl.len())
    )
    summary = publishable(
        overall.join(spread, on="strategy", how="left", maintain_order="left"),
        counts=["found", "missed", "flagged"], by=["strategy"], settings=disclosure,
    )
    return Mitigation(dimension=dimension.name, dimension_label=dimension.label, summary=summary,
                      by_group=published, sample=int(rows.shape[0]), seed=seed,
                      cases=int(y_te.sum()), test_size=int(y_te.shape[0]))


def _compare(decisions: dict[str, np.ndarray], y: np.ndarray, codes: np.ndarray, g: Grouping,
             fraction: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    pct = f"{fraction:.0%}"
    frame = pl.DataFrame({"code": codes, "y": y, **{k: v for k, v in decisions.items()}}).filter(
        pl.col("code") >= 0)
    long = frame.unpivot(index=["code", "y"], on=list(decisions), variable_name="strategy", value_name="flag")
    by_group = (
        long.group_by("strategy", "code")
        .agg(n=pl.len(), cases=pl.col("y").sum().cast(pl.Int64),
             found=(pl.col("y") & pl.col("flag")).sum().cast(pl.Int64),
             selection_rate=pl.col("flag").mean())
        .with_columns(tpr=pl.when(pl.col("cases") > 0).then(pl.col("found") / pl.col("cases")),
                      n=pl.col("n").cast(pl.Int64))
        .with_columns(group=pl.col("code").replace_strict(list(range(g.k)), list(g.levels)),
                      group_label=pl.col("code").replace_strict(list(range(g.k)), list(g.labels)),
                      strategy_label=pl.col("strategy").replace_strict(
                          {k: v.format(pct=pct) for k, v in STRATEGIES.items()}))
        .sort("strategy", "code")
    )
    overall = long.group_by("strategy").agg(
        selection_rate=pl.col("flag").mean(),
        tpr=(pl.col("y") & pl.col("flag")).sum() / pl.col("y").sum(),
        fpr=(~pl.col("y") & pl.col("flag")).sum() / (~pl.col("y")).sum(),
        found=(pl.col("y") & pl.col("flag")).sum().cast(pl.Int64),
        missed=(pl.col("y") & ~pl.col("flag")).sum().cast(pl.Int64),
        flagged=pl.col("flag").sum().cast(pl.Int64),
    ).with_columns(balanced_accuracy=(pl.col("tpr") + 1 - pl.col("fpr")) / 2)
    order = {k: i for i, k in enumerate(STRATEGIES)}
    summary = overall.with_columns(
        strategy_label=pl.col("strategy").replace_strict({k: v.format(pct=pct) for k, v in STRATEGIES.items()}),
        order=pl.col("strategy").replace_strict(order, return_dtype=pl.Int64),
    ).sort("order").drop("order")
    return summary, by_group.drop("code")
