"""Issue 11, leak 6: exact zeros (and rates) in tiny groups.

A zero is never suppressed, and in a group of a few dozen people it says something certain
about every one of them. In the synthetic population of 2,003 people (``healthgap synth
--n 2003``) the Mixed ethnic group has 39 people and none of them has coronary heart disease,
heart failure or a stroke on the register, and none died: the book published "0 of 40" for
each, and a rate of 0. Groups smaller than ``disclosure.min_group`` (default 50 people)
now publish their size only: the counts measured within the group and every rate, interval
and ratio derived from them are withheld ("fewer than 50 people in the group").
"""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import ConfigError, DisclosureSettings
from healthgap.disclosure import protect, publish
from healthgap.pages.outcomes import OutcomesPage
from healthgap.pages.recorded_disease import RecordedDiseasePage
from tests.attacks.disclosure_helpers import synthetic_page, synthetic_people

DERIVED = ("value", "lower_ci", "upper_ci", "crude", "crude_lower", "crude_upper", "rate_ratio")


def _tiny_rows(frame: pl.DataFrame, min_group: int) -> pl.DataFrame:
    """Rows of groups whose published size is below ``min_group`` (and above zero)."""
    return frame.filter(pl.col("population").is_null() | pl.col("population").is_between(1, min_group - 1))


def test_the_population_has_the_tiny_group_of_the_attack():
    people = synthetic_people()
    mixed = people.filter(pl.col("ethnicity") == "Mixed")
    assert mixed.height == 39
    assert mixed.select(pl.col("chd", "heart_failure", "stroke_tia", "cvd_death").sum()).row(0) == (
        0,
        0,
        0,
        0,
    )


def test_tiny_groups_publish_no_exact_zero_and_no_rate(tmp_path):
    page = synthetic_page(RecordedDiseasePage, tmp_path)
    tiny = _tiny_rows(page.published.frame, 50)
    mixed = tiny.filter((pl.col("dimension") == "ethnicity") & (pl.col("level") == "Mixed"))
    assert mixed.height == len(page.conditions)  # every condition's Mixed row is a tiny group
    assert mixed.get_column("population").unique().to_list() == [40]  # the size is still published
    assert tiny.get_column("events").is_null().all(), tiny.filter(pl.col("events").is_not_null())
    for c in DERIVED:
        if c in tiny.columns:
            assert tiny.get_column(c).is_null().all(), c
    reasons = mixed.get_column("suppression_reason_events").unique().to_list()
    assert reasons == ["fewer than 50 people in the group"]


def test_no_deaths_are_published_for_a_tiny_group(tmp_path):
    page = synthetic_page(OutcomesPage, tmp_path)
    assert page.rates is not None
    tiny = _tiny_rows(page.rates.frame, 50)
    assert tiny.height > 0
    assert tiny.get_column("events").is_null().all()
    assert tiny.get_column("value").is_null().all()


def test_the_minimum_group_size_is_configurable(tmp_path):
    page = synthetic_page(RecordedDiseasePage, tmp_path, disclosure={"min_group": 30})
    eth = page.published.frame.filter(pl.col("dimension") == "ethnicity")
    mixed = eth.filter(pl.col("level") == "Mixed")  # 39 people (40 published): the usual rules only
    assert mixed.get_column("events").to_list().count(0) > 0  # its zeros are shown again
    assert not mixed.get_column("suppression_reason_events").str.contains("fewer than").any()
    other = eth.filter(pl.col("level") == "Other")  # 18 people (20 published): still too small
    assert other.get_column("value").is_null().all()
    assert other.get_column("suppression_reason_events").unique().to_list() == [
        "fewer than 30 people in the group"
    ]


def test_a_hidden_count_of_a_tiny_group_cannot_be_recovered_by_subtraction():
    """The withheld zero is protected like a small count: another cell of the set is withheld too."""
    df = pl.DataFrame({"group": ["a", "b", "c"], "events": [0, 30, 40], "population": [20, 300, 400]})
    out = protect(df, counts=["events", "population"], size="population")
    assert out["events"].to_list() == [None, None, 40]
    assert out["population"].to_list() == [20, 300, 400]
    assert out["suppression_reason_events"].to_list() == [
        "fewer than 50 people in the group",
        "suppressed to protect confidentiality",
        None,
    ]


def test_counts_that_are_not_within_the_group_stay():
    """A column never smaller than the group size (the whole population) is not about the group's people."""
    df = pl.DataFrame({"group": ["a", "b"], "people": [20, 980], "total": [1000, 1000]}).with_columns(
        share=pl.col("people") / pl.col("total")
    )
    out = publish(df, counts=["people", "total"], settings=DisclosureSettings())
    assert out.frame["total"].to_list() == [1000, 1000]
    assert out.frame["share"].to_list() == pytest.approx([0.02, 0.98])


def test_min_group_is_read_from_the_config(tmp_path):
    from healthgap.config import load_config

    path = tmp_path / "c.yml"
    path.write_text("data: {path: people.csv}\ndisclosure: {min_group: 20}\n", encoding="utf-8")
    (tmp_path / "people.csv").write_text("person_id,age\n1,40\n", encoding="utf-8")
    assert load_config(path).disclosure.min_group == 20
    path.write_text("data: {path: people.csv}\ndisclosure: {min_group: 0}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="min_group"):
        load_config(path)
    assert DisclosureSettings().min_group == 50
