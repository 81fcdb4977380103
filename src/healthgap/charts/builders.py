"""Chart builders for aggregated results in the stats output contract.

Each takes a polars DataFrame (``value``, ``lower_ci``, ``upper_ci`` and group
columns, after :func:`healthgap.disclosure.protect`) and returns an Altair chart
whose spec embeds only the columns it draws (plus ``suppressed`` /
``suppression_reason``) of exactly the rows given.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any, Literal

import altair as alt
import polars as pl

from healthgap import palette
from healthgap.charts._common import (
    CHAR_PX,
    WIDTH,
    ChartError,
    axis_title,
    label_angle,
    label_values,
    layered,
    levels,
    missing_keys,
    nominal,
    prepare,
    scalar,
    suppressed_expr,
    title_of,
)
from healthgap.tables import MISSING_MARK, SUPPRESSED_MARK

__all__ = ["ci_chart", "gradient", "small_multiples", "pyramid"]

ERR_SEXES = "pyramid(): column {col!r} must hold exactly the two levels {sexes}; found {found}."
_SUPPRESSED_LABEL = f"{SUPPRESSED_MARK} suppressed"
_SUPPRESSED_SHORT = SUPPRESSED_MARK  # groups along the bottom: the long label would run into its neighbours
_SUPPRESSED_NOTE = f"{SUPPRESSED_MARK} = suppressed: too few people to publish"


def _with_note(
    subtitle: str | None, data: pl.DataFrame, value: str, *, source: pl.DataFrame, group: str | None = None
) -> str | list[str] | None:
    """Add the '[c]' and '[x]' keys under the title for the marks the chart shows.

    '[c]' is a null value in a suppressed row; '[x]' a null value for another
    reason (e.g. fewer than 10 events), keyed with its reasons read from
    ``source`` (the frame before :func:`prepare`, which may hold a ``note``).
    """
    lines = [subtitle] if subtitle else []
    if data.filter(pl.col(value).is_null() & suppressed_expr(data)).height:
        lines.append(_SUPPRESSED_NOTE)
    lines += missing_keys(source, value, group=group)
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else lines


def _source(df: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The frame as given to a builder (collected), for the reasons of its '[x]' values."""
    return df.collect() if isinstance(df, pl.LazyFrame) else df


def _wrapped_labels(values: list[Any], width_px: float) -> str | None:
    """A Vega ``labelExpr`` that breaks labels longer than ``width_px`` into lines (None if all fit)."""
    chars = max(8, int(width_px / CHAR_PX))
    long = {str(v): textwrap.wrap(str(v), chars) for v in values if len(str(v)) > chars}
    if not long:
        return None
    expr = "datum.label"  # (in a facet header, datum.value is the level, datum.label its text)
    for text, lines in long.items():
        expr = f"datum.value === {json.dumps(text)} ? {json.dumps(lines)} : ({expr})"
    return expr


def _titled(title: str, subtitle: str | list[str] | None) -> Any:
    return alt.Title(title, subtitle=subtitle) if subtitle else title


def _ci_layers(
    base: alt.Chart,
    *,
    group_enc: Any,
    value: str,
    lower: str | None,
    upper: str | None,
    horizontal: bool,
    colour_enc: Any,
    offset_enc: Any,
    mark: str,
    value_title: str | None,
    tooltip: list[Any],
    missing_label: str | None = None,
    value_format: str | None = None,
) -> list[alt.Chart]:
    """Point or bar plus CI error bars, a visible '[c]' label on suppressed rows and '[x]' on other gaps.

    ``missing_label`` is the label of '[x]' rows (None: the chart has none); ``value_format`` the
    d3 format of the value axis (None: Vega-Lite's default).
    """
    v_axis, g_axis = ("x", "y") if horizontal else ("y", "x")
    enc: dict[str, Any] = {g_axis: group_enc, "tooltip": tooltip}
    if colour_enc is not None:
        enc["color"] = colour_enc
    if offset_enc is not None:
        enc[f"{g_axis}Offset"] = offset_enc
    val = alt.X if horizontal else alt.Y
    zero = mark == "bar"
    lines = axis_title(value_title)
    axis: Any = alt.Undefined if value_format is None else alt.Axis(format=value_format)
    main_enc = {**enc, v_axis: val(f"{value}:Q", title=lines, scale=alt.Scale(zero=zero), axis=axis)}
    layers = []
    if mark == "bar":
        layers.append(base.mark_bar(opacity=0.85, stroke=palette.OUTLINE, strokeWidth=0.5).encode(**main_enc))
    else:
        layers.append(base.mark_point(filled=True, size=80).encode(**main_enc))
    if lower and upper:
        bar_enc = {**enc, v_axis: val(f"{lower}:Q", title=lines, axis=axis), f"{v_axis}2": f"{upper}:Q"}
        if mark == "bar":
            bar_enc.pop("color", None)
            layers.append(base.mark_errorbar(ticks=True, thickness=1.5, color=palette.TEXT).encode(**bar_enc))
        else:
            layers.insert(0, base.mark_errorbar(ticks=True, thickness=1.5).encode(**bar_enc))
    at_edge = alt.value(4) if horizontal else alt.value(2)
    # "[c]" where the value is withheld (its row is suppressed); "[x]" where it is missing for
    # another reason (e.g. a rate not calculated from fewer than 10 events): as in the tables
    marks = [(True, _SUPPRESSED_LABEL if horizontal else _SUPPRESSED_SHORT)]
    if missing_label is not None:
        marks.append((False, missing_label if horizontal else MISSING_MARK))
    for hidden, label in marks:
        text_enc = {g_axis: group_enc, v_axis: at_edge, "text": alt.value(label)}
        if offset_enc is not None:
            text_enc[f"{g_axis}Offset"] = offset_enc
        test = "datum.suppressed === true" if hidden else "datum.suppressed !== true"
        layers.append(
            base.transform_filter(f"!isValid(datum[{value!r}]) && {test}")
            .mark_text(
                align="left" if horizontal else "center",
                baseline="middle" if horizontal else "top",
                color=palette.MUTED_TEXT,
                fontStyle="italic",
            )
            .encode(**text_enc)
        )
    return layers


def _missing_label(source: pl.DataFrame, data: pl.DataFrame, value: str) -> str | None:
    """The inline label of '[x]' values ("[x] not calculated: fewer than 10 events"), None if there are none."""
    if not data.filter(pl.col(value).is_null() & ~suppressed_expr(data)).height:
        return None
    keys = missing_keys(source, value)
    if len(keys) == 1:
        return keys[0].replace(" = ", " ", 1)
    return f"{MISSING_MARK} not available"


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
    value_format: str | None = None,
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
    value_format : d3 format of the value axis and tooltips (e.g. ``"~%"`` for proportions
        plotted as they are published, shown as percentages); default ``",.2f"`` tooltips.

    Returns
    -------
    altair.LayerChart

    References
    ----------
    .. [1] Cleveland WS, McGill R. Graphical perception. JASA 1984;79:531-54 (dot charts).
    """
    data = prepare(
        df,
        {"group": group, "value": value, "lower": lower, "upper": upper, "colour": colour},
        "ci_chart",
        title,
    )
    g_levels = levels(data, group, order)
    enc_cls = alt.Y if horizontal else alt.X
    # horizontal: the group title sits above the labels, right-aligned with them, not rotated
    step = 22 if colour else 28
    band = step * 2  # vertical: each group is alt.Step(step * 2) wide
    axis = (
        alt.Axis(titleAngle=0, titleAlign="right", titleX=-8, titleY=-6, titleBaseline="bottom")
        if horizontal
        else alt.Axis(labelAngle=label_angle(g_levels, band))
    )
    group_enc = enc_cls(
        f"{group}:{nominal(data, group)}", sort=g_levels, title=title_of(group, group_title), axis=axis
    )
    tooltip: list[Any] = [alt.Tooltip(f"{group}:N", title=title_of(group, group_title))]
    colour_enc = offset_enc = None
    if colour:
        c_levels = levels(data, colour, colour_order)
        # the key above the chart, one entry a line: beside it, long labels ("Undiagnosed cases flagged
        # by the model") made the chart wider than the page column, so the page shrank all its text
        colour_enc = alt.Color(
            f"{colour}:N",
            sort=c_levels,
            title=title_of(colour, None),
            scale=alt.Scale(domain=c_levels, range=list(palette.CATEGORICAL)),
            legend=alt.Legend(orient="top", direction="vertical", labelLimit=WIDTH),
        )
        offset_enc = (
            alt.YOffset(f"{colour}:N", sort=c_levels)
            if horizontal
            else alt.XOffset(f"{colour}:N", sort=c_levels)
        )
        tooltip.append(alt.Tooltip(f"{colour}:N"))
    tip_format = ",.2f" if value_format is None else (".1%" if "%" in value_format else value_format)
    tooltip += [alt.Tooltip(f"{c}:Q", format=tip_format) for c in (value, lower, upper) if c]
    base = alt.Chart(data)
    source = _source(df)
    layers = _ci_layers(
        base,
        group_enc=group_enc,
        value=value,
        lower=lower,
        upper=upper,
        horizontal=horizontal,
        colour_enc=colour_enc,
        offset_enc=offset_enc,
        mark=mark,
        value_title=title_of(value, value_title),
        tooltip=tooltip,
        missing_label=_missing_label(source, data, value),
        value_format=value_format,
    )
    if reference is not None:
        channel = "x" if horizontal else "y"
        rule = (
            alt.Chart(pl.DataFrame({"reference": [float(reference)]}))
            .mark_rule(color=palette.REFERENCE, strokeDash=[6, 4], strokeWidth=1.5)
            .encode(**{channel: "reference:Q"})
        )
        layers.append(rule)
        if reference_label:
            layers.append(
                rule.mark_text(
                    align="left",
                    dx=4,
                    dy=-6,
                    color=palette.MUTED_TEXT,
                    baseline="bottom",
                ).encode(
                    **{channel: "reference:Q"},
                    **({"y": alt.value(0)} if horizontal else {"x": alt.value(WIDTH)}),
                    text=alt.value(reference_label),
                )
            )
    # groups down the side are labelled in full ("[c] suppressed"), no key needed
    heading = subtitle if horizontal else _with_note(subtitle, data, value, source=source, group=group)
    chart = layered(*layers).properties(title=_titled(title, heading))
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
    data = prepare(
        df,
        {"group": group, "value": value, "lower": lower, "upper": upper, "fitted": fitted},
        "gradient",
        title,
    )
    g_levels = levels(data, group, order)
    x = alt.X(
        f"{group}:O",
        sort=g_levels,
        title=group_title,
        axis=alt.Axis(labelAngle=label_angle(g_levels, (WIDTH - 120) / max(len(g_levels), 1))),
    )
    base = alt.Chart(data)
    tooltip = [alt.Tooltip(f"{group}:O", title=group_title)] + [
        alt.Tooltip(f"{c}:Q", format=",.2f") for c in (value, lower, upper, fitted) if c
    ]
    source = _source(df)
    layers = _ci_layers(
        base,
        group_enc=x,
        value=value,
        lower=lower,
        upper=upper,
        horizontal=False,
        colour_enc=None,
        offset_enc=None,
        mark="point",
        value_title=title_of(value, value_title),
        tooltip=tooltip,
        missing_label=_missing_label(source, data, value),
    )
    if fitted:
        layers.insert(
            0,
            base.mark_line(color=palette.REFERENCE, strokeDash=[6, 4]).encode(
                x=x,
                y=alt.Y(f"{fitted}:Q"),
                tooltip=[alt.Tooltip(f"{fitted}:Q", title=fitted_label, format=",.2f")],
            ),
        )
    chart = layered(*layers).properties(width=WIDTH - 120, height=300)
    return chart.properties(title=_titled(title, _with_note(subtitle, data, value, source=source)))


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
    Every panel has its own group axis, so a grid with an empty last slot shows no
    orphan axis; labels that would overlap are angled. The group axis is titled only
    when ``group_title`` is given (the chart title usually names the grouping).
    ``value_title`` is shown once, under the title, not beside every panel: a long
    axis title is taller than a panel and would run into the labels.

    References
    ----------
    .. [1] Tufte ER. Envisioning Information. Graphics Press, 1990 (small multiples).
    """
    data = prepare(
        df,
        {"facet": facet, "group": group, "value": value, "lower": lower, "upper": upper},
        "small_multiples",
        title,
    )
    g_levels = levels(data, group, order)
    panel_width = 170
    # panels with different groups (e.g. one panel per equity dimension) each get only their own
    # groups along the bottom, not every group of every panel
    per_panel = scalar(data.group_by(facet).agg(pl.col(group).n_unique().alias("n"))["n"].max())
    own_groups = per_panel < len(g_levels)
    band = panel_width / max(per_panel if own_groups else len(g_levels), 1)
    angle = label_angle(g_levels, band)
    shown = label_values(g_levels, band, angle)  # e.g. every third age band: 19 do not fit 170 px
    x = alt.X(
        f"{group}:{nominal(data, group)}",
        sort=g_levels,
        title=group_title,
        axis=alt.Axis(labelAngle=angle) if shown is None else alt.Axis(labelAngle=angle, values=shown),
    )
    tooltip = [alt.Tooltip(f"{facet}:N"), alt.Tooltip(f"{group}:N")] + [
        alt.Tooltip(f"{c}:Q", format=",.2f") for c in (value, lower, upper) if c
    ]
    source = _source(df)
    layers = _ci_layers(
        alt.Chart(),
        group_enc=x,
        value=value,
        lower=lower,
        upper=upper,
        horizontal=False,
        colour_enc=None,
        offset_enc=None,
        mark="point",
        value_title=None,
        tooltip=tooltip,
        missing_label=_missing_label(source, data, value),
    )
    f_levels = levels(data, facet, facet_order)
    # long panel titles (e.g. "Statin prescribed (CHD, stroke/TIA or PAD; ...)") would widen every
    # column and shrink the whole chart to fit the page: wrap them to the panel width instead
    wrap = _wrapped_labels(f_levels, panel_width + 20)
    header = alt.Header(labelExpr=wrap) if wrap else alt.Header()
    chart = (
        alt.layer(*layers, data=data)
        .properties(width=panel_width, height=150)
        .facet(facet=alt.Facet(f"{facet}:N", sort=f_levels, title=None, header=header), columns=columns)
    )
    chart = chart.resolve_axis(x="independent")
    scales = {"x": "independent"} if own_groups else {}
    if independent:
        scales["y"] = "independent"
    if scales:
        chart = chart.resolve_scale(**scales)
    return chart.properties(
        title=_titled(title, _with_note(value_title, data, value, source=source, group=group))
    )


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
            x=alt.X(
                "signed_value:Q",
                title=title_of(value, value_title),
                axis=alt.Axis(labelExpr="format(abs(datum.value), ',')"),
            ),
            color=alt.Color(
                f"{sex}:N",
                scale=alt.Scale(domain=list(sexes), range=list(palette.CATEGORICAL[:2])),
                legend=alt.Legend(title=None, orient="top", labelExpr=_label_expr(names)),
            ),
            tooltip=[
                alt.Tooltip(f"{age}:O", title="Age band"),
                alt.Tooltip(f"{sex}:N"),
                alt.Tooltip(f"{value}:Q", format=","),
            ],
        )
        .properties(title=title, width=WIDTH - 100, height=alt.Step(14))
    )


def _label_expr(names: dict[str, str]) -> str:
    expr = "datum.label"
    for key, label in names.items():
        expr = f"datum.label === {key!r} ? {label!r} : ({expr})"
    return expr
