"""Bureau coverage tables: road gaps ranking, township sums equal the county row."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from geo.coverage import (
    chinese_headers,
    counted_population,
    health_summary,
    health_township_summary,
    leader_summary,
    road_gaps,
    transport_summary,
    water_access,
    water_summary,
    water_township_summary,
)
from geo.indicators import BLOCKER_CLASSES
from geo.indicators import evaluate as _evaluate
from geo.network import build_network, unhardened_gap
from layers.errors import CRSError, LayerSchemaError
from layers.policy import load_policy
from tests.conftest import national_settings

EVIDENCE = national_settings().evidence
CRS = "EPSG:4545"


def evaluate(villages, profile):
    """The national evidence settings and the western province group."""
    return _evaluate(villages, profile, province_group="west", evidence=EVIDENCE)


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
    return gpd.GeoDataFrame(
        {"road_class": ["village"] * 6, "hardened": pd.array([False] * 6, dtype="boolean")},
        geometry=lines,
        crs="EPSG:4545",
    )


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
        "km_known_unhardened",
        "km_unknown_surface",
        "km_to_connect",
        "km_total",
        "people_without_hardened_road",
    ):
        assert towns[col].sum() == pytest.approx(county[col])
    east = towns.set_index("township").loc["东乡"]
    assert east["n_without_hardened_road"] == 2
    assert east["km_to_harden"] == pytest.approx(3.5)  # trunk counted once
    assert east["gap_km_villages_sum"] == pytest.approx(4.5)  # trunk counted twice
    assert county["km_to_harden"] == pytest.approx(4.5)
    assert county["km_total"] == pytest.approx(4.5) and county["km_unknown_surface"] == 0
    t2 = transport_summary(villages)
    assert t2["km_to_harden"].isna().all() and t2["km_total"].isna().all()
    # an empty gaps layer: nothing to do (0 km), not unknown
    t3 = transport_summary(villages, gaps=road_gaps(edges, villages.assign(gap_edge_ids=None)))
    assert (t3["km_total"] == 0).all()


def test_road_gaps_without_surface_column_is_all_unknown(edges, villages):
    # nothing says the listed edges are unhardened: their km are of unknown surface
    gaps = road_gaps(edges.drop(columns="hardened"), villages)
    assert gaps["known_unhardened_km"].sum() == 0
    assert gaps["unknown_surface_km"].tolist() == pytest.approx(gaps["length_km"].tolist())


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
            st.one_of(st.none(), st.integers(0, 24)),  # parent row of a hamlet
        ),
        min_size=1,
        max_size=25,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["甲乡", "乙镇", "丁镇", None]),
            st.sampled_from(["harden", "connection"]),
            st.floats(0, 5),
            st.floats(0, 1),
        ),
        max_size=8,
    ),
)
def test_township_rows_sum_to_county(rows, gap_rows):
    town, pop, water, road, travel, parent = zip(*rows, strict=True)
    ids = [f"{i:012d}" for i in range(len(rows))]
    v = pd.DataFrame(
        {
            "village_id": ids,
            "township": list(town),
            "population": list(pop),
            "poor_population": 0,
            # some rows are hamlets of another row (or of a village not in the table)
            "level": ["admin" if p is None else "hamlet" for p in parent],
            "parent_id": [None if p is None else f"{p:012d}" for p in parent],
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
    gaps = pd.DataFrame(
        {
            "township": [g[0] for g in gap_rows],
            "kind": [g[1] for g in gap_rows],
            "length_km": [g[2] for g in gap_rows],
            "unknown_surface_km": [0.0 if g[1] == "connection" else g[2] * g[3] for g in gap_rows],
            "known_unhardened_km": [
                g[2] if g[1] == "connection" else g[2] * (1 - g[3]) for g in gap_rows
            ],
        }
    )
    ev = evaluate(v, load_policy("national"))
    total = counted_population(v).sum()
    for table in (
        leader_summary(ev),
        transport_summary(ev, gaps=gaps),
        water_township_summary(ev),
        health_township_summary(ev),
    ):
        towns = table[table["level"] == "township"]
        county = table[table["level"] == "county"]
        assert len(county) == 1
        for col in table.columns:
            if col.startswith(("n_", "people_", "km_")) or col == "population":
                assert towns[col].sum() == pytest.approx(county[col].iloc[0])
            if col == "population" or col.startswith("people_"):
                # nobody counted twice: never more people than the county counts
                assert county[col].iloc[0] <= total + 1e-9
        assert county["n_villages"].iloc[0] == len(v)
    lead = leader_summary(ev).iloc[-1]
    assert lead[[f"n_{c}" for c in BLOCKER_CLASSES]].sum() == len(v)
    assert lead["population"] == pytest.approx(total)
    t = transport_summary(ev, gaps=gaps).iloc[-1]
    assert t["km_total"] == pytest.approx(gaps["length_km"].sum())
    parts = t["km_known_unhardened"] + t["km_unknown_surface"] + t["km_to_connect"]
    assert parts == pytest.approx(t["km_total"])


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
        connection_max_m=prof.road["connection_max_m"],
    )
    ev = evaluate(vg, prof)
    assert ev["road_access"].tolist() == ["hardened", "gap", "gap", "unknown", "no_road"]
    assert ev["road_status"].tolist() == ["met", "not_met", "not_met", "unknown", "not_met"]
    # V2: r3 1 km + r2 2 km; V3: r4 1 km + r2 2 km
    assert ev["road_value"].tolist()[:3] == pytest.approx([0.0, 3.0, 3.0])
    assert ev["road_claim_conflict"].tolist()[:3] == [False, True, False]

    gaps = road_gaps(net.edges, ev)
    got = list(zip(gaps["villages_served"], gaps["length_km"], gaps["rank"], strict=True))
    # r2 shared: 100/3 + 300/3 = 133.3 per km; r4: 100; r5 (unknown surface): 40; r3: 33.3;
    # V5 (no road within 2 km) needs a new road to the trunk's end (10000, 0):
    # hypot(10000, 20000) = 22.36 km for 40 people = 1.79 per km
    far = float(np.hypot(10000, 20000)) / 1000
    assert got == [
        ("V2,V3", pytest.approx(2.0), 1),
        ("V3", pytest.approx(1.0), 2),
        ("V4", pytest.approx(1.5), 3),
        ("V2", pytest.approx(1.0), 4),
        ("V5", pytest.approx(far), 5),
    ]
    assert gaps["kind"].tolist() == ["harden"] * 4 + ["connection"]
    assert gaps["people_per_km"].tolist() == pytest.approx([400 / 3, 100, 40, 100 / 3, 40 / far])
    assert gaps["unknown_surface_km"].tolist() == pytest.approx([0, 0, 1.5, 0, 0])
    assert gaps["known_unhardened_km"].tolist() == pytest.approx([2, 1, 0, 1, far])
    t = transport_summary(ev, gaps=gaps).set_index("township")
    assert t.loc["甲乡", "n_without_hardened_road"] == 1
    assert t.loc["乙乡", "n_without_hardened_road"] == 2  # V3 gap, V5 no road
    assert t.loc["乙乡", "n_road_unknown"] == 1
    # known work: r2 2 + r4 1 + r3 1 km to harden, and V5's connection; r5 to survey
    assert t.loc["全县", "km_known_unhardened"] == pytest.approx(4.0)
    assert t.loc["全县", "km_unknown_surface"] == pytest.approx(1.5)
    assert t.loc["全县", "km_to_connect"] == pytest.approx(far)
    assert t.loc["全县", "km_to_harden"] == pytest.approx(4.0 + far)
    assert t.loc["全县", "km_total"] == pytest.approx(5.5 + far)


# --------------------------------------------------------------------------- golden cases


def test_counted_population_never_counts_a_hamlet_twice():
    """A (admin, 1000 people, its hamlets included) has hamlet H1 (100); H2 (50) belongs
    to a village not in the table; D has no level (an administrative village, 300).

    Counted: A 1000, H1 0 (already in A), H2 50, D 300 -> 1350 in all (not 1450).
    """
    v = pd.DataFrame(
        {
            "village_id": ["A", "H1", "H2", "D"],
            "township": ["x", "x", "y", "y"],
            "population": [1000, 100, 50, 300],
            "level": ["admin", "hamlet", "hamlet", None],
            "parent_id": [None, "A", "Z", None],
            "has_safe_water": pd.array([False, False, False, True], dtype="boolean"),
        }
    )
    assert counted_population(v).tolist() == [1000, 0, 50, 300]
    # no level column: every row is an administrative village
    assert counted_population(v.drop(columns="level")).sum() == 1450
    w = water_township_summary(v).set_index("township")
    # x: A 1000 + H1 0; y: H2 50 (D has safe water)
    assert w.loc["x", "people_without_safe_water"] == 1000
    assert w.loc["y", "people_without_safe_water"] == 50
    assert w.loc["全县", "people_without_safe_water"] == 1050
    assert w.loc["全县", "n_without_safe_water"] == 3  # villages are still each counted


def test_road_work_golden():
    """County road (hardened) along y = 0, 10 km; from x = 2000 a gravel spur north
    (0 -> 1000, known unhardened) continued by 500 m of unknown surface (1000 -> 1500).
    Connection distance 300 m.

    - A (甲乡, 400 people) at the spur's end (2000, 1500): gap, 1.0 km gravel + 0.5 km
      unknown; no connection.
    - H (甲乡, hamlet of A, 80 people) at (2000, 2000): 500 m beyond the spur's end:
      not connected -> gap, same 1.5 km of road plus a 0.5 km connection.
    - B (乙乡, 200 people) at (6000, 400): 400 m from the county road -> gap, 0.4 km
      connection.
    - C (乙乡, 100 people) at (8000, 250): 250 m -> hardened.

    Rows (people per km = each served village's counted people / its whole work):
    1. B's connection: 200 / 0.4 = 500.
    2. the spur (A and H): H's parent A is served too, so people = 400 (not 480);
       A 400 / 1.5 + H 0 = 266.7; 1.5 km = 1.0 known + 0.5 unknown.
    3. H's connection: 80 / (1.5 + 0.5) = 40.
    Townships: 甲乡 1.0 known + 0.5 unknown + 0.5 to connect = 2.0 km, people without a
    hardened road 400 (H is in A); 乙乡 0.4 km to connect, 200 people.
    """
    roads = gpd.GeoDataFrame(
        {
            "road_id": ["main", "grav", "unk"],
            "road_class": ["county", "village", "village"],
            "hardened": pd.array([True, False, None], dtype="boolean"),
        },
        geometry=[
            LineString([(0, 0), (10000, 0)]),
            LineString([(2000, 0), (2000, 1000)]),
            LineString([(2000, 1000), (2000, 1500)]),
        ],
        crs=CRS,
    )
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["A", "H", "B", "C"],
            "township": ["甲乡", "甲乡", "乙乡", "乙乡"],
            "population": [400, 80, 200, 100],
            "level": ["admin", "hamlet", "admin", "admin"],
            "parent_id": [None, "A", None, None],
        },
        geometry=[Point(2000, 1500), Point(2000, 2000), Point(6000, 400), Point(8000, 250)],
        crs=CRS,
    )
    net = build_network(roads)
    vg = unhardened_gap(
        net, villages, max_snap_m=2000, hardened_network_snap_m=50, connection_max_m=300
    )
    assert vg["road_access"].tolist() == ["gap", "gap", "gap", "hardened"]
    assert vg["connection_km"].tolist() == pytest.approx([0.0, 0.5, 0.4, 0.0])

    gaps = road_gaps(net.edges, vg)
    assert gaps["kind"].tolist() == ["connection", "harden", "connection"]
    assert gaps["villages_served"].tolist() == ["B", "A,H", "H"]
    assert gaps["length_km"].tolist() == pytest.approx([0.4, 1.5, 0.5])
    assert gaps["known_unhardened_km"].tolist() == pytest.approx([0.4, 1.0, 0.5])
    assert gaps["unknown_surface_km"].tolist() == pytest.approx([0.0, 0.5, 0.0])
    assert gaps["people_served"].tolist() == [200, 400, 80]
    assert gaps["people_per_km"].tolist() == pytest.approx([500, 400 / 1.5, 40])
    assert gaps["rank"].tolist() == [1, 2, 3]
    assert gaps["n_edges"].tolist() == [0, 2, 0] and gaps["edge_ids"].iloc[0] == ""
    # B's connection: a straight line from the village down to the county road
    line = gaps.geometry.iloc[0]
    assert line.length == pytest.approx(400.0)
    assert {tuple(c) for c in line.coords} == {(6000.0, 400.0), (6000.0, 0.0)}
    assert gaps.geometry.length.sum() / 1000 == pytest.approx(gaps["length_km"].sum())

    t = transport_summary(vg, gaps=gaps).set_index("township")
    assert t.loc[
        "甲乡", ["km_known_unhardened", "km_unknown_surface", "km_to_connect"]
    ].tolist() == (pytest.approx([1.0, 0.5, 0.5]))
    assert t.loc["甲乡", "km_total"] == pytest.approx(2.0)
    assert t.loc["乙乡", "km_to_connect"] == pytest.approx(0.4)
    assert t.loc["甲乡", "people_without_hardened_road"] == 400
    assert t.loc["乙乡", "people_without_hardened_road"] == 200
    county = t.loc["全县"]
    assert county["km_total"] == pytest.approx(2.4)
    assert county["km_to_harden"] == pytest.approx(1.0 + 0.9)  # known work: gravel + connections
    assert county["n_gap_segments"] == 1 and county["n_connections"] == 2
    towns = t.drop(index="全县")
    for col in ("km_known_unhardened", "km_unknown_surface", "km_to_connect", "km_total"):
        assert towns[col].sum() == pytest.approx(county[col])


def test_connection_needs_village_geometry(edges):
    v = pd.DataFrame({"village_id": ["A"], "gap_edge_ids": [[]], "connection_km": [0.4]})
    with pytest.raises(LayerSchemaError, match="no geometry"):
        road_gaps(edges, v)
    elsewhere = gpd.GeoDataFrame(v, geometry=[Point(0, 400)], crs="EPSG:4547")
    with pytest.raises(CRSError, match="differs"):
        road_gaps(edges, elsewhere)


def test_water_access_counts_only_sources_recorded_safe():
    """One village at (0, 0). Sources: w_safe 1000 m away (safe), w_unk 100 m (safety
    blank), w_bad 50 m (unsafe), and a plant 2000 m away recorded "是" (safe).

    Nearest safe: w_safe at 1000 m (never w_unk, whose safety is unknown);
    nearest of unknown safety: w_unk at 100 m; w_bad is neither.
    Without a ``safe`` column every source is of unknown safety: none is safe, and the
    nearest of unknown safety is w_bad at 50 m.
    """
    villages = gpd.GeoDataFrame({"village_id": ["v"]}, geometry=[Point(0, 0)], crs=CRS)
    water = gpd.GeoDataFrame(
        {
            "water_id": ["w_safe", "w_unk", "w_bad", "w_plant"],
            "kind": ["source", "source", "source", "plant"],
            "safe": [True, None, False, "是"],
        },
        geometry=[Point(1000, 0), Point(0, 100), Point(50, 0), Point(0, -2000)],
        crs=CRS,
    )
    w = water_access(villages, water).iloc[0]
    assert (w["nearest_water_id"], w["water_dist_m"]) == ("w_safe", 1000.0)
    assert (w["nearest_unknown_safety_water_id"], w["water_dist_unknown_safety_m"]) == (
        "w_unk",
        100.0,
    )
    blank = water_access(villages, water.drop(columns="safe")).iloc[0]
    assert blank["nearest_water_id"] is None and np.isnan(blank["water_dist_m"])
    assert blank["nearest_unknown_safety_water_id"] == "w_bad"
    assert blank["water_dist_unknown_safety_m"] == 50.0
    # only safe sources: nothing of unknown safety
    only = water_access(villages, water[water["water_id"] == "w_safe"]).iloc[0]
    assert only["nearest_unknown_safety_water_id"] is None
    assert np.isnan(only["water_dist_unknown_safety_m"])
    with pytest.raises(LayerSchemaError, match="water.safe"):
        water_access(villages, water.assign(safe=["maybe", True, True, True]))


def test_health_tables_count_the_clinic_indicator():
    """``clinic_status`` (the national rule's indicator) wins over the raw columns.

    a: met (hosts the health centre, no clinic of its own); b: not met; c, d: unknown.
    Raw columns would say a is not met and b met: they are ignored.
    """
    b = lambda xs: pd.array(xs, dtype="boolean")  # noqa: E731
    v = pd.DataFrame(
        {
            "village_id": ["a", "b", "c", "d"],
            "township": ["x", "x", "y", "y"],
            "population": [100, 300, 200, 200],
            "clinic_status": ["met", "not_met", "unknown", None],
            "clinic_quality": ["measured", "attribute", "missing", "missing"],
            "clinic_standard": b([False, True, True, None]),
            "clinic_doctor": b([False, True, None, None]),
            "travel_min_health_centre": [5.0, 45.0, 60.0, np.nan],
        }
    )
    h = health_summary(v)
    assert h["village_id"].tolist() == ["d", "c", "b"]
    assert h["clinic_status"].tolist() == ["unknown", "unknown", "not_met"]
    assert "clinic_quality" in h.columns
    s = health_township_summary(v).set_index("township")
    # unknown is never "without": met 1, not met 1, unknown 2
    assert s.loc[
        "全县", ["n_clinic_met", "n_without_standard_clinic", "n_clinic_unknown"]
    ].tolist() == [
        1,
        1,
        2,
    ]
    assert s.loc["x", "n_without_standard_clinic"] == 1 and s.loc["y", "n_clinic_unknown"] == 2
    with pytest.raises(LayerSchemaError, match="clinic_status: expected"):
        health_township_summary(v.assign(clinic_status=["met", "yes", "met", "met"]))


def test_leader_summary_knows_every_blocker_class():
    """Hamlets and villages not on the poverty register are not assessed: the share
    ready is over assessed villages (1 ready of 3 assessed), and the hamlet's people are
    in its parent's (population 100 + 200 + 300 + 50 = 650, not 670)."""
    v = pd.DataFrame(
        {
            "village_id": ["a", "b", "c", "h", "n"],
            "township": ["x", "x", "x", "x", "x"],
            "population": [100, 200, 300, 20, 50],
            "level": ["admin", "admin", "admin", "hamlet", "admin"],
            "parent_id": [None, None, None, "a", None],
            "blocker_class": ["ready", "unconfirmed", "blocked_one", "hamlet", "not_registered"],
        }
    )
    s = leader_summary(v).set_index("township").loc["全县"]
    assert s["n_assessed"] == 3 and s["ready_frac"] == pytest.approx(1 / 3)
    assert s[["n_unconfirmed", "n_hamlet", "n_not_registered"]].tolist() == [1, 1, 1]
    assert s["population"] == 650 and s["people_ready"] == 100
