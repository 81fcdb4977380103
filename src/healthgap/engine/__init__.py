"""The person -> aggregate engine: every count the descriptive statistics need, in one pass per table.

:func:`aggregate` reads the person table a config names and returns :class:`Aggregates`: a few
small tables (thousands of rows, never one row per person) from which the descriptive analyses
(prevalence and outcome rates, DSRs, observed/expected, treatment, detection, waits, the
pyramid, composition, the funnels and maps) can be computed without the person table. Two
interchangeable backends give the same tables:

- ``polars`` (default): lazy queries over :func:`healthgap.data.load`, run with the streaming
  engine; the person table is never in memory whole.
- ``spark``: pyspark, in local mode (``local[*]``) or on a cluster (any master URL; a session
  can be passed in, e.g. from Databricks Connect). Spark reads the same Parquet or CSV file
  and applies the same renames, code mappings and derived columns (the config's
  ``data.derive`` and indicator SQL run unchanged as Spark SQL); the code mappings are
  computed by polars on each column's distinct values and sent back as lookups, so every
  value is converted exactly as polars converts it. Only the distinct values and the
  aggregated tables come back to the driver.

The tables
----------
Every key column is text (levels as the analyses name them: IMD quintile ``"1"``), except
``age`` and ``value`` (whole numbers); missing levels are kept as null keys (the analyses drop
them), so every table adds up to all the people. Every statistic column is additive (counts and
sums), so any table can be rolled up to coarser keys by summing (:meth:`Aggregates.by`).

``cells``
    Keys: each equity dimension present (config order, ``age_band`` excluded), ``age_band``
    (ESP2013, ``"0-4"`` ... ``"90+"``, null when age is missing or negative) and ``sex``.
    The finest cells: every by-dimension table, the deprivation x ethnic group and sex x age
    band intersections, the pyramid and the observed/expected ratios are roll-ups of it.
    Statistics (:data:`healthgap.engine._plan.Stat`), in this order:

    - ``people``: rows;
    - for each measure of the config present, ``<m>:n`` (people with a recorded value) and:
      flags ``<m>:sum`` (true); counts and days ``<m>:sum``; numbers ``<m>:sum`` and
      ``<m>:sumsq`` (Float64); categories ``<m>:=<code>`` for each code;
    - for each flag with a true status (``true_<m>``): ``true_<m>:n``, ``true_<m>:sum`` (truly
      affected), ``true_<m>:recorded`` (truly affected and recorded);
    - for each indicator that can be computed: ``<i>:numerator``, ``<i>:denominator``,
      ``<i>:excluded`` (as :func:`healthgap.sql.indicator_counts`).
``values``
    Keys: the cell keys, ``measure`` and ``value``; ``people``. For each count and days
    measure, the people with each recorded value: the distribution of events per person (for
    DSRs of non-independent events) and of waits in days (medians, the share over 126 days).
``ages``
    Keys: ``age`` (single years) and ``sex``; ``people`` (median age, the share aged 65+).
``lsoa``, ``locality``, ``gp_practice``
    For each geography column present: keys the unit, ``locality`` (for the finer units, when
    present: an area's locality), ``age_band`` and ``sex``; the statistics of ``cells``.
``validation``
    One row per canonical column read from the file: ``rows``, ``nulls`` (after code mapping),
    ``invalid`` (values that are not valid codes or numbers), ``below`` / ``above`` the
    column's range, ``minimum`` / ``maximum`` (Float64; null for columns without a range).

Both engines return the same rows in the same order (sorted by the keys, nulls last), the same
integer counts, and sums of numbers equal to floating-point rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from healthgap.config import Config
from healthgap.engine._cells import MAX_CELLS, cells_plan, dimension_cells
from healthgap.engine._check import target_counts_spark, validate_spark
from healthgap.engine._plan import (
    AGE_BAND,
    MEASURE,
    PEOPLE,
    VALIDATION_COLUMNS,
    VALUE,
    Plan,
    Stat,
    plan_of,
)
from healthgap.engine._prepare import DATA_CACHE_ENV, prepare, prepared_path
from healthgap.engine._sample import model_sample, strata_of
from healthgap.engine._shared import SHARED_CACHE_ENV, data_digest, scan, shared, source_of
from healthgap.engine._spark import (
    MAP_LITERAL_MAX,
    NO_JAVA,
    NO_PYSPARK,
    SPARK_DEFAULTS,
    load_spark,
    spark_session,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "aggregate",
    "dimension_cells",
    "cells_plan",
    "MAX_CELLS",
    "prepare",
    "prepared_path",
    "validate_spark",
    "target_counts_spark",
    "model_sample",
    "strata_of",
    "DATA_CACHE_ENV",
    "SHARED_CACHE_ENV",
    "scan",
    "shared",
    "source_of",
    "data_digest",
    "NO_JAVA",
    "Aggregates",
    "Engine",
    "ENGINES",
    "spark_session",
    "load_spark",
    "plan_of",
    "Plan",
    "Stat",
    "TABLES",
    "AGE_BAND",
    "PEOPLE",
    "MEASURE",
    "VALUE",
    "VALIDATION_COLUMNS",
    "SPARK_DEFAULTS",
    "MAP_LITERAL_MAX",
    "NO_PYSPARK",
    "UNKNOWN_ENGINE",
    "UNKNOWN_TABLE",
    "NOT_KEYS",
]

Engine = Literal["polars", "spark"]
ENGINES: tuple[str, ...] = ("polars", "spark")
#: The tables every run returns (``values`` only with count or days measures, the geography
#: tables only for the columns present).
TABLES = ("cells", "values", "ages", "lsoa", "locality", "gp_practice", "validation")

UNKNOWN_ENGINE = "Unknown engine {engine!r}. Fix: use one of {valid}."
UNKNOWN_TABLE = "No aggregate table {name!r} (tables: {tables})."
NOT_KEYS = "{missing} not among the keys of the {table} table ({keys})."

_INTEGER_KEYS = ("age", VALUE)


@dataclass(frozen=True)
class Aggregates:
    """The aggregated tables of one dataset (see the module docstring for their schema).

    Attributes
    ----------
    engine : ``"polars"`` or ``"spark"``: which backend computed them.
    plan : what was aggregated (keys, statistics, indicators).
    tables : table name -> frame (keys first, sorted by them, nulls last).
    keys : table name -> its key columns.
    """

    engine: str
    plan: Plan
    tables: dict[str, pl.DataFrame]
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pl.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(UNKNOWN_TABLE.format(name=name, tables=", ".join(self.tables))) from None

    @property
    def people(self) -> int:
        """The number of rows (people) in the table."""
        return int(self.tables["cells"].get_column(PEOPLE).sum())

    def by(self, keys: Sequence[str], *, table: str = "cells") -> pl.DataFrame:
        """``table`` rolled up to ``keys`` (statistics summed), sorted by them, nulls last.

        Parameters
        ----------
        keys : some of the table's keys, e.g. ``["imd_quintile", "age_band"]``; ``[]`` for one
            row of totals.
        table : ``cells``, ``values``, ``ages`` or a geography table.
        """
        frame = self[table]
        own = self.keys[table]
        missing = [k for k in keys if k not in own]
        if missing:
            raise KeyError(NOT_KEYS.format(missing=", ".join(missing), table=table, keys=", ".join(own)))
        stats = [c for c in frame.columns if c not in own]
        if not keys:
            return frame.select(pl.col(stats).sum())
        return frame.group_by(list(keys)).agg(pl.col(stats).sum()).sort(list(keys), nulls_last=True)


def _finish(table: pl.DataFrame, keys: Sequence[str], stats: Sequence[Stat] | None) -> pl.DataFrame:
    """Keys cast (text, or whole numbers for ``age``/``value``), statistics typed, sorted by the keys."""
    key_exprs = [pl.col(k).cast(pl.Int64 if k in _INTEGER_KEYS else pl.String) for k in keys]
    if stats is None:
        stat_exprs = [pl.col(PEOPLE).cast(pl.Int64)]
    else:
        stat_exprs = [pl.col(s.name).cast(s.dtype) for s in stats]
    return table.select(*key_exprs, *stat_exprs).sort(list(keys), nulls_last=True)


def _validation_table(row: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The wide validation row as one row per column (:data:`VALIDATION_COLUMNS`)."""
    values = row.row(0, named=True)
    names = [k.split(":", 1)[0] for k in values if k.endswith(":nulls")]
    records = []
    for name in names:
        records.append(
            {
                "column": name,
                "rows": int(values[":rows"]),
                "nulls": int(values[f"{name}:nulls"] or 0),
                "invalid": int(values[f"{name}:invalid"] or 0),
                "below": None if f"{name}:below" not in values else int(values[f"{name}:below"] or 0),
                "above": None if f"{name}:above" not in values else int(values[f"{name}:above"] or 0),
                "minimum": values.get(f"{name}:minimum"),
                "maximum": values.get(f"{name}:maximum"),
            }
        )
    schema = {
        "column": pl.String,
        "rows": pl.Int64,
        "nulls": pl.Int64,
        "invalid": pl.Int64,
        "below": pl.Int64,
        "above": pl.Int64,
        "minimum": pl.Float64,
        "maximum": pl.Float64,
    }
    order = {n: i for i, n in enumerate(config.contract)}
    return pl.DataFrame(records, schema=schema, orient="row").sort(
        pl.col("column").replace_strict(order, default=len(order), return_dtype=pl.Int64)
    )


def aggregate(
    config: Config, *, engine: Engine | str = "polars", spark: SparkSession | None = None
) -> Aggregates:
    """Every aggregate table of the dataset ``config`` names, with the polars or Spark engine.

    Parameters
    ----------
    config : the loaded config (its ``data`` section names the file and how to read it).
    engine : ``"polars"`` (default) or ``"spark"``.
    spark : the Spark session to use (default: :func:`spark_session`, local mode on every
        core); only with ``engine="spark"``.

    Returns
    -------
    Aggregates
        The tables of the module docstring, identical whichever engine computed them (sums of
        numbers to floating-point rounding).

    Raises
    ------
    ValueError
        An unknown ``engine``.
    DataError
        The file cannot be read.
    ImportError
        ``engine="spark"`` without pyspark installed.

    References
    ----------
    .. [1] Apache Spark, "Spark SQL, DataFrames and Datasets Guide",
       https://spark.apache.org/docs/latest/sql-programming-guide.html
    .. [2] polars, "Streaming", https://docs.pola.rs/user-guide/concepts/streaming/
    """
    if engine == "polars":
        from healthgap.engine._polars import aggregate_polars

        plan, raw, validation = aggregate_polars(config)
    elif engine == "spark":
        from healthgap.engine._spark import aggregate_spark

        plan, raw, validation = aggregate_spark(spark or spark_session(), config)
    else:
        raise ValueError(UNKNOWN_ENGINE.format(engine=engine, valid=", ".join(ENGINES)))
    keys = plan.table_keys()
    tables: dict[str, pl.DataFrame] = {}
    for name, frame in raw.items():
        stats: Any = plan.stats if name == "cells" or name in plan.geography else None
        tables[name] = _finish(frame, keys[name], stats)
    tables["validation"] = _validation_table(validation, config)
    return Aggregates(
        engine=str(engine), plan=plan, tables=tables, keys={k: v for k, v in keys.items() if k in tables}
    )
