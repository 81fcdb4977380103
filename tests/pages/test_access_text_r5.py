"""Round 5: the Access, Experience, Geography and Recorded disease pages say only what their
numbers show (each test fails on the code before the round).
"""

from __future__ import annotations

from pathlib import Path

from healthgap.pages.access_treatment import NO_TRUTH_RATIO, AccessTreatmentPage
from tests.conftest import build_people
from tests.pages.test_access_treatment import OFF, text_of, with_truth

# -- without true status, no inference about diagnosis ----------------------------------------------


def test_without_true_status_the_ratios_are_not_read_as_missed_diagnoses(page_of):
    page = page_of(AccessTreatmentPage, build_people(2000), disclosure=OFF)
    assert not page.caps.has_truth
    section = text_of(page.expected_section()) + text_of(page.detection_section())
    assert NO_TRUTH_RATIO in section
    for inference in ("suggests missed diagnoses", "inferred", "true burden", "measured directly"):
        assert inference not in section
    assert "so under-diagnosis cannot be measured." in section


def test_with_true_status_the_ratios_keep_their_reading(page_of):
    page = page_of(AccessTreatmentPage, with_truth(build_people(2000)), disclosure=OFF)
    assert NO_TRUTH_RATIO not in page.oe_context


# -- a printed interval excludes 0 when the verdict says so -----------------------------------------


def test_limits_dp_adds_decimals_only_when_a_limit_prints_as_zero_or_as_the_point():
    from healthgap.text import limits_dp

    assert limits_dp(12.9, 11.0, 14.8, dp=1) == 1
    assert limits_dp(0.18, 0.04, 0.33, dp=1) == 2  # "0.0 to 0.3" -> "0.04 to 0.33"
    assert limits_dp(0.18, 0.004, 0.33, dp=1) == 3
    assert limits_dp(1.2, 1.16, 1.3, dp=1) == 2  # "1.2" beside a point of 1.2
    assert limits_dp(0.2, 0.0, 0.3, dp=1) == 1  # a limit of exactly 0 prints as 0
    assert limits_dp(0.2, 0.00001, 0.3, dp=1, most=2) == 2  # never more than ``most``


def test_a_difference_larger_than_chance_never_prints_an_interval_reaching_zero():
    import numpy as np

    from healthgap.pages._contrast import NOT_CHANCE, difference_clause

    rng = np.random.default_rng(4)
    checked = 0
    for _ in range(400):
        b = float(rng.uniform(0.5, 2.0))
        a = b + float(rng.uniform(0.0, 0.4))
        ha, hb = (float(h) for h in rng.uniform(0.01, 0.2, 2))
        text = difference_clause(a, (a - ha, a + ha), b, (b - hb, b + hb), scale="difference", dp=1, unit="")
        if not text.endswith(NOT_CHANCE):
            continue
        # the interval by hand: z * sqrt(se_a^2 + se_b^2), each se = half-width / 1.96
        low = (a - b) - 1.959964 * float(np.hypot(ha / 1.959964, hb / 1.959964))
        assert low > 0
        printed = text.split("95% CI ")[1].split(" to ")[0]
        assert float(printed) > 0, text
        checked += 1
    assert checked > 20


def test_methods_names_both_comparisons_of_referral_against_need(page_of):
    from healthgap.pages.methods import MethodsPage
    from tests.pages.conftest import html_of
    from tests.pages.test_access_treatment import referred

    access = page_of(AccessTreatmentPage, referred(400), disclosure=OFF)
    measure = access.measures[0]
    text = access.need_text(measure) + " " + access.need_ends_sentence(measure)
    methods = " ".join(html_of(page_of(MethodsPage, referred(400)).need()).split())
    assert "a difference of" in text  # the page gives the difference of the two ends' ratios
    assert "the difference of their two ratios" in methods
    if "times the" in access.need_ends_sentence(measure):
        assert "the ratio of the two ratios, with the exact conditional binomial interval" in methods


# -- the statin gap names how it is computed --------------------------------------------------------


def test_the_first_comparison_of_two_ends_names_its_method(page_of):
    page = page_of(AccessTreatmentPage, build_people(3000), disclosure=OFF)
    text = page.indicator_text
    first = text.index("in the least deprived fifth, a difference of ")
    method = text.index("are each measured against everyone's rates for each age band and sex")
    assert first < method  # right after the first sentence giving the two ends' difference
    assert text.count("are each measured against everyone's rates") == 1
    assert "the interval of their difference combines the two groups' own intervals" in text
    assert "measuring the most deprived fifth against the least deprived fifth's own rates" in text
    # no ordered dimension, no method sentence
    ethnic = page_of(
        AccessTreatmentPage, build_people(3000), disclosure=OFF, equity={"dimensions": ["ethnicity", "sex"]}
    )
    assert "measured against everyone's rates" not in ethnic.indicator_text


# -- wording: labels, not column names --------------------------------------------------------------


def test_indicators_not_shown_name_the_missing_columns_by_their_labels(page_of):
    page = page_of(AccessTreatmentPage, build_people(500).drop("stroke_tia", "pad"), disclosure=OFF)
    note = page.indicator_note_text
    assert "Not shown, because this dataset cannot give them: " in note
    assert "stroke_tia" not in note and "pad " not in note and "pad," not in note
    assert "needs the stroke or TIA" in note and "peripheral arterial disease" in note
    assert "which this dataset does not have" in note


def test_repeated_events_are_explained_in_plain_words_and_the_formula_left_to_methods():
    from healthgap.pages.geography import dispersion_sentence

    text = dispersion_sentence(1.42, noun="CVD emergency admissions")
    assert "Σ" not in text and "k²" not in text and "divided by" not in text
    assert text.startswith("CVD emergency admissions can repeat for one person, so their numbers vary more")
    assert "1.42 times as much" in text and "Methods appendix" in text
    assert f"{1.42**0.5:.2f} times as wide" in text


def test_geography_captions_name_the_unit_shown(page_of):
    from healthgap.pages.geography import GeographyPage
    from tests.pages.conftest import html_of

    page = page_of(GeographyPage, build_people(2000))
    for which in ("condition", "outcome"):
        if page.isr_funnel(which) is None:
            continue
        caption = page.isr_caption(which)
        assert f"in each {page.isr_units.singular}: observed / expected" in caption
        assert "(or area)" not in caption
        block = html_of(page.isr_block(which))
        assert f"::: {{#fig-isr-{which}}}" in block and caption in block
    block = html_of(page.map_block())
    assert f"Recorded {page.focus_name} in each {page.units.singular}" in block
    assert "area or GP practice" not in block and "GP practice or area" not in block
    chapter = Path("chapters/geography.qmd").read_text(encoding="utf-8")
    assert "(or area)" not in chapter and "area or GP practice" not in chapter


# -- a gap by deprivation that may come through place ----------------------------------------------


def _confounded(n: int = 6000, *, tied: bool, seed: int = 3):
    """People whose missed appointments depend on their locality only; with ``tied`` the first
    locality holds the most deprived areas (so a deprivation gap appears through place)."""
    import numpy as np
    import polars as pl

    people = build_people(n)
    rng = np.random.default_rng(seed)
    first = people["locality"].unique().sort()[0]
    in_first = (people["locality"] == first).to_numpy()
    decile = rng.integers(1, 11, n)
    if tied:
        decile = np.where(in_first, rng.integers(1, 3, n), rng.integers(3, 11, n))
    missed = rng.poisson(np.where(in_first, 2.0, 0.3))
    return people.with_columns(
        pl.Series("imd_decile", decile, dtype=people["imd_decile"].dtype),
        pl.Series("missed_appointments", missed, dtype=people["missed_appointments"].dtype),
        pl.lit(value=True).alias("cardiology_referral"),
    )


def test_a_deprivation_gap_found_with_a_place_gap_says_it_may_come_through_place(page_of):
    from healthgap.pages.experience import ExperiencePage

    page = page_of(ExperiencePage, _confounded(tied=True), disclosure=OFF)
    missed = next(e for e in page.measures if e.measure.name == "missed_appointments")
    text = page.measure_text(missed)
    assert "in the most deprived fifth against" in text and "larger than chance would readily explain" in text
    assert page.mix_differs and page.place_gap(missed)
    assert (
        "For missed appointments, gaps are found both by deprivation fifth and between localities, and the "
        "localities differ in their mix of deprivation fifths, so part of either gap may come through the other"
    ) in text
    # independent of place: the localities' mix is the same, so nothing is said
    free = page_of(ExperiencePage, _confounded(tied=False), disclosure=OFF)
    assert not free.mix_differs
    assert "may come through the other" not in free.measure_text(missed)
    # no locality compared: nothing to say
    bare = page_of(
        ExperiencePage, _confounded(tied=True), disclosure=OFF, equity={"dimensions": ["imd_quintile", "sex"]}
    )
    assert bare.place is None and "may come through" not in bare.measure_text(missed)


# -- the [x] mark: the text says what the key says ---------------------------------------------------


def test_intersection_text_gives_the_reasons_the_heat_map_key_gives(page_of):
    from healthgap.pages.recorded_disease import MISSING_WORDS, RecordedDiseasePage
    from healthgap.tables import missing_reasons
    from tests.pages.conftest import html_of

    page = page_of(RecordedDiseasePage, build_people(1500), disclosure=OFF)
    reasons = missing_reasons(page.intersection_table.frame, columns=["value"])
    assert reasons  # small cells: some have no standardised rate
    text = html_of(page.intersection_text())
    for reason in reasons:
        assert MISSING_WORDS[reason] in text
    if not any("fewer than 10" in r for r in reasons):
        assert "fewer than 10" not in text
    assert "Cells marked [x] have no standardised rate: " in text


def test_a_long_heat_map_legend_title_is_broken_into_lines_not_cut():
    import polars as pl

    from healthgap import charts
    from healthgap.charts._common import CHAR_PX, LEGEND_TITLE_PX

    frame = pl.DataFrame({"x": ["a", "b"], "y": ["c", "c"], "value": [1.0, 2.0]})
    spec = charts.heatmap(
        frame, x="x", y="y", title="T", legend_title="Age-standardised prevalence (%)"
    ).to_dict()
    title = next(layer for layer in spec["layer"] if "color" in layer.get("encoding", {}))["encoding"][
        "color"
    ]["legend"]["title"]
    assert isinstance(title, list) and " ".join(title) == "Age-standardised prevalence (%)"
    assert all(len(line) * CHAR_PX <= LEGEND_TITLE_PX + CHAR_PX for line in title)


def test_two_reasons_for_the_x_mark_each_name_their_groups():
    import polars as pl

    from healthgap import charts
    from healthgap.charts._common import missing_keys
    from healthgap.stats.dsr import NOTE_EMPTY_BAND, NOTE_FEW_EVENTS

    frame = pl.DataFrame(
        {
            "dimension_label": ["Ethnic group"] * 5,
            "label": ["Asian", "Black", "Mixed", "Other", "White"],
            "value": [None, None, None, None, 3.0],
            "lower_ci": [None, None, None, None, 2.0],
            "upper_ci": [None, None, None, None, 4.0],
            "suppressed": [False, True, False, False, False],
            "note": [NOTE_FEW_EVENTS, None, NOTE_EMPTY_BAND, NOTE_EMPTY_BAND, None],
        }
    )
    keys = missing_keys(frame, "value", group="label")
    assert keys == [
        "[x] = not calculated: fewer than 10 events (Asian)",
        "[x] = not available: no people in an age band of the standard (Mixed, Other)",
    ]
    one = frame.with_columns(pl.lit(NOTE_FEW_EVENTS).alias("note"))
    assert missing_keys(one, "value", group="label") == ["[x] = not calculated: fewer than 10 events"]
    spec = charts.small_multiples(frame, facet="dimension_label", group="label", title="T").to_dict()
    assert keys[1] in spec["title"]["subtitle"]
