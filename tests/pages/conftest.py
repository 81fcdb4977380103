"""Fixtures for page-module tests: small frames and configs, no rendering.

``page_of(PageClass, people=None, *, config=None, **yaml)``
    Builds a page on a small person table: writes ``people`` (default:
    :func:`tests.conftest.build_people`, 400 people, every optional column) to a
    Parquet file with a config next to it, loads both the way the book does
    (:func:`healthgap.config.load_config`, :func:`healthgap.data.load`) and returns
    ``PageClass.for_frame(...)`` with downloads in a temporary folder. Keyword
    arguments are top-level config sections merged over the default config
    (e.g. ``disclosure={"suppress_below": 11, "rounding": 10}``,
    ``data={"truth": None}``).

Tests call page methods directly and check the words, numbers and markup
they return (IPython ``HTML``/``Markdown`` objects expose ``.data``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from tests.conftest import DEFAULT_YML, build_people


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.fixture
def page_of(tmp_path: Path):
    from healthgap.config import load_config
    from healthgap.data import load

    def build(cls: type, people: pl.DataFrame | None = None, **sections: Any):
        people = build_people() if people is None else people
        people.write_parquet(tmp_path / "people.parquet")
        raw = yaml.safe_load(DEFAULT_YML.read_text(encoding="utf-8"))
        raw["data"] = {**raw["data"], "path": "people.parquet", "truth": None, "boundaries": None}
        # conditions, outcomes and model features adapt to the data when the config leaves them out
        for key in ("conditions", "outcomes"):
            raw.pop(key, None)
        raw["model"].pop("features", None)
        raw = _merge(raw, sections)
        (tmp_path / "config.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
        config = load_config(tmp_path / "config.yml")
        frame = load(config).collect()
        return cls.for_frame(config, frame, downloads=tmp_path / "downloads")

    return build


def html_of(obj: Any) -> str:
    """The markup or text of an IPython display object (or the string itself)."""
    return getattr(obj, "data", obj)
