"""What the four model chapters share: results computed once, cached, and worded.

Each chapter runs in its own kernel, so :class:`ModelPages` computes results
lazily and keeps the expensive ones in the model cache
(``_build/cache/models``): the fitted models (:func:`fit_cached`), the
fairness audit, the mitigation comparison and the SHAP explanation, keyed by
the fit's data-and-settings hash plus every option that changes them.

Usage in a chapter::

    from healthgap.book import setup
    from healthgap.pages._models import ModelPages
    book = setup("fairness")
    pages = ModelPages(book)
    if pages.problem: display(book.skip(pages.problem))
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from healthgap.config import Dimension
from healthgap.errors import ConfigError, DataError
from healthgap.models._cache import cached, fit_cached
from healthgap.models._features import label_of, resolve
from healthgap.models._fit import MODEL_LABELS, ModelResult
from healthgap.text import lower_first, pct

if TYPE_CHECKING:
    from healthgap.fairness import FairnessAudit, LabelBias, Mitigation

__all__ = ["ModelPages", "AUDIT_BOOT", "MODEL_BOOT"]

#: Bootstrap replicates used in the chapters (metrics, audit and SHAP intervals).
MODEL_BOOT = 200
AUDIT_BOOT = 200
PREFERRED_MITIGATION = ("imd_quintile", "ethnicity", "sex")


class ModelPages:
    """Lazy, cached model results for one book (see the module docstring)."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.config = book.config
        self.settings = book.config.model

    # -- can we model at all? ----------------------------------------------
    @cached_property
    def problem(self) -> str | None:
        """Why the dataset cannot support the model (no outcome column, one class...), or None."""
        try:
            resolve(self.book.people.collect_schema(), self.settings)
        except ConfigError as exc:
            return str(exc)
        try:
            self.result  # noqa: B018 - fitting reveals a one-class target
        except DataError as exc:
            return str(exc)
        return None

    def skip(self, reason: str) -> Any:
        """A section's skip note; when no model can be fitted at all, say that (once explained above).

        Without this, every later section of a model chapter would blame its own
        inputs (a dimension, the features) when the real reason is the outcome.
        """
        if self.problem is not None:
            return self.book.skip(
                "model to show, because it has no usable outcome (see the note at the start of this chapter)"
            )
        return self.book.skip(reason)

    @cached_property
    def result(self) -> ModelResult:
        return fit_cached(self.book.people, settings=self.settings, n_boot=MODEL_BOOT, seed=self.config.seed)

    @property
    def target_label(self) -> str:
        return label_of(self.settings.target)

    @property
    def target_phrase(self) -> str:
        """E.g. "at least one CVD emergency admission in the year" or "hypertension recorded"."""
        target = self.settings.target
        label = lower_first(self.target_label)
        schema = self.book.people.collect_schema()
        if target in schema and schema[target].is_integer():
            singular = label[:-1] if label.endswith("s") else label
            return f"at least one {singular} in the year"
        if target in self.config.conditions:
            return f"{label} recorded"
        return label

    def excluded_text(self) -> str:
        names = [lower_first(label_of(c)) for c in self.result.excluded]
        return ", ".join(names) if names else "none"

    @cached_property
    def dimensions(self) -> list[Dimension]:
        """Configured equity dimensions present in the kept-aside group columns."""
        cols = set(self.result.groups_test.columns)
        return [d for d in self.config.dimensions if d.name in cols]

    def metric(self, metric: str, model: str = "boosted") -> dict:
        """One row of the performance table as a dict."""
        return self.result.metrics.filter(
            (pl.col("metric") == metric) & (pl.col("model") == MODEL_LABELS[model])
        ).row(0, named=True)

    # -- fairness -----------------------------------------------------------
    @cached_property
    def audit(self) -> FairnessAudit:
        from healthgap.fairness import audit

        parts = ("audit", self.result.cache_key, tuple(self.dimensions), AUDIT_BOOT, self.config.seed)
        return cached(
            "audit",
            parts,
            lambda: audit(self.result, dimensions=self.dimensions, n_boot=AUDIT_BOOT, seed=self.config.seed),
        )

    @cached_property
    def label_condition(self) -> str | None:
        from healthgap.fairness import choose_condition

        return choose_condition(self.book.people, self.config.conditions)

    @cached_property
    def label_bias(self) -> LabelBias | None:
        from healthgap.fairness import label_bias

        if self.label_condition is None:
            return None
        dims = [d for d in self.config.dimensions if d.name in ("imd_quintile", "ethnicity")]
        return label_bias(
            self.book.people,
            condition=self.label_condition,
            settings=self.settings,
            dimensions=dims or self.dimensions,
        )

    @cached_property
    def mitigation_dimension(self) -> Dimension | None:
        from healthgap.fairness import groupings

        found, _ = groupings(self.result.groups_test, self.dimensions, intersections=())
        usable = {g.name for g in found}
        for name in (*PREFERRED_MITIGATION, *(d.name for d in self.dimensions)):
            if name in usable:
                return next(d for d in self.dimensions if d.name == name)
        return None

    @cached_property
    def mitigation(self) -> Mitigation | None:
        from healthgap.fairness import mitigate

        dim = self.mitigation_dimension
        if dim is None:
            return None
        parts = ("mitigation", self.result.cache_key, dim, self.config.seed)
        return cached(
            "mitigation", parts, lambda: mitigate(self.result, dimension=dim, seed=self.config.seed)
        )

    # -- explanations -------------------------------------------------------
    @cached_property
    def explanation(self):
        from healthgap.explain import explain

        parts = (
            "explain",
            self.result.cache_key,
            tuple(self.dimensions),
            self.config.disclosure,
            self.config.seed,
            AUDIT_BOOT,
        )
        return cached(
            "explain",
            parts,
            lambda: explain(
                self.result,
                dimensions=self.dimensions,
                seed=self.config.seed,
                n_boot=AUDIT_BOOT,
                disclosure=self.config.disclosure,
            ),
        )

    # -- tables for the pages -------------------------------------------------
    def performance_table(self) -> pl.DataFrame:
        """Metrics of both models, one row per model and metric (no counts of people)."""
        return self.result.metrics.select(
            "model", "statistic", "value", "lower_ci", "upper_ci", "n", "events", "method"
        )

    def capacity_table(
        self, fractions: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2), model: str = "boosted"
    ) -> pl.DataFrame:
        """Operating points: for each share of people flagged, the cases found and the hit rate.

        The cut-off for each share comes from the training set (as
        :meth:`ModelResult.threshold`); counts and rates are on the test set,
        rates from the counts as they will be published, with Wilson intervals.

        References
        ----------
        .. [1] Wilson EB. JASA 1927;22:209-12.
        """
        import numpy as np

        from healthgap.disclosure import published_counts
        from healthgap.stats import wilson_interval

        r = self.result
        fr = sorted({*fractions, self.settings.top_fraction})
        cut = np.array([r.threshold(model, top_fraction=f) for f in fr])
        flag = r.risk_test[model][None, :] >= cut[:, None]
        counts = published_counts(
            pl.DataFrame(
                {  # rates from the counts as published (disclosure rule 8)
                    "flagged": flag.sum(axis=1),
                    "found": (flag & r.y_test[None, :]).sum(axis=1),
                    "cases": np.full(len(fr), int(r.y_test.sum())),
                }
            ).cast(pl.Int64),
            ["flagged", "found", "cases"],
            settings=self.config.disclosure,
        )
        flagged, found, cases = (counts[c].to_numpy() for c in ("flagged", "found", "cases"))
        s_lo, s_hi = wilson_interval(found, cases, 0.95)
        p_lo, p_hi = wilson_interval(found, flagged, 0.95)
        return pl.DataFrame(
            {
                "share": [pct(f, 0) for f in fr],
                "fraction": fr,
                "threshold": cut,
                "flagged": flagged.astype(np.int64),
                "found": found.astype(np.int64),
                "cases": cases.astype(np.int64),
                "sensitivity": found / cases,
                "sensitivity_lower": s_lo,
                "sensitivity_upper": s_hi,
                "ppv": found / np.maximum(flagged, 1),
                "ppv_lower": p_lo,
                "ppv_upper": p_hi,
                "operating": [f == self.settings.top_fraction for f in fr],
            }
        )

    @property
    def calibration(self) -> pl.DataFrame:
        """The reliability curve (``result.calibration``) with each bin's observed share and its
        Wilson interval computed from the counts as they will be published (disclosure rule 8)."""
        from healthgap.disclosure import published_counts
        from healthgap.stats import wilson_lower, wilson_upper

        cal = published_counts(self.result.calibration, ["n", "events"], settings=self.config.disclosure)
        x, n = pl.col("events").cast(pl.Float64), pl.col("n").cast(pl.Float64)
        return cal.with_columns(
            value=x / n, lower_ci=wilson_lower(x, n, 0.95), upper_ci=wilson_upper(x, n, 0.95)
        )

    @property
    def test_cases(self) -> tuple[int, int]:
        """People with the outcome and people in the test set, as published (rounded)."""
        from healthgap.disclosure import published_counts

        r = self.result
        row = published_counts(
            pl.DataFrame({"cases": [int(r.y_test.sum())], "n": [int(r.y_test.shape[0])]}),
            ["cases", "n"],
            settings=self.config.disclosure,
        ).row(0)
        return int(row[0]), int(row[1])

    @property
    def outcome_share(self) -> float:
        """Share of the test set with the outcome, from the published counts."""
        cases, n = self.test_cases
        return cases / max(n, 1)

    def features_table(self) -> pl.DataFrame:
        from healthgap.contract import CONTRACT

        r = self.result
        rows = [(f, label_of(f), "feature", CONTRACT[f].group if f in CONTRACT else "") for f in r.features]
        rows += [
            (
                f,
                label_of(f),
                "protected: not used" if self.settings.exclude_protected else "not used",
                CONTRACT[f].group if f in CONTRACT else "",
            )
            for f in r.excluded
        ]
        return pl.DataFrame(rows, schema=["column", "label", "use", "group"], orient="row")

    def with_settings(self, **changes: Any) -> ModelPages:
        """A copy using different model settings (e.g. another target)."""
        other = ModelPages(self.book)
        other.settings = replace(self.settings, **changes)
        return other
