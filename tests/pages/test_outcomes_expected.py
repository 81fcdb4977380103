"""A rate ratio whose expected count is too small is not named as a finding (issue 15: "the Black
group 6.5 times" with 0.0 expected on the other-trust book), and where to act does not rank such
a gap: the rule of :data:`healthgap.descriptive.priorities.MIN_EXPECTED`."""

from __future__ import annotations

import html
import re

import polars as pl
import pytest

from healthgap.descriptive import LEVEL
from healthgap.descriptive.priorities import MIN_EXPECTED
from healthgap.pages.outcomes import TOO_FEW_NOTE, OutcomesPage, ratio_sentence, too_few_expected
from healthgap.pages.sentences import level_name
from healthgap.pages.where_to_act import TOO_FEW_EXPECTED, WhereToActPage
from tests.conftest import build_people


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return build_people(6000, seed=3)


@pytest.fixture(scope="module")
def page(people, tmp_path_factory) -> OutcomesPage:
    from tests.pages.conftest import build_page

    return build_page(OutcomesPage, people, tmp_path_factory.mktemp("outcomes"))


def _named(text: str, page: OutcomesPage, level: str) -> bool:
    name = level_name(page.config.dimension("ethnicity"), level)
    # a ratio whose interval includes 1 names its group too, as one that could not be told apart
    return f"people in {name} had" in text or f"in {name} could not be told apart" in text


def test_a_group_with_too_few_expected_is_not_named(page) -> None:
    dim, admissions = page.caps.dimension("ethnicity"), page.outcome("cvd_admissions")
    assert admissions is not None and page.excess is not None
    rates, excess = page.rates.frame, page.excess.frame
    before = ratio_sentence(rates, dim, admissions, excess=excess, base=5)
    # the group the sentence names, with its expected count set to 0 as rounding can set it
    named = [lv for lv in dim.order if _named(before, page, lv)]
    assert len(named) == 1, before
    level = named[0]
    assert TOO_FEW_NOTE.split("{")[0] not in before
    rounded = excess.with_columns(
        pl.when(
            (pl.col("measure") == "cvd_admissions")
            & (pl.col("dimension") == "ethnicity")
            & (pl.col(LEVEL) == level)
        )
        .then(0.0)
        .otherwise(pl.col("expected"))
        .alias("expected")
    )
    assert too_few_expected(rounded, dim, admissions) == [level]
    after = ratio_sentence(rates, dim, admissions, excess=rounded, base=5)
    assert not _named(after, page, level), after
    assert f"would be expected in {level_name(dim, level)} at the rates of" in after
    assert f"Fewer than {int(MIN_EXPECTED)} " in after


def test_where_to_act_does_not_rank_a_gap_with_too_few_expected(people, tmp_path) -> None:
    from tests.pages.conftest import build_page

    where = build_page(WhereToActPage, people, tmp_path)
    frame = where.gaps.frame
    few = frame.filter(
        (pl.col("statistic") == "standardised")
        & pl.col("expected").is_not_null()
        & (pl.col("expected") < MIN_EXPECTED)
    )
    assert few.height > 0  # small groups (Mixed, Other) expect few deaths
    assert few.get_column("rank").is_null().all()
    ranked = frame.filter(pl.col("rank").is_not_null() & (pl.col("statistic") == "standardised"))
    assert (ranked.get_column("expected") >= MIN_EXPECTED).all()
    counted = few.filter(pl.col("ranked")).height
    assert where.too_few_expected == counted > 0
    assert TOO_FEW_EXPECTED.format(gaps=f"{counted} gap" + ("s" if counted > 1 else ""), floor="10") in (
        where.left_out() or ""
    )


def test_an_outcome_with_nothing_to_plot_gets_one_note_and_no_chart(page_of) -> None:
    """Premature deaths so rare that no group's rate can be published: no empty chart, one note
    (flagged on small data by the any-dataset scan in round 3)."""
    from healthgap.pages.outcomes import NOTHING_TO_PLOT
    from tests.pages.test_outcomes import text_of

    measure = {
        "name": "premature_cvd_death",
        "label": "Premature CVD death (under 75)",
        "kind": "outcome",
        "type": "flag",
        "period": "during the year",
        "timing": "follow-up",
    }
    people = build_people(3000, seed=7)
    died = (pl.col("age") < 75) & (pl.int_range(pl.len()) % 500 == 0)  # 4 or 5 deaths in all
    page = page_of(
        OutcomesPage,
        people.with_columns(died.alias("premature_cvd_death")),
        measures=[measure],
        outcomes=["cvd_admissions", "premature_cvd_death"],
    )
    premature = page.outcome("premature_cvd_death")
    admissions = page.outcome("cvd_admissions")
    assert premature is not None and admissions is not None
    assert not page.plotted(premature) and page.plotted(admissions)
    text = text_of(page.sections())
    note = NOTHING_TO_PLOT.format(what=premature.phrase, counted="premature CVD deaths (under 75)")
    assert text.count(html.escape(note)) == 1, text
    charts = re.findall(r'id="fig-outcome-([a-z0-9-]+)"|fig-outcome-([a-z0-9-]+)', text)
    named = {a or b for a, b in charts}
    assert premature.slug not in named and admissions.slug in named, named


def test_the_unrecorded_note_is_said_once_on_the_page(page_of) -> None:
    """Each outcome's ethnic-group sentence left out the "Not stated" level with the same note: the
    page says it once (the any-dataset scan flagged it twice on the full default book)."""
    from healthgap.pages.outcomes import NOT_RECORDED_NOTE
    from tests.pages.test_outcomes import text_of

    people = build_people(8000, seed=5).with_columns((pl.int_range(pl.len()) % 9 == 0).alias("cvd_death"))
    page = page_of(OutcomesPage, people)
    note = NOT_RECORDED_NOTE.format(who="people with no ethnic group recorded")
    dim = page.caps.dimension("ethnicity")
    each = [page.sentences(o) for o in page.outcomes]
    assert sum(note in t for t in each) >= 2, "both outcomes' sentences say it"
    assert text_of(page.sections()).count(note) == 1
    assert dim is not None
