"""Maps: a choropleth from GeoJSON boundaries, and a hex-tile map when there are none.

- :func:`choropleth` -- areas coloured by value (five classes), suppressed areas grey,
  dashed and labelled "Suppressed [c]" in the legend and tooltip.
- :func:`hex_layout` -- deterministic q/r hex coordinates for areas, one compact
  blob per locality, for datasets without boundaries.
- :func:`hex_geojson` -- GeoJSON hexagons from q/r axial coordinates.
- :func:`hex_map` -- :func:`choropleth` of :func:`hex_geojson`.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence
from typing import Any, Literal

import altair as alt
import numpy as np
import polars as pl

from healthgap import palette
from healthgap.charts._common import WIDTH, ChartError, prepare, scalar, title_of

__all__ = ["choropleth", "hex_layout", "hex_geojson", "hex_map", "SUPPRESSED_LABEL", "NO_DATA_LABEL"]

SUPPRESSED_LABEL = "Suppressed [c]"
NO_DATA_LABEL = "No data"
ERR_GEOJSON = (
    "choropleth(): `geojson` must be a GeoJSON FeatureCollection dict with a 'features' list; got {kind}."
)
ERR_FEATURE_KEY = (
    "choropleth(): {n} of {total} GeoJSON features have no property {key!r} (properties seen: {seen}). "
    "Set the boundary key (config data.boundary_key / feature_key=...) to the property holding the area code."
)
ERR_UNMATCHED = (
    "choropleth(): {n} area(s) in column {key!r} have no boundary in the GeoJSON, e.g. {examples}. "
    "Check that the boundary file matches the data's areas (same codes and year)."
)
ERR_COLUMNS = "{builder}(): column(s) {missing} are not in the data (columns: {present})."
ERR_DUPLICATE_AREA = (
    "hex_layout(): area(s) {examples} in {key!r} belong to more than one {group!r}; each area needs one."
)

# Axial hex directions and ring corners (multiples of the ring radius), Patel (2013).
_CORNER_Q = {0: -1, 1: 0, 2: 1, 3: 1, 4: 0, 5: -1}
_CORNER_R = {0: 1, 1: 1, 2: 0, 3: -1, 4: -1, 5: 0}
_STEP_Q = {0: 1, 1: 1, 2: 0, 3: -1, 4: -1, 5: 0}
_STEP_R = {0: 0, 1: -1, 2: -1, 3: 0, 4: 1, 5: 1}


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in itertools.pairwise(ring))


def _rewind(geometry: dict[str, Any]) -> dict[str, Any]:
    """Exterior rings clockwise, holes anticlockwise: the winding d3-geo (Vega) expects."""

    def fix(polygon: list[Any]) -> list[Any]:
        out = []
        for i, ring in enumerate(polygon):
            clockwise = _ring_area(ring) < 0
            out.append(ring if clockwise == (i == 0) else list(reversed(ring)))
        return out

    kind = geometry.get("type")
    if kind == "Polygon":
        return {**geometry, "coordinates": fix(geometry["coordinates"])}
    if kind == "MultiPolygon":
        return {**geometry, "coordinates": [fix(p) for p in geometry["coordinates"]]}
    return geometry


def _simplify(geometry: dict[str, Any], decimals: int) -> dict[str, Any]:
    """Round coordinates and drop points that then repeat: shrinks dense boundaries (4 dp ~ 10 m)."""

    def ring_of(ring: list[Any]) -> list[Any]:
        pts = np.round(np.asarray(ring, dtype=float)[:, :2], decimals)
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
        out = pts[keep]
        if len(out) < 4:  # too small to survive rounding: keep it as it was
            return ring
        if np.any(out[0] != out[-1]):
            out = np.vstack([out, out[:1]])
        return out.tolist()

    kind = geometry.get("type")
    if kind == "Polygon":
        return {**geometry, "coordinates": [ring_of(r) for r in geometry["coordinates"]]}
    if kind == "MultiPolygon":
        return {**geometry, "coordinates": [[ring_of(r) for r in p] for p in geometry["coordinates"]]}
    return geometry


def _first_point(geometry: dict[str, Any]) -> tuple[float, float] | None:
    coords: Any = geometry.get("coordinates")
    while isinstance(coords, list) and coords and isinstance(coords[0], list):
        coords = coords[0]
    return (float(coords[0]), float(coords[1])) if isinstance(coords, list) and len(coords) >= 2 else None


def choropleth(
    df: pl.DataFrame,
    *,
    geojson: dict[str, Any],
    title: str,
    key: str = "lsoa",
    feature_key: str | None = None,
    value: str = "value",
    label: str | None = None,
    classes: Literal["quantize", "ordinal"] = "quantize",
    legend_title: str | None = None,
    projection: Literal["auto", "mercator", "identity"] = "auto",
    value_format: str = ",.1f",
    precision: int | None = None,
) -> alt.LayerChart:
    """Areas coloured by value; suppressed areas grey with a dashed outline, labelled "Suppressed [c]".

    Parameters
    ----------
    df : one row per area: ``key`` and ``value`` (and ``suppressed`` from protect()).
    geojson : a FeatureCollection whose features carry the area code in
        ``properties[feature_key]`` (default: ``key``).
    label : optional column with area names for the tooltip.
    classes : ``"quantize"`` (five equal-width classes) or ``"ordinal"`` (values are
        already classes, e.g. IMD quintiles 1-5).
    projection : ``"mercator"`` for longitude/latitude, ``"identity"`` for planar
        coordinates (y up, e.g. British National Grid); ``"auto"`` picks by range.
    precision : decimal places kept in coordinates (points that then repeat are
        dropped). Default 4 (about 10 m) for longitude/latitude, none for planar.

    Returns
    -------
    altair.LayerChart
        The GeoJSON (winding fixed for d3-geo) and the area values are separate
        inline datasets joined by a lookup transform.

    References
    ----------
    .. [1] Butler H et al. The GeoJSON format, RFC 7946 (2016).
    .. [2] Brewer CA, Pickle L. Evaluation of methods for classifying epidemiological
       data on choropleth maps in series. Ann Assoc Am Geogr 2002;92:662-81.
    """
    data = prepare(df, {"key": key, "value": value, "label": label}, "choropleth", title)
    if not isinstance(geojson, dict) or not isinstance(geojson.get("features"), list):
        raise ChartError(ERR_GEOJSON.format(kind=type(geojson).__name__))
    fkey = feature_key or key
    features = geojson["features"]
    props = [f.get("properties") or {} for f in features]
    lacking = sum(1 for p in props if fkey not in p)
    if lacking:
        seen = sorted({k for p in props[:50] for k in p})
        raise ChartError(ERR_FEATURE_KEY.format(n=lacking, total=len(features), key=fkey, seen=seen))
    codes = pl.Series("code", [str(p[fkey]) for p in props])
    unmatched = data.filter(~pl.col(key).cast(pl.String).is_in(codes.implode()))[key]
    if unmatched.len():
        raise ChartError(
            ERR_UNMATCHED.format(n=unmatched.len(), key=key, examples=unmatched.head(3).to_list())
        )
    points = [p for p in (_first_point(f.get("geometry") or {}) for f in features[:200]) if p]
    if projection == "auto":
        lonlat = all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in points)
        projection = "mercator" if lonlat else "identity"
    spherical = projection == "mercator"
    decimals = precision if precision is not None else (4 if spherical else None)

    def geometry_of(feature: dict[str, Any]) -> dict[str, Any]:
        geometry = feature.get("geometry") or {}
        if decimals is not None:
            geometry = _simplify(geometry, decimals)
        return _rewind(copy.deepcopy(geometry)) if spherical else geometry

    cleaned = [
        {"type": "Feature", "properties": {fkey: str(p[fkey])}, "geometry": geometry_of(f)}
        for f, p in zip(features, props)
    ]
    data = data.with_columns(pl.col(key).cast(pl.String))
    fields = [c for c in (value, "suppressed", label) if c]
    lookup = alt.LookupData(data=data, key=key, fields=fields)
    proj = alt.Projection(type="mercator") if spherical else alt.Projection(type="identity", reflectY=True)
    status = f"isValid(datum[{value!r}]) ? 'value' : (datum.suppressed === true ? {SUPPRESSED_LABEL!r} : {NO_DATA_LABEL!r})"
    base = (
        alt.Chart(alt.Data(values=cleaned))
        .transform_lookup(lookup=f"properties.{fkey}", from_=lookup)
        .transform_calculate(status=status, area=f"datum.properties[{fkey!r}]")
        .properties(projection=proj, width=WIDTH, height=440)
    )
    area_tip = [alt.Tooltip("area:N", title=title_of(key, None))] + (
        [alt.Tooltip(f"{label}:N")] if label else []
    )
    grey = (
        base.transform_filter("datum.status !== 'value'")
        .mark_geoshape(stroke=palette.OUTLINE, strokeWidth=0.6, strokeDash=[2, 2])
        .encode(
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=[SUPPRESSED_LABEL, NO_DATA_LABEL], range=[palette.SUPPRESSED, palette.BACKGROUND]
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=[*area_tip, alt.Tooltip("status:N", title="Value")],
        )
    )
    if classes == "ordinal":
        domain = sorted(data[value].drop_nulls().unique().to_list())
        scale = alt.Scale(domain=domain, range=list(palette.SEQUENTIAL)[: max(len(domain), 1)])
        colour = alt.Color(
            f"{value}:O",
            scale=scale,
            legend=alt.Legend(
                title=legend_title or title_of(value, None), orient=_KEY_ORIENT, direction=_KEY_DIRECTION
            ),
        )
    else:
        lo, hi = data.select(pl.col(value).min().alias("lo"), pl.col(value).max().alias("hi")).row(0)
        lo = 0.0 if lo is None else float(lo)
        hi = lo + 1.0 if hi is None or hi == lo else float(hi)
        scale = alt.Scale(type="quantize", domain=[lo, hi], range=list(palette.SEQUENTIAL))
        colour = alt.Color(
            f"{value}:Q",
            scale=scale,
            legend=alt.Legend(
                title=legend_title or title_of(value, None),
                format=value_format,
                orient=_KEY_ORIENT,
                direction=_KEY_DIRECTION,
            ),
        )
    coloured = (
        base.transform_filter("datum.status === 'value'")
        .mark_geoshape(stroke=palette.OUTLINE, strokeWidth=0.6)
        .encode(color=colour, tooltip=[*area_tip, alt.Tooltip(f"{value}:Q", format=value_format)])
    )
    return alt.layer(grey, coloured).resolve_scale(color="independent").properties(title=title)


#: The colour key sits above the map, in a row: beside it, it made the chart wider than the page
#: column (and on a phone it was off screen).
#: Where the colour key of a map goes: a horizontal key above it.
_KEY_ORIENT: Literal["top"] = "top"
_KEY_DIRECTION: Literal["horizontal"] = "horizontal"


def hex_layout(areas_df: pl.DataFrame, *, key: str = "lsoa", group: str = "locality") -> pl.DataFrame:
    """Assign axial hex coordinates (q, r) to areas, one compact blob per ``group``.

    Groups are sorted by name and placed on a grid of blobs; within a group, areas
    sorted by code fill hexagonal rings outward from the blob's centre (a spiral).
    The result depends only on the set of (area, group) pairs, not on row order.

    Returns
    -------
    polars.DataFrame
        Columns ``key``, ``group``, ``q``, ``r`` (Int64), one row per area; no two areas share a cell.

    References
    ----------
    .. [1] Patel A. Hexagonal grids (axial coordinates, rings and spirals).
       Red Blob Games, 2013, https://www.redblobgames.com/grids/hexagons/
    """
    missing = [c for c in (key, group) if c not in areas_df.columns]
    if missing:
        raise ChartError(
            ERR_COLUMNS.format(builder="hex_layout", missing=missing, present=", ".join(areas_df.columns))
        )
    areas = (
        areas_df.select(pl.col(key).cast(pl.String), pl.col(group).cast(pl.String).fill_null("Unknown"))
        .unique()
        .sort(group, key)
    )
    dup = areas.filter(pl.col(key).is_duplicated())[key].unique().sort().head(3).to_list()
    if dup:
        raise ChartError(ERR_DUPLICATE_AREA.format(examples=dup, key=key, group=group))
    i = pl.int_range(pl.len()).over(group).cast(pl.Int64)
    areas = areas.with_columns(i=i, blob=pl.col(group).rank("dense").cast(pl.Int64) - 1)
    k = (
        pl.when(pl.col("i") == 0)
        .then(0)
        .otherwise((((12 * pl.col("i") - 3).cast(pl.Float64).sqrt() - 3) / 6).floor().cast(pl.Int64) + 1)
    )
    areas = areas.with_columns(k=k).with_columns(j=pl.col("i") - (3 * pl.col("k") * (pl.col("k") - 1) + 1))
    side = pl.when(pl.col("k") > 0).then(pl.col("j") // pl.col("k")).otherwise(0)
    step = pl.when(pl.col("k") > 0).then(pl.col("j") % pl.col("k")).otherwise(0)
    areas = areas.with_columns(side=side, step=step)
    local_q = pl.col("k") * pl.col("side").replace_strict(_CORNER_Q) + pl.col("step") * pl.col(
        "side"
    ).replace_strict(_STEP_Q)
    local_r = pl.col("k") * pl.col("side").replace_strict(_CORNER_R) + pl.col("step") * pl.col(
        "side"
    ).replace_strict(_STEP_R)
    n_blobs = int(scalar(areas["blob"].max())) + 1 if areas.height else 0
    ncol = max(1, math.ceil(math.sqrt(n_blobs)))
    spacing = 2 * pl.col("k").max() + 2
    col, row = pl.col("blob") % ncol, pl.col("blob") // ncol
    return areas.with_columns(
        q=(col * spacing - row * (spacing // 2) + local_q).cast(pl.Int64),
        r=(row * spacing + local_r).cast(pl.Int64),
    ).select(key, group, "q", "r")


def hex_geojson(
    df: pl.DataFrame, *, key: str = "lsoa", q: str = "q", r: str = "r", size: float = 0.95
) -> dict[str, Any]:
    """GeoJSON FeatureCollection of pointy-top hexagons at axial (q, r), y up, unit spacing.

    References
    ----------
    .. [1] Patel A. Hexagonal grids (axial to pixel). Red Blob Games, 2013.
    """
    missing = [c for c in (key, q, r) if c not in df.columns]
    if missing:
        raise ChartError(
            ERR_COLUMNS.format(builder="hex_geojson", missing=missing, present=", ".join(df.columns))
        )
    cx = math.sqrt(3) * (pl.col(q) + pl.col(r) / 2)
    cy = -1.5 * pl.col(r)
    angles = [math.radians(30 + 60 * n) for n in (*range(6), 0)]
    flat = [part for a in angles for part in (cx + size * math.cos(a), cy + size * math.sin(a))]
    geometry = pl.struct(
        pl.lit("Polygon").alias("type"),
        pl.concat_list(flat).list.to_array(14).reshape((-1, 1, 7, 2)).alias("coordinates"),
    )
    features = df.select(
        pl.struct(
            pl.lit("Feature").alias("type"),
            pl.struct(pl.col(key).cast(pl.String)).alias("properties"),
            geometry.alias("geometry"),
        ).alias("f")
    )["f"].to_list()
    return {"type": "FeatureCollection", "features": features}


def hex_map(
    df: pl.DataFrame,
    *,
    title: str,
    key: str = "lsoa",
    q: str = "q",
    r: str = "r",
    value: str = "value",
    group: str | None = None,
    **kwargs: Any,
) -> alt.LayerChart:
    """Hex-tile map: one hexagon per area at (q, r) (see :func:`hex_layout`), coloured like :func:`choropleth`.

    ``group`` (e.g. ``"locality"``) labels each blob of hexagons above its top edge.
    Other keyword arguments go to :func:`choropleth`.

    References
    ----------
    .. [1] Patel A. Hexagonal grids. Red Blob Games, 2013.
    """
    needed = {"key": key, "q": q, "r": r, "value": value, "group": group, "label": kwargs.get("label")}
    data = prepare(df, needed, "hex_map", title)
    shapes = hex_geojson(data, key=key, q=q, r=r)
    chart = choropleth(
        data.drop(q, r), geojson=shapes, title=title, key=key, value=value, projection="identity", **kwargs
    )
    if group is None:
        return chart
    centres = (
        data.group_by(group)
        .agg(
            x=(math.sqrt(3) * (pl.col(q) + pl.col(r) / 2)).mean(),
            y=(-1.5 * pl.col(r)).max() + 1.1,
        )
        .sort(group)
    )
    labels = (
        alt.Chart(centres)
        .mark_text(fontWeight=600, baseline="bottom", color=palette.TEXT)
        .encode(longitude="x:Q", latitude="y:Q", text=f"{group}:N")
        .properties(projection=alt.Projection(type="identity", reflectY=True), width=WIDTH, height=440)
    )
    return (
        alt.layer(chart.properties(title=""), labels)
        .resolve_scale(color="independent")
        .properties(title=title)
    )
