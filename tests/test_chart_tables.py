"""Every figure's numbers equal its table's and its download's (issue 15, item 8).

For each figure of the rendered default book and of the "other trust" example, the
quantitative values the chart plots (the fields its Vega-Lite encodings give as
``quantitative``, read from the spec embedded in the page) are each found among the numbers of
its "Show the numbers" table, allowing for display rounding (half a unit of the last decimal
the table shows), and among the numbers of its CSV download (to 1e-6 relative). A field whose
axis or tooltip formats it as a percentage (a d3 format with ``%``) may appear as per cent in
the table. The check would have caught the mitigation chart that plotted gaps 100 times too
large (``tpr_difference`` 1835.0 for 18.4 points).

The books are rendered once per module (slow); ``HEALTHGAP_CHART_SITES`` ("default=DIR,
other_trust=DIR") points the test at sites already rendered.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BOOKS = ("default", "other_trust")
_SPEC = re.compile(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', re.S)
_TABLE = re.compile(r'<div class="hg-table" id="([^"]+)"[^>]*>(.*?)</table>', re.S)
_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
_TAG = re.compile(r"<[^>]+>")
_NUMBER = re.compile(r"[-−–]?\d[\d,]*(?:\.\d+)?")
_DOWNLOAD = re.compile(r'<p class="hg-download"><a href="([^"]+\.csv)"')
#: "book:page/figure" whose chart disagrees with its table or download, each for its page's owner
#: to fix (found on the books of main at the start of round 3; the xfail is strict: a fixed figure
#: fails until its entry is removed).
KNOWN: dict[str, str] = {}


def _sites() -> dict[str, Path] | None:
    given = os.environ.get("HEALTHGAP_CHART_SITES")
    if not given:
        return None
    return {k: Path(v) for k, v in (part.split("=", 1) for part in given.split(","))}


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, synthetic_dir: Path) -> dict[str, Path]:
    given = _sites()
    if given is not None:
        return given
    from test_any_dataset import _example, render_any  # tests/ is on sys.path (no package)

    out = {}
    for name in BOOKS:
        tmp = tmp_path_factory.mktemp(f"charts-{name}")
        config = synthetic_dir / "default.yml" if name == "default" else _example(name, tmp / "data")
        rendered = render_any(config, tmp)
        assert rendered.whole, f"the {name} book did not render whole"
        out[name] = rendered.sites[0]
    return out


def _encodings(node: Any) -> Iterator[tuple[str, bool]]:
    """(field, shown as a percentage) of every quantitative encoding in a spec (all layers)."""
    if isinstance(node, dict):
        enc = node.get("encoding")
        if isinstance(enc, dict):
            for channel, e in enc.items():
                items = e if isinstance(e, list) else [e]
                for item in items:
                    if not isinstance(item, dict) or not isinstance(item.get("field"), str):
                        continue
                    if channel in ("x", "y", "x2", "y2", "theta", "text") or channel == "tooltip":
                        kind = item.get("type")
                        if kind == "quantitative" or (channel in ("x2", "y2") and kind is None):
                            fmt = str(item.get("format", "")) + str(
                                (item.get("axis") or {}).get("format", "")
                            )
                            yield item["field"], "%" in fmt
        for value in node.values():
            yield from _encodings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _encodings(value)


def _rows(spec: dict) -> list[dict]:
    rows: list[dict] = []
    for data in (spec.get("datasets") or {}).values():
        rows += [r for r in data if isinstance(r, dict)]

    def inline(node: Any) -> None:
        if isinstance(node, dict):
            values = (node.get("data") or {}).get("values") if isinstance(node.get("data"), dict) else None
            if isinstance(values, list):
                rows.extend(r for r in values if isinstance(r, dict))
            for v in node.values():
                inline(v)
        elif isinstance(node, list):
            for v in node:
                inline(v)

    inline(spec)
    return rows


def _plotted(spec: dict) -> list[tuple[str, float, bool]]:
    """(field, value, shown as a percentage) of every plotted quantitative value, but reference
    lines (a field whose every value is the same 0 or 1: no difference, the null)."""
    fields: dict[str, bool] = {}
    for field, percent in _encodings(spec):
        fields[field] = fields.get(field, False) or percent
    out = []
    for row in _rows(spec):
        for field, percent in fields.items():
            v = row.get(field)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out.append((field, float(v), percent))
    constant = {
        f
        for f in fields
        if {v for g, v, _ in out if g == f} <= {0.0} or {v for g, v, _ in out if g == f} == {1.0}
    }
    return [(f, v, p) for f, v, p in out if f not in constant]


def _table_numbers(markup: str) -> list[tuple[float, float]]:
    """(number, half a unit of its last shown decimal) of every number in the table's cells."""
    out = []
    for cell in _CELL.findall(markup):
        words = html.unescape(_TAG.sub(" ", cell))
        for token in _NUMBER.findall(words):
            clean = token.replace(",", "").replace("−", "-").replace("–", "-")
            decimals = len(clean.split(".")[1]) if "." in clean else 0
            out.append((float(clean), 0.5 * 10**-decimals))
    return out


def _download_numbers(path: Path) -> list[float]:
    out = []
    with path.open(encoding="utf-8") as f:
        for row in csv.reader(f):
            for cell in row:
                try:
                    v = float(cell.lstrip("'"))
                except ValueError:
                    continue
                if math.isfinite(v):
                    out.append(v)
    return out


def _figures(site: Path) -> Iterator[tuple[str, dict, str | None, Path | None]]:
    """(figure id, spec, its table's markup, its download) of every figure of a site."""
    pages = [site / "index.html", *sorted((site / "chapters").glob("*.html"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in _SPEC.finditer(text):
            fid, spec = match.group(1), json.loads(html.unescape(match.group(2)))
            end = text.find("</figure>", match.end())
            rest = text[match.end() : end if end > 0 else None]
            table = _TABLE.search(rest)
            link = _DOWNLOAD.search(rest)
            download = (page.parent / html.unescape(link.group(1))).resolve() if link else None
            yield f"{page.stem}/{fid}", spec, table.group(2) if table else None, download


def mismatches_of_figure(markup: str, download: Path, *, percent: bool | None = None) -> list[str]:
    """The problems of the one figure in ``markup`` (a page fragment) against its ``download``: as
    :func:`mismatches`, plus, when ``percent`` is given, each plotted field that is (True) or is
    not (False) formatted as a percentage where it should (not) be (for the model pages' tests)."""
    match = _SPEC.search(markup)
    assert match is not None, "no chart spec in the markup"
    spec = json.loads(html.unescape(match.group(2)))
    table = _TABLE.search(markup[match.end() :])
    problems = _check(spec, table.group(2) if table else None, download if download.is_file() else None)
    if percent is not None:
        problems += sorted({f"{f} percent={p}" for f, _, p in _plotted(spec) if p is not percent})
    return problems


def _check(spec: dict, table: str | None, download: Path | None) -> list[str]:
    """The plotted values of ``spec`` not found in ``table`` or ``download`` (see the module docstring)."""
    problems: list[str] = []
    plotted = _plotted(spec)
    numbers = _table_numbers(table) if table is not None else None
    csv_numbers = _download_numbers(download) if download is not None and download.is_file() else None
    if table is None:
        problems.append("no 'Show the numbers' table")
    if download is None or csv_numbers is None:
        problems.append("no download")
    for field, v, percent in plotted:
        # a mirrored bar (a pyramid's "signed_" value) is plotted negative, tabulated positive
        v = abs(v) if field.startswith("signed") else v
        candidates = [v, v * 100] if percent else [v]
        if numbers is not None and not any(
            abs(c - t) <= half + 1e-9 * max(1.0, abs(t)) for c in candidates for t, half in numbers
        ):
            problems.append(f"{field}={v!r} not in the table")
        if csv_numbers is not None and not any(
            math.isclose(c, t, rel_tol=1e-6, abs_tol=1e-9) for c in candidates for t in csv_numbers
        ):
            problems.append(f"{field}={v!r} not in the download")
    return sorted(set(problems))[:8]


def mismatches(site: Path) -> dict[str, list[str]]:
    """Each figure's plotted values not found in its table or download (empty lists: all found)."""
    return {fid: _check(spec, table, download) for fid, spec, table, download in _figures(site)}


@pytest.fixture(scope="module")
def found(sites: dict[str, Path]) -> dict[str, dict[str, list[str]]]:
    return {name: mismatches(site) for name, site in sites.items()}


def test_books_have_figures(found: dict[str, dict[str, list[str]]]) -> None:
    for name in BOOKS:
        assert len(found[name]) >= 10, name


@pytest.mark.parametrize("book", BOOKS)
def test_every_chart_equals_its_table_and_download(book: str, found: dict[str, dict[str, list[str]]]) -> None:
    bad = {fid: p for fid, p in found[book].items() if p and f"{book}:{fid}" not in KNOWN}
    assert not bad, "\n".join(f"{fid}: {'; '.join(p)}" for fid, p in bad.items())


@pytest.mark.parametrize(
    "key", [pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=r)) for k, r in sorted(KNOWN.items())]
)
def test_known_mismatches(key: str, found: dict[str, dict[str, list[str]]]) -> None:
    """Each known mismatch, for its page's owner: fails (xfail) while the figure disagrees."""
    book, fid = key.split(":", 1)
    assert not found[book].get(fid), f"{key}: {'; '.join(found[book][fid])}"


def test_the_check_catches_a_chart_100_times_too_large(tmp_path: Path) -> None:
    """A figure whose chart plots a gap of 1835.0 where its table and download show 18.4 (the
    mitigation chart of issue 15) is found; the same figure plotting 18.35 is not."""
    chapters = tmp_path / "chapters"
    (tmp_path / "downloads").mkdir()
    chapters.mkdir()
    (tmp_path / "index.html").write_text("", encoding="utf-8")
    (tmp_path / "downloads" / "gaps.csv").write_text("group,tpr_difference\nA,18.35\n", encoding="utf-8")

    def page(value: float) -> str:
        spec = {
            "datasets": {"d": [{"group": "A", "tpr_difference": value}]},
            "data": {"name": "d"},
            "mark": "bar",
            "encoding": {
                "y": {"field": "group", "type": "nominal"},
                "x": {"field": "tpr_difference", "type": "quantitative"},
            },
        }
        return (
            f'<figure><script type="application/json" id="gaps-spec">{html.escape(json.dumps(spec), quote=False)}</script>'
            '<details class="hg-numbers"><summary>Show the numbers</summary><div class="hg-table" id="gaps-table">'
            "<table><tr><th>Group</th><th>Gap</th></tr><tr><td>A</td><td>18.4</td></tr></table></div></details>"
            '<p class="hg-download"><a href="../downloads/gaps.csv" download>Download</a></p></figure>'
        )

    (chapters / "fairness.html").write_text(page(1835.0), encoding="utf-8")
    assert mismatches(tmp_path)["fairness/gaps"] == [
        "tpr_difference=1835.0 not in the download",
        "tpr_difference=1835.0 not in the table",
    ]
    (chapters / "fairness.html").write_text(page(18.35), encoding="utf-8")
    assert mismatches(tmp_path)["fairness/gaps"] == []
