"""The province page: county and township roll-ups, payloads, drill-down, county switch.

Three tiny county plans are built once (``run_pipeline`` on the tiny workspace with two
township polygons); the figures are checked against sums computed here from each plan's
own layers, and against the roll-ups ``scripts/province.py`` writes.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import dash
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder
from shapely.geometry import box

from dashboard import state
from dashboard.app import create_app
from dashboard.i18n import t
from dashboard.province import (
    COUNTY_SIMPLIFY_M,
    FIGURES,
    classes,
    load_province,
    rollup_county,
)
from tests.conftest import CELL, X0, Y0, N, write_full_tiny_workspace

ADCODES = ("439901", "439902", "439903")
NAMES = ("甲县", "乙县", "丙县")


def _add_townships(ws: Path) -> None:
    """Two township polygons (west: 龙潭镇 with two villages, east: 白岩乡 with one)."""
    split = X0 + 1200
    west = box(X0 + 60, Y0 - N * CELL + 60, split, Y0 - 90)
    east = box(split, Y0 - N * CELL + 60, X0 + N * CELL - 60, Y0 - 90)
    gpd.GeoDataFrame(
        {"township_id": ["T1", "T2"], "name": ["龙潭镇", "白岩乡"]},
        geometry=[west, east],
        crs="EPSG:4545",
    ).to_file(ws / "townships.gpkg", layer="townships")
    toml = ws / "workspace.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + '\n[layers.townships]\npath = "townships.gpkg"\nlayer = "townships"\n',
        encoding="utf-8",
    )


def build_counties(root: Path) -> Path:
    """``root/<adcode>/``: three county plans; the second with no safe water anywhere, the
    third's plan without its clinic indicator (an unknown figure)."""
    from scripts.pipeline import run_pipeline

    root.mkdir(parents=True, exist_ok=True)
    for i, (adcode, name) in enumerate(zip(ADCODES, NAMES, strict=True)):
        ws = write_full_tiny_workspace(root / "ws" / adcode)
        _add_townships(ws)
        toml = ws / "workspace.toml"
        toml.write_text(
            toml.read_text(encoding="utf-8").replace('name = "测试县"', f'name = "{name}"'),
            encoding="utf-8",
        )
        if i == 1:
            v = gpd.read_file(ws / "villages.geojson")
            v["has_safe_water"] = "否"
            v.to_file(ws / "villages.geojson", driver="GeoJSON")
        run_pipeline(ws, root / adcode, progress=False)
    gpkg = root / ADCODES[2] / "plan.gpkg"
    v = gpd.read_file(gpkg, layer="villages")
    v.drop(columns=["clinic_status"]).to_file(gpkg, layer="villages", driver="GPKG")
    return root


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> Path:
    return build_counties(tmp_path_factory.mktemp("province") / "out")


@pytest.fixture(scope="module")
def rolled(plans: Path, tmp_path_factory) -> Path:
    """The same plans with the roll-ups of ``scripts/province.py`` beside them."""
    from scripts.province import County, CountyOutcome, Province, ProvinceRun, write_rollups

    out = tmp_path_factory.mktemp("rolled") / "out"
    out.mkdir()
    counties = []
    for adcode, name in zip(ADCODES, NAMES, strict=True):
        shutil.copytree(plans / adcode, out / adcode)
        counties.append(County(name=name, adcode=adcode, workspace=plans / "ws" / adcode))
    prov = Province(name="测试州", adcode=None, path=out, counties=tuple(counties))
    run = ProvinceRun(
        outcomes=[CountyOutcome(c, "ok") for c in counties], seconds=0.0, dashboard=None, workers={}
    )
    write_rollups(prov, out, run)
    return out


def _expected(plan: Path) -> dict[str, float]:
    """County figures recomputed here from the plan's own layers."""
    gpkg = plan / "plan.gpkg"
    v = gpd.read_file(gpkg, layer="villages")
    bc = v["blocker_class"].astype(object)
    not_hamlet = v["level"].astype(object) != "hamlet"
    out = {
        "villages": len(v),
        "villages_assessed": int(v["exit_applicable"].astype(bool).sum()),
        "ready": int((bc == "ready").sum()),
        "blocked": int(bc.isin(["blocked_one", "blocked_several"]).sum()),
        "unknown": int((bc == "unknown").sum()),
        "water_gap": int((v["water_status"] == "not_met").sum()),
        "water_gap_people": float(
            v.loc[(v["water_status"] == "not_met") & not_hamlet, "population"].sum()
        ),
    }
    if "clinic_status" in v.columns:
        out["clinic_gap"] = int((v["clinic_status"] == "not_met").sum())
    g = gpd.read_file(gpkg, layer="road_gaps")
    out["km_to_harden"] = float(g["known_unhardened_km"].sum()) if len(g) else 0.0
    c = gpd.read_file(gpkg, layer="relocation_candidates")
    out["people_to_relocate"] = (
        float(c.loc[c["eligible"].astype(bool), "people_to_move"].sum()) if len(c) else 0.0
    )
    return out


# ------------------------------------------------------------------------------ figures


def test_county_figures_are_the_sums_of_each_plans_villages(plans: Path) -> None:
    prov = load_province(plans)
    assert prov.source == "plans" and prov.adcodes == list(ADCODES)
    assert [prov.county_name(a) for a in ADCODES] == list(NAMES)
    for adcode in ADCODES:
        want = _expected(plans / adcode)
        row = prov.counties.set_index("adcode").loc[adcode]
        for key, value in want.items():
            assert float(row[key]) == pytest.approx(value, abs=1e-3), (adcode, key)
        # the townships add up to the county
        towns = prov.township_rows(adcode)
        for key in ("villages", "blocked", "water_gap", "km_to_harden", "people_to_relocate"):
            assert towns[key].astype(float).sum() == pytest.approx(float(row[key]), abs=1e-3)
        assert set(towns["township"]) <= {"龙潭镇", "白岩乡"}
    # the second county has no safe water anywhere: more people without it than the first
    c = prov.counties.set_index("adcode")
    assert (
        c.loc["439902", "water_gap"] == c.loc["439902", "villages"] > c.loc["439901", "water_gap"]
    )
    assert c.loc["439902", "water_gap_people"] > c.loc["439901", "water_gap_people"]


def test_unknown_stays_unknown_never_zero(plans: Path, page) -> None:
    prov = load_province(plans)
    c = prov.counties.set_index("adcode")
    assert pd.isna(c.loc["439903", "clinic_gap"]) and pd.isna(c.loc["439903", "clinic_gap_people"])
    assert not pd.isna(c.loc["439901", "clinic_gap"])
    feats = {f["properties"]["adcode"]: f["properties"] for f in prov.county_geojson()["features"]}
    assert feats["439903"]["clinic_gap"] is None
    assert feats["439903"]["colors"]["clinic_gap"] is None  # drawn as unknown, not a class
    assert feats["439901"]["colors"]["clinic_gap"] is not None
    leg = prov.legend("clinic_gap")
    assert leg["unknown"] == 1 and sum(b[3] for b in leg["bins"]) == 2
    # the page's legend and table say unknown
    rows = page.legend_rows(prov, "clinic_gap", "en", level="county", adcode=None)
    text = json.dumps(rows, cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert t("prov_unknown", "en") in text
    table = page.table_rows(prov.counties, "zh", first="county")
    assert next(r for r in table if r["adcode"] == "439903")["clinic_gap"] is None
    # a county-level sum over an all-blank township column stays blank
    towns, _, _ = rollup_county(plans / "439903")
    assert towns["clinic_gap"].isna().all() and towns["water_gap"].notna().all()


def test_classes_count_every_known_value_once() -> None:
    rows = pd.DataFrame({"blocked": [1, 5, 9, None, 14, 2, 7, 3]})
    colors, leg = classes(rows, "blocked")
    assert colors[3] is None and leg["unknown"] == 1
    assert sum(b[3] for b in leg["bins"]) == 7 and len(leg["bins"]) == 5
    assert all(c is not None for i, c in enumerate(colors) if i != 3)


def test_share_ready_with_nothing_to_assess_is_neither_unknown_nor_a_class() -> None:
    rows = pd.DataFrame(
        {"ready_frac": [0.5, None, None, 0.0], "villages_assessed": [4, 0, None, 3]}
    )
    colors, leg = classes(rows, "ready_frac")
    assert leg["none_assessed"] == 1 and leg["unknown"] == 1
    assert colors[2] is None and colors[1] not in (None, *[b[2] for b in leg["bins"]])
    assert sum(b[3] for b in leg["bins"]) == 2


def test_rollup_files_are_used_and_agree_with_the_plans(plans: Path, rolled: Path) -> None:
    a, b = load_province(plans), load_province(rolled)
    assert b.source == "rollup" and a.source == "plans"
    ca, cb = a.counties.set_index("adcode"), b.counties.set_index("adcode")
    for key in FIGURES:
        for adcode in ADCODES:
            x, y = ca.loc[adcode, key], cb.loc[adcode, key]
            assert pd.isna(x) == pd.isna(y), (adcode, key)
            if not pd.isna(x):
                assert float(x) == pytest.approx(float(y), abs=1e-3), (adcode, key)
    # both give the same county polygons and drill-down townships
    assert len(b.county_geojson()["features"]) == 3
    assert len(b.township_geojson("439901")["features"]) == 2


# ------------------------------------------------------------------------------ payloads


def test_county_polygons_are_simplified_and_rounded(plans: Path) -> None:
    prov = load_province(plans)
    shapes = prov.county_shapes()
    assert len(shapes) == 3 and shapes.crs.to_epsg() == 4326
    coords = np.concatenate([np.asarray(g.exterior.coords) for g in shapes.geometry])
    assert np.allclose(coords, np.round(coords, 5))
    assert COUNTY_SIMPLIFY_M >= 100  # a province-zoom tolerance, not a village one


@pytest.fixture(scope="module")
def app(plans: Path):
    return create_app(plans / ADCODES[0], config={"osm": False}, province=plans)


@pytest.fixture(scope="module")
def page(app):
    """The page module (Dash imports it as ``pages.province`` when the app is made)."""
    return sys.modules["pages.province"]


def _update(client, page, *, metric: str, click: dict | None = None, trigger: str) -> dict:
    outs = [
        (page.COUNTIES, "hideout"),
        (page.TOWNSHIPS, "data"),
        (page.TOWNSHIPS, "hideout"),
        (page.LEGEND, "children"),
        (page.PANEL, "children"),
        (page.SELECTED, "data"),
        (page.MAP, "viewport"),
    ]
    body = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outs],
        "inputs": [
            {"id": page.METRIC, "property": "value", "value": metric},
            {"id": page.COUNTIES, "property": "clickData", "value": click},
            {"id": page.GRID, "property": "selectedRows", "value": None},
        ],
        "state": [{"id": page.SELECTED, "property": "data", "value": None}],
        "changedPropIds": [trigger],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_json()["response"]


def _page_layout(client, path: str) -> dict:
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_json()["response"]["_pages_content"]["children"]


def _find(tree, cid: str):
    if isinstance(tree, dict):
        if (tree.get("props") or {}).get("id") == cid:
            return tree
        for v in tree.values():
            got = _find(v, cid)
            if got is not None:
                return got
    elif isinstance(tree, list):
        for v in tree:
            got = _find(v, cid)
            if got is not None:
                return got
    return None


def test_page_sends_only_county_polygons_then_one_countys_townships(app, page, plans: Path) -> None:
    client = app.server.test_client()
    tree = _page_layout(client, "/province")
    text = json.dumps(tree, ensure_ascii=False)
    counties = _find(tree, page.COUNTIES)["props"]["data"]["features"]
    assert len(counties) == 3
    assert {f["geometry"]["type"] for f in counties} <= {"Polygon", "MultiPolygon"}
    assert _find(tree, page.TOWNSHIPS)["props"]["data"]["features"] == []
    assert "village_id" not in text and '"vid"' not in text  # no village reaches the browser
    for name in NAMES:
        assert name in text
    assert t("prov_unknown") in text  # the legend's unknown row
    # a county clicked: its two townships, nothing else, and the link to its village map
    resp = _update(
        client,
        page,
        metric="blocked",
        click={"properties": {"adcode": "439902"}},
        trigger=f"{page.COUNTIES}.clickData",
    )
    towns = resp[page.TOWNSHIPS]["data"]["features"]
    assert len(towns) == 2 and {f["properties"]["adcode"] for f in towns} == {"439902"}
    assert {f["properties"]["township"] for f in towns} == {"龙潭镇", "白岩乡"}
    assert resp[page.SELECTED]["data"] == "439902"
    assert resp[page.COUNTIES]["hideout"]["selected"] == "439902"
    assert "/province/open/439902" in json.dumps(resp[page.PANEL]["children"])
    assert "bounds" in resp[page.MAP]["viewport"]
    # a metric chosen: restyled in place, the townships not sent again
    resp = _update(client, page, metric="water_gap", trigger=f"{page.METRIC}.value")
    assert page.TOWNSHIPS not in resp or "data" not in resp.get(page.TOWNSHIPS, {})
    assert resp[page.COUNTIES]["hideout"]["metric"] == "water_gap"


def test_navbar_links_the_province_only_when_one_is_served(app, plans: Path) -> None:
    with app.server.test_request_context("/"):
        shell = json.dumps(app.layout(), cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert '"nav-province"' in shell and NAMES[0] in shell
    single = create_app(plans / ADCODES[0], config={"osm": False})
    with single.server.test_request_context("/"):
        shell = json.dumps(single.layout(), cls=PlotlyJSONEncoder, ensure_ascii=False)
        assert state.province_dir() is None
        layout = dash.page_registry["pages.province"]["layout"]()
    assert '"nav-province"' not in shell
    assert t("prov_none") in json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_open_button_switches_in_place(app, page, plans: Path) -> None:
    client = app.server.test_client()
    body = {
        "output": "..url.pathname...nav-county.children..",
        "outputs": [
            {"id": "url", "property": "pathname"},
            {"id": "nav-county", "property": "children"},
        ],
        "inputs": [{"id": page.OPEN, "property": "n_clicks", "value": 1}],
        "state": [{"id": page.SELECTED, "property": "data", "value": "439903"}],
        "changedPropIds": [f"{page.OPEN}.n_clicks"],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    resp = r.get_json()["response"]
    assert resp["url"]["pathname"] == "/" and resp["nav-county"]["children"] == NAMES[2]
    assert client.get_cookie(state.COUNTY_COOKIE).value == "439903"
    # a county that is not in the province changes nothing
    body["state"][0]["value"] = "../439901"
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 204 or "url" not in (r.get_json() or {}).get("response", {})
    assert client.get_cookie(state.COUNTY_COOKIE).value == "439903"


def test_open_county_switches_the_served_plan(app, plans: Path) -> None:
    client = app.server.test_client()
    with app.server.test_request_context("/"):
        assert state.plan_dir() == plans / ADCODES[0]  # no choice yet: the first county
    r = client.get("/province/open/439902")
    assert r.status_code == 302 and r.headers["Location"].endswith("/")
    cookie = client.get_cookie(state.COUNTY_COOKIE)
    assert cookie is not None and cookie.value == "439902"
    with app.server.test_request_context("/", headers={"Cookie": "anju_county=439902"}):
        assert state.plan_dir() == plans / "439902"
        assert state.get_plan().manifest["workspace"]["name"] == NAMES[1]
    # the coverage page now lays out the second county
    tree = _page_layout(client, "/")
    assert tree is not None
    # an adcode not in the province (or a path) is refused; a forged cookie falls back
    assert client.get("/province/open/999999").status_code == 404
    client.get("/province/open/..%2F..%2Fetc")  # no such route: the choice is unchanged
    assert client.get_cookie(state.COUNTY_COOKIE).value == "439902"
    with app.server.test_request_context("/", headers={"Cookie": "anju_county=../../etc"}):
        assert state.plan_dir() == plans / ADCODES[0]


def test_serve_province_bad_input_is_one_line_and_exit_2(plans: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scripts.cli import main

    res = CliRunner().invoke(main, ["serve", str(plans / ADCODES[0]), "--province", str(plans)])
    assert res.exit_code == 2 and "expected it alone" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["serve", "--province", str(empty)])
    assert res.exit_code == 2
    assert "expected county plans" in res.output and "anju province run" in res.output


def test_a_failed_county_is_unknown_on_the_map_and_in_the_totals(plans: Path, tmp_path: Path):
    from scripts.province import County, CountyOutcome, Province, ProvinceRun, write_rollups

    out = tmp_path / "out"
    out.mkdir()
    counties = [
        County(name=name, adcode=adcode, workspace=plans / "ws" / adcode)
        for adcode, name in zip(ADCODES, NAMES, strict=True)
    ]
    for c in counties[:2]:
        shutil.copytree(plans / c.adcode, out / c.adcode)
    outcomes = [CountyOutcome(c, "ok") for c in counties[:2]]
    outcomes.append(CountyOutcome(counties[2], "failed", messages=["bad input"]))
    prov_in = Province(name="测试州", adcode=None, path=out, counties=tuple(counties))
    write_rollups(prov_in, out, ProvinceRun(outcomes, 0.0, None, {}))
    prov = load_province(out)
    assert prov.source == "rollup" and prov.adcodes == list(ADCODES)
    row = prov.counties.set_index("adcode").loc["439903"]
    assert row["status"] == "failed"
    assert all(pd.isna(row[k]) for k in ("villages", "blocked", "km_to_harden", "ready_frac"))
    assert prov.plan_dir("439903") is None and prov.default_county() == "439901"
    assert prov.legend("blocked")["unknown"] == 1
    # its figures are unknown in the table, and the totals say how many counties they omit
    with create_app(out / ADCODES[0], province=out).server.test_request_context("/"):
        mod = sys.modules["pages.province"]
        page_rows = mod.table_rows(prov.counties, "en", first="county")
        table = json.dumps(mod._headline(prov, "en"), cls=PlotlyJSONEncoder, ensure_ascii=False)
    failed = next(r for r in page_rows if r["adcode"] == "439903")
    assert failed["blocked"] is None and failed["status_label"] == t("prov_status_failed", "en")
    assert t("prov_failed", "en", n=1) in table
    assert "2 counties" in table
