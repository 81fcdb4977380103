"""Chapter "Recorded disease": who has cardiovascular disease recorded, by equity dimension.

The page publishes the prevalence table once (:func:`healthgap.descriptive.prevalence`
with exact counts; crude rates, crude rate ratios and Dobson's limits recomputed
from the published counts by :func:`healthgap.descriptive.prevalence.recompute_rates`)
and builds every figure, sentence, the gradient table and the download from that
:class:`~healthgap.disclosure.Published` frame.
"""

from __future__ import annotations

from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension
from healthgap.contract import CONDITION_LABELS
from healthgap.descriptive.prevalence import (
    concentration,
    gradient,
    intersection,
    prevalence,
    recompute_dsr,
    recompute_rates,
)
from healthgap.disclosure import Published
from healthgap.pages.base import RATIO_FORMATS, Page, ci_columns
from healthgap.pages.sentences import extremes, fmt, group_name
from healthgap.pages.sentences import ratio_sentence as rates_sentence
from healthgap.text import capitalise, join, lower_first

__all__ = [
    "RecordedDiseasePage",
    "COUNTS",
    "COLUMNS",
    "FIGURES",
    "GROUP_TITLES",
    "SII_COLUMNS",
    "SII_FORMATS",
    "INTERSECTION_COLUMNS",
    "NOT_AVAILABLE",
    "NO_AREAS",
]

#: The count columns of the prevalence table (published: suppressed 1-7, rounded).
COUNTS = ["events", "population"]
#: Headings of the "show the numbers" table under each prevalence figure.
COLUMNS = ci_columns(
    "Rate (%)",
    ratio=True,
    measure_label="Condition",
    label="Group",
    events="People with the condition",
    population="People",
)
#: The columns of each figure's data (and download).
FIGURE_DATA = (
    "dimension",
    "level",
    "label",
    "measure",
    "measure_label",
    *COUNTS,
    "value",
    "lower_ci",
    "upper_ci",
    "rate_ratio",
    "rr_lower",
    "rr_upper",
    "note",
)
#: Columns of the prevalence table left out of the download "all the numbers".
NOT_DOWNLOADED = ("order", "is_reference", "statistic", "method")
#: Figure id and what the dataset lacks (for the skip note), by dimension.
FIGURES = {
    "imd_quintile": ("prevalence-imd", "deprivation (IMD)"),
    "ethnicity": ("prevalence-ethnicity", "ethnicity"),
    "sex": ("prevalence-sex", "sex"),
    "age_band": ("prevalence-age", "age"),
    "locality": ("prevalence-locality", "locality"),
}
#: Titles of the group axis under each panel (the panels are conditions, so the groups need naming).
GROUP_TITLES = {"imd_quintile": "Deprivation fifth", "age_band": "Age band (years)"}
#: Dimensions whose reference group reads well through :func:`group_name`.
NAMED_REFERENCES = ("imd_quintile", "ethnicity", "sex", "age_band")

#: The slope and relative index of inequality table.
SII_DATA = (
    "condition",
    "population",
    "sii",
    "sii_lower",
    "sii_upper",
    "rii",
    "rii_lower",
    "rii_upper",
    "ci",
    "ci_lower",
    "ci_upper",
    "note",
)
SII_COLUMNS = {
    "condition": "Condition",
    "sii": "SII (percentage points)",
    "sii_lower": "SII lower",
    "sii_upper": "SII upper",
    "rii": "RII",
    "rii_lower": "RII lower",
    "rii_upper": "RII upper",
    "ci": "Concentration index",
    "ci_lower": "CI lower",
    "ci_upper": "CI upper",
}
SII_FORMATS: dict[str, tuple[str, int]] = {
    **{c: ("number", 2) for c in ("sii", "sii_lower", "sii_upper")},
    **{c: ("ratio", 2) for c in ("rii", "rii_lower", "rii_upper")},
    **{c: ("number", 3) for c in ("ci", "ci_lower", "ci_upper")},
}
INTERSECTION_COLUMNS = ci_columns(
    "Rate (%)",
    row_label="Deprivation fifth",
    column_label="Ethnic group",
    events="People with the condition",
    population="People",
)

NOT_AVAILABLE = "This comparison is not available for this dataset."
NO_AREAS = "has no chart of areas for this dataset, because it has no small-area or GP practice column."


class RecordedDiseasePage(Page):
    """The recorded disease chapter."""

    slug = "recorded-disease"

    # -- data ---------------------------------------------------------------
    @cached_property
    def dims(self) -> dict[str, Dimension]:
        """The equity dimensions present, by name."""
        return {d.name: d for d in self.caps.dimensions}

    @cached_property
    def table(self) -> pl.DataFrame:
        """Recorded prevalence of every condition by every dimension: exact aggregates."""
        if not self.caps.conditions:
            return pl.DataFrame()
        return prevalence(self.people, self.config)

    @property
    def conditions(self) -> tuple[str, ...]:
        """The conditions in the prevalence table, in the config's order."""
        return self.caps.conditions if self.table.height else ()

    def label(self, condition: str) -> str:
        """A condition's label, "Coronary heart disease"."""
        return CONDITION_LABELS.get(condition, condition)

    @cached_property
    def published(self) -> Published:
        """The prevalence table as published: the one frame every figure, sentence and download reads."""
        return self.book.publish(
            self.table, counts=COUNTS, recompute=partial(recompute_rates, multiplier=100)
        )

    # -- sentences ----------------------------------------------------------
    def reference_name(self, dim: Dimension) -> str:
        """'the least deprived fifth', 'the White group', 'women', 'people aged 50-54', 'the Ipswich locality'."""
        label = dim.label_of(dim.reference)
        if dim.name in NAMED_REFERENCES:
            return group_name({"dimension": dim.name, "level": dim.reference, "label": label})
        return f"the {label} {lower_first(dim.label)}"

    @property
    def references_text(self) -> str:
        """The reference group of every dimension present, "the least deprived fifth, ... and women"."""
        return join([self.reference_name(d) for d in self.dims.values()]) or "a reference group"

    @property
    def suppress_text(self) -> str:
        """' Counts from 1 to 7 are not published.' (nothing when disclosure control is off)."""
        settings = self.config.disclosure
        return (
            f" Counts from 1 to {settings.suppress_below - 1} are not published." if settings.enabled else ""
        )

    def condition(self, *prefer: str, fallback: int | None = 0) -> str | None:
        """The first of ``prefer`` the dataset has, else its ``fallback``-th condition (or its last).

        ``fallback=None``: None when the dataset has none of ``prefer``.
        """
        chosen = next((c for c in prefer if c in self.conditions), None)
        if chosen is None and fallback is not None and self.conditions:
            chosen = self.conditions[min(fallback, len(self.conditions) - 1)]
        return chosen

    def ratio_sentence(
        self, dimension: str, *prefer: str, fallback: int | None = 0, optional: bool = False
    ) -> str:
        """The group furthest from the reference in the rate of a condition, as a sentence.

        The condition is :meth:`condition` (``prefer``, ``fallback``); with
        ``fallback=None`` and none of ``prefer`` present, nothing is said. Without the
        dimension, the sentence says the comparison is not available (nothing when
        ``optional``).
        """
        condition = self.condition(*prefer, fallback=fallback)
        if condition is None and fallback is None:
            return ""
        dim = self.dims.get(dimension)
        if dim is None:
            return "" if optional else NOT_AVAILABLE
        if condition is None:
            return NOT_AVAILABLE
        return rates_sentence(
            self.published,
            dimension=dimension,
            measure=condition,
            reference=dim.reference,
            outcome=f"to have {lower_first(self.label(condition))} recorded",
        )

    @property
    def geography_text(self) -> str:
        """What the geography chapter shows of recorded disease (completes '@sec-geography ...')."""
        caps = self.caps
        if caps.area_column is None or not self.conditions:
            return NO_AREAS
        if caps.mapped:
            return f"maps recorded disease {caps.area_phrase}."
        return (
            f"shows recorded disease {caps.area_phrase} as a chart of equal-sized tiles "
            "(the dataset has no boundaries to draw a map)."
        )

    # -- figures ------------------------------------------------------------
    def figure(self, dimension: str) -> Any:
        """Small multiples of every condition by ``dimension`` (a dot chart each), or a skip note."""
        fig_id, what = FIGURES[dimension]
        dim = self.dims.get(dimension)
        if dim is None or not self.conditions:
            return self.skip(f"{what} column" if dim is None else "recorded conditions")
        data = self.published.where(pl.col("dimension") == dimension).select(*FIGURE_DATA)
        measure = "crude" if dimension == "age_band" else "age-standardised"
        first = self.conditions[0]
        group_title = GROUP_TITLES.get(dimension, dim.label)
        return self.book.figure(
            lambda d: charts.small_multiples(
                d,
                facet="measure_label",
                group="label",
                title=f"Recorded prevalence by {lower_first(dim.label)}",
                order=[dim.label_of(x) for x in dim.order],
                facet_order=[self.label(c) for c in self.conditions],
                value_title=f"{capitalise(measure)} prevalence (%)",
                group_title=group_title,
            ),
            id=fig_id,
            title=f"Recorded prevalence of each condition by {lower_first(dim.label)} ({measure})",
            description=(
                f"Dot charts, one per condition, of the {measure} recorded prevalence (%) with 95% "
                f"confidence intervals for {self.book.each(dim.label)}. For "
                f"{lower_first(self.label(first))}, it is "
                + extremes(data.where(pl.col("measure") == first))
                + "."
            ),
            data=data,
            columns=COLUMNS,
            formats=RATIO_FORMATS,
        )

    # -- the whole gradient -------------------------------------------------
    @cached_property
    def indices(self) -> Published | None:
        """SII, RII and concentration index of each condition across deprivation fifths, published.

        From the published prevalence table: the populations as published weight
        the regression, and conditions with a suppressed fifth are left out.
        """
        if "imd_quintile" not in self.dims or not self.conditions:
            return None
        shown = self.published.frame
        sii = gradient(shown.filter(pl.col("population") > 0), seed=self.config.seed, published=shown)
        notes = pl.concat_str(
            [pl.col("note"), pl.concat_str([pl.lit("concentration index "), pl.col("ci_note")])],
            separator="; ",
            ignore_nulls=True,
        )
        labels = {c: self.label(c) for c in self.conditions}
        frame = sii.join(concentration(shown, published=shown), on="measure", how="left").with_columns(
            pl.col("measure").replace_strict(labels).alias("condition"),
            pl.when(notes != "").then(notes).alias("note"),
        )
        return self.book.publish(frame.select(*SII_DATA), counts=["population"], by=[])

    def gradient_table(self) -> Any:
        """The SII/RII table, or a skip note."""
        if self.indices is None:
            return self.skip("deprivation (IMD) column")
        return self.book.table(
            self.indices,
            id="sii",
            title="Slope and relative index of inequality across deprivation fifths",
            columns=SII_COLUMNS,
            formats=SII_FORMATS,
        )

    @property
    def steepest_sentence(self) -> str:
        """The condition with the most negative SII (steepest towards deprived areas), or nothing.

        Nothing when no condition has a negative SII: the steepest gradient would then
        not be towards deprived areas.
        """
        if self.indices is None:
            return ""
        steepest = self.indices.frame.filter(pl.col("sii") < 0).sort("sii").head(1)
        if steepest.is_empty():
            return ""
        r = steepest.row(0, named=True)
        return (
            f"The steepest gradient towards deprived areas is for {lower_first(r['condition'])}: an SII of "
            f"{fmt(r['sii'], 2)} percentage points (95% CI {fmt(r['sii_lower'], 2)} to "
            f"{fmt(r['sii_upper'], 2)}), so the most deprived end has "
            f"{fmt(1 / r['rii'], 1)} times the rate of the least deprived end."
        )

    # -- deprivation and ethnicity together ---------------------------------
    @property
    def focus(self) -> str | None:
        """The condition of the intersection heat map: diabetes, else the first condition."""
        return self.condition("diabetes")

    @property
    def focus_name(self) -> str:
        """The focus condition mid-sentence ("diabetes"), or "the condition"."""
        return lower_first(self.label(self.focus)) if self.focus else "the condition"

    def intersection_figure(self) -> Any:
        """Heat map of the focus condition by deprivation fifth and ethnic group, or a skip note."""
        focus = self.focus
        if focus is None or "imd_quintile" not in self.dims or "ethnicity" not in self.dims:
            return self.skip("deprivation or ethnicity columns")
        cross = self.book.publish(
            intersection(self.people, self.config, condition=focus),
            counts=COUNTS,
            by=[],
            across=["row_label", "column_label"],
            recompute=recompute_dsr,
        )
        ethnicity, imd = self.dims["ethnicity"], self.dims["imd_quintile"]
        label = self.label(focus)
        return self.book.figure(
            lambda d: charts.heatmap(
                d,
                x="column_label",
                y="row_label",
                title=f"{label}: deprivation and ethnic group",
                x_order=[ethnicity.label_of(x) for x in ethnicity.order],
                y_order=[imd.label_of(x) for x in imd.order],
                legend_title="Age-standardised prevalence (%)",
                x_title="Ethnic group",
                y_title="Deprivation fifth",
            ),
            id="intersection",
            title=f"{label}: age-standardised prevalence by deprivation fifth and ethnic group",
            description=(
                f"Heat map of age-standardised {lower_first(label)} prevalence (%) with deprivation "
                "fifths as rows and ethnic groups as columns; darker cells have higher prevalence. Empty "
                "cells have too few people to publish."
            ),
            data=cross,
            columns=INTERSECTION_COLUMNS,
        )

    # -- all the numbers ----------------------------------------------------
    def download(self) -> Any:
        """The whole published prevalence table as a CSV download, or a skip note."""
        if not self.conditions:
            return self.skip("recorded conditions")
        kept = [c for c in self.published.columns if c in self.table.columns and c not in NOT_DOWNLOADED]
        return self.book.download(
            self.published.select(*kept),
            id="prevalence-all",
            title=(
                "Recorded prevalence by condition and equity dimension: crude and age-standardised rates, "
                "rate ratios"
            ),
        )
