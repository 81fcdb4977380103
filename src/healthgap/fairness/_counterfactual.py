"""Label bias by counterfactual labels: the same model fitted on the true condition.

A model of a *recorded* condition finds fewer true cases where diagnosis is less
complete. But it may miss them for another reason too: features that follow a
diagnosis (prescriptions) and the capacity (only the top few per cent are flagged).
To separate the two, the same learner with the same features, split and capacity is
fitted on the *true* condition: the label bias of a group is the share of its true
cases the true-label model finds minus the share the recorded-label model finds. The
comparison is repeated without the treatment features. Only data with each person's
true status (``true_<condition>``) allows it; without it :func:`counterfactual_labels`
returns a result that says what cannot be checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from healthgap.config import Dimension
from healthgap.contract import TREATMENTS, truth_column
from healthgap.fairness._groups import groupings
from healthgap.fairness._multiplicity import group_sums
from healthgap.models import ModelResult, build_boosted
from healthgap.stats import percentile_interval

__all__ = [
    "CounterfactualLabels",
    "counterfactual_labels",
    "fit_variant",
    "VARIANTS",
    "NO_TRUTH_LABELS",
]

NO_TRUTH_LABELS = (
    "The data has no true status of {condition} ({column}), so whether the model misses "
    "undiagnosed people because it learnt from diagnoses (label bias) or because of its "
    "features and the capacity cannot be checked."
)
#: Feature sets compared: every configured feature, and the same without treatments.
VARIANTS: dict[str, str] = {
    "all": "All features",
    "without_treatments": "Without treatment features",
}


def fit_variant(
    result: ModelResult, *, label: np.ndarray, drop: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Fit the gradient-boosted model of ``result`` on its training rows with another label.

    The same learner (:func:`~healthgap.models.build_boosted`, same seed and leaf size
    for the training set's size), the same training rows and the same features less ``drop``.

    Returns
    -------
    tuple of numpy.ndarray
        Predicted risks on the training rows and on the test rows.
    """
    keep = [i for i, f in enumerate(result.features) if f not in set(drop)]
    model = build_boosted(seed=result.settings.seed, n_train=result.X_train.shape[0])
    model.fit(result.X_train[:, keep], np.asarray(label, bool))
    return model.fit_proba_[:, 1], model.predict_proba_binned(result.X_test[:, keep])[:, 1]


def _flag(train: np.ndarray, test: np.ndarray, fraction: float) -> np.ndarray:
    return test >= np.quantile(train, 1 - fraction, method="higher")


@dataclass(frozen=True, eq=False)
class CounterfactualLabels:
    """Result of :func:`counterfactual_labels`.

    Attributes
    ----------
    condition : the condition.
    available : whether the data has its true status; when False, :attr:`reason` says
        what cannot be checked and the frames are empty.
    groups : per ``variant`` (:data:`VARIANTS`), ``dimension`` and group (and an
        ``"All"`` row per variant with dimension ``"all"``): ``n``, ``true_cases``,
        ``undiagnosed`` (true cases not recorded), ``found_recorded`` / ``found_true``
        (true cases the recorded-label / true-label model flags at capacity),
        ``undiagnosed_recorded`` / ``undiagnosed_true`` (undiagnosed cases each flags),
        ``share_recorded``, ``share_true`` (shares of true cases found) and
        ``label_bias`` = ``share_true - share_recorded`` (what learning from diagnoses
        costs the group), each with a percentile bootstrap interval (``*_lower``,
        ``*_upper``; the same replicates for both models: paired).
    top_fraction : the capacity.
    treatments : the treatment features dropped in the ``without_treatments`` variant.
    """

    condition: str
    available: bool
    reason: str | None = None
    groups: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    top_fraction: float = 0.05
    treatments: tuple[str, ...] = ()
    confidence: float = 0.95

    def row(self, variant: str, dimension: str = "all", group: str = "All") -> dict | None:
        """One row of :attr:`groups` (None when absent)."""
        hit = self.groups.filter(
            (pl.col("variant") == variant) & (pl.col("dimension") == dimension) & (pl.col("group") == group)
        )
        return hit.row(0, named=True) if hit.height else None


def counterfactual_labels(
    result: ModelResult,
    *,
    dimensions: Sequence[Dimension],
    top_fraction: float | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int | None = None,
) -> CounterfactualLabels:
    """Label bias of a model of a recorded condition, by group, against a true-label model.

    Parameters
    ----------
    result : a fitted model whose target is a recorded condition (e.g.
        ``label_bias(...).result``, or :func:`healthgap.models.fit` with that target), its
        true status kept aside in ``groups_train`` / ``groups_test``.
    dimensions : equity dimensions to compare.
    top_fraction : capacity (default the configured one).
    n_boot, confidence, seed : the paired percentile bootstrap over test-set people.

    Notes
    -----
    Four gradient-boosted models share the split, learner and seed: recorded or true
    label, with every feature or without the treatment features. The recorded-label
    model with every feature is ``result``'s own. Each flags the top ``top_fraction`` of
    its predicted risk (cut-off from its training predictions). A label-bias interval
    takes only test-set chance into account, not the variation of refitting.

    References
    ----------
    .. [1] Obermeyer Z, et al. Dissecting racial bias in an algorithm used to manage the
       health of populations. Science 2019;366:447-53.
    .. [2] Kusner MJ, et al. Counterfactual fairness. NeurIPS 2017.
    """
    condition = result.target
    fraction = result.settings.top_fraction if top_fraction is None else top_fraction
    try:
        column = truth_column(condition)
    except ValueError:
        column = f"true_{condition}"
    if column not in result.groups_test.columns or column not in result.groups_train.columns:
        return CounterfactualLabels(
            condition=condition,
            available=False,
            reason=NO_TRUTH_LABELS.format(condition=result.target_label, column=column),
            top_fraction=fraction,
        )
    true_train = result.groups_train.get_column(column).fill_null(False).to_numpy().astype(bool)
    true_test = result.groups_test.get_column(column).fill_null(False).to_numpy().astype(bool)
    recorded_test = np.asarray(result.y_test, bool)
    treatments = tuple(t for t in TREATMENTS if t in result.features)
    flags: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    own = result.flagged("boosted", top_fraction=fraction)
    true_all = _flag(*fit_variant(result, label=true_train), fraction)
    flags["all"] = (own, true_all)
    if treatments and len(treatments) < len(result.features):
        rec_wo = _flag(
            *fit_variant(result, label=np.asarray(result.y_train, bool), drop=treatments), fraction
        )
        true_wo = _flag(*fit_variant(result, label=true_train, drop=treatments), fraction)
        flags["without_treatments"] = (rec_wo, true_wo)
    seed = result.settings.seed if seed is None else seed
    found, _ = groupings(result.groups_test, dimensions, intersections=())
    n = true_test.shape[0]
    codes: list[tuple[str, str, tuple[str, ...], tuple[str, ...], np.ndarray]] = [
        ("all", "All", ("All",), ("All",), np.zeros(n, dtype=np.int64))
    ]
    codes += [(g.name, g.label, g.levels, g.labels, g.codes) for g in found]
    undiagnosed = true_test & ~recorded_test
    names = list(flags)
    values = np.column_stack(
        [np.ones(n), true_test, undiagnosed]
        + [
            column
            for rec_flag, true_flag in flags.values()
            for column in (
                true_test & rec_flag,
                true_test & true_flag,
                undiagnosed & rec_flag,
                undiagnosed & true_flag,
            )
        ]
    ).astype(np.float64)
    ks = [len(levels) for _, _, levels, _, _ in codes]
    exact, reps = group_sums([c for *_, c in codes], ks, values, n_boot=n_boot, seed=seed)
    keys = pl.DataFrame(
        {
            "dimension": [name for name, _, levels, _, _ in codes for _ in levels],
            "dimension_label": [label for _, label, levels, _, _ in codes for _ in levels],
            "group": [level for _, _, levels, _, _ in codes for level in levels],
            "group_label": [lab for *_, labels, _ in codes for lab in labels],
            "order": np.concatenate([np.arange(k) for k in ks]),
            "n": exact[:, 0].round().astype(np.int64),
            "true_cases": exact[:, 1].round().astype(np.int64),
            "undiagnosed": exact[:, 2].round().astype(np.int64),
        }
    )
    parts = []
    for i, variant in enumerate(names):
        cols = [3 + 4 * i + j for j in range(4)]
        with np.errstate(all="ignore"):
            share = exact[:, cols[:2]] / exact[:, [1]]
            rep_share = reps[:, :, cols[:2]] / reps[:, :, [1]]
        bias = share[:, 1] - share[:, 0]
        rep_bias = rep_share[:, :, 1] - rep_share[:, :, 0]
        s_lo, s_hi = percentile_interval(rep_share, confidence)
        b_lo, b_hi = percentile_interval(rep_bias, confidence)
        counts = exact[:, cols].round().astype(np.int64)
        parts.append(
            keys.with_columns(
                variant=pl.lit(variant),
                variant_label=pl.lit(VARIANTS[variant]),
                found_recorded=pl.Series(counts[:, 0]),
                found_true=pl.Series(counts[:, 1]),
                undiagnosed_recorded=pl.Series(counts[:, 2]),
                undiagnosed_true=pl.Series(counts[:, 3]),
                share_recorded=pl.Series(share[:, 0]),
                share_recorded_lower=pl.Series(s_lo[:, 0]),
                share_recorded_upper=pl.Series(s_hi[:, 0]),
                share_true=pl.Series(share[:, 1]),
                share_true_lower=pl.Series(s_lo[:, 1]),
                share_true_upper=pl.Series(s_hi[:, 1]),
                label_bias=pl.Series(bias),
                label_bias_lower=pl.Series(b_lo),
                label_bias_upper=pl.Series(b_hi),
            ).select("variant", "variant_label", pl.all().exclude("variant", "variant_label"))
        )
    groups = pl.concat(parts).with_columns(pl.selectors.float().fill_nan(None))
    return CounterfactualLabels(
        condition=condition,
        available=True,
        groups=groups,
        top_fraction=fraction,
        treatments=treatments,
        confidence=confidence,
    )
