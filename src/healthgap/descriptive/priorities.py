"""Where to act: every gap between a group and its reference group, in numbers of people.

For every indicator of the config and every flag or count measure of the kinds condition,
access, experience and outcome, by every equity dimension present, each group is compared
with the dimension's reference group (the least disadvantaged end of an ordered dimension
with a disadvantaged end, the dimension's ``reference`` otherwise). The gap is given as a
difference in rates and as an **absolute number**: how many people (or events, for count
measures) in the group would be different if the group had the reference group's rate.

Every gap is **standardised for age and sex** by indirect standardisation (age band only for
the sex dimension), so a gap that only reflects the groups' ages is not ranked as an
inequality (blood-pressure control among treated men and women, say): the expected count is
E = Σₛ n₁ₛ x₂ₛ / n₂ₛ (the reference group's rate in each stratum, the whole population's
where the reference group has nobody), the number is the excess O - E, with the normal
interval of variance Var(O) + Var(E): binomial for counts of people (Σₛ x₁ₛ(1 - x₁ₛ/n₁ₛ) +
Σₛ n₁ₛ² p₂ₛ(1 - p₂ₛ)/n₂ₛ), Poisson for counts of events (O + Σₛ n₁ₛ² x₂ₛ / n₂ₛ²). The rates
shown are O/n₁ and E/n₁ (the rate the group would have with the reference group's age- and
sex-specific rates).

Gaps between **age bands** cannot be standardised for age; they use the item's crude
statistic (conditions and outcomes, which are about age as much as anything, are not
compared by age band):

- ``proportion`` (indicators that are proportions, flag measures of access and experience):
  the crude difference p₁ - p₂ with Newcombe's hybrid score interval (method 10, from the
  Wilson limits of each proportion); the number is n₁ (p₁ - p₂) with the interval n₁ times
  that of the difference.
- ``rate`` (crude-rate indicators, count measures of access and experience): the
  difference of events per person x₁/n₁ - x₂/n₂ with a normal interval from Poisson
  variances (x₁/n₁² + x₂/n₂²); the number is n₁ times it (events).

Dimensions without a column of their own (``age_band``, derived from age, which the
standardisation allows for) are left out.

The gaps are ranked by the number of people worse off (direction from the indicator's
``higher_is_better``; more of a condition, an outcome or a counted event such as a missed
appointment is worse; a flag measure of access or experience has no direction). Gaps in
conditions and outcomes by sex or age band (without a disadvantaged end) stay in the frame
but are not ranked (``ranked`` false): they are mostly biological, not an inequality of care
to act on; gaps by sex in treatment, access and experience are ranked (the same need calls
for the same care). Nor is a standardised gap with fewer than :data:`MIN_EXPECTED` events (or people)
expected at the reference group's rates: too few to compare. A gap read
as "the largest" is the largest of many: every gap also has a **simultaneous** interval
(Bonferroni over all the gaps with an estimate, each at level 1 - α/m), which holds for all
of them together and so for whichever is picked.

The analysis returns exact aggregates. :func:`recompute_priorities` recomputes every rate,
gap and interval from the counts (and the expected counts), so a page publishes the frame
with ``recompute=recompute_priorities`` and the numbers follow the published counts.

References
----------
.. [1] Newcombe RG. Interval estimation for the difference between independent proportions:
   comparison of eleven methods. Stat Med 1998;17:873-890 (method 10).
.. [2] Breslow NE, Day NE. Statistical methods in cancer research, vol II. IARC; 1987
   (indirect standardisation).
.. [3] Dunn OJ. Multiple comparisons among means. J Am Stat Assoc 1961;56:52-64.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import polars as pl
from scipy.special import ndtri

from healthgap.config import Config, Dimension, sql_columns
from healthgap.descriptive._common import dimensions_in, known_levels
from healthgap.descriptive.access import only_among
from healthgap.engine import dimension_cells, shared
from healthgap.sql import indicator_columns
from healthgap.stats import age_bands

__all__ = [
    "Item",
    "priorities",
    "recompute_priorities",
    "priority_items",
    "reference_of",
    "STATISTICS",
    "KEYS",
    "COUNTS",
    "PER_PROPORTION",
    "UNRANKED_DIMENSIONS",
    "UNRANKED_SECTIONS",
    "UNRECORDED_LEVELS",
    "ranked_expr",
    "enough_expected",
    "MIN_EXPECTED",
    "PER_HEAD_KINDS",
    "RESULT_KIND",
]

Statistic = Literal["proportion", "rate", "standardised"]
#: The three statistics (see the module docstring).
STATISTICS: tuple[str, ...] = ("proportion", "rate", "standardised")
#: The key columns of a priorities frame (one row per item x dimension x group).
KEYS = ("section", "measure", "dimension", "level")
#: The count columns of a priorities frame (what a page publishes as counts).
COUNTS = ("numerator", "denominator", "reference_numerator", "reference_denominator")
#: Rates of proportions are per 100 (per cent); rates of events per 1,000 people.
PER_PROPORTION = 100.0
PER_EVENTS = 1000.0
#: Measure kinds whose flags and counts are compared (conditions and outcomes standardised).
MEASURE_KINDS = ("condition", "access", "experience", "outcome")
_STANDARDISED_KINDS = ("condition", "outcome")
#: Measure kinds left out: a flag of access (referral) per head of everyone says who is referred
#: more, not who is referred less than they need; the access chapter compares it against need.
PER_HEAD_KINDS = ("access",)
#: The measure kind whose reading in an indicator's numerator makes the indicator a result of
#: treatment (:attr:`Item.result`), not care given.
RESULT_KIND = "risk factor"
#: Dimensions whose gaps in conditions and outcomes are not ranked unless the dimension has a
#: disadvantaged end: differences by sex and age in how common a condition is, and in how often
#: it ends in admission or death, are mostly biological, not an inequality of care to act on
#: (they stay in the frame, unranked). Their gaps in treatment, access and experience are
#: ranked, standardised for age: the same need calls for the same care, so a sex gap there is an
#: inequality of care.
UNRANKED_DIMENSIONS = ("sex", "age_band")
#: The sections (measure kinds) whose gaps by :data:`UNRANKED_DIMENSIONS` are not ranked.
UNRANKED_SECTIONS = ("condition", "outcome")
#: Levels that record an unknown value, not a group of people (dimension -> levels): their
#: gaps stay in the frame but are not ranked (a low recorded rate among people whose ethnic
#: group is not recorded says who goes unrecorded, not that they need less care).
UNRECORDED_LEVELS: dict[str, tuple[str, ...]] = {"ethnicity": ("Not stated",)}
#: A standardised gap enters the ranking (and an outcome's rate ratio is named as a finding)
#: only when at least this many events (or people) are expected in the group at the reference
#: group's rates: below it a few events either way change the ratio several-fold, and the random
#: rounding that protects the reference strata's counts can move the expected count by as much
#: as its size (to 0, giving an infinite ratio). Such a gap stays in the frame, unranked.
MIN_EXPECTED = 10.0
#: Strata of the indirect standardisation.
_AGE, _SEX = "__age_band", "__sex"
#: The dimension of age bands: gaps between age bands cannot be standardised for age, so they
#: use the item's crude statistic (and conditions and outcomes are not compared by it).
AGE_DIMENSION = "age_band"


@dataclass(frozen=True)
class Item:
    """One thing compared between groups: an indicator or a measure.

    Attributes
    ----------
    name : the indicator's or measure's name (the ``measure`` column of the output).
    label : its label.
    section : the measure kind it belongs to (an indicator's ``section``).
    source : ``"indicator"`` or ``"measure"``.
    statistic : ``proportion``, ``rate`` or ``standardised``.
    counted : what the absolute number counts: ``"people"`` or ``"events"``.
    higher_is_better : True or False, or None when the item has no direction.
    multiplier : the scale of its rates (100 per cent, 1,000 people, or the indicator's).
    numerator, denominator : expressions over the person table (numerator summed, denominator
        a Boolean).
    crude : the statistic of its gaps between age bands, where age cannot be standardised
        for (``proportion`` or ``rate``; ``standardised`` for conditions, outcomes and
        age-standardised indicators, whose gaps by age band are left out).
    whom : whom its rates are per ("people", "people under 75", "people with cardiology
        referral": the people of its denominator, as the chapter behind it counts them).
    result : an indicator of a result of treatment, not of care given: its numerator reads a
        measure of kind ``risk factor`` (blood pressure below 140 mmHg among the treated). Such a
        result differs between the sexes for biological reasons too, so its gaps by sex are not
        ranked (:data:`UNRANKED_DIMENSIONS`).
    """

    name: str
    label: str
    section: str
    source: Literal["indicator", "measure"]
    statistic: Statistic
    counted: Literal["people", "events"]
    higher_is_better: bool | None
    multiplier: float
    numerator: pl.Expr
    denominator: pl.Expr
    crude: Statistic = "standardised"
    whom: str = "people"
    result: bool = False


def priority_items(config: Config, schema: pl.Schema) -> list[Item]:
    """The indicators and measures the priorities compare, in config order.

    Indicators that cannot be computed on this table (a column missing) are left out; so
    are measures the table lacks, measures of the kinds :data:`PER_HEAD_KINDS` (per head of
    everyone, not of the people who need them: referral is compared against need in the
    access chapter), and a flag measure that is an indicator's whole numerator (the indicator
    measures it among the people it applies to: one measure, one row per group). An indicator
    of kind ``age-standardised rate`` and flag or count measures of conditions and outcomes are
    standardised. A measure with :attr:`~healthgap.config.Measure.ages` counts only people of
    those ages (when the table has ``age``): premature deaths are per person under 75. An
    indicator whose numerator reads a measure of kind ``risk factor`` is a result of treatment
    (:attr:`Item.result`).
    """
    kinds = {m.name: m.kind for m in config.measures}
    items: list[Item] = []
    numerators: set[str] = set()
    for ind in config.indicators:  # config entries, not data rows
        compiled = indicator_columns(ind, schema)
        if isinstance(compiled, str):
            continue
        reads = sql_columns(ind.numerator)
        if len(reads) == 1:
            numerators.add(reads[0])
        crude: Statistic = {"proportion": "proportion", "crude rate": "rate"}.get(ind.kind, "standardised")  # type: ignore[assignment]
        items.append(
            Item(
                ind.name,
                ind.label,
                ind.section,
                "indicator",
                "standardised",
                "people" if ind.kind == "proportion" else "events",
                ind.higher_is_better,
                ind.multiplier,
                compiled.numerator.cast(pl.Int64),
                compiled.denominator,
                crude,
                result=any(kinds.get(c) == RESULT_KIND for c in reads),
            )
        )
    for kind in MEASURE_KINDS:
        for m in config.measures_of(kind):
            if m.name not in schema or m.type not in ("flag", "count"):
                continue
            if kind in PER_HEAD_KINDS or (m.type == "flag" and m.name in numerators):
                continue
            flag = m.type == "flag"
            standardised = kind in _STANDARDISED_KINDS
            counted = pl.col(m.name).is_not_null()
            whom = "people"
            if m.ages is not None and "age" in schema:  # whom it applies to (premature deaths: under 75)
                counted = counted & (pl.col("age") >= m.ages[0]) & (pl.col("age") < m.ages[1] + 1)
                whom = (
                    f"people under {m.ages[1] + 1}"
                    if m.ages[0] <= 0
                    else f"people aged {m.ages[0]} to {m.ages[1]}"
                )
            items.append(
                Item(
                    m.name,
                    m.label,
                    kind,
                    "measure",
                    "standardised",
                    "people" if flag else "events",
                    False if standardised or not flag else None,
                    PER_PROPORTION if flag and kind != "outcome" else PER_EVENTS,  # deaths per 1,000
                    pl.col(m.name).cast(pl.Int64).fill_null(0),
                    counted,
                    "standardised" if standardised else ("proportion" if flag else "rate"),
                    whom,
                )
            )
    return items


def _among(people: pl.LazyFrame, config: Config, items: Sequence[Item]) -> list[Item]:
    """``items`` with each count of access or experience whose events all happen to the people
    of an access or experience flag counted among those people (missed appointments per person
    referred), as the experience chapter counts them
    (:func:`healthgap.descriptive.access.only_among`)."""
    schema = people.collect_schema()
    flags = [
        m
        for k in ("access", "experience")
        for m in config.measures_of(k)
        if m.type == "flag" and m.name in schema
    ]
    out = []
    for item in items:  # config items, not data rows
        flag = None
        if item.source == "measure" and item.counted == "events" and item.section in ("access", "experience"):
            flag = next((f for f in flags if only_among(people, measure=item.name, flag=f.name)), None)
        if flag is None:
            out.append(item)
            continue
        out.append(
            replace(
                item,
                denominator=item.denominator & pl.col(flag.name).fill_null(False),
                whom=f"people with {flag.label[:1].lower()}{flag.label[1:]}",
            )
        )
    return out


def reference_of(dimension: Dimension) -> str:
    """The group others are compared with: the least disadvantaged end of an ordered
    dimension with a disadvantaged end, else the dimension's reference."""
    if dimension.ordered and dimension.disadvantaged and dimension.order:
        return dimension.order[-1] if dimension.disadvantaged == "first" else dimension.order[0]
    return dimension.reference


def enough_expected() -> pl.Expr:
    """Whether a gap has enough expected events to compare: not standardised, or at least
    :data:`MIN_EXPECTED` expected (a published, rounded expected count)."""
    return (pl.col("statistic") != "standardised") | (pl.col("expected").fill_null(0.0) >= MIN_EXPECTED)


def ranked_expr(dimensions: Sequence[Dimension]) -> pl.Expr:
    """Whether a gap enters the ranking: every gap but one in a condition or an outcome
    (:data:`UNRANKED_SECTIONS`) or in a result of treatment (the ``result`` column:
    :attr:`Item.result`) by a dimension of :data:`UNRANKED_DIMENSIONS` without a disadvantaged
    end, and but one of a level recording an unknown value (:data:`UNRECORDED_LEVELS`)."""
    unranked = [d.name for d in dimensions if d.name in UNRANKED_DIMENSIONS and not d.disadvantaged]
    unrecorded = pl.lit(False)
    for name, levels in UNRECORDED_LEVELS.items():  # a constant of one entry, not data
        unrecorded = unrecorded | ((pl.col("dimension") == name) & pl.col("level").is_in(list(levels)))
    biological = pl.col("section").is_in(list(UNRANKED_SECTIONS)) | pl.col("result").fill_null(False)
    return ~(biological & pl.col("dimension").is_in(unranked)) & ~unrecorded


def _cells(people: pl.LazyFrame, items: Sequence[Item], dimensions: Sequence[Dimension]) -> pl.DataFrame:
    """Numerator and denominator of every item by group x age band x sex (long), for every
    dimension: one pass over the people.

    The people are counted once into the finest cells (every dimension x age band x sex, each
    item's two counts), a table of thousands of rows; each dimension's counts are sums of those
    cells (integer counts: the same numbers as counting the people once per dimension, which took
    one pass each). A dimension's missing level is left out of its own counts only. Sex is a
    stratum of every dimension but sex itself (``"all"`` there, and when the data has no sex).
    The cells and the sums: :func:`healthgap.engine.dimension_cells`.
    """
    has_sex = "sex" in people.collect_schema()
    aggs = [
        e
        for i, item in enumerate(items)  # config items, not data rows
        for e in (
            item.numerator.filter(item.denominator).sum().cast(pl.Int64).alias(f"n{i}"),
            item.denominator.cast(pl.Int64).sum().alias(f"d{i}"),
        )
    ]
    # the sex dimension is the sex stratum (its roll-up keeps the age band only)
    strata = {"age_band": age_bands("age"), **({"sex": pl.col("sex")} if has_sex else {})}
    by_dimension = dimension_cells(
        people,
        [d.name for d in dimensions],
        cells=aggs,
        rollup=[pl.col(f"{x}{i}").sum() for i in range(len(items)) for x in ("n", "d")],
        strata=strata,
        levels=known_levels(dimensions),
    )
    out = []
    for d in dimensions:  # config dimensions, not data rows
        wide = by_dimension[d.name]
        sex = pl.col("sex") if has_sex and d.name != "sex" else pl.lit("all", dtype=pl.String)
        out += [
            wide.select(
                "level",
                pl.col("age_band").alias(_AGE),
                sex.alias(_SEX),
                pl.lit(i).alias("__item"),
                pl.col(f"n{i}").alias("numerator"),
                pl.col(f"d{i}").alias("denominator"),
                pl.lit(d.name).alias("dimension"),
            )
            for i in range(len(items))
        ]
    # in one order every run (group-by order varies): the expected counts are float sums of these
    # rows, and gaps a last bit apart would otherwise swap ranks between renders
    return pl.concat(out, how="vertical_relaxed").sort("dimension", "__item", "level", _AGE, _SEX)


#: Seeds of the random rounding of reference stratum counts (numerators, denominators).
_SEED_X, _SEED_N = 1501, 1502
_UNIT = 2**32


def _protected(count: pl.Expr, *, base: int, seed: int) -> pl.Expr:
    """A stratum count as the standardisation uses it: unbiased random rounding to a multiple
    of ``base`` (identity with ``base`` 1).

    A count x = qb + r (0 <= r < b) becomes (q + 1)b with probability r/b and qb otherwise, so
    its expectation is x: expected counts stay unbiased however small the counts are (rounding
    to the nearest multiple would turn every 1 or 2 into 0, and the rare outcomes' expected
    counts with them). The draw is a fixed function of the stratum (a hash of its keys with
    ``seed``: the dimension, the measure's name, age band and sex; never the item's place in a
    list, so every page that compares a measure along a dimension, whatever else it compares,
    rounds the same strata the same way and gives the same expected count), so a book renders
    the same twice. Small counts (1 to 7) become 0, 5 or 10: what
    the expected counts of many groups can be solved back to is those rounded counts, never
    the count itself (random rounding to base 5 is how census tables have been protected).

    References
    ----------
    .. [1] Hundepool A et al. Statistical Disclosure Control. Wiley; 2012, s. 5.3 (random
       rounding).
    """
    c = count.cast(pl.Float64)
    if base <= 1:
        return c
    u = (pl.struct("dimension", "measure", _AGE, _SEX).hash(seed=seed) % _UNIT).cast(pl.Float64) / _UNIT
    low = (c / base).floor() * base
    return low + pl.when(u < (c - low) / base).then(float(base)).otherwise(0.0)


def _expected(cells: pl.DataFrame, binomial: pl.DataFrame, *, base: int = 1) -> pl.DataFrame:
    """Expected count of every group at the reference group's stratum rates, its variance, and
    the variance of the observed count.

    The reference rates come from the reference group's (or, where it has nobody, the whole
    population's) stratum counts randomly rounded by :func:`_protected`, so whatever can be
    solved back from the expected counts of many groups sharing a reference is at most those
    rounded counts. Variances are binomial for counts of people (``binomial``: ``__item``,
    ``__binomial``), Poisson for counts of events: the observed count's Σₛ x₁ₛ(1 - x₁ₛ/n₁ₛ)
    or Σₛ x₁ₛ; the expected count's Σₛ n₁ₛ² p₂ₛ(1 - p₂ₛ)/n₂ₛ or Σₛ n₁ₛ² x₂ₛ/n₂ₛ², plus the
    rounding's, at most Σₛ n₁ₛ² (b²/4)/n₂ₛ² for base b.
    """
    stratum = ["dimension", "__item", _AGE, _SEX]
    ref = cells.filter(pl.col("__is_ref")).select(
        *stratum, pl.col("numerator").alias("__rx"), pl.col("denominator").alias("__rn")
    )
    pooled = cells.group_by(stratum).agg(
        pl.col("numerator").sum().alias("__px"), pl.col("denominator").sum().alias("__pn")
    )
    joined = (
        cells.join(ref, on=stratum, how="left")
        .join(pooled, on=stratum, how="left")
        .join(binomial, on="__item", how="left")
        .with_columns(
            _protected(pl.col("__rx").fill_null(0), base=base, seed=_SEED_X).alias("__rx"),
            _protected(pl.col("__rn").fill_null(0), base=base, seed=_SEED_N).alias("__rn"),
            _protected(pl.col("__px"), base=base, seed=_SEED_X + 10).alias("__px"),
            _protected(pl.col("__pn"), base=base, seed=_SEED_N + 10).alias("__pn"),
        )
    )
    use_ref = pl.col("__rn") > 0
    x = pl.when(use_ref).then(pl.col("__rx")).otherwise(pl.col("__px"))
    n = pl.when(use_ref).then(pl.col("__rn")).otherwise(pl.col("__pn"))
    n1 = pl.col("denominator").cast(pl.Float64)
    x1 = pl.col("numerator").cast(pl.Float64)
    people = pl.col("__binomial").fill_null(False)
    p2 = pl.when(people).then((x / n).clip(0.0, 1.0)).otherwise(x / n)
    rounding = float(base) ** 2 / 4 if base > 1 else 0.0
    with_rates = joined.with_columns(
        pl.when(n > 0).then(n1 * p2).otherwise(0.0).alias("__e"),
        pl.when(n > 0)
        .then(
            pl.when(people).then(n1**2 * p2 * (1 - p2) / n).otherwise(n1**2 * x / n**2)
            + n1**2 * rounding / n**2
        )
        .otherwise(0.0)
        .alias("__v"),
        pl.when(n1 > 0)
        .then(pl.when(people).then(x1 * (1 - x1 / n1)).otherwise(x1))
        .otherwise(0.0)
        .alias("__o"),
    )
    return with_rates.group_by("dimension", "__item", "level").agg(
        pl.col("__e").sum().alias("expected"),
        pl.col("__v").sum().alias("expected_variance"),
        pl.col("__o").sum().alias("observed_variance"),
    )


@shared
def priorities(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    dimensions: Sequence[str] | None = None,
    min_reference: int = 1,
    confidence: float = 0.95,
    base: int = 1,
    measures: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Every group's gap from its reference group, in rates and in numbers of people, ranked.

    Parameters
    ----------
    people : the loaded person table (needs ``age``; ``sex`` is used when present).
    config : the loaded config (its indicators, measures and dimensions).
    dimensions : only these dimensions (default: every one present).
    measures : only these indicators and measures (default: every one the data has).
    min_reference : leave out comparisons with a reference group of fewer people than this
        (in the item's denominator), before the gaps are counted for the simultaneous intervals.
    confidence : confidence level of each interval, and the joint level of the
        simultaneous intervals.
    base : the reference rates of the standardisation come from stratum counts randomly
        rounded to a multiple of ``base`` (unbiased; a page passes its disclosure settings'
        rounding base), so the expected counts of the groups sharing a reference cannot be
        solved back to a stratum count. Default 1: exact.

    Returns
    -------
    pl.DataFrame
        One row per item x dimension x group other than the reference: ``section``,
        ``measure``, ``label``, ``source``, ``statistic``, ``counted``, ``higher_is_better``,
        ``multiplier``, ``dimension``, ``level``, ``reference``, ``order`` (the level's place
        in the dimension), the exact counts :data:`COUNTS`, ``expected`` and
        ``expected_variance`` (standardised items; null otherwise), ``comparisons`` (m, the
        gaps in the ranking's family), then the columns of :func:`recompute_priorities`.
        Sorted by ``rank`` (people worse off, largest first; gaps without a direction last).
        Empty (with these columns) when nothing can be compared.
    """
    lf = people.lazy()
    schema = lf.collect_schema()
    items = _among(
        lf, config, [i for i in priority_items(config, schema) if measures is None or i.name in measures]
    )
    dims = [
        d
        for d in dimensions_in(config, lf, names=dimensions)
        if reference_of(d) and d.name in schema and "age" in schema
    ]
    if not items or not dims:
        return _empty(confidence)
    table = pl.DataFrame(
        {
            "__item": list(range(len(items))),
            "section": [i.section for i in items],
            "measure": [i.name for i in items],
            "label": [i.label for i in items],
            "source": [i.source for i in items],
            "statistic": [i.statistic for i in items],
            "counted": [i.counted for i in items],
            "higher_is_better": pl.Series([i.higher_is_better for i in items], dtype=pl.Boolean),
            "multiplier": pl.Series([i.multiplier for i in items], dtype=pl.Float64),
            "__crude": [i.crude for i in items],
            "whom": [i.whom for i in items],
            "result": pl.Series([i.result for i in items], dtype=pl.Boolean),
        },
        schema_overrides={"__item": pl.Int32},
    )
    refs = pl.DataFrame(
        {
            "dimension": [d.name for d in dims],
            "reference": [reference_of(d) for d in dims],
        }
    )
    orders = pl.concat(
        [
            pl.DataFrame({"dimension": [d.name] * len(d.order), "level": list(d.order)}).with_row_index(
                "order"
            )
            for d in dims
        ]
    ).with_columns(pl.col("order").cast(pl.Int64))
    cells = (
        _cells(lf, items, dims)
        .with_columns(pl.col("__item").cast(pl.Int32))
        .join(refs, on="dimension")
        .with_columns((pl.col("level") == pl.col("reference")).alias("__is_ref"))
    )
    binomial = table.select("__item", "measure", (pl.col("counted") == "people").alias("__binomial"))
    groups = cells.group_by("dimension", "__item", "level", "reference", "__is_ref").agg(
        pl.col("numerator").sum(), pl.col("denominator").sum()
    )
    reference_rows = groups.filter(pl.col("__is_ref")).select(
        "dimension",
        "__item",
        pl.col("numerator").alias("reference_numerator"),
        pl.col("denominator").alias("reference_denominator"),
    )
    out = (
        groups.filter(~pl.col("__is_ref"))
        .join(reference_rows, on=["dimension", "__item"], how="inner")
        .filter(pl.col("reference_denominator") >= min_reference)
        .join(table, on="__item")
        .join(
            _expected(cells, binomial, base=base),
            on=["dimension", "__item", "level"],
            how="left",
        )
        .join(orders, on=["dimension", "level"], how="left")
        .with_columns(
            pl.when(pl.col("dimension") == AGE_DIMENSION)
            .then(pl.col("__crude"))
            .otherwise(pl.col("statistic"))
            .alias("statistic")
        )
        .filter(~((pl.col("statistic") == "standardised") & (pl.col("dimension") == AGE_DIMENSION)))
        .with_columns(
            ranked_expr(dims).alias("ranked"),
            *(
                pl.when(pl.col("statistic") == "standardised").then(pl.col(c))
                for c in ("expected", "expected_variance", "observed_variance")
            ),
        )
    )
    if out.is_empty():
        return _empty(confidence)
    first = recompute_priorities(
        out.with_columns(pl.lit(1, dtype=pl.Int64).alias("comparisons")), confidence=confidence
    )
    m = int(first.get_column("excess").is_not_null().sum())
    ranked = recompute_priorities(
        out.with_columns(pl.lit(m, dtype=pl.Int64).alias("comparisons")), confidence=confidence
    )
    return ranked.select(_COLUMNS)


_FRONT = [
    "section",
    "measure",
    "label",
    "source",
    "statistic",
    "counted",
    "higher_is_better",
    "multiplier",
    "whom",
    "result",
    "dimension",
    "level",
    "reference",
    "order",
    *COUNTS,
    "expected",
    "expected_variance",
    "observed_variance",
    "comparisons",
    "ranked",
]
_DERIVED = [
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
    "rank",
    "confidence",
]
_COLUMNS = [*_FRONT, *_DERIVED]


def _empty(confidence: float) -> pl.DataFrame:
    schema: dict[str, Any] = {
        c: pl.String
        for c in (
            "section",
            "measure",
            "label",
            "source",
            "statistic",
            "counted",
            "dimension",
            "level",
            "reference",
            "whom",
        )
    }
    schema.update({c: pl.Int64 for c in (*COUNTS, "order", "comparisons", "rank")})
    schema.update(
        {
            c: pl.Float64
            for c in (
                "multiplier",
                "expected",
                "expected_variance",
                "observed_variance",
                *_DERIVED[:11],
                "confidence",
            )
        }
    )
    schema.update(
        {
            c: pl.Boolean
            for c in ("higher_is_better", "result", "ranked", "excludes_null", "simultaneous_excludes_null")
        }
    )
    return pl.DataFrame(schema=schema).select(_COLUMNS)


def _limits(z: pl.Expr | float, columns: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    """Lower and upper limits of the absolute number at normal quantile ``z`` (per statistic)."""
    x1, n1 = pl.col("numerator").cast(pl.Float64), pl.col("denominator").cast(pl.Float64)
    x2, n2 = pl.col("reference_numerator").cast(pl.Float64), pl.col("reference_denominator").cast(pl.Float64)
    p1, p2 = x1 / n1, x2 / n2

    def wilson(x: pl.Expr, n: pl.Expr, sign: float) -> pl.Expr:
        root = (z**2 + 4 * x * (1 - x / n)).sqrt()
        return (2 * x + z**2 + sign * z * root) / (2 * (n + z**2))

    l1, u1 = wilson(x1, n1, -1.0).clip(lower_bound=0.0), wilson(x1, n1, 1.0).clip(upper_bound=1.0)
    l2, u2 = wilson(x2, n2, -1.0).clip(lower_bound=0.0), wilson(x2, n2, 1.0).clip(upper_bound=1.0)
    d = p1 - p2
    newcombe = (
        n1 * (d - ((p1 - l1) ** 2 + (u2 - p2) ** 2).sqrt()),
        n1 * (d + ((u1 - p1) ** 2 + (p2 - l2) ** 2).sqrt()),
    )
    rate_se = n1 * (x1 / n1**2 + x2 / n2**2).sqrt()
    excess = x1 - pl.col("expected")
    observed = pl.col("observed_variance") if "observed_variance" in columns else x1
    excess_se = (observed.fill_null(x1) + pl.col("expected_variance")).sqrt()
    stat = pl.col("statistic")
    lower = (
        pl.when(stat == "proportion")
        .then(newcombe[0])
        .when(stat == "rate")
        .then(n1 * d - z * rate_se)
        .otherwise(excess - z * excess_se)
    )
    upper = (
        pl.when(stat == "proportion")
        .then(newcombe[1])
        .when(stat == "rate")
        .then(n1 * d + z * rate_se)
        .otherwise(excess + z * excess_se)
    )
    return lower, upper


def recompute_priorities(frame: pl.DataFrame, *, confidence: float = 0.95, base: int = 1) -> pl.DataFrame:
    """Every rate, gap, absolute number and interval of a priorities frame, from its counts.

    Parameters
    ----------
    frame : rows with ``statistic``, ``multiplier``, ``higher_is_better``, :data:`COUNTS`,
        ``expected`` and ``expected_variance`` (standardised rows) and ``comparisons``
        (m, for the simultaneous intervals), and optionally ``ranked`` (whether the gap enters
        the ranking; all do without it). Counts may be rounded (as published).
    confidence : the level of each interval, and the joint level of the simultaneous ones.
    base : round ``expected``, ``expected_variance`` and ``observed_variance`` to a
        multiple of this first (as a page publishes them: the disclosure rounding base), so
        every published number is computed from rounded ones.

    Returns
    -------
    pl.DataFrame
        ``frame`` with ``rate`` and ``reference_rate`` (per ``multiplier``; for standardised
        rows the reference rate is E/n, the group's rate at the reference group's stratum
        rates), ``difference``, ``lower_ci``, ``upper_ci`` (the gap in rates),
        ``excess``, ``excess_lower``, ``excess_upper`` (the gap as a number of people
        or events: positive = more in the group than at the reference rate),
        ``simultaneous_lower``, ``simultaneous_upper`` (Bonferroni over ``comparisons``
        gaps), ``worse_off`` (``excess`` signed so that positive is worse, null without a
        direction), ``excludes_null``, ``simultaneous_excludes_null``, ``rank`` (1 = most
        people worse off; null without a direction or estimate, not ``ranked``, or
        standardised with fewer than :data:`MIN_EXPECTED` expected: :func:`enough_expected`)
        and ``confidence``. Rows with a zero denominator have null values.
    """
    if base > 1:
        frame = frame.with_columns(
            (pl.col(c) / base).round() * base
            for c in ("expected", "expected_variance", "observed_variance")
            if c in frame.columns
        )
    ties = [c for c in _TIES if c in frame.columns]
    if ties:  # ordinal ranks of equal gaps follow row order: make it the same every run
        frame = frame.sort(ties, nulls_last=True, maintain_order=True)
    alpha = 1 - confidence
    z = float(ndtri(1 - alpha / 2))
    # the Bonferroni quantile z(1 - alpha / 2m): one family, one m per frame
    m = float(frame.get_column("comparisons").cast(pl.Float64).max() or 1.0) if frame.height else 1.0  # type: ignore[arg-type]
    z_sim = float(ndtri(1 - alpha / (2 * max(m, 1.0))))
    n1 = pl.col("denominator").cast(pl.Float64)
    n2 = pl.col("reference_denominator").cast(pl.Float64)
    x1 = pl.col("numerator").cast(pl.Float64)
    std = pl.col("statistic") == "standardised"
    ok = (n1 > 0) & (n2 > 0) & (~std | (pl.col("expected").is_not_null() & (pl.col("expected") > 0)))
    affected = (
        pl.when(std)
        .then(x1 - pl.col("expected"))
        .otherwise(x1 - n1 * pl.col("reference_numerator").cast(pl.Float64) / n2)
    )
    lo, hi = _limits(z, frame.columns)
    s_lo, s_hi = _limits(z_sim, frame.columns)
    per = pl.col("multiplier") / n1
    sign = pl.when(pl.col("higher_is_better")).then(-1.0).otherwise(1.0)
    out = frame.with_columns(
        pl.when(ok).then(x1 / n1 * pl.col("multiplier")).alias("rate"),
        pl.when(ok)
        .then(
            pl.when(std)
            .then(pl.col("expected") / n1)
            .otherwise(pl.col("reference_numerator").cast(pl.Float64) / n2)
            * pl.col("multiplier")
        )
        .alias("reference_rate"),
        pl.when(ok).then(affected * per).alias("difference"),
        pl.when(ok).then(lo * per).alias("lower_ci"),
        pl.when(ok).then(hi * per).alias("upper_ci"),
        pl.when(ok).then(affected).alias("excess"),
        pl.when(ok).then(lo).alias("excess_lower"),
        pl.when(ok).then(hi).alias("excess_upper"),
        pl.when(ok).then(s_lo).alias("simultaneous_lower"),
        pl.when(ok).then(s_hi).alias("simultaneous_upper"),
    ).with_columns(
        pl.when(pl.col("higher_is_better").is_not_null()).then(pl.col("excess") * sign).alias("worse_off"),
        ((pl.col("excess_lower") > 0) | (pl.col("excess_upper") < 0)).alias("excludes_null"),
        ((pl.col("simultaneous_lower") > 0) | (pl.col("simultaneous_upper") < 0)).alias(
            "simultaneous_excludes_null"
        ),
        pl.lit(confidence).alias("confidence"),
    )
    ranked = (
        pl.col("ranked").fill_null(True) if "ranked" in frame.columns else pl.lit(True)
    ) & enough_expected()
    return out.with_columns(
        pl.when(ranked)
        .then(pl.col("worse_off"))
        .rank("ordinal", descending=True)
        .cast(pl.Int64)
        .alias("rank")
    ).sort(
        pl.col("rank").is_null(),
        "rank",
        pl.col("excess").abs(),
        *ties,
        descending=[False, False, True, *([False] * len(ties))],
        nulls_last=True,
        maintain_order=True,
    )


#: Keys that break ties in the order of a priorities frame, so that a frame sorts the same way
#: every time (the disclosure's secondary suppression breaks ties between equal counts by row
#: order, and group_by's row order varies from run to run).
_TIES = ("section", "measure", "dimension", "order", "level")
