"""A third example: a heart-study cohort extract shaped like the public Framingham teaching file.

The Framingham teaching extract has one row per participant aged 32-70 at baseline, ``male``
0/1, ``education`` 1-4, smoking, blood pressure, cholesterol and glucose in mg/dL, three
prevalent conditions, ``NA`` for missing values and a ten-year outcome (``TenYearCHD``). It has
no ethnicity, no area deprivation and no geography. This module makes such a file from the
synthetic population (:mod:`healthgap.synth`), so that the book can be tried on the shape
without the real data, and adds what a user would declare in the config: a non-cardiovascular
condition (``prevalentDepression``).

Education is the only social dimension. It is drawn from the synthetic person's area
deprivation (more deprived areas, less schooling), so the inequalities the synthetic
population has by deprivation (diabetes, stroke, treatment) show up by education; on top of
that, the odds of smoking, depression and coronary heart disease within ten years rise by the
fixed ratios in :data:`EDUCATION_ODDS_RATIOS` for each step down from college (level 4) to
some high school (level 1). ``data/examples/cohort.yml`` maps the file onto the contract.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from healthgap.errors import HealthgapError
from healthgap.examples._common import ERR_TOO_FEW, calibrated_draw, copy_config, out_dir_of, with_missing

__all__ = [
    "cohort_frame",
    "write_cohort",
    "COHORT_COLUMNS",
    "COHORT_AGES",
    "EDUCATION_SHARES",
    "EDUCATION_ODDS_RATIOS",
    "COHORT_MISSING",
    "COHORT_RATES",
    "MG_PER_MMOL_CHOLESTEROL",
]

#: The file's columns, in order (Framingham names, plus the declared depression flag).
COHORT_COLUMNS: tuple[str, ...] = (
    "participant",
    "male",
    "age",
    "education",
    "currentSmoker",
    "cigsPerDay",
    "BPMeds",
    "prevalentStroke",
    "prevalentHyp",
    "diabetes",
    "prevalentDepression",
    "totChol",
    "sysBP",
    "diaBP",
    "BMI",
    "heartRate",
    "glucose",
    "TenYearCHD",
)
#: Ages at baseline (inclusive), as in the Framingham teaching extract.
COHORT_AGES: tuple[int, int] = (32, 70)
#: Share of participants at each education level 1-4 (1 = some high school, 4 = college).
EDUCATION_SHARES: tuple[float, float, float, float] = (0.415, 0.302, 0.167, 0.116)
#: Odds ratio per education step below college (level 4 -> 3 -> 2 -> 1).
EDUCATION_ODDS_RATIOS: dict[str, float] = {
    "currentSmoker": 1.3,
    "prevalentDepression": 1.35,
    "TenYearCHD": 1.25,
}
#: Average share with each flag (the logistic models are calibrated to these).
COHORT_RATES: dict[str, float] = {"currentSmoker": 0.45, "prevalentDepression": 0.12, "TenYearCHD": 0.15}
#: Share of values missing (written as NA, except BPMeds: 9) in each column, as in the real file.
COHORT_MISSING: dict[str, float] = {
    "education": 0.025,
    "cigsPerDay": 0.007,
    "BPMeds": 0.013,
    "totChol": 0.012,
    "BMI": 0.005,
    "heartRate": 0.001,
    "glucose": 0.09,
}
#: mg/dL of total cholesterol in one mmol/L (molar mass of cholesterol, 386.7 g/mol).
MG_PER_MMOL_CHOLESTEROL = 38.67
_MG_PER_MMOL_GLUCOSE = 18.016
#: How strongly education follows area deprivation: latent schooling = this x (quintile - 3) + noise.
_DEPRIVATION_LOADING = 0.6
#: Base population per participant wanted (about half of the synthetic population is 32-70).
_BASE_FACTOR = 2.6
_CIGARETTES = np.array([1, 3, 5, 9, 10, 15, 20, 20, 20, 25, 30, 40])


def _education(quintile: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Education level 1-4 from area deprivation quintile (1 = most deprived) plus noise,
    cut at the shares of :data:`EDUCATION_SHARES`."""
    latent = _DEPRIVATION_LOADING * (quintile - 3) + rng.normal(0.0, 1.0, quintile.shape[0])
    cuts = np.quantile(latent, np.cumsum(EDUCATION_SHARES)[:-1])
    return np.searchsorted(cuts, latent, side="right") + 1


def cohort_frame(people: pl.DataFrame, *, seed: int = 1948) -> pl.DataFrame:
    """Reshape a canonical synthetic population into the cohort's layout.

    Keeps the people aged :data:`COHORT_AGES` without recorded coronary heart disease at
    baseline (the study followed people free of it), in their order.

    Parameters
    ----------
    people : canonical person table from :func:`healthgap.synth.generate` (with ``imd_quintile``).
    seed : seed for education, smoking, depression, the ten-year outcome, the extra
        measurements and the missing values.

    Returns
    -------
    polars.DataFrame
        Columns :data:`COHORT_COLUMNS`: 0/1 flags (``BPMeds`` 9 = missing), mg/dL, nulls for
        missing values.

    References
    ----------
    .. [1] Framingham Heart Study teaching dataset (National Heart, Lung, and Blood Institute),
       as distributed for teaching: variables and codings.
    .. [2] Wilson PWF et al. Prediction of coronary heart disease using risk factor categories.
       Circulation 1998;97:1837-47 (the size of the risk factor effects, rounded).
    """
    low, high = COHORT_AGES
    base = people.filter(pl.col("age").is_between(low, high) & ~pl.col("chd"))
    rng = np.random.default_rng(seed)
    n = base.height
    age = base["age"].to_numpy().astype(float)
    male = (base["sex"] == "male").to_numpy().astype(np.int64)
    education = _education(base["imd_quintile"].to_numpy().astype(float), rng)
    steps = (4 - education).astype(float)  # 0 for college, 3 for some high school
    log_or = {k: math.log(v) for k, v in EDUCATION_ODDS_RATIOS.items()}

    smoker = calibrated_draw(
        0.3 * male - 0.03 * (age - 50) + log_or["currentSmoker"] * steps, COHORT_RATES["currentSmoker"], rng
    )
    cigarettes = np.where(smoker == 1, rng.choice(_CIGARETTES, n), 0)
    depression = calibrated_draw(
        -0.6 * male - 0.01 * (age - 50) + log_or["prevalentDepression"] * steps,
        COHORT_RATES["prevalentDepression"],
        rng,
    )
    hypertension = base["hypertension"].to_numpy().astype(np.int64)
    diabetes = base["diabetes"].to_numpy().astype(np.int64)
    stroke = base["stroke_tia"].to_numpy().astype(np.int64)
    sbp = np.round(base["systolic_bp"].to_numpy() * 2) / 2
    dbp = np.round((0.45 * sbp + 24 + rng.normal(0, 7, n)) * 2) / 2
    chol_mg = np.round(base["cholesterol"].to_numpy() * MG_PER_MMOL_CHOLESTEROL)
    glucose_mmol = np.where(diabetes == 1, rng.normal(9.4, 3.3, n), rng.normal(4.4, 0.55, n))
    glucose_mg = np.clip(np.round(glucose_mmol * _MG_PER_MMOL_GLUCOSE), 40, 394)
    heart_rate = np.clip(np.round(rng.normal(75.9, 12, n)), 44, 143)
    chd = calibrated_draw(
        0.065 * (age - 50)
        + 0.55 * male
        + 0.015 * (sbp - 130)
        + 0.004 * (chol_mg - 235)
        + 0.35 * smoker
        + 0.6 * diabetes
        + 0.3 * stroke
        + log_or["TenYearCHD"] * steps,
        COHORT_RATES["TenYearCHD"],
        rng,
    )
    bp_meds = base["antihypertensive"].to_numpy().astype(np.int64)
    bp_meds = np.where(rng.random(n) < COHORT_MISSING["BPMeds"], 9, bp_meds)
    miss = COHORT_MISSING
    columns = {
        "participant": np.arange(1, n + 1),
        "male": male,
        "age": base["age"].to_numpy(),
        "education": with_missing(education, miss["education"], rng),
        "currentSmoker": smoker,
        "cigsPerDay": with_missing(cigarettes, miss["cigsPerDay"], rng),
        "BPMeds": bp_meds,
        "prevalentStroke": stroke,
        "prevalentHyp": hypertension,
        "diabetes": diabetes,
        "prevalentDepression": depression,
        "totChol": with_missing(chol_mg.astype(np.int64), miss["totChol"], rng),
        "sysBP": sbp,
        "diaBP": dbp,
        "BMI": with_missing(np.round(base["bmi"].to_numpy(), 2), miss["BMI"], rng),
        "heartRate": with_missing(heart_rate.astype(np.int64), miss["heartRate"], rng),
        "glucose": with_missing(glucose_mg.astype(np.int64), miss["glucose"], rng),
        "TenYearCHD": chd,
    }
    schema = {c: (pl.Float64 if c in ("sysBP", "diaBP", "BMI") else pl.Int64) for c in COHORT_COLUMNS}
    return pl.DataFrame(columns, schema=schema)


def write_cohort(out_dir: str | Path, *, n: int = 5_000, seed: int = 1948) -> Path:
    """Write ``cohort.csv`` (``NA`` for missing values) and its config ``cohort.yml`` into ``out_dir``.

    Parameters
    ----------
    out_dir : folder to write to (created if needed).
    n : number of participants.
    seed : seed for the synthetic population and the reshaping.

    Returns
    -------
    Path
        The CSV file written.

    Raises
    ------
    HealthgapError
        If the synthetic population has fewer than ``n`` people aged 32-70 free of CHD.
    """
    from healthgap import synth

    out = out_dir_of(out_dir)
    size = min(max(math.ceil(n * _BASE_FACTOR), 1_000), synth.MAX_N)
    people, _truth = synth.generate(size, seed=seed)
    # The synthetic table is in area order: shuffle it, so any n people are a random sample.
    frame = cohort_frame(people.sample(fraction=1.0, shuffle=True, seed=seed), seed=seed)
    if frame.height < n:
        raise HealthgapError(
            ERR_TOO_FEW.format(
                name="cohort", base=size, found=frame.height, who="aged 32-70 free of CHD", wanted=n
            )
        )
    path = out / "cohort.csv"
    frame.head(n).write_csv(path, null_value="NA")
    copy_config("cohort", out)
    return path
