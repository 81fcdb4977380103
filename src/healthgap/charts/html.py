"""Accessible HTML figures, and the chart JavaScript served from the site itself.

- :func:`figure_html` -- ``<figure>`` with a static SVG (works without JavaScript),
  the Vega-Lite spec, a caption, a screen-reader description, a "Show the
  numbers" table and a download link.
- :func:`write_chart_assets` -- writes the one JavaScript bundle (Vega, Vega-Lite,
  vega-embed and the page snippet) that turns every figure on a page into a
  live SVG chart; no CDN is ever used.
- :func:`chart_spec`, :func:`static_svg`; ``ASSET_PATH``, ``BUNDLE_NAME``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import vl_convert as vlc

from healthgap.charts._common import ChartError
from healthgap.disclosure import OFF_PREFIX, assert_publishable
from healthgap.downloads import download_link, link_text
from healthgap.tables import table_html

__all__ = [
    "figure_html",
    "write_chart_assets",
    "chart_spec",
    "static_svg",
    "without_line_separators",
    "ASSET_PATH",
    "BUNDLE_NAME",
    "SNIPPET",
    "FIT_SNIPPET",
    "SHOW_NUMBERS",
]

BUNDLE_NAME = "healthgap-charts.js"
ASSET_PATH = f"site_libs/healthgap/{BUNDLE_NAME}"
#: The label of the disclosure widget holding each chart's data table; pages that
#: tell readers where to find it quote this constant, so the words cannot drift.
SHOW_NUMBERS = "Show the numbers"
ERR_ID = "figure_html(): `id` must be a non-empty string without spaces, e.g. 'fig-rates-imd'; got {id!r}."
ERR_TEXT = "figure_html(): `{arg}` must be a non-empty string: every figure needs a {what}."
ERR_CHART = "figure_html(): expected an Altair chart (or a Vega-Lite spec dict); got {kind}."

#: Runs in the browser: renders every ``div.hg-chart[data-hg-spec]`` once with the SVG renderer,
#: replacing its static SVG only after the live chart is ready, and fits each chart to its
#: container (:data:`FIT_SNIPPET`): a chart drawn wider than the column is drawn again with
#: fewer small-multiple columns (they wrap), narrower panels, or, for a single or layered view,
#: the width of the container with the axes and legend inside it (Vega-Lite ``autosize:
#: fit-x``). Charts are fitted again when the window's width changes.
FIT_SNIPPET = r"""
function hgDrawnWidth(target) {
  const svg = target.querySelector("svg");
  if (!svg) return 0;
  const w = parseFloat(svg.getAttribute("width"));
  return isNaN(w) ? svg.getBoundingClientRect().width : w;
}
function hgTextWidth(text, px, weight, font) {
  // the width of `text` in px: measured with a canvas in a browser, else estimated (0.6 em a letter)
  if (typeof document !== "undefined" && document.createElement) {
    const ctx = (hgTextWidth.canvas = hgTextWidth.canvas || document.createElement("canvas")).getContext("2d");
    if (ctx) { ctx.font = weight + " " + px + "px " + font; return ctx.measureText(text).width; }
  }
  return text.length * px * 0.6;
}
function hgWrapLines(text, px, weight, font, avail) {
  // `text` broken between words into lines no wider than `avail` px (a word longer stays whole)
  const lines = [];
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const last = lines.length ? lines[lines.length - 1] + " " + word : null;
    if (last !== null && hgTextWidth(last, px, weight, font) <= avail) { lines[lines.length - 1] = last; }
    else { lines.push(word); }
  }
  return lines;
}
function hgWrapTitle(s, avail) {
  // Break a chart title (and subtitle) wider than `avail` into lines; true when something changed.
  if (!s.title) return false;
  const t = typeof s.title === "object" && !Array.isArray(s.title) ? s.title : {text: s.title};
  const c = (s.config && s.config.title) || {};
  const font = c.font || (s.config && s.config.font) || "sans-serif";
  let changed = false;
  for (const [key, px, weight] of [["text", c.fontSize || 13, c.fontWeight || "bold"],
                                   ["subtitle", c.subtitleFontSize || 10, c.subtitleFontWeight || "normal"]]) {
    if (typeof t[key] !== "string" || hgTextWidth(t[key], px, weight, font) <= avail) continue;
    const lines = hgWrapLines(t[key], px, weight, font, avail);
    if (lines.length > 1) { t[key] = lines; changed = true; }
  }
  if (changed) s.title = t;
  return changed;
}
function hgFit(spec, avail, drawn) {
  // A copy of `spec` that should draw at most `avail` px wide, given it drew `drawn` px; null if
  // nothing more can be done or nothing needs doing. Steps, one at a time: fewer small-multiple
  // columns; the title broken into lines; narrower panels (or a single view the container's width).
  if (!(drawn > avail + 1)) return null;
  const s = JSON.parse(JSON.stringify(spec));
  if (s.facet && s.spec) {
    const cols = typeof s.columns === "number" ? s.columns : 1;
    if (cols > 1) {
      const fit = Math.max(1, Math.floor(avail / (drawn / cols)));
      if (fit < cols) { s.columns = fit; return s; }
    }
    if (hgWrapTitle(s, avail - 10)) return s;
    if (typeof s.spec.width === "number" && s.spec.width > 80) {
      s.spec.width = Math.max(80, Math.floor(s.spec.width - (drawn - avail) / cols) - 2);
      return s;
    }
    return null;
  }
  if (s.hconcat) { s.vconcat = s.hconcat; delete s.hconcat; hgWrapTitle(s, avail - 10); return s; }
  if (s.layer || s.mark) {
    const wrapped = hgWrapTitle(s, avail - 10);
    if (s.width === Math.floor(avail) && s.autosize) return wrapped ? s : null;
    s.width = Math.floor(avail);
    s.autosize = {type: "fit-x", contains: "padding"};
    return s;
  }
  return null;
}
"""

SNIPPET = (
    FIT_SNIPPET
    + r"""
function hgAvailable(el) {
  // the width the chart may take (0 when unknown, e.g. a hidden container: then it is not fitted)
  const style = typeof getComputedStyle === "function" ? getComputedStyle(el) : {};
  const width = el.clientWidth || 0;
  return Math.max(0, width - (parseFloat(style.paddingLeft) || 0) - (parseFloat(style.paddingRight) || 0));
}
async function hgDraw(el, spec, opts) {
  const measured = hgAvailable(el);
  const avail = measured > 0 ? measured : Infinity;
  const natural = el.style && el.style.getPropertyValue ? (parseFloat(el.style.getPropertyValue("--hg-chart-width")) || 0) : 0;
  let current = natural > avail + 1 ? (hgFit(spec, avail, natural) || spec) : spec;
  let target = null, result = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (result) { result.finalize(); }
    target = document.createElement("div");
    target.className = "hg-live";
    result = await vegaEmbed(target, current, opts);
    const drawn = hgDrawnWidth(target);
    if (drawn <= avail + 1) break;
    const next = hgFit(current, avail, drawn);
    if (!next || JSON.stringify(next) === JSON.stringify(current)) break;
    current = next;
  }
  const svg = target.querySelector("svg");
  if (svg) { svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false"); }
  el.replaceChildren(target);
  el.setAttribute("data-hg-width", String(Math.round(measured)));
  return result;
}
const hgCharts = new Map();
function hgRender(root, options) {
  const scope = root || document;
  const opts = Object.assign({renderer: "svg", actions: false}, options || {});
  const els = scope.querySelectorAll("div.hg-chart[data-hg-spec]:not([data-hg-rendered])");
  const done = [];
  for (const el of els) {
    el.setAttribute("data-hg-rendered", "1");
    const source = document.getElementById(el.getAttribute("data-hg-spec"));
    if (!source) continue;
    let spec;
    try { spec = JSON.parse(source.textContent); } catch (err) { console.error("healthgap: bad chart spec", el.id, err); continue; }
    const entry = {spec: spec, opts: opts, result: null};
    hgCharts.set(el, entry);
    done.push(hgDraw(el, spec, opts).then(function (result) { entry.result = result; return result; })
      .catch(function (err) { console.error("healthgap: chart failed, keeping the static image", el.id, err); }));
  }
  return Promise.all(done);
}
let hgResizeTimer = null;
function hgRefit() {
  for (const [el, entry] of hgCharts) {
    if (!entry.result || !el.isConnected) continue;
    const avail = hgAvailable(el);
    if (avail <= 0 || Math.abs(avail - (parseFloat(el.getAttribute("data-hg-width")) || 0)) < 24) continue;
    entry.result.finalize();
    entry.result = null;
    hgDraw(el, entry.spec, entry.opts).then(function (result) { entry.result = result; })
      .catch(function (err) { console.error("healthgap: chart failed", el.id, err); });
  }
}
if (typeof window !== "undefined") {
  window.healthgapCharts = {vegaEmbed: vegaEmbed, render: hgRender, fit: hgFit};
  if (typeof window.addEventListener === "function") {
    window.addEventListener("resize", function () { clearTimeout(hgResizeTimer); hgResizeTimer = setTimeout(hgRefit, 200); });
  }
  if (typeof document !== "undefined") {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", function () { hgRender(); }); }
    else { hgRender(); }
  }
}
"""
)


def _vl_version() -> str | None:
    """The Vega-Lite version Altair writes, in vl-convert's ``major.minor`` form, if vl-convert has it."""
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vlc.get_vegalite_versions() else None


def write_chart_assets(dest_dir: str | Path) -> Path:
    """Write ``dest_dir/healthgap-charts.js``: Vega, Vega-Lite and vega-embed plus :data:`SNIPPET`.

    The bundle is a classic script (no imports/exports), wrapped in a guard so it
    runs once per page even if included by several figures; load it with
    ``<script src=... defer>`` (works from ``file://`` too).

    Returns
    -------
    Path
        The written file.

    References
    ----------
    .. [1] vl-convert ``javascript_bundle``, https://github.com/vega/vl-convert
    .. [2] vega-embed, https://github.com/vega/vega-embed
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    bundle = vlc.javascript_bundle(SNIPPET, vl_version=_vl_version())
    guarded = (
        "/* healthgap charts: Vega, Vega-Lite, vega-embed (BSD-3-Clause) bundled by vl-convert. */\n"
        "if (typeof window === 'undefined' || !window.__healthgapChartsLoaded) {\n"
        "if (typeof window !== 'undefined') { window.__healthgapChartsLoaded = true; }\n"
        f"(function () {{\n{bundle}\n}})();\n}}\n"
    )
    path = dest / BUNDLE_NAME
    path.write_text(guarded, encoding="utf-8")
    return path


def chart_spec(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec (dict) of an Altair chart, or a copy of a spec dict."""
    if isinstance(chart, dict):
        return json.loads(json.dumps(chart))
    if hasattr(chart, "to_dict"):
        return chart.to_dict()
    raise ChartError(ERR_CHART.format(kind=type(chart).__name__))


def static_svg(spec: Mapping[str, Any]) -> str:
    """Render a Vega-Lite spec to SVG offline with vl-convert (inline data only, no network).

    References
    ----------
    .. [1] vl-convert ``vegalite_to_svg``, https://github.com/vega/vl-convert
    """
    return vlc.vegalite_to_svg(dict(spec), vl_version=_vl_version())


def _scope_ids(svg: str, prefix: str) -> str:
    """Prefix ids (gradients, clip paths) of an inline SVG so figures on one page never clash."""
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)


#: U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, written as a space in chart specs.
_LINE_SEPARATORS = re.compile("[\u2028\u2029]|\\\\u202[89]", re.IGNORECASE)


def without_line_separators(value: Any) -> Any:
    """A copy of a Vega-Lite spec (or part of one) with U+2028 and U+2029 replaced by spaces.

    Vega's expression parser (ES5 rules) rejects these characters inside string literals
    ("Unexpected token ILLEGAL"), and Vega-Lite copies data values into expressions (a sort
    order, a label test), so one locality or practice code containing U+2028 made the chart,
    and with it the render, fail. Every string, keys and data included, is changed the same
    way (their escaped forms too), so the spec stays consistent; the table and the download
    keep the original text.
    """
    if isinstance(value, str):
        return _LINE_SEPARATORS.sub(" ", value)
    if isinstance(value, dict):
        return {without_line_separators(k): without_line_separators(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_line_separators(v) for v in value]
    return value


def _script_json(spec: Mapping[str, Any]) -> str:
    """JSON safe inside <script>: no '</script>', '<!--' or U+2028/9 can end or break the element."""
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def figure_html(
    chart: Any,
    *,
    id: str,
    title: str,
    description: str,
    data: pl.DataFrame,
    download_href: str | None,
    asset_prefix: str = "",
    caption: str | None = None,
    columns: Mapping[str, str] | None = None,
    formats: Mapping[str, str | tuple[str, int]] | None = None,
    include_script: bool = True,
    own_caption: bool = True,
) -> str:
    """An accessible HTML figure for an Altair chart.

    Parameters
    ----------
    chart : Altair chart built from aggregated, protected data (or a Vega-Lite spec dict).
    id : HTML id of the figure (unique on the page).
    title : shown as the figure caption (and the numbers table's caption).
    description : text alternative read by screen readers (``aria-label``): say what
        the chart shows and its main message.
    data : the numbers behind the chart, shown under :data:`SHOW_NUMBERS` ("Show the numbers").
    download_href : link to the CSV download of ``data`` (None: no link); its text names
        the chart (:func:`healthgap.downloads.link_text`).
    asset_prefix : ``""`` for pages at the site root, ``"../"`` for pages in ``chapters/``.
    caption : optional sentence after the title in the caption.
    columns, formats : passed to :func:`healthgap.tables.table_html`.
    include_script : add the ``<script>`` tag loading the chart bundle. Including it
        in every figure is safe: the bundle guards itself to run once per page.
    own_caption : write the title as the figure's ``<figcaption>``. Pass False when the
        page's renderer adds its own numbered caption from the cell's ``fig-cap``
        (Quarto), so the title is not shown twice; the figure is then labelled
        with ``aria-label``.

    Returns
    -------
    str
        ``<figure>`` HTML.

    Raises
    ------
    healthgap.disclosure.DisclosureError
        The spec or the data could identify people.

    References
    ----------
    .. [1] W3C WAI. Complex images (long descriptions and data tables),
       https://www.w3.org/WAI/tutorials/images/complex/
    .. [2] WCAG 2.2 SC 1.1.1 Non-text Content.
    """
    if not isinstance(id, str) or not id.strip() or any(ch.isspace() for ch in id):
        raise ChartError(ERR_ID.format(id=id))
    for arg, value, what in (("title", title, "title"), ("description", description, "text description")):
        if not isinstance(value, str) or not value.strip():
            raise ChartError(ERR_TEXT.format(arg=arg, what=what))
    spec = without_line_separators(chart_spec(chart))
    spec["description"] = without_line_separators(description)
    off = (
        "suppression_reason" in data.columns
        and data.height > 0
        and data.select(
            pl.col("suppression_reason").cast(pl.String).str.starts_with(OFF_PREFIX).fill_null(False).all()
        ).item()
    )
    if not off:
        assert_publishable(spec)
    svg = _scope_ids(static_svg(spec), f"{id}-svg")
    natural = re.search(r'<svg[^>]*\swidth="([0-9.]+)"', svg)
    width_var = f"--hg-chart-width:{float(natural.group(1)):g}px;" if natural else ""
    table = table_html(  # inside <details>, not a numbered float: it always keeps its own caption
        data,
        id=f"{id}-table",
        caption=f"The numbers: {title}",
        columns=columns,
        formats=formats,
        own_caption=True,
    )
    esc = html.escape
    parts = [
        f'<figure class="hg-figure" id="{esc(id)}" aria-labelledby="{esc(id)}-caption">'
        if own_caption
        else f'<figure class="hg-figure" id="{esc(id)}" aria-label="{esc(title)}">',
        f'<div class="hg-chart" id="{esc(id)}-chart" role="img" aria-label="{esc(description)}" '
        f'data-hg-spec="{esc(id)}-spec" tabindex="0" style="{width_var}max-width:100%;overflow-x:auto">'
        f'<div class="hg-static" aria-hidden="true">{svg}</div></div>',
        f'<script type="application/json" id="{esc(id)}-spec">{_script_json(spec)}</script>',
        (
            f'<figcaption id="{esc(id)}-caption"><strong>{esc(title)}</strong>'
            + (f" {esc(caption)}" if caption else "")
            + "</figcaption>"
            if own_caption
            else (f'<p class="hg-caption">{esc(caption)}</p>' if caption else "")
        ),
        f'<details class="hg-numbers"><summary>{esc(SHOW_NUMBERS)}</summary>\n{table}\n</details>',
    ]
    if download_href:  # the link names the chart: "Download the data for <title> (CSV)"
        parts.append(download_link(download_href, link_text(title, kind="figure")))
    if include_script:
        parts.append(f'<script src="{esc(asset_prefix)}{ASSET_PATH}" defer></script>')
    parts.append("</figure>")
    return "\n".join(parts)
