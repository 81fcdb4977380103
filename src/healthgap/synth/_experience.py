"""The referral pathway and what patients experience: referral-to-treatment times, appointments
cancelled by the hospital, and the GP Patient Survey answer.

Each step draws from its own random stream after every earlier step of the population, so the
earlier columns are the same with or without these. The probabilities and means are functions of
their own, so the truth (``effects``) can state what was expected as well as what happened.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from healthgap.contract import ETHNICITY_CODES
from healthgap.synth import _params as P
from healthgap.synth._people import logistic

__all__ = [
    "treatment_gap_mean",
    "days_to_treatment",
    "cancellation_mean",
    "provider_cancellations",
    "response_probability",
    "good_experience_probability",
    "gp_survey",
]

_ETH = {name: i for i, name in enumerate(ETHNICITY_CODES)}


def treatment_gap_mean(people: dict[str, np.ndarray]) -> np.ndarray:
    """Mean days from the first outpatient appointment to treatment, when treatment is not at it."""
    t = P.ACCESS["days_to_treatment"]
    return t["gap_mean_q5"] * t["gap_rr_per_quintile_step"] ** people["step"]


def days_to_treatment(
    rng: np.random.Generator, people: dict[str, np.ndarray], first: np.ndarray
) -> np.ndarray:
    """Days from referral to first definitive treatment (the RTT clock); NaN if not treated.

    Parameters
    ----------
    rng : the step's own random stream.
    people : the people (``step``).
    first : days from referral to first outpatient appointment, NaN if not referred or not seen.

    Returns
    -------
    numpy.ndarray
        ``min(first + gap, max)`` for people seen and treated during the year (probability
        ``treated_if_seen``), where the gap is 0 with probability ``at_first_appointment`` and
        otherwise ``round(gamma)`` days with mean :func:`treatment_gap_mean`; NaN for others.

    References
    ----------
    .. [1] NHS England, "Recording and reporting referral to treatment (RTT) waiting times for
       consultant-led elective care" (2023): the clock starts at referral and stops at first
       definitive treatment, which may be given at the first outpatient appointment.
    """
    t = P.ACCESS["days_to_treatment"]
    n = len(first)
    treated = ~np.isnan(first) & (rng.random(n) < t["treated_if_seen"])
    at_first = rng.random(n) < t["at_first_appointment"]
    gap = np.round(rng.gamma(t["gap_shape"], treatment_gap_mean(people) / t["gap_shape"]))
    total = np.minimum(np.where(at_first, 0.0, gap) + np.nan_to_num(first), t["max"])
    return np.where(treated, total, np.nan)


def cancellation_mean(area_locality: Sequence[str], area_idx: np.ndarray) -> np.ndarray:
    """Mean appointments cancelled by the hospital for a referred person.

    Parameters
    ----------
    area_locality : the locality of each area (the areas table's ``locality``).
    area_idx : each person's area (row of the areas table).
    """
    c = P.EXPERIENCE["provider_cancellations"]
    factor = np.array([c["rr_by_locality"].get(str(name), 1.0) for name in area_locality], dtype=np.float64)
    return c["mean_reference"] * factor[area_idx]


def provider_cancellations(
    rng: np.random.Generator, referred: np.ndarray, area_locality: Sequence[str], area_idx: np.ndarray
) -> np.ndarray:
    """Cardiology appointments cancelled by the hospital during the year; 0 if not referred.

    Negative binomial as a gamma-Poisson mixture with mean :func:`cancellation_mean`, capped at 100.

    References
    ----------
    .. [1] NHS England, Hospital Outpatient Activity 2022-23: appointments cancelled by the
       hospital.
    """
    c = P.EXPERIENCE["provider_cancellations"]
    mu = cancellation_mean(area_locality, area_idx)
    drawn = rng.poisson(rng.gamma(c["nb_shape"], mu / c["nb_shape"]))
    return np.where(referred, np.minimum(drawn, 100), 0).astype(np.int64)


def _survey_log_odds(spec: dict, people: dict[str, np.ndarray]) -> np.ndarray:
    """Log-odds of a survey model: age (capped), quintile step and *recorded* ethnic group."""
    age = people["age"].astype(np.float64)
    log_or = np.zeros(len(ETHNICITY_CODES))
    for group, ratio in spec["ethnicity_odds_ratios"].items():
        log_or[_ETH[group]] = np.log(ratio)
    return (
        spec["intercept"]
        + spec["age_log_odds_per_year"] * (np.minimum(age, spec["max_age"]) - 60.0)
        + np.log(spec["or_per_quintile_step"]) * people["step"]
        + log_or[people["eth"]]
    )


def response_probability(people: dict[str, np.ndarray]) -> np.ndarray:
    """P(answers the survey question): 0 under the survey's minimum age."""
    g = P.EXPERIENCE["gp_experience"]
    p = logistic(_survey_log_odds(g["response"], people))
    return np.where(people["age"] >= g["min_age"], p, 0.0)


def good_experience_probability(people: dict[str, np.ndarray]) -> np.ndarray:
    """P(overall experience of the GP practice is good | answers)."""
    return logistic(_survey_log_odds(P.EXPERIENCE["gp_experience"]["good"], people))


def gp_survey(rng: np.random.Generator, people: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Who answers the GP Patient Survey question, and whether their answer is "good".

    Returns
    -------
    (answered, good)
        Boolean arrays; ``good`` is drawn for everyone and is the answer only where ``answered``.

    References
    ----------
    .. [1] NHS England / Ipsos, GP Patient Survey 2024: technical annex (response by age,
       deprivation and ethnic group) and national results (overall experience, 74% good).
    """
    n = len(people["age"])
    answered = rng.random(n) < response_probability(people)
    good = rng.random(n) < good_experience_probability(people)
    return answered, good
