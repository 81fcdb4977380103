"""People: demography, smoking and BMI, true disease and its detection.

Every step is vectorised over people with numpy; the only Python loops run over
parameters (conditions, categories), never over people. Each step takes its own
random stream so that changing one step does not reshuffle the others.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from healthgap.contract import ETHNICITY_CODES
from healthgap.synth import _params as P

__all__ = [
    "AREA_TYPES",
    "categorical",
    "draw_from_table",
    "demography",
    "lifestyle",
    "smoking_probabilities",
    "condition_probability",
    "true_conditions",
    "detection_probability",
    "recorded_conditions",
    "logistic",
]

AREA_TYPES: tuple[str, ...] = ("urban", "coastal", "rural")
_ETH = {name: i for i, name in enumerate(ETHNICITY_CODES)}


def logistic(x: np.ndarray) -> np.ndarray:
    """The inverse logit ``1 / (1 + exp(-x))``."""
    return 1.0 / (1.0 + np.exp(-x))


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows need not sum to 1): inverse CDF."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


def draw_from_table(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Draw category j with probability ``table[row, j]`` for each entry of ``row``.

    The cumulative rows are laid end to end, shifted by the row number, so a
    single sorted search serves every row.
    """
    k = table.shape[1]
    cum = np.cumsum(table / table.sum(1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(table.shape[0])[:, None]).ravel()
    u = rng.random(len(row))
    idx = np.searchsorted(flat, row + u, side="right") - row * k
    return np.minimum(idx, k - 1)


def demography(rng: np.random.Generator, area: pl.DataFrame, n: int) -> dict[str, np.ndarray]:
    """Area, age, sex, true and recorded ethnicity for ``n`` people.

    People are shared out between areas by a multinomial draw on the areas'
    population weights. Ages come from the England 2021 5-year bands with the
    odds of being 65+ multiplied by the area type's factor. Minority ethnic
    groups are likelier in urban, deprived areas and at younger ages;
    "Not stated" follows a logistic model (deprived, young).

    References
    ----------
    .. [1] ONS, "Population estimates for the UK, mid-2021"; Census 2021 TS007, TS021.
    """
    w = area["population_weight"].to_numpy()
    counts = rng.multinomial(n, w / w.sum())
    area_idx = np.repeat(np.arange(len(w)), counts)
    atype = np.array([AREA_TYPES.index(t) for t in area["area_type"].to_list()])[area_idx]
    quint = area["imd_quintile"].to_numpy()[area_idx]
    step = (5 - quint).astype(np.float64)

    base = np.array(P.AGE_BANDS_ENGLAND_2021, dtype=np.float64)
    table = np.tile(base, (len(AREA_TYPES), 1))
    for t, name in enumerate(AREA_TYPES):
        table[t, 13:] *= P.AGE_65_ODDS_BY_TYPE[name]
    band = draw_from_table(rng, table, atype)
    within = rng.random(n)
    old = np.floor(rng.exponential(3.5, n)).astype(np.int64)
    age = np.where(band < 18, band * 5 + np.floor(within * 5).astype(np.int64), 90 + np.minimum(old, 20))

    s = P.SEX
    ramp = np.clip((age - s["from_age"]) / (s["to_age"] - s["from_age"]), 0.0, 1.0)
    female = rng.random(n) < s["base_female"] + s["rise"] * ramp

    e = P.ETHNICITY
    groups = e["groups"]
    shares = np.array([e["shares_by_type"][t] for t in AREA_TYPES])[atype]  # (n, 5)
    minority = np.exp(
        e["minority_log_odds_per_year_over_40"] * (age - 40)
        + np.log(e["minority_or_per_quintile_step"]) * (step - 2)
    )
    odds = shares / shares[:, :1]
    odds[:, 1:] *= minority[:, None]
    eth_true = np.array([_ETH[g] for g in groups])[categorical(rng, odds)]
    ns = e["not_stated"]
    lp = (
        ns["intercept_logit"]
        + np.log(ns["or_per_quintile_step"]) * step
        + ns["log_odds_per_year_under_45"] * np.maximum(45 - age, 0)
    )
    not_stated = rng.random(n) < logistic(lp)
    eth_rec = np.where(not_stated, _ETH["Not stated"], eth_true)
    return {
        "area_idx": area_idx,
        "area_type": atype,
        "imd_quintile": quint,
        "step": step,
        "age": age.astype(np.int64),
        "female": female,
        "eth_true": eth_true,
        "eth": eth_rec,
    }


def lifestyle(rng: np.random.Generator, people: dict[str, np.ndarray]) -> None:
    """Add smoking (0 never, 1 ex, 2 current) and BMI to ``people`` in place.

    References
    ----------
    .. [1] ONS, "Adult smoking habits in the UK: 2022" (Annual Population Survey).
    .. [2] NHS England, "Health Survey for England 2021" (BMI).
    """
    age, step = people["age"], people["step"]
    sm = P.SMOKING
    smoking = categorical(rng, smoking_probabilities(people))
    people["smoking"] = np.where(age < sm["min_age"], 0, smoking)

    b = P.BMI
    adult = (
        b["adult_median"]
        + b["per_quintile_step"] * step
        + b["per_year_20_to_60"] * (np.clip(age, 20, 60) - 20)
        + b["per_year_over_70"] * np.maximum(age - 70, 0)
    )
    child = b["child_median_at_2"] + b["child_per_year"] * np.maximum(age - 2, 0)
    median = np.where(age >= 18, adult, np.minimum(child, adult))
    bmi = median * np.exp(rng.normal(0.0, b["log_sd"], len(age)))
    people["bmi"] = np.round(np.clip(bmi, 10.0, 90.0), 1)
    people["bmi_median"] = median


def smoking_probabilities(people: dict[str, np.ndarray]) -> np.ndarray:
    """Unnormalised probabilities (n, 3) of never, ex and current smoking (multinomial logit).

    Rows need not sum to 1 (divide by the row sum); :func:`lifestyle` sets everyone under
    ``P.SMOKING["min_age"]`` to never.
    """
    age, step = people["age"], people["step"]
    male = (~people["female"]).astype(np.float64)
    sm = P.SMOKING
    over40 = age - 40.0
    lps = [np.zeros(len(age))]
    for key in ("ex", "current"):
        c = sm[key]
        lps.append(
            c["intercept"]
            + c["male"] * male
            + np.log(c["or_per_quintile_step"]) * step
            + c["log_odds_per_year_over_40"] * np.maximum(over40, 0.0)
        )
    return np.exp(np.stack(lps, axis=1))


def _condition_lp(name: str, people: dict[str, np.ndarray], true: dict[str, np.ndarray]) -> np.ndarray:
    """Linear predictor (log-odds) of true ``name`` from its model in ``P.CONDITION_MODELS``."""
    m = P.CONDITION_MODELS[name]
    age = people["age"].astype(np.float64)
    lp = (
        m["intercept"]
        + m["age_slope"] * (np.minimum(age, m["knot"]) - 60.0)
        + m["age_slope_after_knot"] * np.maximum(age - m["knot"], 0.0)
    )
    for key, ratio in m["odds_ratios"].items():
        if key == "male":
            lp += np.log(ratio) * (~people["female"])
        elif key == "imd_quintile_step":
            lp += np.log(ratio) * people["step"]
        elif key == "ethnicity":
            log_or = np.zeros(len(ETHNICITY_CODES))
            for group, r in ratio.items():
                log_or[_ETH[group]] = np.log(r)
            lp += log_or[people["eth_true"]]
        elif key == "current_smoker":
            lp += np.log(ratio) * (people["smoking"] == 2)
        elif key == "ex_smoker":
            lp += np.log(ratio) * (people["smoking"] == 1)
        elif key == "bmi_per_5":
            lp += np.log(ratio) * (people["bmi"] - 25.0) / 5.0
        else:
            lp += np.log(ratio) * true[key]
    return lp


def true_conditions(
    rng: np.random.Generator, people: dict[str, np.ndarray], *, keep: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """True disease status for each condition, in ``P.CONDITION_ORDER``.

    ``keep``: a dict whose keys name conditions; their probabilities are stored in it.

    References
    ----------
    .. [1] Hippisley-Cox J, Coupland C, Brindle P. Development and validation of
       QRISK3 risk prediction algorithms. BMJ 2017;357:j2099.
    .. [2] Public Health England, "Hypertension prevalence estimates for local
       populations" (2016) and "Atrial fibrillation prevalence estimates" (2017).
    """
    true: dict[str, np.ndarray] = {}
    for name in P.CONDITION_ORDER:
        p = condition_probability(name, people, true)
        true[name] = rng.random(len(p)) < p
        if keep is not None and name in keep:
            keep[name] = p
    return true


def condition_probability(
    name: str, people: dict[str, np.ndarray], true: dict[str, np.ndarray]
) -> np.ndarray:
    """P(truly has ``name``) of each person, given the conditions generated before it in ``true``."""
    lp = _condition_lp(name, people, true)
    return np.where(people["age"] >= P.CONDITION_MODELS[name]["min_age"], logistic(lp), 0.0)


def detection_probability(name: str, *, imd_quintile: np.ndarray, ethnicity: np.ndarray) -> np.ndarray:
    """P(recorded | true) for ``name`` given IMD quintile (1..5) and recorded ethnicity codes.

    ``ethnicity`` holds indices into :data:`healthgap.contract.ETHNICITY_CODES`.
    The probability is ``by_imd_quintile[q - 1] * ethnicity_multiplier[group]``
    (multiplier 1 for groups not listed), capped at 1.

    References
    ----------
    .. [1] Public Health England, "Hypertension prevalence estimates for local
       populations" (2016): diagnosed versus estimated prevalence by deprivation.
    """
    d = P.DETECTION[name]
    mult = np.ones(len(ETHNICITY_CODES))
    for group, m in d["ethnicity_multiplier"].items():
        mult[_ETH[group]] = m
    return np.minimum(np.asarray(d["by_imd_quintile"])[imd_quintile - 1] * mult[ethnicity], 1.0)


def recorded_conditions(
    rng: np.random.Generator, people: dict[str, np.ndarray], true: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Recorded = true AND detected; never recorded without true disease.

    References
    ----------
    .. [1] NHS England, Quality and Outcomes Framework 2022-23: registers record
       diagnosed disease only, so register prevalence understates true prevalence.
    """
    out = {}
    for name in P.CONDITION_ORDER:
        p = detection_probability(name, imd_quintile=people["imd_quintile"], ethnicity=people["eth"])
        out[name] = true[name] & (rng.random(len(p)) < p)
    return out
