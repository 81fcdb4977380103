"""Tests for healthgap.disclosure: suppression, rounding, secondary suppression, guards."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthgap import disclosure as d
from healthgap.config import DisclosureSettings
from healthgap.disclosure import DisclosureError, assert_publishable, disclosure_notice, protect

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
small_or_big = st.one_of(st.integers(0, 9), st.integers(0, 80))


def _round5(x: int, base: int = 5) -> int:
    """Independent reference: nearest multiple, halves up."""
    return int(math.floor(x / base + 0.5) * base)


# ------------------------------------------------------------------ primary + rounding


@FAST
@given(st.lists(small_or_big, min_size=1, max_size=12))
def test_no_small_count_visible_and_rounding(counts):
    df = pl.DataFrame({"g": [f"g{i}" for i in range(len(counts))], "n": counts})
    out = protect(df, counts=["n"])
    published = out["n"].to_list()
    for original, shown in zip(counts, published):
        if 1 <= original <= 7:
            assert shown is None
        if shown is not None:
            assert not 1 <= shown <= 7
            assert shown % 5 == 0
            assert shown == _round5(original)
        if original == 0 and shown is not None:
            assert shown == 0
    assert out["suppressed"].to_list() == [v is None for v in published]


def test_rounding_examples_and_halves():
    df = pl.DataFrame({"n": [0, 1, 7, 8, 12, 13, 15, 25, 1234]})
    assert protect(df, counts=["n"])["n"].to_list()[3:] == [10, 10, 15, 15, 25, 1235]
    ten = protect(df.filter(pl.col("n") >= 8), counts=["n"], settings=DisclosureSettings(rounding=10))
    assert ten["n"].to_list() == [10, 10, 10, 20, 30, 1230]  # 15 -> 20 and 25 -> 30: halves round up
    zeros = protect(pl.DataFrame({"n": [0, 0, 40]}), counts=["n"])
    assert zeros["n"].to_list() == [0, 0, 40]
    assert not zeros["suppressed"].any()


def test_round_to_base_matches_reference():
    values = list(range(0, 200))
    got = pl.select(d.round_to_base(pl.lit(pl.Series(values)), 5)).to_series().to_list()
    assert got == [_round5(v) for v in values]


def test_float_counts_keep_dtype():
    out = protect(pl.DataFrame({"n": [12.0, 3.0, 40.0]}), counts=["n"])
    assert out.schema["n"] == pl.Float64
    assert out["n"].to_list() == [None, None, 40.0]


def test_one_reason_for_primary_and_secondary_and_derived_suppression():
    df = pl.DataFrame(
        {"q": ["1", "2", "3"], "events": [3, 50, 60], "value": [1.0, 2.0, 3.0], "lower_ci": [0.5, 1.5, 2.5]}
    )
    out = protect(df, counts=["events"], derived={"events": ["value", "lower_ci"]})
    assert out["value"].to_list() == [None, None, 3.0]
    assert out["lower_ci"].to_list() == [None, None, 2.5]
    reasons = out["suppression_reason"].to_list()
    # the small count and the cell withheld to protect it cannot be told apart (issue 11, leak 7)
    assert (
        reasons[0]
        == reasons[1]
        == ("suppressed to protect confidentiality; value, lower_ci: derived from a suppressed count")
    )
    assert reasons[0].startswith(d.REASON_CONFIDENTIAL)
    assert reasons[2] is None


# ------------------------------------------------------------------ secondary suppression, 1-D


@FAST
@given(st.lists(st.lists(small_or_big, min_size=1, max_size=8), min_size=1, max_size=4))
def test_secondary_suppression_cannot_be_undone_1d(groups):
    rows = [(f"grp{g}", f"c{i}", n) for g, cells in enumerate(groups) for i, n in enumerate(cells)]
    df = pl.DataFrame(rows, schema=["grp", "cell", "n"], orient="row")
    out = protect(df, counts=["n"], by=["grp"])
    for g, cells in enumerate(groups):
        part = out.filter(pl.col("grp") == f"grp{g}")
        total = sum(cells)  # the attacker knows the exact total (published elsewhere)
        hidden = [i for i, v in enumerate(part["n"].to_list()) if v is None]
        if len(cells) >= 2:
            # subtracting the (unrounded!) published cells from the total leaves the sum of >= 2 cells
            recovered = total - sum(c for i, c in enumerate(cells) if i not in hidden)
            assert len(hidden) != 1, (cells, hidden, recovered)
        for i, c in enumerate(cells):
            if 1 <= c <= 7:
                assert i in hidden


def _reference_1d(cells: list[int]) -> list[bool]:
    """Plain-Python reference of the 1-D rule: primary 1-7, then the smallest other (non-zero first)."""
    hidden = [1 <= c <= 7 for c in cells]
    if sum(hidden) == 1 and len(cells) >= 2:
        order = sorted((c == 0, c, i) for i, c in enumerate(cells) if not hidden[i])
        hidden[order[0][2]] = True
    return hidden


@FAST
@given(st.lists(st.lists(small_or_big, min_size=1, max_size=8), min_size=1, max_size=4))
def test_1d_rule_matches_reference(groups):
    rows = [(f"grp{g}", n) for g, cells in enumerate(groups) for n in cells]
    out = protect(pl.DataFrame(rows, schema=["grp", "n"], orient="row"), counts=["n"], by=["grp"])
    assert out["suppressed"].to_list() == [h for cells in groups for h in _reference_1d(cells)]


def test_secondary_prefers_smallest_nonzero_and_skips_total_rows():
    df = pl.DataFrame({"q": ["1", "2", "3", "4", "Total"], "n": [3, 0, 50, 60, 45]})
    marked = protect(df.with_columns(is_total=pl.col("q") == "Total"), counts=["n"], totals="is_total")
    assert marked["n"].to_list() == [None, 0, None, 60, 45]
    # without the mark a row labelled "Total" is a cell like any other (issue 11, leak 4)
    assert protect(df, counts=["n"])["n"].to_list() == [None, 0, 50, 60, None]
    assert protect(df, counts=["n"], totals="none")["n"].to_list() == [None, 0, 50, 60, None]


def test_secondary_uses_zero_when_only_zeros_remain():
    out = protect(pl.DataFrame({"n": [4, 0, 0]}), counts=["n"])
    assert out["n"].to_list() == [None, None, 0]


# ------------------------------------------------------------------ secondary suppression, 2-D


def _recoverable(
    hidden: list[tuple[int, int]], nrow: int, ncol: int, margins_hidden: set = frozenset()
) -> set:
    """Independent check: hidden interior cells whose values follow from row and column totals."""
    unknowns = (
        list(hidden)
        + [("R", r) for r in range(nrow) if ("R", r) in margins_hidden]
        + [("C", c) for c in range(ncol) if ("C", c) in margins_hidden]
    )
    index = {u: i for i, u in enumerate(unknowns)}
    eqs = []
    for r in range(nrow):
        row = np.zeros(len(unknowns))
        for c in range(ncol):
            if (r, c) in index:
                row[index[(r, c)]] = 1
        if ("R", r) in index:
            row[index[("R", r)]] = -1
        eqs.append(row)
    for c in range(ncol):
        row = np.zeros(len(unknowns))
        for r in range(nrow):
            if (r, c) in index:
                row[index[(r, c)]] = 1
        if ("C", c) in index:
            row[index[("C", c)]] = -1
        eqs.append(row)
    a = np.array(eqs) if eqs and len(unknowns) else np.zeros((0, len(unknowns)))
    if a.size == 0:
        return set()
    rank = np.linalg.matrix_rank(a)
    out = set()
    for u, i in index.items():
        e = np.zeros(len(unknowns))
        e[i] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.add(u)
    return out


grids = st.integers(2, 5).flatmap(
    lambda nr: st.integers(2, 5).flatmap(
        lambda nc: st.lists(st.lists(small_or_big, min_size=nc, max_size=nc), min_size=nr, max_size=nr)
    )
)


@FAST
@given(grids)
def test_secondary_suppression_cross_tab_cannot_be_undone(grid):
    nrow, ncol = len(grid), len(grid[0])
    rows = [(f"r{r}", f"c{c}", grid[r][c]) for r in range(nrow) for c in range(ncol)]
    df = pl.DataFrame(rows, schema=["row", "col", "n"], orient="row")
    out = protect(df, counts=["n"], across=["row", "col"])
    shown = out["n"].to_list()
    hidden = [(r, c) for r in range(nrow) for c in range(ncol) if shown[r * ncol + c] is None]
    small = {(r, c) for r in range(nrow) for c in range(ncol) if 1 <= grid[r][c] <= 7}
    assert small <= set(hidden)
    assert not (_recoverable(hidden, nrow, ncol) & small)


@FAST
@given(grids)
def test_cross_tab_with_margins_in_the_table(grid):
    nrow, ncol = len(grid), len(grid[0])
    rows = [(f"r{r}", f"c{c}", grid[r][c]) for r in range(nrow) for c in range(ncol)]
    rows += [(f"r{r}", None, sum(grid[r])) for r in range(nrow)]  # margins: null where summed over
    rows += [(None, f"c{c}", sum(grid[r][c] for r in range(nrow))) for c in range(ncol)]
    rows += [(None, None, sum(map(sum, grid)))]
    df = pl.DataFrame(rows, schema=["row", "col", "n"], orient="row").with_columns(
        is_total=pl.col("row").is_null() | pl.col("col").is_null()
    )
    out = protect(df, counts=["n"], across=["row", "col"], totals="is_total")
    assert not out.filter(pl.col("n").is_between(1, 7))["n"].len()
    lookup = {(a, b): v for a, b, v in out.select("row", "col", "n").iter_rows()}
    hidden = [(r, c) for r in range(nrow) for c in range(ncol) if lookup[(f"r{r}", f"c{c}")] is None]
    margins = {("R", r) for r in range(nrow) if lookup[(f"r{r}", None)] is None} | {
        ("C", c) for c in range(ncol) if lookup[(None, f"c{c}")] is None
    }
    small = {(r, c) for r in range(nrow) for c in range(ncol) if 1 <= grid[r][c] <= 7}
    assert not (_recoverable(hidden, nrow, ncol, margins) & small)


def test_cross_tab_bridge_between_two_cycles_is_protected():
    # Two 2x2 blocks of small counts joined by one small cell: the line rule alone
    # leaves the joining cell recoverable; the linear check must fix it.
    grid = [
        [3, 3, 0, 90, 90],
        [3, 3, 0, 90, 90],
        [90, 90, 3, 3, 90],
        [90, 90, 0, 3, 3],
        [90, 90, 0, 3, 3],
    ]
    nrow, ncol = 5, 5
    rows = [(f"r{r}", f"c{c}", grid[r][c]) for r in range(nrow) for c in range(ncol)]
    out = protect(
        pl.DataFrame(rows, schema=["row", "col", "n"], orient="row"), counts=["n"], across=["row", "col"]
    )
    shown = out["n"].to_list()
    hidden = [(r, c) for r in range(nrow) for c in range(ncol) if shown[r * ncol + c] is None]
    small = {(r, c) for r in range(nrow) for c in range(ncol) if 1 <= grid[r][c] <= 7}
    assert not (_recoverable(hidden, nrow, ncol) & small)


# ------------------------------------------------------------------ bookkeeping, modes


def test_several_count_columns_have_per_column_detail():
    df = pl.DataFrame(
        {"g": ["a", "b", "c"], "events": [3, 20, 30], "population": [500, 600, 700], "value": [1.0, 2, 3]}
    )
    out = protect(df, counts=["events", "population"], derived={"events": ["value"]})
    assert out["suppressed_events"].to_list() == [True, True, False]
    assert out["suppressed_population"].to_list() == [False, False, False]
    assert out["population"].to_list() == [500, 600, 700]
    assert (
        out["suppression_reason"][0]
        == "events: suppressed to protect confidentiality; value: derived from a suppressed count"
    )
    assert out["suppression_reason_events"].to_list() == [d.REASON_CONFIDENTIAL, d.REASON_CONFIDENTIAL, None]


def test_protect_is_idempotent_and_keeps_reasons():
    df = pl.DataFrame({"g": ["a", "b", "c", "d"], "n": [3, 21, 30, 44]})
    once = protect(df, counts=["n"])
    twice = protect(once, counts=["n"])
    assert twice["n"].to_list() == once["n"].to_list()
    assert twice["suppression_reason"].to_list() == once["suppression_reason"].to_list()


def test_lazy_input_and_empty_frame():
    out = protect(pl.LazyFrame({"n": [3, 40, 50]}), counts=["n"])
    assert out["n"].to_list() == [None, None, 50]
    empty = protect(pl.DataFrame({"n": []}, schema={"n": pl.Int64}), counts=["n"])
    assert empty.columns == ["n", "suppressed", "suppression_reason"]


def test_disabled_mode_returns_unrounded_data_and_notice():
    off = DisclosureSettings(enabled=False, reason="internal QA only")
    df = pl.DataFrame({"n": [3, 12]})
    out = protect(df, counts=["n"], settings=off)
    assert out["n"].to_list() == [3, 12]
    assert not out["suppressed"].any()
    assert out["suppression_reason"].str.starts_with(d.OFF_PREFIX).all()
    assert "internal QA only" in out["suppression_reason"][0]
    notice = disclosure_notice(off)
    assert notice is not None and "internal QA only" in notice and "OFF" in notice
    assert disclosure_notice(DisclosureSettings()) is None
    assert disclosure_notice(None) is None
    assert_publishable(out)  # protection was off on purpose: the guard lets it through
    with pytest.raises(DisclosureError, match="between 1 and 7"):
        assert_publishable(df)


# ------------------------------------------------------------------ errors of protect()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"counts": []}, "at least one count column"),
        ({"counts": ["missing"]}, r"column\(s\) \['missing'\] named in `counts`"),
        ({"counts": ["n"], "derived": {"n": ["nope"]}}, "named in `derived`"),
        ({"counts": ["n"], "by": ["nope"]}, "named in `by`"),
        ({"counts": ["n"], "across": ["nope"]}, "named in `across`"),
        ({"counts": ["n"], "derived": {"g": ["n"]}}, "are not count columns"),
        ({"counts": ["n"], "totals": "auto"}, "never guessed from a label"),
        ({"counts": ["n"], "totals": "some"}, r"column\(s\) \['some'\] named in `totals`"),
        ({"counts": ["n"], "totals": "g"}, "must be boolean"),
        ({"counts": ["n"], "size": "g"}, "is not one of the count columns"),
        ({"counts": ["n"], "by": ["n"]}, "used both as counts/derived"),
        ({"counts": ["g"]}, "must be numeric"),
        ({"counts": ["n"], "settings": DisclosureSettings(enabled=False)}, "no reason is given"),
        ({"counts": ["n"], "settings": DisclosureSettings(rounding=0)}, "disclosure.rounding must be"),
        ({"counts": ["n"], "settings": DisclosureSettings(min_group=0)}, "disclosure.min_group must be"),
        (
            {"counts": ["n"], "settings": DisclosureSettings(suppress_below=1, rounding=1)},
            "set disclosure.enabled: false with a disclosure.reason",
        ),
        (
            {"counts": ["n"], "settings": DisclosureSettings(suppress_below=0)},
            "disclosure.suppress_below must be",
        ),
    ],
)
def test_protect_errors(kwargs, message):
    df = pl.DataFrame({"g": ["a", "b"], "n": [3, 40]})
    with pytest.raises(DisclosureError, match=message):
        protect(df, **kwargs)


def test_protect_rejects_non_frames():
    with pytest.raises(DisclosureError, match="expected a polars DataFrame or LazyFrame; got dict"):
        protect({"n": [1, 2]}, counts=["n"])  # type: ignore[arg-type]


def test_single_names_and_nan_counts():
    df = pl.DataFrame(
        {"grp": ["a", "a", "b", "b"], "n": [3.0, 50.0, float("nan"), 60.0], "rate": [1.0, 2.0, 3.0, 4.0]}
    )
    out = protect(df, counts="n", by="grp", derived={"n": "rate"})  # type: ignore[arg-type]
    assert out["n"].to_list() == [None, None, None, None]
    assert out["rate"].to_list() == [None, None, None, None]
    assert out["suppression_reason"][2].startswith(d.REASON_INPUT)


def test_protect_rejects_negative_counts():
    with pytest.raises(DisclosureError, match=r"negative values \[-2\]"):
        protect(pl.DataFrame({"n": [-2, 40]}), counts=["n"])


# ------------------------------------------------------------------ assert_publishable


def test_assert_publishable_frames():
    assert_publishable(protect(pl.DataFrame({"g": ["a", "b", "c"], "n": [3, 40, 50]}), counts=["n"]))
    for name in (
        "count",
        "n",
        "events",
        "numerator",
        "denominator",
        "population",
        "size",
        "n_people",
        "admission_count",
    ):
        with pytest.raises(DisclosureError, match=f"count column '{name}'"):
            assert_publishable(pl.DataFrame({"g": ["a"], name: [4]}))
    with pytest.raises(DisclosureError, match="count column 'people'"):
        assert_publishable(pl.DataFrame({"people": [4]}), counts=["people"])
    assert_publishable(pl.DataFrame({"rate": [4.0]}))  # not a count


def test_assert_publishable_uses_configured_threshold():
    df = pl.DataFrame({"g": ["a"], "n": [9]})
    assert_publishable(df)
    with pytest.raises(DisclosureError, match="between 1 and 9"):
        assert_publishable(df, settings=DisclosureSettings(suppress_below=10))


def test_assert_publishable_person_level():
    with pytest.raises(DisclosureError, match="person identifier column/field 'person_id'"):
        assert_publishable(pl.DataFrame({"person_id": ["p1"], "value": [1.0]}))
    people = pl.DataFrame(
        {"age": [40, 50], "bmi": [25.0, 30.0], "statin": [True, False], "sex": ["male", "female"]}
    )
    with pytest.raises(DisclosureError, match="looks like one row per person"):
        assert_publishable(people)


def test_assert_publishable_csv_and_json(tmp_path):
    bad = tmp_path / "bad.csv"
    pl.DataFrame({"g": ["a", "b"], "events": ["[c]", "3"]}).write_csv(bad)
    with pytest.raises(DisclosureError, match=r"count column 'events' in .*bad.csv has value\(s\) \[3\]"):
        assert_publishable(bad)
    good = tmp_path / "good.csv"
    pl.DataFrame({"g": ["a", "b"], "events": [None, 10]}).write_csv(good)
    assert_publishable(str(good))
    with pytest.raises(DisclosureError, match="does not exist"):
        assert_publishable(tmp_path / "nothing.csv")
    with pytest.raises(DisclosureError, match="cannot check an object of type int"):
        assert_publishable(42)


def test_assert_publishable_chart_specs():
    spec = {"data": {"values": [{"g": "a", "n": 2}]}, "mark": "bar"}
    with pytest.raises(DisclosureError, match="count column 'n' in inline data"):
        assert_publishable(spec)
    with pytest.raises(DisclosureError, match="count column 'n' in dataset"):
        assert_publishable(json.dumps({"datasets": {"d1": [{"n": 5}]}}))
    with pytest.raises(DisclosureError, match="encoding field"):
        assert_publishable({"encoding": {"x": {"field": "person_id", "type": "nominal"}}})
    with pytest.raises(DisclosureError, match="person identifier"):
        assert_publishable({"datasets": {"d": [{"person_id": "x", "value": 1}]}})
    with pytest.raises(DisclosureError, match="loads data from a URL"):
        assert_publishable({"data": {"url": "https://example.org/people.csv"}})
    geo = {
        "type": "Feature",
        "properties": {"lsoa": "E1", "count": 3},
        "geometry": {"type": "Point", "coordinates": [0, 0]},
    }
    with pytest.raises(DisclosureError, match="count column 'count'"):
        assert_publishable({"data": {"values": [geo]}})
    assert_publishable({"data": {"values": [{"g": "a", "n": 10}, {"g": "b", "n": None}]}})


def test_is_count_like():
    assert d.is_count_like("Events") and d.is_count_like("n_people") and d.is_count_like("deaths_count")
    assert not d.is_count_like("value") and not d.is_count_like("rate_ratio")


# ------------------------------------------------------------------ rule 7: reference group


def _ratio_table() -> pl.DataFrame:
    """Two conditions; in "hf" the reference level "50-54" has 4 events (suppressed)."""
    events = {"hf": [0, 4, 12, 40], "ht": [30, 60, 90, 120]}
    rows = []
    for measure, evs in events.items():
        for level, e, pop in zip(["0-4", "50-54", "65-69", "80-84"], evs, [960, 1213, 1305, 695]):
            rows.append({"measure": measure, "level": level, "events": e, "population": pop})
    df = pl.DataFrame(rows).with_columns(
        (100 * pl.col("events") / pl.col("population")).alias("value"),
        (pl.col("level") == "50-54").alias("is_reference"),
    )
    ref = df.filter("is_reference").select("measure", pl.col("value").alias("ref"))
    return (
        df.join(ref, on="measure")
        .with_columns((pl.col("value") / pl.col("ref")).alias("rate_ratio"))
        .drop("ref")
    )


def test_ratios_against_a_suppressed_reference_are_hidden():
    df = _ratio_table()
    # the leak this rule closes: rate / ratio gives the reference rate, times its population its count
    leak = df.filter((pl.col("measure") == "hf") & (pl.col("level") == "65-69"))
    assert round(leak["value"].item() / leak["rate_ratio"].item() / 100 * 1213) == 4
    out = protect(
        df,
        counts=["events", "population"],
        derived={"events": ["value", "rate_ratio"]},
        by=["measure"],
        reference="is_reference",
        relative=["rate_ratio"],
    )
    hf = out.filter(pl.col("measure") == "hf")
    assert hf["rate_ratio"].is_null().all()
    assert hf["suppressed"].all()
    assert hf.filter(pl.col("level") == "80-84")["value"].item() == pytest.approx(100 * 40 / 695)
    assert d.REASON_REFERENCE in hf.filter(pl.col("level") == "80-84")["suppression_reason"].item()
    ht = out.filter(pl.col("measure") == "ht")  # nothing suppressed: ratios stay
    assert ht["rate_ratio"].to_list() == pytest.approx(
        df.filter(pl.col("measure") == "ht")["rate_ratio"].to_list()
    )
    assert not ht["suppressed"].any()


def test_reference_column_must_be_boolean():
    df = _ratio_table().with_columns(pl.col("is_reference").cast(pl.Int8))
    with pytest.raises(DisclosureError, match="is_reference"):
        protect(df, counts=["events"], by=["measure"], reference="is_reference", relative=["rate_ratio"])


# ------------------------------------------------------------------ rule 6: total = part + part


def test_a_part_is_suppressed_with_its_complement_next_to_the_total():
    """people = missing + recorded: with 5 missing suppressed, 19995 recorded next to 20000 people gives it back."""
    df = pl.DataFrame(
        {"column": ["age", "ethnicity", "bmi"], "people": [20000, 20000, 20000], "missing": [0, 5, 740]}
    ).with_columns(recorded=pl.col("people") - pl.col("missing"))
    out = protect(df, counts=["people", "missing", "recorded"], by=["column"])
    eth = out.filter(pl.col("column") == "ethnicity").row(0, named=True)
    assert eth["missing"] is None and eth["recorded"] is None and eth["people"] == 20000
    assert d.REASON_CONFIDENTIAL in eth["suppression_reason_recorded"]
    bmi = out.filter(pl.col("column") == "bmi").row(0, named=True)
    assert (bmi["missing"], bmi["recorded"]) == (740, 19260)
    # no published row lets anyone recover a suppressed part as total - other part
    for r in out.iter_rows(named=True):
        assert not (r["missing"] is None and r["recorded"] is not None and r["people"] is not None)


def test_columns_that_only_sometimes_add_up_are_independent():
    df = pl.DataFrame(
        {"g": ["a", "b", "c"], "events": [5, 20, 30], "other": [40, 50, 60], "population": [45, 70, 100]}
    )
    out = protect(df, counts=["events", "other", "population"], by=["g"])
    assert out.filter(pl.col("g") == "a")["other"].item() == 40  # 5 + 40 = 45 but 30 + 60 != 100


def test_a_zero_part_beside_a_small_total_is_suppressed():
    """'0 treated' beside '[c] eligible' says that none of a handful of people was treated."""
    df = pl.DataFrame(
        {"group": ["Asian", "Black", "White", "Mixed"], "treated": [0, 0, 60, 9], "eligible": [5, 0, 70, 12]}
    )
    out = protect(df, counts=["treated", "eligible"], by=[])
    asian = out.filter(pl.col("group") == "Asian").row(0, named=True)
    assert asian["eligible"] is None and asian["treated"] is None
    assert out.filter(pl.col("group") == "Black")["treated"].item() == 0  # 0 of 0 says nothing about anyone
    # rule 4 still holds for the treated column: never exactly one suppressed cell
    assert out["treated"].is_null().sum() != 1


# --- published_counts (rule 8) ----------------------------------------------------------


def test_published_counts_rounds_like_protect_and_keeps_small_counts_for_suppression():
    df = pl.DataFrame(
        {"g": list("abcdef"), "events": [0, 3, 7, 8, 12, 13], "population": [40, 41, 42, 43, 47, 48]}
    )
    out = d.published_counts(df, ["events", "population"])
    assert out["events"].to_list() == [0, 3, 7, 10, 10, 15]
    assert out["population"].to_list() == [40, 40, 40, 45, 45, 50]
    assert out.schema == df.schema and out["g"].equals(df["g"])
    # protect() publishes the same counts and suppresses the same cells from either frame
    a = protect(df, counts=["events", "population"], by=None)
    b = protect(out, counts=["events", "population"], by=None)
    assert a.select("events", "population", "suppressed").equals(
        b.select("events", "population", "suppressed")
    )


def test_published_counts_off_or_base_one_leaves_counts_exact():
    df = pl.DataFrame({"events": [3, 12], "population": [41, 43]})
    off = DisclosureSettings(enabled=False, reason="internal report")
    assert d.published_counts(df, ["events"], settings=off).equals(df)
    assert d.published_counts(df, ["events"], settings=DisclosureSettings(rounding=1)).equals(df)
    tens = d.published_counts(df, ["events", "population"], settings=DisclosureSettings(rounding=10))
    assert tens.rows() == [(3, 40), (10, 40)]


def test_published_counts_names_a_missing_column():
    with pytest.raises(DisclosureError, match=r"\['deaths'\]"):
        d.published_counts(pl.DataFrame({"events": [1]}), ["deaths"])


@given(st.lists(st.integers(0, 400), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_published_counts_then_protect_equals_protect(counts):
    df = pl.DataFrame({"g": [str(i) for i in range(len(counts))], "n": counts})
    a = protect(df, counts=["n"])
    b = protect(d.published_counts(df, ["n"]), counts=["n"])
    # the same number of cells suppressed (secondary suppression may pick another of two cells
    # that round alike), and every cell published by both has the same published count
    assert a["suppressed"].sum() == b["suppressed"].sum()
    both = a["n"].is_not_null() & b["n"].is_not_null()
    assert a["n"].filter(both).to_list() == b["n"].filter(both).to_list()
    assert not a.filter(pl.Series(counts).is_between(1, 7))["n"].is_not_null().any()
    assert not b.filter(pl.Series(counts).is_between(1, 7))["n"].is_not_null().any()
    published = d.published_counts(df, ["n"])["n"].to_list()
    assert all(p == c if c < 8 else p % 5 == 0 and abs(p - c) <= 2 for p, c in zip(published, counts))


def test_note_is_emptied_where_a_row_is_suppressed():
    """'total events < 10' beside a secondarily suppressed count of 9 would say it is 8 or 9."""
    df = pl.DataFrame(
        {
            "g": ["a", "b", "c"],
            "events": [3, 9, 40],
            "value": [None, None, 1.5],
            "note": ["total events < 10", "total events < 10", None],
        }
    )
    out = protect(df, counts=["events"], derived={"events": ["value"]})
    assert out["suppressed"].to_list() == [True, True, False]  # b protects a
    assert out["note"].to_list() == [None, None, None]
    kept = protect(df.with_columns(pl.lit("x").alias("note")), counts=["events"])
    assert kept.filter(~pl.col("suppressed"))["note"].to_list() == ["x"]
