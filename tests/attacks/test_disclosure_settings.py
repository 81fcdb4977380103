"""Issue 11, leak 8: settings that switch protection off quietly, and checks that ignore the config.

- ``suppress_below: 1, rounding: 1`` suppresses nothing and rounds nothing: every count is
  published exactly, yet the book showed no "disclosure control is off" banner and asked
  for no reason, as ``enabled: false`` must. Such a config is now refused with a message
  naming the fix.
- The table check used the default threshold (8) whatever the config said, so with
  ``suppress_below: 6`` any table showing a (legitimately published) count of 6 or 7
  stopped the book; with ``suppress_below: 11`` it would have let 8-10 through. Every
  check now uses the config's settings.
"""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import ConfigError, DisclosureSettings, load_config
from healthgap.disclosure import DisclosureError, assert_publishable, publish
from healthgap.pages.recorded_disease import RecordedDiseasePage
from healthgap.tables import table_html
from tests.attacks.disclosure_helpers import synthetic_page
from tests.pages.conftest import html_of


def _config(tmp_path, disclosure: str):
    (tmp_path / "people.csv").write_text("person_id,age\n1,40\n", encoding="utf-8")
    path = tmp_path / "c.yml"
    path.write_text(f"data: {{path: people.csv}}\ndisclosure: {disclosure}\n", encoding="utf-8")
    return path


def test_no_suppression_and_no_rounding_is_refused_unless_switched_off_with_a_reason(tmp_path):
    with pytest.raises(ConfigError, match=r"enabled: false.*reason") as err:
        load_config(_config(tmp_path, "{suppress_below: 1, rounding: 1}"))
    assert "disclosure.suppress_below" in str(err.value)
    # the honest way to publish exact counts: switched off, with a reason, and the banner on every page
    off = load_config(
        _config(tmp_path, "{enabled: false, reason: internal QA, suppress_below: 1, rounding: 1}")
    )
    assert not off.disclosure.enabled
    # either protection alone is still protection
    assert load_config(_config(tmp_path, "{suppress_below: 1, rounding: 5}")).disclosure.rounding == 5
    assert load_config(_config(tmp_path, "{suppress_below: 3, rounding: 1}")).disclosure.suppress_below == 3


def test_publish_refuses_settings_that_protect_nothing():
    df = pl.DataFrame({"group": ["a", "b"], "n": [1, 40]})
    with pytest.raises(DisclosureError, match="enabled: false"):
        publish(df, counts=["n"], settings=DisclosureSettings(suppress_below=1, rounding=1))


def test_the_table_check_uses_the_configured_threshold():
    six = DisclosureSettings(suppress_below=6)
    df = publish(pl.DataFrame({"group": ["a", "b", "c"], "n": [6, 7, 40]}), counts=["n"], settings=six).frame
    assert df["n"].to_list() == [5, 5, 40]  # 6 and 7 are published (rounded) under suppress_below: 6
    table_html(df, id="t", caption="People", settings=six)
    eleven = DisclosureSettings(suppress_below=11, rounding=1)
    with pytest.raises(DisclosureError, match="between 1 and 10"):
        table_html(pl.DataFrame({"group": ["a"], "n": [9]}), id="t", caption="People", settings=eleven)
    with pytest.raises(DisclosureError, match="between 1 and 10"):
        assert_publishable(pl.DataFrame({"n": [9]}), settings=eleven)


def test_a_count_rounded_down_to_the_threshold_is_published():
    """Under 11/10 a count of 12 is published as 10: a rounded count of 11-14, not a small count."""
    tens = DisclosureSettings(suppress_below=11, rounding=10)
    out = publish(pl.DataFrame({"group": ["a", "b", "c"], "n": [12, 40, 3]}), counts=["n"], settings=tens)
    assert out.frame["n"].to_list() == [None, 40, None]  # 3 is small; 12 is the smallest other cell
    out = publish(pl.DataFrame({"group": ["a", "b"], "n": [12, 40]}), counts=["n"], settings=tens)
    assert out.frame["n"].to_list() == [10, 40]
    table_html(out.frame, id="t", caption="People", settings=tens)


def test_a_book_with_suppress_below_6_shows_its_counts_of_6_and_7(tmp_path):
    """With ``suppress_below: 6`` at 2,003 people the locality table has counts of 6 (rounded to 5)."""
    page = synthetic_page(RecordedDiseasePage, tmp_path, disclosure={"suppress_below": 6, "rounding": 1})
    exact = page.table.filter(pl.col("events").is_between(6, 7))
    assert exact.height > 0  # the attack needs such a count
    for dimension in ("locality", "ethnicity", "imd_quintile"):
        assert "<figure" in html_of(page.figure(dimension))
