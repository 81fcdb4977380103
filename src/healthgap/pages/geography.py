"""Geography: recorded disease by locality and by small area (a map, or a chart of tiles).

Everything ``chapters/geography.qmd`` computes, words and shows. Which area
column is drawn and whether it is a map or a chart of equal tiles come from
the page's capabilities (:attr:`~healthgap.pages.capabilities.Capabilities.area_column`,
:attr:`~healthgap.pages.capabilities.Capabilities.area_view`), which every page
shares. The locality table and the areas are each published once (simple
statistics recomputed from the published counts) and the sentences read the
published frames.
"""

from __future__ import annotations

import json
from functools import cached_property, partial
from typing import Any, NamedTuple

import polars as pl
from scipy.special import bdtrc

from healthgap import charts
from healthgap.descriptive import measure_label
from healthgap.descriptive.geography import (
    EVENT_PER,
    ISR_LIMITS,
    LOCALITY_PER,
    area_isr,
    area_rates,
    area_statistics,
    isr_statistics,
    locality_rates,
)
from healthgap.descriptive.prevalence import dsr_ratio_rows, dsr_ratio_statistics, recompute_rates
from healthgap.disclosure import Published
from healthgap.pages._blocks import blocks, numbered
from healthgap.pages.base import RATIO_FORMATS, Page, ci_columns
from healthgap.pages.sentences import extremes, fmt, group_name
from healthgap.stats import bonferroni_ratio
from healthgap.text import capitalise, lower_first, pct

__all__ = [
    "GeographyPage",
    "UnitWords",
    "UNIT_WORDS",
    "FOCUS",
    "LSOA_RESIDENTS",
    "LOCALITY_COLUMNS",
    "LOCALITY_FORMATS",
    "TABLE_COLUMNS",
    "OUTCOME_TABLE_COLUMNS",
    "OUTCOME_LEAD",
    "LOCALITY_LEAD",
    "LOCALITY_TAIL",
    "NO_AREAS",
    "ISR_LEAD",
    "ISR_DERIVED",
    "IsrFunnel",
    "contrast_sentence",
    "isr_sentence",
    "dispersion_sentence",
]

#: The condition the map shows: the first of these the dataset has, else its first condition.
FOCUS = ("hypertension", "chd")
#: National size of an LSOA (ONS: about 1,500 residents, 1,000 to 3,000).
LSOA_RESIDENTS = "1,500"
#: Columns of the locality table (and its download).
LOCALITY_COLUMNS = (
    "dimension",
    "measure",
    "measure_label",
    "level",
    "label",
    "events",
    "population",
    "value",
    "lower_ci",
    "upper_ci",
    "rate_ratio",
    "rr_lower",
    "rr_upper",
)
#: Headings of the locality table.
TABLE_COLUMNS = ci_columns(
    "Recorded (%)",
    ratio=True,
    measure_label="Condition",
    label="Locality",
    events="People with it",
    population="People",
)
#: Headings of the locality table of outcomes (event rates per 1,000 people).
OUTCOME_TABLE_COLUMNS = ci_columns(
    f"Rate per {EVENT_PER:,}",
    ratio=True,
    measure_label="Outcome",
    label="Locality",
    events="Events",
    population="People",
)
#: Rates to 2 decimal places, ratios as in the text.
LOCALITY_FORMATS = {c: ("number", 2) for c in ("value", "lower_ci", "upper_ci")} | RATIO_FORMATS
LOCALITY_LEAD = (
    "@tbl-localities gives the age-standardised recorded prevalence (%) of every condition in each locality, "
    "with rate ratios comparing each locality with the reference locality."
)
#: The sentence on the outcome table (event rates per 1,000 people: the book's unit for events).
OUTCOME_LEAD = (
    "@tbl-locality-outcomes gives the age-standardised rate of every outcome per {per} people in each "
    "locality, with the same rate ratios."
)
LOCALITY_TAIL = (
    "Localities differ in deprivation as well as age, so part of these differences reflects the "
    "deprivation gradients in @sec-disease."
)
#: The same for a dataset whose first ordered dimension is not deprivation ("{label}": "education level").
LOCALITY_TAIL_ANY = (
    "Localities differ in {label} as well as age, so part of these differences reflects the gradients in "
    "@sec-disease."
)
#: The same without an ordered dimension.
LOCALITY_TAIL_NONE = (
    "Localities differ in who lives there as well as in age, so these differences need not come from place "
    "alone."
)
#: The skip note's reason when the dataset has no geography at all.
NO_AREAS = "locality, small-area or GP practice column"
_COUNTS = ["events", "population"]
#: What the funnel plots of ratios show and why (the lead of the section).
ISR_LEAD = (
    "Crude rates compare {plural} with different age and sex mixes: a {singular} with older people "
    "has more disease without doing anything differently. Each {singular} below is compared with what the "
    "rates of the whole population, age band by age band and for women and men separately, would give its "
    "own people: the ratio of observed to expected (an indirectly standardised ratio, 1 = as expected). The "
    "funnel plots draw 95% and 99.8% control limits around 1, which narrow as the expected number grows; a "
    "{singular} outside the 99.8% limits is unlikely to differ by chance alone."
)
#: Values withheld with each count (rule 3 of the disclosure rules).
ISR_DERIVED = {
    "events": ["value", "lower_ci", "upper_ci", "flag_95", "flag_99_8"],
    "population": [
        "expected",
        "value",
        "lower_ci",
        "upper_ci",
        "flag_95",
        "flag_99_8",
        "lower_95",
        "upper_95",
        "lower_998",
        "upper_998",
    ],
}
#: The funnel's control limits in its table and download.
LIMIT_COLUMNS = {
    "lower_95": "95% limit, lower",
    "upper_95": "95% limit, upper",
    "lower_998": "99.8% limit, lower",
    "upper_998": "99.8% limit, upper",
}
#: The share of units expected outside the 99.8% limits by chance alone.
OUTSIDE_998 = 0.002


class UnitWords(NamedTuple):
    """How a kind of mapped unit reads."""

    #: "small areas"
    plural: str
    #: "small area"
    singular: str
    #: the table heading of its column, "Area"
    heading: str
    #: whose share its rate is, "residents"
    residents: str


#: How each kind of mapped unit reads.
UNIT_WORDS = {
    "lsoa": UnitWords("small areas", "small area", "Area", "residents"),
    "gp_practice": UnitWords("GP practices", "GP practice", "Practice", "registered patients"),
    "locality": UnitWords("localities", "locality", "Locality", "residents"),
}
_OTHER_UNITS = UnitWords("areas", "area", "Area", "people")


class IsrFunnel(NamedTuple):
    """Areas (GP practices) on a funnel plot of observed / expected events of one measure."""

    #: the measure
    measure: str
    #: its label in a sentence ("hypertension", "CVD emergency admissions")
    name: str
    #: the area column ("gp_practice")
    unit: str
    #: each area's counts, expected events, ratio, interval and flags, published
    points: Published
    #: the control limits at each area's published expected events (the points' own columns)
    limits: pl.DataFrame
    #: D = Σ k² / Σ k of the events per person (1: no one has more than one)
    dispersion: float
    #: whether the measure counts events (they can repeat for one person), not people
    is_count: bool


def isr_sentence(frame: pl.DataFrame, *, name: str, plural: str) -> str:
    """How many areas lie above and below the 99.8% limits, against what chance alone would give.

    Parameters
    ----------
    frame : the published points (``value``, ``flag_99_8``).
    name : the measure in a sentence ("recorded hypertension").
    plural : the units ("GP practices").
    """
    shown = frame.filter(pl.col("value").is_not_null())
    n = shown.height
    if not n:
        return f"None of the {plural} has enough people and events to publish a ratio of {name}."
    above = shown.filter(pl.col("flag_99_8") == "above").height
    below = shown.filter(pl.col("flag_99_8") == "below").height
    hidden = frame.height - n
    withheld = f" (for {hidden} more the counts are too small to publish)" if hidden else ""
    expected = n * OUTSIDE_998
    chance = (
        f"chance alone would put about 1 in {round(1 / OUTSIDE_998):,} outside them, "
        f"{fmt(expected, 1 if expected >= 0.05 else 2)} of these {n}"
    )
    if not above and not below:
        return (
            f"All {n} {plural} shown{withheld} are within the 99.8% limits for {name}: none has more or less than "
            f"its age and sex mix would give beyond what chance explains ({chance})."
        )
    outside = above + below
    # the chance of this many or more outside if every area were as expected (binomial, 0.2% each)
    p_value = float(bdtrc(outside - 1, n, OUTSIDE_998))  # binomial P(X >= outside)
    chance_of = "less than 0.1%" if p_value < 0.0005 else pct(p_value)
    if p_value < 0.05 and outside == 1:
        verdict = f"so it is unlikely to be outside by chance alone (a chance of {chance_of} that one or more would be)."
    elif p_value < 0.05:
        verdict = (
            f"so more lie outside than chance alone would readily give (a chance of {chance_of} that "
            f"{outside} or more would): at least some of them differ."
        )
    else:
        verdict = f"so {'this one' if outside == 1 else 'these'} could be outside by chance."
    above_text = "none is above" if not above else f"{above} {'is' if above == 1 else 'are'} above"
    below_text = "none is below" if not below else f"{below} {'is' if below == 1 else 'are'} below"
    return (
        f"Of the {n} {plural} shown{withheld}, {above_text} the 99.8% limits for {name} (more than their age "
        f"and sex mix would give) and {below_text} (less); {chance}, {verdict}"
    )


def dispersion_sentence(dispersion: float, *, noun: str) -> str:
    """Why the limits of a count of events are wider than Poisson's (or not), with D."""
    if dispersion <= 1:
        return f"No one has more than one of the {noun}, so they are independent events."
    return (
        f"{capitalise(noun)} can repeat for one person, so their numbers vary more than chance alone would "
        f"make them: here {fmt(dispersion, 2)} times as much, in variance, as if every one happened to a "
        "different person (the Methods appendix gives the formula). The limits and intervals allow for "
        f"that: they are about {fmt(dispersion**0.5, 2)} times as wide."
    )


def contrast_sentence(table: pl.DataFrame, ratio: dict[str, Any] | None, *, name: str) -> str:
    """Highest and lowest locality and whether the gap between them could be due to chance.

    Parameters
    ----------
    table : the published locality rates of one measure.
    ratio : the published rate ratio of the highest against the lowest (``value``,
        ``lower_ci``, ``upper_ci``), or None.
    name : the measure in a sentence ("hypertension").
    """
    pub = table.filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
    if pub.height < 2:
        return f"Age-standardised recorded {name} is {extremes(pub)}."
    hi = pub.sort("value", descending=True).row(0, named=True)
    lo = pub.sort("value").row(0, named=True)
    text = (
        f"Age-standardised recorded {name} is highest in {hi['label']} ({fmt(hi['value'])}%) and lowest "
        f"in {lo['label']} ({fmt(lo['value'])}%)"
    )
    r = ratio or {}
    if r.get("lower_ci") is None or r.get("upper_ci") is None:
        return text + "."
    said = f"rate ratio {fmt(r['value'], 2)}, 95% CI {fmt(r['lower_ci'], 2)} to {fmt(r['upper_ci'], 2)}"
    low, high = r["lower_ci"], r["upper_ci"]
    k = pub.height
    if k > 2 and r["value"] and low > 0:
        low, high = bonferroni_ratio(r["value"], low, high, pairs=k * (k - 1) // 2)
        said += (
            f"; {fmt(low, 2)} to {fmt(high, 2)} allowing for the {k * (k - 1) // 2} pairs of {k} localities"
        )
    if low <= 1 <= high:
        return text + f"; the difference between them could be due to chance ({said})."
    return text + f" ({said})."


class GeographyPage(Page):
    """The geography chapter."""

    slug = "geography"

    # -- what the dataset has ------------------------------------------------
    @cached_property
    def focus(self) -> str | None:
        """The condition mapped and compared between localities, or None."""
        conditions = self.caps.conditions
        return next((c for c in (*FOCUS, *conditions) if c in conditions), None)

    @property
    def focus_name(self) -> str:
        """The focus condition in a sentence ("hypertension"), or "disease"."""
        return lower_first(measure_label(self.config, self.focus)) if self.focus else "disease"

    @property
    def area(self) -> str | None:
        """The area column drawn (:attr:`Capabilities.area_column`)."""
        return self.caps.area_column

    @property
    def mapped(self) -> bool:
        """Whether the areas are drawn as a map (boundaries), not as tiles."""
        return self.caps.area_view == "map"

    @property
    def units(self) -> UnitWords:
        """How the drawn unit reads."""
        return UNIT_WORDS.get(self.area or "", _OTHER_UNITS)

    @property
    def has_localities(self) -> bool:
        return self.caps.dimension("locality") is not None

    @property
    def has_places(self) -> bool:
        """Whether the chapter has anything to show: localities, or an area column with a condition."""
        return (self.has_localities and bool(self.locality_measures)) or bool(self.area and self.focus)

    def intro(self) -> Any:
        """Why places matter and what the chapter compares (Markdown), or one skip note when the dataset has
        no geography."""
        from IPython.display import Markdown

        scope = ["between the localities of the area"] if self.has_localities else []
        if self.area and self.focus and self.area != "locality":
            lsoa = " (lower-layer super output areas, LSOAs)" if self.area == "lsoa" else ""
            scope.append(f"between {self.units.plural}{lsoa}")
        if not scope:
            return self.skip(NO_AREAS)
        return Markdown(
            "Where people live shapes their health. This chapter shows how recorded disease varies "
            + " and ".join(scope)
            + "."
        )

    # -- localities -----------------------------------------------------------
    @cached_property
    def locality_measures(self) -> list[str]:
        """Every condition and outcome the dataset has."""
        return [*self.caps.conditions, *self.caps.outcomes]

    @cached_property
    def locality_exact(self) -> pl.DataFrame | None:
        """Age-standardised recorded prevalence (%) by locality: exact aggregates (None without localities
        or conditions)."""
        if not self.has_localities or not self.caps.conditions:
            return None
        return locality_rates(
            self.people, self.config, measures=self.caps.conditions, multiplier=LOCALITY_PER
        )

    @cached_property
    def localities(self) -> Published | None:
        """Age-standardised recorded prevalence (%) by locality, published; None without localities."""
        exact = self.locality_exact
        if exact is None:
            return None
        return self.book.publish(
            exact,
            counts=_COUNTS,
            recompute=lambda f: recompute_rates(f, multiplier=LOCALITY_PER).select(LOCALITY_COLUMNS),
        )

    @cached_property
    def outcome_localities(self) -> Published | None:
        """Age-standardised outcome rates per 1,000 people by locality, published; None without localities
        or outcomes."""
        if not self.has_localities or not self.caps.outcomes:
            return None
        exact = locality_rates(self.people, self.config, measures=self.caps.outcomes, multiplier=EVENT_PER)
        return self.book.publish(
            exact,
            counts=_COUNTS,
            recompute=lambda f: recompute_rates(f, multiplier=EVENT_PER).select(LOCALITY_COLUMNS),
        )

    @property
    def locality_tail(self) -> str:
        """Why localities differ: in deprivation (or the dataset's first ordered dimension) as well as age."""
        social = next((d for d in self.caps.dimensions if d.ordered and d.disadvantaged), None)
        if social is None:
            return LOCALITY_TAIL_NONE
        if social.name == "imd_quintile":
            return LOCALITY_TAIL
        return LOCALITY_TAIL_ANY.format(label=social.noun or lower_first(social.label))

    def locality_paragraph(self) -> Any:
        """The paragraph on the locality table (Markdown: it cross-refers), or None without localities."""
        from IPython.display import Markdown

        if self.localities is None and self.outcome_localities is None:
            return None
        lead = LOCALITY_LEAD if self.localities is not None else ""
        outcomes = OUTCOME_LEAD.format(per=f"{EVENT_PER:,}") if self.outcome_localities is not None else ""
        if not lead:
            outcomes = outcomes.replace(
                "with the same rate ratios",
                "with rate ratios comparing each locality with the reference locality",
            )
        parts = (lead, self.locality_text(), outcomes, self.locality_tail)
        return Markdown(" ".join(t for t in parts if t))

    def locality_ratio(self, measure: str, level: str, reference: str) -> dict[str, Any] | None:
        """The published age-standardised rate ratio of two localities, or None.

        The ratio of their DSRs, with its interval from the counts as published
        (:func:`~healthgap.descriptive.prevalence.dsr_ratio_statistics`).
        """
        if self.locality_exact is None:
            return None
        pair = dsr_ratio_rows(self.locality_exact, measure=measure, level=level, reference=reference)
        if pair.height < 2:
            return None
        published = self.book.publish(
            pair,
            counts=_COUNTS,
            recompute=partial(dsr_ratio_statistics, level=level, reference=reference),
        )
        return published.row(level=level)

    def locality_contrast(self, measure: str) -> str:
        """Highest and lowest locality of ``measure`` and whether they differ by more than chance."""
        if self.localities is None:
            return ""
        table = self.localities.where(pl.col("measure") == measure).frame
        shown = table.filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
        ratio = None
        if shown.height >= 2:
            hi = shown.sort("value", descending=True).row(0, named=True)
            lo = shown.sort("value").row(0, named=True)
            ratio = self.locality_ratio(measure, hi["level"], lo["level"])
        return contrast_sentence(table, ratio, name=lower_first(measure_label(self.config, measure)))

    def locality_text(self) -> str:
        """The reference locality and the focus condition's contrast, or ""."""
        dim = self.caps.dimension("locality")
        if (self.localities is None and self.outcome_localities is None) or dim is None:
            return ""
        ref = group_name(
            {"dimension": "locality", "level": dim.reference, "label": dim.label_of(dim.reference)}
        )
        return f"The reference locality is {ref}." + (
            f" {self.locality_contrast(self.focus)}" if self.focus and self.localities is not None else ""
        )

    def locality_table(self) -> Any:
        """The locality table with its download, or a skip note."""
        if self.localities is None:
            return self.skip("locality column" if not self.has_localities else "recorded conditions")
        return self.book.table(
            self.localities,
            id="localities",
            title="Age-standardised recorded prevalence (%) by locality",
            columns=TABLE_COLUMNS,
            formats=LOCALITY_FORMATS,
        )

    def outcome_locality_table(self) -> Any:
        """The locality table of outcomes (per 1,000 people) with its download, or a skip note (None when the
        dataset has no localities: the table of conditions says so once)."""
        if self.outcome_localities is None:
            return None if not self.has_localities else self.skip("outcome columns")
        return self.book.table(
            self.outcome_localities,
            id="locality-outcomes",
            title=f"Age-standardised outcome rates per {EVENT_PER:,} people by locality",
            columns=OUTCOME_TABLE_COLUMNS,
            formats=LOCALITY_FORMATS,
        )

    # -- areas after their age and sex mix ------------------------------------------
    @property
    def isr_unit(self) -> str | None:
        """The unit of the funnel plots of ratios: GP practice when present, else the drawn area."""
        return "gp_practice" if self.caps.has("gp_practice") else self.area

    @property
    def isr_units(self) -> UnitWords:
        return UNIT_WORDS.get(self.isr_unit or "", _OTHER_UNITS)

    @property
    def isr_outcome(self) -> str | None:
        """The outcome of the second funnel: the first counting events (admissions), else the first."""
        outcomes = self.caps.outcomes
        counted = [o for o in outcomes if (m := self.caps.measures.get(o)) is not None and m.type == "count"]
        return next(iter(counted or outcomes), None)

    def isr_funnel(self, which: str) -> IsrFunnel | None:
        """The funnel of ``which`` ("condition": the focus condition; "outcome": :attr:`isr_outcome`)."""
        return self._isr_funnels.get(which)

    @cached_property
    def _isr_funnels(self) -> dict[str, IsrFunnel]:
        unit = self.isr_unit
        if unit is None or not self.caps.has("age"):
            return {}
        out = {}
        for which, measure in (("condition", self.focus), ("outcome", self.isr_outcome)):
            if measure is None:
                continue
            exact, dispersion = area_isr(self.people, measure=measure, area=unit)
            if exact.is_empty() or not exact["events"].sum():
                continue
            points = self.book.publish(
                exact,
                counts=_COUNTS,
                by=[],
                derived=ISR_DERIVED,
                recompute=partial(isr_statistics, area=unit, dispersion=dispersion),
            )
            m = self.caps.measures.get(measure)
            is_count = m is not None and m.type == "count"
            label = lower_first(measure_label(self.config, measure))
            name = f"recorded {label}" if which == "condition" else label
            out[which] = IsrFunnel(
                measure,
                name,
                unit,
                points,
                points.frame.select(*ISR_LIMITS).drop_nulls().unique().sort("expected"),
                dispersion,
                is_count,
            )
        return out

    def isr_intro(self) -> Any:
        """The lead of the funnel plots (Markdown), or one skip note without areas or measures."""
        from IPython.display import Markdown

        if not self._isr_funnels:
            if self.isr_unit is None:
                return self.skip("GP practice or small-area column")
            return self.skip("age column, or recorded conditions or outcomes with events in the areas")
        u = self.isr_units
        return Markdown(ISR_LEAD.format(plural=u.plural, singular=u.singular))

    def isr_text(self, which: str) -> str:
        """The sentences under one funnel plot, or ""."""
        f = self.isr_funnel(which)
        if f is None:
            return ""
        text = isr_sentence(f.points.frame, name=f.name, plural=self.isr_units.plural)
        if f.is_count:
            text += " " + dispersion_sentence(f.dispersion, noun=f.name)
        return text

    def isr_figure(self, which: str) -> Any:
        """The funnel plot of observed / expected of ``which`` (markup), or None."""
        f = self.isr_funnel(which)
        if f is None:
            return None
        u = self.isr_units
        label = measure_label(self.config, f.measure)
        title = f"{('Recorded ' + lower_first(label)) if which == 'condition' else label} by {u.singular}: observed / expected"
        return self.book.figure(
            lambda d: charts.funnel(
                d,
                limits=f.limits,
                target=1.0,
                title=title,
                unit=f.unit,
                denominator="expected",
                flag="flag_99_8",
                value_title="Observed / expected (age and sex)",
                denominator_title="Expected events",
            ),
            id=f"isr-{which}",
            title=title,
            description=(
                f"Funnel plot: each dot is a {u.singular}, with the number of {f.name} its age and sex mix would "
                "give along the bottom and the ratio of observed to expected up the side; curved lines show 95% and "
                "99.8% control limits around 1. " + self.isr_text(which)
            ),
            data=f.points,
            columns={
                f.unit: u.heading,
                "population": "People",
                "events": "Observed",
                "expected": "Expected",
                **ci_columns("Observed / expected"),
                "flag_99_8": "Position against the 99.8% limits",
                **LIMIT_COLUMNS,
            },
            formats={
                "expected": ("number", 1),
                **{c: ("ratio", 2) for c in ("value", "lower_ci", "upper_ci", *LIMIT_COLUMNS)},
            },
        )

    def isr_caption(self, which: str) -> str:
        """The funnel's caption, naming the unit it shows ("Recorded hypertension in each GP practice:
        observed / expected from age and sex"), or "" without the funnel."""
        f = self.isr_funnel(which)
        if f is None:
            return ""
        label = measure_label(self.config, f.measure)
        what = f"Recorded {lower_first(label)}" if which == "condition" else label
        return f"{what} in each {self.isr_units.singular}: observed / expected from age and sex"

    def isr_block(self, which: str) -> Any:
        """The funnel plot as a numbered figure (``fig-isr-<which>``) with :meth:`isr_caption`, or None."""
        figure = self.isr_figure(which)
        if figure is None:
            return None
        return blocks(numbered(figure, label=f"fig-isr-{which}", caption=self.isr_caption(which)))

    def isr_paragraph(self, which: str) -> Any:
        """:meth:`isr_text` as a paragraph (Markdown), or None."""
        from IPython.display import Markdown

        text = self.isr_text(which)
        return Markdown(text) if text else None

    # -- small areas ---------------------------------------------------------------
    @property
    def area_heading(self) -> str:
        """The section heading: a map only when there are boundaries, else "by <unit>"."""
        if self.mapped or not self.area:
            return "Mapping recorded disease"
        return f"Recorded disease by {self.units.singular}"

    @cached_property
    def areas(self) -> Published | None:
        """The focus condition's crude rate in each area, published; None without areas or conditions."""
        area, focus = self.area, self.focus
        if not area or not focus:
            return None
        measure = self.caps.measures.get(focus)
        flag = None if measure is None else measure.type == "flag"
        exact = area_rates(self.people, measure=focus, area=area, flag=flag)
        # small areas add up to the published locality totals: each locality's areas are one set
        by = ["locality"] if "locality" in exact.columns and area != "locality" else []
        return self.book.publish(
            exact,
            counts=_COUNTS,
            by=by,
            recompute=lambda f: area_statistics(f, measure=focus, area=area, flag=flag),
        )

    def area_text(self) -> str:
        """How many areas have a published rate and the range of the rates."""
        if self.areas is None:
            return ""
        units = self.units
        published = self.areas.frame.filter(pl.col("value").is_not_null())
        n_areas, n_pub = self.areas.height, published.height
        if not n_pub:
            return f"None of the {units.plural} has enough people and cases to publish a rate."
        enough = (
            f"All {n_areas} {units.plural} have"
            if n_pub == n_areas
            else f"Of the {n_areas} {units.plural}, {n_pub} have"
        )
        low, high = published.select(
            pl.col("value").min().alias("low"), pl.col("value").max().alias("high")
        ).row(0)
        return (
            f"{enough} enough people and cases to publish a rate. Recorded {self.focus_name} ranges from "
            f"{fmt(low)}% to {fmt(high)}% of {units.residents} "
            "(crude rates, not adjusted for age)."
        )

    def size_text(self) -> str:
        """How big the small areas are here (to the nearest 10 people), against a national LSOA."""
        if self.areas is None or self.area != "lsoa" or not self.areas.height:
            return ""
        mean = self.areas.frame.select(pl.col("population").mean()).item()
        if mean is None:
            return ""
        return (
            f"Nationally an LSOA has about {LSOA_RESIDENTS} residents; the {self.areas.height} areas in this "
            f"dataset hold {fmt(round(float(mean), -1), 0)} people each on average."
        )

    @property
    def grouped(self) -> bool:
        """Whether the tiles are grouped by locality."""
        return self.areas is not None and "locality" in self.areas.columns and self.area != "locality"

    @property
    def in_code_order(self) -> bool:
        """Whether tiles would be placed in order of their codes alone (no boundaries, no
        localities to group them by): such a chart shows nothing the table does not, so the
        areas are shown as a table instead."""
        return self.areas is not None and not self.mapped and not self.grouped

    def map_kind(self) -> str:
        """What the figure is: a map of boundaries, or a chart of tiles (and why)."""
        units = self.units
        if self.mapped:
            return "map of their boundaries"
        size = (
            ", all the same size so that small urban areas are as visible as large rural ones"
            if self.area != "gp_practice"
            else ", all the same size whatever the size of the practice"
        )
        return (
            f"chart of hexagonal tiles, not a map: each hexagon is one {units.singular}"
            + (", grouped by locality" if self.grouped else "")
            + size
            + f". There are no boundaries for these {units.plural} to draw a map with, so the tiles are placed "
            "in order of their codes, not where they are"
        )

    def reading(self) -> str:
        """How to read a single area's rate."""
        start = f"Rates for single {self.units.plural} rest on few people, so each should be read with its confidence "
        if self.mapped:
            return start + (
                "interval (in the table under the map); look for clusters of similar areas rather than single "
                "dark ones."
            )
        return start + "interval (in the table under the chart) rather than from its shade alone."

    def map_paragraph(self) -> Any:
        """The paragraph about the map or tile chart (Markdown: it cross-refers), or None."""
        from IPython.display import Markdown

        if self.areas is None:
            return None
        if self.in_code_order:
            listed = (self.size_text(), self.area_text())
            return Markdown(
                f"@tbl-map gives recorded {self.focus_name} for each of the {self.units.plural}, with its 95% "
                f"confidence interval. There are no boundaries for these {self.units.plural} to draw a map with, "
                "so they are listed rather than drawn. " + " ".join(t for t in listed if t)
            )
        parts = (self.size_text(), self.area_text(), self.reading())
        return Markdown(
            f"@fig-map shows recorded {self.focus_name} for each of the {self.units.plural} as a "
            f"{self.map_kind()}. " + " ".join(t for t in parts if t)
        )

    def map_columns(self) -> dict[str, str]:
        """Headings of the table under the map."""
        area = self.area or ""
        first = {area: self.units.heading}
        if self.areas is not None and "locality" in self.areas.columns:
            first["locality"] = "Locality"
        return {
            **first,
            "events": "People with the condition",
            "population": "People",
            **ci_columns("Recorded (%)"),
        }

    def map_figure(self) -> Any:
        """The map (or tile chart) of recorded disease by area, or a skip note."""
        areas, area = self.areas, self.area
        if areas is None or area is None:
            if area is not None and not self.focus:
                return self.skip("recorded conditions to show")
            return self.skip("small-area (lsoa), GP practice or boundary key column")
        if self.in_code_order:
            return None
        units = self.units
        title = f"Recorded {self.focus_name} by {units.singular} (%)"
        chart_word = "map" if self.mapped else "tile chart"
        description = (
            f"{chart_word.capitalize()} of crude recorded {self.focus_name} prevalence (%) in each "
            f"{units.singular}, in five shades from lightest (lowest) to darkest (highest); grey "
            f"{'areas' if self.mapped else 'tiles'} have too few people to publish. " + self.area_text()
        )
        return self.book.figure(
            self._map_builder(areas.frame, area=area, title=title),
            id="map",
            title=title,
            description=description,
            data=areas,
            columns=self.map_columns(),
        )

    def map_block(self) -> Any:
        """The map (or tile chart) as a numbered figure (``fig-map``) whose caption names the unit
        ("Recorded hypertension in each small area"), its table (``tbl-map``) when the areas are in
        code order, or the skip note."""
        figure = self.map_figure()
        if self.areas is None or self.area is None:
            return figure
        caption = f"Recorded {self.focus_name} in each {self.units.singular}"
        if self.in_code_order:
            table = self.map_table()
            return None if table is None else blocks(numbered(table, label="tbl-map", caption=caption))
        return blocks(numbered(figure, label="fig-map", caption=caption))

    def map_table(self) -> Any:
        """The areas' recorded disease as a table, when a tile chart would place them in order of
        their codes alone (:attr:`in_code_order`); None otherwise (the map or chart has the table)."""
        if self.areas is None or not self.in_code_order:
            return None
        return self.book.table(
            self.areas,
            id="map",
            title=f"Recorded {self.focus_name} by {self.units.singular} (%)",
            columns=self.map_columns(),
        )

    def _map_builder(self, frame: pl.DataFrame, *, area: str, title: str) -> Any:
        """The chart builder: a choropleth on the boundaries, or hexagonal tiles."""
        if self.mapped and self.config.data.boundaries is not None:
            geo = json.loads(self.config.data.boundaries.read_text(encoding="utf-8"))
            return lambda d: charts.choropleth(
                d, geojson=geo, title=title, key=area, legend_title="Recorded (%)"
            )
        if "locality" in frame.columns and area != "locality":
            layout = charts.hex_layout(frame.select(area, "locality"), key=area, group="locality")
        else:
            layout = charts.hex_layout(
                frame.select(area).with_columns(pl.lit("All").alias("__g")), key=area, group="__g"
            )
        tiles = layout.select(area, "q", "r")
        return lambda d: charts.hex_map(
            d.join(tiles, on=area, how="left"), title=title, key=area, legend_title="Recorded (%)"
        )
