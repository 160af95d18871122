"""View models of the dashboard: GeoJSON, statuses, filters, panel, bureau tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from dashboard.viewmodels import (
    STATUS_CODES,
    STATUS_COLORS,
    blocker_colors,
    blocker_counts,
    blocker_legend_codes,
    coverage_hideout,
    filter_counts,
    headline_numbers,
    health_townships,
    health_villages,
    km_per_township,
    main_blockers,
    ranked_road_gaps,
    road_state,
    roads_geojson,
    status_codes,
    to_geojson,
    township_ranking,
    transport_villages,
    village_panel,
    villages_geojson,
    water_villages,
)

INDICATORS = [
    {
        "id": "road",
        "name_zh": "通硬化路",
        "name_en": "Hardened road",
        "rule": "==",
        "evidence": "roads layer",
        "threshold": True,
        "unit": "",
        "clause": "第3条",
    },
    {
        "id": "water",
        "name_zh": "饮水安全",
        "name_en": "Safe water",
        "rule": "<=",
        "evidence": "water_dist_m",
        "threshold": 1000,
        "unit": "m",
        "clause": "第4条",
    },
    {
        "id": "incidence",
        "name_zh": "贫困发生率",
        "name_en": "Incidence",
        "rule": "<",
        "evidence": "poor/pop",
        "threshold": 0.03,
        "unit": "frac",
        "clause": "意见二(二)",
    },
]


def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4"],
            "name": ["甲村", "乙村", "丙村", "丁村"],
            "township": ["A", "A", "B", "B"],
            "population": [100, 200, 300, 400],
            "exit_ready": pd.array([True, False, pd.NA, False], dtype="boolean"),
            "road_status": ["met", "not_met", "unknown", "met"],
            "road": pd.array([True, False, pd.NA, True], dtype="boolean"),
            "water": [1.0, np.nan, 0.0, 1.0],  # as read back from a GeoPackage
            "water_value": [120.0, np.nan, 2500.0, 300.0],
            "incidence_status": ["met", "met", "not_met", "not_met"],
            "incidence_value": [0.01, 0.02, 0.05, 0.031],
            "road_access": ["hardened", "gap", None, "no_road"],
            "has_safe_water": [1.0, np.nan, 0.0, 1.0],
            "water_dist_m": [120.4, np.nan, 2500.6, 300.0],
            "nearest_water_id": ["W1", "W2", "W1", "W2"],
            "clinic_standard": pd.array([True, False, True, pd.NA], dtype="boolean"),
            "clinic_doctor": pd.array([True, True, False, True], dtype="boolean"),
            "travel_min_health_centre": [10.0, 45.0, np.nan, 70.0],
            "blocker_class": ["ready", "blocked_one", "unknown", "blocked_several"],
            "head_name": ["x", "y", "z", "w"],
        },
        geometry=[Point(107.1, 26.1), Point(107.2, 26.2), Point(107.3, 26.3), Point(107.4, 26.4)],
        crs="EPSG:4326",
    )


def test_to_geojson_keeps_only_requested_properties_and_nulls_na():
    gj = to_geojson(villages(), columns={"village_id": "vid", "water_value": "w", "missing": "x"})
    assert gj["type"] == "FeatureCollection"
    assert len(gj["features"]) == 4
    props = gj["features"][1]["properties"]
    assert props == {"vid": "V2", "w": None}
    assert gj["features"][0]["geometry"] == {"type": "Point", "coordinates": (107.1, 26.1)}


def test_to_geojson_skips_empty_geometries():
    g = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(0, 0), None], crs="EPSG:4326")
    assert len(to_geojson(g, columns=["a"])["features"]) == 1


def test_status_codes_from_status_and_boolean_columns():
    codes = status_codes(villages(), ["road", "water", "nope"])
    assert list(codes.columns) == ["exit_ready", "road", "water", "nope"]
    assert codes["exit_ready"].tolist() == ["m", "n", "u", "n"]
    assert codes["road"].tolist() == ["m", "n", "u", "m"]
    assert codes["water"].tolist() == ["m", "u", "n", "m"]
    assert codes["nope"].tolist() == ["u"] * 4


def test_villages_geojson_status_string_follows_keys():
    gj = villages_geojson(villages(), ["road", "incidence"])
    st_ = [f["properties"]["st"] for f in gj["features"]]
    assert st_ == ["mmm", "nnm", "uun", "nmn"]
    assert set(gj["features"][0]["properties"]) == {"vid", "name", "tw", "pop", "st", "mb"}
    assert "head_name" not in gj["features"][0]["properties"]
    # what blocks each: ready; road (the first indicator, A); unknown; incidence (B)
    assert [f["properties"]["mb"] for f in gj["features"]] == ["m", "A", "u", "B"]


def test_main_blocker_is_the_first_failing_indicator_in_profile_order():
    v = villages()
    assert main_blockers(v, ["road", "incidence"]).tolist() == ["m", "A", "u", "B"]
    # the profile's order decides which of several failures is the main one
    v.loc[3, "road_status"] = "not_met"
    assert main_blockers(v, ["incidence", "road"]).tolist() == ["m", "B", "u", "A"]
    assert main_blockers(v, ["road", "incidence"]).tolist() == ["m", "A", "u", "A"]
    # a blocked village that fails none of the mapped indicators is "other", never ready
    v.loc[1, "road_status"] = "met"
    assert main_blockers(v, ["road", "incidence"]).tolist() == ["m", "o", "u", "A"]


def test_blocker_counts_add_up_and_count_every_failure():
    v = villages()
    v.loc[3, "road_status"] = "not_met"  # V4 fails road and incidence
    c = blocker_counts(v, ["road", "incidence"])
    assert c["main"] == {"A": 2, "B": 0, "m": 1, "i": 0, "u": 1, "x": 0, "o": 0}
    assert sum(c["main"].values()) == len(v)
    assert c["any"] == {"A": 2, "B": 1}  # V4 counted under both
    b = blocker_counts(v, ["road", "incidence"], township="B")
    assert b["main"]["A"] == 1 and b["main"]["u"] == 1 and sum(b["main"].values()) == 2
    assert blocker_legend_codes(["road", "incidence"]) == ["A", "B", "o", "m", "i", "u", "x"]
    colors = blocker_colors(["road", "incidence"])
    # the blocker colours are not the status colours (ready / unconfirmed / unknown excepted)
    assert colors["A"] not in STATUS_COLORS.values() and colors["B"] not in STATUS_COLORS.values()
    assert colors["A"] != colors["B"] and colors["m"] == STATUS_COLORS["m"]
    h = coverage_hideout(["road", "incidence"], indicator="main_blocker")
    assert h["blocker"] is True and h["idx"] == 0 and h["bcolors"] == colors


def test_coverage_hideout_indexes_and_codes():
    h = coverage_hideout(["road", "water"], indicator="water", township="A", status="not_met")
    assert h["idx"] == 2
    assert h["township"] == "A" and h["status"] == "n"
    assert coverage_hideout(["road"], indicator="bogus")["idx"] == 0
    assert coverage_hideout(["road"])["status"] == ""


def test_filter_counts_hand_computed():
    v = villages()
    codes = status_codes(v, ["road"])
    none = {"met_inferred": 0, "not_assessed": 0}
    assert filter_counts(codes, v["township"]) == {
        "n": 4,
        "total": 4,
        "met": 1,
        "not_met": 2,
        "unknown": 1,
        **none,
    }
    assert filter_counts(codes, v["township"], indicator="road", township="B") == {
        "n": 2,
        "total": 2,
        "met": 1,
        "not_met": 0,
        "unknown": 1,
        **none,
    }
    assert filter_counts(codes, v["township"], indicator="road", status="met")["n"] == 2


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from("minuxz")), min_size=1, max_size=30),
    st.sampled_from(["", "A", "B"]),
    st.sampled_from(["", "met", "met_inferred", "not_met", "unknown", "not_assessed"]),
)
def test_filter_counts_invariants(rows, township, status):
    tw = pd.Series([r[0] for r in rows])
    codes = pd.DataFrame({"exit_ready": [r[1] for r in rows]})  # "z": not a code, unknown
    c = filter_counts(codes, tw, township=township, status=status)
    in_tw = int((tw == township).sum()) if township else len(rows)
    assert c["total"] == in_tw
    assert sum(c[k] for k in STATUS_CODES) == in_tw  # the counts shown add up
    assert 0 <= c["n"] <= in_tw
    if status:
        assert c["n"] == c[status]
    else:
        assert c["n"] == in_tw


def test_road_state_and_roads_geojson():
    assert [road_state(x) for x in (True, False, pd.NA, None, np.nan, "unhardened", "weird")] == [
        "hardened",
        "unhardened",
        "unknown",
        "unknown",
        "unknown",
        "unhardened",
        "unknown",
    ]
    roads = gpd.GeoDataFrame(
        {
            "road_id": ["R1", "R2"],
            "road_class": ["county", "track"],
            "hardened": ["hardened", "unknown"],
        },
        geometry=[LineString([(0, 0), (1, 1)]), LineString([(1, 1), (2, 2)])],
        crs="EPSG:4326",
    )
    gj = roads_geojson(roads)
    assert [f["properties"]["h"] for f in gj["features"]] == ["hardened", "unknown"]
    assert gj["features"][0]["properties"] == {
        "rid": "R1",
        "cls": "county",
        "h": "hardened",
        "inf": 0,
    }
    inferred = roads_geojson(roads.assign(hardened_inferred=[True, False]))
    assert [f["properties"]["inf"] for f in inferred["features"]] == [1, 0]


def test_village_panel_lists_every_indicator_with_evidence():
    row = villages().iloc[2]
    p = village_panel(row, INDICATORS, "en")
    assert p["title"] == "丙村"
    assert p["exit_status"] == "unknown"
    assert [r["id"] for r in p["rows"]] == ["road", "water", "incidence"]
    road, water, inc = p["rows"]
    assert road["status"] == "unknown" and road["status_label"] == "unknown"
    assert water["status"] == "not_met"  # from the boolean column 0.0
    assert water["value"] == "2,500 m"
    assert water["threshold"] == "≤ 1,000 m"
    assert inc["value"] == "5.0%" and inc["threshold"] == "< 3.0%"
    assert inc["clause"] == "(Chinese original) 意见二(二)" and water["evidence"] == "water_dist_m"
    zh = village_panel(villages().iloc[0], INDICATORS, "zh")
    assert zh["rows"][0]["name"] == "通硬化路" and zh["rows"][0]["status_label"] == "达标"
    assert zh["exit"] == "具备退出条件" and zh["exit_status"] == "met"
    assert zh["rows"][0]["quality"] is None and zh["rows"][0]["verified"] is True


def test_transport_villages_lacking_hardened_road():
    out = transport_villages(villages())
    assert out["village_id"].tolist() == ["V4", "V3", "V2"]  # biggest population first
    assert "geometry" in out.columns


def test_ranked_road_gaps_and_km_per_township():
    gaps = gpd.GeoDataFrame(
        {
            "township": ["A", "B", "A"],
            "length_km": [2.0, 1.0, 4.0],
            "people_served": [100, 300, 200],
        },
        geometry=[LineString([(0, 0), (1, 0)])] * 3,
        crs="EPSG:4326",
    )
    r = ranked_road_gaps(gaps)
    assert r["people_per_km"].tolist() == [300.0, 50.0, 50.0]
    assert r["rank"].tolist() == [1, 2, 3]
    k = km_per_township(r)
    assert k.set_index("township")["length_km"].to_dict() == {"A": 6.0, "B": 1.0}
    assert k.set_index("township")["people_served"].to_dict() == {"A": 300, "B": 300}
    assert k["township"].tolist() == ["A", "B"]


def test_water_villages_nearest_source_name():
    water = gpd.GeoDataFrame(
        {"water_id": ["W1", "W2"], "name": ["龙泉", "石井"]},
        geometry=[Point(0, 0)] * 2,
        crs="EPSG:4326",
    )
    out = water_villages(villages(), water)
    assert set(out["village_id"]) == {"V2", "V3"}  # unknown and False
    assert out.set_index("village_id")["nearest_water_name"].to_dict() == {
        "V2": "石井",
        "V3": "龙泉",
    }
    assert out.set_index("village_id").loc["V3", "water_dist_m"] == 2501.0


def test_health_villages_and_township_shares():
    hv = health_villages(villages())
    assert set(hv["village_id"]) == {"V2", "V3", "V4"}
    tw = health_townships(villages()).set_index("township")
    # A: pop 100 (10 min) + 200 (45 min) -> within 30: 1/3, within 60: 1
    assert tw.loc["A", "within_30_frac"] == pytest.approx(round(100 / 300, 4))
    assert tw.loc["A", "within_60_frac"] == pytest.approx(1.0)
    # B: 300 unreachable (NaN) + 400 at 70 min -> 0 and 0
    assert tw.loc["B", "within_60_frac"] == 0.0
    assert tw.loc["全县/County", "within_60_frac"] == pytest.approx(round(300 / 1000, 4))
    # no clinic_status column: a standard clinic with a doctor (V3 has no doctor, V4 unknown)
    assert tw.loc["B", ["clinic_met", "clinic_not_met", "clinic_unknown"]].tolist() == [0, 1, 1]
    assert tw.loc["全县/County", ["clinic_met", "clinic_not_met", "clinic_unknown"]].tolist() == [
        1,
        2,
        1,
    ]


def test_township_ranking_orders_by_share_ready():
    r = township_ranking(villages())
    assert r["township"].tolist() == ["A", "B"]
    assert r.iloc[0][["villages", "ready", "blocked", "unknown"]].tolist() == [2, 1, 1, 0]
    assert r.iloc[0]["ready_frac"] == 0.5 and r.iloc[1]["ready_frac"] == 0.0


def test_headline_numbers_counts_villages_from_the_layer_and_the_rest_from_the_summary():
    h = headline_numbers({"exit_ready": 99, "km_to_harden": 12.5, "no_safe_water": 3}, villages())
    # the map's villages decide the village counts; the manifest gives what the layer cannot
    assert h["exit_ready"] == 1 and h["km_to_harden"] == 12.5 and h["no_safe_water"] == 3
    assert h["villages"] == 4 and h["blocked_one"] == 1 and h["unknown"] == 1


def test_text_booleans_as_written_by_the_pipeline():
    """The plan stores nullable booleans as text ("True"/"False"/null) in the GeoPackage."""
    v = (
        villages()
        .assign(
            road=["True", "False", None, "True"],
            has_safe_water=["True", None, "False", "True"],
        )
        .drop(columns=["road_status"])
    )
    codes = status_codes(v, ["road"])
    assert codes["road"].tolist() == ["m", "n", "u", "m"]
    assert set(water_villages(v)["village_id"]) == {"V2", "V3"}
    ind = [
        {"id": "road", "rule": "is_true", "unit": "bool", "threshold": None},
        {"id": "incidence", "rule": "rate_below", "unit": "frac", "threshold": 0.03},
    ]
    p = village_panel(
        v.iloc[1].to_dict() | {"road_value": "False", "incidence_threshold": np.nan}, ind, "en"
    )
    assert p["rows"][0]["value"] == "no" and p["rows"][0]["threshold"] == "yes"
    assert p["rows"][0]["status"] == "not_met"
    assert p["rows"][1]["threshold"] == "< 3.0%"


def test_display_records_rounds_floats_and_labels_booleans():
    from dashboard.viewmodels import display_records

    df = pd.DataFrame(
        {
            "a": [1.23456, np.nan],
            "b": ["True", None],
            "c": pd.array([False, pd.NA], dtype="boolean"),
            "name": ["x", "y"],
            "_lat": [26.123456, 26.2],
        }
    )
    rows = display_records(df, "zh")
    assert rows[0] == {"a": 1.23, "b": "是", "c": "否", "name": "x", "_lat": 26.123456}
    assert rows[1]["a"] is None and rows[1]["b"] == "未知" and rows[1]["c"] == "未知"
    assert display_records(df, "en")[0]["c"] == "no"


def test_count_by_township():
    from dashboard.viewmodels import count_by_township

    out = count_by_township(water_villages(villages()))
    assert out.to_dict("records") == [
        {"township": "B", "villages": 1, "population": 300},
        {"township": "A", "villages": 1, "population": 200},
    ]
    assert list(count_by_township(villages().iloc[:0]).columns) == [
        "township",
        "villages",
        "population",
    ]


def test_evidence_labels_name_the_source_and_keep_the_column():
    from dashboard.viewmodels import evidence_label

    assert evidence_label("road_access", "zh") == "路网分析：入村道路是否连通硬化路网 (road_access)"
    assert (
        evidence_label("households:housing_ok", "en")
        == "households table: housing_ok (households:housing_ok)"
    )
    assert evidence_label("some_new_column", "zh") == "some_new_column"
    assert evidence_label(None, "zh") == "—"


def test_clauses_in_the_reader_s_language():
    from dashboard.viewmodels import clause_text
    from layers.policy import load_policy

    for name in ("national", "nanchang-2017", "guangdong-scored"):
        for ind in load_policy(name).indicators:
            # every built-in clause has an English rendering, and it is not the Chinese
            assert ind.clause_en and not any("\u4e00" <= ch <= "\u9fff" for ch in ind.clause_en)
    ind = {"clause": "通生产生活用电", "clause_en": "Electricity"}
    assert clause_text(ind, "zh") == "通生产生活用电" and clause_text(ind, "en") == "Electricity"
    # a user's profile without one: the Chinese source, said to be so
    assert clause_text({"clause": "通电"}, "en") == "(Chinese original) 通电"
    assert clause_text({}, "en") == "—"


def test_grid_numbers_are_formatted_by_what_they_hold():
    from dashboard.components import number_format

    assert number_format("robustness_frac") == ".1%"  # 0.993 -> 99.3%, never "1"
    assert number_format("travel_min_health_centre") == ",.0f"  # 27.6 min -> 28
    assert number_format("assigned_people") == ",.0f" and number_format("rank") == ",.0f"
    assert number_format("gap_km") == ",.1f" and number_format("area_ha") == ",.1f"
    assert number_format("water_dist_m") == ",.0f" and number_format("cost_cny") == ",.0f"
    assert number_format("suitability") == ",.2~f"
    assert number_format("planned_exit_year") == "d"  # 2017, never "2,017"


def test_grid_headers_are_never_cut_inside_a_word():
    from dashboard.components import grid, header_min_width

    assert header_min_width("Township") >= 8 * len("Township") + 52
    assert header_min_width("People to move") == header_min_width("People")
    assert header_min_width("乡镇") < header_min_width("Township")
    g = grid("g", [{"township": "A", "n": 1}], [("township", "Township"), ("n", "Sc")])
    widths = {d["field"]: d["minWidth"] for d in g.columnDefs}
    assert widths["township"] >= header_min_width("Township")
