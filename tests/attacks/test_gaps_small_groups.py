"""Attack: read anything beside the size of a group under the minimum size off a table of gaps.

Outcomes (its gaps in numbers, ``outcomes-excess.csv``) and Where to act (``gaps-*-data.csv``)
publish one row per group: the group's counts (``numerator``, ``denominator``), the reference
group's (``reference_numerator``, ``reference_denominator``) and every number computed from them.
In the row of a group of fewer than the minimum group size (50) as published, only the group's
size may be shown (the minimum group rule): "0 of 40" says something certain about each of the 40.

Found by the round-4 disclosure auditor (``tests/test_auditor.py``, rule 5) on books of 2,003 and
20,003 people: those rows withheld the group's own count and every number from it, but repeated
the reference group's counts. That was no leak of the small group (the reference group is another
group of at least 50 people, and its counts are the same as in the larger groups' rows), but a
row that shows counts beside a small group cannot be told, by a reader or an auditor, from one
that shows the group's own. The row of a small group now shows its size and nothing else; the
rows of the larger groups keep the reference group's counts.

The data: the synthetic population of 2,003 people of the other attacks
(:func:`tests.attacks.disclosure_helpers.synthetic_people`), where four ethnic groups have fewer
than 50 people.
"""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.descriptive.priorities import COUNTS
from healthgap.pages.outcomes import OutcomesPage
from healthgap.pages.where_to_act import REFERENCE_NOT_REPEATED, WhereToActPage
from tests.attacks.disclosure_helpers import N_ATTACK, synthetic_page

PEOPLE = N_ATTACK
#: The numbers a small group's row may show: its keys, its size and what describes them.
KEYS = (
    "section",
    "measure",
    "label",
    "dimension",
    "level",
    "reference",
    "statistic",
    "counted",
    "multiplier",
    "whom",
    "higher_is_better",
    "result",
    "ranked",
    "order",
    "comparisons",
    "confidence",
    "denominator",
    "suppressed",
    "suppression_reason",
)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[OutcomesPage, WhereToActPage]:
    folder = tmp_path_factory.mktemp("small-groups")
    return (
        synthetic_page(OutcomesPage, folder / "outcomes", n=PEOPLE),
        synthetic_page(WhereToActPage, folder / "where", n=PEOPLE),
    )


def _frames(pages: tuple[OutcomesPage, WhereToActPage]) -> dict[str, pl.DataFrame]:
    outcomes, where = pages
    assert outcomes.excess is not None and where.truth_gaps is not None
    return {
        "outcomes gaps": outcomes.excess.frame,
        "gaps": where.gaps.frame,
        "true gaps": where.truth_gaps.frame,
    }


def _small(frame: pl.DataFrame, min_group: int) -> pl.DataFrame:
    return frame.filter(pl.col("denominator").is_between(1, min_group - 1))


def test_a_small_groups_row_shows_its_size_and_nothing_else(pages) -> None:
    min_group = pages[0].config.disclosure.min_group
    for name, frame in _frames(pages).items():
        small = _small(frame, min_group)
        assert not small.is_empty(), name  # the attack needs a group under the minimum
        numbers = [c for c, t in small.schema.items() if t.is_numeric() or t == pl.Boolean]
        shown = [c for c in numbers if c not in KEYS and small.get_column(c).is_not_null().any()]
        assert not shown, f"{name}: rows of groups under {min_group} show {shown}"
        assert small.get_column("suppressed").all(), name
        reason = REFERENCE_NOT_REPEATED.format(min_group=min_group)
        assert small.get_column("suppression_reason").str.contains(reason, literal=True).all(), name


def test_the_downloads_show_no_count_beside_a_small_group(pages) -> None:
    """The auditor's rule 5 on the CSV files the pages write."""
    outcomes, where = pages
    min_group = outcomes.config.disclosure.min_group
    outcomes.download()
    for section in ("treatment", "outcome", "experience", "condition"):
        where.section_table(section)
    files = [*outcomes.book.downloads.rglob("*excess*.csv"), *where.book.downloads.rglob("gaps-*-data.csv")]
    assert len(files) >= 4
    for path in files:
        csv = pl.read_csv(path, infer_schema_length=0).with_columns(pl.col(list(COUNTS)).cast(pl.Int64))
        small = _small(csv, min_group)
        assert not small.is_empty(), path.name
        counts = [c for c in COUNTS if c != "denominator" and small.get_column(c).is_not_null().any()]
        assert not counts, f"{path.name}: {counts} beside groups of fewer than {min_group}"


def test_the_larger_groups_rows_keep_the_reference_groups_counts(pages) -> None:
    """Only the small groups' rows leave the reference counts out: every other row shows them as
    the reference group's own published counts (:attr:`OutcomesPage.group_counts`)."""
    outcomes, _ = pages
    assert outcomes.group_counts is not None
    own = outcomes.group_counts.frame.select(
        "measure",
        "dimension",
        pl.col("level").alias("reference"),
        pl.col("numerator").alias("own_numerator"),
        pl.col("denominator").alias("own_denominator"),
    )
    min_group = outcomes.config.disclosure.min_group
    for name, frame in _frames(pages).items():
        large = frame.filter(pl.col("denominator") >= min_group)
        assert not large.is_empty(), name
        if name == "outcomes gaps":
            joined = large.join(own, on=["measure", "dimension", "reference"], how="left")
            assert joined.get_column("own_denominator").is_not_null().all()
            assert (joined["reference_denominator"] == joined["own_denominator"]).all()
            agree = joined.select(
                pl.col("reference_numerator").eq_missing(pl.col("own_numerator")).all()
            ).item()
            assert agree, name
        assert large.get_column("reference_denominator").is_not_null().all(), name
