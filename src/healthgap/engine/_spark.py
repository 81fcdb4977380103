"""The Spark backend: the same file, the same canonical table and the same aggregates as polars.

What runs on the cluster: reading the Parquet or CSV file, the config's derived columns (its SQL
runs unchanged as Spark SQL), renames, code mappings, and every ``group_by``. What comes back to
the driver: for each column whose values need converting (text codes, numbers written as text),
its distinct values with their counts (a few thousand at most in practice), and the aggregated
tables (thousands of rows, never people).

Code mappings are not written twice. The driver runs :func:`healthgap.data`'s own polars
conversion (``_convert``: trim, map codes, match codes, read numbers, true/false tokens) on each
column's distinct values and sends the result back to the cluster as a lookup (a literal map,
or a broadcast join for very many values), so Spark converts every value exactly as polars does.
Columns that need no conversion (whole numbers, numbers and true/false already stored as such)
are cast natively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from healthgap.config import AGE_BANDS, Config
from healthgap.config._sql import _float_literals
from healthgap.data import _convert, _select
from healthgap.engine._plan import AGE_BAND, MEASURE, PEOPLE, VALUE, Plan, Stat, plan_of
from healthgap.errors import DataError
from healthgap.sql import numbers_from_text, replace_columns
from healthgap.sql import sql_columns as _sql_columns

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "aggregate_spark",
    "load_spark",
    "spark_session",
    "MAP_LITERAL_MAX",
    "NO_PYSPARK",
    "NO_JAVA",
    "SPARK_DEFAULTS",
]

#: Lookups with at most this many distinct values are sent as one literal map; larger ones as a
#: broadcast (hash) join: Spark searches a literal map's keys one by one for every row.
MAP_LITERAL_MAX = 32

NO_PYSPARK = (
    "The Spark engine needs pyspark (and a Java runtime, 17 or later). "
    "Fix: pip install 'healthgap[spark]' (or pip install pyspark), or use the polars engine."
)

NO_JAVA = (
    "The Spark engine needs a Java runtime (17 or later) and none was found (no `java` on the PATH "
    "and no JAVA_HOME). Fix: install one (e.g. apt-get install openjdk-17-jre-headless) or set "
    "JAVA_HOME, or use the polars engine (data.engine: polars)."
)

#: Settings of a local session: no web UI, few shuffle partitions (the aggregates are small),
#: the driver on the loopback interface (no network), permissive SQL as polars' (a division by
#: zero or an impossible cast gives null instead of stopping the job).
SPARK_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "2",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def spark_session(
    master: str = "local[*]", *, app_name: str = "healthgap", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A Spark session with :data:`SPARK_DEFAULTS` (and ``conf`` over them).

    Parameters
    ----------
    master : ``local[*]`` (every core of this machine), ``local[2]``, or a cluster's master URL.
    app_name : the application's name in the cluster's lists.
    conf : further Spark settings, e.g. ``{"spark.driver.memory": "4g"}``.

    Raises
    ------
    ImportError
        pyspark is not installed (:data:`NO_PYSPARK`).
    RuntimeError
        A local master and no Java runtime (:data:`NO_JAVA`).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(NO_PYSPARK) from exc
    if master.startswith("local") and not _java_found():
        raise RuntimeError(NO_JAVA)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SPARK_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _java_found() -> bool:
    """Whether a Java runtime can be started: ``$JAVA_HOME/bin/java`` or ``java`` on the PATH."""
    import os
    import shutil

    home = os.environ.get("JAVA_HOME", "").strip()
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return True
    return shutil.which("java") is not None


def _c(name: str) -> Column:
    """A column by its exact name (dots, spaces and backticks quoted)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


_POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "bigint": pl.Int64(),
    "int": pl.Int32(),
    "smallint": pl.Int16(),
    "tinyint": pl.Int8(),
    "double": pl.Float64(),
    "float": pl.Float32(),
    "boolean": pl.Boolean(),
}


def _polars_type(spark_type: Any) -> pl.DataType:
    """The polars type a Spark column's values are read as (unknown types as text)."""
    name = spark_type.simpleString()
    if name.startswith("decimal"):
        return pl.Float64()
    return _POLARS_TYPES.get(name, pl.String())


def _spark_type(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "bigint"
    if dtype.is_float():
        return "double"
    return "string"


def _read(spark: SparkSession, config: Config) -> DataFrame:
    src = config.data
    if not src.path.is_file():
        raise DataError(f"data.path: file not found: {src.path}.")
    if src.format == "parquet":
        return spark.read.parquet(str(src.path))
    # as polars reads it (healthgap.data): every column as text, empty fields missing
    return spark.read.csv(str(src.path), header=True, inferSchema=False, mode="PERMISSIVE")


def _distinct_counts(
    df: DataFrame, columns: list[str], *, first: str | None = None
) -> dict[str, pl.DataFrame]:
    """Each column's distinct values and how many rows hold each (``value``, ``rows``), in one
    pass per column type; with ``first`` (a column numbering the rows) also ``first``, the
    smallest number of a row holding each value."""
    from pyspark.sql import functions as F

    out: dict[str, pl.DataFrame] = {}
    types = {f.name: f.dataType for f in df.schema.fields}
    groups: dict[str, list[str]] = {}
    for name in columns:
        groups.setdefault(types[name].simpleString(), []).append(name)
    extra = [_c(first).alias("f")] if first else []
    for names in groups.values():
        stacked = df.select(
            F.explode(
                F.array(
                    *[F.struct(F.lit(i).alias("i"), _c(n).alias("v"), *extra) for i, n in enumerate(names)]
                )
            ).alias("s")
        ).select("s.*")
        aggs = [F.count(F.lit(1)).alias("count")] + ([F.min("f").alias("first")] if first else [])
        counted = pl.from_arrow(stacked.groupBy("i", "v").agg(*aggs).toArrow())
        assert isinstance(counted, pl.DataFrame)
        for i, name in enumerate(names):
            part = counted.filter(pl.col("i") == i)
            dtype = _polars_type(types[name])
            columns_out = {
                "value": part.get_column("v").cast(dtype),
                "rows": part.get_column("count").cast(pl.Int64),
            }
            if first:
                columns_out["first"] = part.get_column("first").cast(pl.Int64)
            out[name] = pl.DataFrame(columns_out).sort("value", nulls_last=True)
    return out


def _lookup(
    df: DataFrame, source: Column, keys: pl.Series, values: pl.Series, tag: str
) -> tuple[DataFrame, Column]:
    """(frame, column) giving ``values`` for each of ``keys`` in ``source`` (null elsewhere)."""
    from pyspark.sql import functions as F

    known = keys.is_not_null()
    keys, values = keys.filter(known), values.filter(known)
    vtype = _spark_type(values.dtype)
    if keys.is_empty():
        return df, F.lit(None).cast(vtype)
    ktype = _spark_type(keys.dtype) if keys.dtype != pl.Float32 else "float"
    if len(keys) <= MAP_LITERAL_MAX:
        mapping = F.map_from_arrays(
            F.lit(keys.to_list()).cast(f"array<{ktype}>"), F.lit(values.to_list()).cast(f"array<{vtype}>")
        )
        return df, F.try_element_at(mapping, source)
    import pyarrow as pa

    spark = df.sparkSession
    table = pa.table({f"{tag}_k": keys.to_arrow(), f"{tag}_v": values.to_arrow()})
    small = spark.createDataFrame(table).select(
        F.col(f"{tag}_k").cast(ktype).alias(f"{tag}_k"), F.col(f"{tag}_v").cast(vtype).alias(f"{tag}_v")
    )
    joined = df.join(F.broadcast(small), source == F.col(f"{tag}_k"), "left").drop(f"{tag}_k")
    return joined, F.col(f"{tag}_v")


def _numbers(df: DataFrame, config: Config) -> DataFrame:
    """Text columns used by ``data.derive`` read as numbers when every value is one
    (:func:`healthgap.sql.numbers_from_text`, decided and converted on their distinct values)."""
    used = [c for text in config.data.derive.values() for c in _sql_columns(text)]
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    text = [c for c in dict.fromkeys(used) if types.get(c) == "string"]
    if not text:
        return df
    for name, counts in _distinct_counts(df, text).items():
        values = counts.get_column("value").alias(name)
        converted = numbers_from_text(pl.LazyFrame(values.to_frame()), [name]).collect().get_column(name)
        if converted.dtype == pl.String:
            continue  # not all numbers: left as text
        df, column = _lookup(df, _c(name), values, converted, f"__n_{len(df.columns)}")
        df = df.withColumn(name, column)
    return df


def _derive(df: DataFrame, config: Config) -> DataFrame:
    """The config's derived columns, in order, as Spark SQL (decimal literals read as doubles)."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    if not config.data.derive:
        return df
    df = _numbers(df, config)
    available = set(df.columns)
    for name, text in config.data.derive.items():
        if any(c not in available for c in _sql_columns(text)):
            continue  # reported by validate(); left out as polars leaves it out
        try:
            candidate = df.withColumn(name, F.expr(_float_literals(text)))
        except AnalysisException:
            continue
        df = candidate
        available.add(name)
    return df


def _native(name: str, dtype: pl.DataType, config: Config) -> bool:
    """Whether the column's canonical value is its value as stored (a cast, no lookup)."""
    kind = config.contract[name].kind
    if config.data.codes.get(name):
        return False
    if kind == "integer":
        return dtype.is_integer()
    if kind == "float":
        return dtype.is_numeric()
    if kind == "boolean":
        return dtype == pl.Boolean
    return False


def _converted(df: DataFrame, config: Config) -> tuple[DataFrame, list[str], dict[str, dict[str, Any]]]:
    """The canonical columns before the fill-ins (as ``data._convert`` gives them), the columns
    cast natively, and the validation counts of the looked-up columns."""
    from pyspark.sql import functions as F

    chosen, _ = _select(config, df.columns)
    types = {f.name: f.dataType for f in df.schema.fields}
    df = df.select(*[_c(source).alias(canon) for canon, source in chosen.items()])
    dtypes = {canon: _polars_type(types[source]) for canon, source in chosen.items()}
    native = [n for n in chosen if n != "person_id" and _native(n, dtypes[n], config)]
    looked = [n for n in chosen if n != "person_id" and n not in native]
    counts = _distinct_counts(df, looked) if looked else {}
    columns: dict[str, Column] = {}
    checks: dict[str, dict[str, Any]] = {}
    for name in chosen:
        if name == "person_id":
            text = F.regexp_replace(_c(name).cast("string"), r"^\s+|\s+$", "")
            columns[name] = F.when(F.length(text) > 0, text)
        elif name in native:
            columns[name] = _c(name).cast(_spark_type(config.contract[name].dtype))
        else:
            found = counts[name]
            canon, raw = _convert(name, dtypes[name], config)
            mapped = found.select(pl.col("value").alias(name), pl.col("rows")).with_columns(
                canon.alias("__canon"), (raw.is_not_null() & canon.is_null()).alias("__bad")
            )
            if mapped.filter(pl.col(name).is_null() & pl.col("__canon").is_not_null()).height:
                raise DataError(f"{name}: a missing value converts to a value")  # pragma: no cover
            checks[name] = _lookup_checks(mapped, config.contract[name])
            if _unchanged(mapped, name, dtypes[name], config):
                columns[name] = _c(name)  # text already canonical: nothing to look up
                continue
            df, columns[name] = _lookup(
                df,
                _c(name),
                mapped.get_column(name),
                mapped.get_column("__canon").cast(config.contract[name].dtype),
                f"__l{len(columns)}",
            )
    out = df.select(*[columns[n].alias(n) for n in chosen])
    return out, native, checks


def _unchanged(mapped: pl.DataFrame, name: str, dtype: pl.DataType, config: Config) -> bool:
    """Whether a text column's values are all canonical already (as ``healthgap synth`` writes them)."""
    if dtype != pl.String or config.contract[name].dtype != pl.String:
        return False
    return mapped.get_column(name).equals(mapped.get_column("__canon"), check_names=False)


def _lookup_checks(mapped: pl.DataFrame, column: Any) -> dict[str, Any]:
    """Validation counts of a looked-up column, from its distinct values and their rows."""
    rows = pl.col("rows")
    exprs = [
        rows.filter(pl.col("__canon").is_null()).sum().alias("nulls"),
        rows.filter(pl.col("__bad")).sum().alias("invalid"),
    ]
    if column.minimum is not None and column.maximum is not None:
        number = pl.col("__canon").cast(pl.Float64)
        exprs += [
            rows.filter(number < column.minimum).sum().alias("below"),
            rows.filter(number > column.maximum).sum().alias("above"),
            number.min().alias("minimum"),
            number.max().alias("maximum"),
        ]
    return mapped.select(exprs).row(0, named=True)


def load_spark(spark: SparkSession, config: Config) -> DataFrame:
    """The canonical person table as a Spark DataFrame: what :func:`healthgap.data.load` gives.

    Same columns, order, types (Spark's ``bigint``, ``double``, ``boolean``, ``string``) and
    values; not validated (see :func:`aggregate_spark`'s validation table).
    """
    converted, _, _ = _converted(_derive(_read(spark, config), config), config)
    return _finish_columns(converted, config)


def _finish_columns(df: DataFrame, config: Config) -> DataFrame:
    from pyspark.sql import functions as F

    columns = {n: _c(n) for n in df.columns}
    if "ethnicity" in columns:
        columns["ethnicity"] = F.coalesce(columns["ethnicity"], F.lit("Not stated"))
    if "imd_decile" in columns and "imd_quintile" not in columns:
        columns["imd_quintile"] = F.floor((columns["imd_decile"] + 1) / 2).cast("bigint")
    return df.select(*[columns[n].alias(n) for n in config.contract if n in columns])


def _age_band(age: Column) -> Column:
    from pyspark.sql import functions as F

    labels = F.array(*[F.lit(b) for b in AGE_BANDS])
    index = F.least(F.floor(age / 5), F.lit(len(AGE_BANDS) - 1)).cast("int") + 1
    return F.when(age >= 0, F.element_at(labels, index))


def _indicator_parts(plan: Plan) -> dict[str, dict[str, Column]]:
    from pyspark.sql import functions as F

    out = {}
    for compiled in plan.indicators:
        ind = compiled.indicator
        absent = set(compiled.absent)
        den = F.expr(_float_literals(replace_columns(ind.denominator, absent)))
        num = F.expr(_float_literals(replace_columns(ind.numerator, absent)))
        population = F.coalesce(den, F.lit(False))
        counted = population & num.isNotNull()
        if ind.kind == "proportion":
            numerator = F.coalesce(counted & num, F.lit(False))
        else:
            numerator = F.when(counted, num).otherwise(F.lit(0))
        out[ind.name] = {
            "numerator": numerator,
            "denominator": counted,
            "excluded": population & num.isNull(),
        }
    return out


def _stat(stat: Stat, parts: dict[str, dict[str, Column]]) -> Column:
    from pyspark.sql import functions as F

    zero = F.lit(0.0) if stat.dtype == pl.Float64 else F.lit(0)
    target = "double" if stat.dtype == pl.Float64 else "bigint"
    if stat.op == "len":
        return F.count(F.lit(1)).alias(stat.name)
    if stat.op in ("numerator", "denominator", "excluded"):
        value = parts[stat.column][stat.op].cast("bigint")
        return F.coalesce(F.sum(value), zero).cast(target).alias(stat.name)
    col = _c(stat.column)
    if stat.op == "count":
        return F.count(col).cast("bigint").alias(stat.name)
    if stat.op == "sum":
        value = col.cast(target)
    elif stat.op == "sumsq":
        value = col.cast("double") * col.cast("double")
    elif stat.op == "eq":
        value = F.when(col == F.lit(stat.other), F.lit(1)).otherwise(F.lit(0)).cast("bigint")
    else:  # both
        value = (col & _c(stat.other)).cast("bigint")
    return F.coalesce(F.sum(value), zero).cast(target).alias(stat.name)


def _keyed(df: DataFrame, plan: Plan) -> DataFrame:
    keys = {*plan.cell_keys, *(k for keys in plan.geography.values() for k in keys)} - {AGE_BAND}
    return df.withColumns({**{k: _c(k).cast("string") for k in sorted(keys)}, AGE_BAND: _age_band(_c("age"))})


def _arrow(df: DataFrame) -> pl.DataFrame:
    out = pl.from_arrow(df.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out


def _tables(df: DataFrame, plan: Plan) -> dict[str, pl.DataFrame]:
    """Every table of ``plan``: ``cells``, the geography tables and ``ages`` in one pass (grouping
    sets, told apart by their grouping id), ``values`` in another."""
    from pyspark.sql import functions as F

    parts = _indicator_parts(plan)
    keyed = _keyed(df, plan)
    sets = {"cells": plan.cell_keys, **plan.geography, "ages": plan.age_keys}
    union = list(dict.fromkeys(k for keys in sets.values() for k in keys))
    distinct = list(dict.fromkeys(sets.values()))
    grouped = _arrow(
        keyed.groupingSets([[_c(k) for k in keys] for keys in distinct], *[_c(k) for k in union]).agg(
            *[_stat(s, parts) for s in plan.stats], F.grouping_id().alias("__set")
        )
    )
    stats = [s.name for s in plan.stats]
    out = {}
    for name, keys in sets.items():
        number = sum(1 << (len(union) - 1 - i) for i, k in enumerate(union) if k not in keys)
        part = grouped.filter(pl.col("__set") == number)
        out[name] = part.select(*keys, PEOPLE) if name == "ages" else part.select(*keys, *stats)
    if plan.value_measures:
        stacked = keyed.select(
            *[_c(k) for k in plan.cell_keys],
            F.explode(
                F.array(
                    *[
                        F.struct(F.lit(m).alias(MEASURE), _c(m).cast("bigint").alias(VALUE))
                        for m in plan.value_measures
                    ]
                )
            ).alias("__s"),
        ).select(*[_c(k) for k in plan.cell_keys], F.col(f"__s.{MEASURE}"), F.col(f"__s.{VALUE}"))
        out["values"] = _arrow(
            stacked.where(F.col(VALUE).isNotNull())
            .groupBy(*[_c(k) for k in plan.cell_keys], MEASURE, VALUE)
            .agg(F.count(F.lit(1)).alias(PEOPLE))
        )
    return {name: out[name] for name in ("cells", "values", "ages", *plan.geography) if name in out}


def _validation(
    converted: DataFrame, native: Iterable[str], checks: dict[str, dict[str, Any]], config: Config
) -> pl.DataFrame:
    """The wide validation row (as :func:`healthgap.engine._polars.validation_polars` gives it)."""
    from pyspark.sql import functions as F

    aggs = [F.count(F.lit(1)).alias(":rows")]
    for name in ["person_id", *native]:
        if name not in converted.columns:
            continue
        column = config.contract[name]
        col = _c(name)
        aggs += [(F.count(F.lit(1)) - F.count(col)).alias(f"{name}:nulls"), F.lit(0).alias(f"{name}:invalid")]
        if column.minimum is not None and column.maximum is not None:
            number = col.cast("double")
            aggs += [
                F.coalesce(F.sum(F.when(number < column.minimum, 1).otherwise(0)), F.lit(0)).alias(
                    f"{name}:below"
                ),
                F.coalesce(F.sum(F.when(number > column.maximum, 1).otherwise(0)), F.lit(0)).alias(
                    f"{name}:above"
                ),
                F.min(number).alias(f"{name}:minimum"),
                F.max(number).alias(f"{name}:maximum"),
            ]
    row = dict(_arrow(converted.agg(*aggs)).row(0, named=True))
    for name, found in checks.items():
        row.update({f"{name}:{k}": v for k, v in found.items()})
    return pl.DataFrame([{n: row.get(n) for n in _validation_order(converted.columns, row)}])


def _validation_order(columns: list[str], row: dict[str, Any]) -> list[str]:
    """The wide row's keys in the order polars' query writes them (column by column)."""
    out = [":rows"]
    for name in columns:
        out += [
            k
            for k in (f"{name}:{s}" for s in ("nulls", "invalid", "below", "above", "minimum", "maximum"))
            if k in row
        ]
    return out


def aggregate_spark(
    spark: SparkSession, config: Config
) -> tuple[Plan, dict[str, pl.DataFrame], pl.DataFrame]:
    """(plan, tables, the validation row) of ``config``'s file, computed by Spark."""
    converted, native, checks = _converted(_derive(_read(spark, config), config), config)
    people = _finish_columns(converted, config)
    schema = {f.name: _polars_type(f.dataType) for f in people.schema.fields}
    plan = plan_of(
        config, {n: config.contract[n].dtype if n in config.contract else t for n, t in schema.items()}
    )
    return plan, _tables(people, plan), _validation(converted, native, checks, config)
