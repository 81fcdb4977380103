"""The age bands a standardisation uses: all of the standard, those the data cover, or a list.

Shared by :func:`healthgap.stats.dsr` and :func:`healthgap.stats.dsr_by`. Restricting the
standard population to some bands and renormalising its weights is the same as dividing by
the sum of the weights of the bands used (the DSR formula already does), so only the choice
of bands and the groups left with an empty band need code.

References
----------
.. [1] Eurostat. Revision of the European Standard Population. 2013 (the 19 bands).
.. [2] Public Health England. Technical Guide: Direct standardisation. 2008 (the standard
   restricted to the age range of the indicator, e.g. ESP2013 40+ for ages 40 and over).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

__all__ = [
    "Bands",
    "COVERED",
    "NOTE_EMPTY_BAND",
    "BAD_BANDS",
    "UNKNOWN_BANDS",
    "NO_COVERED_BANDS",
    "resolve_bands",
    "empty_bands",
]

#: ``bands=`` of :func:`~healthgap.stats.dsr`: ``None`` (every band of the standard),
#: ``"covered"`` (the bands where the data have people) or a list of band labels.
Bands = Literal["covered"] | Sequence[str] | None
COVERED = "covered"

#: Note of a group that has no people in a band the standardisation uses (no DSR: its
#: rate in that band is unknown, and taking it as zero would bias the DSR down).
NOTE_EMPTY_BAND = "no people in an age band of the standard"
BAD_BANDS = (
    "{func}(): bands must be None (every band of the standard), 'covered' (the bands where "
    "the data have people) or a list of age-band labels such as ['40-44', '45-49'], got {value!r}."
)
UNKNOWN_BANDS = (
    "{func}(): band(s) {labels} given in bands= are not bands of the standard. Expected labels "
    "among: {expected}."
)
NO_COVERED_BANDS = "{func}(): no age band has any people, so there is nothing to standardise."


def _sort_labels(labels: Sequence[str], order: Sequence[str] | None) -> list[str]:
    """Labels in age order: the standard's own order, else by their first number, then text."""
    if order is not None:
        rank = {label: i for i, label in enumerate(order)}
        return sorted(labels, key=lambda label: rank.get(label, len(rank)))
    frame = pl.DataFrame({"label": list(labels)}, schema={"label": pl.String})
    return (
        frame.with_columns(pl.col("label").str.extract(r"(\d+)").cast(pl.Int64, strict=False).alias("__n"))
        .sort("__n", "label", nulls_last=True)
        .get_column("label")
        .to_list()
    )


def resolve_bands(
    bands: Bands,
    *,
    totals: pl.DataFrame,
    func: str,
    order: Sequence[str] | None,
) -> list[str] | None:
    """The band labels a standardisation uses, in age order (``None``: every band, as before).

    Parameters
    ----------
    bands : ``None``, ``"covered"`` or a list of labels (see :data:`Bands`).
    totals : one row per band present in the data: ``label`` (String) and ``population``
        (its total over every group).
    func : name of the calling function, for messages.
    order : every label of the standard in age order (ESP2013), or ``None`` for a
        standard given as a column (then any label present in the data may be used).
    """
    if bands is None:
        return None
    if isinstance(bands, str):
        if bands != COVERED:
            raise ValueError(BAD_BANDS.format(func=func, value=bands))
        covered = totals.filter(pl.col("population") > 0).get_column("label").to_list()
        if not covered:
            raise ValueError(NO_COVERED_BANDS.format(func=func))
        return _sort_labels(covered, order)
    if not isinstance(bands, (list, tuple)) or not bands or not all(isinstance(b, str) for b in bands):
        raise ValueError(BAD_BANDS.format(func=func, value=bands))
    known = list(order) if order is not None else totals.get_column("label").to_list()
    unknown = [b for b in bands if b not in known]
    if unknown:
        raise ValueError(
            UNKNOWN_BANDS.format(
                func=func,
                labels=", ".join(repr(b) for b in unknown),
                expected=", ".join(_sort_labels(known, order)),
            )
        )
    return _sort_labels(list(dict.fromkeys(bands)), order)


def empty_bands(present: pl.Expr, used: Sequence[str]) -> pl.Expr:
    """The bands of ``used`` missing from ``present`` (a list of positions in ``used``), in age order."""
    k = len(used)
    everything = pl.lit(pl.Series([list(range(k))], dtype=pl.List(pl.Int64))).first()
    return (
        everything.list.set_difference(present.cast(pl.List(pl.Int64)))
        .list.sort()
        .list.eval(pl.element().replace_strict(list(range(k)), list(used), return_dtype=pl.String))
    )
