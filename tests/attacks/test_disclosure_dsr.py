"""Attack: recover a suppressed-by-rounding count from a published DSR and its limits (issue 11, item 5).

A directly standardised rate (DSR) is published with its 95% limits and its count of events
rounded to 5. Dobson's limits are DSR + s (O_L - O) and DSR + s (O_U - O), where O_L, O_U are
Byar's limits of the count O and s = sqrt(var / O). From the published DSR ``V``, its upper
limit ``U`` and the published count ``O`` an attacker gets s = (U - V) / (O_U - O) and the
variance s² O. By Cauchy-Schwarz the DSR and its Dobson variance bound the true count from
below, (Σ x_i d_i)² <= (Σ d_i)(Σ x_i² d_i), so V² / var <= true count: when the limits use the
exact variance that bound lands above the published count (Mixed CHD published 10 -> 11.2, true
12), and the rounding is undone. The same bound follows from the interval of a rate ratio of DSRs,
whose log-scale variance is var_a / V_a² + var_ref / V_ref².

These tests replay the attack on everything the book publishes with a DSR (recorded disease,
outcomes and locality tables, the pair of localities the geography page compares, the
deprivation x ethnicity heat map) on the population of the report (``healthgap synth --n 2003``),
and show that two groups with the same age-specific rates whose true counts differ but round alike
publish the same DSR row.
"""

from __future__ import annotations

import math
import shutil
from functools import partial

import polars as pl
import pytest
from scipy.special import ndtri

from healthgap.disclosure import publish
from healthgap.stats import byars_upper
from tests.conftest import DEFAULT_YML

#: Slack for floating point in the bound.
EPS = 1e-6


def z_value(confidence: float) -> float:
    return float(ndtri(1 - (1 - confidence) / 2))


@pytest.fixture(scope="module")
def config_2003(tmp_path_factory: pytest.TempPathFactory):
    """The default config on the synthetic population of 2,003 people (``healthgap synth --n 2003``)."""
    from healthgap import synth
    from healthgap.config import load_config

    base = tmp_path_factory.mktemp("dsr-attack")
    synth.write(base / "synthetic", n=2003, seed=2024)
    shutil.copyfile(DEFAULT_YML, base / "default.yml")
    return load_config(base / "default.yml")


@pytest.fixture(scope="module")
def people_2003(config_2003) -> pl.DataFrame:
    from healthgap.data import load

    return load(config_2003).collect()


def _upper_count(o: float) -> float:
    return pl.select(byars_upper(pl.lit(o, dtype=pl.Float64), 0.95)).item()


def count_bound(value: float, upper: float, events: float) -> float:
    """The attacker's lower bound on the true count: V² / var, with var = s² O from the upper limit."""
    s = (upper - value) / (_upper_count(events) - events)
    return value**2 / (s**2 * events)


def dsr_rows(published: pl.DataFrame) -> pl.DataFrame:
    """The published rows with a DSR, its limits and a count."""
    return published.filter(
        pl.col("value").is_not_null()
        & pl.col("upper_ci").is_not_null()
        & (pl.col("events") > 0)
        & pl.col("standardised").fill_null(True)
    )


def bounds(published: pl.DataFrame) -> pl.DataFrame:
    """Each DSR row with the attacker's bound from its own limits."""
    rows = dsr_rows(published)
    return rows.with_columns(
        pl.Series(
            "bound",
            [
                count_bound(v, u, float(o))
                for v, u, o in rows.select("value", "upper_ci", "events").iter_rows()
            ],
            dtype=pl.Float64,
        )
    )


def ratio_bounds(published: pl.DataFrame) -> pl.DataFrame:
    """The bound from each published rate ratio of DSRs: 1 / (se² - var_ref / V_ref²)."""
    z = z_value(0.95)
    rows = bounds(published)
    ref = rows.filter(pl.col("is_reference")).select(
        "dimension", "measure", (1 / pl.col("bound")).alias("ref_rel")
    )
    ratios = rows.filter(
        ~pl.col("is_reference") & pl.col("rr_lower").is_not_null() & pl.col("rr_upper").is_not_null()
    ).join(ref, on=["dimension", "measure"])
    se2 = ((pl.col("rr_upper") / pl.col("rr_lower")).log() / (2 * z)) ** 2
    return ratios.with_columns((1 / (se2 - pl.col("ref_rel"))).alias("bound")).filter(
        pl.col("bound").is_finite() & (pl.col("bound") > 0)
    )


def leaks(with_bounds: pl.DataFrame) -> pl.DataFrame:
    """Rows whose bound lands above the published count: the true count is then known to be larger."""
    return with_bounds.filter(pl.col("bound") > pl.col("events") + EPS)


def _tables(config, people):
    """Every DSR table the book publishes, as (name, exact frame, recompute)."""
    from healthgap.descriptive.geography import LOCALITY_PER, locality_rates
    from healthgap.descriptive.outcomes import PER, outcome_rates
    from healthgap.descriptive.prevalence import prevalence, recompute_rates

    return [
        ("prevalence", prevalence(people, config), partial(recompute_rates, multiplier=100)),
        ("outcomes", outcome_rates(people, config), partial(recompute_rates, multiplier=PER)),
        (
            "localities",
            locality_rates(people, config, measures=[*config.conditions, *config.outcomes]),
            partial(recompute_rates, multiplier=LOCALITY_PER),
        ),
    ]


def _published(config, people):
    return {
        name: publish(exact, counts=["events", "population"], settings=config.disclosure, recompute=fn).frame
        for name, exact, fn in _tables(config, people)
    }


def test_no_dsr_limit_bounds_the_count_above_its_published_value(config_2003, people_2003):
    published = _published(config_2003, people_2003)
    found = pl.concat(
        [
            bounds(frame).select("dimension", "label", "measure", "events", "bound")
            for frame in published.values()
        ]
    )
    assert found.height > 50  # the attack has rows to work on
    assert leaks(found).is_empty(), leaks(found)


def test_no_rate_ratio_interval_bounds_the_count_above_its_published_value(config_2003, people_2003):
    published = _published(config_2003, people_2003)
    found = pl.concat(
        [
            ratio_bounds(frame).select("dimension", "label", "measure", "events", "bound")
            for frame in published.values()
        ]
    )
    assert found.height > 30
    assert leaks(found).is_empty(), leaks(found)


def test_the_heat_map_limits_do_not_bound_the_count_above_its_published_value(config_2003, people_2003):
    from healthgap.descriptive.prevalence import intersection, recompute_dsr

    frames = [
        publish(
            intersection(people_2003, config_2003, condition=c),
            counts=["events", "population"],
            settings=config_2003.disclosure,
            by=[],
            across=["row_label", "column_label"],
            recompute=recompute_dsr,
        ).frame.with_columns(pl.lit(c).alias("measure"), pl.lit(True).alias("standardised"))
        for c in config_2003.conditions
    ]
    found = pl.concat(
        [bounds(f).select("row_label", "column_label", "measure", "events", "bound") for f in frames]
    )
    assert found.height > 10
    assert leaks(found).is_empty(), leaks(found)


def test_the_locality_pair_ratio_agrees_with_the_published_limits(tmp_path, config_2003, people_2003):
    """The geography page's ratio of the highest to the lowest locality: its interval is the one the
    two published DSR intervals imply (so it tells nothing they do not), and bounds no count."""
    from healthgap.pages.geography import GeographyPage

    page = GeographyPage.for_frame(config_2003, people_2003, downloads=tmp_path)
    assert page.localities is not None
    table = page.localities.frame.with_columns(pl.lit(True).alias("standardised"))
    z = z_value(0.95)
    compared = 0
    for measure in page.locality_measures:
        rows = bounds(table.filter(pl.col("measure") == measure))
        if rows.height < 2:
            continue
        hi = rows.sort("value", descending=True).row(0, named=True)
        lo = rows.sort("value").row(0, named=True)
        ratio = page.locality_ratio(measure, hi["level"], lo["level"])
        assert ratio is not None and ratio["lower_ci"] is not None
        se2 = (math.log(ratio["upper_ci"] / ratio["lower_ci"]) / (2 * z)) ** 2
        assert se2 == pytest.approx(1 / hi["bound"] + 1 / lo["bound"], rel=1e-9)
        assert 1 / (se2 - 1 / lo["bound"]) <= hi["events"] + EPS
        compared += 1
    assert compared >= 2


def _two_groups(
    scale: int, *, column: str = "sex", groups: tuple[str, str] = ("female", "male")
) -> pl.DataFrame:
    """A group with ``scale`` cases among ``100 * scale`` people aged 45 and ``scale`` among
    ``200 * scale`` aged 70 (the same age-specific rates whatever ``scale``), and a fixed other group."""
    small, large = groups
    rows = []
    for band_age, (cases, people) in {45: (scale, 100 * scale), 70: (scale, 200 * scale)}.items():
        rows += [(small, band_age, i < cases) for i in range(people)]
    for band_age, (cases, people) in {45: (30, 1000), 70: (60, 2000)}.items():
        rows += [(large, band_age, i < cases) for i in range(people)]
    return pl.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(len(rows))],
            column: [r[0] for r in rows],
            "age": [r[1] for r in rows],
            "hypertension": [r[2] for r in rows],
        }
    )


def test_same_rates_with_counts_that_round_alike_publish_the_same_dsr_row(tmp_path):
    """16 and 14 women with hypertension (both published as 15) in the same age-specific rates.

    The DSR is the same; the limits and the rate ratio's interval must be too, or they tell
    the two counts apart.
    """
    from healthgap.pages.recorded_disease import RecordedDiseasePage
    from tests.pages.conftest import build_page

    rows = []
    for scale in (8, 7):
        page = build_page(
            RecordedDiseasePage,
            _two_groups(scale),
            tmp_path / str(scale),
            target=False,
            equity={"dimensions": [{"name": "sex", "reference": "male"}]},
        )
        row = page.published.row(level="female", measure="hypertension")
        assert row is not None
        rows.append(row)
    sixteen, fourteen = rows
    assert sixteen["events"] == fourteen["events"] == 15
    for column in ("value", "lower_ci", "upper_ci", "rate_ratio", "rr_lower", "rr_upper"):
        assert sixteen[column] == pytest.approx(fourteen[column], rel=1e-12), column


def test_same_rates_with_counts_that_round_alike_give_the_same_locality_ratio(tmp_path):
    """The geography page's ratio of two localities, 16 or 14 cases (published as 15) at the same rates."""
    from healthgap.pages.geography import GeographyPage
    from tests.pages.conftest import build_page

    ratios = []
    for scale in (8, 7):
        page = build_page(
            GeographyPage,
            _two_groups(scale, column="locality", groups=("Harwich", "Ipswich")),
            tmp_path / str(scale),
            target=False,
            equity={"dimensions": ["locality"]},
        )
        ratio = page.locality_ratio("hypertension", "Harwich", "Ipswich")
        assert ratio is not None
        ratios.append(ratio)
    sixteen, fourteen = ratios
    assert sixteen["events"] == fourteen["events"] == 15
    for column in ("value", "lower_ci", "upper_ci"):
        assert sixteen[column] == pytest.approx(fourteen[column], rel=1e-12), column
