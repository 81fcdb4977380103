"""The base of every page: the chapter runtime plus what all pages share."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Self

import polars as pl

from healthgap.book import Book, setup
from healthgap.config import Config
from healthgap.pages.capabilities import Capabilities, capabilities

__all__ = [
    "Page",
    "escape_markdown",
    "numbered",
    "CI_COLUMNS",
    "RR_COLUMNS",
    "RATIO_FORMATS",
    "PERCENT_FORMATS",
    "ci_columns",
]

#: Table headings of a confidence interval (the stats output contract's columns).
CI_COLUMNS: dict[str, str] = {"lower_ci": "Lower 95% CI", "upper_ci": "Upper 95% CI"}
#: Table headings of a rate ratio and its interval.
RR_COLUMNS: dict[str, str] = {"rate_ratio": "Rate ratio", "rr_lower": "RR lower", "rr_upper": "RR upper"}
#: Ratios and their intervals are shown to 2 decimal places, as in the text.
RATIO_FORMATS: dict[str, tuple[str, int]] = {c: ("ratio", 2) for c in RR_COLUMNS}
#: Proportions (0-1) shown as percentages with 1 decimal place.
PERCENT_FORMATS: dict[str, tuple[str, int]] = {
    c: ("proportion", 1) for c in ("value", "lower_ci", "upper_ci")
}


def escape_markdown(text: str) -> str:
    """``text`` for Markdown a page builds: characters Markdown would read as markup, escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#|@$" else ch for ch in " ".join(str(text).split()))


def numbered(shown: Any, *, label: str, caption: str) -> Any:
    """A figure or table as a numbered float whose caption is computed for this dataset (Markdown).

    A chapter cell's ``fig-cap``/``tbl-cap`` is fixed text; when the caption depends on the
    data ("... by education level"), the page returns this instead, from a cell without a
    ``fig-``/``tbl-`` label: a ``::: {#label}`` div holding the markup and, last, the caption
    (Quarto's and the built-in renderer's div floats), so ``@label`` still cross-refers.
    A skip note is returned as it is: it is not numbered.

    Parameters
    ----------
    shown : what :meth:`~healthgap.book.Book.figure` or :meth:`~healthgap.book.Book.table`
        returned (an IPython ``HTML``), or a skip note.
    label : the float's label, ``fig-...`` or ``tbl-...``.
    caption : the caption, plain text.
    """
    from IPython.display import Markdown

    markup = getattr(shown, "data", shown)
    if not isinstance(markup, str) or 'class="hg-skip' in markup:
        return shown
    return Markdown(f"::: {{#{label}}}\n\n```{{=html}}\n{markup}\n```\n\n{escape_markdown(caption)}\n\n:::\n")


def ci_columns(value: str, *, ratio: bool = False, **extra: str) -> dict[str, str]:
    """Headings for a value and its 95% interval, e.g. ``ci_columns("Rate (%)")``.

    Parameters
    ----------
    value : heading of the ``value`` column.
    ratio : also the rate ratio and its interval (:data:`RR_COLUMNS`).
    extra : headings of further columns, shown first (``label="Group"``).
    """
    out = {**extra, "value": value, **CI_COLUMNS}
    if ratio:
        out.update(RR_COLUMNS)
    return out


class Page:
    """A page of the book: its chapter runtime (:class:`~healthgap.book.Book`) and capabilities.

    Subclasses set :attr:`slug` (the chapter's file name without ``.qmd``) and add
    the numbers, sentences, figures and tables of their chapter. A chapter builds
    its page with :meth:`setup`; a test builds it from a small frame with
    :meth:`for_frame`.
    """

    #: The chapter slug: names the downloads folder (``index`` for the welcome page).
    slug: ClassVar[str] = "index"

    def __init__(self, book: Book) -> None:
        self.book = book
        self.config: Config = book.config

    @classmethod
    def setup(cls, *, display_banners: bool = True) -> Self:
        """The page of the running chapter (banners displayed, downloads folder cleared)."""
        return cls(setup(cls.slug, display_banners=display_banners))

    @classmethod
    def for_frame(
        cls, config: Config, people: pl.DataFrame, *, downloads: str | Path, page_prefix: str = "../"
    ) -> Self:
        """The page on an in-memory person table (tests and notebooks); downloads go to ``downloads``."""
        folder = Path(downloads)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(
            Book(config=config, chapter=cls.slug, page_prefix=page_prefix, downloads=folder, data=people)
        )

    # -- data ---------------------------------------------------------------
    @property
    def people(self) -> pl.LazyFrame:
        """The validated person table (lazy)."""
        return self.book.people

    @cached_property
    def caps(self) -> Capabilities:
        """What the dataset supports (:func:`healthgap.pages.capabilities.capabilities`)."""
        return capabilities(self.config, self.book.people)

    # -- notes --------------------------------------------------------------
    def skip(self, reason: str) -> Any:
        """A note that a section is skipped because the dataset has no ``reason``."""
        return self.book.skip(reason)

    @staticmethod
    def columns(mapping: Mapping[str, str], present: list[str]) -> dict[str, str]:
        """``mapping`` restricted to the columns in ``present`` (in mapping order)."""
        return {k: v for k, v in mapping.items() if k in present}
