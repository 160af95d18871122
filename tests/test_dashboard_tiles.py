"""Tile rendering: hillshade against vector math, colouring, XYZ tiles from a plan (from its
Web-Mercator COG, and reprojected for plans written before it)."""

from __future__ import annotations

import io
import math
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from rio_tiler.io import Reader

from dashboard.tiles import (
    OVERLAYS,
    colorize,
    empty_png,
    legend_stops,
    read_web_tile,
    render_tile,
    shade,
    web_raster,
)
from layers.cog import cog_problems
from tests.sample_plan import write_sample_plan


def reference_shade(g_east, g_north, az_deg, alt_deg):
    """Lambertian shade of a plane: unit normal · unit sun vector (independent of Horn)."""
    n = np.array([-g_east, -g_north, 1.0])
    n /= np.linalg.norm(n)
    az, alt = math.radians(az_deg), math.radians(alt_deg)
    s = np.array([math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt)])
    return max(0.0, float(n @ s))


@settings(max_examples=40, deadline=None)
@given(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_shade_of_a_plane_matches_vector_math(ge, gn):
    cell = 30.0
    rows, cols = np.mgrid[0:7, 0:7]
    east, north = cols * cell, -rows * cell  # rows run south
    z = ge * east + gn * north
    hs = shade(z, cellsize_m=cell)
    # geo.terrain.hillshade rounds to 1 + 254 * cos: half a step of 1/254
    assert hs[3, 3] == pytest.approx(reference_shade(ge, gn, 315, 45), abs=0.5 / 254 + 1e-9)
    assert np.all((hs >= 0) & (hs <= 1))


def test_shade_flat_and_nan():
    z = np.full((5, 5), 100.0)
    z[0, 0] = np.nan
    hs = shade(z, cellsize_m=10)
    assert np.isnan(hs[0, 0])
    # the cells beside the hole are shaded too (the hole is filled for the stencil)
    assert hs[1, 1] == pytest.approx(math.sin(math.radians(45)), abs=0.5 / 254)
    assert hs[2, 2] == pytest.approx(math.sin(math.radians(45)), abs=0.5 / 254)


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


# --------------------------------------------------------------------------- the plan's COG


@pytest.fixture(scope="module")
def old_rasters(rasters, tmp_path_factory):
    """The same plan as written before ``web/`` existed."""
    plan = tmp_path_factory.mktemp("old") / "plan"
    shutil.copytree(rasters.parent, plan)
    shutil.rmtree(plan / "web")
    return plan / "rasters"


def test_plan_has_a_valid_web_mercator_cog_of_its_dem(rasters):
    import json

    cog = web_raster(rasters, "dem")
    assert cog is not None and cog == rasters.parent / "web" / "dem.tif"
    manifest = json.loads((rasters.parent / "manifest.json").read_text(encoding="utf-8"))
    assert cog_problems(cog) == []
    assert "web/dem.tif" in manifest["outputs"]
    # the same elevations as the plan's DEM, warped: same mean, no value outside its range
    import rasterio

    with rasterio.open(rasters / "dem.tif") as src:
        dem = src.read(1, masked=True).astype(float).filled(np.nan)
        dem_area = np.isfinite(dem).sum() * abs(src.res[0] * src.res[1])
    with rasterio.open(cog) as src:
        web = src.read(1, masked=True).astype(float).filled(np.nan)
        lat = math.atan(math.sinh((src.bounds.top + src.bounds.bottom) / 2 / 6378137.0))
        web_area = np.isfinite(web).sum() * (src.res[0] * math.cos(lat)) ** 2
    assert web_area == pytest.approx(dem_area, rel=0.05)  # the same ground, nodata kept
    assert np.nanmean(web) == pytest.approx(np.nanmean(dem), rel=0.01)
    assert np.nanmin(dem) - 1e-3 <= np.nanmin(web) and np.nanmax(web) <= np.nanmax(dem) + 1e-3


def test_cog_problems_names_a_plain_geotiff(rasters):
    problems = cog_problems(rasters / "dem.tif")  # the metric, non-COG plan raster
    assert any("EPSG:3857" in p for p in problems)


@pytest.mark.parametrize("layer", ["hillshade", "elevation"])
def test_cog_tile_matches_the_reprojected_tile(rasters, old_rasters, layer):
    x, y, z = centre_tile(rasters)
    new = np.asarray(Image.open(io.BytesIO(render_tile(rasters, layer, z, x, y)))).astype(int)
    old = np.asarray(Image.open(io.BytesIO(render_tile(old_rasters, layer, z, x, y)))).astype(int)
    assert new.shape == old.shape == (256, 256, 4)
    both = (new[..., 3] == 255) & (old[..., 3] == 255)
    assert both.mean() > 0.9
    diff = np.abs(new[..., :3] - old[..., :3])[both]
    # warped once (bilinear, then averaged overviews) vs per tile (cubic): the same relief
    assert diff.mean() < 3  # a tile off by one differs by 15-35 grey levels on average
    assert np.percentile(diff, 99) < 12


def test_old_plan_without_cog_still_serves_tiles(old_rasters):
    assert web_raster(old_rasters, "dem") is None
    x, y, z = centre_tile(old_rasters)
    for layer in ("hillshade", "elevation", "slope_deg"):
        img = np.asarray(Image.open(io.BytesIO(render_tile(old_rasters, layer, z, x, y))))
        assert (img[..., 3] == 255).mean() > 0.2
    assert render_tile(old_rasters, "hillshade", 5, 0, 0) == empty_png()


def test_read_web_tile_is_a_window_of_the_cog(rasters):
    import rasterio

    cog = web_raster(rasters, "dem")
    with rasterio.open(cog) as src:
        zmax = round(math.log2(2 * 20037508.342789244 / (256 * src.res[0])))
        # a tile of the file's own zoom whose pixels are the file's pixels
        cx = (src.bounds.left + src.bounds.right) / 2
        cy = (src.bounds.bottom + src.bounds.top) / 2
        size = 2 * 20037508.342789244 / 2**zmax
        x = int((cx + 20037508.342789244) // size)
        y = int((20037508.342789244 - cy) // size)
        left, top = -20037508.342789244 + x * size, 20037508.342789244 - y * size
        col, row = ~src.transform * (left, top)
        assert col == pytest.approx(round(col), abs=1e-6)  # aligned on the XYZ pyramid
        want = src.read(
            1,
            window=((round(row), round(row) + 256), (round(col), round(col) + 256)),
            boundless=True,
            fill_value=np.nan,
        )
    got = read_web_tile(cog, zmax, x, y)
    np.testing.assert_allclose(got, want, equal_nan=True)
    assert read_web_tile(cog, 5, 0, 0) is None  # far away: no data


def _exact_nearest(path, z, x, y, level):
    """Oracle: every pixel centre of the tile taken exactly into the raster's CRS (pyproj,
    one point at a time in effect), the value of the cell it falls in at overview ``level``."""
    import rasterio
    from pyproj import Transformer

    size = 2 * 20037508.342789244 / 2**z
    c = (np.arange(256) + 0.5) * size / 256
    gx, gy = np.meshgrid(-20037508.342789244 + x * size + c, 20037508.342789244 - y * size - c)
    with rasterio.open(path, **({"overview_level": level} if level >= 0 else {})) as src:
        tr = Transformer.from_crs("EPSG:3857", src.crs, always_xy=True)
        X, Y = tr.transform(gx, gy)
        cols = np.floor((X - src.transform.c) / src.transform.a).astype(int)
        rows = np.floor((Y - src.transform.f) / src.transform.e).astype(int)
        arr = src.read(1, masked=True).astype(float).filled(np.nan)
    inside = (cols >= 0) & (cols < arr.shape[1]) & (rows >= 0) & (rows < arr.shape[0])
    out = np.full((256, 256), np.nan)
    out[inside] = arr[rows[inside], cols[inside]]
    return out


@pytest.mark.parametrize("layer", ["slope_deg", "travel_min_school", "suitability"])
@pytest.mark.parametrize("dz", [0, 1, 3])
def test_overlay_tiles_are_the_cells_under_each_pixel(rasters, layer, dz):
    """Overlay tiles are read straight from the plan's raster, nearest neighbour: against
    an exact per-pixel transform (the oracle) on the same overview level, and against
    rio-tiler's warp of the same tile (the picture as before: the same footprint, the same
    value on almost every pixel; nearest neighbours differ only on cell edges)."""
    import rasterio

    from dashboard.tiles import _read_reprojected, read_nearest_tile

    path = rasters / f"{layer}.tif"
    x, y, z = centre_tile(rasters, z=12 - dz)
    got = read_nearest_tile(path, z, x, y)
    assert got is not None and np.isfinite(got).mean() > 0.05
    # the overview level the reader picks: the coarsest one not coarser than a tile pixel
    with rasterio.open(path) as src:
        res, factors = abs(src.res[0]), src.overviews(1)
    # the ground size of a pixel at the tile's latitude
    px = 40075016.686 * math.cos(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / 2**z))))
    px /= 256 * 2**z
    level = max([i for i, f in enumerate(factors) if res * f <= px * 0.999] or [-1])
    want = _exact_nearest(path, z, x, y, level)
    same = (np.isfinite(got) == np.isfinite(want)).mean()
    both = np.isfinite(got) & np.isfinite(want)
    assert same > 0.999 and (got[both] == want[both]).mean() > 0.998
    ref = _read_reprojected(str(path), layer, z, x, y)
    assert ref is not None
    assert (np.isfinite(got) == np.isfinite(ref)).mean() > 0.99
    both = np.isfinite(got) & np.isfinite(ref)
    assert (got[both] == ref[both]).mean() > 0.9


def test_overlay_tile_far_from_the_raster_is_empty(rasters):
    from dashboard.tiles import read_nearest_tile

    path = rasters / "slope_deg.tif"
    assert read_nearest_tile(path, 5, 0, 0) is None  # the other side of the world
    x, y, z = centre_tile(rasters, z=12)
    assert read_nearest_tile(path, z, x + 40, y) is None  # beside the county
    world = read_nearest_tile(path, 0, 0, 0)  # beyond the projection: warped instead
    assert world is None or np.isfinite(world).sum() <= 4
