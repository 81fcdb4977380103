"""Inequality statistics following the methods behind OHID's Fingertips.

Every function takes a polars DataFrame or LazyFrame plus column names and returns a
DataFrame with one row per group: the group columns, the input counts, ``value``,
``lower_ci``, ``upper_ci``, ``confidence``, ``statistic``, ``method`` and ``note`` (null,
or why the row could not be computed). Error messages are module-level constants.

Modules: :mod:`.rates` (crude rates), :mod:`.proportions`, :mod:`.dsr`, :mod:`.compare`
(rate ratios and differences), :mod:`.sii`, :mod:`.concentration`, :mod:`.funnel`,
:mod:`.dimensions` (DSRs for many dimensions and conditions from one scan),
:mod:`.indirect` (indirectly standardised ratios, for funnel plots of ratios),
:mod:`.simultaneous` (intervals for many gaps at once, and whether an extreme is chance),
:mod:`.ageband`, :mod:`.esp2013` and :mod:`.bootstrap` (seeded bootstrap weight matrices
and percentile intervals, shared by the models, fairness and explanation analyses).
"""

from __future__ import annotations

from ._ci import byars_lower, byars_upper, wilson_interval, wilson_limits, wilson_lower, wilson_upper
from .ageband import age_bands, counts_by_age_band
from .bootstrap import bootstrap_weights, percentile_interval, replicate_sums
from .compare import difference_from_intervals, rate_difference, rate_ratio
from .concentration import concentration_index
from .dimensions import dsr_by
from .dsr import dsr
from .esp2013 import AGE_BAND, AGE_BAND_LABELS, ESP2013
from .funnel import funnel_flag, funnel_limits
from .indirect import event_dispersion, isr, protected_rate, random_round
from .proportions import proportion
from .rates import crude_rate
from .sii import sii
from .simultaneous import bonferroni_bounds, bonferroni_ratio, extremes, simultaneous_intervals

__all__ = [
    "AGE_BAND",
    "AGE_BAND_LABELS",
    "ESP2013",
    "age_bands",
    "bootstrap_weights",
    "byars_lower",
    "byars_upper",
    "concentration_index",
    "counts_by_age_band",
    "crude_rate",
    "dsr",
    "dsr_by",
    "extremes",
    "funnel_flag",
    "funnel_limits",
    "isr",
    "event_dispersion",
    "protected_rate",
    "random_round",
    "percentile_interval",
    "proportion",
    "rate_difference",
    "difference_from_intervals",
    "rate_ratio",
    "replicate_sums",
    "sii",
    "simultaneous_intervals",
    "bonferroni_bounds",
    "bonferroni_ratio",
    "wilson_interval",
    "wilson_limits",
    "wilson_lower",
    "wilson_upper",
]
