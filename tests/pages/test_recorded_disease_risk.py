"""Risk factors by group on the recorded-disease page: age-standardised means checked by hand
(numpy, ESP2013 weights), shares from the adults' counts, and every sentence against the numbers
it states (the two ends of deprivation; the highest and lowest group with simultaneous intervals)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.descriptive.prevalence import DEFAULT_DIMENSIONS
from healthgap.descriptive.risk_factors import risk_factor_shares, risk_factors, standardised_means
from healthgap.pages._risk_factors import ends_sentence, spread_sentence
from healthgap.pages.recorded_disease import RecordedDiseasePage
from healthgap.stats import ESP2013, age_bands
from tests.conftest import build_people
from tests.pages.conftest import html_of

IMD = DEFAULT_DIMENSIONS["imd_quintile"]
ETHNICITY = DEFAULT_DIMENSIONS["ethnicity"]


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    return build_people(3000, seed=11)


@pytest.fixture
def page(page_of, people) -> RecordedDiseasePage:
    return page_of(RecordedDiseasePage, people)


def test_standardised_mean_by_hand(page, people):
    got = standardised_means(people, page.config, measure="bmi", dimensions=["sex", "imd_quintile"])
    adults = people.filter((pl.col("age") >= 18) & pl.col("bmi").is_not_null()).with_columns(
        age_bands("age").cast(pl.String).alias("band")
    )
    bands = sorted(set(adults["band"]))
    w = dict(zip(ESP2013["age_band"].cast(pl.String), ESP2013["standard_population"], strict=True))
    compared = 0
    for row in got.iter_rows(named=True):
        g = adults.filter(pl.col(row["dimension"]).cast(pl.String) == row["level"])
        means, ses, weights = [], [], []
        for b in bands:
            x = g.filter(pl.col("band") == b)["bmi"].to_numpy()
            if len(x) < 2:
                means = None
                break
            means.append(x.mean())
            ses.append(x.var(ddof=1) / len(x))
            weights.append(w[b])
        assert row["population"] == g.height
        if means is None:
            assert row["value"] is None and row["note"]
            continue
        wt = np.array(weights)
        value = (wt * means).sum() / wt.sum()
        se = np.sqrt((wt**2 * np.array(ses)).sum()) / wt.sum()
        assert row["value"] == pytest.approx(value, rel=1e-9)
        assert row["upper_ci"] - row["value"] == pytest.approx(1.959964 * se, rel=1e-5)
        compared += 1
    assert compared >= 2


def test_shares_count_adults_with_the_last_code(page, people):
    factors = risk_factors(page.config, people.columns)
    assert [(f.name, f.kind, f.code) for f in factors][:2] == [
        ("smoking", "share", "current"),
        ("bmi", "mean", None),
    ]
    shares = risk_factor_shares(people, page.config, factors=factors, dimensions=["sex"])
    adults = people.filter((pl.col("age") >= 18) & pl.col("smoking").is_not_null())
    for row in shares.iter_rows(named=True):
        g = adults.filter(pl.col("sex") == row["level"])
        assert row["population"] == g.height
        assert row["events"] == (g["smoking"] == "current").sum()


def _frame(values, lower, upper, levels, dimension="imd_quintile", **extra):
    return pl.DataFrame(
        {
            "dimension": dimension,
            "level": levels,
            "label": levels,
            "value": values,
            "lower_ci": lower,
            "upper_ci": upper,
            **extra,
        }
    )


def test_ends_sentence_shares_and_means():
    shares = _frame(
        [20.35, 15.0, 9.2],
        [19.8, 14.0, 8.9],
        [20.9, 16.0, 9.5],
        ["1", "3", "5"],
        rate_ratio=[2.21, 1.6, 1.0],
        rr_lower=[2.11, 1.5, None],
        rr_upper=[2.32, 1.7, None],
        is_reference=[False, False, True],
    )
    assert ends_sentence(shares, IMD, what="age-standardised current smoking among adults", mean=False) == (
        "Age-standardised current smoking among adults is 20.4% (95% CI 19.8 to 20.9) in the most deprived fifth "
        "against 9.2% (95% CI 8.9 to 9.5) in the least deprived fifth: a rate ratio of 2.21 (95% CI 2.11 to 2.32)."
    )
    means = _frame([28.7, 26.9], [28.6, 26.8], [28.8, 27.0], ["1", "5"])
    text = ends_sentence(means, IMD, what="mean BMI among adults", mean=True, unit="kg/m²")
    se = np.sqrt(0.2**2 + 0.2**2) / (2 * 1.959964)
    assert text == (
        "Mean BMI among adults is 28.7 kg/m² (95% CI 28.6 to 28.8) in the most deprived fifth against 26.9 kg/m² "
        f"(95% CI 26.8 to 27.0) in the least deprived fifth: 1.8 kg/m² higher at the more disadvantaged end (95% CI "
        f"of the difference {1.8 - 1.959964 * se:.1f} to {1.8 + 1.959964 * se:.1f})."
    )
    chol = _frame([4.80, 4.85], [4.70, 4.75], [4.90, 4.95], ["1", "5"])
    text = ends_sentence(chol, IMD, what="mean cholesterol", mean=True, unit="mmol/L")
    assert "4.80 mmol/L" in text and "0.05 mmol/L lower" in text and text.endswith("could be due to chance.")


def test_spread_sentence_uses_simultaneous_intervals():
    levels = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]
    # Black clearly highest; White and Mixed level at the bottom
    frame = _frame(
        [30.0, 40.0, 20.2, 20.0, 25.0, 26.0],
        [29.0, 39.0, 19.2, 19.8, 24.0, 25.0],
        [31.0, 41.0, 21.2, 20.2, 26.0, 27.0],
        levels,
        dimension="ethnicity",
    )
    text = spread_sentence(frame, ETHNICITY, what="current smoking", mean=False)
    assert text == (
        "By ethnic group, current smoking is highest in the Black group (40.0%) and lowest in the White group "
        "(20.0%). With 95% intervals for current smoking that hold for all 6 groups together, the Black group differs from every other "
        "group and the White group could be level with the Mixed group (the lowest could be chance)."
    )
    # one at a time, White and Mixed would look different at 95% only if the gap exceeded 1.96 x se
    two = _frame([14.9, 12.7], [14.0, 11.9], [15.8, 13.5], ["male", "female"], dimension="sex")
    sex = DEFAULT_DIMENSIONS["sex"]
    assert (
        spread_sentence(two, sex, what="smoking", mean=False)
        == "By sex, smoking is 14.9% in men and 12.7% in women."
    )
    close = _frame([14.0, 13.5], [13.0, 12.5], [15.0, 14.5], ["male", "female"], dimension="sex")
    assert spread_sentence(close, sex, what="smoking", mean=False).endswith(
        "the difference could be due to chance."
    )


def test_page_sentences_state_the_published_numbers(page):
    shares = page.risk_shares.frame
    imd = shares.filter((pl.col("measure") == "smoking") & (pl.col("dimension") == "imd_quintile"))
    q1 = imd.filter(pl.col("level") == "1").row(0, named=True)
    q5 = imd.filter(pl.col("level") == "5").row(0, named=True)
    first = page.risk_sentences()[0]
    assert first.startswith(
        f"Age-standardised current smoking among adults is {q1['value']:.1f}% (95% CI {q1['lower_ci']:.1f} to "
        f"{q1['upper_ci']:.1f}) in the most deprived fifth against {q5['value']:.1f}%"
    )
    if q1["rr_lower"] is not None:
        assert f"a rate ratio of {q1['rate_ratio']:.2f}" in first
    means = page.risk_means.frame.filter((pl.col("measure") == "bmi") & (pl.col("dimension") == "sex"))
    f, m = (means.filter(pl.col("level") == s).row(0, named=True) for s in ("female", "male"))
    bmi_sex = next(s for s in page.risk_sentences() if s.startswith("By sex, age-standardised mean BMI"))
    assert f"{f['value']:.1f} kg/m² in women" in bmi_sex and f"{m['value']:.1f} kg/m² in men" in bmi_sex
    assert "@tbl-risk-shares" in html_of(page.risk_intro())
    assert 'id="risk-shares"' in html_of(page.risk_table("shares"))
    assert 'id="risk-means"' in html_of(page.risk_table("means"))
    assert (page.book.downloads / "recorded-disease" / "risk-means.csv").is_file()


def test_one_skip_note_without_risk_factors(page_of, people):
    bare = page_of(RecordedDiseasePage, people.drop("smoking", "bmi", "systolic_bp", "cholesterol"))
    assert bare.risk_factors == []
    note = html_of(bare.risk_intro())
    assert "hg-skip" in note and "risk factor columns" in note
    assert bare.risk_text() is None and bare.risk_table("shares") is None and bare.risk_table("means") is None


def test_intro_names_the_risk_factors_and_tables(page, page_of, people):
    assert html_of(page.risk_intro()) == (
        "The data record these risk factors for cardiovascular disease: current smoking, BMI, systolic blood "
        "pressure and total cholesterol. @tbl-risk-shares and @tbl-risk-means show them among adults (18 and over) "
        "in every group: shares of people as age-standardised percentages and measurements as age-standardised "
        "means, each with its 95% confidence interval (by age band: crude). Where a sentence names the highest and "
        "lowest of several groups, it uses intervals that hold for all the groups together."
    )
    smoking_only = page_of(RecordedDiseasePage, people.drop("bmi", "systolic_bp", "cholesterol"))
    text = html_of(smoking_only.risk_intro())
    assert "current smoking. @tbl-risk-shares shows them" in text and "@tbl-risk-means" not in text


def test_first_adult_band_reads_18_19(page):
    means = page.risk_means.frame.filter((pl.col("dimension") == "age_band") & (pl.col("level") == "15-19"))
    shares = page.risk_shares.frame.filter((pl.col("dimension") == "age_band") & (pl.col("level") == "15-19"))
    assert set(means["label"]) | set(shares["label"]) == {"18-19"}
    assert not any("aged 15-19" in s for s in page.risk_sentences())
