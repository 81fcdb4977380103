"""Mitigation at capacity, fitted on a validation split and judged on an evaluation split.

The held-out people (the model never saw them) are split, stratified and seeded, into a
**validation** part, on which the mitigation is fitted, and an **evaluation** part, on
which both the unmitigated model and the mitigation are judged: neither is fitted on
the people it is judged on. Both flag the service's capacity (``top_fraction``):

* **unmitigated**: one cut-off, the top ``top_fraction`` of predicted risk (training set);
* **equal opportunity at capacity**: one cut-off per group, chosen on the validation
  part so that every group's true positive rate is the same while the share flagged
  stays at ``top_fraction`` (a post-processing in the manner of Hardt et al., with the
  capacity as a constraint).

Every point estimate and interval comes from the same exact counts of the evaluation
part; the gap compares the dimension's first and last groups (fixed in advance, not the
highest and lowest found), and its change is paired (the same bootstrap replicates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sklearn.model_selection import train_test_split

from healthgap.config import Dimension
from healthgap.fairness._groups import groupings
from healthgap.fairness._multiplicity import group_sums
from healthgap.models import ModelResult
from healthgap.stats import percentile_interval

__all__ = ["CapacityMitigation", "mitigate_at_capacity", "equal_opportunity_thresholds", "SPLIT_STRATEGIES"]

SPLIT_STRATEGIES: dict[str, str] = {
    "unmitigated": "Unmitigated: one cut-off",
    "equal_opportunity": "Equal opportunity: a cut-off per group",
}
NO_DIMENSION = "mitigate_at_capacity: dimension {name!r} is not in the data or has fewer than two groups."


def equal_opportunity_thresholds(
    score: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int, *, fraction: float, iterations: int = 60
) -> tuple[np.ndarray, float]:
    """Per-group cut-offs giving every group the same true positive rate at a share flagged.

    For a common rate t, group g's cut-off is the ``1 - t`` quantile of its cases' scores;
    t is found by bisection so that the share of people flagged is ``fraction``.

    Returns
    -------
    tuple
        The cut-offs (k,) and the common rate t. People in no group (code -1) take the
        single cut-off flagging ``fraction`` of everyone.
    """
    cases = [np.sort(score[(codes == g) & y]) for g in range(k)]

    def cuts(t: float) -> np.ndarray:
        out = np.full(k, np.inf)
        for g, s in enumerate(cases):  # one quantile per group (k is small)
            if s.size:
                m = int(np.ceil(t * s.size))  # flag the top m cases of the group
                out[g] = s[s.size - m] if m > 0 else np.inf
        return out

    def share(t: float) -> float:
        c = cuts(t)
        cut = np.where(codes >= 0, c[np.maximum(codes, 0)], np.quantile(score, 1 - fraction))
        return float(np.mean(score >= cut))

    lo, hi = 0.0, 1.0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if share(mid) > fraction:
            hi = mid
        else:
            lo = mid
    return cuts(lo), lo


@dataclass(frozen=True, eq=False)
class CapacityMitigation:
    """Result of :func:`mitigate_at_capacity` (exact counts of the evaluation part).

    Attributes
    ----------
    dimension, first, last : the grouping and its first and last groups (the gap's ends).
    validation, evaluation : people in each part of the held-out set.
    by_group : per ``strategy`` and group: ``n``, ``cases``, ``flagged``, ``found``, ``tpr``
        with its interval.
    overall : per strategy: ``n``, ``cases``, ``flagged``, ``found``, ``share_flagged``,
        ``tpr`` (with interval).
    gap : per strategy: ``gap`` (first minus last group's true positive rate) with interval,
        and ``change`` (minus the unmitigated gap) with its paired interval.
    common_rate : the equal true positive rate the cut-offs were fitted to (validation).
    """

    dimension: str
    first: str
    last: str
    validation: int
    evaluation: int
    by_group: pl.DataFrame = field(repr=False)
    overall: pl.DataFrame = field(repr=False)
    gap: pl.DataFrame = field(repr=False)
    top_fraction: float = 0.05
    common_rate: float = float("nan")
    confidence: float = 0.95


def mitigate_at_capacity(
    result: ModelResult,
    *,
    dimension: str,
    dimensions: Sequence[Dimension],
    top_fraction: float | None = None,
    validation_fraction: float = 0.5,
    model: str = "boosted",
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int | None = None,
) -> CapacityMitigation:
    """Equal opportunity at the service's capacity, fitted on validation, judged on evaluation.

    Parameters
    ----------
    result : the fitted model.
    dimension : the grouping mitigated (e.g. ``"imd_quintile"``).
    dimensions : the configured dimensions (levels and order).
    top_fraction : capacity (default the configured one).
    validation_fraction : share of the held-out people used to fit the mitigation.
    n_boot, confidence, seed : percentile bootstrap over the evaluation part.

    References
    ----------
    .. [1] Hardt M, Price E, Srebro N. Equality of opportunity in supervised learning. NeurIPS 2016.
    """
    seed = result.settings.seed if seed is None else seed
    fraction = result.settings.top_fraction if top_fraction is None else top_fraction
    wanted = [d for d in dimensions if d.name == dimension] or [Dimension(dimension, dimension, (), {}, "")]
    found, _ = groupings(result.groups_test, wanted, intersections=())
    if not found:
        raise ValueError(NO_DIMENSION.format(name=dimension))
    g = found[0]
    y = np.asarray(result.y_test, bool)
    score = np.asarray(result.risk_test[model], dtype=np.float64)
    index = np.arange(y.size)
    val, ev = train_test_split(index, test_size=1 - validation_fraction, stratify=y, random_state=seed)
    val.sort()
    ev.sort()
    cuts, rate = equal_opportunity_thresholds(score[val], y[val], g.codes[val], g.k, fraction=fraction)
    fallback = float(np.quantile(score[val], 1 - fraction))
    own = np.where(g.codes >= 0, cuts[np.maximum(g.codes, 0)], fallback)
    flags = {
        "unmitigated": score >= result.threshold(model, top_fraction=fraction),
        "equal_opportunity": score >= own,
    }
    ye = y[ev].astype(np.float64)
    cols = [np.ones(ev.size), ye]
    for f in flags.values():
        cols += [f[ev].astype(np.float64), (f[ev] & y[ev]).astype(np.float64)]
    values = np.column_stack(cols)
    everyone = np.zeros(ev.size, dtype=np.int64)
    exact, reps = group_sums([g.codes[ev], everyone], [g.k, 1], values, n_boot=n_boot, seed=seed)
    names = list(flags)
    by_group, overall, gaps = [], [], []
    base_rep: np.ndarray | None = None
    base_gap = float("nan")
    for i, name in enumerate(names):
        fl, fo = 2 + 2 * i, 3 + 2 * i
        with np.errstate(all="ignore"):
            tpr = exact[:, fo] / exact[:, 1]
            rep_tpr = reps[:, :, fo] / reps[:, :, 1]
        lo, hi = percentile_interval(rep_tpr, confidence)
        counts = exact.round().astype(np.int64)
        frame = pl.DataFrame(
            {
                "strategy": name,
                "strategy_label": SPLIT_STRATEGIES[name],
                "group": [*g.levels, "All"],
                "group_label": [*g.labels, "All"],
                "n": counts[:, 0],
                "cases": counts[:, 1],
                "flagged": counts[:, fl],
                "found": counts[:, fo],
                "tpr": tpr,
                "tpr_lower": lo,
                "tpr_upper": hi,
            }
        )
        by_group.append(frame.head(g.k))
        overall.append(
            frame.tail(1)
            .drop("group", "group_label")
            .with_columns(share_flagged=pl.col("flagged") / pl.col("n"))
        )
        gap = float(tpr[0] - tpr[g.k - 1])
        rep_gap = rep_tpr[:, 0] - rep_tpr[:, g.k - 1]
        if base_rep is None:
            base_rep, base_gap = rep_gap, gap
        (g_lo, c_lo), (g_hi, c_hi) = percentile_interval(
            np.column_stack([rep_gap, rep_gap - base_rep]), confidence
        )
        gaps.append(
            {
                "strategy": name,
                "strategy_label": SPLIT_STRATEGIES[name],
                "gap": gap,
                "gap_lower": g_lo,
                "gap_upper": g_hi,
                "change": gap - base_gap,
                "change_lower": c_lo,
                "change_upper": c_hi,
            }
        )
    clean = pl.selectors.float().fill_nan(None)
    return CapacityMitigation(
        dimension=g.name,
        first=g.labels[0],
        last=g.labels[-1],
        validation=int(val.size),
        evaluation=int(ev.size),
        by_group=pl.concat(by_group).with_columns(clean),
        overall=pl.concat(overall).with_columns(clean),
        gap=pl.DataFrame(gaps).with_columns(clean),
        top_fraction=fraction,
        common_rate=rate,
        confidence=confidence,
    )
