"""``truth["effects"]``: the machine-readable list of every injected inequality (issue 15).

Every entry's values are recomputed here from the population table alone, by an independent
route (the entry's SQL evaluated with polars, the book's own DSR for age-standardised rates);
the expected values are recomputed from the truth's parameters for the main effects; and the
figures the review quoted for the default population (n = 250,000, seed 2024) are checked.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from healthgap.contract import ETHNICITY_CODES
from healthgap.stats import ESP2013, counts_by_age_band
from healthgap.stats.dsr import dsr_table
from healthgap.stats.esp2013 import ESP2013_WEIGHTS
from healthgap.synth import _params as P
from healthgap.synth import generate
from healthgap.synth._effects import AGE_BAND_LABELS, KINDS, SCALES, STATISTICS, rtt_within_probability

Z = 4.5
FIELDS = (
    "id",
    "measure",
    "kind",
    "description",
    "injected",
    "parameters",
    "dimension",
    "group",
    "reference",
    "comparison",
    "group_sql",
    "reference_sql",
    "statistic",
    "numerator",
    "denominator",
    "per",
    "scale",
    "true_value",
    "group_value",
    "reference_value",
    "expected_value",
    "expected_group_value",
    "expected_reference_value",
    "people",
    "levels",
)
LEVELS = {
    "imd_quintile": ("1", "2", "3", "4", "5"),
    "ethnicity": ETHNICITY_CODES,
    "locality": tuple(loc["name"] for loc in P.LOCALITIES),
    "age": ("under 40", "40 and over"),
}


@pytest.fixture(scope="module")
def default() -> tuple[pl.DataFrame, dict]:
    """The default book's population: ``healthgap synth`` (n = 250,000, seed 2024)."""
    return generate(250_000, seed=2024)


@pytest.fixture(scope="module")
def small() -> tuple[pl.DataFrame, dict]:
    """Small enough that some groups have age bands with nobody in them."""
    return generate(8_000, seed=3)


def _effects(truth: dict) -> dict[str, dict]:
    return {e["id"]: e for e in truth["effects"]}


def _level_filter(dimension: str, level: str) -> pl.Expr:
    if dimension == "age":
        return pl.sql_expr("age < 40" if level == "under 40" else "age >= 40")
    return pl.col(dimension).cast(pl.String) == level


def _contrast(scale: str, group: float, reference: float) -> float | None:
    if scale == "difference":
        return group - reference
    return group / reference if reference else None  # no ratio to a zero rate


def recompute(df: pl.DataFrame, e: dict) -> dict[str, float]:
    """Each level's value of an entry, from the table and the entry's definition only."""
    den = pl.sql_expr(e["denominator"]).fill_null(False)
    people = df.filter(den)
    out = {}
    for level in e["levels"]:
        group = people.filter(_level_filter(e["dimension"], level))
        num = pl.sql_expr(e["numerator"]).cast(pl.Float64)
        if e["statistic"] == "crude":
            value = group.select(num.mean()).item() * e["per"]
        elif e["statistic"] == "observed/expected":
            value = group.select(num.sum() / pl.sql_expr(e["expected_count"]).sum()).item()
        else:  # the book's DSR: ESP2013, a band without people counting as a zero rate
            events = group.select("age", num.alias("events"), pl.lit("all").alias("k"))
            counts = counts_by_age_band(events, events="events", by="k")
            bands = None if len(e["age_bands"]) == 19 else e["age_bands"]
            # (by= is needed: dsr_table(bands=[...]) without by raises in healthgap.stats)
            table = dsr_table(
                counts,
                events="events",
                population="population",
                age_band="age_band",
                by="k",
                multiplier=e["per"],
                bands=bands,
            )
            value = table["value"].item()
            if value is None:  # the book gives no DSR from fewer than 10 events: the same sum by hand
                kept = counts.filter(pl.col("age_band").cast(pl.String).is_in(e["age_bands"]))
                weights = ESP2013.with_columns(pl.col("standard_population").cast(pl.Float64))
                rates = kept.join(weights, on="age_band").select(
                    pl.when(pl.col("population") > 0)
                    .then(pl.col("events") / pl.col("population"))
                    .otherwise(0.0),
                    "standard_population",
                )
                w = rates["standard_population"]
                value = (rates.to_series(0) * w).sum() / w.sum() * e["per"]
        out[level] = value
    return out


# --- the schema ------------------------------------------------------------------------------


def test_every_entry_is_complete_and_valid(default: tuple[pl.DataFrame, dict]) -> None:
    df, truth = default
    effects = truth["effects"]
    assert len({e["id"] for e in effects}) == len(effects)
    for e in effects:
        assert tuple(k for k in FIELDS if k in e) == FIELDS, e["id"]
        assert e["kind"] in KINDS and e["statistic"] in STATISTICS and e["scale"] in SCALES, e["id"]
        assert e["group"] in LEVELS[e["dimension"]] and e["reference"] in LEVELS[e["dimension"]], e["id"]
        assert e["measure"] in df.columns, e["id"]
        assert e["group"] in e["levels"] and e["reference"] in e["levels"], e["id"]
        if e["statistic"] == "dsr":
            assert e["age_bands"] == list(AGE_BAND_LABELS[: len(e["age_bands"])]), e["id"]
        assert ("expected_count" in e) == (e["statistic"] == "observed/expected"), e["id"]
        # the group SQL selects the same people as the dimension's level
        for key, level in (("group_sql", e["group"]), ("reference_sql", e["reference"])):
            by_sql = df.select(pl.sql_expr(e[key]).sum()).item()
            by_level = df.select(_level_filter(e["dimension"], level).sum()).item()
            assert by_sql == by_level, (e["id"], key)
        # a numerator always has a value inside its denominator
        inside = df.filter(pl.sql_expr(e["denominator"]).fill_null(False))
        assert inside.select(pl.sql_expr(e["numerator"]).null_count()).item() == 0, e["id"]
        for key in ("true_value", "expected_value"):
            assert isinstance(e[key], float) and math.isfinite(e[key]), (e["id"], key)


def test_parameters_are_the_truths_own(default: tuple[pl.DataFrame, dict]) -> None:
    truth = default[1]
    for e in truth["effects"]:
        assert e["parameters"], e["id"]
        for path, value in e["parameters"].items():
            if path.startswith("quintile 1 vs 5"):
                continue
            node = truth
            for key in path.split("."):
                node = node[key]
            assert node == value, (e["id"], path)


def test_the_review_list_is_covered() -> None:
    """Every injected effect the review found the book silent on has an entry."""
    ids = {e["id"] for e in generate(500, seed=1)[1]["effects"]}
    assert {
        "unrecorded_hypertension_black",
        "unrecorded_hypertension_not_stated",
        "antihypertensive_treatment_imd",
        "referral_same_need_imd",
        "missed_appointments_under_40",
        "current_smoking_imd",
        "bmi_imd",
        "recorded_af_prevalence_imd",
        "true_af_prevalence_imd",
        "recorded_ckd_prevalence_imd",
        "true_ckd_prevalence_imd",
        "hypertension_treated_among_true_imd",
        "true_hypertension_prevalence_imd",
        "cvd_admissions_asian",
        "cvd_admissions_black",
        # the new measures
        "rtt_within_18_weeks_imd",
        "provider_cancellations_tendring_coast",
        "gp_experience_good_asian",
        "gp_experience_response_imd",
        "premature_cvd_death_imd",
    } <= ids


def test_the_reviews_figures_for_the_default_population(default: tuple[pl.DataFrame, dict]) -> None:
    """The figures the review quoted (from the default book's data) are the truth's values."""
    e = _effects(default[1])

    def values(key: str, *fields: str) -> tuple[float, ...]:
        return tuple(round(e[key][f], 3) for f in fields)

    gr = ("group_value", "reference_value")
    assert values("unrecorded_hypertension_black", *gr) == pytest.approx((45.4, 32.8), abs=0.05)
    assert values("unrecorded_hypertension_not_stated", *gr) == pytest.approx((47.0, 32.8), abs=0.05)
    assert values("antihypertensive_treatment_imd", *gr) == pytest.approx((74.7, 87.0), abs=0.05)
    assert values("hypertension_treated_among_true_imd", *gr) == pytest.approx((42.7, 66.1), abs=0.05)
    assert values("true_hypertension_prevalence_imd", *gr) == pytest.approx((23.6, 17.4), abs=0.05)
    assert e["recorded_af_prevalence_imd"]["true_value"] == pytest.approx(
        0.75, abs=0.005
    )  # was 0.91: round 3
    assert e["true_af_prevalence_imd"]["true_value"] == pytest.approx(1.15, abs=0.005)
    assert e["recorded_ckd_prevalence_imd"]["true_value"] == pytest.approx(1.19, abs=0.005)
    assert e["true_ckd_prevalence_imd"]["true_value"] == pytest.approx(1.47, abs=0.005)
    # admission risk: the model's expected rates (1.45 and 1.29 from disease alone before round 3's
    # added ethnic rate ratios 1.5 and 2.0, which make them detectable at this size)
    assert e["cvd_admissions_asian"]["expected_value"] == pytest.approx(2.18, abs=0.005)
    assert e["cvd_admissions_black"]["expected_value"] == pytest.approx(2.57, abs=0.005)
    assert e["missed_appointments_under_40"]["parameters"] == {"access.missed_appointments.rr_under_40": 2.0}


# --- recomputed from the population ------------------------------------------------------------


@pytest.mark.parametrize("population", ["default", "small"])
def test_true_values_recomputed_from_the_population(population: str, request: pytest.FixtureRequest) -> None:
    df, truth = request.getfixturevalue(population)
    for e in truth["effects"]:
        got = recompute(df, e)
        assert set(got) == set(e["levels"]), e["id"]
        for level, value in got.items():
            assert e["levels"][level]["value"] == pytest.approx(value, rel=1e-6, abs=1e-6), (e["id"], level)
        g, r = got[e["group"]], got[e["reference"]]
        assert e["group_value"] == pytest.approx(g, rel=1e-6, abs=1e-6), e["id"]
        assert e["reference_value"] == pytest.approx(r, rel=1e-6, abs=1e-6), e["id"]
        contrast = _contrast(e["scale"], g, r)
        if contrast is None:
            assert e["true_value"] is None, e["id"]
        else:
            assert e["true_value"] == pytest.approx(contrast, rel=1e-5, abs=1e-5), e["id"]
        den = df.filter(pl.sql_expr(e["denominator"]).fill_null(False))
        for key, level in (("group", e["group"]), ("reference", e["reference"])):
            assert e["people"][key] == den.filter(_level_filter(e["dimension"], level)).height, e["id"]


def test_shares_agree_with_their_expected_values(default: tuple[pl.DataFrame, dict]) -> None:
    """A realised share and its expected share differ by chance only: within Z binomial SEs."""
    truth = default[1]
    for e in truth["effects"]:
        if e["statistic"] != "crude" or e["per"] != 100:
            continue
        for level, v in e["levels"].items():
            p, n = v["expected"] / 100, v["people"]
            se = math.sqrt(max(p * (1 - p), 1e-12) / n)
            assert abs(v["value"] / 100 - p) <= Z * se + 1 / n, (e["id"], level, v)


# --- expected values recomputed from the truth's parameters -------------------------------------


def _dsr(df: pl.DataFrame, events: np.ndarray, by: str, per: float) -> dict[str, float]:
    """ESP2013 DSR of float events (expected counts) by ``by``, every band, empty bands as 0."""
    frame = df.select(
        pl.col(by).cast(pl.String).alias("g"),
        (pl.col("age") // 5).clip(0, 18).alias("band"),
        pl.Series("x", events),
    )
    cells = frame.group_by("g", "band").agg(pl.col("x").sum(), pl.len().alias("n"))
    w = pl.DataFrame({"band": range(19), "w": ESP2013_WEIGHTS}, schema={"band": pl.Int64, "w": pl.Float64})
    rates = cells.with_columns(pl.col("band").cast(pl.Int64)).join(w, on="band")
    out = rates.group_by("g").agg((pl.col("x") / pl.col("n") * pl.col("w")).sum() / sum(ESP2013_WEIGHTS))
    return {g: v * per for g, v in out.iter_rows()}


def test_expected_admission_and_death_ratios_from_the_truth(default: tuple[pl.DataFrame, dict]) -> None:
    df, truth = default
    e = _effects(truth)
    for outcome, ids in (
        ("cvd_admissions", ("cvd_admissions_asian", "cvd_admissions_black")),
        ("cvd_death", ()),
    ):
        spec = truth["outcomes"][outcome]
        log_rate = math.log(spec["rate_at_60"]) + spec["age_log_rr_per_year"] * (df["age"].to_numpy() - 60.0)
        for key, ratio in spec["rate_ratios"].items():
            x = {
                "male": (df["sex"] == "male").to_numpy(),
                "imd_quintile_step": 5 - df["imd_quintile"].to_numpy(),
            }.get(key)
            if x is None:
                column = key if key in ("statin", "antihypertensive", "anticoagulant") else f"true_{key}"
                x = df[column].to_numpy()
            log_rate = log_rate + math.log(ratio) * x
        # the added rate ratios (their own stream): by recorded ethnic group, and per quintile
        # step under 75
        eth = df["ethnicity"].replace_strict(
            spec.get("ethnicity_rate_ratios", {}), default=1.0, return_dtype=pl.Float64
        )
        log_rate = log_rate + np.log(eth.to_numpy())
        under = (df["age"] < 75).to_numpy()
        step = spec.get("premature_rr_per_quintile_step", 1.0) ** (5 - df["imd_quintile"].to_numpy())
        log_rate = log_rate + np.where(under, np.log(step), 0.0)
        rate = np.exp(log_rate) if outcome == "cvd_admissions" else -np.expm1(-np.exp(log_rate))
        by_eth = _dsr(df, rate, "ethnicity", 1000.0)
        by_q = _dsr(df, rate, "imd_quintile", 1000.0)
        for key in ids:
            group = e[key]["group"]
            assert e[key]["expected_value"] == pytest.approx(by_eth[group] / by_eth["White"], rel=1e-5)
        entry = e[f"{outcome}_imd"]
        assert entry["expected_value"] == pytest.approx(by_q["1"] / by_q["5"], rel=1e-5)
        if outcome == "cvd_death":  # premature: the same death probabilities under 75, bands 0-74
            premature = e["premature_cvd_death_imd"]
            young = df["age"].to_numpy() < 75
            sub = df.filter(pl.Series(young))
            w = np.asarray(ESP2013_WEIGHTS[:15], dtype=float)
            got = {}
            for q in ("1", "5"):
                mask = (sub["imd_quintile"] == int(q)).to_numpy()
                band = np.minimum(sub["age"].to_numpy()[mask] // 5, 18)
                x = np.bincount(band, weights=rate[young][mask], minlength=15)[:15]
                n = np.bincount(band, minlength=15)[:15]
                got[q] = (np.where(n > 0, x / np.maximum(n, 1), 0) * w).sum() / w.sum() * 1_000  # per 1,000
            assert premature["expected_group_value"] == pytest.approx(got["1"], rel=1e-5)
            assert premature["expected_value"] == pytest.approx(got["1"] / got["5"], rel=1e-5)


def test_expected_detection_and_treatment_from_the_truth(default: tuple[pl.DataFrame, dict]) -> None:
    df, truth = default
    e = _effects(truth)
    det = truth["detection"]["hypertension"]
    cases = df.filter("true_hypertension")
    p = np.asarray(det["by_imd_quintile"])[cases["imd_quintile"].to_numpy() - 1] * (
        cases["ethnicity"]
        .replace_strict(det["ethnicity_multiplier"], default=1.0, return_dtype=pl.Float64)
        .to_numpy()
    )
    for key in (
        "unrecorded_hypertension_black",
        "unrecorded_hypertension_not_stated",
        "unrecorded_hypertension_imd",
    ):
        entry = e[key]
        for level in (entry["group"], entry["reference"]):
            mask = cases.select(_level_filter(entry["dimension"], level)).to_series().to_numpy()
            expected = 100 * (1 - np.minimum(p[mask], 1)).mean()
            assert entry["levels"][level]["expected"] == pytest.approx(expected, rel=1e-6), (key, level)
    for t in ("statin", "antihypertensive", "anticoagulant"):
        by_q = truth["treatment"][t]["by_imd_quintile"]
        entry = e[f"{t}_treatment_imd"]
        assert (entry["expected_group_value"], entry["expected_reference_value"]) == pytest.approx(
            (100 * by_q[0], 100 * by_q[4])
        )
    # referral: observed/expected, the expected at quintile 5 being the need-only probability
    referral = e["referral_same_need_imd"]
    assert referral["expected_reference_value"] == pytest.approx(1.0)
    r = truth["access"]["referral"]
    q1 = df.filter(pl.col("imd_quintile") == 1)
    need = q1.select(pl.sql_expr(referral["expected_count"])).to_series().to_numpy()
    with_deprivation = 1 / (
        1 + np.exp(-(np.log(need / (1 - need)) + 4 * math.log(r["or_per_quintile_step"])))
    )
    assert referral["expected_group_value"] == pytest.approx(with_deprivation.sum() / need.sum(), rel=1e-6)


def test_rtt_within_18_weeks_probability_by_simulation() -> None:
    """The exact convolution against a simulation of the two rounded gamma waits."""
    rng = np.random.default_rng(0)
    first, t = P.ACCESS["days_to_first_outpatient"], P.ACCESS["days_to_treatment"]
    m = 400_000
    for step in (0.0, 4.0):
        d1 = np.round(
            rng.gamma(
                first["shape"], first["mean_q5"] * first["rr_per_quintile_step"] ** step / first["shape"], m
            )
        )
        mean = t["gap_mean_q5"] * t["gap_rr_per_quintile_step"] ** step
        gap = np.where(
            rng.random(m) < t["at_first_appointment"],
            0,
            np.round(rng.gamma(t["gap_shape"], mean / t["gap_shape"], m)),
        )
        share = (np.minimum(d1, first["max"]) + gap <= P.EIGHTEEN_WEEKS_DAYS).mean()
        p = rtt_within_probability(np.array([step]))[0]
        assert abs(share - p) <= Z * math.sqrt(p * (1 - p) / m), (step, share, p)


def test_esp2013_weights_match_the_books() -> None:
    assert P.ESP2013_WEIGHTS == tuple(ESP2013["standard_population"].to_list()) == ESP2013_WEIGHTS


def test_tiny_populations_give_null_values_not_errors() -> None:
    for n in (1, 40):
        effects = generate(n, seed=2)[1]["effects"]
        for e in effects:
            for key in ("true_value", "expected_value", "group_value", "reference_value"):
                assert e[key] is None or math.isfinite(e[key]), (n, e["id"], key)
