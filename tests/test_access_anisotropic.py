"""Tests for geo.access.travel_time_anisotropic (direction-aware Tobler walking)."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.access import (
    speed_surface,
    travel_time,
    travel_time_anisotropic,
    travel_time_anisotropic_with_nearest,
)
from layers.errors import AnjuError, LayerSchemaError, PolicyError


def tobler(s: float) -> float:
    """Tobler's hiking function written out independently (km/h)."""
    return 6.0 * math.exp(-3.5 * abs(s + 0.05))


def reference_minutes(speed, z, sources, road, dx, dy, wf, direction):
    """Independent reference: networkx Dijkstra on an explicit directed graph.

    Edge u -> v is the traveller's move; to_source runs on the reversed graph.
    Only for grids whose sources are on passable cells with elevations.
    """
    nrows, ncols = speed.shape
    passable = speed > 0
    g = nx.DiGraph()
    g.add_nodes_from((r, c) for r in range(nrows) for c in range(ncols))

    def pace(cell, slope):
        if road[cell]:
            return 60.0 / (1000.0 * speed[cell])
        return 60.0 / (1000.0 * tobler(slope) * wf)

    for r in range(nrows):
        for c in range(ncols):
            a = (r, c)
            if not passable[a] or (not road[a] and np.isnan(z[a])):
                continue
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    b = (r + dr, c + dc)
                    if (dr, dc) == (0, 0) or not (0 <= b[0] < nrows and 0 <= b[1] < ncols):
                        continue
                    if not passable[b] or (not road[b] and np.isnan(z[b])):
                        continue
                    d = math.hypot(dr * dy, dc * dx)
                    s = (z[b] - z[a]) / d
                    if road[a] and road[b]:
                        s = 0.0  # unused
                    g.add_edge(a, b, w=d * 0.5 * (pace(a, s) + pace(b, s)))
    if direction == "to_source":
        g = g.reverse(copy=False)
    srcs = [tuple(p) for p in np.argwhere(sources)]
    lengths = nx.multi_source_dijkstra_path_length(g, srcs, weight="w")
    out = np.full(speed.shape, np.nan)
    for cell, v in lengths.items():
        out[cell] = v
    return out


def ramp(ncols: int, grade: float, dx: float, nrows: int = 1) -> np.ndarray:
    """Elevation rising eastwards by ``grade`` metres per metre."""
    return np.tile(np.arange(ncols) * dx * grade, (nrows, 1))


# ----------------------------------------------------------------- flat ground


@pytest.mark.parametrize("wf", [1.0, 0.6])
def test_flat_equals_isotropic_tobler(wf):
    rng = np.random.default_rng(3)
    shape = (30, 41)
    barriers = rng.random(shape) < 0.15
    speed = speed_surface(slope_deg=np.zeros(shape), barriers=barriers, walk_factor=wf)
    src = np.zeros(shape, bool)
    src[4, 7] = src[25, 33] = True
    z = np.full(shape, 812.5)
    iso = travel_time(speed, src, cellsize=(25.0, 30.0))
    for direction in ("to_source", "from_source"):
        an = travel_time_anisotropic(
            speed, z, src, cellsize=(25.0, 30.0), walk_factor=wf, direction=direction
        )
        np.testing.assert_array_equal(np.isnan(an), np.isnan(iso))
        np.testing.assert_allclose(an, iso, rtol=1e-9, equal_nan=True)
    assert np.isnan(iso).any() and (iso[~np.isnan(iso)] > 0).any()


# ----------------------------------------------------------------- ramp by hand


def test_ramp_uphill_slower_than_downhill_hand_values():
    dx, grade, n = 30.0, 0.12, 11
    z = ramp(n, grade, dx)
    speed = np.ones((1, n))  # passable; off-road speed comes from Tobler
    top = np.zeros((1, n), bool)
    top[0, -1] = True
    bottom = np.zeros((1, n), bool)
    bottom[0, 0] = True
    up = travel_time_anisotropic(speed, z, top, cellsize=dx)  # walk up to the source
    down = travel_time_anisotropic(speed, z, bottom, cellsize=dx)  # walk down to it
    dist_km = (n - 1) * dx / 1000.0
    up_hand = dist_km / (6 * math.exp(-3.5 * abs(grade + 0.05))) * 60
    down_hand = dist_km / (6 * math.exp(-3.5 * abs(-grade + 0.05))) * 60
    assert up[0, 0] == pytest.approx(up_hand, rel=1e-12)
    assert down[0, -1] == pytest.approx(down_hand, rel=1e-12)
    assert up[0, 0] > down[0, -1]
    # each cell k steps away takes k/(n-1) of the whole walk
    k = np.arange(n)
    np.testing.assert_allclose(up[0], up_hand * (n - 1 - k) / (n - 1), rtol=1e-12, atol=1e-12)


def test_ramp_multi_row_straight_row_is_the_route():
    # gentle grade: a straight climb beats any zig-zag, so every row matches the hand value
    dx, grade, n = 20.0, 0.1, 9
    z = ramp(n, grade, dx, nrows=5)
    speed = np.full(z.shape, 3.0)
    top = np.zeros(z.shape, bool)
    top[:, -1] = True
    up = travel_time_anisotropic(speed, z, top, cellsize=dx)
    up_hand = (n - 1) * dx / 1000.0 / tobler(grade) * 60
    np.testing.assert_allclose(up[:, 0], up_hand, rtol=1e-12)


def test_to_and_from_source_swap_on_ramp():
    dx, grade, n = 30.0, 0.2, 8
    z = ramp(n, grade, dx)
    speed = np.ones((1, n))
    top = np.zeros((1, n), bool)
    top[0, -1] = True
    bottom = np.zeros((1, n), bool)
    bottom[0, 0] = True
    to_top = travel_time_anisotropic(speed, z, top, cellsize=dx, direction="to_source")
    from_bottom = travel_time_anisotropic(speed, z, bottom, cellsize=dx, direction="from_source")
    from_top = travel_time_anisotropic(speed, z, top, cellsize=dx, direction="from_source")
    to_bottom = travel_time_anisotropic(speed, z, bottom, cellsize=dx, direction="to_source")
    # climbing k cells costs the same whichever end the source is at
    np.testing.assert_allclose(to_top[0], from_bottom[0, ::-1], rtol=1e-12)
    np.testing.assert_allclose(from_top[0], to_bottom[0, ::-1], rtol=1e-12)
    # from the top source everyone is reached downhill: faster than walking up to it
    assert np.all(from_top[0, :-1] < to_top[0, :-1])


def test_path_reversal_identity_on_rough_terrain():
    rng = np.random.default_rng(11)
    shape = (12, 15)
    z = np.cumsum(rng.normal(0, 8, shape), axis=1)
    speed = rng.uniform(0.5, 5, shape)
    speed[rng.random(shape) < 0.1] = 0.0
    road = rng.random(shape) < 0.2
    speed[road] = 30.0
    a, b = (1, 2), (10, 13)
    speed[a] = speed[b] = 1.0
    sa = np.zeros(shape, bool)
    sa[a] = True
    sb = np.zeros(shape, bool)
    sb[b] = True
    kw = {"cellsize": 30.0, "road_mask": road}
    t_ab = travel_time_anisotropic(speed, z, sb, direction="to_source", **kw)[a]
    t_ab2 = travel_time_anisotropic(speed, z, sa, direction="from_source", **kw)[b]
    t_ba = travel_time_anisotropic(speed, z, sa, direction="to_source", **kw)[b]
    assert t_ab == pytest.approx(t_ab2, rel=1e-12)
    assert t_ab != pytest.approx(t_ba, rel=1e-3)  # the terrain is not symmetric


# ----------------------------------------------------------------- roads, barriers


def test_road_cells_ignore_slope_and_mixed_moves_average_paces():
    dx, n = 50.0, 6
    z = ramp(n, 0.3, dx)  # steep: Tobler would crawl
    speed = np.full((1, n), 40.0)
    road = np.ones((1, n), bool)
    top = np.zeros((1, n), bool)
    top[0, -1] = True
    t = travel_time_anisotropic(speed, z, top, cellsize=dx, road_mask=road)
    flat = travel_time_anisotropic(speed, np.zeros_like(z), top, cellsize=dx, road_mask=road)
    np.testing.assert_allclose(t, flat, rtol=1e-12)
    assert t[0, 0] == pytest.approx((n - 1) * dx / 1000.0 / 40.0 * 60, rel=1e-12)
    # last cell off road: half the move at road pace, half at uphill walking pace
    road[0, 0] = False
    t2 = travel_time_anisotropic(speed, z, top, cellsize=dx, road_mask=road)
    mixed = dx * 0.5 * (60 / (1000 * 40.0) + 60 / (1000 * tobler(0.3)))
    assert t2[0, 0] == pytest.approx(t[0, 1] + mixed, rel=1e-12)
    # a road cell flagged but with speed 0 is still a barrier
    speed[0, 3] = 0.0
    road[0, 0] = True
    t3 = travel_time_anisotropic(speed, z, top, cellsize=dx, road_mask=road)
    assert np.isnan(t3[0, :4]).all() and not np.isnan(t3[0, 4:]).any()


def test_unreachable_is_nan_and_barrier_source_is_enterable():
    shape = (7, 7)
    z = np.add.outer(np.arange(7.0), np.arange(7.0)) * 5
    speed = np.ones(shape)
    speed[:, 3] = 0.0  # wall
    speed[0, 5] = np.nan
    src = np.zeros(shape, bool)
    src[3, 1] = True
    t = travel_time_anisotropic(speed, z, src, cellsize=30.0)
    assert np.isnan(t[:, 3:]).all()
    assert not np.isnan(t[:, :3]).any()
    assert t[3, 1] == 0.0
    # a source on the wall itself reaches both sides
    src2 = np.zeros(shape, bool)
    src2[3, 3] = True
    t2 = travel_time_anisotropic(speed, z, src2, cellsize=30.0)
    assert t2[3, 3] == 0.0
    assert np.isnan(t2[0, 5])
    reached = ~np.isnan(t2)
    assert reached[:, [0, 1, 2, 4, 5, 6]].sum() == 7 * 6 - 1
    # missing elevation off road is a barrier too
    z2 = z.copy()
    z2[:, 1] = np.nan
    t3 = travel_time_anisotropic(speed, z2, src, cellsize=30.0)  # source sits on NaN z
    assert t3[3, 1] == 0.0 and np.isnan(t3[0, 1]) and not np.isnan(t3[0, 0])


def test_matches_networkx_reference():
    rng = np.random.default_rng(5)
    shape = (9, 11)
    z = rng.uniform(0, 40, shape)
    speed = rng.uniform(0.5, 5, shape)
    speed[rng.random(shape) < 0.15] = np.nan
    road = rng.random(shape) < 0.25
    speed[road] = rng.uniform(10, 60, road.sum())
    src = np.zeros(shape, bool)
    src[2, 3] = src[7, 9] = True
    speed[src] = 2.0
    for direction in ("to_source", "from_source"):
        t = travel_time_anisotropic(
            speed,
            z,
            src,
            cellsize=(20.0, 35.0),
            road_mask=road,
            walk_factor=0.8,
            direction=direction,
        )
        ref = reference_minutes(speed, z, src, road, 20.0, 35.0, 0.8, direction)
        np.testing.assert_allclose(t, ref, rtol=1e-12, equal_nan=True)


def test_argument_errors():
    one = np.ones((3, 3))
    src = np.zeros((3, 3), bool)
    with pytest.raises(ValueError, match="direction"):
        travel_time_anisotropic(one, one, src, cellsize=1.0, direction="uphill")
    with pytest.raises(ValueError, match="z must have"):
        travel_time_anisotropic(one, np.ones((2, 3)), src, cellsize=1.0)
    with pytest.raises(ValueError, match="road_mask must have"):
        travel_time_anisotropic(one, one, src, cellsize=1.0, road_mask=np.ones((1, 1), bool))
    with pytest.raises(ValueError, match="walk_factor"):
        travel_time_anisotropic(one, one, src, cellsize=1.0, walk_factor=0.0)
    with pytest.raises(ValueError, match="cellsize"):
        travel_time_anisotropic(one, one, src, cellsize=-5.0)
    with pytest.raises(ValueError, match="2-D"):
        travel_time_anisotropic(np.ones(3), np.ones(3), np.zeros(3, bool), cellsize=1.0)


_ONE = np.ones((3, 3))
_SRC = np.zeros((3, 3), bool)
_IDS = np.full((3, 3), -1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param(
            {"direction": "uphill"},
            PolicyError,
            r"travel_time_anisotropic: direction must be 'to_source' or 'from_source', "
            r"found 'uphill'",
            id="direction",
        ),
        pytest.param(
            {"z": np.ones((2, 3))},
            LayerSchemaError,
            r"travel_time_anisotropic: z must have the grid's shape \(3, 3\), found \(2, 3\)",
            id="z-shape",
        ),
        pytest.param(
            {"sources": np.zeros((3, 4), bool)},
            LayerSchemaError,
            r"travel_time_anisotropic: sources must have the grid's shape \(3, 3\), "
            r"found \(3, 4\)",
            id="sources-shape",
        ),
        pytest.param(
            {"road_mask": np.ones((1, 1), bool)},
            LayerSchemaError,
            r"travel_time_anisotropic: road_mask must have the grid's shape \(3, 3\), "
            r"found \(1, 1\)",
            id="road_mask-shape",
        ),
        pytest.param(
            {"walk_factor": np.ones((3, 2))},
            LayerSchemaError,
            r"travel_time_anisotropic: walk_factor must have the grid's shape \(3, 3\), "
            r"found \(3, 2\)",
            id="walk_factor-shape",
        ),
        pytest.param(
            {"walk_factor": 0.0},
            PolicyError,
            r"travel_time_anisotropic: walk_factor must be > 0 everywhere, found 0\.0",
            id="walk_factor-scalar",
        ),
        pytest.param(
            {"walk_factor": np.array([[1.0, np.nan, 1.0], [1.0, 1.0, -2.0], [1.0] * 3])},
            PolicyError,
            r"walk_factor must be > 0 everywhere, found 2 cell\(s\) such as nan",
            id="walk_factor-array",
        ),
        pytest.param(
            {"cellsize": -5.0},
            LayerSchemaError,
            r"travel_time_anisotropic: cellsize must be a positive finite number.*found -5\.0",
            id="cellsize",
        ),
        pytest.param(
            {"speed_kmh": np.ones(3), "z": np.ones(3), "sources": np.zeros(3, bool)},
            LayerSchemaError,
            r"travel_time_anisotropic: speed_kmh must be 2-D, found shape \(3,\)",
            id="not-2d",
        ),
    ],
)
def test_errors_are_project_types(kwargs, error, match):
    args = {"speed_kmh": _ONE, "z": _ONE, "sources": _SRC, "cellsize": 1.0} | kwargs
    with pytest.raises(error, match=match) as info:
        travel_time_anisotropic(**args)
    assert isinstance(info.value, AnjuError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        pytest.param(
            np.zeros((3, 3)),
            r"travel_time_anisotropic: source_ids must be an integer array, found dtype float64",
            id="ids-dtype",
        ),
        pytest.param(
            np.full((3, 2), -1),
            r"travel_time_anisotropic: source_ids must have the grid's shape \(3, 3\), "
            r"found \(3, 2\)",
            id="ids-shape",
        ),
    ],
)
def test_with_nearest_source_id_errors_are_project_types(ids, match):
    with pytest.raises(LayerSchemaError, match=match) as info:
        travel_time_anisotropic_with_nearest(_ONE, _ONE, ids, cellsize=1.0)
    assert isinstance(info.value, AnjuError) and isinstance(info.value, ValueError)


# ----------------------------------------------------------------- invariants

rngs = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s))


@settings(max_examples=50, deadline=None)
@given(rngs, st.sampled_from(["to_source", "from_source"]))
def test_invariants_nonnegative_sources_zero_faster_roads_never_slower(rng, direction):
    shape = (int(rng.integers(2, 20)), int(rng.integers(2, 20)))
    z = np.cumsum(rng.normal(0, 10, shape), axis=0)
    speed = rng.uniform(0.2, 6.0, shape)
    speed[rng.random(shape) < 0.2] = 0.0
    road = rng.random(shape) < 0.3
    speed[road & (rng.random(shape) < 0.8)] = rng.uniform(5, 50)
    src = rng.random(shape) < 0.05
    src[rng.integers(0, shape[0]), rng.integers(0, shape[1])] = True
    speed[src] = np.maximum(speed[src], 0.2)  # sources on passable cells
    kw = {"cellsize": 30.0, "road_mask": road, "direction": direction}
    t = travel_time_anisotropic(speed, z, src, **kw)
    reach = ~np.isnan(t)
    assert np.all(t[reach] >= 0)
    assert np.all(t[src] == 0)
    faster = speed.copy()
    faster[road] = np.where(faster[road] > 0, faster[road] * rng.uniform(1, 3), 0.0)
    t2 = travel_time_anisotropic(faster, z, src, **kw)
    np.testing.assert_array_equal(np.isnan(t2), ~reach)
    assert np.all(t2[reach] <= t[reach] * (1 + 1e-12))
