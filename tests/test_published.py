"""Published: choosing columns and reshaping a published frame keep it published, without protecting it twice."""

from __future__ import annotations

import polars as pl
import pytest

from healthgap.config import DisclosureSettings
from healthgap.disclosure import REASON_INPUT, DisclosureError, Published, publish

SETTINGS = DisclosureSettings()
OFF = DisclosureSettings(enabled=False, reason="unit tests")


def _rates() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dimension": ["sex"] * 3,
            "level": ["female", "male", "other"],
            "events": [3, 40, 50],
            "population": [100, 200, 300],
            "crude": [3.0, 20.0, 16.7],
            "value": [3.1, 19.0, 16.0],
        }
    )


# -- select ------------------------------------------------------------------------------------


def test_select_keeps_each_counts_bookkeeping_and_names_only_kept_columns():
    published = publish(_rates(), counts=["events", "population"], settings=SETTINGS)
    reason = published.frame.get_column("suppression_reason")[0]
    assert "crude, value: derived from a suppressed count" in reason
    narrow = published.select("level", "events", "population", "value")
    assert narrow.columns == [
        "level",
        "events",
        "population",
        "value",
        *[c for c in published.columns if c.startswith("suppress")],
    ]
    assert "suppressed_events" in narrow.columns and "suppression_reason_population" in narrow.columns
    assert narrow.counts == ("events", "population")
    assert narrow.frame.get_column("suppression_reason")[0] == reason.replace("crude, value", "value")
    assert (
        narrow.frame.get_column("suppression_reason")[2]
        == published.frame.get_column("suppression_reason")[2]
    )
    # publishing those columns alone gives the same frame
    alone = publish(
        _rates().select("level", "events", "population", "value"),
        counts=["events", "population"],
        by=[],
        settings=SETTINGS,
    )
    assert narrow.frame.equals(alone.frame)


def test_select_drops_a_dropped_counts_bookkeeping_and_a_list_left_empty():
    published = publish(_rates(), counts=["events", "population"], settings=SETTINGS)
    bare = published.select("level", "events")
    reason = bare.frame.get_column("suppression_reason")[0]
    assert reason == "events: suppressed to protect confidentiality"  # "derived" named dropped columns
    assert bare.counts == ("events",)
    assert "suppressed_population" not in bare.columns and "suppression_reason_population" not in bare.columns
    assert "suppressed_events" in bare.columns
    # expressions work too: the renamed column is kept, the count it came from is not a count any more
    renamed = published.select("level", pl.col("value").alias("rate"))
    assert renamed.counts == () and renamed.columns[:2] == ["level", "rate"]


# -- pipe --------------------------------------------------------------------------------------


def _long() -> pl.DataFrame:
    """Two measures of three groups: the Mixed group's TPR numerator is small."""
    return pl.DataFrame(
        {
            "group": ["Asian", "Asian", "Mixed", "Mixed", "White", "White"],
            "metric": ["tpr", "ppv"] * 3,
            "n": [400, 400, 300, 300, 5000, 5000],
            "numerator": [20, 15, 4, 30, 240, 200],
            "value": [0.2, 0.1, 0.04, 0.12, 0.3, 0.2],
        }
    )


def _wide(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per group, a column per metric, ``suppressed`` if any of the group's rows is."""
    wide = frame.pivot(on="metric", index=["group", "n"], values="value")
    flags = frame.group_by("group").agg(pl.col("suppressed").fill_null(False).any())
    return wide.join(flags, on="group", how="left", maintain_order="left")


def test_pipe_reshapes_without_protecting_again_and_keeps_the_markers():
    published = publish(_long(), counts=["n", "numerator"], by=["metric"], settings=SETTINGS)
    wide = published.pipe(_wide)
    assert isinstance(wide, Published) and wide.settings is SETTINGS
    assert wide.counts == ("n",)
    assert wide.columns == ["group", "n", "tpr", "ppv", "suppressed", "suppression_reason"]
    rows = {r["group"]: r for r in wide.frame.iter_rows(named=True)}
    assert rows["Mixed"]["tpr"] is None and rows["Mixed"]["suppressed"]
    assert rows["Mixed"]["suppression_reason"] == REASON_INPUT  # withheld when the long frame was published
    assert rows["White"]["suppression_reason"] is None and not rows["White"]["suppressed"]
    # the counts are the published ones (rounded once), not rounded again
    assert [rows[g]["n"] for g in ("Asian", "Mixed", "White")] == [400, 300, 5000]
    # a piped frame is not published a second time
    with pytest.raises(DisclosureError, match="already published"):
        publish(wide, counts=["n"], settings=SETTINGS)  # type: ignore[arg-type]


def test_pipe_does_not_protect_again():
    """Protecting the filtered frame again would suppress a second cell of the set the filter left."""
    published = publish(_long(), counts=["n", "numerator"], by=["metric"], settings=SETTINGS)
    assert published.row(group="Asian", metric="tpr")["numerator"] is None  # secondary, for Mixed
    kept = published.pipe(lambda f: f.filter(pl.col("group") != "Asian"))
    assert kept.row(group="Mixed", metric="ppv")["numerator"] == 30
    assert kept.frame.get_column("suppressed").to_list() == [True, False, False, False]


def test_pipe_passes_arguments_and_keeps_a_reason_the_function_carries():
    published = publish(_long(), counts=["n", "numerator"], by=["metric"], settings=SETTINGS)
    kept = published.pipe(lambda f, metric: f.filter(pl.col("metric") == metric), "tpr")
    assert kept.frame.height == 3 and kept.counts == ("n", "numerator")
    mixed = kept.row(group="Mixed")
    assert mixed is not None
    assert mixed["suppression_reason"] == published.row(group="Mixed", metric="tpr")["suppression_reason"]


def test_pipe_refuses_to_lose_the_suppressed_markers_or_to_return_something_else():
    published = publish(_long(), counts=["n", "numerator"], by=["metric"], settings=SETTINGS)
    with pytest.raises(DisclosureError, match="dropped the 'suppressed' column"):
        published.pipe(lambda f: f.select("group", "metric", "value"))
    with pytest.raises(DisclosureError, match="must return a polars DataFrame"):
        published.pipe(lambda f: f.to_dicts())
    # nothing suppressed: the markers can be left to pipe
    clean = publish(_long().filter(pl.col("group") != "Mixed"), counts=["n"], settings=SETTINGS)
    out = clean.pipe(lambda f: f.select("group", "metric", "n"))
    assert out.frame.get_column("suppressed").to_list() == [False] * 4


def test_pipe_checks_the_result_again():
    published = publish(_long(), counts=["n", "numerator"], by=["metric"], settings=SETTINGS)
    with pytest.raises(DisclosureError, match="between 1 and 7"):
        published.pipe(lambda f: f.with_columns(n=pl.lit(3)))


def test_pipe_with_disclosure_control_off_says_so_on_every_row():
    published = publish(_long(), counts=["n", "numerator"], by=["metric"], settings=OFF)
    wide = published.pipe(_wide)
    assert wide.frame.get_column("suppression_reason").unique().to_list() == [
        "disclosure control off: unit tests"
    ]
    assert not wide.frame.get_column("suppressed").any()
