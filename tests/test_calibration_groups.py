"""Calibration by group (observed over expected) against independent calculations and the truth."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy.optimize import brentq
from scipy.stats import poisson

from healthgap.fairness._calibration import (
    calibration_by_group,
    exact_ratio_interval,
    largest_miscalibration,
    recompute_calibration,
)
from healthgap.fairness._reference import capacity_reference, true_risk


def _poisson_limits(o: int, confidence: float) -> tuple[float, float]:
    """Exact Poisson limits by root finding on the Poisson distribution (independent of chi²)."""
    a = (1 - confidence) / 2
    lower = 0.0 if o == 0 else brentq(lambda m: poisson.sf(o - 1, m) - a, 1e-12, 10 * o + 20)
    upper = brentq(lambda m: poisson.cdf(o, m) - a, 1e-12, 10 * o + 50)
    return lower, upper


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_exact_interval_matches_poisson_root_finding(confidence):
    observed = np.array([0, 1, 2, 5, 17, 120])
    expected = np.array([1.5, 2.0, 0.8, 4.0, 20.0, 97.3])
    lo, hi = exact_ratio_interval(observed, expected, confidence)
    for o, e, low, high in zip(observed, expected, lo, hi, strict=True):
        ref_lo, ref_hi = _poisson_limits(int(o), confidence)
        assert low == pytest.approx(ref_lo / e, rel=1e-7, abs=1e-12)
        assert high == pytest.approx(ref_hi / e, rel=1e-7)


def test_recompute_uses_bonferroni_over_each_dimension():
    frame = pl.DataFrame(
        {
            "dimension": ["a", "a", "a", "a", "b", "b"],
            "group": ["1", "2", "3", "4", "x", "y"],
            "observed": [10, 20, 30, 40, 5, 50],
            "expected": [12.0, 18.0, 30.0, 35.0, 9.0, 45.0],
        }
    )
    out = recompute_calibration(frame, confidence=0.95)
    lo4, hi4 = exact_ratio_interval(np.array([10]), np.array([12.0]), 1 - 0.05 / 4)
    lo2, hi2 = exact_ratio_interval(np.array([5]), np.array([9.0]), 1 - 0.05 / 2)
    assert out["simultaneous_lower"][0] == pytest.approx(lo4[0])
    assert out["simultaneous_upper"][0] == pytest.approx(hi4[0])
    assert out["simultaneous_lower"][4] == pytest.approx(lo2[0])
    assert out["simultaneous_upper"][4] == pytest.approx(hi2[0])
    assert out["value"].to_list() == pytest.approx([10 / 12, 20 / 18, 1.0, 40 / 35, 5 / 9, 50 / 45])


def test_largest_miscalibration_only_counts_what_survives():
    frame = pl.DataFrame(
        {
            "group": ["a", "b", "c"],
            "value": [0.5, 1.6, 1.2],
            "simultaneous_lower": [0.2, 1.1, 1.05],
            "simultaneous_upper": [1.2, 2.4, 1.4],
        }
    )
    assert largest_miscalibration(frame)["group"] == "b"  # a is further from 1 but could be chance
    assert largest_miscalibration(frame.filter(pl.col("group") == "a")) is None


#: The checks against the truth compare observed events with expected ones group by group; the
#: session's 20,000 people give about ten events per deprivation fifth in the test rows, too few
#: for an interval to say much, so this module draws its own, larger population.
N_CALIBRATION = 80_000


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    import shutil

    from healthgap import data, synth
    from healthgap.config import load_config
    from healthgap.models import fit
    from tests.conftest import DEFAULT_YML

    base = tmp_path_factory.mktemp("calibration")
    synth.write(base / "synthetic", n=N_CALIBRATION, seed=7)
    shutil.copyfile(DEFAULT_YML, base / "default.yml")
    config = load_config(base / "default.yml")
    result = fit(data.load(config), settings=config.model, n_boot=10)
    truth = json.loads(config.data.truth.read_text())
    return result, truth, config


def test_true_risk_is_calibrated_in_every_group(fitted):
    """The generator's risk recovered from the truth: its O/E holds 1 in every deprivation fifth and sex.

    On training and test rows together: the test rows alone hold about ten events per fifth, too
    few for a check at the 5% level to be more than a coin with 1-in-20 odds.
    """
    result, truth, _ = fitted
    p_test, p_train = true_risk(result, truth), true_risk(result, truth, part="train")
    assert p_test is not None and p_test.shape == result.y_test.shape
    assert p_train is not None and p_train.shape == result.y_train.shape
    frame = pl.concat(
        [
            result.groups_test.with_columns(y=pl.Series(result.y_test.astype(float)), p=pl.Series(p_test)),
            result.groups_train.with_columns(y=pl.Series(result.y_train.astype(float)), p=pl.Series(p_train)),
        ]
    )
    for dim in ("imd_quintile", "sex"):
        sums = frame.group_by(dim).agg(o=pl.col("y").sum(), e=pl.col("p").sum())
        lo, hi = exact_ratio_interval(sums["o"].to_numpy(), sums["e"].to_numpy(), 1 - 0.05 / sums.height)
        assert np.all((lo <= 1) & (hi >= 1)), (dim, sums)
    # deprivation steps go the right way: the most deprived fifth has the highest mean true risk
    means = frame.group_by("imd_quintile").agg(pl.col("p").mean()).sort("imd_quintile")["p"].to_numpy()
    assert means[0] == means.max()


def test_calibration_by_group_against_independent_sums_and_truth(fitted):
    result, truth, config = fitted
    p = true_risk(result, truth)
    cal = calibration_by_group(result, dimensions=config.dimensions, risk_true=p)
    frame = result.groups_test.with_columns(
        y=pl.Series(result.y_test.astype(np.int64)), e=pl.Series(result.risk_test["boosted"]), p=pl.Series(p)
    )
    for dim in ("imd_quintile", "sex"):
        mine = frame.group_by(dim).agg(
            n=pl.len(), o=pl.col("y").sum(), e=pl.col("e").sum(), t=pl.col("p").sum()
        )
        got = cal.filter(pl.col("dimension") == dim).join(
            mine.with_columns(pl.col(dim).cast(pl.String)), left_on="group", right_on=dim
        )
        assert got.height == mine.height
        assert (got["n"] == got["n_right"]).all() and (got["observed"] == got["o"]).all()
        assert np.allclose(got["expected"], got["e"]) and np.allclose(got["value"], got["o"] / got["e"])
        assert np.allclose(got["true_ratio"], got["t"] / got["e"])
        # the miscalibration built into the model (true / predicted) lies in its simultaneous interval
        assert (
            (got["simultaneous_lower"] <= got["true_ratio"])
            & (got["true_ratio"] <= got["simultaneous_upper"])
        ).all()


def test_calibration_without_truth_has_no_true_ratio(fitted):
    result, _, config = fitted
    assert true_risk(result, None) is None
    assert true_risk(result, {"outcomes": {}}) is None
    assert capacity_reference(result, truth=None, dimensions=config.dimensions) is None
    cal = calibration_by_group(result, dimensions=config.dimensions)
    assert cal["true_ratio"].null_count() == cal.height
    assert cal.filter(pl.col("dimension") == "imd_quintile")["observed"].sum() <= int(result.y_test.sum())


def test_perfect_risk_reference_counts_and_gaps(fitted):
    result, truth, config = fitted
    ref = capacity_reference(result, truth=truth, dimensions=config.dimensions, n_boot=100)
    assert ref is not None
    p_train, p_test = true_risk(result, truth, part="train"), true_risk(result, truth)
    cut = np.quantile(p_train, 1 - config.model.top_fraction, method="higher")
    flag_ref = p_test >= cut
    flag = result.risk_test["boosted"] >= result.threshold("boosted")
    frame = result.groups_test.with_columns(
        y=pl.Series(result.y_test), f=pl.Series(flag), r=pl.Series(flag_ref)
    )
    mine = frame.group_by("sex").agg(
        cases=pl.col("y").sum(), fm=(pl.col("y") & pl.col("f")).sum(), fr=(pl.col("y") & pl.col("r")).sum()
    )
    got = ref.groups.filter(pl.col("dimension") == "sex").join(mine, left_on="group", right_on="sex")
    assert (got["cases"] == got["cases_right"]).all()
    assert (got["found_model"] == got["fm"]).all() and (got["found_reference"] == got["fr"]).all()
    gap = ref.gaps.filter(pl.col("dimension") == "sex").row(0, named=True)
    rates = dict(zip(got["group"], zip(got["tpr_model"], got["tpr_reference"], strict=True), strict=True))
    g, r = gap["group"], gap["reference"]
    assert gap["gap_model"] == pytest.approx(rates[g][0] - rates[r][0])
    assert gap["gap_reference"] == pytest.approx(rates[g][1] - rates[r][1])
    assert gap["added"] == pytest.approx(gap["gap_model"] - gap["gap_reference"])
    assert gap["added_lower"] <= gap["added"] <= gap["added_upper"]


def test_true_risk_is_the_generators_rate_on_the_test_rows(fitted):
    """Independently: the generator's own log-rate function on the test rows (found again by the
    seeded, stratified split), as 1 - exp(-rate)."""
    from sklearn.model_selection import train_test_split

    from healthgap import data
    from healthgap.contract import CONDITIONS, ETHNICITY_CODES, TREATMENTS
    from healthgap.models._features import target_vector
    from healthgap.synth._care import added_log_rate, log_rate

    result, truth, config = fitted
    people = data.load(config).collect()
    y = target_vector(people, result.target)
    _, test = train_test_split(
        np.arange(people.height), test_size=config.model.test_size, stratify=y, random_state=config.model.seed
    )
    rows = people[np.sort(test)]
    person = {
        "age": rows["age"].to_numpy(),
        "female": (rows["sex"] == "female").to_numpy(),
        "step": 5.0 - rows["imd_quintile"].cast(pl.Float64).to_numpy(),
        "eth": rows["ethnicity"]
        .replace_strict(list(ETHNICITY_CODES), list(range(len(ETHNICITY_CODES))))
        .to_numpy(),
    }
    true = {
        c: rows[f"true_{c}"].fill_null(False).to_numpy() for c in CONDITIONS if f"true_{c}" in rows.columns
    }
    treat = {t: rows[t].fill_null(False).to_numpy() for t in TREATMENTS}
    spec = truth["outcomes"][result.target]
    expected = -np.expm1(-np.exp(log_rate(spec, person, true, treat) + added_log_rate(spec, person)))
    assert np.allclose(true_risk(result, truth), expected, rtol=1e-12, atol=0)
