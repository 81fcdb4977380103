"""Chapter "Access and treatment": who is found, who is treated, who waits.

Each analysis of :mod:`healthgap.descriptive.access` returns exact aggregates;
the page publishes each once (percentages and ratios recomputed from the
published counts by :func:`~healthgap.descriptive.access.recompute_shares` and
:func:`~healthgap.descriptive.access.recompute_ratios`) and builds its figure,
table and sentences from that :class:`~healthgap.disclosure.Published` frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension
from healthgap.contract import CONDITION_LABELS
from healthgap.descriptive.access import (
    EIGHTEEN_WEEKS,
    STATIN_ALWAYS,
    STATIN_FROM_40,
    detection,
    missed,
    observed_expected,
    recompute_ratios,
    recompute_shares,
    treatment,
    waits,
)
from healthgap.disclosure import Published
from healthgap.pages.base import CI_COLUMNS, Page, ci_columns
from healthgap.pages.sentences import fmt, gap_sentence, value_of
from healthgap.text import lower_first

__all__ = [
    "AccessTreatmentPage",
    "OE_COLUMNS",
    "DETECTION_COLUMNS",
    "TREATMENT_COLUMNS",
    "TREATMENT_SUBJECTS",
    "WAITS_COLUMNS",
    "MISSED_COLUMNS",
    "TRUTH_TEXT",
    "MISSED_INTRO",
]

IMD = "imd_quintile"
#: The dimensions the chapter compares.
DIMENSIONS = (IMD, "ethnicity")

#: Ratios (observed / expected) and their intervals are shown to 2 decimal places, as in the text.
VALUE_RATIO_FORMATS: dict[str, str | tuple[str, int]] = {c: ("ratio", 2) for c in ("value", *CI_COLUMNS)}
#: Percentages and their intervals to 1 decimal place.
VALUE_PERCENT_FORMATS: dict[str, str | tuple[str, int]] = {c: ("percent", 1) for c in ("value", *CI_COLUMNS)}

OE_COLUMNS = ci_columns(
    "Observed / expected",
    measure_label="Condition",
    label="Deprivation fifth",
    observed="Observed",
    expected="Expected",
)
DETECTION_COLUMNS = ci_columns(
    "Recorded (%)",
    measure_label="Condition",
    label="Deprivation fifth",
    recorded="Recorded",
    affected="Have the condition",
)
TREATMENT_COLUMNS = ci_columns(
    "Treated (%)", measure_label="Measure", label="Deprivation fifth", treated="Treated", eligible="Eligible"
)
TREATMENT_ETHNICITY_COLUMNS = ci_columns(
    "Treated (%)", measure_label="Measure", label="Ethnic group", treated="Treated", eligible="Eligible"
)
#: The columns of the treatment by ethnic group table (and its download).
TREATMENT_ETHNICITY_DATA = (
    "dimension",
    "measure",
    "measure_label",
    "level",
    "label",
    "treated",
    "eligible",
    "value",
    "lower_ci",
    "upper_ci",
)
#: Each treatment measure and how a sentence names it.
TREATMENT_SUBJECTS = (
    ("statin", "statin prescribing among eligible people"),
    ("anticoagulant", "anticoagulation among eligible people with AF"),
    ("bp_control", "blood pressure control in treated hypertension"),
)
#: How the chapter states each treatment's eligibility rule (statins: built from the conditions present).
RULES = {
    "anticoagulant": (
        "anticoagulation for people with atrial fibrillation and a CHA₂DS₂-VASc score of 2 or "
        "more (3 or more for women)"
    ),
    "bp_control": (
        "blood pressure control (a last systolic blood pressure below 140 mmHg) for people treated "
        "for hypertension"
    ),
}
WAITS_COUNTS = ["seen", "over_18_weeks"]
#: The mean and median wait derive from the people seen; the share from both counts.
WAITS_DERIVED = {
    "seen": ["median_days", "mean_days", "value", "lower_ci", "upper_ci"],
    "over_18_weeks": ["value", "lower_ci", "upper_ci"],
}
WAITS_DATA = (
    "dimension",
    "level",
    "label",
    "seen",
    "over_18_weeks",
    "median_days",
    "mean_days",
    "value",
    "lower_ci",
    "upper_ci",
)
WAITS_COLUMNS = ci_columns(
    "Over 18 weeks (%)",
    label="Deprivation fifth",
    seen="People seen",
    median_days="Median wait (days)",
    mean_days="Mean wait (days)",
    over_18_weeks="Waited over 18 weeks",
)
MISSED_DATA = ("dimension", "level", "label", "events", "population", "value", "lower_ci", "upper_ci")
MISSED_COLUMNS = ci_columns(
    "Per 100 referred",
    label="Deprivation fifth",
    events="Missed appointments",
    population="People referred",
)

TRUTH_TEXT = (
    "This dataset includes each person's true status (it is synthetic, so the truth is known), so we can "
    "measure under-diagnosis directly: the share of people who truly have each condition who are on a GP "
    "register."
)
MISSED_INTRO = (
    "Missed appointments are often read as patients' choices, but travel costs, shift work, caring "
    "duties and letters that do not reach people all play a part, and these weigh more heavily in "
    "deprived areas."
)
NO_TRUTH = (
    "columns saying who truly has each condition, so under-diagnosis cannot be measured directly; it can "
    "only be inferred from the observed/expected ratios above"
)


def _listed(names: Sequence[str], *, last: str = "and") -> str:
    """'a', 'a or b', 'a, b, or c': the serial comma keeps 'stroke or TIA' in one piece.

    (:func:`healthgap.text.join` leaves the serial comma out, which would read "CHD, stroke
    or TIA or PAD".)
    """
    if len(names) < 3:
        return f" {last} ".join(names)
    return ", ".join(names[:-1]) + f", {last} " + names[-1]


def _labelled(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with ``measure_label`` (the condition's label) when it has none."""
    if "measure" not in table.columns or "measure_label" in table.columns:
        return table
    return table.with_columns(
        pl.col("measure").replace_strict(CONDITION_LABELS, default=pl.col("measure")).alias("measure_label")
    )


class AccessTreatmentPage(Page):
    """The access and treatment chapter."""

    slug = "access-treatment"

    # -- the groups compared --------------------------------------------------
    @cached_property
    def dimensions(self) -> list[str]:
        """The dimensions compared that the dataset has (deprivation, ethnic group)."""
        return [d for d in DIMENSIONS if self.caps.dimension(d) is not None]

    @property
    def imd(self) -> Dimension | None:
        """The deprivation dimension, or None."""
        return self.caps.dimension(IMD)

    @property
    def imd_labels(self) -> list[str]:
        """The deprivation fifths' labels, most deprived first."""
        return [self.imd.label_of(x) for x in self.imd.order] if self.imd else []

    @property
    def most(self) -> str:
        """The most deprived fifth's level."""
        return self.imd.order[0] if self.imd else ""

    @property
    def least(self) -> str:
        """The least deprived fifth's level."""
        return self.imd.order[-1] if self.imd else ""

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

    def _gap(self, table: Published, **kwargs: Any) -> str:
        """:func:`gap_sentence` between the most and the least deprived fifths."""
        return gap_sentence(table, level=self.most, reference=self.least, dimension=IMD, **kwargs)

    def _facets(
        self,
        table: Published,
        *,
        id: str,
        title: str,
        value_title: str,
        description: str,
        columns: Mapping[str, str],
        formats: Mapping[str, str | tuple[str, int]] | None = None,
    ) -> Any:
        """One dot chart per measure, by deprivation fifth."""
        order = self.imd_labels
        return self.book.figure(
            lambda d: charts.small_multiples(
                d, facet="measure_label", group="label", title=title, value_title=value_title, order=order
            ),
            id=id,
            title=title,
            description=description,
            data=table.where(pl.col("dimension") == IMD),
            columns=columns,
            formats=formats,
        )

    def _bars(
        self,
        table: Published,
        *,
        id: str,
        title: str,
        chart_title: str,
        value_title: str,
        description: str,
        data: Sequence[str],
        columns: Mapping[str, str],
    ) -> Any:
        """A bar chart with 95% intervals by deprivation fifth (waits, missed appointments)."""
        order = self.imd_labels
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                group="label",
                title=chart_title,
                mark="bar",
                order=order,
                value_title=value_title,
                group_title="Deprivation fifth",
            ),
            id=id,
            title=title,
            description=description,
            data=table.where(pl.col("dimension") == IMD).select(*data),
            columns=columns,
        )

    # -- recorded against expected --------------------------------------------
    @cached_property
    def observed_expected(self) -> Published | None:
        """Observed / expected recorded cases by group, published (None without the dimensions)."""
        if not self.dimensions or not self.caps.conditions:
            return None
        table = observed_expected(self.people, self.config, dimensions=self.dimensions)
        recompute = partial(recompute_ratios, events="observed", population="expected", multiplier=1)
        return self._publish(_labelled(table), counts=["observed", "population"], recompute=recompute)

    @property
    def oe_focus(self) -> str | None:
        """The condition the text quotes: hypertension, else CHD."""
        return next((c for c in ("hypertension", "chd") if c in self.caps.conditions), None)

    @property
    def oe_text(self) -> str:
        """The focus condition's observed / expected ratio in the two end fifths, or nothing."""
        focus, oe = self.oe_focus, self.observed_expected
        if focus is None or self.imd is None or oe is None:
            return ""
        most = value_of(oe, self.most, measure=focus, dimension=IMD)
        least = value_of(oe, self.least, measure=focus, dimension=IMD)
        return (
            f"For {lower_first(CONDITION_LABELS[focus])}, the most deprived fifth has {fmt(most, 2)} times "
            f"the recorded cases expected from its age and sex, and the least deprived fifth {fmt(least, 2)} "
            "times."
        )

    def oe_figure(self) -> Any:
        """Observed / expected by deprivation fifth, or a skip note."""
        if self.imd is None or self.observed_expected is None:
            return self.skip("deprivation (IMD) column")
        return self._facets(
            self.observed_expected,
            id="observed-expected",
            title="Observed / expected recorded cases by deprivation fifth",
            value_title="Observed / expected (1 = as expected)",
            description=(
                "Dot charts, one per condition, of the ratio of observed to expected recorded cases with "
                "95% confidence intervals for each deprivation fifth. " + self.oe_text
            ),
            columns=OE_COLUMNS,
            formats={"expected": ("number", 1), **VALUE_RATIO_FORMATS},
        )

    # -- under-diagnosis --------------------------------------------------------
    @property
    def truth_text(self) -> str:
        """What the dataset's true status allows (nothing without it)."""
        return TRUTH_TEXT if self.caps.has_truth else ""

    @cached_property
    def detection(self) -> Published | None:
        """The share of people with each condition who are recorded, published (None without truth)."""
        if not self.caps.has_truth or not self.dimensions:
            return None
        table = detection(self.people, self.config, dimensions=self.dimensions)
        recompute = partial(recompute_shares, numerator="recorded", denominator="affected")
        return self._publish(_labelled(table), counts=["recorded", "affected"], recompute=recompute)

    @property
    def detection_focus(self) -> str | None:
        """The condition the text quotes: hypertension, else the first with true status."""
        truth = self.caps.truth
        return "hypertension" if "hypertension" in truth else (truth[0] if truth else None)

    @property
    def detection_text(self) -> str:
        """The share recorded in the two end fifths, for the focus condition."""
        focus, det = self.detection_focus, self.detection
        if focus is None or self.imd is None or det is None:
            return ""
        subject = f"the share of people with {lower_first(CONDITION_LABELS[focus])} who are recorded"
        return self._gap(det, subject=subject, measure=focus, dp=1)

    def detection_figure(self) -> Any:
        """The share recorded by deprivation fifth, or a skip note."""
        if self.detection is None or self.imd is None:
            return self.skip(NO_TRUTH)
        return self._facets(
            self.detection,
            id="detection",
            title="People with each condition who are recorded (%)",
            value_title="Recorded (% of people who have the condition)",
            description=(
                "Dot charts, one per condition, of the percentage of people who truly have the condition "
                "and are recorded on a GP register, with 95% confidence intervals, by deprivation fifth. "
                + self.detection_text
            ),
            columns=DETECTION_COLUMNS,
        )

    # -- treatment among the eligible ---------------------------------------------
    @cached_property
    def treatment(self) -> Published | None:
        """Treatment among the eligible by group, published (None without prescribing columns)."""
        if not self.dimensions:
            return None
        table = treatment(self.people, self.config, dimensions=self.dimensions)
        recompute = partial(recompute_shares, numerator="treated", denominator="eligible")
        return self._publish(table, counts=["treated", "eligible"], recompute=recompute)

    @property
    def measures(self) -> set[str]:
        """The treatment measures the dataset supports."""
        tr = self.treatment
        return set() if tr is None else set(tr.frame.get_column("measure").to_list())

    @property
    def treatment_text(self) -> str:
        """Each treatment measure in the two end fifths."""
        tr = self.treatment
        if tr is None or self.imd is None:
            return ""
        gaps = [
            self._gap(tr, subject=s, measure=m, dp=1) for m, s in TREATMENT_SUBJECTS if m in self.measures
        ]
        return " ".join(gaps)

    def _statin_rule(self) -> str:
        """Who should have a statin, from the qualifying conditions the dataset has."""
        always = [lower_first(CONDITION_LABELS[c]) for c in STATIN_ALWAYS if self.caps.has(c)]
        from_40 = [lower_first(CONDITION_LABELS[c]) for c in STATIN_FROM_40 if self.caps.has(c)]
        who = ([f"people with {_listed(always, last='or')}"] if always else []) + (
            [f"people aged 40 or over with {_listed(from_40, last='or')}"] if from_40 else []
        )
        return "statins for " + ", and ".join(who)

    @property
    def rules_text(self) -> str:
        """The eligibility rule (NICE) of each measure shown, and the statin conditions missing."""
        measures = self.measures
        rules = [self._statin_rule()] if "statin" in measures else []
        rules += [RULES[m] for m in ("anticoagulant", "bp_control") if m in measures]
        if not rules:
            return ""
        text = (
            "For each treatment we count only the people who should be receiving it, following NICE guidance: "
            + "; ".join(rules[:-1])
            + ("; and " if len(rules) > 1 else "")
            + rules[-1]
            + "."
        )
        missing = [
            lower_first(CONDITION_LABELS[c]) for c in STATIN_ALWAYS + STATIN_FROM_40 if not self.caps.has(c)
        ]
        if "statin" in measures and missing:
            text += (
                f" This dataset has no {_listed(missing, last='or')} "
                f"{'column' if len(missing) == 1 else 'columns'}, so statin eligibility is judged from "
                "the other conditions only."
            )
        return text

    def treatment_figure(self) -> Any:
        """Treatment among the eligible by deprivation fifth, or a skip note."""
        if self.treatment is None or self.imd is None:
            return self.skip("prescribing columns (statin, anticoagulant, antihypertensive)")
        controlled = " (or with blood pressure controlled)" if "bp_control" in self.measures else ""
        return self._facets(
            self.treatment,
            id="treatment",
            title="Eligible people treated (%)",
            value_title="Treated or controlled (% of eligible)",
            description=(
                "Dot charts, one per treatment measure, of the percentage of eligible people treated"
                + controlled
                + ", with 95% confidence intervals, by deprivation fifth. "
                + self.treatment_text
            ),
            columns=TREATMENT_COLUMNS,
        )

    @property
    def has_ethnicity_table(self) -> bool:
        return self.treatment is not None and self.caps.dimension("ethnicity") is not None

    def treatment_table(self) -> Any:
        """Treatment among the eligible by ethnic group, or a skip note."""
        if self.treatment is None or not self.has_ethnicity_table:
            return self.skip("prescribing or ethnicity columns")
        data = self.treatment.where(pl.col("dimension") == "ethnicity").select(*TREATMENT_ETHNICITY_DATA)
        return self.book.table(
            data,
            id="treatment-ethnicity",
            title="Treatment among eligible people, by ethnic group",
            columns=TREATMENT_ETHNICITY_COLUMNS,
            formats=VALUE_PERCENT_FORMATS,
        )

    def treatment_table_text(self) -> Any:
        """Points to the table by ethnic group (Markdown: it cross-refers), or nothing."""
        from IPython.display import Markdown

        if not self.has_ethnicity_table:
            return ""
        return Markdown("@tbl-treatment-ethnicity gives the same measures by ethnic group.")

    # -- waits ------------------------------------------------------------------
    @cached_property
    def waits(self) -> Published | None:
        """Waits for a first cardiology appointment by deprivation fifth, published."""
        if self.imd is None or not self.caps.has("days_to_first_outpatient"):
            return None
        table = waits(self.people, self.config, dimensions=[IMD])
        recompute = partial(recompute_shares, numerator="over_18_weeks", denominator="seen")
        return self._publish(table, counts=WAITS_COUNTS, derived=WAITS_DERIVED, recompute=recompute)

    @property
    def waits_text(self) -> str:
        """The share waiting over 18 weeks and the median wait in the two end fifths."""
        wt = self.waits
        if wt is None:
            return ""
        share = self._gap(wt, subject="the share waiting more than 18 weeks", dp=1)
        median = self._gap(
            wt, subject="the median wait", column="median_days", dp=0, suffix=" days", unit=" days"
        )
        return f"{share} {median}"

    def waits_intro(self) -> Any:
        """What the waits figure shows (Markdown: it cross-refers), or nothing."""
        from IPython.display import Markdown

        if self.waits is None:
            return ""
        return Markdown(
            "Among people referred to cardiology and seen, @fig-waits shows the share who waited more "
            f"than 18 weeks ({EIGHTEEN_WEEKS} days) for their first outpatient appointment."
        )

    def waits_figure(self) -> Any:
        """The share waiting over 18 weeks by deprivation fifth, or a skip note."""
        if self.waits is None:
            return self.skip("waiting time column (days_to_first_outpatient)")
        return self._bars(
            self.waits,
            id="waits",
            title="People waiting more than 18 weeks for a first cardiology appointment",
            chart_title="Waited more than 18 weeks (%)",
            value_title="Waited over 18 weeks (%)",
            description=(
                "Bar chart with 95% confidence intervals of the percentage of people seen who "
                "waited over 18 weeks, by deprivation fifth. " + self.waits_text
            ),
            data=WAITS_DATA,
            columns=WAITS_COLUMNS,
        )

    # -- missed appointments ------------------------------------------------------
    @cached_property
    def missed(self) -> Published | None:
        """Missed appointments per 100 people referred by deprivation fifth, published."""
        if self.imd is None or not self.caps.has("missed_appointments"):
            return None
        table = missed(self.people, self.config, dimensions=[IMD])
        recompute = partial(recompute_ratios, events="events", population="population", multiplier=100)
        return self._publish(table, counts=["events", "population"], recompute=recompute)

    @property
    def missed_intro(self) -> str:
        return MISSED_INTRO if self.missed is not None else ""

    @property
    def missed_text(self) -> str:
        """Missed appointments per 100 referred in the two end fifths."""
        if self.missed is None:
            return ""
        subject = "the number of missed appointments per 100 people referred"
        return self._gap(self.missed, subject=subject, suffix="", unit=" per 100 referred")

    def missed_figure(self) -> Any:
        """Missed appointments per 100 referred by deprivation fifth, or a skip note."""
        if self.missed is None:
            return self.skip("missed appointments column")
        return self._bars(
            self.missed,
            id="missed",
            title="Missed cardiology appointments per 100 people referred",
            chart_title="Missed appointments per 100 people referred",
            value_title="Missed appointments per 100",
            description=(
                "Bar chart with 95% confidence intervals of missed appointments per 100 people "
                "referred, by deprivation fifth. " + self.missed_text
            ),
            data=MISSED_DATA,
            columns=MISSED_COLUMNS,
        )
