"""Turn an executed chapter back into pandoc markdown: cell outputs as markdown/raw HTML,
inline expression values substituted.

Figures and tables from cells are wrapped in fenced divs (``::: {#fig-x .hg-float}``)
with the caption in a ``.hg-caption`` div; :mod:`healthgap.render.crossref` numbers them.
"""

from __future__ import annotations

import base64
import html
import re
import string
from pathlib import Path
from typing import Any

from healthgap.render.execute import ChapterRun, cell_options, strip_ansi
from healthgap.render.qmd import Cell, Document, Markdown

__all__ = ["assemble_markdown", "escape_markdown", "FloatCaptionError"]

ERR_SUBFIGURES = (
    "{cell}: fig-cap/tbl-cap lists several captions (sub-figures); the built-in renderer "
    "supports one caption per cell. Give the cell a single caption or render with Quarto."
)

_PUNCT = set(string.punctuation)
_IMAGE_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg", "image/gif": "gif"}
_ORDER = ("text/markdown", "text/html", "image/svg+xml", "image/png", "image/jpeg", "image/gif", "text/plain")


class FloatCaptionError(ValueError):
    """A cell option the built-in renderer cannot honour."""


def escape_markdown(text: str) -> str:
    """Escape ``text`` so pandoc markdown shows it literally (backslash before punctuation).

    References
    ----------
    .. [1] Pandoc manual, "Backslash escapes", https://pandoc.org/MANUAL.html#backslash-escapes
    """
    text = " ".join(text.splitlines())
    return "".join("\\" + ch if ch in _PUNCT else ch for ch in text)


def _fence(body: str, char: str = "`") -> str:
    longest = max((len(m) for m in re.findall(re.escape(char) + "+", body)), default=0)
    return char * max(3, longest + 1)


def _code_block(body: str, classes: str) -> str:
    f = _fence(body)
    return f"{f} {{{classes}}}\n{body.rstrip(chr(10))}\n{f}\n"


def _raw_html(body: str) -> str:
    f = _fence(body)
    return f"{f}{{=html}}\n{body.rstrip(chr(10))}\n{f}\n"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


class _Images:
    """Writes image outputs next to the page (``<slug>_files/figure-html/``) like Quarto."""

    def __init__(self, folder: Path, href: str) -> None:
        self.folder, self.href = folder, href

    def save(self, cell: Cell, k: int, mime: str, data: Any) -> str:
        name = f"cell-{cell.number}-output-{k}.{_IMAGE_EXT[mime]}"
        self.folder.mkdir(parents=True, exist_ok=True)
        raw = _text(data)
        content = raw.encode("utf-8") if mime == "image/svg+xml" else base64.b64decode(raw)
        (self.folder / name).write_bytes(content)
        return f"{self.href}/{name}"


def _output_markdown(
    out: dict[str, Any], k: int, cell: Cell, options: dict[str, Any], images: _Images
) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name", "stdout")
        if name == "stderr" and options.get("warning") is False:
            return ""
        text = _text(out.get("text", ""))
        if not text.strip():
            return ""
        if options.get("output") == "asis":
            return text + "\n"
        return _code_block(text, f".cell-output .cell-output-{name}")
    if kind == "error":
        trace = strip_ansi("\n".join(out.get("traceback", []))) or f"{out.get('ename')}: {out.get('evalue')}"
        return _code_block(trace, ".cell-output .cell-output-error")
    if kind not in ("display_data", "execute_result"):
        return ""
    data = out.get("data", {})
    mime = next((m for m in _ORDER if m in data), None)
    if mime is None:
        return ""
    value = data[mime]
    if options.get("output") == "asis" and mime in ("text/markdown", "text/plain"):
        return _text(value) + "\n"
    if mime == "text/markdown":
        return _text(value) + "\n"
    if mime == "text/html":
        return _raw_html(_text(value))
    if mime in _IMAGE_EXT:
        src = images.save(cell, k, mime, value)
        alt = options.get("fig-alt") or options.get("fig-cap") or f"Output of {cell.describe()}"
        return _raw_html(
            f'<img src="{html.escape(src)}" alt="{html.escape(str(alt))}" class="hg-output-image">'
        )
    return _code_block(_text(value), ".cell-output .cell-output-display")


def _caption(cell: Cell, key: str) -> str | None:
    value = cell.options.get(key)
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) != 1:
            raise FloatCaptionError(ERR_SUBFIGURES.format(cell=cell.describe()))
        value = value[0]
    return str(value)


def _cell_markdown(cell: Cell, run: ChapterRun, defaults: dict[str, Any], images: _Images) -> str:
    options = cell_options(cell, defaults)
    if options.get("include") is False:
        return ""
    parts: list[str] = []
    echo = options.get("echo")
    if echo is True or echo == "fenced":
        parts.append(_code_block(cell.source, ".python .cell-code"))
    body = ""
    if options.get("output") is not False:
        body = "\n".join(
            s
            for k, o in enumerate(run.outputs.get(cell.number, []), start=1)
            if (s := _output_markdown(o, k, cell, options, images))
        )
    label = cell.label or ""
    fig_cap, tbl_cap = _caption(cell, "fig-cap"), _caption(cell, "tbl-cap")
    kind = (
        "fig"
        if label.startswith("fig-") or (fig_cap and not label.startswith("tbl-"))
        else "tbl"
        if (label.startswith("tbl-") or tbl_cap)
        else None
    )
    if kind and body:
        caption = fig_cap if kind == "fig" else tbl_cap
        ident = f"#{label} " if label.startswith(f"{kind}-") else ""
        cap = f"::: {{.hg-caption}}\n{caption}\n:::\n" if caption else ""
        body = f"::: {{{ident}.hg-float .hg-float-{kind}}}\n{body}\n{cap}:::\n"
    if body:
        parts.append(body)
    if not parts:
        return ""
    ident = f"#{label} " if label and not label.startswith(("fig-", "tbl-")) else ""
    return f"\n::: {{{ident}.cell}}\n" + "\n".join(parts) + "\n:::\n\n"


def _markdown_text(block: Markdown, values: list[Any], start: int) -> str:
    text = block.text
    for offset, inline in reversed(list(enumerate(block.inlines))):
        value = values[start + offset]
        rendered = value.text if value.markdown else escape_markdown(value.text)
        text = text[: inline.start] + rendered + text[inline.end :]
    return text


def assemble_markdown(
    doc: Document, run: ChapterRun, *, defaults: dict[str, Any], files_dir: Path, files_href: str
) -> str:
    """Pandoc markdown for an executed document.

    Parameters
    ----------
    doc : the parsed chapter.
    run : its outputs and inline values.
    defaults : execute options of the project and page.
    files_dir : where image outputs are written.
    files_href : the same folder as a link relative to the page.

    Returns
    -------
    str
        The chapter body as pandoc markdown (front matter ``title`` becomes a level-1 heading).

    References
    ----------
    .. [1] Pandoc manual, "Divs and Spans" and "Raw attribute", https://pandoc.org/MANUAL.html
    """
    images = _Images(files_dir, files_href)
    chunks: list[str] = []
    title = doc.meta.get("title")
    if title:
        cls = " {.unnumbered}" if doc.meta.get("number-sections") is False else ""
        chunks.append(f"# {title}{cls}\n\n")
    used = 0
    for block in doc.blocks:
        if isinstance(block, Markdown):
            chunks.append(_markdown_text(block, run.inlines, used))
            used += len(block.inlines)
        else:
            chunks.append(_cell_markdown(block, run, defaults, images))
    return "".join(chunks)
