"""Chapter "Recorded disease": who has each condition recorded, by equity dimension.

The page publishes the prevalence table once (:func:`healthgap.descriptive.prevalence`
with exact counts; crude rates, crude rate ratios and the limits of the DSRs and of
their ratios recomputed from the published counts by
:func:`healthgap.descriptive.prevalence.recompute_rates`) and builds every figure,
sentence, the gradient table and the download from that
:class:`~healthgap.disclosure.Published` frame.

The conditions are the config's (``config.measures_of("condition")``), named by their
labels; the groups by their dimension's noun and level labels. The first ordered
dimension with a disadvantaged end (deprivation in the default book) has the first
section; ethnic group, sex, age band and locality have theirs; any other dimension
of the config is shown in "other groups". A section whose dimension or conditions
the dataset lacks is one skip note.
"""

from __future__ import annotations

from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension
from healthgap.descriptive import measure_label
from healthgap.descriptive.prevalence import (
    concentration,
    covered_bands,
    gradient,
    intersection,
    prevalence,
    recompute_dsr,
    recompute_rates,
)
from healthgap.descriptive.risk_factors import (
    ADULT_AGE,
    RiskFactor,
    risk_factor_shares,
    risk_factors,
    standardised_means,
)
from healthgap.disclosure import Published
from healthgap.pages._risk_factors import NO_RISK_FACTORS, ends_sentence, spread_sentence
from healthgap.pages.base import RATIO_FORMATS, Page, ci_columns, escape_markdown, numbered
from healthgap.pages.sentences import extremes, fmt, group_name, level_name, nouns, with_multiplicity
from healthgap.pages.sentences import ratio_sentence as rates_sentence
from healthgap.stats.dsr import NOTE_EMPTY_BAND
from healthgap.tables import FEW_EVENTS, missing_reasons
from healthgap.tables import NOT_AVAILABLE as MISSING_NOT_AVAILABLE
from healthgap.text import capitalise, join, lower_first

__all__ = [
    "RecordedDiseasePage",
    "COUNTS",
    "COLUMNS",
    "FIGURES",
    "GROUP_TITLES",
    "SII_COLUMNS",
    "SII_FORMATS",
    "NOT_AVAILABLE",
    "NO_AREAS",
    "NO_ORDERED_TO_COMBINE",
    "BUILT_IN",
    "log_gradient",
    "rii_words",
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
#: Figure id and what the dataset lacks (for the skip note), by built-in dimension.
FIGURES = {
    "imd_quintile": ("prevalence-imd", "deprivation (IMD)"),
    "ethnicity": ("prevalence-ethnicity", "ethnic group"),
    "sex": ("prevalence-sex", "sex"),
    "age_band": ("prevalence-age", "age band"),
    "locality": ("prevalence-locality", "locality"),
}
#: Dimensions with a section of their own (the first ordered one with a disadvantaged end has the first).
BUILT_IN = ("ethnicity", "sex", "age_band", "locality")
#: Titles of the group axis under each panel (the panels are conditions, so the groups need naming).
GROUP_TITLES = {"imd_quintile": "Deprivation fifth", "age_band": "Age band (years)"}
#: Dimensions whose reference group reads well through :func:`level_name`.
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
    "rii": "RII (least / most disadvantaged end)",
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

#: Why the heat map is skipped without an ordered dimension (it shows compounding disadvantage).
NO_ORDERED_TO_COMBINE = (
    "ordered groups with a disadvantaged end, such as deprivation fifths, to combine with another dimension"
)
NOT_AVAILABLE = "This comparison is not available for this dataset."
#: How the heat map's text words each reason its key gives for an '[x]' cell (as the key does).
MISSING_WORDS = {
    FEW_EVENTS: "fewer than 10 people with the condition",
    f"{MISSING_NOT_AVAILABLE}: {NOTE_EMPTY_BAND}": (
        "nobody in the cell in one of the age bands standardised over"
    ),
}
NO_AREAS = "has no chart of areas for this dataset, because it has no small-area or GP practice column."
#: The explanation of the gradient table, for deprivation (the default book's words).
GRADIENT_DEPRIVATION = (
    "Comparing only the two ends ignores the three fifths in between. The **slope index of inequality "
    "(SII)** fits a line through the logarithm of the rates of all five fifths, weighted by their size (rates "
    "vary in proportion, so the log scale fits them), and gives the modelled gap between the most and the "
    "least deprived ends; the **relative index of inequality (RII)** is the modelled rate at the least "
    "deprived end divided by that at the most deprived end. We use the Fingertips sign convention: a *negative* SII, and an RII below 1, mean "
    "the rate is higher in more deprived areas. The **concentration index** in the same table asks a different question: how "
    "unequally the people with each condition are spread across the fifths (from -1 to 1; negative when "
    "they are concentrated among more deprived people). It uses crude counts, because it describes where "
    "the cases that services meet actually are."
)
#: The same for any ordered dimension ("{levels}": "all four education levels").
GRADIENT_ANY = (
    "Comparing only the two ends ignores the levels in between. The **slope index of inequality (SII)** "
    "fits a line through the logarithm of the rates of {levels}, weighted by their size, and gives the "
    "modelled gap between the most and the least disadvantaged ends; the **relative index of inequality (RII)** "
    "is the modelled rate at the least disadvantaged end divided by that at the most disadvantaged end. We use "
    "the Fingertips sign convention: a *negative* SII, and an RII below 1, mean the rate is higher towards the "
    "more disadvantaged end. The **concentration index** in the same table asks a different question: how "
    "unequally the people with each condition are spread across the levels (from -1 to 1; negative when "
    "they are concentrated among more disadvantaged people). It uses crude counts, because it describes "
    "where the cases that services meet actually are."
)
_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def log_gradient(published: pl.DataFrame, *, dimension: Dimension, seed: int) -> pl.DataFrame:
    """SII and RII of each condition's age-standardised rate across ``dimension``, fitted on the log scale.

    :func:`healthgap.descriptive.prevalence.gradient` with ``transform=True`` (PHEindicatormethods
    ``phe_sii(transform = TRUE)`` for rates) on the published table, so that the welcome page's slope
    (the same function) and this page's agree: the line is fitted to the log DSRs, the RII is
    exp(slope) and the SII the difference of the back-transformed ends. Conditions with a withheld
    level are left out (the index and the other levels would give it back).

    Returns
    -------
    pl.DataFrame
        ``measure``, ``population``, ``sii``, ``sii_lower``, ``sii_upper``, ``rii``, ``rii_lower``,
        ``rii_upper``, ``note``; one row per condition (empty when none qualifies).
    """
    return gradient(
        published.filter(pl.col("population") > 0),
        dimension=dimension,
        seed=seed,
        published=published,
        transform=True,
    )


def rii_words(r: dict[str, Any], *, most: str, least: str) -> str:
    """The RII as computed (least / most disadvantaged end) and, when below 1, its reciprocal in words.

    ``r`` has ``rii``, ``rii_lower``, ``rii_upper``; ``most``/``least`` name the ends ("the most
    deprived end"). An RII of 0.46 reads "an RII of 0.46 (95% CI 0.40 to 0.52): the modelled rate at
    the least deprived end is 0.46 times that at the most deprived end, so the most deprived end has
    2.2 times (95% CI 1.9 to 2.5) the rate of the least deprived end".
    """
    rii, lo, hi = r["rii"], r["rii_lower"], r["rii_upper"]
    stated = (
        f"an RII of {fmt(rii, 2)} (95% CI {fmt(lo, 2)} to {fmt(hi, 2)}): the modelled rate at {least} is "
    )
    stated += f"{fmt(rii, 2)} times that at {most}"
    if not rii or rii >= 1 or not lo or not hi:
        return stated
    return (
        stated + f", so {most} has {fmt(1 / rii, 1)} times (95% CI {fmt(1 / hi, 1)} to {fmt(1 / lo, 1)}) "
        f"the rate of {least}"
    )


def _markdown(text: str | None) -> Any:
    from IPython.display import Markdown

    return Markdown(text) if text else None


def _number(n: int) -> str:
    return _WORDS[n] if 0 <= n < len(_WORDS) else f"{n:,}"


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
        if not self.caps.conditions or not self.dims:
            return pl.DataFrame()
        return prevalence(self.people, self.config, conditions=list(self.caps.conditions))

    @property
    def conditions(self) -> tuple[str, ...]:
        """The conditions in the prevalence table, in the config's order."""
        return self.caps.conditions if self.table.height else ()

    def label(self, condition: str) -> str:
        """A condition's label, "Coronary heart disease"."""
        return measure_label(self.config, condition)

    @cached_property
    def published(self) -> Published:
        """The prevalence table as published: the one frame every figure, sentence and download reads."""
        return self.book.publish(
            self.table, counts=COUNTS, recompute=partial(recompute_rates, multiplier=100)
        )

    @cached_property
    def social(self) -> Dimension | None:
        """The dimension of the first section: the first ordered one with a disadvantaged end, or None."""
        return next((d for d in self.dims.values() if d.ordered and d.disadvantaged), None)

    @property
    def others(self) -> list[Dimension]:
        """The dimensions shown under "other groups": all but the first section's and the built-in ones."""
        social = self.social.name if self.social else None
        return [d for d in self.dims.values() if d.name != social and d.name not in BUILT_IN]

    # -- the opening paragraphs ---------------------------------------------------
    @property
    def disease(self) -> str:
        """ "cardiovascular disease" when every condition is one of the CVD profile's, else their labels."""
        from healthgap.config import read_profile

        conditions = self.caps.conditions
        profile = {m.name for m in read_profile("cvd").measures} if self.config.profile == "cvd" else set()
        if not conditions or all(c in profile for c in conditions):
            return "cardiovascular disease"
        return join([lower_first(self.label(c)) for c in conditions], conjunction="or")

    def intro(self) -> Any:
        """What recorded prevalence is and what it depends on (Markdown: it cross-refers)."""
        if self.caps.has("gp_practice"):
            start = (
                f"This chapter asks who has {self.disease} recorded by their GP practice. Recorded prevalence "
                "is the share of people on a practice's disease register."
            )
        else:
            start = (
                f"This chapter asks who has {self.disease} recorded. Recorded prevalence is the share of "
                "people with the condition recorded in the data."
            )
        depends = (
            " It depends on how common the disease really is *and* on how likely it is to be diagnosed and "
            "coded, so a low recorded rate is not always good news"
        )
        if self.caps.has_truth or self.caps.has("sex"):
            return _markdown(start + depends + ": @sec-access compares recorded with expected prevalence.")
        return _markdown(start + depends + ".")

    @cached_property
    def bands(self) -> tuple[str, ...] | None:
        """The ESP2013 age bands the DSRs use (those the data cover); None when they are all 19."""
        from healthgap.config import AGE_BANDS

        covered = covered_bands(self.people)
        return None if len(covered) == len(AGE_BANDS) else covered

    def standard(self) -> Any:
        """The standard population, and the ages it is restricted to (Markdown: it cross-refers)."""
        bands = self.bands
        if not bands:
            return _markdown("the 2013 European Standard Population (see @sec-methods)")
        first, last = bands[0].split("-")[0], bands[-1].split("-")[-1].rstrip("+")
        ages = f"ages {first}-{last}" if not bands[-1].endswith("+") else f"ages {first} and over"
        return _markdown(
            f"the 2013 European Standard Population restricted to {ages}, the ages in this dataset "
            "(see @sec-methods)"
        )

    @cached_property
    def missing(self) -> dict[str, int]:
        """How many people have no value recorded for each condition (exact; only those with some)."""
        if not self.caps.conditions:
            return {}
        row = self.people.select(pl.col(c).is_null().sum().alias(c) for c in self.caps.conditions).collect()
        return {c: int(row.get_column(c).item()) for c in self.caps.conditions if row.get_column(c).item()}

    def _rounded(self, n: int) -> str:
        d = self.config.disclosure
        if not d.enabled:
            return fmt(n, 0)
        if n < d.suppress_below:
            return f"fewer than {d.suppress_below}"
        return fmt(d.rounding * round(n / d.rounding), 0)

    @property
    def missing_text(self) -> str:
        """How many values are missing for each condition, rounded like the tables (once, on this page)."""
        if not self.conditions:
            return "The dataset has no conditions to compare."
        if not self.missing:
            return "Every person has a value recorded for every condition."
        parts = [
            f"{lower_first(self.label(c))} ({self._rounded(n)} {'person' if n == 1 else 'people'})"
            for c, n in self.missing.items()
        ]
        return (
            f"Some values are missing: {join(parts)}. Those people are left out of that condition's rates, "
            "whose denominators are the people with a value recorded."
        )

    # -- sentences ----------------------------------------------------------
    def reference_name(self, dim: Dimension) -> str:
        """'the least deprived fifth', 'the White group', 'women', 'people aged 50-54', 'the Ipswich locality'."""
        label = dim.label_of(dim.reference)
        if dim.name == "locality":
            return f"the {label} {lower_first(dim.label)}"
        if dim.name in NAMED_REFERENCES:
            return group_name({"dimension": dim.name, "level": dim.reference, "label": label}, dims=self.dims)
        return level_name(dim, dim.reference)

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
        text = rates_sentence(
            self.published,
            dimension=dimension,
            measure=condition,
            reference=dim.reference,
            outcome=f"to have {lower_first(self.label(condition))} recorded",
            dims=self.dims,
            subject=lower_first(self.label(condition)),
        )
        return with_multiplicity(text, self.published.frame, dimension=dimension, measure=condition)

    def _sentences(self, *parts: str) -> str:
        return " ".join(p for p in parts if p)

    def social_heading(self) -> str:
        """The heading of the first section: "Deprivation" (also when the dataset has no such dimension)."""
        if self.social is None or self.social.name == "imd_quintile":
            return "Deprivation"
        return self.social.label

    def social_text(self) -> Any:
        """What the first figure shows and the furthest rate ratios (Markdown: it cross-refers), or None."""
        dim = self.social
        if dim is None or not self.conditions:
            return None
        if dim.name == "imd_quintile":
            shows = "@fig-prevalence-imd shows each condition across the five deprivation fifths."
        else:
            shows = (
                f"@fig-prevalence-imd shows each condition across the {_number(len(dim.order))} "
                f"{nouns(dim.noun or lower_first(dim.label))}."
            )
        return _markdown(
            self._sentences(
                shows,
                self.ratio_sentence(dim.name, fallback=1),
                self.ratio_sentence(dim.name, "diabetes", fallback=None),
            )
        )

    def ethnicity_text(self) -> Any:
        """The ethnic group section's sentences (Markdown: it cross-refers), or None without ethnic groups."""
        if "ethnicity" not in self.dims or not self.conditions:
            return None
        return _markdown(
            "@fig-prevalence-ethnicity compares ethnic groups. Several groups are small, so their intervals are "
            "wide and some values are not published. "
            + self.ratio_sentence("ethnicity", "diabetes")
            + " People whose ethnic group is not recorded are shown as their own group. A low recorded rate "
            "for them is not evidence of less disease: a record that lacks one item (ethnic group) can lack "
            "others (a diagnosis)"
            + (
                ", and @sec-access-detection measures how much of each group's disease is recorded."
                if self.caps.has_truth
                else "."
            )
        )

    def sex_text(self) -> Any:
        """The sex section's sentences, or None without sex."""
        if "sex" not in self.dims or not self.conditions:
            return None
        if "chd" in self.conditions:
            why = (
                "Men develop coronary heart disease earlier than women; differences between the sexes in "
                "recorded disease can also reflect how symptoms are recognised."
            )
        else:
            why = (
                "Differences between the sexes in recorded disease can reflect how symptoms are recognised as "
                "well as how common each condition is."
            )
        return _markdown(self._sentences(self.ratio_sentence("sex", "chd"), why))

    def rising(self) -> tuple[int, int]:
        """(conditions more common in the older than in the younger half of the published age bands, all)."""
        data = self.published.frame.filter(
            (pl.col("dimension") == "age_band") & pl.col("value").is_not_null()
        )
        if data.is_empty():
            return 0, len(self.conditions)
        halves = (
            data.with_columns((pl.col("order") >= pl.col("order").median().over("measure")).alias("__old"))
            .group_by("measure")
            .agg(
                pl.col("value").filter(pl.col("__old")).mean().alias("old"),
                pl.col("value").filter(~pl.col("__old")).mean().alias("young"),
            )
        )
        return int(halves.filter(pl.col("old") > pl.col("young")).height), len(self.conditions)

    def age_text(self) -> Any:
        """The age section's sentences (Markdown: it cross-refers), or None without age bands."""
        if "age_band" not in self.dims or not self.conditions:
            return None
        rising, total = self.rising()
        if rising == total:
            which = "Every condition becomes" if total > 1 else "The condition becomes"
            trend = f"{which} more common with age, which is why"
        elif rising:
            trend = f"{capitalise(_number(rising))} of the {_number(total)} conditions are more common in older age bands, which is why"
        else:
            trend = "Groups still differ in age, which is why"
        return _markdown(
            "@fig-prevalence-age shows crude (not standardised) rates by age band: within a five-year band "
            f"standardising changes little. {trend} the other comparisons in this chapter are age-standardised."
        )

    def locality_text(self) -> Any:
        """The locality section's sentences (Markdown: it cross-refers), or None without localities."""
        if "locality" not in self.dims or not self.conditions:
            return None
        return _markdown(
            self._sentences(self.ratio_sentence("locality"), f"@sec-geography {self.geography_text}")
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
    def _figure_id(self, dim: Dimension) -> str:
        if dim.name in FIGURES:
            return FIGURES[dim.name][0]
        return "prevalence-" + dim.name.lower().replace("_", "-")

    def figure(self, dimension: str) -> Any:
        """Small multiples of every condition by ``dimension`` (a dot chart each), or a skip note."""
        dim = self.dims.get(dimension)
        if dim is None or not self.conditions:
            what = FIGURES[dimension][1] if dimension in FIGURES else dimension
            return self.skip(f"{what} column" if dim is None else "recorded conditions")
        return self._figure(dim)

    def social_figure(self) -> Any:
        """The first section's figure (``@fig-prevalence-imd``): the first ordered dimension with a
        disadvantaged end, numbered with its caption, or a skip note."""
        dim = self.social
        if dim is None:
            return self.skip(
                "deprivation (IMD) column, nor any other ordered groups with a disadvantaged end"
            )
        noun = "deprivation fifth" if dim.name == "imd_quintile" else dim.noun or lower_first(dim.label)
        return numbered(
            self.figure(dim.name),
            label="fig-prevalence-imd",
            caption=f"Age-standardised recorded prevalence by {noun}",
        )

    def _figure(self, dim: Dimension) -> Any:
        data = self.published.where(pl.col("dimension") == dim.name).select(*FIGURE_DATA)
        measure = "crude" if dim.name == "age_band" else "age-standardised"
        first = self.conditions[0]
        group_title = GROUP_TITLES.get(dim.name, dim.label)
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
            id=self._figure_id(dim),
            title=f"Recorded prevalence of each condition by {lower_first(dim.label)} ({measure})",
            description=(
                f"Dot charts, one per condition, of the {measure} recorded prevalence (%) with 95% "
                f"confidence intervals for {self.book.each(dim.label)}. For "
                f"{lower_first(self.label(first))}, it is "
                + extremes(data.where(pl.col("measure") == first), dims=self.dims)
                + "."
            ),
            data=data,
            columns=COLUMNS,
            formats=RATIO_FORMATS,
        )

    def other_sections(self) -> Any:
        """A section (heading, figure, furthest rate ratio) for each other dimension (Markdown), or None."""
        if not self.conditions or not self.others:
            return None
        parts = []
        for dim in self.others:
            ident = self._figure_id(dim)
            figure = numbered(
                self._figure(dim),
                label=f"fig-{ident}",
                caption=f"Age-standardised recorded prevalence by {dim.noun or lower_first(dim.label)}",
            ).data
            sentence = escape_markdown(self.ratio_sentence(dim.name))
            parts.append(
                f"### {escape_markdown(dim.label)} {{#sec-disease-{ident.removeprefix('prevalence-')}}}\n\n"
                f"{figure}\n{sentence}\n"
            )
        return _markdown("\n".join(parts))

    def others_heading(self) -> str:
        """The heading over :meth:`other_sections`."""
        return "Other groups"

    # -- the whole gradient -------------------------------------------------
    @property
    def gradients(self) -> list[Dimension]:
        """The ordered dimensions the slope index is computed across (:attr:`Capabilities.gradients`)."""
        return list(self.caps.gradients)

    @cached_property
    def indices(self) -> Published | None:
        """SII, RII and concentration index of each condition across each ordered dimension, published.

        From the published prevalence table: the populations as published weight
        the regression, and conditions with a suppressed level are left out.
        """
        if not self.gradients or not self.conditions:
            return None
        shown = self.published.frame
        labels = {c: self.label(c) for c in self.conditions}
        frames = []
        for dim in self.gradients:
            sii = log_gradient(shown, dimension=dim, seed=self.config.seed)
            if sii.is_empty():
                continue
            notes = pl.concat_str(
                [pl.col("note"), pl.concat_str([pl.lit("concentration index "), pl.col("ci_note")])],
                separator="; ",
                ignore_nulls=True,
            )
            frame = sii.join(
                concentration(shown, dimension=dim, published=shown), on="measure", how="left"
            ).with_columns(
                pl.col("measure").replace_strict(labels).alias("condition"),
                pl.when(notes != "").then(notes).alias("note"),
                pl.lit(dim.label).alias("dimension"),
            )
            frames.append(frame)
        if not frames:
            return None
        columns = [*(["dimension"] if len(frames) > 1 else []), *SII_DATA]
        table = pl.concat(frames, how="vertical_relaxed").select(columns)
        return self.book.publish(table, counts=["population"], by=[])

    def gradient_title(self) -> str:
        """The title of the gradient table: "... across deprivation fifths"."""
        if len(self.gradients) == 1:
            dim = self.gradients[0]
            return (
                f"Slope and relative index of inequality across {nouns(dim.noun or lower_first(dim.label))}"
            )
        return "Slope and relative index of inequality across each ordered dimension"

    def gradient_intro(self) -> Any:
        """What the gradient table measures (Markdown), or None when there is no table."""
        if self.indices is None:
            return None
        if [d.name for d in self.gradients] == ["imd_quintile"]:
            return _markdown(GRADIENT_DEPRIVATION)
        levels = join(
            [f"all {_number(len(d.order))} {nouns(d.noun or lower_first(d.label))}" for d in self.gradients]
        )
        return _markdown(GRADIENT_ANY.format(levels=levels))

    def gradient_table(self) -> Any:
        """The SII/RII table, or a skip note."""
        if self.indices is None:
            if not self.gradients:
                return self.skip(
                    "deprivation (IMD) column, nor any other ordered groups with a disadvantaged end and "
                    "enough levels for a slope index"
                )
            return self.book.skip("recorded conditions with enough cases in every level")
        columns = (
            {"dimension": "Dimension", **SII_COLUMNS} if "dimension" in self.indices.columns else SII_COLUMNS
        )
        table = self.book.table(
            self.indices, id="sii", title=self.gradient_title(), columns=columns, formats=SII_FORMATS
        )
        return numbered(table, label="tbl-sii", caption=self.gradient_title())

    @property
    def steepest_sentence(self) -> str:
        """The condition with the most negative SII (steepest towards the disadvantaged end), or nothing.

        Nothing when no condition has a negative SII: the steepest gradient would then
        not be towards the disadvantaged end.
        """
        if self.indices is None:
            return ""
        frame = self.indices.frame
        first = self.gradients[0]
        if "dimension" in frame.columns:
            frame = frame.filter(pl.col("dimension") == first.label)
        steepest = frame.filter(pl.col("sii") < 0).sort("sii").head(1)
        if steepest.is_empty():
            return ""
        r = steepest.row(0, named=True)
        numbers = (
            f"an SII of {fmt(r['sii'], 2)} percentage points (95% CI {fmt(r['sii_lower'], 2)} to "
            f"{fmt(r['sii_upper'], 2)}) and "
        )
        if first.name == "imd_quintile":
            return (
                f"The steepest gradient towards deprived areas is for {lower_first(r['condition'])}: {numbers}"
                + rii_words(r, most="the most deprived end", least="the least deprived end")
                + "."
            )
        return (
            f"The steepest gradient towards the more disadvantaged end of {nouns(first.noun or lower_first(first.label))} "
            f"is for {lower_first(r['condition'])}: {numbers}"
            + rii_words(r, most="the most disadvantaged end", least="the least disadvantaged end")
            + "."
        )

    def steepest(self) -> Any:
        """:attr:`steepest_sentence` as a paragraph, or None."""
        return _markdown(self.steepest_sentence)

    # -- two dimensions together ---------------------------------------------
    @property
    def focus(self) -> str | None:
        """The condition of the intersection heat map: diabetes, else the first condition."""
        return self.condition("diabetes")

    @property
    def focus_name(self) -> str:
        """The focus condition mid-sentence ("diabetes"), or "the condition"."""
        return lower_first(self.label(self.focus)) if self.focus else "the condition"

    @property
    def pair(self) -> tuple[Dimension, Dimension] | None:
        """The two dimensions of the heat map: the first section's and ethnic group (else the next one)."""
        rows = self.social
        if rows is None:
            return None
        columns = self.dims.get("ethnicity") or next(
            (d for d in self.dims.values() if d.name not in (rows.name, "age_band")), None
        )
        return None if columns is None else (rows, columns)

    def intersection_heading(self) -> str:
        """ "Deprivation and ethnicity together", or the two dimensions' labels."""
        pair = self.pair
        if pair is None or (pair[0].name, pair[1].name) == ("imd_quintile", "ethnicity"):
            return "Deprivation and ethnicity together"
        return f"{pair[0].label} and {lower_first(pair[1].label)} together"

    def _words(self, dim: Dimension) -> str:
        return {"imd_quintile": "deprivation", "ethnicity": "ethnicity"}.get(dim.name) or lower_first(
            dim.label
        )

    def intersection_text(self) -> Any:
        """What the heat map shows (Markdown: it cross-refers), or None when there is none."""
        pair = self.pair
        if pair is None or self.focus is None:
            return None
        rows, columns = pair
        return _markdown(
            f"Inequalities can compound: a group may be disadvantaged by both {self._words(rows)} and "
            f"{self._words(columns)}. @fig-intersection shows age-standardised prevalence of "
            f"{self.focus_name} for every combination of {rows.noun or lower_first(rows.label)} and "
            f"{columns.noun or lower_first(columns.label)}.{self.intersection_missing_text}{self.suppress_text}"
        )

    @cached_property
    def intersection_table(self) -> Published | None:
        """The focus condition's age-standardised prevalence by the two dimensions, published once
        (the heat map, its table and the sentence on its '[x]' cells read it), or None."""
        focus, pair = self.focus, self.pair
        if focus is None or pair is None:
            return None
        rows, columns = pair
        return self.book.publish(
            intersection(self.people, self.config, condition=focus, rows=rows.name, columns=columns.name),
            counts=COUNTS,
            by=[],
            across=["row_label", "column_label"],
            recompute=recompute_dsr,
        )

    @property
    def intersection_missing_text(self) -> str:
        """Why the heat map's '[x]' cells have no rate, from the reasons its key gives (" Cells marked
        [x] have no standardised rate: ..."), or "" when no cell is '[x]'."""
        table = self.intersection_table
        if table is None:
            return ""
        reasons = missing_reasons(table.frame, columns=["value"])
        if not reasons:
            return ""
        said = [MISSING_WORDS.get(r, lower_first(r)) for r in reasons]
        return f" Cells marked [x] have no standardised rate: {join(said, conjunction='or')}."

    def intersection_figure(self) -> Any:
        """Heat map of the focus condition by the two dimensions, or a skip note."""
        focus, pair = self.focus, self.pair
        if focus is None or pair is None:
            if not self.conditions:
                return self.skip("recorded conditions")
            if self.social is None:
                return self.skip(NO_ORDERED_TO_COMBINE)
            return self.skip(f"other dimension to combine with {lower_first(self.social.label)}")
        rows, columns = pair
        cross = self.intersection_table
        if cross is None:  # pragma: no cover - focus and pair are present
            return None
        label = self.label(focus)
        row_title = GROUP_TITLES.get(rows.name, rows.label)
        column_title = columns.label
        default = (rows.name, columns.name) == ("imd_quintile", "ethnicity")
        title = (
            f"{label}: age-standardised prevalence by deprivation fifth and ethnic group"
            if default
            else f"{label}: age-standardised prevalence by {lower_first(rows.label)} and {lower_first(columns.label)}"
        )
        caption = (
            "Age-standardised prevalence by deprivation fifth and ethnic group"
            if default
            else f"Age-standardised prevalence by {rows.noun or lower_first(rows.label)} and "
            f"{columns.noun or lower_first(columns.label)}"
        )
        figure = self.book.figure(
            lambda d: charts.heatmap(
                d,
                x="column_label",
                y="row_label",
                title=f"{label}: deprivation and ethnic group"
                if default
                else f"{label}: {lower_first(rows.label)} and {lower_first(columns.label)}",
                x_order=[columns.label_of(x) for x in columns.order],
                y_order=[rows.label_of(x) for x in rows.order],
                legend_title="Age-standardised prevalence (%)",
                x_title=column_title,
                y_title=row_title,
            ),
            id="intersection",
            title=title,
            description=(
                f"Heatmap of age-standardised {lower_first(label)} prevalence (%) with "
                f"{nouns(rows.noun or lower_first(rows.label))} as rows and "
                f"{nouns(columns.noun or lower_first(columns.label))} as columns; darker cells have higher "
                "prevalence. Empty cells have too few people to publish."
            ),
            data=cross,
            columns=ci_columns(
                "Rate (%)",
                row_label=row_title,
                column_label=column_title,
                events="People with the condition",
                population="People",
            ),
        )
        return numbered(figure, label="fig-intersection", caption=caption)

    # -- risk factors ---------------------------------------------------------
    @cached_property
    def risk_factors(self) -> list[RiskFactor]:
        """The config's risk factors the data has (smoking: current smoking; BMI: its mean)."""
        if not self.caps.has("age") or not self.dims:
            return []
        return risk_factors(self.config, sorted(self.caps.columns))

    @cached_property
    def risk_shares(self) -> Published | None:
        """Age-standardised share (%) of adults with each share risk factor by every dimension, published."""
        exact = risk_factor_shares(
            self.people, self.config, factors=self.risk_factors, dimensions=list(self.dims)
        )
        if exact.is_empty():
            return None
        labels = {f.name: self._risk_label(f) for f in self.risk_factors}
        exact = exact.with_columns(
            pl.col("measure").replace_strict(labels, default=None).alias("measure_label")
        )
        return self.book.publish(exact, counts=COUNTS, recompute=partial(recompute_rates, multiplier=100))

    @cached_property
    def risk_means(self) -> Published | None:
        """Age-standardised mean of each number risk factor among adults by every dimension, published."""
        frames = [
            standardised_means(self.people, self.config, measure=f.name, dimensions=list(self.dims))
            for f in self.risk_factors
            if f.kind == "mean"
        ]
        frames = [f for f in frames if not f.is_empty()]
        if not frames:
            return None
        labels = {f.name: self._risk_label(f) for f in self.risk_factors}
        exact = pl.concat(frames, how="vertical_relaxed").with_columns(
            pl.col("measure").replace_strict(labels, default=None).alias("measure_label")
        )
        return self.book.publish(exact, counts=["population"])

    @staticmethod
    def _risk_label(f: RiskFactor) -> str:
        """The heading of a risk factor: "Smoking status: current", "BMI (kg/m²)"."""
        if f.code is not None:
            return f"{f.label}: {f.code}"
        return f"{f.label} ({f.unit})" if f.unit else f.label

    @staticmethod
    def _risk_name(f: RiskFactor) -> str:
        """A risk factor mid-sentence: "current smoking", "BMI", "systolic blood pressure"."""
        label = f.label if f.label.isupper() else lower_first(f.label)
        return f"{f.code} {label.replace(' status', '')}" if f.code else label

    def _risk_what(self, f: RiskFactor, dim: Dimension) -> str:
        """The risk factor in a sentence: "age-standardised current smoking among adults"."""
        adjusted = "age-standardised " if dim.name != "age_band" else ""
        if f.kind == "mean":
            return f"{adjusted}mean {f.label if f.label.isupper() else lower_first(f.label)} among adults"
        said = f"{f.code} {lower_first(f.label).replace(' status', '')}" if f.code else lower_first(f.label)
        return (
            f"the {adjusted}share of adults with {said}" if not f.code else f"{adjusted}{said} among adults"
        )

    def risk_intro(self) -> Any:
        """What the section shows (Markdown), or one skip note when the data has no risk factor."""
        if not self.risk_factors:
            return self.skip(NO_RISK_FACTORS)
        names = join([self._risk_name(f) for f in self.risk_factors])
        tables = join(
            [
                t
                for t, p in (("@tbl-risk-shares", self.risk_shares), ("@tbl-risk-means", self.risk_means))
                if p
            ]
        )
        kinds = join(
            [
                k
                for k, p in (
                    ("shares of people as age-standardised percentages", self.risk_shares),
                    ("measurements as age-standardised means", self.risk_means),
                )
                if p
            ]
        )
        return _markdown(
            f"The data record these risk factors for cardiovascular disease: {names}. {tables} "
            f"{'show' if ' and ' in tables else 'shows'} them among adults ({ADULT_AGE} and over) in every group: "
            f"{kinds}, each with its 95% confidence interval (by age band: crude). Where a sentence names the "
            "highest and lowest of several groups, it uses intervals that hold for all the groups together."
        )

    def risk_sentences(self) -> list[str]:
        """One sentence per risk factor and dimension, from the published frames."""
        out = []
        for f in self.risk_factors:
            published = self.risk_shares if f.kind == "share" else self.risk_means
            if published is None:
                continue
            frame = published.frame.filter(pl.col("measure") == f.name)
            unit = f.unit or ""
            for dim in self.dims.values():
                rows = frame.filter(pl.col("dimension") == dim.name)
                if rows.is_empty():
                    continue
                what = self._risk_what(f, dim)
                if dim.ordered and dim.disadvantaged and len(dim.order) >= 2:
                    out.append(ends_sentence(rows, dim, what=what, mean=f.kind == "mean", unit=unit))
                else:
                    out.append(
                        spread_sentence(
                            rows, dim, what=what, mean=f.kind == "mean", unit=unit, seed=self.config.seed
                        )
                    )
        return out

    def risk_text(self) -> Any:
        """:meth:`risk_sentences` as a paragraph (Markdown), or None."""
        sentences = self.risk_sentences() if self.risk_factors else []
        return _markdown(" ".join(escape_markdown(s) for s in sentences)) if sentences else None

    def risk_table(self, kind: str) -> Any:
        """The table of shares (``kind`` "shares") or means ("means") with its download, or None."""
        published = self.risk_shares if kind == "shares" else self.risk_means
        if published is None:
            return None
        value = "Adults (%)" if kind == "shares" else "Mean"
        columns = {
            "measure_label": "Risk factor",
            "dimension_label": "Dimension",
            "label": "Group",
            **({"events": "Adults with it"} if kind == "shares" else {}),
            "population": "Adults",
            **ci_columns(value, ratio=kind == "shares"),
        }
        title = (
            "Risk factors among adults: age-standardised shares (%) by group"
            if kind == "shares"
            else "Risk factors among adults: age-standardised means by group"
        )
        table = self.book.table(
            published,
            id=f"risk-{kind}",
            title=title,
            columns={k: v for k, v in columns.items() if k in published.columns},
            formats={
                k: v
                for k, v in (
                    {c: ("number", 2) for c in ("value", "lower_ci", "upper_ci")} | RATIO_FORMATS
                ).items()
                if k in published.columns
            },
        )
        return numbered(table, label=f"tbl-risk-{kind}", caption=title)

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
