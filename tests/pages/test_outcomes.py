"""The outcomes page: rates published once from exact counts, the sentences, and where GP practices are compared."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.config import DisclosureSettings
from healthgap.descriptive.outcomes import PER, outcome_rates
from healthgap.descriptive.prevalence import rates, recompute_rates
from healthgap.disclosure import primary_reason, publish, published_counts
from healthgap.pages._blocks import markup_of
from healthgap.pages.outcomes import (
    DOWNLOAD_DROP,
    FIGURE_COLUMNS,
    NO_OUTCOMES_INTRO,
    OutcomesPage,
    ratio_sentence,
    standard_sentence,
)
from tests.conftest import build_people
from tests.pages.conftest import html_of

SETTINGS = DisclosureSettings()
SMALL = primary_reason(SETTINGS)


def _r5(x: int) -> int:
    """A count as published: 1-7 left for suppression, others rounded to 5 (halves up)."""
    return x if x < 8 else int(5 * ((x + 2.5) // 5))


@pytest.fixture
def page(page_of) -> OutcomesPage:
    return page_of(OutcomesPage, build_people(3000, seed=3))


# -- rates: exact in the analysis, simple statistics from the published counts ----------------


def test_rates_are_published_exactly_as_rates_published_them_before(page):
    """The same numbers as when rates() computed its simple statistics from published counts itself
    (each outcome at its own scale: admissions per 1,000, deaths as a percentage), with the counts
    the published group counts withhold withheld first (one count, one pattern on every page)."""
    dims = [d.name for d in page.dimensions]
    parts = []
    for o in page.outcomes:
        exact = rates(page.people, page.config, measures=[o.name], dimensions=dims, multiplier=o.multiplier)
        rounded = published_counts(exact, ["events", "population"], settings=page.config.disclosure)
        parts.append(recompute_rates(rounded, multiplier=o.multiplier))  # what rates() returned before
    keys = ["dimension", "measure", "level"]
    before = pl.concat(parts).join(page.exact.select(*keys, "measure_label", "unit"), on=keys)
    before = page._masked(before)
    old = publish(before, counts=["events", "population"], settings=page.config.disclosure).frame
    assert page.rates is not None
    assert_frame_equal(
        page.rates.frame.sort(keys),
        old.select(page.rates.columns).sort(keys),
        check_exact=False,
        rel_tol=1e-9,
    )
    figure = page.figure_data("cvd_admissions").frame
    old_figure = publish(
        before.filter(pl.col("measure") == "cvd_admissions").select(*FIGURE_COLUMNS, "suppression_reason"),
        counts=["events", "population"],
        by=["dimension"],
        settings=page.config.disclosure,
    ).frame
    assert_frame_equal(figure.sort(keys), old_figure.sort(keys), check_exact=False, rel_tol=1e-9)


def test_outcome_rates_are_exact_and_crude_rates_come_from_published_counts(page):
    exact = page.exact.filter(pl.col("dimension") == "sex", pl.col("measure") == "cvd_admissions")
    people = page.book.frame
    for row in exact.iter_rows(named=True):
        group = people.filter(pl.col("sex") == row["level"])
        assert row["events"] == group["cvd_admissions"].sum() and row["population"] == group.height
        assert row["crude"] == pytest.approx(PER * row["events"] / row["population"], rel=1e-12)
    assert page.rates is not None
    shown = page.rates.frame.filter(pl.col("crude").is_not_null())
    assert "variance" not in page.rates.columns
    scale = {"per 1,000 people": PER, "% of people": 100}
    for row in shown.iter_rows(named=True):
        assert row["events"] % 5 == 0 and row["population"] % 5 == 0
        per = scale[row["unit"]]
        assert row["crude"] == pytest.approx(per * row["events"] / row["population"], rel=1e-12)


def test_recompute_rates_keeps_the_dsr_and_moves_its_limits_to_the_published_total(page):
    exact = outcome_rates(page.people, page.config, outcomes=["cvd_admissions"], dimensions=["sex"])
    same = recompute_rates(exact, multiplier=PER)  # counts not rounded: the exact limits back
    assert_frame_equal(same, exact.drop("variance", "design_effect"), check_exact=False, rel_tol=1e-9)
    rounded = exact.with_columns(pl.col("events") + 1)
    moved = recompute_rates(rounded, multiplier=PER)
    assert moved["value"].to_list() == exact["value"].to_list()
    assert moved["rate_ratio"].to_list() == exact["rate_ratio"].to_list()
    assert (moved["upper_ci"] != exact["upper_ci"]).all()


def test_recompute_rates_takes_crude_rows_ratios_from_the_published_counts(page):
    """Age bands are not standardised: their rates and rate ratios are simple statistics (rule 8)."""
    crude = rates(
        page.people, page.config, measures=["cvd_admissions"], dimensions=["age_band"], multiplier=PER
    )
    shown = recompute_rates(published_counts(crude, ["events", "population"]), multiplier=PER)
    rows = shown.filter(pl.col("events") >= 8)
    assert (rows["events"] % 5 == 0).all()
    assert rows["value"].to_list() == pytest.approx((PER * rows["events"] / rows["population"]).to_list())
    ref = shown.filter(pl.col("is_reference")).row(0, named=True)
    assert rows["rate_ratio"].to_list() == pytest.approx((rows["crude"] / ref["crude"]).to_list())


# -- sentences and figures ---------------------------------------------------------------------


def text_of(obj: object) -> str:
    """The Markdown or HTML of a section, with the raw HTML of figures left out (notes kept)."""

    def raw(m: re.Match[str]) -> str:
        return m.group(1).strip() if "hg-skip" in m.group(1) else "[HTML]"

    return re.sub(r"```+\{=html\}(.*?)```+", raw, markup_of(obj), flags=re.S)


EDUCATION = {
    "name": "education",
    "column": "education",
    "label": "Education level",
    "noun": "education level",
    "order": ["1", "2", "3", "4"],
    "labels": {
        "1": "Some high school",
        "2": "High school diploma",
        "3": "Some college",
        "4": "College degree",
    },
    "reference": "4",
    "ordered": True,
    "disadvantaged": "first",
}
CHD_10Y = {
    "name": "chd_10y",
    "label": "Coronary heart disease within ten years",
    "kind": "outcome",
    "type": "flag",
    "period": "within ten years",
    "timing": "follow-up",
}


def cohort(n: int = 3000, seed: int = 4) -> pl.DataFrame:
    """People aged 32-70 with an education level and a ten-year outcome; no deprivation, ethnicity or places."""
    rng = np.random.default_rng(seed + 1000)  # not build_people's stream: ages independent of sex
    people = build_people(n, seed=seed).drop(
        "imd_decile", "ethnicity", "lsoa", "locality", "gp_practice", "cvd_admissions", "cvd_death"
    )
    education = rng.integers(1, 5, n)
    return people.with_columns(
        pl.Series("age", rng.integers(32, 71, n)).cast(pl.Int64),
        pl.Series("education", education).cast(pl.String),
        pl.Series("chd_10y", rng.random(n) < 0.25 - 0.03 * education),
    )


def cohort_page(page_of, people: pl.DataFrame | None = None, **sections):
    return page_of(
        OutcomesPage,
        cohort() if people is None else people,
        target=False,
        equity={"dimensions": [EDUCATION, {"name": "sex", "reference": "female"}, "age_band"]},
        measures=[CHD_10Y],
        outcomes=["chd_10y"],
        model={"target": "chd_10y"},
        **sections,
    )


def test_sentence_names_the_group_furthest_from_the_reference(page, page_of):
    admissions = page.outcome("cvd_admissions")
    text = ratio_sentence(page.rates.frame, page.caps.dimension("sex"), admissions)
    # an interval including 1 states no ratio as a finding (issue 15 round 4, item 6)
    assert text.startswith(("After allowing for age, men had ", "After allowing for age, women had ")) or (
        "could not be told apart" in text and "could be due to chance" in text
    )
    assert "rate of CVD emergency admissions during the year" in text
    assert "rate ratio" in text and "95% CI" in text
    off = page_of(
        OutcomesPage, build_people(3000, seed=3), disclosure={"enabled": False, "reason": "unit test"}
    )
    text = ratio_sentence(off.rates.frame, off.caps.dimension("sex"), off.outcome("cvd_death"))
    assert re.match(  # a flag: a risk, worded around the outcome (not "were as likely to have CVD death")
        r"After allowing for age, the risk of CVD death during the year (was .* among (wo)?men (as|than) "
        r"among (wo)?men|among (wo)?men could not be told apart from that among (wo)?men) \(rate ratio",
        text,
    )


def test_ratio_sentence_of_a_flag_by_its_direction(page_of):
    page = cohort_page(page_of, disclosure={"enabled": False, "reason": "unit test"})
    outcome, dim = page.outcome("chd_10y"), page.caps.dimension("education")
    frame = page.rates.frame
    row = page.rates.row(dimension="education", level="1", measure="chd_10y")
    assert ratio_sentence(frame, dim, outcome).startswith(
        f"After allowing for age, the risk of coronary heart disease within ten years was {row['rate_ratio']:.1f} "
        "times as high in education level 1 (some high school) as in education level 4 (college degree) "
        f"(rate ratio {row['rate_ratio']:.2f}"
    )
    lower = frame.with_columns(  # every group's risk 30% below the reference's
        pl.when(pl.col("is_reference")).then(1.0).otherwise(0.7).alias("rate_ratio")
    )
    assert (
        "was 30% lower in education level 1 (some high school) than in education level 4"
        in ratio_sentence(lower, dim, outcome)
    )
    clear = [pl.lit(1.005).alias("rr_lower"), pl.lit(1.02).alias("rr_upper")]
    same = frame.with_columns(pl.lit(1.01).alias("rate_ratio"), *clear)
    assert "was about the same in education level" in ratio_sentence(same, dim, outcome)
    # an interval including 1: no ratio is stated as a finding (issue 15 round 4, item 6)
    unclear = frame.with_columns(
        pl.lit(1.33).alias("rate_ratio"), pl.lit(0.70).alias("rr_lower"), pl.lit(2.50).alias("rr_upper")
    )
    said = ratio_sentence(unclear, dim, outcome)
    assert "times as high" not in said and "could not be told apart" in said and "chance" in said


def test_sentences_name_each_dimension_but_age(page):
    text = page.sentences(page.outcome("cvd_admissions"))
    assert (
        text.count("After allowing for age, ") + text.count("Rate ratios of ") == 4
    )  # deprivation, ethnicity, sex, locality
    assert "aged" not in text


def test_a_flag_outcome_is_a_share_a_rare_one_and_a_count_per_1000(page, page_of):
    """A flag is a share of people (%), or per 1,000 people when fewer than 1% have it (CVD death in
    a year: 0.2% against 0.3% would hide a gap of 2 to 1); a count is events per 1,000 people."""
    people = page.book.frame
    assert people["cvd_death"].mean() < 0.01
    deaths = page.rates.row(dimension="sex", level="female", measure="cvd_death")
    admissions = page.rates.row(dimension="sex", level="female", measure="cvd_admissions")
    women = people.filter(pl.col("sex") == "female")
    assert deaths["unit"] == "per 1,000 people" and admissions["unit"] == "per 1,000 people"
    assert deaths["crude"] == pytest.approx(1000 * deaths["events"] / deaths["population"])
    death = page.outcome("cvd_death")
    assert death.rare and death.suffix == " per 1,000" and death.value_heading == "Rate per 1,000"
    text = text_of(page.sections())
    assert "CVD death per 1,000 people, age-standardised, by group" in text
    assert "Each person counts once (@fig-outcome-cvd-death)" in text
    share = cohort_page(page_of)  # a quarter have the outcome: a share of people
    ten = share.rates.row(dimension="sex", level="female", measure="chd_10y")
    assert ten["unit"] == "% of people" and not share.outcome("chd_10y").rare
    assert ten["crude"] == pytest.approx(100 * ten["events"] / ten["population"])
    assert admissions["crude"] == pytest.approx(1000 * admissions["events"] / admissions["population"])
    assert admissions["events"] == 5 * round(women["cvd_admissions"].sum() / 5)


def test_intro_and_standard_follow_the_outcomes_and_the_ages(page, page_of):
    assert page.intro == (
        "This chapter counts CVD emergency admissions during the year and CVD death during the year, and "
        "compares age-standardised rates per 1,000 people between groups. Rates are age-standardised to the "
        "2013 European Standard Population. Each outcome is recorded for everyone in the dataset."
    )
    assert page.standard == "Rates are age-standardised to the 2013 European Standard Population."
    ten = cohort_page(page_of)
    assert ten.intro == (
        "This chapter counts coronary heart disease within ten years, and compares age-standardised shares "
        "of people (%) between groups. Shares are age-standardised to the 2013 European Standard Population "
        "restricted to ages 30-74, the ages in this dataset. The outcome is recorded for everyone in the "
        "dataset."
    )
    assert standard_sentence(["85-89", "90+"]).endswith(
        "restricted to ages 85 and over, the ages in this dataset."
    )
    none = page_of(
        OutcomesPage, build_people(200).drop("cvd_admissions", "cvd_death"), model={"target": "chd"}
    )
    assert none.intro == NO_OUTCOMES_INTRO and none.intro.strip()
    assert none.missing_text.strip()


def test_a_cohort_is_standardised_over_its_own_ages_and_worded_by_its_dimension(page_of):
    page = cohort_page(page_of, disclosure={"enabled": False, "reason": "unit test"})
    row = page.rates.row(dimension="sex", level="female", measure="chd_10y")
    women = page.book.frame.filter(pl.col("sex") == "female")
    bands = (
        women.with_columns((pl.col("age") // 5).alias("band"))
        .group_by("band")
        .agg(pl.col("chd_10y").mean().alias("rate"))
    )
    weights = {
        6: 6500,
        7: 7000,
        8: 7000,
        9: 7000,
        10: 7000,
        11: 6500,
        12: 6000,
        13: 5500,
        14: 5000,
    }  # ESP2013
    expected = sum(weights[b] * r for b, r in bands.iter_rows()) / sum(weights.values())
    assert row["value"] == pytest.approx(100 * expected)  # ESP2013 30-74 renormalised, not all 19 bands
    assert row["lower_ci"] >= 0
    text = text_of(page.sections())
    assert text.startswith("## Coronary heart disease within ten years {#sec-outcomes-chd-10y}")
    assert "Coronary heart disease within ten years: share of people (%), age-standardised, by group" in text
    assert re.search(
        r"After allowing for age, the risk of coronary heart disease within ten years was \d\.\d times as high "
        r"in education level 1 \(some high school\) as in education level 4 \(college degree\)",
        text,
    )
    assert "admission" not in text and "death" not in text and "deprived" not in text


def test_a_group_with_an_empty_band_gets_no_rate_and_a_note(page_of):
    people = cohort().with_columns(  # nobody with education level 2 is in their thirties
        pl.when((pl.col("education") == "2") & (pl.col("age") < 40))
        .then(41)
        .otherwise(pl.col("age"))
        .alias("age")
    )
    page = cohort_page(page_of, people, disclosure={"enabled": False, "reason": "unit test"})
    row = page.rates.row(dimension="education", level="2", measure="chd_10y")
    assert row["value"] is None and row["rate_ratio"] is None
    text = text_of(page.sections())
    assert (
        "No age-standardised rate is given for education level 2 (high school diploma): it has nobody in one "
        "of the age bands standardised over." in text
    )


def test_figure_describes_the_range_and_sections_skip_missing_outcomes(page_of, page):
    markup = markup_of(page.figure(page.outcome("cvd_admissions")))
    assert 'id="outcome-cvd-admissions"' in markup
    assert "By deprivation fifth, it is highest in the" in markup
    assert (page.book.downloads / "outcomes" / "outcome-cvd-admissions.csv").is_file()
    none = page_of(
        OutcomesPage, build_people(200).drop("cvd_admissions", "cvd_death"), model={"target": "chd"}
    )
    assert none.outcomes == () and none.rates is None
    assert "skipped because the dataset has no outcome measures" in text_of(none.sections())
    one = page_of(OutcomesPage, build_people(600).drop("cvd_death"))
    text = text_of(one.sections())
    assert "## CVD emergency admissions during the year {#sec-outcomes-cvd-admissions}" in text
    assert "death" not in text.lower()


def test_ratios_too_small_to_publish_are_said_so(page_of):
    people = build_people(600).with_columns((pl.int_range(pl.len()) < 3).alias("cvd_death"))
    page = page_of(OutcomesPage, people)
    text = ratio_sentence(page.rates.frame, page.caps.dimension("ethnicity"), page.outcome("cvd_death"))
    assert text == (
        "Rate ratios of CVD death during the year by ethnic group could not be published because some groups "
        "are too small."
    )
    assert page.sentences(page.outcome("cvd_death")) == (  # said once for every such dimension
        "Rate ratios of CVD death during the year by deprivation (IMD quintile), ethnic group, sex and locality "
        "could not be published because some groups are too small."
    )


def test_download_has_every_rate_but_not_the_bookkeeping(page, page_of):
    html_of(page.download())
    csv = pl.read_csv(page.book.downloads / "outcomes" / "outcomes-all.csv", infer_schema_length=None)
    assert not set(DOWNLOAD_DROP) & set(csv.columns)
    assert {"crude", "value", "rate_ratio", "suppression_reason", "unit"} <= set(csv.columns)
    none = page_of(
        OutcomesPage, build_people(200).drop("cvd_admissions", "cvd_death"), model={"target": "chd"}
    )
    assert "no outcome measures" in html_of(none.download())


# -- GP practices: compared after their age and sex mix in the geography chapter ----------------


def test_practices_section_points_to_the_geography_funnel_of_the_same_outcome(page):
    """One sentence naming the outcome the geography chapter's ratio funnel draws; no crude funnel."""
    from healthgap.pages.geography import GeographyPage

    geo = GeographyPage(page.book)
    assert (geo.isr_unit, geo.isr_outcome) == ("gp_practice", "cvd_admissions")
    text = text_of(page.practices_section())
    assert text == (
        "Variation between GP practices in CVD emergency admissions is shown after their age and sex mix "
        "(observed against expected, on a funnel plot) in @sec-geography-funnels, not as crude rates, which "
        "would place GP practices with older populations higher for their age alone."
    )
    assert geo.isr_funnel("outcome") is not None  # the funnel it points to is drawn
    assert not hasattr(page, "funnel") and "fig-funnel" not in text


def test_practices_section_names_the_area_without_practices(page_of):
    people = build_people(600).drop("gp_practice")
    page = page_of(OutcomesPage, people)
    text = text_of(page.practices_section())
    assert text.startswith("Variation between small areas in CVD emergency admissions is shown")


def test_practices_section_is_one_skip_note_without_practices_or_areas(page_of):
    page = page_of(OutcomesPage, build_people(300).drop("gp_practice", "lsoa"))
    note = html_of(page.practices_section())
    assert note.count("skipped") == 1
    assert "skipped because the dataset has no GP practice or small-area column." in note


def test_practices_section_when_nobody_with_a_practice_has_the_outcome(page_of):
    from healthgap.pages.geography import GeographyPage

    people = build_people(300).with_columns(pl.lit(0, dtype=pl.Int64).alias("cvd_admissions"))
    page = page_of(OutcomesPage, people)
    assert GeographyPage(page.book).isr_funnel("outcome") is None  # the geography chapter draws none
    assert text_of(page.practices_section()) == (
        "Nobody with a recorded GP practice has CVD emergency admissions in this dataset, so GP practices "
        "are not compared on it."
    )


def test_exact_settings_publish_the_exact_counts(page_of):
    people = build_people(3000, seed=3)
    page = page_of(OutcomesPage, people, disclosure={"rounding": 1})
    assert page.config.disclosure == replace(SETTINGS, rounding=1)
    assert page.rates is not None
    sexes = page.rates.frame.filter(pl.col("dimension") == "sex", pl.col("measure") == "cvd_admissions")
    exact = people.group_by("sex").agg(pl.col("cvd_admissions").sum().alias("e"), pl.len().alias("n"))
    got = sexes.join(exact, left_on="level", right_on="sex")
    assert got.height == exact.height
    assert (got["events"] == got["e"]).all() and (got["population"] == got["n"]).all()


def test_missing_outcomes_are_counted_once_and_rates_are_of_the_people_with_a_value(page_of):
    people = cohort().with_columns(
        pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("chd_10y")).alias("chd_10y")
    )
    page = cohort_page(page_of, people)
    assert page.missing_text == (
        "Not every value is recorded: of the 3,000 people, 300 have no value of coronary heart disease within "
        "ten years. Each share and rate on this page is of the people with a value."
    )
    assert page.intro.endswith(page.missing_text) and page.intro.count("Not every value") == 1
    women = people.filter(pl.col("sex") == "female", pl.col("chd_10y").is_not_null())
    row = page.rates.row(dimension="sex", level="female", measure="chd_10y")
    assert row["population"] == 5 * round(women.height / 5)  # the people with a value
    few = people.with_columns(  # 3 missing: between 1 and 7, suppressed
        pl.when(pl.int_range(pl.len()) < 3)
        .then(None)
        .otherwise(pl.col("chd_10y").fill_null(False))
        .alias("chd_10y")
    )
    assert cohort_page(page_of, few).missing_text.startswith(
        "Not every value is recorded: of the 3,000 people, some (a number withheld to protect confidentiality) have no value of coronary heart disease"
    )


def test_any_outcome_the_config_declares_is_shown(page_of):
    """Outcomes come from config.measures_of("outcome"), not a fixed list: a user's count outcome
    and flag outcome appear, worded by their label and period, next to the profile's."""
    people = build_people(3000, seed=3).with_columns(
        (pl.int_range(pl.len()) % 7 == 0).cast(pl.Int64).alias("hf_admissions"),
        (pl.int_range(pl.len()) % 4 == 0).alias("readmitted"),
    )
    hf = {"name": "hf_admissions", "label": "Heart failure admissions", "kind": "outcome", "type": "count"}
    hf["period"] = "in the follow-up year"
    again = {"name": "readmitted", "label": "Readmission", "kind": "outcome", "type": "flag"}
    again["period"] = "within 30 days"
    page = page_of(OutcomesPage, people, measures=[hf, again])
    names = [o.name for o in page.outcomes]
    assert {"hf_admissions", "readmitted", "cvd_admissions", "cvd_death"} <= set(names)
    text = text_of(page.sections())
    assert "## Heart failure admissions in the follow-up year {#sec-outcomes-hf-admissions}" in text
    assert "## Readmission within 30 days {#sec-outcomes-readmitted}" in text
    assert "Readmission: share of people (%), age-standardised, by group" in text  # a quarter: not rare
    assert "the risk of readmission within 30 days" in text
    assert "rate of heart failure admissions in the follow-up year" in text


def test_extreme_of_several_groups_allows_for_all_of_them(page):
    """The ethnic group picked as furthest from the reference is the extreme of several: the
    sentence gives its interval for all the groups together (Bonferroni, by hand here); "Not
    stated" is a gap in the record, neither picked nor counted."""
    from scipy.stats import norm

    admissions = page.outcome("cvd_admissions")
    frame = page.rates.frame
    dim = page.caps.dimension("ethnicity")
    # make "Not stated" the furthest from 1, and the Mixed group the furthest of the real groups
    frame = frame.with_columns(
        pl.when((pl.col("dimension") == "ethnicity") & (pl.col("level") == "Not stated"))
        .then(pl.lit(0.2))
        .when((pl.col("dimension") == "ethnicity") & (pl.col("level") == "Mixed"))
        .then(pl.lit(3.5))
        .otherwise(pl.col("rate_ratio"))
        .alias("rate_ratio")
    )
    text = ratio_sentence(frame, dim, admissions)
    assert "people in the Mixed group had 3.5 times the rate" in text
    assert "no ethnic group recorded had" not in text and "Not stated" not in text
    others = frame.filter(
        (pl.col("dimension") == "ethnicity")
        & (pl.col("measure") == "cvd_admissions")
        & ~pl.col("is_reference")
        & (pl.col("level") != "Not stated")
        & pl.col("rate_ratio").is_not_null()
        & pl.col("rr_lower").is_not_null()
    )
    m = others.height
    assert m >= 2
    other = others.filter(pl.col("level") == "Mixed").row(0, named=True)
    s = np.log(other["rr_upper"] / other["rr_lower"]) / (2 * norm.ppf(0.975))
    zm = norm.ppf(1 - 0.05 / (2 * m))
    lo, hi = 3.5 * np.exp(-zm * s), 3.5 * np.exp(zm * s)
    assert f"differences of {m} groups from the White group" in text
    assert f"(95% CI {lo:.2f} to {hi:.2f} for the {m} together)" in text
    assert "The comparison leaves out people with no ethnic group recorded" in text


# -- premature deaths: per person under 75; gaps in numbers -----------------------------------


def _premature_people(n: int = 4000) -> pl.DataFrame:
    people = build_people(n, seed=7)
    rng = np.random.default_rng(8)
    age = people.get_column("age").to_numpy()
    deprived = people.get_column("imd_decile").to_numpy() <= 2
    died = (age < 75) & (rng.random(n) < np.where(deprived, 0.12, 0.05))
    return people.with_columns(pl.Series("premature_cvd_death", died))


def test_premature_death_is_per_person_under_75(page_of):
    measure = {
        "name": "premature_cvd_death",
        "label": "Premature CVD death (under 75)",
        "kind": "outcome",
        "type": "flag",
        "period": "during the year",
        "timing": "follow-up",
    }
    people = _premature_people()
    page = page_of(
        OutcomesPage,
        people,
        measures=[measure],
        outcomes=["cvd_admissions", "cvd_death", "premature_cvd_death"],
        disclosure={"enabled": False, "reason": "unit test"},
    )
    o = page.outcome("premature_cvd_death")
    assert o is not None and o.ages == (0, 74) and o.whom == "people aged under 75"
    rows = page.rates.frame.filter(pl.col("measure") == "premature_cvd_death")
    # populations are people under 75 only (by hand)
    young = people.filter(pl.col("age") < 75)
    sex = rows.filter((pl.col("dimension") == "sex") & (pl.col("level") == "female")).row(0, named=True)
    assert sex["population"] == young.filter(pl.col("sex") == "female").height
    assert sex["events"] == int(young.filter(pl.col("sex") == "female")["premature_cvd_death"].sum())
    assert "Premature CVD death (under 75) applies only to people aged under 75" in page.intro
    # the gap in numbers: observed minus expected at the least deprived fifth's rates by age band
    # and sex, by hand with numpy (everyone 75+ has no premature death, so adds nothing)
    ex = page.excess.frame.filter(
        (pl.col("measure") == "premature_cvd_death")
        & (pl.col("dimension") == "imd_quintile")
        & (pl.col("level") == "1")
    ).row(0, named=True)
    age = people.get_column("age").to_numpy()
    band = np.minimum(age // 5, 18)
    sexes = people.get_column("sex").to_numpy()
    quintile = (people.get_column("imd_decile").to_numpy() + 1) // 2
    y = people.get_column("premature_cvd_death").to_numpy().astype(float)
    observed = expected = 0.0
    for b in np.unique(band):
        for s_ in np.unique(sexes):
            g = (band == b) & (sexes == s_) & (quintile == 1)
            r = (band == b) & (sexes == s_) & (quintile == 5)
            if g.sum() and r.sum():
                observed += y[g].sum()
                expected += g.sum() * y[r].mean()
    assert ex["numerator"] == observed
    assert ex["expected"] == pytest.approx(expected)
    assert ex["excess"] == pytest.approx(observed - expected)
    text = page.sentences(o)
    assert "In numbers, the most deprived fifth had about " in text
    assert "more premature CVD deaths (under 75) than expected at the rates of the least " in text


def test_an_outcomes_ages_come_from_its_typed_measure_field(page_of):
    """The config's ``ages`` (not the name) says whom an outcome applies to: rates are per person of them."""
    people = _premature_people().with_columns(
        (pl.col("premature_cvd_death") & (pl.col("age") < 65)).alias("early_death")
    )
    page = page_of(
        OutcomesPage,
        people,
        measures=[
            {"name": "premature_cvd_death", "ages": [0, 64]},
            {
                "name": "early_death",
                "label": "Early death",
                "kind": "outcome",
                "type": "flag",
                "ages": [0, 64],
            },
        ],
        outcomes=["premature_cvd_death", "early_death"],
        disclosure={"enabled": False, "reason": "unit test"},
    )
    under_65 = people.filter(pl.col("age") < 65)
    for name in ("premature_cvd_death", "early_death"):
        o = page.outcome(name)
        assert o is not None and o.ages == (0, 64) and o.whom == "people aged under 65"
        female = page.rates.frame.filter(
            (pl.col("measure") == name) & (pl.col("dimension") == "sex") & (pl.col("level") == "female")
        ).row(0, named=True)
        assert female["population"] == under_65.filter(pl.col("sex") == "female").height


def test_a_number_whose_interval_includes_zero_reads_about_as_many(page):
    """Issue 15 round 4, item 6: "about 0 more CVD deaths (95% CI -5 to 5)" contradicted the ratio;
    a number that rounds to 0 or whose interval includes 0 reads "about as many ... could be chance"."""
    from healthgap.pages.outcomes import excess_sentence
    from healthgap.pages.sentences import COUNT_LESS_PRECISE

    dim, outcome = page.caps.dimension("sex"), page.outcome("cvd_admissions")
    frame = page.excess.frame.filter(pl.col("measure") == outcome.name, pl.col("dimension") == "sex")
    level = str(frame.item(0, "level"))
    near = frame.with_columns(
        pl.lit(0.4).alias("excess"), pl.lit(-5.2).alias("excess_lower"), pl.lit(5.1).alias("excess_upper")
    )
    # round 5, item 4: an interval from the rounding alone gives no number at all
    said = excess_sentence(near, dim, outcome, level, base=5, strata="age band")
    assert "too small to give their difference as a count" in said and "about 0" not in said
    near = near.with_columns(pl.lit(-20.2).alias("excess_lower"), pl.lit(20.1).alias("excess_upper"))
    said = excess_sentence(near, dim, outcome, level, base=5, strata="age band")
    assert "about as many" in said and "about 0" not in said
    # round 5, item 1: the ratio carries the verdict; the number is "less precise", not "chance"
    assert COUNT_LESS_PRECISE in said and "could be chance" not in said
    wide = near.with_columns(
        pl.lit(20.0).alias("excess"), pl.lit(-4.0).alias("excess_lower"), pl.lit(45.0).alias("excess_upper")
    )
    unsure = excess_sentence(wide, dim, outcome, level, base=5, strata="age band")
    assert "about 20 more" in unsure and COUNT_LESS_PRECISE in unsure
    clear = near.with_columns(
        pl.lit(20.0).alias("excess"), pl.lit(6.0).alias("excess_lower"), pl.lit(45.0).alias("excess_upper")
    )
    assert "about 20 more" in excess_sentence(clear, dim, outcome, level, base=5, strata="age band")


def test_the_table_withholds_a_ratio_the_sentence_does_not_name():
    """Issue 15 round 4, item 8: the sentence said "fewer than 10 expected in the Black group, not
    named" while the table above showed its rate ratio 6.49: the table follows the same rule."""
    from healthgap.pages.outcomes import TOO_FEW_MARK, _withhold_ratios

    frame = pl.DataFrame(
        {
            "measure": ["cvd_admissions"] * 3,
            "dimension": ["ethnicity"] * 3,
            "level": ["White", "Black", "Asian"],
            "rate_ratio": [1.0, 6.49, 1.2],
            "rr_lower": [None, 3.76, 0.9],
            "rr_upper": [None, 11.18, 1.6],
            "note": [None, None, None],
        },
        schema_overrides={"note": pl.String},
    )
    few = pl.DataFrame({"measure": ["cvd_admissions"], "dimension": ["ethnicity"], "__level": ["Black"]})
    out = _withhold_ratios(frame, few)
    black = out.row(1, named=True)
    assert black["rate_ratio"] is None and black["rr_lower"] is None and black["note"] == TOO_FEW_MARK
    assert out.get_column("rate_ratio").to_list() == [1.0, None, 1.2]
