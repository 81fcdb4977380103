"""The five headline findings, computed from the data and written as sentences.

Each :class:`Finding` has the numbers (``values``) and a plain-English
sentence (``text``) that the welcome page shows with inline Python, so no
number in the summary is typed by hand. The numbers come from disclosure-
protected tables: a group with too few people to publish gives a sentence
saying so instead of a number.

1. ``prevalence_gap`` - age-standardised recorded prevalence of hypertension
   (or the first configured condition) in the most versus least deprived fifth.
2. ``slope`` - the slope index of inequality for coronary heart disease (or the
   next configured condition) across deprivation quintiles.
3. ``underdiagnosis`` - the share of people who truly have hypertension who are
   recorded, most versus least deprived (needs true status); otherwise the
   observed/expected ratio of recorded cases in the most deprived fifth.
4. ``treatment_gap`` - statin prescribing among the eligible, most versus least
   deprived.
5. ``outcome_ratio`` - the rate ratio of age-standardised emergency CVD
   admissions (or deaths), most versus least deprived.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from healthgap.config import Config, DisclosureSettings
from healthgap.contract import CONDITION_LABELS
from healthgap.descriptive._common import LEVEL, dimensions_in, frame_of
from healthgap.text import format_number

__all__ = ["Finding", "Headlines", "headlines"]

_DIM = "imd_quintile"
_NA = "{what} cannot be reported: {why}."


@dataclass(frozen=True)
class Finding:
    """One headline finding.

    Attributes
    ----------
    key : short identifier.
    title : a few words naming the finding.
    text : the sentence shown in the report.
    values : the numbers behind the sentence (None when not available).
    available : whether the data allowed the finding to be computed.
    """

    key: str
    title: str
    text: str
    values: dict[str, float | str | None] = field(default_factory=dict)
    available: bool = True

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Headlines:
    """The five findings, in report order (iterate, or use the attributes)."""

    prevalence_gap: Finding
    slope: Finding
    underdiagnosis: Finding
    treatment_gap: Finding
    outcome_ratio: Finding

    def __iter__(self) -> Iterator[Finding]:
        yield from (
            self.prevalence_gap,
            self.slope,
            self.underdiagnosis,
            self.treatment_gap,
            self.outcome_ratio,
        )

    def markdown(self) -> str:
        """The findings as a numbered Markdown list."""
        return "\n".join(f"{i}. **{f.title}.** {f.text}" for i, f in enumerate(self, start=1))


def _num(x: float | None, dp: int = 1) -> str:
    return format_number(x, dp=dp)


def _times(ratio: float) -> str:
    """'1.84 times' for a ratio: two decimal places, as its confidence interval has."""
    return f"{_num(ratio, 2)} times"


def _ends(dim_levels: tuple[str, ...]) -> tuple[str, str]:
    return dim_levels[0], dim_levels[-1]


def _protected(
    df: pl.DataFrame, counts: list[str], derived: list[str], settings: DisclosureSettings
) -> pl.DataFrame:
    from healthgap.disclosure import protect

    # ratios against the reference level go when its count is suppressed (disclosure rule 7)
    relative = [
        c for c in ("rate_ratio", "rr_lower", "rr_upper") if c in df.columns and "is_reference" in df.columns
    ]
    return protect(
        df,
        counts=counts,
        derived={c: derived for c in counts},
        settings=settings,
        reference="is_reference" if relative else None,
        relative=relative,
    )


def _published_pair(
    df: pl.DataFrame,
    counts: list[str],
    derived: list[str],
    settings: DisclosureSettings,
    most: str,
    least: str,
) -> tuple[dict, dict] | None:
    """The most and least deprived rows after disclosure control, or None if either has no value."""
    return _pair(_protected(df, counts, derived, settings), most, least)


def _pair(df: pl.DataFrame, most: str, least: str) -> tuple[dict, dict] | None:
    rows = {r[LEVEL]: r for r in df.iter_rows(named=True)}
    a, b = rows.get(most), rows.get(least)
    if a is None or b is None or a["value"] is None or b["value"] is None:
        return None
    return a, b


def _pick(preferred: str, available: list[str]) -> str | None:
    if preferred in available:
        return preferred
    return available[0] if available else None


def headlines(people: pl.LazyFrame | pl.DataFrame, config: Config) -> Headlines:
    """Compute the five headline findings.

    Parameters
    ----------
    people : the canonical person table.
    config : the loaded config (deprivation dimension, conditions, disclosure settings).

    Returns
    -------
    Headlines

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    .. [2] Low A, Low A (2004). J Public Health 26:388-395 (slope index of inequality).
    .. [3] Government Analysis Function (2021). Writing about statistics.
    """
    from healthgap.descriptive.access import detection, observed_expected, treatment
    from healthgap.descriptive.outcomes import OUTCOME_LABELS, outcome_rates
    from healthgap.descriptive.prevalence import gradient, prevalence

    lf = frame_of(people)
    present = lf.collect_schema().names()
    settings = config.disclosure
    dims = {d.name: d for d in dimensions_in(config, lf)}
    conds = [c for c in config.conditions if c in present]
    if _DIM not in dims:
        why = "the dataset has no deprivation (IMD) column"
        na = [
            Finding(k, t, _NA.format(what=t, why=why), available=False)
            for k, t in (
                ("prevalence_gap", "Recorded disease and deprivation"),
                ("slope", "Slope index of inequality"),
                ("underdiagnosis", "Under-diagnosis"),
                ("treatment_gap", "Treatment gap"),
                ("outcome_ratio", "Emergency admissions"),
            )
        ]
        return Headlines(*na)
    dim = dims[_DIM]
    most, least = _ends(dim.order)
    first = _pick("hypertension", conds)
    second = _pick("chd", [c for c in conds if c != first] or conds)
    wanted = [c for c in dict.fromkeys([first, second, "hypertension"]) if c in conds]
    prev = prevalence(lf, config, conditions=wanted, dimensions=[_DIM]) if wanted else pl.DataFrame()

    # 1. prevalence gap
    title = "Recorded disease and deprivation"
    f1 = Finding(
        "prevalence_gap", title, _NA.format(what=title, why="the dataset has no conditions"), available=False
    )
    if first is not None:
        pair = _published_pair(
            prev.filter(pl.col("measure") == first),
            ["events", "population"],
            ["value", "lower_ci", "upper_ci", "crude"],
            settings,
            most,
            least,
        )
        name = CONDITION_LABELS[first]
        if pair is None:
            f1 = Finding(
                "prevalence_gap",
                title,
                _NA.format(what=f"The deprivation gap in {name.lower()}", why="too few people in a group"),
                available=False,
            )
        else:
            a, b = pair
            gap = a["value"] - b["value"]
            ratio = a["value"] / b["value"] if b["value"] else None
            more = "higher" if gap > 0 else "lower"
            lo, hi = a.get("rr_lower"), a.get("rr_upper")
            by_ratio = least == dim.reference and lo is not None and hi is not None
            # a real difference: the rate ratio's interval excludes 1 (else the two intervals do not overlap)
            clear = (
                (lo > 1 or hi < 1)
                if by_ratio
                else (a["lower_ci"] > b["upper_ci"] or a["upper_ci"] < b["lower_ci"])
            )
            start = (
                f"After allowing for differences in age, recorded {name.lower()} was "
                f"{_num(a['value'])}% in the most deprived fifth of the population and "
                f"{_num(b['value'])}% in the least deprived fifth"
            )
            if clear:
                text = (
                    start
                    + f": {_num(abs(gap))} percentage points {more}"
                    + (f" ({_num(ratio, 2)} times the rate)." if ratio else ".")
                )
            else:
                text = (
                    start
                    + ": no clear difference"
                    + (
                        f" (rate ratio {_num(ratio, 2)}, 95% CI {_num(lo, 2)} to {_num(hi, 2)})."
                        if by_ratio and ratio
                        else " (their 95% confidence intervals overlap)."
                    )
                )
            f1 = Finding(
                "prevalence_gap",
                title,
                text,
                {
                    "condition": first,
                    "most": a["value"],
                    "least": b["value"],
                    "gap": gap,
                    "ratio": ratio,
                    "clear": clear,
                },
            )

    # 2. slope index of inequality
    title = "Slope index of inequality"
    f2 = Finding("slope", title, _NA.format(what=title, why="the dataset has no conditions"), available=False)
    if second is not None:
        rows = _protected(
            prev.filter(pl.col("measure") == second),
            ["events", "population"],
            ["value", "lower_ci", "upper_ci", "crude"],
            settings,
        )
        unrounded = prev.filter((pl.col("measure") == second) & (pl.col("population") > 0))
        g = gradient(unrounded, seed=config.seed, published=rows) if rows.height else pl.DataFrame()
        name = CONDITION_LABELS[second]
        if g.is_empty() or g.get_column("sii").item(0) is None:
            f2 = Finding(
                "slope",
                title,
                _NA.format(
                    what=f"The slope index of inequality for {name.lower()}",
                    why="a deprivation fifth has too few cases",
                ),
                available=False,
            )
        else:
            r = g.row(0, named=True)
            direction = "more deprived" if r["sii"] < 0 else "less deprived"
            text = (
                f"Across the whole deprivation gradient, age-standardised recorded {name.lower()} "
                f"is {_num(abs(r['sii']), 2)} percentage points higher in {direction} areas "
                f"(slope index of inequality {_num(r['sii'], 2)}, 95% CI {_num(r['sii_lower'], 2)} to "
                f"{_num(r['sii_upper'], 2)}; a negative value means higher in more deprived areas)."
            )
            f2 = Finding(
                "slope",
                title,
                text,
                {
                    "condition": second,
                    "sii": r["sii"],
                    "sii_lower": r["sii_lower"],
                    "sii_upper": r["sii_upper"],
                    "rii": r["rii"],
                },
            )

    # 3. under-diagnosis
    title = "Under-diagnosis"
    cond3 = _pick("hypertension", conds)
    f3 = Finding(
        "underdiagnosis", title, _NA.format(what=title, why="the dataset has no conditions"), available=False
    )
    det = detection(lf, config, conditions=[cond3], dimensions=[_DIM]) if cond3 else pl.DataFrame()
    if cond3 and not det.is_empty():
        pair = _published_pair(
            det, ["recorded", "affected"], ["value", "lower_ci", "upper_ci"], settings, most, least
        )
        if pair is not None:
            a, b = pair
            text = (
                f"Of the people who truly have {CONDITION_LABELS[cond3].lower()}, "
                f"{_num(a['value'], 0)}% in the most deprived fifth are on a GP register, against "
                f"{_num(b['value'], 0)}% in the least deprived fifth"
                + (
                    ": the condition goes unrecorded more often in the most deprived areas."
                    if a["value"] < b["value"]
                    else "."
                )
            )
            f3 = Finding(
                "underdiagnosis",
                title,
                text,
                {
                    "condition": cond3,
                    "most": a["value"],
                    "least": b["value"],
                    "gap": a["value"] - b["value"],
                    "measure": "detection",
                },
            )
    elif cond3:
        oe = observed_expected(lf, config, conditions=[cond3], dimensions=[_DIM])
        pair = _published_pair(
            oe, ["observed", "population"], ["value", "lower_ci", "upper_ci"], settings, most, least
        )
        if pair is not None:
            a, b = pair

            def ci(r: dict) -> str:
                return (
                    ""
                    if r["lower_ci"] is None
                    else f", 95% CI {_num(r['lower_ci'], 2)} to {_num(r['upper_ci'], 2)}"
                )

            def differs(r: dict) -> bool:
                return r["lower_ci"] is not None and (r["lower_ci"] > 1 or r["upper_ci"] < 1)

            text = (
                f"The most deprived fifth has {_num(a['value'], 2)} times the number of recorded "
                f"{CONDITION_LABELS[cond3].lower()} cases expected from its age and sex{ci(a)} (least deprived "
                f"fifth: {_num(b['value'], 2)}{ci(b)})"
                + (
                    ". Neither differs clearly from what age and sex would predict."
                    if not differs(a) and not differs(b)
                    else "."
                )
                + " Without data on true disease status this cannot separate more disease from better or worse "
                "diagnosis."
            )
            f3 = Finding(
                "underdiagnosis",
                title,
                text,
                {
                    "condition": cond3,
                    "most": a["value"],
                    "least": b["value"],
                    "gap": a["value"] - b["value"],
                    "measure": "observed/expected",
                },
            )

    # 4. statin gap
    title = "Treatment gap"
    tr = treatment(lf, config, measures=("statin",), dimensions=[_DIM])
    f4 = Finding(
        "treatment_gap",
        title,
        _NA.format(what=title, why="the dataset has no statin prescribing"),
        available=False,
    )
    if not tr.is_empty():
        pair = _published_pair(
            tr, ["treated", "eligible"], ["value", "lower_ci", "upper_ci"], settings, most, least
        )
        if pair is not None:
            a, b = pair
            gap = b["value"] - a["value"]
            text = (
                f"Among people who should be offered a statin, {_num(a['value'], 0)}% in the most deprived "
                f"fifth were prescribed one, against {_num(b['value'], 0)}% in the least deprived fifth "
                f"(a gap of {_num(abs(gap))} percentage points)."
            )
            label = str(a.get("measure_label") or "")
            if "only)" in label:
                text += f" Eligibility was judged from {label[label.index('recorded') : -1]}, the conditions this dataset has."
            f4 = Finding("treatment_gap", title, text, {"most": a["value"], "least": b["value"], "gap": gap})

    # 5. outcome rate ratio
    outcomes = [o for o in config.outcomes if o in present]
    chosen = _pick("cvd_admissions", outcomes)
    title = OUTCOME_LABELS.get(chosen or "", "Outcomes")
    f5 = Finding(
        "outcome_ratio",
        title,
        _NA.format(what="Outcomes", why="the dataset has no outcome columns"),
        available=False,
    )
    if chosen:
        out = outcome_rates(lf, config, outcomes=[chosen], dimensions=[_DIM])
        rows = _protected(
            out,
            ["events", "population"],
            ["value", "lower_ci", "upper_ci", "rate_ratio", "rr_lower", "rr_upper"],
            settings,
        )
        rr = {r[LEVEL]: r for r in rows.iter_rows(named=True)}.get(most)
        if rr is not None and rr["rate_ratio"] is not None and least == dim.reference:
            what = (
                "an emergency admission for heart or circulatory disease"
                if chosen == "cvd_admissions"
                else "death from heart or circulatory disease"
            )
            text = (
                f"After allowing for age, people in the most deprived fifth had {_times(rr['rate_ratio'])} "
                f"the rate of {what} of people in the least deprived fifth (95% CI "
                f"{_num(rr['rr_lower'], 2)} to {_num(rr['rr_upper'], 2)})."
            )
            f5 = Finding(
                "outcome_ratio",
                title,
                text,
                {
                    "outcome": chosen,
                    "ratio": rr["rate_ratio"],
                    "lower": rr["rr_lower"],
                    "upper": rr["rr_upper"],
                },
            )
    return Headlines(f1, f2, f3, f4, f5)
