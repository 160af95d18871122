"""Tile rendering: hillshade against vector math, colouring, XYZ tiles from a plan."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from rio_tiler.io import Reader

from dashboard.tiles import OVERLAYS, colorize, empty_png, hillshade, legend_stops, render_tile
from tests.sample_plan import write_sample_plan


def reference_shade(g_east, g_north, az_deg, alt_deg):
    """Lambertian shade of a plane: unit normal · unit sun vector (independent of Horn)."""
    n = np.array([-g_east, -g_north, 1.0])
    n /= np.linalg.norm(n)
    az, alt = math.radians(az_deg), math.radians(alt_deg)
    s = np.array([math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt)])
    return max(0.0, float(n @ s))


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-1.5, 1.5),
    st.floats(-1.5, 1.5),
    st.floats(0, 359),
    st.floats(10, 80),
)
def test_hillshade_of_a_plane_matches_vector_math(ge, gn, az, alt):
    cell = 30.0
    rows, cols = np.mgrid[0:7, 0:7]
    east, north = cols * cell, -rows * cell  # rows run south
    z = ge * east + gn * north
    hs = hillshade(z, cellsize_m=cell, azimuth_deg=az, altitude_deg=alt)
    assert hs[3, 3] == pytest.approx(reference_shade(ge, gn, az, alt), abs=1e-9)
    assert np.all((hs >= 0) & (hs <= 1))


def test_hillshade_flat_and_nan():
    z = np.full((5, 5), 100.0)
    z[0, 0] = np.nan
    hs = hillshade(z, cellsize_m=10, altitude_deg=45)
    assert np.isnan(hs[0, 0])
    assert hs[2, 2] == pytest.approx(math.sin(math.radians(45)))


def test_colorize_range_and_transparency():
    rgba = colorize(np.array([[0.0, 45.0, np.nan, 100.0]]), "slope_deg")
    assert rgba.shape == (1, 4, 4) and rgba.dtype == np.uint8
    assert rgba[0, 2, 3] == 0 and rgba[0, 0, 3] == 255
    assert (rgba[0, 1] == rgba[0, 3]).all()  # clipped at vmax
    stops = legend_stops("slope_deg", 3)
    assert [v for v, _ in stops] == [0.0, 22.5, 45.0]
    assert stops[0][1] == "#{:02x}{:02x}{:02x}".format(*rgba[0, 0, :3])


@pytest.fixture(scope="module")
def rasters(tmp_path_factory):
    return write_sample_plan(tmp_path_factory.mktemp("tiles") / "plan", n_villages=5) / "rasters"


def centre_tile(rasters, z=12):
    with Reader(str(rasters / "dem.tif")) as r:
        b = r.get_geographic_bounds("EPSG:4326")
        t = r.tms.tile((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, z)
    return t.x, t.y, z


@pytest.mark.parametrize(
    "layer", ["hillshade", "elevation", "slope_deg", "travel_min_school", "suitability"]
)
def test_render_tile_inside_is_opaque_png(rasters, layer):
    x, y, z = centre_tile(rasters)
    img = Image.open(io.BytesIO(render_tile(rasters, layer, z, x, y)))
    assert img.size == (256, 256) and img.mode == "RGBA"
    alpha = np.asarray(img)[..., 3]
    assert (alpha == 255).mean() > 0.2


def test_render_tile_outside_is_transparent(rasters):
    data = render_tile(rasters, "hillshade", 5, 0, 0)
    assert data == empty_png()
    assert np.asarray(Image.open(io.BytesIO(data)))[..., 3].max() == 0


def test_render_tile_errors(rasters, tmp_path):
    with pytest.raises(KeyError, match="expected one of"):
        render_tile(rasters, "nonsense", 1, 0, 0)
    with pytest.raises(FileNotFoundError, match="slope_deg.tif not found"):
        render_tile(tmp_path, "slope_deg", 1, 0, 0)
    assert set(OVERLAYS) >= {"slope_deg", "suitability", "travel_min_health_centre"}
