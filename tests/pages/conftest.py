"""Fixtures for page-module tests: small frames and configs, no rendering.

``page_of(PageClass, people=None, *, target=True, **sections)``
    Builds a page on a small person table: writes ``people`` (default:
    :func:`tests.conftest.build_people`, 400 people, every optional column) to a
    Parquet file with a config next to it, loads both the way the book does
    (:func:`healthgap.config.load_config`, :func:`healthgap.data.load`) and returns
    ``PageClass.for_frame(...)`` with downloads in a temporary folder. Keyword
    arguments are top-level config sections merged over the default config
    (e.g. ``disclosure={"suppress_below": 11, "rounding": 10}``,
    ``data={"truth": None}``). ``target=False`` leaves ``model.target`` to its
    default, as a config that never names one, so data without the outcome
    column still load (and the model chapters must skip).

``build_page(PageClass, people, folder, *, target=True, **sections)``
    The same in a given folder, for module-scoped fixtures (``tmp_path_factory``):
    a fitted model is then shared by the tests of a module.

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


def build_page(
    cls: type, people: pl.DataFrame | None, folder: Path, *, target: bool = True, **sections: Any
) -> Any:
    """A page on ``people``, loaded as the book loads it (see the module docstring)."""
    from healthgap.config import load_config
    from healthgap.data import load

    people = build_people() if people is None else people
    folder.mkdir(parents=True, exist_ok=True)
    people.write_parquet(folder / "people.parquet")
    raw = yaml.safe_load(DEFAULT_YML.read_text(encoding="utf-8"))
    raw["data"] = {**raw["data"], "path": "people.parquet", "truth": None, "boundaries": None}
    # conditions, outcomes and model features adapt to the data when the config leaves them out
    for key in ("conditions", "outcomes"):
        raw.pop(key, None)
    raw["model"].pop("features", None)
    if not target:
        raw["model"].pop("target", None)
    raw = _merge(raw, sections)
    (folder / "config.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = load_config(folder / "config.yml")
    frame = load(config).collect()
    return cls.for_frame(config, frame, downloads=folder / "downloads")


@pytest.fixture
def page_of(tmp_path: Path):
    """``page_of(PageClass, people=None, *, target=True, **sections)``: see the module docstring."""

    def build(cls: type, people: pl.DataFrame | None = None, *, target: bool = True, **sections: Any):
        return build_page(cls, people, tmp_path, target=target, **sections)

    return build


def html_of(obj: Any) -> str:
    """The markup or text of an IPython display object (or the string itself)."""
    return getattr(obj, "data", obj)
