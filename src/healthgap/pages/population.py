"""Chapter 1, the population and the data: who is in the data, the groups compared, completeness."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.descriptive import population as pop
from healthgap.disclosure import Published
from healthgap.pages.base import CI_COLUMNS, Page
from healthgap.pages.sentences import extremes, fmt
from healthgap.text import join, lower_first

__all__ = [
    "PopulationPage",
    "registered",
    "size",
    "worst_columns",
    "not_stated_groups",
    "EXPECTED_GAPS",
    "GROUP_WORDS",
    "NOT_STATED_DIMENSIONS",
    "PYRAMID_TITLE",
    "COMPOSITION_TITLE",
    "COMPLETENESS_TITLE",
    "NOT_STATED_TITLE",
]

PYRAMID_TITLE = "People by age band and sex"
COMPOSITION_TITLE = "People in each group of each equity dimension"
COMPLETENESS_TITLE = "Completeness of each column"
NOT_STATED_TITLE = "Share of people with no ethnic group recorded, by group"

#: The dimensions the share of people with no ethnic group recorded is shown for (when present).
NOT_STATED_DIMENSIONS = ("imd_quintile", "age_band", "sex", "locality")
#: How each dimension's groups are named in the not-stated chart's description (others: its label).
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
    """``"registered with 100 GP practices"``, or with "a GP practice" when the data have no practice codes."""
    practices = facts.get("practices")
    return (
        f"registered with {fmt(practices, 0)} GP practices" if practices else "registered with a GP practice"
    )


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


def not_stated_groups(table: pl.DataFrame) -> str:
    """How the not-stated chart's panels are named: ``"deprivation fifth, age band, sex and locality"``."""
    dims = table.select("dimension", "dimension_label").unique(maintain_order=True)
    labels = dict(zip(dims.get_column("dimension"), dims.get_column("dimension_label"), strict=True))
    return join(GROUP_WORDS.get(name, lower_first(label)) for name, label in labels.items())


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
        """``"registered with 100 GP practices"``."""
        return registered(self.facts)

    @property
    def median_age(self) -> str:
        """Median age in years (no decimals)."""
        return fmt(self.facts["median_age"], 0)

    @property
    def aged_65_plus(self) -> str:
        """Share aged 65 or over, in % (1 dp, no sign)."""
        return fmt(self.facts["aged_65_plus_share"])

    @property
    def female(self) -> str:
        """Share female, in % (1 dp, no sign)."""
        return fmt(self.facts["female_share"])

    @property
    def not_stated_share(self) -> str:
        """Share of everyone with no ethnic group recorded, in % (1 dp, no sign)."""
        return fmt(self.facts["not_stated_share"])

    @property
    def small_counts(self) -> str:
        """``"; counts from 1 to 7 are never shown"`` when disclosure control is on, else nothing."""
        d = self.config.disclosure
        return f"; counts from 1 to {d.suppress_below - 1} are never shown" if d.enabled else ""

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
            pop.completeness(self.people),
            counts=["people", "missing", "recorded"],
            by=["column"],
            recompute=pop.completeness_shares,
        )

    @cached_property
    def not_stated_data(self) -> Published:
        """Share with no ethnic group recorded, by group of each dimension (from the published counts)."""
        frame = pop.not_stated(self.people, self.config, dimensions=NOT_STATED_DIMENSIONS).select(
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
        """'highest in A (x%) and lowest in B (y%)' across the groups of ``dimension``."""
        return extremes(self.not_stated_data.where(dimension=dimension).frame)

    # -- figures and tables -------------------------------------------------
    def pyramid(self) -> Any:
        """The population pyramid with its table and download."""
        return self.book.figure(
            _pyramid_chart,
            id="pyramid",
            title=PYRAMID_TITLE,
            description=(
                "Population pyramid: the number of women (left) and men (right) in each five-year age "
                f"band, youngest at the bottom. The median age is {self.median_age} years."
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
        data = self.not_stated_data.frame
        text = (
            "Dot charts with 95% confidence intervals of the percentage of people whose ethnic group "
            f"is not stated, for each {not_stated_groups(data)}."
        )
        if "imd_quintile" in data.get_column("dimension").to_list():
            text += f" Across deprivation fifths the share is {self.not_stated_extremes('imd_quintile')}."
        return text

    def not_stated(self) -> Any:
        """Dot charts of the share with no ethnic group recorded, with its table and download."""
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
