"""publish(): the one publication step every published frame goes through."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.disclosure._protect import protect
from healthgap.disclosure._publishable import assert_publishable
from healthgap.disclosure._published import published_counts
from healthgap.disclosure._rules import (
    OFF_PREFIX,
    REASON_DERIVED,
    REASON_INPUT,
    REASON_REFERENCE,
    SIZE_COLUMNS,
    TOTAL_COLUMN,
    DisclosureError,
    _check_settings,
)

__all__ = [
    "Published",
    "publish",
    "RELATIVE_COLUMNS",
    "ERR_NOT_PUBLISHED",
    "ERR_PIPE_FRAME",
    "ERR_PIPE_MARKERS",
    "SIZE_AUTO",
]

#: ``size=SIZE_AUTO`` (the default of :func:`publish`): the first of
#: :data:`~healthgap.disclosure.SIZE_COLUMNS` among the counts is the group size.
SIZE_AUTO = "auto"
#: Columns that compare a group with its reference group (disclosure rule 7).
RELATIVE_COLUMNS = ("rate_ratio", "rr_lower", "rr_upper")
_REFERENCE_TMP = "__hg_is_reference"
#: The row-level disclosure bookkeeping columns of a published frame.
_BOOKKEEPING = ("suppressed", "suppression_reason")
#: A part of a ``suppression_reason`` that lists columns: "value, lower_ci: derived from a suppressed count".
_LISTED = re.compile(r"^(?P<columns>[\w, ]+): (?P<why>.+)$")
#: The parts whose column lists name the columns a suppression blanked (not a count's own reason).
_LISTING = (REASON_DERIVED, REASON_REFERENCE)

ERR_NOT_PUBLISHED = (
    "{what} {id!r}: data must be a Published frame from healthgap.disclosure.publish() (got {type}). "
    "Fix: publish the aggregated frame once, e.g. published = publish(frame, counts=[...], "
    "settings=config.disclosure), and pass `published` to the figure, table, download and sentences."
)
ERR_PUBLISH_FRAME = "publish(): data must be a polars DataFrame of aggregates, got {type}."
ERR_PIPE_FRAME = (
    "Published.pipe(): {fn} must return a polars DataFrame (the published frame reshaped), got {type}."
)
ERR_PIPE_MARKERS = (
    "Published.pipe(): {fn} dropped the 'suppressed' column of a frame with suppressed rows. Carry it "
    "into the reshaped frame (e.g. pl.col('suppressed').any() over the rows it combines), so that the "
    "cells left empty still read as suppressed."
)
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
    frame keeps it published (:meth:`where`, :meth:`select`, :meth:`rename`,
    :meth:`sort`), and so does any other reshaping that computes no new number
    (:meth:`pipe`: a pivot, a join of labels). A new statistic computed from
    published numbers is a new frame to :func:`publish` (with ``recompute=``
    when it is a simple statistic of counts).

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
        """Only ``columns`` (names or expressions), with the disclosure bookkeeping right for them.

        The result is what publishing those columns alone gives: ``suppressed`` and
        ``suppression_reason`` are kept (after the columns, in the frame's order), and
        so are ``suppressed_<count>`` and ``suppression_reason_<count>`` of each count
        column kept (those of dropped counts go); the reasons name only the blanked
        columns that are kept ("value, lower_ci: derived from a suppressed count"
        loses ``lower_ci`` when it is not selected, and the whole part when none is).

        Parameters
        ----------
        columns : column names, or polars expressions over the frame's columns.
        """
        frame = self.frame.select(*columns)
        kept = set(frame.columns)
        counts = tuple(c for c in self.counts if c in kept)
        per_count = {f"{p}_{c}" for c in counts for p in _BOOKKEEPING}
        extra = [c for c in self.frame.columns if c not in kept and (c in _BOOKKEEPING or c in per_count)]
        frame = _trim_reasons(frame.hstack(self.frame.select(extra).get_columns()), kept)
        return Published(frame, counts, self.settings)

    def pipe(self, fn: Callable[..., pl.DataFrame], *args: Any, **kwargs: Any) -> Published:
        """The frame reshaped by ``fn(frame, *args, **kwargs)``, still published, without protecting it again.

        For reshaping that :meth:`where` and :meth:`select` cannot express: a pivot
        from long to wide, a join of labels, a row order. ``fn`` must compute no new
        number from the published ones (a statistic computed from them is a new
        frame: :func:`publish` it). The result keeps the count columns still in it
        and the settings, and its suppressed markers:

        - ``fn`` carries ``suppressed`` over (e.g. ``any`` over the rows a pivot
          combines); a frame with suppressed rows whose result has no
          ``suppressed`` column is an error;
        - a suppressed row with no ``suppression_reason`` reads "suppressed in the
          input" (:data:`~healthgap.disclosure.REASON_INPUT`: withheld when the
          frame was published), so its empty cells show "[c]" with a reason; with
          disclosure control off every row reads "disclosure control off: ...",
          as :func:`publish` writes it;

        and it is checked again with :func:`assert_publishable`.

        Parameters
        ----------
        fn : frame -> frame.
        args, kwargs : passed to ``fn`` after the frame.

        Raises
        ------
        DisclosureError
            ``fn`` did not return a DataFrame, dropped the markers of suppressed
            rows, or the result shows a small count.
        """
        name = getattr(fn, "__name__", repr(fn))
        out = fn(self.frame, *args, **kwargs)
        if not isinstance(out, pl.DataFrame):
            raise DisclosureError(ERR_PIPE_FRAME.format(fn=name, type=type(out).__name__))
        had = [c for c in _BOOKKEEPING if c in self.frame.columns]
        if "suppressed" in had and "suppressed" not in out.columns:
            if self.frame.get_column("suppressed").fill_null(False).any():
                raise DisclosureError(ERR_PIPE_MARKERS.format(fn=name))
            out = out.with_columns(suppressed=pl.lit(False))
        if "suppression_reason" in had or "suppression_reason" in out.columns:
            out = out.with_columns(suppression_reason=_reason_of(out, self.settings))
        counts = tuple(c for c in self.counts if c in out.columns)
        assert_publishable(out, counts=counts, settings=self.settings)
        return Published(out, counts, self.settings)

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
    size: str | None = SIZE_AUTO,
    totals: str | None = None,
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
       derived suppression, secondary suppression, the minimum group size.
       ``derived`` defaults to every floating-point column that is not a count;
       ``by`` to the ``dimension`` / ``measure`` columns the frame has; ``size``
       to the first of :data:`~healthgap.disclosure.SIZE_COLUMNS` (``population``,
       ``n``, ``people``, ``denominator``, ``eligible``, ``affected``, ``seen``)
       among the counts; ``totals`` to the boolean ``is_total`` column when the
       frame has one (total rows are never recognised by their label).
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
    size : the count column giving each row's group size, for the minimum group
        size (rule 9): in a row whose group has fewer than ``settings.min_group``
        people, the counts measured within the group and the values derived from
        them are withheld ("fewer than 50 people in the group"). Default
        (:data:`SIZE_AUTO`): see above; None: no minimum group size.
    totals : boolean column, True on the rows that are totals of their set
        (rule 5); default ``is_total`` when the frame has that boolean column, else
        no total rows.

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
    settings = _check_settings(settings)
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
        if size == SIZE_AUTO:
            size = next((c for c in SIZE_COLUMNS if c in counts), None)
        if totals is None and data.schema.get(TOTAL_COLUMN) == pl.Boolean:
            totals = TOTAL_COLUMN
        data = protect(
            data,
            counts=counts,
            derived={k: v for k, v in mapping.items() if v},
            by=by,
            across=list(across) if across else None,
            totals=totals,
            size=size,
            reference=_REFERENCE_TMP if relative else None,
            relative=relative,
            settings=settings,
        ).drop(_REFERENCE_TMP, strict=False)
        if upstream is not None and settings.enabled:
            data = _keep_upstream(data, upstream)
    assert_publishable(data, settings=settings)
    return Published(data, tuple(counts), settings)


def _trim_reason(text: str, kept: set[str]) -> str | None:
    """``text`` with the blanked columns that are not in ``kept`` left out of its lists."""
    parts = []
    for part in text.split("; "):
        m = _LISTED.match(part)
        if m is None or m["why"] not in _LISTING:
            parts.append(part)
            continue
        columns = [c for c in m["columns"].split(", ") if c in kept]
        if columns:
            parts.append(f"{', '.join(columns)}: {m['why']}")
    return "; ".join(parts) or None


def _trim_reasons(frame: pl.DataFrame, kept: set[str]) -> pl.DataFrame:
    """``frame`` with each ``suppression_reason*`` column naming only the blanked columns in ``kept``."""
    reasons = [
        c for c in frame.columns if c.startswith("suppression_reason") and frame.schema[c] == pl.String
    ]
    updates = []
    for c in reasons:
        texts = frame.get_column(c).drop_nulls().unique().to_list()
        trimmed = {t: _trim_reason(t, kept) for t in texts}
        updates.append(pl.col(c).replace_strict(trimmed, default=None, return_dtype=pl.String))
    return frame.with_columns(updates) if updates else frame


def _reason_of(frame: pl.DataFrame, settings: DisclosureSettings) -> pl.Expr:
    """The ``suppression_reason`` of a reshaped frame: "suppressed in the input" where a row is
    suppressed without a reason; every row "disclosure control off: ..." with protection off."""
    if not settings.enabled:
        return pl.lit(f"{OFF_PREFIX}: {settings.reason}")
    reason = (
        pl.col("suppression_reason")
        if "suppression_reason" in frame.columns
        else pl.lit(None, dtype=pl.String)
    )
    flagged = pl.col("suppressed").fill_null(False) if "suppressed" in frame.columns else pl.lit(False)
    return pl.when(flagged & reason.is_null()).then(pl.lit(REASON_INPUT)).otherwise(reason)


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
