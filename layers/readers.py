"""Readers: vector files, CSV point tables and DEMs into memory.

Formats: GeoPackage, Shapefile (with ``.cpg``, or GBK/GB18030 text without one),
GeoJSON, GeoParquet, OpenStreetMap PBF (GDAL's OSM driver), CSV with lon/lat
columns, GeoTIFF, SRTM ``.hgt`` and either inside a ``.zip`` (opened through
GDAL's ``/vsizip/`` virtual path, never unpacked to disk).

Readers do not validate: they return what the file holds, or raise
:class:`~layers.errors.LayerNotFoundError` / :class:`~layers.errors.LayerSchemaError`
with the file and layer named. ``layers.validate`` checks content.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from pyproj import CRS
from rasterio.errors import RasterioIOError
from rasterio.transform import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from layers.catalogue import ROAD_CLASS_ALIASES
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


@dataclass
class ReadInfo:
    """How a file was read (encoding fallbacks are reported as warnings)."""

    path: str
    layer: str | None
    encoding: str | None = None
    note: str | None = None


def _exists(path: str) -> bool:
    return path.startswith("/vsi") or Path(path).exists()


def list_layers(path: str | Path) -> list[str]:
    """Names of the vector layers inside ``path``."""
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
    spath = str(path)
    info = ReadInfo(spath, layer, encoding)
    if not _exists(spath):
        raise LayerNotFoundError(f"{spath}: file not found")
    suffix = Path(spath).suffix.lower()
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


def _read_csv(spath, *, encoding, x, y, crs, info) -> pd.DataFrame | gpd.GeoDataFrame:
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


# --------------------------------------------------------------------------- rasters


@dataclass
class Dem:
    """A DEM in memory: float64 elevations with NaN for nodata.

    ``outside`` marks cells that were nodata in the file (outside the county, or
    voids). ``source_crs`` is the CRS in the file; ``crs`` the one of ``z``.
    """

    z: np.ndarray
    transform: Affine
    crs: CRS
    path: str
    source_crs: CRS | None = None
    warped: bool = False

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
    """A path GDAL can open: a ``.zip`` becomes ``/vsizip/<zip>/<the raster inside>``."""
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


def read_dem(path: str | Path, *, metric_crs: CRS | None = None, band: int = 1) -> Dem:
    """Read a DEM; a geographic DEM is warped once to ``metric_crs`` (bilinear).

    Raises
    ------
    LayerNotFoundError
        Missing file.
    LayerSchemaError
        Unreadable or truncated raster, or a DEM that is all nodata.
    CRSError
        DEM without a CRS, or geographic with no ``metric_crs`` to warp to.
    """
    gpath = gdal_path(path)
    if not _exists(gpath) and not gpath.startswith("/vsi"):
        raise LayerNotFoundError(f"{path}: file not found")
    try:
        with rasterio.open(gpath) as src:
            if src.crs is None:
                raise CRSError(
                    f"{path}: the DEM has no CRS; expected a georeferenced raster (refusing to guess)"
                )
            crs = _normalise_crs(src.crs)
            z = src.read(band, masked=True).astype("float64").filled(np.nan)
            transform = src.transform
    except RasterioIOError as exc:
        raise LayerSchemaError(
            f"{path}: cannot read the raster (truncated or not a raster?): {exc}"
        ) from exc
    if not np.isfinite(z).any():
        raise LayerSchemaError(f"{path}: the DEM holds no valid elevation (all cells are nodata)")
    dem = Dem(z=z, transform=transform, crs=crs, path=str(path), source_crs=crs)
    if crs.is_geographic:
        if metric_crs is None:
            raise CRSError(
                f"{path}: DEM is geographic ({crs.to_string()}); a metric CRS is needed to warp it"
            )
        dem = warp_dem(dem, metric_crs)
    return dem


def warp_dem(dem: Dem, dst_crs: CRS, *, resolution: float | None = None) -> Dem:
    """Warp a DEM to ``dst_crs`` with bilinear resampling, keeping NaN as nodata.

    The output resolution defaults to the source's cell size in metres at its centre
    (rounded to the metre), so a 3-arc-second SRTM tile becomes a ~90 m grid.
    """
    h, w = dem.z.shape
    x0, y0, x1, y1 = dem.bounds
    if resolution is None:
        if dem.crs.is_geographic:
            # one arc-second of latitude is ~30.9 m everywhere
            resolution = max(1.0, float(round(abs(dem.transform.e) * 111_320.0)))
        else:
            resolution = abs(dem.transform.a)
    dst_transform, dw, dh = calculate_default_transform(
        dem.crs, dst_crs, w, h, left=x0, bottom=y0, right=x1, top=y1, resolution=resolution
    )
    out = np.full((dh, dw), np.nan, dtype="float64")
    reproject(
        source=dem.z,
        destination=out,
        src_transform=dem.transform,
        src_crs=dem.crs,
        dst_transform=dst_transform,
        dst_crs=dst_crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return Dem(
        z=out,
        transform=dst_transform,
        crs=CRS.from_user_input(dst_crs),
        path=dem.path,
        source_crs=dem.source_crs,
        warped=True,
    )


def raster_crs_and_bounds(path: str | Path) -> tuple[CRS | None, tuple[float, float, float, float]]:
    """CRS and bounds of a raster without reading its pixels."""
    gpath = gdal_path(path)
    try:
        with rasterio.open(gpath) as src:
            return (_normalise_crs(src.crs) if src.crs else None), tuple(src.bounds)
    except RasterioIOError as exc:
        raise LayerSchemaError(
            f"{path}: cannot read the raster (truncated or not a raster?): {exc}"
        ) from exc


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
