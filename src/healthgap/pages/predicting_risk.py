"""Predicting risk: the model's target, features, performance, calibration and operating point.

Every number comes from a frame published once (:meth:`healthgap.book.Book.publish`):
the features with their missing values, the performance table, the reliability curve,
the capacity table, the test-set outcome counts and the sizes of the data and of the two
sets. The proportions among them (observed shares, sensitivity, positive predictive value
and their Wilson intervals) are recomputed from the counts as they will be published
(disclosure rule 8), in the ``recompute`` step of :func:`healthgap.disclosure.publish`.

What the model predicts is the config's target measure, worded with its label and period
(:func:`healthgap.pages._models.target_phrase`); the features are the config's baseline
measures. When the dataset has no usable outcome (:attr:`ModelPages.problem`), the
chapter says so once (:meth:`PredictingRiskPage.skip_note`), its later sections point
back to that note and its optional paragraphs are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from healthgap import charts
from healthgap.config import DisclosureSettings
from healthgap.contract import CONTRACT
from healthgap.disclosure import Published
from healthgap.models import (
    CAPACITY_FRACTIONS,
    METRIC_LABELS,
    MODEL_LABELS,
    ModelResult,
    capacity,
    outcome_counts,
)
from healthgap.pages._models import EQUALITY_ACT, MODEL_BOOT, PERCENT_AXIS, ModelPages, features_sentence
from healthgap.pages.base import CI_COLUMNS, Page
from healthgap.stats import wilson_lower, wilson_upper
from healthgap.text import format_expr, interval, join, num, pct

__all__ = [
    "PredictingRiskPage",
    "features_frame",
    "citl_for_events",
    "consistent_calibration",
    "CALIBRATION_METRICS",
    "CALIBRATION_DECIMALS",
    "CITL_ROUNDED",
    "MEAN_PREDICTED_FIGURES",
    "observed_shares",
    "capacity_rates",
    "metric_row",
    "split_sentence",
    "discrimination_sentence",
    "calibration_sentence",
    "operating_sentence",
    "ties_sentence",
    "same_cut_sentence",
    "protected_sentence",
    "FEATURE_COLUMNS",
    "PERFORMANCE_COLUMNS",
    "CALIBRATION_COLUMNS",
    "CAPACITY_COLUMNS",
    "NO_OUTCOME_SKIP",
    "NO_MODEL",
    "TOO_FEW_OUTCOMES",
    "INHERITS_TRUTH",
    "INHERITS_NO_TRUTH",
    "NO_TARGET",
    "NO_PROTECTED",
]

#: Reason of the note at the top of each model chapter when no model can be fitted.
NO_OUTCOME_SKIP = "usable outcome for the model: {problem}"
#: Rank statistics published rounded: at full precision AUROC x cases x non-cases is a whole (or
#: half) number for one case count only, which gave the exact number of cases back.
RANK_METRICS = ("auroc", "average_precision")
#: Their decimals (3: many case counts fit the published value; the sentences state 3).
RANK_DECIMALS = 3
#: The calibration statistics of the performance table, published to :data:`CALIBRATION_DECIMALS`
#: decimals (calibration-in-the-large from the published events: :func:`consistent_calibration`).
CALIBRATION_METRICS = ("calibration_in_the_large", "calibration_slope")
CALIBRATION_DECIMALS = 2
#: After the calibration sentence when counts are rounded (:func:`consistent_calibration`).
CITL_ROUNDED = (
    " Calibration-in-the-large is computed against the published number of people with the outcome "
    "(rounded to the nearest {rounding}) rather than the exact number, so on small data it can differ "
    "from the exact figure by that rounding."
)
#: Significant figures of a tenth's mean predicted risk on the reliability curve.
MEAN_PREDICTED_FIGURES = 3
#: What later sections say is missing (ModelPages.skip points back to the note above).
NO_MODEL = "usable model outcome"
#: Sentence when too few people in the test set had the outcome to publish a result.
TOO_FEW_OUTCOMES = "Too few people in the test set had the outcome to publish {what}."
#: What the chapter says the model predicts when no model can be fitted.
NO_TARGET = "nothing: no model can be fitted to this dataset (see the note below)"
INHERITS_TRUTH = "whether it inherits the inequalities in diagnosis shown in @sec-access-detection."
INHERITS_NO_TRUTH = (
    "whether it inherits inequalities in who is diagnosed: it learns from recorded disease (@sec-disease), "
    "and this dataset cannot show how complete diagnosis is."
)
#: When the dataset has no protected characteristic or equity dimension to leave out.
NO_PROTECTED = (
    "**Equity dimensions and features.** The dataset has no equity dimension or protected characteristic "
    "that the model could use, so none is left out."
)

FEATURE_COLUMNS = {
    "label": "Column",
    "column": "Name in the data",
    "group": "Kind",
    "use": "Use",
    "missing": "Missing values",
}
PERFORMANCE_COLUMNS = {
    "model": "Model",
    "statistic": "Measure",
    "value": "Value",
    **CI_COLUMNS,
    "n": "People",
    "events": "With the outcome",
}
CALIBRATION_COLUMNS = {
    "model": "Model",
    "bin": "Tenth of risk",
    "n": "People",
    "events": "With the outcome",
    "mean_predicted": "Mean predicted risk",
    "value": "Observed share",
    **CI_COLUMNS,
}
CAPACITY_COLUMNS = {
    "share": "Share flagged",
    "threshold": "Risk cut-off",
    "flagged": "People flagged",
    "found": "Of whom had the outcome",
    "cases": "Everyone with the outcome",
    "sensitivity": "Share of outcomes found",
    "sensitivity_lower": "Lower 95% CI",
    "sensitivity_upper": "Upper 95% CI",
    "ppv": "Share of flagged with the outcome",
}
_THREE_DP = {c: ("number", 3) for c in ("value", "lower_ci", "upper_ci")}
_CAPACITY_COUNTS = ["flagged", "found", "cases", "train_flagged", "train_wanted"]
_CAPACITY_RATES = ["sensitivity", "sensitivity_lower", "sensitivity_upper", "ppv", "ppv_lower", "ppv_upper"]
_CALIBRATION_TITLE = "Observed against predicted risk in tenths of predicted risk (test set)"
_CAPACITY_TITLE = "What flagging different shares of people would achieve (gradient-boosted model, test set)"
_PERFORMANCE_TITLE = "Performance on the test set, with 95% bootstrap confidence intervals"


# -- frames ------------------------------------------------------------------------------
def features_frame(
    result: ModelResult,
    *,
    exclude_protected: bool,
    excluded: tuple[str, ...] | None = None,
    kinds: dict[str, str] | None = None,
    missing: dict[str, int] | None = None,
    compared: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The columns the model uses (``use`` "feature") and the equity columns it leaves out; a
    protected characteristic under the Equality Act 2010 (:data:`EQUALITY_ACT`) is marked as one,
    whether a feature (age) or not.

    Parameters
    ----------
    result : the fitted models.
    exclude_protected : ``model.exclude_protected`` (how the left-out columns are described).
    excluded : the columns left out (default ``result.excluded``).
    kinds : column -> kind (the config's measure kinds); else the contract's group.
    missing : column -> people without a value (exact); the column is left out without it.
    compared : the equity dimensions compared on the fairness page: only these read "not used
        (equity dimension)", other left-out columns (IMD decile) "not used". Every left-out column
        reads so when not given.

    Returns
    -------
    pl.DataFrame
        ``column``, ``label``, ``use``, ``group`` (the kind of column) and, with ``missing``,
        ``missing`` (exact counts: publish them).
    """
    excluded = result.excluded if excluded is None else excluded
    kinds = kinds or {}
    names = [*result.features, *excluded]

    def use(column: str, *, feature: bool) -> str:
        protected = column in EQUALITY_ACT
        if feature:
            return "feature (protected characteristic)" if protected else "feature"
        if not exclude_protected:
            return "not used"
        if protected:
            return "not used (protected characteristic)"
        return "not used (equity dimension)" if compared is None or column in compared else "not used"

    frame = pl.DataFrame(
        {
            "column": names,
            "label": [result.label(f) for f in names],
            "use": [use(f, feature=True) for f in result.features]
            + [use(f, feature=False) for f in excluded],
            "group": [kinds.get(f) or (CONTRACT[f].group if f in CONTRACT else "equity") for f in names],
        },
        schema={"column": pl.String, "label": pl.String, "use": pl.String, "group": pl.String},
    )
    if missing is None:
        return frame
    return frame.with_columns(
        missing=pl.col("column").replace_strict(missing, default=0, return_dtype=pl.Int64)
    )


def observed_shares(frame: pl.DataFrame) -> pl.DataFrame:
    """Each reliability bin's observed share (``events / n``) and its Wilson interval.

    The ``recompute`` step of publishing the reliability curve: ``frame`` holds the
    counts as they will be published (disclosure rule 8).
    """
    x, n = pl.col("events").cast(pl.Float64), pl.col("n").cast(pl.Float64)
    return frame.with_columns(
        value=x / n, lower_ci=wilson_lower(x, n, 0.95), upper_ci=wilson_upper(x, n, 0.95)
    )


def capacity_rates(frame: pl.DataFrame) -> pl.DataFrame:
    """Sensitivity and positive predictive value, with Wilson intervals, from the counts.

    The ``recompute`` step of publishing the capacity table: ``frame`` holds the
    counts as they will be published (disclosure rule 8). The positive predictive
    value of a cut-off that flags nobody is 0.

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical
       inference. JASA 1927;22:209-12.
    """
    found, cases = pl.col("found").cast(pl.Float64), pl.col("cases").cast(pl.Float64)
    flagged = pl.col("flagged").cast(pl.Float64)
    rates = frame.with_columns(
        sensitivity=found / cases,
        sensitivity_lower=wilson_lower(found, cases, 0.95),
        sensitivity_upper=wilson_upper(found, cases, 0.95),
        ppv=found / flagged.clip(lower_bound=1),
        ppv_lower=wilson_lower(found, flagged, 0.95),
        ppv_upper=wilson_upper(found, flagged, 0.95),
    )
    return rates.select(pl.exclude("operating"), "operating")


def metric_row(performance: Published, metric: str, model: str = "boosted") -> dict[str, Any] | None:
    """One published measure (``metric`` a key of :data:`METRIC_LABELS`) of one model, or None."""
    return performance.row(model=MODEL_LABELS[model], statistic=METRIC_LABELS[metric])


def _known(*rows: dict[str, Any] | None) -> bool:
    """Whether every row is there with its value and interval published."""
    return all(r is not None and None not in (r["value"], r["lower_ci"], r["upper_ci"]) for r in rows)


# -- sentences -----------------------------------------------------------------------------
def split_sentence(
    people: int | None, *, test_size: float, seed: int, share: float | None, rounded: bool = False
) -> str:
    """How the people were split into training and test sets, and the share with the outcome.

    Parameters
    ----------
    people : everyone in the data, as published (rounded).
    test_size, seed : the split.
    share : the published share of the test set with the outcome (None when suppressed).
    rounded : whether published counts are rounded (the number of people reads "about").
    """
    outcome = (
        f"In the test set, {pct(share, 2)} of people had the outcome."
        if share is not None
        else "Too few people in the test set had the outcome to publish their share."
    )
    who = f"the {num(people, 0)} people" if not rounded else f"about {num(people, 0)} people"
    return (
        f"We split {who} at random into a training set "
        f"({pct(1 - test_size, 0)}) and a test set ({pct(test_size, 0)}), keeping the "
        f"share with the outcome the same in both (a stratified split, seed {seed}). " + outcome
    )


def protected_sentence(
    left_out: Sequence[str],
    *,
    used: Sequence[str] = (),
    protected: Sequence[str] = (),
    exclude_protected: bool,
    others: Sequence[str] = (),
    sources: Mapping[str, str] | None = None,
) -> str:
    """The paragraph on the equity dimensions and the features, from the config: which compared
    dimensions are features and which are not, and which features are protected characteristics
    under the Equality Act 2010 (:func:`healthgap.pages._models.features_sentence`, whose
    parameters these are)."""
    text = features_sentence(
        left_out=list(left_out),
        used=list(used),
        protected=list(protected),
        exclude_protected=exclude_protected,
        others=others,
        sources=sources,
    )
    if not text:
        return NO_PROTECTED
    return f"**Equity dimensions and features.** {text} @sec-fairness checks the model's performance group by group."


def discrimination_sentence(performance: Published, *, share: float | None) -> str:
    """AUROC against the logistic regression, average precision against chance, Brier score."""
    auc, auc_lr = metric_row(performance, "auroc"), metric_row(performance, "auroc", "logistic")
    ap, brier = metric_row(performance, "average_precision"), metric_row(performance, "brier")
    if not _known(auc, auc_lr, ap, brier) or share is None:
        return TOO_FEW_OUTCOMES.format(what="how well the model predicts it")
    assert auc is not None and auc_lr is not None and ap is not None and brier is not None
    better = (
        "better than"
        if auc["lower_ci"] > auc_lr["upper_ci"]
        else (
            "worse than"
            if auc["upper_ci"] < auc_lr["lower_ci"]
            # overlapping intervals: "about the same" only when the two AUROCs are close as printed
            else (
                "about the same as"
                if abs(auc["value"] - auc_lr["value"]) < 0.01
                else "not clearly different from"
            )
        )
    )
    return (
        f"The gradient-boosted model has an AUROC of {num(auc['value'], 3)} "
        f"({interval(auc['lower_ci'], auc['upper_ci'], dp=3)}), "
        f"{better} the logistic regression ({num(auc_lr['value'], 3)}, "
        f"{interval(auc_lr['lower_ci'], auc_lr['upper_ci'], dp=3)}). "
        f"Its average precision is {num(ap['value'], 3)}, against {num(share, 3 if share >= 0.01 else 4)} "
        "for a model that guessed at random (the share of people with the outcome), and its Brier score is "
        f"{num(brier['value'], 3)}."
    )


def citl_for_events(risks: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Per row of ``risks`` (models x people), the calibration-in-the-large ``a`` whose
    recalibrated risks ``expit(a + logit(p))`` add up to ``events`` (Newton-Raphson, vectorised
    over models): the maximum-likelihood ``a`` solves exactly this with the true number of events."""
    from scipy.special import expit, logit

    lp = logit(np.clip(risks, 1e-10, 1 - 1e-10))
    a = np.zeros(risks.shape[0])
    for _ in range(100):
        mu = expit(a[:, None] + lp)
        step = (events - mu.sum(axis=1)) / np.maximum((mu * (1 - mu)).sum(axis=1), 1e-12)
        a = a + step
        if np.abs(step).max() < 1e-12:
            break
    return a


def consistent_calibration(
    frame: pl.DataFrame, *, risks: Mapping[str, np.ndarray], settings: DisclosureSettings
) -> pl.DataFrame:
    """The ``recompute`` step of publishing the performance table: calibration-in-the-large from the
    published number of people with the outcome, and both calibration statistics to
    :data:`CALIBRATION_DECIMALS` decimals.

    Calibration-in-the-large ``a`` solves ``sum expit(a + logit(p)) = events`` over the test set, so
    with the tenths' sizes and mean predicted risks it gave back the exact number of events beside
    the rounded one (the round-5 audit: 52.95 against 53 true, 55 published). Here ``a`` solves it for
    the *published* count (its interval moved with it), so it gives back only that; where the count
    is withheld (1 to ``suppress_below - 1``), so is ``a``.

    Parameters
    ----------
    frame : the performance rows with the counts as published (``metric``, ``model``, ``events``).
    risks : model label -> each test-set person's predicted risk.
    settings : the disclosure settings.
    """
    citl = frame.filter(
        (pl.col("metric") == "calibration_in_the_large") & pl.col("model").is_in(list(risks))
    ).select("model", pl.col("events").cast(pl.Float64))
    labels = citl.get_column("model").to_list()
    if labels:
        target = citl.get_column("events").to_numpy()
        solved = citl_for_events(np.vstack([risks[m] for m in labels]), np.nan_to_num(target))
        shift = pl.DataFrame({"model": labels, "__a": solved})
        frame = frame.join(shift, on="model", how="left")
        moved = pl.col("__a") - pl.col("value")
        is_citl = (pl.col("metric") == "calibration_in_the_large") & pl.col("__a").is_not_null()
        frame = frame.with_columns(
            pl.when(is_citl).then(pl.col(c) + moved).otherwise(pl.col(c)).alias(c)
            for c in ("value", "lower_ci", "upper_ci")
        ).drop("__a")
    small = settings.enabled & (pl.col("events") > 0) & (pl.col("events") < settings.suppress_below)
    calibration = pl.col("metric").is_in(list(CALIBRATION_METRICS))
    return frame.with_columns(
        pl.when(calibration & small)
        .then(None)
        .when(calibration)
        .then(pl.col(c).round(CALIBRATION_DECIMALS))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("value", "lower_ci", "upper_ci")
    )


def calibration_sentence(performance: Published, *, rounding: int | None = None) -> str:
    """Calibration-in-the-large and the calibration slope of the gradient-boosted model.

    Parameters
    ----------
    performance : the published performance table.
    rounding : the rounding base of published counts, or None without disclosure control. With
        rounding, calibration-in-the-large is solved for the published (rounded) number of people
        with the outcome (:func:`consistent_calibration`), and the sentence says so.
    """
    citl = metric_row(performance, "calibration_in_the_large")
    slope = metric_row(performance, "calibration_slope")
    if not _known(citl, slope):
        return TOO_FEW_OUTCOMES.format(what="how well calibrated the model is")
    assert citl is not None and slope is not None
    return (
        f'For the gradient-boosted model ("{MODEL_LABELS["boosted"]}" in the performance table), '
        f"calibration-in-the-large is {num(citl['value'], 2)} on the log-odds scale "
        f"({interval(citl['lower_ci'], citl['upper_ci'])}; 0 is "
        f"perfect, positive means the model under-predicts on average) and the calibration slope is "
        f"{num(slope['value'], 2)} ({interval(slope['lower_ci'], slope['upper_ci'])}; 1 is perfect, below 1 means "
        "the predictions are too extreme)."
    ) + (CITL_ROUNDED.format(rounding=rounding) if rounding is not None and rounding > 1 else "")


def operating_sentence(row: dict[str, Any], *, top: str, share: float | None, rounding: int | None) -> str:
    """What flagging the top ``top`` of predicted risk does in the test set.

    Parameters
    ----------
    row : the operating point's row of the published capacity table.
    top : the operating point as a percentage ("5%").
    share : the published share of the test set with the outcome.
    rounding : the rounding base of published counts, or None without disclosure control.
    """
    rounded = f" (rounded to the nearest {rounding})" if rounding is not None else ""
    cut = f"Flagging the top {top} of predicted risk means a cut-off of {pct(row['threshold'], 1)} risk. "
    flagged = (
        f"In the test set that flags about {num(row['flagged'], 0)} people{rounded}"
        if row["flagged"] is not None
        else "The number it flags in the test set is too small to publish"
    )
    if row["sensitivity"] is None or row["ppv"] is None:
        return cut + flagged + "; too few of them had the outcome to publish how many it finds."
    times = f", {num(row['ppv'] / max(share, 1e-12), 1)} times the average" if share is not None else ""
    return (
        cut + flagged + f", who include {pct(row['sensitivity'])} of everyone with the outcome "
        f"({interval(row['sensitivity_lower'], row['sensitivity_upper'], dp=1, percent=True)}); "
        f"{pct(row['ppv'])} of the people flagged go on to have it{times}."
    )


def ties_sentence(row: dict[str, Any], *, top: str, exact: tuple[int, int]) -> str | None:
    """Why the cut-off flags fewer than the top ``top`` of the training set (people tied at it), or None.

    Parameters
    ----------
    row : the operating point's row of the published capacity table (``train_flagged``,
        ``train_wanted`` rounded as published).
    top : the operating point as a percentage ("5%").
    exact : the exact (flagged, wanted) numbers of training people: whether there are ties at all.
    """
    flagged, wanted = exact
    if flagged >= wanted:
        return None
    if flagged == 0:
        return (
            f"No cut-off flags the top {top}: more people than that share the highest predicted risk, "
            "and flagging one of them would flag them all, so the model flags nobody at this operating point."
        )
    shown = row.get("train_flagged")
    share = (
        f"about {num(shown, 0)} people in the training set instead of about {num(row['train_wanted'], 0)}"
        if shown is not None and row.get("train_wanted") is not None and shown != row["train_wanted"]
        else "fewer people in the training set than that share"
    )
    return (
        f"No cut-off flags exactly the top {top}: people tied at the cut-off share one predicted risk, and "
        f"flagging one of them would flag them all, so the cut-off is the highest that flags no more than "
        f"{top}; it flags {share}."
    )


def same_cut_sentence(capacity: pl.DataFrame) -> str | None:
    """'Flagging 1% and 2% gives the same cut-off ...' when ties make capacity rows alike, or None."""
    same = (
        capacity.group_by("threshold", maintain_order=True)
        .agg(pl.col("share"))
        .filter(pl.col("share").list.len() > 1)
    )
    if not same.height:
        return None
    groups = [join(shares) for shares in same.get_column("share").to_list()]
    return (
        f"Flagging {join(groups, conjunction='; and ')} gives the same cut-off: too many people share "
        "one predicted risk for the model to tell these capacities apart."
    )


class PredictingRiskPage(Page):
    """The "Predicting risk" chapter."""

    slug = "predicting-risk"

    @cached_property
    def models(self) -> ModelPages:
        """The model results shared by the model chapters."""
        return ModelPages(self.book)

    # -- can we model at all? ---------------------------------------------------------
    @property
    def problem(self) -> str | None:
        """Why no model can be fitted (no usable outcome), or None."""
        return self.models.problem

    @property
    def ok(self) -> bool:
        """Whether a model was fitted."""
        return self.problem is None

    def skip_note(self) -> Any:
        """The note at the top of the chapter when no model can be fitted (else None)."""
        if self.problem is None:
            return None
        return self.book.skip(NO_OUTCOME_SKIP.format(problem=self.problem))

    def skip(self, reason: str) -> Any:
        """A section's skip note; it points back to :meth:`skip_note` when there is no model."""
        return self.models.skip(reason)

    # -- published frames ----------------------------------------------------------------
    @cached_property
    def performance(self) -> Published:
        """Test-set performance of both models (bootstrap intervals), published; the rank statistics
        (:data:`RANK_METRICS`) with their intervals to :data:`RANK_DECIMALS` decimals, and the
        calibration statistics as :func:`consistent_calibration` gives them from the published
        number of people with the outcome."""
        rank = pl.col("metric").is_in(list(RANK_METRICS))
        metrics = self.models.result.metrics.with_columns(
            pl.when(rank).then(pl.col(c).round(RANK_DECIMALS)).otherwise(pl.col(c)).alias(c)
            for c in ("value", "lower_ci", "upper_ci")
        ).select("metric", "model", "statistic", "value", "lower_ci", "upper_ci", "n", "events", "method")
        risks = {MODEL_LABELS[k]: v for k, v in self.models.result.risk_test.items()}
        settings = self.config.disclosure
        return self.book.publish(
            metrics,
            counts=["n", "events"],
            by=["model"],
            recompute=lambda f: consistent_calibration(f, risks=risks, settings=settings),
        ).select(pl.exclude("metric"))

    @cached_property
    def calibration(self) -> Published:
        """The reliability curve of both models; observed shares from the published counts, each
        tenth's mean predicted risk to :data:`MEAN_PREDICTED_FIGURES` significant figures."""
        curve = self.models.result.calibration.select(
            "model",
            "bin",
            "n",
            "events",
            pl.col("mean_predicted").round_sig_figs(MEAN_PREDICTED_FIGURES),
            "value",
            "lower_ci",
            "upper_ci",
        )
        return self.book.publish(
            curve,
            counts=["n", "events"],
            by=["model"],
            derived={"events": ["value", "lower_ci", "upper_ci"]},
            recompute=observed_shares,
        )

    @cached_property
    def exact_capacity(self) -> pl.DataFrame:
        """Operating points of the gradient-boosted model, exact (:func:`healthgap.models.capacity`)."""
        return capacity(self.models.result, fractions=CAPACITY_FRACTIONS).select(
            format_expr("fraction", style="proportion", dp=0).alias("share"),
            pl.all(),
        )

    @cached_property
    def capacity(self) -> Published:
        """Operating points of the gradient-boosted model; rates from the published counts."""
        return self.book.publish(
            self.exact_capacity,
            counts=_CAPACITY_COUNTS,
            by=[],
            derived={"found": _CAPACITY_RATES},
            recompute=capacity_rates,
        )

    @cached_property
    def outcomes(self) -> Published:
        """People in the test set and those with the outcome, with the share, published."""
        return self.book.publish(
            outcome_counts(self.models.result),
            counts=["cases", "n"],
            recompute=lambda f: f.with_columns(share=pl.col("cases") / pl.col("n").clip(lower_bound=1)),
        )

    @property
    def outcome_share(self) -> float | None:
        """The published share of the test set with the outcome (None when too few to publish)."""
        row = self.outcomes.row()
        return None if row is None else row["share"]

    @cached_property
    def features(self) -> Published:
        """The columns the model uses and leaves out, with their missing values (published)."""
        r = self.models.result
        excluded = (*self.models.excluded, *self.models.unused_dimensions())
        names = [*r.features, *excluded]
        present = [c for c in names if c in self.people.collect_schema()]
        missing = self.people.select(pl.col(present).null_count().cast(pl.Int64)).collect().row(0, named=True)
        frame = features_frame(
            r,
            exclude_protected=self.models.settings.exclude_protected,
            excluded=excluded,
            compared=[d.name for d in self.models.dimensions],
            kinds={m.name: m.kind for m in self.config.measures},
            missing=missing,
        )
        return self.book.publish(frame, counts=["missing"], by=[], derived={})

    # -- words ---------------------------------------------------------------------------
    @property
    def top(self) -> str:
        """The operating point as a percentage ("5%")."""
        return pct(self.models.settings.top_fraction, 0)

    @property
    def target_phrase(self) -> str:
        """What the model predicts, mid-sentence (never empty)."""
        return self.models.target_phrase if self.ok else NO_TARGET

    def target_paragraph(self) -> Any:
        """What the model predicts, from what, and how the people were split (Markdown; None without a model)."""
        from IPython.display import Markdown

        if not self.ok:
            return None
        r = self.models.result
        return Markdown(
            f"The model predicts each person's risk of {self.models.target_phrase}, from what is known about "
            f"them at the start: {num(len(r.features), 0)} baseline measures, listed in @tbl-features. The "
            "outcome and the features are chosen in the config file (`model.target`, `model.features`; a "
            "measure recorded during the follow-up cannot be a feature), so the same chapter runs on another "
            "dataset. " + self.split_text()
        )

    def excluded_text(self) -> str:
        """The protected characteristics left out of the model ("none" without a model)."""
        return self.models.excluded_text() if self.ok else "none"

    def protected_paragraph(self) -> Any:
        """The protected characteristics the model leaves out, by their labels (Markdown; None without a model)."""
        from IPython.display import Markdown

        if not self.ok:
            return None
        words = self.models.feature_words()
        return Markdown(protected_sentence(words.pop("left_out"), **words))

    def sample_paragraph(self) -> Any:
        """When the data has more people than ``model.sample_size``, that the models are fitted on a
        stratified sample of them (Markdown; None when they are fitted on everyone or not at all)."""
        if not self.ok:
            return None
        text = self.models.sample_text()
        if not text:
            return None
        from IPython.display import Markdown

        return Markdown(text)

    def split_text(self) -> str:
        """How the people were split (a note without a model)."""
        if not self.ok:
            return "No model is fitted, so nobody is split into training and test sets."
        settings = self.models.settings
        return split_sentence(
            self.models.sizes.get("people"),
            test_size=settings.test_size,
            seed=settings.seed,
            share=self.outcome_share,
            rounded=self.models.rounded,
        )

    def discrimination_text(self) -> str:
        """AUROC, average precision and Brier score in words (a note without a model)."""
        if not self.ok:
            return "With no model there is nothing to measure."
        return discrimination_sentence(self.performance, share=self.outcome_share)

    def calibration_text(self) -> str:
        """Calibration in words (a note without a model)."""
        if not self.ok:
            return "With no model there are no predicted risks to check."
        disclosure = self.config.disclosure
        return calibration_sentence(
            self.performance, rounding=disclosure.rounding if disclosure.enabled else None
        )

    def operating_text(self) -> str:
        """What the operating point achieves, and why it flags fewer when risks tie (a note without a model)."""
        if not self.ok:
            return "With no model there is no cut-off."
        disclosure = self.config.disclosure
        row = self.capacity.row(operating=True) or {}
        text = operating_sentence(
            row,
            top=self.top,
            share=self.outcome_share,
            rounding=disclosure.rounding if disclosure.enabled else None,
        )
        exact = self.exact_capacity.filter(pl.col("operating")).row(0, named=True)
        ties = ties_sentence(row, top=self.top, exact=(exact["train_flagged"], exact["train_wanted"]))
        return text if ties is None else f"{text} {ties}"

    def capacity_note(self) -> str | None:
        """The note under the capacity table when ties make two capacities alike, else None."""
        return same_cut_sentence(self.exact_capacity) if self.ok else None

    def inherits_text(self) -> Any:
        """How the next chapter checks whether the model inherits inequalities in diagnosis (Markdown)."""
        from IPython.display import Markdown

        return Markdown(INHERITS_TRUTH if self.caps.has_truth else INHERITS_NO_TRUTH)

    # -- tables and figures ----------------------------------------------------------------
    def features_table(self) -> Any:
        """The columns the model uses and leaves out, with their missing values."""
        if not self.ok:
            return self.skip("model features")
        rounding = self.config.disclosure
        note = (
            f"Missing values: people without a value, rounded to the nearest {rounding.rounding}."
            if rounding.enabled
            else "Missing values: people without a value."
        )
        return self.book.table(
            self.features,
            id="model-features",
            title="Columns used by the model",
            columns=FEATURE_COLUMNS,
            note=note,
        )

    def performance_table(self) -> Any:
        """Performance of both models on the test set."""
        if not self.ok:
            return self.skip(NO_MODEL)
        return self.book.table(
            self.performance.select(*(_published_precision(c) for c in self.performance.columns)),
            id="model-performance",
            title=_PERFORMANCE_TITLE,
            columns=PERFORMANCE_COLUMNS,
            note=(
                f"Calibration statistics to {CALIBRATION_DECIMALS} decimals, as published; the others to 3. "
                f"Intervals: percentile bootstrap of the test set ({MODEL_BOOT} resamples, "
                f"seed {self.config.seed})."
            ),
        )

    def calibration_figure(self) -> Any:
        """Observed against predicted risk in tenths of predicted risk."""
        if not self.ok:
            return self.skip(NO_MODEL)
        if self.calibration.frame.get_column("value").is_null().all():
            return self.skip(
                "tenths of predicted risk with enough people with the outcome to publish the share observed"
            )
        return self.book.figure(
            _calibration_chart,
            id="calibration",
            title=_CALIBRATION_TITLE,
            description=(
                "Line chart with one line per model. Each point is a tenth of the test set ranked by predicted "
                "risk: across is the mean predicted risk, up is the share who had the outcome, with a 95% "
                "interval. Points on the diagonal would mean perfect calibration. " + self.calibration_text()
            ),
            data=self.calibration,
            columns=CALIBRATION_COLUMNS,
            formats={c: ("proportion", 2) for c in ("mean_predicted", "value", "lower_ci", "upper_ci")},
        )

    def capacity_table(self) -> Any:
        """What flagging different shares of people would achieve."""
        if not self.ok:
            return self.skip(NO_MODEL)
        return self.book.table(
            self.capacity.select(pl.exclude("fraction", "operating", "train_flagged", "train_wanted")),
            id="capacity",
            title=_CAPACITY_TITLE,
            columns=CAPACITY_COLUMNS,
            formats={c: ("proportion", 1) for c in ("threshold", *_CAPACITY_RATES[:4])},
            note=self.capacity_note(),
        )


def _published_precision(column: str) -> pl.Expr:
    """A column of the performance table as shown: the value and its interval as text, the
    calibration statistics to :data:`CALIBRATION_DECIMALS` decimals (as published), the rest to 3."""
    if column not in _THREE_DP:
        return pl.col(column)
    calibration = pl.col("statistic").is_in([METRIC_LABELS[m] for m in CALIBRATION_METRICS])
    return (
        pl.when(calibration)
        .then(format_expr(column, style="number", dp=CALIBRATION_DECIMALS))
        .otherwise(format_expr(column, style="number", dp=3))
        .alias(column)
    )


def _calibration_chart(d: pl.DataFrame) -> Any:
    """The reliability chart of the published curve (its proportions, shown as percentages)."""
    return charts.binned(
        d,
        x="mean_predicted",
        value="value",
        lower="lower_ci",
        upper="upper_ci",
        colour="model",
        title="Observed against predicted risk",
        x_title="Mean predicted risk",
        value_title="Observed",
        zero_line=False,
        x_format=PERCENT_AXIS,
        value_format=PERCENT_AXIS,
    )
