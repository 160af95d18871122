"""Coordinate reference systems: the one metric CRS per workspace, and guards.

Policy (DESIGN.md): store in EPSG:4490 (CGCS2000), serve the browser EPSG:4326,
compute in one metric CRS per workspace — the DEM's own CRS when it is projected,
otherwise the CGCS2000 3-degree Gauss-Krüger zone nearest the workspace centre
inside China (EPSG:4534–4554, central meridians 75°E–135°E), UTM elsewhere.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError

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
            f"{what} is in geographic CRS {crs_name(crs)}; distances, areas and slopes need a "
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


def epsg_code(crs: CRS) -> int | None:
    """The EPSG code of ``crs``, also when read from a ``.prj`` or GeoTIFF without one.

    Such a CRS often lacks the authority or the axis order EPSG gives it, and pyproj rates
    the match below 70% (``to_string()`` then falls back to the full WKT). A match down
    to 20% is taken when the EPSG CRS bears the same name.
    """
    code = crs.to_epsg(min_confidence=70)
    if code is not None:
        return int(code)
    try:
        matches = crs.list_authority(auth_name="EPSG", min_confidence=20)
    except ProjCRSError:  # pragma: no cover - pyproj raises only for broken CRSs
        return None
    for m in matches:
        if CRS.from_epsg(int(m.code)).name == crs.name:
            return int(m.code)
    return None


def crs_name(crs: object) -> str:
    """A short, readable name for a CRS: ``EPSG:NNNN`` where one matches, else its name.

    Never the full WKT (see :func:`epsg_code`); a CRS with no EPSG code prints as its
    name, or, when unnamed, as its PROJ parameters.

    Parameters
    ----------
    crs
        Anything :meth:`pyproj.CRS.from_user_input` takes; None prints as ``"no CRS"``.
    """
    if crs is None:
        return "no CRS"
    try:
        c = CRS.from_user_input(crs)
    except ProjCRSError:
        return str(crs)
    code = epsg_code(c)
    if code is not None:
        return f"EPSG:{code}"
    if c.name and c.name.lower() != "unknown":
        return c.name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "PROJ strings lose information"
        proj = c.to_proj4() or ""
    proj = " ".join(t for t in proj.split() if t not in ("+no_defs", "+type=crs"))
    return proj or "unnamed CRS"


def _gk_zone_hint(
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    near_lon: float | None,
    *,
    why: str = "the zone of the workspace at {lon:.2f}°E",
) -> str:
    """Which Gauss-Krüger CRS these metres most likely are in (or a range to choose from).

    An easting of 8 digits carries its zone number (3-degree zones 25–45, 6-degree zones
    13–23); one of 6 digits does not, and then the zone comes from ``near_lon`` (the
    workspace's centre) when known.
    """
    if not (0 <= y0 and y1 <= 6_300_000):
        return ""
    if x0 >= 1e7:
        zone, zone1 = int(x0 // 1e6), int(x1 // 1e6)
        if zone == zone1 and 25 <= zone <= 45:
            code = 4513 + zone - 25
            return f"did you mean EPSG:{code} ({CRS.from_epsg(code).name}, from the zone number {zone} in the eastings)?"
        if zone == zone1 and 13 <= zone <= 23:
            code = 4491 + zone - 13
            return f"did you mean EPSG:{code} ({CRS.from_epsg(code).name}, from the zone number {zone} in the eastings)?"
        return ""
    if 0 < x0 and x1 < 1_000_000:
        if near_lon is not None:
            try:
                code = gk3_epsg(near_lon)
            except CRSError:
                return ""
            return f"did you mean EPSG:{code} ({CRS.from_epsg(code).name}, {why.format(lon=near_lon)})?"
        return (
            "did you mean a CGCS2000 3-degree Gauss-Kruger zone without zone number, "
            "EPSG:4534–4554 (central meridians 75°E–135°E: the one nearest the county, "
            "e.g. EPSG:4545 for 108°E)?"
        )
    return ""


def _looks_swapped_china(x0: float, y0: float, x1: float, y1: float) -> bool:
    """x holds latitudes and y longitudes of a place in China."""
    return 0.8 <= x0 and x1 <= 55.9 and 72.0 <= y0 and y1 <= 137.9


def check_bounds(
    bounds: tuple[float, float, float, float], crs: CRS, *, near_lon: float | None = None
) -> str | None:
    """Return a message when ``bounds`` fall outside ``crs``'s area of validity.

    Coordinates that are impossible for their declared CRS (longitudes in the
    thousands for a geographic CRS, eastings in degrees for a projected one)
    are the usual sign of a wrong ``.prj``; they are an error, never guessed, and the
    message suggests the likely fix: swapped longitude/latitude, metres declared as
    degrees (with the Gauss-Krüger CRS the numbers point to), degrees declared as metres,
    or a zone number present or missing in the eastings.

    Parameters
    ----------
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the layer.
    crs
        The CRS the layer declares.
    near_lon
        Longitude of the workspace's centre, when known: names the Gauss-Krüger zone
        for eastings without a zone number.
    """
    x0, y0, x1, y1 = bounds
    crs = CRS.from_user_input(crs)
    name = crs_name(crs)
    # degrees to about a metre, metres to the decimetre
    nd = 5 if max(abs(x0), abs(y0), abs(x1), abs(y1)) <= 360 else 1
    where = f"({x0:.{nd}f}, {y0:.{nd}f}) – ({x1:.{nd}f}, {y1:.{nd}f})"
    if crs.is_geographic:
        if _looks_swapped_china(x0, y0, x1, y1) and y1 > 90:
            return (
                f"coordinates {where} are outside longitude/latitude range for geographic CRS "
                f"{name}: swapped lon/lat? x holds latitudes and y longitudes (swap the x and "
                "y columns)"
            )
        if _looks_swapped_china(x0, y0, x1, y1):
            return (
                f"coordinates {where} put the layer at latitude {y0:.1f}–{y1:.1f}°N in {name}: "
                "swapped lon/lat? x holds latitudes and y longitudes (swap the x and y columns)"
            )
        if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
            msg = (
                f"coordinates {where} are outside longitude/latitude range for geographic "
                f"CRS {name}"
            )
            if min(abs(x0), abs(x1), abs(y0), abs(y1)) > 1000:
                hint = _gk_zone_hint(x0, y0, x1, y1, near_lon)
                msg += "; metres declared as degrees" + (f" — {hint}" if hint else "")
            return msg
        return None
    aou = crs.area_of_use
    if aou is None and (code := epsg_code(crs)) is not None:
        aou = CRS.from_epsg(code).area_of_use  # a .prj without authority: EPSG's area
    if aou is None:
        return None
    tr = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    # Project the area of use and allow a wide margin (1 zone) before calling it wrong.
    ax0, ay0, ax1, ay1 = tr.transform_bounds(aou.west, aou.south, aou.east, aou.north)
    mx = max(ax1 - ax0, 1.0) * 1.5
    my = max(ay1 - ay0, 1.0) * 0.5
    if x1 < ax0 - mx or x0 > ax1 + mx or y1 < ay0 - my or y0 > ay1 + my:
        msg = f"coordinates {where} are far outside the area of use of {name} ({aou.name})"
        if _looks_swapped_china(x0, y0, x1, y1):
            return (
                msg + "; degrees declared as metres, with lon/lat swapped? swap x and y and "
                'declare crs = "EPSG:4490"'
            )
        if -180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90:
            return (
                msg
                + '; degrees declared as metres? for longitude/latitude declare crs = "EPSG:4490"'
            )
        if (y1 < 1_000_000 and x0 > 1_000_000) and _inside(tr, aou, y0, x0, y1, x1):
            return msg + "; swapped x/y? the Gauss-Krüger X is the northing, Y the easting"
        cm = central_meridian(crs)
        if near_lon is not None:
            hint = _gk_zone_hint(x0, y0, x1, y1, near_lon)
        else:
            why = "without zone number, for the central meridian {lon:g}°E of " + name
            hint = _gk_zone_hint(x0, y0, x1, y1, cm, why=why)
        return msg + (f"; {hint}" if hint else "; is the declared CRS right?")
    return None


def central_meridian(crs: CRS) -> float | None:
    """Longitude of natural origin (central meridian) of a projected CRS, else None."""
    op = crs.coordinate_operation
    if op is None:
        return None
    for p in op.params:
        name = p.name.lower()
        if ("longitude of natural origin" in name or "central meridian" in name) and (
            p.unit_name.startswith("deg")
        ):
            return float(p.value)
    return None


def _inside(tr: Transformer, aou, x0: float, y0: float, x1: float, y1: float) -> bool:
    ax0, ay0, ax1, ay1 = tr.transform_bounds(aou.west, aou.south, aou.east, aou.north)
    return ax0 - (ax1 - ax0) <= x0 and x1 <= ax1 + (ax1 - ax0) and ay0 <= y0 and y1 <= ay1
