"""Where to act: the gaps between groups ranked by the number of people they affect."""

from __future__ import annotations

import html
import math
from functools import cached_property, partial
from typing import Any

import polars as pl

from healthgap import text
from healthgap.book import Book
from healthgap.config import Config, DisclosureSettings
from healthgap.contract import TRUTH_PREFIX
from healthgap.descriptive.access import indicator_status
from healthgap.descriptive.priorities import (
    COUNTS,
    MIN_EXPECTED,
    PER_HEAD_KINDS,
    UNRECORDED_LEVELS,
    enough_expected,
    priorities,
    recompute_priorities,
)
from healthgap.disclosure import REASON_DERIVED, REASON_MIN_GROUP, Published, assert_publishable, publish
from healthgap.pages._blocks import note
from healthgap.pages._groups import in_group
from healthgap.pages.base import Page
from healthgap.pages.sentences import indicator_labels as sentence_labels
from healthgap.pages.sentences import level_name

__all__ = [
    "publish_gaps",
    "publish_gap_frame",
    "published_group_counts",
    "group_counts",
    "dimension_orders",
    "gap_publication",
    "WhereToActPage",
    "SECTIONS",
    "TABLE_COLUMNS",
    "NOTHING",
    "NO_SECTION",
    "NOTHING_FOUND",
    "NOTHING_RANKED",
    "about",
    "rate_text",
    "gap_sentence",
    "LEFT_OUT",
    "COVERS",
    "ELSEWHERE",
    "PER_HEAD",
    "PER_HEAD_SECTION",
    "RECORDED_GAP",
    "RECORDED_SAME",
    "RECORDED_NOT_RANKED",
    "TRUE_LABEL",
    "TRUE_SECTION",
    "UNDERSTATED",
    "own_mix",
    "WAITS",
    "UNDIAGNOSED",
    "TRUE_SAME",
    "TRUE_DIFFERENT",
    "TRUE_AS_EXPECTED",
    "KEPT_IN",
    "SECTION_WORDS",
    "UNRECORDED",
    "TOO_FEW_EXPECTED",
    "FLOOR_RULE",
    "UNDER_RECORDED",
    "number_interval",
    "CRUDE_WHY",
    "TRUE_GAP",
    "TRUTH_INTRO",
    "TRUTH_COLUMNS",
    "true_gap_text",
    "indicator_labels",
]

#: The page's sections, in order: section (measure kind) -> heading word.
SECTIONS: dict[str, str] = {
    "treatment": "treatment",
    "result": "results of treatment",
    "access": "access",
    "experience": "experience",
    "outcome": "outcomes",
    "condition": "recorded conditions",
}
#: The one note on data without anything to compare.
NOTHING = (
    "This dataset has no measure that can be compared between groups with a reference group, "
    "so this page has no priorities to rank."
)
#: What the ranking covers (the sections' words joined).
COVERS = (
    "The ranking covers the gaps that can be counted in people or events, in {what}, each against "
    "the group's reference group."
)
#: Where the gaps it does not cover are (the pointers joined).
ELSEWHERE = "Gaps on another scale are in their own chapters: {what}."
#: A measure per head of everyone (referral), compared against need in the access chapter.
PER_HEAD = (
    "{what}, compared against need in @sec-access (per head of everyone, a rate says who is referred "
    "more, not who is referred less than they need, so it is not ranked here)"
)
WAITS = "waits in days, in @sec-experience"
#: In place of a section's table when its only measures are per head of everyone (one plain
#: sentence, no caption: the note alone is shown, unnumbered).
PER_HEAD_SECTION = (
    "No gap in {section} is ranked on this page: {what}, per head of everyone, says who is referred "
    "more, not who is referred less than they need, so it is compared against need in the chapter on "
    "access and treatment instead."
)
UNDIAGNOSED = (
    "under-diagnosis and treatment among everyone who truly has a condition in @sec-access (the "
    "recorded conditions below set recorded beside true prevalence in numbers of people)"
)
#: A section without gaps.
NO_SECTION = "No gap in {what} can be compared between groups on this dataset."
#: No gap stands out once the number of gaps compared is allowed for: scoped to what this page
#: counts (numbers of people or events, all the page's gaps at once; {counted} "people", "people or
#: events").
NOTHING_FOUND = (
    "None of the {m} gaps on this page, counted in numbers of {counted} with all of them allowed for "
    "at once, is large enough to tell from chance, so no gap is singled out here."
)
#: After :data:`NOTHING_FOUND` / :data:`NOTHING_RANKED`: the chapters that compare a section's
#: groups as ratios, one dimension at a time (the chapters named, joined; "compares"/"compare").
RATIO_ELSEWHERE = (
    "{chapters} {compare} the groups of one dimension at a time with their reference group, as rate "
    "ratios allowing only for that dimension's groups, so a gap can be clear there as a ratio that "
    "is not clear here."
)
#: The chapters :data:`RATIO_ELSEWHERE` names, by the section of this page whose gaps they compare
#: as ratios (cross-reference words).
RATIO_CHAPTERS: dict[str, str] = {"outcome": "the outcomes chapter (@sec-outcomes)"}
#: Above the list of the largest gaps (only when there is one).
TOP_INTRO = (
    "The gaps below are those with the most people (or events) worse off, ranked by their estimated "
    "size, and only those whose interval allowing for all the gaps compared lies wholly on one side "
    "of no difference. Picking the largest of many gaps favours gaps that chance made look large; the "
    "second interval holds for all the gaps together, so it still holds for a gap picked as one of "
    "the largest."
)
#: How the expected rates of the list are standardised, said once above it ({mix}: :func:`own_mix`).
MIX_ONCE = "Each rate expected at the reference group's rates below is {mix}."
#: :data:`MIX_ONCE` when the list has gaps between the sexes too.
MIX_SEXES = " (of ages alone between the sexes)"
#: What the ranking leaves out and why (the dimensions' labels joined, mid-sentence).
LEFT_OUT = (
    "The ranking leaves out differences by {labels} {what}: these differ for biological reasons as "
    "well as through care, so they are not an inequality of "
    "care to act on as they stand."
)
#: ... and what it keeps of the same dimensions (the sections joined): the one rule for both.
KEPT_IN = (
    "Differences by {labels} {what} are ranked, compared after allowing for age: people with the "
    "same need should get the same care, so such a difference is an inequality of care."
)
#: How :data:`LEFT_OUT` and :data:`KEPT_IN` name each section.
SECTION_WORDS: dict[str, str] = {
    "condition": "in how common recorded conditions are",
    "outcome": "in outcomes",
    "result": "in {labels}, a result of treatment rather than care given",
    "treatment": "in treatment given",
    "access": "in access",
    "experience": "in experience",
}
#: What the ranking leaves out: levels recording an unknown value (names joined).
UNRECORDED = (
    "The ranking also leaves out {who}: they are a gap in the record, not a group of people, and a "
    "low recorded rate among them says who goes unrecorded rather than that they need less care."
)
#: A condition recorded less often among people whose ethnic group is not recorded, while the
#: data's true status shows more (or fewer, but clearly not as few) truly having it.
UNDER_RECORDED = (
    "Among {who}, {label} is recorded for about {n} fewer people than expected at the rates of "
    "{reference} (95% CI {interval}), but the data's true disease status shows {true}: their low "
    "recorded rate is under-recording, not less disease."
)
#: The true status in :data:`UNDER_RECORDED`: a clear difference, or none (the interval includes 0).
TRUE_DIFFERENT = "about {n} {more} people truly having it than expected (95% CI {interval})"
TRUE_AS_EXPECTED = "about as many people truly having it as expected (95% CI {interval}: could be chance)"
#: What the ranking leaves out: gaps with too few expected events or people (the number, the floor).
TOO_FEW_EXPECTED = (
    "The ranking also leaves out {gaps} with fewer than {floor} events or people expected at the "
    "reference group's rates: a few events either way would change such a gap several-fold, and the "
    "rounding that protects the reference group's counts can move what is expected by as much as its "
    "size, so they are too few to compare."
)
#: The rule for gaps with too few expected (said once, with the method; the outcomes chapter
#: follows it for its rate ratios).
FLOOR_RULE = (
    "A gap with fewer than {floor} events or people expected at the reference group's rates is not "
    "ranked, and the outcomes chapter does not name its rate ratio: it is too small to compare."
)
#: The true prevalence gap after a recorded condition gap, in the same sentence's list item.
TRUE_GAP = (
    " Counting everyone who truly has it (the data's true disease status): {rate} against {reference} "
    "expected; about {n} {more} people than at that rate (95% CI {interval})."
)
#: ... when the true gap's interval includes no difference.
TRUE_SAME = (
    " Counting everyone who truly has it (the data's true disease status): {rate} against {reference} "
    "expected; about as many people as at that rate (95% CI {interval}: could be chance)."
)
#: A condition gap ranked on its true gap (data with true disease status): the recorded gap after it.
RECORDED_GAP = (
    " Recorded on a GP register: {rate} against {reference} expected; about {n} {more} people than at "
    "that rate (95% CI {interval})."
)
#: ... when the recorded gap's interval includes no difference.
RECORDED_SAME = (
    " Recorded on a GP register: {rate} against {reference} expected; about as many people as at that "
    "rate (95% CI {interval}: could be chance)."
)
#: How a condition ranked on its true gap is named at the start of its list item.
TRUE_LABEL = "{label} (true prevalence, recorded or not)"
#: The ranked condition gaps whose recorded gap is clearly smaller than the true one (the items joined).
UNDERSTATED = (
    "Among the gaps ranked above, the recorded gap is clearly smaller than the true one (the two 95% "
    "intervals do not overlap) for {items}: disease goes unrecorded in these groups more than in their "
    "reference groups, so recorded rates understate these gaps."
)
#: One item of :data:`UNDERSTATED`.
UNDERSTATED_ITEM = "{label} {group} (recorded: {recorded}; truly having it: {true})"
#: How :data:`COVERS` names the conditions when they are ranked on their true gaps.
TRUE_SECTION = "conditions (counting everyone who truly has them)"
#: :data:`NOTHING_FOUND` when recorded conditions are not ranked (no true disease status): the
#: ranked sections named, the family still every gap compared.
NOTHING_RANKED = (
    "None of the gaps in {what}, counted in numbers of {counted} with all {m} gaps on this page "
    "allowed for at once, is large enough to tell from chance, so no gap is singled out here."
)
#: What the ranking leaves out without true disease status: recorded prevalence is not a harm.
RECORDED_NOT_RANKED = (
    "The ranking also leaves out differences in how common recorded conditions are: without the "
    "data's true disease status, a condition recorded more often in a group may mean more disease, "
    "better recording, or both, so such a difference is not counted as people worse off."
)
#: After the leave-outs, once: where the gaps left out are ("table"/"tables").
STAY = "The gaps left out stay in the {tables} below."
#: Above the table of recorded and true gaps (data with true disease status).
TRUTH_INTRO = (
    "The data holds true disease status, so the table below sets each group's gap in recorded "
    "prevalence beside its gap in true prevalence, both compared after allowing for {strata}: a "
    "recorded gap smaller than the true one points to disease going unrecorded in the group more "
    "than in its reference group."
)
#: Headings of the table of recorded and true gaps.
TRUTH_COLUMNS: dict[str, str] = {
    "measure_label": "Condition",
    "group": "Group",
    "rate_text": "Recorded (crude)",
    "reference_text": "Recorded, expected at the reference group's rates",
    "people_text": "Difference in number, recorded",
    "interval_text": "95% CI",
    "true_rate_text": "True (crude)",
    "true_reference_text": "True, expected at the reference group's rates",
    "true_people_text": "Difference in number, true",
    "true_interval_text": "95% CI (true)",
}
#: Headings of the tables.
TABLE_COLUMNS: dict[str, str] = {
    "measure_label": "Measure",
    "group": "Group",
    "rate_text": "Crude rate (the group's own)",
    "reference_text": "Expected at the reference group's rates",
    "people_text": "Difference in number, more (+) or fewer (-)",
    "interval_text": "95% CI",
    "simultaneous_text": "95% CI for all gaps together",
}
#: Why a gap is not standardised (gaps between age bands), in brackets after its reference rate.
CRUDE_WHY = "not standardised: the groups differ by age itself"
#: The columns of a section's download: the keys, the published counts and every number
#: recomputed from them (no text column repeating a number as words).
DOWNLOAD_COLUMNS: tuple[str, ...] = (
    "section",
    "measure",
    "label",
    "dimension",
    "level",
    "reference",
    "statistic",
    "counted",
    "multiplier",
    "whom",
    *COUNTS,
    "expected",
    "expected_variance",
    "observed_variance",
    "rate",
    "reference_rate",
    "difference",
    "lower_ci",
    "upper_ci",
    "excess",
    "excess_lower",
    "excess_upper",
    "simultaneous_lower",
    "simultaneous_upper",
    "comparisons",
    "ranked",
    "rank",
)
#: Sentences name at most this many gaps.
TOP = 5


def gap_publication(exact: pl.DataFrame, *, base: int) -> dict[str, Any]:
    """How priority gaps were published before :func:`publish_gap_frame` (the keyword arguments of
    one publication step); kept for callers that protect a frame of gaps on its own."""
    derived = [
        c for c in exact.columns if exact.schema[c] == pl.Float64 and c not in ("multiplier", "confidence")
    ]
    return {
        "counts": list(COUNTS),
        "derived": [*derived, "rank", "excludes_null", "simultaneous_excludes_null"],
        "by": ["measure", "dimension"],
        "recompute": partial(recompute_priorities, base=base),
    }


#: The columns of the group counts behind every published gap (:func:`group_counts`).
GROUP_KEYS = ("measure", "dimension", "level")


def group_counts(exact: pl.DataFrame, *, orders: dict[str, list[str]] | None = None) -> pl.DataFrame:
    """Every group's exact counts behind a frame of gaps: one row per measure x dimension x level,
    the reference group included (``numerator``, ``denominator``), in the dimension's order.

    Every page that publishes a group's count of a measure (the outcomes table, the gap tables)
    publishes it from this frame's protection (:func:`published_group_counts`), so one count is
    shown or withheld alike everywhere: a count withheld on one page and shown on another would
    undo the secondary suppression of both.
    """
    own = exact.select(*GROUP_KEYS, "numerator", "denominator")
    ref = exact.select(
        "measure",
        "dimension",
        pl.col("reference").alias("level"),
        pl.col("reference_numerator").alias("numerator"),
        pl.col("reference_denominator").alias("denominator"),
    )
    long = pl.concat([own, ref], how="vertical_relaxed").unique(list(GROUP_KEYS), keep="first")
    place = pl.DataFrame(
        {
            "dimension": [d for d, levels in (orders or {}).items() for _ in levels],
            "level": [x for levels in (orders or {}).values() for x in levels],
            "__place": [i for levels in (orders or {}).values() for i in range(len(levels))],
        },
        schema={"dimension": pl.String, "level": pl.String, "__place": pl.Int64},
    )
    return (
        long.join(place, on=["dimension", "level"], how="left")
        .sort("measure", "dimension", "__place", "level", nulls_last=True)
        .drop("__place")
    )


def published_group_counts(
    exact: pl.DataFrame, *, settings: DisclosureSettings, orders: dict[str, list[str]] | None = None
) -> Published:
    """:func:`group_counts` published once (counts rounded, small ones and the cells that would
    reveal them withheld, groups under the minimum size in the measure's own denominator
    withheld), each measure x dimension one table."""
    return publish(
        group_counts(exact, orders=orders),
        counts=["numerator", "denominator"],
        by=["measure", "dimension"],
        settings=settings,
    )


def _gaps_from(exact: pl.DataFrame, counts: pl.DataFrame, *, base: int, min_group: int = 1) -> pl.DataFrame:
    """The gaps of ``exact`` with each group's and reference group's counts as ``counts`` (the
    published group counts) give them, every number recomputed from those; a gap with a count
    withheld shows no number. In the row of a group under ``min_group`` people as published, only
    the group's size is shown: its own counts and every number from them are withheld by the
    group counts' protection, and the reference group's counts are not repeated beside it (they
    are the reference group's, shown in the rows of the larger groups; the same reason as the
    group's own, :data:`~healthgap.disclosure.REASON_MIN_GROUP`: the row of a group under the
    minimum size shows only its size)."""
    pub = counts.select(
        *GROUP_KEYS,
        "numerator",
        "denominator",
        pl.col("suppressed").fill_null(False).alias("__hidden"),
        pl.col("suppression_reason").alias("__reason"),
    )
    ref = pub.select(
        "measure",
        "dimension",
        pl.col("level").alias("reference"),
        pl.col("numerator").alias("reference_numerator"),
        pl.col("denominator").alias("reference_denominator"),
        pl.col("__hidden").alias("__ref_hidden"),
        pl.col("__reason").alias("__ref_reason"),
    )
    frame = (
        exact.drop(*COUNTS)
        .with_row_index("__row")
        .join(pub, on=list(GROUP_KEYS), how="left")
        .join(ref, on=["measure", "dimension", "reference"], how="left")
        .sort("__row")
    )
    hidden = pl.any_horizontal(pl.col(c).is_null() for c in COUNTS)
    frame = frame.with_columns(
        pl.when(~hidden).then(pl.col(c)).alias(c)
        for c in ("expected", "expected_variance", "observed_variance")
    ).select(*exact.columns, "__hidden", "__ref_hidden", "__reason", "__ref_reason")
    derived = [c for c in frame.columns if c in _DERIVED_NUMBERS]
    out = recompute_priorities(frame, confidence=float(exact.item(0, "confidence")), base=base)
    hidden = pl.any_horizontal(pl.col(c).is_null() for c in COUNTS)
    small = ((pl.col("denominator") > 0) & (pl.col("denominator") < min_group)).fill_null(False)
    reference = ("reference_numerator", "reference_denominator")
    repeated = small & pl.any_horizontal(pl.col(c).is_not_null() for c in reference)
    return (
        out.with_columns(
            *(pl.when(~hidden).then(pl.col(c)).alias(c) for c in derived),
            pl.when(~hidden).then(pl.col("rank")).alias("rank"),
            (hidden | pl.col("__hidden") | pl.col("__ref_hidden")).alias("suppressed"),
            pl.concat_str(
                pl.when(pl.col("__hidden")).then(pl.col("__reason")),
                pl.when(pl.col("__ref_hidden")).then(
                    pl.col("__ref_reason").str.replace_all(r"\b(numerator|denominator):", "reference_$1:")
                ),
                pl.when(hidden).then(pl.lit(f"{', '.join(derived)}: {REASON_DERIVED}")),
                pl.when(repeated).then(
                    pl.lit(f"{', '.join(reference)}: {REASON_MIN_GROUP.format(min_group=min_group)}")
                ),
                separator="; ",
                ignore_nulls=True,
            ).alias("suppression_reason"),
        )
        .with_columns(
            *(pl.when(~small).then(pl.col(c)).alias(c) for c in reference),
            (pl.col("suppressed") | small).alias("suppressed"),
        )
        .with_columns(
            pl.when(pl.col("suppression_reason") != "")
            .then(pl.col("suppression_reason"))
            .alias("suppression_reason")
        )
        .drop("__hidden", "__ref_hidden", "__reason", "__ref_reason")
    )


#: The numbers of a gap recomputed from its counts (withheld with any of them).
_DERIVED_NUMBERS = (
    "expected",
    "expected_variance",
    "observed_variance",
    "rate",
    "reference_rate",
    "difference",
    "lower_ci",
    "upper_ci",
    "excess",
    "excess_lower",
    "excess_upper",
    "simultaneous_lower",
    "simultaneous_upper",
    "worse_off",
    "excludes_null",
    "simultaneous_excludes_null",
)


def publish_gap_frame(
    exact: pl.DataFrame,
    *,
    settings: DisclosureSettings,
    base: int,
    orders: dict[str, list[str]] | None = None,
) -> Published:
    """Priority gaps published from the published group counts (:func:`published_group_counts`):
    every group's count (and its reference group's) shown or withheld exactly as every other page
    that publishes it shows or withholds it, and every rate and number recomputed from the
    published counts (``base``: the rounding of the expected counts)."""
    counts = published_group_counts(exact, settings=settings, orders=orders)
    if exact.is_empty():
        frame = exact.with_columns(
            pl.lit(False).alias("suppressed"), pl.lit(None, dtype=pl.String).alias("suppression_reason")
        )
    else:
        frame = _gaps_from(
            exact, counts.frame, base=base, min_group=settings.min_group if settings.enabled else 1
        )
    assert_publishable(frame, counts=list(COUNTS), settings=settings)
    return Published(frame, tuple(COUNTS), settings)


def indicator_labels(people: pl.LazyFrame | pl.DataFrame, config: Config) -> dict[str, str]:
    """Each indicator's label as this dataset can give it (by name), as the access chapter gives
    it: the config's, except that an indicator with optional columns the dataset lacks (counted as
    false) keeps the label's words before its brackets and names the columns its eligibility rests
    on here ("Statin prescribed (eligibility from coronary heart disease and diabetes only)"), not
    conditions the data has no column for."""
    return sentence_labels(indicator_status(people, config), config)


def dimension_orders(config: Config) -> dict[str, list[str]]:
    """Each dimension's levels in order (the order group counts are published in)."""
    return {d.name: [str(x) for x in d.order] for d in config.dimensions}


def publish_gaps(book: Book, exact: pl.DataFrame, *, base: int) -> Published:
    """Priority gaps (:func:`healthgap.descriptive.priorities.priorities`) published once from the
    published group counts (:func:`publish_gap_frame`; ``base``: the rounding)."""
    return publish_gap_frame(
        exact, settings=book.config.disclosure, base=base, orders=dimension_orders(book.config)
    )


def about(x: float | None, *, base: int = 5) -> str:
    """A number of people as a sentence gives it: rounded to ``base`` below 100, to 10 below
    1,000 and to two significant figures above ("1,234" -> "1,200"), without its sign."""
    if x is None:
        return text.NOT_AVAILABLE
    v = abs(float(x))
    step = float(base)
    if v >= 100:
        step = max(step, 10.0 ** (len(str(int(v))) - 2))
    return text.count(math.floor(v / step + 0.5) * step)


def rate_text(value: float | None, multiplier: float, whom: str | None = "people") -> str:
    """A rate on its multiplier's scale: "12.3%" per 100, "45.6 per 1,000 people" otherwise
    (``whom``: the people of its denominator, "people under 75", "people with cardiology
    referral")."""
    if value is None:
        return text.NOT_AVAILABLE
    if multiplier == 100:
        return text.format_number(value, style="percent", dp=1)
    return f"{text.num(value, 1)} per {text.count(multiplier)} {whom or 'people'}"


def _includes_zero(lo: float | None, hi: float | None, *, base: int) -> bool:
    """Whether an interval of a number of people, as published (rounded), includes no difference."""
    if lo is None or hi is None:
        return True
    return (
        _signed(lo, base=base).lstrip("-") == "0"
        or _signed(hi, base=base).lstrip("-") == "0"
        or lo <= 0 <= hi
    )


def _signed(x: float | None, *, base: int) -> str:
    if x is None:
        return text.NOT_AVAILABLE
    return ("-" if x < 0 and about(x, base=base) != "0" else "") + about(x, base=base)


def number_interval(lo: float | None, hi: float | None, *, base: int, flip: bool = False) -> str:
    """The interval of a number; ``flip`` gives it as magnitudes of "fewer" (negated, reordered)."""
    if flip and lo is not None and hi is not None:
        lo, hi = -hi, -lo
    return f"{_signed(lo, base=base)} to {_signed(hi, base=base)}"


def own_mix(strata: str) -> str:
    """How an indirectly standardised share is standardised, in words ("indirectly standardised to
    the mix of ages and sexes in the group itself"), so that a reader can tell it from a share standardised
    to the rates of everyone (the access and treatment chapter)."""
    mix = "ages and sexes" if "sex" in strata else "ages" if "age" in strata else strata
    return f"indirectly standardised to the mix of {mix} in the group itself"


def _gap_texts(
    frame: pl.DataFrame, *, base: int, prefix: str = "", simultaneous: bool = True
) -> list[pl.Series]:
    """The words of a table of published gaps, one column each (named with ``prefix``): the
    group's rate (``rate_text``), the expected or reference rate (``reference_text``), the
    number more or fewer (``people_text``) and its interval (``interval_text``), with the
    simultaneous interval (``simultaneous_text``) when ``simultaneous``; null where a gap has no
    number (withheld, or nothing to compare)."""
    rows = frame.to_dicts()
    words = {
        "rate_text": lambda r: rate_text(r["rate"], r["multiplier"], r.get("whom")),
        "reference_text": lambda r: rate_text(r["reference_rate"], r["multiplier"], r.get("whom")),
        "people_text": lambda r: _signed(r["excess"], base=base),
        "interval_text": lambda r: number_interval(r["excess_lower"], r["excess_upper"], base=base),
    }
    if simultaneous:
        words["simultaneous_text"] = lambda r: number_interval(
            r["simultaneous_lower"], r["simultaneous_upper"], base=base
        )
    return [
        pl.Series(f"{prefix}{name}", [None if r["excess"] is None else say(r) for r in rows], dtype=pl.String)
        for name, say in words.items()
    ]


def gap_sentence(
    row: dict[str, Any],
    *,
    group: str,
    reference: str,
    base: int = 5,
    strata: str = "age band and sex",
    mix: bool = True,
) -> str:
    """One gap as a sentence: the measure, the group, both rates and the number with its intervals.

    Parameters
    ----------
    row : a published priorities row.
    group, reference : how the group and the reference group are named ("the 1 (most
        deprived) deprivation fifth").
    base : the disclosure rounding base (numbers of people are rounded at least to it).
    strata : what a standardised rate is standardised for ("age band and sex", "age band").
    mix : whether to say how the expected rate is standardised (:func:`own_mix`); False in a list
        that says it once above (:data:`MIX_ONCE`), True where a gap is quoted alone.
    """
    counted = "people" if row["counted"] == "people" else "events"
    fewer = (row["excess"] or 0) < 0
    more = "fewer" if fewer else "more"
    if row["statistic"] == "standardised":
        against = (
            f"{rate_text(row['reference_rate'], row['multiplier'], row.get('whom'))} expected at the rates of "
            f"{reference} for each {strata}" + (f" ({own_mix(strata)})" if mix else "")
        )
    else:
        against = f"{rate_text(row['reference_rate'], row['multiplier'], row.get('whom'))} {in_group(reference)} ({CRUDE_WHY})"
    return (
        f"**{row['label']}** {in_group(group)}: {rate_text(row['rate'], row['multiplier'], row.get('whom'))} against {against}; "
        f"about {about(row['excess'], base=base)} {more} {counted} than at that rate "
        f"(95% CI {number_interval(row['excess_lower'], row['excess_upper'], base=base, flip=fewer)}; "
        f"{number_interval(row['simultaneous_lower'], row['simultaneous_upper'], base=base, flip=fewer)} "
        "allowing for all the gaps compared)."
    )


def _in_order(sections: pl.Series) -> list[str]:
    """The sections present, in the page's order (:data:`SECTIONS`)."""
    present = set(sections.to_list())
    return [x for x in SECTIONS if x in present] + sorted(present - set(SECTIONS))


def true_gap_text(row: dict[str, Any] | None, *, base: int = 5, recorded: bool = False) -> str:
    """:data:`TRUE_GAP` for a published true-prevalence gap ("" without one); with ``recorded``,
    :data:`RECORDED_GAP` for a recorded gap given after its true gap."""
    if row is None or row.get("excess") is None:
        return ""
    fewer = row["excess"] < 0
    same, gap = (RECORDED_SAME, RECORDED_GAP) if recorded else (TRUE_SAME, TRUE_GAP)
    if _includes_zero(row["excess_lower"], row["excess_upper"], base=base):
        return same.format(
            rate=rate_text(row["rate"], row["multiplier"], row.get("whom")),
            reference=rate_text(row["reference_rate"], row["multiplier"], row.get("whom")),
            interval=number_interval(row["excess_lower"], row["excess_upper"], base=base),
        )
    return gap.format(
        rate=rate_text(row["rate"], row["multiplier"], row.get("whom")),
        reference=rate_text(row["reference_rate"], row["multiplier"], row.get("whom")),
        n=about(row["excess"], base=base),
        more="fewer" if fewer else "more",
        interval=number_interval(row["excess_lower"], row["excess_upper"], base=base, flip=fewer),
    )


class WhereToActPage(Page):
    """The "Where to act" page."""

    slug = "where-to-act"

    @cached_property
    def exact(self) -> pl.DataFrame:
        """The exact gaps (:func:`healthgap.descriptive.priorities.priorities`), without
        comparisons against a reference group smaller than the minimum group size; each
        indicator labelled as this dataset can give it (:func:`indicator_labels`)."""
        settings = self.config.disclosure
        exact = priorities(
            self.people,
            self.config,
            min_reference=settings.min_group if settings.enabled else 1,
            base=self.base,
        )
        labels = indicator_labels(self.people, self.config)
        return exact.with_columns(
            pl.when(pl.col("source") == "indicator")
            .then(pl.col("measure").replace_strict(labels, default=pl.col("label"), return_dtype=pl.String))
            .otherwise(pl.col("label"))
            .alias("label")
        )

    @property
    def base(self) -> int:
        """The disclosure rounding base (1 when disclosure control is off)."""
        settings = self.config.disclosure
        return settings.rounding if settings.enabled else 1

    @cached_property
    def gaps(self) -> Published:
        """Every gap, published once (counts rounded and suppressed; rates and numbers recomputed)."""
        return publish_gaps(self.book, self.exact, base=self.base)

    @property
    def has_gaps(self) -> bool:
        """Whether anything could be compared."""
        return not self.exact.is_empty()

    @property
    def comparisons(self) -> int:
        """How many gaps are compared (the family of the simultaneous intervals)."""
        return int(self.exact.item(0, "comparisons")) if self.has_gaps else 0

    def _names(self, row: dict[str, Any]) -> tuple[str, str]:
        """The group and its reference group as a sentence names them ("men", "women"; "the
        most deprived fifth", "the least deprived fifth"; "the Black group")."""
        d = self.config.dimension(row["dimension"])
        return (
            level_name(d, str(row["level"])),
            level_name(d, str(row["reference"])),
        )

    def _strata(self, row: dict[str, Any]) -> str:
        """What a standardised gap of ``row`` is standardised for."""
        return "age band" if row["dimension"] == "sex" or not self.caps.has("sex") else "age band and sex"

    @cached_property
    def top_rows(self) -> list[dict[str, Any]]:
        """The published gaps with the most people worse off whose simultaneous interval
        rules out no difference (at most :data:`TOP`).

        A recorded condition is not in itself people worse off (more recorded disease may be
        better recording). With true disease status a condition gap is ranked on its true gap
        (:meth:`true_ranked`: the row keeps the recorded numbers, its true ones under ``true_``);
        without it condition gaps are not ranked (:data:`RECORDED_NOT_RANKED`)."""
        if not self.has_gaps:
            return []
        frame = self.gaps.frame.filter(pl.col("section") != "condition")
        true = self.true_ranked
        if true is not None:
            frame = pl.concat([frame, true], how="diagonal_relaxed")
        key = pl.coalesce("true_worse_off", "worse_off") if true is not None else pl.col("worse_off")
        candidates = frame.filter(
            pl.col("rank").is_not_null()
            & (key > 0)
            & pl.col("simultaneous_excludes_null").fill_null(False)
            & pl.col("excess").is_not_null()
        )
        return candidates.sort(key, descending=True, maintain_order=True).head(TOP).to_dicts()

    @cached_property
    def true_ranked(self) -> pl.DataFrame | None:
        """The recorded condition gaps with their true gaps (columns ``true_<name>``) on data with
        true disease status, ready to rank on the true gap: ``rank`` and
        ``simultaneous_excludes_null`` are the true gap's, its simultaneous interval recomputed
        from the published true counts for all :attr:`comparisons` of the page (the true gap
        stands in for the recorded one in the one family). None without truth."""
        if self.truth_gaps is None:
            return None
        keys = ["measure", "dimension", "level"]
        true = recompute_priorities(
            self.truth_gaps.frame.with_columns(pl.lit(self.comparisons).alias("comparisons")), base=self.base
        )
        named = true.select(*keys, *[pl.col(c).alias(f"true_{c}") for c in true.columns if c not in keys])
        recorded = self.gaps.frame.filter(pl.col("section") == "condition").drop(
            "rank", "simultaneous_excludes_null"
        )
        return recorded.join(named, on=keys, how="inner").with_columns(
            pl.col("true_rank").alias("rank"),
            pl.col("true_simultaneous_excludes_null").alias("simultaneous_excludes_null"),
        )

    def method(self) -> str:
        """How the gaps are compared (what they are standardised for, and which are not)."""
        strata = "age and sex (age alone between the sexes)" if self.caps.has("sex") else "age"
        crude = (
            " Gaps between age bands are not standardised: the groups differ by age itself."
            if self.has_gaps and (self.exact.get_column("statistic") != "standardised").any()
            else ""
        )
        return (
            f"Every gap is compared after allowing for {strata}, so that a group is not ranked for being "
            "older or younger: a group's count is set against the count expected if its people had the "
            f"reference group's rate in each {'age band and sex' if self.caps.has('sex') else 'age band'}."
            + crude
            + " "
            + FLOOR_RULE.format(floor=text.count(MIN_EXPECTED))
        )

    def coverage(self) -> str:
        """What the ranking covers and where the gaps it does not cover are (sentences, always)."""
        if not self.has_gaps:
            return ""
        # recorded conditions are ranked on their true gaps where the data has them, else not at all
        truly = self.truth_gaps is not None
        words = [
            (TRUE_SECTION if truly else "") if x == "condition" else SECTIONS.get(x, x)
            for x in _in_order(self.exact.get_column("section"))
        ]
        said = [COVERS.format(what=text.join([w for w in words if w]))] if any(words) else []
        elsewhere = []
        per_head = [
            text.lower_first(m.label)
            for k in PER_HEAD_KINDS
            for m in self.config.measures_of(k)
            if m.name in self.caps.columns and m.type in ("flag", "count")
        ]
        if per_head:
            elsewhere.append(PER_HEAD.format(what=text.join(per_head)))
        waits = [
            m
            for m in self.config.measures_of("experience")
            if m.name in self.caps.columns and m.type == "days"
        ]
        if waits:
            elsewhere.append(WAITS)
        if self.truth_gaps is not None:
            elsewhere.append(UNDIAGNOSED)
        if elsewhere:
            said.append(ELSEWHERE.format(what="; ".join(elsewhere)))
        return " ".join(said)

    def coverage_note(self) -> Any:
        """:meth:`coverage` as a paragraph (Markdown, so its cross-references resolve), or None."""
        from IPython.display import Markdown

        said = self.coverage()
        return Markdown(said) if said else None

    def intro(self) -> str:
        """What was compared, in one sentence."""
        if not self.has_gaps:
            return NOTHING
        dims = self.exact.get_column("dimension").unique(maintain_order=True).to_list()
        nouns = text.join(
            [self.config.dimension(d).noun or text.group_noun(self.config.dimension(d).label) for d in dims]
        )
        items = self.exact.get_column("measure").n_unique()
        return (
            f"This page compares {text.plural(items, 'measure')} between each {nouns} and its reference "
            f"group: {text.plural(self.comparisons, 'gap')} in all."
        )

    def left_out(self) -> str | None:
        """A sentence on each kind of gap the ranking leaves out (condition prevalence by sex or
        age band; levels recording an unknown value), or None when there are none."""
        if not self.has_gaps:
            return None
        unrecorded = pl.lit(False)
        for name, levels in UNRECORDED_LEVELS.items():  # a constant of one entry, not data
            unrecorded = unrecorded | ((pl.col("dimension") == name) & pl.col("level").is_in(list(levels)))
        kind = pl.when(pl.col("result")).then(pl.lit("result")).otherwise(pl.col("section")).alias("section")
        left = self.exact.filter(~pl.col("ranked") & ~unrecorded)
        recorded_out = self.truth_gaps is None and (self.exact.get_column("section") == "condition").any()
        stay = set(left.get_column("section").to_list())
        if recorded_out:  # every recorded condition gap is left out, said once below (RECORDED_NOT_RANKED)
            left = left.filter(pl.col("section") != "condition")
        dims = left.get_column("dimension").unique(maintain_order=True).to_list()
        said = []
        if dims:
            labels = text.join([text.lower_first(self.config.dimension(d).label) for d in dims])
            results = text.join(
                [
                    text.lower_first(x)
                    for x in left.filter(pl.col("result"))
                    .get_column("label")
                    .unique(maintain_order=True)
                    .to_list()
                ]
            )
            words = [
                SECTION_WORDS.get(x, f"in {x}").format(labels=results)
                for x in _in_order(left.select(kind).get_column("section"))
            ]
            said.append(LEFT_OUT.format(labels=labels, what=text.join(words)))
            kept = self.exact.filter(pl.col("dimension").is_in(dims) & pl.col("ranked") & ~unrecorded)
            if not kept.is_empty():
                words = [
                    SECTION_WORDS.get(x, f"in {x}")
                    for x in _in_order(kept.select(kind).get_column("section"))
                ]
                said.append(KEPT_IN.format(labels=labels, what=text.join(words)))
        missing = (
            self.exact.filter(unrecorded).select("dimension", "level").unique(maintain_order=True).rows()
        )
        if missing:
            names = [level_name(self.config.dimension(d), str(level)) for d, level in missing]
            said.append(UNRECORDED.format(who=text.join(names)))
            stay |= set(self.exact.filter(unrecorded).get_column("section").to_list())
        if recorded_out:
            said.append(RECORDED_NOT_RANKED)
            stay.add("condition")
        few = self.too_few_expected
        if few:
            said.append(TOO_FEW_EXPECTED.format(gaps=text.plural(few, "gap"), floor=text.count(MIN_EXPECTED)))
            stay |= set(self._too_few().get_column("section").to_list())
        if said:
            said.append(STAY.format(tables="table" if len(stay) == 1 else "tables"))
        return " ".join(said) or None

    @property
    def too_few_expected(self) -> int:
        """How many published gaps the ranking leaves out for too few expected events or people
        (:func:`healthgap.descriptive.priorities.enough_expected`; suppressed ones not counted)."""
        return self._too_few().height if self.has_gaps else 0

    def _too_few(self) -> pl.DataFrame:
        """The published gaps :attr:`too_few_expected` counts."""
        return self.gaps.frame.filter(
            pl.col("ranked") & pl.col("expected").is_not_null() & ~enough_expected()
        )

    def top(self) -> Any:
        """The top gaps as a Markdown list of sentences (or why none is singled out)."""
        from IPython.display import Markdown

        if not self.has_gaps:
            return Markdown(NOTHING)
        rows = self.top_rows
        note = self.left_out()
        tail = f"\n\n{note}" if note else ""
        if not rows:
            said = self.nothing_found()
            return Markdown(said + tail if said else (note or RECORDED_NOT_RANKED))
        base = self.config.disclosure.rounding if self.config.disclosure.enabled else 1
        lines = [
            "- " + self._item(r, group=g, reference=ref, base=base)
            for r in rows
            for g, ref in [self._names(r)]
        ]
        return Markdown(self.top_intro() + "\n\n" + "\n".join(lines) + tail)

    def top_intro(self) -> str:
        """:data:`TOP_INTRO` and, when the list has standardised gaps, :data:`MIX_ONCE` (how their
        expected rates are standardised, said once rather than in every item)."""
        strata = {self._strata(r) for r in self.top_rows if r["statistic"] == "standardised"}
        if not strata:
            return TOP_INTRO
        mix = own_mix("age band and sex" if "age band and sex" in strata else "age band")
        sexes = MIX_SEXES if len(strata) > 1 else ""
        return f"{TOP_INTRO} {MIX_ONCE.format(mix=mix + sexes)}"

    def nothing_found(self) -> str:
        """Why no gap is listed, scoped to what this page counts (numbers of people or events, all
        its gaps at once), with the chapters that compare the same sections as ratios, a dimension
        at a time (:data:`RATIO_ELSEWHERE`); :data:`RECORDED_NOT_RANKED` when only recorded
        conditions were compared ("": the leave-outs say so)."""
        sections = _in_order(self.exact.get_column("section"))
        ranked = [x for x in sections if x != "condition"]
        counted = "people or events" if (self.exact.get_column("counted") == "events").any() else "people"
        m = text.count(self.comparisons)
        if self.truth_gaps is None and len(ranked) < len(sections):
            # recorded conditions are not ranked: "none of the gaps compared" would include them
            if not ranked:
                return ""  # only recorded conditions, none ranked: the leave-outs say so
            what = text.join([SECTIONS.get(x, x) for x in ranked])
            said = NOTHING_RANKED.format(what=what, counted=counted, m=m)
        else:
            said = NOTHING_FOUND.format(counted=counted, m=m)
        chapters = [RATIO_CHAPTERS[x] for x in ranked if x in RATIO_CHAPTERS]
        if chapters:
            said += " " + RATIO_ELSEWHERE.format(
                chapters=text.capitalise(text.join(chapters)),
                compare="compares" if len(chapters) == 1 else "compare",
            )
        return said

    def _item(self, row: dict[str, Any], *, group: str, reference: str, base: int) -> str:
        """One ranked gap as its list item: a condition ranked on its true gap leads with the
        true gap (the one ranked, with its interval for all the gaps compared) and gives the
        recorded gap after it; any other gap as :func:`gap_sentence` words it."""
        strata = self._strata(row)
        if row.get("true_excess") is None:
            return gap_sentence(row, group=group, reference=reference, base=base, strata=strata, mix=False)
        true = {k.removeprefix("true_"): v for k, v in row.items() if k.startswith("true_")}
        true = {**row, **true, "label": TRUE_LABEL.format(label=row["label"])}
        return gap_sentence(
            true, group=group, reference=reference, base=base, strata=strata, mix=False
        ) + true_gap_text(row, base=base, recorded=True)

    def _labelled(self, frame: pl.DataFrame) -> pl.DataFrame:
        rows = frame.to_dicts()
        group = [text.capitalise(self._names(r)[0]) for r in rows]
        return frame.with_columns(
            pl.when(pl.col("counted") == "events")
            .then(pl.col("label") + " (events)")
            .otherwise(pl.col("label"))
            .alias("measure_label"),
            pl.Series("group", group, dtype=pl.String),
            *_gap_texts(frame, base=self.base),
        )

    @cached_property
    def truth_gaps(self) -> Published | None:
        """The gaps in the true prevalence of each condition (the data's ``true_`` columns), by
        every dimension, against the same reference groups and standardised the same way,
        published once; None without truth (or without gaps)."""
        conditions = [
            m.name
            for m in self.config.measures_of("condition")
            if m.name in self.caps.columns and f"{TRUTH_PREFIX}{m.name}" in self.caps.columns
        ]
        if not conditions or not self.has_gaps:
            return None
        settings = self.config.disclosure
        truly = self.people.with_columns(pl.col(f"{TRUTH_PREFIX}{c}").alias(c) for c in conditions)
        exact = priorities(
            truly,
            self.config,
            measures=conditions,
            min_reference=settings.min_group if settings.enabled else 1,
            base=self.base,
        )
        if exact.is_empty():
            return None
        return publish_gaps(self.book, exact, base=self.base)

    @property
    def unrecorded_truth(self) -> Published | None:
        """:attr:`truth_gaps` of the levels recording an unknown value (:data:`UNRECORDED_LEVELS`);
        None without truth or such a level."""
        truth = self.truth_gaps
        levels = [
            level
            for d in UNRECORDED_LEVELS
            if d in self.caps.dimension_names
            for level in UNRECORDED_LEVELS[d]
        ]
        if truth is None or not levels:
            return None
        part = truth.where(pl.col("dimension").is_in(list(UNRECORDED_LEVELS)) & pl.col("level").is_in(levels))
        return None if part.frame.is_empty() else part

    def _true_row(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The published true-prevalence gap of a recorded condition gap (None without one)."""
        if self.truth_gaps is None or row["section"] != "condition":
            return None
        match = self.truth_gaps.frame.filter(
            (pl.col("measure") == row["measure"])
            & (pl.col("dimension") == row["dimension"])
            & (pl.col("level") == row["level"])
            & pl.col("excess").is_not_null()
        )
        return match.row(0, named=True) if match.height else None

    def unrecorded_note(self) -> Any:
        """One sentence per condition recorded clearly less often than expected among people
        whose ethnic group is not recorded while the data's true status shows no such
        shortfall: their low recorded rate is under-recording. None when the data has no truth
        or no such condition (nothing is said that the data does not support)."""
        from IPython.display import Markdown

        understated = self.understated()
        truth = self.unrecorded_truth
        if truth is None:
            return Markdown(understated) if understated else None
        recorded = self.gaps.frame.select(
            "measure", "dimension", "level", "label", "excess", "excess_lower", "excess_upper"
        )
        true = truth.frame.select(
            "measure",
            "dimension",
            "level",
            pl.col("excess").alias("true_excess"),
            pl.col("excess_lower").alias("true_lower"),
            pl.col("excess_upper").alias("true_upper"),
        )
        both = recorded.join(true, on=["measure", "dimension", "level"]).filter(
            (pl.col("excess_upper") < 0) & (pl.col("true_lower") > pl.col("excess_upper"))
        )
        if both.is_empty():
            return Markdown(understated) if understated else None
        lines = [understated] if understated else []
        for r in both.iter_rows(named=True):
            d = self.config.dimension(r["dimension"])
            who, ref = level_name(d, str(r["level"])), level_name(d, d.reference)
            true_more = r["true_excess"] >= 0
            status = (
                TRUE_AS_EXPECTED.format(
                    interval=number_interval(r["true_lower"], r["true_upper"], base=self.base)
                )
                if _includes_zero(r["true_lower"], r["true_upper"], base=self.base)
                else TRUE_DIFFERENT.format(
                    n=about(r["true_excess"], base=self.base),
                    more="more" if true_more else "fewer",
                    interval=number_interval(
                        r["true_lower"], r["true_upper"], base=self.base, flip=not true_more
                    ),
                )
            )
            lines.append(
                UNDER_RECORDED.format(
                    label=text.lower_first(r["label"]),
                    who=who,
                    reference=ref,
                    n=about(r["excess"], base=self.base),
                    interval=number_interval(r["excess_lower"], r["excess_upper"], base=self.base, flip=True),
                    true=status,
                )
            )
        return Markdown(" ".join(lines))

    def understated(self) -> str:
        """:data:`UNDERSTATED` for the condition gaps ranked on their true gaps (:attr:`top_rows`)
        whose recorded gap's 95% interval lies wholly below the true gap's; "" when none does."""
        rows = [
            r
            for r in self.top_rows
            if r.get("true_excess") is not None
            and r["excess_upper"] is not None
            and r["true_excess_lower"] is not None
            and r["excess_upper"] < r["true_excess_lower"]
        ]
        if not rows:
            return ""

        def signed(x: float, lo: float, hi: float) -> str:
            # as the list items above word them: an interval including 0 reads "about as many"
            n = "0" if _includes_zero(lo, hi, base=self.base) else about(x, base=self.base)
            return (
                "about as many as expected"
                if n == "0"
                else f"about {n} {'fewer' if x < 0 else 'more'} than expected"
            )

        items = [
            UNDERSTATED_ITEM.format(
                label=text.lower_first(r["label"]),
                group=in_group(self._names(r)[0]),
                recorded=signed(r["excess"], r["excess_lower"], r["excess_upper"]),
                true=signed(r["true_excess"], r["true_excess_lower"], r["true_excess_upper"]),
            )
            for r in rows
        ]
        return UNDERSTATED.format(items=text.join(items))

    def truth_intro(self) -> str | None:
        """:data:`TRUTH_INTRO` on data with true disease status (None otherwise)."""
        if self.truth_gaps is None:
            return None
        strata = "age and sex (age alone between the sexes)" if self.caps.has("sex") else "age"
        return TRUTH_INTRO.format(strata=strata)

    def _with_truth(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` (recorded condition gaps) with the words of the matching true gaps and the true
        gap's rank and its number signed so that positive is worse (``true_rank``,
        ``true_worse_off``: the table's order, as the list of the largest gaps ranks them)."""
        truth = self.truth_gaps.frame if self.truth_gaps is not None else None
        if truth is None:
            return frame
        keys = ["measure", "dimension", "level"]
        texts = truth.select(
            *keys, pl.col("rank").alias("true_rank"), pl.col("worse_off").alias("true_worse_off")
        ).with_columns(*_gap_texts(truth, base=self.base, prefix="true_", simultaneous=False))
        return frame.join(texts, on=keys, how="left")

    def truth_table(self) -> Any:
        """Recorded and true prevalence gaps side by side, with the true gaps' download; None
        without true disease status."""
        from IPython.display import HTML

        if self.truth_gaps is None:
            return None
        part = self.gaps.where((pl.col("section") == "condition") & pl.col("excess").is_not_null())
        if part.frame.is_empty():
            return None
        # ordered by the true gap, most people first, as the list of the largest gaps ranks them (the
        # gaps not ranked, by sex or of people with no ethnic group recorded, after)
        shown = (
            part.pipe(self._labelled)
            .pipe(self._with_truth)
            .sort(
                ["true_rank", "true_worse_off"],
                descending=[False, True],
                nulls_last=True,
                maintain_order=True,
            )
        )
        title = "Gaps in recorded and in true prevalence between groups and their reference group"
        table = self.book.table(
            shown,
            id="gaps-truth",
            title=title,
            columns=TRUTH_COLUMNS,
            note=(
                "Recorded: on a GP register; true: the data's true disease status. Expected: at the reference "
                "group's rates for each age band and sex (age band alone between the sexes). Difference: people "
                "more (+) or fewer (-) than expected, rounded; ordered by the true difference, most people more "
                "than expected first"
                + (
                    ", the gaps the ranking leaves out last."
                    if shown.frame.get_column("true_rank").is_null().any()
                    else "."
                )
            ),
            download=False,
        )
        truth = self.truth_gaps
        link = self.book.download(
            truth.select(*[c for c in DOWNLOAD_COLUMNS if c in truth.columns]),
            id="gaps-truth-data",
            title="Gaps in true prevalence between groups and their reference group",
        )
        intro = f"<p>{html.escape(self.truth_intro() or '')}</p>"
        return HTML(intro + table.data + link.data)

    def section_table(self, section: str) -> Any:
        """The gaps of one section (a measure kind), most people worse off first; or one plain note."""
        from IPython.display import HTML

        what = SECTIONS.get(section, section)
        if not self.has_gaps:
            return None  # the page says once that nothing can be compared
        if section == "condition" and self.truth_gaps is not None:
            both = self.truth_table()  # recorded and true side by side: the condition gaps shown once
            if both is not None:
                return both
        part = self.gaps.where(pl.col("section") == section)
        if part.frame.is_empty():
            per_head = [
                text.lower_first(m.label)
                for m in self.config.measures_of(section)
                if section in PER_HEAD_KINDS and m.name in self.caps.columns and m.type in ("flag", "count")
            ]
            # one plain sentence and no caption: a float holding only a note is shown unnumbered
            if per_head:
                return note(PER_HEAD_SECTION.format(section=what, what=text.join(per_head)))
            return note(NO_SECTION.format(what=what))
        shown = part.pipe(self._labelled)
        title = f"Gaps in {what} between groups and their reference group"
        table = self.book.table(
            shown,
            id=f"gaps-{section}",
            title=title,
            columns=TABLE_COLUMNS,
            note=(
                "Difference: people (events, for measures marked so) more (+) or fewer (-) in the group than "
                "at the reference group's rate, rounded; most people worse off first. The last interval holds "
                "for all the gaps compared together."
            ),
            download=False,
        )
        # the download carries the numbers once (the table's text columns repeat them as words)
        link = self.book.download(
            part.select(*[c for c in DOWNLOAD_COLUMNS if c in part.columns]),
            id=f"gaps-{section}-data",
            title=title,
        )
        return HTML(table.data + link.data)
