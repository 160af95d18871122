"""Cloud-Optimized GeoTIFFs in Web Mercator: the plan's rasters as the map tiles read them.

The plan's rasters (``rasters/*.tif``) lie on the analysis grid in the metric CRS; a map
tile is a square of the Web-Mercator pyramid (EPSG:3857). Reprojecting on every tile
request costs about half a second on a county DEM. :func:`write_cog` warps a raster once,
when the plan is written, onto the ``GoogleMapsCompatible`` tile matrix (GDAL's COG
driver): 256 x 256 internal tiles aligned on the XYZ tiles, overviews down to one tile, so
a map tile at any zoom is a window read of one level, with no reprojection.

``web/dem.tif`` is the DEM so warped: the dashboard's hillshade and elevation tiles and
the printed briefing map shade it with :func:`geo.terrain.hillshade` (one hillshade for
all of them). The other rasters are warped the same way (``web/<name>.tif``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.io import MemoryFile

from layers.errors import LayerSchemaError
from layers.grid import Grid

__all__ = ["WEB_CRS", "cog_problems", "write_cog"]

#: The CRS of every web raster (the XYZ tiles' Web Mercator).
WEB_CRS = "EPSG:3857"


def write_cog(
    path: Path | str,
    arr: np.ndarray,
    grid: Grid,
    *,
    resampling: str = "bilinear",
    max_z_error: float | None = None,
) -> Path:
    """Write a 2-D float raster on ``grid`` as a Web-Mercator Cloud-Optimized GeoTIFF.

    Parameters
    ----------
    path : path
        The ``.tif`` to write (replaced when it exists).
    arr : numpy.ndarray
        2-D values on ``grid``; NaN marks nodata (kept as NaN in the COG).
    grid : Grid
        The analysis grid of ``arr`` (its CRS must be set).
    resampling : {"bilinear", "nearest", "cubic", "average"}, default "bilinear"
        How cells are warped (bilinear for elevations; nearest keeps classes and
        minutes as computed). Overviews always average.
    max_z_error : float, optional
        Store with LERC within this error (as the plan's raster); lossless DEFLATE when
        None.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    LayerSchemaError
        If ``arr`` is not 2-D with ``grid``'s shape, or ``grid`` has no CRS.
    """
    a = np.asarray(arr)
    if a.ndim != 2 or a.shape != tuple(grid.shape):
        raise LayerSchemaError(
            f"web raster {Path(path).name}: expected a 2-D array of shape {grid.shape}, "
            f"found shape {a.shape}"
        )
    if grid.crs is None:
        raise LayerSchemaError(f"web raster {Path(path).name}: the grid has no CRS")
    if resampling not in ("bilinear", "nearest", "cubic", "average"):
        raise ValueError(
            f"write_cog resampling: expected bilinear, nearest, cubic or average, "
            f"found {resampling!r}"
        )
    opts: dict[str, Any] = {
        "TILING_SCHEME": "GoogleMapsCompatible",
        "BLOCKSIZE": 256,
        "RESAMPLING": resampling.upper(),
        "OVERVIEW_RESAMPLING": "AVERAGE",
        "OVERVIEWS": "IGNORE_EXISTING",
        "NUM_THREADS": 2,
    }
    # DEFLATE level 1: 2% larger than GDAL's default level 6 on a DEM, at 60% of the CPU
    if max_z_error:
        opts |= {"COMPRESS": "LERC_DEFLATE", "MAX_Z_ERROR": max_z_error, "LEVEL": 1}
    else:
        opts |= {"COMPRESS": "DEFLATE", "PREDICTOR": 3, "LEVEL": 1}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": grid.shape[1],
        "height": grid.shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": np.nan,
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as src:
            src.write(a.astype("float32", copy=False), 1)
        with mem.open() as src:
            rasterio.shutil.copy(src, out, driver="COG", **opts)
    return out


def cog_problems(path: Path | str) -> list[str]:
    """What keeps a file from being a web raster the tile server reads in one window.

    Checks: Web-Mercator CRS, 256 x 256 internal tiles (also on every overview),
    overviews down to at most 512 cells across, and a transform aligned on the XYZ
    pyramid (square pixels whose size is that of a zoom level).

    Returns
    -------
    list of str
        One line per problem; empty for a good COG.
    """
    problems = []
    p = Path(path)
    with rasterio.open(p) as src:
        if src.crs is None or src.crs.to_epsg() != 3857:
            problems.append(f"{p.name}: expected CRS EPSG:3857, found {src.crs}")
        if src.block_shapes[0] != (256, 256):
            problems.append(f"{p.name}: expected 256x256 tiles, found {src.block_shapes[0]}")
        ovr = src.overviews(1)
        if max(src.width, src.height) > 512 and not ovr:
            problems.append(f"{p.name}: no overviews on a {src.width}x{src.height} raster")
        elif ovr and max(src.width, src.height) // ovr[-1] > 512:
            problems.append(f"{p.name}: the coarsest overview (1/{ovr[-1]}) is over 512 cells")
        res_x, res_y = src.res
        zoom = np.log2(2 * 20037508.342789244 / (256 * res_x))
        if abs(res_x - res_y) > 1e-6 * res_x or abs(zoom - round(zoom)) > 1e-6:
            problems.append(f"{p.name}: pixels ({res_x}, {res_y}) are not a zoom level's")
        layout = src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT")
        if layout != "COG":
            problems.append(f"{p.name}: expected IMAGE_STRUCTURE LAYOUT=COG, found {layout}")
    if problems:
        return problems
    for f in ovr:
        with rasterio.open(p, overview_level=ovr.index(f)) as o:
            if o.block_shapes[0] != (256, 256):
                problems.append(f"{p.name}: overview 1/{f} is not tiled 256x256")
    return problems
