"""Care and outcomes: treatment of recorded disease, measurements, access, admissions, deaths."""

from __future__ import annotations

import numpy as np

from healthgap.contract import ETHNICITY_CODES
from healthgap.synth import _params as P
from healthgap.synth._people import logistic

__all__ = [
    "eligibility",
    "cha2ds2_vasc",
    "treatments",
    "treatment_probability",
    "measurements",
    "referral_log_odds",
    "first_outpatient_mean",
    "missed_mean",
    "access",
    "log_rate",
    "added_log_rate",
    "outcomes",
    "added_outcomes",
]


def cha2ds2_vasc(people: dict[str, np.ndarray], rec: dict[str, np.ndarray]) -> np.ndarray:
    """CHA2DS2-VASc score from *recorded* conditions, age and sex.

    Heart failure 1, hypertension 1, age 75+ 2, diabetes 1, stroke/TIA 2,
    vascular disease (CHD or PAD) 1, age 65-74 1, female 1.

    References
    ----------
    .. [1] Lip GYH et al. Refining clinical risk stratification for predicting stroke
       and thromboembolism in atrial fibrillation. Chest 2010;137:263-272.
    .. [2] NICE NG196, "Atrial fibrillation: diagnosis and management" (2021).
    """
    age = people["age"]
    return (
        rec["heart_failure"].astype(np.int64)
        + rec["hypertension"]
        + 2 * (age >= 75)
        + ((age >= 65) & (age < 75))
        + rec["diabetes"]
        + 2 * rec["stroke_tia"]
        + (rec["chd"] | rec["pad"])
        + people["female"]
    )


def eligibility(people: dict[str, np.ndarray], rec: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Who is eligible for each treatment, from *recorded* conditions (see ``P.TREATMENT``).

    Anticoagulation: recorded AF and CHA2DS2-VASc >= 2 for men or >= 3 for women
    (that is, >= 2 before the point for female sex).
    """
    age = people["age"]
    score = cha2ds2_vasc(people, rec)
    return {
        "statin": rec["chd"]
        | rec["stroke_tia"]
        | rec["pad"]
        | ((rec["diabetes"] | rec["ckd"]) & (age >= 40)),
        "antihypertensive": rec["hypertension"] | rec["heart_failure"],
        "anticoagulant": rec["af"] & (score - people["female"] >= 2),
    }


def treatments(
    rng: np.random.Generator, people: dict[str, np.ndarray], rec: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Treated = eligible AND a draw with P(treated | eligible) by IMD quintile.

    References
    ----------
    .. [1] NHS England, CVDPREVENT audit (2023): statin, antihypertensive and
       anticoagulant treatment of the eligible by deprivation quintile.
    """
    elig = eligibility(people, rec)
    out = {}
    for name in ("statin", "antihypertensive", "anticoagulant"):
        p = treatment_probability(name, people)
        out[name] = elig[name] & (rng.random(len(p)) < p)
    return out


def treatment_probability(name: str, people: dict[str, np.ndarray]) -> np.ndarray:
    """P(treated with ``name`` | eligible) of each person, from their IMD quintile."""
    return np.asarray(P.TREATMENT[name]["by_imd_quintile"])[people["imd_quintile"] - 1]


def measurements(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    true: dict[str, np.ndarray],
    treat: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Latest systolic blood pressure and total cholesterol (after treatment).

    Untreated (including undiagnosed) hypertension raises blood pressure more
    than treated hypertension; statins lower cholesterol.

    References
    ----------
    .. [1] NHS England, "Health Survey for England 2021: Cardiovascular risk factors".
    """
    age = people["age"].astype(np.float64)
    n = len(age)
    s = P.RISK_MEASURES["systolic_bp"]
    adult = (
        s["adult_at_30"] + s["per_year_over_30"] * np.maximum(age - 30, 0) + s["male"] * (~people["female"])
    )
    child = s["child_at_5"] + s["child_per_year"] * (np.clip(age, 5, 18) - 5)
    htn = np.where(
        true["hypertension"],
        np.where(treat["antihypertensive"], s["hypertension_treated"], s["hypertension_untreated"]),
        0.0,
    )
    sbp = np.where(age >= 18, adult, child) + htn + rng.normal(0.0, s["sd"], n)
    c = P.RISK_MEASURES["cholesterol"]
    chol_adult = (
        c["adult_at_20"]
        + c["per_year_20_to_60"] * (np.clip(age, 20, 60) - 20)
        + c["per_year_over_60"] * np.maximum(age - 60, 0)
    )
    chol = (
        np.where(age >= 18, chol_adult, c["child"])
        + c["statin"] * treat["statin"]
        + c["diabetes"] * true["diabetes"]
        + rng.normal(0.0, c["sd"], n)
    )
    return {
        "systolic_bp": np.round(np.clip(sbp, 60.0, 260.0), 0),
        "cholesterol": np.round(np.clip(chol, 1.0, 20.0), 1),
    }


def referral_log_odds(
    people: dict[str, np.ndarray], rec: dict[str, np.ndarray], *, step: np.ndarray | float | None = None
) -> np.ndarray:
    """Log-odds of cardiology referral: need (recorded conditions, age over 40) and deprivation.

    Parameters
    ----------
    people, rec : the people and their *recorded* conditions.
    step : quintile steps to use instead of the people's own (``0`` gives the log-odds for the
        same need in the least deprived quintile).
    """
    r = P.ACCESS["referral"]
    age = people["age"].astype(np.float64)
    lp = (
        r["intercept"]
        + np.log(r["or_per_10_years_over_40"]) * np.maximum(age - 40, 0) / 10
        + np.log(r["or_per_quintile_step"]) * (people["step"] if step is None else step)
    )
    for name, ratio in r["odds_ratios"].items():
        lp += np.log(ratio) * rec[name]
    return lp


def first_outpatient_mean(people: dict[str, np.ndarray]) -> np.ndarray:
    """Mean days from referral to first outpatient appointment (before rounding and the cap)."""
    d = P.ACCESS["days_to_first_outpatient"]
    return d["mean_q5"] * d["rr_per_quintile_step"] ** people["step"]


def missed_mean(people: dict[str, np.ndarray]) -> np.ndarray:
    """Mean number of missed appointments of a referred person (before the cap of 100)."""
    m = P.ACCESS["missed_appointments"]
    age = people["age"].astype(np.float64)
    return (
        m["mean_q5"] * m["rr_per_quintile_step"] ** people["step"] * np.where(age < 40, m["rr_under_40"], 1.0)
    )


def access(
    rng: np.random.Generator, people: dict[str, np.ndarray], rec: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Cardiology referral, days to first outpatient appointment and missed appointments.

    Days: gamma with mean ``mean_q5 * rr ** (5 - q)``; a share not yet seen is
    missing (NaN here, null in the table). Missed appointments: negative binomial
    as a gamma-Poisson mixture, zero for people not referred.

    References
    ----------
    .. [1] Cameron AC, Trivedi PK. Regression Analysis of Count Data, 2nd ed., 2013,
       section 4.2 (negative binomial as a gamma-Poisson mixture).
    """
    a = P.ACCESS
    n = len(people["age"])
    referred = rng.random(n) < logistic(referral_log_odds(people, rec))
    d = a["days_to_first_outpatient"]
    mean = first_outpatient_mean(people)
    days = np.round(rng.gamma(d["shape"], mean / d["shape"]))
    seen = referred & (rng.random(n) >= d["not_yet_seen"])
    days = np.where(seen, np.clip(days, 0, d["max"]), np.nan)
    m = a["missed_appointments"]
    mu = missed_mean(people)
    missed = rng.poisson(rng.gamma(m["nb_shape"], mu / m["nb_shape"]))
    return {
        "cardiology_referral": referred,
        "days_to_first_outpatient": days,
        "missed_appointments": np.where(referred, np.minimum(missed, 100), 0).astype(np.int64),
    }


def log_rate(
    spec: dict, people: dict[str, np.ndarray], true: dict[str, np.ndarray], treat: dict[str, np.ndarray]
) -> np.ndarray:
    """Log of the yearly rate of an outcome (``P.OUTCOMES[...]``) from age, sex, deprivation,
    *true* conditions and treatments."""
    age = people["age"].astype(np.float64)
    lr = np.log(spec["rate_at_60"]) + spec["age_log_rr_per_year"] * (age - 60.0)
    for key, ratio in spec["rate_ratios"].items():
        if key == "male":
            x = ~people["female"]
        elif key == "imd_quintile_step":
            x = people["step"]
        elif key in treat:
            x = treat[key]
        else:
            x = true[key]
        lr = lr + np.log(ratio) * x
    return lr


def added_log_rate(spec: dict, people: dict[str, np.ndarray]) -> np.ndarray:
    """Log of the rate ratio added on top of :func:`log_rate` (see ``P.OUTCOMES``): by *recorded*
    ethnic group (``ethnicity_rate_ratios``) and per quintile step under ``P.PREMATURE_AGE``
    (``premature_rr_per_quintile_step``); 0 where an outcome has neither."""
    n = len(people["age"])
    out = np.zeros(n, dtype=np.float64)
    ratios = spec.get("ethnicity_rate_ratios") or {}
    if ratios:
        log_rr = np.zeros(len(ETHNICITY_CODES), dtype=np.float64)
        for group, ratio in ratios.items():
            log_rr[ETHNICITY_CODES.index(group)] = np.log(ratio)
        out = out + log_rr[people["eth"]]
    step_rr = spec.get("premature_rr_per_quintile_step")
    if step_rr is not None:
        out = out + np.log(step_rr) * people["step"] * (people["age"] < P.PREMATURE_AGE)
    return out


def outcomes(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    true: dict[str, np.ndarray],
    treat: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """CVD emergency admissions (Poisson) and CVD death (probability ``1 - exp(-rate)``).

    References
    ----------
    .. [1] OHID Fingertips, "Cardiovascular disease profiles": emergency admissions and
       mortality from CVD by deprivation.
    """
    lam = np.exp(log_rate(P.OUTCOMES["cvd_admissions"], people, true, treat))
    admissions = np.minimum(rng.poisson(lam), 100).astype(np.int64)
    mu = np.exp(log_rate(P.OUTCOMES["cvd_death"], people, true, treat))
    death = rng.random(len(mu)) < 1.0 - np.exp(-mu)
    return {"cvd_admissions": admissions, "cvd_death": death}


def added_outcomes(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    true: dict[str, np.ndarray],
    treat: dict[str, np.ndarray],
    base: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """The admissions and deaths of the added rate ratios (:func:`added_log_rate`), from their own stream.

    Admissions: the base count plus a Poisson count with the rate added
    (``rate * (ratio - 1)``), so the total is Poisson with ``rate * ratio``. Death: the base
    death, or else an added death with probability ``1 - exp(-rate * (ratio - 1))``, so
    P(death) = ``1 - exp(-rate * ratio)``. Without added terms the base is returned unchanged.

    Parameters
    ----------
    rng : the step's own random stream.
    people, true, treat : as :func:`outcomes`.
    base : what :func:`outcomes` drew.
    """
    n = len(people["age"])
    out = {}
    extra_death = rng.random(n)
    for name, drawn in (("cvd_death", extra_death), ("cvd_admissions", None)):
        spec = P.OUTCOMES[name]
        rate = np.exp(log_rate(spec, people, true, treat))
        added = rate * np.expm1(added_log_rate(spec, people))
        if drawn is None:
            out[name] = np.minimum(base[name] + rng.poisson(added), 100).astype(np.int64)
        else:
            out[name] = base[name] | (drawn < -np.expm1(-added))
    return out
