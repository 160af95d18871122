"""Tests for geo.suitability: AHP weights, rescaling, overlay, exclusions, Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.suitability import (
    ahp_weights,
    exclusion_mask,
    monte_carlo_weights,
    rescale,
    rescale_float32,
    suitability,
)
from layers.errors import LayerSchemaError, PolicyError
from tests.conftest import national_settings

# Saaty, T. L. (2008). "Decision making with the analytic hierarchy process."
# Int. J. Services Sciences 1(1): 83-98, the relative consumption of drinks in the USA.
# Published eigenvector (rounded to 3 decimals) and consistency ratio C.R. = 0.022.
DRINKS = np.array(
    [
        [1, 9, 5, 2, 1, 1, 1 / 2],
        [1 / 9, 1, 1 / 3, 1 / 9, 1 / 9, 1 / 9, 1 / 9],
        [1 / 5, 3, 1, 1 / 3, 1 / 4, 1 / 3, 1 / 9],
        [1 / 2, 9, 3, 1, 1 / 2, 1, 1 / 3],
        [1, 9, 4, 2, 1, 2, 1 / 2],
        [1, 9, 3, 1, 1 / 2, 1, 1 / 3],
        [2, 9, 9, 3, 2, 3, 1],
    ]
)
DRINKS_WEIGHTS = [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]
DRINKS_LABELS = ["coffee", "wine", "tea", "beer", "sodas", "milk", "water"]


def test_ahp_textbook_drinks_matrix():
    w, cr, lam = ahp_weights(DRINKS)
    np.testing.assert_allclose(w, DRINKS_WEIGHTS, atol=6e-4)
    assert round(cr, 3) == 0.022
    # CR = ((lambda - n) / (n - 1)) / RI(7) with RI(7) = 1.32
    assert cr == pytest.approx((lam - 7) / 6 / 1.32)
    assert w.sum() == pytest.approx(1.0)


@given(st.lists(st.floats(0.05, 20.0), min_size=3, max_size=9))
@settings(max_examples=40, deadline=None)
def test_ahp_consistent_matrix_recovers_weights(raw):
    true = np.array(raw) / np.sum(raw)
    m = true[:, None] / true[None, :]
    w, cr, lam = ahp_weights(m)
    np.testing.assert_allclose(w, true, rtol=1e-8)
    assert lam == pytest.approx(len(raw))
    assert cr == pytest.approx(0.0, abs=1e-9)


def test_ahp_small_matrices():
    assert ahp_weights([[1.0]]) == (pytest.approx([1.0]), 0.0, 1.0)
    w, cr, _ = ahp_weights([[1, 3], [1 / 3, 1]])
    np.testing.assert_allclose(w, [0.75, 0.25])
    assert cr == 0.0


def test_ahp_rejects_bad_matrices():
    with pytest.raises(PolicyError, match=r"square 2-D matrix, found shape \(2, 3\)"):
        ahp_weights(np.ones((2, 3)))
    bad = DRINKS.copy()
    bad[1, 2] = -1
    with pytest.raises(PolicyError, match=r"cell \[wine, tea\] must be a positive number"):
        ahp_weights(bad, labels=DRINKS_LABELS)
    bad = DRINKS.copy()
    bad[3, 0] = 3  # coffee/beer = 2 but beer/coffee = 3
    with pytest.raises(
        PolicyError, match=r"\[coffee, beer\]=2 and \[beer, coffee\]=3 are not reciprocal"
    ):
        ahp_weights(bad, labels=DRINKS_LABELS)
    bad = np.ones((3, 3))
    bad[1, 1] = 2
    with pytest.raises(PolicyError, match=r"diagonal cell \[1, 1\] must be 1"):
        ahp_weights(bad)
    with pytest.raises(PolicyError, match="at most 15 criteria"):
        ahp_weights(np.ones((16, 16)))
    # 1/3 typed as 0.333 is accepted
    ahp_weights([[1, 3, 1], [0.333, 1, 0.5], [1, 2, 1]])


def test_rescale_benefit_cost_and_nan():
    v = np.array([0.0, 15.0, 30.0, 60.0, 90.0, 120.0, np.nan])
    cost = rescale(v, direction="cost", lo=30, hi=90)
    np.testing.assert_allclose(cost, [1, 1, 1, 0.5, 0, 0, np.nan])
    ben = rescale(v, direction="benefit", lo=30, hi=90)
    np.testing.assert_allclose(ben, [0, 0, 0, 0.5, 1, 1, np.nan])
    # data range by default
    np.testing.assert_allclose(rescale(np.array([2.0, 4.0, 6.0]), direction="benefit"), [0, 0.5, 1])
    # degenerate range: a step
    np.testing.assert_allclose(
        rescale(np.array([1.0, 2.0, 3.0]), direction="cost", lo=2, hi=2), [1, 1, 0]
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("direction", ["cost", "benefit"])
@pytest.mark.parametrize("rng_", [(30.0, 90.0), (None, None), (5.0, 5.0)])
def test_rescale_float32_is_rescale_bit_for_bit(dtype, direction, rng_):
    # the one-pass float32 kernel the suitability overlay uses must give exactly the
    # values of rescale() cast to float32 (the sites depend on a threshold of their sum)
    gen = np.random.default_rng(3)
    v = (gen.random((37, 41)) * 200 - 20).astype(dtype)
    v[gen.random(v.shape) < 0.1] = np.nan
    v[0, :3] = [np.inf, -np.inf, 5.0]
    lo, hi = rng_
    want = np.asarray(rescale(v, direction=direction, lo=lo, hi=hi), dtype="float32")
    got = rescale_float32(v, direction=direction, lo=lo, hi=hi)
    assert got.dtype == np.float32 and got.shape == v.shape
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_rescale_piecewise_points():
    v = np.array([0.0, 10.0, 20.0, 40.0, 100.0, np.nan])
    out = rescale(v, direction="cost", points=[(10, 1.0), (20, 0.8), (60, 0.0)])
    np.testing.assert_allclose(out, [1.0, 1.0, 0.8, 0.4, 0.0, np.nan])
    with pytest.raises(PolicyError, match="point values must increase"):
        rescale(v, direction="cost", points=[(10, 1.0), (5, 0.0)])
    with pytest.raises(PolicyError, match="scores must lie in 0..1"):
        rescale(v, direction="cost", points=[(10, 1.0), (20, 2.0)])


def test_rescale_errors():
    with pytest.raises(PolicyError, match=r"direction must be one of .* found 'up'"):
        rescale(np.ones(3), direction="up")
    with pytest.raises(PolicyError, match="lo <= hi, found lo=5 > hi=1"):
        rescale(np.ones(3), direction="cost", lo=5, hi=1)


@given(
    st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=30),
    st.floats(-100, 100),
    st.floats(0.1, 500),
)
@settings(max_examples=60, deadline=None)
def test_rescale_in_unit_interval_and_directions_mirror(vals, lo, width):
    v = np.array(vals)
    b = rescale(v, direction="benefit", lo=lo, hi=lo + width)
    c = rescale(v, direction="cost", lo=lo, hi=lo + width)
    assert np.all((b >= 0) & (b <= 1))
    np.testing.assert_allclose(b + c, 1.0, atol=1e-12)
    # monotone: a larger value never scores lower on benefit
    order = np.argsort(v, kind="stable")
    assert np.all(np.diff(b[order]) >= -1e-12)


def test_suitability_hand_computed():
    travel = np.array([[10.0, 50.0], [90.0, np.nan]])
    road = np.array([[0.0, 500.0], [1000.0, 0.0]])
    excl = np.array([[False, False], [True, False]])
    out = suitability(
        {"travel": travel, "road": road},
        weights={"travel": 3.0, "road": 1.0},
        directions={"travel": "cost", "road": "cost"},
        ranges={"travel": (10, 90), "road": (0, 1000)},
        exclusion=excl,
    )
    assert out.dtype == np.float32
    # cell (0,0): 0.75*1 + 0.25*1 = 1; cell (0,1): 0.75*0.5 + 0.25*0.5 = 0.5
    np.testing.assert_allclose(out, [[1.0, 0.5], [np.nan, np.nan]])


def test_suitability_errors():
    f = {"a": np.ones((2, 2)), "b": np.ones((2, 3))}
    with pytest.raises(PolicyError, match=r"weights missing for factor\(s\) \['b'\]"):
        suitability(f, weights={"a": 1}, directions={"a": "cost", "b": "cost"}, ranges={})
    with pytest.raises(LayerSchemaError, match=r"factor 'b' has shape \(2, 3\), expected \(2, 2\)"):
        suitability(f, weights={"a": 1, "b": 1}, directions={"a": "cost", "b": "cost"}, ranges={})
    with pytest.raises(PolicyError, match="non-negative with a positive sum"):
        suitability({"a": np.ones(2)}, weights={"a": 0}, directions={"a": "cost"}, ranges={})


def _grid():
    # 10 m cells, 10 x 10, origin top-left at (0, 100)
    return (10, 10), Affine(10, 0, 0, 0, -10, 100)


def test_exclusion_hazard_buffer_in_metres():
    shape, tr = _grid()
    pt = shapely.Point(50, 50)
    mask = exclusion_mask(
        shape=shape,
        transform=tr,
        hazard_geoms=[pt],
        hazard_radius_m=[20.0],
        hazard_buffer_m=10.0,
        all_touched=False,
    )
    rows, cols = np.indices(shape)
    cx, cy = 5 + 10 * cols, 95 - 10 * rows
    expected = np.hypot(cx - 50, cy - 50) < 30.0
    np.testing.assert_array_equal(mask, expected)
    # all_touched (the default) excludes at least as much
    wide = exclusion_mask(
        shape=shape, transform=tr, hazard_geoms=[pt], hazard_radius_m=[20.0], hazard_buffer_m=10.0
    )
    assert wide.sum() > mask.sum() and np.all(wide[mask])


def test_exclusion_slope_protected_water_outside():
    shape, tr = _grid()
    slope = np.full(shape, 5.0)
    slope[0, 0] = 14.0  # below 14.04 degrees: allowed
    slope[0, 1] = 14.1  # above: excluded
    slope[0, 2] = np.nan  # unknown: excluded
    outside = np.zeros(shape, bool)
    outside[9, :] = True
    protected = shapely.box(0, 0, 20, 20)  # bottom-left 2 x 2 cells (rows 8-9, cols 0-1)
    water = shapely.LineString([(75, 100), (75, 0)])  # column 7
    m = exclusion_mask(
        shape=shape,
        transform=tr,
        slope_deg=slope,
        slope_limit_deg=national_settings().sites.slope_limit_deg,
        protected_geoms=[protected],
        water_geoms=[water],
        outside_mask=outside,
        all_touched=False,
    )
    assert not m[0, 0] and m[0, 1] and m[0, 2]
    assert m[8, 0] and m[8, 1] and not m[8, 2] and not m[7, 0]
    assert m[:, 7].all() and not m[3, 6]
    assert m[9].all()
    # CJJ 83-2016: a 25 % grade, atan(0.25) in degrees, stated in the national profile
    assert national_settings().sites.slope_limit_deg == pytest.approx(
        math.degrees(math.atan(0.25)), abs=0.01
    )


def test_exclusion_errors():
    shape, tr = _grid()
    with pytest.raises(
        LayerSchemaError, match="hazard_radius_m has 2 values, expected one per hazard geometry"
    ):
        exclusion_mask(
            shape=shape, transform=tr, hazard_geoms=[shapely.Point(1, 1)], hazard_radius_m=[1, 2]
        )
    with pytest.raises(
        PolicyError, match="hazard_buffer_m must be a non-negative number, found -5"
    ):
        exclusion_mask(shape=shape, transform=tr, hazard_buffer_m=-5)
    with pytest.raises(LayerSchemaError, match=r"slope_deg has shape \(3, 3\)"):
        exclusion_mask(shape=shape, transform=tr, slope_deg=np.zeros((3, 3)))
    with pytest.raises(PolicyError, match="slope_deg given without slope_limit_deg"):
        exclusion_mask(shape=shape, transform=tr, slope_deg=np.zeros(shape))


def test_monte_carlo_weights_matrix():
    base, _, _ = ahp_weights(DRINKS)
    same = monte_carlo_weights(DRINKS, n=3, spread=0.0, rng=0)
    np.testing.assert_allclose(same, np.tile(base, (3, 1)), rtol=1e-10)
    a = monte_carlo_weights(DRINKS, n=20, spread=0.3, rng=42)
    b = monte_carlo_weights(DRINKS, n=20, spread=0.3, rng=42)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (20, 7)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert np.abs(a - base).max() > 1e-3  # it does perturb
    assert np.abs(a - base).max() < 0.2


@given(
    st.lists(st.floats(0.01, 10), min_size=2, max_size=6), st.floats(0, 1), st.integers(0, 2**31)
)
@settings(max_examples=40, deadline=None)
def test_monte_carlo_weight_vector_bounds(raw, spread, seed):
    base = np.array(raw)
    draws = monte_carlo_weights(base, n=10, spread=spread, rng=seed)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    ratio = (draws[:, :, None] / draws[:, None, :]) / (base[:, None] / base[None, :])
    f = (1 + spread) ** 2
    assert np.all(ratio <= f * (1 + 1e-9)) and np.all(ratio >= 1 / f * (1 - 1e-9))


def test_monte_carlo_errors():
    with pytest.raises(PolicyError, match="n must be >= 1, found 0"):
        monte_carlo_weights([0.5, 0.5], n=0, spread=0.1)
    with pytest.raises(PolicyError, match="spread must be >= 0"):
        monte_carlo_weights([0.5, 0.5], n=1, spread=-1)
