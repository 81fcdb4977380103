"""Caching fitted models between chapters (git-ignored ``_build/cache/models``)."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
import sklearn

from healthgap import __version__
from healthgap._filecache import load_or_compute
from healthgap.config import ModelSettings, project_root
from healthgap.contract import TRUTH_PREFIX
from healthgap.models._features import resolve
from healthgap.models._fit import (
    GROUP_COLUMNS,
    ModelResult,
    build_boosted,
    build_logistic,
    fit,
    one_thread,
    train_size,
)

__all__ = ["fit_cached", "cache_key", "cached", "CACHE_ENV"]

#: Environment variable overriding the cache folder (empty string disables caching).
CACHE_ENV = "HEALTHGAP_MODEL_CACHE"
T = TypeVar("T")
_FORMAT = 1


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of the source of the modelling code (models, fairness, explain, disclosure; synth excluded).

    Part of every cache key, so editing the code that produced a cached
    result invalidates it even without a version change.
    """
    root = Path(__file__).resolve().parents[1]
    files = sorted(
        [
            *(root / "models").glob("*.py"),
            *(root / "fairness").glob("*.py"),
            root / "explain.py",
            *(root / "disclosure").glob("*.py"),
        ]
    )
    h = hashlib.sha256()
    for f in files:
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def cache_key(df: pl.DataFrame, settings: ModelSettings, **options: object) -> str:
    """SHA-256 of everything a fit depends on.

    The key covers the settings, the fitting options, the estimators'
    hyperparameters, the modelling code (:func:`code_fingerprint`), the column names and
    dtypes, a hash of every row of the modelling columns, and the versions of
    healthgap, polars, scikit-learn and numpy (so an upgrade refits).

    References
    ----------
    .. [1] polars ``DataFrame.hash_rows``.
    """
    h = hashlib.sha256()
    h.update(
        repr(
            (_FORMAT, __version__, code_fingerprint(), pl.__version__, sklearn.__version__, np.__version__)
        ).encode()
    )
    h.update(repr(sorted(asdict(settings).items())).encode())
    h.update(repr(sorted(options.items())).encode())
    booster = build_boosted(seed=settings.seed, n_train=train_size(df.height, settings.test_size))
    h.update(repr(sorted(booster.get_params().items())).encode())
    h.update(repr(build_logistic([0], [1], seed=settings.seed).get_params()["model"].get_params()).encode())
    h.update(repr([(c, str(t)) for c, t in df.schema.items()]).encode())
    h.update(str(df.height).encode())
    for seed in (0, 1):  # two independent 64-bit row hashes, in row order
        h.update(np.ascontiguousarray(df.hash_rows(seed=seed).to_numpy()).tobytes())
    return h.hexdigest()[:32]


def _folder() -> Path | None:
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return Path(env) if env.strip() else None
    return project_root() / "_build" / "cache" / "models"


def _load_or_compute(path: Path, compute: Callable[[], T], valid: type = object) -> T:
    """:func:`healthgap._filecache.load_or_compute` of ``compute`` with one OpenMP thread; a stored
    value that is None or not a ``valid`` is computed again."""

    def one_threaded() -> T:
        with one_thread():
            return compute()

    return load_or_compute(path, one_threaded, valid=lambda v: isinstance(v, valid) and v is not None)


def cached(name: str, parts: tuple, compute: Callable[[], T], *, cache_dir: str | Path | None = None) -> T:
    """Return ``compute()``, stored under ``name`` and a SHA-256 of ``repr(parts)``.

    ``parts`` must identify everything the value depends on (e.g. a model's
    :attr:`~healthgap.models.ModelResult.cache_key`, settings dataclasses and
    options); without a cache folder, or when any part is None, it just computes.
    It computes with one OpenMP thread (:func:`~healthgap.models.one_thread`: the
    same numbers, without the booster's threads waiting for each other).

    References
    ----------
    .. [1] Python ``hashlib`` and ``pickle`` documentation.
    """
    folder = Path(cache_dir) if cache_dir is not None else _folder()
    if folder is None or any(p is None for p in parts):
        with one_thread():
            return compute()
    digest = hashlib.sha256(
        repr((_FORMAT, __version__, code_fingerprint(), name, parts)).encode()
    ).hexdigest()[:32]
    return _load_or_compute(folder / f"{name}-{digest}.pkl", compute)


def fit_cached(
    people: pl.DataFrame | pl.LazyFrame,
    *,
    settings: ModelSettings | None = None,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> ModelResult:
    """:func:`~healthgap.models.fit`, reusing an earlier fit of the same data and settings.

    The cache folder is ``cache_dir``, else ``$HEALTHGAP_MODEL_CACHE`` (empty
    disables caching), else ``<project>/_build/cache/models``. Entries are
    written atomically, keyed by :func:`cache_key`; an unreadable entry is refitted.

    References
    ----------
    .. [1] Python ``pickle`` documentation (only the project's own cache files are read).
    """
    settings = settings or ModelSettings()
    lf = people.lazy() if isinstance(people, pl.DataFrame) else people
    schema = lf.collect_schema()
    target, features, _ = resolve(schema, settings)
    aside = {*GROUP_COLUMNS, *options.get("groups", ())}
    cols = [c for c in schema if c in {target, *features, *aside} or c.startswith(TRUTH_PREFIX)]
    df = lf.select(cols).collect()
    folder = Path(cache_dir) if cache_dir is not None else _folder()
    if folder is None:
        return fit(df, settings=settings, **options)
    key = cache_key(df, settings, **options)
    return _load_or_compute(
        folder / f"{key}.pkl",
        lambda: replace(fit(df, settings=settings, **options), cache_key=key),
        ModelResult,
    )
