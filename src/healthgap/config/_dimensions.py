"""The ``equity.dimensions`` section: built-in dimensions and dimensions from any column."""

from __future__ import annotations

from typing import Any

from healthgap.config._check import REQUIRED, Checker, suggest
from healthgap.config._model import DEFAULT_DIMENSIONS, Dimension, Measure
from healthgap.contract import CORE
from healthgap.text import lower_first

__all__ = ["parse_equity", "DIMENSION_KEYS"]

DIMENSION_KEYS = (
    "name",
    "label",
    "order",
    "labels",
    "reference",
    "noun",
    "ordered",
    "disadvantaged",
    "column",
)
_ENDS = ("first", "last")

NOT_A_DIMENSION = (
    "{at}.name: {name!r} is not an equity dimension{hint} Valid: {valid}. "
    "Fix: for a dimension from another column, give its label (and column), "
    "e.g. - {{name: education, column: educ, label: Education level}}."
)
NOT_GROUPS = (
    "{at}.name: {name!r} is a {what} and cannot be an equity dimension. "
    "Fix: use a text or category column, or recode it with data.derive."
)
EMPTY = "equity.dimensions: the list is empty. Fix: list at least one dimension, e.g. - imd_quintile."
TWICE = "{at}: {name!r} is listed twice. Fix: remove the duplicate."
LISTED_TWICE = "{at}.order: level(s) {levels} listed more than once. Fix: list each level once."
TOO_FEW = '{at}.order: {n} level(s); comparing groups needs 2 or more. Fix: list every level, e.g. order: ["1", "2"].'
LABEL_LEVEL = "{at}.labels.{level}: {level!r} is not one of the levels{hint} Levels: {levels}."
NOT_A_LEVEL = (
    "{at}.reference: {reference!r} is not among the levels of {name}{hint} Fix: use one of {levels}."
)
NO_REFERENCE = "{at}.reference: required when order is given. Fix: name the comparison level, e.g. {first!r}."
ORDERED_NEEDS_ORDER = '{at}.ordered: an ordered dimension needs its levels in order. Fix: add {at}.order, e.g. order: ["1", "2", "3"].'
DISADVANTAGED_UNORDERED = "{at}.disadvantaged: only an ordered dimension has a disadvantaged end. Fix: set ordered: true, or remove disadvantaged."
BAD_END = "{at}.disadvantaged: {value!r} is not an end{hint} Valid: first, last (which end of order is worse off), or null."
AGE_BAND_COLUMN = "{at}.column: age_band is derived from age and has no column of its own. Fix: remove it (map age instead)."


def _base(c: Checker, node: dict, at: str, name: str, measures: dict[str, Measure]) -> Dimension | None:
    """The defaults a dimension entry starts from, or None (with a problem) if it cannot be one."""
    if name in DEFAULT_DIMENSIONS:
        return DEFAULT_DIMENSIONS[name]
    core = CORE.get(name)
    measure = measures.get(name)
    if (core is not None and core.kind not in ("category", "text")) or name == "person_id":
        c.add(
            NOT_GROUPS.format(at=at, name=name, what="number" if core and core.kind != "id" else "identifier")
        )
        return None
    if measure is not None and measure.type != "category":
        c.add(NOT_GROUPS.format(at=at, name=name, what=f"{measure.type} measure"))
        return None
    if core is not None or measure is not None:
        label = (core or measure).label  # type: ignore[union-attr]
        codes = core.codes if core is not None else measure.codes  # type: ignore[union-attr]
        return Dimension(name, label, codes, {}, "", noun=lower_first(label), column=name)
    if "label" not in node:
        valid = tuple(dict.fromkeys((*DEFAULT_DIMENSIONS, *(k for k, v in CORE.items() if v.kind == "text"))))
        c.add(NOT_A_DIMENSION.format(at=at, name=name, hint=suggest(name, valid), valid=", ".join(valid)))
        return None
    return Dimension(name, str(node["label"]), (), {}, "", column=name)


def _levels(c: Checker, node: dict, at: str, base: Dimension) -> tuple[str, ...]:
    if "order" not in node:
        return base.order
    raw = c.typed(node, "order", at, list, None)
    if raw is None:
        return base.order
    levels = [c.level(v, f"{at}.order[{i}]") for i, v in enumerate(raw)]
    order = tuple(v for v in levels if v is not None)
    if len(order) < 2:
        c.add(TOO_FEW.format(at=at, n=len(order)))
    dupes = sorted({v for v in order if order.count(v) > 1})
    if dupes:
        c.add(LISTED_TWICE.format(at=at, levels=", ".join(dupes)))
    return order


def _labels(c: Checker, node: dict, at: str, base: Dimension, order: tuple[str, ...]) -> dict[str, str]:
    raw = c.typed(node, "labels", at, dict, None)
    if raw is None:
        return dict(base.labels)
    labels: dict[str, str] = {}
    for k, v in raw.items():
        level = c.level(k, f"{at}.labels key {k!r}")
        if level is None:
            continue
        if order and level not in order:
            c.add(LABEL_LEVEL.format(at=at, level=level, hint=suggest(level, order), levels=", ".join(order)))
        elif not isinstance(v, str):
            c.wrong_type(f"{at}.labels.{level}", "text", v)
        else:
            labels[level] = v
    return labels


def _dimension(c: Checker, item: Any, at: str, measures: dict[str, Measure]) -> Dimension | None:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        c.wrong_type(at, "a dimension name or a mapping with name:", item)
        return None
    node = c.keys(item, at, DIMENSION_KEYS)
    name = node.get("name")
    if not isinstance(name, str) or not name.strip():
        c.add(REQUIRED.format(where=f"{at}.name", example=f" ({', '.join(DEFAULT_DIMENSIONS)})"))
        return None
    base = _base(c, node, at, name, measures)
    if base is None:
        return None
    order = _levels(c, node, at, base)
    labels = _labels(c, node, at, base, order)
    reference = base.reference
    if node.get("reference") is not None:
        reference = c.level(node["reference"], f"{at}.reference") or base.reference
    if order and reference and reference not in order:
        c.add(
            NOT_A_LEVEL.format(
                at=at, reference=reference, name=name, hint=suggest(reference, order), levels=", ".join(order)
            )
        )
    if order and not reference:
        c.add(NO_REFERENCE.format(at=at, first=order[0]))
    label = c.typed(node, "label", at, str, base.label)
    ordered = c.typed(node, "ordered", at, bool, base.ordered)
    if ordered and not order:
        c.add(ORDERED_NEEDS_ORDER.format(at=at))
    disadvantaged = base.disadvantaged if ordered else None
    if "disadvantaged" in node:
        value = node["disadvantaged"]
        if value is not None and value not in _ENDS:
            c.add(BAD_END.format(at=at, value=value, hint=suggest(str(value), _ENDS)))
        elif value is not None and not ordered:
            c.add(DISADVANTAGED_UNORDERED.format(at=at))
        else:
            disadvantaged = value
    column = base.column
    if "column" in node:
        if name == "age_band":
            c.add(AGE_BAND_COLUMN.format(at=at))
        else:
            column = c.typed(node, "column", at, str, base.column) or base.column
    noun = c.typed(node, "noun", at, str, "") or (
        base.noun if label == base.label and base.noun else lower_first(label)
    )
    return Dimension(
        name=name,
        label=label,
        order=order,
        labels=labels,
        reference=reference,
        noun=noun,
        ordered=ordered,
        disadvantaged=disadvantaged,
        column=column,
    )


def parse_equity(c: Checker, node: Any, measures: dict[str, Measure]) -> tuple[Dimension, ...]:
    """The equity dimensions of the ``equity`` section (the defaults when it lists none).

    Parameters
    ----------
    c : the checker collecting problems.
    node : the raw ``equity`` section.
    measures : the declared measures by name (a category measure can be a dimension).
    """
    node = c.keys(node, "equity", ("dimensions",))
    raw = c.typed(node, "dimensions", "equity", list, None)
    if raw is None:
        return tuple(DEFAULT_DIMENSIONS.values())
    if not raw:
        c.add(EMPTY)
    dims: list[Dimension] = []
    for i, item in enumerate(raw):
        dim = _dimension(c, item, f"equity.dimensions[{i}]", measures)
        if dim is None:
            continue
        if any(d.name == dim.name for d in dims):
            c.add(TWICE.format(at=f"equity.dimensions[{i}]", name=dim.name))
            continue
        dims.append(dim)
    return tuple(dims)
