"""geo.blocks: block-wise slope, zonal statistics, overlay and tiled travel time equal the
in-memory functions; rasters too large for the settings, disk or memory fail as input errors."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner
from rasterio.transform import from_origin

from geo.access import travel_time
from geo.blocks import (
    slope_blocks,
    travel_time_blocks,
    weighted_overlay_blocks,
    zonal_blocks,
)
from geo.suitability import suitability
from geo.terrain import slope, slope_percent
from geo.zonal import zonal_stats
from layers.budget import check_memory_for_cells, check_raster_budget
from layers.errors import AnjuError, CRSError, LayerSchemaError
from scripts.cli import main

CRS = "EPSG:4545"
T = from_origin(500_000, 3_000_000, 30, 25)  # non-square cells: dx 30 m, dy 25 m


def _write(path: Path, arr: np.ndarray, *, nodata: float | None = None, transform=T) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=arr.shape[0],
        width=arr.shape[1],
        count=1,
        dtype=arr.dtype,
        crs=CRS,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(arr, 1)
    return path


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1, masked=True).astype("float64").filled(np.nan)


def _dem(shape=(71, 93), seed=3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = 900 + np.cumsum(rng.normal(0, 4, shape), 0) + np.cumsum(rng.normal(0, 4, shape), 1)
    z = z.astype("float32")
    z[20:24, 30:35] = np.nan  # a void inside
    z[0, 7] = np.nan  # nodata on the edge and in a corner
    z[-1, -1] = np.nan
    return z


# --------------------------------------------------------------------------- slope


@pytest.mark.parametrize("block", [5, 16, 1000])
@pytest.mark.parametrize("percent", [False, True])
def test_slope_blocks_equals_in_memory(tmp_path, block, percent):
    z = _dem()
    dem = _write(tmp_path / "dem.tif", np.where(np.isnan(z), -32768, z), nodata=-32768)
    out = tmp_path / "slope.tif"
    assert slope_blocks(dem, out, block=block, percent=percent) == z.shape
    got = _read(out)
    ref = (slope_percent if percent else slope)(z, cellsize=(30, 25))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.isnan(got[0, 6:9]).all() and np.isfinite(got[0, 0])  # nodata spreads to neighbours
    np.testing.assert_allclose(got, ref, rtol=1e-6, equal_nan=True)  # float32 both ways
    with rasterio.open(out) as src:
        assert src.profile["tiled"] and src.profile["compress"] == "zstd"


# --------------------------------------------------------------------------- zonal


@pytest.mark.parametrize("weights", ["coverage", "centre"])
def test_zonal_blocks_equals_in_memory(tmp_path, weights):
    z = _dem()
    path = _write(tmp_path / "dem.tif", z)  # NaN as nodata
    rng = np.random.default_rng(5)
    polys = [
        shapely.Point(500_000 + rng.uniform(0, 2790), 3_000_000 - rng.uniform(0, 1775)).buffer(
            rng.uniform(20, 600)
        )
        for _ in range(30)
    ]
    polys.append(shapely.box(499_000, 2_990_000, 501_000, 3_001_000))  # partly off the raster
    polys.append(shapely.box(400_000, 2_000_000, 400_100, 2_000_100))  # off the raster
    polys.append(shapely.Polygon())  # empty
    zones = gpd.GeoDataFrame({"v": range(len(polys))}, geometry=polys, crs=CRS)
    stats = ("count", "sum", "mean", "min", "max", "stdev")
    got = zonal_blocks(path, zones, stats=stats, block=13, weights=weights)
    ref = zonal_stats(zones, z, transform=T, stats=stats, weights=weights)
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-10, atol=1e-8)
    assert np.isnan(got["mean"].iloc[-2]) and got["count"].iloc[-2] == 0
    assert got["count"].iloc[:-3].gt(0).all()


def test_zonal_blocks_refuses_other_crs(tmp_path):
    path = _write(tmp_path / "dem.tif", _dem())
    zones = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4326")
    with pytest.raises(CRSError, match="reproject"):
        zonal_blocks(path, zones)


# --------------------------------------------------------------------------- overlay


def test_weighted_overlay_blocks_equals_suitability(tmp_path):
    rng = np.random.default_rng(7)
    a = rng.uniform(0, 40, (45, 61))
    b = rng.uniform(0, 200, (45, 61))
    a[3, 4] = np.nan
    paths = {"slope": _write(tmp_path / "a.tif", a), "travel": _write(tmp_path / "b.tif", b)}
    weights = {"slope": 0.7, "travel": 0.3}
    dirs = {"slope": "cost", "travel": "cost"}
    out = tmp_path / "s.tif"
    used = weighted_overlay_blocks(
        paths, weights, {"slope": (5, 25), "travel": None}, out, directions=dirs, block=8
    )
    finite = b[np.isfinite(b)]
    assert used == {"slope": (5.0, 25.0), "travel": (float(finite.min()), float(finite.max()))}
    ref = suitability(
        {"slope": a, "travel": b},
        weights=weights,
        directions=dirs,
        ranges={"slope": (5, 25), "travel": None},
    )
    got = _read(out)
    np.testing.assert_array_equal(got.astype("float32"), ref)
    assert np.isnan(got[3, 4])


# --------------------------------------------------------------------------- travel time


def _speed(shape=(83, 109), seed=11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = rng.uniform(1.0, 60.0, shape)
    s[rng.random(shape) < 0.08] = 0.0  # scattered barriers
    s[30:34, 5:100] = 0.0  # a river with one ford: paths must go round through many tiles
    s[30:34, 60] = 4.0
    s[60, :] = np.nan  # a nodata line cutting the bottom off, but for one gap
    s[60, 20] = 3.0
    s[70:, 100:] = 0.0  # a walled-off corner pocket...
    s[75:80, 104:107] = 5.0  # ...with an unreachable island inside
    return s


SOURCES = np.array([[2, 3], [31, 40], [80, 10], [50, 108]])  # (31, 40) lies on the river


@pytest.mark.parametrize("schedule", ["priority", "sweep"])
@pytest.mark.parametrize("tile", [7, 16, 40, 500])
def test_travel_time_blocks_equals_in_memory(tmp_path, tile, schedule):
    s = _speed()
    path = _write(tmp_path / "speed.tif", s)
    mask = np.zeros(s.shape, dtype=bool)
    mask[SOURCES[:, 0], SOURCES[:, 1]] = True
    ref = travel_time(s, mask, cellsize=(30, 25))
    out = tmp_path / "min.tif"
    lines: list[str] = []
    info = travel_time_blocks(
        path, SOURCES, out, tile=tile, dtype="float64", schedule=schedule, progress=lines.append
    )
    got = _read(out)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.isnan(got[77, 105])  # the island
    # the same minima of the same float sums: equal bit for bit, whatever the tiling
    np.testing.assert_array_equal(got, ref)
    if tile < 40:  # paths round the river cross many tiles: halo iterations were needed
        assert info["tile_searches"] > info["tiles"] and lines
        assert (info["sweeps"] > 1) == (schedule == "sweep")


def test_travel_time_blocks_points_and_float32(tmp_path):
    s = _speed()
    path = _write(tmp_path / "speed.tif", s)
    # points at cell centres, one off the raster (ignored)
    xs = T.c + (SOURCES[:, 1] + 0.5) * T.a
    ys = T.f + (SOURCES[:, 0] + 0.5) * T.e
    pts = gpd.GeoDataFrame(
        geometry=[*shapely.points(xs, ys), shapely.Point(0, 0)],
        crs=CRS,
    )
    out = tmp_path / "min.tif"
    info = travel_time_blocks(path, pts, out, tile=16)
    assert info["sources"] == 4
    mask = np.zeros(s.shape, dtype=bool)
    mask[SOURCES[:, 0], SOURCES[:, 1]] = True
    ref = travel_time(s, mask, cellsize=(30, 25))
    with rasterio.open(out) as src:
        assert src.dtypes[0] == "float32" and src.profile["tiled"]
    np.testing.assert_allclose(_read(out), ref, rtol=1e-6, equal_nan=True)


def test_travel_time_blocks_no_sources_is_all_nan(tmp_path):
    path = _write(tmp_path / "speed.tif", _speed())
    out = tmp_path / "min.tif"
    info = travel_time_blocks(path, np.empty((0, 2), dtype=np.int64), out, tile=16)
    assert info["tile_searches"] == 0 and np.isnan(_read(out)).all()


def test_travel_time_blocks_refuses_bad_inputs(tmp_path):
    path = _write(tmp_path / "speed.tif", _speed())
    with pytest.raises(CRSError, match="reproject"):
        travel_time_blocks(
            path, gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs="EPSG:4326"), tmp_path / "o"
        )
    with pytest.raises(LayerSchemaError, match="Point"):
        travel_time_blocks(
            path, gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=CRS), tmp_path / "o"
        )
    with pytest.raises(LayerSchemaError, match="row, col"):
        travel_time_blocks(path, np.array([1.5, 2.0]), tmp_path / "o")
    geo = tmp_path / "geo.tif"
    _write(geo, _speed(), transform=from_origin(100, 30, 0.001, 0.001))
    with rasterio.open(geo, "r+") as dst:
        dst.crs = "EPSG:4326"
    with pytest.raises(CRSError, match="projected"):
        travel_time_blocks(geo, SOURCES, tmp_path / "o")


# --------------------------------------------------------------------------- budgets


def test_check_raster_budget_names_file_size_and_limit(tmp_path):
    path = _write(tmp_path / "big.tif", np.zeros((40, 50), dtype="float32"))
    assert check_raster_budget(path, max_cells=2000) == (40, 50)
    with pytest.raises(LayerSchemaError) as exc:
        check_raster_budget(path, max_cells=1999)
    msg = str(exc.value)
    assert str(path) in msg and "50 x 40 = 2,000 cells" in msg and "limit of 1,999 cells" in msg
    with pytest.raises(AnjuError, match=r"need up to .* of disk .* found only"):
        check_raster_budget(path, free_disk_bytes_needed=10**18)
    with pytest.raises(LayerSchemaError, match="cannot be read"):
        check_raster_budget(tmp_path / "missing.tif")


def test_blocks_refuse_over_limit_before_writing(tmp_path):
    path = _write(tmp_path / "dem.tif", _dem())
    out = tmp_path / "slope.tif"
    with pytest.raises(LayerSchemaError, match="93 x 71 = 6,603 cells, above the limit of 100"):
        slope_blocks(path, out, max_cells=100)
    assert not out.exists()


def test_check_memory_for_cells_message():
    check_memory_for_cells("dem.tif", (100, 100), bytes_per_cell=200, available=2_000_000)
    with pytest.raises(LayerSchemaError) as exc:
        check_memory_for_cells("dem.tif", (40_000, 40_000), bytes_per_cell=200, available=8 * 10**9)
    msg = str(exc.value)
    assert msg.startswith("dem.tif: the DEM is 40,000 x 40,000 = 1,600,000,000 cells")
    assert "320.0 GB" in msg and "8.0 GB" in msg and "anju blocks slope" in msg


def test_run_reports_dem_too_large_for_memory_as_input_error(tiny_workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("ANJU_MEMORY_BYTES", "1000")
    res = CliRunner().invoke(main, ["run", str(tiny_workspace), "--out", str(tmp_path / "plan")])
    assert res.exit_code == 2, res.output
    assert "internal error" not in res.output
    assert "dem.tif" in res.output and "cells" in res.output and "anju blocks slope" in res.output
    assert not (tmp_path / "plan").exists()


def test_run_memory_error_is_an_input_error(tiny_workspace, tmp_path, monkeypatch):
    import scripts.pipeline

    def boom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(scripts.pipeline, "run_pipeline", boom)
    res = CliRunner().invoke(main, ["run", str(tiny_workspace), "--out", str(tmp_path / "plan")])
    assert res.exit_code == 2, res.output
    assert "ran out of memory" in res.output and "dem.tif (60 x 60 = 3,600 cells)" in res.output
    assert "anju blocks" in res.output


# --------------------------------------------------------------------------- CLI


def test_cli_blocks_slope_and_travel(tmp_path):
    z = _dem()
    dem = _write(tmp_path / "dem.tif", z)
    res = CliRunner().invoke(
        main, ["blocks", "slope", str(dem), "--out", str(tmp_path / "s.tif"), "--block", "9"]
    )
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose(
        _read(tmp_path / "s.tif"), slope(z, cellsize=(30, 25)), rtol=1e-6, equal_nan=True
    )
    s = _speed()
    speed = _write(tmp_path / "speed.tif", s)
    xs = T.c + (SOURCES[:, 1] + 0.5) * T.a
    ys = T.f + (SOURCES[:, 0] + 0.5) * T.e
    gpd.GeoDataFrame(geometry=shapely.points(xs, ys), crs=CRS).to_file(tmp_path / "p.gpkg")
    res = CliRunner().invoke(
        main,
        ["blocks", "travel", str(speed), "--sources", str(tmp_path / "p.gpkg")]
        + ["--out", str(tmp_path / "m.tif"), "--tile", "20"],
    )
    assert res.exit_code == 0, res.output
    assert "4 source cell(s)" in res.output
    mask = np.zeros(s.shape, dtype=bool)
    mask[SOURCES[:, 0], SOURCES[:, 1]] = True
    ref = travel_time(s, mask, cellsize=(30, 25))
    np.testing.assert_allclose(_read(tmp_path / "m.tif"), ref, rtol=1e-6, equal_nan=True)
    res = CliRunner().invoke(
        main,
        ["blocks", "slope", str(dem), "--out", str(tmp_path / "x.tif"), "--max-cells", "10"],
    )
    assert res.exit_code == 2 and "ERROR:" in res.output and "limit" in res.output
