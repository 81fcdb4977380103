"""The chapter runtime: what every page of the book calls.

Each chapter starts with one hidden cell::

    from healthgap.book import setup
    book = setup("recorded-disease")

:func:`setup` reads the environment the renderer sets for the chapter's
kernel, loads the config, shows the synthetic-data banner (and the notice
that disclosure control is off, when it is) and returns a :class:`Book`: the
chapter runtime (config, data, output paths). Pages (:mod:`healthgap.pages`)
publish an aggregated frame once with :meth:`Book.publish`
(:func:`healthgap.disclosure.publish`) and pass the :class:`Published` result to
:meth:`Book.figure`, :meth:`Book.table` and :meth:`Book.download`, which build
the chart, table and CSV download only from it.

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
    config file; default ``data/default.yml`` of the project. A relative path is relative
    to the project folder (the one with ``_quarto.yml``), not to the page's folder: Quarto
    runs each page in the page's own folder (``chapters/``), so
    ``HEALTHGAP_CONFIG=data/examples/other_trust.yml quarto render`` works from the project folder.
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
from healthgap.disclosure import ERR_NOT_PUBLISHED, Published, assert_publishable, publish
from healthgap.downloads import (
    FRAGMENT_DIR,
    MANIFEST_NAME,
    clear_chapter,
    download_link,
    link_text,
    write_download,
    write_manifest,
)
from healthgap.tables import under_quarto
from healthgap.text import group_noun

__all__ = [
    "Book",
    "Published",
    "setup",
    "group_noun",
    "write_manifest",
    "find_project",
    "config_from_environment",
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


def config_from_environment() -> Path | None:
    """``$HEALTHGAP_CONFIG`` as a path: a relative one resolved against the project folder
    (:func:`find_project`), since Quarto runs each page in the page's own folder; None when unset.
    """
    value = os.environ.get(_ENV_CONFIG, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else find_project() / path


_PEOPLE_CACHE: dict[Path, pl.DataFrame] = {}


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
    #: The person table, when given directly (tests, notebooks); else loaded from the config.
    data: pl.DataFrame | None = field(default=None, repr=False)
    _ids: set[str] = field(default_factory=set, repr=False)
    _prepared: Path | None = field(default=None, repr=False)
    _model_people: pl.LazyFrame | None = field(default=None, repr=False)

    # -- data ---------------------------------------------------------------
    @property
    def prepared(self) -> Path:
        """The prepared person table (Parquet), written once per data version by
        :func:`healthgap.engine.prepare` (the renderer prepares it before any page runs)."""
        if self._prepared is None or not self._prepared.is_file():
            from healthgap.engine import prepare

            self._prepared = prepare(self.config)
        return self._prepared

    @property
    def people(self) -> pl.LazyFrame:
        """The validated person table as a LazyFrame: a scan of the prepared Parquet file, so each
        query reads only the columns it needs (or the frame given as ``data``). Pages use this.

        The scan is marked (:func:`healthgap.engine.scan`) so an analysis decorated with
        :func:`healthgap.engine.shared` called on it computes once per data version for every page."""
        if self.data is not None:
            return self.data.lazy()
        from healthgap.engine import scan

        return scan(self.prepared)

    @property
    def model_people(self) -> pl.LazyFrame:
        """The people the models are fitted on: :attr:`people`, or a stratified sample of
        ``model.sample_size`` of them when there are more (:func:`healthgap.engine.model_sample`)."""
        if self._model_people is None:
            from healthgap.engine import model_sample

            source = None if self.data is not None else self.prepared
            self._model_people = model_sample(self.config, self.people, source=source)
        return self._model_people

    @property
    def frame(self) -> pl.DataFrame:
        """The whole validated person table in memory (cached per kernel): for tests and small data;
        pages must use :attr:`people`, which never holds the whole table."""
        if self.data is not None:
            return self.data
        path = self.prepared
        if path not in _PEOPLE_CACHE:
            _PEOPLE_CACHE.clear()
            _PEOPLE_CACHE[path] = pl.read_parquet(path)
        return _PEOPLE_CACHE[path]

    # -- text ---------------------------------------------------------------
    def each(self, label: str) -> str:
        """``"each "`` + :func:`group_noun`: ``book.each("Ethnic group")`` -> ``"each ethnic group"``."""
        return f"each {group_noun(label)}"

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

    # -- publishing ---------------------------------------------------------
    def publish(
        self,
        data: pl.DataFrame,
        *,
        counts: Sequence[str],
        derived: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        by: Sequence[str] | str | None = None,
        across: Sequence[str] | None = None,
        recompute: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    ) -> Published:
        """:func:`healthgap.disclosure.publish` with this book's disclosure settings.

        The one publication step of an aggregated frame: pass the result to
        :meth:`figure`, :meth:`table`, :meth:`download` and to the sentences.
        """
        return publish(
            data,
            counts=counts,
            derived=derived,
            by=by,
            across=across,
            recompute=recompute,
            settings=self.config.disclosure,
        )

    def figure(
        self,
        chart: Callable[[pl.DataFrame], Any] | Any,
        *,
        id: str,
        title: str,
        description: str,
        data: Published,
        columns: Mapping[str, str] | None = None,
        formats: Mapping[str, str | tuple[str, int]] | None = None,
    ) -> Any:
        """Publish a chart with its text alternative, data table and CSV download.

        Parameters
        ----------
        chart : a callable that builds the Altair chart from the published frame
            (preferred), or a finished chart, which must then pass
            :func:`healthgap.disclosure.assert_publishable`.
        id : figure id (lower-case, hyphens); names the download file.
        title : short title, also the download's title in the manifest.
        description : text alternative describing what the chart shows.
        data : the :class:`Published` frame behind the chart.
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

        self._claim(id)
        published = self._published(data, what="Figure", id=id)
        spec = chart(published.frame) if _is_builder(chart) else chart
        assert_publishable(spec, settings=self.config.disclosure)
        href = self._write(published.frame, id=id, title=title, kind="figure", description=description)
        markup = figure_html(
            spec,
            id=id,
            title=title,
            description=description,
            data=published.frame,
            download_href=href,
            asset_prefix=self.page_prefix,
            columns=columns,
            formats=formats,
            own_caption=not under_quarto(),
            settings=self.config.disclosure,
        )
        return HTML(markup)

    def table(
        self,
        df: Published,
        *,
        id: str,
        title: str,
        columns: Mapping[str, str] | None = None,
        formats: Mapping[str, str | tuple[str, int]] | None = None,
        note: str | None = None,
        download: bool = True,
    ) -> Any:
        """Show a published frame as a table, with its CSV download.

        Parameters
        ----------
        df : the :class:`Published` frame.
        id, title : table id and caption. Under Quarto the cell's ``tbl-cap`` is the numbered
            caption and the table is named by ``title`` with ``aria-label`` (no second
            caption); show a table in a cell labelled ``tbl-...`` with a ``tbl-cap``.
        columns : columns to show, optionally mapped to display headings.
        formats : per-column number formats for :func:`healthgap.tables.table_html`.
        note : footnote under the table.
        download : also write the frame as a CSV download.

        References
        ----------
        .. [1] W3C, WCAG 2.2 Technique H51: Using table markup to present tabular information.
        """
        from IPython.display import HTML

        from healthgap.tables import table_html

        self._claim(id)
        published = self._published(df, what="Table", id=id)
        markup = table_html(
            published.frame,
            id=id,
            caption=title,
            columns=columns,
            formats=formats,
            note=note,
            settings=self.config.disclosure,
        )
        if download:
            href = self._write(published.frame, id=id, title=title, kind="table")
            markup += download_link(href, link_text(title, kind="table"))
        return HTML(markup)

    def download(self, df: Published, *, id: str, title: str) -> Any:
        """Write a published frame as a CSV download and return a link to it."""
        from IPython.display import HTML

        self._claim(id)
        published = self._published(df, what="Download", id=id)
        href = self._write(published.frame, id=id, title=title, kind="data")
        return HTML(download_link(href, link_text(title, kind="data")))

    # -- internals ----------------------------------------------------------
    def _published(self, data: Any, *, what: str, id: str) -> Published:
        """``data``, a :class:`Published`, checked against this book's settings; anything else is an error."""
        if not isinstance(data, Published):
            raise TypeError(ERR_NOT_PUBLISHED.format(what=what, id=id, type=type(data).__name__))
        assert_publishable(data.frame, settings=self.config.disclosure)
        return data

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


def _is_builder(chart: Any) -> bool:
    return callable(chart) and not hasattr(chart, "to_dict")


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
    config = load_config(config_from_environment())
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
