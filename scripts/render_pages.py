"""Render only some pages of the book (for development): a quick check of the chapters you changed.

    python scripts/render_pages.py chapters/fairness.qmd chapters/model-card.qmd \\
        [--config data/examples/other_trust.yml] [--out /tmp/pages-site]

Copies the project into a temporary folder with only the named pages (the
welcome page is always kept), renders it with the built-in renderer and prints
where the site is. Cross-references to chapters left out read as unresolved;
everything else is as in the full book. Use ``make site`` for the real thing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _keep(entries: list, wanted: set[str]) -> list:
    out: list = []
    for e in entries:
        if isinstance(e, str):
            if e in wanted or e == "index.qmd":
                out.append(e)
        elif isinstance(e, dict) and "chapters" in e:
            kept = _keep(e["chapters"], wanted)
            if kept:
                out.append({**e, "chapters": kept})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="+", help="pages to render, e.g. chapters/fairness.qmd")
    parser.add_argument("--config", type=Path, default=REPO / "data" / "default.yml")
    parser.add_argument("--out", type=Path, default=None, help="site folder (default: a temporary folder)")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)
    wanted = {str(Path(p)) for p in args.pages}
    spec = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    spec["project"].pop("post-render", None)
    spec["book"]["chapters"] = _keep(spec["book"]["chapters"], wanted)
    spec["book"]["appendices"] = _keep(spec["book"].get("appendices", []), wanted)
    root = Path(tempfile.mkdtemp(prefix="healthgap-pages-"))
    (root / "chapters").mkdir()
    (root / "_quarto.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    for page in {"index.qmd", *wanted}:
        shutil.copyfile(REPO / page, root / page)
    shutil.copytree(REPO / "_extensions", root / "_extensions")
    from healthgap.render import render_book

    out = args.out.resolve() if args.out else root / "_site"
    site = render_book(project=root, out=out, config=args.config.resolve(), engine="builtin", jobs=args.jobs)
    print(f"site: {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
