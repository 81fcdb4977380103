"""Label bias by counterfactual labels and mitigation at capacity: what the fairness page publishes and says.

The analyses (:func:`healthgap.fairness.counterfactual_labels`,
:func:`healthgap.fairness.mitigate_at_capacity`) return exact counts and shares with
bootstrap intervals. Their shares and gaps are published as computed from the exact
data, rounded to 0.1 percentage point, and **without any count**: a share published to
0.1 point beside its rounded counts would give the exact counts back. A share whose
numerator is a count of 1 to ``suppress_below - 1`` people, or whose denominator is
below the minimum group size, is withheld with its interval (and every difference
using it). The sentences read only the published frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from healthgap.config import Dimension, DisclosureSettings
from healthgap.disclosure import published_counts
from healthgap.pages import sentences
from healthgap.pages._groups import in_group
from healthgap.text import pct, pp

__all__ = [
    "DECIMALS",
    "LABEL_SHARES",
    "LABEL_SERIES",
    "MITIGATION_SHARES",
    "label_frame",
    "label_series",
    "mitigation_frame",
    "gap_change_text",
    "counterfactual_text",
    "undiagnosed_text",
    "capacity_mitigation_text",
    "mitigation_reasons",
    "HALVES",
    "WHOLE_IN_CHAPTER",
    "WHOLE_ABOVE",
    "MITIGATION_NOTE",
]

#: Shares and gaps are published to 0.1 percentage point (proportions to 3 decimals).
DECIMALS = 3
#: The published shares of the counterfactual-label audit: name -> (numerator, denominator) counts.
LABEL_SHARES: dict[str, tuple[str, str]] = {
    "diagnosed_share": ("diagnosed", "true_cases"),
    "share_recorded": ("found_recorded", "true_cases"),
    "share_true": ("found_true", "true_cases"),
    "undiagnosed_recorded_share": ("undiagnosed_recorded", "undiagnosed"),
    "undiagnosed_true_share": ("undiagnosed_true", "undiagnosed"),
}
#: The label-bias chart's series: (variant, share column) -> the labels the model was trained on and its
#: inputs (short enough for the chart's key on a 390 px phone screen).
LABEL_SERIES: dict[tuple[str, str], str] = {
    ("all", "share_recorded"): "Recorded diagnoses, all inputs",
    ("all", "share_true"): "True condition, all inputs",
    ("without_treatments", "share_recorded"): "Recorded diagnoses, no treatments",
    ("without_treatments", "share_true"): "True condition, no treatments",
}
#: The published rates of the mitigation at capacity.
MITIGATION_SHARES: dict[str, tuple[str, str]] = {"tpr": ("found", "cases"), "share_flagged": ("flagged", "n")}


def _withheld(numerator: str, denominator: str, settings: DisclosureSettings) -> pl.Expr:
    """True where a share of ``numerator`` over ``denominator`` people may not be published."""
    if not settings.enabled:
        return pl.lit(False)
    small = (pl.col(numerator) > 0) & (pl.col(numerator) < settings.suppress_below)
    return small | (pl.col(denominator) < max(settings.min_group, settings.suppress_below))


def _guarded(
    frame: pl.DataFrame, shares: Mapping[str, tuple[str, str]], settings: DisclosureSettings
) -> pl.DataFrame:
    """Each share (and its ``_lower``/``_upper`` interval) withheld where :func:`_withheld`, rounded."""
    out = []
    for share, (num, den) in shares.items():
        hide = _withheld(num, den, settings)
        for c in (share, f"{share}_lower", f"{share}_upper"):
            if c in frame.columns:
                out.append(pl.when(hide).then(None).otherwise(pl.col(c).round(DECIMALS)).alias(c))
    return frame.with_columns(out)


def label_frame(groups: pl.DataFrame, *, settings: DisclosureSettings) -> pl.DataFrame:
    """The counterfactual-label audit as it may be published: shares, label bias and intervals,
    rounded to 0.1 point, without counts (see the module docstring).

    ``groups`` is :attr:`healthgap.fairness.CounterfactualLabels.groups`. The label bias
    of a row is withheld when either of its shares is; the share diagnosed also when the
    undiagnosed are 1 to ``suppress_below - 1`` people.
    """
    frame = groups.with_columns(
        diagnosed=pl.col("true_cases") - pl.col("undiagnosed"),
        undiagnosed_recorded_share=pl.col("undiagnosed_recorded") / pl.col("undiagnosed"),
        undiagnosed_true_share=pl.col("undiagnosed_true") / pl.col("undiagnosed"),
    ).with_columns(diagnosed_share=pl.col("diagnosed") / pl.col("true_cases"))
    guarded = _guarded(frame, LABEL_SHARES, settings).with_columns(
        pl.when(_withheld("undiagnosed", "true_cases", settings))
        .then(None)
        .otherwise(pl.col("diagnosed_share"))
        .alias("diagnosed_share")
    )
    hidden = pl.col("share_recorded").is_null() | pl.col("share_true").is_null()
    bias = [pl.when(hidden).then(None).otherwise(pl.col(c).round(DECIMALS)).alias(c) for c in _bias_columns()]
    return guarded.with_columns(bias).select(
        "variant",
        "variant_label",
        "dimension",
        "dimension_label",
        "group",
        "group_label",
        "order",
        pl.col("diagnosed_share").alias("diagnosed"),
        *[f"{s}{e}" for s in ("share_recorded", "share_true") for e in ("", "_lower", "_upper")],
        *_bias_columns(),
        "undiagnosed_recorded_share",
        "undiagnosed_true_share",
    )


def _bias_columns() -> list[str]:
    return ["label_bias", "label_bias_lower", "label_bias_upper"]


def label_series(frame: pl.DataFrame) -> pl.DataFrame:
    """The published label frame, long: one row per group and :data:`LABEL_SERIES` series
    (``statistic``, ``value``, ``lower_ci``, ``upper_ci``); no new numbers."""
    parts = [
        frame.filter(pl.col("variant") == variant).select(
            "group",
            "group_label",
            "order",
            pl.lit(name).alias("statistic"),
            pl.col(share).alias("value"),
            pl.col(f"{share}_lower").alias("lower_ci"),
            pl.col(f"{share}_upper").alias("upper_ci"),
        )
        for (variant, share), name in LABEL_SERIES.items()
    ]
    return pl.concat(parts).filter(pl.col("group") != "All")


def mitigation_frame(by_group: pl.DataFrame, *, settings: DisclosureSettings) -> pl.DataFrame:
    """The mitigation's rates by group and strategy as they may be published: the true positive
    rate with its interval and the share flagged, rounded to 0.1 point, without counts.

    The rates are computed from the counts as they would be published (rounded to the base,
    :func:`healthgap.disclosure.published_counts`), as everywhere in the book: from exact
    counts, two approaches sharing a group's number of cases left only one denominator that fits
    both rates (30 of 64 and 28 of 64)."""
    counts = [c for c in ("found", "cases", "flagged", "n") if c in by_group.columns]
    frame = published_counts(by_group, counts, settings=settings).with_columns(
        tpr=pl.when(pl.col("cases") > 0).then(pl.col("found") / pl.col("cases")),
        share_flagged=pl.col("flagged") / pl.col("n"),
    )
    return (
        _guarded(frame, MITIGATION_SHARES, settings)
        .with_columns(note=pl.when(pl.col("tpr").is_null()).then(pl.lit(MITIGATION_NOTE)))
        .select(
            "strategy",
            "strategy_label",
            "group",
            "group_label",
            "tpr",
            "tpr_lower",
            "tpr_upper",
            "share_flagged",
            "note",
        )
    )


def mitigation_reasons(by_group: pl.DataFrame, *, settings: DisclosureSettings) -> dict[str, str]:
    """Why each group's share of outcomes found is withheld in the evaluation half, naming the
    count that is too small (as :func:`mitigation_frame` decides it, on the counts as published):
    group label -> "fewer than 50 people with the outcome" or "fewer than 8 people with the
    outcome found by an approach". Groups whose shares are all published are left out."""
    if not settings.enabled:
        return {}
    least = max(settings.min_group, settings.suppress_below)
    frame = published_counts(by_group, ["found", "cases"], settings=settings).with_columns(
        few_cases=pl.col("cases") < least,
        few_found=(pl.col("found") > 0) & (pl.col("found") < settings.suppress_below),
    )
    per = frame.group_by("group_label", maintain_order=True).agg(
        pl.col("few_cases").any(), pl.col("few_found").any()
    )
    return {
        r["group_label"]: (
            f"fewer than {least} people with the outcome"
            if r["few_cases"]
            else f"fewer than {settings.suppress_below} people with the outcome found by an approach"
        )
        for r in per.filter(pl.col("few_cases") | pl.col("few_found")).iter_rows(named=True)
    }


#: The evaluation half, said before the mitigation is judged (or found impossible to judge);
#: ``{evaluation}`` is its number of people in words.
HALVES = (
    "The cut-offs are fitted on one half of the test set (validation) and judged on the other half "
    "({evaluation} people), so neither is judged on the people it was fitted on. Every share of this "
    "section, the unmitigated ones included, is of that evaluation half, so it differs by chance from the "
    "same share on the whole test set, given {whole}."
)
#: Where the whole test set's shares by group are, said from another page ({whole} of :data:`HALVES`).
WHOLE_IN_CHAPTER = "under \u201cPerformance by group\u201d in the fairness chapter"
#: The same, said on the fairness page itself (the section is above the mitigation).
WHOLE_ABOVE = "above, under \u201cPerformance by group\u201d"
#: Why a group's share of outcomes found in the evaluation half is "[x]" (the ``note`` column).
MITIGATION_NOTE = "too few people in this group in the evaluation half to publish its share of outcomes found"


def _ci(row: Mapping[str, Any], name: str) -> str:
    lo, hi = row.get(f"{name}_lower"), row.get(f"{name}_upper")
    return "" if lo is None or hi is None else f" (95% CI {pp(lo, unit=False)} to {pp(hi)})"


def _beyond(row: Mapping[str, Any] | None, name: str) -> int:
    """+1 / -1 when the interval of ``name`` lies wholly above / below 0, else 0."""
    if row is None:
        return 0
    lo, hi = row.get(f"{name}_lower"), row.get(f"{name}_upper")
    if lo is None or hi is None:
        return 0
    return 1 if lo > 0 else -1 if hi < 0 else 0


def _end(dimension: Dimension, level: str, *, most: bool) -> str:
    """How an end reads mid-sentence, as every page names it ('the most deprived fifth')."""
    del most
    return sentences.level_name(dimension, level)


def counterfactual_text(
    frame: pl.DataFrame,
    *,
    dimension: Dimension,
    ends: tuple[str, str],
    condition: str,
    top: str,
    treatments: str,
) -> str:
    """Label bias at the two ends of ``dimension``, with and without the treatment features, and the
    cause the numbers show (never empty when the frame has the two ends).

    Parameters
    ----------
    frame : the published label frame (:func:`label_frame`).
    ends : the disadvantaged and the advantaged level.
    condition : the condition, mid-sentence ("hypertension").
    top : the capacity in words ("5%").
    treatments : the treatment features in words ("statin, antihypertensive and anticoagulant"),
        or "" when the model has none.
    """

    def row(variant: str, group: str) -> dict[str, Any] | None:
        hit = frame.filter((pl.col("variant") == variant) & (pl.col("group") == group))
        return hit.row(0, named=True) if hit.height else None

    worse, better = ends
    most, least = _end(dimension, worse, most=True), _end(dimension, better, most=False)
    a, b = row("all", worse), row("all", better)
    if a is None or b is None or a["label_bias"] is None or b["label_bias"] is None:
        return (
            f"The shares of true cases of {condition} found cannot be compared between {most} and {least}: "
            "one of them is too small to publish."
        )
    parts = []
    if a["diagnosed"] is not None and b["diagnosed"] is not None:
        parts.append(
            f"In the test set, {pct(a['diagnosed'])} of people in {most} who truly have {condition} are "
            f"diagnosed, against {pct(b['diagnosed'])} in {least}."
        )
    parts.append(
        f"To separate what the label costs from what the inputs do, the same model was also trained on who "
        f"*truly* has {condition} (the same inputs, split, seed and capacity). Flagging the top {top}, the model "
        f"trained on recorded diagnoses finds {pct(a['share_recorded'])} of true cases in {most} and "
        f"{pct(b['share_recorded'])} in {least}; the model trained on the true condition finds "
        f"{pct(a['share_true'])} and {pct(b['share_true'])}. The difference (label bias: the share the "
        f"true-label model finds minus the share the recorded-label model finds) is {pp(a['label_bias'])} in "
        f"{most}{_ci(a, 'label_bias')} and {pp(b['label_bias'])} in {least}{_ci(b, 'label_bias')}."
    )
    wa, wb = row("without_treatments", worse), row("without_treatments", better)
    without = (
        wa is not None and wb is not None and wa["label_bias"] is not None and wb["label_bias"] is not None
    )
    if without and treatments:
        assert wa is not None and wb is not None
        parts.append(
            f"Without the treatment features ({treatments}), the model trained on recorded diagnoses finds "
            f"{pct(wa['share_recorded'])} and {pct(wb['share_recorded'])}, the model trained on the true "
            f"condition {pct(wa['share_true'])} and {pct(wb['share_true'])}: label bias is "
            f"{pp(wa['label_bias'])}{_ci(wa, 'label_bias')} in {most} and {pp(wb['label_bias'])}"
            f"{_ci(wb, 'label_bias')} in {least}."
        )
    parts.append(_cause(a, b, wa if without else None, wb if without else None, treatments=treatments))
    return " ".join(p for p in parts if p)


def _cause(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    wa: Mapping[str, Any] | None,
    wb: Mapping[str, Any] | None,
    *,
    treatments: str,
) -> str:
    """The cause the numbers show, in one or two sentences."""
    small_all = abs(a["label_bias"]) < 0.02 and abs(b["label_bias"]) < 0.02
    worse_without = wa is not None and _beyond(wa, "label_bias") > 0
    larger = wa is not None and wb is not None and wa["label_bias"] > wb["label_bias"]
    if treatments and small_all and worse_without:
        return (
            "So, with the prescriptions among the inputs, learning from diagnoses changes little (under 2 points "
            "at either end): a prescription follows a diagnosis, so both models rank the people already treated "
            "first, and the gap between the ends comes from those features and the small capacity, not from the "
            "label. Without the prescriptions the label itself costs true cases found"
            + (", most in the more disadvantaged group, where diagnosis is less complete." if larger else ".")
        )
    if _beyond(a, "label_bias") > 0:
        return (
            "Learning from diagnoses costs the more disadvantaged group true cases found beyond what chance alone "
            "gives: label bias."
            if a["label_bias"] > b["label_bias"]
            else "Learning from diagnoses costs true cases found beyond what chance alone gives (label bias)."
        )
    if small_all:
        return (
            "On this data, learning from diagnoses rather than from the true condition changes the true cases "
            "found by less than 2 points at either end."
        )
    return "The differences between the two models are within what chance alone gives."


def undiagnosed_text(row: Mapping[str, Any] | None, *, condition: str) -> str:
    """What each model flags of the people never diagnosed (all features), or ''."""
    if row is None:
        return ""
    rec, true = row.get("undiagnosed_recorded_share"), row.get("undiagnosed_true_share")
    if rec is None or true is None:
        return ""
    return (
        f"Of the people with {condition} who were never diagnosed, the model trained on recorded diagnoses "
        f"flags {pct(rec)} and the model trained on the true condition {pct(true)}."
    )


def gap_change_text(row: Mapping[str, Any]) -> str:
    """The change of the gap and its verdict: '22.3 points lower (95% CI ...): beyond what chance alone gives'."""
    d, lo, hi = row.get("change"), row.get("change_lower"), row.get("change_upper")
    if d is None:
        return "a change that cannot be estimated"
    verdict = (
        "beyond what chance alone gives"
        if lo is not None and hi is not None and (lo > 0 or hi < 0)
        else "within what chance alone gives"
    )
    ci = "" if lo is None or hi is None else f" (95% CI {pp(lo, unit=False)} to {pp(hi, unit=False)})"
    return f"a change of {pp(d)}{ci}: {verdict}"


def capacity_mitigation_text(
    gaps: pl.DataFrame,
    overall: pl.DataFrame,
    *,
    first: str,
    last: str,
    across: str,
    top: str,
    evaluation: str,
    withheld: tuple[str, ...] = (),
    reasons: Mapping[str, str] | None = None,
    whole: str = WHOLE_IN_CHAPTER,
) -> str:
    """The mitigation at capacity in words, from its published frames (never empty).

    Parameters
    ----------
    gaps : published gap per strategy (``gap``, ``change`` with ``_lower``/``_upper``).
    overall : published overall rates per strategy (``tpr``, ``share_flagged``).
    first, last : the groups whose gap is compared, as named in a sentence.
    across : the groups, mid-sentence ("deprivation fifths").
    evaluation : the people the mitigation is judged on, in words ("about 37,500").
    withheld : which of ``first`` and ``last`` (as named) have a share of outcomes found withheld
        by an approach; the note names only these (both when it is not known).
    reasons : group (as named) -> the count too small to publish its share
        (:func:`mitigation_reasons`); "too few people with the outcome" when not given.
    whole : where the whole test set's shares by group are given (:data:`WHOLE_IN_CHAPTER`, or
        :data:`WHOLE_ABOVE` on the fairness page itself).
    """

    def get(frame: pl.DataFrame, strategy: str) -> dict[str, Any] | None:
        hit = frame.filter(pl.col("strategy") == strategy)
        return hit.row(0, named=True) if hit.height else None

    base, eo = get(gaps, "unmitigated"), get(gaps, "equal_opportunity")
    ob, oe = get(overall, "unmitigated"), get(overall, "equal_opportunity")
    if base is None or eo is None or base["gap"] is None or eo["gap"] is None:
        small = [name for name in (first, last) if name in withheld] or [first, last]
        why = reasons or {}
        where = " and ".join(
            f"{why.get(name, 'too few people with the outcome')} {in_group(name)}" for name in small
        )
        its = "its share" if len(small) == 1 else "their shares"
        return (
            "The mitigation is fitted on one half of the test set (validation) and judged on the other half "
            f"({evaluation} people). In that evaluation half there are {where}, so {its} of outcomes found "
            f"cannot be published: the mitigation cannot be judged for {' or '.join(small)}, nor can the gap "
            f"between {first} and {last}. Shares of that half differ by chance from those of the whole test "
            f"set, given {whole}."
        )
    intro = (
        f"The mitigation gives each of the {across} its own cut-off, chosen so that every group has the same "
        f"share of outcomes found while the service still flags the top {top} overall (equal opportunity at "
        f"capacity). {HALVES.format(evaluation=evaluation, whole=whole)}"
    )
    gap = (
        f"Without mitigation, the share of outcomes found in {first} minus that in {last} is "
        f"{pp(base['gap'])}{_ci(base, 'gap')}; with it, {pp(eo['gap'])}{_ci(eo, 'gap')}, "
        f"{gap_change_text(eo)}."
    )
    cost = ""
    if ob is not None and oe is not None and None not in (ob["tpr"], oe["tpr"], oe["share_flagged"]):
        cost = (
            f" Overall it finds {pct(oe['tpr'])} of the people with the outcome (against {pct(ob['tpr'])} "
            f"without it) while flagging {pct(oe['share_flagged'])} of people."
        )
    return f"{intro} {gap}{cost}"
