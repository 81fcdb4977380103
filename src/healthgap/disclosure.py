"""Statistical disclosure control for everything the book publishes.

API
---
- :func:`protect` -- primary suppression of small counts, rounding, suppression
  of values derived from suppressed counts, and secondary suppression so a
  suppressed cell cannot be recovered from a total.
- :func:`assert_publishable` -- a guard for frames, CSV files and chart specs.
- :func:`disclosure_notice` -- the sentence every page shows when protection is off.
- :func:`round_to_base`, :func:`is_count_like` -- helpers.
- :class:`DisclosureError`; reason constants ``REASON_*``; ``OFF_PREFIX``.

The rules (defaults from :class:`healthgap.config.DisclosureSettings`)
----------------------------------------------------------------------
1. **Primary suppression.** A count of 1 to ``suppress_below - 1`` (1-7) is
   replaced by null, the suppressed marker. Zero is published as 0. A count that
   is already null in the input (for example a frame protected before) is
   treated as suppressed.
2. **Rounding.** Every other count is rounded to the nearest multiple of
   ``rounding`` (5). Halves round up (away from zero): with base 10, 15 -> 20;
   with base 5 and whole counts no halves occur (12 -> 10, 13 -> 15, 8 -> 10).
   Derived values (rates, CIs) are computed from the unrounded counts, as is
   usual for official statistics; only counts are rounded.
3. **Derived values.** Columns listed in ``derived[count]`` become null wherever
   that count is suppressed.
4. **Secondary suppression.** Cells that add up to a total form a *set*: the rows
   of one ``by`` group (1-D tables), or, when ``across`` names several dimension
   columns, each row and each column of the table within a ``by`` group. A set
   with exactly one suppressed cell would let anyone recover it as
   ``total - sum(other cells)``, because totals are published (in the table or
   elsewhere in the book). In such a set the smallest unsuppressed cell is
   suppressed too, preferring non-zero cells, ties broken by row order. Repeated
   until every set has zero or at least two suppressed cells. In a
   cross-tabulation that rule is not enough (a cell joining two blocks of
   suppressed cells can still be solved from the row and column totals), so
   for two or more ``across`` dimensions protect() also solves the system of
   published totals (per ``by`` group; linear algebra on the small matrix of
   suppressed cells) and, while any primary-suppressed cell is still
   determined, suppresses the smallest published cell sharing a row or column
   with it. Attackers are assumed to know every total exactly.
5. **Totals in the table** (``totals="auto"``). A row whose dimension column holds
   a total marker (null, "Total", "All", "Overall", "All people", "All persons",
   any case) is the total of its set, not a member of it; it is itself a cell
   of the sets along the other dimensions (so margins of 2-D tables are
   protected too). With ``totals="none"`` every row is a member.

Each published frame gets ``suppressed`` (bool) and ``suppression_reason`` (str)
columns; with several count columns also ``suppressed_<count>`` and
``suppression_reason_<count>``.

References
----------
.. [1] Office for National Statistics. Policy on protecting confidentiality in
   tables of birth and death statistics (2014): suppression and rounding rules.
.. [2] NHS England. Statistical disclosure control for Hospital Episode
   Statistics: counts of 1-7 suppressed, others rounded to the nearest 5.
.. [3] Hundepool A et al. Statistical Disclosure Control. Wiley, 2012, ch. 5
   (secondary cell suppression).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.errors import HealthgapError

__all__ = [
    "DisclosureError",
    "protect",
    "assert_publishable",
    "disclosure_notice",
    "round_to_base",
    "is_count_like",
    "REASON_SECONDARY",
    "REASON_DERIVED",
    "REASON_INPUT",
    "OFF_PREFIX",
    "TOTAL_MARKERS",
    "PERSON_ID_COLUMNS",
    "primary_reason",
]


class DisclosureError(HealthgapError, ValueError):
    """Something about to be published could identify people, or protect() was misused."""

    exit_code = 5


REASON_SECONDARY = "secondary suppression: protects a suppressed cell in the same group"
REASON_DERIVED = "derived from a suppressed count"
REASON_INPUT = "suppressed in the input"
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
        "age", "bmi", "systolic_bp", "cholesterol", "smoking", "statin", "antihypertensive",
        "anticoagulant", "cardiology_referral", "days_to_first_outpatient", "missed_appointments",
        "cvd_admissions", "cvd_death", "hypertension", "chd", "af", "heart_failure", "stroke_tia",
        "pad", "diabetes", "ckd",
    }
)  # fmt: skip

ERR_SETTINGS_REASON = (
    "Disclosure control is switched off (disclosure.enabled: false) but no reason is given. "
    "Add disclosure.reason to the config, e.g. 'internal quality assurance, not for publication'."
)
ERR_SETTINGS_VALUE = "disclosure.{key} must be a whole number >= 1; got {value!r}. Fix it in the config."
ERR_MISSING = "protect(): column(s) {missing} named in `{arg}` are not in the table (columns: {present})."
ERR_NO_COUNTS = "protect(): give at least one count column in `counts`, e.g. counts=['events']."
ERR_NOT_NUMERIC = "protect(): count column {col!r} has type {dtype}; counts must be numeric. Cast it first."
ERR_NEGATIVE = "protect(): count column {col!r} has negative values {values}; counts must be >= 0."
ERR_DERIVED_KEY = "protect(): `derived` key(s) {keys} are not count columns; add them to `counts` ({counts})."
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


def _validate(
    df: pl.DataFrame, counts: Sequence[str], derived: Mapping[str, Sequence[str]], by: Sequence[str],
    across: Sequence[str], totals: str,
) -> None:  # fmt: skip
    if not counts:
        raise DisclosureError(ERR_NO_COUNTS)
    if totals not in ("auto", "none"):
        raise DisclosureError(ERR_TOTALS.format(value=totals))
    present = ", ".join(df.columns)
    derived_cols = [c for cols in derived.values() for c in cols]
    for arg, cols in (("counts", counts), ("derived", derived_cols), ("by", by), ("across", across)):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DisclosureError(ERR_MISSING.format(missing=missing, arg=arg, present=present))
    bad_keys = [k for k in derived if k not in counts]
    if bad_keys:
        raise DisclosureError(ERR_DERIVED_KEY.format(keys=bad_keys, counts=list(counts)))
    overlap = sorted(set(counts).union(derived_cols) & set(by).union(across))
    if overlap:
        raise DisclosureError(ERR_OVERLAP.format(cols=overlap))
    for c in counts:
        if not df.schema[c].is_numeric():
            raise DisclosureError(ERR_NOT_NUMERIC.format(col=c, dtype=df.schema[c]))
    negatives = df.select([pl.col(c).filter(pl.col(c) < 0).unique().head(5).implode() for c in counts])
    for c in counts:
        values = negatives[c][0].to_list()
        if values:
            raise DisclosureError(ERR_NEGATIVE.format(col=c, values=values))


Family = tuple[list[pl.Expr], pl.Expr, pl.Expr]


def _sets(
    df: pl.DataFrame, *, counts: Sequence[str], derived: Mapping[str, Sequence[str]], by: Sequence[str],
    across: Sequence[str], totals: str,
) -> list[Family]:  # fmt: skip
    """(partition, membership, is-the-set-total) expressions for every family of additive sets."""
    by_exprs = [pl.col(c) for c in by] or [pl.col("__hg_row") * 0]
    if across:
        out = []
        for d in across:
            others = [pl.col(o) for o in across if o != d]
            total = _is_total(d) if totals == "auto" else pl.col("__hg_row").is_null()
            out.append(([*by_exprs, *others], ~total, total))
        return out
    member = pl.col("__hg_row").is_not_null()  # every row (a literal would not broadcast in sum())
    if totals == "auto":
        used = set(counts) | {c for cols in derived.values() for c in cols} | set(by) | _METADATA
        dims = [
            c for c, t in df.schema.items()
            if c not in used and (t == pl.String or isinstance(t, (pl.Categorical, pl.Enum)))
        ]  # fmt: skip
        for d in dims:
            marker = pl.col(d).cast(pl.String).str.to_lowercase().is_in(list(TOTAL_MARKERS)).fill_null(False)
            member = member & ~marker
    return [(by_exprs, member, ~member)]


def _line_rule(df: pl.DataFrame, count: str, flag: str, sets: list[Family]) -> pl.DataFrame:
    """Add secondary suppressions to boolean column ``flag`` until every set has 0 or >= 2."""
    row, c = pl.col("__hg_row"), pl.col(count)
    while True:
        before = int(df[flag].sum())
        for partition, member, _ in sets:
            f = pl.col(flag)
            need = ((f & member).sum().over(partition) == 1) & (member.sum().over(partition) >= 2)
            eligible = member & ~f
            chosen = (
                row.filter(eligible)
                .sort_by([(c == 0).filter(eligible), c.filter(eligible), row.filter(eligible)])
                .first()
                .over(partition)
            )
            df = df.with_columns((f | (need & eligible & (row == chosen)).fill_null(False)).alias(flag))
        if int(df[flag].sum()) == before:
            return df


def _equations(df: pl.DataFrame, sets: list[Family], by: Sequence[str]) -> pl.DataFrame:
    """Long frame (row, group, eq, coef): each set says sum(members) - its total row = a known number."""
    group = pl.struct(by).hash() if by else pl.lit(0, dtype=pl.UInt64)
    parts = [
        df.select(
            pl.col("__hg_row"),
            group.alias("__grp"),
            pl.concat_str([pl.lit(f"{i}:"), pl.struct(part).hash().cast(pl.String)]).alias("__eq"),
            pl.when(member).then(1).when(total).then(-1).otherwise(0).alias("__coef"),
        )
        for i, (part, member, total) in enumerate(sets)
    ]
    return pl.concat(parts).filter(pl.col("__coef") != 0)


def _determined_rows(eqs: pl.DataFrame, flagged: pl.Series) -> list[int]:
    """Suppressed cells whose value follows from the published totals (linear algebra, per group).

    A cell is recoverable iff its unit vector lies in the row space of the
    constraint matrix, i.e. it does not move along any null-space direction.
    """
    unknown = eqs.filter(pl.col("__hg_row").is_in(flagged.implode()))
    out: list[int] = []
    for (_,), grp in unknown.group_by(["__grp"], maintain_order=True):
        rows = grp["__hg_row"].unique().sort()
        if rows.len() == 0:
            continue
        eq_ids = grp["__eq"].unique().sort()
        col_of = grp["__hg_row"].replace_strict(rows, pl.int_range(rows.len(), eager=True)).to_numpy()
        row_of = grp["__eq"].replace_strict(eq_ids, pl.int_range(eq_ids.len(), eager=True)).to_numpy()
        a = np.zeros((eq_ids.len(), rows.len()))
        np.add.at(a, (row_of, col_of), grp["__coef"].to_numpy())
        _, sing, vt = np.linalg.svd(a)
        rank = int((sing > 1e-9 * max(1.0, sing.max(initial=0.0))).sum())
        null = vt[rank:]
        moves = np.abs(null).sum(axis=0) if null.size else np.zeros(rows.len())
        out.extend(rows.filter(pl.Series(moves < 1e-9)).to_list())
    return out


def _secondary(
    df: pl.DataFrame, count: str, flag: str, primary_flag: str, sets: list[Family], by: Sequence[str], linear: bool
) -> pl.DataFrame:
    """Line rule to a fixpoint; for cross-tabulations also suppress until no cell is recoverable."""
    df = _line_rule(df, count, flag, sets)
    if not linear:
        return df
    eqs = _equations(df, sets, by)
    while True:
        flagged = df.filter(pl.col(flag))["__hg_row"]
        primary = set(df.filter(pl.col(primary_flag))["__hg_row"].to_list())
        exposed = [r for r in _determined_rows(eqs, flagged) if r in primary]
        if not exposed:
            return df
        related = eqs.filter(pl.col("__hg_row").is_in(exposed))["__eq"].unique()
        candidates = (
            eqs.filter(pl.col("__eq").is_in(related.implode()) & (pl.col("__coef") == 1))
            .select("__hg_row").unique()
            .join(df.select("__hg_row", count, flag), on="__hg_row")
            .filter(~pl.col(flag))
            .sort([pl.col(count) == 0, pl.col(count), pl.col("__hg_row")])
        )  # fmt: skip
        if candidates.height == 0:
            return df
        pick = candidates["__hg_row"][0]
        df = df.with_columns((pl.col(flag) | (pl.col("__hg_row") == pick)).alias(flag))
        df = _line_rule(df, count, flag, sets)


def protect(
    df: pl.DataFrame | pl.LazyFrame,
    *,
    counts: Sequence[str],
    derived: Mapping[str, Sequence[str]] | None = None,
    by: Sequence[str] | None = None,
    across: Sequence[str] | None = None,
    totals: Literal["auto", "none"] = "auto",
    settings: DisclosureSettings | None = None,
) -> pl.DataFrame:
    """Apply disclosure control to an aggregated table (see the module docstring for the rules).

    Parameters
    ----------
    df : aggregated table, one row per cell.
    counts : count columns to suppress and round.
    derived : count column -> columns computed from it (rates, CIs, ratios),
        suppressed wherever the count is, e.g. ``{"events": ["value", "lower_ci", "upper_ci"]}``.
    by : columns whose groups are independent tables (cells in different groups
        never add up to a common total), e.g. ``["condition"]``.
    across : dimension columns along which cells add up to totals. Omit for a 1-D
        table (each ``by`` group is one set); give two or more for a cross-tabulation.
    totals : ``"auto"`` treats rows holding a total marker as totals (see rule 5);
        ``"none"`` treats every row as a cell.
    settings : thresholds; defaults to :class:`~healthgap.config.DisclosureSettings` (1-7, base 5).

    Returns
    -------
    polars.DataFrame
        The table with counts rounded or null, derived values null where their
        count is suppressed, and ``suppressed`` / ``suppression_reason`` columns
        (plus per-count detail with several count columns). With
        ``settings.enabled`` False the data are returned unchanged and
        ``suppression_reason`` starts with :data:`OFF_PREFIX`.

    Raises
    ------
    DisclosureError
        Missing columns, non-numeric or negative counts, or invalid settings.

    References
    ----------
    .. [1] ONS, Policy on protecting confidentiality in tables of birth and death statistics, 2014.
    .. [2] Hundepool A et al. Statistical Disclosure Control. Wiley, 2012, section 5.2.
    """
    settings = _check_settings(settings)
    frame = df.collect() if isinstance(df, pl.LazyFrame) else df
    counts, by, across = list(counts), list(by or []), list(across or [])
    derived = {k: list(v) for k, v in (derived or {}).items()}
    _validate(frame, counts, derived, by, across, totals)
    prior = frame["suppression_reason"] if "suppression_reason" in frame.columns else None
    drop = ["suppressed", "suppression_reason"]
    drop += [f"{p}_{c}" for c in counts for p in ("suppressed", "suppression_reason")]
    base = frame.drop([c for c in drop if c in frame.columns])
    if not settings.enabled:
        return base.with_columns(
            suppressed=pl.lit(False), suppression_reason=pl.lit(f"{OFF_PREFIX}: {settings.reason}")
        )
    work = base.with_row_index("__hg_row")
    if prior is not None:
        work = work.with_columns(prior.alias("__hg_prior"))
    else:
        work = work.with_columns(pl.lit(None, dtype=pl.String).alias("__hg_prior"))
    sets = _sets(base, counts=counts, derived=derived, by=by, across=across, totals=totals)
    small = primary_reason(settings)
    for c in counts:
        col = pl.col(c)
        primary = col.is_null() | ((col > 0) & (col < settings.suppress_below))
        work = work.with_columns(primary.alias(f"__p_{c}"), primary.alias(f"__f_{c}"))
        work = _secondary(work, c, f"__f_{c}", f"__p_{c}", sets, by, linear=len(across) >= 2)
        reason = (
            pl.when(col.is_null())
            .then(pl.coalesce(pl.col("__hg_prior"), pl.lit(REASON_INPUT)))
            .when(pl.col(f"__p_{c}"))
            .then(pl.lit(small))
            .when(pl.col(f"__f_{c}"))
            .then(pl.lit(REASON_SECONDARY))
        )
        work = work.with_columns(reason.alias(f"__r_{c}"))
    multi = len(counts) > 1
    parts = []
    for c in counts:
        label = f"{c}: " if multi else ""
        text = pl.concat_str([pl.lit(label), pl.col(f"__r_{c}")])
        if derived.get(c):
            text = pl.concat_str([text, pl.lit(f"; {', '.join(derived[c])}: {REASON_DERIVED}")])
        parts.append(pl.when(pl.col(f"__f_{c}")).then(text))
    flags = [pl.col(f"__f_{c}") for c in counts]
    updates: dict[str, pl.Expr] = {}
    for c in counts:
        value = round_to_base(c, settings.rounding).cast(base.schema[c])
        updates[c] = pl.when(pl.col(f"__f_{c}")).then(None).otherwise(value)
    for c, cols in derived.items():
        for d in cols:
            current = updates.get(d, pl.col(d))
            updates[d] = pl.when(pl.col(f"__f_{c}")).then(None).otherwise(current)
    out = work.with_columns(
        *[e.alias(k) for k, e in updates.items()],
        suppressed=pl.any_horizontal(flags),
        suppression_reason=pl.when(pl.any_horizontal(flags)).then(
            pl.concat_str(parts, separator="; ", ignore_nulls=True)
        ),
    )
    if multi:
        out = out.with_columns(
            *[pl.col(f"__f_{c}").alias(f"suppressed_{c}") for c in counts],
            *[pl.col(f"__r_{c}").alias(f"suppression_reason_{c}") for c in counts],
        )
    return out.select([c for c in out.columns if not c.startswith("__")])


def disclosure_notice(settings: DisclosureSettings | None) -> str | None:
    """The warning every page must show when disclosure control is off, else None.

    References
    ----------
    .. [1] UK Statistics Authority, Code of Practice for Statistics, T6 (data governance).
    """
    if settings is None or settings.enabled:
        return None
    reason = (settings.reason or "").strip() or "no reason given"
    return (
        f"Disclosure control is OFF in this report ({reason}): counts of 1-{settings.suppress_below - 1} "
        "are shown and counts are not rounded, so people could be identified. "
        "Do not publish or share this report outside the approved setting."
    )


# ---------------------------------------------------------------- assert_publishable


def _flatten_records(records: list[Any]) -> list[dict[str, Any]]:
    """Records of a chart dataset with GeoJSON geometry dropped and properties lifted."""
    out = []
    for rec in records:
        if not isinstance(rec, dict):
            continue
        flat = {k: v for k, v in rec.items() if k not in ("geometry", "properties", "coordinates")}
        props = rec.get("properties")
        if isinstance(props, dict):
            flat.update(props)
        out.append({k: v for k, v in flat.items() if not isinstance(v, (dict, list))})
    return out


def _walk_spec(node: Any, datasets: list[tuple[str, list[Any]]], fields: set[str], path: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "url" and isinstance(value, str) and path.endswith("data"):
                raise DisclosureError(ERR_SPEC_URL.format(url=value))
            if key == "field" and isinstance(value, str):
                fields.add(value)
            if key == "datasets" and isinstance(value, dict):
                datasets.extend((f"dataset {name!r}", v) for name, v in value.items() if isinstance(v, list))
            elif key == "values" and isinstance(value, list):
                datasets.append((f"inline data at {here}", value))
            elif key == "values" and isinstance(value, dict) and isinstance(value.get("features"), list):
                datasets.append((f"GeoJSON at {here}", value["features"]))
            _walk_spec(value, datasets, fields, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                _walk_spec(value, datasets, fields, f"{path}[{i}]")


def _check_frame(frame: pl.DataFrame, *, counts: Sequence[str], check_counts: bool, where: str) -> None:
    for col in frame.columns:
        if col.lower() in PERSON_ID_COLUMNS:
            raise DisclosureError(ERR_PERSON_ID.format(where=where, col=col))
    count_cols = [c for c in frame.columns if is_count_like(c) or c in counts]
    person = sorted(c for c in frame.columns if c.lower() in _PERSON_LEVEL)
    if len(person) >= 3 and not count_cols:
        raise DisclosureError(ERR_PERSON_LEVEL.format(where=where, cols=person))
    if not check_counts or frame.height == 0:
        return
    if "suppression_reason" in frame.columns and frame.schema["suppression_reason"] == pl.String:
        off = frame.select(pl.col("suppression_reason").str.starts_with(OFF_PREFIX).fill_null(False).all()).item()
        if off:
            return
    numeric = [c for c in count_cols if frame.schema[c].is_numeric() or frame.schema[c] == pl.String]
    if not numeric:
        return
    top = DisclosureSettings().suppress_below
    found = frame.select(
        [
            pl.col(c).cast(pl.Float64, strict=False).filter(_small_count(c, top)).unique().sort().head(5).implode()
            for c in numeric
        ]
    )
    for c in numeric:
        values = found[c][0].to_list()
        if values:
            shown = [int(v) if float(v).is_integer() else v for v in values]
            raise DisclosureError(
                ERR_SMALL_COUNT.format(col=c, where=f" in {where}", values=shown, top=top - 1)
            )


def _small_count(col: str, top: int) -> pl.Expr:
    """Expression flagging values of ``col`` that are small non-zero counts (> 0 and < ``top``)."""
    v = pl.col(col).cast(pl.Float64, strict=False)
    return (v > 0) & (v < top)


def assert_publishable(
    obj: Any,
    *,
    counts: Sequence[str] | None = None,
    settings: DisclosureSettings | None = None,
) -> None:
    """Raise :class:`DisclosureError` if ``obj`` could identify people.

    Checks a polars DataFrame/LazyFrame, a CSV/JSON/Parquet file, a chart spec
    (dict, Altair chart or JSON text): no count-like column (count, n, events,
    numerator, denominator, population, size, observed, ``n_*``, ``*_count``, ... or
    listed in ``counts``) may hold a value from 1 to 7; no ``person_id`` (or other
    person identifier) column or encoding field; no table that looks like one row
    per person. Counts are not checked when protection was switched off (``settings``
    disabled, or every ``suppression_reason`` starts with :data:`OFF_PREFIX`).

    References
    ----------
    .. [1] NHS England, HES analysis guide: suppression of small numbers.
    """
    extra = list(counts or [])
    check_counts = settings is None or settings.enabled
    if hasattr(obj, "to_dict") and not isinstance(obj, (pl.DataFrame, dict)):
        obj = obj.to_dict()  # an Altair chart
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    if isinstance(obj, pl.DataFrame):
        _check_frame(obj, counts=extra, check_counts=check_counts, where="the table")
        return
    if isinstance(obj, Path) or (isinstance(obj, str) and not obj.lstrip().startswith(("{", "["))):
        path = Path(obj)
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (".csv", ".json", ".parquet"):
            raise DisclosureError(ERR_PATH.format(path=path))
        if suffix == ".csv":
            frame = pl.read_csv(path, infer_schema_length=None)
            _check_frame(frame, counts=extra, check_counts=check_counts, where=str(path))
            return
        if suffix == ".parquet":
            _check_frame(pl.read_parquet(path), counts=extra, check_counts=check_counts, where=str(path))
            return
        obj = json.loads(path.read_text(encoding="utf-8"))
    elif isinstance(obj, str):
        obj = json.loads(obj)
    if not isinstance(obj, (dict, list)):
        raise DisclosureError(ERR_OBJECT.format(kind=type(obj).__name__))
    datasets: list[tuple[str, list[Any]]] = []
    fields: set[str] = set()
    if isinstance(obj, list):
        datasets.append(("the JSON records", obj))
    else:
        _walk_spec(obj, datasets, fields, "spec")
    for field in sorted(fields):
        if field.lower() in PERSON_ID_COLUMNS:
            raise DisclosureError(ERR_PERSON_ID.format(where="the chart spec (encoding field)", col=field))
    for where, records in datasets:
        flat = _flatten_records(records)
        if not flat:
            continue
        frame = pl.from_dicts(flat, infer_schema_length=None, strict=False)
        _check_frame(frame, counts=extra, check_counts=check_counts, where=where)
