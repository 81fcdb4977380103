"""Equity groupings of the test set: single dimensions and intersections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import polars as pl

from healthgap.config import DEFAULT_DIMENSIONS, Dimension

__all__ = ["Grouping", "groupings", "DEFAULT_INTERSECTIONS", "SEPARATOR"]

#: Intersections audited by default (each kept only when both dimensions are available).
DEFAULT_INTERSECTIONS: tuple[tuple[str, str], ...] = (("imd_quintile", "ethnicity"), ("sex", "age_band"))
SEPARATOR = " × "
NOT_IN_DATA = "not in the data"
ONE_LEVEL = "only one level in the data ({level}), so there is nothing to compare"


@dataclass(frozen=True, eq=False)
class Grouping:
    """One way of dividing people: a dimension or an intersection of two."""

    name: str
    label: str
    columns: tuple[str, ...]
    levels: tuple[str, ...]  # level keys in display order (intersections joined by SEPARATOR)
    labels: tuple[str, ...]
    codes: np.ndarray  # per person: index into levels, -1 if missing

    @property
    def k(self) -> int:
        return len(self.levels)


def _dimension(name: str, dimensions: Sequence[Dimension]) -> Dimension:
    for d in dimensions:
        if d.name == name:
            return d
    return DEFAULT_DIMENSIONS.get(name, Dimension(name, name, (), {}, ""))


def _levels(frame: pl.DataFrame, d: Dimension) -> tuple[str, ...]:
    found = set(frame.get_column(d.name).drop_nulls().cast(pl.String).unique().to_list())
    ordered = [lv for lv in d.order if lv in found]
    return tuple(ordered + sorted(found - set(ordered)))


def groupings(
    frame: pl.DataFrame,
    dimensions: Sequence[Dimension],
    *,
    intersections: Sequence[Sequence[str]] = DEFAULT_INTERSECTIONS,
) -> tuple[list[Grouping], list[tuple[str, str]]]:
    """Groupings to audit, and the dimensions skipped with the reason.

    Levels follow each dimension's configured ``order`` (levels found in the
    data but not in ``order`` come after, sorted); intersections take every
    combination present.

    References
    ----------
    .. [1] Crenshaw K. Demarginalizing the intersection of race and sex. University of
       Chicago Legal Forum 1989;139-67.
    """
    out: list[Grouping] = []
    skipped: list[tuple[str, str]] = []
    usable: dict[str, tuple[Dimension, tuple[str, ...]]] = {}
    wanted = [d.name for d in dimensions] + [n for combo in intersections for n in combo]
    for name in dict.fromkeys(wanted):
        d = _dimension(name, dimensions)
        if name not in frame.columns:
            skipped.append((d.label, NOT_IN_DATA))
            continue
        levels = _levels(frame, d)
        if len(levels) < 2:
            skipped.append((d.label, ONE_LEVEL.format(level=levels[0] if levels else "none")))
            continue
        usable[name] = (d, levels)
    combos: list[tuple[str, ...]] = [(d.name,) for d in dimensions if d.name in usable]
    combos += [tuple(c) for c in intersections if all(n in usable for n in c) and len(c) > 1]
    for combo in combos:
        dims = [usable[n][0] for n in combo]
        level_sets = [usable[n][1] for n in combo]
        levels = tuple(SEPARATOR.join(parts) for parts in product(*level_sets))
        labels = tuple(
            SEPARATOR.join(d.label_of(p) for d, p in zip(dims, parts, strict=True))
            for parts in product(*level_sets)
        )
        key = pl.concat_str([pl.col(n).cast(pl.String) for n in combo], separator=SEPARATOR)
        codes = (
            frame.select(
                key.replace_strict(list(levels), list(range(len(levels))), default=-1, return_dtype=pl.Int64)
            )
            .to_series()
            .fill_null(-1)
            .to_numpy()
        )
        present = np.unique(codes[codes >= 0])
        keep = np.zeros(len(levels), bool)
        keep[present] = True
        remap = np.full(len(levels), -1)
        remap[keep] = np.arange(keep.sum())
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        out.append(
            Grouping(
                name=SEPARATOR.join(combo),
                label=SEPARATOR.join(d.label for d in dims),
                columns=tuple(combo),
                levels=tuple(np.asarray(levels, dtype=object)[keep]),
                labels=tuple(np.asarray(labels, dtype=object)[keep]),
                codes=codes,
            )
        )
    return out, skipped
