"""Shared pieces of the chart builders: the Altair theme, input checks, colours."""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypedDict

import altair as alt
import polars as pl

from healthgap import palette
from healthgap.errors import HealthgapError

__all__ = [
    "ChartError",
    "THEME",
    "FONT",
    "WIDTH",
    "CHAR_PX",
    "prepare",
    "levels",
    "title_of",
    "axis_title",
    "theme_config",
    "label_angle",
    "label_values",
    "ROTATED_LABEL_PX",
    "nominal",
    "suppressed_expr",
    "missing_keys",
    "legend_title",
    "LEGEND_TITLE_PX",
    "layered",
    "scalar",
]

THEME = "healthgap"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
WIDTH = 560
BOOKKEEPING = ("suppressed", "suppression_reason")

ERR_NOT_FRAME = "{builder}(): expected a polars DataFrame of aggregated results; got {kind}."
ERR_MISSING = (
    "{builder}(): column(s) {missing} are not in the data (columns: {present}). "
    "Pass the right names, e.g. {builder}(df, {arg}='...')."
)
ERR_EMPTY = "{builder}(): the data has no rows; there is nothing to chart."
ERR_TITLE = "{builder}(): every chart needs a non-empty `title`."
ERR_FACETED_LAYER = "layered(): the layers share a facet encoding, so Altair made a faceted chart."
ERR_NOT_NUMBER = "Expected a number from the data, got {value!r}."


class ChartError(HealthgapError, ValueError):
    """A chart builder was given data it cannot chart; the message names the column and the fix."""


class _TextConfig(TypedDict):
    """Text settings shared by axes and legends."""

    labelFontSize: float
    titleFontSize: float
    labelColor: str
    titleColor: str


def theme_config() -> alt.theme.ThemeConfig:
    """The healthgap Altair theme: system fonts, readable sizes, NHS colours.

    References
    ----------
    .. [1] Altair 6 themes, https://altair-viz.github.io/user_guide/customization.html#chart-themes
    """
    text: _TextConfig = {
        "labelFontSize": 13,
        "titleFontSize": 13,
        "labelColor": palette.TEXT,
        "titleColor": palette.TEXT,
    }
    return {
        "config": {
            "font": FONT,
            "background": palette.BACKGROUND,
            "view": {"stroke": None, "continuousWidth": WIDTH, "continuousHeight": 320},
            "title": {
                "fontSize": 16,
                "fontWeight": 600,
                "anchor": "start",
                "color": palette.TEXT,
                "subtitleFontSize": 13,
                "subtitleColor": palette.MUTED_TEXT,
                "limit": WIDTH + 100,
            },
            "axis": {
                **text,
                "titleFontWeight": 600,
                "labelLimit": 240,
                "domainColor": palette.OUTLINE,
                "tickColor": palette.OUTLINE,
                "gridColor": "#E8EDEE",
            },
            "legend": {**text, "titleFontWeight": 600, "labelLimit": 260, "symbolSize": 120},
            "header": {
                "labelFontSize": 13,
                "titleFontSize": 14,
                "labelColor": palette.TEXT,
                "titleColor": palette.TEXT,
                "labelFontWeight": 600,
            },
            "range": {
                "category": list(palette.CATEGORICAL),
                "ordinal": list(palette.SEQUENTIAL),
                "ramp": list(palette.SEQUENTIAL),
                "heatmap": list(palette.SEQUENTIAL),
            },
            "mark": {"color": palette.CATEGORICAL[0]},
            "point": {"filled": True, "size": 70},
            "line": {"strokeWidth": 2},
            "text": {"fontSize": 12, "color": palette.TEXT, "font": FONT},
        }
    }


@alt.theme.register(THEME, enable=True)
def _healthgap_theme() -> alt.theme.ThemeConfig:
    return theme_config()


def prepare(df: Any, needed: dict[str, str | None], builder: str, title: str) -> pl.DataFrame:
    """Check the inputs of a builder and keep only the columns it charts.

    ``needed`` maps argument name -> column name (None when the optional column is unused).
    Categorical/Enum columns become strings so the spec holds plain values.
    """
    if not isinstance(title, str) or not title.strip():
        raise ChartError(ERR_TITLE.format(builder=builder))
    if isinstance(df, pl.LazyFrame):
        df = df.collect()
    if not isinstance(df, pl.DataFrame):
        raise ChartError(ERR_NOT_FRAME.format(builder=builder, kind=type(df).__name__))
    missing = [(arg, col) for arg, col in needed.items() if col is not None and col not in df.columns]
    if missing:
        raise ChartError(
            ERR_MISSING.format(
                builder=builder,
                missing=[c for _, c in missing],
                present=", ".join(df.columns),
                arg=missing[0][0],
            )
        )
    if df.height == 0:
        raise ChartError(ERR_EMPTY.format(builder=builder))
    keep = list(
        dict.fromkeys(
            [c for c in needed.values() if c is not None] + [c for c in BOOKKEEPING if c in df.columns]
        )
    )
    out = df.select(keep)
    cats = [c for c, t in out.schema.items() if isinstance(t, (pl.Categorical, pl.Enum))]
    if cats:
        out = out.with_columns(pl.col(cats).cast(pl.String))
    if "suppressed" not in out.columns:
        out = out.with_columns(suppressed=pl.lit(False))
    return out


def levels(df: pl.DataFrame, col: str, order: Sequence[Any] | None) -> list[Any]:
    """Display order of the levels of ``col``: ``order`` first (as given), then any others as they appear."""
    seen = df[col].unique(maintain_order=True).to_list()
    if order is None:
        return seen
    wanted = [o for o in order]
    as_text = {str(v): v for v in seen}
    resolved = [as_text.get(str(o), o) for o in wanted]
    return resolved + [v for v in seen if v not in resolved]


def title_of(col: str | None, given: str | None) -> str | None:
    """An axis title: the one given, else the column name made readable."""
    if given is not None:
        return given
    return None if col is None else col.replace("_", " ").capitalize()


CHAR_PX = 7.5  # average width of a 13px axis label character
#: The widest an axis title may be drawn on one line: on a phone (a 342 px column) an x-axis
#: title ends at the plot's right edge and runs left over the labels, so a longer one ran off the
#: chart's left edge ("Missed appointments per 1,000 appointments booked"); it breaks into lines.
AXIS_TITLE_PX = 270
#: Widest line of a legend title: Vega-Lite cuts a longer one short with an ellipsis (its
#: ``titleLimit`` is 180 px), so a long title is broken into lines instead.
LEGEND_TITLE_PX = 170


def axis_title(text: str | None, width_px: float = AXIS_TITLE_PX) -> str | list[str] | None:
    """An axis title broken between words into lines no wider than ``width_px`` (one line: a string)."""
    if text is None:
        return None
    lines = textwrap.wrap(text, max(8, int(width_px / CHAR_PX)))
    return lines[0] if len(lines) == 1 else (lines or text)


def legend_title(text: str | None) -> str | list[str] | None:
    """A legend title broken between words into lines that Vega-Lite shows whole
    (:data:`LEGEND_TITLE_PX`): "Age-standardised prevalence (%)" -> two lines, not "Age-standardised
    prevalen..."."""
    return axis_title(text, LEGEND_TITLE_PX)


def label_angle(labels: Sequence[Any], band_px: float) -> int:
    """Axis label angle: 0 (level) when every label fits its band, else -40 so neighbours do not overlap."""
    longest = max((len(str(v)) for v in labels), default=0)
    return 0 if longest * CHAR_PX <= band_px - 4 else -40


#: Horizontal room a label angled at -40 degrees needs so that it does not touch the next one.
ROTATED_LABEL_PX = 22
#: An ordered label that can be thinned out: a range ("0-4", "85-89", "10 to 14") or an open
#: range ("90+"), such as an age band. Names (groups, places) and single numbers (a quintile
#: shown in another panel of the same chart) are never dropped.
_ORDERED_LABEL = re.compile(r"^\s*\d+\s*(([-–]|to)\s*\d+|\+)\s*$")


def label_values(labels: Sequence[Any], band_px: float, angle: int) -> list[Any] | None:
    """The labels to show on a band axis when every label would not fit: every k-th ordered label.

    Age bands along the bottom of a small panel (19 bands in 170 px: 9 px each) overlap even
    when angled, and cannot be read. When more than 8 labels are ranges (:data:`_ORDERED_LABEL`)
    and do not fit their band, only every k-th of them is labelled
    ("0-4", "15-19", "30-34", ...), k the smallest step that leaves each shown label the room it
    needs (:data:`ROTATED_LABEL_PX` when angled, its length when level). Other labels (names)
    are always shown. None when nothing needs to be dropped.
    """
    ordered = [v for v in labels if _ORDERED_LABEL.match(str(v))]
    if len(ordered) <= 8 or band_px <= 0:
        return None
    need = ROTATED_LABEL_PX if angle else max(len(str(v)) for v in ordered) * CHAR_PX + 6
    step = math.ceil(need / band_px)
    if step <= 1:
        return None
    kept = set(map(str, ordered[::step]))
    return [v for v in labels if str(v) in kept or not _ORDERED_LABEL.match(str(v))]


def nominal(df: pl.DataFrame, col: str) -> str:
    """Altair type code for a grouping column: ordinal for numbers, nominal for text."""
    return "O" if df.schema[col].is_numeric() else "N"


def suppressed_expr(df: pl.DataFrame) -> pl.Expr:
    """True on rows that disclosure control marked ``suppressed`` (False when the frame has no such column)."""
    return pl.col("suppressed").fill_null(False) if "suppressed" in df.columns else pl.lit(False)


def missing_keys(df: pl.DataFrame, value: str, *, group: str | None = None) -> list[str]:
    """The chart keys of '[x]' values of ``value``: e.g. ``["[x] = not calculated: fewer than 10 events"]``.

    A null ``value`` in a row that is not suppressed is '[x]', as in the tables;
    the reasons are those of :func:`healthgap.tables.missing_reasons` (the
    frame's ``note`` column when it has one), so a chart and the table under it
    explain a gap in the same words. When the chart's '[x]' marks have more than one
    reason and ``group`` names the column of its groups, each key names the groups it
    applies to ("[x] = not calculated: fewer than 10 events (Asian)"), so the one mark
    reads one way at each group.
    """
    from healthgap.tables import MISSING_MARK, missing_reasons

    reasons = missing_reasons(df, columns=[value])
    keys = [f"{MISSING_MARK} = {why[:1].lower()}{why[1:]}" for why in reasons]
    if len(reasons) < 2 or group is None or group not in df.columns:
        return keys
    from healthgap.tables import missing_rows

    by_reason = (
        missing_rows(df, columns=[value])
        .select("why", pl.col(group).cast(pl.String))
        .unique(maintain_order=True)
        .group_by("why", maintain_order=True)
        .agg(pl.col(group))
    )
    groups = dict(zip(by_reason["why"].to_list(), by_reason[group].to_list(), strict=True))
    return [
        f"{key} ({', '.join(groups.get(why) or [])})" if groups.get(why) else key
        for key, why in zip(keys, reasons, strict=True)
    ]


def layered(*charts: Any, **kwargs: Any) -> alt.LayerChart:
    """``alt.layer(*charts)`` for layers without facet encodings: always a :class:`altair.LayerChart`.

    Altair returns a ``FacetChart`` instead when every layer has the same ``row``/``column``/
    ``facet`` encoding; the builders facet after layering, so that would be a mistake.
    """
    chart = alt.layer(*charts, **kwargs)
    if not isinstance(chart, alt.LayerChart):
        raise ChartError(ERR_FACETED_LAYER)
    return chart


def scalar(value: object) -> float:
    """A number read from the data (``Series.min()``, ``.max()``: typed by polars for any dtype)."""
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    raise ChartError(ERR_NOT_NUMBER.format(value=value))
