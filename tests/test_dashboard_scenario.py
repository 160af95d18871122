"""Scenario panel: overrides for the pipeline, AHP matrix, comparison metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.scenario import (
    AHP_FACTORS,
    PARAMS,
    ahp_matrix,
    build_overrides,
    defaults,
    progress_adapter,
    scenario_metrics,
)


def test_defaults_read_nested_plan_parameters_and_clip():
    d = defaults({"relocation": {"min_score": 45}, "suitability": {"capacity_factor": 9.0}})
    assert d["min_score"] == 45.0
    assert d["capacity_factor"] == 2.0  # clipped to the slider's range
    assert d["open_sites"] == 0.0
    assert set(d) == {p.name for p in PARAMS}


def test_build_overrides_groups_and_converts():
    names = ["min_score", "capacity_factor", "open_sites", "ahp_slope_deg", "ahp_road_dist_m"]
    o = build_overrides(names, [40, 1.2, 0, 2, 6])
    assert o["relocation"] == {"min_score": 40.0}
    assert o["suitability"]["capacity_factor"] == 1.2
    assert o["suitability"]["open_sites"] == 0  # the solver decides
    m = np.array(o["suitability"]["ahp"])
    i, j = AHP_FACTORS.index("road_dist_m"), AHP_FACTORS.index("slope_deg")
    assert m[i, j] == pytest.approx(3.0) and m[j, i] == pytest.approx(1 / 3, abs=1e-6)
    assert build_overrides(["open_sites"], [7])["suitability"]["open_sites"] == 7


def test_ahp_matrix_is_consistent():
    m = np.array(ahp_matrix({f: k + 1 for k, f in enumerate(AHP_FACTORS)}))
    assert np.allclose(np.diag(m), 1)
    assert np.allclose(m * m.T, 1, atol=1e-5)
    # perfectly consistent: principal eigenvalue equals n (consistency ratio 0)
    lam = np.max(np.real(np.linalg.eigvals(m)))
    assert lam == pytest.approx(len(AHP_FACTORS), rel=1e-4)


def test_build_overrides_errors():
    with pytest.raises(ValueError, match="unknown name 'bogus'"):
        build_overrides(["bogus"], [1])
    with pytest.raises(ValueError, match=r"capacity_factor: expected 0.5..2.0, found 5.0"):
        build_overrides(["capacity_factor"], [5])


def test_scenario_metrics_hand_computed():
    sites = pd.DataFrame(
        {
            "site_id": ["a", "b", "c"],
            "assigned_people": [300, 100, 0],
            "robustness_frac": [0.8, 0.4, 0.0],
        }
    )
    alloc = pd.DataFrame({"people": [300, 100], "travel_min": [10.0, 30.0]})
    m = scenario_metrics({}, sites, alloc)
    assert m["people_moved"] == 400
    assert m["sites_opened"] == 2
    assert m["mean_travel_min"] == pytest.approx((300 * 10 + 100 * 30) / 400)
    assert m["robustness"] == pytest.approx(0.6)
    m2 = scenario_metrics(
        {"people_to_relocate": 999, "sites_opened": 5, "mean_travel_min": 12.0}, sites, alloc
    )
    assert (m2["people_moved"], m2["sites_opened"], m2["mean_travel_min"]) == (999, 5, 12.0)
    empty = scenario_metrics(None, None, None)
    assert np.isnan(empty["mean_travel_min"]) and np.isnan(empty["people_moved"])


def test_progress_adapter_forms():
    seen = []
    cb = progress_adapter(seen.append)
    cb("suitability", 0.5)
    cb(3, 4)
    cb(0.2)
    cb("done", 1.7)
    assert seen == [(50, 100), (75, 100), (20, 100), (100, 100)]


def test_scenario_metrics_carry_the_solver_verdict_and_unplaced_people():
    m = scenario_metrics(
        {"allocation_status": "time_limit", "allocation_gap": 0.0123, "people_unplaced": 70},
        None,
        None,
    )
    assert m["allocation_status"] == "time_limit"
    assert m["allocation_gap"] == pytest.approx(0.0123) and m["people_unplaced"] == 70
    assert np.isnan(scenario_metrics({}, None, None)["allocation_gap"])  # unknown stays unknown
