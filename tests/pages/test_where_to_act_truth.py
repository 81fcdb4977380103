"""Where the data has true disease status, "Where to act" shows recorded and true prevalence gaps
together: in the table of recorded conditions and in the sentence of each condition gap it
ranks (issue 15: the reader found the true gaps only in the truth-check appendix)."""

from __future__ import annotations

import html

import numpy as np
import polars as pl
import polars.selectors as cs

from healthgap.pages.where_to_act import TRUTH_INTRO, WhereToActPage, about, rate_text, true_gap_text
from tests.conftest import build_people
from tests.pages.conftest import html_of


def _hidden(n: int = 8000) -> pl.DataFrame:
    """Hypertension truly 40% in the two most deprived deciles and 20% elsewhere, recorded for
    half of the truly affected there and 90% elsewhere: a recorded gap much smaller than the true
    one."""
    people = build_people(n, seed=31)
    rng = np.random.default_rng(32)
    deprived = people.get_column("imd_decile").to_numpy() <= 2
    truly = rng.random(n) < np.where(deprived, 0.4, 0.2)
    recorded = truly & (rng.random(n) < np.where(deprived, 0.5, 0.9))
    # diabetes truly 25% there and 5% elsewhere, all of it recorded: a gap that stands out
    diabetes = rng.random(n) < np.where(deprived, 0.25, 0.05)
    return people.with_columns(
        pl.Series("true_hypertension", truly),
        pl.Series("hypertension", recorded),
        pl.Series("true_diabetes", diabetes),
        pl.Series("diabetes", diabetes),
    )


def test_recorded_and_true_gaps_are_shown_together(page_of) -> None:
    page = page_of(WhereToActPage, _hidden(), data={"truth": None})
    truth = page.truth_gaps
    assert truth is not None
    recorded = page.gaps.row(measure="hypertension", dimension="imd_quintile", level="1")
    true = truth.row(measure="hypertension", dimension="imd_quintile", level="1")
    # the true gap is the larger: recorded prevalence hides most of it
    assert true["excess_lower"] > recorded["excess_upper"]
    table = html_of(page.truth_table())
    assert html.escape(TRUTH_INTRO.split("{")[0]) in table
    for value in (
        rate_text(recorded["rate"], 100),
        rate_text(true["rate"], 100),
        rate_text(true["reference_rate"], 100),
        about(true["excess"]),
    ):
        assert value in table, value
    assert "gaps-truth-data" in table  # the true gaps' download
    # a ranked condition gap's sentence carries its true gap, with the published numbers; round 5:
    # it is ranked on its true gap, which leads, and its recorded gap follows
    top = html_of(page.top())
    rows = [r for r in page.top_rows if r["section"] == "condition"]
    assert rows, top
    for r in rows:
        true_row = truth.row(measure=r["measure"], dimension=r["dimension"], level=r["level"])
        lead = f"{rate_text(true_row['rate'], 100)} against {rate_text(true_row['reference_rate'], 100)} expected"
        assert lead in top
        clause = true_gap_text(r, base=5, recorded=True)
        assert clause and clause in top


def test_without_truth_nothing_is_said_of_it(page_of) -> None:
    page = page_of(WhereToActPage, _hidden().drop(cs.starts_with("true_")), data={"truth": None})
    assert page.truth_gaps is None and page.truth_table() is None
    assert "truly" not in html_of(page.top())
