"""Write the synthetic population, its truth and its map to disk, byte-for-byte reproducibly."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl

from healthgap.errors import HealthgapError
from healthgap.synth import _params as P
from healthgap.synth._generate import generate
from healthgap.synth._geography import areas, hexagon_lonlat

__all__ = ["write", "geojson", "FILES", "ROW_GROUP_SIZE"]

#: Output file names, keyed as in the dict :func:`write` returns.
FILES: dict[str, str] = {
    "population": "population.parquet",
    "truth": "truth.json",
    "areas": "areas.geojson",
}
#: Fixed Parquet row-group size (rows), so the file layout depends only on n.
ROW_GROUP_SIZE = 131_072
ERR_OUT = "synth: output folder {path} is not usable ({reason}). Choose another --out folder."


def geojson(area: pl.DataFrame) -> dict:
    """A GeoJSON FeatureCollection of the areas' hexagons (fake lon/lat), keyed by ``lsoa``.

    References
    ----------
    .. [1] Butler H et al. "The GeoJSON Format", RFC 7946, IETF, 2016 (exterior rings
       counter-clockwise; foreign members allowed).
    """
    rings = hexagon_lonlat(area).tolist()
    features = [
        {
            "type": "Feature",
            "id": lsoa,
            "properties": {
                "lsoa": lsoa,
                "locality": loc,
                "imd_decile": dec,
                "imd_quintile": qu,
                "area_type": typ,
                "synthetic": True,
            },
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        for lsoa, loc, dec, qu, typ, ring in zip(
            area["lsoa"],
            area["locality"],
            area["imd_decile"],
            area["imd_quintile"],
            area["area_type"],
            rings,
            strict=True,
        )
    ]
    return {
        "type": "FeatureCollection",
        "name": "healthgap synthetic areas",
        "properties": {
            "synthetic": True,
            "note": P.SYNTHETIC_NOTE + " Hexagons stand in for LSOAs; coordinates are fake.",
            "key": "lsoa",
        },
        "features": features,
    }


def write(
    out: str | Path = "data/synthetic",
    *,
    n: int = 250_000,
    seed: int = 2024,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Generate the synthetic population and write ``population.parquet``, ``truth.json``
    and ``areas.geojson`` into ``out``.

    The same ``(n, seed)`` gives byte-identical files: fixed row-group size and
    compression, no timestamps, statistics from the data alone, stable JSON key order.

    Parameters
    ----------
    out : str or Path
        Folder to write into (created if missing).
    n, seed : int
        Passed to :func:`healthgap.synth.generate`.
    progress : callable, optional
        Called with a short message before each step (e.g. ``print``).

    Returns
    -------
    dict
        ``{"population": Path, "truth": Path, "areas": Path}``.

    References
    ----------
    .. [1] Apache Parquet format specification (row groups, statistics),
       https://parquet.apache.org/docs/file-format/
    """
    say = progress or (lambda _msg: None)
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HealthgapError(ERR_OUT.format(path=folder, reason=exc.strerror or exc)) from None
    paths = {key: folder / name for key, name in FILES.items()}
    say(f"Generating {n:,} synthetic people (seed {seed})")
    people, truth = generate(n, seed=seed)
    say(f"Writing {paths['population']}")
    try:
        people.write_parquet(
            paths["population"],
            compression="zstd",
            compression_level=3,
            statistics=True,
            row_group_size=ROW_GROUP_SIZE,
        )
        say(f"Writing {paths['truth']}")
        paths["truth"].write_text(
            json.dumps(truth, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
        )
        say(f"Writing {paths['areas']}")
        paths["areas"].write_text(
            json.dumps(geojson(areas(seed)), separators=(",", ":")) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise HealthgapError(ERR_OUT.format(path=folder, reason=exc.strerror or exc)) from None
    return paths
