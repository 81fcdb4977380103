"""Markdown blocks a page cell displays: optional paragraphs, notes, and numbered figures and
tables whose captions follow the data.

A chapter's static ``fig-cap`` cannot say "by education level" for one dataset and "by
deprivation fifth" for another, and a chapter cannot loop over a config's outcomes. These
helpers let a page build the Markdown itself:

- :func:`paragraph` - a paragraph, or None (the cell then shows nothing);
- :func:`note` - a note about what the dataset lacks, in the style of a skip note
  (:meth:`healthgap.book.Book.skip`), for a section that is shown in part;
- :func:`numbered` - a figure or table (markup from :meth:`healthgap.book.Book.figure` /
  :meth:`~healthgap.book.Book.table`) as a cross-referenceable float ``#fig-...`` /
  ``#tbl-...`` with its caption, which both renderers number like a cell's ``fig-cap``;
- :func:`blocks` - several of these (and headings) as one Markdown output.

Kept here until :mod:`healthgap.book` offers them (a ``Book.note`` and captions from the page).
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["paragraph", "note", "numbered", "blocks", "heading", "escape", "markup_of", "NOTE_CLASS"]

#: The classes of a note about what the dataset lacks (those of :meth:`healthgap.book.Book.skip`).
NOTE_CLASS = "hg-skip callout callout-note"

_SPECIAL = re.compile(r"([\\`*_\[\]<>#@~^$|!{}])")


def escape(text: str) -> str:
    """``text`` for a Markdown paragraph, shown literally (Markdown punctuation escaped)."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def markup_of(obj: Any) -> str:
    """The HTML of an IPython display object (or a string)."""
    return str(getattr(obj, "data", obj))


def paragraph(text: str | None) -> Any:
    """A Markdown paragraph to display (cross-references such as ``@fig-x`` work), or None."""
    from IPython.display import Markdown

    if not text or not text.strip():
        return None
    return Markdown(text.strip())


def note(text: str) -> Any:
    """A note that part of a section is not shown for this dataset, styled as a skip note."""
    from IPython.display import HTML

    body = html.escape(" ".join(text.split()))
    return HTML(f'<div class="{NOTE_CLASS}" role="note"><p>{body}</p></div>')


def _raw(markup: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", markup)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{markup.rstrip()}\n{fence}"


def numbered(obj: Any, *, label: str, caption: str) -> str:
    """A figure or table as a numbered float: ``label`` is ``fig-...`` or ``tbl-...``.

    ``obj`` is what :meth:`~healthgap.book.Book.figure` or :meth:`~healthgap.book.Book.table`
    returned; the caption replaces its own, after the number ("Figure 3.2: ...").
    """
    return f"::: {{#{label}}}\n\n{_raw(markup_of(obj))}\n\n{escape(caption)}\n\n:::"


def heading(text: str, *, id: str, level: int = 2) -> str:
    """A section heading with an id (``sec-...``) for cross-references."""
    return f"{'#' * level} {escape(text)} {{#{id}}}"


def blocks(*parts: Any) -> Any:
    """Markdown blocks (strings: Markdown; display objects: their HTML, raw) as one output, or None."""
    from IPython.display import Markdown

    texts = []
    for part in parts:
        if part is None or part == "":
            continue
        if isinstance(part, str):
            texts.append(part)
        elif getattr(part, "_repr_markdown_", None) is not None and not hasattr(part, "_repr_html_"):
            texts.append(markup_of(part))
        else:
            texts.append(_raw(markup_of(part)))
    return Markdown("\n\n".join(texts)) if texts else None
