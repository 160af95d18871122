"""Tests for geo.network on small hand-drawn networks with known answers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
from layers.errors import CRSError, LayerSchemaError, PolicyError

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
    out = unhardened_gap(
        county, v, max_snap_m=500, hardened_network_snap_m=50, connection_max_m=300
    )
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
    near = unhardened_gap(
        county, v, max_snap_m=500, hardened_network_snap_m=150, connection_max_m=300
    )
    assert near["road_access"].iloc[0] == "hardened"
    far = unhardened_gap(
        county, v, max_snap_m=500, hardened_network_snap_m=50, connection_max_m=300
    )
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
    out = unhardened_gap(
        net, points([(0, 1000)]), max_snap_m=10, hardened_network_snap_m=1, connection_max_m=300
    )
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
        connection_max_m=300,
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
    out = unhardened_gap(
        net, points([(500, 5000)]), max_snap_m=100, hardened_network_snap_m=5, connection_max_m=300
    )
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
    out = unhardened_gap(
        net, v, max_snap_m=100, hardened_network_snap_m=20, connection_max_m=300
    ).iloc[0]
    assert out["road_access"] == "gap"
    assert out["unhardened_km"] == pytest.approx(0.7) and out[
        "unknown_surface_km"
    ] == pytest.approx(0.6)


# --------------------------------------------------------------------------- golden cases:
# connection distance, inferred surfaces, the main network's anchor


def test_connection_distance_golden():
    """A 10 km hardened county road along y = 0; connection_max_m = 300.

    - village at 400 m from the road: not connected, whatever the road is: "gap",
      connection_km = 400 / 1000 = 0.4, nothing to harden (unhardened_km 0, no edges)
    - village at 250 m: connected to the hardened main road: "hardened", connection_km 0
    - village at 2500 m (beyond max_snap_m = 2000): "no_road", connection_km 2.5
    """
    net = build_network(roads([("main", "county", True, LineString([(0, 0), (10000, 0)]))]))
    v = points([(3000, 400), (6000, 250), (8000, 2500)])
    out = unhardened_gap(net, v, max_snap_m=2000, hardened_network_snap_m=50, connection_max_m=300)
    assert out["road_access"].tolist() == ["gap", "hardened", "no_road"]
    assert out["connection_km"].tolist() == pytest.approx([0.4, 0.0, 2.5])
    assert out["unhardened_km"].iloc[0] == 0.0 and out["gap_edge_ids"].iloc[0] == []
    assert out["road_evidence"].tolist() == ["measured", "measured", "missing"]
    # the same villages with a 500 m connection distance: the first one is connected
    wide = unhardened_gap(net, v, max_snap_m=2000, hardened_network_snap_m=50, connection_max_m=500)
    assert wide["road_access"].tolist() == ["hardened", "hardened", "no_road"]
    assert wide["connection_km"].tolist() == pytest.approx([0.0, 0.0, 2.5])


def test_near_main_shortcut_respects_the_connection_distance(county):
    # 3 m from the gravel spur, 100 m from the main road (as in the test above)
    v = points([(5003, 100)])
    # the main road is 100 m away: within hardened_network_snap_m (150) but beyond the
    # connection distance (80), so the village does not join it directly; its own road
    # is the spur: 100 m of gravel to the main road -> gap, 0.1 km, no connection (3 m)
    out = unhardened_gap(
        county, v, max_snap_m=500, hardened_network_snap_m=150, connection_max_m=80
    )
    assert out["road_access"].iloc[0] == "gap"
    assert out["unhardened_km"].iloc[0] == pytest.approx(0.1)
    assert out["connection_km"].iloc[0] == 0.0
    # a village 400 m from the only road, hardened_network_snap_m 500 > connection 300:
    # beside the main network but not connected to it -> gap, 0.4 km of connection
    far = unhardened_gap(
        county,
        points([(3000, -400)]),
        max_snap_m=500,
        hardened_network_snap_m=500,
        connection_max_m=300,
    )
    assert far["road_access"].iloc[0] == "gap"
    assert far["connection_km"].iloc[0] == pytest.approx(0.4)


def test_not_connected_village_on_a_gravel_road_keeps_its_path():
    """Village 350 m beyond the end of a 1 km gravel spur (connection 300 m).

    Gap: 1.0 km of gravel to harden (the spur) and 0.35 km of connection to build.
    """
    r = roads(
        [
            ("main", "county", True, LineString([(0, 0), (10000, 0)])),
            ("spur", "village", False, LineString([(5000, 0), (5000, 1000)])),
        ]
    )
    out = unhardened_gap(
        build_network(r),
        points([(5000, 1350)]),
        max_snap_m=2000,
        hardened_network_snap_m=50,
        connection_max_m=300,
    ).iloc[0]
    assert out["road_access"] == "gap"
    assert out["unhardened_km"] == pytest.approx(1.0)
    assert out["connection_km"] == pytest.approx(0.35)


def inferred_roads(rows: list[tuple]) -> gpd.GeoDataFrame:
    """rows: (road_id, road_class, hardened, hardened_inferred, geometry)."""
    g = roads([(r[0], r[1], r[2], r[4]) for r in rows])
    g["hardened_inferred"] = [r[3] for r in rows]
    return g


def test_inferred_surface_golden():
    """Measured hardened county road along y = 0 (10 km), and spurs north:

    - x=1000: township road, hardened *inferred* from its class, 600 m
      -> village at its end: hardened, inferred_km 0.6, evidence "inferred"
    - x=3000: measured concrete village road, 600 m -> hardened, measured, inferred_km 0
    - x=5000: track, unhardened *inferred* (tracks are taken as unpaved), 400 m
      -> gap 0.4 km, inferred_km 0.4, evidence "inferred"
    - x=7000: unknown surface, 500 m -> "unknown", evidence "missing"
    - a village on the county road itself: hardened, measured
    - a village 2.5 km away: "no_road", evidence "missing"
    """
    r = inferred_roads(
        [
            ("main", "county", True, False, LineString([(0, 0), (10000, 0)])),
            ("twp", "township", True, True, LineString([(1000, 0), (1000, 600)])),
            ("vil", "village", True, False, LineString([(3000, 0), (3000, 600)])),
            ("trk", "track", False, True, LineString([(5000, 0), (5000, 400)])),
            ("unk", "village", None, False, LineString([(7000, 0), (7000, 500)])),
        ]
    )
    net = build_network(r)
    assert net.edges.set_index("road_id")["hardened_inferred"].to_dict() == {
        "main": False,
        "twp": True,
        "vil": False,
        "trk": True,
        "unk": False,
    }
    v = points([(1000, 600), (3000, 600), (5000, 400), (7000, 500), (9000, 0), (9000, 2500)])
    out = unhardened_gap(net, v, max_snap_m=2000, hardened_network_snap_m=50, connection_max_m=300)
    assert out["road_access"].tolist() == [
        "hardened",
        "hardened",
        "gap",
        "unknown",
        "hardened",
        "no_road",
    ]
    assert out["inferred_km"].iloc[:5].tolist() == pytest.approx([0.6, 0.0, 0.4, 0.0, 0.0])
    assert np.isnan(out["inferred_km"].iloc[5])
    assert out["road_evidence"].tolist() == [
        "inferred",
        "measured",
        "inferred",
        "missing",
        "measured",
        "missing",
    ]


def test_hardened_inferred_flags_absent_and_blank():
    base = [
        ("a", "county", True, LineString([(0, 0), (100, 0)])),
        ("b", "village", None, LineString([(100, 0), (200, 0)])),
    ]
    # no column: every surface was recorded
    assert not build_network(roads(base)).edges["hardened_inferred"].any()
    # a blank flag on a known surface cannot be shown as recorded: inferred;
    # an unknown surface was inferred to nothing: not inferred
    g = roads(base)
    g["hardened_inferred"] = [None, None]
    flags = build_network(g).edges.set_index("road_id")["hardened_inferred"]
    assert flags.to_dict() == {"a": True, "b": False}
    empty = build_network(roads(base).iloc[:0]).edges
    assert "hardened_inferred" in empty.columns and empty["hardened_inferred"].dtype == bool


def test_main_network_stays_on_the_seat_when_its_road_is_blanked():
    """Two separate hardened roads: A (10 km, at the county seat) and B (3 km, far off),
    joined by 1 km of gravel. A village sits on B.

    With A hardened the village needs the 1 km of gravel: gap. With A's surface
    unknown the main network is unknown: the village is "unknown", never "hardened"
    (B must not become the main network just because A became unknown).
    """
    rows = [
        ("A", "county", True, LineString([(0, 0), (10000, 0)])),
        ("link", "track", False, LineString([(10000, 0), (11000, 0)])),
        ("B", "county", True, LineString([(11000, 0), (14000, 0)])),
    ]
    seat = Point(100, 10)
    v = points([(12500, 0)])
    kw = {"max_snap_m": 500, "hardened_network_snap_m": 50, "connection_max_m": 300}
    before = unhardened_gap(build_network(roads(rows)), v, county_seat=seat, **kw)
    assert before["road_access"].iloc[0] == "gap"
    assert before["unhardened_km"].iloc[0] == pytest.approx(1.0)
    rows[0] = ("A", "county", None, rows[0][3])
    after = unhardened_gap(build_network(roads(rows)), v, county_seat=seat, **kw)
    assert after["road_access"].iloc[0] == "unknown"
    assert after["road_evidence"].iloc[0] == "missing"
    # without a seat the highest-class roads anchor it: A and B are both county roads;
    # B is hardened, so it is the main network now and the village on it is hardened
    # (the anchor is chosen without looking at surfaces: blanking cannot move it)
    no_seat = unhardened_gap(build_network(roads(rows)), v, **kw)
    assert no_seat["road_access"].iloc[0] == "hardened"


def test_connection_distance_must_be_a_distance(county):
    with pytest.raises(PolicyError, match="connection_max_m"):
        unhardened_gap(
            county,
            points([(0, 0)]),
            max_snap_m=500,
            hardened_network_snap_m=50,
            connection_max_m=-1,
        )


# --------------------------------------------------------------------------- property

_GRID = 500.0  # metres between grid nodes


@st.composite
def _grid_case(draw):
    """A small network on a 4x4 grid (roads are distinct grid segments), villages at
    random places, and one road to blank."""
    segs = [((i, j), (i + 1, j)) for i in range(3) for j in range(4)] + [
        ((i, j), (i, j + 1)) for i in range(4) for j in range(3)
    ]
    chosen = draw(st.lists(st.sampled_from(segs), min_size=1, max_size=12, unique=True))
    rows = [
        (
            f"r{k}",
            draw(st.sampled_from(["county", "township", "village", "track"])),
            draw(st.sampled_from([True, False, None])),
            LineString([(a[0] * _GRID, a[1] * _GRID), (b[0] * _GRID, b[1] * _GRID)]),
        )
        for k, (a, b) in enumerate(chosen)
    ]
    xy = draw(
        st.lists(st.tuples(st.floats(-200, 1700), st.floats(-200, 1700)), min_size=1, max_size=6)
    )
    seat = draw(st.one_of(st.none(), st.tuples(st.floats(0, 1500), st.floats(0, 1500))))
    blank = draw(st.integers(0, len(rows) - 1))
    hs = draw(st.sampled_from([0.0, 50.0, 400.0]))
    conn = draw(st.sampled_from([100.0, 300.0, 1000.0]))
    return rows, xy, seat, blank, hs, conn


@settings(max_examples=120, deadline=None)
@given(_grid_case())
def test_blanking_a_surface_never_makes_a_village_hardened(case):
    rows, xy, seat, blank, hs, conn = case
    v = points(xy)
    kw = {
        "max_snap_m": 1000,
        "hardened_network_snap_m": hs,
        "connection_max_m": conn,
        "county_seat": None if seat is None else Point(seat),
    }
    before = unhardened_gap(build_network(roads(rows)), v, **kw)["road_access"]
    blanked = list(rows)
    rid, cls, _, geom = blanked[blank]
    blanked[blank] = (rid, cls, None, geom)
    after = unhardened_gap(build_network(roads(blanked)), v, **kw)["road_access"]
    became = (before != "hardened") & (after == "hardened")
    assert not became.any(), (before.tolist(), after.tolist())


def test_a_gap_on_recorded_gravel_is_measured_even_on_an_inferred_trunk():
    """The county road's surface is inferred (hardened); the seat is at its start. A
    recorded concrete side road at x = 2000 splits it there, so the seat's road (the
    anchor of the main network) is the county road's first 2 km. A recorded gravel spur
    of 700 m leaves the county road at x = 6000 and a village sits at its end.

    Its path to the seat's road: 0.7 km gravel + 4 km (6000 -> 2000) of inferred county
    road, so inferred_km = 4.0; but the gap itself stands on the recorded gravel:
    "gap", evidence "measured". A village on the county road at x = 8000 is hardened
    only by inference (6 km of inferred road to the seat's road): evidence "inferred".
    """
    r = inferred_roads(
        [
            ("main", "county", True, True, LineString([(0, 0), (10000, 0)])),
            ("side", "village", True, False, LineString([(2000, 0), (2000, -300)])),
            ("grav", "village", False, False, LineString([(6000, 0), (6000, 700)])),
        ]
    )
    out = unhardened_gap(
        build_network(r),
        points([(6000, 700), (8000, 0)]),
        max_snap_m=500,
        hardened_network_snap_m=50,
        connection_max_m=300,
        county_seat=Point(0, 10),
    )
    assert out["road_access"].tolist() == ["gap", "hardened"]
    assert out["unhardened_km"].iloc[0] == pytest.approx(0.7)
    assert out["inferred_km"].tolist() == pytest.approx([4.0, 6.0])
    assert out["road_evidence"].tolist() == ["measured", "inferred"]
