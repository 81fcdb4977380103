"""Benchmark: generating the synthetic population.

Times :func:`healthgap.synth.generate` for ``--n`` people (default 1,000,000) and,
as a peer measured in the same run on the same machine, numpy drawing the same
number of uniform random values as the table has cells (n x columns). Prints the
time, rows per second and the ratio generate / peer: the ratio is what to compare
across machines (it says how many "bare random draws" the whole generator costs).
Also times :func:`healthgap.synth.write` (Parquet, JSON, GeoJSON).

Usage::

    python benchmarks/bench_synth.py [--n 1000000] [--seed 2024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from healthgap.synth import generate, write


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    df, _ = generate(1_000, seed=args.seed)  # warm up imports and caches
    cells = args.n * df.width
    t_gen = _best(lambda: generate(args.n, seed=args.seed), args.repeat)
    rng = np.random.default_rng(args.seed)
    t_peer = _best(lambda: rng.random(cells), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        t_write = _best(lambda: write(tmp, n=args.n, seed=args.seed), 1)

    print(f"synth.generate  n={args.n:,}: {t_gen:8.3f} s  {args.n / t_gen:12,.0f} rows/s")
    print(f"peer numpy rng.random({cells:,} values = n x {df.width} columns): {t_peer:8.3f} s")
    print(f"ratio generate / peer: {t_gen / t_peer:6.1f}x")
    print(
        f"synth.write     n={args.n:,}: {t_write:8.3f} s (generate + parquet + json + geojson); "
        f"ratio write / generate: {t_write / t_gen:4.2f}x"
    )


if __name__ == "__main__":
    main()
