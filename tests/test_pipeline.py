"""`anju run` end to end on a tiny workspace: every output written, listed and consistent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio

from dashboard.scenario import run_relocation_scenario
from layers.catalogue import TRAVEL_KINDS
from layers.grid import Grid
from scripts.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    from tests.conftest import write_full_tiny_workspace

    base = tmp_path_factory.mktemp("pipe")
    ws = write_full_tiny_workspace(base / "ws")
    out = base / "out"
    manifest = run_pipeline(ws, out, progress=False, xlsx=True)
    return ws, out, manifest


def test_every_output_is_written_and_listed(plan):
    ws, out, manifest = plan
    layers = set(gpd.list_layers(out / "plan.gpkg")["name"])
    assert {
        "villages",
        "road_gaps",
        "relocation_candidates",
        "sites",
        "allocation",
        "roads",
        "boundary",
    } <= layers
    for rel in manifest["outputs"]:
        path = out / rel.split(":")[0]
        assert path.exists(), rel
    for kind in TRAVEL_KINDS:
        assert f"rasters/travel_min_{kind}.tif" in manifest["outputs"]
    assert {"slope_deg.tif", "suitability.tif", "dem.tif"} <= {
        p.name for p in (out / "rasters").iterdir()
    }
    assert not [
        p for p in out.parent.iterdir() if ".partial-" in p.name
    ]  # nothing half-written left behind
    for inp in manifest["inputs"]:
        assert len(inp["sha256"]) == 64
    assert set(manifest["stages"]) >= {
        "load",
        "terrain",
        "travel time",
        "indicators",
        "relocation",
        "write",
    }


def test_plan_is_stored_in_cgcs2000_and_villages_carry_units(plan):
    _, out, _ = plan
    v = gpd.read_file(out / "plan.gpkg", layer="villages")
    assert v.crs.to_epsg() == 4490
    for col in (
        "elev_mean_m",
        "slope_mean_deg",
        "slope_gt25_frac",
        "travel_min_county_seat",
        "travel_min_health_centre",
        "unhardened_km",
        "road_access",
        "exit_ready",
        "unmet",
        "blocker_class",
        "eligible",
        "reasons_zh",
    ):
        assert col in v.columns, col
    assert len(v) == 3


def test_travel_time_at_a_village_on_the_road_matches_road_speed(plan):
    """The county seat sits on the county road (asphalt, 40 km/h by default): 龙潭村 is 100 m east along it."""
    _, out, _ = plan
    v = gpd.read_file(out / "plan.gpkg", layer="villages").set_index("village_id")
    t = v.loc["431200000001", "travel_min_county_seat"]
    # 100 m (a few cells) at 40 km/h is 0.15 min; the raster adds at most one diagonal cell of walking
    assert 0.1 <= t <= 1.0


def test_slope_raster_matches_the_ramp(plan):
    _, out, _ = plan
    with rasterio.open(out / "rasters" / "slope_deg.tif") as src:
        s = src.read(1)
    inner = s[10:-10, 10:-10]
    inner = inner[np.isfinite(inner)]
    # dem z = 800 + 2*col + 1*row on 30 m cells → gradient hypot(2, 1)/30
    assert np.allclose(inner, np.degrees(np.arctan(np.hypot(2, 1) / 30)), atol=1e-3)


def test_indicator_counts_add_up_and_personal_data_masked(plan):
    _, out, manifest = plan
    s = manifest["summary"]
    assert s["exit_ready"] + s["blocked_one"] + s["blocked_several"] + s["unknown"] == s["villages"]
    text = (out / "tables" / "households.csv").read_text(encoding="utf-8-sig")
    for secret in ("张三丰", "999999195001011234", "19900001111"):
        assert secret not in text
    for p in out.rglob("*"):
        if p.is_file() and p.suffix in (".csv", ".json", ".gpkg"):
            assert b"999999195001011234" not in p.read_bytes(), p


def test_allocation_respects_capacity(plan):
    _, out, _ = plan
    sites = gpd.read_file(out / "plan.gpkg", layer="sites")
    alloc = gpd.read_file(out / "plan.gpkg", layer="allocation")
    per_site = alloc.groupby("site_id")["people"].sum()
    cap = sites.set_index("site_id")["capacity_people"]
    assert (per_site <= cap.reindex(per_site.index)).all()


def test_scenario_rerun_changes_with_settings(plan):
    _, out, manifest = plan
    base = run_relocation_scenario(out, overrides={})
    assert base.summary["people_to_relocate"] == manifest["summary"]["people_to_relocate"]
    none = run_relocation_scenario(
        out,
        overrides={
            "relocation": {"min_score": 100, "hazard_decisive": False, "protected_decisive": False}
        },
    )
    assert none.summary["people_to_relocate"] <= base.summary["people_to_relocate"]
    assert base.candidates.crs.to_epsg() == 4326


def test_scenario_with_the_fast_heuristic_says_it_is_not_proven(plan):
    _, out, manifest = plan
    fast = run_relocation_scenario(out, overrides={"suitability": {"solver": "heuristic"}})
    exact = run_relocation_scenario(out, overrides={"suitability": {"solver": "exact"}})
    s, e = fast.summary, exact.summary
    assert s["allocation_status"] == "heuristic" and e["allocation_status"] == "optimal"
    # same people to place; the heuristic never beats the proven optimum of the same model
    # and is within its stated gap of it
    assert (
        s["people_to_relocate"]
        == e["people_to_relocate"]
        == manifest["summary"]["people_to_relocate"]
    )
    assert s["people_unplaced"] == e["people_unplaced"]
    assert e["exact_objective"] - 1e-6 <= s["exact_objective"]
    assert s["exact_objective"] <= e["exact_objective"] * (1 + s["allocation_gap"]) + 1e-6
    assert any("fast heuristic, not proven optimal" in n for n in fast.notes)


def test_bad_input_exits_2_and_leaves_out_untouched(tmp_path):
    from tests.conftest import write_tiny_workspace

    ws = write_tiny_workspace(tmp_path / "ws")
    v = gpd.read_file(ws / "villages.geojson")
    v.loc[0, "贫困人口"] = 99999
    v.to_file(ws / "villages.geojson", driver="GeoJSON")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous plan", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "run", str(ws), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "more registered poor than people" in proc.stderr and "Traceback" not in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_unknown_policy_is_a_clear_error(tmp_path):
    from tests.conftest import write_tiny_workspace

    ws = write_tiny_workspace(tmp_path / "ws")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.cli",
            "run",
            str(ws),
            "--out",
            str(tmp_path / "o"),
            "--quiet",
            "--policy",
            "atlantis",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and "atlantis" in proc.stderr and "Traceback" not in proc.stderr


def test_tables_have_chinese_headers_in_xlsx(plan):
    _, out, _ = plan
    x = pd.read_excel(out / "tables" / "leaders_townships.xlsx", sheet_name=None)
    assert set(x) == {"中文", "en"}
    assert any("乡镇" in str(c) or "村" in str(c) for c in x["中文"].columns)
    assert json.loads((out / "indicators.json").read_text(encoding="utf-8"))["indicators"]


def test_xlsx_only_when_asked(tmp_path):
    """Without --xlsx a plan has CSV tables only; every output the manifest lists exists."""
    from tests.conftest import write_full_tiny_workspace

    ws = write_full_tiny_workspace(tmp_path / "ws")
    m = run_pipeline(ws, tmp_path / "out", progress=False)
    tables = tmp_path / "out" / "tables"
    assert sorted(p.suffix for p in tables.iterdir()) == [".csv"] * len(list(tables.iterdir()))
    assert not any(o.endswith(".xlsx") for o in m["outputs"])
    for o in m["outputs"]:
        assert (tmp_path / "out" / o.split(":")[0]).exists(), o


def test_allow_personal_flag_writes_personal_fields(tmp_path):
    from tests.conftest import write_full_tiny_workspace

    ws = write_full_tiny_workspace(tmp_path / "ws")
    run_pipeline(ws, tmp_path / "out", progress=False, allow_personal=True)
    text = (tmp_path / "out" / "tables" / "households.csv").read_text(encoding="utf-8-sig")
    assert "张三丰" in text and "999999195001011234" in text


def test_water_bodies_are_barriers_except_where_a_road_bridges_them():
    from rasterio.transform import from_origin
    from shapely.geometry import LineString, box

    from geo.access import county_speed_surface
    from tests.conftest import road_speeds

    crs = "EPSG:4545"
    grid = Grid((20, 20), from_origin(0, 600, 30, 30), crs)

    def speed_raster(layers, grid, slope, outside, *, cliff_slope_deg):
        return county_speed_surface(
            layers["roads"],
            slope_deg=slope,
            outside=outside,
            transform=grid.transform,
            water=layers.get("water"),
            road_speeds=road_speeds(),
            cliff_slope_deg=cliff_slope_deg,
        )[0]

    river = gpd.GeoDataFrame(
        {"water_id": ["WB1"], "kind": ["water_body"]}, geometry=[box(0, 270, 600, 330)], crs=crs
    )
    road = gpd.GeoDataFrame(
        {"road_id": ["R"], "road_class": ["county"], "hardened": pd.array([True], dtype="boolean")},
        geometry=[LineString([(315, 0), (315, 600)])],
        crs=crs,
    )
    slope = np.zeros(grid.shape, dtype="float32")
    outside = np.zeros(grid.shape, bool)
    sp = speed_raster({"roads": road, "water": river}, grid, slope, outside, cliff_slope_deg=45.0)
    assert sp[10, 2] == 0  # river cell: barrier
    assert sp[10, 10] > 30  # the bridge: the road stays passable at its speed
    assert sp[2, 2] > 4  # dry land: walking speed
    sp_dry = speed_raster({"roads": road}, grid, slope, outside, cliff_slope_deg=45.0)
    assert sp_dry[10, 2] > 4


def test_batch_runs_each_workspace_and_reports_bad_ones(tmp_path):
    from tests.conftest import write_tiny_workspace

    root = tmp_path / "counties"
    write_tiny_workspace(root / "a")
    bad = write_tiny_workspace(root / "b")
    (bad / "roads.gpkg").unlink()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.cli",
            "batch",
            str(root),
            "--out",
            str(tmp_path / "plans"),
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert "OK:" in proc.stdout and "BAD INPUT:" in proc.stdout and "roads.gpkg" in proc.stderr
    assert (tmp_path / "plans" / "a" / "manifest.json").exists()
    assert not (tmp_path / "plans" / "b").exists()


def test_polygon_villages_run_end_to_end(tmp_path):
    """Villages delivered as polygons use their own polygon for terrain statistics."""
    from tests.conftest import write_full_tiny_workspace

    ws = write_full_tiny_workspace(tmp_path / "ws")
    v = gpd.read_file(ws / "villages.geojson").to_crs(4545)
    v["geometry"] = v.geometry.buffer(150)
    v.to_crs(4490).to_file(ws / "villages.geojson", driver="GeoJSON")
    m = run_pipeline(ws, tmp_path / "out", progress=False)
    out = gpd.read_file(tmp_path / "out" / "plan.gpkg", layer="villages")
    assert out.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    # dem = 800 + 2*col + row on 30 m cells: a disc's mean elevation is the plane at its centre
    c = v.geometry.centroid
    col = (c.x - 598_000) / 30 - 0.5
    row = (3_133_000 - c.y) / 30 - 0.5
    assert np.allclose(out["elev_mean_m"], 800 + 2 * col + row, atol=0.5)
    assert m["summary"]["villages"] == 3


SHARED = ROOT.parent / "shared" / "realdata" / "andorra"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/realdata not present")
def test_real_srtm_and_osm_workspace_runs_end_to_end(tmp_path):
    """A workspace nobody here made: the SRTM tile (geographic, voids), OSM roads with sparse
    surface tags, OSM places as villages (populations are placeholders). Missing layers and
    attributes must come out unknown, never met."""
    from shapely.geometry import box

    pts = gpd.read_file(SHARED / "andorra.osm.pbf", layer="points")
    places = pts[pts["place"].isin(["town", "village", "hamlet"])]
    gpd.GeoDataFrame(
        {"name": ["area"]}, geometry=[box(*places.total_bounds).buffer(0.03)], crs=4326
    ).to_file(tmp_path / "boundary.geojson")
    gpd.GeoDataFrame(
        {
            "village_id": places["osm_id"].astype(str),
            "name": places["name"].fillna("?"),
            "township": "AD",
            "population": 300,
            "households": 100,
            "poor_population": 3,
        },
        geometry=places.geometry.values,
        crs=4326,
    ).to_file(tmp_path / "villages.geojson")
    towns = places[places["place"] == "town"]
    gpd.GeoDataFrame(
        {
            "town_id": towns["osm_id"].astype(str),
            "name": towns["name"],
            "kind": ["county_seat"] + ["township_seat"] * (len(towns) - 1),
        },
        geometry=towns.geometry.values,
        crs=4326,
    ).to_file(tmp_path / "towns.geojson")
    (tmp_path / "workspace.toml").write_text(
        f'[workspace]\nname = "Andorra"\nprovince_group = "east"\n\n[layers.dem]\npath = "{SHARED / "N42E001.hgt.zip"}"\n\n'
        '[layers.boundary]\npath = "boundary.geojson"\n\n[layers.villages]\npath = "villages.geojson"\n\n'
        f'[layers.roads]\npath = "{SHARED / "andorra.osm.pbf"}"\nlayer = "lines"\n\n'
        '[layers.towns]\npath = "towns.geojson"\n',
        encoding="utf-8",
    )
    m = run_pipeline(tmp_path, tmp_path / "out", progress=False)
    assert m["crs_metric"] == "EPSG:32631"  # UTM outside China, chosen from the geographic DEM
    assert any("filled" in w and "void" in w for w in m["warnings"])
    v = gpd.read_file(tmp_path / "out" / "plan.gpkg", layer="villages")
    assert (v["water_status"] == "unknown").all()  # no water data: unknown, never met
    assert set(v["road_access"]) <= {"hardened", "gap", "unknown", "no_road"}
    assert (
        v["road_access"] == "unknown"
    ).any()  # residential roads without surface tags stay unknown
    assert v["travel_min_county_seat"].notna().mean() > 0.9
    assert (
        900 < v["elev_mean_m"].median() < 2400
    )  # settlements of the Pyrenees (VERIFY.txt: 915–2,104 m)
