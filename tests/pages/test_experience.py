"""The experience page: its measures, indicators, response counts and notes, on small frames.

Every number is checked against an independent calculation on the loaded person table; present,
absent and suppressed data; every sentence non-empty.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from healthgap.data import load
from healthgap.descriptive.access import BROAD_AGE
from healthgap.pages._blocks import markup_of
from healthgap.pages._contrast import compare
from healthgap.pages._groups import group_name
from healthgap.pages.experience import (
    BROAD_AGE_NOTE,
    NO_EXPERIENCE,
    SCOPE,
    WITHHELD,
    ExperiencePage,
    response_sentence,
)
from healthgap.text import format_number
from tests.conftest import build_people
from tests.pages.test_blocks import check_chance, check_sentence, stated_numbers

OFF = {"enabled": False, "reason": "unit tests on tiny frames"}


def experienced(n: int = 4000, seed: int = 3) -> pl.DataFrame:
    """Hospital cancellations only among the referred; a survey answer for some people aged 16+,
    answered less often in deprived areas (non-random missingness)."""
    people = build_people(n, seed=seed)
    rng = np.random.default_rng(seed)
    ref = people.get_column("cardiology_referral").to_numpy()
    cancel = np.where(ref, rng.poisson(0.4, n), 0)
    answers = rng.random(n) < 0.25 + 0.05 * people.get_column("imd_decile").to_numpy() / 2
    good = rng.random(n) < 0.75
    adult = people.get_column("age").to_numpy() >= 16
    return people.with_columns(
        pl.Series("provider_cancellations", cancel).cast(pl.Int64),
        pl.when(pl.Series(adult & answers)).then(pl.Series(good)).alias("gp_experience_good"),
    )


def loaded(page: ExperiencePage) -> pl.DataFrame:
    """The person table as the page loaded it (deprivation fifths derived)."""
    return page.book.frame


def test_measures_and_indicators_come_from_the_config(page_of):
    page = page_of(ExperiencePage, experienced(), disclosure=OFF)
    # the survey flag is the experience indicator's numerator: shown once, as the indicator; waits
    # and missed appointments are experience measures
    assert [e.measure.name for e in page.measures] == [
        "days_to_first_outpatient",
        "missed_appointments",
        "provider_cancellations",
    ]
    cancelled = page.measures[-1]
    assert cancelled.among is not None and cancelled.among.name == "cardiology_referral"
    assert [i.name for i in page.shown_indicators] == ["gp_experience"]
    # every dimension present, not deprivation only
    assert set(page.tables["provider_cancellations"].frame["dimension"].unique()) == {
        d.name for d in page.dimensions
    }
    assert len(page.dimensions) >= 4


def test_cancellations_per_1000_referred_against_an_independent_count(page_of):
    page = page_of(ExperiencePage, experienced(), disclosure=OFF)
    people = loaded(page)
    table = page.tables["provider_cancellations"]
    for q in ("1", "5"):
        group = people.filter(pl.col("cardiology_referral") & (pl.col("imd_quintile").cast(pl.String) == q))
        row = table.row(dimension="imd_quintile", level=q)
        assert row["events"] == group["provider_cancellations"].sum()
        assert row["population"] == group.height
        assert row["value"] == pytest.approx(1000 * group["provider_cancellations"].sum() / group.height)
    text = page.measure_text(page.measures[-1])
    most = people.filter(pl.col("cardiology_referral") & (pl.col("imd_quintile") == 1))
    least = people.filter(pl.col("cardiology_referral") & (pl.col("imd_quintile") == 5))
    a = 1000 * most["provider_cancellations"].sum() / most.height
    b = 1000 * least["provider_cancellations"].sum() / least.height
    assert re.search(
        rf"The number of appointments cancelled by the hospital per 1,000 people with cardiology referral was "
        rf"{a:,.1f} \(95% CI [\d,.]+ to [\d,.]+\) in the most deprived fifth against {b:,.1f} \(95% CI [\d,.]+ "
        rf"to [\d,.]+\) in the least deprived fifth, a difference of {abs(a - b):,.1f} per 1,000 people with "
        "cardiology referral.",
        text,
    )
    # one comparison per dimension
    assert text.count("The number of appointments cancelled") == len(page.dimensions)


def test_waits_give_the_median_with_an_interval_and_no_18_weeks_without_a_standard(page_of):
    page = page_of(ExperiencePage, experienced(), disclosure=OFF)
    people = loaded(page).filter(pl.col("days_to_first_outpatient").is_not_null())
    wait = page.measures[0]
    assert wait.measure.name == "days_to_first_outpatient" and wait.standard is None
    table = page.tables[wait.measure.name]
    assert "over_standard" not in table.frame.columns
    women = np.sort(people.filter(pl.col("sex") == "female")["days_to_first_outpatient"].to_numpy())
    row = table.row(dimension="sex", level="female")
    n = women.size
    r = int(np.floor(n / 2 - 1.959964 * np.sqrt(n) / 2 + 0.5))
    s = int(np.floor(n / 2 + 1 + 1.959964 * np.sqrt(n) / 2 + 0.5))
    assert row["median_days"] == round(float(np.median(women)))
    assert (row["median_lower"], row["median_upper"]) == (women[r - 1], women[s - 1])
    text = page.measure_text(wait)
    assert "18 weeks" not in text and "126" not in text
    assert "The median days to first outpatient appointment was" in text


def test_survey_indicator_and_who_answered_against_independent_counts(page_of):
    page = page_of(ExperiencePage, experienced(), disclosure=OFF)
    people = loaded(page).filter(pl.col("age") >= 16)
    answered = people.filter(pl.col("gp_experience_good").is_not_null())
    row = page.indicators.row(dimension="sex", level="female", measure="gp_experience")
    women = answered.filter(pl.col("sex") == "female")
    assert row["denominator"] == women.height
    assert row["numerator"] == women["gp_experience_good"].sum()
    assert row["excluded"] == people.filter(pl.col("sex") == "female").height - women.height
    assert row["value"] == pytest.approx(100 * women["gp_experience_good"].mean())
    ind = page.shown_indicators[0]
    text = page.indicator_text(ind)
    share = 100 * answered.height / people.height
    assert (
        f"For good overall experience of the GP practice (survey respondents), {answered.height:,} of the "
        f"{people.height:,} people it applies to have a value ({share:.1f}%); "
        f"{people.height - answered.height:,} have none and are left out."
    ) in text
    by_q = (
        people.group_by("imd_quintile")
        .agg((100 * pl.col("gp_experience_good").is_not_null().mean()).alias("s"))
        .sort("s")
    )
    lo, hi = by_q.row(0, named=True), by_q.row(-1, named=True)
    assert f"({hi['s']:.1f}%) and lowest" in text and f"({lo['s']:.1f}%), so the people who answered" in text
    assert text.count("Good overall experience of the GP practice (survey respondents) was") == len(
        page.dimensions
    )


def test_response_sentence_wording():
    from healthgap.config import Dimension

    dim = Dimension(
        name="imd_quintile",
        column="imd_quintile",
        label="Deprivation",
        noun="deprivation fifth",
        order=("1", "2"),
        labels={"1": "1 (most deprived)", "2": "2"},
        reference="2",
        ordered=True,
        disadvantaged="first",
    )
    rows = pl.DataFrame({"level": ["1", "2"], "denominator": [20, 60], "excluded": [80, 40]})
    text = response_sentence({"denominator": 80, "excluded": 120}, rows, dim, label="Survey", most=7)
    assert text.startswith(
        "For survey, 80 of the 200 people it applies to have a value (40.0%); 120 have none and are left out."
    )
    assert "(60.0%) and lowest" in text and "(20.0%), so the people who answered" in text
    suppressed = response_sentence({"denominator": 80, "excluded": None}, rows, dim, label="Survey", most=7)
    # disclosure rule 7: a suppressed count is never given a range
    assert suppressed == f"For survey, how many people have a value is not published ({WITHHELD})."
    assert "between" not in suppressed and "7" not in suppressed
    assert response_sentence({"denominator": 80, "excluded": 0}, rows, dim, label="S", most=7) == (
        "For s, all 80 people it applies to have a value."
    )
    assert response_sentence(None, rows, dim, label="S", most=7) == ""


def test_tables_by_every_group_name_dimensions_by_label_in_config_order(page_of):
    page = page_of(ExperiencePage, experienced(), disclosure=OFF)
    # the tables by every group name each dimension by its label, in the config's order
    table = page._sorted_indicators(page.indicators).frame
    assert table["dimension"].unique(maintain_order=True).to_list() == [d.name for d in page.dimensions]
    shown = html.unescape(markup_of(page.indicator_table()))
    assert "imd_quintile" not in shown and "age_band" not in shown and "Deprivation" in shown


def test_body_present_has_sections_figures_and_the_scope_note(page_of):
    page = page_of(ExperiencePage, experienced(), disclosure=OFF)
    body = html.unescape(markup_of(page.body()))
    assert "## Appointments cancelled by the hospital {#sec-experience-provider-cancellations}" in body
    assert "## Experience indicators {#sec-experience-indicators}" in body
    assert "fig-experience-provider-cancellations" in body and "tbl-experience-indicators" in body
    assert SCOPE in body and NO_EXPERIENCE not in body
    assert page.intro_text.startswith(
        "This chapter shows how people experience their care: days to first outpatient appointment, missed "
        "appointments, appointments cancelled by the hospital and good overall experience of the GP practice "
        "(survey respondents), by deprivation fifth"
    )
    assert page.intro_text.count("per 1,000") == 2  # the unit, stated once
    for e in page.measures:  # no empty inline value
        assert page.measure_text(e).strip()


def test_a_measure_withheld_in_every_compared_group_has_no_figure_but_one_note(page_of):
    """About 120 people referred: every deprivation fifth's waits are withheld (fewer than 50 people
    with a value), while the sexes' are published. Nothing can be drawn by deprivation fifth, so
    there is no figure, no caption, no reference to it and no 'Show the numbers' of an empty chart,
    and one plain note says why; the table of every group stays (any-dataset scan: empty chart)."""
    page = page_of(ExperiencePage, experienced())
    waits = next(e for e in page.measures if e.measure.name == "days_to_first_outpatient")
    rows = page.tables[waits.measure.name].frame
    compared = rows.filter(pl.col("dimension") == "imd_quintile")
    assert compared.height == 5 and compared["median_days"].is_null().all()
    assert rows.filter(pl.col("dimension") == "sex")["median_days"].is_not_null().all()
    assert page.withheld_everywhere(waits) and page.measure_figure(waits) is None
    expected = (
        "There is no figure of the median days to first outpatient appointment by deprivation fifth: it is "
        "withheld for every deprivation fifth to protect confidentiality."
    )
    assert page.withheld_note(waits) == expected
    section = "\n\n".join(str(markup_of(b)) for b in page.measure_blocks(waits))
    assert "fig-experience-days-to-first-outpatient" not in section and "Show the numbers" not in section
    assert section.count(expected) == 1 and 'class="hg-skip' in section
    assert "#tbl-experience-days-to-first-outpatient" in section  # the table of every group stays
    # a measure with published values in the compared groups keeps its figure and has no note
    drawn = page_of(ExperiencePage, experienced(), disclosure=OFF)
    first = next(e for e in drawn.measures if e.measure.name == "days_to_first_outpatient")
    assert not drawn.withheld_everywhere(first) and drawn.withheld_note(first) == ""
    blocks = "\n\n".join(str(markup_of(b)) for b in drawn.measure_blocks(first))
    assert "#fig-experience-days-to-first-outpatient" in blocks and "There is no figure" not in blocks


def test_body_absent_is_one_plain_note(page_of):
    waits = ["days_to_first_outpatient", "missed_appointments"]
    page = page_of(ExperiencePage, build_people(300).drop(waits), disclosure=OFF)  # no experience column
    assert page.measures == [] and page.shown_indicators == []
    body = html.unescape(markup_of(page.body()))
    assert NO_EXPERIENCE in body and SCOPE not in body and "##" not in body
    assert re.sub(r"<[^>]+>", "", body).strip() == NO_EXPERIENCE  # one sentence and nothing else


def test_suppressed_groups_are_said_not_compared(page_of):
    page = page_of(
        ExperiencePage, experienced(400), disclosure={"suppress_below": 200, "rounding": 5, "enabled": True}
    )
    text = page.measure_text(page.measures[0])
    assert text.strip()
    assert re.search(r"cannot be compared|not published for any|published only", text)
    body = html.unescape(markup_of(page.body()))
    assert body.strip() and SCOPE in body


# -- every sentence against the numbers it states ---------------------------------------------------


def check_every_sentence(page: ExperiencePage) -> int:
    """Each comparison sentence of the chapter, read number by number against its published frame."""
    checked = 0
    for e in page.measures:
        frame = page.tables[e.measure.name].frame
        for dim in page.dimensions:
            text = page.measure_sentences(e, dim)
            assert text.strip()
            if e.measure.type == "days":
                median, _, share = text.partition(" The share of people whose")
                checked += check_sentence(
                    median, frame, dim, column="median_days", lower="median_lower", upper="median_upper", dp=0
                )
                if e.standard is not None:
                    checked += check_sentence("The share of people whose" + share, frame, dim)
            else:
                scale = "ratio" if e.measure.type == "count" else "difference"
                checked += check_sentence(text, frame, dim, scale=scale)
                check_chance(text, frame, dim)
    if page.indicators is not None:
        for ind in page.shown_indicators:
            frame = page.indicators.where(pl.col("measure") == ind.name).frame
            whole = page.indicator_text(ind)
            for dim in page.dimensions:
                text = compare(frame, dim, subject=ind.label)
                assert text in whole  # the chapter's sentence, read against its frame
                checked += check_sentence(text, frame, dim, fixed=[ind.label])
                check_chance(text, frame, dim)
            # who answered: the published totals and the compared groups' shares with a value
            totals = page.totals.row(measure=ind.name)
            answered, left = totals["denominator"], totals["excluded"]
            rows = frame.filter(pl.col("dimension") == page.compared.name)
            shares = 100 * rows["denominator"] / (rows["denominator"] + rows["excluded"])
            allowed = {format_number(v, style="integer") for v in (answered, left, answered + left)}
            allowed |= {
                format_number(v, dp=1) for v in [100 * answered / (answered + left), *shares.drop_nulls()]
            }
            names = [group_name(page.compared, str(x)) for x in rows["level"]]
            for n in stated_numbers(page.response_text(ind), [ind.label.lower(), *names]):
                assert n in allowed, (n, page.response_text(ind))
                checked += 1
    return checked


def test_every_sentence_states_published_numbers_on_a_small_frame(page_of):
    page = page_of(ExperiencePage, experienced(), disclosure={"suppress_below": 8, "rounding": 5})
    assert check_every_sentence(page) > 50


@pytest.fixture(scope="module")
def full_default(tmp_path_factory) -> Path:
    """The book's default config over the full default synthetic population, generated here
    (``healthgap.synth.write`` with its default size and seed, as ``make data``), so that the test
    runs wherever the population has not been generated (CI)."""
    from healthgap import synth

    base = tmp_path_factory.mktemp("experience-full-default")
    synth.write(base / "synthetic")
    shutil.copyfile(Path(__file__).resolve().parents[2] / "data" / "default.yml", base / "default.yml")
    return base / "default.yml"


def test_missed_appointments_by_broad_age_group_against_numpy(full_default, tmp_path):
    """Missed appointments per 1,000 referred by age on the book's default data (the full
    synthetic population: the 20,000-person sample refers too few people under 40), in broad age
    groups in the measure's own table (five-year bands of the referred are too small to publish,
    and a second table of broad groups would give their hidden counts back by subtraction),
    recomputed with numpy from the people (Byar's interval by hand from the published counts),
    and the sentence's verdict: the injected excess under 40 stands apart from both other groups."""
    from healthgap.config import load_config

    config = load_config(full_default)
    people = load(config).collect()
    assert people.height == 250_000
    page = ExperiencePage.for_frame(config, people, downloads=tmp_path)
    missed = next(e for e in page.measures if e.measure.name == "missed_appointments")
    frame = page.tables["missed_appointments"].frame.filter(pl.col("dimension") == "age_band")
    assert frame["level"].to_list() == list(BROAD_AGE.order)  # no five-year bands beside them
    age = people["age"].to_numpy()
    referred = people["cardiology_referral"].fill_null(False).to_numpy()
    events = people["missed_appointments"].fill_null(0).to_numpy()
    has = people["missed_appointments"].is_not_null().to_numpy() & referred
    z = sps.norm.ppf(0.975)
    for level, lo, hi in (("under 40", 0, 40), ("40-74", 40, 75), ("75+", 75, 999)):
        mask = has & (age >= lo) & (age < hi)
        row = frame.filter(pl.col("level") == level).row(0, named=True)
        assert abs(row["events"] - events[mask].sum()) <= 2.5 and abs(row["population"] - mask.sum()) <= 2.5
        o, n = row["events"], row["population"]
        byar_lo = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3 / n * 1000
        byar_hi = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3 / n * 1000
        assert (row["value"], row["lower_ci"], row["upper_ci"]) == pytest.approx(
            (o / n * 1000, byar_lo, byar_hi), rel=1e-9
        )
    dim = next(d for d in page.dimensions if d.name == "age_band")
    text = page.measure_sentences(missed, dim)
    assert "was highest among people aged under 40 (" in text
    assert "people aged under 40 are above every other age band" in text
    check_sentence(text, frame, dim, scale="ratio")
    check_chance(text, frame, dim)
    assert page.age_note(missed) == BROAD_AGE_NOTE.format(who="people with cardiology referral")
    # said once on the page: the other count of the referred (cancellations) does not repeat it
    others = [e for e in page.measures if e.name != missed.name and page.age_rows(e) is not None]
    assert others and all(page.age_note(e) == "" for e in others)
    assert "Ages are compared in broad groups" in html.unescape(markup_of(page.body()))
    days = next(e for e in page.measures if e.measure.type == "days")
    assert page.age_rows(days) is None and page.age_note(days) == ""


def test_every_sentence_states_published_numbers_on_the_default_data(default_config, tmp_path):
    page = ExperiencePage.for_frame(default_config, load(default_config).collect(), downloads=tmp_path)
    assert [e.measure.name for e in page.measures] == [
        "days_to_first_outpatient",
        "days_to_treatment",
        "missed_appointments",
        "provider_cancellations",
    ]
    assert page.measures[1].standard == 126 and page.measures[0].standard is None
    # treated within 18 weeks is the referral-to-treatment wait's share, not a second indicator
    assert [i.name for i in page.shown_indicators] == ["gp_experience"]
    assert check_every_sentence(page) > 90  # waits of groups under 50 people are withheld
