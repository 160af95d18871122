"""Plan loading: reprojection, simplification, rounding, caching and clear errors."""

from __future__ import annotations

import json
import os
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from dashboard.plan import load_plan, parse_indicators, plan_status, prepare_layer
from layers.errors import LayerNotFoundError, LayerSchemaError
from layers.plan import PLAN_FORMAT
from tests.sample_plan import write_sample_plan


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample_plan(tmp_path_factory.mktemp("plan") / "plan", n_villages=25)


def dense_circle_4490():
    # a 1 km circle with 2,000 vertices in a metric CRS, stored in EPSG:4490
    metric = gpd.GeoSeries([Point(500_000, 2_950_000).buffer(1000, quad_segs=500)], crs="EPSG:4545")
    return gpd.GeoDataFrame(
        {"village_id": ["V1"], "phone": ["13800000000"], "id_number": ["x"]},
        geometry=metric.to_crs("EPSG:4490"),
    )


def test_prepare_layer_simplifies_rounds_and_drops_personal_fields():
    g = dense_circle_4490()
    n_before = shapely.get_num_coordinates(g.geometry.values)[0]
    out = prepare_layer(g, metric_crs="EPSG:4545", simplify_m=20, precision=5)
    assert out.crs.to_epsg() == 4326
    n_after = shapely.get_num_coordinates(out.geometry.values)[0]
    assert n_after < n_before / 10
    coords = shapely.get_coordinates(out.geometry.values)
    assert np.allclose(coords, np.round(coords, 5), atol=0, rtol=0)
    assert "phone" not in out.columns and "id_number" not in out.columns
    # the simplified outline stays within the 20 m tolerance (+ about 1 m of rounding)
    g0 = g.to_crs("EPSG:4545").geometry.iloc[0]
    g1 = out.to_crs("EPSG:4545").geometry.iloc[0]
    assert g0.hausdorff_distance(g1) < 21.5
    # a circle cut into chords with 20 m sagitta keeps sin(2t)/(2t) of its area, t = acos(0.98)
    t = np.arccos(0.98)
    assert g1.area / g0.area == pytest.approx(np.sin(2 * t) / (2 * t), abs=0.01)


def test_prepare_layer_points_untouched_except_rounding():
    g = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(107.123456789, 26.987654321)], crs="EPSG:4326")
    out = prepare_layer(g)
    assert out.geometry.iloc[0].coords[0] == (107.12346, 26.98765)


def test_load_plan_reads_layers_indicators_manifest(sample):
    plan = load_plan(sample)
    assert len(plan.villages) == 25
    assert plan.villages.crs.to_epsg() == 4326
    assert plan.indicator_ids == ["incidence", "road", "water", "clinic", "bus"]
    assert [i["verified"] for i in plan.indicators] == [True, True, True, True, False]
    assert plan.profile["name"] == "national"
    assert plan.summary["villages"] == 25
    assert {"dem", "slope_deg", "suitability", "travel_min_health_centre"} <= set(plan.rasters)
    (s, w), (n, e) = plan.bounds
    assert s < n and w < e and 26 < s < 27 and 107 < w < 108
    assert load_plan(sample) is plan  # cached


def test_load_plan_missing_names_build_command(tmp_path):
    with pytest.raises(LayerNotFoundError, match="anju run data/demo --out data/demo/plan"):
        load_plan(tmp_path)


def test_load_plan_unreadable_gpkg(tmp_path):
    (tmp_path / "plan.gpkg").write_bytes(b"not a geopackage at all")
    with pytest.raises(LayerSchemaError, match="expected a GeoPackage"):
        load_plan(tmp_path)


def test_load_plan_without_villages_layer(tmp_path):
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs="EPSG:4490").to_file(
        tmp_path / "plan.gpkg", layer="roads"
    )
    with pytest.raises(LayerNotFoundError, match="expected a layer 'villages'"):
        load_plan(tmp_path)


def test_load_plan_bad_indicators_json(tmp_path, sample):
    import shutil

    d = tmp_path / "p"
    shutil.copytree(sample, d)
    (d / "indicators.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(LayerSchemaError, match="indicators.json: expected JSON"):
        load_plan(d)


def test_parse_indicators_forms():
    items, prof = parse_indicators([{"id": "a"}])
    assert items[0]["name_zh"] == "a" and prof == {}
    items, prof = parse_indicators(
        {"name": "n", "title": "T", "indicators": [{"id": "b", "name_zh": "乙"}]}
    )
    assert prof == {"name": "n", "title": "T"} and items[0]["name_zh"] == "乙"
    with pytest.raises(LayerSchemaError, match="has no 'id'"):
        parse_indicators([{"name_zh": "x"}])
    with pytest.raises(LayerSchemaError, match="expected a list or an object"):
        parse_indicators("nope")


def test_plan_status(tmp_path, sample):
    assert plan_status(tmp_path)[0] == "missing"
    assert plan_status(sample) == ("ok", "")
    d = tmp_path / "p"
    d.mkdir()
    (d / "plan.gpkg").write_bytes(b"")
    src = tmp_path / "villages.gpkg"
    src.write_text("x")
    (d / "manifest.json").write_text(
        json.dumps({"plan_format": PLAN_FORMAT, "inputs": [{"path": str(src)}]})
    )
    old = time.time() - 100
    os.utime(d / "manifest.json", (old, old))
    status, detail = plan_status(d)
    assert status == "outdated" and detail.endswith("villages.gpkg")
    # same content, newer mtime (a fresh checkout): not outdated
    import hashlib

    sha = hashlib.sha256(b"x").hexdigest()
    (d / "manifest.json").write_text(
        json.dumps({"plan_format": PLAN_FORMAT, "inputs": [{"path": str(src), "sha256": sha}]})
    )
    os.utime(d / "manifest.json", (old, old))
    assert plan_status(d) == ("ok", "")
    # a plan the pipeline wrote in an older layout must be rebuilt
    (d / "manifest.json").write_text(json.dumps({"inputs": [{"path": str(src), "sha256": sha}]}))
    status, detail = plan_status(d)
    assert status == "outdated" and "plan format 1, expected" in detail
