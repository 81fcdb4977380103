"""Validation of a person table: the checks on :func:`healthgap.data.validate`'s one pass, and
the :class:`ValidationReport` with its one-screen text form.

:func:`column_aggregates` gives the aggregate expressions of one column (missing, invalid,
out of range, code distribution, duplicates); :func:`fill_report` turns the one row they
compute into completeness, missing counts, distributions, problems and warnings.
:func:`config_problems`, :func:`todo_problems` and :func:`config_warnings` check the config
against the data (columns it asks for, TODO lines left by ``healthgap init``, indicators,
follow-up features).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from healthgap.config import Config
from healthgap.contract import CORE, REQUIRED, Column
from healthgap.safeio import data_file_problem
from healthgap.sql import indicator_columns
from healthgap.vocabulary import guess_codes

__all__ = [
    "close_columns",
    "ValidationReport",
    "column_aggregates",
    "fill_report",
    "needed_columns",
    "ALL_NULL",
    "EMPTY_OPTIONAL",
    "config_problems",
    "todo_problems",
    "config_warnings",
    "STRICT_RANGES",
]

#: Columns whose out-of-range values are errors; other ranges only warn.
STRICT_RANGES = ("age", "imd_decile", "imd_quintile")

EMPTY = "The table {path} has no rows."

UNMAPPED = (
    "{name}: {n} value(s) are not valid codes: {values}. Valid codes: {valid}. Fix: map them in the "
    "config, e.g. data.codes: {{{name}: {{{example!r}: {target}}}}} (or null to treat as missing)."
)

WRONG_TYPE = "{name}: {n} value(s) are not {kind}, e.g. {values}. Fix: clean the column or map the codes in data.codes.{name} (null for missing)."

OUT_OF_RANGE = "{name}: {n} value(s) outside {lo}-{hi} (found {mn} to {mx})."

DUPLICATES = (
    "person_id: {n} rows share an identifier with another row, e.g. {values}. Fix: one row per person."
)

NULL_IDS = "person_id: {n} rows have no identifier. Fix: every row needs a unique person_id."

ALL_NULL = "{name}: every value is empty. Fix: map the right source column, or remove the column."

#: An empty column the book can do without (no identifier, dimension, model target or feature): like an
#: absent column, its pages show a skip note. A small dataset empties such columns by chance (in 100
#: people nobody may have been referred, so every wait is empty), so this does not stop the analysis.
EMPTY_OPTIONAL = (
    "{name}: every value is empty, so the pages that use it show a skip note. If it should have values, "
    "map the right source column."
)

NOT_IN_DATA = (
    "{key}: {name!r} is not in the data{close}. Fix: map its column in data.columns, or remove it from {key}."
)

AUX_MISSING = "data.{key}: file not found: {path}. Fix: correct the path or set data.{key}: null."

TODO_LEFT = "{path} line {line}: a TODO is left: {text!r}. Fix: resolve it, then delete the TODO marker."

FOLLOW_UP_FEATURE = (
    "model.features: {name!r} is measured during the follow-up (timing: follow-up), so a model predicting "
    "{target} would see the outcome period. Fix: remove it from model.features, or declare its timing "
    "baseline if it is known at the start."
)

FEW_LEVELS = "{where}: the dimension {name!r} has {n} level(s) in the data; comparing groups needs 2 or more."

BAD_INDICATOR = "indicators: {name!r} cannot be computed: {reason}."

#: Columns whose code distribution the report shows (with every custom dimension).
_SHOWN = ("sex", "ethnicity", "imd_quintile", "imd_decile", "smoking")
_KIND_WORDS = {"integer": "whole numbers", "float": "numbers", "boolean": "true/false values"}


def close_columns(name: str, options: list[str]) -> str:
    """`` (close columns in the file: 'a', 'b')`` for ``name``, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    normal = {o.lower().replace("_", "").replace(" ", ""): o for o in options}
    key = name.lower().replace("_", "")
    hits = [o for k, o in normal.items() if key in k or (len(k) > 2 and k in key)]
    found = list(dict.fromkeys([*close, *hits]))[:3]
    return f" (close columns in the file: {', '.join(map(repr, found))})" if found else ""


def column_aggregates(col: Column, canon: pl.Expr, raw: pl.Expr) -> list[pl.Expr]:
    name = col.name
    out = [canon.null_count().alias(f"{name}:null")]
    if col.kind in ("integer", "float", "boolean", "category"):
        bad = raw.is_not_null() & canon.is_null()
        out.append(bad.sum().alias(f"{name}:bad"))
        sample = raw.filter(bad).cast(pl.String)  # cast only the bad values, not the column
        out.append(sample.value_counts(sort=True).head(6).implode().alias(f"{name}:badvals"))
    if col.minimum is not None:
        outside = (canon < col.minimum) | (canon > col.maximum)
        out += [
            outside.sum().alias(f"{name}:outside"),
            canon.min().cast(pl.Float64).alias(f"{name}:min"),
            canon.max().cast(pl.Float64).alias(f"{name}:max"),
        ]
    if col.kind in ("category", "boolean") or col.group == "equity" or name in ("imd_decile", "imd_quintile"):
        # counted before the values are written as text (the same counts, one cast per distinct value)
        counts = canon.drop_nulls().alias("value").value_counts(sort=True, name="count")
        dist = counts.struct.with_fields(pl.field("value").cast(pl.String))
        out.append(dist.implode().alias(f"{name}:dist"))
    if name == "person_id":
        dup = canon.is_duplicated() & canon.is_not_null()
        out += [
            dup.sum().alias("person_id:dup"),
            canon.filter(dup).unique(maintain_order=True).head(5).implode().alias("person_id:dupvals"),
        ]
    return out


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _counts(values: list[dict]) -> list[tuple[str, int]]:
    return [(str(next(iter(d.values()))), int(d["count"])) for d in values]


def _guess_code(col: Column, value: str) -> str:
    """The canonical code an unmapped ``value`` most likely means, for the error's example."""
    codes = col.codes
    guessed = guess_codes(col.name, [value])[0].get(value, "?") if col.name in _SHOWN else "?"
    if guessed != "?":
        return "null" if guessed is None else guessed
    prefix = [c for c in codes if c.lower().startswith(value.lower())]
    close = prefix or difflib.get_close_matches(value, codes, n=1, cutoff=0.6)
    return close[0] if close else ("Not stated" if "Not stated" in codes else "null")


def config_problems(config: Config, present: set[str], files: list[str]) -> list[str]:
    """Columns the config asks for by name that the loaded table lacks (naming the closest of the
    file's columns ``files``), and auxiliary files that are missing."""
    problems = []
    for key, name in config.requested:
        if name in present or name in REQUIRED:
            continue
        if name == "imd_quintile" and "imd_decile" in present:
            continue
        shown = "imd_decile or imd_quintile" if name == "imd_quintile" else name
        source = config.data.columns.get(name, name)
        problems.append(NOT_IN_DATA.format(key=key, name=shown, close=close_columns(source, files)))
    for key in ("truth", "boundaries"):
        path = getattr(config.data, key)
        if path is not None and (problem := data_file_problem(path, what=f"data.{key}", fmt="json")):
            problems.append(problem)
        elif path is not None and not Path(path).is_file():
            problems.append(AUX_MISSING.format(key=key, path=path))
    return problems


def todo_problems(config: Config) -> list[str]:
    """Every line of the config file still holding a TODO (left by ``healthgap init``)."""
    try:
        lines = config.path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [
        TODO_LEFT.format(path=config.path.name, line=i, text=line.strip()[:120])
        for i, line in enumerate(lines, start=1)
        if "TODO" in line
    ]


def config_warnings(config: Config, schema: pl.Schema) -> tuple[list[str], list[str]]:
    """(problems, warnings) about the config against the loaded columns: indicators, features."""
    problems = []
    for indicator in config.indicators:
        compiled = indicator_columns(indicator, schema)
        if isinstance(compiled, str) and "does not have" not in compiled:
            problems.append(BAD_INDICATOR.format(name=indicator.name, reason=compiled))
    timing = {m.name: m.timing for m in config.measures}
    warnings = [
        FOLLOW_UP_FEATURE.format(name=f, target=config.model.target or "the target")
        for f in config.model.features
        if timing.get(f) == "follow-up"
    ]
    return problems, warnings


def needed_columns(config: Config) -> set[str]:
    """Columns that may not be entirely empty: the required ones, the equity dimensions, the model's
    target and features (:attr:`Config.features`): an empty one of these is a mapping mistake, not an
    accident of size."""
    required = {n for n, col in config.contract.items() if col.required}
    return required | {d.name for d in config.dimensions} | {config.model.target, *config.features}


def fill_report(report: ValidationReport, row: dict, present: list[str], config: Config) -> None:
    rows = int(row[":rows"])
    report.rows = rows
    if rows == 0:
        report.problems.append(EMPTY.format(path=report.source))
        return
    needed = needed_columns(config)
    for name in present:
        col = config.contract[name]
        nulls = int(row[f"{name}:null"])
        report.completeness[name] = (rows - nulls) / rows
        report.missing[name] = nulls
        bad = int(row.get(f"{name}:bad") or 0)
        if bad:
            counts = _counts(row[f"{name}:badvals"])
            values = ", ".join(f"{v!r} ({n:,} row{'s' if n != 1 else ''})" for v, n in counts)
            if col.kind == "category":
                target = _guess_code(col, counts[0][0])
                report.problems.append(
                    UNMAPPED.format(
                        name=name,
                        n=f"{bad:,}",
                        values=values,
                        valid=", ".join(col.codes),
                        example=counts[0][0],
                        target=target,
                    )
                )
            else:
                report.problems.append(
                    WRONG_TYPE.format(name=name, n=f"{bad:,}", kind=_KIND_WORDS[col.kind], values=values)
                )
        elif nulls == rows:
            if name in needed:
                report.problems.append(ALL_NULL.format(name=name))
            else:
                report.warnings.append(EMPTY_OPTIONAL.format(name=name))
        outside = int(row.get(f"{name}:outside") or 0)
        if outside and col.minimum is not None and col.maximum is not None:  # only ranged columns count
            msg = OUT_OF_RANGE.format(
                name=name,
                n=f"{outside:,}",
                lo=_fmt(col.minimum),
                hi=_fmt(col.maximum),
                mn=_fmt(row[f"{name}:min"]),
                mx=_fmt(row[f"{name}:max"]),
            )
            (report.problems if name in STRICT_RANGES else report.warnings).append(
                msg
                + (
                    " Fix: correct or remove these rows."
                    if name in STRICT_RANGES
                    else " They are kept; check them."
                )
            )
        if f"{name}:dist" in row:
            report.distributions[name] = _counts(row[f"{name}:dist"])
    if row.get("person_id:dup"):
        report.problems.append(
            DUPLICATES.format(
                n=f"{int(row['person_id:dup']):,}", values=", ".join(map(repr, row["person_id:dupvals"]))
            )
        )
    if "person_id" in present and 0 < int(row["person_id:null"]) < rows:
        report.problems.append(NULL_IDS.format(n=f"{int(row['person_id:null']):,}"))
    for i, d in enumerate(config.dimensions):
        if config.contract.get(d.name, CORE["age"]).group == "equity" and d.name in report.distributions:
            n = len(report.distributions[d.name])
            if n < 2:
                report.warnings.append(FEW_LEVELS.format(where=f"equity.dimensions[{i}]", name=d.name, n=n))
    report.missing_optional = [
        n
        for n in CORE
        if n not in present and not CORE[n].required and n not in ("imd_decile", "imd_quintile")
    ]
    if not {"imd_decile", "imd_quintile"} & set(present):
        report.missing_optional.append("imd_decile or imd_quintile")
    report.missing_optional += [n for n in config.dropped if n not in present]
    report.shown = [n for n in _SHOWN if n in present] + [
        n for n in present if config.contract[n].group == "equity"
    ]
    report.code_order = {n: config.contract[n].codes for n in report.shown}
    for name, share in report.completeness.items():
        if config.contract[name].required and 0 < share < 0.95 and name != "person_id":
            report.warnings.append(f"{name}: only {share:.1%} of rows have a value.")


_WIDTH = 100


def _order_key(codes: tuple[str, ...]):
    if codes:
        return lambda item: codes.index(item[0]) if item[0] in codes else len(codes)
    return lambda item: int(item[0]) if item[0].lstrip("-").isdigit() else 0


@dataclass
class ValidationReport:
    """What :func:`healthgap.data.validate` found.

    Attributes
    ----------
    source : the data file.
    format : ``parquet`` or ``csv``.
    synthetic : whether the config labels the data synthetic.
    source_columns : column names in the file.
    rows : number of rows (0 if unreadable).
    completeness : canonical column -> share of rows with a value.
    missing : canonical column -> number of rows without a value.
    distributions : canonical column -> [(code, rows), ...], most common first.
    missing_optional : optional columns (core, declared measures) the data does not have.
    shown : columns whose code distribution the report shows.
    code_order : column -> its codes in display order (empty: as found).
    problems : errors; the data cannot be used until they are fixed.
    warnings : things worth checking that do not stop the analysis.
    """

    source: Path
    format: str
    synthetic: bool = False
    source_columns: list[str] = field(default_factory=list)
    rows: int = 0
    completeness: dict[str, float] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    distributions: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    code_order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no problems."""
        return not self.problems

    def _packed(self, items: list[str], indent: str = "  ") -> list[str]:
        lines, line = [], indent
        for item in items:
            if len(line) + len(item) > _WIDTH and line.strip():
                lines.append(line.rstrip())
                line = indent
            line += item + "  "
        if line.strip():
            lines.append(line.rstrip())
        return lines

    def render(self) -> str:
        """One screen of text: rows, completeness, code distributions, warnings, problems."""
        kind = f"{self.format}, synthetic" if self.synthetic else self.format
        out = [f"Dataset: {self.source} ({kind})"]
        if self.completeness:
            out.append(f"Rows: {self.rows:,}   Contract columns present: {len(self.completeness)}")
            out.append("Completeness (% of rows with a value):")
            width = max(len(n) for n in self.completeness)
            out += self._packed([f"{n:<{width}} {100 * s:5.1f}" for n, s in self.completeness.items()])
            gaps = [f"{n} {m:,}" for n, m in self.missing.items() if m]
            if gaps:
                out.append("Missing values (rows):")
                out += self._packed(gaps)
            shown = [n for n in self.shown if n in self.distributions]
            if shown:
                out.append("Codes (% of rows):")
            for name in shown:
                dist = sorted(self.distributions[name], key=_order_key(self.code_order.get(name, ())))
                total = sum(n for _, n in dist) or 1
                parts = ", ".join(f"{v} {100 * n / total:.1f}%" for v, n in dist[:10])
                out.append(f"  {name:<12} {parts}"[:_WIDTH])
            if self.missing_optional:
                out.append("Not in this dataset (optional): " + ", ".join(self.missing_optional))
        for title, items in (("Warnings", self.warnings), ("Problems", self.problems)):
            if items:
                out.append(f"{title} ({len(items)}):")
                out += [f"  - {p}" for p in items]  # every problem at once, never "and N more"
        out.append(
            "Result: OK"
            if self.ok
            else f"Result: FAILED with {len(self.problems)} problem(s); fix them and run `healthgap validate` again."
        )
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()
