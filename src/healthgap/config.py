"""The config: parsed once into a frozen, typed object.

Everything else in healthgap receives a :class:`Config`, never a raw dict.
A YAML file maps a user's dataset onto the contract (:mod:`healthgap.contract`).

Selection order: an explicit path (``--config PATH``), else the
``HEALTHGAP_CONFIG`` environment variable, else the default config
``data/default.yml`` (the synthetic population).

THIS FILE: dataclass shapes fixed by the lead; the strict YAML loader
(``load_config``) is implemented by the foundation work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "Dimension",
    "DataSource",
    "ModelSettings",
    "DisclosureSettings",
    "ReportSettings",
    "Config",
    "ConfigError",
    "load_config",
    "default_config_path",
    "ENV_VAR",
]

ENV_VAR = "HEALTHGAP_CONFIG"


from healthgap.errors import ConfigError  # noqa: E402  (re-exported)


@dataclass(frozen=True)
class Dimension:
    """An equity dimension to analyse.

    ``name`` is a canonical column (e.g. ``imd_quintile``, ``ethnicity``,
    ``sex``, ``age_band``, ``locality``). ``order`` lists the levels (as
    strings) in display order; ``labels`` maps level -> display label;
    ``reference`` is the level that rate ratios compare against.
    """

    name: str
    label: str
    order: tuple[str, ...]
    labels: dict[str, str]
    reference: str

    def label_of(self, level: str) -> str:
        return self.labels.get(str(level), str(level))


@dataclass(frozen=True)
class DataSource:
    """Where the person table is and how to map it onto the contract."""

    path: Path  # absolute; Parquet or CSV
    format: Literal["parquet", "csv"]
    columns: dict[str, str]  # canonical name -> source column name (renames)
    codes: dict[str, dict[str, str]]  # canonical column -> {source code: canonical code}
    truth: Path | None = None  # truth.json for synthetic data, if any
    boundaries: Path | None = None  # GeoJSON keyed by area code, for choropleths
    boundary_key: str = "lsoa"  # which column the GeoJSON features are keyed by
    synthetic: bool = False  # label the data as synthetic everywhere


@dataclass(frozen=True)
class ModelSettings:
    target: str = "cvd_admissions"  # binary, or a count binarised as > 0
    features: tuple[str, ...] = ()
    exclude_protected: bool = True
    top_fraction: float = 0.05  # operating threshold: the top X of predicted risk
    test_size: float = 0.3
    seed: int = 2024
    shap_sample: int = 2000
    mitigation_sample: int = 20000


@dataclass(frozen=True)
class DisclosureSettings:
    enabled: bool = True
    suppress_below: int = 8  # counts 1..suppress_below-1 are suppressed
    rounding: int = 5
    reason: str | None = None  # required when enabled is False


@dataclass(frozen=True)
class ReportSettings:
    title: str = "Health inequalities in cardiovascular disease"
    organisation: str = "East Suffolk and North Essex NHS Foundation Trust"
    subtitle: str | None = None
    period: str | None = None


@dataclass(frozen=True)
class Config:
    path: Path  # the config file itself (absolute)
    data: DataSource
    dimensions: tuple[Dimension, ...]
    conditions: tuple[str, ...]  # canonical condition names present/wanted
    outcomes: tuple[str, ...]
    model: ModelSettings = field(default_factory=ModelSettings)
    disclosure: DisclosureSettings = field(default_factory=DisclosureSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    seed: int = 2024

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(f"No equity dimension {name!r} in the config {self.path}.")


def default_config_path() -> Path:
    raise NotImplementedError  # implemented by the foundation work


def load_config(path: str | Path | None = None) -> Config:
    raise NotImplementedError  # implemented by the foundation work
