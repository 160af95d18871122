"""Exports of table selections: CSV (UTF-8 BOM), XLSX (a 中文 and an en sheet) and GeoJSON
that read back, with headers in the user's language, values rounded as the bureaus read
them, and personal columns never written."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from dashboard.export import (
    column_kind,
    export_bytes,
    export_frame,
    header,
    is_personal,
    to_csv_bytes,
    to_geojson_bytes,
    to_xlsx_bytes,
)

KEYS = {
    "village_id": "bu_village_id",
    "name": "name",
    "population": "population",
    "water_dist_m": "water_dist_m",
    "has_safe_water": "bu_safe_water",
    "travel_min_health_centre": "bu_min_centre",
    "unknown_surface_km": "unknown_surface_km",
    "status": "status",
}


def table(status=("达标", "未知")):
    return gpd.GeoDataFrame(
        {
            "village_id": ["520123000001", "520123000002"],
            "name": ["龙溪村", "白岩村"],
            "population": [1200.4, 339.6],
            "water_dist_m": [120.5, None],
            "has_safe_water": pd.array([True, pd.NA], dtype="boolean"),
            "travel_min_health_centre": [12.345, np.nan],
            "unknown_surface_km": [0.04, 2.26],
            "within_30_frac": [0.9394, 0.5],
            "status": list(status),
            "rank": pd.array([1, 2], dtype="Int64"),
            "phone": ["13800000000", "13900000000"],
            "head_name": ["张三", "李四"],
            "_lat": [26.1, 26.2],
        },
        geometry=[Point(107.1, 26.1), Point(107.2, 26.2)],
        crs="EPSG:4326",
    )


def tables():
    return {"zh": table(), "en": table(("met", "unknown"))}


def test_rounding_rules_by_column():
    assert column_kind("population") == "people" and column_kind("people_served") == "people"
    assert column_kind("length_km") == "km" and column_kind("people_per_km") == "km"
    assert column_kind("travel_min_health_centre") == "km"  # minutes: 1 decimal too
    assert column_kind("within_30_frac") == "frac" and column_kind("water_dist_m") == "m"
    f = export_frame(table(), "en")
    assert f["Population"].tolist() == [1200, 340]
    assert f["Distance (m)"].tolist()[0] == 120 and pd.isna(f["Distance (m)"].iloc[1])
    assert f["Minutes to health centre"].iloc[0] == 12.3  # the column's own i18n key
    assert pd.isna(f["Minutes to health centre"].iloc[1])  # missing stays blank, never 0
    assert f["Unknown surface (km)"].tolist() == [0.04, 2.3]  # 0.04 km is not "none"
    assert f["within_30_frac (%)"].tolist() == [93.9, 50.0]
    assert f["Rank"].tolist() == [1, 2]


def test_headers_follow_the_language_and_the_keys():
    zh = export_frame(table(), "zh", keys=KEYS)
    assert list(zh.columns)[:5] == ["村编号", "名称", "人口", "距离（米）", "饮水安全"]
    assert "到卫生院（分钟）" in zh.columns and "within_30_frac（%）" in zh.columns
    en = export_frame(table(), "en", keys=KEYS)
    assert list(en.columns)[:5] == [
        "Village id",
        "Name",
        "Population",
        "Distance (m)",
        "Safe water",
    ]
    assert header("within_30_frac", "en", {"within_30_frac": "within_30"}).endswith(" (%)")
    # yes / no / unknown written out: an unknown is never a blank that reads as "no"
    assert zh["饮水安全"].tolist() == ["是", "未知"]
    assert en["Safe water"].tolist() == ["yes", "unknown"]


def test_personal_hidden_and_geometry_columns_are_never_exported():
    assert is_personal("phone") and is_personal("head_name") and is_personal("id_number")
    assert is_personal("contact_phone") and not is_personal("name")
    for lang in ("zh", "en"):
        f = export_frame(table(), lang, columns=["name", "phone", "head_name", "_lat", "geometry"])
        assert list(f.columns) == ["名称" if lang == "zh" else "Name"]


def test_columns_choose_and_order():
    f = export_frame(table(), "en", columns=["name", "village_id", "nope"], keys=KEYS)
    assert list(f.columns) == ["Name", "Village id"]


def test_duplicate_labels_are_made_unique():
    f = export_frame(table(), "en", columns=["name", "status"], keys={"status": "name"})
    assert list(f.columns) == ["Name", "Name (status)"]


def test_csv_has_bom_reads_back_in_the_user_language():
    data = to_csv_bytes(table(), "zh", keys=KEYS)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"村编号": str})
    assert back["名称"].tolist() == ["龙溪村", "白岩村"]
    assert back["村编号"].tolist() == ["520123000001", "520123000002"]
    assert back["人口"].tolist() == [1200, 340]
    text = data.decode("utf-8-sig")
    for personal in ("13800000000", "张三", "phone", "head_name", "geometry", "_lat"):
        assert personal not in text
    en = pd.read_csv(io.BytesIO(to_csv_bytes(table(), "en", keys=KEYS)), encoding="utf-8-sig")
    assert "Village id" in en.columns and "Name" in en.columns


def test_xlsx_has_a_chinese_and_an_english_sheet():
    data = to_xlsx_bytes(tables(), "en", keys=KEYS)
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, dtype={"村编号": str})
    assert list(sheets) == ["en", "中文"]  # the user's language first
    zh, en = sheets["中文"], sheets["en"]
    assert zh["名称"].tolist() == ["龙溪村", "白岩村"]
    assert zh["状态"].tolist() == ["达标", "未知"]  # each sheet's values in its language
    assert en["Status"].tolist() == ["met", "unknown"]
    assert zh["人口"].tolist() == [1200, 340]
    assert pd.isna(zh.loc[1, "距离（米）"])
    assert zh["到卫生院（分钟）"].iloc[0] == 12.3
    for sheet in (zh, en):
        assert not {"phone", "head_name", "_lat", "geometry"} & set(sheet.columns)
    assert list(pd.read_excel(io.BytesIO(to_xlsx_bytes(table(), "zh")), sheet_name=None)) == [
        "中文",
        "en",
    ]


def test_geojson_reads_back_with_geometry_and_language_properties():
    data = to_geojson_bytes(table().to_crs("EPSG:4490"), "zh", keys=KEYS)
    gj = json.loads(data.decode("utf-8"))
    props = gj["features"][0]["properties"]
    assert props["名称"] == "龙溪村" and props["人口"] == 1200
    assert props["饮水安全"] == "是"
    assert not {"phone", "head_name", "_lat"} & set(props)
    back = gpd.read_file(io.BytesIO(data))
    assert len(back) == 2
    assert back.geometry.iloc[0].x == pytest.approx(107.1, abs=1e-5)


def test_export_bytes_dispatch_languages_and_error():
    data, ext = export_bytes(tables(), "csv", "en", keys=KEYS)
    assert ext == "csv"
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back["Status"].tolist() == ["met", "unknown"]  # the English table
    data, ext = export_bytes(tables(), "geojson", "zh", keys=KEYS)
    assert ext == "geojson" and "达标" in data.decode("utf-8")
    assert export_bytes(table(), "xlsx")[0][:2] == b"PK"
    with pytest.raises(ValueError, match="expected csv, xlsx or geojson, found 'pdf'"):
        export_bytes(table(), "pdf")


def test_page_tables_export_with_their_grid_headers(tmp_path):
    """The transport gap table of the sample plan, exported as the page does."""
    import sys

    from dashboard.app import create_app
    from dashboard.pages._bureau import table_for
    from dashboard.plan import load_plan
    from tests.sample_plan import write_sample_plan

    plan_dir = write_sample_plan(tmp_path / "plan", n_villages=20)
    create_app(plan_dir, config={"osm": False})  # loads the pages (as Dash names them)
    transport = sys.modules["pages.transport"]
    plan = load_plan(plan_dir)
    cols, keys = transport.GAPS.export_columns()
    tabs = {lg: table_for(plan, transport.GAPS, lg) for lg in ("zh", "en")}
    data, _ = export_bytes(tabs, "xlsx", "zh", columns=cols, keys=keys)
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None)
    zh, en = sheets["中文"], sheets["en"]
    assert list(zh.columns)[:3] == ["路段编号", "乡镇", "受益村"]
    assert list(en.columns)[:3] == ["Gap id", "Township", "Villages served"]
    assert {"排名", "类型", "受益村数"} <= set(zh.columns)
    assert set(zh["类型"]) <= {"硬化或核查", "新建连接路"}
    assert set(en["Kind"]) <= {"harden or survey", "connection to build"}
    km = zh["长度（公里）"].dropna()
    assert ((km * 10).round(6) % 1 == 0).all() or (km < 0.05).any()  # 1 decimal
    assert len(zh) == len(plan.layer("road_gaps"))


def test_names_that_look_like_formulas_stay_text_in_csv_and_xlsx(tmp_path):
    import io as _io

    import openpyxl

    from dashboard.export import to_csv_bytes, to_xlsx_bytes
    from layers.plan import spreadsheet_safe

    df = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x","点我")', "+1+1", "@SUM(A1)", "-2村", "白岩村"],
            "n": [1, 2, 3, 4, 5],
        }
    )
    safe = spreadsheet_safe(df)
    assert safe["name"].tolist() == [
        '\'=HYPERLINK("http://x","点我")',
        "'+1+1",
        "'@SUM(A1)",
        "'-2村",
        "白岩村",
    ]
    assert safe["n"].tolist() == [1, 2, 3, 4, 5]  # numbers untouched
    csv = to_csv_bytes(df, "en").decode("utf-8-sig")
    rows = csv.splitlines()[1:]
    assert rows[0].startswith("\"'=HYPERLINK") and rows[1].startswith("'+1+1")
    assert not any(r.lstrip('"').startswith(("=", "+", "@")) for r in rows)
    wb = openpyxl.load_workbook(_io.BytesIO(to_xlsx_bytes(df, "en")))
    for ws in wb.worksheets:
        cells = [c.value for c in ws["A"][1:]]
        assert cells[0] == '=HYPERLINK("http://x","点我")'  # text, not a formula
        assert ws["A2"].data_type == "s"
