"""The explanations page: sentences on small frames, published SHAP aggregates on a small fitted model."""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import DEFAULT_DIMENSIONS, Dimension, DisclosureSettings
from healthgap.disclosure import Published, publish
from healthgap.explain import GAP_NO_DIMENSION, GAP_TOO_FEW, Explanation
from healthgap.pages.explanations import (
    LABEL_BIAS_REF,
    NO_ENDS,
    SCALES,
    SPLIT_METHOD,
    ExplanationsPage,
    additivity_sentence,
    decomposition_sentence,
    gap_intro_sentence,
    gap_note,
    gap_sentence,
    importance_sentence,
    shown,
)
from tests.conftest import build_people
from tests.pages.conftest import build_page, html_of
from tests.pages.test_models_runtime import NO_MODEL_NOTE, model_cache  # noqa: F401

SETTINGS = DisclosureSettings()
IMD = DEFAULT_DIMENSIONS["imd_quintile"]
EDUCATION = Dimension(
    "education", "Education level", ("1", "2", "3", "4"), {"1": "Some high school", "4": "College"}, "4",
    noun="education level", ordered=True, disadvantaged="first",
)  # fmt: skip
ENDS = (
    "the most deprived fifth",
    "the least deprived fifth",
)


def _importance(labels: list[str], values: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"label": labels, "value": values})


def _gap(total: tuple[float, float, float], *parts: tuple[str, float, float, float, float | None]):
    rows = [("(total)", "Total gap in mean log-odds", *total, 1.0)]
    rows += [(label.lower(), label, *rest) for label, *rest in parts]
    return pl.DataFrame(
        rows, schema=["feature", "label", "value", "lower_ci", "upper_ci", "share"], orient="row"
    )


# -- sentences ---------------------------------------------------------------------------------
def test_importance_sentence_names_the_top_three():
    frame = _importance(["Age", "Systolic blood pressure", "CKD stage", "BMI"], [0.6, 0.1, 0.05, 0.01])
    assert importance_sentence(frame, sample="about 2,000") == (
        "Across the people explained (about 2,000), the features that move predictions most are age, "
        "systolic blood pressure and CKD stage."
    )
    assert importance_sentence(frame.head(2), sample="20").endswith("are age and systolic blood pressure.")
    assert importance_sentence(frame.head(0), sample="20").startswith("No feature's contribution")


def test_importance_sentence_names_features_that_never_change_a_prediction():
    one = _importance(["Age", "BMI", "Statin", "Heart failure"], [0.6, 0.1, 0.05, 0.0])
    assert importance_sentence(one, sample="500", leaf=70).endswith(
        " Heart failure never changes a prediction: the model's trees only split groups of at least 70 "
        "people, and in the training set too few people have it for such a split to help."
    )
    three = _importance(
        ["Age", "BMI", "Statin", "Heart failure", "PAD", "Anticoagulant"], [0.6, 0.1, 0.05, 0, 0, 0]
    )
    assert " Heart failure, PAD and anticoagulant never change a prediction:" in importance_sentence(
        three, sample="9", leaf=500
    )
    assert "too few people have them for" in importance_sentence(three, sample="9", leaf=500)


def test_additivity_sentence():
    assert additivity_sentence(0.0, 1e-9) == (
        "For every person explained, the contributions plus the base value (0.00 log-odds, a predicted risk "
        "of 50.00%) add up to the model's own output, apart from rounding error (less than one millionth of "
        "a log-odds unit)."
    )
    assert "(-4.60 log-odds, a predicted risk of 1.00%)" in additivity_sentence(-4.6, 0.0)
    assert additivity_sentence(0.0, 2.5e-5).endswith("apart from rounding error (at most 0.000025 log-odds).")


@pytest.mark.parametrize(
    ("total", "intro"),
    [
        (
            (0.3, 0.1, 0.5),
            "The model does not see deprivation (IMD quintile), yet it predicts higher risk in the more "
            "disadvantaged deprivation fifths.",
        ),
        (
            (-0.3, -0.5, -0.1),
            "The model does not see deprivation (IMD quintile), yet it predicts lower risk in the more "
            "disadvantaged deprivation fifths.",
        ),
        (
            (0.1, -0.1, 0.3),
            "The model does not see deprivation (IMD quintile); any difference it predicts between more and "
            "less disadvantaged deprivation fifths comes through the features.",
        ),
    ],
)
def test_gap_intro_sentence(total, intro):
    assert gap_intro_sentence(_gap(total, ("Age", 0.1, 0.0, 0.2, None)), dimension=IMD) == intro


def test_gap_intro_names_any_ordered_dimension_by_its_own_words():
    text = gap_intro_sentence(_gap((0.3, 0.1, 0.5), ("Age", 0.1, 0.0, 0.2, None)), dimension=EDUCATION)
    assert text == (
        "The model does not see education level, yet it predicts higher risk in the more disadvantaged "
        "education levels."
    )
    assert "sees education level, and it predicts" in gap_intro_sentence(
        _gap((0.3, 0.1, 0.5)), dimension=EDUCATION, sees=True
    )


def test_gap_intro_without_a_gap():
    assert gap_intro_sentence(pl.DataFrame(), dimension=IMD) == (
        "The model does not see deprivation (IMD quintile); any difference it predicts between deprivation "
        "fifths comes through the features."
    )
    assert gap_intro_sentence(pl.DataFrame(), dimension=None) == NO_ENDS


def test_gap_sentence_when_the_gap_is_clear():
    gap = _gap((0.42, 0.3, 0.55), ("Age", -0.05, -0.1, 0.0, -0.12), ("Smoking status", 0.31, 0.2, 0.4, 0.74))
    assert gap_sentence(gap, sample=20_000, ends=ENDS) == (
        "The model's mean predicted log-odds is 0.420 higher in the most deprived fifth than in the least "
        "deprived fifth (95% CI 0.300 to 0.550). The largest single contribution comes from smoking status "
        "(0.310 log-odds, 74% of the gap)."
    )


def test_gap_sentence_when_the_gap_could_be_chance():
    gap = _gap((-0.04, -0.2, 0.1), ("Age", 0.04, -0.09, 0.17, None))
    text = gap_sentence(gap, sample=2000, ends=ENDS, people="about 2,000")
    assert text.startswith(
        "The model's mean predicted log-odds is 0.040 lower in the most deprived fifth than in the least "
        "deprived fifth (95% CI -0.200 to 0.100; with this sample the gap could be due to chance, so no "
        "feature's contribution is given as a percentage of it)."
    )
    assert (
        "comes from age (0.040 log-odds; 95% CI -0.090 to 0.170, which includes no contribution at all, so even "
        "this could be due to chance)."
    ) in text
    assert "of the gap" not in text
    assert text.endswith(
        " The split uses the people explained (about 2,000); a larger sample (the SHAP sample size setting in "
        "the config file) narrows these intervals."
    )


def test_gap_sentence_leaves_out_a_suppressed_contribution():
    gap = _gap((0.42, 0.3, 0.55), ("Age", None, None, None, None), ("BMI", 0.1, 0.05, 0.2, 0.2))
    assert "comes from BMI (0.100 log-odds, 20% of the gap)" in gap_sentence(gap, sample=20_000, ends=ENDS)


def _explanation(groups: tuple[str, str] | None, problem: str | None) -> Explanation:
    empty = pl.DataFrame()
    return Explanation(
        sample=20,
        seed=1,
        base_value=0.0,
        importance=empty,
        by_group=empty,
        gap=empty,
        dependence=empty,
        gap_dimension="imd_quintile",
        gap_groups=groups,
        gap_problem=problem,
        additivity_error=0.0,
    )


def test_gap_note_says_why_the_gap_is_not_split():
    fifths = ("1 (most deprived)", "5 (least deprived)")
    assert gap_note(_explanation(fifths, GAP_TOO_FEW)) == (
        "The gap between 1 (most deprived) and 5 (least deprived) cannot be split: "
        "too few people in the SHAP sample in one of them."
    )
    assert gap_note(_explanation(None, GAP_NO_DIMENSION)) == (
        "The gap between the first and last level cannot be split: imd_quintile is not available."
    )
    assert gap_note(_explanation(fifths, None)) is None


def test_gap_sentence_without_a_gap_gives_the_note():
    assert (
        gap_sentence(pl.DataFrame(), sample=20, note="The gap cannot be split.") == "The gap cannot be split."
    )
    assert gap_sentence(pl.DataFrame(), sample=20) == "The gap could not be split with the people explained."


def test_shown_leaves_out_groups_too_small_to_publish():
    frame = pl.DataFrame(
        {
            "dimension": ["sex", "sex", "ethnicity", "ethnicity", "ethnicity"],
            "feature": ["age"] * 5,
            "group": ["female", "male", "Asian", "Black", "White"],
            "n": [60, 52, 3, 40, 900],
            "value": [0.1, 0.2, 0.3, 0.4, 0.5],
        }
    )
    published = shown(publish(frame, counts=["n"], by=["dimension", "feature"], settings=SETTINGS))
    assert published.frame.get_column("group").to_list() == ["female", "male", "White"]  # Black: secondary
    assert published.frame.get_column("n").to_list() == [60, 50, 900]


# -- the page on a small fitted model ------------------------------------------------------------
@pytest.fixture(scope="module")
def page(tmp_path_factory):
    return build_page(ExplanationsPage, build_people(400), tmp_path_factory.mktemp("explain"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The page explaining only 20 people: most equity groups and the deprivation gap are too small."""
    from healthgap.explain import explain

    page = build_page(ExplanationsPage, build_people(400), tmp_path_factory.mktemp("explain-small"))
    models = page.models  # the same fit as ``page`` (from the model cache), fewer people explained
    models.__dict__["explanation"] = explain(
        models.result, dimensions=models.dimensions, sample=20, n_boot=20, min_group=models.min_group
    )
    return page


def test_published_aggregates_hide_no_small_group(page):
    e = page.explanation
    assert e.sample == 120  # the whole test set (fewer than shap_sample people)
    assert e.by_group.filter(pl.col("n") < 8).height > 0  # the analysis returns exact sizes ...
    for frame in (page.importance.frame, page.by_group.frame, page.dependence.frame):
        assert (
            frame.get_column("n").null_count() == 0 and (frame.get_column("n") >= 8).all()
        )  # ... the page not
        assert (frame.get_column("n") % 5 == 0).all()
    assert page.importance.frame.get_column("n").unique().to_list() == [120]


def test_page_words_and_figures(page):
    assert page.ok and page.skip_note() is None
    assert page.additivity_text().startswith(
        "For every person explained, the contributions plus the base value"
    )
    assert page.sample_text == "about 120"
    sizes = page.sizes_text()
    assert sizes.endswith(page.additivity_text())
    if page.gap.height:  # under 50,000 people: all of them
        assert f"uses {page.full_size} people (the whole test set), with 95% intervals" in sizes
    assert page.importance_text().startswith("Across the people explained (about 120)")
    gap_text = page.gap_text()
    assert gap_text.startswith(
        "The figure below shows that split between the most deprived fifth and the least deprived fifth."
    ) or gap_text.startswith("The gap between")
    paragraph = page.gap_paragraph()
    assert (paragraph is None) == (page.gap.height == 0)  # the reason is the decomposition's sentence
    if paragraph is not None:
        assert html_of(paragraph) == f"{page.gap_intro()} {SPLIT_METHOD} {gap_text}"
    ids = ["importance", "shap-by-deprivation", "dependence-1"]
    figures = [page.importance_figure(), page.groups_figure(), page.dependence_figure(0, ids[2])]
    for figure, id in zip(figures, ids, strict=True):
        assert f'id="{id}"' in html_of(figure)
        assert (page.book.downloads / "explanations" / f"{id}.csv").is_file()
    download = html_of(page.groups_download())
    assert "shap-by-group.csv" in download and download.startswith("<p>The same averages")
    assert "deprivation fifth" in html_of(page.groups_intro())
    assert page.dependence_figure(99, "dependence-99") is None  # no such feature: nothing shown


def test_gap_figure_on_a_large_enough_sample(page):
    if not page.gap.height:
        pytest.skip("the deprivation fifths of this small test set are too small")
    figure = html_of(page.gap_figure())
    assert 'id="gap-decomposition"' in figure
    gap = pl.read_csv(page.book.downloads / "explanations" / "gap-decomposition.csv")
    assert "(total)" not in gap.get_column("feature").to_list()
    assert gap.get_column("value").drop_nulls().is_sorted(descending=True)


def test_too_small_a_sample_skips_the_gap(small):
    """Round 3: the reason appeared twice on the page, with two skip notes; now it is said once."""
    assert small.gap.height == 0
    assert small.decomposition_text() == small.too_few()
    assert small.decomposition_text().startswith(
        "The gap between the most deprived fifth and the least deprived fifth is not split here: both have "
        f"fewer than 5,000 people among those explained ({small.full_size} in all), too few"
    )
    assert small.decomposition.height == 0 and small.decomposition_table() is None
    # a Markdown cell (inline text leaves cross-references unresolved: round-4 review)
    assert html_of(small.decomposition_paragraph()) == small.decomposition_text()
    assert small.gap_paragraph() is None and small.gap_figure() is None and small.gap_caveat() is None
    assert small.sizes_text() == small.additivity_text()


def test_label_bias_pointer_only_when_the_check_runs(page):
    page.models.__dict__["label_bias"] = object()  # what data with true status would give
    if page.gap.height:
        assert LABEL_BIAS_REF.strip() in html_of(page.gap_caveat())
    page.models.__dict__["label_bias"] = None
    caveat = page.gap_caveat()
    assert caveat is None or "@sec-fairness-label-bias" not in html_of(caveat)


def test_without_an_ordered_dimension_the_gap_is_not_split(page_of):
    bare = page_of(ExplanationsPage, build_people(400), equity={"dimensions": ["ethnicity", "sex"]})
    assert bare.ends is None
    assert bare.decomposition_text() == bare.gap_intro() == NO_ENDS  # said once: the paragraph is not shown
    assert bare.decomposition_table() is None and bare.gap_paragraph() is None and bare.gap_figure() is None
    assert bare.gap_text() and bare.gap_caveat() is None
    assert bare.sizes_text() == bare.additivity_text()  # no gap is split: no size of it to state
    assert "ethnic group" in html_of(bare.groups_intro())  # the heatmap falls back to another dimension


def test_without_an_outcome_every_section_skips_back_to_the_note(page_of):
    people = build_people(200).drop("cvd_admissions", "cvd_death")
    bare = page_of(ExplanationsPage, people, target=False)
    assert "has no usable outcome for the model: model.target" in html_of(bare.skip_note())
    assert bare.gap_paragraph() is None
    sections = (bare.importance_figure(), bare.gap_figure(), bare.dependence_figure(0, "d"))
    for section in sections:
        assert NO_MODEL_NOTE in html_of(section)
    assert bare.groups_download() is None and bare.gap_caveat() is None
    assert bare.dependence_figure(1, "e") is None
    # every inline value is a non-empty note (Quarto prints an empty inline value as code)
    for inline in (bare.importance_text, bare.additivity_text, bare.gap_intro, bare.gap_text):
        assert inline().strip()
    assert html_of(bare.groups_intro()).strip() and bare.dependence_intro().strip()


def _decomposition_rows(left: float = 0.004) -> pl.DataFrame:
    """A published decomposition (deprivation fifths 1 and 5 on the default data, rounded)."""
    return pl.DataFrame(
        {
            "component": ["observed", "inputs", "left"],
            "label": ["Observed", "Inputs", "Left"],
            "risk": [0.005, 0.001, left],
            "risk_lower": [0.003, 0.0, 0.002],
            "risk_upper": [0.007, 0.002, 0.006],
            "log_odds": [0.5, 0.0, 0.4],
            "log_odds_lower": [0.3, -0.1, 0.2],
            "log_odds_upper": [0.7, 0.1, 0.6],
        }
    )


def test_decomposition_sentence_states_the_observed_gap_and_its_parts():
    text = decomposition_sentence(
        _decomposition_rows(), first="fifth 1", last="fifth 5", people="about 50,000"
    )
    assert text.startswith(
        "Among the people explained (about 50,000 in the test set), the outcome is 0.5 percentage points more "
        "common in fifth 1 than in fifth 5 (95% CI 0.3 to 0.7 percentage points). The model's inputs account "
        "for 0.1 percentage points of it (95% CI 0.0 to 0.2 percentage points)"
    )
    assert "That leaves 0.4 percentage points (95% CI 0.2 to 0.6 percentage points)" in text
    hidden = _decomposition_rows().with_columns(risk=pl.Series([0.005, None, 0.004]))
    assert decomposition_sentence(hidden, first="a", last="b", people="x").startswith(
        "The observed gap could not"
    )


def test_full_size_gap_is_published_without_counts(page, monkeypatch):
    import healthgap.pages.explanations as module

    monkeypatch.setattr(module, "DECOMPOSITION_MIN", 1)  # the small test set, as if large
    for name in ("large_enough", "gap", "decomposition"):
        page.__dict__.pop(name, None)
    full = page.full
    assert full is not None and full.sample == page.models.result.X_test.shape[0]  # the whole test set
    published = page.decomposition.frame
    assert not {"n_first", "n_last", "cases_first", "cases_last"} & set(published.columns)
    exact = full.gap.row(0, named=True)
    assert published.row(0, named=True)["risk"] == round(exact["risk"], 3)
    gap = page.gap.frame
    assert "n_first" not in gap.columns
    total = full.contributions.filter(feature="(total)")["value"].item()
    assert gap.filter(feature="(total)")["value"].item() == round(total, 2)


def test_the_split_says_why_mean_log_odds_and_mean_risk_differ_in_sign(page_of):
    """Round 4 reading of the default book: 'inputs account for 0.1 points' (mean risk higher in the most
    deprived) beside 'mean predicted log-odds 0.01 lower' read as a contradiction; both hold, and the
    page now says why, only when the two differ in sign."""
    p = page_of(ExplanationsPage, build_people(400))
    if p.ends is None or p.full is None:
        pytest.skip("no ordered dimension")
    gap = _gap((-0.01, -0.03, 0.02), ("Age", -0.06, -0.09, -0.03, None))
    decomposition = pl.DataFrame(
        {"component": ["observed", "inputs", "left"], "label": ["Observed", "Inputs", "Left"],
         "risk": [0.007, 0.001, 0.005], "risk_lower": [0.003, 0.0, 0.002], "risk_upper": [0.01, 0.002, 0.008],
         "log_odds": [0.5, 0.0, 0.5], "log_odds_lower": [0.2, -0.1, 0.2], "log_odds_upper": [0.8, 0.1, 0.8]}
    )  # fmt: skip
    p.__dict__["large_enough"] = True
    p.__dict__["gap"] = Published(gap, (), SETTINGS)
    p.__dict__["decomposition"] = Published(decomposition, (), SETTINGS)
    assert p.gap_text().endswith(SCALES.format(direction="higher"))
    p.__dict__["gap"] = Published(gap.with_columns(pl.col("value").abs()), (), SETTINGS)  # same sign
    assert SCALES.split("{")[0] not in p.gap_text()


def test_split_gives_shares_only_of_a_gap_beyond_chance():
    """Round-4 review: shares of a gap that could be chance (-210%, 1,084%) were meaningless, and six
    features printed identically at two decimals. Shares only when the gap's interval excludes 0;
    three decimals."""
    from healthgap.pages.explanations import split_frame

    exact = pl.DataFrame(
        {
            "feature": ["(total)", "age", "bmi", "chd"],
            "label": ["Total", "Age", "BMI", "Coronary heart disease"],
            "value": [-0.0046, -0.0592, 0.0087, 0.0116],
            "lower_ci": [-0.032, -0.082, 0.0081, 0.0084],
            "upper_ci": [0.022, -0.035, 0.0098, 0.0152],
        }
    )
    chance = split_frame(exact, method="m")
    assert chance.get_column("share").is_null().all()
    # printed to three decimals, features that differ print differently (two decimals gave 0.01 for both)
    values = dict(zip(chance.get_column("feature"), chance.get_column("value"), strict=True))
    assert values["bmi"] == 0.009 and values["chd"] == 0.012 and values["age"] == -0.059
    clear = split_frame(
        exact.with_columns(upper_ci=pl.col("upper_ci").fill_null(0)).with_columns(
            upper_ci=pl.when(pl.col("feature") == "(total)").then(-0.001).otherwise(pl.col("upper_ci"))
        ),
        method="m",
    )
    shares = dict(zip(clear.get_column("feature"), clear.get_column("share"), strict=True))
    assert shares["age"] == round(-0.0592 / -0.0046, 2) and shares["(total)"] == 1.0


def test_decomposition_note_and_units():
    from healthgap.pages.explanations import DECOMPOSITION_COLUMNS, DECOMPOSITION_NOTE, decomposition_sentence

    assert DECOMPOSITION_COLUMNS["risk"] == "Difference in risk (percentage points)"
    assert "rounded on its own" in DECOMPOSITION_NOTE
    frame = pl.DataFrame(
        {
            "component": ["observed", "inputs", "left"],
            "risk": [0.007, 0.001, 0.005],  # as published: 0.7 - 0.1 is not 0.5
            "risk_lower": [0.003, 0.0, 0.002],
            "risk_upper": [0.01, 0.002, 0.008],
        }
    )
    text = decomposition_sentence(
        frame, first="the most deprived fifth", last="the least deprived fifth", people="about 50,000"
    )
    assert text.endswith(
        "; each part is rounded on its own, so the parts need not add up to the gap as printed."
    )
    assert "@sec-fairness-calibration" in text
    adds = frame.with_columns(risk=pl.Series([0.007, 0.001, 0.006]))
    assert decomposition_sentence(adds, first="a", last="b", people="c").endswith(
        "@sec-fairness-calibration)."
    )
