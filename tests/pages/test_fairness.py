"""The fairness page: its sentences, publication and figures on small hand-made audit results.

No model is fitted: the page's results (the exact audit, label bias and
mitigation, or their published frames) are set by hand on a page built from a
small person table, so each test runs in milliseconds.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import Published
from healthgap.fairness import GROUP_METRICS, FairnessAudit, GroupReplicates
from healthgap.pages.fairness import (
    ALL_SHOWN,
    FairnessPage,
    gap_text,
    groups_of,
    mitigation_cost,
    mitigation_gap,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of

SETTINGS = DisclosureSettings()
SKIPPED = "This section is skipped because the dataset has no"


def published(rows: list[dict[str, Any]], counts: tuple[str, ...] = ()) -> Published:
    """A frame taken as published (hand-made: counts already rounded or suppressed)."""
    return Published(pl.DataFrame(rows), counts, SETTINGS)


def gap(**over: Any) -> dict[str, Any]:
    """One row of the audit's differences: true positive rate by deprivation, 40% to 60%."""
    row = {
        "dimension": "imd_quintile",
        "dimension_label": "Deprivation (IMD quintile)",
        "metric": "tpr",
        "statistic": "True positive rate",
        "highest_group": "1 (most deprived)",
        "highest": 0.6,
        "lowest_group": "4",
        "lowest": 0.4,
        "difference": 0.2,
        "difference_lower_ci": 0.05,
        "difference_upper_ci": 0.35,
        "ratio": 0.4 / 0.6,
        "ratio_lower_ci": 0.5,
        "ratio_upper_ci": 0.9,
        "groups": 5,
    }
    return {**row, **over}


@pytest.fixture
def page(page_of) -> FairnessPage:
    """A fairness page with a model (no problem) but no results yet: tests set them."""
    p = page_of(FairnessPage, build_people())
    p.problem = None
    p.dimensions = list(p.config.dimensions)
    return p


# -- gap sentences --------------------------------------------------------------------
def test_gap_sentence_names_groups_and_says_when_the_gap_is_beyond_chance():
    assert gap_text(gap(), dimension="imd_quintile", what="the share of outcomes found") == (
        "The share of outcomes found ranges from 40.0% (deprivation fifth 4) to 60.0% (deprivation fifth "
        "1, most deprived), a difference of 20.0 percentage points (95% CI 5.0 to 35.0 percentage points). "
    )


def test_gap_sentence_when_the_interval_includes_zero():
    text = gap_text(gap(difference_lower_ci=-0.01), dimension="imd_quintile", what="the share flagged")
    assert text.startswith("The share flagged ranges from 40.0%")
    assert text.endswith("(95% CI -1.0 to 35.0 percentage points); the difference could be due to chance. ")
    no_ci = gap_text(
        gap(difference_lower_ci=None, difference_upper_ci=None, dimension="sex", lowest_group="Female"),
        dimension="sex",
        what="the share flagged",
    )
    assert "(Female)" in no_ci and "95% CI" not in no_ci
    assert no_ci.endswith("a difference of 20.0 percentage points; the difference could be due to chance. ")


def test_gap_sentence_absent_or_suppressed_is_empty(page):
    assert gap_text(None, dimension="sex", what="x") == ""
    assert gap_text(gap(lowest=None), dimension="imd_quintile", what="x") == ""
    page.differences = published([gap()])
    assert page.gap_sentence("imd_quintile", "tpr").startswith("The share of outcomes found ranges")
    assert page.gap_sentence("imd_quintile", "selection_rate") == ""  # no such gap published
    assert page.gap_sentence("ethnicity", "tpr") == ""
    page.differences = None  # no audit at all
    assert page.gap_sentence("imd_quintile", "tpr") == ""


# -- the opening paragraph ------------------------------------------------------------
def test_suppressed_text_counts_hidden_and_partial_groups(page):
    page.audit = SimpleNamespace(n_boot=200, skipped=())
    rows = [
        {"dimension": "sex", "group": g, "metric": m, "value": v}
        for g, m, v in [
            ("female", "tpr", 0.5),
            ("female", "ppv", 0.2),
            ("male", "tpr", None),
            ("male", "ppv", 0.3),
            ("male", "auroc", None),  # not one of the measures drawn
        ]
    ]
    page.groups = published(rows)
    page.hidden_groups = 0
    assert page.suppressed_text() == (
        "Of the groups shown, 1 has some measures marked [c]: they rest on fewer than 8 people "
        "(or would reveal such a number)."
    )
    page.hidden_groups = 2
    assert page.suppressed_text().startswith(
        "2 groups are left out of every table and chart: too few people to publish, or hidden so that "
        "such a group cannot be worked out from the others. Of the groups shown, 1 has"
    )
    page.groups = published([{"dimension": "sex", "group": "male", "metric": "tpr", "value": 0.3}])
    page.hidden_groups = 1
    assert page.suppressed_text().startswith("1 group is left out of every table")
    page.hidden_groups = 0
    assert page.suppressed_text() == ALL_SHOWN
    assert page.n_boot == "200"


def test_skipped_text_and_problem_note(page):
    page.audit = SimpleNamespace(
        n_boot=200, skipped=(("Sex", "only one level"), ("Locality", "not in the data"))
    )
    assert page.skipped_text() == "Not audited: Sex: only one level; Locality: not in the data."
    page.audit = SimpleNamespace(n_boot=200, skipped=())
    assert page.skipped_text() == ""
    assert page.problem_note() is None
    page.problem = "no outcome column"
    page.audit = None
    assert "usable outcome for the model: no outcome column" in html_of(page.problem_note())
    assert page.n_boot == "many" and page.suppressed_text() == "" and page.skipped_text() == ""


# -- publication ------------------------------------------------------------------------
def _exact_audit(sizes: dict[str, int]) -> FairnessAudit:
    """An exact audit of sex by hand: every group, every measure, with exact counts."""
    names = list(GROUP_METRICS)
    rows = []
    for order, (group, n) in enumerate(sizes.items()):
        pos, sel, tp = n // 5, n // 10, n // 20
        num = {
            "prevalence": pos,
            "mean_predicted": n,
            "selection_rate": sel,
            "tpr": tp,
            "fpr": sel - tp,
            "ppv": tp,
            "auroc": min(pos, n - pos),
        }
        den = {
            "prevalence": n,
            "mean_predicted": n,
            "selection_rate": n,
            "tpr": pos,
            "fpr": n - pos,
            "ppv": sel,
            "auroc": n,
        }
        for j, metric in enumerate(names):
            value = 0.123456 if metric in ("auroc", "mean_predicted") else num[metric] / max(den[metric], 1)
            rows.append({
                "dimension": "sex", "dimension_label": "Sex", "group": group, "group_label": group.title(),
                "order": order, "metric_order": j, "n": n, "metric": metric, "statistic": GROUP_METRICS[metric],
                "numerator": num[metric], "denominator": den[metric], "value": value,
                "lower_ci": value / 2, "upper_ci": min(2 * value, 1.0), "confidence": 0.95, "method": "exact",
            })  # fmt: skip
    replicates = np.random.default_rng(1).random((20, len(sizes), len(names)))
    return FairnessAudit(
        model="Gradient-boosted trees",
        target_label="CVD admission",
        threshold=0.1,
        top_fraction=0.05,
        groups=pl.DataFrame(rows),
        replicates=(GroupReplicates("sex", "Sex", tuple(g.title() for g in sizes), replicates),),
        skipped=(),
        n_boot=20,
    )


def test_groups_are_published_once_from_the_exact_audit(page):
    page.audit = _exact_audit({"female": 1013, "male": 478})
    groups = page.groups.frame
    assert page.hidden_groups == 0 and groups["group"].unique(maintain_order=True).to_list() == [
        "female",
        "male",
    ]
    tpr = groups.filter(pl.col("metric") == "tpr").row(0, named=True)
    # rounded to 5 as published (exactly 50 of 202)
    assert (tpr["n"], tpr["numerator"], tpr["denominator"]) == (1015, 50, 200)
    assert tpr["value"] == pytest.approx(50 / 200)  # recomputed from the published counts
    assert (
        tpr["lower_ci"] < 0.25 < tpr["upper_ci"] and tpr["lower_ci"] != 0.25 / 2
    )  # Wilson, not the exact one
    auroc = groups.filter(pl.col("metric") == "auroc").row(0, named=True)
    assert auroc["value"] == 0.12  # AUROC to 2 decimal places


def test_a_group_too_small_to_publish_is_left_out_with_another(page):
    page.audit = _exact_audit({"female": 1003, "male": 998, "unknown": 5})
    assert page.hidden_groups == 2 and page.groups.frame["group"].unique().to_list() == ["female"]
    assert page.differences.height == 0  # one published group: nothing to compare


def test_differences_compare_only_published_groups(page):
    page.audit = _exact_audit({"female": 1013, "male": 478})
    rows = page.differences.frame
    tpr = rows.filter(pl.col("metric") == "tpr").row(0, named=True)
    published_tpr = page.groups.frame.filter(pl.col("metric") == "tpr")
    assert tpr["difference"] == pytest.approx(published_tpr["value"].max() - published_tpr["value"].min())
    assert tpr["difference_lower_ci"] <= tpr["difference"] <= tpr["difference_upper_ci"]


# -- figures and tables ---------------------------------------------------------------------
def test_group_figure_and_the_skips(page):
    page.audit = _exact_audit({"female": 1003, "male": 498})
    assert [d.name for d in page.shown] == ["sex"]  # the only dimension audited
    markup = html_of(page.group_figure(0))
    assert 'id="fairness-sex"' in markup and "Share flagged, outcomes found and hit rate by sex" in markup
    assert "for each sex, the share of people flagged (top 5% of risk)" in markup
    csv = pl.read_csv(page.book.downloads / "fairness" / "fairness-sex.csv")
    assert set(csv["metric"]) == {"tpr", "ppv", "selection_rate"} and (csv["n"] % 5 == 0).all()
    assert page.group_figure(1) is None and page.group_paragraph(1) is None  # no second dimension
    assert "two equity dimensions with two or more groups" in html_of(page.intersection_figure())
    assert 'id="fairness-calibration"' in html_of(page.calibration_figure())  # by sex: the one audited
    page.audit = None
    page.groups = None
    assert f"{SKIPPED} equity dimension with two or more groups" in html_of(
        FairnessPage.group_figure(page, 0)
    )


def test_group_paragraph_words_any_dimension(page):
    # a dimension the book has never heard of, worded by its own noun and labels
    from healthgap.config import Dimension

    education = Dimension(
        "education", "Education level", ("1", "2", "3", "4"), {"1": "Some high school", "4": "College"},
        "4", noun="education level", ordered=True, disadvantaged="first",
    )  # fmt: skip
    page.dimensions = [education]
    rows = [
        {"dimension": "education", "group": g, "group_label": education.label_of(g), "metric": m, "value": v,
         "n": 100, "order": i}
        for i, g in enumerate(education.order)
        for m, v in (("prevalence", 0.3 - 0.05 * i), ("tpr", 0.5))
    ]  # fmt: skip
    page.groups = published(rows)
    page.differences = published(
        [gap(dimension="education", highest_group="Some high school", lowest_group="3")]
    )
    text = html_of(page.group_paragraph(0))
    assert text.startswith(
        "The share of outcomes found ranges from 40.0% (education level 3) to 60.0% (Some high school)"
    )
    assert (
        "The outcome is more common in the most disadvantaged education level (Some high school) (30.0%) "
        "than in the least disadvantaged education level (College) (15.0%), so a fair model *should* flag "
        "more people there; what matters for equal opportunity is whether the people who go on to have the "
        "outcome are found equally often (@fig-fair-1)."
    ) in text
    for word in ("depriv", "fifth", "admitted", "ethnic"):
        assert word not in text
    page.differences = published([gap(dimension="sex")])  # no gap published for education
    assert html_of(page.group_paragraph(0)).startswith(
        "The share of outcomes found cannot be compared between education levels: fewer than two groups"
    )


def test_gaps_table_shows_shares_in_percent(page):
    page.differences = published([gap(), gap(metric="auroc", highest=0.8, lowest=0.7, difference=0.1)])
    markup = html_of(page.gaps_table())
    assert 'id="fairness-gaps"' in markup
    csv = pl.read_csv(page.book.downloads / "fairness" / "fairness-gaps.csv")
    assert csv["highest"].to_list() == pytest.approx([60.0, 0.8])
    assert csv["unit"].to_list() == ["% (difference in percentage points)", "AUROC, 0 to 1"]
    page.differences = None
    assert "model audit results" in html_of(page.gaps_table())


# -- label bias ------------------------------------------------------------------------
def _label_rows(values: dict[tuple[str, str], float | None]) -> Published:
    rows = [
        {"dimension": "imd_quintile", "group": g, "group_label": g, "metric": m, "value": v,
         "lower_ci": None if v is None else v - 0.02, "upper_ci": None if v is None else v + 0.02}
        for (m, g), v in values.items()
    ]  # fmt: skip
    return published(rows)


def _overall(
    recall_true: float | None, undiagnosed: float | None, denominator: int | None = 1000
) -> Published:
    return published(
        [
            {"metric": "recall_true", "value": recall_true, "denominator": 2000},
            {"metric": "recall_undiagnosed", "value": undiagnosed, "denominator": denominator},
        ]
    )


@pytest.fixture
def with_label_bias(page):
    page.label_bias = SimpleNamespace(
        condition_label="Hypertension", care_features=("statin", "anticoagulant")
    )
    page.label_groups = _label_rows(
        {
            ("recorded", "1"): 0.55,
            ("recorded", "5"): 0.74,
            ("recall_true", "1"): 0.187,
            ("recall_true", "5"): 0.27,
        }
    )
    page.label_overall = _overall(0.224, 0.0)
    return page


def test_label_bias_text_in_full(with_label_bias):
    assert with_label_bias.label_bias_text() == (
        "We trained the same kind of model to predict recorded hypertension, the condition whose recording "
        "differs most between the ends of deprivation (IMD quintile) in this dataset. In the test set, 55.0% "
        "of people in the most disadvantaged deprivation fifth (1, most deprived) who truly have hypertension "
        "are diagnosed, against 74.0% in the least disadvantaged deprivation fifth (5, least deprived). The "
        "model, flagging the top 5% of predicted risk, finds 18.7% of true cases in the most disadvantaged "
        "deprivation fifth (1, most deprived) (95% CI 16.7% to 20.7%) and 27.0% in the least disadvantaged "
        "deprivation fifth (5, least deprived) (95% CI 25.0% to 29.0%). Of the people who have hypertension "
        "but were never diagnosed, it flags only 0.0%, against 22.4% of all true cases: trained on the "
        "register, it has learnt to find people who are already known. Among its inputs are prescriptions "
        "(statin and anticoagulant), which people receive only once they are diagnosed: as in most models "
        "built from health records, records of care stand in for the illness, so people not yet known to "
        "services rank low."
    )


def test_label_bias_text_with_suppressed_values(with_label_bias):
    page = with_label_bias
    page.label_groups = _label_rows(
        {("recorded", "1"): None, ("recall_true", "1"): None, ("recall_true", "5"): 0.27}
    )
    page.label_overall = _overall(0.224, None)
    text = page.label_bias_text()
    assert "are diagnosed, against" not in text
    assert "cannot be compared between the two ends of deprivation (IMD quintile)" in text
    assert "the model flags so few (fewer than 8) that the number cannot be published" in text
    page.label_overall = _overall(0.224, None, denominator=None)
    assert "Too few people with hypertension went undiagnosed to publish" in page.label_bias_text()
    page.label_overall = _overall(0.2, 0.3)
    assert "but were never diagnosed, it flags 30.0%." in page.label_bias_text()
    page.label_bias = SimpleNamespace(condition_label="Hypertension", care_features=("a", "b", "c"))
    assert "prescriptions (a, b and c)" in page.label_bias_text()


def test_label_bias_absent(page):
    page.label_bias = None
    assert page.label_bias_text() == (
        "This dataset does not say who truly has a condition, so this check cannot be run on it."
    )
    assert page.label_bias_paragraph() is None
    page.label_groups = None
    assert f"{SKIPPED} true-status columns" in html_of(page.label_bias_figure())
    page.label_bias = SimpleNamespace(condition_label="AF", care_features=())
    page.label_groups = published(
        [{"dimension": "ethnicity", "group": "Asian", "metric": "recorded", "value": 0.5}]
    )
    assert page.label_bias_text() == (
        "The label-bias audit for AF has no deprivation fifths large enough to compare."
    )
    page.dimensions = [d for d in page.dimensions if d.name != "imd_quintile"]  # no ordered dimension
    assert page.label_bias_paragraph() is None
    assert "ordered equity dimension whose disadvantaged end is known" in html_of(page.label_bias_figure())


# -- mitigation --------------------------------------------------------------------------
def strategy(**over: Any) -> dict[str, Any]:
    row = {
        "tpr_difference": 0.106,
        "tpr_difference_lower_ci": 0.004,
        "tpr_difference_upper_ci": 0.219,
        "gap_change": None,
        "gap_change_lower_ci": None,
        "gap_change_upper_ci": None,
        "found": 455,
        "groups_compared": 5,
        "method": "percentile bootstrap",
    }
    return {**row, **over}


def test_mitigation_gap_and_cost_wording():
    base = strategy()
    assert mitigation_gap(base, compare=False) == "10.6 percentage points (95% CI 0.4 to 21.9)"
    narrower = strategy(gap_change=-0.03, gap_change_lower_ci=-0.08, gap_change_upper_ci=-0.01)
    assert mitigation_gap(narrower) == (
        "10.6 percentage points (95% CI 0.4 to 21.9; 3.0 points narrower than the unmitigated model, "
        "change 95% CI -8.0 to -1.0: narrower beyond chance)"
    )
    within = strategy(gap_change=0.0001, gap_change_lower_ci=-0.05, gap_change_upper_ci=0.05)
    assert "no change from the unmitigated model" in mitigation_gap(within)
    assert "within what chance alone gives" in mitigation_gap(within)
    assert mitigation_gap(strategy(tpr_difference=None)).startswith("not estimated")
    assert mitigation_cost(strategy(found=445), base, cases=645) == (
        "finds 10 fewer people with the outcome in the test set (16 fewer per 1,000 people with the outcome)"
    )
    assert mitigation_cost(strategy(), base, cases=645) == "finds the same number of people with the outcome"
    assert mitigation_cost(strategy(found=None), base, cases=645) == (
        "finds too few people with the outcome for the number to be published"
    )


def test_groups_of_names_the_groups_of_a_dimension():
    assert groups_of("Deprivation (IMD quintile)") == "deprivation (IMD quintile) groups"
    assert groups_of("Ethnic group") == "ethnic groups"  # not "ethnic group groups"
    assert groups_of("Sex") == "sex groups"
    assert groups_of("Deprivation (IMD quintile)", "deprivation fifth") == "deprivation fifths"
    assert groups_of("Education level", "education level") == "education levels"
    assert groups_of("Locality", "locality") == "localities"


def test_mitigation_text_and_sample_text(page):
    page.mitigation = SimpleNamespace(
        dimension="imd_quintile",
        dimension_label="Deprivation (IMD quintile)",
        sample=5000,
        seed=7,
        left_out=(),
    )
    page.strategies = {
        "balanced": strategy(cases=645),
        "threshold_optimizer": strategy(gap_change=0.01, gap_change_lower_ci=-0.1, gap_change_upper_ci=0.1),
        "exponentiated_gradient": strategy(found=400),
    }
    page.training_size = 70_000
    text = page.mitigation_text()
    assert text.startswith("Both mitigations equalise the true positive rate across deprivation fifths")
    assert "and it finds 55 fewer people with the outcome in the test set (85 fewer per 1,000" in text
    assert "with about 129 people with the outcome per group" in text  # 645 / 5 groups
    assert text.endswith("means those two groups could swap places by chance.")
    assert "Left out of the mitigation" not in text
    assert page.sample_text().startswith(
        "ExponentiatedGradient refits its model dozens of times, so it is trained with a logistic regression "
        "on a random sample of about 5,000 people from the training set"
    )
    assert "@fig-mitigation" in html_of(page.capacity_paragraph())
    page.training_size = 4000
    assert "on the whole training set (about 5,000 people;" in page.sample_text()
    page.mitigation = SimpleNamespace(
        dimension="imd_quintile", dimension_label="Deprivation (IMD quintile)", sample=5000, seed=7,
        left_out=("4",),
    )  # fmt: skip
    assert (
        "Left out of the mitigation and of this comparison: deprivation fifth 4, because the training set has "
        "nobody with the outcome, or nobody without it, in that group"
    ) in page.mitigation_text()
    page.strategies = {k: strategy(tpr_difference=None) for k in page.strategies}
    assert page.mitigation_text().startswith(
        "Both equalise the true positive rate across deprivation fifths, but too few people with the outcome"
    )
    page.mitigation = None
    page.strategies = {}
    page.mitigation_problem = "fewer than two of its groups have people both with and without the outcome"
    assert page.mitigation_text() == (
        "Neither can be applied to this dataset: fewer than two of its groups have people both with and "
        "without the outcome."
    )
    assert page.sample_text() == "" and page.capacity_paragraph() is None
    assert "equity dimension whose groups the mitigations can be fitted to" in html_of(
        page.mitigation_figure()
    )
    page.mitigation_problem = None
    assert "equity dimension with more than one group" in html_of(page.mitigation_figure())


def test_coverage_text_is_never_empty(page):
    page.audit = None
    assert page.coverage_text() == "No model is fitted to this dataset, so nothing is audited."
    page.audit = SimpleNamespace(n_boot=200, skipped=(("Sex", "only one level"),))
    page.groups = None
    page.hidden_groups = 0
    assert page.coverage_text() == f"{ALL_SHOWN} Not audited: Sex: only one level."
