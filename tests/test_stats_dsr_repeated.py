"""DSRs of events that can repeat for one person (admissions): dsr(frequency=) and
dsr_by(repeated=) against PHEindicatormethods' published test results and a direct
numpy calculation of the variance from each person's number of events."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from healthgap.stats import AGE_BAND_LABELS, age_bands, dsr, dsr_by
from healthgap.stats.dsr import METHOD_NONINDEPENDENT, NOTE_FEW_EVENTS, POPULATION_VARIES

WEIGHTS = np.array(
    [
        5000,
        5500,
        5500,
        5500,
        6000,
        6000,
        6500,
        7000,
        7000,
        7000,
        7000,
        6500,
        6000,
        5500,
        5000,
        4000,
        2500,
        1500,
        1000,
    ],
    dtype=float,
)

# PHEindicatormethods tests/testthat/testdata_DSR_ISR.xlsx, sheet "testdata_nonindepe"
# (ukhsa-collaboration/PHEindicatormethods, v2.0.0): people with 1, 2, 3 and 4 events by
# ESP2013 band (rows in band order), the same population in every area. Empty cells of the
# sheet are zeros (the package reads them as NA and counts them as 0).
POP = [636, 558, 609, 543, 384, 594, 669, 843, 660, 576, 606, 522, 426, 273, 300, 288, 153, 123, 207]
PEOPLE = {
    "big": (
        [75, 16, 11, 12, 8, 18, 26, 18, 18, 21, 21, 23, 23, 39, 25, 40, 46, 49, 56],
        [16, 3, 2, 3, 0, 3, 6, 3, 4, 4, 4, 4, 6, 8, 5, 9, 9, 10, 11],
        [4, 1, 1, 1, 0, 1, 2, 1, 1, 1, 1, 1, 2, 2, 1, 2, 2, 3, 3],
        [2, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1],
    ),
    "dummy": (
        [80, 15, 10, 17, 12, 25, 30, 20, 19, 23, 19, 30, 19, 25, 15, 20, 30, 29, 22],
        [10, 5, 1, 2, 0, 1, 9, 2, 5, 3, 5, 2, 7, 14, 10, 18, 16, 19, 21],
        [9, 0, 2, 0, 0, 0, 0, 1, 0, 1, 1, 0, 4, 4, 1, 4, 4, 5, 9],
        [0] * 19,
    ),
    "small": (
        [7, 4, 3, 0, 3, 4, 5, 2, 2, 3, 4, 5, 3, 5, 5, 3, 5, 5, 4],
        [1] + [0] * 18,
        [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0],
        [0] * 19,
    ),
    "tiny": (
        [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0],
        [0] * 17 + [1, 0],
        [0] * 18 + [1],
        [0] * 19,
    ),
}
# Sheet "testresults_DSR", rows testdata_nonind_*: total events, DSR per 100,000, 95% and
# 99.8% limits; method "Dobson, with confidence adjusted for non-independent events".
PUBLISHED = {
    "big": (895, 10430.24799147, 9532.94977862, 11373.07483298, 9036.25631357, 11929.24980749),
    "dummy": (895, 10430.24799147, 9512.29883752, 11394.77359633, 9004.17418121, 11963.74870404),
    "small": (89, 1082.95419841, 817.68609755, 1393.55884927, 684.16751792, 1585.49645593),
    "tiny": (9, None, None, None, None, None),
}


def frequency_table() -> pl.DataFrame:
    rows = [
        pl.DataFrame({"area": area, "band": AGE_BAND_LABELS, "freq": f + 1, "persons": people, "pop": POP})
        for area, counts in PEOPLE.items()
        for f, people in enumerate(counts)
    ]
    return pl.concat(rows)


@pytest.mark.parametrize("confidence,cols", [(0.95, (2, 3)), (0.998, (4, 5))])
def test_matches_phe_published_non_independent_results(confidence, cols):
    out = dsr(
        frequency_table(),
        events="persons",
        population="pop",
        age_band="band",
        by="area",
        frequency="freq",
        confidence=confidence,
    )
    for row in out.iter_rows(named=True):
        ref = PUBLISHED[row["area"]]
        assert row["persons"] == ref[0] and row["pop"] == sum(POP)
        assert row["method"] == METHOD_NONINDEPENDENT
        if ref[1] is None:
            assert row["value"] is None and row["note"] == NOTE_FEW_EVENTS
            continue
        got = (row["value"], row["lower_ci"], row["upper_ci"])
        assert got == pytest.approx((ref[1], ref[cols[0]], ref[cols[1]]), rel=1e-9)


def person_level(rng: np.random.Generator, n: int = 4000) -> pl.DataFrame:
    """People aged 30-94 with a Poisson-gamma number of admissions (clustered in people)."""
    frailty = rng.gamma(0.5, 2.0, n)
    return pl.DataFrame(
        {
            "age": rng.integers(30, 95, n),
            "imd": rng.integers(1, 4, n),
            "adm": rng.poisson(0.2 * frailty),
        }
    )


def direct_reference(people: pl.DataFrame, confidence: float) -> dict[int, tuple[float, float, float]]:
    """DSR and Dobson limits with var = Σ_i (w_i/n_i)² Σ_p f_p² / W², from numpy per person."""
    out = {}
    band = np.minimum(people["age"].to_numpy() // 5, 18)
    f = people["adm"].to_numpy().astype(float)
    z = norm.ppf(1 - (1 - confidence) / 2)
    for q in np.unique(people["imd"].to_numpy()):
        m = people["imd"].to_numpy() == q
        n_i = np.bincount(band[m], minlength=19).astype(float)
        o_i = np.bincount(band[m], weights=f[m], minlength=19)
        sq_i = np.bincount(band[m], weights=f[m] ** 2, minlength=19)
        w = WEIGHTS
        safe = np.where(n_i > 0, n_i, 1.0)
        value = np.sum(np.where(n_i > 0, w * o_i / safe, 0.0)) / w.sum()
        var = np.sum(np.where(n_i > 0, (w / safe) ** 2 * sq_i, 0.0)) / w.sum() ** 2
        total = o_i.sum()
        lo_o = total * (1 - 1 / (9 * total) - z / (3 * np.sqrt(total))) ** 3
        hi_o = (total + 1) * (1 - 1 / (9 * (total + 1)) + z / (3 * np.sqrt(total + 1))) ** 3
        spread = np.sqrt(var / total)
        out[int(q)] = (
            value * 1e5,
            max(0.0, value + spread * (lo_o - total)) * 1e5,
            (value + spread * (hi_o - total)) * 1e5,
        )
    return out


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_dsr_by_repeated_matches_per_person_variance(confidence):
    people = person_level(np.random.default_rng(3))
    ref = direct_reference(people, confidence)
    out = dsr_by(people, events=["adm"], dimensions=["imd"], repeated=["adm"], confidence=confidence)
    assert (out["method"] == METHOD_NONINDEPENDENT).all()
    for row in out.iter_rows(named=True):
        got = (row["value"], row["lower_ci"], row["upper_ci"])
        assert got == pytest.approx(ref[int(row["level"])], rel=1e-10)


def test_frequency_table_and_person_level_agree():
    people = person_level(np.random.default_rng(4))
    banded = people.with_columns(age_bands("age"))
    freq = (
        banded.group_by("imd", "age_band", "adm")
        .agg(pl.len().alias("persons"))
        .join(banded.group_by("imd", "age_band").agg(pl.len().alias("pop")), on=["imd", "age_band"])
    )
    # bands with nobody are absent from the frequency table: standardise over the bands present
    a = dsr(
        freq,
        events="persons",
        population="pop",
        age_band="age_band",
        by="imd",
        frequency="adm",
        bands="covered",
    )
    b = dsr_by(people, events=["adm"], dimensions=["imd"], repeated=["adm"], bands="covered")
    assert a["persons"].to_list() == b["events"].to_list()
    for c in ("value", "lower_ci", "upper_ci"):
        assert np.allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-12)


def test_repeated_events_widen_the_interval_and_keep_the_rate():
    people = person_level(np.random.default_rng(5))
    indep = dsr_by(people, events=["adm"], dimensions=["imd"])
    rep = dsr_by(people, events=["adm"], dimensions=["imd"], repeated=["adm"])
    assert np.allclose(indep["value"].to_numpy(), rep["value"].to_numpy(), rtol=1e-13)
    assert (rep["upper_ci"] > indep["upper_ci"]).all() and (rep["lower_ci"] < indep["lower_ci"]).all()


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_one_event_per_person_is_the_independent_interval(seed):
    rng = np.random.default_rng(seed)
    people = person_level(rng).with_columns(pl.col("adm").clip(upper_bound=1))
    a = dsr_by(people, events=["adm"], dimensions=["imd"])
    b = dsr_by(people, events=["adm"], dimensions=["imd"], repeated=["adm"])
    for c in ("value", "lower_ci", "upper_ci"):
        assert np.allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-12, equal_nan=True)


def test_coverage_of_clustered_events_by_simulation():
    """Events clustered in people (negative binomial per person, variance twice the mean): the
    non-independent interval covers the true DSR about as often as it says (a little more);
    the independent one too rarely (about 83%)."""
    rng = np.random.default_rng(11)
    n, sims, shape, mean = 3000, 300, 0.15, 0.15
    age = rng.integers(40, 95, n)
    true = mean * 1e5  # the same rate in every band, so the DSR over the covered bands
    frames = []
    for s in range(sims):  # simulated data sets (not data rows)
        f = rng.poisson(rng.gamma(shape, mean / shape, n))
        frames.append(pl.DataFrame({"sim": s, "age": age, "adm": f}))
    people = pl.concat(frames)
    hits = {}
    for label, repeated in (("indep", []), ("rep", ["adm"])):
        out = dsr_by(people, events=["adm"], dimensions=["sim"], repeated=repeated, bands="covered")
        lower, upper = out["lower_ci"].to_numpy(), out["upper_ci"].to_numpy()
        hits[label] = np.mean((lower <= true) & (true <= upper))
    # Σ f² (not the centred sum of squares) makes the PHE interval slightly conservative
    assert 0.93 <= hits["rep"] <= 0.99, hits
    assert hits["indep"] < 0.88, hits


def test_frequency_rows_must_share_the_band_population():
    bad = frequency_table().with_columns(
        pl.when((pl.col("freq") == 2) & (pl.col("band") == "0-4"))
        .then(1)
        .otherwise(pl.col("pop"))
        .alias("pop")
    )
    with pytest.raises(ValueError, match="one population") as err:
        dsr(bad, events="persons", population="pop", age_band="band", by="area", frequency="freq")
    assert str(err.value).startswith(POPULATION_VARIES.split("{")[0])
