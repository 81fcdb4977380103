"""What ``healthgap init`` guesses about a new dataset: its columns, codes, units and measures.

:func:`propose` profiles every column of the file in one pass (value counts, distinct
values, numeric median) and proposes how the dataset maps onto the core columns and the
cardiovascular profile, which columns become new measures or equity dimensions, which
codes mean what, which units need converting, and the model target. Every guess it is
not sure of carries a note starting "TODO" (written next to the line in the config).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from healthgap.config import Measure, read_profile
from healthgap.contract import CONTRACT, REQUIRED
from healthgap.vocabulary import (
    BOOLEAN_TOKENS,
    MG_PER_DL,
    MISSING_TOKENS,
    guess_codes,
    guess_columns,
    is_death,
    is_education,
    is_glucose,
    is_race,
    level_indicator,
    outcome_within,
)

__all__ = ["Proposal", "propose", "MIN_CASES"]

#: The model target needs at least this many cases (people with the outcome).
MIN_CASES = 50
_TRUE = frozenset(k for k, v in BOOLEAN_TOKENS.items() if v)

TODO_FUZZY = "TODO: guessed from a similar name; check {source} holds {name}"
TODO_SEX01 = "TODO: check: 0/1 sex codes differ between datasets (some code 1 = female)"
TODO_NULL = "TODO: {code!r} ({n:,} rows) is not a {what} code: read as missing; check the codebook"
TODO_MAP = "TODO: map {values} to one of: {valid} (or null = missing)"
TODO_EDUCATION = (
    "TODO: check the levels run from least to most education, name them in labels, "
    "and that the first is the disadvantaged end"
)
TODO_RACE = "TODO: name the codes in labels and choose the reference group"
TODO_PERIOD = "TODO: over what follow-up? e.g. period: within ten years"
TODO_SMOKER = "TODO: check 1 means a current smoker"
TODO_STEM = "TODO: check the label: {stem!r} is not a condition healthgap knows"
UNITS = (
    "{source}: median {median:g} looks like mg/dL ({name} in mmol/L is rarely above {limit:g}); "
    'proposed data.derive: {{{name}: "{expr}"}} (mmol/L = mg/dL / {factor:g}).'
)
NO_TARGET = (
    "no outcome has {min} or more cases{found}; no model target is proposed (the risk model is skipped)."
)
TARGET = "model target: {name} ({cases:,} cases, the outcome with the most)."
NO_COLUMN = "no column looks like {name}; name the column holding it"


@dataclass
class Proposal:
    """The guesses for one dataset (see :func:`propose`)."""

    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source, as data.columns
    notes: dict[str, str] = field(default_factory=dict)  # canonical -> comment on its line
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # canonical -> {code: target}
    code_notes: dict[str, dict[str, str]] = field(default_factory=dict)  # canonical -> {code: comment}
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # canonical -> {code: rows}
    measures: list[tuple[Measure, str]] = field(default_factory=list)  # new measures, with a comment
    dimensions: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # custom dimensions
    derive: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (SQL, comment)
    found: set[str] = field(default_factory=set)  # canonical names the dataset will have
    target: str = ""
    target_note: str = ""
    todo: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # required columns not found
    unused: list[str] = field(default_factory=list)


def _nonempty(name: str) -> pl.Expr:
    """The column as trimmed text without missing, empty or missing-token values."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return text.filter((text.str.len_bytes() > 0) & ~text.str.to_lowercase().is_in(list(MISSING_TOKENS)))


@dataclass(frozen=True)
class _Profile:
    """What one pass over the file says about a column."""

    values: dict[str, int]  # up to 60 most common values (as text) -> rows
    distinct: int
    median: float | None

    @property
    def flag(self) -> bool:
        return bool(self.values) and all(v.lower() in BOOLEAN_TOKENS for v in self.values)

    def mostly_flag(self) -> bool:
        """0/1 (or yes/no) apart from a few other codes (e.g. 2 = missing)."""
        known = sum(n for v, n in self.values.items() if v.lower() in BOOLEAN_TOKENS)
        return self.distinct <= 4 and known > 0 and any(v.lower() in _TRUE for v in self.values)


def _profiles(lf: pl.LazyFrame, names: list[str]) -> dict[str, _Profile]:
    row = (
        lf.select(
            *[_nonempty(n).value_counts(sort=True).head(60).implode().alias(f"v:{n}") for n in names],
            *[_nonempty(n).n_unique().alias(f"d:{n}") for n in names],
            *[_nonempty(n).cast(pl.Float64, strict=False).median().alias(f"m:{n}") for n in names],
        )
        .collect()
        .row(0, named=True)
    )
    return {
        n: _Profile(
            {str(d[n]): int(d["count"]) for d in row[f"v:{n}"]},
            int(row[f"d:{n}"]),
            None if row[f"m:{n}"] is None else float(row[f"m:{n}"]),
        )
        for n in names
    }


def _flag_codes(p: Proposal, canon: str, prof: _Profile, what: str = "yes/no") -> None:
    """Codes of a true/false column: every value that is not yes/no read as missing, with a TODO."""
    odd = {v: n for v, n in prof.values.items() if v.lower() not in BOOLEAN_TOKENS}
    if not odd:
        return
    p.codes[canon] = dict.fromkeys(odd)
    p.counts[canon] = prof.values
    p.code_notes[canon] = {v: TODO_NULL.format(code=v, n=n, what=what) for v, n in odd.items()}
    p.todo += [f"data.codes.{canon}: {note}" for note in p.code_notes[canon].values()]


def _category_codes(p: Proposal, canon: str, prof: _Profile) -> None:
    col = CONTRACT[canon]
    values = list(prof.values)
    mapping, unknown = guess_codes(canon, values)
    notes: dict[str, str] = {}
    if canon == "sex" and set(values) <= {"0", "1"}:
        mapping, notes = {"1": "male", "0": "female"}, {"1": TODO_SEX01}
    for code, target in mapping.items():
        if target is None:
            notes[code] = TODO_NULL.format(code=code, n=prof.values[code], what=canon)
    p.counts[canon] = prof.values
    if mapping:
        p.codes[canon], p.code_notes[canon] = dict(mapping), notes
        p.todo += [f"data.codes.{canon}: {note}" for note in notes.values()]
    if unknown:
        shown = ", ".join(f"{v!r} ({prof.values[v]:,} rows)" for v in unknown[:8])
        p.notes[canon] = TODO_MAP.format(values=shown, valid=", ".join(col.codes))
        p.todo.append(f"data.codes.{canon}: map {shown}")


def _units(p: Proposal, name: str, source: str, prof: _Profile) -> None:
    factor, limit = MG_PER_DL[name]
    if prof.median is None or prof.median <= limit:
        return
    expr = f"{source} / {factor:g}" if source.isidentifier() else f'"{source}" / {factor:g}'
    p.derive[name] = (expr, f"{source} is in mg/dL (median {prof.median:g}); converted to mmol/L")
    p.warnings.append(
        UNITS.format(source=source, median=prof.median, name=name, limit=limit, expr=expr, factor=factor)
    )
    p.columns.pop(name, None)  # the derived column has the canonical name


def _special(p: Proposal, name: str, prof: _Profile, taken: dict[str, str]) -> bool:
    """The name-pattern rules (indicator columns, outcomes over a follow-up, death, education,
    race, glucose). True when the column was used."""
    level = level_indicator(name)
    if level and "sex" not in taken and prof.flag:
        canon, one, zero = level
        p.columns[canon] = name
        p.codes[canon] = {"1": one, "0": zero}
        p.counts[canon] = prof.values
        p.found.add(canon)
        return True
    within = outcome_within(name)
    if within and (prof.flag or prof.mostly_flag()):
        measure, label, period = within
        note, stem = "", measure.rsplit("_", 1)[0]
        if stem not in CONTRACT:
            note = TODO_STEM.format(stem=stem)
            p.todo.append(f"measures: {measure}: {note}")
        p.measures.append(
            (Measure(measure, label, "outcome", "flag", period=period, timing="follow-up", column=name), note)
        )
        p.found.add(measure)
        _flag_codes(p, measure, prof, "yes/no")
        return True
    if is_death(name) and (prof.flag or prof.mostly_flag()):
        p.measures.append(
            (
                Measure("death", "Death from any cause", "outcome", "flag", timing="follow-up", column=name),
                TODO_PERIOD,
            )
        )
        p.todo.append(f"measures: death: {TODO_PERIOD}")
        p.found.add("death")
        _flag_codes(p, "death", prof)
        return True
    if is_education(name) and 2 <= prof.distinct <= 12:
        levels = sorted(
            prof.values,
            key=lambda v: (not v.lstrip("-").isdigit(), int(v) if v.lstrip("-").isdigit() else 0, v),
        )
        entry = {
            "name": "education",
            "column": name,
            "label": "Education level",
            "order": levels,
            "reference": levels[-1],
            "ordered": True,
            "disadvantaged": "first",
        }
        p.dimensions.append((entry, TODO_EDUCATION))
        p.todo.append(f"equity.dimensions: education: {TODO_EDUCATION}")
        p.found.add("education")
        return True
    if is_race(name) and 2 <= prof.distinct <= 12:
        mapping, unknown = guess_codes("ethnicity", list(prof.values))
        if not unknown and "ethnicity" not in taken:
            p.columns["ethnicity"] = name
            p.found.add("ethnicity")
            if mapping:
                p.codes["ethnicity"], p.counts["ethnicity"] = dict(mapping), prof.values
            return True
        levels = sorted(prof.values)
        entry = {
            "name": "race",
            "column": name,
            "label": "Race",
            "order": levels,
            "reference": max(prof.values, key=prof.values.__getitem__),
        }
        p.dimensions.append((entry, TODO_RACE))
        p.todo.append(f"equity.dimensions: race: {TODO_RACE}")
        p.found.add("race")
        return True
    if is_glucose(name) and prof.median is not None:
        _units(p, "glucose", name, prof)
        column = "glucose" if "glucose" in p.derive else name  # the derived column, in mmol/L
        glucose = Measure(
            "glucose", "Blood glucose", "risk factor", "number", unit="mmol/L", period="latest recorded"
        )
        p.measures.append((replace(glucose, minimum=1, maximum=50, column=column), ""))
        p.found.add("glucose")
        return True
    return False


def _matched(p: Proposal, canon: str, source: str, prof: _Profile, sure: bool) -> None:
    col = CONTRACT[canon]
    if canon == "smoking" and prof.flag:
        note = "" if "current" in source.lower() else TODO_SMOKER
        p.measures.append(
            (
                Measure(
                    "current_smoker",
                    "Current smoker",
                    "risk factor",
                    "flag",
                    period="latest recorded",
                    column=source,
                ),
                note,
            )
        )
        p.found.add("current_smoker")
        if note:
            p.todo.append(f"measures: current_smoker: {note}")
        return
    if not sure and col.kind == "category" and not guess_codes(canon, list(prof.values))[0]:
        return  # a similar name, but none of its values is a code of that column
    if not sure and col.kind in ("integer", "float") and prof.median is None:
        return  # a similar name, but not numbers
    p.found.add(canon)
    p.columns[canon] = source
    if not sure:
        p.notes[canon] = TODO_FUZZY.format(source=source, name=canon)
        p.todo.append(f"data.columns.{canon}: {p.notes[canon]}")
    if col.kind == "boolean":
        _flag_codes(p, canon, prof)
    elif col.kind == "category":
        _category_codes(p, canon, prof)
    elif canon in MG_PER_DL:
        _units(p, canon, source, prof)


def _cases(lf: pl.LazyFrame, p: Proposal) -> dict[str, int]:
    """People with each outcome (a flag true, a count above 0), after the proposed codes."""
    profile = {m.name: m for m in read_profile().measures}
    new = {m.name: m for m, _ in p.measures}
    exprs = []
    for name in sorted(p.found):
        m = new.get(name) or profile.get(name)
        if m is None or m.kind != "outcome":
            continue
        text = _nonempty(new[name].column if name in new else p.columns.get(name, name))
        true = _TRUE | {k for k, v in p.codes.get(name, {}).items() if v is True}
        hit = (
            text.cast(pl.Float64, strict=False) > 0
            if m.type == "count"
            else text.str.to_lowercase().is_in(list(true))
        )
        exprs.append(hit.sum().alias(name))
    return lf.select(exprs).collect().row(0, named=True) if exprs else {}


def propose(lf: pl.LazyFrame) -> Proposal:
    """Guess how the dataset in ``lf`` maps onto healthgap (see the module docstring)."""
    names = lf.collect_schema().names()
    profiles = _profiles(lf, names)
    p = Proposal()
    exact = guess_columns(names, fuzzy=False)
    taken = dict(exact)
    rest = [n for n in names if not _special(p, n, profiles[n], taken)]
    guessed = guess_columns(rest)
    sure = guess_columns(rest, fuzzy=False)
    for canon, source in guessed.items():
        if canon in p.found:
            continue
        _matched(p, canon, source, profiles[source], sure.get(canon) == source)
    used = {*p.columns.values(), *(m.column for m, _ in p.measures), *(d["column"] for d, _ in p.dimensions)}
    used |= {expr.split(" ")[0].strip('"') for expr, _ in p.derive.values()}
    p.unused = [n for n in names if n not in used]
    p.missing = [c for c in REQUIRED if c not in p.found]
    p.todo += [f"data.columns.{c}: {NO_COLUMN.format(name=c)}" for c in p.missing]
    cases = _cases(lf, p)
    best = max(cases, key=lambda k: (cases[k], k), default=None)
    if best is not None and cases[best] >= MIN_CASES:
        p.target = best
        p.target_note = TARGET.format(name=best, cases=cases[best])
    else:
        found = ", ".join(f"{k} has {v:,}" for k, v in sorted(cases.items()))
        p.target_note = NO_TARGET.format(min=MIN_CASES, found=f" ({found})" if found else "")
    return p
