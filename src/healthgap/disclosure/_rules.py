"""Disclosure rules shared by protect() and assert_publishable(): constants, messages, small helpers."""

from __future__ import annotations

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.config._model import ERR_PROTECTS_NOTHING
from healthgap.errors import DisclosureError

#: The one reason of a count withheld to protect confidentiality: a small count (primary
#: suppression) and a count withheld so that a small one cannot be worked out from a total
#: (secondary suppression) read alike, so that nobody can tell which hidden cell is the small one.
REASON_CONFIDENTIAL = "suppressed to protect confidentiality"
#: The reason of a count measured within a group smaller than ``min_group`` (its size is published).
REASON_MIN_GROUP = "fewer than {min_group} people in the group"
REASON_DERIVED = "derived from a suppressed count"
REASON_INPUT = "suppressed in the input"
REASON_REFERENCE = "compared with a suppressed reference group"
OFF_PREFIX = "disclosure control off"
#: Count columns that give a group's size, in the order :func:`publish` looks for them.
SIZE_COLUMNS: tuple[str, ...] = ("population", "n", "people", "denominator", "eligible", "affected", "seen")
#: The column :func:`publish` reads total rows from when it is in the frame (boolean).
TOTAL_COLUMN = "is_total"
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
ERR_TOTALS = (
    "protect(): `totals` must be None or the name of a boolean column that is True on the total rows; "
    "got {value!r}."
)
ERR_TOTALS_GUESSED = (
    "protect(): totals={value!r}: total rows are never guessed from a label, because a real group may be "
    "called 'Total', 'All' or 'Overall' and would then lose its secondary suppression. Mark the total rows "
    "with a boolean column and pass its name, e.g. totals='is_total'; or pass totals=None (every row is a cell)."
)
ERR_TOTALS_DTYPE = (
    "protect(): the `totals` column {col!r} must be boolean (True on the total rows); got {dtype}. "
    "Build it with e.g. pl.col('level').is_null()."
)
ERR_TOTAL_ROW = (
    "protect(): row(s) {rows} are marked in {col!r} as totals but hold a value in every `across` column "
    "{across}; in a cross-tabulation a total row holds null in the column(s) it adds up over."
)
ERR_SIZE = (
    "protect(): `size` column {col!r} is not one of the count columns {counts}; the group size is a count: "
    "add it to `counts`."
)
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
    """Deprecated: the reason protect() wrote for a small count before issue 11 (``"count of 1-7"``).

    protect() now gives primary and secondary suppression one reason,
    :data:`REASON_CONFIDENTIAL`, so that no reader can tell which hidden cell is the small one;
    no published frame carries this text any more, and code comparing a reason with it finds
    no match. Kept only until the last caller (``pages/outcomes.py``) stops using it.
    """
    return f"count of 1-{settings.suppress_below - 1}"


def min_group_reason(settings: DisclosureSettings) -> str:
    """The reason of a count withheld because its group is small: ``"fewer than 50 people in the group"``."""
    return REASON_MIN_GROUP.format(min_group=settings.min_group)


def _check_settings(settings: DisclosureSettings | None) -> DisclosureSettings:
    settings = settings if settings is not None else DisclosureSettings()
    for key in ("suppress_below", "rounding", "min_group"):
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DisclosureError(ERR_SETTINGS_VALUE.format(key=key, value=value))
    if not settings.enabled and not (settings.reason or "").strip():
        raise DisclosureError(ERR_SETTINGS_REASON)
    if settings.enabled and settings.suppress_below == 1 and settings.rounding == 1:
        raise DisclosureError(ERR_PROTECTS_NOTHING)
    return settings


def smallest_shown(settings: DisclosureSettings) -> int:
    """The smallest non-zero count a published table may show under ``settings``.

    ``suppress_below``, unless rounding brings the smallest published count below it: under
    ``suppress_below: 11, rounding: 10`` a count of 11 to 14 is published as 10, a rounded
    value and not a count of 10 (which is suppressed). A published count below this number
    reveals a small count.
    """
    rounded = int((settings.suppress_below / settings.rounding + 0.5) // 1) * settings.rounding
    return min(settings.suppress_below, max(rounded, 1))


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
