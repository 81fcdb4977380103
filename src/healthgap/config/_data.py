"""The ``data`` section: the file, its format, column mappings, code mappings and derived columns."""

from __future__ import annotations

from typing import Any, Literal

import polars as pl

from healthgap.config._check import REQUIRED, Checker, suggest
from healthgap.config._measures import NAME_PATTERN
from healthgap.config._model import DataSource
from healthgap.config._sql import SqlError, compile_sql
from healthgap.contract import GEOGRAPHY, Column
from healthgap.contract import REQUIRED as REQUIRED_COLUMNS
from healthgap.safeio import data_file_problem
from healthgap.vocabulary import guess_columns

__all__ = ["parse_data", "parse_mappings", "present_columns", "DATA_KEYS", "FORMATS", "ENGINES", "SPARK_KEYS"]

DATA_KEYS = (
    "path",
    "format",
    "columns",
    "codes",
    "derive",
    "truth",
    "boundaries",
    "boundary_key",
    "synthetic",
    "engine",
    "spark",
)
FORMATS = ("auto", "parquet", "csv")
ENGINES = ("polars", "spark")
SPARK_KEYS = ("master",)
_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".txt": "csv", ".csv.gz": "csv"}

NOT_A_COLUMN = (
    "{at}: {name!r} is not a contract column{hint} Keys are canonical names (core columns, measures, "
    "dimensions), values the column names in your file. Fix: declare it under measures: or equity.dimensions first."
)
CANNOT_BE_ABSENT = (
    "{at}: {name} is required and cannot be declared absent (null). Fix: name the column holding it."
)
CODES_KIND = "{at}: codes only apply to category, text, true/false and numeric columns; {name} is {kind}."
BAD_CODE = "{at}.{key}: {value!r} is not a valid {name} code{hint} Valid: {valid} (or null for missing)."
DERIVE_NAME = (
    "{at}: {name!r} is not a valid column name. Fix: use letters, digits and _ only, starting with a letter."
)
DERIVE_SQL = "{at}: {detail}"
BAD_ENGINE = (
    "data.engine: {value!r} is not an engine{hint} Fix: write polars (the default: this machine) "
    "or spark (Spark SQL, local or on a cluster; needs pyspark and Java)."
)
BAD_MASTER = (
    "data.spark.master: {value!r} is not a Spark master URL. "
    "Fix: write local[*] (every core of this machine), local[2], or a cluster's URL, e.g. spark://host:7077."
)
DERIVE_TYPE = (
    '{at}: expected an SQL expression (text), got {value!r}. Fix: quote it, e.g. {name}: "totChol / 38.67".'
)


def _format(c: Checker, node: dict, path: Any) -> Literal["parquet", "csv"]:
    fmt = c.typed(node, "format", "data", str, "auto")
    if fmt not in FORMATS:
        c.add(f"data.format: {fmt!r} is not a format{suggest(fmt, FORMATS)} Valid: {', '.join(FORMATS)}.")
        fmt = "auto"
    if fmt == "auto":
        name = path.name.lower()
        fmt = next((v for k, v in _EXTENSIONS.items() if name.endswith(k)), "")
        if not fmt:
            c.add(
                f"data.format: cannot tell the format of {path.name!r} from its extension. "
                "Fix: set data.format to parquet or csv."
            )
            fmt = "parquet"
    return "csv" if fmt == "csv" else "parquet"


def _engine(c: Checker, node: dict) -> tuple[Literal["polars", "spark"], str]:
    """``data.engine`` and ``data.spark.master``."""
    engine = c.typed(node, "engine", "data", str, "polars")
    if engine not in ENGINES:
        c.add(BAD_ENGINE.format(value=engine, hint=suggest(engine, ENGINES)))
        engine = "polars"
    spark = c.keys(c.typed(node, "spark", "data", dict, {}, nullable=True), "data.spark", SPARK_KEYS)
    master = c.typed(spark, "master", "data.spark", str, "local[*]")
    if not master.strip() or any(ch.isspace() for ch in master):
        c.add(BAD_MASTER.format(value=master))
        master = "local[*]"
    return ("spark" if engine == "spark" else "polars"), master


def _derive(c: Checker, node: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, text in (c.typed(node, "derive", "data", dict, {}) or {}).items():
        at = f"data.derive.{name}"
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            c.add(DERIVE_NAME.format(at=at, name=name))
        elif not isinstance(text, str):
            c.add(DERIVE_TYPE.format(at=at, value=text, name=name))
        else:
            try:
                compile_sql(text)
            except SqlError as exc:
                c.add(DERIVE_SQL.format(at=at, detail=exc))
            else:
                out[name] = text
    return out


def parse_data(c: Checker, node: Any) -> DataSource:
    """The data source, with ``columns`` and ``codes`` still raw (see :func:`parse_mappings`)."""
    if node is None:
        c.add(
            REQUIRED.format(where="data", example=" with at least data.path: the Parquet or CSV person table")
        )
        node = {}
    node = c.keys(node, "data", DATA_KEYS)
    raw_path = c.typed(node, "path", "data", str, None)
    if raw_path is None and "path" not in node and node:
        c.add(REQUIRED.format(where="data.path", example=", e.g. path: synthetic/population.parquet"))
    path = c.path(raw_path) or c.base / "population.parquet"
    engine, master = _engine(c, node)
    key = c.typed(node, "boundary_key", "data", str, "lsoa")
    if key not in GEOGRAPHY:
        c.add(
            f"data.boundary_key: {key!r} is not a geography column{suggest(key, GEOGRAPHY)} Valid: {', '.join(GEOGRAPHY)}."
        )
    return DataSource(
        path=path,
        format=_format(c, node, path),
        columns=c.typed(node, "columns", "data", dict, {}) or {},
        codes=c.typed(node, "codes", "data", dict, {}) or {},
        truth=c.path(c.typed(node, "truth", "data", str, None, nullable=True)),
        boundaries=c.path(c.typed(node, "boundaries", "data", str, None, nullable=True)),
        boundary_key=key,
        synthetic=c.typed(node, "synthetic", "data", bool, False),
        derive=_derive(c, node),
        engine=engine,
        spark_master=master,
    )


def _canonical_hint(word: str, known: tuple[str, ...]) -> str:
    """Suggest a canonical column for a source-style name (``gender`` -> ``sex``)."""
    guess = [k for k in guess_columns([word]) if k in known]
    return f"; did you mean {guess[0]!r}?" if guess else suggest(word, known)


def _columns(c: Checker, raw: dict, known: dict[str, Column]) -> tuple[dict[str, str], frozenset[str]]:
    columns: dict[str, str] = {}
    absent: set[str] = set()
    names = tuple(known)
    for canon, source in raw.items():
        at = f"data.columns.{canon}"
        if canon not in known:
            c.add(NOT_A_COLUMN.format(at=at, name=canon, hint=_canonical_hint(str(canon), names)))
        elif source is None:
            if canon in REQUIRED_COLUMNS:
                c.add(CANNOT_BE_ABSENT.format(at=at, name=canon))
            absent.add(canon)
        elif not isinstance(source, str) or not source:
            c.wrong_type(at, "the column name in your file (text), or null if your file has none", source)
        else:
            columns[canon] = source
    return columns, frozenset(absent)


def _code_target(c: Checker, col: Column, at: str, key: str, dst: Any) -> tuple[bool, str | None]:
    """(ok, canonical code as text or None = missing) for one code mapping."""
    if dst is None:
        return True, None
    where = f"{at}.{key}"
    if col.kind == "boolean":
        if not isinstance(dst, bool):
            c.wrong_type(where, "true, false or null", dst)
            return False, None
        return True, "true" if dst else "false"
    if col.kind == "integer":
        if isinstance(dst, bool) or not isinstance(dst, int):
            c.wrong_type(where, "a whole number or null", dst)
            return False, None
        return True, str(dst)
    if col.kind == "float":
        if isinstance(dst, bool) or not isinstance(dst, (int, float)):
            c.wrong_type(where, "a number or null", dst)
            return False, None
        return True, str(dst)
    level = c.level(dst, where)
    if level is None:
        return False, None
    if col.codes and level not in col.codes:
        c.add(
            BAD_CODE.format(
                at=at,
                key=key,
                value=level,
                name=col.name,
                hint=suggest(level, col.codes),
                valid=", ".join(col.codes),
            )
        )
        return False, None
    return True, level


def _codes(c: Checker, raw: dict, known: dict[str, Column]) -> dict[str, dict[str, str | None]]:
    codes: dict[str, dict[str, str | None]] = {}
    for canon, mapping in raw.items():
        at = f"data.codes.{canon}"
        col = known.get(canon)
        if col is None:
            c.add(f"{at}: {canon!r} is not a contract column{suggest(str(canon), tuple(known))}")
            continue
        if col.kind == "id":
            c.add(CODES_KIND.format(at=at, name=canon, kind="an identifier"))
            continue
        if not isinstance(mapping, dict):
            c.wrong_type(at, "a mapping {source code: canonical code}", mapping)
            continue
        out: dict[str, str | None] = {}
        for src, dst in mapping.items():
            key = c.level(src, f"{at} key {src!r}")
            if key is None:
                continue
            ok, value = _code_target(c, col, at, key, dst)
            if ok:
                out[key] = value
        codes[canon] = out
    return codes


def parse_mappings(
    c: Checker, data: DataSource, known: dict[str, Column]
) -> tuple[dict[str, str], frozenset[str], dict[str, dict[str, str | None]]]:
    """``data.columns`` (renames and names declared absent) and ``data.codes`` checked against
    the columns this config knows (core, dimensions, measures, true status)."""
    columns, absent = _columns(c, data.columns, known)
    return columns, absent, _codes(c, data.codes, known)


def present_columns(data: DataSource) -> set[str] | None:
    """Names of the file's columns and the derived ones (None if the file cannot be read yet)."""
    if data_file_problem(data.path, fmt=data.format) or not data.path.is_file():
        return None
    try:
        if data.format == "parquet":
            names = list(pl.read_parquet_schema(data.path))
        else:
            names = pl.scan_csv(data.path, infer_schema=False).collect_schema().names()
    except Exception:
        return None
    return {*names, *data.derive}
