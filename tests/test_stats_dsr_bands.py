"""DSRs over the age bands the data cover (bands=): the ESP2013 restricted and renormalised,
against a direct numpy calculation; groups with an empty band get a note, not a DSR."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from healthgap.stats import AGE_BAND_LABELS, counts_by_age_band, dsr, dsr_by, rate_ratio
from healthgap.stats._bands import BAD_BANDS, NO_COVERED_BANDS, UNKNOWN_BANDS
from healthgap.stats.dsr import NOTE_EMPTY_BAND, NOTE_FEW_EVENTS

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


def reference(o, n, w, confidence=0.95):
    """DSR with the weights ``w`` (already restricted) and Dobson/Byar's limits, in numpy."""
    o, n, w = (np.asarray(v, float) for v in (o, n, w))
    value = np.sum(w * o / n) / w.sum()
    var = np.sum((w / n) ** 2 * o) / w.sum() ** 2
    total, z = o.sum(), norm.ppf(1 - (1 - confidence) / 2)
    lo = total * (1 - 1 / (9 * total) - z / (3 * np.sqrt(total))) ** 3
    hi = (total + 1) * (1 - 1 / (9 * (total + 1)) + z / (3 * np.sqrt(total + 1))) ** 3
    s = np.sqrt(var / total)
    return value * 1e5, (value + s * (lo - total)) * 1e5, (value + s * (hi - total)) * 1e5


def adults(rng, groups=("a", "b"), first=8):
    """Counts by group x all 19 bands, with people only from band ``first`` (40-44) up."""
    rows = []
    for g in groups:
        n = rng.integers(300, 3000, 19)
        n[:first] = 0
        o = rng.binomial(n, np.linspace(0.01, 0.3, 19))
        rows.append(pl.DataFrame({"g": g, "band": AGE_BAND_LABELS, "o": o, "n": n}))
    return pl.concat(rows)


@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_covered_bands_restrict_and_renormalise_the_standard(confidence):
    data = adults(np.random.default_rng(1))
    out = dsr(
        data, events="o", population="n", age_band="band", by="g", bands="covered", confidence=confidence
    )
    for row in out.iter_rows(named=True):
        part = data.filter(pl.col("g") == row["g"])
        ref = reference(part["o"][8:], part["n"][8:], WEIGHTS[8:], confidence)
        assert (row["value"], row["lower_ci"], row["upper_ci"]) == pytest.approx(ref, rel=1e-12)
        assert row["bands"] == list(AGE_BAND_LABELS[8:]) and row["empty_bands"] == []
        assert row["note"] is None


def test_default_standard_is_unchanged_and_proportional():
    # bands=None keeps every ESP2013 band: the under-40 bands count as zero rates, so the DSR is
    # the covered DSR times the share of the standard that the covered bands hold
    data = adults(np.random.default_rng(2))
    full = dsr(data, events="o", population="n", age_band="band", by="g")
    covered = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered")
    assert "bands" not in full.columns
    share = WEIGHTS[8:].sum() / WEIGHTS.sum()
    assert np.allclose(full["value"].to_numpy(), covered["value"].to_numpy() * share, rtol=1e-12)


def test_explicit_list_equals_covered_and_drops_other_bands():
    data = adults(np.random.default_rng(3))
    covered = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered")
    listed = dsr(
        data, events="o", population="n", age_band="band", by="g", bands=list(reversed(AGE_BAND_LABELS[8:]))
    )
    assert listed["bands"].to_list() == covered["bands"].to_list()  # sorted in age order
    assert np.allclose(listed["value"].to_numpy(), covered["value"].to_numpy(), rtol=1e-13)
    older = dsr(data, events="o", population="n", age_band="band", by="g", bands=["65-69", "70-74"])
    part = data.filter(pl.col("g") == "a")
    ref = reference(part["o"][13:15], part["n"][13:15], WEIGHTS[13:15])
    assert older["value"][0] == pytest.approx(ref[0], rel=1e-12)
    assert older["o"][0] == part["o"][13:15].sum() and older["n"][0] == part["n"][13:15].sum()


def test_group_with_an_empty_band_gets_a_note_not_a_dsr():
    data = adults(np.random.default_rng(4), groups=("a", "b", "c"))
    data = data.with_columns(
        pl.when((pl.col("g") == "b") & pl.col("band").is_in(["85-89", "45-49"]))
        .then(0)
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("o", "n")
    )
    out = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered")
    b = out.filter(pl.col("g") == "b").row(0, named=True)
    assert b["value"] is None and b["lower_ci"] is None and b["note"] == NOTE_EMPTY_BAND
    assert b["empty_bands"] == ["45-49", "85-89"]  # in age order
    assert out.filter(pl.col("g") != "b")["note"].null_count() == 2
    # without the option the empty bands count as zero rates (the behaviour pages rely on)
    legacy = dsr(data, events="o", population="n", age_band="band", by="g")
    assert legacy.filter(pl.col("g") == "b")["value"][0] is not None


def test_a_group_with_too_few_events_says_so_before_its_empty_band():
    """A group with an empty band and fewer than 10 events (here none) gets the few-events note, as
    its count shows (was "no people in an age band" beside 0 deaths: round-5 reader); a group with
    enough events and an empty band keeps the empty-band note."""
    data = adults(np.random.default_rng(4), groups=("a", "b", "c"))
    empty = pl.col("band").is_in(["85-89"])
    data = data.with_columns(
        pl.when(pl.col("g").is_in(["b", "c"]) & empty).then(0).otherwise(pl.col("n")).alias("n"),
        pl.when((pl.col("g") == "b") | ((pl.col("g") == "c") & empty))
        .then(0)
        .otherwise(pl.col("o"))
        .alias("o"),
    )
    out = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered").sort("g")
    assert out["note"].to_list() == [None, NOTE_FEW_EVENTS, NOTE_EMPTY_BAND]
    assert out["value"].to_list()[1:] == [None, None]
    assert out["empty_bands"].to_list() == [[], ["85-89"], ["85-89"]]


def test_missing_rows_of_a_used_band_are_an_empty_band():
    data = adults(np.random.default_rng(5)).filter(~((pl.col("g") == "a") & (pl.col("band") == "90+")))
    out = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered")
    assert out["note"].to_list() == [NOTE_EMPTY_BAND, None]
    assert out["empty_bands"].to_list() == [["90+"], []]


def test_few_events_and_custom_standard():
    data = adults(np.random.default_rng(6)).with_columns(pl.Series("w", np.tile(WEIGHTS, 2)))
    a = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered")
    b = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered", standard="w")
    assert b["bands"].to_list() == a["bands"].to_list()
    assert np.allclose(a["upper_ci"].to_numpy(), b["upper_ci"].to_numpy(), rtol=1e-12)
    few = data.with_columns(pl.when(pl.col("band") != "90+").then(0).otherwise(3).alias("o"))
    out = dsr(few, events="o", population="n", age_band="band", by="g", bands="covered")
    assert out["note"].to_list() == [NOTE_FEW_EVENTS] * 2


def test_bad_bands():
    data = adults(np.random.default_rng(7))
    with pytest.raises(ValueError, match="bands must be None") as err:
        dsr(data, events="o", population="n", age_band="band", bands="all")
    assert str(err.value) == BAD_BANDS.format(func="dsr", value="all")
    with pytest.raises(ValueError, match="not bands of the standard"):
        dsr(data, events="o", population="n", age_band="band", bands=["40-45"])
    assert "40-45" in UNKNOWN_BANDS.format(func="dsr", labels="'40-45'", expected="")
    with pytest.raises(ValueError, match="no age band has any people"):
        dsr(
            data.with_columns(n=pl.lit(0), o=pl.lit(0)),
            events="o",
            population="n",
            age_band="band",
            bands="covered",
        )
    assert NO_COVERED_BANDS.format(func="dsr")


def test_dsr_by_covered_bands_match_dsr():
    rng = np.random.default_rng(8)
    people = pl.DataFrame(
        {
            "age": rng.integers(40, 95, 6000),
            "imd": rng.integers(1, 6, 6000),
            "sex": rng.choice(["f", "m"], 6000),
            "chd": rng.random(6000) < 0.15,
        }
    )
    # nobody aged 90+ in the most deprived fifth: that fifth gets the note
    people = people.filter(~((pl.col("imd") == 1) & (pl.col("age") >= 90)))
    out = dsr_by(people, events=["chd"], dimensions=["imd", "sex"], bands="covered")
    assert out["bands"][0].to_list() == list(AGE_BAND_LABELS[8:])
    for dim in ("imd", "sex"):
        counts = counts_by_age_band(people, events="chd", by=dim)
        ref = dsr(counts, events="chd", population="population", age_band="age_band", by=dim, bands="covered")
        got = out.filter(pl.col("dimension") == dim)
        assert got["note"].to_list() == ref["note"].to_list()
        assert got["empty_bands"].to_list() == ref["empty_bands"].to_list()
        assert np.allclose(got["value"].to_numpy(), ref["value"].to_numpy(), rtol=1e-12, equal_nan=True)
        assert np.allclose(got["lower_ci"].to_numpy(), ref["lower_ci"].to_numpy(), rtol=1e-12, equal_nan=True)
    assert out.filter((pl.col("dimension") == "imd") & (pl.col("level") == "1"))["note"][0] == NOTE_EMPTY_BAND


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), first=st.integers(0, 15))
def test_covered_bands_property(seed, first):
    rng = np.random.default_rng(seed)
    data = adults(rng, groups=("a", "b", "c"), first=first)
    out = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered")
    assert out["bands"][0].to_list() == list(AGE_BAND_LABELS[first:])
    for row in out.filter(pl.col("value").is_not_null()).iter_rows(named=True):
        part = data.filter(pl.col("g") == row["g"])
        ref = reference(part["o"][first:], part["n"][first:], WEIGHTS[first:])
        assert row["value"] == pytest.approx(ref[0], rel=1e-12)
        assert 0 <= row["lower_ci"] <= row["value"] <= row["upper_ci"]


def test_rate_ratio_of_dsrs_passes_the_bands_through():
    data = adults(np.random.default_rng(9))
    rr = rate_ratio(
        data, events="o", population="n", group="g", reference="a", age_band="band", bands="covered"
    )
    d = dsr(data, events="o", population="n", age_band="band", by="g", bands="covered")
    assert rr["value"][1] == pytest.approx(d["value"][1] / d["value"][0], rel=1e-12)
