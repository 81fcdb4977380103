"""What the dataset supports, decided once for every page.

Several pages ask the same questions of the data -- does it carry each
person's true status (a synthetic population), which area column does the
geography chapter draw and can it draw a real map, which equity dimensions
are present -- and must give the same answer, or one page would promise a
section that another skips. :func:`capabilities` answers them all from the
config and the person table's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from healthgap.config import Config, Dimension, Indicator, Measure
from healthgap.descriptive import dimensions_in, measure_names

__all__ = ["Capabilities", "capabilities", "disadvantaged_ends", "AREA_COLUMNS", "AREA_PHRASES"]

#: Area columns the geography chapter can draw, most detailed first.
AREA_COLUMNS = ("lsoa", "gp_practice", "locality")

#: How "for each <area>" reads for each area column.
AREA_PHRASES = {
    "lsoa": "for each small area (LSOA)",
    "gp_practice": "for each GP practice",
    "locality": "for each locality",
}


@dataclass(frozen=True)
class Capabilities:
    """What the rendered dataset supports.

    Attributes
    ----------
    columns : the canonical columns present.
    conditions : configured conditions present in the data (``config.measures_of("condition")``).
    outcomes : configured outcomes present in the data (``config.measures_of("outcome")``).
    measures : every declared measure present in the data, by name.
    indicators : the config's indicators that can be computed on this dataset
        (:func:`healthgap.sql.indicator_columns`).
    truth : conditions with each person's true status (``true_<condition>``) as well.
    dimensions : configured equity dimensions present, levels resolved from the data.
    area_column : the column the geography chapter draws (``lsoa`` when present, else
        the boundary file's key column when present), or None.
    area_view : ``"map"`` when boundaries keyed by that column exist, ``"tiles"`` when
        the areas are drawn as equal-sized tiles, ``None`` when there is no area column.
    """

    columns: frozenset[str]
    conditions: tuple[str, ...]
    truth: tuple[str, ...]
    dimensions: tuple[Dimension, ...]
    area_column: str | None
    area_view: Literal["map", "tiles"] | None
    outcomes: tuple[str, ...] = ()
    measures: dict[str, Measure] = field(default_factory=dict)
    indicators: tuple[Indicator, ...] = ()

    def indicators_of(self, section: str) -> tuple[Indicator, ...]:
        """The indicators of one section (``"treatment"``) that can be computed on this dataset."""
        return tuple(i for i in self.indicators if i.section == section)

    def label(self, name: str) -> str:
        """The label of a measure ("Coronary heart disease"): the config's, else the contract's, else the name."""
        from healthgap.contract import CONTRACT

        measure = self.measures.get(name)
        if measure is not None:
            return measure.label
        column = CONTRACT.get(name)
        return column.label if column is not None else name

    @property
    def gradients(self) -> tuple[Dimension, ...]:
        """Ordered dimensions with a disadvantaged end and enough levels for the slope and concentration indices."""
        from healthgap.descriptive.prevalence import MIN_GRADIENT_LEVELS

        return tuple(
            d
            for d in self.dimensions
            if d.ordered and d.disadvantaged and len(d.order) >= MIN_GRADIENT_LEVELS
        )

    @property
    def gradient(self) -> Dimension | None:
        """The first of :attr:`gradients` (deprivation in the default book), or None."""
        return next(iter(self.gradients), None)

    @property
    def headline(self) -> Dimension | None:
        """The dimension the headline comparisons are made along, or None.

        The first ordered dimension with a disadvantaged end (most against least
        disadvantaged), else the first other dimension of exactly two levels except
        age bands (the level that is not the reference against the reference).
        """
        ordered = next(
            (d for d in self.dimensions if d.ordered and d.disadvantaged and len(d.order) >= 2), None
        )
        if ordered is not None:
            return ordered
        return next(
            (d for d in self.dimensions if d.name != "age_band" and len(d.order) == 2 and d.reference), None
        )

    def ends(self, dimension: Dimension) -> tuple[str, str]:
        """The two levels a headline compares: (most, least) disadvantaged, or (other, reference)."""
        return disadvantaged_ends(dimension)

    @property
    def has_truth(self) -> bool:
        """Whether any condition comes with each person's true status (synthetic data)."""
        return bool(self.truth)

    @property
    def mapped(self) -> bool:
        """Whether the geography chapter draws a real map (boundaries for its area column)."""
        return self.area_view == "map"

    def has(self, *columns: str) -> bool:
        """Whether every one of ``columns`` is in the dataset."""
        return all(c in self.columns for c in columns)

    def dimension(self, name: str) -> Dimension | None:
        """The present dimension called ``name``, or None."""
        return next((d for d in self.dimensions if d.name == name), None)

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    @property
    def area_phrase(self) -> str | None:
        """ "for each small area (LSOA)" etc., or None without an area column."""
        if self.area_column is None:
            return None
        return AREA_PHRASES.get(self.area_column, f"by {self.area_column}")


def disadvantaged_ends(dimension: Dimension) -> tuple[str, str]:
    """The most and least disadvantaged levels of an ordered dimension (``disadvantaged``), else the
    level of a two-level dimension that is not the reference and the reference."""
    order = dimension.order
    if dimension.ordered and dimension.disadvantaged and len(order) >= 2:
        return (order[0], order[-1]) if dimension.disadvantaged == "first" else (order[-1], order[0])
    other = next((level for level in order if level != dimension.reference), order[0] if order else "")
    return other, dimension.reference


def area_column(config: Config, columns: frozenset[str] | set[str]) -> str | None:
    """The column the geography chapter draws: ``lsoa``, else the boundary key, else None."""
    if "lsoa" in columns:
        return "lsoa"
    key = config.data.boundary_key
    return key if key in columns else None


def capabilities(config: Config, people: pl.LazyFrame | pl.DataFrame) -> Capabilities:
    """What ``people`` (the canonical person table of ``config``) supports.

    Parameters
    ----------
    config : the loaded config.
    people : the canonical person table (:func:`healthgap.data.load`).

    Returns
    -------
    Capabilities
    """
    from healthgap.sql import indicator_columns

    schema = people.lazy().collect_schema()
    columns = frozenset(schema.names())
    conditions = tuple(c for c in measure_names(config, "condition") if c in columns)
    outcomes = tuple(o for o in measure_names(config, "outcome") if o in columns)
    truth = tuple(c for c in conditions if f"true_{c}" in columns)
    area = area_column(config, columns)
    boundaries = config.data.boundaries
    view: Literal["map", "tiles"] | None = None
    if area is not None:
        mapped = bool(boundaries and area == config.data.boundary_key and boundaries.is_file())
        view = "map" if mapped else "tiles"
    return Capabilities(
        columns=columns,
        conditions=conditions,
        truth=truth,
        dimensions=tuple(dimensions_in(config, people)),
        area_column=area,
        area_view=view,
        outcomes=outcomes,
        measures={m.name: m for m in config.measures if m.name in columns},
        indicators=tuple(i for i in config.indicators if not isinstance(indicator_columns(i, schema), str)),
    )
