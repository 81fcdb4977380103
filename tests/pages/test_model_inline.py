"""Every inline value of the four model chapters is a non-empty string, on any data.

Quarto prints an inline expression whose value is ``""`` as code (issue 13, item 1), so each
``{python} page.…`` in ``chapters/{predicting-risk,fairness,explanations,model-card}.qmd`` is
read from the chapter itself and evaluated on pages built on data that lacks what it needs: no
outcome (no model at all), no ordered dimension with a disadvantaged end, and every count
suppressed. A new inline expression in a chapter is checked without changing this test.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from healthgap.pages.explanations import ExplanationsPage
from healthgap.pages.fairness import FairnessPage
from healthgap.pages.model_card import ModelCardPage
from healthgap.pages.predicting_risk import PredictingRiskPage
from tests.conftest import build_people
from tests.pages.conftest import build_page

REPO = Path(__file__).resolve().parents[2]
CHAPTERS = {
    "predicting-risk": PredictingRiskPage,
    "fairness": FairnessPage,
    "explanations": ExplanationsPage,
    "model-card": ModelCardPage,
}
INLINE = re.compile(r"(?<!`)`\{python\}[ \t]+page\.([A-Za-z_]\w*)(\(\))?[ \t]*`(?!`)")

#: Data lacking what the chapters need: (people, config sections, model.target kept).
ABSENT = {
    "no outcome": (lambda: build_people(200).drop("cvd_admissions", "cvd_death"), {}, False),
    "no ordered dimension": (
        lambda: build_people(400),
        {"equity": {"dimensions": ["ethnicity", "sex"]}},
        True,
    ),
    "all suppressed": (lambda: build_people(400), {"disclosure": {"suppress_below": 1000}}, True),
}


def inline_names(chapter: str) -> list[tuple[str, bool]]:
    """The page attributes a chapter prints inline, and whether each is called."""
    text = (REPO / "chapters" / f"{chapter}.qmd").read_text(encoding="utf-8")
    return sorted({(m.group(1), bool(m.group(2))) for m in INLINE.finditer(text)})


def test_the_chapters_have_inline_values():
    assert all(inline_names(c) for c in CHAPTERS)
    assert ("mitigation_text", True) in inline_names("fairness")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[tuple[str, str], object]:
    out = {}
    for case, (people, sections, target) in ABSENT.items():
        folder = tmp_path_factory.mktemp(case.replace(" ", "-"))
        frame: pl.DataFrame = people()
        for chapter, cls in CHAPTERS.items():
            out[chapter, case] = build_page(cls, frame, folder / chapter, target=target, **sections)
    return out


@pytest.mark.parametrize("case", list(ABSENT))
@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_every_inline_value_is_a_non_empty_string(chapter, case, pages):
    page = pages[chapter, case]
    empty = []
    for name, called in inline_names(chapter):
        value = getattr(page, name)
        value = value() if called else value
        text = getattr(value, "data", value)  # a Markdown display object is printed as its Markdown
        if not isinstance(text, str | int) or not str(text).strip():
            empty.append(f"page.{name}{'()' if called else ''} = {value!r}")
    assert not empty, f"{chapter} ({case}): inline values Quarto would print as code: {empty}"
