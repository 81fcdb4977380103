"""Run the book the way Quarto's Jupyter engine runs it, and report what would go wrong under Quarto.

Quarto cannot be installed everywhere the book is built or tested, and the built-in renderer
hides some of Quarto's behaviour. This module executes every page as Quarto 1.5+ does
(``src/resources/jupyter/notebook.py``, ``src/core/jupyter/``, ``src/core/execute-inline.ts``):

* one kernel per page, started in the page's folder, with the ``QUARTO_*`` variables Quarto
  sets (``QUARTO_PROJECT_ROOT``, ``QUARTO_DOCUMENT_PATH``, ``QUARTO_DOCUMENT_FILE``,
  ``QUARTO_EXECUTE_INFO``, ``QUARTO_FIG_*``, ``QUARTO_PROFILE``) and none of the
  ``HEALTHGAP_CHAPTER``/``HEALTHGAP_PAGE_PREFIX`` variables the built-in renderer adds; Quarto's
  setup cell runs first;
* cells in order; each markdown cell's inline expressions are found with Quarto's pattern and
  evaluated when execution reaches the cell, through ``user_expressions`` of an empty
  ``execute_request``; the value shown is Quarto's (the ``text/plain`` repr of a string with its
  quotes removed and Markdown escaped, ``text/markdown`` as is), substituted line by line, and an
  empty value keeps the expression's code;
* every raw HTML table of an output is re-read as Quarto reads it (``th`` cells marked, then
  pandoc ``html+raw_html`` -> AST -> HTML, then the marks turned back into ``th``) with the
  pandoc bundled with ``pypandoc``;
* the page's markdown, written as Quarto's engine writes it (cell and output divs, captions),
  goes through the theme's ``skipped-floats.lua`` filter with pandoc.

It reports, per page: cells that fail, inline expressions that fail, are empty (Quarto prints
their code), are not replaced (an expression broken over two lines) or read differently from
the value (a string whose repr escapes characters), tables whose own caption repeats the
cell's ``tbl-cap`` (and figures repeating ``fig-cap``), tables in no ``tbl-`` cell with no
visible caption, tables and scroll regions without an accessible name after the round trip,
``aria-labelledby`` references to nothing, and figure or table cells showing only a skip note
that the filter leaves numbered.

Run it with ``python -m healthgap.render.quarto_semantics [--config FILE] [--project DIR]``.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from healthgap.render.execute import KERNEL_NAME, cell_options, run_async, run_many, strip_ansi
from healthgap.render.pandoc import pandoc_path
from healthgap.render.project import Book, Page, read_book
from healthgap.render.qmd import Cell, Document, Markdown, parse_qmd

__all__ = [
    "Problem",
    "PageResult",
    "BookResult",
    "check_book",
    "quarto_expressions",
    "quarto_inline_text",
    "substitute_inline",
    "quarto_tables",
    "name_problems",
    "quarto_markdown",
    "skipped_float_problems",
    "main",
    "FILTER",
]

#: The theme's filter that keeps skipped figures and tables unnumbered (run by Quarto at pre-ast).
FILTER = Path("_extensions") / "nhs" / "skipped-floats.lua"

#: ``notebook.py``: the expressions of a markdown cell (the whole cell, several lines).
_NOTEBOOK_INLINE = re.compile(r"(?:^|[^`])`\{python\}[ \t]([^`]+)`", re.M)
#: ``execute-inline.ts``: what is replaced, one source line at a time.
_TS_INLINE = re.compile(r"(^|[^`])`\{python\}[ \t]([^`]+)`")
#: ``asEscapedMarkdown`` in ``jupyter-inline.ts``: "+-." is a range there (+ , - .).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()>#+,\-.!])")

#: The parts of Quarto's Python setup cell (``src/resources/jupyter/lang/python/setup.py``)
#: that change the kernel's state for the book's pages.
SETUP_CELL = """\
import os, sys, types, json, base64
fig_width, fig_height, fig_format, fig_dpi = 7, 5, 'retina', 96
interactivity, is_shiny, is_dashboard, plotly_connected = '', False, False, True
try:
  import matplotlib.pyplot as plt
  plt.rcParams['figure.figsize'] = (fig_width, fig_height)
  plt.rcParams['figure.dpi'] = fig_dpi
  plt.rcParams['savefig.dpi'] = "figure"
except Exception:
  pass
%reset -f
globals()["__spec__"] = None
"""

_QUARTO_ENV = {
    "QUARTO_FIG_WIDTH": "7",
    "QUARTO_FIG_HEIGHT": "5",
    "QUARTO_FIG_DPI": "192",
    "QUARTO_FIG_FORMAT": "png",
}
#: Set by the built-in renderer only: Quarto's kernels do not have them.
_BUILTIN_ONLY = ("HEALTHGAP_CHAPTER", "HEALTHGAP_PAGE_PREFIX")
SKIP_CLASS = "hg-skip"


@dataclass(frozen=True)
class Problem:
    """Something that would go wrong under Quarto: the page, what, where (an expression or a
    cell) and the detail."""

    page: str
    kind: str
    where: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.where}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class PageResult:
    """What checking one page found."""

    page: str
    inlines: int = 0
    tables: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class BookResult:
    """What checking a whole book found."""

    config: str
    pages: list[PageResult]

    @property
    def inlines(self) -> int:
        return sum(p.inlines for p in self.pages)

    @property
    def tables(self) -> int:
        return sum(p.tables for p in self.pages)

    @property
    def skipped(self) -> int:
        return sum(p.skipped for p in self.pages)

    @property
    def problems(self) -> list[Problem]:
        return [problem for page in self.pages for problem in page.problems]

    def summary(self, name: str | None = None) -> str:
        """One line of counts, then one line per problem."""
        head = (
            f"{name or self.config}: {len(self.pages)} pages run as Quarto runs them, "
            f"{self.inlines} inline expressions checked, {self.tables} tables round-tripped "
            f"through pandoc, {self.skipped} skipped figure/table cells; problems: {len(self.problems)}"
        )
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


# ---- inline expressions ---------------------------------------------------------------------


def quarto_expressions(markdown: str) -> list[str]:
    """The inline expressions Quarto evaluates in a markdown cell (untrimmed, as it sends them)."""
    return _NOTEBOOK_INLINE.findall(markdown)


def _escaped(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\\", "\\\\"))


def quarto_inline_text(result: dict[str, Any]) -> str:
    """The Markdown Quarto puts in place of an inline expression for an HTML page.

    ``result`` is the expression's ``user_expressions`` entry (``{"status": "ok", "data":
    {...}}``). As ``resolveUserExpressions`` (``jupyter-inline.ts``) with
    ``displayDataMimeType``: ``text/html`` as raw HTML, ``text/markdown`` as is, else
    ``text/plain``; a quoted ``text/plain`` (a string's repr) loses its quotes and has its
    Markdown characters escaped. An empty result means Quarto keeps the expression's code.
    """
    data = result.get("data") or {}
    for mime in ("text/html", "text/markdown", "text/plain"):
        if mime in data:
            value = data[mime]
            value = "".join(map(str, value)) if isinstance(value, list) else str(value)
            if mime == "text/html":
                return f"`{value}`{{=html}}" if value else ""
            if mime == "text/markdown":
                return value
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                return _escaped(value[1:-1])
            return value
    return ""


def substitute_inline(markdown: str, results: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """``markdown`` with its inline expressions replaced as Quarto replaces them.

    As ``executeInlineCodeHandler``: line by line, each expression is looked up by its
    trimmed text among ``results`` (keyed by the untrimmed expressions :func:`quarto_expressions`
    found); an expression without a result, or whose value is empty, is left as code.

    Returns
    -------
    text, kept
        The substituted Markdown and the expressions left as code.
    """
    kept: list[str] = []

    def replace(match: re.Match[str]) -> str:
        expr = match.group(2).strip()
        result = results.get(expr)
        text = quarto_inline_text(result) if result is not None else ""
        if text:
            return match.group(1) + text
        kept.append(expr)
        return match.group(0)

    lines = markdown.splitlines(keepends=True)
    return "".join(_TS_INLINE.sub(replace, line) for line in lines), kept


def _shown_differently(result: dict[str, Any]) -> str | None:
    """What Quarto shows for a string value whose repr escapes characters, else None."""
    plain = (result.get("data") or {}).get("text/plain")
    if not isinstance(plain, str) or set(result.get("data") or {}) - {"text/plain"}:
        return None
    try:
        value = ast.literal_eval(plain)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, str) and plain[1:-1] != value:
        return plain[1:-1]
    return None


# ---- tables ---------------------------------------------------------------------------------

_TABLE_START = re.compile(r"<table[^>]*?>", re.I)
_TABLE_END = re.compile(r"</table\s*>", re.I)


def _pandoc_html(fragment: str) -> str:
    import subprocess

    proc = subprocess.run(
        [pandoc_path(), "--from=html+raw_html", "--to=html5", "--wrap=none"],
        input=fragment.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode("utf-8", "replace"))
    return proc.stdout.decode("utf-8")


def _postprocess(table: str) -> str:
    """Quarto's HTML post-processor: cells marked ``th`` become ``th``, the others ``td``."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for m in re.finditer(r"<(/?)(th|td)(?=[\s>])([^>]*)>", table):
        out.append(table[pos : m.start()])
        if m.group(1):
            out.append(f"</{stack.pop() if stack else m.group(2)}>")
        else:
            tag = "th" if 'data-quarto-table-cell-role="th"' in m.group(3) else "td"
            stack.append(tag)
            out.append(f"<{tag}{m.group(3)}>")
        pos = m.end()
    out.append(table[pos:])
    return "".join(out).replace(' data-quarto-postprocess="true"', "")


def quarto_tables(raw: str) -> tuple[str, int]:
    """``raw`` HTML with each outermost ``<table>`` re-read as Quarto's ``astpipeline.lua`` does.

    Returns the new HTML and the number of tables re-read. A table with
    ``data-quarto-disable-processing="true"`` or in a block with the
    ``<!-- quarto-html-table-processing: none -->`` comment is left alone, as in Quarto.
    """
    if re.search(r"<!--\| +quarto-html-table-processing *: +none *-->", raw):
        return raw, 0
    out: list[str] = []
    cursor, count = 0, 0
    while True:
        start = _TABLE_START.search(raw, cursor)
        if start is None:
            break
        depth, pos, end = 1, start.end(), None
        while depth:
            nxt_open, nxt_close = _TABLE_START.search(raw, pos), _TABLE_END.search(raw, pos)
            if nxt_close is None:
                break
            if nxt_open is not None and nxt_open.start() < nxt_close.start():
                depth, pos = depth + 1, nxt_open.end()
            else:
                depth, pos = depth - 1, nxt_close.end()
                if depth == 0:
                    end = nxt_close.end()
        if end is None:
            break
        table = raw[start.start() : end]
        if 'data-quarto-disable-processing="true"' in table[: table.find(">") + 1]:
            out.append(raw[cursor:end])
        else:
            marked = re.sub(r"<th([\s>])", r'<td data-quarto-table-cell-role="th"\1', table)
            marked = re.sub(r"</th([\s>])", r"</td\1", marked)
            marked = re.sub(r"<table([\s>])", r'<table data-quarto-postprocess="true"\1', marked)
            out.append(raw[cursor : start.start()])
            out.append(_postprocess(_pandoc_html(marked).strip()))
            count += 1
        cursor = end
    out.append(raw[cursor:])
    return "".join(out), count


class _Names(HTMLParser):
    """Collects ids, the text of each id'd element, tables and regions with their naming attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: dict[str, list[str]] = {}
        self.open: list[tuple[str, str | None]] = []  # (tag, id)
        self.tables: list[dict[str, Any]] = []
        self.regions: list[dict[str, str | None]] = []
        self.references: list[tuple[str, str]] = []  # (attribute, id)
        self._table: list[dict[str, Any]] = []
        self._in_caption = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        ident = a.get("id")
        if ident:
            self.ids.setdefault(ident, [])
        for key in ("aria-labelledby", "aria-describedby"):
            for ref in (a.get(key) or "").split():
                self.references.append((key, ref))
        if tag == "table":
            entry: dict[str, Any] = {"attrs": a, "caption": ""}
            self.tables.append(entry)
            self._table.append(entry)
        if tag == "caption":
            self._in_caption += 1
        if a.get("role") == "region":
            self.regions.append(a)
        if tag not in ("br", "wbr", "img", "input", "meta", "link", "hr", "col", "source"):
            self.open.append((tag, ident))

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = max(0, self._in_caption - 1)
        if tag == "table" and self._table:
            self._table.pop()
        while self.open:
            name, _ = self.open.pop()
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, ident in self.open:
            if ident:
                self.ids[ident].append(data)
        if self._in_caption and self._table:
            self._table[-1]["caption"] += data


def _clean(text: str) -> str:
    return " ".join(html.unescape(text).split())


def name_problems(fragment: str) -> list[str]:
    """Tables, scroll regions and ARIA references without an accessible name in an HTML fragment.

    A table is named by a non-empty ``<caption>``, ``aria-label`` or ``aria-labelledby``
    naming elements with text; a ``role="region"`` element by ``aria-label`` or
    ``aria-labelledby``. Every ``aria-labelledby``/``aria-describedby`` id must exist.
    """
    parser = _Names()
    parser.feed(fragment)
    parser.close()
    text = {k: _clean("".join(v)) for k, v in parser.ids.items()}

    def named(attrs: dict[str, Any], caption: str = "") -> bool:
        refs = (attrs.get("aria-labelledby") or "").split()
        return bool(
            _clean(caption)
            or _clean(attrs.get("aria-label") or "")
            or (refs and all(text.get(r) for r in refs))
        )

    out = []
    for table in parser.tables:
        if not named(table["attrs"], table["caption"]):
            out.append(
                "a table has no accessible name (no caption, aria-label or resolvable aria-labelledby)"
            )
    for region in parser.regions:
        if not named(region):
            out.append(
                f"the scroll region {region.get('id') or ''} has no accessible name".replace("  ", " ")
            )
    for key, ref in parser.references:
        if ref not in parser.ids:
            out.append(f"{key} points at {ref!r}, which is not on the page")
    return out


_CAPTION = re.compile(r"<caption[^>]*>(.*?)</caption>", re.S | re.I)
_FIGCAPTION = re.compile(r"<figcaption[^>]*>(.*?)</figcaption>", re.S | re.I)


def _strip_tags(text: str) -> str:
    return _clean(re.sub(r"<[^>]+>", " ", text))


# ---- the page as Quarto's Jupyter engine writes it --------------------------------------------


def _output_markdown(out: dict[str, Any]) -> str | None:
    kind = out.get("output_type")
    if kind not in ("display_data", "execute_result"):
        return None
    data = out.get("data") or {}
    for mime in ("text/html", "text/markdown", "text/plain"):
        if mime in data:
            value = data[mime]
            value = "".join(value) if isinstance(value, list) else str(value)
            if mime == "text/html":
                return f"```{{=html}}\n{value}\n```\n"
            if mime == "text/markdown":
                return value + "\n"
            return f"```\n{value}\n```\n"
    return None


def quarto_markdown(cell: Cell, outputs: Sequence[dict[str, Any]]) -> str:
    """A code cell's displayed outputs as the Markdown Quarto's engine writes (``mdFromCodeCell``).

    A ``fig-`` cell with one display output: ``::: {.cell}`` holding ``::: {#fig-x
    .cell-output .cell-output-display}`` with the caption paragraph after the output. A
    ``tbl-`` cell: ``::: {#tbl-x .cell tbl-cap='...'}`` holding the output divs.
    """
    label = cell.label or ""
    shown = [md for out in outputs if (md := _output_markdown(out)) is not None]
    if not shown:
        return ""
    fig_cap = cell.options.get("fig-cap")
    tbl_cap = cell.options.get("tbl-cap")
    outer = ["::: {"]
    if label.startswith("tbl-"):
        cap = str(tbl_cap or "").replace("'", "\\'")
        outer.append(f"#{label} .cell tbl-cap='{cap}'")
    else:
        outer.append(".cell")
    body = []
    for md in shown:
        ident = f"#{label} " if label.startswith("fig-") and len(shown) == 1 else ""
        caption = f"\n{fig_cap}\n" if ident and fig_cap else ""
        body.append(f"::: {{{ident}.cell-output .cell-output-display}}\n{md}{caption}:::\n")
    return "".join(outer) + "}\n" + "\n".join(body) + ":::\n\n"


def _only_skip_notes(outputs: Sequence[dict[str, Any]]) -> bool:
    from healthgap.render.crossref import is_skip_note

    blocks = []
    for out in outputs:
        if out.get("output_type") not in ("display_data", "execute_result"):
            continue
        value = (out.get("data") or {}).get("text/html")
        if value is None:
            return False
        blocks.append({"t": "RawBlock", "c": ["html", "".join(value) if isinstance(value, list) else value]})
    return bool(blocks) and is_skip_note(blocks)


def skipped_float_problems(markdown: str, labels: Sequence[str], *, project: Path) -> list[str]:
    """Run the theme's filter over a page's Quarto Markdown; the skipped ``labels`` it leaves as floats.

    Each label must no longer be the identifier of a pandoc ``Div`` (a float Quarto would number),
    and no citation may still point at it.
    """
    import subprocess

    if not labels:
        return []
    proc = subprocess.run(
        [pandoc_path(), "--from=markdown", "--to=json", f"--lua-filter={project / FILTER}"],
        input=markdown.encode("utf-8"),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        return [f"the filter {FILTER} failed: {proc.stderr.decode('utf-8', 'replace').strip()}"]
    doc = json.loads(proc.stdout)
    divs: set[str] = set()
    cites: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            if node.get("t") == "Div":
                divs.add(node["c"][0][0])
            if node.get("t") == "Cite":
                cites.update(c["citationId"] for c in node["c"][0])
            visit(node.get("c"))

    visit(doc["blocks"])
    out = []
    for label in labels:
        if label in divs:
            out.append(f"{label} shows only a skip note but would still be a numbered float")
        if label in cites:
            out.append(f"a reference to {label} would still link to the skipped float")
    return out


# ---- running a page ---------------------------------------------------------------------------


def _kernel_env(base: dict[str, str], book: Book, page: Page, info: Path) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in _BUILTIN_ONLY}
    source = (book.root / page.source).resolve()
    env.update(_QUARTO_ENV)
    env["QUARTO_PROJECT_ROOT"] = str(book.root)
    env["QUARTO_DOCUMENT_PATH"] = str(source.parent)
    env["QUARTO_DOCUMENT_FILE"] = source.name
    env["QUARTO_EXECUTE_INFO"] = str(info)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


async def _check_page(
    book: Book, page: Page, doc: Document, env: dict[str, str], log_path: Path
) -> PageResult:
    started = time.perf_counter()
    result = PageResult(page.source)
    defaults = dict(book.execute)
    if isinstance(doc.meta.get("execute"), dict):
        defaults.update(doc.meta["execute"])
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell(SETUP_CELL))
    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=None,
        startup_timeout=120,
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str((book.root / page.source).parent)}},
    )
    log = open(log_path, "ab")  # noqa: SIM115  (the kernel's own stderr)
    try:
        await _run_page(client, nb, book, page, doc, env, defaults, result, log)
    finally:
        log.close()
    result.seconds = time.perf_counter() - started
    return result


async def _run_page(
    client: NotebookClient,
    nb: Any,
    book: Book,
    page: Page,
    doc: Document,
    env: dict[str, str],
    defaults: dict[str, Any],
    result: PageResult,
    log: Any,
) -> None:
    problems = result.problems
    page_md: list[str] = []
    skipped: list[str] = []
    html_parts: list[str] = []
    async with client.async_setup_kernel(env=env, cwd=str((book.root / page.source).parent), stderr=log):
        await client.async_execute_cell(nb.cells[0], 0, store_history=False)
        for block in doc.blocks:
            if isinstance(block, Markdown):
                page_md.append(await _markdown_cell(client, block, result))
                continue
            options = cell_options(block, defaults)
            if options.get("eval") is False:
                continue
            cell = nbformat.v4.new_code_cell(block.source)
            nb.cells.append(cell)
            await client.async_execute_cell(cell, len(nb.cells) - 1)
            outputs = [dict(o) for o in cell.get("outputs", [])]
            errors = [o for o in outputs if o.get("output_type") == "error"]
            if errors and not options.get("error"):
                err = errors[0]
                trace = strip_ansi("\n".join(err.get("traceback", [])[-3:]))
                detail = f"{err.get('ename')}: {err.get('evalue')}\n{trace}"
                problems.append(Problem(page.source, "cell error", block.describe(), detail))
                break
            if options.get("include") is False or options.get("output") is False:
                continue
            if block.label and block.label.startswith(("fig-", "tbl-")) and _only_skip_notes(outputs):
                skipped.append(block.label)
            page_md.append(quarto_markdown(block, outputs))
            html_parts += _check_outputs(page.source, block, outputs, result)
    result.skipped = len(skipped)
    for problem in name_problems("\n".join(html_parts)):
        problems.append(Problem(page.source, "accessible name", "after pandoc's HTML round trip", problem))
    for problem in skipped_float_problems("".join(page_md), skipped, project=book.root):
        problems.append(Problem(page.source, "skipped float", problem))


async def _markdown_cell(client: NotebookClient, block: Markdown, result: PageResult) -> str:
    """Evaluate a markdown cell's inline expressions as ``cell_execute_inline``; its Quarto Markdown."""
    page = result.page
    expressions = quarto_expressions(block.text)
    found = {i.code for i in block.inlines}
    for code in sorted(found - {e.strip() for e in expressions}):
        result.problems.append(Problem(page, "inline not found by Quarto", f"`{{python}} {code}`"))
    if not expressions:
        return block.text
    result.inlines += len(expressions)
    user_expressions = {str(i): expr for i, expr in enumerate(expressions)}
    assert client.kc is not None, "the kernel is running"
    msg_id = client.kc.execute("", user_expressions=user_expressions)
    reply = await client.async_wait_for_reply(msg_id)
    content = (reply or {}).get("content", {})
    if content.get("status") != "ok":
        detail = f"{content.get('ename')}: {content.get('evalue')}"
        result.problems.append(Problem(page, "inline error", "markdown cell", detail))
        return block.text
    results: dict[str, dict[str, Any]] = {}
    for key, expr in user_expressions.items():
        value = (content.get("user_expressions") or {}).get(key) or {}
        if value.get("status") == "error":
            detail = f"{value.get('ename')}: {value.get('evalue')}"
            result.problems.append(Problem(page, "inline error", f"`{{python}} {expr.strip()}`", detail))
            continue
        results[expr] = value
        if (shown := _shown_differently(value)) is not None:
            result.problems.append(
                Problem(
                    page,
                    "inline shown differently",
                    f"`{{python}} {expr.strip()}`",
                    f"Quarto shows {shown!r}",
                )
            )
    text, kept = substitute_inline(block.text, results)
    for expr in kept:
        value = results.get(expr)
        if value is None:
            kind, detail = (
                "inline not replaced",
                "Quarto looks the expression up by its trimmed text on one line",
            )
        else:
            kind, detail = "empty inline", "Quarto prints the expression as code"
        result.problems.append(Problem(page, kind, f"`{{python}} {expr}`", detail))
    multi = [e for e in expressions if "\n" in e]
    for expr in multi:
        if expr.strip() not in kept:
            result.problems.append(
                Problem(
                    page, "inline not replaced", f"`{{python}} {' '.join(expr.split())}`", "spans two lines"
                )
            )
    return text


def _check_outputs(page: str, cell: Cell, outputs: Sequence[dict[str, Any]], result: PageResult) -> list[str]:
    """Caption and table checks of one cell's HTML outputs; the HTML after Quarto's table processing."""
    label = cell.label or ""
    out = []
    tbl_cap = _clean(str(cell.options.get("tbl-cap") or ""))
    fig_cap = _clean(str(cell.options.get("fig-cap") or ""))
    for output in outputs:
        value = (output.get("data") or {}).get("text/html")
        if output.get("output_type") not in ("display_data", "execute_result") or value is None:
            continue
        raw = "".join(value) if isinstance(value, list) else str(value)
        if label.startswith("tbl-") and tbl_cap:
            for caption in _CAPTION.findall(raw):
                if _strip_tags(caption) == tbl_cap:
                    result.problems.append(
                        Problem(
                            page,
                            "caption twice",
                            cell.describe(),
                            f"the table repeats its tbl-cap {tbl_cap!r}",
                        )
                    )
        if label.startswith("fig-") and fig_cap:
            for caption in _FIGCAPTION.findall(raw):
                if _strip_tags(caption) == fig_cap:
                    result.problems.append(
                        Problem(
                            page,
                            "caption twice",
                            cell.describe(),
                            f"the figure repeats its fig-cap {fig_cap!r}",
                        )
                    )
        processed, count = quarto_tables(raw)
        result.tables += count
        if not (label.startswith("tbl-") and tbl_cap):
            parser = _Names()
            parser.feed(processed)
            # a table outside a numbered tbl- float shows no title unless it has its own caption
            for table in parser.tables:
                if not _clean(table["caption"]):
                    result.problems.append(
                        Problem(
                            page,
                            "table without a caption",
                            cell.describe(),
                            "not in a tbl- cell with a tbl-cap",
                        )
                    )
        out.append(processed)
    return out


def check_book(
    *,
    project: Path = Path("."),
    config: str | Path | None = None,
    jobs: int | None = None,
    env: dict[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    pages: Sequence[str] | None = None,
) -> BookResult:
    """Run every page of the book as Quarto's Jupyter engine would and check it.

    Parameters
    ----------
    project : the folder with ``_quarto.yml``.
    config : ``HEALTHGAP_CONFIG`` for the kernels, passed as given (a relative path stays
        relative, as a user would set it; Quarto runs each page in the page's folder).
    jobs : pages run at the same time; default ``min(CPU count, 4)``.
    env : the base environment of the kernels; default ``os.environ``.
    progress : receives a line per page.
    pages : only these pages (sources, e.g. ``chapters/population.qmd``); default all.

    Returns
    -------
    BookResult
    """
    book = read_book(Path(project))
    chosen = [p for p in book.pages if pages is None or p.source in pages]
    base = dict(os.environ if env is None else env)
    if config is not None:
        base["HEALTHGAP_CONFIG"] = str(config)
    say = progress or (lambda message: None)
    limit = jobs or max(1, min(os.cpu_count() or 1, 4))
    with tempfile.TemporaryDirectory(prefix="healthgap-quarto-") as tmp:
        folder = Path(tmp)
        base.setdefault("HEALTHGAP_DOWNLOADS", str(folder / "downloads"))
        base.setdefault("QUARTO_PROFILE", "healthgap-report")

        async def one(page: Page) -> PageResult:
            info = folder / f"{page.slug}-execute-info.json"
            info.write_text(
                json.dumps({"document-path": str((book.root / page.source).resolve()), "format": {}}),
                encoding="utf-8",
            )
            doc = parse_qmd(book.root / page.source)
            say(f"  {page.source}: running as Quarto would")
            env = _kernel_env(base, book, page, info)
            done = await _check_page(book, page, doc, env, folder / f"{page.slug}-kernel.log")
            say(f"  {page.source}: {len(done.problems)} problem(s) in {done.seconds:.1f} s")
            return done

        factories = [lambda p=page: one(p) for page in chosen]
        results = run_async(lambda: run_many(factories, limit=limit))
    return BookResult(str(config) if config is not None else "(default config)", list(results))


def main(argv: list[str] | None = None) -> int:
    """``python -m healthgap.render.quarto_semantics``: print the report; exit 1 on any problem."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--config", default=None, help="HEALTHGAP_CONFIG for the kernels")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("pages", nargs="*", help="only these pages (e.g. chapters/population.qmd)")
    args = parser.parse_args(argv)
    result = check_book(
        project=args.project,
        config=args.config,
        jobs=args.jobs,
        progress=lambda m: print(m, file=sys.stderr),
        pages=args.pages or None,
    )
    print(result.summary())
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
