"""Tests for geo.network on small hand-drawn networks with known answers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import connected_components
from shapely.geometry import LineString, MultiLineString, Point, box

from geo.network import (
    build_network,
    hardened_subgraph,
    main_hardened_nodes,
    network_distance,
    snap_points,
    unhardened_gap,
)
from layers.errors import CRSError, LayerSchemaError

CRS = "EPSG:4547"  # CGCS2000 3-degree Gauss-Kruger, CM 114E


def roads(rows: list[tuple], crs: str | None = CRS) -> gpd.GeoDataFrame:
    """rows: (road_id, road_class, hardened, geometry)."""
    return gpd.GeoDataFrame(
        {
            "road_id": [r[0] for r in rows],
            "road_class": [r[1] for r in rows],
            "surface": [
                "concrete" if r[2] is True else ("gravel" if r[2] is False else None) for r in rows
            ],
            "hardened": pd.array([r[2] for r in rows], dtype="boolean"),
        },
        geometry=[r[3] for r in rows],
        crs=crs,
    )


def points(xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_id": [f"v{i}" for i in range(len(xy))]},
        geometry=[Point(p) for p in xy],
        crs=CRS,
    )


def n_components(net) -> int:
    graph, _ = net.csgraph()
    return connected_components(graph, directed=False)[0]


def test_crossing_lines_are_noded_into_four_edges():
    r = roads(
        [
            ("a", "county", True, LineString([(0, 50), (100, 50)])),
            ("b", "village", False, LineString([(50, 0), (50, 100)])),
        ]
    )
    net = build_network(r, snap_tolerance_m=5)
    assert len(net.edges) == 4
    assert net.n_nodes == 5
    np.testing.assert_allclose(net.edges["length_m"], 50.0)
    assert sorted(net.edges["road_id"]) == ["a", "a", "b", "b"]
    # attributes follow the source road
    for _, e in net.edges.iterrows():
        assert e["road_class"] == ("county" if e["road_id"] == "a" else "village")
        assert bool(e["hardened"]) == (e["road_id"] == "a")
    # geometry runs from u to v
    for _, e in net.edges.iterrows():
        c = np.asarray(e.geometry.coords)
        np.testing.assert_allclose(c[0], net.nodes[e["u"]])
        np.testing.assert_allclose(c[-1], net.nodes[e["v"]])


def test_overlapping_roads_take_the_better_road():
    r = roads(
        [
            ("v", "village", False, LineString([(0, 0), (100, 0)])),
            ("c", "county", True, LineString([(50, 0), (150, 0)])),
        ]
    )
    net = build_network(r, snap_tolerance_m=1.0)
    assert len(net.edges) == 3
    by_start = {
        round(min(np.asarray(g.coords)[:, 0])): rid
        for g, rid in zip(net.edges.geometry, net.edges["road_id"], strict=True)
    }
    assert by_start == {0: "v", 50: "c", 100: "c"}


def test_endpoints_one_metre_apart_join_only_within_tolerance():
    r = roads(
        [
            ("a", "county", True, LineString([(0, 0), (100, 0)])),
            ("b", "county", True, LineString([(101, 0), (200, 0)])),
        ]
    )
    joined = build_network(r, snap_tolerance_m=5.0)
    assert joined.n_nodes == 3
    assert n_components(joined) == 1
    apart = build_network(r, snap_tolerance_m=0.5)
    assert apart.n_nodes == 4
    assert n_components(apart) == 2


def test_near_miss_t_junction_is_joined():
    r = roads(
        [
            ("main", "county", True, LineString([(0, 0), (200, 0)])),
            ("side", "village", False, LineString([(100, 2), (100, 100)])),
        ]
    )
    net = build_network(r, snap_tolerance_m=5.0)
    assert len(net.edges) == 3
    assert n_components(net) == 1
    side = net.edges[net.edges["road_id"] == "side"]
    assert side["length_m"].iloc[0] == pytest.approx(100.0, abs=0.01)
    net0 = build_network(r, snap_tolerance_m=1.0)
    assert n_components(net0) == 2


def test_multilinestring_and_unknown_hardened():
    r = roads(
        [
            (
                "m",
                "track",
                None,
                MultiLineString([[(0, 0), (10, 0)], [(20, 0), (30, 0)]]),
            )
        ]
    )
    net = build_network(r, snap_tolerance_m=1.0)
    assert len(net.edges) == 2
    assert net.edges["hardened"].isna().all()
    assert len(hardened_subgraph(net).edges) == 0


def test_errors():
    r = roads([("a", "county", True, LineString([(0, 0), (1, 1)]))], crs="EPSG:4490")
    with pytest.raises(CRSError, match="geographic"):
        build_network(r)
    r_nocrs = roads([("a", "county", True, LineString([(0, 0), (1, 1)]))], crs=None)
    with pytest.raises(CRSError, match="no CRS"):
        build_network(r_nocrs)
    r2 = roads([("a", "county", True, LineString([(0, 0), (1, 1)]))]).drop(columns="hardened")
    with pytest.raises(LayerSchemaError, match="hardened"):
        build_network(r2)
    r3 = roads([("a", "county", True, box(0, 0, 1, 1))])
    with pytest.raises(LayerSchemaError, match="Polygon"):
        build_network(r3)
    net = build_network(roads([("a", "county", True, LineString([(0, 0), (100, 0)]))]))
    with pytest.raises(CRSError, match="differs"):
        snap_points(net, points([(1, 1)]).to_crs("EPSG:4490"))


def test_snap_points_position_and_distances():
    net = build_network(roads([("a", "county", True, LineString([(0, 0), (1000, 0)]))]))
    s = snap_points(net, points([(300, 40), (500, 900)]), max_snap_m=500)
    assert s["edge_id"].tolist() == [0, -1]
    assert s["snap_dist_m"].iloc[0] == pytest.approx(40.0)
    assert s["edge_pos_m"].iloc[0] == pytest.approx(300.0)
    assert s["dist_to_u_m"].iloc[0] + s["dist_to_v_m"].iloc[0] == pytest.approx(1000.0)
    assert (s["snap_x"].iloc[0], s["snap_y"].iloc[0]) == pytest.approx((300.0, 0.0))
    assert np.isnan(s["snap_dist_m"].iloc[1])


@pytest.fixture
def county():
    """A 10 km hardened county road with spurs.

    - gravel spur 2.3 km north at x=5000
    - unknown-surface spur 1 km north at x=8000
    - gravel link 3 km north at x=1000 leading to an isolated hardened stub (1 km)
    """
    r = roads(
        [
            ("main", "county", True, LineString([(0, 0), (10000, 0)])),
            ("spur", "village", False, LineString([(5000, 0), (5000, 2300)])),
            ("unk", "village", None, LineString([(8000, 0), (8000, 1000)])),
            ("link", "track", False, LineString([(1000, 0), (1000, 3000)])),
            ("stub", "village", True, LineString([(1000, 3000), (1000, 4000)])),
        ]
    )
    return build_network(r, snap_tolerance_m=5.0)


def test_unhardened_gap_classes(county):
    v = points(
        [
            (3000, 10),  # on the hardened main road
            (5000, 2300),  # end of the 2.3 km gravel spur
            (8000, 1000),  # end of the unknown spur
            (2000, 800),  # 800 m from any road
            (1000, 4000),  # end of the isolated hardened stub
        ]
    )
    out = unhardened_gap(county, v, max_snap_m=500, hardened_network_snap_m=50)
    assert out["road_access"].tolist() == ["hardened", "gap", "unknown", "no_road", "gap"]
    assert out["unhardened_km"].iloc[0] == 0.0
    assert out["unhardened_km"].iloc[1] == pytest.approx(2.3)
    assert out["unknown_surface_km"].iloc[1] == pytest.approx(0.0)
    assert out["unknown_surface_km"].iloc[2] == pytest.approx(1.0)
    assert out["unhardened_km"].iloc[2] == pytest.approx(0.0)
    assert out["road_snap_m"].iloc[3] == pytest.approx(800.0)
    assert np.isnan(out["unhardened_km"].iloc[3])
    # the stub is hardened but not connected: the 3 km gravel link must be hardened
    assert out["unhardened_km"].iloc[4] == pytest.approx(3.0)
    e = county.edges.set_index("edge_id")
    assert [e.loc[i, "road_id"] for i in out["gap_edge_ids"].iloc[1]] == ["spur"]
    assert [e.loc[i, "road_id"] for i in out["gap_edge_ids"].iloc[4]] == ["link"]
    assert out["gap_edge_ids"].iloc[0] == []
    assert isinstance(out, gpd.GeoDataFrame)
    # the road_gaps layer (ranked segments) is built from these ids by geo.coverage.road_gaps


def test_hardened_network_snap_distance(county):
    # 3 m from the gravel spur, 100 m from the main road
    v = points([(5003, 100)])
    near = unhardened_gap(county, v, max_snap_m=500, hardened_network_snap_m=150)
    assert near["road_access"].iloc[0] == "hardened"
    far = unhardened_gap(county, v, max_snap_m=500, hardened_network_snap_m=50)
    assert far["road_access"].iloc[0] == "gap"
    assert far["unhardened_km"].iloc[0] == pytest.approx(0.1)


def test_cheapest_path_minimises_unhardened_length():
    # village at (0, 1000): 1 km gravel straight down, or 200 m gravel to a
    # hardened side road that joins the main road after 3 km.
    r = roads(
        [
            ("main", "county", True, LineString([(-5000, 0), (5000, 0)])),
            ("direct", "track", False, LineString([(0, 0), (0, 1000)])),
            ("hop", "track", False, LineString([(0, 1000), (200, 1000)])),
            ("side", "village", True, LineString([(200, 1000), (3000, 1000), (3000, 0)])),
        ]
    )
    net = build_network(r)
    out = unhardened_gap(net, points([(0, 1000)]), max_snap_m=10, hardened_network_snap_m=1)
    assert out["road_access"].iloc[0] == "gap"
    assert out["unhardened_km"].iloc[0] == pytest.approx(0.2)


def test_main_component_follows_county_seat(county):
    big = main_hardened_nodes(county)
    xy = county.nodes[big]
    assert xy[:, 1].max() == pytest.approx(0.0)  # the main road
    small = main_hardened_nodes(county, county_seat=Point(1000, 3900))
    assert set(map(tuple, county.nodes[small])) == {(1000.0, 3000.0), (1000.0, 4000.0)}
    out = unhardened_gap(
        county,
        points([(1000, 4000), (3000, 0)]),
        max_snap_m=500,
        hardened_network_snap_m=5,
        county_seat=Point(1000, 3900),
    )
    assert out["road_access"].tolist() == ["hardened", "gap"]
    assert out["unhardened_km"].iloc[1] == pytest.approx(3.0)


def test_disconnected_road_is_gap_with_nan():
    r = roads(
        [
            ("main", "county", True, LineString([(0, 0), (10000, 0)])),
            ("far", "track", False, LineString([(0, 5000), (1000, 5000)])),
        ]
    )
    net = build_network(r)
    out = unhardened_gap(net, points([(500, 5000)]), max_snap_m=100, hardened_network_snap_m=5)
    assert out["road_access"].iloc[0] == "gap"
    assert np.isnan(out["unhardened_km"].iloc[0])


def test_network_distance(county):
    a = points([(1000, 0), (5000, 2300)])
    b = points([(4000, 0), (1000, 4000), (2000, 800)])
    d = network_distance(county, a, b, max_snap_m=100)
    assert d[0, 0] == pytest.approx(3.0)
    assert d[0, 1] == pytest.approx(4.0)
    assert d[1, 0] == pytest.approx(3.3)
    assert d[1, 1] == pytest.approx(4.0 + 2.3 + 4.0)
    assert np.isnan(d[:, 2]).all()
    same = network_distance(county, points([(6000, 0)]), points([(6500, 5)]))
    assert same[0, 0] == pytest.approx(0.5)


def test_known_gravel_plus_unknown_surface_is_a_gap_not_unknown():
    """A path with known unhardened km fails the road indicator whatever its unknown parts are."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import LineString, Point

    from geo.network import build_network, unhardened_gap

    roads = gpd.GeoDataFrame(
        {
            "road_id": ["main", "unk", "grav"],
            "road_class": ["county", "village", "village"],
            "surface": ["asphalt", None, "gravel"],
            "hardened": pd.array([True, None, False], dtype="boolean"),
        },
        geometry=[
            LineString([(0, 0), (5000, 0)]),
            LineString([(2000, 0), (2000, 600)]),
            LineString([(2000, 600), (2000, 1300)]),
        ],
        crs="EPSG:4545",
    )
    net = build_network(roads)
    v = gpd.GeoDataFrame({"village_id": ["a"]}, geometry=[Point(2000, 1300)], crs="EPSG:4545")
    out = unhardened_gap(net, v, max_snap_m=100, hardened_network_snap_m=20).iloc[0]
    assert out["road_access"] == "gap"
    assert out["unhardened_km"] == pytest.approx(0.7) and out[
        "unknown_surface_km"
    ] == pytest.approx(0.6)
