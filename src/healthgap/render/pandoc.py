"""Run pandoc (from the ``pypandoc-binary`` wheel) and walk its JSON AST."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["pandoc_path", "to_ast", "to_html", "walk", "stringify", "PandocError", "el", "attr"]

ERR_NO_PANDOC = (
    "pandoc was not found. Install the project's dependencies (`pip install -e .` installs "
    "the pypandoc-binary wheel, which ships pandoc)."
)
ERR_PANDOC = "pandoc failed converting {what}: {message}"


class PandocError(RuntimeError):
    """pandoc is missing or failed."""


@lru_cache(maxsize=1)
def pandoc_path() -> str:
    """The pandoc executable: the one bundled with pypandoc-binary, else one on the PATH."""
    try:
        import pypandoc

        path = pypandoc.get_pandoc_path()
        if path:
            return str(path)
    except (ImportError, OSError):
        pass
    found = shutil.which("pandoc")
    if not found:
        raise PandocError(ERR_NO_PANDOC)
    return found


def _run(args: list[str], stdin: str, what: str) -> str:
    proc = subprocess.run(
        [pandoc_path(), *args], input=stdin.encode("utf-8"), capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise PandocError(
            ERR_PANDOC.format(what=what, message=proc.stderr.decode("utf-8", "replace").strip())
        )
    return proc.stdout.decode("utf-8")


def to_ast(markdown: str, *, what: str = "markdown") -> dict[str, Any]:
    """Parse pandoc markdown into the pandoc JSON AST.

    References
    ----------
    .. [1] Pandoc manual, "Pandoc's Markdown", https://pandoc.org/MANUAL.html#pandocs-markdown
    """
    return json.loads(_run(["--from=markdown", "--to=json"], markdown, what))


def to_html(ast: dict[str, Any], *, what: str = "a page") -> str:
    """Write an AST as an HTML5 fragment: MathML for maths, no syntax-highlighting styles.

    References
    ----------
    .. [1] Pandoc manual, "Math rendering in HTML", https://pandoc.org/MANUAL.html#math-rendering-in-html
    """
    return _run(
        ["--from=json", "--to=html5", "--mathml", "--no-highlight", "--wrap=preserve"], json.dumps(ast), what
    )


def el(t: str, c: Any = None) -> dict[str, Any]:
    """A pandoc AST element."""
    return {"t": t} if c is None else {"t": t, "c": c}


def attr(ident: str = "", classes: list[str] | None = None, kvs: list[list[str]] | None = None) -> list[Any]:
    return [ident, classes or [], kvs or []]


Visitor = Callable[[dict[str, Any]], Any]


def walk(node: Any, fn: Visitor) -> Any:
    """Post-order walk; ``fn(element)`` returns None (keep), an element, or a list (splice)."""
    if isinstance(node, list):
        out: list[Any] = []
        for item in node:
            if isinstance(item, dict) and "t" in item:
                item = _children(item, fn)
                result = fn(item)
                if result is None:
                    out.append(item)
                elif isinstance(result, list):
                    out.extend(result)
                else:
                    out.append(result)
            else:
                out.append(walk(item, fn))
        return out
    if isinstance(node, dict):
        if "t" in node:
            item = _children(node, fn)
            result = fn(item)
            return item if result is None or isinstance(result, list) else result
        return {k: walk(v, fn) for k, v in node.items()}
    return node


def _children(element: dict[str, Any], fn: Visitor) -> dict[str, Any]:
    if "c" not in element:
        return element
    return {"t": element["t"], "c": walk(element["c"], fn)}


def stringify(node: Any) -> str:
    """Plain text of inlines/blocks (like pandoc.utils.stringify)."""
    if isinstance(node, list):
        return "".join(stringify(n) for n in node)
    if not isinstance(node, dict):
        return ""
    t: Any = node.get("t")
    c: Any = node.get("c")  # pandoc JSON: the content's shape depends on the element type
    if t == "Str":
        return c
    if t in ("Space", "SoftBreak", "LineBreak"):
        return " "
    if t in ("Code", "Math", "RawInline"):
        return c[1] if t != "RawInline" else ""
    if t in (
        "Emph",
        "Strong",
        "Strikeout",
        "Underline",
        "SmallCaps",
        "Superscript",
        "Subscript",
        "Plain",
        "Para",
    ):
        return stringify(c)
    if t in ("Span", "Link", "Image", "Quoted", "Cite"):
        return stringify(c[1])
    if t == "Note":
        return ""
    return stringify(c) if isinstance(c, list) else ""
