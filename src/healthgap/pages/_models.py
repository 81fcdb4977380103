"""What the four model chapters share: results computed once, cached, and worded.

The model pages (:mod:`~healthgap.pages.predicting_risk`,
:mod:`~healthgap.pages.fairness`, :mod:`~healthgap.pages.explanations`,
:mod:`~healthgap.pages.model_card`) each run in their own kernel, so
:class:`ModelPages` computes results lazily and keeps the expensive ones in the
model cache (``_build/cache/models``, or ``$HEALTHGAP_MODEL_CACHE``): the fitted
models (:func:`~healthgap.models.fit_cached`), the fairness audit, the
mitigation comparison and the SHAP explanation, keyed by the fit's
data-and-settings hash plus every option that changes them. Everything it
returns is exact: each page publishes what it shows with
:meth:`healthgap.book.Book.publish`.

A page holds one on its book::

    class FairnessPage(Page):
        slug = "fairness"

        @cached_property
        def models(self) -> ModelPages:
            return ModelPages(self.book)

The page says once, at the top of its chapter, why no model can be fitted when
:attr:`ModelPages.problem` is set (e.g. no outcome column; see
``FairnessPage.problem_note``); its later sections skip with
:meth:`ModelPages.skip`, which then points back to that note.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from healthgap.config import Dimension
from healthgap.errors import ConfigError, DataError
from healthgap.models import MODEL_LABELS, ModelResult, cached, fit_cached, label_of, resolve
from healthgap.text import lower_first

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
                min_group=self.min_group,
            ),
        )

    @property
    def min_group(self) -> int:
        """The smallest group of people the model chapters describe: the disclosure threshold."""
        disclosure = self.config.disclosure
        return disclosure.suppress_below if disclosure.enabled else 1

    def with_settings(self, **changes: Any) -> ModelPages:
        """A copy using different model settings (e.g. another target)."""
        other = ModelPages(self.book)
        other.settings = replace(self.settings, **changes)
        return other
