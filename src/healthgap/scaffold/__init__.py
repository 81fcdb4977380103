"""``healthgap init``: guess how a new dataset maps onto healthgap, and write a starter config.

Reads the column names and values of a new person table, guesses the core columns, the
cardiovascular profile's measures, new measures (outcomes over a follow-up such as
``TenYearCHD``, death, glucose, a 0/1 current-smoker flag), equity dimensions from other
columns (education, race), code mappings and units (:mod:`._guess`, with the dataset
vocabulary of :mod:`healthgap.vocabulary`), and writes a commented config for the analyst
to complete. Every guess it is not sure of is marked TODO; ``healthgap validate`` fails
until none is left.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from healthgap.config import Measure, read_profile
from healthgap.contract import CONTRACT, TRUTH_PREFIX
from healthgap.errors import DataError
from healthgap.safeio import data_file_problem
from healthgap.scaffold._guess import MIN_CASES, Proposal, propose
from healthgap.vocabulary import NHS_ETHNIC_NAMES

__all__ = ["write_starter_config", "StarterConfig", "MIN_CASES"]

NOT_FOUND = "Dataset not found: {path}. Fix: give the path of a .csv or .parquet file."
UNKNOWN_FORMAT = "Cannot tell the format of {path} from its extension. Fix: use a .csv or .parquet file."
UNREADABLE = "Cannot read {path}: {detail}"


@dataclass
class StarterConfig:
    """What ``healthgap init`` wrote and guessed."""

    path: Path
    dataset: Path
    columns: dict[str, str]  # canonical -> source column (every core column and measure found)
    codes: dict[str, dict[str, Any]]
    todo: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    measures: tuple[str, ...] = ()  # new measures declared in the config
    dimensions: tuple[str, ...] = ()  # equity dimensions proposed
    derive: dict[str, str] = field(default_factory=dict)
    target: str = ""
    target_note: str = ""

    def summary(self) -> str:
        """What was written, every TODO, warnings about units, and the model target."""
        renames = (
            ", ".join(f"{s} -> {c}" for c, s in self.columns.items() if c != s)
            or "all names already canonical"
        )
        lines = [f"Wrote {self.path}: {len(self.columns)} columns mapped ({renames})."]
        if self.measures:
            lines.append(f"New measures declared: {', '.join(self.measures)}.")
        lines.append(f"Equity dimensions: {', '.join(self.dimensions)}.")
        lines.append(self.target_note[:1].upper() + self.target_note[1:])
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {w}" for w in self.warnings]
        if self.todo:
            lines.append(
                "Still to do (marked TODO in the file; `healthgap validate` fails until none is left):"
            )
            lines += [f"  - {t}" for t in self.todo]
        lines.append(f"Next: edit {self.path}, then run `healthgap validate --config {self.path}`.")
        return "\n".join(lines)


def _q(value: object) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def _comment(note: str) -> str:
    return f"  # {note}" if note else ""


def _read(dataset: Path) -> pl.LazyFrame:
    if problem := data_file_problem(dataset, what="The dataset"):
        raise DataError(problem)
    if not dataset.is_file():
        raise DataError(NOT_FOUND.format(path=dataset))
    name = dataset.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            lf = pl.scan_parquet(dataset)
        elif name.endswith((".csv", ".txt", ".csv.gz")):
            lf = pl.scan_csv(dataset, infer_schema=False)
        else:
            raise DataError(UNKNOWN_FORMAT.format(path=dataset))
        lf.collect_schema()
    except DataError:
        raise
    except Exception as exc:
        raise DataError(UNREADABLE.format(path=dataset, detail=str(exc).splitlines()[0][:200])) from None
    return lf


def _columns_lines(p: Proposal) -> list[str]:
    lines = ["  columns:               # canonical name: column in your file (guessed from the names)"]
    renames = [
        f"    {c}: {_q(src)}{_comment(p.notes.get(c, '') if c not in p.codes else '')}"
        for c, src in p.columns.items()
        if c != src
    ]
    if not renames:
        lines[0] = "  columns: {}             # all names are already canonical"
    lines += renames
    lines += [f"    # {c}: TODO  <- REQUIRED: the column holding {c}" for c in p.missing]
    return lines


def _codes_lines(p: Proposal) -> list[str]:
    shown = [c for c in dict.fromkeys([*p.codes, *(c for c in p.notes if c in p.counts)])]
    if not shown:
        return ["  codes: {}"]
    lines = [
        "  codes:                 # canonical column: {code in your file: canonical code, or null = missing}"
    ]
    for c in shown:
        mapping = p.codes.get(c, {})
        head = f"    {c}:" + _comment(p.notes.get(c, ""))
        if not mapping:
            lines.append(f"    {c}: {{}}" + _comment(p.notes.get(c, "")))
            continue
        lines.append(head)
        for src, dst in mapping.items():
            what = (
                f"{NHS_ETHNIC_NAMES[src.upper()]}, "
                if c == "ethnicity" and src.upper() in NHS_ETHNIC_NAMES
                else ""
            )
            rows = p.counts.get(c, {}).get(src)
            note = p.code_notes.get(c, {}).get(src, "")
            extra = f"{what}{rows:,} rows" if rows is not None else what.rstrip(", ")
            lines.append(f"      {_q(src)}: {_q(dst)}" + _comment("; ".join(x for x in (extra, note) if x)))
    return lines


def _measure_line(m: Measure, note: str) -> list[str]:
    fields = {
        "name": m.name,
        "column": m.column or None,
        "label": m.label,
        "kind": m.kind,
        "type": m.type,
        "unit": m.unit,
        "period": m.period,
        "timing": m.timing if m.timing != "baseline" else None,
        "minimum": m.minimum,
        "maximum": m.maximum,
    }
    parts = ", ".join(f"{k}: {_q(v)}" for k, v in fields.items() if v is not None)
    return [f"  - {{{parts}}}" + _comment(note)]


def _dimension_lines(p: Proposal, dims: list[str]) -> list[str]:
    lines = ["equity:", "  dimensions:"] + [f"    - {d}" for d in dims]
    for entry, note in p.dimensions:
        parts = ", ".join(f"{k}: {_q(v)}" for k, v in entry.items())
        lines.append(f"    - {{{parts}}}" + _comment(note))
    return lines


def _model_lines(p: Proposal) -> tuple[list[str], list[str]]:
    profile = read_profile()
    baseline = [m.name for m in profile.measures if m.timing == "baseline" and m.name in p.found]
    baseline += [m.name for m, _ in p.measures if m.timing == "baseline"]
    features = [f for f in ("age", *baseline) if f != p.target and (f != "age" or "age" in p.found)]
    lines = ["model:"]
    if p.target:
        lines.append(f"  target: {p.target}  # {p.target_note}")
    else:
        lines.append(f"  # target: none proposed: {p.target_note}")
    lines += [
        f"  features: [{', '.join(features)}]",
        "  exclude_protected: true",
        "  top_fraction: 0.05",
    ]
    outcomes = [m.name for m in profile.measures if m.kind == "outcome" and m.name in p.found]
    outcomes += [m.name for m, _ in p.measures if m.kind == "outcome"]
    return lines, outcomes


def write_starter_config(dataset: Path, *, out: Path) -> StarterConfig:
    """Inspect ``dataset`` and write a commented starter config to ``out``.

    Parameters
    ----------
    dataset : the new person table (.csv or .parquet).
    out : the config file to write; ``data.path`` is written relative to its folder.

    Returns
    -------
    StarterConfig
        The guessed mapping, the things left to do, warnings and the model target.

    References
    ----------
    .. [1] healthgap README, section "Pointing the book at another dataset".
    """
    p = propose(_read(dataset))
    out = Path(out)
    rel = os.path.relpath(dataset.resolve(), out.resolve().parent)
    fmt = "parquet" if dataset.name.lower().endswith((".parquet", ".pq")) else "csv"
    conditions = [c for c in CONTRACT if CONTRACT[c].group == "condition" and c in p.found]
    model, outcomes = _model_lines(p)
    lines = [
        f"# Starter config written by `healthgap init` from {dataset.name} on {_dt.date.today().isoformat()}.",
        "# Lines still to check carry a to-do note; then run: healthgap validate --config " + str(out),
        "# Every key is documented in data/default.yml and the README (Configuration reference).",
        "",
        "profile: cvd             # the cardiovascular measures and indicators",
        "",
        "report:",
        "  title: Health inequalities in cardiovascular disease",
        '  organisation: "Your organisation"   # the name on the title page',
        "  subtitle: null",
        '  period: null            # e.g. "2024/25"',
        '  contact: null           # how readers report a problem, e.g. "email hi.team@example.nhs.uk"',
        "",
        "data:",
        f"  path: {_q(rel)}",
        f"  format: {fmt}",
        "  synthetic: false",
        "  truth: null",
        "  boundaries: null        # optional GeoJSON of your areas for maps, keyed by boundary_key",
        f"  boundary_key: {next((g for g in ('lsoa', 'locality', 'gp_practice') if g in p.found), 'lsoa')}",
        *_columns_lines(p),
    ]
    if p.unused:
        lines.append(f"  # Not used (nothing matched): {', '.join(p.unused)}")
    lines += _codes_lines(p)
    if p.derive:
        lines.append("  derive:                # name: SQL expression over the file's columns")
        lines += [f"    {name}: {_q(expr)}" + _comment(note) for name, (expr, note) in p.derive.items()]
    imd = {"imd_decile", "imd_quintile"} & p.found
    dims = [
        *(["imd_quintile"] if imd else []),
        *(d for d in ("ethnicity", "sex") if d in p.found),
        "age_band",
    ]
    dims += ["locality"] if "locality" in p.found else []
    lines += ["", *_dimension_lines(p, dims), ""]
    if p.measures:
        lines.append("measures:               # measures this dataset adds to the profile's")
        for m, note in p.measures:
            lines += _measure_line(m, note)
        lines.append("")
    if conditions:
        lines.append(f"conditions: [{', '.join(conditions)}]")
    else:
        lines.append("# conditions: none of the profile's conditions was found")
    lines += [
        f"outcomes: [{', '.join(outcomes)}]" if outcomes else "# outcomes: no outcome column found",
        "",
        *model,
        "",
        "disclosure:",
        "  enabled: true",
        "  suppress_below: 8",
        "  rounding: 5",
        "",
    ]
    truth = [c for c in p.found if c.startswith(TRUTH_PREFIX)]
    if truth:
        lines.insert(-1, f"# This dataset has true-status columns ({', '.join(truth)}).")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    return StarterConfig(
        path=out,
        dataset=dataset,
        columns=dict(p.columns),
        codes=p.codes,
        todo=p.todo,
        warnings=p.warnings,
        measures=tuple(m.name for m, _ in p.measures),
        dimensions=(*dims, *(d["name"] for d, _ in p.dimensions)),
        derive={k: v for k, (v, _) in p.derive.items()},
        target=p.target,
        target_note=p.target_note,
    )
