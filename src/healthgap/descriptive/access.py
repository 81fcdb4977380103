"""Access and treatment: who is found, who is treated, who waits.

- :func:`observed_expected` - recorded prevalence against what the group's age
  and sex mix would predict at the whole population's rates (indirect
  standardisation): a ratio under 1 suggests under-recording.
- :func:`detection` - where true status exists (synthetic or linked data):
  the share of people who truly have a condition that are recorded.
- :func:`indicators` - every indicator of the config (SQL numerator and
  denominator, :func:`healthgap.sql.indicator_counts`) by group;
  :func:`indicator_status` says which the dataset supports, and
  :func:`indicator_totals` counts them over everyone (with the people left out
  for a missing numerator). :func:`treatment` is :func:`indicators` in the
  columns the welcome page's headline reads (``treated``, ``eligible``).
- Access and experience measures of any type: :func:`flag_shares` (a flag: the
  share of people), :func:`waits` (days: median, mean and the share over 18
  weeks), :func:`count_rates` (a count: events per 100 people, among the people
  a flag applies to when every event happens to them: :func:`only_among`).
- :func:`days_summary` - a wait by group: the median with its distribution-free interval
  (:func:`median_ranks`) and, only for a measure with a waiting standard, the share over it
  (:func:`waits` is the older form, always against 18 weeks).
- :func:`standardised_indicators` - every indicator by group, indirectly standardised for age
  and sex (:func:`recompute_standardised`).
- :func:`against_need` - a flag (a referral) among the people with a recorded condition,
  observed against expected from a need model (:func:`need_probabilities`: a logistic
  regression on age, sex and each recorded condition, fitted on everyone in need).
- :func:`missing_values` - how many people have no value of each column.

Disclosure control happens once, when a page publishes a table
(:func:`healthgap.disclosure.publish`). The analyses return exact aggregates;
the page passes :func:`recompute_shares` (percentages),
:func:`recompute_ratios` (observed/expected, events per 100) or
:func:`recompute_indicators` (each indicator by its kind and multiplier) as
``recompute=``, which computes the statistics from the counts as they will be
published (disclosure rule 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from healthgap.config import Config, Dimension, Indicator
from healthgap.contract import TRUTH_PREFIX
from healthgap.descriptive._common import (
    LEVEL,
    dimensions_in,
    frame_of,
    known_levels,
    label_levels,
    level_expr,
    require,
)
from healthgap.engine import dimension_cells, shared
from healthgap.stats.indirect import protected_rate

__all__ = [
    "treated_among_true",
    "BROAD_AGE",
    "broad_age_counts",
    "observed_expected",
    "detection",
    "indicators",
    "indicator_status",
    "indicator_totals",
    "IndicatorStatus",
    "treatment",
    "flag_shares",
    "waits",
    "count_rates",
    "only_among",
    "missed",
    "missing_values",
    "EIGHTEEN_WEEKS",
    "recompute_shares",
    "recompute_ratios",
    "recompute_indicators",
    "days_summary",
    "median_ranks",
    "standardised_indicators",
    "recompute_standardised",
    "against_need",
    "need_probabilities",
    "NEED_RIDGE",
    "STANDARDISED",
]

#: The statistics :func:`recompute_shares` and :func:`recompute_ratios` replace.
_STATISTICS = ("value", "lower_ci", "upper_ci", "note")

#: Days in 18 weeks, the NHS referral-to-treatment standard.
EIGHTEEN_WEEKS = 126

#: The indicator counts of :func:`indicators`, in the order they are published.
INDICATOR_COUNTS = ("numerator", "denominator", "excluded")

ERR_UNKNOWN_KIND = (
    "indicator {name!r}: kind {kind!r} is not one this page computes (proportion or crude rate)."
)


def _per_dimension(
    lf: pl.LazyFrame,
    config: Config,
    dimensions: Sequence[str] | None,
    aggs: list[pl.Expr],
    where: pl.Expr | None = None,
) -> list[tuple[Dimension, pl.DataFrame]]:
    out = []
    for dim in dimensions_in(config, lf, names=dimensions):
        q = lf.with_columns(level_expr(dim.name).alias(LEVEL)).filter(pl.col(LEVEL).is_not_null())
        if where is not None:
            q = q.filter(where)
        out.append((dim, q.group_by(LEVEL).agg(aggs).collect()))
    return out


def _sums_per_dimension(
    lf: pl.LazyFrame,
    config: Config,
    dimensions: Sequence[str] | None,
    aggs: list[pl.Expr],
) -> list[tuple[Dimension, pl.DataFrame]]:
    """:func:`_per_dimension` (no ``where``) for ``aggs`` that are integer sums (counts): one
    pass over the people.

    The people are counted once into the finest cells (every dimension's level), each of
    ``aggs`` per cell, a table of thousands of rows; each dimension's level sums its cells (the
    same integers as aggregating the people once per dimension; a sum, not a median or a mean,
    is what adds up). A dimension's missing level is left out of its own sums only. Levels are
    grouped by the columns' own values (the age band's from ``age``) and made text
    (:func:`level_expr`) in the cells, not person by person. The cells and the sums:
    :func:`healthgap.engine.dimension_cells` (rows sorted by level).
    """
    from healthgap.stats import age_bands

    dims = dimensions_in(config, lf, names=dimensions)
    if not dims:
        return []
    names = [e.meta.output_name() for e in aggs]
    tables = dimension_cells(
        lf,
        {d.name: age_bands("age") if d.name == "age_band" else pl.col(d.name) for d in dims},
        cells=aggs,
        rollup=[pl.col(n).sum() for n in names],
        levels=known_levels(dims),
    )
    return [(d, tables[d.name]) for d in dims]


@shared
def observed_expected(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    conditions: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Observed / expected recorded cases (indirectly standardised ratio) by group, from exact counts.

    Expected cases in a group are the sum over its age band x sex cells of the
    cell's population times the whole population's recorded prevalence in that
    cell (age bands alone when the dataset has no sex column). Only people with a
    recorded value of the condition count, in the population as in the cases. The
    ratio's interval is Byar's (exact below 10) interval of the observed count
    divided by the expected count. The age band dimension is left out: its ratios
    are 1 by construction (as are those of sex, which it standardises for too).

    The counts and the ratios are exact: publish the table with ``recompute=``
    :func:`recompute_ratios` (``events="observed"``, ``population="expected"``,
    ``multiplier=1``), which computes the ratios from the observed counts as published.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ``order``, ``is_reference``,
        ``measure``, ``observed``, ``expected``, ``population`` (people with a
        recorded value), ``value`` (ratio, 1 = as expected), ``lower_ci``,
        ``upper_ci``, ``note``.

    References
    ----------
    .. [1] Breslow NE, Day NE (1987). Statistical Methods in Cancer Research, vol II, ch. 2.
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    from healthgap.stats import age_bands, crude_rate

    lf = frame_of(people)
    present = lf.collect_schema().names()
    conds = [c for c in (conditions or config.conditions) if c in present]
    if not conds:
        return pl.DataFrame()
    cells = ["age_band", *(["sex"] if "sex" in present else [])]
    base = lf.with_columns(age_bands("age").cast(pl.String).alias("age_band")).filter(
        pl.all_horizontal(pl.col(c).is_not_null() for c in cells)
    )
    frames = []
    for dim in dimensions_in(config, lf, names=dimensions):
        if dim.name == "age_band":
            continue
        wide = (
            base.with_columns(level_expr(dim.name).alias(LEVEL))
            .filter(pl.col(LEVEL).is_not_null())
            .group_by(LEVEL, *cells)
            .agg(
                *[pl.col(c).cast(pl.Int64).sum().alias(c) for c in conds],
                *[pl.col(c).count().cast(pl.Int64).alias(f"n__{c}") for c in conds],
            )
        )
        observed = wide.unpivot(
            index=[LEVEL, *cells], on=conds, variable_name="measure", value_name="observed"
        )
        population = wide.unpivot(
            index=[LEVEL, *cells],
            on=[f"n__{c}" for c in conds],
            variable_name="measure",
            value_name="population",
        ).with_columns(pl.col("measure").str.strip_prefix("n__"))
        counts = (
            observed.join(population, on=[LEVEL, *cells, "measure"])
            .with_columns(protected_rate("observed", "population", over=["measure", *cells]).alias("__rate"))
            .group_by("measure", LEVEL)
            .agg(
                pl.col("observed").sum(),
                (pl.col("population") * pl.col("__rate").fill_nan(0)).sum().alias("expected"),
                pl.col("population").sum(),
            )
            .collect()
        )
        ratio = crude_rate(
            counts,
            events="observed",
            population="expected",
            by=["measure", LEVEL],
            multiplier=1,
            confidence=confidence,
        ).select("measure", LEVEL, "value", "lower_ci", "upper_ci", "note")
        out = counts.join(ratio, on=["measure", LEVEL]).select(
            LEVEL, "measure", "observed", "expected", "population", "value", "lower_ci", "upper_ci", "note"
        )
        frames.append(label_levels(out, dim).sort("measure", "order", maintain_order=True))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def _keys(table: pl.DataFrame) -> list[str]:
    """The columns naming a row of an access table: dimension, measure (when there is one), level."""
    return [c for c in ("dimension", "measure", LEVEL) if c in table.columns]


def _with_statistics(table: pl.DataFrame, stat: pl.DataFrame) -> pl.DataFrame:
    """``table`` with its value, interval and note replaced by those of ``stat`` (same rows, same order)."""
    keys = _keys(table)
    return (
        table.drop(*_STATISTICS)
        .join(stat.select(*keys, *_STATISTICS), on=keys, how="left", nulls_equal=True, maintain_order="left")
        .select(table.columns)
    )


def recompute_shares(
    table: pl.DataFrame,
    *,
    numerator: str,
    denominator: str,
    multiplier: float = 100,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Each row's percentage ``numerator / denominator`` and its Wilson interval, from its counts.

    Pass it to :func:`healthgap.disclosure.publish` as ``recompute=`` for a table of
    :func:`detection` (``recorded``/``affected``), :func:`treatment`
    (``treated``/``eligible``), :func:`flag_shares` (``numerator``/``denominator``)
    or :func:`waits` (``over_18_weeks``/``recorded``): it receives the counts as they
    will be published, so the percentages do not give the exact counts back
    (disclosure rule 8).

    Parameters
    ----------
    table : an access table with the two count columns.
    numerator, denominator : the count columns.
    multiplier : 100 for a percentage.
    confidence : confidence level of the intervals.

    References
    ----------
    .. [1] NHS Digital. Hospital Episode Statistics: disclosure control method (2018).
    .. [2] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    """
    from healthgap.stats import proportion

    if table.is_empty():
        return table
    keys = _keys(table)
    stat = proportion(
        table.select(*keys, numerator, denominator),
        numerator=numerator,
        denominator=denominator,
        by=keys,
        multiplier=multiplier,
        confidence=confidence,
    )
    return _with_statistics(table, stat)


def recompute_ratios(
    table: pl.DataFrame, *, events: str, population: str, multiplier: float, confidence: float = 0.95
) -> pl.DataFrame:
    """Each row's ``events / population x multiplier`` and its Byar's (exact below 10) interval.

    Pass it to :func:`healthgap.disclosure.publish` as ``recompute=`` for a table of
    :func:`observed_expected` (``events="observed"``, ``population="expected"``,
    ``multiplier=1``) or :func:`count_rates` (``events="events"``,
    ``population="population"``, ``multiplier=100``): it receives the counts as they
    will be published (disclosure rule 8).

    Parameters
    ----------
    table : an access table with the two columns.
    events, population : the numerator (a count) and the denominator.
    multiplier : the ratio per this many of ``population``.
    confidence : confidence level of the intervals.

    References
    ----------
    .. [1] NHS Digital. Hospital Episode Statistics: disclosure control method (2018).
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    from healthgap.stats import crude_rate

    if table.is_empty():
        return table
    keys = _keys(table)
    stat = crude_rate(
        table.select(*keys, events, population),
        events=events,
        population=population,
        by=keys,
        multiplier=multiplier,
        confidence=confidence,
    )
    return _with_statistics(table, stat)


def recompute_indicators(
    table: pl.DataFrame, *, indicators: Sequence[Indicator], confidence: float = 0.95
) -> pl.DataFrame:
    """Each row's indicator value and interval from its counts, by the indicator's kind.

    A proportion is ``numerator / denominator x multiplier`` with Wilson's interval; a
    crude rate the same ratio with Byar's (exact below 10) interval. Pass it to
    :func:`healthgap.disclosure.publish` as ``recompute=`` for a table of
    :func:`indicators` or :func:`indicator_totals`: it receives the counts as they
    will be published (disclosure rule 8).

    Parameters
    ----------
    table : ``measure`` (the indicator's name), ``numerator``, ``denominator``, and
        ``value``, ``lower_ci``, ``upper_ci``, ``note``.
    indicators : the indicators of the rows (a row of any other has no value).
    confidence : confidence level of the intervals.

    References
    ----------
    .. [1] NHS Digital. Hospital Episode Statistics: disclosure control method (2018).
    .. [2] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    .. [3] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    if table.is_empty():
        return table
    parts = []
    for ind in indicators:
        rows = table.filter(pl.col("measure") == ind.name)
        if rows.is_empty():
            continue
        if ind.kind == "proportion":
            parts.append(
                recompute_shares(
                    rows,
                    numerator="numerator",
                    denominator="denominator",
                    multiplier=ind.multiplier,
                    confidence=confidence,
                )
            )
        else:
            parts.append(
                recompute_ratios(
                    rows,
                    events="numerator",
                    population="denominator",
                    multiplier=ind.multiplier,
                    confidence=confidence,
                )
            )
    if not parts:
        return table
    return _with_statistics(table, pl.concat(parts, how="vertical_relaxed"))


def _proportions(
    pairs: list[tuple[Dimension, pl.DataFrame]],
    *,
    numerator: str,
    denominator: str,
    by: Sequence[str] = (),
    multiplier: float = 100,
    confidence: float,
) -> pl.DataFrame:
    from healthgap.stats import proportion

    frames = []
    for dim, counts in pairs:
        stat = proportion(
            counts,
            numerator=numerator,
            denominator=denominator,
            by=[*by, LEVEL],
            multiplier=multiplier,
            confidence=confidence,
        ).drop("confidence", "statistic", "method")
        frames.append(label_levels(stat, dim))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def _measure_shares(
    lf: pl.LazyFrame,
    config: Config,
    dimensions: Sequence[str] | None,
    aggs: list[pl.Expr],
    measures: Sequence[str],
    *,
    numerator: str,
    denominator: str,
    confidence: float,
) -> pl.DataFrame:
    """Shares of several measures by group from one aggregation over the people
    (:func:`_sums_per_dimension`).

    ``aggs`` hold ``n__<measure>`` (numerator) and ``d__<measure>`` (denominator)
    sums; each dimension's wide row per level becomes one row per level x
    ``measure`` before :func:`_proportions`.
    """
    pairs = []
    for dim, wide in _sums_per_dimension(lf, config, dimensions, aggs):
        long = pl.concat(
            [
                wide.select(
                    LEVEL,
                    pl.lit(m).alias("measure"),
                    pl.col(f"n__{m}").alias(numerator),
                    pl.col(f"d__{m}").alias(denominator),
                )
                for m in measures
            ]
        )
        pairs.append((dim, long))
    return _proportions(
        pairs,
        numerator=numerator,
        denominator=denominator,
        by=["measure"],
        confidence=confidence,
    )


@shared
def treated_among_true(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    condition: str = "hypertension",
    treatment: str = "antihypertensive",
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share (%) of everyone who truly has ``condition`` (recorded or not) who has ``treatment``,
    by group, from exact counts: under-diagnosis and under-treatment together.

    Needs ``true_<condition>`` and ``treatment``; people with no value of ``treatment`` are
    left out of both counts. Crude (not standardised). Publish with ``recompute=``
    :func:`recompute_shares` (``treated``/``affected``).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``measure`` (``condition``), ``treated``
        (truly affected and treated), ``affected`` (truly affected, with a value of
        ``treatment``), ``value`` (%), ``lower_ci``, ``upper_ci`` (Wilson), ``note``; empty
        without the columns.
    """
    lf = frame_of(people)
    present = lf.collect_schema().names()
    truth = f"{TRUTH_PREFIX}{condition}"
    if truth not in present or treatment not in present:
        return pl.DataFrame()
    truly = pl.col(truth).fill_null(False) & pl.col(treatment).is_not_null()
    aggs = [
        (truly & pl.col(treatment)).cast(pl.Int64).sum().alias(f"n__{condition}"),
        truly.cast(pl.Int64).sum().alias(f"d__{condition}"),
    ]
    return _measure_shares(
        lf,
        config,
        dimensions,
        aggs,
        [condition],
        numerator="treated",
        denominator="affected",
        confidence=confidence,
    )


@shared
def detection(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    conditions: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share (%) of people who truly have each condition whose condition is recorded, from exact counts.

    Needs the ``true_<condition>`` columns; conditions without them are left out.
    People whose recorded status is missing are left out of both counts. The
    counts and shares are exact: publish the table with ``recompute=``
    :func:`recompute_shares` (``recorded``/``affected``).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``measure``, ``recorded``
        (truly affected and recorded), ``affected`` (truly affected, with a
        recorded status), ``value`` (%), ``lower_ci``, ``upper_ci`` (Wilson), ``note``.

    References
    ----------
    .. [1] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    .. [2] Public Health England (2017). Hypertension prevalence estimates for local
       populations (recorded versus expected prevalence).
    """
    lf = frame_of(people)
    present = lf.collect_schema().names()
    conds = [c for c in (conditions or config.conditions) if c in present and f"{TRUTH_PREFIX}{c}" in present]
    if not conds:
        return pl.DataFrame()

    def truly(c: str) -> pl.Expr:
        return pl.col(f"{TRUTH_PREFIX}{c}").fill_null(False) & pl.col(c).is_not_null()

    aggs = [
        *[(truly(c) & pl.col(c)).cast(pl.Int64).sum().alias(f"n__{c}") for c in conds],
        *[truly(c).cast(pl.Int64).sum().alias(f"d__{c}") for c in conds],
    ]
    return _measure_shares(
        lf,
        config,
        dimensions,
        aggs,
        conds,
        numerator="recorded",
        denominator="affected",
        confidence=confidence,
    ).sort("dimension", "measure", "order", maintain_order=True)


# -- indicators ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorStatus:
    """Whether the dataset supports one indicator of the config.

    Attributes
    ----------
    indicator : the indicator.
    reason : why it cannot be computed on this dataset (:func:`healthgap.sql.indicator_columns`),
        or None when it can.
    absent : optional columns the dataset lacks, counted as false.
    """

    indicator: Indicator
    reason: str | None = None
    absent: tuple[str, ...] = ()

    @property
    def shown(self) -> bool:
        """Whether the indicator can be computed (and is a kind :func:`indicators` computes)."""
        return self.reason is None


#: Indicator kinds :func:`indicators` computes.
KINDS = ("proportion", "crude rate")
NOT_COMPUTED = "it is an {kind}, which this page does not compute yet"


@shared
def indicator_status(people: pl.LazyFrame | pl.DataFrame, config: Config) -> list[IndicatorStatus]:
    """Each indicator of ``config`` (in its order) with whether ``people`` supports it."""
    from healthgap.sql import indicator_columns

    schema = frame_of(people).collect_schema()
    out = []
    for ind in config.indicators:
        compiled = indicator_columns(ind, schema)
        if isinstance(compiled, str):
            out.append(IndicatorStatus(ind, reason=compiled))
        elif ind.kind not in KINDS:
            out.append(IndicatorStatus(ind, reason=NOT_COMPUTED.format(kind=ind.kind)))
        else:
            out.append(IndicatorStatus(ind, absent=compiled.absent))
    return out


def _chosen(people: pl.LazyFrame, config: Config, names: Sequence[str] | None) -> list[Indicator]:
    shown = [s.indicator for s in indicator_status(people, config) if s.shown]
    if names is None:
        return shown
    return [i for i in shown if i.name in names]


def _indicator_statistics(
    counts: pl.DataFrame, ind: Indicator, *, by: list[str], confidence: float
) -> pl.DataFrame:
    from healthgap.stats import crude_rate, proportion

    if ind.kind not in KINDS:
        raise ValueError(ERR_UNKNOWN_KIND.format(name=ind.name, kind=ind.kind))
    if ind.kind == "proportion":
        stat = proportion(
            counts,
            numerator="numerator",
            denominator="denominator",
            by=by,
            multiplier=ind.multiplier,
            confidence=confidence,
        )
    else:
        stat = crude_rate(
            counts,
            events="numerator",
            population="denominator",
            by=by,
            multiplier=ind.multiplier,
            confidence=confidence,
        )
    return counts.join(
        stat.select(*by, *_STATISTICS), on=by, how="left", nulls_equal=True, maintain_order="left"
    )


@shared
def indicators(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    names: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Every indicator the dataset supports, by each dimension, from exact counts.

    Each indicator's counts come from its SQL (:func:`healthgap.sql.indicator_counts`):
    a person is in the denominator when the denominator is true and the numerator has
    a value, in the numerator when both are true; ``excluded`` counts the people left
    out because the numerator is missing. A proportion's value is ``numerator /
    denominator x multiplier`` with Wilson's interval; a crude rate's the same ratio with
    Byar's interval. Indicators the dataset cannot support are left out (see
    :func:`indicator_status`). Publish with ``recompute=``
    :func:`recompute_indicators`.

    Parameters
    ----------
    people : the canonical person table.
    config : the loaded config (its indicators and dimensions).
    names : only these indicators (default: all of them).
    dimensions : dimension names (default every configured one present).
    confidence : confidence level of the intervals.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``dimension_label``, ``level``, ``label``, ``order``,
        ``is_reference``, ``measure`` (the indicator's name), ``measure_label``,
        ``numerator``, ``denominator``, ``excluded``, ``value``, ``lower_ci``,
        ``upper_ci``, ``note``; sorted by dimension, indicator name and level.

    References
    ----------
    .. [1] NHS England, CVDPREVENT audit methodology (treatment among the eligible).
    .. [2] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    """
    from healthgap.sql import indicator_counts

    lf = frame_of(people)
    chosen = _chosen(lf, config, names)
    frames = []
    for dim in dimensions_in(config, lf, names=dimensions):
        grouped = lf.with_columns(level_expr(dim.name).alias(LEVEL)).filter(pl.col(LEVEL).is_not_null())
        for ind in chosen:
            counts = indicator_counts(grouped, ind, by=[LEVEL])
            if isinstance(counts, str):  # pragma: no cover - indicator_status checked it
                continue
            stat = _indicator_statistics(counts, ind, by=[LEVEL], confidence=confidence)
            stat = stat.with_columns(
                pl.lit(ind.name).alias("measure"), pl.lit(ind.label).alias("measure_label")
            ).select(LEVEL, "measure", "measure_label", *INDICATOR_COUNTS, *_STATISTICS)
            frames.append(label_levels(stat, dim))
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed").sort(
        "dimension", "measure", "order", maintain_order=True
    )


@shared
def indicator_totals(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    names: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Each indicator the dataset supports over everyone, from exact counts (config order).

    Returns
    -------
    pl.DataFrame
        ``measure``, ``measure_label``, ``numerator``, ``denominator``, ``excluded``
        (people in the denominator's population whose numerator is missing),
        ``value``, ``lower_ci``, ``upper_ci``, ``note``. Publish with ``recompute=``
        :func:`recompute_indicators`.
    """
    from healthgap.sql import indicator_counts

    lf = frame_of(people)
    frames = []
    for ind in _chosen(lf, config, names):
        counts = indicator_counts(lf, ind)
        if isinstance(counts, str):  # pragma: no cover - indicator_status checked it
            continue
        counts = counts.with_columns(pl.lit(ind.name).alias("measure"))
        stat = _indicator_statistics(counts, ind, by=["measure"], confidence=confidence)
        frames.append(
            stat.with_columns(pl.lit(ind.label).alias("measure_label")).select(
                "measure", "measure_label", *INDICATOR_COUNTS, *_STATISTICS
            )
        )
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


@shared
def treatment(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measures: Sequence[str] = ("statin", "anticoagulant", "bp_control"),
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share (%) of eligible people treated (or controlled), by group: :func:`indicators` named ``measures``.

    The indicators of the config called ``measures`` (the cardiovascular profile's
    statin, anticoagulant and blood pressure control indicators), with the
    numerator and denominator as ``treated`` and ``eligible``. Indicators the
    dataset cannot support are left out. Publish with ``recompute=``
    :func:`recompute_shares` (``treated``/``eligible``).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``measure``, ``measure_label``,
        ``treated``, ``eligible``, ``value`` (%), ``lower_ci``, ``upper_ci``, ``note``.

    References
    ----------
    .. [1] NHS England, CVDPREVENT audit methodology (treatment among the eligible).
    .. [2] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    """
    out = indicators(people, config, names=list(measures), dimensions=dimensions, confidence=confidence)
    if out.is_empty():
        return out
    return out.drop("excluded").rename({"numerator": "treated", "denominator": "eligible"})


# -- access and experience measures --------------------------------------------------------------


@shared
def flag_shares(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measure: str,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share (%) of people with a recorded value of the flag ``measure`` for whom it is true, by group.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``measure``, ``numerator`` (true),
        ``denominator`` (with a value), ``value`` (%), ``lower_ci``, ``upper_ci``
        (Wilson), ``note``: exact aggregates, to publish with ``recompute=``
        :func:`recompute_shares` (``numerator``/``denominator``).

    References
    ----------
    .. [1] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    """
    lf = frame_of(people)
    require(lf, [measure], what="flag_shares()")
    aggs = [
        pl.col(measure).cast(pl.Int64).sum().alias(f"n__{measure}"),
        pl.col(measure).count().cast(pl.Int64).alias(f"d__{measure}"),
    ]
    return _measure_shares(
        lf,
        config,
        dimensions,
        aggs,
        [measure],
        numerator="numerator",
        denominator="denominator",
        confidence=confidence,
    )


@shared
def waits(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measure: str = "days_to_first_outpatient",
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """A days measure by group: the median and mean, and the share over 18 weeks.

    Among people with a value of ``measure`` (for a wait from referral to a first
    appointment, the people seen).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``recorded`` (count),
        ``median_days`` (whole days), ``mean_days`` (to 0.1 day; both rounded so
        that they do not give the exact number of people back), ``over_18_weeks``
        (count), ``value`` (% over 18 weeks), ``lower_ci``, ``upper_ci`` (Wilson),
        ``note``: exact aggregates, to publish with ``recompute=``
        :func:`recompute_shares` (``over_18_weeks``/``recorded``).

    References
    ----------
    .. [1] NHS England, Referral to treatment (RTT) waiting times: the 18-week standard.
    .. [2] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    """
    lf = frame_of(people)
    require(lf, [measure], what="waits()")
    days = pl.col(measure)
    aggs = [  # mean and median rounded: in full, mean x people gives the exact number back
        pl.len().cast(pl.Int64).alias("recorded"),
        days.median().round(0).alias("median_days"),
        days.mean().round(1).alias("mean_days"),
        (days > EIGHTEEN_WEEKS).cast(pl.Int64).sum().alias("over_18_weeks"),
    ]
    pairs = _per_dimension(lf, config, dimensions, aggs, where=days.is_not_null())
    out = _proportions(
        pairs,
        numerator="over_18_weeks",
        denominator="recorded",
        confidence=confidence,
    )
    if out.is_empty():
        return out
    extra = pl.concat(
        [c.select(pl.lit(d.name).alias("dimension"), LEVEL, "median_days", "mean_days") for d, c in pairs]
    )
    return out.join(extra, on=["dimension", LEVEL], how="left").select(
        *out.columns[: out.columns.index("over_18_weeks")],
        "recorded",
        "median_days",
        "mean_days",
        "over_18_weeks",
        "value",
        "lower_ci",
        "upper_ci",
        "note",
    )


@shared
def only_among(people: pl.LazyFrame | pl.DataFrame, *, measure: str, flag: str) -> bool:
    """Whether every event of the count ``measure`` happens to people for whom ``flag`` is true.

    Then the events are counted among those people (missed outpatient appointments
    among the people referred) and nothing is lost: nobody else has any.
    """
    lf = frame_of(people)
    outside = (
        lf.filter(~pl.col(flag).fill_null(False))
        .select(pl.col(measure).fill_null(0).abs().sum())
        .collect()
        .item()
    )
    return not outside


@shared
def count_rates(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measure: str,
    among: str | None = None,
    dimensions: Sequence[str] | None = None,
    multiplier: float = 100,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Events of the count ``measure`` per ``multiplier`` people with a value, by group.

    ``among`` (a flag column) restricts the people to those for whom it is true
    (e.g. missed appointments among the people referred: :func:`only_among` says
    whether nothing is lost). The interval treats the events as Poisson counts.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``events``, ``population``,
        ``value`` (per ``multiplier``), ``lower_ci``, ``upper_ci``, ``note``: exact
        aggregates, to publish with ``recompute=`` :func:`recompute_ratios`
        (``events``/``population``, the same ``multiplier``).

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    from healthgap.stats import crude_rate

    lf = frame_of(people)
    require(lf, [measure, *([among] if among else [])], what="count_rates()")
    where = pl.col(measure).is_not_null()
    if among is not None:
        where = where & pl.col(among).fill_null(False)
    aggs = [
        pl.col(measure).sum().cast(pl.Int64).alias("events"),
        pl.len().cast(pl.Int64).alias("population"),
    ]
    frames = []
    for dim, counts in _per_dimension(lf, config, dimensions, aggs, where=where):
        stat = crude_rate(
            counts,
            events="events",
            population="population",
            by=LEVEL,
            multiplier=multiplier,
            confidence=confidence,
        ).drop("confidence", "statistic", "method")
        frames.append(label_levels(stat, dim))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


@shared
def missed(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Missed cardiology appointments per 100 people referred: :func:`count_rates` of
    ``missed_appointments`` among the people with ``cardiology_referral`` (everyone
    without that column)."""
    present = frame_of(people).collect_schema().names()
    among = "cardiology_referral" if "cardiology_referral" in present else None
    return count_rates(
        people,
        config,
        measure="missed_appointments",
        among=among,
        dimensions=dimensions,
        confidence=confidence,
    )


@shared
def missing_values(people: pl.LazyFrame | pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """How many people have no value of each of ``columns`` (those the dataset has), exact.

    Returns
    -------
    pl.DataFrame
        ``column``, ``people`` (everyone), ``missing`` (no value), in the order given.
    """
    lf = frame_of(people)
    present = lf.collect_schema().names()
    chosen = [c for c in dict.fromkeys(columns) if c in present]
    if not chosen:
        return pl.DataFrame(schema={"column": pl.String, "people": pl.Int64, "missing": pl.Int64})
    row = lf.select(
        pl.len().cast(pl.Int64).alias("__people"),
        *[pl.col(c).null_count().cast(pl.Int64).alias(c) for c in chosen],
    ).collect()
    return pl.DataFrame(
        {
            "column": chosen,
            "people": [row.item(0, "__people")] * len(chosen),
            "missing": [row.item(0, c) for c in chosen],
        },
        schema={"column": pl.String, "people": pl.Int64, "missing": pl.Int64},
    )


# -- waits, standardised indicators and referral against need --------------------------------------

#: Rank of the lower and upper limits of a median's interval need this many values at least.
MIN_MEDIAN_VALUES = 6


def median_ranks(n: pl.Expr | int, *, confidence: float = 0.95) -> tuple[pl.Expr, pl.Expr]:
    """The ranks (1-based) of the order statistics bounding a median's distribution-free interval.

    ``r = n/2 - z sqrt(n)/2`` and ``s = 1 + n/2 + z sqrt(n)/2``, each rounded to the nearest
    whole number (Campbell and Gardner); null when ``r`` falls below 1 (too few values).

    References
    ----------
    .. [1] Campbell MJ, Gardner MJ. Calculating confidence intervals for some non-parametric
       analyses. BMJ 1988;296:1454-1456 (Statistics with Confidence, 2nd ed., ch. 5).
    """
    from scipy.special import ndtri

    z = float(ndtri(0.5 + confidence / 2))
    size = (n if isinstance(n, pl.Expr) else pl.lit(n)).cast(pl.Float64)
    half = z * size.sqrt() / 2
    r = (size / 2 - half + 0.5).floor()
    s = (size / 2 + 1 + half + 0.5).floor()
    ok = (r >= 1) & (s <= size)
    return (
        pl.when(ok).then(r).cast(pl.Int64),
        pl.when(ok).then(s).cast(pl.Int64),
    )


@shared
def days_summary(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measure: str,
    standard: float | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """A days measure (a wait) by group: the median with its interval, the mean, and the share
    over ``standard`` days when the measure has a standard.

    Among people with a value of ``measure``. The median's interval is distribution-free (the
    order statistics of :func:`median_ranks`); the share's is Wilson's.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``dimension_label``, ``level``, ``label``, ``order``, ``is_reference``,
        ``measure``, ``recorded`` (count), ``median_days``, ``median_lower``, ``median_upper``
        (whole days), ``mean_days`` (to 0.1 day; rounded so that it does not give the exact
        number of people back), and with a ``standard``: ``over_standard`` (count), ``value``
        (% over the standard), ``lower_ci``, ``upper_ci``, ``note``. Exact aggregates: publish
        with ``counts=["recorded", "over_standard"]`` and ``recompute=``
        :func:`recompute_shares` (``over_standard``/``recorded``), or ``counts=["recorded"]``
        without a standard.

    References
    ----------
    .. [1] NHS England, Referral to treatment (RTT) waiting times: the 18-week standard.
    .. [2] Campbell MJ, Gardner MJ. BMJ 1988;296:1454-1456.
    """
    lf = frame_of(people)
    require(lf, [measure], what="days_summary()")
    days = pl.col(measure)
    r, s = median_ranks(pl.len(), confidence=confidence)
    aggs = [
        pl.len().cast(pl.Int64).alias("recorded"),
        days.median().round(0).alias("median_days"),
        days.sort().get(r - 1, null_on_oob=True).cast(pl.Float64).alias("median_lower"),
        days.sort().get(s - 1, null_on_oob=True).cast(pl.Float64).alias("median_upper"),
        days.mean().round(1).alias("mean_days"),
        *([(days > standard).cast(pl.Int64).sum().alias("over_standard")] if standard is not None else []),
    ]
    pairs = _per_dimension(lf, config, dimensions, aggs, where=days.is_not_null())
    base = ["recorded", "median_days", "median_lower", "median_upper", "mean_days"]
    if standard is None:
        frames = [label_levels(c.select(LEVEL, pl.lit(measure).alias("measure"), *base), d) for d, c in pairs]
        return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    out = _proportions(pairs, numerator="over_standard", denominator="recorded", confidence=confidence)
    if out.is_empty():
        return out
    extra = pl.concat([c.select(pl.lit(d.name).alias("dimension"), LEVEL, *base[1:]) for d, c in pairs])
    head = out.columns[: out.columns.index("over_standard")]
    return out.join(extra, on=["dimension", LEVEL], how="left").select(
        *[c for c in head if c != "recorded"],
        pl.lit(measure).alias("measure"),
        *base,
        "over_standard",
        "value",
        "lower_ci",
        "upper_ci",
        "note",
    )


def _standardised_cells(dim: Dimension, cells: Sequence[str]) -> list[str]:
    """The cells a dimension's groups are standardised over: not the dimension's own column."""
    own = {"age_band": "age_band", "sex": "sex"}.get(dim.name)
    return [c for c in cells if c != own]


def _indirect(counts: pl.DataFrame, *, keys: Sequence[str], cells: Sequence[str]) -> pl.DataFrame:
    """Observed, expected and population per ``keys`` from ``observed``/``population`` per cell.

    Expected: each cell's population times the rate of its cell over every group (the
    groups of one ``measure`` together), summed over the group's cells; a group's cells with
    no one in the reference give no expected cases.
    """
    by = [k for k in keys if k != LEVEL]
    reference = [*by, *cells]
    return (
        counts.with_columns(protected_rate("observed", "population", over=reference).alias("__rate"))
        .group_by(list(keys), maintain_order=True)
        .agg(
            pl.col("observed").sum(),
            (pl.col("population") * pl.col("__rate").fill_nan(0)).sum().alias("expected"),
            pl.col("population").sum(),
        )
    )


def _cells_frame(lf: pl.LazyFrame, present: Sequence[str]) -> tuple[pl.LazyFrame, list[str]]:
    """``lf`` with ``age_band`` (ESP2013 bands), and the standardisation cells it has."""
    from healthgap.stats import age_bands

    cells = ["age_band", *(["sex"] if "sex" in present else [])]
    base = lf.with_columns(age_bands("age").cast(pl.String).alias("age_band")).filter(
        pl.all_horizontal(pl.col(c).is_not_null() for c in cells)
    )
    return base, cells


def _indicator_cells(
    base: pl.LazyFrame, cells: Sequence[str], dims: Sequence[Dimension], chosen: Sequence[Indicator]
) -> list[list[pl.DataFrame | None]]:
    """Every indicator's counts by level x standardisation cell, for every dimension: one pass
    over the people.

    The people (``base``, :func:`_cells_frame`) are counted once into the finest cells (every
    dimension's level x age band x sex), each indicator's numerator, denominator and excluded
    people, a table of thousands of rows; each dimension's counts are sums of those cells,
    integers, so the same numbers as counting the people once per dimension and indicator. A
    dimension's missing level is left out of its own counts only. For each dimension, for each
    indicator: :func:`healthgap.sql.indicator_counts` by ``[level, *cells]`` (the dimension's
    :func:`_standardised_cells`), rows sorted the same, or None for an indicator that does not
    compile on the data. Levels are grouped by the columns' own values and made text
    (:func:`level_expr`) in the cells, not person by person. The cells and the sums:
    :func:`healthgap.engine.dimension_cells`.
    """
    from healthgap.sql import indicator_columns

    schema = base.collect_schema()
    compiled = [indicator_columns(ind, schema) for ind in chosen]
    aggs = [
        e
        for i, c in enumerate(compiled)  # config indicators, not data rows
        if not isinstance(c, str)
        for e in (
            c.numerator.cast(pl.Int64).sum().alias(f"n{i}"),
            c.denominator.cast(pl.Int64).sum().alias(f"d{i}"),
            c.excluded.cast(pl.Int64).sum().alias(f"x{i}"),
        )
    ]
    if not aggs:
        return [[None] * len(chosen) for _ in dims]
    # the age band and sex are cells already: those dimensions are their cells (strata)
    tables = dimension_cells(
        base,
        [d.name for d in dims],
        cells=aggs,
        rollup=[pl.col(a.meta.output_name()).sum() for a in aggs],
        strata=list(cells),
        levels=known_levels(dims),
    )
    out: list[list[pl.DataFrame | None]] = []
    for d in dims:  # config dimensions, not data rows
        wide = tables[d.name]
        by = _standardised_cells(d, cells)
        out.append(
            [
                None
                if isinstance(c, str)
                else wide.select(
                    LEVEL,
                    *by,
                    pl.col(f"n{i}").alias("numerator"),
                    pl.col(f"d{i}").alias("denominator"),
                    pl.col(f"x{i}").alias("excluded"),
                )
                for i, c in enumerate(compiled)  # config indicators, not data rows
            ]
        )
    return out


@shared
def standardised_indicators(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    names: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Every indicator by group, indirectly standardised for age and sex.

    A group's expected numerator is the sum over its age band x sex cells of the cell's
    denominator times the indicator's rate in that cell among everyone with a level of the
    dimension; its standardised value is ``observed / expected`` (the ratio, Byar's
    interval) times that overall rate. The sex groups are standardised for age only and the
    age bands for sex only (a group is never standardised for what defines it). A crude rate
    indicator is standardised the same way (its ratio's interval is Byar's either way).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``dimension_label``, ``level``, ``label``, ``order``, ``is_reference``,
        ``measure``, ``measure_label``, ``numerator``, ``denominator``, ``excluded`` (people
        left out for a missing numerator), ``multiplier``, ``kind``, ``expected``, ``crude`` (%), ``ratio``, ``ratio_lower``, ``ratio_upper``, ``overall`` (% over every
        group), ``value`` (standardised %), ``lower_ci``, ``upper_ci``, ``note``. Exact
        aggregates: publish with ``recompute=`` :func:`recompute_standardised`.

    References
    ----------
    .. [1] Breslow NE, Day NE (1987). Statistical Methods in Cancer Research, vol II, ch. 2.
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    lf = frame_of(people)
    present = lf.collect_schema().names()
    chosen = _chosen(lf, config, names)
    if not chosen or "age" not in present:
        return pl.DataFrame()
    base, all_cells = _cells_frame(lf, present)
    dims = dimensions_in(config, lf, names=dimensions)
    frames = []
    for dim, by_indicator in zip(dims, _indicator_cells(base, all_cells, dims, chosen)):  # config's
        cells = _standardised_cells(dim, all_cells)
        for ind, counts in zip(chosen, by_indicator):  # config indicators, not data rows
            if counts is None:  # pragma: no cover - indicator_status checked it
                continue
            exact = _indirect(
                counts.rename({"numerator": "observed", "denominator": "population"}),
                keys=[LEVEL],
                cells=cells,
            ).rename({"observed": "numerator", "population": "denominator"})
            left = counts.group_by(LEVEL).agg(pl.col("excluded").sum())
            exact = exact.join(left, on=LEVEL, how="left").with_columns(
                pl.lit(ind.name).alias("measure"),
                pl.lit(ind.label).alias("measure_label"),
                pl.lit(ind.multiplier).alias("multiplier"),
                pl.lit(ind.kind).alias("kind"),
            )
            frames.append(label_levels(recompute_standardised(exact, confidence=confidence), dim))
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed").sort(
        "dimension", "measure", "order", maintain_order=True
    )


#: The columns :func:`recompute_standardised` computes.
STANDARDISED = (
    "crude",
    "ratio",
    "ratio_lower",
    "ratio_upper",
    "overall",
    "value",
    "lower_ci",
    "upper_ci",
    "note",
)


def _at_most(x: pl.Expr, ceiling: pl.Expr) -> pl.Expr:
    return pl.when(ceiling.is_not_null() & (x > ceiling)).then(ceiling).otherwise(x)


def recompute_standardised(table: pl.DataFrame, *, confidence: float = 0.95) -> pl.DataFrame:
    """The statistics of :func:`standardised_indicators` from its counts (as published).

    ``crude``: numerator / denominator x multiplier; ``ratio``: numerator / expected with
    Byar's (exact below 10) interval; ``overall``: the sum of the numerators over the sum of
    the denominators of the rows of the same dimension and measure that have both;
    ``value``, ``lower_ci``, ``upper_ci``: the ratio and its interval times ``overall``, at most
    the multiplier for a proportion (``kind``): a share standardised from few people can
    otherwise read above 100%.
    """
    from healthgap.stats import crude_rate

    if table.is_empty():
        return table
    keys = _keys(table)
    ratio = crude_rate(
        table.select(*keys, "numerator", "expected"),
        events="numerator",
        population="expected",
        by=keys,
        multiplier=1,
        confidence=confidence,
    ).select(
        *keys,
        pl.col("value").alias("ratio"),
        pl.col("lower_ci").alias("ratio_lower"),
        pl.col("upper_ci").alias("ratio_upper"),
        "note",
    )
    group = [k for k in keys if k != LEVEL]
    # a proportion cannot exceed its multiplier (100%): nor can its standardised value or limits
    ceiling = pl.when(pl.col("kind") == "proportion").then(pl.col("multiplier"))
    both = pl.col("numerator").is_not_null() & pl.col("denominator").is_not_null()
    m = pl.col("multiplier")
    stat = (
        table.drop([c for c in STANDARDISED if c in table.columns])
        .join(ratio, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            (m * pl.col("numerator") / pl.col("denominator")).alias("crude"),
            (
                m
                * pl.when(both).then(pl.col("numerator")).sum().over(group)
                / pl.when(both).then(pl.col("denominator")).sum().over(group)
            ).alias("overall"),
        )
        .with_columns(
            _at_most(pl.col(name) * pl.col("overall"), ceiling).alias(out)
            for name, out in (("ratio", "value"), ("ratio_lower", "lower_ci"), ("ratio_upper", "upper_ci"))
        )
    )
    first = [c for c in table.columns if c not in STANDARDISED]
    return stat.select(*first, *STANDARDISED)


#: The ridge penalty of the need model (on every coefficient but the intercept): small enough to
#: leave well-estimated odds ratios alone, enough to keep them finite when a cell has no events.
NEED_RIDGE = 1e-2

#: Newton-Raphson steps of the need model at most, and the step size at which it has converged.
NEED_ITERATIONS, NEED_TOLERANCE = 100, 1e-10

ERR_NEED_MODEL = "against_need(): the need model did not converge in {n} steps (last step {step:.3g})."


def need_probabilities(
    patterns: pl.DataFrame,
    *,
    categorical: Sequence[str],
    flags: Sequence[str],
    events: str = "observed",
    population: str = "population",
    ridge: float = NEED_RIDGE,
) -> pl.Series:
    """The need model's probability of the flag for each covariate pattern (one row each).

    A logistic regression of ``events`` out of ``population`` on an intercept, the levels of
    ``categorical`` (one indicator each but the first level) and the 0/1 ``flags``, fitted by
    Newton-Raphson on the patterns' counts with a ridge penalty ``ridge / 2 * |b|^2`` on every
    coefficient but the intercept. With the intercept unpenalised the fitted probabilities times
    the patterns' people add up to the observed total (the score equation of the intercept).

    Returns
    -------
    pl.Series
        ``__p``: the fitted probability of each row of ``patterns``.

    References
    ----------
    .. [1] McCullagh P, Nelder JA. Generalized Linear Models, 2nd ed. Chapman and Hall; 1989,
       s. 4.4 (iteratively reweighted least squares).
    """
    import numpy as np
    from scipy.special import expit

    parts = [np.ones((patterns.height, 1))]
    for c in categorical:
        levels = patterns[c].cast(pl.String).unique().sort().to_list()
        parts.append(
            patterns.select(
                *[(pl.col(c).cast(pl.String) == v).cast(pl.Float64).alias(f"{c}={v}") for v in levels[1:]]
            ).to_numpy()
        )
    if flags:
        parts.append(patterns.select(*[pl.col(f).cast(pl.Float64) for f in flags]).to_numpy())
    x = np.hstack(parts)
    y = patterns[events].cast(pl.Float64).to_numpy()
    n = patterns[population].cast(pl.Float64).to_numpy()
    penalty = np.full(x.shape[1], ridge)
    penalty[0] = 0.0
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(max(y.sum(), 0.5) / max(n.sum() - y.sum(), 0.5))

    def loss(b: np.ndarray) -> float:
        eta = x @ b
        return float((n * np.logaddexp(0.0, eta) - y * eta).sum() + 0.5 * (penalty * b * b).sum())

    step, current = np.inf, loss(beta)
    for _ in range(NEED_ITERATIONS):
        p = expit(x @ beta)
        gradient = x.T @ (y - n * p) - penalty * beta
        hessian = (x * (n * p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        delta = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        scale = 1.0  # halve the Newton step until the penalised deviance falls
        while scale > 1e-8 and loss(beta + scale * delta) > current + 1e-12 * abs(current):
            scale /= 2
        beta = beta + scale * delta
        current = loss(beta)
        step = float(np.abs(scale * delta).max())
        if step < NEED_TOLERANCE:
            break
    else:
        raise ValueError(ERR_NEED_MODEL.format(n=NEED_ITERATIONS, step=step))
    return pl.Series("__p", expit(x @ beta))


@shared
def against_need(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measure: str,
    need: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """A flag (a referral) among the people in need, against what their need predicts, by group.

    The people in need have at least one recorded condition of ``need`` (default: every
    condition the data has) and a value of ``measure``. Each person's expected chance is that
    of a need model fitted on everyone in need (:func:`need_probabilities`: a logistic
    regression on age band, sex and each recorded condition of ``need``, the severity proxy,
    each condition with its own odds ratio); a group's expected number is the sum of its
    people's chances. The sex groups' model leaves sex out, the age bands' model age. So that
    the published expected numbers do not add up to an exact total (the fitted chances add up
    to the observed number), they are scaled to the observed total randomly rounded to 5
    (:func:`healthgap.stats.protected_rate` over the groups of one dimension). ``value`` is
    observed / expected (1: as often as people of the same age, sex and conditions across the
    population) with Byar's interval.

    The model has one coefficient per condition, not one cell per combination of conditions
    (thousands of sparse cells, whose randomly rounded reference counts made the expected
    numbers noisy).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``dimension_label``, ``level``, ``label``, ``order``, ``is_reference``,
        ``measure``, ``observed``, ``population`` (people in need), ``expected``, ``value``,
        ``lower_ci``, ``upper_ci``, ``note``. Exact aggregates: publish with
        ``counts=["observed", "population"]`` and ``recompute=`` :func:`recompute_ratios`
        (``events="observed"``, ``population="expected"``, ``multiplier=1``).

    References
    ----------
    .. [1] Breslow NE, Day NE (1987). Statistical Methods in Cancer Research, vol II, ch. 2.
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    from healthgap.stats import crude_rate

    lf = frame_of(people)
    present = lf.collect_schema().names()
    require(lf, [measure], what="against_need()")
    conds = [c for c in (need if need is not None else config.conditions) if c in present and c != measure]
    if not conds or "age" not in present:
        return pl.DataFrame()
    base, all_cells = _cells_frame(
        lf.filter(
            pl.any_horizontal(pl.col(c).fill_null(False) for c in conds) & pl.col(measure).is_not_null()
        ).with_columns(pl.col(c).fill_null(False).cast(pl.Int8) for c in conds),
        present,
    )
    counts_of = [
        pl.col(measure).cast(pl.Int64).sum().alias("observed"),
        pl.len().cast(pl.Int64).alias("population"),
    ]
    frames = []
    for dim in dimensions_in(config, lf, names=dimensions):
        cells = _standardised_cells(dim, all_cells)
        covariates = [*cells, *conds]
        with_level = base.with_columns(level_expr(dim.name).alias(LEVEL)).filter(pl.col(LEVEL).is_not_null())
        # rows in a fixed order before every fit and sum: a group_by's row order is not fixed, and
        # the fitted probabilities and expected counts then varied in their last digits between runs
        counts = (
            with_level.group_by(LEVEL, *covariates)
            .agg(counts_of)
            .collect()
            .sort([LEVEL, *covariates], nulls_last=True)
        )
        if counts.is_empty():
            continue
        patterns = (
            counts.group_by(covariates)
            .agg(pl.col("observed", "population").sum())
            .sort(covariates, nulls_last=True)
        )
        patterns = patterns.with_columns(need_probabilities(patterns, categorical=cells, flags=conds))
        exact = (
            counts.join(patterns.select(*covariates, "__p"), on=covariates, nulls_equal=True)
            .sort([LEVEL, *covariates], nulls_last=True)
            .group_by(LEVEL)
            .agg(
                pl.col("observed").sum(),
                (pl.col("population") * pl.col("__p")).sum().alias("__fitted"),
                pl.col("population").sum(),
            )
            .with_columns(pl.lit(measure).alias("measure"))
            .with_columns(
                (pl.col("__fitted") * protected_rate("observed", "__fitted", over=["measure"])).alias(
                    "expected"
                )
            )
            .sort(LEVEL)
        )
        ratio = crude_rate(
            exact, events="observed", population="expected", by=LEVEL, multiplier=1, confidence=confidence
        ).select(LEVEL, *_STATISTICS)
        out = exact.join(ratio, on=LEVEL).select(
            LEVEL, "measure", "observed", "population", "expected", *_STATISTICS
        )
        frames.append(label_levels(out, dim))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


#: Broad age groups, for measures whose five-year age bands are too small to publish: under 40,
#: the NHS Health Check ages (40 to 74), and 75 and over. Ordered, with no disadvantaged end: a
#: sentence names the highest and the lowest, allowing for the groups compared.
BROAD_AGE = Dimension(
    "age_band",
    "Broad age group",
    ("under 40", "40-74", "75+"),
    {},
    "40-74",
    noun="broad age group",
    ordered=True,
)


@shared
def broad_age_counts(
    people: pl.LazyFrame | pl.DataFrame,
    *,
    measure: str,
    kind: str,
    among: str | None = None,
    multiplier: float = 1000,
) -> pl.DataFrame:
    """A flag or count measure's counts by broad age group (:data:`BROAD_AGE`), exact.

    Parameters
    ----------
    people : the canonical person table (``age`` and ``measure``).
    measure : the measure's column.
    kind : "flag" (``numerator``: people for whom it is true, ``denominator``: people with a
        value; publish with ``recompute=`` :func:`recompute_shares`) or "count" (``events``,
        ``population``: people with a value; :func:`recompute_ratios`).
    among : a flag column restricting the people to those for whom it is true (e.g. the
        referred, for missed appointments).
    multiplier : events per this many people (counts).

    Returns
    -------
    pl.DataFrame
        ``dimension`` ("age_band"), ``dimension_label``, ``level``, ``label``, ``order``,
        ``is_reference``, the two counts and their statistics (``value``, ``lower_ci``,
        ``upper_ci``, ``note``: a share per 100, or events per ``multiplier``), one row per
        broad age group with anyone in it.
    """
    lf = frame_of(people)
    require(lf, ["age", measure, *([among] if among else [])], what="broad_age_counts()")
    where = pl.col(measure).is_not_null() & pl.col("age").is_not_null() & (pl.col("age") >= 0)
    if among is not None:
        where = where & pl.col(among).fill_null(False)
    level = (
        pl.when(pl.col("age") < 40)
        .then(pl.lit("under 40"))
        .when(pl.col("age") < 75)
        .then(pl.lit("40-74"))
        .otherwise(pl.lit("75+"))
        .alias(LEVEL)
    )
    names = ("numerator", "denominator") if kind == "flag" else ("events", "population")
    counts = (
        lf.filter(where)
        .group_by(level)
        .agg(
            pl.col(measure).cast(pl.Int64).sum().alias(names[0]),
            pl.len().cast(pl.Int64).alias(names[1]),
        )
        .collect()
    )
    empty = [pl.lit(None, pl.Float64).alias(c) for c in _STATISTICS[:3]] + [
        pl.lit(None, pl.String).alias("note")
    ]
    table = label_levels(counts, BROAD_AGE).with_columns(empty)
    if kind == "flag":
        return recompute_shares(table, numerator="numerator", denominator="denominator")
    return recompute_ratios(table, events="events", population="population", multiplier=multiplier)
