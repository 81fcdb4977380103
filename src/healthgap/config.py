"""The config: parsed once into a frozen, typed object.

Everything else in healthgap receives a :class:`Config`, never a raw dict.
A YAML file maps a user's dataset onto the contract (:mod:`healthgap.contract`).

Selection order: an explicit path (``--config PATH``), else the
``HEALTHGAP_CONFIG`` environment variable, else the default config
``data/default.yml`` (the synthetic population).

The dataclass shapes are fixed; the strict YAML parser lives in
:mod:`healthgap._configload` and every key is documented in
``data/default.yml`` and the README.
"""

from __future__ import annotations

import os
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
    "AGE_BANDS",
    "DEFAULT_DIMENSIONS",
    "project_root",
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
    contact: str | None = None  # how readers report a problem (accessibility statement)


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
    #: Keys the config file left to their defaults ("conditions", "outcomes",
    #: "equity.dimensions", "model.target"): defaults adapt to the data, so an
    #: optional column the user never asked for is not an error when absent.
    defaulted: frozenset[str] = frozenset()

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(f"No equity dimension {name!r} in the config {self.path}.")


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
        "imd_quintile", "Deprivation (IMD quintile)", ("1", "2", "3", "4", "5"), _IMD_LABELS, "5"
    ),
    "ethnicity": Dimension(
        "ethnicity",
        "Ethnic group",
        ("Asian", "Black", "Mixed", "White", "Other", "Not stated"),
        {},
        "White",
    ),
    "sex": Dimension("sex", "Sex", ("female", "male"), {"female": "Female", "male": "Male"}, "female"),
    "age_band": Dimension("age_band", "Age band", AGE_BANDS, {}, "50-54"),
    "locality": Dimension("locality", "Locality", (), {}, ""),
}

_PROJECT_NAME_LINE = 'name = "healthgap"'


def _is_project_root(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            if _PROJECT_NAME_LINE in pyproject.read_text(encoding="utf-8"):
                return True
        except OSError:
            pass
    return (folder / "_quarto.yml").is_file() and (folder / "data" / "default.yml").is_file()


def project_root(start: str | Path | None = None) -> Path:
    """Find the healthgap project folder.

    Walks up from ``start`` (default: the current directory) looking for a
    ``pyproject.toml`` naming the ``healthgap`` project, or a ``_quarto.yml``
    next to ``data/default.yml``. Falls back to the folder the package was
    installed from (an editable install of the repository).

    Parameters
    ----------
    start : folder to start from; defaults to the current working directory.

    Returns
    -------
    Path
        Absolute path of the project folder.

    References
    ----------
    .. [1] Quarto project files, https://quarto.org/docs/projects/quarto-projects.html
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if _is_project_root(folder):
            return folder
    return Path(__file__).resolve().parents[2]


def default_config_path() -> Path:
    """Return ``<project>/data/default.yml``, the config of the synthetic population.

    References
    ----------
    .. [1] healthgap README, section "Configuration".
    """
    return project_root() / "data" / "default.yml"


def load_config(path: str | Path | None = None) -> Config:
    """Load and check a config file.

    Selection order: ``path`` if given, else ``$HEALTHGAP_CONFIG``, else
    :func:`default_config_path`. Loading is strict: unknown keys (with the
    closest valid key suggested), wrong types, invalid values and a missing
    file raise :class:`ConfigError` naming every offending key path, e.g.
    ``equity.dimensions[1].reference``. Relative paths inside the file are
    resolved against the file's folder.

    Parameters
    ----------
    path : explicit config path; relative paths resolve against the current directory.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        The file is missing, is not YAML, or does not match the schema.

    References
    ----------
    .. [1] YAML 1.1 as implemented by PyYAML, https://pyyaml.org/wiki/PyYAMLDocumentation
    """
    from healthgap._configload import parse_file

    if path is None:
        env = os.environ.get(ENV_VAR, "").strip()
        chosen = Path(env) if env else default_config_path()
        origin = f"${ENV_VAR}" if env else "the default config"
    else:
        chosen, origin = Path(path), "--config"
    return parse_file(chosen.expanduser().resolve(), origin=origin)
