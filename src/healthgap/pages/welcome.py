"""The welcome page: what the report covers, the five headline findings and how to read it.

The numbers of the findings come from :mod:`healthgap.descriptive.headlines`
(exact aggregates, published here once, then read); this module words them.
:func:`headlines` gives the worded findings without a page (tests, notebooks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap.config import Config
from healthgap.contract import CONDITION_LABELS
from healthgap.descriptive import population as pop
from healthgap.descriptive.headlines import (
    FIFTH_SUPPRESSED,
    NO_CONDITIONS,
    NO_DEPRIVATION,
    NO_OUTCOMES,
    NO_REFERENCE,
    NO_STATIN,
    OBSERVED_EXPECTED,
    TOO_FEW,
    Finding,
    Headlines,
    HeadlineTables,
    headline_numbers,
    headline_tables,
)
from healthgap.descriptive.outcomes import OUTCOME_LABELS
from healthgap.disclosure import Published, publish
from healthgap.pages.base import Page
from healthgap.pages.capabilities import Capabilities
from healthgap.pages.population import registered, size
from healthgap.text import interval, join, lower_first, num

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
    "outcome_ratio_text",
    "source_text",
    "protection_text",
    "access_text",
    "outcomes_text",
    "geography_text",
    "place_text",
    "TITLES",
    "WHY",
    "SUBJECTS",
]

#: The title of each finding (the outcome's label for ``outcome_ratio`` when there is one).
TITLES = {
    "prevalence_gap": "Recorded disease and deprivation",
    "slope": "Slope index of inequality",
    "underdiagnosis": "Under-diagnosis",
    "treatment_gap": "Treatment gap",
    "outcome_ratio": "Outcomes",
}
#: Why a finding is not available, by reason.
WHY = {
    NO_DEPRIVATION: "the dataset has no deprivation (IMD) column",
    NO_CONDITIONS: "the dataset has no conditions",
    TOO_FEW: "too few people in a group",
    FIFTH_SUPPRESSED: "a deprivation fifth has too few cases",
    NO_STATIN: "the dataset has no statin prescribing",
    NO_OUTCOMES: "the dataset has no outcome columns",
    NO_REFERENCE: "the least deprived fifth is not the reference group",
}
#: What a finding that is about a named condition or outcome calls itself when it cannot be reported.
SUBJECTS = {
    "prevalence_gap": "The deprivation gap in {name}",
    "slope": "The slope index of inequality for {name}",
    "underdiagnosis": "Under-diagnosis of {name}",
    "treatment_gap": "The statin treatment gap",
    "outcome_ratio": "The deprivation gap in {name}",
}
_NA = "{what} cannot be reported: {why}."
#: Said after a comparison whose interval includes no difference.
_CHANCE = "; the difference could be due to chance."
_NEITHER_DIFFERS = " Neither differs clearly from what age and sex would predict."
_NO_TRUTH = (
    " Without data on true disease status this cannot separate more disease from better or worse diagnosis."
)
_OUTCOME_WHAT = {
    "cvd_admissions": "an emergency admission for heart or circulatory disease",
    "cvd_death": "death from heart or circulatory disease",
}
_SYNTHETIC = "a synthetic population: computer-generated people whose inequalities were built in on purpose"
_KNOWN_ANSWER = ", so that every method in the report can be checked against a known answer"
#: How the chapter list names each area column.
AREA_WORDS = {"lsoa": "small areas", "gp_practice": "GP practices", "locality": "localities"}
#: What the risk model predicts, by its target column.
MODEL_TARGETS = {"cvd_admissions": "emergency admissions", "cvd_death": "deaths from cardiovascular disease"}


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

    def __str__(self) -> str:
        return self.text


class WordedHeadlines(Headlines[Headline]):
    """The five findings with their sentences."""

    def markdown(self) -> str:
        """The findings as a numbered Markdown list."""
        return "\n".join(f"{i}. **{h.title}.** {h.text}" for i, h in enumerate(self, start=1))

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


def _condition(finding: Finding) -> str:
    return lower_first(CONDITION_LABELS[finding.values["condition"]])


def title_of(finding: Finding) -> str:
    """The finding's title; the outcome's label (e.g. "Emergency CVD admissions") for ``outcome_ratio``."""
    outcome = finding.values.get("outcome")
    if finding.key == "outcome_ratio" and outcome:
        return OUTCOME_LABELS.get(outcome, TITLES["outcome_ratio"])
    return TITLES[finding.key]


def unavailable_text(finding: Finding) -> str:
    """Why the finding cannot be reported: ``"Treatment gap cannot be reported: ..."``."""
    values = finding.values
    name = values.get("condition") or values.get("outcome")
    if finding.reason in (TOO_FEW, FIFTH_SUPPRESSED, NO_REFERENCE) and (
        name or finding.key == "treatment_gap"
    ):
        label = CONDITION_LABELS.get(name or "") or OUTCOME_LABELS.get(name or "", name)
        what = SUBJECTS[finding.key].format(name=lower_first(label or ""))
    else:
        what = title_of(finding)
    return _NA.format(what=what, why=WHY.get(finding.reason or "", "it is not available"))


def prevalence_gap_text(finding: Finding) -> str:
    """Recorded prevalence (DSR) in the most and least deprived fifths: the gap, or that there is no clear one."""
    v = finding.values
    start = (
        f"After allowing for differences in age, recorded {_condition(finding)} was "
        f"{num(v['most'], 1)}% in the most deprived fifth of the population and "
        f"{num(v['least'], 1)}% in the least deprived fifth"
    )
    ratio = v["ratio"]
    if v["clear"]:
        more = "higher" if v["gap"] > 0 else "lower"
        times = f" ({num(ratio, 2)} times the rate)." if ratio else "."
        return f"{start}: {num(abs(v['gap']), 1)} percentage points {more}{times}"
    if v["by_ratio"] and ratio:
        why = f" (rate ratio {num(ratio, 2)}, {interval(v['rr_lower'], v['rr_upper'])})."
    else:
        why = " (their 95% confidence intervals overlap)."
    return f"{start}: no clear difference{why}"


def slope_text(finding: Finding) -> str:
    """The slope index of inequality, in percentage points, with its interval and sign convention.

    When the interval includes 0 the sentence says that the difference could be due to chance.
    """
    v = finding.values
    direction = "more deprived" if v["sii"] < 0 else "less deprived"
    lo, hi = v["sii_lower"], v["sii_upper"]
    clear = lo is not None and hi is not None and (hi < 0 or lo > 0)
    return (
        f"Across the whole deprivation gradient, age-standardised recorded {_condition(finding)} "
        f"is {num(abs(v['sii']), 2)} percentage points higher in {direction} areas "
        f"(slope index of inequality {num(v['sii'], 2)}, {interval(lo, hi)}; "
        "a negative value means higher in more deprived areas)" + ("." if clear else _CHANCE)
    )


def _ci(lower: float | None, upper: float | None) -> str:
    return "" if lower is None else f", {interval(lower, upper)}"


def _differs(lower: float | None, upper: float | None) -> bool:
    return lower is not None and upper is not None and (lower > 1 or upper < 1)


def underdiagnosis_text(finding: Finding) -> str:
    """Detection (recorded among the truly affected), or observed/expected recorded cases without true status."""
    v = finding.values
    name = _condition(finding)
    if v["measure"] != OBSERVED_EXPECTED:
        return (
            f"Of the people who truly have {name}, {num(v['most'], 0)}% in the most deprived fifth are on "
            f"a GP register, against {num(v['least'], 0)}% in the least deprived fifth"
            + (
                ": the condition goes unrecorded more often in the most deprived areas."
                if v["most"] < v["least"]
                else "."
            )
        )
    neither = not _differs(v["most_lower"], v["most_upper"]) and not _differs(
        v["least_lower"], v["least_upper"]
    )
    return (
        f"The most deprived fifth has {num(v['most'], 2)} times the number of recorded {name} cases "
        f"expected from its age and sex{_ci(v['most_lower'], v['most_upper'])} (least deprived fifth: "
        f"{num(v['least'], 2)}{_ci(v['least_lower'], v['least_upper'])})"
        + (f".{_NEITHER_DIFFERS}" if neither else ".")
        + _NO_TRUTH
    )


def treatment_gap_text(finding: Finding) -> str:
    """Statin prescribing among the eligible, most versus least deprived (and how eligibility was judged)."""
    v = finding.values
    text = (
        f"Among people who should be offered a statin, {num(v['most'], 0)}% in the most deprived "
        f"fifth were prescribed one, against {num(v['least'], 0)}% in the least deprived fifth "
        f"(a gap of {num(abs(v['gap']), 1)} percentage points)."
    )
    label = str(v.get("measure_label") or "")
    if "only)" in label:  # "Statin prescribed (eligible from recorded chd and diabetes only)"
        text += f" Eligibility was judged from {label[label.index('recorded') : -1]}, the conditions this dataset has."
    return text


def outcome_ratio_text(finding: Finding) -> str:
    """The rate ratio of the outcome, most versus least deprived fifth, with its interval.

    When the interval includes 1 the sentence says that the difference could be due to chance.
    """
    v = finding.values
    what = _OUTCOME_WHAT.get(v["outcome"], lower_first(OUTCOME_LABELS.get(v["outcome"], v["outcome"])))
    return (
        f"After allowing for age, people in the most deprived fifth had {num(v['ratio'], 2)} times "
        f"the rate of {what} of people in the least deprived fifth "
        f"({interval(v['lower'], v['upper'])})" + ("." if _differs(v["lower"], v["upper"]) else _CHANCE)
    )


_SENTENCES: dict[str, Callable[[Finding], str]] = {
    "prevalence_gap": prevalence_gap_text,
    "slope": slope_text,
    "underdiagnosis": underdiagnosis_text,
    "treatment_gap": treatment_gap_text,
    "outcome_ratio": outcome_ratio_text,
}


def word(finding: Finding) -> Headline:
    """The finding with its title and sentence."""
    text = _SENTENCES[finding.key](finding) if finding.available else unavailable_text(finding)
    return Headline(finding, title_of(finding), text)


def _published(tables: HeadlineTables, publish_frame: Callable[..., Published]) -> dict[str, pl.DataFrame]:
    """Each table of ``tables`` through the publication step, by name."""
    return {
        name: publish_frame(frame, counts=tables.counts(name), recompute=tables.recompute(name)).frame
        for name, frame in tables.tables.items()
    }


def _worded(numbers: Iterable[Finding]) -> WordedHeadlines:
    return WordedHeadlines(*(word(f) for f in numbers))


def headlines(people: pl.LazyFrame | pl.DataFrame, config: Config) -> WordedHeadlines:
    """The five findings as the welcome page shows them (published with ``config.disclosure``).

    Parameters
    ----------
    people : the canonical person table.
    config : the loaded config.
    """
    tables = headline_tables(people, config)
    published = _published(tables, partial(publish, settings=config.disclosure))
    return _worded(headline_numbers(tables, published))


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


def access_text(caps: Capabilities) -> str:
    """What the access and treatment chapter looks at, for this dataset."""
    steps = ["diagnosis" if caps.has_truth else "diagnosis (how recorded cases compare with those expected)"]
    if any(caps.has(c) for c in ("statin", "anticoagulant", "antihypertensive")):
        steps.append("treatment of people who should be treated")
    if caps.has("days_to_first_outpatient"):
        steps.append("waits")
    if caps.has("missed_appointments"):
        steps.append("missed appointments")
    return f"looks at {join(steps)}."


def outcomes_text(caps: Capabilities, *, outcomes: Iterable[str]) -> str:
    """What the outcomes chapter compares, for this dataset (``outcomes``: the configured ones)."""
    words = [
        w
        for c, w in (("cvd_admissions", "emergency admissions"), ("cvd_death", "deaths"))
        if c in outcomes and caps.has(c)
    ]
    practices = ", and GP practices." if caps.has("gp_practice") and words else "."
    return "compares " + " and ".join(words or ["outcomes"]) + practices


def geography_text(caps: Capabilities) -> str:
    """What the geography chapter compares, and whether it draws a map or tiles."""
    area = caps.area_column
    places = ["localities"] if "locality" in caps.dimension_names and area != "locality" else []
    if area:
        places.append(AREA_WORDS.get(area, "areas"))
    if not places:
        return (
            "has nothing to show for this dataset, which has no locality, small-area or GP practice column."
        )
    if caps.mapped:
        how = ", with a map."
    elif area:
        how = ", shown as equal-sized tiles in a chart (the dataset has no boundaries to draw a map)."
    else:
        how = "."
    return "compares " + " and ".join(places) + how


def place_text(caps: Capabilities) -> str:
    """ "and place" (or "and GP practice") after the dimensions the report compares, when it can."""
    if "locality" in caps.dimension_names or caps.has("lsoa"):
        return " and place"
    return " and GP practice" if caps.has("gp_practice") else ""


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
    def waits(self) -> str:
        """ "who waits longest " when the dataset has waiting times, else nothing."""
        return "who waits longest " if self.caps.has("days_to_first_outpatient") else ""

    @property
    def place(self) -> str:
        """:func:`place_text` for this dataset."""
        return place_text(self.caps)

    @property
    def source(self) -> str:
        """:func:`source_text` for this config."""
        return source_text(self.config)

    @property
    def size(self) -> str:
        """The number of people, to the nearest 10."""
        return size(self.facts)

    @property
    def registered(self) -> str:
        """``"registered with 100 GP practices"``."""
        return registered(self.facts)

    # -- the findings ----------------------------------------------------------
    @cached_property
    def headlines(self) -> WordedHeadlines:
        """The five findings, from tables published once on this page."""
        tables = headline_tables(self.people, self.config)
        return _worded(headline_numbers(tables, _published(tables, self.book.publish)))

    def download(self) -> Any:
        """The findings as a CSV download (no counts of people in it)."""
        published = self.book.publish(self.headlines.frame(), counts=[])
        return self.book.download(published, id="headlines", title="The five headline findings")

    # -- how to read the report ------------------------------------------------
    @property
    def access(self) -> str:
        """:func:`access_text` for this dataset."""
        return access_text(self.caps)

    @property
    def outcomes(self) -> str:
        """:func:`outcomes_text` for this dataset."""
        return outcomes_text(self.caps, outcomes=self.config.outcomes)

    @property
    def geography(self) -> str:
        """:func:`geography_text` for this dataset."""
        return geography_text(self.caps)

    @property
    def model_target(self) -> str:
        """What the risk model predicts ("emergency admissions")."""
        return MODEL_TARGETS.get(self.config.model.target, "an outcome")

    @property
    def protection(self) -> str:
        """:func:`protection_text` for this config."""
        return protection_text(self.config)
