"""Mitigation: equal opportunity by post-processing and by reductions, and what it costs."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import ErrorRate, ExponentiatedGradient, TruePositiveRateParity
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from healthgap.config import Dimension
from healthgap.fairness._audit import DEFAULT_N_BOOT
from healthgap.fairness._groups import Grouping, groupings
from healthgap.fairness._multiplicity import replicate_weights
from healthgap.models import ModelResult
from healthgap.stats import percentile_interval

__all__ = [
    "Mitigation",
    "mitigate",
    "STRATEGIES",
    "MITIGATION_COUNTS",
    "MITIGATION_GROUP_COUNTS",
    "MITIGATION_GROUP_DERIVED",
    "NotMitigable",
    "TOO_FEW_GROUPS",
]

#: Strategies compared, in display order.
STRATEGIES: dict[str, str] = {
    "capacity": "Unmitigated, top {pct} of risk",
    "balanced": "Unmitigated, balanced-accuracy threshold",
    "threshold_optimizer": "ThresholdOptimizer (equal opportunity)",
    "exponentiated_gradient": "ExponentiatedGradient (equal opportunity)",
}
#: Count columns of :attr:`Mitigation.overall` (published with ``by=["strategy"]``).
MITIGATION_COUNTS: tuple[str, ...] = ("people", "cases", "found", "missed", "flagged")
#: Count columns of :attr:`Mitigation.by_group` and the rates derived from each.
MITIGATION_GROUP_COUNTS: tuple[str, ...] = ("n", "cases", "found", "flagged")
MITIGATION_GROUP_DERIVED: dict[str, list[str]] = {
    "cases": ["tpr"],
    "n": ["selection_rate"],
    "found": ["tpr"],
    "flagged": ["selection_rate"],
}
#: Baseline the other strategies' gaps are compared with (``gap_change``).
BASELINE = "balanced"
METHOD = (
    "percentile bootstrap of the test set, {n} replicates (seed {seed}); the gap is between the groups "
    "with the highest and lowest published true positive rate, and its change from the unmitigated model "
    "is paired (the same replicates)"
)
NO_DIMENSION = (
    "mitigate: dimension {name!r} is not available for mitigation ({why}). Fix: choose one of {options}."
)
#: Why a dimension cannot be mitigated across when too few of its groups can be fitted.
TOO_FEW_GROUPS = (
    "fewer than two of its groups have people both with and without the outcome in the training set "
    "(and in the sample ExponentiatedGradient is fitted on)"
)
#: The key of people whose group is not recorded (a group of its own when fitting).
MISSING = "missing"


class NotMitigable(ValueError):
    """A dimension the mitigations cannot be fitted across; ``why`` says why, in words."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


@dataclass(frozen=True, eq=False)
class Mitigation:
    """Result of :func:`mitigate`: exact aggregates, for the page to publish once.

    The page publishes :attr:`by_group` first (``counts=MITIGATION_GROUP_COUNTS,
    derived=MITIGATION_GROUP_DERIVED, by=["strategy"], recompute=Mitigation.group_rates``),
    keeps the groups whose size is published, then publishes :attr:`overall`
    (``counts=MITIGATION_COUNTS, by=["strategy"], derived={}``) with
    ``recompute=lambda f: m.summary(f, groups=published_groups)``: the rates from
    the published counts, the largest gap between published groups and the
    bootstrap intervals.

    Attributes
    ----------
    dimension, dimension_label : the equity dimension whose true positive rates are equalised.
    overall : one row per strategy (display order): people, cases, found, missed and flagged in
        the test set (exact) with the rates of :meth:`rates`.
    by_group : per strategy and group: people, cases, found and flagged (exact), with the
        true positive rate and selection rate of :meth:`group_rates`.
    sample : training people used by ExponentiatedGradient; ``seed`` its seed and random_state.
    test_size : people in the test set.
    n_boot, confidence : bootstrap replicates and interval level of :meth:`summary`.
    decisions, y_test, grouping : each strategy's decisions on the test set, the outcome and
        the groups, from which :meth:`summary` bootstraps its intervals.
    left_out : labels of the groups left out of the mitigation and of every comparison, because
        the training set (or the sample ExponentiatedGradient is fitted on) has nobody with, or
        nobody without, the outcome in them: fairlearn cannot equalise a rate it cannot estimate.
    """

    dimension: str
    dimension_label: str
    overall: pl.DataFrame = field(repr=False)
    by_group: pl.DataFrame = field(repr=False)
    sample: int
    seed: int
    test_size: int
    n_boot: int
    confidence: float
    decisions: dict[str, np.ndarray] = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    grouping: Grouping = field(repr=False)
    left_out: tuple[str, ...] = ()

    @staticmethod
    def rates(counts: pl.DataFrame) -> pl.DataFrame:
        """Per strategy: missed cases, selection rate, TPR, FPR and balanced accuracy from the counts given."""
        return counts.with_columns(
            missed=pl.col("cases") - pl.col("found"),
            selection_rate=pl.col("flagged") / pl.col("people"),
            tpr=pl.col("found") / pl.col("cases"),
            fpr=(pl.col("flagged") - pl.col("found")) / (pl.col("people") - pl.col("cases")),
        ).with_columns(balanced_accuracy=(pl.col("tpr") + 1 - pl.col("fpr")) / 2)

    @staticmethod
    def group_rates(counts: pl.DataFrame) -> pl.DataFrame:
        """Per strategy and group: true positive rate and selection rate from the counts given."""
        return counts.with_columns(
            tpr=pl.when(pl.col("cases") > 0).then(pl.col("found") / pl.col("cases")),
            selection_rate=pl.col("flagged") / pl.col("n"),
        )

    def summary(self, counts: pl.DataFrame, *, groups: pl.DataFrame) -> pl.DataFrame:
        """One row per strategy: the rates of ``counts``, the largest gap between ``groups``, intervals.

        Parameters
        ----------
        counts : :attr:`overall` with its counts as they will be published.
        groups : :attr:`by_group` as published, without the groups whose size is suppressed;
            a gap needs two groups with a published true positive rate.

        Returns
        -------
        pl.DataFrame
            :meth:`rates` plus the largest between-group TPR difference, the groups involved
            and how many were compared, its change from the unmitigated model at the
            balanced-accuracy threshold (``gap_change``, negative when narrower), and bootstrap
            intervals (``*_lower_ci``, ``*_upper_ci``) for balanced accuracy, the gap and its change.
        """
        spread = (
            groups.filter(pl.col("tpr").is_not_null())
            .group_by("strategy")
            .agg(
                tpr_difference=pl.col("tpr").max() - pl.col("tpr").min(),
                highest_group=pl.col("group_label").sort_by("tpr").last(),
                lowest_group=pl.col("group_label").sort_by("tpr").first(),
                groups_compared=pl.len(),
            )
            .with_columns(
                pl.when(pl.col("groups_compared") >= 2).then(pl.col(c)).alias(c)
                for c in ("tpr_difference", "highest_group", "lowest_group")
            )
        )
        overall = self.rates(counts).join(spread, on="strategy", how="left", maintain_order="left")
        intervals = _intervals(
            self.decisions,
            self.y_test,
            self.grouping,
            overall,
            n_boot=self.n_boot,
            seed=self.seed,
            confidence=self.confidence,
        )
        return overall.join(intervals, on="strategy", how="left", maintain_order="left")


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
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
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

    Randomised predictions use ``random_state=seed``. All metrics are on the test set. The
    result holds exact counts: the page publishes them once (see :class:`Mitigation`), and
    :meth:`Mitigation.summary` then adds percentile bootstrap intervals (``n_boot``
    replicates of the test set, seeded; the decisions are held fixed): balanced accuracy, the
    gap in true positive rate between the groups with the highest and lowest published rate,
    and the change in that gap from the unmitigated model, paired on the same replicates so
    that chance differences between test sets cancel.

    References
    ----------
    .. [1] Hardt M, Price E, Srebro N. Equality of opportunity in supervised learning. NeurIPS 2016.
    .. [2] Agarwal A, et al. A reductions approach to fair classification. ICML 2018.
    .. [3] Weerts H, et al. Fairlearn: assessing and improving fairness of AI systems. JMLR 2023.
    .. [4] Efron B, Tibshirani RJ. An Introduction to the Bootstrap, ch. 13. Chapman & Hall, 1993.
    """
    settings = result.settings
    seed = settings.seed if seed is None else seed
    sample = settings.mitigation_sample if sample is None else sample
    fraction = settings.top_fraction if top_fraction is None else top_fraction
    found, skipped = groupings(result.groups_test, [dimension, *dimensions], intersections=())
    test_groups = next((g for g in found if g.name == dimension.name), None)
    if test_groups is None:
        why = next((w for d, w in skipped if d == dimension.label), "not usable")
        raise NotMitigable(
            NO_DIMENSION.format(
                name=dimension.name, why=why, options=", ".join(g.name for g in found) or "none"
            ),
            why,
        )
    train_keys = result.groups_train.get_column(dimension.name).cast(pl.String).fill_null(MISSING).to_numpy()
    test_keys = result.groups_test.get_column(dimension.name).cast(pl.String).fill_null(MISSING).to_numpy()
    y_tr, y_te = result.y_train, result.y_test
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(y_tr.shape[0], size=min(sample, y_tr.shape[0]), replace=False))
    usable = _fittable(train_keys, y_tr) & _fittable(train_keys[rows], y_tr[rows])
    if len(usable - {MISSING}) < 2:
        raise NotMitigable(
            NO_DIMENSION.format(
                name=dimension.name, why=TOO_FEW_GROUPS, options=", ".join(g.name for g in found) or "none"
            ),
            TOO_FEW_GROUPS,
        )
    left_out = tuple(
        label
        for level, label in zip(test_groups.levels, test_groups.labels, strict=True)
        if level not in usable
    )
    test_groups = _restrict(test_groups, usable)
    fit_rows = np.isin(train_keys, list(usable))
    test_rows = np.isin(test_keys, list(usable))
    rows = rows[fit_rows[rows]]
    p_tr, p_te = result.risk_train["boosted"], result.risk_test["boosted"]
    # the optimiser scores people with the booster's predictions already made (row numbers in,
    # the stored risks out): the training people are rows 0.., the test people follow them
    known = _KnownRisks(np.concatenate([p_tr, p_te]))
    train_at = np.arange(p_tr.shape[0])[:, None]
    test_at = p_tr.shape[0] + np.arange(p_te.shape[0])[:, None]
    decisions: dict[str, np.ndarray] = {
        "capacity": p_te >= result.threshold("boosted", top_fraction=fraction),
        "balanced": p_te >= _balanced_threshold(y_tr, p_tr),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimizer = ThresholdOptimizer(
            estimator=known,
            constraints="true_positive_rate_parity",
            objective="balanced_accuracy_score",
            prefit=True,
            predict_method="predict_proba",
        )
        optimizer.fit(train_at[fit_rows], y_tr[fit_rows], sensitive_features=train_keys[fit_rows])
        optimized = np.zeros(y_te.shape[0], dtype=bool)
        optimized[test_rows] = optimizer.predict(
            test_at[test_rows], sensitive_features=test_keys[test_rows], random_state=seed
        ).astype(bool)
        decisions["threshold_optimizer"] = optimized
        prepare = result.models["logistic"].named_steps["prepare"]
        prevalence = float(y_tr[rows].mean())
        reduction = ExponentiatedGradient(
            LogisticRegression(max_iter=500),
            constraints=TruePositiveRateParity(),
            objective=ErrorRate(costs={"fp": prevalence, "fn": 1 - prevalence}),
        )
        reduction.fit(
            prepare.transform(result.X_train[rows]),
            y_tr[rows].astype(int),
            sensitive_features=train_keys[rows],
        )
        decisions["exponentiated_gradient"] = reduction.predict(
            prepare.transform(result.X_test), random_state=seed
        ).astype(bool)
    overall, by_group = _compare(decisions, y_te, test_groups.codes, test_groups, fraction)
    return Mitigation(
        dimension=dimension.name,
        dimension_label=dimension.label,
        overall=Mitigation.rates(overall),
        by_group=Mitigation.group_rates(by_group.with_columns(dimension=pl.lit(dimension.name))),
        sample=int(rows.shape[0]),
        seed=seed,
        test_size=int(y_te.shape[0]),
        n_boot=n_boot,
        confidence=confidence,
        decisions=decisions,
        y_test=y_te,
        grouping=test_groups,
        left_out=left_out,
    )


class _KnownRisks(ClassifierMixin, BaseEstimator):
    """The fitted gradient-boosted model as ThresholdOptimizer sees it, without predicting again.

    Its input is one column of row numbers into ``risks`` (the model's predicted risks of the
    training people, then of the test people, as :func:`~healthgap.models.fit` computed them:
    each person's prediction depends only on their own features), and ``predict_proba`` gives
    those risks back: the same scores, bit for bit, as asking the model again.
    """

    def __init__(self, risks: np.ndarray | None = None) -> None:
        self.risks = risks

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> _KnownRisks:
        """Nothing to fit: the risks are known (ThresholdOptimizer is given it with ``prefit=True``)."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return self.risks is not None

    @property
    def classes_(self) -> np.ndarray:
        return np.array([False, True])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        assert self.risks is not None
        risk = self.risks[np.asarray(X)[:, 0].astype(np.int64)]
        return np.column_stack([1 - risk, risk])


def _fittable(keys: np.ndarray, y: np.ndarray) -> set[str]:
    """The group keys with at least one person with the outcome and one without."""
    frame = pl.DataFrame({"key": keys.astype(str), "y": np.asarray(y, bool)})
    both = frame.group_by("key").agg(pl.col("y").any().alias("pos"), (~pl.col("y")).any().alias("neg"))
    return set(both.filter(pl.col("pos") & pl.col("neg")).get_column("key").to_list())


def _restrict(g: Grouping, keep: set[str]) -> Grouping:
    """``g`` with only the levels in ``keep``; people in the others get code -1 (left out)."""
    kept = [i for i, level in enumerate(g.levels) if level in keep]
    if len(kept) == g.k:
        return g
    remap = np.full(g.k, -1)
    remap[kept] = np.arange(len(kept))
    codes = np.where(g.codes >= 0, remap[np.maximum(g.codes, 0)], -1)
    return Grouping(
        name=g.name,
        label=g.label,
        columns=g.columns,
        levels=tuple(g.levels[i] for i in kept),
        labels=tuple(g.labels[i] for i in kept),
        codes=codes,
    )


def _compare(
    decisions: dict[str, np.ndarray], y: np.ndarray, codes: np.ndarray, g: Grouping, fraction: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    pct = f"{fraction:.0%}"
    frame = pl.DataFrame({"code": codes, "y": y, **{k: v for k, v in decisions.items()}}).filter(
        pl.col("code") >= 0
    )
    long = frame.unpivot(index=["code", "y"], on=list(decisions), variable_name="strategy", value_name="flag")
    by_group = (
        long.group_by("strategy", "code")
        .agg(
            n=pl.len().cast(pl.Int64),
            cases=pl.col("y").sum().cast(pl.Int64),
            found=(pl.col("y") & pl.col("flag")).sum().cast(pl.Int64),
            flagged=pl.col("flag").sum().cast(pl.Int64),
        )
        .with_columns(
            group=pl.col("code").replace_strict(list(range(g.k)), list(g.levels)),
            group_label=pl.col("code").replace_strict(list(range(g.k)), list(g.labels)),
            strategy_label=pl.col("strategy").replace_strict(
                {k: v.format(pct=pct) for k, v in STRATEGIES.items()}
            ),
        )
        .sort("strategy", "code")
    )
    overall = long.group_by("strategy").agg(
        people=pl.len().cast(pl.Int64),
        cases=pl.col("y").sum().cast(pl.Int64),
        found=(pl.col("y") & pl.col("flag")).sum().cast(pl.Int64),
        flagged=pl.col("flag").sum().cast(pl.Int64),
    )
    order = {k: i for i, k in enumerate(STRATEGIES)}
    summary = (
        overall.with_columns(
            strategy_label=pl.col("strategy").replace_strict(
                {k: v.format(pct=pct) for k, v in STRATEGIES.items()}
            ),
            order=pl.col("strategy").replace_strict(order, return_dtype=pl.Int64),
        )
        .sort("order")
        .drop("order")
    )
    return summary, by_group.drop("code")


def _intervals(
    decisions: dict[str, np.ndarray],
    y: np.ndarray,
    g: Grouping,
    overall: pl.DataFrame,
    *,
    n_boot: int,
    seed: int,
    confidence: float,
) -> pl.DataFrame:
    """Bootstrap intervals of balanced accuracy, the TPR gap and its change from the baseline.

    One sparse matrix ``Q`` (people x quantities) holds, for every strategy, the people
    with the outcome in each group and those of them flagged, and overall the true and
    false positives; each chunk of replicate weights ``W`` gives every sum at once as
    ``W @ Q``.
    """
    names, k = list(decisions), g.k
    keep = g.codes >= 0
    group = np.where(keep, g.codes, 0)
    yk = np.asarray(y, bool)
    cols, data, idx = [], [], []

    def add(mask: np.ndarray, column: np.ndarray | int) -> None:
        people = np.flatnonzero(mask)
        idx.append(people)
        cols.append(
            np.broadcast_to(column, people.shape)
            if isinstance(column, (int, np.integer))
            else np.asarray(column)[mask]
        )
        data.append(np.ones(people.shape[0]))

    # columns: 0..k-1 cases per group; k, k+1 positives and negatives; then per strategy s at
    # base = k + 2 + s * (k + 2): found per group (base + group), true and false positives
    # only people in a compared group count, as in the point estimates (:func:`_compare`)
    add(keep & yk, group)
    add(keep & yk, k)
    add(keep & ~yk, k + 1)
    for i, name in enumerate(names):
        base, flag = k + 2 + i * (k + 2), np.asarray(decisions[name], bool)
        add(keep & yk & flag, base + group)
        add(keep & yk & flag, base + k)
        add(keep & ~yk & flag, base + k + 1)
    width = k + 2 + len(names) * (k + 2)
    Q = sparse.csc_matrix(
        (np.concatenate(data), (np.concatenate(idx), np.concatenate(cols).astype(np.int64))),
        shape=(yk.shape[0], width),
    )
    position = {label: j for j, label in enumerate(g.labels)}
    ends = {
        r["strategy"]: (position.get(r["highest_group"]), position.get(r["lowest_group"]))
        for r in overall.iter_rows(named=True)
    }
    accuracy, gaps = [], []
    # the audit's replicates (the same matrices, column-major, kept when the same people, replicates
    # and seed were resampled last: not drawn again)
    for W in replicate_weights(yk.shape[0], n_boot=n_boot, seed=seed):
        sums = np.asarray(Q.T @ W.T).T  # (replicates, width)
        cases, pos, neg = sums[:, :k], sums[:, k], sums[:, k + 1]
        ba, gap = [], []
        for i, name in enumerate(names):
            base = k + 2 + i * (k + 2)
            with np.errstate(invalid="ignore", divide="ignore"):
                tpr = sums[:, base : base + k] / cases
                ba.append((sums[:, base + k] / pos + 1 - sums[:, base + k + 1] / neg) / 2)
            top, bottom = ends.get(name, (None, None))
            gap.append(
                tpr[:, top] - tpr[:, bottom] if None not in (top, bottom) else np.full(W.shape[0], np.nan)
            )
        accuracy.append(np.stack(ba, axis=1))
        gaps.append(np.stack(gap, axis=1))
    A, G = np.concatenate(accuracy), np.concatenate(gaps)  # (n_boot, strategies)
    C = G - G[:, [names.index(BASELINE)]] if BASELINE in names else np.full_like(G, np.nan)
    if BASELINE in names:  # the baseline is the reference: no change to estimate
        C[:, names.index(BASELINE)] = np.nan
    (alo, ahi), (glo, ghi), (clo, chi) = (percentile_interval(R, confidence) for R in (A, G, C))
    spread = dict(zip(overall["strategy"], overall["tpr_difference"], strict=True))
    base_gap = spread.get(BASELINE)
    change = [
        None if spread.get(n) is None or base_gap is None or n == BASELINE else spread[n] - base_gap
        for n in names
    ]
    nan = lambda v: None if v is None or not np.isfinite(v) else float(v)  # noqa: E731
    return pl.DataFrame(
        {
            "strategy": names,
            "balanced_accuracy_lower_ci": [nan(v) for v in alo],
            "balanced_accuracy_upper_ci": [nan(v) for v in ahi],
            "tpr_difference_lower_ci": [nan(v) for v in glo],
            "tpr_difference_upper_ci": [nan(v) for v in ghi],
            "gap_change": change,
            "gap_change_lower_ci": [nan(v) for v in clo],
            "gap_change_upper_ci": [nan(v) for v in chi],
            "confidence": [confidence] * len(names),
            "method": [METHOD.format(n=n_boot, seed=seed)] * len(names),
        },
        schema_overrides={"gap_change": pl.Float64},
    )
