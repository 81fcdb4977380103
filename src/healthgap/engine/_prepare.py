"""Prepare the person table once per render: the validated canonical table as one Parquet file.

:func:`prepare` validates the file a config names, applies the renames, code mappings, lookups
and derived columns of :func:`healthgap.data.load` and writes the canonical table to Parquet in
the build cache (``$HEALTHGAP_DATA_CACHE``, else ``<project>/_build/cache/people``), keyed on the
config, the source file's size and modification time, the engine and the versions of healthgap
and polars. A later call with the same key returns the same file without reading the data, so
every page of a render (and the next render) scans the prepared file lazily
(:func:`polars.scan_parquet`): each query reads only the columns it needs and no process holds
the whole table.

With polars the table is streamed to the file (:meth:`polars.LazyFrame.sink_parquet`); with
Spark (:func:`healthgap.engine.load_spark`) the cluster checks the data
(:func:`healthgap.engine.validate_spark`: the same report and error as polars' check, from
counts and distinct values) and writes the table as Parquet parts, which are then streamed
into the one file with the contract's dtypes, in the same row order. The Spark path never
reads the person table with polars before the parts exist.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from healthgap import __version__
from healthgap.config import Config, project_root
from healthgap.data import _CACHE, _cache_key, load
from healthgap.engine._shared import forget

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["prepare", "prepared_path", "DATA_CACHE_ENV", "ERR_NO_CACHE"]

#: Environment variable naming the folder of prepared tables (the renderer sets it for its
#: kernels; by default ``<project>/_build/cache/people``).
DATA_CACHE_ENV = "HEALTHGAP_DATA_CACHE"
_FORMAT = 1
_SUFFIX = ".parquet"

ERR_NO_CACHE = (
    "${env} is set but empty: the prepared person table needs a folder. Fix: unset {env} or name a folder."
)


def _folder() -> Path:
    env = os.environ.get(DATA_CACHE_ENV)
    if env is not None:
        if not env.strip():
            raise ValueError(ERR_NO_CACHE.format(env=DATA_CACHE_ENV))
        return Path(env).expanduser()
    return project_root() / "_build" / "cache" / "people"


def prepared_path(config: Config, *, engine: str = "polars", cache_dir: str | Path | None = None) -> Path:
    """Where :func:`prepare` writes (or found) the prepared table of ``config``.

    The name is ``<source>-<key>.parquet``: ``<source>`` a hash of the data file's path (so
    preparing a new version of a file removes the old one), ``<key>`` a hash of the config's data,
    dimensions, measures and model sections, the file's size and modification time, the engine
    and the versions of healthgap and polars.
    """
    folder = Path(cache_dir) if cache_dir is not None else _folder()
    source = hashlib.sha256(str(config.data.path).encode()).hexdigest()[:12]
    key = hashlib.sha256(
        repr((_FORMAT, __version__, pl.__version__, engine, _cache_key(config))).encode()
    ).hexdigest()[:24]
    return folder / f"{source}-{key}{_SUFFIX}"


def _write_polars(config: Config, target: Path) -> None:
    load(config, validate=False).sink_parquet(target)


def _write_spark(config: Config, target: Path, spark: SparkSession | None) -> None:
    from healthgap.engine._spark import load_spark, spark_session

    session = spark or spark_session(config.data.spark_master)
    people = load_spark(session, config)
    # load()'s dtypes are the contract's (imd_quintile derived as whole numbers): no need to
    # scan the file with polars for them
    schema = pl.Schema(
        {n: pl.Int64() if n == "imd_quintile" else config.contract[n].dtype for n in people.columns}
    )
    parts = Path(tempfile.mkdtemp(dir=target.parent, prefix=".spark-"))
    try:
        # partition order (part-00000, part-00001, ...) follows the file's row order
        people.write.mode("overwrite").parquet(str(parts / "t"))
        files = sorted((parts / "t").glob("part-*.parquet"))
        frames = [pl.scan_parquet(f) for f in files] or [pl.LazyFrame(schema=schema)]
        pl.concat(frames, how="vertical_relaxed").select(
            pl.col(n).cast(t) for n, t in schema.items()
        ).sink_parquet(target)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


def prepare(
    config: Config,
    *,
    engine: str | None = None,
    spark: SparkSession | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """The validated canonical person table of ``config`` as a Parquet file; written once.

    Parameters
    ----------
    config : the loaded config.
    engine : ``"polars"`` or ``"spark"``; default the config's ``data.engine``.
    spark : the Spark session (default: a local one with the config's ``data.spark_master``).
    cache_dir : the folder of prepared tables (default ``$HEALTHGAP_DATA_CACHE``, else
        ``<project>/_build/cache/people``).

    Returns
    -------
    Path
        The Parquet file: :func:`healthgap.data.load`'s columns, dtypes, values and row order.

    Raises
    ------
    healthgap.errors.DataError
        The data does not pass :func:`healthgap.data.validate` (every problem listed).

    References
    ----------
    .. [1] polars, "Streaming", https://docs.pola.rs/user-guide/concepts/streaming/
    .. [2] Apache Parquet file format, https://parquet.apache.org/docs/file-format/
    """
    chosen = engine or config.data.engine
    target = prepared_path(config, engine=chosen, cache_dir=cache_dir)
    if target.is_file():
        return target
    if _cache_key(config) not in _CACHE:  # checked once per file version in a process
        if chosen == "spark":  # on the cluster: no pass over the person table on the driver
            from healthgap.engine._check import validate_spark

            validate_spark(config, spark=spark)  # DataError lists every problem, as polars'
        else:
            load(config)  # DataError lists every problem
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".people-", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        if chosen == "spark":
            _write_spark(config, tmp, spark)
        else:
            _write_polars(config, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    source = target.name.split("-", 1)[0]
    for old in target.parent.glob(f"{source}-*{_SUFFIX}"):
        if old != target:
            forget(old)  # the results pages shared from it
            old.unlink(missing_ok=True)
    return target
