"""Offline XYZ raster tiles served by the dashboard's Flask server.

``/tiles/<layer>/<z>/<x>/<y>.png`` renders, from the plan's ``rasters/``:

- ``hillshade``: grey hillshade of ``dem.tif`` (the offline basemap);
- ``elevation``: hillshade tinted by elevation;
- ``slope_deg``, ``travel_min_<kind>``, ``suitability``: coloured overlays with the
  ranges given by :data:`OVERLAYS` (also used for the legends).

The hillshade and elevation tiles are read from the plan's Web-Mercator COG of the DEM
(``web/dem.tif``, written with the plan by :mod:`layers.cog`): a window of one overview
level, no reprojection. The overlays are read straight from the plan's tiled, overviewed
rasters, nearest neighbour (:func:`read_nearest_tile`: one window read, no warp). Plans
written before the COG are reprojected on the fly with rio-tiler (slower, same picture).
The hillshade is :func:`geo.terrain.hillshade` (:func:`shade`). Tiles are cached in
memory (LRU keyed by file, modification time and tile).  Cells with nodata are
transparent.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from flask import Response, abort
from PIL import Image
from rasterio.enums import Resampling
from rasterio.windows import from_bounds

from layers.catalogue import TRAVEL_KINDS

EMPTY_PNG_SIZE = 256

#: Held while a deferred import runs: the server's threads ask for the same modules at
#: once, and a package with circular imports (rio-tiler) fails when a second thread sees
#: it half-initialised.
_IMPORTS = threading.Lock()


@dataclass(frozen=True)
class Overlay:
    """How a raster overlay is coloured: colormap name, value range, unit, reversed."""

    raster: str
    cmap: str
    vmin: float
    vmax: float
    unit: str
    reverse: bool = False


#: Overlays and their colouring (colour-blind-friendly sequential maps).
OVERLAYS: dict[str, Overlay] = {
    "slope_deg": Overlay("slope_deg", "magma_r", 0.0, 45.0, "°"),
    "suitability": Overlay("suitability", "viridis", 0.0, 1.0, ""),
    **{
        f"travel_min_{k}": Overlay(f"travel_min_{k}", "cividis", 0.0, 120.0, "min", reverse=True)
        for k in TRAVEL_KINDS
    },
}
BASE_LAYERS = ("hillshade", "elevation")


@lru_cache(maxsize=16)
def _lut(cmap: str, reverse: bool) -> np.ndarray:
    with _IMPORTS:
        from matplotlib import colormaps  # deferred: about 0.2 s, needed once per colormap
    cm = colormaps[cmap]
    lut = (cm(np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
    return lut[::-1] if reverse else lut


def legend_stops(name: str, n: int = 5) -> list[tuple[float, str]]:
    """``n`` (value, hex colour) pairs for an overlay's legend.

    Raises
    ------
    KeyError
        For an unknown overlay name.
    """
    ov = OVERLAYS[name]
    lut = _lut(ov.cmap, ov.reverse)
    out = []
    for i in range(n):
        f = i / (n - 1)
        r, g, b = lut[int(round(f * 255))]
        out.append((ov.vmin + f * (ov.vmax - ov.vmin), f"#{r:02x}{g:02x}{b:02x}"))
    return out


def shade(z: np.ndarray, *, cellsize_m: float) -> np.ndarray:
    """Hillshade 0..1 of an elevation array, NaN where ``z`` is NaN.

    The one hillshade of the dashboard (tiles and the printed briefing map):
    :func:`geo.terrain.hillshade` (Horn, as ``gdaldem``; sun at 315°, 45° up) scaled to
    0..1. Nodata cells are filled with the mean elevation before shading (so the cells
    along the county's edge are shaded from their neighbours) and are NaN again after.

    Parameters
    ----------
    z : 2-D array
        Elevation in metres; NaN marks nodata.
    cellsize_m : float
        Ground size of a cell in metres.
    """
    with _IMPORTS:
        from geo.terrain import hillshade  # deferred: numba and scipy, not for a page
    zz = np.asarray(z, dtype=float)
    nodata = np.isnan(zz)
    filled = np.where(nodata, np.nanmean(zz) if not nodata.all() else 0.0, zz)
    hs = (hillshade(filled, cellsize=cellsize_m).astype(float) - 1.0) / 254.0
    hs[nodata] = np.nan
    return hs


def colorize(values: np.ndarray, name: str) -> np.ndarray:
    """RGBA uint8 image of an overlay's values (NaN → transparent)."""
    ov = OVERLAYS[name]
    v = np.asarray(values, dtype=float)
    f = np.clip((v - ov.vmin) / (ov.vmax - ov.vmin), 0, 1)
    idx = np.nan_to_num(f * 255, nan=0).astype(np.uint8)
    rgb = _lut(ov.cmap, ov.reverse)[idx]
    alpha = np.where(np.isnan(v), 0, 255).astype(np.uint8)
    return np.dstack([rgb, alpha])


def _png(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


@lru_cache(maxsize=1)
def empty_png() -> bytes:
    """A fully transparent 256x256 PNG."""
    return _png(np.zeros((EMPTY_PNG_SIZE, EMPTY_PNG_SIZE, 4), np.uint8))


def _elev_tint(z: np.ndarray, lo: float, hi: float) -> np.ndarray:
    with _IMPORTS:
        from matplotlib import colormaps
    f = np.clip((z - lo) / max(hi - lo, 1.0), 0, 1)
    cm = colormaps["gist_earth"]
    return cm(0.25 + 0.7 * np.nan_to_num(f))[..., :3]


#: Deepest zoom a tile is served at (a 2 cm pixel; Leaflet's maps stop well before).
MAX_ZOOM = 24


def tile_exists(z: int, x: int, y: int) -> bool:
    """True for a tile of the Web-Mercator pyramid: ``0 <= z <= MAX_ZOOM`` and
    ``0 <= x, y < 2**z``."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def render_tile(rasters_dir: Path | str, layer: str, z: int, x: int, y: int) -> bytes:
    """PNG bytes of one XYZ tile (transparent outside the raster).

    A hillshade or elevation tile is read from the plan's Web-Mercator COG of the DEM
    (``web/dem.tif``, written by :func:`layers.cog.write_cog`) when there is one: a window
    read, no reprojection; plans written before it are reprojected from ``rasters/dem.tif``
    (rio-tiler). An overlay tile is read from ``rasters/<raster>.tif`` by
    :func:`read_nearest_tile`.

    Raises
    ------
    KeyError
        For an unknown layer name.
    ValueError
        For a tile outside the pyramid (:func:`tile_exists`).
    FileNotFoundError
        When the layer's raster is not in ``rasters_dir``.
    """
    if layer not in BASE_LAYERS and layer not in OVERLAYS:
        raise KeyError(f"tile layer: expected one of {[*BASE_LAYERS, *OVERLAYS]}, found {layer!r}")
    if not tile_exists(z, x, y):
        raise ValueError(
            f"tile {z}/{x}/{y}: expected zoom 0..{MAX_ZOOM} and x, y in 0..2**zoom - 1"
        )
    raster = "dem" if layer in BASE_LAYERS else OVERLAYS[layer].raster
    web = web_raster(rasters_dir, raster)
    if web is not None:
        return _render_cached(str(web), web.stat().st_mtime_ns, layer, z, x, y, True)
    path = Path(rasters_dir) / f"{raster}.tif"
    if not path.is_file():
        raise FileNotFoundError(f"tile layer {layer}: raster {path} not found")
    return _render_cached(str(path), path.stat().st_mtime_ns, layer, z, x, y, False)


def web_raster(rasters_dir: Path | str, raster: str) -> Path | None:
    """The plan's Web-Mercator COG of a raster (``OUT/web/<raster>.tif``: the DEM), or None."""
    path = Path(rasters_dir).parent / "web" / f"{raster}.tif"
    return path if path.is_file() else None


#: Half the Web-Mercator world's width in metres (EPSG:3857's x of longitude 180°).
_ORIGIN = 20037508.342789244


def read_web_tile(
    path: Path | str, z: int, x: int, y: int, *, buffer: int = 0, resampling: str = "nearest"
) -> np.ndarray | None:
    """Values of one XYZ tile from a Web-Mercator COG: a window read, no reprojection.

    Parameters
    ----------
    path : path
        A COG in EPSG:3857 (:func:`layers.cog.write_cog`).
    z, x, y : int
        The tile.
    buffer : int, default 0
        Extra pixels read on each side (a hillshade needs its neighbours).
    resampling : {"nearest", "bilinear", "cubic", "average"}
        Used when the tile's pixels do not fall on the file's (GDAL picks the overview).

    Returns
    -------
    numpy.ndarray or None
        ``(256 + 2 * buffer)``-square float array, NaN outside the raster or at nodata;
        None when the tile does not touch the raster.
    """
    size = 2 * _ORIGIN / 2**z
    px = size / 256
    n = 256 + 2 * buffer
    left = -_ORIGIN + x * size - buffer * px
    top = _ORIGIN - y * size + buffer * px
    right, bottom = left + n * px, top - n * px
    with rasterio.open(path) as src:
        bd = src.bounds
        il, ir = max(left, bd.left), min(right, bd.right)
        ib, it = max(bottom, bd.bottom), min(top, bd.top)
        c0, c1 = round((il - left) / px), round((ir - left) / px)
        r0, r1 = round((top - it) / px), round((top - ib) / px)
        if c1 <= c0 or r1 <= r0:
            return None
        data = src.read(
            1,
            window=from_bounds(il, ib, ir, it, src.transform),
            out_shape=(r1 - r0, c1 - c0),
            resampling=Resampling[resampling],
            masked=True,
        )
    out = np.full((n, n), np.nan)
    out[r0:r1, c0:c1] = data.astype(float).filled(np.nan)
    return out


#: Pixels between the tile points taken exactly into the raster's CRS (bilinear between).
_LATTICE = 8


def _transform(
    src_crs: Any, dst_crs: Any, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points from one CRS to another (GDAL through rasterio: about 1 ms on any thread,
    where a pyproj Transformer rebuilds itself for every new thread of the server, ~60 ms);
    non-finite where the projection fails."""
    from rasterio._err import CPLE_BaseError
    from rasterio.errors import CRSError
    from rasterio.warp import transform

    try:
        tx, ty = transform(src_crs, dst_crs, x.ravel(), y.ravel())
    except (CPLE_BaseError, CRSError, ValueError, RuntimeError):
        return np.full(x.shape, np.nan), np.full(y.shape, np.nan)
    return np.asarray(tx, float).reshape(x.shape), np.asarray(ty, float).reshape(y.shape)


def _lattice_to_pixels(v: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of values on the lattice (every ``_LATTICE`` pixels, edges
    included) to the 256 x 256 pixel centres of a tile."""
    c = (np.arange(256) + 0.5) / _LATTICE
    i0 = np.minimum(c.astype(np.int64), v.shape[0] - 2)
    f = c - i0
    rows = v[i0] * (1 - f)[:, None] + v[i0 + 1] * f[:, None]
    return rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]


@lru_cache(maxsize=32)
def _raster_meta(path: str, mtime: int) -> tuple[Any, Any, list[int]]:
    """(CRS, transform, overview factors) of a plan raster, read once per file version."""
    with rasterio.open(path) as src:
        return src.crs, src.transform, list(src.overviews(1))


def read_nearest_tile(path: Path | str, z: int, x: int, y: int) -> np.ndarray | None:
    """One XYZ tile of a plan raster in its metric CRS, nearest neighbour, without a warp.

    Each pixel centre of the tile is taken into the raster's CRS (exactly on a lattice every
    ``_LATTICE`` pixels, bilinear between: far below a cell at any zoom the map shows, as
    GDAL's approximate transformer does) and takes the value of the cell it falls in, read
    from the finest overview level that is not finer than the tile's pixels (the full
    resolution when zoomed in). The overlays (slope, travel minutes, suitability) are read
    so straight from the plan's tiled, overviewed rasters: one window read per tile.

    Returns
    -------
    numpy.ndarray or None
        256 x 256 float array, NaN outside the raster or at nodata; None when the tile does
        not touch the raster. A rotated raster is warped instead (rio-tiler).
    """
    size = 2 * _ORIGIN / 2**z
    px = size / 256
    left, top = -_ORIGIN + x * size, _ORIGIN - y * size
    k = np.arange(0, 257, _LATTICE, dtype=float)
    gx, gy = np.meshgrid(left + k * px, top - k * px)
    crs, t, factors = _raster_meta(str(path), Path(path).stat().st_mtime_ns)
    if t.b != 0 or t.d != 0 or crs is None:
        return _read_reprojected(str(path), "", z, x, y)
    res = min(abs(t.a), abs(t.e))
    with np.errstate(invalid="ignore"):
        lx, ly = _transform("EPSG:3857", crs, gx, gy)
        # a tile reaching where the projection fails (far from a transverse Mercator's
        # meridian: a world-scale tile) does not come back: such a tile is warped instead
        bx, by = _transform(crs, "EPSG:3857", lx, ly)
        if not (np.hypot(bx - gx, by - gy) <= 0.01 * px).all():
            return _read_reprojected(str(path), "", z, x, y)
    # the ground size of a tile pixel in the raster's units, from the lattice
    step = float(np.median(np.hypot(np.diff(lx, axis=1), np.diff(ly, axis=1)))) / _LATTICE
    level = -1
    for i, f in enumerate(factors):
        if res * f <= step * (1 + 1e-9):
            level = i
    X, Y = _lattice_to_pixels(lx), _lattice_to_pixels(ly)
    with rasterio.open(path, **({"overview_level": level} if level >= 0 else {})) as src:
        t, h, w = src.transform, src.height, src.width
        cols = np.floor((X - t.c) / t.a).astype(np.int64)
        rows = np.floor((Y - t.f) / t.e).astype(np.int64)
        inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        if not inside.any():
            return None
        r, c = rows[inside], cols[inside]
        r0, c0 = int(r.min()), int(c.min())
        win = src.read(1, window=((r0, int(r.max()) + 1), (c0, int(c.max()) + 1)), masked=True)
    out = np.full((256, 256), np.nan)
    out[inside] = win.astype(float).filled(np.nan)[r - r0, c - c0]
    return out


def _read_reprojected(path: str, layer: str, z: int, x: int, y: int) -> np.ndarray | None:
    """The same tile from a plan raster in its metric CRS (plans without ``web/``)."""
    with _IMPORTS:
        from rio_tiler.errors import NoOverviewWarning, TileOutsideBounds
        from rio_tiler.io import Reader

    base = layer in BASE_LAYERS
    try:
        with warnings.catch_warnings():
            # plan rasters are small; reading them without overviews is fine
            warnings.simplefilter("ignore", NoOverviewWarning)
            src = Reader(path)
        with src:
            img = src.tile(
                x,
                y,
                z,
                buffer=1 if base else None,
                resampling_method="cubic" if base else "nearest",
                reproject_method="cubic" if base else "nearest",
            )
    except TileOutsideBounds:
        return None
    return img.array[0].astype(float).filled(np.nan)


@lru_cache(maxsize=2048)
def _render_cached(path: str, mtime: int, layer: str, z: int, x: int, y: int, web: bool) -> bytes:
    base = layer in BASE_LAYERS
    if web:
        arr = read_web_tile(
            path, z, x, y, buffer=1 if base else 0, resampling="bilinear" if base else "nearest"
        )
    elif not base:
        arr = read_nearest_tile(path, z, x, y)
    else:
        arr = _read_reprojected(path, layer, z, x, y)
    if arr is None or not np.isfinite(arr).any():
        return empty_png()
    if not base:
        return _png(colorize(arr, layer))
    # ground size of a Web-Mercator pixel at this tile's latitude
    lat = math.radians(_tile_lat(y + 0.5, z))
    cell = 40075016.686 * math.cos(lat) / (256 * 2**z)
    hs = shade(arr, cellsize_m=cell)[1:-1, 1:-1]
    zc = arr[1:-1, 1:-1]
    if layer == "hillshade":
        g = np.nan_to_num(60 + 195 * hs, nan=0).astype(np.uint8)
        rgb = np.dstack([g, g, g])
    else:
        tint = _elev_tint(zc, *_dem_range(path, mtime))
        shade_ = np.nan_to_num(0.45 + 0.55 * hs, nan=0)[..., None]
        rgb = (np.clip(tint * shade_, 0, 1) * 255).astype(np.uint8)
    alpha = np.where(np.isnan(zc), 0, 255).astype(np.uint8)
    return _png(np.dstack([rgb, alpha]))


@lru_cache(maxsize=8)
def _dem_range(path: str, mtime: int) -> tuple[float, float]:
    with rasterio.open(path) as src:
        ov = src.read(1, out_shape=(max(1, src.height // 8), max(1, src.width // 8)), masked=True)
    data = ov.astype(float).filled(np.nan)
    if not np.isfinite(data).any():
        return 0.0, 1.0
    return float(np.nanpercentile(data, 2)), float(np.nanpercentile(data, 98))


def _tile_lat(ty: float, z: int) -> float:
    n = math.pi - 2 * math.pi * ty / 2**z
    return math.degrees(math.atan(math.sinh(n)))


def register_tiles(server, rasters_dir_getter) -> None:
    """Add the ``/tiles/<layer>/<z>/<x>/<y>.png`` route to a Flask server.

    Parameters
    ----------
    server : flask.Flask
    rasters_dir_getter : callable
        Returns the current plan's ``rasters`` directory.
    """

    # signed: a negative tile matches here and is a 404, not the pages' catch-all (200)
    @server.route(
        "/tiles/<layer>/<int(signed=True):z>/<int(signed=True):x>/<int(signed=True):y>.png"
    )
    def _tile(layer: str, z: int, x: int, y: int):  # pragma: no cover - exercised via HTTP
        # an unknown layer or a tile outside the pyramid does not exist: 404, never a 500
        if (layer not in BASE_LAYERS and layer not in OVERLAYS) or not tile_exists(z, x, y):
            abort(404)
        try:
            data = render_tile(rasters_dir_getter(), layer, z, x, y)
        except FileNotFoundError:
            data = empty_png()
        resp = Response(data, mimetype="image/png")
        resp.headers["Cache-Control"] = "public, max-age=3600"
        return resp

    @server.route("/tiles/<path:_rest>")
    def _no_tile(_rest: str):  # pragma: no cover - exercised via HTTP
        abort(404)  # any other path under /tiles/ is no tile (not a page)
