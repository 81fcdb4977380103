"""Attack 13 of issue 11: `validate` passed datasets that the model chapters could not render.

A 2,003-person synthetic population (``healthgap synth --n 2003 --seed 5``) stopped the render in
the fairness page with fairlearn's "Degenerate labels for sensitive feature value 4" (a deprivation
fifth with nobody admitted in the training set), exit 4; so did 100 people with 8 or 20 cases and
1,000 people with 8 cases drawn from the default population, in the fairness page's mitigation and
the model card. Each is replayed here through the command line, on a book of the four model
chapters: `validate` and `render` must agree (both succeed, or both stop with the reason).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.attacks.conftest import run_cli
from tests.conftest import DEFAULT_YML

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MODEL_CHAPTERS = (
    "chapters/predicting-risk.qmd",
    "chapters/fairness.qmd",
    "chapters/explanations.qmd",
    "chapters/model-card.qmd",
)


def model_book(root: Path, people: pl.DataFrame, *, disclosure: dict | None = None) -> Path:
    """A book of the welcome page and the four model chapters on ``people`` (the default config)."""
    (root / "chapters").mkdir(parents=True, exist_ok=True)
    spec = {
        "project": {"type": "book"},
        "book": {"title": "Model chapters", "chapters": ["index.qmd", *MODEL_CHAPTERS]},
        "execute": {"echo": False},
    }
    (root / "_quarto.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    (root / "index.qmd").write_text("# Home\n\nThe model chapters alone.\n", encoding="utf-8")
    for page in MODEL_CHAPTERS:
        shutil.copyfile(REPO / page, root / page)
    shutil.copytree(REPO / "_extensions", root / "_extensions", dirs_exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    people.write_parquet(root / "data" / "people.parquet")
    raw = yaml.safe_load(DEFAULT_YML.read_text(encoding="utf-8"))
    raw["data"] = {**raw["data"], "path": "people.parquet", "truth": None, "boundaries": None}
    raw["disclosure"] = {**raw["disclosure"], **(disclosure or {})}
    (root / "data" / "default.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return root


def validate_and_render(root: Path, site: Path) -> tuple[int, int, str]:
    """Exit codes of `healthgap validate` and `healthgap render`, and what render printed."""
    checked = run_cli(root, "validate", timeout=300)
    rendered = run_cli(root, "render", "--out", str(site), timeout=1800)
    return checked.returncode, rendered.returncode, rendered.stderr + rendered.stdout


def drawn(population: Path, cases: int, others: int, *, seed: int = 1) -> pl.DataFrame:
    """``cases`` people with an emergency CVD admission and ``others`` without, from ``population``
    (the tests' synthetic population: a fresh clone has no ``data/synthetic``)."""
    people = pl.read_parquet(population)
    admitted = people.filter(pl.col("cvd_admissions") > 0).sample(cases, seed=seed)
    rest = people.filter(pl.col("cvd_admissions") == 0).sample(others, seed=seed)
    return pl.concat([admitted, rest]).sample(fraction=1.0, shuffle=True, seed=seed)


def _agree(root: Path, tmp_path: Path) -> None:
    checked, rendered, output = validate_and_render(root, tmp_path / "site")
    assert checked == 0, f"validate stopped a dataset the render is meant to handle:\n{output}"
    assert rendered == 0, f"validate passed but render failed:\n{output[-3000:]}"
    assert "Degenerate labels" not in output and "Traceback" not in output
    assert (tmp_path / "site" / "chapters" / "fairness.html").is_file()


def test_a_synthetic_population_of_2003_renders(tmp_path):
    from healthgap.synth import generate

    people, _ = generate(2003, seed=5)
    _agree(model_book(tmp_path / "book", people), tmp_path)


@pytest.mark.parametrize(
    ("cases", "others"),
    [
        (8, 92),
        (20, 80),  # nobody referred: the waits are empty, a warning (round 3 stopped it in validate)
        (8, 992),
    ],
)
def test_small_samples_of_the_default_population_render(cases, others, tmp_path, synthetic_dir):
    people = drawn(synthetic_dir / "synthetic" / "population.parquet", cases, others)
    _agree(model_book(tmp_path / "book", people), tmp_path)
