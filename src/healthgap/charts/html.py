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
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import vl_convert as vlc

from healthgap._svgwire import ENV_SOCKET, request_svg
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
    // a title or subtitle of several lines (e.g. the value's name and the '[c]'/'[x]' keys) is
    // broken line by line
    const given = typeof t[key] === "string" ? [t[key]] : Array.isArray(t[key]) ? t[key].map(String) : null;
    if (!given || given.every((line) => hgTextWidth(line, px, weight, font) <= avail)) continue;
    const lines = given.flatMap((line) => hgWrapLines(line, px, weight, font, avail));
    if (lines.length > given.length) { t[key] = lines; changed = true; }
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
function hgLegends(spec, visit) {
  // call `visit(legend)` for every legend of a single or layered view (creating none); the count
  let n = 0;
  for (const view of [spec, ...(Array.isArray(spec.layer) ? spec.layer : [])]) {
    for (const channel of Object.values(view.encoding || {})) {
      if (channel && typeof channel === "object" && channel.legend && typeof channel.legend === "object") {
        visit(channel.legend); n++;
      }
    }
  }
  return n;
}
function hgLegendsAt(spec, x, y) {
  // A copy of a single or layered view whose legends are placed at (x, y) from the plot's top-left
  // corner (Vega-Lite orient "none"), e.g. moved left under the y axis' labels on a phone, where a
  // legend above the plot would run off the right edge; null when it has no legend to move.
  if (spec.facet || !(spec.layer || spec.mark)) return null;
  const s = JSON.parse(JSON.stringify(spec));
  const n = hgLegends(s, (legend) => {
    if (legend.orient && !["top", "bottom"].includes(legend.orient)) return;
    legend.orient = "none"; legend.legendX = Math.round(x); legend.legendY = Math.round(y);
  });
  return n ? s : null;
}
function hgTitleAtEnd(spec) {
  // A copy whose x-axis titles end at the plot's right edge (over the free room under the y axis'
  // labels) instead of being centred under a narrow plot and running off; null if already so.
  const s = JSON.parse(JSON.stringify(spec));
  s.config = s.config || {};
  if (s.config.axisX && s.config.axisX.titleAnchor === "end") return null;
  s.config.axisX = Object.assign({}, s.config.axisX, {titleAnchor: "end"});
  return s;
}
function hgTextRoom(spec, left, right, plot) {
  // A copy of a single or layered view drawn to its container's width (autosize fit-x) with
  // `left`/`right` px more padding, so that text running past its edges (labels beside points)
  // comes inside as the plot (`plot` px wide now) narrows; null for other charts, or when the plot
  // would be narrower than 100 px.
  if (spec.facet || !(spec.layer || spec.mark) || !spec.autosize || typeof spec.width !== "number") return null;
  if (!(plot - Math.max(0, left) - Math.max(0, right) - 4 >= 100)) return null;
  const s = JSON.parse(JSON.stringify(spec));
  const p = typeof s.padding === "number" ? {top: s.padding, left: s.padding, right: s.padding, bottom: s.padding}
    : Object.assign({top: 5, left: 5, right: 5, bottom: 5}, s.padding || {});
  p.left += Math.ceil(Math.max(0, left)) + (left > 0 ? 2 : 0);
  p.right += Math.ceil(Math.max(0, right)) + (right > 0 ? 2 : 0);
  s.padding = p;
  return s;
}
function hgTextLimit(spec, limit) {
  // A copy whose text marks (labels beside points or bars) stop at `limit` px with an ellipsis
  // (their full text is in the figure's table of numbers); null when it has none or no change.
  const s = JSON.parse(JSON.stringify(spec));
  let n = 0;
  for (const view of [s, ...(Array.isArray(s.layer) ? s.layer : [])]) {
    const type = typeof view.mark === "string" ? view.mark : view.mark && view.mark.type;
    if (type !== "text") continue;
    if (typeof view.mark === "string") view.mark = {type: "text"};
    if (typeof view.mark.limit === "number" && view.mark.limit <= limit) continue;
    view.mark.limit = Math.max(40, Math.floor(limit));
    n++;
  }
  return n ? s : null;
}
function hgTitleDown(spec, dy) {
  // A copy with `dy` px more room above the plot: the title moved up (its offset), or without a
  // title, more padding; the legend moved out of the layout (hgLegendsAt) goes in that room.
  const s = JSON.parse(JSON.stringify(spec));
  if (s.title) {
    const t = typeof s.title === "object" && !Array.isArray(s.title) ? s.title : {text: s.title};
    t.offset = (typeof t.offset === "number" ? t.offset : 0) + Math.round(dy);
    s.title = t;
  } else {
    const p = typeof s.padding === "number" ? s.padding : 5;
    s.padding = {top: p + Math.round(dy), left: p, right: p, bottom: p};
  }
  return s;
}
"""

SNIPPET = (
    FIT_SNIPPET
    + r"""
function hgTextOverflow(target) {
  // how far (px) the drawn chart's text runs past the left and right edges of its SVG (cut off)
  const svg = target.querySelector("svg");
  const over = {left: 0, right: 0};
  if (!svg || !svg.getBoundingClientRect) return over;
  const box = svg.getBoundingClientRect();
  for (const t of svg.querySelectorAll("text")) {
    const r = t.getBoundingClientRect();
    if (!r.width) continue;
    over.left = Math.max(over.left, box.left - r.left);
    over.right = Math.max(over.right, r.right - box.right);
    if (r.right > box.right + 1) over.widest = Math.max(over.widest || 0, r.width);
  }
  return over;
}
function hgLegendPlace(target) {
  // where the chart's first legend is drawn, from the plot's top-left corner (its transform)
  const g = target.querySelector("g.role-legend > g");
  const m = g && /translate\(\s*([-0-9.e]+)[ ,]+([-0-9.e]+)\s*\)/.exec(g.getAttribute("transform") || "");
  return m ? {x: parseFloat(m[1]), y: parseFloat(m[2])} : null;
}
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
  let target = null, result = null, moved = null;
  for (let attempt = 0; attempt < 8; attempt++) {
    if (result) { result.finalize(); }
    target = document.createElement("div");
    target.className = "hg-live";
    target.style.cssText = "position:absolute;visibility:hidden";
    el.appendChild(target);  // laid out (unseen), so that its text can be measured
    result = await vegaEmbed(target, current, opts);
    const drawn = hgDrawnWidth(target), over = hgTextOverflow(target), at = hgLegendPlace(target);
    if (target.parentNode) target.parentNode.removeChild(target);
    if (drawn <= avail + 1) {
      const origin = result.view.origin();
      if (typeof moved === "number") {
        // the moved legend no longer takes room above the plot: give it back, above the title
        const dy = moved - origin[1];
        moved = true;
        if (dy > 1) { current = hgTitleDown(current, dy + 6); continue; }
      }
      if (over.left <= 1 && over.right <= 1) break;
      // it fits, but some of its text is cut off at an edge
      const legend = moved === null && at && over.right > 1 ? hgLegendsAt(current, 5 - origin[0], at.y) : null;
      if (legend) { moved = origin[1]; current = legend; continue; }  // a legend above the plot: move it left
      // an x-axis title under a narrow plot: end it at the plot's edge; labels beside marks: narrow
      // the plot until they are inside, else shorten them
      const plot = typeof result.view.width === "function" ? result.view.width() : 0;
      const next = (over.right > 1 ? hgTitleAtEnd(current) : null)
        || hgTextRoom(current, over.left > 1 ? over.left : 0, over.right > 1 ? over.right : 0, plot)
        || (over.widest ? hgTextLimit(current, over.widest - over.right - 4) : null);
      if (!next) break;
      current = next;
      continue;
    }
    const next = hgFit(current, avail, drawn);
    if (!next || JSON.stringify(next) === JSON.stringify(current)) break;
    current = next;
  }
  target.style.cssText = "";
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


def bundle_command() -> list[str]:
    """A command whose standard output is vl-convert's bundle for :data:`SNIPPET`.

    ``javascript_bundle`` takes about 1 s of CPU and holds the GIL; the built-in renderer runs
    this command while the chapters execute and gives its output to :func:`write_chart_assets`.
    """
    code = (
        "import sys, vl_convert; "
        "sys.stdout.write(vl_convert.javascript_bundle(sys.argv[1], vl_version=sys.argv[2] or None))"
    )
    return [sys.executable, "-c", code, SNIPPET, _vl_version() or ""]


def write_chart_assets(dest_dir: str | Path, *, bundle: str | None = None) -> Path:
    """Write ``dest_dir/healthgap-charts.js``: Vega, Vega-Lite and vega-embed plus :data:`SNIPPET`.

    The bundle is a classic script (no imports/exports), wrapped in a guard so it
    runs once per page even if included by several figures; load it with
    ``<script src=... defer>`` (works from ``file://`` too). ``bundle`` is the output of
    :func:`bundle_command` when the caller has run it already; by default it is made here.

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
    if bundle is None:
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
    """The Vega-Lite spec (dict) of an Altair chart, or a copy of a spec dict.

    Altair's schema validation is left out: it took about a third of the time of building a
    chart's spec, and gives the same dict. Every spec a book publishes is validated against the
    Vega-Lite schema by the tests instead (``tests/test_any_dataset.py``, rule ``invalid-spec``,
    on four rendered books).
    """
    if isinstance(chart, dict):
        return json.loads(json.dumps(chart))
    if hasattr(chart, "to_dict"):
        return chart.to_dict(validate=False)
    raise ChartError(ERR_CHART.format(kind=type(chart).__name__))


#: Seconds each step of a conversion by the renderer's chart converter (connecting, sending,
#: waiting for the reply) may take before the chart is drawn in this process instead.
SVG_SERVICE_TIMEOUT = 60.0
#: Converter sockets that failed in this process: not tried again (one wait at most per kernel).
_failed_services: set[str] = set()


def static_svg(spec: Mapping[str, Any]) -> str:
    """Render a Vega-Lite spec to SVG offline with vl-convert (inline data only, no network).

    When the environment variable ``HEALTHGAP_SVG_SOCKET`` names the socket of the renderer's
    chart converter (:func:`healthgap.render.svgserver.svg_service`), the spec is converted
    there, by the same ``vegalite_to_svg`` call, so that a render starts vl-convert's V8 engine
    once instead of once per chapter. Without it (Quarto, Jupyter, tests), or when the converter
    fails in any way, the spec is converted in this process: the SVG, and the error a spec
    vl-convert rejects raises, are the same either way. Clip-path and gradient ids are numbered
    as by a new V8 engine (:func:`_fresh_ids`), so the SVG depends on the spec alone, not on the
    charts the same engine drew before.

    References
    ----------
    .. [1] vl-convert ``vegalite_to_svg``, https://github.com/vega/vl-convert
    """
    spec = dict(spec)
    vl_version = _vl_version()
    svg = _svg_from_service(spec, vl_version)
    if svg is None:
        svg = vlc.vegalite_to_svg(spec, vl_version=vl_version)
    return _fresh_ids(svg)


#: The ids Vega numbers with counters that live as long as its V8 engine: clip paths
#: (``clip1``, ``clip2``, ...) and gradients (``gradient_0``, ...; a radial gradient's pattern is
#: ``p_gradient_0``), as they appear in an SVG's ``id``, ``url(#...)`` and ``href``.
_COUNTED_ID = re.compile(r'(id="|url\(#|href="#)(p_)?(clip|gradient_)([0-9]+)(?=[")])')
#: The first number of each counter in a new engine.
_FIRST_NUMBER = {"clip": 1, "gradient_": 0}


def _fresh_ids(svg: str) -> str:
    """``svg`` with its clip-path and gradient ids numbered as the first conversion of a new
    V8 engine numbers them, so the SVG depends on its spec alone.

    Vega's counters run on across conversions, so the same spec drew ``clip6`` after a chart
    that used five clip paths, and the ids depended on which charts the same engine had drawn
    before: the kernel's earlier charts, or, through the renderer's shared converter
    (:mod:`healthgap.render.svgserver`), any chapter's. The numbers keep their order.
    """
    found: dict[str, set[int]] = {kind: set() for kind in _FIRST_NUMBER}
    for match in _COUNTED_ID.finditer(svg):
        found[match[3]].add(int(match[4]))
    if not any(found.values()):
        return svg
    renumber = {
        kind: {n: _FIRST_NUMBER[kind] + rank for rank, n in enumerate(sorted(numbers))}
        for kind, numbers in found.items()
    }
    return _COUNTED_ID.sub(lambda m: f"{m[1]}{m[2] or ''}{m[3]}{renumber[m[3]][int(m[4])]}", svg)


def _svg_from_service(spec: dict[str, Any], vl_version: str | None) -> str | None:
    """The SVG from the renderer's chart converter, or None to convert in this process.

    None when no converter is named, it failed before in this process, it cannot be reached or
    gives no valid reply (it is then not tried again), the spec cannot be sent unchanged, or
    vl-convert rejected the spec (converting it here raises vl-convert's own error).
    """
    path = os.environ.get(ENV_SOCKET)
    if not path or path in _failed_services:
        return None
    try:
        svg, _error = request_svg(
            path,
            spec,
            vl_version=vl_version,
            converter=getattr(vlc, "__version__", ""),
            timeout=SVG_SERVICE_TIMEOUT,
        )
    except OSError:
        _failed_services.add(path)
        return None
    except Exception:  # the spec cannot travel as JSON unchanged (NaN, an object): convert here
        return None
    return svg


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
    settings: Any = None,
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
    settings : the config's disclosure settings
        (:class:`~healthgap.config.DisclosureSettings`), which the checks of the spec and the
        numbers table use; the default settings when None.

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
        assert_publishable(spec, settings=settings)
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
        settings=settings,
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
