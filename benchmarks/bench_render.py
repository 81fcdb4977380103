"""Benchmark: rendering the whole book with the built-in renderer.

Renders the book on the synthetic population at each ``--sizes`` (default the
default data, 250,000 people, and 1,000,000 people) and, as a peer measured in
the same run on the same machine, a *skeleton* of the same book: the same
``_quarto.yml``, pages and theme, but every page holds only its title and one
empty cell (``pass``). The skeleton costs exactly the fixed part of a render --
starting one Jupyter kernel per page, pandoc, writing the site, the swap -- so
the ratio book / skeleton says how much of the time is the analysis itself, and
is what to compare across machines.

When the book's chapters are not all present yet, the tests' fixture book is
used instead (and said so).

Usage::

    python benchmarks/bench_render.py [--sizes 250000 1000000] [--jobs N] [--seed 2024] [--project DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from healthgap.render import render_book
from healthgap.render.project import ProjectError, read_book

REPO = Path(__file__).resolve().parents[1]


def _project(work: Path, project: Path | None) -> tuple[Path, str]:
    if project is not None:
        read_book(project)
        return project.resolve(), str(project)
    try:
        read_book(REPO)
        return REPO, "the book"
    except ProjectError as exc:
        sys.path.insert(0, str(REPO / "tests"))
        from test_render import write_fixture_book

        print(f"(the book is incomplete: {exc}; timing the test fixture book instead)")
        return write_fixture_book(work / "fixture"), "the fixture book"


def _skeleton(project: Path, work: Path) -> Path:
    """The same book with every page reduced to its title and an empty cell."""
    book = read_book(project)
    root = work / "skeleton"
    root.mkdir()
    shutil.copyfile(project / "_quarto.yml", root / "_quarto.yml")
    if (project / "_extensions").is_dir():
        shutil.copytree(project / "_extensions", root / "_extensions")
    for page in book.pages:
        target = root / page.source
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"# {page.slug}\n\n```{{python}}\npass\n```\n", encoding="utf-8")
    for css in (
        [book.html.get("css")] if isinstance(book.html.get("css"), str) else book.html.get("css") or []
    ):
        if (project / css).is_file():
            (root / css).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(project / css, root / css)
    return root


def _data(work: Path, n: int, seed: int) -> Path:
    from healthgap.synth import write

    folder = work / f"data-{n}"
    folder.mkdir()
    write(folder / "synthetic", n=n, seed=seed)
    shutil.copyfile(REPO / "data" / "default.yml", folder / "default.yml")
    return folder / "default.yml"


def _timed(**kwargs) -> float:
    t0 = time.perf_counter()
    render_book(progress=None, engine="builtin", **kwargs)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument(
        "--project", type=Path, default=None, help="time this book instead (default: the repository's)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        work = Path(tmp)
        project, what = _project(work, args.project)
        skeleton = _skeleton(project, work)
        pages = len(read_book(project).pages)
        print(f"Rendering {what}: {pages} pages, jobs={args.jobs or 'auto'}")
        print(f"{'people':>10} {'book s':>9} {'skeleton s':>11} {'ratio':>7} {'s/page':>7}")
        for n in args.sizes:
            config = _data(work, n, args.seed)
            peer = _timed(project=skeleton, out=work / "site-skeleton", config=config, jobs=args.jobs)
            full = _timed(project=project, out=work / f"site-{n}", config=config, jobs=args.jobs)
            print(f"{n:>10,} {full:>9.1f} {peer:>11.1f} {full / peer:>7.1f} {full / pages:>7.1f}")


if __name__ == "__main__":
    main()
