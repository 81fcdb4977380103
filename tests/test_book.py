"""healthgap.book: the chapter runtime publishes only Published frames and records downloads."""

from __future__ import annotations

import json
import re
import shutil

import altair as alt
import polars as pl
import pytest

import healthgap.book as hb
from healthgap.disclosure import DisclosureError, Published


@pytest.fixture
def shown(monkeypatch):
    """Capture what setup()/require() display."""
    import IPython.display

    out: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: out.extend(objs))
    return out


@pytest.fixture
def env(monkeypatch, tmp_path, synthetic_dir):
    downloads = tmp_path / "downloads"
    monkeypatch.setenv("HEALTHGAP_CONFIG", str(synthetic_dir / "default.yml"))
    monkeypatch.setenv("HEALTHGAP_DOWNLOADS", str(downloads))
    monkeypatch.setenv("HEALTHGAP_CHAPTER", "recorded-disease")
    monkeypatch.setenv("HEALTHGAP_PAGE_PREFIX", "../")
    return downloads


@pytest.fixture
def book(env, shown):
    return hb.setup("ignored-when-env-set")


def small_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "level": ["1", "2", "3", "4"],
            "label": ["a", "b", "c", "d"],
            "events": [3, 40, 52, 61],
            "population": [100, 200, 300, 400],
        }
    ).with_columns((100 * pl.col("events") / pl.col("population")).alias("value"))


def test_setup_reads_environment_and_shows_synthetic_banner(book, env, shown):
    assert book.chapter == "recorded-disease"
    assert book.page_prefix == "../"
    assert book.downloads == env.resolve()
    assert book.config.data.synthetic
    html = "".join(getattr(o, "data", "") for o in shown)
    assert "Synthetic data" in html and "hg-banner-synthetic" in html
    assert "Not for publication" not in html


def test_setup_defaults_without_environment(monkeypatch, tmp_path, synthetic_dir, shown):
    for var in ("HEALTHGAP_DOWNLOADS", "HEALTHGAP_CHAPTER", "HEALTHGAP_PAGE_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HEALTHGAP_CONFIG", str(synthetic_dir / "default.yml"))
    (tmp_path / "_quarto.yml").write_text("project:\n  type: book\n")
    (tmp_path / "chapters").mkdir()
    monkeypatch.chdir(tmp_path / "chapters")
    index = hb.setup("index")
    assert index.page_prefix == "" and index.chapter == "index"
    chapter = hb.setup("outcomes")
    assert chapter.page_prefix == "../"
    assert chapter.downloads == (tmp_path / "_build" / "downloads").resolve()


def test_disclosure_off_notice_on_every_page(monkeypatch, tmp_path, synthetic_dir, shown):
    text = (synthetic_dir / "default.yml").read_text()
    text = text.replace("enabled: true ", "enabled: false ").replace(
        "reason: null ", "reason: internal quality assurance "
    )
    cfg = synthetic_dir / "no_disclosure.yml"
    cfg.write_text(text)
    monkeypatch.setenv("HEALTHGAP_CONFIG", str(cfg))
    monkeypatch.setenv("HEALTHGAP_DOWNLOADS", str(tmp_path / "d"))
    b = hb.setup("methods")
    assert not b.config.disclosure.enabled
    html = "".join(getattr(o, "data", "") for o in shown)
    assert "Not for publication" in html and "internal quality assurance" in html


def published_table(book: hb.Book) -> Published:
    return book.publish(small_table(), counts=["events", "population"], by=[])


def test_figure_builds_chart_only_from_protected_data(book, env):
    seen: list[pl.DataFrame] = []

    def build(d: pl.DataFrame) -> alt.Chart:
        seen.append(d)
        return alt.Chart(d.select("label", "value")).mark_bar().encode(x="value:Q", y="label:N")

    out = book.figure(
        build, id="small", title="A small figure", description="Bars.", data=published_table(book)
    )
    protected = seen[0]
    assert protected.filter(pl.col("level") == "1")["events"].item() is None
    assert protected.filter(pl.col("level") == "1")["value"].item() is None  # derived from a suppressed count
    assert protected["suppressed"].to_list()[0] is True
    assert set(protected["events"].drop_nulls().to_list()) <= {x for x in range(0, 1000, 5)}
    csv = env / "recorded-disease" / "small.csv"
    assert csv.is_file()
    published = pl.read_csv(csv)
    assert published["events"].drop_nulls().min() >= 8
    assert 'href="../downloads/recorded-disease/small.csv"' in out.data
    assert "A small figure" in out.data
    assert "download>Download the data for a small figure (CSV)</a>" in out.data


def test_figure_rejects_finished_chart_with_small_counts(book):
    chart = alt.Chart(small_table()).mark_bar().encode(x="events:Q", y="label:N")
    with pytest.raises(DisclosureError):
        book.figure(chart, id="bad", title="t", description="d", data=published_table(book))


def test_only_published_frames_are_published(book, env):
    """A plain frame is refused with a message saying how to publish it; nothing is written."""
    for call in (
        lambda: book.figure(lambda d: d, id="f", title="t", description="d", data=small_table()),
        lambda: book.table(small_table(), id="t", title="t"),
        lambda: book.download(small_table(), id="d", title="t"),
    ):
        with pytest.raises(TypeError, match="must be a Published frame"):
            call()
    assert not (env / "recorded-disease").exists() or not list((env / "recorded-disease").iterdir())
    with pytest.raises(TypeError):
        book.table(published_table(book), id="legacy", title="t", counts=["events"])  # type: ignore[call-arg]


def test_person_level_data_is_refused(book):
    people = pl.DataFrame({"person_id": ["a", "b"], "age": [40, 50], "events": [0, 10]})
    with pytest.raises(DisclosureError):
        book.table(book.publish(people, counts=["events"]), id="people", title="People")


def test_table_and_download_write_protected_csv_and_manifest(book, env):
    t = book.table(published_table(book), id="rates", title="Rates")
    # the link names what it downloads (WCAG 2.4.4/2.4.9): the title is inside the <a>
    assert "download>Download rates (CSV)</a></p>" in t.data and "[c]" in t.data
    assert 'class="hg-download"' in t.data
    d = book.download(published_table(book), id="rates-data", title="Rates data")
    assert "rates-data.csv" in d.data and "download>Download rates data (CSV)</a>" in d.data
    manifest_path = hb.write_manifest(env)
    manifest = json.loads(manifest_path.read_text())
    entries = {e["id"]: e for e in manifest["files"]}
    assert set(entries) == {"rates", "rates-data"}
    e = entries["rates"]
    assert e["chapter"] == "recorded-disease" and e["file"] == "recorded-disease/rates.csv"
    assert e["title"] == "Rates" and "events" in e["columns"] and e["rows"] == 4
    assert manifest["count"] == 2
    # a fragment whose CSV has gone is dropped
    (env / "recorded-disease" / "rates.csv").unlink()
    assert [e["id"] for e in json.loads(hb.write_manifest(env).read_text())["files"]] == ["rates-data"]


def test_ids_are_checked(book):
    with pytest.raises(ValueError, match="not valid"):
        book.download(published_table(book), id="Bad Id", title="t")
    book.download(published_table(book), id="once", title="t")
    with pytest.raises(ValueError, match="used twice"):
        book.download(published_table(book), id="once", title="t")


def test_missing_count_column_is_named(book):
    with pytest.raises(DisclosureError, match="numerator"):
        book.publish(small_table(), counts=["numerator"])


def test_rerun_clears_previous_downloads_of_the_chapter(book, env, shown):
    book.download(published_table(book), id="old", title="t")
    other = env / "other-chapter"
    other.mkdir()
    (other / "keep.csv").write_text("a\n1\n")
    hb.setup("recorded-disease")
    assert not (env / "recorded-disease" / "old.csv").exists()
    assert (other / "keep.csv").exists()


def test_skip(book):
    note = book.skip("waiting time column")
    assert "skipped because the dataset has no waiting time column" in note.data


def test_people_is_cached_once_per_kernel(book):
    first = book.frame
    assert book.frame is first
    assert isinstance(book.people, pl.LazyFrame)
    assert "person_id" in book.frame.columns


def test_find_project(tmp_path):
    (tmp_path / "_quarto.yml").write_text("project: {}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert hb.find_project(deep) == tmp_path.resolve()
    shutil.rmtree(tmp_path / "a")


def test_rate_ratios_against_a_suppressed_reference_are_not_published(book, env):
    """Without ``is_reference`` the reference row is the one with ratio exactly 1 and no CI."""
    table = pl.DataFrame(
        {
            "dimension": ["age_band"] * 3 + ["sex"] * 2,
            "measure": ["hf"] * 5,
            "level": ["50-54", "65-69", "80-84", "female", "male"],
            "events": [4, 12, 40, 30, 26],
            "population": [1213, 1305, 695, 1500, 1400],
        }
    ).with_columns((100 * pl.col("events") / pl.col("population")).alias("value"))
    ref = table.group_by("dimension").agg(pl.col("value").first().alias("ref"))
    table = (
        table.join(ref, on="dimension", maintain_order="left")
        .with_columns(
            (pl.col("value") / pl.col("ref")).alias("rate_ratio"),
            pl.when(pl.col("level").is_in(["50-54", "female"]))
            .then(None)
            .otherwise(pl.lit(0.5))
            .alias("rr_lower"),
        )
        .drop("ref")
    )
    book.table(book.publish(table, counts=["events", "population"]), id="ratios", title="Ratios")
    published = pl.read_csv(env / "recorded-disease" / "ratios.csv")
    age = published.filter(pl.col("dimension") == "age_band")
    assert age["rate_ratio"].is_null().all() and age["rr_lower"].is_null().all()
    assert age.filter(pl.col("level") == "80-84")["value"].item() == pytest.approx(100 * 40 / 695)
    sex = published.filter(pl.col("dimension") == "sex")
    assert sex["rate_ratio"].to_list() == pytest.approx([1.0, (26 / 1400) / (30 / 1500)])
    assert "__hg_is_reference" not in published.columns


def test_figure_leaves_the_caption_to_quarto(tmp_path, monkeypatch):
    """Under Quarto the cell's fig-cap is the numbered caption, so the figure does not repeat its title."""
    import altair as alt
    import polars as pl

    from healthgap.charts.html import figure_html

    data = pl.DataFrame({"group": ["a", "b"], "value": [1.0, 2.0]})
    chart = alt.Chart(alt.Data(values=data.to_dicts())).mark_bar().encode(x="group:N", y="value:Q")
    kwargs = dict(id="f", title="Title here", description="d", data=data, download_href=None)
    own = figure_html(chart, **kwargs)
    quarto = figure_html(chart, **kwargs, own_caption=False)
    assert "<figcaption" in own and "<figcaption" not in quarto
    assert 'aria-label="Title here"' in quarto

    from healthgap.tables import under_quarto as _under_quarto

    monkeypatch.delenv("QUARTO_DOCUMENT_PATH", raising=False)
    monkeypatch.delenv("QUARTO_DOCUMENT_FILE", raising=False)
    monkeypatch.delenv("QUARTO_EXECUTE_INFO", raising=False)
    assert not _under_quarto()
    monkeypatch.setenv("QUARTO_DOCUMENT_PATH", str(tmp_path))
    assert _under_quarto()


@pytest.mark.parametrize(
    ("label", "noun"),
    [
        ("Ethnic group", "ethnic group"),
        ("Sex", "sex"),
        ("Age band", "age band"),
        ("Locality", "locality"),
        ("Deprivation (IMD quintile)", "deprivation (IMD quintile) group"),
        ("IMD decile", "IMD decile"),
        ("Ethnic groups", "ethnic groups"),
    ],
)
def test_group_noun_never_doubles_group(label, noun):
    assert hb.group_noun(label) == noun
    assert "group group" not in f"for each {hb.group_noun(label)}"


def test_published_text_names_groups_naturally(book, env):
    """Titles and descriptions are published as the page words them: ``each`` names the groups."""
    assert book.each("Ethnic group") == "each ethnic group" and book.each("Sex") == "each sex"
    for d in book.config.dimensions:
        fid = "g-" + re.sub(r"[^a-z0-9]+", "-", d.label.lower()).strip("-")
        out = book.figure(
            lambda f: alt.Chart(f.select("label", "value")).mark_bar().encode(x="value:Q", y="label:N"),
            id=fid,
            title=f"Prevalence for {book.each(d.label)}",
            description=f"Dot charts with 95% confidence intervals for {book.each(d.label)}.",
            data=published_table(book),
        )
        assert "group group" not in out.data
    entries = json.loads(hb.write_manifest(env).read_text())["files"]
    described = " ".join(e["description"] + " " + e["title"] for e in entries)
    assert "group group" not in described
    for bad in ("sex group", "age band group", "locality group"):
        assert bad not in described.lower()
    assert "for each ethnic group." in described and "for each sex." in described
    assert "for each deprivation (IMD quintile) group." in described
    # nothing rewrites what the page wrote
    book.download(published_table(book), id="as-written", title="Rates for each Sex group")
    entries = json.loads(hb.write_manifest(env).read_text())["files"]
    assert [e["title"] for e in entries if e["id"] == "as-written"] == ["Rates for each Sex group"]


def test_rows_suppressed_upstream_stay_marked(book):
    # a pivot of already-protected results (e.g. the fairness audit by group): the value is null because
    # an earlier step suppressed its count, which is no longer in the frame
    wide = pl.DataFrame(
        {
            "group": ["Asian", "White", "Black"],
            "n": [1870, 66760, 1205],
            "tpr": [None, 0.498, 0.41],
            "suppressed": [True, False, False],
            "suppression_reason": ["numerator: count of 1-7", None, None],
        }
    )
    published = book.publish(wide, counts=["n"], by=[], derived={})
    out = book.table(published, id="groups", title="Groups", download=False)
    protected = published.frame
    assert protected["suppressed"].to_list() == [True, False, False]
    assert protected["n"].to_list() == [1870, 66760, 1205] and protected["tpr"].to_list()[1:] == [0.498, 0.41]
    assert "[c]" in out.data and "[x]" not in out.data
    assert "Some counts were already withheld at an earlier step of the analysis." in out.data


def test_synthetic_banner_promises_a_known_answer_only_with_truth():
    from healthgap.banners import synthetic_banner

    assert "known answer" in synthetic_banner() and "not from real patients" in synthetic_banner()
    without = synthetic_banner(known_answer=False)
    assert "known answer" not in without and "not from real patients" in without
