"""Round-4 audit, leak 3: the AUROC of ``predicting-risk/model-performance.csv`` at full precision.

AUROC is the Mann-Whitney U over cases x non-cases, so U = AUROC x n1 x n0 is a whole (or, with
ties, half) number. The auditor (``/tmp/audit4/auroc.py``) tried the case counts the rounded
``events`` allows: at full precision only the true one (676 on the default book, published 675)
gave a whole U. The rank statistics (AUROC, average precision) and their intervals are now
published to 3 decimals, which many case counts fit.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from healthgap.pages.predicting_risk import PredictingRiskPage
from tests.conftest import build_people
from tests.pages.conftest import build_page
from tests.pages.test_models_runtime import model_cache  # noqa: F401


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> PredictingRiskPage:
    people = build_people(3000, seed=11)
    return build_page(PredictingRiskPage, people, Path(tmp_path_factory.mktemp("auroc")))


def _half_whole(u: float) -> bool:
    return abs(2 * u - round(2 * u)) < 1e-6


def fitting_case_counts(value: float, *, n: int, around: int, decimals: int | None) -> list[int]:
    """The case counts near ``around`` for which some U (a multiple of 1/2) gives ``value``:
    exactly (``decimals`` None: the auditor's test) or once rounded to ``decimals``."""
    out = []
    for n1 in range(max(1, around - 4), around + 5):
        pairs = n1 * (n - n1)
        if decimals is None:
            ok = _half_whole(value * pairs)
        else:
            half = 0.5 * 10.0**-decimals
            lo, hi = (value - half) * pairs, (value + half) * pairs
            ok = math.floor(2 * hi) >= math.ceil(2 * lo)
        if ok:
            out.append(n1)
    return out


def test_the_auroc_does_not_single_out_the_number_of_cases(page):
    result = page.models.result
    cases, n = int(np.sum(result.y_test)), int(result.y_test.shape[0])
    published = page.performance.frame.filter(statistic="AUROC")
    assert published.height == 2
    for row in published.iter_rows(named=True):
        assert row["events"] == 5 * round(cases / 5)
        exact = fitting_case_counts(row["value"], n=n, around=row["events"], decimals=None)
        assert exact != [cases], (row["model"], exact)  # the auditor's attack finds nothing certain
        rounded = fitting_case_counts(row["value"], n=n, around=row["events"], decimals=3)
        assert cases in rounded and len(rounded) > 1, rounded  # many case counts fit


def test_rank_statistics_and_their_intervals_have_3_decimals(page):
    frame = page.performance.frame
    for statistic in ("AUROC", "Average precision"):
        rows = frame.filter(statistic=statistic)
        assert rows.height == 2
        for c in ("value", "lower_ci", "upper_ci"):
            assert all(v == round(v, 3) for v in rows.get_column(c).to_list()), (statistic, c)
    exact = page.models.result.metrics.filter(metric="auroc").get_column("value").to_list()
    assert frame.filter(statistic="AUROC").get_column("value").to_list() == [round(v, 3) for v in exact]
