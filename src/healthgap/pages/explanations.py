"""Why does the model predict what it does: SHAP importance, the gap between two ends, groups, dependence.

:func:`healthgap.explain.explain` returns exact aggregates of the SHAP values
(means over groups of people with the groups' exact sizes, and, for the columns whose
SHAP values take only a few distinct values, the number of people at each value). This
page publishes each frame once (:meth:`healthgap.book.Book.publish`): first those counts
(:attr:`ExplanationsPage.levels`), then every frame of means, whose means of such columns
are recomputed from the published counts (:meth:`healthgap.explain.Explanation.recompute`,
disclosure rule 8: a mean of a two-valued column is a count in disguise). Groups and bins
too small to publish are left out, as no explanation of a handful of people is shown; the
figures, downloads and sentences read those published frames.

The gap is split between the two ends of the first ordered dimension whose disadvantaged
end is known (:attr:`healthgap.pages._models.ModelPages.ends`): the most and least deprived
fifths in the default book, the least and most educated in a cohort. Every sentence names
that dimension and its groups by the config's own words.
"""

from __future__ import annotations

import math
from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension
from healthgap.disclosure import Published, min_group_reason
from healthgap.explain import GAP_NO_DIMENSION, GAP_TOO_FEW, LEVEL_KEYS, Explanation
from healthgap.fairness import GapDecomposition
from healthgap.pages._models import AUDIT_BOOT, ModelPages, about, plural_noun
from healthgap.pages.base import CI_COLUMNS, Page
from healthgap.text import group_noun, interval, join, lower_first, num, pct, pp

__all__ = [
    "ExplanationsPage",
    "shown",
    "withhold_small",
    "rounded_means",
    "MEAN_DECIMALS",
    "importance_sentence",
    "additivity_sentence",
    "gap_intro_sentence",
    "gap_sentence",
    "gap_note",
    "ends_phrase",
    "split_frame",
    "NO_GAP",
    "NO_OUTCOME_SKIP",
    "NO_MODEL",
    "NO_GAP_INTRO",
    "NO_ENDS",
    "SPLIT_METHOD",
    "SCALES",
    "SCALES_TABLE",
    "DECOMPOSITION_TOO_FEW",
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
NO_GAP_INTRO = "The model does not see {dimension}; any difference it predicts between {groups} comes through the features."
#: Why no gap is split when the data has no ordered dimension with a known disadvantaged end.
NO_ENDS = (
    "No equity dimension of this dataset is ordered with a known disadvantaged end, so there is no gap "
    "between two ends to split."
)
#: Why the gap between the two ends is not split (:func:`gap_note`).
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
}
#: The split's columns when the gap could be chance (no share of it is given).
_GAP_NO_SHARE = {k: v for k, v in GAP_COLUMNS.items() if k != "share"}
_GAP_SCHEMA = {
    "feature": pl.String,
    "label": pl.String,
    "value": pl.Float64,
    "lower_ci": pl.Float64,
    "upper_ci": pl.Float64,
    "share": pl.Float64,
    "method": pl.String,
}
#: The decomposition of the observed gap: its published columns and their headings.
_DECOMPOSITION_SCHEMA = {
    "component": pl.String,
    "label": pl.String,
    "risk": pl.Float64,
    "risk_lower": pl.Float64,
    "risk_upper": pl.Float64,
    "log_odds": pl.Float64,
    "log_odds_lower": pl.Float64,
    "log_odds_upper": pl.Float64,
}
DECOMPOSITION_COLUMNS = {
    "label": "Part",
    "risk": "Difference in risk (percentage points)",
    "risk_lower": "Lower 95% CI",
    "risk_upper": "Upper 95% CI",
    "log_odds": "Difference in log-odds",
    "log_odds_lower": "Log-odds lower 95% CI",
    "log_odds_upper": "Log-odds upper 95% CI",
}
DECOMPOSITION_NOTE = (
    "Observed: the difference in the share of people with the outcome. Accounted for by the inputs: the "
    "difference in the model's mean predicted risk (the model does not see the groups). Not accounted for: "
    "the rest. Differences in log-odds are between the log-odds of the two groups' shares with the outcome "
    "(observed) or of their mean predicted risks (inputs). 95% intervals from a paired percentile bootstrap of the people explained; no counts are "
    "shown, and differences are rounded (0.1 percentage point; 0.1 on the log-odds scale). Each value is "
    "rounded on its own, so the two parts can differ by 0.1 from the observed gap as printed."
)
#: Fewest people explained in each compared group before the full-size gap is published.
DECOMPOSITION_MIN = 5000
#: Decimals of a log-odds unit the split of the gap is published to (groups of 5,000 people or more).
GAP_DECIMALS = 3
DECOMPOSITION_TOO_FEW = (
    "The gap between {first} and {last} is not split here: {which} fewer than {n} people among "
    "those explained ({people} in all), too few for a difference to be published without revealing the "
    "numbers of people behind it."
)
#: When the split's mean log-odds and the mean predicted risk of the decomposition differ in sign.
SCALES = (
    " The model's mean predicted risk is nonetheless {direction} there, as the table above shows: an average "
    "of log-odds gives the many people at low risk more weight than an average of risks does, so the two "
    "averages can differ in sign."
)
#: The method of the split of the predicted gap, between the sentence on what the model sees and the result.
SPLIT_METHOD = (
    "Because SHAP contributions add up exactly, the difference in the *average* predicted log-odds between "
    "two groups splits exactly into the differences in each feature's average contribution."
)

#: After :data:`SPLIT_METHOD` when the table of the observed gap's parts is shown: which log-odds
#: difference is which (the table's is of the groups' mean predicted risks, the split's the mean of
#: each person's log-odds).
SCALES_TABLE = (
    " This average of each person's predicted log-odds is not the table's difference in log-odds, which is "
    "between the log-odds of each group's mean predicted risk: the two differ whenever predicted risks vary "
    "within a group, and can even differ in sign."
)


def shown(published: Published, count: str = "n") -> Published:
    """The rows whose group size was published (groups too small to publish are left out)."""
    return published.where(pl.col(count).is_not_null())


#: The published columns of a mean SHAP value (and its interval), withheld in groups too small to publish.
MEAN_COLUMNS = ("value", "lower_ci", "upper_ci")


#: Decimals of a log-odds unit the mean SHAP values (and their limits) are published to.
MEAN_DECIMALS = 3


def rounded_means(published: Published, *, decimals: int = MEAN_DECIMALS) -> Published:
    """``published`` with its mean SHAP values (:data:`MEAN_COLUMNS`) rounded to ``decimals``.

    The groups of one equity dimension partition the same people explained, so for every feature
    the size-weighted sums of their means agree across dimensions: with means at full precision
    these equations give every group's exact size (a disclosure audit recovered all 20 non-age
    groups of the default book, e.g. 32 Black people explained, published as 30). Rounded to
    0.001, the rounding error of a weighted sum (up to 0.0005 x 2,000 people = 1 log-odds unit per
    equation) exceeds what one person more or fewer in a group changes it by, and the equations
    no longer pin the sizes (tests/attacks/test_shap_small_groups.py).
    """

    def rounding(frame: pl.DataFrame) -> pl.DataFrame:
        columns = [c for c in MEAN_COLUMNS if c in frame.columns]
        return frame.with_columns(pl.col(c).round(decimals) for c in columns)

    return published.pipe(rounding)


def withhold_small(published: Published, count: str = "n") -> Published:
    """``published`` with the mean SHAP values (:data:`MEAN_COLUMNS`) withheld in every row whose
    group has fewer than the minimum group size (50) as published, with its reason ("fewer than 50
    people in the group"); the group's size stays published.

    The minimum group size of the disclosure rules applies to values measured within a group; the
    group's own size is the only count of these frames, so :func:`~healthgap.disclosure.publish`
    leaves the averages over a few dozen people in place (e.g. the 30 people in one ethnic group
    explained in a 2,000-person sample of a small trust). An average over so few people describes
    them, not a population, and a few-valued contribution averaged over them pins how many of them
    have each value.
    """
    settings = published.settings
    if settings.min_group <= 1 or count not in published.columns:
        return published
    small = pl.col(count).is_not_null() & (pl.col(count) < settings.min_group)
    reason = pl.lit(min_group_reason(settings))

    def withhold(frame: pl.DataFrame) -> pl.DataFrame:
        columns = [c for c in MEAN_COLUMNS if c in frame.columns]
        return frame.with_columns(
            *(pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in columns),
            suppressed=pl.col("suppressed").fill_null(False) | small,
            suppression_reason=pl.when(small & pl.col("suppression_reason").is_null())
            .then(reason)
            .when(small)
            .then(pl.concat_str([pl.col("suppression_reason"), reason], separator="; "))
            .otherwise(pl.col("suppression_reason")),
        )

    return published.pipe(withhold)


def _clear(row: dict[str, Any]) -> bool:
    """Whether a row's 95% interval excludes zero."""
    lo, hi = row["lower_ci"], row["upper_ci"]
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def split_frame(contributions: pl.DataFrame, *, method: str) -> pl.DataFrame:
    """The split of the gap as published: contributions and intervals rounded to :data:`GAP_DECIMALS`
    decimals (so that printed values differ when they differ by that much), and each feature's share
    of the gap only when the gap's own interval excludes 0 (a share of a gap that could be nothing is
    meaningless: the column is then empty).

    ``contributions``: one row per feature plus ``(total)`` (``feature``, ``label``, ``value``,
    ``lower_ci``, ``upper_ci``), exact.
    """
    totals = contributions.filter(pl.col("feature") == "(total)")
    total = totals.row(0, named=True) if totals.height else None
    shared = total is not None and bool(total["value"]) and _clear(total)
    return (
        contributions.with_columns(
            share=(pl.col("value") / total["value"]) if shared and total else pl.lit(None, dtype=pl.Float64),
            method=pl.lit(method),
        )
        .with_columns(pl.col("value", "lower_ci", "upper_ci").round(GAP_DECIMALS), pl.col("share").round(2))
        .select(list(_GAP_SCHEMA))
    )


def ends_phrase(dimension: Dimension) -> str:
    """'the most and least disadvantaged deprivation fifths' for an ordered dimension."""
    return f"the most and least disadvantaged {plural_noun(dimension.noun or group_noun(dimension.label))}"


# -- sentences -------------------------------------------------------------------------------
def importance_sentence(importance: pl.DataFrame, *, sample: str, leaf: int | None = None) -> str:
    """The three features that move predictions most, and those that never change one.

    Parameters
    ----------
    importance : published importance (``label``, ``value``), most important first.
    sample : people explained, as the page words them ("about 2,000").
    leaf : the smallest leaf of the model's trees (people), to say why a feature is never used.
    """
    top3 = [lower_first(x) for x in importance.get_column("label").head(3).to_list()]
    text = (
        f"Across the people explained ({sample}), the features that move predictions most are "
        f"{top3[0]}, {top3[1]} and {top3[2]}."
        if len(top3) >= 3
        else f"Across the people explained ({sample}), the features that move predictions most are "
        f"{join(top3)}."
        if top3
        else f"No feature's contribution could be published for the people explained ({sample})."
    )
    unused = importance.filter(pl.col("value") < 1e-9).get_column("label").to_list()
    if not unused:
        return text
    names = join([unused[0], *(lower_first(x) for x in unused[1:])])  # the first one starts the sentence
    one = len(unused) == 1
    leaf_text = f"of at least {num(leaf, 0)} people" if leaf else "that are large enough"
    return text + (
        f" {names} never change{'s' if one else ''} a prediction: the model's trees only split groups "
        f"{leaf_text}, and in the training set too few people have {'it' if one else 'them'} for such a "
        "split to help."
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


def gap_intro_sentence(gap: pl.DataFrame, *, dimension: Dimension | None, sees: bool = False) -> str:
    """Whether the model predicts higher or lower risk at the disadvantaged end of ``dimension``."""
    if dimension is None:
        return NO_ENDS
    label = lower_first(dimension.label)
    groups = plural_noun(dimension.noun or group_noun(dimension.label))
    lead = f"The model sees {label}" if sees else f"The model does not see {label}"
    total = gap.filter(pl.col("feature") == "(total)") if gap.height else gap
    if not total.height or total.row(0, named=True)["value"] is None:
        return (
            f"{lead}; any difference it predicts between {groups} comes through "
            f"{'it and ' if sees else ''}the features."
        )
    row = total.row(0, named=True)
    if _clear(row):
        direction = "higher" if row["value"] > 0 else "lower"
        return f"{lead}, {'and' if sees else 'yet'} it predicts {direction} risk in the more disadvantaged {groups}."
    return (
        f"{lead}; any difference it predicts between more and less disadvantaged {groups} comes through "
        f"{'it and ' if sees else ''}the features."
    )


def gap_note(explanation: Explanation) -> str | None:
    """Why the explanation's gap is not split (:data:`NO_GAP`), or None when it is."""
    problem = explanation.gap_problem
    if problem is None:
        return None
    first, last = explanation.gap_groups or ("the first", "last level")
    why = _GAP_WHY[problem].format(dimension=explanation.gap_dimension)
    return NO_GAP.format(first=first, last=last, why=why)


def gap_sentence(
    gap: pl.DataFrame,
    *,
    sample: int,
    note: str | None = None,
    ends: tuple[str, str] = ("the most disadvantaged group", "the least disadvantaged group"),
    people: str | None = None,
) -> str:
    """The gap in mean predicted log-odds and the feature that contributes most to it.

    Parameters
    ----------
    gap : published gap decomposition (one row per feature plus the ``(total)`` row).
    sample : people explained (a small sample gets a hint to raise it).
    note : why the gap could not be split, when ``gap`` is empty.
    ends : how the two groups compared read ("the most disadvantaged deprivation fifth (1, most
        deprived)", ...).
    people : the people explained as the page words them ("about 2,000"; default ``sample``).
    """
    fallback = note or "The gap could not be split with the people explained."
    if not gap.height:
        return fallback
    total_rows = gap.filter((pl.col("feature") == "(total)") & pl.col("value").is_not_null())
    parts = gap.filter((pl.col("feature") != "(total)") & pl.col("value").is_not_null()).sort(
        pl.col("value").abs(), descending=True
    )
    if not total_rows.height or not parts.height:
        return fallback
    total, lead = total_rows.row(0, named=True), parts.row(0, named=True)
    sure = _clear(total)
    first, last = ends
    text = (
        f"The model's mean predicted log-odds is {num(abs(total['value']), 3)} "
        f"{'higher' if total['value'] > 0 else 'lower'} in {first} than in {last} "
        f"({interval(total['lower_ci'], total['upper_ci'], dp=3)}"
        + (
            ")."
            if sure
            else "; with this sample the gap could be due to chance, so no feature's contribution is given as a "
            "percentage of it)."
        )
        + f" The largest single contribution comes from {lower_first(lead['label'])} "
        f"({num(lead['value'], 3)} log-odds"
        + (f", {pct(lead['share'], 0)} of the gap" if sure and lead["share"] is not None else "")
        + (
            ")."
            if _clear(lead)
            else f"; {interval(lead['lower_ci'], lead['upper_ci'], dp=3)}, which includes no contribution at all, "
            "so even this could be due to chance)."
        )
    )
    opposite = parts.filter(pl.col("value") * lead["value"] < 0).height > 0
    if abs(lead["value"]) > abs(total["value"]) and opposite:
        text += (
            " It is larger than the gap itself because other features' contributions go the other way and "
            "offset it."
        )
    if sample < LARGER_SAMPLE:
        text += (
            f" The split uses the people explained ({people or num(sample, 0)}); a larger sample (the SHAP "
            "sample size setting in the config file) narrows these intervals."
        )
    return text


def decomposition_sentence(frame: pl.DataFrame, *, first: str, last: str, people: str) -> str:
    """The observed gap in the outcome and the parts the inputs account for and leave (never empty).

    Parameters
    ----------
    frame : the published decomposition (one row per component: observed, inputs, left).
    first, last : the two groups as a sentence names them.
    people : the people explained, in words ("about 50,000").
    """
    rows = {r["component"]: r for r in frame.iter_rows(named=True)}
    obs, inp, left = rows.get("observed"), rows.get("inputs"), rows.get("left")
    if obs is None or inp is None or left is None or None in (obs["risk"], inp["risk"], left["risk"]):
        return "The observed gap could not be split for the people explained."

    def ci(row: dict[str, Any]) -> str:
        lo, hi = row["risk_lower"], row["risk_upper"]
        return "" if lo is None or hi is None else f" (95% CI {pp(lo, unit=False)} to {pp(hi)})"

    more = "more" if obs["risk"] >= 0 else "less"
    return (
        f"Among the people explained ({people} in the test set), the outcome is {pp(abs(obs['risk']))} {more} "
        f"common in {first} than in {last}{ci(obs)}. The model's inputs account for {pp(inp['risk'])} of it"
        f"{ci(inp)}: the difference in its mean predicted risk, since it does not see the groups. That leaves "
        f"{pp(left['risk'])}{ci(left)} that the inputs do not account for: differences the model does not see "
        "(and its miscalibration between the groups, @sec-fairness-calibration)"
        + (
            "; each part is rounded on its own, so the parts need not add up to the gap as printed."
            if round(1000 * (obs["risk"] - inp["risk"] - left["risk"])) != 0
            else "."
        )
    )


def _markdown(text: str | None) -> Any:
    from IPython.display import Markdown

    return None if not text else Markdown(text)


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

    @property
    def ends(self) -> Dimension | None:
        """The ordered dimension whose two ends the gap compares, or None."""
        return self.models.ends if self.ok else None

    @cached_property
    def levels(self) -> Published:
        """The number of people at each value of the few-valued SHAP columns, published once."""
        return self.book.publish(self.explanation.levels, counts=["count"], by=list(LEVEL_KEYS), derived={})

    def _recompute(self, table: str) -> Any:
        return partial(self.explanation.recompute, table=table, levels=self.levels.frame)

    @cached_property
    def importance(self) -> Published:
        """Mean |SHAP| per feature, most important first (published)."""
        frame = self.explanation.importance.select(
            "rank", "feature", "label", "n", "value", "lower_ci", "upper_ci", "method"
        )
        published = self.book.publish(
            frame, counts=["n"], by=["feature"], derived={}, recompute=self._recompute("importance")
        )
        return rounded_means(shown(published))

    @cached_property
    def by_group(self) -> Published:
        """Mean SHAP value per equity group and feature (published; the means of groups under the
        minimum size withheld: :func:`withhold_small`)."""
        frame = self.explanation.by_group
        if not frame.height:
            return self.book.publish(frame, counts=[])
        frame = frame.select(
            "dimension", "dimension_label", "group", "group_label", "feature", "label", "n", "value"
        )
        return rounded_means(
            withhold_small(
                shown(
                    self.book.publish(
                        frame,
                        counts=["n"],
                        by=["dimension", "feature"],
                        recompute=self._recompute("by_group"),
                    )
                )
            )
        )

    @cached_property
    def full(self) -> GapDecomposition | None:
        """The full-size decomposition (:func:`healthgap.fairness.explain_gap`, cached), or None."""
        return self.models.decomposition if self.ok and self.ends is not None else None

    @cached_property
    def large_enough(self) -> bool:
        """Whether both compared groups have at least :data:`DECOMPOSITION_MIN` people explained."""
        d = self.full
        if d is None or not d.gap.height:
            return False
        row = d.gap.row(0, named=True)
        return min(row["n_first"], row["n_last"]) >= DECOMPOSITION_MIN

    @cached_property
    def gap(self) -> Published:
        """The gap in mean predicted log-odds between the two ends, split by feature, at full size
        (published without counts, rounded to :data:`GAP_DECIMALS` decimals of a log-odds unit, each
        feature's share of the gap only when the gap's interval excludes 0; empty when either group is
        below :data:`DECOMPOSITION_MIN` people explained)."""
        d = self.full
        if d is None or not self.large_enough:
            return self.book.publish(pl.DataFrame(schema=_GAP_SCHEMA), counts=[])
        frame = split_frame(
            d.contributions, method=f"percentile bootstrap of the people explained, {AUDIT_BOOT} replicates"
        )
        return self.book.publish(frame, counts=[])

    @cached_property
    def decomposition(self) -> Published:
        """The observed outcome gap between the two ends, what the inputs account for and what is
        left, at full size (published without counts: risk differences rounded to 0.1 point,
        log-odds to 0.1; empty when either group is below :data:`DECOMPOSITION_MIN` people)."""
        d = self.full
        if d is None or not self.large_enough:
            return self.book.publish(pl.DataFrame(schema=_DECOMPOSITION_SCHEMA), counts=[])
        frame = d.gap.select(list(_DECOMPOSITION_SCHEMA)).with_columns(
            pl.col("risk", "risk_lower", "risk_upper").round(3),
            pl.col("log_odds", "log_odds_lower", "log_odds_upper").round(1),
        )
        return self.book.publish(frame, counts=[])

    def decomposition_text(self) -> str:
        """The observed gap and how much of it the inputs account for, in words (never empty)."""
        if not self.ok:
            return "With no model there is no gap to explain."
        if self.ends is None:
            return NO_ENDS
        first, last = self._end_names()
        if not self.decomposition.height:
            return self.too_few()
        return decomposition_sentence(self.decomposition.frame, first=first, last=last, people=self.full_size)

    def too_few(self) -> str:
        """Why the gap between the two ends is not split (:data:`DECOMPOSITION_TOO_FEW`)."""
        first, last = self._end_names()
        d = self.full
        row = d.gap.row(0, named=True) if d is not None and d.gap.height else {}
        small = [
            name
            for name, n in ((first, row.get("n_first")), (last, row.get("n_last")))
            if n is None or n < DECOMPOSITION_MIN
        ]
        which = "both have" if len(small) != 1 else f"{small[0]} has"
        return DECOMPOSITION_TOO_FEW.format(
            first=first, last=last, which=which, n=num(DECOMPOSITION_MIN, 0), people=self.full_size
        )

    def decomposition_paragraph(self) -> Any:
        """:meth:`decomposition_text` as a Markdown cell, so that its cross-reference is resolved."""
        return _markdown(self.decomposition_text())

    def decomposition_table(self) -> Any:
        """The observed gap, the part the inputs account for and the rest, with intervals (None when
        :meth:`decomposition_text` has said why there is none)."""
        if not self.decomposition.height:
            return None
        first, last = self._end_names()
        risk = ("risk", "risk_lower", "risk_upper")
        return self.book.table(
            # risk differences in percentage points (x 100), printed as numbers: not shares of people
            self.decomposition.select(
                "component",
                "label",
                *((pl.col(c) * 100).round(1) for c in risk),
                "log_odds",
                "log_odds_lower",
                "log_odds_upper",
            ),
            id="gap-observed",
            title=f"The observed gap in the outcome between {first} and {last}, and its parts",
            columns=DECOMPOSITION_COLUMNS,
            formats={
                **{c: ("number", 1) for c in ("log_odds", "log_odds_lower", "log_odds_upper")},
                **{c: ("number", 1) for c in risk},
            },
            note=DECOMPOSITION_NOTE,
        )

    @cached_property
    def full_size(self) -> str:
        """The people explained at full size, as published ("about 50,000")."""
        d = self.full
        row = self.book.publish(
            pl.DataFrame({"n": [None if d is None else d.sample]}, schema={"n": pl.Int64}),
            counts=["n"],
            by=[],
        ).row()
        return about(None if row is None else row["n"], rounded=self.models.rounded)

    def sizes_text(self) -> str:
        """How many people the gap between the two ends is worked out on (only when a gap is split:
        'The gap between groups, ... uses about 6,000 people (the whole test set), ...'), then the
        additivity check (never empty)."""
        d = self.full
        if d is None or not self.gap.height:
            return self.additivity_text()
        whole = d.sample >= len(self.models.result.y_test)
        what = "the whole test set" if whole else "a random sample of the test set"
        return (
            f"The gap between groups, whose averages are small differences, uses {self.full_size} people ({what}), "
            f"with 95% intervals from a bootstrap of those people. {self.additivity_text()}"
        )

    @cached_property
    def dependence(self) -> Published:
        """Mean SHAP value in bins of the most important features (published; the means of bins under the
        minimum size withheld: :func:`withhold_small`)."""
        frame = self.explanation.dependence
        if not frame.height:
            return self.book.publish(frame, counts=[])
        frame = frame.select(
            "feature", "label", "bin", "bin_label", "n", "value", "lower_ci", "upper_ci", "method"
        )
        return rounded_means(
            withhold_small(
                shown(
                    self.book.publish(
                        frame, counts=["n"], by=["feature"], recompute=self._recompute("dependence")
                    )
                )
            )
        )

    @cached_property
    def sample_text(self) -> str:
        """The people explained, as published ("about 2,000")."""
        sample = self.book.publish(
            pl.DataFrame({"n": [self.explanation.sample]}, schema={"n": pl.Int64}), counts=["n"], by=[]
        ).row()
        return about(None if sample is None else sample["n"], rounded=self.models.rounded)

    # -- words ---------------------------------------------------------------------------
    def importance_text(self) -> str:
        """The most important features in words (a note without a model)."""
        if not self.ok:
            return "With no model there are no features to rank."
        return importance_sentence(self.importance.frame, sample=self.sample_text, leaf=self.explanation.leaf)

    def additivity_text(self) -> str:
        """The additivity check in words (a note without a model)."""
        if not self.ok:
            return "No model is fitted to this dataset, so nobody is explained."
        e = self.explanation
        return additivity_sentence(e.base_value, e.additivity_error)

    def _end_names(self) -> tuple[str, str]:
        from healthgap.pages.fairness import end_name, ends_of

        dim = self.ends
        if dim is None:
            return ("the most disadvantaged group", "the least disadvantaged group")
        worse, better = ends_of(dim)
        return end_name(dim, worse, most=True), end_name(dim, better, most=False)

    def gap_intro(self) -> str:
        """Whether the model predicts higher risk at the disadvantaged end (a note without a model)."""
        if not self.ok:
            return "With no model there is no gap to split."
        dim = self.ends
        sees = dim is not None and dim.name in self.models.result.features
        return gap_intro_sentence(self.gap.frame, dimension=dim, sees=sees)

    def gap_text(self) -> str:
        """Which two groups the figure compares, the gap and its largest contribution (never empty)."""
        if not self.ok:
            return "With no model there is nothing to split."
        dim = self.ends
        if dim is None:
            return "Without such a dimension this section has nothing to show."
        d = self.full
        first, last = self._end_names()
        lead = f"The figure below shows that split between {first} and {last}. " if self.gap.height else ""
        note = None if self.large_enough else self.too_few()
        return (
            lead
            + gap_sentence(
                self.gap.frame,
                sample=0 if d is None else d.sample,
                note=note,
                ends=(first, last),
                people=self.full_size,
            )
            + self._scales_note()
        )

    def _scales_note(self) -> str:
        """' ...' when the split's mean log-odds and the decomposition's mean risk differ in sign (as
        published), saying why both hold; '' otherwise."""
        total = self.gap.row(feature="(total)") if self.gap.height else None
        inputs = self.decomposition.row(component="inputs") if self.decomposition.height else None
        if total is None or inputs is None or not total["value"] or not inputs["risk"]:
            return ""
        if (total["value"] > 0) == (inputs["risk"] > 0):
            return ""
        return SCALES.format(direction="higher" if inputs["risk"] > 0 else "lower")

    def gap_paragraph(self) -> Any:
        """What the model sees, how the predicted gap splits and the split itself (Markdown), or None
        when there is nothing to split (:meth:`decomposition_text` has said why, once)."""
        if not self.ok or self.ends is None or not self.gap.height:
            return None
        table = SCALES_TABLE if self.decomposition.height else ""
        return _markdown(f"{self.gap_intro()} {SPLIT_METHOD}{table} {self.gap_text()}")

    def gap_caveat(self) -> Any:
        """Why a feature can account for part of the gap (Markdown), or None without a gap."""
        dim = self.ends
        if dim is None or not self.gap.height:
            return None
        ref = LABEL_BIAS_REF if self.models.label_bias is not None else ""
        return _markdown(
            "A feature can account for part of the gap because it *is* more common at the disadvantaged end "
            "(a risk factor, say), or because it is *recorded* differently there. Treatments, for example, are "
            "only given to people who are diagnosed, and diagnosis is often less complete in more "
            f"disadvantaged groups{ref}, so their contribution mixes real differences in risk with differences "
            "in care."
        )

    @property
    def groups_dimension(self) -> Dimension | None:
        """The dimension of the heatmap: the compared ends, else the first social dimension with groups."""
        if not self.ok or not self.by_group.height:
            return None
        present = set(self.by_group.frame.get_column("dimension").to_list())
        candidates = [self.ends] if self.ends is not None else []
        for d in (*candidates, *self.models.social):
            if d is not None and d.name in present:
                return d
        return None

    def groups_intro(self) -> Any:
        """What the heatmap shows (Markdown, never empty)."""
        from IPython.display import Markdown

        dim = self.groups_dimension
        if dim is None:
            return Markdown("No equity group is large enough to show the average contributions in it.")
        return Markdown(
            f"The figure below shows each important feature's average contribution in "
            f"{self.book.each(dim.noun or dim.label)}. Its colour scale is centred on zero: **red** cells "
            "push predicted risk up, **blue** cells pull it down, and the palest cells change it little; the "
            "value is printed in every cell."
        )

    def dependence_intro(self) -> str:
        """Which features the dependence figures show (never empty)."""
        n = (
            self.dependence.frame.get_column("feature").n_unique()
            if self.ok and self.dependence.height
            else 0
        )
        if n == 0:
            return "No feature has bins large enough to show how its contribution changes."
        which = "the most important feature" if n == 1 else "the two most important features"
        return (
            f"For {which}, the figures below show the average contribution among people in each tenth of the "
            "feature's values (or each category). Bins are labelled by their inner boundaries only, so no "
            "individual's extreme value is shown."
        )

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
        """Each feature's contribution to the gap between the two ends of the compared dimension."""
        if not self.ok:
            return self.skip(NO_MODEL)
        dim = self.ends
        if dim is None:
            return None  # decomposition_text has said why (NO_ENDS)
        data = (
            self.gap.where(pl.col("feature") != "(total)", pl.col("value").is_not_null())
            if self.gap.height
            else self.gap
        )
        if not data.height:
            return None  # decomposition_text has said why
        d = self.full
        worse, better = (d.first, d.last) if d is not None else ("", "")
        first, last = self._end_names()
        return self.book.figure(
            lambda d: _gap_chart(d, title=f"Contributions to the gap: {worse} minus {better}"),
            id="gap-decomposition",
            title=(
                f"How much of the gap in predicted risk between {first} and {last} each feature accounts for"
            ),
            description=(
                f"Bar chart of the difference in mean SHAP value between {first} and {last}, for each "
                "feature, with 95% intervals; the bars add up to the gap in mean predicted log-odds. "
                + self.gap_text().removesuffix(self._scales_note())  # the note points at the table above
            ),
            data=data.sort("value", descending=True),
            columns=GAP_COLUMNS if data.frame.get_column("share").is_not_null().any() else _GAP_NO_SHARE,
            formats={**_THREE_DP, "share": ("proportion", 0)},
        )

    def groups_figure(self) -> Any:
        """Mean contribution of the most important features in each group of one dimension."""
        dim = self.groups_dimension
        if dim is None:
            return self.skip("equity dimension with groups large enough to show")
        top = self.importance.frame.head(HEATMAP_FEATURES)
        keep = top.get_column("feature").to_list()
        grid = self.by_group.where(pl.col("dimension") == dim.name, pl.col("feature").is_in(keep))
        x_order = [dim.label_of(x) for x in dim.order] or None
        y_order = top.get_column("label").to_list()
        noun = dim.noun or group_noun(dim.label)
        return self.book.figure(
            lambda d: charts.heatmap(
                d,
                x="group_label",
                y="label",
                title=f"Mean SHAP value by {noun} (log-odds)",
                x_order=x_order,
                y_order=y_order,
                x_title=dim.label,
                y_title="Feature",
                legend_title="Mean SHAP",
                text_format=",.2f",
                scheme="diverging",
            ),
            id="shap-by-deprivation"
            if dim.name == "imd_quintile"
            else f"shap-by-{dim.name.replace('_', '-')}",
            title=f"Mean contribution of the most important features by {noun}",
            description=(
                f"Heatmap of the mean SHAP value (log-odds) of the {num(len(keep), 0)} most important features "
                f"in {self.book.each(noun)}, on a colour scale centred on zero: red cells raise predicted "
                "risk, blue cells lower it, and pale cells change it little."
            ),
            data=grid.select(
                "dimension", "group", "group_label", "feature", "label", "n", "value", "^suppress.*$"
            ),
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
        from IPython.display import HTML

        if not self.ok or not self.by_group.height or self.groups_dimension is None:
            return None
        link = self.book.download(
            self.by_group, id="shap-by-group", title="Mean SHAP value by equity group and feature"
        )
        return HTML(
            "<p>The same averages for every equity dimension and every feature are in this download:</p>"
            + link.data
        )

    def dependence_figure(self, rank: int, id: str) -> Any:
        """The average contribution of the ``rank``-th most important feature (0 = the most), by its values.

        A skip note when the first cannot be shown; nothing for a later one that does not exist.
        """
        if not self.ok:
            return self.skip(NO_MODEL) if rank == 0 else None
        features = (
            self.dependence.frame.get_column("feature").unique(maintain_order=True).to_list()
            if self.dependence.height
            else []
        )
        if rank >= len(features):
            return self.skip("feature with bins large enough to show") if rank == 0 else None
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
