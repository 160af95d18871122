"""The plan contract: the real pipeline's plan follows the declaration, loads into every
view model and page, and the writer refuses a plan that breaks it."""

from __future__ import annotations

import json

import dash
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder
from pyproj import CRS
from rasterio.transform import from_origin
from shapely.geometry import Point

from dashboard import viewmodels as vm
from dashboard.app import create_app
from dashboard.plan import load_plan
from dashboard.scenario import defaults
from layers.errors import LayerSchemaError
from layers.grid import Grid
from layers.plan import PLAN_LAYERS, PLAN_RASTERS, PlanOutput, check_layer, open_plan, write_plan
from scripts.pipeline import run_pipeline
from tests.conftest import write_full_tiny_workspace
from tests.sample_plan import write_sample_plan

PAGES = ["coverage", "transport", "water", "health", "relocation", "briefing"]


@pytest.fixture(scope="module")
def real_plan(tmp_path_factory):
    base = tmp_path_factory.mktemp("contract")
    ws = write_full_tiny_workspace(base / "ws")
    out = base / "plan"
    run_pipeline(ws, out, progress=False)
    return out


@pytest.mark.parametrize("kind", ["real", "sample"])
def test_every_layer_follows_its_declaration(real_plan, tmp_path, kind):
    plan_dir = real_plan if kind == "real" else write_sample_plan(tmp_path / "plan")
    stored = open_plan(plan_dir)
    assert "villages" in stored.layer_names
    for name in stored.layer_names:
        assert name in PLAN_LAYERS, name
        frame = stored.read_layer(name)
        assert check_layer(name, frame) == [], name
        if name == "roads":
            assert set(frame["hardened"]) <= {"hardened", "unhardened", "unknown"}
    assert set(stored.raster_paths) == set(PLAN_RASTERS)


def test_real_plan_records_its_settings_and_reads_them_back(real_plan):
    stored = open_plan(real_plan)
    settings = stored.settings()
    assert settings.profile.name == "national"
    assert settings.to_dict() == stored.manifest["settings"]
    slope, grid = stored.read_raster("slope_deg")
    assert slope.shape == grid.shape and grid.crs == stored.metric_crs


def test_real_plan_loads_into_every_view_model(real_plan):
    plan = load_plan(real_plan)
    v = plan.villages
    ids = plan.indicator_ids
    assert ids == list(open_plan(real_plan).settings().profile.ids)
    assert {"incidence", "road", "clinic", "tv", "bus", "medical_insurance"} <= set(ids)
    gj = vm.villages_geojson(v, ids)
    assert len(gj["features"]) == len(v) == 3
    assert vm.coverage_hideout(ids, indicator="clinic")["idx"] == 1 + ids.index("clinic")
    counts = vm.filter_counts(vm.status_codes(v, ids), v["township"])
    assert sum(counts[k] for k in ("met", "not_met", "unknown") if k in counts) == len(v)
    assert len(vm.roads_geojson(plan.layer("roads"))["features"]) == len(plan.layer("roads"))
    panel = vm.village_panel(v.iloc[0], plan.indicators)
    assert len(panel["rows"]) == len(ids)
    tv = vm.transport_villages(v)
    assert len(tv) == int((v["road_access"] != "hardened").sum())
    gaps = vm.ranked_road_gaps(plan.layer("road_gaps"))
    assert vm.km_per_township(gaps)["length_km"].sum() == pytest.approx(
        gaps["length_km"].sum(), abs=0.01
    )
    wv = vm.water_villages(v, plan.layer("water"))
    assert len(wv) <= len(v)
    hv = vm.health_villages(v)
    assert len(vm.health_townships(v)) >= 1 and len(hv) <= len(v)
    ranking = vm.township_ranking(v)
    assert ranking["villages"].sum() == len(v)
    head = vm.headline_numbers(plan.summary, v)
    assert head["villages"] == 3
    cands = vm.relocation_candidates(plan.layer("relocation_candidates"))
    assert len(cands) == plan.summary["relocation_candidates"]
    sites = plan.layer("sites")
    assert len(vm.site_points_geojson(sites)["features"]) == len(sites)
    assert len(vm.sites_table(sites)) == len(sites)
    assert vm.display_records(pd.DataFrame(vm.records(tv.drop(columns="geometry"))))
    # the scenario panel starts from the plan's own settings
    start = defaults(plan.manifest.get("parameters"))
    assert start["min_score"] == open_plan(real_plan).settings().relocation.min_score


@pytest.mark.parametrize("page", PAGES)
def test_every_page_lays_out_on_the_real_plan(real_plan, page):
    app = create_app(real_plan, config={"osm": False})
    with app.server.test_request_context("/", headers={"Cookie": "anju_lang=zh"}):
        layout = dash.page_registry[f"pages.{page}"]["layout"]()
    text = json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "page-alert" not in text and len(text) > 1000


def _tiny_output(**layer_changes):
    crs = CRS.from_user_input("EPSG:4545")
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["V1"],
            "name": ["甲村"],
            "township": ["甲镇"],
            "population": [100],
            "road_access": ["hardened"],
            "unhardened_km": [0.0],
            "unknown_surface_km": [0.0],
            "connection_km": [0.0],
            "road_evidence": ["measured"],
            "exit_applicable": [True],
            "exit_ready": [True],
            "unmet": [""],
            "blocker_class": ["ready"],
            "eligible": [False],
            "reloc_score": [0.0],
            "site_id": [None],
        },
        geometry=[Point(500_000, 3_000_000)],
        crs=crs,
    )
    for col, value in layer_changes.items():
        if value is None:
            villages = villages.drop(columns=col)
        else:
            villages[col] = value
    return PlanOutput(
        grid=Grid((4, 4), from_origin(499_990, 3_000_010, 10, 10), crs),
        layers={"villages": villages},
        rasters={"dem": np.zeros((4, 4), "float32")},
        tables={},
        tables_zh={},
        indicators={"indicators": []},
        manifest={"summary": {}},
    )


def test_writer_round_trips_a_minimal_plan(tmp_path):
    manifest = write_plan(tmp_path / "p", _tiny_output())
    assert manifest["outputs"][0] == "rasters/dem.tif"
    stored = open_plan(tmp_path / "p")
    assert stored.read_layer("villages")["name"].tolist() == ["甲村"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"blocker_class": None}, r"plan layer 'villages': missing column 'blocker_class'"),
        ({"population": ["many"]}, r"column 'population': expected float, found dtype"),
        ({"exit_ready": ["yes"]}, r"column 'exit_ready': expected bool"),
    ],
)
def test_writer_refuses_a_plan_that_breaks_the_contract(tmp_path, change, match):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep.txt").write_text("the previous plan")
    with pytest.raises(LayerSchemaError, match=match):
        write_plan(tmp_path / "p", _tiny_output(**change))
    # nothing written, nothing left behind, the previous plan untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
    assert (tmp_path / "p" / "keep.txt").read_text() == "the previous plan"


def test_a_plan_from_before_a_setting_existed_still_reruns(tmp_path):
    """Settings added since a plan was written come from its profile; its own stand."""
    import copy

    from layers.settings import load_settings, settings_from_dict

    s = load_settings("national", province_group="west")
    recorded = copy.deepcopy(s.to_dict())
    del recorded["road"]["datum_suspect_snap_m"]
    del recorded["suitability"]["solver"]
    recorded["suitability"]["min_occupancy_people"] = 77
    back = settings_from_dict(recorded)
    assert back.road.datum_suspect_snap_m == s.road.datum_suspect_snap_m
    assert back.sites.solver == "exact" and back.sites.min_occupancy_people == 77


def test_plan_tables_keep_formula_like_names_as_text(tmp_path):
    import openpyxl
    import pandas as pd

    from layers.plan import _write_table

    df = pd.DataFrame({"name": ["=1+1", "白岩村"], "people": [10, 20]})
    _write_table(df, None, tmp_path, "t")
    csv = (tmp_path / "t.csv").read_text(encoding="utf-8-sig").splitlines()
    assert csv[1] == "'=1+1,10"
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert all(ws["A2"].value == "=1+1" and ws["A2"].data_type == "s" for ws in wb.worksheets)
