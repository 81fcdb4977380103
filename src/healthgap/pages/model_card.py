"""Appendix "Model card": the risk model, its performance and its fairness on one page.

The card summarises the results of the model chapters: performance from
:class:`~healthgap.pages._models.ModelPages` (computed here, not imported from
the risk chapter's page) and fairness from the published frames of a
:class:`~healthgap.pages.fairness.FairnessPage` on this card's own book, so its
numbers are the fairness chapter's published numbers.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import polars as pl

from healthgap import __version__
from healthgap.pages._models import ModelPages
from healthgap.pages.base import Page
from healthgap.pages.fairness import FairnessPage, ci_text, groups_of, sure
from healthgap.text import flat, interval, join, lower_first, num, pct, pp

__all__ = [
    "ModelCardPage",
    "PROTECTED",
    "CARD_METRICS",
    "MODEL_TEXT",
    "BASELINE_TEXT",
    "NO_GAP",
    "NO_TRUTH",
    "NO_LABEL_GROUP",
    "NO_MITIGATION",
]

#: Dimensions the card reports, in this order.
PROTECTED = ("imd_quintile", "ethnicity", "sex", "locality")
#: Measures of the card's table by group, with their headings.
CARD_METRICS: dict[str, str] = {
    "tpr": "Outcomes found (TPR)",
    "ppv": "Flagged with the outcome (PPV)",
    "selection_rate": "Share flagged",
    "auroc": "AUROC",
}
GROUP_FORMATS: dict[str, str | tuple[str, int]] = {
    "tpr": ("proportion", 1),
    "ppv": ("proportion", 1),
    "selection_rate": ("proportion", 1),
    "auroc": ("number", 3),
}
GROUP_TITLE = "Performance by group at the operating point (gradient-boosted model, test set)"
GROUP_NOTE = (
    "The 95% intervals of these values are in the downloads of the chapter \u201cIs the model fair?\u201d."
)
MODEL_TEXT = (
    "Gradient-boosted trees (scikit-learn HistGradientBoostingClassifier: 8 leaves per tree, at least "
    "500 people per leaf, learning rate 0.05, early stopping)"
)
BASELINE_TEXT = "Logistic regression with imputation, scaling and one-hot encoding"
DETAIL_ITEMS = (
    "Model",
    "Baseline",
    "Predicts",
    "Features",
    "Protected characteristics",
    "Operating point",
    "Training and test data",
    "Seed",
    "Software",
)
SYNTHETIC_KIND = "a synthetic population (no real people)"
REAL_KIND = "the dataset named in the config"
NO_GAP = "No gap in the share of outcomes found could be estimated with published groups."
NO_TRUTH = (
    "The data has no true-status columns, so label bias could not be measured; models "
    "trained on recorded diagnoses should be assumed to share the gaps in diagnosis."
)
NO_LABEL_GROUP = "Label bias could not be measured: a deprivation fifth is too small to publish."
NO_MITIGATION = "Mitigation could not be assessed on this dataset."
SKIP_MODEL = "usable model outcome"


def _card_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """The published audit rows as one row per group, a column per measure (for :meth:`Published.pipe`).

    A group with a suppressed measure is marked ``suppressed``, so its empty cells show [c].
    """
    wide = rows.pivot(
        on="metric",
        index=["dimension", "dimension_label", "order", "group", "group_label", "n"],
        values="value",
    ).sort("dimension", "order")
    flags = rows.group_by("dimension", "group").agg(pl.col("suppressed").fill_null(False).any())
    wide = wide.join(flags, on=["dimension", "group"], how="left")
    return wide.select(
        "dimension_label",
        "group_label",
        "n",
        *(c for c in CARD_METRICS if c in wide.columns),
        "suppressed",
    )


class ModelCardPage(Page):
    """The model card appendix (``chapters/model-card.qmd``)."""

    slug = "model-card"

    @cached_property
    def fairness(self) -> FairnessPage:
        """The fairness results, published once on this card's book."""
        return FairnessPage(self.book)

    @cached_property
    def models(self) -> ModelPages:
        """The cached model results shared by the model chapters."""
        return self.fairness.models

    @property
    def ok(self) -> bool:
        return self.fairness.ok

    @property
    def top(self) -> str:
        """The operating point as a share: '5%'."""
        return self.fairness.top

    def problem_note(self) -> Any:
        """The skip note when no model can be fitted, else None (nothing shown)."""
        return self.fairness.problem_note()

    @property
    def data_kind(self) -> str:
        return SYNTHETIC_KIND if self.config.data.synthetic else REAL_KIND

    @property
    def target_phrase(self) -> str:
        """What the model predicts, mid-sentence ('the outcome' without a model)."""
        return self.models.target_phrase if self.ok else "the outcome"

    # -- details ----------------------------------------------------------------------
    def details(self) -> pl.DataFrame:
        """The model details, one row per item (no counts of people)."""
        r, settings = self.models.result, self.config.model
        n_people = len(r.y_train) + len(r.y_test)
        return pl.DataFrame(
            {
                "item": list(DETAIL_ITEMS),
                "detail": [
                    MODEL_TEXT,
                    BASELINE_TEXT,
                    f"Whether a person has {self.models.target_phrase} (column {settings.target})",
                    ", ".join(lower_first(x) for x in r.feature_labels),
                    ("Not used as features: " if r.excluded else "")
                    + self.models.excluded_text()
                    + ("" if settings.exclude_protected else " (model.exclude_protected is false)"),
                    f"Flag the top {self.top} of predicted risk (cut-off {pct(r.threshold(), 2)} risk)",
                    f"{num(n_people, 0)} people from {self.data_kind}; {pct(1 - settings.test_size, 0)} for "
                    f"training, {pct(settings.test_size, 0)} held out for testing (stratified)",
                    f"{settings.seed} (split and model); {self.config.seed} (bootstrap and samples)",
                    f"healthgap {__version__}",
                ],
            }
        )

    def details_table(self) -> Any:
        if not self.ok:
            return self.models.skip(SKIP_MODEL)
        return self.book.table(
            self.book.publish(self.details(), counts=[]),
            id="model-card-details",
            title="Model details",
            columns={"item": "Item", "detail": "Detail"},
            download=False,
        )

    # -- performance --------------------------------------------------------------------
    def performance_text(self) -> str:
        """AUROC against the baseline's, and the calibration slope ('' without a model)."""
        if not self.ok:
            return ""
        auc, auc_lr = self.models.metric("auroc"), self.models.metric("auroc", "logistic")
        slope = self.models.metric("calibration_slope")
        return (
            f"On the held-out test set the model's AUROC is {num(auc['value'], 3)} "
            f"({interval(auc['lower_ci'], auc['upper_ci'], dp=3)}), against {num(auc_lr['value'], 3)} for the "
            f"logistic-regression baseline; its calibration slope is {num(slope['value'], 2)} "
            f"({interval(slope['lower_ci'], slope['upper_ci'])})."
        )

    def groups_table(self) -> Any:
        """The audit's published measures by group for the protected dimensions, one row per group."""
        groups = self.fairness.groups
        if not self.ok or groups is None:
            return self.models.skip(SKIP_MODEL)
        dims = [d.name for d in self.fairness.dimensions if d.name in PROTECTED]
        # a reshaped view of the published audit (its numbers published already): one row per group
        published = groups.where(
            pl.col("dimension").is_in(dims) & pl.col("metric").is_in(list(CARD_METRICS))
        ).pipe(_card_rows)
        return self.book.table(
            published,
            id="model-card-groups",
            title=GROUP_TITLE,
            columns={"dimension_label": "Dimension", "group_label": "Group", "n": "People", **CARD_METRICS},
            formats=GROUP_FORMATS,
            note=GROUP_NOTE,
        )

    # -- fairness findings ----------------------------------------------------------------
    def widest_text(self) -> str:
        """The largest published gap in the share of outcomes found among the protected dimensions."""
        if not self.ok:
            return ""
        gaps = self.fairness.differences
        widest = (
            pl.DataFrame()
            if gaps is None
            else gaps.frame.filter(
                (pl.col("metric") == "tpr")
                & pl.col("dimension").is_in(PROTECTED)
                & pl.col("difference").is_not_null()
            ).sort("difference", descending=True)
        )
        if not widest.height:
            return NO_GAP
        rank = pl.col("dimension").replace_strict(list(PROTECTED), list(range(len(PROTECTED))))
        labels = widest.unique("dimension", maintain_order=True).sort(rank).get_column("dimension_label")
        among = join(lower_first(x) for x in labels)
        w = widest.row(0, named=True)
        return (
            f"Among groups by {among}, the largest gap in the share of outcomes found is "
            f"by {lower_first(w['dimension_label'])}: {pct(w['lowest'])} ({flat(w['lowest_group'])}) against "
            f"{pct(w['highest'])} ({flat(w['highest_group'])}), a difference of {pp(w['difference'])}{ci_text(w)}"
            + ("." if sure(w) else "; a gap this size could be due to chance.")
        )

    def label_text(self) -> str:
        """What label bias does to the model, from the published label-bias audit."""
        if not self.ok:
            return ""
        lb, groups = self.fairness.label_bias, self.fairness.label_groups
        if lb is None or groups is None or not groups.height:
            return NO_TRUTH
        ends = (
            groups.frame.filter(
                (pl.col("dimension") == "imd_quintile")
                & (pl.col("metric") == "recall_true")
                & pl.col("value").is_not_null()
            )
            .sort("order")
            .select("group_label", "value")
        )
        if ends.height < 2:
            return NO_LABEL_GROUP
        (first_label, first), (last_label, last) = ends.row(0), ends.row(-1)
        return (
            f"A model of recorded {lower_first(lb.condition_label)} trained the same way finds "
            f"{pct(first)} of people who truly have it in deprivation fifth {first_label} against "
            f"{pct(last)} in fifth {last_label}"
            + (
                ", because it learns from diagnoses, which are less complete in deprived areas (label bias)."
                if first < last
                else "; on this dataset the gaps in diagnosis did not carry through to the model's ranking."
            )
        )

    def mitigation_text(self) -> str:
        """What ThresholdOptimizer does to the largest gap, and to the outcomes found."""
        m, s = self.fairness.mitigation, self.fairness.strategies
        if not self.ok or m is None or not s:
            return NO_MITIGATION
        base, to = s["balanced"], s["threshold_optimizer"]
        before, after = base["tpr_difference"], to["tpr_difference"]
        if before is None or after is None:
            return NO_MITIGATION
        change = None if to["found"] is None or base["found"] is None else to["found"] - base["found"]
        found_text = (
            ""
            if change is None
            else " and finds the same number of people with the outcome"
            if change == 0
            else f" and finds {num(abs(change), 0)} {'more' if change > 0 else 'fewer'} people with "
            "the outcome in the test set"
        )
        lo, hi = to["gap_change_lower_ci"], to["gap_change_upper_ci"]
        return (
            f"Equalising the share of outcomes found across {groups_of(m.dimension_label)} with "
            "fairlearn's ThresholdOptimizer "
            + (
                f"leaves the largest gap at {pp(after)}"
                if pp(before) == pp(after)
                else f"changes the largest gap from {pp(before)} to {pp(after)}"
            )
            + f"{found_text}."
            + (
                ""
                if hi is None
                else f" The change in the gap has a 95% CI of {num(100 * lo, 1)} to {num(100 * hi, 1)} "
                "percentage points."
            )
            + (
                ""
                if hi is not None and hi < 0
                else " On the test set it did not clearly narrow the gap: it equalises rates on the training "
                "set, and test-set rates in groups of this size vary by chance."
            )
        )
