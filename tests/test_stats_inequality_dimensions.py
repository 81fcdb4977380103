"""SII/RII and the concentration index on any ordered dimension, and the SII/RII of rates on
the log scale (transform=True): against PHEindicatormethods' published test results, a numpy
weighted least squares and exact properties."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthgap.stats import concentration_index, sii
from healthgap.stats._levels import NOTE_FEW_LEVELS, UNKNOWN_LEVELS, UNORDERED_LEVELS
from healthgap.stats.sii import BAD_TRANSFORM, NOTE_RII_UNDEFINED

ARGS = dict(quantile="q", population="pop", value="v", lower_ci="l", upper_ci="u")

# PHEindicatormethods tests/testthat/testdata_SII.xlsx (ukhsa-collaboration/PHEindicatormethods,
# v2.0.0), records 306-325: "rate (e.g. infant mortality) - log transform with intercept",
# two areas x 10 deciles (1 = most deprived), run with value_type = 1, transform = TRUE,
# rii = TRUE, 100,000 repetitions.
LOG_RATES = pl.DataFrame(
    {
        "area": ["area1"] * 10 + ["area2"] * 10,
        "q": list(range(1, 11)) * 2,
        "pop": [279012, 255993, 236961, 214315, 192812, 183546, 168593, 164822, 154836, 138165,
                13837, 14519, 14940, 14599, 12311, 21675, 20065, 19750, 24713, 20112],
        "v": [5.892219689475721, 4.7345044591063035, 3.827634083245766, 3.8681380211371112,
              3.6771570234217785, 3.1436261209723995, 3.1258711808912585, 2.942568346458604,
              2.82879950399132, 2.7648101907140012, 4.89675, 4.5678, 4.67666, 4.35666, 3.9, 3.8,
              3.5, 3.2, 3.21, 2.8],
        "l": [5.614959662410748, 4.475920770781004, 3.586926055445024, 3.6140791140579505,
              3.4166969870147965, 2.8977176350029272, 2.870493809285979, 2.6924041297904315,
              2.57630573787527, 2.501420619088458, 4.77675, 4.4478, 4.55666, 4.23666, 3.78, 3.68,
              3.38, 3.08, 3.09, 2.68],
        "u": [6.183085357576154, 5.0079519402470885, 4.0844291026854505, 4.1399822998098585,
              3.9573934822289045, 3.4103317188858107, 3.4038909874130083, 3.2159015715579464,
              3.1059621495836955, 3.05584866618335, 4.97675, 4.6478, 4.75666, 4.43666, 3.98, 3.88,
              3.58, 3.28, 3.29, 2.88],
    }
)  # fmt: skip
# sii, rii, sii_lower, sii_upper, rii_lower, rii_upper (95%)
LOG_PUBLISHED = {
    "area1": (-3.15590713895456, 0.4418848436076823, -3.4809615490242884, -2.833237344763632,
              0.4082744080360723, 0.4785663265006931),
    "area2": (-2.2954691808474057, 0.5446144759737053, -2.423223688852598, -2.168075785150564,
              0.527074544156842, 0.5627749745405388),
}  # fmt: skip
# Records 326-345: "proportion (e.g. child obesity) - logit transform with intercept".
LOGIT_PROPORTIONS = pl.DataFrame(
    {
        "area": ["area1"] * 10 + ["area2"] * 10,
        "q": list(range(1, 11)) * 2,
        "pop": [34353, 32112, 27715, 25372, 23889, 23260, 23180, 24193, 23609, 24488,
                36111, 31803, 26681, 24184, 23023, 21506, 22197, 23679, 23271, 23464],
        "v": [0.21212121212121202, 0.214281265570503, 0.204077214504781, 0.19186504808450303,
              0.174808489262841, 0.16663800515907098, 0.156039689387403, 0.146571322283305,
              0.140370197805921, 0.120875530872264, 0.12079421782836301, 0.117410307203723,
              0.11363891908099401, 0.105896460469732, 0.10007383920427401, 0.0941132707151493,
              0.08730909582376001, 0.0836606275602855, 0.0797559193846418, 0.0696812137742925],
        "l": [0.207830499225555, 0.209827711465288, 0.19937351725899902, 0.187066648694241,
              0.170044640703038, 0.16190410576997, 0.151425075468518, 0.142170753783533,
              0.13599767093637602, 0.11685200990738201, 0.117473271937339, 0.11391851782536101,
              0.109886239767609, 0.102080757108839, 0.0962638859468932, 0.0902830437346462,
              0.0836665612937408, 0.0802012076260088, 0.0763441201710209, 0.0664933849950753],
        "u": [0.216476300812899, 0.218803170788612, 0.208862933590925, 0.19675673996565,
              0.17967690552753499, 0.17148199783416998, 0.160768288675927, 0.151084110529924,
              0.144859737537153, 0.125017980504761, 0.12419583434331499, 0.120994510822713,
              0.117502836842961, 0.10983734511402099, 0.104017228033421, 0.0980884729303046,
              0.0910944479237356, 0.0872551115710111, 0.0833064392278473, 0.0730099206057122],
    }
)  # fmt: skip
LOGIT_PUBLISHED = {
    "area1": (-0.1096462611125906, 0.5341775743253946, -0.11490838449464633, -0.10443087776045443,
              0.5185333850074628, 0.5501741213468927),
    "area2": (-0.05970061643992898, 0.5472074426131981, -0.06392425493727208, -0.05546135190988595,
              0.524843254382713, 0.5707105710428643),
}  # fmt: skip
COLS = ("sii", "rii", "sii_lower", "sii_upper", "rii_lower", "rii_upper")


@pytest.mark.parametrize(
    "data,kind,published",
    [(LOG_RATES, "rate", LOG_PUBLISHED), (LOGIT_PROPORTIONS, "proportion", LOGIT_PUBLISHED)],
)
def test_transform_matches_phe_published_results(data, kind, published):
    out = sii(data, **ARGS, value_type=kind, transform=True, by="area", seed=1)
    for row in out.iter_rows(named=True):
        ref = published[row["area"]]
        assert (row["sii"], row["rii"]) == pytest.approx(ref[:2], rel=1e-10)  # exact: no simulation
        # simulated limits: PHE ran 100,000 repetitions with another generator
        assert [row[c] for c in COLS[2:]] == pytest.approx(ref[2:], rel=2e-3)
        assert row["value"] == row["sii"] and row["note"] is None and row["rii_note"] is None
        assert "log" in row["method"] if kind == "rate" else "logit" in row["method"]


def wls(pop, y):
    """Low & Low regression with numpy least squares: (intercept at x=0, slope)."""
    pop = np.asarray(pop, float)
    a = pop / pop.sum()
    b = np.cumsum(a) - a / 2
    X = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    beta, *_ = np.linalg.lstsq(X, np.asarray(y, float) * np.sqrt(a), rcond=None)
    return beta, b


def test_log_fit_against_numpy_and_rii_is_consistent_with_rate_ratios():
    part = LOG_RATES.filter(pl.col("area") == "area1")
    (b0, b1), ridit = wls(part["pop"], np.log(part["v"]))
    out = sii(part, **ARGS, transform=True, repetitions=1000)
    assert out["rii"][0] == pytest.approx(np.exp(b1), rel=1e-12)
    assert out["sii"][0] == pytest.approx(np.exp(b0 + b1) - np.exp(b0), rel=1e-12)
    # rates exactly exponential in the ridit: the RII is their ratio per unit of rank, so the
    # ratio of any two levels' rates is RII ** (difference of their ridits)
    exact = part.with_columns(pl.Series("v", 7.0 * np.exp(-0.9 * ridit)))
    rii = sii(
        exact.with_columns(l=pl.col("v") * 0.9, u=pl.col("v") * 1.1), **ARGS, transform=True, repetitions=1000
    )
    rr = exact["v"][9] / exact["v"][0]
    assert rii["rii"][0] ** (ridit[9] - ridit[0]) == pytest.approx(rr, rel=1e-12)
    linear = sii(exact.with_columns(l=pl.col("v") * 0.9, u=pl.col("v") * 1.1), **ARGS, repetitions=1000)
    assert abs(linear["rii"][0] ** (ridit[9] - ridit[0]) - rr) > 1e-3  # the linear fit is not


def test_transform_is_only_for_rates_and_proportions():
    with pytest.raises(ValueError, match="transform must be True or False") as err:
        sii(LOG_RATES, **ARGS, value_type="indicator", transform=True, by="area")
    assert str(err.value) == BAD_TRANSFORM.format(value=True, value_type="indicator")


def education(reverse: bool = False) -> pl.DataFrame:
    levels = ["No qualifications", "GCSE", "A level", "Degree"]
    rates = [30.0, 24.0, 20.0, 15.0]
    frame = pl.DataFrame(
        {
            "edu": levels,
            "pop": [900, 1500, 1200, 1400],
            "v": rates,
            "l": [r * 0.85 for r in rates],
            "u": [r * 1.15 for r in rates],
            "events": [270, 360, 240, 210],
        }
    )
    return frame.reverse() if reverse else frame


def test_any_ordered_dimension_by_its_order_and_disadvantaged_end():
    args = dict(quantile="edu", population="pop", value="v", lower_ci="l", upper_ci="u", repetitions=2000)
    order = ["No qualifications", "GCSE", "A level", "Degree"]
    a = sii(education(), **args, order=order, disadvantaged="first", seed=3)
    b = sii(education(reverse=True), **args, order=list(reversed(order)), disadvantaged="last", seed=3)
    numeric = education().with_columns(pl.Series("rank", [1, 2, 3, 4]))
    c = sii(numeric, **{**args, "quantile": "rank"}, seed=3)
    for col in ("sii", "rii", "sii_lower", "rii_upper"):
        assert a[col][0] == pytest.approx(b[col][0], rel=1e-12) == pytest.approx(c[col][0], rel=1e-12)
    # higher rates among the less educated: negative SII, whichever way the levels are listed
    assert a["sii"][0] < 0 and a["rii"][0] < 1
    assert a["most_disadvantaged"][0] == b["most_disadvantaged"][0] == "No qualifications"
    assert a["least_disadvantaged"][0] == "Degree" and a["quantiles"][0] == 4
    (_b0, b1), _ = wls(education()["pop"], education()["v"])
    assert a["sii"][0] == pytest.approx(b1, rel=1e-12)
    ci_a = concentration_index(education(), quantile="edu", events="events", population="pop", order=order)
    ci_b = concentration_index(
        education(reverse=True),
        quantile="edu",
        events="events",
        population="pop",
        order=order[::-1],
        disadvantaged="last",
    )
    assert ci_a["value"][0] == pytest.approx(ci_b["value"][0], rel=1e-12) and ci_a["value"][0] < 0
    assert ci_a["standard_error"][0] == pytest.approx(ci_b["standard_error"][0], rel=1e-12)
    assert ci_a["most_disadvantaged"][0] == "No qualifications"


def person_level_ci(events, pops):
    """C = 2 cov(y, R) / mean(y) over people with tied fractional ranks (O'Donnell et al. 2008)."""
    events, pops = list(events), list(pops)
    y = np.concatenate([np.r_[np.ones(e), np.zeros(n - e)] for e, n in zip(events, pops, strict=True)])
    f = np.asarray(pops, float) / np.sum(pops)
    rank = np.repeat(np.cumsum(f) - f / 2, pops)
    return 2 * np.cov(y, rank, bias=True)[0, 1] / y.mean()


def test_concentration_index_disadvantaged_last_against_person_level():
    data = education()
    out = concentration_index(
        data,
        quantile="edu",
        events="events",
        population="pop",
        order=["Degree", "A level", "GCSE", "No qualifications"],
        disadvantaged="last",
    )
    # people ranked from the least educated (most disadvantaged) up
    assert out["value"][0] == pytest.approx(person_level_ci(data["events"], data["pop"]), rel=1e-10)


def test_three_levels_work_and_fewer_give_a_note():
    three = education().filter(pl.col("edu") != "GCSE")
    args = dict(quantile="edu", population="pop", value="v", lower_ci="l", upper_ci="u", repetitions=1000)
    order = ["No qualifications", "GCSE", "A level", "Degree"]
    out = sii(three, **args, order=order)
    assert out["quantiles"][0] == 3 and out["sii"][0] is not None and out["note"][0] is None
    two = pl.concat([three.filter(pl.col("edu") != "Degree").with_columns(g=pl.lit(g)) for g in ("x", "y")])
    out = sii(two, **args, order=order, by="g")
    assert out.height == 2 and out["note"].to_list() == [NOTE_FEW_LEVELS] * 2
    assert out["sii"].null_count() == 2 and out["rii"].null_count() == 2
    assert out["pop"].to_list() == [2100, 2100]
    ci = concentration_index(two, quantile="edu", events="events", population="pop", order=order, by="g")
    assert ci["note"].to_list() == [NOTE_FEW_LEVELS] * 2 and ci["value"].null_count() == 2


def test_levels_need_an_order():
    args = dict(quantile="edu", population="pop", value="v", lower_ci="l", upper_ci="u", repetitions=1000)
    with pytest.raises(ValueError, match="order cannot be guessed") as err:
        sii(education(), **args)
    assert "order=[...]" in UNORDERED_LEVELS and str(err.value).startswith("sii(): column 'edu'")
    with pytest.raises(ValueError, match="not in order="):
        sii(education(), **args, order=["No qualifications", "GCSE", "Degree"])
    assert "{levels}" in UNKNOWN_LEVELS
    with pytest.raises(ValueError, match="disadvantaged must be"):
        sii(
            education(), **args, order=["No qualifications", "GCSE", "A level", "Degree"], disadvantaged="top"
        )
    # null levels are left out
    with_null = pl.concat(
        [education(), education().head(1).with_columns(pl.lit(None, dtype=pl.String).alias("edu"))]
    )
    order = ["No qualifications", "GCSE", "A level", "Degree"]
    assert sii(with_null, **args, order=order, seed=1)["sii"][0] == pytest.approx(
        sii(education(), **args, order=order, seed=1)["sii"][0], rel=1e-12
    )


def test_linear_rii_without_a_ratio_meaning_is_null_with_a_note():
    frame = pl.DataFrame(
        {"q": [1, 2, 3, 4, 5], "pop": [100] * 5, "v": [9.0, 6.0, 3.0, 1.0, 0.1],
         "l": [8.0, 5.0, 2.0, 0.5, 0.01], "u": [10.0, 7.0, 4.0, 2.0, 1.0]}
    )  # fmt: skip
    out = sii(frame, **ARGS, value_type="indicator", repetitions=2000)
    # the fitted line is below zero at the least deprived end: no ratio there
    assert out["sii"][0] is not None and out["note"][0] is None
    assert out["rii"][0] is None and out["rii_lower"][0] is None and out["rii_note"][0] == NOTE_RII_UNDEFINED
    logged = sii(frame, **ARGS, value_type="rate", transform=True, repetitions=2000)
    assert logged["rii"][0] > 0 and logged["rii_lower"][0] > 0 and logged["rii_note"][0] is None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(3, 12))
def test_transform_property_positive_ordered_limits(seed, k):
    rng = np.random.default_rng(seed)
    v = np.exp(rng.normal(1.0, 0.4, k))
    frame = pl.DataFrame(
        {"q": np.arange(k), "pop": rng.integers(50, 5000, k), "v": v, "l": v * 0.8, "u": v * 1.25}
    )
    out = sii(frame, **ARGS, transform=True, repetitions=1000, seed=seed).row(0, named=True)
    (_b0, b1), _ = wls(frame["pop"], np.log(v))
    assert out["rii"] == pytest.approx(np.exp(b1), rel=1e-10)
    assert 0 < out["rii_lower"] <= out["rii_upper"] and out["sii_lower"] <= out["sii_upper"]
