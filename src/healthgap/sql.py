"""SQL over the person table: derived columns (``data.derive``) and indicators.

Expressions are written in SQL and evaluated with polars' SQL expression support
(:func:`polars.sql_expr`), so the same text can later run on a SQL engine.

- :func:`derive` adds the config's derived columns to a scanned file, in order (later ones
  may use earlier ones). Text columns whose every non-empty value is a number are read as
  numbers first (CSV files are read as text), so users need no ``CAST``.
- :func:`indicator_columns` compiles an indicator against the loaded table's schema and
  applies the missing-value rule: a person is in the denominator when the denominator is
  TRUE and the numerator is not NULL, and in the numerator when both are TRUE.
- :func:`indicator_counts` evaluates one indicator: exact numerator, denominator and
  excluded counts, overall or by groups (the page publishes them).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from healthgap.config import Indicator, SqlError, compile_sql, replace_columns, sql_columns
from healthgap.vocabulary import MISSING_TOKENS

__all__ = [
    "IndicatorColumns",
    "indicator_columns",
    "indicator_counts",
    "derive",
    "numbers_from_text",
    "NEEDS_COLUMNS",
    "NEEDS_ONE_OF",
    "NOT_BOOLEAN",
    "NOT_NUMERIC",
    "DERIVE_UNKNOWN",
    "DERIVE_FAILED",
]

NEEDS_COLUMNS = "needs the {names} column{s}, which this dataset does not have"
NEEDS_ONE_OF = "needs at least one of the {names} columns, which this dataset does not have"
NOT_BOOLEAN = 'its {part} ({text!r}) is not true/false but {dtype}. Fix: write a condition, e.g. "{example}"'
NOT_NUMERIC = "its numerator ({text!r}) is not a count but {dtype}. Fix: name a count column for a rate."
DERIVE_UNKNOWN = (
    "data.derive.{name}: uses the column {column!r}, which the file does not have{close}. "
    "Fix: use the file's column name exactly (names are case-sensitive), or derive it first."
)
DERIVE_FAILED = "data.derive.{name}: cannot compute {text!r} on this file: {detail}.{text_note} Fix: correct the expression{fix}."
_TEXT_NOTE = " The column(s) {names} hold text that is not all numbers."
_TEXT_FIX = ", or clean those columns (a value that is not a number cannot be used in arithmetic)"


@dataclass(frozen=True)
class IndicatorColumns:
    """An indicator compiled against a table's schema: three Boolean (or count) expressions.

    Attributes
    ----------
    indicator : the indicator.
    denominator : Boolean, never null: the denominator is TRUE and the numerator has a value.
    numerator : proportions: Boolean, never null, both TRUE; rates: the count (0 outside the
        denominator).
    excluded : Boolean, never null: in the denominator population but the numerator is missing.
    absent : optional columns the table lacks, treated as false (name them in the page's note).
    """

    indicator: Indicator
    denominator: pl.Expr
    numerator: pl.Expr
    excluded: pl.Expr
    absent: tuple[str, ...] = ()


def _names(columns: Sequence[str]) -> str:
    quoted = [f"{c}" for c in columns]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def indicator_columns(
    indicator: Indicator, schema: pl.Schema | Mapping[str, pl.DataType]
) -> IndicatorColumns | str:
    """Compile ``indicator`` against ``schema`` (the loaded table's), or say why it cannot be.

    Parameters
    ----------
    indicator : a declared indicator (:attr:`healthgap.config.Config.indicators`).
    schema : the loaded person table's schema (``people.collect_schema()``).

    Returns
    -------
    IndicatorColumns or str
        The expressions, or a plain reason the indicator cannot be computed on this table
        ("needs the pad column, which this dataset does not have"): a column the SQL uses is
        missing (columns in ``indicator.optional`` are treated as false instead; when every
        one of them is missing the reason names them), or a part has the wrong type.

    References
    ----------
    .. [1] polars, ``polars.sql_expr``; Kleene three-valued logic for AND/OR with NULL.
    """
    present = set(schema)
    try:
        used = [*dict.fromkeys((*sql_columns(indicator.denominator), *sql_columns(indicator.numerator)))]
    except SqlError as exc:
        return str(exc)
    missing = [c for c in used if c not in present and c not in indicator.optional]
    if missing:
        return NEEDS_COLUMNS.format(names=_names(missing), s="s" if len(missing) > 1 else "")
    absent = tuple(c for c in used if c not in present)
    if absent and len(absent) == len([c for c in indicator.optional if c in used]):
        return NEEDS_ONE_OF.format(names=_names(absent))
    den_text = replace_columns(indicator.denominator, set(absent))
    num_text = replace_columns(indicator.numerator, set(absent))
    den, num = compile_sql(den_text), compile_sql(num_text)
    probe = pl.LazyFrame(schema=dict(schema)).select(den.alias("d"), num.alias("n")).collect_schema()
    if probe["d"] != pl.Boolean:
        return NOT_BOOLEAN.format(
            part="denominator", text=indicator.denominator, dtype=probe["d"], example="age >= 40"
        )
    rate = indicator.kind != "proportion"
    if not rate and probe["n"] != pl.Boolean:
        return NOT_BOOLEAN.format(
            part="numerator", text=indicator.numerator, dtype=probe["n"], example="statin"
        )
    if rate and not probe["n"].is_numeric():
        return NOT_NUMERIC.format(text=indicator.numerator, dtype=probe["n"])
    population = den.fill_null(False)
    counted = population & num.is_not_null()
    numerator = (counted & num).fill_null(False) if not rate else pl.when(counted).then(num).otherwise(0)
    return IndicatorColumns(
        indicator=indicator,
        denominator=counted,
        numerator=numerator,
        excluded=population & num.is_null(),
        absent=absent,
    )


def indicator_counts(
    people: pl.LazyFrame | pl.DataFrame, indicator: Indicator, *, by: Sequence[str] = ()
) -> pl.DataFrame | str:
    """Exact ``numerator``, ``denominator`` and ``excluded`` counts of one indicator.

    Parameters
    ----------
    people : the loaded person table.
    indicator : the indicator.
    by : group by these columns (one row per group, sorted); empty for one overall row.

    Returns
    -------
    pl.DataFrame or str
        ``*by, numerator, denominator, excluded`` (Int64; the numerator of a rate is the sum
        of its count), or the reason from :func:`indicator_columns`. Exact counts: publish
        them through :func:`healthgap.disclosure.publish`.
    """
    lf = people.lazy()
    compiled = indicator_columns(indicator, lf.collect_schema())
    if isinstance(compiled, str):
        return compiled
    aggs = [
        compiled.numerator.cast(pl.Int64).sum().alias("numerator"),
        compiled.denominator.cast(pl.Int64).sum().alias("denominator"),
        compiled.excluded.cast(pl.Int64).sum().alias("excluded"),
    ]
    if not by:
        return lf.select(aggs).collect()
    return lf.group_by(list(by)).agg(aggs).sort(list(by), nulls_last=True).collect()


def _text(name: str) -> pl.Expr:
    """A text column trimmed, with empty values and missing-value tokens ("NA", ".") as null."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when((text.str.len_bytes() > 0) & ~text.str.to_lowercase().is_in(list(MISSING_TOKENS))).then(
        text
    )


def numbers_from_text(lf: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """``lf`` with each text column of ``columns`` whose every non-empty value is a number read
    as numbers: Int64 when they are all whole numbers written without a decimal point, else Float64.

    Empty values and missing-value tokens ("NA", "N/A", "NaN", "null", ".") become null.
    Other columns, and text columns holding anything else, are left as they are.
    """
    schema = lf.collect_schema()
    text = [c for c in dict.fromkeys(columns) if c in schema and schema[c] == pl.String]
    if not text:
        return lf
    checks = (
        lf.select(
            *[
                (_text(c).is_null() | _text(c).cast(pl.Int64, strict=False).is_not_null())
                .all()
                .alias(f"i:{c}")
                for c in text
            ],
            *[
                (_text(c).is_null() | _text(c).cast(pl.Float64, strict=False).is_not_null())
                .all()
                .alias(f"f:{c}")
                for c in text
            ],
        )
        .collect()
        .row(0, named=True)
    )
    casts = [
        _text(c).cast(pl.Int64 if checks[f"i:{c}"] else pl.Float64, strict=False).alias(c)
        for c in text
        if checks[f"f:{c}"]
    ]
    return lf.with_columns(casts) if casts else lf


def _close(name: str, options: list[str]) -> str:
    same = [o for o in options if o.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    return f" (close columns in the file: {', '.join(map(repr, close))})" if close else ""


def derive(lf: pl.LazyFrame, expressions: Mapping[str, str]) -> tuple[pl.LazyFrame, list[str]]:
    """Add the derived columns ``name -> SQL`` to ``lf``, in order.

    A derived column may replace a file column of the same name; later expressions see it.
    Text columns the expressions use are first read as numbers where every value is one
    (:func:`numbers_from_text`).

    Returns
    -------
    tuple
        The frame with the derived columns, and the problems found (each naming its key
        ``data.derive.<name>``, the problem and the fix); an expression with a problem is left out.
    """
    if not expressions:
        return lf, []
    problems: list[str] = []
    names = lf.collect_schema().names()
    used = {name: sql_columns(text) for name, text in expressions.items()}
    lf = numbers_from_text(lf, [c for cols in used.values() for c in cols if c in names])
    available = set(names)
    for name, text in expressions.items():
        unknown = [c for c in used[name] if c not in available]
        if unknown:
            problems.append(
                DERIVE_UNKNOWN.format(
                    name=name, column=unknown[0], close=_close(unknown[0], sorted(available))
                )
            )
            continue
        candidate = lf.with_columns(compile_sql(text).alias(name))
        try:
            candidate.collect_schema()
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
            schema = lf.collect_schema()
            texts = [c for c in used[name] if schema[c] == pl.String]
            note = _TEXT_NOTE.format(names=", ".join(map(repr, texts))) if texts else ""
            problems.append(
                DERIVE_FAILED.format(
                    name=name, text=text, detail=detail, text_note=note, fix=_TEXT_FIX if texts else ""
                )
            )
            continue
        lf = candidate
        available.add(name)
    return lf, problems
