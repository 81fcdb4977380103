"""Chapter "Is the model fair?": the fairness audit, label bias and mitigation.

Everything the chapter computes, words and assembles. The analyses
(:mod:`healthgap.fairness`) return exact aggregates; this page publishes each
of them once (:meth:`FairnessPage.groups`, :meth:`FairnessPage.label_groups`,
:meth:`FairnessPage.mitigation_summary`, ...) and every figure, table and
sentence reads those :class:`~healthgap.disclosure.Published` frames. Gaps
between groups are computed from the published groups only.

The model card (:mod:`healthgap.pages.model_card`) summarises the same
published results through a :class:`FairnessPage` of its own book.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import DEFAULT_DIMENSIONS, Dimension
from healthgap.disclosure import Published
from healthgap.fairness import (
    AUDIT_BY,
    AUDIT_COUNTS,
    AUDIT_DERIVED,
    CALIBRATION_COUNTS,
    SEPARATOR,
    SPLIT_STRATEGIES,
    CapacityMitigation,
    CounterfactualLabels,
    FairnessAudit,
    LabelBias,
    recompute_calibration,
)
from healthgap.pages import sentences
from healthgap.pages._fairness_calibration import (
    CALIBRATION_TABLE_COLUMNS,
    CALIBRATION_TABLE_FORMATS,
    headline_text,
    range_text,
    truth_text,
)
from healthgap.pages._fairness_gaps import (
    DECIMALS,
    PAIR_COLUMNS,
    REFERENCE_COLUMNS,
    REFERENCE_PAIR_COLUMNS,
    base_rate_text,
    chance_text,
    chosen_pair,
    orient,
    publishable_pairs,
    reference_text,
    withhold_small_groups,
)
from healthgap.pages._fairness_labels import (
    LABEL_SERIES,
    WHOLE_ABOVE,
    capacity_mitigation_text,
    counterfactual_text,
    label_frame,
    label_series,
    mitigation_frame,
    mitigation_reasons,
    undiagnosed_text,
)
from healthgap.pages._groups import in_group, label_name
from healthgap.pages._models import (
    NOT_SOCIAL,
    PERCENT_AXIS,
    PERCENT_TIP,
    ModelPages,
    about,
    ends_dimension,
    group_words,
    intersections_of,
    plural_noun,
)
from healthgap.pages.base import CI_COLUMNS, PERCENT_FORMATS, Page
from healthgap.text import capitalise, group_noun, join, lower_first, num, pct, pp

__all__ = [
    "FairnessPage",
    "METRICS",
    "COLUMNS",
    "GAP_WORDS",
    "LABEL_SERIES",
    "ci_text",
    "sure",
    "gap_text",
    "group_name",
    "group_said",
    "groups_of",
    "ends_of",
    "end_name",
    "GROUP_SLOTS",
]

#: Measures drawn per group, with their names in the charts.
METRICS: dict[str, str] = {
    "tpr": "Share of outcomes found (TPR)",
    "ppv": "Flagged who had the outcome (PPV)",
    "selection_rate": "Share flagged",
}
#: How :meth:`FairnessPage.gap_sentence` names each measure.
GAP_WORDS: dict[str, str] = {
    "tpr": "the share of outcomes found",
    "selection_rate": "the share of people flagged",
    "ppv": "the share of flagged people who had the outcome",
}
#: Headings of the per-group figures' tables.
COLUMNS: dict[str, str] = {
    "dimension_label": "Dimension",
    "group_label": "Group",
    "statistic": "Measure",
    "n": "People",
    "numerator": "Numerator",
    "denominator": "Denominator",
    "value": "Value",
    **CI_COLUMNS,
}
#: Calibration figure: what each measure is called.
CALIBRATION: dict[str, str] = {"prevalence": "Observed share", "mean_predicted": "Mean predicted risk"}
#: Measures compared in the table of largest gaps.
GAP_METRICS = ("tpr", "selection_rate", "ppv", "auroc")
GAP_TABLE_COLUMNS: dict[str, str] = {
    "dimension_label": "Dimension",
    "statistic": "Measure",
    "unit": "Unit",
    "highest_group": "Highest group",
    "highest": "Highest",
    "lowest_group": "Lowest group",
    "lowest": "Lowest",
    "difference": "Difference",
    "difference_lower_ci": "Difference lower 95% CI",
    "difference_upper_ci": "Difference upper 95% CI",
    "ratio": "Ratio (lowest / highest)",
    "ratio_lower_ci": "Ratio lower 95% CI",
    "ratio_upper_ci": "Ratio upper 95% CI",
    "groups": "Groups compared",
}
_GAP_VALUES = ("highest", "lowest", "difference", "difference_lower_ci", "difference_upper_ci")
GAP_TABLE_FORMATS: dict[str, str | tuple[str, int]] = {
    **{c: ("number", 2) for c in _GAP_VALUES},
    **{c: ("ratio", 2) for c in ("ratio", "ratio_lower_ci", "ratio_upper_ci")},
}
GAP_TABLE_NOTE = (
    "Only groups large enough to publish are compared. Shares are computed from the published "
    "(rounded) counts; AUROC intervals come from a bootstrap of the test set. Each interval is for one pair "
    "of groups chosen in advance: it does not allow for picking the highest and lowest of several groups "
    "(the section \u201cGaps beyond chance\u201d does, for the share of outcomes found, from exact counts)."
)
#: Added to the table's note when it lists age bands: their gaps follow from risk rising with age.
GAP_TABLE_AGE_NOTE = (
    " Risk rises steeply with age, so a model with room for only the top {top} flags mostly the oldest people: "
    "the gaps between age bands, above all in the share flagged, are what that gives and not by themselves "
    "unfairness."
)
LABEL_COLUMNS: dict[str, str] = {
    "group_label": "Group",
    "model_trained_on": "Model trained on",
    "value": "Share of true cases found",
    **CI_COLUMNS,
}
MITIGATION_COLUMNS: dict[str, str] = {
    "group_label": "Group",
    "approach": "Approach",
    "value": "Outcomes found (TPR)",
    **CI_COLUMNS,
    "share_flagged": "Share flagged",
}
MITIGATION_FORMATS: dict[str, str | tuple[str, int]] = {
    c: ("proportion", 1) for c in ("value", "lower_ci", "upper_ci", "share_flagged")
}
#: The published columns of disclosure bookkeeping (``suppressed``, reasons), kept in downloads.
SUPPRESSION = pl.col("^suppress.*$")

NO_PROBLEM_SKIP = "usable outcome for the model: {problem}"
SKIP_DIMENSION = "equity dimension with two or more groups large enough to publish"
SKIP_AUDIT = "model audit results"
SKIP_INTERSECTION = "two equity dimensions with two or more groups each to audit together"
SKIP_CALIBRATION = "equity dimension with two or more groups large enough to publish"
#: Level of the calibration intervals (the simultaneous ones hold together over a dimension's groups).
CONFIDENCE = 0.95
CALIBRATION_NOTE = (
    "Observed cases over the sum of predicted risks in the test set, with exact Poisson (Garwood) "
    "intervals; the simultaneous intervals (Bonferroni over each grouping's groups) hold together. "
    "Cases are rounded as published and the ratios computed from the rounded counts."
)
NO_REFERENCE = (
    "This data does not record each person's true risk, so the part of a gap that base rates explain "
    "cannot be separated from the part the model adds."
)
SKIP_TRUTH = (
    "true-status columns (true_<condition>), so whether the model misses undiagnosed people because it learnt "
    "from diagnoses (label bias) or because of its inputs and the capacity cannot be checked"
)
#: The label-bias section's opening paragraph (only where the check is made).
LABEL_BIAS_INTRO = (
    "A model learns from **recorded** diagnoses, not from who *truly* has a condition. Where diagnosis is "
    "less complete, as it often is in more disadvantaged groups, such a model may rank undiagnosed people "
    "low (**label bias**). But a model can also miss them for other reasons: inputs that follow a "
    "diagnosis, such as prescriptions, and a capacity that flags only the top few per cent. Only data that "
    "also says who truly has the condition, such as a synthetic population or a linked research dataset, "
    "can separate the two: the same model is trained again on the true condition, with and without the "
    "treatment features, and the share of true cases each finds is compared (95% intervals from a paired "
    "bootstrap of the test set)."
)
#: The label-bias section's closing paragraph (only where the check is made).
LABEL_BIAS_CLOSING = (
    "Real data rarely carries the truth; with routine data, compare recorded with expected prevalence "
    "(@sec-access) and treat any model trained on recorded diagnoses with this caution."
)
SKIP_LABEL_DIMENSION = "ordered equity dimension whose disadvantaged end is known, to compare its two ends"
ALL_SHOWN = "Every group was large enough to show with all its measures."
#: Said when some groups are left out (no count of them: a count of groups read beside the
#: book's totals could pass for a number of people).
HIDDEN = (
    "Some groups are left out of every table and chart: too few people to publish, or hidden so that "
    "such a group cannot be worked out from the others."
)
#: Said when some measures of the groups shown are withheld (marked [c]); ``{within}`` is
#: :data:`PARTIAL_GROUP` with the minimum group size, or empty when that rule is off.
PARTIAL = (
    "Some measures of the groups shown are marked [c]: they rest on a count of fewer than {below} "
    "people{within}, or would reveal such a count."
)
PARTIAL_GROUP = (
    " or are counted among fewer than {min_group} people (in the group, among its people with the "
    "outcome or among those flagged)"
)
#: The section "Gaps beyond chance" when no two groups of any dimension publish their share of outcomes found.
NO_CHANCE = (
    "No gap in the share of outcomes found can be compared here: no dimension has two groups with "
    "enough people with the outcome to publish it."
)
#: Why the gaps beyond chance can differ from the published shares' differences (Section 9.1, its table).
CHANCE_EXACT = (
    "These gaps come from exact counts, before published counts are rounded, so a gap can differ by a point "
    "or two from the difference of the published shares (@tbl-fairness-gaps), and with the smallest groups "
    "left out the pair it names can differ too."
)
NO_AUDIT = "No model is fitted to this dataset, so nothing is audited."
NO_GAP = "{What} cannot be compared between {groups}: fewer than two groups are large enough to publish it."
SMALL_GROUPS = "Small groups have wide intervals ({ref}): a gap that looks large may be chance."
NO_MITIGATION_TEXT = "The mitigation cannot be applied to this dataset: {why}."
#: Slots of the per-group figures in the chapter (the first social dimensions audited).
GROUP_SLOTS = 3


# -- wording shared with the model card ------------------------------------------
def group_name(dimension: Dimension | str | None, label: str) -> str:
    """How the model card names a group inside brackets: 'deprivation fifth 4', 'Female', 'Asian'
    (:func:`group_words`). This page names groups mid-sentence with :func:`group_said`.

    ``dimension`` is the group's :class:`~healthgap.config.Dimension` (a name is looked up
    among the defaults, for callers that only have the name).
    """
    if isinstance(dimension, str):
        dimension = DEFAULT_DIMENSIONS.get(dimension)
    return group_words(dimension, label)


def group_said(dimension: Dimension | str | None, label: str) -> str:
    """How a group named by its label reads mid-sentence: 'deprivation fifth 4', 'women', 'the
    most deprived fifth', 'people aged 90+' (:func:`healthgap.pages._groups.label_name`)."""
    if isinstance(dimension, str):
        dimension = DEFAULT_DIMENSIONS.get(dimension)
    return label_name(dimension, label)


def groups_of(label: str, noun: str = "") -> str:
    """The groups of a dimension, mid-sentence: 'deprivation fifths', 'ethnic groups', 'sexes'.

    From the dimension's ``noun`` when it has one, else from its label
    ('deprivation (IMD quintile) groups').
    """
    if noun:
        return plural_noun(noun)
    base = group_noun(label)
    return f"{base}s" if base.endswith("group") else f"{base} groups"


def ci_text(row: Mapping[str, Any]) -> str:
    """' (95% CI 2.0 to 22.2 percentage points)' for a gap row, or '' without both limits."""
    lo, hi = row.get("difference_lower_ci"), row.get("difference_upper_ci")
    if lo is None or hi is None:
        return ""
    return f" (95% CI {pp(lo, unit=False)} to {pp(hi)})"


def sure(row: Mapping[str, Any]) -> bool:
    """Whether a gap's interval lies wholly above 0 (the groups differ beyond chance)."""
    lo = row.get("difference_lower_ci")
    return lo is not None and lo > 0


def gap_text(
    row: Mapping[str, Any] | None,
    *,
    dimension: Dimension | str | None,
    what: str,
    ref: str = "",
    exact: Mapping[str, Any] | None = None,
) -> str:
    """'{What} ranges from x% (group) to y% (group), a difference of d percentage points (95% CI ...). '

    Ends with a space, so that a following sentence can be joined on. Empty when
    the gap is not published (fewer than two published groups, or all alike). Across more than two
    groups the interval is for a pair chosen in advance, and the sentence says so (``ref``: where the
    simultaneous interval is, e.g. '@sec-fairness-chance'). ``exact``: the same two groups' gap from
    exact counts with its simultaneous interval (:func:`~healthgap.pages._fairness_gaps.orient`-ed,
    higher group first), given instead, so that the page states one number for one gap.
    """
    if row is None or None in (row["lowest"], row["highest"], row["difference"]):
        return ""
    if exact is not None:
        k = exact["comparisons"]
        what_ci = "simultaneous 95% CI" if k > 1 else "95% CI"
        over = f" over the {num(k, 0)} pairs compared" if k > 1 else ""
        return (
            f"{what.capitalize()} ranges from {pct(row['lowest'])} "
            f"{in_group(group_said(dimension, row['lowest_group']))} to {pct(row['highest'])} "
            f"{in_group(group_said(dimension, row['highest_group']))}: on exact counts, before the rounding of "
            f"published counts, a difference of {pp(exact['value'])} ({what_ci} "
            f"{pp(exact['lower_ci'], unit=False)} to {pp(exact['upper_ci'])}{over}"
            + (f", {ref}" if ref else "")
            + ("). " if exact["lower_ci"] > 0 else "); the difference could be due to chance. ")
        )
    k = row.get("groups") or 2
    ci = ci_text(row)
    if k > 2 and ci:
        where = f": {ref} does" if ref else ""
        ci = (
            f"{ci.removesuffix(')')}; an interval that does not allow for picking the highest and lowest of "
            f"{num(k, 0)} groups{where})"
        )
    verdict = ". " if sure(row) else "; the difference could be due to chance. "
    return (
        f"{what.capitalize()} ranges from {pct(row['lowest'])} "
        f"{in_group(group_said(dimension, row['lowest_group']))} to {pct(row['highest'])} "
        f"{in_group(group_said(dimension, row['highest_group']))}, a difference of {pp(row['difference'])}"
        f"{ci}" + verdict
    )


def ends_of(dimension: Dimension) -> tuple[str, str]:
    """The levels at the disadvantaged and the advantaged end of an ordered dimension."""
    first, last = dimension.order[0], dimension.order[-1]
    return (last, first) if dimension.disadvantaged == "last" else (first, last)


def end_name(dimension: Dimension, level: str, *, most: bool) -> str:
    """How an end of an ordered dimension reads mid-sentence, as every page names it
    (:func:`healthgap.pages.sentences.level_name`): 'the most deprived fifth', 'the least
    disadvantaged education level (college degree)'. ``most`` is kept for callers; the level
    decides the wording."""
    del most
    return sentences.level_name(dimension, level)


def _times_100(columns: tuple[str, ...], when: pl.Expr | None = None) -> list[pl.Expr]:
    """``columns`` times 100 (percentages), only where ``when`` holds when it is given."""
    if when is None:
        return [pl.col(c) * 100 for c in columns]
    return [pl.when(when).then(pl.col(c) * 100).otherwise(pl.col(c)).alias(c) for c in columns]


def _markdown(text: str | None) -> Any:
    """A paragraph for a chapter cell, or None (nothing shown)."""
    from IPython.display import Markdown

    return None if not text else Markdown(text)


class FairnessPage(Page):
    """The chapter "Is the model fair?" (``chapters/fairness.qmd``)."""

    slug = "fairness"

    # -- the model and its results ---------------------------------------------
    @cached_property
    def models(self) -> ModelPages:
        """The cached model results shared by the model chapters."""
        return ModelPages(self.book)

    @cached_property
    def problem(self) -> str | None:
        """Why no model can be fitted (no usable outcome), or None."""
        return self.models.problem

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def top(self) -> str:
        """The operating point as a share: '5%'."""
        return pct(self.config.model.top_fraction, 0)

    @cached_property
    def dimensions(self) -> list[Dimension]:
        """The equity dimensions the model kept aside (present in the test set)."""
        return self.models.dimensions if self.ok else []

    def dimension(self, name: str) -> Dimension | None:
        """The dimension ``name`` (as audited, else as configured), or None."""
        return next((d for d in (*self.dimensions, *self.config.dimensions) if d.name == name), None)

    @cached_property
    def audit(self) -> FairnessAudit | None:
        """The exact fairness audit (:class:`healthgap.fairness.FairnessAudit`), or None."""
        return self.models.audit if self.ok else None

    @cached_property
    def groups(self) -> Published | None:
        """The audit's groups, published once: only groups whose size is published, in display order.

        Measures counted within fewer than ``min_group`` cases or flagged people (and AUROCs with
        fewer than ``min_group`` people in either class) are withheld
        (:func:`~healthgap.pages._fairness_gaps.withhold_small_groups`), so no table, figure, gap
        or sentence gives them."""
        if self.audit is None or not self.audit.groups.height:
            return None
        published = self.book.publish(
            withhold_small_groups(self.audit.groups, settings=self.config.disclosure),
            counts=list(AUDIT_COUNTS),
            derived=AUDIT_DERIVED,
            by=list(AUDIT_BY),
            recompute=self.audit.recompute,
        )
        return published.where(pl.col("n").is_not_null()).sort("dimension", "order", "metric_order")

    @cached_property
    def hidden_groups(self) -> int:
        """Groups left out because their size is suppressed."""
        if self.audit is None or self.groups is None:
            return 0
        key = pl.struct("dimension", "group").n_unique()
        return int(self.audit.groups.select(key).item() - self.groups.frame.select(key).item())

    @cached_property
    def differences(self) -> Published | None:
        """The largest gap per grouping and measure between published groups (no counts)."""
        if self.audit is None or self.groups is None:
            return None
        return self.book.publish(self.audit.differences(self.groups.frame), counts=[])

    def audited(self, name: str) -> bool:
        """Whether the model was audited on dimension ``name`` (two or more published groups)."""
        if self.groups is None or name not in {d.name for d in self.dimensions}:
            return False
        shown = self.groups.frame.filter(pl.col("dimension") == name).get_column("group").n_unique()
        return shown >= 2

    @property
    def shown(self) -> list[Dimension]:
        """The dimensions of the per-group figures: the social dimensions audited, in config order."""
        return [d for d in self.dimensions if d.name not in NOT_SOCIAL and self.audited(d.name)]

    @property
    def ends(self) -> Dimension | None:
        """The ordered dimension whose two ends the chapter compares (:func:`ends_dimension`)."""
        return ends_dimension(self.dimensions)

    def slot(self, index: int) -> Dimension | None:
        """The dimension of the ``index``-th per-group figure, or None."""
        return self.shown[index] if index < len(self.shown) else None

    # -- words ------------------------------------------------------------------
    def problem_note(self) -> Any:
        """The skip note when no model can be fitted, else None (nothing shown)."""
        return None if self.ok else self.book.skip(NO_PROBLEM_SKIP.format(problem=self.problem))

    @property
    def n_boot(self) -> str:
        """Bootstrap replicates of the audit, in words ('200', or 'many' without a model)."""
        return num(self.audit.n_boot, 0) if self.audit is not None else "many"

    def skipped_text(self) -> str:
        """'Not audited: Sex: only one level ...' or ''."""
        if self.audit is None or not self.audit.skipped:
            return ""
        return f"Not audited: {'; '.join(f'{d}: {why}' for d, why in self.audit.skipped)}."

    def suppressed_text(self) -> str:
        """Whether groups are left out, and whether some measures show as [c] ('' without an audit).

        Neither is counted: a number of groups beside the book's totals could be read as a
        number of people."""
        if self.audit is None:
            return ""
        partial = False
        if self.groups is not None:
            shown = self.groups.frame.filter(pl.col("metric").is_in(list(METRICS)))
            partial = bool(shown.get_column("value").is_null().any())
        settings = self.config.disclosure
        within = PARTIAL_GROUP.format(min_group=settings.min_group) if settings.min_group > 1 else ""
        parts = [
            HIDDEN if self.hidden_groups else "",
            PARTIAL.format(below=settings.suppress_below, within=within) if partial else "",
        ]
        return " ".join(p for p in parts if p) or ALL_SHOWN

    def coverage_text(self) -> str:
        """What the audit shows and leaves out, in one or two sentences (never empty)."""
        if self.audit is None:
            return NO_AUDIT
        return " ".join(t for t in (self.suppressed_text(), self.skipped_text()) if t)

    def gap_row(self, dimension: str, metric: str) -> dict[str, Any] | None:
        """The published largest gap of ``metric`` by ``dimension``, or None."""
        return None if self.differences is None else self.differences.row(dimension=dimension, metric=metric)

    def gap_sentence(self, dimension: str, metric: str, what: str | None = None, *, ref: str = "") -> str:
        """'The share of outcomes found ranges from x% (group) to y% (group), ...' or ''.

        ``ref``: where the simultaneous interval of the share of outcomes found is (a cross-reference,
        for the text; none in a figure's description)."""
        dim = self.dimension(dimension)
        row = self.gap_row(dimension, metric)
        return gap_text(
            row,
            dimension=dim,
            what=what or GAP_WORDS[metric],
            ref=ref,
            exact=self._exact_pair(dimension, row) if metric == "tpr" else None,
        )

    def _exact_pair(self, dimension: str, row: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The published pair of "Gaps beyond chance" between the highest and the lowest group of
        ``row`` (higher first), when it exists and runs the same way; else None."""
        if row is None or self.tpr_pairs is None:
            return None
        ends = {row["highest_group"], row["lowest_group"]}
        hits = self.tpr_pairs.frame.filter(
            (pl.col("dimension") == dimension)
            & pl.col("value").is_not_null()
            & pl.col("lower_ci").is_not_null()
            & pl.col("group_label").is_in(list(ends))
            & pl.col("versus_label").is_in(list(ends))
            & (pl.col("group_label") != pl.col("versus_label"))
        )
        if not hits.height:
            return None
        pair = orient(hits.row(0, named=True))
        return pair if pair["group_label"] == row["highest_group"] else None

    def _prevalence_sentence(self, dim: Dimension, ref: str) -> str:
        """How common the outcome is at the two ends of an ordered dimension, and what a fair model does."""
        fair = (
            "what matters for equal opportunity is whether the people who go on to have the outcome are found "
            f"equally often ({ref})."
        )
        if self.groups is None or not dim.ordered or not dim.disadvantaged or len(dim.order) < 2:
            return capitalise(fair)
        worse, better = ends_of(dim)
        rows = self.groups.frame.filter(pl.col("dimension") == dim.name, pl.col("metric") == "prevalence")
        at = {r["group"]: r["value"] for r in rows.iter_rows(named=True)}
        a, b = at.get(worse), at.get(better)
        if a is None or b is None or a <= b:
            return capitalise(fair)
        return (
            f"The outcome is more common in {end_name(dim, worse, most=True)} ({pct(a)}) than in "
            f"{end_name(dim, better, most=False)} ({pct(b)}), so a fair model *should* flag more people there; "
            + fair
        )

    def group_paragraph(self, index: int) -> Any:
        """The sentences under the ``index``-th per-group figure (Markdown), or None without it."""
        dim = self.slot(index)
        if dim is None:
            return None
        ref = f"@fig-fair-{index + 1}"
        what = GAP_WORDS["tpr"]
        parts = [
            self.gap_sentence(
                dim.name, "tpr", ref="@sec-fairness-chance" if self.tpr_pairs is not None else ""
            )
            or NO_GAP.format(What=capitalise(what), groups=groups_of(dim.label, dim.noun)) + " "
        ]
        if dim.ordered and dim.disadvantaged:
            parts.append(self.gap_sentence(dim.name, "selection_rate"))
            parts.append(self._prevalence_sentence(dim, ref))
        elif self._small_groups(dim.name):
            parts.append(SMALL_GROUPS.format(ref=ref))
        return _markdown("".join(parts).strip())

    def _small_groups(self, name: str) -> bool:
        """Whether a dimension's smallest published group is under a tenth of its largest."""
        if self.groups is None:
            return False
        sizes = self.groups.frame.filter(pl.col("dimension") == name).get_column("n").drop_nulls().to_list()
        return bool(sizes) and min(sizes) * 10 < max(sizes)

    def gaps_intro(self) -> Any:
        """What the table of largest gaps covers (Markdown, never empty)."""
        from IPython.display import Markdown

        if self.audit is None:
            return Markdown("With no model there are no gaps between groups to list.")
        pairs = [
            " by ".join(lower_first(d.label) for d in (self.dimension(a), self.dimension(b)) if d is not None)
            for a, b in intersections_of(self.dimensions)
        ]
        across = f" and every intersection of two ({join(pairs)})" if pairs else ""
        return Markdown(
            f"The table below lists, for every dimension{across}, the largest difference between two "
            "published groups and the ratio of the lowest to the highest (fairlearn's `difference()` and "
            "`ratio()`)."
        )

    # -- figures and tables ---------------------------------------------------------
    def group_figure(self, index: int) -> Any:
        """Share flagged, outcomes found and hit rate by the groups of the ``index``-th dimension shown.

        None (nothing shown) when there are fewer dimensions; a skip note in the first slot when
        there is none at all.
        """
        dim = self.slot(index)
        if dim is None:
            return self.models.skip(SKIP_DIMENSION) if index == 0 else None
        name = dim.name
        assert self.groups is not None
        data = self.groups.where(pl.col("dimension") == name, pl.col("metric").is_in(list(METRICS))).select(
            "dimension",
            "dimension_label",
            "group",
            "group_label",
            "metric",
            pl.col("metric").replace_strict(METRICS).alias("statistic"),
            "n",
            "numerator",
            "denominator",
            "value",
            "lower_ci",
            "upper_ci",
            SUPPRESSION,
        )
        order = [dim.label_of(x) for x in dim.order] or None
        label = lower_first(dim.label)
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                value_format=PERCENT_AXIS,
                group="group_label",
                colour="statistic",
                colour_order=list(METRICS.values()),
                order=order,
                title=f"How the model performs by {label}",
                value_title="Share",
                group_title=dim.label,
            ),
            id=f"fairness-{_slug(name)}",
            title=f"Share flagged, outcomes found and hit rate by {label}",
            description=(
                f"Dot chart with 95% intervals: for {self.book.each(dim.label)}, the share of people flagged "
                f"(top {self.top} of risk), the share of people with the outcome who were flagged (true "
                "positive rate) and the share of flagged people who had the outcome (positive predictive "
                "value). " + self.gap_sentence(name, "tpr")
            ),
            data=data,
            columns=COLUMNS,
            formats=PERCENT_FORMATS,
        )

    def gaps_table(self) -> Any:
        """The largest between-group differences and ratios, every dimension and intersection."""
        if self.differences is None or not self.differences.height:
            return self.models.skip(SKIP_AUDIT)
        share = pl.col("metric") != "auroc"  # shares of people: % and percentage points
        gaps = self.differences.where(pl.col("metric").is_in(GAP_METRICS)).select(
            "dimension_label",
            "statistic",
            pl.when(share)
            .then(pl.lit("% (difference in percentage points)"))
            .otherwise(pl.lit("AUROC, 0 to 1"))
            .alias("unit"),
            "highest_group",
            *_times_100(("highest",), share),
            "lowest_group",
            *_times_100(("lowest", "difference", "difference_lower_ci", "difference_upper_ci"), share),
            "ratio",
            "ratio_lower_ci",
            "ratio_upper_ci",
            "groups",
        )
        return self.book.table(
            gaps,
            id="fairness-gaps",
            title="Largest between-group differences and ratios",
            columns=GAP_TABLE_COLUMNS,
            formats=GAP_TABLE_FORMATS,
            note=GAP_TABLE_NOTE
            + (
                GAP_TABLE_AGE_NOTE.format(top=self.top)
                if self.differences.frame.get_column("dimension").str.contains("age_band").any()
                else ""
            ),
        )

    @property
    def pair(self) -> tuple[Dimension, Dimension] | None:
        """The first intersection audited with published groups (the heatmap's two dimensions), or None."""
        if self.groups is None:
            return None
        shown = set(self.groups.frame.get_column("dimension").to_list())
        for a, b in intersections_of(self.dimensions):
            da, db = self.dimension(a), self.dimension(b)
            if da is not None and db is not None and a + SEPARATOR + b in shown:
                return da, db
        return None

    def intersection_figure(self) -> Any:
        """Heatmap of the share flagged by the first two dimensions together."""
        pair = self.pair
        if pair is None or self.groups is None:
            return self.models.skip(SKIP_INTERSECTION)
        dim_a, dim_b = pair
        name = dim_a.name + SEPARATOR + dim_b.name
        parts = pl.col("group_label").str.split(SEPARATOR)
        cells = self.groups.where(pl.col("dimension") == name, pl.col("metric") == "selection_rate").select(
            "group",
            parts.list.get(0).alias("first"),
            parts.list.get(1).alias("second"),
            "n",
            "numerator",
            "denominator",
            "value",
            "lower_ci",
            "upper_ci",
            SUPPRESSION,
        )
        if cells.frame.get_column("value").is_null().all():
            return self.models.skip(
                f"combination of {lower_first(dim_a.label)} and {lower_first(dim_b.label)} large enough to publish"
            )
        a, b = lower_first(dim_a.label), lower_first(dim_b.label)
        return self.book.figure(
            lambda d: charts.heatmap(
                d,
                x="first",
                text_format=PERCENT_TIP,
                y="second",
                title="Share of people flagged",
                x_order=[dim_a.label_of(x) for x in dim_a.order],
                y_order=[dim_b.label_of(x) for x in dim_b.order],
                x_title=dim_a.label,
                y_title=dim_b.label,
                legend_title="Share flagged",
            ),
            id="fairness-intersection",
            title=f"Share of people flagged by {a} and {b}",
            description=(
                f"Heatmap of the share of people flagged by the model in each combination of {a} and {b}; "
                "cells too small to publish are grey and marked [c]."
            ),
            data=cells,
            columns={
                "first": dim_a.label,
                "second": dim_b.label,
                "n": "People",
                "numerator": "Flagged",
                "value": "Share flagged",
                **CI_COLUMNS,
            },
            formats=PERCENT_FORMATS,
        )

    @property
    def calibration_dimension(self) -> Dimension | None:
        """The dimension of the calibration figure: the compared ends, else the first shown."""
        ends = self.ends
        if ends is not None and self.audited(ends.name):
            return ends
        return self.shown[0] if self.shown else None

    def calibration_figure(self) -> Any:
        """Mean predicted risk against the observed share, by the groups of one dimension."""
        dim = self.calibration_dimension
        if dim is None or self.groups is None:
            return self.models.skip(SKIP_CALIBRATION)
        data = self.groups.where(
            pl.col("dimension") == dim.name, pl.col("metric").is_in(list(CALIBRATION))
        ).select(
            "dimension",
            "dimension_label",
            "group",
            "group_label",
            "metric",
            pl.col("metric").replace_strict(CALIBRATION).alias("statistic"),
            "n",
            "numerator",
            "denominator",
            "value",
            "lower_ci",
            "upper_ci",
            SUPPRESSION,
        )
        label = lower_first(dim.label)
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                value_format=PERCENT_AXIS,
                group="group_label",
                colour="statistic",
                order=[dim.label_of(x) for x in dim.order] or None,
                title=f"Predicted and observed risk by {label}",
                value_title="Risk",
                group_title=dim.label,
            ),
            id="fairness-calibration",
            title=f"Mean predicted risk and observed share by {label}",
            description=(
                f"Dot chart with 95% intervals comparing, in {self.book.each(dim.label)}, the model's mean "
                "predicted risk with the share of people who had the outcome. A model calibrated in every "
                "group has the two dots together."
            ),
            data=data,
            columns=COLUMNS,
            formats={c: ("proportion", 2) for c in ("value", "lower_ci", "upper_ci")},
        )

    @cached_property
    def calibration(self) -> Published | None:
        """Observed over expected cases by group, published (observed cases rounded, O/E and its
        exact intervals recomputed from them), or None without a model or groups."""
        if not self.ok:
            return None
        exact = self.models.calibration
        if exact.is_empty():
            return None
        return self.book.publish(
            exact.drop("true_expected"),
            counts=list(CALIBRATION_COUNTS),
            by=["dimension"],
            recompute=lambda f: recompute_calibration(f, confidence=CONFIDENCE),
        ).sort("dimension_label", "order")

    def calibration_paragraph(self) -> Any:
        """Observed/expected by group in words, against the truth where the data has it, and the
        largest miscalibration beyond chance (Markdown), or None without it."""
        if self.calibration is None:
            return None
        frame = self.calibration.frame
        parts = []
        for dim in self.models.social:
            rows = frame.filter(pl.col("dimension") == dim.name)
            parts.append(range_text(rows, dim) + truth_text(rows, dim))
        text = "".join(parts)
        if not text:
            return None
        return _markdown(
            "Observed over expected cases (O/E) compares, in each group, the people who had the outcome with "
            "the sum of the model's predicted risks: above 1 the model under-predicts the group's risk, below 1 "
            f"it over-predicts (@tbl-fairness-calibration). {text}"
            f"{headline_text(frame, self.models.social, name=label_name)}"
        )

    def calibration_table(self) -> Any:
        """Observed/expected by group with exact and simultaneous intervals and, where the data has
        it, the true over predicted risk."""
        if self.calibration is None:
            return self.models.skip(SKIP_CALIBRATION)
        columns = dict(CALIBRATION_TABLE_COLUMNS)
        if self.calibration.frame.get_column("true_ratio").is_null().all():
            columns.pop("true_ratio")
        return self.book.table(
            self.calibration,
            id="fairness-calibration-ratio",
            title="Observed over expected cases by group",
            columns=columns,
            formats=CALIBRATION_TABLE_FORMATS,
            note=CALIBRATION_NOTE,
        )

    # -- gaps beyond chance and beyond base rates ------------------------------------
    @cached_property
    def tpr_pairs(self) -> Published | None:
        """Every pairwise gap in the share of cases found at capacity, published (differences
        only, rounded to 0.1 percentage point), or None without a model or pairs."""
        if not self.ok or self.models.tpr_pairs.is_empty():
            return None
        groups = None if self.groups is None else self.groups.frame
        frame = publishable_pairs(self.models.tpr_pairs, groups).select(PAIR_COLUMNS)
        if frame.is_empty():
            return None
        frame = frame.with_columns(pl.col("value", "lower_ci", "upper_ci").round(DECIMALS))
        return self.book.publish(frame, counts=[])

    @cached_property
    def reference_gaps(self) -> Published | None:
        """The perfect-risk reference's gaps, published (differences only, rounded), or None
        without the true risk."""
        ref = self.models.reference if self.ok else None
        if ref is None or ref.gaps.is_empty():
            return None
        floats = [c for c in REFERENCE_COLUMNS if c.startswith(("gap_", "added"))]
        return self.book.publish(
            ref.gaps.select(REFERENCE_COLUMNS).with_columns(pl.col(floats).round(DECIMALS)), counts=[]
        )

    @cached_property
    def reference_pairs(self) -> Published | None:
        """The perfect-risk reference's gaps between every two groups whose gap in the share of
        cases found is published (:attr:`tpr_pairs`), published (differences only, rounded), or
        None without the true risk."""
        ref = self.models.reference if self.ok else None
        if ref is None or ref.pairs.is_empty() or self.tpr_pairs is None:
            return None
        shown = self.tpr_pairs.frame.select("dimension", "group", "versus")
        turned = shown.select("dimension", pl.col("versus").alias("group"), pl.col("group").alias("versus"))
        frame = ref.pairs.select(REFERENCE_PAIR_COLUMNS).join(
            pl.concat([shown, turned]), on=["dimension", "group", "versus"], how="semi"
        )
        floats = [c for c in REFERENCE_PAIR_COLUMNS if c.startswith(("gap_", "added"))]
        return self.book.publish(frame.with_columns(pl.col(floats).round(DECIMALS)), counts=[])

    def chance_paragraph(self) -> Any:
        """Each dimension's largest gap in the share of cases found that survives simultaneous
        intervals, or that none does, set against the perfect-risk model's gap between the same two
        groups (between age bands without it: that such a gap is expected at capacity) (Markdown),
        or None without pairs."""
        if not self.ok:
            return None
        if self.tpr_pairs is None:
            return _markdown(NO_CHANCE)
        frame = self.tpr_pairs.frame
        truth = self.models.reference is not None
        refs = self.reference_pairs.frame if self.reference_pairs is not None else pl.DataFrame()

        def one(d: Dimension) -> str:
            rows = frame.filter(pl.col("dimension") == d.name)
            said = chance_text(rows, d)
            if not said:
                return ""
            mine = (
                (refs.filter(pl.col("dimension") == d.name) if not refs.is_empty() else refs)
                if truth
                else None
            )
            return said + base_rate_text(chosen_pair(rows), mine, d, top=self.top)

        text = "".join(one(d) for d in self.models.dimensions)
        if not text:
            return _markdown(NO_CHANCE)
        return _markdown(
            f"Across many groups the largest gap is partly chance. Each gap in the share of cases found at the "
            f"top {self.top} is therefore given an interval that holds for every pair of groups together "
            f"(a max-t bootstrap over test-set people; groups with fewer than 20 cases are left out, and only "
            f"groups large enough to publish their rates are named). {CHANCE_EXACT} {text}"
        )

    def reference_paragraph(self) -> Any:
        """Each dimension's model gap beside a perfect-risk model's at the same capacity (Markdown),
        or a plain note when the data has no true risk."""
        if not self.ok:
            return None
        if self.reference_gaps is None:
            return _markdown(NO_REFERENCE)
        frame = self.reference_gaps.frame
        pairs = self.tpr_pairs.frame if self.tpr_pairs is not None else pl.DataFrame()
        if not pairs.is_empty():
            pairs = pairs.filter(pl.col("value").is_not_null())
        kept = (
            pl.concat(
                [
                    pairs.select("dimension", "group"),
                    pairs.select("dimension", pl.col("versus").alias("group")),
                ]
            )
            if not pairs.is_empty()
            else pl.DataFrame(schema={"dimension": pl.String, "group": pl.String})
        )

        def comparable(name: str) -> pl.DataFrame:
            groups = kept.filter(pl.col("dimension") == name).get_column("group").to_list()
            return frame.filter(
                (pl.col("dimension") == name)
                & pl.col("group").is_in(groups)
                & pl.col("reference").is_in(groups)
            )

        def said(name: str) -> dict[str, Any] | None:
            return None if pairs.is_empty() else chosen_pair(pairs.filter(pl.col("dimension") == name))

        text = "".join(
            reference_text(comparable(d.name), d, top=self.top, said=said(d.name))
            for d in self.models.dimensions
        )
        if not text:
            return _markdown(NO_REFERENCE)
        return _markdown(
            "Even a model that knew each person's true risk would not find the same share of cases in every "
            "group when it can flag only a fixed share of people: groups with more people at high risk fill "
            f"more of the places. Comparing the model with that perfect-risk model separates the part of a gap "
            f"that base rates explain from the part the model adds (95% intervals from the same bootstrap "
            f"replicates for both; groups with fewer than 20 cases are left out). Here every group is compared "
            f"with one reference group of its dimension, with an interval for that one pair, so the pair can "
            f"differ from the largest gap of @sec-fairness-chance. {text}"
        )

    # -- label bias --------------------------------------------------------------------
    @cached_property
    def label_bias(self) -> LabelBias | None:
        """The model of the recorded condition (:class:`healthgap.fairness.LabelBias`), or None without truth."""
        return self.models.label_bias if self.ok else None

    @property
    def label_dimension(self) -> Dimension | None:
        """The ordered dimension whose two ends the label-bias audit compares."""
        return self.ends

    @cached_property
    def features(self) -> tuple[str, ...]:
        """The model's features."""
        return self.models.result.features if self.ok else ()

    @cached_property
    def counterfactual(self) -> CounterfactualLabels | None:
        """The exact counterfactual-label audit (:func:`healthgap.fairness.counterfactual_labels`), or None."""
        return self.models.counterfactual if self.ok and self.label_bias is not None else None

    @cached_property
    def label_shares(self) -> Published | None:
        """The counterfactual-label shares and label bias by group, published once (no counts;
        :func:`~healthgap.pages._fairness_labels.label_frame`), or None without truth."""
        cf = self.counterfactual
        if cf is None or not cf.available or cf.groups.is_empty():
            return None
        return self.book.publish(label_frame(cf.groups, settings=self.config.disclosure), counts=[])

    @property
    def care_features(self) -> tuple[str, ...]:
        """The label-bias model's inputs that record care: the treatment measures among its features."""
        cf = self.counterfactual
        return () if cf is None else tuple(cf.treatments)

    def _treatments_text(self) -> str:
        lb = self.label_bias
        if lb is None:
            return ""
        return join(lower_first(lb.result.label(f)) for f in self.care_features)

    @property
    def label_bias_skip(self) -> str | None:
        """Why the label-bias check cannot be shown (the reason of its one skip note), or None.

        Without a model the section's note says so (:meth:`ModelPages.skip`).
        """
        if not self.ok:
            return SKIP_TRUTH
        dim = self.label_dimension
        if dim is None and self.caps.has_truth:
            return SKIP_LABEL_DIMENSION
        if self.label_bias is None or self.label_shares is None:
            return SKIP_TRUTH
        if dim is None or self.label_shares.where(pl.col("dimension") == dim.name).height == 0:
            return SKIP_LABEL_DIMENSION
        return None

    def label_bias_text(self) -> str:
        """What the counterfactual-label audit shows between the two ends ('' when it cannot be made:
        :meth:`label_bias_intro` then gives the section's one note)."""
        lb, dim = self.label_bias, self.label_dimension
        if self.label_bias_skip is not None or lb is None or dim is None or self.label_shares is None:
            return ""
        cond = lower_first(lb.condition_label)
        intro = (
            f"The check uses recorded {cond}, the condition whose recording differs most between the ends of "
            f"{lower_first(dim.label)} in this dataset."
        )
        frame = self.label_shares.frame.filter(pl.col("dimension").is_in([dim.name, "all"]))
        body = counterfactual_text(
            frame,
            dimension=dim,
            ends=ends_of(dim),
            condition=cond,
            top=self.top,
            treatments=self._treatments_text(),
        )
        overall = self.label_shares.row(variant="all", group="All")
        return " ".join(t for t in (intro, body, undiagnosed_text(overall, condition=cond)) if t)

    def label_bias_intro(self) -> Any:
        """The section's opening paragraph (Markdown) where the check is made; else its one skip note."""
        if self.label_bias_skip is not None:
            return self.models.skip(self.label_bias_skip)
        return _markdown(LABEL_BIAS_INTRO)

    def label_bias_paragraph(self) -> Any:
        """The label-bias findings (Markdown), or None when the check cannot be made."""
        return _markdown(self.label_bias_text())

    def label_bias_closing(self) -> Any:
        """What to do with routine data (Markdown), or None when the check cannot be made."""
        return None if self.label_bias_skip is not None else _markdown(LABEL_BIAS_CLOSING)

    def label_bias_figure(self) -> Any:
        """Share of true cases found by models trained on recorded and on true labels, with and
        without treatment features, by the groups of the compared dimension; None when the check
        cannot be made (:meth:`label_bias_intro` gives the note)."""
        lb, dim = self.label_bias, self.label_dimension
        if self.label_bias_skip is not None or lb is None or dim is None or self.label_shares is None:
            return None
        # the key's title reads "Model trained on" (the chart's colour column, made readable)
        data = (
            self.label_shares.where(pl.col("dimension") == dim.name)
            .pipe(label_series)
            .rename({"statistic": "model_trained_on"})
        )
        cond = lower_first(lb.condition_label)
        label = lower_first(dim.label)
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                value_format=PERCENT_AXIS,
                group="group_label",
                colour="model_trained_on",
                colour_order=list(LABEL_SERIES.values()),
                order=[dim.label_of(x) for x in dim.order],
                group_title=dim.label,
                title=f"True cases of {cond} found at the top {self.top}",
                value_title="Share of true cases",
            ),
            id="label-bias",
            title=f"True cases of {cond} found by models trained on recorded and on true labels, by {label}",
            description=(
                f"Dot chart with 95% intervals, for {self.book.each(dim.label)}: the share of people truly having "
                f"{cond} whom each of four models flags at the top {self.top}: trained on recorded diagnoses or "
                "on the true condition, with every feature or without the treatment features. "
                + self.label_bias_text()
            ),
            data=data,
            columns=LABEL_COLUMNS,
            formats=PERCENT_FORMATS,
        )

    # -- mitigation at capacity --------------------------------------------------------
    @cached_property
    def capacity_mitigation(self) -> CapacityMitigation | None:
        """The exact mitigation at capacity (:func:`healthgap.fairness.mitigate_at_capacity`), or None."""
        return self.models.capacity_mitigation if self.ok else None

    @cached_property
    def mitigation_rates(self) -> Published | None:
        """Each approach's share of outcomes found by group, published once (no counts)."""
        m = self.capacity_mitigation
        if m is None:
            return None
        return self.book.publish(mitigation_frame(m.by_group, settings=self.config.disclosure), counts=[])

    @cached_property
    def mitigation_gaps(self) -> Published | None:
        """The gap between the first and last groups per approach and its change, published once:
        differences of the published rates (rounded counts), with bootstrap limits from the exact
        data to the point; withheld where either group's rate is."""
        m, rates = self.capacity_mitigation, self.mitigation_rates
        if m is None or rates is None:
            return None
        shown = (
            rates.frame.filter(pl.col("tpr").is_not_null()).group_by("strategy").agg(pl.col("group_label"))
        )
        ok = {
            r["strategy"] for r in shown.iter_rows(named=True) if {m.first, m.last} <= set(r["group_label"])
        }
        both = pl.col("strategy").is_in(list(ok)) & pl.lit(len(ok) == 2)
        # the gaps are differences of the published rates (from rounded counts), never of exact
        # rates: 0.1-point differences of exact rates beside rates from rounded counts can be
        # solved for the exact counts (as the round-4 audit did with the rates themselves); the
        # bootstrap limits, from exact data, are given to the point (2 decimals) only
        tpr = rates.frame.filter(pl.col("group_label").is_in([m.first, m.last]))
        first = pl.col("tpr").filter(pl.col("group_label") == m.first).first()
        last = pl.col("tpr").filter(pl.col("group_label") == m.last).first()
        published = tpr.group_by("strategy").agg((first - last).alias("__gap"))
        base = m.gap.get_column("strategy")[0] if m.gap.height else None
        frame = (
            m.gap.join(published, on="strategy", how="left")
            .with_columns(
                pl.col("__gap").alias("gap"),
                (pl.col("__gap") - pl.col("__gap").filter(pl.col("strategy") == base).first()).alias(
                    "change"
                ),
            )
            .drop("__gap")
        )
        frame = frame.with_columns(
            *(
                pl.when(both).then(pl.col(c).round(DECIMALS)).otherwise(None).alias(c)
                for c in ("gap", "change")
            ),
            *(
                pl.when(both).then(pl.col(c).round(2)).otherwise(None).alias(c)
                for c in ("gap_lower", "gap_upper", "change_lower", "change_upper")
            ),
        )
        return self.book.publish(frame, counts=[])

    @cached_property
    def mitigation_overall(self) -> Published | None:
        """Each approach's overall share of outcomes found and share flagged, published once (no counts)."""
        m = self.capacity_mitigation
        if m is None:
            return None
        return self.book.publish(
            mitigation_frame(
                m.overall.with_columns(group=pl.lit("All"), group_label=pl.lit("All")),
                settings=self.config.disclosure,
            ),
            counts=[],
        )

    @cached_property
    def evaluation_size(self) -> str:
        """People in the evaluation half, as published ('about 37,500')."""
        m = self.capacity_mitigation
        value = None if m is None else m.evaluation
        row = self.book.publish(
            pl.DataFrame({"n": [value]}, schema={"n": pl.Int64}), counts=["n"], by=[]
        ).row()
        return about(None if row is None else row["n"], rounded=self.models.rounded)

    def mitigation_text(self, *, whole: str = WHOLE_ABOVE) -> str:
        """The mitigation at capacity: the gap before and after with intervals, and its cost (never empty).

        Parameters
        ----------
        whole : where the whole test set's shares by group are (the model card passes
            :data:`~healthgap.pages._fairness_labels.WHOLE_IN_CHAPTER`).
        """
        if not self.ok:
            return "With no model there is nothing to mitigate."
        m = self.capacity_mitigation
        if m is None or self.mitigation_gaps is None or self.mitigation_overall is None:
            return NO_MITIGATION_TEXT.format(
                why="no equity dimension has more than one group to mitigate across"
            )
        dim = self.dimension(m.dimension)
        rates = None if self.mitigation_rates is None else self.mitigation_rates.frame
        missing = (
            set()
            if rates is None
            else set(rates.filter(pl.col("tpr").is_null()).get_column("group_label").to_list())
        )
        by_group = getattr(m, "by_group", None)
        reasons = (
            {}
            if by_group is None
            else mitigation_reasons(
                by_group.filter(pl.col("group_label").is_in([m.first, m.last])),
                settings=self.config.disclosure,
            )
        )
        return capacity_mitigation_text(
            self.mitigation_gaps.frame,
            self.mitigation_overall.frame,
            first=group_said(dim, m.first),
            last=group_said(dim, m.last),
            withheld=tuple(group_said(dim, g) for g in (m.first, m.last) if g in missing),
            reasons={group_said(dim, g): r for g, r in reasons.items()},
            across=groups_of(
                dim.label if dim is not None else m.dimension, dim.noun if dim is not None else ""
            ),
            top=self.top,
            evaluation=self.evaluation_size,
            whole=whole,
        )

    @property
    def mitigation_plotted(self) -> bool:
        """Whether the mitigation figure has a published share of outcomes found to draw."""
        rates = self.mitigation_rates
        return rates is not None and rates.frame.get_column("tpr").is_not_null().any()

    def capacity_paragraph(self) -> Any:
        """The paragraph after the mitigation figure (Markdown), or None without the figure."""
        if self.mitigation_gaps is None or not self.mitigation_plotted:
            return None
        return _markdown(
            "Equalising opportunity at a fixed capacity moves places from the groups where the model finds most "
            "people to those where it finds fewest, so some people who would have been found are missed instead. "
            "With few people with the outcome per group, cut-offs fitted on the validation half carry its chance "
            "variation into the other half: the intervals show how far the result can be trusted. Whether to "
            "accept the cost is a decision for the service, not for the model."
        )

    def mitigation_figure(self) -> Any:
        """Share of outcomes found by group, with and without the mitigation at capacity; None when
        there is nothing to draw (:meth:`mitigation_text` then gives the section's one note)."""
        m, rates = self.capacity_mitigation, self.mitigation_rates
        if m is None or rates is None or not self.mitigation_plotted:
            return None
        dim = self.dimension(m.dimension)
        label = dim.label if dim is not None else m.dimension
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                value_format=PERCENT_AXIS,
                group="group_label",
                colour="approach",
                colour_order=list(SPLIT_STRATEGIES.values()),
                order=[dim.label_of(x) for x in dim.order] if dim is not None and dim.order else None,
                group_title=label,
                title=f"Outcomes found at the top {self.top}, with and without mitigation",
                value_title="Share of outcomes found",
            ),
            id="mitigation",
            title=f"Share of outcomes found by {lower_first(label)}, with and without mitigation at capacity",
            description=(
                f"Dot chart with 95% intervals, for {self.book.each(label)}: the share of people with the outcome "
                f"whom the model flags at the top {self.top}, with one cut-off (unmitigated) and with a cut-off per "
                "group fitted for equal opportunity, on the evaluation half of the test set. "
                + self.mitigation_text()
            ),
            data=rates.select(
                "group_label",
                pl.col("strategy").replace_strict(SPLIT_STRATEGIES, default=None).alias("approach"),
                pl.col("tpr").alias("value"),
                pl.col("tpr_lower").alias("lower_ci"),
                pl.col("tpr_upper").alias("upper_ci"),
                "share_flagged",
                *(["note"] if "note" in rates.columns else []),  # why a share is "[x]"
            ),
            columns=MITIGATION_COLUMNS,
            formats=MITIGATION_FORMATS,
        )


def _slug(name: str) -> str:
    """A dimension's part of a figure id: 'imd' for deprivation, else the name with hyphens."""
    return {"imd_quintile": "imd"}.get(name, name.replace("_", "-").lower())
