"""Access and treatment: who is found, who is treated, who waits.

- :func:`observed_expected` - recorded prevalence against what the group's age
  and sex mix would predict at the whole population's rates (indirect
  standardisation): a ratio under 1 suggests under-recording.
- :func:`detection` - where true status exists (synthetic or linked data):
  the share of people who truly have a condition that are recorded.
- :func:`treatment` - treatment among the eligible (statins, anticoagulation,
  blood pressure control).
- :func:`waits` and :func:`missed` - waits for a first cardiology appointment
  and missed appointments among people referred.

Disclosure control happens once, when a page publishes a table
(:func:`healthgap.disclosure.publish`). The analyses return exact aggregates;
the page passes :func:`recompute_shares` (percentages) or
:func:`recompute_ratios` (observed/expected, missed appointments per 100) as
``recompute=``, which computes the statistics from the counts as they will be
published (disclosure rule 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from healthgap.config import Config, Dimension
from healthgap.contract import CONDITION_LABELS, truth_column
from healthgap.descriptive._common import LEVEL, dimensions_in, frame_of, label_levels, level_expr, require

__all__ = [
    "observed_expected",
    "detection",
    "treatment",
    "TREATMENT_MEASURES",
    "eligible_expr",
    "STATIN_ALWAYS",
    "STATIN_FROM_40",
    "cha2ds2_vasc",
    "waits",
    "missed",
    "EIGHTEEN_WEEKS",
    "recompute_shares",
    "recompute_ratios",
]

#: The statistics :func:`recompute_shares` and :func:`recompute_ratios` replace.
_STATISTICS = ("value", "lower_ci", "upper_ci", "note")

#: Days in 18 weeks, the NHS referral-to-treatment standard.
EIGHTEEN_WEEKS = 126

TreatmentMeasure = Literal["statin", "anticoagulant", "bp_control"]
#: measure -> (label, columns needed)
TREATMENT_MEASURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "statin": (
        "Statin prescribed (CHD, stroke/TIA or PAD; or diabetes or CKD aged 40+)",
        ("statin", "chd", "stroke_tia", "pad", "diabetes", "ckd"),
    ),
    "anticoagulant": (
        "Anticoagulant prescribed (AF with CHA2DS2-VASc of 2+, 3+ for women)",
        ("anticoagulant", "af", "heart_failure", "hypertension", "diabetes", "stroke_tia", "chd", "pad"),
    ),
    "bp_control": (
        "Blood pressure below 140 mmHg (treated hypertension)",
        ("systolic_bp", "hypertension", "antihypertensive"),
    ),
}


def cha2ds2_vasc() -> pl.Expr:
    """CHA2DS2-VASc stroke risk score from recorded conditions, age and sex.

    Heart failure 1, hypertension 1, age 75+ 2, diabetes 1, stroke/TIA 2,
    vascular disease (CHD or PAD) 1, age 65-74 1, female 1.

    References
    ----------
    .. [1] Lip GYH et al. (2010). Refining clinical risk stratification for predicting
       stroke and thromboembolism in atrial fibrillation. Chest 137:263-272.
    """
    age = pl.col("age")
    return (
        pl.col("heart_failure").cast(pl.Int64)
        + pl.col("hypertension").cast(pl.Int64)
        + 2 * (age >= 75).cast(pl.Int64)
        + ((age >= 65) & (age < 75)).cast(pl.Int64)
        + pl.col("diabetes").cast(pl.Int64)
        + 2 * pl.col("stroke_tia").cast(pl.Int64)
        + (pl.col("chd") | pl.col("pad")).cast(pl.Int64)
        + (pl.col("sex") == "female").cast(pl.Int64)
    )


#: Conditions that make a person eligible for a statin: always / from age 40.
STATIN_ALWAYS = ("chd", "stroke_tia", "pad")
STATIN_FROM_40 = ("diabetes", "ckd")


def eligible_expr(
    measure: TreatmentMeasure, *, available: Sequence[str] | None = None
) -> tuple[pl.Expr, pl.Expr]:
    """(eligible, achieved) expressions for a treatment measure.

    ``available`` (the dataset's columns) lets the statin measure use the
    qualifying conditions that exist; a dataset without, say, PAD then counts
    eligibility from the others (and :func:`treatment` names them in the label).

    References
    ----------
    .. [1] NICE CG181 (2014, updated 2023). Cardiovascular disease: risk assessment and
       reduction, including lipid modification (statins for secondary prevention).
    .. [2] NICE NG196 (2021). Atrial fibrillation: diagnosis and management.
    .. [3] NICE NG136 (2019). Hypertension in adults: target below 140/90 mmHg.
    """
    if measure == "statin":
        have = set(available) if available is not None else set(STATIN_ALWAYS + STATIN_FROM_40)
        always = [pl.col(c) for c in STATIN_ALWAYS if c in have]
        later = [pl.col(c) for c in STATIN_FROM_40 if c in have]
        parts = always + ([pl.any_horizontal(later) & (pl.col("age") >= 40)] if later else [])
        if not parts:
            raise ValueError("The statin measure needs at least one of chd, stroke_tia, pad, diabetes, ckd.")
        return pl.any_horizontal(parts), pl.col("statin")
    if measure == "anticoagulant":
        female = (pl.col("sex") == "female").cast(pl.Int64)
        return pl.col("af") & ((cha2ds2_vasc() - female) >= 2), pl.col("anticoagulant")
    if measure == "bp_control":
        eligible = pl.col("hypertension") & pl.col("antihypertensive") & pl.col("systolic_bp").is_not_null()
        return eligible, pl.col("systolic_bp") < 140
    raise ValueError(
        f"Unknown treatment measure {measure!r}; expected one of {', '.join(TREATMENT_MEASURES)}."
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
    cell. The ratio's interval is Byar's (exact below 10) interval of the
    observed count divided by the expected count.

    The counts and the ratios are exact: publish the table with ``recompute=``
    :func:`recompute_ratios` (``events="observed"``, ``population="expected"``,
    ``multiplier=1``), which computes the ratios from the observed counts as published.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ``order``, ``is_reference``,
        ``measure``, ``observed``, ``expected``, ``population``, ``value``
        (ratio, 1 = as expected), ``lower_ci``, ``upper_ci``, ``note``.

    References
    ----------
    .. [1] Breslow NE, Day NE (1987). Statistical Methods in Cancer Research, vol II, ch. 2.
    .. [2] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    from healthgap.stats import age_bands, crude_rate

    lf = frame_of(people)
    present = lf.collect_schema().names()
    conds = [c for c in (conditions or config.conditions) if c in present]
    cells = ["age_band", "sex"]
    base = lf.with_columns(age_bands("age").cast(pl.String).alias("age_band")).filter(
        pl.col("age_band").is_not_null() & pl.col("sex").is_not_null()
    )
    frames = []
    for dim in dimensions_in(config, lf, names=dimensions):
        if dim.name == "age_band":
            continue
        counts = (
            base.with_columns(level_expr(dim.name).alias(LEVEL))
            .filter(pl.col(LEVEL).is_not_null())
            .group_by(LEVEL, *cells)
            .agg(
                *[pl.col(c).cast(pl.Int64).sum().alias(c) for c in conds],
                pl.len().cast(pl.Int64).alias("population"),
            )
            .unpivot(
                index=[LEVEL, *cells, "population"], on=conds, variable_name="measure", value_name="observed"
            )
            .with_columns(
                (
                    pl.col("observed").sum().over("measure", *cells)
                    / pl.col("population").sum().over("measure", *cells)
                ).alias("__rate")
            )
            .group_by("measure", LEVEL)
            .agg(
                pl.col("observed").sum(),
                (pl.col("population") * pl.col("__rate")).sum().alias("expected"),
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
    table: pl.DataFrame, *, numerator: str, denominator: str, confidence: float = 0.95
) -> pl.DataFrame:
    """Each row's percentage ``numerator / denominator`` and its Wilson interval, from its counts.

    Pass it to :func:`healthgap.disclosure.publish` as ``recompute=`` for a table of
    :func:`detection` (``recorded``/``affected``), :func:`treatment`
    (``treated``/``eligible``) or :func:`waits` (``over_18_weeks``/``seen``): it
    receives the counts as they will be published, so the percentages do not give the
    exact counts back (disclosure rule 8).

    Parameters
    ----------
    table : an access table with the two count columns.
    numerator, denominator : the count columns.
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
        multiplier=100,
        confidence=confidence,
    )
    return _with_statistics(table, stat)


def recompute_ratios(
    table: pl.DataFrame, *, events: str, population: str, multiplier: float, confidence: float = 0.95
) -> pl.DataFrame:
    """Each row's ``events / population x multiplier`` and its Byar's (exact below 10) interval.

    Pass it to :func:`healthgap.disclosure.publish` as ``recompute=`` for a table of
    :func:`observed_expected` (``events="observed"``, ``population="expected"``,
    ``multiplier=1``) or :func:`missed` (``events="events"``,
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


def _proportions(
    pairs: list[tuple[Dimension, pl.DataFrame]],
    *,
    numerator: str,
    denominator: str,
    by: Sequence[str] = (),
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
            multiplier=100,
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
    """Shares of several measures by group from one aggregation per dimension.

    ``aggs`` hold ``n__<measure>`` (numerator) and ``d__<measure>`` (denominator)
    sums; each dimension's wide row per level becomes one row per level x
    ``measure`` before :func:`_proportions`.
    """
    pairs = []
    for dim, wide in _per_dimension(lf, config, dimensions, aggs):
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
    The counts and shares are exact: publish the table with ``recompute=``
    :func:`recompute_shares` (``recorded``/``affected``).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``measure``, ``recorded``
        (truly affected and recorded), ``affected`` (truly affected), ``value``
        (%), ``lower_ci``, ``upper_ci`` (Wilson), ``note``.

    References
    ----------
    .. [1] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    .. [2] Public Health England (2017). Hypertension prevalence estimates for local
       populations (recorded versus expected prevalence).
    """
    lf = frame_of(people)
    present = lf.collect_schema().names()
    conds = [c for c in (conditions or config.conditions) if c in present and truth_column(c) in present]
    if not conds:
        return pl.DataFrame()
    aggs = [
        *[(pl.col(c) & pl.col(truth_column(c))).cast(pl.Int64).sum().alias(f"n__{c}") for c in conds],
        *[pl.col(truth_column(c)).cast(pl.Int64).sum().alias(f"d__{c}") for c in conds],
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


def treatment(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measures: Sequence[TreatmentMeasure] = ("statin", "anticoagulant", "bp_control"),
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share (%) of eligible people treated (or controlled), by group, from exact counts.

    Measures whose columns the dataset lacks are left out. The counts and shares
    are exact: publish the table with ``recompute=`` :func:`recompute_shares`
    (``treated``/``eligible``).

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
    lf = frame_of(people)
    present = set(lf.collect_schema().names())

    def usable_measure(m: str) -> bool:
        if m == "statin":
            qualifying = [c for c in STATIN_ALWAYS + STATIN_FROM_40 if c in present]
            return {"statin", "age", "sex"} <= present and bool(qualifying)
        return all(c in present for c in (*TREATMENT_MEASURES[m][1], "age", "sex"))

    usable = [m for m in measures if usable_measure(m)]
    if not usable:
        return pl.DataFrame()
    aggs = []
    for m in usable:
        elig, done = eligible_expr(m, available=list(present))
        aggs += [
            (elig & done.fill_null(False)).cast(pl.Int64).sum().alias(f"n__{m}"),
            elig.cast(pl.Int64).sum().alias(f"d__{m}"),
        ]
    out = _measure_shares(
        lf,
        config,
        dimensions,
        aggs,
        usable,
        numerator="treated",
        denominator="eligible",
        confidence=confidence,
    )
    labels = {m: TREATMENT_MEASURES[m][0] for m in usable}
    missing = [c for c in STATIN_ALWAYS + STATIN_FROM_40 if c not in present]
    if "statin" in labels and missing:
        used = [c for c in STATIN_ALWAYS + STATIN_FROM_40 if c in present]
        names = [CONDITION_LABELS[c].lower() for c in used]
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        labels["statin"] = f"Statin prescribed (eligible from recorded {joined} only)"
    return out.with_columns(pl.col("measure").replace_strict(labels).alias("measure_label")).sort(
        "dimension", "measure", "order", maintain_order=True
    )


def waits(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Waits from cardiology referral to first outpatient appointment, by group.

    Among people seen (``days_to_first_outpatient`` recorded).

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``seen`` (count), ``median_days``
        (whole days), ``mean_days`` (to 0.1 day; both rounded so that they do not
        give the exact number of people back), ``over_18_weeks`` (count), ``value``
        (% waiting over 18 weeks), ``lower_ci``, ``upper_ci`` (Wilson), ``note``:
        exact aggregates, to publish with ``recompute=`` :func:`recompute_shares`
        (``over_18_weeks``/``seen``).

    References
    ----------
    .. [1] NHS England, Referral to treatment (RTT) waiting times: the 18-week standard.
    .. [2] Wilson EB (1927). J Am Stat Assoc 22:209-212.
    """
    lf = frame_of(people)
    require(lf, ["days_to_first_outpatient"], what="waits()")
    days = pl.col("days_to_first_outpatient")
    aggs = [  # mean and median rounded: in full, mean x people seen gives the exact number back
        pl.len().cast(pl.Int64).alias("seen"),
        days.median().round(0).alias("median_days"),
        days.mean().round(1).alias("mean_days"),
        (days > EIGHTEEN_WEEKS).cast(pl.Int64).sum().alias("over_18_weeks"),
    ]
    pairs = _per_dimension(lf, config, dimensions, aggs, where=days.is_not_null())
    out = _proportions(
        pairs,
        numerator="over_18_weeks",
        denominator="seen",
        confidence=confidence,
    )
    if out.is_empty():
        return out
    extra = pl.concat(
        [c.select(pl.lit(d.name).alias("dimension"), LEVEL, "median_days", "mean_days") for d, c in pairs]
    )
    return out.join(extra, on=["dimension", LEVEL], how="left").select(
        *out.columns[: out.columns.index("over_18_weeks")],
        "seen",
        "median_days",
        "mean_days",
        "over_18_weeks",
        "value",
        "lower_ci",
        "upper_ci",
        "note",
    )


def missed(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Missed cardiology appointments per 100 people referred, by group.

    Among people referred when ``cardiology_referral`` exists, else among
    everyone. The interval treats missed appointments as Poisson counts.

    Returns
    -------
    pl.DataFrame
        ``dimension``, ``level``, ``label``, ..., ``events`` (missed
        appointments), ``population`` (people referred), ``value`` (per 100),
        ``lower_ci``, ``upper_ci``, ``note``: exact aggregates, to publish with
        ``recompute=`` :func:`recompute_ratios` (``events``/``population``,
        ``multiplier=100``).

    References
    ----------
    .. [1] Public Health England (2018). Technical Guide: Confidence Intervals (Byar's method).
    """
    from healthgap.stats import crude_rate

    lf = frame_of(people)
    require(lf, ["missed_appointments"], what="missed()")
    where = pl.col("cardiology_referral") if "cardiology_referral" in lf.collect_schema().names() else None
    aggs = [
        pl.col("missed_appointments").fill_null(0).sum().cast(pl.Int64).alias("events"),
        pl.len().cast(pl.Int64).alias("population"),
    ]
    frames = []
    for dim, counts in _per_dimension(lf, config, dimensions, aggs, where=where):
        stat = crude_rate(
            counts, events="events", population="population", by=LEVEL, multiplier=100, confidence=confidence
        ).drop("confidence", "statistic", "method")
        frames.append(label_levels(stat, dim))
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
