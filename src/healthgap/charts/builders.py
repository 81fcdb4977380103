"""Chart builders for aggregated results in the stats output contract.

Each takes a polars DataFrame (``value``, ``lower_ci``, ``upper_ci`` and group
columns, after :func:`healthgap.disclosure.protect`) and returns an Altair chart
whose spec embeds only the columns it draws (plus ``suppressed`` /
``suppression_reason``) of exactly the rows given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import altair as alt
import polars as pl

from healthgap import palette
from healthgap.charts._common import WIDTH, ChartError, levels, nominal, prepare, title_of

__all__ = ["ci_chart", "gradient", "small_multiples", "pyramid", "funnel", "mitigation_scatter", "heatmap", "binned"]

ERR_SEXES = "pyramid(): column {col!r} must hold exactly the two levels {sexes}; found {found}."
ERR_LIMITS = "funnel(): `limits` is missing column(s) {missing}; it needs {needed} (one row per denominator)."
ERR_LEVEL = "funnel(): limit must be '95' or '99.8'; got {value!r}."
_SUPPRESSED_LABEL = "[c] suppressed"


def _ci_layers(
    base: alt.Chart, *, group_enc: Any, value: str, lower: str | None, upper: str | None, horizontal: bool,
    colour_enc: Any, offset_enc: Any, mark: str, value_title: str | None, tooltip: list[Any],
) -> list[alt.Chart]:  # fmt: skip
    """Point or bar plus CI error bars, with a visible '[c]' label for suppressed rows."""
    v_axis, g_axis = ("x", "y") if horizontal else ("y", "x")
    enc: dict[str, Any] = {g_axis: group_enc, "tooltip": tooltip}
    if colour_enc is not None:
        enc["color"] = colour_enc
    if offset_enc is not None:
        enc[f"{g_axis}Offset"] = offset_enc
    val = alt.X if horizontal else alt.Y
    zero = mark == "bar"
    main_enc = {**enc, v_axis: val(f"{value}:Q", title=value_title, scale=alt.Scale(zero=zero))}
    layers = []
    if mark == "bar":
        layers.append(base.mark_bar(opacity=0.85, stroke=palette.OUTLINE, strokeWidth=0.5).encode(**main_enc))
    else:
        layers.append(base.mark_point(filled=True, size=80).encode(**main_enc))
    if lower and upper:
        bar_enc = {**enc, v_axis: val(f"{lower}:Q", title=value_title), f"{v_axis}2": f"{upper}:Q"}
        if mark == "bar":
            bar_enc.pop("color", None)
            layers.append(base.mark_errorbar(ticks=True, thickness=1.5, color=palette.TEXT).encode(**bar_enc))
        else:
            layers.insert(0, base.mark_errorbar(ticks=True, thickness=1.5).encode(**bar_enc))
    at_edge = alt.value(4) if horizontal else alt.value(2)
    text_enc = {g_axis: group_enc, v_axis: at_edge, "text": alt.value(_SUPPRESSED_LABEL)}
    if offset_enc is not None:
        text_enc[f"{g_axis}Offset"] = offset_enc
    layers.append(
        base.transform_filter(f"!isValid(datum[{value!r}])")
        .mark_text(align="left" if horizontal else "center", baseline="middle" if horizontal else "top",
                   color=palette.MUTED_TEXT, fontStyle="italic")
        .encode(**text_enc)
    )  # fmt: skip
    return layers


def ci_chart(
    df: pl.DataFrame,
    *,
    group: str,
    title: str,
    value: str = "value",
    lower: str | None = "lower_ci",
    upper: str | None = "upper_ci",
    colour: str | None = None,
    order: Sequence[Any] | None = None,
    colour_order: Sequence[Any] | None = None,
    mark: Literal["point", "bar"] = "point",
    horizontal: bool = True,
    reference: float | None = None,
    reference_label: str | None = None,
    group_title: str | None = None,
    value_title: str | None = None,
    subtitle: str | None = None,
) -> alt.LayerChart:
    """Dot (or bar) chart of a value with confidence-interval error bars by group.

    Parameters
    ----------
    df : one row per group (and per ``colour`` level), stats output contract.
    group : column on the categorical axis.
    colour : optional second grouping, drawn side by side and coloured.
    order, colour_order : display order of levels (default: as in the data).
    mark : ``"point"`` (dot chart, default) or ``"bar"``.
    horizontal : groups down the side (default) or along the bottom.
    reference : draw a dashed reference line at this value (e.g. the overall rate, or 1 for ratios).
    reference_label : text beside the reference line.

    Returns
    -------
    altair.LayerChart

    References
    ----------
    .. [1] Cleveland WS, McGill R. Graphical perception. JASA 1984;79:531-54 (dot charts).
    """
    data = prepare(df, {"group": group, "value": value, "lower": lower, "upper": upper, "colour": colour},
                   "ci_chart", title)  # fmt: skip
    g_levels = levels(data, group, order)
    enc_cls = alt.Y if horizontal else alt.X
    group_enc = enc_cls(f"{group}:{nominal(data, group)}", sort=g_levels, title=title_of(group, group_title))
    tooltip: list[Any] = [alt.Tooltip(f"{group}:N", title=title_of(group, group_title))]
    colour_enc = offset_enc = None
    if colour:
        c_levels = levels(data, colour, colour_order)
        colour_enc = alt.Color(f"{colour}:N", sort=c_levels, title=title_of(colour, None),
                               scale=alt.Scale(domain=c_levels, range=list(palette.CATEGORICAL)))  # fmt: skip
        offset_enc = alt.YOffset(f"{colour}:N", sort=c_levels) if horizontal else alt.XOffset(f"{colour}:N", sort=c_levels)
        tooltip.append(alt.Tooltip(f"{colour}:N"))
    tooltip += [alt.Tooltip(f"{c}:Q", format=",.2f") for c in (value, lower, upper) if c]
    base = alt.Chart(data)
    layers = _ci_layers(base, group_enc=group_enc, value=value, lower=lower, upper=upper, horizontal=horizontal,
                        colour_enc=colour_enc, offset_enc=offset_enc, mark=mark,
                        value_title=title_of(value, value_title), tooltip=tooltip)  # fmt: skip
    if reference is not None:
        axis = "x" if horizontal else "y"
        rule = alt.Chart(pl.DataFrame({"reference": [float(reference)]})).mark_rule(
            color=palette.REFERENCE, strokeDash=[6, 4], strokeWidth=1.5
        ).encode(**{axis: "reference:Q"})
        layers.append(rule)
        if reference_label:
            layers.append(
                rule.mark_text(align="left", dx=4, dy=-6 if horizontal else -6, color=palette.MUTED_TEXT, baseline="bottom")
                .encode(**{axis: "reference:Q"}, **({"y": alt.value(0)} if horizontal else {"x": alt.value(WIDTH)}),
                        text=alt.value(reference_label))
            )  # fmt: skip
    chart = alt.layer(*layers).properties(title=alt.Title(title, subtitle=subtitle) if subtitle else title)
    step = 22 if colour else 28
    if horizontal:
        return chart.properties(width=WIDTH - 160, height=alt.Step(step))
    return chart.properties(width=alt.Step(step * 2), height=300)


def gradient(
    df: pl.DataFrame,
    *,
    title: str,
    group: str = "imd_quintile",
    value: str = "value",
    lower: str | None = "lower_ci",
    upper: str | None = "upper_ci",
    fitted: str | None = None,
    order: Sequence[Any] | None = None,
    group_title: str | None = "Deprivation quintile (1 = most deprived)",
    value_title: str | None = None,
    fitted_label: str = "Fitted slope (SII)",
    subtitle: str | None = None,
) -> alt.LayerChart:
    """A gradient across deprivation quintiles: point and CI per quintile, optional fitted SII line.

    Parameters
    ----------
    df : one row per quintile.
    fitted : column holding the fitted value of the slope-index-of-inequality
        regression at each quintile (drawn as a dashed line through the quintiles).

    References
    ----------
    .. [1] Low A, Low A. Measuring the gap: quantifying and comparing local health
       inequalities. J Public Health 2004;26:388-95 (slope index of inequality).
    """
    data = prepare(df, {"group": group, "value": value, "lower": lower, "upper": upper, "fitted": fitted},
                   "gradient", title)  # fmt: skip
    g_levels = levels(data, group, order)
    x = alt.X(f"{group}:O", sort=g_levels, title=group_title, axis=alt.Axis(labelAngle=0))
    base = alt.Chart(data)
    tooltip = [alt.Tooltip(f"{group}:O", title=group_title)] + [
        alt.Tooltip(f"{c}:Q", format=",.2f") for c in (value, lower, upper, fitted) if c
    ]
    layers = _ci_layers(base, group_enc=x, value=value, lower=lower, upper=upper, horizontal=False,
                        colour_enc=None, offset_enc=None, mark="point",
                        value_title=title_of(value, value_title), tooltip=tooltip)  # fmt: skip
    if fitted:
        layers.insert(0, base.mark_line(color=palette.REFERENCE, strokeDash=[6, 4]).encode(
            x=x, y=alt.Y(f"{fitted}:Q"), tooltip=[alt.Tooltip(f"{fitted}:Q", title=fitted_label, format=",.2f")]))  # fmt: skip
    chart = alt.layer(*layers).properties(width=WIDTH - 120, height=300)
    return chart.properties(title=alt.Title(title, subtitle=subtitle) if subtitle else title)


def small_multiples(
    df: pl.DataFrame,
    *,
    facet: str,
    group: str,
    title: str,
    value: str = "value",
    lower: str | None = "lower_ci",
    upper: str | None = "upper_ci",
    order: Sequence[Any] | None = None,
    facet_order: Sequence[Any] | None = None,
    columns: int = 3,
    independent: bool = True,
    group_title: str | None = None,
    value_title: str | None = None,
) -> alt.FacetChart:
    """Small multiples: one dot-and-CI panel per ``facet`` level (e.g. condition), groups along the bottom.

    ``independent`` gives each panel its own value axis (conditions differ in scale).

    References
    ----------
    .. [1] Tufte ER. Envisioning Information. Graphics Press, 1990 (small multiples).
    """
    data = prepare(df, {"facet": facet, "group": group, "value": value, "lower": lower, "upper": upper},
                   "small_multiples", title)  # fmt: skip
    g_levels = levels(data, group, order)
    x = alt.X(f"{group}:{nominal(data, group)}", sort=g_levels, title=title_of(group, group_title),
              axis=alt.Axis(labelAngle=0 if len(g_levels) <= 6 else -40))  # fmt: skip
    tooltip = [alt.Tooltip(f"{facet}:N"), alt.Tooltip(f"{group}:N")] + [
        alt.Tooltip(f"{c}:Q", format=",.2f") for c in (value, lower, upper) if c
    ]
    layers = _ci_layers(alt.Chart(), group_enc=x, value=value, lower=lower, upper=upper, horizontal=False,
                        colour_enc=None, offset_enc=None, mark="point",
                        value_title=title_of(value, value_title), tooltip=tooltip)  # fmt: skip
    f_levels = levels(data, facet, facet_order)
    chart = alt.layer(*layers, data=data).properties(width=170, height=150).facet(
        facet=alt.Facet(f"{facet}:N", sort=f_levels, title=None), columns=columns
    )
    if independent:
        chart = chart.resolve_scale(y="independent")
    return chart.properties(title=title)


def pyramid(
    df: pl.DataFrame,
    *,
    title: str,
    age: str = "age_band",
    sex: str = "sex",
    value: str = "value",
    sexes: tuple[str, str] = ("female", "male"),
    age_order: Sequence[Any] | None = None,
    value_title: str | None = None,
    labels: dict[str, str] | None = None,
) -> alt.Chart:
    """Age-sex pyramid: the first of ``sexes`` to the left, the second to the right, oldest at the top.

    References
    ----------
    .. [1] Office for National Statistics, population pyramid conventions.
    """
    data = prepare(df, {"age": age, "sex": sex, "value": value}, "pyramid", title)
    found = sorted(str(s) for s in data[sex].unique().drop_nulls().to_list())
    if not set(found) <= set(sexes):
        raise ChartError(ERR_SEXES.format(col=sex, sexes=list(sexes), found=found))
    data = data.with_columns(
        pl.when(pl.col(sex) == sexes[0]).then(-pl.col(value)).otherwise(pl.col(value)).alias("__signed")
    ).rename({"__signed": "signed_value"})
    a_levels = list(reversed(levels(data, age, age_order)))
    names = labels or {s: s.capitalize() for s in sexes}
    return (
        alt.Chart(data)
        .mark_bar(stroke=palette.BACKGROUND, strokeWidth=0.5)
        .encode(
            y=alt.Y(f"{age}:O", sort=a_levels, title="Age band"),
            x=alt.X("signed_value:Q", title=title_of(value, value_title),
                    axis=alt.Axis(labelExpr="format(abs(datum.value), ',')")),
            color=alt.Color(f"{sex}:N", scale=alt.Scale(domain=list(sexes), range=list(palette.CATEGORICAL[:2])),
                            legend=alt.Legend(title=None, orient="top",
                                              labelExpr=_label_expr(names))),
            tooltip=[alt.Tooltip(f"{age}:O", title="Age band"), alt.Tooltip(f"{sex}:N"),
                     alt.Tooltip(f"{value}:Q", format=",")],
        )
        .properties(title=title, width=WIDTH - 100, height=alt.Step(14))
    )  # fmt: skip


def _label_expr(names: dict[str, str]) -> str:
    expr = "datum.label"
    for key, label in names.items():
        expr = f"datum.label === {key!r} ? {label!r} : ({expr})"
    return expr


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
    data = prepare(df, {"unit": unit, "value": value, "denominator": denominator, "flag": flag}, "funnel", title)
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
        data = data.with_columns(
            _interpolate(data, grid, denominator, f"lower_{suffix}").alias("__lo"),
            _interpolate(data, grid, denominator, f"upper_{suffix}").alias("__hi"),
        ).with_columns(
            pl.when(pl.col(value) > pl.col("__hi")).then(pl.lit("above"))
            .when(pl.col(value) < pl.col("__lo")).then(pl.lit("below"))
            .when(pl.col(value).is_not_null()).then(pl.lit("within"))
            .alias(flag)
        ).drop("__lo", "__hi")  # fmt: skip
    x = alt.X(f"{denominator}:Q", title=title_of(denominator, denominator_title))
    long = grid.unpivot(index=denominator, variable_name="limit", value_name="bound").with_columns(
        level=pl.when(pl.col("limit").str.ends_with("_95")).then(pl.lit("95%")).otherwise(pl.lit("99.8%")),
        side=pl.col("limit").str.split("_").list.first(),
    )
    lines = alt.Chart(long).mark_line(color=palette.REFERENCE, strokeWidth=1.2).encode(
        x=x, y=alt.Y("bound:Q", title=title_of(value, value_title)), detail="limit:N",
        strokeDash=alt.StrokeDash("level:N", scale=alt.Scale(domain=["95%", "99.8%"], range=[[4, 3], [1, 0]]),
                                  legend=alt.Legend(title="Control limit", orient="top")),
    )  # fmt: skip
    centre = alt.Chart(pl.DataFrame({"target": [float(target)]})).mark_rule(color=palette.TEXT).encode(y="target:Q")
    order = ["below", "within", "above"]
    points = alt.Chart(data).mark_point(filled=True, size=70, stroke=palette.BACKGROUND, strokeWidth=0.5).encode(
        x=x, y=alt.Y(f"{value}:Q"),
        color=alt.Color(f"{flag}:N", scale=alt.Scale(domain=order, range=[palette.FUNNEL[k] for k in order]),
                        legend=alt.Legend(title=f"Position ({limit}% limits)", orient="top")),
        shape=alt.Shape(f"{flag}:N", scale=alt.Scale(domain=order, range=["triangle-down", "circle", "triangle-up"]),
                        legend=None),
        tooltip=[alt.Tooltip(f"{unit}:N"), alt.Tooltip(f"{value}:Q", format=",.2f"),
                 alt.Tooltip(f"{denominator}:Q", format=","), alt.Tooltip(f"{flag}:N", title="Position")],
    )  # fmt: skip
    return alt.layer(lines, centre, points).resolve_scale(color="independent").properties(
        title=title, width=WIDTH - 60, height=320
    )


def _interpolate(data: pl.DataFrame, grid: pl.DataFrame, x: str, col: str) -> pl.Series:
    """Linear interpolation of ``grid[col]`` at ``data[x]`` (held flat beyond the grid)."""
    pts = data.select(pl.col(x).cast(pl.Float64).alias("__x")).with_row_index("__i").sort("__x")
    g = grid.select(pl.col(x).alias("__x"), pl.col(col).alias("__y"))
    lo = pts.join_asof(g.rename({"__y": "__y0"}).with_columns(__x0=pl.col("__x")), on="__x", strategy="backward")
    both = lo.join_asof(g.rename({"__y": "__y1"}).with_columns(__x1=pl.col("__x")), on="__x", strategy="forward")
    frac = ((pl.col("__x") - pl.col("__x0")) / (pl.col("__x1") - pl.col("__x0"))).fill_nan(0.0)
    y = (
        pl.when(pl.col("__x0").is_null()).then(pl.col("__y1"))
        .when(pl.col("__x1").is_null()).then(pl.col("__y0"))
        .otherwise(pl.col("__y0") + frac * (pl.col("__y1") - pl.col("__y0")))
    )  # fmt: skip
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
        alt.condition(f"datum[{label!r}] === {highlight!r}", alt.value(palette.CATEGORICAL[1]), alt.value(palette.CATEGORICAL[0]))
        if highlight is not None else alt.value(palette.CATEGORICAL[0])
    )  # fmt: skip
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:Q", title=title_of(x, x_title), scale=alt.Scale(zero=False)),
        y=alt.Y(f"{y}:Q", title=title_of(y, y_title), scale=alt.Scale(zero=False)),
    )
    points = base.mark_point(filled=True, size=90).encode(
        color=colour, tooltip=[alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{x}:Q", format=".3f"), alt.Tooltip(f"{y}:Q", format=".3f")]
    )
    text = base.mark_text(align="left", dx=7, dy=-7).encode(text=f"{label}:N")
    return alt.layer(points, text).properties(title=title, width=WIDTH - 60, height=320)


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
) -> alt.LayerChart:
    """Heatmap for intersections (e.g. deprivation x ethnicity), values printed in the cells.

    Five equal-width classes of :data:`healthgap.palette.SEQUENTIAL`; text is
    dark on the three pale classes and white on the two dark ones (>= 4.5:1);
    suppressed cells are grey and marked "[c]".

    References
    ----------
    .. [1] Bauer GR. Incorporating intersectionality theory into population health
       research methodology. Soc Sci Med 2014;110:10-17.
    """
    data = prepare(df, {"x": x, "y": y, "value": value}, "heatmap", title)
    lo, hi = data.select(pl.col(value).min().alias("lo"), pl.col(value).max().alias("hi")).row(0)
    lo = 0.0 if lo is None else float(lo)
    hi = lo + 1.0 if hi is None or hi == lo else float(hi)
    dark_from = lo + palette.SEQUENTIAL_DARK_FROM / len(palette.SEQUENTIAL) * (hi - lo)
    xs, ys = levels(data, x, x_order), levels(data, y, y_order)
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:{nominal(data, x)}", sort=xs, title=title_of(x, x_title), axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{y}:{nominal(data, y)}", sort=ys, title=title_of(y, y_title)),
    )
    fill = alt.condition(
        f"isValid(datum[{value!r}])",
        alt.Color(f"{value}:Q", scale=alt.Scale(type="quantize", domain=[lo, hi], range=list(palette.SEQUENTIAL)),
                  legend=alt.Legend(title=legend_title or title_of(value, None), format=text_format)),
        alt.value(palette.SUPPRESSED),
    )  # fmt: skip
    rects = base.mark_rect(stroke=palette.BACKGROUND, strokeWidth=1).encode(
        color=fill, tooltip=[alt.Tooltip(f"{x}:N"), alt.Tooltip(f"{y}:N"), alt.Tooltip(f"{value}:Q", format=text_format)]
    )
    labels = base.transform_calculate(
        label=f"isValid(datum[{value!r}]) ? format(datum[{value!r}], {text_format!r}) : '[c]'"
    ).mark_text(fontSize=12).encode(
        text="label:N",
        color=alt.condition(f"isValid(datum[{value!r}]) && datum[{value!r}] >= {dark_from!r}",
                            alt.value(palette.BACKGROUND), alt.value(palette.TEXT)),
    )  # fmt: skip
    return alt.layer(rects, labels).properties(title=title, width=alt.Step(70), height=alt.Step(32))


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
) -> alt.LayerChart:
    """Binned averages (e.g. mean SHAP value by feature bin): a line or bars, optional CI band.

    ``x`` may be numeric (bin midpoints, quantitative axis) or bin labels (ordinal,
    in ``order``). ``colour`` draws one line per level (e.g. per feature).

    References
    ----------
    .. [1] Lundberg SM, Lee S-I. A unified approach to interpreting model predictions. NeurIPS 2017.
    """
    data = prepare(df, {"x": x, "value": value, "lower": lower, "upper": upper, "colour": colour}, "binned", title)
    numeric = data.schema[x].is_numeric()
    x_enc = alt.X(f"{x}:Q", title=title_of(x, x_title)) if numeric else alt.X(
        f"{x}:O", sort=levels(data, x, order), title=title_of(x, x_title), axis=alt.Axis(labelAngle=-30)
    )
    enc: dict[str, Any] = {"x": x_enc}
    if colour:
        enc["color"] = alt.Color(f"{colour}:N", title=title_of(colour, None))
    base = alt.Chart(data).encode(**enc)
    y = alt.Y(f"{value}:Q", title=title_of(value, value_title))
    tooltip = [alt.Tooltip(f"{x}:{'Q' if numeric else 'O'}")] + [
        alt.Tooltip(f"{c}:Q", format=",.3f") for c in (value, lower, upper) if c
    ]
    layers = []
    if lower and upper:
        band = base.mark_area(opacity=0.25) if mark == "line" else base.mark_errorbar(ticks=True, color=palette.TEXT)
        layers.append(band.encode(y=alt.Y(f"{lower}:Q", title=title_of(value, value_title)), y2=f"{upper}:Q"))
    main = base.mark_line(point=True) if mark == "line" else base.mark_bar(opacity=0.85)
    layers.insert(0 if mark == "bar" else len(layers), main.encode(y=y, tooltip=tooltip))
    if zero_line:
        layers.append(alt.Chart(pl.DataFrame({"zero": [0.0]})).mark_rule(color=palette.REFERENCE).encode(y="zero:Q"))
    return alt.layer(*layers).properties(title=title, width=WIDTH - 60, height=280)
