"""Client-side search for the built-in renderer (Quarto books have their own).

Each page is split into sections at its top-level headings; the index (title,
link, text) is written as a script, ``site_libs/nhs/search-index.js``, so it
also works when the site is opened from the file system. ``search.js`` shows
the search box (hidden without JavaScript) and lists matching sections as links
in a live region.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from healthgap.render.pandoc import stringify

__all__ = ["section_entries", "write_search_assets", "SEARCH_JS_HREF", "SEARCH_INDEX_HREF", "SEARCH_FORM"]

SEARCH_JS_HREF = "site_libs/nhs/search.js"
SEARCH_INDEX_HREF = "site_libs/nhs/search-index.js"
_TEXT_LIMIT = 3000

#: The search box in the page header; ``search.js`` removes ``hidden``.
SEARCH_FORM = (
    '<form class="hg-search" role="search" hidden>'
    '<label for="hg-search-input" class="hg-search__label">Search this book</label> '
    '<input id="hg-search-input" class="hg-search__input" type="search" autocomplete="off" '
    'aria-controls="hg-search-results">'
    '<div id="hg-search-results" class="hg-search__results" aria-live="polite"></div>'
    "</form>"
)

SEARCH_JS = r"""(function () {
  "use strict";
  var script = document.currentScript;
  var root = new URL("../../", script ? script.src : document.baseURI);
  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }
  function norm(s) { return (s || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, ""); }
  ready(function () {
    var form = document.querySelector("form.hg-search");
    var index = window.hgSearchIndex;
    if (!form || !index) { return; }
    var input = form.querySelector("input");
    var out = form.querySelector(".hg-search__results");
    var entries = index.map(function (e) { return {e: e, title: norm(e.title), text: norm(e.text)}; });
    form.hidden = false;
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    function show() {
      var terms = norm(input.value).split(/\s+/).filter(Boolean);
      out.textContent = "";
      if (!terms.length) { return; }
      var hits = [];
      entries.forEach(function (x) {
        var score = 0;
        for (var i = 0; i < terms.length; i++) {
          var inTitle = x.title.indexOf(terms[i]) >= 0, inText = x.text.indexOf(terms[i]) >= 0;
          if (!inTitle && !inText) { return; }
          score += inTitle ? 10 : 1;
        }
        hits.push({score: score, e: x.e});
      });
      hits.sort(function (a, b) { return b.score - a.score; });
      var status = document.createElement("p");
      status.className = "hg-search__status";
      status.textContent = hits.length === 0 ? "No results" : hits.length === 1 ? "1 result" : hits.length + " results";
      out.appendChild(status);
      var list = document.createElement("ul");
      hits.slice(0, 12).forEach(function (h) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = new URL(h.e.href, root).href;
        a.textContent = h.e.title;
        li.appendChild(a);
        if (h.e.page && h.e.page !== h.e.title) {
          var where = document.createElement("span");
          where.className = "hg-search__page";
          where.textContent = " (" + h.e.page + ")";
          li.appendChild(where);
        }
        list.appendChild(li);
      });
      if (hits.length) { out.appendChild(list); }
    }
    input.addEventListener("input", show);
    input.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { input.value = ""; show(); } });
  });
})();
"""


def section_entries(blocks: list[Any], *, href: str, title: str) -> list[dict[str, str]]:
    """One search entry per top-level section of a page: title, link and plain text.

    References
    ----------
    .. [1] Quarto, "Website search" (section-level index), https://quarto.org/docs/websites/website-search.html
    """
    entries: list[dict[str, Any]] = [{"href": href, "title": title, "page": title, "text": []}]
    for block in blocks:
        if block.get("t") == "Header" and block["c"][1][0]:
            entries.append(
                {
                    "href": f"{href}#{block['c'][1][0]}",
                    "title": stringify(block["c"][2]),
                    "page": title,
                    "text": [],
                }
            )
        else:
            entries[-1]["text"].append(stringify(block))
    out = []
    for e in entries:
        text = " ".join(" ".join(e["text"]).split())[:_TEXT_LIMIT]
        if text or e is entries[0]:
            out.append({**e, "text": text})
    return out


def write_search_assets(site: Path, entries: list[dict[str, str]]) -> list[str]:
    """Write the search script and index; return their hrefs (relative to the site root)."""
    (site / SEARCH_JS_HREF).parent.mkdir(parents=True, exist_ok=True)
    (site / SEARCH_JS_HREF).write_text(SEARCH_JS, encoding="utf-8")
    data = (
        json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
        .replace("</", "<\\/")
        .replace("\u2028", "\\u2028")  # line terminators in a JavaScript string before ES2019
        .replace("\u2029", "\\u2029")
    )
    (site / SEARCH_INDEX_HREF).write_text(f"window.hgSearchIndex = {data};\n", encoding="utf-8")
    return [SEARCH_INDEX_HREF, SEARCH_JS_HREF]
