"""Bureau coverage tables: road gaps ranking, township sums equal the county row."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from geo.coverage import (
    chinese_headers,
    health_summary,
    health_township_summary,
    leader_summary,
    road_gaps,
    transport_summary,
    water_summary,
    water_township_summary,
)
from geo.indicators import evaluate
from layers.errors import LayerSchemaError
from layers.policy import load_policy


@pytest.fixture
def edges() -> gpd.GeoDataFrame:
    # a trunk (0) splitting into branches 1 and 2, an isolated spur (3),
    # and two disjoint edges (4, 5) used by the same village
    lines = [
        LineString([(0, 0), (1000, 0)]),
        LineString([(1000, 0), (2000, 0)]),
        LineString([(1000, 0), (1000, 1500)]),
        LineString([(5000, 0), (5500, 0)]),
        LineString([(9000, 0), (9200, 0)]),
        LineString([(9500, 0), (9800, 0)]),
    ]
    return gpd.GeoDataFrame({"road_class": ["village"] * 6}, geometry=lines, crs="EPSG:4545")


@pytest.fixture
def villages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_id": ["A", "B", "C", "D", "E"],
            "township": ["东乡", "东乡", "西乡", "西乡", None],
            "population": [300, 100, 50, 80, 200],
            "road_access": ["gap", "gap", "no_road", "hardened", "gap"],
            "unhardened_km": [2.0, 2.5, 0.5, 0.0, 0.5],
            "gap_edge_ids": [[0, 1], [0, 2], [3], [], [4, 5]],
        }
    )


def test_road_gaps_ranked_by_people_per_km(edges, villages):
    gaps = road_gaps(edges, villages)
    got = gaps[["villages_served", "length_km", "people_served", "rank", "township"]]
    rows = [tuple(r) for r in got.itertuples(index=False)]
    # E: two disjoint runs of one 0.5 km gap: 200 people / 0.5 km each
    assert rows[0] == ("E", pytest.approx(0.2), 200, 1, "（未知乡镇）")
    assert rows[1] == ("E", pytest.approx(0.3), 200, 2, "（未知乡镇）")
    # the shared trunk: A 300/2 km + B 100/2.5 km = 190 per km
    assert rows[2] == ("A,B", pytest.approx(1.0), 400, 3, "东乡")
    assert rows[3] == ("A", pytest.approx(1.0), 300, 4, "东乡")  # 150
    assert rows[4] == ("C", pytest.approx(0.5), 50, 5, "西乡")  # 100
    assert rows[5] == ("B", pytest.approx(1.5), 100, 6, "东乡")  # 40
    assert gaps["people_per_km"].tolist() == pytest.approx([400, 400, 190, 150, 100, 40])
    assert gaps["people_per_km"].is_monotonic_decreasing
    assert gaps.crs == edges.crs
    # geometry: merged lines of exactly the listed edges
    assert gaps.geometry.length.sum() / 1000 == pytest.approx(gaps["length_km"].sum())
    # every gap edge appears in exactly one segment
    listed = [int(e) for s in gaps["edge_ids"] for e in s.split(",")]
    assert sorted(listed) == [0, 1, 2, 3, 4, 5]


def test_road_gaps_with_node_ids_and_length_column(edges, villages):
    # u/v node ids say edges 4 and 5 do touch (a ferry-less ford, say): one run
    e = edges.assign(
        u=[0, 1, 1, 10, 20, 21], v=[1, 2, 3, 11, 21, 22], length_m=[1000, 1000, 1500, 500, 200, 300]
    )
    gaps = road_gaps(e, villages)
    e_rows = gaps[gaps["villages_served"] == "E"]
    assert len(e_rows) == 1 and e_rows["length_km"].iloc[0] == pytest.approx(0.5)


def test_road_gaps_empty_and_errors(edges, villages):
    none = villages.assign(gap_edge_ids=[[], None, [], [], np.nan])
    empty = road_gaps(edges, none)
    assert len(empty) == 0 and "people_per_km" in empty.columns
    with pytest.raises(LayerSchemaError, match=r"edge id\(s\) \[99\] not in the network"):
        road_gaps(edges, villages.assign(gap_edge_ids=[[99], [], [], [], []]))
    with pytest.raises(LayerSchemaError, match="missing column.*gap_edge_ids"):
        road_gaps(edges, villages.drop(columns="gap_edge_ids"))


def test_transport_summary_sums(edges, villages):
    gaps = road_gaps(edges, villages)
    t = transport_summary(villages, gaps=gaps)
    county = t[t["level"] == "county"].iloc[0]
    towns = t[t["level"] == "township"]
    assert county["township"] == "全县"
    for col in (
        "n_villages",
        "n_without_hardened_road",
        "km_to_harden",
        "people_without_hardened_road",
    ):
        assert towns[col].sum() == pytest.approx(county[col])
    east = towns.set_index("township").loc["东乡"]
    assert east["n_without_hardened_road"] == 2
    assert east["km_to_harden"] == pytest.approx(3.5)  # trunk counted once
    assert east["gap_km_villages_sum"] == pytest.approx(4.5)  # trunk counted twice
    assert county["km_to_harden"] == pytest.approx(4.5)
    t2 = transport_summary(villages)
    assert t2["km_to_harden"].isna().all()


def test_water_summary():
    v = pd.DataFrame(
        {
            "village_id": ["a", "b", "c", "d"],
            "township": ["x", "x", "y", "y"],
            "population": [10, 20, 30, 40],
            "has_safe_water": pd.array([True, False, None, False], dtype="boolean"),
            "nearest_water_id": ["w1", "w2", "w3", "w4"],
            "water_dist_m": [100.0, 900.0, 50.0, 300.0],
        }
    )
    w = water_summary(v)
    assert w["village_id"].tolist() == ["d", "b", "c"]
    assert w["safe_water_status"].tolist() == ["not_met", "not_met", "unknown"]
    assert w["nearest_water_id"].tolist() == ["w4", "w2", "w3"]
    s = water_township_summary(v)
    assert s["n_without_safe_water"].tolist() == [1, 1, 2]
    assert s["n_water_unknown"].tolist() == [0, 1, 1]
    assert s["people_without_safe_water"].tolist() == [20, 40, 60]


def test_health_tables():
    b = lambda xs: pd.array(xs, dtype="boolean")  # noqa: E731
    v = pd.DataFrame(
        {
            "village_id": ["a", "b", "c", "d"],
            "township": ["x", "x", "y", "y"],
            "population": [100, 300, 200, 200],
            "clinic_standard": b([True, False, None, True]),
            "clinic_doctor": b([True, True, True, False]),
            "travel_min_health_centre": [30.0, 45.0, 60.0, np.nan],
        }
    )
    h = health_summary(v)
    assert h["village_id"].tolist() == ["d", "c", "b"]  # unreachable first, then longest
    assert h["clinic_status"].tolist() == ["not_met", "unknown", "not_met"]
    s = health_township_summary(v, minutes=(30, 60)).set_index("township")
    assert s.loc["x", "people_within_30_min"] == 100  # 30 min is within 30 (inclusive)
    assert s.loc["x", "share_within_60_min_frac"] == pytest.approx(1.0)
    assert s.loc["y", "share_within_60_min_frac"] == pytest.approx(0.5)  # NaN is not within
    assert s.loc["全县", "share_within_30_min_frac"] == pytest.approx(100 / 800)
    assert s.loc["全县", "n_without_standard_clinic"] == 2
    assert s.loc["全县", "n_clinic_unknown"] == 1


def test_leader_summary_counts():
    v = pd.DataFrame(
        {
            "township": ["x", "x", "y", None],
            "population": [1, 2, 3, 4],
            "blocker_class": ["ready", "blocked_one", "unknown", "blocked_several"],
        }
    )
    s = leader_summary(v).set_index("township")
    assert s.loc["x", ["n_ready", "n_blocked_one"]].tolist() == [1, 1]
    assert s.loc["（未知乡镇）", "n_blocked_several"] == 1
    assert s.loc["全县", "n_villages"] == 4 and s.loc["全县", "ready_frac"] == 0.25
    with pytest.raises(LayerSchemaError, match="blocker_class: expected"):
        leader_summary(v.assign(blocker_class=["ready", "oops", "ready", "ready"]))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["甲乡", "乙镇", "丙乡", None]),
            st.integers(0, 2000),
            st.sampled_from([True, False, None]),
            st.sampled_from(["hardened", "gap", "no_road", "unknown"]),
            st.one_of(st.none(), st.floats(0, 180)),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_township_rows_sum_to_county(rows):
    town, pop, water, road, travel = zip(*rows, strict=True)
    v = pd.DataFrame(
        {
            "village_id": [f"{i:012d}" for i in range(len(rows))],
            "township": list(town),
            "population": list(pop),
            "poor_population": 0,
            "has_safe_water": pd.array(water, dtype="boolean"),
            "has_electricity": True,
            "has_culture_venue": True,
            "has_broadband": pd.array(water, dtype="boolean"),
            "road_access": list(road),
            "unhardened_km": 1.0,
            "clinic_standard": False,
            "clinic_doctor": True,
            "travel_min_health_centre": [np.nan if t is None else t for t in travel],
        }
    )
    ev = evaluate(v, load_policy("national"))
    for table in (
        leader_summary(ev),
        transport_summary(ev),
        water_township_summary(ev),
        health_township_summary(ev),
    ):
        towns = table[table["level"] == "township"]
        county = table[table["level"] == "county"]
        assert len(county) == 1
        for col in table.columns:
            if col.startswith(("n_", "people_")) or col == "population":
                assert towns[col].sum() == pytest.approx(county[col].iloc[0])
        assert county["n_villages"].iloc[0] == len(v)
    lead = leader_summary(ev).iloc[-1]
    assert lead[["n_ready", "n_blocked_one", "n_blocked_several", "n_unknown"]].sum() == len(v)


def test_chinese_headers():
    prof = load_policy("national")
    df = pd.DataFrame(
        columns=["township", "n_ready", "water_status", "people_within_30_min", "whatever"]
    )
    zh = chinese_headers(df, "leaders", profile=prof)
    assert list(zh.columns) == [
        "乡镇",
        "具备退出条件村数",
        "饮水安全（状态）",
        "30分钟内人口",
        "whatever",
    ]
    with pytest.raises(LayerSchemaError, match="unknown table kind 'bogus'"):
        chinese_headers(df, "bogus")


def test_network_to_gaps_end_to_end():
    """Hand-drawn network with a known answer: network → indicators → road_gaps."""
    from shapely.geometry import Point

    from geo.network import build_network, unhardened_gap

    crs = "EPSG:4545"
    roads = gpd.GeoDataFrame(
        {
            "road_id": ["trunk", "r2", "r3", "r4", "r5"],
            "road_class": ["county", "village", "village", "village", "track"],
            "hardened": pd.array([True, False, False, False, None], dtype="boolean"),
        },
        geometry=[
            LineString([(0, 0), (10000, 0)]),
            LineString([(5000, 0), (5000, 2000)]),
            LineString([(5000, 2000), (5000, 3000)]),
            LineString([(5000, 2000), (6000, 2000)]),
            LineString([(0, 0), (0, -1500)]),
        ],
        crs=crs,
    )
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4", "V5"],
            "township": ["甲乡", "甲乡", "乙乡", "乙乡", "乙乡"],
            "population": [500, 100, 300, 60, 40],
            "poor_population": [0, 0, 0, 0, 0],
            "road_hardened_claimed": pd.array([True, True, False, None, None], dtype="boolean"),
        },
        geometry=[
            Point(2000, 10),
            Point(5000, 3000),
            Point(6000, 2000),
            Point(0, -1500),
            Point(20000, 20000),
        ],
        crs=crs,
    )
    net = build_network(roads, snap_tolerance_m=1.0)
    prof = load_policy("national")
    vg = unhardened_gap(
        net,
        villages,
        max_snap_m=prof.road["max_snap_m"],
        hardened_network_snap_m=prof.road["snap_tolerance_m"],
    )
    ev = evaluate(vg, prof)
    assert ev["road_access"].tolist() == ["hardened", "gap", "gap", "unknown", "no_road"]
    assert ev["road_status"].tolist() == ["met", "not_met", "not_met", "unknown", "not_met"]
    # V2: r3 1 km + r2 2 km; V3: r4 1 km + r2 2 km
    assert ev["road_value"].tolist()[:3] == pytest.approx([0.0, 3.0, 3.0])
    assert ev["road_claim_conflict"].tolist()[:3] == [False, True, False]

    gaps = road_gaps(net.edges, ev)
    got = list(zip(gaps["villages_served"], gaps["length_km"], gaps["rank"], strict=True))
    # r2 shared: 100/3 + 300/3 = 133.3 per km; r4: 100; r5 (unknown surface): 40; r3: 33.3
    assert got == [
        ("V2,V3", pytest.approx(2.0), 1),
        ("V3", pytest.approx(1.0), 2),
        ("V4", pytest.approx(1.5), 3),
        ("V2", pytest.approx(1.0), 4),
    ]
    assert gaps["people_per_km"].tolist() == pytest.approx([400 / 3, 100, 40, 100 / 3])
    assert gaps["unknown_surface_km"].tolist() == pytest.approx([0, 0, 1.5, 0])
    t = transport_summary(ev, gaps=gaps).set_index("township")
    assert t.loc["甲乡", "n_without_hardened_road"] == 1
    assert t.loc["乙乡", "n_without_hardened_road"] == 2  # V3 gap, V5 no road
    assert t.loc["乙乡", "n_road_unknown"] == 1
    assert t.loc["全县", "km_to_harden"] == pytest.approx(5.5)
