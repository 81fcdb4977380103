"""The geography page: what it compares, the locality table and its contrast, the map or tile chart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from healthgap.descriptive.prevalence import rates, recompute_rates
from healthgap.disclosure import publish, published_counts
from healthgap.pages.geography import (
    LOCALITY_COLUMNS,
    NO_AREAS,
    GeographyPage,
    contrast_sentence,
)
from tests.conftest import DEFAULT_YML, build_people
from tests.pages.conftest import html_of


@pytest.fixture
def page(page_of) -> GeographyPage:
    return page_of(GeographyPage, build_people(2000, seed=4))


def _by_practice(people: pl.DataFrame) -> pl.DataFrame:
    """No locality and no small areas: the GP practice is the mapped unit."""
    return people.drop("lsoa", "locality")


def _no_locality() -> dict:
    """The config's equity dimensions without locality (for data without the column)."""
    dims = yaml.safe_load(DEFAULT_YML.read_text(encoding="utf-8"))["equity"]["dimensions"]
    kept = [d for d in dims if (d if isinstance(d, str) else d["name"]) != "locality"]
    return {"dimensions": kept}


#: Sections of a config for data with GP practices only (no locality, no small areas).
PRACTICES = {"data": {"boundary_key": "gp_practice"}, "equity": _no_locality()}


def _boundaries(folder: Path, codes: list[str]) -> Path:
    """A GeoJSON file with one small square per code (``properties.lsoa``)."""
    features = [
        {
            "type": "Feature",
            "properties": {"lsoa": code},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[i, 0], [i + 1, 0], [i + 1, 1], [i, 1], [i, 0]]],
            },
        }
        for i, code in enumerate(codes)
    ]
    path = folder / "areas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


# -- what the chapter compares -------------------------------------------------------------


def test_intro_names_what_the_dataset_can_compare(page, page_of):
    assert html_of(page.intro()) == (
        "Where people live shapes their health. This chapter shows how recorded disease varies between the "
        "localities of the area and between small areas (lower-layer super output areas, LSOAs)."
    )
    practices = page_of(GeographyPage, _by_practice(build_people(300)), **PRACTICES)
    assert html_of(practices.intro()) == (
        "Where people live shapes their health. This chapter shows how recorded disease varies between GP "
        "practices."
    )
    nothing = page_of(
        GeographyPage, build_people(300).drop("lsoa", "locality", "gp_practice"), equity=_no_locality()
    )
    assert 'class="hg-skip' in html_of(nothing.intro()) and NO_AREAS in html_of(nothing.intro())
    assert not nothing.has_places
    assert html_of(nothing.map_figure()).count("skipped because the dataset has no small-area (lsoa)") == 1
    assert nothing.map_paragraph() is None and nothing.locality_paragraph() is None
    assert nothing.area_heading.strip()  # a heading is never empty


def test_area_heading_is_a_map_only_with_boundaries(page, page_of, tmp_path):
    assert page.caps.area_view == "tiles" and page.area_heading == "Recorded disease by small area"
    people = build_people(300)
    path = _boundaries(tmp_path, sorted(people["lsoa"].unique().to_list()))
    mapped = page_of(GeographyPage, people, data={"boundaries": str(path)})
    assert mapped.mapped and mapped.area_heading == "Mapping recorded disease"
    none = page_of(
        GeographyPage, build_people(300).drop("lsoa", "gp_practice"), data={"boundary_key": "gp_practice"}
    )
    assert none.area is None and none.area_heading == "Mapping recorded disease"


# -- localities ----------------------------------------------------------------------------


def test_locality_rates_are_published_exactly_as_before(page):
    measures = list(page.caps.conditions)  # conditions only: outcomes are per 1,000 in their own table
    exact = rates(page.people, page.config, measures=measures, dimensions=["locality"], multiplier=100)
    rounded = published_counts(exact, ["events", "population"], settings=page.config.disclosure)
    before = recompute_rates(rounded, multiplier=100)  # what rates() returned before it was exact
    before = before.with_columns(pl.lit("").alias("measure_label")).select(LOCALITY_COLUMNS)
    old = publish(before, counts=["events", "population"], settings=page.config.disclosure).frame
    assert page.localities is not None
    new = page.localities.frame.with_columns(pl.lit("").alias("measure_label"))
    assert_frame_equal(new, old, check_exact=False, rel_tol=1e-9)


def test_locality_text_names_the_reference_and_the_contrast(page):
    text = page.locality_text()
    assert text.startswith("The reference locality is ")
    assert "Age-standardised recorded hypertension is highest in " in text and "rate ratio" in text
    paragraph = html_of(page.locality_paragraph())
    assert paragraph.startswith("@tbl-localities gives the age-standardised recorded prevalence (%)")
    assert (
        "@tbl-locality-outcomes gives the age-standardised rate of every outcome per 1,000 people"
        in paragraph
    )
    assert text in paragraph
    assert paragraph.endswith("reflects the deprivation gradients in @sec-disease.")


def test_locality_section_skipped_without_localities(page_of):
    page = page_of(GeographyPage, build_people(300).drop("locality"), equity=_no_locality())
    assert page.localities is None
    assert page.locality_text() == "" and page.locality_paragraph() is None
    assert "no locality column" in html_of(page.locality_table())


def test_why_localities_differ_follows_the_ordered_dimension(page_of):
    people = build_people(600).drop("imd_decile")
    none = page_of(GeographyPage, people, equity={"dimensions": ["sex", "locality"]})
    assert none.locality_tail.startswith("Localities differ in who lives there as well as in age")
    assert "depriv" not in html_of(none.locality_paragraph())
    education = people.with_columns((pl.col("age") // 30).clip(0, 2).cast(pl.String).alias("education"))
    own = page_of(
        GeographyPage,
        education,
        equity={
            "dimensions": [
                {
                    "name": "education",
                    "label": "Education level",
                    "order": ["0", "1", "2"],
                    "reference": "2",
                    "ordered": True,
                    "disadvantaged": "first",
                },
                "locality",
            ]
        },
    )
    assert own.locality_tail == (
        "Localities differ in education level as well as age, so part of these differences reflects the "
        "gradients in @sec-disease."
    )


def test_locality_table_and_download(page):
    markup = html_of(page.locality_table())
    assert 'id="localities"' in markup and "Recorded (%)" in markup and "Rate per 100" not in markup
    csv = pl.read_csv(page.book.downloads / "geography" / "localities.csv", infer_schema_length=None)
    assert csv.columns[: len(LOCALITY_COLUMNS)] == list(LOCALITY_COLUMNS)


def _localities(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"dimension": pl.String, "level": pl.String, "label": pl.String, "value": pl.Float64},
        orient="row",
    )


THREE = _localities(
    ("locality", "A", "Ashby", 13.6), ("locality", "B", "Bourne", 13.2), ("locality", "C", "Cray", 13.4)
)


def _bonferroni_by_hand(r: float, lo: float, hi: float, m: int) -> tuple[str, str]:
    """scipy: the log ratio's standard error from its 95% interval, widened to 1 - 0.05/m jointly."""
    from scipy import stats as sps

    se = (np.log(hi) - np.log(lo)) / (2 * sps.norm.ppf(0.975))
    z = sps.norm.isf(0.05 / m / 2)
    return f"{np.exp(np.log(r) - z * se):.2f}", f"{np.exp(np.log(r) + z * se):.2f}"


def test_contrast_sentence_could_be_chance():
    ratio = {"value": 1.03, "lower_ci": 0.99, "upper_ci": 1.07}
    lo, hi = _bonferroni_by_hand(1.03, 0.99, 1.07, 3)
    assert contrast_sentence(THREE, ratio, name="hypertension") == (
        "Age-standardised recorded hypertension is highest in Ashby (13.6%) and lowest in Bourne (13.2%); "
        f"the difference between them could be due to chance (rate ratio 1.03, 95% CI 0.99 to 1.07; {lo} to {hi} "
        "allowing for the 3 pairs of 3 localities)."
    )


def test_contrast_sentence_clear_difference():
    ratio = {"value": 1.30, "lower_ci": 1.10, "upper_ci": 1.52}
    lo, hi = _bonferroni_by_hand(1.30, 1.10, 1.52, 3)
    assert contrast_sentence(THREE, ratio, name="CHD") == (
        "Age-standardised recorded CHD is highest in Ashby (13.6%) and lowest in Bourne (13.2%) "
        f"(rate ratio 1.30, 95% CI 1.10 to 1.52; {lo} to {hi} allowing for the 3 pairs of 3 localities)."
    )


def test_contrast_verdict_follows_the_simultaneous_interval():
    """Clear one at a time (0.99 > 1 fails only after widening): the sentence says it could be chance."""
    ratio = {"value": 1.05, "lower_ci": 1.005, "upper_ci": 1.097}
    seven = _localities(*[("locality", c, c, 13.0 + i / 10) for i, c in enumerate("ABCDEFG")])
    text = contrast_sentence(seven, ratio, name="x")
    lo, hi = _bonferroni_by_hand(1.05, 1.005, 1.097, 21)
    assert (
        float(lo) < 1
        and "could be due to chance" in text
        and f"{lo} to {hi} allowing for the 21 pairs" in text
    )
    two = seven.filter(pl.col("level").is_in(["A", "B"]))
    assert "could be due to chance" not in contrast_sentence(two, ratio, name="x")


def test_contrast_sentence_without_a_ratio_or_with_one_locality():
    assert contrast_sentence(THREE, None, name="hypertension").endswith("lowest in Bourne (13.2%).")
    assert contrast_sentence(THREE, {"value": 1.0, "lower_ci": None, "upper_ci": None}, name="x").endswith(
        "%)."
    )
    one = THREE.with_columns(pl.when(pl.col("level") == "A").then(pl.col("value")).alias("value"))
    assert contrast_sentence(one, None, name="hypertension") == (
        "Age-standardised recorded hypertension is published only in Ashby (13.6%)."
    )
    none = THREE.with_columns(pl.lit(None, dtype=pl.Float64).alias("value"))
    assert contrast_sentence(none, None, name="hypertension") == (
        "Age-standardised recorded hypertension is not published for any group (too few people)."
    )


# -- small areas ---------------------------------------------------------------------------


def test_area_rates_come_from_the_published_counts(page):
    assert page.areas is not None
    shown = page.areas.frame.filter(pl.col("value").is_not_null())
    assert shown.height
    for r in shown.iter_rows(named=True):
        assert r["events"] % 5 == 0 and r["population"] % 5 == 0
        assert r["value"] == pytest.approx(100 * r["events"] / r["population"], rel=1e-12)


def test_area_text_all_some_and_none_published(page_of):
    many = page_of(GeographyPage, build_people(8000, seed=2))
    assert many.area_text().startswith(
        "All 40 small areas have enough people and cases to publish a rate. Recorded hypertension ranges from "
    )
    assert many.area_text().endswith("% of residents (crude rates, not adjusted for age).")
    some = page_of(GeographyPage, build_people(2000, seed=4))
    assert some.area_text().startswith("Of the 40 small areas, ")
    few = page_of(GeographyPage, build_people(200, seed=4))  # five people an area
    assert few.area_text() == "None of the small areas has enough people and cases to publish a rate."


def test_size_text_only_for_lsoas(page_of):
    page = page_of(GeographyPage, build_people(8000, seed=2))
    assert page.size_text() == (
        "Nationally an LSOA has about 1,500 residents; the 40 areas in this dataset hold 200 people each on average."
    )
    practices = page_of(GeographyPage, _by_practice(build_people(300)), **PRACTICES)
    assert practices.size_text() == ""


def test_tile_chart_is_not_called_a_map(page):
    paragraph = html_of(page.map_paragraph())
    assert paragraph.startswith(
        "@fig-map shows recorded hypertension for each of the small areas as a chart of hexagonal tiles, not a "
        "map: each hexagon is one small area, grouped by locality, all the same size so that small urban areas "
        "are as visible as large rural ones. There are no boundaries for these small areas to draw a map with"
    )
    assert "(in the table under the chart) rather than from its shade alone." in paragraph
    assert not page.in_code_order and page.map_table() is None  # grouped by locality: the chart stays
    markup = html_of(page.map_figure())
    assert "Tile chart of crude recorded hypertension prevalence (%) in each small area" in markup
    assert "grey tiles have too few people to publish" in markup
    assert (page.book.downloads / "geography" / "map.csv").is_file()


def test_practices_without_localities_are_a_table_not_tiles_in_code_order(page_of):
    """Tiles placed in order of their codes alone show nothing the table does not (reader, round 4):
    GP practices with no boundaries and no localities are listed in a table, and the paragraph
    points to it."""
    page = page_of(GeographyPage, _by_practice(build_people(600)), **PRACTICES)
    assert page.in_code_order and page.map_figure() is None
    paragraph = html_of(page.map_paragraph())
    assert paragraph.startswith("@tbl-map gives recorded hypertension for each of the GP practices")
    assert "hexagon" not in paragraph and "@fig-map" not in paragraph and "1,500" not in paragraph
    # the data have no localities: the paragraph says nothing about them (any-dataset scan)
    assert (
        "There are no boundaries for these GP practices to draw a map with, so they are listed rather than drawn."
        in paragraph
    )
    assert "localit" not in paragraph
    assert "of registered patients" in paragraph or "None of the GP practices" in paragraph
    markup = html_of(page.map_table())
    assert 'id="map"' in markup or "map" in markup
    assert (page.book.downloads / "geography" / "map.csv").is_file()


def test_map_with_boundaries(page_of, tmp_path):
    people = build_people(2000, seed=4)
    path = _boundaries(tmp_path, sorted(people["lsoa"].unique().to_list()))
    page = page_of(GeographyPage, people, data={"boundaries": str(path)})
    paragraph = html_of(page.map_paragraph())
    assert "for each of the small areas as a map of their boundaries. Nationally an LSOA" in paragraph
    assert paragraph.endswith("look for clusters of similar areas rather than single dark ones.")
    markup = html_of(page.map_figure())
    assert "Map of crude recorded hypertension prevalence (%) in each small area" in markup
    assert "grey areas have too few people to publish" in markup


def test_inline_values_are_never_empty(page_of):
    """Every value the chapter shows inline is a phrase or sentence, whatever the data lack
    (Quarto prints an empty inline value as code)."""
    full = build_people(400)
    for people, dims in (
        (full.select("person_id", "age"), ["age_band"]),
        (full.head(30), None),
    ):
        equity = {"dimensions": dims} if dims else {}
        page = page_of(GeographyPage, people, target=False, equity=equity)
        for name, value in {
            "area_heading": page.area_heading,
        }.items():
            assert str(html_of(value)).strip(), name


def test_outcome_localities_are_event_rates_per_1000(page):
    """Outcomes are in their own table per 1,000 people (the book's unit for events), conditions in %."""
    assert set(page.localities.frame["measure"]) == set(page.caps.conditions)
    out = page.outcome_localities
    assert out is not None and set(out.frame["measure"]) == set(page.caps.outcomes)
    per100 = rates(
        page.people, page.config, measures=list(page.caps.outcomes), dimensions=["locality"], multiplier=100
    )
    exact = per100.filter(pl.col("value").is_not_null()).select(
        "measure", "level", pl.col("value").alias("v100")
    )
    joined = out.frame.join(exact, on=["measure", "level"], how="inner").filter(pl.col("value").is_not_null())
    assert joined.height
    for row in joined.iter_rows(named=True):
        assert row["value"] == pytest.approx(10 * row["v100"], rel=1e-9)
    markup = html_of(page.outcome_locality_table())
    assert 'id="locality-outcomes"' in markup and "Rate per 1,000" in markup
    assert (page.book.downloads / "geography" / "locality-outcomes.csv").exists()


def test_outcome_locality_table_skips(page_of):
    people = build_people(300)
    no_outcomes = page_of(
        GeographyPage, people.drop("cvd_admissions", "cvd_death"), model={"target": "hypertension"}
    )
    assert no_outcomes.outcome_localities is None
    assert "outcome columns" in html_of(no_outcomes.outcome_locality_table())
    assert "@tbl-locality-outcomes" not in html_of(no_outcomes.locality_paragraph())
    no_places = page_of(GeographyPage, people.drop("locality"), equity=_no_locality())
    assert no_places.outcome_locality_table() is None  # the conditions' table gives the one skip note


@pytest.mark.parametrize(("n", "share"), [(98, "0.2"), (21, "0.04"), (1000, "2.0")])
def test_chance_outside_the_limits_has_one_wording(n, share):
    """'about 1 in 500 outside them, x of these n' whatever the number of units (reader, round 4:
    'about 0.2 of 98' in one place and '1 in 500' in another for the same thing)."""
    from healthgap.pages.geography import isr_sentence

    frame = pl.DataFrame({"value": [1.0] * n, "flag_99_8": ["within"] * n})
    text = isr_sentence(frame, name="recorded hypertension", plural="GP practices")
    assert text.endswith(f"(chance alone would put about 1 in 500 outside them, {share} of these {n}).")
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("above")).otherwise("flag_99_8").alias("flag_99_8")
    )
    text = isr_sentence(frame, name="recorded hypertension", plural="GP practices")
    assert f"chance alone would put about 1 in 500 outside them, {share} of these {n}, so" in text
