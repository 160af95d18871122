"""Chinese web-map coordinates: GCJ-02 (Amap, Tencent, DataV) and BD-09 (Baidu).

GCJ-02 is WGS84 longitude/latitude pushed by a deliberate, smoothly varying offset of
300–600 m inside China (the published "Krasovsky" formula below); BD-09 is GCJ-02
pushed once more by Baidu's closed-form rotation and shift. Neither is a CRS pyproj
knows: they are declared on a layer in ``workspace.toml`` (``crs = "GCJ-02"``) and the
coordinates are converted to CGCS2000 (EPSG:4490) when the layer is read
(:func:`to_cgcs2000`). CGCS2000 and WGS84 agree to within a metre for mapping
(DOMAIN.md), so WGS84 output is labelled EPSG:4490 without a datum shift.

Outside China GCJ-02 equals WGS84 (the usual ``out_of_china`` box, as in every public
implementation), so a point outside the box is returned unchanged by every function here.

The inverse GCJ-02 → WGS84 has no closed form; it is solved by fixed-point iteration
(the offset varies slowly, so each step gains two to three digits) to ``tol`` degrees.
BD-09 → GCJ-02 starts from Baidu's closed-form inverse and is refined the same way, so
``bd09_to_gcj02(gcj02_to_bd09(p)) == p`` to ``tol``.

References: the GCJ-02 formula as published in eviltransform (MIT), coordtransform
(MIT) and PRCoords (CC0); golden pairs in ``tests/test_crs_china.py``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import Point

GCJ02 = "GCJ-02"
BD09 = "BD-09"
OFFSET_DATUMS = (GCJ02, BD09)
CGCS2000 = CRS.from_epsg(4490)

# GCJ-02 constants: Krasovsky 1940 semi-major axis and first eccentricity squared.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 constants.
_BD_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.0060
# The box outside which GCJ-02 is WGS84 (the common ``out_of_china`` rule).
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)

# How the offset datums are spelt in workspace.toml and by their users.
_ALIASES = {
    "GCJ02": GCJ02,
    "GCJ": GCJ02,
    "MARS": GCJ02,
    "AMAP": GCJ02,
    "GAODE": GCJ02,
    "BD09": BD09,
    "BD09LL": BD09,
    "BAIDU": BD09,
}

# DataV / Amap administrative boundaries (geo.datav.aliyun.com): properties by which a
# layer betrays that source. ``adcode`` alone is the national division code any source
# may carry, so it counts only together with DataV's own keys (``level`` is too common).
_DATAV_KEYS = ("acroutes", "childrenNum", "subFeatureIndex")
_DATAV_WITH_ADCODE = ("parent", "center", "centroid")

Coords = tuple[np.ndarray, np.ndarray]


def offset_datum(name: object) -> str | None:
    """``"GCJ-02"`` or ``"BD-09"`` when ``name`` spells one of them, else None.

    Accepts the usual spellings (``gcj02``, ``GCJ-02``, ``bd09ll``, ``BD-09``...).
    """
    if not isinstance(name, str):
        return None
    key = "".join(ch for ch in name.upper() if ch.isalnum())
    return _ALIASES.get(key)


def out_of_china(lon: Any, lat: Any) -> np.ndarray:
    """True where (lon, lat) lies outside the box in which the GCJ-02 offset applies."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    x0, y0, x1, y1 = CHINA_BOX
    return ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> Coords:
    """GCJ-02 minus WGS84 at WGS84 (lon, lat), in degrees (zero outside China)."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    px = x * math.pi
    py = y * math.pi
    common = (20.0 * np.sin(6.0 * px) + 20.0 * np.sin(2.0 * px)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sx
        + common
        + (20.0 * np.sin(py) + 40.0 * np.sin(py / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(py / 12.0) + 320.0 * np.sin(py / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sx
        + common
        + (20.0 * np.sin(px) + 40.0 * np.sin(px / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(px / 12.0) + 300.0 * np.sin(px / 30.0)) * 2.0 / 3.0
    )
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqm = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqm) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqm * np.cos(rad) * math.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _arrays(lon: Any, lat: Any) -> Coords:
    lon_a = np.array(lon, dtype="float64", copy=True)
    lat_a = np.array(lat, dtype="float64", copy=True)
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in shape: {lon_a.shape} vs {lat_a.shape}")
    return lon_a, lat_a


def wgs84_to_gcj02(lon: Any, lat: Any) -> Coords:
    """WGS84 (or CGCS2000) longitude/latitude to GCJ-02, the published closed formula.

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    (lon, lat)
        float64 arrays; unchanged outside China.
    """
    lon_a, lat_a = _arrays(lon, lat)
    dlon, dlat = _gcj_delta(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], Coords],
    start: Coords,
    target: Coords,
    *,
    tol: float,
    max_iter: int,
) -> Coords:
    """Solve ``forward(p) == target`` by fixed-point iteration from ``start``."""
    lon, lat = start
    tlon, tlat = target
    for _ in range(max_iter):
        flon, flat = forward(lon, lat)
        elon, elat = flon - tlon, flat - tlat
        lon = lon - elon
        lat = lat - elat
        err = np.maximum(np.abs(elon), np.abs(elat))
        if not np.any(err > tol):  # NaN input stays NaN and does not loop
            break
    return lon, lat


def gcj02_to_wgs84(lon: Any, lat: Any, *, tol: float = 1e-10, max_iter: int = 30) -> Coords:
    """GCJ-02 longitude/latitude to WGS84 (CGCS2000), exact to ``tol`` degrees.

    Iterates ``p ← p − (wgs84_to_gcj02(p) − gcj)`` from ``gcj − offset(gcj)`` until
    the forward transform of the answer reproduces the input to ``tol`` degrees
    (1e-10° is about 0.01 mm); three or four rounds suffice.
    """
    glon, glat = _arrays(lon, lat)
    dlon, dlat = _gcj_delta(glon, glat)
    return _invert(
        wgs84_to_gcj02, (glon - dlon, glat - dlat), (glon, glat), tol=tol, max_iter=max_iter
    )


def gcj02_to_bd09(lon: Any, lat: Any) -> Coords:
    """GCJ-02 to BD-09 (Baidu's closed form)."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon: Any, lat: Any, *, tol: float = 1e-10, max_iter: int = 30) -> Coords:
    """BD-09 to GCJ-02: Baidu's closed-form inverse, refined to ``tol`` degrees."""
    blon, blat = _arrays(lon, lat)
    x, y = blon - _BD_DLON, blat - _BD_DLAT
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    start = (z * np.cos(theta), z * np.sin(theta))
    return _invert(gcj02_to_bd09, start, (blon, blat), tol=tol, max_iter=max_iter)


def wgs84_to_bd09(lon: Any, lat: Any) -> Coords:
    """WGS84 (CGCS2000) to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any, *, tol: float = 1e-10) -> Coords:
    """BD-09 to WGS84 (CGCS2000)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat, tol=tol), tol=tol)


_TO_WGS84: dict[str, Callable[..., Coords]] = {GCJ02: gcj02_to_wgs84, BD09: bd09_to_wgs84}
_FROM_WGS84: dict[str, Callable[..., Coords]] = {GCJ02: wgs84_to_gcj02, BD09: wgs84_to_bd09}


def _datum(name: str) -> str:
    datum = offset_datum(name)
    if datum is None:
        raise ValueError(
            f"unknown offset datum {name!r}; expected one of {', '.join(OFFSET_DATUMS)}"
        )
    return datum


def transform_geometries(geoms: Any, fn: Callable[..., Coords]) -> np.ndarray:
    """Apply a (lon, lat) → (lon, lat) function to every vertex; z values are kept."""

    def per_vertex(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None) -> tuple:
        nx, ny = fn(x, y)
        return (nx, ny) if z is None else (nx, ny, z)

    arr = np.asarray(geoms, dtype=object)
    return shapely.transform(arr, per_vertex, include_z=None, interleaved=False)


def to_cgcs2000(frame: gpd.GeoDataFrame | gpd.GeoSeries, datum: str):
    """Convert a layer whose longitude/latitude are in ``datum`` to CGCS2000 (EPSG:4490).

    A layer in a projected CRS (say Web Mercator over an Amap basemap) is first brought
    back to longitude/latitude of its own geodetic CRS; a layer without a CRS is taken as
    longitude/latitude. Every vertex of points, lines and polygons is converted.

    Parameters
    ----------
    frame
        The layer as read.
    datum
        ``"GCJ-02"`` or ``"BD-09"`` (any spelling :func:`offset_datum` accepts).

    Returns
    -------
    GeoDataFrame or GeoSeries
        A copy in EPSG:4490.
    """
    fn = _TO_WGS84[_datum(datum)]
    if frame.crs is not None:
        crs = CRS.from_user_input(frame.crs)
        if not crs.is_geographic:
            frame = frame.to_crs(crs.geodetic_crs)
    geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    converted = transform_geometries(geoms.to_numpy(), fn)
    series = gpd.GeoSeries(converted, index=geoms.index, crs=CGCS2000, name=geoms.name)
    if isinstance(frame, gpd.GeoSeries):
        return series
    out = frame.copy()
    out = out.set_geometry(series.rename(frame.geometry.name), crs=CGCS2000)
    return out


def from_cgcs2000(frame: gpd.GeoDataFrame | gpd.GeoSeries, datum: str):
    """Convert a layer to ``datum`` longitude/latitude (the reverse of :func:`to_cgcs2000`).

    The result is labelled EPSG:4326 only because no CRS describes an offset datum;
    it is meant for Chinese basemaps and for tests, never for analysis.
    """
    fn = _FROM_WGS84[_datum(datum)]
    if frame.crs is None:
        raise ValueError("layer has no CRS; refusing to guess one")
    frame = frame.to_crs(CGCS2000)
    geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    converted = transform_geometries(geoms.to_numpy(), fn)
    series = gpd.GeoSeries(converted, index=geoms.index, crs="EPSG:4326", name=geoms.name)
    if isinstance(frame, gpd.GeoSeries):
        return series
    return frame.copy().set_geometry(series.rename(frame.geometry.name), crs="EPSG:4326")


def datav_fingerprint(frame: pd.DataFrame) -> list[str]:
    """The DataV / Amap boundary properties ``frame`` carries (empty when none).

    DataV's atlas (and boundaries exported from Amap) are published in GCJ-02; these
    properties are how such a layer is recognised when nobody declared its datum.
    """
    cols = set(map(str, frame.columns))
    found = [k for k in _DATAV_KEYS if k in cols]
    if "adcode" in cols:
        for k in _DATAV_WITH_ADCODE:
            if k not in cols:
                continue
            if k == "parent" and not _mentions_adcode(frame["parent"]):
                continue
            found.append(k)
        if found:
            found.insert(0, "adcode")
    return found


def _mentions_adcode(values: Iterable) -> bool:
    for v in itertools.islice(values, 20):
        if isinstance(v, dict) and "adcode" in v:
            return True
        if isinstance(v, str) and "adcode" in v:
            try:
                return isinstance(json.loads(v), dict)
            except ValueError:
                return True
    return False


def offset_m(lon: float, lat: float, datum: str = GCJ02) -> float:
    """Distance in metres between a WGS84 point and the same point in ``datum``."""
    fn = _FROM_WGS84[_datum(datum)]
    olon, olat = fn(lon, lat)
    return _haversine_m(lon, lat, float(olon), float(olat))


def _haversine_m(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    p0, p1 = math.radians(lat0), math.radians(lat1)
    dp, dl = p1 - p0, math.radians(lon1 - lon0)
    h = math.sin(dp / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


# --------------------------------------------------------------------- mixed-datum guard
# Quality checks on the inputs, not rules of the policy. Villages in GCJ-02 over CGCS2000
# roads sit 300-600 m off them; villages registered with their roads sit within metres.

# Villages a median of more than this from the nearest road, while the roads are dense,
# are unlikely to be registered on the same datum as the roads.
SNAP_SUSPECT_M = 150.0
# Below this road density (km per km² of the county) villages may honestly lie far from
# roads (random roads leave a random point a median ln 2 / (2 D) from the nearest, 700 m
# at 0.5 km/km²); above it, where villages are mostly reached by road, a median village
# more than SNAP_SUSPECT_M off the roads points to a registration error rather than to
# sparse roads. A heuristic for a warning, never for a figure.
DENSE_ROADS_KM_PER_KM2 = 0.5
# An offset datum "explains" the distance when reading one layer in it brings the median
# from above SNAP_EXPLAINED_MIN_M down by SNAP_EXPLAINED_FACTOR and below SNAP_SUSPECT_M:
# a fixed 300-600 m shift does not bring most villages onto roads by chance.
SNAP_EXPLAINED_MIN_M = 50.0
SNAP_EXPLAINED_FACTOR = 4.0


def median_snap_m(points: gpd.GeoSeries, lines: gpd.GeoSeries) -> float:
    """Median distance (CRS units) from each point (or representative point) to the nearest line."""
    pts = points[~(points.isna() | points.is_empty)]
    geoms = lines[~(lines.isna() | lines.is_empty)].to_numpy()
    if not len(pts) or not len(geoms):
        return float("nan")
    reps = pts.representative_point().to_numpy()
    tree = shapely.STRtree(geoms)
    idx = tree.nearest(reps)
    d = shapely.distance(reps, geoms[idx])
    return float(np.nanmedian(d))


def datum_diagnosis(
    villages: gpd.GeoDataFrame | gpd.GeoSeries,
    roads: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    area_m2: float | None = None,
    suspect_m: float | None = None,
    dense_km_per_km2: float | None = None,
) -> dict[str, Any]:
    """How far villages sit from roads as read, and whether an offset datum explains it.

    Both layers must be in one projected CRS in metres. For each hypothesis — villages in
    GCJ-02 or BD-09 (shift them back), or roads in GCJ-02 or BD-09 (shift the villages
    forward, the same as shifting the roads back) — the villages' median distance to the
    nearest road is recomputed.

    Parameters
    ----------
    villages, roads
        The two layers, in one metric CRS.
    area_m2
        Area the roads serve (the county), for their density; else their convex hull's.
    suspect_m, dense_km_per_km2
        The profile's ``[road] datum_suspect_snap_m`` and ``dense_roads_km_per_km2``
        (default :data:`SNAP_SUSPECT_M`, :data:`DENSE_ROADS_KM_PER_KM2`).

    Returns
    -------
    dict
        ``median_m`` as read; ``road_density_km_per_km2``; ``hypotheses``
        ``{("villages"|"roads", datum): median_m}`` (empty when the median is below
        :data:`SNAP_EXPLAINED_MIN_M`); ``explained_by`` the hypothesis that puts the
        villages back on the roads (see :data:`SNAP_EXPLAINED_FACTOR`) or None;
        ``suspect`` True when the median exceeds :data:`SNAP_SUSPECT_M` although the roads
        are dense (:data:`DENSE_ROADS_KM_PER_KM2`), or when a hypothesis explains it.
    """
    suspect = SNAP_SUSPECT_M if suspect_m is None else float(suspect_m)
    dense = DENSE_ROADS_KM_PER_KM2 if dense_km_per_km2 is None else float(dense_km_per_km2)
    vg = villages.geometry if isinstance(villages, gpd.GeoDataFrame) else villages
    rg = roads.geometry if isinstance(roads, gpd.GeoDataFrame) else roads
    crs = CRS.from_user_input(vg.crs)
    median = median_snap_m(vg, rg)
    length_km = float(rg.length.sum()) / 1000.0
    if area_m2 is None:
        area_m2 = float(shapely.convex_hull(shapely.union_all(rg.to_numpy())).area)
    density = length_km / (area_m2 / 1e6) if area_m2 > 0 else float("nan")
    out: dict[str, Any] = {
        "median_m": median,
        "road_density_km_per_km2": density,
        "hypotheses": {},
        "explained_by": None,
        "suspect": False,
    }
    if not median > SNAP_EXPLAINED_MIN_M:  # NaN (no villages or roads) included
        return out
    pts = vg.to_crs(CGCS2000).representative_point()
    for who in ("villages", "roads"):
        for datum in OFFSET_DATUMS:
            fn = _TO_WGS84[datum] if who == "villages" else _FROM_WGS84[datum]
            moved = gpd.GeoSeries(
                transform_geometries(pts.to_numpy(), fn), index=pts.index, crs=CGCS2000
            ).to_crs(crs)
            out["hypotheses"][(who, datum)] = median_snap_m(moved, rg)
    best, alt = min(out["hypotheses"].items(), key=lambda kv: kv[1])
    if alt < suspect and alt * SNAP_EXPLAINED_FACTOR <= median:
        out["explained_by"] = best
    out["suspect"] = out["explained_by"] is not None or (median > suspect and density >= dense)
    return out


def centre_offset_m(frame: gpd.GeoDataFrame | gpd.GeoSeries, datum: str = GCJ02) -> float:
    """The ``datum`` offset in metres at the centre of ``frame``'s bounds."""
    g = frame.to_crs(CGCS2000)
    x0, y0, x1, y1 = g.total_bounds
    c = Point((x0 + x1) / 2, (y0 + y1) / 2)
    return offset_m(c.x, c.y, datum)
