"""Indirectly standardised ratios (observed / expected events) with exact or Byar's limits.

Units (e.g. GP practices) are compared after their age and sex mix: each unit's expected
events are its population in every stratum (age band x sex, ...) times the reference rate
of that stratum, so a ratio above 1 means more events than the reference rates would give
the unit's own people. The ratios go on a funnel plot with
:func:`healthgap.stats.funnel_limits` and :func:`healthgap.stats.funnel_flag`
(``kind="ratio"``, the expected events on the x axis).

References
----------
.. [1] Breslow NE, Day NE. Statistical methods in cancer research, volume II: the design
   and analysis of cohort studies. Lyon: IARC; 1987 (indirect standardisation, Byar's method).
.. [2] Public Health England. Technical Guide: Confidence Intervals. 2018;
   PHEindicatormethods ``calculate_ISRatio``.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from ._ci import poisson_lower, poisson_method, poisson_upper
from ._common import (
    Frame,
    as_lazy,
    by_list,
    check_columns,
    check_confidence,
    check_multiplier,
    count_checks,
    engine_for,
    raise_count_problems,
)
from .funnel import BAD_DISPERSION

__all__ = [
    "isr",
    "event_dispersion",
    "EXPECTED",
    "NOTE_NO_EXPECTED",
    "NO_STRATA",
    "MISSING_REFERENCE",
    "REFERENCE_WITHOUT_POPULATION",
    "REFERENCE_DUPLICATES",
    "NEGATIVE_EVENTS",
]

#: Name of the expected-events column of :func:`isr`.
EXPECTED = "expected"
NOTE_NO_EXPECTED = "no expected events (no people in strata with reference events)"
NO_STRATA = "isr(): strata must name at least one column (e.g. ['age_band', 'sex']), got {value!r}."
MISSING_REFERENCE = (
    "isr(): {n} stratum/strata of the data have no row in the reference (first: {example}). Give "
    "the reference events and population of every stratum the units have people in."
)
REFERENCE_WITHOUT_POPULATION = (
    "isr(): {n} stratum/strata of the reference have zero population but the units have people "
    "there (first: {example}); their reference rate is unknown."
)
NEGATIVE_EVENTS = "event_dispersion(): {column!r} has negative or missing events per person ({n} row(s))."
REFERENCE_DUPLICATES = (
    "isr(): the reference has {n} stratum/strata on more than one row (first: {example}); give "
    "one row per stratum."
)


def _example(frame: pl.DataFrame, columns: Sequence[str]) -> str:
    row = frame.row(0, named=True)
    return ", ".join(f"{c}={row[c]!r}" for c in columns)


def event_dispersion(df: Frame, *, events: str, people: str | None = None) -> float:
    """D = Σ k² / Σ k over people with k events: how far repeated events inflate a count's variance.

    A count of events that can repeat for one person (admissions) has variance Σ_i k_i²
    (the sum over people of their squared counts), not the Poisson Σ_i k_i: a person admitted
    three times adds 9, not 3. D is that ratio; 1 when nobody has more than one event (flags,
    deaths). Dividing events and expected events by D gives effective Poisson counts, whose
    limits are those of PHEindicatormethods' DSR of non-independent events (its Σ f² x
    persons with f events) applied to a single unit.

    Parameters
    ----------
    df : one row per person (``events``: their count), or with ``people``, one row per
        number of events (``people`` with ``events`` each).
    events : the events per person column.
    people : optional column of people with that many events.

    Returns
    -------
    float
        D >= 1; 1.0 when there are no events.

    References
    ----------
    .. [1] PHEindicatormethods ``calculate_dsr(independent_events = FALSE)``: the variance of
       events that repeat from the distribution of events per person.
    .. [2] Spiegelhalter DJ. Handling over-dispersion of performance indicators. Qual Saf
       Health Care 2005;14:347-351.
    """
    func = "event_dispersion"
    lf = as_lazy(df, func)
    k = pl.col(events).cast(pl.Float64)
    m = pl.lit(1.0) if people is None else pl.col(people).cast(pl.Float64)
    row = lf.select(
        (m * k).sum().alias("o"),
        (m * k * k).sum().alias("o2"),
        ((k < 0) | k.is_null()).sum().alias("bad"),
    ).collect(engine=engine_for(df))
    o, o2, bad = row.row(0)
    if bad:
        raise ValueError(NEGATIVE_EVENTS.format(column=events, n=bad))
    return float(o2 / o) if o and o > 0 else 1.0


def isr(
    df: Frame,
    *,
    events: str,
    population: str,
    unit: str | Sequence[str],
    strata: str | Sequence[str],
    reference: Frame | None = None,
    multiplier: float = 1,
    confidence: float = 0.95,
    dispersion: float = 1.0,
) -> pl.DataFrame:
    """Indirectly standardised ratio of each unit: observed / expected events.

    Parameters
    ----------
    df : events and population per unit x stratum (rows sharing a unit and stratum are
        summed; strata where a unit has nobody may be left out).
    events, population : count columns.
    unit : the unit column(s), e.g. ``"gp_practice"``.
    strata : the standardisation column(s), e.g. ``["age_band", "sex"]``.
    reference : the reference events and population per stratum (columns ``strata``,
        ``events`` and ``population``, one row per stratum); ``None`` (default) takes the
        whole of ``df`` as the reference (internal standardisation: the units' observed
        and expected events then have the same total).
    multiplier : 1 for a ratio (reference = 1), 100 for the "SMR x 100" convention.
    confidence : two-sided confidence level.
    dispersion : D = Σ k² / Σ k of the events per person (:func:`event_dispersion`) when
        events repeat for one person: the limits are those of the effective count O / D
        (Poisson) over E / D; 1 (default) for independent events.

    Returns
    -------
    pl.DataFrame
        One row per unit: ``unit``, ``events`` (observed), ``expected``, ``population``,
        ``value`` (observed / expected x ``multiplier``), ``lower_ci``, ``upper_ci``,
        ``confidence``, ``statistic``, ``method`` ("Byars" from 10 events, "Exact
        (chi-squared)" below), ``note`` (:data:`NOTE_NO_EXPECTED` when nothing is expected).

    Notes
    -----
    E_u = Σ_s n_{u,s} O_s / N_s over the strata s (O_s, N_s the reference events and
    population); ratio = O_u / E_u, with O_u's Poisson limits (exact below 10 events,
    Byar's from 10, never below 0) divided by E_u. The expected events are treated as
    known (PHEindicatormethods ``calculate_ISRatio``).

    References
    ----------
    .. [1] Breslow NE, Day NE. Statistical methods in cancer research, vol II. IARC; 1987.
    .. [2] PHEindicatormethods ``calculate_ISRatio``.
    """
    func = "isr"
    confidence = check_confidence(confidence, func)
    multiplier = check_multiplier(multiplier, func)
    if isinstance(dispersion, bool) or not isinstance(dispersion, (int, float)) or not dispersion >= 1:
        raise ValueError(BAD_DISPERSION.format(func=func, value=dispersion))
    units, keys = by_list(unit), by_list(strata)
    if not keys:
        raise ValueError(NO_STRATA.format(value=strata))
    lf = as_lazy(df, func)
    check_columns(
        lf.collect_schema(), [*units, *keys, events, population], func, numeric=[events, population]
    )
    cells = raise_count_problems(
        lf.group_by([*units, *keys])
        .agg(pl.col(events).sum(), pl.col(population).sum(), *count_checks([events, population]))
        .collect(engine=engine_for(df)),
        [events, population],
        func,
    )
    if reference is None:
        ref = cells.group_by(keys).agg(
            pl.col(events).sum().alias("__ro"), pl.col(population).sum().alias("__rn")
        )
    else:
        rlf = as_lazy(reference, func)
        check_columns(rlf.collect_schema(), [*keys, events, population], func, numeric=[events, population])
        ref = raise_count_problems(
            rlf.group_by(keys)
            .agg(
                pl.col(events).sum().alias("__ro"),
                pl.col(population).sum().alias("__rn"),
                pl.len().alias("__rows"),
                *count_checks([events, population]),
            )
            .collect(),
            [events, population],
            func,
        )
        twice = ref.filter(pl.col("__rows") > 1)
        if twice.height:
            raise ValueError(REFERENCE_DUPLICATES.format(n=twice.height, example=_example(twice, keys)))
        ref = ref.drop("__rows")
    # in a fixed order, so each unit's expected count sums its strata in the same order on every run
    # (a group_by's and a join's row order are not fixed: the last digits of the sum varied)
    joined = cells.join(ref, on=keys, how="left", nulls_equal=True).sort([*units, *keys], nulls_last=True)
    n = pl.col(population).cast(pl.Float64)
    missing = joined.filter(pl.col("__rn").is_null() & (n > 0))
    if missing.height:
        raise ValueError(MISSING_REFERENCE.format(n=missing.height, example=_example(missing, keys)))
    orphan = joined.filter((pl.col("__rn") == 0) & (n > 0))
    if orphan.height:
        raise ValueError(REFERENCE_WITHOUT_POPULATION.format(n=orphan.height, example=_example(orphan, keys)))
    rate = pl.when(pl.col("__rn") > 0).then(pl.col("__ro").cast(pl.Float64) / pl.col("__rn")).otherwise(0.0)
    per_unit = joined.group_by(units).agg(
        pl.col(events).sum(), (n * rate).sum().alias(EXPECTED), pl.col(population).sum()
    )
    o, e = pl.col(events), pl.col(EXPECTED)
    od, ed = o.cast(pl.Float64) / dispersion, e / dispersion  # effective counts (D = 1: the counts)
    ok = e > 0
    out = per_unit.with_columns(
        pl.when(ok).then(o.cast(pl.Float64) / e * multiplier).alias("value"),
        pl.when(ok).then(poisson_lower(od, confidence) / ed * multiplier).alias("lower_ci"),
        pl.when(ok).then(poisson_upper(od, confidence) / ed * multiplier).alias("upper_ci"),
        pl.lit(confidence).alias("confidence"),
        pl.lit("Indirectly standardised ratio" + ("" if multiplier == 1 else f" x {multiplier:g}")).alias(
            "statistic"
        ),
        (
            poisson_method(od) + (f", events / {dispersion:.3g} (non-independent)" if dispersion != 1 else "")
        ).alias("method"),
        pl.when(~ok).then(pl.lit(NOTE_NO_EXPECTED)).alias("note"),
    )
    cols = [*units, events, EXPECTED, population, "value", "lower_ci", "upper_ci"]
    return out.select(*cols, "confidence", "statistic", "method", "note").sort(units, nulls_last=True)


#: Seed of :func:`protected_rate`'s random rounding (a fixed function of the stratum).
PROTECTED_SEED = 2013
#: The base the reference stratum events of internal indirect standardisation are randomly
#: rounded to (:func:`protected_rate`); read at call time, so a test of the exact method can set 1.
REFERENCE_ROUNDING = 5
_UNIT = 2**32


def random_round(
    count: str | pl.Expr, *, keys: Sequence[str], base: int | None = None, seed: int = PROTECTED_SEED
) -> pl.Expr:
    """A count randomly rounded to a multiple of ``base``, unbiased: x = qb + r becomes (q + 1)b
    with probability r/b, else qb.

    The draw is a fixed function of the row's ``keys`` (a hash with ``seed``), so a book
    renders the same twice and every row of one stratum gets the same draw. ``base`` None:
    :data:`REFERENCE_ROUNDING`.

    References
    ----------
    .. [1] Hundepool A et al. Statistical Disclosure Control. Wiley; 2012, s. 5.3 (random
       rounding).
    """
    c = (pl.col(count) if isinstance(count, str) else count).cast(pl.Float64)
    base = REFERENCE_ROUNDING if base is None else base
    if base <= 1:
        return c
    # no keys: one stratum, everyone (one draw, from a constant key)
    key = pl.struct(*keys) if keys else pl.struct(pl.lit(0, dtype=pl.Int64).alias("__all"))
    u = (key.hash(seed=seed) % _UNIT).cast(pl.Float64) / _UNIT
    low = (c / base).floor() * base
    return low + pl.when(u < (c - low) / base).then(float(base)).otherwise(0.0)


def protected_rate(
    events: str, population: str, *, over: Sequence[str], base: int | None = None, seed: int = PROTECTED_SEED
) -> pl.Expr:
    """The reference rate of each row's stratum (``over``) for internal indirect standardisation,
    from the stratum's events randomly rounded to ``base`` (:func:`random_round`) over its
    exact population.

    With the whole population as the reference, the groups' expected counts add up to the
    observed total exactly, and a published table of expected counts gives away an exact total
    (and, with it, the sum of any suppressed cells). From randomly rounded stratum events they
    add up to a sum of rounded counts instead, unbiased for the exact total. A stratum with no
    people gives a rate of 0. No ``over``: one stratum, every row (the overall rate).
    """
    if over:
        o = random_round(pl.col(events).sum().over(over), keys=over, base=base, seed=seed)
        n = pl.col(population).sum().over(over).cast(pl.Float64)
    else:
        o = random_round(pl.col(events).sum(), keys=(), base=base, seed=seed)
        n = pl.col(population).sum().cast(pl.Float64)
    return pl.when(n > 0).then(o / n).otherwise(0.0)
