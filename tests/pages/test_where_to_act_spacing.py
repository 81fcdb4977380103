"""Every sentence of the "Where to act" page is spaced as prose: no space before a comma, no
double space, and no bold text ending right before punctuation (a reader that takes the page's
text nodes apart, as screen readers and the any-dataset scan do, reads "... (treated
hypertension) , men")."""

from __future__ import annotations

import re

import pytest

from healthgap.pages.where_to_act import WhereToActPage
from tests.pages.conftest import html_of
from tests.pages.test_where_to_act import _sexed, _under_recorded

#: What a sentence must not hold: a space before punctuation, two spaces, bold ending on punctuation.
BAD = re.compile(r" [,.;:)]|  |\*\*[,.;:]")


def sentences_of(page: WhereToActPage) -> list[str]:
    """Every sentence the page says, as it says them (Markdown), with its table notes."""
    out = [page.method(), page.intro(), page.left_out() or "", html_of(page.top())]
    for extra in (page.unrecorded_note(), page.truth_table()):
        out.append(html_of(extra) if extra is not None else "")
    out += [
        html_of(t)
        for t in (page.section_table(s) for s in ("treatment", "access", "outcome"))
        if t is not None
    ]
    return [line for text in out for line in text.split("\n") if line.strip()]


@pytest.mark.parametrize("people", [_sexed, _under_recorded], ids=["sexed", "under_recorded"])
def test_no_stray_spaces_in_any_sentence(page_of, people) -> None:
    page = page_of(WhereToActPage, people())
    lines = sentences_of(page)
    if people is _sexed:
        assert any(line.startswith("- **") for line in lines), "the top gaps are among the sentences checked"
    bad = [(m.group(0), line) for line in lines for m in [BAD.search(line)] if m]
    assert not bad, bad


def test_the_check_finds_the_old_stray_space() -> None:
    old = "- **Blood pressure below 140 mmHg (treated hypertension)**, men: 43.1% against 56.0%"
    assert BAD.search(old)
    assert BAD.search("a  b") and BAD.search("a , b")
    assert not BAD.search("- **Blood pressure below 140 mmHg (treated hypertension)** among men: 43.1%")
