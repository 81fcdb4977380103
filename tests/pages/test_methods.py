"""The methods appendix: the sentences that depend on the dataset and the disclosure settings."""

from __future__ import annotations

from dataclasses import replace

from healthgap.pages.methods import LOCALITIES, MethodsPage, localities_text, nested_text
from tests.conftest import build_people
from tests.pages.conftest import html_of


def test_localities_and_nested_areas_follow_the_data(page_of):
    page = page_of(MethodsPage, build_people(200))
    caps = page.caps
    assert localities_text(caps) == LOCALITIES and html_of(page.localities()) == LOCALITIES
    assert "@sec-geography-localities" in LOCALITIES
    assert page.nested == "Small areas are protected within each locality, whose totals are published."
    practices = replace(caps, area_column="gp_practice")
    assert (
        nested_text(practices)
        == "GP practices are protected within each locality, whose totals are published."
    )
    assert nested_text(replace(caps, area_column="locality")) == ""
    assert nested_text(replace(caps, area_column=None)) == ""
    no_locality = replace(caps, columns=caps.columns - {"locality"}, dimensions=caps.dimensions[:-1])
    assert localities_text(no_locality) == "" and nested_text(no_locality) == ""


def test_disclosure_rules_as_configured(page_of):
    page = page_of(MethodsPage, build_people(60), disclosure={"suppress_below": 11, "rounding": 10})
    assert (page.largest_suppressed, page.rounding) == (10, 10)
    assert page.status == "Disclosure control is switched on for this report."
    off = page_of(MethodsPage, build_people(60), disclosure={"enabled": False, "reason": "synthetic data"})
    assert off.status == (
        "Disclosure control is switched OFF for this report: synthetic data. It must not be published."
    )
