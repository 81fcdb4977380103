"""Tests for healthgap.palette and healthgap.charts (builders, maps, figure HTML, JS bundle)."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import altair as alt
import numpy as np
import polars as pl
import pytest

from healthgap import charts, palette
from healthgap.charts import ChartError
from healthgap.disclosure import DisclosureError, protect

# ------------------------------------------------------------------ palette


def test_contrast_ratio_known_values():
    assert palette.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert palette.contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    # WebAIM: #767676 on white is 4.54:1, the lightest grey passing AA for text.
    assert palette.contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)
    assert palette.contrast_ratio("#005EB8") == pytest.approx(6.38, abs=0.01)
    with pytest.raises(ValueError, match="not a hex colour"):
        palette.contrast_ratio("blue")


def test_categorical_meets_non_text_contrast_and_cvd_distinctness():
    assert len(set(palette.CATEGORICAL)) == 6
    for colour in palette.CATEGORICAL:
        assert palette.contrast_ratio(colour, "#FFFFFF") >= 3.0, colour
        assert colour in palette.NHS_COLOURS.values()
    assert palette.min_cvd_delta_e(palette.CATEGORICAL) >= palette.MIN_CVD_DELTA_E
    # the check can fail: NHS Blue and NHS Bright Blue are too close
    assert palette.min_cvd_delta_e(["#005EB8", "#0072CE"]) < palette.MIN_CVD_DELTA_E
    for colour in palette.FUNNEL.values():
        assert palette.contrast_ratio(colour) >= 3.0


def test_simulated_deuteranopia_confuses_red_and_green():
    red, green = palette.NHS_COLOURS["Emergency Services Red"], palette.NHS_COLOURS["NHS Green"]
    normal = palette.delta_e(palette.to_lab(red), palette.to_lab(green))
    deut = palette.delta_e(
        palette.to_lab(palette.simulate_cvd(red, "deuteranopia")),
        palette.to_lab(palette.simulate_cvd(green, "deuteranopia")),
    )
    assert deut < normal / 2
    assert palette.to_lab("#FFFFFF") == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    with pytest.raises(ValueError, match="Unknown colour-vision deficiency"):
        palette.simulate_cvd("#FFFFFF", "monochromacy")  # type: ignore[arg-type]


def test_sequential_is_monotonic_and_labels_readable():
    lightness = [palette.to_lab(c)[0] for c in palette.SEQUENTIAL]
    assert all(a > b + 10 for a, b in itertools.pairwise(lightness))
    for i, fill in enumerate(palette.SEQUENTIAL):
        label = "#FFFFFF" if i >= palette.SEQUENTIAL_DARK_FROM else palette.TEXT
        assert palette.contrast_ratio(label, fill) >= 4.5, fill
    assert palette.contrast_ratio(palette.TEXT) >= 4.5 and palette.contrast_ratio(palette.MUTED_TEXT) >= 4.5
    assert palette.contrast_ratio(palette.OUTLINE) >= 3.0


# ------------------------------------------------------------------ builders


def _rates() -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "imd_quintile": [1, 2, 3, 4, 5],
            "events": [300, 250, 4, 600, 800],
            "value": [10.0, 8.0, 7.0, 5.0, 4.0],
            "lower_ci": [8.0, 6.0, 5.0, 4.0, 3.0],
            "upper_ci": [12.0, 10.0, 9.0, 6.0, 5.0],
            "fitted": [10.5, 8.6, 6.8, 5.0, 3.2],
        }
    )
    return protect(df, counts=["events"], derived={"events": ["value", "lower_ci", "upper_ci"]})


def _datasets(spec: dict) -> list[list[dict]]:
    return list(spec.get("datasets", {}).values())


def _all_fields(node) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "field" and isinstance(v, str):
                found.add(v)
            found |= _all_fields(v)
    elif isinstance(node, list):
        for v in node:
            found |= _all_fields(v)
    return found


def _builders() -> dict[str, alt.TopLevelMixin]:
    rates = _rates()
    sexes = pl.concat([rates.with_columns(sex=pl.lit("female")), rates.with_columns(sex=pl.lit("male"))])
    units = pl.DataFrame(
        {"unit": ["A", "B", "C", "D"], "value": [0.1, 0.3, 0.2, 0.05], "denominator": [100, 200, 1000, 400]}
    )
    limits = _limits()
    return {
        "ci": charts.ci_chart(
            rates, group="imd_quintile", title="Rate by IMD", reference=6.0, reference_label="All"
        ),
        "ci_bar": charts.ci_chart(rates, group="imd_quintile", title="Bars", mark="bar", horizontal=False),
        "ci_grouped": charts.ci_chart(sexes, group="imd_quintile", colour="sex", title="By sex"),
        "gradient": charts.gradient(rates, title="Gradient", fitted="fitted"),
        "small_multiples": charts.small_multiples(
            pl.concat([rates.with_columns(condition=pl.lit(c)) for c in ("chd", "af")]),
            facet="condition",
            group="imd_quintile",
            title="By condition",
        ),
        "pyramid": charts.pyramid(
            pl.DataFrame(
                {
                    "age_band": ["0-4", "5-9"] * 2,
                    "sex": ["female"] * 2 + ["male"] * 2,
                    "value": [100, 120, 110, 115],
                }
            ),
            title="Pyramid",
        ),
        "funnel": charts.funnel(units, limits=limits, target=0.2, title="Funnel"),
        "scatter": charts.mitigation_scatter(
            pl.DataFrame(
                {"method": ["baseline", "threshold"], "performance": [0.8, 0.78], "disparity": [0.2, 0.05]}
            ),
            title="Mitigation",
            highlight="threshold",
        ),
        "heatmap": charts.heatmap(
            pl.DataFrame(
                {
                    "q": [1, 1, 2, 2],
                    "eth": ["A", "B", "A", "B"],
                    "value": [1.0, None, 3.0, 4.0],
                    "suppressed": [False, True, False, False],
                }
            ),
            x="q",
            y="eth",
            title="Heat",
        ),
        "binned": charts.binned(
            pl.DataFrame(
                {
                    "bin": ["<40", "40-60", "60+"],
                    "value": [-0.1, 0.0, 0.2],
                    "lower_ci": [-0.2, -0.05, 0.1],
                    "upper_ci": [0.0, 0.05, 0.3],
                }
            ),
            x="bin",
            title="SHAP",
            lower="lower_ci",
            upper="upper_ci",
        ),
    }


def _limits() -> pl.DataFrame:
    n = pl.col("denominator")
    se = (0.16 / n).sqrt()
    return pl.DataFrame({"denominator": [50, 100, 200, 400, 1000, 2000]}).with_columns(
        lower_95=0.2 - 1.96 * se,
        upper_95=0.2 + 1.96 * se,
        lower_998=0.2 - 3.09 * se,
        upper_998=0.2 + 3.09 * se,
    )


@pytest.fixture(scope="module")
def built() -> dict[str, dict]:
    return {name: chart.to_dict() for name, chart in _builders().items()}


def test_theme_is_registered_and_active():
    assert alt.theme.active == charts.THEME
    config = charts.theme_config()["config"]
    assert config["range"]["category"] == list(palette.CATEGORICAL)
    assert "system-ui" in config["font"]


@pytest.mark.parametrize(
    "name",
    [
        "ci",
        "ci_bar",
        "ci_grouped",
        "gradient",
        "small_multiples",
        "pyramid",
        "funnel",
        "scatter",
        "heatmap",
        "binned",
    ],
)
def test_every_builder_titles_and_renders(built, name):
    spec = built[name]
    assert spec.get("title"), name
    assert "person_id" not in json.dumps(spec)
    svg = charts.static_svg(spec)
    assert svg.startswith("<svg") and "<text" in svg


def test_spec_holds_exactly_the_given_rows(built):
    rates = _rates()
    rows = [r for r in _datasets(built["ci"]) if len(r) == rates.height]
    assert len(rows) == 1
    assert [r["imd_quintile"] for r in rows[0]] == [1, 2, 3, 4, 5]
    assert [r["value"] for r in rows[0]] == rates["value"].to_list()
    assert set(rows[0][0]) == {
        "imd_quintile",
        "value",
        "lower_ci",
        "upper_ci",
        "suppressed",
        "suppression_reason",
    }
    assert "events" not in json.dumps(built["ci"])  # columns not drawn are not embedded


def test_suppressed_rows_are_labelled(built):
    assert "[c] suppressed" in json.dumps(built["ci"])
    assert "[c] suppressed" in charts.static_svg(built["ci"])
    heat = charts.static_svg(built["heatmap"])
    assert "[c]" in heat and palette.SUPPRESSED.lower() in heat.lower()


def _text_marks(spec) -> list[str]:
    """Every constant text value of the chart's text marks."""
    found: list[str] = []
    if isinstance(spec, dict):
        text = spec.get("encoding", {}).get("text") if isinstance(spec.get("encoding"), dict) else None
        if isinstance(text, dict) and "value" in text:
            found.append(text["value"])
        for v in spec.values():
            found += _text_marks(v)
    elif isinstance(spec, list):
        for v in spec:
            found += _text_marks(v)
    return found


def test_groups_along_the_bottom_use_the_short_label_and_a_key(built):
    # bars along the bottom: "[c] suppressed" would run into the neighbouring groups' labels
    for name in ("ci_bar", "gradient", "small_multiples"):
        spec = built[name]
        assert _text_marks(spec) == ["[c]"], name
        title = spec["title"]
        assert isinstance(title, dict) and "[c] = suppressed" in json.dumps(title["subtitle"]), name
        assert "[c] = suppressed" in charts.static_svg(spec)
    assert _text_marks(built["ci"])[0] == "[c] suppressed"  # groups down the side: room for the long label
    unsuppressed = pl.DataFrame(
        {"g": ["a", "b"], "value": [1.0, 2.0], "lower_ci": [0.5, 1.5], "upper_ci": [1.5, 2.5]}
    )
    assert "[c]" not in json.dumps(
        charts.ci_chart(unsuppressed, group="g", title="t", horizontal=False).to_dict()["title"]
    )


def _x_axes(spec) -> list[dict]:
    found: list[dict] = []
    if isinstance(spec, dict):
        enc = spec.get("encoding")
        if (
            isinstance(enc, dict)
            and isinstance(enc.get("x"), dict)
            and isinstance(enc["x"].get("axis"), dict)
        ):
            found.append(enc["x"])
        for v in spec.values():
            found += _x_axes(v)
    elif isinstance(spec, list):
        for v in spec:
            found += _x_axes(v)
    return found


def test_small_multiples_angles_long_labels_and_gives_each_panel_its_axis():
    levels = ["1 (most deprived)", "2", "3", "4", "5 (least deprived)"]
    df = pl.DataFrame(
        {
            "condition": ["chd"] * 5 + ["af"] * 5,
            "label": levels * 2,
            "value": [1.0] * 10,
            "lower_ci": [0.5] * 10,
            "upper_ci": [1.5] * 10,
        }
    )
    long = charts.small_multiples(df, facet="condition", group="label", title="t").to_dict()
    assert {x["axis"]["labelAngle"] for x in _x_axes(long)} == {-40}
    assert {x.get("title") for x in _x_axes(long)} == {None}  # not "Label" from the column name
    assert long["resolve"]["axis"]["x"] == "independent"  # no orphan axis under an empty grid slot
    short = charts.small_multiples(
        df.with_columns(pl.col("label").str.slice(0, 1)),
        facet="condition",
        group="label",
        title="t",
        group_title="Quintile",
    ).to_dict()
    assert {x["axis"]["labelAngle"] for x in _x_axes(short)} == {0}
    assert {x.get("title") for x in _x_axes(short)} == {"Quintile"}
    titled = charts.small_multiples(
        df, facet="condition", group="label", title="t", value_title="Rate (%)"
    ).to_dict()
    assert titled["title"] == {"text": "t", "subtitle": "Rate (%)"}  # once, under the title
    assert "Rate (%)" not in json.dumps(titled["spec"])  # not beside every panel


AGE_BANDS = [f"{a}-{a + 4}" for a in range(0, 90, 5)] + ["90+"]


def test_label_values_thin_out_age_bands_only():
    from healthgap.charts._common import label_values

    band = 170 / 19  # 19 age bands along a 170 px panel
    assert label_values(AGE_BANDS, band, -40) == ["0-4", "15-19", "30-34", "45-49", "60-64", "75-79", "90+"]
    quintiles = ["1 (most deprived)", "2", "3", "4", "5 (least deprived)"]
    # another panel's quintiles and names are never dropped
    assert label_values([*quintiles, *AGE_BANDS, "Female"], band, -40) == [
        *quintiles,
        *["0-4", "15-19", "30-34", "45-49", "60-64", "75-79", "90+"],
        "Female",
    ]
    assert label_values(AGE_BANDS, 40, -40) is None  # room enough
    assert label_values([str(d) for d in range(1, 11)], 9, -40) is None  # numbers, not ranges
    assert label_values(AGE_BANDS[:8], 5, -40) is None  # few labels
    level = label_values(AGE_BANDS, 20, 0)
    assert level is not None and level[:2] == ["0-4", "15-19"]  # level labels need their length (44 px)


def test_small_multiples_label_readable_age_bands():
    """Figures 1.2 and 2.4: 19 age bands in a small panel overlapped; every third is labelled."""
    df = pl.DataFrame(
        {
            "condition": ["chd"] * 19 + ["af"] * 19,
            "age_band": AGE_BANDS * 2,
            "value": [1.0] * 38,
            "lower_ci": [0.5] * 38,
            "upper_ci": [1.5] * 38,
        }
    )
    spec = charts.small_multiples(df, facet="condition", group="age_band", title="t").to_dict()
    (axis,) = {json.dumps(x["axis"], sort_keys=True) for x in _x_axes(spec)}
    axis = json.loads(axis)
    assert axis["labelAngle"] == -40 and axis["values"][:3] == ["0-4", "15-19", "30-34"]
    svg = charts.static_svg(spec)
    assert svg.count(">0-4</text>") == 2 and ">5-9</text>" not in svg  # drawn in each panel, thinned
    quintiles = charts.small_multiples(
        df.with_columns(age_band=pl.col("age_band").str.slice(0, 1)),
        facet="condition",
        group="age_band",
        title="t",
    ).to_dict()
    assert all("values" not in x["axis"] for x in _x_axes(quintiles))


def test_small_multiples_panels_with_different_groups_show_only_their_own():
    rows = [("Deprivation", g) for g in "12345"] + [("Sex", g) for g in ("Female", "Male")]
    df = pl.DataFrame(
        {
            "dim": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "value": [1.0] * 7,
            "lower_ci": [0.5] * 7,
            "upper_ci": [1.5] * 7,
        }
    )
    spec = charts.small_multiples(df, facet="dim", group="label", title="t").to_dict()
    assert spec["resolve"]["scale"] == {"x": "independent", "y": "independent"}
    svg = charts.static_svg(spec)
    axis_labels = re.findall(r"role-axis-label.*?</g>", svg, re.S)
    assert len(axis_labels) >= 2 and all("Female" not in a for a in axis_labels if ">5<" in a)
    same = charts.small_multiples(
        df.filter(pl.col("dim") == "Sex").vstack(
            df.filter(pl.col("dim") == "Sex").with_columns(dim=pl.lit("X"))
        ),
        facet="dim",
        group="label",
        title="t",
    ).to_dict()
    assert same["resolve"]["scale"] == {"y": "independent"}  # same groups everywhere: one shared group scale


def test_funnel_zooms_on_the_units_not_the_limits_at_tiny_denominators():
    units = pl.DataFrame({"unit": ["A", "B", "C"], "value": [8.0, 9.5, 7.0], "denominator": [150, 250, 400]})
    d = pl.DataFrame({"denominator": [1.0, 10.0, 100.0, 150.0, 400.0, 1000.0]})
    se = (8.5 * 1000 / d["denominator"]).sqrt()  # Poisson rate per 1,000: limits explode as n -> 1
    limits = d.with_columns(
        lower_95=8.5 - 1.96 * se,
        upper_95=8.5 + 1.96 * se,
        lower_998=8.5 - 3.09 * se,
        upper_998=8.5 + 3.09 * se,
    )
    spec = charts.funnel(units, limits=limits, target=8.5, title="f").to_dict()
    scales = [
        layer["encoding"]["y"]["scale"]
        for layer in spec["layer"]
        if "scale" in layer["encoding"].get("y", {})
    ]
    x_scales = [
        layer["encoding"]["x"]["scale"]
        for layer in spec["layer"]
        if "scale" in layer["encoding"].get("x", {})
    ]
    half = 3.09 * (8.5 * 1000 / 150) ** 0.5  # the 99.8% limits at the smallest unit: 8.5 +- 23.3
    assert scales and all(
        s["domain"][1] == pytest.approx(8.5 + half + 0.05 * 2 * half) for s in scales
    )  # 5% padding
    assert all(
        s["domain"][0] == 0.0 for s in scales
    )  # the lower limit is negative there: the axis stops at 0
    assert x_scales and all(s["domain"] == pytest.approx([137.5, 412.5]) for s in x_scales)
    assert all(
        layer["mark"].get("clip") for layer in spec["layer"] if layer["mark"]["type"] in ("line", "rule")
    )


def test_heatmap_cell_text_does_not_replace_a_column_called_label():
    df = pl.DataFrame(
        {
            "q": ["1 (most deprived)", "5 (least deprived)"] * 2,
            "label": ["Age", "Age", "BMI", "BMI"],
            "value": [0.25, 0.5, -0.75, 1.25],
        }
    )
    spec = charts.heatmap(df, x="q", y="label", title="h", text_format=",.2f").to_dict()
    made = {t["as"] for layer in spec["layer"] for t in layer.get("transform", []) if "as" in t}
    assert made and not made & set(df.columns)
    svg = charts.static_svg(spec)
    axis_text = " ".join(re.findall(r"role-axis-label.*?</g></g>", svg, re.S))
    assert "Age" in axis_text and "BMI" in axis_text and "0.25" not in axis_text and "1.25" not in axis_text
    assert "1.25" in svg  # printed in its cell
    assert {x["axis"]["labelAngle"] for x in _x_axes(spec)} == {-40}  # 70px cells: long labels angled


def test_small_multiples_wraps_long_panel_titles_to_the_panel():
    names = [
        "Statin prescribed (CHD, stroke/TIA or PAD; or diabetes or CKD aged 40+)",
        "Blood pressure below 140 mmHg",
        "Anticoagulant prescribed (AF with CHA2DS2-VASc of 2+, 3+ for women)",
    ]
    df = pl.DataFrame(
        {
            "m": [n for n in names for _ in range(2)],
            "g": ["a", "b"] * 3,
            "value": [1.0, 2.0] * 3,
            "lower_ci": [0.5, 1.5] * 3,
            "upper_ci": [1.5, 2.5] * 3,
        }
    )
    spec = charts.small_multiples(df, facet="m", group="g", title="t").to_dict()
    svg = charts.static_svg(spec)
    assert "Statin prescribed (CHD," in svg and names[0] not in re.findall(
        r">([^<]+)</t", svg
    )  # drawn on several lines
    assert "Blood pressure below 140 mmHg" in svg  # short enough: one line
    assert (
        int(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1)) < 800
    )  # three columns still fit a page column


def test_funnel_positions_from_interpolated_limits(built):
    (points,) = [d for d in _datasets(built["funnel"]) if d and "position" in d[0]]
    assert {p["unit"]: p["position"] for p in points} == {
        "A": "within",
        "B": "above",
        "C": "within",
        "D": "below",
    }


def test_funnel_hides_position_of_suppressed_units():
    units = pl.DataFrame(
        {"unit": ["A", "B"], "value": [None, 0.3], "denominator": [100, 200], "flag": ["above", "above"]}
    )
    spec = charts.funnel(units, limits=_limits(), target=0.2, title="t", flag="flag").to_dict()
    (points,) = [d for d in _datasets(spec) if d and "flag" in d[0]]
    assert [p["flag"] for p in points] == [None, "above"]


def test_pyramid_puts_first_sex_left(built):
    (rows,) = [d for d in _datasets(built["pyramid"]) if d and "signed_value" in d[0]]
    assert all((r["signed_value"] < 0) == (r["sex"] == "female") for r in rows)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda df: charts.ci_chart(df, group="nope", title="t"), r"ci_chart\(\): column\(s\) \['nope'\]"),
        (lambda df: charts.ci_chart(df.head(0), group="imd_quintile", title="t"), "has no rows"),
        (lambda df: charts.ci_chart(df, group="imd_quintile", title=" "), "needs a non-empty `title`"),
        (
            lambda df: charts.ci_chart(df.to_dicts(), group="imd_quintile", title="t"),
            "expected a polars DataFrame",
        ),
        (
            lambda df: charts.funnel(
                df,
                limits=pl.DataFrame({"denominator": [1]}),
                target=0,
                title="t",
                unit="imd_quintile",
                denominator="events",
            ),
            "`limits` is missing column",
        ),
        (
            lambda df: charts.funnel(
                df,
                limits=_limits(),
                target=0,
                title="t",
                unit="imd_quintile",
                denominator="events",
                limit="90",
            ),
            "limit must be '95' or '99.8'",
        ),  # type: ignore[arg-type]
        (
            lambda df: charts.pyramid(df.with_columns(sex=pl.lit("x"), age_band=pl.lit("0-4")), title="t"),
            "must hold exactly the two levels",
        ),
    ],
)
def test_builder_errors(call, message):
    with pytest.raises(ChartError, match=message):
        call(_rates())


# ------------------------------------------------------------------ maps


def _square(x: float, y: float, ccw: bool = True) -> list:
    ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
    return [ring if ccw else ring[::-1]]


def _geojson() -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"lsoa": f"E0{i}", "name": f"Area {i}", "secret": "x"},
                "geometry": {"type": "Polygon", "coordinates": _square(1.0 + 0.01 * i, 52.0)},
            }
            for i in range(4)
        ]
        + [
            {
                "type": "Feature",
                "properties": {"lsoa": "E09"},
                "geometry": {"type": "MultiPolygon", "coordinates": [_square(1.2, 52.1), _square(1.3, 52.1)]},
            }
        ],
    }


def test_choropleth_from_geojson():
    df = protect(
        pl.DataFrame(
            {"lsoa": ["E00", "E01", "E02", "E03"], "events": [40, 3, 60, 90], "value": [1.0, 2.0, 3.0, 4.0]}
        ),
        counts=["events"],
        derived={"events": ["value"]},
    )
    chart = charts.choropleth(df, geojson=_geojson(), title="Map", value="value")
    spec = chart.to_dict()
    text = json.dumps(spec)
    assert "Suppressed [c]" in text and "No data" in text
    assert "secret" not in text  # only the key property is kept
    assert spec["layer"][0]["projection"]["type"] == "mercator" or "mercator" in text
    features = spec["data"]["values"] if "data" in spec else spec["layer"][0]["data"]["values"]
    for feature in features:  # d3-geo wants clockwise exterior rings
        polygons = feature["geometry"]["coordinates"]
        polygons = polygons if feature["geometry"]["type"] == "MultiPolygon" else [polygons]
        for polygon in polygons:
            ring = np.array(polygon[0])
            area = 0.5 * np.sum(ring[:-1, 0] * ring[1:, 1] - ring[1:, 0] * ring[:-1, 1])
            assert area < 0
    svg = charts.static_svg(spec)
    assert svg.count("<path") >= 5
    assert "Suppressed [c]" in svg
    (key,) = [
        layer["encoding"]["color"]["legend"]
        for layer in spec["layer"]
        if layer["encoding"]["color"].get("field") == "value"
    ]
    assert key["orient"] == "top" and key["direction"] == "horizontal"  # not beside the map, widening it


def test_choropleth_simplifies_dense_boundaries():
    import math as m

    dense = [
        [1.0 + 0.01 * m.cos(t / 2000 * 2 * m.pi), 52.0 + 0.01 * m.sin(t / 2000 * 2 * m.pi)]
        for t in range(2000)
    ]
    dense.append(dense[0])
    geo = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"lsoa": "E1"},
                "geometry": {"type": "Polygon", "coordinates": [dense]},
            }
        ],
    }
    spec = charts.choropleth(pl.DataFrame({"lsoa": ["E1"], "value": [1.0]}), geojson=geo, title="t").to_dict()
    features = spec["data"]["values"] if "data" in spec else spec["layer"][0]["data"]["values"]
    ring = features[0]["geometry"]["coordinates"][0]
    assert 40 < len(ring) < 1000 and ring[0] == ring[-1]  # 2,001 points on a 1 km circle -> ~730
    assert all(round(x, 4) == x for x, _ in ring)
    full = charts.choropleth(
        pl.DataFrame({"lsoa": ["E1"], "value": [1.0]}), geojson=geo, title="t", precision=8
    ).to_dict()
    full_features = full["data"]["values"] if "data" in full else full["layer"][0]["data"]["values"]
    assert len(full_features[0]["geometry"]["coordinates"][0]) == 2001


def test_choropleth_errors():
    df = pl.DataFrame({"lsoa": ["E00", "E77"], "value": [1.0, 2.0]})
    with pytest.raises(ChartError, match=r"1 area\(s\) in column 'lsoa' have no boundary.*E77"):
        charts.choropleth(df, geojson=_geojson(), title="t")
    with pytest.raises(ChartError, match="have no property 'code'"):
        charts.choropleth(df.head(1), geojson=_geojson(), title="t", feature_key="code")
    with pytest.raises(ChartError, match="FeatureCollection"):
        charts.choropleth(df, geojson={"type": "Feature"}, title="t")


def _hex_distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    dq, dr = a[0] - b[0], a[1] - b[1]
    return max(abs(dq), abs(dr), abs(dq + dr))


def test_hex_layout_deterministic_unique_and_grouped():
    sizes = {"Ipswich": 19, "Colchester": 7, "Tendring": 12, "Babergh": 1}
    areas = pl.DataFrame(
        [(f"{loc[:3]}{i:02d}", loc) for loc, n in sizes.items() for i in range(n)],
        schema=["lsoa", "locality"],
        orient="row",
    )
    layout = charts.hex_layout(areas)
    shuffled = charts.hex_layout(areas.sample(fraction=1.0, shuffle=True, seed=3))
    assert layout.equals(shuffled)
    cells = list(zip(layout["q"], layout["r"]))
    assert len(set(cells)) == areas.height
    by_area = {row[0]: (row[2], row[3]) for row in layout.iter_rows()}
    loc_of = dict(zip(areas["lsoa"], areas["locality"]))
    # the 19 areas of Ipswich fill exactly the hexagon of radius 2 around its first area
    ipswich = [by_area[a] for a in sorted(a for a in by_area if loc_of[a] == "Ipswich")]
    assert max(_hex_distance(ipswich[0], c) for c in ipswich) == 2
    # areas of different localities never touch: blobs are separated by a gap
    for a, ca in by_area.items():
        for b, cb in by_area.items():
            if loc_of[a] != loc_of[b]:
                assert _hex_distance(ca, cb) >= 2


def test_hex_errors():
    areas = pl.DataFrame({"lsoa": ["E1", "E1"], "locality": ["A", "B"]})
    with pytest.raises(ChartError, match=r"area\(s\) \['E1'\] in 'lsoa' belong to more than one 'locality'"):
        charts.hex_layout(areas)
    with pytest.raises(ChartError, match=r"hex_layout\(\): column\(s\) \['ward'\]"):
        charts.hex_layout(areas, group="ward")
    with pytest.raises(ChartError, match=r"hex_geojson\(\): column\(s\) \['q', 'r'\]"):
        charts.hex_geojson(areas)


def test_hex_map_renders_hexagons():
    areas = pl.DataFrame({"lsoa": [f"E{i:02d}" for i in range(10)], "locality": ["A"] * 6 + ["B"] * 4})
    layout = charts.hex_layout(areas).with_columns(
        value=pl.when(pl.col("lsoa") == "E03").then(None).otherwise(pl.int_range(10).cast(pl.Float64)),
        suppressed=pl.col("lsoa") == "E03",
    )
    shapes = charts.hex_geojson(layout)
    ring = shapes["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 7 and ring[0] == ring[-1]
    side = np.hypot(ring[1][0] - ring[0][0], ring[1][1] - ring[0][1])
    assert side == pytest.approx(0.95)
    spec = charts.hex_map(layout.drop("locality"), title="Hex").to_dict()
    assert "identity" in json.dumps(spec)
    svg = charts.static_svg(spec)
    assert svg.count("<path") >= 10 and "Suppressed [c]" in svg
    labelled = charts.static_svg(charts.hex_map(layout, title="Hex", group="locality").to_dict())
    assert re.search(r"<text[^>]*>A</text>", labelled) and re.search(r"<text[^>]*>B</text>", labelled)


def test_static_svg_ids_are_scoped_per_figure():
    from healthgap.charts.html import _scope_ids

    svg = (
        '<svg><linearGradient id="gradient_1"/><rect fill="url(#gradient_1)"/><use href="#gradient_1"/></svg>'
    )
    scoped = _scope_ids(svg, "fig-a-svg")
    assert 'id="fig-a-svg-gradient_1"' in scoped and "url(#fig-a-svg-gradient_1)" in scoped
    assert 'href="#fig-a-svg-gradient_1"' in scoped and 'id="gradient_1"' not in scoped


# ------------------------------------------------------------------ figure HTML and assets


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script" and dict(attrs).get("type") == "application/json":
            self._script = dict(attrs)["id"]

    def handle_data(self, data):
        if self._script:
            self.scripts[self._script] = self.scripts.get(self._script, "") + data

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def test_figure_html_is_accessible():
    rates = _rates()
    chart = charts.gradient(rates, title="Admissions by deprivation")
    markup = charts.figure_html(
        chart,
        id="fig-imd",
        title="Admissions by deprivation",
        description='Rates fall from 10 to 4 "per 1,000"',
        data=rates,
        download_href="../downloads/fig-imd.csv",
        asset_prefix="../",
    )
    parser = _Tags()
    parser.feed(markup)
    tags = {t for t, _ in parser.tags}
    assert {"figure", "figcaption", "details", "summary", "table", "caption", "svg", "a"} <= tags
    (img,) = [a for t, a in parser.tags if a.get("role") == "img"]
    assert img["aria-label"] == 'Rates fall from 10 to 4 "per 1,000"'
    spec = json.loads(parser.scripts["fig-imd-spec"])
    assert spec["description"] == img["aria-label"]
    assert img["data-hg-spec"] == "fig-imd-spec"
    natural = re.search(r'<svg[^>]*\swidth="([0-9.]+)"', charts.static_svg(chart.to_dict())).group(1)
    assert img["style"].startswith(
        f"--hg-chart-width:{float(natural):g}px;"
    )  # phones: shrink to 80% at most, then scroll
    assert img["tabindex"] == "0"  # the scrolling container is reachable by keyboard
    assert "<summary>Show the numbers</summary>" in markup
    assert 'href="../downloads/fig-imd.csv"' in markup
    # the link text names the chart, so links on one page are told apart (WCAG 2.4.4/2.4.9)
    assert "download>Download the data for admissions by deprivation (CSV)</a></p>" in markup
    assert 'class="hg-download"' in markup
    assert markup.count('src="../site_libs/healthgap/healthgap-charts.js"') == 1
    root = charts.figure_html(chart, id="f2", title="t", description="d", data=rates, download_href=None)
    assert 'src="site_libs/healthgap/healthgap-charts.js"' in root and "download>" not in root
    assert "<script src" not in charts.figure_html(
        chart, id="f3", title="t", description="d", data=rates, download_href=None, include_script=False
    )


def test_figure_html_escapes_script_breakers():
    df = pl.DataFrame(
        {"g": ["</script><b>x</b>", "b"], "value": [1.0, 2.0], "lower_ci": [0.5, 1.5], "upper_ci": [1.5, 2.5]}
    )
    markup = charts.figure_html(
        charts.ci_chart(df, group="g", title="t"),
        id="f",
        title="t",
        description="d",
        data=df,
        download_href=None,
    )
    json_part = markup.split('type="application/json" id="f-spec">')[1].split("</script>")[0]
    assert "</script>" not in json_part and "<b>" not in json_part
    assert json.loads(json_part)["description"] == "d"


def test_figure_html_refuses_unsafe_data():
    bad = pl.DataFrame({"g": ["a", "b"], "n": [3, 40]})
    chart = alt.Chart(bad).mark_bar().encode(x="g:N", y="n:Q")
    with pytest.raises(DisclosureError, match="count column 'n'"):
        charts.figure_html(chart, id="f", title="t", description="d", data=bad.head(0), download_href=None)
    people = alt.Chart(pl.DataFrame({"person_id": ["p1"], "value": [1.0]})).mark_point().encode(x="value:Q")
    with pytest.raises(DisclosureError, match="person identifier"):
        charts.figure_html(people, id="f", title="t", description="d", data=_rates(), download_href=None)
    with pytest.raises(ChartError, match="text description"):
        charts.figure_html(people, id="f", title="t", description="", data=_rates(), download_href=None)
    with pytest.raises(ChartError, match="without spaces"):
        charts.figure_html(people, id="a b", title="t", description="d", data=_rates(), download_href=None)
    with pytest.raises(ChartError, match="expected an Altair chart"):
        charts.figure_html("<svg/>", id="f", title="t", description="d", data=_rates(), download_href=None)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return charts.write_chart_assets(tmp_path_factory.mktemp("site") / "site_libs" / "healthgap")


def test_bundle_written_without_cdn_urls(bundle):
    assert bundle.name == "healthgap-charts.js" and bundle.stat().st_size > 100_000
    text = bundle.read_text(encoding="utf-8")
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs", "esm.sh", "skypack", "googleapis", "jspm.io"):
        assert cdn not in text, cdn
    assert not re.search(r"(^|[;\n])\s*(import|export)\s*[{*\w]", text)  # a classic script
    assert "hgRender" in text and "div.hg-chart[data-hg-spec]" in text


NODE_HARNESS = r"""
const fs = require('fs');
globalThis.window = globalThis;
globalThis.ShadowRoot = class ShadowRoot {};
const made = [];
const mk = (tag) => { const el = {tagName: tag, childNodes: [], style: {}, attrs: {}, className: '',
  classList: {add() {}, remove() {}, contains() { return false; }},
  setAttribute(k, v) { this.attrs[k] = v; }, getAttribute(k) { return this.attrs[k] ?? null; },
  appendChild(c) { this.childNodes.push(c); return c; }, append(c) { this.childNodes.push(c); },
  insertBefore(c) { this.childNodes.push(c); return c; }, removeChild() {}, addEventListener() {},
  removeEventListener() {}, querySelector() { return null; }, replaceChildren(...c) { this.childNodes = c; },
  getRootNode() { return document; },
  getBoundingClientRect() { return {width: 500, height: 300, left: 0, top: 0}; }}; made.push(el); return el; };
const spec = fs.readFileSync(process.argv[3], 'utf8');
const chart = mk('div'); chart.attrs['data-hg-spec'] = 'fig-spec'; chart.id = 'fig-chart';
const source = {textContent: spec};
globalThis.document = {readyState: 'complete', createElement: mk, createElementNS: (ns, t) => mk(t),
  head: mk('head'), body: mk('body'), addEventListener() {}, removeEventListener() {},
  getElementById: (id) => id === 'fig-spec' ? source : null,
  querySelectorAll: (sel) => sel.startsWith('div.hg-chart') && !chart.attrs['data-hg-rendered'] ? [chart] : []};
eval(fs.readFileSync(process.argv[2], 'utf8'));
const first = window.healthgapCharts;
eval(fs.readFileSync(process.argv[2], 'utf8'));  // a second copy on the page must be a no-op
const hg = window.healthgapCharts;
const once = hg === first;
chart.attrs['data-hg-rendered'] = undefined;
hg.render(document, {renderer: 'none'}).then(async (results) => {
  const svg = await results[0].view.toSVG();
  const live = chart.childNodes.length === 1 && chart.childNodes[0].className === 'hg-live';
  console.log(JSON.stringify({embed: typeof hg.vegaEmbed, once, live, svg: svg.slice(0, 4), text: svg.includes('Rate by IMD')}));
}).catch((e) => { console.error(e); process.exit(2); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to execute the bundle")
def test_bundle_renders_our_spec_in_node(bundle, built, tmp_path):
    harness = tmp_path / "harness.js"
    harness.write_text(NODE_HARNESS, encoding="utf-8")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(built["ci"]), encoding="utf-8")
    run = subprocess.run(
        ["node", str(harness), str(bundle), str(spec)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {"embed": "function", "once": True, "live": True, "svg": "<svg", "text": True}


FIT_HARNESS = r"""
eval(require('fs').readFileSync(process.argv[2], 'utf8'));
const facet = {facet: {field: "c"}, columns: 3, spec: {width: 170, layer: []}};
const layer = {layer: [], width: 400, height: {step: 28}};
const long = "Observed / expected recorded cases by deprivation fifth";
const keyLine = "[x] = not calculated: fewer than 10 events in the group, so no rate is shown";
const legendView = {layer: [{mark: "point", encoding: {color: {field: "s", legend: {orient: "top", direction: "vertical"}}}},
                            {mark: "rule", encoding: {color: {field: "s", legend: {orient: "top"}}}}, {mark: "text"}]};
const fitted = {layer: [], width: 342, autosize: {type: "fit-x", contains: "padding"}};
const labelled = {layer: [{mark: "point"}, {mark: {type: "text", dx: 6}}]};
const out = {
  wrap: hgFit(facet, 342, 650),                          // three columns of ~217 px: one fits
  keep: hgFit(facet, 700, 650),                          // fits already: nothing to do
  shrink: hgFit({...facet, columns: 2}, 400, 420),        // two columns of 210 px in 400 px: one
  narrow: hgFit({...facet, columns: 1}, 300, 340),       // one column still too wide: narrower panels
  floor: hgFit({...facet, columns: 1}, 100, 400),        // never narrower than 80 px
  single: hgFit(layer, 342, 560),                        // a single or layered view takes the width
  again: hgFit(hgFit(layer, 342, 560), 342, 400),        // nothing more to do
  concat: hgFit({hconcat: [{mark: "bar"}, {mark: "bar"}]}, 342, 600),
  // one column, still too wide because of its title: the title is broken into lines first
  titled: hgFit({...facet, columns: 1, title: {text: long, subtitle: "Observed / expected (1 = as expected)"},
                 config: {title: {fontSize: 16, subtitleFontSize: 13}}}, 342, 519),
  titledLayer: hgFit({...layer, title: long, config: {title: {fontSize: 16}}}, 342, 560),
  shortTitle: hgFit({...facet, columns: 1, title: "Short"}, 300, 340),  // nothing to wrap: panels narrow
  // a subtitle of several lines (the value's name and the '[x]' keys): each line is broken
  keyed: hgFit({...facet, columns: 1, title: {text: "Short", subtitle: ["Age-standardised %", keyLine]}}, 342, 519),
  // text cut off at an edge of a chart that fits (the browser measures it; these make the next spec)
  legendLeft: hgLegendsAt(legendView, -195, -84),
  noLegend: hgLegendsAt(layer, -195, -84),
  titleDown: hgTitleDown({...legendView, title: {text: "T", offset: 4}}, 65),
  padDown: hgTitleDown(layer, 65),
  titleEnd: hgTitleAtEnd(layer),
  titleEndAgain: hgTitleAtEnd(hgTitleAtEnd(layer)),
  room: hgTextRoom(fitted, 10, 20, 200),
  noRoom: hgTextRoom(fitted, 10, 100, 200),
  limit: hgTextLimit(labelled, 150),
  noText: hgTextLimit(layer, 150),
};
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the fitting code")
def test_charts_fit_their_container(tmp_path):
    """The browser code that draws a chart again, narrower, when it is wider than its container."""
    from healthgap.charts.html import FIT_SNIPPET, SNIPPET

    assert FIT_SNIPPET in SNIPPET
    (tmp_path / "fit.js").write_text(FIT_SNIPPET, encoding="utf-8")
    (tmp_path / "harness.js").write_text(FIT_HARNESS, encoding="utf-8")
    run = subprocess.run(
        ["node", str(tmp_path / "harness.js"), str(tmp_path / "fit.js")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["wrap"]["columns"] == 1 and out["wrap"]["spec"]["width"] == 170
    assert out["keep"] is None
    assert out["shrink"]["columns"] == 1
    assert out["narrow"]["columns"] == 1 and out["narrow"]["spec"]["width"] == 128
    assert out["floor"]["spec"]["width"] == 80
    assert out["single"]["width"] == 342 and out["single"]["autosize"] == {
        "type": "fit-x",
        "contains": "padding",
    }
    assert out["single"]["height"] == {"step": 28}
    assert out["again"] is None
    assert "vconcat" in out["concat"] and "hconcat" not in out["concat"]
    long = "Observed / expected recorded cases by deprivation fifth"
    titled = out["titled"]
    assert titled["spec"]["width"] == 170 and titled["columns"] == 1  # the panels keep their width
    lines = titled["title"]["text"]
    assert isinstance(lines, list) and len(lines) >= 2 and " ".join(lines) == long
    assert all(len(line) * 16 * 0.6 <= 332 for line in lines)  # each line fits (estimated 0.6 em a letter)
    keyed = out["keyed"]["title"]["subtitle"]
    assert keyed[0] == "Age-standardised %" and len(keyed) >= 3  # the long key line is broken, the short kept
    assert " ".join(keyed[1:]).startswith("[x] = not calculated") and all(
        len(k) * 10 * 0.6 <= 332 for k in keyed
    )
    assert titled["title"]["subtitle"] == "Observed / expected (1 = as expected)"  # it fits as it is
    layer = out["titledLayer"]
    assert (
        layer["width"] == 342 and " ".join(layer["title"]["text"]) == long and len(layer["title"]["text"]) > 1
    )
    assert out["shortTitle"]["title"] == "Short" and out["shortTitle"]["spec"]["width"] == 128
    # a legend above a narrow plot runs off the right: placed under the y axis' labels, same height
    legends = [v["encoding"]["color"]["legend"] for v in out["legendLeft"]["layer"][:2]]
    assert all(g["orient"] == "none" and g["legendX"] == -195 and g["legendY"] == -84 for g in legends)
    assert legends[0]["direction"] == "vertical" and out["noLegend"] is None
    assert out["titleDown"]["title"] == {"text": "T", "offset": 69}  # the room the legend took, above
    assert out["padDown"]["padding"] == {"top": 70, "left": 5, "right": 5, "bottom": 5}
    assert out["titleEnd"]["config"]["axisX"] == {"titleAnchor": "end"} and out["titleEndAgain"] is None
    assert out["room"]["padding"] == {"top": 5, "left": 17, "right": 27, "bottom": 5}  # 2 px to spare
    assert out["noRoom"] is None  # the plot would be narrower than 100 px
    assert out["limit"]["layer"][1]["mark"] == {"type": "text", "dx": 6, "limit": 150}
    assert "limit" not in str(out["limit"]["layer"][0]) and out["noText"] is None


OFFLINE_SCRIPT = r"""
import sys, tempfile, urllib.request
import polars as pl
from healthgap import charts
try:
    urllib.request.urlopen("https://pypi.org", timeout=3)
    sys.exit(3)  # the sandbox did not cut the network: the test would prove nothing
except OSError:
    pass
df = pl.DataFrame({"g": ["a", "b"], "value": [1.0, 2.0], "lower_ci": [0.5, 1.5], "upper_ci": [1.5, 2.5]})
svg = charts.static_svg(charts.ci_chart(df, group="g", title="Offline chart").to_dict())
bundle = charts.write_chart_assets(tempfile.mkdtemp())
print("Offline chart" in svg, bundle.stat().st_size > 100_000)
"""


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_unshare(), reason="needs `unshare -n` (a network namespace) to cut the network")
def test_static_svg_and_bundle_need_no_network():
    import sys

    run = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", OFFLINE_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["True", "True"]


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium")
def test_figures_render_live_in_chromium_from_file_urls(tmp_path):
    """Two figures on a page in chapters/: the bundle loads via ../site_libs, once, and replaces both static SVGs."""
    site = tmp_path / "site"
    (site / "chapters").mkdir(parents=True)
    charts.write_chart_assets(site / "site_libs" / "healthgap")
    rates = _rates()
    figures = "".join(
        charts.figure_html(
            charts.ci_chart(rates, group="imd_quintile", title=t),
            id=f"fig-{i}",
            title=t,
            description=f"about {t}",
            data=rates,
            download_href=None,
            asset_prefix="../",
        )
        for i, t in enumerate(("First", "Second"))
    )
    page = site / "chapters" / "page.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>{figures}</body></html>"
    )
    run = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    dom = run.stdout
    assert dom.count('class="hg-live vega-embed"') == 2, run.stderr[-1500:]
    assert "hg-static" not in dom  # the static SVGs were replaced by the live charts
    assert dom.count('data-hg-rendered="1"') == 2


def test_figure_html_when_disclosure_is_off():
    from healthgap.config import DisclosureSettings

    off = DisclosureSettings(enabled=False, reason="internal QA")
    raw = pl.DataFrame({"g": ["a", "b"], "n": [3, 40]})
    data = protect(raw, counts=["n"], settings=off)
    chart = alt.Chart(data).mark_bar().encode(x="g:N", y="n:Q")
    markup = charts.figure_html(chart, id="f", title="t", description="d", data=data, download_href=None)
    assert "Disclosure control was off for this table" in markup
    unmarked = alt.Chart(raw).mark_bar().encode(x="g:N", y="n:Q")  # raw counts without the "off" marker
    with pytest.raises(DisclosureError, match="count column 'n'"):
        charts.figure_html(
            unmarked, id="f", title="t", description="d", data=protect(raw, counts=["n"]), download_href=None
        )


# ------------------------------------------------------------------ diverging scale, axis floors


def test_diverging_palette_is_centred_readable_and_colour_blind_safe():
    div = palette.DIVERGING
    assert len(div) % 2 == 1
    lightness = [palette.to_lab(c)[0] for c in div]
    mid = len(div) // 2
    assert lightness[mid] == max(lightness)  # palest at zero
    assert all(a < b for a, b in itertools.pairwise(lightness[: mid + 1]))  # lighter towards the centre
    assert all(a > b for a, b in zip(lightness[mid:], lightness[mid + 1 :]))
    assert all(abs(lightness[i] - lightness[-1 - i]) < 10 for i in range(mid))  # the two sides mirror
    assert palette.contrast_ratio(div[0]) >= 3.0 and palette.contrast_ratio(div[-1]) >= 3.0  # WCAG 1.4.11
    for i in range(mid):  # a value and its opposite stay distinct under every simulated deficiency
        assert palette.min_cvd_delta_e([div[i], div[-1 - i]]) >= palette.MIN_CVD_DELTA_E
    ends = palette.DIVERGING_DARK_ENDS
    for i, fill in enumerate(div):
        label = "#FFFFFF" if i < ends or i >= len(div) - ends else palette.TEXT
        assert palette.contrast_ratio(label, fill) >= 4.5, fill


def test_heatmap_diverging_scale_is_symmetric_about_zero():
    df = pl.DataFrame({"x": ["a", "b", "a", "b"], "y": ["p", "p", "q", "q"], "value": [0.1, -0.7, 0.35, 0.0]})
    spec = charts.heatmap(df, x="x", y="y", title="t", scheme="diverging").to_dict()
    scales = [
        enc["color"]["scale"]
        for layer in spec["layer"]
        for enc in [layer.get("encoding", {})]
        if isinstance(enc.get("color"), dict) and "scale" in enc["color"]
    ]
    assert scales and scales[0]["domain"] == pytest.approx([-0.7, 0.7])
    assert scales[0]["range"] == list(palette.DIVERGING)
    # a sequential heatmap of the same data runs from the smallest to the largest value
    seq = charts.heatmap(df, x="x", y="y", title="t").to_dict()
    seq_scales = [
        enc["color"]["scale"]
        for layer in seq["layer"]
        for enc in [layer.get("encoding", {})]
        if isinstance(enc.get("color"), dict) and "scale" in enc["color"]
    ]
    assert seq_scales[0]["domain"] == pytest.approx([-0.7, 0.35])
    svg = charts.static_svg(spec)
    assert palette.DIVERGING[0].lower() in svg.lower()  # -0.7 drawn in the darkest blue
    assert palette.DIVERGING[len(palette.DIVERGING) // 2].lower() in svg.lower()  # 0.0 in the pale centre
    with pytest.raises(charts.ChartError, match="scheme must be 'sequential' or 'diverging'"):
        charts.heatmap(df, x="x", y="y", title="t", scheme="rainbow")  # type: ignore[arg-type]


def test_padded_domain_stops_at_zero_for_non_negative_values():
    assert charts.padded_domain(pl.Series([7.7, 7.7, 7.7])) == pytest.approx(
        [6.93, 8.47]
    )  # not Vega's -10 to 20
    assert charts.padded_domain(pl.Series([0.0, 0.0])) == pytest.approx([0.0, 0.1])
    assert charts.padded_domain(pl.Series([2.0, 12.0])) == pytest.approx([1.0, 13.0])
    assert charts.padded_domain(pl.Series([-2.0, 8.0])) == pytest.approx(
        [-3.0, 9.0]
    )  # negatives: padded both ways
    assert charts.padded_domain(pl.Series([None, float("nan")], dtype=pl.Float64)) is None


def test_mitigation_scatter_percentage_axis_does_not_go_below_zero():
    df = pl.DataFrame(
        {"method": ["a", "b", "c"], "performance": [0.61, 0.62, 0.6], "disparity": [7.7, 7.7, 7.7]}
    )
    spec = charts.mitigation_scatter(df, title="t").to_dict()
    y_scales = [
        layer["encoding"]["y"]["scale"]
        for layer in [spec, *spec.get("layer", [])]
        if "encoding" in layer and "y" in layer["encoding"]
    ]
    assert y_scales and all(s["domain"][0] >= 0 for s in y_scales)
    svg = charts.static_svg(spec)
    assert not re.search(r">−\s*\d|>-\d", svg)  # no negative tick labels


def _few_events() -> pl.DataFrame:
    """A rate not calculated from fewer than 10 events (count published) next to a suppressed one."""
    df = pl.DataFrame(
        {
            "dimension": ["a", "a", "b", "a", "b"],  # each table's secondary suppression stays in it
            "label": ["White", "Mixed", "Asian", "Black", "Other"],
            "events": [590, 9, 4, 300, 250],
            "value": [2.0, None, 1.1, 3.1, 2.9],
            "lower_ci": [1.8, None, 0.3, 2.7, 2.5],
            "upper_ci": [2.2, None, 2.8, 3.5, 3.3],
            "note": [None, "total events < 10", "total events < 10", None, None],
        }
    )
    return protect(
        df, counts=["events"], by=["dimension"], derived={"events": ["value", "lower_ci", "upper_ci"]}
    )


def test_missing_and_suppressed_values_are_marked_as_in_the_tables():
    df = _few_events()
    assert df["suppressed"].to_list()[:3] == [False, False, True]
    vertical = charts.ci_chart(df, group="label", title="t", horizontal=False).to_dict()
    assert sorted(_text_marks(vertical)) == ["[c]", "[x]"]
    subtitle = vertical["title"]["subtitle"]
    assert subtitle == [
        "[c] = suppressed: too few people to publish",
        "[x] = not calculated: fewer than 10 events",
    ]
    svg = charts.static_svg(vertical)
    assert "[x] = not calculated: fewer than 10 events" in svg and "[c] = suppressed" in svg
    across = charts.ci_chart(df, group="label", title="t").to_dict()
    assert sorted(_text_marks(across)) == ["[c] suppressed", "[x] not calculated: fewer than 10 events"]
    multiples = charts.small_multiples(
        df.with_columns(facet=pl.lit("Deaths")), facet="facet", group="label", title="t", value_title="Rate"
    ).to_dict()
    assert multiples["title"]["subtitle"][-1] == "[x] = not calculated: fewer than 10 events"
    # only a null value in a suppressed row is "[c]": nothing suppressed, no "[c]" key
    only_few = df.filter(pl.col("dimension") == "a")
    assert not only_few["suppressed"].any()
    title = charts.ci_chart(only_few, group="label", title="t", horizontal=False).to_dict()["title"]
    assert title["subtitle"] == "[x] = not calculated: fewer than 10 events"
    # without a note the reason is the plain one
    plain = only_few.drop("note")
    assert charts.ci_chart(plain, group="label", title="t", horizontal=False).to_dict()["title"][
        "subtitle"
    ] == ("[x] = not available")
    heat = charts.heatmap(df.with_columns(q=pl.lit(1)), x="q", y="label", title="Heat").to_dict()
    assert heat["title"]["subtitle"] == [
        "[c] = suppressed: too few people to publish",
        "[x] = not calculated: fewer than 10 events",
    ]
    assert "'[c]' : '[x]'" in json.dumps(heat)


def test_long_axis_titles_break_into_lines_that_fit_a_phone():
    """A long value title ("Missed appointments per 100 people with cardiology referral") ran off
    the chart's left edge on a phone, where the x-axis title ends at the plot's right edge."""
    from healthgap.charts._common import AXIS_TITLE_PX, CHAR_PX

    df = pl.DataFrame(
        {"group": ["1", "2"], "value": [3.0, 4.0], "lower_ci": [2.0, 3.0], "upper_ci": [4.0, 5.0]}
    )
    long = "Appointments cancelled by the hospital per 100 people with cardiology referral"
    spec = charts.ci_chart(df, group="group", title="T", mark="bar", value_title=long).to_dict()
    titles = [
        layer["encoding"]["x"]["title"]
        for layer in spec["layer"]
        if "title" in layer["encoding"].get("x", {})
    ]
    assert titles and all(isinstance(t, list) and " ".join(t) == long for t in titles)
    assert all(len(line) * CHAR_PX <= AXIS_TITLE_PX for t in titles for line in t)
    short = charts.ci_chart(df, group="group", title="T", value_title="People (%)").to_dict()
    assert any(layer["encoding"].get("x", {}).get("title") == "People (%)" for layer in short["layer"])
