"""Fairness of the risk model: audit, label bias and mitigation.

The only part of healthgap that uses pandas and fairlearn; everything it
returns is polars.
"""

from healthgap.fairness._audit import DEFAULT_N_BOOT, FairnessAudit, audit, metric_frame, publishable
from healthgap.fairness._groupboot import GROUP_METRICS
from healthgap.fairness._groups import DEFAULT_INTERSECTIONS, Grouping, groupings

__all__ = [
    "audit",
    "FairnessAudit",
    "metric_frame",
    "publishable",
    "groupings",
    "Grouping",
    "GROUP_METRICS",
    "DEFAULT_INTERSECTIONS",
    "DEFAULT_N_BOOT",
]
