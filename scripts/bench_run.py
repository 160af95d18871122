"""Benchmark the whole pipeline as a user runs it: ``anju run`` and ``anju batch``.

By the rules of :mod:`scripts.benchlib`, every figure is a subprocess timed from its start
(the Python interpreter, imports and numba's cache load included):

* ``run`` — ``anju run DEMO --out OUT --quiet --no-history`` on a copy of ``data/demo``.
  **warm** = a fresh process, the OS file cache warm and numba's on-disk cache present
  (filled by an untimed run first); **cold** = a fresh process with an empty numba cache
  (``NUMBA_CACHE_DIR`` pointed at a new folder, so every kernel compiles). Targets: warm
  median ≤ 10 s, cold median ≤ 15 s. Every run's plan summary must be the same.
* ``scale`` — ``anju run`` on the demo at ``--scale 1`` and a demo written with
  ``anju demo --scale 4`` (4 x the area and villages), alternated, warm; the per-stage
  times are read from each plan's ``manifest.json`` ("stages"). Target: the travel-time
  stage at scale 4 within 4.5 x scale 1.
* ``batch`` — ``anju batch ROOT --jobs 2`` vs ``--jobs 1`` on four copies of the demo,
  alternated, warm. Target: ``--jobs 2`` at least 1.7 x faster. The plans of both must match.
  Four, not three: three equal workspaces on two workers take two rounds against three,
  so no implementation could pass 1.5 x. The row's notes give the ceiling the
  measured CPU time sets (``--jobs 1``'s wall time over its CPU time spread on every core).

Usage::

    python -m scripts.bench_run [--only run,scale,batch] [--quick] [--rows FILE]
           [--keep-plan DIR]

``--keep-plan`` leaves the last demo plan there (for the dashboard and scenario benches).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from itertools import count
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import benchlib  # noqa: E402

ANJU = [sys.executable, "-m", "scripts.cli"]
_anju_exe = Path(sys.executable).parent / "anju"
if _anju_exe.exists():
    ANJU = [str(_anju_exe)]

WARM_RUN_S, COLD_RUN_S = 10.0, 15.0
SCALE_TT_RATIO = 4.5
BATCH_SPEEDUP = 1.7
#: equal workspaces in the batch row: an even number, so two workers can share them evenly
BATCH_WORKSPACES = 4


def copy_workspace(src: Path, dst: Path) -> Path:
    """A private copy of a workspace (no history, no plan), so runs never touch the original."""
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns("history.gpkg*", "plan", "plan.*", ".anju*")
    )
    return dst


def summary_of(plan: Path) -> dict:
    return json.loads((plan / "manifest.json").read_text())["summary"]


def stages_of(plan: Path) -> dict:
    return json.loads((plan / "manifest.json").read_text())["stages"]


def same_summary(a: dict, b: dict, rel: float = 1e-6) -> tuple[bool, str]:
    diff = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, int | float) and isinstance(y, int | float):
            if abs(x - y) > rel * max(abs(x), abs(y), 1.0):
                diff.append(f"{k} {x} vs {y}")
        elif x != y:
            diff.append(f"{k} {x!r} vs {y!r}")
    return (not diff), ("same plan summary" if not diff else "differ: " + "; ".join(diff[:5]))


class NumbaCache:
    """The NUMBA_CACHE_DIR of the timed processes: one warm folder, a new one per cold run."""

    def __init__(self, root: Path):
        self.root, self._n = root, count()
        self.env = {"NUMBA_CACHE_DIR": str(root / "warm")}

    def cold(self) -> None:
        self.env["NUMBA_CACHE_DIR"] = str(self.root / f"cold_{next(self._n)}")

    def warm(self) -> None:
        self.env["NUMBA_CACHE_DIR"] = str(self.root / "warm")


def _run_tool(name: str, ws: Path, out_root: Path, cache: NumbaCache, seen: list) -> benchlib.Tool:
    """``anju run`` on ``ws``; each run writes a new plan folder, recorded in ``seen`` and
    read after the timing (plans are kept until the benchmark's folder is removed)."""
    n = count()

    def run():
        out = out_root / f"{ws.name}_{next(n)}"
        benchlib.run_cmd(
            [*ANJU, "run", str(ws), "--out", str(out), "--quiet", "--no-history"],
            env=cache.env,
            cwd=ROOT,
        )
        seen.append(out)
        return out

    return benchlib.Tool(name, run, prepare_cold=cache.cold, prepare_warm=cache.warm)


def _read_plans(paths: list[Path]) -> list[tuple[Path, dict, dict]]:
    return [(p, summary_of(p), stages_of(p)) for p in paths]


def _consistency(seen: list) -> dict:
    if not seen:
        return {"ok": None, "detail": "no run succeeded"}
    base = seen[0][1]
    bad = [same_summary(base, s)[1] for _, s, _ in seen[1:] if not same_summary(base, s)[0]]
    if bad:
        return {"ok": False, "detail": f"plans of {len(seen)} runs differ: {bad[0]}"}
    return {
        "ok": True,
        "detail": f"all {len(seen)} runs wrote the same plan summary "
        f"({base.get('villages')} villages, {base.get('people_to_relocate')} people to relocate, "
        f"allocation {base.get('allocation_status')})",
    }


def bench_run(work: Path, demo: Path, runs: int, cold_runs: int, keep: Path | None, progress):
    cache = NumbaCache(work / "numba")
    ws = copy_workspace(demo, work / "demo")
    seen: list = []
    tool = _run_tool("anju run (subprocess)", ws, work / "out", cache, seen)
    cache.warm()
    try:
        tool.run()  # untimed: fills the warm numba cache and the OS file cache
    except benchlib.CommandFailed:
        pass  # the timed runs fail the same way and the table says so
    seen.clear()
    samples = benchlib.measure([tool], runs=runs, cold_runs=cold_runs, progress=progress)
    seen[:] = _read_plans(seen)
    check = _consistency(seen)
    s = samples[tool.name]
    rows = []
    for mode, limit in (("warm", WARM_RUN_S), ("cold", COLD_RUN_S)):
        med = benchlib.stats(s.cold_wall if mode == "cold" else s.wall)["median_s"]
        rows.append(
            benchlib.make_row(
                "anju run data/demo",
                f"the whole pipeline on the demo county as a subprocess ({mode} start, see README)",
                samples,
                mode=mode,
                check=check,
                target=f"median ≤ {limit:g} s",
                met=None if med is None else med <= limit,
                headline=True,
            )
        )
    if seen:
        st = seen[-1][2]
        top = sorted(((v, k) for k, v in st.items() if "." not in k), reverse=True)[:4]
        rows[0]["notes"] = "slowest stages of the last run: " + ", ".join(
            f"{k} {v:.1f} s" for v, k in top
        )
        if keep is not None:
            if keep.exists():
                shutil.rmtree(keep)
            shutil.copytree(seen[-1][0], keep)
    return rows


def bench_scale(work: Path, demo: Path, runs: int, progress, scale4: Path | None = None):
    cache = NumbaCache(work / "numba")
    ws1 = copy_workspace(demo, work / "scale1")
    if scale4 is not None:
        ws4 = copy_workspace(scale4, work / "scale4")
    else:
        ws4 = work / "scale4"
        progress("writing the scale-4 demo (untimed)")
        benchlib.run_cmd([*ANJU, "demo", str(ws4), "--scale", "4"], cwd=ROOT, env=cache.env)
    seen1: list = []
    seen4: list = []
    tools = [
        _run_tool("anju run, scale 1", ws1, work / "out", cache, seen1),
        _run_tool("anju run, scale 4", ws4, work / "out", cache, seen4),
    ]
    try:
        tools[0].run()  # untimed warm-up of the numba cache
    except benchlib.CommandFailed:
        pass
    seen1.clear()
    samples = benchlib.measure(tools, runs=runs, progress=progress)
    seen1[:], seen4[:] = _read_plans(seen1), _read_plans(seen4)
    tt = {
        "travel time stage, scale 1": [st.get("travel time") for *_, st in seen1],
        "travel time stage, scale 4": [st.get("travel time") for *_, st in seen4],
    }
    m1 = benchlib.stats(tt["travel time stage, scale 1"])["median_s"]
    m4 = benchlib.stats(tt["travel time stage, scale 4"])["median_s"]
    ratio = None if not (m1 and m4) else m4 / m1
    whole = benchlib.make_row(
        "anju run, scale 4 vs scale 1",
        "whole pipeline, warm start; scale 4 = `anju demo --scale 4` (4 x area and villages)",
        samples,
        anju="anju run, scale 4",
        reference="anju run, scale 1",
        check={"ok": None, "detail": "different inputs: not comparable outputs"},
        notes="ratio = scale-4 median / scale-1 median",
    )
    if seen4:
        s4 = seen4[-1][1]
        whole["notes"] += f"; scale 4: {s4.get('villages')} villages"
    stage = benchlib.value_row(
        "travel-time stage, scale 4 vs scale 1",
        "the 'travel time' stage of manifest.json, from the same alternated runs",
        tt,
        target=f"scale 4 ≤ {SCALE_TT_RATIO:g} x scale 1",
        met=None if ratio is None else ratio <= SCALE_TT_RATIO,
        notes="ratio = scale-4 median / scale-1 median",
    )
    stage["ratio"] = ratio
    return [whole, stage]


def bench_batch(work: Path, demo: Path, runs: int, progress):
    cache = NumbaCache(work / "numba")
    root = work / "batch"
    names = [f"county_{c}" for c in "abcd"[:BATCH_WORKSPACES]]
    for name in names:
        copy_workspace(demo, root / name)

    def tool(jobs: int) -> benchlib.Tool:
        n = count()

        def run():
            out = work / f"batch_out_{jobs}_{next(n)}"
            benchlib.run_cmd(
                [*ANJU, "batch", str(root), "--out", str(out), "--jobs", str(jobs), "--no-history"],
                env=cache.env,
                cwd=ROOT,
            )
            return out  # read back by the check, untimed

        def tidy():  # untimed: drop this tool's older outputs (a plan per workspace)
            cache.warm()
            for old in work.glob(f"batch_out_{jobs}_*"):
                shutil.rmtree(old, ignore_errors=True)

        return benchlib.Tool(f"anju batch --jobs {jobs}", run, prepare_warm=tidy)

    try:  # untimed warm-up of the numba cache
        benchlib.run_cmd(
            [*ANJU, "run", str(root / "county_a"), "--out", str(work / "warm"), "--quiet",
             "--no-history"], env=cache.env, cwd=ROOT,
        )  # fmt: skip
    except benchlib.CommandFailed:
        pass
    tools = [tool(2), tool(1)]
    samples = benchlib.measure(tools, runs=runs, progress=progress)

    def cmp(a: Path, b: Path) -> tuple[bool, str]:
        a, b = ({p.name: summary_of(p) for p in sorted(d.iterdir()) if p.is_dir()} for d in (a, b))
        if set(a) != set(b) or len(a) != len(names):
            return False, f"plans {sorted(a)} vs {sorted(b)}"
        res = [same_summary(a[k], b[k]) for k in a]
        bad = [m for ok, m in res if not ok]
        return not bad, f"{len(names)} plans each, same summaries" if not bad else bad[0]

    check = benchlib.check_outputs(samples, cmp)
    row = benchlib.make_row(
        f"anju batch, {len(names)} demo workspaces",
        "`anju batch ROOT --jobs 2` vs `--jobs 1`, subprocess, warm start",
        samples,
        anju="anju batch --jobs 2",
        reference="anju batch --jobs 1",
        check=check,
        target=f"--jobs 2 ≥ {BATCH_SPEEDUP:g} x faster (ratio ≤ {1 / BATCH_SPEEDUP:.3f})",
        headline=True,
    )
    row["met"] = None if row["ratio"] is None else row["ratio"] <= 1 / BATCH_SPEEDUP
    if row["ratio"]:
        row["notes"] = f"speed-up {1 / row['ratio']:.2f} x on {benchlib.os.cpu_count()} cores"
        one = next(t for t in row["tools"] if t["tool"] == "anju batch --jobs 1")
        bound = batch_ceiling(one["median_s"], one["cpu_median_s"], benchlib.os.cpu_count() or 1)
        if bound:
            row["notes"] += (
                f"; at most {bound:.2f} x for the same CPU time: --jobs 1 keeps"
                f" {one['cpu_median_s'] / one['median_s']:.2f} cores busy, and its CPU time"
                f" spread on every core still takes {one['cpu_median_s'] / (benchlib.os.cpu_count() or 1):.1f} s"
            )
    return [row]


def batch_ceiling(wall_s: float | None, cpu_s: float | None, cores: int) -> float | None:
    """The most ``--jobs N`` can gain over ``--jobs 1`` without doing less work: ``--jobs 1``
    took ``wall_s`` using ``cpu_s`` of CPU (all its threads); the same CPU spread over every
    core takes at least ``cpu_s / cores``. A run whose threads already keep the cores busy
    leaves little to gain (1.0 when ``cpu_s = cores * wall_s``). None without figures."""
    if not wall_s or not cpu_s:
        return None
    return wall_s / (cpu_s / cores)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="run,scale,batch", help="comma-separated: run,scale,batch")
    ap.add_argument("--workspace", type=Path, default=ROOT / "data" / "demo")
    ap.add_argument(
        "--scale-workspace", type=Path, help="the scale-4 workspace (default: written by anju demo)"
    )
    ap.add_argument("--runs", type=int, help="warm runs per tool (full: 3)")
    ap.add_argument("--cold-runs", type=int, help="cold runs of `anju run` (full: 2)")
    ap.add_argument("--quick", action="store_true", help="1 warm and 1 cold run")
    ap.add_argument("--rows", type=Path, help="write the rows as JSON (for bench_all)")
    ap.add_argument("--keep-plan", type=Path, help="copy the last demo plan here")
    args = ap.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    cold_runs = args.cold_runs if args.cold_runs is not None else (1 if args.quick else 2)
    only = {s.strip() for s in args.only.split(",") if s.strip()}

    def progress(msg: str) -> None:
        print(f"... {msg}", file=sys.stderr, flush=True)

    rows = []
    with tempfile.TemporaryDirectory(prefix="anju_bench_run_") as tmp:
        work = Path(tmp)
        jobs = {
            "run": lambda: bench_run(
                work / "run", args.workspace, runs, cold_runs, args.keep_plan, progress
            ),
            "scale": lambda: bench_scale(
                work / "scale", args.workspace, runs, progress, args.scale_workspace
            ),
            "batch": lambda: bench_batch(work / "batch", args.workspace, runs, progress),
        }
        for name, fn in jobs.items():
            if name not in only:
                continue
            (work / name).mkdir()
            try:
                rows += fn()
            except Exception as exc:  # noqa: BLE001 - reported in the table
                rows.append(benchlib.failed_row(name, f"bench_run {name}", f"{exc}"))
    if args.workspace.resolve() != (ROOT / "data" / "demo").resolve():
        for r in rows:
            r["what"] += f" — workspace {args.workspace}, not data/demo"
    benchlib.dump_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
