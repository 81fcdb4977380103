"""The dataset contract: the core columns of the person table, defined once.

The person table has one row per person. Only ``person_id`` and ``age`` are required;
the other core columns (sex, ethnicity, deprivation, geography) are optional. Every other
column is a *measure* declared in a profile (the cardiovascular one,
``healthgap/profiles/cvd.yml``, by default) or in the config (see :mod:`healthgap.config`).

:data:`CONTRACT` is the core plus the cardiovascular profile's measures and their
true-status columns, read from the packaged profile: the columns today's analyses and the
data dictionary know. A config's own set of columns is :attr:`healthgap.config.Config.contract`.
Column names, types and codes are canonical: a user's dataset is mapped onto them by the
config file (renames, code mappings, derived columns).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl
import yaml

__all__ = [
    "Column",
    "CORE",
    "CONTRACT",
    "COLUMNS",
    "REQUIRED",
    "MEASURE_KINDS",
    "MEASURE_TYPES",
    "TYPE_KINDS",
    "PROFILES",
    "SEX_CODES",
    "ETHNICITY_CODES",
    "SMOKING_CODES",
    "CONDITIONS",
    "CONDITION_LABELS",
    "RISK_FACTORS",
    "TREATMENTS",
    "ACCESS",
    "OUTCOMES",
    "GEOGRAPHY",
    "PROTECTED",
    "TRUTH_PREFIX",
    "truth_column",
    "truth_of",
    "column",
    "data_dictionary",
]

Kind = Literal["id", "integer", "float", "boolean", "category", "text"]
Group = Literal[
    "identity",
    "demographic",
    "deprivation",
    "geography",
    "equity",
    "condition",
    "risk factor",
    "treatment",
    "access",
    "experience",
    "outcome",
    "truth",
]

SEX_CODES: tuple[str, ...] = ("female", "male")
ETHNICITY_CODES: tuple[str, ...] = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")

#: Prefix of the optional columns holding the *true* (not necessarily
#: recorded) status of a flag measure. Only synthetic data, or a linked research
#: dataset, carries them; they unlock the under-diagnosis analyses.
TRUTH_PREFIX = "true_"

#: What a measure can be (the part of the book it belongs to).
MEASURE_KINDS: tuple[str, ...] = ("condition", "treatment", "risk factor", "access", "experience", "outcome")
#: How a measure is stored, and the logical column type each becomes.
TYPE_KINDS: dict[str, Kind] = {
    "flag": "boolean",
    "count": "integer",
    "number": "float",
    "days": "integer",
    "category": "category",
}
MEASURE_TYPES: tuple[str, ...] = tuple(TYPE_KINDS)
#: The folder of the packaged profiles (``cvd.yml``).
PROFILES = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class Column:
    """One column of the person table.

    Attributes
    ----------
    name : canonical column name.
    kind : logical type; ``category`` columns take only ``codes``.
    group : the part of the book the column belongs to.
    label : short human label used in charts and tables.
    description : one sentence for the data dictionary.
    required : whether every dataset must have it.
    codes : allowed values for ``category`` columns.
    minimum, maximum : inclusive valid range for numeric columns.
    unit : unit of measurement, if any.
    """

    name: str
    kind: Kind
    group: Group
    label: str
    description: str
    required: bool = False
    codes: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    dtype: pl.DataType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        dtype = {
            "id": pl.String(),
            "integer": pl.Int64(),
            "float": pl.Float64(),
            "boolean": pl.Boolean(),
            "category": pl.String(),
            "text": pl.String(),
        }[self.kind]
        object.__setattr__(self, "dtype", dtype)


def _in_sentence(label: str) -> str:
    """A label inside a sentence: first word lower-cased unless it is an acronym ("Stroke or TIA"
    -> "stroke or TIA", "CKD" stays)."""
    first, _, rest = label.partition(" ")
    first = first if first.isupper() and len(first) > 1 else first[:1].lower() + first[1:]
    return f"{first} {rest}" if rest else first


def truth_of(measure: Column) -> Column:
    """The true-status column of a flag measure (``true_<name>``).

    Parameters
    ----------
    measure : a true/false measure column.
    """
    return Column(
        f"{TRUTH_PREFIX}{measure.name}",
        "boolean",
        "truth",
        f"{measure.label} (true status)",
        f"Whether the person truly has {_in_sentence(measure.label)}, recorded or not. "
        "Only synthetic or linked research data has it; it measures under-diagnosis.",
    )


_CORE: list[Column] = [
    Column(
        "person_id",
        "id",
        "identity",
        "Person identifier",
        "Pseudonymised identifier, unique per row. Never published.",
        required=True,
    ),
    Column(
        "age",
        "integer",
        "demographic",
        "Age",
        "Age in whole years at the start of the year.",
        required=True,
        minimum=0,
        maximum=120,
        unit="years",
    ),
    Column("sex", "category", "demographic", "Sex", "Sex as recorded by the GP practice.", codes=SEX_CODES),
    Column(
        "ethnicity",
        "category",
        "demographic",
        "Ethnic group",
        "ONS 2021 broad ethnic group; 'Not stated' where unknown or not recorded.",
        codes=ETHNICITY_CODES,
    ),
    Column(
        "imd_decile",
        "integer",
        "deprivation",
        "IMD decile",
        "Index of Multiple Deprivation 2019 decile of the person's area "
        "(1 = most deprived, 10 = least deprived).",
        minimum=1,
        maximum=10,
    ),
    Column(
        "imd_quintile",
        "integer",
        "deprivation",
        "IMD quintile",
        "IMD quintile (1 = most deprived, 5 = least deprived); derived from imd_decile when absent.",
        minimum=1,
        maximum=5,
    ),
    Column("lsoa", "text", "geography", "Small area (LSOA)", "Lower-layer super output area code."),
    Column("locality", "text", "geography", "Locality", "Locality or place within the catchment."),
    Column("gp_practice", "text", "geography", "GP practice", "Code of the registered GP practice."),
]
#: The core columns, keyed by name: identity, demographics, deprivation and geography.
CORE: dict[str, Column] = {c.name: c for c in _CORE}
#: The columns every dataset must have.
REQUIRED: tuple[str, ...] = tuple(c.name for c in _CORE if c.required)


def _profile_columns(path: Path) -> list[Column]:
    """The measures of a packaged profile as columns (read loosely: the config parser checks them)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for m in raw.get("measures", []):
        out.append(
            Column(
                m["name"],
                TYPE_KINDS[m["type"]],
                m["kind"],
                m["label"],
                m.get("description", ""),
                codes=tuple(str(c) for c in m.get("codes", ())),
                minimum=m.get("minimum"),
                maximum=m.get("maximum"),
                unit=m.get("unit"),
            )
        )
    return out


_MEASURES = _profile_columns(PROFILES / "cvd.yml")


def _of(group: str) -> tuple[str, ...]:
    return tuple(c.name for c in _MEASURES if c.group == group)


CONDITIONS: tuple[str, ...] = _of("condition")
CONDITION_LABELS: dict[str, str] = {c.name: c.label for c in _MEASURES if c.group == "condition"}
RISK_FACTORS: tuple[str, ...] = _of("risk factor")
TREATMENTS: tuple[str, ...] = _of("treatment")
ACCESS: tuple[str, ...] = _of("access")
OUTCOMES: tuple[str, ...] = _of("outcome")
SMOKING_CODES: tuple[str, ...] = next(c.codes for c in _MEASURES if c.name == "smoking")
GEOGRAPHY: tuple[str, ...] = ("lsoa", "locality", "gp_practice")
#: Protected characteristics and equity dimensions; excluded from model features by default.
PROTECTED: tuple[str, ...] = ("sex", "ethnicity", "imd_decile", "imd_quintile")

_COLUMNS: list[Column] = [
    *_CORE,
    *_MEASURES,
    *(truth_of(c) for c in _MEASURES if c.group == "condition"),
]
#: The core and the cardiovascular profile's columns, keyed by canonical name (in dictionary order).
CONTRACT: dict[str, Column] = {c.name: c for c in _COLUMNS}
COLUMNS: tuple[str, ...] = tuple(CONTRACT)


def truth_column(condition: str) -> str:
    """Return the name of the true-status column for ``condition``."""
    if condition not in CONDITION_LABELS:
        raise ValueError(f"Unknown condition {condition!r}; expected one of {', '.join(CONDITIONS)}.")
    return f"{TRUTH_PREFIX}{condition}"


def column(name: str) -> Column:
    """Return the contract entry for ``name`` with a helpful error if unknown."""
    try:
        return CONTRACT[name]
    except KeyError:
        close = difflib.get_close_matches(name, COLUMNS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"{name!r} is not a column of the healthgap contract.{hint}") from None


def data_dictionary(columns: Iterable[Column] | None = None) -> pl.DataFrame:
    """The columns as a table, for the book's data dictionary appendix.

    Parameters
    ----------
    columns : the columns to list; default :data:`CONTRACT` (the core and the cardiovascular
        profile). A config's own set is ``config.contract.values()``.
    """
    chosen = list(_COLUMNS if columns is None else columns)

    def _valid(c: Column) -> str:
        if c.codes:
            return ", ".join(c.codes)
        if c.kind == "boolean":
            return "true, false"
        if c.minimum is not None and c.maximum is not None:
            lo, hi = (int(v) if float(v).is_integer() else v for v in (c.minimum, c.maximum))
            return f"{lo} to {hi}" + (f" {c.unit}" if c.unit else "")
        return "text"

    return pl.DataFrame(
        {
            "column": [c.name for c in chosen],
            "label": [c.label for c in chosen],
            "group": [c.group for c in chosen],
            "type": [c.kind for c in chosen],
            "required": ["yes" if c.required else "no" for c in chosen],
            "valid values": [_valid(c) for c in chosen],
            "description": [c.description for c in chosen],
        },
        schema={
            k: pl.String
            for k in ("column", "label", "group", "type", "required", "valid values", "description")
        },
    )
