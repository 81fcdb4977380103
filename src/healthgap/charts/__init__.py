"""Altair charts for the book, built only from aggregated, disclosure-protected data.

Importing this package registers and enables the ``healthgap`` Altair theme
(system fonts, readable sizes, the colours of :mod:`healthgap.palette`).

API
---
Builders (each takes a polars DataFrame in the stats output contract --
``value``, ``lower_ci``, ``upper_ci`` and group columns -- plus a required
``title``, and returns an Altair chart):

- ``ci_chart(df, *, group, title, value="value", lower="lower_ci", upper="upper_ci",
  colour=None, order=None, colour_order=None, mark="point"|"bar", horizontal=True,
  reference=None, reference_label=None, group_title=None, value_title=None, subtitle=None)``
  -- grouped dot/bar chart with CI error bars and an optional reference line.
- ``gradient(df, *, title, group="imd_quintile", ..., fitted=None)`` -- point + CI
  across deprivation quintiles with the fitted SII line optional.
- ``small_multiples(df, *, facet, group, title, ..., columns=3, independent=True)``.
- ``pyramid(df, *, title, age="age_band", sex="sex", value="value", sexes=("female","male"))``.
- ``funnel(df, *, limits, target, title, unit="unit", value="value",
  denominator="denominator", flag=None, limit="99.8")`` -- units coloured
  below/within/above, 95% and 99.8% limit lines.
- ``choropleth(df, *, geojson, title, key="lsoa", feature_key=None, value="value",
  label=None, classes="quantize"|"ordinal", projection="auto", precision=None)`` --
  suppressed areas grey, dashed, labelled "Suppressed [c]".
- ``hex_map(df, *, title, key="lsoa", q="q", r="r", value="value", group=None)``,
  ``hex_layout(areas_df, *, key="lsoa", group="locality")``, ``hex_geojson(df, *, key, q, r)``.
- ``mitigation_scatter(df, *, title, x="performance", y="disparity", label="method", highlight=None)``.
- ``heatmap(df, *, x, y, title, value="value", x_order=None, y_order=None,
  scheme="sequential"|"diverging")`` -- diverging: centred on zero (signed values).
- ``padded_domain(values, *, pad=0.1)`` -- an axis range that never goes below 0 for non-negative values.
- ``binned(df, *, x, title, value="value", lower=None, upper=None, colour=None, mark="line"|"bar")``
  -- binned averages such as SHAP dependence.

HTML:

- ``figure_html(chart, *, id, title, description, data, download_href, asset_prefix="",
  caption=None, columns=None, formats=None, include_script=True) -> str``.
- ``write_chart_assets(dest_dir) -> Path`` writes ``dest_dir/healthgap-charts.js``;
  figures load ``{asset_prefix}site_libs/healthgap/healthgap-charts.js`` (``ASSET_PATH``),
  so the renderer should call ``write_chart_assets(site_dir / "site_libs" / "healthgap")``.
- ``chart_spec(chart) -> dict``, ``static_svg(spec) -> str``, ``theme_config()``,
  ``ChartError``, ``THEME``, ``SHOW_NUMBERS`` (the label of each chart's data table).
"""

from __future__ import annotations

from healthgap.charts._common import THEME, ChartError, theme_config
from healthgap.charts.builders import ci_chart, gradient, pyramid, small_multiples
from healthgap.charts.comparisons import binned, funnel, heatmap, mitigation_scatter, padded_domain
from healthgap.charts.html import (
    ASSET_PATH,
    BUNDLE_NAME,
    SHOW_NUMBERS,
    chart_spec,
    figure_html,
    static_svg,
    write_chart_assets,
)
from healthgap.charts.maps import choropleth, hex_geojson, hex_layout, hex_map

__all__ = [
    "ci_chart",
    "gradient",
    "small_multiples",
    "pyramid",
    "funnel",
    "choropleth",
    "hex_map",
    "hex_layout",
    "hex_geojson",
    "mitigation_scatter",
    "heatmap",
    "binned",
    "figure_html",
    "write_chart_assets",
    "chart_spec",
    "static_svg",
    "theme_config",
    "ChartError",
    "THEME",
    "ASSET_PATH",
    "BUNDLE_NAME",
    "SHOW_NUMBERS",
    "padded_domain",
]
