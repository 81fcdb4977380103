"""The cheaper booster (``healthgap.models._booster.Booster``) is scikit-learn's, bit for bit.

Each test fits the stock ``HistGradientBoostingClassifier`` with the same parameters beside it
as the reference: the same stopping point, validation scores and probabilities (also on
missing values, infinities and values exactly on a bin threshold), without the training loss.
"""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn._loss.loss import BaseLoss, HalfBinomialLoss
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier

from healthgap.fairness._counterfactual import fit_variant
from healthgap.models import build_boosted, fit, one_thread
from healthgap.models._booster import Booster


def _stock(model: Booster) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(**model.get_params())


def _probes(model: HistGradientBoostingClassifier, rng: np.random.Generator, rows: int = 3000) -> np.ndarray:
    """Rows whose every value is a bin threshold, the next float either side of one, a missing
    value, an infinity or a signed zero."""
    columns = []
    for thresholds in model._bin_mapper.bin_thresholds_:
        t = np.asarray(thresholds, dtype=np.float64)
        pool = np.concatenate(
            [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), [np.nan, np.inf, -np.inf, 0.0, -0.0]]
        )
        columns.append(rng.choice(pool, rows))
    return np.column_stack(columns)


def _assert_same(stock: HistGradientBoostingClassifier, booster: Booster, *rows: np.ndarray) -> None:
    assert booster.n_iter_ == stock.n_iter_
    assert np.array_equal(booster.validation_score_, stock.validation_score_)
    for X in rows:
        expected = stock.predict_proba(X)
        assert np.array_equal(booster.predict_proba_binned(X), expected)
        assert np.array_equal(booster.predict_proba(X), expected)


@st.composite
def _problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, dict]:
    """Tiny random data: ties (few distinct values), or more distinct values than bins
    (quantile thresholds), missing values; two or three classes."""
    n = draw(st.integers(80, 600))
    p = draw(st.integers(1, 4))
    levels = draw(st.sampled_from([2, 3, 7, 40, 1000]))
    scale = draw(st.sampled_from([1.0, 0.1, 1e-3]))
    missing = draw(st.sampled_from([0.0, 0.05, 0.3]))
    classes = draw(st.sampled_from([2, 3]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.integers(0, levels, (n, p)).astype(np.float64) * scale
    signal = X[:, 0] / (levels * scale) + rng.normal(0, 0.3, n)
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))
    X[rng.random((n, p)) < missing] = np.nan
    y[: 5 * classes] = np.arange(5 * classes) % classes  # every class at least 5 times
    params = {
        "max_iter": 40,
        "learning_rate": draw(st.sampled_from([0.05, 0.3])),
        "max_leaf_nodes": draw(st.integers(3, 12)),
        "min_samples_leaf": draw(st.integers(2, 20)),
        "l2_regularization": draw(st.sampled_from([0.0, 1.0])),
        "early_stopping": True,
        "validation_fraction": 0.2,
        "n_iter_no_change": draw(st.integers(1, 5)),
        "random_state": seed % 1000,
    }
    return X, y, params


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems())
def test_tiny_random_data_same_as_stock(problem) -> None:
    X, y, params = problem
    stock = HistGradientBoostingClassifier(**params).fit(X, y)
    booster = Booster(**params).fit(X, y)
    _assert_same(stock, booster, X, _probes(stock, np.random.default_rng(0), rows=500))
    assert np.array_equal(booster.fit_proba_, stock.predict_proba(X))  # kept from the fit
    assert booster.train_score_.shape == (0,)  # the training loss was not computed
    assert stock.train_score_.shape == (stock.n_iter_ + 1,)


@pytest.fixture(scope="module")
def medium() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """30,000 rows like the book's: continuous, coded and rounded features, missing values
    whose missingness predicts the outcome (splits "on missing values"), a rare outcome."""
    rng = np.random.default_rng(11)
    n = 40_000
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 5, n).astype(np.float64),
            rng.normal(27, 4, n).round(1),
            rng.normal(size=n),
            rng.exponential(size=n),
            rng.integers(0, 2, n).astype(np.float64),
        ]
    )
    miss = rng.random(n) < 0.2
    X[miss, 3] = np.nan
    X[rng.random(n) < 0.05, 2] = np.nan
    eta = -2.5 + X[:, 0] - 0.4 * X[:, 1] + 0.1 * np.nan_to_num(X[:, 2] - 27) + 1.5 * miss + 0.3 * X[:, 5]
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    return X[:30_000], y[:30_000], X[30_000:]


def test_medium_data_same_as_stock(medium) -> None:
    """The book's settings (:func:`build_boosted`) on 30,000 rows: same stopping point, scores and
    probabilities on the training rows, new rows and threshold probes."""
    X, y, new = medium
    booster = build_boosted(seed=3, n_train=X.shape[0])
    assert isinstance(booster, Booster)
    stock = _stock(booster)
    with one_thread():
        stock.fit(X, y)
        booster.fit(X, y)
        _assert_same(stock, booster, X, new, _probes(stock, np.random.default_rng(1)))
        assert np.array_equal(booster.fit_proba_, stock.predict_proba(X))
    assert stock.n_iter_ < stock.max_iter  # the stopping rule decided
    nodes = [tree.nodes for trees in booster._predictors for tree in trees]
    assert any(np.isinf(nd["num_threshold"][nd["is_leaf"] == 0]).any() for nd in nodes)  # a split on NaN
    assert booster.train_score_.shape == (0,)


@pytest.fixture
def loss_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows of every binomial loss computed (the early-stopping scores)."""
    calls: list[int] = []

    def counted(self, y_true, raw_prediction, sample_weight=None, n_threads=1):
        calls.append(len(y_true))
        return BaseLoss.__call__(self, y_true, raw_prediction, sample_weight, n_threads)

    monkeypatch.setattr(HalfBinomialLoss, "__call__", counted)
    return calls


def test_training_loss_is_skipped_only_with_validation_data(medium, loss_calls) -> None:
    X, y, _ = medium
    X, y = X[:5000], y[:5000]
    params = build_boosted(seed=3, n_train=5000).get_params()
    n_val = 500  # validation_fraction 0.1 of 5,000
    stock = HistGradientBoostingClassifier(**params).fit(X, y)
    assert sorted(set(loss_calls)) == [n_val, 5000 - n_val]  # the reference computes both
    loss_calls.clear()
    booster = Booster(**params).fit(X, y)
    assert loss_calls == [n_val] * (booster.n_iter_ + 1)  # one validation loss per iteration
    assert booster.n_iter_ == stock.n_iter_
    # without validation data the training loss is the stopping rule: kept, as scikit-learn keeps it
    params.update(validation_fraction=None, tol=3e-3)  # a tolerance the training loss stops at
    stock = HistGradientBoostingClassifier(**params).fit(X, y)
    loss_calls.clear()
    booster = Booster(**params).fit(X, y)
    assert loss_calls == [5000] * (booster.n_iter_ + 1)
    assert booster.n_iter_ == stock.n_iter_ < params["max_iter"]
    assert np.array_equal(booster.train_score_, stock.train_score_)
    assert booster.validation_score_.shape == (0,)


@pytest.mark.parametrize(
    "change",
    [{"early_stopping": False}, {"validation_fraction": None}, {"sample_weight": True}],
    ids=["no early stopping", "stopping on the training loss", "sample weights"],
)
def test_fit_proba_without_a_validation_split_predicts_the_rows(medium, change) -> None:
    """Without raw predictions of every row to keep, :attr:`Booster.fit_proba_` is predicted."""
    X, y, _ = medium
    X, y = X[:4000], y[:4000]
    params = {**build_boosted(seed=5, n_train=X.shape[0]).get_params(), "max_iter": 30}
    weight = np.linspace(0.5, 1.5, y.shape[0]) if change.pop("sample_weight", False) else None
    params.update(change)
    stock = HistGradientBoostingClassifier(**params).fit(X, y, sample_weight=weight)
    booster = Booster(**params).fit(X, y, sample_weight=weight)
    assert np.array_equal(booster.fit_proba_, stock.predict_proba(X))


def test_pickle_round_trip(medium) -> None:
    X, y, new = medium
    booster = build_boosted(seed=3, n_train=5000).fit(X[:5000], y[:5000])
    again = pickle.loads(pickle.dumps(booster))
    assert type(again) is Booster
    assert again.get_params() == booster.get_params()
    assert again.n_iter_ == booster.n_iter_
    assert np.array_equal(again.validation_score_, booster.validation_score_)
    assert np.array_equal(again.predict_proba_binned(new), booster.predict_proba(new))
    assert type(pickle.loads(pickle.dumps(build_boosted(seed=3)))) is Booster


def test_clone_gives_an_unfitted_booster_with_the_same_parameters(medium) -> None:
    X, y, new = medium
    fitted = build_boosted(seed=3, n_train=5000).fit(X[:5000], y[:5000])
    copy = clone(fitted)
    assert type(copy) is Booster
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "_predictors")
    copy.fit(X[:5000], y[:5000])
    assert np.array_equal(copy.predict_proba_binned(new), fitted.predict_proba_binned(new))


def test_categorical_features_predict_with_predict_proba(monkeypatch: pytest.MonkeyPatch) -> None:
    """With categorical features (not used by healthgap) the booster predicts with
    ``predict_proba`` itself, not on bins; unknown, negative and missing categories included."""
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.choice([0.0, 1.0, 3.0, 5.0], 3000), rng.normal(size=3000)])
    y = rng.random(3000) < 1 / (1 + np.exp(-(X[:, 0] - 2 + X[:, 1])))
    params = {"categorical_features": [0], "early_stopping": True, "max_iter": 60, "random_state": 0}
    booster = Booster(**params).fit(X, y)
    stock = HistGradientBoostingClassifier(**params).fit(X, y)
    binned: list[int] = []
    monkeypatch.setattr(booster._bin_mapper, "transform", lambda Z: binned.append(len(Z)))
    new = np.column_stack([[0, 1, 2, 3, 4, 5, 7, -1, np.nan, 2.5], np.linspace(-2, 2, 10)])
    _assert_same(stock, booster, X, new)
    assert binned == []


def test_fit_and_fit_variant_predict_as_the_stock_classifier(make_people) -> None:
    """:func:`healthgap.models.fit` and ``fit_variant`` give the stock classifier's risks."""
    people = make_people(n=4000, seed=3)
    people = people.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("bmi")).alias("bmi")
    )
    result = fit(people, learners=("boosted",), evaluate=False)
    model = result.models["boosted"]
    assert isinstance(model, Booster)
    assert np.isnan(result.X_train).any()
    stock = _stock(model)
    with one_thread():
        stock.fit(result.X_train, result.y_train)
    assert np.array_equal(result.risk_train["boosted"], stock.predict_proba(result.X_train)[:, 1])
    assert np.array_equal(result.risk_test["boosted"], stock.predict_proba(result.X_test)[:, 1])
    keep = [i for i, f in enumerate(result.features) if f != "statin"]
    label = np.asarray(result.y_train, bool)
    train, test = fit_variant(result, label=label, drop=("statin",))
    stock = _stock(model).fit(result.X_train[:, keep], label)
    assert np.array_equal(train, stock.predict_proba(result.X_train[:, keep])[:, 1])
    assert np.array_equal(test, stock.predict_proba(result.X_test[:, keep])[:, 1])
