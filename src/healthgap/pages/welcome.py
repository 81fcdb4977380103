"""The welcome page: what the report covers, the five headline findings and how to read it.

The numbers of the findings come from :mod:`healthgap.descriptive.headlines`
(exact aggregates, published here once, then read); this module words them with
the dataset's own words: the dimension's noun and level labels
(:func:`~healthgap.pages.sentences.level_name`), the measures' and indicators'
labels. :func:`headlines` gives the worded findings without a page (tests,
notebooks). A finding the data cannot support is left out of the list and named
in one note (:meth:`WelcomePage.findings_skipped`); one whose group is too small
to publish says so in the list.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap.config import DEFAULT_DIMENSIONS, Config, Dimension
from healthgap.descriptive import measure_label
from healthgap.descriptive import population as pop
from healthgap.descriptive.headlines import (
    LEVEL_SUPPRESSED,
    MIN_GRADIENT_LEVELS,
    NO_CONDITIONS,
    NO_DIMENSION,
    NO_EXPECTED,
    NO_GRADIENT,
    NO_OUTCOMES,
    NO_TREATMENT,
    OBSERVED_EXPECTED,
    TOO_FEW,
    Finding,
    Headlines,
    HeadlineTables,
    headline_numbers,
    headline_tables,
)
from healthgap.disclosure import Published, publish
from healthgap.pages.base import Page
from healthgap.pages.capabilities import Capabilities
from healthgap.pages.population import holds
from healthgap.pages.sentences import count_aside, level_name, nouns, too_small_to_count
from healthgap.pages.where_to_act import dimension_orders, own_mix, publish_gap_frame, publish_gaps
from healthgap.text import capitalise, count, interval, join, lower_first, num

__all__ = [
    "WelcomePage",
    "Headline",
    "WordedHeadlines",
    "headlines",
    "word",
    "title_of",
    "unavailable_text",
    "prevalence_gap_text",
    "slope_text",
    "underdiagnosis_text",
    "treatment_gap_text",
    "standardised_treatment",
    "enough_expected_outcome",
    "headline_gaps",
    "CRUDE_TREATMENT",
    "outcome_ratio_text",
    "source_text",
    "protection_text",
    "access_text",
    "experience_text",
    "where_to_act_text",
    "units_text",
    "outcomes_text",
    "OUTCOME_WORDS",
    "geography_text",
    "place_text",
    "asks_text",
    "models_text",
    "findings_heading",
    "skipped_note",
    "TITLES",
    "OUTCOME_TITLES",
    "WHY",
    "TRUE_PREVALENCE",
    "UNDERSTATED",
    "UNDER_RECORDED",
    "SUBJECTS",
    "LACKING",
]

#: The title of each finding (the outcome's label for ``outcome_ratio``; the dimension's for the first).
TITLES = {
    "prevalence_gap": "Recorded disease and {topic}",
    "slope": "Slope index of inequality",
    "underdiagnosis": "Under-diagnosis",
    "treatment_gap": "Treatment gap",
    "outcome_ratio": "Outcomes",
}
#: Why a finding is not available, by reason.
WHY = {
    NO_DIMENSION: (
        "the dataset has no groups to compare two of (an ordered dimension with a disadvantaged end, such "
        "as deprivation, or a dimension of two groups, such as sex)"
    ),
    NO_GRADIENT: (
        "the dataset has no ordered dimension with a disadvantaged end and at least {n} levels, such as "
        "deprivation fifths"
    ),
    NO_CONDITIONS: "the dataset has no conditions",
    TOO_FEW: "too few people in a group",
    LEVEL_SUPPRESSED: "{a} {noun} has too few cases",
    NO_TREATMENT: "the dataset has no treatment indicator that can be computed",
    NO_OUTCOMES: "the dataset has no outcome columns",
    NO_EXPECTED: "the dataset has neither true disease status nor sex, which the expected number of cases needs",
}
#: Reasons that are about what the data lacks: said once, in the note under the findings.
LACKING = (NO_DIMENSION, NO_GRADIENT, NO_CONDITIONS, NO_TREATMENT, NO_OUTCOMES, NO_EXPECTED)
#: What a finding that is about a named condition or outcome calls itself when it cannot be reported.
SUBJECTS = {
    "prevalence_gap": "The {topic} gap in {name}",
    "slope": "The slope index of inequality for {name}",
    "underdiagnosis": "Under-diagnosis of {name}",
    "treatment_gap": "The statin treatment gap",
    "outcome_ratio": "The {topic} gap in {name}",
}
#: Why a treatment headline is crude (in brackets after the second group's share).
CRUDE_TREATMENT = "not standardised for age: {why}"
#: ... because the data has no age.
NO_AGE_TO_STANDARDISE = "the dataset has no age"
#: The statin treatment gap, worded as it always was ("... who should be offered a statin ...").
STATIN = "statin"
_NA = "{what} cannot be reported: {why}."
#: Said after a comparison whose interval includes no difference.
_CHANCE = "; the difference could be due to chance."
#: The true prevalence beside the recorded one (data with true disease status).
TRUE_PREVALENCE = (
    " Counting everyone who truly has it (the data holds true disease status), it was {most}% and "
    "{least}% (rate ratio {ratio}, {ci})"
)
#: A recorded gradient flatter than the true one: what it means.
UNDERSTATED = {
    False: ": the recorded figures hide a real difference",
    True: ": the recorded figures understate the real difference",
}
#: ... and why, when the under-diagnosis finding shows it (its title names it).
UNDER_RECORDED = ", because {name} goes unrecorded more often {where} (see {title} below)."
_NEITHER_DIFFERS = " Neither differs clearly from what age and sex would predict."
_NO_TRUTH = (
    " Without data on true disease status this cannot separate more disease from better or worse diagnosis."
)
_OUTCOME_WHAT = {
    "cvd_admissions": "an emergency admission for heart or circulatory disease",
    "cvd_death": "death from heart or circulatory disease",
}
#: How the numbers of events of the CVD profile's outcomes are named (others: "events (<label>)").
_OUTCOME_EVENTS = {
    "cvd_admissions": "emergency admissions for heart or circulatory disease",
    "cvd_death": "deaths from heart or circulatory disease",
}
_SYNTHETIC = "a synthetic population: computer-generated people whose inequalities were built in on purpose"
_KNOWN_ANSWER = ", so that every method in the report can be checked against a known answer"
#: How the chapter list names each area column.
AREA_WORDS = {"lsoa": "small areas", "gp_practice": "GP practices", "locality": "localities"}
#: What the risk model predicts, by its target column (others: the measure's label).
MODEL_TARGETS = {"cvd_admissions": "emergency admissions", "cvd_death": "deaths from cardiovascular disease"}
#: How the opening paragraph names each built-in dimension (others: their noun).
DIMENSION_WORDS = {
    "imd_quintile": "deprivation",
    "ethnicity": "ethnic group",
    "sex": "sex",
    "age_band": "age",
}
_NUMBERS = ("No", "One", "Two", "Three", "Four", "Five")


# -- naming groups ------------------------------------------------------------------


def _topic(dimension: Dimension | None) -> str:
    """What the first finding is about: "deprivation", "education level", "sex"."""
    if dimension is None:
        return "deprivation"
    return DIMENSION_WORDS.get(dimension.name) or lower_first(dimension.label)


def _names(values: dict[str, Any]) -> tuple[str, str]:
    """The two groups of a finding as a sentence names them (deprivation's ends by default)."""
    dim: Dimension = values.get("dimension") or DEFAULT_DIMENSIONS["imd_quintile"]
    most, least = values.get("most_level") or "1", values.get("least_level") or "5"
    return level_name(dim, most), level_name(dim, least)


def _plural(name: str) -> bool:
    return name.startswith(("people", "women", "men"))


def _in(name: str) -> str:
    return ("among " if _plural(name) else "in ") + name


def _people(name: str) -> str:
    return name if _plural(name) else f"people in {name}"


def _deprivation(values: dict[str, Any]) -> bool:
    dim = values.get("dimension")
    return dim is None or dim.name == "imd_quintile"


def _label(config: Config | None, name: str | None) -> str:
    if not name:
        return ""
    if config is None:
        from healthgap.contract import CONTRACT

        column = CONTRACT.get(name)
        return column.label if column is not None else name
    return measure_label(config, name)


# -- the headline findings ------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """A headline finding as the page shows it: its numbers, title and sentence."""

    finding: Finding
    title: str
    text: str

    @property
    def key(self) -> str:
        """Which finding (:data:`healthgap.descriptive.headlines.KEYS`)."""
        return self.finding.key

    @property
    def values(self) -> dict[str, Any]:
        """The numbers behind the sentence (:class:`~healthgap.descriptive.headlines.Finding`)."""
        return self.finding.values

    @property
    def available(self) -> bool:
        """Whether the data allowed the finding to be published."""
        return self.finding.available

    @property
    def lacking(self) -> bool:
        """Whether the finding is missing because the data lack what it needs (not for too few people)."""
        return not self.finding.available and self.finding.reason in LACKING

    def __str__(self) -> str:
        return self.text


def _escape(text: str) -> str:
    """``text`` for a Markdown list item: characters Markdown would read as markup, escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in " ".join(text.split()))


class WordedHeadlines(Headlines[Headline]):
    """The five findings with their sentences."""

    @property
    def shown(self) -> list[Headline]:
        """The findings the list shows: all but those the data lack what they need for."""
        return [h for h in self if not h.lacking]

    @property
    def skipped(self) -> list[Headline]:
        """The findings the data lack what they need for (named in one note)."""
        return [h for h in self if h.lacking]

    def markdown(self) -> str:
        """The shown findings as a numbered Markdown list ("" when none can be shown)."""
        return "\n".join(
            f"{i}. **{_escape(h.title)}.** {_escape(h.text)}" for i, h in enumerate(self.shown, start=1)
        )

    def frame(self) -> pl.DataFrame:
        """One row per finding: ``finding``, ``title``, ``sentence``, ``available`` (the download)."""
        rows = list(self)
        return pl.DataFrame(
            {
                "finding": [h.key for h in rows],
                "title": [h.title for h in rows],
                "sentence": [h.text for h in rows],
                "available": [h.available for h in rows],
            }
        )


#: How the titles name the CVD profile's outcomes (others: their label).
OUTCOME_TITLES = {"cvd_admissions": "Emergency CVD admissions", "cvd_death": "CVD deaths"}


def _subject(config: Config | None, name: str) -> str:
    """A condition or outcome as a finding's title or subject names it."""
    return OUTCOME_TITLES.get(name) or _label(config, name)


def title_of(finding: Finding, config: Config | None = None) -> str:
    """The finding's title; the outcome's name (e.g. "Emergency CVD admissions") for ``outcome_ratio``."""
    values = finding.values
    outcome = values.get("outcome")
    if finding.key == "outcome_ratio" and outcome:
        return _subject(config, outcome)
    if finding.key == "prevalence_gap":
        return TITLES["prevalence_gap"].format(topic=_topic(values.get("dimension")))
    return TITLES[finding.key]


def _why(finding: Finding) -> str:
    why = WHY.get(finding.reason or "", "it is not available")
    if finding.reason == NO_GRADIENT:
        return why.format(n=count(MIN_GRADIENT_LEVELS))
    if finding.reason == LEVEL_SUPPRESSED:
        dim: Dimension | None = finding.values.get("dimension")
        if dim is None or dim.name == "imd_quintile":
            return "a deprivation fifth has too few cases"
        noun = dim.noun or lower_first(dim.label)
        return why.format(a="an" if noun[:1] in "aeiou" else "a", noun=noun)
    if finding.reason == NO_TREATMENT and finding.values.get("problem"):
        return f"{why} (it {finding.values['problem']})"
    return why


def unavailable_text(finding: Finding, config: Config | None = None) -> str:
    """Why the finding cannot be reported: ``"The treatment gap cannot be reported: ..."``."""
    values = finding.values
    name = values.get("condition") or values.get("outcome")
    indicator = values.get("indicator")
    if finding.key == "treatment_gap" and finding.reason == TOO_FEW:
        what = (
            "The statin treatment gap"
            if indicator is None or indicator.name == STATIN
            else f"The gap in {lower_first(indicator.label)}"
        )
    elif finding.reason in (TOO_FEW, LEVEL_SUPPRESSED) and name:
        what = SUBJECTS[finding.key].format(
            name=lower_first(_subject(config, name)), topic=_topic(values.get("dimension"))
        )
    else:
        what = title_of(finding, config)
    return _NA.format(what=what, why=_why(finding))


def prevalence_gap_text(finding: Finding, config: Config | None = None) -> str:
    """Recorded prevalence (DSR) in the two groups: the gap, or that there is no clear one."""
    v = finding.values
    a, b = _names(v)
    where = " of the population" if _deprivation(v) else ""
    start = (
        f"After allowing for differences in age, recorded {lower_first(_label(config, v['condition']))} was "
        f"{num(v['most'], 1)}% {_in(a)}{where} and {num(v['least'], 1)}% {_in(b)}"
    )
    ratio = v["ratio"]
    if v["clear"]:
        more = "higher" if v["gap"] > 0 else "lower"
        ci = (
            f", {interval(v['rr_lower'], v['rr_upper'])}"
            if v["by_ratio"] and v.get("rr_lower") is not None
            else ""
        )
        times = f" ({num(ratio, 2)} times the rate{ci})." if ratio else "."
        return f"{start}: {num(abs(v['gap']), 1)} percentage points {more}{times}" + _truth_text(
            finding, config
        )
    if v["by_ratio"] and ratio:
        why = f" (rate ratio {num(ratio, 2)}, {interval(v['rr_lower'], v['rr_upper'])})."
    else:
        why = " (their 95% confidence intervals overlap)."
    return f"{start}: no clear difference{why}" + _truth_text(finding, config)


def _truth_text(finding: Finding, config: Config | None) -> str:
    """The true prevalence beside the recorded one, and what a flatter recorded gradient means
    ("" without true status)."""
    v = finding.values
    if v.get("true_most") is None:
        return ""
    text = TRUE_PREVALENCE.format(
        most=num(v["true_most"], 1),
        least=num(v["true_least"], 1),
        ratio=num(v["true_ratio"], 2),
        ci=interval(v["true_rr_lower"], v["true_rr_upper"]),
    )
    if not v.get("understated"):
        return text + "."
    text += UNDERSTATED[bool(v["clear"])]
    if not v.get("under_recorded"):
        return text + "."
    a, _ = _names(v)
    where = "in the most deprived areas" if _deprivation(v) else _in(a)
    name = lower_first(_label(config, v["condition"]))
    return text + UNDER_RECORDED.format(name=name, where=where, title=TITLES["underdiagnosis"])


def slope_text(finding: Finding, config: Config | None = None) -> str:
    """The slope index of inequality, in percentage points, with its interval and sign convention.

    When the interval includes 0 the sentence says that the difference could be due to chance.
    """
    v = finding.values
    name = lower_first(_label(config, v["condition"]))
    lo, hi = v["sii_lower"], v["sii_upper"]
    clear = lo is not None and hi is not None and (hi < 0 or lo > 0)
    end = "." if clear else _CHANCE
    dim: Dimension | None = v.get("dimension")
    if dim is None or dim.name == "imd_quintile":
        direction = "more deprived" if v["sii"] < 0 else "less deprived"
        return (
            f"Across the whole deprivation gradient, age-standardised recorded {name} "
            f"is {num(abs(v['sii']), 2)} percentage points higher in {direction} areas "
            f"(slope index of inequality {num(v['sii'], 2)}, {interval(lo, hi)}; "
            "a negative value means higher in more deprived areas)" + end
        )
    direction = "more" if v["sii"] < 0 else "less"
    noun = dim.noun or lower_first(dim.label)
    return (
        f"Across all {count(len(dim.order))} {nouns(noun)}, age-standardised recorded {name} "
        f"is {num(abs(v['sii']), 2)} percentage points higher towards the {direction} disadvantaged end "
        f"(slope index of inequality {num(v['sii'], 2)}, {interval(lo, hi)}; "
        "a negative value means higher towards the more disadvantaged end)" + end
    )


def _ci(lower: float | None, upper: float | None) -> str:
    return "" if lower is None else f", {interval(lower, upper)}"


def _differs(lower: float | None, upper: float | None) -> bool:
    return lower is not None and upper is not None and (lower > 1 or upper < 1)


def underdiagnosis_text(finding: Finding, config: Config | None = None) -> str:
    """Detection (recorded among the truly affected), or observed/expected recorded cases without true status."""
    v = finding.values
    name = lower_first(_label(config, v["condition"]))
    a, b = _names(v)
    if v["measure"] != OBSERVED_EXPECTED:
        worse = "in the most deprived areas" if _deprivation(v) else _in(a)
        ci = f" (a gap of {num(abs(v['gap']), 1)} percentage points{_gap_ci(v)})" if _gap_ci(v) else ""
        clear = v.get("gap_upper") is not None and v["gap_upper"] < 0
        return (
            f"Of the people who truly have {name}, {num(v['most'], 0)}% {_in(a)} are on "
            f"a GP register, against {num(v['least'], 0)}% {_in(b)}{ci}"
            + (
                f": the condition goes unrecorded more often {worse}."
                if (clear if ci else v["most"] < v["least"])
                else "."
            )
            + _people_text(v, b, "be on a register", config)
        )
    neither = not _differs(v["most_lower"], v["most_upper"]) and not _differs(
        v["least_lower"], v["least_upper"]
    )
    verb, own = ("have", "their") if _plural(a) else ("has", "its")
    return (
        f"{capitalise(a)} {verb} {num(v['most'], 2)} times the number of recorded {name} cases "
        f"expected from {own} age and sex{_ci(v['most_lower'], v['most_upper'])} ({b.removeprefix('the ')}: "
        f"{num(v['least'], 2)}{_ci(v['least_lower'], v['least_upper'])})"
        + (f".{_NEITHER_DIFFERS}" if neither else ".")
        + _NO_TRUTH
    )


def treatment_gap_text(finding: Finding, config: Config | None = None) -> str:
    """A treatment indicator in the two groups (and, for statins, how eligibility was judged)."""
    v = finding.values
    a, b = _names(v)
    indicator = v.get("indicator")
    unclear = v.get("gap_lower") is not None and v["gap_lower"] <= 0 <= v["gap_upper"]
    method = f"{own_mix(v['strata'])}; " if v.get("standardised") else ""
    gap = f"({method}a gap of {num(abs(v['gap']), 1)} percentage points{_gap_ci(v)})" + (
        _CHANCE if unclear else "."
    )
    statin = indicator is None or indicator.name == STATIN
    if indicator is not None and indicator.name != STATIN:
        text = f"{capitalise(indicator.label)} was {_share(v, 'most')} {_in(a)}, against " + (
            f"{_share(v, 'least')} expected at the rates of {b} for each {v['strata']} {gap}"
            if v.get("standardised")
            else f"{_share(v, 'least')} {_in(b)}{_crude_why(v)} {gap}"
        )
    else:
        text = (
            f"Among people who should be offered a statin, {_share(v, 'most')} {_in(a)} were prescribed one, "
        )
        text += (
            f"against {_share(v, 'least')} expected at the rates of {b} for each {v['strata']} {gap}"
            if v.get("standardised")
            else f"against {_share(v, 'least')} {_in(b)}{_crude_why(v)} {gap}"
        )
    text += _people_text(v, b, "be prescribed one" if statin else "meet it", config)
    if not statin:
        return text
    absent = set(v.get("absent") or ())
    if absent and indicator is not None:
        used = [lower_first(_label(config, c)) for c in indicator.optional if c not in absent]
        text += f" Eligibility was judged from recorded {join(used)} only, the conditions this dataset has."
    return text


def _share(v: dict[str, Any], key: str) -> str:
    """A treatment share as the finding gives it: to one decimal place when standardised (as
    "Where to act" gives it), whole per cent when crude."""
    return f"{num(v[key], 1 if v.get('standardised') else 0)}%"


def _crude_why(v: dict[str, Any]) -> str:
    """ " (not standardised for age: ...)" after a crude treatment share ("" without a reason)."""
    why = v.get("crude_why")
    return f" ({CRUDE_TREATMENT.format(why=why)})" if why else ""


def _gap_ci(v: dict[str, Any]) -> str:
    """ ", 95% CI 11.3 to 14.9": the interval of a gap given as its size (flipped when the gap is
    negative), in percentage points ("" without one)."""
    lo, hi = v.get("gap_lower"), v.get("gap_upper")
    if lo is None or hi is None:
        return ""
    if v["gap"] < 0:
        lo, hi = -hi, -lo
    return f", {interval(lo, hi, dp=1)}"


def _people_text(v: dict[str, Any], b: str, verb: str, config: Config | None = None) -> str:
    """ " At the rate of <b>, about 1,100 more people in <a> would <verb> (95% CI 1,000 to 1,200)."
    ("" without the number; numbers as the "Where to act" page rounds them)."""
    from healthgap.pages.where_to_act import about, number_interval

    n, lo, hi = v.get("people"), v.get("people_lower"), v.get("people_upper")
    base = config.disclosure.rounding if config is not None and config.disclosure.enabled else 5
    if n is None or lo is None or hi is None or about(n, base=base) == "0":
        return ""
    a, _ = _names(v)
    more = "more" if n > 0 else "fewer"
    rate = "those rates" if v.get("standardised") else f"the rate {_in(b)}"
    return (
        f" At {rate}, about {about(n, base=base)} {more} {_people(a)} would {verb} "
        f"(95% CI {number_interval(lo, hi, base=base, flip=n < 0)})."
    )


def outcome_ratio_text(finding: Finding, config: Config | None = None) -> str:
    """The ratio of the age-standardised rates of the outcome in the two groups, with its interval.

    When the interval includes 1 the sentence says that the difference could be due to chance.
    """
    v = finding.values
    a, b = _names(v)
    what = _OUTCOME_WHAT.get(v["outcome"]) or lower_first(_label(config, v["outcome"]))
    return (
        f"After allowing for age, {_people(a)} had {num(v['ratio'], 2)} times "
        f"the rate of {what} of {_people(b)} "
        f"({interval(v['lower'], v['upper'])})"
        + ("." if _differs(v["lower"], v["upper"]) else _CHANCE)
        + _excess_text(v, config, verdict=_differs(v["lower"], v["upper"]))
    )


def _excess_text(v: dict[str, Any], config: Config | None, *, verdict: bool = True) -> str:
    """ " In numbers: about 260 more emergency admissions ... in <a> than expected at the rates in <b>
    for each age band and sex (95% CI ...)." ("" without the number, or when too few are observed
    and expected to give one: :func:`healthgap.pages.sentences.too_small_to_count`). ``verdict``:
    whether the ratio before it is clear; the ratio carries the finding's one verdict and the
    number's interval only supports it (:func:`healthgap.pages.sentences.count_aside`), as on the
    Outcomes page."""
    from healthgap.pages.where_to_act import _includes_zero, about, number_interval

    n, lo, hi = v.get("excess"), v.get("excess_lower"), v.get("excess_upper")
    base = config.disclosure.rounding if config is not None and config.disclosure.enabled else 5
    if n is None or lo is None or hi is None or about(n, base=base) == "0":
        return ""
    if too_small_to_count(v.get("observed"), v.get("expected"), lo, hi, base=base):
        return ""
    a, b = _names(v)
    more = "more" if n > 0 else "fewer"
    label = lower_first(_label(config, v["outcome"]))
    events = _OUTCOME_EVENTS.get(v["outcome"]) or (
        f"people with {label}" if v.get("counted") == "people" else f"events ({label})"
    )
    aside = count_aside(ratio_clear=verdict, count_includes_zero=_includes_zero(lo, hi, base=base))
    return (
        f" In numbers: about {about(n, base=base)} {more} {events} {_in(a)} than expected at the rates "
        f"{_in(b)} for each {v.get('strata') or 'age band and sex'} "
        f"(95% CI {number_interval(lo, hi, base=base, flip=n < 0)}{aside})."
    )


_SENTENCES: dict[str, Callable[[Finding, Config | None], str]] = {
    "prevalence_gap": prevalence_gap_text,
    "slope": slope_text,
    "underdiagnosis": underdiagnosis_text,
    "treatment_gap": treatment_gap_text,
    "outcome_ratio": outcome_ratio_text,
}


def word(finding: Finding, config: Config | None = None) -> Headline:
    """The finding with its title and sentence (labels from ``config``)."""
    if finding.available:
        text = _SENTENCES[finding.key](finding, config)
    else:
        text = unavailable_text(finding, config)
    return Headline(finding, title_of(finding, config), text)


def _published(tables: HeadlineTables, publish_frame: Callable[..., Published]) -> dict[str, pl.DataFrame]:
    """Each table of ``tables`` through the publication step, by name."""
    return {
        name: publish_frame(frame, counts=tables.counts(name), recompute=tables.recompute(name)).frame
        for name, frame in tables.tables.items()
    }


def headline_gaps(
    people: pl.LazyFrame | pl.DataFrame, config: Config, tables: HeadlineTables
) -> pl.DataFrame | None:
    """The exact gaps of the treatment headline's indicator along the headline dimension, as
    "Where to act" computes them (:func:`healthgap.descriptive.priorities.priorities`: indirectly
    standardised for age band and sex), or None when they cannot be (no indicator or dimension,
    no age, or the finding's second group is not the dimension's reference group)."""
    from healthgap.descriptive.priorities import priorities, reference_of

    dim, indicator = tables.dimension, tables.indicator
    if dim is None or indicator is None or reference_of(dim) != tables.least:
        return None
    if "age" not in people.lazy().collect_schema():
        return None
    settings = config.disclosure
    exact = priorities(
        people,
        config,
        dimensions=[dim.name],
        measures=[indicator.name],
        min_reference=settings.min_group if settings.enabled else 1,
        base=settings.rounding if settings.enabled else 1,
    )
    return None if exact.is_empty() else exact


def standardised_treatment(
    finding: Finding, gaps: pl.DataFrame | None, *, strata: str = "age band and sex", why: str | None = None
) -> Finding:
    """The treatment finding as "Where to act" gives it, from its published gaps (``gaps``):
    the first group's share against the share expected at the second group's rates for each
    age band and sex, the gap with its interval, and the number of people (so that the welcome
    page never contradicts "Where to act", and an age artefact is not a headline).

    ``strata``: what the gaps are standardised for. Without ``gaps`` (None) the crude finding stays, with ``why`` it is not standardised
    (``crude_why``) when given; with ``gaps`` but no published row of the first group, the
    finding is unavailable (too few people).
    """
    v = finding.values
    indicator = v.get("indicator")
    if finding.reason not in (None, TOO_FEW) or indicator is None:
        return finding
    if gaps is None:
        return (
            Finding(finding.key, {**v, "crude_why": why}, finding.available, finding.reason)
            if why
            else finding
        )
    dim: Dimension = v["dimension"]
    rows = gaps.filter(
        (pl.col("measure") == indicator.name)
        & (pl.col("dimension") == dim.name)
        & (pl.col("level") == str(v["most_level"]))
        & pl.col("rate").is_not_null()
        & pl.col("excess").is_not_null()
    )
    if rows.is_empty():
        return Finding(finding.key, dict(v), available=False, reason=TOO_FEW)
    r = rows.row(0, named=True)
    return Finding(
        finding.key,
        {
            **v,
            "standardised": True,
            "strata": strata,
            "most": r["rate"],
            "least": r["reference_rate"],
            "gap": -r["difference"],
            "gap_lower": None if r["upper_ci"] is None else -r["upper_ci"],
            "gap_upper": None if r["lower_ci"] is None else -r["lower_ci"],
            "eligible": r["denominator"],
            "people": -r["excess"],
            "people_lower": None if r["excess_upper"] is None else -r["excess_upper"],
            "people_upper": None if r["excess_lower"] is None else -r["excess_lower"],
        },
    )


def _strata(people: pl.LazyFrame | pl.DataFrame, tables: HeadlineTables) -> str:
    """What a headline gap is standardised for: age band alone between the sexes and on data
    without sex, else age band and sex (as "Where to act" says it)."""
    sexless = "sex" not in people.lazy().collect_schema()
    return (
        "age band"
        if sexless or (tables.dimension is not None and tables.dimension.name == "sex")
        else "age band and sex"
    )


def enough_expected_outcome(finding: Finding, excess: pl.DataFrame | None) -> Finding:
    """The outcome finding, or unavailable (too few) when its published expected count in the first
    group (``excess``: the published ``outcome_excess`` table) is below
    :data:`~healthgap.descriptive.priorities.MIN_EXPECTED`: a rate ratio on so few expected
    events is not a finding (the rule "Where to act" and Outcomes follow)."""
    from healthgap.descriptive.priorities import MIN_EXPECTED

    if not finding.available or excess is None or excess.is_empty() or "expected" not in excess.columns:
        return finding
    expected = excess.item(0, "expected")
    if expected is None or expected >= MIN_EXPECTED:
        return finding
    return Finding(finding.key, dict(finding.values), available=False, reason=TOO_FEW)


def with_counts(finding: Finding, excess: pl.DataFrame | None) -> Finding:
    """The outcome finding with its group's published observed and expected counts (``excess``:
    the published ``outcome_excess`` table), so that a number too small to give is not given
    (:func:`healthgap.pages.sentences.too_small_to_count`); the finding itself without them."""
    if not finding.available or excess is None or excess.height != 1 or "expected" not in excess.columns:
        return finding
    observed = excess.item(0, "numerator") if "numerator" in excess.columns else None
    values = {**finding.values, "observed": observed, "expected": excess.item(0, "expected")}
    return Finding(finding.key, values, finding.available, finding.reason)


def _with_treatment(
    numbers: Headlines[Finding], treatment: Finding, excess: pl.DataFrame | None = None
) -> Headlines[Finding]:
    return Headlines(
        numbers.prevalence_gap,
        numbers.slope,
        numbers.underdiagnosis,
        treatment,
        with_counts(enough_expected_outcome(numbers.outcome_ratio, excess), excess),
    )


def _worded(numbers: Iterable[Finding], config: Config) -> WordedHeadlines:
    return WordedHeadlines(*(word(f, config) for f in numbers))


def headlines(people: pl.LazyFrame | pl.DataFrame, config: Config) -> WordedHeadlines:
    """The five findings as the welcome page shows them (published with ``config.disclosure``).

    Parameters
    ----------
    people : the canonical person table.
    config : the loaded config.
    """
    tables = headline_tables(people, config)
    published = _published(tables, partial(publish, settings=config.disclosure))
    numbers = headline_numbers(tables, published)
    exact = headline_gaps(people, config, tables)
    base = config.disclosure.rounding if config.disclosure.enabled else 1
    gaps = (
        None
        if exact is None
        else publish_gap_frame(
            exact, settings=config.disclosure, base=base, orders=dimension_orders(config)
        ).frame
    )
    treatment = standardised_treatment(
        numbers.treatment_gap, gaps, strata=_strata(people, tables), why=_crude_reason(people)
    )
    return _worded(_with_treatment(numbers, treatment, published.get("outcome_excess")), config)


def _crude_reason(people: pl.LazyFrame | pl.DataFrame) -> str | None:
    """Why a treatment headline cannot be standardised for age: the data has no age (None otherwise)."""
    return None if "age" in people.lazy().collect_schema() else NO_AGE_TO_STANDARDISE


def findings_heading(headlines: WordedHeadlines) -> str:
    """ "Five findings", "Three findings", "One finding" or "Findings" (none shown)."""
    n = len(headlines.shown)
    if n == 0:
        return "Findings"
    return f"{_NUMBERS[n]} finding" + ("" if n == 1 else "s")


def skipped_note(headlines: WordedHeadlines) -> str | None:
    """The one note naming the findings the data lack what they need for, with why (None when none)."""
    skipped = headlines.skipped
    if not skipped:
        return None
    parts = [f"{lower_first(h.title)} ({_why(h.finding)})" for h in skipped]
    return f"Not reported for this dataset: {'; '.join(parts)}."


# -- what the report covers -------------------------------------------------------


def source_text(config: Config) -> str:
    """Where the numbers come from: the synthetic population (with a known answer when it has its truth)."""
    if not config.data.synthetic:
        return f"the dataset {config.data.path.name}"
    return _SYNTHETIC + (_KNOWN_ANSWER if config.data.truth is not None else "")


def protection_text(config: Config) -> str:
    """What disclosure control does to the published numbers, or that it is switched off."""
    d = config.disclosure
    if not d.enabled:
        return "Disclosure control is switched off for this report, so it must not be published"
    return (
        f"To protect confidentiality, counts from 1 to {d.suppress_below - 1} are never shown and all other "
        f"counts are rounded to the nearest {d.rounding}"
    )


def _measure_words(config: Config, caps: Capabilities, kind: str) -> list[str]:
    """The measures of ``kind`` the data has, as a sentence names them (their labels)."""
    return [lower_first(m.label) for m in config.measures_of(kind) if caps.has(m.name)]


def access_text(caps: Capabilities, config: Config | None = None) -> str:
    """What the access and treatment chapter looks at, for this dataset: diagnosis, treatment
    of the eligible, and the access measures the data has (by their labels)."""
    steps = []
    if caps.conditions and (caps.has_truth or caps.has("sex")):
        steps.append(
            "diagnosis" if caps.has_truth else "diagnosis (how recorded cases compare with those expected)"
        )
    if caps.indicators_of("treatment"):
        steps.append("treatment of people who should be treated")
    if config is not None:
        steps += _measure_words(config, caps, "access")
    else:  # without the config: the access measures of the cardiovascular profile
        steps += [
            w
            for c, w in (
                ("days_to_first_outpatient", "waits"),
                ("missed_appointments", "missed appointments"),
            )
            if caps.has(c)
        ]
    if not steps:
        return "has nothing to show for this dataset."
    return f"looks at {join(steps)}."


def experience_text(caps: Capabilities, config: Config) -> str:
    """What the experience chapter looks at, for this dataset: its experience measures and
    indicators (by their labels), or that it has none."""
    words = _measure_words(config, caps, "experience")
    measured = {m.name for m in config.measures_of("experience")}
    # an indicator over a measure already named (the survey answer among respondents) adds nothing
    words += [
        lower_first(i.label)
        for i in caps.indicators_of("experience")
        if i.numerator not in measured and lower_first(i.label) not in words
    ]
    if not words:
        return "has nothing to show for this dataset, which records no experience of care."
    return f"looks at {join(words)}."


def units_text(caps: Capabilities, config: Config) -> str:
    """The report's units, said once: rates of events (the count outcomes the data has, named)
    per 1,000 people, shares of people in per cent."""
    counted = [
        lower_first(m.label) for m in config.measures_of("outcome") if m.type == "count" and caps.has(m.name)
    ]
    shares = "Shares of people (how common a condition is, who is treated) are percentages."
    if not counted:
        return shares
    return f"Rates of events ({join(counted)}) are per 1,000 people. {shares}"


def where_to_act_text(caps: Capabilities, config: Config, schema: pl.Schema) -> str:
    """What the "Where to act" page does, for this dataset (completes "**Where to act** ...");
    ``schema``: the person table's."""
    from healthgap.descriptive.priorities import priority_items

    items = priority_items(config, schema) if "age" in schema else []
    if not items or not [d for d in caps.dimensions if d.name != "age_band"]:
        return "has nothing to rank for this dataset."
    standardised = "age and sex" if caps.has("sex") else "age"
    return (
        "ranks the gaps between groups that can be counted in people or events by the number of people "
        f"they affect, after allowing for {standardised}, and says which it leaves out, why, and where they are."
    )


def _ask(config: Config, caps: Capabilities, outcome: str) -> str:
    """What the book asks of an outcome: "who dies under 75" for premature CVD deaths (the ages the
    measure applies to), else "who has <label>"."""
    ages = config.measure(outcome).ages if outcome in {m.name for m in config.measures} else None
    if outcome == "premature_cvd_death" and ages is not None and ages[0] == 0:
        return f"who dies under {ages[1] + 1}"
    return f"who has {lower_first(caps.label(outcome))}"


#: How the welcome page names the CVD profile's outcomes (others: their label).
OUTCOME_WORDS = {
    "cvd_admissions": "emergency admissions",
    "cvd_death": "deaths",
    "premature_cvd_death": "premature deaths (under 75)",
}


def outcomes_text(caps: Capabilities, *, outcomes: Iterable[str]) -> str:
    """What the outcomes chapter compares, for this dataset (``outcomes``: the configured ones).

    GP practices are not named: the outcomes chapter points to the geography chapter for them."""
    words = [OUTCOME_WORDS.get(name) or lower_first(caps.label(name)) for name in outcomes if caps.has(name)]
    if not words:
        return "has nothing to show for this dataset, which has no outcome columns."
    return f"compares {join(words)}."


def geography_text(caps: Capabilities) -> str:
    """What the geography chapter compares, and whether it draws a map or tiles."""
    area = caps.area_column
    places = ["localities"] if "locality" in caps.dimension_names and area != "locality" else []
    if area:
        places.append(AREA_WORDS.get(area, "areas"))
    if not places:
        return "has nothing to show for this dataset, which records no geography."
    if caps.mapped:
        how = ", with a map."
    elif area and len(places) > 1:  # grouped by locality: tiles (as the geography chapter draws them)
        how = ", shown as equal-sized tiles in a chart (the dataset has no boundaries to draw a map)."
    elif area:  # no boundaries and no localities to group them by: the chapter lists them
        how = ", listed in a table (the dataset has no boundaries to draw a map)."
    else:
        how = "."
    return "compares " + " and ".join(places) + how


def place_text(caps: Capabilities) -> str:
    """ "place" (or "GP practice") among the things the report compares by, when it can ("" otherwise)."""
    if "locality" in caps.dimension_names or caps.has("lsoa"):
        return "place"
    return "GP practice" if caps.has("gp_practice") else ""


def _cardiovascular(config: Config, conditions: tuple[str, ...]) -> str:
    """ "cardiovascular disease" when every condition is one of the CVD profile's, else their labels."""
    from healthgap.config import read_profile

    profile = {m.name for m in read_profile("cvd").measures} if config.profile == "cvd" else set()
    if all(c in profile for c in conditions):
        return "cardiovascular disease"
    return join([lower_first(_label(config, c)) for c in conditions], conjunction="or")


def asks_text(caps: Capabilities, config: Config) -> str:
    """What the report asks and by what it compares, for this dataset (two sentences, or one)."""
    asks = []
    if caps.conditions:
        asks.append(f"who has {_cardiovascular(config, caps.conditions)} recorded")
    diagnosed = bool(caps.conditions) and (caps.has_truth or caps.has("sex"))
    treated = bool(caps.indicators_of("treatment"))
    if diagnosed or treated:
        asks.append(
            "who is " + " and ".join(w for w, ok in (("diagnosed", diagnosed), ("treated", treated)) if ok)
        )
    if caps.has("days_to_first_outpatient"):
        asks.append("who waits longest")
    ends = [o for o in caps.outcomes if o in ("cvd_admissions", "cvd_death")]
    if ends:
        asks.append(
            "who "
            + " or ".join(
                w for o, w in (("cvd_admissions", "ends up in hospital"), ("cvd_death", "dies")) if o in ends
            )
        )
    asks += [_ask(config, caps, o) for o in caps.outcomes if o not in ends]
    groups = [
        DIMENSION_WORDS.get(d.name) or d.noun or lower_first(d.label)
        for d in caps.dimensions
        if d.name != "locality"
    ]
    place = place_text(caps)
    by = join([*groups, *([place] if place else [])])
    if not asks:
        text = (
            f"It describes who is in the data and how they differ by {by}."
            if by
            else "It describes who is in the data."
        )
    elif by:
        text = f"It asks {join(asks)}, and how all of these differ by {by}."
    else:
        text = f"It asks {join(asks)}."
    if config.model.target in caps.columns:
        text += " It then asks whether a model that predicts who is at highest risk would treat these groups fairly."
    return text


def models_text(caps: Capabilities, config: Config) -> str:
    """What the model chapters do, for this dataset (completes "**Risk models and fairness** ...")."""
    target = config.model.target
    if target not in caps.columns:
        return "needs an outcome to predict, which this dataset does not have."
    what = MODEL_TARGETS.get(target) or lower_first(caps.label(target))
    return f"builds a model that predicts {what} and audits whether it works equally well for every group."


class WelcomePage(Page):
    """The welcome page (``index``)."""

    slug = "index"

    @cached_property
    def facts(self) -> dict[str, Any]:
        """Size and composition of everyone (:func:`healthgap.descriptive.population.summary`)."""
        return pop.summary(self.people)

    # -- the opening paragraphs -----------------------------------------------
    @property
    def organisation(self) -> str:
        """The organisation, and the period when the config gives one ("... for 2024/25")."""
        report = self.config.report
        return report.organisation + (f" for {report.period}" if report.period else "")

    @property
    def asks(self) -> str:
        """:func:`asks_text` for this dataset."""
        return asks_text(self.caps, self.config)

    @property
    def source(self) -> str:
        """:func:`source_text` for this config."""
        return source_text(self.config)

    @property
    def coverage(self) -> str:
        """ "The data cover 250,000 people registered with 100 GP practices." (practices when the data have them)."""
        return f"The data cover {holds(self.facts)}."

    # -- the findings ----------------------------------------------------------
    @cached_property
    def headlines(self) -> WordedHeadlines:
        """The five findings, from tables published once on this page."""
        tables = headline_tables(self.people, self.config)
        published = _published(tables, self.book.publish)
        numbers = headline_numbers(tables, published)
        exact = headline_gaps(self.people, self.config, tables)
        base = self.config.disclosure.rounding if self.config.disclosure.enabled else 1
        gaps = None if exact is None else publish_gaps(self.book, exact, base=base).frame
        treatment = standardised_treatment(
            numbers.treatment_gap, gaps, strata=_strata(self.people, tables), why=_crude_reason(self.people)
        )
        return _worded(_with_treatment(numbers, treatment, published.get("outcome_excess")), self.config)

    @property
    def findings_heading(self) -> str:
        """The heading of the findings: "Five findings" when all five can be reported."""
        return findings_heading(self.headlines)

    def findings(self) -> Any:
        """The findings that can be shown, as a numbered list (Markdown), or None."""
        from IPython.display import Markdown

        text = self.headlines.markdown()
        return Markdown(text) if text else None

    def findings_skipped(self) -> Any:
        """One note naming the findings the data lack what they need for, or None."""
        from IPython.display import HTML

        note = skipped_note(self.headlines)
        if note is None:
            return None
        return HTML(f'<div class="hg-skip callout callout-note" role="note"><p>{html.escape(note)}</p></div>')

    def download(self) -> Any:
        """The findings as a CSV download (no counts of people in it)."""
        published = self.book.publish(self.headlines.frame(), counts=[])
        return self.book.download(published, id="headlines", title="The five headline findings")

    # -- how to read the report ------------------------------------------------
    @property
    def access(self) -> str:
        """:func:`access_text` for this dataset."""
        return access_text(self.caps, self.config)

    @property
    def experience(self) -> str:
        """:func:`experience_text` for this dataset."""
        return experience_text(self.caps, self.config)

    @property
    def units(self) -> str:
        """:func:`units_text` for this dataset."""
        return units_text(self.caps, self.config)

    @property
    def where_to_act(self) -> str:
        """:func:`where_to_act_text` for this dataset."""
        return where_to_act_text(self.caps, self.config, self.people.collect_schema())

    @property
    def outcomes(self) -> str:
        """:func:`outcomes_text` for this dataset."""
        return outcomes_text(self.caps, outcomes=self.config.outcomes)

    @property
    def geography(self) -> str:
        """:func:`geography_text` for this dataset."""
        return geography_text(self.caps)

    @property
    def models(self) -> str:
        """:func:`models_text` for this dataset."""
        return models_text(self.caps, self.config)

    @property
    def protection(self) -> str:
        """:func:`protection_text` for this config."""
        return protection_text(self.config)
