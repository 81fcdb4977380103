"""Outcomes: emergency CVD admissions and CVD deaths by group, and GP practices on a funnel plot.

Everything ``chapters/outcomes.qmd`` computes, words and shows. The rates come
from :func:`healthgap.descriptive.outcomes.outcome_rates` (exact) and are
published once for the sentences and the download (:attr:`OutcomesPage.rates`)
and once per figure (its own columns, so its suppression notes name only
them); the same counts in the same sets give the same suppressed cells in
both. GP practices' counts are published with their funnel statistics
recomputed from the published counts, around the overall rate from the
published overall totals (:attr:`OutcomesPage.funnel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import polars as pl

from healthgap import charts
from healthgap.descriptive.outcomes import (
    OUTCOME_LABELS,
    PER,
    funnel_kind,
    funnel_lines,
    funnel_points,
    outcome_rates,
    practice_counts,
)
from healthgap.descriptive.prevalence import recompute_rates
from healthgap.disclosure import Published, primary_reason
from healthgap.pages.base import RATIO_FORMATS, Page, ci_columns
from healthgap.pages.sentences import extremes, fmt, ratio_sentence
from healthgap.text import lower_first

__all__ = [
    "OutcomesPage",
    "Funnel",
    "COMPARE_DIMENSIONS",
    "FUNNEL_MEASURES",
    "OUTCOME_TEXT",
    "EVENT_NOUNS",
    "COLUMNS",
    "FIGURE_COLUMNS",
    "FUNNEL_COLUMNS",
    "FUNNEL_DERIVED",
    "DOWNLOAD_DROP",
    "PER_TEXT",
    "funnel_sentence",
]

ERR_NO_OUTCOMES = "figure_data({measure!r}): the dataset has no outcome rates (see OutcomesPage.measures)."
#: The dimensions the outcome charts compare, in order (those the dataset has).
COMPARE_DIMENSIONS = ("imd_quintile", "ethnicity", "sex", "locality")
#: The outcome a funnel plot shows: the first of these the dataset has.
FUNNEL_MEASURES = ("cvd_admissions", "cvd_death")
#: How each outcome completes "... were 1.7 times as likely {text} as ...".
OUTCOME_TEXT = {
    "cvd_admissions": "to be admitted to hospital as an emergency with heart or circulatory disease",
    "cvd_death": "to die from heart or circulatory disease",
}
#: What is counted, for sentences about GP practices.
EVENT_NOUNS = {"cvd_admissions": "admissions", "cvd_death": "deaths"}
#: "1,000": the rates are per this many people.
PER_TEXT = f"{PER:,}"
#: Headings of the "show the numbers" table under each outcome chart.
COLUMNS = ci_columns(
    f"Rate per {PER_TEXT}",
    ratio=True,
    dimension_label="Dimension",
    label="Group",
    events="Events",
    population="People",
)
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
#: Columns of the published rates left out of the download of all the numbers.
DOWNLOAD_DROP = ("order", "is_reference", "statistic", "method")
#: A practice's rate, interval and flags all come from its event count: suppressed with it.
FUNNEL_DERIVED = {"events": ["value", "lower_ci", "upper_ci", "flag_95", "flag_99_8"]}
#: Headings of the table under the funnel plot.
FUNNEL_COLUMNS = {
    "gp_practice": "Practice",
    "population": "List size",
    "events": "Events",
    **ci_columns(f"Rate per {PER_TEXT}"),
    "flag_99_8": "Position against the 99.8% limits",
}
_COUNTS = ["events", "population"]


@dataclass(frozen=True)
class Funnel:
    """GP practices on a funnel plot of one outcome.

    Attributes
    ----------
    measure : the outcome column.
    points : each practice, published (statistics from its published counts).
    limits : the control limits around the overall rate (chart data, no counts).
    baseline : the overall rate per :data:`PER`, from the published overall totals.
    """

    measure: str
    points: Published
    limits: pl.DataFrame
    baseline: float


class OutcomesPage(Page):
    """The outcomes chapter."""

    slug = "outcomes"

    # -- what the dataset has ------------------------------------------------
    @property
    def per(self) -> str:
        """``"1,000"``: the rates are per this many people."""
        return PER_TEXT

    @cached_property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensions compared (:data:`COMPARE_DIMENSIONS` the dataset has)."""
        return tuple(d for d in COMPARE_DIMENSIONS if self.caps.dimension(d) is not None)

    @cached_property
    def exact(self) -> pl.DataFrame:
        """Outcome rates by each compared dimension, from exact counts (empty without outcomes)."""
        if not self.dimensions:
            return pl.DataFrame()
        return outcome_rates(self.people, self.config, dimensions=list(self.dimensions))

    @cached_property
    def measures(self) -> tuple[str, ...]:
        """The outcomes with rates, in the config's order."""
        if self.exact.is_empty():
            return ()
        return tuple(self.exact.get_column("measure").unique(maintain_order=True).to_list())

    @cached_property
    def rates(self) -> Published | None:
        """All the outcome rates, published: the sentences and the download read this."""
        if self.exact.is_empty():
            return None
        return self.book.publish(self.exact, counts=_COUNTS, recompute=_recompute)

    # -- rates by group --------------------------------------------------------
    def figure_data(self, measure: str) -> Published:
        """The published rates of one outcome behind its chart (only :data:`FIGURE_COLUMNS`)."""
        if self.rates is None:
            raise ValueError(ERR_NO_OUTCOMES.format(measure=measure))
        return self.rates.where(pl.col("measure") == measure).select(*FIGURE_COLUMNS)

    def order(self) -> list[str]:
        """Group labels in display order, dimension by dimension (each label once)."""
        dims = [self.caps.dimension(n) for n in self.dimensions]
        labels = [d.label_of(x) for d in dims if d is not None for x in d.order]
        return list(dict.fromkeys(labels))

    def facet_order(self) -> list[str]:
        """The compared dimensions' labels, in order."""
        dims = [self.caps.dimension(n) for n in self.dimensions]
        return [d.label for d in dims if d is not None]

    def description(self, measure: str, data: Published) -> str:
        """Text alternative of an outcome chart, with the range across deprivation fifths."""
        name = lower_first(OUTCOME_LABELS[measure])
        text = (
            "Dot charts, one per equity dimension, of age-standardised "
            f"{name} per {PER_TEXT} people per year with 95% confidence intervals."
        )
        if "imd_quintile" in self.dimensions:
            imd = data.where(pl.col("dimension") == "imd_quintile").frame
            text += f" Across deprivation fifths the rate is {extremes(imd, suffix=f' per {PER_TEXT}')}."
        return text

    def figure(self, measure: str, id: str) -> Any:
        """The chart of one outcome's age-standardised rates by group, or a skip note."""
        label = OUTCOME_LABELS[measure]
        if measure not in self.measures:
            return self.skip(f"{lower_first(label)} column ({measure})")
        data = self.figure_data(measure)
        order, facets = self.order(), self.facet_order()
        return self.book.figure(
            lambda d: charts.small_multiples(
                d,
                facet="dimension_label",
                group="label",
                title=f"{label} per {PER_TEXT} people, age-standardised",
                order=order,
                value_title=f"Age-standardised rate per {PER_TEXT}",
                facet_order=facets,
            ),
            id=id,
            title=f"{label}: age-standardised rate per {PER_TEXT} people by group",
            description=self.description(measure, data),
            data=data,
            columns=COLUMNS,
            formats=RATIO_FORMATS,
        )

    def sentence(self, measure: str, dimension: str) -> str:
        """The group whose rate ratio of ``measure`` is furthest from 1 (or why there is none); "" without data."""
        dim = self.caps.dimension(dimension)
        if self.rates is None or measure not in self.measures or dim is None:
            return ""
        return ratio_sentence(
            self.rates.frame,
            dimension=dimension,
            measure=measure,
            reference=dim.reference,
            outcome=OUTCOME_TEXT[measure],
        )

    def download(self) -> Any:
        """Every outcome rate (crude and age-standardised, rate ratios) as a CSV, or a skip note."""
        if self.rates is None:
            return self.skip("outcome columns")
        keep = [c for c in self.rates.columns if c not in DOWNLOAD_DROP]
        return self.book.download(
            self.rates.select(*keep),
            id="outcomes-all",
            title="Outcome rates by equity dimension: crude and age-standardised, rate ratios",
        )

    # -- GP practices ------------------------------------------------------------
    @cached_property
    def funnel_measure(self) -> str | None:
        """The outcome the funnel plot shows, or None (no practices or no outcomes)."""
        if not self.caps.has("gp_practice"):
            return None
        return next((m for m in FUNNEL_MEASURES if m in self.measures), None)

    @cached_property
    def funnel(self) -> Funnel | None:
        """The practices of :attr:`funnel_measure` on a funnel, or None.

        None also when the overall rate cannot be published (too few events in the
        whole population): the funnel is drawn around it.
        """
        measure = self.funnel_measure
        if measure is None:
            return None
        counts = practice_counts(self.people, measure=measure)
        totals = self.book.publish(counts.select(pl.col(_COUNTS).sum()), counts=_COUNTS).frame.row(
            0, named=True
        )
        if not totals["events"] or not totals["population"]:
            return None
        # the overall rate from the published totals: from the exact ones it gives the exact total back
        target = totals["events"] / totals["population"]
        kind, multiplier = funnel_kind(measure)
        points = self.book.publish(
            counts,
            counts=_COUNTS,
            by=[],
            derived=FUNNEL_DERIVED,
            recompute=lambda f: funnel_points(f, target=target, kind=kind, multiplier=multiplier),
        )
        limits = funnel_lines(counts, target=target, kind=kind, multiplier=multiplier)
        return Funnel(measure, points, limits, target * multiplier)

    @cached_property
    def funnel_text(self) -> str:
        """How many practices lie above and below the 99.8% limits, and why some are not shown."""
        if self.funnel is None:
            if self.funnel_measure is None:
                return ""
            noun = EVENT_NOUNS.get(self.funnel_measure, "events")
            return (
                f"There are too few {noun} in the whole population to publish the overall rate, so the "
                "practices cannot be compared with it."
            )
        return funnel_sentence(
            self.funnel.points.frame,
            baseline=self.funnel.baseline,
            noun=EVENT_NOUNS.get(self.funnel.measure, "events"),
            small=primary_reason(self.config.disclosure),
            most=self.config.disclosure.suppress_below - 1,
        )

    def funnel_figure(self) -> Any:
        """The funnel plot of GP practices, or a skip note."""
        funnel = self.funnel
        if funnel is None:
            if self.funnel_measure is not None:
                noun = EVENT_NOUNS.get(self.funnel_measure, "events")
                return self.skip(f"overall rate that can be published (too few {noun})")
            return self.skip("GP practice or outcome columns")
        label = OUTCOME_LABELS[funnel.measure]
        return self.book.figure(
            lambda d: charts.funnel(
                d.with_columns(pl.col("population").cast(pl.Float64).alias("registered")),
                limits=funnel.limits,
                target=funnel.baseline,
                title=f"{label} by GP practice",
                unit="gp_practice",
                denominator="registered",
                flag="flag_99_8",
                value_title=f"Crude rate per {PER_TEXT}",
                denominator_title="Registered people (list size)",
            ),
            id="funnel",
            title=f"{label} by GP practice: funnel plot",
            description=(
                "Funnel plot: each dot is a GP practice, with its list size along the bottom and its crude "
                f"rate of {lower_first(label)} per {PER_TEXT} up the side; curved lines "
                "show 95% and 99.8% control limits around the overall rate. " + self.funnel_text
            ),
            data=funnel.points,
            columns=FUNNEL_COLUMNS,
        )


def _recompute(frame: pl.DataFrame) -> pl.DataFrame:
    """Rule 8 for outcome rates: crude rates and DSR limits from the published counts."""
    return recompute_rates(frame, multiplier=PER)


def funnel_sentence(points: pl.DataFrame, *, baseline: float, noun: str, small: str, most: int) -> str:
    """How the published practices lie against the 99.8% limits, and why the others are not shown.

    Parameters
    ----------
    points : the published funnel points (``value`` null where a practice is suppressed).
    baseline : the overall rate per :data:`PER`.
    noun : what is counted ("admissions").
    small : the reason text of a small count (``primary_reason``): practices whose
        events are withheld for it have between 1 and ``most`` events.
    most : the largest small count (``suppress_below - 1``).
    """
    total = points.height
    shown = points.filter(pl.col("value").is_not_null())
    n_shown, n_hidden = shown.height, total - shown.height
    if n_shown == 0:
        return (
            f"None of the {total} practices has a rate that can be published (too few {noun}), "
            "so none can be compared with the overall rate."
        )
    above = shown.filter(pl.col("flag_99_8") == "above").height
    below = shown.filter(pl.col("flag_99_8") == "below").height
    which = (
        f"Of the {total} practices"
        if n_hidden == 0
        else f"Of the {n_shown} practices whose rate can be published"
    )
    rest = n_shown - above - below
    text = (
        f"{which}, {above or 'none'} {'lies' if above == 1 else 'lie'} above and "
        f"{below or 'none'} below the 99.8% control limits around the overall rate of "
        f"{fmt(baseline, 1)} per {PER_TEXT}"
    )
    if rest and (above or below):
        text += f"; the other {rest} vary no more than chance would produce."
    elif rest:
        text += "; all of them vary no more than chance would produce."
    else:
        text += "."
    if n_hidden:
        text += " " + _hidden_sentence(points, n_hidden, noun=noun, small=small, most=most)
    return text


def _hidden_sentence(points: pl.DataFrame, n_hidden: int, *, noun: str, small: str, most: int) -> str:
    """Why ``n_hidden`` practices are not on the chart: a small count, or protecting another cell."""
    hidden = points.filter(pl.col("value").is_null())
    reasons = (
        hidden.get_column("suppression_reason_events")
        if "suppression_reason_events" in hidden.columns
        else pl.Series([None] * hidden.height, dtype=pl.String)
    )
    why = (
        f"between 1 and {most} {noun}, too few to publish"
        if (reasons == small).fill_null(False).all()
        else "counts withheld to protect confidentiality"
    )
    has, pronoun = ("practice has", "it is") if n_hidden == 1 else ("practices have", "they are")
    return f"The remaining {n_hidden} {has} {why}, so {pronoun} not on the chart."
