"""The data check on Spark: :func:`healthgap.data.validate`'s report, counted by the cluster.

With ``data.engine: spark`` the check before a render (and ``healthgap validate``) must not read
the person table on the driver. :func:`validate_spark` gives the same
:class:`~healthgap.data.ValidationReport` (the same problems and warnings, so the same
:class:`~healthgap.errors.DataError` text) as the polars check, from what Spark sends back:

- the file's column names (polars reads the Parquet footer or the CSV header, no rows), and the
  derived columns' problems, from :func:`healthgap.sql.derive` run on the distinct values of the
  text columns the expressions use (whether a text column holds only numbers is a question
  about its distinct values);
- for each column that needs converting (text codes, numbers written as text, code mappings)
  or whose code distribution the report shows: its distinct values, with the rows holding each
  and the first row holding it (ties in the report's "most common first" lists are in order of
  first appearance, as polars gives them). The driver converts them with
  :func:`healthgap.data`'s own ``_convert`` and counts the missing, invalid and out-of-range rows
  by weighting each distinct value by its rows;
- for the other columns (numbers stored as numbers), their missing values, minimum, maximum and
  rows out of range, counted by Spark; for ``person_id``, the missing and duplicated identifiers
  and the first five duplicated ones.

These form the one row of counts :func:`healthgap._validation.column_aggregates` gives on polars,
and :func:`healthgap.data.complete_report` turns it into the report with the same code (the
wording is written once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from healthgap._validation import ValidationReport, column_aggregates
from healthgap.config import Config
from healthgap.data import _canonical, _convert, _select, _source, complete_report, conclude, new_report
from healthgap.sql import sql_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["validate_spark", "target_counts_spark", "ROW_ID"]

#: The column numbering the file's rows in Spark (increasing in file order).
ROW_ID = "__healthgap_row"
_FIRST = "__first"
_ROWS = "__rows"


def _weighted(frame: pl.DataFrame, name: str, keys: list[str], config: Config) -> dict[str, Any]:
    """The entries ``keys`` of the validation row for column ``name``, from its distinct values.

    ``frame`` has ``value`` (the value as polars reads it), ``__rows`` and ``__first`` (the
    first row holding it). Each distinct value is converted as :func:`healthgap.data.validate`
    converts rows, and weighted by its rows.
    """
    col = config.contract[name]
    canon, raw = _convert(name, frame.schema["value"], config)
    d = frame.rename({"value": name}).with_columns(canon.alias("__c"), raw.alias("__r"))
    rows, c, r = pl.col(_ROWS), pl.col("__c"), pl.col("__r")
    bad = r.is_not_null() & c.is_null()
    out: dict[str, Any] = {}
    for key in keys:
        stat = key.split(":", 1)[1]
        if stat == "null":
            out[key] = int(d.select(rows.filter(c.is_null()).sum()).item())
        elif stat == "bad":
            out[key] = int(d.select(rows.filter(bad).sum()).item())
        elif stat == "badvals":
            out[key] = _most_common(d.filter(bad).select(r.cast(pl.String).alias("v"), rows, _FIRST), 6)
        elif stat == "outside":
            outside = (c < col.minimum) | (c > col.maximum)
            out[key] = int(d.select(rows.filter(outside).sum()).item())
        elif stat in ("min", "max"):
            number = c.cast(pl.Float64)
            out[key] = d.select(number.min() if stat == "min" else number.max()).item()
        elif stat == "dist":
            shown = d.filter(c.is_not_null()).select(c.cast(pl.String).alias("v"), rows, _FIRST)
            out[key] = _most_common(shown, None)
    return out


def _most_common(frame: pl.DataFrame, n: int | None) -> list[dict[str, Any]]:
    """``[{"v": value, "count": rows}, ...]`` most common first, ties in order of first appearance
    (as polars' ``value_counts(sort=True)`` orders them), the first ``n``."""
    counted = (
        frame.group_by("v")
        .agg(pl.col(_ROWS).sum().alias("count"), pl.col(_FIRST).min())
        .sort(["count", _FIRST], descending=[True, False])
    )
    if n is not None:
        counted = counted.head(n)
    return counted.select("v", "count").to_dicts()


def _shape(spark_df: DataFrame, schema: pl.Schema, config: Config) -> pl.LazyFrame:
    """A small polars frame with the file's columns and types, holding (padded with nulls) the
    distinct values of the text columns ``data.derive`` uses: :func:`healthgap.sql.derive` on it
    finds the same numeric text columns and the same problems as on the whole file."""
    from healthgap.engine._spark import _distinct_counts

    used = [c for text in config.data.derive.values() for c in sql_columns(text)]
    text = [c for c in dict.fromkeys(used) if schema.get(c) == pl.String]
    found = _distinct_counts(spark_df, text) if text else {}
    height = max([1, *(f.height for f in found.values())])
    columns = []
    for name, dtype in schema.items():
        if name in found:
            values = found[name].get_column("value").cast(pl.String)
            values = values.extend(pl.Series([None] * (height - len(values)), dtype=pl.String))
            columns.append(values.alias(name))
        else:
            columns.append(pl.Series(name, [None] * height, dtype=dtype))
    return pl.DataFrame(columns).lazy()


def _row(
    spark: SparkSession, config: Config, schema: pl.Schema, keys: dict[str, list[str]]
) -> dict[str, Any]:
    """The validation row (as ``column_aggregates`` computes it on polars), counted by Spark."""
    from pyspark.sql import functions as F

    from healthgap.engine._spark import _c, _derive, _distinct_counts, _native, _read

    raw = _read(spark, config).withColumn(ROW_ID, F.monotonically_increasing_id())
    derived = _derive(raw, config)
    chosen, _ = _select(config, derived.columns)
    df = derived.select(*[_c(source).alias(canon) for canon, source in chosen.items()], F.col(ROW_ID))
    present = list(schema.names())
    # numbers stored as numbers, without a code distribution to show, are counted by Spark; the
    # rest come back as distinct values
    native = [
        n
        for n in present
        if n != "person_id" and _native(n, schema[n], config) and f"{n}:dist" not in keys[n]
    ]
    counted = [n for n in present if n != "person_id" and n not in native]
    row: dict[str, Any] = {}
    if counted:
        for name, found in _distinct_counts(df, counted, first=ROW_ID).items():
            frame = found.rename({"rows": _ROWS, "first": _FIRST}).with_columns(
                pl.col("value").cast(schema[name], strict=False)
            )
            row.update(_weighted(frame, name, keys[name], config))
    aggs = [F.count(F.lit(1)).alias(":rows")]
    ident = None
    if "person_id" in present:
        text = F.regexp_replace(_c("person_id").cast("string"), r"^\s+|\s+$", "")
        ident = F.when(F.length(text) > 0, text)
        aggs.append((F.count(F.lit(1)) - F.count(ident)).alias("person_id:null"))
    for name in native:
        col = config.contract[name]
        value = _c(name).cast("double")
        aggs.append((F.count(F.lit(1)) - F.count(value)).alias(f"{name}:null"))
        if col.minimum is not None and col.maximum is not None:
            outside = (value < col.minimum) | (value > col.maximum)
            aggs += [
                F.coalesce(F.sum(F.when(outside, 1).otherwise(0)), F.lit(0)).alias(f"{name}:outside"),
                F.min(value).alias(f"{name}:min"),
                F.max(value).alias(f"{name}:max"),
            ]
        row.update({k: 0 for k in keys[name] if k.endswith(":bad")})
        row.update({k: [] for k in keys[name] if k.endswith(":badvals")})
    totals = df.agg(*aggs).collect()[0].asDict()
    row.update({k: (int(v) if isinstance(v, int) else v) for k, v in totals.items()})
    if ident is not None:
        row.update(_duplicates(df.select(ident.alias("id"), F.col(ROW_ID))))
    return row


def _duplicates(ids: DataFrame) -> dict[str, Any]:
    """``person_id:dup`` (rows sharing an identifier with another row) and ``person_id:dupvals``
    (the first five such identifiers, in order of first appearance)."""
    from pyspark.sql import functions as F

    shared = (
        ids.where(F.col("id").isNotNull())
        .groupBy("id")
        .agg(F.count(F.lit(1)).alias("n"), F.min(ROW_ID).alias(_FIRST))
        .where(F.col("n") > 1)
    )
    total = shared.agg(F.sum("n").alias("rows")).collect()[0]["rows"]
    if not total:
        return {"person_id:dup": 0, "person_id:dupvals": []}
    first = shared.orderBy(_FIRST).limit(5).select("id").collect()
    return {"person_id:dup": int(total), "person_id:dupvals": [r["id"] for r in first]}


def validate_spark(
    config: Config, *, spark: SparkSession | None = None, raise_errors: bool = True
) -> ValidationReport:
    """:func:`healthgap.data.validate`'s report of ``config``'s file, counted by Spark.

    Parameters
    ----------
    config : the loaded config.
    spark : the Spark session (default: one with the config's ``data.spark_master``).
    raise_errors : raise :class:`~healthgap.errors.DataError` listing every problem (default).

    Returns
    -------
    ValidationReport
        The polars check's report: rows, completeness, missing counts, code distributions,
        problems and warnings (distributions of numbers, sums of weights, in the same order).

    Raises
    ------
    healthgap.errors.DataError
        The data does not pass the check: the same text as :func:`healthgap.data.validate`'s.

    References
    ----------
    .. [1] Apache Spark, "Spark SQL, DataFrames and Datasets Guide",
       https://spark.apache.org/docs/latest/sql-programming-guide.html
    """
    lf, names, problems = _source(config)
    report = new_report(config, names, problems)
    if lf is not None:
        from healthgap.engine._spark import _read, spark_session

        session = spark or spark_session(config.data.spark_master)
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]
        from pyspark.errors import PySparkException

        try:
            shape = _shape(_read(session, config), lf.collect_schema(), config)
            canonical, problems = _canonical(config, shape, names)
            if canonical is None:
                report.problems += problems
                return conclude(report, config, raise_errors=raise_errors)
            report.problems += problems
            schema = canonical.collect_schema()
            keys = {n: _keys(config, n) for n in schema.names()}
            row: dict | Exception = _row(session, config, schema, keys)
        except (PySparkException, Py4JError) as exc:  # Spark could not read or count the file
            row = exc
            schema = pl.Schema()
        complete_report(report, config, schema.names(), row)
    return conclude(report, config, raise_errors=raise_errors)


def _keys(config: Config, name: str) -> list[str]:
    """The validation row's entries for column ``name`` (as ``column_aggregates`` names them)."""
    exprs = column_aggregates(config.contract[name], pl.col("c"), pl.col("r"))
    return [e.meta.output_name() for e in exprs]


def target_counts_spark(config: Config, *, spark: SparkSession | None = None) -> tuple[int, int] | None:
    """(people with the model target, people without it), counted by Spark; ``None`` when the
    data has no target column (as ``healthgap validate`` counts them on polars)."""
    from pyspark.sql import functions as F

    from healthgap.engine._spark import load_spark, spark_session

    session = spark or spark_session(config.data.spark_master)
    people = load_spark(session, config)
    target = config.model.target
    if target not in people.columns:
        return None
    value = F.col(target).cast("bigint")
    row = people.agg(
        F.coalesce(F.sum(F.when(value > 0, 1).otherwise(0)), F.lit(0)).alias("cases"),
        F.coalesce(F.sum(F.when(value == 0, 1).otherwise(0)), F.lit(0)).alias("others"),
    ).collect()[0]
    return int(row["cases"]), int(row["others"])
