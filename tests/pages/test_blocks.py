"""What the access and experience pages share: the measure class, the sentence comparing groups
with intervals and multiplicity (``_groups.compare``), and a checker that reads every number a
sentence states and finds it in the published frame it comes from (used by the chapters' tests).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from healthgap.config import Dimension, Measure
from healthgap.descriptive.access import median_ranks
from healthgap.pages._blocks import EVENTS_PER, ShownMeasure
from healthgap.pages._groups import compare, ends, group_name
from healthgap.text import format_number

NUMBER = re.compile(r"(?<![\w.-])\d[\d,]*(?:\.\d+)?")
#: Fixed phrases whose digits are not statistics.
FIXED = (
    "simultaneous 95% intervals",
    "95% confidence interval",
    "95% CI",
    f"per {EVENTS_PER:,}",
    "18 weeks (126 days)",
)


def stated_numbers(sentence: str, names: Iterable[str]) -> list[str]:
    """The numbers a sentence states, without those inside group names and fixed phrases."""
    text = sentence
    for phrase in (*FIXED, *sorted(names, key=len, reverse=True)):
        text = text.replace(phrase, " ")
    return NUMBER.findall(text)


def formatted(values: Iterable[float | None], dp: int) -> set[str]:
    return {format_number(v, dp=dp) for v in values if v is not None and math.isfinite(v)}


#: The interval and verdict of the difference between the two ends of an ordered dimension.
DIFFERENCE = re.compile(
    r"a difference of [\d.,]+[^(]*? \(95% CI (-?[\d.,]+) to (-?[\d.,]+)[^)]*\), "
    r"(which could be chance|larger than chance would readily explain)"
)


def check_difference(
    sentence: str,
    frame: pl.DataFrame,
    dim: Dimension,
    *,
    column: str = "value",
    lower: str = "lower_ci",
    upper: str = "upper_ci",
    dp: int = 1,
    scale: str = "difference",
    standardised: tuple[str, str, str] | None = None,
) -> str:
    """The two ends' difference as stated (its 95% interval and the verdict 'could be chance'
    exactly when that interval holds 0), recomputed here: each end's standard error from its
    interval (on the log scale for ratios, from the ratio's own interval when standardised),
    |a - b| +/- z sqrt(se_a^2 + se_b^2). Returns the sentence without the interval (for
    :func:`check_sentence`'s other numbers)."""
    found = DIFFERENCE.search(sentence)
    pair = ends(dim)
    if pair is None:
        assert found is None, sentence
        return sentence
    if found is None:
        assert "overlap" not in sentence, sentence
        return sentence
    rows = frame.filter(pl.col("dimension") == dim.name)
    a, b = (rows.filter(pl.col("level") == level).row(0, named=True) for level in pair)
    z = norm.ppf(0.975)
    se = []
    for r in (a, b):
        if standardised is not None:
            lo, hi = r[standardised[1]], r[standardised[2]]
            se.append(r[column] * math.log(hi / lo) / (2 * z))
        elif scale == "ratio":
            se.append(r[column] * math.log(r[upper] / r[lower]) / (2 * z))
        else:
            se.append((r[upper] - r[lower]) / (2 * z))
    gap, spread = abs(a[column] - b[column]), z * math.hypot(*se)
    low, high = gap - spread, gap + spread
    shown = [
        format_number(v, dp=dp).lstrip("-") if abs(v) < 0.5 * 10**-dp else format_number(v, dp=dp)
        for v in (low, high)
    ]
    assert [found.group(1), found.group(2)] == shown, (shown, sentence)
    assert (found.group(3) == "which could be chance") == (low <= 0), sentence
    return sentence[: found.start()] + sentence[found.end() :]


def check_sentence(
    sentence: str,
    frame: pl.DataFrame,
    dim: Dimension,
    *,
    column: str = "value",
    lower: str = "lower_ci",
    upper: str = "upper_ci",
    dp: int = 1,
    fixed: Iterable[str] = (),
    scale: str = "difference",
    standardised: tuple[str, str, str] | None = None,
) -> int:
    """Every number ``sentence`` states is a published value, an interval limit, the difference of
    two published values, or a count of groups; the groups it names highest and lowest are; the
    difference between the two ends of an ordered dimension has the interval and verdict
    :func:`check_difference` recomputes (``scale``, ``standardised``: how).

    ``fixed``: phrases of the sentence whose digits are not statistics (a label such as "aged 40+").
    Returns the number of numbers checked.
    """
    sentence = check_difference(
        sentence,
        frame,
        dim,
        column=column,
        lower=lower,
        upper=upper,
        dp=dp,
        scale=scale,
        standardised=standardised,
    )
    rows = frame.filter(pl.col("dimension") == dim.name)
    names = [group_name(dim, str(x)) for x in rows["level"]]
    values = [v for v in rows[column].to_list() if v is not None and math.isfinite(v)]
    allowed = formatted([*values, *rows[lower].to_list(), *rows[upper].to_list()], dp)
    allowed |= formatted([abs(a - b) for a, b in itertools.combinations(values, 2)], dp)
    allowed |= {str(k) for k in range(2, rows.height + 1)}
    stated = stated_numbers(sentence, [*names, *fixed])
    for n in stated:
        assert n in allowed, (n, sentence)
    published = rows.filter(pl.col(column).is_not_null())
    for end, pick in (("highest", published[column].max()), ("lowest", published[column].min())):
        found = re.search(rf"{end} (?:in|among) (.+?) \(", sentence)
        if found and published.height:
            level = [lvl for lvl, name in zip(rows["level"], names, strict=True) if name == found.group(1)]
            assert level, (found.group(1), sentence)
            value = published.filter(pl.col("level") == level[0])[column].item()
            assert format_number(value, dp=dp) == format_number(pick, dp=dp), (end, sentence)
    return len(stated)


def check_chance(sentence: str, frame: pl.DataFrame, dim: Dimension, *, column: str = "value") -> None:
    """The verdict on the highest group agrees with independent bounds: Bonferroni's intervals
    (wider than the max statistic's) separating it from every other group imply it stands apart;
    an unadjusted 95% interval (narrower) that does not means it could be chance."""
    rows = frame.filter(
        (pl.col("dimension") == dim.name) & pl.col(column).is_not_null() & pl.col("lower_ci").is_not_null()
    )
    k = rows.height
    if k < 3 or "allowing for" not in sentence:
        return
    se = ((rows["upper_ci"] - rows["lower_ci"]) / (2 * norm.ppf(0.975))).to_numpy()
    v = rows[column].to_numpy()
    top = int(np.argmax(v))
    gaps = np.delete(v[top] - v, top)
    spread = np.sqrt(se[top] ** 2 + np.delete(se, top) ** 2)
    m = k * (k - 1) / 2
    bonferroni = bool(np.all(gaps - norm.ppf(1 - 0.025 / m) * spread > 0))
    unadjusted = bool(np.all(gaps - norm.ppf(0.975) * spread > 0))
    name = group_name(dim, str(rows["level"][top]))
    says_apart = re.search(rf"{re.escape(name)} (?:is|are) above every other", sentence) is not None
    if bonferroni:
        assert says_apart, sentence
    if not unadjusted:
        assert not says_apart and f"{name} could be highest by chance" in sentence, sentence


# -- the shared pieces -----------------------------------------------------------------------------

DEPRIVATION = Dimension(
    name="imd_quintile",
    column="imd_quintile",
    label="Deprivation",
    noun="deprivation fifth",
    order=("1", "2", "3", "4", "5"),
    labels={"1": "1 (most deprived)", "2": "2", "3": "3", "4": "4", "5": "5 (least deprived)"},
    reference="5",
    ordered=True,
    disadvantaged="first",
)
PLACE = Dimension(
    name="locality",
    column="locality",
    label="Locality",
    noun="locality",
    order=("A", "B", "C", "D"),
    labels={"A": "Avon", "B": "Bure", "C": "Cam", "D": "Dee"},
    reference="A",
)


def frame_of(dim: Dimension, values: Sequence[float], se: Sequence[float]) -> pl.DataFrame:
    z = norm.ppf(0.975)
    return pl.DataFrame(
        {
            "dimension": dim.name,
            "level": list(dim.order),
            "value": values,
            "lower_ci": [v - z * s for v, s in zip(values, se, strict=True)],
            "upper_ci": [v + z * s for v, s in zip(values, se, strict=True)],
        }
    )


def test_compare_the_ends_with_their_intervals():
    text = compare(
        frame_of(DEPRIVATION, [40.0, 35.0, 33.0, 32.0, 30.0], [1.0] * 5), DEPRIVATION, subject="the share"
    )
    assert text == (
        "The share was 40.0% (95% CI 38.0% to 42.0%) in the most deprived fifth against 30.0% (95% CI 28.0% "
        "to 32.0%) in the least deprived fifth, a difference of 10.0 percentage points (the two intervals do "
        "not overlap)."
    )
    close = compare(
        frame_of(DEPRIVATION, [31.0, 35.0, 33.0, 32.0, 30.0], [1.0] * 5), DEPRIVATION, subject="the share"
    )
    assert close.endswith(" (the two intervals overlap, so it could be chance).")
    hidden = frame_of(DEPRIVATION, [40.0, 35.0, 33.0, 32.0, 30.0], [1.0] * 5).with_columns(
        pl.when(pl.col("level") == "1").then(None).otherwise(pl.col("value")).alias("value")
    )
    assert "cannot be compared" in compare(hidden, DEPRIVATION, subject="the share")


def test_an_extreme_picked_from_many_groups_is_said_to_be_chance_unless_it_stands_apart():
    # Avon's lead over Bure is 2.5 standard errors of the gap: clear alone, chance among 6 gaps
    se = 1.0
    gap = 2.5 * math.sqrt(2) * se
    frame = frame_of(PLACE, [50.0 + gap, 50.0, 49.0, 48.0], [se] * 4)
    text = compare(frame, PLACE, subject="the share")
    assert text.startswith("The share was highest in Avon (53.5%, 95% CI 51.6% to 55.5%) and lowest in Dee")
    assert "; allowing for the 4 groups compared at once (simultaneous 95% intervals)" in text
    assert "Avon could be highest by chance (it is not clearly above Bure)" in text
    check_sentence(text, frame, PLACE)
    check_chance(text, frame, PLACE)
    apart = frame_of(PLACE, [70.0, 50.0, 49.0, 30.0], [se] * 4)
    text = compare(apart, PLACE, subject="the share")
    assert "Avon is above every other locality, and Dee is below every other locality." in text
    check_sentence(text, apart, PLACE)
    check_chance(text, apart, PLACE)


def test_two_published_groups_of_many_are_said_to_be_the_only_ones():
    frame = frame_of(PLACE, [70.0, 50.0, 49.0, 30.0], [1.0] * 4).with_columns(
        pl.when(pl.col("level").is_in(["B", "C"])).then(None).otherwise(pl.col("value")).alias("value")
    )
    text = compare(frame, PLACE, subject="the share")
    assert "; only these two of the 4 groups are published (the others are too small to publish), and" in text
    check_sentence(text, frame, PLACE)
    assert "the difference between them is larger than chance would readily explain" in text


def test_the_checker_fails_on_a_number_not_in_the_frame():
    frame = frame_of(PLACE, [70.0, 50.0, 49.0, 30.0], [1.0] * 4)
    text = compare(frame, PLACE, subject="the share")
    with pytest.raises(AssertionError):
        check_sentence(text.replace("70.0%", "71.0%"), frame, PLACE)
    with pytest.raises(AssertionError):  # the lowest named is not the lowest
        check_sentence(text.replace("lowest in Dee", "lowest in Cam"), frame, PLACE)


def ranks(n: int) -> tuple[int | None, int | None]:
    r, s = median_ranks(n)
    return pl.select(r.alias("r"), s.alias("s")).row(0)


def test_median_ranks_match_campbell_and_gardner():
    """Statistics with Confidence (Campbell and Gardner): r = n/2 - 1.96 sqrt(n)/2, s = 1 + n/2 +
    1.96 sqrt(n)/2, to the nearest whole number; computed here by hand with numpy."""
    for n in (6, 10, 40, 101, 1000):
        r, s = ranks(n)
        half = 1.959964 * np.sqrt(n) / 2
        assert (r, s) == (int(np.floor(n / 2 - half + 0.5)), int(np.floor(n / 2 + 1 + half + 0.5)))
    assert ranks(40) == (14, 27)  # the book's worked example size
    assert ranks(3) == (None, None)  # too few values
    # coverage: the order-statistic interval covers the true median about 95% of the time
    rng = np.random.default_rng(5)
    n = 60
    r, s = ranks(n)
    draws = np.sort(rng.exponential(10, size=(4000, n)), axis=1)
    truth = 10 * np.log(2)
    covered = np.mean((draws[:, r - 1] <= truth) & (truth <= draws[:, s - 1]))
    assert 0.93 < covered < 0.98


def test_one_measure_class_for_access_and_experience():
    from healthgap.pages.access_treatment import AccessMeasure
    from healthgap.pages.experience import ExperienceMeasure

    assert AccessMeasure is ExperienceMeasure is ShownMeasure
    wait = Measure("w", "Days to treatment", "experience", "days", standard_days=126)
    first = Measure("f", "Days to first appointment", "experience", "days")
    assert ShownMeasure(wait).standard_text == "18 weeks (126 days)"
    assert ShownMeasure(first).standard is None and ShownMeasure(first).standard_text == ""
    referral = Measure("r", "Cardiology referral", "access", "flag")
    missed = ShownMeasure(Measure("m", "Missed appointments", "experience", "count"), among=referral)
    assert missed.per == "per 1,000 people with cardiology referral"
