"""The numbers behind the five headline findings of the welcome page.

Two steps, with the publication step between them (the welcome page,
:mod:`healthgap.pages.welcome`, does that step and words the findings):

1. :func:`headline_tables` picks what each finding is about -- the dimension
   compared, its two groups, the conditions, the treatment indicator, the
   outcome -- and computes the *exact* aggregates (:class:`HeadlineTables`);
2. after each table is published (:func:`healthgap.disclosure.publish` with
   :meth:`HeadlineTables.counts` and :meth:`HeadlineTables.recompute`, which
   computes the simple statistics from the counts as published),
   :func:`headline_numbers` reads the numbers of each finding from the published
   tables (:class:`Finding`): a finding the data cannot support, or whose group
   is too small to publish, is not available, with the reason.

The comparison is along the *headline dimension*: the first ordered dimension
with a disadvantaged end (deprivation in the default book: its most against its
least deprived fifth), else the first other dimension with two levels (the
level that is not the reference against the reference, e.g. men against
women). No headline names the highest or lowest of many groups: both groups
compared are fixed in advance by the config, never picked from the data, so no
allowance for multiple comparisons is needed (an unordered dimension of more
than two groups, such as ethnic group, is never the headline dimension; the
"Where to act" page ranks such gaps with simultaneous intervals). The slope index uses the first ordered dimension with a disadvantaged
end and enough levels (:data:`MIN_GRADIENT_LEVELS`). The findings:

1. ``prevalence_gap`` - age-standardised recorded prevalence of hypertension
   (or the first condition) in the two groups; with true status, its true
   prevalence too (``true_prevalence``), so that a recorded gradient flatter
   than the true one is read as under-recording, not as equal disease.
2. ``slope`` - the slope index of inequality for coronary heart disease (or the
   next condition) across the ordered dimension.
3. ``underdiagnosis`` - the share of people who truly have hypertension (or the
   first condition) who are recorded (needs true status); otherwise the
   observed/expected ratio of recorded cases in the two groups.
4. ``treatment_gap`` - the first treatment indicator (``section: treatment``;
   the statin indicator of the CVD profile) in the two groups.
5. ``outcome_ratio`` - the ratio of the age-standardised rates of emergency CVD
   admissions (or the first outcome) in the two groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

import polars as pl

from healthgap.config import Config, Dimension, Indicator
from healthgap.contract import TRUTH_PREFIX
from healthgap.descriptive._common import LEVEL, dimensions_in, frame_of, level_expr, measure_names
from healthgap.descriptive.prevalence import MIN_GRADIENT_LEVELS
from healthgap.engine import shared

__all__ = [
    "Finding",
    "Headlines",
    "HeadlineTables",
    "headline_tables",
    "headline_numbers",
    "headline_dimension",
    "gradient_dimension",
    "ends_of",
    "KEYS",
    "DETECTION",
    "OBSERVED_EXPECTED",
    "MIN_GRADIENT_LEVELS",
    "NO_DIMENSION",
    "NO_GRADIENT",
    "NO_CONDITIONS",
    "TOO_FEW",
    "LEVEL_SUPPRESSED",
    "NO_TREATMENT",
    "NO_OUTCOMES",
    "NO_EXPECTED",
]

#: The findings' keys, in report order.
KEYS = ("prevalence_gap", "slope", "underdiagnosis", "treatment_gap", "outcome_ratio")
#: ``values["measure"]`` of the under-diagnosis finding.
DETECTION = "detection"
OBSERVED_EXPECTED = "observed/expected"

# Why a finding is not available (``Finding.reason``).
#: No dimension to compare two groups along (no ordered dimension with a disadvantaged end,
#: no two-level dimension).
NO_DIMENSION = "no dimension"
#: No ordered dimension with a disadvantaged end and enough levels for a slope index.
NO_GRADIENT = "no gradient"
#: The dataset has none of the configured conditions.
NO_CONDITIONS = "no conditions"
#: One of the two groups compared is too small to publish.
TOO_FEW = "too few"
#: A level's count is suppressed, so the slope index is not published.
LEVEL_SUPPRESSED = "level suppressed"
#: No treatment indicator can be computed on this dataset.
NO_TREATMENT = "no treatment"
#: The dataset has none of the configured outcomes.
NO_OUTCOMES = "no outcomes"
#: Neither true status nor sex (expected cases are by age and sex), so no under-diagnosis measure.
NO_EXPECTED = "no expected"

#: The count columns of each kind of table.
_COUNTS: dict[str, tuple[str, ...]] = {
    "prevalence": ("events", "population"),
    "true_prevalence": ("events", "population"),
    DETECTION: ("recorded", "affected"),
    OBSERVED_EXPECTED: ("observed", "population"),
    "treatment": ("treated", "eligible"),
    "outcome_pair": ("events", "population"),
    "outcome_excess": ("numerator", "denominator", "reference_numerator", "reference_denominator"),
}

F = TypeVar("F")


@dataclass(frozen=True)
class Finding:
    """The numbers of one headline finding.

    Attributes
    ----------
    key : which finding (one of :data:`KEYS`).
    values : the numbers behind it, from published tables, and what it is about
        (``condition``, ``outcome``, ``indicator``, ``measure``, ``dimension``, the
        levels ``most_level`` and ``least_level``); see :func:`headline_numbers`.
    available : whether the data allowed the finding to be published.
    reason : why it is not available (``NO_DIMENSION``, ``TOO_FEW``, ...), else None.
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
    """What each finding is about and the exact aggregates behind it.

    Attributes
    ----------
    dimension : the headline dimension (:func:`headline_dimension`), or None.
    most, least : the two levels compared (:func:`ends_of`; None without a dimension).
    gradient : the dimension of the slope index (:func:`gradient_dimension`), or None.
    first, second : the conditions of findings 1 and 2 (None without conditions).
    access_condition : the condition of finding 3.
    access_measure : :data:`DETECTION` (with true status) or :data:`OBSERVED_EXPECTED`.
    indicator : the treatment indicator of finding 4, or None.
    treatment_problem : why no treatment indicator can be computed, or None.
    absent : the indicator's optional columns the data lack (counted as false).
    outcome : the outcome of finding 5.
    seed : random seed of the slope index's simulated interval.
    tables : exact aggregates by name (``prevalence``, ``true_prevalence`` (the first
        condition's true status, where the data has it), ``access``, ``treatment``,
        ``outcome_pair``); only the non-empty ones.
    """

    dimension: Dimension | None = None
    most: str | None = None
    least: str | None = None
    gradient: Dimension | None = None
    first: str | None = None
    second: str | None = None
    access_condition: str | None = None
    access_measure: str | None = None
    indicator: Indicator | None = None
    treatment_problem: str | None = None
    absent: tuple[str, ...] = ()
    outcome: str | None = None
    seed: int = 2024
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    base: int = 1

    def counts(self, name: str) -> list[str]:
        """The count columns of table ``name`` (to publish it)."""
        return list(_COUNTS[self._kind(name)])

    def recompute(self, name: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        """The ``recompute`` of table ``name``: its simple statistics from the counts as published (rule 8)."""
        from healthgap.descriptive.access import recompute_ratios, recompute_shares
        from healthgap.descriptive.prevalence import dsr_ratio_statistics, recompute_rates
        from healthgap.descriptive.priorities import recompute_priorities

        recomputes: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
            "prevalence": partial(recompute_rates, multiplier=100),
            "true_prevalence": partial(recompute_rates, multiplier=100),
            DETECTION: partial(recompute_shares, numerator="recorded", denominator="affected"),
            OBSERVED_EXPECTED: partial(
                recompute_ratios, events="observed", population="expected", multiplier=1
            ),
            "treatment": partial(recompute_shares, numerator="treated", denominator="eligible"),
            "outcome_pair": partial(dsr_ratio_statistics, level=self.most or "", reference=self.least or ""),
            "outcome_excess": partial(recompute_priorities, base=self.base),
        }
        return recomputes[self._kind(name)]

    def _kind(self, name: str) -> str:
        return (self.access_measure if name == "access" else name) or name


def headline_dimension(dimensions: Sequence[Dimension]) -> Dimension | None:
    """The dimension the headlines compare two groups along, or None.

    The first ordered dimension with a disadvantaged end (most against least
    disadvantaged); else the first other dimension of exactly two levels, age bands
    aside (the level that is not the reference against the reference).
    """
    ordered = next((d for d in dimensions if d.ordered and d.disadvantaged and len(d.order) >= 2), None)
    if ordered is not None:
        return ordered
    return next((d for d in dimensions if d.name != "age_band" and len(d.order) == 2 and d.reference), None)


def gradient_dimension(dimensions: Sequence[Dimension]) -> Dimension | None:
    """The first ordered dimension with a disadvantaged end and enough levels for a slope index."""
    return next(
        (d for d in dimensions if d.ordered and d.disadvantaged and len(d.order) >= MIN_GRADIENT_LEVELS),
        None,
    )


def ends_of(dimension: Dimension) -> tuple[str, str]:
    """The two levels a headline compares: (most, least) disadvantaged, or (other, reference)."""
    order = dimension.order
    if dimension.ordered and dimension.disadvantaged and len(order) >= 2:
        return (order[0], order[-1]) if dimension.disadvantaged == "first" else (order[-1], order[0])
    other = next((level for level in order if level != dimension.reference), order[0] if order else "")
    return other, dimension.reference


def _pick(preferred: str, available: Sequence[str]) -> str | None:
    if preferred in available:
        return preferred
    return available[0] if available else None


def _treatment_indicator(
    lf: pl.LazyFrame, config: Config
) -> tuple[Indicator | None, str | None, tuple[str, ...]]:
    """The first computable treatment indicator (the statin one first) and its optional columns the
    data lack (treated as false), or the reason there is none."""
    from healthgap.sql import indicator_columns

    schema = lf.collect_schema()
    candidates = sorted(
        (i for i in config.indicators if i.section == "treatment" and i.kind == "proportion"),
        key=lambda i: i.name != "statin",
    )
    problem = None
    for indicator in candidates:
        compiled = indicator_columns(indicator, schema)
        if not isinstance(compiled, str):
            return indicator, None, compiled.absent
        problem = problem or compiled
    return None, problem, ()


def _treatment(lf: pl.LazyFrame, indicator: Indicator, dimension: Dimension) -> pl.DataFrame:
    """The indicator's exact counts by level of ``dimension``: ``level``, ``treated``, ``eligible``."""
    from healthgap.sql import indicator_counts

    counts = indicator_counts(
        lf.with_columns(level_expr(dimension.name).alias(LEVEL)), indicator, by=(LEVEL,)
    )
    if isinstance(counts, str):
        return pl.DataFrame()
    return counts.filter(pl.col(LEVEL).is_not_null()).select(
        pl.lit(dimension.name).alias("dimension"),
        LEVEL,
        pl.col("numerator").alias("treated"),
        pl.col("denominator").alias("eligible"),
        *(pl.lit(None, dtype=pl.Float64).alias(c) for c in ("value", "lower_ci", "upper_ci")),
        pl.lit(None, dtype=pl.String).alias("note"),
    )  # the share and its interval: recompute_shares, from the counts as published


def _outcome_pair(
    lf: pl.LazyFrame, config: Config, outcome: str, dimension: Dimension, levels: tuple[str, str]
) -> pl.DataFrame:
    from healthgap.descriptive.outcomes import outcome_rates
    from healthgap.descriptive.prevalence import dsr_ratio_rows

    rates = outcome_rates(lf, config, outcomes=[outcome], dimensions=[dimension.name])
    if rates.is_empty():
        return rates
    return dsr_ratio_rows(rates, measure=outcome, level=levels[0], reference=levels[1])


def _true_prevalence(lf: pl.LazyFrame, config: Config, condition: str, dimension: Dimension) -> pl.DataFrame:
    """The condition's true prevalence by ``dimension``, standardised as the recorded one is:
    :func:`~healthgap.descriptive.prevalence.prevalence` of the true status, among the people
    with a recorded status (the recorded prevalence's population)."""
    from healthgap.descriptive.prevalence import prevalence

    truly = (
        pl.when(pl.col(condition).is_not_null())
        .then(pl.col(f"{TRUTH_PREFIX}{condition}").fill_null(False))
        .alias(condition)
    )
    return prevalence(lf.with_columns(truly), config, conditions=[condition], dimensions=[dimension.name])


def _outcome_excess(
    lf: pl.LazyFrame,
    config: Config,
    outcome: str,
    dimension: Dimension,
    levels: tuple[str, str],
    *,
    base: int = 1,
) -> pl.DataFrame:
    """The outcome's excess events in the first group over those expected at the second group's
    rates for each age band and sex (:func:`~healthgap.descriptive.priorities.priorities`, one
    row), or an empty frame (the second group is not the priorities' reference)."""
    from healthgap.descriptive.priorities import priorities, reference_of

    if reference_of(dimension) != levels[1]:
        return pl.DataFrame()
    gaps = priorities(lf, config, dimensions=[dimension.name], measures=[outcome], base=base)
    row = gaps.filter((pl.col("measure") == outcome) & (pl.col("level") == levels[0]))
    return row.with_columns(pl.lit(1, dtype=pl.Int64).alias("comparisons"))


@shared
def headline_tables(people: pl.LazyFrame | pl.DataFrame, config: Config) -> HeadlineTables:
    """The exact aggregates behind the five findings (publish each before :func:`headline_numbers`).

    Parameters
    ----------
    people : the canonical person table.
    config : the loaded config (dimensions, conditions, indicators, outcomes, seed).

    Returns
    -------
    HeadlineTables
    """
    from healthgap.descriptive.access import detection, observed_expected
    from healthgap.descriptive.prevalence import prevalence

    lf = frame_of(people)
    present = lf.collect_schema().names()
    dims = dimensions_in(config, lf)
    dim = headline_dimension(dims)
    grad = gradient_dimension(dims)
    conds = [c for c in measure_names(config, "condition") if c in present]
    first = _pick("hypertension", conds)
    second = _pick("chd", [c for c in conds if c != first] or conds)
    indicator, problem, absent = _treatment_indicator(lf, config)
    outcome = _pick("cvd_admissions", [o for o in measure_names(config, "outcome") if o in present])
    if dim is None:
        return HeadlineTables(
            gradient=grad,
            first=first,
            second=second,
            indicator=indicator,
            treatment_problem=problem,
            absent=absent,
            outcome=outcome,
            seed=config.seed,
        )
    most, least = ends_of(dim)
    # expected counts from randomly rounded reference stratum counts, published rounded
    base = config.disclosure.rounding if config.disclosure.enabled else 1
    wanted = [c for c in dict.fromkeys([first, second]) if c is not None]
    tables: dict[str, pl.DataFrame] = {}
    if wanted:
        names = list(dict.fromkeys([dim.name, *([grad.name] if grad else [])]))
        tables["prevalence"] = prevalence(lf, config, conditions=wanted, dimensions=names)
    if first is not None and f"{TRUTH_PREFIX}{first}" in present:
        tables["true_prevalence"] = _true_prevalence(lf, config, first, dim)
    access = first
    measure = None
    if access is not None:
        tables["access"] = detection(lf, config, conditions=[access], dimensions=[dim.name])
        measure = DETECTION
        if tables["access"].is_empty() and "sex" in present:
            tables["access"] = observed_expected(lf, config, conditions=[access], dimensions=[dim.name])
            measure = OBSERVED_EXPECTED
        elif tables["access"].is_empty():
            measure = None
    if indicator is not None:
        tables["treatment"] = _treatment(lf, indicator, dim)
    if outcome is not None:
        tables["outcome_pair"] = _outcome_pair(lf, config, outcome, dim, (most, least))
        tables["outcome_excess"] = _outcome_excess(lf, config, outcome, dim, (most, least), base=base)
    return HeadlineTables(
        dimension=dim,
        most=most,
        least=least,
        gradient=grad,
        first=first,
        second=second,
        access_condition=access,
        access_measure=measure,
        indicator=indicator,
        treatment_problem=problem,
        absent=absent,
        outcome=outcome,
        seed=config.seed,
        tables={k: v for k, v in tables.items() if not v.is_empty()},
        base=base,
    )


def _rows(table: pl.DataFrame | None, **eq: str) -> dict[str, dict[str, Any]]:
    """The rows of ``table`` (matching ``eq``) by level."""
    if table is None or table.is_empty():
        return {}
    return {str(r[LEVEL]): r for r in table.filter(**eq).iter_rows(named=True)}


def _pair(
    table: pl.DataFrame | None, most: str, least: str, **eq: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The rows of the two groups in a published table, or None if either has no value."""
    rows = _rows(table, **eq)
    a, b = rows.get(most), rows.get(least)
    if a is None or b is None or a["value"] is None or b["value"] is None:
        return None
    return a, b


def _unavailable(key: str, reason: str, **values: Any) -> Finding:
    return Finding(key, dict(values), available=False, reason=reason)


def _about(t: HeadlineTables) -> dict[str, Any]:
    """What every finding along the headline dimension is about."""
    return {"dimension": t.dimension, "most_level": t.most, "least_level": t.least}


def _ratio_of(a: dict[str, Any], b: dict[str, Any], *, by_ratio: bool) -> tuple[float | None, bool]:
    """The ratio of two published rates and whether they clearly differ: the rate ratio's
    interval excludes 1 (``by_ratio``), else the two intervals do not overlap."""
    ratio = a["value"] / b["value"] if b["value"] else None
    lo, hi = a.get("rr_lower"), a.get("rr_upper")
    if by_ratio and lo is not None and hi is not None:
        return ratio, bool(lo > 1 or hi < 1)
    return ratio, bool(a["lower_ci"] > b["upper_ci"] or a["upper_ci"] < b["lower_ci"])


def _truth_of(t: HeadlineTables, published: pl.DataFrame | None, *, by_ratio: bool) -> dict[str, Any]:
    """The true prevalence's values of finding 1 (empty without truth or when a group is suppressed)."""
    if published is None or t.first is None or t.most is None or t.least is None:
        return {}
    pair = _pair(published, t.most, t.least, measure=t.first)
    if pair is None:
        return {}
    a, b = pair
    ratio, clear = _ratio_of(a, b, by_ratio=by_ratio and a.get("rr_lower") is not None)
    return {
        "true_most": a["value"],
        "true_least": b["value"],
        "true_ratio": ratio,
        "true_rr_lower": a.get("rr_lower"),
        "true_rr_upper": a.get("rr_upper"),
        "true_clear": clear,
    }


def _prevalence_gap(
    t: HeadlineTables, published: pl.DataFrame | None, truth: pl.DataFrame | None = None
) -> Finding:
    key = "prevalence_gap"
    if t.first is None or t.most is None or t.least is None or t.dimension is None:
        return _unavailable(key, NO_CONDITIONS, **_about(t))
    rows = None if published is None else published.filter(pl.col("dimension") == t.dimension.name)
    pair = _pair(rows, t.most, t.least, measure=t.first)
    if pair is None:
        return _unavailable(key, TOO_FEW, condition=t.first, **_about(t))
    a, b = pair
    gap = a["value"] - b["value"]
    lo, hi = a.get("rr_lower"), a.get("rr_upper")
    by_ratio = t.least == t.dimension.reference and lo is not None and hi is not None
    # a real difference: the rate ratio's interval excludes 1 (else the two intervals do not overlap)
    ratio, clear = _ratio_of(a, b, by_ratio=by_ratio)
    true = _truth_of(t, truth, by_ratio=by_ratio)
    # the recorded gradient understates the true one: the true rate ratio clearly differs from 1
    # and the recorded one's interval lies wholly on the near side of the true one's
    understated = bool(
        true
        and true["true_clear"]
        and by_ratio
        and true["true_rr_lower"] is not None
        and (
            (true["true_ratio"] > 1 and hi < true["true_rr_lower"])
            or (true["true_ratio"] < 1 and lo > true["true_rr_upper"])
        )
    )
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
            **true,
            "understated": understated,
            **_about(t),
        },
    )


def _slope(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    from healthgap.descriptive.prevalence import gradient

    key = "slope"
    about = {"dimension": t.gradient}
    if t.gradient is None:
        return _unavailable(key, NO_GRADIENT, **about)
    if t.second is None or published is None:
        return _unavailable(key, NO_CONDITIONS, **about)
    rows = published.filter(pl.col("measure") == t.second)
    shown = rows.filter(pl.col("population") > 0)  # populations and limits as published (rule 8)
    g = gradient(shown, dimension=t.gradient, seed=t.seed, published=rows) if rows.height else pl.DataFrame()
    if g.is_empty() or g.get_column("sii").item(0) is None:
        return _unavailable(key, LEVEL_SUPPRESSED, condition=t.second, **about)
    r = g.row(0, named=True)
    return Finding(
        key,
        {
            "condition": t.second,
            "sii": r["sii"],
            "sii_lower": r["sii_lower"],
            "sii_upper": r["sii_upper"],
            "rii": r["rii"],
            **about,
        },
    )


def _underdiagnosis(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    key = "underdiagnosis"
    if t.access_condition is None or t.most is None or t.least is None:
        return _unavailable(key, NO_CONDITIONS, **_about(t))
    if t.access_measure is None:
        return _unavailable(key, NO_EXPECTED, condition=t.access_condition, **_about(t))
    pair = _pair(published, t.most, t.least)
    if pair is None:
        return _unavailable(key, TOO_FEW, condition=t.access_condition, measure=t.access_measure, **_about(t))
    a, b = pair
    values = {
        "condition": t.access_condition,
        "most": a["value"],
        "least": b["value"],
        "gap": a["value"] - b["value"],
        "measure": t.access_measure,
        **_about(t),
    }
    values |= {
        "most_lower": a["lower_ci"],
        "most_upper": a["upper_ci"],
        "least_lower": b["lower_ci"],
        "least_upper": b["upper_ci"],
    }
    if t.access_measure == DETECTION:
        lower, upper = _difference_interval(a, b)
        affected = a.get("affected")
        values |= {
            "gap_lower": None if lower is None else -upper,  # type: ignore[operator]
            "gap_upper": None if upper is None else -lower,  # type: ignore[operator]
            "affected": affected,
            "people": None if affected is None else affected * (b["value"] - a["value"]) / 100,
            "people_lower": None if affected is None or lower is None else affected * lower / 100,
            "people_upper": None if affected is None or upper is None else affected * upper / 100,
        }
    return Finding(key, values)


def _under_recorded(finding: Finding) -> bool:
    """Whether the under-diagnosis finding shows the condition clearly less often recorded among
    the truly affected in the more disadvantaged group (detection intervals not overlapping)."""
    v = finding.values
    return bool(
        finding.available
        and v.get("measure") == DETECTION
        and v.get("most_upper") is not None
        and v.get("least_lower") is not None
        and v["most_upper"] < v["least_lower"]
    )


def _difference_interval(a: dict[str, Any], b: dict[str, Any]) -> tuple[float | None, float | None]:
    """Newcombe's hybrid score interval (method 10) of ``b``'s share minus ``a``'s, in percentage
    points, from the two published shares and their Wilson limits (%)."""
    if any(r.get(c) is None for r in (a, b) for c in ("lower_ci", "upper_ci")):
        return None, None
    d = b["value"] - a["value"]
    lower = d - ((b["value"] - b["lower_ci"]) ** 2 + (a["upper_ci"] - a["value"]) ** 2) ** 0.5
    upper = d + ((b["upper_ci"] - b["value"]) ** 2 + (a["value"] - a["lower_ci"]) ** 2) ** 0.5
    return lower, upper


def _treatment_gap(t: HeadlineTables, published: pl.DataFrame | None) -> Finding:
    key = "treatment_gap"
    if t.indicator is None or t.most is None or t.least is None:
        return _unavailable(key, NO_TREATMENT, problem=t.treatment_problem, **_about(t))
    pair = _pair(published, t.most, t.least)
    if pair is None:
        return _unavailable(key, TOO_FEW, indicator=t.indicator, **_about(t))
    a, b = pair
    lower, upper = _difference_interval(a, b)
    eligible = a.get("eligible")
    people = None if eligible is None else eligible * (b["value"] - a["value"]) / 100
    return Finding(
        key,
        {
            "indicator": t.indicator,
            "absent": t.absent,
            "most": a["value"],
            "least": b["value"],
            "gap": b["value"] - a["value"],
            "gap_lower": lower,
            "gap_upper": upper,
            "eligible": eligible,
            "people": people,
            "people_lower": None if eligible is None or lower is None else eligible * lower / 100,
            "people_upper": None if eligible is None or upper is None else eligible * upper / 100,
            **_about(t),
        },
    )


def _outcome_ratio(
    t: HeadlineTables, published: pl.DataFrame | None, excess: pl.DataFrame | None = None
) -> Finding:
    key = "outcome_ratio"
    if t.outcome is None or t.most is None:
        return _unavailable(key, NO_OUTCOMES, **_about(t))
    rr = _rows(published).get(t.most)
    if rr is None or rr["value"] is None or rr["lower_ci"] is None:
        return _unavailable(key, TOO_FEW, outcome=t.outcome, **_about(t))
    extra = excess.row(0, named=True) if excess is not None and excess.height == 1 else {}
    return Finding(
        key,
        {
            "outcome": t.outcome,
            "ratio": rr["value"],
            "lower": rr["lower_ci"],
            "upper": rr["upper_ci"],
            "excess": extra.get("excess"),
            "excess_lower": extra.get("excess_lower"),
            "excess_upper": extra.get("excess_upper"),
            "counted": extra.get("counted"),
            "strata": "age band"
            if t.dimension is not None and t.dimension.name == "sex"
            else "age band and sex",
            **_about(t),
        },
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
        The values of each finding, besides ``dimension``, ``most_level`` and
        ``least_level``: ``prevalence_gap`` -- ``condition``, ``most``, ``least``
        (DSR, %), ``gap``, ``ratio``, ``clear`` (the rate ratio's interval, or else
        the two intervals, exclude no difference), ``by_ratio``, ``rr_lower``,
        ``rr_upper``, with truth ``true_most``, ``true_least``, ``true_ratio``,
        ``true_rr_lower``, ``true_rr_upper``, ``true_clear`` (the true prevalence, the same
        way), ``understated`` (the true ratio clearly differs from 1 and the recorded
        one's interval lies wholly nearer 1 than the true one's) and, when understated,
        ``under_recorded`` (the under-diagnosis finding shows the condition clearly less
        often recorded in the first group); ``slope`` -- ``dimension`` (the gradient's), ``condition``,
        ``sii``, ``sii_lower``, ``sii_upper``, ``rii``; ``underdiagnosis`` --
        ``condition``, ``measure``, ``most``, ``least``, ``gap``, ``most_lower``
        ... ``least_upper``, and for detection ``gap_lower``, ``gap_upper`` (Newcombe's
        interval of most minus least), ``affected`` (the first group's published truly
        affected), ``people`` (how many more of them would be recorded at the second
        group's rate), ``people_lower``, ``people_upper``; ``treatment_gap`` --
        ``indicator``, ``absent`` (its optional columns the data lack), ``most``,
        ``least`` (%), ``gap`` (least minus most), ``gap_lower``, ``gap_upper`` (Newcombe's
        interval of the gap), ``eligible`` (the first group's published denominator),
        ``people`` (how many more of them would be treated at the second group's rate:
        eligible x gap), ``people_lower``, ``people_upper``;
        ``outcome_ratio`` -- ``outcome``, ``ratio``, ``lower``, ``upper``, ``excess``,
        ``excess_lower``, ``excess_upper`` (events in the first group over those expected at
        the second group's rates for each of ``strata``; None when not published), ``counted``
        (whether the excess counts ``"events"`` or ``"people"``).

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    .. [2] Low A, Low A (2004). J Public Health 26:388-395 (slope index of inequality).
    """
    slope = _slope(tables, published.get("prevalence"))
    if tables.dimension is None:
        return Headlines(
            _unavailable("prevalence_gap", NO_DIMENSION),
            slope,
            _unavailable("underdiagnosis", NO_DIMENSION),
            _unavailable("treatment_gap", NO_DIMENSION),
            _unavailable("outcome_ratio", NO_DIMENSION),
        )
    prevalence_gap = _prevalence_gap(tables, published.get("prevalence"), published.get("true_prevalence"))
    underdiagnosis = _underdiagnosis(tables, published.get("access"))
    if prevalence_gap.available and prevalence_gap.values.get("understated"):
        prevalence_gap = Finding(
            prevalence_gap.key,
            {**prevalence_gap.values, "under_recorded": _under_recorded(underdiagnosis)},
        )
    return Headlines(
        prevalence_gap,
        slope,
        underdiagnosis,
        _treatment_gap(tables, published.get("treatment")),
        _outcome_ratio(tables, published.get("outcome_pair"), published.get("outcome_excess")),
    )
