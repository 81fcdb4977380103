"""The model chapters skip cleanly what a dataset cannot support.

Two small datasets made from the synthetic population, each rendered with the
built-in renderer as a book of just the model chapters:

* no outcome columns at all (and a config that never names a model target);
* outcomes present, but one equity dimension with a single level (everyone
  "female") and no true-status columns.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
MODEL_PAGES = ["chapters/predicting-risk.qmd", "chapters/fairness.qmd", "chapters/explanations.qmd"]
CARD = "chapters/model-card.qmd"
SKIP = "This section is skipped because the dataset has no"


def _project(root: Path) -> Path:
    spec = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    spec["project"].pop("post-render", None)
    spec["book"]["chapters"] = ["index.qmd", {"part": "Risk models and fairness", "chapters": MODEL_PAGES}]
    spec["book"]["appendices"] = [CARD]
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    for page in ["index.qmd", *MODEL_PAGES, CARD]:
        shutil.copyfile(REPO / page, root / page)
    shutil.copytree(REPO / "_extensions", root / "_extensions")
    return root


def _render(tmp: Path, people, config_text: str) -> Path:
    from healthgap.render import render_book

    people.write_parquet(tmp / "people.parquet")
    (tmp / "config.yml").write_text(config_text, encoding="utf-8")
    root = _project(tmp / "book")
    return render_book(
        project=root, out=Path("_site"), config=tmp / "config.yml", engine="builtin", jobs=2, progress=None
    )


def _text(page: Path) -> str:
    raw = re.sub(r"<script\b.*?</script>", " ", page.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", raw)))


@pytest.fixture(scope="module")
def population():
    from healthgap.synth import generate

    people, _ = generate(20_000, seed=13)
    return people


def test_no_outcome_column_skips_the_models(tmp_path, population):
    people = population.drop("cvd_admissions", "cvd_death")
    site = _render(tmp_path, people, "data:\n  path: people.parquet\n  synthetic: true\n")
    for page in [*MODEL_PAGES, CARD]:
        text = _text(site / page.replace(".qmd", ".html"))
        assert f"{SKIP} usable outcome for the model" in text, page
        assert "Traceback" not in text, page
        # Later sections point back to that note instead of blaming their own inputs.
        for misleading in ("column with more than one group", "model features", "true-status columns"):
            assert f"{SKIP} {misleading}" not in text, (page, misleading)


def test_single_level_dimension_and_no_truth(tmp_path, population):
    import polars as pl

    people = population.select(pl.exclude("^true_.*$")).with_columns(pl.lit("female").alias("sex"))
    site = _render(tmp_path, people, "data:\n  path: people.parquet\n  synthetic: true\n")
    fairness = _text(site / "chapters" / "fairness.html")
    assert (
        "Not audited: Sex: only one level in the data (female), so there is nothing to compare." in fairness
    )
    assert f"{SKIP} true-status columns" in fairness
    assert f"{SKIP} usable outcome" not in fairness
    # The other dimensions are still audited: the deprivation table is published.
    assert (site / "downloads" / "fairness").is_dir()
    assert any((site / "downloads" / "fairness").glob("*.csv"))
