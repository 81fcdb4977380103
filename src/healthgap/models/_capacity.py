"""Operating points of a fitted model: exact counts of people flagged and outcomes found."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from healthgap.models._fit import ModelResult

__all__ = ["capacity", "outcome_counts", "CAPACITY_FRACTIONS"]

#: Shares of people flagged that the capacity table compares (the operating point is added).
CAPACITY_FRACTIONS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2)


def capacity(
    result: ModelResult,
    *,
    fractions: Sequence[float] = CAPACITY_FRACTIONS,
    model: str = "boosted",
) -> pl.DataFrame:
    """For each share of people flagged, the risk cut-off and the exact test-set counts.

    The cut-off for each share comes from the training set
    (:meth:`~healthgap.models.ModelResult.threshold`); the counts are on the test
    set. The operating point (``settings.top_fraction``) is always included.
    Rates (sensitivity, positive predictive value) are not computed here: they
    are simple statistics of the counts, computed by the page from the counts as
    they will be published (disclosure rule 8).

    Parameters
    ----------
    result : a fitted :class:`~healthgap.models.ModelResult`.
    fractions : shares of people flagged (0 < x < 1).
    model : ``"boosted"`` or ``"logistic"``.

    Returns
    -------
    pl.DataFrame
        One row per share, smallest first: ``fraction``, ``threshold`` (risk
        cut-off), ``flagged`` (people at or above it), ``found`` (of whom had the
        outcome), ``cases`` (everyone in the test set with the outcome),
        ``train_flagged`` (training people at or above the cut-off) and
        ``train_wanted`` (the share of the training set, in people, rounded down:
        fewer flagged means people tied at the cut-off), all counts exact (Int64),
        and ``operating`` (True on the operating point).
    """
    top = result.settings.top_fraction
    shares = sorted({*fractions, top})
    cut = np.array([result.threshold(model, top_fraction=f) for f in shares])
    flag = result.risk_test[model][None, :] >= cut[:, None]
    y = np.asarray(result.y_test, bool)
    train = np.asarray(result.risk_train[model])
    n_train = train.shape[0]
    return pl.DataFrame(
        {
            "fraction": shares,
            "threshold": cut,
            "flagged": flag.sum(axis=1),
            "found": (flag & y[None, :]).sum(axis=1),
            "cases": np.full(len(shares), int(y.sum())),
            "train_flagged": (train[None, :] >= cut[:, None]).sum(axis=1),
            "train_wanted": [int(np.floor(f * n_train + 1e-9)) for f in shares],
            "operating": [f == top for f in shares],
        }
    ).with_columns(pl.col("flagged", "found", "cases", "train_flagged", "train_wanted").cast(pl.Int64))


def outcome_counts(result: ModelResult) -> pl.DataFrame:
    """People in the test set with the outcome (``cases``) and in all (``n``): one row, exact."""
    y = np.asarray(result.y_test, bool)
    return pl.DataFrame(
        {"cases": [int(y.sum())], "n": [int(y.shape[0])]}, schema={"cases": pl.Int64, "n": pl.Int64}
    )
