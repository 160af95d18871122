"""Shared fixtures: a tiny but complete workspace written in code."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, box

X0, Y0 = 598_000.0, 3_133_000.0  # EPSG:4545, near 109.0E 28.3N
CELL = 30.0
N = 60


def write_tiny_workspace(root: Path, *, extra_toml: str = "") -> Path:
    """A 1.8 km x 1.8 km workspace: DEM, boundary, 3 villages, 3 roads, one clinic."""
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:N, 0:N]
    z = (800 + 2.0 * xx + 1.0 * yy).astype("float32")
    z[:2, :] = -32768  # nodata strip
    with rasterio.open(root / "dem.tif", "w", driver="GTiff", width=N, height=N, count=1, dtype="float32",
                       crs="EPSG:4545", transform=from_origin(X0, Y0, CELL, CELL), nodata=-32768) as dst:
        dst.write(z, 1)
    crs = "EPSG:4545"
    bnd = box(X0 + 60, Y0 - N * CELL + 60, X0 + N * CELL - 60, Y0 - 90)
    gpd.GeoDataFrame({"name": ["测试县"]}, geometry=[bnd], crs=crs).to_file(root / "county.gpkg", layer="boundary")
    pts = [Point(X0 + 300, Y0 - 300), Point(X0 + 900, Y0 - 900), Point(X0 + 1500, Y0 - 1200)]
    v = gpd.GeoDataFrame(
        {
            "村代码": ["431200000001", "431200000002", "431200000003"],
            "村名": ["龙潭村", "白岩村", "高坡村"],
            "乡镇": ["龙潭镇", "龙潭镇", "白岩乡"],
            "人口": [1200, 800, 150],
            "户数": [360, 240, 45],
            "贫困人口": [20, 40, 90],
            "has_safe_water": ["是", "否", ""],
        },
        geometry=pts,
        crs=crs,
    ).to_crs(4490)
    v.to_file(root / "villages.geojson", driver="GeoJSON")
    roads = gpd.GeoDataFrame(
        {"road_id": ["R1", "R2", "R3"], "road_class": ["县道", "村道", "village"], "surface": ["沥青", None, "gravel"]},
        geometry=[LineString([(X0 + 100, Y0 - 300), (X0 + 1700, Y0 - 300)]),
                  LineString([(X0 + 900, Y0 - 300), (X0 + 900, Y0 - 900)]),
                  LineString([(X0 + 900, Y0 - 900), (X0 + 1500, Y0 - 1200)])],
        crs=crs,
    )
    roads.to_file(root / "roads.gpkg", layer="roads")
    (root / "workspace.toml").write_text(
        '[workspace]\nname = "测试县"\npolicy = "national"\nprovince_group = "west"\n\n'
        '[layers.dem]\npath = "dem.tif"\n\n'
        '[layers.boundary]\npath = "county.gpkg"\nlayer = "boundary"\n\n'
        '[layers.villages]\npath = "villages.geojson"\n\n'
        '[layers.roads]\npath = "roads.gpkg"\nlayer = "roads"\n' + extra_toml,
        encoding="utf-8",
    )
    return root


@pytest.fixture
def tiny_workspace(tmp_path: Path) -> Path:
    return write_tiny_workspace(tmp_path / "ws")
