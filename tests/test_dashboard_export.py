"""Exports of table selections: CSV (UTF-8 BOM), XLSX and GeoJSON that read back."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from dashboard.export import export_bytes, to_csv_bytes, to_geojson_bytes, to_xlsx_bytes


def table():
    return gpd.GeoDataFrame(
        {
            "village_id": ["520123000001", "520123000002"],
            "name": ["龙溪村", "白岩村"],
            "population": [1200, 340],
            "water_dist_m": [120.5, None],
            "has_safe_water": pd.array([True, pd.NA], dtype="boolean"),
            "phone": ["13800000000", "13900000000"],
        },
        geometry=[Point(107.1, 26.1), Point(107.2, 26.2)],
        crs="EPSG:4326",
    )


def test_csv_has_bom_and_reads_back():
    data = to_csv_bytes(table())
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"village_id": str})
    assert back["name"].tolist() == ["龙溪村", "白岩村"]
    assert back["village_id"].tolist() == ["520123000001", "520123000002"]
    assert "geometry" not in back.columns and "phone" not in back.columns


def test_xlsx_reads_back():
    back = pd.read_excel(io.BytesIO(to_xlsx_bytes(table())), dtype={"village_id": str})
    assert back["population"].tolist() == [1200, 340]
    assert back["name"].tolist() == ["龙溪村", "白岩村"]
    assert pd.isna(back.loc[1, "water_dist_m"])
    assert "phone" not in back.columns


def test_geojson_reads_back_with_geometry():
    data = to_geojson_bytes(table().to_crs("EPSG:4490"))
    gj = json.loads(data.decode("utf-8"))
    assert gj["features"][0]["properties"]["name"] == "龙溪村"
    back = gpd.read_file(io.BytesIO(data))
    assert len(back) == 2
    assert back.geometry.iloc[0].x == pytest.approx(107.1, abs=1e-5)
    assert "phone" not in back.columns
    assert back["has_safe_water"].iloc[1] is None or pd.isna(back["has_safe_water"].iloc[1])


def test_export_bytes_dispatch_and_error():
    assert export_bytes(table(), "csv")[1] == "csv"
    assert export_bytes(table(), "xlsx")[0][:2] == b"PK"
    with pytest.raises(ValueError, match="expected csv, xlsx or geojson, found 'pdf'"):
        export_bytes(table(), "pdf")
