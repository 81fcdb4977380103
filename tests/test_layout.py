"""Reading on any screen: the layout checks the browser tests run at 390 px (a phone) and 1280 px.

On every page of a built site (tests/test_accessibility.py drives Chromium over the whole book,
with axe-core; the fixture site here shows what each check catches):

- no element of the main column sticks out of it sideways, except content scrolled inside a
  container that itself fits the column, and the page itself never scrolls sideways;
- every chart is drawn live (an ``svg`` in ``.hg-live``) and fits its container: it is drawn
  no wider than the container (so it is not shrunk, text and all, to fit) and never scrolls
  sideways (healthgap-charts.js draws it again narrower: small multiples wrap, single charts
  take the container's width);
- anything that does scroll sideways (a wide table) is a named, keyboard-focusable region
  (``role="region"``, ``tabindex="0"``, ``aria-label``) with a visible focus style.

"Show the numbers" panels are opened first, so the tables inside them are checked too. A
screenshot of each page at each width is saved (``$HEALTHGAP_SCREENSHOTS``, else a temporary
folder; whole pages when ``HEALTHGAP_SCREENSHOTS_FULL=1``).
"""

from __future__ import annotations

import base64
import functools
import http.server
import os
import re
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CSS = REPO / "_extensions" / "nhs" / "nhs.css"

#: The two widths every page is checked at: a phone (390 px) and a laptop (1280 px).
WIDTHS = (1280, 390)

OPEN_DETAILS = "document.querySelectorAll('details').forEach((d) => { d.open = true; }); true"

#: Runs in the page; returns {problems, count, charts, drawn, regions, focus}.
LAYOUT_CHECK = r"""
(() => {
  const main = document.querySelector("main") || document.body;
  const box = main.getBoundingClientRect();
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const scrolls = (el) => ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(el).overflowX);
  const inside = (r) => r.left >= box.left - 1 && r.right <= box.right + 1;
  const problems = [];
  for (const el of main.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || inside(r)) continue;
    let p = el.parentElement, clipped = false;
    while (p && p !== main) {
      if (scrolls(p) && inside(p.getBoundingClientRect())) { clipped = true; break; }
      p = p.parentElement;
    }
    if (!clipped) {
      problems.push(describe(el) + " spans " + Math.round(r.left) + "-" + Math.round(r.right)
        + " px, outside the main column " + Math.round(box.left) + "-" + Math.round(box.right) + " px");
    }
  }
  const regions = [];
  let focus = null;
  for (const el of main.querySelectorAll("*")) {
    if (!scrolls(el) || el.scrollWidth <= el.clientWidth + 1) continue;
    if (el.matches(".hg-chart")) {
      problems.push(describe(el) + ": the chart is wider than its container (" + el.scrollWidth + " > " + el.clientWidth + " px)");
      continue;
    }
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    const named = (el.getAttribute("aria-label") || "").trim()
      || (ids.length && ids.every((id) => (document.getElementById(id) || {}).textContent));
    if (el.getAttribute("role") !== "region" || el.getAttribute("tabindex") !== "0" || !named) {
      problems.push(describe(el) + " scrolls sideways but is not a named, keyboard-focusable region");
      continue;
    }
    regions.push(el.id || describe(el));
    if (focus === null) {
      el.focus();
      const s = getComputedStyle(el);
      focus = {id: el.id, focused: document.activeElement === el,
               visible: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 || s.boxShadow !== "none"};
      el.blur();
    }
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    problems.push("the page scrolls sideways (" + doc.scrollWidth + " > " + window.innerWidth + " px)");
  }
  if (focus !== null && !(focus.focused && focus.visible)) {
    problems.push("the scroll region #" + focus.id + " has no visible focus style");
  }
  const charts = Array.from(main.querySelectorAll("div.hg-chart[data-hg-spec]"));
  const drawn = charts.filter((c) => c.querySelector(".hg-live svg"));
  const cut = [];
  for (const c of charts) {
    if (!drawn.includes(c)) { problems.push(describe(c) + ": the chart was not drawn"); continue; }
    // drawn wider than its container, the chart would be shrunk to fit and its text with it
    const svg = c.querySelector(".hg-live svg");
    const w = parseFloat(svg.getAttribute("width"));
    if (w > c.clientWidth + 1) {
      problems.push(describe(c) + ": the chart is drawn " + Math.round(w) + " px wide in " + c.clientWidth + " px (its text shrinks)");
    }
    // text (a title, a legend, a label beside a point) running past the SVG's edge is cut off
    const edge = svg.getBoundingClientRect();
    let left = 0, right = 0;
    for (const t of svg.querySelectorAll("text")) {
      const r = t.getBoundingClientRect();
      if (r.width) { left = Math.max(left, edge.left - r.left); right = Math.max(right, r.right - edge.right); }
    }
    if (left > 2 || right > 2) {
      cut.push({id: c.id, text: describe(c) + ": text cut off at the chart's edge (" + Math.round(left) + " px at the left, " + Math.round(right) + " px at the right)"});
    }
  }
  return {problems: problems.slice(0, 40), count: problems.length, charts: charts.length, drawn: drawn.length, regions: regions, cut: cut};
})()
"""

WAIT_FOR_CHARTS = """
new Promise((resolve) => {
  const started = Date.now();
  const check = () => {
    const charts = Array.from(document.querySelectorAll("div.hg-chart[data-hg-spec]"));
    const drawn = charts.filter((c) => c.querySelector(".hg-live svg"));
    if (drawn.length === charts.length || Date.now() - started > 20000) {
      resolve({charts: charts.length, drawn: drawn.length, missing: charts.filter((c) => !drawn.includes(c)).map((c) => c.id)});
    } else { setTimeout(check, 100); }
  };
  check();
})
"""

#: After a resize, wait until every chart was drawn again for its new width (or 10 s).
WAIT_FOR_REFIT = """
new Promise((resolve) => {
  const started = Date.now();
  const check = () => {
    const charts = Array.from(document.querySelectorAll("div.hg-chart[data-hg-spec]"));
    const stale = charts.filter((c) => Math.abs((parseFloat(c.getAttribute("data-hg-width")) || 0) - c.clientWidth) >= 24);
    if (!stale.length || Date.now() - started > 10000) { setTimeout(() => resolve(stale.length), 300); }
    else { setTimeout(check, 100); }
  };
  setTimeout(check, 400);
})
"""


def screenshots_folder(tmp_path_factory) -> Path:
    """Where page screenshots go: ``$HEALTHGAP_SCREENSHOTS``, else a temporary folder."""
    given = os.environ.get("HEALTHGAP_SCREENSHOTS", "").strip()
    folder = Path(given) if given else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def set_width(browser, session: str, width: int) -> None:
    """Emulate a screen ``width`` px wide (a phone below 600 px), 900 px high."""
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
        session=session,
    )


#: Charts whose text is still cut off on a phone (390 px), reported but not failed: the fairness
#: chapter's scatter of mitigations (Figure 7.7), whose point labels and long vertical axis title
#: do not fit 342 px even after healthgap-charts.js shortens the labels and narrows the plot. Its
#: builder needs a phone layout (labels in a legend or the table); remove it here when it has one.
KNOWN_CUT_ON_PHONE: set[str] = set()
#: Text cut off on a phone in charts of :data:`KNOWN_CUT_ON_PHONE`, as "page at width: problem".
CUT_ON_PHONE: list[str] = []


def check_layout(browser, session: str, page: str, width: int, *, redrawn: bool = False) -> list[str]:
    """Open every "Show the numbers" panel and run :data:`LAYOUT_CHECK`; its problems, named.

    Text cut off at a chart's edge is a problem, except on a phone in the charts of
    :data:`KNOWN_CUT_ON_PHONE`, and in charts ``redrawn`` after the window narrowed (a few px on
    two charts, not yet explained): those are recorded in :data:`CUT_ON_PHONE` and printed."""
    browser.evaluate(session, OPEN_DETAILS)
    result = browser.evaluate(session, LAYOUT_CHECK)
    more = f" (and {result['count'] - len(result['problems'])} more)" if result["count"] > 40 else ""
    problems = [f"{page} at {width} px: {p}" for p in result["problems"]] + ([more] if more else [])
    for cut in result["cut"]:
        known = redrawn or (width < 600 and cut["id"] in KNOWN_CUT_ON_PHONE)
        (CUT_ON_PHONE if known else problems).append(f"{page} at {width} px: {cut['text']}")
    return problems


def screenshot(browser, session: str, folder: Path, page: str, width: int) -> Path:
    """Save a PNG of the page (the first screen; the whole page with HEALTHGAP_SCREENSHOTS_FULL=1)."""
    full = os.environ.get("HEALTHGAP_SCREENSHOTS_FULL") == "1"
    shot = browser.send(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": full},
        session=session,
        timeout=120,
    )
    path = folder / f"{re.sub(r'[^A-Za-z0-9]+', '-', page.removesuffix('.html')).strip('-')}-{width}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


# ---- the theme ------------------------------------------------------------------------------


def _rule(css: str, selector: str) -> str:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    m = re.search(r"(?:^|\})\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", css)
    assert m, f"nhs.css has no rule {selector!r}"
    return m.group(1)


def test_theme_scroll_region_for_wide_tables():
    css = CSS.read_text(encoding="utf-8")
    region = _rule(css, ".hg-table")
    assert "overflow-x: auto" in region and "max-width: 100%" in region
    assert region.count("radial-gradient") == 2 and "local" in region  # shadows show there is more
    assert "position: sticky" in _rule(css, '.hg-table th[scope="row"]')
    assert "min-width" in _rule(css, ".hg-table td.hg-long")
    assert '[tabindex]:not([tabindex="-1"]):focus-visible' in css  # the region's focus style


def test_theme_lets_live_charts_fit():
    """Only the static image keeps a minimum width on a phone; the live chart is drawn to fit."""
    css = CSS.read_text(encoding="utf-8")
    assert re.search(r"@media \(max-width: 40rem\) \{\s*\.hg-static svg \{\s*min-width", css)
    assert not re.search(r"\.hg-chart svg \{[^}]*min-width", css)


# ---- the checks catch what they should: a fixture site ----------------------------------------

LAYOUT_PAGE = r"""\
# Layout {#sec-layout}

```{python}
#| label: setup
import altair as alt
import polars as pl
from IPython.display import HTML
from healthgap.charts import figure_html, small_multiples
from healthgap.disclosure import protect
from healthgap.tables import table_html
ages = [f"{a}-{a + 4}" for a in range(0, 90, 5)] + ["90+"]
rows = pl.DataFrame({"condition": [c for c in ("Hypertension", "Diabetes", "Stroke or TIA", "Heart failure") for _ in ages],
                     "age_band": ages * 4, "value": [float(i % 19) for i in range(76)]})
rows = rows.with_columns(lower_ci=pl.col("value") - 0.5, upper_ci=pl.col("value") + 0.5)
wide = pl.DataFrame({"group": ["a", "b"], **{f"column {i} with a long heading": [1000 * i, 2000 * i] for i in range(1, 15)}})
wide = protect(wide, counts=["column 1 with a long heading"])
```

```{python}
#| label: fig-multi
#| fig-cap: "Four panels"
HTML(figure_html(small_multiples(rows, facet="condition", group="age_band",
                                 title="Observed / expected recorded cases by deprivation fifth"), id="multi",
     title="Four panels", description="Prevalence by age band for four conditions.", data=rows,
     download_href=None, asset_prefix="../"))
```

```{python}
#| label: tbl-wide
#| tbl-cap: "A wide table"
HTML(table_html(wide, id="wide", caption="A wide table"))
```

A long inline formula, $\exp\left(\ln R \pm z\sqrt{\operatorname{var}_1/\text{DSR}_1^2 + \operatorname{var}_2/\text{DSR}_2^2}\right)$,
and a short one, $O$.

$$
\text{DSR}_{L,U} = \text{DSR} + \sqrt{\frac{\operatorname{var}(\text{DSR})}{O}}\left(O\left(1 - \frac{1}{9O} \pm \frac{z}{3\sqrt{O}}\right)^3 - O\right) \times \frac{1}{2}
$$

```bash
python3 -m venv .venv
source .venv/bin/activate       # on Windows: .venv\Scripts\activate
```

A long name, `HistGradientBoostingClassifier_with_a_long_suffix_for_a_phone`, breaks.
"""

BROKEN = '<div id="too-wide" style="width: 2000px">A line that does not fit.</div>'


@pytest.fixture(scope="module")
def layout_site(tmp_path_factory):
    from test_render import write_fixture_book

    from healthgap.render import render_book

    root = write_fixture_book(tmp_path_factory.mktemp("layout-book"), {"chapters/extra.qmd": LAYOUT_PAGE})
    return render_book(project=root, out=Path("_site"), engine="builtin", progress=None)


@pytest.mark.browser
def test_layout_checks_catch_overflow_and_accept_fitted_charts_and_table_regions(
    layout_site, tmp_path_factory
):
    from test_accessibility import CHROMIUM, DevTools, _Quiet, missing_tool

    if CHROMIUM is None:
        missing_tool("Chromium is not installed (apt-get install chromium); the browser checks need it")
    page = layout_site / "chapters" / "extra.html"
    html = page.read_text(encoding="utf-8")
    broken = layout_site / "chapters" / "broken.html"
    broken.write_text(
        html.replace("<h2", BROKEN + "<h2", 1)
        if "<h2" in html
        else html.replace("</main>", BROKEN + "</main>")
    )
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(layout_site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    browser = DevTools(CHROMIUM, tmp_path_factory.mktemp("chromium-layout"), [])
    folder = screenshots_folder(tmp_path_factory)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime"):
            browser.send(f"{domain}.enable", session=session)
        for width in WIDTHS:
            set_width(browser, session, width)
            for name in ("chapters/extra.html", "chapters/broken.html"):
                mark = len(browser.events)
                browser.send("Page.navigate", {"url": origin + name}, session=session)
                browser.wait_event("Page.loadEventFired", since=mark)
                assert browser.evaluate(session, WAIT_FOR_CHARTS)["missing"] == []
                problems = check_layout(browser, session, name, width)
                result = browser.evaluate(session, LAYOUT_CHECK)
                if name.endswith("extra.html"):
                    assert problems == [], problems
                    assert result["charts"] == result["drawn"] == 1
                    assert "wide" in result["regions"]  # the wide table scrolls, in its named region
                    if width < 600:  # the display equation and the long inline one scroll in theirs
                        assert {"span.hg-math", "span.hg-math.hg-math-inline"} <= set(result["regions"])
                    screenshot(browser, session, folder, name, width)
                else:
                    assert any("div#too-wide spans" in p for p in problems), problems
        # the chart drawn at 1280 px is drawn again when the window narrows
        set_width(browser, session, 1280)
        mark = len(browser.events)
        browser.send("Page.navigate", {"url": origin + "chapters/extra.html"}, session=session)
        browser.wait_event("Page.loadEventFired", since=mark)
        browser.evaluate(session, WAIT_FOR_CHARTS)
        set_width(browser, session, 390)
        assert browser.evaluate(session, WAIT_FOR_REFIT) == 0
        assert check_layout(browser, session, "extra.html after narrowing", 390) == []
    finally:
        browser.close()
        server.shutdown()
        server.server_close()
