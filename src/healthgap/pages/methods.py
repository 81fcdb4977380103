"""Appendix: the methods (how every number is calculated, and the disclosure rules as configured).

The formulas are the chapter's own text; what depends on the dataset is here: the
groups it has (deprivation, ethnic groups, dimensions of its own), the age bands the
standardised rates use, whether there is a slope index (and along what), GP practice
funnel plots, and where the data come from. A section the dataset has nothing for is
one skip note.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from healthgap.config import AGE_BANDS, Dimension
from healthgap.descriptive.geography import EVENT_PER, LOCALITY_PER
from healthgap.descriptive.prevalence import covered_bands
from healthgap.pages.base import Page
from healthgap.pages.capabilities import Capabilities
from healthgap.pages.sentences import nouns
from healthgap.text import join, lower_first

__all__ = [
    "MethodsPage",
    "localities_text",
    "nested_text",
    "AREA_NAMES",
    "LOCALITIES",
    "NESTED",
    "NOT_NESTED",
    "BUILT_IN",
    "RATE_UNITS",
    "FUNNEL",
    "FUNNEL_RATIOS",
    "NEED",
    "NEED_TRUTH",
]

#: How the disclosure rules name each area column protected within localities.
AREA_NAMES = {"lsoa": "Small areas", "gp_practice": "GP practices"}
LOCALITIES = (
    "Two groups that are not the reference (such as the localities with the highest and lowest rates in "
    "@sec-geography-localities) are compared in the same way, with the rate ratio of one to the other."
)
NESTED = "{areas} are protected within each locality, whose totals are published."
#: Rule 4's last sentence when no areas are published within localities.
NOT_NESTED = "Groups that add up to a published total are protected together with it."
#: Dimensions described in the methods' own words (the others by their label and levels).
BUILT_IN = ("imd_quintile", "ethnicity", "sex", "age_band", "locality")

DEPRIVATION = (
    "**Deprivation** is the Index of Multiple Deprivation 2019 of the person's small area, in fifths "
    "(quintiles) of the national ranking: 1 is the most deprived fifth of areas in England, 5 the least "
    "deprived."
)
ETHNICITY = '**Ethnic group** uses the five broad 2021 Census groups plus "Not stated".'
AGE_BANDS_TEXT = (
    "**Age bands** are the 19 five-year bands of the 2013 European Standard Population (ESP2013), 0-4 to 90 "
    "and over."
)
SII_DEPRIVATION = r"""The **slope index of inequality (SII)** uses all five deprivation fifths, not just the two ends. Each
fifth is placed at the midpoint of its share of the cumulative population, ranked from most deprived
(0) to least deprived (1), and a line is fitted to the logarithm of the fifths' DSRs by weighted least
squares, with weights equal to the fifths' population shares (rates differ in proportion, so they are
fitted on the log scale, as PHEindicatormethods' `phe_sii(transform = TRUE)` does). The SII is the
difference between the fitted rates at the least and the most deprived ends; the **relative index of
inequality (RII)** is the fitted rate at the least deprived end divided by that at the most deprived end,
$e^{b}$ for a slope $b$ on the log scale.

We use the **Fingertips sign convention**: SII = least deprived end minus most deprived end, so a
*negative* SII means the rate is higher in more deprived areas, and an RII below 1 means the same. A
sentence that says how many times higher the most deprived end's rate is gives the RII as computed and
then its reciprocal, $1/\text{RII}$, with that interval's limits inverted.
Confidence intervals are simulated (100,000 repetitions): each fifth's value is redrawn from its own
confidence interval and the line refitted (Low and Low, 2004).

The **concentration index** summarises the same gradient on a scale from -1 to 1, where a negative
value means the outcome is concentrated among more deprived people (Kakwani, Wagstaff and van
Doorslaer, 1997). With population shares $f_t$, rates $\mu_t$ and fractional ranks
$R_t = \sum_{s<t} f_s + f_t/2$ of the fifths, $C = \frac{2}{\mu}\sum_t f_t \mu_t R_t - 1$. We compute
it from crude counts, because it describes where the people with a condition are, and give its
confidence interval from the Kakwani standard error."""
SII_ANY = r"""The **slope index of inequality (SII)** uses every level of an ordered dimension ({levels}), not
just the two ends. Each level is placed at the midpoint of its share of the cumulative population,
ranked from the most disadvantaged (0) to the least disadvantaged (1), and a line is fitted to the
logarithm of the levels' DSRs by weighted least squares, with weights equal to the levels' population
shares (PHEindicatormethods' `phe_sii(transform = TRUE)`). The SII is the difference between the fitted
rates at the least and the most disadvantaged ends; the **relative index of inequality (RII)** is the
fitted rate at the least disadvantaged end divided by that at the most disadvantaged end.

We use the **Fingertips sign convention**: SII = least disadvantaged end minus most disadvantaged end,
so a *negative* SII means the rate is higher towards the more disadvantaged end, and an RII below 1
means the same; a sentence saying how many times higher the more disadvantaged end's rate is gives the
RII as computed and then its reciprocal. Confidence intervals are simulated (100,000 repetitions): each level's value is redrawn
from its own confidence interval and the line refitted (Low and Low, 2004).

The **concentration index** summarises the same gradient on a scale from -1 to 1, where a negative
value means the outcome is concentrated among more disadvantaged people (Kakwani, Wagstaff and van
Doorslaer, 1997). With population shares $f_t$, rates $\mu_t$ and fractional ranks
$R_t = \sum_{{s<t}} f_s + f_t/2$ of the levels, $C = \frac{{2}}{{\mu}}\sum_t f_t \mu_t R_t - 1$. We
compute it from crude counts, because it describes where the people with a condition are, and give its
confidence interval from the Kakwani standard error."""
#: The control limits and the flag rule of the funnel plots (after :data:`FUNNEL_RATIOS`).
FUNNEL = (
    "The limits are drawn at 95% (about 1 in 20 {units} outside by chance) and 99.8% (about 1 in 500) "
    "(Spiegelhalter, 2005); a {unit} is flagged only if it is outside the 99.8% limits."
)
#: Why the truth check's estimate of the same gap differs (synthetic data with a truth file).
NEED_TRUTH = (
    " The appendix that checks the book against the built-in inequalities (@sec-truth-check) estimates the "
    "same gap differently, so its number differs a little from the access chapter's: its expected numbers come from "
    "the generator's own referral model (each person's built-in chance at the least deprived fifth's odds), "
    "over everyone, where the access chapter fits a need model to the data among the people with a recorded condition."
)
#: Referral (an access flag) against need: the need model of ``descriptive.access.against_need``.
NEED = r"""**{measure} against need** (@sec-access-{slug}-need) compares each group's observed number $O$
among the people with a recorded condition ({conditions}) with $E = \sum_i \hat p_i$, the sum of its
people's chances from a logistic regression fitted on everyone with a recorded condition: an intercept,
{cells} and one term for each of those conditions (the severity proxy, each condition with its own odds
ratio), with a small ridge penalty ($\lambda = {ridge}$ on every coefficient but the intercept) so that a
cell with no {name} keeps a finite estimate. The sex groups' model has no term for sex, the age bands'
none for age; no model has a term for deprivation, ethnic group or place. The fitted chances add up to
the observed total; so that the expected numbers do not give that exact total away, they are scaled to
the total randomly rounded to 5. As for every observed/expected ratio, the interval is Byar's interval
of $O$ divided by $E$. The most and the least deprived groups are compared two ways, both given in the
chapter: the difference of their two ratios of $O/E$, with a normal interval from the two groups' own
intervals (as for every other comparison of two ends in the book), and the ratio of the two ratios, with
the exact conditional binomial interval."""
#: The funnel plots of observed / expected (geography), and events that repeat for one person.
FUNNEL_RATIOS = r"""The funnel plots of @sec-geography-funnels compare each {unit} after its age and sex mix: its
observed count $O$ against $E = \sum_{{a,s}} n_{{a,s}} R_{{a,s}}$, the count its own people would have at
the whole population's rate $R_{{a,s}}$ in each age band and sex (indirect standardisation). The control
limits around $O/E = 1$ are the exact Poisson limits of a count whose expectation is $E$, plotted against $E$.
Events that can repeat for one person (admissions) are not independent: a count's variance is then
$\sum_i k_i^2$ over people with $k_i$ events, not $\sum_i k_i$. With $D = \sum_i k_i^2 / \sum_i k_i$ (1 when
nobody has more than one), the limits and each {unit}'s interval are those of the effective counts $O/D$
and $E/D$, about $\sqrt{{D}}$ times wider, as PHEindicatormethods allows for non-independent events in
directly standardised rates."""
#: The book's one rule for units ({per}: 1,000).
RATE_UNITS = (
    "Units: shares of people (recorded prevalence, treatment, referral, risk factors) are percentages "
    "(per {pct} people); event rates (events per population{examples}) are per {per} people, crude or "
    "age-standardised as the table says. Means of measurements are in their own unit."
)
RATE_RATIOS = r"""**Rate ratios** divide each group's DSR by the reference group's. Their confidence interval is
$\exp\left(\ln R \pm z\sqrt{\operatorname{var}_1/\text{DSR}_1^2 + \operatorname{var}_2/\text{DSR}_2^2}\right)$.
For crude rates (the age bands) the interval is the exact conditional binomial interval. A ratio
whose interval excludes 1 is statistically significant at the 5% level; when the interval includes 1,
the text says that the difference could be due to chance."""
SYNTHETIC_TRUTH = (
    "The default data are synthetic: people, areas and GP practices are generated by `healthgap.synth`\n"
    "with known, deliberately built-in inequalities (by deprivation in disease, diagnosis, treatment, waits\n"
    "and outcomes; by ethnic group in some conditions and in recording). The true values are stored with\n"
    "the data (`truth.json`), and the test suite checks that the report's methods recover them."
)
SYNTHETIC = (
    "The data are synthetic: computer-generated people shaped like a real extract, with inequalities built "
    "in on purpose. Every page and every download says so. The generator's built-in answers are not "
    "stored with these data, so the report's methods cannot be checked against a known answer here."
)
REAL = (
    "The data are `{name}`, read as the config file describes (@sec-own-data): its columns, codes, "
    "measures and groups."
)


def localities_text(caps: Capabilities) -> str:
    """How two localities are compared (Markdown: it cross-refers), when the dataset has localities."""
    return LOCALITIES if "locality" in caps.dimension_names else ""


def nested_text(caps: Capabilities) -> str:
    """That small areas (or practices) are protected within localities, when the dataset has both."""
    areas = AREA_NAMES.get(caps.area_column or "")
    return NESTED.format(areas=areas) if areas and caps.has("locality") else ""


def _markdown(text: str | None) -> Any:
    from IPython.display import Markdown

    return Markdown(text) if text else None


def _levels(dim: Dimension) -> str:
    """ "Some high school, High school diploma, Some college and College degree"."""
    return join([dim.label_of(level) for level in dim.order])


class MethodsPage(Page):
    """The methods appendix."""

    slug = "methods"

    # -- populations and groups ----------------------------------------------------
    def populations(self) -> Any:
        """Who is counted and how each group is defined, for this dataset (Markdown)."""
        caps = self.caps
        unit = "The unit of analysis is one person" + (
            " registered with a GP practice" if caps.has("gp_practice") else ""
        )
        unit += ", followed for one year." if self.config.report.period else "."
        parts = [
            unit,
            "Everyone in the data counts in the denominator (all ages), except for a measure they have no "
            "value recorded for.",
        ]
        names = caps.dimension_names
        if "imd_quintile" in names:
            parts.append(DEPRIVATION)
        if "ethnicity" in names:
            parts.append(ETHNICITY)
        for dim in caps.dimensions:
            if dim.name in BUILT_IN:
                continue
            end = ""
            if dim.ordered and dim.disadvantaged:
                end = f", the {'first' if dim.disadvantaged == 'first' else 'last'} the most disadvantaged"
            parts.append(f"**{dim.label}** has {len(dim.order)} levels: {_levels(dim)}{end}.")
        parts.append(AGE_BANDS_TEXT)
        return _markdown(" ".join(parts))

    # -- crude rates, standardised rates ------------------------------------------------
    @property
    def proportion_example(self) -> str:
        """What a proportion is, by example: "such as the share of eligible people prescribed a statin"."""
        treatments = self.caps.indicators_of("treatment")
        if any(i.name == "statin" for i in treatments):
            return "such as the share of eligible people prescribed a statin"
        if treatments:
            return f"such as {lower_first(treatments[0].label)}"
        return "such as the share of people with a condition who have it recorded"

    @cached_property
    def bands(self) -> tuple[str, ...]:
        """The ESP2013 bands the standardised rates use: those the data cover."""
        return covered_bands(self.people)

    @property
    def bands_text(self) -> str:
        """Which age bands the sum runs over: "the 19 age bands", or those the data cover."""
        bands = self.bands
        if len(bands) == len(AGE_BANDS) or not bands:
            return "the 19 age bands"
        return (
            f"the {len(bands)} age bands the data cover ({bands[0]} to {bands[-1]}; the standard's weights in "
            "the other bands are left out, so that the rate is not deflated by ages nobody in the data has)"
        )

    # -- comparing groups --------------------------------------------------------------
    def localities(self) -> Any:
        """:func:`localities_text` as Markdown, so that its cross-reference resolves (None without localities)."""
        return _markdown(localities_text(self.caps))

    def rate_ratios(self) -> Any:
        """How rate ratios and their intervals are calculated, and how two localities are compared (Markdown)."""
        localities = localities_text(self.caps)
        return _markdown(RATE_RATIOS + (f" {localities}" if localities else ""))

    # -- the whole gradient ------------------------------------------------------------
    def gradient(self) -> Any:
        """How the slope and concentration indices are computed (Markdown), or a skip note without them."""
        gradients = self.caps.gradients
        if not gradients:
            return self.skip(
                "ordered dimension with a disadvantaged end and three or more levels, such as deprivation "
                "fifths, so there is no slope index"
            )
        if gradients[0].name == "imd_quintile":
            return _markdown(SII_DEPRIVATION)
        levels = join([f"the {len(d.order)} {nouns(d.noun or lower_first(d.label))}" for d in gradients])
        return _markdown(SII_ANY.format(levels=levels))

    # -- units ------------------------------------------------------------------------------
    @property
    def units(self) -> str:
        """The book's one rule for rate units (:data:`RATE_UNITS`), from the constants the pages use."""
        outcomes = [lower_first(self.caps.label(o)) for o in self.caps.outcomes[:2]]
        examples = f", such as {join(outcomes)}" if outcomes else ""
        return RATE_UNITS.format(pct=f"{LOCALITY_PER:,}", per=f"{EVENT_PER:,}", examples=examples)

    # -- funnel plots ---------------------------------------------------------------------
    def funnel(self) -> Any:
        """How GP practices are compared on a funnel plot (Markdown: it cross-refers), or a skip note."""
        has_practices = self.caps.has("gp_practice")
        ratios = ""
        unit = "GP practice" if has_practices else AREA_NAMES.get(self.caps.area_column or "", "")
        if unit and self.caps.has("age") and (self.caps.conditions or self.caps.outcomes):
            ratios = FUNNEL_RATIOS.format(unit=unit.lower().removesuffix("s") if not has_practices else unit)
        if not ratios:  # only what is missing: the note names nothing the dataset has
            lacking = [
                what
                for what, has in (
                    ("GP practice column", unit),
                    ("age column", self.caps.has("age")),
                    ("condition or outcome column", self.caps.conditions or self.caps.outcomes),
                )
                if not has
            ]
            return self.skip(", nor any ".join(lacking) + ", so there are no funnel plots")
        singular = "practice" if has_practices else unit.lower().removesuffix("s")
        limits = FUNNEL.format(units=f"{singular}s", unit=singular)
        return _markdown(f"{ratios}\n\n{limits}")

    @property
    def _truth(self) -> bool:
        """Whether the data are synthetic with the generator's truth file (the truth-check appendix)."""
        return bool(self.config.data.synthetic and self.config.data.truth is not None)

    # -- referral against need --------------------------------------------------------------
    def need(self) -> Any:
        """How an access flag (referral) is compared against need, or a skip note."""
        from healthgap.descriptive.access import NEED_RIDGE
        from healthgap.pages._blocks import shown_measures
        from healthgap.pages.access_treatment import NOT_NEED

        conditions = [c for c in self.caps.conditions if c not in NOT_NEED]
        flags = [
            a
            for a in shown_measures(self.people, self.config, self.caps, kinds=["access"])
            if a.measure.type == "flag"
        ]
        lacking = [
            what
            for what, has in (
                ("access flag (such as a referral)", flags),
                ("recorded condition that makes a referral needed", conditions),
                ("age column", self.caps.has("age")),
            )
            if not has
        ]
        if lacking:  # only what is missing: the note names nothing the dataset has
            return self.skip(f"{join(lacking, conjunction='or')} to compare against need")
        a = flags[0]
        cells = "age band" + (" and sex" if self.caps.has("sex") else "")
        return _markdown(
            NEED.format(
                measure=a.measure.label,
                slug=a.slug,
                conditions=join([lower_first(self.caps.label(c)) for c in conditions]),
                cells=cells,
                ridge=NEED_RIDGE,
                name=a.name,
            )
            + (NEED_TRUTH if self._truth and a.measure.name == "cardiology_referral" else "")
        )

    # -- disclosure control -----------------------------------------------------------------
    @property
    def nested(self) -> str:
        """:func:`nested_text` for this dataset, or that groups adding up to a total are protected together."""
        return nested_text(self.caps) or NOT_NESTED

    @property
    def exact_counts(self) -> str:
        """What uses the exact counts (rule 2's last sentences)."""
        unit = self.caps.has("gp_practice") or bool(self.caps.area_column)
        funnel = (
            "; the expected numbers of the funnel plots (and every other observed / expected ratio) use "
            "reference rates whose events are randomly rounded to 5 in each age band and sex, so that they "
            "do not add up to an exact total"
            if unit and self.caps.has("age") and (self.caps.conditions or self.caps.outcomes)
            else ""
        )
        return (
            "Age-standardised rates use the exact counts, and their confidence intervals (and those of their "
            "ratios) the rounded ones: calculated from the exact count, an interval would give that count "
            f"back. The models use the exact counts{funnel}."
        )

    @property
    def summaries(self) -> str:
        """Rule 5's last sentence: summaries across an ordered dimension are withheld when a level is suppressed."""
        gradients = self.caps.gradients
        if gradients and gradients[0].name == "imd_quintile":
            return (
                "Summaries across all deprivation fifths (the slope and concentration indices) are not shown "
                "when a fifth is suppressed."
            )
        return (
            "Summaries across all the levels of an ordered dimension (the slope and concentration indices) are "
            "not shown when a level is suppressed."
        )

    @property
    def largest_suppressed(self) -> int:
        """The largest count that is suppressed (``suppress_below - 1``)."""
        return self.config.disclosure.suppress_below - 1

    @property
    def rounding(self) -> int:
        """Counts are rounded to the nearest this."""
        return self.config.disclosure.rounding

    @property
    def status(self) -> str:
        """Whether disclosure control is on (and, when off, why and that the report must not be published)."""
        d = self.config.disclosure
        if d.enabled:
            return "Disclosure control is switched on for this report."
        return (
            f"Disclosure control is switched OFF for this report: {d.reason or ''}. It must not be published."
        )

    # -- the data --------------------------------------------------------------------------
    @property
    def data_heading(self) -> str:
        """ "Synthetic data", or "The data" for a real extract."""
        return "Synthetic data" if self.config.data.synthetic else "The data"

    def data(self) -> Any:
        """Where the data come from (Markdown: it cross-refers)."""
        source = self.config.data
        if source.synthetic and source.truth is not None:
            return _markdown(SYNTHETIC_TRUTH)
        if source.synthetic:
            return _markdown(SYNTHETIC)
        return _markdown(REAL.format(name=source.path.name))
