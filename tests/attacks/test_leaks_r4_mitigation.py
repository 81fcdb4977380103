"""Round-4 audit, leak 5: the mitigation's true positive rates from exact counts.

``fairness/mitigation.csv`` gave each approach's share of outcomes found by group to 3 decimals,
computed from the exact counts. The two approaches share a group's number of cases, and the
auditor (``/tmp/audit4/mitig.py``) found only one denominator between 40 and 100 that fits both
rates of the most deprived fifth: 30 of 64 (0.469) and 28 of 64 (0.438). The rates are now
computed from the counts as they would be published (rounded to 5), as everywhere in the book.
"""

from __future__ import annotations

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.fairness import SPLIT_STRATEGIES
from healthgap.pages._fairness_labels import mitigation_frame

SETTINGS = DisclosureSettings()


def by_group(found: tuple[int, int], cases: int = 64, n: int = 4787) -> pl.DataFrame:
    """Both approaches' counts in one group, as :func:`healthgap.fairness.mitigate_at_capacity` gives them."""
    return pl.DataFrame(
        {
            "strategy": list(SPLIT_STRATEGIES),
            "strategy_label": list(SPLIT_STRATEGIES.values()),
            "group": ["1", "1"],
            "group_label": ["1 (most deprived)"] * 2,
            "n": [n, n],
            "cases": [cases, cases],
            "flagged": [262, 245],
            "found": list(found),
            "tpr": [f / cases for f in found],
            "tpr_lower": [0.357, 0.314],
            "tpr_upper": [0.604, 0.551],
        }
    )


def denominators(values: list[float], low: int = 40, high: int = 100) -> list[int]:
    """The auditor's search: the numbers of cases that give every published rate (3 decimals)."""
    return [
        n
        for n in range(low, high + 1)
        if all(any(round(k / n, 3) == v for k in range(n + 1)) for v in values)
    ]


def test_the_auditor_cannot_single_out_the_number_of_cases():
    frame = mitigation_frame(by_group((30, 28)), settings=SETTINGS)
    values = frame["tpr"].to_list()
    assert None not in values
    # the number of cases is known to round to 65 (62 to 67): from exact counts only 64 fit both rates
    near = denominators(values, 62, 67)
    assert 64 not in near or len(near) > 1, near
    assert len(denominators(values)) > 1  # and many fit between 40 and 100


def test_rates_come_from_the_counts_as_published():
    frame = mitigation_frame(by_group((30, 28)), settings=SETTINGS)
    assert frame["tpr"].to_list() == [round(30 / 65, 3), round(30 / 65, 3)]  # 28 -> 30, 64 -> 65
    assert frame["share_flagged"].to_list() == [round(260 / 4785, 3), round(245 / 4785, 3)]
    assert frame["tpr_lower"].to_list() == [0.357, 0.314]  # the bootstrap intervals as they were
