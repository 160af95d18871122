"""Scenario panel: overrides for the pipeline, AHP matrix, what a scenario changed, progress."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from dashboard.scenario import (
    AHP_FACTORS,
    PARAMS,
    ExactJobs,
    QuickWorker,
    ScenarioRunError,
    ahp_matrix,
    answer_line,
    answer_of,
    build_overrides,
    changed_controls,
    changed_params,
    defaults,
    progress_adapter,
    run_quick_view,
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


# --------------------------------------------------------------------------- quick answers


def _line_worker(code: str) -> list[str]:
    """A stand-in quick worker: one JSON job per line, ``code`` run for each (``job``)."""
    loop = "import json, sys, time\nfor line in sys.stdin:\n    job = json.loads(line)\n"
    body = "".join(f"    {ln}\n" for ln in code.splitlines())
    return [sys.executable, "-c", loop + body]


def test_quick_worker_answers_job_by_job_and_skips_stray_lines(tmp_path):
    w = QuickWorker(
        _line_worker(
            "print('a stray line from a library', flush=True)\n"
            "print('@anju:R 999 {}', flush=True)  # an answer nobody waits for\n"
            "print('@anju:R ' + job['id'] + ' ' + json.dumps({'got': job['op']}), flush=True)"
        )
    )
    try:
        assert w.request({"op": "warm"}) == {"got": "warm"}
        pid = w._proc.pid
        assert w.request({"op": "run"}) == {"got": "run"}
        assert w._proc.pid == pid  # the same long-lived process
    finally:
        w.close()


def test_quick_worker_failures_say_why():
    w = QuickWorker(
        _line_worker("print('@anju:E ' + job['id'] + ' ' + json.dumps('no plan here'), flush=True)")
    )
    try:
        with pytest.raises(ScenarioRunError, match="no plan here"):
            w.request({"op": "run"})
    finally:
        w.close()
    dies = QuickWorker(_line_worker("raise SystemExit('worker broke')"))
    with pytest.raises(ScenarioRunError, match="stopped without a result: worker broke"):
        dies.request({"op": "run"})
    slow = QuickWorker(_line_worker("time.sleep(30)"), timeout_s=0.5)
    with pytest.raises(ScenarioRunError, match=r"longer than 0.5 s and was stopped"):
        slow.request({"op": "run"})
    assert slow._proc is None  # stopped; the next job starts a fresh worker


def test_quick_worker_on_a_missing_plan_says_so(tmp_path):
    w = QuickWorker()
    try:
        with pytest.raises(ScenarioRunError, match="manifest|not found|plan"):
            run_quick_view(tmp_path / "nope", overrides={}, settings={}, worker=w)
        with pytest.raises(ValueError, match="unknown override section"):
            run_quick_view(tmp_path, overrides={"bogus": {}}, settings={}, worker=w)
    finally:
        w.close()


def test_exact_jobs_finish_fail_and_cancel(tmp_path):
    ok = ExactJobs(
        _worker(
            "print('@anju:R ' + json.dumps({'answer': {'kind': 'exact', 'status': 'optimal', 'gap': 0.0}}))"
        ),
        folder=tmp_path,
    )
    job = ok.start("p", overrides={}, settings={}, session="s1")
    ok.wait(job.key, 60)
    assert job.state == "done" and job.view["answer"]["status"] == "optimal"
    assert ok.get(job.key) is job and ok.get("unknown") is None
    bad = ExactJobs(_worker("1 / 0"), folder=tmp_path)
    job = bad.start("p", overrides={}, settings={})
    bad.wait(job.key, 60)
    assert job.state == "failed" and "ZeroDivision" in job.error
    slow = ExactJobs(_worker("import time; time.sleep(60)"), folder=tmp_path)
    first = slow.start("p", overrides={}, settings={}, session="s1")
    time.sleep(0.5)
    # the same browser's next scenario stops the previous exact solve
    second = slow.start("p", overrides={}, settings={}, session="s1")
    slow.wait(first.key, 10)
    assert first.state == "cancelled" and not first.thread.is_alive()
    assert second.state == "running"
    slow.cancel(second.key)
    slow.wait(second.key, 10)
    assert second.state == "cancelled"
    third = slow.start("p", overrides={}, settings={}, session="s3")
    slow.cancel_all()  # at the server's exit
    slow.wait(third.key, 10)
    assert third.state == "cancelled" and not third.thread.is_alive()


def test_exact_jobs_are_refused_beyond_the_servers_slots(tmp_path):
    from dashboard import security

    slow = ExactJobs(_worker("import time; time.sleep(60)"), folder=tmp_path, slot_wait_s=0.3)
    (tmp_path / "exact").mkdir()
    with security.job_slot(
        None, per_server=security.MAX_JOBS_PER_SERVER, folder=tmp_path / "exact"
    ):
        with security.job_slot(None, folder=tmp_path / "exact"):
            job = slow.start("p", overrides={}, settings={}, session="s2")
            slow.wait(job.key, 10)
    assert job.state == "refused" and "running 2 scenarios" in job.error


def test_answer_line_says_which_answer_is_shown():
    heur = {"answer": {"kind": "heuristic", "status": "heuristic", "gap": 0.0123}}
    assert answer_line(heur, "en") == (
        "Shown: the fast heuristic answer (not proven optimal), within 1.23% of a lower bound."
    )
    assert "与下界相差不超过 1.23%" in answer_line(heur, "zh")
    nob = {"answer": {"kind": "heuristic", "status": "heuristic", "gap": None}}
    assert "gap to a lower bound is unknown" in answer_line(nob, "en")
    run = {**heur, "exact_job": {"state": "running"}}
    assert answer_line(run, "en").endswith("its result will replace this one.")
    failed = {**heur, "exact_job": {"state": "failed", "error": "HiGHS crashed"}}
    assert "exact solve failed: HiGHS crashed. The heuristic answer is still shown" in answer_line(
        failed, "en"
    )
    cancelled = {**heur, "exact_job": {"state": "cancelled"}}
    assert "cancelled" in answer_line(cancelled, "en")
    stopped = {"answer": {"kind": "exact", "status": "time_limit", "gap": 0.05}}
    assert answer_line(stopped, "en") == (
        "Shown: the exact solve's result, but the solver stopped early (time_limit): "
        "not proven optimal, gap 5.00%."
    )
    assert answer_line({"answer": {"kind": "exact", "status": "optimal", "gap": 0.0}}, "zh") == (
        "显示的是精确结果：HiGHS 已证明其最优（间隙 0）。"
    )
    assert answer_line(None) == "" and answer_line({"figures": {}}) == ""
    assert (
        answer_of({"allocation_gap": float("nan"), "allocation_status": "heuristic"}, "heuristic")[
            "gap"
        ]
        is None
    )
