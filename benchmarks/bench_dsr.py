"""Benchmark: DSRs from a 1,000,000-person table, healthgap vs PHStatsMethods.

End to end from person level: ESP2013 age bands, counts by group x band, then
directly standardised rates (hypertension and CHD) with Dobson 95% CIs for each
equity dimension (imd_quintile, ethnicity, sex, locality): 40 DSRs.

healthgap, two paths:
  * ``dsr_by`` (the one to beat the target): one scan of the people into the finest
    cells (age band x all four dimensions, both conditions at once), roll-ups of the
    small table and one vectorised DSR query;
  * the per-dimension path (``counts_by_age_band`` per dimension, then 8 ``dsr`` calls),
    kept for reference.
PHStatsMethods 0.1.16 (``ph_dsr``, the pandas port of the Fingertips methods), fed by
vectorised pandas aggregation, two paths; the faster one is the peer:
  * per dimension: ``pd.cut`` + ``groupby`` per dimension, then 8 ``ph_dsr`` calls;
  * one scan: ``groupby`` once at the finest cell, roll-ups, a long table and ONE
    ``ph_dsr`` call grouped by dimension, level and condition.

The machine is shared, so the candidates run round-robin (each repeat runs every
candidate once) and the script prints the best-of-N wall time of each, the ratio of
the bests, and the median of the ratios measured within the same round, with the load
average before and after. It also prints the largest absolute and relative differences
in value, lower_ci and upper_ci between healthgap's new path and the peer.

Usage: /tmp/hgvenv/bin/python benchmarks/bench_dsr.py [--n 1000000] [--repeat 7] [--enum]
Needs the benchmark-only dependency: pip install phstatsmethods==0.1.16
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
import polars as pl

from healthgap.stats import AGE_BAND_LABELS, ESP2013, counts_by_age_band, dsr, dsr_by

DIMENSIONS = ("imd_quintile", "ethnicity", "sex", "locality")
CONDITIONS = ("hypertension", "chd")
KEYS = ["dimension", "level", "condition"]


def population(n: int, seed: int) -> tuple[pl.DataFrame, str]:
    """The synthetic population, or a simple numpy fallback if healthgap.synth fails."""
    try:
        from healthgap.synth import generate

        people, _ = generate(n, seed=seed)
        return people.select("age", *DIMENSIONS, *CONDITIONS), "healthgap.synth.generate"
    except Exception as exc:  # noqa: BLE001 - the fallback is the point
        print(f"healthgap.synth unavailable ({exc!r}); using the numpy fallback generator")
    rng = np.random.default_rng(seed)
    age = np.minimum(rng.gamma(4.0, 10.5, n).astype(int), 105)
    q = rng.integers(1, 6, n)
    risk = 1 / (1 + np.exp(-(-7.0 + 0.075 * age + 0.12 * (5 - q))))
    return pl.DataFrame({
        "age": age, "imd_quintile": q,
        "ethnicity": rng.choice(["Asian", "Black", "Mixed", "White", "Other", "Not stated"], n,
                                p=[0.05, 0.02, 0.02, 0.86, 0.02, 0.03]),
        "sex": rng.choice(["female", "male"], n),
        "locality": rng.choice([f"Locality {i}" for i in range(7)], n),
        "hypertension": rng.random(n) < risk, "chd": rng.random(n) < risk / 4,
    }), "numpy fallback (FLAG: not the synthetic population)"  # fmt: skip


# --- healthgap -------------------------------------------------------------------------


def healthgap_dsrs(people: pl.DataFrame) -> pl.DataFrame:
    """New path: one scan, one long frame of all 40 DSRs."""
    return dsr_by(people, events=list(CONDITIONS), dimensions=list(DIMENSIONS))


def healthgap_counts(people: pl.DataFrame) -> dict[str, pl.DataFrame]:
    lf = people.lazy()
    # one lazy query per dimension, run together (shared scan and age bands)
    tables = pl.collect_all(
        [counts_by_age_band(lf, events=list(CONDITIONS), by=dim) for dim in DIMENSIONS]
    )
    return dict(zip(DIMENSIONS, tables, strict=True))


def healthgap_rates(counts: dict[str, pl.DataFrame]) -> dict[tuple[str, str], pl.DataFrame]:
    return {
        (dim, cond): dsr(table, events=cond, population="population", age_band="age_band", by=dim)
        for dim, table in counts.items()
        for cond in CONDITIONS
    }


def healthgap_per_dimension(people: pl.DataFrame) -> dict[tuple[str, str], pl.DataFrame]:
    """Old path: counts per dimension, then one dsr() call per dimension x condition."""
    return healthgap_rates(healthgap_counts(people))


# --- PHStatsMethods ----------------------------------------------------------------------

ESP = ESP2013.with_columns(pl.col("age_band").cast(pl.String)).to_pandas()
BINS = [*range(0, 95, 5), np.inf]


def _bands(people: pd.DataFrame) -> pd.Series:
    return pd.cut(people["age"], bins=BINS, right=False, labels=list(AGE_BAND_LABELS))


def phstats_counts(people: pd.DataFrame) -> dict[str, pd.DataFrame]:
    frame = people.assign(age_band=_bands(people), population=1)
    out = {}
    for dim in DIMENSIONS:
        counts = (
            frame.groupby([dim, "age_band"], observed=True)[[*CONDITIONS, "population"]]
            .sum()
            .reset_index()
        )
        grid = pd.MultiIndex.from_product([counts[dim].unique(), list(AGE_BAND_LABELS)],
                                          names=[dim, "age_band"])  # fmt: skip
        counts = counts.set_index([dim, "age_band"]).reindex(grid, fill_value=0).reset_index()
        out[dim] = counts.assign(age_band=counts["age_band"].astype(str)).merge(ESP, on="age_band")
    return out


def phstats_rates(counts: dict[str, pd.DataFrame]) -> dict[tuple[str, str], pd.DataFrame]:
    from PHStatsMethods import ph_dsr

    with contextlib.redirect_stdout(io.StringIO()):  # ph_dsr may print join checks
        return {
            (dim, cond): ph_dsr(table, cond, "population", "standard_population",
                                group_cols=dim, euro_standard_pops=False)  # fmt: skip
            for dim, table in counts.items()
            for cond in CONDITIONS
        }


def phstats_per_dimension(people: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    return phstats_rates(phstats_counts(people))


def phstats_one_scan(people: pd.DataFrame) -> pd.DataFrame:
    """The same algorithm in pandas: finest cells once, roll-ups, one ph_dsr call."""
    from PHStatsMethods import ph_dsr

    frame = people[[*DIMENSIONS, *CONDITIONS]].assign(age_band=_bands(people), population=1)
    fine = frame.groupby([*DIMENSIONS, "age_band"], observed=True)[
        [*CONDITIONS, "population"]
    ].sum()
    parts = []
    for dim in DIMENSIONS:  # observed=False: every level gets all 19 (categorical) bands
        rolled = fine.groupby([dim, "age_band"], observed=False).sum().reset_index()
        parts.append(rolled.rename(columns={dim: "level"}).assign(
            dimension=dim, level=lambda x: x["level"].astype(str)))  # fmt: skip
    long = pd.concat(parts, ignore_index=True).melt(
        id_vars=["dimension", "level", "age_band", "population"], value_vars=list(CONDITIONS),
        var_name="condition", value_name="events",
    )  # fmt: skip
    long = long.assign(age_band=long["age_band"].astype(str)).merge(ESP, on="age_band")
    with contextlib.redirect_stdout(io.StringIO()):
        return ph_dsr(long, "events", "population", "standard_population",
                      group_cols=KEYS, euro_standard_pops=False)  # fmt: skip


# --- comparison --------------------------------------------------------------------------

THEIRS = {"value": "Value", "lower_ci": "lower_95_ci", "upper_ci": "upper_95_ci"}


def as_long(result) -> pl.DataFrame:
    """Any of the four results as one frame: dimension, level, condition, value, CIs."""
    if isinstance(result, pl.DataFrame):
        return result.select(*KEYS, "value", "lower_ci", "upper_ci")
    if isinstance(result, pd.DataFrame):
        return pl.from_pandas(result[[*KEYS, *THEIRS.values()]]).rename(
            {v: k for k, v in THEIRS.items()}
        )
    frames = []
    for (dim, cond), table in result.items():
        if isinstance(table, pd.DataFrame):
            table = pl.from_pandas(table[[dim, *THEIRS.values()]]).rename(
                {v: k for k, v in THEIRS.items()}
            )
        frames.append(table.select(
            pl.lit(dim).alias("dimension"), pl.col(dim).cast(pl.String).alias("level"),
            pl.lit(cond).alias("condition"), "value", "lower_ci", "upper_ci",
        ))  # fmt: skip
    return pl.concat(frames)


def compare(ours, theirs) -> dict[str, tuple[float, float]]:
    a, b = as_long(ours), as_long(theirs)
    j = a.join(b, on=KEYS, how="full", suffix="_peer", nulls_equal=True)
    assert j.height == a.height == b.height, "the two results have different groups"
    worst = {}
    for c in ("value", "lower_ci", "upper_ci"):
        x = j[c].fill_nan(None).to_numpy().astype(float)
        y = j[f"{c}_peer"].fill_nan(None).to_numpy().astype(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), f"null pattern differs in {c}"
        both = ~np.isnan(x)
        absd = np.abs(x[both] - y[both])
        worst[c] = (absd.max(initial=0.0), (absd / np.abs(y[both])).max(initial=0.0))
    return worst


def round_robin(candidates: dict, repeat: int) -> tuple[dict, dict, dict]:
    """Run every candidate once per round; return best times, all times and results."""
    times = {name: [] for name in candidates}
    results = {}
    for _ in range(repeat):
        for name, (fn, arg) in candidates.items():
            start = time.perf_counter()
            results[name] = fn(arg)
            times[name].append(time.perf_counter() - start)
    return {k: min(v) for k, v in times.items()}, times, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--enum", action="store_true",
        help="store ethnicity, sex and locality as categories on both sides (polars Enum, "
        "pandas Categorical) instead of the canonical strings",
    )  # fmt: skip
    args = parser.parse_args(argv)

    people, source = population(args.n, args.seed)
    if args.enum:
        people = people.with_columns(
            pl.col(c).cast(pl.Enum(sorted(people[c].drop_nulls().unique().to_list())))
            for c in ("ethnicity", "sex", "locality")
        )
        source += "; ethnicity, sex and locality as Enum / pandas Categorical"
    people_pd = people.to_pandas()
    print(f"population: {people.height:,} people from {source}")
    print(f"dimensions: {', '.join(DIMENSIONS)}; conditions: {', '.join(CONDITIONS)}")
    print(f"polars {pl.__version__} ({pl.thread_pool_size()} threads), pandas {pd.__version__}")
    load_before = os.getloadavg()

    candidates = {
        "healthgap dsr_by (one scan)": (healthgap_dsrs, people),
        "healthgap per dimension": (healthgap_per_dimension, people),
        "PHStatsMethods per dimension": (phstats_per_dimension, people_pd),
        "PHStatsMethods one scan": (phstats_one_scan, people_pd),
    }
    for fn, arg in candidates.values():  # warm-up: imports, caches
        fn(arg)
    best, times, results = round_robin(candidates, args.repeat)
    load_after = os.getloadavg()

    peer_names = ["PHStatsMethods per dimension", "PHStatsMethods one scan"]
    peer = min(peer_names, key=lambda k: best[k])
    print(f"\n{'candidate':32s} {'best':>9s} {'median':>9s}")
    for name in candidates:
        median = statistics.median(times[name])
        print(f"{name:32s} {best[name] * 1000:6.1f} ms {median * 1000:6.1f} ms")

    print(f"\npeer = fastest PHStatsMethods path: {peer}")
    print("speed ratios (PHStatsMethods time / healthgap time):")
    for ours in ("healthgap dsr_by (one scan)", "healthgap per dimension"):
        for theirs in sorted(peer_names, key=lambda k: k != peer):
            same_round = [t / o for t, o in zip(times[theirs], times[ours], strict=True)]
            print(f"  {ours} vs {theirs}{' (peer)' if theirs == peer else ''}: ratio of bests "
                  f"{best[theirs] / best[ours]:5.1f}x, median same-round ratio "
                  f"{statistics.median(same_round):5.1f}x "
                  f"(range {min(same_round):.1f}-{max(same_round):.1f})")  # fmt: skip
    print(f"(best of {args.repeat} round-robin runs; load average 1/5/15 min before "
          f"{'/'.join(f'{x:.2f}' for x in load_before)}, after "
          f"{'/'.join(f'{x:.2f}' for x in load_after)}, on {os.cpu_count()} cores)")  # fmt: skip

    new = results["healthgap dsr_by (one scan)"]
    worst = compare(new, results[peer])
    for c, (a, r) in worst.items():
        print(f"max difference {c:9s} absolute {a:.3e}  relative {r:.3e}")
    checks = {
        "new vs old healthgap path": compare(new, results["healthgap per dimension"]),
        "new vs the other PHStatsMethods path": compare(
            new, results[next(k for k in peer_names if k != peer)]
        ),
    }
    for label, w in checks.items():
        print(f"max relative difference, {label}: {max(r for _, r in w.values()):.3e}")
    print(f"{new.height} DSRs compared; target: relative difference <= 1e-9 and >= 10x faster")
    ratio = best[peer] / best["healthgap dsr_by (one scan)"]
    ok = all(r <= 1e-9 for _, r in worst.values()) and ratio >= 10
    print("RESULT:", "meets target" if ok else "does NOT meet target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
