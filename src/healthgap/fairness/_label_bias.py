"""Label bias: auditing a model trained on recorded diagnoses against the truth.

A model trained to predict a *recorded* condition learns who gets diagnosed,
not who is ill. Where diagnosis is less complete (more deprived areas), the
model finds fewer of the people who truly have the condition. Only data that
carries the true status (``true_<condition>``: synthetic or linked research
data) can show this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from healthgap.config import Dimension, ModelSettings
from healthgap.contract import CONDITIONS, TREATMENTS, TRUTH_PREFIX, truth_column
from healthgap.fairness._groups import groupings
from healthgap.models import ModelResult, fit_cached
from healthgap.stats import wilson_interval

__all__ = [
    "LabelBias",
    "choose_condition",
    "label_bias",
    "label_proportions",
    "LABEL_METRICS",
    "LABEL_COUNTS",
    "LABEL_DERIVED",
    "NO_TRUTH",
]

NO_TRUTH = (
    "The data has no true-status column ({column}), so a model trained on recorded diagnoses "
    "cannot be checked against who truly has the condition."
)
NO_CONDITION = (
    "No condition with a true-status column is available; label bias needs true_<condition> "
    "columns (synthetic or linked research data)."
)
NOT_A_CONDITION = "label_bias: {condition!r} is not a condition; expected one of {options}."

#: Proportions reported per group: (numerator, denominator, label).
LABEL_METRICS: dict[str, tuple[str, str, str]] = {
    "recorded": ("recorded", "true_cases", "True cases recorded (diagnosed)"),
    "recall_recorded": ("flagged_recorded", "recorded", "Recorded cases flagged by the model"),
    "recall_true": ("flagged_true", "true_cases", "True cases flagged by the model"),
    "recall_undiagnosed": ("flagged_undiagnosed", "undiagnosed", "Undiagnosed cases flagged by the model"),
}


def choose_condition(
    people: pl.DataFrame | pl.LazyFrame,
    conditions: Sequence[str],
    *,
    dimension: Dimension | None = None,
) -> str | None:
    """The condition whose recording is most unequal between the two ends of ``dimension``,
    among those with true status.

    For each condition with both recorded and true columns, the share of true cases that
    are recorded is compared between the disadvantaged end of the ordered ``dimension``
    (``dimension.disadvantaged``) and the other end; the condition whose recording is
    most incomplete at the disadvantaged end, relative to the other, is returned (the
    first one without a dimension; None if no condition has a true-status column).

    References
    ----------
    .. [1] Public Health England. Hypertension prevalence estimates for local
       populations, 2017 (estimated versus recorded prevalence).
    """
    lf = people.lazy() if isinstance(people, pl.DataFrame) else people
    schema = lf.collect_schema()
    # a condition the config declares (not in the profile) has its true status under the same prefix
    usable = [c for c in conditions if c in schema and f"{TRUTH_PREFIX}{c}" in schema]
    if not usable:
        return None
    if dimension is None or dimension.name not in schema or len(usable) == 1 or len(dimension.order) < 2:
        return usable[0]
    worse, better = dimension.order[0], dimension.order[-1]
    if dimension.disadvantaged == "last":
        worse, better = better, worse
    level = pl.col(dimension.name).cast(pl.String)

    def recorded(c: str, at: str) -> pl.Expr:
        return pl.col(c).filter(pl.col(f"{TRUTH_PREFIX}{c}") & (level == at)).mean()

    gaps = (
        lf.select([(recorded(c, better) - recorded(c, worse)).alias(c) for c in usable])
        .collect()
        .row(0, named=True)
    )
    ranked = sorted(usable, key=lambda c: -(gaps[c] if gaps[c] is not None else -np.inf))
    return ranked[0]


@dataclass(frozen=True, eq=False)
class LabelBias:
    """Result of :func:`label_bias`: exact aggregates, for the page to publish once.

    The page publishes :attr:`groups` (``by=["dimension", "metric"]``) and
    :attr:`overall` (``by=["metric"]``) with ``counts=LABEL_COUNTS,
    derived=LABEL_DERIVED, recompute=label_bias.recompute`` and keeps the rows
    whose ``n`` is published.

    Attributes
    ----------
    condition, condition_label : the condition modelled.
    result : the fitted gradient-boosted model of the recorded condition (no logistic baseline,
        no test-set metrics: ``result.metrics`` is empty).
    threshold, top_fraction : the operating point (top share of predicted risk flagged).
    groups : per grouping, group and metric of :data:`LABEL_METRICS`: the exact counts
        (people ``n``, people truly with the condition ``true_cases``, the metric's
        ``numerator`` and ``denominator``) and the proportion with its Wilson CI.
    overall : the same for the whole test set.
    confidence : the level of the intervals.
    care_features : the model's inputs that record care rather than health (prescriptions,
        which follow a diagnosis), in contract order.
    """

    condition: str
    condition_label: str
    result: ModelResult = field(repr=False)
    threshold: float
    top_fraction: float
    groups: pl.DataFrame = field(repr=False)
    overall: pl.DataFrame = field(repr=False)
    confidence: float = 0.95

    def recompute(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The proportions of ``frame`` from its counts as they will be published (:func:`label_proportions`)."""
        return label_proportions(frame, confidence=self.confidence)

    @property
    def care_features(self) -> tuple[str, ...]:
        return tuple(t for t in TREATMENTS if t in self.result.features)


#: Count columns of :attr:`LabelBias.groups` and :attr:`LabelBias.overall`, and the values
#: derived from them: how the page publishes them.
LABEL_COUNTS: tuple[str, ...] = ("n", "true_cases", "numerator", "denominator")
LABEL_DERIVED: dict[str, list[str]] = {
    c: ["value", "lower_ci", "upper_ci"] for c in ("numerator", "denominator")
}


def label_proportions(frame: pl.DataFrame, *, confidence: float) -> pl.DataFrame:
    """``value`` and its Wilson interval from ``numerator`` and ``denominator``, as the frame gives them.

    The analysis calls it on the exact counts; the page passes it to
    :func:`healthgap.disclosure.publish` as ``recompute``, which calls it on the
    counts as they will be published (disclosure rule 8).

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
       J Am Stat Assoc 1927;22:209-212.
    """
    lo, hi = wilson_interval(frame["numerator"].to_numpy(), frame["denominator"].to_numpy(), confidence)
    return frame.with_columns(
        value=pl.when(pl.col("denominator") > 0).then(pl.col("numerator") / pl.col("denominator")),
        lower_ci=pl.Series(lo, dtype=pl.Float64).fill_nan(None),
        upper_ci=pl.Series(hi, dtype=pl.Float64).fill_nan(None),
    )


def _proportions(frame: pl.DataFrame, by: list[str], confidence: float) -> pl.DataFrame:
    """Each metric of :data:`LABEL_METRICS` per group from the exact counts, with Wilson intervals."""
    counts = frame.group_by(by).agg(
        n=pl.len().cast(pl.Int64),
        true_cases=pl.col("true").sum().cast(pl.Int64),
        recorded=(pl.col("true") & pl.col("recorded")).sum().cast(pl.Int64),
        undiagnosed=(pl.col("true") & ~pl.col("recorded")).sum().cast(pl.Int64),
        flagged_true=(pl.col("true") & pl.col("flagged")).sum().cast(pl.Int64),
        flagged_recorded=(pl.col("recorded") & pl.col("flagged")).sum().cast(pl.Int64),
        flagged_undiagnosed=(pl.col("true") & ~pl.col("recorded") & pl.col("flagged")).sum().cast(pl.Int64),
    )
    parts = [
        counts.select(
            *by,
            "n",
            "true_cases",
            metric=pl.lit(name),
            statistic=pl.lit(label),
            numerator=pl.col(num),
            denominator=pl.col(den),
        )
        for name, (num, den, label) in LABEL_METRICS.items()
    ]
    long = pl.concat(parts).with_columns(value=None, lower_ci=None, upper_ci=None)
    return label_proportions(long, confidence=confidence).with_columns(
        confidence=pl.lit(confidence),
        method=pl.lit("Wilson score interval"),
        note=pl.lit(None, dtype=pl.String),
    )


def label_bias(
    people: pl.DataFrame | pl.LazyFrame,
    *,
    condition: str,
    settings: ModelSettings,
    dimensions: Sequence[Dimension],
    top_fraction: float | None = None,
    confidence: float = 0.95,
    cache: bool = True,
    labels: Mapping[str, str] | None = None,
    group_columns: Sequence[str] = (),
) -> LabelBias:
    """Fit a model of the *recorded* ``condition`` and audit it against the *true* condition.

    The model uses the configured features (minus the condition itself), as a model
    built from health records would: prescriptions among them (:data:`~healthgap.contract.
    TREATMENTS`) follow a diagnosis, and are one way such a model learns who is already
    known to services (:attr:`LabelBias.care_features` lists them). It uses
    the same split, seed and operating point (the top ``top_fraction`` of
    predicted risk) as the main model. Per equity group it reports: the share
    of true cases that are recorded, and the shares of recorded, true and
    undiagnosed cases that the model flags, with a Wilson interval. Counts are exact:
    the page publishes them once (see :class:`LabelBias`), recomputing the
    proportions from the published counts.

    Raises
    ------
    ValueError
        ``condition`` is not a condition or the data has no true-status column for it.

    References
    ----------
    .. [1] Obermeyer Z, et al. Dissecting racial bias in an algorithm used to manage the health
       of populations. Science 2019;366:447-53 (label choice bias).
    .. [2] Jain A, et al. Awareness of racial and ethnic bias and potential solutions to address
       bias with use of health care algorithms. JAMA Health Forum 2023;4:e231197.
    """
    if condition not in CONDITIONS:
        raise ValueError(NOT_A_CONDITION.format(condition=condition, options=", ".join(CONDITIONS)))
    lf = people.lazy() if isinstance(people, pl.DataFrame) else people
    truth = truth_column(condition)
    if truth not in lf.collect_schema():
        raise ValueError(NO_TRUTH.format(column=truth))
    model_settings = replace(
        settings, target=condition, features=tuple(f for f in settings.features if f != condition)
    )
    # only the booster's predictions are audited: no baseline, no test-set metrics
    options: dict = {
        "labels": dict(labels or {}),
        "groups": tuple(group_columns),
        "learners": ("boosted",),
        "evaluate": False,
    }
    if cache:
        result = fit_cached(lf, settings=model_settings, **options)
    else:
        from healthgap.models import fit

        result = fit(lf, settings=model_settings, **options)
    fraction = settings.top_fraction if top_fraction is None else top_fraction
    threshold = result.threshold("boosted", top_fraction=fraction)
    frame = result.groups_test.with_columns(
        true=pl.col(truth).fill_null(False),
        recorded=pl.Series(result.y_test),
        flagged=pl.Series(result.risk_test["boosted"] >= threshold),
    )
    found, _ = groupings(frame, dimensions, intersections=())
    parts = []
    for g in found:
        keyed = frame.with_columns(
            group=pl.Series(np.asarray(g.levels, dtype=object)[np.maximum(g.codes, 0)].tolist()),
            group_label=pl.Series(np.asarray(g.labels, dtype=object)[np.maximum(g.codes, 0)].tolist()),
            order=pl.Series(np.maximum(g.codes, 0)),
        ).filter(pl.Series(g.codes >= 0))
        parts.append(
            _proportions(keyed, ["group", "group_label", "order"], confidence).with_columns(
                dimension=pl.lit(g.name), dimension_label=pl.lit(g.label)
            )
        )
    groups = pl.concat(parts).sort("dimension", "metric", "order") if parts else pl.DataFrame()
    overall = _proportions(frame.with_columns(group=pl.lit("All")), ["group"], confidence)
    return LabelBias(
        condition=condition,
        condition_label=result.label(condition),
        result=result,
        threshold=threshold,
        top_fraction=fraction,
        groups=groups,
        overall=overall,
        confidence=confidence,
    )
