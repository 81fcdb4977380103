"""Round 7: the model work made cheaper gives the same numbers as the code it replaced.

Each rewritten computation is compared with the old code, kept here as the reference, on a
small random problem.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.config import ModelSettings
from healthgap.models import fit


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    from healthgap.synth import generate

    df, _ = generate(4_000, seed=5)
    return df


# --- the label-bias refit fits the booster only ---------------------------------------------


def test_boosted_only_fit_equals_the_booster_of_the_full_fit(people):
    settings = ModelSettings(target="hypertension")
    full = fit(people, settings=settings, n_boot=20)
    alone = fit(people, settings=settings, n_boot=20, learners=("boosted",), evaluate=False)
    assert list(alone.models) == ["boosted"]
    assert alone.metrics.is_empty() and alone.calibration.is_empty()
    for split in ("risk_train", "risk_test"):
        assert np.array_equal(getattr(alone, split)["boosted"], getattr(full, split)["boosted"])
    assert alone.threshold("boosted", top_fraction=0.05) == full.threshold("boosted", top_fraction=0.05)
    assert alone.groups_test.equals(full.groups_test)
    assert np.array_equal(alone.X_train, full.X_train)


def test_fit_refuses_an_unknown_learner(people):
    with pytest.raises(KeyError, match="forest"):
        fit(people, settings=ModelSettings(), learners=("forest",))  # type: ignore[arg-type]


# --- weighted_calibration: the logistic function once per distinct linear predictor --------


def round6_weighted_calibration(W, y, p, *, iterations=25, start=None):
    """``healthgap.models._metrics.weighted_calibration`` as it was in round 6 (the reference)."""
    from scipy.special import expit, logit

    eps = 1e-12
    yv = np.asarray(y, np.float64)
    lp = logit(np.clip(np.asarray(p, np.float64), 1e-10, 1 - 1e-10))
    lp2 = lp * lp
    c = W.shape[0]
    a0, b0, b1 = start if start is not None else (0.0, 0.0, 1.0)
    wy, wylp = W @ yv, W @ (yv * lp)
    buf = np.empty_like(W)
    t = np.empty_like(W)

    def _moments(intercept, slope):
        np.multiply(slope[:, None], lp, out=buf)
        np.add(buf, intercept[:, None], out=buf)
        expit(buf, out=buf)
        np.multiply(W, buf, out=t)
        s1, s1lp = t.sum(axis=1), t @ lp
        np.multiply(t, buf, out=buf)
        return s1, s1lp, buf.sum(axis=1), buf @ lp, t @ lp2 - buf @ lp2

    def _offset_moments(intercept):
        np.add(lp, intercept[:, None], out=buf)
        expit(buf, out=buf)
        np.multiply(W, buf, out=t)
        s1 = t.sum(axis=1)
        np.multiply(t, buf, out=buf)
        return s1, buf.sum(axis=1)

    a = np.full(c, a0, dtype=np.float64)
    for _ in range(iterations):
        s1, s2 = _offset_moments(a)
        step = (wy - s1) / np.maximum(s1 - s2, eps)
        a = a + step
        if np.nanmax(np.abs(step)) < 1e-10:
            break
    beta0, beta1 = np.full(c, b0, dtype=np.float64), np.full(c, b1, dtype=np.float64)
    for _ in range(iterations):
        s1, s1lp, s2, s2lp, h11 = _moments(beta0, beta1)
        g0, g1 = wy - s1, wylp - s1lp
        h00, h01 = s1 - s2, s1lp - s2lp
        det = h00 * h11 - h01 * h01
        det = np.where(np.abs(det) < eps, eps, det)
        step0 = (h11 * g0 - h01 * g1) / det
        step1 = (h00 * g1 - h01 * g0) / det
        beta0, beta1 = beta0 + step0, beta1 + step1
        if np.nanmax(np.abs(np.stack([step0, step1]))) < 1e-10:
            break
    return a, beta1


@pytest.mark.parametrize("decimals", [3, 2, None])  # many ties (shared values), a few, none
@pytest.mark.parametrize("start", [None, (0.2, -0.1, 0.9)])
def test_weighted_calibration_equals_round6_bit_for_bit(decimals, start):
    from healthgap.models._metrics import SHARED_VALUES, weighted_calibration
    from healthgap.stats import bootstrap_weights

    rng = np.random.default_rng(31)
    n = 4_000
    p = np.clip(rng.beta(1, 12, n), 0, 1)
    if decimals is not None:
        p = np.round(p, decimals)
    p[:3] = (0.0, 1.0, 0.5)  # clipped ends
    y = rng.random(n) < np.clip(1.3 * p, 0, 1)
    shared = np.unique(p).shape[0] <= SHARED_VALUES * n
    assert shared == (decimals is not None)  # both paths are exercised
    W = np.concatenate([np.ones((1, n)), next(bootstrap_weights(n, n_boot=40, seed=3))])
    a, b = weighted_calibration(W, y, p, start=start)
    old_a, old_b = round6_weighted_calibration(W, y, p, start=start)
    assert np.array_equal(a, old_a) and np.array_equal(b, old_b)
    assert np.isfinite(a).all() and np.isfinite(b).all()


def test_performance_equals_round6(monkeypatch):
    """The whole metric table (AUROC and average precision on column-major weights too)."""
    from healthgap.models import _performance

    rng = np.random.default_rng(8)
    n = 3_000
    p = np.round(rng.beta(1, 9, n), 3)
    y = rng.random(n) < p
    new = _performance.performance(y, p, model="m", n_boot=60, seed=4)
    monkeypatch.setattr(_performance, "weighted_calibration", round6_weighted_calibration)
    monkeypatch.setattr(_performance.np, "asfortranarray", np.ascontiguousarray)
    old = _performance.performance(y, p, model="m", n_boot=60, seed=4)
    assert new.equals(old)


# --- the audit's point estimates: the group's rows through MetricFrame, rates from counts ---


def _round6_group_summary(y_true, y_pred):
    from fairlearn.metrics import count, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import precision_score, roc_auc_score

    flagged, risk = y_pred[:, 0].astype(int), y_pred[:, 1]
    both = len(np.unique(y_true)) == 2
    return (
        float(count(y_true, flagged)),
        float(np.mean(y_true)),
        float(selection_rate(y_true, flagged)),
        float(true_positive_rate(y_true, flagged)),
        float(false_positive_rate(y_true, flagged)),
        float(precision_score(y_true, flagged, zero_division=np.nan)),
        float(np.mean(risk)),
        float(roc_auc_score(y_true, risk)) if both else float("nan"),
    )


def round6_metric_frame(y, selected, p, keys):
    """The audit's point estimates by fairlearn's MetricFrame and scikit-learn's metrics, as the
    audit computed them until round 9 (the independent reference)."""
    import warnings

    import pandas as pd
    from fairlearn.metrics import MetricFrame

    summary = ("count", "prevalence", "selection_rate", "tpr", "fpr", "ppv", "mean_predicted", "auroc")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = MetricFrame(
            metrics=_round6_group_summary,
            y_true=y.astype(int),
            y_pred=np.column_stack([selected.astype(np.float64), p]),
            sensitive_features=pd.Series(keys, name="group"),
        )
    by = frame.by_group
    return pd.DataFrame(by.tolist(), index=by.index, columns=list(summary))


def _audit_problem(n=3_000, seed=12):
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 8, n)
    y = rng.random(n) < p
    selected = p >= np.quantile(p, 0.9)
    keys = rng.choice(
        np.array(["a", "b", "c", "d", "e", "f", "g"], dtype=object), n, p=[0.4, 0.3, 0.2] + [0.025] * 4
    )
    # groups with no outcome, only outcomes, nobody flagged, everybody flagged, one person
    for key, (yy, ss) in {
        "d": (False, None),
        "e": (True, None),
        "f": (None, False),
        "g": (None, True),
    }.items():
        at = keys == key
        if yy is not None:
            y[at] = yy
        if ss is not None:
            selected[at] = ss
    keys[0] = "h"
    return y, selected, p, keys


def _audit_of(y, p, keys, *, n_boot=30):
    from healthgap.config import Dimension
    from healthgap.fairness import audit
    from healthgap.models import ModelResult

    sex = np.where(np.arange(y.shape[0]) % 3 == 0, "F", "M")
    result = ModelResult(
        target="t",
        target_label="T",
        features=("x",),
        categorical=(),
        categories={},
        excluded=(),
        models={"boosted": None},
        X_train=np.zeros((10, 1)),
        y_train=np.zeros(10, bool),
        X_test=np.zeros((y.shape[0], 1)),
        y_test=y,
        risk_train={"boosted": np.sort(p)[:: max(1, p.shape[0] // 500)]},
        risk_test={"boosted": p},
        groups_train=pl.DataFrame(),
        groups_test=pl.DataFrame({"group7": keys.astype(str), "sex": sex}),
        metrics=pl.DataFrame(),
        calibration=pl.DataFrame(),
    )
    dims = [
        Dimension("group7", "Group", tuple("abcdefgh"), {}, "a"),
        Dimension("sex", "Sex", ("F", "M"), {}, "F"),
    ]
    found = audit(result, dimensions=dims, intersections=[("group7", "sex")], n_boot=n_boot, seed=3)
    return found, result, sex


def test_audit_point_estimates_equal_fairlearn_metricframe():
    """The audit's point estimates (counts, rates, mean risk, AUROC) are fairlearn's MetricFrame
    with scikit-learn's metrics, computed independently, for every grouping (intersections too):
    groups with no outcome, only outcomes, nobody or everybody flagged, one person, ties."""
    y, _, p, keys = _audit_problem(n=2_000, seed=4)
    p = np.round(p, 2)  # many ties: AUROC counts a tie half
    found, result, sex = _audit_of(y, p, keys)
    selected = p >= result.threshold("boosted", top_fraction=0.05)
    from healthgap.fairness._groups import SEPARATOR

    joint = np.char.add(np.char.add(keys.astype(str), SEPARATOR), sex)
    checked = 0
    for name, key in {"group7": keys.astype(str), "sex": sex, f"group7{SEPARATOR}sex": joint}.items():
        rows = found.groups.filter(pl.col("dimension") == name)
        assert rows.height, name
        ref = round6_metric_frame(y, selected, p, key)
        for group, want in ref.iterrows():
            got = {r["metric"]: r for r in rows.filter(pl.col("group") == group).iter_rows(named=True)}
            n = int(want["count"])
            assert got["prevalence"]["n"] == n, (name, group)
            assert got["prevalence"]["numerator"] == round(want["prevalence"] * n)
            assert got["selection_rate"]["numerator"] == round(want["selection_rate"] * n)
            for metric in ("prevalence", "mean_predicted", "selection_rate", "tpr", "fpr", "ppv", "auroc"):
                value, expected = got[metric]["value"], want[metric]
                if got[metric]["denominator"] == 0 or not np.isfinite(expected):
                    assert value is None, (name, group, metric)
                    continue
                assert value == pytest.approx(expected, rel=1e-12, abs=1e-15), (name, group, metric)
                checked += 1
    assert checked > 100


# --- the threshold optimiser scores people with the booster's stored predictions ------------


def test_threshold_optimizer_on_stored_risks_equals_it_on_the_booster(people):
    import warnings

    from fairlearn.postprocessing import ThresholdOptimizer

    from healthgap.config import load_config
    from healthgap.fairness import mitigate
    from healthgap.fairness._mitigation import _KnownRisks

    config = load_config("data/default.yml")
    result = fit(people, settings=ModelSettings(), n_boot=10)
    booster = result.models["boosted"]
    known = _KnownRisks(np.concatenate([result.risk_train["boosted"], result.risk_test["boosted"]]))
    n_train = result.X_train.shape[0]
    for at, X in (
        (np.arange(n_train), result.X_train),
        (n_train + np.arange(len(result.y_test)), result.X_test),
    ):
        assert np.array_equal(known.predict_proba(at[:, None])[:, 1], booster.predict_proba(X)[:, 1])

    dim = next(d for d in config.dimensions if d.name == "sex")
    new = mitigate(result, dimension=dim, seed=9)
    keys = {
        part: getattr(result, f"groups_{part}").get_column("sex").cast(pl.String).to_numpy()
        for part in ("train", "test")
    }
    with warnings.catch_warnings():  # the round-6 way: the optimiser asks the booster again
        warnings.simplefilter("ignore")
        old = ThresholdOptimizer(
            estimator=booster,
            constraints="true_positive_rate_parity",
            objective="balanced_accuracy_score",
            prefit=True,
            predict_method="predict_proba",
        ).fit(result.X_train, result.y_train, sensitive_features=keys["train"])
        decided = old.predict(result.X_test, sensitive_features=keys["test"], random_state=9).astype(bool)
    assert new.left_out == ()
    assert np.array_equal(new.decisions["threshold_optimizer"], decided)
    assert 0 < decided.sum() < decided.shape[0]


# --- the two models' metric bootstraps share one stream of replicates ----------------------


def test_performances_equal_performance_of_each_model():
    from healthgap.models import performance
    from healthgap.models._performance import performances

    rng = np.random.default_rng(17)
    n = 2_500
    risks = {"A": rng.beta(1, 9, n), "B": np.round(rng.beta(1, 7, n), 3)}
    y = rng.random(n) < risks["A"]
    together = performances(y, risks, n_boot=70, seed=6)
    assert list(together) == ["A", "B"]
    for model, p in risks.items():
        assert together[model].equals(performance(y, p, model=model, n_boot=70, seed=6))


def test_fit_metrics_are_each_model_alone(people):
    from healthgap.models import MODEL_LABELS, performance

    result = fit(people, settings=ModelSettings(), n_boot=30)
    alone = pl.concat(
        [
            performance(result.y_test, result.risk_test[m], model=MODEL_LABELS[m], n_boot=30, seed=2024)
            for m in ("logistic", "boosted")
        ]
    )
    assert result.metrics.equals(alone)


def test_mitigation_intervals_from_the_kept_replicates(people, monkeypatch):
    from healthgap.config import load_config
    from healthgap.fairness import _mitigation, mitigate
    from healthgap.stats import bootstrap_weights

    config = load_config("data/default.yml")
    result = fit(people, settings=ModelSettings(), n_boot=10)
    dim = next(d for d in config.dimensions if d.name == "imd_quintile")
    m = mitigate(result, dimension=dim, seed=3, n_boot=40)
    new = m.summary(m.overall, groups=m.by_group)
    monkeypatch.setattr(_mitigation, "replicate_weights", bootstrap_weights)  # round 6: drawn each time
    old = m.summary(m.overall, groups=m.by_group)
    assert new.equals(old)
    assert new["balanced_accuracy_lower_ci"].is_not_null().all()


# --- the metric bootstraps on one BLAS thread ----------------------------------------------


def test_performances_run_on_one_blas_thread_with_the_same_table(monkeypatch):
    from threadpoolctl import threadpool_info

    from healthgap.models import _performance

    rng = np.random.default_rng(23)
    n = 6_000
    risks = {"A": rng.beta(1, 9, n), "B": np.round(rng.beta(1, 7, n), 3)}
    y = rng.random(n) < risks["A"]
    threads: list[int] = []
    inner = _performance._performances

    def spy(*args, **kwargs):
        threads.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
        return inner(*args, **kwargs)

    monkeypatch.setattr(_performance, "_performances", spy)
    new = _performance.performances(y, risks, n_boot=80, seed=2)
    assert threads and set(threads) == {_performance.METRIC_BLAS_THREADS} == {1}
    old = inner(y, risks, n_boot=80, seed=2, confidence=0.95)  # the BLAS threads as they are
    for model in risks:
        a, b = new[model], old[model]
        for column in ("value", "lower_ci", "upper_ci"):
            np.testing.assert_allclose(a[column].to_numpy(), b[column].to_numpy(), rtol=1e-12, atol=0)
        assert a.drop("value", "lower_ci", "upper_ci").equals(b.drop("value", "lower_ci", "upper_ci"))
