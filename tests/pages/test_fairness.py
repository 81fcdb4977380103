"""The fairness page: its sentences, publication and figures on small hand-made audit results.

No model is fitted: the page's results (the exact audit, label bias and
mitigation, or their published frames) are set by hand on a page built from a
small person table, so each test runs in milliseconds.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl
import pytest

from healthgap.config import DEFAULT_DIMENSIONS, DisclosureSettings
from healthgap.disclosure import Published
from healthgap.fairness import GROUP_METRICS, SPLIT_STRATEGIES, FairnessAudit, GroupReplicates
from healthgap.pages._fairness_labels import (
    capacity_mitigation_text,
    counterfactual_text,
    gap_change_text,
    label_frame,
    label_series,
    mitigation_frame,
)
from healthgap.pages.fairness import (
    ALL_SHOWN,
    LABEL_SERIES,
    SKIP_TRUTH,
    FairnessPage,
    gap_text,
    groups_of,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of
from tests.test_chart_tables import mismatches_of_figure

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
        "The share of outcomes found ranges from 40.0% in deprivation fifth 4 to 60.0% in the most deprived "
        "fifth, a difference of 20.0 percentage points (95% CI 5.0 to 35.0 percentage points; an interval that "
        "does not allow for picking the highest and lowest of 5 groups). "
    )
    # between two groups the interval needs no such note; with a cross-reference it says where one is
    assert gap_text(gap(groups=2), dimension="imd_quintile", what="x").endswith(
        "(95% CI 5.0 to 35.0 percentage points). "
    )
    assert gap_text(gap(), dimension="imd_quintile", what="x", ref="@sec-fairness-chance").endswith(
        "lowest of 5 groups: @sec-fairness-chance does). "
    )


def test_gap_sentence_gives_the_exact_gap_of_gaps_beyond_chance(page):
    """Round-4 review: one gap, one number: the highest-vs-lowest gap is the one 'Gaps beyond chance'
    states, from exact counts with its simultaneous interval, when that section has the pair."""
    page.differences = published([gap()])
    pair = {
        "dimension": "imd_quintile",
        "group": "4",
        "versus": "1",
        "group_label": "4",
        "versus_label": "1 (most deprived)",
        "value": -0.166,
        "lower_ci": -0.321,
        "upper_ci": -0.011,
        "comparisons": 10,
    }
    page.tpr_pairs = published([pair])
    assert page.gap_sentence("imd_quintile", "tpr", ref="@sec-fairness-chance") == (
        "The share of outcomes found ranges from 40.0% in deprivation fifth 4 to 60.0% in the most deprived "
        "fifth: on exact counts, before the rounding of published counts, a difference of 16.6 percentage "
        "points (simultaneous 95% CI 1.1 to 32.1 percentage points over the 10 pairs compared, "
        "@sec-fairness-chance). "
    )
    # exact counts that run the other way: the published shares' own difference, with the note
    page.tpr_pairs = published([pair | {"value": 0.05, "lower_ci": -0.1, "upper_ci": 0.2}])
    assert "on exact counts" not in page.gap_sentence("imd_quintile", "tpr")
    page.tpr_pairs = None
    assert "on exact counts" not in page.gap_sentence("imd_quintile", "tpr")


def test_gap_sentence_when_the_interval_includes_zero():
    text = gap_text(gap(difference_lower_ci=-0.01), dimension="imd_quintile", what="the share flagged")
    assert text.startswith("The share flagged ranges from 40.0%")
    assert text.endswith(
        "(95% CI -1.0 to 35.0 percentage points; an interval that does not allow for picking the highest and "
        "lowest of 5 groups); the difference could be due to chance. "
    )
    no_ci = gap_text(
        gap(difference_lower_ci=None, difference_upper_ci=None, dimension="sex", lowest_group="Female"),
        dimension="sex",
        what="the share flagged",
    )
    assert "from 40.0% among women to" in no_ci and "95% CI" not in no_ci and "Female" not in no_ci
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
        "Some measures of the groups shown are marked [c]: they rest on a count of fewer than 8 people or "
        "are counted among fewer than 50 people (in the group, among its people with the outcome or among "
        "those flagged), or would reveal such a count."
    )
    page.hidden_groups = 2
    assert page.suppressed_text().startswith(
        "Some groups are left out of every table and chart: too few people to publish, or hidden so that "
        "such a group cannot be worked out from the others. Some measures of the groups shown"
    )
    # no number of groups is printed (the auditor would read 103 groups as an exact total)
    page.hidden_groups = 103
    assert not re.search(
        r"\d", page.suppressed_text().replace("fewer than 8", "").replace("fewer than 50", "")
    )
    page.groups = published([{"dimension": "sex", "group": "male", "metric": "tpr", "value": 0.3}])
    page.hidden_groups = 1
    assert page.suppressed_text().startswith("Some groups are left out of every table")
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
    page.audit = _exact_audit({"female": 1013, "male": 578})
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
    page.audit = _exact_audit({"female": 1013, "male": 578})
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
    # the chart plots the download's proportions (a percent axis), found in the table as percentages
    assert (
        mismatches_of_figure(markup, page.book.downloads / "fairness" / "fairness-sex.csv", percent=True)
        == []
    )
    assert page.group_figure(1) is None and page.group_paragraph(1) is None  # no second dimension
    assert "two equity dimensions with two or more groups" in html_of(page.intersection_figure())
    calibration = html_of(page.calibration_figure())
    assert 'id="fairness-calibration"' in calibration  # by sex: the one audited
    calibration_csv = page.book.downloads / "fairness" / "fairness-calibration.csv"
    assert mismatches_of_figure(calibration, calibration_csv, percent=True) == []
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
    page.tpr_pairs = None
    page.differences = published(
        [gap(dimension="education", highest_group="Some high school", lowest_group="3")]
    )
    text = html_of(page.group_paragraph(0))
    assert text.startswith(
        "The share of outcomes found ranges from 40.0% in education level 3 to 60.0% in the most disadvantaged "
        "education level (some high school)"
    )
    assert (
        "The outcome is more common in the most disadvantaged education level (some high school) (30.0%) "
        "than in the least disadvantaged education level (college) (15.0%), so a fair model *should* flag "
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
    assert "Risk rises steeply with age" not in markup  # no age bands listed: no note on them
    assert "does not allow for picking the highest and lowest" in markup
    page.differences = None
    assert "model audit results" in html_of(page.gaps_table())


def test_gaps_table_says_why_age_band_gaps_are_large(page):
    """Round-4 review: 90+ 70.3% vs 0-4 0.00% flagged was listed with no word on risk rising with age."""
    page.differences = published(
        [gap(), gap(dimension="age_band", dimension_label="Age band", metric="selection_rate")]
    )
    markup = html_of(page.gaps_table())
    assert (
        "Risk rises steeply with age, so a model with room for only the top 5% flags mostly the oldest"
        in markup
    )


# -- label bias ------------------------------------------------------------------------
def _cf_groups(over: dict | None = None) -> pl.DataFrame:
    """Exact counterfactual-label groups shaped like the default data's (hypertension, fifths 1 and 5)."""
    base = {
        # variant, group: true_cases, undiagnosed, found_recorded, found_true, und_rec, und_true
        ("all", "All"): (16949, 5732, 3806, 3873, 0, 0),
        ("all", "1"): (2412, 1091, 448, 490, 0, 0),
        ("all", "5"): (2904, 750, 786, 749, 0, 0),
        ("without_treatments", "All"): (16949, 5732, 3118, 3595, 1042, 1905),
        ("without_treatments", "1"): (2412, 1091, 504, 601, 213, 377),
        ("without_treatments", "5"): (2904, 750, 488, 525, 130, 238),
    }
    base.update(over or {})
    rows = []
    for (variant, group), (tc, und, fr, ft, ur, ut) in base.items():
        bias = ft / tc - fr / tc
        rows.append(
            {
                "variant": variant,
                "variant_label": variant,
                "dimension": "all" if group == "All" else "imd_quintile",
                "dimension_label": "All" if group == "All" else "Deprivation (IMD quintile)",
                "group": group,
                "group_label": {"1": "1 (most deprived)", "5": "5 (least deprived)"}.get(group, group),
                "order": 0,
                "n": 20000,
                "true_cases": tc,
                "undiagnosed": und,
                "found_recorded": fr,
                "found_true": ft,
                "undiagnosed_recorded": ur,
                "undiagnosed_true": ut,
                "share_recorded": fr / tc,
                "share_recorded_lower": fr / tc - 0.01,
                "share_recorded_upper": fr / tc + 0.01,
                "share_true": ft / tc,
                "share_true_lower": ft / tc - 0.01,
                "share_true_upper": ft / tc + 0.01,
                "label_bias": bias,
                "label_bias_lower": bias - 0.011,
                "label_bias_upper": bias + 0.011,
            }
        )
    return pl.DataFrame(rows)


def test_label_frame_publishes_shares_without_counts_and_withholds_small_ones():
    frame = label_frame(_cf_groups(), settings=SETTINGS)
    counts = {"true_cases", "undiagnosed", "found_recorded", "found_true", "n"}
    assert not counts & set(frame.columns)  # no count beside a share given to 0.1 point
    row = frame.filter(variant="all", group="1").row(0, named=True)
    assert row["share_recorded"] == round(448 / 2412, 3)
    assert row["label_bias"] == round(490 / 2412 - 448 / 2412, 3)
    assert row["diagnosed"] == round((2412 - 1091) / 2412, 3)
    # a share resting on 1-7 people found is withheld, with its interval and the label bias
    small = label_frame(_cf_groups({("all", "5"): (2904, 750, 5, 749, 0, 0)}), settings=SETTINGS)
    row = small.filter(variant="all", group="5").row(0, named=True)
    assert row["share_recorded"] is None and row["share_recorded_lower"] is None and row["label_bias"] is None
    assert row["share_true"] is not None
    # a group below the minimum size publishes no share at all
    tiny = label_frame(_cf_groups({("all", "5"): (40, 10, 10, 12, 0, 0)}), settings=SETTINGS)
    assert tiny.filter(variant="all", group="5").select("share_true", "diagnosed").row(0) == (None, None)
    # undiagnosed flagged: 0 is published (not a small count), 1-7 is not
    assert frame.filter(variant="all", group="All")["undiagnosed_recorded_share"].item() == 0.0
    few = label_frame(_cf_groups({("all", "All"): (16949, 5732, 3806, 3873, 3, 0)}), settings=SETTINGS)
    assert few.filter(variant="all", group="All")["undiagnosed_recorded_share"].item() is None


IMD = DEFAULT_DIMENSIONS["imd_quintile"]


def test_counterfactual_text_names_the_cause_the_numbers_show():
    frame = label_frame(_cf_groups(), settings=SETTINGS)
    text = counterfactual_text(
        frame,
        dimension=IMD,
        ends=("1", "5"),
        condition="hypertension",
        top="5%",
        treatments="statin and antihypertensive",
    )
    # every number stated is the published one
    assert "finds 18.6% of true cases in the most deprived fifth and 27.1%" in text
    assert "the model trained on the true condition finds 20.3% and 25.8%" in text
    assert "is 1.7 percentage points in the most deprived fifth" in text
    assert "(95% CI 0.6 to 2.8 percentage points)" in text
    assert "-1.3 percentage points in the least deprived fifth" in text
    assert "Without the treatment features (statin and antihypertensive)" in text
    assert (
        "label bias is 4.0 percentage points" in text and "1.3 percentage points (95% CI 0.2 to 2.4" in text
    )
    # the cause: the prescriptions and the capacity, not the label (bias under 2 points with them)
    assert "not from the label" in text and "most in the more disadvantaged group" in text
    assert "54.8% of people in the most deprived fifth" in text  # diagnosed share, (2412 - 1091) / 2412
    # with a large label bias even with every feature, the label is named as the cause
    big = label_frame(
        _cf_groups({("all", "1"): (2412, 1091, 300, 490, 0, 0), ("all", "5"): (2904, 750, 740, 749, 0, 0)}),
        settings=SETTINGS,
    )
    text = counterfactual_text(
        big, dimension=IMD, ends=("1", "5"), condition="hypertension", top="5%", treatments=""
    )
    assert "label bias." in text and "not from the label" not in text and "Without the treatment" not in text


def test_label_bias_text_with_and_without_truth(page):
    page.label_bias = SimpleNamespace(
        condition_label="Hypertension",
        result=SimpleNamespace(
            label=lambda f: {"statin": "Statin", "antihypertensive": "Antihypertensive"}[f]
        ),
    )
    page.counterfactual = SimpleNamespace(treatments=("statin", "antihypertensive"))
    page.label_shares = Published(label_frame(_cf_groups(), settings=SETTINGS), (), SETTINGS)
    text = page.label_bias_text()
    assert text.startswith("The check uses recorded hypertension")
    assert "Without the treatment features (statin and antihypertensive)" in text
    assert text.endswith("flags 0.0% and the model trained on the true condition 0.0%.")
    assert "label bias" in html_of(page.label_bias_intro()) and "Real data" in html_of(
        page.label_bias_closing()
    )
    assert 'id="label-bias"' in html_of(page.label_bias_figure())
    # without truth: one plain note, nothing else (no paragraph, figure or closing words)
    page.label_bias = None
    assert page.label_bias_text() == ""
    note = html_of(page.label_bias_intro())
    assert note.count(SKIPPED) == 1 and "true-status columns" in note and "label bias" in note
    assert page.label_bias_paragraph() is None
    assert page.label_bias_figure() is None and page.label_bias_closing() is None
    assert "dataset has no true-status columns (true_&lt;condition&gt;), so whether" in note
    assert SKIP_TRUTH.startswith("true-status columns")


def test_label_series_is_the_published_shares_long(page):
    published = Published(label_frame(_cf_groups(), settings=SETTINGS), (), SETTINGS)
    long = published.pipe(label_series).frame
    assert set(long["statistic"]) == set(LABEL_SERIES.values())
    row = long.filter(group="1", statistic=LABEL_SERIES[("without_treatments", "share_true")]).row(
        0, named=True
    )
    assert row["value"] == round(601 / 2412, 3)


def _mitigation_frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    gaps = pl.DataFrame(
        {
            "strategy": ["unmitigated", "equal_opportunity"],
            "gap": [0.105, -0.118],
            "gap_lower": [-0.083, -0.283],
            "gap_upper": [0.322, 0.081],
            "change": [0.0, -0.223],
            "change_lower": [0.0, -0.343],
            "change_upper": [0.0, -0.128],
        }
    )
    overall = pl.DataFrame(
        {
            "strategy": ["unmitigated", "equal_opportunity"],
            "tpr": [0.483, 0.44],
            "share_flagged": [0.049, 0.046],
        }
    )
    return gaps, overall


def test_capacity_mitigation_text_states_the_exact_numbers_and_the_verdict():
    gaps, overall = _mitigation_frames()
    text = capacity_mitigation_text(
        gaps,
        overall,
        first="deprivation fifth 1",
        last="deprivation fifth 5",
        across="deprivation fifths",
        top="5%",
        evaluation="about 37,500",
    )
    assert "is 10.5 percentage points (95% CI -8.3 to 32.2 percentage points)" in text
    assert "with it, -11.8 percentage points" in text
    assert (
        "a change of -22.3 percentage points (95% CI -34.3 to -12.8): beyond what chance alone gives" in text
    )
    assert "finds 44.0% of the people with the outcome (against 48.3% without it) while flagging 4.6%" in text
    within = gaps.with_columns(change_upper=pl.Series([0.0, 0.01]))
    text = capacity_mitigation_text(
        within, overall, first="a", last="b", across="groups", top="5%", evaluation="about 100"
    )
    assert "within what chance alone gives" in text and "beyond" not in text
    assert gap_change_text({"change": None}) == "a change that cannot be estimated"
    hidden = gaps.with_columns(gap=pl.Series([None, None], dtype=pl.Float64))
    assert "cannot be judged" in capacity_mitigation_text(
        hidden, overall, first="a", last="b", across="groups", top="5%", evaluation="x"
    )


def test_mitigation_frame_has_no_counts_and_withholds_small_rates():
    by_group = pl.DataFrame(
        {
            "strategy": ["unmitigated"] * 2,
            "strategy_label": ["U"] * 2,
            "group": ["1", "5"],
            "group_label": ["1", "5"],
            "n": [4787, 7095],
            "cases": [53, 58],
            "flagged": [262, 319],
            "found": [33, 5],
            "tpr": [33 / 53, 5 / 58],
            "tpr_lower": [0.5, 0.02],
            "tpr_upper": [0.75, 0.2],
        }
    )
    frame = mitigation_frame(by_group, settings=SETTINGS)
    assert not {"n", "cases", "flagged", "found"} & set(frame.columns)
    assert frame["tpr"].to_list() == [round(35 / 55, 3), None]  # from the counts as published
    assert frame["tpr_lower"].to_list() == [0.5, None]


def test_mitigation_chart_values_equal_its_table(page):
    rates = Published(
        pl.DataFrame(
            {
                "strategy": ["unmitigated", "equal_opportunity"],
                "strategy_label": list(SPLIT_STRATEGIES.values()),
                "group": ["1", "1"],
                "group_label": ["1 (most deprived)"] * 2,
                "tpr": [0.623, 0.434],
                "tpr_lower": [0.51, 0.315],
                "tpr_upper": [0.755, 0.567],
                "share_flagged": [0.055, 0.025],
            }
        ),
        (),
        SETTINGS,
    )
    page.capacity_mitigation = SimpleNamespace(dimension="imd_quintile", first="1 (most deprived)", last="5")
    page.mitigation_rates = rates
    page.mitigation_gaps, page.mitigation_overall = (Published(f, (), SETTINGS) for f in _mitigation_frames())
    page.evaluation_size = "about 37,500"
    html = html_of(page.mitigation_figure())
    assert "62.3%" in html  # the table: the published proportion as a percentage
    values = [float(v) for v in re.findall(r'"value":\s*(-?[0-9.]+)', html)]
    # the chart plots the published proportion (shown as a percentage by its axis), not 100 times it
    assert any(abs(v - 0.623) < 1e-9 for v in values) and not any(abs(v - 62.3) < 1e-6 for v in values)
    assert mismatches_of_figure(html, page.book.downloads / "fairness" / "mitigation.csv", percent=True) == []


def test_mitigation_with_nothing_to_draw_gives_one_note_and_no_chart(page):
    rates = mitigation_frame(
        pl.DataFrame(
            {
                "strategy": ["unmitigated", "equal_opportunity"],
                "strategy_label": list(SPLIT_STRATEGIES.values()),
                "group": ["1", "1"],
                "group_label": ["1 (most deprived)"] * 2,
                "n": [900, 900],
                "cases": [30, 30],  # too few people with the outcome to publish their rates
                "flagged": [60, 45],
                "found": [20, 15],
                "tpr": [20 / 30, 15 / 30],
                "tpr_lower": [0.5, 0.3],
                "tpr_upper": [0.8, 0.7],
            }
        ),
        settings=SETTINGS,
    )
    gaps, overall = _mitigation_frames()
    page.capacity_mitigation = SimpleNamespace(dimension="imd_quintile", first="1", last="5")
    page.mitigation_rates = Published(rates, (), SETTINGS)
    page.mitigation_gaps = Published(gaps.with_columns(gap=pl.lit(None, pl.Float64)), (), SETTINGS)
    page.mitigation_overall = Published(overall, (), SETTINGS)
    page.evaluation_size = "about 900"
    assert not page.mitigation_plotted
    assert page.mitigation_figure() is None and page.capacity_paragraph() is None
    assert page.mitigation_text().startswith("The mitigation is fitted on one half")
    assert "the mitigation cannot be judged for" in page.mitigation_text()
    assert not list((page.book.downloads / "fairness").glob("mitigation*.csv"))
    # no mitigation at all (or no model): the text is the one note, no chart and no skip note after it
    page.capacity_mitigation, page.mitigation_rates = None, None
    assert page.mitigation_figure() is None and page.capacity_paragraph() is None
    page.problem = "no outcome"
    assert (
        page.mitigation_text() == "With no model there is nothing to mitigate."
        and page.mitigation_figure() is None
    )


def test_groups_of_names_the_groups_of_a_dimension():
    assert groups_of("Deprivation (IMD quintile)") == "deprivation (IMD quintile) groups"
    assert groups_of("Ethnic group") == "ethnic groups"  # not "ethnic group groups"
    assert groups_of("Sex") == "sex groups"
    assert groups_of("Deprivation (IMD quintile)", "deprivation fifth") == "deprivation fifths"
    assert groups_of("Education level", "education level") == "education levels"
    assert groups_of("Locality", "locality") == "localities"


def test_coverage_text_is_never_empty(page):
    page.audit = None
    assert page.coverage_text() == "No model is fitted to this dataset, so nothing is audited."
    page.audit = SimpleNamespace(n_boot=200, skipped=(("Sex", "only one level"),))
    page.groups = None
    page.hidden_groups = 0
    assert page.coverage_text() == f"{ALL_SHOWN} Not audited: Sex: only one level."
