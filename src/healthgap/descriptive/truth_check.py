"""Does the book find what was built in? Each injected inequality of a synthetic population,
estimated with the package's methods from its own definition.

A synthetic population's ``truth.json`` lists ``effects``: one entry per injected
inequality, with SQL definitions of the compared groups (``group_sql``, ``reference_sql``),
who is counted (``denominator``) and what (``numerator``), the statistic of a group
(``crude``, ``dsr`` or ``observed/expected``) and the scale of the comparison (``ratio`` or
``difference``, times ``per``). :func:`effect_estimates` computes each from the person table:

- ``dsr``: directly age-standardised rates over the entry's ``age_bands``
  (:func:`healthgap.stats.rate_ratio` / :func:`~healthgap.stats.rate_difference`, Dobson's
  variance);
- ``observed/expected``: Σ numerator / Σ ``expected_count`` of each group, the ratio of the
  two with the log-scale interval of two Poisson counts (expected counts treated as known);
- ``crude`` with a true/false numerator (``proportion``): the ratio of the proportions with
  the Katz log interval, or their difference with Newcombe's hybrid score interval;
- ``crude`` with a count measure as numerator (``events``): events per person, the ratio or
  difference of two rates, with the variance of each group's count scaled by its index of
  dispersion (variance / mean of the events per person, ``dispersion``; quasi-Poisson [4]_): a
  person can have several events and some have many (a negative binomial count), so a
  Poisson interval would be too narrow;
- ``crude`` with any other number (``mean``: days, BMI): the ratio (delta method on the log
  scale) or difference (Welch) of the two means.

Proportions and event rates are simple statistics of counts: :func:`recompute_effects`
recomputes them from the counts as published (rule 8 of :mod:`healthgap.disclosure`), and
with every row the verdict.

The verdicts judge all the effects together, so they allow for multiplicity. An effect is
*found* when its 95% interval excludes no difference on the side of the value built in (the
book's usual test of a finding) and its simultaneous interval contains the value built in: the
95% interval widened to the Bonferroni level for all the effects judged (``joint_lower_ci``,
``joint_upper_ci``; each side scaled by ``z(1 - a / 2m) / z(1 - a / 2)``, on the log scale for
ratios), so that, when every estimate is right, all of them contain their built-in values
together with probability at least 95% (with 34 effects about 1.7 of the 95% intervals would
miss their built-in values by chance alone). An effect built in as *no difference* (its truth
entry has an ``equivalence_margin`` ``M``, a ratio) is found when its 95% interval lies inside
``[1/M, M]`` (two one-sided tests at 2.5% each [5]_) and its simultaneous interval contains the
value built in.

References
----------
.. [1] Katz D, Baptista J, Azen SP, Pike MC. Obtaining confidence intervals for the risk
   ratio in cohort studies. Biometrics 1978;34:469-474.
.. [2] Newcombe RG. Stat Med 1998;17:873-890 (method 10).
.. [3] Breslow NE, Day NE. Statistical methods in cancer research, vol II. IARC; 1987.
.. [4] McCullagh P, Nelder JA. Generalized linear models, 2nd ed. Chapman & Hall; 1989,
   section 6.2 (over-dispersion).
.. [5] Schuirmann DJ. A comparison of the two one-sided tests procedure and the power approach
   for assessing the equivalence of average bioavailability. J Pharmacokinet Biopharm
   1987;15:657-680.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from scipy.special import ndtri

from healthgap.config import compile_sql
from healthgap.engine import shared
from healthgap.stats import age_bands, rate_difference, rate_ratio, wilson_limits

__all__ = [
    "effect_estimates",
    "recompute_effects",
    "VERDICTS",
    "COUNTS",
    "ERR_STATISTIC",
]

#: Verdict codes, in the order the page lists them. ``no difference``: an effect built in as no
#: difference, found to be within its equivalence margin.
VERDICTS = ("found", "no difference", "chance", "not shown", "missed", "wrong direction", "too few")
#: The count columns of an estimates frame.
COUNTS = ("numerator", "denominator", "reference_numerator", "reference_denominator")
ERR_STATISTIC = "truth effect {id!r}: unknown statistic {statistic!r} (crude, dsr or observed/expected)."

_SIDE = "__side"


def _kind(entry: Mapping[str, Any], schema: pl.Schema, count_columns: Sequence[str]) -> str:
    if entry["statistic"] == "dsr":
        return "dsr"
    if entry["statistic"] == "observed/expected":
        return "observed/expected"
    if entry["statistic"] != "crude":
        raise ValueError(ERR_STATISTIC.format(id=entry["id"], statistic=entry["statistic"]))
    dtype = pl.LazyFrame(schema=schema).select(compile_sql(entry["numerator"])).collect_schema().dtypes()[0]
    if dtype == pl.Boolean:
        return "proportion"
    return "events" if entry["numerator"].strip() in count_columns else "mean"


def _queries(people: pl.LazyFrame, entry: Mapping[str, Any], kind: str) -> list[pl.LazyFrame]:
    """The queries of one effect: its age-band cells (dsr only), then its sums by side."""
    side = (
        pl.when(compile_sql(entry["group_sql"]).fill_null(False))
        .then(pl.lit("group"))
        .when(compile_sql(entry["reference_sql"]).fill_null(False))
        .then(pl.lit("reference"))
    )
    num = compile_sql(entry["numerator"])
    base = people.filter(compile_sql(entry["denominator"]).fill_null(False) & num.is_not_null()).with_columns(
        side.alias(_SIDE)
    )
    base = base.filter(pl.col(_SIDE).is_not_null())
    queries = []
    if kind == "dsr":
        queries.append(
            base.group_by(_SIDE, age_bands("age").cast(pl.String).alias("age_band")).agg(
                num.cast(pl.Float64).sum().alias("events"), pl.len().cast(pl.Int64).alias("population")
            )
        )
    queries.append(
        base.group_by(_SIDE).agg(
            num.cast(pl.Float64).sum().alias("x"),
            (num.cast(pl.Float64) ** 2).sum().alias("xx"),
            pl.len().cast(pl.Int64).alias("n"),
            *(
                [compile_sql(entry["expected_count"]).cast(pl.Float64).sum().alias("e")]
                if kind == "observed/expected"
                else []
            ),
        )
    )
    for query in queries:
        query.collect_schema()  # a column the table lacks fails here, before any pass
    return queries


def _estimate(
    entry: Mapping[str, Any], kind: str, confidence: float, results: Sequence[pl.DataFrame]
) -> dict[str, Any]:
    """The exact counts (and, for dsr and means, the estimate) of one effect, from the results
    of its :func:`_queries`."""
    out: dict[str, Any] = {}
    ratio = entry["scale"] == "ratio"
    per = float(entry.get("per") or 1.0)
    sums = results[-1]
    if kind == "dsr":
        cells = results[0]
        bands = list(entry.get("age_bands") or []) or None
        if ratio:
            res = rate_ratio(
                cells,
                events="events",
                population="population",
                group=_SIDE,
                reference="reference",
                age_band="age_band",
                confidence=confidence,
                bands=bands,
            )
        else:
            res = rate_difference(
                cells,
                events="events",
                population="population",
                group=_SIDE,
                reference="reference",
                age_band="age_band",
                confidence=confidence,
                bands=bands,
                multiplier=per,
            )
        row = res.filter(pl.col(_SIDE) == "group").row(0, named=True)
        out.update(value=row["value"], lower_ci=row["lower_ci"], upper_ci=row["upper_ci"])
    g = sums.filter(pl.col(_SIDE) == "group").to_dicts()
    r = sums.filter(pl.col(_SIDE) == "reference").to_dicts()
    if not g or not r:
        return out
    g0, r0 = g[0], r[0]
    out.update(
        denominator=g0["n"],
        reference_denominator=r0["n"],
        numerator=round(g0["x"]) if kind != "mean" else None,
        reference_numerator=round(r0["x"]) if kind != "mean" else None,
    )
    if kind == "events":
        out.update(dispersion=_dispersion(g0), reference_dispersion=_dispersion(r0))
    z = float(ndtri(1 - (1 - confidence) / 2))
    if kind == "observed/expected":
        o1, o2, e1, e2 = g0["x"], r0["x"], g0["e"], r0["e"]
        if o1 > 0 and o2 > 0 and e1 > 0 and e2 > 0:
            v = (o1 / e1) / (o2 / e2)
            se = (1 / o1 + 1 / o2) ** 0.5
            out.update(value=v, lower_ci=v * math.exp(-z * se), upper_ci=v * math.exp(z * se))
    elif kind == "mean":
        n1, n2 = g0["n"], r0["n"]
        if n1 > 1 and n2 > 1:
            m1, m2 = g0["x"] / n1, r0["x"] / n2
            v1 = (g0["xx"] - n1 * m1**2) / (n1 - 1)
            v2 = (r0["xx"] - n2 * m2**2) / (n2 - 1)
            if ratio and m1 > 0 and m2 > 0:
                v = m1 / m2
                se = (v1 / (n1 * m1**2) + v2 / (n2 * m2**2)) ** 0.5
                out.update(value=v, lower_ci=v * math.exp(-z * se), upper_ci=v * math.exp(z * se))
            elif not ratio:
                d = (m1 - m2) * per
                se = (v1 / n1 + v2 / n2) ** 0.5 * per
                out.update(value=d, lower_ci=d - z * se, upper_ci=d + z * se)
    return out


def _estimates(
    effects: Sequence[Mapping[str, Any]], planned: Sequence[tuple[str, list[pl.LazyFrame]]], confidence: float
) -> list[tuple[str, dict[str, Any]]]:
    """Each effect's method and :func:`_estimate`, its queries all collected together (one
    :func:`polars.collect_all`, which reads the person table once for all of them); when that
    fails, effect by effect, an effect whose query fails having no value."""
    try:
        flat = iter(pl.collect_all([q for _, queries in planned for q in queries]))
        results = [[next(flat) for _ in queries] for _, queries in planned]
    except pl.exceptions.PolarsError:
        results = []
        for _, queries in planned:  # effect definitions, not data rows
            try:
                results.append([q.collect() for q in queries])
            except pl.exceptions.PolarsError:
                results.append([])
    out: list[tuple[str, dict[str, Any]]] = []
    for entry, (kind, queries), found in zip(effects, planned, results, strict=True):
        if queries and not found:
            out.append(("missing", {}))
            continue
        try:
            out.append((kind, _estimate(entry, kind, confidence, found) if found else {}))
        except (pl.exceptions.PolarsError, KeyError):
            out.append(("missing", {}))
    return out


def _dispersion(sums: Mapping[str, Any]) -> float | None:
    """Index of dispersion of events per person (sample variance / mean, at least 1), to 2 decimals."""
    n, x, xx = sums["n"], sums["x"], sums["xx"]
    if n < 2 or x <= 0:
        return None
    mean = x / n
    return round(max(1.0, (xx - n * mean**2) / (n - 1) / mean), 2)


@shared
def effect_estimates(
    people: pl.LazyFrame | pl.DataFrame,
    effects: Sequence[Mapping[str, Any]],
    *,
    count_columns: Sequence[str] = (),
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Each built-in effect estimated from the person table with the package's methods.

    Parameters
    ----------
    people : the loaded person table (with the ``true_`` columns the effects use).
    effects : the ``effects`` of ``truth.json``.
    count_columns : the count measures (a crude effect of one of them is an event rate).
    confidence : level of the intervals.

    Returns
    -------
    pl.DataFrame
        One row per effect, in the given order: ``id``, ``measure``, ``kind`` (of the effect),
        ``dimension``, ``group``, ``reference``, ``comparison``, ``statistic``, ``scale``,
        ``per``, ``method`` (``dsr``, ``observed/expected``, ``proportion``, ``events``,
        ``mean``), :data:`COUNTS` (null numerators for means), ``value``, ``lower_ci``,
        ``upper_ci``, ``true_value``, ``expected_value``, ``equivalence_margin``,
        ``dispersion``, ``reference_dispersion`` (events), ``family`` (the number of effects
        judged together), then the verdict columns of :func:`recompute_effects`. An effect whose columns the table lacks has no value.
    """
    lf = people.lazy()
    schema = lf.collect_schema()
    planned: list[tuple[str, list[pl.LazyFrame]]] = []
    for entry in effects:  # the truth's effects (a few dozen definitions), not data rows
        try:
            kind = _kind(entry, schema, count_columns)
            planned.append((kind, _queries(lf, entry, kind)))
        except (pl.exceptions.PolarsError, KeyError):
            planned.append(("missing", []))
    rows = []
    for entry, (kind, found) in zip(effects, _estimates(effects, planned, confidence), strict=True):
        rows.append(
            {
                "id": entry["id"],
                "measure": entry.get("measure", ""),
                "kind": entry.get("kind", ""),
                "dimension": entry.get("dimension", ""),
                "group": str(entry.get("group", "")),
                "reference": str(entry.get("reference", "")),
                "comparison": entry.get("comparison", ""),
                "statistic": entry["statistic"],
                "scale": entry["scale"],
                "per": float(entry.get("per") or 1.0),
                "method": kind,
                "numerator": found.get("numerator"),
                "denominator": found.get("denominator"),
                "reference_numerator": found.get("reference_numerator"),
                "reference_denominator": found.get("reference_denominator"),
                "value": found.get("value"),
                "lower_ci": found.get("lower_ci"),
                "upper_ci": found.get("upper_ci"),
                # null where the population gives the effect no value (a group with nobody in it)
                "true_value": _number(entry.get("true_value")),
                "expected_value": _number(entry.get("expected_value")),
                "equivalence_margin": _number(entry.get("equivalence_margin")),
                "dispersion": found.get("dispersion"),
                "reference_dispersion": found.get("reference_dispersion"),
            }
        )
    schema_out = {
        **{c: pl.String for c in ("id", "measure", "kind", "dimension", "group", "reference", "comparison")},
        **{c: pl.String for c in ("statistic", "scale", "method")},
        "per": pl.Float64,
        **{c: pl.Int64 for c in COUNTS},
        **{c: pl.Float64 for c in ("value", "lower_ci", "upper_ci", "true_value", "expected_value")},
        **{c: pl.Float64 for c in ("equivalence_margin", "dispersion", "reference_dispersion")},
    }
    frame = pl.DataFrame(rows, schema=schema_out)
    # the family of the simultaneous intervals: every effect judged on the exact data (a page
    # publishing the rows in parts, or suppressing some, keeps the whole family)
    judged = recompute_effects(frame, confidence=confidence)["verdict"].is_not_null().sum()
    frame = frame.with_columns(pl.lit(judged, dtype=pl.Int64).alias("family"))
    return recompute_effects(frame, confidence=confidence)


def _number(value: Any) -> float | None:
    """A truth value as a float, None when the truth has none."""
    return None if value is None else float(value)


def recompute_effects(frame: pl.DataFrame, *, confidence: float = 0.95) -> pl.DataFrame:
    """Proportions and event rates recomputed from the counts (as published), then the verdicts.

    Parameters
    ----------
    frame : an estimates frame (:func:`effect_estimates`), counts possibly rounded.
    confidence : level of the intervals (each, and of all the simultaneous intervals together).

    Returns
    -------
    pl.DataFrame
        ``frame`` with ``value``, ``lower_ci``, ``upper_ci`` of ``proportion`` and ``events``
        rows recomputed; ``null_value`` (1 for ratios, 0 for differences), ``joint_lower_ci``,
        ``joint_upper_ci`` (the simultaneous interval: see the module docstring),
        ``excludes_null``, ``contains_expected`` (the simultaneous interval contains the value
        built in) and ``verdict``: ``found`` (the interval excludes no difference on the side
        of the value built in, and the simultaneous interval contains it), ``no difference``
        (built in as none: the interval lies inside the equivalence margin and the simultaneous
        interval contains the value built in), ``not shown`` (built in as none: the interval
        reaches beyond the margin, the simultaneous interval contains the value built in),
        ``chance`` (the interval contains no difference), ``wrong direction`` (it excludes no
        difference on the other side from the value built in), ``missed`` (the simultaneous
        interval excludes the value built in), ``too few`` (a DSR without a value: too few
        events, as the book gives no DSR from fewer than 10); null without an estimate or counts.
    """
    z = float(ndtri(1 - (1 - confidence) / 2))
    x1, n1 = pl.col("numerator").cast(pl.Float64), pl.col("denominator").cast(pl.Float64)
    x2, n2 = pl.col("reference_numerator").cast(pl.Float64), pl.col("reference_denominator").cast(pl.Float64)
    f1 = pl.col("dispersion").fill_null(1.0) if "dispersion" in frame.columns else pl.lit(1.0)
    f2 = (
        pl.col("reference_dispersion").fill_null(1.0)
        if "reference_dispersion" in frame.columns
        else pl.lit(1.0)
    )
    ratio = pl.col("scale") == "ratio"
    per = pl.col("per")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_limits(x1, n1, confidence)
    l2, u2 = wilson_limits(x2, n2, confidence)
    # ratios on the log scale: Katz for proportions, two (over-dispersed) counts for events
    log_se = (
        pl.when(pl.col("method") == "proportion")
        .then(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        .otherwise(f1 / x1 + f2 / x2)
        .sqrt()
    )
    rr = p1 / p2
    diff = (p1 - p2) * per
    events_se = (f1 * x1 / n1**2 + f2 * x2 / n2**2).sqrt() * per
    prop_lo = diff - ((p1 - l1) ** 2 + (u2 - p2) ** 2).sqrt() * per
    prop_hi = diff + ((u1 - p1) ** 2 + (p2 - l2) ** 2).sqrt() * per
    simple = pl.col("method").is_in(["proportion", "events"])
    ok = simple & (n1 > 0) & (n2 > 0) & (~ratio | ((x1 > 0) & (x2 > 0)))
    value = pl.when(ratio).then(rr).otherwise(diff)
    lower = (
        pl.when(ratio)
        .then(rr * (-z * log_se).exp())
        .when(pl.col("method") == "proportion")
        .then(prop_lo)
        .otherwise(diff - z * events_se)
    )
    upper = (
        pl.when(ratio)
        .then(rr * (z * log_se).exp())
        .when(pl.col("method") == "proportion")
        .then(prop_hi)
        .otherwise(diff + z * events_se)
    )
    out = frame.with_columns(
        pl.when(ok).then(value).when(simple).then(None).otherwise(pl.col("value")).alias("value"),
        pl.when(ok).then(lower).when(simple).then(None).otherwise(pl.col("lower_ci")).alias("lower_ci"),
        pl.when(ok).then(upper).when(simple).then(None).otherwise(pl.col("upper_ci")).alias("upper_ci"),
    )
    if "equivalence_margin" not in out.columns:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("equivalence_margin"))
    null = pl.when(ratio).then(1.0).otherwise(0.0)
    v, lo, hi, exp = pl.col("value"), pl.col("lower_ci"), pl.col("upper_ci"), pl.col("expected_value")
    judged = v.is_not_null() & lo.is_not_null() & hi.is_not_null() & exp.is_not_null()
    m = max(1, out.select(judged.sum()).item())
    if "family" in out.columns and out["family"].max() is not None:
        m = max(m, int(out["family"].max()))  # type: ignore[arg-type]
    widen = float(ndtri(1 - (1 - confidence) / (2 * m))) / z
    # the simultaneous interval: each side widened (on the log scale for ratios)
    log_v, log_lo, log_hi = v.log(), lo.log(), hi.log()
    joint_lo = pl.when(ratio).then((log_v - (log_v - log_lo) * widen).exp()).otherwise(v - (v - lo) * widen)
    joint_hi = pl.when(ratio).then((log_v + (log_hi - log_v) * widen).exp()).otherwise(v + (hi - v) * widen)
    out = out.with_columns(joint_lo.alias("joint_lower_ci"), joint_hi.alias("joint_upper_ci"))
    jlo, jhi = pl.col("joint_lower_ci"), pl.col("joint_upper_ci")
    margin = pl.col("equivalence_margin").cast(pl.Float64)
    excludes = (lo > null) | (hi < null)
    contains_expected = (jlo <= exp) & (exp <= jhi)
    same_side = ((lo > null) & (exp > null)) | ((hi < null) & (exp < null))
    within_margin = (
        pl.when(ratio).then((lo >= 1 / margin) & (hi <= margin)).otherwise((lo >= -margin) & (hi <= margin))
    )
    return out.with_columns(
        null.alias("null_value"),
        excludes.alias("excludes_null"),
        contains_expected.alias("contains_expected"),
        pl.when(
            (lo.is_null() | hi.is_null()) & (pl.col("method") == "dsr") & pl.col("numerator").is_not_null()
        )
        .then(pl.lit("too few"))
        .when(~judged)
        .then(None)
        .when(margin.is_not_null() & ~contains_expected)
        .then(pl.lit("missed"))
        .when(margin.is_not_null() & within_margin)
        .then(pl.lit("no difference"))
        .when(margin.is_not_null())
        .then(pl.lit("not shown"))
        .when(excludes & ~same_side)
        .then(pl.lit("wrong direction"))
        .when(~contains_expected)
        .then(pl.lit("missed"))
        .when(~excludes)
        .then(pl.lit("chance"))
        .otherwise(pl.lit("found"))
        .alias("verdict"),
    )
