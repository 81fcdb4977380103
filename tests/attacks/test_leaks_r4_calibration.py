"""Round-4 audit, leak 4: expected cases and mean predicted risk give a group's exact size.

``fairness-calibration-ratio.csv`` published each group's expected cases (the sum of its
predicted risks) and ``fairness-calibration.csv`` its mean predicted risk, both at full precision:
their ratio was the group's exact test-set size (the auditor, ``/tmp/audit4/calib.py``: 9,583
against a published 9,585). The mean predicted risk is now published to 3 significant figures and
the expected cases as that mean x the published group size, so the ratio gives only the
published size back.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from healthgap.pages.fairness import FairnessPage
from tests.conftest import build_people
from tests.pages.conftest import build_page
from tests.pages.test_models_runtime import model_cache  # noqa: F401

KEY = ["dimension", "group"]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> FairnessPage:
    return build_page(FairnessPage, build_people(3000, seed=11), Path(tmp_path_factory.mktemp("calib")))


def _joined(page: FairnessPage) -> pl.DataFrame:
    assert page.calibration is not None and page.groups is not None
    ratio = page.calibration.frame.select(
        *KEY, "n", "expected", pl.col("mean_predicted").alias("mean_in_ratio")
    )
    means = page.groups.frame.filter(pl.col("metric") == "mean_predicted").select(
        *KEY, pl.col("value").alias("mean")
    )
    exact = page.models.calibration.select(*KEY, pl.col("n").alias("exact_n"))
    return ratio.join(means, on=KEY).join(exact, on=KEY).filter(pl.col("expected").is_not_null())


def test_expected_over_mean_predicted_gives_only_the_published_size(page):
    rows = _joined(page).filter(pl.col("mean").is_not_null())
    assert rows.height >= 5
    assert (rows["exact_n"] != rows["n"]).any()  # some sizes are rounded: the attack could bite
    for r in rows.iter_rows(named=True):
        for mean in (r["mean"], r["mean_in_ratio"]):  # the fairness groups' and the ratio table's own
            size = r["expected"] / mean
            assert size == pytest.approx(r["n"], abs=1e-6), r  # the published size, nothing more
            if r["exact_n"] != r["n"]:
                assert abs(size - r["exact_n"]) > 0.5, r


def test_mean_predicted_risk_has_3_significant_figures(page):
    rows = _joined(page)
    for column in ("mean", "mean_in_ratio"):
        values = rows.get_column(column).drop_nulls()
        assert values.len() and (values == values.round_sig_figs(3)).all(), column
    exact = page.models.calibration
    assert (exact["mean_predicted"] == (exact["expected"] / exact["n"]).round_sig_figs(3)).all()
