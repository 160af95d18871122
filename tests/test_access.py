"""Tests for geo.access: speed surfaces, travel time against MCP_Geometric."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString
from skimage.graph import MCP_Geometric

from geo.access import (
    WALK_FLAT_KMH,
    rasterize_roads,
    resample_to_grid,
    road_speed_kmh,
    sample_at_points,
    source_ids_from_points,
    speed_surface,
    tobler_kmh,
    travel_time,
    travel_time_with_nearest,
    travel_times,
    within,
)
from layers.errors import AnjuError, LayerSchemaError, PolicyError
from tests.conftest import road_speeds

ROAD_SPEEDS = road_speeds()


def mcp_minutes(speed: np.ndarray, sources: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Independent reference: skimage's MCP_Geometric on minutes-per-metre costs."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = 60.0 / (1000.0 * speed)
    cost[~(speed > 0)] = np.inf
    m = MCP_Geometric(cost, fully_connected=True, sampling=(dy, dx))
    d, _ = m.find_costs([tuple(p) for p in np.argwhere(sources)])
    d = np.asarray(d, dtype=float)
    d[np.isinf(d)] = np.nan
    return d


def test_tobler_values():
    assert tobler_kmh(0.0) == pytest.approx(6 * math.exp(-0.175))
    assert tobler_kmh(-0.05) == pytest.approx(6.0)
    np.testing.assert_allclose(
        tobler_kmh(np.array([0.2, -0.3])), 6 * np.exp(-3.5 * np.array([0.25, 0.25]))
    )
    assert WALK_FLAT_KMH == pytest.approx(5.0367, abs=1e-4)


def test_straight_road_time_is_length_over_speed():
    n, dx, v = 50, 30.0, 40.0
    speed = np.zeros((3, n))
    speed[1, :] = v  # a road along the middle row, everything else a barrier
    src = np.zeros_like(speed, dtype=bool)
    src[1, 0] = True
    t = travel_time(speed, src, cellsize=dx)
    expected = np.arange(n) * dx * 60.0 / (1000.0 * v)
    np.testing.assert_allclose(t[1], expected, rtol=1e-12)
    assert np.isnan(t[0]).all() and np.isnan(t[2]).all()


def test_diagonal_and_anisotropic_cells():
    speed = np.full((2, 2), 6.0)
    src = np.zeros((2, 2), bool)
    src[0, 0] = True
    t = travel_time(speed, src, cellsize=(30.0, 40.0))  # dx=30, dy=40
    per_m = 60.0 / 6000.0
    assert t[0, 1] == pytest.approx(30 * per_m)
    assert t[1, 0] == pytest.approx(40 * per_m)
    assert t[1, 1] == pytest.approx(50 * per_m)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_mcp_geometric_on_random_surfaces(seed):
    rng = np.random.default_rng(seed)
    shape = (60, 80)
    speed = rng.uniform(0.5, 60.0, shape)
    speed[rng.random(shape) < 0.15] = 0.0  # barriers
    speed[rng.random(shape) < 0.02] = np.nan  # no data
    src = np.zeros(shape, bool)
    src[rng.integers(0, shape[0], 4), rng.integers(0, shape[1], 4)] = True
    speed[src] = 5.0  # MCP cannot start on a barrier: keep the comparison like for like
    ours = travel_time(speed, src, cellsize=(25.0, 30.0))
    ref = mcp_minutes(speed, src, 25.0, 30.0)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    ok = ~np.isnan(ref) & (ref > 0)
    rel = np.abs(ours[ok] - ref[ok]) / ref[ok]
    assert rel.max() <= 1e-6
    assert np.all(ours[src] == 0)


def test_heap_fallback_for_wide_speed_range_equals_mcp():
    # speeds spanning 1e9 to one exceed the bucket ring: the heap kernel runs
    rng = np.random.default_rng(5)
    speed = rng.uniform(1.0, 50.0, (40, 50))
    speed[5:8, :] = 1e-7
    speed[rng.random(speed.shape) < 0.1] = 0.0
    src = np.zeros(speed.shape, bool)
    src[[0, 30], [0, 40]] = True
    speed[src] = 3.0
    ours = travel_time(speed, src, cellsize=10.0)
    ref = mcp_minutes(speed, src, 10.0, 10.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, equal_nan=True)
    # an infinitely fast cell (cost 0) also needs the heap
    speed[20, 10:30] = np.inf
    ours = travel_time(speed, src, cellsize=10.0)
    ref = mcp_minutes(speed, src, 10.0, 10.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, equal_nan=True)


@pytest.mark.parametrize("tile, horizon_moves", [(1000, 1), (16, 1), (16, 4), (7, 50)])
def test_bucket_and_heap_kernels_agree(tile, horizon_moves):
    """The tiled bucket search (one tile, small tiles worked far ahead, tiny tiles) gives
    the heap kernel's distances bit for bit and its labels except on exact ties."""
    from geo.access import _bucket_search, _dijkstra8, _pad_cost, _unpad

    rng = np.random.default_rng(11)
    nr, nc = 70, 90
    speed = rng.uniform(0.5, 60.0, (nr, nc))
    speed[rng.random((nr, nc)) < 0.1] = 0.0
    speed[30:33, 5:] = 0.0  # a wall with a gap at its west end: the long way round
    cost = np.where(speed > 0, 60.0 / (1000.0 * np.where(speed > 0, speed, 1.0)), np.inf).ravel()
    seeds = np.array([5, 1234, 4000, 6200], dtype=np.int32)
    labels = np.array([0, 1, 2, 3], dtype=np.int32)
    cost[seeds] = 0.01
    fin = cost[np.isfinite(cost)]
    delta = 20.0 * fin.min() * (1 - 1e-7)
    need = math.ceil(math.hypot(20.0, 20.0) * fin.max() / delta) + 2
    horizon = horizon_moves * need
    nb = 1 << int(math.ceil(math.log2(need + horizon + 2)))
    d_heap, l_heap = _dijkstra8(cost, seeds, labels, nr, nc, 20.0, 20.0, np.zeros(len(seeds)))
    npad, cap = (nr + 2) * (nc + 2), nr * nc + len(seeds) + 1024
    work = [np.empty(npad), np.empty(npad, np.int32)]
    work += [np.empty(cap, np.int32), np.empty(cap, np.int32)]
    work += [np.zeros(1, bool), 0]  # no targets: settle every cell
    cpad = _pad_cost(cost, nr, nc)
    ok = _bucket_search(cpad, seeds, labels, nr, nc, 20.0, 20.0, delta, nb, tile, horizon, *work)
    assert ok
    d_buck = np.empty(nr * nc)
    _unpad(work[0], nr, nc, d_buck, False)
    l_buck = work[1].reshape(nr + 2, nc + 2)[1:-1, 1:-1].ravel()
    np.testing.assert_array_equal(d_heap, d_buck)
    assert np.isinf(d_buck).any() and np.isfinite(d_buck).mean() > 0.8
    assert np.mean(l_heap == l_buck) > 0.99  # only exact ties may differ


def test_tiled_travel_rasters_equal_the_heap_kernels_on_a_grid_of_many_tiles(monkeypatch):
    """Travel minutes and nearest sources through the public call, with the grid cut into
    many tiles, against the heap kernel (the tiles' search disabled by a ring too small)."""
    import geo.access as access

    rng = np.random.default_rng(3)
    speed = rng.uniform(0.5, 8.0, (130, 110))  # walking: tens of minutes across
    speed[rng.random(speed.shape) < 0.12] = 0.0
    speed[60:62, :100] = 0.0  # a river with one ford at its east end
    ids = np.full(speed.shape, -1)
    ids[[3, 10, 100, 120], [5, 100, 20, 90]] = [0, 1, 2, 3]
    monkeypatch.setattr(access, "_TILE", 16)
    tiled_min, tiled_near = access.travel_time_with_nearest(speed, ids, cellsize=30.0)
    monkeypatch.setattr(access, "_MAX_BUCKETS", 2)  # every search takes the heap kernel
    heap_min, heap_near = access.travel_time_with_nearest(speed, ids, cellsize=30.0)
    np.testing.assert_array_equal(tiled_min, heap_min)
    assert np.isnan(heap_min).any() and np.nanmax(heap_min) > 20.0
    assert np.mean(tiled_near == heap_near) > 0.99


def test_travel_time_at_a_few_cells_equals_the_whole_grid_search():
    """The search that stops once its target cells are settled gives their exact minutes."""
    from geo.access import travel_time_at

    rng = np.random.default_rng(5)
    nr, nc = 120, 150
    speed = rng.uniform(1.0, 60.0, (nr, nc))
    speed[rng.random((nr, nc)) < 0.15] = 0.0  # barriers
    speed[40:45, :] = 0.0  # a wall with one gap: far cells are reached the long way
    speed[40:45, 140] = 5.0
    speed[100:103, 10:13] = 0.0  # a walled-in pocket: its middle cell is unreachable
    speed[101, 11] = 5.0
    speed[60, 70] = speed[119, 149] = speed[0, 149] = speed[11, 12] = 10.0
    src = np.zeros((nr, nc), bool)
    src[10, 12] = True
    whole = travel_time(speed, src, cellsize=(25.0, 30.0))
    rows = np.array([11, 10, 60, 119, 101, 60, 0])  # a neighbour, the source, far, walled in,
    cols = np.array([12, 12, 70, 149, 11, 70, 149])  # a repeated cell
    near = travel_time_at(speed, src, rows[:2], cols[:2], cellsize=(25.0, 30.0))
    np.testing.assert_array_equal(near, whole[rows[:2], cols[:2]])
    got = travel_time_at(speed, src, rows, cols, cellsize=(25.0, 30.0))
    np.testing.assert_array_equal(got, whole[rows, cols])  # NaN where unreachable, too
    assert np.isnan(got[4]) and got[1] == 0.0 and np.isfinite(got[2])
    with pytest.raises(LayerSchemaError, match="cells of the 120x150 grid"):
        travel_time_at(speed, src, np.array([120]), np.array([0]), cellsize=25.0)


@pytest.mark.parametrize("wide_range", [False, True])
def test_prepared_surface_nearest_is_travel_time_with_nearest_on_a_label_grid(wide_range):
    """The travel rasters of a county come from one prepared surface: minutes (float32, NaN
    where unreachable) and nearest labels equal to travel_time_with_nearest on a label grid,
    bit for bit: two destinations in one cell (the later labels it), a destination on a
    barrier with passable neighbours and one walled in, an unreachable pocket; and with a
    speed range too wide for the bucket queue (the heap kernel)."""
    from geo.access import PreparedSurface, travel_time_with_nearest

    rng = np.random.default_rng(21)
    nr, nc = 80, 95
    speed = rng.uniform(1.0, 60.0, (nr, nc))
    speed[rng.random((nr, nc)) < 0.12] = 0.0
    speed[50:53, 20:23] = 0.0  # a walled-in pocket: its middle is unreachable
    speed[51, 21] = 4.0
    speed[10:13, 70:73] = 0.0  # a destination walled in on a barrier cell
    if wide_range:
        speed[5, 5:40] = 1e9  # about a million to one: the heap kernel
    speed[30, 40] = 0.0  # a destination on a barrier cell with passable neighbours
    speed[30, 39] = speed[29, 40] = 12.0
    rows = np.array([5, 30, 60, 60, 11, 77, 2])
    cols = np.array([8, 40, 90, 90, 71, 3, 50])
    flat = rows * nc + cols
    surface = PreparedSurface(speed, cellsize=(25.0, 30.0))
    minutes, nearest = surface.nearest(flat, np.arange(len(flat)))

    grid = np.full((nr, nc), -1, dtype=np.int64)
    grid[rows, cols] = np.arange(len(flat))  # the later of two in one cell labels it
    want_min, want_near = travel_time_with_nearest(speed, grid, cellsize=(25.0, 30.0))
    assert minutes.dtype == np.float32 and nearest.dtype == np.int32
    np.testing.assert_array_equal(minutes, want_min.astype(np.float32))
    np.testing.assert_array_equal(nearest, want_near)
    assert np.isnan(minutes[51, 21]) and nearest[51, 21] == -1
    assert nearest[60, 90] == 3 and 2 not in nearest  # two in one cell: the later one
    assert minutes[30, 40] == 0 and minutes[11, 71] == 0
    assert (nearest == 4).sum() == 1  # walled in: serves its own cell only


def test_prepared_surface_gives_travel_time_at_for_every_source():
    """A cost matrix prepares the surface once: each single-cell search gives exactly what
    travel_time_at gives from that cell (sources on barriers included), on several threads."""
    from geo.access import PreparedSurface, thread_map, travel_time_at

    rng = np.random.default_rng(8)
    nr, nc = 90, 110
    speed = rng.uniform(1.0, 60.0, (nr, nc))
    speed[rng.random((nr, nc)) < 0.15] = 0.0
    speed[30:33, :100] = 0.0
    rows = rng.integers(0, nr, 25)
    cols = rng.integers(0, nc, 25)
    src_r, src_c = rng.integers(0, nr, 12), rng.integers(0, nc, 12)
    sources = [(int(r), int(c)) for r, c in zip(src_r, src_c, strict=True)]
    sources.append(next((r, c) for r in range(nr) for c in range(nc) if speed[r, c] == 0.0))
    surface = PreparedSurface(speed, cellsize=(25.0, 30.0))

    def one(rc):
        return surface.minutes_at(rc[0], rc[1], rows, cols)

    for (r, c), got in zip(sources, thread_map(one, sources), strict=True):
        src = np.zeros((nr, nc), bool)
        src[r, c] = True
        want = travel_time_at(speed, src, rows, cols, cellsize=(25.0, 30.0))
        np.testing.assert_array_equal(got, want)
    with pytest.raises(LayerSchemaError, match="cells of the 90x110 grid"):
        surface.minutes_at(5, 5, np.array([90]), np.array([0]))


def test_unreachable_behind_barrier_ring_is_nan():
    speed = np.full((9, 9), 5.0)
    speed[2:7, 2] = speed[2:7, 6] = 0
    speed[2, 2:7] = speed[6, 2:7] = 0
    src = np.zeros_like(speed, bool)
    src[0, 0] = True
    t = travel_time(speed, src, cellsize=10.0)
    assert np.isnan(t[3:6, 3:6]).all()
    assert np.isnan(t[2, 4])  # barrier itself
    assert np.isfinite(t[8, 8]) and t[8, 8] > 0


def test_source_on_barrier_is_enterable():
    speed = np.full((5, 5), 10.0)
    speed[:, 2] = 0.0  # a river column
    speed[2, 3] = 4.0
    src = np.zeros_like(speed, bool)
    src[2, 2] = True  # a clinic drawn inside the river
    t = travel_time(speed, src, cellsize=10.0)
    assert t[2, 2] == 0.0
    # the source takes the fastest neighbour's speed (10 km/h)
    per_m_src = 60 / 10000
    assert t[2, 1] == pytest.approx(10 * (per_m_src + 60 / 10000) / 2)
    assert t[2, 3] == pytest.approx(10 * (per_m_src + 60 / 4000) / 2)
    assert np.isnan(t[0, 2])  # other river cells stay barriers
    # surrounded by barriers only: the source is 0, everything else unreachable
    s2 = np.zeros((3, 3))
    src2 = np.zeros((3, 3), bool)
    src2[1, 1] = True
    t2 = travel_time(s2, src2, cellsize=10.0)
    assert t2[1, 1] == 0 and np.isnan(t2).sum() == 8


def test_nearest_label_for_two_sources():
    speed = np.full((1, 11), 5.0)
    ids = np.full((1, 11), -1)
    ids[0, 0] = 7
    ids[0, 10] = 3
    speed[0, 8:] = 50.0  # source 3 sits on a fast road
    t, lab = travel_time_with_nearest(speed, ids, cellsize=100.0)
    # from cell 10 leftwards at 50 km/h over cells 10..8, then walking
    per_walk, per_fast = 60 / 5000, 60 / 50000
    t_from_3 = np.zeros(11)
    c = np.where(np.arange(11) >= 8, per_fast, per_walk)
    for j in range(9, -1, -1):
        t_from_3[j] = t_from_3[j + 1] + 100 * (c[j] + c[j + 1]) / 2
    t_from_7 = np.concatenate([[0], np.cumsum(100 * (c[:-1] + c[1:]) / 2)])
    expect_lab = np.where(t_from_7 <= t_from_3, 7, 3)
    assert lab[0].tolist() == expect_lab.tolist()
    np.testing.assert_allclose(t[0], np.minimum(t_from_7, t_from_3))
    unreachable = np.zeros((1, 3))
    ids2 = np.array([[0, -1, -1]])
    _, lab2 = travel_time_with_nearest(unreachable + [[1, 0, 1]], ids2, cellsize=1.0)
    assert lab2[0].tolist() == [0, -1, -1]


def test_within_threshold_inclusive_and_nan_false():
    m = np.array([59.999, 60.0, 60.0001, np.nan])
    assert within(m, 60.0).tolist() == [True, True, False, False]


def test_speed_surface_roads_barriers_cliffs():
    slope = np.array([[0.0, 10.0, 50.0], [0.0, 0.0, 0.0]])
    road = np.array([[0.0, 0.0, 30.0], [2.0, 0.0, np.nan]])
    barriers = np.array([[False, False, False], [False, True, False]])
    s = speed_surface(
        slope_deg=slope, road_raster_speed=road, barriers=barriers, cliff_slope_deg=45
    )
    assert s[0, 0] == pytest.approx(WALK_FLAT_KMH)
    assert s[0, 1] == pytest.approx(tobler_kmh(math.tan(math.radians(10))))
    assert s[0, 2] == 30.0  # road through a cliff
    assert s[1, 0] == pytest.approx(WALK_FLAT_KMH)  # slow road: walking is faster
    assert s[1, 1] == 0.0
    s2 = speed_surface(slope_deg=slope, walk_factor=0.5)
    assert s2[0, 0] == pytest.approx(WALK_FLAT_KMH / 2)
    with pytest.raises(ValueError, match="walk_factor"):
        speed_surface(slope_deg=slope, walk_factor=0)
    with pytest.raises(ValueError, match="barriers must have"):
        speed_surface(slope_deg=slope, barriers=np.zeros((2, 2), bool))


def test_speed_surface_is_the_formula_cell_by_cell():
    # reference: Tobler's function written out on |slope|, then cliffs, barriers and the
    # faster of walking and road, one cell at a time in plain Python
    rng = np.random.default_rng(5)
    slope = rng.uniform(-5, 70, (30, 40)).astype("float32")
    slope[rng.random(slope.shape) < 0.05] = np.nan
    road = np.where(
        rng.random(slope.shape) < 0.2, rng.choice([0.5, 15.0, 40.0, np.nan], slope.shape), 0.0
    )
    barriers = rng.random(slope.shape) < 0.05
    for walk_factor, cliff in ((1.0, 45.0), (0.6, None)):
        got = speed_surface(
            slope_deg=slope,
            road_raster_speed=road,
            barriers=barriers,
            walk_factor=walk_factor,
            cliff_slope_deg=cliff,
        )
        for (i, j), sd in np.ndenumerate(slope):
            a = abs(float(sd))
            want = 6.0 * math.exp(-3.5 * abs(math.tan(math.radians(a)) + 0.05)) * walk_factor
            if (cliff is not None and a > cliff) or barriers[i, j]:
                want = 0.0
            if road[i, j] > 0:
                want = road[i, j] if math.isnan(want) else max(want, road[i, j])
            if math.isnan(want):
                assert math.isnan(got[i, j])
            else:
                assert got[i, j] == pytest.approx(want, rel=1e-12, abs=0.0)


def test_cut_off_destinations_are_those_no_other_cell_has_as_nearest():
    # reference: count every cell's nearest destination over the whole grid
    rng = np.random.default_rng(11)
    n = 40
    speed = rng.uniform(1.0, 6.0, (n, n))
    speed[rng.random((n, n)) < 0.25] = 0.0  # barriers
    speed[9:12, 9:12] = 0.0
    speed[10, 10] = 3.0  # a passable cell walled in: its destination serves itself only
    tr = Affine(30.0, 0, 0, 0, -30.0, n * 30.0)
    xy = [(10, 10), (5, 30), (5, 30), (20, 20), (33, 2), (0, 0), (39, 39)]  # (row, col)
    pts = [((c + 0.5) * 30.0, (n - r - 0.5) * 30.0) for r, c in xy] + [(-500.0, 50.0)]
    dests = gpd.GeoDataFrame(
        {"dest_id": [f"D{k}" for k in range(len(pts))]},
        geometry=gpd.points_from_xy(*zip(*pts, strict=True)),
        crs="EPSG:4545",
    )
    z = rng.uniform(0, 300, (n, n))
    for walking in ("isotropic", "anisotropic"):
        tt = travel_times(
            speed, {"clinic": dests}, transform=tr, walking=walking, z=z, road_mask=speed > 5.5
        )["clinic"]
        served = np.bincount(tt.nearest.ravel() + 1, minlength=len(dests) + 1)[1:]
        assert tt.outside_grid == 1 and tt.cells[-1] == -1
        assert tt.cut_off().tolist() == (served == 1).tolist()
        assert tt.cut_off()[0]  # the walled-in one
        assert not tt.cut_off()[1] and not tt.cut_off()[2]  # two in one cell: neither is cut off


def test_rasterize_roads_max_speed_all_touched():
    t = Affine(10, 0, 0, 0, -10, 100)  # 10 x 10 grid of 10 m cells
    r = gpd.GeoDataFrame(
        {
            "road_class": ["village", "county", "track"],
            "hardened": pd.array([False, True, None], dtype="boolean"),
        },
        geometry=[
            LineString([(0, 55), (100, 55)]),  # row 4
            LineString([(55, 0), (55, 100)]),  # column 5
            LineString([(0, 95), (100, 95)]),  # row 0
        ],
        crs="EPSG:4547",
    )
    out = rasterize_roads(r, shape=(10, 10), transform=t, speed_by_class_surface=ROAD_SPEEDS)
    assert out[4, 0] == ROAD_SPEEDS[("village", "unhardened")]
    assert out[4, 5] == ROAD_SPEEDS[("county", "hardened")]  # crossing keeps the max
    assert out[0, 0] == ROAD_SPEEDS[("track", "unknown")]
    assert out[7, 5] == 40.0 and out[7, 0] == 0.0
    diag = gpd.GeoDataFrame(
        {"road_class": ["village"], "hardened": [True]},
        geometry=[LineString([(0, 100), (100, 0)])],
    )
    d = rasterize_roads(diag, shape=(10, 10), transform=t, speed_by_class_surface=ROAD_SPEEDS)
    assert (d > 0).sum() >= 10
    with pytest.raises(LayerSchemaError, match="road_class 'motorway'"):
        rasterize_roads(
            gpd.GeoDataFrame(
                {"road_class": ["motorway"], "hardened": [True]},
                geometry=[LineString([(0, 0), (1, 1)])],
            ),
            shape=(10, 10),
            transform=t,
            speed_by_class_surface=ROAD_SPEEDS,
        )


def test_sample_at_points():
    t = Affine(10, 0, 100, 0, -10, 200)
    r = np.arange(12, dtype=float).reshape(3, 4)
    v = sample_at_points(
        r, np.array([[101, 199], [139.9, 171], [95, 199], [105, 150]]), transform=t
    )
    assert v[:2].tolist() == [0.0, 11.0]
    assert np.isnan(v[2:]).all()


def test_source_ids_from_points_round_trip():
    t = Affine(10, 0, 0, 0, -10, 50)  # 5 x 5 grid
    pts = np.array([[5, 45], [45, 5], [6, 44], [99, 99]])
    ids = source_ids_from_points(pts, shape=(5, 5), transform=t)
    assert ids[0, 0] == 0 and ids[4, 4] == 1  # point 2 shares point 0's cell
    assert (ids >= 0).sum() == 2
    minutes, lab = travel_time_with_nearest(np.full((5, 5), 5.0), ids, cellsize=10.0)
    assert lab[0, 1] == 0 and lab[4, 3] == 1
    assert sample_at_points(lab, pts[:2], transform=t).tolist() == [0.0, 1.0]


def test_resample_different_resolution_and_extent():
    crs = "EPSG:4547"
    src = np.arange(16, dtype=float).reshape(4, 4)  # 20 m cells from (0, 80)
    src_t = Affine(20, 0, 0, 0, -20, 80)
    dst_t = Affine(10, 0, 0, 0, -10, 80)  # 10 m cells, larger extent
    cat = resample_to_grid(
        src,
        src_t,
        crs,
        dst_shape=(10, 10),
        dst_transform=dst_t,
        dst_crs=crs,
        kind="categorical",
        dst_nodata=-1,
    )
    assert cat[0, 0] == 0 and cat[1, 1] == 0 and cat[2, 2] == 5 and cat[7, 7] == 15
    assert (cat[8:, :] == -1).all()
    cont = resample_to_grid(
        src, src_t, crs, dst_shape=(10, 10), dst_transform=dst_t, dst_crs=crs, kind="continuous"
    )
    assert np.isnan(cont[9, 9])
    assert 0 <= np.nanmin(cont) and np.nanmax(cont) <= 15
    # bilinear: centres of src[0,0]=0 (10,70), [0,1]=1 (30,70), [1,0]=4 (10,50);
    # dst cell (2, 2) has its centre at (25, 55): 0.75 * 1 + 0.75 * 4 = 3.75
    assert cont[2, 2] == pytest.approx(3.75, abs=1e-6)
    mask = resample_to_grid(
        src > 7,
        src_t,
        crs,
        dst_shape=(10, 10),
        dst_transform=dst_t,
        dst_crs=crs,
        kind="categorical",
    )
    assert mask.dtype == bool and mask[7, 7] and not mask[0, 0]
    with pytest.raises(ValueError, match="kind"):
        resample_to_grid(
            src, src_t, crs, dst_shape=(2, 2), dst_transform=dst_t, dst_crs=crs, kind="cubic"
        )


def test_argument_errors():
    with pytest.raises(ValueError, match="shape"):
        travel_time(np.ones((2, 2)), np.zeros((3, 3), bool), cellsize=1.0)
    with pytest.raises(ValueError, match="cellsize"):
        travel_time(np.ones((2, 2)), np.zeros((2, 2), bool), cellsize=0.0)
    with pytest.raises(ValueError, match="integer"):
        travel_time_with_nearest(np.ones((2, 2)), np.zeros((2, 2)), cellsize=1.0)


# ----------------------------------------------------------------- project error types
# Every bad-input path raises an AnjuError subclass that still is a ValueError.

_ONE = np.ones((2, 2))
_NO_SRC = np.zeros((2, 2), bool)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        pytest.param(
            lambda: speed_surface(slope_deg=_ONE, walk_factor=0),
            PolicyError,
            r"speed_surface: walk_factor must be > 0, found 0",
            id="speed_surface-walk_factor",
        ),
        pytest.param(
            lambda: speed_surface(slope_deg=_ONE, barriers=np.zeros((3, 3), bool)),
            LayerSchemaError,
            r"speed_surface: barriers must have the grid's shape \(2, 2\), found \(3, 3\)",
            id="speed_surface-barriers-shape",
        ),
        pytest.param(
            lambda: speed_surface(slope_deg=_ONE, road_raster_speed=np.zeros(4)),
            LayerSchemaError,
            r"speed_surface: road_raster_speed must have the grid's shape \(2, 2\), found \(4,\)",
            id="speed_surface-road-shape",
        ),
        pytest.param(
            lambda: road_speed_kmh("motorway", True, speed_by_class_surface=ROAD_SPEEDS),
            LayerSchemaError,
            r"road_class 'motorway' has no speed: expected one of .*'village'",
            id="road_speed-unknown-class",
        ),
        pytest.param(
            lambda: road_speed_kmh(
                "county", None, speed_by_class_surface={("county", "hardened"): 40.0}
            ),
            PolicyError,
            r"no entry for \('county', 'unknown'\).*found only \['hardened'\]",
            id="road_speed-missing-surface",
        ),
        pytest.param(
            lambda: rasterize_roads(
                gpd.GeoDataFrame(
                    {"road_class": ["county"]}, geometry=[LineString([(0, 0), (1, 1)])]
                ),
                shape=(2, 2),
                transform=Affine.identity(),
                speed_by_class_surface=ROAD_SPEEDS,
            ),
            LayerSchemaError,
            r"rasterize_roads: roads must have columns \['hardened'\].*found \['road_class', 'geometry'\]",
            id="rasterize-missing-column",
        ),
        pytest.param(
            lambda: travel_time(_ONE, np.zeros((3, 3), bool), cellsize=1.0),
            LayerSchemaError,
            r"travel_time: sources must have the grid's shape \(2, 2\), found \(3, 3\)",
            id="travel_time-sources-shape",
        ),
        pytest.param(
            lambda: travel_time_with_nearest(np.ones(4), np.full(4, -1), cellsize=1.0),
            LayerSchemaError,
            r"travel_time: speed_kmh must be 2-D, found shape \(4,\)",
            id="nearest-not-2d",
        ),
        pytest.param(
            lambda: travel_time_with_nearest(_ONE, np.full((2, 3), -1), cellsize=1.0),
            LayerSchemaError,
            r"travel_time: source_ids must have the grid's shape \(2, 2\), found \(2, 3\)",
            id="nearest-ids-shape",
        ),
        pytest.param(
            lambda: travel_time_with_nearest(_ONE, np.zeros((2, 2)), cellsize=1.0),
            LayerSchemaError,
            r"travel_time: source_ids must be an integer array, found dtype float64",
            id="nearest-ids-dtype",
        ),
        pytest.param(
            lambda: travel_time(_ONE, _NO_SRC, cellsize=0.0),
            LayerSchemaError,
            r"travel_time: cellsize must be a positive finite number .*, found 0\.0",
            id="cellsize-zero",
        ),
        pytest.param(
            lambda: travel_time(_ONE, _NO_SRC, cellsize=(30.0, 30.0, 30.0)),
            LayerSchemaError,
            r"travel_time: cellsize must be .*\(dx, dy\) pair.*, found \(30\.0, 30\.0, 30\.0\)",
            id="cellsize-triple",
        ),
        pytest.param(
            lambda: travel_time(_ONE, _NO_SRC, cellsize="thirty"),
            LayerSchemaError,
            r"travel_time: cellsize must be .*, found 'thirty'",
            id="cellsize-text",
        ),
        pytest.param(
            lambda: resample_to_grid(
                _ONE,
                Affine.identity(),
                "EPSG:4547",
                dst_shape=(2, 2),
                dst_transform=Affine.identity(),
                dst_crs="EPSG:4547",
                kind="cubic",
            ),
            PolicyError,
            r"resample_to_grid: kind must be 'categorical' or 'continuous', found 'cubic'",
            id="resample-kind",
        ),
    ],
)
def test_errors_are_project_types(call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, AnjuError) and isinstance(info.value, ValueError)


def test_rasterize_roads_reports_every_road_without_a_speed_at_once():
    roads = gpd.GeoDataFrame(
        {
            "road_class": ["motorway", "county", "motorway", "county"],
            "hardened": [True, None, False, True],
        },
        geometry=[LineString([(0, 0), (5, 5)])] * 4,
    )
    table = {("county", "hardened"): 40.0}
    with pytest.raises(LayerSchemaError, match=r"3 road\(s\) cannot be given a speed") as info:
        rasterize_roads(
            roads,
            shape=(2, 2),
            transform=Affine(10, 0, 0, 0, -10, 20),
            speed_by_class_surface=table,
        )
    msg = str(info.value)
    assert "road_class 'motorway'" in msg and "(2 road(s))" in msg  # one line per problem
    assert "('county', 'unknown')" in msg
    # a gap in the table only (every class known) is a policy problem
    with pytest.raises(PolicyError, match=r"1 road\(s\).*\('county', 'unknown'\)"):
        rasterize_roads(
            roads.iloc[[1, 3]],
            shape=(2, 2),
            transform=Affine(10, 0, 0, 0, -10, 20),
            speed_by_class_surface=table,
        )


# ----------------------------------------------------------------- invariants

speeds = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s))


def _surface(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    shape = (int(rng.integers(2, 25)), int(rng.integers(2, 25)))
    speed = rng.uniform(0.2, 50.0, shape)
    speed[rng.random(shape) < 0.2] = 0.0
    src = np.zeros(shape, bool)
    src[rng.integers(0, shape[0]), rng.integers(0, shape[1])] = True
    # sources on passable cells: a barrier source takes its neighbours' speed, which
    # is not monotone when a road later lands on it (documented in travel_time)
    speed[src] = np.maximum(speed[src], 0.2)
    return speed, src


@settings(max_examples=60, deadline=None)
@given(speeds)
def test_invariants_nonnegative_and_roads_never_slow(rng):
    speed, src = _surface(rng)
    t = travel_time(speed, src, cellsize=30.0)
    assert np.all(t[~np.isnan(t)] >= 0)
    assert np.all(t[src] == 0)
    faster = speed.copy()
    road = rng.random(speed.shape) < 0.3
    faster[road] = np.maximum(faster[road], 40.0)  # adding a road
    t2 = travel_time(faster, src, cellsize=30.0)
    reach = ~np.isnan(t)
    assert np.all(~np.isnan(t2[reach]))
    assert np.all(t2[reach] <= t[reach] * (1 + 1e-12))
    t3 = travel_time(speed * 2.0, src, cellsize=30.0)  # uniformly faster
    np.testing.assert_allclose(t3[reach], t[reach] / 2.0, rtol=1e-12)
    ref = mcp_minutes(speed, src, 30.0, 30.0)
    np.testing.assert_allclose(t, ref, rtol=1e-9, equal_nan=True)
