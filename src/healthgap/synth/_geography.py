"""Synthetic geography: hexagonal small areas, localities, deprivation and practices.

The map is a set of pointy-top hexagons on an axial (q, r) grid. Localities are
grown from their centres one hexagon at a time (always the locality furthest
behind its target size takes the free neighbouring hexagon nearest its centre),
so each locality is contiguous and has exactly its number of areas. The layout
does not depend on the seed; the deprivation, area populations and practices do.
"""

from __future__ import annotations

import functools
import math
from typing import overload

import numpy as np
import polars as pl

from healthgap.synth import _params as P

__all__ = ["layout", "areas", "practices", "hexagon_lonlat", "NEIGHBOURS"]

#: Axial offsets of the six neighbours of a hexagon.
NEIGHBOURS: tuple[tuple[int, int], ...] = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))
_SQRT3 = math.sqrt(3.0)
_KM_PER_DEG_LAT = 111.2

_ERR_STUCK = "Synthetic geography: locality {name!r} is enclosed before reaching {target} areas."
_ERR_DECILES = "Synthetic geography: decile counts sum to {total} but the layout has {n} areas."


@overload
def _to_km(q: float, r: float) -> tuple[float, float]: ...
@overload
def _to_km(q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def _to_km(q: float | np.ndarray, r: float | np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Centre of hexagon (q, r) in km east and north of the origin (r grows southwards)."""
    x = P.HEX_SIZE_KM * _SQRT3 * (q + r / 2.0)
    y = -P.HEX_SIZE_KM * 1.5 * r
    return x, y


def _nearest_hex(x: float, y: float) -> tuple[int, int]:
    """Axial coordinates of the hexagon containing the point (x, y) in km (cube rounding)."""
    r = -y / (1.5 * P.HEX_SIZE_KM)
    q = x / (P.HEX_SIZE_KM * _SQRT3) - r / 2.0
    s = -q - r
    rq, rr, rs = round(q), round(r), round(s)
    dq, dr, ds = abs(rq - q), abs(rr - r), abs(rs - s)
    if dq > dr and dq > ds:
        rq = -rr - rs
    elif dr > ds:
        rr = -rq - rs
    return int(rq), int(rr)


@functools.lru_cache(maxsize=1)
def layout() -> pl.DataFrame:
    """The fixed hexagon layout: one row per area with ``q``, ``r``, ``locality`` index.

    Region growing over a loop of 549 areas (not people); deterministic ties by
    (distance, q, r).

    References
    ----------
    .. [1] Red Blob Games, "Hexagonal Grids" (axial coordinates, cube rounding),
       https://www.redblobgames.com/grids/hexagons/
    """
    locs = P.LOCALITIES
    targets = [loc["areas"] for loc in locs]
    owner: dict[tuple[int, int], int] = {}
    seeds = [_nearest_hex(loc["x_km"], loc["y_km"]) for loc in locs]
    seed_km = [(loc["x_km"], loc["y_km"]) for loc in locs]
    members: list[list[tuple[int, int]]] = [[] for _ in locs]
    frontier: list[set[tuple[int, int]]] = [set() for _ in locs]

    def claim(k: int, h: tuple[int, int]) -> None:
        owner[h] = k
        members[k].append(h)
        for f in frontier:
            f.discard(h)
        for dq, dr in NEIGHBOURS:
            n = (h[0] + dq, h[1] + dr)
            if n not in owner:
                frontier[k].add(n)

    for k, s in enumerate(seeds):
        claim(k, s)
    while True:
        open_ = [k for k in range(len(locs)) if len(members[k]) < targets[k]]
        if not open_:
            break
        k = min(open_, key=lambda j: (len(members[j]) / targets[j], j))
        if not frontier[k]:
            raise RuntimeError(_ERR_STUCK.format(name=locs[k]["name"], target=targets[k]))
        cx, cy = seed_km[k]

        def dist(h: tuple[int, int], cx: float = cx, cy: float = cy) -> tuple[float, int, int]:
            x, y = _to_km(np.float64(h[0]), np.float64(h[1]))
            return (round(float(math.hypot(x - cx, y - cy)), 9), h[0], h[1])

        claim(k, min(frontier[k], key=dist))
    rows = sorted((k, h[0], h[1]) for k, m in enumerate(members) for h in m)
    q = np.array([r[1] for r in rows], dtype=np.int64)
    r = np.array([r[2] for r in rows], dtype=np.int64)
    x, y = _to_km(q, r)
    return pl.DataFrame(
        {
            "locality_index": np.array([r[0] for r in rows], dtype=np.int64),
            "q": q,
            "r": r,
            "x_km": x,
            "y_km": y,
        }
    )


def _neighbour_index(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(n_areas, 6) index of each area's neighbours, -1 where there is none."""
    key = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(q, r, strict=True))}
    out = np.full((len(q), 6), -1, dtype=np.int64)
    for j, (dq, dr) in enumerate(NEIGHBOURS):
        out[:, j] = [key.get((int(a) + dq, int(b) + dr), -1) for a, b in zip(q, r, strict=True)]
    return out


def areas(seed: int = 2024) -> pl.DataFrame:
    """The synthetic small areas of the catchment.

    Parameters
    ----------
    seed : int
        Random seed; the hexagon layout is fixed, the deprivation ranking, area
        types at the margins and relative populations depend on it.

    Returns
    -------
    polars.DataFrame
        One row per area: ``lsoa`` ("E01SYN001"...), ``locality``, ``area_type``
        ("urban", "coastal", "rural"), ``imd_decile`` (1 most deprived .. 10),
        ``imd_quintile``, ``q``, ``r`` (axial hexagon coordinates), ``x_km``,
        ``y_km`` (centre in km from the map origin), ``lon``, ``lat`` (fake
        coordinates around Suffolk/Essex) and ``population_weight``.

    References
    ----------
    .. [1] Ministry of Housing, Communities and Local Government, "English Indices
       of Deprivation 2019", LSOA deciles (decile counts of the catchment).
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    lay = layout()
    q = lay["q"].to_numpy()
    r = lay["r"].to_numpy()
    loc = lay["locality_index"].to_numpy()
    x = lay["x_km"].to_numpy()
    y = lay["y_km"].to_numpy()
    n_areas = len(q)
    locs = P.LOCALITIES
    cx = np.array([lc["x_km"] for lc in locs])[loc]
    cy = np.array([lc["y_km"] for lc in locs])[loc]
    dist = np.hypot(x - cx, y - cy)
    ltype = np.array([lc["type"] for lc in locs])[loc]
    # Rank of each area within its locality by distance from the centre (0 = centre)
    # and by position towards the sea, as a share of the locality's areas.
    order = np.lexsort((dist, loc))
    dist_rank = np.empty(n_areas)
    sizes = np.bincount(loc)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    dist_rank[order] = (np.arange(n_areas) - starts[loc[order]]) / sizes[loc[order]]
    coast = np.array([lc.get("coast", [0.0, 0.0]) for lc in locs])[loc]
    seaward = coast[:, 0] * (x - cx) + coast[:, 1] * (y - cy)
    order = np.lexsort((-seaward, loc))
    sea_rank = np.empty(n_areas)
    sea_rank[order] = (np.arange(n_areas) - starts[loc[order]]) / sizes[loc[order]]
    area_type = np.where(
        ltype == "urban",
        np.where(dist_rank < 1.0 - P.URBAN_FRINGE_SHARE, "urban", "rural"),
        np.where(
            ltype == "coastal",
            np.where(sea_rank < P.COASTAL_SHARE, "coastal", "rural"),
            np.where(dist_rank < P.MARKET_TOWN_SHARE, "urban", "rural"),
        ),
    )
    # Latent deprivation: locality level + type + spatially smoothed noise, ranked into
    # the exact IMD 2019 decile counts.
    nb = _neighbour_index(q, r)
    noise = rng.normal(0.0, 1.0, n_areas)
    nb_noise = np.where(nb >= 0, noise[np.maximum(nb, 0)], 0.0).sum(1)
    smooth = (noise + 0.5 * nb_noise) / np.sqrt(1.0 + 0.25 * (nb >= 0).sum(1))
    score = (
        np.array([lc["deprivation"] for lc in locs])[loc]
        + np.where(area_type == "urban", 0.25, np.where(area_type == "coastal", 0.3, -0.2))
        + 0.5 * np.where(area_type == "urban", 1.0 - dist_rank, 0.0)  # inner-town deprivation
        + P.DEPRIVATION_NOISE_SD * smooth
    )
    rank = np.empty(n_areas, dtype=np.int64)
    rank[np.lexsort((np.arange(n_areas), -score))] = np.arange(n_areas)
    bounds = np.cumsum(P.IMD_DECILE_COUNTS)
    if bounds[-1] != n_areas:
        raise RuntimeError(_ERR_DECILES.format(total=bounds[-1], n=n_areas))
    decile = np.searchsorted(bounds, rank, side="right") + 1
    lon0, lat0 = P.CENTRE_LONLAT
    km_per_deg_lon = _KM_PER_DEG_LAT * math.cos(math.radians(lat0))
    weight = rng.uniform(P.AREA_POPULATION["low"], P.AREA_POPULATION["high"], n_areas)
    return pl.DataFrame(
        {
            "lsoa": [f"E01SYN{i + 1:03d}" for i in range(n_areas)],
            "locality": np.array([lc["name"] for lc in locs])[loc],
            "area_type": area_type,
            "imd_decile": decile.astype(np.int64),
            "imd_quintile": ((decile + 1) // 2).astype(np.int64),
            "q": q,
            "r": r,
            "x_km": x,
            "y_km": y,
            "lon": lon0 + x / km_per_deg_lon,
            "lat": lat0 + y / _KM_PER_DEG_LAT,
            "population_weight": weight,
        }
    )


def hexagon_lonlat(area: pl.DataFrame) -> np.ndarray:
    """(n_areas, 7, 2) closed rings of hexagon corners in fake lon/lat, 6 decimals.

    Corners run counter-clockwise (RFC 7946). d3-geo, and so Vega/Altair, reads
    rings with spherical winding (exterior clockwise): reverse each ring before
    drawing with them, as for any RFC 7946 boundary file.

    References
    ----------
    .. [1] Red Blob Games, "Hexagonal Grids" (pointy-top hexagon corners),
       https://www.redblobgames.com/grids/hexagons/
    """
    lon0, lat0 = P.CENTRE_LONLAT
    km_per_deg_lon = _KM_PER_DEG_LAT * math.cos(math.radians(lat0))
    ang = np.radians(60.0 * np.arange(7) - 30.0)  # pointy-top corners, ring closed
    x = area["x_km"].to_numpy()[:, None] + P.HEX_SIZE_KM * np.cos(ang)[None, :]
    y = area["y_km"].to_numpy()[:, None] + P.HEX_SIZE_KM * np.sin(ang)[None, :]
    ring = np.stack([lon0 + x / km_per_deg_lon, lat0 + y / _KM_PER_DEG_LAT], axis=-1)
    return np.round(ring, 6)


def practices(area: pl.DataFrame, seed: int = 2024) -> tuple[pl.DataFrame, np.ndarray]:
    """Synthetic GP practices and each area's practice-choice probabilities.

    Practices sit in areas, shared out between localities by their number of areas
    (largest remainder). People choose among practices with weight
    ``exp(-distance / scale) * same_locality_bonus * size``, so they mostly register
    near home and within their locality.

    Returns
    -------
    (practices, probabilities)
        ``practices`` has ``gp_practice`` ("SYNP001"...), ``lsoa`` and ``locality``;
        ``probabilities`` is an (n_areas, n_practices) array whose rows sum to 1.

    References
    ----------
    .. [1] Gravity models of GP practice choice: Santos, Gravelle and Propper,
       "Does quality affect patients' choice of doctor?", Economic Journal 2017.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    loc_names = [lc["name"] for lc in P.LOCALITIES]
    loc = area["locality"].to_numpy()
    counts = np.array([(loc == nm).sum() for nm in loc_names], dtype=float)
    quota = counts / counts.sum() * P.N_PRACTICES
    k = np.floor(quota).astype(int)
    extra = P.N_PRACTICES - k.sum()
    k[np.lexsort((np.arange(len(k)), -(quota - k)))[:extra]] += 1
    sites = np.concatenate(
        [
            np.sort(rng.choice(np.flatnonzero(loc == nm), size=kk, replace=False))
            for nm, kk in zip(loc_names, k, strict=True)
        ]
    )
    pc = P.PRACTICE_CHOICE
    x = area["x_km"].to_numpy()
    y = area["y_km"].to_numpy()
    d = np.hypot(x[:, None] - x[sites][None, :], y[:, None] - y[sites][None, :])
    size = np.exp(rng.normal(0.0, pc["size_log_sd"], len(sites)))
    same = np.where(loc[:, None] == loc[sites][None, :], pc["same_locality"], 1.0)
    w = np.exp(-d / pc["scale_km"]) * same * size[None, :]
    table = pl.DataFrame(
        {
            "gp_practice": [f"SYNP{i + 1:03d}" for i in range(len(sites))],
            "lsoa": area["lsoa"].to_numpy()[sites],
            "locality": loc[sites],
        }
    )
    return table, w / w.sum(1, keepdims=True)
