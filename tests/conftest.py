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
    with rasterio.open(
        root / "dem.tif",
        "w",
        driver="GTiff",
        width=N,
        height=N,
        count=1,
        dtype="float32",
        crs="EPSG:4545",
        transform=from_origin(X0, Y0, CELL, CELL),
        nodata=-32768,
    ) as dst:
        dst.write(z, 1)
    crs = "EPSG:4545"
    bnd = box(X0 + 60, Y0 - N * CELL + 60, X0 + N * CELL - 60, Y0 - 90)
    gpd.GeoDataFrame({"name": ["测试县"]}, geometry=[bnd], crs=crs).to_file(
        root / "county.gpkg", layer="boundary"
    )
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
        {
            "road_id": ["R1", "R2", "R3"],
            "road_class": ["县道", "村道", "village"],
            "surface": ["沥青", None, "gravel"],
        },
        geometry=[
            LineString([(X0 + 100, Y0 - 300), (X0 + 1700, Y0 - 300)]),
            LineString([(X0 + 900, Y0 - 300), (X0 + 900, Y0 - 900)]),
            LineString([(X0 + 900, Y0 - 900), (X0 + 1500, Y0 - 1200)]),
        ],
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


def write_full_tiny_workspace(root: Path) -> Path:
    """The tiny workspace plus towns, clinics, schools, water, hazards, protected land and households."""
    import pandas as pd

    extra = (
        '\n[layers.towns]\npath = "towns.gpkg"\n'
        '\n[layers.clinics]\npath = "facilities.gpkg"\nlayer = "clinics"\n'
        '\n[layers.schools]\npath = "facilities.gpkg"\nlayer = "schools"\n'
        '\n[layers.water]\npath = "facilities.gpkg"\nlayer = "water"\n'
        '\n[layers.hazards]\npath = "facilities.gpkg"\nlayer = "hazards"\n'
        '\n[layers.protected]\npath = "facilities.gpkg"\nlayer = "protected"\n'
        '\n[layers.households]\npath = "households.csv"\n'
    )
    write_tiny_workspace(root, extra_toml=extra)
    crs = "EPSG:4545"
    gpd.GeoDataFrame(
        {
            "town_id": ["T0", "T1", "P1"],
            "name": ["城关镇", "白岩乡", "工业园"],
            "kind": ["county_seat", "township_seat", "industrial_park"],
            "jobs": [0, 0, 800],
        },
        geometry=[
            Point(X0 + 200, Y0 - 300),
            Point(X0 + 1600, Y0 - 300),
            Point(X0 + 1200, Y0 - 300),
        ],
        crs=crs,
    ).to_file(root / "towns.gpkg", layer="towns")
    f = root / "facilities.gpkg"
    gpd.GeoDataFrame(
        {
            "clinic_id": ["C0", "C1"],
            "name": ["城关卫生院", "龙潭村卫生室"],
            "level": ["township_health_centre", "village_clinic"],
            "standard": [True, False],
            "has_doctor": [True, None],
        },
        geometry=[Point(X0 + 210, Y0 - 310), Point(X0 + 310, Y0 - 310)],
        crs=crs,
    ).to_file(f, layer="clinics")
    gpd.GeoDataFrame(
        {"school_id": ["S0"], "name": ["城关小学"], "level": ["primary"]},
        geometry=[Point(X0 + 220, Y0 - 320)],
        crs=crs,
    ).to_file(f, layer="schools")
    gpd.GeoDataFrame(
        {"water_id": ["W0", "W1"], "kind": ["source", "service_area"], "safe": [True, True]},
        geometry=[Point(X0 + 400, Y0 - 500), box(X0 + 100, Y0 - 600, X0 + 700, Y0 - 100)],
        crs=crs,
    ).to_file(f, layer="water")
    gpd.GeoDataFrame(
        {
            "hazard_id": ["H0", "H1"],
            "kind": ["landslide", "debris_flow"],
            "radius_m": [None, 150.0],
        },
        geometry=[box(X0 + 1400, Y0 - 1300, X0 + 1600, Y0 - 1100), Point(X0 + 1000, Y0 - 1000)],
        crs=crs,
    ).to_file(f, layer="hazards")
    gpd.GeoDataFrame(
        {"protected_id": ["E0"], "kind": ["ecological_redline"]},
        geometry=[box(X0 + 1300, Y0 - 1700, X0 + 1700, Y0 - 1400)],
        crs=crs,
    ).to_file(f, layer="protected")
    pd.DataFrame(
        {
            "household_id": ["h1", "h2", "h3"],
            "village_id": ["431200000003"] * 3,
            "members": [3, 4, 2],
            "registered_poor": ["是", "是", "否"],
            "income_per_capita_cny": [3500, 5200, 8000],
            "food_ok": [True, True, True],
            "clothing_ok": [True, True, True],
            "education_ok": [True, True, True],
            "medical_ok": [True, False, True],
            "housing_ok": [False, True, True],
            "safe_water_ok": [True, True, None],
            "head_name": ["张三丰", "李四", "王五"],
            "id_number": ["999999195001011234", "999999196002022345", "999999197003033456"],
            "phone": ["19900001111", "19900002222", "19900003333"],
        }
    ).to_csv(root / "households.csv", index=False)
    return root


@pytest.fixture
def full_tiny_workspace(tmp_path: Path) -> Path:
    return write_full_tiny_workspace(tmp_path / "fullws")


def national_settings():
    """The national profile's settings (every value the analysis reads, from the file)."""
    from layers.settings import load_settings

    return load_settings("national", province_group="west")


def national_rules(**changes):
    """The national relocation rules, with some fields changed (hand-built test cases)."""
    import dataclasses

    return dataclasses.replace(national_settings().relocation, **changes)


def road_speeds():
    """The national profile's road speeds, ``{(class, surface): km/h}``."""
    return national_settings().access.road_speed_table
