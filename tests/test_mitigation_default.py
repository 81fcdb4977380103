"""Mitigation at capacity on the default data's own numbers (issue 12, item 8).

The fairness page's own mitigation (the first candidate dimension, :class:`ModelPages`' settings)
on the session's default-config population (20,000 people, seed 7), checked against counts taken
independently from the seeded split of the held-out people: fitted on the validation half only,
judged on the evaluation half, at the configured capacity.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from sklearn.model_selection import train_test_split


@pytest.fixture(scope="module")
def page(default_config, tmp_path_factory):
    from healthgap import data
    from healthgap.pages.fairness import FairnessPage

    folder = tmp_path_factory.mktemp("mitigation-default")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEALTHGAP_MODEL_CACHE", str(folder / "cache"))
        frame = data.load(default_config).collect()
        yield FairnessPage.for_frame(default_config, frame, downloads=folder / "downloads")


def test_mitigation_on_the_default_data_counts_the_evaluation_half_at_capacity(page):
    models = page.models
    out = models.capacity_mitigation
    assert out is not None
    r = models.result
    dim = models.mitigation_candidates[0].name
    n_test = r.y_test.shape[0]
    val, ev = train_test_split(
        np.arange(n_test), test_size=0.5, stratify=r.y_test, random_state=page.config.seed
    )
    assert (out.validation, out.evaluation) == (val.size, ev.size)
    groups = r.groups_test[dim].cast(pl.String).to_numpy()
    y, score = r.y_test, r.risk_test["boosted"]
    # unmitigated: one cut-off from the training set, counted on the evaluation half only
    flag = score >= np.quantile(r.risk_train["boosted"], 1 - r.settings.top_fraction, method="higher")
    rows = out.by_group.filter(pl.col("strategy") == "unmitigated")
    assert rows.height >= 2
    for row in rows.iter_rows(named=True):
        members = groups[ev] == str(row["group"])
        assert row["cases"] == int((y[ev] & members).sum()), row["group"]
        assert row["found"] == int((flag[ev] & y[ev] & members).sum()), row["group"]
    # mitigated: at capacity on the evaluation half (its cut-offs flag the top fraction of the
    # validation half), to within sampling error
    mitigated = out.overall.filter(pl.col("strategy") == "equal_opportunity").row(0, named=True)
    f = r.settings.top_fraction
    assert abs(mitigated["share_flagged"] - f) <= 3 * math.sqrt(f * (1 - f) / ev.size) + 1 / ev.size
    # the gaps and their changes are differences of the exact rates of the same half
    gaps = {g["strategy"]: g for g in out.gap.iter_rows(named=True)}
    for strategy, g in gaps.items():
        rates = out.by_group.filter(pl.col("strategy") == strategy)["tpr"].to_list()
        assert g["gap"] == pytest.approx(rates[0] - rates[-1]), strategy
        assert g["gap_lower"] <= g["gap"] <= g["gap_upper"], strategy
    assert gaps["equal_opportunity"]["change"] == pytest.approx(
        gaps["equal_opportunity"]["gap"] - gaps["unmitigated"]["gap"]
    )
