"""The Spark engine gives exactly the polars engine's aggregates (engine agreement).

One local Spark session (``local[2]``, two shuffle partitions, no UI, driver on the loopback
interface) is started by the ``spark`` fixture for the whole module. Spark needs a Java runtime
(17 or later) and pyspark (the ``test`` extra). When either is missing these tests FAIL in CI
(the ``CI`` environment variable is set; ``.ci/run`` installs Java when ``java -version``
fails) and are skipped, with the reason, on a developer's machine.

Every table is compared whole: the same rows in the same order, the same integer counts,
floating-point sums to 1e-12 relative.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from healthgap.config import load_config
from healthgap.engine import Aggregates, aggregate

REPO = Path(__file__).resolve().parents[1]
NO_JAVA = (
    "The Spark engine tests need a Java runtime (17 or later): `java -version` failed ({detail}). "
    "Fix: install one (Debian: apt-get install openjdk-17-jre-headless; .ci/run does this in CI)."
)
NO_PYSPARK = "The Spark engine tests need pyspark: pip install -e '.[test]' (it pins pyspark)."


def _unavailable(reason: str) -> None:
    """Fail in CI (a missing Java must not turn the agreement tests into skips); skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _java_problem() -> str | None:
    java = shutil.which("java")
    if java is None and not os.environ.get("JAVA_HOME"):
        return "no java on PATH and JAVA_HOME is not set"
    try:
        done = subprocess.run(
            [java or str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"), "-version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["exit code"])[0]


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _unavailable(NO_PYSPARK)
    problem = _java_problem()
    if problem is not None:
        _unavailable(NO_JAVA.format(detail=problem))
    from healthgap.engine import spark_session

    session = spark_session(
        "local[2]",
        app_name="healthgap-tests",
        conf={"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g"},
    )
    yield session
    session.stop()


def assert_same(polars_aggs: Aggregates, spark_aggs: Aggregates) -> None:
    assert spark_aggs.engine == "spark"
    assert list(spark_aggs.tables) == list(polars_aggs.tables)
    assert spark_aggs.keys == polars_aggs.keys
    for name, frame in polars_aggs.tables.items():
        try:
            assert_frame_equal(spark_aggs[name], frame, check_exact=False, rel_tol=1e-12, abs_tol=0)
        except AssertionError as exc:
            raise AssertionError(f"the {name} table differs: {exc}") from None


def test_default_book(default_config, spark) -> None:
    """Parquet, true status, indicators, every table (geography too): the literal-map lookups."""
    assert_same(aggregate(default_config), aggregate(default_config, engine="spark", spark=spark))


def test_csv_with_codes_and_renames_by_broadcast_join(other_trust_config, spark, monkeypatch) -> None:
    """The other trust's CSV (renamed columns, code mappings, Y/N flags), every lookup as a join."""
    import healthgap.engine._spark as backend

    monkeypatch.setattr(backend, "MAP_LITERAL_MAX", 0)
    assert_same(aggregate(other_trust_config), aggregate(other_trust_config, engine="spark", spark=spark))


def test_cohort_with_derived_columns(tmp_path, spark) -> None:
    """The cohort: data.derive SQL (mg/dL to mmol/L), numbers written as text, 'NA', a custom
    dimension from its own column."""
    from healthgap.examples import write_example

    write_example("cohort", tmp_path, n=3000, seed=5)
    if not (tmp_path / "cohort.yml").is_file():
        shutil.copyfile(REPO / "data" / "examples" / "cohort.yml", tmp_path / "cohort.yml")
    config = load_config(tmp_path / "cohort.yml")
    mine = aggregate(config)
    assert "cholesterol:sum" in mine["cells"].columns  # derived in SQL
    assert mine.keys["cells"][0] == "education"
    assert_same(mine, aggregate(config, engine="spark", spark=spark))


def _engine_config(folder: Path, source: Path, engine: str) -> Path:
    """A copy of ``source`` (a config next to its ``synthetic/`` data) with ``data.engine``."""
    text = source.read_text(encoding="utf-8")
    assert "  engine: polars" in text
    text = text.replace("  engine: polars", f"  engine: {engine}").replace("local[*]", "local[2]")
    path = folder / f"{engine}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_spark_prepares_the_same_table(default_config, other_trust_config, spark, tmp_path) -> None:
    """The prepared Parquet file is the same with either engine: columns, dtypes, values, row order
    (the default book's Parquet, and the other trust's CSV with renames and code mappings)."""
    import polars as pl

    from healthgap.engine import prepare

    for config in (default_config, other_trust_config):
        mine = pl.read_parquet(prepare(config, engine="polars", cache_dir=tmp_path))
        theirs = pl.read_parquet(prepare(config, engine="spark", spark=spark, cache_dir=tmp_path / "s"))
        assert_frame_equal(theirs, mine, check_exact=True)


@pytest.mark.slow
def test_default_book_downloads_are_identical_with_either_engine(
    synthetic_dir, spark, tmp_path, monkeypatch
) -> None:
    """The default book on 20,000 people rendered with data.engine polars and spark: the same CSV
    downloads, with the same text and counts, numbers equal to 1e-12 relative (Spark prepares
    the table in the render; started here)."""
    import polars as pl

    from healthgap.render import render_book

    monkeypatch.setenv("HEALTHGAP_MODEL_CACHE", str(tmp_path / "models"))
    monkeypatch.setenv("HEALTHGAP_DATA_CACHE", str(tmp_path / "people"))
    sites = {}
    for engine in ("polars", "spark"):
        config = _engine_config(synthetic_dir, synthetic_dir / "default.yml", engine)
        sites[engine] = render_book(
            project=REPO,
            out=tmp_path / f"site-{engine}",
            config=config,
            engine="builtin",
            jobs=2,
            progress=None,
        )
    downloads = {
        e: sorted(p.relative_to(s) for p in (s / "downloads").rglob("*.csv")) for e, s in sites.items()
    }
    assert downloads["polars"] and downloads["polars"] == downloads["spark"]
    different = []
    for p in downloads["polars"]:
        if (sites["polars"] / p).read_bytes() != (sites["spark"] / p).read_bytes():
            # the descriptive statistics' last bits vary from run to run with either engine
            # (parallel floating-point sums), and so may the order of rows ranked on them:
            # the same rows, numbers compared to 1e-12 relative
            frames = [pl.read_csv(sites[e] / p, infer_schema_length=None) for e in ("spark", "polars")]
            try:
                assert_frame_equal(
                    *(f.sort(f.columns, nulls_last=True) for f in frames),
                    check_exact=False,
                    rel_tol=1e-12,
                    abs_tol=1e-12,
                )
            except AssertionError as exc:
                different.append(f"{p}: {str(exc).splitlines()[0]}")
    assert not different, f"downloads that differ between the engines: {different}"
