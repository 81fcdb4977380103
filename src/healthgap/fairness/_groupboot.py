"""Per-group classification metrics for many bootstrap replicates at once.

Group sums are one sparse matrix product: ``W @ Q`` where ``W`` holds
bootstrap counts (replicates x people) and ``Q`` holds, for each group, the
per-person quantities (1, outcome, flagged, ...) of its members. AUROC per group reuses one sort by (group, score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from healthgap.models._metrics import Ranking, rank, weighted_auc
from healthgap.stats.bootstrap import replicate_sums

__all__ = ["GROUP_METRICS", "GroupData", "prepare", "group_metrics"]

#: Metrics reported per group, in display order.
GROUP_METRICS: dict[str, str] = {
    "prevalence": "Prevalence (observed)",
    "mean_predicted": "Mean predicted risk",
    "selection_rate": "Selection rate",
    "tpr": "True positive rate",
    "fpr": "False positive rate",
    "ppv": "Positive predictive value",
    "auroc": "AUROC",
}


@dataclass(frozen=True)
class GroupData:
    """One grouping of the test set, ready for :func:`group_metrics`."""

    Q: sparse.csc_matrix  # people x (6 * groups): quantity j of people in group g at column j * k + g
    ranking: Ranking
    k: int


def prepare(codes: np.ndarray, k: int, *, y: np.ndarray, selected: np.ndarray, p: np.ndarray) -> GroupData:
    """Indicator matrix, per-person quantities and the AUROC ranking for one grouping.

    ``codes`` are integers ``0..k-1``; a negative code (missing group) is left out.
    """
    codes = np.asarray(codes, np.int64)
    keep = codes >= 0
    rows = np.flatnonzero(keep)
    y = np.asarray(y, bool)
    s = np.asarray(selected, bool)
    q = np.stack([np.ones_like(p), y, s, y & s, ~y & s, p], axis=1).astype(np.float64)[rows]
    cols = codes[rows][:, None] + k * np.arange(6)[None, :]
    Q = sparse.csc_matrix((q.ravel(), (np.repeat(rows, 6), cols.ravel())), shape=(codes.shape[0], 6 * k))
    rank_codes = np.where(keep, codes, k)  # missing-group people ranked in an extra group, dropped below
    return GroupData(Q=Q, ranking=rank(p, y, rank_codes, k + 1), k=k)


def group_metrics(W: np.ndarray, data: GroupData) -> np.ndarray:
    """Metrics of :data:`GROUP_METRICS` plus counts, shape ``(replicates, k, 10)``.

    The last axis is: the seven metrics in :data:`GROUP_METRICS` order, then
    the group size, positives and selected (weighted counts).

    References
    ----------
    .. [1] Hardt M, Price E, Srebro N. Equality of opportunity in supervised learning.
       NeurIPS 2016 (true positive rate parity).
    .. [2] Weerts H, et al. Fairlearn: assessing and improving fairness of AI systems. JMLR 2023.
    """
    c = W.shape[0]
    sums = replicate_sums(W, data.Q).reshape(c, 6, data.k).transpose(0, 2, 1)  # (c, k, 6)
    n, pos, sel, tp, fp, sump = (sums[..., j] for j in range(6))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.stack(
            [
                pos / n,
                sump / n,
                sel / n,
                tp / pos,
                fp / (n - pos),
                tp / sel,
                weighted_auc(W, data.ranking)[:, : data.k],
                n,
                pos,
                sel,
            ],
            axis=2,
        )
    out[..., :7][~np.isfinite(out[..., :7])] = np.nan
    assert out.shape == (c, data.k, 10)
    return out
