"""Round-4 audit, leak 1: wait statistics that pin a suppressed count of people waiting longer.

The auditor (``/tmp/audit4/waits_attack.py``) read the experience page's days-to-treatment table:
for a group of 24 people the count over the 18-week standard (126 days) was suppressed, but the
median's distribution-free interval was shown. Its upper limit is the wait at rank ``s`` (Campbell
and Gardner), so a limit above 126 days leaves at least ``n - s + 1`` people over the standard,
and with the published size that pinned the suppressed count to exactly 7. For groups under the
minimum group size the median, its limits and the mean are single people's waits (mean x size is
their total).

The rule: a group's wait statistics are published only when the group has at least the minimum
group size, and they are withheld with the group's over-standard count whenever that count is.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import norm

from healthgap.pages.experience import ExperiencePage
from tests.attacks.disclosure_helpers import synthetic_page
from tests.conftest import build_people

STANDARD = 126
STATS = ("median_days", "median_lower", "median_upper", "mean_days")
MIN_GROUP = 50


def ranks(n: int) -> tuple[int, int]:
    """The order statistics of a median's 95% interval, written as the auditor did."""
    z = norm.ppf(0.975)
    half = z * math.sqrt(n) / 2
    return math.floor(n / 2 - half + 0.5), math.floor(n / 2 + 1 + half + 0.5)


def hidden_counts(row: dict, *, rounding: int = 5) -> set[int]:
    """The over-standard counts 1-7 consistent with a row's published size, median and interval
    (the auditor's attack); every count 1-7 when the row shows no interval."""
    if row["median_upper"] is None or row["median_days"] is None:
        return set(range(1, 8))
    med, lo, hi = row["median_days"], row["median_lower"], row["median_upper"]
    fits: set[int] = set()
    for n in range(max(1, row["recorded"] - rounding // 2), row["recorded"] + rounding // 2 + 1):
        r, s = ranks(n)
        low = n - s + 1 if hi > STANDARD else 0
        high = n - s if hi <= STANDARD else n
        if lo is not None and lo > STANDARD:
            low = max(low, n - r + 1)
        if med <= STANDARD:
            high = min(high, n - math.ceil(n / 2))
        fits |= set(range(low, high + 1))
    return {k for k in fits if 1 <= k <= 7}


def waiting(*, asian: list[int], white_over: int = 3, white: int = 60, seed: int = 7) -> pl.DataFrame:
    """A population whose Asian group has the waits ``asian`` and whose White group has ``white``
    waits, ``white_over`` of them over the standard; nobody else has a wait."""
    people = build_people(3000, seed=seed)
    rng = np.random.default_rng(seed)
    eth = people.get_column("ethnicity").to_numpy()
    waits = np.full(people.height, -1)
    a = np.flatnonzero(eth == "Asian")[: len(asian)]
    waits[a] = asian
    w = np.flatnonzero(eth == "White")[:white]
    waits[w] = np.concatenate([rng.integers(20, STANDARD, white - white_over), np.full(white_over, 150)])
    return people.with_columns(
        pl.when(pl.Series(waits) >= 0).then(pl.Series(waits)).cast(pl.Int64).alias("days_to_treatment")
    )


#: The auditor's group: 24 waits, 7 over 126 days; the 18th (the interval's upper rank) is 127.
AUDITED = [
    40,
    45,
    51,
    60,
    70,
    80,
    90,
    95,
    99,
    100,
    101,
    101,
    102,
    105,
    110,
    115,
    120,
    127,
    130,
    140,
    160,
    180,
    200,
    250,
]


def ethnicity_rows(page: ExperiencePage) -> list[dict]:
    table = page.tables["days_to_treatment"].frame
    return table.filter(pl.col("dimension") == "ethnicity").to_dicts()


def test_the_auditor_cannot_pin_a_suppressed_count_from_the_median_interval(tmp_path: Path):
    assert sum(w > STANDARD for w in AUDITED) == 7 and sorted(AUDITED)[ranks(24)[1] - 1] == 127
    page = synthetic_page(ExperiencePage, tmp_path, people=waiting(asian=AUDITED))
    asian = next(r for r in ethnicity_rows(page) if r["label"] == "Asian")
    assert asian["over_standard"] is None  # 7: suppressed
    assert len(hidden_counts(asian)) > 1, asian  # was exactly {7}
    assert all(asian[c] is None for c in STATS), asian  # fewer than 50 people: no wait statistics
    assert asian["suppressed"] and "fewer than 50 people" in asian["suppression_reason"]


def test_wait_statistics_follow_a_suppressed_over_standard_count_in_a_large_group(tmp_path: Path):
    page = synthetic_page(ExperiencePage, tmp_path, people=waiting(asian=AUDITED, white_over=3, white=60))
    white = next(r for r in ethnicity_rows(page) if r["label"] == "White")
    assert white["recorded"] == 60 and white["over_standard"] is None  # 3 of 60: suppressed
    assert all(white[c] is None for c in STATS), white


def test_no_published_wait_table_shows_statistics_it_should_not(tmp_path: Path):
    """Every days table of the page, on the synthetic population: statistics only for groups of at
    least 50 people whose over-standard count (when there is a standard) is published."""
    page = synthetic_page(ExperiencePage, tmp_path, n=8000)
    days = [t for t in page.tables.values() if "median_days" in t.columns]
    assert len(days) == 2  # days to first outpatient (no standard), days to treatment
    for table in days:
        frame = table.frame
        small = pl.col("recorded").is_null() | (pl.col("recorded") < MIN_GROUP)
        if "over_standard" in frame.columns:
            small = small | pl.col("over_standard").is_null()
        shown = frame.filter(small & pl.any_horizontal([pl.col(c).is_not_null() for c in STATS]))
        assert shown.is_empty(), shown
        blank = frame.filter(pl.col("median_days").is_null())
        assert blank.get_column("suppressed").all()
        assert blank.get_column("suppression_reason").is_not_null().all()
    no_standard = page.tables["days_to_first_outpatient"].frame
    ok = no_standard.filter(pl.col("recorded") >= MIN_GROUP)
    assert ok.height and ok.get_column("median_days").is_not_null().all()  # large groups still shown
