"""The "Predicting risk" page: sentences on small published frames, sections on a small fitted model."""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import publish
from healthgap.pages.predicting_risk import (
    INHERITS_NO_TRUTH,
    INHERITS_TRUTH,
    NO_PROTECTED,
    NO_TARGET,
    PredictingRiskPage,
    calibration_sentence,
    capacity_rates,
    discrimination_sentence,
    features_frame,
    observed_shares,
    operating_sentence,
    protected_sentence,
    same_cut_sentence,
    split_sentence,
    ties_sentence,
)
from tests.conftest import build_people
from tests.pages.conftest import build_page, html_of
from tests.pages.test_models_runtime import NO_MODEL_NOTE, model_cache  # noqa: F401
from tests.test_chart_tables import mismatches_of_figure

SETTINGS = DisclosureSettings()
Z = 1.959963984540054


def _wilson(x: float, n: float, sign: float) -> float:
    """The Wilson score limit, written out (Wilson 1927)."""
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * (p * (1 - p) / n + Z * Z / (4 * n * n)) ** 0.5 / (1 + Z * Z / n)
    return centre + sign * half


def _performance(events: int = 645, **values: tuple[float, float, float]):
    """A published performance frame: (value, lower, upper) per ``<model>_<metric>`` key."""
    labels = {
        "auroc": "AUROC",
        "average_precision": "Average precision",
        "brier": "Brier score",
        "calibration_in_the_large": "Calibration-in-the-large",
        "calibration_slope": "Calibration slope",
    }
    rows = []
    for model, name in (("boosted", "Gradient boosting"), ("logistic", "Logistic regression")):
        for metric, statistic in labels.items():
            v = values.get(f"{model}_{metric}", (0.5, 0.4, 0.6))
            rows.append((name, statistic, *v, 75_000, events, "bootstrap"))
    frame = pl.DataFrame(
        rows,
        schema=["model", "statistic", "value", "lower_ci", "upper_ci", "n", "events", "method"],
        orient="row",
    )
    return publish(frame, counts=["n", "events"], by=["model"], settings=SETTINGS)


# -- sentences ------------------------------------------------------------------------------
def test_split_sentence_with_and_without_a_published_share():
    text = split_sentence(250_000, test_size=0.3, seed=2024, share=0.0086)
    assert text.startswith(
        "We split the 250,000 people at random into a training set (70%) and a test set (30%)"
    )
    assert "(a stratified split, seed 2024). In the test set, 0.86% of people had the outcome." in text
    assert split_sentence(500, test_size=0.3, seed=1, share=None).endswith(
        "Too few people in the test set had the outcome to publish their share."
    )


def test_split_sentence_says_a_rounded_number_of_people_is_about():
    # issue 11, item 3: the chapter printed "We split the 2,003 people" (exact) under tables rounded to 5
    text = split_sentence(2005, test_size=0.3, seed=1, share=None, rounded=True)
    assert text.startswith("We split about 2,005 people at random")
    assert "2,003" not in text


def test_protected_sentence_names_the_dimensions_by_their_labels():
    text = protected_sentence(["sex", "education level"], exclude_protected=True)
    assert text.startswith(
        "**Equity dimensions and features.** Sex and education level are compared on the fairness page but "
        "are not features"
    )
    assert "cannot use them directly. It can still learn them *indirectly*" in text
    one = protected_sentence(["sex"], exclude_protected=True)
    assert (
        "Sex is compared on the fairness page but is not a feature" in one and "cannot use it directly" in one
    )
    assert "deprivation" not in text and "ethnic" not in text
    used = protected_sentence([], used=["sex"], protected=["sex"], exclude_protected=False)
    assert used.startswith(
        "**Equity dimensions and features.** Sex is compared on the fairness page and is a"
    )
    assert protected_sentence([], exclude_protected=True) == NO_PROTECTED


def test_ties_sentence_says_why_the_cut_off_flags_fewer():
    row = {"train_flagged": 40, "train_wanted": 70}
    assert ties_sentence(row, top="5%", exact=(70, 70)) is None  # no ties: no sentence
    text = ties_sentence(row, top="5%", exact=(41, 70))
    assert text is not None and text.startswith(
        "No cut-off flags exactly the top 5%: people tied at the cut-off"
    )
    assert "it flags about 40 people in the training set instead of about 70." in text
    suppressed = ties_sentence({"train_flagged": None, "train_wanted": 70}, top="5%", exact=(3, 70))
    assert suppressed is not None and "fewer people in the training set than that share" in suppressed
    # other trust, round 4: 'about 700 people in the training set instead of about 700' (equal once rounded)
    same = ties_sentence({"train_flagged": 700, "train_wanted": 700}, top="5%", exact=(698, 701))
    assert same is not None and "instead of" not in same
    assert "fewer people in the training set than that share" in same
    nobody = ties_sentence(row, top="5%", exact=(0, 70))
    assert nobody is not None and "the model flags nobody at this operating point" in nobody


def test_same_cut_sentence_when_capacities_share_a_cut_off():
    alike = pl.DataFrame({"share": ["1%", "2%", "5%", "10%"], "threshold": [0.3, 0.3, 0.2, 0.1]})
    assert same_cut_sentence(alike) == (
        "Flagging 1% and 2% gives the same cut-off: too many people share one predicted risk for the model "
        "to tell these capacities apart."
    )
    assert same_cut_sentence(alike.with_columns(threshold=pl.Series([0.4, 0.3, 0.2, 0.1]))) is None


@pytest.mark.parametrize(
    ("boosted", "logistic", "word"),
    [
        ((0.86, 0.84, 0.88), (0.80, 0.78, 0.82), "better than"),
        ((0.80, 0.78, 0.82), (0.86, 0.84, 0.88), "worse than"),
        ((0.85, 0.83, 0.87), (0.848, 0.83, 0.86), "about the same as"),
        # overlapping intervals but AUROCs apart (no_deprivation: 0.863 against 0.902 was "about the same")
        ((0.86, 0.82, 0.90), (0.80, 0.78, 0.84), "not clearly different from"),
        ((0.863, 0.80, 0.91), (0.902, 0.852, 0.942), "not clearly different from"),
    ],
)
def test_discrimination_sentence_compares_the_two_models(boosted, logistic, word):
    perf = _performance(
        boosted_auroc=boosted,
        logistic_auroc=logistic,
        boosted_average_precision=(0.2234, 0.2, 0.25),
        boosted_brier=(0.0081, 0.007, 0.009),
    )
    text = discrimination_sentence(perf, share=0.0086)
    assert text.startswith(f"The gradient-boosted model has an AUROC of {boosted[0]:.3f} (95% CI ")
    assert f"), {word} the logistic regression ({logistic[0]:.3f}, 95% CI " in text
    assert "Its average precision is 0.223, against 0.0086 for a model that guessed at random" in text
    assert text.endswith("its Brier score is 0.008.")
    assert "against 0.086 for a model" in discrimination_sentence(perf, share=0.086)


def test_discrimination_and_calibration_sentences_when_results_are_suppressed():
    perf = _performance(events=5)  # too few outcomes: every value is suppressed with the count
    assert perf.row(model="Gradient boosting", statistic="AUROC")["value"] is None
    assert discrimination_sentence(perf, share=0.01) == (
        "Too few people in the test set had the outcome to publish how well the model predicts it."
    )
    assert calibration_sentence(perf) == (
        "Too few people in the test set had the outcome to publish how well calibrated the model is."
    )
    assert discrimination_sentence(_performance(), share=None).startswith("Too few people")


def test_calibration_sentence_reads_the_boosted_model():
    perf = _performance(
        boosted_calibration_in_the_large=(0.04, -0.05, 0.13),
        boosted_calibration_slope=(0.97, 0.9, 1.05),
        logistic_calibration_slope=(0.5, 0.4, 0.6),
    )
    text = calibration_sentence(perf)
    assert text.startswith('For the gradient-boosted model ("Gradient boosting" in the performance table)')
    assert (
        "calibration-in-the-large is 0.04 on the log-odds scale (95% CI -0.05 to 0.13; 0 is perfect" in text
    )
    assert "the calibration slope is 0.97 (95% CI 0.90 to 1.05; 1 is perfect" in text


def _operating_row(**over):
    row = {
        "threshold": 0.0523,
        "flagged": 3750,
        "sensitivity": 0.4,
        "sensitivity_lower": 0.36,
        "sensitivity_upper": 0.44,
        "ppv": 0.0688,
    }
    return {**row, **over}


def test_operating_sentence_present():
    text = operating_sentence(_operating_row(), top="5%", share=0.0086, rounding=5)
    assert text == (
        "Flagging the top 5% of predicted risk means a cut-off of 5.2% risk. In the test set that flags "
        "about 3,750 people (rounded to the nearest 5), who include 40.0% of everyone with the outcome "
        "(95% CI 36.0% to 44.0%); 6.9% of the people flagged go on to have it, 8.0 times the average."
    )
    assert "3,750 people, who include" in operating_sentence(
        _operating_row(), top="5%", share=0.0086, rounding=None
    )


def test_operating_sentence_when_counts_are_suppressed():
    text = operating_sentence(
        _operating_row(flagged=None, sensitivity=None), top="1%", share=0.01, rounding=5
    )
    assert text == (
        "Flagging the top 1% of predicted risk means a cut-off of 5.2% risk. The number it flags in the test "
        "set is too small to publish; too few of them had the outcome to publish how many it finds."
    )
    text = operating_sentence(_operating_row(ppv=None), top="5%", share=0.01, rounding=5)
    assert text.endswith(
        "about 3,750 people (rounded to the nearest 5); too few of them had the outcome to publish how many it finds."
    )
    assert "times the average" not in operating_sentence(_operating_row(), top="5%", share=None, rounding=5)


# -- statistics from the published counts (rule 8) ----------------------------------------------
def test_capacity_rates_come_from_the_published_counts():
    exact = pl.DataFrame(
        {
            "share": ["5%"],
            "fraction": [0.05],
            "threshold": [0.05],
            "flagged": [123],
            "found": [12],
            "cases": [31],
            "operating": [True],
        }
    )
    published = publish(
        exact,
        counts=["flagged", "found", "cases"],
        by=[],
        derived={"found": ["sensitivity"]},
        recompute=capacity_rates,
        settings=SETTINGS,
    )
    row = published.row()
    assert (row["flagged"], row["found"], row["cases"]) == (125, 10, 30)
    assert row["sensitivity"] == pytest.approx(10 / 30, rel=1e-12)
    assert row["ppv"] == pytest.approx(10 / 125, rel=1e-12)
    assert row["sensitivity_lower"] == pytest.approx(_wilson(10, 30, -1), rel=1e-9)
    assert row["sensitivity_upper"] == pytest.approx(_wilson(10, 30, 1), rel=1e-9)
    assert row["ppv_lower"] == pytest.approx(_wilson(10, 125, -1), rel=1e-9)
    assert published.columns[-3:] != ["operating"] and published.columns.index("operating") == 12


def test_capacity_rates_when_nobody_is_flagged():
    frame = pl.DataFrame({"flagged": [0], "found": [0], "cases": [40], "operating": [False]})
    row = capacity_rates(frame).row(0, named=True)
    assert row["ppv"] == 0.0 and row["sensitivity"] == 0.0
    assert capacity_rates(frame).columns[-1] == "operating"


def test_observed_shares_come_from_the_published_counts():
    exact = pl.DataFrame({"model": ["m", "m"], "bin": [1, 2], "n": [7501, 7499], "events": [13, 52]})
    published = publish(
        exact,
        counts=["n", "events"],
        by=["model"],
        derived={"events": ["value", "lower_ci", "upper_ci"]},
        recompute=observed_shares,
        settings=SETTINGS,
    )
    first, second = published.frame.iter_rows(named=True)
    assert (first["n"], first["events"], second["events"]) == (7500, 15, 50)
    assert first["value"] == pytest.approx(15 / 7500, rel=1e-12)
    assert second["value"] == pytest.approx(50 / 7500, rel=1e-12)
    assert second["lower_ci"] == pytest.approx(_wilson(50, 7500, -1), rel=1e-9)
    assert second["upper_ci"] == pytest.approx(_wilson(50, 7500, 1), rel=1e-9)


# -- the page on a small fitted model ---------------------------------------------------------------
@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The page on 1,000 people flagging the top 20%: enough people flagged in the test set to publish."""
    return build_page(
        PredictingRiskPage, build_people(1000), tmp_path_factory.mktemp("risk"), model={"top_fraction": 0.2}
    )


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """The page on data without any outcome column."""
    people = build_people(200).drop("cvd_admissions", "cvd_death")
    return build_page(PredictingRiskPage, people, tmp_path_factory.mktemp("bare"), target=False)


def test_features_frame_lists_features_and_left_out_characteristics(page):
    r = page.models.result
    frame = features_frame(r, exclude_protected=True)
    assert frame.columns == ["column", "label", "use", "group"]
    used = frame.filter(pl.col("use").str.starts_with("feature")).get_column("column").to_list()
    assert used == list(r.features)
    left = frame.filter(pl.col("use").str.starts_with("not used")).get_column("column").to_list()
    assert left == list(r.excluded) and "sex" in left
    assert frame.row(0, named=True) == {
        "column": "age",
        "label": "Age",
        "use": "feature (protected characteristic)",
        "group": "demographic",
    }
    assert set(features_frame(r, exclude_protected=False).get_column("use")) == {
        "feature",
        "feature (protected characteristic)",
        "not used",
    }
    with_missing = features_frame(r, exclude_protected=True, kinds={"age": "baseline"}, missing={"bmi": 12})
    assert with_missing.row(0, named=True)["group"] == "baseline"
    assert with_missing.filter(pl.col("column") == "bmi")["missing"].item() == 12
    assert with_missing.filter(pl.col("column") == "age")["missing"].item() == 0


def test_page_words_on_a_fitted_model(page):
    assert page.ok and page.skip_note() is None
    assert page.top == "20%"
    assert page.target_phrase == "at least one CVD emergency admission during the year"
    paragraph = html_of(page.target_paragraph())
    assert paragraph.startswith(
        "The model predicts each person's risk of at least one CVD emergency admission during the year, "
        "from what is known about them at the start:"
    )
    assert "listed in @tbl-features" in paragraph and "We split about 1,000 people" in paragraph
    assert page.excluded_text().startswith("sex, ethnic group")
    row = page.outcomes.row()
    assert row["share"] == row["cases"] / row["n"] and row["n"] == 300
    assert page.split_text().startswith("We split about 1,000 people at random")
    assert "rounded to the nearest 5" in page.operating_text()
    assert page.discrimination_text().startswith("The gradient-boosted model has an AUROC of")
    assert page.calibration_text().startswith("For the gradient-boosted model")
    assert "missed_appointments" not in page.models.result.features  # a follow-up measure


def test_protected_paragraph_names_the_left_out_dimensions(page):
    text = html_of(page.protected_paragraph())
    assert text.startswith(
        "**Equity dimensions and features.** Deprivation (IMD quintile), ethnic group, sex"
    )
    assert "are not features" in text


def test_page_tables_and_figure_are_published_with_downloads(page):
    markups = [page.features_table(), page.performance_table(), page.capacity_table()]
    for markup, id in zip(markups, ("model-features", "model-performance", "capacity"), strict=True):
        assert f'id="{id}"' in html_of(markup)
        assert (page.book.downloads / "predicting-risk" / f"{id}.csv").is_file()
    shown = pl.read_csv(page.book.downloads / "predicting-risk" / "capacity.csv")
    assert "fraction" not in shown.columns and "operating" not in shown.columns
    assert "train_flagged" not in shown.columns and "train_wanted" not in shown.columns
    assert shown.columns[:3] == ["share", "threshold", "flagged"]
    assert (shown.get_column("flagged") % 5 == 0).all()
    assert "200 resamples, seed 2024" in html_of(markups[1])
    # 30 people in each tenth of risk, fewer than 8 with the outcome: every share is suppressed,
    # so the chart is replaced by one sentence saying so (issue 10: no all-suppressed chart)
    assert page.calibration.frame.get_column("value").is_null().all()
    skipped = html_of(page.calibration_figure())
    assert "hg-skip" in skipped and "enough people with the outcome to publish the share observed" in skipped
    features = pl.read_csv(page.book.downloads / "predicting-risk" / "model-features.csv")
    assert (features.get_column("missing").drop_nulls() % 5 == 0).all()
    assert "Missing values: people without a value, rounded to the nearest 5." in html_of(markups[0])


def test_calibration_figure_is_drawn_when_its_shares_are_published(page_of):
    off = page_of(
        PredictingRiskPage,
        build_people(1000),
        model={"top_fraction": 0.2},
        disclosure={"enabled": False, "reason": "a test"},
    )
    markup = html_of(off.calibration_figure())
    assert 'id="calibration"' in markup
    download = off.book.downloads / "predicting-risk" / "calibration.csv"
    assert download.is_file()
    # the chart plots the download's proportions on percent axes (the table shows percentages)
    assert mismatches_of_figure(markup, download, percent=True) == []


def test_inherits_text_follows_the_truth_columns(page, page_of):
    assert html_of(page.inherits_text()) == INHERITS_NO_TRUTH
    people = build_people(400).with_columns(pl.col("hypertension").alias("true_hypertension"))
    with_truth = page_of(PredictingRiskPage, people)
    assert html_of(with_truth.inherits_text()) == INHERITS_TRUTH


def test_without_an_outcome_every_section_skips_back_to_the_note(bare):
    assert not bare.ok
    assert "has no usable outcome for the model: model.target" in html_of(bare.skip_note())
    for section in (
        bare.features_table,
        bare.performance_table,
        bare.calibration_figure,
        bare.capacity_table,
    ):
        assert NO_MODEL_NOTE in html_of(section())
    assert bare.target_paragraph() is None and bare.protected_paragraph() is None
    assert bare.target_phrase == NO_TARGET
    # every inline value is a non-empty note (Quarto prints an empty inline value as code)
    for inline in (bare.split_text, bare.discrimination_text, bare.calibration_text, bare.operating_text):
        assert inline().strip()
    assert bare.excluded_text() == "none" and bare.top == "5%"


# -- the model sample (issue 12, item 3) ----------------------------------------------------------
def test_the_model_sample_is_said_once_with_published_counts(page, page_of):
    """With more people than ``model.sample_size`` the page says the models are fitted on a
    stratified sample, with both counts as published (rounded to 5); with everyone, nothing."""
    assert page.models.sample_sizes is None and page.sample_paragraph() is None  # 1,000 <= 250,000
    sampled = page_of(PredictingRiskPage, build_people(1000), model={"top_fraction": 0.2, "sample_size": 600})
    drawn = sampled.book.model_people.collect().height
    assert 590 <= drawn <= 610 and drawn < 1000  # the sample is what the models see
    text = html_of(sampled.sample_paragraph())
    assert text == (
        f"The models are fitted on a stratified sample of about {5 * round(drawn / 5):,} of about 1,000 people "
        "in the data (`model.sample_size` in the config), in proportion to the size of each combination of "
        "the outcome and deprivation (IMD quintile): every number about the models is about this sample."
    )
    assert len(sampled.models.result.y_train) + len(sampled.models.result.y_test) == drawn
    off = page_of(
        PredictingRiskPage,
        build_people(1000),
        model={"top_fraction": 0.2, "sample_size": 600},
        disclosure={"enabled": False, "reason": "a test"},
    )
    assert (
        f"a stratified sample of {off.book.model_people.collect().height:,} of the 1,000 people"
        in html_of(off.sample_paragraph())
    )


def test_sample_sentence_without_published_counts():
    from healthgap.pages._models import sample_sentence

    assert sample_sentence(None, None, strata=[], rounded=True) == (
        "The models are fitted on a stratified sample of fewer than can be published of everyone in the data "
        "(`model.sample_size` in the config): every number about the models is about this sample."
    )
