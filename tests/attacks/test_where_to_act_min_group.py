"""Attack: read a rate of a group too small to publish off "Where to act" (issue 15, round 4, item 1).

Experience counts missed and hospital-cancelled appointments per person referred, and withholds
the rate of a group with fewer than the minimum number of people (50) referred: with so few, a
published count and rate say too much about each of them. "Where to act" counted the same events
per head of everyone (a few hundred people in each ethnic group), so it published the events of
groups Experience withholds: cancellations in the Black group, 20 events among 25 to 35 people
referred. The same minimum group rule must apply in the measure's own denominator on every page.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.pages.where_to_act import WhereToActPage
from tests.conftest import build_people
from tests.pages.conftest import build_page

COUNTS = ("missed_appointments", "provider_cancellations")


def _people() -> pl.DataFrame:
    people = build_people(3000, seed=11)
    rng = np.random.default_rng(11)
    referred = rng.random(people.height) < 0.12
    return people.with_columns(
        pl.Series("cardiology_referral", referred),
        *(pl.Series(c, np.where(referred, rng.poisson(0.8, people.height), 0)) for c in COUNTS),
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> WhereToActPage:
    return build_page(WhereToActPage, _people(), tmp_path_factory.mktemp("wta"))


def test_no_rate_of_a_group_under_the_minimum_in_its_own_denominator(page: WhereToActPage) -> None:
    people = page.book.frame
    referred = (
        people.filter(pl.col("cardiology_referral"))
        .group_by(pl.col("ethnicity").cast(pl.String).alias("level"))
        .agg(pl.len().alias("referred"))
    )
    small = referred.filter(pl.col("referred") < page.config.disclosure.min_group)
    assert not small.is_empty()  # the attack needs a group under the minimum among the referred
    rows = page.gaps.frame.filter(
        pl.col("measure").is_in(list(COUNTS)) & (pl.col("dimension") == "ethnicity")
    ).join(small, on="level")
    assert not rows.is_empty()
    shown = rows.filter(pl.col("numerator").is_not_null() | pl.col("rate").is_not_null())
    assert shown.is_empty(), shown.select("measure", "level", "numerator", "denominator", "rate", "referred")
