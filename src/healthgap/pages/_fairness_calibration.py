"""Calibration by group on the fairness page: observed over expected cases, against the truth.

The sentences of the section "Calibration by group" (``chapters/fairness.qmd``), from the
published frame of :func:`healthgap.fairness._calibration.calibration_by_group` (observed
cases rounded as published, O/E and its exact intervals recomputed from them). Each
function takes the published rows of one dimension, so that it can be tested on
hand-made frames.

- :func:`range_text`: the lowest and highest O/E of a dimension with their intervals.
- :func:`truth_text`: the same groups against each person's true risk (true over
  predicted), and whether each O/E interval holds it; '' without truth.
- :func:`headline_text`: the largest miscalibration that survives the simultaneous
  (Bonferroni) intervals, or that none does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from healthgap.config import Dimension
from healthgap.pages._groups import in_group, label_name
from healthgap.pages._models import group_words, plural_noun
from healthgap.text import group_noun, join, lower_first, num, pct

__all__ = [
    "CALIBRATION_TABLE_COLUMNS",
    "CALIBRATION_TABLE_FORMATS",
    "NO_SURVIVOR",
    "ratio_words",
    "range_text",
    "truth_text",
    "headline_text",
    "held_words",
    "true_headline",
]

#: Table headings of the calibration table.
CALIBRATION_TABLE_COLUMNS: dict[str, str] = {
    "dimension_label": "Grouping",
    "group_label": "Group",
    "n": "People",
    "observed": "Cases",
    "value": "Observed / expected",
    "lower_ci": "Lower 95% CI",
    "upper_ci": "Upper 95% CI",
    "simultaneous_lower": "Lower simultaneous CI",
    "simultaneous_upper": "Upper simultaneous CI",
    "true_ratio": "True / predicted risk",
}
CALIBRATION_TABLE_FORMATS: dict[str, tuple[str, int]] = {
    c: ("ratio", 2)
    for c in ("value", "lower_ci", "upper_ci", "simultaneous_lower", "simultaneous_upper", "true_ratio")
}
NO_SURVIVOR = (
    "No group's observed/expected ratio differs from 1 beyond what chance alone gives once the "
    "{k} groups compared are taken together (simultaneous intervals): the outcomes alone do not "
    "show the model miscalibrated for any group."
)


#: How a sentence names a group from its dimension and label.
Namer = Callable[[Dimension | None, str], str]


def _name(dimension: Dimension | None, row: Mapping[str, Any], name: Namer = label_name) -> str:
    return name(dimension, str(row["group_label"]))


def ratio_words(
    ratio: float, *, above: str = "above", below: str = "below", equal: str = "within 1% of"
) -> str:
    """'27% above' / '19% below' / 'within 1% of' for a ratio to the model's prediction (rounded
    to 1%); each is followed by what it compares with ('the prediction', 'it')."""
    change = ratio - 1
    if round(abs(change) * 100) == 0:
        return equal
    return f"{pct(abs(change), 0)} {above if change > 0 else below}"


def _shown(rows: pl.DataFrame, column: str = "value") -> pl.DataFrame:
    return rows.filter(pl.col(column).is_not_null()).sort("order")


def range_text(rows: pl.DataFrame, dimension: Dimension | None) -> str:
    """'By deprivation, observed cases range from 0.90 times the expected (...) to 1.23 times (...). '

    ``rows``: one dimension's published rows. '' with fewer than two published ratios.
    """
    shown = _shown(rows)
    if shown.height < 2:
        return ""
    low = shown.sort("value").row(0, named=True)
    high = shown.sort("value").row(-1, named=True)
    label = lower_first(str(low["dimension_label"]))

    def one(r: Mapping[str, Any]) -> str:
        return (
            f"{num(r['value'])} times the cases the model predicts {in_group(_name(dimension, r))} "
            f"(95% CI {num(r['lower_ci'])} to {num(r['upper_ci'])})"
        )

    return f"By {label}, observed cases range from {one(low)} to {one(high)}. "


def truth_text(rows: pl.DataFrame, dimension: Dimension | None) -> str:
    """Against each person's true risk: the groups with the lowest and highest true/predicted ratio,
    and in how many groups the O/E interval holds the true ratio. '' without truth."""
    shown = _shown(rows, "true_ratio")
    if shown.height < 2:
        return ""
    ordered = shown.sort("true_ratio")
    low, high = ordered.row(0, named=True), ordered.row(-1, named=True)
    both = shown.filter(pl.col("lower_ci").is_not_null() & pl.col("upper_ci").is_not_null())
    held = both.filter(pl.col("true_ratio").is_between(pl.col("lower_ci"), pl.col("upper_ci"))).height
    label = lower_first(str(low["dimension_label"]))
    return (
        f"Against each person's true risk, which this data records, true over predicted risk by {label} "
        f"ranges from {num(low['true_ratio'])} {in_group(_name(dimension, low))} (the true risk "
        f"{ratio_words(low['true_ratio'])} the prediction) to {num(high['true_ratio'])} "
        f"{in_group(_name(dimension, high))} ({ratio_words(high['true_ratio'])} it). The observed/expected interval "
        f"holds the true ratio in {held_words(held, both.height, _groups(dimension, label))}. "
    )


def _groups(dimension: Dimension | None, label: str) -> str:
    """'deprivation fifths', 'sexes', 'ethnic groups': the groups of a dimension, mid-sentence."""
    if dimension is not None and dimension.noun:
        return plural_noun(dimension.noun)
    base = group_noun(label)
    return f"{base}s" if base.endswith("group") else f"{base} groups"


def held_words(held: int, shown: int, groups: str) -> str:
    """'both sexes shown', 'all 5 deprivation fifths shown', '2 of the 3 ethnic groups shown',
    'none of the 2 sexes shown': in how many of a dimension's groups an interval holds the truth,
    naming the dimension so that each dimension's statement differs from the others'."""
    if held == shown:
        return f"both {groups} shown" if shown == 2 else f"all {shown} {groups} shown"
    if held == 0:
        return f"none of the {shown} {groups} shown"
    return f"{held} of the {shown} {groups} shown"


def headline_text(frame: pl.DataFrame, dimensions: Sequence[Dimension], *, name: Namer = group_words) -> str:
    """The largest miscalibration whose simultaneous interval excludes 1, or :data:`NO_SURVIVOR`.

    ``frame``: the published rows of every dimension (rows without a ratio are left out).
    ``name``: how a group is named; the fairness page passes
    :func:`~healthgap.pages._groups.label_name` ("women", "the most deprived fifth"); the
    default is the model card's :func:`~healthgap.pages._models.group_words`.
    """
    shown = frame.filter(pl.col("value").is_not_null() & pl.col("simultaneous_lower").is_not_null())
    if shown.is_empty():
        return ""
    hits = shown.filter((pl.col("simultaneous_lower") > 1) | (pl.col("simultaneous_upper") < 1))
    if hits.is_empty():
        return NO_SURVIVOR.format(k=shown.height) + true_headline(shown, dimensions, name=name)
    row = hits.sort(pl.col("value").log().abs(), descending=True).row(0, named=True)
    dim = next((d for d in dimensions if d.name == row["dimension"]), None)
    under = row["value"] > 1
    others = hits.height - 1
    more = f" ({others} other group{'s' if others != 1 else ''} also beyond chance)" if others else ""
    how = (
        "as many cases as the model predicts, to within 1%"
        if round(abs(row["value"] - 1) * 100) == 0
        else f"{ratio_words(row['value'], above='more', below='fewer')} cases than the model predicts"
    )
    who = _name(dim, row, name)
    has = "have" if who.startswith(("people", "women", "men")) else "has"  # 'women have', 'the fifth has'
    return (
        f"The largest miscalibration beyond what chance alone gives across the {shown.height} groups "
        f"compared: {who} {has} {how}"
        f" (observed/expected {num(row['value'])}, simultaneous 95% CI {num(row['simultaneous_lower'])} to "
        f"{num(row['simultaneous_upper'])}); the model {'under' if under else 'over'}-predicts their risk"
        f"{more}. "
    )


def true_headline(frame: pl.DataFrame, dimensions: Sequence[Dimension], *, name: Namer = group_words) -> str:
    """' The truth shows what the outcomes cannot: ...' naming the group whose true over predicted
    risk is furthest from 1 (log scale) among ``frame``'s rows; '' without truth."""
    known = frame.filter(pl.col("true_ratio").is_not_null())
    if known.is_empty():
        return ""
    row = known.sort(pl.col("true_ratio").log().abs(), descending=True).row(0, named=True)
    if round(abs(row["true_ratio"] - 1) * 100) == 0:
        return " Nor does the truth: every group's true risk is within 1% of the model's predictions."
    dim = next((d for d in dimensions if d.name == row["dimension"]), None)
    return (
        f" The truth shows what the outcomes cannot: the model's largest miscalibration is in "
        f"{_name(dim, row, name)}, whose true risk is {ratio_words(row['true_ratio'])} the model's predictions "
        f"(true over predicted {num(row['true_ratio'])})."
    )


def dimensions_text(names: Sequence[str]) -> str:
    """'deprivation and sex' for the table's caption."""
    return join([lower_first(n) for n in names])
