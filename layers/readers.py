"""Readers: vector files, CSV point tables and DEMs into memory.

Formats: GeoPackage, Shapefile (with ``.cpg``, or GBK/GB18030 text without one),
GeoJSON, GeoParquet, OpenStreetMap PBF (GDAL's OSM driver), CSV with lon/lat
columns, GeoTIFF, SRTM ``.hgt`` and either inside a ``.zip`` (opened through
GDAL's ``/vsizip/`` virtual path, never unpacked to disk).

Hostile input is refused before it is read: a URL or a GDAL network file system path
(``/vsicurl/``, ``/vsis3/``...; also as a VRT's source), a folder where a file is expected,
a CSV above :data:`MAX_CSV_BYTES` (``ANJU_MAX_CSV_BYTES``), a DEM above
:data:`layers.dem_sources.MAX_DEM_CELLS` cells from its header (``ANJU_MAX_DEM_CELLS``)
or under 3 x 3 cells, and a column named twice (GeoJSON properties, a CSV header).

Readers do not validate: they return what the file holds, or raise
:class:`~layers.errors.LayerNotFoundError` / :class:`~layers.errors.LayerSchemaError`
with the file and layer named. ``layers.validate`` checks content.
"""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.transform import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

from layers.catalogue import ROAD_CLASS_ALIASES
from layers.chinacoords import offset_datum, to_cgcs2000
from layers.datums import bound_pair, legacy_datum
from layers.dem_sources import (
    MIN_DEM_SIDE,
    DemSpec,
    read_mosaic,
    refuse_network,
    resolve_tiles,
    tiles_crs_and_bounds,
)
from layers.errors import CRSError, LayerNotFoundError, LayerSchemaError

VECTOR_SUFFIXES = {
    ".gpkg",
    ".shp",
    ".geojson",
    ".json",
    ".parquet",
    ".geoparquet",
    ".pbf",
    ".fgb",
    ".csv",
    ".zip",
}
RASTER_SUFFIXES = {".tif", ".tiff", ".hgt", ".zip", ".vrt", ".img"}
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")
WGS84_LONLAT = "EPSG:4326"
#: Largest CSV anju reads (checked before reading); ``ANJU_MAX_CSV_BYTES`` sets it.
MAX_CSV_BYTES = 500_000_000
# GeoJSON files up to this size are also scanned for repeated property names (GDAL keeps one)
_JSON_SCAN_BYTES = 200_000_000


def max_csv_bytes() -> int:
    """The CSV size limit: ``ANJU_MAX_CSV_BYTES`` or :data:`MAX_CSV_BYTES`."""
    raw = os.environ.get("ANJU_MAX_CSV_BYTES")
    try:
        return int(raw) if raw else MAX_CSV_BYTES
    except ValueError:
        return MAX_CSV_BYTES


@dataclass
class ReadInfo:
    """How a file was read (encoding fallbacks are reported as warnings)."""

    path: str
    layer: str | None
    encoding: str | None = None
    note: str | None = None
    datum: str | None = None  # "GCJ-02" / "BD-09" when the coordinates were converted


def _exists(path: str) -> bool:
    return path.startswith("/vsi") or Path(path).exists()


def list_layers(path: str | Path) -> list[str]:
    """Names of the vector layers inside ``path``."""
    refuse_network(path)
    try:
        return [str(n) for n in pyogrio.list_layers(str(path))[:, 0]]
    except pyogrio.errors.DataSourceError as exc:
        raise LayerNotFoundError(f"{path}: cannot open as a vector data source ({exc})") from exc


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    x: str | None = None,
    y: str | None = None,
    crs: str | None = None,
) -> tuple[gpd.GeoDataFrame | pd.DataFrame, ReadInfo]:
    """Read one vector layer (or a plain table) into a (Geo)DataFrame.

    ``crs = "GCJ-02"`` or ``"BD-09"`` (the offset longitude/latitude of Amap, Tencent
    and DataV, or of Baidu) may be declared for any file: every vertex is then converted
    to CGCS2000 and the layer comes back in EPSG:4490 (``info.datum`` says from what).
    Otherwise ``crs`` is only the CRS of CSV coordinates (and, in
    :func:`layers.workspace.load_workspace`, of a file that carries none).

    Parameters
    ----------
    path
        File path. CSV files are tables unless ``x`` and ``y`` name coordinate columns.
    layer
        Layer name inside multi-layer files (GeoPackage, OSM). Required when the file
        holds several layers and the wanted one is not the first.
    encoding
        Text encoding for Shapefiles without ``.cpg`` and for CSV. Without it a
        Shapefile lacking ``.cpg`` is tried as UTF-8, then GB18030 (with a note).
    x, y, crs
        Coordinate columns and their CRS for CSV point tables. ``crs`` is required
        with ``x``/``y``: a CSV carries no CRS and anju never guesses one.

    Returns
    -------
    (frame, info)

    Raises
    ------
    LayerNotFoundError
        Missing file, or missing layer (the message lists the layers present).
    LayerSchemaError
        Unreadable or truncated content, missing coordinate columns.
    CRSError
        CSV coordinates without a declared CRS.
    """
    datum = offset_datum(crs)
    if datum is None:
        return _read_vector(path, layer=layer, encoding=encoding, x=x, y=y, crs=crs)
    # CSV coordinates are read as plain longitude/latitude, then moved off the offset
    frame, info = _read_vector(
        path, layer=layer, encoding=encoding, x=x, y=y, crs=WGS84_LONLAT if x or y else None
    )
    if isinstance(frame, gpd.GeoDataFrame):
        frame = to_cgcs2000(frame, datum)
        info.datum = datum
    return frame, info


def _read_vector(
    path: str | Path,
    *,
    layer: str | None,
    encoding: str | None,
    x: str | None,
    y: str | None,
    crs: str | None,
) -> tuple[gpd.GeoDataFrame | pd.DataFrame, ReadInfo]:
    spath = str(path)
    info = ReadInfo(spath, layer, encoding)
    refuse_network(spath)
    if not _exists(spath):
        raise LayerNotFoundError(f"{spath}: file not found")
    suffix = Path(spath).suffix.lower()
    if suffix in VECTOR_SUFFIXES and Path(spath).is_dir():
        raise LayerSchemaError(f"{spath}: is a folder; expected a {suffix} file")
    if suffix in (".geojson", ".json"):
        _refuse_repeated_properties(spath)
    if suffix == ".csv":
        return _read_csv(spath, encoding=encoding, x=x, y=y, crs=crs, info=info), info
    if suffix in (".parquet", ".geoparquet"):
        try:
            return gpd.read_parquet(spath), info
        except (ValueError, OSError) as exc:
            try:
                return pd.read_parquet(spath), info
            except (ValueError, OSError):
                raise LayerSchemaError(f"{spath}: cannot read as (Geo)Parquet: {exc}") from exc
    if layer is not None:
        names = list_layers(spath)
        if layer not in names:
            raise LayerNotFoundError(
                f"{spath}: no layer {layer!r}; layers present: {', '.join(names) or 'none'}"
            )
    kwargs = {"layer": layer} if layer is not None else {}
    if suffix == ".shp" and encoding is None and not Path(spath).with_suffix(".cpg").exists():
        try:
            gdf = pyogrio.read_dataframe(spath, encoding="utf-8", **kwargs)
            info.encoding = "utf-8"
        except UnicodeDecodeError:
            gdf = pyogrio.read_dataframe(spath, encoding="GB18030", **kwargs)
            info.encoding = "GB18030"
            info.note = "no .cpg file and text is not UTF-8: read as GB18030"
        return gdf, info
    if encoding is not None:
        kwargs["encoding"] = encoding
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = pyogrio.read_dataframe(spath, **kwargs)
    except pyogrio.errors.DataSourceError as exc:
        raise LayerSchemaError(f"{spath}: cannot read as a vector layer: {exc}") from exc
    except pyogrio.errors.DataLayerError as exc:
        raise LayerSchemaError(f"{spath}: cannot read layer {layer or '(first)'}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise LayerSchemaError(
            f"{spath}: text is not in encoding {encoding or 'declared by the file'} ({exc.reason}); "
            'set encoding = "GB18030" (or the right one) for this layer in workspace.toml'
        ) from exc
    return gdf, info


def _refuse_repeated_properties(spath: str) -> None:
    """GeoJSON with a property name twice in a feature: GDAL would silently keep one."""
    try:
        if os.path.getsize(spath) > _JSON_SCAN_BYTES:
            return
        raw = Path(spath).read_bytes()
    except OSError:
        return  # GDAL says what is wrong with the file
    repeated: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in items]
        for k in keys:
            if keys.count(k) > 1 and k not in repeated:
                repeated.append(k)
        return dict(items)

    try:
        json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return  # not JSON: GDAL reports it
    if repeated:
        raise LayerSchemaError(
            f"{spath}: column(s) {', '.join(map(repr, repeated))} appear twice in a feature; "
            "expected each property name once"
        )


def _read_csv(spath, *, encoding, x, y, crs, info) -> pd.DataFrame | gpd.GeoDataFrame:
    try:
        size = os.path.getsize(spath)
    except OSError as exc:
        raise LayerNotFoundError(f"{spath}: cannot open ({exc.strerror})") from exc
    if size > max_csv_bytes():
        raise LayerSchemaError(
            f"{spath}: the CSV is {size / 1e6:,.0f} MB, above the limit of "
            f"{max_csv_bytes() / 1e6:,.0f} MB (ANJU_MAX_CSV_BYTES); split it or filter it to the county"
        )
    encodings = (encoding,) if encoding else _CSV_ENCODINGS
    df = None
    for enc in encodings:
        try:
            df = pd.read_csv(spath, encoding=enc, dtype=str, keep_default_na=False)
            info.encoding = enc
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as exc:
            raise LayerSchemaError(f"{spath}: the file is empty (no header row)") from exc
        except pd.errors.ParserError as exc:
            raise LayerSchemaError(f"{spath}: malformed CSV: {exc}") from exc
    if df is None:
        raise LayerSchemaError(
            f"{spath}: text is neither UTF-8 nor GB18030; set the layer's encoding"
        )
    if info.encoding == "gb18030":
        info.note = "text is not UTF-8: read as GB18030"
    df.columns = [c.strip() for c in df.columns]
    twice = _repeated_csv_header(spath, info.encoding)
    if twice:
        raise LayerSchemaError(
            f"{spath}: column(s) {', '.join(map(repr, twice))} appear twice in the header; "
            "expected each column name once"
        )
    if x is None and y is None:
        return df
    missing = [c for c in (x, y) if c not in df.columns]
    if missing:
        raise LayerSchemaError(
            f"{spath}: coordinate column(s) {', '.join(map(repr, missing))} not found; "
            f"columns present: {', '.join(df.columns)}"
        )
    if not crs:
        raise CRSError(
            f'{spath}: CSV points need a declared crs (e.g. crs = "EPSG:4490") in workspace.toml'
        )
    xs = pd.to_numeric(df[x], errors="coerce")
    ys = pd.to_numeric(df[y], errors="coerce")
    bad = df.index[xs.isna() | ys.isna()]
    if len(bad):
        rows = ", ".join(str(i + 2) for i in bad[:10])
        raise LayerSchemaError(
            f"{spath}: {len(bad)} row(s) have a non-numeric or empty {x}/{y} (file lines {rows})"
        )
    return gpd.GeoDataFrame(df.drop(columns=[x, y]), geometry=gpd.points_from_xy(xs, ys), crs=crs)


def _repeated_csv_header(spath: str, encoding: str | None) -> list[str]:
    import csv

    try:
        with open(spath, encoding=encoding or "utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    names = [h.strip() for h in header]
    return sorted({n for n in names if n and names.count(n) > 1})


# --------------------------------------------------------------------------- rasters


@dataclass
class Dem:
    """A DEM in memory: float64 elevations with NaN for nodata.

    ``outside`` marks cells that were nodata in the file (outside the county, or
    voids). ``source_crs`` is the CRS in the file; ``crs`` the one of ``z``.
    ``tiles`` names every raster read (files, ``/vsizip/`` members, the sources of a
    VRT), ``source_cellsize`` is the cell size in the file's units (degrees for SRTM)
    and ``source_cellsize_m`` the same in metres (at the centre latitude);
    ``towgs84`` the datum shift to apply on warping (None once applied, or none given),
    ``datum_shift`` the one that was applied, ``notes`` what reading changed.
    """

    z: np.ndarray
    transform: Affine
    crs: CRS
    path: str
    source_crs: CRS | None = None
    warped: bool = False
    tiles: tuple[str, ...] = ()
    source_cellsize: tuple[float, float] | None = None
    source_cellsize_m: tuple[float, float] | None = None
    towgs84: tuple[float, ...] | None = None
    datum_shift: tuple[float, ...] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cellsize(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        h, w = self.z.shape
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t @ (w, h)
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def gdal_path(path: str | Path) -> str:
    """A path GDAL can open: a ``.zip`` becomes ``/vsizip/<zip>/<its first raster>``.

    Only for a zip known to hold one raster; :func:`read_dem` reads every raster of a zip
    as a tile (:func:`layers.dem_sources.resolve_tiles`).
    """
    spath = str(path)
    if spath.startswith("/vsi") or not spath.lower().endswith(".zip"):
        return spath
    if not Path(spath).exists():
        raise LayerNotFoundError(f"{spath}: file not found")
    try:
        with zipfile.ZipFile(spath) as zf:
            names = [
                n for n in zf.namelist() if Path(n).suffix.lower() in RASTER_SUFFIXES - {".zip"}
            ]
    except zipfile.BadZipFile as exc:
        raise LayerSchemaError(f"{spath}: not a valid zip archive ({exc})") from exc
    if not names:
        raise LayerNotFoundError(f"{spath}: the zip holds no .tif/.hgt raster")
    return f"/vsizip/{Path(spath).resolve()}/{names[0]}"


def _dem_label(path: DemSpec) -> str:
    return str(path) if isinstance(path, str | Path) else ", ".join(map(str, path))


def _cellsize_m(crs: CRS, transform: Affine, shape: tuple[int, int]) -> tuple[float, float]:
    dx, dy = abs(transform.a), abs(transform.e)
    if not crs.is_geographic:
        return (dx, dy)
    lat = transform.f + transform.e * shape[0] / 2
    # one degree of latitude is ~111.32 km everywhere; of longitude, that times cos(lat)
    return (dx * 111_320.0 * float(np.cos(np.radians(lat))), dy * 111_320.0)


def read_dem(
    path: DemSpec,
    *,
    metric_crs: CRS | str | None = None,
    band: int = 1,
    towgs84: Sequence[float] | None = None,
    root: str | Path | None = None,
    clip: tuple[float, float, float, float] | None = None,
) -> Dem:
    """Read a DEM (one raster, or tiles mosaicked); a geographic DEM is warped once to
    ``metric_crs`` (bilinear).

    Parameters
    ----------
    path
        A raster, a glob pattern, a zip (every raster inside is a tile), a VRT, or a list
        of them (:func:`layers.dem_sources.resolve_tiles`). Tiles are mosaicked before the
        one warp, so seams carry data, not nodata.
    metric_crs
        CRS to warp a geographic DEM to (and a DEM given ``towgs84``).
    band
        Band to read.
    towgs84
        Datum shift of a Beijing-1954 / Xi'an-1980 DEM (3 or 7 PROJ ``+towgs84``
        parameters): the DEM is then warped to ``metric_crs`` through it
        (:mod:`layers.datums`).
    root
        Folder relative paths are taken from.
    clip
        ``(xmin, ymin, xmax, ymax)`` in ``metric_crs``: only this extent is read (the
        county and a margin; whole SRTM tiles around a small county are not warped and
        analysed). The extent is taken to the tiles' CRS with its curved edges covered.

    Raises
    ------
    LayerNotFoundError
        Missing file; :class:`~layers.dem_sources.MissingTilesError` names every missing tile.
    LayerSchemaError
        Unreadable or truncated raster, tiles that cannot be mosaicked, or a DEM that is
        all nodata.
    CRSError
        DEM without a CRS, or geographic (or given ``towgs84``) with no ``metric_crs``, or
        ``towgs84`` for a DEM not on a legacy datum.
    """
    label = _dem_label(path)
    tiles = resolve_tiles(path, root=root)
    bounds = None
    if clip is not None and metric_crs is not None:
        tcrs, _ = tiles_crs_and_bounds(tiles)
        if tcrs is not None:
            bounds = transform_bounds(
                RioCRS.from_wkt(CRS.from_user_input(metric_crs).to_wkt()),
                RioCRS.from_wkt(tcrs.to_wkt()),
                *clip,
                densify_pts=21,
            )
    m = read_mosaic(tiles, band=band, bounds=bounds)
    if min(m.z.shape) < MIN_DEM_SIDE:
        raise LayerSchemaError(
            f"{label}: the DEM is {m.z.shape[1]} x {m.z.shape[0]} cells over the county; expected "
            f"at least {MIN_DEM_SIDE} x {MIN_DEM_SIDE} (slope needs a cell's neighbours)"
        )
    if not np.isfinite(m.z).any():
        raise LayerSchemaError(f"{label}: the DEM holds no valid elevation (all cells are nodata)")
    crs = m.crs
    if towgs84 and legacy_datum(crs) is None:
        raise CRSError(
            f"{label}: towgs84 is given but the DEM is in {crs.to_string()}, not on Beijing-1954 "
            "or Xi'an-1980 (Krasovsky or IAG-1975 ellipsoid); remove towgs84 or correct the "
            "DEM's CRS"
        )
    dem = Dem(
        z=m.z,
        transform=m.transform,
        crs=crs,
        path=label,
        source_crs=crs,
        tiles=tuple(m.files),
        source_cellsize=(abs(m.transform.a), abs(m.transform.e)),
        source_cellsize_m=_cellsize_m(crs, m.transform, m.z.shape),
        towgs84=tuple(float(v) for v in towgs84) if towgs84 else None,
        notes=list(m.notes),
    )
    if crs.is_geographic or dem.towgs84:
        if metric_crs is None:
            why = "is geographic" if crs.is_geographic else "has a datum shift (towgs84) to apply"
            raise CRSError(
                f"{label}: DEM {why} ({crs.to_string()}); a metric CRS is needed to warp it"
            )
        if crs.is_geographic or CRS.from_user_input(metric_crs) != crs:
            dem = warp_dem(dem, CRS.from_user_input(metric_crs))
    return dem


def warp_dem(dem: Dem, dst_crs: CRS | str, *, resolution: float | None = None) -> Dem:
    """Warp a DEM to ``dst_crs`` with bilinear resampling, keeping NaN as nodata.

    The output resolution defaults to the source's cell size in metres at its centre
    (rounded to the metre), so a 3-arc-second SRTM tile becomes a ~90 m grid. A DEM
    carrying ``towgs84`` is shifted through it (:func:`layers.datums.bound_pair`: GDAL,
    like PROJ, otherwise uses a ballpark offset to CGCS2000).
    """
    h, w = dem.z.shape
    x0, y0, x1, y1 = dem.bounds
    dst = CRS.from_user_input(dst_crs)
    if resolution is None:
        if dem.crs.is_geographic:
            # one arc-second of latitude is ~30.9 m everywhere
            resolution = max(1.0, float(round(abs(dem.transform.e) * 111_320.0)))
        else:
            resolution = abs(dem.transform.a)
    src_w: object = dem.crs
    dst_w: object = dst
    if dem.towgs84:
        src_b, dst_b = bound_pair(dem.crs, dem.towgs84, dst)
        src_w, dst_w = RioCRS.from_wkt(src_b.to_wkt()), RioCRS.from_wkt(dst_b.to_wkt())
    dst_transform, dw, dh = calculate_default_transform(
        src_w, dst_w, w, h, left=x0, bottom=y0, right=x1, top=y1, resolution=resolution
    )
    out = np.full((dh, dw), np.nan, dtype="float64")
    reproject(
        source=dem.z,
        destination=out,
        src_transform=dem.transform,
        src_crs=src_w,
        dst_transform=dst_transform,
        dst_crs=dst_w,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return replace(
        dem,
        z=out,
        transform=dst_transform,
        crs=dst,
        warped=True,
        towgs84=None,
        datum_shift=dem.towgs84 or dem.datum_shift,
    )


def raster_crs_and_bounds(
    path: DemSpec, *, root: str | Path | None = None
) -> tuple[CRS | None, tuple[float, float, float, float]]:
    """CRS and bounds of a raster (or of the union of a DEM's tiles) without reading pixels."""
    return tiles_crs_and_bounds(resolve_tiles(path, root=root))


def _normalise_crs(crs) -> CRS:
    """A pyproj CRS, as its EPSG code when it has one (so names print short and compare equal)."""
    c = CRS.from_user_input(crs)
    code = c.to_epsg()
    return CRS.from_epsg(code) if code else c


_OSM_TAGS = ("surface", "tracktype", "name:zh", "ref")


def osm_roads(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Roads from GDAL's OSM ``lines`` layer: keep ``highway=*`` ways, lift tags out of ``other_tags``.

    ``highway`` becomes ``road_class`` (normalised by the catalogue's aliases) and
    ``osm_id`` becomes ``road_id``; ``surface`` and ``tracktype`` come out of the
    ``other_tags`` hstore text. Ways without a surface tag keep it unknown (the
    class rule may infer it, visibly, later).
    """
    if "highway" not in frame.columns:
        raise LayerSchemaError("OSM lines layer has no highway column; is this the 'lines' layer?")
    # construction, proposed, platform, raceway... are not roads people travel on.
    out = frame[frame["highway"].isin(list(ROAD_CLASS_ALIASES))].copy()
    tags = (
        out["other_tags"].fillna("")
        if "other_tags" in out.columns
        else pd.Series("", index=out.index)
    )
    for key in _OSM_TAGS:
        col = key.replace(":", "_")
        if col not in out.columns:
            pat = re.compile(r'"' + re.escape(key) + r'"=>"([^"]*)"')
            out[col] = tags.map(lambda t, pat=pat: m.group(1) if (m := pat.search(t)) else None)
    out = out.rename(columns={"highway": "road_class", "osm_id": "road_id"})
    keep = [
        c
        for c in ("road_id", "road_class", "surface", "tracktype", "name", "ref")
        if c in out.columns
    ]
    return out[keep + ["geometry"]].reset_index(drop=True)
