"""Round 5: the Access, Experience, Geography and Recorded disease pages say only what their
numbers show (each test fails on the code before the round).
"""

from __future__ import annotations

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
