"""Terrain kernels: slope, aspect, hillshade, local relief and void filling.

All kernels take a 2-D elevation array in metres (``float``; NaN marks
nodata) and return arrays of the same shape. Slope, aspect and hillshade use
Horn's 3x3 method exactly as ``gdaldem`` computes it, so interior cells agree
with ``gdaldem slope`` to well under 0.01 degree.

Edges
    ``gdaldem`` leaves the outermost row and column nodata unless it is given
    ``-compute_edges``. Here edge cells are computed by *edge replication*: a
    neighbour outside the array takes the value of the nearest cell inside it.
    The block-wise functions use the same rule at the raster's own border and
    read a one-cell halo everywhere else, so a block-wise result equals the
    one-piece result exactly.

NaN
    A cell is NaN in the output when it is NaN in the input or when any of its
    eight neighbours is NaN (Horn's stencil needs all of them).

The file-level function :func:`slope_file` (paths in, paths out) sits in its
own section at the end: it is the one place in ``geo/`` that touches files,
because a county DEM may not fit in memory and the streaming belongs next to
the kernel it streams.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import rasterio
from numba import njit
from rasterio.windows import Window

from geo.threads import run_chunks
from layers.errors import CRSError, LayerSchemaError

__all__ = [
    "aspect",
    "fill_voids",
    "hillshade",
    "local_relief",
    "slope",
    "slope_blockwise",
    "slope_file",
    "slope_percent",
]

# Kernel modes (private): which quantity the Horn kernel writes.
_SLOPE_DEG = 0
_SLOPE_PCT = 1
_ASPECT = 2
_HILLSHADE = 3


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------
def _check_dem(z: np.ndarray, name: str = "z") -> np.ndarray:
    z = np.asarray(z)
    if z.ndim != 2:
        raise LayerSchemaError(
            f"{name}: expected a 2-D elevation array, found {z.ndim}-D with shape {z.shape}"
        )
    if z.shape[0] < 1 or z.shape[1] < 1:
        raise LayerSchemaError(f"{name}: expected a non-empty array, found shape {z.shape}")
    if not np.issubdtype(z.dtype, np.number):
        raise LayerSchemaError(f"{name}: expected a numeric array, found dtype {z.dtype}")
    if z.dtype != np.float32 and z.dtype != np.float64:
        z = z.astype(np.float64)
    return np.ascontiguousarray(z)


def _check_cellsize(cellsize: tuple[float, float] | float) -> tuple[float, float]:
    # checked at run time (untyped callers pass lists, arrays, triples). The test is on
    # cellsize: numpy types isscalar as a TypeGuard that would narrow raw to a union
    # with complex and memoryview, which float() is not typed to take.
    raw: Any = cellsize
    if np.isscalar(cellsize):
        dx = dy = float(raw)
    else:
        try:
            dx, dy = (float(v) for v in raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cellsize: expected (dx, dy) in metres, found {cellsize!r}") from exc
    if not (math.isfinite(dx) and math.isfinite(dy) and dx > 0 and dy > 0):
        raise ValueError(
            f"cellsize: expected two positive finite sizes in metres, found ({dx}, {dy})"
        )
    return dx, dy


# ---------------------------------------------------------------------------
# Horn kernels
# ---------------------------------------------------------------------------
# One compiled kernel per quantity so the inner loop has no per-cell branch on
# the mode; interior columns need no index clamping, the two edge columns do.
# NaN propagates through the arithmetic: the 8 neighbours enter the gradients
# and the centre enters as ``e * 0`` (NaN * 0 is NaN), so no NaN test is needed.


@njit(inline="always")
def _grad(z, im, i, ip, jm, j, jp, inv8dx, inv8dy):  # pragma: no cover - compiled
    """Horn gradients (east-west, north-south) in m/m, and ``0 * centre``."""
    a = np.float64(z[im, jm])
    b = np.float64(z[im, j])
    c = np.float64(z[im, jp])
    d = np.float64(z[i, jm])
    f = np.float64(z[i, jp])
    g = np.float64(z[ip, jm])
    hh = np.float64(z[ip, j])
    k = np.float64(z[ip, jp])
    # east minus west, and north minus south (rows run south).
    gx = ((c + 2.0 * f + k) - (a + 2.0 * d + g)) * inv8dx
    gy = ((a + 2.0 * b + c) - (g + 2.0 * hh + k)) * inv8dy
    return gx, gy, np.float64(z[i, j]) * 0.0


@njit(inline="always")
def _slope_val(gx, gy, percent):  # pragma: no cover - compiled
    r = math.sqrt(gx * gx + gy * gy)
    if percent:
        return 100.0 * r
    return math.atan(r) * (180.0 / math.pi)


@njit(inline="always")
def _aspect_val(gx, gy, flat):  # pragma: no cover - compiled
    if gx == 0.0 and gy == 0.0:
        return flat
    # gdaldem: atan2(dy, -dx) with dy = south - north, then to azimuth.
    ang = math.atan2(-gy, -gx) * (180.0 / math.pi)
    if ang > 90.0:
        ang = 450.0 - ang
    else:
        ang = 90.0 - ang
    if ang >= 360.0:
        ang -= 360.0
    return ang


@njit(inline="always")
def _shade_val(gx, gy, p0, p1, p2, p3):  # pragma: no cover - compiled
    # gdaldem hillshade: x = west - east, y = north - south (per metre).
    x = -gx
    y = gy
    cang = (p0 - (y * p1 - x * p2)) / math.sqrt(1.0 + p3 * (x * x + y * y))
    v = 1.0 if cang <= 0.0 else 1.0 + 254.0 * cang
    return math.floor(v + 0.5)


@njit(cache=True, nogil=True)
def _slope_kernel(z, out, dx, dy, percent, r0, r1):  # pragma: no cover - compiled
    h, w = z.shape
    inv8dx = 1.0 / (8.0 * dx)
    inv8dy = 1.0 / (8.0 * dy)
    for i in range(r0, r1):
        im = i - 1 if i > 0 else 0
        ip = i + 1 if i < h - 1 else h - 1
        for j in range(1, w - 1):
            gx, gy, nz = _grad(z, im, i, ip, j - 1, j, j + 1, inv8dx, inv8dy)
            out[i, j] = _slope_val(gx, gy, percent) + nz
        for j in (0, w - 1):
            gx, gy, nz = _grad(z, im, i, ip, max(j - 1, 0), j, min(j + 1, w - 1), inv8dx, inv8dy)
            out[i, j] = _slope_val(gx, gy, percent) + nz


@njit(cache=True, nogil=True)
def _aspect_kernel(z, out, dx, dy, flat, r0, r1):  # pragma: no cover - compiled
    h, w = z.shape
    inv8dx = 1.0 / (8.0 * dx)
    inv8dy = 1.0 / (8.0 * dy)
    for i in range(r0, r1):
        im = i - 1 if i > 0 else 0
        ip = i + 1 if i < h - 1 else h - 1
        for j in range(1, w - 1):
            gx, gy, nz = _grad(z, im, i, ip, j - 1, j, j + 1, inv8dx, inv8dy)
            out[i, j] = _aspect_val(gx, gy, flat) + nz
        for j in (0, w - 1):
            gx, gy, nz = _grad(z, im, i, ip, max(j - 1, 0), j, min(j + 1, w - 1), inv8dx, inv8dy)
            out[i, j] = _aspect_val(gx, gy, flat) + nz


@njit(cache=True, nogil=True)
def _shade_kernel(z, out, dx, dy, p0, p1, p2, p3, r0, r1):  # pragma: no cover - compiled
    h, w = z.shape
    inv8dx = 1.0 / (8.0 * dx)
    inv8dy = 1.0 / (8.0 * dy)
    for i in range(r0, r1):
        im = i - 1 if i > 0 else 0
        ip = i + 1 if i < h - 1 else h - 1
        for j in range(1, w - 1):
            gx, gy, nz = _grad(z, im, i, ip, j - 1, j, j + 1, inv8dx, inv8dy)
            out[i, j] = _shade_val(gx, gy, p0, p1, p2, p3) + nz
        for j in (0, w - 1):
            gx, gy, nz = _grad(z, im, i, ip, max(j - 1, 0), j, min(j + 1, w - 1), inv8dx, inv8dy)
            out[i, j] = _shade_val(gx, gy, p0, p1, p2, p3) + nz


def _run_horn(
    z: np.ndarray,
    dx: float,
    dy: float,
    mode: int,
    params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
) -> np.ndarray:
    out = np.empty(z.shape, dtype=np.float32)
    dx, dy = float(dx), float(dy)
    p0, p1, p2, p3 = (float(p) for p in params)
    # rows in chunks on threads (the kernels release the GIL): see geo.threads

    def run(r0: int, r1: int) -> None:
        if mode in (_SLOPE_DEG, _SLOPE_PCT):
            _slope_kernel(z, out, dx, dy, mode == _SLOPE_PCT, r0, r1)
        elif mode == _ASPECT:
            _aspect_kernel(z, out, dx, dy, p0, r0, r1)
        else:
            _shade_kernel(z, out, dx, dy, p0, p1, p2, p3, r0, r1)

    run_chunks(run, z.shape[0])
    return out


def slope(z: np.ndarray, *, cellsize: tuple[float, float] | float) -> np.ndarray:
    """Slope in degrees by Horn's method, as ``gdaldem slope``.

    Parameters
    ----------
    z : numpy.ndarray
        2-D elevations in metres; NaN marks nodata. Any numeric dtype; the
        arithmetic is done in float64.
    cellsize : tuple of float, or float
        ``(dx, dy)``: pixel width and height in metres, both positive
        (a single number means square pixels).

    Returns
    -------
    numpy.ndarray
        float32 slope in degrees, in ``[0, 90)``, same shape as ``z``. NaN
        where the cell or any of its 8 neighbours is NaN. Edge cells are
        computed with edge replication (``gdaldem`` leaves them nodata).

    Raises
    ------
    LayerSchemaError
        If ``z`` is not a non-empty 2-D numeric array.
    ValueError
        If ``cellsize`` is not positive and finite.
    """
    z = _check_dem(z)
    dx, dy = _check_cellsize(cellsize)
    return _run_horn(z, dx, dy, _SLOPE_DEG)


def slope_percent(z: np.ndarray, *, cellsize: tuple[float, float] | float) -> np.ndarray:
    """Slope in percent (100 * rise / run) by Horn's method, as ``gdaldem slope -p``.

    Parameters
    ----------
    z : numpy.ndarray
        2-D elevations in metres; NaN marks nodata.
    cellsize : tuple of float, or float
        ``(dx, dy)`` pixel size in metres, positive.

    Returns
    -------
    numpy.ndarray
        float32 slope in percent, same shape; NaN and edges as :func:`slope`.

    Raises
    ------
    LayerSchemaError
        If ``z`` is not a non-empty 2-D numeric array.
    ValueError
        If ``cellsize`` is not positive and finite.
    """
    z = _check_dem(z)
    dx, dy = _check_cellsize(cellsize)
    return _run_horn(z, dx, dy, _SLOPE_PCT)


def aspect(
    z: np.ndarray,
    *,
    cellsize: tuple[float, float] | float,
    flat_value: float = -1.0,
) -> np.ndarray:
    """Aspect (downslope direction) in degrees clockwise from north, as ``gdaldem aspect``.

    0 is north, 90 east, 180 south, 270 west; values in ``[0, 360)``. The
    raster is taken as north-up (row 0 is the northern edge).

    Parameters
    ----------
    z : numpy.ndarray
        2-D elevations in metres; NaN marks nodata.
    cellsize : tuple of float, or float
        ``(dx, dy)`` pixel size in metres, positive. Unlike ``gdaldem`` the
        two gradients are divided by their own pixel size, so non-square
        pixels give the true aspect; for square pixels the two agree.
    flat_value : float, default -1.0
        Value for perfectly flat cells (both gradients exactly zero), where
        aspect is undefined. ``gdaldem`` writes its nodata value (-9999) there,
        or 0 with ``-zero_for_flat``. The default -1 keeps flat cells apart
        from nodata (NaN).

    Returns
    -------
    numpy.ndarray
        float32 aspect in degrees; ``flat_value`` on flat cells; NaN where the
        cell or a neighbour is NaN. Edge cells by edge replication.

    Raises
    ------
    LayerSchemaError
        If ``z`` is not a non-empty 2-D numeric array.
    ValueError
        If ``cellsize`` is not positive and finite.

    Notes
    -----
    On near-flat cells float32 (GDAL) and float64 (here) arithmetic differ by
    a few degrees; compare with ``gdaldem`` only where slope exceeds 1 degree.
    """
    z = _check_dem(z)
    dx, dy = _check_cellsize(cellsize)
    return _run_horn(z, dx, dy, _ASPECT, (float(flat_value), 0.0, 0.0, 0.0))


def hillshade(
    z: np.ndarray,
    *,
    cellsize: tuple[float, float] | float,
    azimuth: float = 315.0,
    altitude: float = 45.0,
    z_factor: float = 1.0,
) -> np.ndarray:
    """Hillshade as ``gdaldem hillshade`` (Horn), for the dashboard basemap.

    Parameters
    ----------
    z : numpy.ndarray
        2-D elevations in metres; NaN marks nodata.
    cellsize : tuple of float, or float
        ``(dx, dy)`` pixel size in metres, positive.
    azimuth : float, default 315
        Direction of the light source in degrees clockwise from north.
    altitude : float, default 45
        Elevation of the light source above the horizon, degrees.
    z_factor : float, default 1
        Vertical exaggeration.

    Returns
    -------
    numpy.ndarray
        uint8 shade in 1..255 (gdaldem: ``1 + 254 * cos(angle)``, 1 in full
        shadow), 0 where the cell or a neighbour is NaN.

    Raises
    ------
    LayerSchemaError
        If ``z`` is not a non-empty 2-D numeric array.
    ValueError
        If ``cellsize`` is not positive and finite.
    """
    z = _check_dem(z)
    dx, dy = _check_cellsize(cellsize)
    az = math.radians(azimuth)
    alt = math.radians(altitude)
    params = (
        math.sin(alt),
        math.cos(az) * math.cos(alt) * z_factor,
        math.sin(az) * math.cos(alt) * z_factor,
        z_factor * z_factor,
    )
    shade = _run_horn(z, dx, dy, _HILLSHADE, params)
    return np.nan_to_num(shade, nan=0.0).astype(np.uint8)


def local_relief(z: np.ndarray, *, radius_cells: int) -> np.ndarray:
    """Local relief: maximum minus minimum elevation in a square window.

    Parameters
    ----------
    z : numpy.ndarray
        2-D elevations in metres; NaN marks nodata.
    radius_cells : int
        Half-width of the window in cells; the window is
        ``(2 * radius_cells + 1)`` cells square. Cells outside the array are
        ignored (the window shrinks at the edges).

    Returns
    -------
    numpy.ndarray
        float32 relief in metres, same shape. NaN where the cell itself is
        NaN; NaN neighbours are ignored (relief of the valid cells).

    Raises
    ------
    LayerSchemaError
        If ``z`` is not a non-empty 2-D numeric array.
    ValueError
        If ``radius_cells`` is negative or not an integer.
    """
    z = _check_dem(z)
    if int(radius_cells) != radius_cells or radius_cells < 0:
        raise ValueError(f"radius_cells: expected a non-negative integer, found {radius_cells!r}")
    size = 2 * int(radius_cells) + 1
    nan = np.isnan(z)
    zmax = np.where(nan, -np.inf, z)
    zmin = np.where(nan, np.inf, z)
    # mode="nearest" replicates edge cells, which never changes a max or a min.
    from scipy import ndimage  # imported here: a one-shot slope_file does not need scipy

    hi = ndimage.maximum_filter(zmax, size=size, mode="nearest")
    lo = ndimage.minimum_filter(zmin, size=size, mode="nearest")
    out = (hi - lo).astype(np.float32)
    out[nan] = np.nan
    return out


# ---------------------------------------------------------------------------
# void filling
# ---------------------------------------------------------------------------
def fill_voids(
    z: np.ndarray,
    *,
    outside: np.ndarray | None = None,
    nodata_mask: np.ndarray | None = None,
    max_search_cells: int = 100,
) -> tuple[np.ndarray, int]:
    """Fill voids inside the data with a harmonic (Laplace) surface.

    Each void cell gets the average of its four neighbours, solved exactly as
    one sparse linear system with the void's edge cells as fixed boundary
    values (Dirichlet) and zero flux across the raster border.

    Why Laplace and not inverse distance (``gdal_fillnodata``): the harmonic
    fill is the smoothest surface that meets the void's rim, has no bull's-eye
    artefacts around rim cells, reproduces any plane exactly and never leaves
    the range of the rim values, so no spurious pits or peaks (which would
    turn into false slopes) appear. One sparse direct solve (SuperLU) handles
    all voids at once in well under a second for typical SRTM voids.

    Parameters
    ----------
    z : numpy.ndarray
        2-D elevations in metres; NaN marks voids.
    outside : numpy.ndarray of bool, optional
        True where the raster lies outside the area of interest (for example
        nodata outside the county boundary). A void that contains or touches
        (8-neighbourhood) an outside cell is not a hole in the data but part of
        the outside, and is left NaN.
    nodata_mask : numpy.ndarray of bool, optional
        Extra cells to treat as voids (for DEMs with a sentinel such as -32768
        instead of NaN).
    max_search_cells : int, default 100
        A void with any cell farther than this many cells from valid data is
        too large to interpolate honestly and is left NaN entirely
        (``gdal_fillnodata`` uses the same default distance).

    Returns
    -------
    filled : numpy.ndarray
        float64 copy of ``z`` with the fillable voids filled; ``nodata_mask``
        cells left unfilled are NaN.
    n_filled : int
        Number of cells filled.

    Raises
    ------
    LayerSchemaError
        If ``z`` is not 2-D or a mask's shape differs from ``z``.
    ValueError
        If ``max_search_cells`` is not positive.
    """
    z = _check_dem(z).astype(np.float64, copy=True)
    if max_search_cells <= 0:
        raise ValueError(
            f"max_search_cells: expected a positive number of cells, found {max_search_cells!r}"
        )
    masks = {}
    for name, m in (("outside", outside), ("nodata_mask", nodata_mask)):
        if m is None:
            masks[name] = np.zeros(z.shape, dtype=bool)
            continue
        m = np.asarray(m, dtype=bool)
        if m.shape != z.shape:
            raise LayerSchemaError(
                f"{name}: expected a boolean mask of shape {z.shape}, found shape {m.shape}"
            )
        masks[name] = m
    out_mask = masks["outside"]
    z[masks["nodata_mask"]] = np.nan
    void = np.isnan(z) & ~out_mask
    if not void.any():
        return z, 0

    from scipy import ndimage, sparse  # imported here: only void filling needs them
    from scipy.sparse.linalg import spsolve

    # 4-connected components match the 4-neighbour Laplace stencil.
    labels, n = ndimage.label(void)
    bad = np.zeros(n + 1, dtype=bool)
    bad[0] = True
    if out_mask.any():
        touch = ndimage.binary_dilation(out_mask, structure=np.ones((3, 3), dtype=bool))
        bad[np.unique(labels[touch & void])] = True
    if bad[labels[void]].all():  # every void is part of the outside: nothing to fill
        return z, 0
    # Too large: some cell lies farther than max_search_cells from valid data. A valid cell
    # within that distance of a candidate void lies in the candidates' bounding box grown by
    # max_search_cells + 1, so the distance transform runs on that window only.
    rows = np.flatnonzero((void & ~bad[labels]).any(axis=1))
    cols = np.flatnonzero((void & ~bad[labels]).any(axis=0))
    pad = int(max_search_cells) + 1
    r0, r1 = max(int(rows[0]) - pad, 0), min(int(rows[-1]) + pad + 1, z.shape[0])
    c0, c1 = max(int(cols[0]) - pad, 0), min(int(cols[-1]) + pad + 1, z.shape[1])
    nodata_w = np.isnan(z[r0:r1, c0:c1]) | out_mask[r0:r1, c0:c1]
    if nodata_w.all():  # no valid cell within reach of any candidate
        far_w = np.ones(nodata_w.shape, dtype=bool)
    else:
        far_w = ndimage.distance_transform_edt(nodata_w) > max_search_cells
    bad[np.unique(labels[r0:r1, c0:c1][far_w & void[r0:r1, c0:c1]])] = True
    # A component with no valid neighbour at all (all-NaN raster) has no rim.
    valid = ~np.isnan(z) & ~out_mask
    rim = ndimage.binary_dilation(valid) & void
    has_rim = np.zeros(n + 1, dtype=bool)
    has_rim[np.unique(labels[rim])] = True
    bad |= ~has_rim

    fill = void & ~bad[labels]
    n_fill = int(fill.sum())
    if n_fill == 0:
        return z, 0

    h, w = z.shape
    idx = -np.ones(z.shape, dtype=np.int64)
    rr, cc = np.nonzero(fill)
    idx[rr, cc] = np.arange(n_fill)
    rows_i: list[np.ndarray] = []
    cols_i: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    diag = np.zeros(n_fill)
    rhs = np.zeros(n_fill)
    me = np.arange(n_fill)
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nr, nc = rr + dr, cc + dc
        inside = (nr >= 0) & (nr < h) & (nc >= 0) & (nc < w)
        # Neighbours beyond the raster border: zero flux, no term.
        diag[inside] += 1.0
        nri, nci, mi = nr[inside], nc[inside], me[inside]
        nidx = idx[nri, nci]
        unknown = nidx >= 0
        rows_i.append(mi[unknown])
        cols_i.append(nidx[unknown])
        vals.append(-np.ones(int(unknown.sum())))
        rhs_known = z[nri[~unknown], nci[~unknown]]
        np.add.at(rhs, mi[~unknown], rhs_known)
    rows_i.append(me)
    cols_i.append(me)
    vals.append(diag)
    a = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))),
        shape=(n_fill, n_fill),
    )
    sol = spsolve(a, rhs)
    z[rr, cc] = sol
    return z, n_fill


# ---------------------------------------------------------------------------
# block-wise processing
# ---------------------------------------------------------------------------
def _block_ranges(n: int, block: int) -> list[tuple[int, int]]:
    return [(s, min(s + block, n)) for s in range(0, n, block)]


def slope_blockwise(
    read_window: Callable[[int, int, int, int], np.ndarray],
    write_window: Callable[[int, int, np.ndarray], None],
    shape: tuple[int, int],
    *,
    cellsize: tuple[float, float] | float,
    block: int = 1024,
    percent: bool = False,
    prefetch: bool = False,
) -> None:
    """Slope over a raster too large for memory, one block at a time.

    Each block is read with a one-cell halo (clipped at the raster border,
    where edge replication applies as in :func:`slope`), so the result equals
    the one-piece :func:`slope` exactly, whatever the block size.

    Parameters
    ----------
    read_window : callable
        ``read_window(row_off, col_off, height, width) -> ndarray`` returning
        elevations (NaN for nodata) of that window.
    write_window : callable
        ``write_window(row_off, col_off, array)`` storing a float32 result block.
    shape : tuple of int
        ``(height, width)`` of the whole raster.
    cellsize : tuple of float, or float
        ``(dx, dy)`` pixel size in metres, positive.
    block : int, default 1024
        Block edge length in cells (square blocks).
    percent : bool, default False
        Slope in percent instead of degrees.
    prefetch : bool, default False
        Read the next block in a worker thread while the current one is
        computed and written. ``read_window`` is then called from that thread,
        concurrently with ``write_window`` (they must not share a handle).

    Raises
    ------
    ValueError
        If ``block`` or ``shape`` is not positive, or ``cellsize`` is invalid.
    LayerSchemaError
        If ``read_window`` returns an array of the wrong shape.
    """
    dx, dy = _check_cellsize(cellsize)
    if block < 1:
        raise ValueError(f"block: expected a positive block size in cells, found {block!r}")
    h, w = (int(s) for s in shape)
    if h < 1 or w < 1:
        raise ValueError(f"shape: expected a positive (height, width), found {shape!r}")
    mode = _SLOPE_PCT if percent else _SLOPE_DEG
    tasks = []
    for r0, r1 in _block_ranges(h, block):
        for c0, c1 in _block_ranges(w, block):
            # One-cell halo, clipped at the raster border (edge replication there).
            tasks.append(
                (r0, r1, c0, c1, max(r0 - 1, 0), min(r1 + 1, h), max(c0 - 1, 0), min(c1 + 1, w))
            )

    def read(task: tuple[int, ...]) -> np.ndarray:
        _, _, _, _, hr0, hr1, hc0, hc1 = task
        win = _check_dem(read_window(hr0, hc0, hr1 - hr0, hc1 - hc0), "read_window result")
        if win.shape != (hr1 - hr0, hc1 - hc0):
            raise LayerSchemaError(
                f"read_window({hr0}, {hc0}, {hr1 - hr0}, {hc1 - hc0}): expected shape "
                f"{(hr1 - hr0, hc1 - hc0)}, found {win.shape}"
            )
        return win

    def run(task: tuple[int, ...], win: np.ndarray) -> None:
        r0, r1, c0, c1, hr0, _, hc0, _ = task
        res = _run_horn(win, dx, dy, mode)
        write_window(r0, c0, res[r0 - hr0 : r0 - hr0 + (r1 - r0), c0 - hc0 : c0 - hc0 + (c1 - c0)])

    if not prefetch:
        for task in tasks:
            run(task, read(task))
        return
    # Read the next block in a worker thread while this one is computed and
    # written (GDAL I/O and the numba kernel both release the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        nxt = pool.submit(read, tasks[0])
        for k, task in enumerate(tasks):
            win = nxt.result()
            if k + 1 < len(tasks):
                nxt = pool.submit(read, tasks[k + 1])
            run(task, win)


# ---------------------------------------------------------------------------
# file level (the one path-taking function in this module)
# ---------------------------------------------------------------------------
def slope_file(
    src_path: str,
    dst_path: str,
    *,
    block: int = 1024,
    percent: bool = False,
    band: int = 1,
    nodata: float = -9999.0,
    compress: str = "zstd",
    prefetch: bool = True,
) -> None:
    """Slope of a GeoTIFF DEM, streamed block by block, to a tiled GeoTIFF.

    Never holds the full raster: memory is a few blocks of ``block`` x
    ``block`` cells. The output is a tiled (256 x 256), compressed float32
    GeoTIFF with the source's CRS and transform.

    Parameters
    ----------
    src_path : str
        Source DEM (any GDAL raster) in a projected CRS with metre units and a
        north-up transform.
    dst_path : str
        Output GeoTIFF path (overwritten).
    block : int, default 1024
        Processing block edge in cells.
    percent : bool, default False
        Slope in percent instead of degrees.
    band : int, default 1
        Source band holding the elevations.
    nodata : float, default -9999
        Nodata value written to the output (as ``gdaldem``).
    compress : str, default "zstd"
        GeoTIFF compression (``"zstd"`` at level 1, ``"deflate"``, ``"lzw"``,
        ``"none"``); compression runs on all cores.
    prefetch : bool, default True
        Read the next block while the current one is computed and written.

    Raises
    ------
    CRSError
        If the source has no CRS, a geographic CRS, or a rotated transform.
    """
    with rasterio.open(src_path) as src:
        if src.crs is None:
            raise CRSError(f"{src_path}: expected a DEM with a projected CRS, found no CRS")
        if src.crs.is_geographic:
            raise CRSError(
                f"{src_path}: expected a projected CRS in metres for slope, found geographic {src.crs.to_string()}"
            )
        t = src.transform
        if t.b != 0 or t.d != 0:
            raise CRSError(
                f"{src_path}: expected a north-up transform without rotation, found {tuple(t)[:6]}"
            )
        cellsize = (abs(t.a), abs(t.e))
        src_nodata = src.nodatavals[band - 1]

        profile = {
            "driver": "GTiff",
            "height": src.height,
            "width": src.width,
            "count": 1,
            "dtype": "float32",
            "crs": src.crs,
            "transform": t,
            "nodata": nodata,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "BIGTIFF": "IF_SAFER",
            "NUM_THREADS": "ALL_CPUS",
        }
        if compress and compress.lower() != "none":
            profile["compress"] = compress
            # ZSTD level 1 without a predictor: the floating-point predictor
            # saves ~7% of the size of a slope raster but triples the CPU time.
            if compress.lower() == "zstd":
                profile["zstd_level"] = 1

        # float32 DEMs stay float32 (the kernel widens each value to float64);
        # integer DEMs become float32, which holds every int16 exactly.
        src_dtype = np.dtype(src.dtypes[band - 1])
        work_dtype = np.float64 if src_dtype == np.float64 else np.float32
        mask_nodata = src_nodata is not None and not np.isnan(src_nodata)

        def read_window(r: int, c: int, hh: int, ww: int) -> np.ndarray:
            arr = src.read(band, window=Window(c, r, ww, hh), out_dtype=work_dtype)
            if mask_nodata:
                arr[arr == src_nodata] = np.nan
            return arr

        with rasterio.open(dst_path, "w", **profile) as dst:

            def write_window(r: int, c: int, arr: np.ndarray) -> None:
                arr[np.isnan(arr)] = nodata  # arr is this block's own buffer
                dst.write(arr, 1, window=Window(c, r, arr.shape[1], arr.shape[0]))

            slope_blockwise(
                read_window,
                write_window,
                (src.height, src.width),
                cellsize=cellsize,
                block=block,
                percent=percent,
                prefetch=prefetch,
            )


def county_terrain(
    z: np.ndarray, outside: np.ndarray, *, cellsize: float | tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, int]:
    """The county's DEM with its voids filled, and its slope.

    Parameters
    ----------
    z : ndarray
        Elevations (NaN = void).
    outside : ndarray of bool
        Cells outside the county: left NaN, never filled.
    cellsize : float or (float, float)
        Metres.

    Returns
    -------
    (z_filled, slope_deg float32, n_filled)
    """
    z_filled, n_filled = fill_voids(np.where(outside, np.nan, z), outside=outside)
    z_filled = np.where(outside, np.nan, z_filled)
    return z_filled, slope(z_filled, cellsize=cellsize).astype("float32"), n_filled
