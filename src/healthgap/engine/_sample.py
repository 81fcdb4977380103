"""The model sample: a stratified sample of the person table for fitting the models.

The models do not need ten million people: their metrics and fairness audit are as precise as
their test set, and a few hundred thousand people give intervals far narrower than the
differences the book reports. :func:`model_sample` keeps the whole table when it has at most
``model.sample_size`` people (the default book is unchanged); otherwise it draws a sample
stratified by the outcome (the model's target, a count read as "any") and the audited dimension
(the first ordered dimension with a disadvantaged end, e.g. deprivation), each stratum in
proportion to its size, so the outcome's prevalence in every group is the table's.

- polars: each person's place in its stratum is the rank of a seeded hash of their row number;
  the first ``n_s * size / n`` (halves rounded up) of each stratum are kept (exactly proportional, the same
  sample every time). Only three columns are read to choose the rows; the sample is then read
  from the scan with a filter on the row number, in the table's order.
- spark: :meth:`pyspark.sql.DataFrame.sampleBy` with the same fraction in each stratum
  (Bernoulli sampling: about ``size`` people), run on the cluster; only the sample comes back.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from healthgap.config import Config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["model_sample", "strata_of"]

_ROW = "__row"
_STRATUM = "__stratum"


def strata_of(config: Config, schema: pl.Schema) -> list[str]:
    """The columns the sample is stratified by: the target and the audited dimension, when present."""
    names = [config.model.target]
    ordered = next(
        (d for d in config.dimensions if d.ordered and d.disadvantaged and len(d.order) >= 2), None
    )
    if ordered is not None:
        names.append(ordered.name)
    return [n for n in dict.fromkeys(names) if n in schema]


def _stratum(columns: list[str], schema: pl.Schema, target: str) -> pl.Expr:
    """The stratum label: the target as "any" (a count above 0) and the dimension's level."""
    parts = [
        (pl.col(c) > 0).cast(pl.String)
        if c == target and schema[c].is_numeric()
        else pl.col(c).cast(pl.String)
        for c in columns
    ]
    return pl.concat_str([p.fill_null("~") for p in parts], separator="|") if parts else pl.lit("")


def _polars(
    people: pl.LazyFrame, *, size: int, columns: list[str], target: str, seed: int, n: int
) -> pl.LazyFrame:
    schema = people.collect_schema()
    indexed = people.with_row_index(_ROW)
    rank = pl.col(_ROW).hash(seed).rank("ordinal").over(_STRATUM)
    quota = (pl.len().over(_STRATUM) * (size / n) + 0.5).floor()  # halves rounded up
    keep = (
        indexed.select(_ROW, _stratum(columns, schema, target).alias(_STRATUM))
        .filter(rank <= quota)
        .select(_ROW)
        .collect()
        .get_column(_ROW)
    )
    return indexed.filter(pl.col(_ROW).is_in(keep.implode())).drop(_ROW)


def _spark(
    source: Path,
    *,
    size: int,
    columns: list[str],
    target: str,
    seed: int,
    n: int,
    schema: pl.Schema,
    spark: SparkSession,
) -> pl.LazyFrame:
    from pyspark.sql import functions as F

    from healthgap.engine._spark import _c

    df = spark.read.parquet(str(source))
    parts = [
        (_c(c) > 0).cast("string") if c == target and schema[c].is_numeric() else _c(c).cast("string")
        for c in columns
    ]
    stratum = F.concat_ws("|", *[F.coalesce(p, F.lit("~")) for p in parts]) if parts else F.lit("")
    keyed = df.withColumn(_STRATUM, stratum)
    found = [r[0] for r in keyed.select(_STRATUM).distinct().collect()]
    sample = keyed.sampleBy(_STRATUM, {s: min(1.0, size / n) for s in found}, seed=seed).drop(_STRATUM)
    out = pl.from_arrow(sample.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out.select(pl.col(c).cast(t) for c, t in schema.items()).lazy()


def model_sample(
    config: Config,
    people: pl.LazyFrame,
    *,
    source: Path | None = None,
    engine: str | None = None,
    spark: SparkSession | None = None,
) -> pl.LazyFrame:
    """The people the models are fitted on: all of ``people``, or a stratified sample of
    ``config.model.sample_size`` of them.

    Parameters
    ----------
    config : the loaded config (``model.sample_size``, ``model.target``, ``model.seed``, the
        dimensions).
    people : the canonical person table (lazy).
    source : the Parquet file ``people`` scans (needed with Spark).
    engine : ``"polars"`` or ``"spark"``; default the config's ``data.engine``.
    spark : the Spark session (default: one with the config's ``data.spark.master``).

    Returns
    -------
    polars.LazyFrame
        ``people`` itself when it has at most ``sample_size`` rows, else the sample (the
        columns and dtypes of ``people``).

    References
    ----------
    .. [1] Cochran, W. G. (1977), Sampling Techniques, 3rd ed., ch. 5 (proportional allocation
       in stratified random sampling).
    .. [2] Apache Spark, ``DataFrame.sampleBy``,
       https://spark.apache.org/docs/latest/api/python/reference/pyspark.sql/api/pyspark.sql.DataFrame.sampleBy.html
    """
    size = config.model.sample_size
    n = int(people.select(pl.len()).collect().item())
    if n <= size:
        return people
    schema = people.collect_schema()
    columns = strata_of(config, schema)
    seed, target = config.model.seed, config.model.target
    if (engine or config.data.engine) == "spark" and source is not None:
        from healthgap.engine._spark import spark_session

        session = spark or spark_session(config.data.spark_master)
        return _spark(
            source, size=size, columns=columns, target=target, seed=seed, n=n, schema=schema, spark=session
        )
    return _polars(people, size=size, columns=columns, target=target, seed=seed, n=n)
