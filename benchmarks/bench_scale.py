"""Benchmark: the person -> aggregate engine at scale, polars against Spark, in one run.

For each size (default 250,000 and 1,000,000 people; ``--ten-million`` adds 10,000,000) the
synthetic population is written once (``healthgap.synth.write``, as ``healthgap synth``) with
a copy of ``data/default.yml``, and :func:`healthgap.engine.aggregate` runs on it with each
engine: every table (cells, values, ages, geography, validation) from the Parquet file.

The machine may be shared, so the engines run round-robin (each repeat runs every engine once,
after one untimed warm-up of each on the first size) and the script prints, per size and
engine, the best and median wall time, the peak memory of all processes (this one and its
children: Spark's JVM is one, alive during the polars runs too) and of Python alone, sampled with psutil every 50 ms during the runs, the ratio
Spark / polars measured within each round (median), the ratio of each size's time to the
first size's, and the load average before and after. It checks once per size that both
engines return the same tables.

With ``--render`` (the issue's figures) each size's book is also rendered with the built-in
renderer, as ``healthgap render`` renders it: from a cold start (a fresh model cache and a fresh
prepared-table cache, so the prepare step is timed too), with the empty-page skeleton of
``bench_render.py`` rendered on the same data as its peer. It prints the render time, the
skeleton's, their ratio, each page's time, the peak memory of all processes (the renderer and
every kernel, sampled every 50 ms), and the issue's ratios against their targets (the largest
size <= 4x the 1,000,000 time and under 8 GB; 1,000,000 <= 1.5x 250,000 and <= 8x the skeleton).

Usage::

    python benchmarks/bench_scale.py [--sizes 250000 1000000] [--ten-million] [--repeat 3]
        [--engines polars spark] [--master local[*]] [--seed 2024] [--render] [--jobs 2]
        [--no-aggregate] [--baseline [COMMIT]] [--render-repeat N]

With ``--render-repeat N`` each size's book and skeleton are rendered N times, alternated and each
from cold, and the medians are reported (with each repeat's ratio to its skeleton): the machine's
speed drifts by about a fifth between renders, more than the margin of some targets.

With ``--baseline`` (and ``--render``) the default book of the commit issue 14 measured
(:data:`ISSUE_COMMIT`, or the commit given) is rendered first, cold, on the same machine: the
default book's target ("about half today's time") is then a ratio measured in one run, not a
comparison with seconds measured on another day's machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
GIB = 1024**3


class PeakMemory:
    """The largest total resident memory of this process and all its children (``peak``) and of
    this process alone (``own``), sampled."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self.own = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def current() -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _sample(self) -> None:
        self.peak = max(self.peak, self.current())
        self.own = max(self.own, psutil.Process().memory_info().rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.peak = self.own = 0
        self._sample()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()


#: The default book's render time when issue 14 was filed (14 pages then, 17 now), for its "about half".
ISSUE_DEFAULT_SECONDS = 51.0
#: The commit whose book issue 14 measured ("today": the default book in 51 s): the last commit
#: of round 1. ``--baseline`` renders its default book on this machine, in this run.
ISSUE_COMMIT = "378f29a"


def population(work: Path, n: int, seed: int) -> Path:
    """Write ``n`` synthetic people (``healthgap synth``, in its own process so its memory is not
    counted here) and a copy of the default config; return the config's path."""

    folder = work / f"people-{n}"
    started = time.perf_counter()
    command = Path(sys.executable).parent / "healthgap"
    subprocess.run(
        [str(command), "synth", "--n", str(n), "--seed", str(seed), "--out", str(folder / "synthetic")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.copyfile(REPO / "data" / "default.yml", folder / "default.yml")
    size = (folder / "synthetic" / "population.parquet").stat().st_size
    print(
        f"  wrote {n:,} people in {time.perf_counter() - started:.1f} s ({size / 1024**2:.1f} MiB of Parquet)"
    )
    return folder / "default.yml"


def timed(run: Callable[[], object]) -> tuple[float, int, int, object]:
    """(seconds, peak bytes of all processes, peak bytes of this process, result) of one run."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
    return seconds, memory.peak, memory.own, result


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its finished children (the kernels)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def render_size(
    config: Path,
    work: Path,
    n: int,
    *,
    jobs: int | None,
    skeleton: Path | None,
    keep: Path | None = None,
    tag: str = "",
) -> dict:
    """Render the book (cold caches) and, when given, the skeleton on ``config``; the figures.

    ``tag`` names this render's cache folders, so that every repeat starts cold."""
    from healthgap.render import render_book

    pages: dict[str, float] = {}
    prepared: list[float] = []

    def progress(line: str) -> None:
        text = line.strip()
        if ": done in " in text:
            page, _, rest = text.partition(": done in ")
            pages[page] = float(rest.split()[0])
        elif text.startswith("Person table prepared"):
            prepared.append(float(text.split(" in ", 1)[1].split()[0]))

    os.environ["HEALTHGAP_MODEL_CACHE"] = str(work / f"models-{n}{tag}")
    os.environ["HEALTHGAP_DATA_CACHE"] = str(work / f"people-cache-{n}{tag}")
    from healthgap import data

    out: dict = {}
    if skeleton is not None:
        data._CACHE.clear()  # the skeleton checks the data too, as a fresh `healthgap render` does
        seconds, peak, _, _ = timed(
            lambda: render_book(
                project=skeleton,
                out=work / f"skeleton-{n}",
                config=config,
                engine="builtin",
                jobs=jobs,
                progress=None,
            )
        )
        out["skeleton"] = seconds
        shutil.rmtree(work / f"people-cache-{n}{tag}", ignore_errors=True)  # the book prepares from cold
    data._CACHE.clear()  # ...and checks the data again
    cpu_before = _cpu_seconds()
    seconds, peak, own, _ = timed(
        lambda: render_book(
            project=REPO,
            out=work / f"site-{n}",
            config=config,
            engine="builtin",
            jobs=jobs,
            progress=progress,
        )
    )
    out.update(
        render=seconds,
        cpu=_cpu_seconds() - cpu_before,
        peak=peak,
        own=own,
        pages=pages,
        prepare=prepared[0] if prepared else None,
    )
    if keep is not None:
        shutil.copytree(work / f"site-{n}", keep / f"site-{n}", dirs_exist_ok=True)
    shutil.rmtree(work / f"site-{n}", ignore_errors=True)
    return out


def render_repeated(
    config: Path,
    work: Path,
    n: int,
    *,
    repeat: int,
    jobs: int | None,
    skeleton: Path | None,
    keep: Path | None = None,
) -> dict:
    """:func:`render_size` ``repeat`` times (skeleton and book alternated, every one cold): the
    median of each figure (the peak: the largest), and each repeat's book and skeleton times in
    ``repeats``. On a shared machine whose speed drifts by a fifth between renders, one pair
    can land either side of a target the median of several meets or misses."""
    runs = []
    for r in range(repeat):
        runs.append(render_size(config, work, n, jobs=jobs, skeleton=skeleton, keep=keep, tag=f"-{r}"))
        if repeat > 1:
            one = runs[-1]
            skel = one.get("skeleton")
            print(
                f"  repeat {r + 1}: render {one['render']:.1f} s (CPU {one['cpu']:.1f} s), skeleton "
                f"{(skel or float('nan')):.1f} s, x skeleton {(one['render'] / skel if skel else float('nan')):.1f}"
            )

    def median(key: str) -> float | None:
        values = [run[key] for run in runs if run.get(key) is not None]
        return statistics.median(values) if values else None

    names = {page for run in runs for page in run["pages"]}
    return {
        "render": median("render"),
        "skeleton": median("skeleton"),
        "cpu": median("cpu"),
        "prepare": median("prepare"),
        "peak": max(run["peak"] for run in runs),
        "own": max(run["own"] for run in runs),
        "pages": {
            page: statistics.median(run["pages"][page] for run in runs if page in run["pages"])
            for page in names
        },
        "repeats": [(run["render"], run.get("skeleton")) for run in runs],
    }


def render_baseline(rev: str, work: Path, *, jobs: int | None) -> dict:
    """Render the default book with the code at ``rev`` (this repository's history), cold, on
    this machine and in this run: its own source (``git archive``), its own synthetic population
    (its ``healthgap synth``, as its ``make site`` made it) and its own renderer, with this
    environment's packages. Returns the wall time and the CPU of every process it started."""
    src = work / f"baseline-{rev}"
    src.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHGAP_")}
    env.update(
        PYTHONPATH=str(src / "src"),  # before this checkout's editable install
        HEALTHGAP_MODEL_CACHE=str(work / f"baseline-models-{rev}"),
        HEALTHGAP_DATA_CACHE=str(work / f"baseline-people-{rev}"),
    )
    cli = [sys.executable, "-c", "import sys; from healthgap.cli import main; sys.exit(main())"]
    subprocess.run(
        [*cli, "synth", "--out", "data/synthetic"], cwd=src, env=env, check=True, capture_output=True
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [
            *cli,
            "render",
            "--out",
            str(work / f"baseline-site-{rev}"),
            *(["--jobs", str(jobs)] if jobs else []),
        ],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"the book at {rev} did not render:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rev": rev, "render": seconds, "cpu": cpu}


def report_renders(renders: dict[int, dict], baseline: dict | None = None) -> None:
    sizes = sorted(renders)
    times = max(len(r["repeats"]) for r in renders.values())
    print(
        "\nRender (built-in renderer, cold caches"
        + (f"; medians of {times} renders, skeleton and book alternated)" if times > 1 else ")")
    )
    print(
        f"{'people':>11} {'render s':>9} {'CPU s':>7} {'prepare s':>10} {'skeleton s':>11} {'x skeleton':>11} "
        f"{'peak GiB':>9}"
    )
    for n in sizes:
        r = renders[n]
        skel = r.get("skeleton")
        print(
            f"{n:>11,} {r['render']:>9.1f} {r['cpu']:>7.1f} {(r['prepare'] or 0):>10.1f} {(skel or float('nan')):>11.1f} "
            f"{(r['render'] / skel if skel else float('nan')):>11.1f} {r['peak'] / GIB:>9.2f}"
        )
    from healthgap.render.project import read_book

    done = {page for r in renders.values() for page in r["pages"]}
    names = [p.source for p in read_book(REPO).pages if p.source in done]  # book order
    print("\nSeconds per page" + "".join(f"{n:>12,}" for n in sizes))
    for page in names:
        print(
            f"  {page:<34}" + "".join(f"{renders[n]['pages'].get(page, float('nan')):>12.1f}" for n in sizes)
        )
    print("\nTargets (issue 14)")
    if 250_000 in renders and baseline is not None:
        default = renders[250_000]["render"]
        print(
            f"  250,000 (the default book's size): {default:.1f} s against {baseline['render']:.1f} s for the "
            f"book issue 14 measured (commit {baseline['rev']}), rendered on this machine in this run: "
            f"{default / baseline['render']:.2f} of it (target about 0.5); CPU {renders[250_000]['cpu']:.1f} "
            f"against {baseline['cpu']:.1f} s"
        )
    elif 250_000 in renders:
        default = renders[250_000]["render"]
        print(
            f"  250,000 (the default book's size): {default:.1f} s against the {ISSUE_DEFAULT_SECONDS:.0f} s issue 14 "
            f"measured on the book as it was then: {default / ISSUE_DEFAULT_SECONDS:.2f} of it (target about 0.5)"
        )
    if 250_000 in renders and 1_000_000 in renders:
        ratio = renders[1_000_000]["render"] / renders[250_000]["render"]
        print(
            f"  1,000,000 / 250,000 render time: {ratio:.2f} (target <= 1.5): {'met' if ratio <= 1.5 else 'NOT met'}"
        )
    if 1_000_000 in renders and renders[1_000_000].get("skeleton"):
        ratio = renders[1_000_000]["render"] / renders[1_000_000]["skeleton"]
        each = [book / skel for book, skel in renders[1_000_000]["repeats"] if skel]
        print(
            f"  1,000,000 / skeleton: {ratio:.1f} (target <= 8): {'met' if ratio <= 8 else 'NOT met'}"
            + (f"; each repeat: {', '.join(f'{v:.1f}' for v in each)}" if len(each) > 1 else "")
        )
    if 10_000_000 in renders and 1_000_000 in renders:
        ratio = renders[10_000_000]["render"] / renders[1_000_000]["render"]
        peak = renders[10_000_000]["peak"] / GIB
        print(
            f"  10,000,000 / 1,000,000 render time: {ratio:.2f} (target <= 4): {'met' if ratio <= 4 else 'NOT met'}"
        )
        print(
            f"  10,000,000 peak memory, all processes: {peak:.2f} GiB (target < 8 GB = 7.45 GiB): {'met' if peak * GIB < 8e9 else 'NOT met'}"
        )


def stop_spark(spark) -> None:
    """Stop the session and its JVM (``stop`` alone leaves the gateway's JVM running)."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()  # the JVM this script started
                proc.wait()
    SparkContext._gateway = None
    SparkContext._jvm = None


def same_tables(first, second) -> str:
    from polars.testing import assert_frame_equal

    for name, frame in first.tables.items():
        try:
            assert_frame_equal(second[name], frame, check_exact=False, rel_tol=1e-12, abs_tol=0)
        except (AssertionError, KeyError) as exc:
            return f"DIFFERENT ({name}: {str(exc).splitlines()[0]})"
    return "identical"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--ten-million", action="store_true", help="add 10,000,000 people")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=["polars", "spark"], choices=["polars", "spark"])
    parser.add_argument("--master", default="local[*]", help="Spark master (default: every core)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--render", action="store_true", help="also render the book at each size")
    parser.add_argument("--jobs", type=int, default=None, help="kernels at a time (default: CPU count)")
    parser.add_argument("--no-skeleton", action="store_true", help="do not render the empty-page skeleton")
    parser.add_argument(
        "--render-repeat",
        type=int,
        default=1,
        help="with --render: render each size (and its skeleton) this many times, cold; the medians are reported",
    )
    parser.add_argument("--no-aggregate", action="store_true", help="only the renders")
    parser.add_argument("--keep", type=Path, default=None, help="copy each rendered site into this folder")
    parser.add_argument(
        "--baseline",
        nargs="?",
        const=ISSUE_COMMIT,
        default=None,
        help=f"with --render: also render the default book of this commit (default {ISSUE_COMMIT}, the "
        "book issue 14 measured) on this machine, for the default book's target",
    )
    args = parser.parse_args(argv)
    if args.no_aggregate:
        args.engines, args.repeat = [], 0
    sizes = [*args.sizes, *([10_000_000] if args.ten_million else [])]

    from healthgap.config import load_config
    from healthgap.engine import aggregate, spark_session

    print(
        f"healthgap.engine benchmark on {os.cpu_count()} cores, {psutil.virtual_memory().total / GIB:.1f} GiB"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    spark = None

    def start_spark() -> None:
        """Spark starts after the size's render (its JVM is not counted in the render's memory)."""
        nonlocal spark
        if "spark" in args.engines and spark is None:
            started = time.perf_counter()
            spark = spark_session(args.master, app_name="healthgap-bench")
            print(f"  Spark {spark.version} ({args.master}) started in {time.perf_counter() - started:.1f} s")

    def run(engine: str, config) -> Callable[[], object]:
        return lambda: aggregate(config, engine=engine, spark=spark)

    results: dict[tuple[int, str], list[tuple[float, int, int]]] = {}
    ratios: dict[int, list[float]] = {}
    renders: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="healthgap-bench-scale-") as tmp:
        work = Path(tmp)
        skeleton = None
        baseline = None
        if args.render and args.baseline:
            print(f"\nThe default book at {args.baseline} (the code issue 14 measured), cold")
            baseline = render_baseline(args.baseline, work, jobs=args.jobs)
            print(f"  render {baseline['render']:.1f} s, CPU {baseline['cpu']:.1f} s")
        if args.render and not args.no_skeleton:
            sys.path.insert(0, str(REPO / "benchmarks"))
            from bench_render import _skeleton

            skeleton = _skeleton(REPO, work)
        for i, n in enumerate(sizes):
            print(f"\n{n:,} people")
            config_path = population(work, n, args.seed)
            config = load_config(config_path)
            if args.render:
                renders[n] = render_repeated(
                    config_path,
                    work,
                    n,
                    repeat=args.render_repeat,
                    jobs=args.jobs,
                    skeleton=skeleton,
                    keep=args.keep,
                )
                r = renders[n]
                print(
                    f"  render {r['render']:.1f} s (prepare {r['prepare'] or 0:.1f} s), skeleton "
                    f"{r.get('skeleton', float('nan')):.1f} s, peak {r['peak'] / GIB:.2f} GiB all processes"
                )
            outputs = {}
            start_spark()
            if i == 0 or args.render:  # with renders in between, Spark starts again for each size
                for engine in args.engines:  # warm-up: imports, JIT, Spark's first job
                    seconds, _, _, outputs[engine] = timed(run(engine, config))
                    print(f"  warm-up {engine}: {seconds:.1f} s")
            for r in range(args.repeat):
                round_times = {}
                for engine in args.engines:
                    seconds, peak, own, out = timed(run(engine, config))
                    outputs.setdefault(engine, out)
                    results.setdefault((n, engine), []).append((seconds, peak, own))
                    round_times[engine] = seconds
                    print(
                        f"  round {r + 1} {engine}: {seconds:.2f} s, peak {peak / GIB:.2f} GiB "
                        f"(all processes; Python alone {own / GIB:.2f} GiB)"
                    )
                if {"polars", "spark"} <= set(round_times):
                    ratios.setdefault(n, []).append(round_times["spark"] / round_times["polars"])
            if args.render and spark is not None:
                stop_spark(spark)
                spark = None
            if len(outputs) == 2:
                print(f"  tables: {same_tables(outputs['polars'], outputs['spark'])}")
    if spark is not None:
        spark.stop()

    if renders:
        report_renders(renders, baseline)
    if not args.engines:
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    print("\nsize        engine   best s   median s  peak GiB (all / Python)   x first size (median)")
    for engine in args.engines:
        base = statistics.median(r[0] for r in results[(sizes[0], engine)])
        for n in sizes:
            times = [r[0] for r in results[(n, engine)]]
            peak = max(r[1] for r in results[(n, engine)]) / GIB
            own = max(r[2] for r in results[(n, engine)]) / GIB
            median = statistics.median(times)
            print(
                f"{n:>10,}  {engine:<7} {min(times):8.2f} {median:9.2f} {peak:9.2f} / {own:5.2f}"
                f"          {median / base:6.2f}"
            )
    for n, values in ratios.items():
        print(
            f"Spark / polars at {n:,}: median of within-round ratios {statistics.median(values):.2f} (rounds: {', '.join(f'{v:.2f}' for v in values)})"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
