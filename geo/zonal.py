"""Per-village raster statistics: catchments and coverage-weighted zonal stats.

Coverage weighting
    :func:`zonal_stats` weights each pixel by the exact fraction of its area
    that the polygon covers, as ``exactextract`` does. The fractions come from
    one pass over the polygon's edges (signed trapezoid areas accumulated down
    each pixel column, the way exact-coverage font rasterisers work), in a
    numba kernel running over chunks of polygons on threads. Each polygon is handled on
    its own, so overlapping polygons each get every pixel they touch (a single
    zone raster would give a shared pixel to one of them only).

    ``weights="centre"`` instead counts a pixel wholly when its centre lies
    in the polygon (the ``rasterstats`` / ``rasterio.features.rasterize``
    default). The two differ by design on partly covered pixels; every column
    documents which one it uses.

Polygons must be valid (no self-intersections): the coverage of an invalid
ring is its winding number, not its area. Run ``shapely.make_valid`` first
when in doubt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from numba import njit

from geo.threads import run_chunks
from layers.catalogue import HAZARD_GROUPS
from layers.errors import CRSError, LayerSchemaError

__all__ = ["catchments", "village_terrain_stats", "zonal_stats"]

_STATS = ("mean", "min", "max", "sum", "count", "stdev")
# Coverage below this (in pixel fractions) is float noise from the column sums.
_COVER_EPS = 1e-9


# ---------------------------------------------------------------------------
# catchments
# ---------------------------------------------------------------------------
def _as_geometry(obj: object, name: str, crs: object) -> shapely.Geometry:
    if isinstance(obj, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if obj.crs is not None and crs is not None and not obj.crs.equals(crs):
            raise CRSError(f"{name}: expected CRS {crs}, found {obj.crs}; reproject it first")
        return shapely.union_all(np.asarray(obj.geometry.values))
    if isinstance(obj, shapely.Geometry):
        return obj
    raise LayerSchemaError(
        f"{name}: expected a shapely geometry, GeoSeries or GeoDataFrame, found {type(obj).__name__}"
    )


def catchments(
    villages_points: gpd.GeoDataFrame,
    *,
    boundary: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame,
    radius_m: float,
) -> gpd.GeoDataFrame:
    """Catchment polygons for point villages: Voronoi cells, clipped.

    A village's catchment is the land nearer to it than to any other village
    (its Voronoi cell), clipped to the county boundary and to a circle of
    ``radius_m`` around the village. The Voronoi cell stands for "the land
    this village uses" when no village boundary is delivered; the radius
    stops a remote hamlet from claiming half a mountain just because no one
    else lives there, which would skew its terrain statistics.

    Parameters
    ----------
    villages_points : geopandas.GeoDataFrame
        Point villages in a projected (metre) CRS. Villages at identical
        coordinates share one cell (each gets a copy).
    boundary : shapely geometry, GeoSeries or GeoDataFrame
        County boundary, in the same CRS (a shapely geometry is assumed to be).
    radius_m : float
        Largest distance from the village a catchment reaches, metres.

    Returns
    -------
    geopandas.GeoDataFrame
        Same index and attribute columns as ``villages_points``, with the
        catchment polygon as geometry (empty for a village outside the
        boundary).

    Raises
    ------
    CRSError
        If the villages have no CRS or a geographic one, or the boundary's CRS
        differs.
    LayerSchemaError
        If a geometry is not a point, or the boundary is not a geometry.
    ValueError
        If ``radius_m`` is not positive.
    """
    if not isinstance(villages_points, gpd.GeoDataFrame):
        raise LayerSchemaError(
            f"villages_points: expected a GeoDataFrame of points, found {type(villages_points).__name__}"
        )
    crs = villages_points.crs
    if crs is None:
        raise CRSError("villages_points: expected a projected CRS in metres, found no CRS")
    if crs.is_geographic:
        raise CRSError(
            f"villages_points: expected a projected CRS in metres, found geographic {crs.to_string()}"
        )
    if not (radius_m > 0 and math.isfinite(radius_m)):
        raise ValueError(f"radius_m: expected a positive distance in metres, found {radius_m!r}")
    geoms = np.asarray(villages_points.geometry.values)
    types = shapely.get_type_id(geoms)
    bad = np.nonzero(types != shapely.GeometryType.POINT)[0]
    if len(bad):
        first = villages_points.index[bad[0]]
        raise LayerSchemaError(
            f"villages_points: expected Point geometries, found {len(bad)} other (first at index {first!r}: "
            f"{shapely.get_type_id(geoms[bad[0]])!r})"
        )
    if shapely.is_empty(geoms).any():
        raise LayerSchemaError("villages_points: expected non-empty points, found empty geometries")
    bnd = _as_geometry(boundary, "boundary", crs)

    xy = shapely.get_coordinates(geoms)
    uniq, inverse = np.unique(xy, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    upts = shapely.points(uniq)
    if len(uniq) == 1:
        ucells = np.array([bnd])
    else:
        env = shapely.union(shapely.envelope(bnd), shapely.envelope(shapely.multipoints(upts)))
        vor = shapely.voronoi_polygons(shapely.multipoints(upts), extend_to=env, ordered=True)
        ucells = np.asarray(shapely.get_parts(vor))
    ucells = shapely.intersection(ucells, bnd)
    ucells = shapely.intersection(ucells, shapely.buffer(upts, radius_m, quad_segs=32))
    cells = ucells[inverse]
    out = gpd.GeoDataFrame(
        villages_points.drop(columns=villages_points.geometry.name),
        geometry=gpd.GeoSeries(cells, index=villages_points.index, crs=crs),
        crs=crs,
    )
    return out


# ---------------------------------------------------------------------------
# coverage kernel
# ---------------------------------------------------------------------------
@njit(cache=True)
def _add_piece(cov, dacc, r, cc, r0, hw, s, length, vm):  # pragma: no cover - compiled
    rr = r - r0
    if rr < 0:
        dacc[0, cc] += s * length
    elif rr < hw:
        cov[rr, cc] += s * length * (r + 1.0 - vm)
        dacc[rr + 1, cc] += s * length


@njit(cache=True, nogil=True)
def _zonal_kernel(
    us, vs, ring_start, ring_sign, poly_ring_start, bands, nodata, has_nodata, centre, p0, p1, res
):  # pragma: no cover - compiled
    """Coverage-weighted accumulators for the polygons ``p0``..``p1 - 1``.

    A plain loop that releases the GIL, run on chunks of polygons from threads
    (:func:`_accumulate`): numba's ``parallel=True`` would take four seconds to compile
    on a cold start, the plain loop under one.

    Coordinates are in pixel space (u = column, v = row, both continuous; the
    pixel (r, c) is [c, c+1] x [r, r+1]). ``res[p, b]`` receives
    (sum of weights, sum of w*x, min, max, sum of w*x*x) for band b.
    """
    nb, H, W = bands.shape
    for p in range(p0, p1):
        for b in range(nb):
            res[p, b, 0] = 0.0
            res[p, b, 1] = 0.0
            res[p, b, 2] = np.inf
            res[p, b, 3] = -np.inf
            res[p, b, 4] = 0.0
        rs = poly_ring_start[p]
        re = poly_ring_start[p + 1]
        if re <= rs:
            continue
        umin = np.inf
        umax = -np.inf
        vmin = np.inf
        vmax = -np.inf
        for k in range(ring_start[rs], ring_start[re]):
            umin = min(umin, us[k])
            umax = max(umax, us[k])
            vmin = min(vmin, vs[k])
            vmax = max(vmax, vs[k])
        c0 = max(int(math.floor(umin)), 0)
        c1 = min(int(math.ceil(umax)), W)
        r0 = max(int(math.floor(vmin)), 0)
        r1 = min(int(math.ceil(vmax)), H)
        if c1 <= c0 or r1 <= r0:
            continue
        hw = r1 - r0
        ww = c1 - c0
        cov = np.zeros((hw + 1, ww))
        dacc = np.zeros((hw + 1, ww))
        for ring in range(rs, re):
            k0 = ring_start[ring]
            k1 = ring_start[ring + 1]
            # Signed area by the same column-sweep convention: A = -sum v du.
            area = 0.0
            for k in range(k0, k1 - 1):
                area -= 0.5 * (vs[k] + vs[k + 1]) * (us[k + 1] - us[k])
            if area == 0.0:
                continue
            f = ring_sign[ring] * (1.0 if area > 0.0 else -1.0)
            for k in range(k0, k1 - 1):
                ua = us[k]
                va = vs[k]
                ub = us[k + 1]
                vb = vs[k + 1]
                if ua == ub:
                    continue
                s = f
                if ua > ub:
                    s = -f
                    ua, ub = ub, ua
                    va, vb = vb, va
                if ub <= c0 or ua >= c1:
                    continue
                m = (vb - va) / (ub - ua)
                if centre:
                    # Crossings of the vertical line through each pixel centre,
                    # half-open [ua, ub) so a shared vertex counts once.
                    cs = max(int(math.ceil(ua - 0.5)), c0)
                    ce = min(int(math.ceil(ub - 0.5)), c1)
                    for col in range(cs, ce):
                        v = va + m * (col + 0.5 - ua)
                        rstart = int(math.floor(v - 0.5)) + 1
                        rr = rstart - r0
                        if rr < 0:
                            dacc[0, col - c0] += s
                        elif rr < hw:
                            dacc[rr, col - c0] += s
                    continue
                lo = max(ua, float(c0))
                hi = min(ub, float(c1))
                for col in range(int(math.floor(lo)), int(math.ceil(hi))):
                    u_s = max(lo, float(col))
                    u_e = min(hi, col + 1.0)
                    du = u_e - u_s
                    if du <= 0.0:
                        continue
                    v_s = va + m * (u_s - ua)
                    v_e = va + m * (u_e - ua)
                    vlo = min(v_s, v_e)
                    vhi = max(v_s, v_e)
                    cc = col - c0
                    if vhi - vlo <= 0.0:
                        _add_piece(cov, dacc, int(math.floor(vlo)), cc, r0, hw, s, du, vlo)
                        continue
                    rlo = int(math.floor(vlo))
                    rhi = int(math.ceil(vhi))
                    if rlo < r0 - 1:
                        # Everything above the window adds fully to all its rows.
                        top = min(vhi, float(r0))
                        if top > vlo:
                            _add_piece(
                                cov,
                                dacc,
                                r0 - 1,
                                cc,
                                r0,
                                hw,
                                s,
                                du * (top - vlo) / (vhi - vlo),
                                0.0,
                            )
                        rlo = r0
                    if rhi > r1:
                        rhi = r1  # below the window: no contribution
                    for r in range(rlo, rhi):
                        pv0 = max(vlo, float(r))
                        pv1 = min(vhi, r + 1.0)
                        if pv1 <= pv0:
                            continue
                        length = du * (pv1 - pv0) / (vhi - vlo)
                        _add_piece(cov, dacc, r, cc, r0, hw, s, length, 0.5 * (pv0 + pv1))
        acc = np.zeros(ww)
        for rr in range(hw):
            r = r0 + rr
            for cc in range(ww):
                acc[cc] += dacc[rr, cc]
                w = acc[cc] if centre else cov[rr, cc] + acc[cc]
                if w <= _COVER_EPS:
                    continue
                if w > 1.0:
                    w = 1.0
                c = c0 + cc
                for b in range(nb):
                    x = np.float64(bands[b, r, c])
                    if x != x or (has_nodata and x == nodata):
                        continue
                    res[p, b, 0] += w
                    res[p, b, 1] += w * x
                    res[p, b, 4] += w * x * x
                    if x < res[p, b, 2]:
                        res[p, b, 2] = x
                    if x > res[p, b, 3]:
                        res[p, b, 3] = x


def _polygon_arrays(
    geoms: np.ndarray, transform: Affine
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten polygons to ring coordinates in pixel space with offsets."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of_part = shapely.get_rings(parts, return_index=True)
    coords, coord_of_ring = shapely.get_coordinates(rings, return_index=True)
    nring = len(rings)
    ring_start = np.zeros(nring + 1, dtype=np.int64)
    np.cumsum(np.bincount(coord_of_ring, minlength=nring), out=ring_start[1:])
    # The first ring of every part is its exterior.
    first = np.ones(nring, dtype=bool)
    first[1:] = ring_of_part[1:] != ring_of_part[:-1]
    ring_sign = np.where(first, 1.0, -1.0)
    poly_of_ring = part_of[ring_of_part]
    poly_ring_start = np.zeros(len(geoms) + 1, dtype=np.int64)
    np.cumsum(np.bincount(poly_of_ring, minlength=len(geoms)), out=poly_ring_start[1:])
    us = (coords[:, 0] - transform.c) / transform.a
    vs = (coords[:, 1] - transform.f) / transform.e
    return us, vs, ring_start, ring_sign, poly_ring_start


def _check_polygons(polygons: object, name: str = "polygons") -> tuple[np.ndarray, pd.Index]:
    if isinstance(polygons, gpd.GeoDataFrame):
        geoms, index = np.asarray(polygons.geometry.values), polygons.index
    elif isinstance(polygons, gpd.GeoSeries):
        geoms, index = np.asarray(polygons.values), polygons.index
    else:
        raise LayerSchemaError(
            f"{name}: expected a GeoDataFrame or GeoSeries of polygons, found {type(polygons).__name__}"
        )
    types = shapely.get_type_id(geoms)
    ok = (
        (types == shapely.GeometryType.POLYGON)
        | (types == shapely.GeometryType.MULTIPOLYGON)
        | shapely.is_missing(geoms)
        | shapely.is_empty(geoms)
    )
    if not ok.all():
        i = int(np.nonzero(~ok)[0][0])
        raise LayerSchemaError(
            f"{name}: expected Polygon or MultiPolygon geometries, found {int((~ok).sum())} other "
            f"(first at index {index[i]!r}: {shapely.get_type_id(geoms[i])!r})"
        )
    geoms = np.where(shapely.is_missing(geoms), shapely.Polygon(), geoms)
    return geoms, index


def _check_transform(transform: object) -> Affine:
    if not isinstance(transform, Affine):
        values: Any = transform  # any sequence of six numbers; TypeError below otherwise
        try:
            transform = Affine(*tuple(values)[:6])
        except TypeError as exc:
            raise CRSError(f"transform: expected an affine.Affine, found {transform!r}") from exc
    if transform.b != 0 or transform.d != 0 or transform.a == 0 or transform.e == 0:
        raise CRSError(
            f"transform: expected a north-up grid without rotation, found {tuple(transform)[:6]}"
        )
    return transform


def _accumulate(
    geoms: np.ndarray,
    bands: np.ndarray,
    transform: Affine,
    nodata: float | None,
    weights: str,
) -> np.ndarray:
    if weights in ("centre", "center"):
        centre = True
    elif weights == "coverage":
        centre = False
    else:
        raise ValueError(f"weights: expected 'coverage' or 'centre', found {weights!r}")
    us, vs, ring_start, ring_sign, poly_ring_start = _polygon_arrays(geoms, transform)
    res = np.empty((len(geoms), bands.shape[0], 5), dtype=np.float64)
    if nodata is None or (isinstance(nodata, float) and math.isnan(nodata)):
        has_nodata, nodata_value = False, 0.0
    else:
        has_nodata, nodata_value = True, float(nodata)

    def run(p0: int, p1: int) -> None:
        _zonal_kernel(
            us,
            vs,
            ring_start,
            ring_sign,
            poly_ring_start,
            bands,
            nodata_value,
            has_nodata,
            centre,
            p0,
            p1,
            res,
        )

    run_chunks(run, len(geoms))
    return res


def _finish(acc: np.ndarray, stat: str) -> np.ndarray:
    count, total, lo, hi, sq = (acc[:, i] for i in range(5))
    empty = count <= 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        if stat == "count":
            return count
        if stat == "sum":
            return total  # a sum over no pixels is 0 (as exactextract)
        if stat == "mean":
            return np.where(empty, np.nan, total / count)
        if stat == "min":
            return np.where(empty, np.nan, lo)
        if stat == "max":
            return np.where(empty, np.nan, hi)
        mean = total / count
        var = np.maximum(sq / count - mean * mean, 0.0)
        return np.where(empty, np.nan, np.sqrt(var))


def zonal_stats(
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    raster: np.ndarray,
    *,
    transform: Affine,
    nodata: float | None = None,
    stats: Sequence[str] = ("mean", "min", "max"),
    weights: str = "coverage",
) -> pd.DataFrame:
    """Coverage-weighted statistics of a raster in each polygon.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame or GeoSeries
        Polygons or multipolygons in the raster's CRS. They may overlap: each
        polygon is computed on its own.
    raster : numpy.ndarray
        2-D values. NaN is always ignored.
    transform : affine.Affine
        The raster's geotransform (north-up, no rotation).
    nodata : float, optional
        Value to ignore besides NaN.
    stats : sequence of str, default ("mean", "min", "max")
        Any of ``mean`` (weighted mean), ``sum`` (weighted sum), ``count``
        (sum of the weights of valid pixels, in pixels), ``min``, ``max``
        (over valid pixels with a weight above 0, as exactextract) and
        ``stdev`` (weighted population standard deviation).
    weights : {"coverage", "centre"}, default "coverage"
        ``coverage``: each pixel weighted by the exact fraction of it inside
        the polygon (exactextract). ``centre``: a pixel counts fully when its
        centre is inside (rasterstats, ``all_touched=False``).

    Returns
    -------
    pandas.DataFrame
        One row per polygon, indexed like ``polygons``, one column per stat.
        NaN (and count 0) for a polygon with no valid pixel, e.g. outside
        the raster or smaller than a pixel with ``weights="centre"``.

    Raises
    ------
    LayerSchemaError
        If a geometry is not a polygon or the raster is not 2-D.
    CRSError
        If the transform is rotated.
    ValueError
        If a stat or the weights name is unknown.
    """
    geoms, index = _check_polygons(polygons)
    arr = np.asarray(raster)
    if arr.ndim != 2:
        raise LayerSchemaError(
            f"raster: expected a 2-D array, found {arr.ndim}-D with shape {arr.shape}"
        )
    unknown = [s for s in stats if s not in _STATS]
    if unknown:
        raise ValueError(f"stats: expected any of {_STATS}, found unknown {unknown}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    t = _check_transform(transform)
    acc = _accumulate(geoms, np.ascontiguousarray(arr)[None], t, nodata, weights)
    return pd.DataFrame({s: _finish(acc[:, 0], s) for s in stats}, index=index)


def _threshold_label(t: float) -> str:
    return f"{t:g}".replace(".", "p").replace("-", "m")


def village_terrain_stats(
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    dem: np.ndarray,
    slope_deg: np.ndarray,
    *,
    transform: Affine,
    hazard_polygons: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    thresholds_deg: Sequence[float] = (15, 25),
    nodata: float | None = None,
    weights: str = "coverage",
) -> pd.DataFrame:
    """Terrain statistics of each village polygon.

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame or GeoSeries
        Village polygons (or catchments) in the DEM's projected CRS.
    dem : numpy.ndarray
        Elevations in metres; NaN (or ``nodata``) ignored.
    slope_deg : numpy.ndarray
        Slope in degrees on the same grid (see :func:`geo.terrain.slope`).
    transform : affine.Affine
        Geotransform of the grid.
    hazard_polygons : GeoDataFrame or GeoSeries, optional
        Hazard zones in the same CRS. Without them ``hazard_frac`` is NaN
        (missing, not zero).
    thresholds_deg : sequence of float, default (15, 25)
        Slope thresholds; one ``slope_gt{t}_frac`` column each (strictly
        steeper than ``t``; 12.5 becomes ``slope_gt12p5_frac``).
    nodata : float, optional
        Nodata value of ``dem`` besides NaN.
    weights : {"coverage", "centre"}, default "coverage"
        Pixel weighting, see :func:`zonal_stats`.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``polygons``: ``elev_mean_m``, ``elev_min_m``,
        ``elev_max_m``, ``slope_mean_deg``, ``slope_gt{t}_frac`` (share of the
        polygon's valid-slope area steeper than t, coverage weighted) and
        ``hazard_frac`` (share of the polygon's area inside the union of the
        hazard polygons, from exact geometry, not the raster).

    Raises
    ------
    LayerSchemaError
        If the grids differ in shape or a geometry is not a polygon.
    CRSError
        If the hazard polygons' CRS differs from the polygons' CRS, or the
        polygons are in a geographic CRS.
    """
    geoms, index = _check_polygons(polygons)
    crs = polygons.crs
    if crs is not None and crs.is_geographic:
        raise CRSError(
            f"polygons: expected a projected CRS in metres, found geographic {crs.to_string()}"
        )
    dem = np.asarray(dem)
    slope_arr = np.asarray(slope_deg)
    if dem.ndim != 2 or dem.shape != slope_arr.shape:
        raise LayerSchemaError(
            f"dem and slope_deg: expected two 2-D arrays of the same shape, found {dem.shape} and {slope_arr.shape}"
        )
    t = _check_transform(transform)
    dem32 = dem.astype(np.float32, copy=False)
    if nodata is not None:
        dem32 = np.where(dem32 == nodata, np.float32(np.nan), dem32)
    slope32 = slope_arr.astype(np.float32, copy=False)
    thresholds = [float(x) for x in thresholds_deg]
    bands = [dem32, slope32]
    nan = np.isnan(slope32)
    for th in thresholds:
        ind = (slope32 > th).astype(np.float32)
        ind[nan] = np.nan
        bands.append(ind)
    acc = _accumulate(geoms, np.ascontiguousarray(np.stack(bands)), t, None, weights)
    out = {
        "elev_mean_m": _finish(acc[:, 0], "mean"),
        "elev_min_m": _finish(acc[:, 0], "min"),
        "elev_max_m": _finish(acc[:, 0], "max"),
        "slope_mean_deg": _finish(acc[:, 1], "mean"),
    }
    for i, th in enumerate(thresholds):
        out[f"slope_gt{_threshold_label(th)}_frac"] = _finish(acc[:, 2 + i], "mean")
    if hazard_polygons is None:
        out["hazard_frac"] = np.full(len(geoms), np.nan)
    else:
        hz = _as_geometry(hazard_polygons, "hazard_polygons", crs)
        out["hazard_frac"] = _area_share(geoms, hz)
    return pd.DataFrame(out, index=index)


def _area_share(geoms: np.ndarray, other: shapely.Geometry) -> np.ndarray:
    """Share of each geometry's area inside ``other`` (NaN for zero area)."""
    area = shapely.area(geoms)
    share = np.zeros(len(geoms))
    if other.is_empty:
        share[area <= 0] = np.nan
        return share
    shapely.prepare(other)
    hit = shapely.intersects(other, geoms) & (area > 0)
    if hit.any():
        inter = shapely.area(shapely.intersection(geoms[hit], other))
        share[hit] = np.minimum(inter / area[hit], 1.0)
    share[area <= 0] = np.nan
    return share


def hazard_zones(hazards: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Hazard polygons, with points buffered by their ``radius_m``; None when there are none."""
    if hazards is None or not len(hazards):
        return None
    g = hazards.copy()
    pts = g.geometry.geom_type.isin(["Point", "MultiPoint"])
    if pts.any():
        g.loc[pts, "geometry"] = g.loc[pts].geometry.buffer(
            g.loc[pts, "radius_m"].astype(float).to_numpy()
        )
    return g


def village_terrain(
    villages: gpd.GeoDataFrame,
    *,
    boundary: gpd.GeoDataFrame,
    z: np.ndarray,
    slope_deg: np.ndarray,
    transform: Affine,
    hazards: gpd.GeoDataFrame | None,
    protected: gpd.GeoDataFrame | None,
    radius_m: float,
) -> pd.DataFrame:
    """Terrain statistics of each village (its polygon, or the Voronoi catchment of its
    point within ``radius_m``), distance to hazard zones and the protected land it lies in.

    Returns
    -------
    DataFrame
        Indexed like ``villages``: :func:`village_terrain_stats` columns plus
        ``hazard_dist_m`` (any kind; inf with no hazards), ``<group>_hazard_dist_m`` and
        ``<group>_hazard_frac`` for each group of :data:`layers.catalogue.HAZARD_GROUPS`
        (geological, flood, seismic; NaN = unknown when there is no hazards layer, inf / 0
        when the layer maps no zone of that group), ``in_protected``, ``protected_kind``.
    """
    is_point = villages.geometry.geom_type.isin(["Point", "MultiPoint"]).all()
    if is_point:
        polys = catchments(
            villages[["village_id", "geometry"]], boundary=boundary, radius_m=radius_m
        )
        polys = polys.set_index(villages.index) if len(polys) == len(villages) else polys
    else:
        polys = villages[["village_id", "geometry"]]
    hz = hazard_zones(hazards)
    stats = village_terrain_stats(polys, z, slope_deg, transform=transform, hazard_polygons=hz)
    stats.index = villages.index
    out = stats.copy()
    geom = villages.geometry
    if hz is not None and len(hz):
        out["hazard_dist_m"] = geom.distance(hz.union_all()).round(1).to_numpy()
    else:
        out["hazard_dist_m"] = np.inf
    # by group: each is its own relocation rule. No hazards layer at all: unknown (NaN);
    # a layer that maps no zone of a group: none known (inf), which the pipeline warns about
    zone_geoms = polys.geometry.to_numpy()
    for group, kinds in HAZARD_GROUPS.items():
        if hazards is None:
            dist = np.full(len(villages), np.nan)
            frac = np.full(len(villages), np.nan)
        else:
            g = hz[hz["kind"].isin(kinds)] if hz is not None and len(hz) else None
            if g is None or not len(g):
                dist = np.full(len(villages), np.inf)
                frac = np.zeros(len(villages))
            else:
                union = g.union_all()
                dist = geom.distance(union).round(1).to_numpy()
                frac = _area_share(zone_geoms, union)
        out[f"{group}_hazard_dist_m"] = dist
        out[f"{group}_hazard_frac"] = np.asarray(frac, dtype=float)
    # no protected-land layer: unknown (the protected-land rule cannot be decided), not "outside"
    out["in_protected"] = pd.array(
        [pd.NA if protected is None else False] * len(villages), dtype="boolean"
    )
    out["protected_kind"] = None
    if protected is not None and len(protected):
        j = gpd.sjoin(
            gpd.GeoDataFrame(geometry=geom.representative_point(), crs=villages.crs),
            protected[["kind", "geometry"]],
            predicate="within",
            how="left",
        )
        j = j[~j.index.duplicated(keep="first")]
        out["in_protected"] = pd.array(j["kind"].notna().to_numpy(), dtype="boolean")
        out["protected_kind"] = j["kind"].where(j["kind"].notna(), None).to_numpy()
    return out
