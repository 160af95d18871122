"""Hostile input, systematically (issue 16): every bad input ends in a clear error (exit 2,
the file and the field named), never a traceback, never exit 1."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin
from shapely.geometry import MultiPoint, Point

from layers import settings as settings_mod
from layers.dem_sources import network_path
from layers.errors import LayerSchemaError
from layers.readers import read_dem, read_vector
from scripts.cli import main
from tests.conftest import X0, Y0, write_tiny_workspace


def check(ws: Path):
    res = CliRunner().invoke(main, ["check", str(ws)])
    assert res.exit_code in (0, 2), (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    return res


def refused(ws: Path, *needles: str) -> str:
    res = check(ws)
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("ERROR: ")]
    assert errors, res.output
    text = "\n".join(errors)
    for n in needles:
        assert re.search(n, text), (n, text)
    return text


def villages(ws: Path, fn) -> None:
    v = gpd.read_file(ws / "villages.geojson")
    fn(v).to_file(ws / "villages.geojson", driver="GeoJSON")


def toml(ws: Path, old: str, new: str) -> None:
    t = (ws / "workspace.toml").read_text(encoding="utf-8")
    assert old in t
    (ws / "workspace.toml").write_text(t.replace(old, new, 1), encoding="utf-8")


def append_toml(ws: Path, text: str) -> None:
    with open(ws / "workspace.toml", "a", encoding="utf-8") as fh:
        fh.write("\n" + text + "\n")


def dem(ws: Path, width: int, height: int, cell: float) -> None:
    with rasterio.open(
        ws / "dem.tif",
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs="EPSG:4545",
        transform=from_origin(X0, Y0, cell, cell),
        tiled=True,
        compress="deflate",
        sparse_ok=True,
        nodata=-9999,
    ) as dst:
        if width * height <= 1_000_000:
            dst.write(np.full((1, height, width), 900, "float32"))


@pytest.fixture
def ws(tmp_path):
    return write_tiny_workspace(tmp_path / "ws")


def test_a_folder_where_a_file_is_expected(ws):
    (ws / "villages.geojson").unlink()
    (ws / "villages.geojson").mkdir()
    refused(ws, r"villages\.geojson, layer villages: is a folder; expected a \.geojson file")


def test_a_folder_where_the_dem_is_expected(ws):
    (ws / "dem.tif").unlink()
    (ws / "dem.tif").mkdir()
    refused(ws, r"dem\.tif, layer dem: is a folder; expected a DEM file")


def test_duplicate_column_names_in_geojson(ws):
    t = (ws / "villages.geojson").read_text(encoding="utf-8")
    (ws / "villages.geojson").write_text(t.replace('"村名"', '"人口"'), encoding="utf-8")
    refused(ws, r"villages\.geojson.*'人口' appear twice")


def test_duplicate_column_names_in_csv(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(LayerSchemaError, match=r"t\.csv: column\(s\) 'a' appear twice"):
        read_vector(p)


@pytest.mark.parametrize("value", [float("inf"), 50_000_000, -5])
def test_infinite_huge_or_negative_population(ws, value):
    v = gpd.read_file(ws / "villages.geojson")
    v["人口"] = [1200.0, value, 150.0]
    (ws / "villages.geojson").unlink()
    v.to_file(ws / "villages.gpkg", layer="villages")
    toml(ws, 'path = "villages.geojson"', 'path = "villages.gpkg"')
    refused(ws, r"villages\.gpkg, layer villages, column 'population'")


def test_infinite_population_in_geojson_text(ws):
    t = (ws / "villages.geojson").read_text(encoding="utf-8")
    t = re.sub(r'"人口": \d+', '"人口": 1e400', t, count=1)
    (ws / "villages.geojson").write_text(t, encoding="utf-8")
    refused(ws, r"villages\.geojson, layer villages")


def test_text_with_a_unit_in_a_numeric_column(ws):
    villages(ws, lambda v: v.assign(人口=["1200", "3 km", "150"]))
    refused(ws, r"column 'population'.*not numbers.*'3 km'")


def test_a_negative_hazard_radius(ws):
    gpd.GeoDataFrame(
        {"hazard_id": ["H"], "kind": ["landslide"], "radius_m": [-50.0]},
        geometry=[Point(X0 + 1000, Y0 - 1000)],
        crs=4545,
    ).to_file(ws / "hz.gpkg", layer="hazards")
    append_toml(ws, '[layers.hazards]\npath = "hz.gpkg"\nlayer = "hazards"')
    refused(ws, r"hz\.gpkg, layer hazards, row 1|hz\.gpkg, layer hazards, column 'radius_m'")


def test_a_one_cell_dem(ws):
    dem(ws, 1, 1, 1800.0)
    refused(ws, r"dem\.tif, layer dem: the DEM is 1 x 1 cells.*at least 3 x 3")


def test_a_dem_too_large_is_refused_from_its_header(ws, monkeypatch):
    """40,000 x 40,000 cells: refused before a pixel is read (the limit is settable)."""
    dem(ws, 40_000, 40_000, 1.0)
    monkeypatch.setenv("ANJU_MAX_DEM_CELLS", "1000000")
    refused(ws, r"dem\.tif.*cells .*above the limit of 1 million cells")


def test_the_dem_cell_limit_on_read_dem(tmp_path, monkeypatch):
    root = write_tiny_workspace(tmp_path / "w")
    monkeypatch.setenv("ANJU_MAX_DEM_CELLS", "100")
    with pytest.raises(LayerSchemaError, match="60 x 60 cells"):
        read_dem(root / "dem.tif")


def test_a_csv_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "big.csv"
    p.write_text("a,b\n" + "1,2\n" * 1000, encoding="utf-8")
    monkeypatch.setenv("ANJU_MAX_CSV_BYTES", "1000")
    with pytest.raises(LayerSchemaError, match=r"big\.csv: the CSV is .* above the limit"):
        read_vector(p)


@pytest.mark.parametrize(
    "path",
    [
        "/vsicurl/http://127.0.0.1:9/v.geojson",
        "/vsis3/bucket/v.geojson",
        "/vsizip//vsicurl/https://example.org/v.zip/v.geojson",
        "https://example.org/v.geojson",
        "http://127.0.0.1:9/v.geojson",
        "ftp://example.org/v.geojson",
        "s3://bucket/v.geojson",
    ],
)
def test_network_paths_are_refused(ws, path):
    toml(ws, 'path = "villages.geojson"', f'path = "{path}"')
    text = refused(ws, r"workspace\.toml, layer villages: .*network path")
    assert "required layer" not in text  # said once
    assert network_path(path)


def test_a_network_dem_is_refused(ws):
    toml(ws, 'path = "dem.tif"', 'path = "/vsis3/bucket/dem.tif"')
    refused(ws, r"workspace\.toml, layer dem: .*network path")


def test_local_paths_are_not_network_paths(tmp_path):
    for p in ("/tmp/vsis3_dem/dem.tif", "C:/data/dem.tif", "dem.tif", "/vsizip//tmp/a.zip/b.tif"):
        assert not network_path(p), p


def test_a_vrt_reading_from_the_network_is_refused(ws):
    (ws / "dem.vrt").write_text(
        '<VRTDataset rasterXSize="10" rasterYSize="10"><SRS>EPSG:4545</SRS>'
        f"<GeoTransform>{X0}, 30, 0, {Y0}, 0, -30</GeoTransform>"
        '<VRTRasterBand dataType="Float32" band="1"><SimpleSource>'
        '<SourceFilename relativeToVRT="0">/vsicurl/http://127.0.0.1:9/dem.tif</SourceFilename>'
        "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>",
        encoding="utf-8",
    )
    toml(ws, 'path = "dem.tif"', 'path = "dem.vrt"')
    refused(ws, r"dem\.vrt.*network path")


def test_multipoint_villages_of_several_places_are_refused(ws):
    villages(
        ws,
        lambda v: v.set_geometry(
            [MultiPoint([g, Point(g.x + 0.001, g.y)]) for g in v.geometry], crs=v.crs
        ),
    )
    refused(ws, r"villages\.geojson, layer villages: 3 village\(s\) are MultiPoints")


def test_multipoint_villages_of_one_place_are_read_as_points_with_a_warning(ws):
    villages(ws, lambda v: v.set_geometry([MultiPoint([g]) for g in v.geometry], crs=v.crs))
    res = check(ws)
    assert res.exit_code == 0, res.output
    assert "WARNING:" in res.output and "MultiPoints of one place" in res.output


def test_all_villages_on_one_point_warn_in_check_and_manifest(ws, tmp_path):
    import json

    villages(ws, lambda v: v.set_geometry([v.geometry.iloc[0]] * 3, crs=v.crs))
    res = check(ws)
    assert res.exit_code == 0 and "one and the same place" in res.output
    out = tmp_path / "plan"
    res = CliRunner().invoke(main, ["run", str(ws), "--out", str(out), "--quiet", "--no-history"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert any("one and the same place" in w for w in m["warnings"])


def test_zero_total_population_warns(ws):
    villages(ws, lambda v: v.assign(人口=[0, 0, 0], 户数=[0, 0, 0], 贫困人口=[0, 0, 0]))
    res = check(ws)
    assert res.exit_code == 0, res.output
    assert "column 'population': the total population is 0" in res.output


def test_a_policy_typo_is_refused(ws):
    toml(ws, 'policy = "national"', 'policy = "natonal"')
    refused(ws, r"workspace\.toml, layer policy: .*did you mean 'national'")


@pytest.mark.parametrize(
    "params, needle",
    [
        ("robustness_draws = 100000", r"robustness_draws: expected a number <= 10000"),
        ("time_limit_s = 1e9", r"time_limit_s: expected a number <= 86400"),
        ("robustness_draws = nan", r"robustness_draws: expected a finite number"),
        ("slope_limit_deg = -3", r"slope_limit_deg: expected a number > 0"),
        ("ahp = [[1, 2], [0.5, 1]]", r"ahp: expected"),
        ("ahp = [[1, -2], [0.5, 1]]", r"ahp: expected"),
        ("site_threshold = inf", r"site_threshold: expected a finite number"),
    ],
)
def test_absurd_profile_settings_are_refused_by_check(ws, params, needle):
    (ws / "custom.toml").write_text(
        f'[profile]\nextends = "national"\nname = "custom"\n\n[suitability]\n{params}\n',
        encoding="utf-8",
    )
    toml(ws, 'policy = "national"', 'policy = "custom.toml"')
    refused(ws, r"workspace\.toml, layer policy: settings from .*custom\.toml", needle)


@pytest.mark.parametrize(
    "params, needle",
    [
        ("village_catchment_radius_m = -1", r"village_catchment_radius_m: expected a number > 0"),
        ("village_catchment_radius_m = 1e12", r"village_catchment_radius_m: expected .*<= 20000"),
        ("current_year = 1800", r"current_year"),
        ('dem_coarse_cell_m = "90 m"', r"dem_coarse_cell_m: expected a number"),
    ],
)
def test_absurd_workspace_parameters_are_refused_by_check(ws, params, needle):
    append_toml(ws, f"[parameters]\n{params}")
    refused(ws, r"workspace\.toml", needle)


def test_every_numeric_setting_has_a_maximum():
    """A sane ceiling on each number in the settings' metadata (or a documented inf)."""
    import dataclasses
    import typing

    missing = []
    for cls in vars(settings_mod).values():
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            continue
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata and hints[f.name] in (int, float, int | None, float | None):
                if "max" not in f.metadata and not f.metadata.get("inf"):
                    missing.append(f"{cls.__name__}.{f.name}")
    assert missing == []


def test_villages_mixing_points_and_polygons_are_refused(ws):
    """Found by the fuzz suite: a polygon among point villages crashed the terrain stage."""
    villages(
        ws,
        lambda v: v.set_geometry(
            [v.geometry.iloc[0].buffer(0.001), *v.geometry.iloc[1:]], crs=v.crs
        ),
    )
    refused(
        ws, r"villages\.geojson, layer villages: the layer mixes points \(2\) and polygons \(1\)"
    )


@pytest.mark.parametrize(
    "line, needle",
    [
        ("threshold = nan", r"threshold must be a number, found nan"),
        ("threshold = inf", r"threshold must be a number, found inf"),
        ("threshold = -0.03", r"threshold of rule rate_below is a share in \[0, 1\]"),
        ("threshhold = 0.03", r"unknown field 'threshhold'.*did you mean 'threshold'"),
    ],
)
def test_bad_indicator_thresholds_are_refused_by_check(ws, line, needle):
    src = (
        Path(settings_mod.__file__).parents[1] / "data" / "policies" / "national.toml"
    ).read_text(encoding="utf-8")
    text = re.sub(r"(?m)^threshold = .*$", line, src, count=1)
    (ws / "custom.toml").write_text(
        text.replace('name = "national"', 'name = "custom"'), encoding="utf-8"
    )
    toml(ws, 'policy = "national"', 'policy = "custom.toml"')
    refused(ws, r"workspace\.toml, layer policy: policy profile .*custom\.toml", needle)
