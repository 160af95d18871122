"""Tests for geo.access.travel_time_anisotropic_with_nearest (labels of the nearest source)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.access import travel_time_anisotropic, travel_time_anisotropic_with_nearest


def tobler(s: float) -> float:
    """Tobler's hiking function written out independently (km/h)."""
    return 6.0 * math.exp(-3.5 * abs(s + 0.05))


def brute_force(speed, z, ids, **kw):
    """Reference: one single-label anisotropic run per label, then the minimum.

    Returns the labels (sorted) and the stacked minutes, shape (n_labels, rows, cols).
    """
    labels = np.unique(ids[ids >= 0])
    stack = np.stack([travel_time_anisotropic(speed, z, ids == lab, **kw) for lab in labels])
    return labels, stack


def assert_matches_brute_force(speed, z, ids, **kw):
    minutes, nearest = travel_time_anisotropic_with_nearest(speed, z, ids, **kw)
    assert minutes.dtype == np.float64 and nearest.dtype == np.int64
    assert minutes.shape == nearest.shape == speed.shape
    # same code path as the label-free function: identical minutes, NaN included
    np.testing.assert_array_equal(minutes, travel_time_anisotropic(speed, z, ids >= 0, **kw))

    labels, stack = brute_force(speed, z, ids, **kw)
    reached = ~np.all(np.isnan(stack), axis=0)
    np.testing.assert_array_equal(~np.isnan(minutes), reached)
    np.testing.assert_array_equal(nearest == -1, ~reached)
    assert np.isin(nearest[reached], labels).all()
    ref_min = np.full(speed.shape, np.nan)
    ref_min[reached] = np.nanmin(stack[:, reached], axis=0)
    np.testing.assert_allclose(minutes, ref_min, rtol=1e-12, equal_nan=True)

    # the label found is the brute-force argmin, or an exact tie with it
    best = labels[np.argmin(np.where(np.isnan(stack), np.inf, stack), axis=0)]
    rows, cols = np.nonzero(reached & (nearest != best))
    for r, c in zip(rows, cols, strict=True):
        t_found = stack[np.searchsorted(labels, nearest[r, c]), r, c]
        t_best = stack[np.searchsorted(labels, best[r, c]), r, c]
        assert abs(t_found - t_best) <= 1e-6, ((r, c), nearest[r, c], best[r, c])
    # every source cell is its own nearest source, at time 0
    src = ids >= 0
    np.testing.assert_array_equal(nearest[src], ids[src])
    assert np.all(minutes[src] == 0.0)
    return minutes, nearest


# ----------------------------------------------------------------- by hand


@pytest.mark.parametrize("direction", ["to_source", "from_source"])
def test_ramp_two_sources_boundary_moves_with_direction(direction):
    # a 1-row ramp rising eastwards, label 4 at the foot and label 9 at the top
    dx, grade, n = 25.0, 0.15, 21
    z = np.arange(n) * dx * grade
    z = z[None, :]
    speed = np.ones((1, n))
    ids = np.full((1, n), -1)
    ids[0, 0], ids[0, -1] = 4, 9
    minutes, nearest = travel_time_anisotropic_with_nearest(
        speed, z, ids, cellsize=dx, direction=direction
    )
    k = np.arange(n)
    up_min_per_m = 60.0 / (1000.0 * tobler(grade))
    down_min_per_m = 60.0 / (1000.0 * tobler(-grade))
    if direction == "to_source":  # walk down west to 4, or up east to 9
        t4, t9 = k * dx * down_min_per_m, (n - 1 - k) * dx * up_min_per_m
    else:  # 4 walks up to the cell, 9 walks down to it
        t4, t9 = k * dx * up_min_per_m, (n - 1 - k) * dx * down_min_per_m
    assert not np.any(np.isclose(t4, t9))  # no ties on this ramp
    np.testing.assert_allclose(minutes[0], np.minimum(t4, t9), rtol=1e-12)
    assert nearest[0].tolist() == np.where(t4 < t9, 4, 9).tolist()
    # going downhill is faster, so the downhill-reached source wins more cells
    n4 = int((nearest == 4).sum())
    assert n4 > n // 2 if direction == "to_source" else n4 < n // 2


def test_unreachable_cells_are_minus_one_and_nan():
    shape = (6, 7)
    z = np.add.outer(np.arange(6.0), np.arange(7.0)) * 3
    speed = np.full(shape, 4.0)
    speed[:, 3] = 0.0  # wall
    speed[0, 1] = np.nan  # a NaN speed is a barrier too
    ids = np.full(shape, -1)
    ids[2, 0] = 12
    ids[4, 2] = 12  # two cells of one destination
    ids[5, 0] = -7  # any negative value is "not a source"
    minutes, nearest = assert_matches_brute_force(speed, z, ids, cellsize=30.0)
    assert (nearest[:, 3:] == -1).all() and np.isnan(minutes[:, 3:]).all()
    assert nearest[0, 1] == -1 and np.isnan(minutes[0, 1])
    left = np.ones(shape, bool)
    left[:, 3:] = False
    left[0, 1] = False
    assert (nearest[left] == 12).all() and not np.isnan(minutes[left]).any()
    # no source at all: everything unreachable
    m0, l0 = travel_time_anisotropic_with_nearest(speed, z, np.full(shape, -1), cellsize=30.0)
    assert np.isnan(m0).all() and (l0 == -1).all()


def test_large_labels_survive_as_int64():
    speed = np.ones((3, 4))
    z = np.zeros((3, 4))
    ids = np.full((3, 4), -1, dtype=np.int64)
    ids[0, 0], ids[2, 3] = 2**40, 2**33 + 5
    _, nearest = assert_matches_brute_force(speed, z, ids, cellsize=10.0)
    assert nearest[0, 1] == 2**40 and nearest[2, 2] == 2**33 + 5


def test_sources_on_barriers_and_missing_elevation():
    rng = np.random.default_rng(8)
    shape = (8, 9)
    z = rng.uniform(0, 30, shape)
    speed = rng.uniform(0.5, 5, shape)
    speed[:, 4] = 0.0
    ids = np.full(shape, -1)
    ids[1, 4] = 0  # on the wall: crosses it
    ids[6, 1] = 1
    z[6, 1] = np.nan  # off-road source without elevation
    ids[3, 7] = 2
    for direction in ("to_source", "from_source"):
        minutes, nearest = assert_matches_brute_force(
            speed, z, ids, cellsize=(20.0, 25.0), direction=direction
        )
        assert nearest[1, 4] == 0 and minutes[1, 4] == 0.0


# ----------------------------------------------------------------- brute force, random grids

rngs = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s))


@settings(max_examples=60, deadline=None)
@given(rngs, st.sampled_from(["to_source", "from_source"]))
def test_nearest_matches_brute_force_on_random_grids(rng, direction):
    shape = (int(rng.integers(2, 13)), int(rng.integers(2, 13)))
    z = np.cumsum(rng.normal(0, 8, shape), axis=int(rng.integers(0, 2)))
    z[rng.random(shape) < 0.05] = np.nan
    speed = rng.uniform(0.3, 6.0, shape)
    speed[rng.random(shape) < 0.15] = 0.0
    speed[rng.random(shape) < 0.05] = np.nan
    road = rng.random(shape) < 0.25
    speed[road & (rng.random(shape) < 0.8)] = rng.uniform(5, 50)
    if rng.random() < 0.5:
        walk_factor: float | np.ndarray = float(rng.uniform(0.4, 1.0))
    else:
        walk_factor = rng.uniform(0.4, 1.0, shape)
    n_labels = int(rng.integers(1, 5))
    ids = np.full(shape, -1)
    n_src = int(rng.integers(1, min(8, ids.size) + 1))
    cells = rng.choice(ids.size, size=n_src, replace=False)
    ids.flat[cells] = rng.integers(0, n_labels, n_src) * 3  # gaps between labels; shared labels
    dx = float(rng.uniform(10, 60))
    cellsize = dx if rng.random() < 0.5 else (dx, float(rng.uniform(10, 60)))
    assert_matches_brute_force(
        speed,
        z,
        ids,
        cellsize=cellsize,
        road_mask=road,
        walk_factor=walk_factor,
        direction=direction,
    )
