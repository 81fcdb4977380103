"""Chapter "Access and treatment": who is found, who is treated, who waits.

Everything ``chapters/access-treatment.qmd`` computes, words and shows, for any dataset:

- recorded against expected cases of the declared conditions, and under-diagnosis where
  the data has each person's true status;
- every indicator of the config (:attr:`healthgap.config.Config.indicators`: the
  cardiovascular profile's statin, anticoagulant and blood pressure control indicators and
  any a user adds), from its SQL, by every dimension present;
- every access measure (:meth:`healthgap.config.Config.measures_of`), by its type: a flag as
  a share of people, days as the median and the share over 18 weeks, a count as events per
  100 people (experience measures and indicators are in the experience chapter,
  :mod:`healthgap.pages.experience`, which the page points to);
- how many values are missing for each measure the page uses.

Groups are compared along :func:`~healthgap.pages._groups.compared_dimension` (deprivation,
else another ordered dimension, else the first) and named in that dimension's words. Each
analysis of :mod:`healthgap.descriptive.access` returns exact aggregates; the page publishes
each once (statistics recomputed from the published counts) and builds its figures, tables
and sentences from that :class:`~healthgap.disclosure.Published` frame. Sections whose
figures and captions depend on the data are displayed as Markdown blocks
(:mod:`healthgap.pages._blocks`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension, Indicator, sql_columns
from healthgap.contract import CONTRACT, TRUTH_PREFIX
from healthgap.descriptive import LEVEL
from healthgap.descriptive.access import (
    IndicatorStatus,
    against_need,
    detection,
    indicator_status,
    indicator_totals,
    missing_values,
    observed_expected,
    recompute_ratios,
    recompute_shares,
    recompute_standardised,
    standardised_indicators,
    treated_among_true,
)
from healthgap.disclosure import Published
from healthgap.pages._blocks import (
    MeasureSections,
    ShownMeasure,
    blocks,
    heading,
    note,
    numbered,
    paragraph,
    shown_measures,
)
from healthgap.pages._contrast import compare
from healthgap.pages._groups import compared_dimension, ends, group_name, noun_of, spread
from healthgap.pages.base import CI_COLUMNS, Page, ci_columns
from healthgap.pages.sentences import indicator_labels, missing_sentence
from healthgap.stats.compare import rate_ratio
from healthgap.text import capitalise, count, format_number, interval, join, lower_first, ratio

__all__ = [
    "AccessTreatmentPage",
    "AccessMeasure",
    "TRUTH_TEXT",
    "NOT_NEED",
    "NO_TRUTH",
    "NO_TRUTH_RATIO",
    "INDICATOR_ENDS_METHOD",
    "ALL_SUPPRESSED",
    "INDICATOR_DERIVED",
    "describe_indicators",
    "missing_sentence",
    "excluded_sentence",
    "TREATED_AMONG_TRUE",
    "TREATED_TRUE_LEAD",
]

#: Ratios (observed / expected) and their intervals are shown to 2 decimal places, as in the text.
VALUE_RATIO_FORMATS: dict[str, str | tuple[str, int]] = {c: ("ratio", 2) for c in ("value", *CI_COLUMNS)}
#: Percentages and their intervals to 1 decimal place.
VALUE_PERCENT_FORMATS: dict[str, str | tuple[str, int]] = {c: ("percent", 1) for c in ("value", *CI_COLUMNS)}
#: Other values (rates per 1,000, ...) to 1 decimal place.
VALUE_NUMBER_FORMATS: dict[str, str | tuple[str, int]] = {c: ("number", 1) for c in ("value", *CI_COLUMNS)}

#: The columns of the indicator table (and its download).
INDICATOR_TABLE_DATA = (
    "dimension",
    "dimension_label",
    "measure",
    "measure_label",
    "level",
    "label",
    "numerator",
    "denominator",
    "excluded",
    "value",
    "lower_ci",
    "upper_ci",
)
#: An indicator's value derives from its numerator and denominator only: a small count of people
#: left out (``excluded``) is suppressed on its own without hiding the value.
INDICATOR_DERIVED = {
    "numerator": ["value", "lower_ci", "upper_ci"],
    "denominator": ["value", "lower_ci", "upper_ci"],
    "excluded": [],
}
#: The columns of an access flag against need (its figure and table).
NEED_DATA = ("level", "label", "observed", "population", "expected", "value", "lower_ci", "upper_ci")
#: Recorded conditions that are risk factors rather than reasons for a referral: not in the need.
NOT_NEED = ("diabetes", "ckd")
#: The standardised indicators' counts and what derives from each.
STANDARDISED_DERIVED = {
    "excluded": [],
    "numerator": ["crude", "ratio", "ratio_lower", "ratio_upper", "value", "lower_ci", "upper_ci"],
    "denominator": [
        "expected",
        "crude",
        "ratio",
        "ratio_lower",
        "ratio_upper",
        "value",
        "lower_ci",
        "upper_ci",
    ],
}
#: The columns of the standardised indicators' figure and table.
STANDARDISED_DATA = (
    "dimension",
    "dimension_label",
    "measure",
    "measure_label",
    "level",
    "label",
    "numerator",
    "denominator",
    "excluded",
    "crude",
    "value",
    "lower_ci",
    "upper_ci",
)

TRUTH_TEXT = (
    "This dataset includes each person's true status (it is synthetic, so the truth is known), so we can "
    "measure under-diagnosis directly: the share of people who truly have each condition who are on a GP "
    "register."
)
TRUTH_LINKED = (
    "This dataset includes each person's true status, so we can measure under-diagnosis directly: the "
    "share of people who truly have each condition who are recorded."
)
#: How the two ends of a dimension are compared for a treatment indicator (an interval of their
#: difference from their own intervals, each end against everyone's rates).
INDICATOR_ENDS_METHOD = (
    "{a} and {b} are each measured against everyone's rates for each {strata} (the indirect "
    "standardisation above), and the interval of their difference combines the two groups' own "
    "intervals (Byar's, which treat the number meeting the indicator as a count); measuring {own} against {b}'s own "
    "rates for each {strata} instead can give slightly different numbers."
)
NO_TRUTH = "columns saying who truly has each condition, so under-diagnosis cannot be measured"
#: How to read the observed / expected ratios without true status: no inference about diagnosis.
NO_TRUTH_RATIO = (
    "Without data on who truly has each condition, a ratio cannot separate more disease from better or "
    "worse diagnosis."
)
ALL_SUPPRESSED = "{subject} is not published for any {noun}: every group is too small."
NO_CONDITIONS = "condition columns"
NO_DIMENSION = "equity dimension to compare groups along (other than {what})"
NO_INDICATORS = "indicators it can compute (each needs the columns its SQL names)"
NO_ACCESS = "access measures (such as referrals, waits or missed appointments)"
#: The condition and its treatment shown among everyone who truly has the condition.
TREATED_AMONG_TRUE = ("hypertension", "antihypertensive")
#: Why (the lead of that subsection).
TREATED_TRUE_LEAD = (
    "The indicators above count only people whose condition is recorded. Under-diagnosis and "
    "under-treatment add up: of everyone who truly has {condition}, recorded or not, the share "
    "prescribed {treatment} shows both gaps together. These shares are crude (not standardised for "
    "age): they count what happens to the people who have the condition, whatever their age. "
    "@tbl-treated-true gives every group."
)
#: Where the experience measures are, when the dataset has any.
EXPERIENCE_POINTER = "How people experience their care ({listed}) is in @sec-experience."


#: The measure class the access and experience pages share (kept under its old name).
AccessMeasure = ShownMeasure


def _label_of(config: Any, name: str) -> str:
    """The label of a column: its measure's, its contract entry's, or the true status of one."""
    if name.startswith(TRUTH_PREFIX):
        return f"true status of {lower_first(_label_of(config, name[len(TRUTH_PREFIX) :]))}"
    try:
        return str(config.measure(name).label)
    except KeyError:
        column = CONTRACT.get(name)
        return column.label if column is not None else name


def describe_indicators(shown: Sequence[Indicator]) -> str:
    """What each indicator counts, from its description (else its label), as one sentence."""
    parts = [lower_first((i.description or i.label).strip().rstrip(".")) for i in shown]
    if not parts:
        return ""
    lead = "Each indicator counts" if len(parts) > 1 else "The indicator counts"
    listed = parts[0] if len(parts) == 1 else "; ".join(parts[:-1]) + "; and " + parts[-1]
    return f"{lead} only the people it applies to and, among them, those who meet it: {listed}."


#: A suppressed count in a sentence: the same words whether it is small or protects a small one.
WITHHELD = "some (a number withheld to protect confidentiality)"
WITHHELD_PEOPLE = "some people (a number withheld to protect confidentiality)"


def _people(n: int | None, *, most: int) -> str:
    if n is None:  # suppressed, primary or secondary: one wording for both (disclosure rule 7)
        return WITHHELD_PEOPLE
    return f"{count(n)} {'person' if n == 1 else 'people'}"


def excluded_sentence(label: str, numerator: str, n: int | None, *, most: int) -> str:
    """People an indicator leaves out because its numerator is missing (``n`` published)."""
    return (
        f"For {lower_first(label)}, {_people(n, most=most)} it applies to "
        f"{'has' if n == 1 else 'have'} no recorded {numerator} and {'is' if n == 1 else 'are'} left out."
    )


class AccessTreatmentPage(MeasureSections, Page):
    """The access and treatment chapter."""

    slug = "access-treatment"
    prefix = "access"

    # -- the groups compared --------------------------------------------------
    @cached_property
    def compared(self) -> Dimension | None:
        """The dimension the figures compare (:func:`compared_dimension`)."""
        return compared_dimension(self.caps)

    @cached_property
    def standard(self) -> str:
        """What recorded cases are expected from: "age and sex", or "age" without a sex column."""
        return "age and sex" if self.caps.has("sex") else "age"

    @cached_property
    def oe_dimension(self) -> Dimension | None:
        """The dimension the observed / expected ratios compare (not one they standardise for)."""
        return compared_dimension(self.caps, exclude=("sex",) if self.caps.has("sex") else ())

    def _order(self, dim: Dimension) -> list[str]:
        return [dim.label_of(x) for x in dim.order]

    def _publish(
        self,
        table: pl.DataFrame,
        *,
        counts: list[str],
        recompute: Callable[[pl.DataFrame], pl.DataFrame],
        derived: Mapping[str, Sequence[str]] | None = None,
    ) -> Published | None:
        """``table`` published (None when it is empty)."""
        if table.is_empty():
            return None
        return self.book.publish(table, counts=counts, derived=derived, recompute=recompute)

    @property
    def most(self) -> int:
        """The largest count that is suppressed."""
        return self.config.disclosure.suppress_below - 1

    def _all_suppressed(self, table: Published, dim: Dimension, column: str = "value") -> bool:
        rows = table.frame.filter(pl.col("dimension") == dim.name)
        return rows.is_empty() or rows.get_column(column).is_null().all()

    def _facets(
        self,
        table: Published,
        dim: Dimension,
        *,
        id: str,
        title: str,
        value_title: str,
        description: str,
        columns: Mapping[str, str],
        formats: Mapping[str, str | tuple[str, int]] | None = None,
    ) -> Any:
        """One dot chart per measure, by the groups of ``dim``."""
        order = self._order(dim)
        return self.book.figure(
            lambda d: charts.small_multiples(
                d, facet="measure_label", group="label", title=title, value_title=value_title, order=order
            ),
            id=id,
            title=title,
            description=description,
            data=table.where(pl.col("dimension") == dim.name),
            columns=columns,
            formats=formats,
        )

    # -- missing values -----------------------------------------------------------
    @cached_property
    def used_columns(self) -> list[str]:
        """Every measure column the page uses: conditions, true status, indicators, access."""
        used = list(self.caps.conditions)
        used += [f"{TRUTH_PREFIX}{c}" for c in self.caps.truth]
        for status in self.indicator_statuses:
            if status.shown:
                ind = status.indicator
                used += [*sql_columns(ind.denominator), *sql_columns(ind.numerator)]
        used += [a.measure.name for a in self.access_measures]
        used += [a.among.name for a in self.access_measures if a.among is not None]
        core = {"person_id", "age", "sex"}
        return [c for c in dict.fromkeys(used) if c in self.caps.columns and c not in core]

    @cached_property
    def missing(self) -> Published | None:
        """How many people have no value of each column the page uses, published."""
        table = missing_values(self.people, self.used_columns)
        if table.is_empty():
            return None
        labelled = table.with_columns(
            pl.col("column")
            .replace_strict(
                {c: _label_of(self.config, c) for c in self.used_columns}, default=pl.col("column")
            )
            .alias("label")
        )
        return self.book.publish(labelled, counts=["people", "missing"], by=["column"])

    @property
    def missing_text(self) -> str:
        """How many values are missing for each measure the page uses (a sentence, always)."""
        if self.missing is None:
            return "This page uses no measure beyond each person's age and groups."
        return missing_sentence(self.missing.frame, most=self.most)

    # -- recorded against expected --------------------------------------------
    @cached_property
    def observed_expected(self) -> Published | None:
        """Observed / expected recorded cases by group, published (None without conditions)."""
        dim = self.oe_dimension
        if dim is None or not self.caps.conditions:
            return None
        table = observed_expected(self.people, self.config, dimensions=[dim.name])
        if table.is_empty():
            return None
        labelled = table.with_columns(
            pl.col("measure")
            .replace_strict(
                {c: _label_of(self.config, c) for c in self.caps.conditions}, default=pl.col("measure")
            )
            .alias("measure_label")
        )
        recompute = partial(recompute_ratios, events="observed", population="expected", multiplier=1)
        return self._publish(labelled, counts=["observed", "population"], recompute=recompute)

    @property
    def oe_focus(self) -> str | None:
        """The condition the text quotes: hypertension, else CHD, else the first declared."""
        conditions = self.caps.conditions
        return next(
            (c for c in ("hypertension", "chd") if c in conditions), conditions[0] if conditions else None
        )

    @property
    def oe_text(self) -> str:
        """The focus condition's observed / expected ratio across the groups compared."""
        focus, oe, dim = self.oe_focus, self.observed_expected, self.oe_dimension
        if focus is None or oe is None or dim is None:
            return ""
        rows = oe.where(pl.col("measure") == focus).frame
        name = lower_first(_label_of(self.config, focus))
        pair = ends(dim)
        if pair is None:
            return (
                f"For {name}, recorded cases as a multiple of those expected are "
                f"{spread(rows, dim, dp=2, suffix=' times')}."
            )
        most, least = pair
        values = {
            r["level"]: r["value"] for r in rows.filter(pl.col("dimension") == dim.name).iter_rows(named=True)
        }
        a, b = values.get(most), values.get(least)
        na, nb = group_name(dim, most), group_name(dim, least)
        if a is None or b is None:
            return (
                f"For {name}, the ratio cannot be compared between {na} and {nb} because a group is too "
                "small to publish."
            )
        return (
            f"For {name}, {na} has {format_number(a, dp=2)} times the recorded cases expected from its "
            f"{self.standard}, and {nb} {format_number(b, dp=2)} times."
        )

    @property
    def oe_context(self) -> str:
        """How to read a ratio above or close to 1 along the dimension compared."""
        dim = self.oe_dimension
        tail = "a ratio close to 1 where the true burden is higher suggests missed diagnoses."
        if dim is None:
            return ""
        if not self.caps.has_truth:
            return NO_TRUTH_RATIO
        if dim.name == "imd_quintile":
            return (
                "A ratio above 1 in deprived areas is expected, because cardiovascular disease really is more "
                f"common there; {tail}"
            )
        if ends(dim) is not None:
            return (
                f"A ratio above 1 in the most disadvantaged {noun_of(dim)} is expected where these conditions "
                f"really are more common; {tail}"
            )
        return f"In any group, {tail}"

    def oe_figure(self) -> Any:
        """Observed / expected by the groups compared (the figure's markup), or None."""
        oe, dim = self.observed_expected, self.oe_dimension
        if oe is None or dim is None:
            return None
        noun = noun_of(dim)
        return self._facets(
            oe,
            dim,
            id="observed-expected",
            title=f"Observed / expected recorded cases by {noun}",
            value_title="Observed / expected (1 = as expected)",
            description=(
                "Dot charts, one per condition, of the ratio of observed to expected recorded cases with "
                f"95% confidence intervals for each {noun}. " + self.oe_text
            ),
            columns=ci_columns(
                "Observed / expected",
                measure_label="Condition",
                label=capitalise(noun),
                observed="Observed",
                expected="Expected",
            ),
            formats={"expected": ("number", 1), **VALUE_RATIO_FORMATS},
        )

    def expected_section(self) -> Any:
        """The observed / expected paragraph and figure, or why they are not shown."""
        if not self.caps.conditions:
            return self.skip(NO_CONDITIONS)
        dim, oe = self.oe_dimension, self.observed_expected
        if dim is None or oe is None:
            return self.skip(NO_DIMENSION.format(what=self.standard))
        subject = "The ratio of observed to expected recorded cases"
        if self._all_suppressed(oe, dim):
            return paragraph(ALL_SUPPRESSED.format(subject=subject, noun=noun_of(dim)))
        lead = (
            "The ratio of observed to expected (an indirectly standardised ratio) is shown in "
            f"@fig-observed-expected: above 1, more recorded disease than its {self.standard} predict; "
            "below 1, less."
        )
        return blocks(
            " ".join(t for t in (lead, self.oe_text, self.oe_context) if t),
            numbered(
                self.oe_figure(),
                label="fig-observed-expected",
                caption=(
                    f"Recorded cases as a ratio of the cases expected from {self.standard}, by {noun_of(dim)}"
                ),
            ),
        )

    # -- under-diagnosis --------------------------------------------------------
    @property
    def truth_text(self) -> str:
        """What the dataset's true status allows (nothing without it)."""
        if not self.caps.has_truth:
            return ""
        return TRUTH_TEXT if self.config.data.synthetic else TRUTH_LINKED

    @cached_property
    def detection(self) -> Published | None:
        """The share of people with each condition who are recorded, by every dimension present,
        published (None without truth)."""
        if not self.caps.has_truth or self.compared is None:
            return None
        table = detection(self.people, self.config, dimensions=[d.name for d in self.dimensions])
        if table.is_empty():
            return None
        labelled = table.with_columns(
            pl.col("measure")
            .replace_strict(
                {c: _label_of(self.config, c) for c in self.caps.truth}, default=pl.col("measure")
            )
            .alias("measure_label")
        )
        recompute = partial(recompute_shares, numerator="recorded", denominator="affected")
        return self._publish(labelled, counts=["recorded", "affected"], recompute=recompute)

    @property
    def detection_focus(self) -> str | None:
        """The condition the text quotes: hypertension, else the first with true status."""
        truth = self.caps.truth
        return "hypertension" if "hypertension" in truth else (truth[0] if truth else None)

    def detection_sentences(self, dim: Dimension) -> str:
        """The share recorded across the groups of ``dim``, for the focus condition."""
        focus, det = self.detection_focus, self.detection
        if focus is None or det is None:
            return ""
        name = lower_first(_label_of(self.config, focus))
        subject = f"the share of people with {name} who are recorded"
        return compare(det.where(pl.col("measure") == focus), dim, subject=subject)

    @property
    def detection_text(self) -> str:
        """The share recorded for the focus condition, by every dimension."""
        return " ".join(t for t in (self.detection_sentences(d) for d in self.dimensions) if t)

    def detection_figure(self) -> Any:
        """The share recorded by the groups compared (the figure's markup), or None."""
        det, dim = self.detection, self.compared
        if det is None or dim is None:
            return None
        noun = noun_of(dim)
        return self._facets(
            det,
            dim,
            id="detection",
            title="People with each condition who are recorded (%)",
            value_title="Recorded (% of people who have the condition)",
            description=(
                "Dot charts, one per condition, of the percentage of people who truly have the condition "
                f"and are recorded on a GP register, with 95% confidence intervals, by {noun}. "
                + self.detection_sentences(dim)
            ),
            columns=ci_columns(
                "Recorded (%)",
                measure_label="Condition",
                label=capitalise(noun),
                recorded="Recorded",
                affected="Have the condition",
            ),
        )

    def detection_table(self) -> Any:
        """The share recorded of every condition by every other dimension (the table's markup)."""
        det = self.detection
        names = [d.name for d in self.others]
        if det is None or not names:
            return None
        data = det.where(pl.col("dimension").is_in(names))
        data = data.sort(
            pl.col("dimension").replace_strict({n: k for k, n in enumerate(names)}, return_dtype=pl.Int64),
            "measure",
            "order",
            maintain_order=True,
        )
        return self.book.table(
            data.select(
                "dimension_label",
                "measure_label",
                "label",
                "recorded",
                "affected",
                "value",
                "lower_ci",
                "upper_ci",
            ),
            id="detection-groups",
            title=f"People with each condition who are recorded, by {self.others_text}",
            columns=ci_columns(
                "Recorded (%)",
                dimension_label="Compared by",
                measure_label="Condition",
                label="Group",
                recorded="Recorded",
                affected="Have the condition",
            ),
            formats=VALUE_PERCENT_FORMATS,
        )

    def detection_section(self) -> Any:
        """Under-diagnosis: the paragraph, figure and table, or why they are not shown."""
        det, dim = self.detection, self.compared
        if det is None or dim is None:
            return self.skip(NO_TRUTH)
        if self._all_suppressed(det, dim):
            return paragraph(
                f"{self.truth_text} " + ALL_SUPPRESSED.format(subject="The share recorded", noun=noun_of(dim))
            )
        table = self.detection_table()
        pointer = (
            f" @tbl-detection-groups gives every condition by {self.others_text}."
            if table is not None
            else ""
        )
        return blocks(
            f"{self.truth_text} {self.detection_text}{pointer}",
            numbered(
                self.detection_figure(),
                label="fig-detection",
                caption=f"Share of people with each condition who are recorded, by {noun_of(dim)}",
            ),
            numbered(
                table,
                label="tbl-detection-groups",
                caption=f"Share of people with each condition who are recorded, by {self.others_text}",
            )
            if table is not None
            else None,
        )

    # -- indicators ---------------------------------------------------------------
    @cached_property
    def indicator_statuses(self) -> list[IndicatorStatus]:
        """Each indicator of the config with whether the dataset supports it (not those of section
        ``experience``: the experience chapter shows them)."""
        return [s for s in indicator_status(self.people, self.config) if s.indicator.section != "experience"]

    @property
    def shown_indicators(self) -> list[Indicator]:
        """The indicators the dataset supports, in the config's order."""
        return [s.indicator for s in self.indicator_statuses if s.shown]

    @cached_property
    def indicator_labels(self) -> dict[str, str]:
        """Each indicator's label as this dataset can give it (by name): the config's, except that an
        indicator with optional columns the dataset lacks (counted as false) keeps the label's words
        before its brackets and names the columns its eligibility rests on here ("Statin prescribed
        (eligibility from coronary heart disease and diabetes only)"), not conditions the data has no
        column for."""
        return indicator_labels(self.indicator_statuses, self.config)

    def indicator_label(self, ind: Indicator) -> str:
        """:attr:`indicator_labels` of one indicator."""
        return self.indicator_labels.get(ind.name, ind.label)

    @cached_property
    def indicators(self) -> Published | None:
        """Every proportion indicator the dataset supports by every dimension present, crude and
        indirectly standardised for age and sex (:func:`standardised_indicators`), published."""
        if not self.shown_indicators or not self.caps.dimensions:
            return None
        table = standardised_indicators(
            self.people,
            self.config,
            names=[i.name for i in self.shown_indicators],
            dimensions=list(self.caps.dimension_names),
        )
        if table.is_empty():
            return None
        labels = self.indicator_labels
        table = table.filter(pl.col("denominator") > 0).with_columns(
            pl.col("measure").replace_strict(labels, default=pl.col("measure_label")).alias("measure_label")
        )
        return self._publish(
            table,
            counts=["numerator", "denominator", "excluded"],
            derived=STANDARDISED_DERIVED,
            recompute=recompute_standardised,
        )

    @cached_property
    def excluded(self) -> Published | None:
        """The people each indicator leaves out for a missing numerator, published (one count each:
        a null is a count of 1 to 7)."""
        if not self.shown_indicators:
            return None
        names = [i.name for i in self.shown_indicators]
        table = indicator_totals(self.people, self.config, names=names).select(
            "measure", "measure_label", "excluded"
        )
        if table.is_empty():
            return None
        return self.book.publish(table, counts=["excluded"], by=["measure"])

    @property
    def treatment_only(self) -> bool:
        """Whether every indicator shown is a treatment percentage (the profile's are)."""
        shown = self.shown_indicators
        return bool(shown) and all(
            i.section == "treatment" and i.kind == "proportion" and i.multiplier == 100 for i in shown
        )

    @property
    def percentages(self) -> bool:
        """Whether every indicator shown is a percentage."""
        return all(i.kind == "proportion" and i.multiplier == 100 for i in self.shown_indicators)

    def _suffix(self, ind: Indicator) -> str:
        if ind.kind == "proportion" and ind.multiplier == 100:
            return "%"
        return f" per {format_number(ind.multiplier, style='integer')}"

    @property
    def rules_text(self) -> str:
        """What each indicator shown counts, from its description."""
        return describe_indicators(self.shown_indicators)

    @property
    def excluded_text(self) -> str:
        """The people each indicator leaves out for a missing numerator (nothing when none)."""
        totals = self.excluded
        if totals is None:
            return ""
        out = []
        for ind in self.shown_indicators:
            row = totals.row(measure=ind.name)
            if row is None or row["excluded"] == 0:
                continue
            names = [lower_first(_label_of(self.config, c)) for c in sql_columns(ind.numerator)]
            out.append(
                excluded_sentence(
                    self.indicator_label(ind), join(names, conjunction="or"), row["excluded"], most=self.most
                )
            )
        return " ".join(out)

    @property
    def indicator_note_text(self) -> str:
        """Indicators the dataset cannot give, and optional columns counted as false (or nothing)."""
        parts = []
        absent = [s for s in self.indicator_statuses if s.shown and s.absent]
        for s in absent:
            names = [f"no {lower_first(_label_of(self.config, c))} column" for c in s.absent]
            parts.append(
                f"This dataset has {join(names)}. The profile's indicator "
                f"{lower_first(s.indicator.label)} counts nobody as having {'it' if len(names) == 1 else 'them'}, "
                "so its eligibility rests on the columns it does have: it is labelled "
                f"{lower_first(self.indicator_label(s.indicator))} here."
            )
        missing = [s for s in self.indicator_statuses if not s.shown]
        if missing:
            listed = "; ".join(f"{lower_first(s.indicator.label)} ({self._reason(s)})" for s in missing)
            parts.append(f"Not shown, because this dataset cannot give them: {listed}.")
        return " ".join(parts)

    def _reason(self, status: IndicatorStatus) -> str:
        """Why an indicator is not shown, naming the columns it lacks by their labels ("needs
        heart failure, stroke or TIA ... columns"), not their names in the data."""
        reason, ind = status.reason or "", status.indicator
        if not reason.startswith("needs "):
            return reason
        used = dict.fromkeys((*sql_columns(ind.denominator), *sql_columns(ind.numerator)))
        present = set(self.people.collect_schema())
        lacking = [c for c in used if c not in present]
        required = [c for c in lacking if c not in ind.optional]
        labels = [lower_first(_label_of(self.config, c)) for c in (required or lacking)]
        if not labels:
            return reason
        columns = "column" if len(labels) == 1 else "columns"
        if required:
            return f"needs the {join(labels)} {columns}, which this dataset does not have"
        return f"needs at least one of the {join(labels, conjunction='or')} columns, which this dataset does not have"

    def _standardised_by(self, dim: Dimension) -> str:
        """How a dimension's indicator values are standardised, in words."""
        by = [p for p, column in (("age", "age_band"), ("sex", "sex")) if column != dim.name]
        if not self.caps.has("sex"):
            by = [p for p in by if p != "sex"]
        return f"standardised for {join(by)}" if by else "crude (nothing to standardise for)"

    def indicator_sentences(self, ind: Indicator, dim: Dimension) -> str:
        """One indicator compared across the groups of ``dim``, standardised (with intervals)."""
        table = self.indicators
        if table is None:
            return ""
        return compare(
            table.where(pl.col("measure") == ind.name),
            dim,
            subject=f"{lower_first(self.indicator_label(ind))}, {self._standardised_by(dim)},",
            suffix=self._suffix(ind),
            standardised=("ratio", "ratio_lower", "ratio_upper"),
        )

    def ends_method(self, dim: Dimension) -> str:
        """How the two ends of ``dim`` are compared (after the first sentence comparing them), or ""
        when ``dim`` has no ends: each against everyone's rates, the interval of their difference
        from the two groups' own intervals, so a reader can tell it from a comparison of one end at
        the other's rates (the book's summary and Where to act)."""
        pair = ends(dim)
        if pair is None:
            return ""
        a, b = (group_name(dim, level) for level in pair)
        return INDICATOR_ENDS_METHOD.format(
            a=capitalise(a), b=b, own=lower_first(a), strata=self._strata(dim)
        )

    def _strata(self, dim: Dimension) -> str:
        """The strata a dimension's groups are standardised over: "age band and sex"."""
        by = [p for p, column in (("age band", "age_band"), ("sex", "sex")) if column != dim.name]
        if not self.caps.has("sex"):
            by = [p for p in by if p != "sex"]
        return join(by)

    @property
    def indicator_text(self) -> str:
        """Each indicator across the groups of every dimension; after the first sentence comparing
        the two ends of a dimension, how that comparison is made (:meth:`ends_method`)."""
        out: list[str] = []
        said = False
        for i in self.shown_indicators:
            for d in self.dimensions:
                t = self.indicator_sentences(i, d)
                if not t:
                    continue
                out.append(t)
                if not said and ends(d) is not None and "a difference of" in t:
                    out.append(self.ends_method(d))
                    said = True
        return " ".join(t for t in out if t)

    @property
    def standardised_text(self) -> str:
        """Why the indicators are compared standardised."""
        if self.indicators is None:
            return ""
        return (
            "Who is eligible, and how often treatment reaches its goal, can change with age and sex, so "
            "groups' crude rates can differ only because their ages differ. Each indicator is therefore "
            "compared after indirect standardisation: a group's value is its observed number over the "
            "number expected from the rates of its age band and sex across everyone, times the overall "
            "rate (the sexes are standardised for age only, the age bands for sex only). The crude rates "
            "are in the tables."
        )

    def _indicator_title(self, dim: Dimension) -> str:
        if self.treatment_only:
            return "Eligible people treated, standardised (%)"
        return f"Indicators by {noun_of(dim)}, standardised"

    def indicator_figure(self) -> Any:
        """Every indicator, standardised, by the groups compared (the figure's markup), or None."""
        table, dim = self.indicators, self.compared
        if table is None or dim is None:
            return None
        noun = noun_of(dim)
        value = "Treated, standardised (%)" if self.treatment_only else "Standardised value"
        return self._facets(
            table.select(*STANDARDISED_DATA),
            dim,
            id="treatment",
            title=self._indicator_title(dim),
            value_title=(
                f"Treated or controlled (% of eligible, {self._standardised_by(dim)})"
                if self.treatment_only
                else f"Value ({self._standardised_by(dim)})"
            ),
            description=(
                "Dot charts, one per indicator, of each indicator's value "
                f"{self._standardised_by(dim)}, with 95% confidence intervals, by {noun}. "
                + " ".join(self.indicator_sentences(i, dim) for i in self.shown_indicators)
            ),
            columns=ci_columns(
                value,
                measure_label="Indicator",
                label=capitalise(noun),
                numerator="Met the indicator",
                denominator="Eligible",
                crude="Crude (%)" if self.percentages else "Crude",
            ),
            formats={"crude": ("number", 1)} if not self.percentages else {"crude": ("percent", 1)},
        )

    @property
    def others(self) -> list[Dimension]:
        """The dimensions present other than the one compared: the tables'."""
        compared = self.compared.name if self.compared is not None else None
        return [d for d in self.caps.dimensions if d.name != compared]

    @property
    def others_text(self) -> str:
        """The other dimensions' nouns: "ethnic group, sex, age band and locality"."""
        return join([noun_of(d) for d in self.others])

    def indicator_table(self) -> Any:
        """Every indicator, crude and standardised, by every other dimension (the table's markup)."""
        table = self.indicators
        names = [d.name for d in self.others]
        if table is None or not names:
            return None
        data = table.where(pl.col("dimension").is_in(names))
        if data.frame.is_empty():
            return None
        measures = {i.name: k for k, i in enumerate(self.shown_indicators)}
        data = data.sort(  # the config's order: dimensions, then indicators, then levels
            pl.col("dimension").replace_strict({n: k for k, n in enumerate(names)}, return_dtype=pl.Int64),
            pl.col("measure").replace_strict(measures, default=len(measures), return_dtype=pl.Int64),
            "order",
            maintain_order=True,
        )
        percent = self.percentages
        formats = {
            **(VALUE_PERCENT_FORMATS if percent else VALUE_NUMBER_FORMATS),
            "crude": ("percent", 1) if percent else ("number", 1),
        }
        return self.book.table(
            data.select(*STANDARDISED_DATA),
            id="treatment-groups",
            title=f"Indicators by {self.others_text}, crude and standardised",
            columns=ci_columns(
                "Standardised (%)" if percent else "Standardised",
                measure_label="Indicator",
                dimension_label="Compared by",
                label="Group",
                numerator="Met the indicator",
                denominator="Eligible",
                excluded="Left out (no value)",
                crude="Crude (%)" if percent else "Crude",
            ),
            formats=formats,
        )

    def indicator_section(self) -> Any:
        """The indicators: heading, what they count, their gaps, the figure and the table."""
        title = "Treatment among the eligible" if self.treatment_only else "Indicators"
        head = heading(title, id="sec-access-treatment")
        table, dim = self.indicators, self.compared
        note_text = self.indicator_note_text
        if table is None or dim is None:
            reason = NO_INDICATORS if table is None else NO_DIMENSION.format(what="age")
            return blocks(head, self.skip(reason + (f". {note_text}" if note_text else "")))
        intro = " ".join(
            t for t in (self.rules_text, self.standardised_text, self.indicator_text, self.excluded_text) if t
        )
        parts: list[Any] = [head, intro, note(note_text) if note_text else None]
        if self._all_suppressed(table, dim):
            parts.append(ALL_SUPPRESSED.format(subject="Each indicator", noun=noun_of(dim)))
        else:
            caption = (
                f"Treatment among eligible people, {self._standardised_by(dim)}, by {noun_of(dim)}"
                if self.treatment_only
                else f"Each indicator among the people it applies to, {self._standardised_by(dim)}, by {noun_of(dim)}"
            )
            parts.append(numbered(self.indicator_figure(), label="fig-treatment", caption=caption))
        shown = self.indicator_table()
        if shown is not None:
            what = "Treatment among eligible people" if self.treatment_only else "Indicators"
            parts.append(
                numbered(
                    shown,
                    label="tbl-treatment-groups",
                    caption=f"{what}, crude and standardised, by {self.others_text}",
                )
            )
            parts.append(
                f"@tbl-treatment-groups gives the same indicators, crude and standardised, by {self.others_text}."
            )
        return blocks(*parts)

    # -- treatment among everyone truly affected --------------------------------------
    @cached_property
    def treated_true(self) -> Published | None:
        """The share of everyone who truly has the condition of :data:`TREATED_AMONG_TRUE` who has its
        treatment, by every dimension present, published (None without the columns)."""
        condition, treatment = TREATED_AMONG_TRUE
        if not self.caps.has_truth or self.compared is None or condition not in self.caps.truth:
            return None
        if treatment not in self.caps.columns:
            return None
        table = treated_among_true(
            self.people,
            self.config,
            condition=condition,
            treatment=treatment,
            dimensions=[d.name for d in self.dimensions],
        )
        if not table.is_empty():
            table = table.filter(pl.col("affected") > 0)  # no one with the condition: nothing to show
        recompute = partial(recompute_shares, numerator="treated", denominator="affected")
        return self._publish(table, counts=["treated", "affected"], recompute=recompute)

    def _treated_true_words(self) -> tuple[str, str]:
        condition, treatment = TREATED_AMONG_TRUE
        name = lower_first(_label_of(self.config, treatment))
        article = "an" if name[:1] in "aeiou" else "a"
        return lower_first(_label_of(self.config, condition)), f"{article} {name}"

    def treated_true_sentences(self, dim: Dimension) -> str:
        """The share treated among everyone truly affected, across the groups of ``dim``."""
        table = self.treated_true
        if table is None:
            return ""
        condition, treatment = self._treated_true_words()
        return compare(
            table,
            dim,
            subject=f"the share of people who truly have {condition} who are prescribed {treatment}",
        )

    @property
    def treated_true_text(self) -> str:
        """The lead and one comparison per dimension (nothing without the columns)."""
        if self.treated_true is None:
            return ""
        condition, treatment = self._treated_true_words()
        sentences = " ".join(t for t in (self.treated_true_sentences(d) for d in self.dimensions) if t)
        return f"{TREATED_TRUE_LEAD.format(condition=condition, treatment=treatment)} {sentences}"

    def treated_true_table(self) -> Any:
        """The share treated among everyone truly affected, by every group (the table's markup)."""
        table = self.treated_true
        if table is None:
            return None
        condition, treatment = self._treated_true_words()
        return self.book.table(
            self._sorted(table).select(
                "dimension_label", "label", "treated", "affected", "value", "lower_ci", "upper_ci"
            ),
            id="treated-true",
            title=f"Everyone who truly has {condition}: prescribed {treatment}, by every group",
            columns=ci_columns(
                "Prescribed (%)",
                dimension_label="Compared by",
                label="Group",
                treated=f"Prescribed {treatment.split(' ', 1)[1]}",
                affected=f"Truly have {condition}",
            ),
            formats=VALUE_PERCENT_FORMATS,
        )

    def treated_true_section(self) -> Any:
        """Treatment among everyone who truly has the condition: heading, sentences and table, or
        None without true status (the under-diagnosis section already says so)."""
        if self.treated_true is None:
            return None
        condition, _ = self._treated_true_words()
        return blocks(
            heading(f"Treatment among everyone with {condition}", id="sec-access-treated-true", level=3),
            self.treated_true_text,
            numbered(
                self.treated_true_table(),
                label="tbl-treated-true",
                caption=f"Everyone who truly has {condition}, recorded or not: share prescribed treatment, by every group",
            ),
        )

    # -- access measures -------------------------------------------------------------
    @cached_property
    def dimensions(self) -> list[Dimension]:
        """Every dimension present, in the config's order."""
        return list(self.caps.dimensions)

    @cached_property
    def access_measures(self) -> list[AccessMeasure]:
        """The access measures the dataset has (flags, counts, days), in the config's order (a
        count's events may happen only to the people of an access or experience flag)."""
        return shown_measures(self.people, self.config, self.caps, kinds=["access"])

    @property
    def measures(self) -> list[AccessMeasure]:
        """The measures :class:`~healthgap.pages._blocks.MeasureSections` shows: the access ones."""
        return self.access_measures

    @property
    def access_tables(self) -> dict[str, Published]:
        """Each access measure by every dimension present, published (by measure name)."""
        return self.tables

    def access_text(self, a: AccessMeasure) -> str:
        """The sentences comparing one access measure across the groups of every dimension."""
        return self.measure_text(a)

    # -- referral against need ------------------------------------------------------------
    @cached_property
    def need_conditions(self) -> list[str]:
        """The recorded conditions that make a referral needed (the severity proxy's conditions)."""
        return [c for c in self.caps.conditions if c not in NOT_NEED]

    @cached_property
    def need_tables(self) -> dict[str, Published]:
        """Each access flag among the people in need, observed against expected, by every
        dimension, published (by measure name)."""
        names = [d.name for d in self.dimensions]
        out: dict[str, Published] = {}
        if not names or not self.need_conditions:
            return out
        for a in self.access_measures:
            if a.measure.type != "flag":
                continue
            table = against_need(
                self.people, self.config, measure=a.measure.name, need=self.need_conditions, dimensions=names
            )
            recompute = partial(recompute_ratios, events="observed", population="expected", multiplier=1)
            published = self._publish(
                table,
                counts=["observed", "population"],
                derived={"observed": ["value", "lower_ci", "upper_ci"], "population": ["expected"]},
                recompute=recompute,
            )
            if published is not None:
                out[a.measure.name] = published
        return out

    def _standardised_for(self, dim: Dimension) -> str:
        """What a dimension's groups are standardised for: "age, sex and recorded conditions"."""
        parts = [
            p
            for p, column in (("age", "age_band"), ("sex", "sex"))
            if column != dim.name and (column == "age_band" or self.caps.has("sex"))
        ]
        return join([*parts, "recorded conditions"])

    def need_sentences(self, a: AccessMeasure, dim: Dimension) -> str:
        """One dimension's comparison of an access flag against need (ratios with intervals)."""
        table = self.need_tables.get(a.measure.name)
        if table is None:
            return ""
        return compare(
            table,
            dim,
            subject=(
                f"{a.name} among people with a recorded condition, as a ratio of that expected from their "
                f"{self._standardised_for(dim)},"
            ),
            dp=2,
            suffix="",
            unit="",
            scale="ratio",
        )

    def need_text(self, a: AccessMeasure) -> str:
        """The sentences comparing an access flag against need, one dimension after another."""
        return " ".join(t for t in (self.need_sentences(a, d) for d in self.dimensions) if t)

    def need_ends_sentence(self, a: AccessMeasure) -> str:
        """The most against the least disadvantaged group's observed / expected ratio, as a ratio of
        the two with its interval (the number a truth check compares with an injected effect), or ""
        when the compared dimension has no ends or either is not published."""
        table, dim = self.need_tables.get(a.measure.name), self.compared
        pair = None if dim is None else ends(dim)
        if table is None or dim is None or pair is None:
            return ""
        rows = table.frame.filter(
            (pl.col("dimension") == dim.name)
            & pl.col(LEVEL).is_in(list(pair))
            & pl.col("observed").is_not_null()
            & (pl.col("expected") > 0)
        )
        if rows.height < 2 or rows["observed"].min() == 0:
            return ""
        rr = rate_ratio(rows, events="observed", population="expected", group=LEVEL, reference=pair[1])
        r = rr.filter(pl.col(LEVEL) == pair[0]).row(0, named=True)
        if r["value"] is None or r["lower_ci"] is None or r["upper_ci"] is None:
            return ""
        chance = "" if r["lower_ci"] > 1 or r["upper_ci"] < 1 else ", which could be chance"
        return (
            f"Against their need, {group_name(dim, pair[0], people=True)} had {ratio(r['value'])} times "
            f"the {a.name} of {group_name(dim, pair[1], people=True)} "
            f"({interval(r['lower_ci'], r['upper_ci'])}){chance}."
        )

    def need_figure(self, a: AccessMeasure) -> Any:
        """An access flag against need by the groups compared (the figure's markup), or None."""
        table, dim = self.need_tables.get(a.measure.name), self.compared
        if table is None or dim is None:
            return None
        noun = noun_of(dim)
        order = self._order(dim)
        title = f"{a.measure.label} against need by {noun}"
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                group="label",
                title=title,
                order=order,
                reference=1.0,
                reference_label="as expected",
                value_title="Observed / expected (1 = as expected for the need)",
                group_title=capitalise(noun),
            ),
            id=f"access-{a.slug}-need",
            title=title,
            description=(
                f"Dot chart with 95% confidence intervals of {a.name} among people with a recorded condition, "
                f"observed over expected, by {noun}. " + self.need_sentences(a, dim)
            ),
            data=table.where(pl.col("dimension") == dim.name).select(*NEED_DATA),
            columns=ci_columns(
                "Observed / expected",
                label=capitalise(noun),
                observed=a.measure.label,
                population="People with a recorded condition",
                expected="Expected",
            ),
            formats={"expected": ("number", 1), **VALUE_RATIO_FORMATS},
        )

    def need_table(self, a: AccessMeasure) -> Any:
        """An access flag against need by every dimension present (the table's markup), or None."""
        table = self.need_tables.get(a.measure.name)
        if table is None:
            return None
        return self.book.table(
            self._sorted(table).select("dimension_label", *NEED_DATA),
            id=f"access-{a.slug}-need-groups",
            title=f"{a.measure.label} against need by {join([noun_of(d) for d in self.dimensions])}",
            columns=ci_columns(
                "Observed / expected",
                dimension_label="Compared by",
                label="Group",
                observed=a.measure.label,
                population="People with a recorded condition",
                expected="Expected",
            ),
            formats={"expected": ("number", 1), **VALUE_RATIO_FORMATS},
        )

    def need_blocks(self, a: AccessMeasure) -> list[Any]:
        """The 'against need' subsection of an access flag (nothing when it cannot be computed)."""
        table, dim = self.need_tables.get(a.measure.name), self.compared
        if table is None or dim is None:
            return []
        head = heading(f"{a.measure.label} against need", id=f"sec-access-{a.slug}-need", level=3)
        if self._all_suppressed(table, dim):
            return [
                head,
                ALL_SUPPRESSED.format(subject=f"{capitalise(a.name)} against need", noun=noun_of(dim)),
            ]
        conditions = join(
            [lower_first(_label_of(self.config, c)) for c in self.need_conditions], conjunction="or"
        )
        cells = join(["age band", *(["sex"] if self.caps.has("sex") else [])])
        lead = (
            f"A group with more illness needs more {a.name}. Among the people with a recorded {conditions}, "
            f"each person's chance of {a.name} is estimated from their {cells} and each of their recorded "
            "conditions (the severity proxy: a logistic regression fitted on everyone with a recorded "
            "condition, with no term for any group compared), and each group's observed number is "
            "compared with the sum of its people's chances: below 1, less than their need predicts. "
            f"@fig-access-{a.slug}-need shows it by {noun_of(dim)}; "
            f"@tbl-access-{a.slug}-need-groups by every group."
        )
        return [
            head,
            " ".join(t for t in (lead, self.need_text(a), self.need_ends_sentence(a)) if t),
            numbered(
                self.need_figure(a),
                label=f"fig-access-{a.slug}-need",
                caption=f"{a.measure.label} among people with a recorded condition, observed / expected, by {noun_of(dim)}",
            ),
            numbered(
                self.need_table(a),
                label=f"tbl-access-{a.slug}-need-groups",
                caption=f"{a.measure.label} against need, by every group compared",
            ),
        ]

    @property
    def experience_text(self) -> str:
        """Where the experience measures the dataset has are shown (nothing when it has none)."""
        measures = [
            lower_first(m.label) for m in self.config.measures_of("experience") if m.name in self.caps.columns
        ]
        return EXPERIENCE_POINTER.format(listed=join(measures)) if measures else ""

    def access_sections(self) -> Any:
        """One section per access measure (heading, sentences, figure, table, and a flag against
        need), or why none; then where the experience measures are."""
        dim = self.compared
        pointer = self.experience_text or None
        if not self.access_measures:
            return blocks(
                heading("Access to services", id="sec-access-services"), self.skip(NO_ACCESS), pointer
            )
        parts: list[Any] = []
        for a in self.access_measures:
            parts.append(heading(a.measure.label, id=f"sec-access-{a.slug}"))
            if self.tables.get(a.measure.name) is None or dim is None:
                parts.append(self.skip(NO_DIMENSION.format(what="age")))
                continue
            parts.extend(self.measure_blocks(a))
            parts.extend(self.need_blocks(a))
        parts.append(pointer)
        return blocks(*parts)
