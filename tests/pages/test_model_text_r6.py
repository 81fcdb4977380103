"""Round 6 (fix6b): the model pages say exactly what they computed (calibration-in-the-large against
the published count, the label-bias claim over estimates with an interval, the mitigation that is
fitted but cannot be judged for one group, which columns are compared on the fairness page, each
withheld reason once)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import Published
from healthgap.pages._fairness_gaps import withhold_small_groups
from healthgap.pages._fairness_labels import (
    MITIGATION_NOTE,
    WHOLE_ABOVE,
    capacity_mitigation_text,
    mitigation_frame,
)
from healthgap.pages._models import features_sentence
from healthgap.pages.model_card import ModelCardPage
from healthgap.pages.predicting_risk import PredictingRiskPage, calibration_sentence
from healthgap.tables import missing_reasons, reason_notes
from tests.conftest import build_people
from tests.pages.conftest import build_page, html_of
from tests.pages.test_model_card import _shares
from tests.pages.test_model_text_r5 import _audit_rows, _mitigation_gaps
from tests.pages.test_models_runtime import model_cache  # noqa: F401


@pytest.fixture(scope="module")
def risk(tmp_path_factory):
    """The risk page on 1,000 people, flagging the top 20%."""
    return build_page(
        PredictingRiskPage, build_people(1000), tmp_path_factory.mktemp("risk6"), model={"top_fraction": 0.2}
    )


# -- 1. calibration-in-the-large is of the published count; the table prints its precision --------
def _performance(citl: float) -> Published:
    rows = [
        ("Gradient boosting", "Calibration-in-the-large", citl, citl - 0.3, citl + 0.3),
        ("Gradient boosting", "Calibration slope", 1.08, 0.85, 1.39),
    ]
    frame = pl.DataFrame(rows, schema=["model", "statistic", "value", "lower_ci", "upper_ci"], orient="row")
    return Published(
        frame.with_columns(metric=pl.Series(["calibration_in_the_large", "calibration_slope"])),
        (),
        DisclosureSettings(),
    )


def test_calibration_sentence_says_it_is_of_the_published_count():
    text = calibration_sentence(_performance(0.01), rounding=5)
    assert "calibration-in-the-large is 0.01 on the log-odds scale" in text
    assert (
        "computed against the published number of people with the outcome (rounded to the nearest 5) rather "
        "than the exact number, so on small data it can differ from the exact figure by that rounding."
        in text
    )
    # without rounding there is nothing to say
    assert "published number" not in calibration_sentence(_performance(0.01))


def test_performance_table_prints_calibration_to_its_published_two_decimals(risk):
    html = html_of(risk.performance_table())
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    calib = [r for r in rows if "Calibration" in r]
    auroc = [r for r in rows if "AUROC" in r]
    assert calib and auroc
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", r) for r in calib]
    numbers = [c for row in cells for c in row if re.fullmatch(r"-?\d+\.\d+", c)]
    assert numbers and all(re.fullmatch(r"-?\d+\.\d{2}", c) for c in numbers), numbers
    auroc_numbers = [c for c in re.findall(r"<td[^>]*>([^<]*)</td>", auroc[0]) if "." in c]
    assert auroc_numbers and all(re.fullmatch(r"\d\.\d{3}", c) for c in auroc_numbers), auroc_numbers
    # the sentence on the page says the value is of the published count (the test data is rounded)
    assert "computed against the published number of people with the outcome" in risk.calibration_text()


# -- 2. "every estimate is within chance" only over estimates that have intervals ------------------
def test_label_caveat_scopes_chance_to_the_estimates_with_an_interval(page_of):
    card = page_of(ModelCardPage, build_people())
    card.fairness.problem = None
    card.fairness.dimensions = list(card.config.dimensions)
    card.fairness.label_bias = SimpleNamespace(condition_label="Atrial fibrillation")
    card.fairness.label_shares = _shares(
        {("all", "1"): (0.010, -0.020, 0.039), ("all", "5"): (-0.010, -0.030, 0.008)}
    )
    text = card.label_limit_text()
    assert "every estimate" not in text
    assert (
        "found no clear effect of this in the most deprived fifth: its label-bias estimates by group with a 95% "
        "interval (the fairness chapter, \u201cLabel bias: what learning from diagnoses costs\u201d) are all "
        "within what chance alone gives." in text
    )


# -- 3. the mitigation is fitted; it cannot be judged for the group with too few ------------------
def test_unjudged_mitigation_is_fitted_and_points_above_on_its_own_page():
    gaps, overall = _mitigation_gaps(None)
    text = capacity_mitigation_text(
        gaps,
        overall,
        first="the most deprived fifth",
        last="the least deprived fifth",
        withheld=("the least deprived fifth",),
        reasons={"the least deprived fifth": "fewer than 50 people with the outcome"},
        across="deprivation fifths",
        top="5%",
        evaluation="about 37,500",
        whole=WHOLE_ABOVE,
    )
    assert "would be" not in text and "cannot be judged here" not in text
    assert text.startswith("The mitigation is fitted on one half of the test set (validation)")
    assert "the mitigation cannot be judged for the least deprived fifth, nor can the gap" in text
    assert "in the fairness chapter" not in text
    assert text.endswith("given above, under \u201cPerformance by group\u201d.")


def test_mitigation_table_says_why_a_share_is_not_available():
    by_group = pl.DataFrame(
        {
            "strategy": ["unmitigated", "unmitigated"],
            "strategy_label": ["Unmitigated", "Unmitigated"],
            "group": ["1", "5"],
            "group_label": ["1 (most deprived)", "5 (least deprived)"],
            "found": [40, 10],
            "cases": [80, 20],
            "flagged": [900, 800],
            "n": [9000, 9000],
            "tpr_lower": [0.4, 0.3],
            "tpr_upper": [0.6, 0.7],
        }
    )
    frame = mitigation_frame(by_group, settings=DisclosureSettings())
    assert frame.get_column("tpr").null_count() == 1
    reasons = missing_reasons(frame, columns=["tpr", "tpr_lower", "tpr_upper"])
    assert reasons == [f"Not available: {MITIGATION_NOTE}"]


# -- 4. which columns are compared on the fairness page, in short sentences ------------------------
def test_features_sentence_is_short_and_settled_from_the_config():
    text = features_sentence(
        left_out=["deprivation (IMD quintile)", "sex", "locality"],
        used=["age band"],
        protected=["age"],
        exclude_protected=True,
        markdown=False,
        others=["IMD decile"],
        sources={"age band": "age"},
    )
    assert ";" not in text and "(or derived from one)" not in text
    assert (
        "Deprivation (IMD quintile), sex and locality are compared on the fairness page but are not features "
        "(model.exclude_protected: true), so the model cannot use them directly." in text
    )
    assert "IMD decile is not a feature either, and not compared on the fairness page." in text
    assert "Age band is compared on the fairness page and is derived from age, a feature," in text


def test_features_table_and_paragraph_agree_on_compared_columns(risk):
    use = dict(risk.features.frame.select("column", "use").iter_rows())
    compared = {d.name for d in risk.models.dimensions}
    assert "imd_decile" not in compared and use["imd_decile"] == "not used"
    # every compared dimension named as not a feature has a row (locality was named but missing)
    assert "locality" in compared and use["locality"] == "not used (equity dimension)"
    text = html_of(risk.protected_paragraph())
    assert "IMD decile is not a feature either, and not compared on the fairness page" in text
    assert "(or derived from one)" not in text and "; " not in text


# -- 5. each withheld reason once ------------------------------------------------------------------
def test_withheld_reasons_are_each_said_once():
    settings = DisclosureSettings()
    both = withhold_small_groups(_audit_rows(cases=20, flagged=30), settings=settings)
    cases = withhold_small_groups(_audit_rows(cases=20, flagged=55), settings=settings)
    reasons = pl.concat([both, cases]).get_column("suppression_reason").drop_nulls().unique().to_list()
    notes = reason_notes(reasons, labels={"value": "Value"}, columns=both.columns)
    assert len(notes) == len(set(notes))
    assert not any("with the outcome and fewer than" in n for n in notes)
    outcome = [n for n in notes if "with the outcome" in n]
    assert len(outcome) == 1, notes
    assert any("flagged" in n for n in notes)
