"""The built-in renderer on a tiny fixture book: pages, navigation, numbering,
cross-references, inline values, downloads, failures and the atomic swap."""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import stat
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

from healthgap.errors import ConfigError, RenderError
from healthgap.render import render_book
from healthgap.render.assemble import escape_markdown
from healthgap.render.builtin import kernel_threads
from healthgap.render.pandoc import stringify, to_ast
from healthgap.render.qmd import QmdError, parse_qmd

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

QUARTO_YML = """\
project:
  type: book
book:
  title: "Fixture book"
  author: "Test author"
  chapters:
    - index.qmd
    - part: "Part one"
      chapters:
        - chapters/alpha.qmd
    - part: "Part two"
      chapters:
        - chapters/beta.qmd
  appendices:
    - chapters/extra.qmd
execute:
  echo: false
  warning: false
format:
  html:
    theme: [cosmo, _extensions/nhs/nhs.scss]
    css: styles.css
"""

PAGES = {
    "index.qmd": """\
        # Preface {.unnumbered}

        Welcome. Start with @sec-alpha; the main chart is @fig-bars. Skipped: @fig-gone.
        """,
    "chapters/alpha.qmd": """\
        # Alpha chapter {#sec-alpha}

        ```{python}
        #| label: setup
        import os
        n = 41 + 1
        name = "A*b_c <x>"
        env = {k: os.environ.get(k) for k in ("HEALTHGAP_CHAPTER", "HEALTHGAP_PAGE_PREFIX", "HEALTHGAP_CONFIG")}
        cwd = os.getcwd()
        ```

        There are `{python} n` people called `{python} name`.

        ## Methods {#sec-methods}

        ```{python}
        #| label: fig-bars
        #| fig-cap: "Bars by *group*"
        from IPython.display import HTML, Markdown
        HTML('<div class="hg-chart" id="chart-bars"><p>chart</p></div>')
        ```

        ```{python}
        #| label: tbl-counts
        #| tbl-cap: "Counts by group"
        HTML('<table><thead><tr><th scope="col">group</th></tr></thead><tbody><tr><td>a</td></tr></tbody></table>')
        ```

        ```{python}
        #| echo: true
        import warnings
        warnings.warn("noisy")
        print("printed output")
        ```

        ```{python}
        #| include: false
        print("hidden by include")
        ```

        ```{python}
        #| eval: false
        raise SystemExit("never run")
        ```

        ```{python}
        #| output: false
        print("hidden by output")
        ```

        ````markdown
        ```{python}
        raise SystemExit("a cell shown as an example is not executed")
        ```
        `{python} not_evaluated`
        ````

        ::: {.callout-note}
        ## Remember
        The note mentions @tbl-counts.
        :::

        See @fig-bars, table [-@tbl-counts], @sec-results and @fig-nope.

        ![A local picture](pic.svg){#fig-pic}

        ```{python}
        last = "final"
        Markdown("Markdown **output**")
        ```

        After it, the last cell says `{python} last`.
        """,
    "chapters/beta.qmd": """\
        ---
        title: "Beta chapter"
        ---

        ```{python}
        #| label: write-download
        import os, pathlib
        folder = pathlib.Path(os.environ["HEALTHGAP_DOWNLOADS"]) / "beta"
        folder.mkdir(parents=True, exist_ok=True)
        _ = (folder / "counts.csv").write_text("group,count\\na,10\\n")
        ```

        ## Results {#sec-results}

        As in @fig-bars of @sec-alpha ([download](../downloads/beta/counts.csv)); back to the [preface](../index.qmd).

        Not shown: @fig-gone and table [-@tbl-gone].

        ```{python}
        #| label: fig-gone
        #| fig-cap: "A chart this dataset cannot support"
        from healthgap.book import Book
        Book.skip(None, "locality column")  # the real skip note, as a chapter shows it
        ```

        ```{python}
        #| label: tbl-gone
        #| tbl-cap: "A table this dataset cannot support"
        Book.skip(None, "locality column")
        ```

        ```{python}
        #| label: fig-beta
        #| fig-cap: "Beta figure"
        HTML = __import__("IPython.display", fromlist=["HTML"]).HTML
        HTML("<p>beta chart</p>")
        ```
        """,
    "chapters/extra.qmd": """\
        # Extra material {#sec-extra}

        ## Details

        ```{python}
        #| label: fig-app
        #| fig-cap: "Appendix figure"
        print("appendix output")
        ```
        """,
}

PIC_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
)


def write_fixture_book(root: Path, pages: dict[str, str] | None = None) -> Path:
    """Write the fixture book (and a copy of the NHS theme extension) into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "_quarto.yml").write_text(QUARTO_YML, encoding="utf-8")
    (root / "styles.css").write_text(
        ".extra { color: #212b32; background-color: #ffffff; }\n", encoding="utf-8"
    )
    for name, text in {**PAGES, **(pages or {})}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "chapters" / "pic.svg").write_text(PIC_SVG, encoding="utf-8")
    shutil.copytree(REPO / "_extensions" / "nhs", root / "_extensions" / "nhs", dirs_exist_ok=True)
    return root


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, dict[str, str | None]]] = []  # tag, url, attrs
        self.lang: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "html":
            self.lang = a.get("lang")
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.links.append((tag, a[key], a))


def parse_page(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def render(root: Path, messages: list[str] | None = None, **kw) -> Path:
    """Render with the built-in engine into ``root/_site``."""
    kw.setdefault("engine", "builtin")
    kw.setdefault("jobs", 2)
    sink = messages.append if messages is not None else None
    return render_book(project=root, out=Path("_site"), progress=sink, **kw)


#: The fixture config's report settings: they replace _quarto.yml's title, subtitle and author.
FIXTURE_REPORT = {
    "title": "Fixture report",
    "organisation": "Fixture NHS Trust",
    "subtitle": "Fixture subtitle",
    "period": None,
}


def write_config(path: Path, report: dict[str, object] | None = None) -> Path:
    """A copy of data/default.yml with ``report`` replaced (when given)."""
    import yaml

    data = yaml.safe_load((REPO / "data" / "default.yml").read_text(encoding="utf-8"))
    if report is not None:
        data["report"] = report
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_config_with_data(path: Path) -> Path:
    """A copy of data/default.yml reading a small valid person table written next to it."""
    import yaml

    from tests.conftest import build_people

    build_people(400).write_parquet(path.parent / "people.parquet")
    data = yaml.safe_load((REPO / "data" / "default.yml").read_text(encoding="utf-8"))
    data["data"] = {**data["data"], "path": "people.parquet", "truth": None, "boundaries": None}
    for key in ("conditions", "outcomes"):
        data.pop(key, None)
    data["model"].pop("features", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = write_fixture_book(tmp_path_factory.mktemp("book"))
    config = write_config(root / "fixture.yml", FIXTURE_REPORT)
    messages: list[str] = []
    site = render(root, messages, config=config)
    return root, site, messages


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ---- pages, navigation, links ---------------------------------------------


def test_pages_exist_at_quarto_urls(built):
    root, site, _ = built
    assert site == (root / "_site").resolve()
    for name in ("index.html", "chapters/alpha.html", "chapters/beta.html", "chapters/extra.html"):
        assert (site / name).is_file(), name
    assert not list(root.glob("._site.*")), "temporary build folders are cleaned up"


def test_every_link_resolves(built):
    _, site, _ = built
    pages = {p.relative_to(site).as_posix(): parse_page(p) for p in site.rglob("*.html")}
    checked = 0
    for name, page in pages.items():
        for tag, url, _attrs in page.links:
            if url.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = url.partition("#")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), path)) if path else name
            assert (site / target).exists(), f"{name}: {tag} {url} -> {target} missing"
            if anchor:
                assert anchor in pages[target].ids, f"{name}: {url}: no id {anchor!r} in {target}"
            checked += 1
    assert checked > 40


def test_navigation_marks_current_page_and_lists_parts_in_order(built):
    _, site, _ = built
    html = text_of(site / "chapters" / "beta.html")
    nav = html[
        html.index('aria-label="Book contents"') : html.index(
            "</nav>", html.index('aria-label="Book contents"')
        )
    ]
    assert nav.count('aria-current="page"') == 1
    assert '<a class="hg-nav__link" href="beta.html" aria-current="page">' in nav
    order = [
        nav.index(s)
        for s in (
            "Preface",
            "Part one",
            "Alpha chapter",
            "Part two",
            "Beta chapter",
            "Appendices",
            "Extra material",
        )
    ]
    assert order == sorted(order)
    assert 'rel="prev" href="alpha.html"' in html and 'rel="next" href="extra.html"' in html
    index = text_of(site / "index.html")
    assert 'href="chapters/alpha.html"' in index and 'rel="prev"' not in index


def test_page_template_landmarks(built):
    _, site, _ = built
    for page in site.rglob("*.html"):
        html = text_of(page)
        assert '<html lang="en-GB">' in html
        assert '<a class="hg-skip-link" href="#main">' in html and '<main id="main"' in html
        assert html.count("<h1") == 1
        assert "<title>" in html and "Fixture report</title>" in html  # the config's report.title
        # narrow screens: the contents come after the page, and a header link jumps to them
        assert '<a class="hg-header__contents" href="#hg-contents">Contents</a>' in html
        assert '<nav class="hg-sidebar" id="hg-contents" aria-label="Book contents">' in html
    alpha = text_of(site / "chapters" / "alpha.html")
    toc = alpha[alpha.index('aria-label="On this page"') :]
    assert 'href="#sec-methods"' in toc and "1.1" in toc


def test_no_external_scripts_or_stylesheets(built):
    _, site, _ = built
    for page in site.rglob("*.html"):
        parsed = parse_page(page)
        for tag, url, _attrs in parsed.links:
            if tag in ("script", "link", "img"):
                assert "://" not in url and not url.startswith("//"), f"{page}: external {tag} {url}"
                assert (page.parent / url).resolve().is_file(), f"{page}: {url} missing"
        assert any(tag == "link" and url.endswith("site_libs/nhs/nhs.css") for tag, url, _ in parsed.links)
        assert any(tag == "link" and url.endswith("styles.css") for tag, url, _ in parsed.links)


# ---- numbering, captions, cross-references ---------------------------------


def test_figures_and_tables_numbered_per_chapter(built):
    _, site, _ = built
    alpha = text_of(site / "chapters" / "alpha.html")
    assert '<figure id="fig-bars" class="hg-figure hg-figure-fig">' in alpha
    assert "Figure 1.1:</span> Bars by <em>group</em>" in alpha
    fig = alpha[alpha.index('id="fig-bars"') :]
    assert fig.index('class="hg-chart"') < fig.index("<figcaption")  # caption below a figure
    tbl = alpha[alpha.index('id="tbl-counts"') :]
    assert "Table 1.1:</span> Counts by group" in tbl
    assert tbl.index("<figcaption") < tbl.index("<table")  # caption above a table
    assert (
        "Figure 1.2" in alpha and 'id="fig-pic"' in alpha
    )  # markdown figure, numbered after the cell figure
    assert "Figure 2.1:</span> Beta figure" in text_of(site / "chapters" / "beta.html")
    extra = text_of(site / "chapters" / "extra.html")
    assert "Figure A.1:</span> Appendix figure" in extra
    assert (
        '<span class="chapter-number">Appendix A</span> — <span class="chapter-title">Extra material</span>'
        in extra
    )
    assert "A.1</span> Details" in extra


def test_chapter_and_section_numbers(built):
    _, site, _ = built
    index = text_of(site / "index.html")
    assert "chapter-number" not in index[index.index("<main") :]  # unnumbered preface
    alpha = text_of(site / "chapters" / "alpha.html")
    assert '<h1 id="sec-alpha" class="title"><span class="chapter-number">1</span>' in alpha
    assert '<h2 id="sec-methods"><span class="header-section-number">1.1</span> Methods</h2>' in alpha
    beta = text_of(site / "chapters" / "beta.html")
    assert '<span class="chapter-number">2</span>' in beta


def test_cross_references_within_and_across_chapters(built):
    _, site, messages = built
    alpha = text_of(site / "chapters" / "alpha.html")
    assert '<a href="#fig-bars" class="hg-xref">Figure\u00a01.1</a>' in alpha
    assert 'table <a href="#tbl-counts" class="hg-xref">1.1</a>' in alpha  # [-@tbl-counts]
    assert '<a href="beta.html#sec-results" class="hg-xref">Section\u00a02.1</a>' in alpha
    assert 'The note mentions <a href="#tbl-counts"' in alpha
    beta = text_of(site / "chapters" / "beta.html")
    assert '<a href="alpha.html#fig-bars" class="hg-xref">Figure\u00a01.1</a>' in beta
    assert '<a href="alpha.html#sec-alpha" class="hg-xref">Chapter\u00a01</a>' in beta
    index = text_of(site / "index.html")
    assert '<a href="chapters/alpha.html#fig-bars" class="hg-xref">Figure\u00a01.1</a>' in index
    assert "<strong>?@fig-nope</strong>" in alpha
    assert any("unresolved cross-reference @fig-nope" in m for m in messages)


def test_skipped_figure_and_table_lose_caption_number_and_links(built):
    _, site, messages = built
    beta = text_of(site / "chapters" / "beta.html")
    assert '<div id="fig-gone" class="hg-float-skipped hg-float-skipped-fig">' in beta
    assert '<div id="tbl-gone" class="hg-float-skipped hg-float-skipped-tbl">' in beta
    skipped = beta[beta.index('id="fig-gone"') : beta.index('<figure id="fig-beta"')]
    assert skipped.count("This section is skipped because the dataset has no locality column.") == 2
    assert "<figcaption" not in skipped and "<figure" not in skipped and "hg-float-label" not in skipped
    assert "cannot support" not in beta  # neither caption is shown over nothing
    assert "Figure 2.1:</span> Beta figure" in beta and "Table 2.1" not in beta  # no number used up
    plain = '<span class="hg-xref-skipped">'
    assert (
        f"Not shown: {plain}Figure (not shown for this dataset)</span> and table {plain}(not shown for this dataset)</span>."
        in beta
    )
    index = text_of(site / "index.html")
    assert f"Skipped: {plain}Figure (not shown for this dataset)</span>." in index  # across pages too
    assert (
        "#fig-gone" not in index + beta and "#tbl-gone" not in beta
    )  # no link to a figure that is not there
    assert not any("gone" in m for m in messages if m.startswith("WARNING"))


@pytest.mark.parametrize(
    ("fragment", "skipped"),
    [
        ('<div class="hg-skip callout callout-note" role="note"><p>Skipped.</p></div>', True),
        ('<div class="callout hg-skip"><p>One.</p></div>\n<div class="hg-skip"><p>Two.</p></div>', True),
        ('<div class="hg-skip"><p>Skipped.</p></div><div class="hg-chart"></div>', False),  # a chart as well
        ('<div class="hg-skip"><p>Skipped.</p></div> and some text', False),
        ('<div class="hg-skip-link"><p>Not a note.</p></div>', False),
        ('<div class="hg-chart"><div class="hg-skip"><p>Nested.</p></div></div>', False),
        ("<p>Text only</p>", False),
    ],
)
def test_is_skip_note(fragment, skipped):
    from healthgap.render.crossref import is_skip_note
    from healthgap.render.pandoc import el

    assert is_skip_note([el("RawBlock", ["html", fragment])]) is skipped
    assert is_skip_note([el("RawBlock", ["html", fragment]), el("Para", [el("Str", "x")])]) is False
    assert is_skip_note([]) is False


def test_skipped_float_unit():
    from healthgap.render.crossref import number_page, resolve_refs
    from healthgap.render.pandoc import stringify as text

    note = '```{=html}\n<div class="hg-skip callout callout-note" role="note"><p>Skipped.</p></div>\n```\n'
    chart = '```{=html}\n<div class="hg-chart"></div>\n```\n'
    md = (
        f"::: {{#fig-a .hg-float .hg-float-fig}}\n{note}\n::: {{.hg-caption}}\nOrphan\n:::\n:::\n\n"
        f"::: {{#fig-b .hg-float .hg-float-fig}}\n{chart}\n::: {{.hg-caption}}\nShown\n:::\n:::\n\n"
        "See @fig-a and @fig-b.\n"
    )
    blocks, refs = number_page(to_ast(md)["blocks"], page="c.html", chapter="2")
    assert refs.targets["fig-a"].shown is False and refs.targets["fig-a"].number is None
    assert refs.targets["fig-b"].label == "Figure\u00a02.1"
    out = resolve_refs(blocks, page="c.html", targets=refs.targets)
    assert "Orphan" not in text(out) and "Figure 2.1: Shown" in text(out)
    assert "See Figure (not shown for this dataset) and Figure\u00a02.1." in text(out)


def test_callout_styled_with_title(built):
    _, site, _ = built
    alpha = text_of(site / "chapters" / "alpha.html")
    assert '<div class="hg-callout hg-callout-note" role="note">' in alpha
    callout = alpha[alpha.index("hg-callout-note") :]
    assert callout.index("Remember") < callout.index("The note mentions")
    assert "<h2" not in callout[: callout.index("The note mentions")]


# ---- execution: options, inline values, environment ------------------------


def test_inline_values_substituted_and_escaped(built):
    _, site, _ = built
    alpha = text_of(site / "chapters" / "alpha.html")
    assert "There are 42 people called A*b_c &lt;x&gt;." in alpha
    assert "After it, the last cell says final." in alpha
    assert "not_evaluated" in alpha  # inside a non-executed example block: left as written


def test_cell_options(built):
    _, site, _ = built
    alpha = text_of(site / "chapters" / "alpha.html")
    assert "printed output" in alpha
    assert 'class="python cell-code"' in alpha and "warnings.warn" in alpha  # echo: true
    assert "UserWarning" not in alpha  # warning: false drops the warning
    assert "import os" not in alpha  # echo: false (project default) hides code
    assert "hidden by include" not in alpha and "hidden by output" not in alpha
    assert "never run" not in alpha  # eval: false, not executed (it would have failed the render)
    assert "Markdown <strong>output</strong>" in alpha
    assert "a cell shown as an example is not executed" in alpha


def test_chapter_environment(built, tmp_path):
    _root, _site, _ = built
    # the environment each kernel saw, read back through an inline expression in a fresh render
    book = write_fixture_book(
        tmp_path / "env",
        {
            "chapters/beta.qmd": 'Env: `{python} __import__("json").dumps(dict((k, __import__("os").environ.get(k)) for k in ("HEALTHGAP_CHAPTER", "HEALTHGAP_PAGE_PREFIX", "HEALTHGAP_CONFIG")) | {"cwd": __import__("os").getcwd()})`\n'
        },
    )
    config = book / "fixture.yml"
    shutil.copyfile(REPO / "data" / "default.yml", config)
    out = render(book, config=Path(os.path.relpath(config)), jobs=1)
    html = text_of(out / "chapters" / "beta.html")
    raw = html[html.index("Env: ") + 5 : html.index("}", html.index("Env: ")) + 1]
    import html as _html

    seen = json.loads(_html.unescape(raw))
    assert seen["HEALTHGAP_CHAPTER"] == "beta"
    assert seen["HEALTHGAP_PAGE_PREFIX"] == "../"
    assert seen["HEALTHGAP_CONFIG"] == str(config.resolve())
    assert Path(seen["cwd"]) == (book / "chapters").resolve()


def test_kernel_threads_share_the_cores() -> None:
    # each of `jobs` kernels gets its share of the cores for polars, at least one
    assert kernel_threads({}, 2, cores=2)["POLARS_MAX_THREADS"] == "1"
    assert kernel_threads({}, 2, cores=8)["POLARS_MAX_THREADS"] == "4"
    assert kernel_threads({}, 3, cores=8)["POLARS_MAX_THREADS"] == "2"
    assert kernel_threads({}, 16, cores=2)["POLARS_MAX_THREADS"] == "1"
    assert kernel_threads({}, 1, cores=1)["POLARS_MAX_THREADS"] == "1"
    # a count the user set is kept; nothing else changes
    assert kernel_threads({"POLARS_MAX_THREADS": "3", "X": "y"}, 2, cores=8) == {
        "POLARS_MAX_THREADS": "3",
        "X": "y",
    }


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: a kernel's share is polars' default")
def test_kernels_run_polars_on_their_share_of_the_cores(tmp_path, monkeypatch):
    # read back from the kernels of a render with two at a time: each ran polars' pool with half
    # the cores (polars' default is every core)
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    probe = '`{python} __import__("json").dumps([__import__("polars").thread_pool_size(), __import__("os").environ.get("POLARS_MAX_THREADS")])`'
    book = write_fixture_book(tmp_path / "threads", {"chapters/beta.qmd": f"Threads: {probe}\n"})
    out = render(book, jobs=2)
    html = text_of(out / "chapters" / "beta.html")
    raw = html[html.index("Threads: ") + 9 : html.index("]", html.index("Threads: ")) + 1]
    share = max(1, (os.cpu_count() or 1) // 2)
    assert json.loads(raw.replace("&quot;", '"')) == [share, str(share)]


def _fork_servers() -> list[int]:
    """Process ids of this process's children that are a chapters' fork server."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "healthgap.render.forkserver" in " ".join(child.cmdline()):
                found.append(child.pid)
    return found


def test_the_fork_server_imports_while_the_data_is_prepared(tmp_path, monkeypatch):
    # the chapters' fork server is already running (importing their modules) when the person
    # table is checked and prepared, so the two overlap; it is gone after the render
    import healthgap.render as render_module

    seen: list[list[int]] = []
    original = render_module._prepare

    def prepare(config, say):
        seen.append(_fork_servers())
        return original(config, say)

    monkeypatch.setattr(render_module, "_prepare", prepare)
    book = write_fixture_book(tmp_path / "early")
    config = book / "fixture.yml"
    shutil.copyfile(REPO / "data" / "default.yml", config)
    out = render(book, config=Path(os.path.relpath(config)), jobs=2)
    assert (out / "index.html").is_file()
    assert len(seen) == 1 and len(seen[0]) == 1, seen
    assert _fork_servers() == []


def test_a_render_stopped_before_the_chapters_stops_the_fork_server(tmp_path, monkeypatch):
    # an error while the data is prepared ends the render at once: the server, still importing,
    # is stopped then, not after a grace period
    import signal

    import healthgap.render as render_module

    seen: list[list[int]] = []
    servers: list[subprocess.Popen] = []

    class Recorded(subprocess.Popen):
        def __init__(self, args, *more, **kw):
            super().__init__(args, *more, **kw)
            if "healthgap.render.forkserver" in args:
                servers.append(self)

    def prepare(config, say):
        seen.append(_fork_servers())
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    monkeypatch.setattr(render_module, "_prepare", prepare)
    book = write_fixture_book(tmp_path / "stopped")
    config = book / "fixture.yml"
    shutil.copyfile(REPO / "data" / "default.yml", config)
    with pytest.raises(KeyboardInterrupt):
        render(book, config=Path(os.path.relpath(config)), jobs=2)
    assert len(seen) == 1 and len(seen[0]) == 1, seen
    assert _fork_servers() == []
    # killed while importing, not left to finish its imports and notice its closed input
    assert [s.returncode for s in servers] == [-signal.SIGKILL]


def test_downloads_copied_and_listed(built):
    _, site, _ = built
    assert (site / "downloads" / "beta" / "counts.csv").read_text() == "group,count\na,10\n"
    assert (site / "downloads" / "manifest.json").is_file()
    json.loads((site / "downloads" / "manifest.json").read_text())


def test_manifest_fragments_are_merged_not_published(tmp_path):
    from healthgap.render.post import finish_site

    site = tmp_path / "_site"
    (site / "downloads" / "ch").mkdir(parents=True)
    (site / "downloads" / "ch" / "t.csv").write_text("a\n1\n")
    fragment = {
        "id": "t",
        "title": "T",
        "chapter": "ch",
        "kind": "table",
        "file": "ch/t.csv",
        "columns": ["a"],
        "rows": 1,
        "synthetic": True,
        "description": None,
    }
    (site / "downloads" / ".manifest").mkdir()
    (site / "downloads" / ".manifest" / "ch--t.json").write_text(json.dumps(fragment))
    finish_site(site)
    manifest = json.loads((site / "downloads" / "manifest.json").read_text())
    assert "ch/t.csv" in json.dumps(manifest)
    assert not (site / "downloads" / ".manifest").exists()


def test_local_images_and_qmd_links(built):
    _, site, _ = built
    assert (site / "chapters" / "pic.svg").read_text() == PIC_SVG
    beta = text_of(site / "chapters" / "beta.html")
    assert 'href="../index.html"' in beta and ".qmd" not in beta


def test_progress_reports_each_chapter(built):
    _, _, messages = built
    for page in ("chapters/alpha.qmd", "chapters/beta.qmd", "chapters/extra.qmd"):
        assert any(m.strip().startswith(f"{page}: running") for m in messages)
        assert any(m.strip().startswith(f"{page}: done in") and m.endswith(" s") for m in messages)


# ---- failures ---------------------------------------------------------------

BROKEN = """\
    # Beta chapter

    ```{python}
    x = 1
    ```

    ```{python}
    #| label: boom
    y = x / 0
    ```
    """


def test_failing_cell_names_chapter_and_cell_and_keeps_old_site(built, tmp_path):
    root = write_fixture_book(tmp_path / "book")
    site = render(root)
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    (root / "chapters" / "beta.qmd").write_text(textwrap.dedent(BROKEN), encoding="utf-8")
    with pytest.raises(RenderError) as info:
        render(root)
    message = str(info.value)
    assert "chapters/beta.qmd" in message
    assert "cell 2 (label 'boom')" in message and "line 7" in message
    assert "ZeroDivisionError: division by zero" in message
    assert "Traceback" not in message and "\x1b[" not in message
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("._site")) == []


def test_failing_cell_without_label_is_named_by_its_first_line(tmp_path):
    root = write_fixture_book(
        tmp_path / "book", {"chapters/extra.qmd": "# Extra\n\n```{python}\nimport math\nmath.sqrt(-1)\n```\n"}
    )
    with pytest.raises(
        RenderError,
        match=r"chapters/extra\.qmd failed in cell 1 \(starting 'import math'\), line 3: ValueError: math domain error",
    ):
        render(root)
    assert not (root / "_site").exists()


def test_failing_inline_expression(tmp_path):
    root = write_fixture_book(
        tmp_path / "book", {"chapters/extra.qmd": "# Extra\n\nValue: `{python} undefined_name`.\n"}
    )
    with pytest.raises(
        RenderError,
        match=r"chapters/extra\.qmd failed in the inline expression `\{python\} undefined_name`: NameError",
    ):
        render(root)


EMPTY_INLINE_PAGE = """\
# Extra

```{python}
note = ""
blank = "   "
```

Fine: `{python} 1 + 1`. An optional note`{python} note`, and `{python} blank`.
"""


def test_empty_inline_value_fails_the_render_naming_page_and_expressions(tmp_path):
    """Quarto prints an inline expression whose value is empty as its code: the build stops."""
    root = write_fixture_book(tmp_path / "book", {"chapters/extra.qmd": EMPTY_INLINE_PAGE})
    with pytest.raises(RenderError) as info:
        render(root)
    message = str(info.value)
    assert message.startswith("Chapter chapters/extra.qmd: 2 inline expression(s) gave an empty value")
    assert "`{python} note` is ''" in message and "`{python} blank` is '   '" in message
    assert "`{python} 1 + 1`" not in message
    assert "a cell that displays Markdown or nothing" in message
    assert not (root / "_site").exists()
    messages: list[str] = []
    site = render_book(project=root, engine="builtin", empty_inline="warn", progress=messages.append)
    assert [m for m in messages if m.startswith("WARNING: Chapter chapters/extra.qmd: 2 inline")]
    assert "Fine: 2. An optional note, and ." in text_of(site / "chapters" / "extra.html")


def test_inline_expressions_see_the_cells_above_them_only(tmp_path):
    """As Quarto: a markdown cell's expressions are evaluated when execution reaches it."""
    page = "# Extra\n\n```{python}\nx = 1\n```\n\nBefore: `{python} x`.\n\n```{python}\nx = 2\n```\n\nAfter: `{python} x`.\n"
    root = write_fixture_book(tmp_path / "book", {"chapters/extra.qmd": page})
    site = render(root, jobs=1)
    text = text_of(site / "chapters" / "extra.html")
    assert "Before: 1." in text and "After: 2." in text


def test_error_true_shows_the_error_instead_of_failing(tmp_path):
    root = write_fixture_book(
        tmp_path / "book", {"chapters/extra.qmd": "# Extra\n\n```{python}\n#| error: true\n1 / 0\n```\n"}
    )
    site = render(root, jobs=1)
    assert "ZeroDivisionError" in text_of(site / "chapters" / "extra.html")


def test_bad_project_and_config_errors(tmp_path):
    root = write_fixture_book(tmp_path / "book")
    (root / "chapters" / "beta.qmd").unlink()
    with pytest.raises(RenderError, match=r"book\.chapters\[2\]\.chapters\[0\] lists 'chapters/beta\.qmd'"):
        render(root)
    with pytest.raises(RenderError, match=r"No _quarto.yml"):
        render(tmp_path / "empty-folder-that-is-not-a-book")
    write_fixture_book(root)
    with pytest.raises(ConfigError, match="does not exist"):
        render(root, config=tmp_path / "missing.yml")
    (root / "chapters" / "extra.qmd").write_text("# Extra\n\n```{python}\nx = 1\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"chapters/extra\.qmd.*line 3.*never closed"):
        render(root)


def test_render_chooses_the_config_by_the_one_rule(tmp_path, monkeypatch):
    from healthgap.config import ENV_VAR
    from healthgap.render import _config_path

    root = tmp_path / "book"
    (root / "data").mkdir(parents=True)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert _config_path(None, root) is None  # no default config: render without one
    (root / "data" / "default.yml").write_text("{}\n", encoding="utf-8")
    assert _config_path(None, root) == (root / "data" / "default.yml").resolve()
    given = tmp_path / "given.yml"
    given.write_text("{}\n", encoding="utf-8")
    monkeypatch.setenv(ENV_VAR, str(given))
    assert _config_path(None, root) == given.resolve()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone.yml"))
    with pytest.raises(ConfigError, match=r"gone\.yml does not exist.*\(from \$HEALTHGAP_CONFIG\)"):
        _config_path(None, root)
    assert _config_path(given, root) == given.resolve()  # an explicit path wins over the variable
    with pytest.raises(
        ConfigError, match=r"missing\.yml does not exist\. Pass an existing file with --config\.$"
    ):
        _config_path(tmp_path / "missing.yml", root)


def test_verbose_cli_prints_the_kernel_traceback(tmp_path, monkeypatch, capsys):
    import healthgap.config
    from healthgap import cli

    root = write_fixture_book(
        tmp_path / "book",
        {
            "chapters/extra.qmd": "# Extra\n\n```{python}\ndef inner():\n    return {}['no-such-key']\ninner()\n```\n"
        },
    )
    config = write_config_with_data(root / "fixture.yml")  # `healthgap render` validates the data first
    monkeypatch.setattr(healthgap.config, "project_root", lambda: root)
    argv = [
        "render",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "site"),
        "--engine",
        "builtin",
        "--jobs",
        "2",
    ]
    assert cli.main(argv) == 4
    plain = capsys.readouterr().err
    assert "chapters/extra.qmd failed in cell 1" in plain and "KeyError: 'no-such-key'" in plain
    assert "Traceback" not in plain and "--verbose" in plain
    assert cli.main([*argv, "--verbose"]) == 4
    verbose = capsys.readouterr().err
    assert "chapters/extra.qmd failed in cell 1" in verbose
    tb = verbose[verbose.index("Traceback") :]
    assert (
        "inner()" in tb and "return {}['no-such-key']" in tb and "\x1b[" not in tb
    )  # the kernel's frames, no colour codes


def _flaky_client(monkeypatch, failures: int) -> list[int]:
    """Make the first ``failures`` kernel starts fail as a port clash does; returns the start count."""
    import healthgap.render.execute as execute

    starts = [0]

    class Flaky(execute.NotebookClient):
        async def async_start_new_kernel_client(self):
            starts[0] += 1
            if starts[0] <= failures:
                await self._async_cleanup_kernel()  # as nbclient does when the kernel never answers
                raise RuntimeError("Kernel died before replying to kernel_info")
            return await super().async_start_new_kernel_client()

    monkeypatch.setattr(execute, "NotebookClient", Flaky)
    return starts


def test_kernel_that_fails_to_start_is_retried(tmp_path, monkeypatch):
    import asyncio

    from healthgap.render.execute import KERNEL_START_ATTEMPTS, execute_document
    from healthgap.render.qmd import parse_qmd

    (tmp_path / "c.qmd").write_text("# C\n\n```{python}\nx = 6 * 7\nprint(x)\n```\n", encoding="utf-8")
    doc = parse_qmd(tmp_path / "c.qmd")
    log = tmp_path / "kernel.log"
    starts = _flaky_client(monkeypatch, failures=KERNEL_START_ATTEMPTS - 1)
    run = asyncio.run(execute_document(doc, cwd=tmp_path, env=dict(os.environ), defaults={}, kernel_log=log))
    assert starts[0] == KERNEL_START_ATTEMPTS and "42" in json.dumps(run.outputs)
    assert "retrying" in log.read_text()
    starts = _flaky_client(monkeypatch, failures=KERNEL_START_ATTEMPTS)  # never starts: the error is raised
    with pytest.raises(RuntimeError, match="kernel_info"):
        asyncio.run(execute_document(doc, cwd=tmp_path, env=dict(os.environ), defaults={}, kernel_log=log))
    assert starts[0] == KERNEL_START_ATTEMPTS


# ---- the config's report title, subtitle and organisation -------------------


def _index_page(book) -> str:
    from healthgap.render.builtin import _footer_html
    from healthgap.render.site import PageView, render_page

    views = {p.output: PageView(p, None, p.slug, p.slug, "", "<p>Body.</p>", "") for p in book.pages}
    return render_page(book, views, "index.html", css=[], footer_html=_footer_html(book))


def test_other_trust_config_names_its_organisation_in_header_byline_and_footer():
    from healthgap.config import load_config
    from healthgap.render.project import read_book
    from healthgap.render.report import apply_report, report_overrides

    config = load_config(REPO / "data" / "examples" / "other_trust.yml")
    book = apply_report(read_book(REPO), report_overrides(config))
    assert (book.title, book.subtitle, book.author) == (
        config.report.title,
        "The book re-run on a differently shaped extract",
        "Another NHS Trust (example)",
    )
    page = _index_page(book)
    header = page[page.index('<header class="hg-header">') : page.index("</header>")]
    assert f">{config.report.title}</a>" in header
    assert '<p class="hg-header__subtitle">The book re-run on a differently shaped extract</p>' in header
    assert '<p class="hg-byline">Another NHS Trust (example) · ' in page
    footer = page[page.index('<footer class="hg-footer">') :]
    assert "<p>Another NHS Trust (example). Built with healthgap on " in footer
    assert "East Suffolk" not in page


def test_report_settings_fall_back_to_quarto_yml():
    import dataclasses

    from healthgap.config import load_config
    from healthgap.render.project import read_book
    from healthgap.render.report import apply_report, report_overrides

    quarto = read_book(REPO)
    assert apply_report(quarto, report_overrides(None)) is quarto  # no config: _quarto.yml as it is
    default = load_config(REPO / "data" / "default.yml")
    book = apply_report(quarto, report_overrides(default))
    assert (book.title, book.author) == (
        quarto.title,
        quarto.author,
    )  # the default config names the same trust
    no_subtitle = dataclasses.replace(default, report=dataclasses.replace(default.report, subtitle=None))
    assert apply_report(quarto, report_overrides(no_subtitle)).subtitle == quarto.subtitle


def test_quarto_command_activates_the_report_profile(tmp_path):
    import yaml

    from healthgap.render import quarto_command
    from healthgap.render.report import PROFILE_MARKER, quarto_profile_yaml

    out = tmp_path / "out"
    base = ["quarto", "render", str(tmp_path), "--output-dir", str(out)]
    assert quarto_command("quarto", tmp_path, out, overrides={}) == base
    cmd = quarto_command(
        "quarto", tmp_path, out, overrides={"author": "Another NHS Trust"}, profiles="ci, healthgap-report"
    )
    assert cmd == [*base, "--profile", "healthgap-report,ci"]  # ours first (it wins), the user's kept
    values = {"title": "T: a title", "subtitle": "S", "author": "Another NHS Trust (example)"}
    text = quarto_profile_yaml(values)
    assert text.startswith(PROFILE_MARKER + "\n") and yaml.safe_load(text) == {"book": values}


# ---- captions of healthgap figures and tables inside numbered floats --------


def _float_html(kind: str, output: str, caption: str | None) -> str:
    from healthgap.render.assemble import _raw_html
    from healthgap.render.crossref import number_page
    from healthgap.render.pandoc import to_html

    cap = f"::: {{.hg-caption}}\n{caption}\n:::\n" if caption else ""
    md = f"::: {{#{kind}-x .hg-float .hg-float-{kind}}}\n{_raw_html(output)}\n{cap}:::\n"
    blocks, refs = number_page(to_ast(md)["blocks"], page="chapters/c.html", chapter="3")
    assert refs.targets[f"{kind}-x"].label == ("Figure" if kind == "fig" else "Table") + "\u00a03.1"
    return to_html({"pandoc-api-version": to_ast("x")["pandoc-api-version"], "meta": {}, "blocks": blocks})


def test_figure_html_caption_becomes_the_numbered_caption():
    import polars as pl

    charts = pytest.importorskip("healthgap.charts")
    data = pl.DataFrame({"group": ["a", "b"], "value": [1.0, 2.0]})
    spec = {
        "data": {"values": data.to_dicts()},
        "mark": "bar",
        "encoding": {
            "x": {"field": "group", "type": "nominal"},
            "y": {"field": "value", "type": "quantitative"},
        },
    }
    fig = charts.figure_html(
        spec,
        id="rates",
        title="Rates by group",
        description="Bar chart of two groups.",
        data=data,
        download_href=None,
    )
    out = _float_html("fig", fig, "Rates, *age-standardised*")
    assert out.count("<figcaption") == 1 and "Rates by group</strong>" not in out  # shown once, not twice
    cap = out[out.index("<figcaption") : out.index("</figcaption>")]
    assert 'id="rates-caption"' in cap and 'class="hg-caption"' in cap  # still what aria-labelledby names
    assert "Figure 3.1:</span> Rates, <em>age-standardised</em>" in cap
    assert out.index('class="hg-chart"') < out.index("<figcaption") < out.index("Show the numbers")
    assert out.startswith('<figure id="fig-x" class="hg-figure hg-figure-fig">')
    assert (
        '<caption id="rates-table-caption">The numbers: Rates by group</caption>' in out
    )  # the inner table keeps its own
    untitled = _float_html("fig", fig, None)  # no fig-cap: the number goes before the figure's own title
    assert (
        "Figure 3.1:</span> <strong>Rates by group</strong>" in untitled
        and untitled.count("<figcaption") == 1
    )


def test_table_html_caption_becomes_the_numbered_caption():
    import polars as pl

    from healthgap.tables import table_html

    table = table_html(pl.DataFrame({"group": ["a"], "people": [10]}), id="counts", caption="People by group")
    out = _float_html("tbl", table, "People by group")
    assert "<figcaption" not in out and out.count("<caption") == 1
    flat = " ".join(out.split())
    assert (
        '<caption id="counts-caption" class="hg-caption"> <span class="hg-float-label">Table 3.1:</span> People by group </caption>'
        in flat
    )
    plain = _float_html(
        "tbl", "<table><tr><td>1</td></tr></table>", "Plain table"
    )  # any other output: a figcaption above
    assert plain.index("<figcaption") < plain.index("<table") and "Table 3.1:</span> Plain table" in plain


# ---- the Quarto engine (with a stand-in `quarto` command) and the post-render hook ----

FAKE_QUARTO = """\
#!{python}
import json, os, sys, pathlib
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--output-dir") + 1])
log = pathlib.Path(os.environ["FAKE_QUARTO_LOG"])
profile = pathlib.Path.cwd() / "_quarto-healthgap-report.yml"
log.write_text(json.dumps({{"args": args, "config": os.environ.get("HEALTHGAP_CONFIG"),
                           "downloads": os.environ.get("HEALTHGAP_DOWNLOADS"), "cwd": os.getcwd(),
                           "profile": profile.read_text() if profile.is_file() else None}}))
if os.environ.get("FAKE_QUARTO_FAIL"):
    print("ERROR: chapter broke", file=sys.stderr)
    sys.exit(1)
out.mkdir(parents=True, exist_ok=True)
(out / "index.html").write_text("<html lang='en-GB'>quarto</html>")
d = pathlib.Path(os.environ["HEALTHGAP_DOWNLOADS"]) / "beta"
d.mkdir(parents=True, exist_ok=True)
(d / "x.csv").write_text("a\\n1\\n")
print("[1/1] index.qmd")
"""


@pytest.fixture
def fake_quarto(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "quarto"
    exe.write_text(FAKE_QUARTO.format(python=sys.executable), encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(tmp_path / "quarto.json"))
    return tmp_path / "quarto.json"


def test_auto_engine_runs_quarto_into_a_temp_dir_then_swaps(tmp_path, fake_quarto, monkeypatch):
    import yaml

    root = write_fixture_book(tmp_path / "book")
    config = write_config(root / "fixture.yml", FIXTURE_REPORT)
    messages: list[str] = []
    site = render_book(project=root, config=config, progress=messages.append)
    call = json.loads(fake_quarto.read_text())
    assert call["args"][0] == "render" and "--output-dir" in call["args"]
    assert call["args"][-2:] == [
        "--profile",
        "healthgap-report",
    ]  # the config's report settings, as a profile
    assert yaml.safe_load(call["profile"]) == {
        "book": {"title": "Fixture report", "subtitle": "Fixture subtitle", "author": "Fixture NHS Trust"}
    }
    assert not (root / "_quarto-healthgap-report.yml").exists()  # removed after the render
    (root / "_quarto-healthgap-report.yml").write_text("book:\n  title: mine\n")
    with pytest.raises(RenderError, match="was not written by healthgap"):
        render_book(project=root, config=config, engine="quarto", progress=None)
    assert (
        root / "_quarto-healthgap-report.yml"
    ).read_text() == "book:\n  title: mine\n"  # never overwritten
    (root / "_quarto-healthgap-report.yml").unlink()
    build = Path(call["args"][call["args"].index("--output-dir") + 1])
    assert build.parent == root / "_build" / "site-builds"  # built away from the site's folder
    assert call["config"] == str(config.resolve())
    assert text_of(site / "index.html") == "<html lang='en-GB'>quarto</html>"
    assert (site / "downloads" / "beta" / "x.csv").is_file() and (
        site / "downloads" / "manifest.json"
    ).is_file()
    assert not Path(call["downloads"]).exists()
    assert any("[1/1] index.qmd" in m for m in messages)
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "1")
    with pytest.raises(RenderError, match=r"(?s)quarto render failed \(exit code 1\).*ERROR: chapter broke"):
        render_book(project=root, engine="quarto", progress=None)
    assert text_of(site / "index.html") == "<html lang='en-GB'>quarto</html>"


def test_engine_quarto_without_quarto(tmp_path, monkeypatch):
    root = write_fixture_book(tmp_path / "book")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(RenderError, match="`quarto` command is not on the PATH"):
        render_book(project=root, engine="quarto", progress=None)


def test_post_render_script(tmp_path, monkeypatch):
    from healthgap.render.post import main

    monkeypatch.delenv("QUARTO_PROJECT_OUTPUT_DIR", raising=False)
    assert main() == 2
    (tmp_path / "_build" / "downloads" / "ch").mkdir(parents=True)
    (tmp_path / "_build" / "downloads" / "ch" / "a.csv").write_text("x\n1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEALTHGAP_DOWNLOADS", raising=False)
    monkeypatch.setenv("QUARTO_PROJECT_OUTPUT_DIR", "_out")
    assert main() == 0
    assert (tmp_path / "_out" / "downloads" / "ch" / "a.csv").read_text() == "x\n1\n"
    assert (tmp_path / "_out" / "downloads" / "manifest.json").is_file()


# ---- Quarto's project scripts, profile and configuration ---------------------


def _hooks(root: Path, step: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run _extensions/nhs/hooks.py as Quarto runs a .py project script: its Python, cwd = project."""
    return subprocess.run(
        [sys.executable, str(root / "_extensions" / "nhs" / "hooks.py"), step],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_quarto_yml_runs_python_project_scripts_and_always_uses_the_report_profile():
    import yaml

    spec = yaml.safe_load(text_of(REPO / "_quarto.yml"))
    for step in ("pre-render", "post-render"):
        (script,) = spec["project"][step]
        path, arg = script.split()
        assert path.endswith(".py") and (REPO / path).is_file() and arg == step  # run with QUARTO_PYTHON
    assert spec["profile"]["group"] == [["healthgap-report"]]  # a group of one: always active
    assert "message" not in spec["execute"]  # knitr only
    ignored = text_of(REPO / ".gitignore").splitlines()
    assert "**/*.quarto_ipynb" in ignored and "/_quarto-healthgap-report.yml" in ignored


def test_pre_render_writes_the_report_profile_from_a_relative_config(tmp_path):
    import yaml

    from healthgap.render.report import PROFILE_MARKER

    root = write_fixture_book(tmp_path / "book")
    (root / "data").mkdir()
    write_config(root / "data" / "other.yml", FIXTURE_REPORT)
    env = {"HEALTHGAP_CONFIG": "data/other.yml", "QUARTO_PROJECT_DIR": str(root)}
    done = _hooks(root, "pre-render", env)
    assert done.returncode == 0, done.stderr
    profile = root / "_quarto-healthgap-report.yml"
    text = text_of(profile)
    assert text.startswith(PROFILE_MARKER) and yaml.safe_load(text) == {
        "book": {"title": "Fixture report", "subtitle": "Fixture subtitle", "author": "Fixture NHS Trust"}
    }
    assert "RuntimeWarning" not in done.stderr
    done = _hooks(root, "pre-render", {"HEALTHGAP_CONFIG": "data/missing.yml"})
    assert done.returncode == 1 and "data/missing.yml" in done.stderr
    profile.write_text("book:\n  title: mine\n")
    done = _hooks(root, "pre-render", env)
    assert done.returncode == 1 and "was not written by healthgap" in done.stderr
    assert text_of(profile) == "book:\n  title: mine\n"  # never overwritten
    assert _hooks(root, "nonsense", env).returncode == 2


def test_post_render_script_runs_without_a_runpy_warning(tmp_path):
    root = write_fixture_book(tmp_path / "book")
    (root / "_build" / "downloads" / "ch").mkdir(parents=True)
    (root / "_build" / "downloads" / "ch" / "a.csv").write_text("x\n1\n")
    env = {"QUARTO_PROJECT_OUTPUT_DIR": "_out", "HEALTHGAP_DOWNLOADS": "", "PYTHONWARNINGS": "default"}
    done = _hooks(root, "post-render", env)
    assert done.returncode == 0, done.stderr
    assert "RuntimeWarning" not in done.stderr
    assert (root / "_out" / "downloads" / "manifest.json").is_file()
    assert (root / "_out" / "site_libs" / "healthgap" / "healthgap-charts.js").is_file()


def test_relative_healthgap_config_is_relative_to_the_project(tmp_path, monkeypatch):
    """Quarto runs a chapter in chapters/: a relative config still names the project's file."""
    from healthgap.book import config_from_environment

    root = write_fixture_book(tmp_path / "book")
    monkeypatch.chdir(root / "chapters")
    monkeypatch.setenv("HEALTHGAP_CONFIG", "data/default.yml")
    assert config_from_environment() == root / "data" / "default.yml"
    monkeypatch.setenv("HEALTHGAP_CONFIG", str(tmp_path / "abs.yml"))
    assert config_from_environment() == tmp_path / "abs.yml"
    monkeypatch.setenv("HEALTHGAP_CONFIG", " ")
    assert config_from_environment() is None


@pytest.mark.quarto
@pytest.mark.skipif(shutil.which("quarto") is None, reason="the quarto CLI is not installed")
def test_quarto_renders_fixture_book(tmp_path):
    root = write_fixture_book(tmp_path / "book")
    site = render_book(project=root, engine="quarto", progress=None)
    for name in ("index.html", "chapters/alpha.html", "chapters/beta.html", "chapters/extra.html"):
        assert (site / name).is_file()
    assert "Figure 1.1" in text_of(site / "chapters" / "alpha.html")


# ---- units: parser, escaping --------------------------------------------------


def test_parse_qmd_cells_options_and_inlines(tmp_path):
    text = textwrap.dedent("""\
        ---
        title: T
        execute:
          echo: true
        ---

        Text `{python} a + 1` and ``{python} "`b`"`` but not `python a`.

        ```{python}
        #| label: fig-x
        #| fig-cap: "A caption"
        plot()
        ```

        ~~~
        `{python} inside_fence`
        ~~~
        """)
    doc = parse_qmd(tmp_path / "x.qmd", text)
    assert doc.meta == {"title": "T", "execute": {"echo": True}}
    assert [i.code for i in doc.inlines] == ["a + 1", '"`b`"']
    (cell,) = doc.cells
    assert cell.number == 1 and cell.line == 9 and cell.label == "fig-x"
    assert cell.options == {"label": "fig-x", "fig-cap": "A caption"} and cell.source == "plot()"
    with pytest.raises(QmdError, match=r"line 1: the cell options"):
        parse_qmd(tmp_path / "y.qmd", "```{python}\n#| label: [unclosed\n```\n")
    with pytest.raises(QmdError, match="'r' are not supported"):
        parse_qmd(tmp_path / "z.qmd", "```{r}\n1\n```\n")


@pytest.mark.parametrize(
    "value",
    ["A*b_c", "[link](x)", "<b>bold</b>", "50% & $5", "`code`", "#1 @fig-x", "a\\b", "~x~ ^y^", "1. item"],
)
def test_escape_markdown_round_trips_through_pandoc(value):
    ast = to_ast(f"Value: {escape_markdown(value)} end")
    assert stringify(ast["blocks"]) == f"Value: {value} end"


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    given = None

if given is not None:

    @settings(max_examples=40, deadline=None)
    @given(
        st.text(
            alphabet=st.characters(
                min_codepoint=32,
                max_codepoint=0x24F,
                exclude_categories=("Cs", "Cc", "Zs"),
                include_characters=" ",
            ),
            max_size=30,
        )
    )
    def test_escape_markdown_property(value):
        """Any inline value, escaped, reads back from pandoc as the same text (spaces collapsed)."""
        ast = to_ast(f"Value: {escape_markdown(value)} end")
        assert stringify(ast["blocks"]) == " ".join(f"Value: {value} end".split())


def test_search_index_lists_sections_with_resolved_text(built):
    _, site, _ = built
    raw = (site / "site_libs" / "nhs" / "search-index.js").read_text(encoding="utf-8")
    entries = json.loads(raw[raw.index("=") + 1 :].strip().rstrip(";"))
    by_href = {e["href"]: e for e in entries}
    methods = by_href["chapters/alpha.html#sec-methods"]
    assert methods["title"] == "1.1 Methods" and methods["page"] == "1 Alpha chapter"
    assert "See Figure 1.1, table 1.1, Section 2.1" in methods["text"] and "@fig-bars" not in methods["text"]
    for e in entries:
        page, _, anchor = e["href"].partition("#")
        assert (site / page).is_file() and (not anchor or anchor in parse_page(site / page).ids)
    assert '<form class="hg-search" role="search" hidden>' in text_of(site / "index.html")


# ---- equations: a scroll region each where they may not fit a phone ----------------------------


def test_display_and_long_inline_equations_get_named_scroll_regions():
    """MathML does not wrap: a display equation, or a long inline one, scrolls in its own region."""
    from healthgap.render.builtin import LONG_INLINE_TEX, scrollable_math
    from healthgap.render.pandoc import to_html

    long_tex = r"\exp\left(\ln R \pm z\sqrt{\operatorname{var}_1/\text{DSR}_1^2 + \operatorname{var}_2/\text{DSR}_2^2}\right)"
    assert len(long_tex) > LONG_INLINE_TEX
    source = f"Short $O$ and long ${long_tex}$.\n\n$$\\frac{{a}}{{b}} = c$$\n\nAgain $$x + y$$\n"
    body = scrollable_math(to_html(to_ast(source), what="test"))
    import re

    found = [dict(re.findall(r'([\w-]+)="([^"]*)"', attrs)) for attrs in re.findall(r"<span ([^>]*)>", body)]
    named = [a for a in found if a.get("role") == "region"]
    assert [a["aria-label"] for a in named] == ["Equation 1", "Equation 2", "Equation 3"]  # unique names
    assert all(a["tabindex"] == "0" for a in named)
    assert [a["class"] for a in named] == ["hg-math hg-math-inline", "hg-math", "hg-math"]
    assert body.count("<math") == 4  # the short inline equation stays as it is, outside any region
    assert body.index("<math") < body.index('class="hg-math')
    assert scrollable_math("<p>no equations</p>") == "<p>no equations</p>"


def test_rendered_page_wraps_its_display_equation(tmp_path):
    root = write_fixture_book(tmp_path / "book", {"chapters/extra.qmd": "# Extra\n\n$$a^2 + b^2 = c^2$$\n"})
    site = render_book(project=root, out=tmp_path / "site", engine="builtin", progress=None)
    page = (site / "chapters" / "extra.html").read_text(encoding="utf-8")
    assert (
        '<span class="hg-math" role="region" tabindex="0" aria-label="Equation 1"><math display="block"'
        in page
    )


# -- the order pages start in ------------------------------------------------------------------


def test_render_records_each_pages_time_and_the_next_render_starts_the_longest_first(tmp_path):
    from healthgap.render.builtin import PAGE_SECONDS, run_order
    from healthgap.render.project import read_book

    root = write_fixture_book(tmp_path / "book")
    config = write_config(root / "fixture.yml", FIXTURE_REPORT)
    book = read_book(root)
    sources = [p.source for p in book.pages]
    assert run_order(book) == list(range(len(sources)))  # no record: book order

    first: list[str] = []
    render(root, first, config=config, jobs=1)
    shutil.copytree(root / "_site", tmp_path / "first-site")
    record = json.loads((root / PAGE_SECONDS).read_text(encoding="utf-8"))
    assert set(record) == set(sources)
    assert all(isinstance(v, float) and v >= 0 for v in record.values())  # seconds, to 0.01

    # the last page recorded as the longest, the first as the shortest: the next render starts
    # the last page first and the first page last (jobs=1: one at a time, in that order)
    timed = {s: float(10 + i) for i, s in enumerate(sources)}
    (root / PAGE_SECONDS).write_text(json.dumps(timed), encoding="utf-8")
    assert run_order(book) == list(reversed(range(len(sources))))
    second: list[str] = []
    render(root, second, config=config, jobs=1)
    started = [m.strip().removesuffix(": running") for m in second if m.strip().endswith(": running")]
    assert started == list(reversed(sources))
    # the record keeps each page's longest time (a warm-cache render must not make a page that is
    # slow on new data start last): these pages ran in far less than 10 s
    assert json.loads((root / PAGE_SECONDS).read_text(encoding="utf-8")) == timed
    # ...and the site is byte-identical to the first render's (each run put back on its page)
    files = sorted(
        p.relative_to(tmp_path / "first-site") for p in (tmp_path / "first-site").rglob("*") if p.is_file()
    )
    assert files == sorted(p.relative_to(root / "_site") for p in (root / "_site").rglob("*") if p.is_file())
    changed = [
        f for f in files if (tmp_path / "first-site" / f).read_bytes() != (root / "_site" / f).read_bytes()
    ]
    assert not changed


def test_run_order_puts_unrecorded_pages_first_and_ignores_a_bad_record(tmp_path):
    from healthgap.render.builtin import PAGE_SECONDS, run_order
    from healthgap.render.project import read_book

    root = write_fixture_book(tmp_path / "book")
    book = read_book(root)
    n = len(book.pages)
    record = root / PAGE_SECONDS
    record.parent.mkdir(parents=True)
    # only the first page recorded: every other page (unknown) starts before it, in book order
    record.write_text(json.dumps({book.pages[0].source: 99.0}), encoding="utf-8")
    assert run_order(book) == [*range(1, n), 0]
    for bad in ("not json", "[1, 2]", json.dumps({book.pages[0].source: "slow"})):
        record.write_text(bad, encoding="utf-8")
        assert run_order(book) == list(range(n))
