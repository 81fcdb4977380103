"""Groups of any dimension in sentences (pages._groups) and the Markdown blocks pages display (pages._blocks)."""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import DEFAULT_DIMENSIONS, Dimension
from healthgap.pages._blocks import blocks, escape, heading, markup_of, note, numbered, paragraph
from healthgap.pages._groups import compared_dimension, ends, gap, group_name, in_group, noun_of, spread
from healthgap.pages.capabilities import Capabilities

IMD = DEFAULT_DIMENSIONS["imd_quintile"]
ETHNICITY = DEFAULT_DIMENSIONS["ethnicity"]
SEX = DEFAULT_DIMENSIONS["sex"]
AGE = DEFAULT_DIMENSIONS["age_band"]
EDUCATION = Dimension(
    "education",
    "Education level",
    ("1", "2", "3", "4"),
    {"1": "Some high school", "4": "College degree"},
    "4",
    noun="education level",
    ordered=True,
    disadvantaged="first",
    column="education",
)
INCOME = Dimension("income", "Income", ("high", "mid", "low"), {}, "high", ordered=True, disadvantaged="last")
RACE = Dimension("race", "Race", ("0", "1"), {"0": "White", "1": "Black or other"}, "0", noun="race")


def caps(*dims: Dimension) -> Capabilities:
    return Capabilities(frozenset(), (), (), dims, None, None)


def table(dim: Dimension, values: dict[str, float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"dimension": [dim.name] * len(values), "level": list(values), "value": list(values.values())},
        schema={"dimension": pl.String, "level": pl.String, "value": pl.Float64},
    )


def test_the_compared_dimension_prefers_an_ordered_one_with_a_disadvantaged_end():
    assert compared_dimension(caps(ETHNICITY, SEX, IMD, AGE)) is IMD
    assert compared_dimension(caps(SEX, AGE, EDUCATION)) is EDUCATION
    assert compared_dimension(caps(ETHNICITY, SEX, AGE)) is ETHNICITY
    assert compared_dimension(caps(SEX, AGE), exclude=("sex",)) is None
    assert compared_dimension(caps(AGE)) is None


def test_ends_follow_the_disadvantaged_end():
    assert ends(IMD) == ("1", "5")
    assert ends(INCOME) == ("low", "high")  # disadvantaged last: the last level is the most disadvantaged
    assert ends(AGE) is None and ends(ETHNICITY) is None


def test_groups_read_in_their_dimensions_words():
    assert group_name(IMD, "1") == "the most deprived fifth" and group_name(IMD, "3") == "deprivation fifth 3"
    assert group_name(ETHNICITY, "Asian") == "the Asian group"
    assert group_name(SEX, "female", people=True) == "women"
    assert group_name(EDUCATION, "1") == "education level 1 (some high school)"
    assert group_name(EDUCATION, "2") == "education level 2"
    assert group_name(EDUCATION, "4", people=True) == "people in education level 4 (college degree)"
    assert group_name(RACE, "1") == "the Black or other group"
    assert group_name(INCOME, "low") == "income low"
    assert noun_of(INCOME) == "income" and noun_of(EDUCATION) == "education level"
    assert in_group("women") == "among women" and in_group("the Asian group") == "in the Asian group"


def test_gap_between_the_ends_present_and_suppressed():
    assert gap(
        table(EDUCATION, {"1": 64.23, "2": 70.0, "4": 77.31}), EDUCATION, subject="the share treated"
    ) == (
        "The share treated was 64.2% in education level 1 (some high school) against 77.3% in education level "
        "4 (college degree), a difference of 13.1 percentage points."
    )
    assert gap(table(IMD, {"1": 64.0, "5": None}), IMD, subject="the share") == (
        "The share cannot be compared between the most deprived fifth and the least deprived fifth because a "
        "group is too small to publish."
    )
    days = gap(table(IMD, {"1": 64.0, "5": 51.0}), IMD, subject="the median wait", dp=0, suffix=" days")
    assert days.endswith("a difference of 13 days.")
    # equal as written: not "1.2% against 1.2%, a difference of 0.1 percentage points"
    assert gap(table(IMD, {"1": 1.24, "5": 1.15}), IMD, subject="the share referred") == (
        "The share referred was about 1.2% in both the most deprived fifth and the least deprived fifth."
    )


def test_gap_without_ends_gives_the_range():
    assert gap(table(ETHNICITY, {"Asian": 10.0, "White": 12.5, "Black": None}), ETHNICITY, subject="x") == (
        "X was highest in the White group (12.5%) and lowest in the Asian group (10.0%)."
    )
    assert (
        spread(table(ETHNICITY, {"Asian": 10.0, "White": 10.04}), ETHNICITY)
        == "the same in every group (10.0%)"
    )
    assert spread(table(ETHNICITY, {"Asian": 10.0, "White": None}), ETHNICITY) == (
        "published only in the Asian group (10.0%)"
    )
    assert (
        spread(table(ETHNICITY, {"Asian": None}), ETHNICITY) == "not published for any group (too few people)"
    )
    assert spread(table(SEX, {"female": 1.5, "male": 2.0}), SEX, suffix=" per 1,000") == (
        "highest among men (2.0 per 1,000) and lowest among women (1.5 per 1,000)"
    )


def test_a_numbered_float_keeps_its_markup_raw_and_its_caption_literal():
    block = numbered("<figure>`x`</figure>", label="fig-a", caption="Rates *by* group [1]")
    assert (
        block
        == "::: {#fig-a}\n\n```{=html}\n<figure>`x`</figure>\n```\n\nRates \\*by\\* group \\[1\\]\n\n:::"
    )
    longer = numbered("<p>```</p>", label="tbl-b", caption="T")
    assert "````{=html}\n<p>```</p>\n````" in longer
    assert heading("CVD death: 5% @ home", id="sec-x") == "## CVD death: 5% \\@ home {#sec-x}"
    assert escape("a  b\nc") == "a b c"


def test_blocks_join_markdown_and_raw_html_and_skip_nothing():
    assert blocks(None, "") is None
    out = markup_of(blocks("## H {#sec-h}", None, note("No <x> column."), paragraph("See @fig-a.")))
    assert out.split("\n\n")[0] == "## H {#sec-h}"
    assert '<div class="hg-skip callout callout-note" role="note"><p>No &lt;x&gt; column.</p></div>' in out
    assert out.endswith("\n\nSee @fig-a.")
    assert paragraph("  ") is None


@pytest.mark.parametrize("dim", [IMD, EDUCATION, ETHNICITY, SEX, RACE, INCOME])
def test_every_group_of_every_dimension_has_a_name(dim):
    for level in dim.order:
        assert group_name(dim, level).strip()
