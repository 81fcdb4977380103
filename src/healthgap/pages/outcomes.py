"""Outcomes: every outcome measure by group, and where GP practices are compared.

Everything ``chapters/outcomes.qmd`` computes, words and shows, for any dataset. The outcomes
are the config's (:meth:`healthgap.config.Config.measures_of` ``("outcome")``), worded from
their label and period ("CVD emergency admissions during the year", "coronary heart disease
within ten years"): a count outcome is a rate per 1,000 people (every event counts), a flag
outcome the share of people (%). Rates are age-standardised to the 2013 European Standard
Population over the age bands the data cover
(:func:`healthgap.descriptive.outcomes.outcome_rates`), published once for the figures, the
sentences and the download (:attr:`OutcomesPage.rates`). GP practices are compared after their
age and sex mix in the geography chapter (:meth:`OutcomesPage.practices_section` points there).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension, Measure
from healthgap.descriptive import LEVEL, measure_label
from healthgap.descriptive.access import missing_values
from healthgap.descriptive.outcomes import (
    PER,
    ages_of,
    covered_bands,
    outcome_rates,
)
from healthgap.descriptive.prevalence import recompute_rates
from healthgap.descriptive.priorities import COUNTS, MIN_EXPECTED, enough_expected, priorities
from healthgap.disclosure import Published
from healthgap.pages._blocks import blocks, heading, numbered, paragraph
from healthgap.pages._groups import compared_dimension, group_name, in_group, noun_of, spread
from healthgap.pages.base import RATIO_FORMATS, Page, ci_columns
from healthgap.pages.geography import GeographyPage
from healthgap.pages.sentences import (
    NOT_RECORDED,
    count_aside,
    fmt,
    missing_sentence,
    not_recorded,
    simultaneous_clause,
    simultaneous_ratios,
    too_small_to_count,
)
from healthgap.pages.where_to_act import (
    _includes_zero,
    about,
    dimension_orders,
    number_interval,
    publish_gaps,
    published_group_counts,
)
from healthgap.stats import AGE_BAND_LABELS
from healthgap.text import capitalise, count, join, lower_first

__all__ = [
    "OutcomesPage",
    "Outcome",
    "FIGURE_COLUMNS",
    "DOWNLOAD_DROP",
    "EXCESS_COLUMNS",
    "NOT_RECORDED_NOTE",
    "PER_TEXT",
    "ages_applying",
    "excess_sentence",
    "too_few_expected",
    "TOO_FEW_NOTE",
    "NOTHING_TO_PLOT",
    "AGES_NOTE",
    "EXCESS_SENTENCE",
    "EXCESS_SAME",
    "EXCESS_TOO_SMALL",
    "PREMATURE_UNDER",
    "ratio_sentence",
    "standard_sentence",
]

ERR_NO_OUTCOMES = "figure_data({measure!r}): the dataset has no outcome rates (see OutcomesPage.outcomes)."
#: "1,000": count outcomes are per this many people.
PER_TEXT = f"{PER:,}"
#: The columns behind each outcome chart (and its download).
FIGURE_COLUMNS = (
    "dimension",
    "dimension_label",
    "level",
    "label",
    "measure",
    "events",
    "population",
    "value",
    "lower_ci",
    "upper_ci",
    "rate_ratio",
    "rr_lower",
    "rr_upper",
    "note",
)
#: Columns of the download of the outcomes in numbers.
EXCESS_COLUMNS = (
    "measure",
    "label",
    "dimension",
    "level",
    "reference",
    "counted",
    *COUNTS,
    "expected",
    "expected_variance",
    "observed_variance",
    "rate",
    "reference_rate",
    "excess",
    "excess_lower",
    "excess_upper",
    "simultaneous_lower",
    "simultaneous_upper",
    "comparisons",
)
#: Columns of the published rates left out of the download of all the numbers.
DOWNLOAD_DROP = ("order", "is_reference", "statistic", "method")
_COUNTS = ["events", "population"]

UNPUBLISHED_LEAD = "Rate ratios of "
UNPUBLISHED = (
    UNPUBLISHED_LEAD + "{phrase} by {dimensions} could not be published because some groups are too small."
)
NO_OUTCOMES_INTRO = "This chapter compares outcomes between groups, where the dataset records them."
NO_OUTCOMES = "outcome measures (such as admissions or deaths during follow-up)"
NO_DIMENSION = "equity dimension to compare groups along"
NO_PRACTICES = "GP practice or small-area column"
NO_AGE = "age column, to compare GP practices after their age and sex mix"
#: Why a level recording an unknown value is not compared (it is not a group of people).
NOT_RECORDED_NOTE = (
    "The comparison leaves out {who}: they are not a group of people but a gap in the record, and "
    "their rate says who goes unrecorded as much as how their health differs."
)
#: Premature deaths are deaths under this age (the NHS Outcomes Framework's definition): an
#: outcome named ``premature_...`` applies to people younger than it, unless its measure says
#: whom it applies to (an ``ages`` attribute, [low, high] inclusive).
PREMATURE_UNDER = 75
PREMATURE_PREFIX = "premature_"
#: Said once for each outcome that applies only to some ages.
AGES_NOTE = (
    "{label} applies only to {whom}, so its rates are per {per} {whom}, age-standardised over their ages."
)
#: In numbers: the excess of the group a ratio sentence names (``aside``: what keeps the number
#: from giving a verdict other than the ratio's, :func:`healthgap.pages.sentences.count_aside`).
EXCESS_SENTENCE = (
    "In numbers, {group} had about {n} {more} {what} than expected at the rates of {reference} for each "
    "{strata} (95% CI {interval}{aside})."
)
#: ... when the number rounds to 0.
EXCESS_SAME = (
    "In numbers, {group} had about as many {what} as expected at the rates of {reference} for each "
    "{strata} (95% CI {interval}{aside})."
)
#: ... when so few are observed and expected that the number would say nothing (0 with an
#: interval from rounding alone; :func:`healthgap.pages.sentences.too_small_to_count`).
EXCESS_TOO_SMALL = (
    "The numbers of {what} in {group}, observed and expected at the rates of {reference}, are too "
    "small to give their difference as a count."
)
#: A group with too few expected events to compare (the rule of
#: :data:`healthgap.descriptive.priorities.MIN_EXPECTED`).
TOO_FEW_NOTE = (
    "Fewer than {floor} {what} would be expected in {who} at the rates of {reference}, too few to "
    "compare: a few events either way would change the rate ratio several-fold, so it is not named here."
)
#: In place of a chart whose every group's rate is unpublished (the outcome's phrase; what is counted).
NOTHING_TO_PLOT = (
    "No group's age-standardised rate of {what} can be published: every group has too few "
    "{counted}, or too few people, for one, so there is no chart."
)
#: A flag outcome fewer than this share of people have is shown per 1,000 people, not in %.
RARE = 0.01
STANDARD_ALL = "{what} are age-standardised to the 2013 European Standard Population."
STANDARD_SOME = (
    "{what} are age-standardised to the 2013 European Standard Population restricted to ages {ages}, the "
    "ages in this dataset."
)
#: The practices section: a pointer to the funnel of observed / expected in the geography chapter.
PRACTICES_POINTER = (
    "Variation between {plural} in {what} is shown after their age and sex mix (observed against expected, "
    "on a funnel plot) in @sec-geography-funnels, not as crude rates, which would place {plural} with older "
    "populations higher for their age alone."
)
#: ... when nobody with a practice (area) has the outcome.
PRACTICES_NONE = (
    "Nobody with a recorded {singular} has {what} in this dataset, so {plural} are not compared on it."
)


@dataclass(frozen=True)
class Outcome:
    """One outcome measure the page shows, with how its rate is expressed.

    Attributes
    ----------
    measure : the declared measure (a flag or a count).
    rare : a flag so rare (fewer than :data:`RARE` of people have it) that a share in % would
        read 0.2% and 0.3% for a gap of 2 to 1: it is shown per 1,000 people instead.
    ages : the ages the outcome applies to (inclusive), or None for everyone
        (:func:`ages_applying`): its rates are per person of those ages.
    """

    measure: Measure
    rare: bool = False
    ages: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return self.measure.name

    @property
    def whom(self) -> str:
        """Whom a rate is per: "people", or "people aged under 75" for an outcome of some ages."""
        if self.ages is None:
            return "people"
        low, high = self.ages
        return f"people aged under {high + 1}" if low <= 0 else f"people aged {low}-{high}"

    @property
    def is_count(self) -> bool:
        """Events per 1,000 people (a count), else a share of people (a flag)."""
        return self.measure.type != "flag"

    @property
    def per_thousand(self) -> bool:
        """Shown per 1,000 people: a count (events), or a rare flag (people with it)."""
        return self.is_count or self.rare

    @property
    def multiplier(self) -> float:
        return PER if self.per_thousand else 100

    @property
    def slug(self) -> str:
        return self.name.replace("_", "-").lower()

    @property
    def phrase(self) -> str:
        """The label and period mid-sentence: "CVD emergency admissions during the year"."""
        label, period = lower_first(self.measure.label), self.measure.period
        if not period or period.lower() in label.lower():
            return label
        return f"{label} {period}"

    @property
    def unit(self) -> str:
        """ "per 1,000 people" or "% of people" ("per 1,000 people aged under 75")."""
        return f"per {PER_TEXT} {self.whom}" if self.per_thousand else f"% of {self.whom}"

    @property
    def value_heading(self) -> str:
        return f"Rate per {PER_TEXT}" if self.per_thousand else "People (%)"

    @property
    def suffix(self) -> str:
        return f" per {PER_TEXT}" if self.per_thousand else "%"


def ages_applying(measure: Measure) -> tuple[int, int] | None:
    """The ages an outcome applies to (inclusive), or None for everyone: the measure's own
    :attr:`~healthgap.config.Measure.ages` when its profile or config gives them, else under
    :data:`PREMATURE_UNDER` for a measure named ``premature_...`` (a flag false for everyone older,
    whose rate is per person younger)."""
    if measure.ages is not None:
        return measure.ages
    if measure.name.startswith(PREMATURE_PREFIX):
        return 0, PREMATURE_UNDER - 1
    return None


def excess_sentence(
    excess: pl.DataFrame,
    dim: Dimension,
    outcome: Outcome,
    level: str,
    *,
    base: int,
    strata: str,
    verdict: bool = True,
) -> str:
    """The gap of ``level`` from the reference in numbers of events (or people), from the
    published indirectly standardised excess (:func:`healthgap.descriptive.priorities.priorities`),
    or "" when it is not published.

    ``verdict``: whether the rate ratio before it is clear (its interval excludes 1). The ratio
    carries the finding's one verdict; the number's interval supports it and never states another
    (:func:`healthgap.pages.sentences.count_aside`). Too few observed and expected
    (:func:`healthgap.pages.sentences.too_small_to_count`): the number is not given.
    """
    rows = excess.filter(
        (pl.col("measure") == outcome.name)
        & (pl.col("dimension") == dim.name)
        & (pl.col(LEVEL) == str(level))
    )
    if rows.is_empty() or rows.item(0, "excess") is None:
        return ""
    r = rows.row(0, named=True)
    fewer = r["excess"] < 0
    what = _counted(outcome)
    lo, hi = r["excess_lower"], r["excess_upper"]
    names = {
        "group": group_name(dim, level),
        "what": what,
        "reference": group_name(dim, dim.reference),
        "strata": strata,
    }
    if too_small_to_count(r.get("numerator"), r.get("expected"), lo, hi, base=base):
        return EXCESS_TOO_SMALL.format(**names)
    # one verdict per finding: the ratio's (``verdict``); the number's interval only supports it
    aside = count_aside(
        ratio_clear=verdict, count_includes_zero=lo is None or hi is None or _includes_zero(lo, hi, base=base)
    )
    if about(r["excess"], base=base) == "0":
        return EXCESS_SAME.format(**names, interval=number_interval(lo, hi, base=base), aside=aside)
    return EXCESS_SENTENCE.format(
        **names,
        n=about(r["excess"], base=base),
        more="fewer" if fewer else "more",
        interval=number_interval(lo, hi, base=base, flip=fewer),
        aside=aside,
    )


def _counted(outcome: Outcome) -> str:
    """What a number of the outcome counts: "CVD emergency admissions during the year", "CVD
    deaths", "people with <label>"."""
    name = lower_first(outcome.measure.label)
    if outcome.is_count:
        return f"{name} {outcome.measure.period or ''}".strip()
    if re.search(r"\bdeath\b", name):  # a death is counted once: "CVD deaths"
        return re.sub(r"\bdeath\b", "deaths", name, count=1)
    return f"people with {name}"


def too_few_expected(excess: pl.DataFrame, dim: Dimension, outcome: Outcome) -> list[str]:
    """The levels of ``dim`` whose published expected count of ``outcome`` (at the reference
    group's rates, :attr:`OutcomesPage.excess`) is below
    :data:`~healthgap.descriptive.priorities.MIN_EXPECTED`: their rate ratio is not named as a
    finding (a suppressed expected count is not counted: the group is suppressed anyway)."""
    return (
        excess.filter(
            (pl.col("measure") == outcome.name)
            & (pl.col("dimension") == dim.name)
            & pl.col("expected").is_not_null()
            & ~enough_expected()
        )
        .get_column(LEVEL)
        .cast(pl.String)
        .to_list()
    )


def standard_sentence(bands: list[str], *, what: str = "Rates") -> str:
    """Which ages the standard population covers: all of them, or the ages in the dataset.

    ``what`` is standardised: "Rates", or "Shares" on a page of shares of people only.
    """
    if not bands or bands == list(AGE_BAND_LABELS):
        return STANDARD_ALL.format(what=what)
    return STANDARD_SOME.format(what=what, ages=ages_of(bands))


def ratio_sentence(
    table: pl.DataFrame,
    dim: Dimension,
    outcome: Outcome,
    *,
    excess: pl.DataFrame | None = None,
    base: int = 5,
    strata: str = "age band and sex",
) -> str:
    """The group whose rate ratio of ``outcome`` is furthest from 1 against the reference, as a sentence.

    A count: '... people in A had 2.3 times the rate of X of people in B ...'; a flag (a
    share of people): '... the risk of X was 2.4 times as high in A as in B ...'. Uses the
    published rate ratios. The group is the most extreme of several: the sentence says
    whether it stays clear once every group compared is allowed for (Bonferroni intervals,
    :func:`healthgap.pages.sentences.simultaneous_clause`) and names the other groups that
    do. A level recording an unknown value ("Not stated" ethnicity) is not a group of people:
    it is neither picked nor counted among the comparisons (:data:`NOT_RECORDED_NOTE`). With
    ``excess`` (the page's published :attr:`OutcomesPage.excess`), the group's gap follows in
    numbers (:func:`excess_sentence`; ``base`` the rounding base, ``strata`` what the expected
    count is standardised for).
    """
    rows = table.filter((pl.col("dimension") == dim.name) & (pl.col("measure") == outcome.name))
    ref = rows.filter(pl.col(LEVEL) == dim.reference)
    few = too_few_expected(excess, dim, outcome) if excess is not None else []
    others = rows.filter(
        pl.col("rate_ratio").is_not_null()
        & ~pl.col("is_reference")
        & (pl.col("rate_ratio") > 0)
        & ~not_recorded(dim.name)
        & ~pl.col(LEVEL).cast(pl.String).is_in(few)
    )
    shown_few = (
        rows.filter(
            pl.col(LEVEL).cast(pl.String).is_in(few)
            & pl.col("rate_ratio").is_not_null()
            & ~pl.col("is_reference")
        )
        .get_column(LEVEL)
        .cast(pl.String)
        .to_list()
    )
    few_note = (
        " "
        + TOO_FEW_NOTE.format(
            what=_counted(outcome),
            who=join([group_name(dim, level) for level in shown_few]),
            floor=count(MIN_EXPECTED),
            reference=group_name(dim, dim.reference),
        )
        if shown_few
        else ""
    )
    if others.is_empty() or ref.is_empty():
        if shown_few and not ref.is_empty():
            return few_note.strip()  # every published ratio withheld: said once, not as unpublished
        return UNPUBLISHED.format(phrase=outcome.phrase, dimensions=lower_first(dim.label))
    sims = simultaneous_ratios(others)
    r = (
        sims.with_columns(pl.col("rate_ratio").log().abs().alias("__d"))
        .sort("__d", descending=True)
        .row(0, named=True)
    )
    rr, lo, hi = r["rate_ratio"], r["rr_lower"], r["rr_upper"]
    unclear = lo is None or hi is None or lo <= 1 <= hi  # no ratio stated as a finding
    compared = (
        _unclear_phrase(dim, outcome, r[LEVEL])
        if unclear
        else _rate_phrase(dim, outcome, r[LEVEL], rr)
        if outcome.is_count
        else _risk_phrase(dim, outcome, r[LEVEL], rr)
    )
    tail = simultaneous_clause(
        sims,
        str(r[LEVEL]),
        name=lambda level: group_name(dim, level),
        reference=group_name(dim, dim.reference),
    )
    unrecorded = rows.filter(not_recorded(dim.name)).height > 0
    numbers = (
        excess_sentence(excess, dim, outcome, str(r[LEVEL]), base=base, strata=strata, verdict=not unclear)
        if excess is not None
        else ""
    )
    return (
        f"After allowing for age, {compared} (rate ratio {fmt(rr, 2)}, 95% CI {fmt(lo, 2)} to {fmt(hi, 2)})"
        + tail
        + (" " + numbers if numbers else "")
        + few_note
        + (
            " " + NOT_RECORDED_NOTE.format(who=group_name(dim, NOT_RECORDED[dim.name][0], people=True))
            if unrecorded
            else ""
        )
    )


def _unclear_phrase(dim: Dimension, outcome: Outcome, level: str) -> str:
    """'the rate of X in A could not be told apart from that in B' (an interval including 1)."""
    a, b = in_group(group_name(dim, level)), in_group(group_name(dim, dim.reference))
    what = f"the rate of {outcome.phrase}" if outcome.is_count else f"the risk of {outcome.phrase}"
    return f"{what} {a} could not be told apart from that {b}"


#: The note of a group whose rate ratio is left out for too few expected events.
TOO_FEW_MARK = "too few expected to compare: rate ratio not shown"


def _withhold_ratios(frame: pl.DataFrame, few: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (published rates) without the rate ratios of the groups in ``few`` (measure,
    dimension, ``__level``), their note saying why."""
    if few.is_empty():
        return frame
    hit = (
        frame.with_columns(pl.col(LEVEL).cast(pl.String).alias("__level"))
        .join(
            few.with_columns(pl.lit(True).alias("__few")),
            on=["measure", "dimension", "__level"],
            how="left",
            maintain_order="left",
        )
        .get_column("__few")
        .fill_null(False)
    )
    mark = pl.lit(hit)
    out = frame.with_columns(
        *(
            pl.when(mark).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("rate_ratio", "rr_lower", "rr_upper")
        ),
    )
    if "note" in frame.columns:
        out = out.with_columns(
            pl.when(mark & pl.col("note").is_null())
            .then(pl.lit(TOO_FEW_MARK))
            .otherwise(pl.col("note"))
            .alias("note")
        )
    return out


def _rate_phrase(dim: Dimension, outcome: Outcome, level: str, rr: float) -> str:
    """'people in A had 2.3 times the rate of X of people in B' (a count outcome: events)."""
    who, against = group_name(dim, level, people=True), group_name(dim, dim.reference, people=True)
    if abs(rr - 1) < 0.05:
        return f"{who} had about the same rate of {outcome.phrase} as {against}"
    if rr < 1:
        return f"{who} had a {fmt(100 * (1 - rr), 0)}% lower rate of {outcome.phrase} than {against}"
    return f"{who} had {fmt(rr, 1)} times the rate of {outcome.phrase} of {against}"


def _risk_phrase(dim: Dimension, outcome: Outcome, level: str, rr: float) -> str:
    """'the risk of X was 2.4 times as high in A as in B' (a flag outcome: a share of people)."""
    a, b = in_group(group_name(dim, level)), in_group(group_name(dim, dim.reference))
    subject = f"the risk of {outcome.phrase}"
    if abs(rr - 1) < 0.05:
        return f"{subject} was about the same {a} as {b}"
    if rr < 1:
        return f"{subject} was {fmt(100 * (1 - rr), 0)}% lower {a} than {b}"
    return f"{subject} was {fmt(rr, 1)} times as high {a} as {b}"


def _once(parts: list[Any], notes: tuple[str, ...]) -> list[Any]:
    """``parts`` with each of ``notes`` kept only where a text part first says it."""
    seen: set[str] = set()
    out: list[Any] = []
    for part in parts:
        if isinstance(part, str):
            for note in notes:
                if note in part:
                    if note in seen:
                        part = part.replace(" " + note, "").replace(note, "").strip()
                    seen.add(note)
        out.append(part)
    return out


class OutcomesPage(Page):
    """The outcomes chapter."""

    slug = "outcomes"

    # -- what the dataset has ------------------------------------------------
    @property
    def per(self) -> str:
        """``"1,000"``: count outcomes are per this many people."""
        return PER_TEXT

    @cached_property
    def dimensions(self) -> tuple[Dimension, ...]:
        """The dimensions compared: every one present but the age band (the rates are standardised
        for age; a chart of age-standardised rates has no place for crude rates by age)."""
        return tuple(d for d in self.caps.dimensions if d.name != "age_band")

    @cached_property
    def outcomes(self) -> tuple[Outcome, ...]:
        """The config's outcome measures the dataset has (flags and counts), in its order; a flag
        fewer than :data:`RARE` of the people with a value have is shown per 1,000 people."""
        chosen = [
            m
            for m in self.config.measures_of("outcome")
            if m.name in self.caps.columns and m.type in ("flag", "count")
        ]
        flags = [m.name for m in chosen if m.type == "flag"]
        shares = self.people.select(pl.col(flags).cast(pl.Float64).mean()).collect() if flags else None
        return tuple(
            Outcome(
                m,
                rare=m.type == "flag" and shares is not None and (shares.item(0, m.name) or 0) < RARE,
                ages=ages_applying(m),
            )
            for m in chosen
        )

    def outcome(self, name: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.name == name), None)

    @cached_property
    def bands(self) -> list[str]:
        """The age bands the standard population is restricted to: those the data cover."""
        return covered_bands(self.people)

    @cached_property
    def exact(self) -> pl.DataFrame:
        """Outcome rates by each dimension, from exact counts (empty without outcomes)."""
        if not self.dimensions or not self.outcomes:
            return pl.DataFrame()
        frames = [
            outcome_rates(
                self.people,
                self.config,
                outcomes=[o.name],
                dimensions=[d.name for d in self.dimensions],
                multiplier=o.multiplier,
                ages={o.name: o.ages} if o.ages else None,
            ).with_columns(pl.lit(o.unit).alias("unit"))
            for o in self.outcomes
        ]
        frames = [f for f in frames if not f.is_empty()]
        if not frames:
            return pl.DataFrame()
        out = pl.concat(frames, how="vertical_relaxed")
        dims = {d.name: i for i, d in enumerate(self.dimensions)}
        order = {o.name: i for i, o in enumerate(self.outcomes)}
        return out.sort(
            pl.col("dimension").replace_strict(dims, default=len(dims), return_dtype=pl.Int64),
            pl.col("measure").replace_strict(order, default=len(order), return_dtype=pl.Int64),
            "order",
            maintain_order=True,
        )

    @cached_property
    def measures(self) -> tuple[str, ...]:
        """The outcomes with rates, in the config's order."""
        if self.exact.is_empty():
            return ()
        return tuple(self.exact.get_column("measure").unique(maintain_order=True).to_list())

    def _recompute(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rule 8 for outcome rates: crude rates and DSR limits from the published counts, each
        outcome at its own scale (per 1,000 or %)."""
        # a count withheld by the published group counts (:meth:`_masked`) is null: its rates are
        # computed from 0 here and withheld by the protection with it
        indexed = frame.with_row_index("__row").with_columns(
            *(pl.col(c).is_null().alias(f"__null_{c}") for c in _COUNTS), pl.col(_COUNTS).fill_null(0)
        )
        parts = [
            recompute_rates(indexed.filter(pl.col("measure") == o.name), multiplier=o.multiplier)
            for o in self.outcomes
            if o.name in self.measures
        ]
        out = pl.concat(parts, how="vertical_relaxed").sort("__row")
        return out.with_columns(
            pl.when(pl.col(f"__null_{c}")).then(None).otherwise(pl.col(c)).alias(c) for c in _COUNTS
        ).drop("__row", *(f"__null_{c}" for c in _COUNTS))

    @cached_property
    def rates(self) -> Published | None:
        """All the outcome rates, published: the figures, sentences and the download read this.

        A group's events and people are withheld wherever the published group counts withhold
        them (:attr:`group_counts`, which every gap table of the book is published from), so a
        count is shown or withheld alike on every page."""
        if self.exact.is_empty():
            return None
        return self.book.publish(self._masked(self.exact), counts=_COUNTS, recompute=self._recompute)

    def _masked(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` (exact rates) with ``events`` and ``population`` null where the published group
        counts withhold them (the reason carried as the input's ``suppression_reason``)."""
        if self.group_counts is None:
            return frame
        counts = self.group_counts.frame
        why = [
            c
            for c in ("suppression_reason_numerator", "suppression_reason_denominator")
            if c in counts.columns
        ]
        hidden = counts.select(
            "measure",
            "dimension",
            pl.col("level").alias("__level"),
            pl.col("numerator").is_null().alias("__no_events"),
            pl.col("denominator").is_null().alias("__no_people"),
            pl.coalesce(*why, "suppression_reason").alias("__why"),
        )
        joined = (
            frame.with_columns(pl.col(LEVEL).cast(pl.String).alias("__level"))
            .join(hidden, on=["measure", "dimension", "__level"], how="left", maintain_order="left")
            .with_columns(
                pl.when(pl.col("__no_events").fill_null(False))
                .then(None)
                .otherwise(pl.col("events"))
                .alias("events"),
                pl.when(pl.col("__no_people").fill_null(False))
                .then(None)
                .otherwise(pl.col("population"))
                .alias("population"),
            )
        )
        if "suppression_reason" not in frame.columns:
            joined = joined.with_columns(pl.col("__why").alias("suppression_reason"))
        return joined.drop("__level", "__no_events", "__no_people", "__why")

    @cached_property
    def excess_exact(self) -> pl.DataFrame | None:
        """Each group's exact gap from its reference group in numbers (indirect standardisation,
        :func:`healthgap.descriptive.priorities.priorities`), None without outcomes."""
        if not self.outcomes or not self.dimensions:
            return None
        settings = self.config.disclosure
        exact = priorities(
            self.people,
            self.config,
            dimensions=[d.name for d in self.dimensions],
            measures=[o.name for o in self.outcomes],
            min_reference=settings.min_group if settings.enabled else 1,
            base=self.base,
        )
        return None if exact.is_empty() else exact

    @cached_property
    def group_counts(self) -> Published | None:
        """Every group's count of each outcome, published once
        (:func:`healthgap.pages.where_to_act.published_group_counts`): what the rates table and
        the gap tables of every page show or withhold."""
        if self.excess_exact is None:
            return None
        return published_group_counts(
            self.excess_exact, settings=self.config.disclosure, orders=dimension_orders(self.config)
        )

    @property
    def base(self) -> int:
        """The disclosure rounding base (1 when disclosure control is off)."""
        settings = self.config.disclosure
        return settings.rounding if settings.enabled else 1

    @cached_property
    def excess(self) -> Published | None:
        """Each group's outcomes against its reference group's in numbers: observed minus
        expected at the reference group's rates by age band and sex (indirect standardisation,
        :func:`healthgap.descriptive.priorities.priorities`), published once from the published
        group counts (None without outcomes). An outcome of some ages needs no restriction here:
        nobody else has it, in the group or the reference."""
        if self.excess_exact is None:
            return None
        return publish_gaps(self.book, self.excess_exact, base=self.base)

    def _strata(self, dim: Dimension) -> str:
        return "age band" if dim.name == "sex" or not self.caps.has("sex") else "age band and sex"

    # -- the chapter's words ------------------------------------------------------
    @property
    def intro(self) -> str:
        """What the chapter counts and compares, over which ages, and how many values are missing
        (sentences, always; the section below says once when there are no outcomes)."""
        if not self.outcomes:
            return NO_OUTCOMES_INTRO
        notes = [
            AGES_NOTE.format(label=o.measure.label, whom=o.whom, per=PER_TEXT if o.per_thousand else "100")
            for o in self.outcomes
            if o.ages is not None
        ]
        return " ".join([self.counted, self.standard, *notes, self.missing_text])

    @property
    def counted(self) -> str:
        """What the chapter counts and compares (a sentence)."""
        counted = join([o.phrase for o in self.outcomes])
        kinds = {o.per_thousand for o in self.outcomes}
        how = (
            f"age-standardised rates per {PER_TEXT} people"
            if kinds == {True}
            else "age-standardised shares of people (%)"
            if kinds == {False}
            else f"age-standardised rates per {PER_TEXT} people and shares of people (%)"
        )
        return f"This chapter counts {counted}, and compares {how} between groups."

    @cached_property
    def missing(self) -> Published | None:
        """How many people have no value of each outcome the page shows, published (None without
        outcomes)."""
        names = [o.name for o in self.outcomes]
        if not names:
            return None
        labels = {o.name: o.measure.label for o in self.outcomes}
        table = missing_values(self.people, names).with_columns(
            pl.col("column").replace_strict(labels, default=pl.col("column")).alias("label")
        )
        return self.book.publish(table, counts=["people", "missing"], by=["column"])

    @property
    def missing_text(self) -> str:
        """How many values of each outcome are missing (a sentence, always)."""
        if self.missing is None:
            return NO_OUTCOMES_INTRO
        frame = self.missing.frame
        if frame.filter(pl.col("missing").is_null() | (pl.col("missing") > 0)).is_empty():
            every = "Each outcome is" if frame.height > 1 else "The outcome is"
            return f"{every} recorded for everyone in the dataset."
        return missing_sentence(frame, most=self.config.disclosure.suppress_below - 1)

    @property
    def standard(self) -> str:
        """Which ages the standardisation covers (a sentence, always)."""
        shares = bool(self.outcomes) and not any(o.per_thousand for o in self.outcomes)
        return standard_sentence(self.bands, what="Shares" if shares else "Rates")

    # -- rates by group --------------------------------------------------------
    def figure_data(self, measure: str) -> Published:
        """The published rates of one outcome behind its chart (only :data:`FIGURE_COLUMNS`)."""
        if self.rates is None:
            raise ValueError(ERR_NO_OUTCOMES.format(measure=measure))
        return self.ratios_shown.where(pl.col("measure") == measure).select(*FIGURE_COLUMNS)

    @cached_property
    def ratios_shown(self) -> Published:
        """:attr:`rates` with the rate ratio of each group with too few expected events left out
        (:func:`too_few_expected`) and its note saying so: the table follows the sentence's rule."""
        assert self.rates is not None
        few = self._too_few_keys()
        return self.rates.pipe(_withhold_ratios, few)

    def _too_few_keys(self) -> pl.DataFrame:
        """measure, dimension, level of every group with too few expected events to compare."""
        empty = pl.DataFrame(schema={"measure": pl.String, "dimension": pl.String, "__level": pl.String})
        if self.excess is None:
            return empty
        return self.excess.frame.filter(pl.col("expected").is_not_null() & ~enough_expected()).select(
            "measure", "dimension", pl.col(LEVEL).cast(pl.String).alias("__level")
        )

    def order(self) -> list[str]:
        """Group labels in display order, dimension by dimension (each label once)."""
        labels = [d.label_of(x) for d in self.dimensions for x in d.order]
        return list(dict.fromkeys(labels))

    def facet_order(self) -> list[str]:
        """The compared dimensions' labels, in order."""
        return [d.label for d in self.dimensions]

    def description(self, outcome: Outcome, data: Published) -> str:
        """Text alternative of an outcome chart, with the range across the dimension compared."""
        what = (
            f"age-standardised {outcome.phrase} per {PER_TEXT} {outcome.whom}"
            if outcome.is_count
            else f"the age-standardised number of people with {outcome.phrase} per {PER_TEXT} {outcome.whom}"
            if outcome.rare
            else f"the age-standardised percentage of {outcome.whom} with {outcome.phrase}"
        )
        text = f"Dot charts, one per equity dimension, of {what}, with 95% confidence intervals."
        dim = compared_dimension(self.caps)
        if dim is not None:
            rows = data.where(pl.col("dimension") == dim.name).frame
            text += f" By {noun_of(dim)}, it is {spread(rows, dim, dp=1, suffix=outcome.suffix)}."
        return text

    def figure(self, outcome: Outcome) -> Any:
        """The chart of one outcome's age-standardised rates by group (markup), or None."""
        if outcome.name not in self.measures:
            return None
        data = self.figure_data(outcome.name)
        order, facets = self.order(), self.facet_order()
        label = outcome.measure.label
        title = (
            f"{label} per {PER_TEXT} {outcome.whom}, age-standardised"
            if outcome.per_thousand
            else f"{label}: {outcome.whom} (%), age-standardised"
        )
        return self.book.figure(
            lambda d: charts.small_multiples(
                d,
                facet="dimension_label",
                group="label",
                title=title,
                order=order,
                value_title=(
                    f"Age-standardised rate per {PER_TEXT}" if outcome.per_thousand else "Age-standardised %"
                ),
                facet_order=facets,
            ),
            id=f"outcome-{outcome.slug}",
            title=(
                f"{label}: age-standardised rate per {PER_TEXT} people by group"
                if outcome.per_thousand
                else f"{label}: age-standardised share of people by group"
            ),
            description=self.description(outcome, data),
            data=data,
            columns=ci_columns(
                outcome.value_heading,
                ratio=True,
                dimension_label="Dimension",
                label="Group",
                events="Events" if outcome.is_count else "People with it",
                population="People",
            ),
            formats=RATIO_FORMATS,
        )

    def plotted(self, outcome: Outcome) -> bool:
        """Whether the outcome's chart has anything to plot: some group's published rate (True
        when the outcome is not compared at all: :meth:`sections` says so otherwise)."""
        if outcome.name not in self.measures:
            return True
        return not self.figure_data(outcome.name).frame.get_column("value").is_null().all()

    def nothing_to_plot(self, outcome: Outcome) -> Any:
        """The one note in place of a chart with nothing to plot (:data:`NOTHING_TO_PLOT`)."""
        from IPython.display import HTML

        text = NOTHING_TO_PLOT.format(what=outcome.phrase, counted=_counted(outcome))
        return HTML(f'<div class="hg-skip callout callout-note" role="note"><p>{html.escape(text)}</p></div>')

    def sentences(self, outcome: Outcome) -> str:
        """The rate ratio furthest from 1 along each dimension compared, as sentences."""
        if self.rates is None or outcome.name not in self.measures:
            return ""
        frame = self.rates.frame
        excess = self.excess.frame if self.excess is not None else None
        said = [
            (d, ratio_sentence(frame, d, outcome, excess=excess, base=self.base, strata=self._strata(d)))
            for d in self.dimensions
        ]
        shown = [text for _, text in said if not text.startswith(UNPUBLISHED_LEAD)]
        hidden = [lower_first(d.label) for d, text in said if text.startswith(UNPUBLISHED_LEAD)]
        if hidden:  # one sentence for every dimension whose ratios cannot be published
            shown.append(UNPUBLISHED.format(phrase=outcome.phrase, dimensions=join(hidden)))
        return " ".join(shown)

    def _counting(self, outcome: Outcome, label: str) -> str:
        if outcome.is_count:
            return f"Every event counts, so a person with two counts twice (@{label})."
        return f"Each person counts once (@{label})."

    def _empty_band_note(self, outcome: Outcome) -> str:
        """Groups with nobody in an age band of the standard: no DSR, said once."""
        if self.rates is None:
            return ""
        from healthgap.stats.dsr import NOTE_EMPTY_BAND

        rows = self.rates.frame.filter(
            (pl.col("measure") == outcome.name) & (pl.col("note") == NOTE_EMPTY_BAND)
        )
        if rows.is_empty():
            return ""
        names = [
            group_name(d, r[LEVEL])
            for r in rows.iter_rows(named=True)
            for d in self.dimensions
            if d.name == r["dimension"]
        ]
        return (
            f"No age-standardised rate is given for {join(names)}: "
            f"{'it has' if len(names) == 1 else 'they have'} nobody in one of the age bands standardised over."
        )

    def sections(self) -> Any:
        """One section per outcome: heading, figure and sentences (or why there is none)."""
        if not self.outcomes:
            return blocks(heading("Rates by group", id="sec-outcomes-rates"), self.skip(NO_OUTCOMES))
        if not self.dimensions or self.rates is None:
            return blocks(heading("Rates by group", id="sec-outcomes-rates"), self.skip(NO_DIMENSION))
        parts: list[Any] = []
        for o in self.outcomes:
            parts.append(heading(capitalise(o.phrase), id=f"sec-outcomes-{o.slug}"))
            if not self.plotted(o):
                parts.append(self.nothing_to_plot(o))  # one note, no empty chart
                continue
            figure = self.figure(o)
            if figure is None:
                parts.append(self.skip(NO_DIMENSION))
                continue
            label = f"fig-outcome-{o.slug}"
            what = f" per {PER_TEXT} people" if o.per_thousand else ": share of people (%)"
            caption = f"{o.measure.label}{what}, age-standardised, by group"
            parts.append(numbered(figure, label=label, caption=caption))
            text = " ".join(
                t for t in (self.sentences(o), self._counting(o, label), self._empty_band_note(o)) if t
            )
            parts.append(text)
        notes = tuple(  # said once on the page, however many outcomes compare the dimension
            NOT_RECORDED_NOTE.format(who=group_name(d, NOT_RECORDED[d.name][0], people=True))
            for d in self.dimensions
            if d.name in NOT_RECORDED
        )
        return blocks(*_once(parts, notes))

    def download(self) -> Any:
        """Every outcome rate (crude and age-standardised, rate ratios) as a CSV, and every group's
        gap in numbers (observed, expected at the reference group's rates, excess), or a skip note."""
        from IPython.display import HTML

        if self.rates is None:
            return self.skip("outcome measures")
        keep = [c for c in self.rates.columns if c not in DOWNLOAD_DROP]
        rates = self.book.download(
            self.ratios_shown.select(*keep),
            id="outcomes-all",
            title="Outcome rates by equity dimension: crude and age-standardised, rate ratios",
        )
        if self.excess is None:
            return rates
        excess = self.book.download(
            self.excess.select(*[c for c in EXCESS_COLUMNS if c in self.excess.columns]),
            id="outcomes-excess",
            title="Outcomes by equity dimension in numbers: observed, expected at the reference group's rates, excess",
        )
        return HTML(rates.data + excess.data)

    # -- GP practices ------------------------------------------------------------
    def practices_section(self) -> Any:
        """One sentence pointing to the geography chapter's funnel plot of an outcome on indirectly
        standardised ratios (observed / expected from age and sex), or one skip note saying what the
        dataset lacks for it.

        The geography page decides what it draws (:attr:`GeographyPage.isr_unit`,
        :attr:`GeographyPage.isr_outcome`); this sentence names the same unit and outcome, and says
        "none" when no person with a unit has the outcome (the funnel is then not drawn).
        """
        geo = GeographyPage(self.book)
        unit, outcome = geo.isr_unit, geo.isr_outcome
        if unit is None:
            return self.skip(NO_PRACTICES)
        if outcome is None:
            return self.skip(NO_OUTCOMES)
        if not self.caps.has("age"):
            return self.skip(NO_AGE)
        units = geo.isr_units
        label = lower_first(measure_label(self.config, outcome))
        events = (
            self.people.filter(pl.col(unit).is_not_null())
            .select(pl.col(outcome).cast(pl.Int64).fill_null(0).sum())
            .collect()
            .item()
        )
        if not events:
            return paragraph(PRACTICES_NONE.format(what=label, singular=units.singular, plural=units.plural))
        return paragraph(PRACTICES_POINTER.format(what=label, plural=units.plural))
