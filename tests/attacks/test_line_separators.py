"""Attack 11: a U+2028 LINE SEPARATOR in a locality, practice code or label passed `validate` and
aborted the whole render with "Unexpected token ILLEGAL" from the chart library.

The failure is in Vega's expression parser: Vega-Lite copies data values into expressions (the
sort order of a bar chart), and the parser rejects U+2028/U+2029 inside string literals. The
charts must render, and no JSON embedded in a page (chart specs, the search index) may carry
the raw characters.
"""

from __future__ import annotations

import json

import altair as alt
import polars as pl
import yaml

from healthgap.config import load_config
from healthgap.data import load
from healthgap.render.search import SEARCH_INDEX_HREF, write_search_assets
from tests.conftest import build_people

LS, PS = "\u2028", "\u2029"


def test_a_locality_with_a_line_separator_renders_the_population_figure(book, tmp_path):
    from healthgap.pages.population import PopulationPage

    people = build_people(400).with_columns(
        pl.col("locality").replace({"Ipswich": f"Ips{LS}wich"}),
        pl.col("gp_practice").replace({"D81001": f"D81{PS}001"}),
    )
    people.write_parquet(book / "data" / "people.parquet")
    raw = yaml.safe_load((book / "data" / "default.yml").read_text(encoding="utf-8"))
    for dim in raw["equity"]["dimensions"]:
        if isinstance(dim, dict) and dim.get("name") == "sex":
            dim["labels"] = {"female": f"Fe{LS}male", "male": "Male"}
    (book / "data" / "default.yml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = load_config(book / "data" / "default.yml")
    frame = load(config).collect()
    assert f"Ips{LS}wich" in frame["locality"].to_list()  # validate lets it through, rightly
    page = PopulationPage.for_frame(config, frame, downloads=tmp_path / "dl")
    markup = page.not_stated().data  # raised "Unexpected token ILLEGAL" before the fix
    assert LS not in markup.split('type="application/json"')[1].split("</script>")[0]
    assert "Ips wich" in markup  # the chart names it with a space


def test_a_sorted_bar_chart_with_line_separators_in_its_labels():
    from healthgap.charts.html import figure_html

    data = pl.DataFrame({"group": [f"a{LS}b", f"c{PS}d", "e"], "value": [1.0, 2.0, 3.0]})
    chart = (
        alt.Chart(data.to_pandas())
        .mark_bar()
        .encode(
            x=alt.X("group:N", sort=[f"c{PS}d", f"a{LS}b", "e"]),
            y="value:Q",
            color=alt.condition(alt.datum.group == f"a{LS}b", alt.value("red"), alt.value("blue")),
        )
    )
    markup = figure_html(
        chart, id="fig-x", title=f"Title{LS}here", description="Bars", data=data, download_href=None
    )
    spec = markup.split('type="application/json" id="fig-x-spec">')[1].split("</script>")[0]
    assert LS not in spec and PS not in spec
    assert json.loads(spec)["encoding"]["x"]["sort"] == ["c d", "a b", "e"]
    assert f"a{LS}b" in markup  # the numbers table keeps the original text


def test_the_search_index_escapes_line_separators(tmp_path):
    entries = [{"href": "index.html", "title": f"Ips{LS}wich", "page": "P", "text": f"x{PS}y </script>"}]
    write_search_assets(tmp_path, entries)
    script = (tmp_path / SEARCH_INDEX_HREF).read_text(encoding="utf-8")
    assert LS not in script and PS not in script and "</script>" not in script
    data = script.removeprefix("window.hgSearchIndex = ").removesuffix(";\n")
    assert json.loads(data) == entries
