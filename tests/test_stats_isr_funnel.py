"""Indirectly standardised ratios (isr) and funnel plots of ratios (kind="ratio") against
PHEindicatormethods' published test results, PHStatsMethods and hand calculations."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.stats import AGE_BAND_LABELS, crude_rate, funnel_flag, funnel_limits, isr
from healthgap.stats.indirect import MISSING_REFERENCE, NOTE_NO_EXPECTED

# PHEindicatormethods tests/testthat/testdata_DSR_ISR.xlsx (v2.0.0): sheets
# "testdata_multiarea" (events and population by ESP2013 band; an empty cell is 0) and
# "refdata" (reference events and population by band).
POP = [636, 558, 609, 543, 384, 594, 669, 843, 660, 576, 606, 522, 426, 273, 300, 288, 153, 123, 207]
COUNTS = {
    "big": [127, 25, 18, 21, 12, 27, 48, 27, 29, 32, 32, 34, 45, 65, 38, 68, 74, 82, 91],
    "small": [12, 4, 3, 2, 3, 4, 8, 2, 2, 3, 4, 5, 6, 8, 5, 6, 5, 5, 4],
    "tiny": [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 2, 3],
}
REF_EVENTS = [
    10303,
    2824,
    0,
    3615,
    3641,
    3490,
    3789,
    3213,
    3031,
    2771,
    3089,
    3490,
    3595,
    4745,
    5514,
    7125,
    5694,
    6210,
    5757,
]
REF_POP = [
    50520,
    57173,
    60213,
    54659,
    44345,
    50128,
    62163,
    67423,
    62899,
    55463,
    60479,
    49974,
    44140,
    40888,
    37239,
    30819,
    18136,
    15325,
    13918,
]
# Sheet "testresults_ISR", "indirectly standardised ratio x 1": observed, expected, ratio,
# 95% and 99.8% limits, method.
ISR_PUBLISHED = {
    "big": (895, 835.8835612311743, 1.0707232939020275, 1.0017147712553987, 1.143233287249895,
            0.9635155619614437, 1.1860070415876287, "Byars"),
    "small": (91, 835.8835612311743, 0.10886683770400503, 0.08765040101829405, 0.1336657632841891,
              0.07695425528392111, 0.14897920510466744, "Byars"),
    "tiny": (9, 835.8835612311743, 0.010767049882813684, 0.004923380825095776, 0.02043921455549973,
             0.0029339306550682617, 0.02710589651469021, "Exact (chi-squared)"),
}  # fmt: skip
# tests/testthat/testdata_funnel_ratio_outputs.csv (every 12th row): observed events; for the
# 95% ("2s") and 99.8% ("3s") lower and upper limits, the expected events at which that many
# observed events sit on the limit, and the limit as a ratio x 100.
RATIO_OUTPUTS = [
    (
        12,
        20.96158966,
        57.24756659,
        6.20057525,
        193.5304309,
        27.02598763,
        44.40170759,
        4.042439622,
        296.8504448,
    ),
    (
        24,
        35.71010623,
        67.20786505,
        15.37725449,
        156.0746752,
        43.3304039,
        55.38835977,
        11.64743122,
        206.0540178,
    ),
    (
        39,
        53.31428731,
        73.15112321,
        27.73281189,
        140.6276441,
        62.41961313,
        62.48036161,
        22.50504841,
        173.2944506,
    ),
    (
        67,
        85.0876134,
        78.74236604,
        51.92408873,
        129.0345226,
        96.35358134,
        69.53555755,
        44.52205864,
        150.4872013,
    ),
    (
        115,
        138.0400737,
        83.30914124,
        94.94429146,
        121.1236592,
        152.1497378,
        75.58343619,
        84.686699,
        135.7946423,
    ),
    (
        198,
        227.5833343,
        87.00109811,
        171.379868,
        115.5328232,
        245.4564826,
        80.66603003,
        157.3487478,
        125.8351291,
    ),
    (
        343,
        381.2896174,
        89.95786518,
        307.6572071,
        111.4877182,
        404.1757059,
        84.86408139,
        288.604859,
        118.8476179,
    ),
    (
        596,
        645.8290637,
        92.28448107,
        549.1052099,
        108.5402195,
        675.3634438,
        88.24878004,
        523.3979418,
        113.8712923,
    ),
]
# tests/testthat/testdata_funnel_ratio_inputs.csv (every 6th row): observed, expected and
# the published significance of assign_funnel_significance(statistic = "ratio").
RATIO_INPUTS = [
    (124, 183.894409, "Low (0.001)"),
    (206, 139.4719025, "High (0.001)"),
    (187, 181.3773036, "Not significant"),
    (182, 143.6804295, "High (0.025)"),
    (98, 134.6338783, "Low (0.001)"),
    (203, 154.185022, "High (0.001)"),
    (228, 179.598267, "High (0.001)"),
    (335, 276.3114484, "High (0.001)"),
    (291, 178.6920479, "High (0.001)"),
    (290, 232.3531768, "High (0.001)"),
    (457, 361.0650233, "High (0.001)"),
    (191, 111.1757858, "High (0.001)"),
    (152, 101.4144649, "High (0.001)"),
    (142, 159.3893815, "Not significant"),
    (156, 130.4020731, "High (0.025)"),
    (240, 205.9378754, "High (0.025)"),
    (145, 135.1981352, "Not significant"),
    (79, 92.3005024, "Not significant"),
    (148, 136.9609476, "Not significant"),
    (105, 137.4165685, "Low (0.025)"),
    (84, 91.21511565, "Not significant"),
    (85, 77.54766901, "Not significant"),
    (70, 93.22146757, "Low (0.025)"),
    (128, 97.97168006, "High (0.025)"),
    (107, 91.50773967, "Not significant"),
    (98, 152.5291829, "Low (0.001)"),
    (46, 71.75167681, "Low (0.001)"),
    (75, 111.1111111, "Low (0.001)"),
    (134, 82.87976249, "High (0.001)"),
    (92, 104.7358834, "Not significant"),
    (104, 138.0225614, "Low (0.025)"),
    (176, 170.8406135, "Not significant"),
    (77, 104.9332243, "Low (0.025)"),
    (81, 67.24223809, "Not significant"),
    (61, 98.48240232, "Low (0.001)"),
    (62, 104.6413502, "Low (0.001)"),
    (114, 125.994695, "Not significant"),
    (115, 100.0434972, "Not significant"),
    (104, 93.71902316, "Not significant"),
    (58, 57.18229321, "Not significant"),
    (105, 133.248731, "Low (0.025)"),
    (67, 61.12580969, "Not significant"),
    (81, 89.03055617, "Not significant"),
    (121, 92.34526444, "High (0.025)"),
    (140, 147.5081656, "Not significant"),
    (51, 53.31939362, "Not significant"),
    (40, 44.1014333, "Not significant"),
    (85, 99.34548855, "Not significant"),
    (75, 83.94895903, "Not significant"),
    (28, 37.38816931, "Not significant"),
]


def multiarea() -> pl.DataFrame:
    return pl.concat(
        pl.DataFrame({"area": area, "band": AGE_BAND_LABELS, "o": counts, "n": POP})
        for area, counts in COUNTS.items()
    )


REFERENCE = pl.DataFrame({"band": AGE_BAND_LABELS, "o": REF_EVENTS, "n": REF_POP})


@pytest.mark.parametrize("confidence,cols", [(0.95, (3, 4)), (0.998, (5, 6))])
def test_isr_matches_phe_published_results(confidence, cols):
    out = isr(
        multiarea(),
        events="o",
        population="n",
        unit="area",
        strata="band",
        reference=REFERENCE,
        confidence=confidence,
    )
    for row in out.iter_rows(named=True):
        ref = ISR_PUBLISHED[row["area"]]
        assert row["o"] == ref[0] and row["method"] == ref[7]
        got = (row["expected"], row["value"], row["lower_ci"], row["upper_ci"])
        assert got == pytest.approx((ref[1], ref[2], ref[cols[0]], ref[cols[1]]), rel=1e-9)
    x100 = isr(
        multiarea(),
        events="o",
        population="n",
        unit="area",
        strata="band",
        reference=REFERENCE,
        multiplier=100,
    )
    assert x100["value"].to_list() == pytest.approx(
        [100 * ISR_PUBLISHED[a][2] for a in ("big", "small", "tiny")], rel=1e-12
    )
    assert x100["statistic"][0] == "Indirectly standardised ratio x 100"


def practices(rng: np.random.Generator, k: int = 12) -> pl.DataFrame:
    """Practices x age band x sex with the same age-sex rates everywhere but different age mixes."""
    rows = []
    rate = np.linspace(0.002, 0.2, 19)
    for p in range(k):
        tilt = np.linspace(1 - 0.08 * p, 1 + 0.08 * p, 19).clip(0.05)
        for sex, factor in (("f", 0.8), ("m", 1.2)):
            n = rng.poisson(150 * tilt)
            rows.append(pl.DataFrame({"practice": f"p{p:02d}", "band": AGE_BAND_LABELS, "sex": sex, "n": n,
                                      "o": rng.binomial(n, np.clip(rate * factor, 0, 1))}))  # fmt: skip
    return pl.concat(rows)


def test_isr_internal_reference_by_hand():
    data = practices(np.random.default_rng(1))
    out = isr(data, events="o", population="n", unit="practice", strata=["band", "sex"])
    ref = data.group_by("band", "sex").agg(pl.col("o").sum() / pl.col("n").sum())
    for row in out.iter_rows(named=True):
        part = data.filter(pl.col("practice") == row["practice"]).join(
            ref.rename({"o": "r"}), on=["band", "sex"]
        )
        expected = float((part["n"] * part["r"]).sum())
        assert row["expected"] == pytest.approx(expected, rel=1e-12)
        assert row["value"] == pytest.approx(row["o"] / expected, rel=1e-12)
    assert out["o"].sum() == pytest.approx(out["expected"].sum(), rel=1e-12)  # internal standardisation


def test_isr_agrees_with_phstatsmethods():
    ph = pytest.importorskip("PHStatsMethods")
    data = practices(np.random.default_rng(2), k=5)
    ref = data.group_by("band", "sex").agg(pl.col("o").sum().alias("ro"), pl.col("n").sum().alias("rn"))
    pdf = data.join(ref, on=["band", "sex"]).to_pandas()
    theirs = ph.ph_ISRatio(pdf, "o", "n", "ro", "rn", group_cols="practice", confidence=0.95).sort_values(
        "practice"
    )
    ours = isr(data, events="o", population="n", unit="practice", strata=["band", "sex"])
    assert np.allclose(ours["expected"].to_numpy(), theirs["Expected"].to_numpy(), rtol=1e-12)
    assert np.allclose(ours["value"].to_numpy(), theirs["Value"].to_numpy(), rtol=1e-12)
    assert np.allclose(ours["upper_ci"].to_numpy(), theirs["upper_95_ci"].to_numpy(), rtol=1e-9)


def test_isr_errors_and_notes():
    data = multiarea()
    with pytest.raises(ValueError, match="no row in the reference"):
        isr(data, events="o", population="n", unit="area", strata="band", reference=REFERENCE.head(18))
    assert "{example}" in MISSING_REFERENCE
    nobody = data.with_columns(pl.when(pl.col("area") == "tiny").then(0).otherwise(pl.col("n")).alias("n"),
                               pl.when(pl.col("area") == "tiny").then(0).otherwise(pl.col("o")).alias("o"))  # fmt: skip
    out = isr(nobody, events="o", population="n", unit="area", strata="band", reference=REFERENCE)
    assert out.filter(pl.col("area") == "tiny")["note"][0] == NOTE_NO_EXPECTED


@pytest.mark.parametrize("level,lo_i,hi_i", [(0.95, (1, 2), (3, 4)), (0.998, (5, 6), (7, 8))])
def test_ratio_funnel_limits_match_phe_published(level, lo_i, hi_i):
    dummy = pl.DataFrame({"o": [1, 2], "e": [1.0, 2.0]})
    for (e_i, lim_i), side in ((lo_i, "lower_limit"), (hi_i, "upper_limit")):
        expected = [r[e_i] for r in RATIO_OUTPUTS]
        out = funnel_limits(dummy, numerator="o", denominator="e", kind="ratio", multiplier=100,
                            denominators=expected, levels=[level])  # fmt: skip
        # the published limit at that expected count is (observed / expected) x 100
        assert out[side].to_list() == pytest.approx([r[lim_i] for r in RATIO_OUTPUTS], rel=2e-6)
    assert out["baseline"][0] == 100 and out["statistic"][0] == "Ratio x 100"


def test_ratio_flags_match_phe_published_significance():
    data = pl.DataFrame({"unit": range(len(RATIO_INPUTS)), "o": [r[0] for r in RATIO_INPUTS],
                         "e": [r[1] for r in RATIO_INPUTS]})  # fmt: skip
    out = funnel_flag(data, numerator="o", denominator="e", unit="unit", kind="ratio")
    phe = {("above", "above"): "High (0.001)", ("above", "within"): "High (0.025)",
           ("below", "below"): "Low (0.001)", ("below", "within"): "Low (0.025)",
           ("within", "within"): "Not significant"}  # fmt: skip
    got = [phe[(a, b)] for a, b in zip(out["flag_95"], out["flag_99_8"], strict=True)]
    assert got == [r[2] for r in RATIO_INPUTS]
    assert len(set(got)) == 5  # every category is exercised
    assert out["value"].to_list() == pytest.approx([r[0] / r[1] for r in RATIO_INPUTS], rel=1e-12)


def test_ratio_funnel_agrees_with_phstatsmethods():
    ph = pytest.importorskip("PHStatsMethods")
    rng = np.random.default_rng(3)
    e = rng.uniform(5, 400, 80)
    o = rng.poisson(e * rng.uniform(0.7, 1.4, 80))
    pdf = pl.DataFrame({"o": o, "e": e}).to_pandas()
    theirs = ph.assign_funnel_significance(pdf, "o", "ratio", denom_col="e")["significance"].to_list()
    ours = funnel_flag(
        pl.DataFrame({"u": range(80), "o": o, "e": e}), numerator="o", denominator="e", unit="u", kind="ratio"
    )
    mapping = {("above", "above"): "High (0.001)", ("above", "within"): "High (0.025)",
               ("below", "below"): "Low (0.001)", ("below", "within"): "Low (0.025)",
               ("within", "within"): "Not significant"}  # fmt: skip
    assert [mapping[(a, b)] for a, b in zip(ours["flag_95"], ours["flag_99_8"], strict=True)] == theirs


def test_age_mix_flags_crude_rates_but_not_standardised_ratios():
    """Practices with the same age-sex specific rates and different age mixes: on crude rates
    the old practices look high and the young ones low; after indirect standardisation none is
    far off (simultaneously at 99.8%, allowing for the odd chance flag at 95%)."""
    data = practices(np.random.default_rng(4))
    crude = funnel_flag(data, numerator="o", denominator="n", unit="practice", kind="rate")
    ratios = isr(data, events="o", population="n", unit="practice", strata=["band", "sex"])
    std = funnel_flag(ratios, numerator="o", denominator="expected", unit="practice", kind="ratio")
    assert (crude["flag_99_8"] != "within").sum() >= 4
    assert (std["flag_99_8"] == "within").all()
    crude_values = crude_rate(data, events="o", population="n", by="practice")["value"]
    assert crude_values[-1] > 1.2 * crude_values[0]  # the oldest practice vs the youngest


def test_isr_expected_is_the_same_to_the_last_digit_whatever_the_row_order():
    """Each unit's expected count is a sum of many strata; it is summed in a fixed order, so
    shuffling the input rows (or a group_by's thread scheduling) cannot change its last digits."""
    import numpy as np

    rng = np.random.default_rng(7)
    units, strata = 40, 400
    frame = pl.DataFrame(
        {
            "unit": np.repeat(np.arange(units), strata).astype(str),
            "band": np.tile(np.arange(strata), units).astype(str),
            "events": rng.poisson(3.7, units * strata),
            "people": rng.integers(50, 5000, units * strata),
        }
    )
    first = isr(frame, events="events", population="people", unit="unit", strata="band").sort("unit")
    for seed in range(5):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        again = isr(shuffled, events="events", population="people", unit="unit", strata="band").sort("unit")
        assert again["expected"].to_list() == first["expected"].to_list()
