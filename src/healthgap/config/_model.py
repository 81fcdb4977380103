"""The config's frozen, typed objects: what the rest of healthgap receives.

:class:`Config` holds the data source, the equity :class:`Dimension`\\ s, the declared
:class:`Measure`\\ s and :class:`Indicator`\\ s, and the model, disclosure and report settings.
It is built by the strict parser (:func:`healthgap.config.parse_mapping`), never by hand
outside tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from healthgap.contract import CORE, TRUTH_PREFIX, TYPE_KINDS, Column, truth_of

__all__ = [
    "Dimension",
    "Measure",
    "MeasureKind",
    "MeasureType",
    "Indicator",
    "IndicatorKind",
    "DataSource",
    "ModelSettings",
    "DisclosureSettings",
    "ERR_PROTECTS_NOTHING",
    "ReportSettings",
    "Config",
    "AGE_BANDS",
    "DEFAULT_DIMENSIONS",
    "INDICATOR_KINDS",
    "contract_of",
]

MeasureKind = Literal["condition", "treatment", "risk factor", "access", "experience", "outcome"]
MeasureType = Literal["flag", "count", "number", "days", "category"]
IndicatorKind = Literal["proportion", "crude rate", "age-standardised rate"]
INDICATOR_KINDS: tuple[str, ...] = ("proportion", "crude rate", "age-standardised rate")

NO_DIMENSION = "No equity dimension {name!r} in the config {path}."
NO_MEASURE = "No measure {name!r} in the config {path}{hint}"
NO_INDICATOR = "No indicator {name!r} in the config {path}{hint}"


@dataclass(frozen=True)
class Dimension:
    """An equity dimension to analyse.

    Attributes
    ----------
    name : canonical name of the dimension, also its column in the loaded table
        (``imd_quintile``, ``ethnicity``, ``sex``, ``age_band``, ``locality`` or any other).
    label : heading in charts and tables ("Education level").
    order : levels (strings) in display order; ``()`` = the levels found in the data.
    labels : level -> display label (levels without one show as themselves).
    reference : the level rate ratios compare against; ``""`` = the largest group.
    noun : how a sentence names one group ("education level", "deprivation fifth").
    ordered : the levels have a natural order (the slope and concentration indices apply).
    disadvantaged : for ordered dimensions, which end of ``order`` is worse off
        (``"first"`` or ``"last"``), or None when neither is.
    column : the source column in the file (``""`` for ``age_band``, derived from age).
    """

    name: str
    label: str
    order: tuple[str, ...]
    labels: dict[str, str]
    reference: str
    noun: str = ""
    ordered: bool = False
    disadvantaged: Literal["first", "last"] | None = None
    column: str = ""

    def label_of(self, level: str) -> str:
        """The display label of ``level`` (the level itself when it has none)."""
        return self.labels.get(str(level), str(level))


@dataclass(frozen=True)
class Measure:
    """One measured column of the person table, declared in a profile or the config.

    Attributes
    ----------
    name : canonical name (the column of the loaded table).
    label : heading in charts and tables ("Coronary heart disease within ten years").
    kind : the part of the book it belongs to.
    type : ``flag`` (Boolean), ``count`` and ``days`` (Int64), ``number`` (Float64),
        ``category`` (String).
    unit : unit of measurement ("mmHg", "mmol/L", "days"), or None.
    period : when it is measured, in words ("during the year", "within ten years").
    timing : ``baseline`` (known at the start; may be a model feature) or ``follow-up``.
    description : one sentence for the data dictionary.
    codes : category measures: the allowed codes.
    minimum, maximum : plausible range; values outside it are reported as warnings.
    standard_days : days measures: the waiting-time standard the measure is judged against
        (126 for the NHS 18-week referral-to-treatment standard), or None (no standard
        applies: the book shows the median wait only).
    ages : whom the measure applies to: ``(low, high)`` ages in years, inclusive (``(0, 74)``
        for premature deaths, under 75), or None for everyone. Rates of a measure with ages are
        per person of those ages (everyone else is false by definition).
    column : the source column in the file (after parsing: always set).
    """

    name: str
    label: str
    kind: MeasureKind
    type: MeasureType
    unit: str | None = None
    period: str | None = None
    timing: Literal["baseline", "follow-up"] = "baseline"
    description: str = ""
    codes: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    standard_days: float | None = None
    ages: tuple[int, int] | None = None
    column: str = ""

    def as_column(self) -> Column:
        """The measure as a :class:`~healthgap.contract.Column` (type, codes, range)."""
        return Column(
            self.name,
            TYPE_KINDS[self.type],
            self.kind,
            self.label,
            self.description,
            codes=self.codes,
            minimum=self.minimum,
            maximum=self.maximum,
            unit=self.unit,
        )


@dataclass(frozen=True)
class Indicator:
    """A share or rate defined in SQL over the loaded columns.

    A person is in the denominator when ``denominator`` is TRUE and ``numerator`` is not
    NULL, and in the numerator when both are TRUE (see :func:`healthgap.sql.indicator_columns`).

    Attributes
    ----------
    name : canonical name.
    label : heading in charts and tables.
    kind : ``proportion``, ``crude rate`` or ``age-standardised rate``.
    numerator : SQL boolean expression over loaded columns (a count column for rates).
    denominator : SQL boolean expression: who is in the population.
    multiplier : scale of the result (per 100 for proportions).
    higher_is_better : whether a higher value is the better one.
    target : a target on the multiplier's scale, or None.
    description : one sentence for readers.
    section : which part of the book shows it (a measure kind).
    optional : columns treated as false when absent (named in the page's note).
    """

    name: str
    label: str
    kind: IndicatorKind
    numerator: str
    denominator: str
    multiplier: float = 100
    higher_is_better: bool = True
    target: float | None = None
    description: str = ""
    section: str = "access"
    optional: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataSource:
    """Where the person table is and how to map it onto canonical columns."""

    path: Path  # absolute; Parquet or CSV
    format: Literal["parquet", "csv"]
    #: canonical name -> source column (renames), from data.columns, measures' and dimensions' column
    columns: dict[str, str]
    #: canonical column -> {source code: canonical code, or None = missing}
    codes: dict[str, dict[str, str | None]]
    truth: Path | None = None  # truth.json for synthetic data, if any
    boundaries: Path | None = None  # GeoJSON keyed by area code, for choropleths
    boundary_key: str = "lsoa"  # which column the GeoJSON features are keyed by
    synthetic: bool = False  # label the data as synthetic everywhere
    #: derived columns, name -> SQL expression over the file's columns, in order
    derive: dict[str, str] = field(default_factory=dict)
    #: canonical names declared absent (``data.columns: {ethnicity: null}``)
    absent: frozenset[str] = frozenset()
    #: canonical name -> the config key that named its source column (for messages)
    origins: dict[str, str] = field(default_factory=dict)
    #: what prepares the person table and computes its aggregates (``data.engine``)
    engine: Literal["polars", "spark"] = "polars"
    #: Spark's master URL (``data.spark.master``): ``local[*]``, ``local[2]``, ``spark://...``
    spark_master: str = "local[*]"


@dataclass(frozen=True)
class ModelSettings:
    target: str = "cvd_admissions"  # a flag, or a count binarised as > 0
    features: tuple[str, ...] = ()
    exclude_protected: bool = True
    top_fraction: float = 0.05  # operating threshold: the top X of predicted risk
    test_size: float = 0.3
    seed: int = 2024
    shap_sample: int = 2000
    mitigation_sample: int = 20000
    #: people the models are fitted on: a stratified sample (by outcome and the audited
    #: dimension) when the table is larger; the default keeps every person of the default book
    sample_size: int = 250_000


#: Why ``suppress_below: 1`` with ``rounding: 1`` is refused while disclosure control is on.
ERR_PROTECTS_NOTHING = (
    "disclosure.suppress_below: 1 with disclosure.rounding: 1 suppresses and rounds nothing, so every count "
    "would be published exactly while the book says disclosure control is on. Fix: to publish exact counts, "
    "set disclosure.enabled: false with a disclosure.reason (every page then shows a warning banner); "
    "otherwise suppress small counts (suppress_below: 8 hides 1-7) or round them (rounding: 5)."
)


@dataclass(frozen=True)
class DisclosureSettings:
    """The ``disclosure`` section: how :func:`healthgap.disclosure.publish` protects every published count.

    Attributes
    ----------
    enabled : disclosure control on (the default); off only with a ``reason``, and every page
        then carries a warning banner.
    suppress_below : counts from 1 to ``suppress_below - 1`` are suppressed (1-7).
    rounding : every other count is rounded to the nearest multiple of this (5).
    reason : why disclosure control is off; required when ``enabled`` is False.
    min_group : groups with fewer people than this (50) publish their size only: the counts
        measured within the group and every rate, interval and ratio derived from them are
        withheld, so a zero (none of them has it) or an all is never shown for a handful of
        people. 1 switches the rule off.
    """

    enabled: bool = True
    suppress_below: int = 8  # counts 1..suppress_below-1 are suppressed
    rounding: int = 5
    reason: str | None = None  # required when enabled is False
    min_group: int = 50  # groups smaller than this publish their size only


@dataclass(frozen=True)
class ReportSettings:
    title: str = "Health inequalities in cardiovascular disease"
    organisation: str = "East Suffolk and North Essex NHS Foundation Trust"
    subtitle: str | None = None
    period: str | None = None
    contact: str | None = None  # how readers report a problem (accessibility statement)


@dataclass(frozen=True)
class Config:
    """A parsed config: the data source, what to analyse and how to publish it.

    The measures API: :attr:`measures` (every declared measure the dataset has or the config
    asks for), :meth:`measure`, :meth:`measures_of`, :attr:`indicators`, :meth:`indicator`,
    :attr:`features` (the model's), :attr:`contract` (every loadable column with its type).
    :attr:`conditions` and :attr:`outcomes` stay as tuples of names (the selected condition and
    outcome measures) for the analyses that have not moved to measures yet.
    """

    path: Path  # the config file itself (absolute)
    data: DataSource
    dimensions: tuple[Dimension, ...]
    conditions: tuple[str, ...]  # canonical condition names selected (present or asked for)
    outcomes: tuple[str, ...]
    model: ModelSettings = field(default_factory=ModelSettings)
    disclosure: DisclosureSettings = field(default_factory=DisclosureSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    seed: int = 2024
    #: Keys the config file left to their defaults ("conditions", "outcomes",
    #: "equity.dimensions", "model.target"): defaults adapt to the data, so an
    #: optional column the user never asked for is not an error when absent.
    defaulted: frozenset[str] = frozenset()
    #: Every declared measure (profile, then config), except those neither present in the
    #: data nor asked for by the config.
    measures: tuple[Measure, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    #: The profile the measures came from: "cvd", a file path, or "" for none.
    profile: str = ""
    #: (config key, canonical name) for every column the config asks for by name: an absent
    #: one is an error in validation.
    requested: tuple[tuple[str, str], ...] = ()
    #: Declared measures left out because the data does not have them (and nothing asked for them).
    dropped: tuple[str, ...] = ()

    def dimension(self, name: str) -> Dimension:
        """The equity dimension called ``name`` (KeyError if the config has none)."""
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(NO_DIMENSION.format(name=name, path=self.path))

    def measure(self, name: str) -> Measure:
        """The measure called ``name`` (KeyError naming the closest one if unknown)."""
        for m in self.measures:
            if m.name == name:
                return m
        raise KeyError(NO_MEASURE.format(name=name, path=self.path, hint=_hint(name, self.measures)))

    def measures_of(self, kind: str) -> tuple[Measure, ...]:
        """The measures of one kind; conditions and outcomes are those the config selects
        (:attr:`conditions`, :attr:`outcomes`), in that order."""
        selected = {"condition": self.conditions, "outcome": self.outcomes}.get(kind)
        if selected is None:
            return tuple(m for m in self.measures if m.kind == kind)
        by_name = {m.name: m for m in self.measures}
        return tuple(by_name[n] for n in selected if n in by_name)

    def indicator(self, name: str) -> Indicator:
        """The indicator called ``name`` (KeyError naming the closest one if unknown)."""
        for i in self.indicators:
            if i.name == name:
                return i
        raise KeyError(NO_INDICATOR.format(name=name, path=self.path, hint=_hint(name, self.indicators)))

    @property
    def features(self) -> tuple[str, ...]:
        """The model's features: ``model.features`` when the config lists them, else ``age`` and
        every baseline measure (except the target)."""
        if self.model.features:
            return self.model.features
        baseline = (m.name for m in self.measures if m.timing == "baseline" and m.name != self.model.target)
        return ("age", *baseline)

    @cached_property
    def contract(self) -> dict[str, Column]:
        """Every column this config can load, in the loaded table's order (see :func:`contract_of`)."""
        return contract_of(self.dimensions, self.measures)


def contract_of(dimensions: tuple[Dimension, ...], measures: tuple[Measure, ...]) -> dict[str, Column]:
    """The columns of a loaded table: the core columns, custom dimensions (category with their
    ``order`` as codes, else text), the measures, then the true status of each flag measure."""
    out: dict[str, Column] = dict(CORE)
    names = {m.name for m in measures}
    for d in dimensions:
        if d.name not in out and d.name != "age_band" and d.name not in names:
            kind: Literal["category", "text"] = "category" if d.order else "text"
            out[d.name] = Column(
                d.name, kind, "equity", d.label, f"{d.label} (equity dimension).", codes=d.order
            )
    out.update((m.name, m.as_column()) for m in measures)
    out.update((f"{TRUTH_PREFIX}{m.name}", truth_of(m.as_column())) for m in measures if m.type == "flag")
    return out


def _hint(name: str, items: tuple) -> str:
    import difflib

    close = difflib.get_close_matches(name, [i.name for i in items], n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else "."


#: ESP2013 five-year age bands, as labelled by ``healthgap.stats.age_bands``.
AGE_BANDS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 90, 5)), "90+")

_IMD_LABELS = {
    "1": "1 (most deprived)",
    "2": "2",
    "3": "3",
    "4": "4",
    "5": "5 (least deprived)",
}

#: Equity dimensions used when the config has no ``equity`` section, and the
#: defaults a dimension entry given only by name starts from. An empty
#: ``order`` means "the levels found in the data" and an empty ``reference``
#: means "the level with the most people" (see ``healthgap.data.resolve_dimensions``).
DEFAULT_DIMENSIONS: dict[str, Dimension] = {
    "imd_quintile": Dimension(
        "imd_quintile",
        "Deprivation (IMD quintile)",
        ("1", "2", "3", "4", "5"),
        _IMD_LABELS,
        "5",
        noun="deprivation fifth",
        ordered=True,
        disadvantaged="first",
        column="imd_quintile",
    ),
    "ethnicity": Dimension(
        "ethnicity",
        "Ethnic group",
        ("Asian", "Black", "Mixed", "White", "Other", "Not stated"),
        {},
        "White",
        noun="ethnic group",
        column="ethnicity",
    ),
    "sex": Dimension(
        "sex",
        "Sex",
        ("female", "male"),
        {"female": "Female", "male": "Male"},
        "female",
        noun="sex",
        column="sex",
    ),
    "age_band": Dimension("age_band", "Age band", AGE_BANDS, {}, "50-54", noun="age band", ordered=True),
    "locality": Dimension("locality", "Locality", (), {}, "", noun="locality", column="locality"),
}
