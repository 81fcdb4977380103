"""Parse a Quarto markdown (``.qmd``) file into front matter, markdown and cells.

Only what the built-in renderer needs: YAML front matter, executable
```` ```{python} ```` cells with ``#|`` option lines, and inline expressions
`` `{python} expr` `` in the markdown (outside fenced code blocks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Cell", "Markdown", "Inline", "Document", "parse_qmd", "QmdError", "INLINE_RE"]

ERR_FRONT_MATTER = "{path}: the YAML front matter is not valid YAML ({problem})."
ERR_FRONT_MATTER_MAP = "{path}: the YAML front matter must be a mapping of keys to values."
ERR_UNCLOSED = "{path}, line {line}: the code cell ```{{{engine}}} is never closed (add a line of {fence})."
ERR_OPTIONS = "{path}, line {line}: the cell options (#| lines) are not valid YAML ({problem})."
ERR_OPTIONS_MAP = "{path}, line {line}: the cell options (#| lines) must be `key: value` lines."
ERR_ENGINE = (
    "{path}, line {line}: code cells in {engine!r} are not supported by the built-in renderer "
    "(only python). Install Quarto to render this book, or change the cell."
)

#: An inline expression: one or more backticks, ``{python}``, the code, the same backticks.
INLINE_RE = re.compile(r"(?<!`)(`+)\{python\}[ \t]+(.+?)[ \t]*\1(?!`)", re.DOTALL)
_CELL_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})[ \t]*\{(?P<engine>[A-Za-z][\w-]*)(?P<rest>[^}]*)\}[ \t]*$"
)
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
_OPTION = re.compile(r"^[ \t]*#\|[ ]?(.*)$")


class QmdError(ValueError):
    """The .qmd file cannot be parsed; the message names the file and line."""


@dataclass(frozen=True)
class Inline:
    """An inline expression: its source and where it sits in the markdown text."""

    code: str
    start: int
    end: int


@dataclass(frozen=True)
class Markdown:
    """A run of markdown text and the inline expressions found in it."""

    text: str
    inlines: tuple[Inline, ...] = ()


@dataclass(frozen=True)
class Cell:
    """An executable code cell.

    ``number`` counts cells from 1 in document order; ``line`` is the line of the fence.
    ``source`` excludes the ``#|`` option lines.
    """

    number: int
    line: int
    engine: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str | None:
        label = self.options.get("label")
        return None if label is None else str(label)

    def describe(self) -> str:
        """Name the cell for a user: number and label, else its first line of code."""
        if self.label:
            return f"cell {self.number} (label {self.label!r})"
        first = next((ln.strip() for ln in self.source.splitlines() if ln.strip()), "")
        if len(first) > 60:
            first = first[:57] + "..."
        return f"cell {self.number} (starting {first!r})" if first else f"cell {self.number} (empty)"


@dataclass(frozen=True)
class Document:
    """A parsed .qmd file: front matter and a sequence of markdown runs and cells."""

    path: Path
    meta: dict[str, Any]
    blocks: tuple[Markdown | Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Cell))

    @property
    def inlines(self) -> tuple[Inline, ...]:
        return tuple(i for b in self.blocks if isinstance(b, Markdown) for i in b.inlines)


def _split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str, int]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return {}, text, 0
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            raw = "".join(lines[1:i])
            try:
                meta = yaml.safe_load(raw) if raw.strip() else {}
            except yaml.YAMLError as exc:
                raise QmdError(ERR_FRONT_MATTER.format(path=path, problem=str(exc).splitlines()[0])) from None
            if meta is None:
                meta = {}
            if not isinstance(meta, dict):
                raise QmdError(ERR_FRONT_MATTER_MAP.format(path=path))
            return meta, "".join(lines[i + 1 :]), i + 1
    return {}, text, 0


def _find_inlines(text: str) -> tuple[Inline, ...]:
    """Inline expressions in ``text``, skipping fenced code blocks."""
    found: list[Inline] = []
    pos = 0
    fence: str | None = None
    segment_start = 0
    segments: list[tuple[int, int]] = []
    for line in text.splitlines(keepends=True):
        m = _FENCE_OPEN.match(line)
        if fence is None and m:
            segments.append((segment_start, pos))
            fence = m.group("fence")
        elif (
            fence is not None
            and line.strip().startswith(fence[0] * len(fence))
            and set(line.strip()) == {fence[0]}
        ):
            fence = None
            segment_start = pos + len(line)
        pos += len(line)
    if fence is None:
        segments.append((segment_start, len(text)))
    for start, end in segments:
        for m in INLINE_RE.finditer(text, start, end):
            found.append(Inline(code=m.group(2).strip(), start=m.start(), end=m.end()))
    return tuple(found)


def _parse_options(lines: list[str], path: Path, line: int) -> tuple[dict[str, Any], list[str]]:
    opt_lines: list[str] = []
    i = 0
    while i < len(lines):
        m = _OPTION.match(lines[i])
        if not m:
            break
        opt_lines.append(m.group(1))
        i += 1
    if not opt_lines:
        return {}, lines
    try:
        options = yaml.safe_load("\n".join(opt_lines))
    except yaml.YAMLError as exc:
        raise QmdError(ERR_OPTIONS.format(path=path, line=line, problem=str(exc).splitlines()[0])) from None
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise QmdError(ERR_OPTIONS_MAP.format(path=path, line=line))
    return {str(k): v for k, v in options.items()}, lines[i:]


def parse_qmd(path: Path, text: str | None = None) -> Document:
    """Parse a .qmd file.

    Parameters
    ----------
    path : the file (read as UTF-8 unless ``text`` is given).
    text : the file's contents, if already read.

    Returns
    -------
    Document

    Raises
    ------
    QmdError
        Invalid front matter or cell options, an unclosed cell, or a non-Python engine.

    References
    ----------
    .. [1] Quarto, "Execution options", https://quarto.org/docs/computations/execution-options.html
    .. [2] Quarto, "Inline code", https://quarto.org/docs/computations/inline-code.html
    """
    path = Path(path)
    if text is None:
        text = path.read_text(encoding="utf-8")
    text = text.replace("\r\n", "\n")
    meta, body, offset = _split_front_matter(text, path)
    lines = body.splitlines(keepends=True)
    blocks: list[Markdown | Cell] = []
    buffer: list[str] = []
    fence: str | None = None  # a non-executable fenced block we are inside
    number = 0
    i = 0

    def flush() -> None:
        if buffer:
            md = "".join(buffer)
            blocks.append(Markdown(md, _find_inlines(md)))
            buffer.clear()

    while i < len(lines):
        line = lines[i]
        if fence is None:
            m = _CELL_OPEN.match(line.rstrip("\n"))
            if m:
                engine, ticks, indent = m.group("engine"), m.group("fence"), m.group("indent")
                line_no = offset + i + 1
                end = next(
                    (
                        j
                        for j in range(i + 1, len(lines))
                        if lines[j].strip().startswith(ticks) and set(lines[j].strip()) == {"`"}
                    ),
                    None,
                )
                if end is None:
                    raise QmdError(ERR_UNCLOSED.format(path=path, line=line_no, engine=engine, fence=ticks))
                if engine != "python":
                    raise QmdError(ERR_ENGINE.format(path=path, line=line_no, engine=engine))
                code = [
                    ln[len(indent) :] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1 : end]
                ]
                options, code = _parse_options(code, path, line_no)
                flush()
                number += 1
                blocks.append(Cell(number, line_no, engine, "".join(code).rstrip("\n"), options))
                i = end + 1
                continue
            f = _FENCE_OPEN.match(line)
            if f:
                fence = f.group("fence")
        elif line.strip().startswith(fence) and set(line.strip()) == {fence[0]}:
            fence = None
        buffer.append(line)
        i += 1
    flush()
    return Document(path=path, meta=meta, blocks=tuple(blocks))
