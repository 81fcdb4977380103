"""Results shared between pages (:mod:`healthgap.engine._shared`): a cached result equals a fresh
computation, and an entry is never used for other data or other arguments."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.engine import _shared
from healthgap.engine._shared import data_digest, scan, shared, source_of


def _write(path: Path, values: list[int]) -> Path:
    pl.DataFrame({"age": values, "chd": [v % 3 == 0 for v in values]}).write_parquet(path)
    return path


CALLS: list[str] = []


@shared
def _totals(
    people: pl.LazyFrame, *, by: str = "chd", weights: dict[str, float] | None = None
) -> pl.DataFrame:
    CALLS.append(by)
    scale = (weights or {}).get("age", 1.0)
    return (
        people.group_by(by)
        .agg((pl.col("age").sum() * scale).alias("total"), pl.len().alias("n"))
        .sort(by)
        .collect()
    )


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "shared"
    monkeypatch.setenv(_shared.SHARED_CACHE_ENV, str(folder))
    CALLS.clear()
    return folder


def test_shared_result_equals_fresh_and_is_computed_once(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path / "people.parquet", list(range(100)))
    first = _totals(scan(path), by="chd")
    again = _totals(scan(path), by="chd")  # another page: a new scan of the same file
    fresh = _totals.__wrapped__(pl.scan_parquet(path), by="chd")  # type: ignore[attr-defined]
    assert CALLS == ["chd", "chd"]  # computed by the first call and by the fresh one only
    assert_frame_equal(first, fresh)
    assert_frame_equal(again, fresh)
    assert len(list(cache.glob("*.pkl"))) == 1


def test_entry_is_not_used_after_the_data_changes(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path / "people.parquet", list(range(100)))
    old = _totals(scan(path))
    stat = path.stat()
    _write(path, list(range(100, 200)))  # a new version of the data, same name and size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    new = _totals(scan(path))
    assert CALLS == ["chd", "chd"]
    assert_frame_equal(new, _totals.__wrapped__(pl.scan_parquet(path)))  # type: ignore[attr-defined]
    assert not old.equals(new)


def test_digest_is_of_the_content_not_the_name_or_time(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.parquet", list(range(50)))
    b = _write(tmp_path / "b.parquet", list(range(50)))
    c = _write(tmp_path / "c.parquet", list(range(1, 51)))
    assert data_digest(a) == data_digest(b) != data_digest(c)
    # a stale sidecar of another version of the file is not believed
    stamp = a.stat()
    (tmp_path / "c.parquet.sha256").write_text(f"{stamp.st_size + 1} 0 " + "0" * 64, encoding="ascii")
    _shared._DIGESTS.clear()
    assert data_digest(c) != "0" * 64


def test_arguments_are_part_of_the_key(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path / "people.parquet", list(range(100)))
    a = _totals(scan(path), weights={"age": 1.0})
    b = _totals(scan(path), weights={"age": 2.0})
    assert CALLS == ["chd", "chd"]
    assert b.get_column("total").to_list() == [2 * x for x in a.get_column("total").to_list()]


def test_derived_queries_and_frames_are_not_shared(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path / "people.parquet", list(range(100)))
    derived = scan(path).filter(pl.col("age") > 50)
    assert source_of(derived) is None
    assert source_of(scan(path).lazy()) == path
    _totals(derived)
    _totals(derived)
    _totals(pl.read_parquet(path).lazy())
    assert CALLS == ["chd", "chd", "chd"]
    assert not cache.exists() or not list(cache.glob("*.pkl"))


def test_empty_setting_turns_sharing_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_shared.SHARED_CACHE_ENV, "")
    CALLS.clear()
    path = _write(tmp_path / "people.parquet", list(range(10)))
    _totals(scan(path))
    _totals(scan(path))
    assert CALLS == ["chd", "chd"]


def test_unreadable_entry_is_recomputed(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path / "people.parquet", list(range(100)))
    _totals(scan(path))
    (entry,) = cache.glob("*.pkl")
    entry.write_bytes(b"half a pickle")
    out = _totals(scan(path))
    assert CALLS == ["chd", "chd"]
    assert_frame_equal(out, pickle.loads(entry.read_bytes()))


def test_entries_default_next_to_the_prepared_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_shared.SHARED_CACHE_ENV, raising=False)
    path = _write(tmp_path / "people.parquet", list(range(10)))
    _totals(scan(path))
    (entry,) = (tmp_path / "shared").glob("*.pkl")
    assert entry.name.startswith(data_digest(path)[:12] + "-totals-")
    assert time.time() - entry.stat().st_mtime < 600


def test_book_analyses_shared_between_pages_equal_fresh(
    default_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The descriptive analyses pages share (priorities, rates, dimensions, headline tables) read
    from the cache equal the same analyses of the person table in memory."""
    from healthgap.book import Book
    from healthgap.descriptive import dimensions_in, outcome_rates, prevalence
    from healthgap.descriptive.priorities import priorities

    monkeypatch.setenv("HEALTHGAP_DATA_CACHE", str(tmp_path / "people"))
    monkeypatch.setenv(_shared.SHARED_CACHE_ENV, str(tmp_path / "shared"))

    def book() -> Book:
        return Book(config=default_config, chapter="x", page_prefix="../", downloads=tmp_path / "dl")

    memory = book().frame
    for run in ("compute", "read"):  # the first page computes, the next reads the entries
        people = book().people
        assert source_of(people) is not None
        assert_frame_equal(
            priorities(people, default_config, base=5), priorities(memory, default_config, base=5)
        )
        assert_frame_equal(prevalence(people, default_config), prevalence(memory, default_config))
        assert_frame_equal(outcome_rates(people, default_config), outcome_rates(memory, default_config))
        assert dimensions_in(default_config, people) == dimensions_in(default_config, memory)
        entries = sorted((tmp_path / "shared").glob("*.pkl"))
        assert entries, run
        if run == "compute":
            stamps = [e.stat().st_mtime_ns for e in entries]
    assert [e.stat().st_mtime_ns for e in entries] == stamps  # read, not recomputed


def test_forget_removes_the_results_of_an_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_shared.SHARED_CACHE_ENV, raising=False)
    old = _write(tmp_path / "src-old.parquet", list(range(30)))
    new = _write(tmp_path / "src-new.parquet", list(range(40)))
    _totals(scan(old))
    _totals(scan(new))
    assert len(list((tmp_path / "shared").glob("*.pkl"))) == 2
    _shared.forget(old)
    (kept,) = (tmp_path / "shared").glob("*.pkl")
    assert kept.name.startswith(data_digest(new)[:12])
    assert not (tmp_path / "src-old.parquet.sha256").exists()
    assert (tmp_path / "src-new.parquet.sha256").exists()
