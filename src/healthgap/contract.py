"""The dataset contract: one person-level analysis table, defined once.

Every other module refers to columns through this module. The same
definition renders the data dictionary in the book (:func:`data_dictionary`)
and drives validation in :mod:`healthgap.data`.

The table has one row per registered person and covers one year of
follow-up. Column names, types and codes are canonical: a user's dataset is
mapped onto them by the config file (renames and code mappings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

__all__ = [
    "Column",
    "CONTRACT",
    "COLUMNS",
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
    "column",
    "data_dictionary",
]

Kind = Literal["id", "integer", "float", "boolean", "category", "text"]
Group = Literal[
    "identity",
    "demographic",
    "deprivation",
    "geography",
    "condition",
    "risk factor",
    "treatment",
    "access",
    "outcome",
    "truth",
]

SEX_CODES: tuple[str, ...] = ("female", "male")
ETHNICITY_CODES: tuple[str, ...] = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
SMOKING_CODES: tuple[str, ...] = ("never", "ex", "current")

#: Prefix of the optional columns holding the *true* (not necessarily
#: recorded) condition status. Only synthetic data, or a linked research
#: dataset, carries them; they unlock the under-diagnosis analyses.
TRUTH_PREFIX = "true_"


@dataclass(frozen=True)
class Column:
    """One column of the contract.

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


CONDITION_LABELS: dict[str, str] = {
    "hypertension": "Hypertension",
    "chd": "Coronary heart disease",
    "af": "Atrial fibrillation",
    "heart_failure": "Heart failure",
    "stroke_tia": "Stroke or TIA",
    "pad": "Peripheral arterial disease",
    "diabetes": "Diabetes",
    "ckd": "Chronic kidney disease (stages 3-5)",
}
CONDITIONS: tuple[str, ...] = tuple(CONDITION_LABELS)


def _conditions() -> list[Column]:
    return [
        Column(
            name,
            "boolean",
            "condition",
            label,
            f"{label} recorded on the GP register (QOF) at any time up to the start of the year.",
        )
        for name, label in CONDITION_LABELS.items()
    ]


def _in_sentence(label: str) -> str:
    """A label inside a sentence: first word lower-cased unless it is an acronym ("Stroke or TIA"
    -> "stroke or TIA", "CKD" stays)."""
    first, _, rest = label.partition(" ")
    first = first if first.isupper() and len(first) > 1 else first[:1].lower() + first[1:]
    return f"{first} {rest}" if rest else first


def _truth() -> list[Column]:
    return [
        Column(
            f"{TRUTH_PREFIX}{name}",
            "boolean",
            "truth",
            f"{label} (true status)",
            f"Whether the person truly has {_in_sentence(label)}, recorded or not. "
            "Only synthetic or linked research data has it; it measures under-diagnosis.",
        )
        for name, label in CONDITION_LABELS.items()
    ]


_COLUMNS: list[Column] = [
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
    Column(
        "sex",
        "category",
        "demographic",
        "Sex",
        "Sex as recorded by the GP practice.",
        required=True,
        codes=SEX_CODES,
    ),
    Column(
        "ethnicity",
        "category",
        "demographic",
        "Ethnic group",
        "ONS 2021 broad ethnic group; 'Not stated' where unknown or not recorded.",
        required=True,
        codes=ETHNICITY_CODES,
    ),
    Column(
        "imd_decile",
        "integer",
        "deprivation",
        "IMD decile",
        "Index of Multiple Deprivation 2019 decile of the person's area "
        "(1 = most deprived, 10 = least deprived). Required unless imd_quintile is given.",
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
    *_conditions(),
    Column(
        "smoking",
        "category",
        "risk factor",
        "Smoking status",
        "Latest recorded smoking status.",
        codes=SMOKING_CODES,
    ),
    Column(
        "bmi", "float", "risk factor", "BMI", "Latest body mass index.", minimum=10, maximum=90, unit="kg/m²"
    ),
    Column(
        "systolic_bp",
        "float",
        "risk factor",
        "Systolic blood pressure",
        "Latest systolic blood pressure.",
        minimum=60,
        maximum=260,
        unit="mmHg",
    ),
    Column(
        "cholesterol",
        "float",
        "risk factor",
        "Total cholesterol",
        "Latest total cholesterol.",
        minimum=1,
        maximum=20,
        unit="mmol/L",
    ),
    Column("statin", "boolean", "treatment", "Statin", "Prescribed a statin during the year."),
    Column(
        "antihypertensive",
        "boolean",
        "treatment",
        "Antihypertensive",
        "Prescribed an antihypertensive during the year.",
    ),
    Column(
        "anticoagulant",
        "boolean",
        "treatment",
        "Anticoagulant",
        "Prescribed an oral anticoagulant during the year.",
    ),
    Column(
        "cardiology_referral",
        "boolean",
        "access",
        "Cardiology referral",
        "Referred to cardiology outpatients during the year.",
    ),
    Column(
        "days_to_first_outpatient",
        "integer",
        "access",
        "Days to first outpatient appointment",
        "Days from cardiology referral to first outpatient appointment; empty if not referred "
        "or not yet seen.",
        minimum=0,
        maximum=730,
        unit="days",
    ),
    Column(
        "missed_appointments",
        "integer",
        "access",
        "Missed appointments",
        "Number of cardiology outpatient appointments missed (did not attend) during the year.",
        minimum=0,
        maximum=100,
    ),
    Column(
        "cvd_admissions",
        "integer",
        "outcome",
        "CVD emergency admissions",
        "Number of emergency hospital admissions for cardiovascular disease during the year.",
        minimum=0,
        maximum=100,
    ),
    Column(
        "cvd_death",
        "boolean",
        "outcome",
        "CVD death",
        "Died with cardiovascular disease as the underlying cause during the year.",
    ),
    *_truth(),
]

#: The contract, keyed by canonical column name (in dictionary order).
CONTRACT: dict[str, Column] = {c.name: c for c in _COLUMNS}
COLUMNS: tuple[str, ...] = tuple(CONTRACT)

RISK_FACTORS: tuple[str, ...] = ("smoking", "bmi", "systolic_bp", "cholesterol")
TREATMENTS: tuple[str, ...] = ("statin", "antihypertensive", "anticoagulant")
ACCESS: tuple[str, ...] = ("cardiology_referral", "days_to_first_outpatient", "missed_appointments")
OUTCOMES: tuple[str, ...] = ("cvd_admissions", "cvd_death")
GEOGRAPHY: tuple[str, ...] = ("lsoa", "locality", "gp_practice")
#: Protected characteristics and equity dimensions; excluded from model features by default.
PROTECTED: tuple[str, ...] = ("sex", "ethnicity", "imd_decile", "imd_quintile")


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
        import difflib

        close = difflib.get_close_matches(name, COLUMNS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"{name!r} is not a column of the healthgap contract.{hint}") from None


def data_dictionary() -> pl.DataFrame:
    """The contract as a table, for the book's data dictionary appendix."""

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
            "column": [c.name for c in _COLUMNS],
            "label": [c.label for c in _COLUMNS],
            "group": [c.group for c in _COLUMNS],
            "type": [c.kind for c in _COLUMNS],
            "required": [
                "yes" if c.required else ("yes, or imd_quintile" if c.name == "imd_decile" else "no")
                for c in _COLUMNS
            ],
            "valid values": [_valid(c) for c in _COLUMNS],
            "description": [c.description for c in _COLUMNS],
        }
    )
