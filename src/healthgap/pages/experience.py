"""Chapter "Experience": how people experience their care, by every group the data has.

Everything ``chapters/experience.qmd`` computes, words and shows, for any dataset:

- every measure of kind ``experience`` of the config
  (:meth:`healthgap.config.Config.measures_of`: on the synthetic population the appointments
  cancelled by the hospital and the GP-survey answer), by every dimension present: a flag as
  the share of people with a value for whom it is true, a count as events per 100 people
  (per 100 of the flag's people when every event happens to them, e.g. the referred);
- every indicator of section ``experience`` (the survey indicator), by every dimension, with
  how many people it applies to answered and how many did not, by group (survey answers are
  not missing at random);
- one plain note when the data has no experience measure, and a scope note on what the book
  does not cover.

Each analysis of :mod:`healthgap.descriptive.access` returns exact aggregates; the page
publishes each once (statistics recomputed from the published counts) and builds its figures,
tables and sentences from that :class:`~healthgap.disclosure.Published` frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension, Indicator, Measure
from healthgap.descriptive.access import (
    count_rates,
    flag_shares,
    indicator_status,
    indicator_totals,
    indicators,
    only_among,
    recompute_indicators,
    recompute_ratios,
    recompute_shares,
)
from healthgap.disclosure import Published
from healthgap.pages._blocks import blocks, heading, note, numbered
from healthgap.pages._groups import compared_dimension, gap, group_name, in_group, noun_of
from healthgap.pages.base import Page, ci_columns
from healthgap.text import capitalise, count, format_number, join, lower_first

__all__ = [
    "ExperiencePage",
    "ExperienceMeasure",
    "NO_EXPERIENCE",
    "SCOPE",
    "INDICATOR_DERIVED",
    "response_sentence",
]

#: The one sentence of the chapter when the data has no experience measure or indicator.
NO_EXPERIENCE = "This dataset has no measure of patients' experience, so this chapter has nothing to show."
#: What the book does not cover (a plain scope note).
SCOPE = (
    "This chapter shows only the experience measures recorded for each person in the dataset; it does "
    "not cover free-text comments, complaints or other survey questions."
)
#: An indicator's value derives from its numerator and denominator only.
INDICATOR_DERIVED = {
    "numerator": ["value", "lower_ci", "upper_ci"],
    "denominator": ["value", "lower_ci", "upper_ci"],
    "excluded": [],
}
#: Events of a count measure are per this many people.
PER = 100
FLAG_DATA = ("dimension", "level", "label", "numerator", "denominator", "value", "lower_ci", "upper_ci")
COUNT_DATA = ("dimension", "level", "label", "events", "population", "value", "lower_ci", "upper_ci")
#: The tables by every dimension name each dimension by its label.
GROUPS_DATA = ("dimension_label",)
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


@dataclass(frozen=True)
class ExperienceMeasure:
    """One experience measure the page shows.

    Attributes
    ----------
    measure : the declared measure (a flag or a count).
    among : for a count, the flag measure whose people every event happens to, or None.
    """

    measure: Measure
    among: Measure | None = None

    @property
    def slug(self) -> str:
        """The measure's name as an id ("provider-cancellations")."""
        return self.measure.name.replace("_", "-").lower()

    @property
    def name(self) -> str:
        """The label mid-sentence ("good experience of the GP practice")."""
        return lower_first(self.measure.label)

    @property
    def who(self) -> str:
        """Whom a count's events are counted among: "people with cardiology referral"."""
        return f"people with {lower_first(self.among.label)}" if self.among is not None else "people"

    @property
    def subject(self) -> str:
        """What the sentences compare."""
        if self.measure.type == "flag":
            return f"the share of people with {self.name}"
        return f"the number of {self.name} per {PER} {self.who}"


def _pct(x: float) -> str:
    return format_number(x, dp=1) + "%"


def response_sentence(
    totals: dict[str, Any] | None, rows: pl.DataFrame, dim: Dimension, *, label: str, most: int
) -> str:
    """How many of the people an indicator applies to have a value (answered), overall and by group.

    Parameters
    ----------
    totals : the indicator's published totals (``denominator``: with a value, ``excluded``: without),
        or None.
    rows : the indicator's published rows for ``dim`` (``level``, ``denominator``, ``excluded``).
    dim : the dimension the response is compared across.
    label : the indicator's label.
    most : the largest suppressed count.
    """
    if totals is None:
        return ""
    answered, left = totals["denominator"], totals["excluded"]
    if answered is None or left is None:
        return (
            f"For {lower_first(label)}, how many people have a value is not published: a count is too "
            f"small (between 1 and {most})."
        )
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


class ExperiencePage(Page):
    """The experience chapter."""

    slug = "experience"

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
    def measures(self) -> list[ExperienceMeasure]:
        """The experience measures (flags and counts) the dataset has, in the config's order.

        A flag that is exactly the numerator of an experience indicator is shown once, as the
        indicator (which also counts the people it applies to who have no value).
        """
        covered = {i.numerator.strip() for i in self.shown_indicators}
        present = [
            m
            for m in self.config.measures_of("experience")
            if m.name in self.caps.columns
            and m.type in ("flag", "count")
            and not (m.type == "flag" and m.name in covered)
        ]
        flags = [
            m
            for m in (*self.config.measures_of("access"), *self.config.measures_of("experience"))
            if m.type == "flag" and m.name in self.caps.columns
        ]
        out = []
        for m in present:
            among = None
            if m.type == "count":
                among = next((f for f in flags if only_among(self.people, measure=m.name, flag=f.name)), None)
            out.append(ExperienceMeasure(m, among))
        return out

    @cached_property
    def shown_indicators(self) -> list[Indicator]:
        """The indicators of section ``experience`` the dataset supports."""
        return [
            s.indicator
            for s in indicator_status(self.people, self.config)
            if s.shown and s.indicator.section == "experience"
        ]

    @property
    def empty(self) -> bool:
        """Whether the dataset has nothing for this chapter."""
        return not self.measures and not self.shown_indicators

    # -- published tables ------------------------------------------------------------
    @cached_property
    def tables(self) -> dict[str, Published]:
        """Each experience measure by every dimension present, published (by measure name)."""
        names = [d.name for d in self.dimensions]
        out: dict[str, Published] = {}
        if not names:
            return out
        for e in self.measures:
            m = e.measure
            if m.type == "flag":
                table = flag_shares(self.people, self.config, measure=m.name, dimensions=names)
                counts = ["numerator", "denominator"]
                recompute = partial(recompute_shares, numerator="numerator", denominator="denominator")
            else:
                among = e.among.name if e.among is not None else None
                table = count_rates(self.people, self.config, measure=m.name, among=among, dimensions=names)
                counts = ["events", "population"]
                recompute = partial(
                    recompute_ratios, events="events", population="population", multiplier=PER
                )
            if not table.is_empty():
                out[m.name] = self.book.publish(table, counts=counts, recompute=recompute)
        return out

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

    # -- sentences ---------------------------------------------------------------------
    def measure_text(self, e: ExperienceMeasure) -> str:
        """One sentence per dimension comparing one measure across its groups."""
        table = self.tables.get(e.measure.name)
        if table is None:
            return ""
        if e.measure.type == "flag":
            return " ".join(gap(table, d, subject=e.subject, dp=1) for d in self.dimensions)
        unit = f" per {PER} {e.who}"
        return " ".join(gap(table, d, subject=e.subject, dp=1, suffix="", unit=unit) for d in self.dimensions)

    def indicator_text(self, ind: Indicator) -> str:
        """One sentence per dimension comparing one indicator, then how many have a value."""
        table = self.indicators
        if table is None:
            return ""
        rows = table.where(pl.col("measure") == ind.name)
        suffix = "%" if ind.kind == "proportion" and ind.multiplier == 100 else ""
        unit = None if suffix else f" per {format_number(ind.multiplier, style='integer')}"
        sentences = [gap(rows, d, subject=ind.label, dp=1, suffix=suffix, unit=unit) for d in self.dimensions]
        return " ".join(sentences) + " " + self.response_text(ind)

    def response_text(self, ind: Indicator) -> str:
        """How many of the people the indicator applies to have a value, by the groups compared."""
        if self.totals is None or self.indicators is None or self.compared is None:
            return ""
        dim = self.compared
        rows = self.indicators.where((pl.col("measure") == ind.name) & (pl.col("dimension") == dim.name))
        return response_sentence(
            self.totals.row(measure=ind.name), rows.frame, dim, label=ind.label, most=self.most
        )

    @property
    def intro_text(self) -> str:
        """What the chapter shows, from the config's labels."""
        listed = [e.name for e in self.measures] + [lower_first(i.label) for i in self.shown_indicators]
        nouns = join([noun_of(d) for d in self.dimensions])
        return (
            f"This chapter shows how people experience their care: {join(listed)}, by {nouns}. "
            "Each share and rate is of the people with a value; where two groups' 95% confidence intervals "
            "(in the tables) overlap, the difference between them may be chance."
        )

    # -- figures and tables --------------------------------------------------------------
    def _order(self, dim: Dimension) -> list[str]:
        return [dim.label_of(x) for x in dim.order]

    def measure_figure(self, e: ExperienceMeasure) -> Any:
        """One measure by the groups compared (the figure's markup), or None."""
        table, dim = self.tables.get(e.measure.name), self.compared
        if table is None or dim is None:
            return None
        noun, label = noun_of(dim), e.measure.label
        if e.measure.type == "flag":
            title, value_title = f"People with {e.name} (%)", "People (%)"
            data, what = FLAG_DATA, f"the percentage of people with {e.name}"
            columns = ci_columns(
                f"{label} (%)", label=capitalise(noun), numerator=label, denominator="People with a value"
            )
        else:
            title = value_title = f"{label} per {PER} {e.who}"
            data, what = COUNT_DATA, f"{e.name} per {PER} {e.who}"
            columns = ci_columns(
                f"Per {PER} {e.who}", label=capitalise(noun), events=label, population=capitalise(e.who)
            )
        order = self._order(dim)
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                group="label",
                title=title,
                mark="bar",
                order=order,
                value_title=value_title,
                group_title=capitalise(noun),
            ),
            id=f"experience-{e.slug}",
            title=f"{title} by {noun}",
            description=f"Bar chart with 95% confidence intervals of {what}, by {noun}. {self.measure_text(e)}",
            data=table.where(pl.col("dimension") == dim.name).select(*data),
            columns=columns,
        )

    def _sorted(self, table: Published) -> Published:
        """``table`` in the config's order of dimensions, then of measures, then of levels."""
        names = {d.name: k for k, d in enumerate(self.dimensions)}
        keys = [pl.col("dimension").replace_strict(names, default=len(names), return_dtype=pl.Int64)]
        if "measure" in table.frame.columns:
            measures = {i.name: k for k, i in enumerate(self.shown_indicators)}
            keys.append(
                pl.col("measure").replace_strict(measures, default=len(measures), return_dtype=pl.Int64)
            )
        return table.sort(*keys, "order", maintain_order=True)

    def measure_table(self, e: ExperienceMeasure) -> Any:
        """One measure by every dimension present (the table's markup), or None."""
        table = self.tables.get(e.measure.name)
        if table is None:
            return None
        label = e.measure.label
        if e.measure.type == "flag":
            data = FLAG_DATA
            columns = ci_columns(
                "Value (%)",
                dimension_label="Compared by",
                label="Group",
                numerator=label,
                denominator="People with a value",
            )
        else:
            data = COUNT_DATA
            columns = ci_columns(
                f"Per {PER} {e.who}",
                dimension_label="Compared by",
                label="Group",
                events=label,
                population=capitalise(e.who),
            )
        return self.book.table(
            self._sorted(table).select(*GROUPS_DATA, *data[1:]),
            id=f"experience-{e.slug}-groups",
            title=f"{label} by {join([noun_of(d) for d in self.dimensions])}",
            columns=columns,
        )

    def indicator_table(self) -> Any:
        """The experience indicators by every dimension, with who has a value (the table's markup)."""
        table = self.indicators
        if table is None:
            return None
        return self.book.table(
            self._sorted(table).select(*INDICATOR_DATA),
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
            parts.append(self.measure_text(e))
            figure = self.measure_figure(e)
            if figure is not None and self.compared is not None:
                parts.append(
                    numbered(
                        figure,
                        label=f"fig-experience-{e.slug}",
                        caption=f"{e.measure.label}, by {noun_of(self.compared)}",
                    )
                )
            shown = self.measure_table(e)
            if shown is not None:
                parts.append(
                    numbered(
                        shown,
                        label=f"tbl-experience-{e.slug}",
                        caption=f"{e.measure.label}, by every group compared",
                    )
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
