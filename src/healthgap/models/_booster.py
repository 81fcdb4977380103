"""A cheaper ``HistGradientBoostingClassifier``: the same model and predictions, less work.

Three savings, none changing a number:

* Early stopping on validation data decides on the validation loss alone, but scikit-learn
  also computes the loss of every training row at each iteration (only to record
  ``train_score_``). :class:`Booster` leaves it out.
* Predictions on the raw feature values compare each value with the split thresholds tree by
  tree. :meth:`Booster.predict_proba_binned` maps each value to its bin once, with the
  fitted bin mapper, and walks the trees on the bins, as scikit-learn itself predicts its
  validation rows during ``fit``.
* Fitting keeps every training row's raw prediction up to date (the training rows' to grow
  the next tree, the validation rows' to decide when to stop). :attr:`Booster.fit_proba_`
  keeps them, in the rows' own order: the fitted model's probabilities for the data it was
  fitted on, without walking every tree again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils.validation import check_is_fitted

__all__ = ["Booster"]


class Booster(HistGradientBoostingClassifier):
    """``HistGradientBoostingClassifier`` without the training loss and with binned predictions.

    The parameters, the fitted trees, ``n_iter_``, ``validation_score_`` and every prediction
    are those of :class:`sklearn.ensemble.HistGradientBoostingClassifier` with the same
    parameters, bit for bit (``tests/test_booster.py``). Two differences:

    * With early stopping on the loss (``scoring="loss"``) and validation data
      (``validation_fraction`` or ``X_val``), the training loss is not computed: the stopping
      rule reads only the validation loss. ``train_score_`` is then an empty array (as
      scikit-learn leaves it without early stopping). Without validation data the training
      loss is the stopping rule, and it is computed and kept as scikit-learn does.
    * :meth:`predict_proba_binned` gives :meth:`predict_proba`'s probabilities through the
      fitted bin mapper, in about two thirds of the time.
    * After :meth:`fit`, :attr:`fit_proba_` holds :meth:`predict_proba` of the fitted rows (in
      their order), from the raw predictions fitting kept (with early stopping on validation
      data split off by ``validation_fraction``; otherwise by predicting them once).

    References
    ----------
    .. [1] scikit-learn ``HistGradientBoostingClassifier`` (User Guide, "Histogram-Based
       Gradient Boosting": early stopping, missing values) and its source,
       ``sklearn/ensemble/_hist_gradient_boosting/gradient_boosting.py``
       (``_check_early_stopping_loss``, ``_raw_predict``, ``_predict_iterations``).
    .. [2] scikit-learn source, ``sklearn/ensemble/_hist_gradient_boosting/_binning.pyx``
       (``_map_to_bins``) and ``_predictor.pyx`` (``_predict_one_from_raw_data``,
       ``_predict_one_from_binned_data``).
    """

    #: Probabilities of the rows :meth:`fit` was given, shape ``(n_samples, n_classes)``.
    fit_proba_: np.ndarray

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> Booster:
        """Fit as scikit-learn does; then set :attr:`fit_proba_`.

        Fitting updates each training row's raw prediction tree by tree (the same additions, in
        the same order, as predicting it afterwards) and, with early stopping on validation
        data, each validation row's. Put back in the rows' order (the validation split redrawn
        with the fit's own seed and stratification), they are :meth:`predict_proba` of ``X``,
        bit for bit (``tests/test_booster.py``).
        """
        self._kept: tuple[np.ndarray, np.ndarray | None] | None = None
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        kept, self._kept = self._kept, None
        split = (
            kept is not None
            and kept[1] is not None
            and sample_weight is None
            and not kwargs
            and not self.warm_start
            and self.is_categorical_ is None
        )
        if not split:
            self.fit_proba_ = np.asarray(self.predict_proba(X))
            return self
        assert kept is not None and kept[1] is not None
        train_raw, val_raw = kept
        n = train_raw.shape[0] + val_raw.shape[0]
        rows_train, rows_val = train_test_split(
            np.arange(n),
            test_size=self.validation_fraction,
            stratify=np.asarray(y),
            random_state=self._random_seed,
        )
        raw = np.empty((n, train_raw.shape[1]), dtype=train_raw.dtype, order="F")
        raw[rows_train] = train_raw
        raw[rows_val] = val_raw
        self.fit_proba_ = np.asarray(self._loss.predict_proba(raw))
        return self

    def _check_early_stopping_loss(
        self,
        raw_predictions: np.ndarray,
        y_train: np.ndarray,
        sample_weight_train: np.ndarray | None,
        raw_predictions_val: np.ndarray | None,
        y_val: np.ndarray | None,
        sample_weight_val: np.ndarray | None,
        n_threads: int = 1,
    ) -> bool:
        """Record the validation loss and decide whether to stop, as scikit-learn does, without
        the training loss; without validation data, the parent's (training-loss) rule.

        Keeps the raw predictions of the training and validation rows for :meth:`fit`: scikit-learn
        updates these arrays in place, so they hold the final model's at the end."""
        self._kept = (raw_predictions, raw_predictions_val)
        if not self._use_validation_data:
            return bool(
                super()._check_early_stopping_loss(
                    raw_predictions=raw_predictions,
                    y_train=y_train,
                    sample_weight_train=sample_weight_train,
                    raw_predictions_val=raw_predictions_val,
                    y_val=y_val,
                    sample_weight_val=sample_weight_val,
                    n_threads=n_threads,
                )
            )
        self.validation_score_.append(
            -self._loss(
                y_true=y_val,
                raw_prediction=raw_predictions_val,
                sample_weight=sample_weight_val,
                n_threads=n_threads,
            )
        )
        return bool(self._should_stop(self.validation_score_))

    def predict_proba_binned(self, X: Any) -> np.ndarray:
        """Class probabilities of ``X``, equal to :meth:`predict_proba` bit for bit.

        The rows are binned with the fitted bin mapper (a value goes to the first bin whose
        upper threshold it does not exceed, a missing value to the missing-value bin) and each
        tree is walked on the bins (``x <= threshold`` exactly when ``bin(x) <= bin
        threshold``; a split "on missing values" sends every non-missing value left in both),
        adding the trees' values in the same order and with as many OpenMP threads as
        :meth:`predict_proba`. A model with categorical features predicts with
        :meth:`predict_proba` itself: healthgap's features are all numeric (categories arrive as
        ordinal codes), and the binned path is checked on numeric features only.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        if self.is_categorical_ is not None:
            return np.asarray(self.predict_proba(X))
        X = self._preprocess_X(X, reset=False)
        binned = np.ascontiguousarray(self._bin_mapper.transform(X))
        raw = np.zeros(
            shape=(binned.shape[0], self.n_trees_per_iteration_),
            dtype=self._baseline_prediction.dtype,
            order="F",
        )
        raw += self._baseline_prediction
        self._predict_iterations(
            binned, self._predictors, raw, is_binned=True, n_threads=_openmp_effective_n_threads()
        )
        return np.asarray(self._loss.predict_proba(raw))
