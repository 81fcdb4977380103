"""Fairness of the risk model: audit, label bias and mitigation.

The only part of healthgap that uses pandas and fairlearn; everything it
returns is polars. Every result holds *exact* aggregates: the page publishes
each frame once with :func:`healthgap.disclosure.publish`, passing the count
columns and the ``recompute`` step named in each result's docstring
(:class:`FairnessAudit`, :class:`LabelBias`, :class:`Mitigation`), and
compares only published groups (:meth:`FairnessAudit.differences`,
:meth:`Mitigation.summary`).
"""

from healthgap.fairness._audit import (
    AUDIT_BY,
    AUDIT_COUNTS,
    AUDIT_DERIVED,
    AUROC_DECIMALS,
    DEFAULT_N_BOOT,
    MEAN_RISK_FIGURES,
    FairnessAudit,
    GroupReplicates,
    audit,
)
from healthgap.fairness._calibration import (
    CALIBRATION_COUNTS,
    CALIBRATION_METHOD,
    calibration_by_group,
    largest_miscalibration,
    recompute_calibration,
)
from healthgap.fairness._counterfactual import VARIANTS, CounterfactualLabels, counterfactual_labels
from healthgap.fairness._decomposition import COMPONENTS, MIN_SAMPLE, GapDecomposition, explain_gap
from healthgap.fairness._groupboot import GROUP_METRICS
from healthgap.fairness._groups import DEFAULT_INTERSECTIONS, SEPARATOR, Grouping, groupings
from healthgap.fairness._label_bias import (
    LABEL_COUNTS,
    LABEL_DERIVED,
    LABEL_METRICS,
    LabelBias,
    choose_condition,
    label_bias,
    label_proportions,
)
from healthgap.fairness._mitigation import (
    MITIGATION_COUNTS,
    MITIGATION_GROUP_COUNTS,
    MITIGATION_GROUP_DERIVED,
    STRATEGIES,
    Mitigation,
    NotMitigable,
    mitigate,
)
from healthgap.fairness._mitigation_split import SPLIT_STRATEGIES, CapacityMitigation, mitigate_at_capacity
from healthgap.fairness._multiplicity import GapFamily, tpr_gaps
from healthgap.fairness._published import RATIO_METRICS, mover_ratio, newcombe_difference, proportions
from healthgap.fairness._reference import CapacityReference, capacity_reference, true_risk

__all__ = [
    "audit",
    "label_bias",
    "label_proportions",
    "choose_condition",
    "LabelBias",
    "LABEL_METRICS",
    "LABEL_COUNTS",
    "LABEL_DERIVED",
    "mitigate",
    "Mitigation",
    "NotMitigable",
    "STRATEGIES",
    "MITIGATION_COUNTS",
    "MITIGATION_GROUP_COUNTS",
    "MITIGATION_GROUP_DERIVED",
    "FairnessAudit",
    "GroupReplicates",
    "AUDIT_COUNTS",
    "AUDIT_DERIVED",
    "AUDIT_BY",
    "AUROC_DECIMALS",
    "MEAN_RISK_FIGURES",
    "proportions",
    "newcombe_difference",
    "mover_ratio",
    "RATIO_METRICS",
    "groupings",
    "Grouping",
    "GROUP_METRICS",
    "DEFAULT_INTERSECTIONS",
    "SEPARATOR",
    "DEFAULT_N_BOOT",
    "calibration_by_group",
    "recompute_calibration",
    "largest_miscalibration",
    "CALIBRATION_COUNTS",
    "CALIBRATION_METHOD",
    "true_risk",
    "tpr_gaps",
    "GapFamily",
    "capacity_reference",
    "CapacityReference",
    "counterfactual_labels",
    "CounterfactualLabels",
    "VARIANTS",
    "mitigate_at_capacity",
    "CapacityMitigation",
    "SPLIT_STRATEGIES",
    "explain_gap",
    "GapDecomposition",
    "COMPONENTS",
    "MIN_SAMPLE",
]
