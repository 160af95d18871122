"""The demo tells a story: the same county year by year (data/demo/years/<year>).

The generator runs once at a small scale into a temporary folder (module fixture). Its
invariants: a village exits only in a year whose data meet every exit indicator (checked
with the loader, the road network and the indicators ``anju run`` uses); planned years are
the same in every year, an exit once made stays, counts over the years add up, registers and
village figures agree, roads once hardened stay hardened, sites never go back a stage; the
same seed gives the same years. One year is run through the pipeline and writes the
timetable, at-risk, monitoring and site-progress tables. The committed demo is checked for
its year folders without rebuilding it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from geo import indicators, network
from layers.plan import check_layer, open_plan
from layers.workspace import load_workspace
from scripts.make_demo import (
    DEMO_YEARS,
    HOUSEHOLD_RENAME,
    MAIN_YEAR,
    VILLAGE_RENAME,
    YEAR_FILES,
    generate,
)

SCALE = 0.25
SEED = int(os.environ.get("ANJU_DEMO_TEST_SEED", "7"))
DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"
_STAGES = ("选址", "在建", "竣工", "入住")


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("years_a"), seed=SEED, scale=SCALE)


def _year(root: Path, year: int) -> Path:
    return root / "years" / str(year)


def _villages(root: Path, year: int) -> pd.DataFrame:
    folder = root if year == MAIN_YEAR else _year(root, year)
    v = pyogrio.read_dataframe(folder / "villages.shp", encoding="GB18030", read_geometry=False)
    return v.rename(columns=VILLAGE_RENAME).set_index("village_id")


def _households(root: Path, year: int) -> pd.DataFrame:
    folder = root if year == MAIN_YEAR else _year(root, year)
    hh = pd.read_csv(folder / "households.csv", dtype={"village_id": str, "household_id": str})
    return hh.rename(columns=HOUSEHOLD_RENAME)


def _traps(root: Path) -> set[str]:
    text = (root / "generated.txt").read_text(encoding="utf-8")
    out = set()
    for line in text.splitlines():
        if line.startswith(("planted:", "incomplete_register:")):
            out.add(line.split("'village_id': '")[1].split("'")[0])
    return out


def _evaluate(folder: Path) -> tuple[pd.DataFrame, int]:
    """Exit readiness of a year's workspace, as ``anju run`` evaluates it."""
    lw = load_workspace(folder)
    lw.raise_for_errors()
    s, layers = lw.settings, lw.layers
    assert s is not None
    p = s.parameters
    _, gap = network.village_road_access(
        layers["roads"],
        layers["villages"],
        towns=layers.get("towns"),
        snap_tolerance_m=p.road_snap_tolerance_m,
        max_snap_m=s.road.max_snap_m,
        hardened_snap_m=s.road.snap_tolerance_m,
        connection_max_m=s.road.connection_max_m,
    )
    cols = ["road_snap_m", "road_access", "unhardened_km", "unknown_surface_km"]
    cols += ["connection_km", "inferred_km", "road_evidence", "gap_edge_ids"]
    v = layers["villages"].join(gap[cols])
    v["hosts_health_centre"] = indicators.health_centre_hosts(
        v, layers.get("clinics"), radius_m=p.village_catchment_radius_m
    )
    ev = indicators.evaluate(
        v,
        s.profile,
        households=layers.get("households"),
        province_group=s.province_group,
        evidence=s.evidence,
    )
    return ev, p.current_year


def test_year_folders_hold_only_what_changes(ws):
    assert {p.name for p in (ws / "years").iterdir()} == {str(y) for y in DEMO_YEARS}
    for year in DEMO_YEARS:
        folder = _year(ws, year)
        names = {p.name for p in folder.iterdir()}
        if year == MAIN_YEAR:
            assert names == {"workspace.toml"}  # the main workspace is this year
        else:
            assert names <= set(YEAR_FILES) and "villages.shp" in names
        doc = tomllib.loads((folder / "workspace.toml").read_text(encoding="utf-8"))
        assert doc["parameters"]["current_year"] == year
        assert doc["layers"]["dem"]["path"] == "../../dem.tif"  # the main DEM, shared
        for kind, spec in doc["layers"].items():
            assert (folder / spec["path"]).resolve().is_file(), (year, kind)
    main = tomllib.loads((ws / "workspace.toml").read_text(encoding="utf-8"))
    assert main["parameters"]["current_year"] == MAIN_YEAR


def test_a_village_exits_only_in_a_year_its_indicators_are_met(ws):
    for year in DEMO_YEARS:
        ev, current = _evaluate(ws if year == MAIN_YEAR else _year(ws, year))
        assert current == year
        ev = ev.set_index("village_id")
        out = ev[ev["exit_year"] == year]
        assert (out["blocker_class"] == "ready").all(), (year, out["blocker_class"].to_dict())
        exited = ev[ev["exit_year"].notna()]
        assert (exited["exit_year"] <= year).all()  # never an exit in the future
        assert (exited["exit_year"] >= exited["planned_exit_year"]).all()  # not before its plan
        assert exited["poverty_village"].astype(bool).all()


def test_counts_add_up_over_the_years(ws):
    frames = {y: _villages(ws, y) for y in DEMO_YEARS}
    last = frames[DEMO_YEARS[-1]]
    poverty = last[(last["level"] == "admin") & (last["poverty_village"] == 1)]
    for y, v in frames.items():
        # the timetable is fixed: every poverty village planned, the same year in every file
        pd.testing.assert_series_equal(
            v.loc[poverty.index, "planned_exit_year"], poverty["planned_exit_year"]
        )
        assert v.loc[poverty.index, "planned_exit_year"].notna().all()
        assert v.loc[v["level"] == "hamlet", "planned_exit_year"].isna().all()
        # an exit once made stays with its year
        ex = v["exit_year"].dropna()
        assert (last.loc[ex.index, "exit_year"] == ex).all(), y
    exits = [int(frames[y]["exit_year"].eq(y).sum()) for y in DEMO_YEARS]
    cumulative = [int(frames[y]["exit_year"].notna().sum()) for y in DEMO_YEARS]
    assert cumulative == list(pd.Series(exits).cumsum())
    assert cumulative[-1] > cumulative[0]  # villages exit on the timetable
    # the register traps are unknown whatever the year: due, never exited (never counted ready)
    traps = _traps(ws)
    assert len(traps) == 2 and last.loc[list(traps), "exit_year"].isna().all()


def test_registers_and_village_figures_agree_every_year(ws):
    traps = _traps(ws)
    returned_after_main = 0
    for y in DEMO_YEARS:
        hh = _households(ws, y)
        v = _villages(ws, y)
        reg = hh[hh["registered_poor"].astype(bool)]
        left = reg[reg["register_status"] != "已脱贫"]
        people = left.groupby("village_id")["members"].sum()
        for vid in set(reg["village_id"]) - traps:
            assert people.get(vid, 0) == v.at[vid, "poor_population"], (y, vid)
        done = reg["register_status"].isin(["已脱贫", "返贫"])
        assert reg.loc[done, "exit_year"].le(y).all()
        assert reg.loc[reg["register_status"] == "未脱贫", "exit_year"].isna().all()
        if y > MAIN_YEAR:
            returned_after_main += int((reg["register_status"] == "返贫").sum())
        assert reg["planned_exit_year"].notna().all()
    assert returned_after_main > 0  # a few households return to poverty


def test_roads_are_hardened_year_by_year_and_sites_move_on(ws):
    surfaces = {}
    stages = {}
    for y in DEMO_YEARS:
        folder = ws if y == MAIN_YEAR else _year(ws, y)
        roads = gpd.read_file(folder / "roads.gpkg", layer="roads").set_index("road_id")
        surfaces[y] = roads["surface"]
        sites = (
            gpd.read_file(folder / "sites.gpkg", layer="sites")
            if y == MAIN_YEAR
            else gpd.read_file(folder / "sites.geojson")
        )
        stages[y] = dict(zip(sites["site_id"], sites["建设阶段"], strict=True))
    hard = {"asphalt", "concrete"}
    km = []
    for a, b in zip(DEMO_YEARS, DEMO_YEARS[1:], strict=False):
        sa, sb = surfaces[a], surfaces[b]
        assert set(sa.index) <= set(sb.index)  # roads are built, never removed
        was = sa[sa.isin(hard)].index
        assert sb.loc[was].isin(hard).all(), (a, b)  # once hardened, hardened
        for sid, st in stages[a].items():
            assert _STAGES.index(stages[b][sid]) >= _STAGES.index(st), (sid, a, b)
        km.append(int(sb.isin(hard).sum()) - int(sa.isin(hard).sum()))
    assert sum(km) > 0
    assert stages[DEMO_YEARS[-1]] and set(stages[DEMO_YEARS[-1]].values()) == {"入住"}


def test_the_same_seed_gives_the_same_years(ws, tmp_path):
    again = generate(tmp_path / "again", seed=SEED, scale=SCALE)
    for y in DEMO_YEARS:
        a, b = _year(ws, y), _year(again, y)
        assert (a / "workspace.toml").read_text() == (b / "workspace.toml").read_text()
        if y == MAIN_YEAR:
            continue
        assert (a / "households.csv").read_bytes() == (b / "households.csv").read_bytes()
        pd.testing.assert_frame_equal(_villages(ws, y), _villages(again, y))
        ra = gpd.read_file(a / "roads.gpkg", layer="roads")
        rb = gpd.read_file(b / "roads.gpkg", layer="roads")
        pd.testing.assert_frame_equal(
            pd.DataFrame(ra.drop(columns="geometry")), pd.DataFrame(rb.drop(columns="geometry"))
        )
        assert ra.geometry.geom_equals_exact(rb.geometry, tolerance=0).all()
        assert (a / "sites.geojson").read_bytes() == (b / "sites.geojson").read_bytes()


@pytest.mark.slow
def test_a_year_through_the_pipeline_writes_the_timetable_and_site_tables(ws, tmp_path):
    from scripts.pipeline import run_pipeline

    year = 2018
    out = tmp_path / "plan"
    m = run_pipeline(_year(ws, year), out, progress=False, xlsx=True)
    for name in ("timetable", "at_risk", "monitoring", "site_progress"):
        assert (out / "tables" / f"{name}.csv").is_file(), name
        assert (out / "tables" / f"{name}.xlsx").is_file(), name
        assert f"tables/{name}.csv" in m["outputs"]
    s = m["summary"]
    v = _villages(ws, year)
    exited = int(v["exit_year"].notna().sum())
    assert s["timetable_assessed"] is True and s["timetable_current_year"] == year
    assert s["timetable_exited"] == exited
    t = pd.read_csv(out / "tables" / "timetable.csv", encoding="utf-8-sig").set_index("year")
    assert list(t.index) == list(DEMO_YEARS)
    assert t.at[year, "exited_by_year_end"] == exited
    assert t.at[year, "at_risk"] == s["timetable_at_risk"]
    assert t.loc[year + 1 :, "at_risk"].isna().all()  # not yet due: blank, never 0
    assert s["households_returned"] > 0
    mon = pd.read_csv(out / "tables" / "monitoring.csv", encoding="utf-8-sig")
    assert not {"head_name", "id_number", "phone", "income_per_capita_cny"} & set(mon.columns)
    xl = pd.ExcelFile(out / "tables" / "timetable.xlsx")
    assert xl.sheet_names == ["中文", "en"]
    assert "计划退出村数" in pd.read_excel(xl, "中文").columns
    stored = open_plan(out)
    sites = stored.read_layer("sites")
    villages = stored.read_layer("villages")
    assert check_layer("sites", sites) == [] and check_layer("villages", villages) == []
    planner = sites[sites["source"] == "planner"].set_index("site_id")
    assert planner.loc["A01", "stage"] == "occupied" and planner.loc["A02", "stage"] == "built"
    assert planner.loc["A01", "occupancy_people_frac"] == pytest.approx(1490 / 1750, abs=1e-3)
    progress = pd.read_csv(out / "tables" / "site_progress.csv", encoding="utf-8-sig")
    assert set(planner.index) <= set(progress["site_id"])
    assert not any("not assessed" in w or "not followed" in w for w in m["warnings"])
    assert set(villages["timetable_status"].dropna()) <= {
        "exited",
        "ready",
        "unconfirmed",
        "unknown",
        "at_risk",
        "in_progress",
        "not_planned",
        "not_assessed",
    }


def test_committed_demo_years():
    """The committed demo carries its years (not rebuilt here: too slow at scale 1)."""
    assert {p.name for p in (DEMO / "years").iterdir()} >= {str(y) for y in DEMO_YEARS}
    for year in DEMO_YEARS:
        doc = tomllib.loads((_year(DEMO, year) / "workspace.toml").read_text(encoding="utf-8"))
        assert doc["parameters"]["current_year"] == year
        for kind, spec in doc["layers"].items():
            assert (_year(DEMO, year) / spec["path"]).resolve().is_file(), (year, kind)
    main = _villages(DEMO, MAIN_YEAR)
    last = _villages(DEMO, DEMO_YEARS[-1])
    poverty = main[(main["level"] == "admin") & (main["poverty_village"] == 1)]
    assert len(poverty) == 83 and poverty["planned_exit_year"].notna().all()
    ex = main["exit_year"].dropna()
    assert (last.loc[ex.index, "exit_year"] == ex).all()
    assert last["exit_year"].notna().sum() > 0.8 * len(poverty)
    text = (DEMO / "generated.txt").read_text(encoding="utf-8")
    assert "main_year: 2017" in text and "years:" in text
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    assert "years/" in readme and "计划退出" in readme
