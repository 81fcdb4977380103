"""The ``healthgap`` command line.

Sub-commands: ``synth``, ``validate``, ``init``, ``example``, ``render``.
User errors print a message to stderr without a traceback and exit with the
error's code (config 2, data 3, render 4); Ctrl-C exits 130, SIGTERM during a render 143.
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from healthgap import __version__
from healthgap.errors import DataError, HealthgapError, RenderError, Terminated

if TYPE_CHECKING:
    from healthgap._validation import ValidationReport
    from healthgap.config import Config

__all__ = ["main", "build_parser"]

EXIT_INTERRUPTED = 130
NO_RENDERER = (
    "The book renderer (healthgap.render) is not available in this installation: {detail}. "
    "Fix: reinstall healthgap with `make site` or `pip install -e .`."
)
NO_SYNTH = "The synthetic data generator (healthgap.synth) is not available: {detail}."
HINT_VERBOSE = "Run again with --verbose to see the full traceback."
#: The fewest people a book is rendered for (`validate` and `render` stop smaller datasets).
MIN_PEOPLE = 100
#: The fewest people with, and without, the model target for the risk-model chapters.
MIN_TARGET_CASES = 8
TOO_FEW_PEOPLE = (
    "The dataset has {rows:,} {people}; the book needs at least {min:,}. It compares groups "
    "(deprivation fifths, ethnic groups, sexes, ages) and publishes no count below {suppress}, so with "
    "fewer people almost every number would be hidden and some chapters cannot be computed at all. "
    "Fix: use the whole population rather than a sample."
)
TOO_FEW_CASES = (
    "model.target: {cases:,} {people} {have} {target} and {others:,} do not; the risk-model chapters need "
    "at least {min} of each (a model cannot be trained and tested on fewer, and disclosure control "
    "hides smaller counts). Fix: choose a more common outcome or condition as model.target, or use a "
    "larger population."
)
MSG_TERMINATED = "\nhealthgap: terminated by signal {signum}; the previous site was left untouched."
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _cause_text(exc: BaseException) -> str | None:
    """What caused an error, for --verbose: the kernel's traceback for a failed chapter cell
    (``CellFailure.traceback``), else the Python traceback of the underlying exception."""
    cause = exc.__cause__
    if cause is None:
        return None
    kernel = getattr(cause, "traceback", None)
    if isinstance(kernel, str) and kernel.strip():
        return _ANSI.sub("", kernel).rstrip()
    return "".join(traceback.format_exception(cause)).rstrip()


def _say(message: str) -> None:
    print(message, flush=True)


def _cmd_synth(args: argparse.Namespace) -> int:
    try:
        from healthgap import synth
    except ImportError as exc:
        raise HealthgapError(NO_SYNTH.format(detail=exc)) from None
    out = Path(args.out)
    start = time.perf_counter()
    kwargs = {"n": args.n, "seed": args.seed}
    if "progress" in inspect.signature(synth.write).parameters:
        kwargs["progress"] = _say
    else:
        _say(f"Generating a synthetic population of {args.n:,} people (seed {args.seed}) into {out}/ ...")
    synth.write(out, **kwargs)
    _say(
        f"Done in {time.perf_counter() - start:.1f} s: "
        + ", ".join(p.name for p in sorted(out.iterdir()) if p.is_file())
    )
    return 0


def _book_problems(config: Config, report: ValidationReport) -> list[str]:
    """What stops the book being rendered from a dataset: too few people (:data:`MIN_PEOPLE`),
    or, when the contract is met, a model target with fewer than :data:`MIN_TARGET_CASES` (or
    the disclosure threshold, if higher) people with or without it."""
    import polars as pl

    from healthgap.data import load

    suppress = config.disclosure.suppress_below
    if 0 < report.rows < MIN_PEOPLE:
        noun = "person" if report.rows == 1 else "people"
        return [TOO_FEW_PEOPLE.format(rows=report.rows, people=noun, min=MIN_PEOPLE, suppress=suppress)]
    if not report.ok:
        return []
    target = config.model.target
    if config.data.engine == "spark":  # counted on the cluster, as the check was
        from healthgap.engine import target_counts_spark

        counts = target_counts_spark(config)
        if counts is None:
            return []  # no target in this dataset: the model chapters are skipped
        cases, others = counts
    else:
        people = load(config, validate=False)
        if target not in people.collect_schema().names():
            return []  # no target in this dataset: the model chapters are skipped
        value = pl.col(target).cast(pl.Int64)
        cases, others = (
            people.select((value > 0).sum().alias("cases"), (value == 0).sum().alias("others"))
            .collect()
            .row(0)
        )
    needed = max(MIN_TARGET_CASES, suppress)
    if min(cases, others) >= needed:
        return []
    return [
        TOO_FEW_CASES.format(
            cases=cases,
            people="person" if cases == 1 else "people",
            have="has" if cases == 1 else "have",
            target=target,
            others=others,
            min=needed,
        )
    ]


def _check_dataset(config: Config) -> ValidationReport:
    """The dataset checked as `validate` and `render` both check it: the contract
    (:func:`healthgap.data.validate`; with ``data.engine: spark``
    :func:`healthgap.engine.validate_spark`, the same report counted on the cluster), then what
    the book needs (:func:`_book_problems`)."""
    if config.data.engine == "spark":
        from healthgap.engine import validate_spark

        report = validate_spark(config, raise_errors=False)
    else:
        from healthgap.data import validate

        report = validate(config, raise_errors=False)
    report.problems += _book_problems(config, report)
    return report


def _cmd_validate(args: argparse.Namespace) -> int:
    from healthgap.config import load_config

    config = load_config(args.config)
    _say(f"Config: {config.path}")
    report = _check_dataset(config)
    text = report.render()
    if report.ok:
        _say(text)
        return 0
    print(text, file=sys.stderr, flush=True)
    return 3


def _cmd_init(args: argparse.Namespace) -> int:
    from healthgap.scaffold import write_starter_config

    out = Path(args.out)
    if out.exists() and not args.force:
        raise HealthgapError(
            f"{out} already exists. Fix: choose another --out, or pass --force to overwrite it."
        )
    result = write_starter_config(Path(args.dataset), out=out)
    _say(result.summary())
    return 0


def _cmd_example(args: argparse.Namespace) -> int:
    from healthgap.examples import DEFAULTS, KINDS, write_example

    kinds = KINDS if args.kind == "all" else (args.kind,)
    out = Path(args.out)
    for kind in kinds:
        n = DEFAULTS[kind][0] if args.n is None else args.n
        _say(f"Writing the {kind!r} example dataset ({n:,} people) into {out}/ ...")
        path = write_example(kind, out, n=args.n, seed=args.seed)
        _say(f"Wrote {path}. Try: healthgap validate --config {out / (kind + '.yml')}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    try:
        from healthgap.render import render_book
    except ImportError as exc:
        raise RenderError(NO_RENDERER.format(detail=exc)) from None
    from healthgap.config import load_config, project_root

    config = load_config(args.config)  # fail fast, before any chapter runs
    report = _check_dataset(config)  # what `validate` refuses is never rendered (exit 3)
    if not report.ok:
        error = DataError(report.render())
        error.report = report
        raise error
    start = time.perf_counter()
    site = render_book(
        config=config.path,
        out=Path(os.path.abspath(Path(args.out).expanduser())),  # symbolic links are checked, not followed
        project=project_root(),
        engine=args.engine,
        jobs=args.jobs,
        progress=_say,
        force=args.force,
    )
    _say(f"Book written to {site} in {time.perf_counter() - start:.0f} s. Open {Path(site) / 'index.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="healthgap",
        description="Health inequalities in cardiovascular disease: build the book, check a dataset, "
        "or make a config for a new one.",
        epilog="The config is chosen by --config PATH, else $HEALTHGAP_CONFIG, else data/default.yml. "
        "Exit codes: 0 ok, 2 config error, 3 data error, 4 render error, 5 disclosure check failed, 130 interrupted, 143 terminated.",
    )
    parser.add_argument("--version", action="version", version=f"healthgap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "synth",
        help="generate the synthetic population",
        description="Generate the synthetic population (population.parquet, truth.json, areas.geojson).",
    )
    p.add_argument("--n", type=int, default=250_000, help="number of people (default 250000)")
    p.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    p.add_argument("--out", default="data/synthetic", help="output folder (default data/synthetic)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser(
        "validate",
        help="check a dataset against the contract",
        description="Print rows, per-column completeness, code distributions and every problem. "
        "Exit 0 if the data can be used, 3 if not, 2 if the config is invalid.",
    )
    p.add_argument("--config", help="config file (default: $HEALTHGAP_CONFIG or data/default.yml)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser(
        "init",
        help="write a starter config for a new dataset",
        description="Read a new dataset (CSV or Parquet), guess how its columns and codes map onto "
        "the contract, and write a commented config for you to complete.",
    )
    p.add_argument("dataset", help="the person table, .csv or .parquet")
    p.add_argument("--out", default="config.yml", help="config file to write (default config.yml)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=_cmd_init)

    p = sub.add_parser(
        "example",
        help="write the example datasets (other trust, cohort, no deprivation)",
        description="Write example datasets of other shapes (CSV with their own names and codes) "
        "and their configs, to try the book on datasets that are not the default: other_trust "
        "(another trust's extract), cohort (a Framingham-shaped heart study with a ten-year "
        "outcome and education as the social dimension) and no_deprivation (a GP practice "
        "extract with ethnic group but no deprivation).",
    )
    p.add_argument(
        "--kind",
        choices=["other_trust", "cohort", "no_deprivation", "all"],
        default="all",
        help="which example to write (default all)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=None,
        help="number of people (default: 20000 for other_trust and no_deprivation, 5000 for cohort)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: each example's own)")
    p.add_argument("--out", default="data/examples", help="output folder (default data/examples)")
    p.set_defaults(func=_cmd_example)

    p = sub.add_parser(
        "render",
        help="build the book (static website)",
        description="Execute every chapter against the configured dataset and write the website.",
    )
    p.add_argument("--config", help="config file (default: $HEALTHGAP_CONFIG or data/default.yml)")
    p.add_argument(
        "--out",
        default="_site",
        help="output folder (default _site); it is replaced whole, so it must be new, empty or a "
        "site healthgap wrote",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="also replace a site written by an earlier version of healthgap (never any other folder)",
    )
    p.add_argument(
        "--engine",
        choices=("auto", "quarto", "builtin"),
        default="auto",
        help="quarto, the built-in renderer, or auto (quarto when installed; default)",
    )
    p.add_argument(
        "--jobs", type=int, default=None, help="chapters executed in parallel (default: CPU count)"
    )
    p.add_argument(
        "--verbose",
        action="store_true",
        help="on failure, also print the traceback (a failing chapter's kernel traceback)",
    )
    p.set_defaults(func=_cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    References
    ----------
    .. [1] Python documentation, argparse, https://docs.python.org/3/library/argparse.html
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except HealthgapError as exc:
        print(f"healthgap {args.command}: error: {exc}", file=sys.stderr, flush=True)
        cause = _cause_text(exc)
        if cause and getattr(args, "verbose", False):
            print(f"\nTraceback (the cause of the error above):\n{cause}", file=sys.stderr, flush=True)
        elif cause and hasattr(args, "verbose"):
            print(HINT_VERBOSE, file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\nhealthgap: interrupted.", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Terminated as exc:
        print(MSG_TERMINATED.format(signum=exc.signum), file=sys.stderr, flush=True)
        return int(exc.code or 1)
    except BrokenPipeError:
        return 0


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
