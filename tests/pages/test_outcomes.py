"""The outcomes page: rates published once from exact counts, the sentences, the funnel and its wording."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from healthgap.config import DisclosureSettings
from healthgap.descriptive.outcomes import PER, outcome_rates
from healthgap.descriptive.prevalence import rates, recompute_rates
from healthgap.disclosure import primary_reason, publish, published_counts
from healthgap.pages.outcomes import (
    DOWNLOAD_DROP,
    FIGURE_COLUMNS,
    OutcomesPage,
    funnel_sentence,
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
    """The same numbers as when rates() computed its simple statistics from published counts itself."""
    dims = list(page.dimensions)
    exact = rates(page.people, page.config, measures=list(page.measures), dimensions=dims, multiplier=PER)
    rounded = published_counts(exact, ["events", "population"], settings=page.config.disclosure)
    before = recompute_rates(rounded, multiplier=PER)  # what rates() returned before it was exact
    before = before.with_columns(page.exact.get_column("measure_label"))
    old = publish(before, counts=["events", "population"], settings=page.config.disclosure).frame
    assert page.rates is not None
    assert_frame_equal(page.rates.frame, old, check_exact=False, rel_tol=1e-9)
    figure = page.figure_data("cvd_admissions").frame
    old_figure = publish(
        before.filter(pl.col("measure") == "cvd_admissions").select(FIGURE_COLUMNS),
        counts=["events", "population"],
        by=["dimension"],
        settings=page.config.disclosure,
    ).frame
    assert_frame_equal(figure, old_figure, check_exact=False, rel_tol=1e-9)


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
    for row in shown.iter_rows(named=True):
        assert row["events"] % 5 == 0 and row["population"] % 5 == 0
        assert row["crude"] == pytest.approx(PER * row["events"] / row["population"], rel=1e-12)


def test_recompute_rates_keeps_the_dsr_and_moves_its_limits_to_the_published_total(page):
    exact = outcome_rates(page.people, page.config, dimensions=["sex"])
    same = recompute_rates(exact, multiplier=PER)  # counts not rounded: the exact limits back
    assert_frame_equal(same, exact.drop("variance"), check_exact=False, rel_tol=1e-9)
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


def test_sentence_names_the_group_furthest_from_the_reference(page):
    text = page.sentence("cvd_admissions", "sex")
    assert text.startswith("After allowing for age, ")
    assert "to be admitted to hospital as an emergency with heart or circulatory disease" in text
    assert "rate ratio" in text and "95% CI" in text


def test_sentence_is_empty_without_the_outcome_or_the_dimension(page_of):
    page = page_of(OutcomesPage, build_people(600).drop("cvd_death"))
    assert page.sentence("cvd_death", "imd_quintile") == ""
    assert page.sentence("cvd_admissions", "no_such_dimension") == ""
    assert "deaths" not in page.measures


def test_sentence_says_when_the_ratios_are_too_small_to_publish(page_of):
    people = build_people(600).with_columns(pl.lit(False).alias("cvd_death"))
    people = people.with_columns((pl.int_range(pl.len()) < 3).alias("cvd_death"))
    page = page_of(OutcomesPage, people)
    text = page.sentence("cvd_death", "ethnicity")
    assert text == "Rate ratios by ethnic group could not be published because some groups are too small."


def test_figure_describes_the_deprivation_range_and_skips_a_missing_outcome(page_of, page):
    markup = html_of(page.figure("cvd_admissions", "admissions"))
    assert 'id="admissions"' in markup
    assert "Across deprivation fifths the rate is highest in the" in markup
    assert (page.book.downloads / "outcomes" / "admissions.csv").is_file()
    none = page_of(OutcomesPage, build_people(200).drop("cvd_admissions"), model={"target": "chd"})
    note = html_of(none.figure("cvd_admissions", "admissions"))
    assert "skipped because the dataset has no emergency CVD admissions column (cvd_admissions)" in note


def test_download_has_every_rate_but_not_the_bookkeeping(page, page_of):
    html_of(page.download())
    csv = pl.read_csv(page.book.downloads / "outcomes" / "outcomes-all.csv", infer_schema_length=None)
    assert not set(DOWNLOAD_DROP) & set(csv.columns)
    assert {"crude", "value", "rate_ratio", "suppression_reason"} <= set(csv.columns)
    none = page_of(
        OutcomesPage, build_people(200).drop("cvd_admissions", "cvd_death"), model={"target": "chd"}
    )
    assert "no outcome columns" in html_of(none.download())


# -- GP practices ------------------------------------------------------------------------------


def test_funnel_baseline_comes_from_the_published_totals(page):
    """From the exact totals the baseline gives the exact number of events back (disclosure audit)."""
    people = page.book.frame
    e, n = int(people["cvd_admissions"].sum()), people.height
    funnel = page.funnel
    assert funnel is not None and funnel.measure == "cvd_admissions"
    assert funnel.baseline == pytest.approx(PER * _r5(e) / _r5(n), rel=1e-12)
    assert funnel.baseline != pytest.approx(PER * e / n, rel=1e-12)
    points = funnel.points.frame
    assert points["baseline"].to_list() == pytest.approx([funnel.baseline] * points.height, rel=1e-12)
    assert funnel.limits["baseline"][0] == pytest.approx(funnel.baseline, rel=1e-12)
    for r in points.filter(pl.col("value").is_not_null()).iter_rows(named=True):
        assert r["events"] % 5 == 0
        assert r["value"] == pytest.approx(PER * r["events"] / r["population"], rel=1e-12)


def test_funnel_figure_and_text(page):
    markup = html_of(page.funnel_figure())
    assert 'id="funnel"' in markup and "Funnel plot: each dot is a GP practice" in markup
    assert page.funnel_text in markup
    assert page.funnel_text.startswith("Of the 3 practices, ")


def test_funnel_skipped_without_practices(page_of):
    page = page_of(OutcomesPage, build_people(300).drop("gp_practice"))
    assert page.funnel_text == ""
    assert "no GP practice or outcome columns" in html_of(page.funnel_figure())


def test_funnel_skipped_when_the_overall_rate_cannot_be_published(page_of):
    people = build_people(300).with_columns(
        (pl.int_range(pl.len()) < 3).cast(pl.Int64).alias("cvd_admissions")
    )
    page = page_of(OutcomesPage, people)
    assert page.funnel is None
    assert page.funnel_text.startswith("There are too few admissions in the whole population")
    assert "no overall rate that can be published (too few admissions)" in html_of(page.funnel_figure())


def _points(*rows: tuple) -> pl.DataFrame:
    """Published funnel points: (value, flag_99_8, suppression_reason_events)."""
    return pl.DataFrame(
        rows,
        schema={"value": pl.Float64, "flag_99_8": pl.String, "suppression_reason_events": pl.String},
        orient="row",
    )


def _sentence(points: pl.DataFrame) -> str:
    return funnel_sentence(points, baseline=9.8, noun="admissions", small=SMALL, most=7)


def test_funnel_sentence_all_published():
    text = _sentence(_points((10.0, "above", None), (9.0, "within", None), (8.0, "within", None)))
    assert text == (
        "Of the 3 practices, 1 lies above and none below the 99.8% control limits around the overall rate "
        "of 9.8 per 1,000; the other 2 vary no more than chance would produce."
    )


def test_funnel_sentence_none_outside_and_none_within():
    within = _sentence(_points((9.0, "within", None), (8.0, "within", None)))
    assert within.endswith(
        "none lie above and none below the 99.8% control limits around the overall rate "
        "of 9.8 per 1,000; all of them vary no more than chance would produce."
    )
    outside = _sentence(_points((20.0, "above", None), (1.0, "below", None), (25.0, "above", None)))
    assert outside == (
        "Of the 3 practices, 2 lie above and 1 below the 99.8% control limits around the overall rate "
        "of 9.8 per 1,000."
    )


def test_funnel_sentence_says_why_practices_are_hidden():
    small = _sentence(_points((9.0, "within", None), (None, None, SMALL), (None, None, SMALL)))
    assert small.startswith("Of the 1 practices whose rate can be published, none lie above")
    assert small.endswith(
        "The remaining 2 practices have between 1 and 7 admissions, too few to publish, so they are not on the chart."
    )
    one = _sentence(_points((9.0, "within", None), (None, None, SMALL)))
    assert one.endswith(
        "The remaining 1 practice has between 1 and 7 admissions, too few to publish, so it is not on the chart."
    )
    secondary = _sentence(
        _points((9.0, "within", None), (None, None, SMALL), (None, None, "secondary suppression: protects"))
    )
    assert secondary.endswith(
        "The remaining 2 practices have counts withheld to protect confidentiality, so they are not on the chart."
    )


def test_funnel_sentence_when_no_practice_is_published():
    text = _sentence(_points((None, None, SMALL), (None, None, SMALL)))
    assert text == (
        "None of the 2 practices has a rate that can be published (too few admissions), so none can be "
        "compared with the overall rate."
    )


def test_funnel_text_hidden_practices_from_the_published_reasons(page_of):
    """Practices of 1-7 admissions are withheld for their small counts, a third to protect them."""
    people = build_people(3000, seed=3)
    one_small = people.with_columns(
        pl.when(pl.col("gp_practice") == "F81003")
        .then((pl.int_range(pl.len()).over("gp_practice") < 3).cast(pl.Int64))
        .otherwise(pl.col("cvd_admissions"))
        .alias("cvd_admissions")
    )
    text = page_of(OutcomesPage, one_small).funnel_text  # the other two would give it back: one more goes
    assert text.endswith(
        "The remaining 2 practices have counts withheld to protect confidentiality, so they are not on the chart."
    )
    two_small = one_small.with_columns(
        pl.when(pl.col("gp_practice") == "D81002")
        .then((pl.int_range(pl.len()).over("gp_practice") < 5).cast(pl.Int64))
        .otherwise(pl.col("cvd_admissions"))
        .alias("cvd_admissions")
    )
    text = page_of(OutcomesPage, two_small).funnel_text
    assert text.startswith("Of the 1 practices whose rate can be published, ")
    # one reason for small and protecting counts (issue 11, leak 7): the page cannot tell them apart
    assert text.endswith(
        "The remaining 2 practices have counts withheld to protect confidentiality, so they are not on the chart."
    )
    off = page_of(OutcomesPage, one_small, disclosure={"enabled": False, "reason": "testing"})
    assert "remaining" not in off.funnel_text and off.funnel_text.startswith("Of the 3 practices, ")


def test_exact_settings_publish_the_exact_counts(page_of):
    people = build_people(3000, seed=3)
    page = page_of(OutcomesPage, people, disclosure={"rounding": 1})
    assert page.config.disclosure == replace(SETTINGS, rounding=1)
    assert page.funnel is not None
    e, n = int(people["cvd_admissions"].sum()), people.height
    assert page.funnel.baseline == pytest.approx(PER * e / n, rel=1e-12)
