"""Round-5 reader's findings on Welcome, Where to act, Outcomes and Appendix F: one verdict per
finding, no caption without a table, notes and units true on the data."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from healthgap.config import Dimension
from healthgap.descriptive.headlines import Finding
from healthgap.pages.outcomes import OutcomesPage, excess_sentence
from healthgap.pages.sentences import COUNT_LESS_PRECISE, COUNT_NOT_VERDICT
from healthgap.pages.welcome import outcome_ratio_text
from tests.conftest import build_people
from tests.pages.conftest import html_of

REPO = Path(__file__).resolve().parents[2]

EDUCATION = Dimension(
    "education",
    "Education",
    ("1", "2", "3", "4"),
    {"1": "Some high school", "2": "High school diploma", "3": "Some college", "4": "College degree"},
    "4",
    noun="education level",
    ordered=True,
    disadvantaged="first",
    column="education",
)
ALONG_EDUCATION = {"dimension": EDUCATION, "most_level": "1", "least_level": "4"}


@pytest.fixture
def outcomes(page_of) -> OutcomesPage:
    return page_of(OutcomesPage, build_people(3000, seed=3))


def _sex_row(page: OutcomesPage, **values: float) -> tuple[pl.DataFrame, str]:
    frame = page.excess.frame.filter(pl.col("measure") == "cvd_admissions", pl.col("dimension") == "sex")
    return frame.with_columns(pl.lit(v).alias(k) for k, v in values.items()), str(frame.item(0, "level"))


# -- item 1: a clear ratio and a count whose interval includes 0 give one verdict ----------------


def test_welcome_clear_ratio_and_uncertain_count_give_one_verdict():
    """other_trust Welcome finding 5: "2.04 times (95% CI 1.19 to 3.50) ... about 20 more (95% CI -5 to
    45); counted in numbers, the difference could be chance, so the finding is not certain": two
    verdicts. The ratio carries it; the count is worded as less precise, never as chance."""
    base = {"outcome": "chd_10y", "ratio": 2.04, "lower": 1.19, "upper": 3.50, **ALONG_EDUCATION}
    unsure = {"excess": 20.0, "excess_lower": -4.0, "excess_upper": 45.0, "strata": "age band and sex"}
    said = outcome_ratio_text(Finding("outcome_ratio", base | unsure | {"counted": "people"}))
    assert "could be chance" not in said and "not certain" not in said
    assert said.endswith(f"(95% CI -5 to 45; {COUNT_LESS_PRECISE}).")
    # an interval shown from 0 ("0 to 60") includes no difference as the reader reads it
    zero = unsure | {"excess": 30.0, "excess_lower": 1.0, "excess_upper": 60.0}
    assert outcome_ratio_text(Finding("outcome_ratio", base | zero)).endswith(
        f"(95% CI 0 to 60; {COUNT_LESS_PRECISE})."
    )
    sure = unsure | {"excess_lower": 6.0}
    said = outcome_ratio_text(Finding("outcome_ratio", base | sure | {"counted": "people"}))
    assert said.endswith("(95% CI 5 to 45).")
    # a ratio that could be chance with a count whose interval excludes 0: the ratio's verdict stands
    unclear = base | {"lower": 0.9} | sure
    said = outcome_ratio_text(Finding("outcome_ratio", unclear))
    assert "could be due to chance" in said and said.endswith(f"(95% CI 5 to 45; {COUNT_NOT_VERDICT}).")


def test_outcomes_clear_ratio_and_uncertain_count_give_one_verdict(outcomes):
    """other_trust Outcomes 6.1: "rate ratio 2.29 (1.39 to 3.78) stays clear ... 30 more (95% CI 0 to 60);
    counted in numbers, the difference could be chance": the same words as the Welcome page."""
    dim, outcome = outcomes.caps.dimension("sex"), outcomes.outcome("cvd_admissions")
    wide, level = _sex_row(
        outcomes, excess=30.0, excess_lower=1.0, excess_upper=60.0, numerator=200, expected=170.0
    )
    said = excess_sentence(wide, dim, outcome, level, base=5, strata="age band")
    assert "could be chance" not in said and said.endswith(f"(95% CI 0 to 60; {COUNT_LESS_PRECISE}).")
    unclear = excess_sentence(wide, dim, outcome, level, base=5, strata="age band", verdict=False)
    assert unclear.endswith("(95% CI 0 to 60).")
    clear, _ = _sex_row(
        outcomes, excess=30.0, excess_lower=10.0, excess_upper=60.0, numerator=200, expected=170.0
    )
    assert excess_sentence(clear, dim, outcome, level, base=5, strata="age band").endswith(
        "(95% CI 10 to 60)."
    )
    said = excess_sentence(clear, dim, outcome, level, base=5, strata="age band", verdict=False)
    assert said.endswith(f"(95% CI 10 to 60; {COUNT_NOT_VERDICT}).")


# -- item 4: a count too small to give after rounding is not "about as many as expected" --------


def test_outcomes_count_too_small_is_not_about_as_many(outcomes):
    """default Outcomes 6.2: Asian CVD deaths "rate ratio 1.33" but "about as many CVD deaths as
    expected (95% CI -5 to 5)" with 10 observed and 10.0 expected: 0 by construction of the
    rounding. Too few observed and expected: the number is not given."""
    dim, outcome = outcomes.caps.dimension("sex"), outcomes.outcome("cvd_admissions")
    small, level = _sex_row(
        outcomes, excess=0.0, excess_lower=-6.0, excess_upper=6.0, numerator=10, expected=10.0
    )
    said = excess_sentence(small, dim, outcome, level, base=5, strata="age band", verdict=False)
    assert "about as many" not in said and "too small to give their difference as a count" in said
    # an interval from the rounding alone (-5 to 5), whatever the counts
    rounding, _ = _sex_row(
        outcomes, excess=0.4, excess_lower=-5.2, excess_upper=5.1, numerator=40, expected=39.6
    )
    said = excess_sentence(rounding, dim, outcome, level, base=5, strata="age band", verdict=False)
    assert "too small to give" in said
    # enough events: the number is given, "about as many" when it rounds to 0
    enough, _ = _sex_row(
        outcomes, excess=0.4, excess_lower=-20.0, excess_upper=21.0, numerator=90, expected=89.6
    )
    said = excess_sentence(enough, dim, outcome, level, base=5, strata="age band", verdict=False)
    assert "about as many" in said and "too small" not in said


def test_welcome_count_too_small_is_not_given():
    base = {"outcome": "chd_10y", "ratio": 2.5, "lower": 1.2, "upper": 5.0, **ALONG_EDUCATION}
    small = {"excess": 6.0, "excess_lower": 1.0, "excess_upper": 12.0, "observed": 15, "expected": 9.0}
    said = outcome_ratio_text(Finding("outcome_ratio", base | small))
    assert "In numbers" not in said and said.endswith("(95% CI 1.20 to 5.00).")


# -- item 3: the Outcomes chapter makes no causal claim the data cannot support -----------------


def test_outcomes_intro_makes_no_causal_claim():
    """Both books, Outcomes intro: "Inequalities in disease, diagnosis and treatment end in
    inequalities in outcomes" is a causal claim the data cannot support (the Welcome says the
    findings "do not on their own say why")."""
    chapter = (REPO / "chapters" / "outcomes.qmd").read_text(encoding="utf-8")
    prose = " ".join(
        line for line in chapter.splitlines() if line and not line.startswith(("#", "`", "page."))
    )
    assert "end in inequalities" not in prose
    assert "does not on its own say why" in " ".join(prose.split())


# -- item 8: Appendix F reads without a double negative, in the book's unit ---------------------


def test_truth_check_found_is_worded_without_a_double_negative():
    chapter = " ".join((REPO / "chapters" / "truth-check.qmd").read_text(encoding="utf-8").split())
    assert "excludes no difference" not in chapter
    assert "lies on the same side of no difference as the built-in value" in chapter


def test_truth_check_rates_are_per_1000_as_in_outcomes(synthetic_dir):
    """Appendix F gave premature CVD death "per 100,000 people under 75" while Outcomes gives it per
    1,000: a ratio is the same in any unit, so the description takes the book's unit; a difference
    keeps its own (its value is in that unit)."""
    from healthgap.pages.outcomes import PER_TEXT
    from healthgap.pages.truth_check import in_book_unit

    effect = {
        "description": "CVD deaths of people under 75 per 100,000 people under 75, age-standardised.",
        "scale": "ratio",
        "per": 100000.0,
    }
    assert (
        in_book_unit(effect)
        == f"CVD deaths of people under 75 per {PER_TEXT} people under 75, age-standardised."
    )
    difference = effect | {"scale": "difference"}
    assert in_book_unit(difference) == effect["description"]
    # the synthetic population's own truth (generated by the session fixture, as in CI)
    truth = json.loads((synthetic_dir / "synthetic" / "truth.json").read_text(encoding="utf-8"))["effects"]
    said = [in_book_unit(e) for e in truth if e.get("scale") == "ratio"]
    assert said and not any("per 100,000" in d for d in said)


# -- item 5: no caption without a table ------------------------------------------------------------


def _render_float(markup: str, label: str) -> str:
    """The HTML the built-in renderer makes of a ``tbl-`` cell holding ``markup`` under a tbl-cap."""
    from healthgap.render.crossref import is_skip_note

    blocks = [{"t": "RawBlock", "c": ["html", markup]}]
    return "skipped" if is_skip_note(blocks) else f"numbered {label}"


def test_an_empty_section_is_one_sentence_without_a_caption(page_of):
    """default 1.3 / other 1.3, 1.4: "Table 1.2: Gaps in access ..." over no table, only a verbless
    fragment ("Cardiology referral, compared against need in ...") or "No gap ... can be compared":
    the section's cell now holds a note alone, which the renderer shows with no caption or number."""
    from healthgap.pages.where_to_act import WhereToActPage

    people = build_people(600, seed=4)
    page = page_of(WhereToActPage, people, data={"truth": None})
    empty = html_of(page.section_table("nothing-here"))
    assert _render_float(empty, "tbl-gaps-nothing-here") == "skipped"
    assert empty.count("<p>") == 1 and "No gap in nothing-here can be compared" in empty
    # cardiology referral is per head of everyone: not ranked, so the access section has no table
    assert "cardiology_referral" in people.columns
    assert "cardiology_referral" not in page.exact["measure"].to_list()
    access = html_of(page.section_table("access"))
    assert _render_float(access, "tbl-gaps-access") == "skipped"
    assert access.count("<p>") == 1 and "<p>No gap in access is ranked on this page: " in access
    table = html_of(page.section_table("treatment"))
    assert "<table" in table and _render_float(table, "tbl-gaps-treatment") == "numbered tbl-gaps-treatment"


# -- item 6: the small-group note is true of rows that show nothing --------------------------------


def test_small_group_note_does_not_promise_a_size():
    """default Table 1.1: "Groups of fewer than 50 people show only their size", but the
    anticoagulant rows of four ethnic groups are [c] in every column and the table has no size
    column at all: the note says they show no counts or rates, at most their size."""
    from healthgap.tables import reason_notes

    notes = reason_notes(["fewer than 50 people in the group"], labels={"rate": "Rate"}, columns=["rate"])
    assert notes == [
        "Groups of fewer than 50 people show no counts or rates within them, at most their size."
    ]
    assert not any("only their size" in n for n in notes)


# -- item 7: the headline statin gap names its method ----------------------------------------------


def test_statin_gap_names_its_standardisation():
    """default Welcome/Where to act 64.2% against 77.1% (gap 12.9) and Access 4.3 64.2% against 77.4%
    (gap 13.2): different methods. The Welcome and Where to act sentences say theirs in words."""
    from healthgap.pages.welcome import treatment_gap_text
    from healthgap.pages.where_to_act import gap_sentence

    values = {
        "indicator": None,
        "most": 64.2,
        "least": 77.1,
        "gap": 12.9,
        "gap_lower": 11.0,
        "gap_upper": 14.8,
        "standardised": True,
        "strata": "age band and sex",
        **ALONG_EDUCATION,
    }
    said = treatment_gap_text(Finding("treatment_gap", values))
    assert (
        "(indirectly standardised to the mix of ages and sexes in the group itself; a gap of 12.9 percentage points"
        in said
    )
    row = {
        "label": "Statin",
        "statistic": "standardised",
        "counted": "people",
        "rate": 64.2,
        "reference_rate": 77.1,
        "multiplier": 100.0,
        "excess": -610.0,
        "excess_lower": -700.0,
        "excess_upper": -520.0,
        "simultaneous_lower": -780.0,
        "simultaneous_upper": -440.0,
    }
    said = gap_sentence(row, group="the most deprived fifth", reference="the least deprived fifth")
    assert (
        "for each age band and sex (indirectly standardised to the mix of ages and sexes in the group itself);"
        in said
    )


# -- item 2: recorded prevalence is not "worse off"; with true status, rank on the true gap ------


def _under_recorded(n: int = 8000, *, diabetes_there: float = 0.10) -> pl.DataFrame:
    """Hypertension truly 40% in the two most deprived deciles and 20% elsewhere, recorded for 45%
    of the truly affected there and 90% elsewhere: about the same recorded rate (18%), a large
    true gap. Diabetes truly and recorded 10% there and 5% elsewhere: a smaller gap in people."""
    import numpy as np

    people = build_people(n, seed=31)
    rng = np.random.default_rng(33)
    deprived = people.get_column("imd_decile").to_numpy() <= 2
    truly = rng.random(n) < np.where(deprived, 0.4, 0.2)
    recorded = truly & (rng.random(n) < np.where(deprived, 0.45, 0.9))
    diabetes = rng.random(n) < np.where(deprived, diabetes_there, 0.05)
    return people.with_columns(
        pl.Series("true_hypertension", truly),
        pl.Series("hypertension", recorded),
        pl.Series("true_diabetes", diabetes),
        pl.Series("diabetes", diabetes),
    )


def test_conditions_are_ranked_on_their_true_gap(page_of):
    """default 1.1 ranked recorded diabetes and CHD as "the most people worse off" while 1.6 says a
    higher recorded rate "may mean more disease, better recording, or both", and the largest gap
    of Table 1.5 (hypertension in the most deprived fifth: true +2,000 against recorded -80) was
    not in the text. With true status, a condition is ranked on its true gap, which leads its
    item; its simultaneous interval allows for all the gaps of the page."""
    from healthgap.pages.where_to_act import WhereToActPage, about

    page = page_of(WhereToActPage, _under_recorded(), data={"truth": None})
    truth = page.truth_gaps
    assert truth is not None
    recorded = page.gaps.row(measure="hypertension", dimension="imd_quintile", level="1")
    true = truth.row(measure="hypertension", dimension="imd_quintile", level="1")
    assert not recorded["simultaneous_excludes_null"] and true["simultaneous_excludes_null"]
    conditions = [r for r in page.top_rows if r["section"] == "condition"]
    hyper = [r for r in conditions if r["measure"] == "hypertension" and r["level"] == "1"]
    assert hyper, "the true hypertension gap is ranked although the recorded one is not clear"
    assert all(r["true_excess"] is not None for r in conditions)
    # ranked on the true gap: most people truly worse off first
    keys = [r["true_worse_off"] if r["section"] == "condition" else r["worse_off"] for r in page.top_rows]
    assert keys == sorted(keys, reverse=True)
    # the simultaneous interval is widened for every gap of the page, not only the true ones
    row = hyper[0]
    assert row["true_comparisons"] == page.comparisons > true["comparisons"]
    assert (row["true_simultaneous_upper"] - row["true_simultaneous_lower"]) > (
        true["simultaneous_upper"] - true["simultaneous_lower"]
    )
    top = html_of(page.top())
    item = next(
        line
        for line in top.split("\n")
        if "Hypertension (true prevalence" in line and "most deprived" in line
    )
    assert f"about {about(true['excess'])} more people than at that rate" in item
    assert item.index("(true prevalence") < item.index("Recorded on a GP register")
    # and the text of the recorded conditions says the recorded gap understates it
    note = html_of(page.unrecorded_note())
    assert "hypertension in the most deprived fifth (recorded: " in note


def test_without_truth_recorded_prevalence_is_not_ranked_as_harm(page_of):
    from healthgap.pages.where_to_act import RECORDED_NOT_RANKED, WhereToActPage

    people = _under_recorded(diabetes_there=0.25)
    people = people.drop([c for c in people.columns if c.startswith("true_")])
    page = page_of(WhereToActPage, people, data={"truth": None})
    assert page.truth_gaps is None
    clear = page.gaps.frame.filter(
        (pl.col("section") == "condition")
        & pl.col("rank").is_not_null()
        & pl.col("simultaneous_excludes_null")
    )
    assert clear.height > 0, "recorded condition gaps that would have been ranked"
    assert all(r["section"] != "condition" for r in page.top_rows)
    assert RECORDED_NOT_RANKED in (page.left_out() or "")
    assert "recorded conditions" not in page.coverage().split(". ")[0]


def test_nothing_ranked_does_not_deny_clear_recorded_gaps(page_of):
    """other_trust 1.1 after ranking no recorded condition: "None of the 70 gaps compared is large
    enough to tell from chance" would deny the clear recorded diabetes gaps; the sentence names
    the sections ranked."""
    from healthgap.pages.where_to_act import NOTHING_FOUND, WhereToActPage

    people = _under_recorded(2000, diabetes_there=0.5)
    people = people.drop([c for c in people.columns if c.startswith("true_")])
    people = people.with_columns(
        pl.lit(True).alias(c) for c in ("statin", "anticoagulant", "antihypertensive")
    )
    page = page_of(WhereToActPage, people, data={"truth": None})
    clear = page.gaps.frame.filter((pl.col("section") == "condition") & pl.col("simultaneous_excludes_null"))
    assert clear.height > 0
    top = html_of(page.top())
    if page.top_rows:  # pragma: no cover - a chance gap in treatment or outcomes
        pytest.skip("a gap outside the conditions stands out")
    # round 6: NOTHING_FOUND scoped to numbers of people or events (a {counted} field)
    assert not top.startswith(NOTHING_FOUND.split("{m}")[0] + f"{page.comparisons} gaps")
    assert "gaps compared is large enough" not in top
    assert top.startswith("None of the gaps in ") and "recorded conditions" not in top.split(".")[0]
