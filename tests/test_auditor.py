"""The disclosure auditor: render small books and check every file they publish (issue 11).

``audit_site(site, settings=..., totals=...)`` reads a rendered site the way an attacker
would (every page's text, every table, every chart spec embedded in the pages, every CSV
download with its manifest entry, the search index) and returns a :class:`Finding` for
each number that should not be there. The slow tests render the whole book on synthetic
populations of 2,003 and 20,003 people (not 2,000 and 20,000: an exact total that is a
multiple of the rounding base cannot be told from a rounded one, so the population sizes
are chosen off the base) with the settings 8/5 (the default: counts 1-7 suppressed, others
rounded to 5) and 11/10, and expect no finding.

The rules
---------
1. **Small counts.** No count shows a value from 1 to ``suppress_below - 1``, except the
   rounded value of a count at the threshold (under 11/10, 11 to 14 are published as 10:
   :func:`healthgap.disclosure.smallest_shown`).
2. **Unrounded counts.** Every count is 0 or a multiple of ``rounding``.
3. **Exact totals in text.** No number in the pages' text (tables and chart labels included;
   measurements such as "99 to 107 mmHg" or "18 weeks" left out) or in the search index equals an exact total of the data (the population size, the size of
   every group of every equity dimension, the number of people with each condition, treatment
   or outcome overall and in each group, the sizes of the model's training and test sets and
   the outcomes in the test set and in each of its groups) unless that total is a multiple of
   ``rounding`` (then it cannot be told from its rounded value). Only totals of at least 100
   are looked for: smaller numbers occur in text for other reasons (list lengths, ages,
   months); rule 4 covers small counts of people in text.
4. **Counts of people in text.** A number followed by "people", "patients", "persons", "men",
   "women", "admissions", "deaths", "cases" or "events" follows rules 1 and 2, unless it
   states a threshold or a rate ("fewer than 8 people", "per 1,000 people", "1 in 5 people").
5. **Tiny groups.** In a CSV download whose counts include a group size (the first of
   :data:`healthgap.disclosure.SIZE_COLUMNS`: population, n, people, denominator, ...), a row
   whose published size is from 1 to ``min_group - 1`` shows no count measured within the
   group (any other count that is smaller than the size in some row): "0 of 40" says
   something certain about each of the 40.

Which columns are counts
------------------------
- in a CSV download: a name that :func:`healthgap.disclosure.is_count_like` recognises
  (count, n, events, numerator, denominator, population, observed, ``n_*``, ...), a name in
  :data:`BOOK_COUNTS` (the other count columns the book publishes: people, recorded,
  treated, eligible, ...), or the manifest's column metadata: a column ``X`` whose file also
  lists ``suppressed_X`` or ``suppression_reason_X`` (written by ``publish`` for each count of
  a frame with several), or that the manifest entry lists under ``counts`` (when the book
  records them);
- in a chart spec: a field named as above in any inline dataset, the book's own count names
  only in datasets of published frames (with a ``suppressed`` field: a funnel plot's control
  limits are drawn along list sizes 1, 2, 3, ... that are no counts of anyone);
- in an HTML table: a column whose heading names people or events (:func:`count_heading`:
  "People", "Events", "Numerator", "Treated", "People with the condition", ...) and is not a
  percentage, rate, share or ratio.

A combination that still shows a known leak of a page (one another piece of work is fixing) is
marked ``xfail(strict=True, raises=KnownLeak)`` naming the leak (:data:`KNOWN_LEAKS`): the test
fails outright on any other finding, is an expected failure while the known findings are
there, and fails (XPASS, strict) once they are gone, so the mark is removed with the leak.
"""

from __future__ import annotations

import html
import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml

from healthgap.config import Config, DisclosureSettings
from healthgap.disclosure import SIZE_COLUMNS, is_count_like, smallest_shown

REPO = Path(__file__).resolve().parents[1]

#: Count columns the book publishes under names :func:`is_count_like` does not know.
BOOK_COUNTS = frozenset(
    {
        "people",
        "total",
        "missing",
        "recorded",
        "affected",
        "treated",
        "eligible",
        "seen",
        "over_18_weeks",
        "not_stated",
        "cases",
        "true_cases",
        "found",
        "missed",
        "flagged",
        "registered",
    }
)
#: Words of an HTML table heading that name a count of people or events.
_COUNT_WORDS = re.compile(
    r"^(people|persons|patients|events|admissions|deaths|numerator|denominator|count|number|"
    r"n|treated|recorded|eligible|flagged|observed|missing|not stated|cases|"
    r"outcomes (found|missed)|with the outcome|of whom|waited|registered)\b",
    re.IGNORECASE,
)
#: Words of a heading that make it a rate, share or ratio, not a count.
_NOT_COUNT = re.compile(
    r"%|\b(rate|share|ratio|per|ci|mean|median|expected|tpr|fpr|ppv|auroc)\b", re.IGNORECASE
)
#: A number as the book prints it ("2,003", "601", "12.5"), not inside a word or a longer number.
_NUMBER = re.compile(r"(?<![\w.,\-/])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w]|,\d|\.\d)")
#: A count of people in text (rule 4).
_PEOPLE = re.compile(
    r"(?<![\w.,\-/])(\d{1,3}(?:,\d{3})+|\d+)(?![.,]\d)\s+"
    r"(?:people|persons|patients|men|women|admissions|deaths|cases|events)\b",
    re.IGNORECASE,
)
#: Words before a number that make it a threshold or a rate, not a count (rule 4).
_THRESHOLD = re.compile(
    r"(fewer than|less than|more than|under|below|at least|per|in|of every|than)\s*$", re.I
)
#: Measurements and their ranges ("99 to 107 mmHg", "65 years", "18 weeks"): not counts of anyone.
_MEASUREMENT = re.compile(
    r"\d[\d,.]*(?:\s*(?:to|-|–)\s*\d[\d,.]*)?\s*"
    # units of measurements, and numbers of comparisons ("244 gaps compared"), which count no one
    r"(?:mmHg|mmol/L|mmol|kg/m²|kg|cm|years?|days?|weeks?|months?|%|gaps?(?: compared)?)(?!\w)",
)
_MARKUP = re.compile(r"<script\b.*?</script>|<style\b.*?</style>", re.S | re.I)
_SPEC = re.compile(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', re.S)
_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<(t[hd])\b[^>]*>(.*?)</t[hd]>", re.S)
_TAG = re.compile(r"<[^>]+>")

SIZES = (2003, 20003)
SETTINGS = {
    "8-5": DisclosureSettings(),
    "11-10": DisclosureSettings(suppress_below=11, rounding=10),
}


@dataclass(frozen=True)
class Finding:
    """A number a published file should not show."""

    file: str
    where: str
    value: str
    rule: str
    context: str = ""

    def __str__(self) -> str:
        return f"{self.file} [{self.where}]: {self.value} ({self.rule}) {self.context}".rstrip()


class KnownLeak(Exception):
    """Raised by the audit of a whole book when only the findings of a known leak remain."""


@dataclass(frozen=True)
class Leak:
    """A leak a page still has: its findings are in ``pages`` (or their search index entries)."""

    reason: str
    pages: tuple[str, ...]
    rules: tuple[str, ...] = ("exact total", "count not rounded")

    def matches(self, finding: Finding) -> bool:
        return any(f"chapters/{p}.html" in finding.file for p in self.pages) and finding.rule.startswith(
            self.rules
        )


#: (size, settings) -> a leak a page still has there (none: the model pages' exact totals,
#: issue 11 items 1-3, are fixed).
KNOWN_LEAKS: dict[tuple[int, str], Leak] = {}
#: (size, settings) -> why a combination is expected to fail and is not fixed yet (none: the
#: reference group's counts in the rows of groups under the minimum size, found by the final CI
#: run of round 4, are no longer repeated there: ``tests/attacks/test_gaps_small_groups.py``).
KNOWN_FAILURES: dict[tuple[int, str], str] = {}


# -- the rules -------------------------------------------------------------------------------------


def count_problem(value: float, settings: DisclosureSettings) -> str | None:
    """Why ``value`` cannot be a published count under ``settings`` (rules 1 and 2), or None."""
    if value == 0 or not settings.enabled:
        return None
    if not float(value).is_integer():
        return "count not a whole number"
    if 0 < value < smallest_shown(settings):
        return f"small count (1-{settings.suppress_below - 1})"
    if value % settings.rounding:
        return f"count not rounded to {settings.rounding}"
    return None


def _number(text: str) -> float | None:
    text = text.strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


def is_count_column(
    name: str, columns: list[str], listed: list[str] | None = None, *, published: bool = True
) -> bool:
    """Whether a CSV column or chart field ``name`` holds counts (see the module docstring).

    ``published``: the records carry the disclosure bookkeeping (a chart dataset of a published
    frame); only then do the book's own count names (:data:`BOOK_COUNTS`) count, because a chart
    also embeds drawing aids, such as the list sizes along a funnel plot's control limits.
    """
    low = name.lower()
    return (
        is_count_like(low)
        or (published and low in BOOK_COUNTS)
        or f"suppressed_{name}" in columns
        or f"suppression_reason_{name}" in columns
        or name in (listed or [])
    )


def count_heading(heading: str) -> bool:
    """Whether an HTML table heading names a count of people or events ("People", "Treated")."""
    text = heading.strip()
    return bool(_COUNT_WORDS.match(text)) and not _NOT_COUNT.search(text)


def _check_records(
    records: list[dict[str, Any]], *, file: str, where: str, settings: DisclosureSettings, listed: list[str]
) -> list[Finding]:
    out: list[Finding] = []
    columns = sorted({k for r in records for k in r})
    published = where == "column" or "suppressed" in columns
    for col in columns:
        if not is_count_column(col, columns, listed, published=published):
            continue
        for value in {r.get(col) for r in records}:
            number = value if isinstance(value, (int, float)) else _number(str(value or ""))
            if value is None or isinstance(value, bool) or number is None or math.isnan(number):
                continue
            problem = count_problem(number, settings)
            if problem:
                out.append(Finding(file, f"{where}: {col}", str(value), problem))
    return out


def audit_csv(
    path: Path, entry: dict[str, Any], *, site: Path, settings: DisclosureSettings
) -> list[Finding]:
    """Rules 1, 2 and 5 on the count columns of a CSV download."""
    frame = pl.read_csv(path, infer_schema_length=0)  # every value as text, as a reader sees it
    file = str(path.relative_to(site))
    listed = list(entry.get("counts", []))
    out = _check_records(frame.to_dicts(), file=file, where="column", settings=settings, listed=listed)
    counts = [c for c in frame.columns if is_count_column(c, frame.columns, listed)]
    size = next((c for c in SIZE_COLUMNS if c in counts), None)
    if size is None or not settings.enabled:
        return out
    numbers = frame.select(pl.col(counts).cast(pl.Float64, strict=False))
    within = [  # counts smaller than the size in some row: measured among the group's people
        c for c in counts if c != size and numbers.select((pl.col(c) < pl.col(size)).any()).item()
    ]
    tiny = numbers.with_row_index("row").filter(pl.col(size).is_between(1, settings.min_group - 1))
    for c in within:
        for row, value in tiny.filter(pl.col(c).is_not_null()).select("row", c).rows():
            where = f"column: {c}, row {row + 1}"
            out.append(Finding(file, where, f"{value:g}", f"group of fewer than {settings.min_group}"))
    return out


def _spec_records(node: Any) -> list[list[dict[str, Any]]]:
    """Every inline dataset of a Vega-Lite spec (GeoJSON properties lifted)."""
    found: list[list[dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasets" and isinstance(value, dict):
                found += [v for v in value.values() if isinstance(v, list)]
            elif key == "values" and isinstance(value, list):
                found.append(value)
            elif key == "values" and isinstance(value, dict) and isinstance(value.get("features"), list):
                found.append(value["features"])
            found += _spec_records(value)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, (dict, list)):
                found += _spec_records(value)
    out = []
    for records in found:
        flat = []
        for r in records:
            if isinstance(r, dict):
                row = {k: v for k, v in r.items() if not isinstance(v, (dict, list))}
                row.update(r.get("properties") or {})
                flat.append(row)
        out.append(flat)
    return out


def audit_specs(page: Path, *, site: Path, settings: DisclosureSettings) -> list[Finding]:
    """Rules 1 and 2 on the count fields of every chart spec embedded in a page."""
    out: list[Finding] = []
    for fig, text in _SPEC.findall(page.read_text(encoding="utf-8")):
        spec = json.loads(html.unescape(text) if text.lstrip().startswith("&") else text)
        for records in _spec_records(spec):
            out += _check_records(
                records, file=str(page.relative_to(site)), where=f"chart {fig}", settings=settings, listed=[]
            )
    return out


def audit_tables(page: Path, *, site: Path, settings: DisclosureSettings) -> list[Finding]:
    """Rules 1 and 2 on the count columns of every HTML table of a page."""
    out: list[Finding] = []
    for table in _TABLE.findall(page.read_text(encoding="utf-8")):
        rows = [[(tag, _text(cell)) for tag, cell in _CELL.findall(r)] for r in _ROW.findall(table)]
        head = next((r for r in rows if r and all(tag == "th" for tag, _ in r)), None)
        if head is None:
            continue
        counts = {i for i, (_, h) in enumerate(head) if count_heading(h)}
        for r in rows:
            if r is head or len(r) != len(head):
                continue
            for i in counts:
                number = _number(r[i][1])
                problem = count_problem(number, settings) if number is not None else None
                if problem:
                    out.append(
                        Finding(str(page.relative_to(site)), f"table column {head[i][1]!r}", r[i][1], problem)
                    )
    return out


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", markup))).strip()


def audit_text(text: str, *, file: str, totals: set[int], settings: DisclosureSettings) -> list[Finding]:
    """Rules 3 and 4 on a page's text (or a search index entry)."""
    out: list[Finding] = []
    text = _MEASUREMENT.sub(" ", text)
    for m in _NUMBER.finditer(text):
        if m.group(2):  # a decimal: a rate or a percentage
            continue
        value = int(m.group(1).replace(",", ""))
        if value >= 1000 and "," not in m.group(1):  # a year or a code: the book prints counts as 2,003
            continue
        if value in totals:
            context = text[max(0, m.start() - 60) : m.end() + 40]
            out.append(Finding(file, "text", m.group(1), "exact total", f"... {context} ..."))
    for m in _PEOPLE.finditer(text):
        if _THRESHOLD.search(text[max(0, m.start() - 20) : m.start()]):
            continue
        value = int(m.group(1).replace(",", ""))
        if value in (settings.suppress_below, settings.min_group):  # "fewer than 8 people" said otherwise
            continue
        problem = count_problem(value, settings)
        if problem:
            context = text[max(0, m.start() - 60) : m.end() + 20]
            out.append(Finding(file, "text", m.group(0), problem, f"... {context} ..."))
    return out


def audit_site(site: Path, *, settings: DisclosureSettings, totals: set[int]) -> list[Finding]:
    """Every finding in a rendered site: CSV downloads, chart specs, tables, page text, search index.

    Parameters
    ----------
    site : the rendered site folder.
    settings : the disclosure settings the book was rendered with.
    totals : exact totals of the data (:func:`exact_totals`); only those that are not a
        multiple of ``settings.rounding`` and at least 100 are looked for in text.
    """
    looked_for = {t for t in totals if t >= 100 and t % settings.rounding}
    out: list[Finding] = []
    manifest = json.loads((site / "downloads" / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["file"]: f for f in manifest["files"]}
    for path in sorted((site / "downloads").rglob("*.csv")):
        entry = listed.get(str(path.relative_to(site / "downloads")), {})
        out += audit_csv(path, entry, site=site, settings=settings)
    for page in sorted(site.rglob("*.html")):
        if "site_libs" in page.parts:
            continue
        markup = page.read_text(encoding="utf-8")
        out += audit_specs(page, site=site, settings=settings)
        out += audit_tables(page, site=site, settings=settings)
        out += audit_text(
            _text(_MARKUP.sub(" ", markup)),
            file=str(page.relative_to(site)),
            totals=looked_for,
            settings=settings,
        )
    for index in site.rglob("search-index.js"):
        raw = index.read_text(encoding="utf-8")
        entries = json.loads(raw[raw.index("[") : raw.rindex("]") + 1])
        for e in entries:
            out += audit_text(
                _text(str(e.get("text", ""))),
                file=f"{index.relative_to(site)} ({e.get('href')})",
                totals=looked_for,
                settings=settings,
            )
    return out


# -- the exact totals of a population ----------------------------------------------------------------


def exact_totals(people: pl.DataFrame, config: Config) -> set[int]:
    """The exact totals an attacker would like to read in the text (rule 3).

    The population size; the size of every group of every equity dimension; the number of
    people with each condition, treatment, referral or outcome (and the number of
    admissions), overall and in each group; the model's training and test set sizes (the
    split the model pages make) and the people with the outcome in the test set, overall
    and in each group.
    """
    from sklearn.model_selection import train_test_split

    dims = [c for c in ("sex", "ethnicity", "imd_quintile", "imd_decile", "locality") if c in people.columns]
    flags = [c for c, t in people.schema.items() if t == pl.Boolean and not c.startswith("true_")]
    sums = [pl.col(c).cast(pl.Int64).sum().alias(c) for c in flags]
    if "cvd_admissions" in people.columns:
        sums += [
            pl.col("cvd_admissions").sum().alias("admissions"),
            (pl.col("cvd_admissions") > 0).sum().alias("admitted"),
        ]
    totals = {people.height, *people.select(sums).row(0)}
    for d in dims:
        grouped = people.group_by(d).agg(pl.len().alias("__n"), *sums)
        totals |= {v for row in grouped.drop(d).rows() for v in row}
    target = config.model.target
    if target in people.columns:
        y = (people.get_column(target).cast(pl.Float64).fill_null(0) > 0).to_numpy()
        train, test = train_test_split(
            np.arange(people.height),
            test_size=config.model.test_size,
            stratify=y,
            random_state=config.model.seed,
        )
        totals |= {len(train), len(test), int(y[test].sum()), int(y[train].sum())}
        held = people[np.sort(test)].with_columns(pl.Series("__y", y[np.sort(test)]))
        for d in dims:
            g = held.group_by(d).agg(pl.len(), pl.col("__y").sum())
            totals |= {int(v) for row in g.drop(d).rows() for v in row}
    return {int(t) for t in totals if t is not None}


# -- fast tests: the auditor itself ----------------------------------------------------------------


def _site(tmp_path: Path, *, csv: str = "g,n\na,10\n", page: str = "<p>Hello</p>", spec: Any = None) -> Path:
    site = tmp_path / "site"
    (site / "downloads" / "ch").mkdir(parents=True)
    (site / "downloads" / "ch" / "t.csv").write_text(csv, encoding="utf-8")
    manifest = {"files": [{"id": "t", "file": "ch/t.csv", "columns": csv.splitlines()[0].split(",")}]}
    (site / "downloads" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if spec is not None:
        page += f'<script type="application/json" id="fig-spec">{json.dumps(spec)}</script>'
    (site / "index.html").write_text(f"<html><body>{page}</body></html>", encoding="utf-8")
    (site / "site_libs" / "nhs").mkdir(parents=True)
    index = [{"href": "index.html", "text": "Nothing to see"}]
    (site / "site_libs" / "nhs" / "search-index.js").write_text(
        f"window.hgSearchIndex = {json.dumps(index)};", encoding="utf-8"
    )
    return site


DEFAULT = DisclosureSettings()


def test_a_clean_site_has_no_finding(tmp_path):
    site = _site(
        tmp_path,
        csv="g,people,share,suppressed,suppression_reason\na,10,0.5,false,\nb,,0.5,true,x\nc,0,0,false,\n",
        page="<p>The data hold 2,005 people, 8.5% of them over 80; fewer than 8 people; 1 in 4 people.</p>",
        spec={"data": {"values": [{"g": "a", "n": 15}, {"g": "b", "n": None}]}},
    )
    assert audit_site(site, settings=DEFAULT, totals={2003, 601}) == []


@pytest.mark.parametrize(
    ("csv", "rule"),
    [
        ("g,events\na,3\n", "small count"),  # by name
        ("g,people\na,12\n", "not rounded"),  # the book's own count names
        ("g,waiting,suppressed_waiting\na,4\n", "small count"),  # the manifest's metadata
    ],
)
def test_the_auditor_finds_counts_in_csvs(tmp_path, csv, rule):
    (finding,) = audit_site(_site(tmp_path, csv=csv), settings=DEFAULT, totals=set())
    assert rule in finding.rule and finding.file == "downloads/ch/t.csv"


def test_the_auditor_finds_counts_within_tiny_groups(tmp_path):
    csv = "g,events,population\na,0,40\nb,,45\nc,30,300\n"
    (finding,) = audit_site(_site(tmp_path, csv=csv), settings=DEFAULT, totals=set())
    assert (finding.where, finding.value, finding.rule) == (
        "column: events, row 1",
        "0",
        "group of fewer than 50",
    )


def test_the_auditor_finds_counts_in_chart_specs_and_tables(tmp_path):
    spec = {"datasets": {"d": [{"label": "a", "population": 12}]}}
    table = (
        "<table><tr><th>Group</th><th>People</th><th>Rate (%)</th></tr>"
        "<tr><th>a</th><td>4</td><td>3</td></tr></table>"
    )
    findings = audit_site(_site(tmp_path, page=table, spec=spec), settings=DEFAULT, totals=set())
    assert {(f.where, f.value) for f in findings} == {
        ("chart fig: population", "12"),
        ("table column 'People'", "4"),
    }


def test_the_auditor_finds_exact_totals_and_counts_of_people_in_text(tmp_path):
    page = (
        "<p>We split the 2,003 people at random; 601 were explained; 12 people died. "
        "Blood pressure 99 to 107 mmHg, 601 days.</p>"
    )
    findings = audit_site(_site(tmp_path, page=page), settings=DEFAULT, totals={2003, 601, 12})
    assert sorted((f.value, f.rule) for f in findings) == [
        ("12 people", "count not rounded to 5"),
        ("2,003", "exact total"),
        ("2,003 people", "count not rounded to 5"),
        ("601", "exact total"),
    ]


def test_a_known_leak_matches_only_its_own_findings():
    leak = Leak(
        reason="the model pages print exact totals",
        pages=("predicting-risk", "model-card", "fairness", "explanations"),
    )
    assert leak.matches(Finding("chapters/model-card.html", "text", "2,003", "exact total"))
    assert leak.matches(
        Finding("site_libs/nhs/search-index.js (chapters/fairness.html#x)", "text", "1,402", "exact total")
    )
    assert not leak.matches(Finding("chapters/population.html", "text", "2,003", "exact total"))
    assert not leak.matches(
        Finding("chapters/model-card.html", "table column 'People'", "3", "small count (1-7)")
    )


def test_under_11_10_a_count_rounded_to_the_threshold_is_allowed():
    tens = SETTINGS["11-10"]
    assert count_problem(10, tens) is None
    assert count_problem(9, tens) == "small count (1-10)"
    assert count_problem(15, tens) == "count not rounded to 10"
    assert count_problem(5, DEFAULT) == "small count (1-7)"


def test_exact_totals_include_the_population_groups_and_the_test_set(default_config):
    from healthgap.data import load

    people = load(default_config).collect()
    totals = exact_totals(people, default_config)
    n = people.height
    assert n in totals
    assert math.ceil(default_config.model.test_size * n) in totals  # the test set (sklearn's split)
    assert people.filter(pl.col("sex") == "female").height in totals


# -- slow tests: whole books rendered and audited ----------------------------------------------------


def _project(root: Path) -> Path:
    """A copy of the whole book (every page in ``_quarto.yml``) in ``root``."""
    spec = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    spec["project"].pop("post-render", None)
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    for page in [REPO / "index.qmd", *(REPO / "chapters").glob("*.qmd")]:
        shutil.copyfile(page, root / page.relative_to(REPO))
    shutil.copytree(REPO / "_extensions", root / "_extensions")
    return root


@pytest.fixture(scope="module")
def populations(tmp_path_factory):
    """size -> (config file, exact totals) of a synthetic population written as the CLI writes it."""
    from healthgap import synth
    from healthgap.config import load_config
    from healthgap.data import load

    out = {}
    for n in SIZES:
        folder = tmp_path_factory.mktemp(f"people-{n}")
        synth.write(folder, n=n)
        raw = yaml.safe_load((REPO / "data" / "default.yml").read_text(encoding="utf-8"))
        raw["data"] = {
            **raw["data"],
            "path": str(folder / "population.parquet"),
            "truth": str(folder / "truth.json"),
            "boundaries": str(folder / "areas.geojson"),
        }
        path = folder / "config.yml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        config = load_config(path)
        out[n] = (raw, exact_totals(load(config).collect(), config))
    return out


def _render(project: Path, config: Path, out: Path) -> Path:
    from healthgap.render import render_book

    return render_book(project=project, out=out, config=config, engine="builtin", jobs=2, progress=None)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n", "name"),
    [
        pytest.param(
            n,
            name,
            marks=[pytest.mark.xfail(strict=True, raises=KnownLeak, reason=KNOWN_LEAKS[(n, name)].reason)]
            if (n, name) in KNOWN_LEAKS
            else [pytest.mark.xfail(strict=False, reason=KNOWN_FAILURES[(n, name)])]
            if (n, name) in KNOWN_FAILURES
            else [],
            id=f"{n}-{name}",
        )
        for n in SIZES
        for name in SETTINGS
    ],
)
def test_a_rendered_book_publishes_no_small_unrounded_or_exact_count(
    tmp_path, tmp_path_factory, monkeypatch, populations, n, name
):
    raw, totals = populations[n]
    settings = SETTINGS[name]
    config = tmp_path / "config.yml"
    raw = {
        **raw,
        "disclosure": {
            **raw["disclosure"],
            "suppress_below": settings.suppress_below,
            "rounding": settings.rounding,
        },
    }
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    # the model fits do not depend on the disclosure settings: one cache per population
    monkeypatch.setenv("HEALTHGAP_MODEL_CACHE", str(tmp_path_factory.getbasetemp() / f"models-{n}"))
    site = _render(_project(tmp_path / "book"), config, tmp_path / "site")
    findings = audit_site(site, settings=settings, totals=totals)
    known = KNOWN_LEAKS.get((n, name))
    unknown = [f for f in findings if known is None or not known.matches(f)]
    assert not unknown, "\n".join(map(str, unknown))
    if known is not None and findings:
        raise KnownLeak(f"{known.reason}:\n" + "\n".join(map(str, findings)))


LEAKY_PAGE = """\
# Leaky

```{python}
import polars as pl
from healthgap.book import setup
from healthgap.disclosure import Published

book = setup("leaky")
n = book.frame.height
counts = book.frame.group_by("ethnicity").agg(pl.len().alias("people"))
book.download(Published(counts, ("people",), book.config.disclosure), id="raw", title="Raw")
```

The data hold `{python} f"{n:,}"` people.
"""


@pytest.mark.slow
def test_the_auditor_finds_the_leaks_of_a_leaky_page(tmp_path, populations):
    """A page that prints the exact population size and writes exact counts is caught."""
    raw, totals = populations[SIZES[0]]
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    spec = {
        "project": {"type": "book"},
        "book": {"title": "Leaky", "chapters": ["index.qmd", "chapters/leaky.qmd"]},
    }
    (root / "_quarto.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    (root / "index.qmd").write_text("# Home\n\nWelcome.\n", encoding="utf-8")
    (root / "chapters" / "leaky.qmd").write_text(LEAKY_PAGE, encoding="utf-8")
    shutil.copytree(REPO / "_extensions", root / "_extensions")
    site = _render(root, config, tmp_path / "site")
    findings = audit_site(site, settings=DEFAULT, totals=totals)
    rules = {(f.file, f.rule.split(" (")[0]) for f in findings}
    assert ("chapters/leaky.html", "exact total") in rules
    assert any(f.file == "downloads/leaky/raw.csv" and "not rounded" in f.rule for f in findings)
