"""Reading a YAML file: the one place the config package opens and parses YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from healthgap.safeio import load_yaml

__all__ = ["read_yaml"]


def read_yaml(path: Path, *, what: str = "Config file", missing: str | None = None) -> Any:
    """The YAML document in ``path`` (None for an empty file), read with :func:`healthgap.safeio.load_yaml`.

    A regular UTF-8 file only, bounded in size and alias expansion, duplicate keys refused.

    Raises
    ------
    ConfigError
        The file is missing (``missing`` is the message), cannot be read, or is not safe YAML
        (``what`` names it in the message).
    """
    return load_yaml(path, what=what, missing=missing)
