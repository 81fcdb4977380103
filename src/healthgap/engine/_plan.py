"""What to aggregate: the tables, their keys and their statistics, the same for every backend.

:func:`plan_of` reads the config and the loaded table's canonical schema and returns a
:class:`Plan`; each backend (:mod:`._polars`, :mod:`._spark`) compiles its :class:`Stat`
list into its own expressions, so the two engines compute the same columns by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl

from healthgap.config import Config
from healthgap.contract import GEOGRAPHY, TRUTH_PREFIX
from healthgap.sql import IndicatorColumns, indicator_columns

__all__ = [
    "Stat",
    "Plan",
    "plan_of",
    "AGE_BAND",
    "PEOPLE",
    "MEASURE",
    "VALUE",
    "VALIDATION_COLUMNS",
    "VALUE_TYPES",
]

#: The key column holding each person's ESP2013 age band ("0-4", ..., "90+"; null when age is).
AGE_BAND = "age_band"
#: The count of people in every table.
PEOPLE = "people"
#: The columns of the ``values`` table naming the measure and its value.
MEASURE = "measure"
VALUE = "value"
#: Measure types whose distribution of values per person is kept (``values`` table).
VALUE_TYPES = ("count", "days")
#: The columns of the ``validation`` table.
VALIDATION_COLUMNS = ("column", "rows", "nulls", "invalid", "below", "above", "minimum", "maximum")

Op = Literal["len", "count", "sum", "sumsq", "eq", "both", "numerator", "denominator", "excluded"]


@dataclass(frozen=True)
class Stat:
    """One aggregated column.

    Attributes
    ----------
    name : the output column (``"chd:sum"``).
    op : ``len`` (rows), ``count`` (values recorded), ``sum`` (true values of a flag, or the
        sum), ``sumsq`` (sum of squares), ``eq`` (rows equal to ``other``), ``both`` (rows
        where ``column`` and ``other`` are both true), ``numerator`` / ``denominator`` /
        ``excluded`` (of the indicator named ``column``).
    column : the canonical column (or the indicator's name).
    other : the code (``eq``) or the second column (``both``).
    dtype : the output type: ``Int64``, or ``Float64`` for sums of numbers.
    """

    name: str
    op: Op
    column: str = ""
    other: str = ""
    dtype: type[pl.DataType] = pl.Int64


@dataclass(frozen=True)
class Plan:
    """The aggregates of one config on one table (see :mod:`healthgap.engine`).

    Attributes
    ----------
    schema : the loaded table's canonical columns and types.
    dimensions : equity dimension columns present (config order; ``age_band`` is derived).
    cell_keys : the keys of the ``cells`` table: the dimensions, ``age_band`` and ``sex``.
    stats : the statistics of ``cells`` and of the geography tables.
    indicators : the indicators that can be computed on this table, compiled (polars).
    value_measures : count and days measures (the ``values`` table).
    geography : table name -> its keys, for each geography column present.
    age_keys : the keys of the ``ages`` table.
    """

    schema: dict[str, pl.DataType]
    dimensions: tuple[str, ...]
    cell_keys: tuple[str, ...]
    stats: tuple[Stat, ...]
    indicators: tuple[IndicatorColumns, ...]
    value_measures: tuple[str, ...]
    geography: dict[str, tuple[str, ...]]
    age_keys: tuple[str, ...]

    def table_keys(self) -> dict[str, tuple[str, ...]]:
        """Every table's key columns, by table name."""
        return {
            "cells": self.cell_keys,
            "values": (*self.cell_keys, MEASURE, VALUE),
            "ages": self.age_keys,
            **self.geography,
            "validation": ("column",),
        }


def _measure_stats(config: Config, present: Mapping[str, pl.DataType]) -> list[Stat]:
    out: list[Stat] = []
    for m in config.measures:
        if m.name not in present:
            continue
        name = m.name
        out.append(Stat(f"{name}:n", "count", name))
        if m.type == "flag":
            out.append(Stat(f"{name}:sum", "sum", name))
            truth = f"{TRUTH_PREFIX}{name}"
            if truth in present:
                out += [
                    Stat(f"{truth}:n", "count", truth),
                    Stat(f"{truth}:sum", "sum", truth),
                    Stat(f"{truth}:recorded", "both", name, truth),
                ]
        elif m.type in ("count", "days"):
            out.append(Stat(f"{name}:sum", "sum", name))
        elif m.type == "number":
            out += [
                Stat(f"{name}:sum", "sum", name, dtype=pl.Float64),
                Stat(f"{name}:sumsq", "sumsq", name, dtype=pl.Float64),
            ]
        else:  # category
            out += [Stat(f"{name}:={code}", "eq", name, code) for code in m.codes]
    return out


def plan_of(config: Config, schema: Mapping[str, pl.DataType]) -> Plan:
    """The plan for ``config`` on a loaded table with canonical ``schema``.

    Parameters
    ----------
    config : the loaded config.
    schema : the canonical columns of the loaded table (``load(config).collect_schema()``).
    """
    present = dict(schema)
    dims = tuple(d.name for d in config.dimensions if d.name != AGE_BAND and d.name in present)
    sex = ("sex",) if "sex" in present and "sex" not in dims else ()
    cell_keys = (*dims, AGE_BAND, *sex)
    indicators = []
    for indicator in config.indicators:
        compiled = indicator_columns(indicator, pl.Schema(present))
        if not isinstance(compiled, str):
            indicators.append(compiled)
    stats = [
        Stat(PEOPLE, "len"),
        *_measure_stats(config, present),
        *[
            Stat(f"{i.indicator.name}:{part}", part, i.indicator.name)
            for i in indicators
            for part in ("numerator", "denominator", "excluded")
        ],
    ]
    values = tuple(m.name for m in config.measures if m.name in present and m.type in VALUE_TYPES)
    geography: dict[str, tuple[str, ...]] = {}
    for unit in GEOGRAPHY:
        if unit in present:
            within = ("locality",) if unit != "locality" and "locality" in present else ()
            geography[unit] = (unit, *within, AGE_BAND, *(("sex",) if "sex" in present else ()))
    return Plan(
        schema=present,
        dimensions=dims,
        cell_keys=cell_keys,
        stats=tuple(stats),
        indicators=tuple(indicators),
        value_measures=values,
        geography=geography,
        age_keys=("age", *(("sex",) if "sex" in present else ())),
    )
