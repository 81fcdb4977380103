"""assert_publishable(): the last guard before anything is published."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.disclosure._rules import (
    _PERSON_LEVEL,
    ERR_OBJECT,
    ERR_PATH,
    ERR_PERSON_ID,
    ERR_PERSON_LEVEL,
    ERR_SMALL_COUNT,
    ERR_SPEC_URL,
    OFF_PREFIX,
    PERSON_ID_COLUMNS,
    DisclosureError,
    is_count_like,
    smallest_shown,
)

__all__ = ["assert_publishable"]


def _flatten_records(records: list[Any]) -> list[dict[str, Any]]:
    """Records of a chart dataset with GeoJSON geometry dropped and properties lifted."""
    out = []
    for rec in records:
        if not isinstance(rec, dict):
            continue
        flat = {k: v for k, v in rec.items() if k not in ("geometry", "properties", "coordinates")}
        props = rec.get("properties")
        if isinstance(props, dict):
            flat.update(props)
        out.append({k: v for k, v in flat.items() if not isinstance(v, (dict, list))})
    return out


def _walk_spec(node: Any, datasets: list[tuple[str, list[Any]]], fields: set[str], path: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "url" and isinstance(value, str) and path.endswith("data"):
                raise DisclosureError(ERR_SPEC_URL.format(url=value))
            if key == "field" and isinstance(value, str):
                fields.add(value)
            if key == "datasets" and isinstance(value, dict):
                datasets.extend((f"dataset {name!r}", v) for name, v in value.items() if isinstance(v, list))
            elif key == "values" and isinstance(value, list):
                datasets.append((f"inline data at {here}", value))
            elif key == "values" and isinstance(value, dict) and isinstance(value.get("features"), list):
                datasets.append((f"GeoJSON at {here}", value["features"]))
            _walk_spec(value, datasets, fields, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                _walk_spec(value, datasets, fields, f"{path}[{i}]")


def _check_frame(
    frame: pl.DataFrame,
    *,
    counts: Sequence[str],
    check_counts: bool,
    where: str,
    settings: DisclosureSettings,
) -> None:
    for col in frame.columns:
        if col.lower() in PERSON_ID_COLUMNS:
            raise DisclosureError(ERR_PERSON_ID.format(where=where, col=col))
    count_cols = [c for c in frame.columns if is_count_like(c) or c in counts]
    person = sorted(c for c in frame.columns if c.lower() in _PERSON_LEVEL)
    if len(person) >= 3 and not count_cols:
        raise DisclosureError(ERR_PERSON_LEVEL.format(where=where, cols=person))
    if not check_counts or frame.height == 0:
        return
    if "suppression_reason" in frame.columns and frame.schema["suppression_reason"] == pl.String:
        off = frame.select(
            pl.col("suppression_reason").str.starts_with(OFF_PREFIX).fill_null(False).all()
        ).item()
        if off:
            return
    numeric = [c for c in count_cols if frame.schema[c].is_numeric() or frame.schema[c] == pl.String]
    if not numeric:
        return
    found = frame.select(
        [
            pl.col(c)
            .cast(pl.Float64, strict=False)
            .filter(_small_count(c, smallest_shown(settings)))
            .unique()
            .sort()
            .head(5)
            .implode()
            for c in numeric
        ]
    )
    for c in numeric:
        values = found[c][0].to_list()
        if values:
            shown = [int(v) if float(v).is_integer() else v for v in values]
            raise DisclosureError(
                ERR_SMALL_COUNT.format(
                    col=c, where=f" in {where}", values=shown, top=settings.suppress_below - 1
                )
            )


def _small_count(col: str, smallest: int) -> pl.Expr:
    """Expression flagging values of ``col`` that are small non-zero counts (> 0 and < ``smallest``)."""
    v = pl.col(col).cast(pl.Float64, strict=False)
    return (v > 0) & (v < smallest)


def assert_publishable(
    obj: Any,
    *,
    counts: Sequence[str] | None = None,
    settings: DisclosureSettings | None = None,
) -> None:
    """Raise :class:`DisclosureError` if ``obj`` could identify people.

    Checks a polars DataFrame/LazyFrame, a CSV/JSON/Parquet file, a chart spec
    (dict, Altair chart or JSON text): no count-like column (count, n, events,
    numerator, denominator, population, size, observed, ``n_*``, ``*_count``, ... or
    listed in ``counts``) may hold a value from 1 to ``settings.suppress_below - 1`` (default 7); no ``person_id`` (or other
    person identifier) column or encoding field; no table that looks like one row
    per person. Counts are not checked when protection was switched off (``settings``
    disabled, or every ``suppression_reason`` starts with :data:`OFF_PREFIX`).

    The threshold is the config's: pass ``settings`` (the default settings are assumed
    otherwise). A published count below ``suppress_below`` is allowed only when it is the
    rounded value of a count at the threshold (10 under ``suppress_below: 11, rounding: 10``,
    where 11 to 14 are published as 10): see :func:`~healthgap.disclosure.smallest_shown`.

    References
    ----------
    .. [1] NHS England, HES analysis guide: suppression of small numbers.
    """
    extra = list(counts or [])
    check_counts = settings is None or settings.enabled
    settings = settings or DisclosureSettings()
    if hasattr(obj, "to_dict") and not isinstance(obj, (pl.DataFrame, dict)):
        obj = obj.to_dict()  # an Altair chart
    if isinstance(obj, pl.LazyFrame):
        obj = obj.collect()
    if isinstance(obj, pl.DataFrame):
        _check_frame(obj, counts=extra, check_counts=check_counts, settings=settings, where="the table")
        return
    if isinstance(obj, Path) or (isinstance(obj, str) and not obj.lstrip().startswith(("{", "["))):
        path = Path(obj)
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (".csv", ".json", ".parquet"):
            raise DisclosureError(ERR_PATH.format(path=path))
        if suffix == ".csv":
            frame = pl.read_csv(path, infer_schema_length=None)
            _check_frame(frame, counts=extra, check_counts=check_counts, settings=settings, where=str(path))
            return
        if suffix == ".parquet":
            _check_frame(
                pl.read_parquet(path),
                counts=extra,
                check_counts=check_counts,
                settings=settings,
                where=str(path),
            )
            return
        obj = json.loads(path.read_text(encoding="utf-8"))
    elif isinstance(obj, str):
        obj = json.loads(obj)
    if not isinstance(obj, (dict, list)):
        raise DisclosureError(ERR_OBJECT.format(kind=type(obj).__name__))
    datasets: list[tuple[str, list[Any]]] = []
    fields: set[str] = set()
    if isinstance(obj, list):
        datasets.append(("the JSON records", obj))
    else:
        _walk_spec(obj, datasets, fields, "spec")
    for field in sorted(fields):
        if field.lower() in PERSON_ID_COLUMNS:
            raise DisclosureError(ERR_PERSON_ID.format(where="the chart spec (encoding field)", col=field))
    for where, records in datasets:
        flat = _flatten_records(records)
        if not flat:
            continue
        frame = pl.from_dicts(flat, infer_schema_length=None, strict=False)
        _check_frame(frame, counts=extra, check_counts=check_counts, settings=settings, where=where)
