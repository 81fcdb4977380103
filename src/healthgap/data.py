"""Load a person table onto the config's canonical columns, and check it.

:func:`load` scans the file lazily, adds the derived columns (``data.derive``), renames
columns and maps codes as the config says, casts to the canonical dtypes, derives
``imd_quintile`` from ``imd_decile`` and keeps only the config's columns
(:attr:`healthgap.config.Config.contract`: the core, custom dimensions, measures and their
true status). :func:`validate` checks the same table in one lazy pass and reports every
problem together.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from healthgap._lookup import lookups
from healthgap._validation import (
    ValidationReport,
    close_columns,
    column_aggregates,
    config_problems,
    config_warnings,
    fill_report,
    todo_problems,
)
from healthgap.config import AGE_BANDS, Config, Dimension
from healthgap.contract import REQUIRED, Column
from healthgap.errors import DataError
from healthgap.safeio import data_file_problem
from healthgap.sql import derive
from healthgap.vocabulary import BOOLEAN_TOKENS, MISSING_TOKENS

__all__ = ["load", "validate", "resolve_dimensions", "ValidationReport", "DataError"]

MISSING_FILE = "data.path: file not found: {path}. Fix: correct data.path in {config}{hint}."
UNREADABLE = "data.path: cannot read {path} as {fmt}: {detail}. Fix: check the file is a valid {fmt} file, or set data.format."
MISSING_COLUMN = "Required column {name!r} is missing{close}. Fix: map it in the config, data.columns: {{{name}: <column in your file>}}."
MAPPED_ABSENT = "{where}: the file has no column {source!r}{close}."
SHARED_SOURCE = (
    "{name}: the file column {source!r} is both {name} (by its name) and {other} ({where}). "
    "Fix: map {name} to another column, or declare it absent with data.columns: {{{name}: null}}."
)


def _select(config: Config, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """canonical -> source column for each canonical column the file has, and the problems."""
    src = config.data
    problems: list[str] = []
    chosen: dict[str, str] = {}
    claimed = {source: canon for canon, source in src.columns.items()}
    for canon in config.contract:
        if canon in src.absent:
            continue
        source = src.columns.get(canon, canon)
        if source not in names:
            if canon in src.columns:
                where = src.origins.get(canon, f"data.columns.{canon}")
                problems.append(
                    MAPPED_ABSENT.format(where=where, source=source, close=close_columns(source, names))
                )
            continue
        other = claimed.get(source)
        if canon not in src.columns and other is not None and other != canon:
            where = src.origins.get(other, f"data.columns.{other}")
            problems.append(SHARED_SOURCE.format(name=canon, source=source, other=other, where=where))
            continue
        chosen[canon] = source
    for name in REQUIRED:
        if name not in chosen and name not in src.columns:
            problems.append(MISSING_COLUMN.format(name=name, close=close_columns(name, names)))
    return chosen, problems


def _source(config: Config) -> tuple[pl.LazyFrame | None, list[str], list[str]]:
    """The file scanned lazily (only its schema is read: the Parquet footer or the CSV header).
    Returns (frame, source columns, problems); no frame when the file is missing or unreadable."""
    src = config.data
    if problem := data_file_problem(src.path, fmt=src.format):
        return None, [], [problem]
    if not src.path.is_file():
        near = sorted(p.name for p in src.path.parent.glob("*")) if src.path.parent.is_dir() else []
        hint = "; run `healthgap synth` to create it" if src.synthetic else ""
        hint += f" (files there: {', '.join(near[:6])})" if near else ""
        return None, [], [MISSING_FILE.format(path=src.path, config=config.path, hint=hint)]
    try:
        if src.format == "parquet":
            lf = pl.scan_parquet(src.path)
        else:
            lf = pl.scan_csv(src.path, infer_schema=False, truncate_ragged_lines=True)
        names = lf.collect_schema().names()
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return None, [], [UNREADABLE.format(path=src.path, fmt=src.format, detail=detail)]
    return lf, names, []


def _canonical(config: Config, lf: pl.LazyFrame, names: list[str]) -> tuple[pl.LazyFrame | None, list[str]]:
    """``lf`` (the file's columns ``names``) with the derived columns, renamed to canonical names.
    Returns (frame, problems). Deriving reads the text columns the expressions use (to find the
    ones holding numbers); the Spark engine passes a frame of their distinct values instead."""
    src = config.data
    try:
        lf, problems = derive(lf, src.derive)
    except Exception as exc:  # reading the file to find its numeric text columns failed
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return None, [UNREADABLE.format(path=src.path, fmt=src.format, detail=detail)]
    chosen, more = _select(config, lf.collect_schema().names())
    lf = lf.select(pl.col(source).alias(canon) for canon, source in chosen.items())
    return lf, problems + more


def _scan(config: Config) -> tuple[pl.LazyFrame | None, list[str], list[str]]:
    """Scan the file, derive and rename to canonical names. Returns (frame, source columns, problems)."""
    lf, names, problems = _source(config)
    if lf is None:
        return None, names, problems
    canon, problems = _canonical(config, lf, names)
    return canon, names, problems


def _text(raw: pl.Expr, dtype: pl.DataType | None = None) -> pl.Expr:
    """As trimmed text, with empty strings as missing (whole floats written without ".0")."""
    if dtype is not None and dtype.is_float():
        raw = (
            pl.when(raw == raw.round(0))
            .then(raw.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(raw.cast(pl.String))
        )
    text = raw.cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


def _not_missing_token(text: pl.Expr) -> pl.Expr:
    """Text with the missing-value tokens ("NA", ".", ...) as null: for numeric and true/false columns."""
    return pl.when(~text.str.to_lowercase().is_in(list(MISSING_TOKENS))).then(text)


def _mapped(text: pl.Expr, codes: dict[str, str | None]) -> pl.Expr:
    if not codes:
        return text
    return text.replace(
        pl.Series(list(codes), dtype=pl.String), pl.Series(list(codes.values()), dtype=pl.String)
    )


def _convert(name: str, dtype: pl.DataType, config: Config) -> tuple[pl.Expr, pl.Expr]:
    """Return (canonical expression, raw expression after code mapping) for one present column."""
    col: Column = config.contract[name]
    raw = pl.col(name)
    codes = config.data.codes.get(name, {})
    is_text = dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum)
    if col.kind == "id":
        return _text(raw), raw
    if col.kind == "text":
        text = _mapped(_text(raw, dtype), codes)
        text = _not_missing_token(text) if col.group == "equity" else text
        return text, text
    if col.kind == "category":
        mapped = _mapped(_text(raw, dtype), codes)
        mapped = _not_missing_token(mapped) if col.group == "equity" else mapped
        canon = mapped.str.to_lowercase().replace_strict(
            [c.lower() for c in col.codes], list(col.codes), default=None, return_dtype=pl.String
        )
        return canon, mapped
    if col.kind == "boolean":
        if dtype == pl.Boolean and not codes:
            return raw, raw
        text = _not_missing_token(_mapped(_text(raw, dtype), codes))
        tokens = text.str.to_lowercase().replace_strict(
            list(BOOLEAN_TOKENS), list(BOOLEAN_TOKENS.values()), default=None, return_dtype=pl.Boolean
        )
        return tokens, text
    # integer / float
    if col.kind == "integer" and dtype.is_integer() and not codes:
        return raw.cast(pl.Int64, strict=False), raw  # already whole numbers
    if codes or is_text:
        raw = _not_missing_token(_mapped(_text(raw, dtype if codes else None), codes))
    number = raw.cast(pl.Float64, strict=False)
    if col.kind == "integer":
        whole = number.is_finite() & (number.round(0) == number)
        return pl.when(whole).then(number).otherwise(None).cast(pl.Int64, strict=False), raw
    return number, raw


def _counts(values: list[dict]) -> list[tuple[str, int]]:
    return [(str(next(iter(d.values()))), int(d["count"])) for d in values]


def validate(config: Config, *, raise_errors: bool = True) -> ValidationReport:
    """Check the dataset named by ``config`` against its columns, in one lazy pass.

    Parameters
    ----------
    config : the loaded config.
    raise_errors : raise :class:`DataError` listing every problem (default); with
        ``False`` the problems are returned in ``report.problems`` instead.

    Returns
    -------
    ValidationReport
        Rows, per-column completeness and missing counts, code distributions, problems
        and warnings.

    References
    ----------
    .. [1] NHS Digital, Data Quality Maturity Index methodology (completeness and validity).
    """
    lf, names, problems = _scan(config)
    report = new_report(config, names, problems)
    if lf is not None:
        schema = lf.collect_schema()
        canon = {n: _convert(n, schema[n], config) for n in schema.names()}
        # each column converted once (not once per check): "<name>:c" canonical, "<name>:r" raw
        converted = lf.select(
            e for n, (c, r) in canon.items() for e in (c.alias(f"{n}:c"), r.alias(f"{n}:r"))
        )
        exprs = [pl.len().alias(":rows")] + [
            e
            for n in canon
            for e in column_aggregates(config.contract[n], pl.col(f"{n}:c"), pl.col(f"{n}:r"))
        ]
        try:
            row: dict | Exception = converted.select(exprs).collect().row(0, named=True)
        except Exception as exc:
            row = exc
        complete_report(report, config, schema.names(), row)
    return conclude(report, config, raise_errors=raise_errors)


def new_report(config: Config, names: list[str], problems: list[str]) -> ValidationReport:
    """The report of ``config``'s file before its rows are counted: the source columns ``names``,
    the config's TODO lines and the ``problems`` found reading the file's columns."""
    return ValidationReport(
        source=config.data.path,
        format=config.data.format,
        synthetic=config.data.synthetic,
        source_columns=names,
        problems=todo_problems(config) + problems,
    )


def complete_report(
    report: ValidationReport, config: Config, present: list[str], row: dict | Exception
) -> None:
    """Fill ``report`` from the one row of counts (:func:`healthgap._validation.column_aggregates`
    of each canonical column in ``present``, and ``":rows"``), or the error counting them raised.
    Shared by both engines, so the report's wording is written once."""
    columns = set(present)
    report.problems += config_problems(config, columns, report.source_columns)
    if isinstance(row, Exception):
        text = str(row).strip()
        detail = text.splitlines()[0][:200] if text else type(row).__name__
        report.problems.append(
            UNREADABLE.format(path=config.data.path, fmt=config.data.format, detail=detail)
        )
        return
    fill_report(report, row, [n for n in config.contract if n in columns], config)
    loaded = pl.Schema(
        {n: config.contract[n].dtype for n in columns}
        | ({"imd_quintile": pl.Int64()} if "imd_decile" in columns else {})
    )
    more, warnings = config_warnings(config, loaded)
    report.problems += more
    report.warnings += warnings


def conclude(report: ValidationReport, config: Config, *, raise_errors: bool = True) -> ValidationReport:
    """Remember a clean report (so :func:`load` need not check this file version again) and raise
    :class:`DataError` with the report's text when it has problems and ``raise_errors``."""
    if not report.problems:
        _CACHE[_cache_key(config)] = report
    if report.problems and raise_errors:
        err = DataError(report.render())
        err.report = report
        raise err
    return report


_CACHE: dict[str, ValidationReport] = {}


def _cache_key(config: Config) -> str:
    path = config.data.path
    stat = path.stat() if path.is_file() else None
    return repr(
        (
            config.data,
            config.dimensions,
            config.conditions,
            config.outcomes,
            config.model,
            config.measures,
            config.indicators,
            stat and (stat.st_mtime_ns, stat.st_size),
        )
    )


def load(config: Config, *, validate: bool = True) -> pl.LazyFrame:
    """The person table as canonical columns with canonical dtypes (lazy).

    Only the config's columns present in the data are returned, in the order of
    :attr:`~healthgap.config.Config.contract` (core, custom dimensions, measures, true
    status); ``imd_quintile`` is derived as ``(imd_decile + 1) // 2`` when only deciles
    exist, and an empty ethnicity becomes ``"Not stated"``. Missing values stay missing
    (a flag is never "no" for lack of a value).

    Parameters
    ----------
    config : the loaded config.
    validate : check the data first and raise :class:`DataError` with every
        problem (cached per file version within a process).

    References
    ----------
    .. [1] Ministry of Housing, Communities and Local Government (2019), English Indices of
       Deprivation 2019: technical report (deciles and quintiles of LSOA rank).
    """
    if validate:
        key = _cache_key(config)
        if key not in _CACHE:
            _CACHE[key] = globals()["validate"](config)
    lf, _, problems = _scan(config)
    if lf is None:
        raise DataError("\n".join(problems))
    schema = lf.collect_schema()
    exprs = {n: _convert(n, schema[n], config)[0] for n in schema.names()}
    exprs.update(lookups(config, lf, exprs, key=_cache_key(config)))
    if "ethnicity" in exprs:
        exprs["ethnicity"] = exprs["ethnicity"].fill_null("Not stated")
    if "imd_decile" in exprs and "imd_quintile" not in exprs:
        exprs["imd_quintile"] = (exprs["imd_decile"] + 1) // 2
    return lf.select(exprs[n].alias(n) for n in config.contract if n in exprs)


def _sorted_levels(levels: list[str]) -> tuple[str, ...]:
    """Levels in order: numerically when they are all whole numbers ("2" before "10")."""
    if levels and all(v.lstrip("-").isdigit() for v in levels):
        return tuple(sorted(levels, key=int))
    return tuple(sorted(levels))


def resolve_dimensions(config: Config, people: pl.LazyFrame | pl.DataFrame) -> Config:
    """Fill in levels the config leaves to the data.

    A dimension without ``order`` (e.g. ``locality``) gets the levels found in
    ``people`` (sorted; numerically when they are whole numbers), and an empty
    ``reference`` becomes the level with the most people. ``age_band`` keeps the
    ESP2013 bands.

    Parameters
    ----------
    config : the loaded config.
    people : the canonical table from :func:`load`.

    Returns
    -------
    Config
        A copy with every dimension's ``order`` and ``reference`` set.

    References
    ----------
    .. [1] Public Health England (2017), Technical Guide: Confidence Intervals
       (choice of a large, stable reference group for rate ratios).
    """
    lazy = people.lazy()
    todo = [
        d
        for d in config.dimensions
        if (not d.order or not d.reference)
        and d.name != "age_band"
        and d.name in lazy.collect_schema().names()
    ]
    if not todo:
        return config
    counts = (
        lazy.select(
            pl.col(d.name).cast(pl.String).drop_nulls().value_counts(sort=True).implode().alias(d.name)
            for d in todo
        )
        .collect()
        .row(0, named=True)
    )
    dims: list[Dimension] = []
    for d in config.dimensions:
        if d in todo:
            found = _counts(counts[d.name])
            order = d.order or _sorted_levels([v for v, _ in found])
            reference = d.reference or (found[0][0] if found else "")
            d = replace(d, order=order, reference=reference)
        elif d.name == "age_band" and not d.order:
            d = replace(d, order=AGE_BANDS)
        dims.append(d)
    return replace(config, dimensions=tuple(dims))
