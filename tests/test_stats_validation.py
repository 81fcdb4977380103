"""One test per validation message of healthgap.stats (each asserts the message constant)."""

from __future__ import annotations

import importlib

import polars as pl
import pytest

from healthgap.stats import _common as C
from healthgap.stats import (
    ageband,
    compare,
    concentration,
    concentration_index,
    counts_by_age_band,
    crude_rate,
    dsr,
    funnel,
    funnel_flag,
    funnel_limits,
    proportion,
    rate_ratio,
    sii,
)
from healthgap.stats.esp2013 import AGE_BAND_LABELS

dsr_mod = importlib.import_module("healthgap.stats.dsr")  # the package attribute is the function
sii_mod = importlib.import_module("healthgap.stats.sii")

DF = pl.DataFrame({"g": ["a", "b"], "o": [1, 2], "n": [10, 20]})
BANDS = pl.DataFrame({"band": AGE_BAND_LABELS, "o": [1] * 19, "n": [10] * 19})
SII_DF = pl.DataFrame(
    {
        "q": [1, 2, 3, 4, 5],
        "n": [10] * 5,
        "v": [5.0, 4, 3, 2, 1],
        "l": [4.0, 3, 2, 1, 0.5],
        "u": [6.0, 5, 4, 3, 2],
    }
)
SII_ARGS = dict(quantile="q", population="n", value="v", lower_ci="l", upper_ci="u")


def message(excinfo) -> str:
    return str(excinfo.value)


def test_bad_frame():
    with pytest.raises(ValueError) as e:
        crude_rate({"o": [1]}, events="o", population="n")
    assert message(e) == C.BAD_FRAME.format(func="crude_rate", kind="dict")


def test_missing_columns():
    with pytest.raises(ValueError) as e:
        crude_rate(DF, events="deaths", population="n", by="g")
    assert message(e) == C.MISSING_COLUMNS.format(
        func="crude_rate", missing="'deaths'", available="'g', 'o', 'n'"
    )


@pytest.mark.parametrize("bad", [0, 1, 95, "0.95", True])
def test_bad_confidence(bad):
    with pytest.raises(ValueError) as e:
        proportion(DF, numerator="o", denominator="n", confidence=bad)
    assert message(e) == C.BAD_CONFIDENCE.format(func="proportion", value=bad)


def test_bad_multiplier():
    with pytest.raises(ValueError) as e:
        crude_rate(DF, events="o", population="n", multiplier=-5)
    assert message(e) == C.BAD_MULTIPLIER.format(func="crude_rate", value=-5)


def test_negative_counts():
    with pytest.raises(ValueError) as e:
        crude_rate(DF.with_columns(o=pl.Series([1, -3])), events="o", population="n", by="g")
    assert message(e) == C.NEGATIVE_COUNTS.format(func="crude_rate", column="o", minimum=-3)


def test_null_counts():
    with pytest.raises(ValueError) as e:
        proportion(DF.with_columns(n=pl.Series([None, 20])), numerator="o", denominator="n")
    assert message(e) == C.NULL_COUNTS.format(func="proportion", column="n", n=1)


def test_not_numeric():
    with pytest.raises(ValueError) as e:
        crude_rate(DF, events="g", population="n")
    assert message(e) == C.NOT_NUMERIC.format(func="crude_rate", column="g", dtype=pl.String)


def test_numerator_exceeds_denominator():
    with pytest.raises(ValueError) as e:
        proportion(DF, numerator="n", denominator="o", by="g")
    assert message(e) == C.NUMERATOR_EXCEEDS_DENOMINATOR.format(
        func="proportion", n=2, numerator="n", denominator="o"
    )
    with pytest.raises(ValueError) as e:
        funnel_flag(DF, numerator="n", denominator="o", unit="g", kind="proportion")
    assert message(e) == C.NUMERATOR_EXCEEDS_DENOMINATOR.format(
        func="funnel_flag", n=2, numerator="n", denominator="o"
    )


def test_counts_by_age_band_bad_events():
    with pytest.raises(ValueError) as e:
        counts_by_age_band(pl.DataFrame({"age": [1]}), events=3)
    assert message(e) == ageband.BAD_EVENTS.format(kind="int")


def test_counts_by_age_band_reserved_name():
    with pytest.raises(ValueError) as e:
        counts_by_age_band(pl.DataFrame({"age": [1], "population": [True]}), events="population")
    assert message(e) == ageband.RESERVED_NAME.format(name="population")


def test_dsr_unknown_age_bands():
    bad = BANDS.with_columns(pl.col("band").replace({"90+": "90-94", "0-4": "<5"}))
    with pytest.raises(ValueError) as e:
        dsr(bad, events="o", population="n", age_band="band")
    assert message(e) == dsr_mod.UNKNOWN_AGE_BANDS.format(
        labels="'90-94', '<5'", column="band", expected=", ".join(AGE_BAND_LABELS)
    )


def test_dsr_missing_age_bands():
    with pytest.raises(ValueError) as e:
        dsr(BANDS.with_columns(g=pl.lit("x")).head(17), events="o", population="n", age_band="band", by="g")
    assert message(e) == dsr_mod.MISSING_AGE_BANDS.format(n=1, k=19, example="g='x'")


def test_dsr_standard_varies_within_band():
    data = pl.concat([BANDS, BANDS.head(1).with_columns(n=pl.lit(5, dtype=pl.Int64))]).with_columns(
        w=pl.int_range(pl.len()) + 1
    )
    with pytest.raises(ValueError) as e:
        dsr(data, events="o", population="n", age_band="band", standard="w")
    assert message(e) == dsr_mod.STANDARD_VARIES.format(column="w", n=1, example="the whole data")


def test_dsr_events_without_population():
    with pytest.raises(ValueError) as e:
        dsr(
            BANDS.with_columns(pl.when(pl.col("band") == "0-4").then(0).otherwise("n").alias("n")),
            events="o",
            population="n",
            age_band="band",
        )
    assert message(e) == dsr_mod.EVENTS_WITHOUT_POPULATION.format(n=1, population="n")


def test_unknown_reference():
    with pytest.raises(ValueError) as e:
        rate_ratio(DF, events="o", population="n", group="g", reference="z")
    assert message(e) == compare.UNKNOWN_REFERENCE.format(
        func="rate_ratio", reference="z", group="g", levels="'a', 'b'"
    )


def test_sii_bad_value_type():
    with pytest.raises(ValueError) as e:
        sii(SII_DF, **SII_ARGS, value_type="ratio")
    assert message(e) == sii_mod.BAD_VALUE_TYPE.format(value="ratio")


def test_sii_bad_repetitions():
    with pytest.raises(ValueError) as e:
        sii(SII_DF, **SII_ARGS, repetitions=10)
    assert message(e) == sii_mod.BAD_REPETITIONS.format(value=10)


def test_sii_bad_population():
    with pytest.raises(ValueError) as e:
        sii(SII_DF.with_columns(n=pl.Series([10, 0, 10, None, 10])), **SII_ARGS)
    assert message(e) == sii_mod.BAD_POPULATION.format(column="n", n=2)


def test_sii_bad_quantile_count():
    # 3 to 100 ordered levels are accepted (fewer than 3 give a note, see
    # test_stats_inequality_dimensions.py); more than 100 are an error
    many = pl.DataFrame(
        {"q": range(101), "n": [10] * 101, "v": [1.0] * 101, "l": [0.5] * 101, "u": [2.0] * 101}
    )
    with pytest.raises(ValueError) as e:
        sii(many, **SII_ARGS)
    assert message(e) == sii_mod.BAD_QUANTILE_COUNT.format(column="q", n=101)


def test_concentration_bad_outcome():
    with pytest.raises(ValueError) as e:
        concentration_index(DF, quantile="g", events="o", population="n", outcome="rate")
    assert message(e) == concentration.BAD_OUTCOME.format(value="rate")


def test_funnel_bad_kind():
    with pytest.raises(ValueError) as e:
        funnel_limits(DF, numerator="o", denominator="n", kind="odds")
    assert message(e) == funnel.BAD_KIND.format(func="funnel_limits", value="odds")


def test_funnel_bad_target():
    with pytest.raises(ValueError) as e:
        funnel_limits(DF, numerator="o", denominator="n", kind="rate", target=-1)
    assert message(e) == funnel.BAD_TARGET.format(func="funnel_limits", value=-1)


def test_funnel_no_denominator():
    with pytest.raises(ValueError) as e:
        funnel_flag(DF.with_columns(n=pl.lit(0)), numerator="o", denominator="n", unit="g", kind="rate")
    assert message(e) == funnel.NO_DENOMINATOR.format(func="funnel_flag", column="n")
