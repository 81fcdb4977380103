"""The book as Quarto's Jupyter engine runs it (healthgap.render.quarto_semantics).

Quarto cannot be installed where the book is tested, so this runs every page the way Quarto
1.5+ does (one kernel per page in the page's folder, Quarto's environment variables, inline
expressions per markdown cell through ``user_expressions``, empty values kept as code) and
checks what the built-in renderer hides: failing cells and inline expressions, empty inline
values, tables repeating their ``tbl-cap``, tables and scroll regions that lose their
accessible name in pandoc's HTML -> AST -> HTML round trip, and skipped figure/table cells that
the theme's filter would leave numbered.

The unit tests pin each piece to Quarto's source (notebook.py, jupyter-inline.ts,
execute-inline.ts, astpipeline.lua); the fixture book shows that each problem is found; the
two real books (default and "other trust", 20,000 people each) must have no problem at all.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from healthgap.render.project import read_book
from healthgap.render.quarto_semantics import (
    FILTER,
    check_book,
    name_problems,
    quarto_expressions,
    quarto_inline_text,
    quarto_markdown,
    quarto_tables,
    skipped_float_problems,
    substitute_inline,
)

REPO = Path(__file__).resolve().parents[1]


def _plain(value: str) -> dict:
    return {"status": "ok", "data": {"text/plain": repr(value)}, "metadata": {}}


# ---- inline expressions: Quarto's rules -----------------------------------------------------


def test_inline_text_is_the_repr_without_quotes_and_escaped():
    assert quarto_inline_text(_plain("12.3% (95% CI 1-2)")) == r"12\.3% \(95% CI 1\-2\)"
    assert quarto_inline_text(_plain("")) == ""  # empty: Quarto keeps the code
    assert quarto_inline_text({"data": {"text/plain": "42"}}) == "42"
    assert quarto_inline_text({"data": {"text/markdown": "**b**", "text/plain": "<Markdown>"}}) == "**b**"
    assert quarto_inline_text({"data": {"text/markdown": "", "text/plain": "<Markdown>"}}) == ""
    assert quarto_inline_text({"data": {"text/html": "<b>x</b>"}}) == "`<b>x</b>`{=html}"


def test_expressions_are_found_and_replaced_as_quarto_does():
    text = "A `{python} a` and `{python}  b ` and `{python} c`.\nSplit `{python} d +\n e` here.\n"
    found = quarto_expressions(text)
    assert found == ["a", " b ", "c", "d +\n e"]
    results = {"a": _plain("one"), " b ": _plain("two"), "c": _plain(""), "d +\n e": _plain("x")}
    out, kept = substitute_inline(text, results)
    # " b " is looked up by its trimmed text and not found; "c" is empty; "d + e" spans two lines
    assert out.startswith("A one and `{python}  b ` and `{python} c`.")
    assert kept == ["b", "c"]
    assert "`{python} d +" in out


def test_a_string_whose_repr_escapes_is_shown_differently():
    from healthgap.render.quarto_semantics import _shown_differently

    assert _shown_differently(_plain("12\u00a0people")) == "12\\xa0people"
    assert _shown_differently(_plain("it's")) is None
    assert _shown_differently(_plain("both ' and \"")) == "both \\' and \""
    assert _shown_differently({"data": {"text/plain": "3"}}) is None


# ---- tables: pandoc's round trip keeps a name ------------------------------------------------

OLD_TABLE = (  # the markup before issue 13: named by aria-labelledby pointing at its caption's id
    '<div class="hg-table" id="t" role="region" aria-labelledby="t-caption" tabindex="0">'
    '<table><caption id="t-caption">People</caption><thead><tr><th scope="col">Group</th></tr></thead>'
    '<tbody><tr><th scope="row">a</th></tr></tbody></table></div>'
)


def _frame():
    import polars as pl

    from healthgap.disclosure import protect

    return protect(pl.DataFrame({"group": ["a", "b"], "people": [120, 3]}), counts=["people"])


def test_old_tables_lose_their_name_in_the_round_trip():
    before = name_problems(OLD_TABLE)
    assert before == []  # fine as written ...
    after, count = quarto_tables(OLD_TABLE)
    assert count == 1 and 'id="t-caption"' not in after  # ... but pandoc drops the caption's id
    assert any("aria-labelledby points at 't-caption'" in p for p in name_problems(after))


@pytest.mark.parametrize("own_caption", [True, False])
def test_table_html_keeps_its_name_and_header_cells_after_the_round_trip(own_caption):
    from healthgap.tables import table_html

    markup = table_html(_frame(), id="people", caption="People & groups", own_caption=own_caption)
    after, count = quarto_tables(markup)
    assert count == 1 and name_problems(after) == []
    assert (
        'role="region"' in after and 'tabindex="0"' in after and 'aria-label="People &amp; groups"' in after
    )
    assert '<th scope="row"' in after.replace("  ", " ") or "<th " in after  # row headers stay th
    assert ("<caption>" in after) is own_caption


def test_figure_numbers_table_keeps_its_name_after_the_round_trip():
    import altair as alt

    from healthgap.charts import figure_html

    data = _frame()
    chart = alt.Chart(alt.Data(values=[{"g": "a", "v": 1}])).mark_bar().encode(x="g:N", y="v:Q")
    for own in (True, False):
        markup = figure_html(
            chart, id="f", title="T", description="d", data=data, download_href=None, own_caption=own
        )
        after, count = quarto_tables(markup)
        assert count == 1 and name_problems(after) == []


def test_table_has_no_second_caption_under_quarto(monkeypatch):
    from healthgap.tables import table_html

    monkeypatch.delenv("QUARTO_DOCUMENT_PATH", raising=False)
    monkeypatch.delenv("QUARTO_DOCUMENT_FILE", raising=False)
    monkeypatch.delenv("QUARTO_EXECUTE_INFO", raising=False)
    assert "<caption" in table_html(_frame(), id="t", caption="People")
    monkeypatch.setenv("QUARTO_DOCUMENT_FILE", "population.qmd")
    quarto = table_html(_frame(), id="t", caption="People")
    assert "<caption" not in quarto and 'aria-label="People"' in quarto


# ---- skipped figures and tables: the theme's Lua filter ---------------------------------------

SKIP = '<div class="hg-skip callout callout-note" role="note"><p>This section is skipped because the dataset has no x.</p></div>'


def _cell(label: str, caption_key: str, caption: str):
    from healthgap.render.qmd import Cell

    return Cell(1, 1, "python", "page.x()", {"label": label, caption_key: caption})


def _skip_page() -> tuple[str, list[str]]:
    out = [{"output_type": "display_data", "data": {"text/html": SKIP}, "metadata": {}}]
    chart = [{"output_type": "display_data", "data": {"text/html": "<figure>chart</figure>"}, "metadata": {}}]
    md = "See @fig-gone, [-@tbl-gone] and @fig-kept.\n\n"
    md += quarto_markdown(_cell("fig-gone", "fig-cap", "Gone"), out)
    md += quarto_markdown(_cell("tbl-gone", "tbl-cap", "Gone too"), out)
    md += quarto_markdown(_cell("fig-kept", "fig-cap", "Kept"), chart)
    return md, ["fig-gone", "tbl-gone"]


def test_quarto_markdown_of_a_figure_and_a_table_cell():
    md, _ = _skip_page()
    assert "::: {.cell}\n::: {#fig-gone .cell-output .cell-output-display}\n```{=html}" in md
    assert "\nGone\n:::\n:::" in md  # the caption paragraph after the output, as Quarto writes it
    assert "::: {#tbl-gone .cell tbl-cap='Gone too'}\n::: {.cell-output .cell-output-display}" in md


def test_the_filter_unnumbers_skipped_floats_and_their_references():
    md, labels = _skip_page()
    assert skipped_float_problems(md, labels, project=REPO) == []


def test_without_the_filter_skipped_floats_stay_numbered(tmp_path):
    (tmp_path / FILTER).parent.mkdir(parents=True)
    (tmp_path / FILTER).write_text("return {}\n")  # a filter that does nothing
    md, labels = _skip_page()
    problems = skipped_float_problems(md, labels, project=tmp_path)
    assert len(problems) == 4 and "fig-gone shows only a skip note" in problems[0]


def test_theme_declares_the_filter_before_quarto_parses_floats():
    import yaml

    ext = yaml.safe_load((REPO / "_extensions" / "nhs" / "_extension.yml").read_text())
    assert ext["quarto-required"] == ">=1.5.0"
    filters = ext["contributes"]["formats"]["html"]["filters"]
    assert {"path": "skipped-floats.lua", "at": "pre-ast"} in filters
    assert (REPO / FILTER).is_file()


# ---- a fixture book with every problem --------------------------------------------------------

FIXTURE_PAGES = {
    "index.qmd": """\
        # Welcome {.unnumbered}

        ```{python}
        #| label: setup
        from healthgap.render.quarto_semantics import quarto_inline_text
        import os
        empty = ""
        config = os.environ.get("HEALTHGAP_CONFIG")
        ```

        Fine: `{python} 1 + 1`. Empty: `{python} empty`. Missing: `{python} nowhere`.
        Config as given: `{python} config`. Later: `{python} later`.

        ```{python}
        later = "too late"
        ```
        """,
    "chapters/tables.qmd": """\
        # Tables {#sec-tables}

        ```{python}
        #| label: setup
        import polars as pl
        from IPython.display import HTML
        from healthgap.disclosure import protect
        from healthgap.tables import table_html
        frame = protect(pl.DataFrame({"g": ["a", "b"], "people": [120, 30]}), counts=["people"])
        ```

        ```{python}
        #| label: tbl-twice
        #| tbl-cap: "People by group"
        HTML(table_html(frame, id="twice", caption="People by group", own_caption=True))
        ```

        ```{python}
        #| label: tbl-once
        #| tbl-cap: "People by group again"
        HTML(table_html(frame, id="once", caption="People by group again"))
        ```

        ```{python}
        #| label: loose
        HTML(table_html(frame, id="loose", caption="A table in no tbl- cell"))
        ```

        ```{python}
        #| label: tbl-old
        #| tbl-cap: "Old markup"
        HTML('<div role="region" aria-labelledby="o-caption" tabindex="0"><table><caption id="o-caption">Old</caption><tr><td>1</td></tr></table></div>')
        ```

        ```{python}
        #| label: fig-skipped
        #| fig-cap: "Not for this dataset"
        HTML('<div class="hg-skip callout callout-note" role="note"><p>Skipped.</p></div>')
        ```

        See @fig-skipped.
        """,
}


@pytest.fixture(scope="module")
def fixture_result(tmp_path_factory):
    root = tmp_path_factory.mktemp("quarto-book")
    (root / "_quarto.yml").write_text(
        "project:\n  type: book\nbook:\n  title: T\n  chapters:\n    - index.qmd\n    - chapters/tables.qmd\n",
        encoding="utf-8",
    )
    for name, text in FIXTURE_PAGES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    shutil.copytree(REPO / "_extensions", root / "_extensions")
    return check_book(project=root, config="data/relative.yml", jobs=2)


def test_fixture_book_problems_are_all_found(fixture_result):
    found = {(p.page, p.kind, p.where) for p in fixture_result.problems}
    assert ("index.qmd", "empty inline", "`{python} empty`") in found
    assert ("index.qmd", "inline error", "`{python} nowhere`") in found
    assert ("index.qmd", "inline error", "`{python} later`") in found  # evaluated where it stands
    assert ("chapters/tables.qmd", "caption twice", "cell 2 (label 'tbl-twice')") in found
    assert ("chapters/tables.qmd", "table without a caption", "cell 4 (label 'loose')") in found
    kinds = [p.kind for p in fixture_result.problems]
    assert kinds.count("accessible name") == 2  # the old markup only: its region and its reference
    assert kinds.count("skipped float") == 0  # the theme's filter takes the skipped figure out
    assert fixture_result.skipped == 1
    assert not any("tbl-once" in p.where for p in fixture_result.problems)
    pages = {p.page: p for p in fixture_result.pages}
    assert pages["index.qmd"].inlines == 5 and pages["chapters/tables.qmd"].tables == 4


def test_fixture_book_kernels_see_what_quarto_sets(tmp_path):
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "_quarto.yml").write_text(
        "project:\n  type: book\nbook:\n  title: T\n  chapters:\n    - index.qmd\n    - chapters/a.qmd\n"
    )
    (root / "index.qmd").write_text("# W\n\nHi `{python} 'there'`.\n")
    probe = (
        "```{python}\nimport os, pathlib\n"
        "names = ('QUARTO_PROJECT_ROOT', 'QUARTO_DOCUMENT_PATH', 'QUARTO_DOCUMENT_FILE', 'QUARTO_EXECUTE_INFO',"
        " 'HEALTHGAP_CHAPTER', 'HEALTHGAP_PAGE_PREFIX', 'HEALTHGAP_CONFIG')\n"
        "seen = {n: os.environ.get(n) for n in names}\n"
        "assert seen['QUARTO_DOCUMENT_FILE'] == 'a.qmd', seen\n"
        "assert pathlib.Path(seen['QUARTO_DOCUMENT_PATH']).name == 'chapters' == pathlib.Path.cwd().name, seen\n"
        "assert seen['HEALTHGAP_CHAPTER'] is None and seen['HEALTHGAP_PAGE_PREFIX'] is None, seen\n"
        "assert seen['HEALTHGAP_CONFIG'] == 'data/x.yml', seen\n```\n"
    )
    (root / "chapters" / "a.qmd").write_text("# A\n\n" + probe)
    result = check_book(project=root, config="data/x.yml", jobs=1)
    assert result.problems == [] and result.inlines == 1


# ---- the real books ---------------------------------------------------------------------------


def _report(capsys, result, name):
    with capsys.disabled():
        print("\n" + result.summary(name))


@pytest.mark.slow
def test_default_book_under_quarto(synthetic_dir, capsys):
    # the models come from the project's cache (_build/cache/models), shared with the other slow
    # tests of the same data: keyed by data, settings and code, so only the first test fits them
    result = check_book(project=REPO, config=synthetic_dir / "default.yml", jobs=2)
    _report(capsys, result, "default book")
    assert len(result.pages) == len(read_book(REPO).pages) and result.inlines > 50 and result.tables >= 30
    assert [str(p) for p in result.problems] == []


@pytest.mark.slow
def test_other_trust_book_under_quarto(other_trust_dir, capsys):
    # relative to the project folder, as a user sets it (Quarto runs each page in its own folder)
    import os

    config = os.path.relpath(other_trust_dir / "other_trust.yml", REPO)
    result = check_book(project=REPO, config=config, jobs=2)
    _report(capsys, result, "other trust book")
    assert len(result.pages) == len(read_book(REPO).pages) and result.skipped >= 1
    assert [str(p) for p in result.problems] == []


# ---- equations: the same scroll regions under Quarto -----------------------------------------

MATH = (
    "Short $O$ and long $\\exp\\left(\\ln R \\pm z\\sqrt{\\operatorname{var}_1/\\text{DSR}_1^2"
    " + \\operatorname{var}_2/\\text{DSR}_2^2}\\right)$.\n\n$$a^2 + b^2 = c^2$$\n"
)


def _regions(markup: str) -> list[dict[str, str]]:
    import re

    spans = re.findall(r"<span\s([^>]*)>\s*<math", markup)
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', " ".join(s.split()))) for s in spans]


def test_theme_filter_puts_equations_in_the_same_regions_as_the_builtin_renderer():
    """Quarto runs the theme's math-regions.lua; the built-in renderer, scrollable_math: same regions."""
    import pypandoc
    import yaml

    from healthgap.render.builtin import scrollable_math
    from healthgap.render.pandoc import to_ast, to_html

    ext = yaml.safe_load((REPO / "_extensions" / "nhs" / "_extension.yml").read_text())
    assert "math-regions.lua" in ext["contributes"]["formats"]["html"]["filters"]
    lua = REPO / "_extensions" / "nhs" / "math-regions.lua"
    quarto = pypandoc.convert_text(
        MATH, "html5", format="markdown", extra_args=["--mathml", f"--lua-filter={lua}"]
    )
    builtin = scrollable_math(to_html(to_ast(MATH), what="test"))
    expected = [
        {"class": "hg-math hg-math-inline", "role": "region", "tabindex": "0", "aria-label": "Equation 1"},
        {"class": "hg-math", "role": "region", "tabindex": "0", "aria-label": "Equation 2"},
    ]
    assert _regions(quarto) == expected
    assert _regions(builtin) == expected
