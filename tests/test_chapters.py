"""Render the book's descriptive chapters with the built-in renderer and check what they publish.

Two books, each rendered once per session: the default config on a small synthetic population
(20,000 people) and the "other trust" example (other names and codes, fewer columns, quintiles
only, no truth). The model chapters are left out of this project copy (they have their own tests).
"""

from __future__ import annotations

import html
import json
import math
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
SLUGS = [
    "population",
    "recorded-disease",
    "access-treatment",
    "outcomes",
    "geography",
    *MODEL_SLUGS,
    "methods",
    "data-dictionary",
    "own-data",
    "accessibility",
]


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

    return render_book(
        project=root, out=Path("_site"), config=config, engine="builtin", jobs=2, progress=None
    )


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
    from healthgap.pages.welcome import headlines

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
    expected = stats.dsr(
        counts, events="chd", population="population", age_band="age_band", by="imd_quintile", multiplier=100
    )
    got = published.filter((pl.col("dimension") == "imd_quintile") & (pl.col("measure") == "chd"))
    joined = got.join(
        expected.select("imd_quintile", pl.col("value").alias("expected"), pl.col("chd").alias("raw_events")),
        left_on="level",
        right_on="imd_quintile",
    )
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
    on_disk = {
        p.relative_to(default_site / "downloads").as_posix()
        for p in (default_site / "downloads").rglob("*.csv")
    }
    assert files == on_disk
    chapters = {e["chapter"] for e in manifest["files"]}
    assert {
        "index",
        "population",
        "recorded-disease",
        "access-treatment",
        "outcomes",
        "geography",
    } <= chapters


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
    assert "skipped because the dataset has no columns saying who truly has each condition" in access
    assert "skipped because the dataset has no access measures (such as referrals, waits" in access
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
        # a column empty throughout (every ratio suppressed) is read as text
        df = df.with_columns(pl.col("rate_ratio").cast(pl.Float64, strict=False))
        keys = [c for c in ("dimension", "measure") if c in df.columns]
        groups = df.group_by(keys).agg(
            shown=(pl.col("rate_ratio").is_not_null() & (pl.col("rate_ratio") != 1.0)).sum(),
            reference_published=((pl.col("rate_ratio") == 1.0) & pl.col("events").is_not_null()).sum(),
        )
        bad = groups.filter((pl.col("shown") > 0) & (pl.col("reference_published") == 0))
        assert bad.is_empty(), f"{path.name}: ratios against a suppressed reference in {bad.to_dicts()}"
        checked += 1
    assert checked >= 3


def test_sii_is_weighted_by_the_published_populations(default_site, default_config):
    """The published SII comes from the least-squares line through the log of the exact DSRs (rates are
    fitted on the log scale), weighted by the fifths' populations as published (rounded to 5, disclosure
    rule 8): SII = exp(a + b) - exp(a), RII = exp(b)."""
    from healthgap import stats
    from healthgap.data import load

    people = load(default_config).collect().with_columns(pl.col("imd_quintile").cast(pl.String))
    counts = stats.counts_by_age_band(people, events="chd", by="imd_quintile").with_columns(
        pl.col("age_band").cast(pl.String)
    )
    dsrs = stats.dsr(
        counts, events="chd", population="population", age_band="age_band", by="imd_quintile", multiplier=100
    ).sort("imd_quintile")
    n = people.group_by("imd_quintile").len().sort("imd_quintile")["len"].to_numpy().astype(float)
    n = 5 * np.floor(n / 5 + 0.5)  # as published (every fifth holds thousands of people)
    y, f = np.log(dsrs["value"].to_numpy()), n / n.sum()
    x = np.cumsum(f) - f / 2
    xm, ym = (f * x).sum(), (f * y).sum()
    slope = (f * (x - xm) * (y - ym)).sum() / (f * (x - xm) ** 2).sum()
    icpt = ym - slope * xm
    published = pl.read_csv(default_site / "downloads" / "recorded-disease" / "sii.csv")
    row = published.filter(pl.col("condition") == "Coronary heart disease").row(0, named=True)
    assert row["sii"] == pytest.approx(np.exp(icpt + slope) - np.exp(icpt), rel=1e-9)
    assert row["rii"] == pytest.approx(np.exp(slope), rel=1e-9)


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


def tables_of(page: Path) -> list[tuple[list[str], list[list[str]]]]:
    """Every HTML table of a page as (column headings, rows of cell texts)."""
    raw = page.read_text(encoding="utf-8")
    out = []
    for table in re.findall(r"<table\b.*?</table>", raw, flags=re.S):
        head = re.search(r"<thead>(.*?)</thead>", table, flags=re.S)
        headings = (
            [
                html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
                for h in re.findall(r"<th\b[^>]*>(.*?)</th>", head.group(1), flags=re.S)
            ]
            if head
            else []
        )
        body = re.findall(r"<tbody>(.*?)</tbody>", table, flags=re.S)
        rows = [
            [
                html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                for c in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", tr, flags=re.S)
            ]
            for part in body
            for tr in re.findall(r"<tr\b.*?</tr>", part, flags=re.S)
        ]
        out.append((headings, [r for r in rows if len(r) == len(headings)]))
    return out


RATIO_HEADINGS = {"Rate ratio", "RR lower", "RR upper", "Observed / expected"}


@pytest.mark.parametrize("site_fixture", ["default_site", "other_site"])
def test_ratios_and_their_intervals_are_shown_to_two_decimals(site_fixture, request):
    """A ratio and its interval at the same precision: '0.99 | 0.96 | 1.03', never '0.99 | 1.0 | 1.0'."""
    site = request.getfixturevalue(site_fixture)
    checked = 0
    for slug in ("recorded-disease", "access-treatment", "outcomes", "geography"):
        for headings, rows in tables_of(site / "chapters" / f"{slug}.html"):
            ratio_cols = [i for i, h in enumerate(headings) if h in RATIO_HEADINGS]
            if "Observed / expected" in headings:
                ratio_cols += [i for i, h in enumerate(headings) if h in ("Lower 95% CI", "Upper 95% CI")]
            for row in rows:
                for i in ratio_cols:
                    if row[i] not in ("[c]", "[x]", "[z]"):
                        assert re.fullmatch(r"-?\d+\.\d\d", row[i]), (slug, headings[i], row)
                        checked += 1
    assert checked > 50


def test_other_trust_text_describes_only_what_its_data_have(other_site):
    population = text_of(other_site / "chapters" / "population.html")
    assert "days to first outpatient" not in population.lower()  # the column does not exist here
    assert "The only column with missing values is ethnic group" in population
    disease = text_of(other_site / "chapters" / "recorded-disease.html")
    assert "Locality This section is skipped because the dataset has no locality column." in disease
    assert "small areas" not in disease
    geography = text_of(other_site / "chapters" / "geography.html")
    assert "small urban areas" not in geography and "1,500" not in geography
    # no boundaries and no localities: the practices are listed, not drawn as tiles in code order
    assert (
        "gives recorded hypertension for each of the GP practices" in geography and "hexagon" not in geography
    )
    access = text_of(other_site / "chapters" / "access-treatment.html")
    treatment = access[access.index("Treatment among the eligible") : access.index("Access to services")]
    # indicators the data cannot give are named once, in one note; the rest are shown
    assert "Not shown, because this dataset cannot give them: anticoagulant prescribed" in treatment
    assert treatment.count("140 mmHg") == 1  # only in that note
    assert "counts nobody as having them, so its eligibility rests on the columns it does have" in treatment
    assert (
        "Statin prescribed (eligibility from coronary heart disease and diabetes only), standardised for age and "
        "sex, was" in treatment
    )
    assert "shows the share who waited" not in access  # the waits section is skipped


def test_locality_difference_is_worded_by_its_confidence_interval(default_site, default_config):
    """Highest against lowest locality: 'could be due to chance' exactly when the rate ratio's CI includes 1."""
    from healthgap import stats
    from healthgap.data import load

    loc = pl.read_csv(default_site / "downloads" / "geography" / "localities.csv", infer_schema_length=None)
    pub = loc.filter((pl.col("measure") == "hypertension") & pl.col("value").is_not_null())
    hi = pub.sort("value", descending=True).row(0, named=True)
    lo = pub.sort("value").row(0, named=True)
    people = load(default_config).collect().with_columns(pl.col("locality").cast(pl.String))
    two = people.filter(pl.col("locality").is_in([hi["level"], lo["level"]]))
    counts = stats.counts_by_age_band(two, events="hypertension", by="locality").with_columns(
        pl.col("age_band").cast(pl.String)
    )
    rr = stats.rate_ratio(
        counts,
        events="hypertension",
        population="population",
        group="locality",
        reference=lo["level"],
        age_band="age_band",
    ).filter(pl.col("locality") == hi["level"])
    r = rr.row(0, named=True)
    text = text_of(default_site / "chapters" / "geography.html")
    sentence = text[text.index("Age-standardised recorded hypertension is highest") :]
    sentence = sentence[: sentence.index(").") + 2]
    assert f"highest in {hi['label']}" in sentence and f"lowest in {lo['label']}" in sentence
    assert f"rate ratio {r['value']:.2f}, 95% CI {r['lower_ci']:.2f} to {r['upper_ci']:.2f}" in sentence
    # the verdict follows the interval widened for the k(k-1)/2 pairs of localities (the extremes are picked)
    k = pub.height
    low, high = stats.bonferroni_ratio(r["value"], r["lower_ci"], r["upper_ci"], pairs=k * (k - 1) // 2)
    assert f"{low:.2f} to {high:.2f} allowing for the {k * (k - 1) // 2} pairs of {k} localities" in sentence
    assert ("could be due to chance" in sentence) == (low <= 1 <= high)


def test_descriptive_text_has_units_and_readable_headings(default_site, other_site, default_config):
    from healthgap.data import load

    for slug in ("access-treatment", "outcomes", "geography"):
        text = text_of(default_site / "chapters" / f"{slug}.html")
        # every difference has its unit: '13 days', '16.6 per 100 referred', '9.3 percentage points'
        assert not re.search(r"a difference of [\d.,]+\.(\s|$)", text), slug
    headings = [h for h, _ in tables_of(default_site / "chapters" / "population.html")]
    assert ["Age band", "Sex", "People", "Share of everyone"] in headings
    geography = text_of(default_site / "chapters" / "geography.html")
    m = re.search(
        r"Nationally an LSOA has about 1,500 residents; the ([\d,]+) areas in this dataset hold "
        r"([\d,]+) people each on average",
        geography,
    )
    assert m, "the size of the dataset's small areas is not given"
    people = load(default_config).collect()
    n_areas = people.get_column("lsoa").n_unique()
    assert int(m.group(1).replace(",", "")) == n_areas
    assert int(m.group(2).replace(",", "")) == round(people.height / n_areas, -1)
    own = text_of(default_site / "chapters" / "own-data.html")
    assert "<this repository>" not in own and "1. Install" not in own
    contact = text_of(default_site / "chapters" / "accessibility.html")
    assert default_config.report.contact in contact and "report.contact" not in contact
    other = text_of(other_site / "chapters" / "accessibility.html")
    assert "the Population Health Analytics team (example contact details)" in other
    assert "report.contact" not in other


def test_text_says_only_what_each_dataset_can_show(default_site, other_site):
    """Sentences true only of the default data (waits, localities, small areas, true status, boundaries,
    blood pressure control) are not on the other trust's pages, and the default pages keep them."""

    def page(site, slug):
        return text_of(site / ("index.html" if slug == "index" else f"chapters/{slug}.html"))

    def descriptions(site, slug):
        return " ".join(
            str(spec.get("description", "")) for spec in specs_of(site / "chapters" / f"{slug}.html")
        )

    # the welcome page's chapter list
    other, default = page(other_site, "index"), page(default_site, "index")
    for phrase in (
        "waits and missed appointments",
        "who waits longest",
        "maps the differences",
        "with a map",
    ):
        assert phrase not in other, phrase
    assert (
        "Access and treatment ( Chapter 4 ) looks at diagnosis, treatment of people who should be treated "
        "and cardiology referral." in default
    )
    assert (
        "Experience ( Chapter 5 ) looks at days to first outpatient appointment, days from referral"
        in default
    )
    assert "Experience ( Chapter 5 ) has nothing to show for this dataset" in other
    assert "who waits longest" in default
    assert "Geography ( Chapter 7 ) compares localities and small areas, with a map." in default
    # no boundaries and no localities: Geography lists the practices in a table (no tiles)
    assert "compares GP practices, listed in a table" in other and "equal-sized tiles" not in other
    # access: no social gradient asserted for a skipped section; one note for under-diagnosis
    other, default = page(other_site, "access-treatment"), page(default_site, "access-treatment")
    assert "social gradient" not in other
    # missed appointments are in the Experience chapter, which the other trust's data cannot fill
    assert "Missed appointments are often read" not in page(other_site, "experience")
    assert "Missed appointments are often read as patients" in page(default_site, "experience")
    assert "does not include true disease status" not in other and "true_<condition>" not in other
    assert other.count("under-diagnosis can") == 1  # said once, in the skip note
    assert "we can measure under-diagnosis directly" in default
    # the blood-pressure indicator needs the antihypertensive column, which the other trust lacks
    assert "Blood pressure below 140 mmHg" not in descriptions(other_site, "access-treatment")
    assert (
        "Blood pressure below 140 mmHg (treated hypertension), standardised for age and sex, was"
        in descriptions(default_site, "access-treatment")
    )
    # recorded disease: one skip note for localities, no 'map' without boundaries
    other = page(other_site, "recorded-disease")
    assert "This comparison is not available for this dataset" not in other
    assert "maps recorded disease" not in other
    assert "maps recorded disease for each small area (LSOA)" in page(default_site, "recorded-disease")
    # geography: practices without boundaries or localities are listed in a table, not drawn (tiles in
    # order of their codes would show nothing the table does not), and nothing is said of localities
    other, default = page(other_site, "geography"), page(default_site, "geography")
    assert "Recorded disease by GP practice" in other and "Mapping recorded disease" not in other
    assert "hex-tile map" not in other and "Map of recorded prevalence" not in other
    assert re.search(
        r"Table \d+\.\d+ gives recorded \w[\w ]* for each of the GP practices, with its 95% confidence "
        r"interval\. There are no boundaries for these GP practices to draw a map with, so they are listed "
        r"rather than drawn\.",
        other,
    )
    assert "hexagon" not in other and "table under the map" not in other and "localities" not in other
    raw = (other_site / "chapters" / "geography.html").read_text(encoding="utf-8")
    assert 'id="map-spec"' not in raw and "Tile chart" not in descriptions(other_site, "geography")
    assert 'id="map-spec"' in (default_site / "chapters" / "geography.html").read_text(encoding="utf-8")
    assert "Mapping recorded disease" in default and "as a map of their boundaries" in default
    assert "Map of crude recorded" in descriptions(default_site, "geography")
    # methods: no localities or small areas the data do not have
    other, default = page(other_site, "methods"), page(default_site, "methods")
    assert "such as the localities" not in other and "protected within each locality" not in other
    assert "such as the localities with the highest and lowest rates in Section 7.1" in default
    assert "Small areas are protected within each locality, whose totals are published." in default
    # references to sections this dataset skips
    other, default = page(other_site, "data-dictionary"), page(default_site, "data-dictionary")
    assert "Section 4.2" not in other and "those two sections are not available for it" in other
    assert (
        "under-diagnosis ( Section 4.2 ) and to check the risk model for label bias ( Section 9.2 )"
        in default
    )
    other, default = page(other_site, "explanations"), page(default_site, "explanations")
    assert "Section 9.2" not in other
    # the caveat linking to the label-bias audit comes with a split gap (this small book splits none)
    assert ("disadvantaged groups (see Section 9.2 )" in default) != ("is not split here" in default)
    for text in (other, default):
        assert "shap_sample" not in text and "SHAP sample size setting" in text
    # population: the chart description names only the groups the data have
    assert "age band and sex." in descriptions(other_site, "population")
    assert "locality" not in descriptions(other_site, "population")
    assert "age band, sex and locality." in descriptions(default_site, "population")
    # predicting risk: calibration names its model; diagnosis gaps only where the data show them
    other, default = page(other_site, "predicting-risk"), page(default_site, "predicting-risk")
    for text in (other, default):
        assert re.search(
            r"For the gradient-boosted model \(.Gradient boosting. in the performance table\), "
            r"calibration-in-the-large is",
            text,
        )
    assert "inequalities in diagnosis shown in Chapter 3" not in other + default
    assert "inherits the inequalities in diagnosis shown in Section 4.2" in default
    assert "this dataset cannot show how complete diagnosis is" in other
