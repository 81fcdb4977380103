"""Attack: solve a hidden stratum count from the expected counts of "Where to act" (issue 15, item 3).

Every gap on the "Where to act" page is indirectly standardised: a group's expected count is
E_g = Σₛ n_gs x_rs / n_rs, the reference group's rate in each age band x sex stratum applied to
the group's people in it. The reference group's stratum counts x_rs are never published, but
every group of a dimension shares the reference: with as many groups as strata, and the groups'
people by stratum known (a population table gives them), the published E_g form a linear system
whose solution is the reference group's stratum rates, and so its stratum counts, small ones
included. Publishing E exactly (as the page did) gives them away to the last person.

The page computes the reference rates from stratum counts randomly rounded to the base
(unbiased: 3 becomes 5 with probability 3/5 and 0 otherwise) and rounds E and the variances to
the base. These tests show the attack recovering a stratum count of 3 from exact expected
counts, and finding only a multiple of 5 from the published ones whatever the hidden count
from 1 to 7; and a group member moving between strata leaving the published frame unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.descriptive.priorities import priorities
from healthgap.pages.where_to_act import WhereToActPage
from tests.pages.conftest import build_page

#: (imd_decile, people aged 42, hypertension among them, people aged 72, hypertension among them);
#: decile 9 is the least deprived fifth, the reference. Its 3 (or 4) people with hypertension
#: aged 70-74 are the hidden count.
GROUPS = [
    (1, 200, 30, 300, 90),
    (3, 150, 20, 500, 160),
    (5, 400, 70, 100, 30),
    (7, 250, 40, 250, 70),
]
REFERENCE = (9, 100, 20, 60)


def _people(hidden: int) -> pl.DataFrame:
    rows = []
    for decile, young, young_hyp, old, old_hyp in [*GROUPS, (*REFERENCE, hidden)]:
        for age, n, hyp in ((42, young, young_hyp), (72, old, old_hyp)):
            rows.extend({"imd_decile": decile, "age": age, "hypertension": k < hyp} for k in range(n))
    return (
        pl.DataFrame(rows)
        .with_row_index("i")
        .select(
            pl.format("p{}", "i").alias("person_id"),
            "age",
            pl.lit("female").alias("sex"),
            pl.lit("White").alias("ethnicity"),
            "imd_decile",
            pl.lit("Ipswich").alias("locality"),
            "hypertension",
        )
    )


def _solve(expected: dict[str, float]) -> float:
    """The attack: the reference group's rate aged 70-74 from the groups' expected counts
    (least squares over E_g = n_g,young r_young + n_g,old r_old), times its people of that age."""
    levels = ["1", "2", "3", "4"]
    a = np.array([[g[1], g[3]] for g in GROUPS], dtype=float)
    e = np.array([expected[level] for level in levels])
    (_, r_old), *_ = np.linalg.lstsq(a, e, rcond=None)
    return float(r_old * REFERENCE[3])


def _hypertension(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter((pl.col("measure") == "hypertension") & (pl.col("dimension") == "imd_quintile"))


def test_exact_expected_counts_give_the_hidden_count_away(tmp_path: Path) -> None:
    page = build_page(WhereToActPage, _people(3), tmp_path, target=False)
    exact = _hypertension(priorities(page.people, page.config))
    got = _solve(dict(zip(exact.get_column("level"), exact.get_column("expected"), strict=True)))
    assert got == pytest.approx(3.0)


@pytest.mark.parametrize("hidden", [1, 2, 3, 4, 6, 7])
def test_published_expected_counts_give_only_a_randomly_rounded_count(tmp_path: Path, hidden: int) -> None:
    """The same attack on the published frame finds the reference group's stratum count as
    randomly rounded to a multiple of 5 (0, 5 or 10), never the count itself: every count from
    1 to 7 may have given it."""
    page = build_page(WhereToActPage, _people(hidden), tmp_path, target=False)
    published = _hypertension(page.gaps.frame)
    assert published.height == 4
    got = _solve(dict(zip(published.get_column("level"), published.get_column("expected"), strict=True)))
    rounded = 5 * round(got / 5)
    assert abs(got - rounded) < 1.0, "what the attack finds is a multiple of the base"
    assert rounded != hidden and rounded in (0, 5, 10)


def test_a_group_member_changing_stratum_is_not_seen(tmp_path: Path) -> None:
    """The expected count and variances also carry the group's own people by stratum (never
    published by group x age band x sex): rounded to the base, one person of the most deprived
    fifth without hypertension aged 72 rather than 42 publishes the same frame."""
    base = _people(3)
    moved = base.with_columns(
        pl.when(pl.col("person_id") == "p199").then(72).otherwise(pl.col("age")).alias("age")
    )
    assert base.filter(pl.col("person_id") == "p199").row(0, named=True)["imd_decile"] == 1
    assert not base.filter(pl.col("person_id") == "p199").row(0, named=True)["hypertension"]
    a = build_page(WhereToActPage, base, tmp_path / "a", target=False)
    b = build_page(WhereToActPage, moved, tmp_path / "b", target=False)
    exact_a, exact_b = _hypertension(a.exact), _hypertension(b.exact)
    assert exact_a.get_column("expected").to_list() != exact_b.get_column("expected").to_list()
    published = _hypertension(a.gaps.frame)
    for column in ("expected", "expected_variance", "observed_variance"):
        assert (published.get_column(column) % 5 == 0).all()
    assert_frame_equal(a.gaps.frame, b.gaps.frame)
