"""The slope and relative index of inequality of the recorded-disease page: fitted on the log
scale (rates), checked against a weighted least-squares fit by hand (numpy), and the sentence
states the RII as computed (least / most disadvantaged end) before its reciprocal in words."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.descriptive.prevalence import DEFAULT_DIMENSIONS
from healthgap.pages.recorded_disease import log_gradient, rii_words

IMD = DEFAULT_DIMENSIONS["imd_quintile"]


def _table(values: list[float], populations: list[int], measure: str = "diabetes") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dimension": ["imd_quintile"] * 5,
            "measure": [measure] * 5,
            "level": ["1", "2", "3", "4", "5"],
            "events": [int(v * p / 100) for v, p in zip(values, populations, strict=True)],
            "population": populations,
            "value": values,
            "lower_ci": [v * 0.9 for v in values],
            "upper_ci": [v * 1.1 for v in values],
        }
    )


def test_log_gradient_matches_a_weighted_fit_of_log_rates_by_hand():
    values, pops = [12.0, 10.0, 8.5, 7.0, 5.0], [1200, 1000, 900, 1100, 800]
    got = log_gradient(_table(values, pops), dimension=IMD, seed=1).row(0, named=True)
    w = np.array(pops, float) / sum(pops)
    x = np.cumsum(w) - w / 2  # ridit: midpoint of each fifth's cumulative share, most deprived first
    y = np.log(values)
    xm, ym = (w * x).sum(), (w * y).sum()
    b = (w * (x - xm) * (y - ym)).sum() / (w * (x - xm) ** 2).sum()
    a = ym - b * xm
    assert got["rii"] == pytest.approx(np.exp(b), rel=1e-9)
    assert got["sii"] == pytest.approx(np.exp(a + b) - np.exp(a), rel=1e-9)
    assert got["rii_lower"] < got["rii"] < got["rii_upper"] < 1


def test_log_gradient_leaves_out_a_condition_with_a_withheld_level():
    table = _table([12.0, 10.0, 8.5, 7.0, 5.0], [1200, 1000, 900, 1100, 800]).with_columns(
        pl.when(pl.col("level") == "3").then(None).otherwise(pl.col("events")).alias("events")
    )
    assert log_gradient(table, dimension=IMD, seed=1).is_empty()


def test_rii_words_state_the_rii_then_its_reciprocal():
    text = rii_words(
        {"rii": 0.46, "rii_lower": 0.40, "rii_upper": 0.52},
        most="the most deprived end",
        least="the least deprived end",
    )
    assert text == (
        "an RII of 0.46 (95% CI 0.40 to 0.52): the modelled rate at the least deprived end is 0.46 times that at "
        "the most deprived end, so the most deprived end has 2.2 times (95% CI 1.9 to 2.5) the rate of the least "
        "deprived end"
    )
    above = rii_words({"rii": 1.3, "rii_lower": 1.1, "rii_upper": 1.5}, most="A", least="B")
    assert above == "an RII of 1.30 (95% CI 1.10 to 1.50): the modelled rate at B is 1.30 times that at A"


def _ratios(rr: list[float], lo: list[float | None], hi: list[float | None]) -> pl.DataFrame:
    levels = ["Asian", "Black", "Mixed", "White"]
    return pl.DataFrame(
        {
            "dimension": "ethnicity",
            "measure": "diabetes",
            "level": levels,
            "label": levels,
            "rate_ratio": rr,
            "rr_lower": lo,
            "rr_upper": hi,
            "is_reference": [False, False, False, True],
        }
    )


def test_furthest_ratio_is_widened_for_the_groups_compared():
    from scipy import stats as sps

    from healthgap.pages.sentences import ratio_sentence, with_multiplicity

    frame = _ratios([1.10, 1.06, 0.98, 1.0], [1.01, 0.95, 0.9, None], [1.20, 1.18, 1.07, None])
    plain = ratio_sentence(
        frame,
        dimension="ethnicity",
        measure="diabetes",
        reference="White",
        outcome="to have diabetes recorded",
    )
    assert plain.endswith("(rate ratio 1.10, 95% CI 1.01 to 1.20).")  # clear one at a time
    text = with_multiplicity(plain, frame, dimension="ethnicity", measure="diabetes")
    se = (np.log(1.20) - np.log(1.01)) / (2 * sps.norm.ppf(0.975))
    z3 = sps.norm.isf(0.05 / 3 / 2)  # three groups compared with the reference
    lo, hi = np.exp(np.log(1.10) - z3 * se), np.exp(np.log(1.10) + z3 * se)
    assert lo < 1
    assert text == plain.removesuffix(").") + (
        f"; {lo:.2f} to {hi:.2f} allowing for all 3 comparisons with the reference group); the difference could be due to chance."
    )
    clear = _ratios([1.50, 1.06, 0.98, 1.0], [1.30, 0.95, 0.9, None], [1.73, 1.18, 1.07, None])
    plain = ratio_sentence(
        clear,
        dimension="ethnicity",
        measure="diabetes",
        reference="White",
        outcome="to have diabetes recorded",
    )
    widened = with_multiplicity(plain, clear, dimension="ethnicity", measure="diabetes")
    assert widened.endswith("allowing for all 3 comparisons with the reference group).")
    two = _ratios([1.10, 1.0, 1.0, 1.0], [1.01, None, None, None], [1.20, None, None, None]).filter(
        pl.col("level").is_in(["Asian", "White"])
    )
    plain = ratio_sentence(
        two, dimension="ethnicity", measure="diabetes", reference="White", outcome="to have diabetes recorded"
    )
    assert with_multiplicity(plain, two, dimension="ethnicity", measure="diabetes") == plain  # one comparison
