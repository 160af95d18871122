"""DEM sources: one file, a list of tiles, a glob pattern, a zip of tiles or a VRT.

``[layers.dem] path`` may be::

    path = "dem.tif"                              # one raster (GeoTIFF, .hgt, .img...)
    path = ["N28E108.hgt.zip", "N28E109.hgt.zip"] # tiles, mosaicked
    path = "srtm/*.hgt.zip"                       # a glob pattern (sorted), mosaicked
    path = "srtm_tiles.zip"                       # every raster inside is a tile
    path = "dem.vrt"                              # a VRT (gdalbuildvrt), read by GDAL

:func:`resolve_tiles` turns that into the list of rasters GDAL opens (zip members as
``/vsizip/`` paths, never unpacked); a tile that is missing is named in the error.
:func:`read_mosaic` reads them as one array on one grid (``rasterio.merge``), so a
seam between tiles is continuous data, never a line of nodata, and the DEM is warped
once. :func:`county_outside_dem` measures how much of the county has no elevation.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
import rasterio.merge
import rasterio.windows
from pyproj import CRS
from rasterio.errors import RasterioIOError
from rasterio.features import geometry_mask, shapes
from rasterio.transform import Affine
from scipy import ndimage
from shapely import union_all
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from layers.errors import CRSError, LayerNotFoundError, LayerSchemaError

__all__ = [
    "DemCoverage",
    "DemTile",
    "MAX_DEM_CELLS",
    "MIN_DEM_SIDE",
    "MissingTilesError",
    "county_outside_dem",
    "max_dem_cells",
    "network_path",
    "read_mosaic",
    "refuse_network",
    "resolve_tiles",
    "tiles_crs_and_bounds",
    "vsizip_sha256",
]

#: Rasters a DEM may come in (inside a zip too).
DEM_SUFFIXES = {".tif", ".tiff", ".hgt", ".vrt", ".img", ".asc", ".bil", ".dem"}
_GLOB_CHARS = set("*?[")
#: Two tiles sharing more than this share of the smaller one are the same ground twice
#: (a DEM and its hillshade in one zip), not neighbours (SRTM neighbours share one row).
_OVERLAP_MAX_FRAC = 0.5

DemSpec = str | Path | Sequence[str | Path]

#: Largest DEM (cells actually read, after the clip to the county) anju reads; the size is
#: checked from the raster's header before a pixel is read. ``ANJU_MAX_DEM_CELLS`` sets it.
MAX_DEM_CELLS = 200_000_000
#: Smallest DEM: slope and relief need a cell's eight neighbours.
MIN_DEM_SIDE = 3

# GDAL virtual file systems that reach the network, and URLs: anju reads local files only
_NETWORK_VSI = re.compile(
    r"/vsi(curl|s3|gs|az|adls|oss|swift|hdfs|webhdfs)(_streaming)?/", re.IGNORECASE
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]+:/", re.IGNORECASE)


def network_path(path: str | Path) -> bool:
    """Whether ``path`` is a URL or a GDAL virtual path that reaches the network.

    GDAL reads a virtual path only at the start (``/vsizip//vsicurl/...`` nests them), so a
    local folder that happens to be named ``vsis3`` is not one.
    """
    s = str(path)
    if s.startswith("/vsi"):
        return bool(_NETWORK_VSI.search(s)) or "://" in s
    return bool(_URL.match(s))


def refuse_network(path: str | Path, label: str | None = None) -> None:
    """Raise :class:`LayerSchemaError` when ``path`` would make GDAL reach the network.

    Raises
    ------
    LayerSchemaError
        For ``/vsicurl/``, ``/vsis3/`` and the other network file systems, and URLs.
    """
    if network_path(path):
        raise LayerSchemaError(
            f"{label or path}: a network path ({str(path)[:80]!r}); expected a local file "
            "(anju reads no URL and no GDAL network file system: download the file into "
            "the workspace)"
        )


def max_dem_cells() -> int:
    """The DEM cell limit: ``ANJU_MAX_DEM_CELLS`` or :data:`MAX_DEM_CELLS`."""
    raw = os.environ.get("ANJU_MAX_DEM_CELLS")
    try:
        return int(raw) if raw else MAX_DEM_CELLS
    except ValueError:
        return MAX_DEM_CELLS


def _refuse_size(label: str, width: float, height: float) -> None:
    limit = max_dem_cells()
    if width * height > limit:
        raise LayerSchemaError(
            f"{label}: the DEM is {int(width):,} x {int(height):,} cells "
            f"({width * height / 1e6:,.0f} million) to read, above the limit of "
            f"{limit / 1e6:,.0f} million cells (ANJU_MAX_DEM_CELLS); clip it to the county or "
            "use coarser cells"
        )


class MissingTilesError(LayerNotFoundError):
    """One or more DEM tiles (files, glob patterns, VRT sources) are missing."""

    def __init__(self, missing: list[str], listed: int):
        self.missing = list(missing)
        where = f" ({len(missing)} of {listed} listed in [layers.dem] path)" if listed > 1 else ""
        super().__init__(
            f"{missing[0]}: DEM tile not found{where}"
            + (f"; also missing: {', '.join(missing[1:])}" if len(missing) > 1 else "")
        )


@dataclass(frozen=True)
class DemTile:
    """One raster of a DEM: ``path`` is what GDAL opens (a file or ``/vsizip/<zip>/<member>``)."""

    path: str
    label: str


def _is_glob(text: str) -> bool:
    return bool(_GLOB_CHARS & set(text))


def _expand(p: Path) -> list[DemTile]:
    if p.is_dir():
        raise LayerSchemaError(f"{p}: is a folder; expected a DEM file (GeoTIFF, .hgt, .zip...)")
    if p.suffix.lower() != ".zip":
        return [DemTile(str(p), str(p))]
    try:
        with zipfile.ZipFile(p) as zf:
            names = [
                n
                for n in zf.namelist()
                if not n.endswith("/") and Path(n).suffix.lower() in DEM_SUFFIXES
            ]
    except zipfile.BadZipFile as exc:
        raise LayerSchemaError(f"{p}: not a valid zip archive ({exc})") from exc
    if not names:
        raise LayerNotFoundError(f"{p}: the zip holds no .tif/.hgt raster")
    root = p.resolve()
    return [DemTile(f"/vsizip/{root}/{n}", f"{p} ({n})") for n in names]


def resolve_tiles(spec: DemSpec, *, root: str | Path | None = None) -> list[DemTile]:
    """The rasters a ``[layers.dem] path`` names, in order, each once.

    Parameters
    ----------
    spec
        A path, a glob pattern, or a list of them; zips expand to every raster inside.
    root
        Folder relative paths are taken from (the workspace); default: as given.

    Raises
    ------
    MissingTilesError
        A listed file is missing or a pattern matches nothing (all of them named).
    LayerNotFoundError
        A zip holds no raster.
    LayerSchemaError
        An empty list, or a zip that is not one.
    """
    entries = [spec] if isinstance(spec, str | Path) else list(spec)
    if not entries:
        raise LayerSchemaError("[layers.dem] path: an empty list; expected one or more DEM files")
    base = Path(root) if root is not None else None
    tiles: list[DemTile] = []
    missing: list[str] = []
    for e in entries:
        s = str(e)
        refuse_network(s)
        if s.startswith("/vsi"):
            tiles.append(DemTile(s, s))
            continue
        p = Path(s) if base is None or Path(s).is_absolute() else base / s
        if p.exists():
            tiles += _expand(p)
        elif _is_glob(s):
            hits = sorted(glob.glob(str(p), recursive=True))
            if not hits:
                missing.append(f"{p} (a pattern matching no file)")
            for h in hits:
                tiles += _expand(Path(h))
        else:
            missing.append(str(p))
    if missing:
        raise MissingTilesError(missing, len(entries))
    return list({t.path: t for t in tiles}.values())


def _normalise_crs(crs) -> CRS:
    c = CRS.from_user_input(crs)
    code = c.to_epsg()
    return CRS.from_epsg(code) if code else c


def _open_error(tile: DemTile, exc: Exception) -> LayerSchemaError:
    return LayerSchemaError(
        f"{tile.label}: cannot read the raster (truncated or not a raster?): {exc}"
    )


def _vrt_sources(src, tile: DemTile) -> list[str]:
    """The files a VRT reads (its tiles), each checked to exist."""
    files = [str(f) for f in (src.files or [])][1:]
    for f in files:
        refuse_network(f, f"{tile.label}: a source of the VRT")
    gone = [f for f in files if not f.startswith("/vsi") and not Path(f).exists()]
    if gone:
        raise MissingTilesError([f"{g} (a source of {tile.label})" for g in gone], len(files))
    return files


@dataclass
class Mosaic:
    """Elevations (float64, NaN = nodata) of one or more tiles on one grid."""

    z: np.ndarray
    transform: Affine
    crs: CRS
    files: list[str]
    notes: list[str]


def tiles_crs_and_bounds(
    tiles: list[DemTile],
) -> tuple[CRS | None, tuple[float, float, float, float]]:
    """CRS and union of bounds of the tiles, without reading pixels.

    Raises
    ------
    LayerSchemaError
        An unreadable tile, or tiles in different CRSs.
    """
    crss, bounds = [], []
    for t in tiles:
        try:
            with rasterio.open(t.path) as src:
                crss.append(_normalise_crs(src.crs) if src.crs else None)
                bounds.append(tuple(src.bounds))
        except RasterioIOError as exc:
            raise _open_error(t, exc) from exc
    _same_crs(tiles, crss)
    b = np.array(bounds)
    return crss[0], (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())


def _same_crs(tiles: list[DemTile], crss: list[CRS | None]) -> None:
    first = crss[0]
    odd = [(t, c) for t, c in zip(tiles, crss, strict=True) if c != first]
    if odd:
        t, c = odd[0]
        raise LayerSchemaError(
            f"{t.label}: DEM tiles must share one CRS to be mosaicked; {tiles[0].label} is in "
            f"{first.to_string() if first else 'no CRS'}, this one in "
            f"{c.to_string() if c else 'no CRS'}"
        )


def _check_overlaps(tiles: list[DemTile], bounds: list[tuple[float, ...]]) -> None:
    for i in range(len(tiles)):
        bi = box(*bounds[i])
        for j in range(i + 1, len(tiles)):
            bj = box(*bounds[j])
            smaller = min(bi.area, bj.area)
            if smaller > 0 and bi.intersection(bj).area > _OVERLAP_MAX_FRAC * smaller:
                raise LayerSchemaError(
                    f"{tiles[j].label}: covers the same ground as {tiles[i].label} "
                    f"({bi.intersection(bj).area / smaller:.0%} of the smaller); DEM tiles are "
                    "mosaicked side by side: list only the DEM's tiles (not a hillshade or a "
                    "second copy), e.g. path = '/vsizip/<zip>/<member>' for one raster of a zip"
                )


def _window(src, bounds: tuple[float, float, float, float] | None):
    """The window of ``src`` that covers ``bounds`` (whole cells, inside the raster), or
    None to read it all."""
    if bounds is None:
        return None
    w = rasterio.windows.from_bounds(*bounds, transform=src.transform)
    w = w.round_offsets(op="floor").round_lengths(op="ceil")
    full = rasterio.windows.Window(0, 0, src.width, src.height)
    try:
        w = w.intersection(full)
    except rasterio.errors.WindowError:
        return None  # no overlap: read it all, the coverage check says what is missing
    return w if (w.width, w.height) != (src.width, src.height) else None


def read_mosaic(
    tiles: list[DemTile],
    *,
    band: int = 1,
    bounds: tuple[float, float, float, float] | None = None,
) -> Mosaic:
    """Read one tile, or mosaic several onto one grid (``rasterio.merge``, first tile wins
    where they overlap; the finest resolution when they differ, with a note).

    ``bounds`` (in the tiles' CRS) limits the read to that extent (the county and a margin):
    whole tiles around a small county are not read, warped and analysed.

    Raises
    ------
    MissingTilesError
        A VRT source is missing.
    LayerSchemaError
        An unreadable tile, tiles in different CRSs, or tiles covering the same ground.
    CRSError
        A tile without a CRS.
    """
    crss: list[CRS | None] = []
    bounds_: list[tuple[float, ...]] = []
    res: list[tuple[float, float]] = []
    files: list[str] = []
    for t in tiles:
        try:
            with rasterio.open(t.path) as src:
                if src.crs is None:
                    raise CRSError(
                        f"{t.label}: the DEM has no CRS; expected a georeferenced raster "
                        "(refusing to guess)"
                    )
                crss.append(_normalise_crs(src.crs))
                bounds_.append(tuple(src.bounds))
                res.append((abs(src.transform.a), abs(src.transform.e)))
                files.append(t.path)
                if src.driver == "VRT":
                    files += _vrt_sources(src, t)
                if len(tiles) == 1:
                    win = _window(src, bounds)
                    if win is None:
                        _refuse_size(t.label, src.width, src.height)
                    else:
                        _refuse_size(t.label, win.width, win.height)
                    z = src.read(band, masked=True, window=win).astype("float64").filled(np.nan)
                    tr = src.transform if win is None else src.window_transform(win)
                    return Mosaic(z, tr, crss[0], files, [])  # type: ignore[arg-type]
        except RasterioIOError as exc:
            raise _open_error(t, exc) from exc
    _same_crs(tiles, crss)
    _check_overlaps(tiles, bounds_)
    notes = []
    if len(set(res)) > 1:
        fine = min(res)
        notes.append(
            f"DEM tiles have different cell sizes ({', '.join(sorted({f'{a:g}' for a, _ in res}))}); "
            f"mosaicked at the finest, {fine[0]:g}, coarser tiles resampled (nearest)"
        )
    kw = {}
    if bounds is not None:
        ux0 = min(b[0] for b in bounds_)
        uy0 = min(b[1] for b in bounds_)
        ux1 = max(b[2] for b in bounds_)
        uy1 = max(b[3] for b in bounds_)
        cut = (max(bounds[0], ux0), max(bounds[1], uy0), min(bounds[2], ux1), min(bounds[3], uy1))
        if cut[0] < cut[2] and cut[1] < cut[3]:
            kw["bounds"] = cut
    fine_x, fine_y = min(r[0] for r in res), min(r[1] for r in res)
    ext = kw.get("bounds") or (
        min(b[0] for b in bounds_),
        min(b[1] for b in bounds_),
        max(b[2] for b in bounds_),
        max(b[3] for b in bounds_),
    )
    _refuse_size(tiles[0].label, (ext[2] - ext[0]) / fine_x, (ext[3] - ext[1]) / fine_y)
    try:
        arr, transform = rasterio.merge.merge(
            [t.path for t in tiles],
            **kw,
            indexes=[band],
            dtype="float64",
            nodata=np.nan,
            use_highest_res=True,
            method="first",
        )
    except RasterioIOError as exc:
        raise LayerSchemaError(f"{tiles[0].label}: cannot mosaic the DEM tiles: {exc}") from exc
    return Mosaic(np.asarray(arr[0], dtype="float64"), transform, crss[0], files, notes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DemCoverage:
    """How much of the county has no DEM elevation (areas in km²).

    ``off_grid_km2`` lies beyond the grid's extent, ``edge_nodata_km2`` on nodata cells
    connected to the grid's edge (beyond the footprint of the tiles: a warped tile's
    corners, a missing tile at the side): together the county *outside the DEM*.
    ``void_km2`` lies on nodata enclosed by data (SRTM voids; a missing tile in the
    middle of a mosaic): the pipeline fills those from their surroundings.
    """

    boundary_km2: float
    off_grid_km2: float
    edge_nodata_km2: float
    void_km2: float

    @property
    def outside_km2(self) -> float:
        return self.off_grid_km2 + self.edge_nodata_km2

    @property
    def outside_frac(self) -> float:
        return self.outside_km2 / self.boundary_km2 if self.boundary_km2 > 0 else 0.0

    @property
    def void_frac(self) -> float:
        return self.void_km2 / self.boundary_km2 if self.boundary_km2 > 0 else 0.0


def _area_within(mask: np.ndarray, transform: Affine, geom: BaseGeometry) -> float:
    """Area of ``geom`` on the True cells of ``mask`` (exact to the cell edges)."""
    if not mask.any():
        return 0.0
    polys = [shape(g) for g, _ in shapes(mask.astype("uint8"), mask=mask, transform=transform)]
    return float(union_all(polys).intersection(geom).area)


def county_outside_dem(z: np.ndarray, transform: Affine, boundary: BaseGeometry) -> DemCoverage:
    """Area of ``boundary`` not covered by valid (finite) DEM cells, split by why.

    The part of the county more than half a cell beyond the grid's extent, and the
    county's part of the nodata cells whose centre lies in the county (as polygons), in
    the grid's (metric) CRS. Half a cell is the tolerance of a DEM clipped to the county
    by cell centres (the usual delivery), which leaves slivers of the edge cells as nodata
    all round the boundary. Nodata is *outside* when connected to the grid's edge, a
    *void* when enclosed by data.
    """
    area = float(boundary.area)
    h, w = z.shape
    x0, y0 = transform.c, transform.f
    x1, y1 = transform @ (w, h)
    grid = box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    half = 0.5 * max(abs(transform.a), abs(transform.e))
    near = grid.buffer(half, join_style="mitre")
    off_grid = float(boundary.difference(near).area) if not boundary.within(near) else 0.0
    edge = void = 0.0
    inner = boundary.intersection(grid)
    if not inner.is_empty:
        bx0, by0, bx1, by1 = inner.bounds
        inv = ~transform
        cs, rs = zip(*(inv @ (x, y) for x in (bx0, bx1) for y in (by0, by1)), strict=True)
        r0, r1 = max(int(np.floor(min(rs))), 0), min(int(np.ceil(max(rs))), h)
        c0, c1 = max(int(np.floor(min(cs))), 0), min(int(np.ceil(max(cs))), w)
        wt = transform @ Affine.translation(c0, r0)
        bad = ~np.isfinite(z[r0:r1, c0:c1])
        if bad.any():
            bad &= geometry_mask(
                [inner], out_shape=bad.shape, transform=wt, invert=True, all_touched=False
            )
        if bad.any():
            # which nodata reaches the grid's edge: label the whole grid's nodata (only
            # when the county has some), 8-connected like the cells a warp leaves empty
            labels, _ = ndimage.label(~np.isfinite(z), structure=np.ones((3, 3), bool))
            rim = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
            at_edge = np.isin(labels[r0:r1, c0:c1], rim[rim > 0]) & bad
            del labels
            edge = _area_within(at_edge, wt, inner)
            void = _area_within(bad & ~at_edge, wt, inner)
    return DemCoverage(area / 1e6, off_grid / 1e6, edge / 1e6, void / 1e6)


def vsizip_sha256(path: str) -> str | None:
    """Checksum of one member of a zip given as ``/vsizip/<zip>/<member>`` (None if absent)."""
    rest = path[len("/vsizip/") :]
    i = rest.lower().find(".zip/")
    if i < 0:
        return None
    zpath, member = rest[: i + 4], rest[i + 5 :]
    # pathlib folds the "//" of "/vsizip//abs/path.zip": the zip's path may have lost its "/"
    candidates = [Path(zpath), Path("/" + zpath)]
    zp = next((c for c in candidates if c.is_file()), None)
    if zp is None:
        return None
    h = hashlib.sha256()
    try:
        with zipfile.ZipFile(zp) as zf, zf.open(member) as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except (KeyError, zipfile.BadZipFile):
        return None
    return h.hexdigest()
