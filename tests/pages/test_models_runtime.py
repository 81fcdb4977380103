"""ModelPages (the model chapters' shared runtime) and the exact counts the model pages publish.

Models are fitted on a few hundred people (``build_people``), once per data set:
the model cache lives in one temporary folder for the whole test session, so every
later page on the same people (in this module or the other model page tests) reads
the fit back instead of refitting.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.models import CAPACITY_FRACTIONS, capacity, outcome_counts
from healthgap.pages._models import ModelPages
from healthgap.pages.predicting_risk import PredictingRiskPage
from tests.conftest import build_people
from tests.pages.conftest import build_page, html_of

NO_MODEL_NOTE = "model to show, because it has no usable outcome (see the note at the start of this chapter)"


@pytest.fixture(scope="module", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory):
    """One model cache for the test session: each data set is fitted once, whichever module asks first."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEALTHGAP_MODEL_CACHE", str(tmp_path_factory.getbasetemp() / "model-cache"))
        yield


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> ModelPages:
    page = build_page(PredictingRiskPage, build_people(400), tmp_path_factory.mktemp("fitted"))
    return page.models


def test_usable_outcome_has_no_problem(fitted):
    assert fitted.problem is None
    assert fitted.result.y_test.shape[0] == 120  # 30% of 400 people held out


def test_missing_outcome_is_the_problem(page_of):
    people = build_people(200).drop("cvd_admissions", "cvd_death")
    models = page_of(PredictingRiskPage, people, target=False).models
    assert models.problem is not None and "cvd_admissions" in models.problem


def test_one_class_outcome_is_the_problem(page_of):
    people = build_people(200).with_columns(cvd_admissions=pl.lit(0, dtype=pl.Int64))
    models = page_of(PredictingRiskPage, people).models
    assert models.problem is not None


def test_skip_points_back_to_the_note_without_a_model(page_of, fitted):
    people = build_people(200).drop("cvd_admissions", "cvd_death")
    models = page_of(PredictingRiskPage, people, target=False).models
    assert NO_MODEL_NOTE in html_of(models.skip("model features"))
    assert "has no model features." in html_of(fitted.skip("model features"))


def test_min_group_is_the_disclosure_threshold(page_of, fitted):
    assert fitted.min_group == 8
    people = build_people(200)
    off = page_of(PredictingRiskPage, people, disclosure={"enabled": False, "reason": "synthetic data"})
    assert off.models.min_group == 1


def test_capacity_counts_are_exact_and_include_the_operating_point(fitted):
    r = fitted.result
    points = capacity(r, fractions=(0.01, 0.2))
    assert points.get_column("fraction").to_list() == [0.01, 0.05, 0.2]
    assert points.get_column("operating").to_list() == [False, True, False]
    row = points.row(1, named=True)
    flagged = r.risk_test["boosted"] >= r.threshold("boosted", top_fraction=0.05)
    assert row["flagged"] == int(flagged.sum())
    assert row["found"] == int((flagged & r.y_test).sum())
    assert row["cases"] == int(r.y_test.sum())
    assert points.schema["found"] == pl.Int64
    assert capacity(r).height == len(CAPACITY_FRACTIONS)  # 5% is one of the defaults


def test_outcome_counts_are_exact(fitted):
    r = fitted.result
    assert outcome_counts(r).row(0) == (int(np.sum(r.y_test)), 120)
