"""Reading a YAML file: the one place the config package opens and parses YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from healthgap.errors import ConfigError

__all__ = ["read_yaml", "NOT_YAML"]

NOT_YAML = "{what} {path} is not valid YAML: {detail}"


def read_yaml(path: Path, *, what: str = "Config file") -> Any:
    """The YAML document in ``path`` (None for an empty file).

    Raises
    ------
    ConfigError
        The file cannot be read or is not YAML (``what`` names it in the message).
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        detail = str(exc).replace("\n", " ")
        raise ConfigError(NOT_YAML.format(what=what, path=path, detail=detail)) from None
