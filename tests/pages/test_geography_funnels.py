"""The geography page's funnel plots of observed / expected (indirect standardisation by age
band and sex), with limits widened for events that repeat for one person: the expected events,
the dispersion and the flags recomputed here by hand (numpy, scipy), and every sentence
checked against the numbers it states."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from healthgap.descriptive.geography import area_isr, isr_statistics
from healthgap.pages.geography import GeographyPage, dispersion_sentence, isr_sentence
from healthgap.stats import age_bands
from tests.conftest import build_people
from tests.pages.conftest import html_of


@pytest.fixture
def page(page_of) -> GeographyPage:
    return page_of(GeographyPage, build_people(2000, seed=4))


def _expected_by_hand(people: pl.DataFrame, measure: str, unit: str) -> dict[str, float]:
    """E_u = Σ_s n_us O_s / N_s, with numpy over (age band, sex) strata."""
    df = people.filter(pl.col(unit).is_not_null() & pl.col(measure).is_not_null()).with_columns(
        age_bands("age").cast(pl.String).alias("band")
    )
    stratum = (df["band"] + "|" + df["sex"].cast(pl.String)).to_numpy()
    events = df[measure].cast(pl.Float64).to_numpy()
    units = df[unit].to_numpy()
    _keys, idx = np.unique(stratum, return_inverse=True)
    rate = np.bincount(idx, weights=events) / np.bincount(idx)
    person_expected = rate[idx]
    return {u: float(person_expected[units == u].sum()) for u in np.unique(units)}


def _flag_by_hand(o: float, e: float, d: float, conf: float = 0.998) -> str:
    od, ed = o / d, e / d
    a = 1 - conf
    if od < 10:
        lo = 0.0 if od == 0 else sps.chi2.ppf(a / 2, 2 * od) / 2
        hi = sps.chi2.ppf(1 - a / 2, 2 * od + 2) / 2
    else:
        z = sps.norm.ppf(1 - a / 2)
        lo = od * (1 - 1 / (9 * od) - z / (3 * np.sqrt(od))) ** 3
        hi = (od + 1) * (1 - 1 / (9 * (od + 1)) + z / (3 * np.sqrt(od + 1))) ** 3
    return "above" if lo > ed else "below" if hi < ed else "within"


@pytest.mark.parametrize("measure", ["hypertension", "cvd_admissions"])
def test_expected_events_and_dispersion_by_hand(measure, exact_reference):
    people = build_people(2000, seed=4)
    exact, d = area_isr(people, measure=measure, area="gp_practice")
    by_hand = _expected_by_hand(people, measure, "gp_practice")
    got = dict(zip(exact["gp_practice"], exact["expected"], strict=True))
    assert got == pytest.approx(by_hand, rel=1e-9)
    assert exact["expected"].sum() == pytest.approx(exact["events"].sum())  # internal standardisation
    k = people[measure].drop_nulls().cast(pl.Float64).to_numpy()
    assert d == round((k**2).sum() / k.sum(), 2)  # published to 2 decimals (gives no exact total)
    if measure == "hypertension":
        assert d == 1.0


def test_points_come_from_published_counts_and_flags_match_scipy(page):
    f = page.isr_funnel("outcome")
    assert f is not None and f.measure == "cvd_admissions" and f.is_count and f.dispersion > 1
    frame = f.points.frame
    assert frame["events"].to_list() == [5 * round(x / 5) for x in frame["events"].to_list()]
    for row in frame.iter_rows(named=True):
        assert row["value"] == pytest.approx(row["events"] / row["expected"])
        assert row["flag_99_8"] == _flag_by_hand(row["events"], row["expected"], f.dispersion)


def test_isr_statistics_widen_with_dispersion():
    counts = pl.DataFrame(
        {"gp_practice": ["a", "b"], "events": [30, 80], "population": [1000, 2000], "expected": [60.0, 60.0]}
    )
    plain = isr_statistics(counts)
    wide = isr_statistics(counts, dispersion=2.0)
    assert plain["flag_99_8"].to_list() == ["below", "within"]
    assert wide["flag_99_8"].to_list() == [_flag_by_hand(30, 60, 2.0), _flag_by_hand(80, 60, 2.0)]
    assert (wide["upper_ci"] > plain["upper_ci"]).all()


def _points(values: list[float | None], flags: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"value": values, "flag_99_8": flags}, schema={"value": pl.Float64, "flag_99_8": pl.String}
    )


def test_isr_sentence_counts_and_chance():
    within = isr_sentence(
        _points([1.0] * 40, ["within"] * 40), name="recorded hypertension", plural="GP practices"
    )
    assert within == (
        "All 40 GP practices shown are within the 99.8% limits for recorded hypertension: none has more or less "
        "than its age and sex mix would give beyond what chance explains (chance alone would put about 1 in 500 "
        "outside them, 0.1 of these 40)."
    )
    flags = ["above", "above", "below", *(["within"] * 96), None]
    text = isr_sentence(_points([1.0] * 99 + [None], flags), name="admissions", plural="GP practices")
    # 3 or more of 99 outside by chance alone: binomial(99, 0.002), by hand
    p3 = 1 - sum(math.comb(99, k) * 0.002**k * 0.998 ** (99 - k) for k in range(3))
    assert f"{100 * p3:.1f}%" == "0.1%"
    assert text == (
        "Of the 99 GP practices shown (for 1 more the counts are too small to publish), 2 are above the 99.8% "
        "limits for admissions (more than their age and sex mix would give) and 1 is below (less); chance alone "
        "would put about 1 in 500 outside them, 0.2 of these 99, so more lie outside than chance alone would readily give (a "
        "chance of 0.1% that 3 or more would): at least some of them differ."
    )
    one = isr_sentence(_points([1.0] * 10, ["above", *(["within"] * 9)]), name="x", plural="areas")
    assert "1 is above" in one and "none is below" in one
    assert one.endswith(
        "so it is unlikely to be outside by chance alone (a chance of 2.0% that one or more would be)."
    )
    one_of_96 = isr_sentence(_points([1.0] * 96, ["below", *(["within"] * 95)]), name="x", plural="areas")
    assert one_of_96.endswith("so this one could be outside by chance.")  # 17.5% chance of one or more
    # two of 500 outside is what chance alone gives (about 1.0 expected; 26% chance of 2 or more)
    many = isr_sentence(
        _points([1.0] * 500, ["above", "below", *(["within"] * 498)]), name="x", plural="areas"
    )
    assert many.endswith(
        "chance alone would put about 1 in 500 outside them, 1.0 of these 500, so these could be outside by chance."
    )
    assert isr_sentence(_points([None], [None]), name="x", plural="areas").startswith("None of the areas")
    # one wording whatever the number of areas (not "about 0.0 of 21"; reader, round 4)
    few = isr_sentence(_points([1.0] * 21, ["within"] * 21), name="x", plural="areas")
    assert (
        "(chance alone would put about 1 in 500 outside them, 0.04 of these 21)." in few
        and "0.0 of" not in few
    )


def test_dispersion_sentence_states_d_and_its_root():
    assert dispersion_sentence(1.0, noun="deaths") == (
        "No one has more than one of the deaths, so they are independent events."
    )
    text = dispersion_sentence(1.44, noun="CVD emergency admissions")
    assert text.startswith("CVD emergency admissions can repeat for one person")
    assert "1.44 times as much, in variance" in text and "about 1.20 times as wide" in text


def test_page_sentences_state_the_published_numbers(page):
    for which in ("condition", "outcome"):
        f = page.isr_funnel(which)
        assert f is not None
        frame = f.points.frame.filter(pl.col("value").is_not_null())
        text = page.isr_text(which)
        n = frame.height
        above = frame.filter(pl.col("flag_99_8") == "above").height
        below = frame.filter(pl.col("flag_99_8") == "below").height
        chance = f"about {0.002 * n:.1f} of {n}" if 0.002 * n >= 0.05 else "about 1 in 500"
        assert chance in text
        if above or below:
            assert f", {above} {'is' if above == 1 else 'are'} above" in text and f"and {below} below" in text
        if which == "outcome":
            assert f"{f.dispersion:.2f} times as much, in variance" in text
        assert html_of(page.isr_paragraph(which)) == text
        assert "observed / expected" in html_of(page.isr_figure(which))


def test_funnels_skipped_with_one_reason(page_of):
    people = build_people(300).drop("gp_practice", "lsoa", "locality")
    from tests.pages.test_geography import _no_locality

    page = page_of(GeographyPage, people, equity=_no_locality())
    assert page.isr_funnel("condition") is None and page.isr_figure("outcome") is None
    assert "GP practice or small-area column" in html_of(page.isr_intro())
    assert page.isr_paragraph("condition") is None


@pytest.mark.parametrize("which", ["condition", "outcome"])
def test_control_limits_are_published_at_each_areas_published_expected_events(page, which):
    """Every limit the funnel plots is a number of its table and download: the limits at each
    area's expected events as published, which is all the chart draws them from."""
    from healthgap.descriptive.geography import ISR_LIMITS

    f = page.isr_funnel(which)
    assert f is not None
    frame = f.points.frame
    assert set(ISR_LIMITS) <= set(frame.columns)
    shown = frame.filter(pl.col("expected").is_not_null())
    assert shown.height and shown.select(pl.col(*ISR_LIMITS[1:]).is_not_null().all()).row(0) == (True,) * 4
    # the chart's limit lines are rows of the published frame, nothing else
    plotted = set(f.limits.select(*ISR_LIMITS).rows())
    assert plotted == set(shown.select(*ISR_LIMITS).rows())
    # the limits narrow as the expected events grow, 99.8% outside 95%, around 1
    by_e = shown.sort("expected")
    assert (by_e["upper_998"] >= by_e["upper_95"]).all() and (by_e["upper_95"] > 1).all()
    assert (by_e["lower_998"] <= by_e["lower_95"]).all() and (by_e["lower_95"] < 1).all()
    assert by_e["upper_998"].diff().drop_nulls().le(1e-12).all()
    # against scipy: the 99.8% limits on the count scale (effective events E / D) lie within one
    # count of the Poisson quantiles of the expected events
    d = f.dispersion
    e = by_e["expected"].to_numpy() / d
    lo = by_e["lower_998"].to_numpy() * e
    hi = by_e["upper_998"].to_numpy() * e
    assert np.all(np.abs(hi - sps.poisson.ppf(0.999, e)) <= 1.0)
    assert np.all(np.abs(lo - sps.poisson.ppf(0.001, e)) <= 1.0)


def test_limits_depend_only_on_the_expected_events_and_go_with_them():
    from healthgap.pages.geography import ISR_DERIVED

    counts = pl.DataFrame(
        {"gp_practice": ["a", "b"], "events": [30, 80], "population": [1000, 2000], "expected": [60.0, 60.0]}
    )
    a, b = isr_statistics(counts).select("lower_95", "upper_95", "lower_998", "upper_998").rows()
    assert a == b  # the same expected events, the same limits
    # withheld with the population they derive from (through the expected events)
    assert {"lower_95", "upper_95", "lower_998", "upper_998"} <= set(ISR_DERIVED["population"])
