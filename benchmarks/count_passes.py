"""Passes over the person table of one page: every query that scans a Parquet file, by the function making it.

Runs the page as its kernel would (as ``profile_pages.py --run-page``) with ``LazyFrame.collect``
and ``polars.collect_all`` wrapped: a call whose plan scans Parquet is one pass, named by the
innermost ``healthgap`` function calling it (a ``collect_all`` is one pass for all its queries).
Prints the page's wall and CPU seconds (all threads) and the passes. Set ``HEALTHGAP_CONFIG``,
``HEALTHGAP_DATA_CACHE`` (prepared table), ``HEALTHGAP_DOWNLOADS`` and ``HEALTHGAP_MODEL_CACHE``
as a render would; results pages share (``HEALTHGAP_SHARED_CACHE``) are read when present.

Usage::

    python benchmarks/count_passes.py chapters/recorded-disease.qmd
"""

import os
import sys
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl

page = Path(sys.argv[1]).resolve()
passes = Counter()
secs = defaultdict(float)
_collect = pl.LazyFrame.collect
_collect_all = pl.collect_all
depth = [0]


def caller():
    for fr in reversed(traceback.extract_stack()[:-2]):
        if "/healthgap/" in fr.filename and "/book.py" not in fr.filename:
            return f"{fr.filename.split('/healthgap/')[-1]}:{fr.name}"
    return "?"


def collect(self, *a, **k):
    if depth[0]:
        return _collect(self, *a, **k)
    s = "PARQUET" in self.explain(optimized=False).upper()
    t = time.perf_counter()
    depth[0] += 1
    try:
        return _collect(self, *a, **k)
    finally:
        depth[0] -= 1
        if s:
            c = caller()
            passes[c] += 1
            secs[c] += time.perf_counter() - t


def collect_all(lfs, *a, **k):
    lfs = list(lfs)
    s = any("PARQUET" in lf.explain(optimized=False).upper() for lf in lfs)
    t = time.perf_counter()
    depth[0] += 1
    try:
        return _collect_all(lfs, *a, **k)
    finally:
        depth[0] -= 1
        if s:
            c = "collect_all@" + caller()
            passes[c] += 1
            secs[c] += time.perf_counter() - t


pl.LazyFrame.collect = collect
pl.collect_all = collect_all
started, cpu = time.perf_counter(), time.process_time()
os.environ["HEALTHGAP_CHAPTER"] = page.stem
os.environ.setdefault("HEALTHGAP_PAGE_PREFIX", "" if page.name == "index.qmd" else "../")
os.chdir(page.parent)
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402 - after the chapter environment

from healthgap.render.qmd import parse_qmd  # noqa: E402

shell = InteractiveShell.instance()
doc = parse_qmd(page)
for cell in doc.cells:
    if cell.options.get("eval") is False:
        continue
    r = shell.run_cell(cell.source, store_history=False)
    if not r.success:
        print("FAILED", cell.number, r.error_in_exec, file=sys.stderr)
for inline in doc.inlines:
    shell.run_cell(inline.code, store_history=False)
wall = time.perf_counter() - started
c = time.process_time() - cpu
print(
    f"PAGE {page.stem} wall {wall:.1f} cpu {c:.1f} passes {sum(passes.values())} pass-seconds {sum(secs.values()):.1f}"
)
for k, v in passes.most_common():
    print(f"   {v:4d} {secs[k]:7.1f}s {k}")
