"""Sentences several pages share, computed from published frames.

The chapters never type a number: they call these helpers on the same
disclosure-protected frames they publish (a :class:`~healthgap.disclosure.Published`,
or its ``.frame``), so the text always matches the charts, tables and downloads.
A value that was suppressed is described as "not published (too few people)".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

import polars as pl

from healthgap.config import DEFAULT_DIMENSIONS, Dimension
from healthgap.descriptive import LEVEL, measure_label
from healthgap.disclosure import Published
from healthgap.stats.simultaneous import bonferroni_bounds, bonferroni_ratio
from healthgap.text import count, format_number, join, lower_first

__all__ = [
    "indicator_labels",
    "SUPPRESSED_TEXT",
    "NOT_RECORDED",
    "Dims",
    "Table",
    "compare",
    "extremes",
    "fmt",
    "gap_sentence",
    "group_name",
    "level_name",
    "lower_first",
    "missing_sentence",
    "nouns",
    "ratio_phrase",
    "ratio_sentence",
    "row_of",
    "simultaneous_clause",
    "with_multiplicity",
    "CHANCE",
    "COUNT_LESS_PRECISE",
    "COUNT_NOT_VERDICT",
    "SMALL_COUNT",
    "count_aside",
    "too_small_to_count",
    "simultaneous_ratios",
    "not_recorded",
    "than",
    "value_of",
]

#: The dimensions a sentence names groups of: by name, or a sequence (pages pass their own, resolved).
Dims: TypeAlias = Mapping[str, Dimension] | Iterable[Dimension] | None

SUPPRESSED_TEXT = "not published (too few people)"

#: Levels that record that a value is unknown, not a group of people (dimension -> levels):
#: a sentence does not pick them as the highest or lowest group, nor read their rate as a
#: difference between groups of people.
NOT_RECORDED: dict[str, tuple[str, ...]] = {"ethnicity": ("Not stated",)}
#: A missing count withheld, as :func:`missing_sentence` says it.
MISSING_WITHHELD = "some (a number withheld to protect confidentiality)"
#: The verdict :func:`ratio_sentence` ends with when the interval includes 1.
CHANCE = "; the difference could be due to chance."
#: A rate ratio and the same gap in numbers (observed minus expected) give one verdict: the
#: ratio's interval, computed exactly, carries it; the number, derived from rounded counts, only
#: supports it. Said inside the number's brackets when its interval includes no difference while
#: the ratio's does not ...
COUNT_LESS_PRECISE = "the count is less precise than the ratio"
#: ... and when its interval excludes no difference while the ratio's does not.
COUNT_NOT_VERDICT = "the ratio, not the count, gives the verdict"
#: Below this many events (or people) observed and expected in a group, a difference in numbers
#: is not given: after rounding to protect confidentiality it would be set by the rounding.
SMALL_COUNT = 20
#: The Bonferroni-adjusted ("simultaneous") interval columns of :func:`simultaneous_ratios`.
SIM_LOWER, SIM_UPPER = "simultaneous_lower", "simultaneous_upper"

#: What the helpers read: a published frame, or the polars frame inside it.
Table: TypeAlias = pl.DataFrame | Published


def _frame(table: Table) -> pl.DataFrame:
    return table.frame if isinstance(table, Published) else table


def fmt(x: float | None, dp: int = 1, *, suffix: str = "") -> str:
    """Format a number for a sentence (thousands separators, ``dp`` decimals)."""
    return SUPPRESSED_TEXT if x is None else format_number(x, dp=dp) + suffix


def row_of(table: Table, level: str, **filters: str) -> dict[str, Any] | None:
    """The row of ``table`` at ``level`` (and column filters), or None."""
    q = _frame(table).filter(pl.col(LEVEL) == str(level))
    for k, v in filters.items():
        q = q.filter(pl.col(k) == v)
    return q.row(0, named=True) if q.height else None


def value_of(table: Table, level: str, column: str = "value", **filters: str) -> float | None:
    """One value of ``table`` at ``level`` (None when missing or suppressed)."""
    row = row_of(table, level, **filters)
    return None if row is None else row.get(column)


def _dims(dims: Dims) -> Mapping[str, Dimension]:
    if dims is None:
        return DEFAULT_DIMENSIONS
    if isinstance(dims, Mapping):
        return dims
    return {d.name: d for d in dims}


def nouns(noun: str) -> str:
    """The plural of a dimension's noun: "deprivation fifths", "sexes", "localities", "education levels"."""
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and not noun.endswith(("ay", "ey", "oy", "uy")):
        return noun[:-1] + "ies"
    return noun + "s"


def level_name(dimension: Dimension, level: str, label: str | None = None) -> str:
    """How one group of ``dimension`` reads in a sentence, from its noun, order and labels.

    Deprivation: 'the most deprived fifth', 'deprivation fifth 3'; ethnic groups: 'the
    Asian group', 'people with no ethnic group recorded'; sex: 'women', 'men'; age bands:
    'people aged 50-54'; localities: their name. Any other ordered dimension with a
    disadvantaged end: 'the most disadvantaged education level (some high school)',
    'education level 2 (high school diploma)', 'the least disadvantaged education level
    (college degree)'; other ordered dimensions 'income band 3'; other groups 'the White
    group'.
    """
    level = str(level)
    label = str(label) if label is not None else dimension.label_of(level)
    name = dimension.name
    if name == "age_band":
        return f"people aged {label}"
    if name == "sex":
        return {"female": "women", "male": "men"}.get(level, label)
    if name == "ethnicity":
        return "people with no ethnic group recorded" if level == "Not stated" else f"the {label} group"
    if name == "imd_quintile" and dimension.order == DEFAULT_DIMENSIONS[name].order:
        return {"1": "the most deprived fifth", "5": "the least deprived fifth"}.get(
            level, f"deprivation fifth {level}"
        )
    if name == "locality":
        return label
    noun = dimension.noun or lower_first(dimension.label)
    said = "" if label == level else f" ({lower_first(label)})"
    if dimension.ordered and dimension.disadvantaged and len(dimension.order) >= 2:
        worst, best = (
            (dimension.order[0], dimension.order[-1])
            if dimension.disadvantaged == "first"
            else (dimension.order[-1], dimension.order[0])
        )
        if level in (worst, best):
            end = "most" if level == worst else "least"
            return f"the {end} disadvantaged {noun}" + (said or f" ({level})")
    if dimension.ordered:
        return f"{noun} {level}{said}"
    return f"the {label} group"


def group_name(row: dict[str, Any], *, people: bool = False, dims: Dims = None) -> str:
    """How a group reads in a sentence (:func:`level_name` of its dimension).

    ``people=False``: 'the most deprived fifth', 'the Asian group', 'women', 'Ipswich';
    ``people=True``: 'people in the most deprived fifth', 'people in Ipswich', 'women'.
    ``dims``: the dimensions of the book (default: the built-in ones); a row of a
    dimension not among them is named by its label.
    """
    dim_name, level, label = row.get("dimension"), str(row.get(LEVEL)), str(row.get("label"))
    dimension = _dims(dims).get(str(dim_name))
    name = level_name(dimension, level, label) if dimension is not None else label
    if people and not name.startswith(("people", "women", "men")):
        return f"people in {name}"
    return name


def not_recorded(dimension: str) -> pl.Expr:
    """True on the rows of ``dimension`` whose level records an unknown value (:data:`NOT_RECORDED`)."""
    return pl.col(LEVEL).cast(pl.String).is_in(list(NOT_RECORDED.get(dimension, ())))


def simultaneous_ratios(rows: pl.DataFrame, *, confidence: float = 0.95) -> pl.DataFrame:
    """Rate ratios against one reference with intervals that hold for all of them together.

    ``rows`` has one row per group compared with the reference (``level``, ``rate_ratio``,
    ``rr_lower``, ``rr_upper``: the published ratio and its interval at ``confidence``). The m
    ratios with a positive interval are widened together (Bonferroni on the log scale,
    :func:`healthgap.stats.bonferroni_bounds`).

    Returns
    -------
    pl.DataFrame
        ``rows`` with :data:`SIM_LOWER`, :data:`SIM_UPPER` (null without an interval) and
        ``comparisons`` (m).
    """
    ok = (pl.col("rate_ratio") > 0) & (pl.col("rr_lower") > 0) & (pl.col("rr_upper") > 0)
    m = int(rows.select(ok.fill_null(False).sum()).item())
    low, high = bonferroni_bounds("rate_ratio", "rr_lower", "rr_upper", comparisons=m, confidence=confidence)
    return rows.with_columns(
        low.alias(SIM_LOWER), high.alias(SIM_UPPER), pl.lit(m, pl.Int64).alias("comparisons")
    )


def simultaneous_clause(
    rows: pl.DataFrame, level: str, *, name: Callable[[str], str], reference: str, dp: int = 2
) -> str:
    """The end of a sentence naming the ratio furthest from 1 of several (``level``), allowing
    for having picked it among all of them.

    ``rows``: the output of :func:`simultaneous_ratios`; ``name(level)`` names a group,
    ``reference`` the reference group. With one ratio: "." or "; the difference could be due
    to chance.". With m > 1: whether the picked ratio stays clear once all m are allowed for
    (its simultaneous interval), and which other ratios do.
    """
    m = int(rows.get_column("comparisons").max() or 0) if rows.height else 0  # type: ignore[arg-type]
    row = rows.filter(pl.col(LEVEL).cast(pl.String) == str(level)).row(0, named=True)
    if m < 2:
        clear = (
            row["rr_lower"] is not None
            and row["rr_upper"] is not None
            and (row["rr_lower"] > 1 or row["rr_upper"] < 1)
        )
        return "." if clear else "; the difference could be due to chance."

    def sim(r: dict[str, Any]) -> str:
        return f"{fmt(r[SIM_LOWER], dp)} to {fmt(r[SIM_UPPER], dp)}"

    def clear_of(r: dict[str, Any]) -> bool:
        return r[SIM_LOWER] is not None and (r[SIM_LOWER] > 1 or r[SIM_UPPER] < 1)

    head = f"; it is the largest of the differences of {m} groups from {reference}"
    if row[SIM_LOWER] is None:
        tail = "."
    elif clear_of(row):
        tail = f", and it stays clear allowing for all {m} (95% CI {sim(row)} for the {m} together)."
    else:
        tail = (
            f", and allowing for all {m} (95% CI {sim(row)} for the {m} together) it could be due to chance."
        )
    others = [r for r in rows.to_dicts() if str(r[LEVEL]) != str(level) and clear_of(r)]
    if others:
        listed = join(
            [
                f"{name(str(r[LEVEL]))} (rate ratio {fmt(r['rate_ratio'], dp)}; 95% CI {sim(r)} for the {m} together)"
                for r in others
            ]
        )
        tail += f" Allowing for all {m}, {listed} also differ{'s' if len(others) == 1 else ''} clearly from {reference}."
    elif row[SIM_LOWER] is not None and not clear_of(row):
        tail += f" None of the {m} groups differs clearly from {reference} once all {m} are allowed for."
    return head + tail


def missing_sentence(published: pl.DataFrame, *, most: int) -> str:
    """How many people have no value of each measure the page uses (published counts).

    Parameters
    ----------
    published : ``label``, ``people``, ``missing`` (published: rounded, null when suppressed).
    most : the largest suppressed count (``suppress_below - 1``).
    """
    gaps = published.filter(pl.col("missing").is_null() | (pl.col("missing") > 0))
    if gaps.is_empty():
        return "Every measure this page uses is recorded for everyone in the dataset."
    total = published.get_column("people").drop_nulls().to_list()
    of = f"of the {count(max(total))} people, " if total else ""
    parts = []
    for i, r in enumerate(gaps.iter_rows(named=True)):
        n = r["missing"]
        who = MISSING_WITHHELD if n is None else count(n)
        verb = ("has" if n == 1 else "have") if i == 0 else ""
        parts.append(
            " ".join(w for w in (who, verb, "no value of" if i == 0 else "of", lower_first(r["label"])) if w)
        )
    return (
        f"Not every value is recorded: {of}{join(parts)}. Each share and rate on this page is of the people "
        "with a value."
    )


def _in(name: str) -> str:
    """'in the most deprived fifth' but 'among people aged 70-74' / 'among women'."""
    return ("among " if name.startswith(("people", "women", "men")) else "in ") + name


def extremes(
    table: Table, *, column: str = "value", dp: int = 1, suffix: str = "%", dims: Dims = None
) -> str:
    """'highest in A (x%) and lowest in B (y%)' over the published rows of ``table``.

    When the highest and lowest values read the same (to ``dp`` decimals) the groups
    are level: 'the same in every group (x%)' ('... every published group' when
    some groups are not published).

    References
    ----------
    .. [1] Government Analysis Function (2021). Writing about statistics: describe the
       range before the detail.
    """
    rows = _frame(table).filter(pl.col(column).is_not_null() & pl.col(column).is_finite())
    if rows.height == 0:
        return "not published for any group (too few people)"
    if rows.height == 1:
        r = rows.row(0, named=True)
        return f"published only {_in(group_name(r, dims=dims))} ({fmt(r[column], dp, suffix=suffix)})"
    hi = rows.sort(column, descending=True).row(0, named=True)
    lo = rows.sort(column).row(0, named=True)
    if fmt(hi[column], dp) == fmt(lo[column], dp):
        every = "every group" if rows.height == _frame(table).height else "every published group"
        return f"the same in {every} ({fmt(hi[column], dp, suffix=suffix)})"
    return (
        f"highest {_in(group_name(hi, dims=dims))} ({fmt(hi[column], dp, suffix=suffix)}) and lowest "
        f"{_in(group_name(lo, dims=dims))} ({fmt(lo[column], dp, suffix=suffix)})"
    )


def ratio_phrase(ratio: float | None, *, dp: int = 1, word: str = "likely") -> str:
    """'1.8 times as likely', '12% less likely' or 'about as likely' for a ratio."""
    if ratio is None:
        return f"(not published: too few people) as {word}"
    if abs(ratio - 1) < 0.05:
        return f"about as {word}"
    if ratio < 1:
        return f"{fmt(100 * (1 - ratio), 0)}% less {word}"
    return f"{fmt(ratio, dp)} times as {word}"


def than(ratio: float | None) -> str:
    """The word joining :func:`ratio_phrase` to the reference: 'than' after 'less', else 'as'."""
    return "than" if ratio is not None and ratio < 0.95 else "as"


def gap_sentence(
    table: Table,
    *,
    subject: str,
    level: str,
    reference: str,
    column: str = "value",
    dp: int = 1,
    suffix: str = "%",
    unit: str | None = None,
    dims: Dims = None,
    **filters: str,
) -> str:
    """A full sentence comparing two groups, or saying why they cannot be compared.

    '{subject} was x% in A against y% in B, a difference of d percentage points.'
    ``unit`` follows the difference (default " percentage points" when ``suffix``
    is "%", else nothing): ``suffix=" days", unit=" days"`` gives 'a difference
    of 13 days.'
    """
    ra = row_of(table, level, **filters)
    rb = row_of(table, reference, **filters)
    a = None if ra is None else ra.get(column)
    b = None if rb is None else rb.get(column)
    na = group_name(ra, dims=dims) if ra else f"group {level}"
    nb = group_name(rb, dims=dims) if rb else f"group {reference}"
    if a is None or b is None:
        return (
            f"{subject[:1].upper() + subject[1:]} cannot be compared between {na} and {nb} because "
            "a group is too small to publish."
        )
    if unit is None:
        unit = " percentage points" if suffix == "%" else ""
    return (
        f"{subject[:1].upper() + subject[1:]} was {fmt(a, dp, suffix=suffix)} {_in(na)} against "
        f"{fmt(b, dp, suffix=suffix)} {_in(nb)}, a difference of {fmt(abs(a - b), dp)}{unit}."
    )


def compare(
    table: Table,
    *,
    level: str,
    reference: str,
    column: str = "value",
    dp: int = 1,
    suffix: str = "%",
    **filters: str,
) -> str:
    """'x% against y% (a difference of d percentage points)' for two levels."""
    a = value_of(table, level, column, **filters)
    b = value_of(table, reference, column, **filters)
    if a is None or b is None:
        return "not comparable because a group is too small to publish"
    diff = a - b
    unit = " percentage points" if suffix == "%" else ""
    return (
        f"{fmt(a, dp, suffix=suffix)} against {fmt(b, dp, suffix=suffix)} "
        f"(a difference of {fmt(abs(diff), dp)}{unit})"
    )


def _compared(frame: pl.DataFrame, *, dimension: str, measure: str) -> pl.DataFrame:
    """The rows of ``measure`` by ``dimension`` with a positive rate ratio against the reference."""
    return frame.filter(
        (pl.col("dimension") == dimension)
        & (pl.col("measure") == measure)
        & pl.col("rate_ratio").is_not_null()
        & ~pl.col("is_reference")
        & (pl.col("rate_ratio") > 0)
    )


def _furthest(rows: pl.DataFrame) -> dict[str, Any]:
    """The row whose rate ratio is furthest from 1 (on the log scale)."""
    return rows.sort(pl.col("rate_ratio").log().abs(), descending=True).row(0, named=True)


def ratio_sentence(
    table: Table,
    *,
    dimension: str,
    measure: str,
    reference: str,
    outcome: str,
    adjusted: str = "After allowing for age, ",
    dims: Dims = None,
    subject: str | None = None,
) -> str:
    """The group whose rate ratio is furthest from 1, as a sentence.

    ``outcome`` completes '... were 1.7 times as likely {outcome} as ...', e.g.
    ``"to have diabetes recorded"``. Uses the published (protected) rate ratios.
    ``subject`` names the measure when no ratio can be published ("Rate ratios of
    stroke by ..."), so that the sentence is not read as covering every measure.

    References
    ----------
    .. [1] Government Analysis Function (2021). Writing about statistics: say what the
       number means, and whether the difference could be due to chance.
    """
    table = _frame(table)
    rows = _compared(table, dimension=dimension, measure=measure)
    ref = row_of(table, reference, dimension=dimension, measure=measure)
    if rows.is_empty() or ref is None:
        sub = table.filter(pl.col("dimension") == dimension)
        what = (
            lower_first(sub.get_column("dimension_label")[0])
            if "dimension_label" in sub.columns and sub.height
            else dimension
        )
        of = f" of {subject}" if subject else ""
        return f"Rate ratios{of} by {what} could not be published because some groups are too small."
    r = _furthest(rows)
    sig = r["rr_lower"] is not None and r["rr_upper"] is not None and (r["rr_lower"] > 1 or r["rr_upper"] < 1)
    return (
        f"{adjusted}{group_name(r, people=True, dims=dims)} were {ratio_phrase(r['rate_ratio'])} {outcome} "
        f"{than(r['rate_ratio'])} {group_name(ref, people=True, dims=dims)} (rate ratio {fmt(r['rate_ratio'], 2)}, "
        f"95% CI {fmt(r['rr_lower'], 2)} to {fmt(r['rr_upper'], 2)})" + ("." if sig else CHANCE)
    )


def with_multiplicity(text: str, frame: pl.DataFrame, *, dimension: str, measure: str) -> str:
    """A "furthest from the reference" ratio sentence with its interval widened for the groups compared.

    :func:`ratio_sentence` names the group whose rate ratio is furthest from 1
    among the m groups compared with the reference: one of m chances. With m > 1 the sentence also
    gives the ratio's interval widened for m comparisons (:func:`healthgap.stats.bonferroni_ratio`),
    and its verdict ("could be due to chance" or not) follows that interval.
    """
    rows = _compared(frame, dimension=dimension, measure=measure)
    m = rows.height
    core = text.removesuffix(CHANCE).removesuffix(".")
    if m < 2 or not core.endswith(")"):
        return text
    r = _furthest(rows)
    if r["rr_lower"] is None or r["rr_upper"] is None or r["rr_lower"] <= 0:
        return text
    low, high = bonferroni_ratio(r["rate_ratio"], r["rr_lower"], r["rr_upper"], pairs=m)
    core = (
        core[:-1]
        + f"; {fmt(low, 2)} to {fmt(high, 2)} allowing for all {m} comparisons with the reference group)"
    )
    return core + (CHANCE if low <= 1 <= high else ".")


def count_aside(*, ratio_clear: bool, count_includes_zero: bool) -> str:
    """What follows a number's interval ("; the count is less precise than the ratio") so that
    the number never gives a verdict other than its rate ratio's; "" when the two agree.

    Parameters
    ----------
    ratio_clear : whether the rate ratio's interval excludes 1 (the finding's verdict).
    count_includes_zero : whether the number's interval, as shown, includes 0.
    """
    if ratio_clear and count_includes_zero:
        return f"; {COUNT_LESS_PRECISE}"
    if not ratio_clear and not count_includes_zero:
        return f"; {COUNT_NOT_VERDICT}"
    return ""


def too_small_to_count(
    observed: float | None, expected: float | None, lo: float | None, hi: float | None, *, base: int
) -> bool:
    """Whether a difference in numbers is too small to give: fewer than :data:`SMALL_COUNT`
    events (or people) both observed and expected, or an interval no wider than the rounding
    (``base``) either side of 0, which the rounding alone could give."""
    few = observed is not None and expected is not None and max(observed, expected) < SMALL_COUNT
    rounding = (
        lo is not None
        and hi is not None
        and base > 1
        and max(abs(round(lo / base)), abs(round(hi / base))) <= 1
    )
    return few or rounding


def indicator_labels(statuses: Iterable[Any], config: Any) -> dict[str, str]:
    """Each indicator's label on this dataset, by name, from its
    :class:`~healthgap.descriptive.access.IndicatorStatus` (one per config entry): the profile's
    label when the data has every column it reads, else the label naming only the optional
    columns its eligibility rests on here ("Statin prescribed (eligibility from coronary heart
    disease and diabetes only)"), not conditions the data has no column for. The access chapter
    and Where to act label indicators with it, so they name each the same way."""
    out: dict[str, str] = {}
    for status in statuses:  # config entries, not data rows
        ind = status.indicator
        short = ind.label.split(" (", 1)[0]
        have = [lower_first(measure_label(config, c)) for c in ind.optional if c not in status.absent]
        if not status.absent:
            out[ind.name] = ind.label
        elif have:
            out[ind.name] = f"{short} (eligibility from {join(have)} only)"
        else:
            out[ind.name] = short
    return out
