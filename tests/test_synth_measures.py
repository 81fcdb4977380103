"""The synthetic population's referral pathway, experience and premature deaths (issue 15).

Each injected inequality is recovered by refitting its generating model on a large population
(every coefficient within ``Z`` standard errors of the truth), and each recovery check is shown
to fail on a population generated with that effect taken out (``null`` below): the checks can
tell an effect that is there from one that is not. The earlier columns are unchanged for the
same seed (the new draws come from their own streams, after the existing ones).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_synth import _design, irls  # tests/ is on sys.path (no package)

from healthgap.config import Indicator
from healthgap.contract import ETHNICITY_CODES
from healthgap.sql import indicator_counts
from healthgap.synth import _params as P
from healthgap.synth import generate

#: Large enough for every check below to fail when its effect is taken out (see ``null``).
N = 1_000_000
SEED = 15
Z = 4.5  # tolerance in standard errors, as tests/test_synth.py
#: Premature CVD deaths as an indicator (OHID's under-75 CVD mortality); not in the profile, whose
#: access page computes proportions and crude rates only: the deaths are the premature_cvd_death measure.
PREMATURE = Indicator(
    name="premature_cvd_mortality",
    label="Premature CVD deaths per 100,000 people under 75",
    kind="crude rate",
    numerator="CAST(cvd_death AS INTEGER)",
    denominator="age < 75",
    multiplier=100000,
    higher_is_better=False,
)
NEW = ("days_to_treatment", "provider_cancellations", "gp_experience_good", "premature_cvd_death")

#: Each effect the recovery checks claim, and how to take it out of the generator.
NULL_EFFECTS: dict[str, tuple[tuple[str, ...], object]] = {
    "referral deprivation": (("ACCESS", "referral", "or_per_quintile_step"), 1.0),
    "treatment gap deprivation": (("ACCESS", "days_to_treatment", "gap_rr_per_quintile_step"), 1.0),
    "cancellations by locality": (("EXPERIENCE", "provider_cancellations", "rr_by_locality"), {}),
    "response deprivation": (("EXPERIENCE", "gp_experience", "response", "or_per_quintile_step"), 1.0),
    "response ethnicity": (("EXPERIENCE", "gp_experience", "response", "ethnicity_odds_ratios"), {}),
    "good answer deprivation": (("EXPERIENCE", "gp_experience", "good", "or_per_quintile_step"), 1.0),
    "good answer ethnicity": (("EXPERIENCE", "gp_experience", "good", "ethnicity_odds_ratios"), {}),
    "admissions ethnicity": (("OUTCOMES", "cvd_admissions", "ethnicity_rate_ratios"), {}),
    "premature deprivation": (("OUTCOMES", "cvd_death", "premature_rr_per_quintile_step"), 1.0),
}


@pytest.fixture(scope="module")
def huge() -> tuple[pl.DataFrame, dict]:
    return generate(N, seed=SEED)


@pytest.fixture(scope="module")
def null() -> tuple[pl.DataFrame, dict]:
    """A population generated with every effect of :data:`NULL_EFFECTS` taken out.

    The truth returned is the *unpatched* one (what the real generator claims), so each recovery
    check must reject it.
    """
    truth = generate(200, seed=SEED)[1]
    with pytest.MonkeyPatch.context() as mp:
        for path, value in NULL_EFFECTS.values():
            node = getattr(P, path[0])
            for key in path[1:-1]:
                node = node[key]
            mp.setitem(node, path[-1], value)
        frame = generate(N, seed=SEED)[0]
    return frame, truth


# --- model checks: lists of (coefficient, estimate, truth, standard error) --------------------


def poisson_sandwich(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-link mean model by Poisson IRLS with robust (sandwich) standard errors.

    Valid for the coefficients of the mean of any count or positive outcome (negative binomial,
    rounded gamma): the variance need not be the Poisson one.

    References: Zeger & Liang (1986); Cameron & Trivedi, Regression Analysis of Count Data, 2nd
    ed., section 2.7 (quasi-maximum likelihood).
    """
    beta, _ = irls(x, y, "poisson")
    mu = np.exp(x @ beta)
    bread = np.linalg.inv((x * mu[:, None]).T @ x)
    meat = (x * ((y - mu) ** 2)[:, None]).T @ x
    return beta, np.sqrt(np.diag(bread @ meat @ bread))


def _ethnicity_columns(df: pl.DataFrame, ratios: dict) -> tuple[list[np.ndarray], list[str], list[float]]:
    cols, names, truth = [], [], []
    for group in ETHNICITY_CODES:
        if group == "White":
            continue
        cols.append((df["ethnicity"] == group).to_numpy().astype(float))
        names.append(group)
        truth.append(math.log(ratios.get(group, 1.0)))
    return cols, names, truth


def _checked(names: list[str], beta: np.ndarray, se: np.ndarray, truth: list[float]) -> list[tuple]:
    return list(zip(names, beta, truth, se, strict=True))


def referral_fit(df: pl.DataFrame, truth: dict) -> list[tuple]:
    """Refit referral on need (recorded conditions, age over 40) and deprivation."""
    r = truth["access"]["referral"]
    age = df["age"].to_numpy().astype(float)
    cols = [
        np.ones(len(age)),
        np.maximum(age - 40, 0) / 10,
        (5 - df["imd_quintile"].to_numpy()).astype(float),
    ]
    names = ["intercept", "per 10 years over 40", "quintile step"]
    true = [r["intercept"], math.log(r["or_per_10_years_over_40"]), math.log(r["or_per_quintile_step"])]
    for name, ratio in r["odds_ratios"].items():
        cols.append(df[name].to_numpy().astype(float))
        names.append(name)
        true.append(math.log(ratio))
    beta, se = irls(np.column_stack(cols), df["cardiology_referral"].to_numpy().astype(float), "logistic")
    return _checked(names, beta, se, true)


def treatment_gap_fit(df: pl.DataFrame, truth: dict) -> list[tuple]:
    """Refit the mean wait from first appointment to treatment (when not at it) on deprivation."""
    t = truth["access"]["days_to_treatment"]
    treated = df.filter(pl.col("days_to_treatment").is_not_null() & (pl.col("days_to_treatment") < t["max"]))
    gap = (treated["days_to_treatment"] - treated["days_to_first_outpatient"]).to_numpy().astype(float)
    later = gap > 0
    step = (5 - treated["imd_quintile"].to_numpy()[later]).astype(float)
    x = np.column_stack([np.ones(later.sum()), step])
    beta, se = poisson_sandwich(x, gap[later])
    return _checked(
        ["log mean gap", "quintile step"],
        beta,
        se,
        [math.log(t["gap_mean_q5"]), math.log(t["gap_rr_per_quintile_step"])],
    )


def cancellations_fit(df: pl.DataFrame, truth: dict) -> list[tuple]:
    """Refit cancellations per referred person on locality, with a deprivation term (truly 0)."""
    c = truth["experience"]["provider_cancellations"]
    referred = df.filter("cardiology_referral")
    cols = [np.ones(referred.height), (5 - referred["imd_quintile"].to_numpy()).astype(float)]
    names, true = ["log mean", "quintile step (none injected)"], [math.log(c["mean_reference"]), 0.0]
    for loc in ("Tendring Coast", "East Suffolk Coast"):
        cols.append((referred["locality"] == loc).to_numpy().astype(float))
        names.append(loc)
        true.append(math.log(c["rr_by_locality"].get(loc, 1.0)))
    beta, se = poisson_sandwich(
        np.column_stack(cols), referred["provider_cancellations"].to_numpy().astype(float)
    )
    return _checked(names, beta, se, true)


def _survey_design(df: pl.DataFrame, spec: dict) -> tuple[np.ndarray, list[str], list[float]]:
    age = np.minimum(df["age"].to_numpy().astype(float), spec["max_age"]) - 60.0
    cols = [np.ones(df.height), age, (5 - df["imd_quintile"].to_numpy()).astype(float)]
    names = ["intercept", "age", "quintile step"]
    true = [spec["intercept"], spec["age_log_odds_per_year"], math.log(spec["or_per_quintile_step"])]
    e_cols, e_names, e_true = _ethnicity_columns(df, spec["ethnicity_odds_ratios"])
    return np.column_stack(cols + e_cols), names + e_names, true + e_true


def response_fit(df: pl.DataFrame, truth: dict) -> list[tuple]:
    """Refit who answers the survey (people aged 16 and over) on age, deprivation and ethnic group."""
    g = truth["experience"]["gp_experience"]
    surveyed = df.filter(pl.col("age") >= g["min_age"])
    x, names, true = _survey_design(surveyed, g["response"])
    beta, se = irls(x, surveyed["gp_experience_good"].is_not_null().to_numpy().astype(float), "logistic")
    return _checked(names, beta, se, true)


def good_fit(df: pl.DataFrame, truth: dict) -> list[tuple]:
    """Refit the answer (good or not) among respondents on age, deprivation and ethnic group."""
    g = truth["experience"]["gp_experience"]
    answered = df.filter(pl.col("gp_experience_good").is_not_null())
    x, names, true = _survey_design(answered, g["good"])
    beta, se = irls(x, answered["gp_experience_good"].to_numpy().astype(float), "logistic")
    return _checked(names, beta, se, true)


def admissions_fit(df: pl.DataFrame, truth: dict) -> list[tuple]:
    """Refit the admission model (Poisson) with the added rate ratios by recorded ethnic group."""
    spec = truth["outcomes"]["cvd_admissions"]
    ratios = {**spec["rate_ratios"], "ethnicity": spec["ethnicity_rate_ratios"]}
    model = {**spec, "rate_ratios": ratios, "intercept": math.log(spec["rate_at_60"])}
    x, names, true = _design(df, model, knot=None)
    beta, se = irls(x, df["cvd_admissions"].to_numpy().astype(float), "poisson")
    return _checked(names, beta, se, true)


def deaths_fit(df: pl.DataFrame, truth: dict) -> list[tuple]:
    """Refit the death model (complementary log-log) with the added ratio per step under 75."""
    spec = truth["outcomes"]["cvd_death"]
    x, names, true = _design(df, {**spec, "intercept": math.log(spec["rate_at_60"])}, knot=None)
    step = (df["age"] < P.PREMATURE_AGE).to_numpy() * (5 - df["imd_quintile"].to_numpy())
    x = np.column_stack([x, step.astype(float)])
    names, true = [*names, "premature_step"], [*true, math.log(spec["premature_rr_per_quintile_step"])]
    beta, se = irls(x, df["cvd_death"].to_numpy().astype(float), "cloglog")
    return _checked(names, beta, se, true)


FITS = {
    "added admissions": admissions_fit,
    "added deaths": deaths_fit,
    "referral": referral_fit,
    "treatment gap": treatment_gap_fit,
    "cancellations": cancellations_fit,
    "survey response": response_fit,
    "good answer": good_fit,
}
#: The coefficients each null effect must make the checks reject.
REJECTED = {
    "referral deprivation": ("referral", ["quintile step"]),
    "treatment gap deprivation": ("treatment gap", ["quintile step"]),
    "cancellations by locality": ("cancellations", ["Tendring Coast", "East Suffolk Coast"]),
    "response deprivation": ("survey response", ["quintile step"]),
    "response ethnicity": ("survey response", ["Asian", "Black", "Mixed", "Other", "Not stated"]),
    "good answer deprivation": ("good answer", ["quintile step"]),
    "good answer ethnicity": ("good answer", ["Asian", "Black", "Mixed", "Other", "Not stated"]),
    "admissions ethnicity": ("added admissions", ["Asian", "Black"]),
    "premature deprivation": ("added deaths", ["premature_step"]),
}


def _far(rows: list[tuple]) -> dict[str, float]:
    """Coefficient -> distance from the truth in standard errors, for those beyond ``Z``."""
    return {name: abs(b - t) / s for name, b, t, s in rows if abs(b - t) > Z * s}


@pytest.mark.parametrize("model", FITS)
def test_injected_coefficients_recovered(huge: tuple[pl.DataFrame, dict], model: str) -> None:
    df, truth = huge
    rows = FITS[model](df, truth)
    assert _far(rows) == {}, (model, rows)


@pytest.mark.parametrize("effect", REJECTED)
def test_recovery_fails_when_the_effect_is_taken_out(null: tuple[pl.DataFrame, dict], effect: str) -> None:
    model, coefficients = REJECTED[effect]
    df, truth = null
    far = _far(FITS[model](df, truth))
    assert set(coefficients) <= set(far), (effect, far)


def test_treatment_gap_shape_and_missingness(huge: tuple[pl.DataFrame, dict]) -> None:
    """Treated at the first appointment, treated at all: the shares the truth states."""
    df, truth = huge
    t = truth["access"]["days_to_treatment"]
    seen = df.filter(pl.col("days_to_first_outpatient").is_not_null())
    treated = seen.filter(pl.col("days_to_treatment").is_not_null())
    for observed, m, p in (
        (treated.height, seen.height, t["treated_if_seen"]),
        (
            treated.filter(pl.col("days_to_treatment") == pl.col("days_to_first_outpatient")).height,
            treated.height,
            t["at_first_appointment"],
        ),
    ):
        assert abs(observed - m * p) <= Z * math.sqrt(m * p * (1 - p)) + 1


def test_columns_are_consistent(huge: tuple[pl.DataFrame, dict]) -> None:
    df = huge[0]
    referred = pl.col("cardiology_referral")
    # treated only after being seen, never before the first appointment, capped at the maximum
    assert df.filter(
        pl.col("days_to_treatment").is_not_null() & pl.col("days_to_first_outpatient").is_null()
    ).is_empty()
    assert df.filter(pl.col("days_to_treatment") < pl.col("days_to_first_outpatient")).is_empty()
    assert df["days_to_treatment"].max() <= P.ACCESS["days_to_treatment"]["max"]
    # cancellations only for referred people; survey answers only from 16
    assert df.filter(~referred)["provider_cancellations"].sum() == 0
    assert (
        df.filter(pl.col("age") < 16)["gp_experience_good"].null_count()
        == df.filter(pl.col("age") < 16).height
    )
    response = df.filter(pl.col("age") >= 16)["gp_experience_good"].is_not_null().mean()
    assert 0.2 < response < 0.4  # GP Patient Survey response rates: about 30%
    # premature deaths are the CVD deaths under 75, exactly
    assert df["premature_cvd_death"].equals(
        (df["cvd_death"] & (df["age"] < P.PREMATURE_AGE)).alias("premature_cvd_death")
    )


def test_premature_deaths_follow_deprivation(huge: tuple[pl.DataFrame, dict]) -> None:
    df = huge[0]
    under = df.filter(pl.col("age") < 75)
    rate = dict(under.group_by("imd_quintile").agg(pl.col("premature_cvd_death").mean()).iter_rows())
    assert rate[1] > 1.3 * rate[5]


def test_existing_columns_unchanged_by_the_new_steps(tmp_path: Path) -> None:
    """The new draws come after the existing ones, from their own streams: taking the new steps
    out leaves every earlier column as it was (same seed)."""
    with_new = generate(30_000, seed=4)[0]
    with pytest.MonkeyPatch.context() as mp:  # the new steps draw nothing: streams 9.. unused
        import healthgap.synth._generate as G

        mp.setattr(G, "days_to_treatment", lambda rng, people, first: np.full(len(first), np.nan))
        mp.setattr(G, "provider_cancellations", lambda rng, referred, *a: np.zeros(len(referred), np.int64))
        mp.setattr(
            G,
            "gp_survey",
            lambda rng, people: (np.zeros(len(people["age"]), bool), np.zeros(len(people["age"]), bool)),
        )
        without = generate(30_000, seed=4)[0]
    old = [c for c in with_new.columns if c not in NEW]
    assert with_new.select(old).equals(without.select(old))


def test_added_outcomes_change_only_admissions_and_deaths() -> None:
    """The added admission and death rate ratios draw from their own stream (round 3): without
    them every other column is the same (same seed), and they only add admissions and deaths."""
    import healthgap.synth._generate as G

    with_added = generate(30_000, seed=4)[0]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(G, "added_outcomes", lambda rng, people, true, treat, base: base)
        without = generate(30_000, seed=4)[0]
    changed = ["cvd_admissions", "cvd_death", "premature_cvd_death"]
    assert with_added.drop(changed).equals(without.drop(changed))
    assert (with_added["cvd_admissions"] >= without["cvd_admissions"]).all()
    assert (with_added["cvd_death"] | ~without["cvd_death"]).all()
    assert with_added["cvd_admissions"].sum() > without["cvd_admissions"].sum()


# --- the profile's measures and indicators, with and without the columns -----------------------


def test_default_config_has_the_new_measures_and_indicators(default_config) -> None:
    from healthgap.data import load, validate

    config = default_config
    assert set(NEW) <= {m.name for m in config.measures} and not set(NEW) & set(config.dropped)
    assert {config.measure(n).timing for n in NEW} == {"follow-up"}  # never model features by default
    assert not set(NEW) & set(config.features)
    # the default book's outcomes gain premature deaths (under 75: the profile's ages)
    assert config.outcomes == ("cvd_admissions", "cvd_death", "premature_cvd_death")
    assert config.measure("premature_cvd_death").ages == (0, 74)
    assert validate(config).problems == []
    people = load(config)
    shares = {}
    for name in ("rtt_18_weeks", "gp_experience", "premature_cvd_mortality"):
        counts = indicator_counts(
            people, PREMATURE if name == "premature_cvd_mortality" else config.indicator(name)
        )
        assert not isinstance(counts, str), (name, counts)
        shares[name] = counts.row(0, named=True)
    # people not yet treated, and people who did not answer, are left out (not counted as "no")
    for name, low, high in (("rtt_18_weeks", 0.45, 0.85), ("gp_experience", 0.65, 0.9)):
        row = shares[name]
        assert row["excluded"] > 0 and low < row["numerator"] / row["denominator"] < high, (name, row)
    deaths = shares["premature_cvd_mortality"]
    assert 0 < deaths["numerator"] < deaths["denominator"] / 500


def test_other_trust_is_unaffected(other_trust_config) -> None:
    from healthgap.data import load, validate

    config = other_trust_config
    assert set(NEW) <= set(config.dropped)
    assert config.outcomes == ("cvd_admissions", "cvd_death")
    report = validate(config)
    assert report.problems == []
    people = load(config)
    reason = indicator_counts(people, config.indicator("rtt_18_weeks"))
    assert (
        reason
        == "needs the cardiology_referral and days_to_treatment columns, which this dataset does not have"
    )
    deaths = indicator_counts(people, PREMATURE)
    assert not isinstance(deaths, str) and deaths["denominator"].item() > 0
