"""The fairness audit: performance of one model per equity group, with CIs and gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from healthgap.config import Dimension
from healthgap.fairness._groupboot import GROUP_METRICS, group_metrics, prepare
from healthgap.fairness._groups import DEFAULT_INTERSECTIONS, Grouping, groupings
from healthgap.fairness._multiplicity import replicate_weights
from healthgap.fairness._published import (
    EXACT_METHOD,
    RATIO_METRICS,
    mover_ratio,
    newcombe_difference,
    proportions,
)
from healthgap.models import MODEL_LABELS, ModelResult
from healthgap.stats import percentile_interval

__all__ = [
    "FairnessAudit",
    "GroupReplicates",
    "audit",
    "DEFAULT_N_BOOT",
    "AUROC_DECIMALS",
    "MEAN_RISK_FIGURES",
    "AUDIT_COUNTS",
    "AUDIT_DERIVED",
    "AUDIT_BY",
]

#: Decimal places of the groups' published AUROC (and its interval): at full precision an AUROC,
#: U / (cases x non-cases), gives a small group's exact counts back.
AUROC_DECIMALS = 2
#: Significant figures of the groups' published mean predicted risk (and its interval): at full
#: precision, beside the sum of predicted risks, their ratio is the group's exact size.
MEAN_RISK_FIGURES = 3
#: How the page publishes :attr:`FairnessAudit.groups`: the count columns, the values derived
#: from them (suppressed with them) and the columns whose rows are independent tables.
AUDIT_COUNTS: tuple[str, ...] = ("n", "numerator", "denominator")
AUDIT_DERIVED: dict[str, list[str]] = {
    c: ["value", "lower_ci", "upper_ci"] for c in ("numerator", "denominator")
}
AUDIT_BY: tuple[str, ...] = ("dimension", "metric")
#: Bootstrap replicates for the audit's confidence intervals.
DEFAULT_N_BOOT = 200
METHOD = "counts per group; percentile bootstrap of the test set, {n} replicates (seed {seed})"
DIFF_METHOD = (
    "highest minus lowest published group (ratio: lowest / highest); the two groups are fixed "
    "from the point estimates and their difference bootstrapped, {n} replicates"
)
DIFF_METHOD_WILSON = (
    "highest minus lowest published group (ratio: lowest / highest), from the published counts: "
    "Newcombe's hybrid score interval for the difference, MOVER-R for the ratio"
)


_DIFFERENCES_SCHEMA: dict[str, pl.DataType] = {
    "dimension": pl.String(),
    "dimension_label": pl.String(),
    "metric": pl.String(),
    "statistic": pl.String(),
    "highest_group": pl.String(),
    "highest": pl.Float64(),
    "lowest_group": pl.String(),
    "lowest": pl.Float64(),
    "difference": pl.Float64(),
    "difference_lower_ci": pl.Float64(),
    "difference_upper_ci": pl.Float64(),
    "ratio": pl.Float64(),
    "ratio_lower_ci": pl.Float64(),
    "ratio_upper_ci": pl.Float64(),
    "groups": pl.Int64(),
    "confidence": pl.Float64(),
    "method": pl.String(),
}
_DIFFERENCES_EMPTY = pl.DataFrame(schema=_DIFFERENCES_SCHEMA)


@dataclass(frozen=True, eq=False)
class GroupReplicates:
    """The bootstrap replicates of one grouping's metrics, for the gaps between its groups."""

    name: str
    label: str
    labels: tuple[str, ...]
    #: Shape (replicates, groups, metrics), metrics in :data:`GROUP_METRICS` order.
    replicates: np.ndarray = field(repr=False)


@dataclass(frozen=True, eq=False)
class FairnessAudit:
    """Result of :func:`audit`: exact aggregates, for the page to publish once.

    The page publishes :attr:`groups` with :func:`healthgap.disclosure.publish`
    (``counts=AUDIT_COUNTS, derived=AUDIT_DERIVED, by=AUDIT_BY``,
    ``recompute=audit.recompute``), keeps the groups whose size is published and
    passes them to :meth:`differences`, which compares only published groups.

    Attributes
    ----------
    groups : one row per grouping x group x metric, every group, with exact counts
        (``n``, ``numerator``, ``denominator``), the point estimate and its interval
        (proportions of people: Wilson, from the exact counts; others: bootstrap).
    replicates : per grouping, the bootstrap replicates behind the other metrics' gaps.
    skipped : (dimension label, reason) for dimensions that could not be audited.
    threshold : the risk cut-off; ``top_fraction`` the share of people it flags.
    n_boot, confidence : bootstrap replicates and interval level.
    """

    model: str
    target_label: str
    threshold: float
    top_fraction: float
    groups: pl.DataFrame = field(repr=False)
    replicates: tuple[GroupReplicates, ...] = field(repr=False)
    skipped: tuple[tuple[str, str], ...]
    n_boot: int
    confidence: float = 0.95

    def recompute(self, frame: pl.DataFrame) -> pl.DataFrame:
        """:attr:`groups` with the counts rounded as they will be published -> its published statistics.

        Proportions of people are recomputed from the rounded counts, with Wilson
        intervals (disclosure rule 8); AUROC and its interval are rounded to
        :data:`AUROC_DECIMALS` places, because at full precision an AUROC,
        U / (cases x non-cases), gives a small group's exact counts back; the mean
        predicted risk and its interval to :data:`MEAN_RISK_FIGURES` significant figures
        (beside the sum of predicted risks it gave the group's exact size). Pass it
        to :func:`healthgap.disclosure.publish` as ``recompute``.
        """
        return proportions(frame, confidence=self.confidence).with_columns(
            pl.when(pl.col("metric") == "auroc")
            .then(pl.col(c).round(AUROC_DECIMALS))
            .when(pl.col("metric") == "mean_predicted")
            .then(pl.col(c).round_sig_figs(MEAN_RISK_FIGURES))
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("value", "lower_ci", "upper_ci")
        )

    def differences(self, published: pl.DataFrame) -> pl.DataFrame:
        """Per grouping and metric, the largest gap between two *published* groups.

        Parameters
        ----------
        published : the published :attr:`groups` (after :func:`healthgap.disclosure.publish`),
            without the groups whose size is suppressed; only rows with a value are compared.

        Returns
        -------
        pl.DataFrame
            Highest and lowest group, their difference and ratio (lowest / highest) with
            intervals: proportions from the two groups' published Wilson intervals
            (Newcombe, MOVER-R), other metrics from the bootstrap replicates.
        """
        frames = [_DIFFERENCES_EMPTY]
        for g in self.replicates:
            rows = published.filter((pl.col("dimension") == g.name) & pl.col("value").is_not_null())
            shown = np.full((3, len(g.labels), len(GROUP_METRICS)), np.nan)  # value, lower, upper
            at = rows["order"].to_numpy(), rows["metric_order"].to_numpy()
            for i, c in enumerate(("value", "lower_ci", "upper_ci")):
                shown[i][at] = rows[c].fill_null(np.nan).to_numpy()
            frames.append(_differences(g, shown, self.n_boot, self.confidence))
        return pl.concat(frames)


def _counts(point: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group x metric: group size, numerator and denominator (people), for disclosure.

    ``point`` is one row of :func:`~healthgap.fairness._groupboot.group_metrics` (unit
    weights): shape ``(groups, 10)``, the metrics then the group size, positives and selected.
    """
    n, pos, sel = point[:, 7], point[:, 8], point[:, 9]  # sums: never NaN
    tp = np.rint(np.nan_to_num(point[:, 3]) * pos)  # the true positive rate is NaN without cases
    fp = sel - tp
    num = {
        "prevalence": pos,
        "mean_predicted": n,
        "selection_rate": sel,
        "tpr": tp,
        "fpr": fp,
        "ppv": tp,
        "auroc": np.minimum(pos, n - pos),
    }
    den = {
        "prevalence": n,
        "mean_predicted": n,
        "selection_rate": n,
        "tpr": pos,
        "fpr": n - pos,
        "ppv": sel,
        "auroc": n,
    }
    m = list(GROUP_METRICS)
    return (
        np.repeat(n[:, None], len(m), axis=1),
        np.stack([num[x] for x in m], axis=1),
        np.stack([den[x] for x in m], axis=1),
    )


def _long(
    g: Grouping, point: np.ndarray, lo: np.ndarray, hi: np.ndarray, method: str, confidence: float
) -> pl.DataFrame:
    names = list(GROUP_METRICS)
    k, m = g.k, len(names)
    n, num, den = _counts(point)
    return pl.DataFrame(
        {
            "dimension": [g.name] * (k * m),
            "dimension_label": [g.label] * (k * m),
            "group": np.repeat(np.asarray(g.levels, dtype=object), m).tolist(),
            "group_label": np.repeat(np.asarray(g.labels, dtype=object), m).tolist(),
            "order": np.repeat(np.arange(k), m),
            "metric_order": np.tile(np.arange(m), k),
            "n": n.ravel().astype(np.int64),
            "metric": names * k,
            "statistic": [GROUP_METRICS[x] for x in names] * k,
            "numerator": num.ravel().astype(np.int64),
            "denominator": den.ravel().astype(np.int64),
            "value": np.where(den > 0, point[:, :m], np.nan).ravel(),
            "lower_ci": lo.ravel(),
            "upper_ci": hi.ravel(),
            "confidence": [confidence] * (k * m),
            "method": [method] * (k * m),
        }
    ).with_columns(pl.col("value", "lower_ci", "upper_ci").fill_nan(None))


def audit(
    result: ModelResult,
    *,
    dimensions: Sequence[Dimension],
    model: str = "boosted",
    top_fraction: float | None = None,
    intersections: Sequence[Sequence[str]] = DEFAULT_INTERSECTIONS,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 2024,
    confidence: float = 0.95,
) -> FairnessAudit:
    """Audit a fitted model across equity groups on the test set.

    Per group: size, prevalence, mean predicted risk (calibration in the
    group: compare with prevalence), selection rate at the operating threshold,
    true and false positive rates, positive predictive value and AUROC. Point
    estimates are the group's counts and their ratios, and its AUROC as the
    Mann-Whitney statistic U / (cases x non-cases) with ties counted half: the
    bootstrap's own computation with every person weighted once, so it equals
    fairlearn's ``MetricFrame`` with scikit-learn's metrics (``tests/test_models_cheaper.py``
    checks it) without converting the test set row by row. Confidence intervals come from
    a seeded percentile bootstrap of the test set (``n_boot`` replicates,
    vectorised: replicate weights x group indicator matrix); proportions of
    people have Wilson intervals from their counts.

    Every group is returned with its exact counts: nothing here is publishable
    as it is. The page publishes :attr:`FairnessAudit.groups` once (see
    :class:`FairnessAudit`), which removes groups too small to publish, and
    then asks :meth:`FairnessAudit.differences` for the gaps between the
    published groups.

    Parameters
    ----------
    result : a fitted :class:`~healthgap.models.ModelResult`.
    dimensions : the equity dimensions (``config.dimensions``).
    model : ``"boosted"`` or ``"logistic"``.
    top_fraction : the share of people flagged (default ``result.settings.top_fraction``).
    intersections : pairs of dimension names audited jointly.
    n_boot, seed, confidence : bootstrap settings.

    References
    ----------
    .. [1] Hardt M, Price E, Srebro N. Equality of opportunity in supervised learning. NeurIPS 2016.
    .. [2] Obermeyer Z, et al. Dissecting racial bias in an algorithm used to manage the health
       of populations. Science 2019;366:447-53.
    """
    fraction = result.settings.top_fraction if top_fraction is None else top_fraction
    threshold = result.threshold(model, top_fraction=fraction)
    y, p = result.y_test, result.risk_test[model]
    selected = p >= threshold
    groups, skipped = groupings(result.groups_test, dimensions, intersections=intersections)
    data = [prepare(g.codes, g.k, y=y, selected=selected, p=p) for g in groups]
    reps: list[list[np.ndarray]] = [[] for _ in groups]
    for W in replicate_weights(y.shape[0], n_boot=n_boot, seed=seed):
        for i, d in enumerate(data):
            reps[i].append(group_metrics(W, d))
    method = METHOD.format(n=n_boot, seed=seed)
    frames, boots = [], []
    everyone = np.ones((1, y.shape[0]))
    for g, d, r in zip(groups, data, reps, strict=True):
        point = group_metrics(everyone, d)[0]  # (k, 10): every person once
        R = np.concatenate(r)[..., : len(GROUP_METRICS)]  # (B, k, m)
        lo, hi = percentile_interval(R, confidence)
        frames.append(_long(g, point, lo, hi, method, confidence))
        boots.append(GroupReplicates(name=g.name, label=g.label, labels=tuple(g.labels), replicates=R))
    long = pl.concat(frames) if frames else pl.DataFrame()
    if len(long):
        long = proportions(long, confidence=confidence, method=EXACT_METHOD)
    return FairnessAudit(
        model=MODEL_LABELS.get(model, model),
        target_label=result.target_label,
        threshold=threshold,
        top_fraction=fraction,
        groups=long,
        replicates=tuple(boots),
        skipped=tuple(skipped),
        n_boot=n_boot,
        confidence=confidence,
    )


def _differences(g: GroupReplicates, shown: np.ndarray, n_boot: int, confidence: float) -> pl.DataFrame:
    """Largest gap per metric between published groups: proportions from their published
    counts (Newcombe / MOVER-R intervals), other metrics bootstrapped."""
    names, R = list(GROUP_METRICS), g.replicates
    values, lower, upper = shown  # (k, m) each, NaN where not published
    rows = []
    labels = np.asarray(g.labels, dtype=object)
    for j, name in enumerate(names):
        col = values[:, j]
        if np.isfinite(col).sum() < 2:
            continue
        top, bottom = int(np.nanargmax(col)), int(np.nanargmin(col))
        if col[top] == col[bottom]:  # every published group alike: no gap between two groups to show
            continue
        if name in RATIO_METRICS:
            hi_ = (col[top], lower[top, j], upper[top, j])
            lo_ = (col[bottom], lower[bottom, j], upper[bottom, j])
            dlo, dhi = newcombe_difference(*hi_, *lo_)
            rlo, rhi = mover_ratio(*lo_, *hi_)
            method = DIFF_METHOD_WILSON
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                diff_r = R[:, top, j] - R[:, bottom, j]
                ratio_r = R[:, bottom, j] / R[:, top, j]
            dlo, dhi = (float(v) for v in percentile_interval(diff_r, confidence))
            rlo, rhi = (
                float(v)
                for v in percentile_interval(np.where(np.isfinite(ratio_r), ratio_r, np.nan), confidence)
            )
            method = DIFF_METHOD.format(n=n_boot)
        finite = lambda v: float(v) if np.isfinite(v) else None  # noqa: E731
        rows.append(
            {
                "dimension": g.name,
                "dimension_label": g.label,
                "metric": name,
                "statistic": GROUP_METRICS[name],
                "highest_group": labels[top],
                "highest": col[top],
                "lowest_group": labels[bottom],
                "lowest": col[bottom],
                "difference": col[top] - col[bottom],
                "difference_lower_ci": finite(dlo),
                "difference_upper_ci": finite(dhi),
                "ratio": col[bottom] / col[top] if col[top] else None,
                "ratio_lower_ci": finite(rlo),
                "ratio_upper_ci": finite(rhi),
                "groups": int(np.isfinite(col).sum()),
                "confidence": confidence,
                "method": method,
            }
        )
    return pl.DataFrame(rows, schema=_DIFFERENCES_SCHEMA)
