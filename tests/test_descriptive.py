"""healthgap.descriptive: each analysis against an independent calculation, and the synthetic truth."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import build_people

from healthgap.config import DEFAULT_DIMENSIONS, Config, DataSource, DisclosureSettings, read_profile
from healthgap.contract import CONDITIONS, OUTCOMES
from healthgap.descriptive import (
    area_rates,
    completeness,
    composition,
    detection,
    gradient,
    intersection,
    missed,
    not_stated,
    observed_expected,
    outcome_rates,
    prevalence,
    pyramid,
    rates,
    summary,
    treatment,
    waits,
)
from healthgap.descriptive.access import indicators, recompute_shares
from healthgap.descriptive.population import completeness_shares, not_stated_shares, pyramid_shares
from healthgap.descriptive.prevalence import recompute_rates
from healthgap.disclosure import publish, published_counts
from healthgap.pages.sentences import extremes, gap_sentence, group_name, ratio_phrase
from healthgap.pages.welcome import headlines

#: ESP2013 weights, typed in from Eurostat (2013) table 3 (independent of healthgap.stats).
ESP = [
    5000,
    5500,
    5500,
    5500,
    6000,
    6000,
    6500,
    7000,
    7000,
    7000,
    7000,
    6500,
    6000,
    5500,
    5000,
    4000,
    2500,
    1500,
    1000,
]
BANDS = [f"{a}-{a + 4}" for a in range(0, 90, 5)] + ["90+"]


def _band(age: np.ndarray) -> np.ndarray:
    return np.minimum(age // 5, 18)


#: Disclosure settings that leave counts exact, so that the statistics can be checked against
#: hand calculations; :func:`test_simple_statistics_come_from_the_published_counts` checks the
#: default settings (counts rounded to 5 before simple statistics).
EXACT = DisclosureSettings(rounding=1)


def tiny_config(disclosure: DisclosureSettings = EXACT) -> Config:
    return Config(
        path=Path("tiny.yml").resolve(),
        data=DataSource(path=Path("tiny.parquet").resolve(), format="parquet", columns={}, codes={}),
        dimensions=tuple(DEFAULT_DIMENSIONS.values()),
        conditions=CONDITIONS,
        outcomes=OUTCOMES,
        disclosure=disclosure,
        indicators=read_profile("cvd").indicators,
    )


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    df = build_people(3000, seed=5)
    return df.with_columns(((pl.col("imd_decile") + 1) // 2).alias("imd_quintile"))


@pytest.fixture(scope="module")
def cfg() -> Config:
    return tiny_config()


# -- population ---------------------------------------------------------------------------------


def test_pyramid_counts_every_band_and_sex(people):
    out = pyramid(people)
    assert out.height == 19 * 2
    ages, sexes = people["age"].to_numpy(), people["sex"].to_numpy()
    for band in (0, 7, 18):
        for sex in ("female", "male"):
            expected = int(((_band(ages) == band) & (sexes == sex)).sum())
            got = out.filter((pl.col("age_band") == BANDS[band]) & (pl.col("sex") == sex))["people"].item()
            assert got == expected
    assert out["people"].sum() == people.height
    assert out["share"].sum() == pytest.approx(100)


def test_composition_counts_shares_and_reference(people, cfg):
    out = composition(people, cfg)
    q = out.filter(pl.col("dimension") == "imd_quintile").sort("order")
    expected = [int((people["imd_quintile"] == k).sum()) for k in range(1, 6)]
    assert q["people"].to_list() == expected
    assert q["share"].to_list() == pytest.approx([100 * e / people.height for e in expected])
    assert q.filter(pl.col("is_reference"))["level"].to_list() == ["5"]
    assert q["label"][0] == "1 (most deprived)"
    loc = out.filter(pl.col("dimension") == "locality")
    largest = people["locality"].value_counts(sort=True)["locality"][0]
    assert loc.filter(pl.col("is_reference"))["level"].item() == largest


def test_completeness_counts_nulls_and_not_stated(people):
    out = completeness(people)
    eth = out.filter(pl.col("column") == "ethnicity").row(0, named=True)
    assert eth["missing"] == int((people["ethnicity"] == "Not stated").sum())
    days = out.filter(pl.col("column") == "days_to_first_outpatient").row(0, named=True)
    assert days["missing"] == people["days_to_first_outpatient"].null_count()
    assert days["complete"] == pytest.approx(100 * days["recorded"] / people.height)
    assert "person_id" not in out["column"].to_list()


def _wilson(x: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    p = x / n
    centre = (2 * x + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(z * z + 4 * x * (1 - p)) / (2 * (n + z * z))
    return 100 * (centre - half), 100 * (centre + half)


def test_not_stated_share_and_wilson_interval(people, cfg):
    out = not_stated(people, cfg, dimensions=("imd_quintile",))
    row = out.filter(pl.col("level") == "1").row(0, named=True)
    sub = people.filter(pl.col("imd_quintile") == 1)
    x, n = int((sub["ethnicity"] == "Not stated").sum()), sub.height
    assert (row["not_stated"], row["people"]) == (x, n)
    assert row["value"] == pytest.approx(100 * x / n)
    lo, hi = _wilson(x, n)
    assert row["lower_ci"] == pytest.approx(lo, rel=1e-6)
    assert row["upper_ci"] == pytest.approx(hi, rel=1e-6)


def test_summary(people):
    s = summary(people)
    assert s["people"] == people.height
    assert s["median_age"] == pytest.approx(float(np.median(people["age"].to_numpy())))
    assert s["practices"] == people["gp_practice"].n_unique()


# -- prevalence ---------------------------------------------------------------------------------


def _dsr(df: pl.DataFrame, events: str) -> float:
    band = _band(df["age"].to_numpy())
    ev = df[events].cast(pl.Int64).to_numpy()
    total = 0.0
    for b in range(19):
        n = (band == b).sum()
        if n:
            total += ESP[b] * ev[band == b].sum() / n
    return 100 * total / sum(ESP)


def test_rates_crude_dsr_and_rate_ratio_match_hand_calculation(people, cfg):
    out = rates(people, cfg, measures=["hypertension"], dimensions=["imd_quintile"])
    assert out.height == 5
    for q in ("1", "5"):
        sub = people.filter(pl.col("imd_quintile") == int(q))
        row = out.filter(pl.col("level") == q).row(0, named=True)
        assert row["events"] == int(sub["hypertension"].sum())
        assert row["population"] == sub.height
        assert row["crude"] == pytest.approx(100 * sub["hypertension"].mean())
        assert row["value"] == pytest.approx(_dsr(sub, "hypertension"), rel=1e-9)
        assert row["lower_ci"] < row["value"] < row["upper_ci"]
    r1 = out.filter(pl.col("level") == "1").row(0, named=True)
    r5 = out.filter(pl.col("level") == "5").row(0, named=True)
    assert r1["rate_ratio"] == pytest.approx(r1["value"] / r5["value"])
    assert r5["rate_ratio"] == 1.0 and r5["is_reference"]


def test_rates_age_band_is_crude_and_counts_sum(people, cfg):
    out = rates(
        people, cfg, measures={"adm": pl.col("cvd_admissions")}, dimensions=["age_band"], multiplier=1000
    )
    assert not out["standardised"].any()
    assert out["events"].sum() == people["cvd_admissions"].sum()
    assert out["value"].drop_nulls().to_list() == pytest.approx(out["crude"].drop_nulls().to_list())


def test_prevalence_long_over_conditions_and_dimensions(people, cfg):
    out = prevalence(people, cfg, conditions=["chd", "diabetes"])
    assert set(out["measure"]) == {"chd", "diabetes"}
    assert set(out["dimension"]) == {"imd_quintile", "ethnicity", "sex", "age_band", "locality"}
    assert out.filter(pl.col("measure") == "chd")["measure_label"][0] == "Coronary heart disease"


def test_gradient_sii_is_weighted_least_squares_slope(people, cfg):
    table = rates(people, cfg, measures=["hypertension"], dimensions=["imd_quintile"])
    out = gradient(table).row(0, named=True)
    t = table.sort("level")
    w = t["population"].to_numpy() / t["population"].sum()
    x = np.cumsum(w) - w / 2
    y = np.log(t["value"].to_numpy())  # rates are fitted on the log scale (transform=True, the default)
    xb, yb = (w * x).sum(), (w * y).sum()
    slope = (w * (x - xb) * (y - yb)).sum() / (w * (x - xb) ** 2).sum()
    intercept = yb - slope * xb
    assert out["sii"] == pytest.approx(np.exp(intercept + slope) - np.exp(intercept), rel=1e-9)
    assert out["rii"] == pytest.approx(np.exp(slope), rel=1e-9)
    linear = gradient(table, transform=False).row(0, named=True)
    y = t["value"].to_numpy()
    yb = (w * y).sum()
    slope = (w * (x - xb) * (y - yb)).sum() / (w * (x - xb) ** 2).sum()
    intercept = yb - slope * xb
    assert linear["sii"] == pytest.approx(slope, rel=1e-9)
    assert linear["rii"] == pytest.approx((intercept + slope) / intercept, rel=1e-9)


def test_intersection_matches_dsr_of_the_subset(people, cfg):
    out = intersection(people, cfg, condition="hypertension")
    cell = out.filter((pl.col("row_level") == "3") & (pl.col("column_level") == "White")).row(0, named=True)
    sub = people.filter((pl.col("imd_quintile") == 3) & (pl.col("ethnicity") == "White"))
    assert cell["population"] == sub.height
    assert cell["value"] == pytest.approx(_dsr(sub, "hypertension"))


# -- access ---------------------------------------------------------------------------------------


def test_observed_expected_is_indirect_standardisation(people, cfg, exact_reference):
    out = observed_expected(people, cfg, conditions=["hypertension"], dimensions=["sex"])
    band = _band(people["age"].to_numpy())
    sex = people["sex"].to_numpy()
    hyp = people["hypertension"].to_numpy()
    expected = {"female": 0.0, "male": 0.0}
    for b in range(19):
        for s in ("female", "male"):
            cell = (band == b) & (sex == s)
            if cell.sum():
                rate = hyp[cell].mean()
                for g in expected:
                    expected[g] += ((band == b) & (sex == s) & (sex == g)).sum() * rate
    for g in ("female", "male"):
        row = out.filter(pl.col("level") == g).row(0, named=True)
        assert row["expected"] == pytest.approx(expected[g])
        assert row["value"] == pytest.approx(hyp[sex == g].sum() / expected[g])
    # the expected cases add up to the observed cases overall
    assert out["expected"].sum() == pytest.approx(out["observed"].sum())


def test_treatment_counts_eligible_by_nice_rules(people, cfg):
    out = treatment(people, cfg, measures=("statin", "bp_control"), dimensions=["sex"])
    f = people.filter(pl.col("sex") == "female")
    elig = f["chd"] | f["stroke_tia"] | f["pad"] | ((f["diabetes"] | f["ckd"]) & (f["age"] >= 40))
    row = out.filter((pl.col("measure") == "statin") & (pl.col("level") == "female")).row(0, named=True)
    assert row["eligible"] == int(elig.sum())
    assert row["treated"] == int((elig & f["statin"]).sum())
    bp = f["hypertension"] & f["antihypertensive"]
    row = out.filter((pl.col("measure") == "bp_control") & (pl.col("level") == "female")).row(0, named=True)
    assert row["eligible"] == int(bp.sum())
    assert row["treated"] == int((bp & (f["systolic_bp"] < 140)).sum())


def test_anticoagulant_eligibility_uses_cha2ds2_vasc(cfg):
    df = pl.DataFrame(
        {
            "age": [50, 50, 70, 80],
            "sex": ["male", "female", "female", "male"],
            "af": [True] * 4,
            "heart_failure": [False] * 4,
            "hypertension": [True, True, False, False],
            "diabetes": [True, True, False, False],
            "stroke_tia": [False] * 4,
            "chd": [False] * 4,
            "pad": [False] * 4,
            "anticoagulant": [True] * 4,
        }
    ).with_row_index("person_id")
    out = indicators(df, cfg, names=["anticoagulant"], dimensions=["age_band"])
    # man 50 with HTN+DM: 2 -> eligible; woman 50 with HTN+DM: 3, minus sex point 2 -> eligible;
    # woman 70: 1 + 1 = 2, minus sex 1 -> not; man 80: 2 -> eligible
    eligible = dict(zip(out["level"], out["denominator"], strict=True))
    assert eligible == {"50-54": 2, "70-74": 0, "80-84": 1}


def test_waits_median_mean_and_18_weeks(cfg):
    df = pl.DataFrame(
        {
            "age": [50] * 6,
            "sex": ["female"] * 3 + ["male"] * 3,
            "days_to_first_outpatient": [10, 200, None, 30, 40, 130],
        }
    )
    out = waits(df, cfg, dimensions=["sex"])
    f = out.filter(pl.col("level") == "female").row(0, named=True)
    m = out.filter(pl.col("level") == "male").row(0, named=True)
    assert (f["recorded"], f["over_18_weeks"], f["median_days"], f["mean_days"]) == (2, 1, 105, 105)
    assert (m["recorded"], m["over_18_weeks"], m["median_days"]) == (3, 1, 40)
    assert m["value"] == pytest.approx(100 / 3)


def test_missed_per_100_referred(cfg):
    df = pl.DataFrame(
        {
            "age": [50] * 4,
            "sex": ["female"] * 4,
            "cardiology_referral": [True, True, False, True],
            "missed_appointments": [2, 0, 0, 1],
        }
    )
    row = missed(df, cfg, dimensions=["sex"]).row(0, named=True)
    assert (row["events"], row["population"]) == (3, 3)
    assert row["value"] == pytest.approx(100.0)


def test_missing_columns_give_clear_errors(cfg):
    df = pl.DataFrame({"age": [50], "sex": ["female"]})
    with pytest.raises(KeyError, match="days_to_first_outpatient"):
        waits(df, cfg, dimensions=["sex"])
    assert treatment(df, cfg).is_empty()
    assert detection(df.with_columns(pl.lit(True).alias("chd")), cfg).is_empty()


# -- outcomes and geography --------------------------------------------------------------------


def test_area_rates_proportion_by_area(people):
    out = area_rates(people, measure="hypertension")
    assert out.height == people["lsoa"].n_unique()
    row = out.row(0, named=True)
    sub = people.filter(pl.col("lsoa") == row["lsoa"])
    assert row["value"] == pytest.approx(100 * sub["hypertension"].mean())
    assert "locality" in out.columns


# -- against the synthetic truth ---------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(synthetic_dir, default_config):
    from healthgap.data import load

    truth = json.loads((synthetic_dir / "synthetic" / "truth.json").read_text())
    # exact counts: the truth is exact (the published, rounded route is checked separately)
    return load(default_config).collect(), replace(default_config, disclosure=EXACT), truth["realised"]


def test_detection_recovers_recorded_over_true(synthetic):
    people, config, real = synthetic
    out = detection(people, config, conditions=["hypertension", "chd"], dimensions=["imd_quintile"])
    for cond in ("hypertension", "chd"):
        for q in "12345":
            row = out.filter((pl.col("measure") == cond) & (pl.col("level") == q)).row(0, named=True)
            assert row["value"] / 100 == pytest.approx(
                real["prevalence"][cond]["recorded_over_true"][q], abs=1e-4
            )


def test_treatment_recovers_truth(synthetic):
    people, config, real = synthetic
    out = treatment(people, config, measures=("statin", "anticoagulant"), dimensions=["imd_quintile"])
    for m in ("statin", "anticoagulant"):
        for q in "12345":
            row = out.filter((pl.col("measure") == m) & (pl.col("level") == q)).row(0, named=True)
            assert row["eligible"] == real["treatment"][m]["eligible"][q]
            assert row["value"] / 100 == pytest.approx(
                real["treatment"][m]["treated_share_of_eligible"][q], abs=1e-4
            )


def test_outcomes_and_access_recover_truth(synthetic):
    people, config, real = synthetic
    out = outcome_rates(people, config, dimensions=["imd_quintile"])
    ms = missed(people, config, dimensions=["imd_quintile"])
    ns = not_stated(people, config, dimensions=("imd_quintile",))
    for q in "12345":
        adm = out.filter((pl.col("measure") == "cvd_admissions") & (pl.col("level") == q))["crude"].item()
        assert adm == pytest.approx(real["by_imd_quintile"]["cvd_admissions_per_1000"][q], abs=1e-3)
        m = ms.filter(pl.col("level") == q)["value"].item()
        assert m / 100 == pytest.approx(
            real["by_imd_quintile"]["missed_appointments_per_referral"][q], abs=1e-3
        )
        n = ns.filter(pl.col("level") == q)["value"].item()
        assert n == pytest.approx(real["by_imd_quintile"]["ethnicity_not_stated_percent"][q], abs=1e-3)


def test_built_in_inequalities_are_found(synthetic):
    """The synthetic population has a deprivation gradient in CHD and diabetes: the SII must find it."""
    people, config, _ = synthetic
    table = prevalence(people, config, conditions=["chd", "diabetes"], dimensions=["imd_quintile"])
    g = gradient(table)
    assert (g["sii_upper"] < 0).all()


def test_headlines_sentences_carry_the_computed_numbers(synthetic):
    people, config, real = synthetic
    h = headlines(people, config)
    assert all(f.available for f in h)
    det = h.underdiagnosis.values
    assert det["most"] / 100 == pytest.approx(
        real["prevalence"]["hypertension"]["recorded_over_true"]["1"], abs=1e-4
    )
    assert f"{det['most']:.0f}%" in h.underdiagnosis.text
    statin = h.treatment_gap.values
    assert statin["most"] / 100 == pytest.approx(
        real["treatment"]["statin"]["treated_share_of_eligible"]["1"], abs=1e-4
    )
    assert f"{statin['least']:.1f}%" in h.treatment_gap.text  # standardised, to 1 dp (round 4)
    table = rates(people, config, measures=["cvd_admissions"], dimensions=["imd_quintile"], multiplier=1000)
    rr = table.filter(pl.col("level") == "1")["rate_ratio"].item()
    assert h.outcome_ratio.values["ratio"] == pytest.approx(rr)
    assert f"{rr:.2f} times" in h.outcome_ratio.text
    prev = prevalence(people, config, conditions=["hypertension"], dimensions=["imd_quintile"])
    most = prev.filter(pl.col("level") == "1")["value"].item()
    assert f"{most:.1f}%" in h.prevalence_gap.text
    assert len(h.markdown().splitlines()) == 5


def test_headlines_without_deprivation_or_truth(other_trust_config):
    from healthgap.data import load

    people = load(other_trust_config).collect()
    h = headlines(people, other_trust_config)
    assert h.underdiagnosis.values.get("measure") == "observed/expected"
    assert h.prevalence_gap.available
    no_imd = people.drop("imd_quintile")
    h2 = headlines(no_imd, other_trust_config)  # men against women instead, and no slope index
    assert h2.prevalence_gap.values["dimension"].name == "sex"
    assert not h2.slope.available and h2.slope.lacking
    assert "deprivation" in h2.slope.text


# -- narrative ----------------------------------------------------------------------------------


def test_narrative_wording():
    t = pl.DataFrame(
        {
            "dimension": ["imd_quintile"] * 3,
            "level": ["1", "3", "5"],
            "label": ["a", "b", "c"],
            "value": [12.34, None, 8.0],
        }
    )
    assert (
        extremes(t)
        == "highest in the most deprived fifth (12.3%) and lowest in the least deprived fifth (8.0%)"
    )
    assert "a difference of 4.3 percentage points" in gap_sentence(t, subject="x", level="1", reference="5")
    assert "cannot be compared" in gap_sentence(t, subject="x", level="3", reference="5")
    assert ratio_phrase(1.8) == "1.8 times as likely"
    assert ratio_phrase(0.8) == "20% less likely"
    assert ratio_phrase(1.01) == "about as likely"
    assert group_name({"dimension": "ethnicity", "level": "Asian", "label": "Asian"}, people=True) == (
        "people in the Asian group"
    )


def test_concentration_index_matches_formula(people, cfg):
    from healthgap.descriptive import concentration

    table = rates(people, cfg, measures=["hypertension"], dimensions=["imd_quintile"])
    got = concentration(table).row(0, named=True)
    t = table.sort("level")
    n = t["population"].to_numpy().astype(float)
    mu_t = t["events"].to_numpy() / n
    f = n / n.sum()
    rank = np.cumsum(f) - f / 2
    mu = (f * mu_t).sum()
    assert got["ci"] == pytest.approx(2 / mu * (f * mu_t * rank).sum() - 1, rel=1e-9)
    assert got["ci_lower"] < got["ci"] < got["ci_upper"]


def test_statin_eligibility_uses_the_conditions_present(people, cfg):
    partial = people.drop("stroke_tia", "pad", "ckd")
    out = treatment(partial, cfg, measures=("statin",), dimensions=["sex"])
    m = partial.filter(pl.col("sex") == "male")
    elig = m["chd"] | (m["diabetes"] & (m["age"] >= 40))
    row = out.filter(pl.col("level") == "male").row(0, named=True)
    assert row["eligible"] == int(elig.sum())
    assert row["measure_label"] == cfg.indicator("statin").label  # the note names the absent conditions


def test_concentration_index_is_withheld_when_a_quintile_is_suppressed(people, cfg):
    """With four quintiles published, the index and the populations would give the fifth count back."""
    from healthgap.descriptive import concentration
    from healthgap.descriptive.prevalence import NOTE_CI_SUPPRESSED
    from healthgap.disclosure import protect

    table = rates(people, cfg, measures=["hypertension", "chd"], dimensions=["imd_quintile"])
    doctored = table.with_columns(  # chd in quintile 2 down to 5 people: suppressed when published
        pl.when((pl.col("measure") == "chd") & (pl.col("level") == "2"))
        .then(5)
        .otherwise(pl.col("events"))
        .alias("events")
    )
    shown = protect(doctored, counts=["events", "population"], by=["dimension", "measure"])
    got = concentration(doctored, published=shown).sort("measure")
    chd, ht = got.row(0, named=True), got.row(1, named=True)
    assert chd["ci"] is None and chd["ci_lower"] is None and chd["ci_note"] == NOTE_CI_SUPPRESSED
    assert ht["ci"] == pytest.approx(
        concentration(table).filter(pl.col("measure") == "hypertension")["ci"].item()
    )


def test_gradient_weights_by_the_given_populations_and_skips_suppressed_measures(people, cfg):
    """The SII regression is weighted by the populations of the table given (the book gives the
    published ones), and a measure with a suppressed fifth in ``published`` is left out."""
    from healthgap.disclosure import protect

    table = rates(people, cfg, measures=["hypertension", "chd"], dimensions=["imd_quintile"])
    doctored = table.with_columns(
        pl.when((pl.col("measure") == "chd") & (pl.col("level") == "2"))
        .then(5)
        .otherwise(pl.col("events"))
        .alias("events")
    )
    shown = protect(
        doctored,
        counts=["events", "population"],
        by=["dimension", "measure"],
        derived={"events": ["value", "lower_ci", "upper_ci"]},
    )
    got = gradient(doctored, published=shown, transform=False)  # the linear fit, checked by hand below
    assert got["measure"].to_list() == ["hypertension"]  # chd has a suppressed fifth
    ht = table.filter(pl.col("measure") == "hypertension").sort("level")
    n = ht["population"].to_numpy().astype(float)
    f = n / n.sum()
    x = np.cumsum(f) - f / 2
    xm, ym = (f * x).sum(), (f * ht["value"].to_numpy()).sum()
    slope = (f * (x - xm) * (ht["value"].to_numpy() - ym)).sum() / (f * (x - xm) ** 2).sum()
    assert got["sii"].item() == pytest.approx(slope, rel=1e-9)
    assert got["population"].item() == int(n.sum())


def test_headline_ratio_withheld_when_the_reference_fifth_is_suppressed(synthetic):
    """Rate ratio x the published rate of the most deprived fifth would give the reference count back."""
    from dataclasses import replace

    people, config, _ = synthetic
    # 12 people with admissions left in fifths 4 and 5 (5 is the reference): both small, so no
    # secondary suppression is needed and the most deprived fifth keeps its own rate
    q45 = pl.col("imd_quintile").is_in([4, 5])
    few = people.with_columns(
        pl.when(q45 & (pl.col("cvd_admissions") > 0).cum_sum().over("imd_quintile").gt(12))
        .then(0)
        .otherwise(pl.col("cvd_admissions"))
        .alias("cvd_admissions")
    )
    events = (
        few.group_by("imd_quintile")
        .agg(pl.col("cvd_admissions").sum())
        .sort("imd_quintile")["cvd_admissions"]
    )
    assert 10 <= events[4] < 20 <= events[0]  # a DSR and a ratio exist for the reference; only it is "small"
    assert events[1] >= 20 and events[2] >= 20
    strict = replace(config, disclosure=replace(config.disclosure, suppress_below=20))
    # published under the usual settings (since round 4 not worded as a finding: fewer than 10
    # admissions are expected in the most deprived fifth at the reference fifth's rates)
    assert headlines(few, config).outcome_ratio.values.get("ratio") is not None
    h = headlines(few, strict)
    assert not h.outcome_ratio.available and h.outcome_ratio.values.get("ratio") is None
    assert "times the rate" not in h.outcome_ratio.text


def test_headline_slope_is_the_gradient_of_the_prevalence_table(synthetic):
    people, config, _ = synthetic
    h = headlines(people, config)
    table = prevalence(
        people, config, conditions=[h.slope.values.get("condition", "chd")], dimensions=["imd_quintile"]
    )
    assert h.slope.values["sii"] == pytest.approx(gradient(table)["sii"].item(), rel=1e-12)


def _r5(x: int) -> int:
    """Published count by hand: 1-7 kept for suppression, others to the nearest 5 (halves up)."""
    return x if x < 8 else 5 * math.floor(x / 5 + 0.5)


def _wilson(x: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = x / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (centre - half) / (1 + z * z / n), 100 * (centre + half) / (1 + z * z / n)


def test_simple_statistics_come_from_the_published_counts(people):
    """With the default disclosure settings, proportions and crude rates are computed from counts
    rounded to 5 (so a rate times a published denominator gives back only the published count);
    DSRs still come from the exact counts."""
    config, exact = tiny_config(DisclosureSettings()), tiny_config()
    # the shares as the population page publishes them: recomputed from the published counts
    ns = not_stated_shares(
        published_counts(
            not_stated(people, config, dimensions=("imd_quintile",)),
            ["not_stated", "people"],
            settings=config.disclosure,
        )
    )
    for q in "12345":
        group = people.filter(pl.col("imd_quintile") == int(q))
        x, n = int((group["ethnicity"] == "Not stated").sum()), group.height
        row = ns.filter(pl.col("level") == q).row(0, named=True)
        assert (row["not_stated"], row["people"]) == (_r5(x), _r5(n))
        assert row["value"] == pytest.approx(100 * _r5(x) / _r5(n), rel=1e-12)
        assert (row["lower_ci"], row["upper_ci"]) == pytest.approx(_wilson(_r5(x), _r5(n)), rel=1e-9)
    table = (
        publish(  # rates() returns exact counts: the page publishes them, the simple statistics recomputed
            rates(people, config, measures=["hypertension"], dimensions=["imd_quintile"], multiplier=100),
            counts=["events", "population"],
            settings=config.disclosure,
            recompute=partial(recompute_rates, multiplier=100),
        ).frame
    )
    same = rates(people, exact, measures=["hypertension"], dimensions=["imd_quintile"], multiplier=100)
    for q in "12345":
        group = people.filter(pl.col("imd_quintile") == int(q))
        e, n = int(group["hypertension"].sum()), group.height
        row = table.filter(pl.col("level") == q).row(0, named=True)
        assert row["crude"] == pytest.approx(100 * _r5(e) / _r5(n), rel=1e-12)
        assert row["crude"] * row["population"] / 100 == pytest.approx(row["events"], rel=1e-12)
        dsr_exact = same.filter(pl.col("level") == q)["value"].item()
        assert row["value"] == pytest.approx(dsr_exact, rel=1e-12)  # the DSR is unchanged
    shares = pyramid_shares(published_counts(pyramid(people), ["people"]))
    ages, sexes = _band(people["age"].to_numpy()), people["sex"].to_numpy()
    for r in shares.iter_rows(named=True):
        exact_n = int(((ages == BANDS.index(r["age_band"])) & (sexes == r["sex"])).sum())
        assert r["people"] == _r5(exact_n)
    assert shares["share"].sum() == pytest.approx(100)
    assert shares["share"].to_list() == pytest.approx(
        (100 * shares["people"] / shares["people"].sum()).to_list()
    )


def test_headline_says_no_clear_difference_when_the_interval_includes_one():
    """Recorded disease that does not vary with deprivation is not reported as a gap."""
    flat = build_people(20000, seed=11).with_columns(
        (pl.int_range(pl.len()) % 5 + 1).alias("imd_quintile"),
        (pl.int_range(pl.len()) % 7 == 0).alias("hypertension"),
    )
    h = headlines(flat, tiny_config())
    assert h.prevalence_gap.values["clear"] is False
    assert "no clear difference" in h.prevalence_gap.text and "times the rate" not in h.prevalence_gap.text
    assert "95% CI" in h.prevalence_gap.text


def test_headline_reports_a_clear_gap():
    steep = build_people(20000, seed=11).with_columns(
        (pl.int_range(pl.len()) % 5 + 1).alias("imd_quintile"),
        (pl.int_range(pl.len()) % (pl.int_range(pl.len()) % 5 + 2) == 0).alias("hypertension"),
    )  # half of quintile 1, a sixth of quintile 5
    h = headlines(steep, tiny_config())
    assert h.prevalence_gap.values["clear"] is True
    assert (
        "percentage points higher" in h.prevalence_gap.text
        and "no clear difference" not in h.prevalence_gap.text
    )


def test_dsr_limits_use_the_published_total_so_they_do_not_give_the_exact_one_back(people):
    """Dobson's limits sit at distances in the ratio (O - O_L) : (O_U - O) from the DSR, a function of the
    total O alone; with O the published (rounded) total, that is all an attacker can recover."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    z = norm.ppf(0.975)

    def byars(o):  # Byar's limits, typed in from the PHE technical guide
        lo = o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3
        hi = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * math.sqrt(o + 1))) ** 3
        return lo, hi

    def total_from_limits(v, lo, hi):  # solve (O - O_L)/(O_U - O) = (v - lo)/(hi - v) for O
        target = (v - lo) / (hi - v)
        return brentq(lambda o: (o - byars(o)[0]) / (byars(o)[1] - o) - target, 5, 1e6)

    config, exact = tiny_config(DisclosureSettings()), tiny_config()
    table = (
        publish(  # rates() returns exact counts: the page publishes them, the simple statistics recomputed
            rates(people, config, measures=["hypertension"], dimensions=["imd_quintile"], multiplier=100),
            counts=["events", "population"],
            settings=config.disclosure,
            recompute=partial(recompute_rates, multiplier=100),
        ).frame
    )
    same = rates(people, exact, measures=["hypertension"], dimensions=["imd_quintile"], multiplier=100)
    for q in "12345":
        row = table.filter(pl.col("level") == q).row(0, named=True)
        ref = same.filter(pl.col("level") == q).row(0, named=True)
        assert row["value"] == pytest.approx(ref["value"], rel=1e-12)  # the DSR itself is exact
        assert total_from_limits(ref["value"], ref["lower_ci"], ref["upper_ci"]) == pytest.approx(
            ref["events"], rel=1e-6
        )
        recovered = total_from_limits(row["value"], row["lower_ci"], row["upper_ci"])
        assert recovered == pytest.approx(_r5(ref["events"]), rel=1e-6) and row["events"] == _r5(
            ref["events"]
        )


def test_completeness_and_waits_publish_nothing_finer_than_their_counts(people):
    # default settings: counts rounded, shares from them (as the population page publishes them)
    out = completeness_shares(published_counts(completeness(people), ["people", "missing", "recorded"]))
    for r in out.iter_rows(named=True):
        for c in ("people", "missing", "recorded"):
            assert r[c] < 8 or r[c] % 5 == 0, (r["column"], c)
        assert r["complete"] == pytest.approx(100 * r["recorded"] / r["people"])
    w = publish(  # waits() returns exact counts: the page publishes them, the share from the rounded counts
        waits(people, tiny_config(DisclosureSettings()), dimensions=["sex"]),
        counts=["recorded", "over_18_weeks"],
        settings=DisclosureSettings(min_group=1),  # rounding only: these groups are below 50 people
        recompute=partial(recompute_shares, numerator="over_18_weeks", denominator="recorded"),
    ).frame
    for r in w.iter_rows(named=True):
        assert r["recorded"] % 5 == 0 and r["over_18_weeks"] % 5 == 0
        assert r["mean_days"] == round(r["mean_days"], 1) and r["median_days"] == round(r["median_days"])
        assert r["value"] == pytest.approx(100 * r["over_18_weeks"] / r["recorded"])


def test_underdiagnosis_headline_without_truth_gives_intervals():
    flat = (
        build_people(20000, seed=11)
        .with_columns(
            (pl.int_range(pl.len()) % 5 + 1).alias("imd_quintile"),
            (pl.int_range(pl.len()) % 7 == 0).alias("hypertension"),
        )
        .select(pl.exclude("^true_.*$"))
    )
    h = headlines(flat, tiny_config())
    text = h.underdiagnosis.text
    assert h.underdiagnosis.values["measure"] == "observed/expected"
    assert text.count("95% CI") == 2 and "Neither differs clearly" in text
