"""Disclosure rules shared by protect() and assert_publishable(): constants, messages, small helpers."""

from __future__ import annotations

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.errors import DisclosureError

REASON_SECONDARY = "secondary suppression: protects a suppressed cell in the same group"
REASON_DERIVED = "derived from a suppressed count"
REASON_INPUT = "suppressed in the input"
REASON_REFERENCE = "compared with a suppressed reference group"
OFF_PREFIX = "disclosure control off"
TOTAL_MARKERS: tuple[str, ...] = ("total", "all", "overall", "all people", "all persons")
PERSON_ID_COLUMNS: tuple[str, ...] = ("person_id", "patient_id", "nhs_number", "pseudo_id")
_COUNT_NAMES = frozenset(
    {"count", "counts", "n", "events", "numerator", "denominator", "population", "size", "observed"}
)
_COUNT_PREFIXES = ("n_", "count_", "number_", "num_")
_COUNT_SUFFIXES = ("_count", "_n", "_events", "_numerator", "_denominator", "_population", "_size")
_METADATA = frozenset({"statistic", "method", "note", "confidence", "suppression_reason", "unit"})
#: Person-level contract columns that an aggregated table would not carry under these names.
_PERSON_LEVEL = frozenset(
    {
        "age",
        "bmi",
        "systolic_bp",
        "cholesterol",
        "smoking",
        "statin",
        "antihypertensive",
        "anticoagulant",
        "cardiology_referral",
        "days_to_first_outpatient",
        "missed_appointments",
        "cvd_admissions",
        "cvd_death",
        "hypertension",
        "chd",
        "af",
        "heart_failure",
        "stroke_tia",
        "pad",
        "diabetes",
        "ckd",
    }
)

ERR_SETTINGS_REASON = (
    "Disclosure control is switched off (disclosure.enabled: false) but no reason is given. "
    "Add disclosure.reason to the config, e.g. 'internal quality assurance, not for publication'."
)
ERR_SETTINGS_VALUE = "disclosure.{key} must be a whole number >= 1; got {value!r}. Fix it in the config."
ERR_MISSING = "protect(): column(s) {missing} named in `{arg}` are not in the table (columns: {present})."
ERR_NOT_FRAME = (
    "protect(): expected a polars DataFrame or LazyFrame; got {kind}. Convert it, e.g. pl.from_pandas(df)."
)
ERR_NO_COUNTS = "protect(): give at least one count column in `counts`, e.g. counts=['events']."
ERR_NOT_NUMERIC = "protect(): count column {col!r} has type {dtype}; counts must be numeric. Cast it first."
ERR_NEGATIVE = "protect(): count column {col!r} has negative values {values}; counts must be >= 0."
ERR_DERIVED_KEY = "protect(): `derived` key(s) {keys} are not count columns; add them to `counts` ({counts})."
ERR_REFERENCE = (
    "protect(): `reference` column {col!r} must be boolean (True on each group's reference row); "
    "got {dtype}. Pass e.g. reference='is_reference' or build it with pl.col('level') == '5'."
)
ERR_TOTALS = "protect(): totals must be 'auto' or 'none'; got {value!r}."
ERR_OVERLAP = "protect(): column(s) {cols} are used both as counts/derived and in `by`/`across`."
ERR_SMALL_COUNT = (
    "Not publishable: count column {col!r}{where} has value(s) {values} between 1 and {top}. "
    "Pass the table through healthgap.disclosure.protect(..., counts=[{col!r}]) first."
)
ERR_PERSON_ID = (
    "Not publishable: {where} contains a person identifier column/field {col!r}. "
    "Publish aggregated data only: group the people and count them, then protect() the counts."
)
ERR_PERSON_LEVEL = (
    "Not publishable: {where} looks like one row per person (person-level columns {cols} and no "
    "count column). Aggregate it with group_by(...).agg(pl.len()) and protect() the counts."
)
ERR_SPEC_URL = (
    "Not publishable: chart spec loads data from a URL ({url}); charts must embed their "
    "aggregated, protected data inline so it can be checked. Build the chart from a DataFrame."
)
ERR_OBJECT = (
    "assert_publishable(): cannot check an object of type {kind}; pass a polars DataFrame, a CSV/JSON "
    "path, a chart spec dict or JSON text."
)
ERR_PATH = "assert_publishable(): {path} does not exist or is not a .csv, .json or .parquet file."


def primary_reason(settings: DisclosureSettings) -> str:
    """The reason text for primary suppression, e.g. ``"count of 1-7"``."""
    return f"count of 1-{settings.suppress_below - 1}"


def _check_settings(settings: DisclosureSettings | None) -> DisclosureSettings:
    settings = settings if settings is not None else DisclosureSettings()
    for key in ("suppress_below", "rounding"):
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DisclosureError(ERR_SETTINGS_VALUE.format(key=key, value=value))
    if not settings.enabled and not (settings.reason or "").strip():
        raise DisclosureError(ERR_SETTINGS_REASON)
    return settings


def round_to_base(x: str | pl.Expr, base: int = 5) -> pl.Expr:
    """Round to the nearest multiple of ``base``; halves round up (away from zero for counts).

    Integer input stays integer. ``base=1`` leaves whole counts unchanged.

    References
    ----------
    .. [1] ONS, Policy on protecting confidentiality in tables of birth and death
       statistics (2014), rounding to base 5.
    """
    expr = pl.col(x) if isinstance(x, str) else x
    return ((expr.cast(pl.Float64) / base + 0.5).floor() * base).cast(pl.Int64)


def is_count_like(name: str) -> bool:
    """Whether a column/field name looks like a count (count, n, events, denominator, n_people, ...)."""
    low = name.lower()
    return low in _COUNT_NAMES or low.startswith(_COUNT_PREFIXES) or low.endswith(_COUNT_SUFFIXES)


def _is_total(col: str) -> pl.Expr:
    return pl.col(col).is_null() | pl.col(col).cast(pl.String).str.to_lowercase().is_in(list(TOTAL_MARKERS))
