"""healthgap.fairness: audit against direct calculations, label bias, mitigation, disclosure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from fairlearn.metrics import MetricFrame, true_positive_rate
from sklearn.metrics import roc_auc_score

from healthgap.config import DEFAULT_DIMENSIONS, Dimension, DisclosureSettings, ModelSettings
from healthgap.disclosure import assert_publishable, publish
from healthgap.fairness import (
    AUDIT_BY,
    AUDIT_COUNTS,
    AUDIT_DERIVED,
    GROUP_METRICS,
    LABEL_COUNTS,
    LABEL_DERIVED,
    MITIGATION_COUNTS,
    MITIGATION_GROUP_COUNTS,
    MITIGATION_GROUP_DERIVED,
    audit,
    choose_condition,
    groupings,
    label_bias,
    mitigate,
)
from healthgap.fairness._groupboot import group_metrics, prepare
from healthgap.models import fit

N = 30_000
DIMS = [DEFAULT_DIMENSIONS[d] for d in ("imd_quintile", "ethnicity", "sex", "age_band")]
SETTINGS = DisclosureSettings()
THRESHOLD = SETTINGS.suppress_below


def _published_groups(a) -> pl.DataFrame:
    """The audit's groups as a page publishes them: once, groups with a published size only."""
    return (
        publish(
            a.groups,
            counts=list(AUDIT_COUNTS),
            derived=AUDIT_DERIVED,
            by=list(AUDIT_BY),
            recompute=a.recompute,
            settings=SETTINGS,
        )
        .where(pl.col("n").is_not_null())
        .frame
    )


def _published_label(lb, frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return (
        publish(
            frame,
            counts=list(LABEL_COUNTS),
            derived=LABEL_DERIVED,
            by=by,
            recompute=lb.recompute,
            settings=SETTINGS,
        )
        .where(pl.col("n").is_not_null())
        .frame
    )


def _published_mitigation(m) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(summary, by_group) as a page publishes them: the groups first, the gap from them."""
    groups = publish(
        m.by_group,
        counts=list(MITIGATION_GROUP_COUNTS),
        derived=MITIGATION_GROUP_DERIVED,
        by=["strategy"],
        recompute=m.group_rates,
        settings=SETTINGS,
    ).where(pl.col("n").is_not_null())
    summary = publish(
        m.overall,
        counts=list(MITIGATION_COUNTS),
        derived={},
        by=["strategy"],
        recompute=lambda f: m.summary(f, groups=groups.frame),
        settings=SETTINGS,
    )
    return summary.frame, groups.frame


@pytest.fixture(scope="module")
def population():
    from healthgap.synth import generate

    return generate(N, seed=11)


@pytest.fixture(scope="module")
def people(population):
    return population[0]


@pytest.fixture(scope="module")
def truth(population):
    return population[1]


@pytest.fixture(scope="module")
def htn(people):
    """A model of recorded hypertension: common outcome, so group metrics are stable."""
    return fit(people, settings=ModelSettings(target="hypertension"), n_boot=10)


@pytest.fixture(scope="module")
def result_audit(htn):
    return audit(htn, dimensions=DIMS, n_boot=60, seed=3)


@pytest.fixture(scope="module")
def published(result_audit):
    return _published_groups(result_audit)


def _published_n_ok(frame: pl.DataFrame, column: str = "n") -> None:
    assert frame.height > 0
    assert frame[column].null_count() == 0
    assert (frame[column] >= THRESHOLD).all()


def test_audit_point_estimates_match_direct_calculation(htn, published):
    flagged = htn.flagged()
    y, p = htn.y_test, htn.risk_test["boosted"]
    q = htn.groups_test["imd_quintile"].to_numpy()
    rows = published.filter(pl.col("dimension") == "imd_quintile")
    for level in "12345":
        m = q == level
        sub = rows.filter(pl.col("group") == level)
        got = dict(zip(sub["metric"], sub["value"], strict=True))
        # proportions of people come from the published (rounded) counts, with Wilson intervals
        fractions = {
            "prevalence": (y[m].sum(), m.sum()),
            "selection_rate": (flagged[m].sum(), m.sum()),
            "tpr": ((flagged & y)[m].sum(), y[m].sum()),
            "fpr": ((flagged & ~y)[m].sum(), (~y)[m].sum()),
            "ppv": ((flagged & y)[m].sum(), flagged[m].sum()),
        }
        direct = {k: _r5(int(x)) / _r5(int(n)) for k, (x, n) in fractions.items()}
        direct |= {
            "auroc": round(roc_auc_score(y[m], p[m]), 2),
            "mean_predicted": float(f"{p[m].mean():.3g}"),
        }  # AUROC to 2 dp, mean predicted risk to 3 significant figures
        for metric, value in direct.items():
            if got[metric] is None:  # only when disclosure control suppressed it
                reason = sub.filter(pl.col("metric") == metric)["suppression_reason"].item()
                assert "suppressed to protect confidentiality" in reason or "people in the group" in reason
            else:
                assert got[metric] == pytest.approx(value), (level, metric)
                if metric in fractions:
                    r = sub.filter(pl.col("metric") == metric).row(0, named=True)
                    x, n = (_r5(int(v)) for v in fractions[metric])
                    assert (r["numerator"], r["denominator"]) == (x, n)
                    assert (r["lower_ci"], r["upper_ci"]) == pytest.approx(_wilson(x, n), rel=1e-9)
        assert sum(v is not None for v in got.values()) >= 5


def _r5(x: int) -> int:
    """Published count by hand: 1-7 kept (they are suppressed), others to the nearest 5."""
    return x if x < 8 else 5 * int(np.floor(x / 5 + 0.5))


def _wilson(x: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's score interval by solving |x/n - p| = z sqrt(p(1-p)/n) for p (scipy, no formula)."""
    from scipy.optimize import brentq

    f = lambda q: (x / n - q) ** 2 - z * z * q * (1 - q) / n  # noqa: E731
    p = x / n  # the roots lie either side of p (one of them is p itself when x is 0 or n)
    lo = 0.0 if x == 0 else brentq(f, 1e-15, min(p, 1 - 1e-12) if x < n else 1 - 1e-12)
    hi = 1.0 if x == n else brentq(f, max(p, 1e-12), 1 - 1e-15)
    return lo, hi


def test_gap_intervals_newcombe_and_mover_r():
    """Newcombe's difference and MOVER-R's ratio intervals: against the Wald and Katz log
    intervals at large counts, where all agree, and their defining properties at small ones."""
    import math

    from healthgap.fairness._published import mover_ratio, newcombe_difference

    x1, n1, x2, n2 = 3000, 10000, 4000, 10000
    (l1, u1), (l2, u2), p1, p2 = _wilson(x1, n1), _wilson(x2, n2), x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    z = 1.959963984540054
    assert newcombe_difference(p1, l1, u1, p2, l2, u2) == pytest.approx(
        (p1 - p2 - z * se, p1 - p2 + z * se), abs=5e-5
    )
    katz = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    assert mover_ratio(p1, l1, u1, p2, l2, u2) == pytest.approx(
        (p1 / p2 * math.exp(-z * katz), p1 / p2 * math.exp(z * katz)), rel=5e-5
    )
    # small counts: the interval holds the estimate; the difference interval within -1..1
    for x1, n1, x2, n2 in ((0, 20, 5, 20), (10, 10, 3, 15), (9, 40, 9, 40)):
        (l1, u1), (l2, u2), p1, p2 = _wilson(x1, n1), _wilson(x2, n2), x1 / n1, x2 / n2
        lo, hi = newcombe_difference(p1, l1, u1, p2, l2, u2)
        assert -1 <= lo <= p1 - p2 <= hi <= 1
        rlo, rhi = mover_ratio(p1, l1, u1, p2, l2, u2)
        assert 0 <= rlo <= p1 / p2 <= rhi
    assert newcombe_difference(0.5, 0.3, 0.7, 0.5, 0.3, 0.7) == pytest.approx(
        (-0.2 * math.sqrt(2), 0.2 * math.sqrt(2))
    )


def test_vectorised_bootstrap_at_unit_weights_equals_metricframe(htn):
    y, p, s = htn.y_test, htn.risk_test["boosted"], htn.flagged()
    found, _ = groupings(htn.groups_test, DIMS, intersections=(("imd_quintile", "ethnicity"),))
    g = next(x for x in found if x.name == "imd_quintile × ethnicity")
    out = group_metrics(np.ones((1, y.shape[0])), prepare(g.codes, g.k, y=y, selected=s, p=p))[0]
    keys = np.asarray(g.levels, dtype=object)[g.codes]
    mf = MetricFrame(metrics=true_positive_rate, y_true=y, y_pred=s, sensitive_features=keys)
    tpr = mf.by_group.reindex(list(g.levels)).to_numpy()
    has_cases = out[:, 8] > 0
    np.testing.assert_allclose(out[has_cases, 3], tpr[has_cases], atol=1e-12)
    assert np.isnan(out[~has_cases, 3]).all()
    assert out[:, 7].sum() == y.shape[0]


def test_intervals_cover_points_and_differences_match_groups(result_audit, published):
    rows = published.filter(pl.col("value").is_not_null() & pl.col("lower_ci").is_not_null())
    assert (rows["lower_ci"] <= rows["value"] + 1e-12).mean() > 0.97
    assert (rows["upper_ci"] >= rows["value"] - 1e-12).mean() > 0.97
    diffs = result_audit.differences(published).filter(pl.col("dimension") == "imd_quintile")
    for metric in GROUP_METRICS:
        vals = published.filter((pl.col("dimension") == "imd_quintile") & (pl.col("metric") == metric))
        row = diffs.filter(pl.col("metric") == metric)
        if (
            vals["value"].max() == vals["value"].min()
        ):  # all groups alike: no row comparing a group with itself
            assert row.height == 0
            continue
        assert row["difference"].item() == pytest.approx(vals["value"].max() - vals["value"].min())
        if vals["value"].max() > 0:
            assert row["ratio"].item() == pytest.approx(vals["value"].min() / vals["value"].max())
        else:
            assert row["ratio"].item() is None
        lo, hi = row["difference_lower_ci"].item(), row["difference_upper_ci"].item()
        assert lo <= row["difference"].item() <= hi
    prevalence = diffs.filter(pl.col("metric") == "prevalence")
    assert prevalence["difference_lower_ci"].item() > 0  # recorded hypertension differs by deprivation


def test_no_published_group_below_threshold(htn, published):
    _published_n_ok(published)
    # five people put in a group of their own: removed, with one more group protecting it
    eth = htn.groups_test["ethnicity"].to_numpy().copy()
    eth[eth == "Other"] = "Mixed"
    eth[:5] = "Other"
    tiny = replace(htn, groups_test=htn.groups_test.with_columns(ethnicity=pl.Series(eth)))
    a = audit(tiny, dimensions=[DEFAULT_DIMENSIONS["ethnicity"]], n_boot=10, intersections=())
    shown = _published_groups(a)
    _published_n_ok(shown)
    assert "Other" not in shown["group"].to_list()
    assert shown["group"].n_unique() == 4 and a.groups["group"].n_unique() - shown["group"].n_unique() == 2
    diffs = a.differences(shown)
    assert "Other" not in diffs["highest_group"].to_list() + diffs["lowest_group"].to_list()
    small = published.filter(pl.col("numerator").is_not_null())
    assert ((small["numerator"] == 0) | (small["numerator"] >= THRESHOLD)).all()
    assert_publishable(
        published.select("dimension", "group", "metric", "n", "numerator", "denominator", "value")
    )


def test_operating_threshold_is_explicit(htn):
    a = audit(htn, dimensions=DIMS[:1], n_boot=10, top_fraction=0.2)
    overall = a.groups.filter(pl.col("metric") == "selection_rate")["value"]
    assert a.threshold == pytest.approx(htn.threshold(top_fraction=0.2))
    assert 0.15 < overall.mean() < 0.25


def test_single_level_and_missing_dimensions_are_skipped(htn):
    one = replace(htn, groups_test=htn.groups_test.with_columns(sex=pl.lit("female")))
    a = audit(
        one, dimensions=[*DIMS, Dimension("locality", "Locality", (), {}, "")], n_boot=10, intersections=()
    )
    reasons = dict(a.skipped)
    assert "only one level" in reasons["Sex"]
    assert "Sex" not in a.groups["dimension_label"].to_list()


def test_label_bias_detects_injected_underdiagnosis(people, truth):
    lb = label_bias(
        people, condition="hypertension", settings=ModelSettings(), dimensions=DIMS[:1], cache=False
    )
    groups = _published_label(lb, lb.groups, ["dimension", "metric"])
    rows = groups.filter(pl.col("dimension") == "imd_quintile")

    def value(metric, group):
        return rows.filter((pl.col("metric") == metric) & (pl.col("group") == group))["value"].item()

    detection = truth["detection"]["hypertension"]["by_imd_quintile"]
    assert detection[0] < detection[-1]
    # the recorded label misses more true cases in the most deprived quintile, as truth.json says
    assert value("recorded", "1") < value("recorded", "5")
    hi = rows.filter((pl.col("metric") == "recorded") & (pl.col("group") == "5"))["upper_ci"].item()
    lo = rows.filter((pl.col("metric") == "recorded") & (pl.col("group") == "1"))["lower_ci"].item()
    assert lo < detection[0] * 1.05 and hi > detection[-1] * 0.8
    # and so does the model trained on it, judged against the truth
    assert value("recall_true", "1") < value("recall_true", "5")
    _published_n_ok(groups)
    # prescriptions, which follow a diagnosis, are among its inputs and are named for the text
    assert "hypertension" not in lb.result.features
    assert (
        lb.care_features
        == tuple(t for t in ("statin", "antihypertensive", "anticoagulant") if t in lb.result.features)
        and "antihypertensive" in lb.care_features
    )


def test_choose_condition_and_absent_truth(people):
    imd = DEFAULT_DIMENSIONS["imd_quintile"]
    assert choose_condition(people, ["chd", "hypertension"], dimension=imd) == "hypertension"
    assert choose_condition(people, ["chd", "hypertension"]) == "chd"  # no dimension to compare: the first
    # any ordered dimension: the same fifths read the other way round, disadvantaged last
    reversed_imd = replace(imd, name="fifth", order=tuple(reversed(imd.order)), disadvantaged="last")
    relabelled = people.with_columns(pl.col("imd_quintile").alias("fifth"))
    assert choose_condition(relabelled, ["chd", "hypertension"], dimension=reversed_imd) == "hypertension"
    no_truth = people.select(pl.exclude("^true_.*$"))
    assert choose_condition(no_truth, ["hypertension", "af"]) is None
    # a condition the config declares (not in the profile): its own true status, or none (was a ValueError)
    declared = people.with_columns(
        pl.col("af").alias("depression"), pl.col("true_af").alias("true_depression")
    )
    assert choose_condition(declared, ["depression"], dimension=imd) == "depression"
    assert choose_condition(declared.drop("true_depression"), ["depression"], dimension=imd) is None
    with pytest.raises(ValueError, match="true_af"):
        label_bias(no_truth, condition="af", settings=ModelSettings(), dimensions=DIMS[:1], cache=False)


def test_mitigation_leaves_out_a_group_without_both_classes(htn):
    # issue 11, item 13: fairlearn stops with "Degenerate labels for sensitive feature value ..." when a
    # group of the training set has nobody with the outcome; the group is left out, with its label
    train_quiet = np.flatnonzero(~htn.y_train)[:40]
    test_quiet = np.flatnonzero(~htn.y_test)[:20]

    def relabel(frame: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
        mark = np.zeros(frame.height, dtype=bool)
        mark[rows] = True
        return frame.with_columns(
            imd_quintile=pl.when(pl.Series(mark)).then(pl.lit("6")).otherwise(pl.col("imd_quintile"))
        )

    odd = replace(
        htn,
        groups_train=relabel(htn.groups_train, train_quiet),
        groups_test=relabel(htn.groups_test, test_quiet),
    )
    dim = replace(DEFAULT_DIMENSIONS["imd_quintile"], order=("1", "2", "3", "4", "5", "6"))
    m = mitigate(odd, dimension=dim, n_boot=10)
    assert m.left_out == ("6",)
    assert "6" not in m.by_group["group"].to_list()
    assert m.overall["people"].max() == htn.y_test.shape[0] - 20  # the group's people are left out


def test_mitigation_refuses_a_dimension_with_fewer_than_two_fittable_groups(htn):
    from healthgap.fairness import NotMitigable

    quiet = np.where(htn.y_train, "a", "b")  # every group holds one class only
    odd = replace(htn, groups_train=htn.groups_train.with_columns(sex=pl.Series(quiet)))
    with pytest.raises(NotMitigable) as err:
        mitigate(odd, dimension=DEFAULT_DIMENSIONS["sex"], n_boot=10)
    assert "both with and without the outcome" in err.value.why


def test_mitigation_reduces_targeted_disparity(htn):
    m = mitigate(htn, dimension=DEFAULT_DIMENSIONS["imd_quintile"])
    summary, published_groups = _published_mitigation(m)
    s = {r["strategy"]: r for r in summary.iter_rows(named=True)}
    assert s["threshold_optimizer"]["tpr_difference"] < s["balanced"]["tpr_difference"]
    assert summary["strategy"].to_list()[:2] == ["capacity", "balanced"]
    assert s["capacity"]["selection_rate"] == pytest.approx(0.05, abs=0.015)
    _published_n_ok(published_groups)
    again = mitigate(htn, dimension=DEFAULT_DIMENSIONS["imd_quintile"])
    assert _published_mitigation(again)[0].equals(
        summary
    )  # randomised predictions and the bootstrap are seeded
    for name in ("balanced_accuracy", "tpr_difference", "gap_change"):
        lo, hi = summary[f"{name}_lower_ci"], summary[f"{name}_upper_ci"]
        assert (lo <= hi).all() and (lo <= summary[name] + 1e-9).all() and (summary[name] <= hi + 1e-9).all()
    assert s["balanced"]["gap_change"] is None  # the reference for the changes
    for r in summary.iter_rows(named=True):  # overall rates from the published counts (rule 8)
        assert r["tpr"] == pytest.approx(r["found"] / (r["found"] + r["missed"]))
        assert r["found"] % 5 == 0 and r["missed"] % 5 == 0
    by_group = published_groups.filter(pl.col("tpr").is_not_null())
    assert by_group.height >= 10
    for r in by_group.iter_rows(named=True):  # rates from the published counts (disclosure rule 8)
        assert r["found"] % 5 == 0 and r["cases"] % 5 == 0 and r["flagged"] % 5 == 0
        assert r["tpr"] == pytest.approx(r["found"] / r["cases"])
        assert r["selection_rate"] == pytest.approx(r["flagged"] / r["n"])


def test_mitigation_intervals_match_a_replicate_by_replicate_bootstrap():
    from healthgap.fairness._groups import Grouping
    from healthgap.fairness._mitigation import _intervals
    from healthgap.stats import bootstrap_weights

    rng = np.random.default_rng(3)
    n, k = 900, 3
    codes = rng.integers(-1, k, n)  # -1: group missing, left out of the gap
    y = rng.random(n) < 0.3
    decisions = {"balanced": rng.random(n) < 0.4, "fairer": rng.random(n) < 0.5 + 0.1 * codes}
    g = Grouping("imd_quintile", "IMD", ("imd_quintile",), ("1", "2", "3"), ("One", "Two", "Three"), codes)
    ends = {"balanced": ("Three", "One"), "fairer": ("Two", "One")}
    overall = pl.DataFrame(
        {
            "strategy": list(ends),
            "highest_group": [e[0] for e in ends.values()],
            "lowest_group": [e[1] for e in ends.values()],
            "tpr_difference": [0.2, 0.05],
        }
    )
    got = _intervals(decisions, y, g, overall, n_boot=300, seed=11, confidence=0.9)
    # reference: one replicate at a time, plain weighted sums
    ba, gap = {s: [] for s in ends}, {s: [] for s in ends}
    position = {"One": 0, "Two": 1, "Three": 2}
    for W in bootstrap_weights(n, n_boot=300, seed=11):
        for w in W:
            for s, flag in decisions.items():
                tpr = [
                    np.sum(w * (y & flag & (codes == j))) / np.sum(w * (y & (codes == j))) for j in range(k)
                ]
                kept = codes >= 0  # people with no group are out of the comparison, as in the estimates
                tp = np.sum(w * (kept & y & flag)) / np.sum(w * (kept & y))
                fp = np.sum(w * (kept & ~y & flag)) / np.sum(w * (kept & ~y))
                ba[s].append((tp + 1 - fp) / 2)
                top, bottom = (position[e] for e in ends[s])
                gap[s].append(tpr[top] - tpr[bottom])
    rows = {r["strategy"]: r for r in got.iter_rows(named=True)}
    for s in ends:
        change = np.asarray(gap[s]) - np.asarray(gap["balanced"])
        checks = [("balanced_accuracy", ba[s]), ("tpr_difference", gap[s])]
        checks += [("gap_change", change)] if s != "balanced" else []  # the baseline is the reference
        for name, reps in checks:
            lo, hi = np.quantile(reps, [0.05, 0.95])
            assert rows[s][f"{name}_lower_ci"] == pytest.approx(lo, abs=1e-12), (s, name)
            assert rows[s][f"{name}_upper_ci"] == pytest.approx(hi, abs=1e-12), (s, name)
    assert rows["fairer"]["gap_change"] == pytest.approx(0.05 - 0.2)
    assert rows["balanced"]["gap_change"] is None and rows["balanced"]["gap_change_upper_ci"] is None
    assert rows["fairer"]["gap_change_upper_ci"] > rows["fairer"]["gap_change_lower_ci"]


def test_mitigation_gap_needs_two_published_groups(htn):
    """With every group but one too small to publish there is no gap to report (not a gap of 0)."""
    sex = np.where(np.arange(htn.y_test.shape[0]) < 5, "female", "male")
    lopsided = replace(htn, groups_test=htn.groups_test.with_columns(sex=pl.Series(sex)))
    m = mitigate(lopsided, dimension=DEFAULT_DIMENSIONS["sex"], n_boot=20)
    summary, _ = _published_mitigation(m)
    assert summary["tpr_difference"].is_null().all()
    assert summary["gap_change"].is_null().all() and summary["tpr_difference_upper_ci"].is_null().all()
    # the five women are suppressed, and the men with them (their total is known)
    assert (summary["groups_compared"].fill_null(0) <= 1).all()


def test_mitigation_unknown_dimension_is_clear(htn):
    with pytest.raises(ValueError, match=r"'region'.*not in the data"):
        mitigate(htn, dimension=Dimension("region", "Region", (), {}, ""))
    one = replace(htn, groups_test=htn.groups_test.with_columns(sex=pl.lit("male")))
    with pytest.raises(ValueError, match=r"'sex'.*only one level"):
        mitigate(one, dimension=DEFAULT_DIMENSIONS["sex"])
