"""Where a page's render time goes: each chapter run alone under py-spy, its time by phase.

Each page runs in a fresh process, in the book's order, as its kernel would run it (an IPython
shell executes its cells, displays their results, then its inline expressions), sampled by
py-spy (wall-clock samples of the main thread, idle time included). Every sample is put in the
first phase one of its frames belongs to: imports; loading the person table (``Book.frame``:
``data.load``, validation, collect); the label-bias refit; SHAP; fairness mitigation; bootstraps;
the rest of the fairness audit; model fitting and metrics; disclosure; charts; tables and
downloads; the descriptive analyses (and ``stats``); page wording. The model cache is a fresh
folder per run, shared by the pages in order (as one render shares it), and so is the folder of the descriptive
results pages share (:func:`healthgap.engine.shared`): a page that repeats a call an earlier page
made reads its result, as in a render.

Not measured here (see the report of issue 14): the kernel's own start-up (about 2-3 s per page,
``python -c`` the renderer's ``execute_document`` on a one-cell page) and pandoc (well under a
second per page).

Usage::

    pip install py-spy
    python benchmarks/profile_pages.py [--config data/default.yml] [--pages chapters/fairness.qmd ...]
        [--out /tmp/profile] [--rate 25]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = (
    "index.qmd",
    "chapters/where-to-act.qmd",
    "chapters/population.qmd",
    "chapters/recorded-disease.qmd",
    "chapters/access-treatment.qmd",
    "chapters/experience.qmd",
    "chapters/outcomes.qmd",
    "chapters/geography.qmd",
    "chapters/predicting-risk.qmd",
    "chapters/fairness.qmd",
    "chapters/explanations.qmd",
    "chapters/model-card.qmd",
    "chapters/methods.qmd",
    "chapters/data-dictionary.qmd",
    "chapters/own-data.qmd",
    "chapters/accessibility.qmd",
    "chapters/truth-check.qmd",
)

#: (phase, test on one frame of py-spy's raw output); the first phase any frame matches wins.
PHASES = [
    ("imports", lambda f: f.startswith("_find_and_load ")),
    ("load table", lambda f: "Book.frame " in f or "(healthgap/data.py" in f),
    ("label-bias refit", lambda f: "(healthgap/fairness/_label_bias.py" in f),
    ("SHAP", lambda f: "(shap/" in f or "(healthgap/explain.py" in f),
    ("mitigation", lambda f: "_mitigation.py" in f or "(fairlearn/" in f),
    ("bootstraps", lambda f: "_groupboot.py" in f or "(healthgap/stats/bootstrap.py" in f),
    ("fairness audit", lambda f: "(healthgap/fairness/" in f),
    ("model fit", lambda f: "(healthgap/models/" in f or "(sklearn/" in f),
    ("disclosure", lambda f: "(healthgap/disclosure/" in f),
    ("charts", lambda f: "(healthgap/charts/" in f or "(altair/" in f or "(vl_convert" in f),
    ("tables", lambda f: "(healthgap/tables.py" in f or "(healthgap/downloads.py" in f),
    (
        "analyses",
        lambda f: "(healthgap/descriptive/" in f or "(healthgap/stats/" in f or "(healthgap/sql.py" in f,
    ),
    ("wording", lambda f: "(healthgap/" in f),
]
SHORT = {
    "imports": "import",
    "load table": "load",
    "label-bias refit": "lbias",
    "SHAP": "shap",
    "mitigation": "mitig",
    "bootstraps": "boot",
    "fairness audit": "audit",
    "model fit": "fit",
    "disclosure": "discl",
    "charts": "charts",
    "tables": "tables",
    "analyses": "analys",
    "wording": "words",
    "other": "other",
}


def run_page(page: Path) -> None:
    """Run one chapter as its kernel would, printing its times as JSON (``TIMES {...}``)."""
    import resource

    started, cpu = time.perf_counter(), time.process_time()
    os.environ["HEALTHGAP_CHAPTER"] = page.stem
    os.environ.setdefault("HEALTHGAP_PAGE_PREFIX", "" if page.name == "index.qmd" else "../")
    os.chdir(page.parent)
    from IPython.core.interactiveshell import InteractiveShell

    from healthgap.render.qmd import parse_qmd

    shell = InteractiveShell.instance()
    doc = parse_qmd(page)
    times: dict[str, float] = {}
    for cell in doc.cells:
        if cell.options.get("eval") is False:
            continue
        t = time.perf_counter()
        result = shell.run_cell(cell.source, store_history=False)
        if not result.success:
            print(
                f"cell {cell.number} failed: {result.error_in_exec or result.error_before_exec}",
                file=sys.stderr,
            )
        times[f"cell {cell.number} {cell.label or ''}".strip()] = time.perf_counter() - t
    t = time.perf_counter()
    for inline in doc.inlines:
        shell.run_cell(inline.code, store_history=False)
    times["inline expressions"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - started
    times["cpu"] = time.process_time() - cpu
    times["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("TIMES " + json.dumps(times))


def phases(raw: Path, rate: float) -> Counter[str]:
    """Seconds of the main thread per phase, from py-spy's raw output."""
    out: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not any("profile_pages.py" in f for f in frames[:3]):
            continue  # another thread
        phase = next((name for name, test in PHASES if any(test(f) for f in frames)), "other")
        out[phase] += int(n) / rate
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "data" / "default.yml")
    parser.add_argument("--pages", nargs="+", default=list(PAGES))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rate", type=int, default=25)
    parser.add_argument("--run-page", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_page is not None:
        run_page(args.run_page.resolve())
        return 0
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = (args.out or Path(f"/tmp/healthgap-profile-{os.getpid()}")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        HEALTHGAP_CONFIG=str(args.config.resolve()),
        HEALTHGAP_MODEL_CACHE=str(out / "model-cache"),
        HEALTHGAP_SHARED_CACHE=str(out / "shared-cache"),
        HEALTHGAP_DOWNLOADS=str(out / "downloads"),
    )
    shutil.rmtree(out / "model-cache", ignore_errors=True)
    shutil.rmtree(out / "shared-cache", ignore_errors=True)
    (out / "downloads").mkdir(exist_ok=True)
    names = [name for name, _ in PHASES] + ["other"]
    print(f"{'page':18}{'wall s':>8}{'cpu s':>8}{'MiB':>7}" + "".join(f"{SHORT[n]:>7}" for n in names))
    totals: Counter[str] = Counter()
    for page in args.pages:
        source = (REPO / page).resolve()
        raw = out / f"{source.stem}.txt"
        command = [pyspy, "record", "--idle", "--threads", "--format", "raw", "-r", str(args.rate)]
        command += ["-o", str(raw), "--", sys.executable, __file__, "--run-page", str(source)]
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
        )
        found = re.search(r"TIMES (.*)", done.stdout)
        if not found or not raw.is_file():
            print(f"{source.stem}: failed\n{done.stderr[-2000:]}")
            continue
        times = json.loads(found.group(1))
        spent = phases(raw, args.rate)
        totals.update(spent)
        totals.update({"wall": times["total"], "cpu": times["cpu"]})
        print(
            f"{source.stem:18}{times['total']:8.1f}{times['cpu']:8.1f}{times['max_rss_mib']:7.0f}"
            + "".join(f"{spent.get(n, 0):7.1f}" for n in names)
        )
    print(
        f"{'all pages':18}{totals['wall']:8.1f}{totals['cpu']:8.1f}{'':7}"
        + "".join(f"{totals[n]:7.1f}" for n in names)
    )
    print(f"raw samples in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
