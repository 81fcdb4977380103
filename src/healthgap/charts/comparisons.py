"""Chart builders for comparing units and models: funnel plot, intersection heatmap,
mitigation scatter and binned averages (SHAP dependence).

Same conventions as :mod:`healthgap.charts.builders`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import altair as alt
import polars as pl

from healthgap import palette
from healthgap.charts._common import (
    WIDTH,
    ChartError,
    axis_title,
    label_angle,
    layered,
    levels,
    missing_keys,
    nominal,
    prepare,
    scalar,
    suppressed_expr,
    title_of,
)
from healthgap.charts._common import (
    legend_title as wrap_legend,
)
from healthgap.tables import MISSING_MARK, SUPPRESSED_MARK

__all__ = ["funnel", "mitigation_scatter", "heatmap", "binned", "padded_domain"]

ERR_LIMITS = "funnel(): `limits` is missing column(s) {missing}; it needs {needed} (one row per denominator)."
ERR_LEVEL = "funnel(): limit must be '95' or '99.8'; got {value!r}."
ERR_SCHEME = "heatmap(): scheme must be 'sequential' or 'diverging'; got {value!r}."
_SUPPRESSED_KEY = f"{SUPPRESSED_MARK} = suppressed: too few people to publish"


def funnel(
    df: pl.DataFrame,
    *,
    limits: pl.DataFrame,
    target: float,
    title: str,
    unit: str = "unit",
    value: str = "value",
    denominator: str = "denominator",
    flag: str | None = None,
    limit: Literal["95", "99.8"] = "99.8",
    value_title: str | None = None,
    denominator_title: str | None = None,
) -> alt.LayerChart:
    """Funnel plot: units as points, coloured below / within / above the control limits.

    Parameters
    ----------
    df : one row per unit (e.g. GP practice) with its ``value`` and ``denominator``.
    limits : control limits on a grid of denominators: columns ``denominator``
        (same name as in ``df``), ``lower_95``, ``upper_95``, ``lower_998``,
        ``upper_998`` (from :mod:`healthgap.stats`).
    target : the centre line (e.g. the overall rate).
    flag : optional column with "below" / "within" / "above"; otherwise computed
        by comparing each unit with the ``limit`` limits, linearly interpolated
        in ``limits`` at the unit's denominator.

    References
    ----------
    .. [1] Spiegelhalter DJ. Funnel plots for comparing institutional performance.
       Stat Med 2005;24:1185-202.
    """
    data = prepare(
        df, {"unit": unit, "value": value, "denominator": denominator, "flag": flag}, "funnel", title
    )
    if limit not in ("95", "99.8"):
        raise ChartError(ERR_LEVEL.format(value=limit))
    needed = [denominator, "lower_95", "upper_95", "lower_998", "upper_998"]
    missing = [c for c in needed if c not in limits.columns]
    if missing:
        raise ChartError(ERR_LIMITS.format(missing=missing, needed=needed))
    grid = limits.select(needed).with_columns(pl.col(needed).cast(pl.Float64)).sort(denominator)
    if flag is None:
        flag = "position"
        suffix = "95" if limit == "95" else "998"
        data = (
            data.with_columns(
                _interpolate(data, grid, denominator, f"lower_{suffix}").alias("__lo"),
                _interpolate(data, grid, denominator, f"upper_{suffix}").alias("__hi"),
            )
            .with_columns(
                pl.when(pl.col(value) > pl.col("__hi"))
                .then(pl.lit("above"))
                .when(pl.col(value) < pl.col("__lo"))
                .then(pl.lit("below"))
                .when(pl.col(value).is_not_null())
                .then(pl.lit("within"))
                .alias(flag)
            )
            .drop("__lo", "__hi")
        )
    # a unit whose value is suppressed is not drawn, and its position is not shown either
    data = data.with_columns(pl.when(pl.col(value).is_not_null()).then(pl.col(flag)).alias(flag))
    x_dom, y_dom = _funnel_domain(data, grid, value=value, denominator=denominator)
    # zoomed on the units: the limits fan out towards tiny denominators, and drawn from 0 they would
    # squash every unit into a line along the bottom; the limit lines are clipped to the plot
    x = alt.X(
        f"{denominator}:Q",
        title=title_of(denominator, denominator_title),
        scale=alt.Scale(domain=x_dom, nice=False, zero=False) if x_dom else alt.Undefined,
    )
    y_scale = alt.Scale(domain=y_dom, nice=False, zero=False) if y_dom else alt.Undefined
    long = grid.unpivot(index=denominator, variable_name="limit", value_name="bound").with_columns(
        level=pl.when(pl.col("limit").str.ends_with("_95")).then(pl.lit("95%")).otherwise(pl.lit("99.8%")),
        side=pl.col("limit").str.split("_").list.first(),
    )
    lines = (
        alt.Chart(long)
        .mark_line(color=palette.REFERENCE, strokeWidth=1.2, clip=True)
        .encode(
            x=x,
            y=alt.Y("bound:Q", title=title_of(value, value_title), scale=y_scale),
            detail="limit:N",
            strokeDash=alt.StrokeDash(
                "level:N",
                scale=alt.Scale(domain=["95%", "99.8%"], range=[[4, 3], [1, 0]]),
                legend=alt.Legend(title="Control limit", orient="top"),
            ),
        )
    )
    centre = (
        alt.Chart(pl.DataFrame({"target": [float(target)]}))
        .mark_rule(color=palette.TEXT, clip=True)
        .encode(y=alt.Y("target:Q", scale=y_scale))
    )
    order = ["below", "within", "above"]
    points = (
        alt.Chart(data)
        .mark_point(filled=True, size=70, stroke=palette.BACKGROUND, strokeWidth=0.5)
        .encode(
            x=x,
            y=alt.Y(f"{value}:Q", scale=y_scale),
            color=alt.Color(
                f"{flag}:N",
                scale=alt.Scale(domain=order, range=[palette.FUNNEL[k] for k in order]),
                legend=alt.Legend(title=f"Position ({limit}% limits)", orient="top"),
            ),
            shape=alt.Shape(
                f"{flag}:N",
                scale=alt.Scale(domain=order, range=["triangle-down", "circle", "triangle-up"]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip(f"{unit}:N"),
                alt.Tooltip(f"{value}:Q", format=",.2f"),
                alt.Tooltip(f"{denominator}:Q", format=","),
                alt.Tooltip(f"{flag}:N", title="Position"),
            ],
        )
    )
    return (
        alt.layer(lines, centre, points)
        .resolve_scale(color="independent")
        .properties(title=title, width=WIDTH - 60, height=320)
    )


def _funnel_domain(
    data: pl.DataFrame, grid: pl.DataFrame, *, value: str, denominator: str
) -> tuple[list[float] | None, list[float] | None]:
    """Axis ranges of a funnel plot: the units' denominators (5% padding either side) and, on the
    value axis, the units and the 99.8% limits at the smallest unit (where they are widest)."""
    shown = data.filter(pl.col(value).is_not_null() & pl.col(denominator).is_not_null())
    if shown.height == 0:
        return None, None
    d_lo, d_hi = scalar(shown[denominator].min()), scalar(shown[denominator].max())
    pad = 0.05 * (d_hi - d_lo) if d_hi > d_lo else 0.1 * max(abs(d_hi), 1.0)
    x_dom = [max(d_lo - pad, 0.0) if d_lo >= 0 else d_lo - pad, d_hi + pad]
    smallest = pl.DataFrame({denominator: [d_lo]})
    bounds = [float(_interpolate(smallest, grid, denominator, c)[0]) for c in ("lower_998", "upper_998")]
    values = [scalar(shown[value].min()), scalar(shown[value].max())]
    finite = [v for v in bounds + values if math.isfinite(v)]
    y_lo, y_hi = min(finite), max(finite)
    y_pad = 0.05 * (y_hi - y_lo) if y_hi > y_lo else 0.1 * max(abs(y_hi), 1.0)
    y_lo, y_hi = y_lo - y_pad, y_hi + y_pad
    if values[0] >= 0:  # rates and proportions: the axis does not go below zero
        y_lo = max(y_lo, 0.0)
    return x_dom, [y_lo, y_hi]


def _interpolate(data: pl.DataFrame, grid: pl.DataFrame, x: str, col: str) -> pl.Series:
    """Linear interpolation of ``grid[col]`` at ``data[x]`` (held flat beyond the grid)."""
    pts = data.select(pl.col(x).cast(pl.Float64).alias("__x")).with_row_index("__i").sort("__x")
    g = grid.select(pl.col(x).alias("__x"), pl.col(col).alias("__y"))
    lo = pts.join_asof(
        g.rename({"__y": "__y0"}).with_columns(__x0=pl.col("__x")), on="__x", strategy="backward"
    )
    both = lo.join_asof(
        g.rename({"__y": "__y1"}).with_columns(__x1=pl.col("__x")), on="__x", strategy="forward"
    )
    frac = ((pl.col("__x") - pl.col("__x0")) / (pl.col("__x1") - pl.col("__x0"))).fill_nan(0.0)
    y = (
        pl.when(pl.col("__x0").is_null())
        .then(pl.col("__y1"))
        .when(pl.col("__x1").is_null())
        .then(pl.col("__y0"))
        .otherwise(pl.col("__y0") + frac * (pl.col("__y1") - pl.col("__y0")))
    )
    return both.with_columns(y.alias("__y")).sort("__i")["__y"]


def mitigation_scatter(
    df: pl.DataFrame,
    *,
    title: str,
    x: str = "performance",
    y: str = "disparity",
    label: str = "method",
    x_title: str | None = None,
    y_title: str | None = None,
    highlight: str | None = None,
) -> alt.LayerChart:
    """Overall performance against the largest disparity, one labelled point per model/mitigation.

    ``highlight`` names a ``label`` level drawn in the accent colour (e.g. the chosen model).

    References
    ----------
    .. [1] Weerts H et al. Fairlearn: assessing and improving fairness of AI systems. JMLR 2023;24(257).
    """
    data = prepare(df, {"x": x, "y": y, "label": label}, "mitigation_scatter", title)
    colour = (
        alt.condition(
            f"datum[{label!r}] === {highlight!r}",
            alt.value(palette.CATEGORICAL[1]),
            alt.value(palette.CATEGORICAL[0]),
        )
        if highlight is not None
        else alt.value(palette.CATEGORICAL[0])
    )
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:Q", title=title_of(x, x_title), scale=_padded_scale(data[x])),
        y=alt.Y(f"{y}:Q", title=title_of(y, y_title), scale=_padded_scale(data[y])),
    )
    points = base.mark_point(filled=True, size=90).encode(
        color=colour,
        tooltip=[
            alt.Tooltip(f"{label}:N"),
            alt.Tooltip(f"{x}:Q", format=".3f"),
            alt.Tooltip(f"{y}:Q", format=".3f"),
        ],
    )
    text = base.mark_text(align="left", dx=7, dy=-7).encode(text=f"{label}:N")
    return layered(points, text).properties(title=title, width=WIDTH - 60, height=320)


def padded_domain(values: pl.Series, *, pad: float = 0.1) -> list[float] | None:
    """An axis range around ``values``: ``pad`` of their span either side (of the value, or 1,
    when they are all equal), never below zero when no value is negative.

    Quantities that cannot be negative (percentages, gaps measured as differences
    between the highest and lowest group, accuracies) keep an axis that starts at
    or above 0; Vega's own padding of a single value would otherwise run it to -10.

    References
    ----------
    .. [1] Few S. Show me the numbers, 2nd ed. (2012), ch. 10: scales of quantitative axes.
    """
    shown = values.cast(pl.Float64).drop_nulls().drop_nans()
    shown = shown.filter(shown.is_finite())
    if shown.len() == 0:
        return None
    lo, hi = scalar(shown.min()), scalar(shown.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    out = [lo - pad * span, hi + pad * span]
    if lo >= 0:
        out[0] = max(out[0], 0.0)
    return out


def _padded_scale(values: pl.Series) -> Any:
    domain = padded_domain(values)
    return alt.Scale(zero=False) if domain is None else alt.Scale(domain=domain, zero=False, nice=False)


def heatmap(
    df: pl.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    value: str = "value",
    x_order: Sequence[Any] | None = None,
    y_order: Sequence[Any] | None = None,
    legend_title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    text_format: str = ",.1f",
    scheme: Literal["sequential", "diverging"] = "sequential",
) -> alt.LayerChart:
    """Heatmap for intersections (e.g. deprivation x ethnicity), values printed in the cells.

    ``scheme="sequential"`` (default): five equal-width classes of
    :data:`healthgap.palette.SEQUENTIAL` from the smallest to the largest value;
    text is dark on the three pale classes and white on the two dark ones (>= 4.5:1).
    ``scheme="diverging"``, for signed values such as SHAP contributions: seven
    equal-width classes of :data:`healthgap.palette.DIVERGING` on a range
    symmetric about zero (``-m`` to ``m``, ``m`` the largest absolute value), so
    zero is always the pale centre, negative values blue and positive red; text
    is white on the two end classes only. Cells without a value are grey and
    marked as in the tables: "[c]" when suppressed, "[x]" when missing for
    another reason (the key under the title gives the reason).

    References
    ----------
    .. [1] Bauer GR. Incorporating intersectionality theory into population health
       research methodology. Soc Sci Med 2014;110:10-17.
    """
    data = prepare(df, {"x": x, "y": y, "value": value}, "heatmap", title)
    lo, hi = data.select(pl.col(value).min().alias("lo"), pl.col(value).max().alias("hi")).row(0)
    if scheme not in ("sequential", "diverging"):
        raise ChartError(ERR_SCHEME.format(value=scheme))
    lo = 0.0 if lo is None else float(lo)
    hi = lo + 1.0 if hi is None or hi == lo else float(hi)
    if scheme == "diverging":
        m = max(abs(lo), abs(hi)) or 1.0
        lo, hi, colours = -m, m, palette.DIVERGING
        edge = 2 * m * palette.DIVERGING_DARK_ENDS / len(colours)  # white text within this of either end
        dark = f"(datum[{value!r}] < {lo + edge!r} || datum[{value!r}] >= {hi - edge!r})"
    else:
        colours = palette.SEQUENTIAL
        dark = f"datum[{value!r}] >= {lo + palette.SEQUENTIAL_DARK_FROM / len(colours) * (hi - lo)!r}"
    xs, ys = levels(data, x, x_order), levels(data, y, y_order)
    base = alt.Chart(data).encode(
        x=alt.X(
            f"{x}:{nominal(data, x)}",
            sort=xs,
            title=axis_title(title_of(x, x_title)),
            axis=alt.Axis(labelAngle=label_angle(xs, 70)),
        ),
        y=alt.Y(f"{y}:{nominal(data, y)}", sort=ys, title=axis_title(title_of(y, y_title))),
    )
    fill = alt.Color(
        f"{value}:Q",
        scale=alt.Scale(type="quantize", domain=[lo, hi], range=list(colours), nice=False),
        legend=alt.Legend(title=wrap_legend(legend_title or title_of(value, None)), format=text_format),
    )
    tooltip = [alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{y}:N"), alt.Tooltip(f"{value}:Q", format=text_format)]
    rects = (
        base.transform_filter(f"isValid(datum[{value!r}])")
        .mark_rect(stroke=palette.BACKGROUND, strokeWidth=1)
        .encode(color=fill, tooltip=tooltip)
    )
    hidden = (
        base.transform_filter(f"!isValid(datum[{value!r}])")
        .mark_rect(color=palette.SUPPRESSED, stroke=palette.BACKGROUND, strokeWidth=1)
        .encode(tooltip=[alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{y}:N")])
    )
    # the cell text gets a name no data column has: calling it "label" replaced a y column named
    # "label" with the numbers, and the text landed in extra rows below the grid
    labels = (
        base.transform_calculate(
            __hg_cell_text=(
                f"isValid(datum[{value!r}]) ? format(datum[{value!r}], {text_format!r}) : "
                f"(datum.suppressed === true ? {SUPPRESSED_MARK!r} : {MISSING_MARK!r})"
            )
        )
        .mark_text(fontSize=12)
        .encode(
            text="__hg_cell_text:N",
            color=alt.condition(
                f"isValid(datum[{value!r}]) && {dark}", alt.value(palette.BACKGROUND), alt.value(palette.TEXT)
            ),
        )
    )
    keys = [_SUPPRESSED_KEY] if data.filter(pl.col(value).is_null() & suppressed_expr(data)).height else []
    keys += missing_keys(df.collect() if isinstance(df, pl.LazyFrame) else df, value)
    heading = alt.Title(title, subtitle=keys) if keys else title
    return layered(hidden, rects, labels).properties(title=heading, width=alt.Step(70), height=alt.Step(32))


def binned(
    df: pl.DataFrame,
    *,
    x: str,
    title: str,
    value: str = "value",
    lower: str | None = None,
    upper: str | None = None,
    colour: str | None = None,
    mark: Literal["line", "bar"] = "line",
    order: Sequence[Any] | None = None,
    x_title: str | None = None,
    value_title: str | None = None,
    zero_line: bool = True,
    x_format: str | None = None,
    value_format: str | None = None,
) -> alt.LayerChart:
    """Binned averages (e.g. mean SHAP value by feature bin): a line or bars, optional CI band.

    ``x`` may be numeric (bin midpoints, quantitative axis) or bin labels (ordinal,
    in ``order``). ``colour`` draws one line per level (e.g. per feature). ``x_format`` and
    ``value_format`` are d3 formats of a numeric ``x`` and of the values (axes and tooltips;
    e.g. ``"~%"`` for proportions shown as percentages; default: Vega-Lite's axes, ``",.3f"``
    tooltips).

    References
    ----------
    .. [1] Lundberg SM, Lee S-I. A unified approach to interpreting model predictions. NeurIPS 2017.
    """
    data = prepare(
        df, {"x": x, "value": value, "lower": lower, "upper": upper, "colour": colour}, "binned", title
    )
    numeric = data.schema[x].is_numeric()
    x_axis: Any = alt.Undefined if x_format is None else alt.Axis(format=x_format)
    y_axis: Any = alt.Undefined if value_format is None else alt.Axis(format=value_format)
    x_enc = (
        alt.X(f"{x}:Q", title=title_of(x, x_title), axis=x_axis)
        if numeric
        else alt.X(
            f"{x}:O", sort=levels(data, x, order), title=title_of(x, x_title), axis=alt.Axis(labelAngle=-30)
        )
    )
    enc: dict[str, Any] = {"x": x_enc}
    if colour:
        enc["color"] = alt.Color(f"{colour}:N", title=title_of(colour, None))
    base = alt.Chart(data).encode(**enc)
    y = alt.Y(f"{value}:Q", title=title_of(value, value_title), axis=y_axis)
    x_tip: Any = (
        alt.Undefined if x_format is None or not numeric else (".1%" if "%" in x_format else x_format)
    )
    tip_format = ",.3f" if value_format is None else (".1%" if "%" in value_format else value_format)
    tooltip = [alt.Tooltip(f"{x}:{'Q' if numeric else 'O'}", format=x_tip)] + [
        alt.Tooltip(f"{c}:Q", format=tip_format) for c in (value, lower, upper) if c
    ]
    layers = []
    if lower and upper:
        band = (
            base.mark_area(opacity=0.25)
            if mark == "line"
            else base.mark_errorbar(ticks=True, color=palette.TEXT)
        )
        layers.append(
            band.encode(
                y=alt.Y(f"{lower}:Q", title=title_of(value, value_title), axis=y_axis), y2=f"{upper}:Q"
            )
        )
    main = base.mark_line(point=True) if mark == "line" else base.mark_bar(opacity=0.85)
    layers.insert(0 if mark == "bar" else len(layers), main.encode(y=y, tooltip=tooltip))
    if zero_line:
        layers.append(
            alt.Chart(pl.DataFrame({"zero": [0.0]})).mark_rule(color=palette.REFERENCE).encode(y="zero:Q")
        )
    return layered(*layers).properties(title=title, width=WIDTH - 60, height=280)
