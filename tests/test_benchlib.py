"""The benchmark rules of scripts/benchlib.py: alternation, equal runs, statistics, CPU
time, cold vs warm, output checks, failures reported and the table. Correctness, not
timings: the thresholds below are far from what a loaded machine could blur."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from scripts import benchlib
from scripts.benchlib import Tool, check_outputs, make_row, measure, schedule


def _burn(seconds: float) -> int:
    t0, n = time.process_time(), 0
    while time.process_time() - t0 < seconds:
        n += 1
    return n


def test_schedule_alternates_and_gives_every_tool_the_same_rounds():
    order = [n for _, n in schedule(["a", "b", "c"], 4)]
    assert order == ["a", "b", "c", "c", "b", "a", "a", "b", "c", "c", "b", "a"]
    assert {n: order.count(n) for n in "abc"} == {"a": 4, "b": 4, "c": 4}


def test_measure_alternates_cold_then_warm_and_counts_runs():
    log: list[str] = []
    tools = [
        Tool("a", lambda: log.append("a"), prepare_cold=lambda: log.append("cold a")),
        Tool("b", lambda: log.append("b"), prepare_warm=lambda: log.append("warm b")),
    ]
    res = measure(tools, runs=3, cold_runs=2)
    assert log == [
        "cold a", "a", "b",  # cold round 1
        "b", "cold a", "a",  # cold round 2, reversed
        "a", "warm b", "b",  # warm rounds continue the alternation
        "warm b", "b", "a",
        "a", "warm b", "b",
    ]  # fmt: skip
    for s in res.values():
        assert len(s.cold_wall) == len(s.cold_cpu) == 2
        assert len(s.wall) == len(s.cpu) == 3


def test_wall_and_cpu_time_tell_sleep_from_work():
    # CPU time is the whole process's (a multi-threaded tool is charged all of it), so a
    # thread left running by another test (a dashboard's warm-up thread importing modules)
    # can charge one sample of either tool: compare the least-disturbed samples
    tools = [Tool("sleeper", lambda: time.sleep(0.3)), Tool("burner", lambda: _burn(0.3))]
    res = measure(tools, runs=3)
    sl, bu = res["sleeper"], res["burner"]
    assert min(sl.wall) >= 0.3 and min(bu.cpu) >= 0.28  # (the burner counts process CPU)
    assert min(sl.cpu) < min(bu.cpu) - 0.1
    st = benchlib.stats(sl.wall)
    assert st["n"] == 3 and st["min_s"] <= st["median_s"]


def test_cpu_time_of_a_child_process_is_counted():
    code = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass"
    wall, cpu, _ = benchlib.timed(lambda: benchlib.run_cmd([sys.executable, "-c", code]))
    assert cpu >= 0.25 and wall >= 0.25


def test_stats_min_and_median():
    assert benchlib.stats([3.0, 1.0, 2.0, 10.0]) == {"min_s": 1.0, "median_s": 2.5, "n": 4}
    assert benchlib.stats([]) == {"min_s": None, "median_s": None, "n": 0}


def test_ratio_is_anju_median_over_reference_median():
    s = {"anju": benchlib.Samples("anju"), "ref": benchlib.Samples("ref")}
    s["anju"].wall, s["anju"].cpu = [1.0, 2.0, 9.0], [1.0, 1.0, 1.0]
    s["ref"].wall, s["ref"].cpu = [4.0, 4.0, 5.0], [2.0, 2.0, 2.0]
    row = make_row("x", "y", s, anju="anju", reference="ref")
    assert row["ratio"] == pytest.approx(0.5)
    t = {r["tool"]: r for r in row["tools"]}
    assert t["anju"]["min_s"] == 1.0 and t["anju"]["median_s"] == 2.0
    assert t["ref"]["cpu_median_s"] == 2.0


def test_unequal_runs_are_refused():
    s = {"a": benchlib.Samples("a", wall=[1.0, 1.0]), "b": benchlib.Samples("b", wall=[1.0])}
    with pytest.raises(ValueError, match="different numbers"):
        make_row("x", "y", s)


def test_the_output_check_catches_a_wrong_answer():
    good = np.arange(12.0).reshape(3, 4)
    tools = [
        Tool("anju", lambda: good.copy()),
        Tool("reference", lambda: good.copy()),
        Tool("liar", lambda: good + np.where(good == 5, 1.0, 0.0)),
    ]
    res = measure(tools, runs=1)
    c = check_outputs(res, benchlib.close_arrays(atol=1e-6))
    assert c["ok"] is False
    assert "anju vs reference: OK" in c["detail"]
    assert "anju vs liar: MISMATCH" in c["detail"]
    ok = check_outputs({k: res[k] for k in ("anju", "reference")}, benchlib.close_arrays())
    assert ok["ok"] is True


def test_nan_cells_must_match():
    a = np.array([1.0, np.nan, 3.0])
    ok, note = benchlib.close_arrays()(a, np.array([1.0, 2.0, 3.0]))
    assert not ok and "NaN" in note


def test_a_failing_tool_gets_no_figure_and_the_others_go_on():
    calls = []

    def broken():
        calls.append(1)
        raise FileNotFoundError("gdaldem not found")

    res = measure([Tool("ok", lambda: 1), Tool("broken", broken)], runs=3, cold_runs=1)
    assert len(calls) == 1  # not run again after its failure
    assert "gdaldem not found" in res["broken"].error
    assert len(res["ok"].wall) == 3
    row = make_row("x", "y", res, anju="ok", reference="broken")
    assert row["ratio"] is None
    broken_entry = next(t for t in row["tools"] if t["tool"] == "broken")
    assert broken_entry["runs"] == 0 and broken_entry["median_s"] is None
    c = check_outputs(res, lambda a, b: (a == b, ""))
    assert c["ok"] is None and "broken failed" in c["detail"]


def test_report_files(tmp_path):
    res = measure([Tool("anju", lambda: 1), Tool("ref", lambda: 2)], runs=2)
    check = check_outputs(res, lambda a, b: (a == b, f"{a} vs {b}"))
    rows = [
        make_row("cmp", "a comparison", res, anju="anju", reference="ref", check=check,
                 target="ratio ≤ 1", met=True, headline=True),
        benchlib.failed_row("scenario", "a missing bench", "scripts/bench_scenario.py not present"),
        benchlib.value_row("stage", "from a manifest", {"scale 1": [1.0, 3.0], "scale 4": []}),
    ]  # fmt: skip
    rep = benchlib.write_report(rows, tmp_path, command="pytest", quick=True)
    md = (tmp_path / "benchmarks.md").read_text()
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    assert data["rows"][0]["check"]["ok"] is False
    assert data["machine"]["cores"] >= 1 and data["date"] == rep["date"]
    assert "**cmp**" in md and "MISMATCH" in md and "NOT AVAILABLE" in md
    assert "scale 4 (FAILED: no value)" in md
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len(table) == 2 + 2 + 1 + 2  # header, separator, a line per tool (one if none)
    stage = data["rows"][2]["tools"][0]
    assert stage["median_s"] == 2.0 and stage["min_s"] == 1.0


def test_the_table_states_the_machine_speed_at_start_and_end(tmp_path):
    """A shared VM's speed drifts: the table carries fixed workloads timed at its start and end."""
    start = benchlib.calibrate(repeat=1)
    assert 0 < start["python_loop_s"] < 60 and 0 < start["memory_pass_s"] < 60
    row = benchlib.failed_row("x", "a row", "not run")
    rep = benchlib.write_report([row], tmp_path, command="pytest", quick=True, speed_start=start)
    md = (tmp_path / "benchmarks.md").read_text()
    end = rep["speed_end"]
    assert end["python_loop_s"] > 0
    assert (
        f"Python loop {start['python_loop_s']:.3f} → {end['python_loop_s']:.3f}, memory passes "
        f"{start['memory_pass_s']:.3f} → {end['memory_pass_s']:.3f}" in md
    )
    assert json.loads((tmp_path / "benchmarks.json").read_text())["speed_start"] == start


def test_foreign_json_becomes_rows_without_invented_figures():
    from scripts.bench_all import _timing_rows

    data = {
        "first_paint_ms_median": 900.0,
        "first_paint_ms_runs": [800.0, 900.0, 1000.0],
        "cold_first_page_ms": 2500.0,
        "payload_transferred_mb": 1.5,
        "console_errors": {},
        "targets_met": True,
    }
    (row,) = _timing_rows("dashboard", "d", data, runs_note="")
    tools = {t["tool"]: t for t in row["tools"]}
    assert set(tools) == {"first_paint_ms", "cold_first_page_ms"}
    assert tools["first_paint_ms"]["runs"] == 3 and tools["first_paint_ms"]["median_s"] == 900.0
    assert tools["cold_first_page_ms"]["runs"] == 1
    assert row["met"] is True and row["check"]["ok"] is True
    (none,) = _timing_rows("scenario", "s", {"status": "ok"}, runs_note="")
    assert none["tools"] == [] and "NOT AVAILABLE" in none["notes"]


def test_allocation_check_catches_a_tool_beating_a_proven_optimum():
    from scripts.bench_allocation import compare_answers

    opt = {"tool": "anju exact", "status": "optimal", "objective": 100.0, "feasible": True}
    heur = {"tool": "h", "status": "heuristic", "objective": 101.0, "feasible": True}
    liar = {"tool": "x", "status": "feasible", "objective": 90.0, "feasible": True}
    assert compare_answers(opt, heur)[0] is True
    assert compare_answers(opt, liar)[0] is False
    assert compare_answers(opt, {**opt, "tool": "y", "objective": 100.5})[0] is False
    assert compare_answers(opt, {**heur, "feasible": False})[0] is False


@pytest.mark.slow
def test_bench_all_quick_writes_the_table(tmp_path):
    from scripts.bench_all import main

    assert main(["--quick", "--only", "zonal,access", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    names = [r["name"] for r in data["rows"]]
    assert "zonal stats, coverage-weighted" in names and "travel time vs skimage" in names
    assert "run" in names  # a benchmark left out is still a row ("not run"), never dropped
    zon = next(r for r in data["rows"] if r["name"] == "zonal stats, coverage-weighted")
    assert zon["check"]["ok"] is True and len({t["runs"] for t in zon["tools"]}) == 1
    assert (tmp_path / "benchmarks.md").read_text().startswith("# anju benchmarks")


def test_scenario_json_becomes_one_row_per_phase():
    from scripts.bench_all import scenario_rows

    data = {
        "scenarios": {
            "threshold": {
                "cold_wall_s_runs": [2.0, 3.0], "cold_cpu_s_runs": [1.0, 1.0],
                "warm_wall_s_runs": [0.5, 0.7], "warm_cpu_s_runs": [0.4, 0.4],
                "cold_wall_s_median": 2.5,
            },
            "weight": {"cold": {"wall_s": {"n": 0, "min": None, "median": None}}},
        },
        "target_warm_wall": 1.0,
    }  # fmt: skip
    rows = {r["name"]: r for r in scenario_rows(data, "s", 2)}
    assert set(rows) == {"scenario, cold", "scenario, warm"}
    cold = {t["tool"]: t for t in rows["scenario, cold"]["tools"]}
    assert cold["scenario 'threshold'"]["median_s"] == 2.5
    assert cold["scenario 'threshold'"]["cpu_median_s"] == 1.0
    assert rows["scenario, cold"]["mode"] == "cold"
    assert rows["scenario, warm"]["met"] is True
    nested = scenario_rows({"scenarios": {"weight": data["scenarios"]["weight"]}}, "s", 2)
    assert nested[0]["tools"][0]["runs"] == 0 and nested[0]["tools"][0]["error"]


def test_batch_ceiling_is_the_wall_time_over_the_cpu_time_spread_on_every_core():
    """A --jobs 1 batch that took 30 s with 45 s of CPU on 2 cores cannot take less than
    22.5 s with the same CPU time: at most 1.33 x; a serial one (30 s of CPU) 2 x."""
    from scripts.bench_run import BATCH_WORKSPACES, batch_ceiling

    assert batch_ceiling(30.0, 45.0, 2) == pytest.approx(30.0 / 22.5)
    assert batch_ceiling(30.0, 30.0, 2) == pytest.approx(2.0)
    assert batch_ceiling(None, 45.0, 2) is None and batch_ceiling(30.0, None, 2) is None
    assert BATCH_WORKSPACES % 2 == 0  # two workers share them evenly
