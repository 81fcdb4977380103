"""A cheaper ``HistGradientBoostingClassifier``: the same model and predictions, less work.

Two savings, both without changing a number:

* Early stopping on validation data decides on the validation loss alone, but scikit-learn
  also computes the loss of every training row at each iteration (only to record
  ``train_score_``). :class:`Booster` leaves it out.
* Predictions on the raw feature values compare each value with the split thresholds tree by
  tree. :meth:`Booster.predict_proba_binned` maps each value to its bin once, with the
  fitted bin mapper, and walks the trees on the bins, as scikit-learn itself predicts its
  validation rows during ``fit``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
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
        the training loss; without validation data, the parent's (training-loss) rule."""
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
