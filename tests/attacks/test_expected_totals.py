"""Attack: the expected counts of internal indirect standardisation add up to an exact total.

With the whole population as the reference, the groups' expected counts sum to the observed
total exactly, so a published table of expected counts (observed / expected downloads, the
geography funnels) gave away exact totals, and with them the sum of the suppressed cells (the
round-3 disclosure audit: hypertension 37,389, CVD admission events 2,578). The reference
stratum events are now randomly rounded to 5 (``stats.protected_rate``): every sum of expected counts is a sum of counts
randomly rounded to 5, a multiple of 5 that tells no more than a rounded count (it equals the
exact total only as often as random rounding happens to land there).
"""

from __future__ import annotations

import polars as pl
import pytest

from healthgap import data
from healthgap.descriptive.access import observed_expected
from healthgap.descriptive.geography import area_isr


@pytest.fixture(scope="module")
def people(default_config) -> pl.DataFrame:
    return data.load(default_config).collect()


def _sums(people: pl.DataFrame, config) -> dict[str, tuple[float, int]]:
    out = observed_expected(people, config, conditions=["hypertension", "af"], dimensions=["imd_quintile"])
    sums = out.group_by("measure").agg(pl.col("expected").sum(), pl.col("observed").sum())
    return {r["measure"]: (r["expected"], r["observed"]) for r in sums.iter_rows(named=True)}


def test_observed_expected_sums_are_not_the_exact_totals(people, default_config, monkeypatch) -> None:
    monkeypatch.setattr("healthgap.stats.indirect.REFERENCE_ROUNDING", 1)
    for expected, observed in _sums(people, default_config).values():  # the old, exact reference
        assert expected == pytest.approx(observed, abs=1e-6)  # the attack: an exact total
    monkeypatch.setattr("healthgap.stats.indirect.REFERENCE_ROUNDING", 5)
    sums = _sums(people, default_config)
    assert all(_multiple_of_5(e) for e, _ in sums.values()), sums
    assert not all(e == pytest.approx(o, abs=1e-6) for e, o in sums.values()), sums


def _multiple_of_5(x: float) -> bool:
    return abs(x / 5 - round(x / 5)) < 1e-6


@pytest.mark.parametrize("measure", ["hypertension", "cvd_admissions"])
def test_funnel_expected_sums_are_not_the_exact_total(people, measure, monkeypatch) -> None:
    monkeypatch.setattr("healthgap.stats.indirect.REFERENCE_ROUNDING", 1)
    exact, _ = area_isr(people, measure=measure, area="gp_practice")
    assert exact["expected"].sum() == pytest.approx(exact["events"].sum(), abs=1e-6)
    monkeypatch.setattr("healthgap.stats.indirect.REFERENCE_ROUNDING", 5)
    protected, _ = area_isr(people, measure=measure, area="gp_practice")
    assert _multiple_of_5(protected["expected"].sum())
    # unbiased: the total moves by the rounding of the strata only (19 age bands x 2 sexes, each
    # by less than 5)
    assert abs(protected["expected"].sum() - protected["events"].sum()) < 5 * 38
