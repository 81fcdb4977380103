"""The chapter runtime: what every page of the book calls.

Each chapter starts with one hidden cell::

    from healthgap.book import setup
    book = setup("recorded-disease")

:func:`setup` reads the environment the renderer sets for the chapter's
kernel, loads the config, shows the synthetic-data banner (and the notice
that disclosure control is off, when it is) and returns a :class:`Book`.
Everything a chapter publishes goes through :meth:`Book.figure`,
:meth:`Book.table` or :meth:`Book.download`: they apply
:func:`healthgap.disclosure.protect` first, build the chart or table only from
the protected frame, and write the same protected frame as a CSV download.

Downloads
---------
A chapter's downloads are written to ``<downloads>/<chapter>/<id>.csv``
(``<chapter>`` is the chapter slug, e.g. ``recorded-disease``; the welcome
page's slug is ``index``). Next to each CSV the runtime writes a manifest
fragment ``<downloads>/.manifest/<chapter>--<id>.json``; after every chapter
ran, :func:`write_manifest` merges the fragments into
``<downloads>/manifest.json``. Pages link to downloads relative to the page:
``{page_prefix}downloads/<chapter>/<id>.csv``.

Environment (all optional)
--------------------------
``HEALTHGAP_CONFIG``
    config file; default ``data/default.yml`` of the project.
``HEALTHGAP_CHAPTER``
    chapter slug; default the argument of :func:`setup`, else ``index``.
``HEALTHGAP_PAGE_PREFIX``
    path from the page to the site root: ``""`` for ``index``, ``"../"`` for
    pages under ``chapters/``.
``HEALTHGAP_DOWNLOADS``
    downloads folder; default ``<project>/_build/downloads``.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from healthgap.banners import disclosure_banner, synthetic_banner
from healthgap.config import Config, load_config
from healthgap.downloads import (
    FRAGMENT_DIR,
    MANIFEST_NAME,
    clear_chapter,
    download_link,
    link_text,
    write_download,
    write_manifest,
)

__all__ = [
    "Book",
    "setup",
    "group_noun",
    "write_manifest",
    "find_project",
    "synthetic_banner",
    "disclosure_banner",
    "MANIFEST_NAME",
    "FRAGMENT_DIR",
]

_ENV_CONFIG = "HEALTHGAP_CONFIG"
_ENV_CHAPTER = "HEALTHGAP_CHAPTER"
_ENV_PREFIX = "HEALTHGAP_PAGE_PREFIX"
_ENV_DOWNLOADS = "HEALTHGAP_DOWNLOADS"

_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ERR_BAD_ID = (
    "Download/figure id {id!r} is not valid: use lower-case letters, digits and hyphens "
    "(e.g. 'prevalence-imd')."
)
ERR_DUPLICATE_ID = (
    "Id {id!r} is used twice in chapter {chapter!r}; every figure, table and download "
    "in a chapter needs its own id."
)
ERR_MISSING_COUNTS = (
    "{what} {id!r}: the count columns {missing} are not in the data (columns: {columns}). "
    "Pass the names of the columns that hold counts of people or events as counts=[...]."
)
ERR_NOT_FRAME = "{what} {id!r}: data must be a polars DataFrame, got {type}."

_SKIP_NOTE = "This section is skipped because the dataset has no {what}."


def find_project(start: str | Path | None = None) -> Path:
    """Return the project folder: the nearest folder up from ``start`` with ``_quarto.yml``.

    Falls back to :func:`healthgap.config.project_root` when no ``_quarto.yml``
    is found (e.g. running a chapter's code from elsewhere).

    Parameters
    ----------
    start : folder to start from; default the current working directory.

    References
    ----------
    .. [1] Quarto project files, https://quarto.org/docs/projects/quarto-projects.html
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_quarto.yml").is_file():
            return folder
    from healthgap.config import project_root

    return project_root(here)


_PEOPLE_CACHE: dict[tuple[str, float], pl.DataFrame] = {}


@dataclass
class Book:
    """Everything a chapter needs: the config, the data and publishing helpers.

    Create it with :func:`setup`, not directly.

    Attributes
    ----------
    config : the loaded :class:`~healthgap.config.Config`.
    chapter : the chapter slug (names the downloads folder).
    page_prefix : relative path from the page to the site root.
    downloads : folder downloads are written to.
    """

    config: Config
    chapter: str
    page_prefix: str
    downloads: Path
    _ids: set[str] = field(default_factory=set, repr=False)

    # -- data ---------------------------------------------------------------
    @property
    def frame(self) -> pl.DataFrame:
        """The validated person table, collected once per kernel and cached."""
        source = Path(self.config.data.path)
        try:
            stamp = source.stat().st_mtime
        except OSError:
            stamp = 0.0
        key = (f"{self.config.path}|{source}", stamp)
        if key not in _PEOPLE_CACHE:
            from healthgap.data import load

            _PEOPLE_CACHE.clear()
            _PEOPLE_CACHE[key] = load(self.config).collect()
        return _PEOPLE_CACHE[key]

    @property
    def people(self) -> pl.LazyFrame:
        """The validated person table as a LazyFrame (backed by the cached frame)."""
        return self.frame.lazy()

    @property
    def columns(self) -> tuple[str, ...]:
        """Canonical columns present in the dataset."""
        return tuple(self.frame.columns)

    def has(self, *columns: str) -> bool:
        """Whether every one of ``columns`` is in the dataset."""
        present = set(self.frame.columns)
        return all(c in present for c in columns)

    def missing(self, *columns: str) -> list[str]:
        """The ones of ``columns`` that the dataset lacks, in the order given."""
        present = set(self.frame.columns)
        return [c for c in columns if c not in present]

    # -- text ---------------------------------------------------------------
    def each(self, label: str) -> str:
        """``"each "`` + :func:`group_noun`: ``book.each("Ethnic group")`` -> ``"each ethnic group"``."""
        return f"each {group_noun(label)}"

    def tidy(self, text: str) -> str:
        """Text to publish (a title or chart description) with its groups named naturally.

        "for each Ethnic group group" reads "for each ethnic group" and "for each
        sex group" "for each sex": wherever ``text`` says "each <dimension label>
        group" for a dimension of the config, the words become ``self.each(label)``
        (see :func:`group_noun`), and a doubled "group group" becomes "group".
        Write new text with :meth:`each`; this keeps the manifest and text
        alternatives right whatever the labels in the config are.

        Parameters
        ----------
        text : the text as the chapter wrote it.
        """
        return _tidy_groups(text, [d.label for d in self.config.dimensions])

    # -- notes --------------------------------------------------------------
    def skip(self, reason: str) -> Any:
        """A short note that a section is skipped.

        Parameters
        ----------
        reason : what the dataset lacks, e.g. ``"prescribing columns (statin)"``;
            shown as "This section is skipped because the dataset has no {reason}."
        """
        from IPython.display import HTML

        text = _SKIP_NOTE.format(what=html.escape(reason.strip().rstrip(".")))
        return HTML(f'<div class="hg-skip callout callout-note" role="note"><p>{text}</p></div>')

    def require(self, *columns: str) -> bool:
        """True when every column is present; otherwise display a skip note and return False."""
        missing = self.missing(*columns)
        if missing:
            from IPython.display import display

            from healthgap.contract import CONTRACT

            names = [f"{CONTRACT[c].label.lower()} ({c})" if c in CONTRACT else c for c in missing]
            display(self.skip(_join(names) + (" column" if len(names) == 1 else " columns")))
            return False
        return True

    # -- publishing ---------------------------------------------------------
    def protect(
        self,
        data: pl.DataFrame,
        *,
        counts: Sequence[str],
        derived: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        by: Sequence[str] | str | None = None,
        across: Sequence[str] | None = None,
        what: str = "Output",
        id: str = "",
    ) -> pl.DataFrame:
        """Apply disclosure control to an aggregated frame and check the result.

        Parameters
        ----------
        data : the aggregated frame.
        counts : count columns (suppressed when 1-7, rounded to 5).
        derived : columns computed from the counts, nulled where a count is
            suppressed: a list (for every count) or a mapping count -> columns.
            Default: every floating-point column that is not a count (rates,
            intervals, ratios), so nothing derived from a suppressed cell leaks.
        by : columns whose groups are independent tables; default those of
            ``dimension``/``measure`` that the frame has.
        across : dimension columns of a cross-tabulation (see ``protect``).

        Rows the input already marks ``suppressed`` (e.g. a pivot of the
        fairness audit's protected results, whose values are null because an
        earlier step suppressed their counts) stay marked, so their empty cells
        show "[c]" as they do in the charts, not "[x]".

        Rate ratios against a reference group (``rate_ratio``, ``rr_lower``,
        ``rr_upper``) are hidden in a whole group when its reference row has a
        suppressed count (they would give that row's rate back). The reference
        row is the one with ``is_reference`` True, or, without that column, the
        one whose ``rate_ratio`` is exactly 1 with no interval (how
        :func:`healthgap.stats.rate_ratio` marks it).

        References
        ----------
        .. [1] Hundepool A et al. (2012). Statistical Disclosure Control. Wiley, ch. 5.
        """
        from healthgap.disclosure import assert_publishable, protect

        if not isinstance(data, pl.DataFrame):
            raise TypeError(ERR_NOT_FRAME.format(what=what, id=id, type=type(data).__name__))
        counts = list(counts)
        missing = [c for c in counts if c not in data.columns]
        if missing:
            raise KeyError(
                ERR_MISSING_COUNTS.format(what=what, id=id, missing=missing, columns=", ".join(data.columns))
            )
        if counts:
            if derived is None:
                derived = [
                    c
                    for c, t in data.schema.items()
                    if t.is_float() and c not in counts and c != "confidence"
                ]
            mapping = (
                {k: list(v) for k, v in derived.items()}
                if isinstance(derived, Mapping)
                else {c: list(derived) for c in counts}
            )
            if by is None:
                by = [c for c in ("dimension", "measure") if c in data.columns]
            by = [by] if isinstance(by, str) else list(by)
            relative = [c for c in _RELATIVE if c in data.columns and c not in by]
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
                settings=self.config.disclosure,
            ).drop(_REFERENCE_TMP, strict=False)
            if upstream is not None and self.config.disclosure.enabled:
                data = _keep_upstream(data, upstream)
        assert_publishable(data, settings=self.config.disclosure)
        return data

    def figure(
        self,
        chart: Callable[[pl.DataFrame], Any] | Any,
        *,
        id: str,
        title: str,
        description: str,
        data: pl.DataFrame,
        counts: Sequence[str],
        derived: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        by: Sequence[str] | str | None = None,
        across: Sequence[str] | None = None,
        columns: Mapping[str, str] | None = None,
        formats: Mapping[str, str | tuple[str, int]] | None = None,
    ) -> Any:
        """Publish a chart with its text alternative, data table and CSV download.

        Parameters
        ----------
        chart : a callable that builds the Altair chart from the *protected*
            frame (preferred), or a finished chart, which must then pass
            :func:`healthgap.disclosure.assert_publishable`.
        id : figure id (lower-case, hyphens); names the download file.
        title : short title, also the download's title in the manifest.
        description : text alternative describing what the chart shows.
        data : the aggregated frame behind the chart.
        counts : columns of ``data`` holding counts (suppressed and rounded).
        derived, by, across : as for :meth:`protect`.
        columns, formats : columns (and number formats) of the "show the
            numbers" table under the chart; default every column.

        Returns
        -------
        IPython.display.HTML
            The figure markup from :func:`healthgap.charts.figure_html`.

        References
        ----------
        .. [1] W3C, Web Content Accessibility Guidelines 2.2, SC 1.1.1 Non-text content.
        """
        from IPython.display import HTML

        from healthgap.charts import figure_html
        from healthgap.disclosure import assert_publishable

        title, description = self.tidy(title), self.tidy(description)
        protected = self._claim_and_protect(
            data, id=id, what="Figure", counts=counts, derived=derived, by=by, across=across
        )
        spec = chart(protected) if _is_builder(chart) else chart
        assert_publishable(spec, settings=self.config.disclosure)
        href = self._write(protected, id=id, title=title, kind="figure", description=description)
        markup = figure_html(
            spec,
            id=id,
            title=title,
            description=description,
            data=protected,
            download_href=href,
            asset_prefix=self.page_prefix,
            columns=columns,
            formats=formats,
            own_caption=not _under_quarto(),
        )
        return HTML(markup)

    def table(
        self,
        df: pl.DataFrame,
        *,
        id: str,
        title: str,
        counts: Sequence[str],
        derived: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        by: Sequence[str] | str | None = None,
        across: Sequence[str] | None = None,
        columns: dict[str, str] | None = None,
        formats: Mapping[str, str | tuple[str, int]] | None = None,
        note: str | None = None,
        download: bool = True,
    ) -> Any:
        """Publish a table (and its CSV download) after disclosure control.

        Parameters
        ----------
        df : the aggregated frame.
        id, title : table id and caption.
        counts, derived, by, across : as for :meth:`protect`. ``counts=[]`` marks a
            table without counts of people (e.g. the data dictionary).
        columns : columns to show, optionally mapped to display headings.
        formats : per-column number formats for :func:`healthgap.tables.table_html`.
        note : footnote under the table.
        download : also write the protected frame as a CSV download.

        References
        ----------
        .. [1] W3C, WCAG 2.2 Technique H51: Using table markup to present tabular information.
        """
        from IPython.display import HTML

        from healthgap.tables import table_html

        title = self.tidy(title)
        protected = self._claim_and_protect(
            df, id=id, what="Table", counts=counts, derived=derived, by=by, across=across
        )
        markup = table_html(protected, id=id, caption=title, columns=columns, formats=formats, note=note)
        if download:
            href = self._write(protected, id=id, title=title, kind="table")
            markup += download_link(href, link_text(title, kind="table"))
        return HTML(markup)

    def download(
        self,
        df: pl.DataFrame,
        *,
        id: str,
        title: str,
        counts: Sequence[str],
        derived: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        by: Sequence[str] | str | None = None,
        across: Sequence[str] | None = None,
    ) -> Any:
        """Write a protected CSV download and return a link to it."""
        from IPython.display import HTML

        title = self.tidy(title)
        protected = self._claim_and_protect(
            df, id=id, what="Download", counts=counts, derived=derived, by=by, across=across
        )
        href = self._write(protected, id=id, title=title, kind="data")
        return HTML(download_link(href, link_text(title, kind="data")))

    # -- internals ----------------------------------------------------------
    def _claim_and_protect(self, data: pl.DataFrame, *, id: str, what: str, **protect: Any) -> pl.DataFrame:
        """Reserve ``id`` in this chapter and return ``data`` after :meth:`protect`."""
        self._claim(id)
        return self.protect(data, what=what, id=id, **protect)

    def _claim(self, id: str) -> None:
        if not isinstance(id, str) or not _ID_PATTERN.match(id):
            raise ValueError(ERR_BAD_ID.format(id=id))
        if id in self._ids:
            raise ValueError(ERR_DUPLICATE_ID.format(id=id, chapter=self.chapter))
        self._ids.add(id)

    def _write(
        self, df: pl.DataFrame, *, id: str, title: str, kind: str, description: str | None = None
    ) -> str:
        rel = write_download(
            df,
            self.downloads,
            chapter=self.chapter,
            id=id,
            title=title,
            kind=kind,
            synthetic=bool(self.config.data.synthetic),
            description=description,
        )
        return f"{self.page_prefix}downloads/{rel}"


_RELATIVE = ("rate_ratio", "rr_lower", "rr_upper")
_REFERENCE_TMP = "__hg_is_reference"


def _upstream_suppressed(data: pl.DataFrame) -> pl.Series | None:
    """The input's own ``suppressed`` flags (Boolean), when some row is already suppressed."""
    if "suppressed" not in data.columns or data.schema["suppressed"] != pl.Boolean:
        return None
    flags = data.get_column("suppressed").fill_null(False)
    return flags if flags.any() else None


def _keep_upstream(data: pl.DataFrame, upstream: pl.Series) -> pl.DataFrame:
    """``data`` (protected, same rows in the same order) with the input's suppressed rows still marked."""
    from healthgap.disclosure import REASON_INPUT

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


def group_noun(label: str) -> str:
    """How a sentence names one group of an equity dimension, from the dimension's label.

    The label is lower-cased for mid-sentence use (acronyms kept) and is the
    noun itself when it names a group ("Ethnic group" -> "ethnic group", "Sex"
    -> "sex", "Age band" -> "age band", "Locality" -> "locality"); "group" is
    added only when the label ends with a qualifier in brackets, which is not a
    noun of its own ("Deprivation (IMD quintile)" -> "deprivation (IMD quintile)
    group"). Never "ethnic group group".

    Parameters
    ----------
    label : the dimension's display label, as in the config.

    Returns
    -------
    str
        Use as ``f"for each {group_noun(label)}"``.
    """
    words = " ".join(str(label).split())
    first = words.split(" ", 1)[0]
    if not any(ch.isupper() for ch in first[1:]):
        words = words[:1].lower() + words[1:]
    if words.endswith(")"):
        return f"{words} group"
    return words


_DOUBLED_GROUP = re.compile(r"\b(groups?) group\b", flags=re.IGNORECASE)


def _tidy_groups(text: str, labels: Sequence[str]) -> str:
    """``text`` with "each <label> group" as "each <group_noun(label)>" and "group group" as "group"."""
    if not isinstance(text, str) or "group" not in text:
        return text
    for label in sorted({" ".join(str(x).split()) for x in labels if str(x).strip()}, key=len, reverse=True):
        pattern = re.compile(r"\beach " + re.escape(label) + r" group\b", flags=re.IGNORECASE)
        text = pattern.sub(lambda _m, lab=label: f"each {group_noun(lab)}", text)
    return _DOUBLED_GROUP.sub(lambda m: m.group(1), text)


def _under_quarto() -> bool:
    """True when Quarto executes the chapter: it numbers figure captions itself from ``fig-cap``."""
    return any(
        os.environ.get(v) for v in ("QUARTO_DOCUMENT_PATH", "QUARTO_DOCUMENT_FILE", "QUARTO_EXECUTE_INFO")
    )


def _is_builder(chart: Any) -> bool:
    return callable(chart) and not hasattr(chart, "to_dict")


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def setup(chapter: str | None = None, *, display_banners: bool = True) -> Book:
    """Start a chapter: load the config, show the banners, return a :class:`Book`.

    Parameters
    ----------
    chapter : chapter slug; ``$HEALTHGAP_CHAPTER`` wins when set (the renderer
        knows the file name), else this, else ``"index"``.
    display_banners : display the synthetic-data banner and the
        disclosure-off notice (on every page; turn off only in tests).

    Returns
    -------
    Book

    References
    ----------
    .. [1] Office for Statistics Regulation, Code of Practice for Statistics, T3.8
       (clear labelling of experimental/synthetic statistics).
    """
    slug = os.environ.get(_ENV_CHAPTER, "").strip() or chapter or "index"
    config_path = os.environ.get(_ENV_CONFIG, "").strip() or None
    config = load_config(config_path)
    prefix = os.environ.get(_ENV_PREFIX)
    if prefix is None:
        prefix = "" if slug == "index" else "../"
    env_downloads = os.environ.get(_ENV_DOWNLOADS, "").strip()
    downloads = (Path(env_downloads) if env_downloads else find_project() / "_build" / "downloads").resolve()
    downloads.mkdir(parents=True, exist_ok=True)
    clear_chapter(downloads, slug)
    book = Book(config=config, chapter=slug, page_prefix=prefix, downloads=downloads)
    if display_banners:
        from IPython.display import HTML, display

        if config.data.synthetic:
            display(HTML(synthetic_banner(known_answer=config.data.truth is not None)))
        if not config.disclosure.enabled:
            display(HTML(disclosure_banner(config)))
    return book
