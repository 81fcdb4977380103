"""Fairness of the risk model: audit, label bias and mitigation.

The only part of healthgap that uses pandas and fairlearn; everything it
returns is polars.
"""

from healthgap.fairness._audit import DEFAULT_N_BOOT, FairnessAudit, audit, metric_frame, publishable
from healthgap.fairness._groupboot import GROUP_METRICS
from healthgap.fairness._groups import DEFAULT_INTERSECTIONS, SEPARATOR, Grouping, groupings
from healthgap.fairness._label_bias import LABEL_METRICS, LabelBias, choose_condition, label_bias
from healthgap.fairness._mitigation import STRATEGIES, Mitigation, mitigate

__all__ = [
    "audit",
    "label_bias",
    "choose_condition",
    "LabelBias",
    "LABEL_METRICS",
    "mitigate",
    "Mitigation",
    "STRATEGIES",
    "FairnessAudit",
    "metric_frame",
    "publishable",
    "groupings",
    "Grouping",
    "GROUP_METRICS",
    "DEFAULT_INTERSECTIONS",
    "SEPARATOR",
    "DEFAULT_N_BOOT",
]
