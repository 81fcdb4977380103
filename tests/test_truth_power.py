"""Every inequality built into the synthetic population is found at the default size (issue 15,
item 7), with power computed, on the default seed and on other seeds; and the verdicts that make
that claim can fail.

Power by the normal approximation: an estimate ``T`` (the log of a ratio, or a difference) with
standard error ``se`` (from its 95% interval, ``(upper - lower) / 2z`` on that scale) and true
value ``θ`` excludes no difference on the side of ``θ`` with probability
``Φ(|θ| / se - z)``, ``z = Φ⁻¹(0.975)``. For an effect built in as no difference with margin
``M`` (the interval must lie within ``[1/M, M]``) the power is about
``Φ((log M - |log θ|) / se - z)`` (the nearer side of the margin). The built-in value ``θ`` is
the truth's ``expected_value``.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from healthgap.descriptive.truth_check import effect_estimates, recompute_effects
from healthgap.synth import generate

Z = norm.ppf(0.975)
N = 250_000
DEFAULT_SEED = 2024
#: The count measures of the default profile (events per person).
COUNTS = ["cvd_admissions", "missed_appointments", "provider_cancellations"]
FOUND = {"found", "no difference"}


@pytest.fixture(scope="module", params=[DEFAULT_SEED, 1, 2])
def estimates(request: pytest.FixtureRequest) -> tuple[int, pl.DataFrame]:
    people, truth = generate(N, seed=request.param)
    return request.param, effect_estimates(people, truth["effects"], count_columns=COUNTS)


def power(row: dict) -> float:
    """The normal-approximation power of one effect (module docstring), from its own interval."""
    ratio = row["scale"] == "ratio"
    f = math.log if ratio else (lambda v: v)
    se = (f(row["upper_ci"]) - f(row["lower_ci"])) / (2 * Z)
    theta = abs(f(row["expected_value"]))
    if row["equivalence_margin"] is not None:
        return float(norm.cdf((f(row["equivalence_margin"]) - theta) / se - Z))
    return float(norm.cdf(theta / se - Z))


def test_every_built_in_inequality_is_found(estimates: tuple[int, pl.DataFrame]) -> None:
    seed, frame = estimates
    assert frame.height == 34
    missing = frame.filter(~pl.col("verdict").is_in(sorted(FOUND)) | pl.col("verdict").is_null())
    assert missing.is_empty(), (seed, missing.select("id", "value", "lower_ci", "upper_ci", "verdict").rows())
    assert frame.filter(pl.col("verdict") == "no difference")["id"].to_list() == [
        "recorded_hypertension_prevalence_imd"
    ]
    if seed == DEFAULT_SEED:  # power is claimed at the default seed's size
        powers = {row["id"]: power(row) for row in frame.iter_rows(named=True)}
        low = {k: round(v, 4) for k, v in powers.items() if v < 0.99}
        assert not low, low


def _row(value: float, lower: float, upper: float, expected: float, **over: object) -> dict:
    row = {
        "id": "x",
        "scale": "ratio",
        "per": 100.0,
        "method": "dsr",
        "numerator": 100,
        "denominator": 1000,
        "reference_numerator": 100,
        "reference_denominator": 1000,
        "value": value,
        "lower_ci": lower,
        "upper_ci": upper,
        "expected_value": expected,
        "equivalence_margin": None,
    }
    return row | over


def _verdicts(*rows: dict) -> list[str]:
    return recompute_effects(pl.DataFrame(list(rows), infer_schema_length=None))["verdict"].to_list()


def test_a_no_difference_verdict_needs_the_interval_inside_the_margin() -> None:
    flat = _row(0.99, 0.955, 1.03, 0.99, equivalence_margin=1.1)
    wide = _row(1.0, 0.85, 1.18, 0.99, equivalence_margin=1.1)  # small group: cannot tell
    assert _verdicts(flat) == ["no difference"]
    assert _verdicts(wide) == ["not shown"]


def test_a_real_gradient_fails_the_no_difference_verdict() -> None:
    """Data with a gradient of 1.30 where the truth says none: not found, with or without others."""
    real = _row(1.30, 1.24, 1.36, 0.99, equivalence_margin=1.1)
    assert _verdicts(real) == ["missed"]
    others = [_row(2.0, 1.5, 2.6, 2.1, id=f"e{i}") for i in range(33)]
    assert _verdicts(real, *others)[0] == "missed"
    # without its margin, the same row is a difference on the wrong side of 0.99, not "found"
    assert _verdicts(_row(1.30, 1.24, 1.36, 0.99))[0] == "wrong direction"


def test_simultaneous_intervals_forgive_one_miss_in_many_but_not_in_one() -> None:
    """An interval that just misses its built-in value: missed alone, found among 34 (Bonferroni)."""
    near = _row(1.5, 1.3, 1.73, 1.8)
    assert _verdicts(near) == ["missed"]
    many = [near] + [_row(2.0, 1.5, 2.6, 2.1, id=f"e{i}") for i in range(33)]
    assert _verdicts(*many)[0] == "found"
    # widened on the log scale: log(1.73 / 1.5) * z(1 - 0.05 / 68) / z(0.975)
    k = norm.ppf(1 - 0.05 / 68) / Z
    upper = recompute_effects(pl.DataFrame(many, infer_schema_length=None))["joint_upper_ci"][0]
    assert upper == pytest.approx(1.5 * math.exp(math.log(1.73 / 1.5) * k))


def test_event_rate_ratio_allows_for_people_with_several_events() -> None:
    """Events per person drawn negative binomial: the interval uses each group's variance/mean."""
    rng = np.random.default_rng(3)
    n1, n2 = 3000, 5000
    x = np.concatenate(
        [rng.negative_binomial(1.0, 1 / (1 + 0.4), n1), rng.negative_binomial(1.0, 1 / (1 + 0.2), n2)]
    )
    people = pl.DataFrame(
        {
            "imd_quintile": [1] * n1 + [5] * n2,
            "missed_appointments": x.astype(np.int64),
            "age": [50] * (n1 + n2),
        }
    )
    entry = {
        "id": "missed",
        "statistic": "crude",
        "scale": "ratio",
        "per": 1.0,
        "group_sql": "imd_quintile = 1",
        "reference_sql": "imd_quintile = 5",
        "denominator": "age >= 0",
        "numerator": "missed_appointments",
        "true_value": 2.0,
        "expected_value": 2.0,
    }
    row = effect_estimates(people, [entry], count_columns=["missed_appointments"]).row(0, named=True)
    a, b = x[:n1], x[n1:]
    d1, d2 = a.var(ddof=1) / a.mean(), b.var(ddof=1) / b.mean()
    assert d1 > 1.2 and d2 > 1.1  # over-dispersed
    assert (row["dispersion"], row["reference_dispersion"]) == (round(d1, 2), round(d2, 2))
    value = a.mean() / b.mean()
    se = math.sqrt(round(d1, 2) / a.sum() + round(d2, 2) / b.sum())
    assert row["value"] == pytest.approx(value)
    assert (row["lower_ci"], row["upper_ci"]) == pytest.approx(
        (value * math.exp(-Z * se), value * math.exp(Z * se))
    )
    # wider than the Poisson interval by the dispersion
    assert row["upper_ci"] > value * math.exp(Z * math.sqrt(1 / a.sum() + 1 / b.sum()))
