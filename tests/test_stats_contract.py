"""Every statistic returns the output contract, accepts LazyFrames and both confidence levels."""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.stats import (
    concentration_index,
    crude_rate,
    dsr,
    funnel_flag,
    isr,
    proportion,
    rate_difference,
    rate_ratio,
    sii,
    simultaneous_intervals,
)
from healthgap.stats._common import CONTRACT_COLUMNS
from healthgap.stats.esp2013 import AGE_BAND_LABELS

COUNTS = pl.LazyFrame(
    {
        "g": ["a", "b", "c", "d", "e"],
        "q": [1, 2, 3, 4, 5],
        "o": [40, 30, 25, 20, 12],
        "n": [1000, 1100, 900, 1000, 950],
    }
)
BANDS = pl.LazyFrame(
    {
        "g": ["a"] * 19 + ["b"] * 19,
        "band": list(AGE_BAND_LABELS) * 2,
        "o": list(range(1, 20)) * 2,
        "n": [1000] * 38,
    }
)
SII_IN = pl.LazyFrame(
    {
        "q": [1, 2, 3, 4, 5],
        "n": [10] * 5,
        "v": [5.0, 4, 3, 2, 1],
        "l": [4.0, 3, 2, 1, 0.5],
        "u": [6.0, 5, 4, 3, 2],
    }
)

CALLS = {
    "crude_rate": lambda c: crude_rate(COUNTS, events="o", population="n", by="g", confidence=c),
    "proportion": lambda c: proportion(COUNTS, numerator="o", denominator="n", by="g", confidence=c),
    "dsr": lambda c: dsr(BANDS, events="o", population="n", age_band="band", by="g", confidence=c),
    "rate_ratio": lambda c: rate_ratio(
        COUNTS, events="o", population="n", group="q", reference=5, confidence=c
    ),
    "rate_difference": lambda c: rate_difference(
        BANDS, events="o", population="n", group="g", reference="a", age_band="band", confidence=c
    ),
    "sii": lambda c: sii(
        SII_IN,
        quantile="q",
        population="n",
        value="v",
        lower_ci="l",
        upper_ci="u",
        repetitions=1000,
        confidence=c,
    ),
    "concentration_index": lambda c: concentration_index(
        COUNTS, quantile="q", events="o", population="n", confidence=c
    ),
    "funnel_flag": lambda c: funnel_flag(
        COUNTS, numerator="o", denominator="n", unit="g", kind="rate", confidence=c
    ),
    "isr": lambda c: isr(BANDS, events="o", population="n", unit="g", strata="band", confidence=c),
    "simultaneous_intervals": lambda c: simultaneous_intervals(
        COUNTS.with_columns(se=pl.col("o").sqrt()), group="g", estimate="o", std_error="se", confidence=c
    ),
}
ROWS = {
    "crude_rate": 5,
    "proportion": 5,
    "dsr": 2,
    "rate_ratio": 5,
    "rate_difference": 2,
    "sii": 1,
    "concentration_index": 1,
    "funnel_flag": 5,
    "isr": 2,
    "simultaneous_intervals": 10,
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_contract(name, confidence):
    out = CALLS[name](confidence)
    assert isinstance(out, pl.DataFrame) and out.height == ROWS[name]
    assert set(CONTRACT_COLUMNS) <= set(out.columns)
    assert (out["confidence"] == confidence).all()
    assert out["statistic"].null_count() == 0 and out["method"].null_count() == 0
    computed = out.filter(pl.col("note").is_null() & pl.col("lower_ci").is_not_null())
    assert computed.height > 0
    assert ((computed["lower_ci"] <= computed["value"]) & (computed["value"] <= computed["upper_ci"])).all()
