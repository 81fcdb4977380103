"""Chapter "Experience": how people experience their care, by every group the data has.

Everything ``chapters/experience.qmd`` computes, words and shows, for any dataset:

- every measure of kind ``experience`` of the config
  (:meth:`healthgap.config.Config.measures_of`: on the synthetic population the waits from
  referral to a first appointment and to treatment, missed and hospital-cancelled
  appointments, and the GP-survey answer), by every dimension present, with 95% intervals
  (:class:`healthgap.pages._blocks.MeasureSections`): a flag as the share of people with a
  value for whom it is true, a count as events per 1,000 people (per 1,000 of a flag's people
  when every event happens to them, e.g. the referred), days as the median wait with its
  interval and, only for a measure with a waiting standard (``standard_days``: the 18-week
  referral-to-treatment standard), the share waiting longer;
- every indicator of section ``experience`` not already shown as a measure (the survey
  indicator), by every dimension, with how many people it applies to answered and how many
  did not, by group (survey answers are not missing at random);
- when a sentence names the highest or lowest of several groups it says whether that could
  be chance, allowing for the number of groups (simultaneous intervals);
- one plain note when the data has no experience measure, and a scope note on what the book
  does not cover.

Each analysis of :mod:`healthgap.descriptive.access` returns exact aggregates; the page
publishes each once (statistics recomputed from the published counts) and builds its figures,
tables and sentences from that :class:`~healthgap.disclosure.Published` frame.
"""

from __future__ import annotations

from functools import cached_property, partial
from typing import Any, Literal

import polars as pl

from healthgap.config import Dimension, Indicator, sql_columns
from healthgap.descriptive import LEVEL as LEVEL_COLUMN
from healthgap.descriptive.access import (
    broad_age_counts,
    indicator_status,
    indicator_totals,
    indicators,
    recompute_indicators,
)
from healthgap.disclosure import Published
from healthgap.pages._blocks import (
    EVENTS_PER,
    UNIT_TEXT,
    MeasureSections,
    ShownMeasure,
    blocks,
    heading,
    note,
    numbered,
    shown_measures,
)
from healthgap.pages._contrast import NOT_CHANCE, compare
from healthgap.pages._groups import (
    CHANCE_LEVEL,
    SIMULATIONS,
    compared_dimension,
    ends,
    group_name,
    in_group,
    noun_of,
    standard_errors,
)
from healthgap.pages.base import Page, ci_columns
from healthgap.stats import extremes
from healthgap.text import count, format_number, join, lower_first

__all__ = [
    "BROAD_AGE_NOTE",
    "ExperiencePage",
    "ExperienceMeasure",
    "NO_EXPERIENCE",
    "SCOPE",
    "INDICATOR_DERIVED",
    "MISSED_CONTEXT",
    "PLACE_NOTE",
    "PLACE_DIMENSION",
    "WITHHELD",
    "response_sentence",
]

#: The one sentence of the chapter when the data has no experience measure or indicator.
NO_EXPERIENCE = "This dataset has no measure of patients' experience, so this chapter has nothing to show."
#: What the book does not cover (a plain scope note).
SCOPE = (
    "This chapter shows only the experience measures recorded for each person in the dataset; it does "
    "not cover free-text comments, complaints or other survey questions."
)
#: The dimension of place whose gaps may carry a gap by deprivation (and the other way round).
PLACE_DIMENSION = "locality"
#: When a measure differs both between the two ends of the compared dimension and between
#: localities, and the localities' mix of that dimension differs: neither gap is separated.
PLACE_NOTE = (
    "For {what}, gaps are found both by {noun} and between localities, and the localities differ in "
    "their mix of {nouns}, so part of either gap may come through the other: these figures do not "
    "separate the two."
)
#: Below this p-value (chi-squared test of locality by group) the localities' mix is said to differ.
MIX_P = 0.05
#: What the missed appointments measure of the cardiovascular profile adds.
MISSED_CONTEXT = (
    "Missed appointments are often read as patients' choices, but travel costs, shift work, caring "
    "duties and letters that do not reach people all play a part."
)
#: A suppressed count in a sentence: the same words whether it is small or protects a small one
#: (disclosure rule 7: never the range of a suppressed count).
WITHHELD = "a number withheld to protect confidentiality"
#: An indicator's value derives from its numerator and denominator only.
INDICATOR_DERIVED = {
    "numerator": ["value", "lower_ci", "upper_ci"],
    "denominator": ["value", "lower_ci", "upper_ci"],
    "excluded": [],
}
INDICATOR_DATA = (
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

#: The measure class the access and experience pages share (kept under its old name).
ExperienceMeasure = ShownMeasure
#: The value and interval columns of a flag's or a count's table.
CI_VALUE = ("value", "lower_ci", "upper_ci")

#: Why the ages of a measure of the people of a flag (the referred) are in broad groups.
BROAD_AGE_NOTE = (
    "Ages are compared in broad groups (under 40, 40 to 74 and 75 and over), not five-year bands: "
    "for the {who} the five-year bands are too small to publish."
)


def _pct(x: float) -> str:
    return format_number(x, dp=1) + "%"


def response_sentence(
    totals: dict[str, Any] | None, rows: pl.DataFrame, dim: Dimension, *, label: str, most: int | None = None
) -> str:
    """How many of the people an indicator applies to have a value (answered), overall and by group.

    Parameters
    ----------
    totals : the indicator's published totals (``denominator``: with a value, ``excluded``: without),
        or None.
    rows : the indicator's published rows for ``dim`` (``level``, ``denominator``, ``excluded``).
    dim : the dimension the response is compared across.
    label : the indicator's label.
    most : unused (a suppressed count is never given a range: disclosure rule 7).
    """
    if totals is None:
        return ""
    answered, left = totals["denominator"], totals["excluded"]
    if answered is None or left is None:
        return f"For {lower_first(label)}, how many people have a value is not published ({WITHHELD})."
    if left == 0:
        return f"For {lower_first(label)}, all {count(answered)} people it applies to have a value."
    applies = answered + left
    lead = (
        f"For {lower_first(label)}, {count(answered)} of the {count(applies)} people it applies to have a "
        f"value ({_pct(100 * answered / applies)}); {count(left)} have none and are left out."
    )
    shares = (
        rows.filter(pl.col("denominator").is_not_null() & pl.col("excluded").is_not_null())
        .filter((pl.col("denominator") + pl.col("excluded")) > 0)
        .with_columns((100 * pl.col("denominator") / (pl.col("denominator") + pl.col("excluded"))).alias("s"))
    )
    if shares.height < 2:
        return lead
    hi = shares.sort("s", descending=True, maintain_order=True).row(0, named=True)
    lo = shares.sort("s", maintain_order=True).row(0, named=True)
    if format_number(hi["s"], dp=1) == format_number(lo["s"], dp=1):
        return f"{lead} The share with a value is about {_pct(hi['s'])} in every published {noun_of(dim)}."
    return (
        f"{lead} The share with a value is highest {in_group(group_name(dim, hi['level']))} "
        f"({_pct(hi['s'])}) and lowest {in_group(group_name(dim, lo['level']))} ({_pct(lo['s'])}), so the "
        "people who answered may not stand for everyone."
    )


class ExperiencePage(MeasureSections, Page):
    """The experience chapter."""

    slug = "experience"
    prefix = "experience"

    # -- what the dataset has -----------------------------------------------------
    @cached_property
    def dimensions(self) -> list[Dimension]:
        """Every dimension present, in the config's order."""
        return list(self.caps.dimensions)

    @cached_property
    def compared(self) -> Dimension | None:
        """The dimension the figures compare (:func:`compared_dimension`)."""
        return compared_dimension(self.caps)

    @property
    def most(self) -> int:
        """The largest count that is suppressed."""
        return self.config.disclosure.suppress_below - 1

    @cached_property
    def measures(self) -> list[ShownMeasure]:
        """The experience measures (flags, counts, days) the dataset has, in the config's order.

        A flag that is exactly the numerator of an experience indicator is shown once, as the
        indicator (which also counts the people it applies to who have no value).
        """
        covered = {i.numerator.strip() for i in self._indicators}
        return [
            e
            for e in shown_measures(self.people, self.config, self.caps, kinds=["experience"])
            if not (e.measure.type == "flag" and e.measure.name in covered)
        ]

    @cached_property
    def _indicators(self) -> list[Indicator]:
        return [
            s.indicator
            for s in indicator_status(self.people, self.config)
            if s.shown and s.indicator.section == "experience"
        ]

    @cached_property
    def shown_indicators(self) -> list[Indicator]:
        """The indicators of section ``experience`` the dataset supports, except those a days
        measure with a waiting standard already shows (treated within 18 weeks is the share of
        the referral-to-treatment wait within its standard)."""
        waits = {
            m.name
            for m in self.config.measures_of("experience")
            if m.type == "days" and m.standard_days is not None and m.name in self.caps.columns
        }
        return [i for i in self._indicators if not set(sql_columns(i.numerator)) & waits]

    @property
    def empty(self) -> bool:
        """Whether the dataset has nothing for this chapter."""
        return not self.measures and not self.shown_indicators

    # -- published tables ------------------------------------------------------------
    @cached_property
    def indicators(self) -> Published | None:
        """The experience indicators by every dimension present, published."""
        if not self.shown_indicators or not self.dimensions:
            return None
        names = [i.name for i in self.shown_indicators]
        table = indicators(
            self.people, self.config, names=names, dimensions=[d.name for d in self.dimensions]
        )
        if table.is_empty():
            return None
        table = table.filter(pl.col("denominator") + pl.col("excluded") > 0)
        return self.book.publish(
            table,
            counts=["numerator", "denominator", "excluded"],
            derived=INDICATOR_DERIVED,
            recompute=partial(recompute_indicators, indicators=self.shown_indicators),
        )

    @cached_property
    def totals(self) -> Published | None:
        """Each experience indicator over everyone: with a value and left out, published."""
        if not self.shown_indicators:
            return None
        table = indicator_totals(self.people, self.config, names=[i.name for i in self.shown_indicators])
        if table.is_empty():
            return None
        return self.book.publish(
            table.select("measure", "measure_label", "denominator", "excluded"),
            counts=["denominator", "excluded"],
            by=["measure"],
        )

    # -- broad age groups --------------------------------------------------------------
    def _broad(self, e: ExperienceMeasure) -> bool:
        """Whether a measure's ages are in broad groups (:meth:`age_rows` gives rows)."""
        return e.measure.type == "count" and e.among is not None and self.caps.has("age")

    def age_rows(self, e: ExperienceMeasure) -> pl.DataFrame | None:
        """A count of events among a flag's people (missed appointments of the referred) by broad
        age group (:data:`~healthgap.descriptive.access.BROAD_AGE`) instead of five-year bands,
        which are too small to publish for so few people; None for other measures."""
        if not self._broad(e):
            return None
        m = e.measure
        assert e.among is not None
        return broad_age_counts(
            self.people, measure=m.name, kind="count", among=e.among.name, multiplier=EVENTS_PER
        )

    def age_note(self, e: ExperienceMeasure) -> str:
        """Why a measure's ages are in broad groups: said once on the page, with the first measure
        whose ages are (nothing for the others, or when they are in five-year bands)."""
        if not self._broad(e) or "age_band" not in {d.name for d in self.dimensions}:
            return ""
        first = next((m for m in self.measures if self._broad(m)), None)
        if first is not None and first.name != e.name:
            return ""
        return BROAD_AGE_NOTE.format(who=e.who)

    # -- sentences ---------------------------------------------------------------------
    def indicator_text(self, ind: Indicator) -> str:
        """One sentence per dimension comparing one indicator, then how many have a value."""
        table = self.indicators
        if table is None:
            return ""
        rows = table.where(pl.col("measure") == ind.name)
        suffix = "%" if ind.kind == "proportion" and ind.multiplier == 100 else ""
        unit = None if suffix else f" per {format_number(ind.multiplier, style='integer')}"
        sentences = [
            compare(
                rows,
                d,
                subject=ind.label,
                suffix=suffix,
                unit=unit,
                scale="difference" if suffix else "ratio",
            )
            for d in self.dimensions
        ]
        return " ".join([*sentences, self.response_text(ind)]).strip()

    def response_text(self, ind: Indicator) -> str:
        """How many of the people the indicator applies to have a value, by the groups compared."""
        if self.totals is None or self.indicators is None or self.compared is None:
            return ""
        dim = self.compared
        rows = self.indicators.where((pl.col("measure") == ind.name) & (pl.col("dimension") == dim.name))
        return response_sentence(self.totals.row(measure=ind.name), rows.frame, dim, label=ind.label)

    @property
    def intro_text(self) -> str:
        """What the chapter shows, from the config's labels, and the unit, once."""
        listed = [e.name for e in self.measures] + [lower_first(i.label) for i in self.shown_indicators]
        nouns = join([noun_of(d) for d in self.dimensions])
        return (
            f"This chapter shows how people experience their care: {join(listed)}, by {nouns}. "
            f"{UNIT_TEXT} Each value comes with its 95% confidence interval; a sentence that names the "
            "highest or lowest of several groups says whether that could be chance once the number of "
            "groups compared is allowed for (simultaneous 95% intervals)."
        )

    # -- figures and tables --------------------------------------------------------------
    def _sorted_indicators(self, table: Published) -> Published:
        names = {d.name: k for k, d in enumerate(self.dimensions)}
        measures = {i.name: k for k, i in enumerate(self.shown_indicators)}
        return table.sort(
            pl.col("dimension").replace_strict(names, default=len(names), return_dtype=pl.Int64),
            pl.col("measure").replace_strict(measures, default=len(measures), return_dtype=pl.Int64),
            "order",
            maintain_order=True,
        )

    def indicator_table(self) -> Any:
        """The experience indicators by every dimension, with who has a value (the table's markup)."""
        table = self.indicators
        if table is None:
            return None
        return self.book.table(
            self._sorted_indicators(table).select(*INDICATOR_DATA),
            id="experience-indicators",
            title=f"Experience indicators by {join([noun_of(d) for d in self.dimensions])}",
            columns=ci_columns(
                "Value (%)",
                dimension_label="Compared by",
                measure_label="Indicator",
                label="Group",
                numerator="Met the indicator",
                denominator="With a value",
                excluded="Left out (no value)",
            ),
        )

    # -- deprivation and place ---------------------------------------------------------------
    @cached_property
    def place(self) -> Dimension | None:
        """The dimension of place (:data:`PLACE_DIMENSION`) when present and not the one compared."""
        dim = self.compared
        place = next((d for d in self.dimensions if d.name == PLACE_DIMENSION), None)
        return None if place is None or dim is None or place.name == dim.name else place

    @cached_property
    def mix_differs(self) -> bool:
        """Whether the localities' mix of the compared dimension's groups differs (a chi-squared
        test of independence on every person with both, p below :data:`MIX_P`)."""
        from scipy.stats import chi2_contingency

        dim, place = self.compared, self.place
        if dim is None or place is None:
            return False
        a, b = place.name, dim.name  # the loaded table names each dimension's column by its name
        table = (
            self.people.filter(pl.col(a).is_not_null() & pl.col(b).is_not_null())
            .group_by(a, b)
            .len()
            .collect()
            .pivot(on=b, index=a, values="len")
            .fill_null(0)
            .drop(a)
        )
        if table.height < 2 or table.width < 2:
            return False
        return bool(chi2_contingency(table.to_numpy()).pvalue < MIX_P)

    def place_gap(self, e: ExperienceMeasure) -> bool:
        """Whether some locality's value of ``e`` differs from another's beyond chance, allowing for
        every pair of localities (simultaneous 95% intervals, as the sentences naming them)."""
        table, place = self.tables.get(e.measure.name), self.place
        if table is None or place is None:
            return False
        column, lower, upper = (
            ("median_days", "median_lower", "median_upper") if e.measure.type == "days" else CI_VALUE
        )
        scale: Literal["difference", "ratio"] = "ratio" if e.measure.type == "count" else "difference"
        rows = table.frame.filter(
            (pl.col("dimension") == place.name)
            & pl.col(column).is_finite()
            & pl.col(lower).is_finite()
            & pl.col(upper).is_finite()
            & (pl.col(column) > 0 if scale == "ratio" else pl.lit(value=True))
            & (pl.col(lower) > 0 if scale == "ratio" else pl.lit(value=True))
        )
        data = standard_errors(rows, column=column, lower=lower, upper=upper, scale=scale).filter(
            pl.col("__se").is_finite() & (pl.col("__se") > 0)
        )
        if data.height < 2:
            return False
        found = extremes(
            data.select(LEVEL_COLUMN, column, "__se"),
            group=LEVEL_COLUMN,
            estimate=column,
            std_error="__se",
            scale=scale,
            confidence=CHANCE_LEVEL,
            simulations=SIMULATIONS,
        )
        return bool(found["distinct_from"].fill_null(0).max() or 0)

    def place_sentence(self, e: ExperienceMeasure) -> str:
        """:data:`PLACE_NOTE` when ``e`` differs beyond chance both between the two ends of the
        compared dimension and between localities, and the localities' mix differs; else ""."""
        dim = self.compared
        if dim is None or ends(dim) is None or self.place is None:
            return ""
        if NOT_CHANCE not in self.measure_sentences(e, dim) or not self.place_gap(e) or not self.mix_differs:
            return ""
        noun = noun_of(dim)
        return PLACE_NOTE.format(what=e.name, noun=noun, nouns=f"{noun}s")

    def measure_text(self, e: ExperienceMeasure) -> str:
        """The sentences comparing one measure, one dimension after another, then
        :meth:`place_sentence`."""
        return " ".join(t for t in (super().measure_text(e), self.place_sentence(e)) if t)

    # -- the chapter -----------------------------------------------------------------------
    def body(self) -> Any:
        """The whole chapter after its title: one note when the data has nothing for it."""
        if self.empty:
            return note(NO_EXPERIENCE)
        if not self.dimensions:
            return blocks(self.skip("equity dimension to compare groups along"), note(SCOPE))
        parts: list[Any] = [self.intro_text]
        for e in self.measures:
            parts.append(heading(e.measure.label, id=f"sec-experience-{e.slug}"))
            context = MISSED_CONTEXT if e.measure.name == "missed_appointments" else ""
            parts.extend(
                self.measure_blocks(e, context=" ".join(t for t in (context, self.age_note(e)) if t))
            )
        if self.indicators is not None:
            parts.append(heading("Experience indicators", id="sec-experience-indicators"))
            parts.extend(self.indicator_text(i) for i in self.shown_indicators)
            parts.append(
                numbered(
                    self.indicator_table(),
                    label="tbl-experience-indicators",
                    caption="Experience indicators, with the people who have a value and those left out",
                )
            )
        parts.append(note(SCOPE))
        return blocks(*parts)
