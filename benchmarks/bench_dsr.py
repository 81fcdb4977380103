"""Benchmark: DSRs from a 1,000,000-person table, healthgap vs PHStatsMethods.

End to end from person level: ESP2013 age bands, counts by group x band, then
directly standardised rates (hypertension and CHD) with Dobson 95% CIs for each
equity dimension (imd_quintile, ethnicity, sex, locality). The peer is the pandas
port of the Fingertips methods, PHStatsMethods 0.1.16 (`ph_dsr`), fed by a
vectorised pandas aggregation (pd.cut + groupby), which is how one would use it.

Prints the best-of-N wall time of each, the speed ratio and the largest absolute
and relative differences in value, lower_ci and upper_ci.

Usage: /tmp/hgvenv/bin/python benchmarks/bench_dsr.py [--n 1000000] [--repeat 3]
Needs the benchmark-only dependency: pip install phstatsmethods==0.1.16
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time

import numpy as np
import pandas as pd
import polars as pl

from healthgap.stats import AGE_BAND_LABELS, ESP2013, counts_by_age_band, dsr

DIMENSIONS = ("imd_quintile", "ethnicity", "sex", "locality")
CONDITIONS = ("hypertension", "chd")


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


def healthgap_dsrs(people: pl.DataFrame) -> dict[tuple[str, str], pl.DataFrame]:
    return healthgap_rates(healthgap_counts(people))


def phstats_counts(people: pd.DataFrame) -> dict[str, pd.DataFrame]:
    esp = ESP2013.with_columns(pl.col("age_band").cast(pl.String)).to_pandas()
    bins = [*range(0, 95, 5), np.inf]
    band = pd.cut(people["age"], bins=bins, right=False, labels=list(AGE_BAND_LABELS))
    frame = people.assign(age_band=band, population=1)
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
        out[dim] = counts.assign(age_band=counts["age_band"].astype(str)).merge(esp, on="age_band")
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


def phstats_rates_builtin_esp(counts: dict[str, pd.DataFrame]) -> dict[tuple[str, str], pd.DataFrame]:
    """ph_dsr with its own ESP2013 join (euro_standard_pops=True, matched by band order)."""
    from PHStatsMethods import ph_dsr

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the join for checking
        return {
            (dim, cond): ph_dsr(table.drop(columns="standard_population"), cond, "population",
                                "age_band", group_cols=dim, euro_standard_pops=True)  # fmt: skip
            for dim, table in counts.items()
            for cond in CONDITIONS
        }


def phstats_dsrs(people: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    return phstats_rates(phstats_counts(people))


def best_time(fn, arg, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(arg)
        times.append(time.perf_counter() - start)
    return min(times), result


def compare(ours, theirs) -> dict[str, tuple[float, float]]:
    worst = {c: (0.0, 0.0) for c in ("value", "lower_ci", "upper_ci")}
    cols = {"value": "Value", "lower_ci": "lower_95_ci", "upper_ci": "upper_95_ci"}
    for key, a in ours.items():
        dim = key[0]
        b = pl.from_pandas(theirs[key][[dim, *cols.values()]]).with_columns(
            pl.col(dim).cast(a.schema[dim])
        )
        j = a.join(b, on=dim, how="inner")
        assert j.height == a.height, f"group mismatch for {key}"
        for c, their in cols.items():
            x, y = j[c].to_numpy(), j[their].to_numpy()
            both = ~(np.isnan(x) | np.isnan(y))
            assert np.array_equal(np.isnan(x), np.isnan(y)), f"null pattern differs for {key} {c}"
            absd = np.abs(x[both] - y[both])
            reld = absd / np.abs(y[both])
            worst[c] = (max(worst[c][0], absd.max(initial=0)), max(worst[c][1], reld.max(initial=0)))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    people, source = population(args.n, args.seed)
    people_pd = people.to_pandas()
    print(f"population: {people.height:,} people from {source}")
    print(f"dimensions: {', '.join(DIMENSIONS)}; conditions: {', '.join(CONDITIONS)}")

    t_ours, ours = best_time(healthgap_dsrs, people, args.repeat)
    t_theirs, theirs = best_time(phstats_dsrs, people_pd, args.repeat)
    # the two steps separately: person level -> age-band counts, counts -> DSRs
    t_ours_c, counts_ours = best_time(healthgap_counts, people, args.repeat)
    t_theirs_c, counts_theirs = best_time(phstats_counts, people_pd, args.repeat)
    t_ours_r, _ = best_time(healthgap_rates, counts_ours, args.repeat)
    t_theirs_r, _ = best_time(phstats_rates, counts_theirs, args.repeat)

    t_theirs_esp, theirs_esp = best_time(phstats_rates_builtin_esp, counts_theirs, args.repeat)

    worst = compare(ours, theirs)
    worst_esp = compare(ours, theirs_esp)
    print(f"{'step':34s} {'healthgap':>11s} {'PHStatsMethods':>15s} {'ratio':>7s}")
    for label, a, b in (
        ("end to end (person level -> DSRs)", t_ours, t_theirs),
        ("  age-band counts", t_ours_c, t_theirs_c),
        ("  DSRs from counts (8 calls)", t_ours_r, t_theirs_r),
    ):
        print(f"{label:34s} {a * 1000:8.1f} ms {b * 1000:12.1f} ms {b / a:6.1f}x")
    print(f"{'  DSRs, ph_dsr built-in ESP join':34s} {t_ours_r * 1000:8.1f} ms "
          f"{t_theirs_esp * 1000:12.1f} ms {t_theirs_esp / t_ours_r:6.1f}x")  # fmt: skip
    print(f"(best of {args.repeat} runs each)")
    print("max relative difference vs the built-in ESP join path: "
          f"{max(r for _, r in worst_esp.values()):.3e}")  # fmt: skip
    for c, (a, r) in worst.items():
        print(f"max difference {c:9s} absolute {a:.3e}  relative {r:.3e}")
    rows = sum(d.height for d in ours.values())
    print(f"{rows} DSRs compared; target: relative difference <= 1e-9 and >= 10x faster")
    ok = all(r <= 1e-9 for _, r in worst.values()) and t_theirs / t_ours >= 10
    print("RESULT:", "meets target" if ok else "does NOT meet target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
