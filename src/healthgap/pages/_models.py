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

The model is the config's: its target is any flag or count measure
(:attr:`ModelPages.target_phrase` words it with the measure's label and period), its
features the config's baseline measures (:func:`healthgap.models.settings_for`), and
every equity dimension of the config is kept aside for the audit, whatever its name.
The dimension the chapters compare the two ends of (the explanation's gap, label bias,
the first mitigation) is the first *ordered* dimension whose disadvantaged end is known
(:attr:`ModelPages.ends`): deprivation in the default book, education in a cohort.

The page says once, at the top of its chapter, why no model can be fitted when
:attr:`ModelPages.problem` is set (e.g. no outcome column; see
``FairnessPage.problem_note``); its later sections skip with
:meth:`ModelPages.skip`, which then points back to that note.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from healthgap.config import Dimension, Measure
from healthgap.contract import CORE
from healthgap.errors import ConfigError, DataError
from healthgap.models import (
    MODEL_LABELS,
    ModelResult,
    cached,
    fit_cached,
    label_of,
    labels_of,
    resolve,
    settings_for,
)
from healthgap.text import capitalise, flat, join, lower_first, num

if TYPE_CHECKING:
    from healthgap.explain import Explanation
    from healthgap.fairness import (
        CapacityMitigation,
        CapacityReference,
        CounterfactualLabels,
        FairnessAudit,
        GapDecomposition,
        LabelBias,
        Mitigation,
    )

__all__ = [
    "ModelPages",
    "AUDIT_BOOT",
    "MODEL_BOOT",
    "NOT_SOCIAL",
    "EQUALITY_ACT",
    "features_sentence",
    "PERCENT_AXIS",
    "PERCENT_TIP",
    "sample_sentence",
    "target_phrase",
    "group_words",
    "about",
    "plural_noun",
    "ends_dimension",
    "intersections_of",
]

#: Bootstrap replicates used in the chapters (metrics, audit and SHAP intervals).
MODEL_BOOT = 200
AUDIT_BOOT = 200
#: People explained by the gap decomposition (the whole test set when smaller; at least
#: :data:`healthgap.fairness.MIN_SAMPLE`, and at least the config's ``shap_sample``).
EXPLAIN_SAMPLE = 50_000
#: Bootstrap replicates of the simultaneous intervals of the gaps (max-t needs many).
GAP_BOOT = 500
#: Dimensions that describe who people are by age or place rather than a social position:
#: they are audited (and in the tables of gaps) but are not the chapters' first comparisons.
NOT_SOCIAL = ("age_band", "locality")
#: Contract columns that are protected characteristics under the Equality Act 2010 (age, sex and
#: race, recorded as ethnic group); deprivation and place are equity dimensions, not protected
#: characteristics.
EQUALITY_ACT = ("age", "sex", "ethnicity")
#: The model pages' figures plot proportions (0-1) exactly as their downloads hold them, shown as
#: percentages by the axis (d3 format, trailing zeros trimmed: "0.5%", "1%") and, to 0.1, by the
#: tooltips and cell labels.
PERCENT_AXIS = "~%"
PERCENT_TIP = ".1%"
#: The skip note of a later section when no model can be fitted at all.
NO_MODEL_SKIP = "model to show, because it has no usable outcome (see the note at the start of this chapter)"


def target_phrase(measure: Measure | None, name: str, *, counted: bool) -> str:
    """What the model predicts, mid-sentence, from the target measure's label and period.

    "at least one CVD emergency admission during the year" (a count: binarised as > 0),
    "coronary heart disease within ten years", "CVD death during the year", "hypertension
    recorded at the start of the year" (a condition: the model learns its record). The
    period is added unless the label already says it.

    Parameters
    ----------
    measure : the target's measure (None for a column the config does not declare).
    name : the target column.
    counted : whether the target is a count (whole numbers) rather than a flag.
    """
    label = lower_first(measure.label if measure is not None else label_of(name))
    period = measure.period if measure is not None and measure.period else ""
    when = f" {period}" if period and period.lower() not in label.lower() else ""
    if counted:
        singular = label[:-1] if label.endswith("s") and not label.endswith("ss") else label
        return f"at least one {singular}{when}"
    if measure is not None and measure.kind == "condition":
        return f"{label} recorded{when}"
    return f"{label}{when}"


def group_words(dimension: Dimension | None, label: str) -> str:
    """How one group is named in brackets: its label, with the dimension's noun when the label
    is a bare code ("deprivation fifth 1, most deprived", "age band 50-54", "Asian", "Female",
    "Some high school")."""
    text = flat(str(label))
    if dimension is not None and text[:1].isdigit():
        return f"{dimension.noun or lower_first(dimension.label)} {text}"
    return text


def plural_noun(noun: str) -> str:
    """'deprivation fifths', 'ethnic groups', 'education levels', 'sexes', 'localities'."""
    if noun.endswith(("s", "x")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def about(value: float | None, *, rounded: bool) -> str:
    """A published count for a sentence: "about 2,005" when counts are rounded, else "2,003"."""
    if value is None:
        return "fewer than can be published"
    return ("about " if rounded else "") + num(value, 0)


def sample_sentence(sample: int | None, people: int | None, *, strata: list[str], rounded: bool) -> str:
    """'The models are fitted on a stratified sample of about 250,000 of the about 1,000,000 people
    ...': the model sample in words, from its published counts.

    Parameters
    ----------
    sample, people : the people in the sample and in the data, as published (None: withheld).
    strata : what the sample is stratified by, mid-sentence ("the outcome", "deprivation").
    rounded : whether published counts are rounded ("about").
    """
    within = f", in proportion to the size of each combination of {join(strata)}" if strata else ""
    if people is None:
        everyone = "everyone"
    else:
        everyone = f"{'about' if rounded else 'the'} {num(people, 0)} people"
    return (
        f"The models are fitted on a stratified sample of {about(sample, rounded=rounded)} of {everyone} "
        f"in the data (`model.sample_size` in the config){within}: every number about the models is "
        "about this sample."
    )


def ends_dimension(dimensions: list[Dimension] | tuple[Dimension, ...]) -> Dimension | None:
    """The first ordered dimension whose disadvantaged end is known (with its levels), or None."""
    return next((d for d in dimensions if d.ordered and d.disadvantaged and len(d.order) >= 2), None)


def intersections_of(dimensions: list[Dimension] | tuple[Dimension, ...]) -> tuple[tuple[str, str], ...]:
    """Pairs audited jointly: the first two social dimensions, and sex by age band."""
    names = [d.name for d in dimensions if d.name not in NOT_SOCIAL]
    pairs = [(names[0], names[1])] if len(names) >= 2 else []
    present = {d.name for d in dimensions}
    if {"sex", "age_band"} <= present and ("sex", "age_band") not in pairs:
        pairs.append(("sex", "age_band"))
    return tuple(pairs)


def features_sentence(
    *,
    left_out: list[str],
    used: list[str],
    protected: list[str],
    exclude_protected: bool,
    markdown: bool = True,
    others: Sequence[str] = (),
    sources: Mapping[str, str] | None = None,
) -> str:
    """Which equity dimensions compared on the fairness page are features and which are not,
    which other columns are left out, and which features are protected characteristics (Equality
    Act 2010), from the config: short sentences.

    Parameters
    ----------
    left_out : the labels of the compared dimensions the model does not use.
    used : the labels of the compared dimensions the model uses (through a feature).
    protected : the labels of the features that are protected characteristics.
    exclude_protected : ``model.exclude_protected``.
    markdown : with Markdown emphasis and code (a paragraph), else plain (inline text).
    others : the labels of the other columns left out (not compared on the fairness page).
    sources : a used dimension's label -> the label of the feature it is derived from (age band ->
        age); a used dimension not in it is a feature itself.
    """
    code, em = ("`", "*") if markdown else ("", "")
    sources = sources or {}
    sentences: list[str] = []
    if left_out:
        one = len(left_out) == 1
        sentences.append(
            f"{join(left_out)} {'is' if one else 'are'} compared on the fairness page but "
            f"{'is not a feature' if one else 'are not features'}"
            + (f" ({code}model.exclude_protected: true{code})" if exclude_protected else "")
            + f", so the model cannot use {'it' if one else 'them'} directly"
        )
        sentences.append(
            f"It can still learn {'it' if one else 'them'} {em}indirectly{em} through features that differ "
            "between groups"
        )
    if others:
        one = len(others) == 1
        sentences.append(
            f"{join(list(others))} {'is' if one else 'are'} not {'a feature' if one else 'features'} either, "
            "and not compared on the fairness page"
        )
    for label in used:
        how = f"is derived from {sources[label]}, a feature" if label in sources else "is a feature"
        sentences.append(
            f"{label} is compared on the fairness page and {how}, so the model treats its groups "
            "differently directly"
        )
    if protected:
        one = len(protected) == 1
        sentences.append(
            f"{join(protected)} {'is a' if one else 'are'} protected characteristic{'' if one else 's'} "
            f"under the Equality Act 2010 and {'a feature' if one else 'features'}"
        )
    return " ".join(capitalise(t) + "." for t in sentences)


def _source(d: Dimension) -> str:
    """The column a dimension is read from: age band from age, any other from its own column."""
    return "age" if d.name == "age_band" else d.name


class ModelPages:
    """Lazy, cached model results for one book (see the module docstring)."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.config = book.config
        self.settings = settings_for(book.config)

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
            return self.book.skip(NO_MODEL_SKIP)
        return self.book.skip(reason)

    @cached_property
    def result(self) -> ModelResult:
        return fit_cached(
            self.book.model_people,
            settings=self.settings,
            n_boot=MODEL_BOOT,
            seed=self.config.seed,
            labels=labels_of(self.config),
            groups=tuple(d.name for d in self.config.dimensions),
        )

    # -- the target ---------------------------------------------------------
    @property
    def target(self) -> Measure | None:
        """The target's measure, or None when the config does not declare it."""
        return next((m for m in self.config.measures if m.name == self.settings.target), None)

    @property
    def target_label(self) -> str:
        measure = self.target
        return measure.label if measure is not None else label_of(self.settings.target)

    @property
    def target_phrase(self) -> str:
        """What the model predicts, mid-sentence (:func:`target_phrase`)."""
        schema = self.book.people.collect_schema()
        target = self.settings.target
        counted = target in schema and schema[target].is_integer()
        return target_phrase(self.target, target, counted=counted)

    # -- features and protected columns ------------------------------------
    @property
    def excluded(self) -> tuple[str, ...]:
        """Protected characteristics and equity dimensions present but not used as features."""
        r = self.result
        custom = [
            d.name
            for d in self.config.dimensions
            if d.name in r.groups_test.columns
            and d.name not in (*NOT_SOCIAL, *r.features, *r.excluded)
            and d.name not in CORE
        ]
        return (*r.excluded, *custom)

    def feature_use(self) -> tuple[list[str], list[str], list[str]]:
        """The labels of the compared dimensions that are not features, of the compared dimensions
        that are (age band: through age, :meth:`feature_sources`), and of the features that are
        protected characteristics (:data:`EQUALITY_ACT`). Other left-out columns:
        :meth:`feature_others`."""
        r = self.result
        features = set(r.features)
        used = [d for d in self.dimensions if _source(d) in features]
        out = [lower_first(d.label) for d in self.dimensions if d not in used]
        protected = [lower_first(r.label(c)) for c in r.features if c in EQUALITY_ACT]
        return out, [lower_first(d.label) for d in used], protected

    def feature_others(self) -> list[str]:
        """The labels of the left-out columns that are not compared on the fairness page (IMD decile)."""
        names = {d.name for d in self.dimensions}
        return [lower_first(self.result.label(c)) for c in self.excluded if c not in names]

    def feature_sources(self) -> dict[str, str]:
        """A compared dimension's label -> the label of the feature it is derived from (age band -> age)."""
        features = set(self.result.features)
        return {
            lower_first(d.label): lower_first(self.result.label(_source(d)))
            for d in self.dimensions
            if _source(d) != d.name and _source(d) in features
        }

    def feature_words(self) -> dict[str, Any]:
        """The keyword arguments of :func:`features_sentence` for this book's model."""
        out, used, protected = self.feature_use()
        return {
            "left_out": out,
            "used": used,
            "protected": protected,
            "others": self.feature_others(),
            "sources": self.feature_sources(),
            "exclude_protected": self.settings.exclude_protected,
        }

    def unused_dimensions(self) -> list[str]:
        """The names of the compared dimensions that are neither features, derived from one, nor
        already among the left-out columns (locality): Table 8.1 lists them as not used."""
        features = set(self.result.features)
        return [
            d.name
            for d in self.dimensions
            if _source(d) not in features and d.name not in self.excluded and d.name not in features
        ]

    def excluded_text(self) -> str:
        """The left-out columns by their labels ("sex, ethnic group, ..."), or "none"."""
        names = [lower_first(self.result.label(c)) for c in self.excluded]
        return ", ".join(names) if names else "none"

    @property
    def rounded(self) -> bool:
        """Whether published counts are rounded (disclosure control on, rounding above 1)."""
        d = self.config.disclosure
        return bool(d.enabled and d.rounding > 1)

    @cached_property
    def sizes(self) -> dict[str, int | None]:
        """The people in the data, the training and the test set, as published (rounded)."""
        r = self.result
        n_train, n_test = len(r.y_train), len(r.y_test)
        frame = pl.DataFrame(
            {"people": [n_train + n_test], "train": [n_train], "test": [n_test]},
            schema={"people": pl.Int64, "train": pl.Int64, "test": pl.Int64},
        )
        row = self.book.publish(frame, counts=["people", "train", "test"], by=[]).row()
        return dict(row) if row is not None else {}

    @cached_property
    def sample_sizes(self) -> dict[str, int | None] | None:
        """The people the models are fitted on ("sample") and everyone in the data ("people"), as
        published (rounded), when the data has more people than ``model.sample_size``; None when
        the models are fitted on everyone."""
        everyone = int(self.book.people.select(pl.len()).collect().item())
        if everyone <= self.config.model.sample_size:
            return None
        drawn = int(self.book.model_people.select(pl.len()).collect().item())
        frame = pl.DataFrame(
            {"sample": [drawn], "people": [everyone]}, schema={"sample": pl.Int64, "people": pl.Int64}
        )
        row = self.book.publish(frame, counts=["sample", "people"], by=[]).row()
        return dict(row) if row is not None else {"sample": None, "people": None}

    def sample_text(self) -> str:
        """The model sample in words (:func:`sample_sentence`), '' when the models use everyone."""
        sizes = self.sample_sizes
        if sizes is None:
            return ""
        from healthgap.engine import strata_of

        names = strata_of(self.config, self.book.people.collect_schema())
        dims = {d.name: d for d in self.config.dimensions}
        strata = [
            "the outcome" if n == self.settings.target else lower_first(dims[n].label) if n in dims else n
            for n in names
        ]
        return sample_sentence(sizes.get("sample"), sizes.get("people"), strata=strata, rounded=self.rounded)

    # -- dimensions -----------------------------------------------------------
    @cached_property
    def dimensions(self) -> list[Dimension]:
        """Configured equity dimensions present in the kept-aside group columns."""
        cols = set(self.result.groups_test.columns)
        return [d for d in self.config.dimensions if d.name in cols]

    @cached_property
    def social(self) -> list[Dimension]:
        """The dimensions the chapters compare first: every one but age band and locality."""
        return [d for d in self.dimensions if d.name not in NOT_SOCIAL]

    @cached_property
    def ends(self) -> Dimension | None:
        """The first ordered dimension with a known disadvantaged end and 2+ levels in the test set."""
        from healthgap.fairness import groupings

        found, _ = groupings(self.result.groups_test, self.dimensions, intersections=())
        usable = {g.name for g in found}
        return ends_dimension([d for d in self.dimensions if d.name in usable])

    @cached_property
    def intersections(self) -> tuple[tuple[str, str], ...]:
        """Pairs audited jointly (:func:`intersections_of`)."""
        return intersections_of(self.dimensions)

    def dimension(self, name: str) -> Dimension | None:
        """The configured dimension ``name`` (present in the data), or None."""
        return next((d for d in self.dimensions if d.name == name), None)

    def metric(self, metric: str, model: str = "boosted") -> dict:
        """One row of the exact performance table as a dict."""
        return self.result.metrics.filter(
            (pl.col("metric") == metric) & (pl.col("model") == MODEL_LABELS[model])
        ).row(0, named=True)

    # -- fairness -----------------------------------------------------------
    @cached_property
    def audit(self) -> FairnessAudit:
        from healthgap.fairness import audit

        parts = (
            "audit",
            self.result.cache_key,
            tuple(self.dimensions),
            self.intersections,
            AUDIT_BOOT,
            self.config.seed,
        )
        return cached(
            "audit",
            parts,
            lambda: audit(
                self.result,
                dimensions=self.dimensions,
                intersections=self.intersections,
                n_boot=AUDIT_BOOT,
                seed=self.config.seed,
            ),
        )

    @cached_property
    def truth(self) -> dict[str, Any] | None:
        """The data's parsed ``truth.json`` (synthetic data), or None."""
        path = self.config.data.truth
        if path is None or not path.is_file():
            return None
        parsed = json.loads(path.read_text(encoding="utf-8"))
        return parsed if isinstance(parsed, dict) else None

    @cached_property
    def calibration(self) -> pl.DataFrame:
        """Observed over expected cases by group on the test set (exact; the true risk where the
        data has it): :func:`healthgap.fairness.calibration_by_group` over the social dimensions."""
        from healthgap.fairness import calibration_by_group, true_risk

        return calibration_by_group(
            self.result, dimensions=self.social, risk_true=true_risk(self.result, self.truth)
        )

    @cached_property
    def tpr_pairs(self) -> pl.DataFrame:
        """Every pairwise gap in the true positive rate at capacity, per dimension, with max-t
        simultaneous intervals (exact; :func:`healthgap.fairness.tpr_gaps`): the pairs of each
        :class:`~healthgap.fairness.GapFamily` with ``dimension``, ``dimension_label`` and the
        groups' labels."""
        from healthgap.fairness import tpr_gaps

        def compute() -> pl.DataFrame:
            families = tpr_gaps(
                self.result, dimensions=self.dimensions, n_boot=GAP_BOOT, seed=self.config.seed
            )
            parts = []
            for f in families:
                labels = dict(zip(f.groups["group"], f.groups["group_label"], strict=True))
                parts.append(
                    f.pairs.with_columns(
                        dimension=pl.lit(f.dimension),
                        dimension_label=pl.lit(f.dimension_label),
                        group_label=pl.col("group").replace_strict(labels),
                        versus_label=pl.col("versus").replace_strict(labels),
                        groups=pl.lit(f.groups.height),
                    )
                )
            return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()

        parts = ("tpr-gaps", self.result.cache_key, tuple(self.dimensions), GAP_BOOT, self.config.seed)
        return cached("tpr-gaps", parts, compute)

    @cached_property
    def reference(self) -> CapacityReference | None:
        """The perfect-risk reference at capacity (:func:`healthgap.fairness.capacity_reference`),
        or None without the true risk of the target."""
        from healthgap.fairness import capacity_reference

        if self.truth is None:
            return None
        parts = ("reference", self.result.cache_key, tuple(self.dimensions), AUDIT_BOOT, self.config.seed)
        return cached(
            "reference",
            parts,
            lambda: capacity_reference(
                self.result,
                truth=self.truth,
                dimensions=self.dimensions,
                n_boot=AUDIT_BOOT,
                seed=self.config.seed,
            ),
        )

    @cached_property
    def label_condition(self) -> str | None:
        """The condition with true status whose recording differs most between the two ends."""
        from healthgap.fairness import choose_condition

        return choose_condition(self.book.people, self.config.conditions, dimension=self.ends)

    @cached_property
    def label_bias(self) -> LabelBias | None:
        from healthgap.fairness import label_bias

        if self.label_condition is None or self.ends is None:
            return None
        condition = self.label_condition
        labels = labels_of(self.config)
        parts = ("label-bias", self.result.cache_key, condition, self.ends, self.config.seed)
        return cached(
            "label-bias",
            parts,
            lambda: label_bias(
                self.book.model_people,
                condition=condition,
                settings=self.settings,
                dimensions=[self.ends] if self.ends is not None else [],
                labels=labels,
                group_columns=tuple(d.name for d in self.config.dimensions),
            ),
        )

    @cached_property
    def counterfactual(self) -> CounterfactualLabels | None:
        """Label bias by counterfactual labels (:func:`healthgap.fairness.counterfactual_labels`):
        the label-bias model refitted on the true condition, with and without treatment features,
        at the two ends' dimension; cached. None without a label-bias condition."""
        from healthgap.fairness import counterfactual_labels

        lb, ends = self.label_bias, self.ends
        if lb is None or ends is None:
            return None
        parts = ("counterfactual", lb.result.cache_key, ends, AUDIT_BOOT, self.config.seed)
        return cached(
            "counterfactual",
            parts,
            lambda: counterfactual_labels(
                lb.result, dimensions=[ends], n_boot=AUDIT_BOOT, seed=self.config.seed
            ),
        )

    @cached_property
    def capacity_mitigation(self) -> CapacityMitigation | None:
        """Equal opportunity at capacity across the first candidate dimension
        (:func:`healthgap.fairness.mitigate_at_capacity`: fitted on a validation half of the test
        set, judged on the other half at ``top_fraction``); cached. None without a candidate."""
        from healthgap.fairness import mitigate_at_capacity

        if not self.mitigation_candidates:
            return None
        dim = self.mitigation_candidates[0]
        parts = ("capacity-mitigation", self.result.cache_key, dim, AUDIT_BOOT, self.config.seed)
        return cached(
            "capacity-mitigation",
            parts,
            lambda: mitigate_at_capacity(
                self.result,
                dimension=dim.name,
                dimensions=self.dimensions,
                n_boot=AUDIT_BOOT,
                seed=self.config.seed,
            ),
        )

    @cached_property
    def decomposition(self) -> GapDecomposition | None:
        """SHAP group means at full size and the observed outcome gap between the two ends, split
        into what the inputs account for and what is left (:func:`healthgap.fairness.explain_gap`,
        on :data:`EXPLAIN_SAMPLE` test-set people or all of them); cached. None without two ends."""
        from healthgap.fairness import explain_gap

        ends = self.ends
        if ends is None:
            return None
        sample = max(EXPLAIN_SAMPLE, self.settings.shap_sample)
        parts = (
            "decomposition",
            self.result.cache_key,
            tuple(self.social),
            ends,
            sample,
            AUDIT_BOOT,
            self.config.seed,
        )
        return cached(
            "decomposition",
            parts,
            lambda: explain_gap(
                self.result,
                dimensions=[ends, *(d for d in self.social if d.name != ends.name)],
                gap_dimension=ends.name,
                sample=sample,
                n_boot=AUDIT_BOOT,
                seed=self.config.seed,
            ),
        )

    @cached_property
    def mitigation_candidates(self) -> list[Dimension]:
        """Dimensions the mitigations may equalise across, in order of preference: the compared
        ends first, then the other social dimensions, then any (2+ levels in the test set)."""
        from healthgap.fairness import groupings

        found, _ = groupings(self.result.groups_test, self.dimensions, intersections=())
        usable = {g.name for g in found}
        first = [self.ends] if self.ends is not None else []
        out: list[Dimension] = []
        for d in (*first, *self.social, *self.dimensions):
            if d.name in usable and all(d.name != o.name for o in out):
                out.append(d)
        return out

    @cached_property
    def mitigation_why(self) -> str | None:
        """Why no dimension could be mitigated across (the first candidate's reason), or None."""
        return self._mitigated[1]

    @property
    def mitigation_dimension(self) -> Dimension | None:
        """The dimension the mitigations equalise across, or None."""
        m = self.mitigation
        return None if m is None else next(d for d in self.dimensions if d.name == m.dimension)

    @cached_property
    def mitigation(self) -> Mitigation | None:
        """The mitigation across the first candidate dimension that can be fitted, or None."""
        return self._mitigated[0]

    @cached_property
    def _mitigated(self) -> tuple[Mitigation | None, str | None]:
        from healthgap.fairness import NotMitigable, mitigate

        why: str | None = None
        for dim in self.mitigation_candidates:
            parts = ("mitigation", self.result.cache_key, dim, self.config.seed)

            def compute(dim: Dimension = dim) -> Mitigation:
                return mitigate(self.result, dimension=dim, seed=self.config.seed)

            try:
                return cached("mitigation", parts, compute), None
            except NotMitigable as exc:
                why = why or exc.why
        return None, why

    # -- explanations -------------------------------------------------------
    @cached_property
    def explanation(self) -> Explanation:
        from healthgap.explain import explain

        ends = self.ends
        parts = (
            "explain",
            self.result.cache_key,
            tuple(self.dimensions),
            ends,
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
                gap_dimension=ends.name if ends is not None else "",
                disadvantaged=ends.disadvantaged if ends is not None and ends.disadvantaged else "first",
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

    def names(self, columns: tuple[str, ...]) -> str:
        """Columns by their labels, mid-sentence ("statin and antihypertensive")."""
        return join(lower_first(self.result.label(c)) for c in columns)
