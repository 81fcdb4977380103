"""Risk factors by group: shares (smoking) as age-standardised percentages, numbers (BMI) as
age-standardised means, among adults, by every equity dimension present.

The risk factors are the config's measures of kind ``risk factor`` (:func:`risk_factors`): a
flag is the share of adults with it; a category the share with its last code (the codes are
listed from lowest to highest risk: smoking ``[never, ex, current]`` gives current smoking);
a number its mean. Shares use :func:`healthgap.descriptive.prevalence.rates` (directly
age-standardised to ESP2013 over the adult bands the data cover, Dobson's interval; publish
with ``recompute=`` :func:`~healthgap.descriptive.prevalence.recompute_rates`). Means use
:func:`standardised_means`: the ESP2013-weighted mean of the age bands' means, with a normal
interval from the bands' variances. Every function returns exact aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import polars as pl

from healthgap.config import AGE_BANDS, Config, Dimension
from healthgap.descriptive._common import EVERYONE, LEVEL, dimensions_in, frame_of, known_levels, label_levels
from healthgap.descriptive.prevalence import covered_bands, rates
from healthgap.engine import dimension_cells, shared

__all__ = [
    "RiskFactor",
    "risk_factors",
    "adults",
    "adult_band_labels",
    "risk_factor_shares",
    "standardised_means",
    "ADULT_AGE",
    "MEAN_COLUMNS",
    "NOTE_FEW_PEOPLE",
]

#: Risk factors are described among people of this age and over.
ADULT_AGE = 18
#: No mean for a group with fewer than 2 people with a value in an age band it has people in.
NOTE_FEW_PEOPLE = "fewer than 2 people with a value in an age band"
#: Columns of :func:`standardised_means`.
MEAN_COLUMNS = (
    "dimension",
    "dimension_label",
    LEVEL,
    "label",
    "order",
    "is_reference",
    "measure",
    "population",
    "value",
    "lower_ci",
    "upper_ci",
    "std_error",
    "standardised",
    "note",
)


class RiskFactor(NamedTuple):
    """One risk factor of the config, as the page shows it."""

    #: the measure's name (its column)
    name: str
    #: its label ("Smoking status", "BMI")
    label: str
    #: "share" (a flag or a category's code: % of adults) or "mean" (a number)
    kind: str
    #: for a category, the code counted ("current"); else None
    code: str | None
    #: the unit of a mean ("kg/m²"), or None
    unit: str | None


def risk_factors(config: Config, columns: Sequence[str]) -> list[RiskFactor]:
    """The config's risk factors present in ``columns``, in the config's order.

    A flag or a category with codes is a share (a category counts its last code); a number is
    a mean; other types are left out.
    """
    out = []
    for m in config.measures_of("risk factor"):
        if m.name not in columns:
            continue
        if m.type == "flag":
            out.append(RiskFactor(m.name, m.label, "share", None, None))
        elif m.type == "category" and m.codes:
            out.append(RiskFactor(m.name, m.label, "share", str(m.codes[-1]), None))
        elif m.type == "number":
            out.append(RiskFactor(m.name, m.label, "mean", None, m.unit))
    return out


def adults(people: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """The people aged :data:`ADULT_AGE` and over."""
    return frame_of(people).filter(pl.col("age") >= ADULT_AGE)


def adult_band_labels(frame: pl.DataFrame) -> pl.DataFrame:
    """Relabel the age band holding :data:`ADULT_AGE` by the ages it has among adults ("15-19" -> "18-19")."""
    if frame.is_empty() or "label" not in frame.columns:
        return frame
    low = ADULT_AGE - ADULT_AGE % 5
    band, said = f"{low}-{low + 4}", f"{ADULT_AGE}-{low + 4}"
    if band == said:
        return frame
    first = (pl.col("dimension") == "age_band") & (pl.col(LEVEL).cast(pl.String) == band)
    return frame.with_columns(pl.when(first).then(pl.lit(said)).otherwise(pl.col("label")).alias("label"))


def _share_expr(factor: RiskFactor) -> pl.Expr:
    if factor.code is None:
        return pl.col(factor.name)
    return pl.col(factor.name).cast(pl.String) == factor.code


@shared
def risk_factor_shares(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    factors: Sequence[RiskFactor],
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Age-standardised share (%) of adults with each share risk factor, by each dimension.

    :func:`~healthgap.descriptive.prevalence.rates` over :func:`adults` (a missing value: not in
    the measure's population), standardised over the adult age bands the data cover.

    Returns
    -------
    pl.DataFrame
        As :func:`~healthgap.descriptive.prevalence.rates` (``measure`` is the factor's name);
        empty when no factor is a share.
    """
    shares = {f.name: _share_expr(f) for f in factors if f.kind == "share"}
    if not shares:
        return pl.DataFrame()
    lf = adults(people)
    out = rates(
        lf,
        config,
        measures=shares,
        dimensions=dimensions,
        multiplier=100,
        confidence=confidence,
        bands=covered_bands(lf),
    )
    return adult_band_labels(out)


def _moments_by_dimension(
    lf: pl.LazyFrame, dims: Sequence[Dimension], measure: str
) -> tuple[list[pl.DataFrame], tuple[str, ...]]:
    """People, mean and variance of ``measure`` by level x age band, for every dimension: one pass
    over the people.

    The people (adults with a value) are summarised once into the finest cells (every
    dimension's level but the age band's x age band): each cell's number of people n_i, mean m_i
    and sum of squared deviations from it M2_i, a table of thousands of rows. Each dimension's
    (level, band) combines its cells with Chan et al.'s parallel formula, for any number of
    cells at once: n = Σ n_i, m = Σ n_i m_i / n, M2 = Σ M2_i + Σ n_i (m_i - m)², variance
    M2 / (n - 1) (none for n < 2). Squared deviations are taken from the means, never raw sums
    of squares, so there is no cancellation between Σ x² and n m²: the result is the
    per-dimension mean and variance up to rounding in the order of the sums (relative 1e-12 and
    below; the counts are exact). A dimension's missing level is left out of its own cells only.
    Each frame: ``level``, ``__band``, ``n`` (Int64), ``m``, ``s2``, one row per level x band with
    someone in it, sorted by level and band. The second item is :func:`covered_bands` of the people, read
    off the same cells. Levels are grouped by the columns' own values and made text
    (:func:`level_expr`) in the cells, not person by person. The cells and their combination:
    :func:`healthgap.engine.dimension_cells` (the cells sorted by their keys, so the float sums
    are taken in one order every run).

    References
    ----------
    .. [1] Chan TF, Golub GH, LeVeque RJ (1979). Updating formulae and a pairwise algorithm for
       computing sample variances. Stanford CS report STAN-CS-79-773.
    """
    from healthgap.stats import age_bands

    if not dims:
        return [], covered_bands(lf)
    x = pl.col(measure).cast(pl.Float64)
    n = pl.len().cast(pl.Int64)
    mean = (pl.col("n") * pl.col("m")).sum() / pl.col("n").sum()
    tables = dimension_cells(
        lf,
        [d.name for d in dims],
        cells=[n.alias("n"), x.mean().alias("m"), (x.var(ddof=0) * n).alias("M2")],
        rollup=[
            pl.col("n").sum().alias("n"),
            mean.alias("m"),
            (pl.col("M2").sum() + (pl.col("n") * (pl.col("m") - mean) ** 2).sum()).alias("M2"),
        ],
        strata={"age_band": age_bands("age")},  # the age band dimension is this stratum
        total=EVERYONE,
        levels=known_levels(dims),
    )
    present = set(tables[EVERYONE].get_column("age_band").to_list())
    out = []
    for d in dims:  # config dimensions, not data rows
        cells = tables[d.name]
        out.append(
            cells.select(
                LEVEL,
                (pl.col(LEVEL) if d.name == "age_band" else pl.col("age_band")).alias("__band"),
                "n",
                "m",
                pl.when(pl.col("n") > 1).then(pl.col("M2") / (pl.col("n") - 1)).alias("s2"),
            )
        )
    return out, tuple(b for b in AGE_BANDS if b in present)


@shared
def standardised_means(
    people: pl.LazyFrame | pl.DataFrame,
    config: Config,
    *,
    measure: str,
    dimensions: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Age-standardised mean of ``measure`` among adults with a value, by each dimension.

    Each group's mean in each adult age band b the data cover (``m_b``, variance ``s_b²``, ``n_b``
    people) is weighted by the ESP2013 population ``w_b``: mean = Σ w_b m_b / Σ w_b, standard error
    √(Σ w_b² s_b² / n_b) / Σ w_b, interval mean ± z x standard error. Age bands (the dimension) get
    their crude mean. A group with fewer than 2 people with a value in a band gets no mean
    (:data:`NOTE_FEW_PEOPLE`).

    Returns
    -------
    pl.DataFrame
        :data:`MEAN_COLUMNS`: exact aggregates (``population``: adults with a value); publish with
        ``counts=["population"]``.

    References
    ----------
    .. [1] Eurostat (2013). Revision of the European Standard Population.
    .. [2] Breslow NE, Day NE. Statistical methods in cancer research, vol II. IARC; 1987 (direct
       standardisation of means).
    """
    from scipy.special import ndtri  # norm.ppf's own function, without importing scipy.stats (~1 s)

    from healthgap.stats import ESP2013

    z = float(ndtri(1 - (1 - confidence) / 2))
    lf = adults(people).filter(pl.col(measure).is_not_null())
    dims = dimensions_in(config, lf, names=dimensions)
    by_dimension, used = _moments_by_dimension(lf, dims, measure)
    weights = ESP2013.select(
        pl.col("age_band").cast(pl.String).alias("__band"),
        pl.col("standard_population").cast(pl.Float64).alias("w"),
    ).filter(pl.col("__band").is_in(list(used)))
    frames = []
    for dim, cells in zip(dims, by_dimension):  # config dimensions
        standardise = dim.name != "age_band"
        if standardise:
            grid = cells.select(LEVEL).unique().join(weights, how="cross")
            full = grid.join(cells, on=[LEVEL, "__band"], how="left")
            per = full.group_by(LEVEL).agg(
                pl.col("n").fill_null(0).sum().alias("population"),
                ((pl.col("w") * pl.col("m")).sum() / pl.col("w").sum()).alias("value"),
                ((pl.col("w") ** 2 * pl.col("s2") / pl.col("n")).sum().sqrt() / pl.col("w").sum()).alias(
                    "std_error"
                ),
                (pl.col("n").fill_null(0) < 2).any().alias("__few"),
            )
        else:
            per = cells.select(
                LEVEL,
                pl.col("n").alias("population"),
                pl.col("m").alias("value"),
                (pl.col("s2") / pl.col("n")).sqrt().alias("std_error"),
                (pl.col("n") < 2).alias("__few"),
            )
        few = pl.col("__few")
        per = per.with_columns(
            pl.when(~few).then(pl.col("value")).alias("value"),
            pl.when(~few).then(pl.col("std_error")).alias("std_error"),
        ).with_columns(
            (pl.col("value") - z * pl.col("std_error")).alias("lower_ci"),
            (pl.col("value") + z * pl.col("std_error")).alias("upper_ci"),
            pl.lit(dim.name).alias("dimension"),
            pl.lit(measure).alias("measure"),
            pl.lit(standardise).alias("standardised"),
            pl.when(few).then(pl.lit(NOTE_FEW_PEOPLE)).alias("note"),
        )
        frames.append(label_levels(per, dim))
    if not frames:
        return pl.DataFrame()
    return adult_band_labels(pl.concat([f.select(MEAN_COLUMNS) for f in frames], how="vertical_relaxed"))
