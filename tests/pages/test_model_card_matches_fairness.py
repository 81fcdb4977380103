"""The model card states the fairness page's numbers and verdicts for the same comparison.

Round 3's reader found the card's gap (11.7 points) differing from the fairness page's for the same
comparison, and, on the other-trust book, a mitigation result where the fairness page said the groups
cannot be compared. Here both pages are built on one small book with a fitted model (8,000 people
whose admissions depend on age, sex and deprivation), and each finding of the card is read against
the fairness page's own paragraph.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from healthgap.pages._fairness_labels import WHOLE_IN_CHAPTER
from healthgap.pages.fairness import SKIP_TRUTH, groups_of
from healthgap.pages.model_card import NO_TRUTH, ModelCardPage
from healthgap.text import lower_first
from tests.conftest import build_people
from tests.pages.conftest import build_page, html_of


@pytest.fixture(scope="module")
def card(tmp_path_factory) -> ModelCardPage:
    people = build_people(8000, seed=3)
    rng = np.random.default_rng(3)
    rate = (
        0.01
        * np.exp(0.06 * (people["age"].to_numpy() - 50))
        * np.where(people["sex"].to_numpy() == "male", 4.0, 1.0)
        * (1 + 0.15 * (10 - people["imd_decile"].to_numpy()))
    )
    people = people.with_columns(cvd_admissions=pl.Series(rng.poisson(np.minimum(rate, 3))))
    return build_page(ModelCardPage, people, tmp_path_factory.mktemp("card"), disclosure={"min_group": 20})


def bullets(card: ModelCardPage) -> list[str]:
    return [b.removeprefix("* ") for b in html_of(card.findings()).split("\n")]


#: A gap as both pages word it: value, the two groups and the simultaneous interval.
GAP = re.compile(
    r"(-?[\d.]+ percentage points) \(higher ((?:in|among) [^;]+); lower ((?:in|among) [^;]+); simultaneous 95% CI "
    r"(-?[\d.]+) to (-?[\d.]+ percentage points)"
)


def test_the_headline_gap_is_the_fairness_pages_for_the_same_pair(card):
    widest = bullets(card)[0]
    chance = html_of(card.fairness.chance_paragraph())
    found = GAP.search(widest)
    assert found, widest  # this book has a gap beyond chance (by sex)
    value, high, low, lower, upper = found.groups()
    # the fairness page: "By sex, the largest gap that chance alone does not explain is 15.3
    # percentage points (simultaneous 95% CI 2.1 to 28.5 percentage points, over the 1 pair
    # compared): higher among women than among men."
    said = f"the largest gap that chance alone does not explain is {value} (simultaneous 95% CI {lower} to {upper}, over the"
    assert said in chance, chance
    assert f"higher {high} than {low}" in chance.split(said)[1].split(". By")[0]


def test_dimensions_the_card_does_not_compare_have_no_gap_on_the_fairness_page(card):
    widest = bullets(card)[0]
    chance = html_of(card.fairness.chance_paragraph())
    among = widest.removeprefix("Among groups by ").split(", the largest gap")[0]
    apart = widest.split("Gaps in the share of outcomes found between ")[1].split(" are not compared")[0]
    for d in card.fairness.dimensions:
        if d.name not in card.card_dimensions:
            continue
        label = lower_first(d.label)
        on_fairness_page = f"By {label}," in chance
        assert on_fairness_page == (label in among), label
        assert on_fairness_page != (groups_of(d.label, d.noun) in apart), label


def test_calibration_label_bias_and_mitigation_are_the_fairness_pages_words(card):
    _, calibration, label, mitigation = bullets(card)
    assert calibration.removesuffix(" See @sec-fairness-calibration.") in html_of(
        card.fairness.calibration_paragraph()
    )
    assert (
        card.fairness.label_bias_skip == SKIP_TRUTH
        and card.fairness.label_bias_text() == ""
        and label == NO_TRUTH
    )  # no truth: the same verdict
    assert (
        mitigation == f"{card.fairness.mitigation_text(whole=WHOLE_IN_CHAPTER)} See @sec-fairness-mitigation."
    )
    assert "cannot be judged" in mitigation


def test_mitigation_gaps_are_differences_of_the_published_rates(card):
    """Round-4 audit: gaps of exact rates to 0.1 point beside rates from rounded counts can be
    solved for the exact counts; the published gap is the difference of the published rates."""
    from types import SimpleNamespace

    from healthgap.disclosure import Published

    f = card.fairness
    exact = pl.DataFrame(
        {
            "strategy": ["none", "equal_opportunity"],
            "strategy_label": ["None", "Equal opportunity"],
            "gap": [30 / 64 - 40 / 73, 28 / 64 - 33 / 73],  # exact: must not be published
            "gap_lower": [-0.21234, -0.23456],
            "gap_upper": [0.05678, 0.04321],
            "change": [0.0, (28 / 64 - 33 / 73) - (30 / 64 - 40 / 73)],
            "change_lower": [0.0, -0.0789],
            "change_upper": [0.0, 0.06543],
        }
    )
    rates = pl.DataFrame(  # as published: from counts rounded to 5
        {
            "strategy": ["none", "none", "equal_opportunity", "equal_opportunity"],
            "group_label": ["A", "B", "A", "B"],
            "tpr": [30 / 65, 40 / 75, 30 / 65, 35 / 75],
        }
    )
    f.__dict__.pop("mitigation_gaps", None)
    f.capacity_mitigation = SimpleNamespace(gap=exact, first="A", last="B")
    f.mitigation_rates = Published(rates, (), f.config.disclosure)
    gaps = f.mitigation_gaps.frame
    f.__dict__.pop("mitigation_gaps", None)
    expected_gap = [round(30 / 65 - 40 / 75, 3), round(30 / 65 - 35 / 75, 3)]
    assert gaps.get_column("gap").to_list() == pytest.approx(expected_gap, abs=1e-12)
    assert gaps.get_column("change").to_list() == pytest.approx(
        [0.0, round((30 / 65 - 35 / 75) - (30 / 65 - 40 / 75), 3)], abs=1e-12
    )
    assert gaps.get_column("gap_lower").to_list() == [-0.21, -0.23]
    assert gaps.get_column("change_upper").to_list() == [0.0, 0.07]
