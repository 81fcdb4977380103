"""Quarto-style cross-references, numbering and callouts on the pandoc AST.

Pass 1 (per page, :func:`number_page`): take the title, number sections
("3.2"), figures and tables ("Figure 3.1" per chapter, like Quarto books),
style callouts, and collect every referenceable label.
Pass 2 (:func:`resolve_refs`, after every page is numbered): turn ``@sec-x``,
``@fig-x`` and ``@tbl-x`` citations into links, across pages too.

A figure or table cell whose only output is a skip note (``<div class="hg-skip ...">``
from :meth:`healthgap.book.Book.skip`: the dataset lacks what the section needs) gets
no caption and no number, so the next figure takes the number; references to it read
"Figure (not shown for this dataset)" as plain text, not a link.
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar

from healthgap.render.pandoc import attr, el, stringify, walk

__all__ = [
    "Target",
    "PageRefs",
    "extract_title",
    "number_page",
    "resolve_refs",
    "is_skip_note",
    "CrossrefError",
    "KIND_NAMES",
    "SKIP_CLASS",
    "NOT_SHOWN",
]

KIND_NAMES = {"fig": "Figure", "tbl": "Table", "sec": "Section", "chapter": "Chapter", "appendix": "Appendix"}
#: The class of a skip note (:meth:`healthgap.book.Book.skip`).
SKIP_CLASS = "hg-skip"
#: How a reference to a skipped figure or table reads: "Figure (not shown for this dataset)".
NOT_SHOWN = "(not shown for this dataset)"
CALLOUT_TITLES = {
    "note": "Note",
    "warning": "Warning",
    "important": "Important",
    "tip": "Tip",
    "caution": "Caution",
}
ERR_DUPLICATE = (
    "The label {label!r} is defined twice ({first} and {second}); labels must be unique in the book."
)


class CrossrefError(ValueError):
    """A label is defined twice."""


@dataclass(frozen=True)
class Target:
    """Something a cross-reference can point at."""

    kind: str  # "sec", "fig", "tbl"
    label: str  # the reference text: "Figure 3.1", "Chapter 2", or the section title
    number: str | None
    page: str  # output path, e.g. chapters/a.html
    anchor: str
    shown: bool = True  # False: a figure/table skipped for this dataset (references are plain text)


@dataclass
class PageRefs:
    """What numbering a page produced: its targets and its table of contents."""

    targets: dict[str, Target] = field(default_factory=dict)
    toc: list[tuple[int, str, str | None, list[Any]]] = field(
        default_factory=list
    )  # level, id, number, inlines


def extract_title(blocks: list[Any]) -> tuple[list[Any], list[Any] | None, list[Any]]:
    """Remove the first level-1 heading from the top-level blocks.

    Returns the remaining blocks, the heading's inlines (None if there is none) and its attr.
    """
    for i, block in enumerate(blocks):
        if block.get("t") == "Header" and block["c"][0] == 1:
            return blocks[:i] + blocks[i + 1 :], block["c"][2], block["c"][1]
    return blocks, None, attr()


class _SkipNotes(HTMLParser):
    """Checks that a fragment is nothing but skip-note ``div`` elements (and white space)."""

    _VOID: ClassVar[set[str]] = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.notes = 0
        self.other = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0:
            classes = (dict(attrs).get("class") or "").split()
            if tag == "div" and SKIP_CLASS in classes:
                self.notes += 1
            else:
                self.other = True
        if tag not in self._VOID:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth == 0:
            self.other = True

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._VOID:
            self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if self.depth == 0 and data.strip():
            self.other = True


def is_skip_note(blocks: list[Any]) -> bool:
    """True when ``blocks`` (a float's content) are only skip notes: the section was skipped.

    A skip note is raw HTML ``<div class="hg-skip ...">`` (:meth:`healthgap.book.Book.skip`).
    Content with anything else besides (a chart, a table, text) is not a skip note.
    """
    if not any(SKIP_CLASS in str(block["c"][1]) for block in blocks if block["t"] == "RawBlock"):
        return False  # no skip note (a chart's raw HTML is long: not worth parsing to find none)
    parser = _SkipNotes()
    for block in blocks:
        if block["t"] != "RawBlock" or block["c"][0] != "html":
            return False
        parser.feed(block["c"][1])
    parser.close()
    return parser.notes > 0 and not parser.other


def _raw(text: str) -> dict[str, Any]:
    return el("RawBlock", ["html", text])


def _prefix(kind: str, number: str | None) -> list[Any]:
    if number is None:
        return []
    words = f"{KIND_NAMES[kind]} {number}:"
    return [el("Span", [attr("", ["hg-float-label"]), [el("Str", words)]]), el("Space")]


def _caption_blocks(blocks: list[Any], prefix: list[Any]) -> list[Any]:
    blocks = list(blocks)
    if blocks and blocks[0]["t"] in ("Para", "Plain"):
        blocks[0] = el("Plain", prefix + blocks[0]["c"])
    elif prefix:
        blocks.insert(0, el("Plain", prefix))
    return blocks


# The caption a healthgap figure (charts.figure_html) or table (tables.table_html) carries itself.
_OWN_CAPTION = {
    "fig": re.compile(r'(<figcaption id="[^"]+-caption")>(.*?)</figcaption>', re.S),
    "tbl": re.compile(r'(<caption id="[^"]+-caption")>(.*?)</caption>', re.S),
}


def _merge_own_caption(
    content: list[Any], kind: str, caption: list[Any], prefix: list[Any]
) -> list[Any] | None:
    """Put the numbered caption into the figure/table's own caption, so it is shown once.

    A cell whose output is one :func:`healthgap.charts.figure_html` figure (or one
    :func:`healthgap.tables.table_html` table) already has a caption, tied to the chart
    or table by ``aria-labelledby``. Wrapping it in a second captioned figure would show
    the title twice ("People by age" above "Figure 1.1: People by age"). Instead the
    own caption's text becomes "Figure 1.1: <fig-cap>" (or keeps its own text after
    the number when the cell has no caption). Returns None when the output does not
    hold exactly one such caption.
    """
    pattern = _OWN_CAPTION[kind]
    hits = [
        (i, m)
        for i, b in enumerate(content)
        if b["t"] == "RawBlock" and b["c"][0] == "html"
        for m in pattern.finditer(b["c"][1])
    ]
    if len(hits) != 1:
        return None
    i, m = hits[0]
    text = content[i]["c"][1]
    close = "</figcaption>" if kind == "fig" else "</caption>"
    if caption:
        inner = _caption_blocks(caption, prefix)
    else:
        inner = [el("Plain", [*prefix, el("RawInline", ["html", m.group(2)])])]
    inner = [el("Plain", b["c"]) if b["t"] == "Para" else b for b in inner]
    return [
        *content[:i],
        _raw(text[: m.start()] + m.group(1) + ' class="hg-caption">'),
        *inner,
        _raw(close + text[m.end() :]),
        *content[i + 1 :],
    ]


def _callout(block: dict[str, Any]) -> list[Any] | None:
    ident, classes, kvs = block["c"][0]
    kind = next(
        (c[len("callout-") :] for c in classes if c.startswith("callout-") and c[8:] in CALLOUT_TITLES), None
    )
    if kind is None:
        return None
    content = list(block["c"][1])
    title_kv = dict(kvs).get("title")
    if title_kv:
        title: list[Any] = [el("Str", title_kv)]
    elif content and content[0]["t"] == "Header":
        title = content.pop(0)["c"][2]
    else:
        title = [el("Str", CALLOUT_TITLES[kind])]
    ident_attr = f' id="{html.escape(ident)}"' if ident else ""
    return [
        _raw(f'<div{ident_attr} class="hg-callout hg-callout-{kind}" role="note">'),
        _raw('<p class="hg-callout__title">'),
        el("Plain", title),
        _raw("</p>"),
        el("Div", [attr("", ["hg-callout__body"]), content]),
        _raw("</div>"),
    ]


def number_page(
    blocks: list[Any],
    *,
    page: str,
    chapter: str | None,
    number_sections: bool = True,
    toc_depth: int = 3,
) -> tuple[list[Any], PageRefs]:
    """Number a page's sections, figures and tables, style its callouts, collect its labels.

    Parameters
    ----------
    blocks : the page's body (title already removed).
    page : its output path.
    chapter : the chapter number ("3", "A") or None for unnumbered pages.
    number_sections : number headings ("3.1 Title").
    toc_depth : deepest heading level in the page's table of contents.

    Returns
    -------
    blocks, PageRefs

    References
    ----------
    .. [1] Quarto, "Cross references", https://quarto.org/docs/authoring/cross-references.html
    .. [2] Quarto, "Callout blocks", https://quarto.org/docs/authoring/callouts.html
    """
    refs = PageRefs()
    blocks = walk(blocks, lambda b: _callout(b) if b["t"] == "Div" else None)
    counters = {"fig": 0, "tbl": 0}
    sections = [0] * 7

    def add(label: str, target: Target) -> None:
        if label in refs.targets:
            raise CrossrefError(ERR_DUPLICATE.format(label=label, first=page, second=page))
        refs.targets[label] = target

    def float_number(kind: str) -> str:
        counters[kind] += 1
        return f"{chapter}.{counters[kind]}" if chapter else str(counters[kind])

    def visit(b: dict[str, Any]) -> Any:
        t = b["t"]
        if t == "Header":
            level, (ident, classes, kvs), inlines = b["c"]
            number = None
            if number_sections and chapter and level >= 2 and "unnumbered" not in classes:
                sections[level] += 1
                for deeper in range(level + 1, 7):
                    sections[deeper] = 0
                number = ".".join([chapter, *(str(sections[lv]) for lv in range(2, level + 1))])
                inlines = [
                    el("Span", [attr("", ["header-section-number"]), [el("Str", number)]]),
                    el("Space"),
                    *inlines,
                ]
            if ident:
                text = f"{KIND_NAMES['sec']}\u00a0{number}" if number else stringify(b["c"][2])
                add(ident, Target("sec", text, number, page, ident))
            if 2 <= level <= toc_depth and ident:
                refs.toc.append((level, ident, number, b["c"][2]))
            return el("Header", [level, [ident, classes, kvs], inlines])
        if t == "Div":
            (ident, classes, kvs), content = b["c"]
            kind = ident[:3] if ident[:4] in ("fig-", "tbl-") else None
            if "hg-float" in classes:
                kind = kind or ("fig" if "hg-float-fig" in classes else "tbl")
            elif kind is None:
                return None
            caption: list[Any] = []
            if content and content[-1]["t"] == "Div" and "hg-caption" in content[-1]["c"][0][1]:
                caption, content = content[-1]["c"][1], content[:-1]
            elif "hg-float" not in classes and content and content[-1]["t"] == "Para" and len(content) > 1:
                caption, content = [content[-1]], content[:-1]
            if is_skip_note(content):  # skipped for this dataset: the note alone, no caption, no number
                id_attr = f' id="{html.escape(ident)}"' if ident else ""
                if ident:
                    add(
                        ident, Target(kind, f"{KIND_NAMES[kind]} {NOT_SHOWN}", None, page, ident, shown=False)
                    )
                return [
                    _raw(f'<div{id_attr} class="hg-float-skipped hg-float-skipped-{kind}">'),
                    *content,
                    _raw("</div>"),
                ]
            number = float_number(kind) if ident else None
            if ident:
                add(ident, Target(kind, f"{KIND_NAMES[kind]}\u00a0{number}", number, page, ident))
            id_attr = f' id="{html.escape(ident)}"' if ident else ""
            merged = _merge_own_caption(content, kind, caption, _prefix(kind, number))
            if merged is not None:
                return [
                    _raw(f'<figure{id_attr} class="hg-figure hg-figure-{kind}">'),
                    *merged,
                    _raw("</figure>"),
                ]
            cap = []
            if caption or number:
                cap = [
                    _raw('<figcaption class="hg-caption">'),
                    *_caption_blocks(caption, _prefix(kind, number)),
                    _raw("</figcaption>"),
                ]
            inner = cap + content if kind == "tbl" else content + cap
            return [_raw(f'<figure{id_attr} class="hg-figure hg-figure-{kind}">'), *inner, _raw("</figure>")]
        if t == "Figure":
            (ident, classes, kvs), (short, caption), content = b["c"]
            if not ident.startswith("fig-"):
                return None
            number = float_number("fig")
            add(ident, Target("fig", f"Figure\u00a0{number}", number, page, ident))
            return el(
                "Figure",
                [
                    [ident, ["hg-figure", "hg-figure-fig", *classes], kvs],
                    [short, _caption_blocks(caption, _prefix("fig", number))],
                    content,
                ],
            )
        if t == "Table":
            c = list(b["c"])
            ident = c[0][0]
            if not ident.startswith("tbl-"):
                return None
            number = float_number("tbl")
            add(ident, Target("tbl", f"Table\u00a0{number}", number, page, ident))
            short, caption = c[1]
            c[1] = [short, _caption_blocks(caption, _prefix("tbl", number))]
            return el("Table", c)
        return None

    blocks = walk(blocks, visit)
    return blocks, refs


def _href(from_page: str, target: Target) -> str:
    if target.page == from_page:
        return f"#{target.anchor}"
    rel = posixpath.relpath(target.page, posixpath.dirname(from_page) or ".")
    return f"{rel}#{target.anchor}"


def resolve_refs(
    blocks: list[Any],
    *,
    page: str,
    targets: dict[str, Target],
    warn: Callable[[str], None] | None = None,
) -> list[Any]:
    """Replace cross-reference citations (``@fig-x``, ``[-@tbl-y]``, ``@sec-z``) with links.

    Unknown labels render as bold ``?@label`` and are reported through ``warn``, as Quarto does.
    A figure or table skipped for this dataset renders as plain text, "Figure (not shown for
    this dataset)" ("(not shown for this dataset)" for ``[-@fig-x]``).

    References
    ----------
    .. [1] Quarto, "Cross references", https://quarto.org/docs/authoring/cross-references.html
    """

    def visit(node: dict[str, Any]) -> Any:
        if node["t"] != "Cite":
            return None
        citations = node["c"][0]
        if not any(c["citationId"].split("-", 1)[0] in ("sec", "fig", "tbl") for c in citations):
            return None
        out: list[Any] = []
        for i, c in enumerate(citations):
            if i:
                out += [el("Str", ","), el("Space")]
            if c["citationPrefix"]:
                out += [*c["citationPrefix"], el("Space")]
            label = c["citationId"]
            target = targets.get(label)
            if target is None:
                if warn:
                    warn(f"{page}: unresolved cross-reference @{label}")
                out.append(el("Strong", [el("Str", f"?@{label}")]))
            elif not target.shown:  # skipped for this dataset: plain text, nothing to link to
                text = NOT_SHOWN if c["citationMode"]["t"] == "SuppressAuthor" else target.label
                out.append(el("Span", [attr("", ["hg-xref-skipped"]), [el("Str", text)]]))
            else:
                suppress = c["citationMode"]["t"] == "SuppressAuthor"
                text = target.number if suppress and target.number else target.label
                out.append(el("Link", [attr("", ["hg-xref"]), [el("Str", text)], [_href(page, target), ""]]))
            if c["citationSuffix"]:
                out += list(c["citationSuffix"])
        return out

    return walk(blocks, visit)
