"""Coordinate reference systems: the one metric CRS per workspace, and guards.

Policy (DESIGN.md): store in EPSG:4490 (CGCS2000), serve the browser EPSG:4326,
compute in one metric CRS per workspace — the DEM's own CRS when it is projected,
otherwise the CGCS2000 3-degree Gauss-Krüger zone nearest the workspace centre
inside China (EPSG:4534–4554, central meridians 75°E–135°E), UTM elsewhere.
"""

from __future__ import annotations

import geopandas as gpd
from pyproj import CRS, Transformer

from layers.errors import CRSError

STORAGE_CRS = CRS.from_epsg(4490)
WEB_CRS = CRS.from_epsg(4326)

# CGCS2000 / 3-degree Gauss-Kruger CM 75E .. CM 135E (no zone number in the easting).
_GK3_FIRST_EPSG = 4534
_GK3_FIRST_CM = 75
_GK3_LAST_CM = 135

# A generous box around China's territory (incl. islands) used to decide GK vs UTM.
_CHINA_BOX = (73.0, 3.0, 136.0, 54.0)


def gk3_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree GK zone (no zone prefix) nearest ``lon``.

    Raises
    ------
    CRSError
        If ``lon`` lies outside 73.5°E–136.5°E, where no such zone exists.
    """
    cm = int(round(lon / 3.0) * 3)
    if cm < _GK3_FIRST_CM or cm > _GK3_LAST_CM:
        raise CRSError(
            f"no CGCS2000 3-degree Gauss-Kruger zone for longitude {lon:.3f}; expected 73.5–136.5°E"
        )
    return _GK3_FIRST_EPSG + (cm - _GK3_FIRST_CM) // 3


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone containing (lon, lat)."""
    zone = int((lon + 180) // 6) + 1
    zone = min(max(zone, 1), 60)
    return (32600 if lat >= 0 else 32700) + zone


def choose_metric_crs(lon: float, lat: float, *, dem_crs: CRS | None = None) -> CRS:
    """Choose the workspace's metric CRS.

    Parameters
    ----------
    lon, lat
        Centre of the workspace in degrees (CGCS2000/WGS84).
    dem_crs
        The DEM's CRS; used as is when it is projected in metres.

    Returns
    -------
    pyproj.CRS
    """
    if dem_crs is not None and dem_crs.is_projected and _is_metre(dem_crs):
        return dem_crs
    x0, y0, x1, y1 = _CHINA_BOX
    if x0 <= lon <= x1 and y0 <= lat <= y1:
        return CRS.from_epsg(gk3_epsg(lon))
    return CRS.from_epsg(utm_epsg(lon, lat))


def _is_metre(crs: CRS) -> bool:
    units = {ax.unit_name for ax in crs.axis_info}
    return bool(units) and units <= {"metre", "meter", "m"}


def require_projected(
    obj: gpd.GeoDataFrame | gpd.GeoSeries | CRS | None, *, what: str = "data"
) -> CRS:
    """Refuse geographic or missing CRSs for distance, area and slope work.

    Raises
    ------
    CRSError
        If the CRS is missing or geographic.
    """
    crs = obj if isinstance(obj, CRS) or obj is None else obj.crs
    if crs is None:
        raise CRSError(f"{what} has no CRS; expected a projected CRS in metres")
    crs = CRS.from_user_input(crs)
    if not crs.is_projected:
        raise CRSError(
            f"{what} is in geographic CRS {crs.to_string()}; distances, areas and slopes need a "
            "projected CRS in metres (reproject with to_metric first)"
        )
    return crs


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Reproject to the workspace metric CRS (refusing a missing CRS)."""
    if gdf.crs is None:
        raise CRSError("layer has no CRS; refusing to guess one")
    return gdf.to_crs(crs)


def to_storage(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4490 for the plan outputs."""
    if gdf.crs is None:
        raise CRSError("layer has no CRS; refusing to guess one")
    return gdf.to_crs(STORAGE_CRS)


def to_web(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326 for the browser."""
    if gdf.crs is None:
        raise CRSError("layer has no CRS; refusing to guess one")
    return gdf.to_crs(WEB_CRS)


def check_bounds(bounds: tuple[float, float, float, float], crs: CRS) -> str | None:
    """Return a message when ``bounds`` fall outside ``crs``'s area of validity.

    Coordinates that are impossible for their declared CRS (longitudes in the
    thousands for a geographic CRS, eastings in degrees for a projected one)
    are the usual sign of a wrong ``.prj``; they are an error, never guessed.
    """
    x0, y0, x1, y1 = bounds
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
            return (
                f"coordinates ({x0:.3f}, {y0:.3f}) – ({x1:.3f}, {y1:.3f}) are outside "
                f"longitude/latitude range for geographic CRS {crs.to_string()}"
            )
        return None
    aou = crs.area_of_use
    if aou is None:
        return None
    tr = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    # Project the area of use and allow a wide margin (1 zone) before calling it wrong.
    ax0, ay0, ax1, ay1 = tr.transform_bounds(aou.west, aou.south, aou.east, aou.north)
    mx = max(ax1 - ax0, 1.0) * 1.5
    my = max(ay1 - ay0, 1.0) * 0.5
    if x1 < ax0 - mx or x0 > ax1 + mx or y1 < ay0 - my or y0 > ay1 + my:
        return (
            f"coordinates ({x0:.1f}, {y0:.1f}) – ({x1:.1f}, {y1:.1f}) are far outside the area "
            f"of use of {crs.to_string()} ({aou.name}); is the declared CRS right?"
        )
    return None
