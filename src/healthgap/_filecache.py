"""Build-cache files shared by parallel kernels: a lock, an atomic write, a result computed once.

The model cache (:mod:`healthgap.models._cache`), the shared descriptive results
(:mod:`healthgap.engine._shared`) and the renderer's record of page times all write under
``_build/cache``, from kernels running at the same time. A reader must never see half a file, and
two kernels needing the same result should compute it once.

This module sits at the bottom of the layers (standard library only).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["exclusive", "write_atomic", "load_or_compute", "WAITING_ENV", "waiting_count"]

T = TypeVar("T")
_MISSING = object()


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (on ``path`` with the suffix ``.lock``) while one
    process computes it.

    Chapters render in parallel kernels and several need the same cached result: the first
    computes, the others wait and then read its entry instead of computing it again. Where
    ``fcntl`` is missing (Windows) there is no lock, only the duplicated work.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with _waiting():
                fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: A folder (set by the built-in renderer) where a kernel leaves a file while it waits for a lock
#: another kernel holds: the renderer starts one more chapter meanwhile, so no core sits idle.
WAITING_ENV = "HEALTHGAP_WAITING"


@contextlib.contextmanager
def _waiting() -> Iterator[None]:
    folder = os.environ.get(WAITING_ENV)
    marker = None
    if folder:
        with contextlib.suppress(OSError):
            fd, marker = tempfile.mkstemp(dir=folder, prefix=f"{os.getpid()}-", suffix=".wait")
            os.close(fd)
    try:
        yield
    finally:
        if marker is not None:
            with contextlib.suppress(OSError):
                os.unlink(marker)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in its folder renamed into place, so a
    reader sees the old file or the new one, never part of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as fh:
        fh.write(data)
    os.replace(fh.name, path)


def _read(path: Path) -> Any:
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except Exception:  # absent, half-written by a killed process, or from another version
        return _MISSING


def load_or_compute(path: Path, compute: Callable[[], T], *, valid: Callable[[Any], bool] | None = None) -> T:
    """The value pickled at ``path``, else ``compute()``, stored there (once across processes).

    ``valid`` rejects a stored value (it is computed again); a file that cannot be read is
    computed again too. The project's own cache files only are read (``pickle``).
    """
    ok = valid or (lambda _: True)
    value = _read(path)
    if value is not _MISSING and ok(value):
        return value
    with exclusive(path):
        value = _read(path)  # another kernel may have stored it while we waited
        if value is _MISSING or not ok(value):
            value = compute()
            write_atomic(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return value


def waiting_count(folder: Path) -> int:
    """How many processes are waiting for a lock, by their files in ``folder`` (see :data:`WAITING_ENV`)."""
    try:
        return sum(1 for name in os.listdir(folder) if name.endswith(".wait"))
    except OSError:
        return 0
