"""Chapter 1, the population and the data: who is in the data, the groups compared, completeness."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension
from healthgap.descriptive import population as pop
from healthgap.disclosure import Published
from healthgap.pages._groups import compare
from healthgap.pages.base import CI_COLUMNS, Page
from healthgap.pages.sentences import extremes, fmt, nouns
from healthgap.text import join, lower_first

__all__ = [
    "PopulationPage",
    "holds",
    "registered",
    "size",
    "worst_columns",
    "not_stated_groups",
    "rounded",
    "EXPECTED_GAPS",
    "GROUP_WORDS",
    "NOT_STATED_ORDER",
    "PYRAMID_TITLE",
    "COMPOSITION_TITLE",
    "COMPLETENESS_TITLE",
    "NOT_STATED_TITLE",
]

PYRAMID_TITLE = "People by age band and sex"
COMPOSITION_TITLE = "People in each group of each equity dimension"
COMPLETENESS_TITLE = "Completeness of each column"
NOT_STATED_TITLE = "Share of people with no ethnic group recorded, by group"

#: The order of the not-stated chart's panels after the ordered dimensions with a disadvantaged end
#: (deprivation), then the other dimensions, in the config's order.
NOT_STATED_ORDER = ("imd_quintile", "age_band", "sex", "locality")
#: How each dimension's groups are named in the not-stated chart's description (others: its noun).
GROUP_WORDS = {
    "imd_quintile": "deprivation fifth",
    "age_band": "age band",
    "sex": "sex",
    "locality": "locality",
}
#: Why some columns are expected to be incomplete (said only for columns the dataset has).
EXPECTED_GAPS = {
    "days_to_first_outpatient": (
        "is only recorded for people who were referred and seen, so a low completeness there is expected"
    ),
}
_SEXES = {"female": "Female", "male": "Male"}


def size(facts: Mapping[str, Any]) -> str:
    """The number of people, to the nearest 10: ``"250,000"``."""
    return fmt(round(facts["people"], -1), 0)


def registered(facts: Mapping[str, Any]) -> str:
    """``"registered with 100 GP practices"``, or "" when the data have no practice codes."""
    practices = facts.get("practices")
    if not practices:
        return ""
    return f"registered with {fmt(practices, 0)} GP practice" + ("s" if practices != 1 else "")


def holds(facts: Mapping[str, Any]) -> str:
    """``"250,000 people registered with 100 GP practices"``; ``"4,240 people"`` without practice codes."""
    where = registered(facts)
    return f"{size(facts)} people" + (f" {where}" if where else "")


def rounded(n: int, *, base: int, smallest: int) -> str:
    """A count in a sentence as the tables publish it: "fewer than 8" (1 to 7), else rounded to ``base``."""
    if 0 < n < smallest:
        return f"fewer than {smallest}"
    return fmt(base * round(n / base) if base > 1 else n, 0)


def worst_columns(completeness: pl.DataFrame) -> str:
    """The least complete columns (published shares), and why some gaps are expected.

    Parameters
    ----------
    completeness : the published completeness table (``column``, ``label``, ``complete`` in %).
    """
    incomplete = completeness.filter(pl.col("complete") < 100).sort("complete")
    named = [
        f"{lower_first(r['label'])} ({fmt(r['complete'])}% recorded)"
        for r in incomplete.head(2).iter_rows(named=True)
    ]
    if not named:
        text = "Every column is complete."
    elif len(named) == 1:
        text = f"The only column with missing values is {named[0]}."
    else:
        text = f"The least complete columns are {named[0]} and {named[1]}."
    gaps = [
        f"{r['label']} {EXPECTED_GAPS[r['column']]}."
        for r in incomplete.filter(pl.col("column").is_in(list(EXPECTED_GAPS))).iter_rows(named=True)
    ]
    return " ".join([text, *gaps])


def not_stated_groups(table: pl.DataFrame, dims: Mapping[str, Dimension] | None = None) -> str:
    """How the not-stated chart's panels are named: ``"deprivation fifth, age band, sex and locality"``."""
    found = table.select("dimension", "dimension_label").unique(maintain_order=True)
    labels = dict(zip(found.get_column("dimension"), found.get_column("dimension_label"), strict=True))
    dims = dims or {}

    def noun(name: str, label: str) -> str:
        dim = dims.get(name)
        return GROUP_WORDS.get(name) or (dim.noun if dim is not None and dim.noun else lower_first(label))

    return join(noun(name, label) for name, label in labels.items())


class PopulationPage(Page):
    """The population and the data."""

    slug = "population"

    # -- numbers ------------------------------------------------------------
    @cached_property
    def facts(self) -> dict[str, Any]:
        """Size, age, sex and ethnicity recording of everyone (:func:`healthgap.descriptive.population.summary`)."""
        return pop.summary(self.people)

    @property
    def size(self) -> str:
        """The number of people, to the nearest 10."""
        return size(self.facts)

    @property
    def registered(self) -> str:
        """``"registered with 100 GP practices"``, or "" without practice codes."""
        return registered(self.facts)

    @property
    def holds(self) -> str:
        """:func:`holds`: ``"250,000 people registered with 100 GP practices"``."""
        return holds(self.facts)

    @property
    def median_age(self) -> str:
        """Median age in years (no decimals)."""
        return fmt(self.facts["median_age"], 0)

    @property
    def aged_65_plus(self) -> str:
        """Share aged 65 or over, in % (1 dp, no sign)."""
        return fmt(self.facts["aged_65_plus_share"])

    @property
    def female(self) -> str | None:
        """Share female among those with sex recorded, in % (1 dp, no sign); None without sex."""
        share = self.facts.get("female_share")
        return None if share is None else fmt(share)

    @property
    def has_sex(self) -> bool:
        return self.caps.has("sex")

    def ages(self) -> Any:
        """Median age, share aged 65+, share female and what the pyramid shows (Markdown: it cross-refers)."""
        from IPython.display import Markdown

        if self.has_sex and self.female is not None:
            text = (
                f"Their median age is {self.median_age} years, {self.aged_65_plus}% are aged 65 or over and "
                f"{self.female}% are female. @fig-pyramid shows the age and sex structure."
            )
        else:
            text = (
                f"Their median age is {self.median_age} years and {self.aged_65_plus}% are aged 65 or over."
            )
        return Markdown(text)

    @property
    def not_stated_share(self) -> str:
        """Share of everyone with no ethnic group recorded, in % (1 dp, no sign)."""
        return fmt(self.facts.get("not_stated_share"))

    @property
    def small_counts(self) -> str:
        """``"; counts from 1 to 7 are never shown"`` when disclosure control is on, else nothing."""
        d = self.config.disclosure
        return f"; counts from 1 to {d.suppress_below - 1} are never shown" if d.enabled else ""

    def small_groups(self) -> Any:
        """That small groups give wide intervals (and small counts are not shown), Markdown: it cross-refers."""
        from IPython.display import Markdown

        return Markdown(
            f"Groups with few people give wide confidence intervals in later chapters{self.small_counts} "
            "(see @sec-methods)."
        )

    def rounded(self, n: int) -> str:
        """A count as the tables publish it (:func:`rounded` with this book's disclosure settings)."""
        d = self.config.disclosure
        if not d.enabled:
            return fmt(n, 0)
        return rounded(n, base=d.rounding, smallest=d.suppress_below)

    # -- published tables ---------------------------------------------------
    @cached_property
    def pyramid_data(self) -> Published:
        """People by age band and sex (shares of the published counts)."""
        frame = pop.pyramid(self.people).select("age_band", pl.col("sex").replace(_SEXES), "people", "share")
        return self.book.publish(frame, counts=["people"], by=[], recompute=pop.pyramid_shares)

    @cached_property
    def composition_data(self) -> Published:
        """People in each group of each dimension (shares of the published counts)."""
        frame = pop.composition(self.people, self.config).select(
            "dimension", "dimension_label", "level", "label", "people", "total", "share"
        )
        return self.book.publish(
            frame, counts=["people", "total"], by=["dimension"], recompute=pop.composition_shares
        )

    @cached_property
    def completeness_data(self) -> Published:
        """Completeness of each column (shares of the published counts)."""
        return self.book.publish(
            pop.completeness(self.people, columns=self.config.contract),
            counts=["people", "missing", "recorded"],
            by=["column"],
            recompute=pop.completeness_shares,
        )

    @cached_property
    def dims(self) -> dict[str, Dimension]:
        """The equity dimensions present, by name."""
        return {d.name: d for d in self.caps.dimensions}

    @property
    def has_ethnicity(self) -> bool:
        """Whether the dataset has ethnic groups, with at least one person's recorded."""
        return self.caps.has("ethnicity") and (self.facts.get("not_stated_share") or 0) < 100

    @cached_property
    def not_stated_data(self) -> Published | None:
        """Share with no ethnic group recorded, by group of each other dimension (from the published counts)."""
        if not self.has_ethnicity:
            return None
        names = [n for n in self.dims if n != "ethnicity"]

        def place(name: str) -> tuple[int, int]:  # gradients first, then NOT_STATED_ORDER, then the rest
            dim = self.dims[name]
            order = NOT_STATED_ORDER.index(name) if name in NOT_STATED_ORDER else len(NOT_STATED_ORDER)
            return (0 if dim.ordered and dim.disadvantaged else 1, order)

        wanted = sorted(names, key=place)
        frame = pop.not_stated(self.people, self.config, dimensions=wanted)
        if frame.is_empty():
            return None
        frame = frame.select(
            "dimension",
            "dimension_label",
            "level",
            "label",
            "not_stated",
            "people",
            "value",
            "lower_ci",
            "upper_ci",
        )
        return self.book.publish(
            frame, counts=["not_stated", "people"], by=["dimension"], recompute=pop.not_stated_shares
        )

    # -- sentences ----------------------------------------------------------
    def worst_columns(self) -> str:
        """The least complete columns, from the published completeness table."""
        return worst_columns(self.completeness_data.frame)

    def not_stated_extremes(self, dimension: str) -> str:
        """'highest in A (x%) and lowest in B (y%)' across the groups of ``dimension`` (the chart's
        text alternative; the paragraph uses :meth:`not_stated_sentences`, with intervals)."""
        if self.not_stated_data is None:
            return "not published for any group (too few people)"
        return extremes(self.not_stated_data.where(dimension=dimension).frame, dims=self.dims)

    def not_stated_sentences(self, dimension: str) -> str:
        """The share with no ethnic group recorded across the groups of ``dimension``, with 95%
        intervals: the two ends of an ordered dimension, else the highest and the lowest group and
        whether each could be there by chance, allowing for the groups compared at once
        (:func:`healthgap.pages._groups.compare`)."""
        if self.not_stated_data is None:
            return ""
        return compare(
            self.not_stated_data.where(dimension=dimension),
            self.dims[dimension],
            subject="the share with no ethnic group recorded",
        )

    @property
    def not_stated_dimensions(self) -> list[str]:
        """The dimensions the text gives the range of the not-stated share for: the first ordered one with a
        disadvantaged end and age bands (deprivation fifths and age bands), else the first one charted."""
        if self.not_stated_data is None:
            return []
        charted = list(dict.fromkeys(self.not_stated_data.frame.get_column("dimension").to_list()))
        ordered = [d for d in charted if self.dims[d].ordered and self.dims[d].disadvantaged][:1]
        chosen = [*ordered, *(["age_band"] if "age_band" in charted else [])]
        return chosen or charted[:1]

    def _across(self, name: str) -> str:
        dim = self.dims[name]
        return nouns(dim.noun or lower_first(dim.label))

    def not_stated_text(self) -> Any:
        """The paragraph on missing ethnicity (Markdown: it cross-refers), or None without ethnic groups."""
        from IPython.display import Markdown

        if not self.caps.has("ethnicity"):
            return None
        start = "When a person's ethnic group is not recorded, any inequality they experience is invisible. "
        if not self.has_ethnicity:
            return Markdown(start + "No one in the data has an ethnic group recorded.")
        text = start + f"Of everyone in the data, {self.not_stated_share}% have no ethnic group recorded."
        names = self.not_stated_dimensions
        if names:
            text += " @fig-not-stated shows it by every group. " + " ".join(
                self.not_stated_sentences(n) for n in names
            )
        return Markdown(text)

    # -- figures and tables -------------------------------------------------
    def pyramid(self) -> Any:
        """The population pyramid with its table and download, or a skip note without sex."""
        if not self.has_sex:
            return self.skip("sex column, so no age and sex pyramid")
        missing = self.facts.get("sex_missing") or 0
        unknown = (
            f" The {self.rounded(missing)} people with no sex recorded are not shown." if missing else ""
        )
        return self.book.figure(
            _pyramid_chart,
            id="pyramid",
            title=PYRAMID_TITLE,
            description=(
                "Population pyramid: the number of women (left) and men (right) in each five-year age "
                f"band, youngest at the bottom. The median age is {self.median_age} years.{unknown}"
            ),
            data=self.pyramid_data,
            columns={"age_band": "Age band", "sex": "Sex", "people": "People", "share": "Share of everyone"},
            formats={"people": "integer", "share": ("percent", 1)},
        )

    def composition(self) -> Any:
        """People in each group, one block of rows per dimension (named once), with its download."""
        from IPython.display import HTML

        from healthgap.tables import table_html

        markup = table_html(
            self.composition_data.frame,
            id="composition",
            caption=COMPOSITION_TITLE,
            group="dimension_label",
            columns={"label": "Group", "people": "People", "share": "Share of the dimension"},
            formats={"people": "integer", "share": ("percent", 1)},
        )
        link = self.book.download(self.composition_data, id="composition", title=COMPOSITION_TITLE)
        return HTML(markup + link.data)

    def completeness(self) -> Any:
        """Completeness of each column, with its download."""
        return self.book.table(
            self.completeness_data,
            id="completeness",
            title=COMPLETENESS_TITLE,
            columns={
                "label": "Column",
                "group": "Type",
                "recorded": "Recorded",
                "missing": "Missing",
                "complete": "Complete (%)",
            },
            formats={"recorded": "integer", "missing": "integer", "complete": ("percent", 1)},
        )

    def not_stated_description(self) -> str:
        """The text alternative of the not-stated chart."""
        if self.not_stated_data is None:
            return ""
        data = self.not_stated_data.frame
        text = (
            "Dot charts with 95% confidence intervals of the percentage of people whose ethnic group "
            f"is not stated, for each {not_stated_groups(data, self.dims)}."
        )
        names = self.not_stated_dimensions
        if names:
            text += f" Across {self._across(names[0])} the share is {self.not_stated_extremes(names[0])}."
        return text

    def not_stated(self) -> Any:
        """Dot charts of the share with no ethnic group recorded, with its table and download (or a skip note)."""
        if not self.caps.has("ethnicity"):
            return self.skip("ethnic group column")
        if self.not_stated_data is None:
            return self.skip("ethnic group recorded for anyone")
        return self.book.figure(
            _not_stated_chart,
            id="ethnicity-not-stated",
            title=NOT_STATED_TITLE,
            description=self.not_stated_description(),
            data=self.not_stated_data,
            columns={
                "dimension_label": "Dimension",
                "label": "Group",
                "not_stated": "Not stated",
                "people": "People",
                "value": "Not stated (%)",
                **CI_COLUMNS,
            },
        )


def _pyramid_chart(data: pl.DataFrame) -> Any:
    return charts.pyramid(
        data,
        title=PYRAMID_TITLE,
        value="people",
        sexes=("Female", "Male"),
        labels={"Female": "Female", "Male": "Male"},
        value_title="Number of people",
    )


def _not_stated_chart(data: pl.DataFrame) -> Any:
    return charts.small_multiples(
        data,
        facet="dimension_label",
        group="label",
        title="Ethnic group not recorded",
        value_title="People with ethnicity not stated (%)",
    )
