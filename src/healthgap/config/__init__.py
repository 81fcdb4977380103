"""The config: parsed once into a frozen, typed object.

Everything else in healthgap receives a :class:`Config`, never a raw dict.
A YAML file maps a user's dataset onto canonical columns: the core columns of
:mod:`healthgap.contract` and the measures declared in a profile (``profile: cvd`` by
default, ``healthgap/profiles/cvd.yml``) and in the config itself.

Selection order: an explicit path (``--config PATH``), else the
``HEALTHGAP_CONFIG`` environment variable, else the default config
``data/default.yml`` (the synthetic population).

The package: :mod:`._model` (the frozen dataclasses), :mod:`._check` (the strict
parser's toolkit), :mod:`._parse` (the parser), :mod:`._data`, :mod:`._dimensions` and
:mod:`._measures` (its sections), :mod:`._profiles` (profiles), :mod:`._sql` (SQL
expressions) and :mod:`._files` (reading YAML). Every key is documented in
``data/default.yml`` and the README.
"""

from __future__ import annotations

import os
from pathlib import Path

from healthgap.config._check import type_name
from healthgap.config._files import read_yaml
from healthgap.config._model import (
    AGE_BANDS,
    DEFAULT_DIMENSIONS,
    INDICATOR_KINDS,
    Config,
    DataSource,
    Dimension,
    DisclosureSettings,
    Indicator,
    IndicatorKind,
    Measure,
    MeasureKind,
    MeasureType,
    ModelSettings,
    ReportSettings,
    contract_of,
)
from healthgap.config._parse import parse_mapping
from healthgap.config._profiles import DEFAULT_PROFILE, Profile, packaged_profiles, read_profile
from healthgap.config._sql import SqlError, compile_sql, replace_columns, sql_columns
from healthgap.errors import ConfigError  # re-exported
from healthgap.safeio import resolve

__all__ = [
    "Dimension",
    "Measure",
    "MeasureKind",
    "MeasureType",
    "Indicator",
    "IndicatorKind",
    "INDICATOR_KINDS",
    "DataSource",
    "ModelSettings",
    "DisclosureSettings",
    "ReportSettings",
    "Config",
    "ConfigError",
    "contract_of",
    "load_config",
    "select_config",
    "default_config_path",
    "ENV_VAR",
    "ORIGIN_ARGUMENT",
    "ORIGIN_ENV",
    "ORIGIN_DEFAULT",
    "AGE_BANDS",
    "DEFAULT_DIMENSIONS",
    "DEFAULT_PROFILE",
    "packaged_profiles",
    "Profile",
    "read_profile",
    "project_root",
    "parse_file",
    "parse_mapping",
    "compile_sql",
    "sql_columns",
    "replace_columns",
    "SqlError",
]

ENV_VAR = "HEALTHGAP_CONFIG"
#: Where :func:`select_config` found the config file, as messages name it.
ORIGIN_ARGUMENT = "--config"
ORIGIN_ENV = f"${ENV_VAR}"
ORIGIN_DEFAULT = "the default config"

MISSING_FILE = "Config file not found: {path} (chosen by {origin}). Fix: pass an existing file with --config PATH or set HEALTHGAP_CONFIG."
NOT_MAPPING = "Config file {path} must contain a mapping of keys (report:, data:, ...), not {kind}."

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
    return Path(__file__).resolve().parents[3]


def default_config_path(project: str | Path | None = None) -> Path:
    """Return ``<project>/data/default.yml``, the config of the synthetic population.

    Parameters
    ----------
    project : the project folder; default :func:`project_root`.

    References
    ----------
    .. [1] healthgap README, section "Configuration".
    """
    return (project_root() if project is None else Path(project)) / "data" / "default.yml"


def select_config(path: str | Path | None = None, *, project: str | Path | None = None) -> tuple[Path, str]:
    """Choose the config file: the one rule every command and the renderer follow.

    ``path`` if given, else ``$HEALTHGAP_CONFIG`` (when set and not blank), else
    ``data/default.yml`` of the project. The file is not read and need not exist.

    Parameters
    ----------
    path : explicit config path (``--config``); relative paths resolve against the current
        directory.
    project : the project folder whose ``data/default.yml`` is the default (see
        :func:`default_config_path`); default :func:`project_root`.

    Returns
    -------
    tuple of (Path, str)
        The absolute path and where it came from: :data:`ORIGIN_ARGUMENT`,
        :data:`ORIGIN_ENV` or :data:`ORIGIN_DEFAULT`.

    References
    ----------
    .. [1] healthgap README, section "Configuration".
    """
    if path is not None:
        chosen, origin = Path(path), ORIGIN_ARGUMENT
    elif env := os.environ.get(ENV_VAR, "").strip():
        chosen, origin = Path(env), ORIGIN_ENV
    else:
        chosen, origin = default_config_path(project), ORIGIN_DEFAULT
    return resolve(chosen), origin


def load_config(path: str | Path | None = None) -> Config:
    """Load and check a config file.

    The file is chosen by :func:`select_config`: ``path`` if given, else
    ``$HEALTHGAP_CONFIG``, else :func:`default_config_path`. Loading is strict: unknown keys
    (with the closest valid key suggested), wrong types, invalid values and a missing
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
    chosen, origin = select_config(path)
    return parse_file(chosen, origin=origin)


def parse_file(path: Path, *, origin: str = "--config") -> Config:
    """Read and parse a YAML config file (see :func:`parse_mapping`).

    References
    ----------
    .. [1] healthgap README, section "Configuration reference".
    """
    raw = read_yaml(path, missing=MISSING_FILE.format(path=path, origin=origin))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(NOT_MAPPING.format(path=path, kind=type_name(raw)))
    return parse_mapping(raw, path=path)
