"""Tests of the synthetic population: determinism, contract conformance, and that the
data reproduce the truth they claim (checked by independent calculations: binomial
counts from the truth's own probabilities, and GLMs refitted by a small IRLS)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import deque
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthgap.contract import (
    COLUMNS,
    CONDITIONS,
    CONTRACT,
    ETHNICITY_CODES,
    SEX_CODES,
    SMOKING_CODES,
)
from healthgap.errors import HealthgapError
from healthgap.synth import areas, generate, geojson, write
from healthgap.synth._people import categorical, draw_from_table

N = 50_000
SEED = 31
Z = 4.5  # tolerance in standard errors: many comparisons, fixed seeds


@pytest.fixture(scope="module")
def pop() -> tuple[pl.DataFrame, dict]:
    return generate(N, seed=SEED)


@pytest.fixture(scope="module")
def big() -> tuple[pl.DataFrame, dict]:
    """Larger population for the rarer outcomes."""
    return generate(200_000, seed=5)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- helpers: independent reference calculations ------------------------------------


def irls(x: np.ndarray, y: np.ndarray, family: str, iters: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood GLM by Fisher scoring (iteratively reweighted least squares).

    ``family``: "logistic" (binomial, logit link), "poisson" (log link) or "cloglog"
    (binomial, complementary log-log link: P = 1 - exp(-exp(eta))). Started, as R's
    ``glm``, from the working response of ``mu = (y + 0.5) / 2`` (binomial) or
    ``y + 0.1`` (Poisson). Returns (coefficients, standard errors).

    References: McCullagh & Nelder, Generalized Linear Models, 2nd ed., sections 2.5, 4.3.
    """

    def link_parts(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if family == "logistic":
            mu = 1.0 / (1.0 + np.exp(-eta))
            return mu, mu * (1.0 - mu), mu * (1.0 - mu)
        if family == "poisson":
            mu = np.exp(eta)
            return mu, mu, mu
        rate = np.exp(eta)
        mu = -np.expm1(-rate)
        return mu, rate * np.exp(-rate), mu * (1.0 - mu)

    if family == "poisson":
        eta = np.log(y + 0.1)
    else:
        m0 = (y + 0.5) / 2.0
        eta = np.log(m0 / (1 - m0)) if family == "logistic" else np.log(-np.log1p(-m0))
    beta = None
    for _ in range(iters):
        mu, dmu, var = link_parts(eta)
        w = dmu**2 / var
        z = eta + (y - mu) / dmu
        info = (x * w[:, None]).T @ x
        new = np.linalg.solve(info, x.T @ (w * z))
        done = beta is not None and np.max(np.abs(new - beta)) < 1e-9
        beta = new
        eta = x @ beta
        if done:
            break
    else:
        raise AssertionError("IRLS did not converge")
    mu, dmu, var = link_parts(eta)
    info = (x * (dmu**2 / var)[:, None]).T @ x
    return beta, np.sqrt(np.diag(np.linalg.inv(info)))


def _design(
    df: pl.DataFrame, model: dict, *, knot: float | None
) -> tuple[np.ndarray, list[str], list[float]]:
    """Design matrix and the true coefficients named in a truth model."""
    age = df["age"].to_numpy().astype(float)
    cols, names, truth = [np.ones(len(age))], ["intercept"], [model.get("intercept", 0.0)]
    if knot is not None:
        cols.append(np.minimum(age, knot) - 60.0)
        names.append("age")
        truth.append(model["age_slope"])
        if knot < age.max():
            cols.append(np.maximum(age - knot, 0.0))
            names.append("age_after_knot")
            truth.append(model["age_slope_after_knot"])
    else:
        cols.append(age - 60.0)
        names.append("age")
        truth.append(model["age_log_rr_per_year"])
    ratios = model.get("odds_ratios") or model["rate_ratios"]
    for key, ratio in ratios.items():
        if key == "ethnicity":
            for group, r in ratio.items():
                cols.append((df["ethnicity"] == group).to_numpy().astype(float))
                names.append(group)
                truth.append(math.log(r))
            continue
        x = {
            "male": lambda: (df["sex"] == "male").to_numpy(),
            "imd_quintile_step": lambda: 5 - df["imd_quintile"].to_numpy(),
            "current_smoker": lambda: (df["smoking"] == "current").to_numpy(),
            "ex_smoker": lambda: (df["smoking"] == "ex").to_numpy(),
            "bmi_per_5": lambda: (df["bmi"].to_numpy() - 25.0) / 5.0,
        }.get(
            key,
            lambda k=key: df[
                k if k in ("statin", "antihypertensive", "anticoagulant") else f"true_{k}"
            ].to_numpy(),
        )()
        cols.append(np.asarray(x, dtype=float))
        names.append(key)
        truth.append(math.log(ratio))
    return np.column_stack(cols), names, truth


# --- sampling helpers against a reference -------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([0.0, 0.05, 0.2, 1.0, 3.0]), min_size=4, max_size=4).filter(
            lambda row: sum(row) > 0
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(0, 2**32 - 1),
)
def test_draw_from_table_matches_probabilities(rows: list[list[float]], seed: int) -> None:
    table = np.array(rows)
    m = 4000
    which = np.repeat(np.arange(len(rows)), m)
    got = draw_from_table(np.random.default_rng(seed), table, which)
    per_row_table = categorical(np.random.default_rng(seed), table[which])
    for draws in (got, per_row_table):
        for i, row in enumerate(table):
            p = row / row.sum()
            counts = np.bincount(draws[which == i], minlength=4)
            assert counts[p == 0].sum() == 0  # impossible categories never drawn
            sd = np.sqrt(m * p * (1 - p))
            assert np.all(np.abs(counts - m * p) <= 5 * sd + 1)


# --- determinism ---------------------------------------------------------------------


def test_write_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path) -> None:
    a = write(tmp_path / "a", n=20_000, seed=3)
    b = write(tmp_path / "b", n=20_000, seed=3)
    c = write(tmp_path / "c", n=20_000, seed=4)
    assert set(a) == {"population", "truth", "areas"}
    for key in a:
        assert a[key].name == b[key].name
        assert _sha(a[key]) == _sha(b[key]), key
    assert _sha(a["population"]) != _sha(c["population"])
    assert _sha(a["truth"]) != _sha(c["truth"])
    back = pl.read_parquet(a["population"])
    assert back.equals(generate(20_000, seed=3)[0])


def test_generate_is_deterministic(pop: tuple[pl.DataFrame, dict]) -> None:
    df, truth = generate(N, seed=SEED)
    assert df.equals(pop[0])
    assert json.dumps(truth) == json.dumps(pop[1])
    other = generate(N, seed=SEED + 1)[0]
    assert not other.equals(df)


def test_bad_arguments_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(HealthgapError, match="n must be a whole number"):
        generate(0)
    with pytest.raises(HealthgapError, match="n must be a whole number"):
        generate(12.5)  # type: ignore[arg-type]
    with pytest.raises(HealthgapError, match="seed must be a whole number"):
        generate(100, seed=-1)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HealthgapError, match="output folder"):
        write(blocker / "sub", n=100, seed=1)


def test_tiny_populations_give_strict_json(tmp_path: Path) -> None:
    for n in (1, 7):
        df, truth = generate(n, seed=2)
        assert df.height == n
        json.dumps(truth, allow_nan=False)  # empty groups are null, never NaN
    paths = write(tmp_path, n=3, seed=2)
    json.loads(paths["truth"].read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))


# --- contract conformance ------------------------------------------------------------


def test_columns_dtypes_and_order(pop: tuple[pl.DataFrame, dict]) -> None:
    df = pop[0]
    assert df.columns == list(COLUMNS)
    for name in COLUMNS:
        assert df.schema[name] == CONTRACT[name].dtype, name
    assert df.height == N


def test_codes_ranges_ids(pop: tuple[pl.DataFrame, dict]) -> None:
    df = pop[0]
    assert set(df["sex"].unique()) == set(SEX_CODES)
    assert set(df["ethnicity"].unique()) == set(ETHNICITY_CODES)
    assert set(df["smoking"].unique()) == set(SMOKING_CODES)
    for name, col in CONTRACT.items():
        if col.minimum is not None:
            s = df[name].drop_nulls()
            assert s.min() >= col.minimum and s.max() <= col.maximum, name
    assert df["person_id"].is_unique().all()
    assert df["person_id"].str.starts_with("SYN").all()
    assert df["lsoa"].str.contains(r"^E01SYN\d{3}$").all()
    assert df["gp_practice"].str.starts_with("SYNP").all()
    assert (df["imd_quintile"] == (df["imd_decile"] + 1) // 2).all()
    nulls = {c: n for c, n in zip(df.columns, df.null_count().row(0), strict=True) if n}
    # waits only for people seen (or treated); survey answers only from people who answered
    assert set(nulls) == {"days_to_first_outpatient", "days_to_treatment", "gp_experience_good"}
    # days only for referred people; nobody misses cardiology appointments unreferred
    assert df.filter(~pl.col("cardiology_referral"))["days_to_first_outpatient"].null_count() == (
        df.filter(~pl.col("cardiology_referral")).height
    )
    assert df.filter(~pl.col("cardiology_referral"))["missed_appointments"].sum() == 0
    assert df.filter(~pl.col("cardiology_referral"))["provider_cancellations"].sum() == 0
    # children have no CVD register entries
    assert df.filter(pl.col("age") < 18).select(pl.any_horizontal(list(CONDITIONS[:6]))).sum().item() == 0


# --- geography -----------------------------------------------------------------------


def test_areas_decile_counts_localities_contiguous() -> None:
    a = areas(2024)
    assert a.height == 549
    counts = a.group_by("imd_decile").len().sort("imd_decile")["len"].to_list()
    assert counts == [29, 42, 42, 51, 68, 92, 65, 58, 61, 41]
    assert a["lsoa"].is_unique().all()
    assert a["locality"].n_unique() == 7
    assert set(a["area_type"].unique()) == {"urban", "coastal", "rural"}
    assert a["lon"].min() > 0.2 and a["lon"].max() < 1.9
    assert a["lat"].min() > 51.5 and a["lat"].max() < 52.5
    # contiguity: breadth-first search over hexagon neighbours within each locality
    cells = {(q, r): loc for q, r, loc in a.select("q", "r", "locality").iter_rows()}
    for loc in a["locality"].unique():
        mine = {h for h, lc in cells.items() if lc == loc}
        start = next(iter(mine))
        seen, todo = {start}, deque([start])
        while todo:
            q, r = todo.popleft()
            for dq, dr in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)):
                nb = (q + dq, r + dr)
                if nb in mine and nb not in seen:
                    seen.add(nb)
                    todo.append(nb)
        assert seen == mine, loc
    # deprived coastal and urban localities, affluent rural ones
    mean = dict(a.group_by("locality").agg(pl.col("imd_decile").mean()).iter_rows())
    assert mean["Tendring Coast"] < 4.5 < mean["Babergh and Mid Suffolk"]
    assert areas(2024).equals(a)
    assert not areas(1)["imd_decile"].equals(a["imd_decile"])


def test_people_cover_all_areas_and_practices_mostly_local(pop: tuple[pl.DataFrame, dict]) -> None:
    df = pop[0]
    assert df["lsoa"].n_unique() == 549
    assert df["gp_practice"].n_unique() == 100
    a = areas(SEED)
    assert (
        df.join(a.select("lsoa", loc="locality", dec="imd_decile"), on="lsoa")
        .select((pl.col("loc") == pl.col("locality")).all() & (pl.col("dec") == pl.col("imd_decile")).all())
        .item()
    )
    # a practice's list comes mostly from one locality
    main_share = df.group_by("gp_practice").agg(
        (pl.col("locality") == pl.col("locality").mode().first()).mean().alias("s")
    )["s"]
    assert main_share.median() > 0.85


def test_geojson(tmp_path: Path) -> None:
    a = areas(9)
    gj = geojson(a)
    assert gj["type"] == "FeatureCollection" and gj["properties"]["synthetic"] is True
    assert [f["properties"]["lsoa"] for f in gj["features"]] == a["lsoa"].to_list()
    for f in gj["features"][:50]:
        ring = np.array(f["geometry"]["coordinates"][0])
        assert ring.shape == (7, 2) and (ring[0] == ring[-1]).all()
        area2 = np.sum(ring[:-1, 0] * ring[1:, 1] - ring[1:, 0] * ring[:-1, 1])
        assert area2 > 0  # RFC 7946: exterior rings counter-clockwise
        assert set(f["properties"]) >= {"lsoa", "locality", "imd_decile", "synthetic"}
    paths = write(tmp_path, n=500, seed=9)
    assert json.loads(paths["areas"].read_text()) == json.loads(json.dumps(gj))


# --- demography ----------------------------------------------------------------------


def test_demography(pop: tuple[pl.DataFrame, dict]) -> None:
    df = pop[0]
    old = (df["age"] >= 65).mean()
    assert 0.22 < old < 0.28  # older than England's 18.4%
    assert abs((df["sex"] == "female").mean() - 0.505) < 0.01
    stated = df.filter(pl.col("ethnicity") != "Not stated")
    assert (stated["ethnicity"] == "White").mean() > 0.9
    ns = (df["ethnicity"] == "Not stated").mean()
    assert 0.02 < ns < 0.06
    by_loc = dict(stated.group_by("locality").agg((pl.col("ethnicity") == "White").mean()).iter_rows())
    assert max(by_loc["Ipswich"], by_loc["Colchester"]) < min(
        by_loc["Babergh and Mid Suffolk"], by_loc["Tendring Coast"]
    )
    nsq = df.group_by("imd_quintile").agg((pl.col("ethnicity") == "Not stated").mean().alias("s"))
    nsq = dict(nsq.iter_rows())
    assert nsq[1] > nsq[5]
    young = df.filter(pl.col("age") < 30)["ethnicity"].eq("Not stated").mean()
    older = df.filter(pl.col("age") >= 60)["ethnicity"].eq("Not stated").mean()
    assert young > older


# --- disease and under-diagnosis -----------------------------------------------------


def test_recorded_never_without_true(pop: tuple[pl.DataFrame, dict]) -> None:
    df = pop[0]
    for c in CONDITIONS:
        assert df.filter(pl.col(c) & ~pl.col(f"true_{c}")).height == 0, c
        assert df[c].sum() < df[f"true_{c}"].sum(), c


@pytest.mark.parametrize("condition", CONDITIONS)
def test_detection_by_quintile_matches_truth(pop: tuple[pl.DataFrame, dict], condition: str) -> None:
    df, truth = pop
    det = truth["detection"][condition]
    cases = df.filter(pl.col(f"true_{condition}"))
    base = np.asarray(det["by_imd_quintile"])[cases["imd_quintile"].to_numpy() - 1]
    mult = (
        cases["ethnicity"]
        .replace_strict(det["ethnicity_multiplier"], default=1.0, return_dtype=pl.Float64)
        .to_numpy()
    )
    p = np.minimum(base * mult, 1.0)
    q = cases["imd_quintile"].to_numpy()
    rec = cases[condition].to_numpy()
    for k in range(1, 6):
        m = q == k
        expected, sd = p[m].sum(), math.sqrt((p[m] * (1 - p[m])).sum())
        assert abs(rec[m].sum() - expected) <= Z * sd + 1, (condition, k)
        realised = truth["realised"]["prevalence"][condition]["recorded_over_true"][str(k)]
        assert realised == pytest.approx(rec[m].mean(), abs=1e-4)
    if condition in ("hypertension", "af"):
        assert det["by_imd_quintile"][0] < det["by_imd_quintile"][4]
        gap = [rec[q == k].mean() for k in (1, 5)]
        assert gap[0] < gap[1]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_true_disease_model_recovered(pop: tuple[pl.DataFrame, dict], condition: str) -> None:
    """Refit the logistic model of true disease; every coefficient within Z SE of truth.

    People whose ethnicity is 'Not stated' are left out (their true group is hidden);
    being 'Not stated' depends only on age and quintile, so this does not bias the fit.
    """
    df, truth = pop
    model = truth["conditions"][condition]
    sub = df.filter((pl.col("age") >= model["min_age"]) & (pl.col("ethnicity") != "Not stated"))
    x, names, true = _design(sub, model, knot=model["knot"])
    beta, se = irls(x, sub[f"true_{condition}"].to_numpy().astype(float), "logistic")
    for name, b, s, t in zip(names, beta, se, true, strict=True):
        assert abs(b - t) <= Z * s, (condition, name, b, t, s)


def test_age_gradient_and_inequalities(pop: tuple[pl.DataFrame, dict]) -> None:
    df, truth = pop
    bands = (
        df.with_columns(band=pl.col("age").clip(0, 99) // 20)
        .group_by("band")
        .agg(pl.col("true_hypertension").mean())
        .sort("band")
    )
    prev = bands["true_hypertension"].to_list()
    assert all(a < b for a, b in itertools.pairwise(prev))
    assert prev[-1] > 0.5 > prev[1]
    q = dict(df.group_by("imd_quintile").agg(pl.col("true_chd").mean()).iter_rows())
    assert truth["conditions"]["chd"]["odds_ratios"]["imd_quintile_step"] > 1
    assert q[1] > q[5]
    ors = {c: truth["conditions"][c]["odds_ratios"]["ethnicity"] for c in CONDITIONS}
    assert ors["chd"]["Asian"] > 1 and ors["hypertension"]["Black"] > 1 and ors["stroke_tia"]["Black"] > 1
    assert ors["af"]["Asian"] < 1 and ors["af"]["Black"] < 1


def test_prevalence_near_qof_targets(big: tuple[pl.DataFrame, dict]) -> None:
    df, truth = big
    for c in CONDITIONS:
        target = truth["conditions"][c]["qof_target_recorded_prevalence_percent"]
        got = 100 * df[c].mean()
        assert got == pytest.approx(target, rel=0.12), c
        assert truth["realised"]["prevalence"][c]["recorded_percent"]["all"] == pytest.approx(got, abs=1e-3)


# --- treatment, risk factors, access, outcomes ---------------------------------------


def test_treatment_gaps_match_truth(pop: tuple[pl.DataFrame, dict]) -> None:
    df, truth = pop
    vasc_minus_sex = (
        pl.col("heart_failure").cast(pl.Int64)
        + pl.col("hypertension")
        + 2 * (pl.col("age") >= 75)
        + pl.col("age").is_between(65, 74)
        + pl.col("diabetes")
        + 2 * pl.col("stroke_tia")
        + (pl.col("chd") | pl.col("pad"))
    )
    eligible = {
        "statin": pl.col("chd")
        | pl.col("stroke_tia")
        | pl.col("pad")
        | ((pl.col("diabetes") | pl.col("ckd")) & (pl.col("age") >= 40)),
        "antihypertensive": pl.col("hypertension") | pl.col("heart_failure"),
        "anticoagulant": pl.col("af") & (vasc_minus_sex >= 2),
    }
    for name, expr in eligible.items():
        flagged = df.with_columns(e=expr)
        assert flagged.filter(pl.col(name) & ~pl.col("e")).height == 0, name
        rates = truth["treatment"][name]["by_imd_quintile"]
        assert rates[0] < rates[4]
        got = (
            flagged.filter("e")
            .group_by("imd_quintile")
            .agg(pl.col(name).sum().alias("k"), pl.len().alias("m"))
            .sort("imd_quintile")
        )
        for qq, k, m in got.iter_rows():
            p = rates[qq - 1]
            assert abs(k - m * p) <= Z * math.sqrt(m * p * (1 - p)) + 1, (name, qq)


def test_risk_factors(pop: tuple[pl.DataFrame, dict]) -> None:
    df = pop[0]
    adults = df.filter(pl.col("age") >= 18)
    smoke = dict(adults.group_by("imd_quintile").agg((pl.col("smoking") == "current").mean()).iter_rows())
    assert smoke[1] > 1.5 * smoke[5]
    assert 0.09 < (adults["smoking"] == "current").mean() < 0.17
    assert df.filter(pl.col("age") < 16)["smoking"].eq("never").all()
    sbp = (
        adults.group_by(
            pl.when(~pl.col("true_hypertension"))
            .then(0)
            .when(~pl.col("antihypertensive"))
            .then(2)
            .otherwise(1)
        )
        .agg(pl.col("systolic_bp").mean())
        .sort("literal")["systolic_bp"]
        .to_list()
    )
    assert sbp[0] < sbp[1] < sbp[2]  # none < treated < untreated hypertension
    chol = dict(
        adults.filter(pl.col("age") >= 50).group_by("statin").agg(pl.col("cholesterol").mean()).iter_rows()
    )
    assert chol[True] < chol[False] - 0.8
    assert 26 < adults["bmi"].mean() < 29


def test_access_gradients(big: tuple[pl.DataFrame, dict]) -> None:
    df, truth = big
    a = truth["access"]
    ref = dict(df.group_by("chd").agg(pl.col("cardiology_referral").mean()).iter_rows())
    assert ref[True] > 3 * ref[False]
    days = dict(df.group_by("imd_quintile").agg(pl.col("days_to_first_outpatient").mean()).iter_rows())
    d = a["days_to_first_outpatient"]
    assert days[5] == pytest.approx(d["mean_q5"], rel=0.08)
    assert days[1] / days[5] == pytest.approx(d["rr_per_quintile_step"] ** 4, rel=0.12)
    seen = df.filter(pl.col("cardiology_referral"))["days_to_first_outpatient"].is_not_null().mean()
    assert seen == pytest.approx(1 - d["not_yet_seen"], abs=0.02)
    missed = (
        df.filter("cardiology_referral").group_by("imd_quintile").agg(pl.col("missed_appointments").mean())
    )
    missed = dict(missed.iter_rows())
    assert missed[1] > missed[5]


def test_admission_rate_ratios_recovered(big: tuple[pl.DataFrame, dict]) -> None:
    df, truth = big
    spec = truth["outcomes"]["cvd_admissions"]
    # the added rate ratios by recorded ethnic group are terms of the same Poisson model
    ratios = {**spec["rate_ratios"], "ethnicity": spec["ethnicity_rate_ratios"]}
    model = {**spec, "rate_ratios": ratios, "intercept": math.log(spec["rate_at_60"])}
    x, names, true = _design(df, model, knot=None)
    assert {"Asian", "Black"} <= set(names)
    beta, se = irls(x, df["cvd_admissions"].to_numpy().astype(float), "poisson")
    for name, b, s, t in zip(names, beta, se, true, strict=True):
        assert abs(b - t) <= Z * s, (name, b, t, s)


def test_death_rate_ratios_recovered(big: tuple[pl.DataFrame, dict]) -> None:
    """P(death) = 1 - exp(-rate) with log-linear rate: a complementary log-log GLM."""
    df, truth = big
    spec = truth["outcomes"]["cvd_death"]
    model = {**spec, "intercept": math.log(spec["rate_at_60"])}
    x, names, true = _design(df, model, knot=None)
    # the added rate ratio per quintile step under 75 is a term of the same model
    under = (df["age"] < 75).to_numpy() * (5 - df["imd_quintile"].to_numpy())
    x = np.column_stack([x, under.astype(float)])
    names, true = [*names, "premature_step"], [*true, math.log(spec["premature_rr_per_quintile_step"])]
    beta, se = irls(x, df["cvd_death"].to_numpy().astype(float), "cloglog")
    for name, b, s, t in zip(names, beta, se, true, strict=True):
        assert abs(b - t) <= Z * s, (name, b, t, s)


def test_deaths_follow_truth(big: tuple[pl.DataFrame, dict]) -> None:
    df, truth = big
    rate = dict(df.group_by("imd_quintile").agg(pl.col("cvd_death").mean()).iter_rows())
    assert rate[1] > rate[5]
    by_hf = dict(
        df.filter(pl.col("age") >= 75)
        .group_by("true_heart_failure")
        .agg(pl.col("cvd_death").mean())
        .iter_rows()
    )
    assert by_hf[True] > 2 * by_hf[False]
    per_1000 = 1000 * df["cvd_death"].mean()
    assert 1.0 < per_1000 < 5.0
    assert truth["realised"]["by_imd_quintile"]["cvd_deaths_per_1000"]["all"] == pytest.approx(
        per_1000, abs=1e-3
    )


# --- truth ---------------------------------------------------------------------------


def test_truth_is_complete_and_labelled(pop: tuple[pl.DataFrame, dict]) -> None:
    truth = pop[1]
    assert truth["synthetic"] is True and truth["seed"] == SEED and truth["n"] == N
    assert json.loads(json.dumps(truth)) == truth
    for key in (
        "conditions",
        "detection",
        "treatment",
        "access",
        "experience",
        "outcomes",
        "geography",
        "realised",
        "effects",
    ):
        assert key in truth
    assert set(truth["conditions"]) == set(CONDITIONS) == set(truth["detection"])
    assert all(loc["synthetic"] and "(synthetic)" in loc["label"] for loc in truth["geography"]["localities"])
    assert truth["realised"]["areas_by_imd_decile"] == truth["geography"]["imd_decile_counts"]
    # the truth is a copy: mutating it does not change the next run
    truth_copy = json.loads(json.dumps(truth))
    truth["detection"]["af"]["by_imd_quintile"][0] = 0.0
    assert generate(200, seed=SEED)[1]["detection"] == truth_copy["detection"]
    truth["detection"]["af"]["by_imd_quintile"][0] = truth_copy["detection"]["af"]["by_imd_quintile"][0]
