"""Counts as they will be published, for the simple statistics computed from them."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.disclosure._rules import ERR_MISSING, DisclosureError, round_to_base

__all__ = ["published_counts"]


def published_counts(
    df: pl.DataFrame, counts: Sequence[str], *, settings: DisclosureSettings | None = None
) -> pl.DataFrame:
    """Replace ``counts`` by the values :func:`protect` will publish, before statistics.

    A proportion or crude rate computed from exact counts gives the exact counts back
    (``events = rate x population``: 48 deaths of 17,778 people is 0.26999662%, and no
    other pair of counts near the rounded 50 and 17,780 gives that figure), so rounding
    the counts beside it protects nothing and a suppressed neighbour can then be found
    by subtraction. Following NHS England's disclosure control method for Hospital
    Episode Statistics, simple statistics (proportions, crude rates, ratios of counts)
    and their confidence intervals are therefore computed from the *rounded* counts: a
    count of at least ``settings.suppress_below`` is rounded to ``settings.rounding``
    here, exactly as :func:`protect` will round it. Smaller counts are left as they are:
    :func:`protect` suppresses them together with every value derived from them. With
    disclosure control off, or rounding to 1, the frame is returned unchanged.

    Complex statistics (directly standardised rates, regression models) are computed
    from the exact counts, as in the same method.

    Parameters
    ----------
    df : aggregated counts (one row per group, or per group and age band).
    counts : the count columns the statistics will use.
    settings : the disclosure settings (default: enabled, suppress 1-7, round to 5).

    Returns
    -------
    pl.DataFrame
        ``df`` with those columns rounded; their dtypes are kept.

    References
    ----------
    .. [1] NHS Digital. Hospital Episode Statistics: disclosure control method (2018):
       percentages are calculated from the rounded numerator and denominator; no
       disclosure control is needed for standardised rates, confidence intervals and
       regression models.
    .. [2] Office for National Statistics. Policy on protecting confidentiality in tables
       of birth and death statistics (2014).
    """
    settings = settings or DisclosureSettings()
    missing = [c for c in counts if c not in df.columns]
    if missing:
        raise DisclosureError(
            ERR_MISSING.format(missing=missing, arg="counts", present=", ".join(df.columns))
        )
    if not settings.enabled or settings.rounding <= 1:
        return df
    return df.with_columns(
        pl.when(pl.col(c) < settings.suppress_below)
        .then(pl.col(c))
        .otherwise(round_to_base(c, settings.rounding))
        .cast(df.schema[c])
        .alias(c)
        for c in counts
    )
