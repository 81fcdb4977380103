"""dsr_by (one scan, all dimensions x conditions) against dsr() per dimension and numpy."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_stats_dsr import WEIGHTS, dobson_reference  # tests/ is on sys.path (no package)

from healthgap.stats import AGE_BAND_LABELS, _cells, counts_by_age_band, dsr, dsr_by
from healthgap.stats.dimensions import (
    BAD_NAMES,
    DUPLICATE_NAMES,
    NO_NAMES,
    NULL_EVENTS,
    RESERVED_NAMES,
)

KEYS = ["dimension", "level", "condition"]
FLOATS = ["value", "lower_ci", "upper_ci"]


def per_dimension(people, events, dims, **kw) -> pl.DataFrame:
    """The reference: counts_by_age_band + dsr() once per dimension and condition."""
    frames = []
    for d in dims:
        counts = counts_by_age_band(people, events=events, by=d)
        if isinstance(counts, pl.LazyFrame):
            counts = counts.collect()
        for e in events:
            out = dsr(counts, events=e, population="population", age_band="age_band", by=d, **kw)
            frames.append(
                out.select(
                    pl.lit(d).alias("dimension"),
                    pl.col(d).cast(pl.String).alias("level"),
                    pl.lit(e).alias("condition"),
                    pl.col(e).cast(pl.Int64).alias("events"),
                    pl.col("population").cast(pl.Int64),
                    *FLOATS,
                    "confidence",
                    "statistic",
                    "method",
                    "note",
                )
            )
    return pl.concat(frames)


def assert_same(new: pl.DataFrame, ref: pl.DataFrame, rtol: float = 1e-12) -> None:
    """Same rows; counts, notes and null patterns exactly; DSRs and CIs to ``rtol``
    (only the order of a floating-point sum over the 19 bands can differ)."""
    assert new.height == ref.height
    j = new.join(ref, on=KEYS, how="full", nulls_equal=True, suffix="_ref")
    assert j.height == new.height, "the two results have different groups"
    for c in ("events", "population", "note", "confidence", "statistic", "method"):
        assert j[c].to_list() == j[f"{c}_ref"].to_list(), c
    for c in FLOATS:
        x, y = j[c].to_numpy().astype(float), j[f"{c}_ref"].to_numpy().astype(float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), c
        ok = ~np.isnan(x)
        np.testing.assert_allclose(x[ok], y[ok], rtol=rtol, atol=0)


def tiny_people() -> pl.DataFrame:
    rng = np.random.default_rng(5)
    n = 3000
    age = rng.integers(0, 100, n)
    q = rng.integers(1, 6, n)
    risk = 0.02 + 0.004 * age / 10 + 0.01 * (5 - q)
    return pl.DataFrame(
        {
            "age": age,
            "imd_quintile": q,
            "ethnicity": rng.choice(["White", "Asian", "Black", "Mixed", "Other", "Not stated"], n),
            "sex": rng.choice(["female", "male"], n),
            "smoker": rng.random(n) < 0.2,
            "hypertension": rng.random(n) < risk * 3,
            "chd": rng.random(n) < risk,
        }
    )


def test_matches_per_dimension_dsr_and_output_contract():
    people = tiny_people()
    dims, events = ["imd_quintile", "ethnicity", "sex", "smoker"], ["hypertension", "chd"]
    out = dsr_by(people, events=events, dimensions=dims)
    assert out.columns == [
        *KEYS,
        "events",
        "population",
        "value",
        "lower_ci",
        "upper_ci",
        "confidence",
        "statistic",
        "method",
        "note",
    ]
    assert_same(out, per_dimension(people, events, dims))
    # ordered by dimension and condition as given, levels in their own order
    assert out["dimension"].unique(maintain_order=True).to_list() == dims
    q = out.filter(pl.col("dimension") == "imd_quintile")
    assert q["level"].to_list() == [x for x in "12345" for _ in events]
    assert q["condition"].to_list()[:2] == events
    smoker = out.filter(pl.col("dimension") == "smoker")["level"]
    assert smoker.unique(maintain_order=True).to_list() == ["false", "true"]
    assert out["statistic"][0] == "DSR per 100,000" and out["method"][0] == "Dobson"


def test_against_direct_numpy_dobson():
    people = tiny_people()
    out = dsr_by(people, events=["hypertension"], dimensions=["sex"], confidence=0.998)
    band = np.minimum(people["age"].to_numpy() // 5, 18)
    for row in out.iter_rows(named=True):
        mine = (people["sex"] == row["level"]).to_numpy()
        o = np.bincount(band[mine], weights=people["hypertension"].to_numpy()[mine], minlength=19)
        n = np.bincount(band[mine], minlength=19)
        ref = dobson_reference(o, n, WEIGHTS, 0.998)
        assert (row["value"], row["lower_ci"], row["upper_ci"]) == pytest.approx(ref, rel=1e-12)
        assert row["events"] == o.sum() and row["population"] == n.sum()


def test_synthetic_population_20000(synthetic_dir):
    people = pl.read_parquet(synthetic_dir / "synthetic" / "population.parquet")
    dims = ["imd_quintile", "ethnicity", "sex", "locality"]
    events = ["hypertension", "chd", "af", "stroke_tia"]
    out = dsr_by(people.lazy(), events=events, dimensions=dims)
    assert_same(out, per_dimension(people, events, dims))
    assert out.height == sum(people[d].n_unique() for d in dims) * len(events)
    assert set(out.filter(pl.col("events") < 10)["note"].to_list()) <= {"total events < 10"}


def test_missing_and_odd_values():
    people = pl.DataFrame(
        {
            "age": [3.7, 7, -1, None, 40, 41, 95, 120, 66, 66, 12, 30] * 3,
            "group": ["a", None, "b", "a", "b", "b", "a", None, "a", "b", "a", "b"] * 3,
            "level": [None, 1, 2, 1, 2, 10, 1, 2, 10, 1, 2, 2] * 3,
            "ev": [1, 0, 2, 1, 0, 3, 1, 0, 1, 0, 2, 1] * 3,
        }
    ).rename({"level": "lvl"})
    out = dsr_by(people, events=["ev"], dimensions=["group", "lvl"], multiplier=1000)
    assert_same(out, per_dimension(people, ["ev"], ["group", "lvl"], multiplier=1000))
    # missing levels are kept (last), ints are in numeric order, bad ages are left out
    assert out.filter(pl.col("dimension") == "lvl")["level"].to_list() == ["1", "2", "10", None]
    assert out.filter(pl.col("dimension") == "group")["level"].to_list() == ["a", "b", None]
    assert out.filter(pl.col("dimension") == "group")["population"].sum() == 30


@pytest.mark.parametrize(
    "patch",
    [
        {"MAX_DENSE_KEYS": 0},  # sparse keys: polars group-by instead of bincount
        {"MAX_EVENT_BITS": 0},  # event sums instead of event bits
        {"_KEY_LIMIT": 1000},  # group by the code columns instead of one key
        {"MAX_INT_SPAN": 2},  # integers hashed like strings
        {"_modulus": lambda hashes: None},  # dense codes by value (replace_strict)
        {"MAX_HASHED_LEVELS": 1},  # many levels: dense codes by value
    ],
)
def test_every_coding_path_gives_the_same_result(monkeypatch, patch):
    people = tiny_people().with_columns(
        pl.col("ethnicity").cast(pl.Enum(["White", "Asian", "Black", "Mixed", "Other", "Not stated"])),
        pl.col("sex").replace({"male": None}),
    )
    dims, events = ["imd_quintile", "ethnicity", "sex", "smoker"], ["hypertension", "chd"]
    ref = per_dimension(people, events, dims)
    for name, value in patch.items():
        monkeypatch.setattr(_cells, name, value)
    assert_same(dsr_by(people, events=events, dimensions=dims), ref)


def test_expressions_for_events_and_age():
    people = tiny_people()
    out = dsr_by(
        people,
        events=[pl.col("chd").alias("heart"), "hypertension"],
        dimensions=["sex"],
        age=(pl.col("age") + 1).alias("age_next"),
    )
    ref = per_dimension(
        people.with_columns(pl.col("chd").alias("heart"), (pl.col("age") + 1).alias("age")),
        ["heart", "hypertension"],
        ["sex"],
    )
    assert_same(out, ref)


@st.composite
def person_tables(draw):
    n = draw(st.integers(1, 60))
    ages = st.one_of(st.none(), st.integers(-3, 110))
    return pl.DataFrame(
        {
            "age": draw(st.lists(ages, min_size=n, max_size=n)),
            "s": draw(st.lists(st.sampled_from(["x", "y", "zz", None]), min_size=n, max_size=n)),
            "k": draw(st.lists(st.integers(-2, 3), min_size=n, max_size=n)),
            "b": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "e1": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "e2": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        },
        schema_overrides={"age": pl.Int64, "s": pl.String},
    )


@settings(max_examples=40, deadline=None)
@given(person_tables(), st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter_and_matches_per_dimension(people, seed):
    people = pl.concat([people] * 8)  # enough events for some DSRs
    if people["age"].drop_nulls().filter(people["age"].drop_nulls() >= 0).is_empty():
        return  # nobody with a valid age: nothing to standardise
    dims, events = ["s", "k", "b"], ["e1", "e2"]
    out = dsr_by(people, events=events, dimensions=dims)
    shuffled = dsr_by(people.sample(fraction=1.0, shuffle=True, seed=seed), events=events, dimensions=dims)
    assert out.select(*KEYS, "events", "population", "note").equals(
        shuffled.select(*KEYS, "events", "population", "note")
    )
    for c in FLOATS:
        np.testing.assert_allclose(
            out[c].to_numpy().astype(float), shuffled[c].to_numpy().astype(float), rtol=1e-12
        )
    valid = people.filter(pl.col("age") >= 0)
    assert_same(out, per_dimension(valid, events, dims))


def test_bands_cover_every_age():
    people = pl.DataFrame({"age": list(range(0, 121)), "g": ["a"] * 121, "e": [True] * 121})
    out = dsr_by(people, events=["e"], dimensions=["g"])
    counts = counts_by_age_band(people, events="e", by="g")
    assert out["population"].item() == counts["population"].sum() == 121
    assert counts.filter(pl.col("age_band") == AGE_BAND_LABELS[-1])["population"].item() == 31


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"events": "chd", "dimensions": ["nope"]}, "column(s) 'nope' not found"),
        ({"events": 5, "dimensions": ["sex"]}, BAD_NAMES.split("{")[0]),
        ({"events": ["chd"], "dimensions": [pl.col("sex")]}, "dimensions must be a list"),
        ({"events": [], "dimensions": ["sex"]}, NO_NAMES.format(what="events")),
        ({"events": ["chd"], "dimensions": []}, NO_NAMES.format(what="dimensions")),
        ({"events": ["chd"], "dimensions": ["sex", "sex"]}, DUPLICATE_NAMES.split("{")[0]),
        ({"events": ["chd"], "dimensions": ["chd"]}, "'chd'"),
        (
            {"events": [pl.col("chd").alias("population")], "dimensions": ["sex"]},
            RESERVED_NAMES.split("{")[0],
        ),
        ({"events": ["sex"], "dimensions": ["chd"]}, "must be numeric"),
        ({"events": ["chd"], "dimensions": ["sex"], "confidence": 95}, "strictly between"),
    ],
)
def test_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        dsr_by(tiny_people(), **kwargs)
    assert message in str(err.value)


def test_null_and_negative_events_are_errors():
    people = tiny_people().with_columns(pl.col("chd").cast(pl.Int64))
    with pytest.raises(ValueError, match="missing"):
        dsr_by(
            people.with_columns(pl.lit(None, dtype=pl.Int64).alias("chd")), events=["chd"], dimensions=["sex"]
        )
    assert NULL_EVENTS.startswith("dsr_by(): events column")
    with pytest.raises(ValueError, match="negative"):
        dsr_by(people.with_columns(-pl.col("chd")), events=["chd"], dimensions=["sex"])


def test_categorical_and_float_dimensions():
    people = tiny_people().with_columns(
        pl.col("ethnicity").cast(pl.Categorical),
        (pl.col("imd_quintile") * 0.5).alias("half"),
    )
    dims, events = ["ethnicity", "half"], ["hypertension", "chd"]
    assert_same(dsr_by(people, events=events, dimensions=dims), per_dimension(people, events, dims))


def test_a_text_dimension_with_only_missing_values_is_one_missing_level():
    """Found by hypothesis in CI: a String column whose every value is null."""
    people = pl.DataFrame(
        {"age": [0, 40, 70], "s": [None, None, None], "e1": [False, True, True]},
        schema_overrides={"s": pl.String},
    )
    out = dsr_by(people, events=["e1"], dimensions=["s"])
    assert out.height == 1 and out["level"].to_list() == [None]
    assert out["population"].to_list() == [3] and out["events"].to_list() == [2]
