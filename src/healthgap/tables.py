"""Accessible HTML tables and number formatting for the book.

API
---
- :func:`table_html` -- an accessible ``<table>`` from an aggregated, protected frame.
- :func:`format_expr` -- a polars expression formatting numbers as text
  ("1,234", "12.3", "12.3%").
- :func:`format_number` -- the same formatting for one number, for sentences.
- :func:`missing_reasons` -- why the "[x]" values of a frame are missing, in plain English.
- ``SUPPRESSED_MARK`` ("[c]"), ``MISSING_MARK`` ("[x]"), ``NOT_APPLICABLE_MARK`` ("[z]"), ``STYLES``.

Shorthand follows the Government Analysis Function guidance: "[c]" marks a
value withheld to protect confidentiality (a null value in a row that
:func:`healthgap.disclosure.protect` marked ``suppressed``), "[x]" a value not
available for another reason. Charts (:mod:`healthgap.charts`) use the same two
marks with the same meaning. The key under a table gives the real reason for
"[x]" when the frame says it: the ``note`` column the statistics functions
write (e.g. "total events < 10": a rate is not calculated from fewer than 10
events) or a reference row, whose rate ratio is 1 by definition and has no interval.

References
----------
.. [1] Government Analysis Function. Using symbols and shorthand in tables (2021).
.. [2] W3C WAI. Tables tutorial: tables with one header, captions and summaries.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import cast

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.disclosure import (
    OFF_PREFIX,
    REASON_CONFIDENTIAL,
    REASON_DERIVED,
    REASON_INPUT,
    REASON_REFERENCE,
    assert_publishable,
)
from healthgap.text import STYLES, Style, _check_style, format_expr, format_number, join, lower_first

__all__ = [
    "table_html",
    "under_quarto",
    "format_expr",
    "format_number",
    "reason_notes",
    "missing_reasons",
    "missing_rows",
    "SUPPRESSED_MARK",
    "MISSING_MARK",
    "NOT_APPLICABLE_MARK",
    "STYLES",
    "NOT_AVAILABLE",
    "FEW_EVENTS",
]

SUPPRESSED_MARK = "[c]"
MISSING_MARK = "[x]"
#: A value that does not apply: the interval of a reference group's rate ratio (always 1).
NOT_APPLICABLE_MARK = "[z]"
_BOOKKEEPING = ("suppressed", "suppression_reason")
#: A text column whose longest value has more characters than this is a column of sentences:
#: its cells get the class ``hg-long`` (a minimum width in the theme).
LONG_TEXT = 60

#: Why a value is "[x]" when nothing more specific is known.
NOT_AVAILABLE = "Not available"
#: Why a directly standardised rate is "[x]": fewer than ``MIN_EVENTS`` (10) events, the
#: threshold below which Fingertips does not publish a DSR (see :mod:`healthgap.stats.dsr`).
FEW_EVENTS = "Not calculated: fewer than 10 events"
#: Why the rate-ratio interval of a reference row is "[z]".
REFERENCE_ROW = "Not applicable: the reference group's rate ratio is 1 by definition, with no interval"
#: Added to :data:`FEW_EVENTS` when such a row shows a rounded count of 10 or more.
ROUNDED_COUNTS = (
    "Counts are rounded to protect confidentiality, so a group with fewer than 10 events can show 10."
)
#: The ``note`` column may carry these reasons for a missing value; the key is the
#: constant of :mod:`healthgap.stats` (read lazily: importing the stats loads scipy).
_NOTE_REASONS = {
    ("dsr", "NOTE_FEW_EVENTS"): FEW_EVENTS,
    ("compare", "NOTE_REFERENCE"): REFERENCE_ROW,
    ("compare", "NOTE_NO_REFERENCE"): "Not calculated: the reference group has no value here",
    ("compare", "NOTE_ZERO_REFERENCE_EVENTS"): "Not calculated: the reference group has no events",
    ("compare", "NOTE_NOT_COMPUTED"): "Not calculated: this group has no rate",
    ("rates", "NOTE_ZERO_POPULATION"): "Not calculated: no people in the group",
    ("proportions", "NOTE_ZERO_DENOMINATOR"): "Not calculated: no people in the group",
}
_RELATIVE_CI = ("rr_lower", "rr_upper")

ERR_COLUMNS = "table_html(): column(s) {missing} are not in the table (columns: {present})."
ERR_ID = "table_html(): `id` must be a non-empty string without spaces, e.g. 'rates-by-imd'; got {id!r}."
ERR_GROUP = (
    "table_html(): `group` column {group!r} is not in the table (columns: {present}). Pass a column whose "
    "value is shared by consecutive rows, e.g. group='dimension_label'."
)
#: Plain-English footnotes for the disclosure reasons of :mod:`healthgap.disclosure`.
#: ``{what}`` is the list of affected columns under their display labels.
_REASON_TEXT = {
    REASON_DERIVED: "{what} not shown because {verb} from a suppressed count.",
    REASON_REFERENCE: "{what} not shown because the group {pronoun} compared with is suppressed.",
    REASON_CONFIDENTIAL: "Small counts are not shown, nor other counts from which a small count could be worked out.",
    REASON_INPUT: "Some counts were already withheld at an earlier step of the analysis.",
}


#: Set by Quarto (1.5 and later) in the environment of every document it executes.
QUARTO_VARIABLES = ("QUARTO_DOCUMENT_PATH", "QUARTO_DOCUMENT_FILE", "QUARTO_EXECUTE_INFO")


def under_quarto() -> bool:
    """True when Quarto executes the page: Quarto then writes the numbered caption of a
    ``tbl-``/``fig-`` cell itself, from its ``tbl-cap``/``fig-cap``.

    Quarto sets ``QUARTO_DOCUMENT_PATH``, ``QUARTO_DOCUMENT_FILE`` and ``QUARTO_EXECUTE_INFO``
    for the kernel from version 1.5 (``src/execute/environment.ts``); the built-in renderer
    sets none of them.

    References
    ----------
    .. [1] Quarto, "Execution environment", https://quarto.org/docs/computations/execution-options.html
    """
    return any(os.environ.get(name) for name in QUARTO_VARIABLES)


def _escape(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all('"', "&quot;", literal=True)
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _class_attr(classes: list[str]) -> str:
    return f' class="{" ".join(classes)}"' if classes else ""


def _default_style(name: str, dtype: pl.DataType) -> tuple[str, int | None]:
    if dtype.is_integer():
        return "integer", None
    if dtype.is_float():
        return ("ratio", None) if "ratio" in name.lower() else ("number", None)
    return "text", None


def table_html(
    df: pl.DataFrame,
    *,
    id: str,
    caption: str,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    formats: Mapping[str, str | tuple[str, int]] | None = None,
    note: str | None = None,
    group: str | None = None,
    settings: DisclosureSettings | None = None,
    own_caption: bool | None = None,
) -> str:
    """An accessible HTML table of an aggregated, disclosure-protected frame.

    Parameters
    ----------
    df : the table; checked with :func:`healthgap.disclosure.assert_publishable`
        against ``settings``.
    id : HTML id of the table wrapper.
    caption : the ``<caption>`` text.
    columns : column -> label (or a list of columns). When given, only these
        columns are shown, in this order; otherwise every column except the
        disclosure bookkeeping columns.
    formats : column -> style (see :func:`format_expr`) or (style, decimal places).
        Defaults: integers ``"integer"``, floats ``"number"`` (1 dp), ratios 2 dp.
    note : an extra footnote shown under the table.
    group : a column whose value is shared by runs of consecutive rows (e.g. the
        equity dimension of each group). It is not repeated in every row: each run
        becomes a ``<tbody>`` headed by one row ``<th scope="rowgroup">`` naming it,
        and the column is left out of the body.
    settings : the config's disclosure settings, which the check uses (pass
        ``config.disclosure``: under ``suppress_below: 6`` a count of 6 is published,
        under 11 a count of 9 is not); the default settings when None. The "[c]"
        footnote then names the suppressed range ("Counts from 1 to 7 ...").
    own_caption : write ``caption`` as the table's ``<caption>``. False when the page's
        renderer shows the cell's ``tbl-cap`` as the numbered caption itself, so the title
        is not shown twice: the table is then named by ``aria-label``. Default
        (None): False under Quarto (:func:`under_quarto`), True otherwise (the built-in
        renderer puts the number into this caption).

    Returns
    -------
    str
        HTML: a keyboard-focusable scroll region (``role="region"``, ``tabindex="0"``, named by
        ``aria-label``) holding a ``<table>`` with ``<caption>``,
        ``<th scope="col">`` headers, the first column (unless it holds decimals) as row headers,
        numbers right-aligned, suppressed cells shown as "[c]" and not-available
        cells as "[x]", with footnotes explaining each mark used. The "[c]" footnote
        says in plain English why values are withheld, once per reason, naming the
        columns by their display labels.

    Raises
    ------
    ValueError
        Unknown columns, styles or a bad id.
    healthgap.disclosure.DisclosureError
        Person-level data or unprotected small counts.

    References
    ----------
    .. [1] W3C WAI Tables tutorial, https://www.w3.org/WAI/tutorials/tables/
    .. [2] Government Analysis Function. Using symbols and shorthand in tables.
    """
    if not isinstance(id, str) or not id.strip() or any(ch.isspace() for ch in id):
        raise ValueError(ERR_ID.format(id=id))
    assert_publishable(df, settings=settings)
    if columns is None:
        labels = {c: c for c in df.columns if not c.startswith(_BOOKKEEPING)}
    elif isinstance(columns, Mapping):
        labels = dict(columns)
    else:  # a list of column names: shown under their own names
        labels = {c: c for c in ([columns] if isinstance(columns, str) else columns)}
    missing = [c for c in [*labels, *(formats or {})] if c not in df.columns]
    if missing:
        raise ValueError(ERR_COLUMNS.format(missing=missing, present=", ".join(df.columns)))
    if group is not None:
        if group not in df.columns:
            raise ValueError(ERR_GROUP.format(group=group, present=", ".join(df.columns)))
        labels.pop(group, None)
    suppressed = pl.col("suppressed").fill_null(False) if "suppressed" in df.columns else pl.lit(False)
    styles: dict[str, tuple[Style, int]] = {}
    for c in labels:
        spec = (formats or {}).get(c) or _default_style(c, df.schema[c])
        name, given_dp = (spec, None) if isinstance(spec, str) else spec
        checked_dp = _check_style(name, given_dp, where=f"column {c!r}")  # raises unless one of STYLES
        styles[c] = (cast(Style, name), checked_dp)
    numeric = {c for c in labels if df.schema[c].is_numeric() and styles[c][0] != "text"}
    # the first column names the row (a group label, or a code such as an IMD quintile)
    first = next(iter(labels), None)
    first_text = first if first is not None and not df.schema[first].is_float() else None
    numeric.discard(first_text)
    reference = _reference_rows(df, list(labels))
    # columns of sentences (a description) keep a readable width when the table is squeezed
    texts = [c for c in labels if c not in numeric and df.schema[c] == pl.String]
    lengths = df.select(pl.col(texts).str.len_chars().max()).row(0) if texts and df.height else ()
    long = {c for c, n in zip(texts, lengths) if n is not None and n > LONG_TEXT}
    cells = []
    for c in labels:
        style, dp = styles[c]
        if df.schema[c] == pl.Boolean:
            text = pl.when(pl.col(c)).then(pl.lit("Yes")).otherwise(pl.lit("No"))
        else:
            text = _escape(format_expr(c, style=style, dp=dp))
            if c not in numeric:  # a code such as days_to_first_outpatient may break after "_"
                text = text.str.replace_all("_", "_<wbr>", literal=True)
        hidden_mark = pl.when(suppressed).then(pl.lit(SUPPRESSED_MARK))
        mark = (
            hidden_mark.when(reference).then(pl.lit(NOT_APPLICABLE_MARK)).otherwise(pl.lit(MISSING_MARK))
            if c in _RELATIVE_CI
            else hidden_mark.otherwise(pl.lit(MISSING_MARK))
        )
        shown = pl.when(pl.col(c).is_null()).then(mark).otherwise(text)
        if c == first_text:
            tag, classes, attrs = "th", [], ' scope="row"'
        elif c in numeric:
            tag, classes, attrs = "td", ["hg-num"], ' style="text-align:right"'
        else:
            tag, classes, attrs = "td", ["hg-long"] if c in long else [], ""
        plain = f"<{tag}{_class_attr(classes)}{attrs}>"
        hidden = f"<{tag}{_class_attr([*classes, 'hg-suppressed'])}{attrs}>"
        open_ = pl.when(pl.col(c).is_null() & suppressed).then(pl.lit(hidden)).otherwise(pl.lit(plain))
        cells += [open_, shown, pl.lit(f"</{tag}>")]
    row = pl.concat_str([pl.lit("<tr>"), *cells, pl.lit("</tr>")])
    if not df.height:
        body = "<tbody>\n\n</tbody>"
    elif group is None:
        body = "<tbody>\n" + df.select(row.str.join("\n")).item() + "\n</tbody>"
    else:
        body = _grouped_body(df, row, group=group, width=len(labels))
    marks = (
        df.select(
            (pl.any_horizontal([pl.col(c).is_null() for c in labels]) & suppressed).any().alias("c"),
            (pl.any_horizontal([pl.col(c).is_null() for c in labels]) & ~suppressed).any().alias("x"),
        ).row(0)
        if labels and df.height
        else (False, False)
    )
    notes = []
    reasons: list[str] = []
    if "suppression_reason" in df.columns:
        reasons = (
            df.filter(pl.col("suppression_reason").is_not_null())
            .select(pl.col("suppression_reason").unique(maintain_order=True))
            .to_series()
            .to_list()
        )
    off = [r for r in reasons if r.startswith(OFF_PREFIX)]
    if off:
        notes.append(f"Disclosure control was off for this table ({_esc(off[0])}).")
    if marks[0]:
        why = " ".join(
            _esc(t)
            for t in reason_notes(
                [r for r in reasons if not r.startswith(OFF_PREFIX)],
                labels=labels,
                columns=df.columns,
                settings=settings,
            )
        )
        notes.append(f"{SUPPRESSED_MARK} Suppressed to protect confidentiality." + (f" {why}" if why else ""))
    if marks[1]:
        for why in missing_reasons(df, columns=list(labels)):
            if why == REFERENCE_ROW:
                notes.append(_esc(f"{NOT_APPLICABLE_MARK} {why}."))
                continue
            line = f"{MISSING_MARK} {why}."
            if why == FEW_EVENTS and _shows_rounded_ten(df, labels=labels, numeric=numeric):
                line += f" {ROUNDED_COUNTS}"
            notes.append(_esc(line))
    if note:
        notes.append(_esc(note))
    num_attr = ' class="hg-num" style="text-align:right"'
    head = "".join(
        f'<th scope="col"{num_attr if c in numeric else ""}>{_esc(label)}</th>' for c, label in labels.items()
    )
    if own_caption is None:
        own_caption = not under_quarto()
    foot = "".join(f'<p class="hg-table-note">{n}</p>' for n in notes)
    # Names that survive Quarto, which re-reads every raw HTML table with pandoc (HTML -> AST
    # -> HTML): pandoc keeps a table's <caption> text but drops its id, so an aria-labelledby
    # pointing at the caption would name nothing; aria-label attributes are kept.
    name = _esc(caption)
    title = f'<caption id="{_esc(id)}-caption">{name}</caption>\n' if own_caption else ""
    label = "" if own_caption else f' aria-label="{name}"'
    return (
        f'<div class="hg-table" id="{_esc(id)}" role="region" aria-label="{name}" tabindex="0" '
        f'style="overflow-x:auto">\n<table style="font-variant-numeric:tabular-nums"{label}>\n{title}'
        f"<thead><tr>{head}</tr></thead>\n{body}\n</table>\n{foot}</div>"
    )


def _note_reasons() -> dict[str, str]:
    """``note`` text written by the statistics functions -> the reason shown for "[x]"."""
    import importlib

    out = {}
    for (module, name), why in _NOTE_REASONS.items():
        note = getattr(importlib.import_module(f"healthgap.stats.{module}"), name, None)
        if isinstance(note, str):
            out[note] = why
    return out


def _missing_reason_expr(df: pl.DataFrame, cols: Sequence[str]) -> pl.Expr:
    """Each row's reason for its "[x]" values among ``cols`` (the plain "Not available" when none is known)."""
    reason = pl.lit(None, dtype=pl.String)
    if "note" in df.columns and df.schema["note"] == pl.String and df["note"].null_count() < df.height:
        known = _note_reasons()
        note = pl.col("note").str.strip_chars()
        reason = note.replace_strict(known, default=None, return_dtype=pl.String)
        # a note the book does not know is still the best explanation there is
        reason = reason.fill_null(pl.when(note.str.len_chars() > 0).then(pl.lit(f"{NOT_AVAILABLE}: ") + note))
    reason = reason.fill_null(pl.when(_reference_rows(df, cols)).then(pl.lit(REFERENCE_ROW)))
    return reason.fill_null(pl.lit(NOT_AVAILABLE))


def _reference_rows(df: pl.DataFrame, cols: Sequence[str]) -> pl.Expr:
    """True on reference rows whose only missing values among ``cols`` are the rate-ratio interval."""
    if not ("rate_ratio" in df.columns and all(c in df.columns for c in _RELATIVE_CI)):
        return pl.lit(False)
    if "is_reference" in df.columns and df.schema["is_reference"] == pl.Boolean:
        ref = pl.col("is_reference").fill_null(False)
    else:
        ref = (pl.col("rate_ratio") == 1.0) & pl.col("rr_lower").is_null() & pl.col("rr_upper").is_null()
    # only the interval is missing on a reference row: any other gap has another cause
    others = [pl.col(c).is_null() for c in cols if c not in _RELATIVE_CI]
    if others:
        ref = ref & ~pl.any_horizontal(others)
    return ref.fill_null(False)


def missing_reasons(df: pl.DataFrame, *, columns: Sequence[str]) -> list[str]:
    """Why the "[x]" values of ``columns`` are missing: plain-English reasons, each once.

    A value is "[x]" when it is null in a row that is not ``suppressed`` (a null
    in a suppressed row is "[c]"). The reason comes from the row's ``note``
    column when it has one (e.g. the note "total events < 10" of
    :func:`healthgap.stats.dsr` gives :data:`FEW_EVENTS`), then from the row
    being the reference group of a rate ratio (its interval columns
    ``rr_lower``/``rr_upper`` are null by definition), else :data:`NOT_AVAILABLE`.

    Parameters
    ----------
    df : the (protected) frame.
    columns : the columns shown.

    Returns
    -------
    list of str
        Reasons without a final full stop, in order of first appearance,
        e.g. ``["Not calculated: fewer than 10 events"]``; empty when no shown
        value is "[x]".

    References
    ----------
    .. [1] Government Analysis Function. Using symbols and shorthand in tables (2021).
    .. [2] Office for Health Improvement and Disparities. Fingertips: rates are not
       published for fewer than 10 events.
    """
    return missing_rows(df, columns=columns).get_column("why").unique(maintain_order=True).to_list()


def missing_rows(df: pl.DataFrame, *, columns: Sequence[str]) -> pl.DataFrame:
    """The rows of ``df`` with an "[x]" among ``columns`` (a null in a row that is not
    ``suppressed``), with each row's reason in a column ``why`` (as :func:`missing_reasons`
    words it); no rows when none is "[x]"."""
    cols = [c for c in columns if c in df.columns]
    if not cols or not df.height:
        return df.head(0).with_columns(pl.lit(None, dtype=pl.String).alias("why"))
    suppressed = pl.col("suppressed").fill_null(False) if "suppressed" in df.columns else pl.lit(False)
    rows = df.filter(pl.any_horizontal([pl.col(c).is_null() for c in cols]) & ~suppressed)
    return rows.with_columns(_missing_reason_expr(rows, cols).alias("why"))


def _shows_rounded_ten(df: pl.DataFrame, *, labels: Mapping[str, str], numeric: set[str]) -> bool:
    """Whether a row not calculated for fewer than 10 events shows a whole-number count of 10 or more."""
    counts = [c for c in labels if c in numeric and df.schema[c].is_integer()]
    if not counts:
        return False
    few = _missing_reason_expr(df, list(labels)) == FEW_EVENTS
    return df.filter(few & pl.any_horizontal([pl.col(c) >= 10 for c in counts])).height > 0


def _grouped_body(df: pl.DataFrame, row: pl.Expr, *, group: str, width: int) -> str:
    """One ``<tbody>`` per run of equal ``group`` values, headed by a row group header."""
    name = pl.col(group).cast(pl.String).fill_null(MISSING_MARK)
    runs = (
        df.select(
            (name != name.shift()).fill_null(True).cum_sum().alias("__run"),
            _escape(name).alias("__name"),
            row.alias("__row"),
        )
        .group_by("__run", maintain_order=True)
        .agg(pl.col("__name").first(), pl.col("__row").str.join("\n"))
    )
    head = pl.concat_str(
        [
            pl.lit(
                f'<tbody>\n<tr class="hg-group"><th scope="rowgroup" colspan="{max(width, 1)}" style="text-align:left">'
            ),
            pl.col("__name"),
            pl.lit("</th></tr>\n"),
            pl.col("__row"),
            pl.lit("\n</tbody>"),
        ]
    )
    return runs.select(head.str.join("\n")).item()


_COLUMNS_PART = re.compile(r"^(?P<cols>[\w ]+(?:, [\w ]+)*): (?P<why>.+)$")
_MIN_GROUP = re.compile(r"^fewer than (?P<n>\d+) people in the group$")


def _is_count_reason(why: str) -> bool:
    """Whether ``why`` is the reason of a withheld count (it names no columns of its own)."""
    return why in (REASON_CONFIDENTIAL, REASON_INPUT) or bool(_MIN_GROUP.match(why))


def _named(cols: list[str], labels: Mapping[str, str]) -> list[str]:
    """Display labels of the shown columns, a "Lower X" / "Upper X" pair read as one "X" (CI spelled out)."""
    names = [labels[c] for c in cols if c in labels]
    out: list[str] = []
    for n in names:
        if (n.startswith("Upper ") and f"Lower {n[6:]}" in names) or (
            n.endswith(" upper") and f"{n[:-6]} lower" in names
        ):
            continue
        if (
            n.startswith("Lower ") and f"Upper {n[6:]}" in names
        ):  # "Lower 95% CI" -> "95% confidence interval"
            n = n[6:].replace("CI", "confidence interval")
        elif n.endswith(" lower") and f"{n[:-6]} upper" in names:  # "RR lower" -> "RR confidence interval"
            n = f"{n[:-6]} confidence interval"
        out.append(n)
    return list(dict.fromkeys(out))


def _join(items: list[str]) -> str:
    return join([items[0], *(lower_first(i) for i in items[1:])])


def reason_notes(
    reasons: Sequence[str],
    *,
    labels: Mapping[str, str],
    columns: Sequence[str],
    settings: DisclosureSettings | None = None,
) -> list[str]:
    """Plain-English sentences, one per distinct reason, for the "[c]" footnote of a table.

    Parameters
    ----------
    reasons : the distinct ``suppression_reason`` texts of the table's rows, as
        written by :func:`healthgap.disclosure.protect` (e.g. ``"n: count of 1-7;
        value, lower_ci: derived from a suppressed count"``).
    labels : column -> display label of the columns shown.
    columns : every column of the table (to tell column lists from reason text).
    settings : the disclosure settings, to name the suppressed range ("Counts
        from 1 to 7 are not shown, ..."); without them "Small counts ...".

    Returns
    -------
    list of str
        Each reason once, in the order confidentiality (primary and secondary
        suppression, one reason so that the small count is not told from the
        others), group size, input, derived, reference, other; columns named by their labels, e.g. ``"Rate and 95%
        confidence interval not shown because they come from a suppressed count."``.

    References
    ----------
    .. [1] Government Analysis Function. Using symbols and shorthand in tables (2021).
    """
    known = set(columns)
    found: dict[str, list[str]] = {}
    for text in reasons:
        for part in (p.strip() for p in text.split(";")):
            m = _COLUMNS_PART.match(part)
            cols = m["cols"].split(", ") if m else []
            # a count's own reason ("cases: suppressed to ...") reads the same for a count not shown
            if m and (all(c in known for c in cols) or _is_count_reason(m["why"])):
                why = m["why"]
            else:
                why, cols = part, []
            found.setdefault(why, [])
            found[why] += [c for c in cols if c not in found[why]]
    out: list[str] = []
    small = {w: m for w in found if (m := _MIN_GROUP.match(w))}
    order = [REASON_CONFIDENTIAL, *small, REASON_INPUT, REASON_DERIVED, REASON_REFERENCE]
    for why in [*order, *(w for w in found if w not in order)]:
        if why not in found:
            continue
        names = _named(found[why], labels)
        if why == REASON_CONFIDENTIAL and settings is not None and settings.enabled:
            out.append(
                f"Counts from 1 to {settings.suppress_below - 1} are not shown, nor other counts from which "
                "one of them could be worked out."
            )
        elif why in small:
            out.append(
                f"Groups of fewer than {small[why]['n']} people show no counts or rates within them, at most "
                "their size."
            )
        elif why in (REASON_CONFIDENTIAL, REASON_INPUT):
            out.append(_REASON_TEXT[why])
        elif why in _REASON_TEXT:
            if not names:
                continue
            many = len(names) > 1 or names[0].endswith("s")
            out.append(
                _REASON_TEXT[why].format(
                    what=_join(names),
                    verb="they come" if many else "it comes",
                    pronoun="they are" if many else "it is",
                )
            )
        else:
            out.append(why[:1].upper() + why[1:] + ("" if why.endswith(".") else "."))
    return out
