"""Load a person table onto the dataset contract, and check it.

:func:`load` scans the file lazily, renames columns and maps codes as the
config says, casts to the contract dtypes, derives ``imd_quintile`` from
``imd_decile`` and keeps only contract columns. :func:`validate` checks the
same table in one lazy pass and reports every problem together.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

import polars as pl

from healthgap._lookup import lookups
from healthgap._validation import ValidationReport
from healthgap.config import AGE_BANDS, Config, Dimension
from healthgap.contract import CONTRACT, TRUTH_PREFIX, Column
from healthgap.errors import DataError
from healthgap.safeio import data_file_problem
from healthgap.vocabulary import BOOLEAN_TOKENS, guess_codes

__all__ = ["load", "validate", "resolve_dimensions", "ValidationReport", "DataError"]
#: Columns whose out-of-range values are errors; other ranges only warn.
STRICT_RANGES = ("age", "imd_decile", "imd_quintile")
REQUIRED = ("person_id", "age", "sex", "ethnicity")

MISSING_FILE = "data.path: file not found: {path}. Fix: correct data.path in {config}{hint}."
UNREADABLE = "data.path: cannot read {path} as {fmt}: {detail}. Fix: check the file is a valid {fmt} file, or set data.format."
EMPTY = "The table {path} has no rows."
MISSING_COLUMN = "Required column {name!r} is missing{close}. Fix: map it in the config, data.columns: {{{name}: <column in your file>}}."
MISSING_IMD = (
    "Neither imd_decile nor imd_quintile is present{close}. Fix: map one of them, "
    "e.g. data.columns: {{imd_decile: <column in your file>}}."
)
MAPPED_ABSENT = "data.columns.{name}: the file has no column {source!r}{close}."
UNMAPPED = (
    "{name}: {n} value(s) are not valid codes: {values}. Valid codes: {valid}. Fix: map them in the "
    "config, e.g. data.codes: {{{name}: {{{example!r}: {target}}}}} (or null to treat as missing)."
)
WRONG_TYPE = "{name}: {n} value(s) are not {kind}, e.g. {values}. Fix: clean the column or map the codes in data.codes.{name}."
OUT_OF_RANGE = "{name}: {n} value(s) outside {lo}-{hi} (found {mn} to {mx})."
DUPLICATES = (
    "person_id: {n} rows share an identifier with another row, e.g. {values}. Fix: one row per person."
)
NULL_IDS = "person_id: {n} rows have no identifier. Fix: every row needs a unique person_id."
ALL_NULL = "{name}: every value is empty. Fix: map the right source column, or remove the column."
NOT_IN_DATA = (
    "{key}: {name!r} is not in the data{close}. Fix: map its column in data.columns, or remove it from {key}."
)
AUX_MISSING = "data.{key}: file not found: {path}. Fix: correct the path or set data.{key}: null."

_KIND_WORDS = {"integer": "whole numbers", "float": "numbers", "boolean": "true/false values"}


def _close(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.5)
    normal = {o.lower().replace("_", "").replace(" ", ""): o for o in options}
    key = name.lower().replace("_", "")
    hits = [o for k, o in normal.items() if key in k or (len(k) > 2 and k in key)]
    found = list(dict.fromkeys([*close, *hits]))[:3]
    return f" (close columns in the file: {', '.join(map(repr, found))})" if found else ""


def _scan(config: Config) -> tuple[pl.LazyFrame | None, list[str], list[str]]:
    """Scan the file and rename to canonical names. Returns (frame, source columns, problems)."""
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
    problems: list[str] = []
    renames: dict[str, str] = {}
    for canon, source in src.columns.items():
        if source not in names:
            problems.append(MAPPED_ABSENT.format(name=canon, source=source, close=_close(source, names)))
        else:
            renames[source] = canon
    taken = set(renames.values())
    keep = [n for n in names if n in renames or (n in CONTRACT and n not in taken)]
    lf = lf.select(pl.col(n).alias(renames.get(n, n)) for n in keep)
    present = {renames.get(n, n) for n in keep}
    for name in REQUIRED:
        if name not in present and name not in src.columns:
            problems.append(MISSING_COLUMN.format(name=name, close=_close(name, names)))
    if not present & {"imd_decile", "imd_quintile"}:
        problems.append(MISSING_IMD.format(close=_close("imd", names)))
    return lf, names, problems


def _text(raw: pl.Expr) -> pl.Expr:
    """As trimmed text, with empty strings as missing."""
    text = raw.cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


def _convert(name: str, dtype: pl.DataType, config: Config) -> tuple[pl.Expr, pl.Expr]:
    """Return (canonical expression, raw expression) for one present column."""
    col: Column = CONTRACT[name]
    raw = pl.col(name)
    codes = config.data.codes.get(name, {})
    is_text = dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum)
    if col.kind in ("id", "text"):
        return _text(raw), raw
    if col.kind == "category":
        text = _text(raw)
        mapped = text.replace(list(codes), list(codes.values())) if codes else text
        canon = mapped.str.to_lowercase().replace_strict(
            [c.lower() for c in col.codes], list(col.codes), default=None, return_dtype=pl.String
        )
        return canon, mapped
    if col.kind == "boolean":
        if dtype == pl.Boolean and not codes:
            return raw, raw
        text = _text(raw)
        if codes:
            text = text.replace(list(codes), list(codes.values()))
        tokens = text.str.to_lowercase().replace_strict(
            list(BOOLEAN_TOKENS), list(BOOLEAN_TOKENS.values()), default=None, return_dtype=pl.Boolean
        )
        return tokens, _text(raw)
    # integer / float
    if col.kind == "integer" and dtype.is_integer() and not codes:
        return raw.cast(pl.Int64, strict=False), raw  # already whole numbers
    if codes:
        number = _text(raw).replace(list(codes), list(codes.values())).cast(pl.Float64, strict=False)
        raw = _text(raw)
    elif is_text:
        raw = _text(raw)
        number = raw.cast(pl.Float64, strict=False)
    else:
        number = raw.cast(pl.Float64, strict=False)
    if col.kind == "integer":
        whole = number.is_finite() & (number.round(0) == number)
        return pl.when(whole).then(number).otherwise(None).cast(pl.Int64, strict=False), raw
    return number, raw


def _aggregates(name: str, canon: pl.Expr, raw: pl.Expr) -> list[pl.Expr]:
    col = CONTRACT[name]
    out = [canon.null_count().alias(f"{name}:null")]
    if col.kind in ("integer", "float", "boolean", "category"):
        bad = raw.is_not_null() & canon.is_null()
        out.append(bad.sum().alias(f"{name}:bad"))
        sample = raw.cast(pl.String).filter(bad)
        out.append(sample.value_counts(sort=True).head(6).implode().alias(f"{name}:badvals"))
    if col.minimum is not None:
        outside = (canon < col.minimum) | (canon > col.maximum)
        out += [
            outside.sum().alias(f"{name}:outside"),
            canon.min().cast(pl.Float64).alias(f"{name}:min"),
            canon.max().cast(pl.Float64).alias(f"{name}:max"),
        ]
    if col.kind in ("category", "boolean") or name in ("imd_decile", "imd_quintile"):
        out.append(canon.cast(pl.String).drop_nulls().value_counts(sort=True).implode().alias(f"{name}:dist"))
    if name == "person_id":
        dup = canon.is_duplicated() & canon.is_not_null()
        out += [
            dup.sum().alias("person_id:dup"),
            canon.filter(dup).unique(maintain_order=True).head(5).implode().alias("person_id:dupvals"),
        ]
    return out


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _counts(values: list[dict]) -> list[tuple[str, int]]:
    return [(str(next(iter(d.values()))), int(d["count"])) for d in values]


def _guess_code(name: str, value: str) -> str:
    """The canonical code an unmapped ``value`` most likely means, for the error's example."""
    codes = CONTRACT[name].codes
    guessed = guess_codes(name, [value])[0].get(value, "?")
    if guessed != "?":
        return "null" if guessed is None else guessed
    prefix = [c for c in codes if c.lower().startswith(value.lower())]
    close = prefix or difflib.get_close_matches(value, codes, n=1, cutoff=0.6)
    return close[0] if close else ("Not stated" if "Not stated" in codes else "null")


def _check_config_columns(config: Config, present: set[str]) -> list[str]:
    problems = []
    opts = sorted(present)

    def need(key: str, name: str) -> None:
        if name not in present and name not in REQUIRED:
            close = difflib.get_close_matches(name, opts, n=1)
            problems.append(
                NOT_IN_DATA.format(
                    key=key, name=name, close=f" (did you mean {close[0]!r}?)" if close else ""
                )
            )

    for i, dim in enumerate(config.dimensions):
        if dim.name not in ("age_band", "imd_quintile") or (
            dim.name == "imd_quintile" and not present & {"imd_decile", "imd_quintile"}
        ):
            need(
                f"equity.dimensions[{i}].name",
                "imd_decile or imd_quintile" if dim.name == "imd_quintile" else dim.name,
            )
    for name in config.conditions:
        need("conditions", name)
    for name in config.outcomes:
        need("outcomes", name)
    if (
        "model.target" not in config.defaulted
    ):  # a defaulted target that is absent only skips the model chapters
        need("model.target", config.model.target)
    for name in config.model.features:
        if name != "age_band":
            need("model.features", name)
    for key in ("truth", "boundaries"):
        path = getattr(config.data, key)
        if path is not None and (problem := data_file_problem(path, what=f"data.{key}", fmt="json")):
            problems.append(problem)
        elif path is not None and not Path(path).is_file():
            problems.append(AUX_MISSING.format(key=key, path=path))
    return problems


def validate(config: Config, *, raise_errors: bool = True) -> ValidationReport:
    """Check the dataset named by ``config`` against the contract, in one lazy pass.

    Parameters
    ----------
    config : the loaded config.
    raise_errors : raise :class:`DataError` listing every problem (default); with
        ``False`` the problems are returned in ``report.problems`` instead.

    Returns
    -------
    ValidationReport
        Rows, per-column completeness, code distributions, problems and warnings.

    References
    ----------
    .. [1] NHS Digital, Data Quality Maturity Index methodology (completeness and validity).
    """
    lf, names, problems = _scan(config)
    report = ValidationReport(
        source=config.data.path,
        format=config.data.format,
        synthetic=config.data.synthetic,
        source_columns=names,
        problems=problems,
    )
    if lf is not None:
        schema = lf.collect_schema()
        present = set(schema.names())
        report.problems += _check_config_columns(config, present)
        canon = {n: _convert(n, schema[n], config) for n in schema.names()}
        exprs = [pl.len().alias(":rows")] + [e for n, (c, r) in canon.items() for e in _aggregates(n, c, r)]
        try:
            row = lf.select(exprs).collect().row(0, named=True)
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            report.problems.append(
                UNREADABLE.format(path=config.data.path, fmt=config.data.format, detail=detail)
            )
        else:
            _fill(report, row, [n for n in CONTRACT if n in present])
    if report.problems and raise_errors:
        err = DataError(report.render())
        err.report = report
        raise err
    return report


def _fill(report: ValidationReport, row: dict, present: list[str]) -> None:
    rows = int(row[":rows"])
    report.rows = rows
    if rows == 0:
        report.problems.append(EMPTY.format(path=report.source))
        return
    for name in present:
        col = CONTRACT[name]
        nulls = int(row[f"{name}:null"])
        report.completeness[name] = (rows - nulls) / rows
        bad = int(row.get(f"{name}:bad") or 0)
        if bad:
            counts = _counts(row[f"{name}:badvals"])
            values = ", ".join(f"{v!r} ({n:,} row{'s' if n != 1 else ''})" for v, n in counts)
            if col.kind == "category":
                target = _guess_code(name, counts[0][0])
                report.problems.append(
                    UNMAPPED.format(
                        name=name,
                        n=f"{bad:,}",
                        values=values,
                        valid=", ".join(col.codes),
                        example=counts[0][0],
                        target=target,
                    )
                )
            else:
                report.problems.append(
                    WRONG_TYPE.format(name=name, n=f"{bad:,}", kind=_KIND_WORDS[col.kind], values=values)
                )
        elif nulls == rows:
            report.problems.append(ALL_NULL.format(name=name))
        outside = int(row.get(f"{name}:outside") or 0)
        if outside and col.minimum is not None and col.maximum is not None:  # only ranged columns count
            msg = OUT_OF_RANGE.format(
                name=name,
                n=f"{outside:,}",
                lo=_fmt(col.minimum),
                hi=_fmt(col.maximum),
                mn=_fmt(row[f"{name}:min"]),
                mx=_fmt(row[f"{name}:max"]),
            )
            (report.problems if name in STRICT_RANGES else report.warnings).append(
                msg
                + (
                    " Fix: correct or remove these rows."
                    if name in STRICT_RANGES
                    else " They are kept; check them."
                )
            )
        if f"{name}:dist" in row:
            report.distributions[name] = _counts(row[f"{name}:dist"])
    if row.get("person_id:dup"):
        report.problems.append(
            DUPLICATES.format(
                n=f"{int(row['person_id:dup']):,}", values=", ".join(map(repr, row["person_id:dupvals"]))
            )
        )
    if "person_id" in present and 0 < int(row["person_id:null"]) < rows:
        report.problems.append(NULL_IDS.format(n=f"{int(row['person_id:null']):,}"))
    report.missing_optional = [
        n
        for n in CONTRACT
        if n not in present
        and not CONTRACT[n].required
        and not n.startswith(TRUTH_PREFIX)
        and n not in ("imd_decile", "imd_quintile")
    ]
    for name, share in report.completeness.items():
        if CONTRACT[name].required and 0 < share < 0.95 and name != "person_id":
            report.warnings.append(f"{name}: only {share:.1%} of rows have a value.")


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
            stat and (stat.st_mtime_ns, stat.st_size),
        )
    )


def load(config: Config, *, validate: bool = True) -> pl.LazyFrame:
    """The person table as canonical columns with contract dtypes (lazy).

    Only contract columns present in the data are returned, in contract order;
    ``imd_quintile`` is derived as ``(imd_decile + 1) // 2`` when only deciles
    exist, and an empty ethnicity becomes ``"Not stated"``.

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
    return lf.select(exprs[n].alias(n) for n in CONTRACT if n in exprs)


def resolve_dimensions(config: Config, people: pl.LazyFrame | pl.DataFrame) -> Config:
    """Fill in levels the config leaves to the data.

    A dimension without ``order`` (e.g. ``locality``) gets the levels found in
    ``people`` (sorted), and an empty ``reference`` becomes the level with the
    most people. ``age_band`` keeps the ESP2013 bands.

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
            order = d.order or tuple(sorted(v for v, _ in found))
            reference = d.reference or (found[0][0] if found else "")
            d = replace(d, order=order, reference=reference)
        elif d.name == "age_band" and not d.order:
            d = replace(d, order=AGE_BANDS)
        dims.append(d)
    return replace(config, dimensions=tuple(dims))
