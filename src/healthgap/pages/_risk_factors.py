"""Sentences of the risk-factor section of the recorded-disease page.

Each reads the published frame of one risk factor and one dimension:

- an ordered dimension with a disadvantaged end (deprivation): the two ends, pre-specified,
  with the rate ratio (shares) or the difference (means) and its interval;
- any other dimension: the highest and the lowest group, and whether each stands apart from
  every other group with 95% intervals that hold for all the pairs of groups together
  (:func:`healthgap.stats.extremes`, max statistic): naming the extreme of k groups is k(k-1)/2
  chances to look different.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from scipy.special import ndtri

from healthgap.config import Dimension
from healthgap.descriptive import LEVEL
from healthgap.pages.sentences import fmt, group_name
from healthgap.text import capitalise

__all__ = ["ends_sentence", "spread_sentence", "decimals", "Z95", "NO_RISK_FACTORS"]

#: The 95% normal quantile (standard errors from published 95% intervals).
Z95 = float(ndtri(0.975))
#: The skip note's reason when the data has no risk factor.
NO_RISK_FACTORS = "risk factor columns (such as smoking status or body mass index)"


def decimals(value: float | None) -> int:
    """Decimals of a value in a sentence: 2 below 10 (cholesterol 4.85 mmol/L), else 1."""
    return 2 if value is not None and abs(value) < 10 else 1


def _value(row: dict[str, Any], *, mean: bool, unit: str, with_ci: bool = True, dp: int = 1) -> str:
    suffix = "%" if not mean else (f" {unit}" if unit else "")
    text = fmt(row["value"], dp, suffix=suffix)
    if with_ci and row.get("lower_ci") is not None:
        text += f" (95% CI {fmt(row['lower_ci'], dp)} to {fmt(row['upper_ci'], dp)})"
    return text


def _ends(dim: Dimension) -> tuple[str, str]:
    order = dim.order
    return (order[0], order[-1]) if dim.disadvantaged == "first" else (order[-1], order[0])


def ends_sentence(frame: pl.DataFrame, dim: Dimension, *, what: str, mean: bool, unit: str = "") -> str:
    """The most against the least disadvantaged end of ``dim`` (a pre-specified comparison).

    Parameters
    ----------
    frame : the published rows of one risk factor and ``dim`` (``level``, ``label``,
        ``value``, ``lower_ci``, ``upper_ci``; shares also ``rate_ratio``, ``rr_lower``,
        ``rr_upper``, ``is_reference``).
    what : the risk factor in a sentence ("age-standardised current smoking among adults").
    mean : a mean (the difference is stated) rather than a share (the rate ratio).
    unit : the unit of a mean ("kg/m²").
    """
    most, least = _ends(dim)
    rows = {r[LEVEL]: r for r in frame.iter_rows(named=True)}
    hi, lo = rows.get(most), rows.get(least)
    if hi is None or lo is None or hi["value"] is None or lo["value"] is None:
        return f"{capitalise(what)} cannot be published for both ends of {dim.label.lower()}."
    hi_name, lo_name = group_name(hi, dims=[dim]), group_name(lo, dims=[dim])
    dp = decimals(lo["value"]) if mean else 1
    text = (
        f"{capitalise(what)} is {_value(hi, mean=mean, unit=unit, dp=dp)} in {hi_name} against "
        f"{_value(lo, mean=mean, unit=unit, dp=dp)} in {lo_name}"
    )
    if mean:
        d = hi["value"] - lo["value"]
        se = (((hi["upper_ci"] - hi["lower_ci"]) ** 2 + (lo["upper_ci"] - lo["lower_ci"]) ** 2) ** 0.5) / (
            2 * Z95
        )
        low, high = d - Z95 * se, d + Z95 * se
        sign = "higher" if d > 0 else "lower"
        text += (
            f": {fmt(abs(d), dp)}{' ' + unit if unit else ''} {sign} at the more disadvantaged end "
            f"(95% CI of the difference {fmt(d - Z95 * se if d > 0 else -(d + Z95 * se), dp)} to "
            f"{fmt(d + Z95 * se if d > 0 else -(d - Z95 * se), dp)})"
        )
        chance = low <= 0 <= high
    elif lo.get("is_reference") and hi.get("rr_lower") is not None:
        text += (
            f": a rate ratio of {fmt(hi['rate_ratio'], 2)} (95% CI {fmt(hi['rr_lower'], 2)} to "
            f"{fmt(hi['rr_upper'], 2)})"
        )
        chance = hi["rr_lower"] <= 1 <= hi["rr_upper"]
    else:
        chance = not (hi["lower_ci"] > lo["upper_ci"] or hi["upper_ci"] < lo["lower_ci"])
    return text + ("; the difference could be due to chance." if chance else ".")


def spread_sentence(
    frame: pl.DataFrame, dim: Dimension, *, what: str, mean: bool, unit: str = "", seed: int = 2024
) -> str:
    """The highest and lowest group of ``dim`` and whether each stands apart, with simultaneous intervals.

    Standard errors come from the published 95% intervals ((upper - lower) / 2z); the
    pairwise max-statistic intervals of :func:`healthgap.stats.extremes` hold for every pair of
    the k groups together.
    """
    from healthgap.stats import extremes

    shown = frame.filter(pl.col("value").is_not_null() & pl.col("lower_ci").is_not_null())
    noun = dim.noun or dim.label.lower()
    if shown.height < 2:
        return f"{capitalise(what)} cannot be published for two or more groups by {noun}."
    est = shown.select(
        pl.col(LEVEL).cast(pl.String),
        pl.col("value").alias("estimate"),
        ((pl.col("upper_ci") - pl.col("lower_ci")) / (2 * Z95)).alias("std_error"),
    )
    ends = extremes(est, group=LEVEL, estimate="estimate", std_error="std_error", seed=seed)
    rows = {r[LEVEL]: r for r in shown.iter_rows(named=True)}
    hi_end, lo_end = ends.row(0, named=True), ends.row(1, named=True)
    hi, lo = rows[hi_end["group"]], rows[lo_end["group"]]
    name = lambda r: group_name(r, dims=[dim])  # noqa: E731
    dp = decimals(shown.select(pl.col("value").cast(pl.Float64).min()).item()) if mean else 1
    k = shown.height
    if k == 2:
        text = (
            f"By {noun}, {what} is {_value(hi, mean=mean, unit=unit, with_ci=False, dp=dp)} in {name(hi)} and "
            f"{_value(lo, mean=mean, unit=unit, with_ci=False, dp=dp)} in {name(lo)}"
        )
        apart = bool(hi_end["stands_apart"])
        return text + ("." if apart else "; the difference could be due to chance.")
    text = (
        f"By {noun}, {what} is highest in {name(hi)} ({_value(hi, mean=mean, unit=unit, with_ci=False, dp=dp)}) "
        f"and lowest in {name(lo)} ({_value(lo, mean=mean, unit=unit, with_ci=False, dp=dp)}). With 95% intervals for "
        f"{what} that hold for all {k} groups together, "
    )
    parts = []
    for end, word in ((hi_end, "highest"), (lo_end, "lowest")):
        who = name(rows[end["group"]])
        if end["stands_apart"]:
            plural = who.startswith(("people", "women", "men"))
            parts.append(f"{who} {'differ' if plural else 'differs'} from every other group")
        else:
            nearest = name(rows[end["nearest"]])
            parts.append(f"{who} could be level with {nearest} (the {word} could be chance)")
    return text + " and ".join(parts) + "."
