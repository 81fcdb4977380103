"""Tests for healthgap.tables: number formatting and accessible HTML tables."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthgap.config import DisclosureSettings
from healthgap.disclosure import DisclosureError, protect
from healthgap.tables import format_expr, format_number, missing_reasons, reason_notes, table_html


class _Cells(HTMLParser):
    """Collects (tag, attrs, text) of every th/td, and captions."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, dict, str]] = []
        self._open: tuple[str, dict] | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag in ("th", "td", "caption"):
            self._open, self._text = (tag, dict(attrs)), ""

    def handle_data(self, data):
        if self._open:
            self._text += data

    def handle_endtag(self, tag):
        if self._open and tag == self._open[0]:
            self.cells.append((tag, self._open[1], self._text))
            self._open = None


def _parse(markup: str) -> list[tuple[str, dict, str]]:
    p = _Cells()
    p.feed(markup)
    return p.cells


def _python_reference(v: float, dp: int) -> str:
    ref = f"{v:,.{dp}f}"
    return ref.lstrip("-") if float(ref.replace(",", "")) == 0 else ref


@settings(max_examples=200, deadline=None)
@given(st.integers(-(10**12), 10**12))
def test_integer_format_matches_python(x):
    assert format_number(x, style="integer") == f"{x:,}"


@settings(max_examples=200, deadline=None)
@given(st.integers(-(10**9), 10**9).filter(lambda k: abs(k) % 10 != 5), st.integers(0, 3))
def test_decimal_format_matches_python(k, dp):
    v = k / 10 ** (dp + 1)  # never a tie at the rounding digit
    assert format_number(v, dp=dp) == _python_reference(v, dp)


def _outcome(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # format_expr cannot cast a scaled value of 2**63 or more
        return type(exc)


def _same_as_expr(v: float, style: str, dp: int | None) -> None:
    expected = _outcome(
        lambda: pl.select(format_expr(pl.lit(v, dtype=pl.Float64), style=style, dp=dp)).item()
    )
    got = _outcome(format_number, v, style=style, dp=dp, missing="MISSING")
    assert got == ("MISSING" if expected is None else expected)


@settings(max_examples=600, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.floats(-1e7, 1e7),
        st.integers(-(10**7), 10**7).map(lambda k: k / 8),  # exact halves and quarters
        st.integers(-(10**6), 10**6).map(lambda k: k / 1000),
    ),
    st.sampled_from(["number", "integer", "rate", "percent", "proportion", "ratio"]),
    st.one_of(st.none(), st.integers(0, 6)),
)
def test_format_number_is_format_expr(v, style, dp):
    """The Python steps give format_expr's text for every value, style and number of places
    (exact halves, signed zeros and values too large for the fast path included)."""
    _same_as_expr(v, style, dp)


@pytest.mark.parametrize(
    "v",
    [0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 2.675, 1.005, -0.0, -0.04, 1e15 + 0.5, 2.0**53, -(2.0**60), 1e300],
)
@pytest.mark.parametrize("style", ["number", "integer", "ratio", "proportion"])
def test_format_number_is_format_expr_at_the_edges(v, style):
    _same_as_expr(v, style, None)


def test_format_styles_and_missing():
    assert format_number(1234.56) == "1,234.6"
    assert format_number(1234.56, style="rate") == "1,234.6"
    assert format_number(12.345, style="percent") == "12.3%"
    assert format_number(0.1234, style="proportion") == "12.3%"
    assert format_number(0.1234, style="proportion", dp=0) == "12%"
    assert format_number(1.2345, style="ratio") == "1.23"
    assert format_number(-0.04) == "0.0"
    assert format_number(None) == "not available"
    assert format_number(float("nan"), missing="[x]") == "[x]"
    assert format_number(float("inf")) == "not available"
    with pytest.raises(ValueError, match="Unknown number style 'money'"):
        format_number(1, style="money")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole number from 0 to 10"):
        format_number(1, dp=-1)
    out = pl.DataFrame({"x": [1000.0, None]}).select(format_expr("x", style="integer"))
    assert out["x"].to_list() == ["1,000", None]


def _protected() -> pl.DataFrame:
    df = pl.DataFrame(
        {
            "group": ["<most> deprived", "2", "3", "4"],
            "events": [3, 1200, 40, 600],
            "rate": [1.25, 1234.567, 3.0, 4.0],
            "flag": [True, False, True, None],
        }
    )
    return protect(df, counts=["events"], derived={"events": ["rate"]})


def test_table_structure_and_accessibility():
    markup = table_html(_protected(), id="rates", caption="Rates & counts", note="Source: synthetic <data>")
    cells = _parse(markup)
    caption = [c for c in cells if c[0] == "caption"]
    assert caption and caption[0][2] == "Rates & counts"
    heads = [c for c in cells if c[0] == "th" and c[1].get("scope") == "col"]
    assert [h[2] for h in heads] == ["group", "events", "rate", "flag"]
    assert all("text-align:right" in h[1].get("style", "") for h in heads[1:3])
    row_heads = [c[2] for c in cells if c[0] == "th" and c[1].get("scope") == "row"]
    assert row_heads == ["<most> deprived", "2", "3", "4"]
    data = [c[2] for c in cells if c[0] == "td"]
    assert data[:3] == ["[c]", "[c]", "Yes"]
    assert [c[1].get("class") for c in cells if c[0] == "td"][:3] == ["hg-num hg-suppressed"] * 2 + [None]
    assert data[3:6] == ["1,200", "1,234.6", "No"]
    assert data[-1] == "[x]"
    assert "&lt;most&gt;" in markup and "<most>" not in markup
    assert (
        'role="region"' in markup and 'aria-label="Rates &amp; counts"' in markup and 'tabindex="0"' in markup
    )
    assert (
        "[c] Suppressed to protect confidentiality. Small counts are not shown, nor other counts from "
        "which a small count could be worked out." in markup
    )
    assert "rate not shown because it comes from a suppressed count" in markup.lower()
    assert "[x] Not available." in markup
    assert "Source: synthetic &lt;data&gt;" in markup


def test_columns_select_rename_and_formats():
    markup = table_html(
        _protected(),
        id="t",
        caption="c",
        columns={"rate": "Rate per 1,000", "group": "Group"},
        formats={"rate": ("rate", 2)},
    )
    cells = _parse(markup)
    assert [c[2] for c in cells if c[1].get("scope") == "col"] == ["Rate per 1,000", "Group"]
    assert "1,234.57" in markup
    assert "suppressed" not in [c[2] for c in cells if c[0] == "th"]


def test_first_column_is_the_row_header_even_if_a_code():
    df = protect(pl.DataFrame({"imd_quintile": [1, 2], "n": [100, 200], "note": ["x", "y"]}), counts=["n"])
    cells = _parse(table_html(df, id="t", caption="c"))
    assert [c[2] for c in cells if c[1].get("scope") == "row"] == ["1", "2"]
    assert [c[2] for c in cells if c[0] == "td"] == ["100", "x", "200", "y"]


def test_columns_as_a_list():
    cells = _parse(table_html(_protected(), id="t", caption="c", columns=["rate", "group"]))
    assert [c[2] for c in cells if c[1].get("scope") == "col"] == ["rate", "group"]


def test_no_suppression_footnote_when_nothing_suppressed():
    df = protect(pl.DataFrame({"g": ["a", "b"], "n": [100, 200]}), counts=["n"])
    markup = table_html(df, id="t", caption="c")
    assert "[c]" not in markup and "[x]" not in markup


def test_disclosure_off_is_stated():
    off = DisclosureSettings(enabled=False, reason="QA")
    df = protect(pl.DataFrame({"g": ["a", "b"], "n": [3, 200]}), counts=["n"], settings=off)
    markup = table_html(df, id="t", caption="c")
    assert "Disclosure control was off for this table" in markup
    assert ">3<" in markup


def test_table_errors():
    df = _protected()
    with pytest.raises(ValueError, match=r"column\(s\) \['nope'\] are not in the table"):
        table_html(df, id="t", caption="c", columns={"nope": "x"})
    with pytest.raises(ValueError, match="Unknown number style 'bad' for column 'rate'"):
        table_html(df, id="t", caption="c", formats={"rate": "bad"})
    with pytest.raises(ValueError, match="`id` must be a non-empty string without spaces"):
        table_html(df, id="has space", caption="c")
    with pytest.raises(DisclosureError, match="person identifier"):
        table_html(pl.DataFrame({"person_id": ["a"], "x": [1]}), id="t", caption="c")
    with pytest.raises(DisclosureError, match="between 1 and 7"):
        table_html(pl.DataFrame({"g": ["a"], "n": [3]}), id="t", caption="c")


def test_empty_table():
    df = protect(pl.DataFrame({"g": [], "n": []}, schema={"g": pl.String, "n": pl.Int64}), counts=["n"])
    markup = table_html(df, id="t", caption="Nothing")
    assert "<tbody>" in markup and "<td" not in markup


def test_suppression_footnote_once_per_reason_with_display_labels():
    df = pl.DataFrame(
        {
            "group": ["a", "b", "c", "d", "e", "f"],
            "numerator": [3, 2, 50, 60, 70, 80],
            "denominator": [100, 100, 4, 100, 100, 100],
            "value": [0.03, 0.02, 0.9, 0.6, 0.7, 0.8],
            "lower_ci": [0.0] * 6,
            "upper_ci": [1.0] * 6,
        }
    )
    ci = ["value", "lower_ci", "upper_ci"]
    out = protect(
        df, counts=["numerator", "denominator"], derived={"numerator": ci, "denominator": ci}, by=[]
    )
    assert out["suppression_reason"].drop_nulls().n_unique() >= 2  # the rows give the reasons several times
    markup = table_html(
        out,
        id="t",
        caption="c",
        columns={"group": "Group", "value": "Rate", "lower_ci": "Lower 95% CI", "upper_ci": "Upper 95% CI"},
    )
    foot = markup[markup.index('<p class="hg-table-note">') :]
    assert foot.count("Small counts are not shown") == 1
    assert (
        foot.count("Rate and 95% confidence interval not shown because they come from a suppressed count.")
        == 1
    )
    for internal in ("lower_ci", "upper_ci", "value,", "numerator", "derived from"):
        assert internal not in foot


def test_reason_notes_unknown_and_reference_reasons():
    notes = reason_notes(
        ["custom rule applied", "rate_ratio, rr_lower: compared with a suppressed reference group"],
        labels={"rate_ratio": "Rate ratio", "rr_lower": "Lower 95% CI"},
        columns=["rate_ratio", "rr_lower", "rr_upper"],
    )
    assert notes == [
        "Rate ratio and lower 95% CI not shown because the group they are compared with is suppressed.",
        "Custom rule applied.",
    ]
    both = reason_notes(
        ["rate_ratio, rr_lower, rr_upper: compared with a suppressed reference group"],
        labels={"rate_ratio": "Rate ratio", "rr_lower": "RR lower", "rr_upper": "RR upper"},
        columns=["rate_ratio", "rr_lower", "rr_upper"],
    )
    assert both == [
        "Rate ratio and RR confidence interval not shown because the group they are compared with "
        "is suppressed."
    ]
    # columns not shown in the table are not named; a derived reason naming none of them is dropped
    assert reason_notes(
        ["n: suppressed to protect confidentiality; rate: derived from a suppressed count"],
        labels={"g": "G"},
        columns=["g", "n", "rate"],
    ) == ["Small counts are not shown, nor other counts from which a small count could be worked out."]


def test_group_rows_show_the_dimension_once():
    df = protect(
        pl.DataFrame(
            {
                "dimension": ["Sex", "Sex", "Age", "Age", "Age"],
                "group": ["F", "M", "0-4", "5-9", "10+"],
                "n": [100, 200, 300, 400, 500],
            }
        ),
        counts=["n"],
        by=[],
    )
    markup = table_html(
        df,
        id="t",
        caption="c",
        columns={"dimension": "Dimension", "group": "Group", "n": "People"},
        group="dimension",
    )
    cells = _parse(markup)
    assert [c[2] for c in cells if c[1].get("scope") == "col"] == ["Group", "People"]
    assert [(c[2], c[1].get("colspan")) for c in cells if c[1].get("scope") == "rowgroup"] == [
        ("Sex", "2"),
        ("Age", "2"),
    ]
    assert [c[2] for c in cells if c[1].get("scope") == "row"] == ["F", "M", "0-4", "5-9", "10+"]
    assert markup.count("<tbody>") == 2 and markup.count("</tbody>") == 2
    assert markup.index(">Sex<") < markup.index(">M<") < markup.index(">Age<") < markup.index(">0-4<")
    with pytest.raises(ValueError, match="`group` column 'nope' is not in the table"):
        table_html(df, id="t", caption="c", group="nope")


def test_negative_zero_never_shows_a_sign():
    for v, style, dp in [
        (-0.0, "number", 1),
        (-0.04, "number", 1),
        (-0.0004, "proportion", 1),
        (-1e-12, "ratio", 2),
        (-0.4, "integer", None),
    ]:
        assert not format_number(v, style=style, dp=dp).startswith("-")
    assert format_number(-0.06) == "-0.1"


def _dsr_rows() -> pl.DataFrame:
    """Age-standardised rates as the chapters publish them: a reference row, a group with fewer than
    10 events (count shown rounded to 10, rate not calculated) and a group whose count is suppressed."""
    df = pl.DataFrame(
        {
            "dimension": ["ethnicity"] * 3 + ["other"] * 2,  # (the other table's suppression stays in it)
            "label": ["White", "Mixed", "Black", "Asian", "Other"],
            "events": [590, 9, 300, 4, 60],
            "population": [222_010, 5_570, 8_000, 9_000, 7_000],
            "value": [2.0, None, 3.1, None, 0.9],
            "rate_ratio": [1.0, None, 1.5, None, 1.0],
            "rr_lower": [None, None, 1.3, None, None],
            "rr_upper": [None, None, 1.7, None, None],
            "note": [None, "total events < 10", None, "total events < 10", None],
        }
    )
    return protect(
        df,
        counts=["events", "population"],
        by=["dimension"],
        derived={"events": ["value", "rate_ratio", "rr_lower", "rr_upper"]},
    )


def test_missing_values_say_why():
    df = _dsr_rows()
    assert df.filter(pl.col("label") == "Mixed")["events"].item() == 10  # 9 rounded to the nearest 5
    assert missing_reasons(df, columns=["value", "rr_lower"]) == [
        "Not applicable: the reference group's rate ratio is 1 by definition, with no interval",
        "Not calculated: fewer than 10 events",
    ]
    markup = table_html(
        df,
        id="t",
        caption="c",
        columns={
            "label": "Group",
            "events": "Events",
            "value": "Rate",
            "rate_ratio": "Rate ratio",
            "rr_lower": "RR lower",
            "rr_upper": "RR upper",
        },
    )
    rows = {r[0]: r[1:] for r in _rows(markup)}
    assert rows["Mixed"] == ["10", "[x]", "[x]", "[x]", "[x]"]  # published count: the rate is [x], not [c]
    assert rows["Asian"] == [
        "[c]",
        "[c]",
        "[c]",
        "[c]",
        "[c]",
    ]  # suppressed count: [c] whatever the note says
    assert rows["White"][-2:] == ["[z]", "[z]"]  # does not apply (GSS symbol), not "not available"
    foot = re.findall(r'<p class="hg-table-note">(.*?)</p>', markup)
    assert (
        "[x] Not calculated: fewer than 10 events. Counts are rounded to protect confidentiality, so a group "
        "with fewer than 10 events can show 10." in foot
    )
    assert (
        "[z] Not applicable: the reference group's rate ratio is 1 by definition, with no interval." in foot
    )
    assert "[x] Not available." not in foot
    assert any(f.startswith("[c] Suppressed to protect confidentiality.") for f in foot)
    # without a note or a reference row the plain reason stays
    plain = protect(
        pl.DataFrame({"g": ["a", "b"], "n": [100, 200], "v": [1.0, None]}), counts=["n"], derived={}
    )
    assert missing_reasons(plain, columns=["v"]) == ["Not available"]
    assert "[x] Not available." in table_html(plain, id="p", caption="c")
    # an unknown note is still shown, escaped
    odd = plain.with_columns(note=pl.lit("model <failed>"))
    assert "[x] Not available: model &lt;failed&gt;." in table_html(
        odd, id="o", caption="c", columns=["g", "v"]
    )


def _rows(markup: str) -> list[list[str]]:
    """The text of each body row's cells."""
    body = markup.split("<tbody>", 1)[1]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r) for r in re.findall(r"<tr>(.*?)</tr>", body)]
