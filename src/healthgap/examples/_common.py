"""What the example writers share: the output folder, the shipped config, random helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from healthgap.config import project_root

__all__ = ["out_dir_of", "copy_config", "with_missing", "calibrated_draw", "ERR_TOO_FEW"]

ERR_TOO_FEW = (
    "example {name}: the synthetic population of {base:,} people has only {found:,} {who}, "
    "{wanted:,} were asked for. Fix: ask for fewer people (--n)."
)
_LOGIT_BOUNDS = (-30.0, 30.0)
_BISECTIONS = 80


def out_dir_of(out_dir: str | Path) -> Path:
    """``out_dir`` as a path, created if needed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def copy_config(name: str, out: Path) -> Path | None:
    """Copy the shipped ``data/examples/<name>.yml`` next to the data written into ``out``.

    Returns the config's path in ``out``, or None when the project's config cannot be found
    (an installed package outside the repository).
    """
    config = project_root() / "data" / "examples" / f"{name}.yml"
    target = out / f"{name}.yml"
    if not config.is_file():
        return None
    if config.resolve() != target.resolve():
        shutil.copyfile(config, target)
    return target


def with_missing(values: np.ndarray, rate: float, rng: np.random.Generator) -> list:
    """``values`` as a list with a share ``rate`` of them (at random) replaced by None."""
    gone = np.asarray(rng.random(len(values))) < rate
    return [None if g else v for g, v in zip(gone.tolist(), values.tolist(), strict=True)]


def calibrated_draw(linear: np.ndarray, mean: float, rng: np.random.Generator) -> np.ndarray:
    """Draw 0/1 outcomes from a logistic model whose intercept is chosen so that the average
    probability is ``mean`` (the slopes are in ``linear``, the log-odds without intercept).

    The intercept is found by bisection: the average probability rises with it.
    """
    lo, hi = _LOGIT_BOUNDS
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(linear + mid)))).mean() < mean:
            lo = mid
        else:
            hi = mid
    p = 1 / (1 + np.exp(-(linear + (lo + hi) / 2)))
    return (rng.random(linear.shape[0]) < p).astype(np.int64)
