"""Recorded disease: crude and age-standardised rates by equity dimension.

:func:`rates` is the engine used for prevalence here and for outcomes in
:mod:`healthgap.descriptive.outcomes`: it counts events and people by level x
ESP2013 age band for every equity dimension and every measure in one pass over
the people (:func:`_counts_by_dimension`), then computes crude rates, directly standardised rates
(DSR) and rate ratios against the dimension's reference level with
:mod:`healthgap.stats`. :func:`gradient` adds the slope and relative indices
of inequality across deprivation quintiles; :func:`intersection` the DSR
for every deprivation x ethnic group cell.

Disclosure control happens once, when a page publishes a table
(:func:`healthgap.disclosure.publish`). The analyses here return exact
aggregates, with each DSR's Dobson ``variance`` and ``design_effect``; the page
passes :func:`recompute_rates` (or :func:`recompute_dsr` for
:func:`intersection`) as ``recompute=``, which computes the simple statistics
(crude rates, the crude rate ratios) and the intervals of the DSRs and of their
ratios from the counts as they will be published (disclosure rule 8): an
interval computed from the exact count gives that count back (see
:func:`recompute_dsr`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from healthgap.config import AGE_BANDS, DEFAULT_DIMENSIONS, Config, Dimension
from healthgap.descriptive._common import (
    EVERYONE,
    LEVEL,
    dimensions_in,
    frame_of,
    known_levels,
    label_levels,
    level_expr,
    measure_names,
)
from healthgap.engine import dimension_cells, shared

__all__ = [
    "rates",
    "prevalence",
    "gradient",
    "concentration",
    "intersection",
    "recompute_rates",
    "recompute_dsr",
    "design_effect",
    "covered_bands",
    "dsr_ratio_rows",
    "dsr_ratio_statistics",
    "RATE_COLUMNS",
    "EXACT_RATE_COLUMNS",
    "MIN_GRADIENT_LEVELS",
    "gradient_rank",
    "measure_labels",
]

#: Columns of a :func:`rates` table after the level columns, as published (after :func:`recompute_rates`).
RATE_COLUMNS = (
    "measure",
    "events",
    "population",
    "crude",
    "crude_lower",
    "crude_upper",
    "value",
    "lower_ci",
    "upper_ci",
    "standardised",
    "rate_ratio",
    "rr_lower",
    "rr_upper",
    "statistic",
    "method",
    "note",
)
#: Columns of :func:`rates` after the level columns: :data:`RATE_COLUMNS`, the DSR's Dobson
#: ``variance`` and its ``design_effect`` (what :func:`recompute_rates` needs; neither is published).
EXACT_RATE_COLUMNS = (*RATE_COLUMNS[:9], "variance", "design_effect", *RATE_COLUMNS[9:])
#: The exact columns :func:`recompute_rates` and :func:`recompute_dsr` use and drop.
_NOT_PUBLISHED = ("variance", "design_effect")

NOTE_CI_SUPPRESSED = "not shown: a deprivation fifth's count is suppressed"
#: The same note for any other ordered dimension ("... an education level's count ...").
NOTE_LEVEL_SUPPRESSED = "not shown: {a} {noun}'s count is suppressed"
#: Levels an ordered dimension needs for a slope index (:func:`healthgap.stats.sii`).
MIN_GRADIENT_LEVELS = 3
ERR_NO_MEASURES = "rates(): give at least one measure, e.g. measures={'chd': pl.col('chd')}."

#: Stands for each dimension's reference level when the crude rate ratios are recomputed.
_REFERENCE = "__reference"


def _measure_exprs(measures: Mapping[str, pl.Expr | str] | Sequence[str]) -> dict[str, pl.Expr]:
    if isinstance(measures, Mapping):
        out = {k: (pl.col(v) if isinstance(v, str) else v) for k, v in measures.items()}
    else:
        out = {m: pl.col(m) for m in measures}
    if not out:
        raise ValueError(ERR_NO_MEASURES)
    return {k: e.cast(pl.Int64).alias(k) for k, e in out.items()}


@shared
def rates(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measures: Mapping[str, pl.Expr | str] | Sequence[str],
    dimensions: Sequence[str] | None = None,
    multiplier: float = 100,
    confidence: float = 0.95,
    bands: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Crude and directly age-standardised rates of each measure by each dimension, from exact counts.

    Parameters
    ----------
    people : the canonical person table.
    config : the loaded config (dimensions, levels, references).
    measures : measure name -> per-person count or boolean expression (or a
        list of boolean/count column names). A person whose value is missing
        (null) is left out of that measure's population: rates are among the
        people with a recorded value.
    dimensions : dimension names to use (default every configured one present).
    multiplier : rates per this many people (100 gives percentages).
    confidence : confidence level of all intervals.
    bands : the ESP2013 age bands to standardise over; default :func:`covered_bands`, the
        bands the data have people in (ESP2013 restricted to them and renormalised, so data
        on ages 30-74 are not standardised to a population of all ages). A group with no
        people in one of them gets no DSR (its rate there is unknown) and the note
        :data:`healthgap.stats.dsr.NOTE_EMPTY_BAND`.

    Returns
    -------
    pl.DataFrame
        Exact aggregates, long: ``dimension``, ``level``, ``label``, ``order``,
        ``is_reference`` and :data:`EXACT_RATE_COLUMNS`. Publish it with
        ``recompute=`` :func:`recompute_rates` (same ``multiplier`` and
        ``confidence``), which computes the simple statistics from the counts as
        published and drops ``variance`` and ``design_effect``.
        ``value``/``lower_ci``/``upper_ci`` are the DSR (Dobson CI) except for
        ``age_band``, where they are the crude rate (``standardised`` False).
        ``rate_ratio`` compares each level's DSR (or crude rate) with the
        reference level's. People with no level (e.g. a missing locality) are
        left out.

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals.
    .. [2] Dobson AJ et al. (1991). Confidence intervals for weighted sums of Poisson
       parameters. Stat Med 10:457-462.
    .. [3] Eurostat (2013). Revision of the European Standard Population.
    """
    from healthgap.stats import crude_rate, rate_ratio
    from healthgap.stats.dsr import dsr_table

    lf = frame_of(people)
    exprs = _measure_exprs(measures)
    names = list(exprs)
    dims = dimensions_in(config, lf, names=dimensions)
    by_dimension, covered = _counts_by_dimension(lf, dims, exprs)
    used = list(bands) if bands is not None else list(covered)
    frames = []
    for dim, counts in zip(dims, by_dimension):  # config dimensions, not data rows
        standardise = dim.name != "age_band"
        keys = ["measure", LEVEL]
        totals = counts.group_by(keys, maintain_order=True).agg(
            pl.col("events").sum(), pl.col("population").sum()
        )
        crude = crude_rate(
            totals,
            events="events",
            population="population",
            by=keys,
            multiplier=multiplier,
            confidence=confidence,
        ).select(
            *keys,
            "events",
            "population",
            pl.col("value").alias("crude"),
            pl.col("lower_ci").alias("crude_lower"),
            pl.col("upper_ci").alias("crude_upper"),
            *([] if standardise else ["statistic", "method", "note"]),
        )
        if standardise:
            main = dsr_table(
                counts,
                events="events",
                population="population",
                age_band="age_band",
                by=keys,
                multiplier=multiplier,
                confidence=confidence,
                bands=used,
            ).select(
                *keys, "value", "lower_ci", "upper_ci", "variance", "events", "statistic", "method", "note"
            )
            main = main.with_columns(design_effect()).drop("events")
            out = crude.join(main, on=keys, how="left")
        else:
            out = crude.with_columns(
                pl.col("crude").alias("value"),
                pl.col("crude_lower").alias("lower_ci"),
                pl.col("crude_upper").alias("upper_ci"),
                pl.lit(None, dtype=pl.Float64).alias("variance"),
                pl.lit(None, dtype=pl.Float64).alias("design_effect"),
            )
        present_levels = set(counts.get_column(LEVEL).unique().to_list())
        if dim.reference in present_levels:
            rr = rate_ratio(
                counts if standardise else totals,
                events="events",
                population="population",
                group=LEVEL,
                reference=dim.reference,
                by="measure",
                age_band="age_band" if standardise else None,
                confidence=confidence,
                bands=used if standardise else None,
            ).select(
                *keys,
                pl.col("value").alias("rate_ratio"),
                pl.col("lower_ci").alias("rr_lower"),
                pl.col("upper_ci").alias("rr_upper"),
            )
            out = out.join(rr, on=keys, how="left")
        else:
            out = out.with_columns(
                pl.lit(None, dtype=pl.Float64).alias(c) for c in ("rate_ratio", "rr_lower", "rr_upper")
            )
        out = out.with_columns(pl.lit(standardise).alias("standardised")).select(LEVEL, *EXACT_RATE_COLUMNS)
        frames.append(label_levels(out, dim).sort("measure", "order", maintain_order=True))
    if not frames:
        return pl.DataFrame()
    order = {m: i for i, m in enumerate(names)}
    table = pl.concat(frames, how="vertical_relaxed").sort(
        pl.col("dimension").replace_strict(
            {d: i for i, d in enumerate(dict.fromkeys(f.get_column("dimension").item(0) for f in frames))},
            return_dtype=pl.Int64,
        ),
        pl.col("measure").replace_strict(order, return_dtype=pl.Int64),
        "order",
        maintain_order=True,
    )
    return table


def _counts_by_dimension(
    lf: pl.LazyFrame, dims: Sequence[Dimension], exprs: Mapping[str, pl.Expr]
) -> tuple[list[pl.DataFrame], tuple[str, ...]]:
    """Events and people of every measure by level x ESP2013 age band, for every dimension: one
    pass over the people.

    The people are counted once into the finest cells (every dimension's level but the age
    band's x age band), each measure's events and the people with a value of it, a table of
    thousands of rows; each dimension's counts are sums of those cells, integers, so the same
    numbers as counting the people once per dimension. A dimension's missing level is left out of
    its own counts only; a person whose value of a measure is missing is not in that measure's
    population; people with a missing or negative age are left out. Each frame is as
    :func:`healthgap.stats.counts_by_age_band` by ``[level, measure]`` gives it (every level x
    measure with someone in it, with all 19 bands, sorted by level, measure and band) with the band
    as text. The second item is :func:`covered_bands` of the people, read off the same cells.
    Levels are grouped by the columns' own values and made text (:func:`level_expr`) in the
    cells, not person by person: values that read the same are summed together by the dimension.
    The cells and the sums: :func:`healthgap.engine.dimension_cells`.
    """
    from healthgap.stats import AGE_BAND_LABELS, age_bands
    from healthgap.stats.esp2013 import AGE_BAND

    if not dims:
        return [], covered_bands(lf)
    names = list(exprs)
    tables = dimension_cells(
        lf,
        [d.name for d in dims],
        cells=[
            e
            for i, expr in enumerate(exprs.values())  # config measures, not data rows
            for e in (expr.sum().alias(f"e{i}"), expr.count().cast(pl.Int64).alias(f"p{i}"))
        ],
        rollup=[pl.col(f"{x}{i}").sum() for i in range(len(names)) for x in ("e", "p")],
        strata={"age_band": age_bands("age")},
        total=EVERYONE,
        levels=known_levels(dims),
        drop_null_strata=True,  # missing or negative ages
    )
    present = set(tables[EVERYONE].get_column("age_band").to_list())
    bands = pl.LazyFrame({"age_band": list(AGE_BAND_LABELS)}, schema={"age_band": AGE_BAND})
    out = []
    for d in dims:  # config dimensions, not data rows
        wide = tables[d.name].lazy()
        level = pl.col(LEVEL)
        band = (level if d.name == "age_band" else pl.col("age_band")).cast(AGE_BAND).alias("age_band")
        cells = pl.concat(
            [
                wide.select(
                    level,
                    pl.lit(name).alias("measure"),
                    band,
                    pl.col(f"e{i}").cast(pl.Int64).alias("events"),
                    pl.col(f"p{i}").cast(pl.Int64).alias("population"),
                ).filter(pl.col("population") > 0)  # someone with a value of it in the cell
                for i, name in enumerate(names)
            ]
        )
        keys_out = [LEVEL, "measure", "age_band"]
        grid = cells.select(LEVEL, "measure").unique().join(bands, how="cross")
        counts = (
            grid.join(cells, on=keys_out, how="left", nulls_equal=True)
            .with_columns(pl.col("events", "population").fill_null(0))
            .sort(keys_out, nulls_last=True)
            .with_columns(pl.col("age_band").cast(pl.String))
        )
        out.append(counts)
    return pl.collect_all(out), tuple(b for b in AGE_BANDS if b in present)


def design_effect(value: str = "value", variance: str = "variance", events: str = "events") -> pl.Expr:
    """The design effect of a DSR, k = variance x events / DSR² (``design_effect``; null without a DSR).

    Dobson's variance of a DSR is Σ (w_i/n_i)² O_i, a sum over its O events each weighted
    by its age band's w_i/n_i; it equals DSR² k / O, where k >= 1 (Kish's design effect of
    those weights: 1 when every event weighs the same) depends only on how the events
    spread over the age bands, not on how many there are. :func:`recompute_dsr` uses it to
    give the interval of the same DSR from the published count.

    References
    ----------
    .. [1] Kish L (1965). Survey Sampling. Wiley (design effect of unequal weights).
    .. [2] Dobson AJ et al. Stat Med 1991;10:457-462.
    """
    return (
        pl.when(pl.col(value) > 0)
        .then(pl.col(variance) * pl.col(events).cast(pl.Float64) / pl.col(value) ** 2)
        .alias("design_effect")
    )


def _published_variance() -> pl.Expr:
    """The DSR's variance from its count as published: DSR² k / O (k: :func:`design_effect`)."""
    o = pl.col("events").cast(pl.Float64)
    return pl.when(o > 0).then(pl.col("value") ** 2 * pl.col("design_effect") / o)


@shared
def covered_bands(people: pl.LazyFrame | pl.DataFrame) -> tuple[str, ...]:
    """The ESP2013 age bands (``"0-4"`` ... ``"90+"``) that someone in ``people`` is in, youngest first.

    The bands :func:`rates` and :func:`intersection` standardise over by default; all 19
    when the data cover every age.

    References
    ----------
    .. [1] Eurostat (2013). Revision of the European Standard Population.
    """
    from healthgap.config import AGE_BANDS

    found = set(
        frame_of(people)
        .select(level_expr("age_band").alias("band"))
        .unique()
        .collect()
        .get_column("band")
        .to_list()
    )
    return tuple(b for b in AGE_BANDS if b in found)


def recompute_dsr(table: pl.DataFrame, *, confidence: float = 0.95) -> pl.DataFrame:
    """Dobson's limits of each DSR in ``table`` from its ``events`` as published; ``variance`` dropped.

    The DSR (``value``) comes from the exact counts. Its limits, DSR + sqrt(var / O)
    (O_L - O) and DSR + sqrt(var / O) (O_U - O), are computed with O the count as it
    will be published (rounded, disclosure rule 8) and var = DSR² k / O, the variance
    the same DSR would have from O events spread over the age bands as the real ones
    are (k: :func:`design_effect`). With the exact variance instead, the limits would
    give the count back: they give var (their spread is sqrt(var / O) for the published
    O), and DSR² / var is at most the true count (Cauchy-Schwarz), often above the
    published one (a count published as 10 known to be 12). With var = DSR² k / O the
    published DSR, limits and count depend on the true count only through the
    published one (two groups with the same age-specific rates and 14 or 16 events
    publish the same row), and DSR² / var = O / k is never above it. With exact
    counts (disclosure control off) these are :func:`~healthgap.stats.dsr`'s limits.
    Pass it to :func:`healthgap.disclosure.publish` as ``recompute=`` for a table of
    :func:`intersection`.

    Parameters
    ----------
    table : ``events``, ``value``, ``variance`` and ``design_effect`` columns (as
        :func:`intersection` returns them), counts rounded as they will be published.
    confidence : confidence level of the limits.

    Returns
    -------
    pl.DataFrame
        ``table`` with ``lower_ci`` and ``upper_ci`` replaced, without ``variance`` and
        ``design_effect``.

    References
    ----------
    .. [1] Dobson AJ et al. Confidence intervals for weighted sums of Poisson parameters.
       Stat Med 1991;10:457-462.
    .. [2] NHS Digital. Hospital Episode Statistics: disclosure control method (2018).
    """
    from healthgap.stats.dsr import dobson_limits

    lower, upper = dobson_limits(
        pl.col("value"), _published_variance(), pl.col("events").cast(pl.Float64), confidence
    )  # null where the DSR is (fewer than 10 events)
    return table.with_columns(lower.alias("lower_ci"), upper.alias("upper_ci")).drop(
        _NOT_PUBLISHED, strict=False
    )


def recompute_rates(
    table: pl.DataFrame, *, multiplier: float = 100, confidence: float = 0.95
) -> pl.DataFrame:
    """The simple statistics of a :func:`rates` table, from its counts as they will be published.

    Pass it to :func:`healthgap.disclosure.publish` as ``recompute=`` (with the
    ``multiplier`` and ``confidence`` the table was computed with): the crude rates
    and their intervals, the crude rate ratios (dimensions that are not
    age-standardised), Dobson's limits of the DSRs (:func:`recompute_dsr`) and the
    intervals of the ratios of DSRs come from the published ``events`` and
    ``population`` (disclosure rule 8); the DSRs and their ratios stay as computed
    from the exact counts. The interval of a ratio of DSRs, exp(ln R ± z sqrt(var_a /
    DSR_a² + var_ref / DSR_ref²)), uses the variances of :func:`recompute_dsr` (DSR² k
    / O for the published O): with the exact ones it would give the exact count back
    as the limits of a DSR would. ``variance`` and ``design_effect`` are dropped, so
    the columns are :data:`RATE_COLUMNS`.

    Parameters
    ----------
    table : a :func:`rates` (or :func:`prevalence`, or
        :func:`~healthgap.descriptive.outcomes.outcome_rates`) table, counts rounded as
        they will be published.
    multiplier : rates per this many people.
    confidence : confidence level of all intervals.

    References
    ----------
    .. [1] NHS Digital. Hospital Episode Statistics: disclosure control method (2018):
       percentages are calculated from the rounded numerator and denominator.
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals.
    """
    from healthgap.stats import crude_rate

    if table.is_empty():
        return table
    keys = ["dimension", LEVEL, "measure"]
    stats = ("value", "lower_ci", "upper_ci", "statistic", "method", "note")
    crude = crude_rate(
        table.select(*keys, "events", "population"),
        events="events",
        population="population",
        by=keys,
        multiplier=multiplier,
        confidence=confidence,
    ).select(*keys, *[pl.col(c).alias(f"__crude_{c}") for c in stats])
    std = pl.col("standardised")
    joined = table.join(crude, on=keys, how="left", nulls_equal=True, maintain_order="left")
    joined = _recompute_dsr_ratios(joined, confidence=confidence)
    out = recompute_dsr(joined, confidence=confidence).with_columns(
        pl.col("__crude_value").alias("crude"),
        pl.col("__crude_lower_ci").alias("crude_lower"),
        pl.col("__crude_upper_ci").alias("crude_upper"),
        *[pl.when(std).then(pl.col(c)).otherwise(pl.col(f"__crude_{c}")).alias(c) for c in stats],
    )
    kept = [c for c in table.columns if c not in _NOT_PUBLISHED]
    return _recompute_crude_ratios(out, confidence=confidence).select(kept)


def _recompute_dsr_ratios(table: pl.DataFrame, *, confidence: float) -> pl.DataFrame:
    """The intervals of the ratios of DSRs (standardised rows), from the variances of the published counts.

    APHO's log-normal interval exp(ln R ± z sqrt(rel_a + rel_ref)), with rel = var / DSR² =
    k / O for the published O (:func:`recompute_dsr`); the ratio itself is unchanged.
    """
    from scipy.special import ndtri

    z = float(ndtri(1 - (1 - confidence) / 2))
    o = pl.col("events").cast(pl.Float64)
    rel = pl.when(pl.col("standardised") & (o > 0)).then(pl.col("design_effect") / o)
    ref = rel.filter(pl.col("is_reference")).first().over(["dimension", "measure"])
    se = (rel + ref).sqrt()
    ratio = pl.col("rate_ratio")
    shown = pl.col("standardised") & pl.col("rr_lower").is_not_null() & pl.col("rr_upper").is_not_null()
    return table.with_columns(
        pl.when(shown).then(ratio * (-z * se).exp()).otherwise(pl.col("rr_lower")).alias("rr_lower"),
        pl.when(shown).then(ratio * (z * se).exp()).otherwise(pl.col("rr_upper")).alias("rr_upper"),
    )


def _recompute_crude_ratios(table: pl.DataFrame, *, confidence: float) -> pl.DataFrame:
    """The rate ratios of the rows that are not age-standardised, from their counts (exact binomial)."""
    from healthgap.stats import rate_ratio

    crude = table.filter(~pl.col("standardised"))
    if not crude.get_column("is_reference").any():
        return table  # no reference level: the ratios are missing already
    group = pl.when(pl.col("is_reference")).then(pl.lit(_REFERENCE)).otherwise(pl.col(LEVEL)).alias("__group")
    keys = ["dimension", "measure", "__group"]
    rr = rate_ratio(
        crude.select("dimension", "measure", group, "events", "population"),
        events="events",
        population="population",
        group="__group",
        reference=_REFERENCE,
        by=["dimension", "measure"],
        confidence=confidence,
    ).select(*keys, *[pl.col(c).alias(f"__rr_{c}") for c in ("value", "lower_ci", "upper_ci")])
    std = pl.col("standardised")
    return (
        table.with_columns(group)
        .join(rr, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            pl.when(std).then(pl.col(c)).otherwise(pl.col(f"__rr_{s}")).alias(c)
            for c, s in (("rate_ratio", "value"), ("rr_lower", "lower_ci"), ("rr_upper", "upper_ci"))
        )
    )


def dsr_ratio_rows(
    rates_table: pl.DataFrame,
    *,
    measure: str,
    level: str,
    reference: str,
) -> pl.DataFrame:
    """The two rows of a :func:`rates` table whose DSRs of ``measure`` are compared.

    Exact aggregates: ``level``, ``events``, ``population``, ``value`` (the DSR) and
    ``design_effect``. Publish them with ``recompute=partial(dsr_ratio_statistics,
    level=level, reference=reference)``, which gives the ratio of the two DSRs and its
    interval from the counts as published: any two groups, not only a group and the
    dimension's reference.
    """
    return rates_table.filter(
        (pl.col("measure") == measure) & pl.col("level").is_in([level, reference])
    ).select("level", "events", "population", "value", "design_effect")


def dsr_ratio_statistics(
    table: pl.DataFrame, *, level: str, reference: str, confidence: float = 0.95
) -> pl.DataFrame:
    """The ratio of the DSR of ``level`` to that of ``reference``, with its interval from the published counts.

    APHO's log-normal interval exp(ln R ± z sqrt(var_a / DSR_a² + var_ref / DSR_ref²)), with
    each variance DSR² k / O for the count O as published (k: ``design_effect``; see
    :func:`recompute_dsr`): the exact variances would give the exact counts back. The same
    as :func:`recompute_rates` gives a group against the reference.

    Parameters
    ----------
    table : the rows of :func:`dsr_ratio_rows`, counts rounded as they will be published.
    level, reference : the levels compared.
    confidence : confidence level of the interval.

    Returns
    -------
    pl.DataFrame
        ``level``, ``events``, ``population``, ``value`` (the ratio; 1 for the reference),
        ``lower_ci``, ``upper_ci`` (none for the reference); no ratio when either DSR is missing.

    References
    ----------
    .. [1] APHO Technical Briefing 3 (2008): comparing standardised rates.
    """
    from scipy.special import ndtri

    z = float(ndtri(1 - (1 - confidence) / 2))
    o = pl.col("events").cast(pl.Float64)
    rel = pl.when(o > 0).then(pl.col("design_effect") / o)
    is_ref = pl.col("level") == reference
    ref_value = pl.col("value").filter(is_ref).first()
    ref_rel = rel.filter(is_ref).first()
    ratio = pl.col("value") / ref_value
    se = (rel + ref_rel).sqrt()
    return table.filter(pl.col("level").is_in([level, reference])).select(
        "level",
        "events",
        "population",
        pl.when(is_ref).then(pl.lit(1.0)).otherwise(ratio).alias("value"),
        pl.when(~is_ref).then(ratio * (-z * se).exp()).alias("lower_ci"),
        pl.when(~is_ref).then(ratio * (z * se).exp()).alias("upper_ci"),
    )


@shared
def prevalence(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    conditions: Sequence[str] | None = None,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Recorded prevalence (%) of each condition by each equity dimension, from exact counts.

    :func:`rates` with ``multiplier=100`` over the config's conditions
    (``config.measures_of("condition")``) present in the data, plus
    ``measure_label`` (the measure's label): publish it with ``recompute=``
    :func:`recompute_rates` (``multiplier=100``). The population of each condition
    is the people with a recorded value for it.

    References
    ----------
    .. [1] NHS England, Quality and Outcomes Framework (QOF) recorded prevalence methodology.
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals.
    """
    lf = frame_of(people)
    present = lf.collect_schema().names()
    wanted = conditions or measure_names(config, "condition")
    conds = [c for c in wanted if c in present]
    if not conds:
        return pl.DataFrame()
    out = rates(lf, config, measures=conds, dimensions=dimensions, multiplier=100, confidence=confidence)
    if out.is_empty():
        return out
    return out.with_columns(measure_labels(config))


def measure_labels(config: Config, *, column: str = "measure") -> pl.Expr:
    """``measure_label``: each ``column`` value's measure label from the config (else the contract's, else
    the name)."""
    from healthgap.contract import CONTRACT

    labels = {**{c: col.label for c, col in CONTRACT.items()}, **{m.name: m.label for m in config.measures}}
    return (
        pl.col(column)
        .replace_strict(labels, default=pl.col(column), return_dtype=pl.String)
        .alias("measure_label")
    )


def _withheld(published: pl.DataFrame | None, dimension: str, columns: Sequence[str]) -> pl.Expr:
    """True for measures with a null in any of ``columns`` at any level of ``dimension`` in ``published``."""
    if published is None:
        return pl.lit(False)
    gaps = published.filter(
        (pl.col("dimension") == dimension) & pl.any_horizontal(pl.col(c).is_null() for c in columns)
    )
    return pl.col("measure").is_in(gaps.get_column("measure").unique().implode())


def _as_dimension(dimension: Dimension | str) -> Dimension:
    if isinstance(dimension, Dimension):
        return dimension
    return DEFAULT_DIMENSIONS[dimension]


def gradient_rank(dimension: Dimension) -> pl.Expr:
    """Each level's rank from the most disadvantaged end (1) of an ordered dimension (null if unknown).

    The order of ``dimension.order``, reversed when ``disadvantaged`` is "last".
    """
    order = list(dimension.order)
    if dimension.disadvantaged == "last":
        order.reverse()
    ranks = {level: i + 1 for i, level in enumerate(order)}
    return pl.col(LEVEL).cast(pl.String).replace_strict(ranks, default=None, return_dtype=pl.Int64)


def gradient(
    rates_table: pl.DataFrame,
    *,
    dimension: Dimension | str = "imd_quintile",
    confidence: float = 0.95,
    seed: int = 2024,
    published: pl.DataFrame | None = None,
    transform: bool = True,
) -> pl.DataFrame:
    """Slope and relative index of inequality across the levels of an ordered ``dimension``.

    Uses the DSRs (``value`` and its CI) of ``rates_table`` (from :func:`rates`)
    for each measure, weighted by its ``population`` column; the levels are ranked
    from the most disadvantaged end (:func:`gradient_rank`: deprivation fifth 1
    first). The book passes the published table (populations and Dobson's limits
    from the counts as published, disclosure rule 8). Pass, as ``published``, the
    table after disclosure control: measures with a suppressed level are left out
    (the index and the other levels would give it back). A dimension with fewer
    than :data:`MIN_GRADIENT_LEVELS` levels gets no row.

    Parameters
    ----------
    rates_table : a :func:`rates` table (published).
    dimension : the ordered dimension (a name: a built-in dimension, deprivation by default).
    transform : fit the line to the log of the rates (default: rates differ in proportion), as
        PHEindicatormethods' ``phe_sii(transform = TRUE)``; the RII is then exp(slope) and the SII
        the difference of the back-transformed ends (:func:`healthgap.stats.sii`).

    Returns
    -------
    pl.DataFrame
        One row per measure: ``measure``, ``population``, ``sii``, ``sii_lower``,
        ``sii_upper``, ``rii``, ``rii_lower``, ``rii_upper``, ``note``. Fingertips
        sign convention: a negative SII means higher rates at the more disadvantaged end.

    References
    ----------
    .. [1] Low A, Low A (2004). Measuring the gap: quantifying and comparing local health
       inequalities. J Public Health 26:388-395.
    .. [2] OHID Fingertips, Slope index of inequality technical document.
    """
    from healthgap.stats import sii

    dim = _as_dimension(dimension)
    rows = rates_table.filter(pl.col("dimension") == dim.name).with_columns(
        gradient_rank(dim).alias("quantile")
    )
    ok = rows.group_by("measure").agg(
        (pl.col("value").is_not_null() & pl.col("lower_ci").is_not_null()).all().alias("ok"),
        pl.col("quantile").n_unique().alias("k"),
    )
    withheld = _withheld(published, dim.name, ("events", "population", "value"))
    good = ok.filter(pl.col("ok") & (pl.col("k") >= MIN_GRADIENT_LEVELS) & ~withheld).get_column("measure")
    use = rows.filter(pl.col("measure").is_in(good.implode()) & pl.col("quantile").is_not_null())
    schema_cols = [
        "measure",
        "population",
        "sii",
        "sii_lower",
        "sii_upper",
        "rii",
        "rii_lower",
        "rii_upper",
        "note",
    ]
    if use.is_empty():
        return pl.DataFrame(
            schema={c: (pl.String if c in ("measure", "note") else pl.Float64) for c in schema_cols}
        )
    out = sii(
        use,
        quantile="quantile",
        population="population",
        value="value",
        lower_ci="lower_ci",
        upper_ci="upper_ci",
        value_type="rate",
        by="measure",
        confidence=confidence,
        seed=seed,
        transform=transform,
    )
    return out.select(schema_cols)


@shared
def intersection(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    condition: str,
    rows: str = "imd_quintile",
    columns: str = "ethnicity",
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Age-standardised prevalence (%) for every combination of two dimensions.

    Returns
    -------
    pl.DataFrame
        ``row_level``, ``row_label``, ``column_level``, ``column_label``,
        ``events``, ``population``, ``value``, ``lower_ci``, ``upper_ci``,
        ``note`` (cells with under 10 events have no DSR), ``variance`` (Dobson's) and
        ``design_effect``: exact aggregates, to publish with ``recompute=``
        :func:`recompute_dsr`.

    References
    ----------
    .. [1] Bauer GR (2014). Incorporating intersectionality theory into population health
       research methodology. Soc Sci Med 110:10-17.
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals.
    """
    from healthgap.stats import counts_by_age_band
    from healthgap.stats.dsr import dsr_table

    lf = frame_of(people)
    dims = {d.name: d for d in dimensions_in(config, lf, names=[rows, columns])}
    r, c = dims[rows], dims[columns]
    base = lf.select(
        level_expr(rows).alias("row_level"),
        level_expr(columns).alias("column_level"),
        pl.col("age"),
        pl.col(condition).cast(pl.Int64).alias("events"),
    ).filter(pl.col("row_level").is_not_null() & pl.col("column_level").is_not_null())
    counts = counts_by_age_band(base.collect(), events="events", by=["row_level", "column_level"])
    out = dsr_table(
        counts.with_columns(pl.col("age_band").cast(pl.String)),
        events="events",
        population="population",
        age_band="age_band",
        by=["row_level", "column_level"],
        multiplier=100,
        confidence=confidence,
        bands=list(covered_bands(lf)),
    )
    r_order = {lvl: i for i, lvl in enumerate(r.order)}
    c_order = {lvl: i for i, lvl in enumerate(c.order)}
    return (
        out.with_columns(
            pl.col("row_level")
            .replace_strict({k: r.label_of(k) for k in r_order}, default=pl.col("row_level"))
            .alias("row_label"),
            pl.col("column_level")
            .replace_strict({k: c.label_of(k) for k in c_order}, default=pl.col("column_level"))
            .alias("column_label"),
            pl.col("row_level")
            .replace_strict(r_order, default=len(r_order), return_dtype=pl.Int64)
            .alias("__r"),
            pl.col("column_level")
            .replace_strict(c_order, default=len(c_order), return_dtype=pl.Int64)
            .alias("__c"),
        )
        .sort("__r", "__c")
        .select(
            "row_level",
            "row_label",
            "column_level",
            "column_label",
            "events",
            "population",
            "value",
            "lower_ci",
            "upper_ci",
            "note",
            "variance",
            design_effect(),
        )
    )


def concentration(
    rates_table: pl.DataFrame,
    *,
    dimension: Dimension | str = "imd_quintile",
    confidence: float = 0.95,
    published: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Concentration index of each measure's (crude) cases across the levels of an ordered dimension.

    Uses the ``events`` and ``population`` of ``rates_table`` (from :func:`rates`)
    for ``dimension`` (deprivation by default), its levels ranked from the most
    disadvantaged end (:func:`gradient_rank`). Cases are people with the
    condition (binary outcome). Not age-standardised: it describes where the
    cases are, which is what services meet.

    ``published`` is the same table after disclosure control: a measure with a
    suppressed count at any level gets no index (with the other levels
    published, the index and the populations give the missing count back).

    Returns
    -------
    pl.DataFrame
        One row per measure: ``measure``, ``ci`` (concentration index),
        ``ci_lower``, ``ci_upper``, ``ci_note``. Negative values mean cases are
        concentrated among more disadvantaged people.

    References
    ----------
    .. [1] Kakwani N, Wagstaff A, van Doorslaer E (1997). Socioeconomic inequalities in
       health: measurement, computation and statistical inference. J Econometrics 77:87-103.
    """
    from healthgap.stats import concentration_index

    dim = _as_dimension(dimension)
    rows = (
        rates_table.filter(pl.col("dimension") == dim.name)
        .with_columns(gradient_rank(dim).alias("quantile"))
        .filter(
            pl.col("quantile").is_not_null() & pl.col("events").is_not_null() & (pl.col("population") > 0)
        )
    )
    if rows.is_empty():
        return pl.DataFrame(
            schema={
                "measure": pl.String,
                "ci": pl.Float64,
                "ci_lower": pl.Float64,
                "ci_upper": pl.Float64,
                "ci_note": pl.String,
            }
        )
    out = concentration_index(
        rows.select("measure", "quantile", "events", "population"),
        quantile="quantile",
        events="events",
        population="population",
        by="measure",
        confidence=confidence,
    )
    out = out.select(
        "measure",
        pl.col("value").alias("ci"),
        pl.col("lower_ci").alias("ci_lower"),
        pl.col("upper_ci").alias("ci_upper"),
        pl.col("note").alias("ci_note"),
    )
    if published is None:
        return out
    hide = _withheld(published, dim.name, ("events", "population"))
    noun = dim.noun or dim.label.lower()
    note = (
        NOTE_CI_SUPPRESSED
        if dim.name == "imd_quintile"
        else NOTE_LEVEL_SUPPRESSED.format(a="an" if noun[:1] in "aeiou" else "a", noun=noun)
    )
    return out.with_columns(
        *[pl.when(hide).then(None).otherwise(pl.col(c)).alias(c) for c in ("ci", "ci_lower", "ci_upper")],
        pl.when(hide).then(pl.lit(note)).otherwise(pl.col("ci_note")).alias("ci_note"),
    )
