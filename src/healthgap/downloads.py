"""CSV downloads of the book and their manifest.

A chapter's downloads are written to ``<downloads>/<chapter>/<id>.csv``. Next to each CSV
a manifest fragment ``<downloads>/.manifest/<chapter>--<id>.json`` records what it is;
after every chapter ran, :func:`write_manifest` merges the fragments into
``<downloads>/manifest.json``. Only :class:`healthgap.book.Book` writes downloads, and only
frames it has protected with :func:`healthgap.disclosure.protect`.

Spreadsheet formula injection: a text cell (or column name) that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return would be run as a formula by Excel, LibreOffice or
Google Sheets when the CSV is opened (e.g. a locality named ``=HYPERLINK(...)``). Such text
is written with a single quote in front (``'=HYPERLINK(...)``), as OWASP recommends
(:func:`neutralise_formulas`); the quote shows in the cell. Numeric columns are written as
numbers (a negative number stays ``-1.5``), and a text cell that is just a number is left as
it is.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "MANIFEST_NAME",
    "FRAGMENT_DIR",
    "write_download",
    "write_manifest",
    "clear_chapter",
    "download_link",
    "link_text",
    "FIGURE_LINK",
    "TABLE_LINK",
    "neutralise_formulas",
    "FORMULA_PREFIX",
]

MANIFEST_NAME = "manifest.json"
FRAGMENT_DIR = ".manifest"
ERR_BAD_FRAGMENT = "Manifest fragment {path} is not valid JSON ({error}); delete it and re-render."
ERR_LINK_KIND = "link_text(): kind must be one of {kinds}; got {kind!r}."
#: Link text of a chart's data: names the chart, so every link on a page says where it goes.
FIGURE_LINK = "Download the data for {title} (CSV)"
#: Link text of a table's (or a plain download's) CSV.
TABLE_LINK = "Download {title} (CSV)"
_LINKS = {"figure": FIGURE_LINK, "table": TABLE_LINK, "data": TABLE_LINK}
#: Written before a text cell a spreadsheet would take for a formula.
FORMULA_PREFIX = "'"
#: The first characters that make a spreadsheet evaluate a cell (OWASP, "CSV Injection").
_FORMULA_START = r"^[=+\-@\t\r]"
#: Text that is only a number ("-1.5", "+3", "2e-3"): a spreadsheet reads it as that number.
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum)


def _safe_name(name: str) -> str:
    risky = re.match(_FORMULA_START, name) is not None and re.match(_PLAIN_NUMBER, name) is None
    return FORMULA_PREFIX + name if risky else name


def neutralise_formulas(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every text cell and column name a spreadsheet would run as a formula prefixed
    with :data:`FORMULA_PREFIX`.

    A cell is neutralised when it begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return and is not simply a number. Numeric, boolean and date columns are unchanged;
    categorical text columns are written as text.

    References
    ----------
    .. [1] OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
    """
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if _is_text(dtype):
            text = col.cast(pl.String)
            risky = text.str.contains(_FORMULA_START) & ~text.str.contains(_PLAIN_NUMBER)
            col = pl.when(risky).then(pl.lit(FORMULA_PREFIX) + text).otherwise(text)
        exprs.append(col.alias(_safe_name(name)))
    return df.select(exprs)


def write_download(
    df: pl.DataFrame,
    downloads: Path,
    *,
    chapter: str,
    id: str,
    title: str,
    kind: str,
    synthetic: bool,
    description: str | None = None,
) -> str:
    """Write ``df`` as ``<downloads>/<chapter>/<id>.csv`` with its manifest fragment.

    Text a spreadsheet would run as a formula is written with a quote in front
    (:func:`neutralise_formulas`). Returns the CSV's path relative to the downloads folder.
    """
    rel = f"{chapter}/{id}.csv"
    target = downloads / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(df).write_csv(target)
    fragment: dict[str, Any] = {
        "id": id,
        "title": title,
        "chapter": chapter,
        "kind": kind,
        "file": rel,
        "columns": list(df.columns),
        "rows": df.height,
        "synthetic": synthetic,
    }
    if description:
        fragment["description"] = description
    frag_dir = downloads / FRAGMENT_DIR
    frag_dir.mkdir(parents=True, exist_ok=True)
    (frag_dir / f"{chapter}--{id}.json").write_text(json.dumps(fragment, indent=2), encoding="utf-8")
    return rel


def _lower_first(title: str) -> str:
    """``title`` with its first letter lower-cased for use mid-sentence, unless the first word is
    an acronym or name with capitals inside it ("CVD deaths", "SHAP values", "eGFR")."""
    word = title.split(" ", 1)[0]
    if any(ch.isupper() for ch in word[1:]):
        return title
    return title[:1].lower() + title[1:]


def link_text(title: str, *, kind: str) -> str:
    """The text of a download link, naming what it downloads.

    Every link on a page then has text that says where it goes on its own (WCAG
    2.2 SC 2.4.4 and 2.4.9), e.g. ``link_text("Eligible people treated (%)",
    kind="figure")`` -> ``"Download the data for eligible people treated (%) (CSV)"``.

    Parameters
    ----------
    title : the figure's or table's title.
    kind : ``"figure"`` (:data:`FIGURE_LINK`), ``"table"`` or ``"data"`` (:data:`TABLE_LINK`).

    References
    ----------
    .. [1] W3C, WCAG 2.2 SC 2.4.4 Link Purpose (In Context) and 2.4.9 Link Purpose (Link Only).
    """
    if kind not in _LINKS:
        raise ValueError(ERR_LINK_KIND.format(kinds=", ".join(_LINKS), kind=kind))
    name = " ".join(title.split()).rstrip(".")
    return _LINKS[kind].format(title=_lower_first(name))


def download_link(href: str, text: str, after: str = "") -> str:
    """The paragraph linking a CSV download: ``text`` is the link, ``after`` follows it."""
    return (
        f'<p class="hg-download"><a href="{html.escape(href)}" download>{html.escape(text)}</a>'
        f"{html.escape(after)}</p>"
    )


def clear_chapter(downloads: Path, chapter: str) -> None:
    """Remove a chapter's previous downloads so stale files never survive a re-render."""
    shutil.rmtree(downloads / chapter, ignore_errors=True)
    frag_dir = downloads / FRAGMENT_DIR
    if frag_dir.is_dir():
        for old in frag_dir.glob(f"{chapter}--*.json"):
            old.unlink(missing_ok=True)


def write_manifest(downloads_dir: str | Path) -> Path:
    """Merge the per-download fragments into ``<downloads_dir>/manifest.json``.

    The manifest lists every download with its ``id``, ``title``, ``chapter``,
    ``kind`` (figure, table or data), ``file`` (relative to the downloads
    folder), ``columns`` and ``rows``, sorted by chapter then id. Fragments
    whose CSV no longer exists are dropped. ``columns`` are the frame's names; in the CSV
    a name or text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return starts with a single quote (spreadsheet formula protection, see
    :func:`neutralise_formulas`).

    Parameters
    ----------
    downloads_dir : the downloads folder the chapters wrote to.

    Returns
    -------
    Path
        The manifest written.

    References
    ----------
    .. [1] W3C, Data on the Web Best Practices, BP 2 "Provide descriptive metadata".
    """
    root = Path(downloads_dir)
    root.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    frag_dir = root / FRAGMENT_DIR
    for path in sorted(frag_dir.glob("*.json")) if frag_dir.is_dir() else []:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(ERR_BAD_FRAGMENT.format(path=path, error=exc)) from None
        if (root / entry["file"]).is_file():
            entries.append(entry)
    entries.sort(key=lambda e: (e["chapter"], e["id"]))
    manifest = {"files": entries, "count": len(entries)}
    target = root / MANIFEST_NAME
    target.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return target
