"""Issue 11, leak 7: the suppression reason said which hidden cell was the small one.

Every hidden count carried its own reason: "count of 1-7" on the small count and "secondary
suppression: protects a suppressed cell in the same group" on the cell withheld to protect
it. The CSV downloads and the chart specs publish the reason of every row, so a reader
knew which hidden cell held 1 to 7 people and which held more: half the protection of
secondary suppression undone. Primary and secondary suppression now give one reason,
"suppressed to protect confidentiality", in the frames, the CSVs, the chart specs and the
table footnotes.
"""

from __future__ import annotations

import json
import re

import polars as pl

from healthgap import disclosure
from healthgap.config import DisclosureSettings
from healthgap.disclosure import publish
from healthgap.pages.recorded_disease import RecordedDiseasePage
from healthgap.tables import reason_notes, table_html
from tests.attacks.disclosure_helpers import synthetic_page
from tests.pages.conftest import html_of

#: The one reason of primary and secondary suppression.
REASON_CONFIDENTIAL = "suppressed to protect confidentiality"
#: Reasons a hidden count may give besides the one for primary and secondary suppression: a
#: group below the minimum size (its size is published, so this says nothing new).
ALSO = re.compile(r"^fewer than \d+ people in the group$")


def _count_reasons(frame: pl.DataFrame) -> set[str]:
    cols = [c for c in frame.columns if c.startswith("suppression_reason_")]
    reasons = {r for c in cols for r in frame.get_column(c).drop_nulls().to_list()}
    return {r for r in reasons if not ALSO.match(r)}


def test_primary_and_secondary_suppression_give_the_same_reason(tmp_path):
    assert getattr(disclosure, "REASON_CONFIDENTIAL", None) == REASON_CONFIDENTIAL
    page = synthetic_page(RecordedDiseasePage, tmp_path)
    frame = page.published.frame
    assert frame.get_column("suppressed").sum() > 0  # the attack needs hidden cells
    assert _count_reasons(frame) == {REASON_CONFIDENTIAL}
    for reason in frame.get_column("suppression_reason").drop_nulls().to_list():
        assert "1-7" not in reason and "secondary" not in reason, reason


def test_the_csv_download_does_not_tell_the_small_count_from_the_others(tmp_path):
    page = synthetic_page(RecordedDiseasePage, tmp_path)
    page.download()
    (csv,) = (tmp_path / "downloads").rglob("prevalence-all.csv")
    text = csv.read_text(encoding="utf-8")
    assert "count of 1-" not in text and "secondary suppression" not in text
    assert REASON_CONFIDENTIAL in text


def test_the_chart_spec_does_not_tell_the_small_count_from_the_others(tmp_path):
    page = synthetic_page(RecordedDiseasePage, tmp_path)
    markup = html_of(page.figure("ethnicity"))
    specs = re.findall(r'<script type="application/json" id="[^"]*-spec">(.*?)</script>', markup, re.S)
    assert specs
    text = json.dumps([json.loads(s) for s in specs])
    assert "count of 1-" not in text and "secondary suppression" not in text


def test_the_table_footnote_gives_one_reason():
    df = pl.DataFrame({"group": ["a", "b", "c"], "events": [3, 30, 40], "population": [300, 300, 400]})
    published = publish(df, counts=["events", "population"], settings=DisclosureSettings())
    markup = table_html(
        published.frame, id="t", caption="Events", columns={"group": "Group", "events": "Events"}
    )
    notes = re.findall(r'<p class="hg-table-note">(.*?)</p>', markup)
    assert notes == [
        "[c] Suppressed to protect confidentiality. Small counts are not shown, nor other counts "
        "from which a small count could be worked out."
    ]


def test_a_footnote_names_no_count_column_that_the_table_does_not_show():
    """'cases: suppressed to protect confidentiality' in a table without 'cases' is the one reason too."""
    notes = reason_notes(
        ["cases: suppressed to protect confidentiality; found: fewer than 50 people in the group"],
        labels={"strategy": "Approach"},
        columns=["strategy", "tpr"],
    )
    assert notes == [
        "Small counts are not shown, nor other counts from which a small count could be worked out.",
        "Groups of fewer than 50 people show no counts or rates within them, at most their size.",
    ]
