"""Any dataset, any condition: render every example book and scan every page for false sentences.

The acceptance test of issue 10. Each example book (the default synthetic population, the
"other trust" extract, the Framingham-shaped cohort and the GP extract without deprivation) is
rendered with the built-in renderer, and every page is scanned for what a reader must never
see:

``lacking``
    A sentence about something the data lacks, outside the skip note of a skipped section
    (``class="hg-skip"``): the words are derived from the config and the loaded columns
    (:func:`facts_of`), e.g. no deprivation dimension -> no "deprivation", "deprived",
    "IMD", "fifth"; no ethnicity -> no "ethnic"; no true status -> no "undiagnosed"; a
    profile measure the data lacks -> not its label. Chart descriptions (``aria-label``),
    image text and chart titles count as sentences too. Exempt: the pages of
    :data:`EXEMPT_PAGES` and the tables of :data:`EXEMPT_TABLES` (the data dictionary's).
``empty-chart`` / ``empty-table`` / ``all-suppressed``
    A chart whose data has no row or no non-null value in any quantitative field it encodes;
    a table with a header and no rows; a table whose every number is ``[c]``.
``negative-limit``
    A lower confidence (or control) limit below 0 of a rate, proportion or ratio, in a
    download or a chart spec (signed quantities such as differences, SHAP contributions and
    calibration-in-the-large are left out: :func:`signed`).
``repeated``
    The same sentence twice on one page (visible text, five words or more).
``orphan``
    A reference that leads nowhere: ``?@label``, "(not shown for this dataset)", or "Figure"
    or "Table" with no number.
``render``
    A page that fails to render. The book is then rendered page by page (each page alone,
    with a plain welcome page) so that every failure and every other finding is listed at
    once; cross-references to other pages cannot resolve in that mode, so ``?@`` is not
    checked there.

Every rule is demonstrated on a small hand-made page that it fails on (the fast tests at the
end). Every example book passes (issue 10); a page that breaks the rules fails the test.
"""

from __future__ import annotations

import csv
import functools
import html
import json
import math
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

#: Pages that document the general contract and so name columns the data may lack, with why.
#: ``own-data`` is the how-to for pointing the book at another dataset: it describes every column
#: a dataset *may* have (and the example datasets), to people preparing one.
EXEMPT_PAGES: dict[str, str] = {
    "own-data": "explains every column a dataset may have, to people preparing one",
}
#: Pages whose tables (only) are exempt: the data dictionary's table lists every column of the
#: contract and every measure of the profile, present or not (its job is to say what is there).
#: Its prose is scanned like any page.
EXEMPT_TABLES: dict[str, str] = {
    "data-dictionary": "its table lists every column of the contract, present or not",
}

#: Lower-limit columns of quantities that cannot be negative (rates, proportions, ratios,
#: control limits of a proportion).
NONNEGATIVE_LOWER = (
    "lower_ci",
    "crude_lower",
    "rr_lower",
    "rii_lower",
    "sensitivity_lower",
    "ppv_lower",
    "ratio_lower_ci",
    "balanced_accuracy_lower_ci",
    "lower_limit_95",
    "lower_limit_99_8",
)
#: Downloads and charts (by id) whose ``value`` is a signed quantity: SHAP contributions.
SIGNED_IDS = re.compile(r"^(dependence-\d+|gap-decomposition)$")
#: Statistics that may be negative (rows naming them in ``statistic`` or ``metric``).
SIGNED_STATISTICS = re.compile(r"difference|intercept|calibration-in-the-large|change|gap", re.I)

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_BLOCK = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "caption",
    "figcaption",
    "table",
    "section",
    "figure",
    "dt",
    "dd",
    "br",
    "summary",
    "details",
    "header",
    "footer",
    "nav",
    "pre",
    "blockquote",
    "main",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'‘“])")
_MIN_REPEATED_WORDS = 5
_SUPPRESSED = "[c]"


# --- a small DOM -----------------------------------------------------------------------------


@dataclass
class Node:
    """An element of a parsed page: tag, attributes, children (nodes and text)."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = None
    skipped: bool = False  # a heading whose section holds only a skip note

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self) -> Iterator[Node]:
        """This node and every element under it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, test: Callable[[Node], bool]) -> list[Node]:
        return [n for n in self.iter() if test(n)]

    def text(self) -> str:
        """The text under this node, whitespace collapsed (scripts and SVG left out)."""
        return " ".join(" ".join(_texts(self)).split())

    def inside(self, test: Callable[[Node], bool]) -> bool:
        node = self.parent
        while node is not None:
            if test(node):
                return True
            node = node.parent
        return False


def _texts(node: Node) -> Iterator[str]:
    for child in node.children:
        if isinstance(child, str):
            yield child
        elif child.tag not in ("script", "style", "svg"):
            yield from _texts(child)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.node = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.node)
        self.node.children.append(node)
        if tag not in _VOID:
            self.node = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.node.children.append(Node(tag, {k: v or "" for k, v in attrs}, parent=self.node))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.node
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.node = node.parent

    def handle_data(self, data: str) -> None:
        self.node.children.append(data)


def parse(text: str) -> Node:
    """Parse an HTML page into :class:`Node` s (SVG content is dropped: it is the static
    copy of a chart whose spec is checked instead)."""
    text = re.sub(r"<svg\b.*?</svg>", "", text, flags=re.S)
    parser = _Parser()
    parser.feed(text)
    parser.close()
    return parser.root


_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def _is_skip(node: Node) -> bool:
    """A skip note, or the heading of a section that holds only a skip note."""
    return "hg-skip" in node.classes or node.skipped


def _mark_skipped_headings(root: Node) -> None:
    """Mark each heading whose section (up to the next heading) holds a skip note and no
    other text: the heading names what the skip note says is missing."""
    for parent in root.iter():
        elements = [c for c in parent.children if isinstance(c, Node) or c.strip()]
        for i, child in enumerate(elements):
            if not isinstance(child, Node) or child.tag not in _HEADINGS:
                continue
            section: list[Node | str] = []
            for after in elements[i + 1 :]:
                if isinstance(after, Node) and (after.tag in _HEADINGS or after.tag in ("nav", "footer")):
                    break
                section.append(after)
            nodes = [n for n in section if isinstance(n, Node)]
            has_skip = any("hg-skip" in n.classes for s in nodes for n in s.iter())
            rest = [s for s in section if isinstance(s, str)]
            rest += [t for s in nodes for t in _texts_outside_skips(s)]
            child.skipped = has_skip and not " ".join(rest).strip()


def _texts_outside_skips(node: Node) -> Iterator[str]:
    if "hg-skip" in node.classes:
        return
    for child in node.children:
        if isinstance(child, str):
            yield child
        elif child.tag not in ("script", "style", "svg"):
            yield from _texts_outside_skips(child)


def main_of(root: Node) -> Node:
    main = next((n for n in root.iter() if n.tag == "main"), root)
    _mark_skipped_headings(main)
    return main


# --- what a page says --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    text: str
    visible: bool  # False for chart descriptions, image text and chart titles
    tabular: bool = False  # in a table or a table's note (legends repeat from table to table)


def _is_tabular(node: Node) -> bool:
    return node.tag == "table" or "hg-table-note" in node.classes


def _blocks(node: Node, out: list[tuple[str, bool]], buf: list[str], tabular: bool = False) -> None:
    """The visible text under ``node`` outside skip notes, one entry per block element, each
    with whether it is in a table (or a table's note)."""
    for child in node.children:
        if isinstance(child, str):
            buf.append(child)
            continue
        if child.tag in ("script", "style", "svg") or _is_skip(child):
            continue
        inner = tabular or _is_tabular(child)
        if child.tag in _BLOCK:
            out.append((" ".join("".join(buf).split()), tabular))
            buf.clear()
        _blocks(child, out, buf, inner)
        if child.tag in _BLOCK:
            out.append((" ".join("".join(buf).split()), inner))
            buf.clear()


def blocks_of(main: Node) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    buf: list[str] = []
    _blocks(main, out, buf)
    out.append((" ".join("".join(buf).split()), False))
    return [(text, tabular) for text, tabular in out if text]


def split_sentences(block: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(block) if s.strip()]


def sentences_of(main: Node) -> list[Sentence]:
    """Every sentence of a page's main content outside skip notes: the visible text (one
    block per paragraph, cell, caption...) and what a screen reader or the chart shows
    (``aria-label``, ``alt``, chart titles)."""
    out = [Sentence(s, True, tabular) for b, tabular in blocks_of(main) for s in split_sentences(b)]
    for node in main.iter():
        if _is_skip(node) or node.inside(_is_skip):
            continue
        for key in ("aria-label", "alt"):
            if node.attrs.get(key):
                out += [Sentence(s, False) for s in split_sentences(node.attrs[key])]
    for spec in specs_of(main).values():
        out += [Sentence(s, False) for t in _titles(spec) for s in split_sentences(t)]
    return out


def _titles(spec: dict) -> Iterator[str]:
    """Title and subtitle texts anywhere in a Vega-Lite spec."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "title":
                if isinstance(value, str):
                    yield value
                elif isinstance(value, list):
                    yield from (v for v in value if isinstance(v, str))
                elif isinstance(value, dict):
                    for part in ("text", "subtitle"):
                        text = value.get(part)
                        yield from (
                            [text] if isinstance(text, str) else text if isinstance(text, list) else []
                        )
            elif key not in ("datasets", "data", "config"):
                yield from _titles(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from _titles(item)


def specs_of(main: Node) -> dict[str, dict]:
    """Chart specs by id (``<script type="application/json" id="x-spec">``)."""
    out = {}
    for node in main.iter():
        if node.tag == "script" and node.attrs.get("type") == "application/json":
            raw = "".join(c for c in node.children if isinstance(c, str))
            out[node.attrs.get("id", f"spec-{len(out)}")] = json.loads(html.unescape(raw))
    return out


# --- what the data lacks -----------------------------------------------------------------------


def _words(*words: str) -> list[re.Pattern[str]]:
    return [re.compile(rf"\b{w}", re.I) for w in words]


@dataclass(frozen=True)
class Facts:
    """What a book's dataset has and lacks, for the scan.

    Attributes
    ----------
    lacking : reason ("no deprivation") -> patterns of words the pages must not use.
    present : labels of the measures and indicators the data has, longest first (blanked
        before matching, so "coronary heart disease within ten years" is not read as
        "coronary heart disease").
    columns : canonical columns of the loaded table.
    """

    lacking: dict[str, list[re.Pattern[str]]]
    present: tuple[str, ...] = ()
    columns: frozenset[str] = frozenset()


def _words(*words: str) -> list[re.Pattern[str]]:
    return [re.compile(rf"\b{w}", re.I) for w in words]


def facts_of(config, columns: set[str]) -> Facts:
    """What the book must not talk about for this dataset, derived from the config (its
    dimensions, outcomes, measures and truth) and the loaded table's columns, so it holds for
    any dataset."""
    from healthgap.config import read_profile

    lacking: dict[str, list[re.Pattern[str]]] = {}
    if not {"imd_quintile", "imd_decile"} & columns:
        lacking["no deprivation"] = _words("depriv", "IMD", "fifths?\\b", "quintile", "decile")
    if "ethnicity" not in columns:
        lacking["no ethnic group"] = _words("ethnic")
    if not {"lsoa", "locality", "gp_practice"} & columns:
        lacking["no geography"] = _words(
            "localit", "practice", "LSOA", "maps?\\b", "areas?\\b(?! under)", "place\\b"
        )
    else:
        if "locality" not in columns:
            lacking["no locality"] = _words("localit")
        if "lsoa" not in columns:
            lacking["no small areas"] = _words("LSOA")
    if not any(c.startswith("true_") for c in columns) and config.data.truth is None:
        lacking["no true status"] = _words("true status", "undiagnosed")
    if "cvd_admissions" not in config.outcomes or "cvd_admissions" not in columns:
        lacking["no admissions"] = _words("admission", "admitted")
    present = {m.label for m in config.measures if m.name in columns} | {i.label for i in config.indicators}
    lowered = [p.lower() for p in present]
    profile = read_profile("cvd") if config.profile == "cvd" else None
    for m in profile.measures if profile else ():
        if m.name not in columns and m.label.lower() not in lowered:
            lacking[f"no {m.name}"] = [re.compile(rf"(?<!\w){re.escape(m.label)}(?!\w)", re.I)]
    return Facts(lacking, tuple(sorted(present, key=len, reverse=True)), frozenset(columns))


def _without_present(sentence: str, present: tuple[str, ...]) -> str:
    for label in present:
        sentence = re.sub(re.escape(label), " ", sentence, flags=re.I)
    return sentence


# --- findings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    page: str
    rule: str
    text: str

    def __str__(self) -> str:
        return f"{self.page}: [{self.rule}] {self.text}"


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def scan_lacking(page: str, sentences: list[Sentence], facts: Facts) -> list[Finding]:
    if page in EXEMPT_PAGES:
        return []
    out = []
    for s in sentences:
        if s.tabular and page in EXEMPT_TABLES:
            continue
        text = _without_present(s.text, facts.present)
        reasons = [r for r, patterns in facts.lacking.items() if any(p.search(text) for p in patterns)]
        if reasons:
            where = "" if s.visible else " (chart text)"
            out.append(Finding(page, "lacking", f"{', '.join(reasons)}{where}: {_short(s.text)}"))
    return out


_HAS_NO = re.compile(r"\bhas no\b(.*)", re.I)


def scan_skip_notes(page: str, main: Node, facts: Facts) -> list[Finding]:
    """A skip note saying the data has no column it has (by canonical name or label)."""
    out = []
    labels = {label.lower() for label in facts.present}
    for note in main.find_all(lambda n: "hg-skip" in n.classes):
        for s in split_sentences(note.text()):
            said = _HAS_NO.search(s)
            if said is None:
                continue
            words = said.group(1).lower()
            named = {c for c in facts.columns if re.search(rf"\b{re.escape(c)}\b", words)}
            named |= {label for label in labels if label in words}
            if named:
                out.append(
                    Finding(page, "false-skip", f"the data has {', '.join(sorted(named))}: {_short(s)}")
                )
    return out


def scan_repeated(page: str, sentences: list[Sentence]) -> list[Finding]:
    seen: dict[str, int] = {}
    for s in sentences:
        if s.visible and not s.tabular and len(s.text.split()) >= _MIN_REPEATED_WORDS:
            seen[s.text] = seen.get(s.text, 0) + 1
    return [Finding(page, "repeated", f"{n} times: {_short(t)}") for t, n in seen.items() if n > 1]


_BARE_FLOAT = re.compile(r"\b(Figure|Table)\b(?!\s+(?:[A-Z]|\d+)(?:\.\d+)*\b)")


def scan_orphans(page: str, main: Node, *, check_unresolved: bool = True) -> list[Finding]:
    out = []
    for block, _tabular in blocks_of(main):
        for s in split_sentences(block):
            if check_unresolved and "?@" in s:
                out.append(Finding(page, "orphan", f"unresolved reference: {_short(s)}"))
            if "(not shown for this dataset)" in s:
                out.append(Finding(page, "orphan", f"reference to a figure or table not shown: {_short(s)}"))
            elif _BARE_FLOAT.search(s):
                out.append(Finding(page, "orphan", f"figure or table with no number: {_short(s)}"))
    return out


def _rows(spec: dict) -> list[dict]:
    rows: list[dict] = []
    for values in (spec.get("datasets") or {}).values():
        rows += [r for r in values if isinstance(r, dict)]
    for node in _walk(spec):
        data = node.get("data")
        if isinstance(data, dict) and isinstance(data.get("values"), list):
            rows += [r for r in data["values"] if isinstance(r, dict)]
    return rows


def _walk(spec: object) -> Iterator[dict]:
    if isinstance(spec, dict):
        yield spec
        for key, value in spec.items():
            if key not in ("datasets", "config"):
                yield from _walk(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from _walk(item)


def _quantitative_fields(spec: dict) -> set[str]:
    fields = set()
    for node in _walk(spec):
        encoding = node.get("encoding")
        if isinstance(encoding, dict):
            for channel in encoding.values():
                for c in channel if isinstance(channel, list) else [channel]:
                    if (
                        isinstance(c, dict)
                        and c.get("type") == "quantitative"
                        and isinstance(c.get("field"), str)
                    ):
                        fields.add(c["field"])
    return fields


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return None if math.isnan(value) else float(value)
    return None


@functools.cache
def _vega_lite_validator() -> Any:
    """A validator of Vega-Lite specs against the schema of the Vega-Lite version Altair writes."""
    import jsonschema
    from altair.vegalite.v6.schema.core import load_schema

    schema = load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(spec: dict) -> list[str]:
    """Where ``spec`` breaks the Vega-Lite schema (empty when it is valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {_short(e.message)}"
        for e in _vega_lite_validator().iter_errors(spec)
    ]


def scan_charts(page: str, specs: dict[str, dict]) -> list[Finding]:
    out = []
    for spec_id, spec in specs.items():
        rows = _rows(spec)
        chart = spec_id.removesuffix("-spec")
        # the renderer builds specs without Altair's validation (charts.chart_spec): checked here
        out += [Finding(page, "invalid-spec", f"chart {chart!r}: {e}") for e in schema_errors(spec)]
        if not rows:
            out.append(Finding(page, "empty-chart", f"chart {chart!r} has no data rows"))
            continue
        fields = {f for f in _quantitative_fields(spec) if any(f in r for r in rows)}
        keys = fields or {k for r in rows for k in r}
        if not any(_number(r.get(k)) is not None for r in rows for k in keys):
            what = ", ".join(sorted(fields)) if fields else "any field"
            out.append(Finding(page, "empty-chart", f"chart {chart!r} has no value in {what}"))
        out += [
            Finding(page, "negative-limit", f"chart {chart!r}: {m}") for m in negative_limits(chart, rows)
        ]
    return out


def scan_tables(page: str, main: Node) -> list[Finding]:
    out = []
    for table in main.find_all(lambda n: n.tag == "table"):
        if table.inside(_is_skip):
            continue
        caption = next((n.text() for n in table.iter() if n.tag == "caption"), "") or "(no caption)"
        header = [n for n in table.iter() if n.tag == "tr" and n.inside(lambda a: a.tag == "thead")]
        body = [n for n in table.iter() if n.tag == "tr" and not n.inside(lambda a: a.tag == "thead")]
        body = [r for r in body if not any(c.tag == "th" and c.attrs.get("scope") == "col" for c in r.iter())]
        if header and not body:
            out.append(Finding(page, "empty-table", f"table with a header and no rows: {_short(caption)}"))
            continue
        cells = [c for r in body for c in r.iter() if c.tag == "td"]
        numbers = [c for c in cells if "hg-num" in c.classes] or cells
        if numbers and all(c.text() == _SUPPRESSED for c in numbers):
            out.append(Finding(page, "all-suppressed", f"every number is [c]: {_short(caption)}"))
    return out


def signed(row: dict) -> bool:
    """Whether the row's value is a quantity that may be negative (a difference, an intercept)."""
    if row.get("scale") == "difference" or "difference" in row:  # limits of a difference between groups
        return True
    return any(SIGNED_STATISTICS.search(str(row.get(k) or "")) for k in ("statistic", "metric"))


def negative_limits(name: str, rows: list[dict]) -> list[str]:
    """Lower limits below 0 of rates, proportions and ratios in ``rows`` (one message per column)."""
    if SIGNED_IDS.match(name):
        return []
    found: dict[str, tuple[int, float]] = {}
    for row in rows:
        columns = [c for c in NONNEGATIVE_LOWER if c in row]
        if row.get("side") == "lower" and "bound" in row:  # a funnel chart's control limits
            columns.append("bound")
        for c in columns:
            if c == "lower_ci" and signed(row):
                continue
            value = _number(_float(row[c]))
            if value is not None and value < 0:
                n, low = found.get(c, (0, 0.0))
                found[c] = (n + 1, min(low, value))
    return [f"{c} below 0 in {n} row(s) (lowest {low:.3g})" for c, (n, low) in found.items()]


def _float(value: object) -> object:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


def scan_downloads(site: Path) -> list[Finding]:
    out = []
    for path in sorted((site / "downloads").rglob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        page = path.parent.name
        for message in negative_limits(path.stem, rows):
            out.append(Finding(page, "negative-limit", f"download {path.parent.name}/{path.name}: {message}"))
    return out


def scan_page(page: str, text: str, facts: Facts, *, check_unresolved: bool = True) -> list[Finding]:
    """Every finding on one rendered page (see the module docstring for the rules)."""
    main = main_of(parse(text))
    sentences = sentences_of(main)
    return [
        *scan_lacking(page, sentences, facts),
        *scan_skip_notes(page, main, facts),
        *scan_repeated(page, sentences),
        *scan_orphans(page, main, check_unresolved=check_unresolved),
        *scan_charts(page, specs_of(main)),
        *scan_tables(page, main),
    ]


# --- rendering ----------------------------------------------------------------------------------


def _pages(entries: list) -> list[str]:
    out: list[str] = []
    for e in entries:
        if isinstance(e, str):
            out.append(e)
        elif isinstance(e, dict) and "chapters" in e:
            out.extend(_pages(e["chapters"]))
    return out


def _project(root: Path, pages: list[str] | None = None) -> Path:
    """A copy of the book in ``root``: every page, or only ``pages`` after a plain welcome page."""
    spec = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    spec["project"].pop("post-render", None)
    every = _pages(spec["book"]["chapters"]) + _pages(spec["book"].get("appendices", []))
    (root / "chapters").mkdir(parents=True)
    if pages is None:
        for page in every:
            shutil.copyfile(REPO / page, root / page)
    else:
        spec["book"]["chapters"] = ["index.qmd", *[p for p in pages if p != "index.qmd"]]
        spec["book"].pop("appendices", None)
        if "index.qmd" in pages:
            shutil.copyfile(REPO / "index.qmd", root / "index.qmd")
        else:
            (root / "index.qmd").write_text(
                "# Welcome {.unnumbered}\n\nA page left plain.\n", encoding="utf-8"
            )
        for page in pages:
            if page != "index.qmd":
                shutil.copyfile(REPO / page, root / page)
    (root / "_quarto.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    shutil.copytree(REPO / "_extensions", root / "_extensions")
    return root


@dataclass
class Rendered:
    """A rendered book: its pages by slug (HTML files), its sites, and pages that failed."""

    pages: dict[str, Path]
    sites: list[Path]
    failures: dict[str, str]
    whole: bool  # rendered as one book (cross-references can resolve)


def every_page() -> list[str]:
    spec = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    return _pages(spec["book"]["chapters"]) + _pages(spec["book"].get("appendices", []))


def _slug(page: str) -> str:
    return Path(page).stem


def render_any(config: Path, tmp: Path) -> Rendered:
    """Render the whole book; if a page fails, render each page alone to find every failure."""
    from healthgap.errors import RenderError
    from healthgap.render import render_book

    def run(root: Path) -> Path:
        return render_book(
            project=root, out=Path("_site"), config=config, engine="builtin", jobs=2, progress=None
        )

    try:
        site = run(_project(tmp / "book"))
    except RenderError:
        pass
    else:
        pages = {"index": site / "index.html", **{p.stem: p for p in (site / "chapters").glob("*.html")}}
        return Rendered(pages, [site], {}, whole=True)
    pages, sites, failures = {}, [], {}
    for i, page in enumerate(every_page()):
        try:
            site = run(_project(tmp / f"page-{i}", [page]))
        except RenderError as exc:
            failures[_slug(page)] = str(exc).splitlines()[0]
            continue
        sites.append(site)
        html_path = site / "index.html" if page == "index.qmd" else site / "chapters" / f"{_slug(page)}.html"
        pages[_slug(page)] = html_path
    return Rendered(pages, sites, failures, whole=False)


def scan_book(config_path: Path, rendered: Rendered) -> list[Finding]:
    """Every finding in a rendered book, for the config it was rendered with."""
    from healthgap.config import load_config
    from healthgap.data import load

    config = load_config(config_path)
    columns = set(load(config).collect_schema().names())
    facts = facts_of(config, columns)
    out = [Finding(slug, "render", message) for slug, message in rendered.failures.items()]
    for slug, path in sorted(rendered.pages.items()):
        text = path.read_text(encoding="utf-8")
        out += scan_page(slug, text, facts, check_unresolved=rendered.whole)
    for site in rendered.sites:
        out += scan_downloads(site)
    return sorted(set(out), key=lambda f: (f.page, f.rule, f.text))


# --- the example books --------------------------------------------------------------------------


def _example(kind: str, tmp: Path) -> Path:
    from healthgap.examples import write_example

    write_example(kind, tmp)
    return tmp / f"{kind}.yml"


@pytest.fixture(scope="module")
def books(tmp_path_factory, synthetic_dir) -> dict[str, Callable[[], tuple[Path, Rendered]]]:
    cache: dict[str, tuple[Path, Rendered]] = {}

    def book(name: str) -> tuple[Path, Rendered]:
        if name not in cache:
            tmp = tmp_path_factory.mktemp(f"any-{name}")
            config = synthetic_dir / "default.yml" if name == "default" else _example(name, tmp / "data")
            cache[name] = (config, render_any(config, tmp))
        return cache[name]

    return {name: (lambda name=name: book(name)) for name in BOOKS}


BOOKS = ("default", "other_trust", "cohort", "no_deprivation")


@pytest.mark.slow
@pytest.mark.parametrize("name", BOOKS)
def test_every_page_holds_only_true_sentences(name, books):
    config, rendered = books[name]()
    findings = scan_book(config, rendered)
    report = "\n".join(str(f) for f in findings)
    assert not findings, f"{len(findings)} finding(s) in the {name} book:\n{report}"


# --- each rule on a small hand-made page ----------------------------------------------------------

FACTS = Facts(
    lacking={
        "no deprivation": _words("depriv", "IMD", "fifths?\\b"),
        "no chd": [re.compile(r"(?<!\w)Coronary heart disease(?!\w)", re.I)],
    },
    present=("Coronary heart disease within ten years", "Statin"),
    columns=frozenset({"age", "sex", "statin", "chd_10y"}),
)


def page(body: str) -> str:
    """A rendered page: navigation (not scanned) around ``body`` in ``<main>``."""
    return f"<html><body><nav>Deprivation</nav><main>{body}</main><footer>IMD</footer></body></html>"


def rules(body: str, *, slug: str = "chapter", check_unresolved: bool = True) -> list[tuple[str, str]]:
    return [(f.rule, f.text) for f in scan_page(slug, page(body), FACTS, check_unresolved=check_unresolved)]


def spec(rows: list[dict], *, chart: str = "c", encoding: dict | None = None) -> str:
    enc = encoding or {
        "x": {"field": "value", "type": "quantitative"},
        "y": {"field": "label", "type": "nominal"},
    }
    body = {"data": {"name": "d"}, "mark": "bar", "encoding": enc, "datasets": {"d": rows}}
    return f'<script type="application/json" id="{chart}-spec">{json.dumps(body)}</script>'


def test_lacking_words_are_found_outside_skip_notes_only():
    assert rules("<p>Rates are higher in deprived areas. Age matters.</p>") == [
        ("lacking", "no deprivation: Rates are higher in deprived areas.")
    ]
    note = '<div class="hg-skip callout"><p>This section is skipped because the dataset has no IMD column.</p></div>'
    assert rules(note) == []
    assert (
        rules(f"<h2>2.1 Deprivation</h2><div class='cell'>{note}</div><h2>2.2 Age</h2><p>Age matters.</p>")
        == []
    )
    partly = f"<h2>2.1 Deprivation</h2><p>Some words.</p>{note}"
    assert rules(partly) == [("lacking", "no deprivation: 2.1 Deprivation")]
    chart = '<div role="img" aria-label="Bars by deprivation fifth."></div>'
    assert rules(chart) == [("lacking", "no deprivation (chart text): Bars by deprivation fifth.")]
    assert rules("<p>Rates are higher in deprived areas.</p>", slug="own-data") == []
    assert (
        rules(
            table('<tr><th scope="row">imd_quintile</th><td>IMD quintile</td></tr>'), slug="data-dictionary"
        )
        == []
    )
    assert rules("<p>Deprivation is required.</p>", slug="data-dictionary") == [
        ("lacking", "no deprivation: Deprivation is required.")
    ]


def test_a_present_measure_label_is_not_read_as_a_lacking_one():
    assert rules("<p>Coronary heart disease within ten years is common.</p>") == []
    assert rules("<p>Coronary heart disease is common.</p>") == [
        ("lacking", "no chd: Coronary heart disease is common.")
    ]


def test_a_skip_note_claiming_a_present_column_is_missing():
    note = '<div class="hg-skip"><p>This section is skipped because the dataset has no prescribing columns (statin).</p></div>'
    assert rules(note) == [
        (
            "false-skip",
            "the data has statin: This section is skipped because the dataset has no prescribing columns (statin).",
        )
    ]
    fine = '<div class="hg-skip"><p>This section is skipped because the dataset has no waiting time column.</p></div>'
    assert rules(fine) == []


def test_empty_charts():
    assert rules(spec([])) == [("empty-chart", "chart 'c' has no data rows")]
    assert rules(spec([{"label": "a", "value": None}, {"label": "b", "value": float("nan")}])) == [
        ("empty-chart", "chart 'c' has no value in value")
    ]
    assert rules(spec([{"label": "a", "value": None}, {"label": "b", "value": 2.5}])) == []


def test_specs_that_break_the_vega_lite_schema():
    rows = [{"label": "a", "value": 2.5}]
    bad_type = {"x": {"field": "value", "type": "quantity"}, "y": {"field": "label", "type": "nominal"}}
    assert [r for r, _ in rules(spec(rows, encoding=bad_type))] == ["invalid-spec"]
    bad_channel = {"x": {"field": "value", "type": "quantitative"}, "why": {"field": "label"}}
    found = rules(spec(rows, encoding=bad_channel))
    assert [r for r, _ in found] == ["invalid-spec"] and "why" in found[0][1]
    # what the book publishes: the spec Altair writes, without its validation (charts.chart_spec)
    import altair as alt

    from healthgap.charts import chart_spec

    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(x="value:Q", y="label:N")
    assert schema_errors(chart_spec(chart)) == []
    assert schema_errors(chart_spec(alt.Chart(alt.Data(values=rows), mark="barr"))) != []


def table(rows: str, *, header: bool = True) -> str:
    head = (
        '<thead><tr><th scope="col">Group</th><th scope="col" class="hg-num">Rate</th></tr></thead>'
        if header
        else ""
    )
    return f"<table><caption>Rates</caption>{head}<tbody>{rows}</tbody></table>"


def test_empty_and_all_suppressed_tables():
    assert rules(table("")) == [("empty-table", "table with a header and no rows: Rates")]
    c = '<tr><th scope="row">A</th><td class="hg-num">[c]</td></tr>'
    assert rules(
        f'<details class="hg-numbers"><summary>Show the numbers</summary>{table(c * 2)}</details>'
    ) == [("all-suppressed", "every number is [c]: Rates")]
    assert rules(table(c + '<tr><th scope="row">B</th><td class="hg-num">4.2</td></tr>')) == []


def test_negative_lower_limits_of_rates_and_ratios():
    rows = [{"label": "a", "value": 0.5, "lower_ci": -0.1, "upper_ci": 1.1}]
    assert rules(spec(rows)) == [("negative-limit", "chart 'c': lower_ci below 0 in 1 row(s) (lowest -0.1)")]
    signed_row = [{"statistic": "Calibration-in-the-large", "value": -0.2, "lower_ci": -0.3}]
    assert rules(spec(signed_row)) == []
    assert rules(spec(rows, chart="dependence-1")) == []  # SHAP contributions may be negative
    funnel = [
        {"registered": 5.0, "side": "lower", "bound": -2.0},
        {"registered": 5.0, "side": "upper", "bound": -1},
    ]
    assert rules(spec(funnel, encoding={"x": {"field": "registered", "type": "quantitative"}})) == [
        ("negative-limit", "chart 'c': bound below 0 in 1 row(s) (lowest -2)")
    ]


def test_negative_lower_limits_in_downloads(tmp_path):
    folder = tmp_path / "downloads" / "outcomes"
    folder.mkdir(parents=True)
    (folder / "rates.csv").write_text("label,value,lower_ci,rr_lower\na,1.0,0.5,-0.01\nb,2.0,,0.1\n")
    (folder / "gaps.csv").write_text("statistic,value,lower_ci\nTPR difference,-1.0,-2.0\n")
    assert [str(f) for f in scan_downloads(tmp_path)] == [
        "outcomes: [negative-limit] download outcomes/rates.csv: rr_lower below 0 in 1 row(s) (lowest -0.01)"
    ]


def test_repeated_sentences_but_not_repeated_table_legends():
    twice = "<p>Rates rise with age in every group.</p><p>Rates rise with age in every group.</p>"
    assert rules(twice) == [("repeated", "2 times: Rates rise with age in every group.")]
    legend = '<p class="hg-table-note">[c] Suppressed to protect confidentiality here.</p>'
    assert rules(legend * 2) == []


def test_orphan_references():
    assert rules("<p>See <strong>?@fig-rates</strong>.</p>") == [
        ("orphan", "unresolved reference: See ?@fig-rates.")
    ]
    assert rules("<p>See <strong>?@fig-rates</strong>.</p>", check_unresolved=False) == []
    assert rules("<p>Rates are in Figure (not shown for this dataset).</p>") == [
        (
            "orphan",
            "reference to a figure or table not shown: Rates are in Figure (not shown for this dataset).",
        )
    ]
    assert rules("<p>Rates are in Table .</p>") == [
        ("orphan", "figure or table with no number: Rates are in Table .")
    ]
    assert rules("<p>Figure 2.1 and Table C.1 show rates; the table lists them.</p>") == []


def test_facts_follow_the_config(tmp_path):
    from healthgap.config import load_config
    from healthgap.data import load
    from healthgap.examples import write_example

    write_example("cohort", tmp_path, n=300)
    config = load_config(tmp_path / "cohort.yml")
    facts = facts_of(config, set(load(config).collect_schema().names()))
    assert {"no deprivation", "no ethnic group", "no geography", "no true status", "no admissions"} <= set(
        facts.lacking
    )
    assert {"no cvd_death", "no statin", "no chd", "no af"} <= set(facts.lacking)
    assert "no education" not in facts.lacking and "no hypertension" not in facts.lacking
    assert "Coronary heart disease within ten years" in facts.present and "Depression" in facts.present
