"""Person-level rows to counts in the finest cells (age band x every dimension), one scan.

Each dimension becomes a small integer code with a cheap vectorised expression: integers
by their value (or offset from their minimum), booleans and ``Enum`` columns by their
physical value, strings whose distinct values all differ in length by that length, and
other columns by a hash of the value reduced modulo the smallest M that keeps the
column's distinct values apart. The distinct values are found first (one pass) and every
check is made on all of them, so the coding is exact, not probabilistic. Integer ages
map to the ESP2013 band through a lookup table. The codes, the band and (for boolean
events) one bit per event are packed into one UInt64 key, computed by polars' streaming
engine; the rows are counted once by that key (``numpy.bincount`` when the key range is
small, else a polars group-by), and the key is unpacked on the small result.

References
----------
.. [1] Knuth DE. The Art of Computer Programming, vol. 3: Sorting and Searching, 2nd edn.
   Addison-Wesley; 1998, section 6.4 (hashing; the division method).
.. [2] Eurostat. Revision of the European Standard Population. 2013 (the 19 bands).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from .esp2013 import AGE_BAND_LABELS

__all__ = ["Coding", "band_index", "codings", "cell_counts", "N_BANDS", "BAND_INDEX"]

N_BANDS = len(AGE_BAND_LABELS)
#: Name of the age-band index column (0..18) in :func:`cell_counts` output.
BAND_INDEX = "__band"
_KEY = "__cell"
#: Integer dimensions (and integer ages) spanning at most this many values are coded by
#: offset (ages: through a lookup table).
MAX_INT_SPAN = 1 << 16
#: The hash modulus is searched up to ``max(MIN_MODULUS_SEARCH, 4 k²)`` for k levels.
MIN_MODULUS_SEARCH = 4096
#: Columns with more distinct values than this get dense codes by value, not hashes.
MAX_HASHED_LEVELS = 64
#: Boolean events are packed as key bits while there are at most this many of them.
MAX_EVENT_BITS = 8
_KEY_LIMIT = 1 << 62
#: Keys ranging over at most this many values are counted with ``numpy.bincount``.
MAX_DENSE_KEYS = 1 << 22


def band_index(age: str | pl.Expr) -> pl.Expr:
    """ESP2013 band index 0..18 of each age (null for missing or negative ages)."""
    a = pl.col(age) if isinstance(age, str) else age
    return pl.when(a >= 0).then((a // 5).clip(upper_bound=N_BANDS - 1)).cast(pl.UInt64)


@dataclass(frozen=True)
class Coding:
    """How one dimension is coded: ``code`` (UInt64) lies in ``[0, radix)`` and
    ``levels[code]`` is the original value (null for unused codes and missing values)."""

    name: str
    radix: int
    code: pl.Expr
    levels: pl.Series


def _modulus(hashes: np.ndarray) -> int | None:
    """Smallest M with ``hashes % M`` pairwise distinct (None if not found cheaply)."""
    k = len(hashes)
    if k <= 1:
        return 1
    top = max(MIN_MODULUS_SEARCH, 4 * k * k)
    for start in range(k, top + 1, 256):  # vectorised over blocks of 256 moduli
        m = np.arange(start, min(start + 256, top + 1), dtype=np.uint64)
        rem = np.sort(hashes[None, :] % m[:, None], axis=1)
        ok = np.flatnonzero((np.diff(rem, axis=1) != 0).all(axis=1))
        if ok.size:
            return int(m[ok[0]])
    return None


def _slots(values: pl.Series, size: int, at: np.ndarray) -> pl.Series:
    """A series of length ``size`` holding ``values`` at positions ``at``, else null."""
    idx = np.full(size, -1, dtype=np.int64)
    idx[at.astype(np.int64)] = np.arange(len(values))
    return values.gather(pl.Series(idx).replace(-1, None))


def _summaries(df: pl.DataFrame, names: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Min/max of integer columns and distinct values of the others, in one parallel run."""
    queries = {}
    for d in names:
        dtype, col = df.schema[d], pl.col(d)
        if dtype == pl.Boolean or isinstance(dtype, pl.Enum):
            continue
        if dtype.is_integer():
            queries[d] = df.lazy().select(col.min().alias("min"), col.max().alias("max"))
        else:
            queries[d] = df.lazy().select(col.unique().drop_nulls())
    frames = pl.collect_all(list(queries.values()), engine="in-memory")
    return dict(zip(queries, frames, strict=True))


def _coding(df: pl.DataFrame, d: str, found: pl.DataFrame | None) -> Coding:
    s, dtype, col = df.get_column(d), df.schema[d], pl.col(d)
    has_nulls = s.null_count() > 0

    def coded(code: pl.Expr, null_code: int) -> pl.Expr:
        code = code.cast(pl.UInt64)
        return code.fill_null(null_code) if has_nulls else code

    if dtype == pl.Boolean:
        return Coding(d, 3, coded(col, 2), pl.Series(d, [False, True, None], dtype=pl.Boolean))
    if isinstance(dtype, pl.Enum):
        k = len(dtype.categories)
        levels = pl.concat([dtype.categories.cast(dtype), pl.Series([None], dtype=dtype)])
        return Coding(d, k + 1, coded(col.to_physical(), k), levels.rename(d))
    assert found is not None, "_summaries() covers every column but booleans and enums"
    frame = found
    if dtype.is_integer():
        lo, hi = frame.row(0)
        if lo is None:  # only missing values
            return Coding(d, 1, pl.lit(0, dtype=pl.UInt64), pl.Series(d, [None], dtype=dtype))
        lo, hi = int(lo), int(hi)
        if lo >= 0 and hi < MAX_INT_SPAN:  # the value itself (codes below lo stay unused)
            levels = pl.Series(d, [*range(hi + 1), None], dtype=dtype)
            return Coding(d, hi + 2, coded(col, hi + 1), levels)
        if hi - lo < MAX_INT_SPAN:
            levels = pl.Series(d, [*range(lo, hi + 1), None], dtype=dtype)
            return Coding(d, hi - lo + 2, coded(col - lo, hi - lo + 1), levels)
        frame = df.lazy().select(col.unique().drop_nulls()).collect()
    values = frame.to_series().rename(d)
    k = len(values)
    if k == 0:  # only missing values: one level, null
        return Coding(d, 1, pl.lit(0, dtype=pl.UInt64), pl.Series(d, [None], dtype=dtype))
    if dtype == pl.String:
        lengths = values.str.len_bytes().to_numpy()
        if len(np.unique(lengths)) == k and lengths.max() < MAX_INT_SPAN:
            # the distinct values have distinct lengths: the length is an exact code
            # (every value is one of them), and cheaper than a hash
            short = int(lengths.min())
            size = int(lengths.max()) - short + 1
            length = col.str.len_bytes() - short if short else col.str.len_bytes()
            return Coding(d, size + 1, coded(length, size), _slots(values, size + 1, lengths - short))
    hashes = values.hash().to_numpy()
    hashable = k <= MAX_HASHED_LEVELS and len(np.unique(hashes)) == k
    m = _modulus(hashes) if hashable else None
    if m is not None:
        slots = _slots(values, m + 1, hashes % np.uint64(m))
        hashed = pl.when(col.is_not_null()).then(col.hash()) if has_nulls else col.hash()
        return Coding(d, m + 1, coded(hashed % m, m), slots)  # (nulls hash to a value)
    # many levels (or two hashes alike): exact dense codes by value
    dense = col.replace_strict(values, pl.int_range(k, eager=True), return_dtype=pl.UInt64)
    return Coding(d, k + 1, coded(dense, k), _slots(values, k + 1, np.arange(k)))


def codings(df: pl.DataFrame, dims: Sequence[str], *, age: str) -> tuple[list[Coding], pl.Expr]:
    """The coding of every dimension and the band-index expression of ``age``."""
    found = _summaries(df, [*dims, age])
    band = band_index(age)
    if df.schema[age].is_integer() and found[age].row(0)[0] is not None:
        lo, hi = (int(v) for v in found[age].row(0))
        if hi - lo < MAX_INT_SPAN:  # a lookup table: one gather instead of //, clip, when
            ages = pl.DataFrame({"age": np.arange(lo, hi + 1)})
            lut = ages.select(band_index("age")).to_series()  # null for negative ages
            band = pl.lit(lut).gather(pl.col(age) - lo if lo else pl.col(age))
    return [_coding(df, d, found.get(d)) for d in dims], band


def cell_counts(
    df: pl.DataFrame, *, events: Sequence[str], dims: Sequence[str], age: str
) -> tuple[pl.DataFrame, list[Coding]]:
    """Events and population in every observed cell of age band x all ``dims``.

    Returns the cells (``__band`` (0..18), one UInt64 code column per dimension named
    after it, one Int64 (or Float64, for float events) sum per events column and
    ``population``; people with a missing or negative age are left out) and the codings
    that decode the dimension codes.
    """
    coded, band = codings(df, dims, age=age)
    strides, total = [], N_BANDS
    for c in coded:
        strides.append(total)
        total *= c.radix
    key = band
    for c, stride in zip(coded, strides, strict=True):
        key = key + c.code * stride if c.radix > 1 else key

    def unpack(k: pl.Expr) -> list[pl.Expr]:
        return [
            (k % N_BANDS).cast(pl.UInt32).alias(BAND_INDEX),
            *[(k // s % c.radix).alias(c.name) for c, s in zip(coded, strides, strict=True)],
        ]

    nbits = len(events)
    booleans = all(df.schema[e] == pl.Boolean for e in events)
    if booleans and nbits <= MAX_EVENT_BITS and total << nbits < _KEY_LIMIT:
        # pure counting: each person's events are the low bits of the key
        for e in events:
            key = key * 2 + pl.col(e).cast(pl.UInt64)
        k = pl.col(_KEY)
        cells = (
            _count(df, key, total << nbits)
            .lazy()
            .group_by(unpack(k // (1 << nbits)))
            .agg(
                *[
                    (pl.col("n") * (k // (1 << (nbits - 1 - j)) % 2).cast(pl.Int64)).sum().alias(e)
                    for j, e in enumerate(events)
                ],
                pl.col("n").sum().alias("population"),
            )
        )
    else:
        aggs = [
            *[pl.col(e).sum().cast(pl.Float64 if df.schema[e].is_float() else pl.Int64) for e in events],
            pl.len().cast(pl.Int64).alias("population"),
        ]
        if total < _KEY_LIMIT:
            summed = df.lazy().group_by(key.alias(_KEY)).agg(aggs)
            cells = summed.collect(engine="streaming").lazy().drop_nulls(_KEY)
            cells = cells.with_columns(unpack(pl.col(_KEY))).drop(_KEY)
        else:  # too many combinations for one integer key: group by the codes themselves
            groups = [band.cast(pl.UInt32).alias(BAND_INDEX)]
            groups += [c.code.alias(c.name) for c in coded]
            summed = df.lazy().group_by(groups).agg(aggs)
            cells = summed.collect(engine="streaming").lazy().drop_nulls(BAND_INDEX)
    return cells.collect(engine="in-memory"), coded


def _count(df: pl.DataFrame, key: pl.Expr, size: int) -> pl.DataFrame:
    """People per value of ``key`` (values in ``[0, size)``; null keys dropped): columns
    ``__cell`` and ``n`` (Int64).

    The key is computed by polars' streaming engine (in parallel, morsel by morsel); a
    dense key range is then counted with one ``numpy.bincount`` pass, a sparse one by a
    polars group-by.
    """
    if size > MAX_DENSE_KEYS:
        counted = df.lazy().group_by(key.alias(_KEY)).agg(pl.len().cast(pl.Int64).alias("n"))
        return counted.collect(engine="streaming").drop_nulls(_KEY)
    keys = df.lazy().select(key.fill_null(size)).collect(engine="streaming").to_series()
    counts = np.bincount(keys.to_numpy(), minlength=size + 1)[:size]
    present = np.flatnonzero(counts)
    return pl.DataFrame({_KEY: present.astype(np.uint64), "n": counts[present].astype(np.int64)})
