"""Why does the model predict what it does: SHAP importance, the deprivation gap, groups, dependence.

:func:`healthgap.explain.explain` returns exact aggregates of the SHAP values
(means over groups of people with the groups' exact sizes). This page publishes
each frame once (:meth:`healthgap.book.Book.publish`) and leaves out the groups
and bins too small to publish (their size is suppressed), as no explanation
of a handful of people is shown; the figures, downloads and sentences read
those published frames.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.disclosure import Published
from healthgap.explain import GAP_NO_DIMENSION, GAP_TOO_FEW, Explanation
from healthgap.pages._models import ModelPages
from healthgap.pages.base import CI_COLUMNS, Page
from healthgap.text import interval, join, lower_first, num, pct

__all__ = [
    "ExplanationsPage",
    "shown",
    "importance_sentence",
    "additivity_sentence",
    "gap_intro_sentence",
    "gap_sentence",
    "gap_note",
    "NO_GAP",
    "NO_OUTCOME_SKIP",
    "NO_MODEL",
    "NO_GAP_INTRO",
    "LABEL_BIAS_REF",
    "LARGER_SAMPLE",
    "IMPORTANCE_COLUMNS",
    "GAP_COLUMNS",
    "HEATMAP_FEATURES",
]

#: Reason of the note at the top of the chapter when no model can be fitted.
NO_OUTCOME_SKIP = "usable outcome for the model: {problem}"
#: What later sections say is missing (ModelPages.skip points back to the note above).
NO_MODEL = "usable model outcome"
NO_GAP_INTRO = (
    "The model does not see deprivation; any difference it predicts between areas comes through the features."
)
#: Why the gap between the first and last groups is not split (:func:`gap_note`).
NO_GAP = "The gap between {first} and {last} cannot be split: {why}."
_GAP_WHY = {
    GAP_TOO_FEW: "too few people in the SHAP sample in one of them",
    GAP_NO_DIMENSION: "{dimension} is not available",
}
#: Pointer to the label-bias check, which runs only on data that say who truly has a condition.
LABEL_BIAS_REF = " (see @sec-fairness-label-bias)"
#: Below this many people explained, the gap sentence suggests a larger sample.
LARGER_SAMPLE = 5000
#: How many of the most important features the heatmap shows.
HEATMAP_FEATURES = 8

_THREE_DP = {c: ("number", 3) for c in ("value", "lower_ci", "upper_ci")}
IMPORTANCE_COLUMNS = {
    "rank": "Rank",
    "label": "Feature",
    "value": "Mean |SHAP|",
    **CI_COLUMNS,
    "n": "People explained",
}
GAP_COLUMNS = {
    "label": "Feature",
    "value": "Contribution (log-odds)",
    **CI_COLUMNS,
    "share": "Share of the gap",
    "n_first": "People (most deprived)",
    "n_last": "People (least deprived)",
}
_GAP_TITLE = "How much of the gap in predicted risk between the most and least deprived fifths each feature accounts for"


def shown(published: Published, count: str = "n") -> Published:
    """The rows whose group size was published (groups too small to publish are left out)."""
    return published.where(pl.col(count).is_not_null())


def _clear(row: dict[str, Any]) -> bool:
    """Whether a row's 95% interval excludes zero."""
    lo, hi = row["lower_ci"], row["upper_ci"]
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


# -- sentences -------------------------------------------------------------------------------
def importance_sentence(importance: pl.DataFrame, *, sample: int) -> str:
    """The three features that move predictions most, and those that never change one.

    Parameters
    ----------
    importance : published importance (``label``, ``value``), most important first.
    sample : people explained.
    """
    top3 = [lower_first(x) for x in importance.get_column("label").head(3).to_list()]
    text = (
        f"Across the {num(sample, 0)} people explained, the features that move predictions most are "
        f"{top3[0]}, {top3[1]} and {top3[2]}."
        if len(top3) >= 3
        else ""
    )
    unused = importance.filter(pl.col("value") < 1e-9).get_column("label").to_list()
    if not unused:
        return text
    names = join([unused[0], *(lower_first(x) for x in unused[1:])])  # the first one starts the sentence
    one = len(unused) == 1
    return text + (
        f" {names} never change{'s' if one else ''} a prediction: the model's trees only split groups of at "
        "least 500 people, and in the training set too few people have "
        f"{'it' if one else 'them'} for such a split to help."
    )


def additivity_sentence(base_value: float, additivity_error: float) -> str:
    """That the contributions plus the base value add up to the model's output."""
    return (
        f"For every person explained, the contributions plus the base value "
        f"({num(base_value, 2)} log-odds, a predicted risk of {pct(1 / (1 + math.exp(-base_value)), 2)}) "
        "add up to the model's own output, apart from rounding error "
        + (
            "(less than one millionth of a log-odds unit)."
            if additivity_error < 1e-6
            else f"(at most {num(additivity_error, 6)} log-odds)."
        )
    )


def gap_intro_sentence(gap: pl.DataFrame) -> str:
    """Whether the model predicts higher or lower risk in more deprived areas."""
    total = gap.filter(pl.col("feature") == "(total)") if gap.height else gap
    if not total.height:
        return NO_GAP_INTRO
    row = total.row(0, named=True)
    if _clear(row):
        direction = "higher" if row["value"] > 0 else "lower"
        return f"The model does not see deprivation, yet it predicts {direction} risk in more deprived areas."
    return (
        "The model does not see deprivation; any difference it predicts between more and less deprived "
        "areas comes through the features."
    )


def gap_note(explanation: Explanation) -> str | None:
    """Why the explanation's gap is not split (:data:`NO_GAP`), or None when it is."""
    problem = explanation.gap_problem
    if problem is None:
        return None
    first, last = explanation.gap_groups or ("the first", "last level")
    why = _GAP_WHY[problem].format(dimension=explanation.gap_dimension)
    return NO_GAP.format(first=first, last=last, why=why)


def gap_sentence(gap: pl.DataFrame, *, sample: int, note: str | None = None) -> str:
    """The gap in mean predicted log-odds and the feature that contributes most to it.

    Parameters
    ----------
    gap : published gap decomposition (one row per feature plus the ``(total)`` row).
    sample : people explained (a small sample gets a hint to raise it).
    note : why the gap could not be split, when ``gap`` is empty.
    """
    if not gap.height:
        return note or ""
    total_rows = gap.filter(pl.col("feature") == "(total)")
    parts = gap.filter(pl.col("feature") != "(total)").sort(pl.col("value").abs(), descending=True)
    if not total_rows.height or not parts.height:
        return note or ""
    total, lead = total_rows.row(0, named=True), parts.row(0, named=True)
    sure = _clear(total)
    text = (
        f"The model's mean predicted log-odds is {num(abs(total['value']), 2)} "
        f"{'higher' if total['value'] > 0 else 'lower'} in the most "
        f"deprived fifth than in the least deprived fifth ({interval(total['lower_ci'], total['upper_ci'])}"
        + (")." if sure else "; with this sample the gap could be due to chance).")
        + f" The largest single contribution comes from {lower_first(lead['label'])} "
        f"({num(lead['value'], 2)} log-odds"
        + (f", {pct(lead['share'], 0)} of the gap" if sure else "")
        + (
            ")."
            if _clear(lead)
            else f"; {interval(lead['lower_ci'], lead['upper_ci'])}, which includes no contribution at all, "
            "so even this could be due to chance)."
        )
    )
    if sample < LARGER_SAMPLE:
        text += (
            f" The split uses the {num(sample, 0)} people explained; a larger sample (the SHAP "
            "sample size setting in the config file) narrows these intervals."
        )
    return text


class ExplanationsPage(Page):
    """The "Why does the model predict what it does?" chapter."""

    slug = "explanations"

    @cached_property
    def models(self) -> ModelPages:
        """The model results shared by the model chapters."""
        return ModelPages(self.book)

    # -- can we model at all? ---------------------------------------------------------
    @property
    def problem(self) -> str | None:
        """Why no model can be fitted (no usable outcome), or None."""
        return self.models.problem

    @property
    def ok(self) -> bool:
        """Whether a model was fitted."""
        return self.problem is None

    def skip_note(self) -> Any:
        """The note at the top of the chapter when no model can be fitted (else None)."""
        if self.problem is None:
            return None
        return self.book.skip(NO_OUTCOME_SKIP.format(problem=self.problem))

    def skip(self, reason: str) -> Any:
        """A section's skip note; it points back to :meth:`skip_note` when there is no model."""
        return self.models.skip(reason)

    # -- published frames ----------------------------------------------------------------
    @property
    def explanation(self) -> Explanation:
        """The SHAP explanation (exact aggregates; cached across chapters)."""
        return self.models.explanation

    @cached_property
    def importance(self) -> Published:
        """Mean |SHAP| per feature, most important first (published)."""
        frame = self.explanation.importance.select(
            "rank", "feature", "label", "n", "value", "lower_ci", "upper_ci"
        )
        return shown(self.book.publish(frame, counts=["n"], by=["feature"], derived={}))

    @cached_property
    def by_group(self) -> Published:
        """Mean SHAP value per equity group and feature (published; small groups left out)."""
        frame = self.explanation.by_group
        if not frame.height:
            return self.book.publish(frame, counts=[])
        frame = frame.select(
            "dimension", "dimension_label", "group", "group_label", "feature", "label", "n", "value"
        )
        return shown(self.book.publish(frame, counts=["n"], by=["dimension", "feature"]))

    @cached_property
    def gap(self) -> Published:
        """The gap between the most and least deprived fifths split by feature (published)."""
        frame = self.explanation.gap
        if not frame.height:
            return self.book.publish(frame, counts=[])
        frame = frame.select(
            "feature", "label", "n_first", "n_last", "value", "lower_ci", "upper_ci", "share"
        )
        return self.book.publish(frame, counts=["n_first", "n_last"], by=["feature"], derived={})

    @cached_property
    def dependence(self) -> Published:
        """Mean SHAP value in bins of the most important features (published; small bins left out)."""
        frame = self.explanation.dependence
        if not frame.height:
            return self.book.publish(frame, counts=[])
        frame = frame.select("feature", "label", "bin", "bin_label", "n", "value", "lower_ci", "upper_ci")
        return shown(self.book.publish(frame, counts=["n"], by=["feature"]))

    # -- words ---------------------------------------------------------------------------
    def importance_text(self) -> str:
        """The most important features in words (empty without a model)."""
        if not self.ok:
            return ""
        return importance_sentence(self.importance.frame, sample=self.explanation.sample)

    def additivity_text(self) -> str:
        """The additivity check in words (empty without a model)."""
        if not self.ok:
            return ""
        e = self.explanation
        return additivity_sentence(e.base_value, e.additivity_error)

    def gap_intro(self) -> str:
        """Whether the model predicts higher risk in more deprived areas (empty without a model)."""
        return gap_intro_sentence(self.gap.frame) if self.ok else ""

    def gap_text(self) -> str:
        """The gap and its largest contribution in words (empty without a model)."""
        if not self.ok:
            return ""
        e = self.explanation
        return gap_sentence(self.gap.frame, sample=e.sample, note=gap_note(e))

    def diagnosis_ref(self) -> Any:
        """A pointer to the label-bias check when it runs (Markdown: it cross-refers)."""
        from IPython.display import Markdown

        return Markdown(LABEL_BIAS_REF if self.ok and self.models.label_condition is not None else "")

    # -- figures -----------------------------------------------------------------------
    def importance_figure(self) -> Any:
        """Mean |SHAP| of every feature, most important first."""
        if not self.ok:
            return self.skip(NO_MODEL)
        text = self.importance_text()
        return self.book.figure(
            _importance_chart,
            id="importance",
            title="Average size of each feature's contribution to predicted risk",
            description=(
                "Bar chart, features from most to least important, of the mean absolute SHAP value "
                "(log-odds) with 95% bootstrap intervals. " + text
            ),
            data=self.importance,
            columns=IMPORTANCE_COLUMNS,
            formats=_THREE_DP,
        )

    def gap_figure(self) -> Any:
        """Each feature's contribution to the gap between the most and least deprived fifths."""
        if not self.ok:
            return self.skip(NO_MODEL)
        if not self.gap.height:
            return self.skip("deprivation groups large enough to compare")
        first, last = self.explanation.gap_groups or ("", "")
        title = f"Contributions to the gap: {first} minus {last}"
        return self.book.figure(
            lambda d: _gap_chart(d, title=title),
            id="gap-decomposition",
            title=_GAP_TITLE,
            description=(
                "Bar chart of the difference in mean SHAP value between the most and least deprived fifths, "
                "for each feature, with 95% bootstrap intervals; the bars add up to the gap in mean "
                "predicted log-odds. " + self.gap_text()
            ),
            data=self.gap.where(pl.col("feature") != "(total)").sort("value", descending=True),
            columns=GAP_COLUMNS,
            formats={**_THREE_DP, "share": ("proportion", 0)},
        )

    def groups_figure(self) -> Any:
        """Mean contribution of the most important features in each deprivation fifth."""
        dim = next((d for d in self.models.dimensions if d.name == "imd_quintile"), None) if self.ok else None
        if dim is None or not self.by_group.height:
            return self.skip("deprivation column with more than one group")
        top = self.importance.frame.head(HEATMAP_FEATURES)
        keep = top.get_column("feature").to_list()
        grid = self.by_group.where(pl.col("dimension") == "imd_quintile", pl.col("feature").is_in(keep))
        x_order = [dim.label_of(x) for x in dim.order]
        y_order = top.get_column("label").to_list()
        return self.book.figure(
            lambda d: charts.heatmap(
                d,
                x="group_label",
                y="label",
                title="Mean SHAP value by deprivation fifth (log-odds)",
                x_order=x_order,
                y_order=y_order,
                x_title=dim.label,
                y_title="Feature",
                legend_title="Mean SHAP",
                text_format=",.2f",
                scheme="diverging",
            ),
            id="shap-by-deprivation",
            title="Mean contribution of the most important features by deprivation fifth",
            description=(
                "Heatmap of the mean SHAP value (log-odds) of the eight most important features in each "
                "deprivation fifth, on a colour scale centred on zero: red cells raise predicted risk, "
                "blue cells lower it, and pale cells change it little."
            ),
            data=grid.select("dimension", "group", "group_label", "feature", "label", "n", "value"),
            columns={
                "group_label": "Group",
                "label": "Feature",
                "n": "People explained",
                "value": "Mean SHAP",
            },
            formats={"value": ("number", 3)},
        )

    def groups_download(self) -> Any:
        """The mean SHAP value of every feature in every equity group, as a download (else None)."""
        if not self.ok or not self.by_group.height:
            return None
        return self.book.download(
            self.by_group, id="shap-by-group", title="Mean SHAP value by equity group and feature"
        )

    def dependence_figure(self, rank: int, id: str) -> Any:
        """The average contribution of the ``rank``-th most important feature (0 = the most), by its values."""
        if not self.ok or not self.dependence.height:
            return self.skip(NO_MODEL)
        features = self.dependence.frame.get_column("feature").unique(maintain_order=True).to_list()
        if rank >= len(features):
            return self.skip("further features to show")
        feature = features[rank]
        data = self.dependence.where(feature=feature)
        label = data.frame.get_column("label")[0]
        return self.book.figure(
            lambda d: charts.binned(
                d,
                x="bin_label",
                value="value",
                lower="lower_ci",
                upper="upper_ci",
                order=d.get_column("bin_label").to_list(),
                mark="bar" if d.height <= 4 else "line",
                title=f"Contribution of {lower_first(label)}",
                x_title=label,
                value_title="Mean SHAP value (log-odds)",
            ),
            id=id,
            title=f"Average contribution of {lower_first(label)} to predicted risk",
            description=(
                f"Chart of the mean SHAP value (log-odds) with 95% intervals for people grouped by "
                f"{lower_first(label)}; values above zero raise predicted risk."
            ),
            data=data,
            columns={"bin_label": label, "n": "People explained", "value": "Mean SHAP", **CI_COLUMNS},
            formats=_THREE_DP,
        )


def _importance_chart(d: pl.DataFrame) -> Any:
    return charts.ci_chart(
        d,
        group="label",
        order=d.get_column("label").to_list(),
        mark="bar",
        title="Feature importance (mean absolute SHAP value)",
        value_title="Mean |SHAP| (log-odds)",
        group_title="Feature",
    )


def _gap_chart(d: pl.DataFrame, *, title: str) -> Any:
    return charts.ci_chart(
        d,
        group="label",
        order=d.get_column("label").to_list(),
        mark="bar",
        reference=0,
        title=title,
        value_title="Difference in mean SHAP value (log-odds)",
        group_title="Feature",
    )
