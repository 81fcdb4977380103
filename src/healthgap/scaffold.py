"""``healthgap init``: guess how a new dataset maps onto the contract.

Reads the column names and the values of a new person table, matches names
to canonical columns (exact, known synonyms, then fuzzy), guesses code
mappings (``M``/``F``, NHS ethnic category letters, smoking wording) and
writes a commented starter config for the analyst to complete.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from healthgap.contract import CONDITIONS, CONTRACT, OUTCOMES, TRUTH_PREFIX
from healthgap.data import BOOLEAN_TOKENS
from healthgap.errors import DataError

__all__ = ["guess_columns", "guess_codes", "write_starter_config", "StarterConfig", "NHS_ETHNIC_CATEGORY"]

NOT_FOUND = "Dataset not found: {path}. Fix: give the path of a .csv or .parquet file."
UNKNOWN_FORMAT = "Cannot tell the format of {path} from its extension. Fix: use a .csv or .parquet file."
UNREADABLE = "Cannot read {path}: {detail}"

#: Other names a canonical column often goes by (compared lower-case, without punctuation).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "person_id": (
        "patientid",
        "personid",
        "pseudoid",
        "pseudonhsnumber",
        "nhsnumber",
        "id",
        "patient",
        "pid",
    ),
    "age": ("ageyears", "ageinyears", "ageatstart", "patientage", "ageyrs"),
    "sex": ("gender", "sexcode", "gendercode", "personstatedgendercode"),
    "ethnicity": ("ethniccategory", "ethnicgroup", "ethnic", "ethnicitycode", "ethniccategorycode"),
    "imd_decile": ("imddecile", "deprivationdecile", "imd2019decile", "imddec"),
    "imd_quintile": ("imdquintile", "deprivationquintile", "imd2019quintile", "imdquin"),
    "lsoa": ("lsoacode", "lsoa11", "lsoa21", "lsoa2011", "lsoa2021", "lsoa11cd", "lsoa21cd"),
    "locality": ("place", "area", "localityname", "neighbourhood"),
    "gp_practice": ("practicecode", "practice", "gpcode", "gppracticecode", "registeredpractice", "odscode"),
    "hypertension": ("htn", "hyp", "hypertensive"),
    "chd": ("coronaryheartdisease", "ihd", "ischaemicheartdisease"),
    "af": ("atrialfibrillation", "afib"),
    "heart_failure": ("hf", "heartfailure", "chf"),
    "stroke_tia": ("stroke", "stroketia", "cva"),
    "pad": ("peripheralarterialdisease", "peripheralvasculardisease", "pvd"),
    "diabetes": ("dm", "diabetesmellitus", "diabetic"),
    "ckd": ("chronickidneydisease", "ckd35"),
    "smoking": ("smokingstatus", "smoker", "smokes"),
    "bmi": ("bodymassindex",),
    "systolic_bp": ("sbp", "systolic", "systolicbloodpressure", "bpsystolic"),
    "cholesterol": ("chol", "totalcholesterol", "tc"),
    "statin": ("onstatin", "statins", "statinprescribed"),
    "antihypertensive": ("onantihypertensive", "antihypertensives", "bpmeds"),
    "anticoagulant": ("onanticoagulant", "anticoagulants", "doac", "oac"),
    "cardiology_referral": ("cardiologyreferral", "referredcardiology", "referral"),
    "days_to_first_outpatient": ("daystofirstoutpatient", "waitdays", "daystoopa", "waitingdays"),
    "missed_appointments": ("dna", "dnas", "missedappointments", "didnotattend"),
    "cvd_admissions": ("emergencycvdadmissions", "cvdadmissions", "admissions", "cvdemergencyadmissions"),
    "cvd_death": ("cvddeath", "cvddied", "diedcvd", "cvdmortality"),
}

#: NHS Data Dictionary ethnic category codes (2001 census basis) -> ONS 2021 broad group.
#: Chinese (R) belongs to the Asian group in the 2021 classification.
NHS_ETHNIC_CATEGORY: dict[str, str] = {
    "A": "White",
    "B": "White",
    "C": "White",
    "D": "Mixed",
    "E": "Mixed",
    "F": "Mixed",
    "G": "Mixed",
    "H": "Asian",
    "J": "Asian",
    "K": "Asian",
    "L": "Asian",
    "R": "Asian",
    "M": "Black",
    "N": "Black",
    "P": "Black",
    "S": "Other",
    "Z": "Not stated",
    "99": "Not stated",
}
_ETHNIC_WORDS = (  # checked in order; the first match wins
    (("not stated", "not known", "unknown", "refused", "declined", "not recorded"), "Not stated"),
    (("mixed", "white and", "multiple"), "Mixed"),
    (("asian", "indian", "pakistani", "bangladeshi", "chinese"), "Asian"),
    (("black", "caribbean", "african"), "Black"),
    (("white", "british", "irish", "gypsy", "traveller", "roma"), "White"),
    (("other", "arab", "any other"), "Other"),
)
_SEX_CODES = {
    "m": "male",
    "male": "male",
    "man": "male",
    "1": "male",
    "f": "female",
    "female": "female",
    "woman": "female",
    "2": "female",
    "u": None,
    "unknown": None,
    "i": None,
    "x": None,
    "9": None,
    "0": None,
    "not known": None,
}
_SMOKING_WORDS = (
    (("never", "non", "no"), "never"),
    (("ex", "former", "stopped", "quit"), "ex"),
    (("current", "smoker", "yes", "y"), "current"),
)


#: Words around a name that say nothing about which column it is (``HTN_Register``, ``LatestSBP``).
_AFFIXES = (
    "register",
    "reg",
    "flag",
    "indicator",
    "ind",
    "yn",
    "qof",
    "latest",
    "last",
    "recent",
    "recorded",
    "current",
    "value",
    "code",
    "status",
    "on",
    "has",
    "is",
)
_NHS_ETHNIC_NAMES = {
    "A": "British",
    "B": "Irish",
    "C": "Any other White background",
    "D": "White and Black Caribbean",
    "E": "White and Black African",
    "F": "White and Asian",
    "G": "Any other mixed background",
    "H": "Indian",
    "J": "Pakistani",
    "K": "Bangladeshi",
    "L": "Any other Asian background",
    "M": "Caribbean",
    "N": "African",
    "P": "Any other Black background",
    "R": "Chinese",
    "S": "Any other ethnic group",
    "Z": "Not stated",
    "99": "Not known",
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _variants(name: str) -> list[str]:
    """The normalised name, then the same with uninformative prefixes/suffixes removed."""
    n = _norm(name)
    out = [n]
    for affix in _AFFIXES:
        for cut in (n.removeprefix(affix), n.removesuffix(affix)):
            if cut != n and len(cut) >= 2:
                out.append(cut)
    return out


def guess_columns(names: list[str]) -> dict[str, str]:
    """Map canonical names to the source columns they most likely are.

    Exact (normalised) names and known synonyms win; otherwise a close fuzzy
    match (difflib ratio >= 0.85) is taken. Each column is used once.

    References
    ----------
    .. [1] Ratcliff, J. W. and Metzener, D. E. (1988), Pattern matching: the Gestalt approach,
       Dr. Dobb's Journal (the algorithm behind :mod:`difflib`).
    """
    wanted = {c: {_norm(c), *SYNONYMS.get(c, ())} for c in CONTRACT}
    found: dict[str, str] = {}
    used: set[str] = set()
    for exact in (True, False):
        for canon, keys in wanted.items():
            if canon in found:
                continue
            for name in names:
                if name in used:
                    continue
                forms = _variants(name) if exact else [_norm(name)]
                if (exact and any(f in keys for f in forms)) or (
                    not exact and difflib.get_close_matches(forms[0], keys, n=1, cutoff=0.85)
                ):
                    found[canon] = name
                    used.add(name)
                    break
    return found


def _word_match(value: str, table: tuple) -> str | None:
    v = value.lower().strip()
    for words, target in table:
        if any(v == w or v.startswith((w + " ", w + "-")) or (len(w) > 3 and w in v) for w in words):
            return target
    return None


def guess_codes(canon: str, values: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Guess ``{source code: canonical code}`` for one column; also return codes left unguessed.

    Values already canonical (any letter case) need no entry and are skipped.

    References
    ----------
    .. [1] NHS Digital, NHS Data Model and Dictionary: Ethnic Category (codes A-Z).
    .. [2] Office for National Statistics (2021), Ethnic group classifications.
    """
    col = CONTRACT[canon]
    mapping: dict[str, str | None] = {}
    unknown: list[str] = []
    if col.kind == "boolean":
        return {}, [v for v in values if v.lower().strip() not in BOOLEAN_TOKENS]
    lower = {c.lower(): c for c in col.codes}
    for value in values:
        key = value.strip()
        if key.lower() in lower:
            continue
        if canon == "sex":
            guess = _SEX_CODES.get(key.lower(), "?")
        elif canon == "ethnicity":
            guess = NHS_ETHNIC_CATEGORY.get(key.upper()) or _word_match(key, _ETHNIC_WORDS) or "?"
        elif canon == "smoking":
            guess = _word_match(key, _SMOKING_WORDS) or "?"
        else:
            guess = "?"
        if guess == "?":
            unknown.append(value)
        else:
            mapping[value] = guess
    return mapping, unknown


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
                f"{_NHS_ETHNIC_NAMES[src.upper()]}, "
                if c == "ethnicity" and src.upper() in _NHS_ETHNIC_NAMES
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
