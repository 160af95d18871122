"""Bureau pages' view models (dashboard/bureau.py) on a small hand-made plan, the pure
row ↔ map link logic, and the three pages laid out on the synthetic sample plan."""

from __future__ import annotations

import json

import dash
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from dash import no_update
from plotly.utils import PlotlyJSONEncoder
from shapely.geometry import LineString, Point, box

from dashboard import bureau as bu
from dashboard import ids
from dashboard.pages._bureau import link_update, shown_rows

WGS = "EPSG:4326"
# about 1.0 km per 0.01 degree of longitude at 26 N, 1.1 km per 0.01 degree of latitude
X0, Y0 = 108.00, 26.00


def villages() -> gpd.GeoDataFrame:
    """Four villages: one in a water service area, one near a safe spring, one with
    nothing known, one hamlet; their clinic and road indicators."""
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4"],
            "name": ["甲村", "乙村", "丙村", "丁寨"],
            "township": ["东镇", "东镇", "西乡", "西乡"],
            "population": [1200.0, 800.0, 450.0, 96.4],
            "water_status": ["met", "not_met", "unknown", "met"],
            "water_quality": ["measured", "attribute", "missing", "inferred"],
            "water_note_zh": ["", "", "饮水数据缺失", ""],
            "water_note_en": ["", "", "no water data", ""],
            "water": pd.array([True, False, pd.NA, True], dtype="boolean"),
            "in_water_service_area": pd.array([True, False, pd.NA, False], dtype="boolean"),
            "nearest_water_id": ["NET1", "SP2", None, "SP2"],
            "water_dist_m": [120.0, 2460.0, np.nan, 30.0],
            "clinic_status": ["met", "not_met", "unknown", "not_met"],
            "clinic_quality": ["attribute", "attribute", "missing", "attribute"],
            "clinic_note_zh": ["", "", "卫生室情况未知", ""],
            "clinic_note_en": ["", "", "clinic unknown", ""],
            "clinic": pd.array([True, False, pd.NA, False], dtype="boolean"),
            "clinic_standard": pd.array([True, False, pd.NA, True], dtype="boolean"),
            "clinic_doctor": pd.array([True, True, pd.NA, False], dtype="boolean"),
            "travel_min_health_centre": [5.04, 42.46, np.nan, 61.25],
            "travel_min_village_clinic": [0.0, 12.04, 30.0, 0.02],
            "nearest_health_centre_id": ["H1", "H1", None, "H9"],
        },
        geometry=[
            Point(X0 + 0.005, Y0 + 0.005),
            Point(X0 + 0.030, Y0 + 0.020),
            Point(X0 + 0.060, Y0 - 0.010),
            Point(X0 + 0.033, Y0 + 0.021),
        ],
        crs=WGS,
    )


def water() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "water_id": ["SA1", "NET1", "SP2", "WB1"],
            "kind": ["service_area", "network", "source", "water_body"],
            "name": ["东镇供水区", "东镇主供水管", "泉水2号", "龙潭水库"],
            "safe": [True, True, True, None],
        },
        geometry=[
            box(X0 - 0.01, Y0 - 0.01, X0 + 0.015, Y0 + 0.015),
            LineString([(X0 - 0.02, Y0), (X0 + 0.01, Y0 + 0.001)]),
            Point(X0 + 0.040, Y0 + 0.030),
            box(X0 + 0.2, Y0, X0 + 0.21, Y0 + 0.01),
        ],
        crs=WGS,
    )


def roads() -> gpd.GeoDataFrame:
    """X001 runs east along the parallel; an unnamed village road goes north from it."""
    return gpd.GeoDataFrame(
        {
            "road_id": ["R1", "R2", "R3"],
            "road_class": ["county", "village", "village"],
            "name": ["X001", None, "C0042"],
            "hardened": ["unhardened", "unknown", "hardened"],
        },
        geometry=[
            LineString([(X0, Y0), (X0 + 0.05, Y0)]),
            LineString([(X0 + 0.03, Y0), (X0 + 0.03, Y0 + 0.02)]),
            # crosses the X001 gap at right angles: must not be taken for its road
            LineString([(X0 + 0.02, Y0 - 0.01), (X0 + 0.02, Y0 + 0.01)]),
        ],
        crs=WGS,
    )


def gaps() -> gpd.GeoDataFrame:
    """As geo.coverage.road_gaps writes them: a run along X001 serving V1 and V2, the
    unnamed road of unknown surface to V2, and V3's connection to build."""
    return gpd.GeoDataFrame(
        {
            "gap_id": ["gap0001", "gap0002", "gap0003"],
            "kind": ["harden", "harden", "connection"],
            "township": ["东镇", "东镇", "西乡"],
            "townships": ["东镇", "东镇", "西乡"],
            "length_km": [5.0123, 2.2249, 0.0312],
            "known_unhardened_km": [5.0123, 0.0, 0.0312],
            "unknown_surface_km": [0.0, 2.2249, 0.0],
            "n_edges": [3, 1, 0],
            "edge_ids": ["1,2,3", "7", ""],
            "villages_served": ["V1,V2", "V2", "V3"],
            "n_villages": [2, 1, 1],
            "people_served": [2000.4, 800.0, 450.0],
            "people_per_km": [399.1, 359.56, 14423.08],
            "rank": [2, 3, 1],
        },
        geometry=[
            LineString([(X0, Y0), (X0 + 0.05, Y0)]),
            LineString([(X0 + 0.03, Y0), (X0 + 0.03, Y0 + 0.02)]),
            LineString([(X0 + 0.06, Y0 - 0.010), (X0 + 0.06, Y0 - 0.0097)]),
        ],
        crs=WGS,
    )


# --------------------------------------------------------------------------- numbers


def test_round_km_keeps_small_amounts_and_missing():
    got = bu.round_km(pd.Series([1.26, 0.04, 0.0, np.nan, 0.0312]))
    assert got.iloc[0] == 1.3 and got.iloc[2] == 0.0
    assert got.iloc[1] == pytest.approx(0.04)  # not rounded down to "no gap"
    assert got.iloc[4] == pytest.approx(0.031)
    assert np.isnan(got.iloc[3])
    assert bu.round_km(12.345) == 12.3


def test_units_and_labels_in_both_languages():
    assert bu.fmt_km(1.26, "zh") == "1.3 公里" and bu.fmt_km(1.26, "en") == "1.3 km"
    assert bu.fmt_min(12.04, "zh") == "12.0 分钟" and bu.fmt_min(None, "en") == "—"
    assert bu.status_text("garbage", "zh") == "未知"  # never read as met
    assert bu.quality_label("inferred", "en") == "inferred"
    assert bu.quality_label(None, "zh") == "—"


def test_row_viewport_point_and_line():
    assert bu.row_viewport(Point(108.1, 26.2)) == {
        "center": [26.2, 108.1],
        "zoom": 14,
        "transition": "flyTo",
    }
    v = bu.row_viewport(LineString([(108.0, 26.0), (108.1, 26.0)]))
    assert v["transition"] == "flyToBounds"
    (s, w), (n, e) = v["bounds"]
    assert (w, e) == (108.0, 108.1)
    assert n - s == pytest.approx(0.024)  # a flat line still gets some height
    assert bu.row_viewport(None) is None


# --------------------------------------------------------------------------- transport


def test_gap_road_names_follow_the_road_not_the_crossing_one():
    names = bu.gap_road_names(gaps(), roads())
    assert names.tolist() == [["X001"], [], []]
    assert bu.gap_road_names(gaps(), roads().drop(columns="name")).tolist() == [[], [], []]


def test_road_gap_table_golden_zh():
    tab = bu.road_gap_table(gaps(), villages(), roads(), "zh")
    assert tab["gap_id"].tolist() == ["gap0003", "gap0001", "gap0002"]  # by rank
    g = tab.set_index("gap_id")
    assert g.loc["gap0001", "road_name"] == "X001"
    assert g.loc["gap0002", "road_name"] == "未命名道路"
    assert g.loc["gap0003", "road_name"] == "新建连接路"
    assert g.loc["gap0001", "villages"] == "甲村、乙村"
    assert g.loc["gap0001", "n_villages"] == 2
    assert g.loc["gap0001", "kind"] == "硬化或核查"
    assert g.loc["gap0001", "length_km"] == 5.0
    assert g.loc["gap0001", "known_unhardened_km"] == 5.0
    assert g.loc["gap0002", "unknown_surface_km"] == 2.2
    assert g.loc["gap0002", "known_unhardened_km"] == 0.0
    # a connection is road to build: neither known unhardened nor unknown surface
    assert g.loc["gap0003", "connection_km"] == pytest.approx(0.031)
    assert g.loc["gap0003", "known_unhardened_km"] == 0.0
    assert g.loc["gap0001", "people_served"] == 2000  # people are whole
    assert g.loc["gap0002", "people_per_km"] == 359.6
    # a row click shows the gap and the villages it serves
    assert g.loc["gap0001", "_extent"].covers(villages().geometry.iloc[1])


def test_road_gap_table_english_and_older_plans():
    tab = bu.road_gap_table(gaps(), villages(), roads(), "en").set_index("gap_id")
    assert tab.loc["gap0001", "villages"] == "甲村, 乙村"
    assert tab.loc["gap0002", "road_name"] == "unnamed road"
    assert tab.loc["gap0003", "kind"] == "connection to build"
    # an older plan: villages served as a count, no road names, no known/unknown split
    old = gaps().drop(columns=["known_unhardened_km", "unknown_surface_km", "n_villages"])
    old["villages_served"] = [2, 1, 1]
    t2 = bu.road_gap_table(old, villages(), roads().drop(columns="name"), "zh")
    assert "road_name" not in t2.columns
    assert t2["villages"].tolist() == ["—", "—", "—"]
    assert t2["n_villages"].tolist() == [1, 2, 1]
    h = t2.set_index("gap_id")
    assert np.isnan(h.loc["gap0001", "unknown_surface_km"])  # not known: blank, never 0
    assert bu.road_gap_table(gaps().iloc[:0], villages(), roads(), "zh").empty


def test_gaps_geojson_carries_key_kind_and_text_label():
    tab = bu.road_gap_table(gaps(), villages(), roads(), "zh")
    gj = bu.gaps_geojson(tab, "zh")
    props = {f["properties"]["gid"]: f["properties"] for f in gj["features"]}
    assert props["gap0003"]["k"] == "connection"
    assert props["gap0001"]["label"] == "gap0001 · X001 · 硬化或核查 · 5.0 公里 · 受益 2,000 人"
    assert "villages" not in props["gap0001"]  # only what the map needs


# --------------------------------------------------------------------------- water


def test_water_supply_network_source_none():
    sup = bu.water_supply(villages(), water()).set_index(villages()["village_id"])
    assert sup.loc["V1"].tolist()[:3] == ["network", "NET1", "东镇主供水管"]
    assert np.isnan(sup.loc["V1", "source_km"])  # served by the network: no distance
    assert sup.loc["V2"].tolist() == ["source", "SP2", "泉水2号", 2.5]
    assert sup.loc["V3", "supply_kind"] == "none"
    assert np.isnan(sup.loc["V3", "source_km"])
    # without the pipeline's flag the service-area polygons decide
    no_flag = villages().drop(columns="in_water_service_area")
    sup2 = bu.water_supply(no_flag, water())
    assert sup2["supply_kind"].tolist() == ["network", "source", "none", "source"]
    # no water layer at all: the nearest safe source ids still tell where to look
    sup3 = bu.water_supply(villages(), None)
    assert sup3["supply_kind"].tolist() == ["network", "source", "none", "source"]
    assert sup3["supply_name"].tolist() == [None, None, None, None]


def test_water_table_golden_statuses_apart():
    tab = bu.water_table(villages(), water(), "zh")
    assert tab["village_id"].tolist() == ["V2", "V3", "V4", "V1"]  # worst first
    w = tab.set_index("village_id")
    assert w.loc["V3", "water_status"] == "未知"  # unknown shown apart, never met
    assert w.loc["V4", "water_status"] == "达标（推定）"
    assert w.loc["V1", "water_status"] == "达标"
    assert w.loc["V3", "water_quality"] == "缺失"
    assert w.loc["V1", "supply_kind"] == "供水管网"
    assert w.loc["V2", "supply_kind"] == "最近安全水源"
    assert w.loc["V3", "supply_kind"] == "无已知安全水源"
    assert w.loc["V3", "supply_name"] == "—"
    assert w.loc["V2", "source_km"] == 2.5
    assert w.loc["V3", "water_note"] == "饮水数据缺失"
    assert w.loc["V4", "population"] == 96
    en = bu.water_table(villages(), water(), "en").set_index("village_id")
    assert en.loc["V2", "supply_kind"] == "nearest safe source"
    assert en.loc["V3", "water_status"] == "unknown"
    assert bu.status_counts(tab["status_code"]) == {
        "met": 1,
        "met_inferred": 1,
        "not_met": 1,
        "unknown": 1,
    }


def test_water_table_without_an_indicator_falls_back_to_has_safe_water():
    v = villages().drop(columns=["water_status", "water", "water_quality"])
    v["has_safe_water"] = pd.array([True, None, False, True], dtype="boolean")
    tab = bu.water_table(v, water(), "en").set_index("village_id")
    assert tab["water_status"].to_dict() == {
        "V2": "unknown",
        "V3": "not met",
        "V1": "met",
        "V4": "met",
    }
    assert (tab["water_quality"] == "—").all()


def test_water_by_supply_counts_add_up():
    per = bu.water_by_supply(bu.water_table(villages(), water(), "zh"), "zh")
    row = per.set_index("supply_name").loc["泉水2号"]
    assert (row["villages"], row["not_met"], row["met_inferred"], row["unknown"]) == (2, 1, 1, 0)
    assert row["people_not_met"] == 800
    s = per[["met", "met_inferred", "not_met", "unknown"]].sum(axis=1)
    assert (s == per["villages"]).all()
    assert per["villages"].sum() == 4


# --------------------------------------------------------------------------- health


def test_health_table_golden():
    clinics = gpd.GeoDataFrame(
        {"clinic_id": ["H1"], "name": ["东镇卫生院"], "level": ["township_health_centre"]},
        geometry=[Point(X0, Y0)],
        crs=WGS,
    )
    tab = bu.health_table(villages(), clinics, "zh")
    assert tab["village_id"].tolist() == ["V4", "V2", "V3"]  # not met (longest trip) first
    h = tab.set_index("village_id")
    assert h.loc["V3", "clinic_status"] == "未知" and h.loc["V2", "clinic_status"] == "未达标"
    assert h.loc["V3", "clinic_quality"] == "缺失"
    assert h.loc["V2", "travel_min_health_centre"] == 42.5
    assert h.loc["V4", "travel_min_village_clinic"] == pytest.approx(0.02)  # not "0"
    assert np.isnan(h.loc["V3", "travel_min_health_centre"])  # unknown stays blank
    assert h.loc["V2", "nearest_health_centre"] == "东镇卫生院"
    assert h.loc["V4", "nearest_health_centre"] == "H9"  # no name: the id
    assert h.loc["V3", "nearest_health_centre"] == "—"
    assert h.loc["V3", "clinic_note"] == "卫生室情况未知"
    assert "V1" not in h.index  # met: no gap


# --------------------------------------------------------------------------- linking

GRIDS = ["p-gaps-grid", "p-grid"]
LAYERS = ["p-gaps-geojson", "p-geojson"]


def _link(trigger, *, clicked=(None, None), features=(None, None), hideouts=None, selected=None):
    geoms = {"g1": LineString([(108.0, 26.0), (108.1, 26.0)]), "V1": Point(108.05, 26.05)}
    return link_update(
        trigger=trigger,
        grids=GRIDS,
        layers=LAYERS,
        grid_layer=[0, 1],
        props=["gid", "vid"],
        clicked=clicked,
        features=features,
        hideouts=hideouts or ({"selected": ""}, {"selected": "V9", "idx": 2}),
        selected=selected or ([], [{"village_id": "V9"}]),
        keys_of=lambda i: {"g1"} if i == 0 else {"V1", "V9"},
        geometry_of=lambda i, k: geoms.get(k),
    )


def test_row_click_highlights_flies_and_clears_the_other_selection():
    view, h_gaps, h_vil, sel_gaps, sel_vil, scr_gaps, scr_vil = _link(
        "p-gaps-grid", clicked=({"rowId": "g1", "colId": "gap_id"}, None)
    )
    assert view["transition"] == "flyToBounds"
    assert h_gaps == {"selected": "g1"}
    assert h_vil == {"selected": "", "idx": 2}  # the other layer's highlight is cleared
    assert sel_gaps is no_update and sel_vil == []  # the clicked grid selects itself
    assert scr_gaps is no_update and scr_vil is no_update


def test_map_click_selects_and_scrolls_to_the_row_without_moving_the_map():
    out = _link("p-geojson", features=(None, {"properties": {"vid": "V1", "name": "甲村"}}))
    view, h_gaps, h_vil, sel_gaps, sel_vil, scr_gaps, scr_vil = out
    assert view is no_update
    assert h_vil == {"selected": "V1", "idx": 2} and h_gaps is no_update
    assert sel_vil == {"ids": ["V1"]}
    assert scr_vil == {"rowId": "V1", "rowPosition": "middle"}
    assert sel_gaps is no_update and scr_gaps is no_update
    # a village that is not in the table: highlighted on the map, no row selected
    out = _link("p-geojson", features=(None, {"properties": {"vid": "V7"}}))
    assert out[2] == {"selected": "V7", "idx": 2}
    assert out[4] == [] and out[6] is no_update


def test_link_ignores_empty_clicks():
    out = _link("p-grid", clicked=(None, {"colId": "name"}))
    assert all(o is no_update for o in out)
    out = _link("p-gaps-geojson", features=({"properties": {}}, None))
    assert all(o is no_update for o in out)


def test_shown_rows_keeps_the_grid_order_and_filter():
    df = pd.DataFrame({"village_id": ["V1", "V2", "V3"], "x": [1, 2, 3]})
    got = shown_rows(df, "village_id", [{"village_id": "V3"}, {"village_id": "V1"}])
    assert got["x"].tolist() == [3, 1]
    assert shown_rows(df, "village_id", None)["x"].tolist() == [1, 2, 3]
    assert shown_rows(df, "village_id", [])["x"].tolist() == []


# --------------------------------------------------------------------------- pages


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.app import create_app
    from tests.sample_plan import write_sample_plan

    plan = write_sample_plan(tmp_path_factory.mktemp("bureau") / "plan", n_villages=30)
    return create_app(plan, config={"osm": False})


def _layout(app, page, lang="zh"):
    with app.server.test_request_context("/", headers={"Cookie": f"anju_lang={lang}"}):
        layout = dash.page_registry[f"pages.{page}"]["layout"]()
    return layout, json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False)


def _find(component, cid):
    if getattr(component, "id", None) == cid:
        return component
    kids = getattr(component, "children", None)
    for k in kids if isinstance(kids, list) else [kids]:
        if hasattr(k, "to_plotly_json"):
            got = _find(k, cid)
            if got is not None:
                return got
    return None


@pytest.mark.parametrize("page", ["transport", "water", "health"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pages_link_export_and_keep_personal_data_out(app, page, lang):
    layout, text = _layout(app, page, lang)
    assert ids.PAGE_ALERT not in text
    hint = "点击表格中的一行" if lang == "zh" else "Click a row to find"
    assert hint in text
    bid = ids.bureau_ids(page)
    for cid in (bid["grid"], bid["csv"], bid["xlsx"], bid["geojson_btn"], bid["geojson"]):
        assert f'"{cid}"' in text
    grid = _find(layout, bid["grid"])
    assert grid.getRowId == "params.data.village_id"
    assert grid.dashGridOptions["rowSelection"]["mode"] == "singleRow"
    assert grid.dashGridOptions["pagination"] is False  # every row reachable by scrolling
    for field in ("head_name", "id_number", "phone"):
        assert field not in text
    if page == "water":  # a distance with no network known is labelled straight-line
        assert ("直线距离（公里）" if lang == "zh" else "Straight-line distance (km)") in text


def test_transport_page_has_the_linked_gap_table(app):
    layout, text = _layout(app, "transport", "en")
    gid = ids.bureau_ids("transport-gaps")
    grid = _find(layout, gid["grid"])
    assert grid.getRowId == "params.data.gap_id"
    headers = [c["headerName"] for c in grid.columnDefs]
    assert headers[:4] == ["Gap id", "Township", "Villages served", "Length (km)"]
    assert "Unknown surface (km)" in headers and "Known unhardened (km)" in headers
    assert f'"{gid["geojson"]}"' in text and "anju.gapStyle" in text
    assert f'"{gid["csv"]}"' in text


def _walk(component):
    yield component
    kids = getattr(component, "children", None)
    for k in kids if isinstance(kids, list) else [kids]:
        if hasattr(k, "to_plotly_json"):
            yield from _walk(k)


def test_health_page_draws_travel_time_at_first_with_its_ramp(app):
    layout, text = _layout(app, "health", "zh")
    rasters = {
        o.children.id["name"]: o.checked
        for o in _walk(layout)
        if type(o).__name__ == "Overlay" and type(o.children).__name__ == "TileLayer"
    }
    assert rasters == {"travel_min_health_centre": True, "travel_min_village_clinic": False}
    assert '"data-raster": "travel_min_health_centre"' in text  # its ramp in the legend
    assert "到卫生院（分钟）" in text and "到卫生室（分钟）" in text
