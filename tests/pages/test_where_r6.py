"""Round-6 reader's findings on "Where to act": a verdict scoped to what the page counts, each
leave-out said once, the standardisation said once above the list, and the recorded-against-true
table in the order the list ranks."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from healthgap.pages.where_to_act import (
    RECORDED_NOT_RANKED,
    TOP_INTRO,
    WhereToActPage,
    gap_sentence,
    own_mix,
)
from tests.pages.conftest import html_of
from tests.pages.test_verdicts_r5 import _under_recorded

REPO = Path(__file__).resolve().parents[2]


def _nothing_stands_out(page_of) -> WhereToActPage:
    """other_trust's shape: no true disease status, treatment and outcome gaps none of which is
    clear allowing for all the page's gaps (the same data as round 5's test of NOTHING_RANKED)."""
    people = _under_recorded(2000, diabetes_there=0.5)
    people = people.drop([c for c in people.columns if c.startswith("true_")])
    people = people.with_columns(
        pl.lit(True).alias(c) for c in ("statin", "anticoagulant", "antihypertensive")
    )
    page = page_of(WhereToActPage, people, data={"truth": None})
    if page.top_rows:  # pragma: no cover - a chance gap in treatment or outcomes
        pytest.skip("a gap outside the conditions stands out")
    return page


def _rows(markup: str) -> list[list[str]]:
    """The cells of each row of an HTML table, as text."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", markup, flags=re.S)
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, flags=re.S) for r in rows]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in row] for row in cells]


def _number(cell: str) -> float:
    return float(cell.replace(",", "").replace("\u2212", "-"))


# -- item 1: no list, no intro promising one; the verdict scopes itself -------------------------


def test_no_list_no_intro_and_the_verdict_says_what_it_counts(page_of):
    """other 1.1: "The gaps below are those with the most people ..." above no list, and "None of
    the gaps ... is large enough to tell from chance" read against Outcomes' clear ratio."""
    page = _nothing_stands_out(page_of)
    top = html_of(page.top())
    assert "The gaps below" not in top and TOP_INTRO not in top
    first = top.split(". ")[0]
    assert re.fullmatch(
        r"None of the gaps in [a-z, ]+ and outcomes, counted in numbers of people or events with all \d+ gaps "
        r"on this page allowed for at once, is large enough to tell from chance, so no gap is singled out here",
        first,
    ), first
    assert f"with all {page.comparisons} gaps on this page allowed for at once" in top
    # the chapter comparing fewer groups at a time, as ratios, named by its cross-reference
    assert "The outcomes chapter (@sec-outcomes) compares the groups of one dimension at a time" in top
    assert "as rate ratios" in top
    # the intro is the page's, said only above a list: not in the chapter's text
    chapter = (REPO / "chapters" / "where-to-act.qmd").read_text(encoding="utf-8")
    assert "The gaps below" not in chapter


def test_no_outcomes_no_chapter_named(page_of):
    """The outcomes chapter is named only when outcomes are among the gaps compared."""
    page = _nothing_stands_out(page_of)
    page.__dict__["exact"] = page.exact.filter(pl.col("section") != "outcome")
    top = html_of(page.top())
    assert top.startswith("None of the gaps in ") and "outcomes" not in top.split(". ")[0]
    assert "@sec-outcomes" not in top


def test_a_list_has_its_intro(page_of):
    page = page_of(WhereToActPage, _under_recorded(), data={"truth": None})
    assert page.top_rows
    top = html_of(page.top())
    assert top.startswith(TOP_INTRO) and "None of the" not in top


# -- item 2: each leave-out said once ------------------------------------------------------------


def test_recorded_conditions_left_out_once_and_where_they_stay_once(page_of):
    """other 1.1: "leaves out differences by sex ... in how common recorded conditions are" and
    "also leaves out differences in how common recorded conditions are"; "the table below" and
    "the tables below" in one paragraph."""
    page = _nothing_stands_out(page_of)
    said = page.left_out() or ""
    assert RECORDED_NOT_RANKED in said
    assert said.count("how common recorded conditions are") == 1
    assert len(re.findall(r"tables? below", said)) == 1
    assert said.endswith("The gaps left out stay in the tables below.")
    # the sentence on sex still names what else it leaves out
    assert "The ranking leaves out differences by sex in " in said and " and in outcomes:" in said
    top = html_of(page.top())
    assert top.count("how common recorded conditions are") == 1


def test_with_truth_sex_conditions_still_named_with_sex(page_of):
    """With true disease status the recorded conditions are ranked (on their true gaps), so the
    sentence on sex keeps them and no RECORDED_NOT_RANKED follows."""
    page = page_of(WhereToActPage, _under_recorded(), data={"truth": None})
    said = page.left_out() or ""
    assert page.truth_gaps is not None and RECORDED_NOT_RANKED not in said
    assert "in outcomes and in how common recorded conditions are:" in said
    assert len(re.findall(r"tables? below", said)) == 1


# -- item 3: how the expected rates are standardised, once above the list ----------------------


@pytest.fixture(scope="module")
def default_page(default_config, tmp_path_factory) -> WhereToActPage:
    from healthgap.data import load

    frame = load(default_config).collect()
    folder = tmp_path_factory.mktemp("where-r6")
    return WhereToActPage.for_frame(default_config, frame, downloads=folder / "where-to-act")


def test_standardisation_said_once_above_the_list(default_page):
    """default 1.1: "(indirectly standardised to the mix of ages and sexes in the group itself)" in all
    5 items."""
    page = default_page
    rows = [r for r in page.top_rows if r["statistic"] == "standardised"]
    if len(rows) < 2:  # pragma: no cover - too few gaps stand out on this draw
        pytest.skip("fewer than two standardised gaps listed")
    top = html_of(page.top())
    phrase = "indirectly standardised to the mix of"
    assert top.count(phrase) == 1
    intro, listed = top.split("\n\n")[0], top.split("\n\n")[1]
    assert phrase in intro and phrase not in listed
    assert listed.count("\n- ") + 1 == len(page.top_rows)
    # a gap quoted alone (the Welcome) still says it
    row = rows[0]
    alone = gap_sentence(row, group="g", reference="r", strata=page._strata(row))
    assert f"({own_mix(page._strata(row))})" in alone


def test_sexes_standardised_for_age_alone_said_once(page_of):
    page = _nothing_stands_out(page_of)
    sexes = page.gaps.frame.filter(pl.col("dimension") == "sex").head(1).to_dicts()
    other = page.gaps.frame.filter(pl.col("dimension") == "imd_quintile").head(1).to_dicts()
    page.__dict__["top_rows"] = [{**r, "statistic": "standardised"} for r in other + sexes]
    assert page.top_intro().endswith(
        "is indirectly standardised to the mix of ages and sexes in the group itself (of ages alone between the sexes)."
    )
    page.__dict__["top_rows"] = [{**r, "statistic": "standardised"} for r in other]
    assert page.top_intro().endswith("ages and sexes in the group itself.")


# -- item 4: the recorded-against-true table in the list's order ---------------------------------


def test_truth_table_sorted_by_the_true_gap(page_of, default_page):
    """default Table 1.4 was sorted by the recorded gap, so the largest true gap (ranked first in
    1.1) sat 13th. Here hypertension in the most deprived fifth has a recorded gap of about 0 and
    the largest true gap: it leads the table, as it leads the list."""
    page = page_of(WhereToActPage, _under_recorded(), data={"truth": None})
    rows = _rows(html_of(page.truth_table()))
    head, body = rows[0], rows[1:]
    true = head.index("Difference in number, true")
    recorded = head.index("Difference in number, recorded")
    first = page.top_rows[0]
    assert first["measure"] == "hypertension"
    assert body[0][:2] == ["Hypertension", "The most deprived fifth"]
    # the recorded order would not put it first
    assert max(_number(r[recorded]) for r in body) > _number(body[0][recorded])
    # the ranked rows (all but sex and unrecorded ethnic group) in non-increasing true gap
    ranked = page.truth_gaps.frame.filter(
        pl.col("rank").is_not_null() & pl.col("excess").is_not_null()
    ).height
    values = [_number(r[true]) for r in body[:ranked]]
    assert values == sorted(values, reverse=True)
    # on the default data: the top-ranked gap (a condition ranked on its true gap) leads the table
    markup = html_of(default_page.truth_table())
    assert "ordered by the true difference, most people more than expected first" in markup
    rows = _rows(markup)[1:]
    top = next(r for r in default_page.top_rows if r.get("true_excess") is not None)
    group = default_page._names(top)[0]
    assert rows[0][0] == top["label"] and rows[0][1].lower() == group.lower()


def test_nothing_found_states_the_number_of_gaps_only_as_a_number_of_gaps():
    """'with all 177 allowed for at once' read as an exact total of people to the disclosure
    auditor (CI, round 5, 2,003 people): a number of comparisons is said only as "N gaps"."""
    import re

    from healthgap.pages.where_to_act import NOTHING_FOUND, NOTHING_RANKED

    for template in (NOTHING_FOUND, NOTHING_RANKED):
        said = template.format(m="177", counted="people", what="treatment")
        numbers = re.findall(r"\d[\d,]*(?:\s+\w+)?", said)
        assert numbers and all(n.endswith("gaps") for n in numbers), numbers
