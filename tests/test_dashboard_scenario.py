"""Scenario panel: overrides for the pipeline, AHP matrix, what a scenario changed, progress."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dashboard.scenario import (
    AHP_FACTORS,
    PARAMS,
    ScenarioRunError,
    ahp_matrix,
    build_overrides,
    changed_controls,
    changed_params,
    defaults,
    progress_adapter,
    run_scenario_view,
    run_settings,
    scenario_settings,
    stage_label,
)
from layers.errors import AnjuError


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


def test_progress_adapter_forms():
    seen = []
    cb = progress_adapter(seen.append)
    cb("suitability", 0.5)
    cb(3, 4)
    cb(0.2)
    cb("done", 1.7)
    assert seen == [(50, 100), (75, 100), (20, 100), (100, 100)]


def test_progress_adapter_says_the_step_in_words():
    seen = []
    cb = progress_adapter(seen.append, lang="zh")
    cb("allocation (HiGHS)", 0.55)
    cb("robustness 3/30", 0.8)
    cb(0.2)
    assert seen == [
        (55, 100, "正在计算：分配搬迁人口（求解）（55%）"),
        (80, 100, "正在计算：稳健性检验（80%）"),
        (20, 100, "正在计算：…（20%）"),
    ]
    assert stage_label("village → site travel times", "en") == "travel times from villages to sites"
    assert stage_label("something new") == "something new"


def test_only_the_moved_controls_become_overrides():
    base = {
        "min_score": 30.0,
        "hazard_buffer_m": 200.0,
        "ahp_slope_deg": 3.0,
        "ahp_road_dist_m": 9.0,
    }
    names = ["min_score", "hazard_buffer_m", "ahp_slope_deg", "ahp_road_dist_m"]
    # nothing moved: nothing sent (the plan's own AHP matrix is not replaced by its rounding)
    assert changed_controls(base, names, [30, 200, 3, 9]) == ([], [])
    assert build_overrides(*changed_controls(base, names, [30, 200, 3, 9])) == {}
    assert changed_controls(base, names, [100, 200, 3, 9]) == (["min_score"], [100])
    # one weight moved: every weight is sent (the matrix is built from all of them)
    n, v = changed_controls(base, names, [30, 200, 5, 9])
    assert n == ["ahp_slope_deg", "ahp_road_dist_m"] and v == [5, 9]


def test_changed_params_in_words():
    base = {"min_score": 30.0, "steep_frac": 0.3, "open_sites": 0.0}
    names = ["min_score", "steep_frac", "open_sites"]
    assert changed_params(base, names, [100, 0.3, 0], "zh") == ["搬迁评分门槛 30 分 → 100 分"]
    assert changed_params(base, names, [30, 0.5, 4], "en") == [
        "Steep-land share threshold 30% → 50%",
        "Number of sites (0 = solver decides) auto → 4 sites",
    ]
    assert changed_params(base, names, [30, 0.3, 0]) == []


def test_run_settings_and_scenario_settings():
    quick = {"suitability": {"robustness_draws": 3, "time_limit_s": 10.0, "new_knob": 1}}
    recorded = {"suitability": {"robustness_draws": 30, "time_limit_s": 60.0}}
    assert run_settings(quick, recorded, "zh") == [
        "稳健性抽样次数 30 → 3",
        "求解时限（秒） 60 → 10",
        "suitability.new_knob — → 1",
    ]
    assert run_settings({}, recorded) == [] and run_settings(None, None) == []
    # the solver choice is said in words; a plan without the setting was solved exactly
    fast = {"suitability": {"solver": "heuristic"}}
    assert run_settings(fast, recorded, "zh") == ["求解方法 精确 → 快速"]
    assert run_settings(fast, {"suitability": {"solver": "heuristic"}}, "en") == []
    assert run_settings({"suitability": {"solver": "exact"}}, recorded, "en") == []
    merged = scenario_settings(
        {"min_score": 30.0, "hazard_decisive": True}, {"relocation": {"min_score": 100.0}}
    )
    assert merged == {"min_score": 100.0, "hazard_decisive": True}
    assert scenario_settings(None, None) == {}


def _worker(code: str) -> list[str]:
    """A stand-in worker: reads the job on stdin, then runs ``code``."""
    return [sys.executable, "-c", "import json, sys; job = json.loads(sys.stdin.read())\n" + code]


def test_run_scenario_view_relays_progress_and_returns_the_view():
    seen = []
    view = run_scenario_view(
        "/some/plan",
        overrides={"relocation": {"min_score": 100.0}},
        settings={"min_score": 100.0},
        lang="en",
        progress=lambda stage, frac: seen.append((stage, frac)),
        command=_worker(
            "print('@anju:P 0.1000 suitability', flush=True)\n"
            "print('@anju:P 0.5500 allocation (HiGHS)', flush=True)\n"
            "print('R a stray line from a library')\n"
            "print('@anju:R ' + json.dumps({'job': job}))\n"
        ),
    )
    assert seen == [("suitability", 0.1), ("allocation (HiGHS)", 0.55)]
    # the worker got the whole job
    assert view["job"] == {
        "plan_dir": "/some/plan",
        "overrides": {"relocation": {"min_score": 100.0}},
        "settings": {"min_score": 100.0},
        "lang": "en",
        "web": {},
    }


def test_run_scenario_view_failures_say_why():
    with pytest.raises(ScenarioRunError, match="unknown override 'bogus'"):
        run_scenario_view(
            "p",
            overrides={},
            settings={},
            command=_worker(
                "print('@anju:E ' + json.dumps(\"unknown override 'bogus'\")); sys.exit(2)"
            ),
        )
    with pytest.raises(ScenarioRunError, match=r"exit code 1\) without a result: ZeroDivision"):
        run_scenario_view("p", overrides={}, settings={}, command=_worker("1 / 0"))
    with pytest.raises(ScenarioRunError, match=r"exit code 0\) without a result$"):
        run_scenario_view("p", overrides={}, settings={}, command=_worker("pass"))
    assert issubclass(ScenarioRunError, AnjuError) and issubclass(ScenarioRunError, RuntimeError)
