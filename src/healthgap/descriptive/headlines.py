"""The numbers behind the five headline findings of the welcome page.

Two steps, with the publication step between them (the welcome page,
:mod:`healthgap.pages.welcome`, does that step and words the findings):

1. :func:`headline_tables` picks what each finding is about (the conditions,
   the outcome, detection or observed/expected) and computes the *exact*
   aggregates by deprivation fifth (:class:`HeadlineTables`);
2. after each table is published (:func:`healthgap.disclosure.publish` with
   :meth:`HeadlineTables.counts` and :meth:`HeadlineTables.recompute`, which
   computes the simple statistics from the counts as published),
   :func:`headline_numbers` reads the numbers of each finding from the published
   tables (:class:`Finding`): a group with too few people to publish gives a
   finding that is not available, with the reason.

The findings:

1. ``prevalence_gap`` - age-standardised recorded prevalence of hypertension
   (or the first configured condition) in the most versus least deprived fifth.
2. ``slope`` - the slope index of inequality for coronary heart disease (or the
   next configured condition) across deprivation quintiles.
3. ``underdiagnosis`` - the share of people who truly have hypertension who are
   recorded, most versus least deprived (needs true status); otherwise the
   observed/expected ratio of recorded cases in the most and least deprived fifths.
4. ``treatment_gap`` - statin prescribing among the eligible, most versus least
   deprived.
5. ``outcome_ratio`` - the rate ratio of age-standardised emergency CVD
   admissions (or deaths), most versus least deprived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

import polars as pl

from healthgap.config import Config
from healthgap.descriptive._common import LEVEL, dimensions_in, frame_of

__all__ = [
    "Finding",
    "Headlines",
    "HeadlineTables",
    "headline_tables",
    "headline_numbers",
    "DIMENSION",
    "KEYS",
    "DETECTION",
    "OBSERVED_EXPECTED",
    "NO_DEPRIVATION",
    "NO_CONDITIONS",
    "TOO_FEW",
    "FIFTH_SUPPRESSED",
    "NO_STATIN",
    "NO_OUTCOMES",
    "NO_REFERENCE",
]

#: The dimension every finding compares across.
DIMENSION = "imd_quintile"
#: The findings' keys, in report order.
KEYS = ("prevalence_gap", "slope", "underdiagnosis", "treatment_gap", "outcome_ratio")
#: ``values["measure"]`` of the under-diagnosis finding.
DETECTION = "detection"
OBSERVED_EXPECTED = "observed/expected"

# Why a finding is not available (``Finding.reason``).
#: The dataset has no deprivation (IMD) column.
NO_DEPRIVATION = "no deprivation"
#: The dataset has none of the configured conditions.
NO_CONDITIONS = "no conditions"
#: The most or least deprived fifth is too small to publish.
TOO_FEW = "too few"
#: A deprivation fifth's count is suppressed, so the slope index is not published.
FIFTH_SUPPRESSED = "fifth suppressed"
#: The dataset cannot say who is eligible for or prescribed a statin.
NO_STATIN = "no statin"
#: The dataset has none of the configured outcomes.
NO_OUTCOMES = "no outcomes"
#: The least deprived fifth is not the config's reference group, so there is no rate ratio against it.
NO_REFERENCE = "least deprived is not the reference"

#: The count columns of each kind of table.
_COUNTS: dict[str, tuple[str, ...]] = {
    "prevalence": ("events", "population"),
    DETECTION: ("recorded", "affected"),
    OBSERVED_EXPECTED: ("observed", "population"),
    "treatment": ("treated", "eligible"),
    "outcomes": ("events", "population"),
}

F = TypeVar("F")


@dataclass(frozen=True)
class Finding:
    """The numbers of one headline finding.

    Attributes
    ----------
    key : which finding (one of :data:`KEYS`).
    values : the numbers behind it, from published tables, and what it is about
        (``condition``, ``outcome``, ``measure``); see :func:`headline_numbers`.
    available : whether the data allowed the finding to be published.
    reason : why it is not available (``NO_DEPRIVATION``, ``TOO_FEW``, ...), else None.
    """

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    available: bool = True
    reason: str | None = None


@dataclass(frozen=True)
class Headlines(Generic[F]):
    """The five findings, in report order (iterate, or use the attributes)."""

    prevalence_gap: F
    slope: F
    underdiagnosis: F
    treatment_gap: F
    outcome_ratio: F

    def __iter__(self) -> Iterator[F]:
        yield from (
            self.prevalence_gap,
            self.slope,
            self.underdiagnosis,
            self.treatment_gap,
            self.outcome_ratio,
        )


@dataclass(frozen=True)
class HeadlineTables:
    """What each finding is about and the exact aggregates behind it, by deprivation fifth.

    Attributes
    ----------
    most, least : the most and least deprived levels (None without the dimension).
    reference : the dimension's reference level (rate ratios are against it).
    first, second : the conditions of findings 1 and 2 (None without conditions).
    access_condition : the condition of finding 3.
    access_measure : :data:`DETECTION` (with true status) or :data:`OBSERVED_EXPECTED`.
    outcome : the outcome of finding 5.
    seed : random seed of the slope index's simulated interval.
    tables : exact aggregates by name (``prevalence``, ``access``, ``treatment``,
        ``outcomes``); only the non-empty ones.
    """

    most: str | None = None
    least: str | None = None
    reference: str | None = None
    first: str | None = None
    second: str | None = None
    access_condition: str | None = None
    access_measure: str | None = None
    outcome: str | None = None
    seed: int = 2024
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    def counts(self, name: str) -> list[str]:
        """The count columns of table ``name`` (to publish it)."""
        return list(_COUNTS[self._kind(name)])

    def recompute(self, name: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        """The ``recompute`` of table ``name``: its simple statistics from the counts as published (rule 8)."""
        from healthgap.descriptive.access import recompute_ratios, recompute_shares
        from healthgap.descriptive.outcomes import PER
        from healthgap.descriptive.prevalence import recompute_rates

        recomputes: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
            "prevalence": partial(recompute_rates, multiplier=100),
            DETECTION: partial(recompute_shares, numerator="recorded", denominator="affected"),
            OBSERVED_EXPECTED: partial(
                recompute_ratios, events="observed", population="expected", multiplier=1
            ),
            "treatment": partial(recompute_shares, numerator="treated", denominator="eligible"),
            "outcomes": partial(recompute_rates, multiplier=PER),
        }
        return recomputes[self._kind(name)]

    def _kind(self, name: str) -> str:
        return (self.access_measure if name == "access" else name) or name


def _pick(preferred: str, available: list[str]) -> str | None:
    if preferred in available:
        return preferred
    return available[0] if available else None


def headline_tables(people: pl.LazyFrame | pl.DataFrame, config: Config) -> HeadlineTables:
    """The exact aggregates behind the five findings (publish each before :func:`headline_numbers`).

    Parameters
    ----------
    people : the canonical person table.
    config : the loaded config (deprivation dimension, conditions, outcomes, seed).

    Returns
    -------
    HeadlineTables
    """
    from healthgap.descriptive.access import detection, observed_expected, treatment
    from healthgap.descriptive.outcomes import outcome_rates
    from healthgap.descriptive.prevalence import prevalence

    lf = frame_of(people)
    present = lf.collect_schema().names()
    dim = next((d for d in dimensions_in(config, lf) if d.name == DIMENSION), None)
    if dim is None:
        return HeadlineTables(seed=config.seed)
    conds = [c for c in config.conditions if c in present]
    first = _pick("hypertension", conds)
    second = _pick("chd", [c for c in conds if c != first] or conds)
    wanted = [c for c in dict.fromkeys([first, second]) if c is not None]
    tables: dict[str, pl.DataFrame] = {}
    if wanted:
        tables["prevalence"] = prevalence(lf, config, conditions=wanted, dimensions=[DIMENSION])
    access = _pick("hypertension", conds)
    measure = None
    if access is not None:
        tables["access"] = detection(lf, config, conditions=[access], dimensions=[DIMENSION])
        measure = DETECTION
        if tables["access"].is_empty():
            tables["access"] = observed_expected(lf, config, conditions=[access], dimensions=[DIMENSION])
            measure = OBSERVED_EXPECTED
    tables["treatment"] = treatment(lf, config, measures=("statin",), dimensions=[DIMENSION])
    outcome = _pick("cvd_admissions", [o for o in config.outcomes if o in present])
    if outcome is not None:
        tables["outcomes"] = outcome_rates(lf, config, outcomes=[outcome], dimensions=[DIMENSION])
    return HeadlineTables(
        most=dim.order[0],
        least=dim.order[-1],
        reference=dim.reference,
        first=first,
        second=second,
        access_condition=access,
        access_measure=measure,
        outcome=outcome,
        seed=config.seed,
        tables={k: v for k, v in tables.items() if not v.is_empty()},
    )


def _rows(table: pl.DataFrame | None, **eq: str) -> dict[str, dict[str, Any]]:
    """The rows of ``table`` (matching ``eq``) by level."""
    if table is None or table.is_empty():
        return {}
    return {str(r[LEVEL]): r for r in table.filter(**eq).iter_rows(named=True)}


def _pair(
    table: pl.DataFrame | None, most: str, least: str, **eq: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The most and least deprived rows of a published table, or None if either has no value."""
    rows = _rows(table, **eq)
    a, b = rows.get(most), rows.get(least)
    if a is None or b is None or a["value"] is None or b["value"] is None:
        return None
    return a, b


def _unavailable(key: str, reason: str, **values: Any) -> Finding:
    return Finding(key, dict(values), available=False, reason=reason)


def _prevalence_gap(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    key = "prevalence_gap"
    if t.first is None or t.most is None or t.least is None:
        return _unavailable(key, NO_CONDITIONS)
    pair = _pair(published, t.most, t.least, measure=t.first)
    if pair is None:
        return _unavailable(key, TOO_FEW, condition=t.first)
    a, b = pair
    gap = a["value"] - b["value"]
    ratio = a["value"] / b["value"] if b["value"] else None
    lo, hi = a.get("rr_lower"), a.get("rr_upper")
    by_ratio = t.least == t.reference and lo is not None and hi is not None
    # a real difference: the rate ratio's interval excludes 1 (else the two intervals do not overlap)
    if lo is not None and hi is not None and by_ratio:
        clear = bool(lo > 1 or hi < 1)
    else:
        clear = bool(a["lower_ci"] > b["upper_ci"] or a["upper_ci"] < b["lower_ci"])
    return Finding(
        key,
        {
            "condition": t.first,
            "most": a["value"],
            "least": b["value"],
            "gap": gap,
            "ratio": ratio,
            "clear": clear,
            "by_ratio": by_ratio,
            "rr_lower": lo,
            "rr_upper": hi,
        },
    )


def _slope(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    from healthgap.descriptive.prevalence import gradient

    key = "slope"
    if t.second is None or published is None:
        return _unavailable(key, NO_CONDITIONS)
    rows = published.filter(pl.col("measure") == t.second)
    shown = rows.filter(pl.col("population") > 0)  # populations and limits as published (rule 8)
    g = gradient(shown, seed=t.seed, published=rows) if rows.height else pl.DataFrame()
    if g.is_empty() or g.get_column("sii").item(0) is None:
        return _unavailable(key, FIFTH_SUPPRESSED, condition=t.second)
    r = g.row(0, named=True)
    return Finding(
        key,
        {
            "condition": t.second,
            "sii": r["sii"],
            "sii_lower": r["sii_lower"],
            "sii_upper": r["sii_upper"],
            "rii": r["rii"],
        },
    )


def _underdiagnosis(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    key = "underdiagnosis"
    if t.access_condition is None or t.most is None or t.least is None:
        return _unavailable(key, NO_CONDITIONS)
    pair = _pair(published, t.most, t.least)
    if pair is None:
        return _unavailable(key, TOO_FEW, condition=t.access_condition, measure=t.access_measure)
    a, b = pair
    values = {
        "condition": t.access_condition,
        "most": a["value"],
        "least": b["value"],
        "gap": a["value"] - b["value"],
        "measure": t.access_measure,
    }
    if t.access_measure == OBSERVED_EXPECTED:
        values |= {
            "most_lower": a["lower_ci"],
            "most_upper": a["upper_ci"],
            "least_lower": b["lower_ci"],
            "least_upper": b["upper_ci"],
        }
    return Finding(key, values)


def _treatment_gap(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    key = "treatment_gap"
    if t.most is None or t.least is None or "treatment" not in t.tables:
        return _unavailable(key, NO_STATIN)
    pair = _pair(published, t.most, t.least)
    if pair is None:
        return _unavailable(key, TOO_FEW)
    a, b = pair
    return Finding(
        key,
        {
            "most": a["value"],
            "least": b["value"],
            "gap": b["value"] - a["value"],
            "measure_label": a.get("measure_label"),
        },
    )


def _outcome_ratio(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    key = "outcome_ratio"
    if t.outcome is None or t.most is None:
        return _unavailable(key, NO_OUTCOMES)
    if t.least != t.reference:
        return _unavailable(key, NO_REFERENCE, outcome=t.outcome)
    rr = _rows(published).get(t.most)
    if rr is None or rr["rate_ratio"] is None:
        return _unavailable(key, TOO_FEW, outcome=t.outcome)
    return Finding(
        key,
        {"outcome": t.outcome, "ratio": rr["rate_ratio"], "lower": rr["rr_lower"], "upper": rr["rr_upper"]},
    )


def headline_numbers(tables: HeadlineTables, published: Mapping[str, pl.DataFrame]) -> Headlines[Finding]:
    """The numbers of the five findings, read from the published tables.

    Parameters
    ----------
    tables : from :func:`headline_tables`.
    published : each of ``tables.tables`` after the publication step (the
        ``frame`` of :func:`healthgap.disclosure.publish` with
        ``counts=tables.counts(name)`` and ``recompute=tables.recompute(name)``),
        by the same name.

    Returns
    -------
    Headlines[Finding]
        The values of each finding: ``prevalence_gap`` -- ``condition``, ``most``,
        ``least`` (DSR, %), ``gap``, ``ratio``, ``clear`` (the rate ratio's interval,
        or else the two intervals, exclude no difference), ``by_ratio``, ``rr_lower``,
        ``rr_upper``; ``slope`` -- ``condition``, ``sii``, ``sii_lower``, ``sii_upper``,
        ``rii``; ``underdiagnosis`` -- ``condition``, ``measure``, ``most``, ``least``,
        ``gap`` (and ``most_lower`` ... ``least_upper`` for observed/expected);
        ``treatment_gap`` -- ``most``, ``least`` (%), ``gap`` (least minus most),
        ``measure_label``; ``outcome_ratio`` -- ``outcome``, ``ratio``, ``lower``, ``upper``.

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    .. [2] Low A, Low A (2004). J Public Health 26:388-395 (slope index of inequality).
    """
    if tables.most is None:
        return Headlines(*(_unavailable(k, NO_DEPRIVATION) for k in KEYS))
    return Headlines(
        _prevalence_gap(tables, published.get("prevalence")),
        _slope(tables, published.get("prevalence")),
        _underdiagnosis(tables, published.get("access")),
        _treatment_gap(tables, published.get("treatment")),
        _outcome_ratio(tables, published.get("outcomes")),
    )
