"""Tests for geo.terrain: Horn kernels against hand values and gdaldem, void fill, block-wise I/O."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.ndimage import gaussian_filter

from geo.terrain import (
    aspect,
    fill_voids,
    hillshade,
    local_relief,
    slope,
    slope_blockwise,
    slope_file,
    slope_percent,
)
from layers.errors import CRSError, LayerSchemaError

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402

GDALDEM = shutil.which("gdaldem")
needs_gdaldem = pytest.mark.skipif(
    GDALDEM is None, reason="gdaldem not installed (apt-get install gdal-bin)"
)


def ramp(a: float, b: float, shape=(20, 30), cell=(30.0, 30.0)) -> np.ndarray:
    """z = a*x + b*y with x east and y north in metres (row 0 is north)."""
    h, w = shape
    x = np.arange(w) * cell[0]
    y = -np.arange(h) * cell[1]
    return a * x[None, :] + b * y[:, None]


def smooth_dem(shape=(120, 160), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (gaussian_filter(rng.normal(size=shape), 5) * 4000 + 1500).astype(np.float32)


def write_tif(path: Path, z: np.ndarray, cell=(30.0, 30.0), nodata=None, crs="EPSG:4545") -> None:
    prof = dict(
        driver="GTiff",
        height=z.shape[0],
        width=z.shape[1],
        count=1,
        dtype=str(z.dtype),
        crs=crs,
        transform=from_origin(500000, 3000000, cell[0], cell[1]),
        nodata=nodata,
    )
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(z, 1)


def gdaldem(tmp_path: Path, z: np.ndarray, what: str, cell=(30.0, 30.0), *extra: str) -> np.ndarray:
    src = tmp_path / "dem.tif"
    dst = tmp_path / f"{what}.tif"
    write_tif(src, z, cell)
    subprocess.run([GDALDEM, what, "-q", *extra, str(src), str(dst)], check=True)
    with rasterio.open(dst) as ds:
        return ds.read(1).astype(np.float64)


# --- planar ramps -----------------------------------------------------------
@pytest.mark.parametrize("a,b", [(0.1, 0.0), (0.0, -0.3), (0.5, 0.5), (1.7, -0.2)])
def test_slope_of_ramp_is_atan_hypot(a, b):
    z = ramp(a, b, cell=(30.0, 20.0))
    s = slope(z, cellsize=(30.0, 20.0))
    expected = math.degrees(math.atan(math.hypot(a, b)))
    assert s.dtype == np.float32
    np.testing.assert_allclose(s[1:-1, 1:-1], expected, atol=1e-4)
    # Edge replication halves the difference at the border: one-sided there.
    assert np.all(np.isfinite(s))


def test_slope_percent_and_degrees_agree_on_ramp():
    z = ramp(0.25, 0.0)
    p = slope_percent(z, cellsize=30)
    np.testing.assert_allclose(p[1:-1, 1:-1], 25.0, rtol=1e-5)


@pytest.mark.parametrize(
    "a,b,expected",
    [
        (-0.2, 0.0, 90.0),  # falls to the east -> faces east
        (0.2, 0.0, 270.0),  # falls to the west
        (0.0, 0.2, 180.0),  # rises to the north -> faces south
        (0.0, -0.2, 0.0),  # faces north
        (-0.2, -0.2, 45.0),  # faces north-east
    ],
)
def test_aspect_of_ramp(a, b, expected):
    asp = aspect(ramp(a, b), cellsize=30)
    np.testing.assert_allclose(asp[1:-1, 1:-1], expected, atol=1e-4)


def test_aspect_flat_value():
    z = np.full((5, 5), 100.0)
    assert np.all(aspect(z, cellsize=30) == -1.0)
    assert np.all(np.isnan(aspect(z, cellsize=30, flat_value=np.nan)))


# --- against gdaldem ------------------------------------------------------------
@needs_gdaldem
@pytest.mark.parametrize("cell", [(30.0, 30.0), (30.0, 25.0)])
def test_slope_matches_gdaldem(tmp_path, cell):
    z = smooth_dem()
    ref = gdaldem(tmp_path, z, "slope", cell)
    ours = slope(z, cellsize=cell).astype(np.float64)
    diff = np.abs(ours - ref)[1:-1, 1:-1]
    assert ref[1:-1, 1:-1].max() > 20  # the DEM is steep enough to test something
    assert diff.max() < 0.01


@needs_gdaldem
def test_slope_percent_matches_gdaldem(tmp_path):
    z = smooth_dem(seed=3)
    ref = gdaldem(tmp_path, z, "slope", (30.0, 30.0), "-p")
    ours = slope_percent(z, cellsize=30)
    np.testing.assert_allclose(ours[1:-1, 1:-1], ref[1:-1, 1:-1], rtol=1e-4, atol=1e-3)


@needs_gdaldem
def test_aspect_matches_gdaldem_where_not_flat(tmp_path):
    z = smooth_dem(seed=1)
    ref = gdaldem(tmp_path, z, "aspect")
    ours = aspect(z, cellsize=30).astype(np.float64)
    s = slope(z, cellsize=30)
    inner = np.zeros(z.shape, bool)
    inner[1:-1, 1:-1] = True
    m = inner & (s > 1.0)
    assert m.sum() > 1000
    d = np.abs(ours - ref)[m]
    d = np.minimum(d, 360.0 - d)
    assert d.max() < 0.05


@needs_gdaldem
def test_hillshade_matches_gdaldem(tmp_path):
    z = smooth_dem(seed=2)
    ref = gdaldem(tmp_path, z, "hillshade")
    ours = hillshade(z, cellsize=30)
    assert ours.dtype == np.uint8
    d = np.abs(ours.astype(int) - ref.astype(int))[1:-1, 1:-1]
    assert d.max() <= 1  # float32 (GDAL) vs float64 rounding at .5
    assert (d > 0).mean() < 0.01


def test_hillshade_nodata_is_zero():
    z = smooth_dem((20, 20)).astype(np.float64)
    z[10, 10] = np.nan
    hs = hillshade(z, cellsize=30)
    assert hs[9:12, 9:12].max() == 0
    assert hs[0:5].min() >= 1


# --- NaN rules ------------------------------------------------------------------
def test_nan_propagates_to_3x3_neighbourhood():
    z = ramp(0.1, 0.2, shape=(9, 9))
    z[4, 4] = np.nan
    z[0, 8] = np.nan
    s = slope(z, cellsize=30)
    expected = np.zeros(z.shape, bool)
    expected[3:6, 3:6] = True
    expected[0:2, 7:9] = True
    np.testing.assert_array_equal(np.isnan(s), expected)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 12)),
        elements=st.one_of(st.floats(-500, 9000), st.just(np.nan)),
    ),
    st.floats(1.0, 100.0),
)
def test_slope_range_and_nan_pattern(z, cell):
    s = slope(z, cellsize=(cell, cell))
    nan_in = np.isnan(z)
    # Edge replication: the 3x3 window clipped to the array.
    h, w = z.shape
    expected = np.zeros_like(nan_in)
    for i in range(h):
        for j in range(w):
            expected[i, j] = nan_in[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2].any()
    np.testing.assert_array_equal(np.isnan(s), expected)
    ok = s[~expected]
    assert np.all((ok >= 0) & (ok < 90))


def test_bad_inputs_raise():
    with pytest.raises(LayerSchemaError, match="2-D"):
        slope(np.zeros(5), cellsize=30)
    with pytest.raises(ValueError, match="positive"):
        slope(np.zeros((3, 3)), cellsize=(30, -30))
    with pytest.raises(ValueError, match="radius_cells"):
        local_relief(np.zeros((3, 3)), radius_cells=-1)


# --- local relief -----------------------------------------------------------------
def test_local_relief_against_brute_force():
    rng = np.random.default_rng(5)
    z = rng.uniform(0, 100, size=(15, 17))
    z[3, 4] = np.nan
    got = local_relief(z, radius_cells=2)
    for i in range(15):
        for j in range(17):
            win = z[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3]
            if np.isnan(z[i, j]):
                assert np.isnan(got[i, j])
            else:
                assert got[i, j] == pytest.approx(np.nanmax(win) - np.nanmin(win), abs=1e-4)


# --- void filling ---------------------------------------------------------------------
def test_fill_restores_plane_exactly_and_smooth_surface_closely():
    yy, xx = np.mgrid[0:60, 0:60].astype(float)
    plane = 3.0 * xx - 2.0 * yy + 100
    hole = plane.copy()
    hole[20:30, 25:40] = np.nan
    filled, n = fill_voids(hole)
    assert n == 150
    np.testing.assert_allclose(filled, plane, atol=1e-8)

    smooth = 500 + 80 * np.sin(xx / 15) * np.cos(yy / 20)
    z = smooth.copy()
    z[20:28, 30:38] = np.nan
    filled, n = fill_voids(z)
    assert n == 64
    assert np.abs(filled - smooth)[20:28, 30:38].max() < 2.0  # relief in the hole is ~20 m


def test_fill_leaves_voids_touching_outside():
    z = np.full((20, 20), 10.0)
    outside = np.zeros(z.shape, bool)
    outside[:, :3] = True
    z[outside] = np.nan
    z[5:8, 3:6] = np.nan  # touches the outside strip
    z[12:14, 12:14] = np.nan  # interior void
    filled, n = fill_voids(z, outside=outside)
    assert n == 4
    assert np.all(np.isnan(filled[5:8, 3:6]))
    assert np.all(np.isnan(filled[outside]))
    np.testing.assert_allclose(filled[12:14, 12:14], 10.0)


def test_fill_respects_max_search_and_nodata_mask():
    z = np.full((40, 40), 7.0)
    z[5:35, 5:35] = np.nan  # radius ~15 cells from valid data
    filled, n = fill_voids(z, max_search_cells=5)
    assert n == 0 and np.isnan(filled[20, 20])
    filled, n = fill_voids(z, max_search_cells=50)
    assert n == 900
    dem = np.full((10, 10), 50.0)
    dem[4, 4] = -32768
    filled, n = fill_voids(dem, nodata_mask=dem == -32768)
    assert n == 1 and filled[4, 4] == pytest.approx(50.0)
    with pytest.raises(LayerSchemaError, match="shape"):
        fill_voids(dem, outside=np.zeros((3, 3), bool))


# --- block-wise ------------------------------------------------------------------------
@pytest.mark.parametrize("percent,prefetch", [(False, False), (True, False), (False, True)])
def test_blockwise_equals_one_piece(percent, prefetch):
    z = smooth_dem((203, 171), seed=7).astype(np.float64)
    z[50, 60] = np.nan
    one = slope_percent(z, cellsize=(30, 20)) if percent else slope(z, cellsize=(30, 20))
    out = np.full(z.shape, -1.0, dtype=np.float32)

    def read(r, c, h, w):
        return z[r : r + h, c : c + w]

    def write(r, c, a):
        out[r : r + a.shape[0], c : c + a.shape[1]] = a

    slope_blockwise(
        read, write, z.shape, cellsize=(30, 20), block=64, percent=percent, prefetch=prefetch
    )
    np.testing.assert_array_equal(out, one)


def test_slope_file_equals_in_memory(tmp_path):
    z = smooth_dem((300, 257), seed=8)
    z[100:103, 40:45] = -9999
    src = tmp_path / "dem.tif"
    dst = tmp_path / "slope.tif"
    write_tif(src, z, nodata=-9999)
    slope_file(str(src), str(dst), block=100)
    zz = z.astype(np.float64)
    zz[zz == -9999] = np.nan
    expected = slope(zz, cellsize=30)
    with rasterio.open(dst) as ds:
        got = ds.read(1)
        assert ds.nodata == -9999
        assert ds.profile["tiled"]
        assert ds.crs.to_epsg() == 4545
    assert np.all(got[np.isnan(expected)] == -9999)
    np.testing.assert_array_equal(got[~np.isnan(expected)], expected[~np.isnan(expected)])


def test_slope_file_refuses_geographic(tmp_path):
    src = tmp_path / "geo.tif"
    write_tif(src, smooth_dem((10, 10)), cell=(0.001, 0.001), crs="EPSG:4490")
    with pytest.raises(CRSError, match="geographic"):
        slope_file(str(src), str(tmp_path / "o.tif"))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fill_voids_too_far_rule_matches_the_whole_grid_distance(seed):
    """The distance check runs on a window around the voids: a void is left blank exactly
    when one of its cells is farther than max_search_cells from valid data (reference:
    the distance transform of the whole grid)."""
    from scipy import ndimage

    from geo.terrain import fill_voids

    rng = np.random.default_rng(seed)
    z = rng.random((120, 140)) * 100
    for _ in range(6):  # voids of random size, some too large for a 6-cell search
        r, c = rng.integers(5, 110), rng.integers(5, 130)
        h, w = rng.integers(1, 18, size=2)
        z[r : r + h, c : c + w] = np.nan
    out = np.zeros(z.shape, bool)
    out[:, :3] = True  # an outside strip: voids touching it stay blank
    filled, n = fill_voids(z, outside=out, max_search_cells=6)
    void = np.isnan(z) & ~out
    labels, k = ndimage.label(void)
    dist = ndimage.distance_transform_edt(np.isnan(z) | out)
    touch = ndimage.binary_dilation(out, structure=np.ones((3, 3), bool))
    expect_filled = 0
    for lab in range(1, k + 1):
        comp = labels == lab
        blank = (dist[comp] > 6).any() or (touch & comp).any()
        assert np.isnan(filled[comp]).all() == blank, lab
        expect_filled += 0 if blank else int(comp.sum())
    assert n == expect_filled
