"""The "Where to act" page: the ranked gaps, their sentences and tables, on small frames."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from healthgap.pages.where_to_act import (
    KEPT_IN,
    LEFT_OUT,
    NOTHING,
    NOTHING_FOUND,
    RECORDED_NOT_RANKED,
    UNRECORDED,
    WhereToActPage,
    about,
    gap_sentence,
    rate_text,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of


def _unequal(n: int = 3000) -> pl.DataFrame:
    """People whose statin prescribing is much lower in the most deprived fifth."""
    people = build_people(n, seed=3)
    rng = np.random.default_rng(5)
    deprived = people.get_column("imd_decile").to_numpy() <= 2
    statin = np.where(deprived, rng.random(n) < 0.05, rng.random(n) < 0.6)
    chd = rng.random(n) < 0.5  # half are eligible
    return people.with_columns(pl.Series("statin", statin), pl.Series("chd", chd))


def _bare() -> pl.DataFrame:
    """People with the equity dimensions and no measure at all."""
    return build_people(60).select("person_id", "age", "sex", "ethnicity", "imd_decile", "locality")


def test_about_rounds_like_the_tables() -> None:
    assert about(1234) == "1,200"
    assert about(87) == "85"
    assert about(345) == "350"
    assert about(-12) == "10"
    assert about(3, base=5) == "5"
    assert about(None) == "not available"


def test_rate_text_per_multiplier() -> None:
    assert rate_text(12.345, 100) == "12.3%"
    assert rate_text(45.61, 1000) == "45.6 per 1,000 people"


def _row(**over):
    row = {
        "label": "Statin",
        "counted": "people",
        "statistic": "proportion",
        "rate": 60.0,
        "reference_rate": 70.0,
        "multiplier": 100.0,
        "excess": -1234.0,
        "excess_lower": -1500.0,
        "excess_upper": -1000.0,
        "simultaneous_lower": -1700.0,
        "simultaneous_upper": -800.0,
        "comparisons": 40,
    }
    row.update(over)
    return row


def test_gap_sentence_fewer_gives_magnitudes() -> None:
    s = gap_sentence(_row(), group="people aged 40-44", reference="people aged 50-54")
    assert s == (
        "**Statin** among people aged 40-44: 60.0% against 70.0% among people aged 50-54 "
        "(not standardised: the groups differ by age itself); about 1,200 fewer "
        "people than at that rate (95% CI 1,000 to 1,500; 800 to 1,700 allowing for all the gaps compared)."
    )


def test_gap_sentence_standardised_more_events() -> None:
    s = gap_sentence(
        _row(
            statistic="standardised",
            counted="events",
            excess=56.0,
            excess_lower=20.0,
            excess_upper=90.0,
            simultaneous_lower=-3.0,
            simultaneous_upper=120.0,
            multiplier=1000.0,
        ),
        group="men",
        reference="women",
        strata="age band",
    )
    assert s.startswith("**Statin** among men: ")
    # round 5, item 7: the method named in words
    assert (
        "expected at the rates of women for each age band (indirectly standardised to the mix of ages in the group itself);"
        in s
    )
    assert "about 55 more events" in s and "(95% CI 20 to 90; -5 to 120 allowing" in s


def test_present_top_sentences_follow_published_numbers(page_of) -> None:
    page = page_of(WhereToActPage, _unequal())
    assert page.has_gaps and page.comparisons == page.exact.get_column("excess").is_not_null().sum()
    assert page.exact.get_column("reference_denominator").min() >= 50
    rows = page.top_rows
    assert rows, "the statin gap in the most deprived fifth is large enough to be found"
    first = rows[0]
    assert (first["measure"], first["dimension"], first["level"]) == ("statin", "imd_quintile", "1")
    published = page.gaps.frame.filter(
        (pl.col("measure") == "statin") & (pl.col("dimension") == "imd_quintile") & (pl.col("level") == "1")
    ).row(0, named=True)
    # the sentence's numbers are the published (rounded-count) ones, recomputed from the counts
    # (expected counts and variances rounded to the base as the counts are)
    assert published["numerator"] % 5 == 0 and published["denominator"] % 5 == 0
    assert published["expected"] % 5 == 0 and published["expected_variance"] % 5 == 0
    assert published["statistic"] == "standardised"
    expected = published["numerator"] - published["expected"]
    assert published["excess"] == pytest.approx(expected)
    top = html_of(page.top())
    assert f"about {about(expected)} fewer people" in top
    assert "** in the most deprived fifth: " in top
    assert "at the rates of the least deprived fifth for each age band and sex" in top
    assert "allowing for all the gaps compared" in top
    assert page.intro().endswith(f"{page.comparisons} gaps in all.")


def test_inline_values_never_empty(page_of) -> None:
    for people in (_unequal(600), _bare()):
        page = page_of(WhereToActPage, people, target=False)
        for value in (page.intro(), page.method(), html_of(page.top())):
            assert isinstance(value, str) and value.strip()


def test_absent_data_gives_one_plain_note(page_of) -> None:
    page = page_of(WhereToActPage, _bare(), target=False)
    assert not page.has_gaps
    assert page.intro() == NOTHING and html_of(page.top()) == NOTHING
    assert page.section_table("access") is None


def test_section_tables(page_of) -> None:
    page = page_of(WhereToActPage, _unequal(600))
    markup = html_of(page.section_table("treatment"))
    assert 'id="gaps-treatment"' in markup and "Gaps in treatment" in markup
    assert not (page.book.downloads / "where-to-act" / "gaps-treatment.csv").exists()
    csv = page.book.downloads / "where-to-act" / "gaps-treatment-data.csv"
    assert csv.is_file() and "gaps-treatment-data.csv" in markup
    header = csv.read_text(encoding="utf-8").splitlines()
    columns = next(line for line in header if line.startswith("section,")).split(",")
    # numbers once, no text column repeating them (no "'-1,500" formula-neutralised cells)
    assert not {"rate_text", "people_text", "interval_text", "simultaneous_text", "group"} & set(columns)
    assert {"excess", "expected", "numerator"} <= set(columns)
    # round 5: one plain sentence as a note (the float is then shown without a caption)
    empty = html_of(page.section_table("nothing-here"))
    assert "<p>No gap in nothing-here can be compared between groups on this dataset.</p>" in empty
    assert 'class="hg-skip' in empty


def test_no_gap_found_says_so(page_of) -> None:
    page = page_of(WhereToActPage, build_people(200))
    if page.top_rows:  # pragma: no cover - random data with a chance gap
        pytest.skip("a chance gap was found")
    if page.truth_gaps is None:  # round 5: recorded conditions are not ranked, so not "none of the gaps"
        assert html_of(page.top()).startswith("None of the gaps in ")
    else:
        counted = "people or events" if (page.exact.get_column("counted") == "events").any() else "people"
        assert html_of(page.top()).startswith(NOTHING_FOUND.format(m=page.comparisons, counted=counted))


def test_suppressed_rows_publish_no_number(page_of) -> None:
    page = page_of(WhereToActPage, _unequal(600), disclosure={"suppress_below": 11, "rounding": 10})
    frame = page.gaps.frame
    hidden = frame.filter(pl.col("suppressed"))
    assert hidden.height > 0
    assert hidden.get_column("excess").null_count() == hidden.height
    assert hidden.get_column("rank").null_count() == hidden.height
    shown = (
        set(map(tuple, pl.DataFrame(page.top_rows).select("measure", "level").rows()))
        if page.top_rows
        else set()
    )
    assert not shown & set(map(tuple, hidden.select("measure", "level").rows()))
    # no number of people in a sentence is finer than the rounding
    for n in re.findall(r"about ([\d,]+)", html_of(page.top())):
        assert int(n.replace(",", "")) % 10 == 0


def test_words_come_from_the_config(page_of) -> None:
    page = page_of(
        WhereToActPage,
        _unequal(600).drop("imd_decile").with_columns(pl.col("locality").alias("region")),
        equity={"dimensions": [{"name": "region", "label": "Region", "noun": "region"}]},
    )
    intro = page.intro()
    assert "region" in intro and "deprivation" not in intro.lower()


def _sexed(n: int = 3000) -> pl.DataFrame:
    """Hypertension far more common in men (a biological difference), statins lower in the
    most deprived fifth."""
    people = _unequal(n)
    rng = np.random.default_rng(11)
    male = people.get_column("sex").to_numpy() == "male"
    return people.with_columns(
        pl.Series("hypertension", np.where(male, rng.random(n) < 0.6, rng.random(n) < 0.1))
    )


#: round 6: without true disease status every recorded condition gap is left out, said once
#: (RECORDED_NOT_RANKED), so the sentence on sex names outcomes alone
_SEX_LEFT = "in outcomes"


def test_sex_prevalence_gaps_are_shown_but_not_ranked(page_of) -> None:
    page = page_of(WhereToActPage, _sexed())
    sex_condition = page.gaps.frame.filter(
        (pl.col("dimension") == "sex") & (pl.col("section") == "condition")
    )
    assert sex_condition.height > 0, "the sex gap in hypertension stays in the tables"
    row = sex_condition.filter(pl.col("measure") == "hypertension").row(0, named=True)
    # the largest gap by far, yet not ranked nor named among the top gaps
    assert row["worse_off"] > 100 and row["simultaneous_excludes_null"]
    assert row["rank"] is None and not row["ranked"]
    assert all(r["dimension"] != "sex" or r["section"] != "condition" for r in page.top_rows)
    assert page.top_rows and page.top_rows[0]["measure"] == "statin"
    assert "Hypertension" in html_of(page.section_table("condition"))
    top = html_of(page.top())
    assert (
        page.left_out().startswith(LEFT_OUT.format(labels="sex", what=_SEX_LEFT)) and page.left_out() in top
    )
    assert page.truth_gaps is None and RECORDED_NOT_RANKED in page.left_out()
    # one rule: by sex, outcomes are left out too, treatment is ranked (round 4)
    kept = KEPT_IN.format(labels="sex", what="in treatment").split(" are ranked")
    assert kept[0] in page.left_out() and f" are ranked{kept[1]}" in page.left_out()
    sex = page.gaps.frame.filter(pl.col("dimension") == "sex")
    assert not sex.filter(pl.col("section").is_in(["condition", "outcome"])).get_column("ranked").any()
    assert sex.filter(pl.col("section") == "treatment").get_column("ranked").all()
    # nor are the gaps of people with no ethnic group recorded (a gap in the record)
    assert UNRECORDED.format(who="people with no ethnic group recorded") in page.left_out()
    unrecorded = page.gaps.frame.filter(pl.col("level") == "Not stated")
    assert unrecorded.height > 0 and not unrecorded.get_column("ranked").any()
    assert unrecorded.get_column("rank").is_null().all()
    # other dimensions' condition gaps are still ranked (but for "Not stated")
    others = page.gaps.frame.filter(
        (pl.col("dimension") != "sex") & pl.col("worse_off").is_not_null() & (pl.col("level") != "Not stated")
    )
    assert others.get_column("ranked").all()


def test_no_sex_dimension_leaves_nothing_out(page_of) -> None:
    page = page_of(
        WhereToActPage,
        _sexed(600),
        equity={
            "dimensions": [
                {
                    "name": "imd_quintile",
                    "label": "Deprivation",
                    "noun": "deprivation fifth",
                    "order": ["1", "2", "3", "4", "5"],
                    "reference": "5",
                    "ordered": True,
                    "disadvantaged": "first",
                }
            ]
        },
    )
    # nothing is left out as biological or unrecorded; only gaps too small to compare (round 4)
    said = page.left_out() or ""
    assert "differences by" not in said and "no ethnic group" not in said
    assert said == "" or (said.startswith("The ranking also leaves out") and "expected" in said)


def _under_recorded(n: int = 6000) -> pl.DataFrame:
    """Hypertension truly as common among people with no ethnic group recorded as in the White
    group, but recorded for 40% of them against 90%."""
    people = build_people(n, seed=21)
    rng = np.random.default_rng(22)
    ethnicity = np.where(rng.random(n) < 0.3, "Not stated", "White")
    truly = rng.random(n) < 0.3
    recorded = truly & (rng.random(n) < np.where(ethnicity == "Not stated", 0.4, 0.9))
    return people.with_columns(
        pl.Series("ethnicity", ethnicity),
        pl.Series("true_hypertension", truly),
        pl.Series("hypertension", recorded),
    )


def test_under_recording_is_said_where_the_truth_shows_it(page_of) -> None:
    page = page_of(WhereToActPage, _under_recorded(), data={"truth": None})
    note = page.unrecorded_note()
    assert note is not None
    text = html_of(note)
    recorded = page.gaps.row(measure="hypertension", dimension="ethnicity", level="Not stated")
    truly = page.unrecorded_truth.row(measure="hypertension", level="Not stated")
    assert recorded["excess_upper"] < 0 and truly["excess_lower"] < 0 < truly["excess_upper"]
    assert text.startswith(
        f"Among people with no ethnic group recorded, hypertension is recorded for about "
        f"{about(recorded['excess'])} fewer people than expected at the rates of the White group"
    )
    assert "their low recorded rate is under-recording, not less disease." in text
    # without the true status, nothing is said
    bare = page_of(WhereToActPage, _under_recorded().drop(_truth_columns()), data={"truth": None})
    assert bare.unrecorded_note() is None


def _truth_columns():
    import polars.selectors as cs

    return cs.starts_with("true_")


def test_rate_text_names_its_denominator() -> None:
    """Issue 15 round 4, item 7: a rate per person under 75 or per person referred says so."""
    assert rate_text(2.06, 1000, "people under 75") == "2.1 per 1,000 people under 75"
    assert rate_text(12.0, 100, "people under 75") == "12.0%"


def test_round4_page_says_what_it_covers_and_shows_conditions_once(page_of) -> None:
    """Issue 15 round 4, items 2, 5, 10: the page says what the ranking covers and where the rest is
    (referral against need, waits in days); the recorded conditions table is shown once, with the
    true gaps beside the recorded ones when the data has truth."""
    from healthgap.pages.where_to_act import COVERS, TRUTH_COLUMNS

    people = _under_recorded()
    rng = np.random.default_rng(2)
    referred = rng.random(people.height) < 0.1
    people = people.with_columns(
        pl.Series("cardiology_referral", referred),
        pl.when(pl.Series(referred))
        .then(30)
        .otherwise(None)
        .cast(pl.Int64)
        .alias("days_to_first_outpatient"),
    )
    page = page_of(WhereToActPage, people, data={"truth": None})
    said = page.coverage()
    assert said.startswith(COVERS.split("{")[0])
    assert "cardiology referral, compared against need in @sec-access" in said
    assert "waits in days, in @sec-experience" in said
    assert "cardiology_referral" not in page.exact.get_column("measure").to_list()
    access = html_of(page.section_table("access"))
    assert "compared against need" in access
    condition = html_of(page.section_table("condition"))
    assert page.truth_gaps is not None  # recorded beside true: one table, not two
    assert TRUTH_COLUMNS["true_rate_text"] in condition
    assert condition.count("<table") == 1


def test_an_indicator_is_labelled_by_the_columns_the_data_has(page_of) -> None:
    """Without PAD, stroke/TIA or CKD columns the statin indicator's eligibility rests on CHD and
    diabetes: its gaps are labelled so (as the access chapter labels it), in the frame, the
    table and the download, not with the profile's label naming conditions the data lacks."""
    from healthgap.pages.access_treatment import AccessTreatmentPage

    people = _unequal().drop("pad", "stroke_tia", "ckd")
    page = page_of(WhereToActPage, people)
    wanted = "Statin prescribed (eligibility from coronary heart disease and diabetes only)"
    statin = page.gaps.frame.filter(pl.col("measure") == "statin")
    assert not statin.is_empty()
    assert set(statin.get_column("label")) == {wanted}
    access = page_of(AccessTreatmentPage, people)
    assert access.indicator_labels["statin"] == wanted
    table = html_of(page.section_table("treatment"))
    assert wanted in table and "PAD" not in table
    # the full profile label stays on data that has every column it names
    full = page_of(WhereToActPage, _unequal())
    labels = set(full.gaps.frame.filter(pl.col("measure") == "statin").get_column("label"))
    assert labels == {"Statin prescribed (CHD, stroke/TIA or PAD; or diabetes or CKD aged 40+)"}
