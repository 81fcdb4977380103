"""Method tests of the model fit and its explanation: leakage, the split, SHAP attachment.

Each test checks the fitted objects against an independent calculation, so that a fit
trained on test rows, an unseeded or overlapping split, or SHAP values attached to the
wrong feature fails.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone

from healthgap.models import design, fit
from healthgap.models._features import target_vector


@pytest.fixture(scope="module")
def small(default_config):
    """The first 8,000 people of the 20,000 fixture (the model settings of the default book)."""
    from healthgap import data

    return data.load(default_config).head(8000).collect(), default_config.model


@pytest.fixture(scope="module")
def fitted(small):
    people, settings = small
    return fit(people, settings=settings, n_boot=10)


def _rows(X: np.ndarray) -> np.ndarray:
    """Rows of X sorted lexicographically (NaN as a sentinel), for multiset comparisons."""
    Z = np.nan_to_num(X, nan=-9e9)
    return Z[np.lexsort(Z.T[::-1])]


def test_models_were_trained_on_training_rows_only(fitted):
    """Refitting each model's unfitted copy on X_train alone reproduces its test predictions exactly:
    a model that saw the test rows (or any other rows) does not."""
    for name, model in fitted.models.items():
        refit = clone(model).fit(fitted.X_train, fitted.y_train)
        assert np.array_equal(refit.predict_proba(fitted.X_test)[:, 1], fitted.risk_test[name]), name
        assert np.array_equal(refit.predict_proba(fitted.X_train)[:, 1], fitted.risk_train[name]), name


def test_split_is_disjoint_complete_and_stratified(small, fitted):
    people, settings = small
    X, _, _ = design(people, fitted.features)
    y = target_vector(people, fitted.target)
    n = people.height
    assert fitted.X_train.shape[0] + fitted.X_test.shape[0] == n
    assert fitted.X_test.shape[0] == int(np.ceil(settings.test_size * n))
    # together, the two parts are every person exactly once (as a multiset of rows with their label)
    both = np.vstack(
        [np.column_stack([fitted.X_train, fitted.y_train]), np.column_stack([fitted.X_test, fitted.y_test])]
    )
    assert np.array_equal(_rows(both), _rows(np.column_stack([X, y])))
    # stratified: the test set's prevalence is the whole sample's to within one person
    assert abs(fitted.y_test.sum() - settings.test_size * y.sum()) <= 1


def test_split_is_the_seeded_stratified_split(small, fitted):
    """The test rows are exactly those of scikit-learn's split stratified on the target with the
    configured seed (rebuilt here from the people): an unstratified split of the same seed can
    land within one case of the prevalence by chance (it does on these 8,000 people) but not on
    the same rows."""
    from sklearn.model_selection import train_test_split

    people, settings = small
    X, _, _ = design(people, fitted.features)
    y = target_vector(people, fitted.target)
    train, test = train_test_split(
        np.arange(people.height), test_size=settings.test_size, stratify=y, random_state=settings.seed
    )
    assert np.array_equal(fitted.X_test, X[np.sort(test)], equal_nan=True)
    assert np.array_equal(fitted.X_train, X[np.sort(train)], equal_nan=True)
    assert np.array_equal(fitted.y_test, y[np.sort(test)])


def test_split_is_seeded(small, fitted):
    from dataclasses import replace

    people, settings = small
    again = fit(people, settings=settings, n_boot=10)
    assert np.array_equal(_rows(again.X_test), _rows(fitted.X_test))
    assert np.array_equal(again.X_test, fitted.X_test)
    other = fit(people, settings=replace(settings, seed=settings.seed + 1), n_boot=10)
    assert not np.array_equal(_rows(other.X_test), _rows(fitted.X_test))


def test_shap_values_are_attached_to_their_features(fitted):
    """Per feature, the explanation's mean |SHAP| equals the TreeExplainer's own column for it,
    and each important feature's SHAP values are a function of that feature's values."""
    import shap

    from healthgap.explain import explain, sample_rows

    exp = explain(fitted, dimensions=(), sample=1500, n_boot=10)
    rows = sample_rows(fitted.X_test.shape[0], size=1500, seed=fitted.settings.seed)
    X = fitted.X_test[rows]
    S = np.asarray(shap.TreeExplainer(fitted.models["boosted"]).shap_values(X))
    by_name = dict(zip(exp.importance["feature"], exp.importance["value"], strict=True))
    for j, name in enumerate(fitted.features):
        assert by_name[name] == pytest.approx(np.abs(S[:, j]).mean(), rel=1e-9, abs=1e-15), name
    # semantic check, independent of the explainer's column order: the SHAP column said to be a
    # feature's varies with that feature (correlation ratio over its tenths above 0.5)
    frame = pl.DataFrame({"feature": list(fitted.features), "value": [by_name[f] for f in fitted.features]})
    top = frame.sort("value", descending=True).head(4)["feature"].to_list()
    for name in top:
        j = fitted.features.index(name)
        x = X[:, j]
        ok = np.isfinite(x)
        bins = np.unique(np.quantile(x[ok], np.linspace(0, 1, 11)))
        codes = np.digitize(x[ok], bins[1:-1])
        s = S[ok, j]
        means = np.bincount(codes, weights=s) / np.maximum(np.bincount(codes), 1)
        eta2 = 1 - np.sum((s - means[codes]) ** 2) / np.sum((s - s.mean()) ** 2)
        assert eta2 > 0.5, (name, eta2)


def test_equal_opportunity_thresholds_equalise_rates_at_capacity():
    from healthgap.fairness._mitigation_split import equal_opportunity_thresholds

    rng = np.random.default_rng(3)
    n = 20_000
    codes = rng.integers(0, 3, n)
    y = rng.random(n) < np.array([0.02, 0.05, 0.1])[codes]
    score = rng.random(n) + 0.8 * y + 0.2 * codes
    cuts, rate = equal_opportunity_thresholds(score, y, codes, 3, fraction=0.05)
    flagged = score >= cuts[codes]
    tprs = [flagged[(codes == g) & y].mean() for g in range(3)]
    cases = [int(((codes == g) & y).sum()) for g in range(3)]
    for t, c in zip(tprs, cases, strict=True):
        assert abs(t - rate) <= 1 / c + 1e-12  # equal to within one case of each group
    assert 0.05 - 0.002 <= flagged.mean() <= 0.05  # the capacity, not more


def test_mitigation_at_capacity_fits_on_validation_and_counts_on_evaluation(fitted):
    from healthgap.config import DEFAULT_DIMENSIONS
    from healthgap.fairness._mitigation_split import mitigate_at_capacity

    dims = [DEFAULT_DIMENSIONS["sex"]]
    out = mitigate_at_capacity(fitted, dimension="sex", dimensions=dims, n_boot=100)
    n_test = fitted.X_test.shape[0]
    assert out.validation + out.evaluation == n_test
    over = out.overall.filter(pl.col("strategy") == "unmitigated").row(0, named=True)
    assert over["n"] == out.evaluation
    # the unmitigated counts, independently: the evaluation half is the seeded stratified split
    from sklearn.model_selection import train_test_split

    _, ev = train_test_split(
        np.arange(n_test), test_size=0.5, stratify=fitted.y_test, random_state=fitted.settings.seed
    )
    flag = fitted.risk_test["boosted"][ev] >= fitted.threshold("boosted")
    assert over["flagged"] == int(flag.sum()) and over["found"] == int((flag & fitted.y_test[ev]).sum())
    gap = out.gap.filter(pl.col("strategy") == "unmitigated").row(0, named=True)
    rates = out.by_group.filter(pl.col("strategy") == "unmitigated")["tpr"].to_list()
    assert gap["gap"] == pytest.approx(rates[0] - rates[-1]) and gap["change"] == 0
    mitigated = out.overall.filter(pl.col("strategy") == "equal_opportunity").row(0, named=True)
    # judged at capacity: the cut-offs flag the top fraction of the validation half, so on the
    # evaluation half the share flagged differs from it only by sampling (3 standard errors)
    f = fitted.settings.top_fraction
    assert (
        abs(mitigated["share_flagged"] - f)
        <= 3 * math.sqrt(f * (1 - f) / out.evaluation) + 1 / out.evaluation
    )
    # the cut-offs come from the validation half only: refitted there independently, they flag
    # exactly the evaluation people the result counts (cut-offs fitted on the evaluation half do not)
    from healthgap.fairness._mitigation_split import equal_opportunity_thresholds

    val = np.setdiff1d(np.arange(n_test), ev)
    codes = (fitted.groups_test["sex"].to_numpy() == "male").astype(np.int64)
    score = fitted.risk_test["boosted"]
    cuts, _ = equal_opportunity_thresholds(score[val], fitted.y_test[val], codes[val], 2, fraction=0.05)
    own = score[ev] >= cuts[codes[ev]]
    assert mitigated["flagged"] == int(own.sum())
    assert mitigated["found"] == int((own & fitted.y_test[ev]).sum())


def test_gap_decompositions_shap_values_are_tree_explainers(fitted):
    """The decomposition's SHAP values (each distinct path through the trees explained once) are
    shap.TreeExplainer's on every test row, bit for bit."""
    import shap

    from healthgap.fairness._decomposition import _shap

    X = fitted.X_test
    expected = np.asarray(shap.TreeExplainer(fitted.models["boosted"]).shap_values(X), dtype=np.float64)
    assert np.array_equal(_shap(fitted, X), expected)


def test_gap_decomposition_explains_the_observed_gap(fitted):
    from healthgap.config import DEFAULT_DIMENSIONS
    from healthgap.fairness._decomposition import explain_gap

    dims = [DEFAULT_DIMENSIONS["sex"]]
    out = explain_gap(fitted, dimensions=dims, gap_dimension="sex", n_boot=100)
    assert out.sample == fitted.X_test.shape[0]  # the whole test set
    assert (out.first, out.last) == ("Female", "Male")
    q = fitted.groups_test["sex"].to_numpy()
    first, last = q == "female", q == "male"
    assert fitted.y_test[first].any() and fitted.y_test[last].any()
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    y, p = fitted.y_test.astype(float), fitted.risk_test["boosted"]
    rows = {r["component"]: r for r in out.gap.iter_rows(named=True)}
    assert rows["observed"]["log_odds"] == pytest.approx(logit(y[first].mean()) - logit(y[last].mean()))
    assert rows["inputs"]["log_odds"] == pytest.approx(logit(p[first].mean()) - logit(p[last].mean()))
    assert rows["left"]["log_odds"] == pytest.approx(
        rows["observed"]["log_odds"] - rows["inputs"]["log_odds"]
    )
    assert rows["observed"]["risk"] == pytest.approx(y[first].mean() - y[last].mean())
    # feature contributions add up to the gap in mean predicted log-odds
    raw = fitted.models["boosted"].decision_function(fitted.X_test)
    contrib = out.contributions
    total = contrib.filter(pl.col("feature") == "(total)")["value"][0]
    assert total == pytest.approx(raw[first].mean() - raw[last].mean(), abs=1e-9)
    assert contrib.filter(pl.col("feature") != "(total)")["value"].sum() == pytest.approx(total, abs=1e-9)
