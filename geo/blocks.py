"""Block-wise raster processing: file in, file out, memory set by the block size.

A county or province DEM may be larger than memory. Every function here reads its
rasters window by window with rasterio and writes tiled, compressed GeoTIFFs, so peak
memory is a few blocks (and, for travel time, the tiles' borders), whatever the size of
the raster:

- :func:`slope_blocks`: slope with a one-cell halo per block (the Horn kernel of
  :mod:`geo.terrain`, identical to the in-memory :func:`geo.terrain.slope`);
- :func:`zonal_blocks`: per-zone count / sum / mean / min / max / stdev accumulated over
  windows with the exact-coverage kernel of :mod:`geo.zonal` (equal to
  :func:`geo.zonal.zonal_stats`);
- :func:`weighted_overlay_blocks`: suitability as the weighted overlay of rescaled factors
  (:func:`geo.suitability.suitability` per window);
- :func:`travel_time_blocks`: cost distance by tiles with halo iterations (below).

Travel time by tiles
    The raster is cut into tiles. Only the values of the cells on the tiles' borders are
    kept in memory: for every tile row its first and last row (full width), for every tile
    column its first and last column (full height) -- O(border cells). One tile at a time
    is searched (a multi-source Dijkstra on the tile plus a one-cell halo, the cost model of
    :func:`geo.access.travel_time`) seeded with the sources it holds (distance 0) and the
    current values of the border cells in its halo and on its own border. Any border value
    the search lowers is stored, and the tiles whose halo holds it are searched again, the
    tile with the least lowered value first (a Dijkstra over tiles: most tiles are searched
    once or twice before their halo is final). The values only decrease and are always lengths of real paths; at the fixed point every
    edge between neighbouring cells is relaxed, so the result is the global shortest path.
    In floating point each cell's value is the minimum, over paths, of the path's running
    sum (rounding is monotone), as in the one-piece search: the result equals
    :func:`geo.access.travel_time` bit for bit. A last pass searches every reached tile
    once more with the final borders and writes its minutes.
"""

from __future__ import annotations

import functools
import heapq
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from rasterio.windows import Window

from geo.access import WALK_FLAT_COST, _dijkstra8
from geo.suitability import suitability
from geo.terrain import slope_file
from geo.zonal import _STATS, _accumulate, _check_polygons, _finish
from layers.budget import check_raster_budget
from layers.errors import CRSError, LayerSchemaError

__all__ = [
    "check_raster_budget",
    "slope_blocks",
    "travel_time_blocks",
    "weighted_overlay_blocks",
    "zonal_blocks",
]

PathLike = str | os.PathLike[str]

#: GDAL's block cache while these functions run, in MB. GDAL's default (5% of the
#: machine's memory) keeps written tiles of the whole output in memory up to that share,
#: which makes peak memory grow with the raster; a fixed cache keeps it flat.
GDAL_CACHE_MB = 128


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _bounded_cache(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with GDAL's block cache bounded to :data:`GDAL_CACHE_MB`."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024):
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- helpers


def _ranges(n: int, block: int) -> list[tuple[int, int]]:
    return [(s, min(s + block, n)) for s in range(0, n, block)]


def _check_block(name: str, block: int) -> int:
    if not isinstance(block, (int, np.integer)) or block < 2:
        raise ValueError(f"{name}: expected a block size of at least 2 cells, found {block!r}")
    return int(block)


def _out_profile(
    src: Any, *, dtype: str = "float32", nodata: float = float("nan"), compress: str = "zstd"
) -> dict[str, Any]:
    """A tiled (256 x 256), compressed single-band GeoTIFF on ``src``'s grid."""
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": src.height,
        "width": src.width,
        "count": 1,
        "dtype": dtype,
        "crs": src.crs,
        "transform": src.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "BIGTIFF": "IF_SAFER",
    }
    if compress and compress.lower() != "none":
        profile["compress"] = compress
        if compress.lower() == "zstd":
            profile["zstd_level"] = 1
    return profile


def _read_float(src: Any, window: Window, band: int = 1) -> np.ndarray:
    """A window as float64 with the band's nodata value turned into NaN."""
    arr = src.read(band, window=window, out_dtype=np.float64)
    nd = src.nodatavals[band - 1]
    if nd is not None and not math.isnan(nd):
        arr[arr == nd] = np.nan
    return arr


def _check_projected(path: PathLike, src: Any) -> tuple[float, float]:
    if src.crs is None or src.crs.is_geographic:
        found = "no CRS" if src.crs is None else f"geographic {src.crs.to_string()}"
        raise CRSError(f"{path}: expected a projected CRS in metres, found {found}")
    t = src.transform
    if t.b != 0 or t.d != 0:
        raise CRSError(
            f"{path}: expected a north-up transform without rotation, found {tuple(t)[:6]}"
        )
    return abs(t.a), abs(t.e)


# --------------------------------------------------------------------------- slope


@_bounded_cache
def slope_blocks(
    dem_path: PathLike,
    out_path: PathLike,
    *,
    block: int = 1024,
    percent: bool = False,
    max_cells: int | None = None,
    compress: str = "zstd",
) -> tuple[int, int]:
    """Slope of a DEM file, block by block with a one-cell halo, to a tiled GeoTIFF.

    The Horn kernel of :mod:`geo.terrain` runs on each padded block
    (:func:`geo.terrain.slope_file`), so the result equals the in-memory
    :func:`geo.terrain.slope` exactly, edges (edge replication) and nodata included.
    Memory is a few blocks of ``block`` x ``block`` cells.

    Parameters
    ----------
    dem_path : path-like
        DEM in a projected CRS (metres); its nodata value is nodata.
    out_path : path-like
        Output float32 GeoTIFF (tiled 256, ZSTD); nodata -9999.
    block : int, default 1024
        Block edge in cells.
    percent : bool, default False
        Slope in percent instead of degrees.
    max_cells : int, optional
        Refuse a DEM with more cells (see :func:`layers.budget.check_raster_budget`).
    compress : str, default "zstd"
        GeoTIFF compression.

    Returns
    -------
    (height, width) : tuple of int

    Raises
    ------
    LayerSchemaError
        If the DEM is unreadable, above ``max_cells``, or its slope (4 bytes a cell,
        uncompressed) would not fit on the output's disk.
    CRSError
        If the DEM is not in a projected CRS.
    """
    block = _check_block("block", block)
    out_dir = Path(out_path).resolve().parent
    with rasterio.open(dem_path) as src:
        need = int(src.height) * int(src.width) * 4
    h, w = check_raster_budget(
        dem_path, max_cells=max_cells, free_disk_bytes_needed=need, out_dir=out_dir
    )
    slope_file(str(dem_path), str(out_path), block=block, percent=percent, compress=compress)
    return h, w


# --------------------------------------------------------------------------- zonal statistics


def _windows(h: int, w: int, block: int) -> Iterator[tuple[int, int, int, int]]:
    for r0, r1 in _ranges(h, block):
        for c0, c1 in _ranges(w, block):
            yield r0, r1, c0, c1


@_bounded_cache
def zonal_blocks(
    raster_path: PathLike,
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    stats: Sequence[str] = ("count", "sum", "mean", "min", "max"),
    block: int = 1024,
    band: int = 1,
    weights: str = "coverage",
) -> pd.DataFrame:
    """Zonal statistics of a raster file, accumulated window by window.

    Each window runs the exact-coverage kernel of :mod:`geo.zonal` on the zones that
    touch it (the kernel clips a polygon to the window and carries the coverage of the
    rows above it), and the per-window sums of weights, of weighted values and of
    weighted squares, and the minima and maxima are combined. The result equals
    :func:`geo.zonal.zonal_stats` on the whole raster (to float rounding of the sums).

    Parameters
    ----------
    raster_path : path-like
        Raster file; NaN and its nodata value are ignored.
    zones : GeoDataFrame or GeoSeries
        Polygons in the raster's CRS (may overlap).
    stats : sequence of str
        Any of ``count``, ``sum``, ``mean``, ``min``, ``max``, ``stdev``
        (see :func:`geo.zonal.zonal_stats`).
    block : int, default 1024
        Window edge in cells.
    band : int, default 1
        Raster band.
    weights : {"coverage", "centre"}, default "coverage"
        Pixel weighting.

    Returns
    -------
    pandas.DataFrame
        One row per zone (indexed like ``zones``), one column per stat.

    Raises
    ------
    LayerSchemaError
        If a geometry is not a polygon.
    CRSError
        If the zones' CRS differs from the raster's, or the raster is rotated.
    ValueError
        For an unknown stat or weighting.
    """
    block = _check_block("block", block)
    unknown = [s for s in stats if s not in _STATS]
    if unknown:
        raise ValueError(f"stats: expected any of {_STATS}, found unknown {unknown}")
    geoms, index = _check_polygons(zones, "zones")
    acc = np.zeros((len(geoms), 5))
    acc[:, 2] = np.inf
    acc[:, 3] = -np.inf
    with rasterio.open(raster_path) as src:
        if zones.crs is not None and src.crs is not None and not zones.crs.equals(src.crs):
            raise CRSError(
                f"zones: expected the CRS of {raster_path} ({src.crs.to_string()}), found "
                f"{zones.crs.to_string()}; reproject them first"
            )
        t: Affine = src.transform
        if t.b != 0 or t.d != 0:
            raise CRSError(f"{raster_path}: expected a north-up transform, found {tuple(t)[:6]}")
        # zone extents in pixel space, to hand each window only the zones that touch it
        b = shapely.bounds(geoms)
        u = np.sort(np.stack([(b[:, 0] - t.c) / t.a, (b[:, 2] - t.c) / t.a]), axis=0)
        v = np.sort(np.stack([(b[:, 1] - t.f) / t.e, (b[:, 3] - t.f) / t.e]), axis=0)
        live = ~(shapely.is_empty(geoms) | np.isnan(b).any(axis=1))
        for r0, r1, c0, c1 in _windows(src.height, src.width, block):
            sel = np.flatnonzero(live & (u[1] > c0) & (u[0] < c1) & (v[1] > r0) & (v[0] < r1))
            if not sel.size:
                continue
            arr = _read_float(src, Window(c0, r0, c1 - c0, r1 - r0), band)
            res = _accumulate(geoms[sel], arr[None], t @ Affine.translation(c0, r0), None, weights)
            part = res[:, 0]
            acc[sel, 0] += part[:, 0]
            acc[sel, 1] += part[:, 1]
            acc[sel, 4] += part[:, 4]
            acc[sel, 2] = np.minimum(acc[sel, 2], part[:, 2])
            acc[sel, 3] = np.maximum(acc[sel, 3], part[:, 3])
    return pd.DataFrame({s: _finish(acc, s) for s in stats}, index=index)


# --------------------------------------------------------------------------- weighted overlay


@_bounded_cache
def weighted_overlay_blocks(
    paths: Mapping[str, PathLike],
    weights: Mapping[str, float],
    ranges: Mapping[str, tuple[float | None, float | None] | None],
    out_path: PathLike,
    *,
    directions: Mapping[str, str] | None = None,
    block: int = 1024,
    compress: str = "zstd",
) -> dict[str, tuple[float, float]]:
    """Suitability (weighted overlay of rescaled factors) of factor rasters, window by window.

    Each window is scored by :func:`geo.suitability.suitability`, so the result equals the
    in-memory overlay. A missing range (None or ``(None, None)``) is the factor's finite
    minimum and maximum over the whole raster, found in a first block-wise pass.

    Parameters
    ----------
    paths : mapping of name to path-like
        Factor rasters on one grid (same size, transform and CRS).
    weights : mapping of name to float
        Non-negative weights (renormalised to sum 1).
    ranges : mapping of name to (lo, hi) or None
        Scaling range per factor (see :func:`geo.suitability.rescale`).
    out_path : path-like
        Output float32 GeoTIFF, NaN where any factor is NaN (nodata NaN).
    directions : mapping of name to {"benefit", "cost"}, optional
        Default "benefit" for every factor.
    block : int, default 1024
        Window edge in cells.
    compress : str, default "zstd"
        GeoTIFF compression.

    Returns
    -------
    dict
        The range used for each factor.

    Raises
    ------
    LayerSchemaError
        If the rasters are not on one grid, or no factor is given.
    PolicyError
        For bad weights, directions or ranges (as :func:`geo.suitability.suitability`).
    """
    block = _check_block("block", block)
    names = list(paths)
    if not names:
        raise LayerSchemaError("weighted_overlay_blocks: expected at least one factor, found none")
    dirs = dict(directions) if directions is not None else {k: "benefit" for k in names}
    srcs = {k: rasterio.open(paths[k]) for k in names}
    try:
        first = srcs[names[0]]
        for k in names[1:]:
            s = srcs[k]
            if (s.height, s.width) != (first.height, first.width) or s.transform != first.transform:
                raise LayerSchemaError(
                    f"{paths[k]}: expected the grid of {paths[names[0]]} "
                    f"({first.width} x {first.height}, {tuple(first.transform)[:6]}), found "
                    f"{s.width} x {s.height}, {tuple(s.transform)[:6]}"
                )
            if s.crs != first.crs:
                raise CRSError(f"{paths[k]}: expected CRS {first.crs}, found {s.crs}")
        h, w = first.height, first.width
        used: dict[str, tuple[float, float]] = {}
        for k in names:
            rng = ranges.get(k) or (None, None)
            lo, hi = rng
            if lo is None or hi is None:
                mn, mx = np.inf, -np.inf
                for r0, r1, c0, c1 in _windows(h, w, block):
                    a = _read_float(srcs[k], Window(c0, r0, c1 - c0, r1 - r0))
                    fin = a[np.isfinite(a)]
                    if fin.size:
                        mn, mx = min(mn, float(fin.min())), max(mx, float(fin.max()))
                if not math.isfinite(mn):
                    mn, mx = 0.0, 1.0  # as rescale() on an all-NaN factor
                lo = mn if lo is None else lo
                hi = mx if hi is None else hi
            used[k] = (float(lo), float(hi))
        with rasterio.open(out_path, "w", **_out_profile(first, compress=compress)) as dst:
            for r0, r1, c0, c1 in _windows(h, w, block):
                win = Window(c0, r0, c1 - c0, r1 - r0)
                factors = {k: _read_float(srcs[k], win) for k in names}
                score = suitability(factors, weights=weights, directions=dirs, ranges=used)
                dst.write(score, 1, window=win)
    finally:
        for s in srcs.values():
            s.close()
    return used


# --------------------------------------------------------------------------- travel time


def _dijkstra8_seeded(
    cost: np.ndarray, init: np.ndarray, nrows: int, ncols: int, dx: float, dy: float
) -> np.ndarray:
    """Multi-source 8-neighbour Dijkstra where each seed starts at its own distance.

    ``cost`` (flat, minutes per metre, inf = barrier) and ``init`` (flat, the starting
    distance of each cell, inf = not a seed) cover an ``nrows`` x ``ncols`` grid; the
    search is :func:`geo.access._dijkstra8` (the same move costs and float operations).
    Returns the flat distances (inf where unreached).
    """
    seeds = np.flatnonzero(init < np.inf).astype(np.int32)
    dist, _ = _dijkstra8(
        cost,
        seeds,
        np.zeros(seeds.shape[0], dtype=np.int32),
        nrows,
        ncols,
        float(dx),
        float(dy),
        np.asarray(init, dtype=np.float64)[seeds],
    )
    return dist


def _source_cells(
    sources: gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray, src: Any, path: PathLike
) -> np.ndarray:
    """Source cells as an (n, 2) int64 array of (row, col) inside the raster, unique."""
    if isinstance(sources, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if sources.crs is not None and src.crs is not None and not sources.crs.equals(src.crs):
            raise CRSError(
                f"sources: expected the CRS of {path} ({src.crs.to_string()}), found "
                f"{sources.crs.to_string()}; reproject them first"
            )
        geoms = np.asarray(
            sources.geometry.values if isinstance(sources, gpd.GeoDataFrame) else sources.values
        )
        geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        types = shapely.get_type_id(geoms)
        if not np.isin(types, (shapely.GeometryType.POINT, shapely.GeometryType.MULTIPOINT)).all():
            raise LayerSchemaError("sources: expected Point geometries (destinations as points)")
        xy = shapely.get_coordinates(geoms)
        t = src.transform
        col = np.floor((xy[:, 0] - t.c) / t.a).astype(np.int64)
        row = np.floor((xy[:, 1] - t.f) / t.e).astype(np.int64)
        rc = np.stack([row, col], axis=1)
    else:
        rc = np.asarray(sources)
        if rc.ndim != 2 or rc.shape[1] != 2 or not np.issubdtype(rc.dtype, np.integer):
            raise LayerSchemaError(
                f"sources: expected points or an (n, 2) integer array of (row, col), found "
                f"shape {rc.shape} dtype {rc.dtype}"
            )
        rc = rc.astype(np.int64)
    inside = (rc[:, 0] >= 0) & (rc[:, 0] < src.height) & (rc[:, 1] >= 0) & (rc[:, 1] < src.width)
    return np.unique(rc[inside], axis=0)


class _Borders:
    """The values of the cells on the tiles' borders: O(border cells) of memory.

    ``rows[k, 0]`` / ``rows[k, 1]`` hold the first / last row of tile row ``k`` over the
    full width; ``cols[k, 0]`` / ``cols[k, 1]`` the first / last column of tile column
    ``k`` over the full height. A cell on both a border row and a border column is held
    twice, always written to both.
    """

    def __init__(self, rr: list[tuple[int, int]], cr: list[tuple[int, int]], h: int, w: int):
        self.rr, self.cr = rr, cr
        self.rows = np.full((len(rr), 2, w), np.inf)
        self.cols = np.full((len(cr), 2, h), np.inf)

    def _lines(
        self, ranges: list[tuple[int, int]], k: int, lo: int, hi: int
    ) -> list[tuple[int, int, int]]:
        """(tile index, slot, line) of the border lines of tiles k-1..k+1 within [lo, hi)."""
        out = []
        for q in (k - 1, k, k + 1):
            if 0 <= q < len(ranges):
                a, b = ranges[q]
                for slot, line in ((0, a), (1, b - 1)):
                    if lo <= line < hi:
                        out.append((q, slot, line))
        return out

    def get(self, ti: int, tj: int, pr: tuple[int, int], pc: tuple[int, int]) -> np.ndarray:
        """Border values inside the window rows ``pr`` x cols ``pc`` (inf elsewhere)."""
        vals = np.full((pr[1] - pr[0], pc[1] - pc[0]), np.inf)
        for q, slot, r in self._lines(self.rr, ti, *pr):
            np.minimum(vals[r - pr[0]], self.rows[q, slot, pc[0] : pc[1]], out=vals[r - pr[0]])
        for q, slot, c in self._lines(self.cr, tj, *pc):
            col = vals[:, c - pc[0]]
            vals[:, c - pc[0]] = np.minimum(col, self.cols[q, slot, pr[0] : pr[1]])
        return vals

    def put(
        self, ti: int, tj: int, pr: tuple[int, int], pc: tuple[int, int], dist: np.ndarray
    ) -> np.ndarray:
        """Lower the border values in the window to ``dist`` where smaller; return the mask
        of window cells whose stored value was lowered."""
        changed = np.zeros(dist.shape, dtype=bool)
        for q, slot, r in self._lines(self.rr, ti, *pr):
            old = self.rows[q, slot, pc[0] : pc[1]]
            new = dist[r - pr[0]]
            lower = new < old
            if lower.any():
                old[lower] = new[lower]
                changed[r - pr[0]] |= lower
        for q, slot, c in self._lines(self.cr, tj, *pc):
            old = self.cols[q, slot, pr[0] : pr[1]]
            new = dist[:, c - pc[0]]
            lower = new < old
            if lower.any():
                old[lower] = new[lower]
                changed[:, c - pc[0]] |= lower
        return changed


@_bounded_cache
def travel_time_blocks(
    speed_path: PathLike,
    sources: gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray,
    out_path: PathLike,
    *,
    tile: int = 1024,
    dtype: str = "float32",
    compress: str = "zstd",
    schedule: str = "priority",
    max_sweeps: int = 1000,
    max_cells: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Minutes to the nearest source for every cell of a speed raster, tile by tile.

    The cost model, the barrier rules and the opening of sources stranded on barriers are
    those of :func:`geo.access.travel_time`, and the result equals it (see the module
    docstring for the halo iterations). Memory: the tiles' border values (8 bytes x about
    ``4 * cells / tile``) plus one tile's search (about 60 bytes a cell).

    Parameters
    ----------
    speed_path : path-like
        Speed in km/h (0, negative, NaN or nodata = barrier), projected CRS in metres.
    sources : GeoDataFrame or GeoSeries of points, or (n, 2) integer array
        Destinations: points in the raster's CRS (each counts in the cell it falls in;
        points off the raster are ignored) or (row, col) cells.
    out_path : path-like
        Output GeoTIFF of minutes (tiled 256, compressed); NaN (the nodata) where unreachable.
    tile : int, default 1024
        Tile edge in cells.
    dtype : {"float32", "float64"}, default "float32"
        Output type (float64 keeps the search's values bit for bit).
    compress : str, default "zstd"
        GeoTIFF compression.
    schedule : {"priority", "sweep"}, default "priority"
        Which dirty tile is searched next: the one with the least changed border value
        (fewest searches), or alternating raster-order sweeps. Both give the same result.
    max_sweeps : int, default 1000
        Safety bound: at most ``max_sweeps`` searches per tile on average.
    max_cells : int, optional
        Refuse a raster with more cells (:func:`layers.budget.check_raster_budget`).
    progress : callable, optional
        Called with one line per sweep.

    Returns
    -------
    dict
        ``tiles`` (number of tiles), ``tile_searches`` (searches while converging, the
        final writing pass not counted), ``sweeps`` (0 for the priority schedule),
        ``schedule``, ``sources`` (source cells used), ``seconds``.

    Raises
    ------
    LayerSchemaError
        For bad sources, a raster above ``max_cells`` or an output that would not fit on
        the disk, or no convergence within ``max_sweeps``.
    CRSError
        If the raster is not projected or the sources' CRS differs.
    """
    t0 = time.perf_counter()
    tile = _check_block("tile", tile)
    if schedule not in ("priority", "sweep"):
        raise ValueError(f"schedule: expected 'priority' or 'sweep', found {schedule!r}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype: expected 'float32' or 'float64', found {dtype!r}")
    with rasterio.open(speed_path) as src:
        need = int(src.height) * int(src.width) * np.dtype(dtype).itemsize
    check_raster_budget(
        speed_path,
        max_cells=max_cells,
        free_disk_bytes_needed=need,
        out_dir=Path(out_path).resolve().parent,
    )
    walk_cost = WALK_FLAT_COST
    with rasterio.open(speed_path) as src:
        dx, dy = _check_projected(speed_path, src)
        h, w = int(src.height), int(src.width)
        seeds = _source_cells(sources, src, speed_path)
        rr, cr = _ranges(h, tile), _ranges(w, tile)
        ntr, ntc = len(rr), len(cr)
        borders = _Borders(rr, cr, h, w)

        def pad(ti: int, tj: int, m: int) -> tuple[tuple[int, int], tuple[int, int]]:
            (a, b), (c, d) = rr[ti], cr[tj]
            return (max(a - m, 0), min(b + m, h)), (max(c - m, 0), min(d + m, w))

        def search(ti: int, tj: int) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
            """Distances on the tile plus a one-cell halo, from its seeds."""
            pr, pc = pad(ti, tj, 1)
            qr, qc = pad(ti, tj, 2)  # two cells: the halo's own neighbours, for stranded sources
            speed = _read_float(src, Window(qc[0], qr[0], qc[1] - qc[0], qr[1] - qr[0]))
            with np.errstate(divide="ignore", invalid="ignore"):
                cost = 60.0 / (1000.0 * speed)
            cost[~(speed > 0)] = np.inf
            init = borders.get(ti, tj, pr, pc)
            inwin = (
                (seeds[:, 0] >= pr[0])
                & (seeds[:, 0] < pr[1])
                & (seeds[:, 1] >= pc[0])
                & (seeds[:, 1] < pc[1])
            )
            sr, sc = seeds[inwin, 0], seeds[inwin, 1]
            init[sr - pr[0], sc - pc[0]] = 0.0
            # sources on barriers take their cheapest neighbour's cost (geo.access)
            orig = cost.copy()
            for r, c in zip(sr - qr[0], sc - qc[0], strict=True):
                if np.isinf(orig[r, c]):
                    nb = orig[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
                    fin = nb[np.isfinite(nb)]
                    cost[r, c] = fin.min() if fin.size else walk_cost
            cost = np.ascontiguousarray(
                cost[pr[0] - qr[0] : pr[1] - qr[0], pc[0] - qc[0] : pc[1] - qc[0]]
            )
            ph, pw = cost.shape
            dist = _dijkstra8_seeded(cost.ravel(), init.ravel(), ph, pw, dx, dy)
            return dist.reshape(ph, pw), pr, pc

        dirty = np.zeros((ntr, ntc), dtype=bool)
        # the least border value that made each dirty tile dirty (the priority schedule)
        key = np.full((ntr, ntc), np.inf)
        heap: list[tuple[float, int, int]] = []
        if len(seeds):
            si = np.minimum(seeds[:, 0] // tile, ntr - 1)
            sj = np.minimum(seeds[:, 1] // tile, ntc - 1)
            dirty[si, sj] = True
            key[si, sj] = 0.0
            heap = [(0.0, int(i), int(j)) for i, j in zip(*np.nonzero(dirty), strict=True)]
        reached = dirty.copy()
        sweeps = searches = 0
        limit = max_sweeps * ntr * ntc

        def visit(ti: int, tj: int) -> None:
            """Search a tile, store its border values, mark the tiles whose halo changed."""
            nonlocal searches
            if searches >= limit:
                raise LayerSchemaError(
                    f"{speed_path}: travel time did not converge in {searches} searches of "
                    f"{ntr * ntc} tiles; use larger tiles (--tile)"
                )
            dirty[ti, tj] = False
            key[ti, tj] = np.inf
            dist, pr, pc = search(ti, tj)
            searches += 1
            changed = borders.put(ti, tj, pr, pc, dist)
            if not changed.any():
                return
            rows, cols = np.nonzero(changed)
            vals = dist[rows, cols]
            rows += pr[0]
            cols += pc[0]
            for ni in range(max(ti - 1, 0), min(ti + 2, ntr)):
                for nj in range(max(tj - 1, 0), min(tj + 2, ntc)):
                    if (ni, nj) == (ti, tj):
                        continue
                    (a, b), (c, d) = pad(ni, nj, 1)
                    inside = (rows >= a) & (rows < b) & (cols >= c) & (cols < d)
                    if not inside.any():
                        continue
                    dirty[ni, nj] = reached[ni, nj] = True
                    low = float(vals[inside].min())
                    if low < key[ni, nj]:
                        key[ni, nj] = low
                        heapq.heappush(heap, (low, ni, nj))

        if schedule == "priority":
            # tiles in the order of the least border value that changed in them: like
            # Dijkstra over tiles, a tile is mostly searched once its halo is nearly final
            while heap:
                low, ti, tj = heapq.heappop(heap)
                if dirty[ti, tj] and low <= key[ti, tj]:
                    visit(ti, tj)
                    if progress is not None and searches % (ntr * ntc) == 0:
                        progress(f"{searches} tile searches, {int(dirty.sum())} to redo")
        else:
            # alternating raster-order sweeps over the dirty tiles
            order = [(i, j) for i in range(ntr) for j in range(ntc)]
            while dirty.any():
                for ti, tj in order if sweeps % 2 == 0 else order[::-1]:
                    if dirty[ti, tj]:
                        visit(ti, tj)
                sweeps += 1
                if progress is not None:
                    progress(
                        f"sweep {sweeps}: {searches} tile searches, {int(dirty.sum())} to redo"
                    )
        with rasterio.open(
            out_path, "w", **_out_profile(src, dtype=dtype, compress=compress)
        ) as dst:
            for ti, (a, b) in enumerate(rr):
                for tj, (c, d) in enumerate(cr):
                    win = Window(c, a, d - c, b - a)
                    if not reached[ti, tj]:
                        dst.write(np.full((b - a, d - c), np.nan, dtype=dtype), 1, window=win)
                        continue
                    dist, pr, pc = search(ti, tj)
                    core = dist[a - pr[0] : b - pr[0], c - pc[0] : d - pc[0]]
                    out = core.astype(dtype)
                    out[np.isinf(core)] = np.nan
                    dst.write(out, 1, window=win)
    return {
        "tiles": ntr * ntc,
        "tile_searches": searches,
        "sweeps": sweeps,
        "schedule": schedule,
        "sources": len(seeds),
        "seconds": round(time.perf_counter() - t0, 3),
    }
