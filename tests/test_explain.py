"""healthgap.explain: SHAP additivity, gap decomposition, aggregation and disclosure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from healthgap.config import DEFAULT_DIMENSIONS, DisclosureSettings, ModelSettings
from healthgap.explain import GAP_TOO_FEW, Explanation, explain, sample_rows, shap_values
from healthgap.models import fit

N = 25_000
DIMS = [DEFAULT_DIMENSIONS[d] for d in ("imd_quintile", "ethnicity", "sex")]
THRESHOLD = DisclosureSettings().suppress_below


@pytest.fixture(scope="module")
def result():
    from healthgap.synth import generate

    df, _ = generate(N, seed=5)
    rng = np.random.default_rng(1)  # some missing BMI, so SHAP must follow the NaN branches
    df = df.with_columns(bmi=pl.when(pl.Series(rng.random(N) < 0.15)).then(None).otherwise(pl.col("bmi")))
    return fit(df, settings=ModelSettings(target="hypertension", shap_sample=1500), n_boot=10)


@pytest.fixture(scope="module")
def explanation(result):
    return explain(result, dimensions=DIMS, n_boot=50)


def test_shap_additivity_to_raw_log_odds(result):
    X = result.X_test[:800]
    assert np.isnan(X[:, result.features.index("bmi")]).any()
    values, base = shap_values(result, X)
    raw = result.models["boosted"].decision_function(X)
    np.testing.assert_allclose(values.sum(axis=1) + base, raw, atol=1e-6)


def test_explanation_reports_additivity_and_sample(explanation):
    assert explanation.additivity_error < 1e-6
    assert explanation.sample == 1500


def test_importance_is_mean_absolute_shap(result, explanation):
    rows = sample_rows(result.X_test.shape[0], size=1500, seed=result.settings.seed)
    values, _ = shap_values(result, result.X_test[rows])
    direct = dict(zip(result.features, np.abs(values).mean(axis=0), strict=True))
    for r in explanation.importance.iter_rows(named=True):
        assert r["value"] == pytest.approx(direct[r["feature"]], rel=1e-9)
        assert r["lower_ci"] <= r["value"] <= r["upper_ci"]
    assert explanation.importance["rank"].to_list() == list(range(1, len(result.features) + 1))
    assert explanation.importance["value"].is_sorted(descending=True)


def test_gap_contributions_sum_to_gap_in_mean_log_odds(result, explanation):
    gap = explanation.gap
    total = gap.filter(pl.col("feature") == "(total)")["value"].item()
    parts = gap.filter(pl.col("feature") != "(total)")["value"].sum()
    assert parts == pytest.approx(total, abs=1e-9)
    rows = sample_rows(result.X_test.shape[0], size=1500, seed=result.settings.seed)
    raw = result.models["boosted"].decision_function(result.X_test[rows])
    q = result.groups_test["imd_quintile"].to_numpy()[rows]
    assert total == pytest.approx(raw[q == "1"].mean() - raw[q == "5"].mean(), abs=1e-9)
    assert explanation.gap_groups == ("1 (most deprived)", "5 (least deprived)")
    t = gap.filter(pl.col("feature") == "(total)").row(0, named=True)
    if t["lower_ci"] > 0 or t["upper_ci"] < 0:  # a clear gap: each feature's share of it
        assert t["share"] == pytest.approx(1.0)
    else:  # a gap that may be zero has no shares
        assert gap["share"].is_null().all()


def test_group_means_total_row_is_mean_log_odds_minus_base(result, explanation):
    rows = sample_rows(result.X_test.shape[0], size=1500, seed=result.settings.seed)
    raw = result.models["boosted"].decision_function(result.X_test[rows])
    sex = result.groups_test["sex"].to_numpy()[rows]
    got = explanation.by_group.filter((pl.col("dimension") == "sex") & (pl.col("feature") == "(total)"))
    for r in got.iter_rows(named=True):
        assert r["value"] == pytest.approx(raw[sex == r["group"]].mean() - explanation.base_value, abs=1e-9)


def test_dependence_bins_are_aggregates_without_extremes(explanation):
    dep = explanation.dependence
    assert dep["feature"].n_unique() == 6
    age = dep.filter(pl.col("feature") == "age")
    assert age["bin_label"][0].startswith("below ") and age["bin_label"][-1].endswith("and above")
    bmi = dep.filter(pl.col("feature") == "bmi")
    if bmi.height:
        assert "missing" in bmi["bin_label"].to_list()


def test_small_groups_are_exact_and_a_tiny_gap_is_not_split(result):
    # explain() returns exact aggregates: the pages publish them and leave out small groups
    # (tests/pages/test_explanations.py); a gap between groups below min_group is not estimated
    small = explain(result, dimensions=DIMS, sample=120, n_boot=10)
    ethnicity = small.by_group.filter((pl.col("dimension") == "ethnicity") & (pl.col("feature") == "age"))
    assert ethnicity["n"].sum() == 120 and (ethnicity["n"] < THRESHOLD).any()
    assert small.dependence.group_by("feature").agg(pl.col("n").sum())["n"].to_list() == [120] * 6
    tiny = explain(result, dimensions=DIMS, sample=20, n_boot=10)
    assert tiny.gap.height == 0 and tiny.gap_problem == GAP_TOO_FEW
    assert tiny.gap_groups == ("1 (most deprived)", "5 (least deprived)")


# --- means that are counts in disguise (issue 11, item 2) -----------------------------------------


def test_few_valued_columns_come_with_their_level_counts(result, explanation):
    from healthgap.explain import DISCRETE_VALUES, LEVEL_KEYS

    rows = sample_rows(result.X_test.shape[0], size=1500, seed=result.settings.seed)
    values, _ = shap_values(result, result.X_test[rows])
    for j, f in enumerate(result.features):
        distinct = np.unique(np.round(values[:, j], 12)).size
        assert (f in explanation.discrete) == (2 <= distinct <= DISCRETE_VALUES)
    levels = explanation.levels
    assert levels.columns == [*LEVEL_KEYS, "level", "count"]
    for name in explanation.discrete:
        if name == "(total)":
            continue
        by_sex = levels.filter(
            (pl.col("table") == "by_group") & (pl.col("dimension") == "sex") & (pl.col("feature") == name)
        )
        sizes = explanation.by_group.filter((pl.col("dimension") == "sex") & (pl.col("feature") == name))
        assert by_sex["count"].sum() == sizes["n"].sum()  # every person counted once


def test_recompute_means_from_published_level_counts():
    from healthgap.explain import level_means

    # two values, a = 0.48094 and b = -0.46077: 2 of 30 people at a (the attack of issue 11, item 2)
    levels = pl.DataFrame(
        {
            "table": ["by_group"] * 2,
            "dimension": ["age_band"] * 2,
            "group": ["10-14"] * 2,
            "feature": ["systolic_bp"] * 2,
            "bin": [-1, -1],
            "side": ["", ""],
            "level": [0.48094, -0.46077],
            "count": [None, 30],  # 2 suppressed (1-7), 28 rounded to 30
        }
    )
    means = level_means(levels)
    assert means["mean"].to_list() == [None]  # a suppressed count: no mean at all
    published = levels.with_columns(count=pl.Series([10, 20]))  # e.g. 12 and 18, rounded
    mean = level_means(published)["mean"].item()
    assert mean == pytest.approx((10 * 0.48094 + 20 * -0.46077) / 30)
    e = Explanation(
        sample=30, seed=1, base_value=0.0, importance=pl.DataFrame(), by_group=pl.DataFrame(),
        gap=pl.DataFrame(), dependence=pl.DataFrame(), gap_dimension="", gap_groups=None,
        gap_problem=None, additivity_error=0.0, levels=levels, discrete=("systolic_bp",),
    )  # fmt: skip
    frame = pl.DataFrame(
        {"dimension": ["age_band", "age_band"], "group": ["10-14", "15-19"], "feature": ["systolic_bp"] * 2,
         "n": [30, 30], "value": [-0.39799, 0.1]}
    )  # fmt: skip
    out = e.recompute(frame, table="by_group", levels=levels)
    assert out["value"].to_list() == [None, 0.1]  # exact mean gone; a group without counts keeps its own
    assert out["suppressed"].to_list() == [True, False]
    assert e.recompute(frame, table="by_group", levels=published)["value"][0] == pytest.approx(mean)


def test_gap_puts_the_disadvantaged_end_first(result):
    flipped = replace(DIMS[0], order=tuple(reversed(DIMS[0].order)), disadvantaged="last")
    e = explain(result, dimensions=[flipped, *DIMS[1:]], n_boot=10, disadvantaged="last")
    assert e.gap_groups == ("1 (most deprived)", "5 (least deprived)")
    plain = explain(result, dimensions=DIMS, n_boot=10)
    total = lambda x: x.gap.filter(pl.col("feature") == "(total)")["value"].item()  # noqa: E731
    assert total(e) == pytest.approx(total(plain), abs=1e-12)
