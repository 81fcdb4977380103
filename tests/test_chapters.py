"""Render the book's descriptive chapters with the built-in renderer and check what they publish.

Two books, each rendered once per session: the default config on a small synthetic population
(20,000 people) and the "other trust" example (other names and codes, fewer columns, quintiles
only, no truth). The model chapters are left out of this project copy (they have their own tests).
"""

from __future__ import annotations

import html
import math
import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
MODEL_SLUGS = ["predicting-risk", "fairness", "explanations", "model-card"]
SLUGS = ["population", "recorded-disease", "access-treatment", "outcomes", "geography", *MODEL_SLUGS,
         "methods", "data-dictionary", "own-data", "accessibility"]  # fmt: skip


def _pages(entries: list) -> list[str]:
    out: list[str] = []
    for e in entries:
        if isinstance(e, str):
            out.append(e)
        elif isinstance(e, dict) and "chapters" in e:
            out.extend(_pages(e["chapters"]))
    return out


def make_project(root: Path) -> Path:
    """A copy of the whole book (every chapter and appendix in ``_quarto.yml``) in ``root``."""
    spec = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    spec["project"].pop("post-render", None)  # the built-in renderer finishes the site itself
    pages = _pages(spec["book"]["chapters"]) + _pages(spec["book"].get("appendices", []))
    assert {f"chapters/{s}.qmd" for s in SLUGS} <= set(pages), "a chapter is missing from _quarto.yml"
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    for page in pages:
        shutil.copyfile(REPO / page, root / page)
    shutil.copytree(REPO / "_extensions", root / "_extensions")
    return root


def render(root: Path, config: Path) -> Path:
    from healthgap.render import render_book

    return render_book(project=root, out=Path("_site"), config=config, engine="builtin", jobs=2,
                       progress=None)  # fmt: skip


@pytest.fixture(scope="session")
def default_site(tmp_path_factory, synthetic_dir):
    root = make_project(tmp_path_factory.mktemp("book-default"))
    return render(root, synthetic_dir / "default.yml")


@pytest.fixture(scope="session")
def other_site(tmp_path_factory, other_trust_dir):
    root = make_project(tmp_path_factory.mktemp("book-other"))
    return render(root, other_trust_dir / "other_trust.yml")


def text_of(page: Path) -> str:
    """Visible text of a page: scripts and tags removed, entities decoded, whitespace collapsed."""
    raw = page.read_text(encoding="utf-8")
    raw = re.sub(r"<script\b.*?</script>", " ", raw, flags=re.S)
    raw = re.sub(r"<[^>]+>", " ", raw)
    return re.sub(r"\s+", " ", html.unescape(raw))


def specs_of(page: Path) -> list[dict]:
    raw = page.read_text(encoding="utf-8")
    found = re.findall(r'<script type="application/json" id="[^"]*-spec">(.*?)</script>', raw, flags=re.S)
    return [json.loads(html.unescape(s)) if s.lstrip().startswith("&") else json.loads(s) for s in found]


@pytest.mark.parametrize("site_fixture", ["default_site", "other_site"])
def test_every_page_exists(site_fixture, request):
    site = request.getfixturevalue(site_fixture)
    assert (site / "index.html").is_file()
    for slug in SLUGS:
        assert (site / "chapters" / f"{slug}.html").is_file(), slug


def test_headline_sentences_hold_the_computed_numbers(default_site, default_config):
    from healthgap.data import load
    from healthgap.descriptive import headlines

    h = headlines(load(default_config).collect(), default_config)
    page = text_of(default_site / "index.html")
    for finding in h:
        assert finding.available
        assert re.sub(r"\s+", " ", finding.text) in page, finding.key
    assert "Synthetic data" in page


def test_prevalence_download_matches_stats(default_site, default_config):
    """The published DSRs are healthgap.stats.dsr of the counts, and counts are protected."""
    from healthgap import stats
    from healthgap.data import load

    csv = default_site / "downloads" / "recorded-disease" / "prevalence-all.csv"
    published = pl.read_csv(csv, schema_overrides={"level": pl.String})
    people = load(default_config).collect().with_columns(pl.col("imd_quintile").cast(pl.String))
    counts = stats.counts_by_age_band(people, events="chd", by="imd_quintile").with_columns(
        pl.col("age_band").cast(pl.String)
    )
    expected = stats.dsr(counts, events="chd", population="population", age_band="age_band", by="imd_quintile",
                         multiplier=100)  # fmt: skip
    got = published.filter((pl.col("dimension") == "imd_quintile") & (pl.col("measure") == "chd"))
    joined = got.join(expected.select("imd_quintile", pl.col("value").alias("expected"),
                                      pl.col("chd").alias("raw_events")),
                      left_on="level", right_on="imd_quintile")  # fmt: skip
    assert joined.height == 5
    for row in joined.iter_rows(named=True):
        if row["suppressed"]:
            assert row["value"] is None
        else:
            assert row["value"] == pytest.approx(row["expected"], rel=1e-9)
            assert row["events"] == 5 * math.floor(row["raw_events"] / 5 + 0.5)  # rounded to 5, halves up


def test_manifest_lists_every_download(default_site):
    manifest = json.loads((default_site / "downloads" / "manifest.json").read_text())
    files = {e["file"] for e in manifest["files"]}
    on_disk = {p.relative_to(default_site / "downloads").as_posix()
               for p in (default_site / "downloads").rglob("*.csv")}  # fmt: skip
    assert files == on_disk
    chapters = {e["chapter"] for e in manifest["files"]}
    assert {"index", "population", "recorded-disease", "access-treatment", "outcomes", "geography"} <= chapters


@pytest.mark.parametrize("site_fixture", ["default_site", "other_site"])
def test_nothing_published_is_disclosive(site_fixture, request):
    from healthgap.disclosure import assert_publishable

    site = request.getfixturevalue(site_fixture)
    csvs = list((site / "downloads").rglob("*.csv"))
    assert len(csvs) >= 10
    for path in csvs:
        assert "person_id" not in path.read_text(encoding="utf-8").splitlines()[0]
        assert_publishable(path)
    pages = [site / "index.html", *[site / "chapters" / f"{s}.html" for s in SLUGS]]
    n_specs = 0
    for page in pages:
        for spec in specs_of(page):
            assert_publishable(spec)
            assert "person_id" not in json.dumps(spec)
            n_specs += 1
    assert n_specs >= 8


def test_other_trust_skips_sections_without_error(other_site):
    access = text_of(other_site / "chapters" / "access-treatment.html")
    assert "skipped because the dataset has no true disease status" in access
    assert "skipped because the dataset has no waiting time column" in access
    index = text_of(other_site / "index.html")
    assert "Another NHS Trust (example)" in index
    geography = text_of(other_site / "chapters" / "geography.html")
    assert "skipped because the dataset has no locality column" in geography


@pytest.mark.parametrize("site_fixture", ["default_site", "other_site"])
def test_no_rate_ratio_against_a_suppressed_reference(site_fixture, request):
    """A ratio next to its group's rate gives the reference rate (and count) back: none may be shown
    unless the reference row itself is published (ratio exactly 1, count visible)."""
    site = request.getfixturevalue(site_fixture)
    checked = 0
    for path in (site / "downloads").rglob("*.csv"):
        df = pl.read_csv(path, infer_schema_length=None)
        if "rate_ratio" not in df.columns:
            continue
        keys = [c for c in ("dimension", "measure") if c in df.columns]
        groups = df.group_by(keys).agg(
            shown=(pl.col("rate_ratio").is_not_null() & (pl.col("rate_ratio") != 1.0)).sum(),
            reference_published=((pl.col("rate_ratio") == 1.0) & pl.col("events").is_not_null()).sum(),
        )
        bad = groups.filter((pl.col("shown") > 0) & (pl.col("reference_published") == 0))
        assert bad.is_empty(), f"{path.name}: ratios against a suppressed reference in {bad.to_dicts()}"
        checked += 1
    assert checked >= 3


def test_sii_is_weighted_by_unrounded_populations(default_site, default_config):
    """The published SII is the population-weighted least-squares slope of the true DSRs."""
    from healthgap import stats
    from healthgap.data import load

    people = load(default_config).collect().with_columns(pl.col("imd_quintile").cast(pl.String))
    counts = stats.counts_by_age_band(people, events="chd", by="imd_quintile").with_columns(
        pl.col("age_band").cast(pl.String)
    )
    dsrs = stats.dsr(counts, events="chd", population="population", age_band="age_band", by="imd_quintile",
                     multiplier=100).sort("imd_quintile")  # fmt: skip
    n = people.group_by("imd_quintile").len().sort("imd_quintile")["len"].to_numpy().astype(float)
    y, f = dsrs["value"].to_numpy(), n / n.sum()
    x = np.cumsum(f) - f / 2
    xm, ym = (f * x).sum(), (f * y).sum()
    slope = (f * (x - xm) * (y - ym)).sum() / (f * (x - xm) ** 2).sum()
    published = pl.read_csv(default_site / "downloads" / "recorded-disease" / "sii.csv")
    row = published.filter(pl.col("condition") == "Coronary heart disease").row(0, named=True)
    assert row["sii"] == pytest.approx(slope, rel=1e-9)


def test_model_chapters_render_and_skip_what_the_data_cannot_support(default_site, other_site):
    """The model chapters run on both datasets; the label-bias audit needs true-status columns."""
    for site in (default_site, other_site):
        for slug in MODEL_SLUGS:
            page = text_of(site / "chapters" / f"{slug}.html")
            assert "Traceback" not in page, slug
    no_truth = "skipped because the dataset has no true-status columns"
    assert no_truth not in text_of(default_site / "chapters" / "fairness.html")
    assert no_truth in text_of(other_site / "chapters" / "fairness.html")
    downloads = {p.name for p in (default_site / "downloads" / "fairness").glob("*.csv")}
    assert downloads, "the fairness chapter published no downloads"
