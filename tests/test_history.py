"""Plan history and diff: every `anju run` is a version; what changed between two, and why.

The end-to-end cases run the real pipeline on the tiny workspace three times (module
fixture): version 1 as delivered, version 2 after the transport bureau surveyed two
village roads (R2: unknown surface → asphalt, R3: gravel → asphalt, in roads.gpkg only),
version 3 a byte-identical re-run. The answers are worked out by hand:

- 白岩村 (431200000002) meets every national indicator but the road in version 1 (its way
  in, R2, is a village road of unknown surface: road unknown, evidence missing); in version
  2 its road is met (measured) and it becomes ready;
- 高坡村 (431200000003) is reached through R2 and R3: 0.67 km of known gravel (R3) in
  version 1, 0 km in version 2: 0.67 km hardened; its road goes not met → met, and it stays
  blocked by its incidence (90 poor of 150 people);
- 龙潭村 (431200000001) on the county road R1 is ready in both and does not appear.

The diff's logic (exits with their year, newly blocked and by what, settings as the cause,
villages added and removed) is checked on hand-made snapshots, without the pipeline.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from layers.errors import LayerNotFoundError, LayerSchemaError
from layers.history import (
    VILLAGE_COLUMNS,
    GpkgHistory,
    InputFile,
    Snapshot,
    Version,
    VersionNotFoundError,
    VillageStates,
    diff_snapshots,
    format_diff,
    history_path,
    snapshot_plan,
)
from scripts.cli import main
from tests.conftest import write_tiny_workspace

BAIYAN, GAOPO, LONGTAN = "431200000002", "431200000003", "431200000001"


def _workspace(root: Path) -> Path:
    """The tiny workspace with every village attribute the national profile reads filled
    in, and 白岩村's incidence (10 of 800) and water met: only its road is left."""
    ws = write_tiny_workspace(root)
    v = gpd.read_file(ws / "villages.geojson")
    for c in (
        "has_electricity",
        "clinic_standard",
        "clinic_doctor",
        "has_culture_venue",
        "has_broadband",
        "has_tv",
        "bus_service",
    ):
        v[c] = "是"
    v["medical_insurance_frac"] = 1.0
    v.loc[v["村名"] == "白岩村", ["贫困人口", "has_safe_water"]] = [10, "是"]
    v.to_file(ws / "villages.geojson", driver="GeoJSON")
    return ws


def _survey_roads(ws: Path) -> None:
    roads = gpd.read_file(ws / "roads.gpkg", layer="roads")
    roads.loc[roads["road_id"] == "R2", "surface"] = "沥青"
    roads.loc[roads["road_id"] == "R3", "surface"] = "asphalt"
    roads.to_file(ws / "roads.gpkg", layer="roads")


def _anju(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    ws = _workspace(root / "ws")
    out = []
    for i in (1, 2, 3):
        if i == 2:
            _survey_roads(ws)
        res = _anju("run", ws, "--out", root / f"plan{i}", "--quiet")
        assert res.exit_code == 0, res.output
        out.append(res.output)
    return SimpleNamespace(root=root, ws=ws, outputs=out)


# --------------------------------------------------------------------------- recording


def test_each_run_is_a_version_in_history_gpkg_beside_workspace_toml(runs):
    store = runs.ws / "history.gpkg"
    assert history_path(runs.ws) == store and (runs.ws / "workspace.toml").is_file()
    assert store.is_file()
    for i, output in enumerate(runs.outputs, start=1):
        assert f"recorded as version {i} in {store}" in output
    assert "same inputs and settings as version 2" in runs.outputs[2]
    assert "same inputs" not in runs.outputs[1]
    assert not list(runs.root.glob("plan*/history.gpkg"))  # the plan holds no history
    # a GeoPackage GDAL opens: attribute tables, application id "GPKG"
    layers = {name for name, _ in pyogrio.list_layers(store)}
    assert {"versions", "version_inputs", "village_states", "indicator_states"} <= layers
    assert len(pyogrio.read_dataframe(store, layer="versions")) == 3
    con = sqlite3.connect(store)
    try:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
    finally:
        con.close()
    assert set(kinds.values()) == {"attributes"}


def test_the_store_interface_reads_back_what_the_plan_said(runs):
    h = GpkgHistory(runs.ws / "history.gpkg")
    vs = h.versions()
    assert [v.id for v in vs] == [1, 2, 3]
    assert [v.same_as for v in vs] == [None, None, 2]
    assert vs[1].inputs_sha256 == vs[2].inputs_sha256 != vs[0].inputs_sha256
    assert vs[0].settings_sha256 == vs[1].settings_sha256
    assert vs[0].profile == "national" and vs[0].headline["ready"] == 1
    assert vs[1].headline == {
        "ready": 2,
        "blocked": 1,
        "unknown": 0,
        "km_to_harden": 0.0,
        "km_unknown_surface": 0.0,
        "people_to_relocate": 0,
    }
    assert vs[0].headline["km_to_harden"] == pytest.approx(0.67, abs=0.01)
    roads = [i for i in vs[0].inputs if i.kind == "roads"]
    assert roads and roads[0].path == "roads.gpkg"  # relative to the workspace
    st1, st2 = h.village_states(1), h.village_states(2)
    assert st1.villages.loc[BAIYAN, "blocker_class"] == "unknown"
    assert st2.villages.loc[BAIYAN, "blocker_class"] == "ready"
    assert st2.villages.loc[BAIYAN, "exit_ready"] is True
    assert st1.villages.loc[GAOPO, "road_gap_km"] == pytest.approx(0.6708, abs=1e-3)
    ind = st1.indicators.set_index(["village_id", "indicator"])
    assert tuple(ind.loc[(BAIYAN, "road"), ["status", "quality"]]) == ("unknown", "missing")
    ev = st1.evidence.set_index(["village_id", "field"])
    assert ev.loc[(BAIYAN, "poor_population"), "value"] == "10"
    assert ev.loc[(BAIYAN, "has_safe_water"), "value"] == "true"
    assert ev.loc[(GAOPO, "road_access"), ["source", "value"]].tolist() == ["measured", "gap"]
    # the stored states are those of the plan, read again
    plan = snapshot_plan(runs.root / "plan2").states.villages
    assert plan.loc[BAIYAN, "blocker_class"] == "ready"
    # recording the same plan again returns its version, no new one
    assert h.record(runs.root / "plan3").id == 3 and len(h.versions()) == 3
    with pytest.raises(VersionNotFoundError, match=r"found 9; it holds versions 1–3"):
        h.version(9)
    with pytest.raises(VersionNotFoundError, match="holds versions 1–3"):
        h.village_states(9)
    assert h.resolve("latest") == 3 and h.resolve("previous") == 2 and h.resolve("v2") == 2


# --------------------------------------------------------------------------- anju history


def test_history_lists_versions_one_line_each_newest_last(runs):
    res = _anju("history", runs.ws)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["1", "2", "3"]
    assert all("national" in ln and "inputs " in ln for ln in lines)
    assert "ready 1, blocked 1, 0.7 km to harden, 0 people to relocate" in lines[0]
    assert "ready 2, blocked 1, 0.0 km to harden, 0 people to relocate" in lines[1]
    assert lines[2].endswith("same inputs and settings as version 2")
    short = [ln.split("inputs ")[1].split()[0] for ln in lines]
    assert short[1] == short[2] != short[0] and len(short[0]) == 8
    data = json.loads(_anju("history", runs.ws, "--json").output)
    assert [v["id"] for v in data] == [1, 2, 3] and data[2]["same_as"] == 2


def test_history_of_a_workspace_never_run_exits_2(tmp_path):
    ws = write_tiny_workspace(tmp_path / "ws")
    res = _anju("history", ws)
    assert res.exit_code == 2
    assert res.output.strip() == (
        f"ERROR: {ws}: no plan history (expected {ws / 'history.gpkg'}, found nothing); "
        f"`anju run {ws} --out OUT` records the first version"
    )
    res = _anju("history", tmp_path / "nowhere")
    assert res.exit_code == 2 and "expected a workspace folder with workspace.toml" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_a_broken_store_is_one_clear_line(tmp_path):
    ws = write_tiny_workspace(tmp_path / "ws")
    (ws / "history.gpkg").write_bytes(b"not a database at all" * 100)
    res = _anju("history", ws)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "expected an anju history GeoPackage" in res.output and "history.gpkg" in res.output
    # a GeoPackage, but not anju's history
    shutil.copy(ws / "roads.gpkg", ws / "history.gpkg")
    res = _anju("history", ws)
    assert res.exit_code == 2 and "no table(s) history_meta, versions" in res.output
    with pytest.raises(LayerSchemaError, match="expected an anju history GeoPackage"):
        GpkgHistory(ws / "history.gpkg")
    with pytest.raises(LayerNotFoundError, match="found nothing"):
        GpkgHistory(tmp_path / "none.gpkg")


# --------------------------------------------------------------------------- anju diff


def test_diff_names_the_village_its_status_change_and_the_input_that_changed(runs):
    res = _anju("diff", "1", "2", "--workspace", runs.ws)
    assert res.exit_code == 0, res.output
    text = res.output
    assert "inputs: " in text and "roads.gpkg (roads) changed: sha256" in text
    assert "villages.geojson" not in text  # only the roads file changed
    assert "settings: the same" in text
    assert "headline: ready 1 → 2 (+1)" in text and "km to harden 0.7 → 0.0 (-0.7)" in text
    assert "became ready (1): 431200000002 白岩村" in text
    assert "known road gap fell (hardened) (1): 431200000003 高坡村" in text
    lines = text.splitlines()
    (baiyan,) = [i for i, ln in enumerate(lines) if ln.startswith("  431200000002 白岩村")]
    assert "unknown → ready" in lines[baiyan]
    assert "road unknown (missing) → met (measured)" in lines[baiyan]
    why = lines[baiyan + 1]
    assert why.startswith("    why: ")
    assert "measured road_access unknown → hardened [from roads]" in why
    assert "file roads.gpkg (roads) changed" in why
    (gaopo,) = [i for i, ln in enumerate(lines) if ln.startswith("  431200000003 高坡村")]
    assert "known road gap 0.67 → 0.00 km: 0.67 km hardened" in lines[gaopo]
    assert "road not_met (measured) → met (measured)" in lines[gaopo]
    assert LONGTAN not in text  # ready before and after: unchanged

    d = json.loads(_anju("diff", "1", "2", "--workspace", runs.ws, "--json").output)
    assert d["groups"]["became_ready"] == [BAIYAN]
    assert d["groups"]["unknown_to_known"] == [BAIYAN]
    assert d["groups"]["road_hardened"] == [GAOPO]
    assert d["groups"]["newly_blocked"] == [] and d["groups"]["no_longer_ready"] == []
    assert [f["path"] for f in d["inputs_changed"]] == ["roads.gpkg"]
    assert d["settings_changed"] == [] and not d["same_inputs"] and d["same_settings"]
    assert d["headline"]["ready"] == {"a": 1, "b": 2, "delta": 1.0}
    v = {x["village_id"]: x for x in d["villages"]}
    assert set(v) == {BAIYAN, GAOPO}
    road = [c for c in v[BAIYAN]["changes"] if c.get("indicator") == "road"][0]
    assert road["status"] == {"a": "unknown", "b": "met"}
    assert road["quality"] == {"a": "missing", "b": "measured"}
    causes = {(c["source"], c.get("field") or c.get("path")) for c in v[BAIYAN]["why"]}
    assert ("measured", "road_access") in causes and ("input file", "roads.gpkg") in causes
    assert not any(c["source"] == "village input" for c in v[BAIYAN]["why"])


def test_diff_of_an_identical_rerun_says_so(runs):
    res = _anju("diff", "2", "3", "--workspace", runs.ws)
    assert res.exit_code == 0, res.output
    assert "inputs: the same (checksum" in res.output and "settings: the same" in res.output
    assert "no village changed" in res.output
    d = json.loads(_anju("diff", "previous", "latest", "--workspace", runs.ws, "--json").output)
    assert d["a"]["id"] == 2 and d["b"]["id"] == 3
    assert d["same_inputs"] and d["same_settings"] and d["villages"] == []


def test_diff_of_plan_directories_needs_no_history(runs):
    res = _anju("diff", runs.root / "plan1", runs.root / "plan2", "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["a"]["id"] is None and d["a"]["plan_dir"] == str((runs.root / "plan1").resolve())
    assert d["groups"]["became_ready"] == [BAIYAN] and d["groups"]["road_hardened"] == [GAOPO]
    # a version and a plan directory: the plan of version 2 is the same plan
    d = json.loads(_anju("diff", "2", runs.root / "plan2", "--workspace", runs.ws, "--json").output)
    assert d["villages"] == [] and d["same_inputs"]


def test_diff_with_an_unknown_id_or_a_non_plan_exits_2(runs, tmp_path, monkeypatch):
    res = _anju("diff", "1", "9", "--workspace", runs.ws)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.output.strip().splitlines() == [
        f"ERROR: {runs.ws / 'history.gpkg'}: expected a version id (a number, latest or "
        "previous), found '9', which is not recorded; it holds versions 1–3 (see `anju history`)"
    ]
    res = _anju("diff", "1", "2", "--workspace", tmp_path)  # no workspace.toml there
    assert res.exit_code == 2 and "expected a workspace folder with workspace.toml" in res.output
    res = _anju("diff", runs.root / "plan1", runs.ws)  # a workspace is not a plan
    assert res.exit_code == 2
    assert "found a workspace without plan.gpkg" in res.output and "--workspace" in res.output
    monkeypatch.chdir(tmp_path)  # no workspace.toml in the current folder either
    res = _anju("diff", "1", "2")
    assert res.exit_code == 2 and "add --workspace WS" in res.output
    assert len(res.output.strip().splitlines()) == 1


# --------------------------------------------------------------------------- run and batch


def _fake_pipeline(monkeypatch, plan: Path) -> None:
    """`anju run` without the pipeline: the plan of the fixture, copied into OUT."""
    import scripts.pipeline

    def fake(workspace, out, **_kw):
        shutil.copytree(plan, out, dirs_exist_ok=True)
        return json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))

    monkeypatch.setattr(scripts.pipeline, "run_pipeline", fake)


def test_run_with_a_broken_store_keeps_the_plan_and_exits_2(runs, tmp_path, monkeypatch):
    _fake_pipeline(monkeypatch, runs.root / "plan1")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "history.gpkg").write_bytes(b"garbage")
    res = _anju("run", ws, "--out", tmp_path / "out", "--quiet")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"plan written to {tmp_path / 'out'}" in res.output
    (err,) = [ln for ln in res.output.splitlines() if ln.startswith("ERROR")]
    assert "not recorded as a version" in err and "--no-history" in err
    assert (tmp_path / "out" / "plan.gpkg").is_file()
    # --no-history: no store is read or written
    res = _anju("run", ws, "--out", tmp_path / "out", "--quiet", "--no-history")
    assert res.exit_code == 0 and "recorded" not in res.output
    ws2 = tmp_path / "ws2"
    ws2.mkdir()
    res = _anju("run", ws2, "--out", tmp_path / "out2", "--quiet", "--no-history")
    assert res.exit_code == 0 and not (ws2 / "history.gpkg").exists()


def test_batch_records_a_version_per_workspace(tmp_path):
    root = tmp_path / "counties"
    write_tiny_workspace(root / "a")
    # its own process, as tests/test_pipeline.py runs batch: the pool forks the caller
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "batch", str(root), "--out", str(tmp_path / "plans")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert f"recorded as version 1 in {root / 'a' / 'history.gpkg'}" in proc.stdout
    (v,) = GpkgHistory(root / "a" / "history.gpkg").versions()
    assert v.plan_dir == str((tmp_path / "plans" / "a").resolve())


# --------------------------------------------------------------------------- the diff's rules


def _snap(
    vid: int,
    villages: dict[str, dict],
    indicators: list[tuple] = (),
    evidence: list[tuple] = (),
    *,
    inputs: tuple[InputFile, ...] = (),
    settings: dict | None = None,
) -> Snapshot:
    version = Version(
        id=vid,
        created=f"2020-0{vid}-01T00:00:00+00:00",
        profile="national",
        province_group="west",
        workspace="w",
        workspace_path="/w",
        plan_dir=f"/w/plan{vid}",
        anju_version="0.1.0",
        plan_format=3,
        inputs_sha256="".join(i.sha256 or "-" for i in inputs).ljust(8, "0"),
        settings_sha256=json.dumps(settings or {}, sort_keys=True),
        workspace_toml_sha256=None,
        inputs=inputs,
        settings=settings or {},
    )
    v = pd.DataFrame.from_dict(villages, orient="index").reindex(columns=list(VILLAGE_COLUMNS))
    v = v.astype(object).where(v.notna(), None)
    ind = pd.DataFrame(
        list(indicators),
        columns=["village_id", "indicator", "status", "quality", "value", "threshold"],
    )
    ev = pd.DataFrame(list(evidence), columns=["village_id", "field", "source", "value"])
    return Snapshot(version, VillageStates(v, ind, ev))


_ROADS_A, _ROADS_B = (
    InputFile("roads", "roads.gpkg", "aaaa"),
    InputFile("roads", "roads.gpkg", "bbbb"),
)
_VILL_A = InputFile("villages", "villages.geojson", "1111")
_VILL_B = InputFile("villages", "villages.geojson", "2222")


def test_an_exit_from_the_register_is_named_with_its_year_and_why():
    a = _snap(
        1,
        {"V1": {"name": "甲村", "blocker_class": "blocked_one", "unmet": "incidence"}},
        evidence=[("V1", "poverty_village", "input", "true")],
        inputs=(_VILL_A,),
    )
    b = _snap(
        2,
        {
            "V1": {
                "name": "甲村",
                "blocker_class": "not_registered",
                "exited": True,
                "exit_year": 2019,
            }
        },
        evidence=[
            ("V1", "poverty_village", "input", "false"),
            ("V1", "exit_year", "input", "2019"),
        ],
        inputs=(_VILL_B,),
    )
    d = diff_snapshots(a, b)
    assert d["groups"]["exited"] == ["V1"]
    (v,) = d["villages"]
    assert {"what": "exited", "exit_year": 2019} in v["changes"]
    why = {(c["source"], c.get("field")): c for c in v["why"]}
    assert why[("village input", "poverty_village")]["b"] == "false"
    assert why[("village input", "exit_year")]["b"] == "2019"
    assert ("input file", None) in why  # villages.geojson changed
    text = "\n".join(format_diff(d))
    assert "exited the poverty register (1): V1 甲村" in text
    assert "exited the poverty register in 2019" in text
    assert "input poverty_village true → false" in text


def test_newly_blocked_says_by_what_and_only_the_evidence_behind_it():
    state = {"name": "乙村", "blocker_class": "unknown", "unmet": None}
    profile = {"indicators": {"water": {"id": "water", "evidence": "has_safe_water"}}}
    a = _snap(
        1,
        {"V2": state},
        indicators=[("V2", "water", "met", "attribute", 1.0, None)],
        evidence=[
            ("V2", "has_safe_water", "input", "true"),
            ("V2", "travel_min_school", "measured", "5"),
        ],
        inputs=(_VILL_A, _ROADS_A),
        settings=profile,
    )
    b = _snap(
        2,
        {"V2": {**state, "blocker_class": "blocked_one", "unmet": "water"}},
        indicators=[("V2", "water", "not_met", "attribute", 0.0, None)],
        evidence=[
            ("V2", "has_safe_water", "input", "false"),
            ("V2", "travel_min_school", "measured", "6"),
        ],
        inputs=(_VILL_B, _ROADS_B),
        settings=profile,
    )
    d = diff_snapshots(a, b)
    assert d["groups"]["newly_blocked"] == ["V2"]
    assert d["groups"]["indicator_status_changed"] == ["V2"]
    (v,) = d["villages"]
    relevant = [c for c in v["why"] if c["relevant"]]
    assert [(c["source"], c.get("field") or c.get("path")) for c in relevant] == [
        ("village input", "has_safe_water"),
        ("input file", "villages.geojson"),  # the file it came from, not roads.gpkg
    ]
    text = format_diff(d)
    assert "newly blocked (1): V2 乙村 by water" in text
    (why,) = [ln for ln in text if ln.startswith("    why:")]
    assert why == (
        "    why: input has_safe_water true → false; file villages.geojson (villages) changed: "
        "sha256 1111 → 2222; also differ: travel_min_school"
    )


def test_a_settings_change_is_the_why_when_no_input_moved():
    rows = {"name": "丙村", "blocker_class": "blocked_one", "eligible": False, "people_to_move": 0}
    a = _snap(1, {"V3": rows}, settings={"settings": {"relocation": {"min_score": 30.0}}})
    b = _snap(
        2,
        {"V3": {**rows, "eligible": True, "people_to_move": 150.0}},
        settings={"settings": {"relocation": {"min_score": 20.0}}},
    )
    d = diff_snapshots(a, b)
    assert d["same_inputs"] and not d["same_settings"]
    assert d["settings_changed"] == [{"key": "relocation.min_score", "a": 30.0, "b": 20.0}]
    assert d["groups"]["relocation_changed"] == ["V3"]
    (v,) = d["villages"]
    assert [c["source"] for c in v["why"]] == ["settings"]
    text = "\n".join(format_diff(d))
    assert "people to move 0 → 150" in text and "relocation eligible false → true" in text
    assert "why: settings relocation.min_score 30 → 20" in text


def test_villages_added_removed_and_evidence_lost():
    a = _snap(
        1,
        {"V4": {"name": "丁村", "blocker_class": "ready", "road_gap_km": 0.0}},
        indicators=[("V4", "road", "met", "measured", 0.0, 0.0)],
    )
    b = _snap(
        2,
        {
            "V4": {"name": "丁村", "blocker_class": "unknown", "road_gap_km": None},
            "V5": {"name": "戊村", "blocker_class": "unknown"},
        },
        indicators=[("V4", "road", "unknown", "missing", None, 0.0)],
    )
    d = diff_snapshots(a, b)
    assert d["groups"]["added"] == ["V5"] and d["groups"]["removed"] == []
    assert d["groups"]["no_longer_ready"] == ["V4"]
    assert d["groups"]["known_to_unknown"] == ["V4"]
    assert d["groups"]["road_gap_unknown"] == ["V4"]
    (why,) = [c["why"] for c in d["villages"] if c["village_id"] == "V4"]
    assert why[-1]["source"] == "unexplained"  # nothing recorded differs: said, not guessed
    d = diff_snapshots(b, a)
    assert d["groups"]["removed"] == ["V5"] and d["groups"]["became_ready"] == ["V4"]
