"""Issue 11, leak 4: a real group named "Total", "All" or "Overall" lost its secondary suppression.

protect() used to treat any row whose label read "Total", "All", "Overall", ... as the total
of its set (rule 5), not as a member. A locality really named "Total" was then left out of
secondary suppression: when its count was the only small one, nothing else in the set was
hidden, and the attacker, who knows the whole population's count, subtracts the published
localities from it. With ``rounding: 1`` on 2,003 people (``healthgap synth --n 2003``) and
North Essex Rural renamed "Total", its 5 people with chronic kidney disease came back as
87 - 82 = 5. Totals are now marked by the caller (``totals=`` / an ``is_total`` column),
never guessed from a label.
"""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import DisclosureError, protect, publish
from healthgap.pages.recorded_disease import RecordedDiseasePage
from tests.attacks.disclosure_helpers import synthetic_page, synthetic_people

EXACT = {"rounding": 1}  # every published count exact: subtraction gives a hidden count back exactly


def _recovered(page: RecordedDiseasePage, dimension: str) -> dict[str, tuple[str, int]]:
    """measure -> (hidden group, value) for each set with exactly one hidden count: total - the others."""
    shown = page.published.frame.filter(pl.col("dimension") == dimension)
    exact = page.table.filter(pl.col("dimension") == dimension)
    out = {}
    for measure in shown.get_column("measure").unique().to_list():
        cells = shown.filter(pl.col("measure") == measure)
        hidden = cells.filter(pl.col("events").is_null())
        if hidden.height == 1:  # the attack: the whole population's count minus every published group
            total = exact.filter(pl.col("measure") == measure).get_column("events").sum()
            out[measure] = (hidden.get_column("label").item(), total - cells.get_column("events").sum())
    return out


@pytest.mark.parametrize("name", ["Total", "All", "Overall"])
def test_a_locality_named_like_a_total_keeps_secondary_suppression(tmp_path, name):
    people = synthetic_people().with_columns(
        pl.col("locality").replace({"North Essex Rural": name}),
    )
    page = synthetic_page(RecordedDiseasePage, tmp_path, people=people, disclosure=EXACT)
    assert _recovered(page, "locality") == {}


def test_no_locality_renamed_total_can_be_recovered(tmp_path):
    """Whichever locality is called "Total", no set of localities has exactly one hidden count."""
    localities = synthetic_people().get_column("locality").unique().sort().to_list()
    leaks = {}
    for i, locality in enumerate(localities):
        people = synthetic_people().with_columns(pl.col("locality").replace({locality: "Total"}))
        page = synthetic_page(RecordedDiseasePage, tmp_path / str(i), people=people, disclosure=EXACT)
        found = _recovered(page, "locality")
        if found:
            leaks[locality] = found
    assert leaks == {}


def test_protect_never_reads_a_label_as_a_total():
    """The mechanism: a row labelled "Total" (any case) is a member of its set like any other."""
    df = pl.DataFrame({"area": ["North", "South", "TOTAL"], "n": [40, 50, 5]})
    out = protect(df, counts=["n"])
    assert out["n"].to_list() == [None, 50, None]  # the 5 is hidden and so is one other cell


def test_totals_are_marked_by_the_caller():
    """A real total row is said so with a boolean column; it is then the total of its set."""
    df = pl.DataFrame(
        {"area": ["North", "South", "All areas"], "n": [3, 50, 53], "is_total": [False, False, True]}
    )
    out = protect(df, counts=["n"], totals="is_total")
    assert out["n"].to_list() == [None, None, 55]  # 53 - 50 would give the 3 back: 50 goes too
    published = publish(df, counts=["n"], settings=DisclosureSettings())  # is_total is found by name
    assert published.frame["n"].to_list() == [None, None, 55]


def test_guessing_totals_from_labels_is_refused():
    df = pl.DataFrame({"area": ["North", "Total"], "n": [40, 40]})
    with pytest.raises(DisclosureError, match="never guessed from a label"):
        protect(df, counts=["n"], totals="auto")
