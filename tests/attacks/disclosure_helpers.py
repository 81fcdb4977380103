"""Shared by the disclosure attack tests: pages built on the synthetic population, as the book builds them.

``synthetic_people(n)``
    The synthetic population of ``n`` people (``healthgap synth --n n``, seed 2024), cached.
``synthetic_page(PageClass, folder, *, n=2003, people=None, **sections)``
    A page on that population (or on ``people``), loaded through a config the way the book
    loads it (:func:`tests.pages.conftest.build_page`); ``sections`` are config sections merged
    over the default config, e.g. ``disclosure={"rounding": 1}``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from tests.pages.conftest import build_page

#: The population size of the attacks in issue 11 (``healthgap synth --n 2003``).
N_ATTACK = 2003


@lru_cache(maxsize=4)
def synthetic_people(n: int = N_ATTACK) -> pl.DataFrame:
    """The synthetic population of ``n`` people, as ``healthgap synth --n n`` writes it."""
    from healthgap import synth

    people, _ = synth.generate(n)
    return people


def synthetic_page(
    cls: type, folder: Path, *, n: int = N_ATTACK, people: pl.DataFrame | None = None, **sections: Any
) -> Any:
    """A page on the synthetic population of ``n`` people (or on ``people``) with config ``sections``."""
    frame = synthetic_people(n) if people is None else people
    return build_page(cls, frame, folder, **sections)
