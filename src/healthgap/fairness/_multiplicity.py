"""Gaps across many groups, with intervals that hold for all of them together.

The largest of many gaps is a biased pick: read from the data, it is large partly by
chance. :func:`gap_family` bootstraps every group's proportion from the same replicates
(the groups' estimates move together, as they do in the data) and gives every pairwise
gap a max-statistic simultaneous interval (:func:`healthgap.stats.simultaneous_intervals`);
:func:`largest_surviving` is the largest gap whose simultaneous interval excludes zero,
or None when every gap is within what chance alone gives.

:func:`group_sums` is the shared engine: exact per-group sums of per-person quantities
and their bootstrap replicates, one sparse product per chunk of replicates.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

import healthgap.stats.bootstrap as _bootstrap
from healthgap.config import Dimension
from healthgap.fairness._groups import Grouping, groupings
from healthgap.models import ModelResult
from healthgap.stats import bootstrap_weights, percentile_interval, replicate_sums, simultaneous_intervals

__all__ = [
    "GapFamily",
    "group_sums",
    "group_sums_batch",
    "replicate_weights",
    "REUSE_CELLS",
    "gap_family",
    "largest_surviving",
    "tpr_gaps",
    "MIN_BOOT",
    "MIN_DENOMINATOR",
]

#: Fewest bootstrap replicates for simultaneous intervals (:func:`simultaneous_intervals` needs 100).
MIN_BOOT = 100
#: Smallest denominator (e.g. cases) of a group in a family of gaps.
MIN_DENOMINATOR = 20
BAD_BOOT = "n_boot must be at least {min} for simultaneous intervals, got {value!r}."
BAD_SHAPES = "codes has {n} people but the quantities have {m} rows."
#: Largest set of replicate weights (replicates x people cells, 8 bytes each) kept after use, so
#: that the next analysis of the same people with the same replicates and seed does not draw it again.
REUSE_CELLS = 16_000_000


@functools.lru_cache(maxsize=1)
def _kept_weights(n: int, n_boot: int, seed: int, chunk_cells: int) -> tuple[np.ndarray, ...]:
    chunks = tuple(np.asfortranarray(W) for W in bootstrap_weights(n, n_boot=n_boot, seed=seed))
    for W in chunks:
        W.setflags(write=False)
    return chunks


def replicate_weights(n: int, *, n_boot: int, seed: int) -> Iterable[np.ndarray]:
    """The chunks of :func:`~healthgap.stats.bootstrap_weights` ``(n, n_boot=n_boot, seed=seed)``.

    The same matrices: the last set of at most :data:`REUSE_CELLS` cells is kept (read-only)
    and handed out again when asked for with the same arguments (the fairness audit, the
    perfect-risk reference and the counterfactual labels resample the same test set with
    the same replicates); larger sets are drawn chunk by chunk each time.

    The chunks are stored column-major, so that the transposed matrix which
    :func:`~healthgap.stats.replicate_sums` multiplies (``Q.T @ W.T``) is C-contiguous and is
    not copied at every product: use them only there (elementwise work and sums over rows of a
    column-major matrix may round differently).
    """
    if n * n_boot > REUSE_CELLS:
        return (np.asfortranarray(W) for W in bootstrap_weights(n, n_boot=n_boot, seed=seed))
    return _kept_weights(n, n_boot, seed, _bootstrap.CHUNK_CELLS)


def group_sums(
    codes: np.ndarray | Sequence[np.ndarray],
    k: int | Sequence[int],
    values: np.ndarray,
    *,
    n_boot: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group sums of per-person quantities, exact and for every bootstrap replicate.

    Parameters
    ----------
    codes : per person, the group index 0..k-1 (-1: in no group, left out of every sum);
        or a list of such arrays (several groupings, summed together from the same
        replicates: their groups are concatenated in order).
    k : number of groups (a list, one per grouping, with a list of codes).
    values : per-person quantities, shape ``(people, q)`` (e.g. case, found).
    n_boot : bootstrap replicates (0: none). People are resampled over the whole sample
        (:func:`~healthgap.stats.bootstrap_weights`), so group sizes vary as in the data.
    seed : seed of the replicates.

    Returns
    -------
    tuple of numpy.ndarray
        The exact sums, shape ``(K, q)`` (K: all groups), and the replicates, shape
        ``(n_boot, K, q)``.
    """
    return group_sums_batch([(codes, k, values)], n_boot=n_boot, seed=seed)[0]


def _indicators(
    codes: np.ndarray | Sequence[np.ndarray], k: int | Sequence[int], values: np.ndarray
) -> tuple[sparse.csc_matrix, int, int]:
    """The sparse ``(people, q x groups)`` matrix of :func:`group_sums`, with ``q`` and the groups."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n, q = values.shape
    code_list = [codes] if isinstance(codes, np.ndarray) else list(codes)
    ks = [k] if isinstance(k, int) else list(k)
    offsets = np.concatenate([[0], np.cumsum(ks)])
    total = int(offsets[-1])
    rows_all, cols_all, data_all = [], [], []
    for c, start in zip(code_list, offsets[:-1], strict=True):
        c = np.asarray(c, dtype=np.int64)
        if c.shape[0] != n:
            raise ValueError(BAD_SHAPES.format(n=c.shape[0], m=n))
        rows = np.flatnonzero(c >= 0)
        rows_all.append(np.repeat(rows, q))
        cols_all.append((np.arange(q)[None, :] * total + start + c[rows][:, None]).ravel())
        data_all.append(values[rows].ravel())
    Q = sparse.csc_matrix(
        (np.concatenate(data_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(n, q * total),
        dtype=np.float64,
    )
    return Q, q, total


def group_sums_batch(
    problems: Sequence[tuple[np.ndarray | Sequence[np.ndarray], int | Sequence[int], np.ndarray]],
    *,
    n_boot: int,
    seed: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`group_sums` of several ``(codes, k, values)`` problems on the same people, from one
    stream of replicates.

    Each result equals ``group_sums(codes, k, values, n_boot=n_boot, seed=seed)`` exactly (the
    same sparse matrix times the same weights): the weights are drawn once for them all, not
    once per problem.
    """
    built = [_indicators(*problem) for problem in problems]
    if not built:
        return []
    n = built[0][0].shape[0]
    if any(Q.shape[0] != n for Q, _, _ in built):
        raise ValueError(BAD_SHAPES.format(n=next(Q.shape[0] for Q, _, _ in built if Q.shape[0] != n), m=n))
    parts: list[list[np.ndarray]] = [[] for _ in built]
    if n_boot:
        for W in replicate_weights(n, n_boot=n_boot, seed=seed):
            for part, (Q, _, _) in zip(parts, built, strict=True):
                part.append(replicate_sums(W, Q))
    out = []
    for part, (Q, q, total) in zip(parts, built, strict=True):
        exact = np.asarray(Q.sum(axis=0)).reshape(q, total).T
        reps = np.concatenate(part) if part else np.zeros((0, q * total))
        out.append((exact, reps.reshape(-1, q, total).transpose(0, 2, 1)))
    return out


@dataclass(frozen=True, eq=False)
class GapFamily:
    """Every pairwise gap between the groups of one grouping, with simultaneous intervals.

    Attributes
    ----------
    dimension, dimension_label : the grouping.
    groups : one row per group: ``group``, ``group_label``, ``order``, ``numerator``,
        ``denominator`` (exact counts), ``value`` (their ratio), ``lower_ci`` / ``upper_ci``
        (percentile bootstrap interval, one at a time).
    pairs : :func:`~healthgap.stats.simultaneous_intervals` (pairwise, difference) of the
        groups' values: ``lower_ci`` / ``upper_ci`` hold for all the gaps together,
        ``unadjusted_lower`` / ``unadjusted_upper`` one at a time, ``excludes_null``.
    """

    dimension: str
    dimension_label: str
    groups: pl.DataFrame = field(repr=False)
    pairs: pl.DataFrame = field(repr=False)

    @property
    def largest(self) -> dict[str, Any] | None:
        """The largest gap the simultaneous intervals separate from zero (:func:`largest_surviving`)."""
        return largest_surviving(self.pairs)

    @property
    def largest_observed(self) -> dict[str, Any] | None:
        """The largest gap whether or not it survives (for saying that it does not)."""
        rows = self.pairs.filter(pl.col("value").is_not_null())
        if rows.is_empty():
            return None
        return rows.sort(pl.col("value").abs(), descending=True).row(0, named=True)


def largest_surviving(pairs: pl.DataFrame) -> dict[str, Any] | None:
    """The gap of largest size whose simultaneous interval excludes zero, or None.

    Parameters
    ----------
    pairs : output of :func:`~healthgap.stats.simultaneous_intervals` (difference scale).

    Returns
    -------
    dict or None
        The row (``group``, ``versus``, ``value``, ``lower_ci``, ``upper_ci``, ...), oriented
        so that ``value`` is positive (the higher group first); None when no gap survives.
    """
    hits = pairs.filter(pl.col("excludes_null").fill_null(False))
    if hits.is_empty():
        return None
    row = hits.sort(pl.col("value").abs(), descending=True).row(0, named=True)
    if row["value"] < 0:
        row = {
            **row,
            "group": row["versus"],
            "versus": row["group"],
            "estimate": row["versus_estimate"],
            "versus_estimate": row["estimate"],
            "value": -row["value"],
            "lower_ci": -row["upper_ci"],
            "upper_ci": -row["lower_ci"],
            "unadjusted_lower": -row["unadjusted_upper"],
            "unadjusted_upper": -row["unadjusted_lower"],
            "bonferroni_lower": -row["bonferroni_upper"],
            "bonferroni_upper": -row["bonferroni_lower"],
        }
    return row


def gap_family(
    grouping: Grouping,
    *,
    numerator: np.ndarray,
    denominator: np.ndarray,
    n_boot: int = 500,
    confidence: float = 0.95,
    seed: int = 2024,
    min_denominator: int = MIN_DENOMINATOR,
) -> GapFamily:
    """Proportions by group and every pairwise gap with max-statistic simultaneous intervals.

    Parameters
    ----------
    grouping : the groups (:class:`~healthgap.fairness.Grouping`: per-person codes).
    numerator, denominator : per-person 0/1 (or weights): e.g. found and case for the
        true positive rate.
    n_boot : bootstrap replicates (at least :data:`MIN_BOOT`).
    confidence : joint confidence level.
    seed : seed of the replicates.
    min_denominator : groups with a smaller denominator, or whose value does not vary over
        the replicates (all or none), have no estimate and are left out of the family: a
        bootstrap says nothing about their chance variation.

    References
    ----------
    .. [1] Westfall PH, Young SS. Resampling-based multiple testing. Wiley; 1993.
    .. [2] Hothorn T, Bretz F, Westfall P. Biom J 2008;50:346-363.
    """
    if n_boot < MIN_BOOT:
        raise ValueError(BAD_BOOT.format(min=MIN_BOOT, value=n_boot))
    exact, reps = group_sums(
        grouping.codes, grouping.k, np.column_stack([numerator, denominator]), n_boot=n_boot, seed=seed
    )
    return _family(grouping, exact, reps, confidence=confidence, min_denominator=min_denominator)


def _family(
    grouping: Grouping, exact: np.ndarray, reps: np.ndarray, *, confidence: float, min_denominator: int
) -> GapFamily:
    """:func:`gap_family` from the grouping's exact and replicate sums of (numerator, denominator)."""
    with np.errstate(all="ignore"):
        value = np.where(exact[:, 1] > 0, exact[:, 0] / exact[:, 1], np.nan)
        rep_values = np.where(reps[:, :, 1] > 0, reps[:, :, 0] / reps[:, :, 1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanstd(rep_values, axis=0)
    small = (exact[:, 1] < min_denominator) | ~(spread > 0)
    value = np.where(small, np.nan, value)
    rep_values[:, small] = np.nan
    lo, hi = percentile_interval(rep_values, confidence)
    column = lambda x: pl.Series(x, dtype=pl.Float64).fill_nan(None)  # noqa: E731
    groups = pl.DataFrame(
        {
            "group": list(grouping.levels),
            "group_label": list(grouping.labels),
            "order": np.arange(grouping.k),
            "numerator": exact[:, 0].round().astype(np.int64),
            "denominator": exact[:, 1].round().astype(np.int64),
            "value": column(value),
            "lower_ci": column(lo),
            "upper_ci": column(hi),
        }
    )
    pairs = simultaneous_intervals(
        groups.select("group", "value"),
        group="group",
        estimate="value",
        replicates=rep_values,
        comparisons="pairwise",
        confidence=confidence,
    )
    return GapFamily(grouping.name, grouping.label, groups, pairs)


def tpr_gaps(
    result: ModelResult,
    *,
    dimensions: Sequence[Dimension],
    model: str = "boosted",
    top_fraction: float | None = None,
    n_boot: int = 500,
    confidence: float = 0.95,
    seed: int | None = None,
) -> list[GapFamily]:
    """The true positive rate at capacity by group, for every dimension, with simultaneous gaps.

    People are flagged at the configured capacity (the top ``top_fraction`` of predicted
    risk, cut-off from the training set); the rate is the share of test-set cases flagged.
    """
    flagged = result.flagged(model, top_fraction=top_fraction)
    y = np.asarray(result.y_test, bool)
    found, _ = groupings(result.groups_test, dimensions, intersections=())
    seed = result.settings.seed if seed is None else seed
    if found and n_boot < MIN_BOOT:
        raise ValueError(BAD_BOOT.format(min=MIN_BOOT, value=n_boot))
    # every grouping's family from one stream of replicates (each as gap_family would compute it)
    values = np.column_stack([flagged & y, y])
    sums = group_sums_batch([(g.codes, g.k, values) for g in found], n_boot=n_boot, seed=seed)
    return [
        _family(g, exact, reps, confidence=confidence, min_denominator=MIN_DENOMINATOR)
        for g, (exact, reps) in zip(found, sums, strict=True)
    ]
