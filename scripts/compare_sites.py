"""Compare two rendered books: the text of every page, every chart spec and every download.

Used to show that a refactor leaves the published book unchanged::

    python scripts/compare_sites.py BEFORE_SITE AFTER_SITE [--context 2]

Each page is reduced to its visible text (one line per block element, the
render date removed) plus the JSON of every chart spec (sorted keys). Every
file under ``downloads/`` is compared line by line (``manifest.json`` as parsed
JSON). Decimal numbers that differ only by floating-point noise (relative
difference below 1e-9: summation order in parallel aggregation) count as equal;
any other difference is reported. The script
prints a unified diff for every difference, a summary line, and exits 1 when
anything differs (0 when the books are identical).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

_BLOCK = {
    "p",
    "div",
    "li",
    "tr",
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
    "td",
    "th",
    "pre",
    "blockquote",
    "main",
}
_SKIP = {"style", "head"}
_DATE = re.compile(
    r"\b\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}\b"
)


class _Text(HTMLParser):
    """Visible text, one line per block, plus the JSON chart specs by id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.specs: dict[str, str] = {}
        self._buf: list[str] = []
        self._skip = 0
        self._script: str | None = None
        self._script_buf: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self._buf).split())
        if text:
            self.lines.append(text)
        self._buf = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self._script = a.get("id") or "" if a.get("type") == "application/json" else None
            self._script_buf = []
            self._skip += 1
            return
        if tag in _SKIP:
            self._skip += 1
        if tag in _BLOCK:
            self._flush()
        if tag == "img" and a.get("alt"):
            self._buf.append(f" [img alt: {a['alt']}] ")
        if tag == "a" and a.get("href") and "downloads/" in (a.get("href") or ""):
            self._buf.append(f" [link {a['href']}] ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._skip -= 1
            if self._script is not None:
                raw = "".join(self._script_buf)
                try:
                    self.specs[self._script or f"spec-{len(self.specs)}"] = json.dumps(
                        json.loads(raw), sort_keys=True, indent=1
                    )
                except ValueError:
                    self.specs[self._script or f"spec-{len(self.specs)}"] = raw
            self._script = None
            return
        if tag in _SKIP:
            self._skip -= 1
        if tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_buf.append(data)
        elif not self._skip:
            self._buf.append(data)


def page_text(path: Path) -> tuple[list[str], dict[str, str]]:
    """The visible text lines of a page (dates normalised) and its chart specs."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    parser._flush()
    lines = [_DATE.sub("<date>", line) for line in parser.lines]
    specs = {k: _DATA_HASH.sub("data-<hash>", v) for k, v in parser.specs.items()}
    return lines, specs


#: Altair names inline datasets by a hash of their content, which floating-point noise changes.
_DATA_HASH = re.compile(r"data-[0-9a-f]{32}")
_NUMBER = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")


def _same(a: str, b: str, rel: float) -> bool:
    """Lines equal up to floating-point noise: every decimal number within ``rel`` (relative)."""
    if a == b:
        return True
    na, nb = _NUMBER.findall(a), _NUMBER.findall(b)
    if len(na) != len(nb) or _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    return all(
        abs(float(x) - float(y)) <= rel * max(abs(float(x)), abs(float(y)), 1e-300) for x, y in zip(na, nb)
    )


def _diff(a: list[str], b: list[str], name: str, context: int, rel: float = 1e-9) -> list[str]:
    if len(a) == len(b) and all(_same(x, y, rel) for x, y in zip(a, b)):
        return []
    return list(difflib.unified_diff(a, b, f"before/{name}", f"after/{name}", n=context, lineterm=""))


def compare(before: Path, after: Path, *, context: int = 2) -> tuple[list[str], dict[str, int]]:
    """Every difference between two sites as diff lines, and counts of what was compared."""
    out: list[str] = []
    stats = {"pages": 0, "specs": 0, "downloads": 0, "different": 0}
    pages = sorted(
        {p.relative_to(before) for p in before.rglob("*.html") if "site_libs" not in p.parts}
        | {p.relative_to(after) for p in after.rglob("*.html") if "site_libs" not in p.parts}
    )
    for rel in pages:
        a, b = before / rel, after / rel
        stats["pages"] += 1
        if not a.exists() or not b.exists():
            out.append(f"page {rel}: only in {'after' if b.exists() else 'before'}")
            stats["different"] += 1
            continue
        (la, sa), (lb, sb) = page_text(a), page_text(b)
        d = _diff(la, lb, str(rel), context)
        for key in sorted(set(sa) | set(sb)):
            stats["specs"] += 1
            d += _diff(sa.get(key, "").splitlines(), sb.get(key, "").splitlines(), f"{rel}#{key}", context)
        if d:
            stats["different"] += 1
            out += d
    files = sorted(
        {p.relative_to(before / "downloads") for p in (before / "downloads").rglob("*") if p.is_file()}
        | {p.relative_to(after / "downloads") for p in (after / "downloads").rglob("*") if p.is_file()}
    )
    for rel in files:
        a, b = before / "downloads" / rel, after / "downloads" / rel
        stats["downloads"] += 1
        if not a.exists() or not b.exists():
            out.append(f"download {rel}: only in {'after' if b.exists() else 'before'}")
            stats["different"] += 1
            continue
        if rel.suffix == ".json":
            ta = json.dumps(json.loads(a.read_text()), sort_keys=True, indent=1).splitlines()
            tb = json.dumps(json.loads(b.read_text()), sort_keys=True, indent=1).splitlines()
        else:
            ta, tb = a.read_text().splitlines(), b.read_text().splitlines()
        d = _diff(ta, tb, f"downloads/{rel}", context)
        if d:
            stats["different"] += 1
            out += d
    return out, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--context", type=int, default=2, help="lines of context in diffs (default 2)")
    args = parser.parse_args(argv)
    lines, stats = compare(args.before, args.after, context=args.context)
    print("\n".join(lines))
    print(
        f"compared {stats['pages']} pages ({stats['specs']} chart specs) and {stats['downloads']} download files: "
        f"{stats['different']} differ"
    )
    return 1 if stats["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
