"""Appendix "Model card": the risk model, its performance and its fairness on one page.

The card summarises the results of the model chapters from their published frames:
performance from a :class:`~healthgap.pages.predicting_risk.PredictingRiskPage` and
fairness from a :class:`~healthgap.pages.fairness.FairnessPage`, both on this card's own
book, so its numbers are the chapters' published numbers (a value the performance table
hides is never printed here either). Every sentence names the target, the dimensions and
their groups by the config's own words.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import polars as pl

from healthgap import __version__
from healthgap.disclosure import REASON_DERIVED
from healthgap.pages._fairness_calibration import headline_text, ratio_words
from healthgap.pages._fairness_gaps import SMALL_WITHIN_TAIL, base_rate_text, orient
from healthgap.pages._fairness_labels import WHOLE_IN_CHAPTER, gap_change_text
from healthgap.pages._groups import in_group, label_name
from healthgap.pages._models import ModelPages, about, features_sentence
from healthgap.pages.base import Page
from healthgap.pages.fairness import (
    FairnessPage,
    end_name,
    ends_of,
    group_said,
    groups_of,
)
from healthgap.pages.predicting_risk import PredictingRiskPage, metric_row
from healthgap.text import capitalise, interval, join, lower_first, num, pct, pp

__all__ = [
    "ModelCardPage",
    "CARD_METRICS",
    "MODEL_TEXT",
    "BASELINE_TEXT",
    "NO_GAP",
    "NO_TRUTH",
    "NO_LABEL_GROUP",
    "NO_CALIBRATION",
    "NO_MITIGATION",
    "NO_PAIRS",
    "NO_PERFORMANCE",
    "NO_REFERENCE",
    "REFERENCE",
]

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
    "auroc": ("number", 2),  # as the audit publishes it (2 decimals)
}
GROUP_TITLE = "Performance by group at the operating point (gradient-boosted model, test set)"
#: Where the fairness chapter gives the label-bias audit (inline text: no cross-reference).
LABEL_SECTION = "the fairness chapter, \u201cLabel bias: what learning from diagnoses costs\u201d"
#: How the card's table note says a measure counted among too few people of a larger group.
CARD_WITHIN = "rates not shown where there are "
GROUP_NOTE = (
    "The 95% intervals of these values are in the downloads of the chapter \u201cIs the model fair?\u201d."
)
MODEL_TEXT = (
    "Gradient-boosted trees (scikit-learn HistGradientBoostingClassifier: 8 leaves per tree, at least "
    "{leaf} people per leaf, learning rate 0.05, early stopping)"
)
BASELINE_TEXT = "Logistic regression with imputation, scaling and one-hot encoding"
DETAIL_ITEMS = (
    "Model",
    "Baseline",
    "Predicts",
    "Features",
    "Equity dimensions",
    "Operating point",
    "Training and test data",
    "Seed",
    "Software",
)
SYNTHETIC_KIND = "a synthetic population (no real people)"
REAL_KIND = "the dataset named in the config"
NO_GAP = "No gap in the share of outcomes found could be estimated with published groups."
#: Without truth: what the fairness page's skip note says (:data:`~healthgap.pages.fairness.SKIP_TRUTH`), in words
#: that do not speak of undiagnosed people or true status, which such data cannot show.
NO_TRUTH = (
    "Label bias cannot be checked: this dataset does not say who truly has a condition, so whether the model "
    "misses people because it learnt from diagnoses or because of its inputs and the capacity cannot be told apart."
)
NO_LABEL_GROUP = (
    "Label bias cannot be compared between {most} and {least}: one of them is too small to publish."
)
#: Dimensions of the card with fewer than two groups to compare (as the fairness page says).
NO_PAIRS = (
    "Gaps in the share of outcomes found between {groups} are not compared here: fewer than two groups have "
    "enough people with the outcome (@sec-fairness-groups)."
)
#: Where the data records each person's true risk, and where it does not.
REFERENCE = "@sec-fairness-reference separates the part of such a gap that base rates explain from the part the model adds."
NO_REFERENCE = (
    "This data does not record each person's true risk, so how much of a gap base rates explain cannot be "
    "checked (@sec-fairness-reference)."
)
NO_LABEL_DIMENSION = (
    "Label bias could not be compared between groups: no equity dimension of this dataset is ordered "
    "with a known disadvantaged end."
)
NO_CALIBRATION = (
    "Calibration by group could not be checked: no equity dimension has two or more groups large enough to "
    "publish."
)
NO_MITIGATION = "Mitigation could not be assessed on this dataset."
NO_PERFORMANCE = "Too few people in the test set had the outcome to publish the model's performance."
NO_MODEL_CARD = (
    "No model could be fitted to this dataset (see the note above), so there is nothing to report."
)
SKIP_MODEL = "usable model outcome"
#: Mean |SHAP| below which a feature never changes a prediction (as the explanations chapter says).
UNUSED = 1e-9


def _card_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """The published audit rows as one row per group, a column per measure (for :meth:`Published.pipe`).

    A group with a suppressed measure is marked ``suppressed``, so its empty cells show [c].
    """
    wide = rows.pivot(
        on="metric",
        index=["dimension", "dimension_label", "order", "group", "group_label", "n"],
        values="value",
    ).sort("dimension", "order")
    flags = rows.group_by("dimension", "group").agg(
        pl.col("suppressed").fill_null(False).any(),
        _card_reason(rows).alias("suppression_reason"),
    )
    wide = wide.join(flags, on=["dimension", "group"], how="left")
    return wide.select(
        "dimension_label",
        "group_label",
        "n",
        *(c for c in CARD_METRICS if c in wide.columns),
        "suppressed",
        "suppression_reason",
    )


def _card_reason(rows: pl.DataFrame) -> pl.Expr:
    """Why a group's measures are withheld, from the audit rows' reasons (an aggregation): each
    count's own reason without its column names, the reasons of values derived from it left out
    (the card shows no counts), a count measured among too few people of a larger group said as
    "not shown where there are fewer than 50 people in the group with the outcome"; null when
    nothing is withheld (the rows carry no reason)."""
    if "suppression_reason" not in rows.columns:
        return pl.lit(None, pl.String).first()
    parts = (
        pl.col("suppression_reason")
        .str.split("; ")
        .explode()
        .str.replace(r"^[\w ]+(?:, [\w ]+)*: ", "")
        .drop_nulls()
    )
    keep = parts.filter(parts != REASON_DERIVED).unique(maintain_order=True)
    said = (
        pl.when(keep.str.starts_with("fewer than ") & keep.str.contains(" in the group "))
        .then(pl.lit(CARD_WITHIN) + keep.str.replace(SMALL_WITHIN_TAIL, "", literal=True))
        .otherwise(keep)
    )
    return pl.when(keep.len() > 0).then(said.str.join("; ")).otherwise(None)


def _headline_truth(frame: pl.DataFrame) -> str:
    """' Against each person's true risk ... 1.24).' for the group :func:`headline_text` names when
    its observed/expected survives the simultaneous intervals (the same choice: the largest
    ratio on the log scale among those beyond chance), from the fairness page's published
    ``true_ratio``; '' without truth or without such a group."""
    shown = frame.filter(pl.col("value").is_not_null() & pl.col("simultaneous_lower").is_not_null())
    hits = shown.filter((pl.col("simultaneous_lower") > 1) | (pl.col("simultaneous_upper") < 1))
    if hits.is_empty() or "true_ratio" not in hits.columns:
        return ""
    row = hits.sort(pl.col("value").log().abs(), descending=True).row(0, named=True)
    if row["true_ratio"] is None:
        return ""
    return (
        f" Against each person's true risk, which this data records, that group's true risk is "
        f"{ratio_words(row['true_ratio'])} the model's predictions (true over predicted {num(row['true_ratio'])})."
    )


class ModelCardPage(Page):
    """The model card appendix (``chapters/model-card.qmd``)."""

    slug = "model-card"

    @cached_property
    def fairness(self) -> FairnessPage:
        """The fairness results, published once on this card's book."""
        return FairnessPage(self.book)

    @cached_property
    def risk(self) -> PredictingRiskPage:
        """The performance results, published once on this card's book."""
        page = PredictingRiskPage(self.book)
        page.models = self.models
        return page

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

    @property
    def card_dimensions(self) -> list[str]:
        """The dimensions the card reports: every one audited except age band."""
        return [d.name for d in self.fairness.dimensions if d.name != "age_band"]

    # -- details ----------------------------------------------------------------------
    def data_text(self, people: str) -> str:
        """'About 1,000 people from a synthetic population (no real people)', or, when the models are
        fitted on a sample, 'A stratified sample of about 250,000 of about 1,000,000 people from ...
        (model.sample_size)'; ``people`` is the published number fitted on, in words."""
        sizes = self.models.sample_sizes
        if sizes is None:
            return f"{capitalise(people)} people from {self.data_kind}"
        everyone = about(sizes.get("people"), rounded=self.models.rounded)
        return (
            f"A stratified sample of {about(sizes.get('sample'), rounded=self.models.rounded)} of {everyone} "
            f"people from {self.data_kind} (model.sample_size)"
        )

    def details(self) -> pl.DataFrame:
        """The model details, one row per item (counts of people as published)."""
        r, settings = self.models.result, self.models.settings
        people = about(self.models.sizes.get("people"), rounded=self.models.rounded)
        return pl.DataFrame(
            {
                "item": list(DETAIL_ITEMS),
                "detail": [
                    MODEL_TEXT.format(leaf=num(r.leaf, 0)),
                    BASELINE_TEXT,
                    f"Each person's risk of {self.models.target_phrase} (column {settings.target})",
                    ", ".join(lower_first(x) for x in r.feature_labels) + self.unused_text(),
                    self.dimensions_detail(),
                    f"Flag the top {self.top} of predicted risk (cut-off {pct(r.threshold(), 2)} risk)",
                    f"{self.data_text(people)}; {pct(1 - settings.test_size, 0)} for "
                    f"training, {pct(settings.test_size, 0)} held out for testing (stratified)",
                    f"{settings.seed} (split and model); {self.config.seed} (bootstrap and samples)",
                    f"healthgap {__version__}",
                ],
            }
        )

    def unused_text(self) -> str:
        """'; coronary heart disease and atrial fibrillation never change a prediction (...)' for the
        features whose contribution is zero for every person explained (as the explanations chapter
        says), or ''."""
        imp = self.models.explanation.importance
        unused = [lower_first(x) for x in imp.filter(pl.col("value") < UNUSED).get_column("label").to_list()]
        if not unused:
            return ""
        verb = "changes" if len(unused) == 1 else "change"
        return f"; {join(unused)} never {verb} a prediction (see the explanations chapter)"

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

    def dimensions_detail(self) -> str:
        """Table A.1's cell: the compared equity dimensions that are not features, those that are, and
        the features that are protected characteristics (Equality Act 2010), from the config."""
        out, used, protected = self.models.feature_use()
        sources, others = self.models.feature_sources(), self.models.feature_others()
        parts = [
            f"compared on the fairness page, not features: {', '.join(out)}" if out else "",
            "compared on the fairness page, features: "
            + ", ".join(f"{u} (derived from {sources[u]})" if u in sources else u for u in used)
            if used
            else "",
            f"not features, not compared: {', '.join(others)}" if others else "",
            f"protected characteristics (Equality Act 2010) among the features: {', '.join(protected)}"
            if protected
            else "",
        ]
        text = "; ".join(p for p in parts if p) or "none"
        extra = "" if self.models.settings.exclude_protected else " (model.exclude_protected is false)"
        return capitalise(text) + extra

    def protected_text(self) -> str:
        """Which compared equity dimensions are features and which protected characteristics are
        (never empty)."""
        if not self.ok:
            return "No model was fitted, so no column is a feature."
        text = features_sentence(**self.models.feature_words(), markdown=False)
        return text or "The dataset has no equity dimension or protected characteristic the model could use."

    # -- performance --------------------------------------------------------------------
    def performance_text(self) -> str:
        """AUROC against the baseline's and the calibration slope, as the risk chapter publishes them."""
        if not self.ok:
            return NO_MODEL_CARD
        performance = self.risk.performance
        auc, auc_lr = metric_row(performance, "auroc"), metric_row(performance, "auroc", "logistic")
        slope = metric_row(performance, "calibration_slope")
        if any(r is None or None in (r["value"], r["lower_ci"], r["upper_ci"]) for r in (auc, auc_lr, slope)):
            return NO_PERFORMANCE
        assert auc is not None and auc_lr is not None and slope is not None
        return (
            f"On the held-out test set the model's AUROC is {num(auc['value'], 3)} "
            f"({interval(auc['lower_ci'], auc['upper_ci'], dp=3)}), against {num(auc_lr['value'], 3)} for the "
            f"logistic-regression baseline; its calibration slope is {num(slope['value'], 2)} "
            f"({interval(slope['lower_ci'], slope['upper_ci'])})."
        )

    def performance_paragraph(self) -> Any:
        """:meth:`performance_text` and where the full results are (Markdown: it cross-refers)."""
        from IPython.display import Markdown

        if not self.ok:
            return Markdown(NO_MODEL_CARD)
        shown = not self.risk.calibration.frame.get_column("value").is_null().all()
        where = "@tbl-performance and @fig-calibration" if shown else "@tbl-performance"
        return Markdown(f"{self.performance_text()} Full results are in {where}.")

    def groups_table(self) -> Any:
        """The audit's published measures by group for the card's dimensions, one row per group."""
        groups = self.fairness.groups
        if not self.ok or groups is None:
            return self.models.skip(SKIP_MODEL)
        dims = self.card_dimensions
        rows = groups.where(pl.col("dimension").is_in(dims) & pl.col("metric").is_in(list(CARD_METRICS)))
        if not rows.height:
            return self.models.skip("equity group large enough to publish")
        # a reshaped view of the published audit (its numbers published already): one row per group
        return self.book.table(
            rows.pipe(_card_rows),
            id="model-card-groups",
            title=GROUP_TITLE,
            columns={"dimension_label": "Dimension", "group_label": "Group", "n": "People", **CARD_METRICS},
            formats=GROUP_FORMATS,
            note=GROUP_NOTE,
        )

    # -- fairness findings ----------------------------------------------------------------
    def widest_text(self) -> str:
        """The largest gap in the share of outcomes found at capacity, among the card's dimensions,
        that survives simultaneous intervals, or that none does: the fairness page's published pairs
        (its "Gaps beyond chance"), the dimensions it cannot compare named as it names them, and
        where base rates are separated from the model (Markdown cross-references)."""
        if not self.ok:
            return "No model was audited."
        dims = self.card_dimensions
        pairs = self.fairness.tpr_pairs
        shown = (
            pl.DataFrame(schema={"dimension": pl.String})
            if pairs is None
            else pairs.frame.filter(
                pl.col("dimension").is_in(dims)
                & pl.col("value").is_not_null()
                & pl.col("lower_ci").is_not_null()
            )
        )
        compared = set(shown.get_column("dimension").to_list())
        apart = [d for d in self.fairness.dimensions if d.name in dims and d.name not in compared]
        none = (
            NO_PAIRS.format(groups=join((groups_of(d.label, d.noun) for d in apart), conjunction="or"))
            if apart
            else ""
        )
        if not shown.height:
            return none or NO_GAP
        rank = pl.col("dimension").replace_strict(dims, list(range(len(dims))))
        labels = shown.unique("dimension", maintain_order=True).sort(rank).get_column("dimension_label")
        among = join(lower_first(x) for x in labels)
        hits = shown.filter(pl.col("excludes_null").fill_null(False))
        if not hits.height:
            text = (
                f"Among groups by {among}, no gap in the share of outcomes found at the top {self.top} is beyond "
                "what chance alone gives once every pair of groups is compared together (simultaneous intervals)."
            )
            return " ".join(t for t in (text, none) if t)
        w = orient(hits.sort(pl.col("value").abs(), descending=True).row(0, named=True))
        dim = self.fairness.dimension(w["dimension"])
        text = (
            f"Among groups by {among}, the largest gap in the share of outcomes found at the top {self.top} that "
            f"chance alone does not explain is by {lower_first(w['dimension_label'])}: {pp(w['value'])} (higher "
            f"{in_group(group_said(dim, w['group_label']))}; lower {in_group(group_said(dim, w['versus_label']))}; simultaneous "
            f"95% CI {pp(w['lower_ci'], unit=False)} to {pp(w['upper_ci'])}; @sec-fairness-chance)."
        )
        # the fairness page's verdict on the same pair: what base rates give and what the model adds
        refs = self.fairness.reference_pairs
        mine = (
            refs.frame.filter(pl.col("dimension") == w["dimension"])
            if refs is not None and self.models.reference is not None
            else None
        )
        verdict = base_rate_text(w, mine, dim, top=self.top).strip()
        # with the verdict given, where base rates are separated for other pairs needs no pointer
        reference = "" if verdict else REFERENCE if self.fairness.reference_gaps is not None else NO_REFERENCE
        return " ".join(t for t in (text, verdict, none, reference) if t)

    def calibration_text(self) -> str:
        """The calibration finding: the largest miscalibration by group beyond chance, or that none is
        (and, where the data has it, the largest against the truth)."""
        calibration = self.fairness.calibration if self.ok else None
        stated = calibration is not None and self.fairness.calibration_paragraph() is not None
        text = (
            headline_text(calibration.frame, self.models.social, name=label_name)
            if stated and calibration
            else ""
        )
        if not text:
            return NO_CALIBRATION if self.ok else "No model was checked for calibration by group."
        assert calibration is not None
        return f"{text.strip()}{_headline_truth(calibration.frame)} See @sec-fairness-calibration."

    def label_text(self) -> str:
        """Label bias at the two ends, with and without treatment features, from the published
        counterfactual-label audit."""
        if not self.ok:
            return "No model was checked for label bias."
        f = self.fairness
        lb, shares, dim = f.label_bias, f.label_shares, f.label_dimension
        if dim is None and self.caps.has_truth:
            return NO_LABEL_DIMENSION
        if lb is None or shares is None or dim is None:
            return NO_TRUTH
        worse, better = ends_of(dim)
        rows = {
            (r["variant"], r["group"]): r
            for r in shares.frame.filter(pl.col("group").is_in([worse, better])).iter_rows(named=True)
        }
        a, b = rows.get(("all", worse)), rows.get(("all", better))
        most, least = end_name(dim, worse, most=True), end_name(dim, better, most=False)
        if a is None or b is None or a["label_bias"] is None or b["label_bias"] is None:
            return NO_LABEL_GROUP.format(most=most, least=least)
        cond = lower_first(lb.condition_label)

        def bias(row: dict) -> str:
            ci = (
                ""
                if row["label_bias_lower"] is None
                else f" (95% CI {pp(row['label_bias_lower'], unit=False)} to {pp(row['label_bias_upper'])})"
            )
            return pp(row["label_bias"]) + ci

        text = (
            f"Label bias (the share of true cases of {cond} a model trained on the true condition finds, minus the "
            f"share the same model trained on recorded diagnoses finds, at the top {self.top}) is {bias(a)} in "
            f"{most} and {bias(b)} in {least}"
        )
        wa, wb = rows.get(("without_treatments", worse)), rows.get(("without_treatments", better))
        if (
            f.care_features
            and wa is not None
            and wb is not None
            and wa["label_bias"] is not None
            and wb["label_bias"] is not None
        ):
            text += f"; without the treatment features, {bias(wa)} and {bias(wb)}"
        return text + ". See @sec-fairness-label-bias."

    def label_limit_text(self) -> str:
        """The label-bias caveat of the limitations, following the label-bias audit: that the less
        often diagnosed look healthier to the model only where the audit shows it beyond chance in
        the more disadvantaged group; otherwise that the audit found no clear effect, or cannot tell."""
        records = "The outcome and several features (diagnoses, treatments) are records of care."
        can = "Groups that are less often diagnosed can look healthier to a model than they are"
        f = self.fairness if self.ok else None
        shares, dim = (None, None) if f is None else (f.label_shares, f.label_dimension)
        if f is None or f.label_bias is None or shares is None or dim is None:
            why = (
                "no model was fitted"
                if f is None
                else "this dataset does not record the true condition"
                if not self.caps.has_truth
                else "no equity dimension is ordered with a known disadvantaged end"
                if dim is None
                else "the label-bias audit could not be made"
            )
            return f"{records} {can}; whether they do here cannot be checked: {why}."
        worse, _ = ends_of(dim)
        most = end_name(dim, worse, most=True)
        rows = [
            r
            for r in shares.frame.filter(pl.col("group") == worse).iter_rows(named=True)
            if r["label_bias"] is not None
        ]
        if not rows:
            return f"{records} {can}; the label-bias audit cannot say whether they do here: {most} is too small to publish."
        # shown: the interval lies wholly above 0 (learning from diagnoses costs true cases found)
        shown = [r for r in rows if r["label_bias_lower"] is not None and r["label_bias_lower"] > 0]
        if shown:
            r = max(shown, key=lambda r: r["label_bias"])
            return (
                f"{records} Groups that are less often diagnosed look healthier to the model than they are: in "
                f"{most}, a model trained on the true condition finds {pp(r['label_bias'])} more of the true cases "
                f"(95% CI {pp(r['label_bias_lower'], unit=False)} to {pp(r['label_bias_upper'])}) "
                f"({LABEL_SECTION})."
            )
        # only the estimates with an interval can be said to be within chance (the share of the never
        # diagnosed flagged, also in that section, has none)
        if not any(r["label_bias_lower"] is not None and r["label_bias_upper"] is not None for r in rows):
            return (
                f"{records} {can}; the label-bias audit cannot say whether they do here: its estimates for "
                f"{most} have no interval ({LABEL_SECTION})."
            )
        return (
            f"{records} {can}, but on this data the label-bias audit found no clear effect of this in {most}: "
            f"its label-bias estimates by group with a 95% interval ({LABEL_SECTION}) are all within what "
            "chance alone gives."
        )

    def mitigation_text(self) -> str:
        """What equal opportunity at capacity does to the gap between the two ends, with its interval,
        from the fairness page's published gaps; where that page cannot judge it, its own sentence."""
        f = self.fairness
        if not self.ok:
            return NO_MITIGATION
        m, gaps = f.capacity_mitigation, f.mitigation_gaps
        base = None if gaps is None else gaps.row(strategy="unmitigated")
        eo = None if gaps is None else gaps.row(strategy="equal_opportunity")
        if m is None or base is None or eo is None or base["gap"] is None or eo["gap"] is None:
            return f.mitigation_text(whole=WHOLE_IN_CHAPTER)
        dim = f.dimension(m.dimension)
        return (
            f"Equal opportunity at capacity (a cut-off per group fitted on a validation half of the test set, "
            f"the top {self.top} still flagged) moves the gap in the share of outcomes found between "
            f"{group_said(dim, m.first)} and {group_said(dim, m.last)} from {pp(base['gap'])} to {pp(eo['gap'])} "
            f"on the other half: {gap_change_text(eo)}."
        )

    def findings(self) -> Any:
        """The fairness findings as a Markdown list (so that their cross-references resolve), each
        pointing to the section of the fairness chapter it summarises."""
        from IPython.display import Markdown

        items = (
            self.widest_text(),
            self.calibration_text(),
            self.label_text(),
            f"{self.mitigation_text()} See @sec-fairness-mitigation." if self.ok else self.mitigation_text(),
        )
        return Markdown("\n".join(f"* {t}" for t in items))
