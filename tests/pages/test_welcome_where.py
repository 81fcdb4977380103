"""The welcome page's treatment headline is the standardised comparison "Where to act" makes, and
the two pages (and Outcomes) give one number for one thing (issue 15, round 4)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.descriptive.headlines import Finding
from healthgap.pages.outcomes import OutcomesPage
from healthgap.pages.welcome import (
    CRUDE_TREATMENT,
    NO_AGE_TO_STANDARDISE,
    WelcomePage,
    headlines,
    standardised_treatment,
    treatment_gap_text,
)
from healthgap.pages.where_to_act import WhereToActPage
from tests.conftest import build_people


def _age_artefact(n: int = 20000) -> pl.DataFrame:
    """Everyone eligible for a statin (CHD); treated 90% from 60, 50% below, whatever their
    deprivation; the most deprived deciles are mostly young, the least deprived mostly old: a
    large crude gap that is age alone."""
    people = build_people(n, seed=11)
    rng = np.random.default_rng(12)
    age = people.get_column("age").to_numpy()
    old = age >= 60
    decile = np.where(
        old,
        rng.choice([1, 2, 9, 10], n, p=[0.1, 0.1, 0.4, 0.4]),
        rng.choice([1, 2, 9, 10], n, p=[0.4, 0.4, 0.1, 0.1]),
    )
    statin = rng.random(n) < np.where(old, 0.9, 0.5)
    return people.with_columns(
        pl.Series("imd_decile", decile, dtype=pl.Int64),
        pl.lit(True).alias("chd"),
        pl.Series("statin", statin),
    )


@pytest.fixture(scope="module")
def artefact(tmp_path_factory):
    from tests.pages.conftest import build_page

    folder = tmp_path_factory.mktemp("artefact")
    people = _age_artefact()
    return {
        cls.slug: build_page(cls, people, folder / cls.slug)
        for cls in (WelcomePage, WhereToActPage, OutcomesPage)
    }


def _crude(people: pl.DataFrame) -> float:
    shares = (
        people.with_columns(((pl.col("imd_decile") + 1) // 2).alias("q"))
        .group_by("q")
        .agg(pl.col("statin").mean())
        .sort("q")
    )
    return 100 * (shares.item(-1, "statin") - shares.item(0, "statin"))


def test_a_crude_treatment_gap_that_is_age_is_no_headline(artefact) -> None:
    welcome = artefact["index"]
    assert _crude(welcome.book.frame) > 10  # the crude gap: most deprived 60%, least 80%
    t = welcome.headlines.treatment_gap
    v = t.values
    assert v["standardised"] and t.available
    assert abs(v["gap"]) < 3 and v["gap_lower"] < 0 < v["gap_upper"]
    assert "expected at the rates of the least deprived fifth for each age band and sex" in t.text
    assert t.text.count("could be due to chance") == 1
    # the page and the function without a page say the same
    assert headlines(welcome.book.frame, welcome.config).treatment_gap.text == t.text


def test_welcome_gives_where_to_acts_numbers(artefact) -> None:
    """Rates, gap and number of people are those of the row "Where to act" publishes."""
    welcome, where = artefact["index"], artefact["where-to-act"]
    row = where.gaps.frame.filter(
        (pl.col("measure") == "statin") & (pl.col("dimension") == "imd_quintile") & (pl.col("level") == "1")
    ).row(0, named=True)
    v = welcome.headlines.treatment_gap.values
    assert v["most"] == pytest.approx(row["rate"])
    assert v["least"] == pytest.approx(row["reference_rate"])
    assert v["people"] == pytest.approx(-row["excess"])
    assert (v["people_lower"], v["people_upper"]) == pytest.approx(
        (-row["excess_upper"], -row["excess_lower"])
    )
    assert (v["gap_lower"], v["gap_upper"]) == pytest.approx((-row["upper_ci"], -row["lower_ci"]))
    assert f"{row['rate']:.1f}% in the most deprived fifth" in welcome.headlines.treatment_gap.text


def test_without_gaps_the_crude_finding_says_why() -> None:
    from tests.pages.test_welcome import STATIN

    f = Finding(
        "treatment_gap", {"indicator": STATIN, "most": 60.0, "least": 80.0, "gap": 20.0, "absent": ()}
    )
    crude = standardised_treatment(f, None, why=NO_AGE_TO_STANDARDISE)
    assert f"({CRUDE_TREATMENT.format(why=NO_AGE_TO_STANDARDISE)})" in treatment_gap_text(crude)
    assert standardised_treatment(f, None) is f


def test_one_number_for_one_gap_on_every_page(artefact) -> None:
    """Outcomes, "Where to act" and the welcome page publish the same excess for the same gap."""
    welcome, where, outcomes = artefact["index"], artefact["where-to-act"], artefact["outcomes"]
    assert outcomes.excess is not None
    key = ["measure", "dimension", "level"]
    numbers = ["expected", "excess", "excess_lower", "excess_upper"]
    theirs = outcomes.excess.frame.select(*key, *numbers)
    ours = where.gaps.frame.select(*key, *numbers)
    both = theirs.join(ours, on=key, suffix="_where")
    assert both.height == theirs.height > 4
    for c in numbers:
        assert both.get_column(c).to_list() == both.get_column(f"{c}_where").to_list(), c
    v = welcome.headlines.outcome_ratio.values
    row = ours.filter(
        (pl.col("measure") == v["outcome"])
        & (pl.col("dimension") == "imd_quintile")
        & (pl.col("level") == "1")
    ).row(0, named=True)
    assert (v["excess"], v["excess_lower"], v["excess_upper"]) == pytest.approx(
        (row["excess"], row["excess_lower"], row["excess_upper"])
    )


def test_an_outcome_headline_on_too_few_expected_is_not_a_finding() -> None:
    from healthgap.descriptive.headlines import TOO_FEW
    from healthgap.descriptive.priorities import MIN_EXPECTED
    from healthgap.pages.welcome import enough_expected_outcome

    f = Finding("outcome_ratio", {"outcome": "cvd_admissions", "ratio": 6.5, "lower": 3.8, "upper": 11.2})
    few = pl.DataFrame({"expected": [0.0]})
    out = enough_expected_outcome(f, few)
    assert not out.available and out.reason == TOO_FEW
    assert enough_expected_outcome(f, pl.DataFrame({"expected": [MIN_EXPECTED]})) is f
    assert enough_expected_outcome(f, None) is f
