"""Canonical text codes by a lookup over each column's distinct values.

:func:`healthgap.data.load` trims, maps and matches the codes of every category and
text column. Done row by row that is several string operations per person (about 45 ms
per column for 1,000,000 people); done once per distinct value and applied as one
lookup it is a few milliseconds, and nothing at all when the file already holds the
canonical codes (as ``healthgap synth`` writes them).
"""

from __future__ import annotations

import polars as pl

from healthgap.config import Config

__all__ = ["lookups", "MAX_LOOKUP_VALUES"]

#: Text columns with at most this many distinct values are canonicalised once per
#: distinct value (a lookup) instead of once per row.
MAX_LOOKUP_VALUES = 50_000
_LOOKUPS: dict[str, dict[str, pl.Expr]] = {}


def lookups(config: Config, lf: pl.LazyFrame, exprs: dict[str, pl.Expr], *, key: str) -> dict[str, pl.Expr]:
    """Faster expressions for the category and text columns of a Parquet file.

    The canonical expression (trim, map codes, match codes case-insensitively) is run on
    each column's distinct values, found in one pass and cached per file version, and the
    column is then mapped by a lookup, or left as it is when every value is already
    canonical. The result is the same as ``exprs`` gives, without string work per row.
    ``key`` names the file version (and config) the cached lookups belong to.
    """
    schema = lf.collect_schema()
    text = (pl.String, pl.Categorical)
    names = [
        n
        for n in schema.names()
        if config.contract[n].kind in ("category", "text")
        and (schema[n] in text or isinstance(schema[n], pl.Enum))
    ]
    if config.data.format != "parquet" or not names:
        return {}
    if key not in _LOOKUPS:
        found = pl.collect_all([lf.select(pl.col(n).unique().head(MAX_LOOKUP_VALUES + 1)) for n in names])
        faster = {}
        for name, frame in zip(names, found, strict=True):
            if frame.height > MAX_LOOKUP_VALUES:
                continue
            raw = frame.get_column(name).cast(pl.String)
            canon = frame.select(exprs[name]).to_series()
            col = pl.col(name).cast(pl.String) if schema[name] != pl.String else pl.col(name)
            if raw.equals(canon, check_names=False, check_dtypes=False):
                faster[name] = col  # already canonical: nothing to do per row
            else:
                known = raw.is_not_null()
                faster[name] = col.replace_strict(
                    raw.filter(known), canon.filter(known), default=None, return_dtype=pl.String
                )
        _LOOKUPS.clear()  # one file version at a time
        _LOOKUPS[key] = faster
    return _LOOKUPS[key]
