"""Profiles: packaged (``profile: cvd``) or a user's own YAML file of measures and indicators.

A profile file has the keys ``description``, ``measures``, ``indicators`` and ``model``
(only ``model.target``, the default model target). A config names its profile with the
top-level ``profile`` key: a packaged name, a path to a YAML file (relative to the config),
or ``null``/``none`` for none. Without the key the config uses ``cvd``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from healthgap.config._check import Checker
from healthgap.config._files import read_yaml
from healthgap.config._measures import parse_indicators, parse_measures
from healthgap.config._model import Indicator, Measure
from healthgap.contract import PROFILES

__all__ = ["Profile", "load_profile", "read_profile", "packaged_profiles", "DEFAULT_PROFILE", "PROFILE_KEYS"]

DEFAULT_PROFILE = "cvd"
PROFILE_KEYS = ("description", "measures", "indicators", "model")
_NONE = ("none", "")

UNKNOWN_PROFILE = (
    "profile: {name!r} is neither a packaged profile ({packaged}) nor a file{near}. "
    "Fix: name a packaged profile, give the path of your profile's YAML file, or write profile: null."
)
NOT_A_MAPPING = "profile: the file {path} must hold a mapping (measures:, indicators:, model:), not {kind}."
BAD_NAME = "profile: expected a profile name or a path (text), got {value!r}. Fix: e.g. profile: cvd."


@dataclass(frozen=True)
class Profile:
    """The measures, indicators and default model target of a profile ("" name: none)."""

    name: str = ""
    measures: tuple[Measure, ...] = ()
    indicators: tuple[Indicator, ...] = ()
    target: str = ""


def packaged_profiles() -> tuple[str, ...]:
    """The names of the profiles shipped with healthgap (``cvd``)."""
    return tuple(sorted(p.stem for p in PROFILES.glob("*.yml")))


def _file(c: Checker, value: str) -> Path | None:
    if value in packaged_profiles():
        return PROFILES / f"{value}.yml"
    path = c.path(value)
    if path is not None and path.is_file():
        return path
    near = f" (looked for {path})" if path is not None else ""
    c.add(UNKNOWN_PROFILE.format(name=value, packaged=", ".join(packaged_profiles()), near=near))
    return None


def load_profile(c: Checker, raw: dict[str, Any]) -> Profile:
    """The profile the config names (``cvd`` when it has no ``profile`` key).

    Problems inside the profile file are added to ``c`` prefixed with the file's name.
    """
    value = raw.get("profile", DEFAULT_PROFILE)
    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
        return Profile()
    if not isinstance(value, str):
        c.add(BAD_NAME.format(value=value))
        return Profile()
    path = _file(c, value.strip())
    if path is None:
        return Profile()
    doc = read_yaml(path, what="Profile file") or {}
    if not isinstance(doc, dict):
        from healthgap.config._check import type_name

        c.add(NOT_A_MAPPING.format(path=path, kind=type_name(doc)))
        return Profile()
    inner = Checker(path.parent, prefix=f"profile {path.name}: ")
    inner.keys(doc, "", PROFILE_KEYS)
    measures, _ = parse_measures(inner, doc.get("measures"))
    indicators = parse_indicators(inner, doc.get("indicators"))
    model = inner.keys(doc.get("model"), "model", ("target",))
    target = inner.typed(model, "target", "model", str, "")
    c.problems += inner.problems
    name = value.strip() if path.parent == PROFILES else str(path)
    return Profile(name=name, measures=measures, indicators=indicators, target=target)


def read_profile(value: str = DEFAULT_PROFILE, *, base: Path | None = None) -> Profile:
    """A profile by packaged name (``"cvd"``) or path (relative to ``base``, default the
    current folder).

    Raises
    ------
    ConfigError
        The profile cannot be found or does not match the schema (every problem listed).
    """
    from healthgap.config._check import HEADER
    from healthgap.errors import ConfigError

    c = Checker(base or Path.cwd())
    profile = load_profile(c, {"profile": value})
    if c.problems:
        lines = "\n".join(f"  - {p}" for p in c.problems)
        raise ConfigError(f"{HEADER.format(path=value)}\n{lines}")
    return profile
