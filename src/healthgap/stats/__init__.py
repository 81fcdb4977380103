"""Inequality statistics following the methods behind OHID's Fingertips.

Every function takes a polars DataFrame or LazyFrame plus column names and returns a
DataFrame with one row per group: the group columns, the input counts, ``value``,
``lower_ci``, ``upper_ci``, ``confidence``, ``statistic``, ``method`` and ``note``.
"""

from __future__ import annotations

from .ageband import age_bands, counts_by_age_band
from .dsr import dsr
from .esp2013 import AGE_BAND, AGE_BAND_LABELS, ESP2013
from .proportions import proportion
from .rates import crude_rate

__all__ = [
    "AGE_BAND",
    "AGE_BAND_LABELS",
    "ESP2013",
    "age_bands",
    "counts_by_age_band",
    "crude_rate",
    "dsr",
    "proportion",
]
