"""Groups of any equity dimension in sentences: which dimension a page compares, and how its
groups read.

The access and outcomes pages compare groups of whatever dimensions the dataset has: the
deprivation fifths of the default book, an education level of a cohort, ethnic groups when
there is no ordered dimension. A group is named by its dimension's own words
(:class:`~healthgap.config.Dimension` ``noun``, ``labels``, ``order``, ``disadvantaged``):
"the most deprived fifth", "education level 1 (some high school)", "the Asian group",
"women". The built-in dimensions keep the wording of
:func:`healthgap.pages.sentences.group_name`.

Kept apart from :mod:`healthgap.pages.sentences` (owned by another page) until it can move
there: :func:`group_name` extends ``sentences.group_name`` to any dimension.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import polars as pl
from scipy.special import ndtri

from healthgap.config import Dimension
from healthgap.descriptive import LEVEL
from healthgap.disclosure import Published
from healthgap.pages import sentences
from healthgap.pages.capabilities import Capabilities
from healthgap.stats import extremes
from healthgap.text import flat, format_number, group_noun, lower_first

__all__ = [
    "compare",
    "standard_errors",
    "CHANCE_LEVEL",
    "SIMULATIONS",
    "compared_dimension",
    "ends",
    "group_name",
    "label_name",
    "in_group",
    "noun_of",
    "gap",
    "spread",
    "BUILT_IN",
]

#: Dimensions whose groups :func:`healthgap.pages.sentences.group_name` words.
BUILT_IN = ("imd_quintile", "ethnicity", "sex", "age_band")


def compared_dimension(caps: Capabilities, *, exclude: Sequence[str] = ()) -> Dimension | None:
    """The dimension a page's charts compare: the first ordered one with a disadvantaged end
    (deprivation, an education level), else the first other than the age band, or None.

    Parameters
    ----------
    caps : what the dataset supports.
    exclude : dimension names that cannot be compared here (e.g. those an analysis
        standardises for).
    """
    candidates = [d for d in caps.dimensions if d.name != "age_band" and d.name not in exclude]
    ordered = [d for d in candidates if ends(d) is not None]
    chosen = ordered or candidates
    return chosen[0] if chosen else None


def ends(dim: Dimension) -> tuple[str, str] | None:
    """The (most, least) disadvantaged levels of an ordered dimension with a disadvantaged end."""
    if not dim.ordered or dim.disadvantaged is None or len(dim.order) < 2:
        return None
    first, last = dim.order[0], dim.order[-1]
    return (first, last) if dim.disadvantaged == "first" else (last, first)


def noun_of(dim: Dimension) -> str:
    """How a sentence names one group of ``dim`` ("deprivation fifth", "education level")."""
    return dim.noun or group_noun(dim.label)


def group_name(dim: Dimension, level: str, *, people: bool = False) -> str:
    """How one group of ``dim`` reads in a sentence.

    Built-in dimensions as :func:`healthgap.pages.sentences.group_name` ("the most deprived
    fifth", "the Asian group", "women"); a locality by its label; other groups by the
    dimension's noun, level and label: "education level 1 (some high school)" (ordered),
    "the White group" (unordered, labelled), "race 2" (unlabelled). ``people=True``:
    "people in ...".
    """
    level = str(level)
    label = dim.label_of(level)
    if dim.name in BUILT_IN:
        row = {"dimension": dim.name, LEVEL: level, "label": label}
        return sentences.group_name(row, people=people)
    if dim.name == "locality" or (not dim.ordered and label != level):
        name = label if dim.name == "locality" else f"the {label} group"
    elif label == level:
        name = f"{noun_of(dim)} {level}"
    else:
        name = f"{noun_of(dim)} {level} ({lower_first(label)})"
    return f"people in {name}" if people else name


def label_name(dim: Dimension | None, label: str) -> str:
    """How a group named by its published label reads mid-sentence
    (:func:`healthgap.pages.sentences.level_name`): "women", "the most deprived fifth",
    "people aged 50-54", "people with no ethnic group recorded", a locality's name.

    The level is found from ``dim``'s labels (a label without one is its own level); without a
    dimension the label is given as it is, on one line.
    """
    text = flat(str(label))
    if dim is None:
        return text
    levels = {flat(v): k for k, v in dim.labels.items()}
    level = levels.get(text, text)
    return sentences.level_name(dim, level, dim.label_of(level) if level != text else text)


def in_group(name: str) -> str:
    """'in the most deprived fifth' but 'among people aged 70-74' / 'among women'."""
    return ("among " if name.startswith(("people", "women", "men")) else "in ") + name


def _frame(table: pl.DataFrame | Published) -> pl.DataFrame:
    return table.frame if isinstance(table, Published) else table


def _value(frame: pl.DataFrame, dim: Dimension, level: str, column: str) -> float | None:
    rows = frame.filter((pl.col("dimension") == dim.name) & (pl.col(LEVEL) == level))
    return rows.item(0, column) if rows.height else None


def _fmt(x: float, dp: int, suffix: str) -> str:
    return format_number(x, dp=dp) + suffix


def gap(
    table: pl.DataFrame | Published,
    dim: Dimension,
    *,
    subject: str,
    column: str = "value",
    dp: int = 1,
    suffix: str = "%",
    unit: str | None = None,
) -> str:
    """One sentence comparing the groups of ``dim`` in ``table`` (already narrowed to one measure).

    Ordered dimensions with a disadvantaged end: the two ends, '{subject} was x% in A
    against y% in B, a difference of d percentage points.' Other dimensions: the range,
    '{subject} was highest in A (x%) and lowest in B (y%).' When a value is suppressed the
    sentence says the groups cannot be compared; when every group is, that nothing is
    published.

    Parameters
    ----------
    table : published rows of one measure (``dimension``, ``level``, ``column``).
    dim : the dimension compared.
    subject : what is compared, e.g. "the share of people with hypertension who are recorded".
    column, dp, suffix : the value and how it is written ("%", " days", "").
    unit : after the difference (default " percentage points" when ``suffix`` is "%", else
        ``suffix``).
    """
    frame = _frame(table).filter(pl.col("dimension") == dim.name)
    subject = subject[:1].upper() + subject[1:]
    pair = ends(dim)
    if pair is None:
        return f"{subject} was {spread(frame, dim, column=column, dp=dp, suffix=suffix)}."
    most, least = pair
    a, b = _value(frame, dim, most, column), _value(frame, dim, least, column)
    na, nb = group_name(dim, most), group_name(dim, least)
    if a is None or b is None:
        return f"{subject} cannot be compared between {na} and {nb} because a group is too small to publish."
    if format_number(a, dp=dp) == format_number(b, dp=dp):  # not "1.2% against 1.2%, a difference of 0.1"
        both = in_group(na).split(" ", 1)[0]  # "in" or "among"
        return f"{subject} was about {_fmt(a, dp, suffix)} {both} both {na} and {nb}."
    if unit is None:
        unit = " percentage points" if suffix == "%" else suffix
    return (
        f"{subject} was {_fmt(a, dp, suffix)} {in_group(na)} against {_fmt(b, dp, suffix)} "
        f"{in_group(nb)}, a difference of {format_number(abs(a - b), dp=dp)}{unit}."
    )


def spread(
    table: pl.DataFrame | Published, dim: Dimension, *, column: str = "value", dp: int = 1, suffix: str = "%"
) -> str:
    """'highest in A (x%) and lowest in B (y%)' over the published groups of ``dim``.

    'the same in every group (x%)' when the two read alike, 'published only in A (x%)' for
    one group, 'not published for any group (too few people)' for none.
    """
    frame = _frame(table).filter(pl.col("dimension") == dim.name)
    rows = frame.filter(pl.col(column).is_not_null() & pl.col(column).is_finite())
    if rows.height == 0:
        return "not published for any group (too few people)"
    if rows.height == 1:
        r = rows.row(0, named=True)
        return f"published only {in_group(group_name(dim, r[LEVEL]))} ({_fmt(r[column], dp, suffix)})"
    hi = rows.sort(column, descending=True, maintain_order=True).row(0, named=True)
    lo = rows.sort(column, maintain_order=True).row(0, named=True)
    if format_number(hi[column], dp=dp) == format_number(lo[column], dp=dp):
        every = "every group" if rows.height == frame.height else "every published group"
        return f"the same in {every} ({_fmt(hi[column], dp, suffix)})"
    return (
        f"highest {in_group(group_name(dim, hi[LEVEL]))} ({_fmt(hi[column], dp, suffix)}) and lowest "
        f"{in_group(group_name(dim, lo[LEVEL]))} ({_fmt(lo[column], dp, suffix)})"
    )


#: The joint confidence of the simultaneous intervals a sentence naming an extreme uses.
CHANCE_LEVEL = 0.95
#: Draws of the max statistic (enough for a stable 95% critical value), for every test of the
#: highest and lowest of a dimension's groups.
SIMULATIONS = 20_000


def standard_errors(
    frame: pl.DataFrame,
    *,
    column: str,
    lower: str,
    upper: str,
    scale: Literal["difference", "ratio"],
    confidence: float = 0.95,
) -> pl.DataFrame:
    """``frame`` with ``__se``: each estimate's standard error read back from its interval.

    On the difference scale (upper - lower) / 2z; on the ratio scale the interval is read on
    the log scale, estimate x (ln upper - ln lower) / 2z (the standard error
    :func:`~healthgap.stats.simultaneous_intervals` takes for ratios).
    """
    z = float(ndtri(0.5 + confidence / 2))
    if scale == "ratio":
        se = pl.col(column) * (pl.col(upper).log() - pl.col(lower).log()) / (2 * z)
    else:
        se = (pl.col(upper) - pl.col(lower)) / (2 * z)
    return frame.with_columns(se.alias("__se"))


def _ci(row: dict, lower: str, upper: str, dp: int, suffix: str) -> str:
    lo, hi = row.get(lower), row.get(upper)
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return f", 95% CI {_fmt(lo, dp, suffix)} to {_fmt(hi, dp, suffix)}"


def _is(name: str) -> str:
    """'is' or 'are', for a group's name ("the Asian group is", "people aged 90+ are")."""
    return "are" if name.startswith(("people", "women", "men")) else "is"


def _chance(
    rows: pl.DataFrame, dim: Dimension, *, column: str, scale: Literal["difference", "ratio"], total: int
) -> str:
    """Whether the highest and lowest of the published groups could be where they are by chance
    (``total``: the groups of the dimension, published or not): a clause that ends the sentence
    naming them, so that each sentence stays whole and distinct."""
    k = rows.height
    data = rows.filter(pl.col("__se").is_finite() & (pl.col("__se") > 0))
    if data.height < 2:
        return ""
    ends_ = extremes(
        data.select(LEVEL, column, "__se"),
        group=LEVEL,
        estimate=column,
        std_error="__se",
        scale=scale,
        confidence=CHANCE_LEVEL,
        simulations=SIMULATIONS,
    )
    hi, lo = ends_.row(0, named=True), ends_.row(1, named=True)
    if hi["group"] is None or lo["group"] is None:
        return ""
    if k == 2 and total > 2:
        verdict = "is larger than chance would readily explain" if hi["stands_apart"] else "could be chance"
        return (
            f"only these two of the {total} groups are published (the others are too small to publish), "
            f"and the difference between them {verdict}"
        )
    if k == 2:
        if hi["stands_apart"]:
            return "a difference larger than chance would readily explain"
        return "a difference that could be chance"
    name_hi, name_lo = group_name(dim, hi["group"]), group_name(dim, lo["group"])
    if hi["stands_apart"]:
        top = f"{name_hi} {_is(name_hi)} above every other {noun_of(dim)}"
    else:
        top = (
            f"{name_hi} could be highest by chance (it is not clearly above {group_name(dim, hi['nearest'])})"
        )
    if lo["stands_apart"]:
        bottom = f"{name_lo} {_is(name_lo)} below every other {noun_of(dim)}"
    else:
        bottom = (
            f"{name_lo} could be lowest by chance (it is not clearly below {group_name(dim, lo['nearest'])})"
        )
    return (
        f"allowing for the {k} groups compared at once (simultaneous {CHANCE_LEVEL:.0%} intervals), "
        f"{top}, and {bottom}"
    )


def compare(
    table: pl.DataFrame | Published,
    dim: Dimension,
    *,
    subject: str,
    column: str = "value",
    lower: str = "lower_ci",
    upper: str = "upper_ci",
    dp: int = 1,
    suffix: str = "%",
    unit: str | None = None,
    scale: Literal["difference", "ratio"] = "difference",
) -> str:
    """Sentences comparing the groups of ``dim`` in ``table`` (one measure), with 95% intervals.

    Ordered dimensions with a disadvantaged end compare the two ends, chosen before looking
    at the data: '{subject} was x% (95% CI a% to b%) in A against y% (95% CI ...) in B, a
    difference of d percentage points (the two intervals do not overlap).' Other
    dimensions name the highest and the lowest group, picked from the data, and say whether
    each could be there by chance: simultaneous 95% intervals of every pairwise gap (max
    statistic, :func:`healthgap.stats.extremes`) from each group's standard error
    (:func:`standard_errors`). Suppressed groups are left out; when every group is, the
    sentence says nothing is published.

    Parameters
    ----------
    table : published rows of one measure (``dimension``, ``level``, ``column``, ``lower``,
        ``upper``).
    dim : the dimension compared.
    subject : what is compared ("the share of people with hypertension who are recorded").
    column, lower, upper : the value and its 95% interval.
    dp, suffix : decimals and what follows a value ("%", " days", "").
    unit : after the difference (default " percentage points" for "%", else ``suffix``).
    scale : how two groups compare ("ratio" for rates and ratios, read on the log scale).
    """
    frame = _frame(table).filter(pl.col("dimension") == dim.name)
    subject = subject[:1].upper() + subject[1:]
    pair = ends(dim)
    if pair is not None:
        most, least = pair
        ra = frame.filter(pl.col(LEVEL) == most)
        rb = frame.filter(pl.col(LEVEL) == least)
        a = ra.row(0, named=True) if ra.height else None
        b = rb.row(0, named=True) if rb.height else None
        na, nb = group_name(dim, most), group_name(dim, least)
        if a is None or b is None or a[column] is None or b[column] is None:
            return (
                f"{subject} cannot be compared between {na} and {nb} because a group is too small to publish."
            )
        if unit is None:
            unit = " percentage points" if suffix == "%" else suffix
        x, y = a[column], b[column]
        if format_number(x, dp=dp) == format_number(y, dp=dp):
            lead = (
                f"{subject} was about {_fmt(x, dp, suffix)} {in_group(na).split(' ', 1)[0]} both {na} "
                f"({_ci(a, lower, upper, dp, suffix)[2:]}) and {nb} ({_ci(b, lower, upper, dp, suffix)[2:]})."
            )
            return lead.replace(" ()", "")
        lead = (
            f"{subject} was {_fmt(x, dp, suffix)} ({_ci(a, lower, upper, dp, suffix)[2:]}) {in_group(na)} "
            f"against {_fmt(y, dp, suffix)} ({_ci(b, lower, upper, dp, suffix)[2:]}) {in_group(nb)}, a "
            f"difference of {format_number(abs(x - y), dp=dp)}{unit}"
        ).replace(" ()", "")
        limits = [a.get(lower), a.get(upper), b.get(lower), b.get(upper)]
        if any(v is None for v in limits):
            return lead + "."
        overlap = a[lower] <= b[upper] and b[lower] <= a[upper]
        return lead + (
            " (the two intervals overlap, so it could be chance)."
            if overlap
            else " (the two intervals do not overlap)."
        )
    rows = frame.filter(pl.col(column).is_not_null() & pl.col(column).is_finite())
    if rows.height == 0:
        return f"{subject} is not published for any {noun_of(dim)} (too few people)."
    if rows.height == 1:
        r = rows.row(0, named=True)
        return (
            f"{subject} is published only {in_group(group_name(dim, r[LEVEL]))} "
            f"({_fmt(r[column], dp, suffix)}{_ci(r, lower, upper, dp, suffix)})."
        )
    hi = rows.sort(column, descending=True, maintain_order=True).row(0, named=True)
    lo = rows.sort(column, maintain_order=True).row(0, named=True)
    if format_number(hi[column], dp=dp) == format_number(lo[column], dp=dp):
        every = "every group" if rows.height == frame.height else "every published group"
        return f"{subject} was the same in {every} ({_fmt(hi[column], dp, suffix)})."
    lead = (
        f"{subject} was highest {in_group(group_name(dim, hi[LEVEL]))} "
        f"({_fmt(hi[column], dp, suffix)}{_ci(hi, lower, upper, dp, suffix)}) and lowest "
        f"{in_group(group_name(dim, lo[LEVEL]))} ({_fmt(lo[column], dp, suffix)}{_ci(lo, lower, upper, dp, suffix)})"
    )
    if lower not in rows.columns or upper not in rows.columns:
        return lead + "."
    smallest = rows.select(pl.col(column).min()).item()
    if scale == "ratio" and smallest is not None and smallest <= 0:
        scale = "difference"  # a ratio of a zero is undefined: compare the differences instead
    with_se = standard_errors(
        rows.filter(pl.col(lower).is_not_null() & pl.col(upper).is_not_null()),
        column=column,
        lower=lower,
        upper=upper,
        scale=scale,
    )
    chance = _chance(with_se, dim, column=column, scale=scale, total=frame.height)
    return f"{lead}; {chance}." if chance else f"{lead}."
