"""Measures and indicators: parsed from a profile, then added to or overridden by the config.

A profile declares every field of its measures and indicators; a config's ``measures:`` and
``indicators:`` lists add new ones (every required field given) or override a profile's by
name (only the fields given change).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import fields, replace
from typing import Any

from healthgap.config._check import REQUIRED, Checker, suggest
from healthgap.config._model import INDICATOR_KINDS, Indicator, Measure
from healthgap.config._sql import SqlError, sql_columns
from healthgap.contract import CORE, MEASURE_KINDS, MEASURE_TYPES, TRUTH_PREFIX

__all__ = ["parse_measures", "parse_indicators", "MEASURE_KEYS", "INDICATOR_KEYS", "NAME_PATTERN"]

MEASURE_KEYS = tuple(f.name for f in fields(Measure))
INDICATOR_KEYS = tuple(f.name for f in fields(Indicator))
#: Canonical names are SQL identifiers, so derived columns and indicators can use them unquoted.
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TIMINGS = ("baseline", "follow-up")
_NEW_MEASURE = ("label", "kind", "type")
_NEW_INDICATOR = ("label", "kind", "numerator", "denominator")
_RANGED = ("count", "number", "days")

BAD_NAME = "{at}.name: {name!r} is not a valid name. Fix: use letters, digits and _ only, starting with a letter (e.g. chd_10y)."
CORE_NAME = "{at}.name: {name!r} is a core column, not a measure. Fix: choose another name; map the core column in data.columns."
TRUTH_NAME = f"{{at}}.name: names starting with {TRUTH_PREFIX!r} are the true status of a flag measure. Fix: choose another name."
NEW_NEEDS = (
    "{at}: {name!r} is a new {what} (not in the profile), so it needs {missing}. Fix: add them{example}."
)
BAD_CHOICE = "{at}.{key}: {value!r} is not a {key}{hint} Valid: {valid}."
CODES_ONLY = "{at}.codes: only category measures have codes; {name} is a {type} measure. Fix: remove codes, or set type: category."
CODES_NEEDED = (
    "{at}.codes: a category measure needs its codes. Fix: list them, e.g. codes: [never, ex, current]."
)
RANGE_ONLY = "{at}.{key}: only count, number and days measures have a range; {name} is a {type} measure. Fix: remove it."
STANDARD_ONLY = (
    "{at}.standard_days: only days measures have a waiting-time standard; {name} is a {type} measure. "
    "Fix: remove it, or set type: days."
)
STANDARD_POSITIVE = (
    "{at}.standard_days: {value!r} is not a positive number of days. Fix: e.g. standard_days: 126."
)
BAD_AGES = (
    "{at}.ages: {value!r} is not the ages the measure applies to. Fix: give [low, high], two whole ages in "
    "years from 0 to {oldest}, youngest first (inclusive), e.g. ages: [0, 74] for under 75."
)
#: The oldest age an ``ages`` range may name.
OLDEST = 120
RANGE_ORDER = "{at}: minimum {lo:g} is above maximum {hi:g}. Fix: swap them."
TWICE = "{at}.name: {name!r} is declared twice in this list. Fix: declare it once."
SQL_PROBLEM = "{at}.{key}: {detail}"
NOT_USED = "{at}.optional[{i}]: {name!r} is not used by the numerator or denominator. Fix: remove it, or use it in the SQL."


def _text(c: Checker, node: dict, key: str, at: str, default: str | None) -> str | None:
    return c.typed(node, key, at, str, default, nullable=True)


def _choice(c: Checker, node: dict, key: str, at: str, valid: tuple[str, ...], default: Any) -> Any:
    value = c.typed(node, key, at, str, default)
    if value not in valid:
        c.add(
            BAD_CHOICE.format(
                at=at, key=key, value=value, hint=suggest(str(value), valid), valid=", ".join(valid)
            )
        )
        return default
    return value


def _name(c: Checker, node: dict, at: str) -> str | None:
    name = node.get("name")
    if not isinstance(name, str) or not name:
        c.add(REQUIRED.format(where=f"{at}.name", example=", e.g. name: chd_10y"))
        return None
    if not NAME_PATTERN.match(name):
        c.add(BAD_NAME.format(at=at, name=name))
        return None
    return name


def _measure_fields(c: Checker, node: dict, at: str) -> dict[str, Any]:
    """The fields ``node`` gives (typed and checked one by one)."""
    given: dict[str, Any] = {}
    for key in ("label", "description", "column"):
        if key in node:
            given[key] = c.typed(node, key, at, str, "")
    for key in ("unit", "period"):
        if key in node:
            given[key] = _text(c, node, key, at, None)
    for key, valid in (("kind", MEASURE_KINDS), ("type", MEASURE_TYPES), ("timing", _TIMINGS)):
        if key in node:
            given[key] = _choice(c, node, key, at, valid, None)
    for key in ("minimum", "maximum"):
        if key in node:
            given[key] = c.typed(node, key, at, float, None, nullable=True)
    if "standard_days" in node:
        days = c.typed(node, "standard_days", at, float, None, nullable=True)
        if days is not None and not days > 0:
            c.add(STANDARD_POSITIVE.format(at=at, value=days))
            days = None
        given["standard_days"] = days
    if "ages" in node:
        given["ages"] = _ages(c, node.get("ages"), at)
    if "codes" in node:
        raw = c.typed(node, "codes", at, list, [])
        levels = [c.level(x, f"{at}.codes[{i}]") for i, x in enumerate(raw)]
        given["codes"] = tuple(v for v in levels if v is not None)
    nullable = ("unit", "period", "minimum", "maximum", "standard_days", "ages")
    return {k: v for k, v in given.items() if v is not None or k in nullable}


def _ages(c: Checker, value: Any, at: str) -> tuple[int, int] | None:
    """``value`` as ``(low, high)`` whole ages (None stays None: everyone), or None after an error."""
    if value is None:
        return None
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= OLDEST for v in value)
        and value[0] <= value[1]
    )
    if not ok:
        c.add(BAD_AGES.format(at=at, value=value, oldest=OLDEST))
        return None
    return int(value[0]), int(value[1])


def _check_measure(c: Checker, m: Measure, at: str) -> None:
    if m.type == "category" and not m.codes:
        c.add(CODES_NEEDED.format(at=at))
    if m.codes and m.type != "category":
        c.add(CODES_ONLY.format(at=at, name=m.name, type=m.type))
    for key in ("minimum", "maximum"):
        if getattr(m, key) is not None and m.type not in _RANGED:
            c.add(RANGE_ONLY.format(at=at, key=key, name=m.name, type=m.type))
    if m.standard_days is not None and m.type != "days":
        c.add(STANDARD_ONLY.format(at=at, name=m.name, type=m.type))
    if m.minimum is not None and m.maximum is not None and m.minimum > m.maximum:
        c.add(RANGE_ORDER.format(at=at, lo=m.minimum, hi=m.maximum))


def parse_measures(
    c: Checker, raw: Any, *, where: str = "measures", base: tuple[Measure, ...] = ()
) -> tuple[tuple[Measure, ...], dict[str, str]]:
    """Measures of ``base`` (a profile's) with the list ``raw`` added or overriding by name.

    Returns
    -------
    tuple
        The measures (``base`` order, then new ones in list order), and name -> key path
        of every measure the list names.
    """
    out = {m.name: m for m in base}
    named: dict[str, str] = {}
    items = c.typed({where: raw}, where, "", list, []) if raw is not None else []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            c.wrong_type(at, "a mapping with name: (and label:, kind:, type: for a new measure)", item)
            continue
        node = c.keys(item, at, MEASURE_KEYS)
        name = _name(c, node, at)
        if name is None:
            continue
        if name in CORE:
            c.add(CORE_NAME.format(at=at, name=name))
            continue
        if name.startswith(TRUTH_PREFIX):
            c.add(TRUTH_NAME.format(at=at))
            continue
        if name in named:
            c.add(TWICE.format(at=at, name=name))
            continue
        given = _measure_fields(c, node, at)
        if name in out:
            measure = replace(out[name], **given)
        else:
            missing = [k for k in _NEW_MEASURE if k not in node]
            if missing:
                example = f", e.g. {{name: {name}, label: ..., kind: outcome, type: flag}}"
                c.add(
                    NEW_NEEDS.format(
                        at=at, name=name, what="measure", missing=", ".join(missing), example=example
                    )
                )
                continue
            if not all(given.get(k) for k in _NEW_MEASURE):
                continue  # given but invalid: already reported
            measure = Measure(name=name, **given)
        _check_measure(c, measure, at)
        out[name] = measure
        named[name] = at
    return tuple(out.values()), named


def _sql(c: Checker, node: dict, key: str, at: str) -> tuple[str, tuple[str, ...]] | None:
    text = c.typed(node, key, at, str, None)
    if text is None:
        return None
    try:
        return text, sql_columns(text)
    except SqlError as exc:
        c.add(SQL_PROBLEM.format(at=at, key=key, detail=exc))
        return None


def _indicator_fields(c: Checker, node: dict, at: str) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for key in ("label", "description"):
        if key in node:
            given[key] = c.typed(node, key, at, str, "")
    if "kind" in node:
        given["kind"] = _choice(c, node, "kind", at, INDICATOR_KINDS, "proportion")
    if "section" in node:
        given["section"] = _choice(c, node, "section", at, MEASURE_KINDS, "access")
    if "multiplier" in node:
        given["multiplier"] = c.typed(node, "multiplier", at, float, 100.0)
        c.positive(given["multiplier"], f"{at}.multiplier")
    if "higher_is_better" in node:
        given["higher_is_better"] = c.typed(node, "higher_is_better", at, bool, True)
    if "target" in node:
        given["target"] = c.typed(node, "target", at, float, None, nullable=True)
    for key in ("numerator", "denominator"):
        if key in node:
            compiled = _sql(c, node, key, at)
            if compiled is not None:
                given[key] = compiled[0]
    if "optional" in node:
        raw = c.typed(node, "optional", at, list, [])
        given["optional"] = tuple(str(v) for v in raw)
    return given


def parse_indicators(
    c: Checker, raw: Any, *, where: str = "indicators", base: tuple[Indicator, ...] = ()
) -> tuple[Indicator, ...]:
    """Indicators of ``base`` (a profile's) with the list ``raw`` added or overriding by name.

    Every indicator's SQL is compiled here: a syntax error is reported with its key path.
    """
    out = {i.name: i for i in base}
    seen: set[str] = set()
    items = c.typed({where: raw}, where, "", list, []) if raw is not None else []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            c.wrong_type(at, "a mapping with name:, label:, kind:, numerator: and denominator:", item)
            continue
        node = c.keys(item, at, INDICATOR_KEYS)
        name = _name(c, node, at)
        if name is None:
            continue
        if name in seen:
            c.add(TWICE.format(at=at, name=name))
            continue
        seen.add(name)
        given = _indicator_fields(c, node, at)
        if name in out:
            indicator = replace(out[name], **given)
        else:
            missing = [k for k in _NEW_INDICATOR if k not in node]
            if missing:
                example = (
                    ", e.g. {name: x, label: ..., kind: proportion, numerator: statin, denominator: chd}"
                )
                c.add(
                    NEW_NEEDS.format(
                        at=at, name=name, what="indicator", missing=", ".join(missing), example=example
                    )
                )
                continue
            if not all(k in given for k in _NEW_INDICATOR):
                continue  # a field was given but invalid: already reported
            indicator = Indicator(name=name, **given)
        used: set[str] = set()
        for key in ("numerator", "denominator"):
            with contextlib.suppress(SqlError):  # reported where it was given
                used.update(sql_columns(getattr(indicator, key)))
        for j, opt in enumerate(indicator.optional):
            if opt not in used:
                c.add(NOT_USED.format(at=at, i=j, name=opt))
        out[name] = indicator
    return tuple(out.values())
