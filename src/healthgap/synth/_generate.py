"""Assemble the synthetic person table and its truth."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

from healthgap import __version__
from healthgap.contract import (
    COLUMNS,
    CONDITIONS,
    CONTRACT,
    ETHNICITY_CODES,
    SEX_CODES,
    SMOKING_CODES,
    TRUTH_PREFIX,
)
from healthgap.errors import HealthgapError
from healthgap.synth import _params as P
from healthgap.synth._care import access, added_outcomes, eligibility, measurements, outcomes, treatments
from healthgap.synth._effects import effect_conditions, effects, expectations
from healthgap.synth._experience import days_to_treatment, gp_survey, provider_cancellations
from healthgap.synth._geography import areas, practices
from healthgap.synth._people import (
    demography,
    draw_from_table,
    lifestyle,
    recorded_conditions,
    true_conditions,
)

__all__ = ["generate", "truth_parameters", "realised_summary", "MAX_N"]

#: Largest population generate() accepts (memory: ~1 GB per 5 million people).
MAX_N = 20_000_000
ERR_N = "synth: n must be a whole number from 1 to {max:,}; got {value!r}. Use e.g. --n 250000."
ERR_SEED = "synth: seed must be a whole number >= 0; got {value!r}. Use e.g. --seed 2024."
_QUINTILES = ("1", "2", "3", "4", "5")
#: Random streams: nine for the population of healthgap 0.1 (demography .. practices), then
#: referral to treatment, provider cancellations and the GP survey, then the added admission and
#: death rate ratios (``P.OUTCOMES``).
_STREAMS = 13

_ERR_SHARE = "Expected a non-empty boolean series, got {dtype} of length {n}."


def _check(n: object, seed: object) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= MAX_N:
        raise HealthgapError(ERR_N.format(max=MAX_N, value=n))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise HealthgapError(ERR_SEED.format(value=seed))
    return int(n), int(seed)


def _codes(codes: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(values=list(codes), dtype=pl.String).gather(idx)


def generate(n: int = 250_000, *, seed: int = 2024) -> tuple[pl.DataFrame, dict]:
    """Generate the synthetic population and the truth it was generated from.

    Parameters
    ----------
    n : int
        Number of people (the 549 areas and 100 practices stay the same at any n).
        The modelled catchment has about 960,000 people; the default 250,000 is a
        sample of it with the same structure.
    seed : int
        Random seed; the same ``(n, seed)`` always gives the same table.

    Returns
    -------
    (people, truth)
        ``people`` has every column of :mod:`healthgap.contract` (with the
        ``true_<condition>`` columns) in contract order and dtypes; ``truth`` is a
        JSON-serialisable dict of every parameter and realised summary figures.

    References
    ----------
    .. [1] See :mod:`healthgap.synth._params` for the source of every parameter.
    """
    n, seed = _check(n, seed)
    # One stream per step. Steps added later take streams after the first nine, so the
    # columns of the earlier steps stay the same for the same seed (spawn(k) starts with
    # the children of spawn(9)).
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence([seed, 0]).spawn(_STREAMS)]
    area = areas(seed)
    practice_table, choice = practices(area, seed)
    people = demography(streams[0], area, n)
    lifestyle(streams[1], people)
    kept = dict.fromkeys(effect_conditions(), np.empty(0))
    true = true_conditions(streams[2], people, keep=kept)
    rec = recorded_conditions(streams[3], people, true)
    treat = treatments(streams[4], people, rec)
    meas = measurements(streams[5], people, true, treat)
    acc = access(streams[6], people, rec)
    outc = outcomes(streams[7], people, true, treat)
    practice_idx = draw_from_table(streams[8], choice, people["area_idx"])
    area_locality = area["locality"].to_list()
    rtt = days_to_treatment(streams[9], people, acc["days_to_first_outpatient"])
    cancelled = provider_cancellations(
        streams[10], acc["cardiology_referral"], area_locality, people["area_idx"]
    )
    answered, good = gp_survey(streams[11], people)
    outc = added_outcomes(streams[12], people, true, treat, outc)

    ai = people["area_idx"]
    width = max(7, len(str(n)))
    data: dict[str, pl.Series | np.ndarray] = {
        "person_id": pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(width),
        "age": people["age"],
        "sex": _codes(SEX_CODES, np.where(people["female"], 0, 1)),
        "ethnicity": _codes(ETHNICITY_CODES, people["eth"]),
        "imd_decile": area["imd_decile"].to_numpy()[ai],
        "imd_quintile": people["imd_quintile"],
        "lsoa": area["lsoa"].gather(ai),
        "locality": area["locality"].gather(ai),
        "gp_practice": practice_table["gp_practice"].gather(practice_idx),
        **rec,
        "smoking": _codes(SMOKING_CODES, people["smoking"]),
        "bmi": people["bmi"],
        **meas,
        **treat,
        **acc,
        **outc,
        "days_to_treatment": rtt,
        "provider_cancellations": cancelled,
        "gp_experience_good": good,
        "premature_cvd_death": outc["cvd_death"] & (people["age"] < P.PREMATURE_AGE),
        "__answered": answered,
        **{f"{TRUTH_PREFIX}{c}": true[c] for c in CONDITIONS},
    }
    frame = pl.DataFrame({k: (v.alias(k) if isinstance(v, pl.Series) else v) for k, v in data.items()})
    frame = frame.with_columns(
        ("SYN" + pl.col("person_id")).alias("person_id"),
        pl.col("days_to_first_outpatient").fill_nan(None),
        pl.col("days_to_treatment").fill_nan(None),
        pl.when("__answered").then(pl.col("gp_experience_good")).alias("gp_experience_good"),
    ).select(pl.col(c).cast(CONTRACT[c].dtype) for c in COLUMNS)
    elig = eligibility(people, rec)
    truth = truth_parameters(n=n, seed=seed)
    truth["realised"] = realised_summary(frame, area, elig)
    truth["effects"] = effects(
        frame, expectations(people, true, rec, treat, area_locality, probabilities=kept)
    )
    return frame, truth


def truth_parameters(*, n: int, seed: int) -> dict:
    """Every parameter used by :func:`generate`, as a fresh JSON-serialisable dict.

    References
    ----------
    .. [1] See :mod:`healthgap.synth._params` for the public source of each value.
    """
    conditions = {}
    for c in P.CONDITION_ORDER:
        conditions[c] = {**P.CONDITION_MODELS[c], "qof_target_recorded_prevalence_percent": P.QOF_TARGETS[c]}
    params = {
        "synthetic": True,
        "note": P.SYNTHETIC_NOTE,
        "generator": "healthgap.synth",
        "healthgap_version": __version__,
        "seed": seed,
        "n": n,
        "sources": list(P.SOURCES),
        "conventions": {
            "imd_quintile_step": "Effects 'per quintile step' multiply the odds (or rate) by "
            "ratio ** (5 - imd_quintile): quintile 5 (least deprived) is the "
            "reference, quintile 1 (most deprived) gets ratio ** 4.",
            "reference_person": "Condition intercepts are log-odds for a White woman aged 60 in "
            "quintile 5, never smoker, BMI 25, without other conditions.",
            "detection": "P(recorded | true) = by_imd_quintile[q - 1] * ethnicity_multiplier"
            "[recorded ethnicity] (1 if absent), capped at 1; recorded implies true.",
            "treatment": "P(treated | eligible) = by_imd_quintile[q - 1]; never treated if "
            "not eligible; eligibility uses recorded conditions.",
            "outcomes": "rate = rate_at_60 * exp(age_log_rr_per_year * (age - 60)) * product "
            "of rate ratios (true conditions, treatments, male, quintile steps); "
            "admissions ~ Poisson(rate), death with probability 1 - exp(-rate).",
            "prevalence_denominator": "All prevalences here use the whole list (all ages).",
        },
        "geography": {
            "n_areas": int(sum(P.IMD_DECILE_COUNTS)),
            "n_practices": P.N_PRACTICES,
            "imd_decile_counts": {str(i + 1): c for i, c in enumerate(P.IMD_DECILE_COUNTS)},
            "localities": [
                {
                    "name": loc["name"],
                    "label": f"{loc['name']} (synthetic)",
                    "synthetic": True,
                    "type": loc["type"],
                    "areas": loc["areas"],
                    "modelled_on": loc["modelled_on"],
                }
                for loc in P.LOCALITIES
            ],
            "area_population": P.AREA_POPULATION,
            "practice_choice": P.PRACTICE_CHOICE,
        },
        "demography": {
            "age_bands_england_2021_percent": list(P.AGE_BANDS_ENGLAND_2021),
            "age_65_odds_by_area_type": P.AGE_65_ODDS_BY_TYPE,
            "sex": P.SEX,
            "ethnicity": P.ETHNICITY,
        },
        "risk_factors": {"smoking": P.SMOKING, "bmi": P.BMI, "measurements": P.RISK_MEASURES},
        "conditions": conditions,
        "detection": P.DETECTION,
        "treatment": P.TREATMENT,
        "access": P.ACCESS,
        "experience": P.EXPERIENCE,
        "outcomes": P.OUTCOMES,
    }
    return json.loads(json.dumps(params))  # deep copy: callers may not mutate the parameters


def _by_quintile(frame: pl.DataFrame, exprs: dict[str, pl.Expr], digits: int = 4) -> dict:
    """``{name: {"all": v, "1": v1, ..., "5": v5}}`` for each expression."""
    overall = frame.select(**exprs).row(0, named=True)
    by_q = frame.group_by("imd_quintile").agg(**exprs).sort("imd_quintile")
    out = {}
    for name in exprs:
        vals = dict(zip(by_q["imd_quintile"].cast(pl.String), by_q[name], strict=True))
        out[name] = {
            "all": _round(overall[name], digits),
            **{q: _round(vals.get(q), digits) for q in _QUINTILES},
        }
    return out


def _round(x: float | None, digits: int) -> float | None:
    """Round for the truth file; empty groups (None or NaN, e.g. 0/0) become null."""
    return None if x is None or not math.isfinite(float(x)) else round(float(x), digits)


def _share(mask: pl.Series) -> float:
    """Share of the true values of a boolean series with no missing values."""
    share = mask.mean()
    if not isinstance(share, float):
        raise TypeError(_ERR_SHARE.format(dtype=mask.dtype, n=len(mask)))
    return share


def realised_summary(frame: pl.DataFrame, area: pl.DataFrame, elig: dict[str, np.ndarray]) -> dict:
    """Realised figures of one generated table (not parameters): prevalence, rates, shares.

    Figures are overall (``"all"``) and by IMD quintile (``"1"``..``"5"``); an empty
    group gives null. Prevalences are per cent of the whole list (all ages).

    References
    ----------
    .. [1] NHS England, Quality and Outcomes Framework 2022-23 (prevalence = register
       count / list size).
    """
    adult = pl.col("age") >= 18
    prevalence = {}
    for c in CONDITIONS:
        t = pl.col(f"{TRUTH_PREFIX}{c}")
        figs = _by_quintile(
            frame,
            {
                "true_percent": 100 * t.mean(),
                "recorded_percent": 100 * pl.col(c).mean(),
                "recorded_over_true": pl.col(c).sum() / t.sum(),
            },
        )
        prevalence[c] = figs
    flagged = frame.with_columns(**{f"eligible_{k}": pl.Series(v) for k, v in elig.items()})
    treatment = {}
    for k in elig:
        e = pl.col(f"eligible_{k}")
        treatment[k] = _by_quintile(
            flagged,
            {
                "eligible": e.sum().cast(pl.Float64),
                "treated_share_of_eligible": pl.col(k).filter(e).mean(),
            },
        )
    people = _by_quintile(
        frame,
        {
            "cvd_admissions_per_1000": 1000 * pl.col("cvd_admissions").mean(),
            "cvd_deaths_per_1000": 1000 * pl.col("cvd_death").mean(),
            "current_smoking_percent_adults": 100 * (pl.col("smoking") == "current").filter(adult).mean(),
            "ethnicity_not_stated_percent": 100 * (pl.col("ethnicity") == "Not stated").mean(),
            "cardiology_referral_percent": 100 * pl.col("cardiology_referral").mean(),
            "mean_days_to_first_outpatient": pl.col("days_to_first_outpatient").mean(),
            "missed_appointments_per_referral": pl.col("missed_appointments")
            .filter(pl.col("cardiology_referral"))
            .mean(),
            "treated_within_18_weeks_percent": 100
            * (pl.col("days_to_treatment") <= P.EIGHTEEN_WEEKS_DAYS).drop_nulls().mean(),
            "provider_cancellations_per_referral": pl.col("provider_cancellations")
            .filter(pl.col("cardiology_referral"))
            .mean(),
            "gp_survey_response_percent": 100
            * pl.col("gp_experience_good")
            .is_not_null()
            .filter(pl.col("age") >= P.EXPERIENCE["gp_experience"]["min_age"])
            .mean(),
            "gp_experience_good_percent": 100 * pl.col("gp_experience_good").drop_nulls().mean(),
            "premature_cvd_deaths_per_1000_under_75": 1000
            * pl.col("premature_cvd_death").filter(pl.col("age") < P.PREMATURE_AGE).mean(),
        },
        digits=3,
    )
    eth = frame["ethnicity"].value_counts(normalize=True, name="share")
    eth_share = dict(zip(eth["ethnicity"], eth["share"], strict=True))
    return {
        "n": frame.height,
        "areas_by_imd_decile": {str(d): int((area["imd_decile"] == d).sum()) for d in range(1, 11)},
        "people_by_imd_quintile": {q: int((frame["imd_quintile"] == int(q)).sum()) for q in _QUINTILES},
        "female_percent": round(100 * _share(frame["sex"] == "female"), 3),
        "aged_65_plus_percent": round(100 * _share(frame["age"] >= 65), 3),
        "ethnicity_percent": {c: round(100 * float(eth_share.get(c, 0.0)), 3) for c in ETHNICITY_CODES},
        "prevalence": prevalence,
        "treatment": treatment,
        "by_imd_quintile": people,
    }
