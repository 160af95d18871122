"""Coordinates in China: GCJ-02 / BD-09 on import, the DataV fingerprint, the mixed-datum
guard, short CRS names and coordinate errors that suggest their fix."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon

from layers import chinacoords as cc
from layers.crs import check_bounds, crs_name
from layers.readers import read_vector
from layers.workspace import load_workspace
from tests.conftest import X0, Y0, write_tiny_workspace


def _metres(lon0, lat0, lon1, lat1):
    """Distance on the sphere, metres (for round-trip errors of a few millimetres or more)."""
    p0, p1 = np.radians(lat0), np.radians(lat1)
    dp, dl = p1 - p0, np.radians(np.asarray(lon1) - np.asarray(lon0))
    h = np.sin(dp / 2) ** 2 + np.cos(p0) * np.cos(p1) * np.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(h))


# ------------------------------------------------------------------ the transforms

# Published pairs: coordtransform (wandergis, MIT) test/app.js and eviltransform
# (googollee, MIT) python tests; both are implementations of the same GCJ-02 formula.
_COORDTRANSFORM = {
    "wgs84togcj02": ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    "gcj02tobd09": ((116.404, 39.915), (116.41036949371029, 39.92133699351021)),
    "bd09togcj02": ((116.404, 39.915), (116.39762729119315, 39.90865673957631)),
}
_EVILTRANSFORM = [  # wgs lat, wgs lng, gcj lat, gcj lng
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def test_golden_gcj02_forward_matches_published_pairs():
    (lon, lat), (glon, glat) = _COORDTRANSFORM["wgs84togcj02"]
    out = cc.wgs84_to_gcj02(lon, lat)
    assert out[0] == pytest.approx(glon, abs=1e-12) and out[1] == pytest.approx(glat, abs=1e-12)
    for wlat, wlon, glat, glon in _EVILTRANSFORM:
        lo, la = cc.wgs84_to_gcj02(wlon, wlat)
        assert lo == pytest.approx(glon, abs=1e-12) and la == pytest.approx(glat, abs=1e-12)
        # and back, exactly (the published "exact" inverse is good to 0.5 m; ours to 1e-10°)
        blo, bla = cc.gcj02_to_wgs84(glon, glat)
        assert _metres(wlon, wlat, blo, bla) < 1e-3


def test_golden_bd09_matches_published_pairs():
    (lon, lat), (blon, blat) = _COORDTRANSFORM["gcj02tobd09"]
    out = cc.gcj02_to_bd09(lon, lat)
    assert out[0] == pytest.approx(blon, abs=1e-12) and out[1] == pytest.approx(blat, abs=1e-12)
    # Baidu's closed-form inverse is good to ~5 cm; ours refines it to an exact inverse
    (lon, lat), (glon, glat) = _COORDTRANSFORM["bd09togcj02"]
    g = cc.bd09_to_gcj02(lon, lat)
    assert _metres(glon, glat, g[0], g[1]) < 0.1
    back = cc.gcj02_to_bd09(*g)
    assert _metres(lon, lat, back[0], back[1]) < 1e-3


def test_offset_is_the_familiar_few_hundred_metres():
    # Guizhou, Hunan, Sichuan, Beijing: 300-600 m, the size the issue reported
    for lon, lat in [(104.9, 25.1), (109.0, 28.3), (103.0, 30.0), (116.4, 39.9)]:
        assert 250 < cc.offset_m(lon, lat) < 700
        assert cc.offset_m(lon, lat, "BD-09") > 0


_in_china = st.tuples(
    st.floats(73.0, 135.0, allow_nan=False), st.floats(4.0, 53.0, allow_nan=False)
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_in_china, min_size=1, max_size=50))
def test_round_trips_inside_china_are_within_a_millimetre(points):
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    for fwd, inv in [
        (cc.wgs84_to_gcj02, cc.gcj02_to_wgs84),
        (cc.wgs84_to_bd09, cc.bd09_to_wgs84),
        (cc.gcj02_to_bd09, cc.bd09_to_gcj02),
    ]:
        back = inv(*fwd(lon, lat))
        assert _metres(lon, lat, back[0], back[1]).max() <= 1e-3  # brief: ≤ 1 m
        # and the other way round: a GCJ-02 / BD-09 input goes to WGS84 and back
        again = fwd(*inv(lon, lat))
        assert _metres(lon, lat, again[0], again[1]).max() <= 1e-3


def test_round_trip_error_over_a_grid_of_china():
    lon, lat = np.meshgrid(np.linspace(73.5, 135.0, 400), np.linspace(4.0, 53.5, 400))
    back = cc.gcj02_to_wgs84(*cc.wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, *back).max() < 1e-4
    back = cc.bd09_to_wgs84(*cc.wgs84_to_bd09(lon, lat))
    assert _metres(lon, lat, *back).max() < 1e-4


def test_outside_china_gcj02_is_wgs84():
    lon = np.array([2.35, -74.0, 139.7, 109.0])
    lat = np.array([48.85, 40.7, 35.7, 28.3])
    glon, glat = cc.wgs84_to_gcj02(lon, lat)
    assert (glon[:3] == lon[:3]).all() and (glat[:3] == lat[:3]).all()
    assert glon[3] != lon[3]  # one array, mixed: only the point in China moves
    assert cc.out_of_china(lon, lat).tolist() == [True, True, True, False]
    wl, wa = cc.gcj02_to_wgs84(2.35, 48.85)
    assert (float(wl), float(wa)) == (2.35, 48.85)
    # NaN stays NaN without looping forever
    assert np.isnan(cc.gcj02_to_wgs84(np.nan, 28.0)[0])


def test_offset_datum_spellings():
    for s in ("GCJ-02", "gcj02", "GCJ_02", " gcj-02 ", "Amap"):
        assert cc.offset_datum(s) == "GCJ-02"
    for s in ("BD-09", "bd09", "BD09LL", "baidu"):
        assert cc.offset_datum(s) == "BD-09"
    for s in ("EPSG:4490", "WGS84", None, 4490):
        assert cc.offset_datum(s) is None


def test_every_vertex_of_points_lines_polygons_is_converted():
    ring = [(109.0, 28.3), (109.02, 28.3), (109.02, 28.32), (109.0, 28.3)]
    g = gpd.GeoDataFrame(
        {"k": [1, 2, 3]},
        geometry=[Point(109.01, 28.31), LineString(ring[:3]), Polygon(ring)],
        crs="EPSG:4490",
    )
    gcj = cc.from_cgcs2000(g, "GCJ-02")
    back = cc.to_cgcs2000(gcj, "GCJ-02")
    assert back.crs.to_epsg() == 4490 and back["k"].tolist() == [1, 2, 3]
    for a, b, c in zip(g.geometry, gcj.geometry, back.geometry, strict=True):
        xa, xb, xc = (
            np.asarray(x.exterior.coords if x.geom_type == "Polygon" else x.coords)
            for x in (a, b, c)
        )
        assert xa.shape == xb.shape == xc.shape
        assert (_metres(xa[:, 0], xa[:, 1], xb[:, 0], xb[:, 1]) > 300).all()  # every vertex moved
        assert _metres(xa[:, 0], xa[:, 1], xc[:, 0], xc[:, 1]).max() < 1e-3
    # z is kept; a projected layer (Web Mercator over an Amap basemap) is unprojected first
    z = cc.to_cgcs2000(gpd.GeoSeries([Point(109.0, 28.3, 812.0)], crs="EPSG:4326"), "BD-09")
    assert z.iloc[0].has_z and z.iloc[0].z == 812.0
    merc = gcj.to_crs(3857)
    assert cc.to_cgcs2000(merc, "GCJ-02").geom_equals_exact(back.geometry, 1e-7).all()


# ------------------------------------------------------------------ reading declared layers


def test_csv_points_declared_gcj02_or_bd09_are_read_as_cgcs2000(tmp_path):
    lon, lat = np.array([109.0, 109.01]), np.array([28.30, 28.31])
    for datum, fwd in (("GCJ-02", cc.wgs84_to_gcj02), ("BD-09", cc.wgs84_to_bd09)):
        x, y = fwd(lon, lat)
        pd.DataFrame({"name": ["a", "b"], "lng": x, "lat": y}).to_csv(
            tmp_path / "p.csv", index=False
        )
        frame, info = read_vector(tmp_path / "p.csv", x="lng", y="lat", crs=datum.lower())
        assert frame.crs.to_epsg() == 4490 and info.datum == datum
        assert _metres(lon, lat, frame.geometry.x, frame.geometry.y).max() < 1e-3


def _tiny_with_villages_in(root: Path, datum: str | None, *, declare: bool) -> Path:
    """The tiny workspace with its villages moved to ``datum`` (None: left in CGCS2000).

    The file is GeoJSON, which always says EPSG:4326 (RFC 7946): the datum is only
    known from ``workspace.toml``, as with points copied from Amap or Baidu.
    """
    write_tiny_workspace(root)
    if datum is None:
        return root
    v = gpd.read_file(root / "villages.geojson")
    cc.from_cgcs2000(v, datum).to_file(root / "villages.geojson", driver="GeoJSON")
    if declare:
        t = root / "workspace.toml"
        t.write_text(
            t.read_text(encoding="utf-8").replace(
                'path = "villages.geojson"\n', f'path = "villages.geojson"\ncrs = "{datum}"\n'
            ),
            encoding="utf-8",
        )
    return root


def test_declared_gcj02_and_bd09_villages_land_where_cgcs2000_ones_do(tmp_path):
    ref = load_workspace(_tiny_with_villages_in(tmp_path / "ref", None, declare=False))
    for datum in ("GCJ-02", "BD-09"):
        lw = load_workspace(_tiny_with_villages_in(tmp_path / datum, datum, declare=True))
        assert lw.errors == [] and lw.warnings == [], [p.line() for p in lw.problems]
        d = lw.layers["villages"].distance(ref.layers["villages"], align=False)
        assert d.max() < 1e-3  # metres in EPSG:4545


@pytest.mark.slow
def test_pipeline_gives_the_same_plan_for_cgcs2000_gcj02_and_bd09_villages(tmp_path):
    """Road access and km to harden: the same within 1% whichever datum the villages came in."""
    from scripts.pipeline import run_pipeline

    results = {}
    for datum in (None, "GCJ-02", "BD-09"):
        name = datum or "CGCS2000"
        ws = _tiny_with_villages_in(tmp_path / f"ws_{name}", datum, declare=True)
        manifest = run_pipeline(ws, tmp_path / f"out_{name}", progress=False)
        v = gpd.read_file(tmp_path / f"out_{name}" / "plan.gpkg", layer="villages")
        results[name] = (
            dict(zip(v["village_id"], v["road_access"], strict=True)),
            manifest["summary"]["km_to_harden"],
            manifest["summary"]["villages_without_hardened_road"],
        )
    ref_access, ref_km, ref_n = results["CGCS2000"]
    assert ref_km > 0  # a figure that could move
    for name in ("GCJ-02", "BD-09"):
        access, km, n = results[name]
        assert access == ref_access and n == ref_n
        assert km == pytest.approx(ref_km, rel=0.01)


# ------------------------------------------------------------------ the warnings


def _datav_feature(coords, props=None):
    base = {
        "adcode": 431227,
        "name": "测试县",
        "center": [109.0, 28.3],
        "centroid": [109.01, 28.29],
        "childrenNum": 0,
        "level": "district",
        "parent": {"adcode": 431200},
        "subFeatureIndex": 3,
        "acroutes": [100000, 430000, 431200],
    }
    return {
        "type": "Feature",
        "properties": props if props is not None else base,
        "geometry": {"type": "Polygon", "coordinates": [coords]},
    }


def _datav_boundary(root: Path, *, props=None) -> None:
    """The tiny workspace's boundary as DataV publishes one: GCJ-02, with its properties."""
    b = gpd.read_file(root / "county.gpkg", layer="boundary").to_crs(4490)
    g = cc.from_cgcs2000(b, "GCJ-02")
    coords = [list(c) for c in g.geometry.iloc[0].exterior.coords]
    fc = {"type": "FeatureCollection", "features": [_datav_feature(coords, props)]}
    (root / "county.json").write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'path = "county.gpkg"\nlayer = "boundary"\n', 'path = "county.json"\n'
        ),
        encoding="utf-8",
    )


def test_datav_fingerprint_warns_naming_layer_offset_and_fix(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    _datav_boundary(root)
    lw = load_workspace(root)
    warn = [p for p in lw.warnings if "DataV" in p.message]
    assert len(warn) == 1, [p.line() for p in lw.problems]
    line = warn[0].line()
    assert "county.json" in line and "layer boundary" in line
    assert (
        "300–600 m" in line and "GCJ-02" in line and 'crs = "GCJ-02" in [layers.boundary]' in line
    )
    assert re.search(r"about \d+ m here", line)
    for key in ("adcode", "acroutes", "childrenNum", "parent"):
        assert key in line
    # declared: converted, and silent
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'path = "county.json"\n', 'path = "county.json"\ncrs = "GCJ-02"\n'
        ),
        encoding="utf-8",
    )
    lw = load_workspace(root)
    assert not [p for p in lw.warnings if "DataV" in p.message]
    ref = gpd.read_file(root / "county.gpkg", layer="boundary").to_crs(4545)
    assert (
        lw.layers["boundary"].geometry.iloc[0].symmetric_difference(ref.geometry.iloc[0]).area < 1.0
    )


def test_datav_fingerprint_rules():
    def frame(cols):
        return pd.DataFrame({c: ["x"] for c in cols})

    assert cc.datav_fingerprint(frame(["name", "adcode"])) == []  # a bare division code: any source
    assert cc.datav_fingerprint(frame(["adcode", "childrenNum"])) == ["adcode", "childrenNum"]
    assert cc.datav_fingerprint(frame(["acroutes"])) == ["acroutes"]
    with_parent = pd.DataFrame({"adcode": [1], "parent": ['{ "adcode": 431200 }']})
    assert cc.datav_fingerprint(with_parent) == ["adcode", "parent"]
    no_adcode_parent = pd.DataFrame({"adcode": [1], "parent": ["湖南省"]})
    assert cc.datav_fingerprint(no_adcode_parent) == []


def test_undeclared_gcj02_villages_warn_by_their_distance_to_roads(tmp_path):
    for datum in ("GCJ-02", "BD-09"):
        lw = load_workspace(_tiny_with_villages_in(tmp_path / datum, datum, declare=False))
        warn = [p for p in lw.warnings if "from the nearest road" in p.message]
        assert len(warn) == 1, [p.line() for p in lw.problems]
        assert re.search(r"villages are a median \d+ m from the nearest road", warn[0].message)
        assert f'declare crs = "{datum}" in [layers.villages]' in warn[0].message
    # declared: no warning (the other test); CGCS2000 villages on their roads: none either
    lw = load_workspace(_tiny_with_villages_in(tmp_path / "ref", None, declare=False))
    assert not [p for p in lw.warnings if "nearest road" in p.message]


def test_roads_in_gcj02_are_named_when_they_are_the_offset_layer(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    r = gpd.read_file(root / "roads.gpkg", layer="roads")
    cc.from_cgcs2000(r, "GCJ-02").to_file(root / "roads.gpkg", layer="roads")
    lw = load_workspace(root)
    msg = " ".join(p.message for p in lw.warnings if "nearest road" in p.message)
    assert 'declare crs = "GCJ-02" in [layers.roads]' in msg, [p.line() for p in lw.problems]


def _grid_workspace(root: Path, *, spacing: float, shift: tuple[float, float]) -> Path:
    """Tiny workspace with a grid of roads every ``spacing`` m and 12 villages moved by ``shift``."""
    write_tiny_workspace(root)
    lines = []
    for k in np.arange(X0 + 150, X0 + 1700, spacing):
        lines.append(LineString([(k, Y0 - 1700), (k, Y0 - 150)]))
        lines.append(LineString([(X0 + 150, Y0 - (k - X0)), (X0 + 1700, Y0 - (k - X0))]))
    gpd.GeoDataFrame(
        {
            "road_id": [f"R{i}" for i in range(len(lines))],
            "road_class": ["村道"] * len(lines),
            "surface": ["水泥"] * len(lines),
        },
        geometry=lines,
        crs="EPSG:4545",
    ).to_file(root / "roads.gpkg", layer="roads")
    rng = np.random.default_rng(3)
    on = [lines[i].interpolate(rng.uniform(100, 1200)) for i in rng.integers(0, len(lines), 12)]
    pts = [Point(p.x + shift[0], p.y + shift[1]) for p in on]
    gpd.GeoDataFrame(
        {
            "村代码": [f"4312000000{i:02d}" for i in range(12)],
            "村名": [f"村{i}" for i in range(12)],
            "乡镇": ["龙潭镇"] * 12,
            "人口": [500] * 12,
            "户数": [150] * 12,
            "贫困人口": [20] * 12,
        },
        geometry=pts,
        crs="EPSG:4545",
    ).to_crs(4490).to_file(root / "villages.geojson", driver="GeoJSON")
    return root


def test_villages_far_from_dense_roads_warn_even_when_no_datum_explains_it(tmp_path):
    # roads every 500 m (about 4 km/km²); villages 200 m off them, not a GCJ-02 shift
    lw = load_workspace(_grid_workspace(tmp_path / "dense", spacing=500, shift=(200, 210)))
    warn = [p.message for p in lw.warnings if "nearest road" in p.message]
    assert len(warn) == 1 and "although the roads are dense" in warn[0]
    assert "are they in GCJ-02 / BD-09?" in warn[0] and 'crs = "GCJ-02"' in warn[0]
    # on the roads: silent
    lw = load_workspace(_grid_workspace(tmp_path / "on", spacing=500, shift=(0, 0)))
    assert not [p for p in lw.warnings if "nearest road" in p.message]
    # the thresholds are the profile's: a county that accepts villages 300 m off its roads
    root = _grid_workspace(tmp_path / "lenient", spacing=500, shift=(200, 210))
    (root / "lenient.toml").write_text(
        '[profile]\nname = "lenient"\nextends = "national"\n[road]\ndatum_suspect_snap_m = 400.0\n',
        encoding="utf-8",
    )
    toml = root / "workspace.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('policy = "national"', 'policy = "lenient.toml"'),
        encoding="utf-8",
    )
    lw = load_workspace(root)
    assert lw.settings is not None and lw.settings.road.datum_suspect_snap_m == 400.0
    assert not [p for p in lw.warnings if "nearest road" in p.message]


def test_snap_distance_is_not_suspect_with_sparse_roads():
    roads = gpd.GeoSeries([LineString([(0, 0), (1000, 0)])], crs="EPSG:4545")
    villages = gpd.GeoSeries([Point(x, 400) for x in (100, 500, 900)], crs="EPSG:4545")
    d = cc.datum_diagnosis(villages, roads, area_m2=100e6)  # 1 km of road in 100 km²
    assert d["median_m"] == pytest.approx(400) and not d["suspect"] and d["explained_by"] is None


# ------------------------------------------------------------------ CRS names and hints


def _wkt1(code: int, *, name: str | None = None) -> str:
    """The WKT1 a GeoTIFF or .prj often carries: no AXIS, so its axis order differs from
    EPSG's and pyproj rates the match below 70% (``to_string()`` gives the full WKT).
    With ``name``: a local CRS, authority removed and renamed."""
    wkt = CRS.from_epsg(code).to_wkt("WKT1_GDAL")
    if name is not None:
        wkt = re.sub(r',\s*AUTHORITY\["EPSG","\d+"\]', "", wkt)
        wkt = wkt.replace(CRS.from_epsg(code).name, name, 1)
        wkt = wkt.replace('"false_easting",500000', '"false_easting",500010')
    return wkt


def test_crs_name_is_epsg_or_short_name_never_wkt():
    for code in (2415, 4545, 4490, 32649):
        c = CRS.from_wkt(_wkt1(code))
        assert crs_name(c) == f"EPSG:{code}"
    assert CRS.from_wkt(_wkt1(2415)).to_string().startswith("PROJCS")  # the bug
    custom = CRS.from_proj4(
        "+proj=tmerc +lat_0=0 +lon_0=109 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m"
    )
    assert crs_name(custom).startswith("+proj=tmerc") and "PROJCS" not in crs_name(custom)
    assert crs_name(CRS.from_wkt(_wkt1(4545, name="县独立坐标系"))) == "县独立坐标系"
    assert crs_name(None) == "no CRS"


def _write_dem(path: Path, crs) -> None:
    with rasterio.open(path) as src:
        z, profile = src.read(1), src.profile
    profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z, 1)


def test_check_ok_line_names_the_metric_crs_shortly(tmp_path):
    from click.testing import CliRunner

    from scripts.cli import main

    root = write_tiny_workspace(tmp_path / "ws")
    _write_dem(root / "dem.tif", rasterio.crs.CRS.from_wkt(_wkt1(4545)))
    res = CliRunner().invoke(main, ["check", str(root)])
    assert res.exit_code == 0, res.output
    assert "metric CRS EPSG:4545;" in res.output and "PROJCS" not in res.output
    # a local grid with no EPSG code: its short name
    _write_dem(root / "dem.tif", rasterio.crs.CRS.from_wkt(_wkt1(4545, name="local grid")))
    res = CliRunner().invoke(main, ["check", str(root)])
    assert "metric CRS local grid;" in res.output and "PROJCS" not in res.output, res.output


def test_problem_lines_name_crs_shortly(tmp_path):
    odd = CRS.from_proj4("+proj=longlat +a=6378000 +rf=300 +no_defs")  # no EPSG, no name
    msg = check_bounds((598000.0, 3131000.0, 599000.0, 3133000.0), odd)
    assert msg and "CRS +proj=longlat +a=6378000 +rf=300;" in msg and "GEOGCS" not in msg
    assert CRS.from_wkt(_wkt1(4545)).to_string().startswith("PROJCS")
    msg = check_bounds((109.0, 28.3, 109.1, 28.4), CRS.from_wkt(_wkt1(4545)))
    assert msg and "EPSG:4545" in msg and "PROJCS" not in msg
    msg = check_bounds((598000.0, 3131000.0, 599000.0, 3133000.0), CRS.from_wkt(_wkt1(4490)))
    assert msg and "EPSG:4490" in msg and "GEOGCS" not in msg


@pytest.mark.parametrize(
    ("bounds", "crs", "near_lon", "expect"),
    [
        ((28.30, 109.00, 28.31, 109.01), 4490, None, "swapped lon/lat?"),
        ((28.30, 80.00, 28.31, 80.01), 4490, None, "swapped lon/lat?"),  # Xinjiang, swapped
        ((36598000, 3131000, 36599000, 3133000), 4490, None, "did you mean EPSG:4524"),
        ((19598000, 3131000, 19599000, 3133000), 4490, None, "did you mean EPSG:4497"),
        ((598000, 3131000, 599000, 3133000), 4490, 109.0, "did you mean EPSG:4545"),
        ((598000, 3131000, 599000, 3133000), 4490, None, "EPSG:4534–4554"),
        ((109.0, 28.3, 109.1, 28.4), 4545, None, 'declare crs = "EPSG:4490"'),
        ((36598000, 3131000, 36599000, 3133000), 4545, None, "did you mean EPSG:4524"),
        ((598000, 3131000, 599000, 3133000), 4524, None, "did you mean EPSG:4545"),
        ((3131000, 598000, 3133000, 599000), 4545, None, "swapped x/y?"),
    ],
)
def test_coordinate_errors_suggest_the_fix(bounds, crs, near_lon, expect):
    msg = check_bounds(bounds, CRS.from_epsg(crs), near_lon=near_lon)
    assert msg is not None and expect in msg, msg
    if "4490" == str(crs) and bounds[0] > 1000:
        assert "metres declared as degrees" in msg


def test_right_coordinates_pass():
    assert check_bounds((109.0, 28.3, 109.1, 28.4), CRS.from_epsg(4490)) is None
    assert check_bounds((598000, 3131000, 599000, 3133000), CRS.from_epsg(4545)) is None
    assert check_bounds((1.4, 42.4, 1.8, 42.6), CRS.from_epsg(4326)) is None  # Andorra


def test_workspace_names_the_gk_zone_of_metres_declared_as_degrees(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    v = gpd.read_file(root / "villages.geojson").to_crs(4545)
    df = v.drop(columns="geometry").assign(x=v.geometry.x, y=v.geometry.y)
    df.to_csv(root / "v.csv", index=False)
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'path = "villages.geojson"\n', 'path = "v.csv"\nx = "x"\ny = "y"\ncrs = "EPSG:4490"\n'
        ),
        encoding="utf-8",
    )
    lw = load_workspace(root)
    msgs = [p.message for p in lw.errors]
    assert any("metres declared as degrees" in m and "EPSG:4545" in m for m in msgs), msgs
    # the misplaced layer adds no noise: no distance-to-road or outside-the-county warnings
    assert not [p for p in lw.warnings if p.layer == "villages"], [p.line() for p in lw.warnings]


def test_check_leaks_no_runtime_warning_for_misplaced_coordinates(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    v = gpd.read_file(root / "villages.geojson").to_crs(4545)
    df = v.drop(columns="geometry").assign(x=v.geometry.x, y=v.geometry.y)
    df.to_csv(root / "v.csv", index=False)
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'path = "villages.geojson"\n', 'path = "v.csv"\nx = "x"\ny = "y"\ncrs = "EPSG:4490"\n'
        ),
        encoding="utf-8",
    )
    res = subprocess.run(
        [sys.executable, "-c", "from scripts.cli import main; main()", "check", str(root)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert res.returncode == 2
    assert "RuntimeWarning" not in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert all(ln.startswith(("ERROR", "WARNING", "1 error")) for ln in res.stderr.splitlines()), (
        res.stderr
    )


def test_bad_declared_crs_is_one_problem_not_a_crash(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'path = "villages.geojson"\n', 'path = "villages.geojson"\ncrs = "EPSG:99999"\n'
        ),
        encoding="utf-8",
    )
    lw = load_workspace(root)
    assert any("not a CRS pyproj knows" in p.message and "GCJ-02" in p.message for p in lw.errors)
    t.write_text(
        t.read_text(encoding="utf-8")
        .replace('crs = "EPSG:99999"\n', "")
        .replace('policy = "national"', 'policy = "national"\ncrs = "GCJ-02"'),
        encoding="utf-8",
    )
    lw = load_workspace(root)
    assert any("[layers.<kind>] crs" in p.message for p in lw.errors)


def test_metre_figures_are_sane():
    assert math.isclose(float(_metres(109.0, 28.0, 109.0, 29.0)), 111_195, rel_tol=1e-3)
