"""Chapter-level descriptive analyses: the numbers the book's chapters show.

Modules: :mod:`.population` (who is in the data, completeness),
:mod:`.prevalence` (crude and age-standardised rates, rate ratios, SII/RII,
intersections), :mod:`.access` (recorded versus expected, detection,
treatment, waits, missed appointments), :mod:`.outcomes` (admissions,
deaths, GP practice funnels), :mod:`.geography` (small-area rates) and
:mod:`.headlines` (the numbers of the five headline findings).

All functions take the canonical person table (lazy or eager) and return
aggregated polars frames; pages publish them once through
:func:`healthgap.disclosure.publish` (:meth:`healthgap.book.Book.publish`).
:func:`dimensions_in` gives the configured equity dimensions the data has.
"""

from __future__ import annotations

from healthgap.descriptive._common import (
    LEVEL,
    dimensions_in,
    label_levels,
    level_expr,
    measure_label,
    measure_names,
)
from healthgap.descriptive.access import detection, missed, observed_expected, treatment, waits
from healthgap.descriptive.geography import area_rates
from healthgap.descriptive.headlines import Finding, Headlines, headline_numbers, headline_tables
from healthgap.descriptive.outcomes import outcome_rates
from healthgap.descriptive.population import completeness, composition, not_stated, pyramid, summary
from healthgap.descriptive.prevalence import concentration, gradient, intersection, prevalence, rates

__all__ = [
    "LEVEL",
    "dimensions_in",
    "label_levels",
    "level_expr",
    "measure_label",
    "measure_names",
    "Finding",
    "Headlines",
    "headline_numbers",
    "headline_tables",
    "area_rates",
    "completeness",
    "concentration",
    "composition",
    "detection",
    "gradient",
    "intersection",
    "missed",
    "not_stated",
    "observed_expected",
    "outcome_rates",
    "prevalence",
    "pyramid",
    "rates",
    "summary",
    "treatment",
    "waits",
]
