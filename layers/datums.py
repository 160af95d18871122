"""Legacy Chinese datums: Beijing-1954 (Krasovsky) and Xi'an-1980 (IAG-1975) to CGCS2000.

PROJ has no transformation from either datum to CGCS2000 in the EPSG database, so a
plain ``to_crs`` uses its *ballpark* offset: the coordinates are re-labelled on the
new datum with no shift at all, which puts them tens of metres to about 100 m off
(DESIGN.md rule 3: never silent). The remedy is the seven parameters a surveying
bureau publishes for its county, given per layer in ``workspace.toml``::

    [layers.villages]
    path = "villages_bj54.shp"
    towgs84 = [dx, dy, dz, rx, ry, rz, s]   # metres, arc-seconds, ppm

They follow PROJ's ``+towgs84`` (Bursa-Wolf, *Position Vector* rotations, the
target taken as WGS 84 = CGCS2000 within a metre); parameters stated in the
*Coordinate Frame* convention need their three rotations negated. Three numbers are
a translation only. PROJ ignores such parameters (and a ``TOWGS84`` in a ``.prj``)
when the target is CGCS2000, so the shift is applied here explicitly: both sides
carry ``+towgs84`` (the target's all zero) and PROJ goes through WGS 84.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
from pyproj import CRS

__all__ = [
    "DATUM_ERROR",
    "STORAGE_EPSG",
    "bound_pair",
    "crs_towgs84",
    "datum_warning",
    "legacy_datum",
    "parse_towgs84",
    "shift_to_cgcs2000",
]

#: What a ballpark conversion from a legacy datum costs, in words for the warnings.
DATUM_ERROR = "tens of metres to about 100 m"
STORAGE_EPSG = 4490

_LEGACY_NAMES = (
    ("newbeijing", "New Beijing"),
    ("beijing1954", "Beijing-1954"),
    ("beijing54", "Beijing-1954"),
    ("xian1980", "Xi'an-1980"),
    ("xian80", "Xi'an-1980"),
)
_LEGACY_ELLIPSOIDS = (
    ("krasovsky", "Krasovsky ellipsoid (Beijing-1954 family)"),
    ("krassowsky", "Krasovsky ellipsoid (Beijing-1954 family)"),
    ("krassovsky", "Krasovsky ellipsoid (Beijing-1954 family)"),
    ("iag1975", "IAG-1975 ellipsoid (Xi'an-1980)"),
)
_TOWGS84_RE = re.compile(r"\+towgs84=([-+0-9.eE,]+)")


def _norm(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def legacy_datum(crs: Any) -> str | None:
    """The legacy Chinese datum ``crs`` is on (``"Beijing-1954"``, ``"Xi'an-1980"``...), or None.

    Recognised by datum name (EPSG:4214, 4555, 4610 and every projected CRS on them:
    2401-2442, 21413-21423, 2327-2390...; ESRI ``D_Beijing_1954``), else by the
    Krasovsky or IAG-1975 ellipsoid of an unnamed datum (a bare ``.prj`` or PROJ string).
    """
    if crs is None:
        return None
    c = CRS.from_user_input(crs)
    if c.is_bound and c.source_crs is not None:
        c = c.source_crs
    datum = _norm(c.datum.name if c.datum else None)
    for key, name in _LEGACY_NAMES:
        if key in datum:
            return name
    ell = _norm(c.ellipsoid.name if c.ellipsoid else None)
    for key, name in _LEGACY_ELLIPSOIDS:
        if key in ell:
            return name
    return None


def parse_towgs84(value: Any) -> tuple[tuple[float, ...] | None, str | None]:
    """``towgs84`` of ``workspace.toml`` as 3 or 7 floats, or (None, what is wrong)."""
    if value is None:
        return None, None
    if isinstance(value, str) or not isinstance(value, Sequence):
        return (
            None,
            f"towgs84: expected a list of 3 or 7 numbers [dx, dy, dz, rx, ry, rz, s], found {value!r}",
        )
    if len(value) not in (3, 7):
        return None, (
            f"towgs84: expected 3 numbers (dx, dy, dz in metres) or 7 (plus rx, ry, rz in "
            f"arc-seconds and s in ppm), found {len(value)}"
        )
    bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        return None, f"towgs84: expected numbers, found {bad[0]!r}"
    return tuple(float(v) for v in value), None


def crs_towgs84(crs: Any) -> tuple[float, ...] | None:
    """The ``TOWGS84`` parameters a CRS carries itself (a ``.prj`` with ``TOWGS84[...]``)."""
    c = CRS.from_user_input(crs)
    if not c.is_bound:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        m = _TOWGS84_RE.search(c.to_proj4() or "")
    if not m:
        return None
    params, _ = parse_towgs84([float(v) for v in m.group(1).split(",")])
    return params


def _plain(crs: CRS) -> CRS:
    return crs.source_crs if crs.is_bound and crs.source_crs is not None else crs


def _with_towgs84(crs: CRS, params: Sequence[float]) -> CRS:
    with warnings.catch_warnings():
        # PROJ strings drop names and authority codes, not the geodesy of a GK/longlat CRS
        warnings.simplefilter("ignore", UserWarning)
        text = _plain(crs).to_proj4()
    if not text:
        raise ValueError(f"{crs.name}: cannot be written as a PROJ string to add +towgs84")
    text = _TOWGS84_RE.sub("", text).replace("+type=crs", "")
    return CRS.from_proj4(f"{text} +towgs84={','.join(repr(float(p)) for p in params)}")


def bound_pair(src: Any, towgs84: Sequence[float], dst: Any) -> tuple[CRS, CRS]:
    """Source and target CRSs that make PROJ (and GDAL) apply ``towgs84``.

    The source carries the parameters; the target carries zeros (CGCS2000 and WGS 84
    taken as one), or the same parameters when it is on the same legacy datum.
    """
    s = CRS.from_user_input(src)
    d = CRS.from_user_input(dst)
    same = legacy_datum(s) is not None and legacy_datum(s) == legacy_datum(d)
    return _with_towgs84(s, towgs84), _with_towgs84(d, towgs84 if same else (0.0,) * 7)


def shift_to_cgcs2000(frame: gpd.GeoDataFrame, towgs84: Sequence[float]) -> gpd.GeoDataFrame:
    """``frame`` converted to EPSG:4490 with the seven (or three) parameters given."""
    src, dst = bound_pair(frame.crs, towgs84, CRS.from_epsg(STORAGE_EPSG))
    out = frame.set_crs(src, allow_override=True).to_crs(dst)
    return out.set_crs(STORAGE_EPSG, allow_override=True)


def datum_warning(src: Any, dst: Any, *, what: str) -> str | None:
    """The warning for ``what`` going from ``src`` to ``dst`` with PROJ's ballpark, or None.

    None when neither CRS is on a legacy datum, or both are on the same one.
    """
    if src is None or dst is None:
        return None
    a, b = legacy_datum(src), legacy_datum(dst)
    if a == b:
        return None
    legacy = a or b
    names = f"{_plain(CRS.from_user_input(src)).name} to {_plain(CRS.from_user_input(dst)).name}"
    fix = (
        "give the county's seven parameters as towgs84 = [dx, dy, dz, rx, ry, rz, s] in this "
        "layer's table of workspace.toml"
        if a
        else "the metric CRS is on the legacy datum (from the DEM): give the DEM's seven "
        "parameters as towgs84 = [dx, dy, dz, rx, ry, rz, s] in [layers.dem] so it is warped "
        "to CGCS2000"
    )
    return (
        f"{what} is converted from {names} with no datum shift ({legacy} to CGCS2000 has no "
        f"transformation in PROJ, only a ballpark offset): positions are off by {DATUM_ERROR}; "
        + fix
    )
