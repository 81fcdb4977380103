"""Seeded bootstrap replicates as weight matrices, and their percentile intervals.

A bootstrap replicate is stored as the number of times each person was drawn: a chunk
of replicates is a weight matrix ``W`` of shape ``(replicates, people)`` (a row of ones
is the original sample). Any weighted sum over people is then one matrix product for
every replicate of the chunk (:func:`replicate_sums`), so the models, the fairness audit,
the mitigation comparison and the SHAP explanation all bootstrap from this one stream.

References
----------
.. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from scipy import sparse

__all__ = ["CHUNK_CELLS", "bootstrap_weights", "replicate_sums", "percentile_interval"]

#: Cells of the (replicates x people) weight matrix held in memory at once.
CHUNK_CELLS = 6_000_000


def bootstrap_weights(n: int, *, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield bootstrap count matrices in chunks of rows.

    Each row is a multinomial draw of ``n`` people with replacement, stored as
    the number of times each person was drawn (float64). Chunks depend only on
    ``n`` and ``n_boot``, so results are reproducible for a given ``seed``.

    Parameters
    ----------
    n : number of people in the sample.
    n_boot : number of replicates in all.
    seed : seed of the random stream (:func:`numpy.random.default_rng`).

    Yields
    ------
    numpy.ndarray
        Weight matrices of shape ``(replicates in the chunk, n)``; the chunks together
        hold ``n_boot`` rows.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
    """
    rng = np.random.default_rng(seed)
    per_chunk = max(1, min(n_boot, CHUNK_CELLS // max(n, 1)))
    done = 0
    while done < n_boot:
        c = min(per_chunk, n_boot - done)
        draws = rng.integers(0, n, size=(c, n))
        draws += (np.arange(c) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=c * n).reshape(c, n).astype(np.float64)
        done += c


def replicate_sums(W: np.ndarray, Q: sparse.spmatrix) -> np.ndarray:
    """Weighted sums of the columns of ``Q`` for every replicate, shape ``(replicates, columns)``.

    Parameters
    ----------
    W : weight matrix ``(replicates, people)`` from :func:`bootstrap_weights`.
    Q : sparse ``(people, columns)`` matrix of per-person quantities (e.g. group indicators).
    """
    return np.asarray(Q.T @ W.T).T


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval along axis 0, ignoring NaN replicates.

    Parameters
    ----------
    replicates : estimates, one row per replicate.
    confidence : confidence level, e.g. 0.95.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits, each of the shape of one replicate (NaN where every
        replicate is NaN).

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap, ch. 13. 1993.
    """
    alpha = (1 - confidence) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanquantile(replicates, alpha, axis=0)
        hi = np.nanquantile(replicates, 1 - alpha, axis=0)
    return lo, hi
