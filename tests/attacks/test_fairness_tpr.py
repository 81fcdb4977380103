"""Attack: solve exact or hidden counts from the fairness page's TPR differences and its rounded counts.

The fairness page publishes, per dimension, every pairwise difference in the true positive
rate at capacity (exact counts, rounded to 0.1 percentage point; ``FairnessPage.tpr_pairs``)
and, in the audit, each group's cases and cases found (rounded to 5, 1-7 suppressed). An
attacker knows each count only to the values that round to what is published (or to 1-7
when suppressed), and every difference to +-0.05 point. The attack removes, for each group,
the (found, cases) candidates that no candidate of another group can match on their
published difference (arc consistency, repeated until nothing changes); a count is solved
when one value is left.

The scenario is the shape of the default book's age bands: one group with 25 cases of
which 3 are found (suppressed), beside large groups. Without
:func:`~healthgap.pages._fairness_gaps.publishable_pairs` the attack recovers the
suppressed 3; with it, no pair involving that group is published and nothing is solved.
"""

from __future__ import annotations

import itertools

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.disclosure import publish
from healthgap.pages._fairness_gaps import DECIMALS, publishable_pairs

SETTINGS = DisclosureSettings()
#: (group, cases, found): exact counts of the test set.
GROUPS = [("a", 25, 3), ("b", 300, 150), ("c", 180, 61), ("d", 95, 40), ("e", 410, 170)]


def _published_groups() -> pl.DataFrame:
    """The audit's tpr rows as the page publishes them (rounded, 1-7 suppressed)."""
    exact = pl.DataFrame(
        {
            "dimension": "age_band",
            "group": [g for g, _, _ in GROUPS],
            "metric": "tpr",
            "n": [c * 40 for _, c, _ in GROUPS],
            "numerator": [f for _, _, f in GROUPS],
            "denominator": [c for _, c, _ in GROUPS],
            "value": [f / c for _, c, f in GROUPS],
        }
    )
    return publish(exact, counts=["n", "numerator", "denominator"], settings=SETTINGS, by=["dimension"]).frame


def _exact_pairs() -> pl.DataFrame:
    rows = [
        {"dimension": "age_band", "group": g, "versus": h, "value": fg / cg - fh / ch}
        for (g, cg, fg), (h, ch, fh) in itertools.combinations(GROUPS, 2)
    ]
    return pl.DataFrame(rows)


def _candidates(published: int | None, *, most: int) -> list[int]:
    """The exact counts consistent with a published one: the values rounding to it, or, when it
    is suppressed (primary 1-7, or secondary: any size), every value up to ``most``."""
    if published is None:
        return list(range(0, most + 1))
    half = SETTINGS.rounding // 2
    return [v for v in range(published - half, published + half + 1) if v >= SETTINGS.suppress_below]


def solve(groups: pl.DataFrame, pairs: pl.DataFrame) -> dict[str, set[tuple[int, int]]]:
    """Each group's (found, cases) candidates left by arc consistency on the published differences."""
    domains = {
        r["group"]: {
            (f, c)
            for c in _candidates(r["denominator"], most=1000)
            for f in _candidates(r["numerator"], most=c)
            if 0 <= f <= c and c > 0
        }
        for r in groups.iter_rows(named=True)
    }
    tol = 0.5 * 10**-DECIMALS + 1e-12
    published = [(r["group"], r["versus"], r["value"]) for r in pairs.iter_rows(named=True)]
    changed = True
    while changed:
        changed = False
        for g, h, d in published:
            for a, b, sign in ((g, h, 1), (h, g, -1)):
                keep = {
                    (f, c)
                    for f, c in domains[a]
                    if any(abs(sign * (f / c - f2 / c2) - d) <= tol for f2, c2 in domains[b])
                }
                if keep != domains[a]:
                    domains[a], changed = keep, True
    return domains


def _rounded_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.with_columns(pl.col("value").round(DECIMALS))


def test_the_attack_recovers_a_suppressed_count_from_unguarded_differences():
    groups = _published_groups()
    assert groups.filter(group="a")["numerator"].item() is None  # 3 found: suppressed
    domains = solve(groups, _rounded_pairs(_exact_pairs()))
    assert {f for f, _ in domains["a"]} == {3}  # the attack works: the hidden 3 is solved


def test_published_differences_solve_no_hidden_or_exact_count():
    groups = _published_groups()
    pairs = _rounded_pairs(publishable_pairs(_exact_pairs(), groups))
    assert not pairs.filter((pl.col("group") == "a") | (pl.col("versus") == "a")).height
    domains = solve(groups, pairs)
    for group, domain in domains.items():
        found = {f for f, _ in domain}
        cases = {c for _, c in domain}
        assert len(found) > 1, f"group {group}: the exact number found is solved ({found})"
        assert len(cases) > 1, f"group {group}: the exact number of cases is solved ({cases})"


def test_without_the_audit_no_difference_is_published():
    assert publishable_pairs(_exact_pairs(), None).is_empty()
