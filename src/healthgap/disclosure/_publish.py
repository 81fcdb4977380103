"""publish(): the one publication step every published frame goes through."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.disclosure._protect import protect
from healthgap.disclosure._publishable import assert_publishable
from healthgap.disclosure._published import published_counts
from healthgap.disclosure._rules import REASON_INPUT, DisclosureError

__all__ = ["Published", "publish", "RELATIVE_COLUMNS", "ERR_NOT_PUBLISHED"]

#: Columns that compare a group with its reference group (disclosure rule 7).
RELATIVE_COLUMNS = ("rate_ratio", "rr_lower", "rr_upper")
_REFERENCE_TMP = "__hg_is_reference"

ERR_NOT_PUBLISHED = (
    "{what} {id!r}: data must be a Published frame from healthgap.disclosure.publish() (got {type}). "
    "Fix: publish the aggregated frame once, e.g. published = publish(frame, counts=[...], "
    "settings=config.disclosure), and pass `published` to the figure, table, download and sentences."
)
ERR_PUBLISH_FRAME = "publish(): data must be a polars DataFrame of aggregates, got {type}."
ERR_PUBLISH_COUNTS = (
    "publish(): the count columns {missing} are not in the data (columns: {columns}). "
    "Pass the names of the columns that hold counts of people or events as counts=[...]."
)


@dataclass(frozen=True)
class Published:
    """An aggregated frame after the publication step: protected once and checked.

    Everything the book publishes (a chart, a table, a CSV download and the
    numbers in sentences) is built from a ``Published``; nothing else needs to
    apply disclosure control again. Selecting rows or columns of a published
    frame keeps it published (:meth:`where`, :meth:`select`); computing new
    numbers from it is the caller's business and must use only what it shows.

    Attributes
    ----------
    frame : the protected frame (``suppressed`` and ``suppression_reason``
        columns added when it has counts).
    counts : the count columns it was protected on (empty for a frame with no
        counts of people, such as the data dictionary).
    settings : the disclosure settings it was protected with.
    """

    frame: pl.DataFrame
    counts: tuple[str, ...]
    settings: DisclosureSettings

    @property
    def height(self) -> int:
        return self.frame.height

    @property
    def columns(self) -> list[str]:
        return self.frame.columns

    def where(self, *predicates: Any, **constraints: Any) -> Published:
        """The rows matching ``predicates`` (polars expressions) and ``column=value`` constraints."""
        return Published(self.frame.filter(*predicates, **constraints), self.counts, self.settings)

    def select(self, *columns: Any) -> Published:
        """Only ``columns`` (names or expressions over existing columns), the bookkeeping columns kept."""
        keep = [c for c in ("suppressed", "suppression_reason") if c in self.frame.columns]
        frame = self.frame.select(*columns)
        frame = frame.hstack(self.frame.select(c for c in keep if c not in frame.columns))
        return Published(frame, tuple(c for c in self.counts if c in frame.columns), self.settings)

    def rename(self, mapping: Mapping[str, str]) -> Published:
        frame = self.frame.rename(dict(mapping))
        return Published(frame, tuple(mapping.get(c, c) for c in self.counts), self.settings)

    def sort(self, *by: Any, **kwargs: Any) -> Published:
        return Published(self.frame.sort(*by, **kwargs), self.counts, self.settings)

    def row(self, **constraints: Any) -> dict[str, Any] | None:
        """The first row matching ``column=value`` constraints as a dict, or None."""
        rows = self.frame.filter(**constraints)
        return rows.row(0, named=True) if rows.height else None


def publish(
    data: pl.DataFrame,
    *,
    counts: Sequence[str],
    settings: DisclosureSettings,
    derived: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    by: Sequence[str] | str | None = None,
    across: Sequence[str] | None = None,
    recompute: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> Published:
    """Protect an aggregated frame once and check it: the book's single publication step.

    Steps, in order:

    1. **Simple statistics from published counts** (rule 8): when ``recompute``
       is given, it is called with the frame whose ``counts`` are rounded as
       they will be published (:func:`published_counts`) and must return the
       frame with its simple statistics (proportions, crude rates, their
       intervals) computed from those counts. Analyses return exact aggregates;
       the statistic is recomputed here, where the rounding is known.
    2. **Protection** (:func:`protect`): primary suppression, rounding,
       derived suppression, secondary suppression. ``derived`` defaults to every
       floating-point column that is not a count; ``by`` to the ``dimension`` /
       ``measure`` columns the frame has.
    3. **Rule 7**: rate ratios (:data:`RELATIVE_COLUMNS`) are hidden in a whole
       group whose reference row (``is_reference``, or the row whose
       ``rate_ratio`` is exactly 1 with no interval) has a suppressed count.
    4. Rows the input already marks ``suppressed`` stay marked (an earlier step
       of the analysis withheld them), so their empty cells show "[c]".
    5. :func:`assert_publishable` checks the result.

    Parameters
    ----------
    data : the aggregated frame (exact counts).
    counts : count columns (suppressed when 1 to ``suppress_below - 1``, rounded).
        Empty for a frame with no counts of people (it is still checked).
    settings : the config's disclosure settings.
    derived, by, across : as for :func:`protect`.
    recompute : frame -> frame, recomputing simple statistics from the counts.

    Returns
    -------
    Published

    Raises
    ------
    DisclosureError
        A count column is missing, or the result would still show a small count.

    References
    ----------
    .. [1] NHS Digital. Hospital Episode Statistics: disclosure control method (2018).
    .. [2] Hundepool A et al. (2012). Statistical Disclosure Control. Wiley, ch. 5.
    """
    if isinstance(data, Published):
        raise DisclosureError(
            "publish(): this frame is already published; protect a frame once (pass the Published as it is)."
        )
    if not isinstance(data, pl.DataFrame):
        raise DisclosureError(ERR_PUBLISH_FRAME.format(type=type(data).__name__))
    counts = list(counts)
    missing = [c for c in counts if c not in data.columns]
    if missing:
        raise DisclosureError(ERR_PUBLISH_COUNTS.format(missing=missing, columns=", ".join(data.columns)))
    if recompute is not None and counts:
        data = recompute(published_counts(data, counts, settings=settings))
    if counts:
        if derived is None:
            derived = [
                c for c, t in data.schema.items() if t.is_float() and c not in counts and c != "confidence"
            ]
        mapping = (
            {k: list(v) for k, v in derived.items()}
            if isinstance(derived, Mapping)
            else {c: list(derived) for c in counts}
        )
        if by is None:
            by = [c for c in ("dimension", "measure") if c in data.columns]
        by = [by] if isinstance(by, str) else list(by)
        relative = [c for c in RELATIVE_COLUMNS if c in data.columns and c not in by]
        if relative:
            data = data.with_columns(_reference_marker(data).alias(_REFERENCE_TMP))
        upstream = _upstream_suppressed(data)
        data = protect(
            data,
            counts=counts,
            derived={k: v for k, v in mapping.items() if v},
            by=by,
            across=list(across) if across else None,
            reference=_REFERENCE_TMP if relative else None,
            relative=relative,
            settings=settings,
        ).drop(_REFERENCE_TMP, strict=False)
        if upstream is not None and settings.enabled:
            data = _keep_upstream(data, upstream)
    assert_publishable(data, settings=settings)
    return Published(data, tuple(counts), settings)


def _upstream_suppressed(data: pl.DataFrame) -> pl.Series | None:
    """The input's own ``suppressed`` flags (Boolean), when some row is already suppressed."""
    if "suppressed" not in data.columns or data.schema["suppressed"] != pl.Boolean:
        return None
    flags = data.get_column("suppressed").fill_null(False)
    return flags if flags.any() else None


def _keep_upstream(data: pl.DataFrame, upstream: pl.Series) -> pl.DataFrame:
    """``data`` (protected, same rows in the same order) with the input's suppressed rows still marked."""
    if upstream.len() != data.height:  # protect() keeps every row; never guess if it did not
        return data
    was = pl.lit(upstream)
    return data.with_columns(
        suppression_reason=pl.when(was & pl.col("suppression_reason").is_null())
        .then(pl.lit(REASON_INPUT))
        .otherwise(pl.col("suppression_reason")),
        suppressed=pl.col("suppressed").fill_null(False) | was,
    )


def _reference_marker(data: pl.DataFrame) -> pl.Expr:
    """True on each group's reference row: ``is_reference``, else a rate ratio of exactly 1 without CI."""
    if "is_reference" in data.columns and data.schema["is_reference"] == pl.Boolean:
        return pl.col("is_reference").fill_null(False)
    marker = pl.col("rate_ratio") == 1.0
    for c in ("rr_lower", "rr_upper"):
        if c in data.columns:
            marker = marker & pl.col(c).is_null()
    return marker.fill_null(False)
