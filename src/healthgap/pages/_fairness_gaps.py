"""Gaps in the share of cases found at capacity: beyond chance, and beyond base rates.

Sentences of the fairness page's sections "Gaps beyond chance" and "What base rates
explain" (``chapters/fairness.qmd``), from published frames holding only differences of
proportions (no counts, no group rates: a rate next to a published count could give the
count back), rounded to 0.1 percentage point when published:

- :func:`chance_text`: one dimension's largest gap in the true positive rate at capacity
  whose max-t simultaneous interval excludes zero, or that none does (the largest
  observed then with its interval), from :func:`healthgap.fairness.tpr_gaps`.
- :func:`reference_text`: one dimension's largest model gap beside the gap a perfect-risk
  model gives at the same capacity, and the part the model adds, from
  :func:`healthgap.fairness.capacity_reference`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from healthgap.config import Dimension, DisclosureSettings
from healthgap.disclosure import round_to_base
from healthgap.pages._groups import in_group, label_name
from healthgap.text import lower_first, pp

__all__ = [
    "chance_text",
    "chosen_pair",
    "base_rate_text",
    "AGE_EXPECTED",
    "AGE_NO_TRUTH",
    "REFERENCE_PAIR_COLUMNS",
    "reference_text",
    "orient",
    "publishable_pairs",
    "withhold_small_groups",
    "SMALL_WITHIN",
    "SMALL_WITHIN_TAIL",
    "WITHIN_CASES_AND_FLAGGED",
    "PAIR_COLUMNS",
    "REFERENCE_COLUMNS",
    "DECIMALS",
]

#: Published columns of the pairwise gaps.
PAIR_COLUMNS: tuple[str, ...] = (
    "dimension",
    "dimension_label",
    "group",
    "group_label",
    "versus",
    "versus_label",
    "value",
    "lower_ci",
    "upper_ci",
    "excludes_null",
    "comparisons",
)
#: Published columns of the perfect-risk reference's gaps.
REFERENCE_COLUMNS: tuple[str, ...] = (
    "dimension",
    "dimension_label",
    "group",
    "group_label",
    "reference",
    "reference_label",
    "gap_model",
    "gap_model_lower",
    "gap_model_upper",
    "gap_reference",
    "gap_reference_lower",
    "gap_reference_upper",
    "added",
    "added_lower",
    "added_upper",
)
#: Differences of proportions are published to 0.1 percentage point.
DECIMALS = 3


#: Audit measures whose numerator counts people among a group's cases or among its flagged people
#: (true positives, false positives): withheld where either is fewer than ``min_group``.
WITHIN_CASES_AND_FLAGGED: tuple[str, ...] = ("tpr", "fpr", "ppv")
#: The start of the reason of a measure withheld because it is counted among too few people of a
#: larger group; :func:`withhold_small_groups` adds which ("with the outcome", "flagged").
SMALL_WITHIN = "fewer than {n} people in the group"
#: The end of that reason, so that a table's note reads as a sentence.
SMALL_WITHIN_TAIL = ", too few for a rate among them"


def _small(count: pl.Expr, settings: DisclosureSettings) -> pl.Expr:
    """Counts of people fewer than ``settings.min_group`` as published (rounded), zero excepted."""
    return (count > 0) & (round_to_base(count, settings.rounding) < settings.min_group)


def withhold_small_groups(groups: pl.DataFrame, *, settings: DisclosureSettings) -> pl.DataFrame:
    """The exact audit groups with the counts measured within too few people set to null (withheld),
    before publication, so that :func:`healthgap.disclosure.publish` suppresses them with every
    value derived from them (and protects them like small counts).

    The minimum group size (rule 9 of :mod:`healthgap.disclosure`) applies to every group a
    measure is counted within, not only to the group's size ``n``:

    - true and false positives (the numerators of ``tpr``, ``ppv`` and ``fpr``) are counted
      within the group's people with the outcome and within its flagged people: a true positive
      rate of 0% or 100% among 10 cases says of each of them whether they were found. They are
      withheld where the group has fewer than ``min_group`` cases or flagged people as published
      (both counts together, so that neither gives the other back from the flagged total);
    - an AUROC compares every case with every non-case: it is withheld (its ``numerator``, the
      smaller of the two classes, set to null) where either class has fewer than ``min_group``.

    Rows keep their other counts; the withheld ones name the count that is too small: "fewer
    than 50 people in the group with the outcome", "... flagged" (:data:`SMALL_WITHIN`; the
    group's own size is large enough, so "fewer than 50 people in the group" alone would be
    false). With disclosure control off or ``min_group`` 1 the frame is returned unchanged.
    """
    if not settings.enabled or settings.min_group <= 1 or groups.is_empty():
        return groups
    key = ["dimension", "group"]
    cases = pl.col("denominator").filter(pl.col("metric") == "tpr").first().over(key)
    flagged = pl.col("denominator").filter(pl.col("metric") == "ppv").first().over(key)
    within = pl.col("metric").is_in(WITHIN_CASES_AND_FLAGGED) & (
        _small(cases, settings) | _small(flagged, settings)
    )
    auroc = (pl.col("metric") == "auroc") & _small(pl.col("numerator"), settings)
    hide = (within | auroc).fill_null(False)
    few, tail = SMALL_WITHIN.format(n=settings.min_group), SMALL_WITHIN_TAIL
    few_cases = _small(cases, settings).fill_null(False)
    few_flagged = _small(flagged, settings).fill_null(False)
    reason = (
        # an AUROC's numerator is the smaller of its two classes
        pl.when((pl.col("metric") == "auroc") & (pl.col("numerator") == cases))
        .then(pl.lit(f"{few} with the outcome{tail}"))
        .when(pl.col("metric") == "auroc")
        .then(pl.lit(f"{few} without the outcome{tail}"))
        .when(few_cases & few_flagged)
        # two reasons, each said once in a table's note beside the rows with only one of them
        .then(pl.lit(f"{few} with the outcome{tail}; {few} flagged{tail}"))
        .when(few_cases)
        .then(pl.lit(f"{few} with the outcome{tail}"))
        .otherwise(pl.lit(f"{few} flagged{tail}"))
    )
    out = groups.with_columns(
        pl.when(hide).then(None).otherwise(pl.col("numerator")).alias("numerator"),
        pl.when(hide)
        .then(reason)
        .otherwise(
            pl.col("suppression_reason")
            if "suppression_reason" in groups.columns
            else pl.lit(None, pl.String)
        )
        .alias("suppression_reason"),
    )
    return out


def publishable_pairs(pairs: pl.DataFrame, groups: pl.DataFrame | None) -> pl.DataFrame:
    """The pairwise gaps whose two groups both publish their cases and cases found.

    A difference of true positive rates given to 0.1 percentage point beside a group whose
    cases found are suppressed (1 to ``suppress_below - 1``) gives that count back: the
    other group's rate is known from its rounded counts to about a point, so the hidden
    group's rate, and with its rounded cases its count found, follows
    (``tests/attacks/test_fairness_tpr.py``). Pairs are kept only when both groups have
    the ``tpr`` row's ``numerator`` and ``denominator`` published in ``groups`` (the
    published audit); without the audit, none is kept.
    """
    if groups is None or pairs.is_empty():
        return pairs.clear()
    shown = groups.filter(
        (pl.col("metric") == "tpr") & pl.col("numerator").is_not_null() & pl.col("denominator").is_not_null()
    ).select("dimension", "group")
    return pairs.join(shown, on=["dimension", "group"], how="semi").join(
        shown.rename({"group": "versus"}), on=["dimension", "versus"], how="semi"
    )


def orient(row: Mapping[str, Any]) -> dict[str, Any]:
    """A pair with the higher group first (``value`` >= 0, the interval turned with it)."""
    if row["value"] >= 0:
        return dict(row)
    return {
        **row,
        "group": row["versus"],
        "versus": row["group"],
        "group_label": row["versus_label"],
        "versus_label": row["group_label"],
        "value": -row["value"],
        "lower_ci": -row["upper_ci"],
        "upper_ci": -row["lower_ci"],
    }


def _ci(lo: float, hi: float, what: str = "95% CI", *, sign: float = 1.0) -> str:
    """The interval of a difference described by its size: turned round when the difference is negative."""
    if sign < 0:
        lo, hi = -hi, -lo
    return f"{what} {pp(lo, unit=False)} to {pp(hi)}"


def chosen_pair(rows: pl.DataFrame) -> dict[str, Any] | None:
    """The pair :func:`chance_text` speaks of: the largest gap whose simultaneous interval excludes
    zero, else the largest observed; oriented with the higher group first. None without one."""
    shown = rows.filter(pl.col("value").is_not_null() & pl.col("lower_ci").is_not_null())
    if shown.is_empty():
        return None
    hits = shown.filter(pl.col("excludes_null").fill_null(False))
    pick = hits if not hits.is_empty() else shown
    return orient(pick.sort(pl.col("value").abs(), descending=True).row(0, named=True))


def chance_text(rows: pl.DataFrame, dimension: Dimension | None) -> str:
    """One dimension's largest gap that survives its simultaneous intervals, or that none does.

    ``rows``: the dimension's published pairs. '' without a published pair.
    """
    row = chosen_pair(rows)
    if row is None:
        return ""
    label = lower_first(str(row["dimension_label"]))
    a, b = label_name(dimension, row["group_label"]), label_name(dimension, row["versus_label"])
    interval = _ci(row["lower_ci"], row["upper_ci"], "simultaneous 95% CI")
    pairs = f"{row['comparisons']} pair{'s' if row['comparisons'] != 1 else ''} compared"
    if row.get("excludes_null"):
        return (
            f"By {label}, the largest gap that chance alone does not explain is {pp(row['value'])} "
            f"({interval}, over the {pairs}): higher {in_group(a)} than {in_group(b)}. "
        )
    return (
        f"By {label}, no gap is beyond what chance alone gives: the largest, {pp(row['value'])} "
        f"higher {in_group(a)} than {in_group(b)}, has a {interval} over the {pairs}. "
    )


#: Said of the largest gap between age bands when the data has no true risk to compare with.
AGE_EXPECTED = (
    "Risk rises steeply with age, so any risk model that flags only the top {top} flags mostly the "
    "oldest people: a gap between age bands is expected at this capacity and is not by itself "
    "unfairness. "
)
#: Added to :data:`AGE_EXPECTED` when the data has no true risk at all.
AGE_NO_TRUTH = (
    "This data does not record each person's true risk, so the part of the gap the model adds "
    "cannot be separated from what the age bands' different risks give. "
)


def base_rate_text(
    pair: Mapping[str, Any] | None, reference: pl.DataFrame | None, dimension: Dimension | None, *, top: str
) -> str:
    """The gap of :func:`chance_text` set against a perfect-risk model's at the same capacity.

    ``pair``: the pair :func:`chosen_pair` picked (higher group first); ``reference``: the
    dimension's published perfect-risk pairs (:attr:`healthgap.fairness.CapacityReference.pairs`,
    ``group`` minus ``versus``), or None when the data has no true risk. Between age bands
    without a reference, :data:`AGE_EXPECTED`; '' for other dimensions without one (the section
    "What base rates explain" says why).
    """
    if pair is None:
        return ""
    age = dimension is not None and dimension.name == "age_band"
    row = _reference_row(pair, reference)
    if row is None:
        if not age:
            return ""
        return AGE_EXPECTED.format(top=top) + (AGE_NO_TRUTH if reference is None else "")
    a = label_name(dimension, pair["group_label"])
    b = label_name(dimension, pair["versus_label"])
    ref, added = row["gap_reference"], row["added"]
    within = row["added_lower"] <= 0 <= row["added_upper"]
    verdict = (
        "within what chance alone gives: the gap is what the groups' different risks give at this capacity, "
        "not by itself unfairness. "
        if within
        else "beyond what chance alone gives: the part the model itself adds. "
    )
    return (
        f"A model that knew each person's true risk, flagging the same top {top}, would find a share "
        f"{pp(abs(ref))} {'higher' if ref >= 0 else 'lower'} {in_group(a)} than {in_group(b)} "
        f"({_ci(row['gap_reference_lower'], row['gap_reference_upper'], sign=ref)}): that much is what the "
        f"groups' different risks give. Against it, the model's gap is {pp(abs(added))} "
        f"{'wider' if added >= 0 else 'narrower'} ({_ci(row['added_lower'], row['added_upper'], sign=added)}), "
        + verdict
    )


def _reference_row(pair: Mapping[str, Any], reference: pl.DataFrame | None) -> dict[str, Any] | None:
    """The perfect-risk pair of ``pair``'s two groups, turned so that its gaps are ``pair``'s group
    minus its versus; None when it is not published."""
    if reference is None or reference.is_empty():
        return None
    for g, v, sign in ((pair["group"], pair["versus"], 1.0), (pair["versus"], pair["group"], -1.0)):
        hit = reference.filter((pl.col("group") == g) & (pl.col("versus") == v))
        if hit.is_empty():
            continue
        r = hit.row(0, named=True)
        if any(r[c] is None for c in _REFERENCE_PAIR_VALUES):
            return None
        if sign > 0:
            return r
        turned = dict(r)
        for c in ("gap_model", "gap_reference", "added"):
            turned[c] = -r[c]
            turned[f"{c}_lower"], turned[f"{c}_upper"] = -r[f"{c}_upper"], -r[f"{c}_lower"]
        return turned
    return None


_REFERENCE_PAIR_VALUES = (
    "gap_reference",
    "gap_reference_lower",
    "gap_reference_upper",
    "added",
    "added_lower",
    "added_upper",
)
#: Published columns of the perfect-risk reference's pairs.
REFERENCE_PAIR_COLUMNS: tuple[str, ...] = (
    "dimension",
    "group",
    "versus",
    "gap_model",
    "gap_model_lower",
    "gap_model_upper",
    *_REFERENCE_PAIR_VALUES,
)


def reference_text(
    rows: pl.DataFrame,
    dimension: Dimension | None,
    *,
    top: str,
    said: Mapping[str, Any] | None = None,
    ref: str = "@sec-fairness-chance",
) -> str:
    """One dimension's largest model gap against its reference group, beside the perfect-risk
    model's at the same capacity, and the part the model adds. '' without a published gap.

    ``rows``: the dimension's published reference gaps, only of groups large enough to compare
    (the page keeps the groups of :func:`chance_text`'s pairs: 20 cases or more).
    Each interval is given for the size of its difference (turned round when it is negative).
    ``said``: the pair :func:`chosen_pair` picked for the section ``ref``, which has already set it
    against the perfect-risk model: when the gap here is between the same two groups it is not
    given again, with other numbers, but pointed at.
    """
    shown = rows.filter(
        pl.col("gap_model").is_not_null()
        & pl.col("gap_reference").is_not_null()
        & pl.col("added").is_not_null()
    )
    if shown.is_empty():
        return ""
    row = shown.sort(pl.col("gap_model").abs(), descending=True).row(0, named=True)
    a, b = label_name(dimension, row["group_label"]), label_name(dimension, row["reference_label"])
    label = lower_first(str(row["dimension_label"]))
    if said is not None and {said["group"], said["versus"]} == {row["group"], row["reference"]}:
        return (
            f"By {label}, the largest gap against the reference group ({b}) is the pair already set against the "
            f"perfect-risk model in {ref}. "
        )
    model, ref_gap, added = row["gap_model"], row["gap_reference"], row["added"]
    within = row["added_lower"] <= 0 <= row["added_upper"]
    return (
        f"By {label}, against the reference group ({b}), the model finds a share of cases {pp(abs(model))} "
        f"{'higher' if model >= 0 else 'lower'} {in_group(a)} than {in_group(b)} "
        f"({_ci(row['gap_model_lower'], row['gap_model_upper'], sign=model)}, for this pair alone). "
        "A model that "
        f"knew each "
        f"person's true risk, flagging the same top {top}, would find a share {pp(abs(ref_gap))} "
        f"{'higher' if ref_gap >= 0 else 'lower'} "
        f"({_ci(row['gap_reference_lower'], row['gap_reference_upper'], sign=ref_gap)}): "
        f"that is what the groups' different risks give. Against that reference the model finds "
        f"{pp(abs(added))} {'more' if added >= 0 else 'fewer'} of the cases {in_group(a)}, relative to {b} "
        f"({_ci(row['added_lower'], row['added_upper'], sign=added)})"
        + ("; within what chance alone gives. " if within else ": the part the model itself adds. ")
    )
