"""The committed demo, planned: every known trap of data/demo/README.md is reported the way
the README says, and the figures hold up (issue: figures a leader can trust)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from scripts.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "plan"
    manifest = run_pipeline(ROOT / "data" / "demo", out, progress=False)
    v = gpd.read_file(out / "plan.gpkg", layer="villages")
    gaps = gpd.read_file(out / "plan.gpkg", layer="road_gaps")
    return v, gaps, manifest, out


def test_no_settlement_beyond_the_connection_distance_is_road_met(demo):
    v, _, manifest, _ = demo
    limit = manifest["settings"]["road"]["connection_max_m"]
    far = v["road_snap_m"] > limit
    assert far.sum() >= 6  # the roadless hamlets of the README
    assert (v.loc[far, "road_status"] != "met").all()
    for name in ("中溪寨", "田坪寨", "柏界寨", "小坡寨", "桃岭寨"):
        row = v[v["name"] == name].iloc[0]
        assert row["road_status"] == "not_met" and row["connection_km"] > 0.3, name


def test_no_village_without_a_standard_clinic_and_doctor_is_clinic_met(demo):
    v, _, _, _ = demo
    own = v["clinic_standard"].eq(True) & v["clinic_doctor"].eq(True)
    host = v["hosts_health_centre"].eq(True)
    met = v["clinic_status"] == "met"
    assert not (met & ~own & ~host).any()
    # and a village with a standard clinic but no doctor is not met, whatever its travel time
    nodoc = v["clinic_standard"].eq(True) & v["clinic_doctor"].eq(False) & ~host
    assert nodoc.any() and (v.loc[nodoc, "clinic_status"] == "not_met").all()


def test_km_to_harden_known_and_unknown_add_up(demo):
    _, gaps, manifest, out = demo
    s = manifest["summary"]
    assert s["km_to_harden"] == pytest.approx(gaps["known_unhardened_km"].sum(), abs=0.01)
    assert s["km_unknown_surface"] == pytest.approx(gaps["unknown_surface_km"].sum(), abs=0.01)
    assert (
        s["km_unknown_surface"] > 30
    )  # the README's 55 km of sections with no surface, partly on paths
    t = pd.read_csv(out / "tables" / "transport_townships.csv", encoding="utf-8-sig")
    county = t[t["township"] == t["township"].iloc[-1]]
    assert county["km_unknown_surface"].iloc[0] == pytest.approx(s["km_unknown_surface"], abs=0.05)


def test_the_register_traps_are_unknown_with_both_figures(demo):
    v, _, manifest, _ = demo
    for name in ("龙田村", "李园村"):
        row = v[v["name"] == name].iloc[0]
        assert row["incidence_status"] == "unknown", name
        assert row["incidence_source"] == "conflict"
        assert "village figure" in row["incidence_note_en"]
    assert manifest["summary"]["incidence_conflicts"] == 2
    assert any("register" in w for w in manifest["warnings"])


def test_readiness_is_for_poverty_villages_and_inferred_roads_show(demo):
    v, _, manifest, out = demo
    s = manifest["summary"]
    assessed = v["exit_applicable"].astype(bool)
    assert s["villages_assessed"] == int(assessed.sum()) == 83
    assert (v.loc[v["level"] == "hamlet", "blocker_class"] == "hamlet").all()
    assert s["ready"] == int((v["blocker_class"] == "ready").sum()) > 0
    assert (v["road_quality"] == "inferred").sum() >= 10
    ind = json.loads((out / "indicators.json").read_text(encoding="utf-8"))
    assert any(i["verified"] is False for i in ind["indicators"])
    # a ready village rests on no inferred or missing evidence
    ready = v[v["blocker_class"] == "ready"]
    q = ready[[c for c in v.columns if c.endswith("_quality")]]
    assert not q.isin(["inferred", "missing"]).any().any()


def test_unknown_safety_sources_are_not_safe_water(demo):
    v, _, _, _ = demo
    assert v["nearest_unknown_safety_water_id"].notna().any()
    both = v["nearest_water_id"].notna() & v["nearest_unknown_safety_water_id"].notna()
    assert (v.loc[both, "nearest_water_id"] != v.loc[both, "nearest_unknown_safety_water_id"]).all()


def test_no_village_flagged_only_by_floods_reads_geological_hazard(demo):
    _, _, _, out = demo
    c = gpd.read_file(out / "plan.gpkg", layer="relocation_candidates")
    v = gpd.read_file(out / "plan.gpkg", layer="villages")
    c = c.merge(v[["village_id", "flood_hazard_frac", "flood_hazard_dist_m"]], on="village_id")
    flood_only = c["reason_codes"].fillna("").str.contains("FLOOD") & ~c["reason_codes"].fillna(
        ""
    ).str.contains("HAZARD")
    assert flood_only.any()
    assert not c.loc[flood_only, "reasons_zh"].str.contains("地质灾害").any()
    assert not c.loc[flood_only, "reasons_en"].str.contains("geological").any()
    # and a flood alone (not decisive) does not move a village
    assert not c.loc[flood_only & (c["reason_codes"] == "FLOOD"), "eligible"].astype(bool).any()


def test_every_opened_site_holds_in_some_robustness_draw(demo):
    """Robustness is how often the plan's own allocation still opens a site when the AHP
    weights are perturbed: a draw that loses no opened site keeps the plan's answer, so an
    opened site is never at 0 unless every draw loses one (not the case on the demo)."""
    _, _, _, out = demo
    s = gpd.read_file(out / "plan.gpkg", layer="sites")
    opened = s[s["opened"].astype(bool)]
    assert len(opened) and (opened["robustness_frac"] > 0).all(), opened[
        ["site_id", "robustness_frac"]
    ]
    assert s["robustness_frac"].between(0, 1).all()


def test_robustness_from_a_wrong_warm_start_guess_is_unchanged(demo, monkeypatch):
    """The draws are re-solved from HiGHS's warm start while HiGHS proves the optimum; when
    that start is not the optimum's open sites, the draws are re-solved from the optimum:
    the robustness figures are those of a run that never guessed."""
    import threading

    import numpy as np

    from dashboard.scenario import read_plan_inputs
    from geo import resettlement, siting
    from geo.scenario_cache import PrepCache

    inputs = read_plan_inputs(demo[3])
    s = inputs.settings
    travel = inputs.travel_cache(s.sites.cost_grid_factor)
    factors = resettlement.factor_rasters(inputs.rasters, inputs.layers, inputs.grid)
    prep = PrepCache().get(factors, s.sites, inputs.layers, inputs.grid, inputs.outside)

    def chain():
        return resettlement.plan_resettlement(
            inputs.villages,
            inputs.layers,
            inputs.grid,
            inputs.rasters,
            None,
            inputs.outside,
            rules=s.relocation,
            sites=s.sites,
            prep=prep,
            cost_matrix=travel.cost_matrix,
            robustness=True,
        )

    real = siting.allocate
    guesses = []

    def no_guess(*a, **k):
        k.pop("on_start", None)
        return real(*a, **k)

    monkeypatch.setattr(siting, "allocate", no_guess)
    ref = chain()
    opened = ref.allocation.open_sites
    assert opened and ref.sites["robustness_frac"].notna().all()
    # every site open: a start no optimum has here, and one that every draw losing a site
    # re-solves from
    wrong = [str(x) for x in ref.sites["site_id"]]
    assert set(wrong) != set(opened)
    heuristic = siting.allocate_heuristic
    used = threading.Event()

    def spy(*a, **k):
        if k.get("start_open") == wrong:
            used.set()
        return heuristic(*a, **k)

    def bad_guess(*a, on_start=None, **k):
        on_start(wrong)
        guesses.append(wrong)
        # HiGHS answers only once the draws were re-solved from the wrong start
        assert used.wait(60), "no draw was re-solved from the warm start"
        return real(*a, **k)

    monkeypatch.setattr(siting, "allocate_heuristic", spy)
    monkeypatch.setattr(siting, "allocate", bad_guess)
    got = chain()
    assert guesses == [wrong] and got.allocation.open_sites == opened
    np.testing.assert_array_equal(
        got.sites["robustness_frac"].to_numpy(), ref.sites["robustness_frac"].to_numpy()
    )


def test_compile_ahead_knows_the_signatures_a_run_calls(demo):
    """geo.precompile compiles the relocation chain's kernels ahead on a cold start: its
    signatures must be the ones a run calls, or the run would compile them again."""
    import importlib

    from numba.core import sigutils

    from geo.precompile import KERNELS

    for module, name, sig in KERNELS:
        disp = getattr(importlib.import_module(module), name)
        args, _ = sigutils.normalize_signature(sig)
        assert tuple(args) in [tuple(s) for s in disp.signatures], (name, disp.signatures)
