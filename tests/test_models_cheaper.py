"""Round 7: the model work made cheaper gives the same numbers as the code it replaced.

Each rewritten computation is compared with the old code, kept here as the reference, on a
small random problem.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.config import ModelSettings
from healthgap.models import fit


@pytest.fixture(scope="module")
def people() -> pl.DataFrame:
    from healthgap.synth import generate

    df, _ = generate(4_000, seed=5)
    return df


# --- the label-bias refit fits the booster only ---------------------------------------------


def test_boosted_only_fit_equals_the_booster_of_the_full_fit(people):
    settings = ModelSettings(target="hypertension")
    full = fit(people, settings=settings, n_boot=20)
    alone = fit(people, settings=settings, n_boot=20, learners=("boosted",), evaluate=False)
    assert list(alone.models) == ["boosted"]
    assert alone.metrics.is_empty() and alone.calibration.is_empty()
    for split in ("risk_train", "risk_test"):
        assert np.array_equal(getattr(alone, split)["boosted"], getattr(full, split)["boosted"])
    assert alone.threshold("boosted", top_fraction=0.05) == full.threshold("boosted", top_fraction=0.05)
    assert alone.groups_test.equals(full.groups_test)
    assert np.array_equal(alone.X_train, full.X_train)


def test_fit_refuses_an_unknown_learner(people):
    with pytest.raises(KeyError, match="forest"):
        fit(people, settings=ModelSettings(), learners=("forest",))  # type: ignore[arg-type]
