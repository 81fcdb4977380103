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
