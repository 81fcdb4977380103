"""The strict parser's toolkit: every problem in a file is collected, then reported together.

Each message names the key path (``equity.dimensions[1].reference``), what is wrong and how
to fix it. :class:`Checker` reads typed values out of the raw YAML tree and collects the
problems; the section parsers (:mod:`._parse`, :mod:`._dimensions`, :mod:`._measures`) use it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from healthgap.safeio import resolve

__all__ = [
    "Checker",
    "suggest",
    "type_name",
    "join",
    "HEADER",
    "UNKNOWN_KEY",
    "WRONG_TYPE",
    "REQUIRED",
    "UNKNOWN_NAME",
    "LISTED_TWICE",
]

HEADER = "Invalid config {path}:"
UNKNOWN_KEY = "{where}: unknown key{hint} Valid keys: {valid}."
WRONG_TYPE = "{where}: expected {expected}, got {got} ({value!r})."
REQUIRED = "{where}: required key is missing. Fix: add it{example}."
UNKNOWN_NAME = "{where}: unknown name {name!r}{hint} Valid: {valid}."
LISTED_TWICE = "{where}: {name!r} is listed twice. Fix: remove the duplicate."

#: How a config value of each type is described in messages ("expected a whole number").
_EXPECTED: dict[type, str] = {
    str: "text",
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    list: "a list",
    dict: "a mapping",
}


def type_name(value: Any) -> str:
    """How a YAML value's type is named in messages ("a whole number", "nothing (null)")."""
    return {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def suggest(word: str, options: tuple[str, ...] | list[str]) -> str:
    """``; did you mean 'x'?`` for the closest option, or ``.`` when none is close."""
    same_case = [o for o in options if o.lower() == str(word).lower()]
    close = same_case or difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.55)
    return f"; did you mean {close[0]!r}?" if close else "."


def join(where: str, key: str) -> str:
    """``where.key`` (or ``key`` at the top level)."""
    return f"{where}.{key}" if where else key


def _as_tuple(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


class Checker:
    """Collects problems while reading the raw YAML tree.

    Parameters
    ----------
    base : the folder relative paths resolve against.
    prefix : put before every message (e.g. the profile file a problem is in).
    """

    def __init__(self, base: Path, *, prefix: str = "") -> None:
        self.base = base
        self.prefix = prefix
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        """Record one problem."""
        self.problems.append(self.prefix + message)

    def wrong_type(self, where: str, expected: str, value: Any, *, fix: str = "") -> None:
        """Record that ``value`` at ``where`` is not of the ``expected`` type (and how to fix it)."""
        self.add(WRONG_TYPE.format(where=where, expected=expected, got=type_name(value), value=value) + fix)

    def keys(self, node: Any, where: str, valid: tuple[str, ...]) -> dict:
        """``node`` as a mapping whose keys are all in ``valid`` (unknown keys are problems)."""
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.wrong_type(where, "a mapping of keys", node)
            return {}
        for key in node:
            if key not in valid:
                self.add(
                    UNKNOWN_KEY.format(
                        where=join(where, str(key)), hint=suggest(str(key), valid), valid=", ".join(valid)
                    )
                )
        return node

    def typed(
        self, node: dict, key: str, where: str, kind: type | tuple, default: Any, *, nullable: bool = False
    ) -> Any:
        """``node[key]`` if it is of type ``kind`` (a whole number is a number), else ``default``."""
        if key not in node:
            return default
        value = node[key]
        if value is None and nullable:
            return None
        ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            expected = _EXPECTED.get(kind, str(kind)) if isinstance(kind, type) else str(kind)
            self.wrong_type(join(where, key), expected, value)
            return default
        return value

    def level(self, value: Any, where: str) -> str | None:
        """Levels and codes are strings; accept whole numbers too (imd quintile 5)."""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.wrong_type(
                where,
                "text or a whole number",
                value,
                fix=" Fix: quote it, e.g. 'yes'." if isinstance(value, bool) else "",
            )
            return None
        return str(value)

    def path(self, value: str | None) -> Path | None:
        """A path from the file, resolved against :attr:`base`."""
        if value is None:
            return None
        p = Path(value).expanduser()
        return resolve(p if p.is_absolute() else self.base / p)

    def names(
        self, node: dict, key: str, where: str, default: tuple[str, ...], valid: tuple[str, ...]
    ) -> tuple[str, ...]:
        """A list of names, each one of ``valid`` and listed once (``default`` when absent)."""
        value = self.typed(node, key, where, list, None)
        if value is None:
            return default
        out: list[str] = []
        for i, item in enumerate(value):
            at = f"{join(where, key)}[{i}]"
            if not isinstance(item, str):
                self.wrong_type(at, "text", item)
            elif item not in valid:
                self.add(
                    UNKNOWN_NAME.format(
                        where=at, name=item, hint=suggest(item, valid), valid=", ".join(valid)
                    )
                )
            elif item in out:
                self.add(LISTED_TWICE.format(where=at, name=item))
            else:
                out.append(item)
        return tuple(out)

    def positive(self, value: float, where: str, *, below_one: bool = False) -> None:
        """``value`` must be positive (or strictly between 0 and 1)."""
        if value <= 0 or (below_one and value >= 1):
            rule = "between 0 and 1 (exclusive)" if below_one else "positive"
            self.add(f"{where}: {value!r} must be {rule}.")
