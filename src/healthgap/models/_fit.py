"""Fitting the two risk models and evaluating them on a held-out test set."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from healthgap.config import ModelSettings
from healthgap.contract import PROTECTED, TRUTH_PREFIX
from healthgap.models._booster import Booster
from healthgap.models._features import design, label_of, resolve, target_vector
from healthgap.models._performance import performances, reliability

__all__ = [
    "ModelResult",
    "fit",
    "MODEL_LABELS",
    "GROUP_COLUMNS",
    "ModelName",
    "build_logistic",
    "build_boosted",
    "leaf_size",
    "train_size",
    "cut_off",
    "MAX_LEAF",
    "LEAF_SHARE",
    "MIN_LEAF",
    "one_thread",
    "OPENMP_THREADS",
    "BLAS_THREADS",
]

ModelName = Literal["logistic", "boosted"]
MODEL_LABELS: dict[str, str] = {"logistic": "Logistic regression", "boosted": "Gradient boosting"}
#: Columns kept aside (not features) for the fairness audit, when present.
GROUP_COLUMNS: tuple[str, ...] = (*PROTECTED, "age", "locality")

#: The booster's smallest leaf on large data (people per leaf).
MAX_LEAF = 500
#: On smaller data a leaf holds at least this share of the training set (1/20)...
LEAF_SHARE = 20
#: ...and never fewer than this many people.
MIN_LEAF = 5

#: OpenMP threads of scikit-learn's compiled code while fitting and predicting (:func:`one_thread`).
OPENMP_THREADS = 1
#: BLAS threads of the matrix products while fitting, predicting and mitigating (:func:`one_thread`).
BLAS_THREADS = 1

UNKNOWN_MODEL = "Unknown model {model!r}; expected one of {options}."
BAD_FRACTION = "top_fraction must be between 0 and 1 (exclusive), got {value!r}."


@contextmanager
def one_thread() -> Iterator[None]:
    """Run scikit-learn's OpenMP code (the booster's fit and prediction, the losses) on
    :data:`OPENMP_THREADS` thread and the BLAS (matrix products: the logistic regressions, the
    mitigations' reductions) on :data:`BLAS_THREADS`.

    The built-in renderer runs one chapter per core at a time, and the booster starts one
    OpenMP thread per core in each: the threads then wait for each other (a fit and its
    predictions took 15 s of processor time instead of 3 on two busy cores). One thread per
    chapter keeps every core busy without that waiting; only a model fitted alone (a
    notebook) on a many-core machine takes longer than it could. The booster's results do not
    depend on the number of threads (each prediction is made row by row, each histogram by one
    thread), so they are the same, bit for bit (``tests/test_models_speed.py``).

    The BLAS threads spin likewise: the default book's mitigation took 8.8 processor-seconds
    with two and 6.5 with one, for the same result. A sum split between BLAS threads depends,
    in its last bits, on how many there are; with one thread a logistic regression's
    coefficients no longer depend on the machine's number of cores (they agree with the
    multi-threaded fit to about 1e-12, ``tests/test_models_speed.py``).

    References
    ----------
    .. [1] scikit-learn User Guide, "Parallelism, resource management, and configuration"
       (oversubscription; ``threadpoolctl``).
    .. [2] OpenBLAS source, ``driver/others/blas_server.c``: an idle thread spins for a while
       (``thread_timeout``) before it sleeps.
    """
    with (
        threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"),
        threadpool_limits(limits=BLAS_THREADS, user_api="blas"),
    ):
        yield


def build_logistic(numeric: Sequence[int], categorical: Sequence[int], *, seed: int) -> Pipeline:
    """Logistic-regression baseline: impute, scale / one-hot, then fit (L2, C=1).

    Numeric features: median imputation with a missing-value indicator, then
    standardisation. Categorical codes: most-frequent imputation, then one-hot.

    References
    ----------
    .. [1] scikit-learn User Guide, "Column Transformer with Mixed Types".
    """
    transformers: list[tuple[str, Any, list[int]]] = []
    if numeric:
        transformers.append(
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                list(numeric),
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                list(categorical),
            )
        )
    return Pipeline(
        [
            ("prepare", ColumnTransformer(transformers)),
            ("model", LogisticRegression(max_iter=1000, random_state=seed)),
        ]
    )


def train_size(n: int, test_size: float) -> int:
    """People in the training set when ``n`` people are split with ``test_size`` held out
    (as :func:`sklearn.model_selection.train_test_split` splits them)."""
    return n - int(np.ceil(test_size * n))


def leaf_size(n_train: int | None) -> int:
    """The smallest leaf of the booster's trees for ``n_train`` training people.

    :data:`MAX_LEAF` (500) people on large data; on smaller data a twentieth of the
    training set (:data:`LEAF_SHARE`), at least :data:`MIN_LEAF`. A fixed 500 on
    1,140 training people leaves each tree one split at most, so the model gives a
    handful of distinct risks and a "top 5%" cannot be told apart from the top 20%.
    """
    if n_train is None:
        return MAX_LEAF
    return int(min(MAX_LEAF, max(MIN_LEAF, n_train // LEAF_SHARE)))


def cut_off(risk: np.ndarray, fraction: float) -> float:
    """The highest-risk cut-off that flags no more than ``fraction`` of ``risk`` (at or above it).

    Without ties it is the ``1 - fraction`` quantile (``method="higher"``) and flags
    ``floor(fraction x n)`` people. When people tied at that risk would take the share
    above ``fraction``, the cut-off moves up to the next distinct risk, so it flags fewer
    (never more): flagging one of the tied people would flag them all. When even the
    highest risk is shared by more than the share, the cut-off lies above every risk
    and flags nobody.
    """
    values = np.sort(np.asarray(risk, dtype=np.float64))[::-1]
    n = values.shape[0]
    k = int(np.floor(fraction * n + 1e-9))
    if n == 0 or k == 0:
        return float(np.nextafter(values[0], np.inf)) if n else float("inf")
    cut = values[k - 1]
    if k < n and values[k] == cut:  # the k-th person's risk is shared with the next: flag above it
        above = values[values > cut]
        return float(above.min()) if above.size else float(np.nextafter(values[0], np.inf))
    return float(cut)


def build_boosted(*, seed: int, n_train: int | None = None) -> Booster:
    """Gradient-boosted trees (histogram-based), early stopping on a seeded 10% validation split.

    Small trees (8 leaves, at least :func:`leaf_size` people per leaf: 500 on large
    data, a twentieth of the ``n_train`` training people on smaller data), a learning
    rate of 0.05 and L2 regularisation: outcomes such as emergency admissions are rare
    (about 1 in 100), and larger trees over-fit them (calibration slope < 1).

    Missing values are handled natively (NaN goes down the learned side of each split);
    categorical features arrive as ordinal codes, so every split is numeric.

    A :class:`~healthgap.models._booster.Booster`: scikit-learn's classifier without the
    training loss it computes only to record it, predicting (``predict_proba_binned``) on
    binned features; the same trees and predictions, bit for bit.

    References
    ----------
    .. [1] Ke G, et al. LightGBM: a highly efficient gradient boosting decision tree. NeurIPS 2017.
    .. [2] scikit-learn ``HistGradientBoostingClassifier``.
    """
    return Booster(
        max_iter=300,
        learning_rate=0.05,
        max_leaf_nodes=8,
        min_samples_leaf=leaf_size(n_train),
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=seed,
    )


@dataclass(frozen=True, eq=False)
class ModelResult:
    """A fitted pair of models and their held-out evaluation.

    Attributes
    ----------
    target, target_label : the outcome modelled and its label.
    labels : column -> label from the config (measures), used before the contract's labels.
    features : feature names, in the column order of ``X_train``/``X_test``.
    categorical, categories : ordinal-coded features and their levels (code = position).
    excluded : protected characteristics present in the data but not used as features.
    models : ``{"logistic": Pipeline, "boosted": HistGradientBoostingClassifier}`` (those fitted).
    X_train, y_train, X_test, y_test : the split design matrices and targets.
    risk_train, risk_test : predicted probabilities per model.
    groups_train, groups_test : equity columns, age band and true-status columns per row, kept
        aside from the features for the fairness audit.
    metrics : test-set performance (AUROC, AP, Brier, calibration) with bootstrap CIs (empty
        when fitted with ``evaluate=False``).
    calibration : reliability curve (tenths of predicted risk) per model (empty likewise).
    settings : the :class:`~healthgap.config.ModelSettings` used.
    cache_key : key of the fit in the model cache (None when fitted without the cache).
    """

    target: str
    target_label: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]
    excluded: tuple[str, ...]
    models: Mapping[str, Any]
    X_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    risk_train: Mapping[str, np.ndarray] = field(repr=False)
    risk_test: Mapping[str, np.ndarray] = field(repr=False)
    groups_train: pl.DataFrame = field(repr=False)
    groups_test: pl.DataFrame = field(repr=False)
    metrics: pl.DataFrame = field(repr=False)
    calibration: pl.DataFrame = field(repr=False)
    settings: ModelSettings = field(default_factory=ModelSettings)
    cache_key: str | None = None  # set by fit_cached: identifies data + settings for derived caches
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, name: str) -> str:
        """The label of a column: the config's (``labels``), else the contract's, else the name."""
        return self.labels.get(name) or label_of(name)

    @property
    def feature_labels(self) -> tuple[str, ...]:
        return tuple(self.label(f) for f in self.features)

    @property
    def leaf(self) -> int:
        """The smallest leaf of the gradient-boosted model's trees (people)."""
        return int(self.models["boosted"].min_samples_leaf)

    def model(self, name: str) -> Any:
        if name not in self.models:
            raise KeyError(UNKNOWN_MODEL.format(model=name, options=", ".join(self.models)))
        return self.models[name]

    def threshold(self, model: str = "boosted", *, top_fraction: float | None = None) -> float:
        """Risk cut-off flagging the top ``top_fraction`` of the training population (:func:`cut_off`).

        The highest cut-off that flags no more than that share of the training set
        (fewer when people tied at the cut-off would take it over the share); applied
        to the test set it flags about that share.
        """
        fraction = self.settings.top_fraction if top_fraction is None else top_fraction
        if not 0 < fraction < 1:
            raise ValueError(BAD_FRACTION.format(value=fraction))
        self.model(model)
        return cut_off(self.risk_train[model], fraction)

    def flagged(self, model: str = "boosted", *, top_fraction: float | None = None) -> np.ndarray:
        """Test-set people at or above :meth:`threshold` (bool array)."""
        return self.risk_test[model] >= self.threshold(model, top_fraction=top_fraction)


def _group_frame(df: pl.DataFrame, extra: Sequence[str] = ()) -> pl.DataFrame:
    from healthgap.stats import age_bands

    keep = [c for c in dict.fromkeys([*GROUP_COLUMNS, *extra]) if c in df.columns and c != "age_band"]
    truth = [c for c in df.columns if c.startswith(TRUTH_PREFIX)]
    text = ("imd_quintile", "imd_decile", *extra)  # equity levels are strings, as in the config
    exprs: list[pl.Expr] = [
        pl.col(c).cast(pl.String) if c in text and c != "age" else pl.col(c) for c in keep + truth
    ]
    if "age" in df.columns:
        exprs.append(age_bands("age").cast(pl.String).alias("age_band"))
    return df.select(exprs)


def fit(
    people: pl.DataFrame | pl.LazyFrame,
    *,
    settings: ModelSettings | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int | None = None,
    labels: Mapping[str, str] | None = None,
    groups: Sequence[str] = (),
    learners: Sequence[ModelName] = ("logistic", "boosted"),
    evaluate: bool = True,
) -> ModelResult:
    """Fit a logistic-regression baseline and a gradient-boosted model, and evaluate both.

    Parameters
    ----------
    people : the canonical person table (e.g. ``healthgap.data.load(config)``).
    settings : target, features, split, seed (default :class:`ModelSettings`; see
        :func:`settings_for` for a config's).
    n_boot : bootstrap replicates for the metric confidence intervals.
    confidence : confidence level of the intervals.
    seed : seed for the bootstrap (default ``settings.seed``).
    labels : column -> label (the config's measure labels), for the words of the pages.
    groups : further columns kept aside for the fairness audit (the config's equity
        dimensions), besides :data:`GROUP_COLUMNS`.
    learners : the models fitted (default both). A model used only for its gradient-boosted
        predictions (the label-bias refit) fits ``("boosted",)``: each model is fitted on its
        own, so the booster is the same with or without the baseline.
    evaluate : whether to compute :attr:`ModelResult.metrics` (with ``n_boot`` bootstrap
        replicates) and :attr:`ModelResult.calibration`; without, both are empty frames.

    Returns
    -------
    ModelResult

    Notes
    -----
    The split is stratified on the target with ``settings.seed``. Both models
    are trained on the training part only; every metric is on the test part.

    References
    ----------
    .. [1] Steyerberg EW. Clinical Prediction Models, 2nd ed. Springer, 2019 (ch. 15, validation).
    .. [2] Collins GS, et al. TRIPOD+AI statement. BMJ 2024;385:e078378.
    """
    settings = settings or ModelSettings()
    lf = people.lazy() if isinstance(people, pl.DataFrame) else people
    schema = lf.collect_schema()
    target, features, excluded = resolve(schema, settings)
    aside = (*GROUP_COLUMNS, *groups)
    group_cols = [c for c in (*aside, *schema) if c in schema and (c in aside or c.startswith(TRUTH_PREFIX))]
    df = lf.select(list(dict.fromkeys([target, *features, *group_cols]))).collect()
    y = target_vector(df, target)
    X, categorical, categories = design(df, features)
    index = np.arange(df.height)
    train, test = train_test_split(
        index, test_size=settings.test_size, stratify=y, random_state=settings.seed
    )
    train.sort()
    test.sort()
    cat_idx = [features.index(c) for c in categorical]
    num_idx = [i for i in range(len(features)) if i not in cat_idx]
    builders = {
        "logistic": lambda: build_logistic(num_idx, cat_idx, seed=settings.seed),
        "boosted": lambda: build_boosted(seed=settings.seed, n_train=int(train.shape[0])),
    }
    unknown = [name for name in learners if name not in builders]
    if unknown or not learners:
        raise KeyError(UNKNOWN_MODEL.format(model=unknown or list(learners), options=", ".join(builders)))
    models = {name: build() for name, build in builders.items() if name in learners}
    kept = _group_frame(df, groups)
    risk_train, risk_test = {}, {}
    with one_thread():
        for name, model in models.items():
            model.fit(X[train], y[train])
            if isinstance(model, Booster):  # the training rows' risks come from the fit itself
                risk_train[name] = model.fit_proba_[:, 1]
                risk_test[name] = model.predict_proba_binned(X[test])[:, 1]
            else:
                risk_train[name] = model.predict_proba(X[train])[:, 1]
                risk_test[name] = model.predict_proba(X[test])[:, 1]
    boot_seed = settings.seed if seed is None else seed
    metrics, calibration = pl.DataFrame(), pl.DataFrame()
    if evaluate:
        metrics = pl.concat(
            performances(
                y[test],
                {MODEL_LABELS[name]: risk_test[name] for name in models},
                n_boot=n_boot,
                seed=boot_seed,
                confidence=confidence,
            ).values()
        )
        calibration = pl.concat(
            [
                reliability(y[test], risk_test[name], model=MODEL_LABELS[name], confidence=confidence)
                for name in models
            ]
        )
    labels = dict(labels or {})
    return ModelResult(
        target=target,
        target_label=labels.get(target) or label_of(target),
        features=features,
        categorical=categorical,
        categories=categories,
        excluded=excluded,
        models=models,
        X_train=X[train],
        y_train=y[train],
        X_test=X[test],
        y_test=y[test],
        risk_train=risk_train,
        risk_test=risk_test,
        groups_train=kept[train],
        groups_test=kept[test],
        metrics=metrics,
        calibration=calibration,
        settings=settings,
        labels=labels,
    )
