"""The appendix "Does the book find what was built in?": estimates of the built-in effects,
their verdicts and the summary, on the synthetic population and on small frames."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from scipy.stats import norm

from healthgap.descriptive.truth_check import effect_estimates, recompute_effects
from healthgap.pages.truth_check import (
    NO_TRUTH,
    VERDICT_TEXT,
    TruthCheckPage,
    estimate_text,
    summary_sentence,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of

Z = norm.ppf(0.975)


@pytest.fixture(scope="module")
def synthetic_page(default_config, tmp_path_factory):
    from healthgap.data import load

    folder = tmp_path_factory.mktemp("truth-check")
    return TruthCheckPage.for_frame(default_config, load(default_config).collect(), downloads=folder)


def _joint(value: float, lo: float, hi: float, *, ratio: bool, m: int) -> tuple[float, float]:
    """The Bonferroni interval for m effects: each side of the 95% interval scaled by
    z(1 - 0.05 / 2m) / z(0.975), on the log scale for a ratio."""
    k = norm.ppf(1 - 0.05 / (2 * m)) / Z
    if ratio:
        return value * (lo / value) ** k, value * (hi / value) ** k
    return value - (value - lo) * k, value + (hi - value) * k


def _verdict(row: dict, *, m: int) -> str:
    """The verdict, written out from its definition."""
    lo, hi, expected, ratio = row["lower_ci"], row["upper_ci"], row["expected_value"], row["scale"] == "ratio"
    null = 1.0 if ratio else 0.0
    jlo, jhi = _joint(row["value"], lo, hi, ratio=ratio, m=m)
    consistent = jlo <= expected <= jhi
    margin = row.get("equivalence_margin")
    if margin is not None:
        inside = (1 / margin <= lo and hi <= margin) if ratio else (-margin <= lo and hi <= margin)
        return "missed" if not consistent else ("no difference" if inside else "not shown")
    if lo <= null <= hi:
        return "chance" if consistent else "missed"
    if (lo > null) != (expected > null):
        return "wrong direction"
    return "found" if consistent else "missed"


def test_estimates_equal_the_truth_on_the_synthetic_population(synthetic_page) -> None:
    exact = synthetic_page.exact
    assert exact.height == len(synthetic_page.effects) == 34
    # the exact estimate is the population quantity truth.json gives (6 decimals there)
    for row in exact.iter_rows(named=True):
        if row["value"] is None:  # the book gives no DSR from fewer than 10 events; the truth does
            fewest = min(row["numerator"], row["reference_numerator"])
            assert row["method"] == "dsr" and fewest < 10 and row["verdict"] == "too few", row["id"]
            continue
        assert row["value"] == pytest.approx(row["true_value"], rel=1e-5, abs=1e-5), row["id"]


def test_published_estimates_agree_with_the_truth_up_to_rounding(synthetic_page) -> None:
    base = synthetic_page.config.disclosure.rounding
    for row in synthetic_page.estimates.frame.iter_rows(named=True):
        if row["value"] is None:
            assert row["verdict"] in ("too few", None), row["id"]
            continue
        if row["method"] not in ("proportion", "events"):
            assert row["value"] == pytest.approx(row["true_value"], rel=1e-5, abs=1e-5), row["id"]
            continue
        # recomputed from counts rounded to the base: each count moves by at most base / 2
        x1, n1 = row["numerator"], row["denominator"]
        x2, n2 = row["reference_numerator"], row["reference_denominator"]
        if row["scale"] == "ratio":
            assert row["value"] == pytest.approx((x1 / n1) / (x2 / n2))
            slack = row["value"] * (base / 2) * (1 / x1 + 1 / n1 + 1 / x2 + 1 / n2) * 1.5
        else:
            assert row["value"] == pytest.approx((x1 / n1 - x2 / n2) * row["per"])
            slack = row["per"] * (base / 2) * ((1 + x1 / n1) / n1 + (1 + x2 / n2) / n2) * 1.5
        assert abs(row["value"] - row["true_value"]) <= slack, row["id"]


def test_verdicts_are_computed_from_the_intervals(synthetic_page) -> None:
    frame = synthetic_page.estimates.frame
    judged = frame.filter(pl.col("value").is_not_null() & pl.col("expected_value").is_not_null())
    # the family: every effect judged on the exact data (the published frame may judge fewer)
    family = synthetic_page.exact.filter(pl.col("verdict").is_not_null()).height
    assert judged.height <= family <= 34 and set(frame["family"]) == {family}
    for row in judged.iter_rows(named=True):
        assert row["verdict"] == _verdict(row, m=family), row["id"]
        jlo, jhi = _joint(
            row["value"], row["lower_ci"], row["upper_ci"], ratio=row["scale"] == "ratio", m=family
        )
        assert (row["joint_lower_ci"], row["joint_upper_ci"]) == pytest.approx((jlo, jhi)), row["id"]
    found = frame.filter(pl.col("verdict") == "found").height
    assert 0 < found <= 34
    summary = synthetic_page.summary()
    assert summary.startswith(f"The book's methods find {found} of the 34 inequalities")
    assert "(20,000 people)" in summary
    markup = html_of(synthetic_page.table())
    assert 'id="truth-check"' in markup and VERDICT_TEXT["found"] in markup


def test_absent_truth_gives_one_plain_note(page_of) -> None:
    page = page_of(TruthCheckPage, build_people(60))
    assert not page.has_effects
    assert page.summary() == NO_TRUTH and page.table() is None


def _effect(**over):
    entry = {
        "id": "statin_imd",
        "description": "Statin prescribing lower in the most deprived fifth.",
        "measure": "statin",
        "kind": "treatment",
        "dimension": "imd_quintile",
        "group": "1",
        "reference": "5",
        "group_sql": "imd_quintile = 1",
        "reference_sql": "imd_quintile = 5",
        "denominator": "age >= 0",
        "numerator": "statin",
        "statistic": "crude",
        "scale": "difference",
        "per": 100.0,
        "true_value": -10.0,
        "expected_value": -10.0,
    }
    entry.update(over)
    return entry


def _people() -> pl.DataFrame:
    n1, x1, n2, x2 = 120, 30, 200, 90
    people = build_people(n1 + n2, seed=4)
    imd = [1] * n1 + [10] * n2  # deciles 1 and 10: quintiles 1 and 5
    statin = [i < x1 for i in range(n1)] + [i < x2 for i in range(n2)]
    missed = [1 if i < x1 else 0 for i in range(n1)] + [1 if i < x2 // 3 else 0 for i in range(n2)]
    return people.with_columns(
        pl.Series("imd_decile", imd, dtype=pl.Int64),
        pl.Series("statin", statin),
        pl.Series("missed_appointments", missed, dtype=pl.Int64),
    )


def _with_truth(page_of, effects, **sections):
    def build(people):
        return page_of(TruthCheckPage, people, **sections)

    page = build(_people())
    path = Path(page.book.downloads).parent / "truth.json"
    path.write_text(json.dumps({"effects": effects}), encoding="utf-8")
    return page_of(TruthCheckPage, _people(), data={"truth": str(path)}, **sections)


def test_proportion_difference_and_ratio_by_hand(page_of) -> None:
    page = _with_truth(
        page_of,
        [
            _effect(expected_value=-2.0),
            _effect(id="statin_ratio", scale="ratio", per=100.0, true_value=0.56, expected_value=0.5),
            _effect(id="wrong", expected_value=5.0),
        ],
        disclosure={"enabled": False, "reason": "test"},
    )
    frame = page.estimates.frame
    diff, rr = frame.row(0, named=True), frame.row(1, named=True)
    x1, n1, x2, n2 = 30, 120, 90, 200
    p1, p2 = x1 / n1, x2 / n2
    assert (
        diff["numerator"],
        diff["denominator"],
        diff["reference_numerator"],
        diff["reference_denominator"],
    ) == (
        x1,
        n1,
        x2,
        n2,
    )
    assert diff["value"] == pytest.approx(100 * (p1 - p2))

    def wilson(x, n):
        centre = (x + Z**2 / 2) / (n + Z**2)
        half = Z * math.sqrt(n) / (n + Z**2) * math.sqrt(p(x, n) * (1 - p(x, n)) + Z**2 / (4 * n))
        return centre - half, centre + half

    def p(x, n):
        return x / n

    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    assert diff["lower_ci"] == pytest.approx(100 * (p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)))
    assert diff["upper_ci"] == pytest.approx(100 * (p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    assert rr["value"] == pytest.approx(p1 / p2)
    assert rr["lower_ci"] == pytest.approx(p1 / p2 * math.exp(-Z * se))
    assert rr["upper_ci"] == pytest.approx(p1 / p2 * math.exp(Z * se))
    # -20 percentage points, the interval excluding 0 but not containing -2: missed
    assert diff["upper_ci"] < -2 and diff["verdict"] == "missed"
    assert frame.row(2, named=True)["verdict"] == "wrong direction"
    assert rr["verdict"] == "found"  # 0.56 with an interval containing the built-in 0.5


def test_event_rate_ratio_by_hand(page_of) -> None:
    entry = _effect(
        id="missed",
        numerator="missed_appointments",
        scale="ratio",
        per=1.0,
        true_value=2.0,
        expected_value=2.0,
    )
    page = _with_truth(page_of, [entry], disclosure={"enabled": False, "reason": "test"})
    row = page.estimates.frame.row(0, named=True)
    assert row["method"] == "events"
    x1, n1, x2, n2 = 30, 120, 30, 200
    se = math.sqrt(1 / x1 + 1 / x2)
    value = (x1 / n1) / (x2 / n2)
    assert row["value"] == pytest.approx(value)
    assert row["lower_ci"] == pytest.approx(value * math.exp(-Z * se))
    assert row["upper_ci"] == pytest.approx(value * math.exp(Z * se))


def test_suppressed_effect_has_no_estimate(page_of) -> None:
    tiny = _effect(id="tiny", group_sql="imd_quintile = 1 AND age < 3", numerator="statin")
    page = _with_truth(page_of, [_effect(), tiny], disclosure={"suppress_below": 11, "rounding": 10})
    frame = page.estimates.frame
    hidden = frame.filter(pl.col("id") == "tiny").row(0, named=True)
    assert hidden["value"] is None and hidden["verdict"] is None
    assert (
        "1 cannot be judged at this size (no published estimate, or no built-in value in a population this small)"
        in page.summary()
    )
    assert page.summary().startswith("The book's methods find")


def test_an_effect_without_a_built_in_value_has_no_verdict() -> None:
    """At 5,000 people a truth entry can have no value (a compared group with nobody in it)."""
    people = _people().with_columns((pl.col("imd_decile") + 1).floordiv(2).alias("imd_quintile"))
    row = effect_estimates(people, [_effect(true_value=None, expected_value=None)]).row(0, named=True)
    assert row["value"] is not None and row["true_value"] is None
    assert row["verdict"] is None  # not "missed": there is nothing to compare with


def test_recompute_follows_rounded_counts() -> None:
    people = _people().with_columns((pl.col("imd_decile") + 1).floordiv(2).alias("imd_quintile"))
    exact = effect_estimates(people, [_effect()])
    rounded = exact.with_columns(pl.lit(30).alias("numerator"), pl.lit(95).alias("reference_numerator"))
    again = recompute_effects(rounded).row(0, named=True)
    assert again["value"] == pytest.approx(100 * (30 / 120 - 95 / 200))


def test_words() -> None:
    assert summary_sentence({"found": 3}, total=3, people="20,000") == (
        "The book's methods find 3 of the 3 inequalities built into this synthetic population at its size "
        "(20,000 people)."
    )
    assert summary_sentence({"found": 1, "chance": 2, "missed": 1}, total=5, people="100") == (
        "The book's methods find 1 of the 5 inequalities built into this synthetic population at its size "
        "(100 people); 2 are not distinguishable from chance at this size, 1 is missed (the interval for all the "
        "inequalities together excludes the value built in) and 1 cannot be judged at this size (no published estimate, or no built-in value "
        "in a population this small)."
    )
    assert summary_sentence({"found": 2, "no difference": 1}, total=3, people="100") == (
        "The book's methods find 3 of the 3 inequalities built into this synthetic population at its size "
        "(100 people), one of them built in as no difference and found as none."
    )
    row = {"value": 1.3613, "lower_ci": 1.32, "upper_ci": 1.403, "scale": "ratio", "per": 100.0}
    assert estimate_text(row) == "1.36 (1.32 to 1.40), ratio"
    row = {"value": -13.02, "lower_ci": -14.8, "upper_ci": -11.23, "scale": "difference", "per": 100.0}
    assert estimate_text(row) == "-13.0 (-14.8 to -11.2), difference in percentage points"


def test_a_reference_group_below_the_minimum_size_publishes_nothing_of_it(page_of) -> None:
    """The auditor found a reference group of 35-40 people published (issue 11, rule 6): a row
    compares two groups, and publish checks only the first."""
    small = _effect(id="small_ref", reference_sql="imd_quintile = 5 AND age < 12")
    page = _with_truth(page_of, [_effect(), small])
    row = page.estimates.frame.filter(pl.col("id") == "small_ref").row(0, named=True)
    exact = page.exact.filter(pl.col("id") == "small_ref").row(0, named=True)
    assert (
        page.config.disclosure.suppress_below
        <= exact["reference_denominator"]
        < page.config.disclosure.min_group
    )
    assert row["reference_denominator"] is None and row["reference_numerator"] is None
    assert row["value"] is None and row["verdict"] is None
    assert page.estimates.frame.filter(pl.col("id") == "statin_imd")["value"].is_not_null().all()
