"""Prepare once, scan lazily: the prepared person table, the book's lazy scan of it, and the model
sample (``healthgap.engine.prepare``, ``Book.people``, ``healthgap.engine.model_sample``).

The Spark prepare step and the book rendered with either engine are checked in
``tests/test_engine_spark.py``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.book import Book
from healthgap.config import ConfigError, load_config
from healthgap.data import load
from healthgap.engine import model_sample, prepare, prepared_path, strata_of
from healthgap.engine._spark import NO_JAVA, spark_session


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("HEALTHGAP_DATA_CACHE", str(folder))
    return folder


def test_prepared_table_is_load_and_written_once(default_config, cache: Path) -> None:
    path = prepare(default_config)
    assert path.parent == cache and path == prepared_path(default_config)
    assert_frame_equal(pl.read_parquet(path), load(default_config).collect())  # values, dtypes, order
    stamp = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert prepare(default_config) == path and path.stat().st_mtime_ns == stamp  # not written again


def test_a_new_version_of_the_file_is_prepared_again(
    tmp_path: Path, cache: Path, synthetic_dir: Path
) -> None:
    import shutil

    folder = tmp_path / "d"
    shutil.copytree(synthetic_dir, folder)
    config = load_config(folder / "default.yml")
    first = prepare(config)
    source = config.data.path
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    second = prepare(config)
    assert second != first and second.is_file()
    assert not first.exists()  # the old version's table is removed
    assert len(list(cache.glob("*.parquet"))) == 1


def test_book_people_scans_the_prepared_file(default_config, cache: Path, tmp_path: Path) -> None:
    book = Book(config=default_config, chapter="x", page_prefix="", downloads=tmp_path)
    plan = book.people.select("age").explain()
    assert str(cache) in plan or "parquet" in plan.lower()
    assert "Parquet SCAN" in plan or "SCAN" in plan
    assert_frame_equal(book.people.collect(), load(default_config).collect())
    assert_frame_equal(book.frame, load(default_config).collect())
    given = pl.DataFrame({"age": [1, 2]})
    assert (
        Book(config=default_config, chapter="x", page_prefix="", downloads=tmp_path, data=given)
        .people.collect()
        .equals(given)
    )


def _sized(config, size: int):
    return replace(config, model=replace(config.model, sample_size=size))


def test_no_sample_when_the_table_fits(default_config, cache: Path) -> None:
    people = pl.scan_parquet(prepare(default_config))
    assert model_sample(default_config, people) is people


def test_sample_is_stratified_in_proportion(default_config, cache: Path) -> None:
    """Each stratum (target any / none x deprivation quintile) keeps round(n_s * size / n) people,
    counted here independently with Counter; the sample is the same on a second draw and keeps
    the table's order."""
    config = _sized(default_config, 5_000)
    people = pl.scan_parquet(prepare(config))
    whole = people.collect()
    columns = strata_of(config, whole.schema)
    assert columns == [config.model.target, "imd_quintile"]
    sample = model_sample(config, people).collect()

    def strata(frame: pl.DataFrame) -> Counter:
        target = frame.get_column(columns[0]).to_list()
        imd = frame.get_column(columns[1]).to_list()
        return Counter((None if t is None else t > 0, q) for t, q in zip(target, imd, strict=True))

    n = whole.height
    expected = {k: int(v * 5_000 / n + 0.5) for k, v in strata(whole).items()}
    got = strata(sample)
    assert {k: got.get(k, 0) for k in expected} == expected
    assert abs(sample.height - 5_000) <= len(expected)
    assert sample.equals(model_sample(config, people).collect())
    ids = sample.get_column("person_id")
    position = dict(zip(whole.get_column("person_id"), range(n), strict=True))
    assert [position[i] for i in ids] == sorted(position[i] for i in ids)
    assert sample.schema == whole.schema


def test_sample_size_must_be_positive(tmp_path: Path, synthetic_dir: Path) -> None:
    text = (synthetic_dir / "default.yml").read_text(encoding="utf-8")
    path = synthetic_dir / "bad-sample.yml"
    path.write_text(text.replace("  sample_size: 250000", "  sample_size: 0"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"model\.sample_size: 0 must be positive"):
        load_config(path)


def test_engine_key_errors_name_the_key_value_and_fix(synthetic_dir: Path) -> None:
    text = (synthetic_dir / "default.yml").read_text(encoding="utf-8")
    path = synthetic_dir / "bad-engine.yml"
    path.write_text(text.replace("  engine: polars", "  engine: sparc"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "data.engine: 'sparc' is not an engine" in message and "Fix: write polars" in message
    assert "'spark'" in message  # the suggestion
    path.write_text(text.replace("    master: local[*]", "    master: local [2]"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data\.spark\.master: 'local \[2\]' is not a Spark master URL"):
        load_config(path)
    path.write_text(
        text.replace("  engine: polars", "  engine: spark").replace("local[*]", "spark://h:7077"),
        encoding="utf-8",
    )
    config = load_config(path)
    assert (config.data.engine, config.data.spark_master) == ("spark", "spark://h:7077")
    assert load_config(synthetic_dir / "default.yml").data.engine == "polars"


def test_missing_java_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError) as err:
        spark_session("local[1]")
    assert str(err.value) == NO_JAVA and "data.engine: polars" in NO_JAVA and "JAVA_HOME" in NO_JAVA
