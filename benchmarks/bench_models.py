"""Benchmark: model fitting, fairness audit, mitigation and SHAP on the synthetic population.

Every timing is printed with a ratio against a peer measured in the same run
on the same data, so the numbers mean something on any machine:

* ``fit``        healthgap.models.fit (both models + bootstrap metrics) vs
                 fitting the same HistGradientBoostingClassifier on numpy directly;
* ``metrics``    vectorised bootstrap of AUROC/AP/Brier/calibration (200 replicates) vs a
                 scikit-learn loop over the same replicates (AUROC, AP, Brier and a logistic
                 recalibration fit for the slope; timed on 20, scaled);
* ``audit``      healthgap.fairness.audit (vectorised bootstrap, 200 replicates, all
                 dimensions and intersections) vs fairlearn MetricFrame refitted per
                 replicate (timed on 2 replicates, scaled to 200);
* ``mitigation`` healthgap.fairness.mitigate vs one LogisticRegression fit on the same sample;
* ``shap``       healthgap.explain.explain vs shap.TreeExplainer on the same rows.

Usage: ``python benchmarks/bench_models.py [--sizes 250000 1000000]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

N_BOOT = 200


def _time(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def _row(name: str, ours: float, peer: float, peer_name: str) -> None:
    print(f"  {name:<11} {ours:8.2f} s   peer {peer:8.2f} s ({peer_name})   ratio {ours / peer:7.3f}")


def bench(n: int) -> None:
    import pandas as pd
    import shap
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    from healthgap.config import DEFAULT_DIMENSIONS, ModelSettings
    from healthgap.explain import explain, sample_rows
    from healthgap.fairness import audit, mitigate
    from healthgap.models import build_boosted, fit, performance
    from healthgap.models._metrics import bootstrap_weights
    from healthgap.synth import generate

    people, _ = generate(n, seed=2024)
    settings = ModelSettings()
    dims = [DEFAULT_DIMENSIONS[d] for d in ("imd_quintile", "ethnicity", "sex", "age_band", "locality")]
    print(f"\n{n:,} people (test set {round(n * settings.test_size):,}); {N_BOOT} bootstrap replicates")

    t_fit, result = _time(fit, people, settings=settings, n_boot=N_BOOT)
    t_hgb, _ = _time(build_boosted(seed=settings.seed).fit, result.X_train, result.y_train)
    _row("fit", t_fit, t_hgb, "HGB alone on numpy")

    y, p = result.y_test, result.risk_test["boosted"]
    t_perf, _ = _time(performance, y, p, model="m", n_boot=N_BOOT, seed=1)

    lp = np.log(p / (1 - p))[:, None]

    def sklearn_loop(k: int) -> None:
        for W in bootstrap_weights(y.shape[0], n_boot=k, seed=1):
            for w in W:
                roc_auc_score(y, p, sample_weight=w)
                average_precision_score(y, p, sample_weight=w)
                brier_score_loss(y, p, sample_weight=w)
                LogisticRegression(C=np.inf).fit(lp, y, sample_weight=w)  # calibration slope

    t_loop, _ = _time(sklearn_loop, 20)
    _row("metrics", t_perf, t_loop * N_BOOT / 20, "sklearn loop, scaled from 20")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_audit, _ = _time(audit, result, dimensions=dims, n_boot=N_BOOT, seed=1)
        flagged = result.flagged()
        keys = {d.name: result.groups_test[d.name].cast(str).to_numpy() for d in dims}
        keys["imd_quintile × ethnicity"] = keys["imd_quintile"] + " × " + keys["ethnicity"]
        keys["sex × age_band"] = keys["sex"] + " × " + keys["age_band"]
        rng = np.random.default_rng(1)

        def metricframe_boot(k: int) -> None:
            for _ in range(k):
                idx = rng.integers(0, y.shape[0], y.shape[0])
                for key in keys.values():
                    MetricFrame(
                        metrics={
                            "tpr": true_positive_rate,
                            "fpr": false_positive_rate,
                            "sel": selection_rate,
                        },
                        y_true=y[idx],
                        y_pred=flagged[idx],
                        sensitive_features=pd.Series(key[idx]),
                    )
                    MetricFrame(
                        metrics=roc_auc_score,
                        y_true=y[idx],
                        y_pred=p[idx],
                        sensitive_features=pd.Series(key[idx]),
                    )

        try:
            t_mf, _ = _time(metricframe_boot, 2)
        except ValueError:  # a resample without both classes in a group: time what ran
            t_mf = float("nan")
        _row("audit", t_audit, t_mf * N_BOOT / 2, "MetricFrame per replicate, scaled from 2")

        t_mit, _mit = _time(mitigate, result, dimension=DEFAULT_DIMENSIONS["imd_quintile"])
        prepare = result.models["logistic"].named_steps["prepare"]
        rows = np.sort(
            np.random.default_rng(settings.seed).choice(
                result.y_train.shape[0],
                size=min(settings.mitigation_sample, result.y_train.shape[0]),
                replace=False,
            )
        )
        Xs = prepare.transform(result.X_train[rows])
        t_lr, _ = _time(LogisticRegression(max_iter=500).fit, Xs, result.y_train[rows])
        _row("mitigation", t_mit, t_lr, f"one LR fit on {rows.size:,} rows")

    t_exp, _ = _time(explain, result, dimensions=dims, n_boot=N_BOOT)
    sample = result.X_test[sample_rows(result.X_test.shape[0], size=settings.shap_sample, seed=settings.seed)]
    t_shap, _ = _time(shap.TreeExplainer(result.models["boosted"]).shap_values, sample)
    _row("shap", t_exp, t_shap, f"TreeExplainer alone, {sample.shape[0]:,} rows")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 1_000_000])
    args = parser.parse_args()
    for n in args.sizes:
        bench(n)


if __name__ == "__main__":
    main()
