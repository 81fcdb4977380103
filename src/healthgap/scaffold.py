"""``healthgap init``: guess how a new dataset maps onto the contract.

Reads the column names and the values of a new person table, matches names
to canonical columns and guesses code mappings with the dataset vocabulary
(:mod:`healthgap.vocabulary`), and writes a commented starter config for the
analyst to complete.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from healthgap.contract import CONDITIONS, CONTRACT, OUTCOMES, TRUTH_PREFIX
from healthgap.errors import DataError
from healthgap.safeio import data_file_problem
from healthgap.vocabulary import NHS_ETHNIC_NAMES, guess_codes, guess_columns

__all__ = ["write_starter_config", "StarterConfig"]

NOT_FOUND = "Dataset not found: {path}. Fix: give the path of a .csv or .parquet file."
UNKNOWN_FORMAT = "Cannot tell the format of {path} from its extension. Fix: use a .csv or .parquet file."
UNREADABLE = "Cannot read {path}: {detail}"


@dataclass
class StarterConfig:
    """What ``healthgap init`` wrote."""

    path: Path
    dataset: Path
    columns: dict[str, str]
    codes: dict[str, dict[str, str | None]]
    todo: list[str] = field(default_factory=list)

    def summary(self) -> str:
        renames = (
            ", ".join(f"{s} -> {c}" for c, s in self.columns.items() if c != s)
            or "all names already canonical"
        )
        lines = [f"Wrote {self.path}: {len(self.columns)} columns mapped onto the contract ({renames})."]
        if self.todo:
            lines.append("Still to do (marked TODO in the file):")
            lines += [f"  - {t}" for t in self.todo]
        lines.append(f"Next: edit {self.path}, then run `healthgap validate --config {self.path}`.")
        return "\n".join(lines)


def _nonempty(name: str) -> pl.Expr:
    """The column as trimmed text without missing or empty values."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return text.filter(text.str.len_bytes() > 0)


def _q(value: object) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


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


def write_starter_config(dataset: Path, *, out: Path) -> StarterConfig:
    """Inspect ``dataset`` and write a commented starter config to ``out``.

    Parameters
    ----------
    dataset : the new person table (.csv or .parquet).
    out : the config file to write; ``data.path`` is written relative to its folder.

    Returns
    -------
    StarterConfig
        The guessed mapping and the list of things left to do.

    References
    ----------
    .. [1] healthgap README, section "Pointing the book at another dataset".
    """
    lf = _read(dataset)
    names = lf.collect_schema().names()
    columns = guess_columns(names)
    coded = [c for c in columns if CONTRACT[c].kind in ("category", "boolean")]
    values = (
        lf.select(_nonempty(columns[c]).value_counts(sort=True).head(60).implode().alias(c) for c in coded)
        .collect()
        .row(0, named=True)
        if coded
        else {}
    )
    counts = {c: {str(d[columns[c]]): int(d["count"]) for d in values[c]} for c in coded}
    codes: dict[str, dict[str, str | None]] = {}
    todo: list[str] = []
    notes: dict[str, str] = {}
    for c in coded:
        mapping, unknown = guess_codes(c, list(counts[c]))
        if mapping:
            codes[c] = mapping
        if unknown:
            shown = ", ".join(f"{v!r} ({counts[c][v]:,} rows)" for v in unknown[:8])
            valid = ", ".join(CONTRACT[c].codes) if CONTRACT[c].codes else "true, false"
            notes[c] = f"TODO: map {shown} to one of: {valid} (or null = missing)"
            todo.append(f"data.codes.{c}: map {shown}")
    required_missing = [c for c in ("person_id", "age", "sex", "ethnicity") if c not in columns]
    if not {"imd_decile", "imd_quintile"} & set(columns):
        required_missing.append("imd_decile")
    todo += [
        f"data.columns.{c}: no column looks like {c}; name the column holding it" for c in required_missing
    ]

    out = Path(out)
    rel = os.path.relpath(dataset.resolve(), out.resolve().parent)
    fmt = "parquet" if dataset.name.lower().endswith((".parquet", ".pq")) else "csv"
    conditions = [c for c in CONDITIONS if c in columns]
    outcomes = [c for c in OUTCOMES if c in columns]
    target = (
        "cvd_admissions" if "cvd_admissions" in columns else (outcomes or conditions or ["cvd_admissions"])[0]
    )
    features = [
        c
        for c in (
            "age",
            *CONDITIONS,
            "smoking",
            "bmi",
            "systolic_bp",
            "cholesterol",
            "statin",
            "antihypertensive",
            "anticoagulant",
            "missed_appointments",
        )
        if c in columns and c != target
    ]
    dims = ["imd_quintile", "ethnicity", "sex", "age_band"] + (["locality"] if "locality" in columns else [])
    unused = [n for n in names if n not in columns.values()]
    lines = [
        f"# Starter config written by `healthgap init` from {dataset.name} on {_dt.date.today().isoformat()}.",
        "# Check every line marked TODO, then run: healthgap validate --config " + str(out),
        "# Every key is documented in the README (Configuration reference) and in data/default.yml.",
        "",
        "report:",
        "  title: Health inequalities in cardiovascular disease",
        '  organisation: "TODO: your organisation"',
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
        f"  boundary_key: {next((g for g in ('lsoa', 'locality', 'gp_practice') if g in columns), 'lsoa')}",
        "  columns:               # canonical name: column in your file (guessed from the names)",
    ]
    renames = [f"    {c}: {_q(src)}" for c, src in columns.items() if c != src]
    if renames:
        lines += renames
    else:
        lines[-1] = "  columns: {}             # all names are already canonical"
    lines += [f"    # {c}: TODO  <- REQUIRED: the column holding {c}" for c in required_missing]
    if unused:
        lines.append(f"  # Not used (no contract column matched): {', '.join(unused)}")
    lines.append("  codes:                 # canonical column: {code in your file: canonical code}")
    if not codes and not notes:
        lines[-1] = "  codes: {}"
    for c in coded:
        if c not in codes and c not in notes:
            continue
        lines.append(f"    {c}:" + (f"  # {notes[c]}" if c in notes else ""))
        for src, dst in codes.get(c, {}).items():
            what = (
                f"{NHS_ETHNIC_NAMES[src.upper()]}, "
                if c == "ethnicity" and src.upper() in NHS_ETHNIC_NAMES
                else ""
            )
            lines.append(f"      {_q(src)}: {_q(dst)}  # {what}{counts[c][src]:,} rows")
        if c not in codes:
            lines[-1] = f"    {c}: {{}}  # {notes[c]}"
    lines += ["", "equity:", "  dimensions:"] + [f"    - {d}" for d in dims]
    lines += [
        "",
        f"conditions: [{', '.join(conditions)}]"
        + ("" if conditions else "  # TODO: no condition column found"),
        f"outcomes: [{', '.join(outcomes)}]",
        "",
        "model:",
        f"  target: {target}",
        f"  features: [{', '.join(features)}]",
        "  exclude_protected: true",
        "  top_fraction: 0.05",
        "",
        "disclosure:",
        "  enabled: true",
        "  suppress_below: 8",
        "  rounding: 5",
        "",
    ]
    missing_truth = [c for c in CONTRACT if c.startswith(TRUTH_PREFIX) and c in columns]
    if missing_truth:
        lines.insert(-1, f"# This dataset has true-status columns ({', '.join(missing_truth)}).")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    return StarterConfig(path=out, dataset=dataset, columns=columns, codes=codes, todo=todo)
