"""Results shared between pages: an analysis of the prepared person table computed once per data version.

Every page of a render runs in its own kernel and scans the prepared person table
(:func:`healthgap.engine.prepare`); several pages ask the same question of it (Where to act, the
welcome page and the truth check repeat calls the chapters make, and every page resolves the
equity dimensions). :func:`scan` opens the prepared file as a LazyFrame that knows which file it
reads; an analysis decorated with :func:`shared` and called on such a scan stores its result in
the build cache, next to the prepared file (``<folder of the prepared file>/shared/``, or
``$HEALTHGAP_SHARED_CACHE``; an empty value turns the cache off), and any later call with the same
arguments (in any kernel, and the next render) reads it instead of scanning the people again.

The key of an entry is a SHA-256 of: the data's digest (a SHA-256 of the prepared file's bytes,
so a changed dataset never reads an old entry), the analysis (module and name), every argument
(configs and dimensions field by field, frames by their rows, expressions by their serialised
plan), the source of the whole ``healthgap`` package (an edit to any code invalidates every entry)
and the versions of healthgap, polars and numpy. An argument that cannot be keyed exactly (a
LazyFrame derived from the scan, an arbitrary object) makes the call compute as usual, uncached:
a result is only ever reused for exactly the same question of exactly the same data. Entries are
written atomically (a temporary file renamed into place) under an exclusive lock, so pages
rendering in parallel compute an entry once: the first computes it, the others wait and read it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any, ParamSpec, TypeVar

import numpy as np
import polars as pl

from healthgap import __version__
from healthgap._filecache import load_or_compute, write_atomic

__all__ = ["scan", "shared", "source_of", "data_digest", "code_fingerprint", "forget", "SHARED_CACHE_ENV"]

#: Environment variable naming the folder of shared results (empty: no sharing).
SHARED_CACHE_ENV = "HEALTHGAP_SHARED_CACHE"
_FORMAT = 1
_ATTRIBUTE = "_healthgap_prepared"
_SUFFIX = ".pkl"

P = ParamSpec("P")
T = TypeVar("T")


class _Unkeyable(Exception):
    """An argument without an exact key: the call is computed, not shared."""


def scan(path: str | Path) -> pl.LazyFrame:
    """``pl.scan_parquet(path)``, marked as a scan of the prepared file ``path`` for :func:`shared`.

    The mark is on this LazyFrame only: a frame derived from it (``scan(p).filter(...)``) is
    another query and is never shared.
    """
    frame = pl.scan_parquet(path)
    setattr(frame, _ATTRIBUTE, Path(path))
    return frame


def source_of(frame: object) -> Path | None:
    """The prepared file ``frame`` is an unmodified :func:`scan` of, else None."""
    return getattr(frame, _ATTRIBUTE, None) if isinstance(frame, pl.LazyFrame) else None


_DIGESTS: dict[tuple[str, int, int], str] = {}


def data_digest(path: str | Path) -> str:
    """SHA-256 of the bytes of the file ``path`` (hex).

    Computed once per version of the file (its size and modification time) and kept in a
    sidecar ``<path>.sha256``, so the pages of a render hash the prepared table once.
    """
    path = Path(path)
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo in _DIGESTS:
        return _DIGESTS[memo]
    sidecar = path.with_name(path.name + ".sha256")
    stamp = f"{stat.st_size} {stat.st_mtime_ns} "
    with contextlib.suppress(OSError):
        text = sidecar.read_text(encoding="ascii")
        if text.startswith(stamp) and len(text) == len(stamp) + 64:
            _DIGESTS[memo] = text[len(stamp) :]
            return _DIGESTS[memo]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(functools.partial(fh.read, 1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with contextlib.suppress(OSError):
        write_atomic(sidecar, (stamp + digest).encode("ascii"))
    _DIGESTS[memo] = digest
    return digest


def forget(path: str | Path) -> None:
    """Remove the digest sidecar of the prepared file ``path`` and the shared results of that
    version of the data in the folder next to it (:func:`healthgap.engine.prepare` calls this
    before removing an old version, so the folder does not grow with every new file)."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".sha256")
    with contextlib.suppress(OSError):
        digest = sidecar.read_text(encoding="ascii").rsplit(" ", 1)[-1]
        if len(digest) == 64:
            for entry in (path.parent / "shared").glob(f"{digest[:12]}-*"):
                entry.unlink(missing_ok=True)
    sidecar.unlink(missing_ok=True)


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of the source of every module of the ``healthgap`` package (and its profiles)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in sorted([*root.rglob("*.py"), *root.rglob("*.yml")]):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _token(value: Any) -> Any:
    """An exact, printable stand-in for an argument (raises :class:`_Unkeyable`)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, enum.Enum):
        return ("enum", type(value).__qualname__, value.name)
    if isinstance(value, PurePath):
        return ("path", str(value))
    if isinstance(value, pl.LazyFrame):
        source = source_of(value)
        if source is None:
            raise _Unkeyable
        return ("people", data_digest(source))
    if isinstance(value, pl.DataFrame):
        rows = np.ascontiguousarray(value.hash_rows(seed=0).to_numpy()).tobytes() if value.width else b""
        return (
            "frame",
            [(c, str(t)) for c, t in value.schema.items()],
            value.height,
            hashlib.sha256(rows).hexdigest(),
        )
    if isinstance(value, pl.Expr):
        return ("expr", value.meta.serialize(format="json"))
    if isinstance(value, pl.DataType) or (isinstance(value, type) and issubclass(value, pl.DataType)):
        return ("dtype", str(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            "dataclass",
            type(value).__module__,
            type(value).__qualname__,
            [(f.name, _token(getattr(value, f.name))) for f in dataclasses.fields(value)],
        )
    if isinstance(value, Mapping):
        return ("map", type(value).__qualname__, [(_token(k), _token(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__qualname__, [_token(v) for v in value])
    if isinstance(value, set | frozenset):
        return ("set", sorted(repr(_token(v)) for v in value))
    raise _Unkeyable


def _folder(source: Path) -> Path | None:
    env = os.environ.get(SHARED_CACHE_ENV)
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    return source.parent / "shared"


def _entry(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Path | None:
    """Where the result of ``fn(*args, **kwargs)`` is stored; None when not shared."""
    sources = [s for s in (source_of(a) for a in (*args, *kwargs.values())) if s is not None]
    if not sources:
        return None
    folder = _folder(sources[0])
    if folder is None:
        return None
    try:
        parts = (
            _FORMAT,
            __version__,
            pl.__version__,
            np.__version__,
            code_fingerprint(),
            fn.__module__,
            fn.__qualname__,
            [_token(a) for a in args],
            sorted((k, _token(v)) for k, v in kwargs.items()),
        )
    except _Unkeyable:
        return None
    key = hashlib.sha256(repr(parts).encode()).hexdigest()[:40]
    return folder / f"{data_digest(sources[0])[:12]}-{fn.__name__.strip('_')}-{key}{_SUFFIX}"


def shared(fn: Callable[P, T]) -> Callable[P, T]:
    """Decorate an analysis of the person table so pages share its result (see the module).

    Called on a :func:`scan` of the prepared file with arguments that can be keyed exactly, the
    result is read from the build cache when an earlier call (in any kernel) stored it, else
    computed and stored; called on anything else (an in-memory frame, a derived query), it is
    just computed. The result must be picklable and never a LazyFrame.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        path = _entry(fn, args, kwargs)
        if path is None:
            return fn(*args, **kwargs)
        return load_or_compute(path, lambda: fn(*args, **kwargs))

    wrapper.__wrapped_shared__ = fn  # type: ignore[attr-defined]
    return wrapper
