"""The relocation chain on workspaces with one input missing: no silent zeros, no false
"unreachable", no crash; every change named by a warning (issue: relocation that holds up)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from scripts.pipeline import run_pipeline
from tests.conftest import X0, Y0, write_full_tiny_workspace

pytestmark = pytest.mark.slow


def _planner_site(ws: Path) -> None:
    gpd.GeoDataFrame(
        {"site_id": ["P1"], "name": ["城关安置区"], "capacity_people": [500], "locked": [False]},
        geometry=[box(X0 + 150, Y0 - 450, X0 + 350, Y0 - 350)],
        crs="EPSG:4545",
    ).to_file(ws / "sites.gpkg", layer="sites")
    with open(ws / "workspace.toml", "a", encoding="utf-8") as f:
        f.write('\n[layers.sites]\npath = "sites.gpkg"\nlayer = "sites"\n')


def _drop_rows(ws: Path, layer: str, col: str, value: str) -> None:
    f = ws / "facilities.gpkg" if layer != "towns" else ws / "towns.gpkg"
    gdf = gpd.read_file(f, layer=layer)
    gdf[gdf[col] != value].to_file(f, layer=layer, driver="GPKG")


def _drop_layer(ws: Path, kind: str) -> None:
    toml = ws / "workspace.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(re.sub(rf"\[layers\.{kind}\][^\[]*", "", text), encoding="utf-8")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    ws = write_full_tiny_workspace(tmp_path_factory.mktemp("chain") / "ws")
    _planner_site(ws)
    return ws, run_pipeline(ws, ws.parent / "plan", progress=False)


def _run(tmp_path: Path, base_ws: Path, change) -> dict:
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(base_ws, ws)
    change(ws)
    return run_pipeline(ws, tmp_path / "plan", progress=False)


def test_without_township_health_centres_nothing_becomes_unreachable(base, tmp_path):
    ws, full = base
    m = _run(tmp_path, ws, lambda w: _drop_rows(w, "clinics", "level", "township_health_centre"))
    s, s0 = m["summary"], full["summary"]
    # the planner site is still there and nothing crashed; no new candidate, no false reason
    assert s["relocation_candidates"] <= s0["relocation_candidates"]
    assert s["people_to_relocate"] <= s0["people_to_relocate"]
    assert any("no health centre in the workspace" in w for w in m["warnings"])
    cands = gpd.read_file(tmp_path / "plan" / "plan.gpkg", layer="relocation_candidates")
    assert not cands["reasons_zh"].fillna("").str.contains("无法通达").any()
    assert cands["unknown_rules"].fillna("").str.contains("REMOTE").any()


def test_without_an_industrial_park_the_overlay_is_not_blanked(base, tmp_path):
    ws, full = base
    m = _run(tmp_path, ws, lambda w: _drop_rows(w, "towns", "kind", "industrial_park"))
    assert m["summary"]["sites_candidate"] >= 1
    assert any("suitability factor travel_min_industrial_park left out" in w for w in m["warnings"])
    assert "travel_min_industrial_park" not in m["parameters"]["ahp_weights"]
    assert sum(m["parameters"]["ahp_weights"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["hazards", "protected", "water", "schools", "households"])
def test_removing_an_optional_layer_never_adds_a_candidate_silently(base, tmp_path, kind):
    ws, full = base
    m = _run(tmp_path, ws, lambda w: _drop_layer(w, kind))
    assert m["summary"]["relocation_candidates"] <= full["summary"]["relocation_candidates"]
    new = set(m["warnings"]) - set(full["warnings"])
    assert new, f"removing {kind} changed nothing the user is told about"
    if m["summary"]["sites_opened"] == 0 and m["summary"]["people_to_relocate"] > 0:
        assert any("no resettlement site" in w or "not placed" in w for w in m["warnings"])


def test_zero_sites_says_why(base, tmp_path):
    ws, _ = base

    def strict(w: Path) -> None:
        _drop_layer(w, "sites")
        (w / "strict.toml").write_text(
            '[profile]\nname = "strict"\nextends = "national"\n[suitability]\nsite_threshold = 1.0\n',
            encoding="utf-8",
        )
        toml = w / "workspace.toml"
        toml.write_text(
            toml.read_text(encoding="utf-8").replace(
                'policy = "national"', 'policy = "strict.toml"'
            ),
            encoding="utf-8",
        )

    m = _run(tmp_path, ws, strict)
    s = m["summary"]
    assert s["people_to_relocate"] > 0
    assert s["sites_opened"] == 0
    assert s["allocation_status"] != "optimal"
    assert any("no resettlement site" in w for w in m["warnings"])
