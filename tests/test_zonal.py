"""Tests for geo.zonal: coverage weights against exactextract, hand values, catchments."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter

from geo.zonal import catchments, village_terrain_stats, zonal_stats
from layers.errors import CRSError, LayerSchemaError

CRS = "EPSG:4545"
X0, Y0, CELL = 1000.0, 5000.0, 30.0
T = Affine(CELL, 0, X0, 0, -CELL, Y0)


def gdf(geoms, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=CRS)


def pix(c0, r0, c1, r1):
    """Box covering pixel columns c0..c1 and rows r0..r1 (fractions allowed)."""
    return shapely.box(X0 + c0 * CELL, Y0 - r1 * CELL, X0 + c1 * CELL, Y0 - r0 * CELL)


def exact_reference(polys: gpd.GeoDataFrame, raster: np.ndarray, ops):
    exactextract = pytest.importorskip("exactextract")
    from exactextract.raster import NumPyRasterSource

    h, w = raster.shape
    src = NumPyRasterSource(raster, X0, Y0 - h * CELL, X0 + w * CELL, Y0, nodata=np.nan)
    return exactextract.exact_extract(src, polys, list(ops), output="pandas")


# --- hand-computed values ------------------------------------------------------------
def test_half_pixel_box_weights():
    r = np.arange(12, dtype=float).reshape(3, 4)  # row-major values 0..11
    # Covers half of pixel (0,0) [value 0] and all of pixel (0,1) [value 1].
    p = pix(0.5, 0, 2, 1)
    out = zonal_stats(gdf([p]), r, transform=T, stats=("mean", "count", "sum", "min", "max"))
    assert out.loc[0, "count"] == pytest.approx(1.5)
    assert out.loc[0, "sum"] == pytest.approx(0.5 * 0 + 1.0 * 1)
    assert out.loc[0, "mean"] == pytest.approx(1 / 1.5)
    assert out.loc[0, "min"] == 0 and out.loc[0, "max"] == 1


def test_triangle_coverage():
    r = np.array([[1.0, 3.0]])
    # Triangle over pixel 0 (area 1/2) -> weight 0.5; pixel 1 untouched.
    tri = shapely.Polygon([(X0, Y0), (X0 + CELL, Y0), (X0, Y0 - CELL)])
    out = zonal_stats(gdf([tri]), r, transform=T, stats=("count", "mean", "max"))
    assert out.loc[0, "count"] == pytest.approx(0.5)
    assert out.loc[0, "max"] == 1.0


def test_hole_is_excluded():
    r = np.ones((5, 5))
    r[2, 2] = 100.0
    ring = pix(0, 0, 5, 5).difference(pix(2, 2, 3, 3))
    out = zonal_stats(gdf([ring]), r, transform=T, stats=("count", "max", "mean"))
    assert out.loc[0, "count"] == pytest.approx(24.0)
    assert out.loc[0, "max"] == 1.0


def test_overlapping_polygons_each_get_their_own_stats():
    r = np.arange(16, dtype=float).reshape(4, 4)
    a = pix(0, 0, 3, 3)
    b = pix(1, 1, 4, 4)
    out = zonal_stats(gdf([a, b, a]), r, transform=T, stats=("mean", "count"))
    assert out.loc[0, "count"] == pytest.approx(9) and out.loc[1, "count"] == pytest.approx(9)
    assert out.loc[0, "mean"] == pytest.approx(r[0:3, 0:3].mean())
    assert out.loc[1, "mean"] == pytest.approx(r[1:4, 1:4].mean())
    assert out.loc[2, "mean"] == out.loc[0, "mean"]


def test_partly_outside_and_wholly_outside_raster():
    r = np.arange(6, dtype=float).reshape(2, 3)
    part = pix(-5, -5, 1.5, 1)  # covers pixel (0,0) fully and half of (0,1)
    away = pix(10, 10, 12, 12)
    out = zonal_stats(gdf([part, away]), r, transform=T, stats=("count", "mean", "min"))
    assert out.loc[0, "count"] == pytest.approx(1.5)
    assert out.loc[0, "mean"] == pytest.approx((0 * 1 + 1 * 0.5) / 1.5)
    assert out.loc[1, "count"] == 0 and np.isnan(out.loc[1, "mean"]) and np.isnan(out.loc[1, "min"])


def test_polygon_smaller_than_a_pixel():
    r = np.full((3, 3), 5.0)
    r[1, 1] = 42.0
    tiny = pix(1.2, 1.3, 1.5, 1.4)  # 0.3 x 0.1 of the centre pixel, not over its centre
    cov = zonal_stats(gdf([tiny]), r, transform=T, stats=("count", "mean"))
    assert cov.loc[0, "count"] == pytest.approx(0.03)
    assert cov.loc[0, "mean"] == pytest.approx(42.0)
    cen = zonal_stats(gdf([tiny]), r, transform=T, stats=("count", "mean"), weights="centre")
    assert cen.loc[0, "count"] == 0 and np.isnan(cen.loc[0, "mean"])


def test_nan_and_nodata_pixels_ignored():
    r = np.array([[1.0, np.nan, -9999.0, 4.0]])
    out = zonal_stats(
        gdf([pix(0, 0, 4, 1)]), r, transform=T, nodata=-9999.0, stats=("mean", "count", "min")
    )
    assert out.loc[0, "mean"] == pytest.approx(2.5)
    assert out.loc[0, "count"] == pytest.approx(2.0)
    assert out.loc[0, "min"] == 1.0


def test_index_preserved_and_errors():
    r = np.ones((3, 3))
    g = gdf([pix(0, 0, 1, 1), pix(1, 1, 2, 2)])
    g.index = ["v1", "v2"]
    out = zonal_stats(g, r, transform=T)
    assert list(out.index) == ["v1", "v2"] and list(out.columns) == ["mean", "min", "max"]
    with pytest.raises(ValueError, match="median"):
        zonal_stats(g, r, transform=T, stats=("median",))
    with pytest.raises(ValueError, match="weights"):
        zonal_stats(g, r, transform=T, weights="area")
    with pytest.raises(LayerSchemaError, match="Polygon"):
        zonal_stats(gdf([shapely.Point(0, 0)]), r, transform=T)
    with pytest.raises(LayerSchemaError, match="2-D"):
        zonal_stats(g, np.ones(3), transform=T)
    with pytest.raises(CRSError, match="rotation"):
        zonal_stats(g, r, transform=Affine(30, 1, 0, 0, -30, 0))


# --- against exactextract and rasterstats --------------------------------------------------
def random_polygons(rng, n, h, w):
    polys = []
    for _ in range(n):
        cx = rng.uniform(X0 - 60, X0 + w * CELL + 60)
        cy = rng.uniform(Y0 - h * CELL - 60, Y0 + 60)
        rad = rng.uniform(3, 500)
        star = shapely.Point(cx, cy).buffer(rad, quad_segs=int(rng.integers(1, 8)))
        # jitter vertices to get irregular polygons
        coords = np.asarray(star.exterior.coords)
        coords = coords + rng.normal(scale=rad * 0.1, size=coords.shape)
        coords[-1] = coords[0]
        p = shapely.make_valid(shapely.Polygon(coords))
        polys.append(p if p.geom_type in ("Polygon", "MultiPolygon") else star)
    return polys


def test_matches_exactextract_on_random_polygons():
    rng = np.random.default_rng(11)
    h, w = 70, 90
    r = rng.normal(size=(h, w)) * 10 + 100
    r[10:14, 20:25] = np.nan
    polys = random_polygons(rng, 80, h, w)
    polys.append(pix(0, 0, w, h).difference(pix(30, 30, 40, 45)))  # polygon with a hole
    g = gdf(polys)
    ops = ("mean", "min", "max", "count", "sum", "stdev")
    ours = zonal_stats(g, r, transform=T, stats=ops)
    ref = exact_reference(g, r, ops)
    has = ref["count"].to_numpy() > 0
    assert has.sum() > 60
    for op in ops:
        a, b = ours[op].to_numpy(), ref[op].to_numpy()
        np.testing.assert_array_equal(
            np.isnan(a), np.isnan(b) if op != "count" else np.zeros_like(a, bool)
        )
        np.testing.assert_allclose(a[has], b[has], rtol=1e-6, atol=1e-6, err_msg=op)


def test_centre_weights_match_rasterstats():
    rasterstats = pytest.importorskip("rasterstats")
    rng = np.random.default_rng(12)
    h, w = 50, 60
    r = rng.uniform(0, 1000, size=(h, w))
    polys = random_polygons(rng, 40, h, w)
    ours = zonal_stats(
        gdf(polys), r, transform=T, stats=("mean", "count", "min", "max"), weights="centre"
    )
    ref = pd.DataFrame(
        rasterstats.zonal_stats(
            polys, r, affine=T, stats=["mean", "count", "min", "max"], nodata=-1e30
        )
    )
    np.testing.assert_allclose(ours["count"], ref["count"])
    has = ref["count"] > 0
    np.testing.assert_allclose(ours["mean"][has], ref["mean"][has].astype(float), rtol=1e-9)
    np.testing.assert_allclose(ours["max"][has], ref["max"][has].astype(float))


def test_mean_elevation_within_1m_of_exactextract_on_large_polygons():
    """Float32 DEM with real relief, village-sized polygons (100+ cells)."""
    rng = np.random.default_rng(13)
    h, w = 120, 120
    dem = (gaussian_filter(rng.normal(size=(h, w)), 6) * 3000 + 1200).astype(np.float32)
    polys = [
        shapely.Point(X0 + rng.uniform(20, 100) * CELL, Y0 - rng.uniform(20, 100) * CELL).buffer(
            rng.uniform(6, 15) * CELL
        )
        for _ in range(30)
    ]
    cov = zonal_stats(gdf(polys), dem, transform=T, stats=("mean", "count"))
    ref = exact_reference(gdf(polys), dem, ("mean",))
    assert (cov["count"] >= 100).all()
    assert np.abs(cov["mean"].to_numpy() - ref["mean"].to_numpy()).max() < 1.0
    # Centre weighting differs by design on partly covered pixels, but not by much.
    cen = zonal_stats(gdf(polys), dem, transform=T, stats=("mean",), weights="centre")
    assert 0 < np.abs(cov["mean"] - cen["mean"]).max() < 5.0


@settings(max_examples=30, deadline=None)
@given(
    st.floats(-3, 12),
    st.floats(-3, 12),
    st.floats(0.01, 8),
    st.floats(0.01, 8),
)
def test_coverage_counts_equal_clipped_area(c0, r0, wc, hr):
    """Count (sum of coverage) of a box equals its area inside the raster, in pixels."""
    r = np.ones((10, 10))
    p = pix(c0, r0, c0 + wc, r0 + hr)
    out = zonal_stats(gdf([p]), r, transform=T, stats=("count",))
    inside = shapely.area(shapely.intersection(p, pix(0, 0, 10, 10))) / CELL**2
    assert out.loc[0, "count"] == pytest.approx(inside, abs=1e-9)


coord = st.floats(-4, 14)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(coord, coord), min_size=3, max_size=7))
def test_coverage_count_equals_clipped_area_for_any_polygon(pts):
    """Sum of coverage of a (made valid) polygon = its area inside the raster."""
    poly = shapely.make_valid(shapely.Polygon([(X0 + c * CELL, Y0 - r * CELL) for c, r in pts]))
    poly = shapely.union_all([g for g in shapely.get_parts(poly) if g.geom_type == "Polygon"])
    if poly.is_empty or poly.geom_type not in ("Polygon", "MultiPolygon"):
        return
    r = np.ones((10, 10))
    out = zonal_stats(gdf([poly]), r, transform=T, stats=("count",))
    inside = shapely.area(shapely.intersection(poly, pix(0, 0, 10, 10))) / CELL**2
    assert out.loc[0, "count"] == pytest.approx(inside, abs=1e-7)


# --- village terrain stats ---------------------------------------------------------------------
def test_village_terrain_stats_columns_and_values():
    dem = np.arange(16, dtype=float).reshape(4, 4) * 10
    slope = np.array([[10.0, 20, 30, 40]] * 4)
    a = pix(0, 0, 2, 2)  # slopes 10, 20 -> none >25, half > 15
    b = pix(2, 0, 4, 4)  # slopes 30, 40
    hz = gpd.GeoSeries([pix(0, 0, 1, 2)], crs=CRS)  # half of a
    out = village_terrain_stats(
        gdf([a, b]), dem, slope, transform=T, hazard_polygons=hz, thresholds_deg=(15, 25, 32.5)
    )
    assert list(out.columns) == [
        "elev_mean_m", "elev_min_m", "elev_max_m", "slope_mean_deg",
        "slope_gt15_frac", "slope_gt25_frac", "slope_gt32p5_frac", "hazard_frac",
    ]  # fmt: skip
    assert out.loc[0, "elev_mean_m"] == pytest.approx(dem[0:2, 0:2].mean())
    assert out.loc[0, "elev_min_m"] == 0 and out.loc[0, "elev_max_m"] == 50
    assert out.loc[0, "slope_mean_deg"] == pytest.approx(15)
    assert out.loc[0, "slope_gt15_frac"] == pytest.approx(0.5)
    assert out.loc[0, "slope_gt25_frac"] == 0
    assert out.loc[1, "slope_gt25_frac"] == 1 and out.loc[1, "slope_gt32p5_frac"] == pytest.approx(
        0.5
    )
    assert out.loc[0, "hazard_frac"] == pytest.approx(0.5) and out.loc[1, "hazard_frac"] == 0
    none = village_terrain_stats(gdf([a]), dem, slope, transform=T)
    assert np.isnan(none.loc[0, "hazard_frac"])
    with pytest.raises(LayerSchemaError, match="same shape"):
        village_terrain_stats(gdf([a]), dem, slope[:2], transform=T)
    with pytest.raises(CRSError, match="hazard_polygons"):
        village_terrain_stats(
            gdf([a]), dem, slope, transform=T, hazard_polygons=hz.set_crs(4490, allow_override=True)
        )


# --- catchments ---------------------------------------------------------------------------------
def test_catchments_cover_points_and_stay_inside():
    rng = np.random.default_rng(21)
    boundary = shapely.Point(0, 0).buffer(5000)
    pts = []
    while len(pts) < 40:
        p = shapely.Point(rng.uniform(-5000, 5000, 2))
        if boundary.contains(p):
            pts.append(p)
    pts.append(pts[3])  # a duplicate village location
    v = gpd.GeoDataFrame({"village_id": [f"v{i}" for i in range(len(pts))]}, geometry=pts, crs=CRS)
    radius = 1500.0
    cells = catchments(v, boundary=boundary, radius_m=radius)
    assert list(cells["village_id"]) == list(v["village_id"]) and cells.crs == v.crs
    geoms = np.asarray(cells.geometry.values)
    assert shapely.covers(geoms, np.asarray(v.geometry.values)).all()
    assert shapely.covers(boundary.buffer(1e-6), geoms).all()
    # Inside the radius: every vertex within radius of its own village.
    for g, p in zip(geoms, pts, strict=True):
        assert shapely.hausdorff_distance(g, p) <= radius + 1e-6
    # Cells of distinct villages do not overlap (beyond float noise).
    uniq = geoms[:40]
    assert abs(shapely.union_all(uniq).area - shapely.area(uniq).sum()) < 1e-3
    assert geoms[-1].equals(geoms[3])


def test_catchments_refuse_geographic_and_non_points():
    v = gpd.GeoDataFrame(
        geometry=[shapely.Point(105, 30), shapely.Point(105.1, 30)], crs="EPSG:4490"
    )
    with pytest.raises(CRSError, match="geographic"):
        catchments(v, boundary=shapely.box(104, 29, 106, 31), radius_m=1000)
    v2 = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    with pytest.raises(LayerSchemaError, match="Point"):
        catchments(v2, boundary=shapely.box(0, 0, 10, 10), radius_m=1000)
    v3 = gpd.GeoDataFrame(geometry=[shapely.Point(5, 5)], crs=CRS)
    with pytest.raises(ValueError, match="radius_m"):
        catchments(v3, boundary=shapely.box(0, 0, 10, 10), radius_m=0)
    one = catchments(v3, boundary=shapely.box(0, 0, 10, 10), radius_m=3)
    assert one.geometry.iloc[0].area == pytest.approx(np.pi * 9, rel=0.01)
