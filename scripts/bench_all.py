"""Run every anju benchmark and write one table (Markdown and JSON).

::

    python -m scripts.bench_all [--quick] [--only NAME,...] --out docs/benchmarks

writes ``OUT/benchmarks.md`` and ``OUT/benchmarks.json`` with the date, the machine (CPU
model, cores, RAM, OS, Python, library versions, git commit, load average) and one row per
comparison (see :mod:`scripts.benchlib` for the rules every row follows).

Benchmarks (``--only`` takes these names): terrain, zonal, access, allocation, run, scale,
batch, scenario, dashboard. Each runs in its own process (``python -m scripts.bench_X
--rows FILE``); one that crashes, times out or is missing becomes a row saying so, with no
figure. ``--quick`` uses small inputs and 1-2 runs (a few minutes; what a test can run) and
leaves out ``scale`` and ``batch`` unless ``--only`` names them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import benchlib  # noqa: E402
from scripts.bench_run import ANJU, copy_workspace  # noqa: E402

ALL = ["terrain", "zonal", "access", "allocation", "run", "scale", "batch", "scenario", "dashboard"]
QUICK_DEFAULT = ["terrain", "zonal", "access", "allocation", "run", "scenario", "dashboard"]
PY = sys.executable


def _log(msg: str) -> None:
    print(f"[bench_all {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _rows_from(
    name: str, cmd: list[str], rows_file: Path, timeout: float, what: str
) -> list[dict[str, Any]]:
    """Run one bench script that writes benchlib rows to ``rows_file``."""
    _log(f"{name}: {' '.join(cmd[1:])}")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return [benchlib.failed_row(name, what, f"timed out after {timeout:.0f} s")]
    _log(f"{name}: done in {time.perf_counter() - t0:.0f} s (exit {p.returncode})")
    if p.returncode != 0 or not rows_file.exists():
        tail = (p.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return [benchlib.failed_row(name, what, f"exit {p.returncode}: {tail[0][:300]}")]
    return json.loads(rows_file.read_text())["rows"]


def ensure_plan(work: Path, plan: Path) -> Path | None:
    """A demo plan for the dashboard and scenario benches (built untimed when missing)."""
    if (plan / "plan.gpkg").is_file():
        return plan
    ws = work / "plan_ws"
    if not ws.exists():
        copy_workspace(ROOT / "data" / "demo", ws)
    _log("building a demo plan for the dashboard / scenario benches (untimed)")
    try:
        benchlib.run_cmd([*ANJU, "run", str(ws), "--out", str(plan), "--quiet", "--no-history"])
    except benchlib.CommandFailed as exc:
        _log(f"could not build the plan: {exc}")
        return None
    return plan


def _numbers(obj: Any, prefix: str = "") -> dict[str, list[float]]:
    """Every numeric scalar or list of numbers in a JSON object, keyed by its dotted path."""
    out: dict[str, list[float]] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_numbers(v, f"{prefix}{k}."))
    elif isinstance(obj, list) and obj and all(isinstance(x, int | float) for x in obj):
        out[prefix[:-1]] = [float(x) for x in obj]
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        out[prefix[:-1]] = [float(obj)]
    return out


def _timing_rows(
    name: str,
    what: str,
    data: dict,
    *,
    runs_note: str,
    mode: str = "warm",
    target: str | None = None,
) -> list[dict]:
    """Rows from another script's JSON: its timing figures (keys with ms or _s), as reported.

    ``X_runs`` lists are used as the samples of ``X``; a lone figure is one sample."""
    nums = _numbers(data)
    timing: dict[str, tuple[list[float], str]] = {}
    for key, vals in nums.items():
        leaf = key.rsplit(".", 1)[-1]
        unit = "ms" if "_ms" in leaf or leaf.endswith("ms") else "s" if "_s" in leaf else None
        if unit is None:
            continue
        base = key[: -len("_runs")] if key.endswith("_runs") else key
        for suffix in ("_median", "_min", "_max", "_mean"):
            if base.endswith(suffix) and f"{base[: -len(suffix)]}_runs" in nums:
                base = ""  # a statistic of a list reported separately: the list is used
        if base and (key.endswith("_runs") or base not in timing):
            timing[base] = (vals, unit)
    # statistics of a *_runs list are dropped in favour of the list itself
    timing = {
        k: v
        for k, v in timing.items()
        if not any(
            k.endswith(s) and f"{k[: -len(s)]}" in timing for s in ("_median", "_min", "_max")
        )
    }
    if not timing:
        return [benchlib.failed_row(name, what, "its output has no timing figures")]
    other = {k: v for k, v in nums.items() if k not in timing and not k.endswith("_runs")}
    met = data.get("targets_met") if isinstance(data.get("targets_met"), bool) else None
    rows = []
    for unit in ("ms", "s"):
        vals = {k: v for k, (v, u) in timing.items() if u == unit}
        if not vals:
            continue
        # figures named warm_* (requests to a server already started) are warm
        all_warm = all(k.rsplit(".", 1)[-1].startswith("warm") for k in vals)
        row = benchlib.value_row(
            name + (", then warm requests" if all_warm and mode == "cold" else ""),
            what,
            vals,
            met=met,
            unit=unit,
            notes=runs_note,
            mode="warm" if all_warm else mode,
            target=None if all_warm and mode == "cold" else target,
        )
        if all_warm and mode == "cold":  # the cold run's target is not about these
            row["met"] = None
        if other:
            extra = ", ".join(f"{k} {v[0]:g}" for k, v in list(other.items())[:8] if len(v) == 1)
            row["notes"] = (row["notes"] + "; " if row["notes"] else "") + extra
        errs = data.get("console_errors")
        if errs is not None:
            row["check"] = {
                "ok": not errs,
                "detail": "no console errors" if not errs else f"console errors on {sorted(errs)}",
            }
        rows.append(row)
    return rows


def _dashboard_once(work: Path, plan: Path, runs: int, cold: bool, help_text: str) -> list[dict]:
    script = ROOT / "scripts" / "bench_dashboard.py"
    name = "dashboard, cold start" if cold else "dashboard, warm server"
    what = (
        "fresh `anju serve` processes: start → first HTML / layout / villages painted"
        if cold
        else "one server, warmed by one untimed page load: first paint, restyle, payload"
    ) + " (scripts/bench_dashboard.py, as it reports)"
    if cold and "--cold" not in help_text:
        return [benchlib.failed_row(name, what, "bench_dashboard.py has no --cold option")]
    out_json = work / f"dashboard_{'cold' if cold else 'warm'}.json"
    cmd = [PY, str(script), "--plan", str(plan), "--runs", str(runs)]
    cmd += ["--cold"] if cold else []
    cmd += ["--out", str(out_json)] if "--out" in help_text else []
    _log(f"dashboard: {' '.join(cmd[1:])}")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    except subprocess.TimeoutExpired:
        return [benchlib.failed_row(name, what, "timed out after 1800 s")]
    data = None
    if out_json.exists():
        data = json.loads(out_json.read_text())
    else:
        start = p.stdout.find("{")
        if start >= 0:
            try:
                data = json.loads(p.stdout[start:])
            except json.JSONDecodeError:
                data = None
    if not isinstance(data, dict):
        tail = (p.stderr or p.stdout or "").strip().splitlines()[-1:] or ["no output"]
        return [benchlib.failed_row(name, what, f"exit {p.returncode}: {tail[0][:300]}")]
    note = f"`bench_dashboard.py{' --cold' if cold else ''} --runs {runs}`"
    if not cold and not isinstance(data.get("tiles"), dict):
        note += "; tile times: not reported by bench_dashboard.py"
    target = (
        "median cold_paint_s ≤ 3 s (bench_dashboard.py's)"
        if cold
        else "paint ≤ 2000 ms, restyle ≤ 100 ms, payload ≤ 3 MB, no console errors, "
        "uncached tiles median ≤ 50 ms (bench_dashboard.py's)"
    )
    try:
        return _timing_rows(
            name, what, data, runs_note=note, mode="cold" if cold else "warm", target=target
        )
    except Exception as exc:  # noqa: BLE001 - an unexpected format is a row, not a crash
        return [benchlib.failed_row(name, what, f"unreadable output: {exc!r}")]


def run_dashboard(work: Path, plan: Path | None, quick: bool) -> list[dict]:
    what = "the dashboard in Chromium (scripts/bench_dashboard.py, owned by its own script)"
    script = ROOT / "scripts" / "bench_dashboard.py"
    if not script.exists():
        return [benchlib.failed_row("dashboard", what, "scripts/bench_dashboard.py not found")]
    if plan is None:
        return [benchlib.failed_row("dashboard", what, "no demo plan could be built")]
    help_text = subprocess.run(
        [PY, str(script), "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    runs = 2 if quick else 5
    rows = []
    for cold in (True, False):
        rows += _dashboard_once(work, plan, runs, cold, help_text)
    return rows


def scenario_rows(data: dict, what: str, repeat: int) -> list[dict]:
    """Rows from bench_scenario.py's JSON: per phase (cold, warm, before) one row, one line
    per scenario. Reads ``{phase}_wall_s_runs`` / ``{phase}_cpu_s_runs`` lists (the samples
    themselves), or the nested ``{phase: {wall_s: {n, min, median}}}`` form as reported."""
    labels = {
        "cold": ("cold", "the first scenario of a fresh quick worker"),
        "warm": ("warm", "a later scenario in the same worker"),
        "before": ("process", "the previous full path (exact solver, robustness draws)"),
    }
    walls: dict[str, dict[str, list[float]]] = {}
    cpus: dict[str, dict[str, list[float]]] = {}
    nested: dict[str, list[dict]] = {}
    gaps: dict[str, list[str]] = {}
    for scen, res in data["scenarios"].items():
        label = f"scenario '{scen}'"
        for key, val in (res or {}).items():
            if key.endswith("_wall_s_runs") and isinstance(val, list):
                walls.setdefault(key[: -len("_wall_s_runs")], {})[label] = val
            elif key.endswith("_cpu_s_runs") and isinstance(val, list):
                cpus.setdefault(key[: -len("_cpu_s_runs")], {})[label] = val
            elif key.endswith("_heuristic_gap_max") and isinstance(val, int | float):
                gaps.setdefault(key[: -len("_heuristic_gap_max")], []).append(f"{scen} {val:.3%}")
            elif isinstance(val, dict) and isinstance(val.get("wall_s"), dict):  # nested form
                w, c = val["wall_s"], val.get("cpu_s") or {}
                n = int(w.get("n") or 0)
                nested.setdefault(key, []).append(
                    {"tool": label, "runs": n, "min_s": w.get("min"), "median_s": w.get("median"),
                     "cpu_median_s": c.get("median"), "error": None if n else "no value"}
                )  # fmt: skip
    target_s = data.get("target_warm_wall")
    rows = []
    for phase in list(dict.fromkeys([*walls, *nested])):
        mode, desc = labels.get(phase, ("warm", phase))
        row = benchlib.value_row(
            f"scenario, {phase}", f"{what}: {desc}", walls.get(phase, {}), mode=mode,
            cpu=cpus.get(phase),
        )  # fmt: skip
        if phase in nested:
            row["tools"] += nested[phase]
        if phase == "warm" and isinstance(target_s, int | float):
            row["target"] = f"median ≤ {target_s:g} s (bench_scenario.py's)"
            med = [t["median_s"] for t in row["tools"]]
            row["met"] = None if None in med or not med else max(med) <= target_s
        row["notes"] = f"`bench_scenario.py --repeat {repeat}`, as it reports" + (
            f"; largest heuristic gap: {', '.join(gaps[phase])}" if phase in gaps else ""
        )
        rows.append(row)
    return rows or [benchlib.failed_row("scenario", what, "its output has no scenarios")]


def run_scenario(work: Path, plan: Path | None, quick: bool) -> list[dict]:
    what = "a dashboard scenario run (scripts/bench_scenario.py, owned by its own script)"
    script = ROOT / "scripts" / "bench_scenario.py"
    if not script.exists():
        return [benchlib.failed_row("scenario", what, "scripts/bench_scenario.py not present")]
    if plan is None:
        return [benchlib.failed_row("scenario", what, "no demo plan could be built")]
    out = work / "scenario.json"
    repeat = 2 if quick else 5
    cmd = [PY, str(script), "--plan", str(plan), "--repeat", str(repeat), "--json", str(out)]
    _log(f"scenario: {' '.join(cmd[1:])}")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    except subprocess.TimeoutExpired:
        return [benchlib.failed_row("scenario", what, "timed out after 1800 s")]
    if not out.exists():
        tail = (p.stderr or p.stdout or "").strip().splitlines()[-1:] or ["no output"]
        return [benchlib.failed_row("scenario", what, f"exit {p.returncode}: {tail[0][:300]}")]
    try:
        data = json.loads(out.read_text())
    except json.JSONDecodeError as exc:
        return [benchlib.failed_row("scenario", what, f"unreadable JSON: {exc}")]
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        return data["rows"]  # it already speaks benchlib
    if isinstance(data, dict) and isinstance(data.get("scenarios"), dict):
        try:
            return scenario_rows(data, what, repeat)
        except Exception as exc:  # noqa: BLE001 - an unexpected format is a row, not a crash
            return [benchlib.failed_row("scenario", what, f"unreadable output: {exc!r}")]
    return _timing_rows(
        "scenario", what, data, runs_note=f"`bench_scenario.py --repeat {repeat}`, as it reports"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small inputs, 1-2 runs (minutes)")
    ap.add_argument("--only", help="comma-separated, of: " + ", ".join(ALL))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    ap.add_argument("--timeout", type=float, help="seconds per benchmark (default 900 / 5400)")
    ap.add_argument(
        "--scale-workspace",
        type=Path,
        help="an existing `anju demo --scale 4` workspace for the scale row (default: written, "
        "untimed, about 80 s)",
    )
    args = ap.parse_args(argv)
    if args.only:
        names = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [n for n in names if n not in ALL]
        if bad:
            ap.error(f"unknown benchmark(s) {bad}; choose from {ALL}")
    else:
        names = QUICK_DEFAULT if args.quick else ALL
    timeout = args.timeout or (900.0 if args.quick else 5400.0)
    q = ["--quick"] if args.quick else []
    load_start = list(os.getloadavg())
    info = benchlib.machine()
    speed_start = benchlib.calibrate()
    rows: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="anju_bench_all_"))
    plan_dir = work / "plan"
    try:
        for name in names:
            rf = work / f"{name}.rows.json"
            if name in ("terrain", "zonal", "access"):
                cmd = [PY, "-m", f"scripts.bench_{name}", "--rows", str(rf), *q]
                rows += _rows_from(name, cmd, rf, timeout, f"scripts/bench_{name}.py")
            elif name == "allocation":
                extra = (
                    ["--quick"]
                    if args.quick
                    else ["--instances", "demo", "--time-limit", "60", "--repeat", "3"]
                )
                cmd = [PY, "-m", "scripts.bench_allocation", "--rows", str(rf), *extra]
                rows += _rows_from(name, cmd, rf, timeout, "scripts/bench_allocation.py")
            elif name in ("run", "scale", "batch"):
                cmd = [PY, "-m", "scripts.bench_run", "--only", name, "--rows", str(rf), *q]
                if name == "run":
                    cmd += ["--keep-plan", str(plan_dir)]
                if name == "scale" and args.scale_workspace:
                    cmd += ["--scale-workspace", str(args.scale_workspace)]
                rows += _rows_from(name, cmd, rf, timeout, f"scripts/bench_run.py --only {name}")
            elif name in ("scenario", "dashboard"):
                fn = run_scenario if name == "scenario" else run_dashboard
                try:
                    rows += fn(work, ensure_plan(work, plan_dir), args.quick)
                except Exception as exc:  # noqa: BLE001 - a row, never a lost table
                    rows.append(benchlib.failed_row(name, name, f"{type(exc).__name__}: {exc}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in ALL:
        if name not in names:  # say so rather than leave the target out of the table
            why = "not run: left out of --quick" if args.quick and not args.only else "not run"
            row = benchlib.failed_row(name, f"benchmark '{name}'", why)
            row["notes"], row["met"] = why, None
            rows.append(row)
    cmd_line = "python -m scripts.bench_all " + " ".join(argv if argv is not None else sys.argv[1:])
    benchlib.write_report(
        rows,
        args.out,
        command=cmd_line.strip(),
        quick=args.quick,
        load_start=load_start,
        info=info,
        speed_start=speed_start,
    )
    _log(f"wrote {args.out / 'benchmarks.md'} and {args.out / 'benchmarks.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
