"""The strict parser: a YAML mapping -> :class:`Config`, every problem reported together.

Order: profile (measures, indicators, default target), the config's measures and
indicators, equity dimensions, the data section (mappings checked against the columns now
known), conditions and outcomes, model, disclosure. Then each canonical column's source is
resolved (one source column per canonical name) and the defaults adapt to the data.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from healthgap.config._check import HEADER, Checker, suggest
from healthgap.config._data import parse_data, parse_mappings, present_columns
from healthgap.config._dimensions import parse_equity
from healthgap.config._measures import parse_indicators, parse_measures
from healthgap.config._model import (
    ERR_PROTECTS_NOTHING,
    Config,
    Dimension,
    DisclosureSettings,
    Measure,
    ModelSettings,
    ReportSettings,
    contract_of,
)
from healthgap.config._profiles import load_profile
from healthgap.contract import CORE, PROTECTED, TRUTH_PREFIX
from healthgap.errors import ConfigError

__all__ = ["parse_mapping", "TOP_KEYS", "REPORT_KEYS", "MODEL_KEYS", "DISCLOSURE_KEYS"]

TOP_KEYS = (
    "report",
    "profile",
    "data",
    "equity",
    "measures",
    "indicators",
    "conditions",
    "outcomes",
    "model",
    "disclosure",
    "seed",
)
REPORT_KEYS = ("title", "organisation", "subtitle", "period", "contact")
MODEL_KEYS = (
    "target",
    "features",
    "exclude_protected",
    "top_fraction",
    "test_size",
    "seed",
    "shap_sample",
    "mitigation_sample",
    "sample_size",
)
DISCLOSURE_KEYS = ("enabled", "suppress_below", "rounding", "reason", "min_group")
#: Columns that cannot be model features.
_NOT_FEATURES = ("person_id", "lsoa", "gp_practice")
_PROTECTED_FEATURES = (*PROTECTED, "age_band")
_TARGET_TYPES = ("flag", "count")

EMPTY_CONDITIONS = (
    "conditions: the list is empty. Fix: list the conditions your data records, e.g. - hypertension."
)
BAD_TARGET = "model.target: {target!r} is not a valid target{hint} Valid: {valid} (flag or count measures)."
TARGET_TYPE = (
    "model.target: {target!r} is a {type} measure; the target must be a flag or a count. Valid: {valid}."
)
SOURCE_OF = "; it is the file column of the measure {name!r}: use the measure's name"
TRUTH_TARGET = "; a true-status column cannot be the target: did you mean {name!r}?"
FEATURE_IS_TARGET = "model.features: {name!r} is the target and cannot also be a feature. Fix: remove it."
FEATURE_FOLLOW_UP = (
    "model.features: {name!r} is measured during the follow-up (timing: follow-up), so a model predicting "
    "{target} would learn from what happens after the start. Fix: remove it from model.features, or, if it "
    "is known at the start, declare it a baseline measure (measures: [{{name: {name}, timing: baseline}}])."
)
FEATURE_PROTECTED = (
    "model.features: {name!r} is a protected characteristic or equity dimension but model.exclude_protected "
    "is true. Fix: remove it from features, or set exclude_protected: false."
)
TWO_SOURCES = "{first}: {a!r} and {second}: {b!r} name different columns for {name}. Fix: keep one of them."
SHARED_SOURCE = (
    "data.columns: the file column {source!r} is mapped to both {a} ({where_a}) and {b} ({where_b}). "
    "Fix: map each file column to one name (derive a copy with data.derive if you need it twice)."
)


def _report(c: Checker, node: Any) -> ReportSettings:
    node = c.keys(node, "report", REPORT_KEYS)
    d = ReportSettings()
    return ReportSettings(
        title=c.typed(node, "title", "report", str, d.title),
        organisation=c.typed(node, "organisation", "report", str, d.organisation),
        subtitle=c.typed(node, "subtitle", "report", str, d.subtitle, nullable=True),
        period=c.typed(node, "period", "report", str, d.period, nullable=True),
        contact=c.typed(node, "contact", "report", str, d.contact, nullable=True),
    )


def _target(c: Checker, node: dict, measures: tuple[Measure, ...], default: str) -> str:
    target = c.typed(node, "target", "model", str, default)
    if not target and "target" not in node:
        return ""
    valid = tuple(m.name for m in measures if m.type in _TARGET_TYPES)
    found = next((m for m in measures if m.name == target), None)
    if found is not None and found.type not in _TARGET_TYPES:
        c.add(TARGET_TYPE.format(target=target, type=found.type, valid=", ".join(valid)))
    elif found is None:
        by_source = next((m.name for m in measures if m.column == target and m.name in valid), None)
        truth = target.removeprefix(TRUTH_PREFIX)
        if by_source:
            hint = SOURCE_OF.format(name=by_source) + "."
        elif truth != target and truth in valid:
            hint = TRUTH_TARGET.format(name=truth)
        else:
            hint = suggest(target, valid)
        c.add(BAD_TARGET.format(target=target, hint=hint, valid=", ".join(valid) or "none declared"))
    return target


def _model(
    c: Checker, node: Any, measures: tuple[Measure, ...], dimensions: tuple[Dimension, ...], default: str
) -> ModelSettings:
    node = c.keys(node, "model", MODEL_KEYS)
    d = ModelSettings()
    target = _target(c, node, measures, default)
    custom = tuple(x.name for x in dimensions if x.name not in CORE and x.name != "age_band")
    valid = (
        *(k for k in CORE if k not in _NOT_FEATURES),
        "age_band",
        *(m.name for m in measures),
        *(x for x in custom if all(m.name != x for m in measures)),
    )
    features = c.names(node, "features", "model", d.features, valid)
    exclude = c.typed(node, "exclude_protected", "model", bool, d.exclude_protected)
    protected = {*_PROTECTED_FEATURES, *(x.name for x in dimensions)}
    follow_up = {m.name for m in measures if m.timing == "follow-up"}
    for f in features:
        if f == target:
            c.add(FEATURE_IS_TARGET.format(name=f))
        elif f in follow_up:
            c.add(FEATURE_FOLLOW_UP.format(name=f, target=target or "the target"))
        elif exclude and f in protected:
            c.add(FEATURE_PROTECTED.format(name=f))
    s = ModelSettings(
        target=target,
        features=features,
        exclude_protected=exclude,
        top_fraction=c.typed(node, "top_fraction", "model", float, d.top_fraction),
        test_size=c.typed(node, "test_size", "model", float, d.test_size),
        seed=c.typed(node, "seed", "model", int, d.seed),
        shap_sample=c.typed(node, "shap_sample", "model", int, d.shap_sample),
        mitigation_sample=c.typed(node, "mitigation_sample", "model", int, d.mitigation_sample),
        sample_size=c.typed(node, "sample_size", "model", int, d.sample_size),
    )
    c.positive(s.top_fraction, "model.top_fraction", below_one=True)
    c.positive(s.test_size, "model.test_size", below_one=True)
    c.positive(s.shap_sample, "model.shap_sample")
    c.positive(s.mitigation_sample, "model.mitigation_sample")
    c.positive(s.sample_size, "model.sample_size")
    return s


def _disclosure(c: Checker, node: Any) -> DisclosureSettings:
    node = c.keys(node, "disclosure", DISCLOSURE_KEYS)
    d = DisclosureSettings()
    s = DisclosureSettings(
        enabled=c.typed(node, "enabled", "disclosure", bool, d.enabled),
        suppress_below=c.typed(node, "suppress_below", "disclosure", int, d.suppress_below),
        rounding=c.typed(node, "rounding", "disclosure", int, d.rounding),
        reason=c.typed(node, "reason", "disclosure", str, d.reason, nullable=True),
        min_group=c.typed(node, "min_group", "disclosure", int, d.min_group),
    )
    c.positive(s.suppress_below, "disclosure.suppress_below")
    c.positive(s.rounding, "disclosure.rounding")
    c.positive(s.min_group, "disclosure.min_group")
    if not s.enabled and not (s.reason or "").strip():
        c.add(
            "disclosure.enabled: disclosure control is off but no reason is given. Fix: add "
            "disclosure.reason explaining why unprotected numbers may be published, or set enabled: true."
        )
    if s.enabled and s.suppress_below == 1 and s.rounding == 1:
        c.add(ERR_PROTECTS_NOTHING)
    return s


def _sources(
    c: Checker,
    columns: dict[str, str],
    measures: tuple[Measure, ...],
    named: dict[str, str],
    dimensions: tuple[Dimension, ...],
) -> tuple[dict[str, str], dict[str, str], tuple[Measure, ...], tuple[Dimension, ...]]:
    """One source column per canonical name: data.columns, a measure's or a dimension's column."""
    renames = dict(columns)
    origins = {k: f"data.columns.{k}" for k in columns}

    def claim(name: str, column: str, where: str) -> None:
        if name in renames and renames[name] != column:
            c.add(TWO_SOURCES.format(first=origins[name], a=renames[name], second=where, b=column, name=name))
            return
        renames[name], origins[name] = column, origins.get(name, where)

    for m in measures:
        if m.column:
            claim(
                m.name,
                m.column,
                f"{named[m.name]}.column" if m.name in named else f"profile measure {m.name}.column",
            )
    for i, d in enumerate(dimensions):
        if d.column and d.column != d.name:
            claim(d.name, d.column, f"equity.dimensions[{i}].column")
    by_source: dict[str, str] = {}
    for name, source in renames.items():
        if source in by_source:
            other = by_source[source]
            c.add(
                SHARED_SOURCE.format(
                    source=source, a=other, where_a=origins[other], b=name, where_b=origins[name]
                )
            )
        else:
            by_source[source] = name
    measures = tuple(replace(m, column=renames.get(m.name, m.name)) for m in measures)
    dimensions = tuple(
        d if d.name == "age_band" else replace(d, column=renames.get(d.name, d.name)) for d in dimensions
    )
    return renames, origins, measures, dimensions


def _requested(
    raw: dict, named: dict[str, str], dimensions: tuple[Dimension, ...], model: ModelSettings
) -> tuple[tuple[str, str], ...]:
    out = [(at, name) for name, at in named.items()]
    for key in ("conditions", "outcomes"):
        if isinstance(raw.get(key), list):
            out += [(key, n) for n in raw[key] if isinstance(n, str)]
    if isinstance(raw.get("model"), dict) and "target" in raw["model"] and model.target:
        out.append(("model.target", model.target))
    out += [("model.features", f) for f in model.features if f != "age_band"]
    if isinstance(raw.get("equity"), dict) and "dimensions" in raw["equity"]:
        out += [
            (f"equity.dimensions[{i}].name", d.name) for i, d in enumerate(dimensions) if d.name != "age_band"
        ]
    return tuple(dict.fromkeys(out))


def parse_mapping(raw: dict, *, path: Path) -> Config:
    """Build a :class:`Config` from an already-parsed YAML mapping.

    Parameters
    ----------
    raw : the YAML document as a dict.
    path : absolute path of the config file; relative paths resolve against its folder.

    Raises
    ------
    ConfigError
        Listing every problem, each naming its key path.

    References
    ----------
    .. [1] healthgap README, section "Configuration reference".
    """
    c = Checker(path.parent)
    c.keys(raw, "", TOP_KEYS)
    report = _report(c, raw.get("report"))
    profile = load_profile(c, raw)
    measures, named = parse_measures(c, raw.get("measures"), base=profile.measures)
    indicators = parse_indicators(c, raw.get("indicators"), base=profile.indicators)
    dimensions = parse_equity(c, raw.get("equity"), {m.name: m for m in measures})
    data = parse_data(c, raw.get("data"))
    columns, absent, codes = parse_mappings(c, data, contract_of(dimensions, measures))
    kinds = {k: tuple(m.name for m in measures if m.kind == k) for k in ("condition", "outcome")}
    conditions = c.names(raw, "conditions", "", kinds["condition"], kinds["condition"])
    if isinstance(raw.get("conditions"), list) and not raw["conditions"]:
        c.add(EMPTY_CONDITIONS)
    outcomes = c.names(raw, "outcomes", "", kinds["outcome"], kinds["outcome"])
    model = _model(c, raw.get("model"), measures, dimensions, profile.target)
    disclosure = _disclosure(c, raw.get("disclosure"))
    seed = c.typed(raw, "seed", "", int, 2024)
    renames, origins, measures, dimensions = _sources(c, columns, measures, named, dimensions)
    if c.problems:
        lines = "\n".join(f"  - {p}" for p in c.problems)
        raise ConfigError(f"{HEADER.format(path=path)}\n{lines}")
    data = replace(data, columns=renames, codes=codes, absent=absent, origins=origins)
    defaulted = frozenset(
        key
        for key, given in (
            ("conditions", "conditions" in raw),
            ("outcomes", "outcomes" in raw),
            ("equity.dimensions", isinstance(raw.get("equity"), dict) and "dimensions" in raw["equity"]),
            ("model.target", isinstance(raw.get("model"), dict) and "target" in raw["model"]),
        )
        if not given
    )
    requested = _requested(raw, named, dimensions, model)
    config = Config(
        path=path,
        data=data,
        dimensions=dimensions,
        conditions=conditions,
        outcomes=outcomes,
        model=model,
        disclosure=disclosure,
        report=report,
        seed=seed,
        defaulted=defaulted,
        measures=measures,
        indicators=indicators,
        profile=profile.name,
        requested=requested,
    )
    return _adapt(config, present_columns(data))


def _adapt(config: Config, files: set[str] | None) -> Config:
    """Defaults adapt to the data: what the config never asked for is simply not analysed when absent."""
    if files is None:
        return config
    data = config.data

    def has(name: str) -> bool:
        return name not in data.absent and data.columns.get(name, name) in files

    asked = {name for _, name in config.requested}
    measures = tuple(m for m in config.measures if has(m.name) or m.name in asked)
    names = {m.name for m in measures}
    conditions, outcomes, dimensions = config.conditions, config.outcomes, config.dimensions
    if "conditions" in config.defaulted:
        conditions = tuple(x for x in conditions if x in names)
    if "outcomes" in config.defaulted:
        outcomes = tuple(x for x in outcomes if x in names)
    if "equity.dimensions" in config.defaulted:
        imd = has("imd_quintile") or has("imd_decile")
        dimensions = tuple(
            d
            for d in dimensions
            if d.name == "age_band" or (imd if d.name == "imd_quintile" else has(d.name))
        )
    dropped = tuple(m.name for m in config.measures if m.name not in names)
    return replace(
        config,
        measures=measures,
        conditions=conditions,
        outcomes=outcomes,
        dimensions=dimensions,
        dropped=dropped,
    )
