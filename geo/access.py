"""Speed surfaces and travel time over terrain (AccessMod-style cost distance).

The analysis grid is the DEM grid. A speed surface gives, per cell, the speed in
km/h at which a person crosses it: along roads the road speed (by class and
surface), elsewhere walking speed from slope (Tobler's hiking function), and 0
on barriers (water bodies, cliffs). :func:`travel_time` turns it into minutes to
the nearest source (clinic, school, town...) with an 8-neighbour Dijkstra that
reproduces :class:`skimage.graph.MCP_Geometric` exactly but runs several times
faster: numba kernels with Dinitz's bucket queue (buckets as wide as the
lightest move, so a whole bucket is final at once; O(1) queue operations) and an
indexed 4-ary heap as fallback when speeds span too wide a range; memory is
bounded by the grid size.

Cost model (identical to ``MCP_Geometric``): the cost of a cell is minutes per
metre, ``c = 60 / (1000 * speed_kmh)``; a move between neighbouring cells ``a``
and ``b`` costs ``d * (c_a + c_b) / 2`` where ``d`` is the centre-to-centre
distance in metres (``dx``, ``dy`` or ``hypot(dx, dy)`` for a diagonal).
Diagonal moves may cut the corner between two barrier cells, as in
``MCP_Geometric``.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from numba import njit
from rasterio.features import geometry_mask, rasterize
from rasterio.warp import Resampling, reproject

from geo.threads import kernel_threads, thread_map
from layers.errors import LayerSchemaError, PolicyError
from layers.grid import Grid, cells
from layers.tristate import parse_tristate

__all__ = [
    "WALK_FLAT_COST",
    "WALK_FLAT_KMH",
    "kernel_threads",
    "thread_map",
    "resample_to_grid",
    "rasterize_roads",
    "road_speed_kmh",
    "sample_at_points",
    "source_ids_from_points",
    "speed_surface",
    "tobler_kmh",
    "travel_time",
    "travel_time_anisotropic",
    "travel_time_anisotropic_with_nearest",
    "travel_time_with_nearest",
    "within",
    "destinations",
    "water_bodies",
    "river_barriers",
    "county_speed_surface",
    "travel_times",
    "sample_travel_times",
    "TravelTimes",
]


def tobler_kmh(slope_rise_over_run: np.ndarray | float) -> np.ndarray | float:
    """Walking speed from slope by Tobler's hiking function.

    ``v = 6 * exp(-3.5 * |s + 0.05|)`` km/h with ``s`` the slope as rise over
    run (signed: negative downhill). About 5.04 km/h on the flat, the maximum
    6 km/h on a gentle 5 % descent.

    Parameters
    ----------
    slope_rise_over_run : array_like or float
        Slope as rise/run (``tan`` of the slope angle), not degrees.

    Returns
    -------
    numpy.ndarray or float
        Speed in km/h, same shape as the input. NaN stays NaN.
    """
    v = np.array(slope_rise_over_run, dtype=np.float64)  # a copy: computed in place below
    _tobler_in_place(v)
    return float(v) if v.ndim == 0 else v


def _tobler_in_place(s: np.ndarray) -> None:
    """``s`` (float64 rise over run) becomes Tobler's speed, with the same operations in the
    same order as ``6 * exp(-3.5 * |s + 0.05|)`` and so the same values, but without the
    four grid-sized temporaries (at 16 M cells each is a fresh 128 MB mapping the OS must
    fault in and zero)."""
    s += 0.05
    np.abs(s, out=s)
    s *= -3.5
    np.exp(s, out=s)
    s *= 6.0


#: Walking speed on flat ground, km/h (Tobler at slope 0).
WALK_FLAT_KMH: float = float(tobler_kmh(0.0))
#: Minutes per metre at :data:`WALK_FLAT_KMH` (a source walled in by barriers starts at it).
WALK_FLAT_COST = 60.0 / (1000.0 * WALK_FLAT_KMH)


def speed_surface(
    *,
    slope_deg: np.ndarray,
    road_raster_speed: np.ndarray | None = None,
    barriers: np.ndarray | None = None,
    walk_factor: float = 1.0,
    cliff_slope_deg: float | None = None,
) -> np.ndarray:
    """Speed in km/h of every cell: roads, walking off road, barriers.

    Off road the speed is Tobler's function of the cell's *absolute* slope
    (``s = tan(slope_deg)``, isotropic: a cell costs the same uphill and
    downhill, the uphill value is used; an anisotropic, direction-aware cost is a
    possible improvement) times ``walk_factor`` (e.g. 0.6 for dense forest).
    Cells steeper than ``cliff_slope_deg`` and cells in ``barriers`` get speed 0.
    Road cells (``road_raster_speed > 0``) take ``max(off-road, road)`` and
    are never barriers: roads cross rivers on bridges and cliffs in cuttings.

    Parameters
    ----------
    slope_deg : numpy.ndarray
        Slope in degrees on the analysis grid; NaN (no data) gives NaN speed,
        which :func:`travel_time` treats as a barrier.
    road_raster_speed : numpy.ndarray, optional
        Road speed per cell in km/h, 0 or NaN off road (see :func:`rasterize_roads`).
    barriers : numpy.ndarray of bool, optional
        True where the cell cannot be crossed on foot (water bodies...).
    walk_factor : float, default 1.0
        Multiplier on walking speed (land cover friction), must be > 0.
    cliff_slope_deg : float, optional
        Slope above which a cell is impassable on foot; None disables.

    Returns
    -------
    numpy.ndarray
        float64 speed in km/h, same shape as ``slope_deg``.

    Raises
    ------
    layers.errors.LayerSchemaError
        If ``barriers`` or ``road_raster_speed`` do not have the grid's shape.
    layers.errors.PolicyError
        If ``walk_factor`` is not positive.
    """
    if not walk_factor > 0:
        raise PolicyError(f"speed_surface: walk_factor must be > 0, found {walk_factor!r}")
    # one grid-sized array, worked in place: |slope| -> radians -> tan -> Tobler (the
    # values of tobler_kmh(tan(deg2rad(|slope|))) * walk_factor, bit for bit); a float32
    # slope is widened into it, a float64 one copied
    speed = np.array(slope_deg, dtype=np.float64)
    np.abs(speed, out=speed)
    steep = speed > cliff_slope_deg if cliff_slope_deg is not None else None
    np.deg2rad(speed, out=speed)
    np.tan(speed, out=speed)
    _tobler_in_place(speed)
    speed *= float(walk_factor)
    if steep is not None:
        speed[steep] = 0.0
    if barriers is not None:
        b = np.asarray(barriers, dtype=bool)
        _check_shape("speed_surface: barriers", b.shape, speed.shape)
        speed[b] = 0.0
    if road_raster_speed is not None:
        road = np.asarray(road_raster_speed, dtype=np.float64)
        _check_shape("speed_surface: road_raster_speed", road.shape, speed.shape)
        np.fmax(speed, road, out=speed, where=road > 0)  # NaN compares False: off road
    return speed


def road_speed_kmh(
    road_class: str,
    hardened: object,
    *,
    speed_by_class_surface: Mapping[tuple[str, str], float],
) -> float:
    """Speed of one road from its class and hardened flag (True/False/None/NA).

    Raises
    ------
    layers.errors.LayerSchemaError
        If the speed table has no entry at all for ``road_class`` (a class the
        table does not know: a value problem of the roads layer).
    layers.errors.PolicyError
        If the table knows ``road_class`` but not its surface state (a gap in
        the table).
    """
    state = _surface_state(hardened)
    key = (str(road_class), state)
    if key not in speed_by_class_surface:
        known = sorted({str(c) for c, _ in speed_by_class_surface})
        if key[0] not in known:
            raise LayerSchemaError(
                f"road_class {road_class!r} has no speed: expected one of the road speed "
                f"table's classes {known}"
            )
        states = sorted(str(st) for c, st in speed_by_class_surface if str(c) == key[0])
        raise PolicyError(
            f"road speed table has no entry for ({key[0]!r}, {state!r}): expected a speed for "
            f"every surface state of road_class {key[0]!r}, found only {states}"
        )
    return float(speed_by_class_surface[key])


def rasterize_roads(
    roads_gdf: gpd.GeoDataFrame,
    *,
    shape: tuple[int, int],
    transform: Affine,
    speed_by_class_surface: Mapping[tuple[str, str], float],
) -> np.ndarray:
    """Burn each road's speed (km/h) into a grid; 0 off road.

    Every cell a road touches is burned (``all_touched=True``) so a road is
    never broken by a diagonal step; where roads overlap the cell keeps the
    fastest speed (roads are burned slowest first).

    Parameters
    ----------
    roads_gdf : geopandas.GeoDataFrame
        Lines in the grid's CRS with columns ``road_class`` and ``hardened``
        (True / False / None or <NA> = unknown).
    shape : tuple of int
        (rows, cols) of the grid.
    transform : affine.Affine
        Grid transform.
    speed_by_class_surface : mapping
        From the profile's ``[access.road_speeds_kmh]`` (:attr:`layers.settings.AccessSettings.road_speed_table`).
        ``(road_class, "hardened"|"unhardened"|"unknown") -> km/h``.

    Returns
    -------
    numpy.ndarray
        float64 speeds, 0 where there is no road.

    Raises
    ------
    layers.errors.LayerSchemaError
        If ``road_class`` or ``hardened`` columns are missing, or a road's class
        is not in the speed table (every such road is reported at once).
    layers.errors.PolicyError
        If the table knows a road's class but not its surface state.
    """

    out = np.zeros(shape, dtype=np.float64)
    if len(roads_gdf) == 0:
        return out
    missing = [col for col in ("road_class", "hardened") if col not in roads_gdf.columns]
    if missing:
        raise LayerSchemaError(
            f"rasterize_roads: roads must have columns {missing} to rasterize speeds; "
            f"found {list(roads_gdf.columns)}"
        )
    speeds = np.empty(len(roads_gdf))
    problems: dict[str, int] = {}  # message -> number of roads
    layer_problem = False
    for k, (c, h) in enumerate(zip(roads_gdf["road_class"], roads_gdf["hardened"], strict=True)):
        try:
            speeds[k] = road_speed_kmh(c, h, speed_by_class_surface=speed_by_class_surface)
        except (LayerSchemaError, PolicyError) as exc:
            problems[str(exc)] = problems.get(str(exc), 0) + 1
            layer_problem = layer_problem or isinstance(exc, LayerSchemaError)
    if problems:
        error = LayerSchemaError if layer_problem else PolicyError
        raise error(
            f"rasterize_roads: {sum(problems.values())} road(s) cannot be given a speed: "
            + "; ".join(f"{msg} ({n} road(s))" for msg, n in problems.items())
        )
    order = np.argsort(speeds, kind="stable")
    geoms = roads_gdf.geometry.to_numpy()
    shapes = [
        (geoms[i], speeds[i]) for i in order if geoms[i] is not None and not geoms[i].is_empty
    ]
    if not shapes:
        return out
    return rasterize(
        shapes, out_shape=shape, transform=transform, fill=0.0, all_touched=True, dtype="float64"
    )


# --------------------------------------------------------------------------- travel time


def travel_time(
    speed_kmh: np.ndarray, sources: np.ndarray, *, cellsize: float | tuple[float, float]
) -> np.ndarray:
    """Minutes to the nearest source for every cell (8-neighbour cost distance).

    Equals ``skimage.graph.MCP_Geometric(60 / (1000 * speed), fully_connected=True,
    sampling=(dy, dx)).find_costs(sources)`` (to float rounding) but is several
    times faster and needs about 50 bytes per cell (see the module docstring
    for the kernels).

    Cells whose speed is 0, negative or NaN are barriers: never entered, NaN in
    the result. Cells that cannot be reached are NaN (never 0). Sources are 0.

    A source on a barrier (a clinic digitised a few metres inside a river
    polygon) is still a valid start: its own speed is replaced by the fastest
    passable neighbour's speed, or by flat walking speed (:data:`WALK_FLAT_KMH`)
    if every neighbour is a barrier too. This is where the result can differ
    from ``MCP_Geometric``, which would leave such a source stranded. (One
    consequence: making such a source cell passable but slower than its fastest
    neighbour, e.g. burning a slow road onto it, can lengthen times slightly;
    for sources on passable cells more speed never lengthens a trip.)

    Parameters
    ----------
    speed_kmh : numpy.ndarray
        2-D speeds in km/h.
    sources : numpy.ndarray of bool
        2-D mask, True at source cells.
    cellsize : float or (float, float)
        Cell size in metres; a pair is ``(dx, dy)`` (column width, row height).

    Returns
    -------
    numpy.ndarray
        float64 minutes, NaN where unreachable.

    Raises
    ------
    layers.errors.LayerSchemaError
        On shape mismatch, a non-2-D grid or a non-positive cell size.
    """
    src = np.asarray(sources, dtype=bool)
    _check_shape("travel_time: sources", src.shape, np.shape(speed_kmh))
    ids = np.where(src, 0, -1).astype(np.int32)
    minutes, _ = travel_time_with_nearest(speed_kmh, ids, cellsize=cellsize)
    return minutes


def travel_time_with_nearest(
    speed_kmh: np.ndarray,
    source_ids: np.ndarray,
    *,
    cellsize: float | tuple[float, float],
    work: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minutes to the nearest source and that source's label, for every cell.

    Same cost model and barrier rules as :func:`travel_time`.

    Parameters
    ----------
    speed_kmh : numpy.ndarray
        2-D speeds in km/h.
    source_ids : numpy.ndarray of int
        2-D labels: -1 (or any negative) where the cell is not a source, else the
        destination's integer label (several cells may share one label, e.g. a
        rasterized town polygon).
    cellsize : float or (float, float)
        Cell size in metres; a pair is ``(dx, dy)``.

    Returns
    -------
    minutes : numpy.ndarray
        float64, NaN where unreachable.
    nearest : numpy.ndarray
        int32 label of the nearest source, -1 where unreachable. Ties between
        equally near sources go to whichever the search reached the cell from first.

    Raises
    ------
    layers.errors.LayerSchemaError
        On shape mismatch, a non-2-D grid, non-integer ``source_ids``, a
        non-positive cell size or a grid too large to index.
    """
    prep = _prepared(speed_kmh, source_ids, cellsize, "travel_time")
    dist, label = _shortest(*prep, work=work)
    dist[np.isinf(dist)] = np.nan
    return dist, np.ascontiguousarray(label)


def travel_time_at(
    speed_kmh: np.ndarray,
    sources: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    cellsize: float | tuple[float, float],
) -> np.ndarray:
    """Minutes from the nearest source to each cell ``(rows[k], cols[k])``.

    The same values as ``travel_time(speed_kmh, sources, cellsize=cellsize)[rows, cols]``
    (NaN where unreachable), but the search stops as soon as every one of those cells is
    settled, instead of covering the whole grid: the cost matrix between villages and
    sites needs a few dozen cells per search. (A cell is settled once its minutes are
    final, so the values are the same to the last bit.)

    Raises
    ------
    layers.errors.LayerSchemaError
        As :func:`travel_time`, or when a cell is off the grid.
    """
    src = np.asarray(sources, dtype=bool)
    _check_shape("travel_time_at: sources", src.shape, np.shape(speed_kmh))
    flat = _flat_cells(rows, cols, *src.shape)
    ids = np.where(src, 0, -1).astype(np.int32)
    prep = _prepared(speed_kmh, ids, cellsize, "travel_time_at")
    return _minutes_at(_shortest(*prep, targets=flat)[0])


def _flat_cells(rows: np.ndarray, cols: np.ndarray, nrows: int, ncols: int) -> np.ndarray:
    """Flat indices of the cells ``(rows[k], cols[k])`` of an ``nrows`` x ``ncols`` grid."""
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    if r.shape != c.shape or ((r < 0) | (r >= nrows) | (c < 0) | (c >= ncols)).any():
        raise LayerSchemaError(
            f"travel_time_at: rows and cols must be cells of the {nrows}x{ncols} grid"
        )
    return r * ncols + c


def _minutes_at(dist: np.ndarray) -> np.ndarray:
    """Searched minutes (inf where unreachable) as NaN where unreachable, in place."""
    dist[np.isinf(dist)] = np.nan
    return dist


def _finite_range(cost: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of the finite costs, None when there are none. Reductions over a mask,
    not over a compressed copy of the finite costs (128 MB at 16 M cells)."""
    finite = np.isfinite(cost)
    if not finite.any():
        return None
    lo = np.min(cost, where=finite, initial=np.inf)
    hi = np.max(cost, where=finite, initial=-np.inf)
    return float(lo), float(hi)


def _prepared(
    speed_kmh: np.ndarray,
    source_ids: np.ndarray,
    cellsize: float | tuple[float, float],
    where: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, float, float]:
    """The kernels' inputs: flat minutes-per-metre costs (inf = barrier), seeds and their
    labels, the grid's shape and cell size; after checking the arguments."""
    speed, dx, dy = _checked_surface(speed_kmh, cellsize, where)
    nrows, ncols = speed.shape
    ids = np.asarray(source_ids)
    _check_shape(f"{where}: source_ids", ids.shape, speed.shape)
    if not np.issubdtype(ids.dtype, np.integer):
        raise LayerSchemaError(
            f"{where}: source_ids must be an integer array, found dtype {ids.dtype}"
        )
    cost = np.empty(nrows * ncols)
    _costs_into(speed, cost.reshape(nrows, ncols))
    flat_ids = ids.ravel()
    seeds = np.flatnonzero(flat_ids >= 0).astype(np.int32)
    seed_labels = flat_ids[seeds].astype(np.int32)
    _open_stranded_sources(cost, seeds, nrows, ncols, WALK_FLAT_COST)
    return cost, seeds, seed_labels, nrows, ncols, dx, dy


def _checked_surface(
    speed_kmh: np.ndarray, cellsize: float | tuple[float, float], where: str
) -> tuple[np.ndarray, float, float]:
    """A speed surface as float64 and its cell size (dx, dy), after checking both."""
    speed = np.asarray(speed_kmh, dtype=np.float64)
    if speed.ndim != 2:
        raise LayerSchemaError(f"{where}: speed_kmh must be 2-D, found shape {speed.shape}")
    dx, dy = _cellsize_pair(where, cellsize)
    nrows, ncols = speed.shape
    if nrows * ncols >= np.iinfo(np.int32).max:
        raise LayerSchemaError(
            f"{where}: grid must have fewer than 2**31-1 cells, found {nrows}x{ncols}"
        )
    return speed, float(dx), float(dy)


def _costs_into(speed: np.ndarray, out: np.ndarray) -> None:
    """Minutes per metre, ``60 / (1000 * speed)``, inf where the speed is 0, negative or
    NaN (a barrier), written into ``out`` (the grid's shape; a view may be): the same
    operations and values as the expression, without its grid-sized temporaries (at 16 M
    cells each is 128 MB the OS must fault in)."""
    np.multiply(speed, 1000.0, out=out)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(60.0, out, out=out)
    out[~(speed > 0)] = np.inf


#: Largest bucket ring for the bucket queue (speeds spanning more than about a
#: million to one fall back to the 4-ary heap kernel).
_MAX_BUCKETS = 1 << 22

#: Edge of the bucket search's tiles, in cells: a tile's work arrays (4 MB of distances
#: and costs at 512 x 512) stay in the caches while its front moves through it.
_TILE = 512

#: How far (in longest moves) the search works ahead in one tile before it looks for a
#: lower one: further ahead means fewer switches between tiles and more cells corrected
#: when a lagging tile reaches them more cheaply.
_HORIZON_MOVES = 4

#: Most bucket heads the tiles' rings may hold (int32: 64 MB); larger tiles above it.
_MAX_HEADS = 1 << 24


def _tiling(nrows: int, ncols: int, need: int) -> tuple[int, int, int] | None:
    """(tile edge, horizon in buckets, ring size) of the bucket search on a grid of
    ``nrows`` x ``ncols`` whose longest move spans ``need`` buckets; None when the ring
    would exceed ``_MAX_BUCKETS`` (the heap kernel then)."""
    if need > _MAX_BUCKETS:
        return None
    horizon = min(_HORIZON_MOVES * need, _MAX_BUCKETS - need - 2)
    if horizon < 1:
        return None
    nb = 1 << max(int(math.ceil(math.log2(need + horizon + 2))), 1)
    pr, pc = nrows + 2, ncols + 2
    tile = _TILE
    while tile < max(pr, pc) and -(-pr // tile) * -(-pc // tile) * nb > _MAX_HEADS:
        tile *= 2
    return tile, horizon, nb


def _pad_cost(cost: np.ndarray | None, nrows: int, ncols: int) -> np.ndarray:
    """The flat costs of an ``nrows`` x ``ncols`` grid inside a one-cell ring of barriers
    (inf), flat: the bucket kernel's neighbours then need no bounds checks. ``cost`` None:
    the ring only (the caller fills the inside, :func:`_inner`)."""
    out = np.empty((nrows + 2) * (ncols + 2))
    pad = out.reshape(nrows + 2, ncols + 2)
    pad[0, :] = pad[-1, :] = np.inf
    pad[:, 0] = pad[:, -1] = np.inf
    if cost is not None:
        pad[1:-1, 1:-1] = cost.reshape(nrows, ncols)
    return out


def _padded_index(flat: np.ndarray | int, ncols: int) -> np.ndarray:
    """Indices on the padded grid (:func:`_pad_cost`) of flat cell indices of a grid of
    ``ncols`` columns."""
    flat = np.asarray(flat, dtype=np.int64)
    return (flat // ncols + 1) * (ncols + 2) + flat % ncols + 1


def _inner(padded: np.ndarray, nrows: int, ncols: int) -> np.ndarray:
    """The ``nrows`` x ``ncols`` inside of a flat padded grid, as a view."""
    return padded.reshape(nrows + 2, ncols + 2)[1:-1, 1:-1]


def _shortest(
    cost: np.ndarray | None,
    seeds: np.ndarray,
    seed_labels: np.ndarray,
    nrows: int,
    ncols: int,
    dx: float,
    dy: float,
    targets: np.ndarray | None = None,
    work: dict[str, np.ndarray] | None = None,
    crange: tuple[float, float] | None = None,
    minutes32: bool = False,
    cpad: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the bucket-queue kernel when the cost range allows it, else the heap.
    ``targets`` (flat cell indices): the bucket kernel may stop once they are all settled.
    ``work``: a dict that keeps the kernel's work arrays between searches of one thread on
    one grid (each search fills them anew), so the memory is not mapped and zeroed again by
    the OS for every search. ``crange``: the finite (min, max) of the costs when the caller
    knows it (many searches on one surface); ``cpad``: the costs padded with a ring of
    barriers (:func:`_pad_cost`), likewise (``cost`` may then be None: the heap kernel, when
    it is needed, takes the inside of ``cpad``).

    Returns ``(dist, label)``: without ``targets``, ``nrows`` x ``ncols`` grids of float64
    distances (inf where unreachable) or with ``minutes32`` float32 minutes (NaN there), and
    int32 labels (-1 where unreachable; from the bucket kernel a view of a padded grid, which
    the kernel wrote: no second copy); with ``targets``, the float64 distances of those cells
    in their order, and None."""
    costs = cost if cost is not None else cpad
    if costs is None:
        raise ValueError("_shortest: needs cost or cpad")
    if crange is None:
        crange = _finite_range(costs)
    if seeds.size and crange is not None:
        cmin, cmax = crange
        if cmin > 0:
            # lightest move: min(dx, dy) * (c_a + c_b) / 2 >= min(dx, dy) * cmin;
            # the margin keeps float rounding of nd / delta from landing in the current bucket
            delta = min(dx, dy) * cmin * (1.0 - 1e-7)
            need = math.ceil(math.hypot(dx, dy) * cmax / delta) + 2
            tiling = _tiling(nrows, ncols, need)
            if tiling is not None:
                tile, horizon, nb = tiling
                # the work arrays are allocated here, not inside the kernel: numpy backs
                # large arrays with huge pages (madvise), which spares the TLB misses of a
                # search front that touches every row of a large grid (about 20% at 16M cells)
                npad = (nrows + 2) * (ncols + 2)
                cap = nrows * ncols + seeds.shape[0] + 1024
                is_target = np.zeros(npad if targets is not None else 1, dtype=np.bool_)
                n_targets = 0
                padded_targets = None
                if targets is not None:
                    padded_targets = _padded_index(targets, ncols)
                    is_target[padded_targets] = True
                    n_targets = len(np.unique(padded_targets))
                w = work if work is not None else {}
                if w.get("dist") is None or w["dist"].shape[0] != npad or w["pool"].shape[1] < cap:
                    w["dist"] = np.empty(npad)
                    w["label"] = np.empty(npad, dtype=np.int32)
                    w["pool"] = np.empty((2, cap), dtype=np.int32)
                # a whole grid's labels go straight into the result (the inside of a padded
                # grid); a search for a few cells keeps them in its work array
                label = w["label"] if targets is not None else np.empty(npad, dtype=np.int32)
                ok = _bucket_search(
                    _pad_cost(cost, nrows, ncols) if cpad is None else cpad,
                    seeds,
                    seed_labels,
                    nrows,
                    ncols,
                    dx,
                    dy,
                    delta,
                    nb,
                    tile,
                    horizon,
                    w["dist"],
                    label,
                    w["pool"][0],
                    w["pool"][1],
                    is_target,
                    n_targets,
                )
                if ok:
                    if padded_targets is not None:
                        return w["dist"][padded_targets], None
                    dist = np.empty((nrows, ncols), dtype=np.float32 if minutes32 else np.float64)
                    _unpad(w["dist"], nrows, ncols, dist.reshape(-1), minutes32)
                    return dist, _inner(label, nrows, ncols)
    if cost is None:
        assert cpad is not None
        cost = np.ascontiguousarray(_inner(cpad, nrows, ncols)).reshape(-1)
    dist, label = _dijkstra8(
        cost, seeds, seed_labels, nrows, ncols, dx, dy, np.zeros(seeds.shape[0])
    )
    if targets is not None:
        return dist[np.asarray(targets, dtype=np.int64)], None
    if minutes32:
        unreached = np.isinf(dist)
        dist = dist.astype(np.float32)
        dist[unreached] = np.nan
    return dist.reshape(nrows, ncols), label.reshape(nrows, ncols)


class PreparedSurface:
    """One speed surface made ready once for many searches: the minutes-per-metre costs
    (inside a ring of barriers, as the bucket kernel reads them) and their range are
    computed once instead of once per search, and each thread keeps its kernel's work
    arrays. :meth:`nearest` gives the travel rasters of :func:`travel_time_with_nearest`,
    :meth:`minutes_at` exactly ``travel_time_at`` 's values (a cost matrix: one search per
    site)."""

    def __init__(self, speed_kmh: np.ndarray, *, cellsize: float | tuple[float, float]) -> None:
        self.speed, dx, dy = _checked_surface(speed_kmh, cellsize, "travel_time_at")
        self.cellsize = cellsize
        nrows, ncols = self.speed.shape
        self._grid = (nrows, ncols, dx, dy)
        # the costs written straight into the inside of the padded grid: one grid-sized
        # array, shared by every search on the surface, on any thread
        self._cpad = _pad_cost(None, nrows, ncols)
        _costs_into(self.speed, _inner(self._cpad, nrows, ncols))
        self._crange = _finite_range(self._cpad)
        self._works: defaultdict[int, dict[str, np.ndarray]] = defaultdict(dict)

    def nearest(
        self, cells: np.ndarray, labels: np.ndarray, work: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Minutes to the nearest of the source cells ``cells`` (flat indices, each on the
        grid) and its label, for every cell: float32 (NaN where unreachable) and int32 (-1)
        grids, the values of :func:`travel_time_with_nearest` on a label grid holding
        ``labels[k]`` at ``cells[k]`` (where a cell is listed twice, the later label), without
        that grid or a float64 copy of the result (the labels are the inside of the padded
        grid the kernel wrote, a view). The costs are shared between searches; a source on a
        barrier is opened in a copy of them, as ``travel_time_with_nearest`` does."""
        nrows, ncols, dx, dy = self._grid
        cells = np.asarray(cells, dtype=np.int64)
        labels = np.asarray(labels)
        # sorted cells, each with the label listed last for it: the seeds in the order the
        # label grid's flatnonzero gives them, so the search (and its ties) is the same
        last = len(cells) - 1 - np.unique(cells[::-1], return_index=True)[1]
        seeds = cells[last].astype(np.int32)
        seed_labels = labels[last].astype(np.int32)
        cost: np.ndarray | None = None
        cpad: np.ndarray | None = self._cpad
        crange = self._crange
        if seeds.size and not np.isfinite(self._cpad[_padded_index(seeds, ncols)]).all():
            cost = np.ascontiguousarray(_inner(self._cpad, nrows, ncols)).reshape(-1)
            _open_stranded_sources(cost, seeds, nrows, ncols, WALK_FLAT_COST)
            crange, cpad = _finite_range(cost), None
        dist, label = _shortest(
            cost, seeds, seed_labels, nrows, ncols, dx, dy, work=work, crange=crange,
            minutes32=True, cpad=cpad,
        )  # fmt: skip
        assert label is not None
        return dist, label

    def minutes_at(self, row: int, col: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Minutes from cell ``(row, col)`` to each cell ``(rows[k], cols[k])`` (NaN where
        unreachable): ``travel_time_at`` with that one source cell."""
        nrows, ncols, dx, dy = self._grid
        inside = (0 <= row < nrows) and (0 <= col < ncols)
        if (
            not inside
            or not np.isfinite(self._cpad[_padded_index(row * ncols + col, ncols)])
            or self._crange is None
        ):
            # a source on a barrier is opened in a copy of the costs: the general path
            src = np.zeros(self.speed.shape, bool)
            src[row, col] = True
            return travel_time_at(self.speed, src, rows, cols, cellsize=self.cellsize)
        flat = _flat_cells(rows, cols, nrows, ncols)
        seeds = np.array([row * ncols + col], dtype=np.int32)
        dist, _ = _shortest(
            None,
            seeds,
            np.zeros(1, dtype=np.int32),
            nrows,
            ncols,
            dx,
            dy,
            targets=flat,
            work=self._works[threading.get_ident()],
            crange=self._crange,
            cpad=self._cpad,
        )
        return _minutes_at(dist)


def _open_stranded_sources(
    cost: np.ndarray, seeds: np.ndarray, nrows: int, ncols: int, walk_cost: float
) -> None:
    """Give sources on barrier cells the cost of their cheapest neighbour (in place)."""
    stranded = seeds[np.isinf(cost[seeds])]
    if stranded.size == 0:
        return
    orig = cost.copy()
    for i in stranded:
        r, c = divmod(int(i), ncols)
        r0, r1, c0, c1 = max(r - 1, 0), min(r + 2, nrows), max(c - 1, 0), min(c + 2, ncols)
        block = orig.reshape(nrows, ncols)[r0:r1, c0:c1]
        finite = block[np.isfinite(block)]
        cost[i] = finite.min() if finite.size else walk_cost


@njit(inline="always")
def _push4(heap_i, heap_k, pos, size, node, key):  # pragma: no cover - numba
    """Insert ``node`` with ``key`` into the indexed 4-ary heap, or lower its key when it is
    in the heap already (``pos[node] != -1``); returns the new heap size."""
    hole = pos[node]
    if hole == -1:
        hole = size
        size += 1
    while hole > 0:  # sift up
        parent = (hole - 1) >> 2
        if heap_k[parent] > key:
            heap_i[hole] = heap_i[parent]
            heap_k[hole] = heap_k[parent]
            pos[heap_i[hole]] = hole
            hole = parent
        else:
            break
    heap_i[hole] = node
    heap_k[hole] = key
    pos[node] = hole
    return size


@njit(cache=True, nogil=True)
def _dijkstra8(
    cost, seeds, seed_labels, nrows, ncols, dx, dy, seed_dist
):  # pragma: no cover - numba
    """Multi-source Dijkstra on an 8-connected grid with an indexed 4-ary heap.

    Seed ``s`` starts at distance ``seed_dist[s]`` (zeros: plain sources; the tiled
    cost-distance of ``geo.blocks`` seeds a tile with its neighbours' border values).

    The grid is padded with a one-cell ring of barriers so the inner loop needs
    no bounds checks. ``cd[i, 0]`` is the cell's cost, ``cd[i, 1]`` its best
    distance so far (interleaved: one cache line per neighbour). Barriers
    (infinite cost) and settled cells need no test of their own: a move into a
    barrier costs ``inf`` and a move into a settled cell can never improve it
    (costs are non-negative), so ``nd < dist`` rejects both. ``pos[i]`` is the
    slot of ``i`` in the heap or -1; decrease-key keeps at most one heap entry
    per cell, so memory is bounded by the grid size.
    """
    inf = np.inf
    pc = ncols + 2
    npad = (nrows + 2) * pc
    cd = np.full((npad, 2), inf)
    for r in range(nrows):
        base = (r + 1) * pc + 1
        for c in range(ncols):
            cd[base + c, 0] = cost[r * ncols + c]
    label = np.full(npad, -1, dtype=np.int32)
    pos = np.full(npad, -1, dtype=np.int32)
    heap_i = np.empty(nrows * ncols, dtype=np.int32)
    heap_k = np.empty(nrows * ncols, dtype=np.float64)
    off = np.array([-pc - 1, -pc, -pc + 1, -1, 1, pc - 1, pc, pc + 1])
    diag = math.sqrt(dx * dx + dy * dy)
    # MCP_Geometric: offset_length * 0.5 * (c_a + c_b); precompute offset_length * 0.5
    half = np.array([diag, dy, diag, dx, dx, diag, dy, diag]) * 0.5
    size = 0
    for s in range(seeds.shape[0]):
        i0 = seeds[s]
        i = (i0 // ncols + 1) * pc + (i0 % ncols) + 1
        d0 = seed_dist[s]
        if d0 >= cd[i, 1]:  # a cell seeded twice keeps its smaller start (first of equals)
            continue
        cd[i, 1] = d0
        label[i] = seed_labels[s]
        size = _push4(heap_i, heap_k, pos, size, i, d0)  # never moves when every start is 0
    while size > 0:
        i = heap_i[0]
        d = heap_k[0]
        pos[i] = -1
        size -= 1
        if size > 0:
            li = heap_i[size]
            lk = heap_k[size]
            hole = 0
            while True:
                first = 4 * hole + 1
                if first >= size:
                    break
                best = first
                bk = heap_k[first]
                last = first + 4
                if last > size:
                    last = size
                for ch in range(first + 1, last):
                    if heap_k[ch] < bk:
                        bk = heap_k[ch]
                        best = ch
                if bk < lk:
                    heap_i[hole] = heap_i[best]
                    heap_k[hole] = bk
                    pos[heap_i[hole]] = hole
                    hole = best
                else:
                    break
            heap_i[hole] = li
            heap_k[hole] = lk
            pos[li] = hole
        ci = cd[i, 0]
        lab = label[i]
        for k in range(8):
            j = i + off[k]
            nd = d + half[k] * (ci + cd[j, 0])
            if nd < cd[j, 1]:
                cd[j, 1] = nd
                label[j] = lab
                size = _push4(heap_i, heap_k, pos, size, j, nd)
    out_d = np.empty(nrows * ncols)
    out_l = np.empty(nrows * ncols, dtype=np.int32)
    for r in range(nrows):
        base = (r + 1) * pc + 1
        for c in range(ncols):
            out_d[r * ncols + c] = cd[base + c, 1]
            out_l[r * ncols + c] = label[base + c]
    return out_d, out_l


@njit(cache=True, nogil=True)
def _unpad(dist, nrows, ncols, out_d, nan_for_inf):  # pragma: no cover - numba
    """The searched distances off the padded work array into ``out_d`` (flat, row-major;
    its dtype: float64, or float32 minutes); unreachable cells inf, or NaN with
    ``nan_for_inf`` (minutes as travel rasters keep them)."""
    pc = ncols + 2
    for r in range(nrows):
        base = (r + 1) * pc + 1
        for c in range(ncols):
            v = dist[base + c]
            if nan_for_inf and v == np.inf:
                v = np.nan
            out_d[r * ncols + c] = v


@njit(cache=True, nogil=True)
def _bucket_search(
    cpad,
    seeds,
    seed_labels,
    nrows,
    ncols,
    dx,
    dy,
    delta,
    nbuckets_pow2,
    tile,
    horizon,
    dist,
    label,
    ent_node,
    ent_next,
    is_target,
    n_targets,
):  # pragma: no cover
    """Multi-source shortest paths on an 8-connected grid with Dinitz's bucket queue,
    worked tile by tile.

    Buckets of width ``delta`` (a hair below the lightest possible move): a move out
    of bucket ``k`` lands in a later bucket. The padded grid is cut into square tiles
    of ``tile`` cells, each with its own ring of ``nbuckets_pow2`` buckets (singly
    linked lists over a pool of entries recycled through a free list). The search
    takes the tile whose lowest pending bucket is lowest and works through
    ``horizon`` of its buckets before it looks again, so the cells it touches stay
    in the caches; a cell reached more cheaply later from a tile that lagged behind
    is queued again and its neighbours corrected (label-correcting: an entry whose
    cell has since moved to a lower bucket is skipped). Each cell ends at the minimum
    over relaxations from its neighbours' final values: the same floating-point
    minima as one global queue or the heap kernel; only the order of equal
    relaxations differs, which can change the label of exactly tied sources. The
    ring needs at least ``horizon + ceil(max move / delta) + 2`` buckets, the live
    entries' span. With ``n_targets`` > 0 the grid is one tile (settling in strict
    bucket order, so a cell taken from the current bucket is final) and the search
    stops once that many cells flagged in ``is_target`` (npad bool, cleared as they
    settle) are final; then only those cells' distances are.

    ``cpad`` (npad float64) holds the cells' costs on the padded grid, a ring of
    barriers (inf) around the county's (:func:`_pad_cost`): read only, so one copy
    serves every search on a surface, on any thread.

    Returns True, the distances in ``dist`` and the labels in ``label`` (padded grid),
    or False if the pool (``ent_node``/``ent_next``) runs out, and the caller falls
    back to the heap kernel. ``dist`` (npad float64), ``label`` (npad int32) and the
    pool (int32) are work arrays the caller allocates (any content).
    """
    pc = ncols + 2
    pr = nrows + 2
    dist[:] = np.inf
    label[:] = -1
    if n_targets > 0:
        tile = max(pr, pc)  # one tile: strict bucket order
    off = np.array([-pc - 1, -pc, -pc + 1, -1, 1, pc - 1, pc, pc + 1])
    diag = math.sqrt(dx * dx + dy * dy)
    half = np.array([diag, dy, diag, dx, dx, diag, dy, diag]) * 0.5
    inv_delta = 1.0 / delta
    mask = nbuckets_pow2 - 1
    ntc = (pc + tile - 1) // tile
    nt = ((pr + tile - 1) // tile) * ntc
    head = np.full(nt * nbuckets_pow2, -1, dtype=np.int32)
    lowest = np.full(nt, np.iinfo(np.int64).max, dtype=np.int64)  # <= its entries' buckets
    pending = np.zeros(nt, dtype=np.int64)
    cap = ent_node.shape[0]
    free = -1
    used = 0
    live = 0
    for s in range(seeds.shape[0]):
        i0 = seeds[s]
        i = (i0 // ncols + 1) * pc + (i0 % ncols) + 1
        if dist[i] == 0.0:
            continue
        dist[i] = 0.0
        label[i] = seed_labels[s]
        t = ((i // pc) // tile) * ntc + (i % pc) // tile
        e = used
        used += 1
        ent_node[e] = i
        ent_next[e] = head[t * nbuckets_pow2]
        head[t * nbuckets_pow2] = e
        pending[t] += 1
        lowest[t] = 0
        live += 1
    while live > 0:
        t = -1
        k = np.iinfo(np.int64).max
        for u in range(nt):
            if pending[u] > 0 and lowest[u] < k:
                k = lowest[u]
                t = u
        kend = k + horizon
        hb = t * nbuckets_pow2
        while k < kend and pending[t] > 0:
            b = hb + (k & mask)
            while head[b] != -1:
                e = head[b]
                head[b] = ent_next[e]
                i = ent_node[e]
                ent_next[e] = free
                free = e
                live -= 1
                pending[t] -= 1
                d = dist[i]
                if np.int64(d * inv_delta) != k:
                    continue  # reached more cheaply since: its own entry comes first
                if n_targets > 0 and is_target[i]:
                    is_target[i] = False
                    n_targets -= 1
                    if n_targets == 0:
                        return True  # every target is final: the rest is not needed
                ci = cpad[i]
                lab = label[i]
                for q in range(8):
                    j = i + off[q]
                    nd = d + half[q] * (ci + cpad[j])
                    if nd < dist[j]:
                        dist[j] = nd
                        label[j] = lab
                        if free != -1:
                            e2 = free
                            free = ent_next[free]
                        elif used < cap:
                            e2 = used
                            used += 1
                        else:
                            return False  # pool exhausted: let the caller use the heap
                        kk = np.int64(nd * inv_delta)
                        tj = ((j // pc) // tile) * ntc + (j % pc) // tile
                        bb = tj * nbuckets_pow2 + (kk & mask)
                        ent_node[e2] = j
                        ent_next[e2] = head[bb]
                        head[bb] = e2
                        pending[tj] += 1
                        if kk < lowest[tj]:
                            lowest[tj] = kk
                        live += 1
            k += 1
        if lowest[t] < k:
            lowest[t] = k
    return True


# --------------------------------------------------------------------------- anisotropic walking


def travel_time_anisotropic(
    speed_kmh: np.ndarray,
    z: np.ndarray,
    sources: np.ndarray,
    *,
    cellsize: float | tuple[float, float],
    road_mask: np.ndarray | None = None,
    walk_factor: float | np.ndarray = 1.0,
    direction: str = "to_source",
) -> np.ndarray:
    """Minutes to (or from) the nearest source with direction-aware walking.

    Like AccessMod's anisotropic mode: off road, walking uphill is slower than
    downhill. A move from cell ``a`` to a neighbour ``b`` over the horizontal
    distance ``d`` (metres; ``dx``, ``dy`` or the diagonal) has the signed slope
    ``s = (z_b - z_a) / d`` in the direction of travel, and each end contributes
    half the move at its own pace (minutes per metre, as in :func:`travel_time`):

    * a road cell (``road_mask`` True and ``speed_kmh > 0``) walks at its road
      speed whatever the slope: pace ``60 / (1000 * speed_kmh)``;
    * an off-road cell at Tobler's speed of the move's slope,
      ``v = 6 * exp(-3.5 * |s + 0.05|) * walk_factor`` km/h: pace ``60 / (1000 * v)``.

    So ``cost(a -> b) = d * (pace_a + pace_b) / 2``: a move between two off-road
    cells (with one ``walk_factor``) costs ``d / v``; between two road cells it is
    exactly :func:`travel_time`'s cost; a move with one road end averages the
    road pace and the directional walking pace (paces, not speeds, are
    averaged, as in :func:`travel_time`). On flat ground with no roads the result
    equals :func:`travel_time` on ``speed_surface(slope_deg=0, walk_factor=...)``.

    Off road, ``speed_kmh`` only decides passability: cells whose speed is 0,
    negative or NaN are barriers (never entered, NaN in the result), as are
    off-road cells whose elevation is NaN. Sources are always enterable, as
    :func:`travel_time` documents: a source on a barrier is crossed at the pace
    of its fastest passable neighbour (or flat walking speed), irrespective of
    slope, and a missing elevation there is filled from its neighbours (a
    passable off-road source without an elevation keeps its own isotropic speed).

    Parameters
    ----------
    speed_kmh : numpy.ndarray
        2-D isotropic speed surface in km/h (e.g. from :func:`speed_surface`).
    z : numpy.ndarray
        2-D elevations in metres on the same grid.
    sources : numpy.ndarray of bool
        2-D mask, True at source cells (time 0).
    cellsize : float or (float, float)
        Cell size in metres; a pair is ``(dx, dy)`` (column width, row height).
    road_mask : numpy.ndarray of bool, optional
        True at road cells (keep their ``speed_kmh`` irrespective of slope).
        None means no roads.
    walk_factor : float or numpy.ndarray, default 1.0
        Multiplier on walking speed (land-cover friction), > 0; a scalar or a
        2-D per-cell array.
    direction : {"to_source", "from_source"}, default "to_source"
        ``"to_source"``: time for a person to travel FROM each cell TO the
        nearest source (a village walking to a clinic; the search expands from
        the sources over reversed moves). ``"from_source"``: time from the
        nearest source out to each cell.

    Returns
    -------
    numpy.ndarray
        float64 minutes, 0 at sources, NaN where unreachable.

    Raises
    ------
    layers.errors.LayerSchemaError
        On shape mismatch, a non-2-D grid, a non-positive cell size or a grid
        too large to index.
    layers.errors.PolicyError
        If ``walk_factor`` is not positive everywhere or ``direction`` is unknown.
    """
    src = np.asarray(sources, dtype=bool)
    _check_shape("travel_time_anisotropic: sources", src.shape, np.shape(speed_kmh))
    minutes, _ = travel_time_anisotropic_with_nearest(
        speed_kmh,
        z,
        np.where(src, 0, -1),
        cellsize=cellsize,
        road_mask=road_mask,
        walk_factor=walk_factor,
        direction=direction,
    )
    return minutes


def travel_time_anisotropic_with_nearest(
    speed_kmh: np.ndarray,
    z: np.ndarray,
    source_ids: np.ndarray,
    *,
    cellsize: float | tuple[float, float],
    road_mask: np.ndarray | None = None,
    walk_factor: float | np.ndarray = 1.0,
    direction: str = "to_source",
) -> tuple[np.ndarray, np.ndarray]:
    """Direction-aware minutes to (or from) the nearest source, and its label.

    Same cost model, barrier and source rules as :func:`travel_time_anisotropic`
    (which calls this function); sources are given as labels, as in
    :func:`travel_time_with_nearest`. "Nearest" is in travel time along the
    chosen ``direction``: with ``"to_source"`` the destination a person in the
    cell reaches first, with ``"from_source"`` the source that reaches the cell
    first (not the same source on sloping ground).

    Parameters
    ----------
    speed_kmh : numpy.ndarray
        2-D isotropic speed surface in km/h (e.g. from :func:`speed_surface`).
    z : numpy.ndarray
        2-D elevations in metres on the same grid.
    source_ids : numpy.ndarray of int
        2-D labels: -1 (or any negative) where the cell is not a source, else the
        destination's integer label (several cells may share one label, e.g. a
        rasterized town polygon).
    cellsize : float or (float, float)
        Cell size in metres; a pair is ``(dx, dy)`` (column width, row height).
    road_mask : numpy.ndarray of bool, optional
        True at road cells (keep their ``speed_kmh`` irrespective of slope).
        None means no roads.
    walk_factor : float or numpy.ndarray, default 1.0
        Multiplier on walking speed (land-cover friction), > 0; a scalar or a
        2-D per-cell array.
    direction : {"to_source", "from_source"}, default "to_source"
        See :func:`travel_time_anisotropic`.

    Returns
    -------
    minutes : numpy.ndarray
        float64, 0 at sources, NaN where unreachable.
    nearest : numpy.ndarray
        int64 label of the nearest source, -1 where unreachable. Ties between
        equally near sources go to whichever the search reached first.

    Raises
    ------
    layers.errors.LayerSchemaError
        On shape mismatch, a non-2-D grid, non-integer ``source_ids``, a
        non-positive cell size or a grid too large to index.
    layers.errors.PolicyError
        If ``walk_factor`` is not positive everywhere or ``direction`` is unknown.
    """
    where = "travel_time_anisotropic"
    speed = np.asarray(speed_kmh, dtype=np.float64)
    if speed.ndim != 2:
        raise LayerSchemaError(f"{where}: speed_kmh must be 2-D, found shape {speed.shape}")
    elev = np.asarray(z, dtype=np.float64)
    _check_shape(f"{where}: z", elev.shape, speed.shape)
    ids = np.asarray(source_ids)
    _check_shape(f"{where}: source_ids", ids.shape, speed.shape)
    if not np.issubdtype(ids.dtype, np.integer):
        raise LayerSchemaError(
            f"{where}: source_ids must be an integer array, found dtype {ids.dtype}"
        )
    if road_mask is None:
        road = np.zeros(speed.shape, dtype=bool)
    else:
        road = np.asarray(road_mask, dtype=bool)
        _check_shape(f"{where}: road_mask", road.shape, speed.shape)
    wf = np.asarray(walk_factor, dtype=np.float64)
    if wf.ndim != 0:
        _check_shape(f"{where}: walk_factor", wf.shape, speed.shape)
    bad = ~(wf > 0)  # NaN is bad too
    if bad.any():
        if wf.ndim == 0:
            found = repr(float(wf))
        else:
            found = f"{int(bad.sum())} cell(s) such as {float(wf[bad][0])!r}"
        raise PolicyError(f"{where}: walk_factor must be > 0 everywhere, found {found}")
    if direction not in ("to_source", "from_source"):
        raise PolicyError(
            f"{where}: direction must be 'to_source' or 'from_source', found {direction!r}"
        )
    dx, dy = _cellsize_pair(where, cellsize)
    nrows, ncols = speed.shape
    if nrows * ncols >= np.iinfo(np.int32).max:
        raise LayerSchemaError(
            f"{where}: grid must have fewer than 2**31-1 cells, found {nrows}x{ncols}"
        )

    passable = speed > 0  # NaN compares False
    with np.errstate(divide="ignore", invalid="ignore"):
        iso = np.where(passable, 60.0 / (1000.0 * speed), np.inf).ravel()
    flat_ids = ids.ravel()
    seeds = np.flatnonzero(flat_ids >= 0).astype(np.int32)
    seed_labels = flat_ids[seeds].astype(np.int64)
    # fixed pace: road cells (slope-free); walking base pace: off-road cells,
    # multiplied in the kernel by exp(3.5 * |s + 0.05|)
    fixed = np.where(passable & road, iso.reshape(speed.shape), np.nan).ravel()
    walk = np.broadcast_to(60.0 / (1000.0 * 6.0 * wf), speed.shape)
    walk = np.where(passable & ~road, walk, np.inf).ravel()
    zz = elev.ravel().copy()
    # sources on barriers, or off road without an elevation, become slope-free cells
    stuck = ~passable.ravel() | (~road.ravel() & np.isnan(zz))
    stranded = seeds[stuck[seeds]]
    if stranded.size:
        opened = iso.copy()
        _open_stranded_sources(opened, stranded, nrows, ncols, WALK_FLAT_COST)
        fixed[stranded] = opened[stranded]
        walk[stranded] = np.inf
        z2 = elev.reshape(nrows, ncols)
        for i in stranded[np.isnan(zz[stranded])]:
            r, c = divmod(int(i), ncols)
            block = z2[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
            finite = block[np.isfinite(block)]
            zz[i] = finite.mean() if finite.size else 0.0
    sign = 1.0 if direction == "from_source" else -1.0
    dist, label = _dijkstra8_aniso(
        fixed, walk, zz, seeds, seed_labels, nrows, ncols, float(dx), float(dy), sign
    )
    dist[np.isinf(dist)] = np.nan
    return dist.reshape(speed.shape), label.reshape(speed.shape)


@njit(cache=True, nogil=True)
def _dijkstra8_aniso(
    fixed, walk, z, seeds, seed_labels, nrows, ncols, dx, dy, sign
):  # pragma: no cover
    """Multi-source Dijkstra with direction-dependent move costs (binary heap).

    ``fixed[i]`` is the slope-free pace of a road cell (NaN otherwise),
    ``walk[i]`` the base walking pace of an off-road cell (inf for barriers and
    fixed cells), so that an off-road end contributes
    ``walk * exp(3.5 * |s + 0.05|)``. When cell ``i`` is settled and neighbour
    ``j`` relaxed, the move of the traveller is ``i -> j`` if ``sign`` is +1
    (from the sources) and ``j -> i`` if -1 (to the sources); its slope is
    ``sign * (z_j - z_i) / d``. A NaN slope gives a NaN cost, which ``nd < dist``
    rejects. The grid is padded with a ring of barriers; the heap is indexed
    (decrease-key), so it holds at most one entry per cell. Each cell inherits
    ``seed_labels`` of the seed its best path starts from (as in
    :func:`_dijkstra8`); exact ties go to whichever path relaxed the cell first.
    Returns ``(dist, label)`` with label -1 where no seed reaches.
    """
    inf = np.inf
    pc = ncols + 2
    npad = (nrows + 2) * pc
    fx = np.full(npad, np.nan)
    wk = np.full(npad, inf)
    zp = np.zeros(npad)
    dist = np.full(npad, inf)
    label = np.full(npad, -1, dtype=np.int64)
    for r in range(nrows):
        base = (r + 1) * pc + 1
        for c in range(ncols):
            fx[base + c] = fixed[r * ncols + c]
            wk[base + c] = walk[r * ncols + c]
            zp[base + c] = z[r * ncols + c]
    pos = np.full(npad, -1, dtype=np.int32)
    heap_i = np.empty(nrows * ncols, dtype=np.int32)
    heap_k = np.empty(nrows * ncols, dtype=np.float64)
    off = np.array([-pc - 1, -pc, -pc + 1, -1, 1, pc - 1, pc, pc + 1])
    diag = math.sqrt(dx * dx + dy * dy)
    length = np.array([diag, dy, diag, dx, dx, diag, dy, diag])
    inv_len = 1.0 / length
    size = 0
    for s in range(seeds.shape[0]):
        i0 = seeds[s]
        i = (i0 // ncols + 1) * pc + (i0 % ncols) + 1
        if dist[i] == 0.0:
            continue
        dist[i] = 0.0
        label[i] = seed_labels[s]
        heap_i[size] = i  # all keys 0: appending keeps the heap property
        heap_k[size] = 0.0
        pos[i] = size
        size += 1
    while size > 0:
        i = heap_i[0]
        d = heap_k[0]
        pos[i] = -1
        size -= 1
        if size > 0:  # sift the last entry down from the root
            li = heap_i[size]
            lk = heap_k[size]
            hole = 0
            while True:
                ch = 2 * hole + 1
                if ch >= size:
                    break
                if ch + 1 < size and heap_k[ch + 1] < heap_k[ch]:
                    ch += 1
                if heap_k[ch] < lk:
                    heap_i[hole] = heap_i[ch]
                    heap_k[hole] = heap_k[ch]
                    pos[heap_i[hole]] = hole
                    hole = ch
                else:
                    break
            heap_i[hole] = li
            heap_k[hole] = lk
            pos[li] = hole
        fi = fx[i]
        wi = wk[i]
        zi = zp[i]
        lab = label[i]
        i_fixed = not math.isnan(fi)
        for k in range(8):
            j = i + off[k]
            if d >= dist[j]:  # settled (or no better): skip the exp
                continue
            fj = fx[j]
            j_fixed = not math.isnan(fj)
            if i_fixed and j_fixed:
                pace2 = fi + fj
            else:
                wj = wk[j]
                if not j_fixed and wj == inf:
                    continue  # barrier
                g = math.exp(3.5 * abs(sign * (zp[j] - zi) * inv_len[k] + 0.05))
                pace2 = (fi if i_fixed else wi * g) + (fj if j_fixed else wj * g)
            nd = d + 0.5 * length[k] * pace2
            if nd < dist[j]:
                dist[j] = nd
                label[j] = lab
                hole = pos[j]
                if hole == -1:
                    hole = size
                    size += 1
                while hole > 0:  # sift up
                    parent = (hole - 1) >> 1
                    if heap_k[parent] > nd:
                        heap_i[hole] = heap_i[parent]
                        heap_k[hole] = heap_k[parent]
                        pos[heap_i[hole]] = hole
                        hole = parent
                    else:
                        break
                heap_i[hole] = j
                heap_k[hole] = nd
                pos[j] = hole
    out_d = np.empty(nrows * ncols)
    out_l = np.empty(nrows * ncols, dtype=np.int64)
    for r in range(nrows):
        base = (r + 1) * pc + 1
        for c in range(ncols):
            out_d[r * ncols + c] = dist[base + c]
            out_l[r * ncols + c] = label[base + c]
    return out_d, out_l


# --------------------------------------------------------------------------- helpers


def within(minutes: np.ndarray, threshold_min: float) -> np.ndarray:
    """Cells reachable within a time threshold.

    The comparison is inclusive (``minutes <= threshold_min``: a cell at exactly
    60.0 minutes is within 60) and unreachable cells (NaN) are never within.

    Parameters
    ----------
    minutes : numpy.ndarray
        Travel times in minutes (NaN = unreachable).
    threshold_min : float
        Threshold in minutes.

    Returns
    -------
    numpy.ndarray of bool
    """
    m = np.asarray(minutes, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.less_equal(m, threshold_min) & ~np.isnan(m)


def sample_at_points(
    raster: np.ndarray, points_xy: np.ndarray | gpd.GeoSeries, *, transform: Affine
) -> np.ndarray:
    """Raster values at points, nearest cell (the cell containing the point).

    Parameters
    ----------
    raster : numpy.ndarray
        2-D array on the grid described by ``transform``.
    points_xy : (n, 2) array or GeoSeries of points
        Coordinates in the grid's CRS.
    transform : affine.Affine
        Grid transform.

    Returns
    -------
    numpy.ndarray
        float64 values, NaN for points outside the grid (or empty geometries).
    """
    arr = np.asarray(raster)
    if isinstance(points_xy, gpd.GeoSeries | gpd.GeoDataFrame):
        geoms = points_xy.geometry
        xs = np.asarray(geoms.x, dtype=np.float64)
        ys = np.asarray(geoms.y, dtype=np.float64)
    else:
        xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        xs, ys = xy[:, 0], xy[:, 1]
    inv = ~transform
    cols_f, rows_f = inv @ (xs, ys)
    out = np.full(xs.shape, np.nan)
    ok = np.isfinite(cols_f) & np.isfinite(rows_f)
    rows = np.full(xs.shape, -1, dtype=np.int64)
    cols = np.full(xs.shape, -1, dtype=np.int64)
    rows[ok] = np.floor(rows_f[ok]).astype(np.int64)
    cols[ok] = np.floor(cols_f[ok]).astype(np.int64)
    inside = ok & (rows >= 0) & (rows < arr.shape[0]) & (cols >= 0) & (cols < arr.shape[1])
    out[inside] = arr[rows[inside], cols[inside]]
    return out


def source_ids_from_points(
    points_xy: np.ndarray | gpd.GeoSeries, *, shape: tuple[int, int], transform: Affine
) -> np.ndarray:
    """Label grid for :func:`travel_time_with_nearest` from destination points.

    Each point marks the cell containing it with its position (0..n-1) in
    ``points_xy``; all other cells are -1. Points outside the grid are dropped.
    When two points fall in one cell the first keeps it.

    Returns
    -------
    numpy.ndarray
        int32 array of ``shape``.
    """
    if isinstance(points_xy, gpd.GeoSeries | gpd.GeoDataFrame):
        xs = np.asarray(points_xy.geometry.x, dtype=np.float64)
        ys = np.asarray(points_xy.geometry.y, dtype=np.float64)
    else:
        xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        xs, ys = xy[:, 0], xy[:, 1]
    cols_f, rows_f = ~transform @ (xs, ys)
    ids = np.full(shape, -1, dtype=np.int32)
    ok = np.isfinite(cols_f) & np.isfinite(rows_f)
    rows = np.floor(np.where(ok, rows_f, -1)).astype(np.int64)
    cols = np.floor(np.where(ok, cols_f, -1)).astype(np.int64)
    inside = ok & (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    for k in np.flatnonzero(inside)[::-1]:  # reversed: the first point in a cell wins
        ids[rows[k], cols[k]] = k
    return ids


def resample_to_grid(
    src_array: np.ndarray,
    src_transform: Affine,
    src_crs: object,
    *,
    dst_shape: tuple[int, int],
    dst_transform: Affine,
    dst_crs: object,
    kind: str,
    src_nodata: float | None = None,
    dst_nodata: float | None = None,
) -> np.ndarray:
    """Bring a raster onto the analysis (DEM) grid.

    Handles different resolutions, extents and CRSs (``rasterio.warp.reproject``).
    ``kind="categorical"`` (land cover, zone ids, masks) uses nearest neighbour so
    no invented classes appear; ``kind="continuous"`` (elevation, speed,
    population density) uses bilinear interpolation. Cells of the destination not
    covered by the source get ``dst_nodata`` (NaN for float output by default).

    Parameters
    ----------
    src_array : numpy.ndarray
        2-D source raster.
    src_transform, src_crs
        Source georeferencing (anything rasterio accepts as a CRS).
    dst_shape, dst_transform, dst_crs
        Destination grid.
    kind : {"categorical", "continuous"}
    src_nodata, dst_nodata : float, optional
        No-data values. Continuous output is float64 with NaN nodata by default;
        categorical output keeps the source dtype with nodata 0 by default
        (bool sources come back as bool).

    Returns
    -------
    numpy.ndarray
        Array of ``dst_shape``.

    Raises
    ------
    layers.errors.PolicyError
        If ``kind`` is not one of the two values.
    """

    src = np.asarray(src_array)
    if kind == "continuous":
        resampling = Resampling.bilinear
        src_w = src.astype(np.float64)
        fill = np.nan if dst_nodata is None else dst_nodata
        dst = np.full(dst_shape, fill, dtype=np.float64)
        s_nodata: float | None = np.nan if src_nodata is None else src_nodata
    elif kind == "categorical":
        resampling = Resampling.nearest
        was_bool = src.dtype == bool
        src_w = src.astype(np.uint8) if was_bool else src
        fill = 0 if dst_nodata is None else dst_nodata
        dst = np.full(dst_shape, fill, dtype=src_w.dtype)
        s_nodata = src_nodata
    else:
        raise PolicyError(
            f"resample_to_grid: kind must be 'categorical' or 'continuous', found {kind!r}"
        )
    reproject(
        source=src_w,
        destination=dst,
        src_transform=src_transform,
        src_crs=src_crs,
        dst_transform=dst_transform,
        dst_crs=dst_crs,
        resampling=resampling,
        src_nodata=s_nodata,
        dst_nodata=fill,
    )
    if kind == "categorical" and was_bool:
        return dst.astype(bool)
    return dst


def _surface_state(hardened: object) -> str:
    state = parse_tristate(hardened, where="roads.hardened")
    if state is None:
        return "unknown"
    return "hardened" if state else "unhardened"


def _cellsize_pair(where: str, cellsize: float | tuple[float, float]) -> tuple[float, float]:
    """``(dx, dy)`` from a cell size or a pair; ``where`` names the caller in errors."""
    expected = "a positive finite number or a (dx, dy) pair of them"
    raw: Any = cellsize  # checked at run time: untyped callers pass text, triples, arrays
    try:
        if np.ndim(raw) == 0:
            dx = dy = float(raw)
        else:
            dx, dy = (float(v) for v in raw)
    except (TypeError, ValueError):  # not numbers, or not exactly two of them
        raise LayerSchemaError(
            f"{where}: cellsize must be {expected}, found {cellsize!r}"
        ) from None
    if not (dx > 0 and dy > 0 and math.isfinite(dx) and math.isfinite(dy)):
        raise LayerSchemaError(f"{where}: cellsize must be {expected}, found {cellsize!r}")
    return abs(dx), abs(dy)


def _check_shape(name: str, found: tuple[int, ...], expected: tuple[int, ...]) -> None:
    if tuple(found) != tuple(expected):
        raise LayerSchemaError(
            f"{name} must have the grid's shape {tuple(expected)}, found {tuple(found)}"
        )


# --------------------------------------------------------------------------- county stage


def water_bodies(water: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Rivers, lakes and reservoirs of the water layer (kind ``water_body``, polygons), or None."""
    if water is None or not len(water):
        return None
    wb = water[
        (water["kind"] == "water_body") & water.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    ]
    return wb if len(wb) else None


#: Kinds of the water layer whose lines are rivers (barriers when wide enough).
RIVER_KINDS = ("water_body", "river")


def river_barriers(
    water: gpd.GeoDataFrame | None, *, river_width_m: float, min_barrier_width_m: float
) -> gpd.GeoDataFrame | None:
    """River lines of the water layer buffered to their width, as barrier polygons, or None.

    Lines of kind ``water_body`` or ``river`` are buffered by half their ``width_m``
    (``river_width_m`` where that column is absent or blank); lines narrower than
    ``min_barrier_width_m`` (fordable streams) are left out. Widths are in the layer's
    CRS units, which are metres for the projected grid.
    """
    if water is None or not len(water):
        return None
    lines = water[
        water["kind"].isin(RIVER_KINDS)
        & water.geometry.geom_type.isin(["LineString", "MultiLineString"])
    ]
    if not len(lines):
        return None
    if "width_m" in lines.columns:
        width = pd.to_numeric(lines["width_m"], errors="coerce").fillna(river_width_m)
    else:
        width = pd.Series(float(river_width_m), index=lines.index)
    keep = (width >= min_barrier_width_m) & (width > 0)
    if not keep.any():
        return None
    kept = lines[keep.to_numpy()]
    return gpd.GeoDataFrame(
        {"water_id": kept["water_id"].to_numpy() if "water_id" in kept else None},
        geometry=kept.geometry.buffer(width[keep].to_numpy() / 2.0).to_numpy(),
        crs=kept.crs,
    )


#: Which towns and clinics each travel-time kind reaches (a county seat is also a
#: township seat; a county hospital also serves as a health centre).
_TOWN_KINDS = {
    "county_seat": ("county_seat",),
    "township_seat": ("township_seat", "county_seat"),
    "industrial_park": ("industrial_park",),
}
_CLINIC_LEVELS = {
    "village_clinic": ("village_clinic",),
    "health_centre": ("township_health_centre", "county_hospital"),
}


def destinations(
    kind: str,
    *,
    towns: gpd.GeoDataFrame | None,
    clinics: gpd.GeoDataFrame | None,
    schools: gpd.GeoDataFrame | None,
    crs: object,
) -> gpd.GeoDataFrame:
    """The destinations of one travel-time kind as points with a ``dest_id`` column.

    Parameters
    ----------
    kind : str
        One of :data:`layers.catalogue.TRAVEL_KINDS`.
    towns, clinics, schools : GeoDataFrame or None
        The workspace layers (absent layers give no destinations).
    crs
        CRS of the empty result when there are no destinations.

    Raises
    ------
    PolicyError
        For an unknown kind.
    """
    empty = gpd.GeoDataFrame({"dest_id": []}, geometry=[], crs=crs)
    if kind in _TOWN_KINDS:
        layer, key, col, wanted = towns, "town_id", "kind", _TOWN_KINDS[kind]
    elif kind in _CLINIC_LEVELS:
        layer, key, col, wanted = clinics, "clinic_id", "level", _CLINIC_LEVELS[kind]
    elif kind == "school":
        layer, key, col, wanted = schools, "school_id", None, ()
    else:
        known = (*_TOWN_KINDS, *_CLINIC_LEVELS, "school")
        raise PolicyError(f"unknown travel kind {kind!r}; expected one of {', '.join(known)}")
    if layer is None:
        return empty
    d = layer[layer[col].isin(wanted)] if col else layer
    # a kind whose own level is absent (no township health centre, no township seat) is
    # missing data, not "the county hospital is the nearest": blank, so the caller warns
    if col and not (layer[col] == wanted[0]).any():
        return empty
    return gpd.GeoDataFrame(
        {"dest_id": d[key].to_numpy()},
        geometry=d.geometry.representative_point().to_numpy(),
        crs=d.crs,
    )


def county_speed_surface(
    roads: gpd.GeoDataFrame,
    *,
    slope_deg: np.ndarray,
    outside: np.ndarray,
    transform: Affine,
    water: gpd.GeoDataFrame | None,
    road_speeds: Mapping[tuple[str, str], float],
    cliff_slope_deg: float,
    river_width_m: float | None = None,
    min_barrier_width_m: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Speed surface (km/h) of a county, and its road cells.

    Roads by class and surface; Tobler off road; water bodies, rivers, cliffs and land
    outside the county as barriers (a road crossing water is a bridge and stays passable).
    River lines (see :func:`river_barriers`) are barriers only when ``river_width_m``
    is given (``[access] river_width_m``), and only those at least
    ``min_barrier_width_m`` wide.

    Returns
    -------
    (speed, road_mask)
    """
    shape = slope_deg.shape
    road_speed = rasterize_roads(
        roads, shape=shape, transform=transform, speed_by_class_surface=road_speeds
    )
    barriers = outside.copy()
    wb = water_bodies(water)
    if wb is not None:
        barriers |= geometry_mask(wb.geometry, out_shape=shape, transform=transform, invert=True)
    if river_width_m is not None:
        rv = river_barriers(
            water, river_width_m=river_width_m, min_barrier_width_m=min_barrier_width_m
        )
        if rv is not None:
            barriers |= geometry_mask(
                rv.geometry, out_shape=shape, transform=transform, invert=True, all_touched=True
            )
    # no road outside the county; the land outside is a barrier (speed 0) whatever its
    # slope, so the slope is passed as it is (in place and without a masked copy: at 16 M
    # cells each grid-sized temporary is a 128 MB mapping the OS must fault in)
    road_speed[outside] = 0.0
    speed = speed_surface(
        slope_deg=slope_deg,
        road_raster_speed=road_speed,
        barriers=barriers,
        cliff_slope_deg=cliff_slope_deg,
    )
    return speed, road_speed > 0


@dataclass
class TravelTimes:
    """Minutes to the nearest destination of one kind, which one, and the destinations.

    ``cells``: each destination's flat cell index on the grid (row * ncols + col), -1 for
    a destination off the grid."""

    minutes: np.ndarray
    nearest: np.ndarray
    destinations: gpd.GeoDataFrame
    cells: np.ndarray
    outside_grid: int = 0

    def cut_off(self) -> np.ndarray:
        """Per destination: True when no cell but its own has it as nearest (every
        neighbour a barrier, or nearer to another destination all round).

        A search gives each cell the label of the neighbour its best path comes from, so
        the cells labelled with a destination are joined to its own cell through
        neighbours: it serves another cell exactly when one of its own cell's eight
        neighbours carries its label. Nine look-ups per destination; the same answer as
        counting the labels of the whole grid (``np.bincount``), which at 16 M cells took
        0.2 s per kind. A destination whose cell another destination labels (two in one
        cell) serves no cell and is not cut off; one off the grid is not either."""
        nearest = np.asarray(self.nearest)
        nrows, ncols = nearest.shape
        cells = np.asarray(self.cells, dtype=np.int64)
        k = np.flatnonzero(cells >= 0)
        r, c = np.divmod(cells[k], ncols)
        serves_other = np.zeros(len(k), dtype=bool)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr == 0 and dc == 0:
                    continue
                rr, cc = r + dr, c + dc
                on = (rr >= 0) & (rr < nrows) & (cc >= 0) & (cc < ncols)
                lab = nearest[np.clip(rr, 0, nrows - 1), np.clip(cc, 0, ncols - 1)]
                serves_other |= on & (lab == k)
        out = np.zeros(len(cells), dtype=bool)
        out[k] = (nearest[r, c] == k) & ~serves_other
        return out


def travel_times(
    speed: np.ndarray,
    dests: Mapping[str, gpd.GeoDataFrame],
    *,
    transform: Affine,
    walking: str,
    z: np.ndarray | None = None,
    road_mask: np.ndarray | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, TravelTimes]:
    """Travel minutes from every cell to the nearest destination of each kind.

    Parameters
    ----------
    speed : ndarray
        Speed surface (km/h), NaN or 0 = barrier.
    dests : mapping
        Kind → destination points (``dest_id``) in the grid's CRS.
    transform : Affine
        Grid transform.
    walking : {"isotropic", "anisotropic"}
        Off-road walking model: Tobler on the absolute slope, or direction-aware
        (uphill slower; minutes from each cell *to* the destination), which needs ``z``.
    z, road_mask : ndarray, optional
        Elevation and road cells (anisotropic walking only).
    progress : callable, optional
        ``progress(kind, fraction)``.

    Returns
    -------
    dict
        Kind → :class:`TravelTimes` (float32 minutes, NaN where unreachable; ``nearest``
        is the row of ``destinations``, -1 where none; ``outside_grid`` counts the
        destinations that fell off the grid and were left out).

    Raises
    ------
    PolicyError
        For an unknown walking model, or anisotropic walking without elevations.
    """
    if walking not in ("isotropic", "anisotropic"):
        raise PolicyError(f"[access] walking: expected isotropic or anisotropic, found {walking!r}")
    if walking == "anisotropic" and z is None:
        raise PolicyError("[access] walking = anisotropic needs the elevation grid")
    grid = Grid(speed.shape, transform, None)
    cellsize = grid.cellsize
    items = list(dests.items())

    def one(item: tuple[int, tuple[str, gpd.GeoDataFrame]]) -> TravelTimes:
        k, (kind, d) = item
        if progress:
            progress(kind, k / max(1, len(items)))
        r, c, inside = cells(grid, d.geometry.x.to_numpy(), d.geometry.y.to_numpy())
        flat = r[inside] * speed.shape[1] + c[inside]
        placed = len(flat)
        if placed and surface is not None:
            # two destinations in one cell: the later one labels it (both are 0 minutes away)
            minutes, nearest = surface.nearest(
                flat, np.flatnonzero(inside), work=works[threading.get_ident()]
            )
        elif placed and z is not None:  # anisotropic (z is checked above)
            labels = np.full(speed.shape, -1, dtype=np.int64)
            labels[r[inside], c[inside]] = np.flatnonzero(inside)
            minutes, nearest = travel_time_anisotropic_with_nearest(
                speed,
                z,
                labels,
                cellsize=cellsize,
                road_mask=road_mask,
                direction="to_source",
            )
        else:
            minutes = np.full(speed.shape, np.nan)
            nearest = np.full(speed.shape, -1)
        return TravelTimes(
            minutes=minutes.astype("float32", copy=False),
            nearest=np.asarray(nearest),
            destinations=d,
            cells=np.where(inside, r * speed.shape[1] + c, -1),
            outside_grid=int(len(d)) - placed,
        )

    # the kinds are independent searches on one surface, whose costs are made once:
    # side by side on the kernel threads, each thread reusing its work arrays from one
    # kind to the next (dropped with ``works`` at the end)
    surface = None
    if walking == "isotropic" and any(len(d) for _, d in items):
        surface = PreparedSurface(speed, cellsize=cellsize)
    works: defaultdict[int, dict[str, np.ndarray]] = defaultdict(dict)
    done = thread_map(one, list(enumerate(items)))
    out: dict[str, TravelTimes] = {kind: tt for (kind, _), tt in zip(items, done, strict=True)}
    return out


def sample_travel_times(
    points: gpd.GeoSeries, results: Mapping[str, TravelTimes], *, transform: Affine
) -> pd.DataFrame:
    """``travel_min_<kind>`` (2 decimals) and ``nearest_<kind>_id`` at each point."""
    out = pd.DataFrame(index=points.index)
    for kind, tt in results.items():
        grid = Grid(tt.minutes.shape, transform, None)
        r, c, inside = cells(grid, points.x.to_numpy(), points.y.to_numpy())
        vals = np.full(len(points), np.nan)
        vals[inside] = tt.minutes[r[inside], c[inside]]
        lab = np.full(len(points), -1, dtype=np.int64)
        lab[inside] = tt.nearest[r[inside], c[inside]]
        near = np.full(len(points), None, dtype=object)
        ok = lab >= 0
        ids = tt.destinations["dest_id"].to_numpy()
        near[ok] = ids[lab[ok]]
        out[f"travel_min_{kind}"] = np.round(vals, 2)
        out[f"nearest_{kind}_id"] = near
    return out
